/* liqolet: the configuration of `liqolet run` (flags, config file, --set key=value).
 *
 * One table (lq_config_table) lists every option: its flag, its dotted key (the same in
 * the config file and in --set, Helm style: networking.reflectIPs), its type, accepted
 * values, default and help text. Parsing, `liqolet run --help` (lq_config_usage), the
 * start-up log line (lq_config_render_effective) and docs/configuration.md
 * (lq_config_render_markdown, written by tools/configdoc) all come from that table.
 *
 * Precedence: defaults < config file (--config FILE, wherever it appears on the command
 * line) < flags and --set, applied in command-line order (the last one wins). A list
 * option (--node-label, --offload, ...) given on the command line replaces the list of
 * the config file at its first occurrence and appends after that; inside one file, a
 * repeated list key appends. Address lists (mgmt.listen, http.listen) are one
 * comma-separated value that replaces the previous one.
 *
 * Config file format (flat, one setting per line, see docs/configuration.md):
 *     # comment
 *     cluster.foreign.kubeconfig: /etc/liqolet/foreign.kubeconfig
 *     networking.reflectIPs = false
 *     node.labels: topology.kubernetes.io/zone=edge-1
 *     node.labels: site=warehouse          (repeated list key: appends)
 * "key: value" or "key=value" (the first ':' or '=' ends the key); blanks around key and
 * value are dropped; a value in "double" or 'single' quotes keeps its blanks and '#'.
 *
 * Everything is checked when it is set; a bad value is LQ_ECONFIG with a message that
 * names the flag or key (as the user wrote it) and the accepted values, e.g.
 *     --sharing-percentage: 120 is not in 1..100
 *     networking.internal: 'maybe' is not one of true|false
 *     unknown option '--node-nmae' (did you mean --node-name?)
 * Empty strings in the struct mean "not given: derive at start-up" (ids, names, node IP,
 * kubeconfigs); the table's default text says how.
 *
 * The module is pure except lq_config_parse_args, which reads the --config file through
 * lq_port_file_read. No allocation, no logging.
 *
 * Usage:
 *     static lq_config_t cfg;
 *     char msg[LQ_CONFIG_MSG_MAX];
 *     lq_config_init(&cfg);
 *     if (lq_config_parse_args(&cfg, argc - 2, argv + 2, msg, sizeof msg) != LQ_OK)
 *         { fprintf(stderr, "liqolet run: %s\n", msg); return 2; }
 *     if (cfg.help) { lq_config_usage(buf, sizeof buf, &len); ... }
 *     lq_config_render_effective(&cfg, line, sizeof line, &len);   -> start-up log
 */
#ifndef LIQOLET_CONFIG_H
#define LIQOLET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/config_defaults.h"
#include "liqolet/err.h"
#include "liqolet/names.h"

/* --- capacities (a board may override them in its lq_board.h) --------------------- */
#ifndef LQ_CONFIG_MAX_NODE_LABELS
#define LQ_CONFIG_MAX_NODE_LABELS 16
#endif
#ifndef LQ_CONFIG_MAX_NODE_ANNOTATIONS
#define LQ_CONFIG_MAX_NODE_ANNOTATIONS 16
#endif
/* --offload namespaces (clusters without the NamespaceOffloading CRD). */
#ifndef LQ_CONFIG_MAX_OFFLOAD
#define LQ_CONFIG_MAX_OFFLOAD 16
#endif
/* Addresses per listen option (mgmt.listen, http.listen). */
#ifndef LQ_CONFIG_MAX_LISTEN
#define LQ_CONFIG_MAX_LISTEN 4
#endif
/* Largest config file accepted (bytes); it is read into a stack buffer this big. */
#ifndef LQ_CONFIG_FILE_MAX
#define LQ_CONFIG_FILE_MAX 8192
#endif
/* Longest annotation value given on the command line or in the file. */
#ifndef LQ_CONFIG_ANNOTATION_VALUE_MAX
#define LQ_CONFIG_ANNOTATION_VALUE_MAX 256
#endif

