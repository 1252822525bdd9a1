/*
 * log.h -- a partition log (DESIGN.md section 8): the ordered segments of
 * one topic-partition in <log.dir>/<topic>-<partition>/, its leader-epoch
 * cache, and the policies around them (offset assignment, segment roll,
 * retention, flush, recovery after a crash).
 *
 * Offsets.  log start offset <= recovery point <= log end offset (LEO).
 * Offsets below the log start are gone (retention, DeleteRecords); the LEO
 * is the offset the next record gets.  The recovery point is the offset
 * below which everything is known to be on disk (fsync'ed): after a crash,
 * bk_log_open() verifies (CRC) everything at or above it and cuts the log
 * at the first torn or corrupt batch.  The broker keeps the recovery point
 * and the log start offset of every log in its checkpoint files
 * (checkpoint.h) and passes them back to bk_log_open().
 *
 * Records are Kafka RecordBatch v2 bytes (common/batch.h), stored exactly
 * as received except for the base offset and leader epoch, which the
 * leader writes in place (they lie outside the CRC).  Reads return file
 * ranges of whole batches, for sendfile().
 *
 * Flushing.  With the defaults (flush.messages and flush.ms = -1) appends
 * never fsync: durability comes from replication, as in Kafka.  A segment
 * that stops being active is fsync'ed when the next one is created (Kafka
 * does the same, asynchronously), so the recovery point advances at every
 * roll and a crash re-verifies at most the active segment plus what was
 * appended after the last explicit flush.
 *
 * Segment roll.  Before an append, the active segment is rolled when it is
 * not empty and (a) the append would take it beyond segment.bytes, or (b)
 * it is older than segment.ms, or (c) an offset would not fit its
 * relative index.  Age, like Kafka's: the append's largest batch
 * timestamp minus the max timestamp of the segment's first batch; when
 * either has no timestamp (-1), wall-clock time since the segment was
 * created or opened by this process.
 *
 * Files.  No log keeps fds of its own: segment .log fds live in the
 * process-wide bounded LRU cache of segment.h (opened on demand, the
 * least recently used closed when it is full) and index files are opened
 * only while they are written, so a broker with tens of thousands of
 * segments needs no more fds than the cache's capacity.
 *
 * Threads: a log belongs to one thread (the broker's loop); no function
 * is thread-safe.  All I/O is blocking.
 */
#ifndef BK_LOG_H
#define BK_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ListOffsets' special timestamps (Kafka). */
#define BK_LOG_LATEST_TIMESTAMP   (-1)
#define BK_LOG_EARLIEST_TIMESTAMP (-2)

/* Topic-level settings (Kafka names in the comments).  Fill with
 * bk_log_config_default() and change what differs. */
typedef struct bk_log_config {
    int64_t segment_bytes;        /* segment.bytes (1 GiB; at most 2^31 - 1) */
    int64_t segment_ms;           /* segment.ms (7 days) */
    int64_t retention_bytes;      /* retention.bytes (-1: no limit) */
    int64_t retention_ms;         /* retention.ms (7 days; -1: no limit) */
    int32_t index_interval_bytes; /* index.interval.bytes (4096) */
    int32_t max_message_bytes;    /* max.message.bytes: largest batch a
                                     leader accepts (1048588) */
    int64_t max_uncompressed_bytes; /* Brook: bound on a batch's size after
                                       decompression, when validating
                                       (64 MiB) */
    int64_t flush_messages;         /* flush.messages: fsync after this many
                                       records (-1: never) */
    int64_t flush_ms;               /* flush.ms: fsync when the last one is this
                                       old at an append (-1: never) */
} bk_log_config;

void bk_log_config_default(bk_log_config *c);
/* 0, or -BK_EINVAL for a value out of range (logged with its name). */
int bk_log_config_check(const bk_log_config *c);

typedef struct bk_log bk_log;

/* What an append did. */
typedef struct bk_log_append_info {
    int64_t first_offset;  /* base offset of the first batch */
    int64_t last_offset;   /* last offset of the last batch */
    int64_t max_timestamp; /* largest batch max timestamp (-1: none) */
    int32_t batches;
    int64_t records;
    size_t bytes;
} bk_log_append_info;

