/*
 * index.h -- the sparse indexes of a log segment (DESIGN.md section 8).
 *
 * A segment <base>.log has two companion files, both arrays of fixed-size
 * big-endian entries, strictly increasing in both fields:
 *
 *   <base>.index      offset index, 8-byte entries:
 *                       relative offset (u32) = last offset of a batch - base
 *                       position (u32)        = file position of that batch
 *   <base>.timeindex  time index, 12-byte entries:
 *                       timestamp (i64)       = largest batch max timestamp
 *                                               seen so far in the segment
 *                       relative offset (u32) = last offset of the batch at
 *                                               which that was true
 *
 * Like Kafka's, the offset index is keyed by a batch's *last* offset: the
 * entry with the largest key <= target points at a batch at or before the
 * one that contains target, and the reader walks batch headers forward
 * from there.  Entries are added every index.interval.bytes of log, so a
 * walk covers a few KiB.  An index is a hint, never the truth: a missing,
 * short or corrupt index is rebuilt from the log (segment.c).
 *
 * The entries live in memory in their on-disk encoding (a 1 GiB segment
 * with the default 4 KiB interval holds at most 2 MiB of offset index), are
 * searched there (binary search), and reach the file in large pwrite()s:
 * bk_idx_sync() writes what was appended since the last sync and applies
 * truncations, through an fd opened for that call only (a broker with
 * thousands of segments cannot keep an fd per index).  Memory is the file
 * size for every loaded index; old segments load theirs lazily
 * (segment.c).
 *
 * Single-threaded: an index belongs to its segment, which belongs to the
 * log, which belongs to the broker's loop thread.
 */
#ifndef BK_INDEX_H
#define BK_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"

typedef enum bk_idx_kind {
    BK_IDX_OFFSET = 0, /* key: relative offset (u32), value: position */
    BK_IDX_TIME = 1,   /* key: timestamp (i64), value: relative offset */
} bk_idx_kind;

#define BK_IDX_OFFSET_WIDTH 8
#define BK_IDX_TIME_WIDTH   12

typedef struct bk_idx {
    char *path;       /* owned: the index file */
    bk_idx_kind kind; /* what the entries mean */
    size_t width;     /* bytes per entry: 8 or 12 */
    bk_buf mem;       /* all entries, on-disk encoding; mem.len = n * width */
    size_t synced;    /* leading bytes of mem known to be in the file */
    size_t file_len;  /* length of the file, when known */
    bool known;       /* the file exists and file_len is its length */
    bool unflushed;   /* the file may differ from what is on disk: written
                         since the last fdatasync, or never synced here */
} bk_idx;

/* Prepares an empty index for `path` (copied).  Touches no file.
 * 0 or -BK_ENOMEM. */
int bk_idx_init(bk_idx *x, const char *path, bk_idx_kind kind);
/* Frees everything (the file stays); x may be init()ed again. */
void bk_idx_free(bk_idx *x);

/* Replaces the in-memory entries with the file's, checking that they can be
 * trusted: size a multiple of the entry width, both fields strictly
 * increasing, every key <= max_key and every value <= max_val (-1: no
 * entry is acceptable).  0,
 * -BK_ENOENT (no file), -BK_ECORRUPT (the check failed; the index is left
 * empty and the next sync() rewrites the file), -BK_EIO, -BK_ENOMEM. */
int bk_idx_load(bk_idx *x, int64_t max_key, int64_t max_val);

static inline size_t bk_idx_count(const bk_idx *x)
{
    return x->mem.len / x->width;
}
/* Entry i (i < count). */
void bk_idx_get(const bk_idx *x, size_t i, int64_t *key, uint32_t *val);
/* The last entry: true, or false when the index is empty. */
bool bk_idx_last(const bk_idx *x, int64_t *key, uint32_t *val);

/* Appends an entry; both fields must be larger than the last entry's (an
 * assertion: callers append in log order).  Memory only.  0 or
 * -BK_ENOMEM. */
int bk_idx_append(bk_idx *x, int64_t key, uint32_t val);

/* Index of the last entry whose key (or value) is <= target, or -1 when
 * the first entry's is already larger.  Binary search. */
ssize_t bk_idx_floor_key(const bk_idx *x, int64_t target);
ssize_t bk_idx_floor_val(const bk_idx *x, uint32_t target);

/* Keeps the first n entries (n <= count).  Memory now, file at sync(). */
void bk_idx_truncate(bk_idx *x, size_t n);

/* Makes the file equal the memory: truncates it if entries were dropped,
 * writes the entries appended since the last sync, and fsync()s it when
 * `durable` (unless nothing changed since the last fsync).  Creates the
 * file on first use (a non-durable sync of an empty index that was never
 * loaded or written does not).  The file is opened for the call only: an
 * index keeps no fd.  0 or -BK_EIO. */
int bk_idx_sync(bk_idx *x, bool durable);
/* Bytes appended since the last sync. */
static inline size_t bk_idx_unsynced(const bk_idx *x)
{
    return x->mem.len - x->synced;
}

/* Unlinks the file; memory is emptied.  0, or -BK_EIO when the
 * file exists and cannot be removed. */
int bk_idx_unlink(bk_idx *x);

#endif
