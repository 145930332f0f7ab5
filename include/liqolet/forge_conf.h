/* liqolet: the ConfigMap and Secret forge (pure module; liqo-v0.8-behaviour.md §1.1, §1.6,
 * §1.7, and the allow/deny policies of Liqo >= 0.9.4, §9). No OS header, no I/O, no heap,
 * no cJSON: a byte-level streaming JSON transform with a fixed state (about 800 bytes).
 *
 * It turns a home ConfigMap or Secret (the bare JSON object as kube-apiserver's GET or a
 * watch event's "object" gives it, fed in pieces of any size, up to the API server's
 * 1.5 MiB) into the body of a server-side apply for the foreign cluster, written through
 * a callback as it goes:
 *
 *   {"apiVersion":"v1","kind":"ConfigMap"|"Secret",
 *    "metadata":{"name":<remote_name>,"namespace":<remote_ns>,
 *                "labels":{<home labels>,"virtualkubelet.liqo.io/origin":<home_id>,
 *                          "virtualkubelet.liqo.io/destination":<foreign_id>},
 *                "annotations":{<home annotations>,"liqolet.io/home-uid":<home_uid>}},
 *    <copied members>}
 *
 * compact (no whitespace added). Home labels and annotations are copied in input order,
 * key and value bytes exactly as in the input, except the labels origin / destination and
 * the annotation liqolet.io/home-uid, which are dropped (ours replace them). Copied
 * top-level members, in input order, their value bytes exactly as in the input:
 * ConfigMap "immutable", "data", "binaryData"; Secret "immutable", "data", "type". Every
 * other top-level member (kind, apiVersion, stringData, status, unknown ones) and every
 * other metadata member (uid, resourceVersion, ownerReferences, finalizers,
 * managedFields, ...) is dropped; uid, resourceVersion and deletionTimestamp feed `facts`.
 * Parameter strings go through a JSON string escaper.
 *
 * Order. The output is written in the order of the input, so that the state stays fixed:
 * the metadata object where the home "metadata" member stands (after the copied members
 * that precede it, if any), labels and annotations where the home ones stand in it; a
 * labels or annotations object the home metadata lacks is written at the end of metadata,
 * a missing metadata at the end of the object. kube-apiserver writes TypeMeta, ObjectMeta
 * (labels before annotations), then immutable/data/binaryData or immutable/data/type, so
 * for its output the order is exactly the one above. Any other order gives the same
 * object with its members in another order (and another hash).
 *
 * JSON null counts as absent (as everywhere in Kubernetes): a null metadata, labels,
 * annotations, uid, resourceVersion, deletionTimestamp or copied member is not written
 * (nor its key). The first occurrence of a duplicated member (metadata, labels,
 * annotations, a copied member) is used, later ones are checked as JSON and dropped.
 * Member names are compared after decoding their JSON escapes ("d\u0061ta" is "data").
 *
 * The input is checked as strict JSON (RFC 8259: string escapes and surrogate pairs,
 * number grammar, literals, no raw control characters in strings), so what is copied is
 * JSON; the output of an LQ_OK run always parses. LQ_EPROTO for anything else:
 *   - not JSON, or the top level not an object; bytes other than whitespace after its
 *     closing brace; nesting deeper than LQ_FORGE_CONF_DEPTH_MAX; an unfinished object
 *     at _end (an empty input included);
 *   - metadata, labels, annotations, data, binaryData not objects; label, annotation,
 *     data and binaryData values not strings; immutable not a boolean; a Secret's type,
 *     metadata.uid or metadata.resourceVersion not a string;
 *   - uid longer than LQ_FORGE_CONF_UID_BUF - 1 bytes or resourceVersion longer than
 *     LQ_FORGE_CONF_RV_BUF - 1 bytes (kube-apiserver writes 36 and at most 20), or
 *     either, or the type, holding U+0000.
 * Errors are sticky: after one, every later call returns it, and the output written so far
 * is to be thrown away. Bytes are not checked for valid UTF-8 (passed through as they are).
 *
 * Usage (streamed):
 *     lq_forge_conf_t f;
 *     lq_forge_conf_begin(&f, &params, sink, sink_ctx);
 *     for each piece: if ((err = lq_forge_conf_feed(&f, p, n)) != LQ_OK) break;
 *         (once f.meta_done, f.facts says whether the object is wanted at all)
 *     if (!err) err = lq_forge_conf_end(&f);   // f.facts, f.hash, f.out final
 * With out NULL the same run only counts and hashes the body (change detection without a
 * buffer, Decision 4).
 */
#ifndef LIQOLET_FORGE_CONF_H
#define LIQOLET_FORGE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/err.h"

