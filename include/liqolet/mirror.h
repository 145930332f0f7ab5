/* liqolet: reflection of ConfigMaps and Secrets (Liqo v0.8 §1.1, §1.6, §1.7 and the
 * reflection policies of Liqo 0.9.4): home objects of offloaded namespaces are written
 * into their remote namespaces by server-side apply, one engine kind per resource
 * (src/reflect/mirror.c). The remote body comes from the streaming forge
 * (include/liqolet/forge_conf.h); objects too large for a worker's buffers go through
 * the streaming pipe (include/liqolet/pipe.h) when the board has one.
 *
 * Ownership (DESIGN.md Decision 17): a record owns the remote object whose UID it
 * created or adopted; adoption needs our two ownership labels AND the annotation
 * liqolet.io/home-uid equal to the home object's UID. Every later apply carries that UID
 * (metadata.uid: the API server refuses the write when the object was replaced), every
 * delete carries it as a precondition. A remote object of that name that is not ours is
 * never written: FailedReflection on the home object, counted in /metrics. */
#ifndef LIQOLET_MIRROR_H
#define LIQOLET_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/events.h"
#include "liqolet/forge_conf.h"
#include "liqolet/offload.h"
#include "liqolet/pipe.h"
#include "liqolet/refl.h"

/* Records per kind (objects of offloaded namespaces reflected at once). */
#ifndef LQ_MAX_CONFIGMAPS
#define LQ_MAX_CONFIGMAPS 512
#endif
#ifndef LQ_MAX_SECRETS
#define LQ_MAX_SECRETS 512
#endif
#ifndef LQ_MAX_SERVICES
#define LQ_MAX_SERVICES 256
#endif
#ifndef LQ_MAX_INGRESSES
#define LQ_MAX_INGRESSES 64
#endif
#ifndef LQ_MAX_ENDPOINTSLICES
#define LQ_MAX_ENDPOINTSLICES 512
#endif
/* Watch buffer per side: the engine only needs an event's metadata (name, uid,
 * resourceVersion are in its first bytes); larger events arrive as oversized prefixes. */
#ifndef LQ_MIRROR_WATCH_BUF
#define LQ_MIRROR_WATCH_BUF (8u * 1024u)
#endif
/* Largest remote body written from a worker's buffers; larger ones take the pipe. Half
 * of the worker's body buffer, so the object the API server answers with also fits. */
#define LQ_MIRROR_SMALL_BODY (LQ_REFL_OBJ_BUF / 2u)

/* The kinds written home -> foreign by server-side apply (order matters: the first two
 * may take the pipe). */
typedef enum lq_mirror_kind {
    LQ_MIRROR_CONFIGMAP = 0,
    LQ_MIRROR_SECRET,
    LQ_MIRROR_SERVICE,
    LQ_MIRROR_INGRESS,
    LQ_MIRROR_ENDPOINTSLICE,
    LQ_MIRROR_KINDS
} lq_mirror_kind_t;

typedef enum lq_mirror_state {
    LQ_MIRROR_PENDING = 0,
    LQ_MIRROR_REFLECTED,
    LQ_MIRROR_SKIPPED,     /* policy (skip/allow annotations) or an SA-token Secret */
    LQ_MIRROR_CONFLICT,    /* a remote object of that name is not ours */
    LQ_MIRROR_TOO_LARGE,   /* over what this board can reflect */
    LQ_MIRROR_FAILING,     /* transient errors, retried */
    LQ_MIRROR_GATED,       /* EndpointSlice written with every endpoint not ready while
                              the home cluster cannot be reached */
} lq_mirror_state_t;

