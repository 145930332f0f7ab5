/* liqolet: command line and start-up order.
 *
 * Commands: run (the agent), check (preflight), peer (set up a peering), unpeer (end a
 * peering), version. Start-up order (DESIGN.md):
 * flags/config -> credentials -> pools (then sealed) -> TLS connections -> identities ->
 * virtual node + lease -> watches -> loop. In this build only `version` and `help` are
 * complete; `run` and `check` report that plainly (see the README's feature table). */
#include <stdio.h>
#include <string.h>

#include "liqolet/check.h"
#include "liqolet/config.h"
#include "liqolet/config_defaults.h"
#include "liqolet/debug.h"
#include "liqolet/err.h"
#include "liqolet/log.h"
#include "liqolet/peer.h"
#include "liqolet/pool.h"
#include "liqolet/run.h"

#if defined(__has_include)
#if __has_include("liqolet_deps.h")
#include "liqolet_deps.h"
#endif
#endif
#ifndef LQ_DEP_MBEDTLS_VERSION
#define LQ_DEP_MBEDTLS_VERSION "unknown"
#define LQ_DEP_LIBCOAP_VERSION "unknown"
#define LQ_DEP_CJSON_VERSION "unknown"
#define LQ_DEP_LIBYAML_VERSION "unknown"
#endif
#ifndef LQ_DEP_LIBCOAP_PATCHES
#define LQ_DEP_MBEDTLS_PATCHES "unknown"
#define LQ_DEP_LIBCOAP_PATCHES "unknown"
#endif
#ifndef LQ_DEP_LIBC
#define LQ_DEP_LIBC "unknown"
#endif

#ifndef LQ_VERSION
#define LQ_VERSION "0.0.0-unknown"
#endif
#ifndef LQ_BOARD_TRIPLET
#define LQ_BOARD_TRIPLET "native"
#endif

static const char usage_text[] =
    "liqolet " LQ_VERSION " - peer a Kubernetes cluster with a foreign one, as Liqo does\n"
    "\n"
    "liqolet makes a foreign (provider) cluster appear as a virtual node in a home\n"
    "(consumer) cluster. Pods scheduled on that node run in the foreign cluster, with their\n"
    "status reflected back; the Services, EndpointSlices, ConfigMaps, Secrets and Ingresses\n"
    "of offloaded namespaces are reflected too. Default networking is Liqo's External\n"
    "Network mode (networking.internal=false): no tunnel, pod IPs reflected as they are.\n"
    "\n"
    "Usage:\n"
    "  liqolet run     [options]   run the agent (virtual node, offloading, reflection)\n"
    "  liqolet check   [options]   preflight: connect to both clusters and check permissions\n"
    "  liqolet peer    [options]   set up a peering from admin kubeconfigs: identities,\n"
    "                              RBAC, tokens, the agent's kubeconfigs, then check\n"
    "  liqolet unpeer  [options]   end the peering: offloaded pods, remote namespaces, node,\n"
    "                              finalizers, leases (--force: home side only)\n"
    "  liqolet debug watch [opts]  list and watch one collection, one line per event\n"
    "  liqolet version             print version, board, dependency versions and capacities\n"
    "  liqolet help                print this help\n"
    "\n"
    "Global options:\n"
    "  -h, --help                  print help (also after a command: liqolet run --help)\n"
    "  --log-level LEVEL           error|warn|info|debug|trace (default info)\n"
    "  --log-format FORMAT         plain|json (default plain)\n"
    "\n"
    "Documentation: README.md and docs/ (configuration, usage, management, security).\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure, 2 usage error or unavailable command.\n";

static int cmd_version(void)
{
    printf("liqolet %s\n", LQ_VERSION);
    printf("board:        %s (%s)\n", LQ_BOARD_NAME, LQ_BOARD_TRIPLET);
    printf("dependencies: mbedTLS %s, libcoap %s, cJSON %s, libyaml %s\n", LQ_DEP_MBEDTLS_VERSION,
           LQ_DEP_LIBCOAP_VERSION, LQ_DEP_CJSON_VERSION, LQ_DEP_LIBYAML_VERSION);
    printf("C library:    %s\n", LQ_DEP_LIBC);
    printf("patches:      mbedTLS: %s; libcoap: %s\n",
           LQ_DEP_MBEDTLS_PATCHES[0] ? LQ_DEP_MBEDTLS_PATCHES : "none",
           LQ_DEP_LIBCOAP_PATCHES[0] ? LQ_DEP_LIBCOAP_PATCHES : "none");
    printf("capacities:   max object %u B, pods %u, objects %u, namespaces %u, watches %u,\n",
           (unsigned)LQ_MAX_OBJECT, (unsigned)LQ_MAX_PODS, (unsigned)LQ_MAX_OBJECTS,
           (unsigned)LQ_MAX_NAMESPACES, (unsigned)LQ_MAX_WATCHES);
    printf("              request connections %u, fds %u, HTTP headers %u, head %u B\n",
           (unsigned)LQ_MAX_REQ_CONNS, (unsigned)LQ_MAX_FDS, (unsigned)LQ_HTTP_MAX_HEADERS,
           (unsigned)LQ_HTTP_MAX_HEAD);
    printf("heaps:        mbedTLS arena %u B, libcoap cap %u B, JSON arena %u B, start-up pool %u B\n",
           (unsigned)LQ_MBEDTLS_ARENA, (unsigned)LQ_COAP_HEAP_CAP, (unsigned)LQ_JSON_ARENA,
           (unsigned)LQ_STARTUP_POOL);
    return 0;
}

