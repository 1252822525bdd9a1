/*
 * cgroup.h -- the consumer-group member of a brook_client (brook.h,
 * "consumer groups"; DESIGN.md section 9): coordinator discovery, the
 * JoinGroup / SyncGroup / Heartbeat / LeaveGroup membership protocol of
 * Kafka's classic (eager) consumer, the leader's assignment (assignors in
 * client/assignor.h), committed offsets (OffsetFetch at assignment,
 * OffsetCommit: automatic, before revocation, at close, and on request).
 *
 * State machine of the member (g->state):
 *
 *   UNSUBSCRIBED --subscribe--> PREPARE --(auto commit)--> PREP_COMMIT
 *       PREPARE/PREP_COMMIT --> REVOKE --(app: REVOKED/LOST callback)-->
 *       JOIN --> JOINING --(leader)--> LEADER_MD --> SYNC --> SYNCING
 *            \--(follower)------------------------/
 *       SYNCING --> STABLE (ASSIGNED callback; OffsetFetch; heartbeats)
 *       STABLE --(REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID,
 *                 ILLEGAL_GENERATION, subscription or partition count
 *                 change, max.poll.interval.ms passed)--> PREPARE
 *
 * The coordinator is tracked beside it: unknown -> FindCoordinator (to any
 * broker) -> known, with its own connection; NOT_COORDINATOR,
 * COORDINATOR_NOT_AVAILABLE, a timeout or a lost connection make it unknown
 * again, and whatever was in progress is sent again to the new one.
 *
 * The service function is called from the client's poll loop (I/O
 * callbacks only change state); application callbacks are called from
 * bk_cg_dispatch() at the top of brook_consume() / brook_poll(), never from
 * inside an I/O callback.  Client thread only.
 */
#ifndef BK_CGROUP_H
#define BK_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"

typedef struct bk_cg bk_cg;

/* A member for client c (group.id is set).  0 or -BK_ENOMEM. */
int bk_cg_new(brook_client *c, bk_cg **out);
/* Frees it (after the client's connections were closed, so that every
 * request it had in flight has completed). */
void bk_cg_free(bk_cg *g);

/* Whether brook_subscribe() made the client a group member (then the
 * group alone assigns partitions). */
bool bk_cg_subscribed(const bk_cg *g);

/* Sends what is due (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * OffsetFetch, OffsetCommit).  Returns the monotonic ms when it next needs
 * to run. */
int64_t bk_cg_service(bk_cg *g, int64_t now);

/* Runs the application's callbacks that are due (rebalance, async commit
 * results) and checks max.poll.interval.ms; called by brook_consume() and
 * brook_poll() outside the loop.  Not re-entrant: a nested call (from a
 * callback) does nothing. */
void bk_cg_dispatch(bk_cg *g);

/* True while a rejoin is being prepared (the positions are being
 * committed, the partitions are about to be revoked): brook_consume()
 * hands out no record then, since one handed out after the commit took the
 * positions would be consumed again by the partition's next owner. */
bool bk_cg_holding(const bk_cg *g);

#endif