typedef struct lq_mirror_rec {
    lq_rtab_hdr_t h;                        /* key: home namespace / home name */
    char home_uid[LQ_FORGE_CONF_UID_BUF];   /* of the home object (watch or GET) */
    char home_rv[LQ_FORGE_CONF_RV_BUF];     /* home version last reflected or decided */
    char remote_uid[LQ_FORGE_CONF_UID_BUF]; /* the remote object this record owns */
    char remote_rv[LQ_FORGE_CONF_RV_BUF];   /* its latest version the foreign watch showed */
    char pend_rv[LQ_FORGE_CONF_RV_BUF];     /* home version of the write in flight */
    uint64_t intent;                        /* hash of the last body applied (0 = none) */
    uint64_t pend_hash;                     /* ... of the write in flight */
    uint32_t pend_len;                      /* its length in the worker's body buffer */
    uint32_t size;                          /* bytes of the last home watch event: a
                                               larger one than a worker holds takes the
                                               pipe without a buffered GET first */
    uint8_t state;                          /* lq_mirror_state_t */
    bool failed_logged;                     /* a Warning was emitted for this trouble */
    bool disabled_logged;                   /* ReflectionDisabled emitted (SA tokens) */
    bool owned_once;                        /* a remote copy was ours in this run: a
                                               later one under the name is adopted only
                                               after a restart, never in the run (a
                                               foreign user could forge the labels and
                                               the home-uid our copy showed) */
    bool slice_ok;                          /* EndpointSlice: its own or its Service's
                                               policy says reflect */
    uint8_t policy;                         /* Service: skip/allow bits of the last pass
                                               (0 = none yet), read by its slices */
    char parent[64];                        /* EndpointSlice: its Service (service-name) */
} lq_mirror_rec_t;

typedef struct lq_mirror_stats {
    uint64_t applies, adopts, remote_deletes, skipped, noops, conflicts, too_large,
        streamed, gated;
} lq_mirror_stats_t;

typedef struct lq_mirror lq_mirror_t;

typedef struct lq_mirror_cfg {
    lq_mirror_kind_t kind;
    const char *home_id, *foreign_id;
    const char *foreign_name;              /* in Event messages */
    lq_events_t *events;                   /* optional */
    lq_pipe_t *pipe;                       /* optional: large objects (NULL: reported) */
    lq_forge_conf_policy_t policy;
    unsigned workers;                      /* 1..: workers this kind may hold at once */
    /* EndpointSlices: the virtual node (its endpoints are dropped), the home cluster name
     * (written as nodeName), the Service kind (whose decision rules its slices; may be
     * NULL). Services: the EndpointSlice kind to re-queue when a decision changes. */
    const char *vnode_name, *home_name;
    lq_mirror_t *services, *slices;
} lq_mirror_cfg_t;

struct lq_mirror {
    /* readable */
    lq_mirror_cfg_t cfg;
    lq_mirror_stats_t stats;
    bool started;                          /* passes began (offloading had settled) */
    lq_refl_kind_t kind;
    /* private */
    lq_refl_desc_t desc_;
    lq_offload_t *offload_;
    bool relist_home_;                     /* a namespace became usable: list home again */
    bool home_down_;                       /* EndpointSlices: the home cluster is not
                                              reachable (lq_mirror_home_available) */
    char foreign_sel_[320];
    char path_[2][64];                     /* watch paths */
    char hbuf_[LQ_MIRROR_WATCH_BUF];
    char fbuf_[LQ_MIRROR_WATCH_BUF];
};

/* Adds one kind to the engine over caller-owned records (cap of them, zeroed by the
 * table). LQ_OK; LQ_EINVAL (missing ids, workers 0); LQ_ETOOBIG (selector); an engine
 * error. */
lq_err_t lq_mirror_init(lq_mirror_t *m, lq_refl_t *refl, lq_offload_t *offload,
                        const lq_mirror_cfg_t *cfg, lq_mirror_rec_t *recs, size_t cap);
/* The offloading of home namespace ns changed (wire it to lq_offload_cfg_t.on_change,
 * next to the pods'): its records are re-queued, and the home side listed again so
 * objects of a newly offloaded namespace are picked up. */
void lq_mirror_namespace_changed(const char *ns, void *ctx);
/* EndpointSlices only (no effect on the other kinds): whether the home cluster can be
 * reached. Liqo gates the readiness of reflected endpoints on peering health; while it is
 * false, every pass reads our remote copy back (the home slice cannot be read) and applies
 * it with every endpoint not ready (lq_forge_eps_gate; a foreign edit is put back the same
 * way); when it turns true, every record is forged from its home slice again. Copies not
 * written yet stay unwritten until home returns. */
void lq_mirror_home_available(lq_mirror_t *m, bool available);

#endif
