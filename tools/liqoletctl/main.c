/* liqoletctl: command line and output (see ctl.h and docs/management.md). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ctl.h"

#ifndef LQ_VERSION
#define LQ_VERSION "0.0.0-unknown"
#endif

static const char usage_text[] =
    "liqoletctl " LQ_VERSION " - query a liqolet agent through its CoAP management endpoint\n"
    "\n"
    "Usage: liqoletctl [options] COMMAND\n"
    "\n"
    "Commands:\n"
    "  status            the agent's state: peering identities, API connections, virtual\n"
    "                    node, offloaded namespaces, reflected objects, tables, memory\n"
    "  health            liveness: exit 0 when the agent answers \"ok\"\n"
    "  ready             readiness: exit 0 when both API servers are reachable and the\n"
    "                    virtual node is registered, else exit 1 with the reasons\n"
    "  metrics           the Prometheus metrics (text exposition format)\n"
    "  objects KIND      reflected objects of one kind: pods, services, endpointslices,\n"
    "                    configmaps, secrets, ingresses, or namespaces (the offloaded ones)\n"
    "  watch [status|ready]\n"
    "                    observe /status (default) or /ready: one line per change, until\n"
    "                    interrupted or --count notifications have arrived\n"
    "\n"
    "Options:\n"
    "  -s, --server URI      the agent's endpoint: coap://HOST:PORT, coaps://HOST:PORT,\n"
    "                        HOST:PORT or HOST ([IPv6] in brackets; port 5683). Default:\n"
    "                        $LIQOLETCTL_SERVER, else 127.0.0.1:5683. coaps:// (DTLS) is\n"
    "                        implied by --psk-file.\n"
    "      --psk-file FILE   DTLS pre-shared key (the agent's --mgmt-psk-file; one trailing\n"
    "                        newline is ignored). Needed when the agent has one.\n"
    "      --psk-identity ID PSK identity to present (default liqoletctl)\n"
    "  -o, --output FORMAT   human (default) or json\n"
    "  -n, --namespace NS    objects: only those of home namespace NS\n"
    "      --timeout SECONDS wait at most this long for an answer (default 5)\n"
    "      --count N         watch: stop after N notifications (the first answer counts)\n"
    "  -v, --verbose         libcoap's log on stderr (twice: debug)\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit status: 0 answered (and healthy/ready for health/ready), 1 answered but not\n"
    "healthy/ready or with an error code, 2 usage error, 3 no answer (timeout, nothing\n"
    "listening, DTLS failure). As a Kubernetes exec probe:\n"
    "    livenessProbe:  { exec: { command: [liqoletctl, health] } }\n"
    "    readinessProbe: { exec: { command: [liqoletctl, ready] } }\n"
    "(add --psk-file FILE when the agent serves DTLS).\n";

typedef struct opts {
    ctl_target_t t;
    bool json;
    const char *ns;
    int timeout_ms;
    long count;
    const char *cmd, *arg;
} opts_t;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("liqoletctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see liqoletctl --help)\n", stderr);
    return CTL_EXIT_USAGE;
}

/* --- the server address ----------------------------------------------------------------- */

static int parse_server(const char *s, ctl_target_t *t, bool *scheme_dtls, bool *has_scheme)
{
    *has_scheme = false;
    *scheme_dtls = false;
    if (strncmp(s, "coaps://", 8) == 0) {
        s += 8;
        *has_scheme = *scheme_dtls = true;
    } else if (strncmp(s, "coap://", 7) == 0) {
        s += 7;
        *has_scheme = true;
    }
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    const char *host = s, *port = NULL;
    size_t hl;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL)
            return -1;
        host = s + 1;
        hl = (size_t)(close - host);
        if (close + 1 < s + n) {
            if (close[1] != ':')
                return -1;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        hl = colon != NULL ? (size_t)(colon - s) : n;
        if (colon != NULL)
            port = colon + 1;
    }
    if (hl == 0 || hl >= sizeof t->host)
        return -1;
    memcpy(t->host, host, hl);
    t->host[hl] = '\0';
    t->port = 5683;
    if (port != NULL) {
        char *end;
        errno = 0;
        unsigned long p = strtoul(port, &end, 10);
        if (errno != 0 || end == port || end != s + n || p == 0 || p > 65535)
            return -1;
        t->port = (uint16_t)p;
    }
    return 0;
}

