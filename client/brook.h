/*
 * brook.h -- libbrook, the client library of Brook: producer and consumer
 * over Brook's native protocol (length-prefixed protobuf frames, DESIGN.md
 * section 4), records in Kafka RecordBatch v2 (section 3).
 *
 * One handle, brook_client, does both jobs: it produces to any topic and
 * consumes the partitions assigned to it.  It keeps cluster metadata
 * (brokers, partition leaders) fetched from the bootstrap servers and
 * refreshed on errors and every metadata.max.age.ms, and one TCP connection
 * per broker on which requests are pipelined (up to max.in.flight per
 * connection) and matched to their responses by correlation id.
 *
 * Threading.  The library has no thread of its own.  Everything happens on
 * the caller's thread inside brook_poll(), brook_flush() and brook_consume()
 * (non-blocking sockets and an internal event loop, common/loop.h).
 * Between those calls nothing moves: records wait in their batches, no
 * timer fires.  A producer calls brook_poll(c, 0) now and then (every
 * batch or so) and brook_flush() at the end; a consumer calls
 * brook_consume() in a loop, which also serves the producer side.
 * A brook_client is NOT thread-safe: one thread at a time, and never from
 * inside one of its own callbacks.  Different clients are independent.
 * The one blocking step is resolving host names (getaddrinfo) when a
 * connection is opened.
 *
 * Producer.  brook_produce() encodes the record at once into the open
 * batch of its partition (so the caller's buffers may be reused when it
 * returns).  A batch is sent when it reaches batch.size bytes or has
 * waited linger.ms, or at brook_flush().  The partition is the one given,
 * or Kafka's default for the key (murmur2, client/partitioner.h), or the
 * sticky partition for records without a key.  Each partition has at most
 * one batch in flight, so records of a partition are stored in the order
 * they were produced, retries included.  Retriable errors (leader moved,
 * connection lost, ...) are retried after retry.backoff.ms with a metadata
 * refresh, up to `retries` times and within delivery.timeout.ms of the
 * record being produced.  Delivery is at least once: a retry after a lost
 * response may store a batch twice (there is no idempotent producer yet).
 * Every record gets exactly one delivery report (the dr_cb set on the
 * configuration), called from brook_poll()/brook_flush()/brook_consume();
 * the reports of one partition come in produce order.
 *
 * Consumer.  Either manual assignment -- brook_assign() a (topic,
 * partition, start) and keep the position yourself -- or a consumer group:
 * set group.id, brook_subscribe() to topics, and the group's coordinator
 * broker shares their partitions among the members (see "consumer groups"
 * below).  brook_consume() returns the records of all assigned partitions,
 * each partition in offset order.  Fetches long-poll (fetch.max.wait.ms /
 * fetch.min.bytes); the client follows leadership changes through metadata
 * refreshes.
 *
 * Errors.  Functions return 0 or a negative -BK_E* code (common/err.h,
 * bk_strerror()), or BK_AGAIN (positive) for "not done within the time
 * given".  Errors that come from the cluster -- in delivery reports and
 * consumer error events -- are Kafka protocol error codes (BK_ERR_*,
 * proto/protocol.h; brook_err_name() gives "UNKNOWN_TOPIC_OR_PART"); the
 * library maps its own conditions onto them: a record that could not be
 * delivered in time gets REQUEST_TIMED_OUT, a lost connection
 * NETWORK_EXCEPTION.  brook_last_error() describes the latest network
 * trouble in words ("connect to 127.0.0.1:9092: Connection refused").
 */
#ifndef BROOK_H
#define BROOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "proto/protocol.h"

typedef struct brook_conf brook_conf;
typedef struct brook_client brook_client;

/* brook_produce(): let the partitioner choose. */
#define BROOK_PARTITION_ANY (-1)
/* Start offsets for brook_assign() / brook_seek() (Kafka's ListOffsets
 * timestamps -2 and -1). */
#define BROOK_OFFSET_BEGINNING (-2)
#define BROOK_OFFSET_END       (-1)
/* brook_produce(): stamp the record with the current wall-clock time. */
#define BROOK_TIMESTAMP_NOW (-1)

