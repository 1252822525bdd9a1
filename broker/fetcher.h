/*
 * fetcher.h -- a replica fetcher (Kafka's ReplicaFetcherThread, on the
 * loop): one per source broker, pulling every partition this broker
 * follows from that leader with one Fetch request at a time (replica_id =
 * our id, current_leader_epoch, fetch_offset = our LEO), long-polled
 * (max_wait_ms 500, min_bytes 1) so that an idle leader costs nothing and
 * an append reaches the followers at once.
 *
 * The connection is non-blocking on the broker's loop (it does not use
 * libbrook): connect, write the request frame, read the response frame,
 * apply it, send the next request.  Errors (refused connection, closed
 * socket, no answer within max_wait + BK_FETCHER_TIMEOUT_MS) close the
 * connection and retry after BK_FETCHER_BACKOFF_MS, with the leader's
 * address looked up again in the cluster picture (it may have moved).
 *
 * Truncation first.  A partition marked truncating (it just became a
 * follower under a new leader epoch, bk_part.truncating) is not fetched
 * until an OffsetForLeaderEpoch request has told where the latest epoch
 * of our log ends in the leader's; the log is cut to the smaller of that
 * offset and our own end of the epoch the leader names (KIP-101 and
 * KIP-279), so that records a deposed leader appended alone go, and
 * committed ones stay.  Only when the leader knows no epoch at or below
 * ours does the high watermark serve as the cut (Kafka's fallback).
 *
 * Applying a Fetch answer: batches are appended with
 * bk_log_append_replica (a trailing partial batch is dropped: the next
 * fetch starts there), the high watermark is learnt, and errors are
 * handled per partition: OFFSET_OUT_OF_RANGE below the leader's log start
 * restarts the log there, above its end asks for the epoch again; epoch
 * and leadership errors wait for ZooKeeper's state to change
 * (bk_repl_part_changed moves the partition) while retrying.
 *
 * A partition answer counts only when the partition still follows this
 * fetcher at the epoch the request carried; anything else is stale and
 * dropped.
 *
 * Threading: the loop thread only.
 */
#ifndef BK_FETCHER_H
#define BK_FETCHER_H

#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"

#define BK_FETCHER_MAX_WAIT_MS 500
#define BK_FETCHER_BACKOFF_MS  200
#define BK_FETCHER_TIMEOUT_MS  30000      /* replica.socket.timeout.ms */
#define BK_FETCHER_PART_BYTES  (1 << 20)  /* replica.fetch.max.bytes */
#define BK_FETCHER_MAX_BYTES   (10 << 20) /* replica.fetch.response.max.bytes */

typedef struct bk_fetcher bk_fetcher;

/* A fetcher from broker leader_id (not connected until a partition is
 * added).  NULL on allocation failure. */
bk_fetcher *bk_fetcher_new(bk_broker *b, int32_t leader_id);
/* Closes the connection, detaches every partition (p->fetcher = NULL) and
 * frees f.  NULL is fine. */
void bk_fetcher_free(bk_fetcher *f);

/* Starts fetching p (p->fetcher = f); connects if needed.  A partition
 * already in f is left alone.  0 or -BK_ENOMEM. */
int bk_fetcher_add(bk_fetcher *f, bk_part *p);
/* Stops fetching p (p->fetcher = NULL). */
void bk_fetcher_remove(bk_fetcher *f, bk_part *p);
size_t bk_fetcher_count(const bk_fetcher *f);
int32_t bk_fetcher_leader(const bk_fetcher *f);

#endif