#define LQ_FORGE_CONF_ANN_HOME_UID "liqolet.io/home-uid"
#define LQ_FORGE_CONF_ANN_SKIP     "liqo.io/skip-reflection"
#define LQ_FORGE_CONF_ANN_ALLOW    "liqo.io/allow-reflection"
#define LQ_FORGE_CONF_SA_TOKEN     "kubernetes.io/service-account-token"
#define LQ_FORGE_CONF_TYPE_MAX     128u /* Secret type kept (incl. NUL); longer: type_long */
#define LQ_FORGE_CONF_UID_BUF      64u
#define LQ_FORGE_CONF_RV_BUF       32u  /* == LQ_RTAB_RV_BUF */
#define LQ_FORGE_CONF_DEPTH_MAX    64u  /* containers open at once, the top object included */
/* Raw (still escaped) bytes of a label or annotation key held until it is known whether it
 * is one we drop: a key whose escaped form is longer cannot decode to any name this module
 * looks for (each decoded character takes at most 6 escaped bytes; the longest name has
 * 34), so it is written out as it goes. */
#define LQ_FORGE_CONF_KEY_RAW      320u
/* Decoded bytes of a member name kept for comparison (longer names match none of ours). */
#define LQ_FORGE_CONF_KEY_DEC      40u

/* The home kube-root-ca.crt ConfigMap and its remote name (§1.6). */
#define LQ_FORGE_CONF_ROOT_CA          "kube-root-ca.crt"
#define LQ_FORGE_CONF_ROOT_CA_ID_CHARS 5u /* characters of the home cluster id appended */
/* A buffer that holds "kube-root-ca.crt." + 5 characters + NUL. */
#define LQ_FORGE_CONF_ROOT_CA_BUF (sizeof LQ_FORGE_CONF_ROOT_CA + 1u + LQ_FORGE_CONF_ROOT_CA_ID_CHARS)

typedef enum lq_forge_conf_kind {
    LQ_FORGE_CONF_CONFIGMAP = 0,
    LQ_FORGE_CONF_SECRET = 1
} lq_forge_conf_kind_t;

typedef enum lq_forge_conf_policy {
    LQ_FORGE_CONF_DENYLIST = 0,
    LQ_FORGE_CONF_ALLOWLIST = 1
} lq_forge_conf_policy_t;

/* Receives the next n > 0 output bytes (p valid only during the call; it may point into
 * the caller's input). Anything but LQ_OK stops the transform and is returned as is. */
typedef lq_err_t lq_forge_conf_out_fn(void *ctx, const char *p, size_t n);

typedef struct lq_forge_conf_params {
    lq_forge_conf_kind_t kind;
    const char *remote_name, *remote_ns;   /* written as metadata.name / metadata.namespace */
    const char *home_id, *foreign_id;      /* ownership label values */
    const char *home_uid;                  /* written as annotation liqolet.io/home-uid */
    const char *remote_uid;                /* optional (NULL or ""): written as metadata.uid,
                                              a precondition (the API server refuses the
                                              apply when the object has another UID); not
                                              part of `hash` */
} lq_forge_conf_params_t;                  /* every string required, non-empty, NUL-terminated */

typedef struct lq_forge_conf_facts {       /* what the home object said */
    char uid[LQ_FORGE_CONF_UID_BUF];       /* metadata.uid, "" absent */
    char rv[LQ_FORGE_CONF_RV_BUF];         /* metadata.resourceVersion, "" absent */
    char type[LQ_FORGE_CONF_TYPE_MAX];     /* top-level "type" (Secrets only), "" absent */
    bool type_long;                        /* type did not fit (then type is "") */
    bool skip, skip_false;                 /* annotation liqo.io/skip-reflection present; its
                                              value is exactly "false" */
    bool allow, allow_false;               /* annotation liqo.io/allow-reflection present;
                                              value exactly "false" */
    bool deleting;                         /* metadata.deletionTimestamp present and not null */
} lq_forge_conf_facts_t;                   /* a duplicated annotation: the last one counts */