/* ------------------------------ configuration ------------------------------
 *
 * Keys (Kafka's producer/consumer names; defaults in brackets):
 *   bootstrap.servers          "host:port,host:port" (required)
 *   client.id                  [brook] sent in every request header
 *   acks                       0, 1, all (= -1) [all]
 *   linger.ms                  [5] how long a batch waits for more records
 *   batch.size                 [16384] bytes at which a batch is sent
 *   compression.type           none, gzip, lz4, zstd [none]
 *   retries                    [2147483647] attempts after the first
 *   retry.backoff.ms           [100]
 *   request.timeout.ms         [30000] a request without answer closes the
 *                              connection (its requests are retried)
 *   delivery.timeout.ms        [120000] upper bound from produce() to the
 *                              report; >= linger.ms + request.timeout.ms
 *   max.in.flight              [5] requests in flight per connection
 *                              (alias: max.in.flight.requests.per.connection)
 *   max.request.size           [1048576] largest record and request
 *   buffer.memory              [33554432] bytes of undelivered records
 *                              above which produce() answers BK_AGAIN
 *   metadata.max.age.ms        [300000] periodic metadata refresh
 *   reconnect.backoff.ms       [50], reconnect.backoff.max.ms [1000]
 *   socket.connection.setup.timeout.ms [10000]
 *   fetch.max.wait.ms          [500] long-poll time of a fetch
 *   fetch.min.bytes            [1]
 *   fetch.max.bytes            [52428800] per fetch response
 *   max.partition.fetch.bytes  [1048576] per partition per fetch
 * Consumer groups (Kafka's consumer names and defaults):
 *   group.id                   [""] the group; required by brook_subscribe()
 *   group.instance.id          [""] static membership (KIP-345) when set
 *   session.timeout.ms         [45000] without heartbeat: out of the group
 *   heartbeat.interval.ms      [3000] < session.timeout.ms
 *   max.poll.interval.ms       [300000] longest time between two
 *                              brook_consume()/brook_poll() calls before the
 *                              member gives its partitions up; also the
 *                              rebalance timeout sent in JoinGroup
 *   partition.assignment.strategy [range] range, roundrobin, sticky, or a
 *                              list of them in order of preference
 *   enable.auto.commit         [true] commit positions every
 *   auto.commit.interval.ms    [5000], before a rebalance and at close
 *   auto.offset.reset          [latest] where a partition without committed
 *                              offset (or whose offset is out of range)
 *                              starts: latest, earliest, or error (an
 *                              OFFSET_OUT_OF_RANGE event, the partition
 *                              waits for a seek; "none" is accepted too)
 */

/* A new configuration with every default.  NULL on allocation failure.
 * Owned by the caller until brook_client_new() succeeds with it. */
brook_conf *brook_conf_new(void);
void brook_conf_free(brook_conf *conf);
/* A deep copy (callbacks included), NULL on allocation failure. */
brook_conf *brook_conf_dup(const brook_conf *conf);

/*
 * Sets key to value (as text: "5", "all", "lz4"); a later set of the same
 * key replaces the earlier one.  0, or -BK_EINVAL with a message in
 * errstr (when not NULL) such as "linger.ms: value 'x' is not an integer"
 * or "unknown configuration key 'lingr.ms'".
 */
int brook_conf_set(brook_conf *conf, const char *key, const char *value,
                   char *errstr, size_t errlen);
/* Same with "key=value" in one string (the CLI's -X). */
int brook_conf_set_kv(brook_conf *conf, const char *kv, char *errstr,
                      size_t errlen);
/* The value of key as text (owned by conf, valid until it changes), or
 * NULL for an unknown key. */
const char *brook_conf_get(const brook_conf *conf, const char *key);

/* A delivery report: one per produced record. */
typedef struct brook_dr {
    const char *topic;
    int32_t partition; /* -1 when the record never got one */
    int64_t offset;    /* -1 on error and with acks=0 */
    int err;           /* 0 or BK_ERR_* */
    void *opaque;      /* as given to brook_produce() */
} brook_dr;

/* Called on the client's thread, inside brook_poll() / brook_flush() /
 * brook_consume().  dr is valid during the call only.  The callback may
 * call brook_produce(), but not brook_poll(), brook_flush(),
 * brook_consume() or brook_client_destroy(). */
typedef void brook_dr_cb(brook_client *c, const brook_dr *dr, void *app_opaque);

void brook_conf_set_dr_cb(brook_conf *conf, brook_dr_cb *cb, void *app_opaque);

/* --------------------------------- client --------------------------------- */

/*
 * Creates a client from conf.  On success the client owns conf (do not
 * free it).  On failure returns NULL, conf stays the caller's, and errstr
 * says why ("bootstrap.servers is not set", "delivery.timeout.ms must be
 * >= linger.ms + request.timeout.ms").  No connection is opened yet; the
 * first poll/produce/assign starts the bootstrap.
 */