#define LQ_CONFIG_PATH_MAX 512      /* file paths */
#define LQ_CONFIG_CONTEXT_MAX 253   /* kubeconfig context names */
#define LQ_CONFIG_SUBDOMAIN_MAX 253 /* DNS-1123 subdomain: node name */
#define LQ_CONFIG_LABEL_MAX 63      /* DNS-1123 label, label value: names, ids, namespaces */
#define LQ_CONFIG_QNAME_MAX 317     /* qualified name: 253-byte prefix '/' 63-byte name */
#define LQ_CONFIG_VALUE_MAX LQ_CONFIG_ANNOTATION_VALUE_MAX
#define LQ_CONFIG_IP_MAX LQ_NAMES_IP_MAX /* textual IPv6 (with embedded IPv4) */
#define LQ_CONFIG_MSG_MAX 384       /* error messages: a buffer this big holds any of them */

_Static_assert(LQ_CONFIG_VALUE_MAX >= LQ_CONFIG_LABEL_MAX, "annotation values shorter than labels");
_Static_assert(LQ_CONFIG_MAX_OFFLOAD <= LQ_MAX_NAMESPACES, "more --offload than namespaces");
_Static_assert(LQ_CONFIG_MAX_LISTEN >= 2, "the default mgmt.listen has two addresses");

/* Option types. */
typedef enum lq_config_type {
    LQ_CONFIG_T_STRING,   /* free text, or checked by `check` */
    LQ_CONFIG_T_BOOL,     /* true|false */
    LQ_CONFIG_T_INT,      /* decimal integer in [min, max] */
    LQ_CONFIG_T_ENUM,     /* one of `values` ("a|b|c"); stored as its index */
    LQ_CONFIG_T_LIST,     /* repeated: one string item per occurrence */
    LQ_CONFIG_T_KV_LIST,  /* repeated: one key=value item per occurrence */
    LQ_CONFIG_T_ADDRS,    /* comma-separated host:port list, replaced as a whole */
    LQ_CONFIG_T_FILE,     /* --config: read before the other options */
    LQ_CONFIG_T_SET       /* --set key=value */
} lq_config_type_t;

/* Syntax checks for strings and list items. */
typedef enum lq_config_check {
    LQ_CONFIG_C_NONE,
    LQ_CONFIG_C_DNS_LABEL,     /* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63 */
    LQ_CONFIG_C_DNS_SUBDOMAIN, /* dot-separated labels, <= 253 */
    LQ_CONFIG_C_LABEL_VALUE,   /* Kubernetes label value, non-empty: <= 63, [A-Za-z0-9._-] */
    LQ_CONFIG_C_IP,            /* IPv4 or IPv6 literal, no brackets */
    LQ_CONFIG_C_LABEL_KV,      /* qualified-name=label-value */
    LQ_CONFIG_C_ANNOTATION_KV, /* qualified-name=any text */
    LQ_CONFIG_C_OFFLOAD_NS     /* NS or NS=REMOTE, both DNS-1123 labels */
} lq_config_check_t;

/* One row of the option table. Strings are static. */
typedef struct lq_config_opt {
    const char *flag;     /* "--node-name", or NULL for keys set only by file / --set */
    const char *key;      /* "node.name", or NULL for --config and --set */
    const char *metavar;  /* "NAME" in the help text */
    lq_config_type_t type;
    lq_config_check_t check;
    const char *values;   /* ENUM: "a|b|c" */
    long min, max;        /* INT range */
    bool allow_empty;     /* STRING / ADDRS: "" is accepted (= derive / off) */
    const char *def;      /* default in words, for --help and the docs */
    const char *help;     /* one sentence or three; no trailing newline */
    size_t off;           /* offset of the field in lq_config_t */
    size_t size;          /* string field or list element size */
    size_t off_n;         /* lists: offset of the size_t count */
    size_t max_n;         /* lists: capacity */
} lq_config_opt_t;

