/*
 * metrics.h -- brookd's Prometheus metrics (issue #6): a small registry of
 * counters, gauges and histograms, the broker's instrumentation hooks, and
 * an HTTP/1.1 endpoint on `metrics.listener` that answers GET /metrics in
 * the Prometheus text exposition format 0.0.4.
 *
 * The registry, the exposition writer and the request parser are in
 * common/prom.h.  Here:
 *
 *  - The broker's metrics (bk_metrics): the families brookd exports, the
 *    hooks the server and the handlers call (bk_metrics_request,
 *    bk_metrics_produced...) and the scrape-time collector that reads the
 *    partition table, the cluster picture and the ZooKeeper side.  Every
 *    metric is documented by its HELP line (bk_metrics_new lists them).
 *    Per-topic traffic counters hang off the partition (bk_part.mtopic,
 *    resolved on first use); a topic's series go when no partition of it is
 *    left on this broker (checked at scrape time).
 *
 *  - The endpoint.  Non-blocking, on the broker's loop (like broker/server).
 *    Each connection reads one request head into a fixed buffer of
 *    BK_MHTTP_MAX_REQUEST bytes (larger: 431 and close), must deliver it
 *    within the idle timeout (slow clients are cut off: 408 and close),
 *    gets one answer with "Connection: close", then the socket is shut
 *    down for writing and drained briefly before it is closed (so that a
 *    client still sending does not turn the answer into a reset).  GET or
 *    HEAD /metrics: 200; another path: 404; another method on /metrics:
 *    405; anything that is not an HTTP/1.x request: 400 (505 for another
 *    version).  At most BK_MHTTP_MAX_CONNS connections at once; more are
 *    accepted and closed at once.  bk_mhttp_parse() is the request parser,
 *    a pure function over bytes (fuzzed by tests/unit/test_broker_units.c).
 *
 * Threading: the loop thread only (the registry has no locks), except
 * bk_metrics_new/bk_metrics_free, which run before/after the loop.
 */
#ifndef BK_METRICS_H
#define BK_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/loop.h"
#include "common/prom.h"

/* ------------------------- broker's metrics ------------------------- */

struct bk_broker;
struct bk_part;
typedef struct bk_metrics bk_metrics;

/* Per-topic traffic series, shared by the topic's partitions on this
 * broker (bk_part.mtopic points here). */
typedef struct bk_mtopic {
    char *name;                       /* owned */
    bk_mser *bytes_in, *records_in;   /* produce, on the leader */
    bk_mser *bytes_out, *records_out; /* consumers' fetches */
    bk_mser *repl_bytes_out;          /* followers' fetches */
    bool seen;                        /* scrape-time sweep mark */
    struct bk_mtopic *next;
} bk_mtopic;

/* Creates the broker's metrics (registry and families, no listener) for
 * b, which it reads at scrape time.  Start-up, main thread.  NULL on
 * allocation failure. */
bk_metrics *bk_metrics_new(struct bk_broker *b);
/* Starts the HTTP endpoint on host:port (host "" = every interface; port
 * 0 = the kernel picks, see bk_metrics_port).  0 or -BK_EIO with the
 * reason logged. */
int bk_metrics_listen(bk_metrics *m, const char *host, int port);
/* The port the endpoint is bound to (0 when not listening). */
int bk_metrics_port(const bk_metrics *m);
/* Closes the endpoint and its connections, frees everything.  NULL is
 * fine.  After the partitions stop being used (their mtopic pointers
 * dangle afterwards). */
void bk_metrics_free(bk_metrics *m);
/* Renders the whole exposition text (what GET /metrics serves) into out.
 * 0 or -BK_ENOMEM. */
int bk_metrics_render(bk_metrics *m, bk_buf *out);
/* The registry, for tests. */
bk_mreg *bk_metrics_registry(bk_metrics *m);
/* Tests: the endpoint's idle timeout (default BK_MHTTP_IDLE_MS) for
 * connections accepted from now on. */
void bk_metrics_set_idle_ms(bk_metrics *m, int64_t ms);

/* Hooks (loop thread; m may be NULL: nothing is counted). */

/* A request was answered (or needs no answer): api_key as received
 * (anything: unknown keys are counted as "UnknownApi"), elapsed_ns from
 * its decoding to its answer being queued. */
void bk_metrics_request(bk_metrics *m, int api_key, int64_t elapsed_ns);
/* An error code went back for a request (header-level, or a partition's
 * error in Produce / Fetch). */
void bk_metrics_request_error(bk_metrics *m, int api_key, int error_code);
/* The per-topic series of p (resolved once, then cached in p). */
bk_mtopic *bk_metrics_topic(bk_metrics *m, struct bk_part *p);
/* Produce appended `bytes` (`records` records) to p, which it leads. */
void bk_metrics_produced(bk_metrics *m, struct bk_part *p, size_t bytes,
                         int64_t records);
/* A fetch answer carried records[0..len) of p, to a consumer (replica
 * false) or a follower.  Counts the batches' records from their headers
 * (no record is decoded). */
void bk_metrics_fetched(bk_metrics *m, struct bk_part *p, bool replica,
                        const uint8_t *records, size_t len);
/* The leader changed p's ISR from old_n to new_n members. */
void bk_metrics_isr_changed(bk_metrics *m, size_t old_n, size_t new_n);

/* Records in the RecordBatch v2 batches of data[0..len) (from each batch
 * header's record count; a torn last batch is not counted). */
uint64_t bk_metrics_count_records(const uint8_t *data, size_t len);

#endif