static int is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0;
}

static int apply_global(int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "--log-level") == 0 || strcmp(a, "--log-format") == 0) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "liqolet: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++*i];
        if (strcmp(a, "--log-level") == 0) {
            lq_log_level_t lvl;
            if (lq_log_level_parse(v, &lvl) != LQ_OK) {
                fprintf(stderr, "liqolet: --log-level: '%s' is not one of error|warn|info|debug|trace\n", v);
                return 2;
            }
            lq_log_set_level(lvl);
        } else {
            lq_log_format_t fmt;
            if (lq_log_format_parse(v, &fmt) != LQ_OK) {
                fprintf(stderr, "liqolet: --log-format: '%s' is not one of plain|json\n", v);
                return 2;
            }
            lq_log_set_format(fmt);
        }
        return 0;
    }
    fprintf(stderr, "liqolet: unknown option '%s' (see liqolet --help)\n", a);
    return 2;
}

/* `liqolet run`: configuration (flags, file, --set; docs/configuration.md), then the
 * agent (src/cmd/run.c). */
static int cmd_run(int argc, char **argv)
{
    static lq_config_t cfg;
    static char text[16384];
    char msg[512];
    size_t len = 0;
    lq_config_init(&cfg);
    if (lq_config_parse_args(&cfg, argc, argv, msg, sizeof msg) != LQ_OK) {
        fprintf(stderr, "liqolet run: %s\n", msg);
        return 2;
    }
    if (cfg.help) {
        if (lq_config_usage(text, sizeof text, &len) != LQ_OK)
            return 1;
        fputs(text, stdout);
        return 0;
    }
    lq_log_set_level((lq_log_level_t)cfg.log_level);
    lq_log_set_format((lq_log_format_t)cfg.log_format);
    if (lq_config_render_effective(&cfg, text, sizeof text, &len) == LQ_OK)
        LQ_INFO("main", "effective configuration: %s", text);
    LQ_INFO("main", "static memory budget: mbedTLS arena %u B, JSON arena %u B, start-up pool %u B, "
            "libcoap cap %u B (tools/size-report has the full figure)",
            (unsigned)LQ_MBEDTLS_ARENA, (unsigned)LQ_JSON_ARENA, (unsigned)LQ_STARTUP_POOL,
            (unsigned)LQ_COAP_HEAP_CAP);
    return lq_run_main(&cfg);
}

int main(int argc, char **argv)
{
    lq_log_init();
    lq_pool_init();

    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (is_help(cmd)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return cmd_version();
    if (strcmp(cmd, "check") == 0 || strcmp(cmd, "debug") == 0) {
        /* global options may appear among check's own */
        static char *rest[64];
        int n = 0;
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--log-level") == 0 || strcmp(argv[i], "--log-format") == 0) {
                int rc = apply_global(argc, argv, &i);
                if (rc != 0)
                    return rc;
                continue;
            }
            if (n >= 64) {
                fprintf(stderr, "liqolet check: too many arguments\n");
                return 2;
            }
            rest[n++] = argv[i];
        }
        return strcmp(cmd, "check") == 0 ? lq_check_main(n, rest) : lq_debug_main(n, rest);
    }
    if (strcmp(cmd, "peer") == 0)
        return lq_peer_main(argc - 2, argv + 2);
    if (strcmp(cmd, "unpeer") == 0)
        return lq_unpeer_main(argc - 2, argv + 2);
    if (strcmp(cmd, "run") != 0) {
        fprintf(stderr, "liqolet: unknown command '%s' (commands: run, check, peer, unpeer, debug, "
                "version, help)\n", cmd);
        return 2;
    }
    return cmd_run(argc - 2, argv + 2);
}