brook_client *brook_client_new(brook_conf *conf, char *errstr, size_t errlen);

/* Closes every connection and frees the client.  Records not yet
 * delivered are dropped without a report: brook_flush() first. */
void brook_client_destroy(brook_client *c);

/* The application pointer given to brook_conf_set_dr_cb(). */
void *brook_app_opaque(const brook_client *c);

/*
 * Serves the client for up to timeout_ms (0: only what is ready now, -1:
 * until something happens): network I/O, timers, retries, delivery
 * reports, fetches for the consumer (whose records brook_consume() hands
 * out).  Returns as soon as at least one delivery report was made, with
 * their number, or 0 when the time ran out; negative -BK_E* on an
 * internal failure.
 */
int brook_poll(brook_client *c, int timeout_ms);

/* The latest network or metadata problem in words (connect refused, broker
 * closed the connection, request timed out...), "" when none.  Owned by
 * the client, valid until its next call. */
const char *brook_last_error(const brook_client *c);

/* --------------------------------- metadata --------------------------------
 */

typedef struct brook_topic_info {
    int err;                 /* BK_ERR_* of the topic (0 when it exists) */
    int32_t partition_count; /* 0 when it does not exist */
} brook_topic_info;

/*
 * Asks the cluster about topic (a fresh Metadata round trip), polling for
 * up to timeout_ms.  0 and *out filled: out->err tells whether the topic
 * exists (UNKNOWN_TOPIC_OR_PART when not).  BK_AGAIN when no broker
 * answered in time (see brook_last_error()); -BK_EINVAL for a bad name.
 */
int brook_topic_metadata(brook_client *c, const char *topic, int timeout_ms,
                         brook_topic_info *out);

/* --------------------------------- producer --------------------------------
 */

/* A record header (Kafka "headers").  key: key_len bytes (text, not
 * necessarily NUL-terminated); value: value_len bytes, -1 for null. */
typedef struct brook_header {
    const char *key;
    size_t key_len;
    const void *value;
    int32_t value_len;
} brook_header;

/*
 * Queues one record for topic.  partition: a partition number or
 * BROOK_PARTITION_ANY.  key_len / value_len: -1 for a null key / value
 * (distinct from 0, an empty one).  headers: header_count of them, may be
 * NULL when 0.  timestamp: ms since the epoch or BROOK_TIMESTAMP_NOW.
 * opaque comes back in the delivery report.  Everything is copied before
 * the call returns.
 *
 * Returns 0 (the record will get a delivery report), -BK_EINVAL (bad
 * argument: no report), -BK_ETOOBIG (larger than max.request.size: no
 * report), BK_AGAIN (buffer.memory is full: poll, then try again; no
 * report).  A partition beyond the topic's count, or a topic that does not
 * exist, gets its error (UNKNOWN_TOPIC_OR_PART) in the report.
 */
int brook_produce(brook_client *c, const char *topic, int32_t partition,
                  const void *key, int32_t key_len, const void *value,
                  int32_t value_len, const brook_header *headers,
                  int header_count, int64_t timestamp, void *opaque);

/* Sends every queued record now (linger is cut short) and serves the
 * client until each one has its delivery report, for up to timeout_ms
 * (-1: no limit).  0 when nothing is left, BK_AGAIN on timeout. */
int brook_flush(brook_client *c, int timeout_ms);

/* Records produced whose delivery report has not been made yet. */
size_t brook_outq_len(const brook_client *c);

/* --------------------------------- consumer --------------------------------
 */

/*
 * Starts consuming topic/partition from `offset`: an offset >= 0,
 * BROOK_OFFSET_BEGINNING or BROOK_OFFSET_END (looked up with ListOffsets).
 * 0, -BK_EEXIST when already assigned, -BK_EINVAL.  Whether the partition
 * exists is learnt from the cluster: an error event reports it if not.
 */
int brook_assign(brook_client *c, const char *topic, int32_t partition,
                 int64_t offset);
/* Stops consuming it and drops its buffered records.  0 or -BK_ENOENT. */
int brook_unassign(brook_client *c, const char *topic, int32_t partition);

/* Moves the position of an assigned partition to an offset >= 0, to
 * BROOK_OFFSET_BEGINNING or BROOK_OFFSET_END.  Buffered records and
 * fetches in flight for it are dropped.  0 or -BK_ENOENT / -BK_EINVAL. */
int brook_seek(brook_client *c, const char *topic, int32_t partition,
               int64_t offset);
/* Moves the position to the first record whose timestamp is >= ts_ms
 * (ListOffsets by timestamp); to the end when there is none. */
