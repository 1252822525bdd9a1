/*
 * epoch.h -- the leader-epoch cache of one partition log and its
 * checkpoint file (DESIGN.md sections 7 and 8; Kafka KIP-101).
 *
 * The cache is the list of (leader epoch, start offset) pairs: the first
 * offset written under each epoch, both strictly increasing.  The log adds
 * an entry when a batch carries an epoch newer than the latest one, drops
 * entries when it truncates (from the end: follower truncation; from the
 * start: retention), and answers OffsetForLeaderEpoch with
 * bk_epoch_end_offset(), which a follower uses to truncate to the point
 * where its log and the leader's agree (never blindly to the high
 * watermark).
 *
 * The file <partition dir>/leader-epoch-checkpoint has Kafka's format
 * ("0\n<count>\n<epoch> <start offset>\n...", see checkpoint.h) and is
 * replaced atomically by bk_epoch_flush().  It can always be rebuilt from
 * the batches' partitionLeaderEpoch fields (log recovery does that), so
 * mutators only mark the cache dirty and the log flushes it at the end of
 * each operation that changed it.
 *
 * Single-threaded: owned by its log.
 */
#ifndef BK_EPOCH_H
#define BK_EPOCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_EPOCH_UNDEFINED        (-1) /* Kafka's UNDEFINED_EPOCH */
#define BK_EPOCH_UNDEFINED_OFFSET (-1) /* Kafka's UNDEFINED_EPOCH_OFFSET */
#define BK_EPOCH_FILE             "leader-epoch-checkpoint"

typedef struct bk_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} bk_epoch_entry;

typedef struct bk_epoch {
    char *path;        /* owned: the checkpoint file */
    bk_epoch_entry *v; /* owned: entries, increasing in both fields */
    size_t n, cap;
    bool dirty; /* memory differs from the file */
} bk_epoch;

/* Sets up the cache for `path` and loads the file.  0 (loaded, possibly
 * empty), -BK_ENOENT (no file: the cache is empty), -BK_ECORRUPT
 * (malformed or inconsistent file, logged: the cache is empty and the
 * caller should rebuild it from the log), -BK_EIO, -BK_ENOMEM (the cache is
 * unusable; free it).  On every return the cache may be freed. */
int bk_epoch_open(bk_epoch *c, const char *path);
void bk_epoch_free(bk_epoch *c);

/* Writes the file if the cache changed since the last flush.  0 or
 * -BK_EIO / -BK_ENOMEM. */
int bk_epoch_flush(bk_epoch *c);

/* Records that `epoch` starts at `start_offset`.  Only an epoch newer than
 * the latest one is recorded (epochs < 0 and older or equal epochs are
 * ignored, as in Kafka: a batch from an old epoch says nothing new); any
 * entry whose start offset is >= start_offset is dropped first, so the
 * list stays increasing.  0 or -BK_ENOMEM. */
int bk_epoch_assign(bk_epoch *c, int32_t epoch, int64_t start_offset);

/* After truncating the log to end_offset: drops entries starting at or
 * after it. */
void bk_epoch_truncate_from_end(bk_epoch *c, int64_t end_offset);
/* After the log start moved to start_offset: drops entries wholly below
 * it and moves the start of the entry that covers it up to start_offset
 * (Kafka's truncateFromStart). */
void bk_epoch_truncate_from_start(bk_epoch *c, int64_t start_offset);
/* Forgets everything (the log was truncated fully). */
void bk_epoch_clear(bk_epoch *c);

/* The latest epoch and its start offset, or BK_EPOCH_UNDEFINED(_OFFSET)
 * when the cache is empty. */
int32_t bk_epoch_latest(const bk_epoch *c);
int64_t bk_epoch_latest_start(const bk_epoch *c);

/* OffsetForLeaderEpoch (Kafka's LeaderEpochFileCache.endOffsetFor):
 *   requested == latest epoch        -> (latest, log_end_offset)
 *   requested > latest, or undefined  -> (UNDEFINED, UNDEFINED_OFFSET)
 *   requested < first epoch           -> (requested, first start offset)
 *   otherwise -> (largest epoch <= requested,
 *                 start offset of the first epoch > requested)
 * The end offset is where a follower whose log was written up to
 * `requested` must truncate to (exclusive). */
void bk_epoch_end_offset(const bk_epoch *c, int32_t requested,
                         int64_t log_end_offset, int32_t *epoch,
                         int64_t *end_offset);

#endif
