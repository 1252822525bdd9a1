/*
 * group.h -- the consumer group coordinator's state machine (Kafka's
 * classic GroupCoordinator: JoinGroup / SyncGroup / Heartbeat /
 * LeaveGroup, DESIGN.md section 9, issue #5), free of sockets, timers and
 * ZooKeeper so that it can be driven by a fake clock in unit tests and by
 * brookd's loop in the broker.
 *
 * A manager holds the groups this broker coordinates, keyed by group id.
 * Every input is a call carrying the request's fields and `now_ms` (a
 * monotonic millisecond clock of the caller's choice).  JoinGroup and
 * SyncGroup answers may be held -- until every member has rejoined (or the
 * rebalance timeout passes), until the leader sends the assignment -- so
 * their responses go through the callbacks of bk_grp_config, with the
 * caller's per-request context.  The other calls answer at once through
 * their return value / out-parameters.
 *
 * Group states and transitions are Kafka's:
 *
 *   Empty --join--> PreparingRebalance --all joined / rebalance timeout-->
 *   CompletingRebalance --leader's SyncGroup--> Stable
 *   (any member change, or the leader / a changed member rejoining, while
 *    CompletingRebalance or Stable --> PreparingRebalance)
 *   PreparingRebalance with no member left at completion --> Empty
 *
 * "Dead" is what DescribeGroups reports for a group this manager does not
 * hold; a group that is unloaded or deleted is freed at once, so no group
 * here is ever Dead.
 *
 * Timers: the caller asks bk_grp_next_deadline() after each call and
 * calls bk_grp_tick(now) once that time has come (a loop timer).  Each
 * input call also first runs the due timers of the group it touches, so
 * the answer reflects the state "as of now_ms" even if the tick is late.
 * Timers are: a member's session timeout (no heartbeat), the rebalance
 * timeout (members that do not rejoin are removed), the delayed initial
 * rebalance of an empty group (group.initial.rebalance.delay.ms), the
 * sync timeout (members that do not send SyncGroup within the rebalance
 * timeout after the join phase are removed, Kafka 3.2+), the 5-minute
 * limit on a new member's held JoinGroup, and a MEMBER_ID_REQUIRED
 * member's session timeout.
 *
 * Choices (differences from Kafka are deliberate and few):
 *  - Member ids are "<client_id>-<uuid v4>".  MEMBER_ID_REQUIRED (KIP-394,
 *    JoinGroup v4+) is used when the request says require_known_member_id;
 *    brookd sets it from the request version / always for libbrook.
 *  - Static membership (group.instance.id, KIP-345) is not supported:
 *    group_instance_id is ignored and such members are dynamic.
 *  - A member that sends a second JoinGroup (or SyncGroup) while its first
 *    is held: the first is answered REBALANCE_IN_PROGRESS (Kafka drops the
 *    first callback silently); so every request is answered exactly once.
 *  - Heartbeats during CompletingRebalance answer NONE (Kafka 2.5+).
 *  - Group metadata is not persisted (offsets live in ZooKeeper): a group
 *    starts afresh, generation 0, on the broker that gains coordination;
 *    old members get UNKNOWN_MEMBER_ID and rejoin.
 *
 * Threading: one thread (brookd's loop thread) owns a manager.  Callbacks
 * run inside bk_grp_* calls and must not call back into the manager
 * (asserted; bk_grp_cancel excepted); they serialize the response and
 * return.
 */
#ifndef BK_GROUP_H
#define BK_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bk_grp_mgr bk_grp_mgr;

typedef enum bk_grp_state {
    BK_GRP_EMPTY = 0,
    BK_GRP_PREPARING_REBALANCE,
    BK_GRP_COMPLETING_REBALANCE,
    BK_GRP_STABLE,
    BK_GRP_DEAD,
} bk_grp_state;

/* Kafka's name of a state: "Empty", "PreparingRebalance",
 * "CompletingRebalance", "Stable", "Dead".  Static. */
const char *bk_grp_state_name(bk_grp_state s);

/* ---- JoinGroup ---------------------------------------------------- */

typedef struct bk_grp_protocol {
    const char *name; /* assignor, e.g. "range" */
    const uint8_t *metadata;
    size_t metadata_len;
} bk_grp_protocol;

typedef struct bk_grp_join_req {
    const char *group_id;
    const char *member_id; /* "" or NULL: a new member */
    const char *client_id; /* from the request header */
    const char *client_host;
    const char *protocol_type; /* "consumer" */
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;     /* <= 0: the session timeout (v0) */
    const bk_grp_protocol *protocols; /* in the member's preference order */
    size_t n_protocols;
    bool require_known_member_id; /* JoinGroup v4+: MEMBER_ID_REQUIRED */
} bk_grp_join_req;