int brook_seek_timestamp(brook_client *c, const char *topic, int32_t partition,
                         int64_t ts_ms);

/* The next offset brook_consume() will return for the partition.  0 and
 * *offset; BK_AGAIN while a seek is being resolved; -BK_ENOENT. */
int brook_position(brook_client *c, const char *topic, int32_t partition,
                   int64_t *offset);
/* The high watermark of the partition as of the latest fetch (-1 before
 * the first).  0 or -BK_ENOENT. */
int brook_high_watermark(brook_client *c, const char *topic, int32_t partition,
                         int64_t *hw);

typedef enum brook_msg_type {
    BROOK_MSG_RECORD = 0, /* a record */
    BROOK_MSG_EOF = 1,    /* the partition's position reached its high
                             watermark (reported once each time) */
    BROOK_MSG_ERROR = 2,  /* a consumer error for the partition: err says
                             which; OFFSET_OUT_OF_RANGE stops the partition
                             until it is seeked.  A group error that ends
                             the membership for good (FENCED_INSTANCE_ID,
                             INCONSISTENT_GROUP_PROTOCOL,
                             GROUP_AUTHORIZATION_FAILED...) has topic ""
                             and partition -1 */
} brook_msg_type;

/* What brook_consume() returns. */
typedef struct brook_msg {
    brook_msg_type type;
    const char *topic;
    int32_t partition;
    int64_t offset;    /* the record's; for EOF/ERROR the position */
    int64_t timestamp; /* ms since the epoch (RECORD only) */
    const void *key;   /* NULL when key_len == -1 */
    int32_t key_len;
    const void *value; /* NULL when value_len == -1 */
    int32_t value_len;
    int header_count;
    int err; /* BK_ERR_* for BROOK_MSG_ERROR, else 0 */
    /* private: the raw headers, read with brook_msg_header_next() */
    const uint8_t *hdr_raw_;
    size_t hdr_len_;
} brook_msg;

/*
 * Returns the next record or event, serving the client for up to
 * timeout_ms (-1: no limit) while none is ready.  1 and *out set (valid
 * until the next call of brook_consume, brook_poll, brook_flush,
 * brook_seek*, brook_unassign or brook_client_destroy); 0 when the time ran
 * out; negative -BK_E* on an internal failure.  Partitions take turns, so
 * one busy partition does not starve the others; within a partition
 * records come in offset order.
 */
int brook_consume(brook_client *c, int timeout_ms, const brook_msg **out);

/* --------------------------- consumer groups ---------------------------
 *
 * With group.id set, brook_subscribe() makes the client a member of the
 * group, as Kafka's consumer does (the "classic" eager protocol): it finds
 * the group's coordinator (FindCoordinator), joins (JoinGroup, protocol type
 * "consumer", one protocol per partition.assignment.strategy); the member
 * the coordinator names leader computes every member's partitions with the
 * chosen assignor; SyncGroup hands each member its share.  The member then
 * heartbeats every heartbeat.interval.ms.  When the group rebalances (a
 * member comes or goes, the leader sees a subscribed topic's partition
 * count change), every member commits its positions (enable.auto.commit),
 * gives up all its partitions (REVOKED callback) and joins again.
 *
 * A newly assigned partition starts at the group's committed offset
 * (OffsetFetch), or by auto.offset.reset when there is none -- unless the
 * ASSIGNED callback seeks it.  Commits store the position, i.e. the offset
 * of the next record to consume.
 *
 * All this happens inside brook_consume() / brook_poll() (and the sync
 * calls below): the library has no thread, so a consumer must call
 * brook_consume() at least every max.poll.interval.ms and, to keep its
 * membership, at least every session.timeout.ms (Kafka's heartbeat thread
 * has no equivalent here).  Callbacks run on that thread, from
 * brook_consume() / brook_poll() / brook_consumer_close(); they may call
 * brook_commit(), brook_seek*(), brook_position(), brook_pause() /
 * brook_resume(), but not brook_consume() / brook_poll() / brook_flush() /
 * brook_consumer_close() / brook_client_destroy().
 */

/* A topic partition, with an offset and an error where that applies. */
typedef struct brook_tp {
    const char *topic;
    int32_t partition;
    int64_t offset; /* commits: the offset committed (next to consume);
                       rebalance callbacks: -1 */
    int err;        /* commit results: BK_ERR_* of the partition */
} brook_tp;