typedef struct lq_forge_conf {
    lq_forge_conf_facts_t facts;           /* readable; complete after a successful _end */
    bool meta_done;                        /* readable: the home "metadata" object has ended
                                              (facts from metadata final), or the whole object
                                              has (it had none) */
    uint64_t hash;                         /* readable: FNV-1a 64 over every output byte so far */
    uint64_t in, out;                      /* readable: bytes fed / written */

    /* private: read none of these */
    const lq_forge_conf_params_t *p_;
    lq_forge_conf_out_fn *fn_;
    void *ctx_;
    const char *in_;                       /* the piece being fed (during _feed only) */
    size_t sps_;                           /* where the copied span starts in it */
    lq_err_t err_;
    uint64_t arr_;                         /* bit d-1 set: container at depth d is an array */
    uint32_t acc_;                         /* \u escape: code unit being read */
    uint32_t hi_;                          /* high surrogate waiting for its low half */
    uint16_t raw_len_;
    uint8_t dec_len_;
    uint8_t depth_;                        /* containers open */
    uint8_t span_d_;                       /* depth at which the copied value started */
    uint8_t st_;                           /* lexer state */
    uint8_t nst_;                          /* number sub-state / literal position / hex count */
    uint8_t lit_;                          /* which literal */
    uint8_t cap_;                          /* what the current string is captured into */
    uint8_t cap_len_;                      /* bytes captured into a fact */
    uint8_t key_;                          /* decoded name of the pending member */
    uint8_t top_;                          /* role of the current top-level member's value */
    uint8_t meta_;                         /* role of the current metadata member's value */
    uint8_t ent_;                          /* current label/annotation entry: kept, special */
    uint8_t done_;                         /* bits: metadata, labels, annotations, copied... */
    bool str_key_;                         /* the string being read is a member name */
    bool raw_long_, dec_long_;
    bool span_;                            /* input bytes are being copied to the output */
    bool first_;                           /* no entry written yet in labels/annotations */
    bool false_ok_;                        /* captured value still matches "false" */
    bool ended_;
    char raw_[LQ_FORGE_CONF_KEY_RAW];
    char dec_[LQ_FORGE_CONF_KEY_DEC];
} lq_forge_conf_t;

/* Starts a transform. p is borrowed until _end; out NULL = count and hash only. A NULL f
 * does nothing; a NULL or invalid p (a string NULL or empty, an unknown kind) makes every
 * later call return LQ_EINVAL. Cannot fail otherwise; writes nothing yet. */
void lq_forge_conf_begin(lq_forge_conf_t *f, const lq_forge_conf_params_t *p,
                         lq_forge_conf_out_fn *out, void *ctx);

/* Feeds in[0..n) (borrowed for the call; n may be 0; any split of the input gives the same
 * output, calls of out aside). Returns LQ_OK; LQ_EPROTO (see the file comment); the out
 * callback's error; LQ_EINVAL f NULL, in NULL with n > 0, or bad params (all sticky);
 * LQ_ESTATE after a successful _end (not sticky). */
lq_err_t lq_forge_conf_feed(lq_forge_conf_t *f, const char *in, size_t n);

/* Ends the input. Returns LQ_OK when a whole object was read (facts, hash, out final);
 * LQ_EPROTO when it is unfinished; the sticky error of an earlier call. Idempotent. */
lq_err_t lq_forge_conf_end(lq_forge_conf_t *f);

/* One-shot: in[0..n) -> out[0..cap) (not NUL-terminated), *len its length. LQ_ETOOBIG when
 * the output does not fit (nothing useful in out then). facts and hash may be NULL (set
 * only on LQ_OK). Other returns as _feed/_end; LQ_EINVAL p or len NULL, out NULL with
 * cap > 0. */
lq_err_t lq_forge_conf_build(const lq_forge_conf_params_t *p, const char *in, size_t n,
                             char *out, size_t cap, size_t *len, lq_forge_conf_facts_t *facts,
                             uint64_t *hash);

/* Remote name (§1.6) into out[0..cap) with a NUL: a ConfigMap named exactly
 * "kube-root-ca.crt" -> "kube-root-ca.crt." + the first 5 characters of home_id (all of it
 * if shorter); any other name unchanged. Returns LQ_OK; LQ_ETOOBIG cap too small (out "");
 * LQ_EINVAL NULL out, cap 0, name NULL or empty or holding a NUL within len, home_id NULL
 * or empty, unknown kind. (lq_forge_pod_root_ca_name is this for the root CA.) */
lq_err_t lq_forge_conf_remote_name(lq_forge_conf_kind_t kind, const char *name, size_t len,
                                   const char *home_id, char *out, size_t cap);

/* Inverse, for foreign watch events: remote name rname[0..rlen) -> home name. The renamed
 * root CA (a ConfigMap "kube-root-ca.crt." + the first 5 characters of home_id) maps to
 * "kube-root-ca.crt"; a remote ConfigMap named exactly "kube-root-ca.crt" (the foreign
 * cluster's own) -> false; others unchanged. *name is a view: a static string or rname.
 * False also for NULL arguments, rlen 0, home_id empty or an unknown kind.
 * (A home ConfigMap literally named like the renamed root CA cannot be told apart from it;
 * Liqo has the same ambiguity.) */
bool lq_forge_conf_home_name(lq_forge_conf_kind_t kind, const char *rname, size_t rlen,
                             const char *home_id, const char **name, size_t *len);

/* Liqo >= 0.9.4 policy: DENYLIST reflects unless skip is present with a value other than
 * "false"; ALLOWLIST reflects only when allow is present with a value other than "false".
 * False for NULL f or an unknown policy. */
bool lq_forge_conf_wanted(const lq_forge_conf_facts_t *f, lq_forge_conf_policy_t pol);

#endif
