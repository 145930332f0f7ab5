/* liqolet: Kubernetes Events on home pods (src/reflect/events.c): the agent's own
 * reflection results (Liqo's reasons SuccessfulReflection, FailedReflection, FailedDeletion,
 * ReflectionDisabled; source liqo-pod-reflection) and the events of the remote pods,
 * reflected onto their home pods as Liqo 0.9 does, so `kubectl describe pod` at home
 * shows why a remote pod fails. A foreign Event is evidence, not authority (DESIGN.md
 * Decision 17): it is reflected only for a remote pod whose uid the agent knows, under a
 * name derived from the Event's uid, applied without force, its text bounded and
 * attributed to the foreign cluster. Events are best effort: a bounded queue, one request in
 * flight, a new event dropped (and counted) when the queue is full. */
#ifndef LIQOLET_EVENTS_H
#define LIQOLET_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liqolet/cluster.h"
#include "liqolet/forge_pod.h"
#include "liqolet/json.h"
#include "liqolet/kreq.h"
#include "liqolet/watch.h"

#ifndef LQ_EVENTS_QUEUE
#define LQ_EVENTS_QUEUE 64u
#endif
#define LQ_EVENTS_MSG_MAX 256u
#define LQ_EVENTS_COMPONENT "liqo-pod-reflection"

/* Finds the home pod of a remote pod: remote namespace + pod name + remote pod uid ->
 * home namespace and home pod uid (copied to ns/uid). Returns true only when remote_ns is
 * a remote namespace the agent maps, the pod is in its table, and remote_uid is the uid
 * of the remote pod the agent created or adopted (Decision 17: labels and names are not
 * proof of ownership). */
typedef bool lq_events_lookup_fn(void *ctx, const char *remote_ns, size_t rl, const char *name,
                                 size_t nl, const char *remote_uid, size_t ul, char *ns,
                                 size_t ns_cap, char *uid, size_t uid_cap);

typedef struct lq_event_entry {
    bool used;
    bool reflected;                 /* a remote event: applied under its own name */
    bool warning;
    int32_t count;
    const char *kind;               /* involvedObject.kind (static string); NULL = "Pod" */
    char ns[64];
    char pod[254];
    char uid[LQ_FORGE_POD_UID_BUF];
    char name[254];                 /* reflected: <pod>.<remote event uid> */
    char reason[64];
    char message[LQ_EVENTS_MSG_MAX];
    char first[32], last[32];       /* RFC 3339 times */
    char component[64];
} lq_event_entry_t;

typedef struct lq_events_stats {
    uint64_t emitted, reflected, written, failed, dropped;
    uint32_t queued, queued_hwm;    /* entries waiting now, and the most ever */
} lq_events_stats_t;

typedef struct lq_events {
    lq_events_stats_t stats;
    /* private */
    lq_kreq_client_t *home_req_;
    lq_events_lookup_fn *lookup_;
    void *lookup_ctx_;
    const char *cluster_;           /* the foreign cluster's name, for attribution */
    uint64_t seq_;
    size_t head_, n_;
    lq_event_entry_t q_[LQ_EVENTS_QUEUE];
    lq_kreq_t req_;
    lq_conn_t conn_;
    lq_watch_t watch_;
    lq_json_doc_t doc_;
    char body_[4096];
    char wbuf_[16384];
    unsigned char arena_[65536];
} lq_events_t;

/* Binds the module; the foreign watch of pod events starts with lq_events_start.
 * lookup maps a remote pod to its home pod (NULL: no remote events are reflected);
 * foreign_name (borrowed, outlives e) attributes reflected messages. */
void lq_events_init(lq_events_t *e, lq_loop_t *loop, lq_cluster_t *foreign,
                    lq_kreq_client_t *home_req, lq_events_lookup_fn *lookup, void *lookup_ctx,
                    const char *foreign_name);

/* The trust gate and forge of a foreign Event (pure but for the clock when the event
 * carries no usable time): fills *out and returns true only when the Event is about a Pod
 * (involvedObject.kind) in the Event's own namespace, that namespace and pod map home
 * through lookup with involvedObject.uid as the remote pod uid, and the Event has a
 * well-formed uid. out->name is then "<pod>.<remote event uid>" (at most 253 characters),
 * the message is "[<foreign_name>] " + the foreign message, cut to LQ_EVENTS_MSG_MAX - 1
 * bytes on a UTF-8 boundary, and reason, component and times are bounded. */
bool lq_events_forge_remote(const lq_json_t *event, lq_events_lookup_fn *lookup, void *ctx,
                            const char *foreign_name, lq_event_entry_t *out);
lq_err_t lq_events_start(lq_events_t *e);
/* Queues an Event on home pod ns/pod (uid may be ""): type Warning when warning, else
 * Normal. message is printf-style. Never fails; a full queue drops the new event. */
void lq_events_emit(lq_events_t *e, const char *ns, const char *pod, const char *uid,
                    bool warning, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* The same on another kind of home object (kind: a static string such as "ConfigMap";
 * component: Liqo's source component, e.g. "liqo-configmap-reflection"; name is the
 * object's name). Messages carry names only, never object data. */
void lq_events_emit_on(lq_events_t *e, const char *kind, const char *component, const char *ns,
                       const char *name, const char *uid, bool warning, const char *reason,
                       const char *fmt, ...) __attribute__((format(printf, 9, 10)));

#endif
