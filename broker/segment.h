/*
 * segment.h -- one segment of a partition log (DESIGN.md section 8): the
 * file <dir>/<20-digit base offset>.log holding whole RecordBatch v2
 * batches back to back, plus its offset index (.index) and time index
 * (.timeindex), see index.h.
 *
 * The segment knows files and batches; the log (log.c) decides which
 * segment is active, when to roll, what to delete, and validates what is
 * appended.  Only the active segment is appended to.
 *
 * Trust model.  A segment the log recovered (scanned with CRC checks, see
 * bk_seg_recover) or created in this process is "verified".  Segments
 * below the recovery point are trusted as flushed: bk_seg_load() checks
 * their indexes for sanity (rebuilding them from batch headers when they
 * are missing or wrong) but does not read their data.  Old segments are
 * loaded lazily, on first use, so opening a log with many segments costs
 * one stat() each.
 *
 * File descriptors.  A broker hosts thousands of partition replicas, each
 * with at least one segment: one fd per segment (and per index, as Kafka
 * keeps) does not fit RLIMIT_NOFILE.  So no segment owns an fd for good:
 * the .log fds of all segments of the process sit in one bounded LRU
 * cache (bk_seg_fd() opens on demand and may close the least recently
 * used one), and the index files are opened only while a sync writes
 * them (index.h).  An fd returned by bk_seg_fd() is therefore valid only
 * until the next segment function call on any segment.  The cache holds
 * at most half of the soft RLIMIT_NOFILE seen at its first use (the rest
 * is for sockets), at least 16; bk_seg_fd_cache_set() changes that.  An
 * open() that fails with EMFILE/ENFILE closes half of the cache and is
 * retried once.  Dropping the fd of a written, not yet fsync'ed segment is
 * safe: fsync() on a later fd of the same file writes every dirty page of
 * it, and (Linux >= 4.16) reports a write-back error no fd has seen yet.
 *
 * Single-threaded: owned by its log; the fd cache is process-wide and
 * belongs to the thread that runs the logs (the broker's loop).  Blocking
 * file I/O.
 */
#ifndef BK_SEGMENT_H
#define BK_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/index.h"
#include "common/batch.h"

#define BK_SEG_NAME_DIGITS 20
/* Relative offsets and positions are u32 in the index; the log rolls
 * before either would exceed INT32_MAX (as Kafka does). */
#define BK_SEG_MAX_REL   INT32_MAX
#define BK_SEG_MAX_BYTES INT32_MAX

typedef struct bk_seg {
    int64_t base;         /* base offset: in the file names, <= first batch */
    char *log_path;       /* owned: <dir>/<base>.log */
    int fd;               /* the .log, O_RDWR, while in the fd cache; -1
                             when not (use bk_seg_fd()) */
    uint64_t size;        /* bytes of whole trusted batches (the file size) */
    bk_idx oidx;          /* offset index (<base>.index) */
    bk_idx tidx;          /* time index (<base>.timeindex) */
    uint32_t interval;    /* index.interval.bytes for new entries */
    bool loaded;          /* indexes and the fields below are valid */
    int64_t next_offset;  /* last offset + 1, or base when empty */
    int64_t max_ts;       /* largest batch max timestamp, -1 when none */
    int64_t first_ts;     /* max timestamp of the first batch (segment.ms),
                             -1 when empty or without timestamps */
    int64_t created_ms;   /* wall clock when created or opened here */
    uint64_t since_index; /* log bytes since the last offset index entry */
    bool dirty;           /* written or truncated since the last fsync */
    /* the fd cache's list, most recently used first (while fd >= 0) */
    struct bk_seg *lru_prev, *lru_next;
} bk_seg;

/* Called for each batch that recovery accepts (the log rebuilds the
 * leader-epoch cache from it). */
typedef void (*bk_seg_batch_fn)(void *arg, const bk_batch_header *h);

/* Formats "<dir>/<20 digits>.<ext>" into out.  0 or -BK_EINVAL (too
 * long). */
int bk_seg_path(char *out, size_t outlen, const char *dir, int64_t base,
                const char *ext);
/* Parses a segment file name "<20 digits>.log": true and *base. */
bool bk_seg_parse_name(const char *name, const char *ext, int64_t *base);

/* Creates a new empty segment (the .log must not exist).  It is loaded
 * and verified.  0, -BK_EEXIST, -BK_EIO, -BK_ENOMEM. */
int bk_seg_create(const char *dir, int64_t base, uint32_t interval,
                  bk_seg **out);
/* Describes an existing segment whose .log has `size` bytes, without
 * touching its files.  0 or -BK_ENOMEM. */
int bk_seg_open(const char *dir, int64_t base, uint64_t size, uint32_t interval,
                bk_seg **out);
/* Closes the fds and frees the segment (the files stay).  Unsynced index
 * entries are written first (no fsync); errors are ignored: indexes are
 * rebuilt when needed. */
void bk_seg_close(bk_seg *s);
/* Unlinks the index files, then the .log (so that a crash in between
 * leaves a .log whose index is rebuilt, never an index without its log),
 * then frees the segment.  0 or -BK_EIO (the segment is freed anyway). */
int bk_seg_delete(bk_seg *s);

