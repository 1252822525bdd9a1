/*
 * controller.h -- the cluster controller (DESIGN.md section 6): the one
 * broker that holds the ephemeral /controller znode decides leaders and
 * ISRs and writes them to the partition state znodes.
 *
 * Election.  Every broker races: ONE zoo_multi creates the ephemeral
 * /controller {"version":1,"brokerid":N,"timestamp":".."} and bumps
 * /controller_epoch with a conditional set (or creates it with "1" when
 * absent), so the epoch moves exactly once per controller and two
 * brokers can never both win.  The losers keep the watch on /controller
 * that broker/zkbroker.c already holds and race again when it goes.  A
 * /controller left by this broker's own previous session (killed before
 * its session expired) is replaced at once, as the registration is.
 *
 * Work.  The active controller is level-triggered: after every change it
 * learns of (brokers, topics, states) it compares the whole picture with
 * what should be and writes the differences:
 *   - a partition whose leader is not live gets the first replica (in
 *     assignment order) that is in ISR and live; with none, and only when
 *     unclean.leader.election.enable is true for the topic (topic
 *     override, else the dynamic broker configs in the picture, else
 *     broker.properties: broker/dynconfig.h), the first live replica; else it
 *     goes offline (leader -1) keeping the old leader as the only ISR
 *     member (Kafka never leaves an ISR empty).  leader_epoch is bumped.
 *   - an offline partition gets a leader as soon as one of its ISR comes
 *     back (or, unclean, any replica);
 *   - dead followers leave the ISR of partitions whose leader lives
 *     (leader_epoch kept: the leadership did not change).
 * Being level-triggered, a new controller finishes whatever its
 * predecessor left undone, and a conditional write that lost a race is
 * simply recomputed from a fresh read.
 * Controlled shutdown (bk_ctrl_controlled_shutdown) marks a broker as
 * shutting down: it is treated as live but never elected, leadership
 * moves off it and it leaves ISRs, so that acks=all stops waiting for
 * it before it stops.  Preferred-leader election gives a partition back
 * to its first replica: on request (/admin/preferred_replica_election,
 * `brookctl partitions elect-leaders`) and, with
 * auto.leader.rebalance.enable, for brokers whose leader imbalance is
 * above leader.imbalance.per.broker.percentage (bk_ctrl_rebalance).
 * Writes are conditional setData (the state's zkVersion) batched in
 * zoo_multi of at most BK_CTRL_MULTI_OPS operations, each starting with a
 * check of /controller_epoch's version: a controller that was replaced
 * fails its whole multi and resigns (fencing).  After each write the
 * notify hook (bk_ctrl_set_notify, broker/ctrlchan.h) sends LeaderAndIsr
 * and UpdateMetadata to the brokers, carrying the controller epoch;
 * brokers also keep their watches on the state znodes as a fallback
 * (per partition the newer state wins, bk_md_merge_pending).
 * Broker bounces: a live broker whose registration's czxid (its broker
 * epoch) changed restarted before its session expired; it is handled as
 * a failure first (leaderships move, it leaves the ISRs) and then
 * returns as a follower.
 *
 * Threads.  Everything but bk_ctrl_is_active/bk_ctrl_epoch runs on the
 * thread that owns the ZooKeeper session (zkbroker's worker), with that
 * thread's cluster picture, because it makes blocking ZooKeeper calls.
 * bk_ctrl_is_active and bk_ctrl_epoch are atomic reads for any thread.
 */
#ifndef BK_CONTROLLER_H
#define BK_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/metadata.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"

/* Operations per zoo_multi (one of them the epoch check); a state write
 * is about 200 bytes, so a multi stays far below jute.maxbuffer. */
#define BK_CTRL_MULTI_OPS 500

typedef struct bk_ctrl bk_ctrl;

/* A controller for broker broker_id; unclean_default is the broker's
 * unclean.leader.election.enable from broker.properties (the dynamic
 * values in the picture win over it).  NULL on allocation failure. */
bk_ctrl *bk_ctrl_new(int32_t broker_id, bool unclean_default);
void bk_ctrl_free(bk_ctrl *c);