typedef enum brook_rebalance_type {
    BROOK_REBALANCE_ASSIGNED = 0, /* parts are now the member's (called
                                     after every join, even when empty) */
    BROOK_REBALANCE_REVOKED = 1,  /* parts are given up before a rejoin or
                                     at close; they may still be committed
                                     from the callback */
    BROOK_REBALANCE_LOST = 2,     /* parts were lost with the membership
                                     (session expired, fenced): other
                                     members may own them, a commit would
                                     be refused */
} brook_rebalance_type;

/* parts[0..n) is valid during the call only. */
typedef void brook_rebalance_cb(brook_client *c, brook_rebalance_type type,
                                const brook_tp *parts, size_t n, void *opaque);

void brook_conf_set_rebalance_cb(brook_conf *conf, brook_rebalance_cb *cb,
                                 void *opaque);

/*
 * Subscribes to topics[0..n) (replacing an earlier subscription; the
 * member rejoins).  Needs group.id; cannot be mixed with brook_assign().
 * 0, -BK_EINVAL (no group.id, a bad topic name, n == 0, partitions assigned
 * by hand), -BK_ENOMEM.  Returns at once: the join happens in
 * brook_consume().
 */
int brook_subscribe(brook_client *c, const char *const *topics, size_t n);

/* The partitions assigned to this member now: *out (malloc'd array, free()
 * it; topic pointers valid until the next rebalance) and *n.  0 or
 * -BK_ENOMEM. */
int brook_assignment(brook_client *c, brook_tp **out, size_t *n);

/*
 * Commits offsets and waits for the coordinator's answer, up to timeout_ms
 * (-1: no limit).  offsets NULL (n 0): the current position of every
 * assigned partition that moved since its last commit.  Else offsets[i]
 * .topic/.partition/.offset, and offsets[i].err gets each partition's
 * result.  Retriable failures (coordinator moving or loading) are retried
 * within the time.  0: all committed; -BK_EIO: refused, *err (when not
 * NULL) gets why (BK_ERR_REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER_ID: the member is no longer in that generation of the
 * group; or a partition's error); BK_AGAIN: no answer in time (the commit
 * may still land); -BK_EINVAL: no group (group.id unset).
 */
int brook_commit(brook_client *c, brook_tp *offsets, size_t n, int timeout_ms,
                 int *err);

/* Told the result of an asynchronous commit: err 0 or the first error;
 * offsets[0..n) with per-partition err (valid during the call only). */
typedef void brook_commit_cb(brook_client *c, int err, const brook_tp *offsets,
                             size_t n, void *opaque);

/*
 * The same without waiting and without retries: cb (may be NULL) is called
 * once from brook_consume() / brook_poll() / brook_consumer_close().  0
 * (also when there was nothing to commit: cb gets 0 and n 0), -BK_EINVAL,
 * -BK_ENOMEM.
 */
int brook_commit_async(brook_client *c, const brook_tp *offsets, size_t n,
                       brook_commit_cb *cb, void *opaque);

/* The group's committed offset of a partition as this member last learnt
 * it (OffsetFetch at assignment, its own commits since): 0 and *offset
 * (-1: none), -BK_ENOENT when not assigned, BK_AGAIN not yet known. */
int brook_committed(brook_client *c, const char *topic, int32_t partition,
                    int64_t *offset);

/* Stops / restarts fetching an assigned partition (Kafka's pause/resume):
 * brook_consume() returns nothing of a paused partition, its position and
 * buffered records stay.  A rebalance forgets pauses.  0 or -BK_ENOENT. */
int brook_pause(brook_client *c, const char *topic, int32_t partition);
int brook_resume(brook_client *c, const char *topic, int32_t partition);

/*
 * Leaves the group cleanly, within timeout_ms (-1: 30 s): commits the
 * positions (enable.auto.commit), calls the REVOKED callback, sends
 * LeaveGroup (dynamic members only: a static member's partitions wait
 * session.timeout.ms for it to return, as in Kafka) and waits for pending
 * async commits.  The client can still produce afterwards; it consumes no
 * more.  0, BK_AGAIN when the time ran out, 0 as well without a group.
 */
int brook_consumer_close(brook_client *c, int timeout_ms);

/* Walks the headers of a record: *pos = 0 first.  1 and *hdr set (pointers
 * into the message), 0 after the last, -BK_ECORRUPT. */
int brook_msg_header_next(const brook_msg *m, size_t *pos, brook_header *hdr);

/* ---------------------------------- misc ---------------------------------- */

/* The name of a BK_ERR_* code ("NOT_LEADER_FOR_PARTITION"). */
const char *brook_err_name(int err);

#endif
