/*
 * log.c -- a partition log: segments, offsets, roll, retention, recovery
 * (see log.h).
 *
 * The segments array is sorted by base offset and never empty; the last
 * one is the active segment, the only one appended to.  Invariants, checked
 * with assertions where they must hold:
 *   - segs[i]->base < segs[i+1]->base, and the active segment is loaded;
 *   - log_start <= LEO, recovery_point <= LEO;
 *   - every segment but the active one is on disk (fsync'ed at roll, at
 *     recovery, or at truncation), which is what lets a roll move the
 *     recovery point to the new segment's base;
 *   - the epoch file is written before the batches that introduce a new
 *     epoch, so the file never lags durable data (Kafka does the same).
 */
#include "broker/log.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/epoch.h"
#include "broker/segment.h"
#include "common/batch.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/logging.h"

struct bk_log {
    char *dir;         /* owned: the partition directory */
    char *name;        /* owned: "<topic>-<partition>", for messages */
    bk_log_config cfg; /* current settings */
    bk_seg **segs;     /* owned: sorted by base; last = active */
    size_t nsegs, cap;
    bk_epoch epochs;        /* leader-epoch cache + its checkpoint file */
    int64_t log_start;      /* first readable offset */
    int64_t recovery_point; /* everything below is fsync'ed */
    int64_t unflushed;      /* records appended since the last flush */
    int64_t last_flush_ms;  /* monotonic time of the last flush */
    bool dir_dirty;         /* entries created or removed since a dir fsync */
    bool opened;            /* open succeeded: close may write the files */
    bool fresh; /* created empty by open and never written since: nothing
                   of it needs to be durable (see bk_log_open) */
};

#define MOD "log"

static bk_seg *active(const bk_log *log)
{
    assert(log->nsegs > 0);
    return log->segs[log->nsegs - 1];
}

static int64_t leo(const bk_log *log)
{
    return active(log)->next_offset;
}

/* ------------------------------ config ------------------------------ */

void bk_log_config_default(bk_log_config *c)
{
    c->segment_bytes = (int64_t)1 << 30;
    c->segment_ms = (int64_t)7 * 24 * 3600 * 1000;
    c->retention_bytes = -1;
    c->retention_ms = (int64_t)7 * 24 * 3600 * 1000;
    c->index_interval_bytes = 4096;
    c->max_message_bytes = 1048588;
    c->max_uncompressed_bytes = (int64_t)64 << 20;
    c->flush_messages = -1;
    c->flush_ms = -1;
}

int bk_log_config_check(const bk_log_config *c)
{
    const char *bad = NULL;
    if (c->segment_bytes < BK_BATCH_HEADER_SIZE ||
        c->segment_bytes > BK_SEG_MAX_BYTES)
        bad = "segment.bytes";
    else if (c->segment_ms < 1)
        bad = "segment.ms";
    else if (c->retention_bytes < -1)
        bad = "retention.bytes";
    else if (c->retention_ms < -1)
        bad = "retention.ms";
    else if (c->index_interval_bytes < 0)
        bad = "index.interval.bytes";
    else if (c->max_message_bytes < BK_BATCH_HEADER_SIZE)
        bad = "max.message.bytes";
    else if (c->max_uncompressed_bytes < 0)
        bad = "max_uncompressed_bytes";
    else if (c->flush_messages < -1 || c->flush_messages == 0)
        bad = "flush.messages";
    else if (c->flush_ms < -1)
        bad = "flush.ms";
    if (bad) {
        BK_ERROR(MOD, "log config: %s out of range", bad);
        return -BK_EINVAL;
    }
    return 0;
}

/* ---------------------------- segment list ---------------------------- */

static int push_seg(bk_log *log, bk_seg *s)
{
    if (log->nsegs == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 16;
        bk_seg **v = realloc(log->segs, cap * sizeof *v);
        if (!v)
            return -BK_ENOMEM;
        log->segs = v;
        log->cap = cap;
    }
    assert(log->nsegs == 0 || active(log)->base < s->base);
    log->segs[log->nsegs++] = s;
    return 0;
}

/* Deletes segs[i] (files too) and closes the gap in the array. */
static int drop_seg(bk_log *log, size_t i)
{
    bk_seg *s = log->segs[i];
    memmove(&log->segs[i], &log->segs[i + 1],
            (log->nsegs - i - 1) * sizeof *log->segs);
    log->nsegs--;
    log->dir_dirty = true;
    return bk_seg_delete(s);
}

