/* liqolet: the one error enum of the agent.
 *
 * Every fallible function returns lq_err_t; success is LQ_OK (0). LQ_AGAIN is not an
 * error: it means "would block / need more input, call again later". The names and the
 * strings come from one list (LQ_ERR_LIST) so they cannot drift apart.
 * Foreign codes (mbedTLS ints, HTTP status, libcoap results) are kept as fields in the
 * owning context for logs, never folded into this enum arithmetically. */
#ifndef LIQOLET_ERR_H
#define LIQOLET_ERR_H

/*        name           text */
#define LQ_ERR_LIST(X)                                                             \
    X(LQ_OK,          "ok")                                                        \
    X(LQ_AGAIN,       "would block; call again")                                   \
    X(LQ_EINVAL,      "invalid argument")                                          \
    X(LQ_ENOSPC,      "buffer, table or pool is full")                             \
    X(LQ_ETOOBIG,     "item exceeds its fixed limit")                              \
    X(LQ_EPROTO,      "peer violated the protocol")                                \
    X(LQ_ETLS,        "TLS failure")                                               \
    X(LQ_EIO,         "I/O error")                                                 \
    X(LQ_ECLOSED,     "connection closed by peer")                                 \
    X(LQ_ETIMEDOUT,   "timed out")                                                 \
    X(LQ_ERESOLVE,    "host name could not be resolved")                           \
    X(LQ_ECONNREFUSED,"connection refused")                                        \
    X(LQ_EHTTP,       "unexpected HTTP status")                                    \
    X(LQ_EGONE,       "resource version too old (410 Gone); relist")               \
    X(LQ_ENOTFOUND,   "not found")                                                 \
    X(LQ_ECONFLICT,   "conflict")                                                  \
    X(LQ_EAUTH,       "authentication failed")                                     \
    X(LQ_EFORBIDDEN,  "permission denied")                                         \
    X(LQ_ECONFIG,     "invalid configuration")                                     \
    X(LQ_ENOTSUP,     "not supported")                                             \
    X(LQ_ENOMEM,      "start-up pool exhausted")                                   \
    X(LQ_ESTATE,      "operation not valid in the current state")

typedef enum lq_err {
#define LQ_ERR_ENUM_(name, text) name,
    LQ_ERR_LIST(LQ_ERR_ENUM_)
#undef LQ_ERR_ENUM_
    LQ_ERR_COUNT_
} lq_err_t;

/* Human text for an error code; never NULL (unknown codes give "unknown error"). */
const char *lq_err_str(lq_err_t err);
/* The symbolic name ("LQ_ETOOBIG"); never NULL. */
const char *lq_err_name(lq_err_t err);

#endif
