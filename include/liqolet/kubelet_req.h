/* liqolet: the kubelet API's request parser (pure module, src/kubelet/req.c; issue 14,
 * DESIGN.md Decision 20). No OS header, no I/O, no heap, no global state.
 *
 * The home kube-apiserver calls the virtual node's kubelet API over HTTPS as it calls a
 * kubelet (K = k8s.io/kubernetes v1.36.3):
 *   GET  /containerLogs/{ns}/{pod}/{container}?follow=true&tailLines=10...  (pods/log)
 *   GET  /exec/{ns}/{pod}/{container}?command=..&input=1&output=1&tty=1     (WebSocket
 *   GET  /attach/{ns}/{pod}/{container}?output=1...                          v5.channel.k8s.io
 *                                      passed through: the node declares ExtendWebSocketsToKubelet;
 *                                      POST + SPDY/3.1 from older clients)
 *   POST /portForward/{ns}/{pod}?port=80                                     (SPDY only)
 * (K pkg/registry/core/pod/strategy.go LogLocation, streamLocation, streamParams.)
 * lq_kl_parse reads one request head and says what it asks for: the route with its
 * percent-decoded names, the authorisation attributes kubelet would compute, the WebSocket
 * or SPDY upgrade, and the logs or exec/attach options; lq_kl_foreign_target writes the
 * foreign API server's pods/log, pods/exec or pods/attach target for the remote pod.
 * (Prefix lq_kl_, short for the kubelet API.)
 *
 * Head syntax (RFC 9112, strict as src/kube/http.c, since the peer is a kube-apiserver):
 *   - the head ends at the first CRLF CRLF; every line ends in CRLF: a bare LF or CR is
 *     LQ_EPROTO, and so is a NUL anywhere in the head;
 *   - request line "METHOD SP origin-form SP HTTP/1.0|HTTP/1.1": the method a token, the
 *     target "/" followed by visible ASCII only (no SP, CTL, non-ASCII, '#'); any other
 *     version (HTTP/1.2, HTTP/2.0, HTTP/0.9 without a version) is LQ_EPROTO;
 *   - field lines "name: value": name a token directly followed by ':', value of SP/HTAB/
 *     VCHAR/obs-text (no CTL but HTAB); obs-fold (a line starting with SP/HTAB) LQ_EPROTO;
 *   - HTTP/1.1 needs exactly one Host; a second Host, Upgrade, Sec-WebSocket-Key or
 *     Sec-WebSocket-Version field is LQ_EPROTO;
 *   - no body: Transfer-Encoding (any value) and a Content-Length other than 0 are
 *     LQ_EPROTO (these endpoints take none; a body would desynchronise the stream bridge);
 *   - path segments and query keys/values are percent-decoded as Go's net/url does (in
 *     the query '+' is a space); a '%' not followed by two hex digits, and a ';' in the
 *     query (Go drops such pairs) are LQ_EPROTO.
 * Only GET, POST and HEAD are served; any other method is LQ_ENOTSUP (405).
 *
 * Authorisation (K pkg/kubelet/server/auth.go GetRequestAttributes; server.go
 * InstallAuthFilter): resource "nodes", the node's name, version "v1", one SAR per
 * subresource in sub[0..n_sub), the request allowed if any SAR allows it (kubelet's loop).
 *   verb: POST "create", GET "get", PUT "update", PATCH "patch", DELETE "delete", any other
 *         method "" (kubelet's switch has no HEAD case: a HEAD is authorised with verb "",
 *         which only a "*" verb rule allows);
 *   sub:  computed on the percent-decoded path with kubelet's isSubpath(p, base): p equals
 *         base without one trailing '/', or starts with it followed by '/'. First, as
 *         KubeletFineGrainedAuthz (GA, locked on in 1.36) adds, "/pods" -> "pods",
 *         "/healthz" -> "healthz", "/configz" -> "configz", "/runningpods/" -> "pods" (the
 *         first that matches, at most one); then always one of "/stats/" -> "stats",
 *         "/metrics" -> "metrics", "/logs/" -> "log", "/checkpoint/" -> "checkpoint",
 *         "/statusz" -> "statusz", "/flagz" -> "configz", else "proxy". So
 *         /containerLogs, /exec, /attach and /portForward need nodes/proxy; /healthz
 *         accepts nodes/healthz or nodes/proxy.
 *
 * Usage, with rx holding what arrived on one connection:
 *     err = lq_kl_parse(&req, rx, rx_len);
 *     LQ_AGAIN: read more (answer 431 once rx_len reaches your head cap);
 *     LQ_OK: authorise (req.verb, req.sub), then serve req.route; the head is
 *            rx[0..req.head_len), and rx must stay unchanged while req is used.
 */
