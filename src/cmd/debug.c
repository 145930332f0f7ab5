/* liqolet: `liqolet debug watch`, a diagnostic that lists and watches one resource with
 * the agent's own client (credentials, TLS, list/watch, 410 handling, backoff) and prints
 * one line per event. Operators use it to see what the agent would see; the end-to-end
 * tests use it to check that a watch survives restarts and compaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liqolet/cluster.h"
#include "liqolet/debug.h"
#include "liqolet/log.h"
#include "liqolet/pool.h"
#include "liqolet/tls.h"
#include "liqolet/watch.h"

static struct {
    lq_loop_t loop;
    lq_cluster_t cl;
    lq_conn_t conn;
    lq_watch_t watch;
    lq_loop_timer_t deadline;
    char evbuf[LQ_MAX_OBJECT];
} dbg;

static const char *type_name(lq_watch_type_t t)
{
    static const char *const names[] = { "LISTED", "ADDED", "MODIFIED", "DELETED" };
    return names[t];
}

static void print_view(const lq_scan_str_t *s)
{
    char b[256];
    if (lq_scan_copy(s, b, sizeof b) == LQ_OK && b[0])
        fputs(b, stdout);
    else
        fputs("-", stdout);
}

static lq_err_t on_event(lq_watch_t *w, const lq_watch_event_t *ev, void *ctx)
{
    (void)w;
    (void)ctx;
    fputs(type_name(ev->type), stdout);
    fputc(' ', stdout);
    if (ev->meta.ns.len) {
        print_view(&ev->meta.ns);
        fputc('/', stdout);
    }
    print_view(&ev->meta.name);
    fputs(" rv=", stdout);
    print_view(&ev->meta.rv);
    if (ev->oversized)
        printf(" OVERSIZED %llu bytes (limit %zu)", (unsigned long long)ev->total, sizeof dbg.evbuf);
    fputc('\n', stdout);
    fflush(stdout);
    return LQ_OK;
}

static void on_relist(lq_watch_t *w, void *ctx)
{
    (void)ctx;
    printf("RELIST (#%llu)\n", (unsigned long long)w->stats.relists);
    fflush(stdout);
}

static void on_synced(lq_watch_t *w, void *ctx)
{
    (void)ctx;
    printf("SYNCED rv=%s\n", w->rv[0] ? w->rv : "-");
    fflush(stdout);
}

static void on_deadline(lq_loop_t *loop, lq_loop_timer_t *t, void *ctx)
{
    (void)t;
    (void)ctx;
    lq_loop_stop(loop);
}

static void usage(FILE *f)
{
    fputs("Usage: liqolet debug watch --path COLLECTION [options]\n"
          "\n"
          "Lists and then watches one collection with liqolet's own API client and prints one\n"
          "line per object: LISTED|ADDED|MODIFIED|DELETED namespace/name rv=VERSION, plus\n"
          "RELIST and SYNCED markers. Useful to see what the agent sees through a proxy, a\n"
          "firewall or an API-server restart.\n"
          "\n"
          "  --path COLLECTION       e.g. /api/v1/pods, /api/v1/namespaces/NS/configmaps,\n"
          "                          /apis/discovery.k8s.io/v1/endpointslices\n"
          "  --kubeconfig FILE       default: $KUBECONFIG or ~/.kube/config\n"
          "  --context NAME          default: the current context\n"
          "  --label-selector SEL    --field-selector SEL\n"
          "  --no-watch-list         always LIST first, even if the server can stream initial events\n"
          "  --duration SECONDS      stop after this long (default: until SIGINT/SIGTERM)\n",
          f);
}

int lq_debug_main(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "watch") != 0) {
        if (argc >= 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0)) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "liqolet debug: the only subcommand is 'watch' (liqolet debug watch --help)\n");
        return 2;
    }
    const char *kubeconfig = NULL, *context = NULL, *duration = NULL;
    lq_watch_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.watch_list = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--no-watch-list") == 0) {
            cfg.watch_list = false;
            continue;
        }
        const char **slot = NULL;
        if (strcmp(a, "--path") == 0)
            slot = &cfg.path;
        else if (strcmp(a, "--kubeconfig") == 0)
            slot = &kubeconfig;
        else if (strcmp(a, "--context") == 0)
            slot = &context;
        else if (strcmp(a, "--label-selector") == 0)
            slot = &cfg.label_selector;
        else if (strcmp(a, "--field-selector") == 0)
            slot = &cfg.field_selector;
        else if (strcmp(a, "--duration") == 0)
            slot = &duration;
        if (slot == NULL) {
            fprintf(stderr, "liqolet debug watch: unknown option '%s'\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "liqolet debug watch: %s needs a value\n", a);
            return 2;
        }
        *slot = argv[++i];
    }
    if (cfg.path == NULL || cfg.path[0] != '/') {
        fprintf(stderr, "liqolet debug watch: --path /api/v1/... is required\n");
        return 2;
    }
    long secs = 0;
    if (duration != NULL) {
        char *end = NULL;
        secs = strtol(duration, &end, 10);
        if (end == duration || *end != '\0' || secs <= 0) {
            fprintf(stderr, "liqolet debug watch: --duration wants a positive number of seconds\n");
            return 2;
        }
    }
    if (lq_tls_init() != LQ_OK) {
        fprintf(stderr, "liqolet debug watch: cannot initialise TLS\n");
        return 1;
    }
    char err[LQ_KCFG_ERR_MAX + LQ_TLS_ERR_MAX];
    if (lq_cluster_open(&dbg.cl, "the", kubeconfig, context, false, err, sizeof err) != LQ_OK) {
        fprintf(stderr, "liqolet debug watch: %s\n", err);
        return 1;
    }
    cfg.kcfg = &dbg.cl.kcfg;
    lq_loop_init(&dbg.loop);
    lq_conn_init(&dbg.conn, &dbg.loop, &dbg.cl.target);
    lq_watch_handler_t h = { on_event, on_relist, on_synced, NULL, NULL };
    lq_watch_init(&dbg.watch, &dbg.loop, &dbg.conn, dbg.evbuf, sizeof dbg.evbuf, &cfg, &h);
    if (secs > 0) {
        lq_loop_timer_init(&dbg.deadline, on_deadline, NULL);
        lq_loop_timer_start(&dbg.loop, &dbg.deadline, (int64_t)secs * 1000);
    }
    if (lq_port_signals_install() != LQ_OK)
        return 1;
    if (lq_watch_start(&dbg.watch) != LQ_OK) {
        fprintf(stderr, "liqolet debug watch: the path with its selectors is too long\n");
        return 2;
    }
    lq_pool_seal(); /* from here on nothing may allocate */
    (void)lq_loop_run(&dbg.loop);
    lq_watch_stop(&dbg.watch);
    lq_tls_stats_t ts;
    lq_tls_stats(&ts);
    const lq_watch_stats_t *st = &dbg.watch.stats;
    uint64_t hwm = 0, rss = 0;
    (void)lq_port_mem_usage(&hwm, &rss);
    fprintf(stderr,
            "liqolet debug watch: %llu listed, %llu events, %llu bookmarks, %llu relists, "
            "%llu 410s, %llu failures; TLS arena peak %zu of %zu bytes; "
            "VmHWM %llu KiB, VmRSS %llu KiB\n",
            (unsigned long long)st->listed, (unsigned long long)st->events,
            (unsigned long long)st->bookmarks, (unsigned long long)st->relists,
            (unsigned long long)st->gone, (unsigned long long)st->failures, ts.arena_peak,
            ts.arena_size, (unsigned long long)(hwm / 1024u), (unsigned long long)(rss / 1024u));
    return 0;
}