/* A file range of whole batches, for pread() or sendfile(). */
typedef struct bk_log_slice {
    int fd;               /* borrowed from the fd cache: valid only until
                             the next call into any log (another read may
                             close it); bk_log_read_slice() reads a slice
                             later.  -1 when len == 0 */
    int64_t segment;      /* base offset of the segment read */
    uint64_t pos;         /* file position of the first batch */
    size_t len;           /* bytes; 0 = nothing to read now */
    int64_t first_offset; /* base offset of the first batch (it may be
                             below the requested offset) */
    int64_t next_offset;  /* where the next read continues: no batch lies
                             between the slice and it */
} bk_log_slice;

/* Opens (or creates) the log of topic-partition under log_dir, recovering
 * it: segments that hold offsets >= recovery_point are verified batch by
 * batch (CRC); the first bad batch and everything after it (including
 * whole later segments) is cut, with a BK_WARN line saying what.  0 =
 * verify everything.  When the leader-epoch checkpoint is missing or
 * malformed while segments exist, everything is verified (that rebuilds
 * the cache).  log_start_offset comes from the broker's checkpoint (0 if
 * unknown; raised to the first segment's base offset, lowered to the
 * LEO).  On success the recovered data is fsync'ed and the recovery point
 * is the LEO.  0, -BK_EINVAL (bad topic, partition or config), -BK_EIO,
 * -BK_ENOMEM. */
int bk_log_open(const char *log_dir, const char *topic, int32_t partition,
                const bk_log_config *cfg, int64_t recovery_point,
                int64_t log_start_offset, bk_log **out);
/* Writes pending index entries (a clean close leaves nothing to rebuild)
 * and frees the log.  Does not fsync: call bk_log_flush() first for a
 * clean shutdown.  NULL is fine. */
void bk_log_close(bk_log *log);

/* Changes the settings (a topic config update).  0 or -BK_EINVAL. */
int bk_log_set_config(bk_log *log, const bk_log_config *cfg);

/* Leader append.  data[0..len) holds one or more batches (a produce
 * request's records).  Each is validated (bk_batch_validate: CRC, record
 * structure, size <= max.message.bytes); then offsets are assigned from
 * the LEO by writing each batch's base offset in place, each batch's
 * partitionLeaderEpoch is set to leader_epoch, and the bytes are written
 * with one write.  leader_epoch must be >= the latest epoch in the cache
 * (a newer one is recorded, at the LEO, before the write).  Nothing is
 * written unless every batch is valid.  0, -BK_ECORRUPT / -BK_EUNSUPPORTED
 * (invalid batch), -BK_ETOOBIG (a batch over max.message.bytes),
 * -BK_EINVAL (empty input, epoch < 0 or older than the latest), -BK_EIO,
 * -BK_ENOMEM.  info may be NULL. */
int bk_log_append(bk_log *log, uint8_t *data, size_t len, int32_t leader_epoch,
                  bk_log_append_info *info);

/* Follower append: batches copied from the leader keep their offsets and
 * epochs.  The first base offset must be >= the LEO (a gap is allowed: it
 * happens when the leader's log starts above ours), each next batch must
 * start right after the previous one.  Checks header sanity and CRC (as
 * Kafka's follower does; records are not decoded).  Epochs newer than
 * the cache's latest are recorded.  0, -BK_ECORRUPT, -BK_ERANGE (offsets
 * below the LEO or not contiguous), -BK_EINVAL, -BK_EIO, -BK_ENOMEM. */
int bk_log_append_replica(bk_log *log, const uint8_t *data, size_t len,
                          bk_log_append_info *info);

/* Reads whole batches from the one containing `offset` (or, in a gap, the
 * next batch): at most max_bytes of them but at least one (KIP-74), only
 * batches whose last offset is < max_offset (-1: no bound; a batch that
 * straddles it is not returned), and from one segment (the next read
 * continues in the next one).  offset == LEO or >= max_offset gives an
 * empty slice.  -BK_ERANGE when offset < log start or > LEO
 * (OFFSET_OUT_OF_RANGE), -BK_EIO, -BK_ECORRUPT. */
int bk_log_read(bk_log *log, int64_t offset, size_t max_bytes,
                int64_t max_offset, bk_log_slice *out);