typedef struct bk_grp_join_member {
    const char *member_id;
    const uint8_t *metadata; /* for the group's chosen protocol */
    size_t metadata_len;
} bk_grp_join_member;

/* Everything points into the manager and is valid during the callback
 * only.  On an error: generation -1, empty strings, no members. */
typedef struct bk_grp_join_resp {
    int32_t error; /* BK_ERR_* */
    int32_t generation_id;
    const char *protocol_type;
    const char *protocol_name;
    const char *leader_id;
    const char *member_id; /* the caller's (new id for a new member) */
    const bk_grp_join_member *members; /* leader only, else n_members 0 */
    size_t n_members;
} bk_grp_join_resp;

/* ---- SyncGroup ---------------------------------------------------- */

typedef struct bk_grp_assignment {
    const char *member_id;
    const uint8_t *data;
    size_t len;
} bk_grp_assignment;

typedef struct bk_grp_sync_req {
    const char *group_id;
    const char *member_id;
    int32_t generation_id;
    const char *protocol_type;            /* v5+; NULL or "": not checked */
    const char *protocol_name;            /* v5+; NULL or "": not checked */
    const bk_grp_assignment *assignments; /* the leader's; else none */
    size_t n_assignments;
} bk_grp_sync_req;

/* Valid during the callback only. */
typedef struct bk_grp_sync_resp {
    int32_t error;
    const char *protocol_type;
    const char *protocol_name;
    const uint8_t *assignment; /* the caller's */
    size_t assignment_len;
} bk_grp_sync_resp;

/* ---- manager ------------------------------------------------------ */

typedef void bk_grp_join_cb(void *req_ctx, const bk_grp_join_resp *resp);
typedef void bk_grp_sync_cb(void *req_ctx, const bk_grp_sync_resp *resp);

typedef struct bk_grp_config {
    int32_t min_session_timeout_ms; /* group.min.session.timeout.ms 6000 */
    int32_t max_session_timeout_ms; /* group.max.session.timeout.ms 1800000 */
    int32_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms
                                           3000 */
    int32_t max_size;                   /* group.max.size; 0: unlimited */
    int32_t new_member_join_timeout_ms; /* Kafka's fixed 300000 */
    int64_t empty_group_ttl_ms;         /* an Empty group (no member, no pending
                                           id) is forgotten this long after its
                                           last request; 0: never.  600000 */
    uint64_t seed;           /* member id randomness; 0: from the clocks */
    bk_grp_join_cb *on_join; /* required */
    bk_grp_sync_cb *on_sync; /* required */
} bk_grp_config;

/* Kafka's defaults; callbacks NULL (set them). */
void bk_grp_config_default(bk_grp_config *cfg);

/* A new manager; *out owned by the caller (bk_grp_free).  0, -BK_EINVAL
 * (missing callback, bad bounds), -BK_ENOMEM. */
int bk_grp_new(const bk_grp_config *cfg, bk_grp_mgr **out);
/* Answers every held request NOT_COORDINATOR, then frees everything. */
void bk_grp_free(bk_grp_mgr *m);

/* JoinGroup.  The response always comes through cfg.on_join(req_ctx, ..)
 * exactly once: during this call (returns 0) or later, from a later call
 * on the manager (returns BK_AGAIN: the request is held; keep req_ctx
 * alive).  Errors as Kafka: INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT,
 * UNKNOWN_MEMBER_ID, INCONSISTENT_GROUP_PROTOCOL, GROUP_MAX_SIZE_REACHED,
 * MEMBER_ID_REQUIRED, REBALANCE_IN_PROGRESS (superseded), NOT_COORDINATOR
 * (unloaded while held), UNKNOWN (-1, out of memory).  Request fields
 * are copied; nothing of req is kept. */
int bk_grp_join(bk_grp_mgr *m, const bk_grp_join_req *req, void *req_ctx,
                int64_t now_ms);

/* SyncGroup; answered through cfg.on_sync exactly once, like
 * bk_grp_join (0: answered now, BK_AGAIN: held until the leader's
 * SyncGroup, a rebalance (REBALANCE_IN_PROGRESS) or an unload).  The
 * leader's assignments are copied; members it omits get an empty one. */
int bk_grp_sync(bk_grp_mgr *m, const bk_grp_sync_req *req, void *req_ctx,
                int64_t now_ms);

/* Heartbeat: the BK_ERR_* to answer (NONE, REBALANCE_IN_PROGRESS,
 * ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, INVALID_GROUP_ID). */
int32_t bk_grp_heartbeat(bk_grp_mgr *m, const char *group_id,
                         const char *member_id, int32_t generation_id,
                         int64_t now_ms);