static int read_psk(const char *path, ctl_target_t *t)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "liqoletctl: --psk-file: cannot open %s: %s\n", path, strerror(errno));
        return CTL_EXIT_USAGE;
    }
    char buf[CTL_PSK_MAX + 3];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n == 0 || n > CTL_PSK_MAX) {
        fprintf(stderr, "liqoletctl: --psk-file: %s does not hold a key of 1 to %d bytes\n",
                path, CTL_PSK_MAX);
        return CTL_EXIT_USAGE;
    }
    memcpy(t->psk, buf, n);
    t->psk_len = n;
    memset(buf, 0, sizeof buf);
    return CTL_EXIT_OK;
}

/* --- small output helpers ------------------------------------------------------------------ */

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && v->valuestring != NULL ? v->valuestring : "";
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static bool jbool(const cJSON *o, const char *k)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static const char *orna(const char *s)
{
    return s[0] != '\0' ? s : "-";
}

static void put_bytes(double b)
{
    if (b >= 1024.0 * 1024.0)
        printf("%.1f MiB", b / (1024.0 * 1024.0));
    else if (b >= 1024.0)
        printf("%.1f KiB", b / 1024.0);
    else
        printf("%.0f B", b);
}

static void put_duration(double s)
{
    unsigned long v = (unsigned long)s;
    if (v >= 86400)
        printf("%lud %luh", v / 86400, v % 86400 / 3600);
    else if (v >= 3600)
        printf("%luh %lum", v / 3600, v % 3600 / 60);
    else if (v >= 60)
        printf("%lum %lus", v / 60, v % 60);
    else
        printf("%lus", v);
}

static void put_time(void)
{
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm) != NULL && strftime(ts, sizeof ts, "%H:%M:%S", &tm) > 0)
        printf("%s ", ts);
}

/* The payload as a C string without its trailing newlines (the caller frees it). */
static char *dup_line(const ctl_resp_t *r)
{
    char *s = malloc(r->len + 1);
    if (s == NULL)
        return NULL;
    size_t n = r->len;
    if (n > 0)
        memcpy(s, r->body, n);
    while (n > 0 && s[n - 1] == '\n')
        n--;
    s[n] = '\0';
    return s;
}

/* {"time":..,"ready":..,"reason":".."} or {"healthy":..} for a /ready or /health line. */
static void print_probe_json(const char *line, bool ready_res, bool with_time)
{
    cJSON *j = cJSON_CreateObject();
    if (with_time)
        cJSON_AddNumberToObject(j, "time", (double)time(NULL));
    if (ready_res) {
        cJSON_AddBoolToObject(j, "ready", strcmp(line, "ready") == 0);
        bool why = strncmp(line, "not ready: ", 11) == 0;
        cJSON_AddStringToObject(j, "reason", why ? line + 11 : "");
    } else {
        cJSON_AddBoolToObject(j, "healthy", strcmp(line, "ok") == 0);
    }
    char *out = cJSON_PrintUnformatted(j);
    if (out != NULL)
        puts(out);
    free(out);
    cJSON_Delete(j);
}

static int answer_error(const char *what, const ctl_resp_t *r)
{
    fprintf(stderr, "liqoletctl: %s: the agent answered %u.%02u%s%.*s\n", what, r->code / 100,
            r->code % 100, r->len > 0 ? ": " : "", (int)r->len, r->body != NULL ? r->body : "");
    return CTL_EXIT_FAILED;
}

/* --- status ------------------------------------------------------------------------------ */

static void print_cluster(const char *label, const cJSON *c)
{
    printf("%-14s%s", label, orna(jstr(c, "id")));
    if (jstr(c, "name")[0] != '\0')
        printf(" (%s)", jstr(c, "name"));
    if (jstr(c, "server")[0] != '\0')
        printf(" at %s", jstr(c, "server"));
    printf(", %s\n", jbool(c, "reachable") ? "reachable" : "UNREACHABLE");
}