#ifndef LIQOLET_KUBELET_REQ_H
#define LIQOLET_KUBELET_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/err.h"
#include "liqolet/http.h"

#define LQ_KL_NS_MAX        63u  /* namespace: DNS-1123 label */
#define LQ_KL_POD_MAX       253u /* pod: DNS-1123 subdomain */
#define LQ_KL_CONTAINER_MAX 63u  /* container: DNS-1123 label */
#define LQ_KL_TIME_MAX      64u  /* longest sinceTime accepted (decoded bytes) */
#define LQ_KL_MAX_WS_PROTOCOLS 8u /* WebSocket subprotocols kept; more is LQ_EPROTO */
#define LQ_KL_WS_V5         "v5.channel.k8s.io"

typedef enum lq_kl_route {
    LQ_KL_OTHER,       /* any other path (parsed and authorised: kubelet answers 404) */
    LQ_KL_LOGS,        /* /containerLogs/{ns}/{pod}/{container} */
    LQ_KL_EXEC,        /* /exec/{ns}/{pod}/{container} */
    LQ_KL_ATTACH,      /* /attach/{ns}/{pod}/{container} */
    LQ_KL_PORTFORWARD, /* /portForward/{ns}/{pod} */
    LQ_KL_HEALTHZ,     /* /healthz */
    LQ_KL_BAD_NAME     /* one of the four shapes above with a name that is not a valid
                          Kubernetes name (why says which): no such pod, 404 after
                          authorisation, as kubelet's lookup fails */
} lq_kl_route_t;

typedef enum lq_kl_upgrade {
    LQ_KL_UPGRADE_NONE,      /* no Upgrade, or Upgrade without a Connection "upgrade" token */
    LQ_KL_UPGRADE_WEBSOCKET, /* a complete RFC 6455 handshake (see lq_kl_req_t) */
    LQ_KL_UPGRADE_SPDY,      /* Upgrade: SPDY/3.1 (older clients, port-forward): refuse */
    LQ_KL_UPGRADE_OTHER      /* any other protocol (h2c, ...): refuse */
} lq_kl_upgrade_t;

typedef enum lq_kl_stream {
    LQ_KL_STREAM_ALL,    /* absent, or "All" */
    LQ_KL_STREAM_STDOUT, /* "Stdout" (PodLogsQuerySplitStreams) */
    LQ_KL_STREAM_STDERR  /* "Stderr" */
} lq_kl_stream_t;

/* Logs options (route LQ_KL_LOGS), parsed as kubelet's getContainerLogs does (K
 * pkg/kubelet/server/server.go; apimachinery runtime/conversion.go): the first value of a
 * parameter counts, later ones are ignored; unknown parameters are ignored.
 *   follow, previous, timestamps: false when absent, "0" or "false" (any case), true for
 *     any other value, the empty one included (Convert_Slice_string_To_bool: no value is
 *     invalid);
 *   tailLines, sinceSeconds, limitBytes: strconv.ParseInt base 10 (optional sign, digits,
 *     int64 range); then ValidatePodLogOptions: tailLines >= 0, limitBytes >= 1,
 *     sinceSeconds >= 1, not both sinceSeconds and sinceTime;
 *   tail (kubelet's old name): when non-empty it replaces tailLines, "all" removes it;
 *   sinceTime: RFC 3339 as Go's time.Parse(time.RFC3339) fast path: YYYY-MM-DDTHH:MM:SS,
 *     an optional '.' and fraction digits, then 'Z' or +hh:mm/-hh:mm, each field in range
 *     (day within its month, leap years included, second <= 59); "" and "null" count as
 *     given but empty (the zero time: no filter) and still conflict with sinceSeconds;
 *   stream: "All", "Stdout" or "Stderr" (exact); with a value other than All, tailLines is
 *     refused (ValidatePodLogOptions). */
