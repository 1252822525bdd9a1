/*
 * producer.h -- the producer side of a brook_client: per-partition record
 * accumulation into RecordBatch v2 (common/batch.h), the sender that turns
 * ready batches into Produce requests to partition leaders, retries, and
 * delivery reports.
 *
 * Life of a record: brook_produce() picks the partition (partitioner.h)
 * and encodes the record into that partition's open batch.  The open batch
 * is closed when it reaches batch.size, after linger.ms, or at flush, and
 * joins the partition's queue of closed batches.  The sender takes the
 * oldest closed batch of every partition that has none in flight and whose
 * leader's connection has room, groups them per leader into one Produce
 * request each, and on the answer reports every record (success with its
 * offset, or the error), or puts the batch back at the head of its queue
 * for a retry after retry.backoff.ms.  One batch in flight per partition
 * keeps the records of a partition in order across retries.
 *
 * Records for a topic whose partitions are not known yet wait, copied, in
 * a per-topic pending list and are partitioned when metadata arrives.
 *
 * Delivery reports are only made from bk_prod_service() and response
 * callbacks, i.e. inside brook_poll()/brook_flush()/brook_consume(), never
 * inside brook_produce().  Client thread only.
 */
#ifndef BK_CLIENT_PRODUCER_H
#define BK_CLIENT_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h"
#include "client/partitioner.h"
#include "common/batch.h"

/* A closed batch: its bytes and the records' report data. */
typedef struct bk_pbatch {
    struct bk_pbatch *next;
    bk_buf data;        /* the finished RecordBatch (empty for records that
                           failed before being batched) */
    int32_t count;      /* records */
    void **opaques;     /* count of them, owned */
    size_t bytes;       /* what they count against buffer.memory */
    int64_t created_ms; /* monotonic ms of its first record: the delivery
                           deadline is created_ms + delivery.timeout.ms */
    int attempts;       /* sends so far */
    int err;            /* for the deferred-failure queue */
    bk_topic *t;
    int32_t part;
} bk_pbatch;

/* Per-partition producer state (hangs off bk_tpart.pq). */
typedef struct bk_pq {
    bk_topic *t;
    int32_t part;
    bk_batch_builder b; /* the open batch */
    void **opq;         /* its records' opaques (b.count of them) */
    int32_t opq_cap;
    size_t open_bytes;      /* accounted bytes of the open batch */
    int64_t open_since;     /* monotonic ms of its first record */
    bk_pbatch *head, *tail; /* closed batches, oldest first */
    int32_t nqueued;
    bk_pbatch *inflight; /* the batch being sent, or NULL */
    int64_t backoff_until;
} bk_pq;

/* A record waiting for its topic's metadata (all bytes copied). */
typedef struct bk_precord {
    struct bk_precord *next;
    int32_t partition; /* as asked: may be BROOK_PARTITION_ANY */
    uint8_t *key, *value;
    int32_t key_len, value_len;
    brook_header *headers; /* pointers into `blob` */
    int header_count;
    uint8_t *blob;
    int64_t timestamp;
    void *opaque;
    size_t bytes;
    int64_t created_ms;
} bk_precord;

/* Per-topic producer state (hangs off bk_topic.pt). */
typedef struct bk_ptopic {
    bk_sticky sticky;
    bk_precord *pend_head, *pend_tail;
    size_t npend;
} bk_ptopic;

typedef struct bk_prod {
    brook_client *c;
    /* configuration, read once */
    int64_t linger_ms, retry_backoff_ms, request_timeout_ms,
        delivery_timeout_ms;
    size_t batch_size, max_request_size, buffer_memory;
    int acks, codec, retries;
    uint32_t max_in_flight;
    brook_dr_cb *dr_cb;
    void *dr_opaque;

    bk_pq **pqs; /* every partition ever produced to */
    size_t npqs, cappqs;
    bk_pbatch *failed_head, *failed_tail; /* reports to make */

    size_t outq;       /* records without a report yet */
    size_t outq_bytes; /* their accounted bytes */
    bool flushing;     /* brook_flush() running: no lingering */
    uint64_t reports;  /* reports made */
} bk_prod;

/* 0 or -BK_ENOMEM. */
int bk_prod_new(brook_client *c, bk_prod **out);
/* Frees everything, reporting nothing. */
void bk_prod_free(bk_prod *p);

/* The work of brook_produce() (see brook.h for arguments and returns). */
int bk_prod_produce(bk_prod *p, const char *topic, int32_t partition,
                    const void *key, int32_t key_len, const void *value,
                    int32_t value_len, const brook_header *headers,
                    int header_count, int64_t timestamp, void *opaque);

/*
 * One pass of the producer: closes batches whose linger passed, partitions
 * pending records whose metadata arrived, expires what waited past
 * delivery.timeout.ms, sends ready batches, makes deferred reports.
 * Returns the monotonic ms when it next needs to run (INT64_MAX: never
 * unless something happens).
 */
int64_t bk_prod_service(bk_prod *p, int64_t now);

/* ---- pure decisions, exposed for the unit tests ---- */

/* Bytes a record counts for in a batch and against buffer.memory (an
 * upper bound of its encoded size). */
size_t bk_prod_record_size(int32_t key_len, int32_t value_len,
                           const brook_header *headers, int header_count);

/* Whether a record of rec_bytes must go into a new batch because the open
 * one (count records, open_bytes) would grow past batch_size.  A record
 * larger than batch_size gets a batch of its own. */
bool bk_prod_needs_new_batch(int32_t count, size_t open_bytes, size_t rec_bytes,
                             size_t batch_size);

/* Whether the open batch must be closed now: it is full, its linger
 * passed, or a flush is running.  When not, *wake_at (if given) gets the
 * monotonic ms at which it will be (INT64_MAX for an empty batch). */
bool bk_prod_should_close(int32_t count, size_t open_bytes, int64_t open_since,
                          int64_t now, int64_t linger_ms, size_t batch_size,
                          bool flushing, int64_t *wake_at);

/* Whether a failed send of a batch may be tried again: the error is
 * retriable, attempts (sends so far) <= retries, and its delivery
 * deadline is ahead. */
bool bk_prod_may_retry(int err, int attempts, int retries, int64_t created_ms,
                       int64_t delivery_timeout_ms, int64_t now);

#endif
