/* bench_stream: throughput of the watch-stream read path, without I/O or TLS.
 *
 * Builds a synthetic kube-apiserver watch response in memory (N Pod events of realistic
 * shape, chunked in 8 KiB chunks as the API server's writes are), then reads it the way
 * a connection does, in 16 KiB receive-sized pieces: HTTP head parse, chunked decode in
 * place, watch framing into an LQ_MAX_OBJECT buffer, and a prefix scan of every event.
 * Prints MB/s, events/s and ns/event as the median of several repetitions.
 * The allocation guard is not linked here: this is the optimised -O2 build. */
#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "liqolet/config_defaults.h"
#include "liqolet/frame.h"
#include "liqolet/http.h"
#include "liqolet/scan.h"

#define EVENTS 20000
#define READ 16384
#define REPS 7

static char *wire;
static size_t wire_len;
static char evbuf[LQ_MAX_OBJECT];
static unsigned long events_seen, names_len;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static lq_err_t on_event(void *ctx, const lq_frame_obj_t *obj)
{
    (void)ctx;
    lq_scan_meta_t m;
    if (lq_scan_event(obj->data, obj->len, &m) != LQ_OK)
        return LQ_EPROTO;
    events_seen++;
    names_len += m.name.len;
    return LQ_OK;
}

static void build(void)
{
    static char ev[4096], body_piece[8192 + 32];
    size_t cap = (size_t)EVENTS * 2600 + 1024 * 1024;
    char *body = malloc(cap);
    size_t blen = 0;
    for (int i = 0; i < EVENTS; i++) {
        int n = snprintf(ev, sizeof ev,
            "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
            "{\"name\":\"web-%d-7d9f8c6b5-x2k4q\",\"generateName\":\"web-%d-7d9f8c6b5-\","
            "\"namespace\":\"shop\",\"uid\":\"0f7c9a52-%08d-4b1e-9c3a-6d2b8e4f1a70\","
            "\"resourceVersion\":\"%d\",\"creationTimestamp\":\"2026-11-23T10:00:00Z\","
            "\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"7d9f8c6b5\","
            "\"liqo.io/managed-by\":\"shadowpod\"},\"annotations\":{\"kubectl.kubernetes.io/"
            "restartedAt\":\"2026-11-23T09:59:58Z\"},\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
            "\"kind\":\"ReplicaSet\",\"name\":\"web-7d9f8c6b5\",\"uid\":\"a1b2c3d4-0000-1111-2222-"
            "333344445555\",\"controller\":true,\"blockOwnerDeletion\":true}]},\"spec\":{\"volumes\":"
            "[{\"name\":\"kube-api-access-abcde\",\"projected\":{\"sources\":[{\"serviceAccountToken\":"
            "{\"expirationSeconds\":3607,\"path\":\"token\"}}],\"defaultMode\":420}}],\"containers\":"
            "[{\"name\":\"nginx\",\"image\":\"nginx:1.27\",\"ports\":[{\"containerPort\":80,"
            "\"protocol\":\"TCP\"}],\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}},"
            "\"volumeMounts\":[{\"name\":\"kube-api-access-abcde\",\"readOnly\":true,\"mountPath\":"
            "\"/var/run/secrets/kubernetes.io/serviceaccount\"}],\"terminationMessagePath\":"
            "\"/dev/termination-log\",\"imagePullPolicy\":\"IfNotPresent\"}],\"restartPolicy\":"
            "\"Always\",\"nodeName\":\"liqo-foreign\",\"tolerations\":[{\"key\":"
            "\"virtual-node.liqo.io/not-allowed\",\"operator\":\"Exists\",\"effect\":\"NoExecute\"}]},"
            "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
            "\"lastTransitionTime\":\"2026-11-23T10:00:02Z\"}],\"hostIP\":\"10.0.0.5\",\"podIP\":"
            "\"10.20.1.%d\",\"startTime\":\"2026-11-23T10:00:01Z\",\"containerStatuses\":[{\"name\":"
            "\"nginx\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{\"startedAt\":"
            "\"2026-11-23T10:00:02Z\"}}}]}}}\n",
            i, i, i, 1000 + i, i % 250);
        memcpy(body + blen, ev, (size_t)n);
        blen += (size_t)n;
    }
    wire = malloc(blen + blen / 100 + 4096);
    wire_len = (size_t)sprintf(wire, "HTTP/1.1 200 OK\r\nAudit-Id: 5d1c\r\nCache-Control: no-cache, private\r\n"
                                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (size_t off = 0; off < blen; off += 8192) {
        size_t k = blen - off < 8192 ? blen - off : 8192;
        int h = sprintf(body_piece, "%zx\r\n", k);
        memcpy(wire + wire_len, body_piece, (size_t)h);
        wire_len += (size_t)h;
        memcpy(wire + wire_len, body + off, k);
        wire_len += k;
        memcpy(wire + wire_len, "\r\n", 2);
        wire_len += 2;
    }
    memcpy(wire + wire_len, "0\r\n\r\n", 5);
    wire_len += 5;
    free(body);
}

/* One pass over the wire bytes, as a connection would read them. */
static int read_all(void)
{
    static char rx[LQ_CONN_RX_BUF + READ];
    lq_http_resp_t resp;
    lq_http_body_t body;
    lq_frame_watch_t fw;
    lq_http_resp_init(&resp);
    lq_frame_watch_init(&fw, evbuf, sizeof evbuf, on_event, NULL);
    size_t rx_len = 0, off = 0;
    int head = 0;
    while (off < wire_len) {
        size_t n = wire_len - off < READ ? wire_len - off : READ;
        memcpy(rx + rx_len, wire + off, n); /* stands in for recv() */
        off += n;
        rx_len += n;
        size_t start = 0;
        if (!head) {
            if (lq_http_resp_parse(&resp, rx, rx_len) != LQ_OK)
                return -1;
            lq_http_body_init(&body, &resp, 0);
            start = resp.head_len;
            head = 1;
        }
        size_t used, got;
        lq_err_t e = lq_http_body_decode(&body, rx + start, rx_len - start, &used, &got);
        if (e != LQ_OK && e != LQ_AGAIN)
            return -2;
        if (lq_frame_watch_feed(&fw, rx + start, got) != LQ_OK)
            return -3;
        size_t left = rx_len - start - used;
        memmove(rx, rx + start + used, left);
        rx_len = left;
    }
    return lq_frame_watch_end(&fw) == LQ_OK && body.done ? 0 : -4;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    build();
    double t[REPS];
    for (int r = 0; r < REPS; r++) {
        events_seen = 0;
        double t0 = now_s();
        int rc = read_all();
        t[r] = now_s() - t0;
        if (rc != 0 || events_seen != EVENTS) {
            fprintf(stderr, "bench_stream: pass failed (rc %d, %lu events)\n", rc, events_seen);
            return 1;
        }
    }
    qsort(t, REPS, sizeof t[0], cmp);
    double med = t[REPS / 2];
    printf("bench_stream: %d events, %.1f MB on the wire, %d-byte reads, median of %d runs\n",
           EVENTS, (double)wire_len / 1e6, READ, REPS);
    printf("  %.0f MB/s   %.0f events/s   %.0f ns/event   (event ~%zu B; names checksum %lu)\n",
           (double)wire_len / 1e6 / med, EVENTS / med, med / EVENTS * 1e9, wire_len / EVENTS,
           names_len);
    return 0;
}