static void print_status(const cJSON *j)
{
    printf("liqolet %s (board %s), up ", jstr(j, "version"), jstr(j, "board"));
    put_duration(jnum(j, "uptimeSeconds"));
    printf("\n");
    if (jbool(j, "ready"))
        printf("%-14syes\n", "ready:");
    else
        printf("%-14sNO: %s\n", "ready:", jstr(j, "notReadyReason"));
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(j, "clusters");
    print_cluster("home:", cJSON_GetObjectItemCaseSensitive(cl, "home"));
    print_cluster("foreign:", cJSON_GetObjectItemCaseSensitive(cl, "foreign"));
    const cJSON *vn = cJSON_GetObjectItemCaseSensitive(j, "virtualNode");
    printf("%-14s%s: %s, %s; %.0f node applies, %.0f status updates, %.0f lease renewals\n",
           "virtual node:", orna(jstr(vn, "name")),
           jbool(vn, "registered") ? "registered" : "NOT registered",
           jbool(vn, "lockHeld") ? "instance lock held" : "waiting for the instance lock",
           jnum(vn, "nodeApplies"), jnum(vn, "statusUpdates"), jnum(vn, "leaseRenewals"));

    const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(j, "requests");
    const char *cname[2] = { "home", "foreign" };
    for (int i = 0; i < 2; i++) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(reqs, cname[i]);
        printf("%-14s%-8s %.0f submitted, %.0f retries, %.0f failed, %.0f queued "
               "(high water %.0f)\n",
               i == 0 ? "API requests:" : "", cname[i], jnum(r, "submitted"), jnum(r, "retries"),
               jnum(r, "failures"), jnum(r, "queued"), jnum(r, "queueHighWater"));
    }
    const cJSON *conns = cJSON_GetObjectItemCaseSensitive(j, "connections");
    printf("connections:\n  %-8s %-16s %-11s %8s %8s  %s\n", "CLUSTER", "NAME", "STATE",
           "REQUESTS", "FAILURES", "LAST ERROR");
    const cJSON *c;
    cJSON_ArrayForEach(c, conns) {
        printf("  %-8s %-16s %-11s %8.0f %8.0f  %s\n", jstr(c, "cluster"), jstr(c, "name"),
               jstr(c, "state"), jnum(c, "requests"), jnum(c, "failures"),
               orna(jstr(c, "lastError")));
    }
    const cJSON *nss = cJSON_GetObjectItemCaseSensitive(j, "namespaces");
    if (cJSON_GetArraySize(nss) == 0) {
        printf("%-14snone\n", "namespaces:");
    } else {
        printf("namespaces:\n  %-30s %-40s %s\n", "LOCAL", "REMOTE", "STATE");
        cJSON_ArrayForEach(c, nss) {
            printf("  %-30s %-40s %s\n", jstr(c, "local"), orna(jstr(c, "remote")),
                   orna(jstr(c, "state")));
        }
    }
    printf("%-14s", "objects:");
    const cJSON *objs = cJSON_GetObjectItemCaseSensitive(j, "objects");
    int k = 0;
    cJSON_ArrayForEach(c, objs) {
        printf("%s%s %.0f", k++ > 0 ? ", " : "", c->string, c->valuedouble);
    }
    printf("\n");
    const cJSON *wq = cJSON_GetObjectItemCaseSensitive(j, "workqueue");
    printf("%-14sdepth %.0f (high water %.0f), %.0f retries\n", "work queue:", jnum(wq, "depth"),
           jnum(wq, "highWater"), jnum(wq, "retries"));
    const cJSON *tables = cJSON_GetObjectItemCaseSensitive(j, "tables");
    if (cJSON_GetArraySize(tables) > 0) {
        printf("tables:\n  %-24s %10s %10s %10s\n", "NAME", "USED", "CAPACITY", "HIGH WATER");
        cJSON_ArrayForEach(c, tables) {
            printf("  %-24s %10.0f %10.0f %10.0f\n", jstr(c, "name"), jnum(c, "used"),
                   jnum(c, "capacity"), jnum(c, "highWater"));
        }
    }
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(j, "memory");
    const cJSON *heap = cJSON_GetObjectItemCaseSensitive(mem, "coapHeap");
    printf("%-14slibcoap heap ", "memory:");
    put_bytes(jnum(heap, "inUse"));
    printf(" of ");
    put_bytes(jnum(heap, "cap"));
    printf(" (high water ");
    put_bytes(jnum(heap, "highWater"));
    printf(", %.0f refused)", jnum(heap, "refused"));
    if (jnum(mem, "rssBytes") > 0) {
        printf("; resident ");
        put_bytes(jnum(mem, "rssBytes"));
        printf(" (peak ");
        put_bytes(jnum(mem, "rssPeakBytes"));
        printf(")");
    }
    printf("\n");
}

/* --- commands ------------------------------------------------------------------------------ */

typedef struct run {
    const opts_t *o;
    int rc;
    long seen;
} run_t;

/* A JSON answer: an error code is reported, -o json prints it as it is (NULL is returned
 * then too); otherwise the parsed document, which the caller deletes. */
