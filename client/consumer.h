/*
 * consumer.h -- the consumer side of a brook_client: manually assigned
 * partitions, offset lookups (ListOffsets) for seeks to the beginning, the
 * end or a timestamp, long-poll fetches to the partition leaders, and the
 * iteration of fetched record batches into brook_msg.
 *
 * Each assigned partition has a position (the next offset handed to the
 * application) and a fetch position (the next offset to ask for; ahead of
 * the position by what is buffered).  A seek bumps the partition's epoch:
 * answers to requests sent before it are recognised and dropped.  One
 * Fetch request is in flight per broker at a time, covering every
 * partition it leads whose buffer is below max.partition.fetch.bytes; the
 * broker holds it up to fetch.max.wait.ms until fetch.min.bytes exist.
 * Fetched bytes are kept as the response delivered them (the protobuf
 * bytes buffer is taken over, not copied) and iterated in place.
 *
 * Errors: NOT_LEADER_FOR_PARTITION and the other leader/metadata errors
 * refresh the metadata and retry after retry.backoff.ms (the client follows
 * the new leader); OFFSET_OUT_OF_RANGE and other non-retriable errors are
 * reported once as a BROOK_MSG_ERROR event and stop the partition until it
 * is seeked -- except OFFSET_OUT_OF_RANGE on a partition the group
 * assigned, which moves it by auto.offset.reset (k->oor_reset), as
 * Kafka's consumer does.  Partitions a group assigns start in AWAIT until
 * the group module (cgroup.c) learns their committed offset.
 * Client thread only.
 */
#ifndef BK_CLIENT_CONSUMER_H
#define BK_CLIENT_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h"
#include "common/batch.h"

/* A fetched run of complete record batches. */
typedef struct bk_cchunk {
    struct bk_cchunk *next;
    uint8_t *data; /* owned (malloc'd by protobuf-c, taken over) */
    size_t len;    /* complete batches only */
    size_t pos;    /* start of the next batch to iterate */
} bk_cchunk;

typedef enum bk_cp_state {
    BK_CP_RESET,    /* needs a ListOffsets for reset_ts */
    BK_CP_LISTING,  /* ListOffsets in flight */
    BK_CP_FETCHING, /* position known: fetching */
    BK_CP_STOPPED,  /* an error stopped it: waits for a seek */
    BK_CP_AWAIT,    /* group-assigned: waits for its committed offset */
} bk_cp_state;

/* Per-partition consumer state (hangs off bk_tpart.cp). */
typedef struct bk_cp {
    bk_topic *t;
    int32_t part;
    bk_cp_state state;
    int64_t reset_ts;  /* RESET: -2 earliest, -1 latest, >= 0 timestamp */
    int64_t position;  /* next offset to return */
    int64_t fetch_pos; /* next offset to fetch */
    int64_t hw;        /* high watermark of the last fetch, -1 before */
    bool hw_fresh;     /* hw comes from a fetch since the last seek */
    uint64_t epoch;    /* changes at every seek */
    bool fetching;     /* part of a Fetch in flight */
    bool eof_sent;     /* EOF reported for the current position */
    int pending_err;   /* an ERROR event to hand out, 0: none */
    bool unknown_sent; /* UNKNOWN_TOPIC_OR_PART reported, not yet seen */
    int64_t backoff_until;
    int32_t max_bytes; /* partition_max_bytes to ask for */
    bk_cchunk *head, *tail;
    size_t buffered;  /* bytes in the chunks */
    bk_batch_iter it; /* over the current batch when it_on */
    bool it_on;
    bool pos_known;    /* position is a real offset (not a pending lookup) */
    bool paused;       /* brook_pause(): not fetched, not handed out */
    int64_t committed; /* group's committed offset, -1 none (cgroup.c) */
    bool committed_known;
} bk_cp;

typedef struct bk_cons {
    brook_client *c;
    int32_t max_wait_ms, min_bytes, max_bytes, part_max_bytes;
    int64_t request_timeout_ms, retry_backoff_ms;
    bk_cp **cps; /* assigned partitions, in assignment order */
    size_t ncps, capcps;
    size_t rr;          /* partition whose turn it is */
    uint32_t rr_streak; /* records taken from it in a row */
    uint64_t next_epoch;
    int32_t *fetch_busy; /* brokers with a Fetch in flight */
    size_t nbusy, capbusy;
    brook_msg msg;     /* what brook_consume() returned last */
    int64_t oor_reset; /* OFFSET_OUT_OF_RANGE: 0 stop, else a lookup
                          timestamp (-1 latest, -2 earliest) */
    int group_err;     /* a group-level ERROR event to hand out, 0: none */
} bk_cons;

int bk_cons_new(brook_client *c, bk_cons **out);
void bk_cons_free(bk_cons *k);

/* brook_assign / unassign / seek / seek_timestamp / position / hw. */
int bk_cons_assign(bk_cons *k, const char *topic, int32_t part, int64_t offset);
int bk_cons_unassign(bk_cons *k, const char *topic, int32_t part);
int bk_cons_seek(bk_cons *k, const char *topic, int32_t part, int64_t offset,
                 bool by_timestamp);
int bk_cons_position(bk_cons *k, const char *topic, int32_t part,
                     int64_t *offset);
int bk_cons_hw(bk_cons *k, const char *topic, int32_t part, int64_t *hw);
int bk_cons_pause(bk_cons *k, const char *topic, int32_t part, bool on);

/* The cp of topic/part, or NULL when not assigned. */
bk_cp *bk_cons_cp_find(bk_cons *k, const char *topic, int32_t part);
/* Assigns topic/part in state AWAIT (for the group).  0, -BK_EEXIST,
 * -BK_EINVAL, -BK_ENOMEM. */
int bk_cons_assign_await(bk_cons *k, const char *topic, int32_t part);
/* Moves cp to offset (>= 0), or to a ListOffsets lookup of it (lookup:
 * -1 latest, -2 earliest); buffered data is dropped, the epoch bumped. */
void bk_cons_cp_seek(bk_cons *k, bk_cp *cp, int64_t offset, bool lookup);
/* Stops cp with an ERROR event err (it waits for a seek). */
void bk_cons_cp_stop(bk_cp *cp, int err);
/* Unassigns every partition. */
void bk_cons_unassign_all(bk_cons *k);

/* The next record or event from the buffers, without any I/O: 1 and *out
 * (valid until the next call), or 0. */
int bk_cons_next(bk_cons *k, const brook_msg **out);

/* Sends the ListOffsets and Fetch requests that are due.  Returns the
 * monotonic ms when it next needs to run. */
int64_t bk_cons_service(bk_cons *k, int64_t now);

/*
 * Scans fetched bytes p[0..len) for complete batches: returns the length
 * of the complete prefix and sets *next_fetch to one past the last offset
 * of the last complete batch (unchanged when there is none).  When the
 * first batch is incomplete, *need gets its total size (0 if even its
 * header is cut).  Pure; exposed for the unit tests.
 */
size_t bk_cons_complete_prefix(const uint8_t *p, size_t len,
                               int64_t *next_fetch, size_t *need);

#endif