/* Copies the bytes of a slice that bk_log_read() returned for this log
 * into buf (sl->len bytes), reopening the segment's fd if the cache
 * closed it since.  Any number of log calls may come between the read and
 * this one, as long as none removed the segment (truncation, retention:
 * -BK_ENOENT then).  0, -BK_ENOENT, -BK_EIO (also a file shorter than
 * the slice). */
int bk_log_read_slice(bk_log *log, const bk_log_slice *sl, uint8_t *buf);

/* ListOffsets by time: the smallest offset (>= log start) whose record
 * timestamp is >= ts, and that timestamp.  BK_LOG_LATEST_TIMESTAMP gives
 * the LEO and BK_LOG_EARLIEST_TIMESTAMP the log start (timestamp -1).
 * Segments are skipped by their largest timestamp (time index); inside the
 * segment the time index gives a starting point, then batch headers are
 * scanned and the matching batch is decoded.  0, -BK_ENOENT (no such
 * record), -BK_EINVAL (other negative ts), -BK_EIO, -BK_ECORRUPT. */
int bk_log_offset_for_time(bk_log *log, int64_t ts, int64_t *offset,
                           int64_t *timestamp);

/* Removes every record at or above `offset` (follower truncation): later
 * segments are deleted, the segment holding `offset` is cut at the start
 * of the batch that contains it, so the LEO becomes that batch's base
 * offset (== offset when offset is a batch boundary, as replication's
 * truncation points are).  Fixes the indexes and the epoch cache, lowers
 * the recovery point, and fsyncs the cut.  offset >= LEO: no-op; offset <
 * log start: bk_log_truncate_fully(offset).  The caller should rewrite
 * the recovery-point checkpoint before acknowledging new appends (as
 * Kafka's LogManager does).  0, -BK_EINVAL, -BK_EIO. */
int bk_log_truncate(bk_log *log, int64_t offset);

/* Deletes every segment and restarts the log empty at new_start (a
 * follower far behind the leader's log start): log start = LEO =
 * recovery point = new_start, epoch cache cleared.  0, -BK_EINVAL,
 * -BK_EIO. */
int bk_log_truncate_fully(bk_log *log, int64_t new_start);

/* Applies retention at wall time now_ms: deletes the oldest segments
 * (never the active one) while any rule holds: its records are all below
 * the log start offset; retention.ms: now_ms - its largest timestamp
 * (file mtime when it has none) > retention.ms; retention.bytes: the log
 * stays >= retention.bytes without it.  Advances the log start offset to
 * the new first segment.  *deleted (may be NULL) = segments deleted.
 * 0, -BK_EIO. */
int bk_log_retain(bk_log *log, int64_t now_ms, int *deleted);

/* Moves the log start offset up to `offset` (DeleteRecords; <= LEO):
 * reads below it fail, segments wholly below it go at the next
 * bk_log_retain().  0 or -BK_ERANGE. */
int bk_log_advance_start(bk_log *log, int64_t offset);

/* fsyncs everything appended so far (segments, indexes, directory); the
 * recovery point becomes the LEO.  0 or -BK_EIO. */
int bk_log_flush(bk_log *log);

int64_t bk_log_start_offset(const bk_log *log);
int64_t bk_log_end_offset(const bk_log *log);
int64_t bk_log_recovery_point(const bk_log *log);
/* Bytes in all segments. */
uint64_t bk_log_size(const bk_log *log);
int bk_log_segment_count(const bk_log *log);
/* Base offset and size in bytes of segment i (0 = oldest). */
int64_t bk_log_segment_base(const bk_log *log, int i);
uint64_t bk_log_segment_size(const bk_log *log, int i);
/* The partition directory. */
const char *bk_log_dir(const bk_log *log);

/* The latest leader epoch recorded in the log (-1: none). */
int32_t bk_log_latest_epoch(const bk_log *log);
/* OffsetForLeaderEpoch on this log: see bk_epoch_end_offset(). */
void bk_log_end_offset_for_epoch(const bk_log *log, int32_t epoch,
                                 int32_t *out_epoch, int64_t *end_offset);
/* The (epoch, start offset) entries: count, and entry i. */
int bk_log_epoch_count(const bk_log *log);
void bk_log_epoch_entry(const bk_log *log, int i, int32_t *epoch,
                        int64_t *start_offset);

#endif