static cJSON *json_answer(run_t *x, const char *what, const ctl_resp_t *r)
{
    if (r->code != 205) {
        x->rc = answer_error(what, r);
        return NULL;
    }
    if (x->o->json) {
        bool nl = r->len > 0 && r->body[r->len - 1] == '\n';
        printf("%.*s%s", (int)r->len, r->body, nl ? "" : "\n");
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    if (j == NULL) {
        fprintf(stderr, "liqoletctl: %s: the agent's answer is not JSON\n", what);
        x->rc = CTL_EXIT_FAILED;
    }
    return j;
}

static bool on_status(const ctl_resp_t *r, void *ctx)
{
    run_t *x = ctx;
    cJSON *j = json_answer(x, "status", r);
    if (j == NULL)
        return false;
    print_status(j);
    cJSON_Delete(j);
    return false;
}

/* health / ready: the payload decides. */
static bool on_probe(const ctl_resp_t *r, void *ctx)
{
    run_t *x = ctx;
    bool ready_cmd = strcmp(x->o->cmd, "ready") == 0;
    if (r->code != 205) {
        x->rc = answer_error(x->o->cmd, r);
        return false;
    }
    char *b = dup_line(r);
    if (b == NULL) {
        x->rc = CTL_EXIT_FAILED;
        return false;
    }
    bool ok = ready_cmd ? strcmp(b, "ready") == 0 : strcmp(b, "ok") == 0;
    if (x->o->json)
        print_probe_json(b, ready_cmd, false);
    else
        puts(b);
    free(b);
    x->rc = ok ? CTL_EXIT_OK : CTL_EXIT_FAILED;
    return false;
}

/* metrics: text as is; -o json: [{"name":..,"labels":{..},"value":..}, ...] */
static bool on_metrics(const ctl_resp_t *r, void *ctx)
{
    run_t *x = ctx;
    if (r->code != 205) {
        x->rc = answer_error("metrics", r);
        return false;
    }
    if (!x->o->json) {
        fwrite(r->body, 1, r->len, stdout);
        return false;
    }
    char *b = dup_line(r);
    cJSON *arr = cJSON_CreateArray();
    for (char *line = b, *next; line != NULL && *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *sp = strrchr(line, ' ');
        if (sp == NULL)
            continue;
        *sp = '\0';
        cJSON *m = cJSON_CreateObject();
        cJSON *labels = cJSON_CreateObject();
        char *brace = strchr(line, '{');
        if (brace != NULL) {
            *brace = '\0';
            /* name="value",name="value"} with \" \\ \n escapes */
            char *p = brace + 1;
            while (*p != '\0' && *p != '}') {
                char *eq = strchr(p, '=');
                if (eq == NULL || eq[1] != '"')
                    break;
                *eq = '\0';
                char *v = eq + 2, *w = v;
                while (*v != '\0' && *v != '"') {
                    if (*v == '\\' && v[1] != '\0') {
                        v++;
                        *w++ = *v == 'n' ? '\n' : *v;
                    } else {
                        *w++ = *v;
                    }
                    v++;
                }
                bool closed = *v == '"';
                *w = '\0';
                cJSON_AddStringToObject(labels, p, eq + 2);
                if (!closed)
                    break;
                p = v + 1;
                if (*p == ',')
                    p++;
            }
        }
        cJSON_AddStringToObject(m, "name", line);
        cJSON_AddItemToObject(m, "labels", labels);
        cJSON_AddNumberToObject(m, "value", strtod(sp + 1, NULL));
        cJSON_AddItemToArray(arr, m);
    }
    char *s = cJSON_PrintUnformatted(arr);
    if (s != NULL)
        puts(s);
    free(s);
    cJSON_Delete(arr);
    free(b);
    return false;
}

static bool on_objects(const ctl_resp_t *r, void *ctx)
{
    run_t *x = ctx;
    cJSON *j = json_answer(x, "objects", r);
    if (j == NULL)
        return false;
    bool nsk = strcmp(x->o->arg, "namespaces") == 0;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
    if (cJSON_GetArraySize(items) == 0) {
        printf("no %s\n", x->o->arg);
    } else {
        if (nsk)
            printf("%-30s %-40s %s\n", "NAMESPACE", "REMOTE NAMESPACE", "STATE");
        else
            printf("%-24s %-32s %-32s %s\n", "NAMESPACE", "NAME", "REMOTE NAMESPACE", "STATE");
        const cJSON *c;
        cJSON_ArrayForEach(c, items) {
            if (nsk)
                printf("%-30s %-40s %s\n", jstr(c, "name"), orna(jstr(c, "remoteNamespace")),
                       orna(jstr(c, "state")));
            else
                printf("%-24s %-32s %-32s %s\n", jstr(c, "namespace"), jstr(c, "name"),
                       orna(jstr(c, "remoteNamespace")), orna(jstr(c, "state")));
        }
    }
    cJSON_Delete(j);
    return false;
}

static bool on_watch(const ctl_resp_t *r, void *ctx)
{
    run_t *x = ctx;
    bool ready = strcmp(x->o->arg, "ready") == 0;
    if (r->code != 205) {
        x->rc = answer_error("watch", r);
        return false;
    }
    if (ready) {
        char *b = dup_line(r);
        if (b == NULL)
            return false;
        if (x->o->json) {
            print_probe_json(b, true, true);
        } else {
            put_time();
            puts(b);
        }
        free(b);
    } else if (x->o->json) {
        /* one JSON document per line */
        size_t n = r->len;
        while (n > 0 && r->body[n - 1] == '\n')
            n--;
        printf("%.*s\n", (int)n, r->body);
    } else {
        cJSON *j = cJSON_ParseWithLength(r->body, r->len);
        if (j == NULL) {
            fprintf(stderr, "liqoletctl: watch: a notification is not JSON\n");
        } else {
            const cJSON *cl = cJSON_GetObjectItemCaseSensitive(j, "clusters");
            const cJSON *vn = cJSON_GetObjectItemCaseSensitive(j, "virtualNode");
            bool home = jbool(cJSON_GetObjectItemCaseSensitive(cl, "home"), "reachable");
            bool foreign = jbool(cJSON_GetObjectItemCaseSensitive(cl, "foreign"), "reachable");
            put_time();
            printf("%s; home %s, foreign %s; node %s %s; offloaded namespaces: %d\n",
                   jbool(j, "ready") ? "ready" : "NOT ready", home ? "reachable" : "UNREACHABLE",
                   foreign ? "reachable" : "UNREACHABLE", orna(jstr(vn, "name")),
                   jbool(vn, "registered") ? "registered" : "NOT registered",
                   cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "namespaces")));
            cJSON_Delete(j);
        }
    }
    fflush(stdout);
    x->seen++;
    return x->o->count <= 0 || x->seen < x->o->count;
}

