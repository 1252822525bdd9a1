/*
 * brokertest.h -- helpers shared by the broker integration suites
 * (test_broker.c, test_broker_faults.c): build and send Brook requests
 * over raw frames (tests/harness bk_h_* client), with record batches made
 * by common/batch's builder, and read the answers back.
 *
 * Values produced by bt_produce() are "<tag>-<n>" so that a fetch can
 * check every record's content, not just the count.  Test process only.
 */
#ifndef BK_BROKERTEST_H
#define BK_BROKERTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "proto/brook.pb-c.h"
#include "tests/harness/harness.h"

/* Next correlation id (process-wide counter). */
int32_t bt_corr(void);

/* Appends one batch of n records "<tag>-<first + i>" (keys "k<i>",
 * timestamps ts0 + i, or now when ts0 < 0) to out.  0 or -1. */
int bt_batch(bk_buf *out, const char *tag, int first, int n, int64_t ts0);

/* Produces the bytes of `records` to topic/p with acks; for acks != 0
 * waits for the answer.  Returns the partition error code (0 on success,
 * *base_offset set; base_offset may be NULL), -1 on a transport failure
 * (closed connection, timeout), or for acks = 0 always 0 once sent. */
int bt_produce_raw(int fd, const char *topic, int32_t p, int acks,
                   const uint8_t *records, size_t len, int64_t *base_offset);
/* Same, building one batch of n records tagged tag from `first`. */
int bt_produce(int fd, const char *topic, int32_t p, int acks, const char *tag,
               int first, int n, int64_t *base_offset);

/* A decoded record of a fetch answer. */
typedef struct bt_rec {
    int64_t offset;
    int64_t timestamp;
    char value[128];
} bt_rec;

typedef struct bt_fetch_res {
    int error; /* partition error code, or -1: transport failure */
    int64_t hw;
    int64_t log_start;
    bt_rec *recs; /* malloc'd, records at offset >= the fetch offset */
    size_t nrecs;
    size_t bytes; /* record bytes in the answer */
} bt_fetch_res;

/* Sends a fetch of one partition (max_wait_ms, min_bytes, max_bytes,
 * partition_max_bytes) without waiting.  0 or -1. */
int bt_fetch_send(int fd, int32_t corr, const char *topic, int32_t p,
                  int64_t offset, int max_wait_ms, int min_bytes, int max_bytes,
                  int part_max_bytes);
/* Reads a fetch answer (expects correlation id corr) and decodes its
 * batches; offset filters records below it. */
void bt_fetch_recv(int fd, int32_t corr, int64_t offset, int timeout_ms,
                   bt_fetch_res *out);
/* Both. */
void bt_fetch(int fd, const char *topic, int32_t p, int64_t offset,
              int max_wait_ms, int min_bytes, bt_fetch_res *out);
void bt_fetch_free(bt_fetch_res *r);

/* Reads every record of topic/p from offset 0 up to the high watermark.
 * Fails (error != 0) on any error. */
void bt_fetch_all(int fd, const char *topic, int32_t p, bt_fetch_res *out);

/* CreateTopics of one topic; returns the topic's error code or -1. */
int bt_create_topic(int fd, const char *topic, int partitions, int rf);
/* Same with config overrides: cfg is {"key", "value", ..., NULL}. */
int bt_create_topic_cfg(int fd, const char *topic, int partitions, int rf,
                        const char *const *cfg);
/* DeleteTopics of one topic; returns the topic's error code or -1. */
int bt_delete_topic(int fd, const char *topic);
/* ListOffsets for one partition; returns the error code or -1, *offset
 * and *ts (may be NULL) set. */
int bt_list_offsets(int fd, const char *topic, int32_t p, int64_t ts,
                    int64_t *offset, int64_t *found_ts);
/* The listener port of the broker with id `id` in cl, -1 when none. */
int bt_port_of(const bk_h_cluster *cl, int id);
/* FindCoordinator for group asked at port: the error code (-1: no
 * answer) and, on 0, the coordinator's broker id in *node. */
int bt_find_coordinator(int port, const char *group, int32_t *node);
/* Metadata for one topic (NULL: none); caller frees with
 * brook__response__free_unpacked.  NULL on failure. */
Brook__Response *bt_metadata(int fd, const char *topic, bool auto_create);

/* Leader of topic/p from a Metadata answer of broker port, -1 if none. */
int bt_leader(int port, const char *topic, int32_t p);

/* True when the file at path contains `needle`. */
bool bt_file_contains(const char *path, const char *needle);

/* ZooKeeper checks for the tests (through coordinator/zk).  0 when path
 * exists under the cluster's chroot, -1 when not, -2 on error. */
int bt_zk_exists(const char *connect, const char *path);

/* Appends to out the concatenated bytes of every *.log segment of a
 * partition dir, in offset order (names are zero-padded base offsets), so
 * that replicas that rolled segments at different points still compare
 * equal.  0 or -1. */
int bt_read_log(const char *dir, bk_buf *out);

#endif
