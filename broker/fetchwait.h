/*
 * fetchwait.h -- delayed fetches (Kafka's DelayedFetch purgatory): a Fetch
 * that finds fewer than min_bytes waits up to max_wait_ms on a loop timer
 * and is completed early when appends to the partitions it reads bring
 * enough new bytes, or when one of them changes state (leadership moved,
 * partition deleted), or at shutdown.
 *
 * A waiting fetch is linked into the waiter list of every partition it
 * reads (bk_part.waiters), so an append costs a walk of that partition's
 * waiters only.  Bytes are counted from the appends' sizes: the estimate
 * may complete a fetch a little early (say, when the new bytes lie beyond
 * partition_max_bytes), never late; completion re-runs the fetch, so the
 * answer is always exact.
 *
 * Completing calls the fetch's `run` function, which builds and sends the
 * response.  The request is held (bk_req_hold) while it waits; when its
 * connection closes first, the wait is cancelled without running.
 *
 * Threading: the loop thread only.
 */
#ifndef BK_FETCHWAIT_H
#define BK_FETCHWAIT_H

#include <stddef.h>
#include <stdint.h>

#include "broker/partition.h"
#include "broker/server.h"
#include "common/loop.h"

typedef struct bk_fwq bk_fwq;

/* Answers req now (the wait is over); arg is what bk_fw_wait got. */
typedef void bk_fw_run_fn(bk_req *req, void *arg);
/* Frees arg when the wait ends without running (connection gone). */
typedef void bk_fw_drop_fn(void *arg);

bk_fwq *bk_fwq_new(bk_loop *loop);
/* Completes every waiting fetch (runs them), then frees the queue. */
void bk_fwq_free(bk_fwq *q);

/* Parks req until `min_bytes` new bytes are appended to parts[0..n) (as
 * counted from `have` bytes already available), max_wait_ms passes, or a
 * partition changes.  Then run(req, arg) answers it; drop(arg) frees arg
 * afterwards in every case.  0 or -BK_ENOMEM (then nothing was parked:
 * answer at once). */
int bk_fw_wait(bk_fwq *q, bk_req *req, bk_part *const *parts, size_t n,
               int64_t have, int64_t min_bytes, int64_t max_wait_ms,
               bk_fw_run_fn *run, bk_fw_drop_fn *drop, void *arg);

/* The same for a follower's fetch (replica_id >= 0): it reads up to the
 * log end offset, so it counts what bk_fw_leo_grew() reports, while a
 * consumer's fetch reads below the high watermark and wakes on
 * bk_fw_hw_grew(). */
int bk_fw_wait_replica(bk_fwq *q, bk_req *req, bk_part *const *parts, size_t n,
                       int64_t have, int64_t min_bytes, int64_t max_wait_ms,
                       bk_fw_run_fn *run, bk_fw_drop_fn *drop, void *arg);

/* An append of `bytes` to p that the high watermark covers at once (both
 * kinds of waiters count it): completes the waiters that now have
 * enough. */
void bk_fw_appended(bk_fwq *q, bk_part *p, size_t bytes);
/* An append of `bytes` to p not yet below the high watermark: counts for
 * followers' fetches only. */
void bk_fw_leo_grew(bk_fwq *q, bk_part *p, size_t bytes);
/* p's high watermark advanced: completes the consumers' fetches. */
void bk_fw_hw_grew(bk_fwq *q, bk_part *p);
/* Completes every fetch waiting on p (its state changed or it goes). */
void bk_fw_wake(bk_fwq *q, bk_part *p);
/* Completes every waiting fetch (shutdown: answer with what there is). */
void bk_fw_wake_all(bk_fwq *q);
/* Number of waiting fetches. */
size_t bk_fw_count(const bk_fwq *q);

#endif