/* --- main ---------------------------------------------------------------------------------- */

static const char *const kinds[] = { "pods", "services", "endpointslices", "configmaps",
                                     "secrets", "ingresses", "namespaces" };

static int parse_args(int argc, char **argv, opts_t *o)
{
    const char *server = getenv("LIQOLETCTL_SERVER");
    const char *psk_file = NULL;
    memset(o, 0, sizeof *o);
    o->timeout_ms = 5000;
    o->t.identity = "liqoletctl";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        bool takes = strcmp(a, "-s") == 0 || strcmp(a, "--server") == 0 ||
                     strcmp(a, "--psk-file") == 0 || strcmp(a, "--psk-identity") == 0 ||
                     strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 ||
                     strcmp(a, "-n") == 0 || strcmp(a, "--namespace") == 0 ||
                     strcmp(a, "--timeout") == 0 || strcmp(a, "--count") == 0;
        if (takes) {
            if (i + 1 >= argc)
                return usage_error("%s needs a value", a);
            v = argv[++i];
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0) {
            fputs(usage_text, stdout);
            exit(CTL_EXIT_OK);
        } else if (strcmp(a, "-s") == 0 || strcmp(a, "--server") == 0) {
            server = v;
        } else if (strcmp(a, "--psk-file") == 0) {
            psk_file = v;
        } else if (strcmp(a, "--psk-identity") == 0) {
            if (v[0] == '\0' || strlen(v) > 64)
                return usage_error("--psk-identity: '%s' is not 1 to 64 bytes", v);
            o->t.identity = v;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (strcmp(v, "json") == 0)
                o->json = true;
            else if (strcmp(v, "human") != 0)
                return usage_error("--output: '%s' is not one of human|json", v);
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--namespace") == 0) {
            o->ns = v;
        } else if (strcmp(a, "--timeout") == 0) {
            char *end;
            double s = strtod(v, &end);
            if (end == v || *end != '\0' || s <= 0 || s > 3600)
                return usage_error("--timeout: '%s' is not a number of seconds in (0, 3600]", v);
            o->timeout_ms = (int)(s * 1000.0);
        } else if (strcmp(a, "--count") == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (end == v || *end != '\0' || n < 1)
                return usage_error("--count: '%s' is not a positive number", v);
            o->count = n;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            o->t.verbose++;
        } else if (a[0] == '-') {
            return usage_error("unknown option '%s'", a);
        } else if (o->cmd == NULL) {
            o->cmd = a;
        } else if (o->arg == NULL) {
            o->arg = a;
        } else {
            return usage_error("unexpected argument '%s'", a);
        }
    }
    if (o->cmd == NULL)
        return usage_error("%s", "no command given");
    bool scheme_dtls = false, has_scheme = false;
    if (server == NULL)
        server = "127.0.0.1:5683";
    if (parse_server(server, &o->t, &scheme_dtls, &has_scheme) != 0)
        return usage_error("--server: '%s' is not coap[s]://HOST[:PORT] or HOST[:PORT]", server);
    if (psk_file != NULL) {
        int rc = read_psk(psk_file, &o->t);
        if (rc != CTL_EXIT_OK)
            return rc;
        if (has_scheme && !scheme_dtls)
            return usage_error("--server %s is plain coap://, but --psk-file asks for DTLS",
                               server);
        o->t.dtls = true;
    } else if (scheme_dtls) {
        return usage_error("--server %s is coaps:// (DTLS): give --psk-file", server);
    }
    return -1; /* parsed */
}