typedef struct lq_config_kv {
    char key[LQ_CONFIG_QNAME_MAX + 1];
    char value[LQ_CONFIG_VALUE_MAX + 1];
} lq_config_kv_t;

typedef struct lq_config_addr {
    char host[LQ_CONFIG_IP_MAX + 1]; /* IP literal without brackets */
    uint16_t port;                   /* 0 = any free port (tests) */
} lq_config_addr_t;

typedef struct lq_config_cluster {
    char kubeconfig[LQ_CONFIG_PATH_MAX + 1]; /* "" = home: in-cluster; foreign: $KUBECONFIG */
    char context[LQ_CONFIG_CONTEXT_MAX + 1]; /* "" = the file's current context */
    char id[LQ_CONFIG_LABEL_MAX + 1];        /* "" = the kube-system namespace UID */
    char name[LQ_CONFIG_LABEL_MAX + 1];      /* "" = derived from the id */
} lq_config_cluster_t;

/* The parsed configuration. Owned by the caller (static: it is about 20 KiB). */
typedef struct lq_config {
    lq_config_cluster_t home, foreign;
    char node_name[LQ_CONFIG_SUBDOMAIN_MAX + 1]; /* "" = liqo-<foreign name> */
    char node_ip[LQ_CONFIG_IP_MAX + 1];          /* "" = local address of the home connection */
    lq_config_kv_t node_labels[LQ_CONFIG_MAX_NODE_LABELS];
    size_t n_node_labels;
    lq_config_kv_t node_annotations[LQ_CONFIG_MAX_NODE_ANNOTATIONS];
    size_t n_node_annotations;
    long sharing_percentage;                     /* 1..100 */
    long max_pods;                               /* 1..LQ_MAX_PODS */
    long kubelet_port;                           /* 0 = no kubelet API */
    char kubelet_cert_dir[LQ_CONFIG_PATH_MAX + 1]; /* "" = in memory only */
    unsigned kubelet_certificate;                /* 0 SelfSigned, 1 CSR */
    char offload[LQ_CONFIG_MAX_OFFLOAD][2 * LQ_CONFIG_LABEL_MAX + 2]; /* NS or NS=REMOTE */
    unsigned offload_mapping;                    /* 0 DefaultName, 1 EnforceSameName */
    unsigned pod_security;                       /* lq_forge_offload_psa_t: 0 none .. 3 restricted */
    size_t n_offload;
    char namespace[LQ_CONFIG_LABEL_MAX + 1];     /* the agent's own namespace */
    unsigned log_level;                          /* an lq_log_level_t (same order) */
    unsigned log_format;                         /* an lq_log_format_t */
    bool networking_internal;                    /* always false for now; set by either
                                                    networking.internal (v0.8) or
                                                    networking.enabled (v1): one switch */
    unsigned compat;                             /* 0 v0.8, 1 v1 (lq_liqo_compat_t) */
    bool networking_reflect_ips;
    bool allow_insecure_tls;     /* tls.allowInsecure: accept insecure-skip-tls-verify */
    long reflection_configmap_workers;           /* 0 = off */
    unsigned reflection_configmap_type;          /* 0 DenyList, 1 AllowList */
    long reflection_secret_workers;
    unsigned reflection_secret_type;
    long reflection_service_workers;
    unsigned reflection_service_type;
    long reflection_endpointslice_workers;
    unsigned reflection_endpointslice_type;
    long reflection_ingress_workers;
    unsigned reflection_ingress_type;
    lq_config_addr_t mgmt_listen[LQ_CONFIG_MAX_LISTEN];
    size_t n_mgmt_listen;
    char mgmt_psk_file[LQ_CONFIG_PATH_MAX + 1];     /* "" = no DTLS (loopback only) */
    char mgmt_psk_identity[LQ_CONFIG_LABEL_MAX + 1]; /* "" = any identity */
    lq_config_addr_t http_listen[LQ_CONFIG_MAX_LISTEN];
    size_t n_http_listen;                        /* 0 = off */
    char config_file[LQ_CONFIG_PATH_MAX + 1];    /* "" = none */
    bool help;                                   /* -h/--help seen: parsing stopped there */
    /* private: per option, the layer that last set it (0 defaults, 1 file, 2 command line) */
    unsigned char layer_[48];
} lq_config_t;

