/*
 * repl.h -- replication (DESIGN.md section 7), driven by the partition
 * states the broker reads from ZooKeeper (leader, leader_epoch, ISR).
 *
 * Leader side.  For every partition it leads, the broker keeps one
 * bk_part_follower per other replica: the follower's log end offset (the
 * fetch_offset of its last Fetch, Kafka's rule) and when it last caught
 * up with the leader's LEO.  The high watermark is the smallest LEO of the
 * ISR, the leader's own included; a follower that has not fetched under
 * the current leadership holds it where it is.  It never decreases while
 * the broker leads.  Consumers read only below it; when it advances their
 * delayed fetches are completed.
 *
 * ISR.  Every replica.lag.time.max.ms / 2 the leader drops from the ISR
 * the followers that have not caught up with its LEO for longer than
 * replica.lag.time.max.ms; a follower outside the ISR rejoins when its LEO
 * reaches the high watermark and the start of the current leader epoch.
 * The change is written by the ZooKeeper worker (bk_zkb_call) with a
 * conditional setData on the state znode's version as last read, plus an
 * /isr_change_notification/isr_change_ entry for the controller; only
 * when the write succeeds does the leader use the new ISR.  A lost race
 * (BADVERSION) means someone else (the controller) changed the state: the
 * state watch brings the new one, and with it leadership changes.
 *
 * Follower side.  A partition this broker replicates but does not lead
 * joins the fetcher of its leader (broker/fetcher.h: one connection per
 * source broker, one Fetch for all its partitions), which appends what it
 * gets with bk_log_append_replica (the leader's offsets and epochs) and
 * learns the high watermark from the answers.
 *
 * Threading: the loop thread only.
 */
#ifndef BK_REPL_H
#define BK_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "broker/pool.h"
#include "proto/brook.pb-c.h"

typedef struct bk_repl bk_repl;

/* Creates the replication state of broker b (no partitions yet).  NULL on
 * allocation failure. */
bk_repl *bk_repl_new(bk_broker *b);
/* Closes every fetcher and frees r; partitions lose their fetcher
 * pointers.  NULL is fine. */
void bk_repl_free(bk_repl *r);

/* p's state changed (leader, epoch, ISR, replicas) or p is about to be
 * removed: starts or stops following, resets the leader's follower table
 * on a new leadership. */
void bk_repl_part_changed(bk_repl *r, bk_part *p, bool removing);

/* Leader: a Fetch from replica `id` at fetch_offset reached p.  Updates
 * the follower's LEO and caught-up time and the high watermark.  False
 * when id is not a replica of p (the fetch is then treated as a
 * consumer's). */
bool bk_repl_follower_fetch(bk_repl *r, bk_part *p, int32_t id,
                            int64_t fetch_offset);

/* Leader: `bytes` were appended to p (a produce).  Wakes followers'
 * fetches, moves the high watermark (a leader alone in its ISR commits at
 * once) and wakes consumers when it moved. */
void bk_repl_appended(bk_repl *r, bk_part *p, size_t bytes);

/* Follower: p's log has grown or the leader told a new high watermark. */
void bk_repl_follower_hw(bk_repl *r, bk_part *p, int64_t leader_hw);

/* One partition of an acks=all produce, appended, waiting for the ISR. */
typedef struct bk_repl_ack {
    bk_part *p;
    int64_t required;                      /* the append's last offset + 1 */
    Brook__PartitionProduceResponse *resp; /* in the request's pool */
} bk_repl_ack;

/* acks=all: answers req with body once every partition of acks[0..n) has
 * its high watermark at `required` (every ISR member has the records):
 * error 0, or NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR is then
 * smaller than min.insync.replicas; NOT_LEADER_FOR_PARTITION when the
 * leadership moves; REQUEST_TIMED_OUT after timeout_ms (Kafka's
 * DelayedProduce).  Answers at once when nothing needs to wait.  On
 * success the request is held until answered and *pool (which holds
 * body's parts and acks' responses) is taken over and emptied; body is
 * copied.  0, or -BK_ENOMEM (nothing taken: answer yourself). */
int bk_repl_wait_acks(bk_repl *r, bk_req *req, bk_pool *pool,
                      const Brook__ProduceResponse *body,
                      const bk_repl_ack *acks, size_t n, int64_t timeout_ms);
/* Number of waiting acks=all produces. */
size_t bk_repl_waiting(const bk_repl *r);

#endif