/* Session thread: brings the controller in line with the picture md
 * (which it may update with the states it writes; md->controller_id is
 * the /controller owner as last read): races for /controller when
 * nobody holds it, resigns when someone else does, and when active
 * writes whatever leader/ISR changes the picture calls for.
 * prev_session is the broker's previous session id (0 if none): a
 * /controller owned by it is ours from before a crash and is replaced.
 * 0 when done; -BK_EIO (connection loss, outcome unknown) or -BK_ENOMEM
 * when it should be run again later. */
int bk_ctrl_run(bk_ctrl *c, bk_zk *zk, bk_md *md, int64_t prev_session);

/* The decision for one partition: KEEP (its state is right), or the new
 * state in *out (controller_epoch = ctrl_epoch) -- ELECT (a new leader,
 * leader_epoch + 1), OFFLINE (no leader can be chosen: leader -1,
 * leader_epoch + 1, the ISR reduced to the dead leader plus live ISR
 * members that are shutting down), SHRINK (the leader lives; dead
 * followers leave the ISR, leader_epoch kept).  Live brokers are md's;
 * shutting[0..nshutting) are brokers in controlled shutdown: live, but
 * never chosen as leader, and a leader among them hands leadership to
 * the first other live ISR member in assignment order (ELECT, the ISR
 * without shutting-down members; it stays leader when there is none).
 * Shutting-down followers are left in the ISR here (see
 * bk_ctrl_plan_shutdown).  unclean is the topic's
 * unclean.leader.election.enable.  Pure; any thread. */
typedef enum bk_ctrl_decision {
    BK_CTRL_KEEP = 0,
    BK_CTRL_ELECT,
    BK_CTRL_OFFLINE,
    BK_CTRL_SHRINK,
} bk_ctrl_decision;

bk_ctrl_decision bk_ctrl_plan(const bk_md *md, const bk_md_part *p,
                              bool unclean, int32_t ctrl_epoch,
                              const int32_t *shutting, size_t nshutting,
                              bk_zkc_pstate *out);

/* The ISR part of a controlled shutdown, decided once when it is asked
 * for: SHRINK when the leader is live, in its ISR and not shutting down,
 * and shutting-down followers are in the ISR (they leave it, so that
 * acks=all stops waiting for them; leader_epoch kept), else KEEP.  Only
 * once: a follower that still fetches is taken back by its leader, and
 * removing it again at every pass would make the two fight until it
 * stops.  Pure; any thread. */
bk_ctrl_decision bk_ctrl_plan_shutdown(const bk_md *md, const bk_md_part *p,
                                       int32_t ctrl_epoch,
                                       const int32_t *shutting,
                                       size_t nshutting, bk_zkc_pstate *out);

/* Preferred-leader election for one partition: ELECT with the preferred
 * replica (first in assignment order) as leader, leader_epoch + 1 and
 * the ISR unchanged, when it is not the leader but is live, in the ISR
 * and not shutting down; else KEEP.  Pure; any thread. */
bk_ctrl_decision bk_ctrl_plan_preferred(const bk_md *md, const bk_md_part *p,
                                        int32_t ctrl_epoch,
                                        const int32_t *shutting,
                                        size_t nshutting, bk_zkc_pstate *out);

/* Kafka's leader imbalance of broker_id: *preferred = partitions (with a
 * state, of topics not being deleted) whose preferred replica is
 * broker_id, *elsewhere = those of them led by another broker.  The
 * ratio elsewhere / preferred is compared with
 * leader.imbalance.per.broker.percentage.  Pure; any thread. */
void bk_ctrl_imbalance(const bk_md *md, int32_t broker_id, size_t *elsewhere,
                       size_t *preferred);

/* Session thread: the session expired (our /controller is gone). */
void bk_ctrl_session_lost(bk_ctrl *c);

/* Any thread: whether this broker is the active controller, and the
 * controller epoch it holds (0 before it was ever elected). */
bool bk_ctrl_is_active(const bk_ctrl *c);
int32_t bk_ctrl_epoch(const bk_ctrl *c);

/* Work the controller does besides leaders and ISRs, announced by
 * zkbroker when a watch fires (any broker may announce; only the active
 * controller acts, at its next bk_ctrl_run, and a broker that becomes
 * controller looks at all of them once):
 *   BK_CTRL_ADMIN_PREFERRED  /admin/preferred_replica_election: run the
 *       preferred-leader elections it lists, then delete it;
 *   BK_CTRL_ADMIN_ISR_CHANGE /isr_change_notification children: read
 *       and delete them, re-read the states they name and tell brokers
 *       (notify hook, Kafka's UpdateMetadata);
 *   BK_CTRL_ADMIN_DELETE     /admin/delete_topics children: finish each
 *       deletion still marked (bk_zkd_topic_delete_now), e.g. one whose
 *       deleting broker or brookctl died half-way.
 * Session thread. */
