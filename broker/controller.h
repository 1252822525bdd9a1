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
 *     override, else the broker default), the first live replica; else it
 *     goes offline (leader -1) keeping the old leader as the only ISR
 *     member (Kafka never leaves an ISR empty).  leader_epoch is bumped.
 *   - an offline partition gets a leader as soon as one of its ISR comes
 *     back (or, unclean, any replica);
 *   - dead followers leave the ISR of partitions whose leader lives
 *     (leader_epoch kept: the leadership did not change).
 * Being level-triggered, a new controller finishes whatever its
 * predecessor left undone, and a conditional write that lost a race is
 * simply recomputed from a fresh read.
 * Writes are conditional setData (the state's zkVersion) batched in
 * zoo_multi of at most BK_CTRL_MULTI_OPS operations, each starting with a
 * check of /controller_epoch's version: a controller that was replaced
 * fails its whole multi and resigns (fencing).  Brokers learn the new
 * states through their watches on the state znodes (no LeaderAndIsr /
 * UpdateMetadata RPC yet).
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
 * unclean.leader.election.enable.  NULL on allocation failure. */
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
 * leader_epoch + 1, the ISR reduced to the dead leader), SHRINK (the
 * leader lives; dead followers leave the ISR, leader_epoch kept).  Live
 * brokers are md's; unclean is the topic's
 * unclean.leader.election.enable.  Pure; any thread. */
typedef enum bk_ctrl_decision {
    BK_CTRL_KEEP = 0,
    BK_CTRL_ELECT,
    BK_CTRL_OFFLINE,
    BK_CTRL_SHRINK,
} bk_ctrl_decision;

bk_ctrl_decision bk_ctrl_plan(const bk_md *md, const bk_md_part *p,
                              bool unclean, int32_t ctrl_epoch,
                              bk_zkc_pstate *out);

/* Session thread: the session expired (our /controller is gone). */
void bk_ctrl_session_lost(bk_ctrl *c);

/* Any thread: whether this broker is the active controller, and the
 * controller epoch it holds (0 before it was ever elected). */
bool bk_ctrl_is_active(const bk_ctrl *c);
int32_t bk_ctrl_epoch(const bk_ctrl *c);

#endif