/* The option table; *n receives its length (may be NULL). Never NULL. */
const lq_config_opt_t *lq_config_table(size_t *n);

/* Fills cfg with the defaults. Cannot fail. */
void lq_config_init(lq_config_t *cfg);

/* Parses the arguments of `liqolet run` (argv[0] is the first option, not the command).
 * First the --config file, if any, is read (lq_port_file_read) and applied; then every
 * flag and --set in order. "--flag value" and "--flag=value" are both accepted. -h or
 * --help anywhere sets cfg->help and nothing else is parsed (returns LQ_OK). argv
 * (argc non-NULL strings) and cfg are the caller's; argv is only borrowed during the
 * call. msg (may be NULL when msg_cap is 0) receives a one-line explanation on failure;
 * on failure cfg may hold the values applied before the bad one.
 * Returns LQ_OK, LQ_ECONFIG (bad option, key or value; unreadable or malformed file;
 * a list over its capacity) or LQ_EINVAL (NULL cfg/argv). */
lq_err_t lq_config_parse_args(lq_config_t *cfg, int argc, char *const argv[], char *msg,
                              size_t msg_cap);

/* Applies the text of a config file (the format above; not NUL-terminated; len bytes).
 * origin names it in messages ("FILE:LINE: key: ..."; NULL: "config"; a name over 100
 * bytes is shown by its last 100). Values in messages are cut at 40 bytes with "...";
 * a message longer than msg_cap is cut, never overrun. Pure: this is what
 * lq_config_parse_args does with the file it read.
 * Returns LQ_OK, LQ_ECONFIG or LQ_EINVAL. */
lq_err_t lq_config_apply_text(lq_config_t *cfg, const char *text, size_t len,
                              const char *origin, char *msg, size_t msg_cap);

/* Sets one dotted key as `--set key=value` does (command-line layer). Returns LQ_OK,
 * LQ_ECONFIG (unknown key, bad value, list full) or LQ_EINVAL. */
lq_err_t lq_config_set(lq_config_t *cfg, const char *key, const char *value, char *msg,
                       size_t msg_cap);

/* Writes the effective configuration as one line of space-separated key=value pairs in
 * table order (values with blanks, quotes or '=' in double quotes; unset derived values
 * as "auto"; lists comma-joined; an empty list as ""). The configuration holds no
 * secret (kubeconfig contents are never part of it). NUL-terminated; *len excludes the
 * NUL. Returns LQ_OK, LQ_ETOOBIG (cap too small; buf then holds "") or LQ_EINVAL. */
lq_err_t lq_config_render_effective(const lq_config_t *cfg, char *buf, size_t cap,
                                    size_t *len);

/* Writes the `liqolet run --help` text, generated from the table (ends with "\n").
 * Returns LQ_OK, LQ_ETOOBIG or LQ_EINVAL, as above. 16 KiB is enough. */
lq_err_t lq_config_usage(char *buf, size_t cap, size_t *len);

/* Writes the Markdown option table of docs/configuration.md (between its
 * configdoc markers). Returns LQ_OK, LQ_ETOOBIG or LQ_EINVAL, as above. 16 KiB is
 * enough. */
lq_err_t lq_config_render_markdown(char *buf, size_t cap, size_t *len);

/* Levenshtein distance of two strings, or a large number when either is over 64 bytes
 * (for did-you-mean suggestions; exposed for tests). */
unsigned lq_config_edit_distance(const char *a, const char *b);

#endif