#define BK_CTRL_ADMIN_PREFERRED  1u
#define BK_CTRL_ADMIN_ISR_CHANGE 2u
#define BK_CTRL_ADMIN_DELETE     4u
void bk_ctrl_admin_changed(bk_ctrl *c, unsigned what);

/* Session thread: auto.leader.rebalance.enable and
 * leader.imbalance.per.broker.percentage (set before the worker
 * starts).  Rebalancing is off until this is called. */
void bk_ctrl_set_rebalance(bk_ctrl *c, bool enable, int32_t percentage);

/* Session thread, every leader.imbalance.check.interval.seconds: when
 * active and rebalancing is on, every live broker whose imbalance
 * (bk_ctrl_imbalance) exceeds the percentage gets back the leadership
 * of its preferred partitions where it can (bk_ctrl_plan_preferred).
 * The number of states written (>= 0), or -BK_EIO / -BK_ENOMEM (try
 * again at the next tick). */
int bk_ctrl_rebalance(bk_ctrl *c, bk_zk *zk, bk_md *md);

/* ------------------------------------------------------------------
 * Interfaces between the controller and the controller channel
 * (broker/ctrlchan.h, LeaderAndIsr / UpdateMetadata / StopReplica) and
 * the ControlledShutdown request.  Declared here so both sides build
 * against one contract.
 * ------------------------------------------------------------------ */

/* One partition named by topic and index. */
typedef struct bk_ctrl_tp {
    char *topic; /* owned by whoever owns the array */
    int32_t partition;
} bk_ctrl_tp;

void bk_ctrl_tps_free(bk_ctrl_tp *v, size_t n);

/* Called on the session thread after the controller changed cluster
 * state, so that brokers can be told (Kafka's LeaderAndIsr and
 * UpdateMetadata):
 *   changed[0..n): partitions whose state znode the controller just
 *       wrote, or whose ISR a leader changed (the controller consumed
 *       its /isr_change_notification entry and re-read the state); md
 *       holds the new states; n may be 0;
 *   full: send the whole picture to every live broker (this broker just
 *       became controller, or the set of live brokers changed).
 * md is the controller's picture, valid only during the call; the
 * callee copies what it needs and must not block on the network. */
typedef void bk_ctrl_notify_fn(void *arg, const bk_md *md, int32_t ctrl_epoch,
                               const bk_ctrl_tp *changed, size_t n, bool full);
void bk_ctrl_set_notify(bk_ctrl *c, bk_ctrl_notify_fn *fn, void *arg);

/* Session thread: controlled shutdown of broker_id (Kafka's
 * ControlledShutdown).  broker_id is marked shutting down until its
 * registration goes away or is re-created (it is no longer chosen as
 * leader and leaves ISRs that keep another member), leadership of the
 * partitions it leads moves to another live ISR member, the states are
 * written (fenced multis) and brokers told; *remaining (malloc'd, caller
 * frees with bk_ctrl_tps_free; NULL when empty) lists the partitions it
 * still leads (no other live ISR member) -- as Kafka, only partitions
 * with more than one replica (a single replica cannot move) of topics
 * not being deleted.  A broker that is not registered (any more) has
 * nothing left: 0 with *nremaining 0.  broker_epoch is the czxid of the
 * registration the request comes from (Kafka's broker epoch; -1: not
 * sent): one older than the current registration is a request of an
 * earlier incarnation and is refused with -BK_ERANGE (answer
 * STALE_BROKER_EPOCH), nothing marked.  0, -BK_EPERM when this broker is
 * not the active controller (answer NOT_CONTROLLER), -BK_EIO /
 * -BK_ENOMEM. */
int bk_ctrl_controlled_shutdown(bk_ctrl *c, bk_zk *zk, bk_md *md,
                                int32_t broker_id, int64_t broker_epoch, bk_ctrl_tp **remaining,
                                size_t *nremaining);

#endif