typedef struct lq_kl_logs {
    bool follow, previous, timestamps;
    bool has_tail_lines, has_since_seconds, has_since_time, has_limit_bytes;
    int64_t tail_lines, since_seconds, limit_bytes;
    char since_time[LQ_KL_TIME_MAX + 1]; /* decoded, NUL-terminated; "" when empty/null */
    lq_kl_stream_t stream;
} lq_kl_logs_t;

/* Exec / attach options (routes LQ_KL_EXEC, LQ_KL_ATTACH). kubelet reads input, output,
 * error, tty (K streamParams writes "1"; cri-streaming remotecommand NewOptions takes the
 * first value and wants "1"); the API names stdin, stdout, stderr are accepted too. A
 * flag is true when the first value of either spelling is "1" or "true"; any other value
 * is false (not an error, as kubelet). As kubelet: tty drops error (stderr), and none of
 * input/output/error is LQ_EPROTO. command (exec only, at least one) may repeat; the
 * values stay in the query (lq_kl_foreign_target re-encodes them). */
typedef struct lq_kl_stream_opts {
    bool input, output, error, tty;
    size_t n_command; /* command parameters (exec; 0 for attach) */
} lq_kl_stream_opts_t;

/* One parsed request head. Caller-owned (800 B on 64-bit). Views point into the
 * buffer given to lq_kl_parse, which must outlive r and stay unchanged; names are
 * copies. */
typedef struct lq_kl_req {
    size_t head_len;          /* bytes of the head, CRLF CRLF included; 0 when the head
                                 itself was malformed */
    lq_http_view_t method;    /* as sent ("GET") */
    uint8_t minor;            /* HTTP/1.<minor>: 0 or 1 */
    bool keep_alive;          /* 1.1 without Connection "close", 1.0 with "keep-alive" */
    lq_http_view_t host;      /* Host value; ptr NULL when absent (HTTP/1.0 only) */
    lq_http_view_t path;      /* raw path of the target (before '?') */
    lq_http_view_t query;     /* raw query after '?' (ptr NULL when there is no '?') */

    lq_kl_route_t route;
    char ns[LQ_KL_NS_MAX + 1];               /* decoded, NUL-terminated; "" when the route */
    char pod[LQ_KL_POD_MAX + 1];             /* has no such name */
    char container[LQ_KL_CONTAINER_MAX + 1];

    const char *verb;         /* static string, see above ("" for HEAD) */
    const char *sub[2];       /* static strings; n_sub is 1 or 2 */
    size_t n_sub;

    lq_kl_upgrade_t upgrade;
    lq_http_view_t ws_key;    /* Sec-WebSocket-Key (24 base64 chars of 16 bytes) */
    lq_http_view_t ws_protocols[LQ_KL_MAX_WS_PROTOCOLS]; /* offered subprotocols in order,
                                 from every Sec-WebSocket-Protocol field, empty list
                                 elements skipped */
    size_t n_ws_protocols;
    bool ws_v5;               /* LQ_KL_WS_V5 is among them */

    lq_kl_logs_t logs;        /* route LQ_KL_LOGS only (zero otherwise) */
    lq_kl_stream_opts_t stream; /* routes LQ_KL_EXEC / LQ_KL_ATTACH only (zero otherwise) */

    const char *why;          /* static reason for LQ_EPROTO, LQ_ENOTSUP and
                                 LQ_KL_BAD_NAME, for the answer's body; NULL otherwise */
} lq_kl_req_t;