/* LeaveGroup of member_ids[0..n) (v3+ batch; v0-2: n = 1 and the
 * member's error is the top-level one).  member_errors[i] gets each
 * member's BK_ERR_*; returns the top-level error (NONE or
 * INVALID_GROUP_ID).  Held JoinGroups of leaving members are answered
 * UNKNOWN_MEMBER_ID. */
int32_t bk_grp_leave(bk_grp_mgr *m, const char *group_id,
                     const char *const *member_ids, size_t n,
                     int32_t *member_errors, int64_t now_ms);

/* Whether an OffsetCommit from (member_id, generation_id) may be stored:
 * NONE, or ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID / REBALANCE_IN_PROGRESS
 * / INVALID_GROUP_ID, as Kafka.  Generation < 0 (a "simple" consumer that
 * uses no group management) is allowed when the group is Empty or
 * unknown.  A valid commit counts as a heartbeat. */
int32_t bk_grp_commit_check(bk_grp_mgr *m, const char *group_id,
                            const char *member_id, int32_t generation_id,
                            int64_t now_ms);

/* DeleteGroups of one group: NONE (removed), GROUP_ID_NOT_FOUND,
 * NON_EMPTY_GROUP, INVALID_GROUP_ID.  (The committed offsets in
 * ZooKeeper are the caller's.) */
int32_t bk_grp_delete(bk_grp_mgr *m, const char *group_id);

/* ---- coordination moves ------------------------------------------- */

/* The broker no longer coordinates group_id: every held request of it is
 * answered NOT_COORDINATOR and the group is dropped.  0 or -BK_ENOENT. */
int bk_grp_unload(bk_grp_mgr *m, const char *group_id);
/* The same for every group for which pred(group_id, arg) is true (e.g.
 * its __consumer_offsets partition moved away).  Returns how many. */
size_t bk_grp_unload_if(bk_grp_mgr *m,
                        bool (*pred)(const char *group_id, void *arg),
                        void *arg);

/* The connection of a held JoinGroup / SyncGroup closed before its
 * answer: forget req_ctx, whose answer will then not be delivered (the
 * caller frees the context now).  The member itself stays, as in Kafka:
 * its rejoin, LeaveGroup, or session / rebalance timeout decides.  True
 * if a held request had that context.  O(groups + members).  The one call
 * allowed from inside on_join / on_sync (a response written to a dead
 * socket closes its connection and aborts that connection's other held
 * requests). */
bool bk_grp_cancel(bk_grp_mgr *m, void *req_ctx);

/* ---- timers ------------------------------------------------------- */

/* The earliest time at which bk_grp_tick has something to do, INT64_MAX
 * when nothing is pending.  O(groups + members). */
int64_t bk_grp_next_deadline(bk_grp_mgr *m);
/* Runs every timer due at now_ms (expiries, rebalance completion); may
 * call the callbacks. */
void bk_grp_tick(bk_grp_mgr *m, int64_t now_ms);

/* ---- DescribeGroups / ListGroups ---------------------------------- */

typedef struct bk_grp_member_desc {
    const char *member_id;
    const char *client_id;
    const char *client_host;
    const uint8_t *metadata; /* Stable only (as Kafka), else empty */
    size_t metadata_len;
    const uint8_t *assignment; /* Stable only, else empty */
    size_t assignment_len;
} bk_grp_member_desc;

typedef struct bk_grp_desc {
    int32_t error; /* NONE (an unknown group is "Dead", no members) */
    bk_grp_state state;
    const char *state_name;
    const char *protocol_type;
    const char *protocol_name;   /* "" unless Stable, as Kafka */
    int32_t generation_id;       /* extra to Kafka's answer: -1 if unknown */
    const char *leader_id;       /* extra: "" when none */
    bk_grp_member_desc *members; /* malloc'd; bk_grp_desc_free */
    size_t n_members;
} bk_grp_desc;

/* Describes group_id.  Strings point into the manager: valid until the
 * next call that is not a describe/list/next_deadline.  0 or -BK_ENOMEM. */
int bk_grp_describe(const bk_grp_mgr *m, const char *group_id,
                    bk_grp_desc *out);
void bk_grp_desc_free(bk_grp_desc *d);

typedef struct bk_grp_overview {
    const char *group_id;
    const char *protocol_type;
    const char *state_name;
    bk_grp_state state;
} bk_grp_overview;

/* Every group held, in no particular order: *out malloc'd (free()),
 * strings as bk_grp_describe.  0 or -BK_ENOMEM. */
int bk_grp_list(const bk_grp_mgr *m, bk_grp_overview **out, size_t *n);

/* Number of groups held. */
size_t bk_grp_count(const bk_grp_mgr *m);

/* Checks the manager's internal invariants (state vs members, leader,
 * counters, timers); 0 or -BK_ECORRUPT.  For tests and debugging. */
int bk_grp_verify(const bk_grp_mgr *m);

#endif
