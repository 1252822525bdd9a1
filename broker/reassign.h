/*
 * reassign.h -- partition reassignment, the controller's side (Kafka's
 * reassignment in ZooKeeper mode, with the adding/removing bookkeeping of
 * Kafka 2.4+, KIP-455).
 *
 * An operator (brookctl partitions reassign) writes the wanted replica
 * lists to /admin/reassign_partitions
 *   {"version":1,"partitions":[{"topic":"t","partition":0,
 *                               "replicas":[3,4]}]}
 * and the active controller moves each listed partition from its
 * original replicas OR to the target TR, the new replicas catching up
 * before the old ones are removed:
 *   1. expand: the assignment /brokers/topics/<t> becomes
 *      RS = TR + (OR - TR), recording "adding_replicas" (TR - OR) and
 *      "removing_replicas" (OR - TR).  The brokers of the new replicas
 *      see themselves in the assignment (their topic watch), create the
 *      log and follow the leader; the leader adds them to the ISR once
 *      they have caught up (broker/repl.c).
 *   2. wait until every member of TR is in the ISR (the ISR change
 *      reaches the controller through its watch on the state znode; the
 *      controller is level-triggered, so it simply looks again);
 *   3. shrink: the assignment becomes TR (adding/removing dropped).
 *      Brokers no longer in it stop the replica and delete its log
 *      (broker/partition.c, on their topic watch);
 *   4. finish, right after: the state gets a leader from TR (the
 *      current one when it is in TR, else the first TR member that is in
 *      the ISR and alive, with leader_epoch + 1) and the ISR ISR ∩ TR,
 *      and the partition leaves /admin/reassign_partitions (deleted when
 *      it is the last), in one multi.  When the state needs no change
 *      only the list is written.
 *   The assignment shrinks before the ISR so that no broker sees a
 *   removed replica still assigned next to an ISR without it: a leader
 *   with that picture would take the replica, still fetching, back into
 *   the ISR.  Leaders can still get there when a controller request
 *   brings them the new ISR before their watch brings the assignment
 *   (LeaderAndIsr/UpdateMetadata carry no replicas yet), so every run
 *   also removes ISR members that are not replicas.
 * Every step is computed from ZooKeeper alone (the admin znode and the
 * assignment are read afresh at each run, the states come from the
 * controller's watched picture), and every write is conditional on the
 * versions it was computed from, so a controller that fails in the
 * middle leaves nothing its successor cannot continue, and a lost race
 * is recomputed from a fresh read.
 *
 * Entries that cannot be carried out are dropped from the admin znode
 * with a log line (as Kafka does): a topic or partition that does not
 * exist, a topic being deleted, a move that would need more than
 * BK_TOPIC_MAX_RF replicas at once.  A znode that does not decode is
 * deleted (logged as an error): it would otherwise block every later
 * reassignment.  A target broker that is not alive is waited for.
 *
 * Threads: the session thread (zkbroker's worker), active controller
 * only, called at the end of every controller run (bk_ctrl_run).
 */
#ifndef BK_REASSIGN_H
#define BK_REASSIGN_H

#include <stdint.h>

#include "broker/controller.h"
#include "broker/metadata.h"
#include "coordinator/zk.h"

/* What the controller lends to a run. */
typedef struct bk_reassign_ctl {
    int32_t ctrl_epoch;        /* written into the states */
    int32_t epoch_version;     /* zkVersion of /controller_epoch: checked by
                                  every multi (fencing) */
    bk_ctrl_notify_fn *notify; /* may be NULL */
    void *notify_arg;
    /* Brokers in controlled shutdown: never made leader here. */
    const int32_t *shutting;
    size_t nshutting;
} bk_reassign_ctl;

/* bk_reassign_run's answer when /controller_epoch moved (a newer
 * controller exists: resign). */
#define BK_REASSIGN_FENCED 1

/* Session thread, active controller: carries every reassignment in
 * /admin/reassign_partitions as far as it can go now (see above).  md
 * is the controller's picture; states and assignments written here go
 * into it.  0 (nothing more to do until the next event),
 * BK_REASSIGN_FENCED, or -BK_EIO / -BK_ENOMEM (run again later). */
int bk_reassign_run(bk_zk *zk, bk_md *md, const bk_reassign_ctl *ctl);

#endif