int main(int argc, char **argv)
{
    opts_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    run_t x = { &o, CTL_EXIT_OK, 0 };
    const char *path = NULL;
    const char *query = NULL;
    char objpath[64], q[96];
    ctl_resp_fn *fn = NULL;
    bool observe = false;
    const char *c = o.cmd;
    bool wants_arg = strcmp(c, "objects") == 0 || strcmp(c, "watch") == 0;
    if (o.arg != NULL && !wants_arg)
        return usage_error("'%s' takes no argument", c);
    if (o.ns != NULL && strcmp(c, "objects") != 0)
        return usage_error("%s", "--namespace is only for 'objects'");
    if (strcmp(c, "status") == 0) {
        path = "status";
        fn = on_status;
    } else if (strcmp(c, "health") == 0) {
        path = "health";
        fn = on_probe;
    } else if (strcmp(c, "ready") == 0) {
        path = "ready";
        fn = on_probe;
    } else if (strcmp(c, "metrics") == 0) {
        path = "metrics";
        fn = on_metrics;
    } else if (strcmp(c, "objects") == 0) {
        if (o.arg == NULL)
            return usage_error("%s", "objects needs a KIND (pods, services, endpointslices, "
                               "configmaps, secrets, ingresses, namespaces)");
        bool known = false;
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
            known = known || strcmp(o.arg, kinds[i]) == 0;
        if (!known)
            return usage_error("objects: unknown kind '%s' (pods, services, endpointslices, "
                               "configmaps, secrets, ingresses, namespaces)", o.arg);
        (void)snprintf(objpath, sizeof objpath, "objects/%s", o.arg);
        path = objpath;
        if (o.ns != NULL) {
            if (snprintf(q, sizeof q, "ns=%s", o.ns) >= (int)sizeof q)
                return usage_error("--namespace: '%s' is too long", o.ns);
            query = q;
        }
        fn = on_objects;
    } else if (strcmp(c, "watch") == 0) {
        if (o.arg == NULL)
            o.arg = "status";
        if (strcmp(o.arg, "status") != 0 && strcmp(o.arg, "ready") != 0)
            return usage_error("watch: '%s' is not status or ready", o.arg);
        path = o.arg;
        observe = true;
        fn = on_watch;
    } else {
        return usage_error("unknown command '%s' (status, health, ready, metrics, objects, "
                           "watch)", c);
    }
    if (o.count > 0 && !observe)
        return usage_error("%s", "--count is only for 'watch'");
    char err[256] = "";
    rc = ctl_get(&o.t, path, query, observe, o.timeout_ms, fn, &x, err, sizeof err);
    memset(o.t.psk, 0, sizeof o.t.psk);
    if (rc != CTL_EXIT_OK) {
        fprintf(stderr, "liqoletctl: %s\n", err[0] != '\0' ? err : "no answer");
        return rc;
    }
    if (err[0] != '\0' && observe)
        fprintf(stderr, "liqoletctl: %s\n", err);
    return x.rc;
}