/* Index of the last segment whose base is <= offset (0 if none is). */
static size_t floor_seg(const bk_log *log, int64_t offset)
{
    size_t lo = 0, hi = log->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

static int new_segment(bk_log *log, int64_t base)
{
    bk_seg *s;
    int rc = bk_seg_create(log->dir, base,
                           (uint32_t)log->cfg.index_interval_bytes, &s);
    if (rc != 0)
        return rc;
    s->created_ms = bk_clock_wall_ms();
    rc = push_seg(log, s);
    if (rc != 0) {
        (void)bk_seg_delete(s);
        return rc;
    }
    log->dir_dirty = true;
    return 0;
}

/* The log's files outside the segment fd cache (the directory, the
 * epoch checkpoint) get the same second chance as segment files when the
 * process is out of fds: the cache gives some back. */
static int epoch_flush(bk_log *log)
{
    int rc = bk_epoch_flush(&log->epochs);
    if (rc == -BK_EIO && bk_seg_fd_cache_shed())
        rc = bk_epoch_flush(&log->epochs);
    return rc;
}

static int sync_dir(bk_log *log)
{
    if (!log->dir_dirty)
        return 0;
    int rc = bk_fsync_dir(log->dir);
    if (rc == -BK_EIO && bk_seg_fd_cache_shed())
        rc = bk_fsync_dir(log->dir);
    if (rc != 0) {
        BK_ERROR(MOD, "%s: cannot fsync the directory: %s", log->name,
                 strerror(errno));
        return -BK_EIO;
    }
    log->dir_dirty = false;
    return 0;
}

/* ------------------------------ open ------------------------------ */

static bool topic_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 249 || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
        return false;
    for (const char *p = t; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int cmp_seg(const void *a, const void *b)
{
    const bk_seg *x = *(bk_seg *const *)a, *y = *(bk_seg *const *)b;
    return x->base < y->base ? -1 : x->base > y->base;
}

static void unlink_in(bk_log *log, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", log->dir, name);
    if (unlink(path) == 0)
        log->dir_dirty = true;
}

/* Lists the directory: segments for every <base>.log, orphan indexes
 * (no .log: left by a crash during a delete) removed. */
static int list_segments(bk_log *log)
{
    DIR *d = opendir(log->dir);
    if (!d) {
        BK_ERROR(MOD, "%s: cannot list %s: %s", log->name, log->dir,
                 strerror(errno));
        return -BK_EIO;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        int64_t base;
        if (!bk_seg_parse_name(de->d_name, "log", &base))
            continue;
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", log->dir, de->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            BK_WARN(MOD, "%s: skipping %s", log->name, de->d_name);
            continue;
        }
        bk_seg *s;
        rc = bk_seg_open(log->dir, base, (uint64_t)st.st_size,
                         (uint32_t)log->cfg.index_interval_bytes, &s);
        if (rc == 0) {
            if (log->nsegs == log->cap) {
                size_t cap = log->cap ? log->cap * 2 : 16;
                bk_seg **v = realloc(log->segs, cap * sizeof *v);
                if (!v) {
                    bk_seg_close(s);
                    rc = -BK_ENOMEM;
                    break;
                }
                log->segs = v;
                log->cap = cap;
            }
            log->segs[log->nsegs++] = s;
        }
    }
    if (rc == 0) {
        if (log->nsegs > 1)
            qsort(log->segs, log->nsegs, sizeof *log->segs, cmp_seg);
        /* second pass: index files whose .log is gone */
        rewinddir(d);
        while ((de = readdir(d)) != NULL) {
            int64_t base;
            if (!bk_seg_parse_name(de->d_name, "index", &base) &&
                !bk_seg_parse_name(de->d_name, "timeindex", &base))
                continue;
            size_t i = floor_seg(log, base);
            if (log->nsegs && log->segs[i]->base == base)
                continue;
            BK_WARN(MOD, "%s: removing orphan index %s", log->name, de->d_name);
            unlink_in(log, de->d_name);
        }
    }
    closedir(d);
    return rc;
}

static void on_recovered_batch(void *arg, const bk_batch_header *h)
{
    bk_log *log = arg;
    /* rebuilds epochs the checkpoint lacks; ENOMEM only loses a hint
     * that a later flush of a full scan would restore */
    (void)bk_epoch_assign(&log->epochs, h->leader_epoch, h->base_offset);
}

static int recover(bk_log *log, int64_t rp)
{
    size_t k = floor_seg(log, rp);
    for (size_t i = k; i < log->nsegs; i++) {
        bk_seg *s = log->segs[i];
        if (i > k && s->base != log->segs[i - 1]->next_offset) {
            /* segments are written contiguously: a gap means the previous
             * one lost its tail, an overlap that this one is not ours */
            BK_WARN(MOD,
                    "%s: segment %" PRId64 " does not start where the "
                    "previous one ends (offset %" PRId64 "): deleting it "
                    "and %zu later segment(s)",
                    log->name, s->base, log->segs[i - 1]->next_offset,
                    log->nsegs - i - 1);
            while (log->nsegs > i)
                (void)drop_seg(log, log->nsegs - 1);
            break;
        }
        bool damaged;
        int rc = bk_seg_recover(s, i == k ? rp : 0, on_recovered_batch, log,
                                &damaged);
        if (rc != 0)
            return rc;
        if (damaged && i + 1 < log->nsegs) {
            BK_WARN(MOD,
                    "%s: deleting %zu segment(s) after the damage in "
                    "segment %" PRId64 " (offsets %" PRId64 " and up)",
                    log->name, log->nsegs - i - 1, s->base,
                    log->segs[i + 1]->base);
            while (log->nsegs > i + 1) {
                rc = drop_seg(log, log->nsegs - 1);
                if (rc != 0)
                    return rc;
            }
        }
        /* an empty segment that was empty on disk has nothing to make
         * durable (it stays dirty: the next flush syncs it anyway) */
        rc = s->size == 0 && !damaged ? 0 : bk_seg_sync(s, true);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int bk_log_open(const char *log_dir, const char *topic, int32_t partition,
                const bk_log_config *cfg, int64_t recovery_point,
                int64_t log_start_offset, bk_log **out)
{
    char path[PATH_MAX];
    if (!topic_ok(topic) || partition < 0 || bk_log_config_check(cfg) != 0)
        return -BK_EINVAL;
    int n =
        snprintf(path, sizeof path, "%s/%s-%d", log_dir, topic, (int)partition);
    if (n < 0 || (size_t)n >= sizeof path - 64)
        return -BK_EINVAL;
    bk_log *log = calloc(1, sizeof *log);
    if (!log)
        return -BK_ENOMEM;
    log->cfg = *cfg;
    log->dir = strdup(path);
    log->name = strdup(path + strlen(log_dir) + 1);
    log->last_flush_ms = bk_clock_mono_ms();
    int rc = log->dir && log->name ? 0 : -BK_ENOMEM;
    if (rc == 0 && bk_mkdirs(log->dir) != 0) {
        BK_ERROR(MOD, "cannot create %s: %s", log->dir, strerror(errno));
        rc = -BK_EIO;
    }
    if (rc == 0)
        rc = list_segments(log);
    /* no data: a new log, or one whose only segment is an empty file */
    log->fresh = rc == 0 && (log->nsegs == 0 ||
                             (log->nsegs == 1 && log->segs[0]->size == 0));

    if (rc == 0) {
        snprintf(path, sizeof path, "%s/%s", log->dir, BK_EPOCH_FILE);
        rc = bk_epoch_open(&log->epochs, path);
        if (rc == -BK_ENOENT || rc == -BK_ECORRUPT) {
            if (!log->fresh && recovery_point > 0) {
                BK_WARN(MOD,
                        "%s: leader-epoch checkpoint %s: verifying the "
                        "whole log to rebuild it",
                        log->name, rc == -BK_ENOENT ? "missing" : "unusable");
                recovery_point = 0;
            }
            log->epochs.dirty = true;
            rc = 0;
        }
    }

    if (rc == 0 && log->nsegs == 0)
        rc = new_segment(log, log_start_offset > 0 ? log_start_offset : 0);
    else if (rc == 0)
        rc = recover(log, recovery_point < 0 ? 0 : recovery_point);

    if (rc == 0) {
        bk_seg *a = active(log);
        assert(a->loaded);
        a->created_ms = bk_clock_wall_ms();
        int64_t end = leo(log);
        log->log_start = log->segs[0]->base;
        if (log_start_offset > log->log_start)
            log->log_start = log_start_offset;
        if (log->log_start > end) {
            BK_WARN(MOD,
                    "%s: log start offset %" PRId64 " is beyond the log "
                    "end %" PRId64 ": using %" PRId64,
                    log->name, log->log_start, end, end);
            log->log_start = end;
        }
        bk_epoch_truncate_from_end(&log->epochs, end);
        bk_epoch_truncate_from_start(&log->epochs, log->log_start);
        /* A log without data holds nothing to make durable until its
         * first append: its empty files may vanish in a crash (the next
         * open creates them again), its epoch file is rewritten from
         * memory.  The append writes the epoch file, the next roll or
         * flush fsyncs the files and the directory; until then open,
         * flush and close make no fsync.  That matters when a topic of
         * thousands of partitions is created (on the loop thread, on
         * disks where an fsync takes milliseconds) and at shutdown. */
        if (!log->fresh) {
            rc = epoch_flush(log);
            if (rc == 0)
                rc = bk_seg_sync(a, true);
            if (rc == 0)
                rc = sync_dir(log);
        }
        log->recovery_point = end;
    }
    if (rc != 0) {
        bk_log_close(log);
        return rc;
    }
    log->opened = true;
    BK_INFO(MOD, "%s: opened, %zu segment(s), offsets %" PRId64 "..%" PRId64,
            log->name, log->nsegs, log->log_start, leo(log));
    *out = log;
    return 0;
}

void bk_log_close(bk_log *log)
{
    if (!log)
        return;
    if (log->opened && !log->fresh && log->nsegs > 0)
        (void)bk_seg_seal(active(log));
    for (size_t i = 0; i < log->nsegs; i++)
        bk_seg_close(log->segs[i]);
    if (log->opened && !log->fresh)
        (void)epoch_flush(log);
    bk_epoch_free(&log->epochs);
    free(log->segs);
    free(log->dir);
    free(log->name);
    free(log);
}

int bk_log_set_config(bk_log *log, const bk_log_config *cfg)
{
    if (bk_log_config_check(cfg) != 0)
        return -BK_EINVAL;
    log->cfg = *cfg;
    active(log)->interval = (uint32_t)cfg->index_interval_bytes;
    return 0;
}

/* ------------------------------ append ------------------------------ */

/* Flushes the old active segment and starts a new one at base. */
static int roll(bk_log *log, int64_t base)
{
    bk_seg *old = active(log);
    int rc;
    if (old->size == 0) {
        /* the only segment, empty, cannot take the append (its base is
         * too far below the batch's offsets): replace it */
        assert(base > old->base && log->nsegs == 1);
        rc = new_segment(log, base);
        if (rc == 0)
            rc = drop_seg(log, 0);
        if (rc == 0)
            log->log_start = log->recovery_point = base;
        return rc;
    }
    rc = bk_seg_seal(old);
    if (rc == 0)
        rc = bk_seg_sync(old, true);
    if (rc == 0)
        rc = new_segment(log, base);
    if (rc == 0)
        rc = sync_dir(log);
    if (rc == 0 && log->recovery_point < base) {
        /* every segment before the new one is now on disk */
        log->recovery_point = base;
    }
    BK_DEBUG(MOD, "%s: rolled segment %" PRId64 " -> %" PRId64, log->name,
             old->base, base);
    return rc;
}

static int maybe_roll(bk_log *log, size_t len, int64_t max_ts,
                      int64_t first_offset, int64_t last_offset)
{
    bk_seg *a = active(log);
    const char *why = NULL;
    if (len > BK_SEG_MAX_BYTES)
        return -BK_ETOOBIG;
    if (last_offset - leo(log) > BK_SEG_MAX_REL) {
        /* a follower gap too wide for any segment starting at the LEO:
         * only an empty log can move its start there */
        if (log->nsegs == 1 && a->size == 0)
            return roll(log, first_offset);
        return -BK_ERANGE;
    }
    if (last_offset - a->base > BK_SEG_MAX_REL)
        why = "relative offset";
    else if (a->size > 0 && a->size + len > (uint64_t)log->cfg.segment_bytes)
        why = "size";
    else if (a->size > 0) {
        int64_t age = a->first_ts >= 0 && max_ts >= 0
                          ? max_ts - a->first_ts
                          : bk_clock_wall_ms() - a->created_ms;
        if (age > log->cfg.segment_ms)
            why = "age";
    }
    if (!why)
        return 0;
    BK_DEBUG(MOD, "%s: roll by %s", log->name, why);
    /* segments are contiguous: each starts where the previous one ends
     * (recovery relies on it), even when the batch leaves a gap */
    return roll(log, leo(log));
}

static void maybe_flush(bk_log *log, int64_t records)
{
    log->unflushed += records;
    bool due = log->cfg.flush_messages > 0 &&
               log->unflushed >= log->cfg.flush_messages;
    if (!due && log->cfg.flush_ms >= 0)
        due = bk_clock_mono_ms() - log->last_flush_ms >= log->cfg.flush_ms;
    if (due)
        (void)bk_log_flush(log); /* logged; retried at the next append */
}

/* Common tail of both appends: roll, write, account. */
static int write_batches(bk_log *log, const uint8_t *data, size_t len,
                         const bk_log_append_info *ai)
{
    log->fresh = false;
    int rc = maybe_roll(log, len, ai->max_timestamp, ai->first_offset,
                        ai->last_offset);
    if (rc != 0)
        return rc;
    rc = epoch_flush(log);
    if (rc != 0)
        return rc;
    bk_seg *a = active(log);
    assert(ai->first_offset >= a->next_offset);
    rc = bk_seg_append(a, data, len);
    if (rc != 0)
        return rc;
    assert(leo(log) == ai->last_offset + 1);
    maybe_flush(log, ai->records);
    return 0;
}

int bk_log_append(bk_log *log, uint8_t *data, size_t len, int32_t leader_epoch,
                  bk_log_append_info *info)
{
    bk_log_append_info ai = {.max_timestamp = -1};
    if (len == 0 || leader_epoch < 0 ||
        leader_epoch < bk_epoch_latest(&log->epochs))
        return -BK_EINVAL;
    int64_t next = leo(log);
    ai.first_offset = next;
    /* one pass: validate each batch and give it its offsets (writing into
     * a batch that later turns out invalid is harmless: nothing is
     * written to the log unless all are valid) */
    size_t off = 0;
    while (off < len) {
        bk_batch_header h;
        uint8_t *p = data + off;
        int rc = bk_batch_parse_header(p, len - off, &h);
        if (rc != 0)
            return rc == -BK_EUNSUPPORTED ? rc : -BK_ECORRUPT;
        size_t size = bk_batch_size(&h);
        if (size > len - off)
            return -BK_ECORRUPT;
        if (size > (size_t)log->cfg.max_message_bytes)
            return -BK_ETOOBIG;
        rc = bk_batch_validate(p, size, (size_t)log->cfg.max_uncompressed_bytes,
                               &h);
        if (rc != 0)
            return rc;
        if (next > INT64_MAX - 1 - h.last_offset_delta)
            return -BK_ERANGE;
        bk_batch_set_base_offset(p, next);
        bk_batch_set_leader_epoch(p, leader_epoch);
        next += (int64_t)h.last_offset_delta + 1;
        if (h.max_timestamp > ai.max_timestamp)
            ai.max_timestamp = h.max_timestamp;
        ai.batches++;
        ai.records += h.record_count;
        off += size;
    }
    ai.last_offset = next - 1;
    ai.bytes = len;
    int rc = bk_epoch_assign(&log->epochs, leader_epoch, ai.first_offset);
    if (rc == 0)
        rc = write_batches(log, data, len, &ai);
    if (rc == 0 && info)
        *info = ai;
    return rc;
}

int bk_log_append_replica(bk_log *log, const uint8_t *data, size_t len,
                          bk_log_append_info *info)
{
    bk_log_append_info ai = {.max_timestamp = -1};
    if (len == 0)
        return -BK_EINVAL;
    int64_t next = leo(log);
    size_t off = 0;
    while (off < len) {
        bk_batch_header h;
        const uint8_t *p = data + off;
        int rc = bk_batch_parse_header(p, len - off, &h);
        if (rc != 0)
            return rc == -BK_EUNSUPPORTED ? rc : -BK_ECORRUPT;
        size_t size = bk_batch_size(&h);
        if (size > len - off)
            return -BK_ECORRUPT;
        if (bk_batch_check_crc(p, size) != 0)
            return -BK_ECORRUPT;
        if (off == 0 ? h.base_offset < next : h.base_offset != next)
            return -BK_ERANGE;
        if (off == 0)
            ai.first_offset = h.base_offset;
        if (h.base_offset > INT64_MAX - 1 - h.last_offset_delta)
            return -BK_ERANGE;
        next = bk_batch_last_offset(&h) + 1;
        if (h.max_timestamp > ai.max_timestamp)
            ai.max_timestamp = h.max_timestamp;
        ai.batches++;
        ai.records += h.record_count;
        off += size;
    }
    ai.last_offset = next - 1;
    ai.bytes = len;
    /* the relative-offset limit applies within one segment: a single
     * append spanning more than that is refused */
    if (ai.last_offset - ai.first_offset > BK_SEG_MAX_REL)
        return -BK_ETOOBIG;
    /* epochs: recorded before the data (see the top of this file) */
    off = 0;
    while (off < len) {
        bk_batch_header h;
        (void)bk_batch_parse_header(data + off, len - off, &h);
        int rc = bk_epoch_assign(&log->epochs, h.leader_epoch, h.base_offset);
        if (rc != 0)
            return rc;
        off += bk_batch_size(&h);
    }
    int rc = write_batches(log, data, len, &ai);
    if (rc == 0 && info)
        *info = ai;
    return rc;
}

/* ------------------------------ read ------------------------------ */

int bk_log_read(bk_log *log, int64_t offset, size_t max_bytes,
                int64_t max_offset, bk_log_slice *out)
{
    int64_t end = leo(log);
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->first_offset = out->next_offset = offset;
    if (offset < log->log_start || offset > end)
        return -BK_ERANGE;
    if (offset == end || (max_offset >= 0 && offset >= max_offset))
        return 0;
    for (size_t i = floor_seg(log, offset); i < log->nsegs; i++) {
        bk_seg *s = log->segs[i];
        uint64_t pos, stop;
        bk_batch_header h;
        int rc = bk_seg_load(s);
        if (rc != 0)
            return rc;
        rc = bk_seg_find(s, offset, &pos, &h);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue; /* a gap up to the next segment */
        int64_t next;
        rc = bk_seg_read_end(s, pos, &h, max_bytes, max_offset, &stop, &next);
        if (rc != 0)
            return rc;
        out->first_offset = h.base_offset;
        out->next_offset = next;
        out->segment = s->base;
        if (stop > pos) {
            out->fd = bk_seg_fd(s);
            if (out->fd < 0)
                return out->fd;
            out->pos = pos;
            out->len = (size_t)(stop - pos);
        }
        return 0;
    }
    out->next_offset = end; /* offset was in a gap at the end */
    return 0;
}

int bk_log_read_slice(bk_log *log, const bk_log_slice *sl, uint8_t *buf)
{
    if (sl->len == 0)
        return 0;
    bk_seg *s = log->segs[floor_seg(log, sl->segment)];
    if (s->base != sl->segment || sl->pos > s->size ||
        sl->len > s->size - sl->pos)
        return -BK_ENOENT; /* deleted or cut since the read */
    int fd = bk_seg_fd(s);
    if (fd < 0)
        return fd;
    size_t done = 0;
    while (done < sl->len) {
        ssize_t r =
            pread(fd, buf + done, sl->len - done, (off_t)(sl->pos + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            BK_ERROR(MOD, "%s: read of segment %" PRId64 " failed: %s",
                     log->name, s->base,
                     r < 0 ? strerror(errno) : "short file");
            return -BK_EIO;
        }
        done += (size_t)r;
    }
    return 0;
}

int bk_log_offset_for_time(bk_log *log, int64_t ts, int64_t *offset,
                           int64_t *timestamp)
{
    *timestamp = -1;
    if (ts == BK_LOG_LATEST_TIMESTAMP) {
        *offset = leo(log);
        return 0;
    }
    if (ts == BK_LOG_EARLIEST_TIMESTAMP) {
        *offset = log->log_start;
        return 0;
    }
    if (ts < 0)
        return -BK_EINVAL;
    for (size_t i = floor_seg(log, log->log_start); i < log->nsegs; i++) {
        bk_seg *s = log->segs[i];
        int rc = bk_seg_load(s);
        if (rc != 0)
            return rc;
        if (s->max_ts < ts)
            continue;
        rc = bk_seg_find_time(s, ts, log->log_start,
                              (size_t)log->cfg.max_uncompressed_bytes, offset,
                              timestamp);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return 0;
    }
    return -BK_ENOENT;
}

/* ---------------------------- truncation ---------------------------- */

int bk_log_truncate_fully(bk_log *log, int64_t new_start)
{
    if (new_start < 0)
        return -BK_EINVAL;
    log->fresh = false;
    BK_WARN(MOD,
            "%s: truncating fully (offsets %" PRId64 "..%" PRId64
            " removed) and restarting at %" PRId64,
            log->name, log->log_start, leo(log), new_start);
    int rc = 0;
    while (log->nsegs > 0) {
        int r = drop_seg(log, log->nsegs - 1);
        if (r != 0 && rc == 0)
            rc = r;
    }
    bk_epoch_clear(&log->epochs);
    int r = epoch_flush(log);
    if (rc == 0)
        rc = r;
    /* a log with no segment is not a log: create the new one even after
     * a failed delete, so the invariants hold */
    r = new_segment(log, new_start);
    if (r != 0) {
        BK_ERROR(MOD, "%s: cannot create a segment at %" PRId64 ": %s",
                 log->name, new_start, bk_strerror(r));
        return r; /* the log is unusable: the caller must close it */
    }
    log->log_start = log->recovery_point = new_start;
    r = sync_dir(log);
    return rc ? rc : r;
}

int bk_log_truncate(bk_log *log, int64_t offset)
{
    if (offset < 0)
        return -BK_EINVAL;
    int64_t end = leo(log);
    if (offset >= end)
        return 0;
    if (offset < log->log_start)
        return bk_log_truncate_fully(log, offset);
    int rc = 0;
    size_t dropped = 0;
    while (log->nsegs > 1 && active(log)->base > offset) {
        rc = drop_seg(log, log->nsegs - 1);
        dropped++;
        if (rc != 0)
            return rc;
    }
    bk_seg *a = active(log);
    rc = bk_seg_load(a);
    if (rc == 0)
        rc = bk_seg_truncate(a, offset);
    if (rc != 0)
        return rc;
    a->created_ms = bk_clock_wall_ms();
    BK_INFO(MOD,
            "%s: truncated to offset %" PRId64 " (asked %" PRId64
            ", was %" PRId64 ", %zu segment(s) deleted)",
            log->name, leo(log), offset, end, dropped);
    if (log->log_start > leo(log))
        log->log_start = leo(log); /* the cut batch straddled the start */
    if (log->recovery_point > leo(log))
        log->recovery_point = leo(log);
    bk_epoch_truncate_from_end(&log->epochs, leo(log));
    rc = epoch_flush(log);
    /* make the cut durable: a deleted segment that came back after a
     * power loss would bring back records the leader does not have */
    if (rc == 0)
        rc = bk_seg_sync(a, true);
    if (rc == 0)
        rc = sync_dir(log);
    return rc;
}

/* ---------------------------- retention ---------------------------- */

static int delete_oldest(bk_log *log, size_t k, const char *why)
{
    int rc = 0;
    for (size_t i = 0; i < k; i++) {
        bk_seg *s = log->segs[0];
        BK_INFO(MOD,
                "%s: deleting segment %" PRId64 " (%" PRIu64 " bytes) by %s",
                log->name, s->base, s->size, why);
        int r = drop_seg(log, 0);
        if (r != 0 && rc == 0)
            rc = r;
    }
    if (log->log_start < log->segs[0]->base)
        log->log_start = log->segs[0]->base;
    bk_epoch_truncate_from_start(&log->epochs, log->log_start);
    int r = epoch_flush(log);
    return rc ? rc : r;
}

static int64_t seg_time(bk_seg *s)
{
    if (bk_seg_load(s) == 0 && s->max_ts >= 0)
        return s->max_ts;
    /* no timestamps (or unreadable): the file's age, as Kafka */
    struct stat st;
    if (stat(s->log_path, &st) != 0)
        return INT64_MAX; /* unknown: never expire on a guess */
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

int bk_log_retain(bk_log *log, int64_t now_ms, int *deleted)
{
    int total = 0, rc = 0;
    size_t k;

    /* segments wholly below the log start offset */
    for (k = 0; k + 1 < log->nsegs && log->segs[k + 1]->base <= log->log_start;
         k++)
        ;
    if (k) {
        total += (int)k;
        rc = delete_oldest(log, k, "log start offset");
    }
    if (rc == 0 && log->cfg.retention_ms >= 0) {
        for (k = 0; k + 1 < log->nsegs &&
                    now_ms - seg_time(log->segs[k]) > log->cfg.retention_ms;
             k++)
            ;
        if (k) {
            total += (int)k;
            rc = delete_oldest(log, k, "retention.ms");
        }
    }
    if (rc == 0 && log->cfg.retention_bytes >= 0) {
        uint64_t size = bk_log_size(log);
        for (k = 0;
             k + 1 < log->nsegs &&
             size - log->segs[k]->size >= (uint64_t)log->cfg.retention_bytes;
             k++)
            size -= log->segs[k]->size;
        if (k) {
            total += (int)k;
            rc = delete_oldest(log, k, "retention.bytes");
        }
    }
    if (deleted)
        *deleted = total;
    return rc;
}

int bk_log_advance_start(bk_log *log, int64_t offset)
{
    if (offset > leo(log))
        return -BK_ERANGE;
    if (offset <= log->log_start)
        return 0;
    log->log_start = offset;
    bk_epoch_truncate_from_start(&log->epochs, offset);
    return epoch_flush(log);
}

/* ------------------------------ flush ------------------------------ */

int bk_log_flush(bk_log *log)
{
    int rc = 0;
    if (log->fresh) {
        /* nothing was ever written: nothing to make durable */
        log->last_flush_ms = bk_clock_mono_ms();
        return 0;
    }
    for (size_t i = floor_seg(log, log->recovery_point); i < log->nsegs; i++) {
        int r = bk_seg_sync(log->segs[i], true);
        if (r != 0 && rc == 0)
            rc = r;
    }
    int r = sync_dir(log);
    if (rc == 0)
        rc = r;
    if (rc == 0) {
        log->recovery_point = leo(log);
        log->unflushed = 0;
    }
    log->last_flush_ms = bk_clock_mono_ms();
    return rc;
}

/* ------------------------------ accessors ------------------------------ */

int64_t bk_log_start_offset(const bk_log *log)
{
    return log->log_start;
}

int64_t bk_log_end_offset(const bk_log *log)
{
    return leo(log);
}

int64_t bk_log_recovery_point(const bk_log *log)
{
    return log->recovery_point;
}

uint64_t bk_log_size(const bk_log *log)
{
    uint64_t n = 0;
    for (size_t i = 0; i < log->nsegs; i++)
        n += log->segs[i]->size;
    return n;
}

int bk_log_segment_count(const bk_log *log)
{
    return (int)log->nsegs;
}

int64_t bk_log_segment_base(const bk_log *log, int i)
{
    assert(i >= 0 && (size_t)i < log->nsegs);
    return log->segs[i]->base;
}

uint64_t bk_log_segment_size(const bk_log *log, int i)
{
    assert(i >= 0 && (size_t)i < log->nsegs);
    return log->segs[i]->size;
}

const char *bk_log_dir(const bk_log *log)
{
    return log->dir;
}

int32_t bk_log_latest_epoch(const bk_log *log)
{
    return bk_epoch_latest(&log->epochs);
}

void bk_log_end_offset_for_epoch(const bk_log *log, int32_t epoch,
                                 int32_t *out_epoch, int64_t *end_offset)
{
    bk_epoch_end_offset(&log->epochs, epoch, leo(log), out_epoch, end_offset);
}

int bk_log_epoch_count(const bk_log *log)
{
    return (int)log->epochs.n;
}

void bk_log_epoch_entry(const bk_log *log, int i, int32_t *epoch,
                        int64_t *start_offset)
{
    assert(i >= 0 && (size_t)i < log->epochs.n);
    *epoch = log->epochs.v[i].epoch;
    *start_offset = log->epochs.v[i].start_offset;
}