/* The .log fd, from the fd cache (opened when not there; that may close
 * the least recently used fd of another segment).  Valid until the next
 * call of a bk_seg_* function on any segment.  fd >= 0 or -BK_EIO. */
int bk_seg_fd(bk_seg *s);

/* The process-wide fd cache of segment .log files (see the top). */
typedef struct bk_seg_fd_stats {
    size_t capacity;    /* most fds kept open */
    size_t open;        /* fds open now */
    uint64_t opens;     /* open() calls so far */
    uint64_t evictions; /* fds closed to make room (not by close/delete) */
} bk_seg_fd_stats;

/* Sets the capacity (0: the default from RLIMIT_NOFILE, see the top;
 * else at least 1).  Closes the least recently used fds beyond it. */
void bk_seg_fd_cache_set(size_t capacity);
/* The current numbers (computes the default capacity if not yet set). */
void bk_seg_fd_cache_stats(bk_seg_fd_stats *st);
/* When errno is EMFILE or ENFILE and the cache holds fds: closes half of
 * them (with a BK_WARN) and returns true, so the caller may retry the
 * failed open once.  Else false. */
bool bk_seg_fd_cache_shed(void);
/* open(path, flags | O_CLOEXEC, 0644) for the segment's files (index.c
 * too), retried once after bk_seg_fd_cache_shed().  fd, or -1 with
 * errno. */
int bk_seg_open_file(const char *path, int flags);

/* Makes the indexes and the loaded fields available for a trusted
 * segment: loads both indexes and checks them (see bk_idx_load; also that
 * the last offset-index entry names a real batch), rebuilds them from the
 * batch headers when they fail, then walks the few batches after the last
 * index entry.  A batch header that fails to parse in trusted data is
 * logged (BK_ERROR) and the segment is served only up to it.  No-op when
 * already loaded.  0, -BK_EIO, -BK_ENOMEM. */
int bk_seg_load(bk_seg *s);

/* Recovery after an unclean stop: verifies every batch at or after the
 * recovery point `rp` (header sanity, offsets increasing and >= base,
 * relative offsets in range, whole batch present, CRC-32C), rebuilding the
 * index entries for them; batches before rp are trusted when the indexes
 * allow starting in the middle (rp <= base scans the whole segment).
 * Stops at the first batch that fails, truncates the file there and logs
 * what was cut (BK_WARN).  fn (may be NULL) sees every verified batch.
 * *damaged is true when something was cut.  The segment ends loaded.
 * 0, -BK_EIO, -BK_ENOMEM. */
int bk_seg_recover(bk_seg *s, int64_t rp, bk_seg_batch_fn fn, void *arg,
                   bool *damaged);

/* Appends data[0..len): whole batches, already validated, with their final
 * offsets (first base >= next_offset, increasing), all fitting the
 * relative-offset and size limits.  One pwrite(); on failure the file is
 * cut back to its old size.  Updates the indexes (memory; they reach the
 * file at sync or every 4 KiB of entries).  The segment must be loaded.
 * 0, -BK_EIO, -BK_ENOMEM. */
int bk_seg_append(bk_seg *s, const uint8_t *data, size_t len);

/* Adds the final time-index entry (largest timestamp at the last offset)
 * so that the segment's max timestamp survives a reopen.  Called when the
 * segment stops being active and at close. */
int bk_seg_seal(bk_seg *s);

/* Writes unsynced index entries; when durable also fdatasync()s the index
 * files and the .log.  0 or -BK_EIO. */
int bk_seg_sync(bk_seg *s, bool durable);

/* Reads and parses the header of the batch at pos, which must lie wholly
 * within the segment.  0, -BK_ECORRUPT, -BK_EIO. */
int bk_seg_read_header(bk_seg *s, uint64_t pos, bk_batch_header *h);

/* Finds the first batch whose last offset is >= offset: 1 with *pos and
 * *h, or 0 when the segment has no such batch.  Loaded segments only.
 * Negative on I/O error or corruption. */
int bk_seg_find(bk_seg *s, int64_t offset, uint64_t *pos, bk_batch_header *h);

/* Given a batch boundary `start` (whose header is *first), returns in
 * *end the end of the longest run of whole batches from start whose total
 * is <= max_bytes (at least the first batch: KIP-74) and whose last
 * offsets are < max_offset (-1: no bound; when the first batch already
 * fails it, *end = start), and in *next where a reader continues after
 * the run (no batch of the segment lies between the run and *next).
 * 0 or negative. */
int bk_seg_read_end(bk_seg *s, uint64_t start, const bk_batch_header *first,
                    size_t max_bytes, int64_t max_offset, uint64_t *end,
                    int64_t *next);

/* Timestamp search: the first record at offset >= min_offset whose
 * timestamp is >= ts.  1 with *offset and *found_ts, 0 when the segment
 * has none.  Loaded segments only.  max_uncompressed bounds
 * decompression.  Negative on error. */
int bk_seg_find_time(bk_seg *s, int64_t ts, int64_t min_offset,
                     size_t max_uncompressed, int64_t *offset,
                     int64_t *found_ts);

/* Removes every batch whose last offset is >= offset (a batch containing
 * offset goes whole); the next offset becomes the base of the first batch
 * removed.  Fixes the indexes and max timestamp.  Loaded segments only.
 * 0 or negative. */
int bk_seg_truncate(bk_seg *s, int64_t offset);

#endif