/* Parse one request head from buf[0..len) (bytes as received; the head is everything up
 * to and including the first CRLF CRLF; bytes after it are not looked at). Each call
 * scans buf from its start and fills r from scratch (r needs no initialisation).
 * Returns:
 *   LQ_OK       r filled, head_len > 0. route LQ_KL_BAD_NAME is a success too.
 *   LQ_AGAIN    no CRLF CRLF in buf yet and nothing invalid so far: read more. The caller
 *               caps the head size itself (431 beyond it).
 *   LQ_EPROTO   r->why says why. Either the head is malformed (r->head_len == 0; answer
 *               400 and close): NUL, bare CR or LF (reported as soon as seen, before the
 *               end of the head), bad request line, method not a token, target not
 *               origin-form or with SP/CTL/non-ASCII/'#', version not HTTP/1.0 or 1.1,
 *               bad field name or value, obs-fold, missing or repeated Host in 1.1,
 *               repeated Upgrade / Sec-WebSocket-Key / Sec-WebSocket-Version,
 *               Transfer-Encoding, a Content-Length not made of zeros, a bad percent
 *               escape in the path or query, ';' in the query; a WebSocket upgrade that is
 *               not a GET, or has no Sec-WebSocket-Version 13, or no valid
 *               Sec-WebSocket-Key, a subprotocol that is not a token or more than
 *               LQ_KL_MAX_WS_PROTOCOLS of them. Or only a parameter is invalid
 *               (r->head_len > 0; everything but logs/stream is filled, so the caller may
 *               authorise first and then answer 400, as kubelet does): a logs value out of
 *               the rules of lq_kl_logs_t, sinceTime longer than LQ_KL_TIME_MAX, exec or
 *               attach without input/output/error, exec without command.
 *   LQ_ENOTSUP  a method other than GET, POST, HEAD (answer 405); r->head_len > 0 and
 *               route, names, verb and sub are filled; the query is not parsed.
 *   LQ_EINVAL   r NULL, or buf NULL with len > 0. */
lq_err_t lq_kl_parse(lq_kl_req_t *r, const char *buf, size_t len);

/* Write into out[0..cap) the origin-form target of the foreign API server's request for
 * r (parsed to LQ_OK), NUL-terminated, *len its length without the NUL:
 *   LQ_KL_LOGS:   /api/v1/namespaces/{rns}/pods/{rpod}/log?container={c}
 *                 then, each only when set, &follow=true &previous=true &timestamps=true
 *                 &sinceSeconds=N &sinceTime=T &tailLines=N &limitBytes=N &stream=S
 *                 (numbers in plain decimal; sinceTime only when not empty; stream only
 *                 when not All, so a foreign API server without PodLogsQuerySplitStreams
 *                 still takes the request);
 *   LQ_KL_EXEC:   /api/v1/namespaces/{rns}/pods/{rpod}/exec?container={c}
 *                 &command=..   every command in order, decoded and percent-encoded again
 *                               with lq_http_escape_query (a value cannot add parameters)
 *                 &stdin=true &stdout=true &stderr=true &tty=true  (only the true ones)
 *   LQ_KL_ATTACH: the same with /attach and without command.
 * remote_ns and remote_pod are the remote pod's names (NUL-terminated).
 * Returns LQ_OK; LQ_ETOOBIG when the target and its NUL do not fit in cap (out then holds
 * no usable target, *len 0); LQ_EINVAL for NULL r, out or len, a route other than these
 * three, remote_ns not a DNS-1123 label or remote_pod not a DNS-1123 subdomain (NULL
 * included), or a query that no longer parses (buf changed since lq_kl_parse). */
lq_err_t lq_kl_foreign_target(const lq_kl_req_t *r, const char *remote_ns,
                              const char *remote_pod, char *out, size_t cap, size_t *len);

#endif
