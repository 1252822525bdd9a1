/*
 * segment.c -- one log segment: batches in a file plus sparse indexes
 * (see segment.h).
 *
 * Everything that walks batches goes through seg_walk(): from a batch
 * boundary it reads headers (and, when verifying, whole batches for the
 * CRC) through a buffered pread reader, checks that each batch is sane and
 * follows the previous one, and feeds it to account(), the one place that
 * decides index entries.  Appends call account() too, so a rebuilt index
 * is the index the appends would have written.
 *
 * Walks resume after an index entry rather than from the segment start
 * when the index can be trusted (seg_resume): the state after a batch
 * that has an offset-index entry is fully known from the indexes (next
 * offset from the entry's key, largest timestamp from the time index,
 * bytes since the last entry = that batch's size).
 */
#include "broker/segment.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/logging.h"

/* Read sizes of the buffered reader: verifying walks read whole batches,
 * header walks and lookups mostly need 61 bytes every few KiB. */
#define RD_CHUNK_VERIFY  (1u << 20)
#define RD_CHUNK_HEADERS (64u << 10)
#define RD_CHUNK_FIND    (8u << 10)
/* Unsynced index bytes that trigger a (non-durable) index write. */
#define IDX_WRITE_BATCH 4096

/* ---------------------------- names and paths ---------------------------- */

int bk_seg_path(char *out, size_t outlen, const char *dir, int64_t base,
                const char *ext)
{
    assert(base >= 0);
    int n = snprintf(out, outlen, "%s/%020" PRId64 ".%s", dir, base, ext);
    return n < 0 || (size_t)n >= outlen ? -BK_EINVAL : 0;
}

bool bk_seg_parse_name(const char *name, const char *ext, int64_t *base)
{
    size_t elen = strlen(ext);
    if (strlen(name) != BK_SEG_NAME_DIGITS + 1 + elen ||
        name[BK_SEG_NAME_DIGITS] != '.' ||
        strcmp(name + BK_SEG_NAME_DIGITS + 1, ext) != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < BK_SEG_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        unsigned d = (unsigned)(name[i] - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *base = (int64_t)v;
    return true;
}

/* ------------------------------ the reader ------------------------------ */

typedef struct seg_rd {
    int fd;
    uint64_t limit; /* bytes of the file that may be read */
    size_t chunk;   /* preferred read size */
    uint8_t *buf;
    size_t cap;
    uint64_t start; /* file position of buf[0] */
    size_t len;     /* valid bytes in buf */
} seg_rd;

static void rd_init(seg_rd *r, int fd, uint64_t limit, size_t chunk)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->limit = limit;
    r->chunk = chunk;
}

static void rd_free(seg_rd *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* Pointer to the n bytes at pos.  NULL with *rc = 0 when they go past the
 * limit, -BK_EIO or -BK_ENOMEM otherwise. */
static const uint8_t *rd_get(seg_rd *r, uint64_t pos, size_t n, int *rc)
{
    *rc = 0;
    if (pos > r->limit || n > r->limit - pos)
        return NULL;
    if (pos >= r->start && pos - r->start + n <= r->len)
        return r->buf + (pos - r->start);
    size_t want = n > r->chunk ? n : r->chunk;
    if (want > r->limit - pos)
        want = (size_t)(r->limit - pos);
    if (want > r->cap) {
        uint8_t *b = realloc(r->buf, want);
        if (!b) {
            *rc = -BK_ENOMEM;
            return NULL;
        }
        r->buf = b;
        r->cap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t k = pread(r->fd, r->buf + got, want - got, (off_t)(pos + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            /* the file is shorter than we were told: someone else cut it */
            r->len = 0;
            *rc = -BK_EIO;
            return NULL;
        }
        got += (size_t)k;
    }
    r->start = pos;
    r->len = got;
    return r->buf;
}

/* ------------------------------ bookkeeping ------------------------------ */

/* Records the batch h at pos as the segment's newest: the one place that
 * adds index entries (Kafka's rule: an entry when more than the interval
 * was written since the last one, checked before adding the batch). */
static void account(bk_seg *s, uint64_t pos, const bk_batch_header *h)
{
    int64_t last = bk_batch_last_offset(h);
    assert(last >= s->next_offset && last - s->base <= BK_SEG_MAX_REL);
    assert(pos + bk_batch_size(h) <= BK_SEG_MAX_BYTES);
    if (pos == 0)
        s->first_ts = h->max_timestamp;
    if (h->max_timestamp > s->max_ts)
        s->max_ts = h->max_timestamp;
    if (s->since_index >= s->interval) {
        /* an index is only a hint: without memory we skip the entry */
        if (bk_idx_append(&s->oidx, last - s->base, (uint32_t)pos) == 0) {
            int64_t tk;
            if (s->max_ts >= 0 &&
                (!bk_idx_last(&s->tidx, &tk, NULL) || s->max_ts > tk))
                (void)bk_idx_append(&s->tidx, s->max_ts,
                                    (uint32_t)(last - s->base));
            s->since_index = 0;
        }
    }
    s->since_index += bk_batch_size(h);
    s->next_offset = last + 1;
}

static void reset_state(bk_seg *s)
{
    bk_idx_truncate(&s->oidx, 0);
    bk_idx_truncate(&s->tidx, 0);
    s->next_offset = s->base;
    s->max_ts = -1;
    s->first_ts = -1;
    s->since_index = 0;
}

/* ------------------------------- fd cache ------------------------------- */

/* Segments whose .log fd is open, in a doubly linked list, most recently
 * used first (see segment.h: why, and why dropping a dirty fd is safe).
 * Intrusive, so a hit, an open and a close are O(1) and allocate
 * nothing. */
static struct {
    bk_seg *head, *tail; /* newest, oldest */
    size_t open;         /* segments in the list */
    size_t cap;          /* 0 until first use */
    uint64_t opens, evictions;
} fdc;

#define FDC_MIN_DEFAULT 16

static size_t fdc_capacity(void)
{
    if (fdc.cap == 0) {
        struct rlimit rl;
        size_t n = FDC_MIN_DEFAULT;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
            if (rl.rlim_cur == RLIM_INFINITY)
                n = (size_t)1 << 20;
            else if (rl.rlim_cur / 2 > n)
                n = (size_t)(rl.rlim_cur / 2);
        }
        fdc.cap = n;
    }
    return fdc.cap;
}

static void fdc_unlink(bk_seg *s)
{
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        fdc.head = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        fdc.tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void fdc_push_front(bk_seg *s)
{
    s->lru_prev = NULL;
    s->lru_next = fdc.head;
    if (fdc.head)
        fdc.head->lru_prev = s;
    fdc.head = s;
    if (!fdc.tail)
        fdc.tail = s;
}

/* Closes s's fd, if open, and takes it out of the cache. */
static void fdc_drop(bk_seg *s)
{
    if (s->fd < 0)
        return;
    assert(fdc.open > 0);
    fdc_unlink(s);
    close(s->fd);
    s->fd = -1;
    fdc.open--;
}

/* Closes least recently used fds until at most `keep` are open. */
static void fdc_trim(size_t keep)
{
    while (fdc.open > keep) {
        assert(fdc.tail != NULL);
        fdc_drop(fdc.tail);
        fdc.evictions++;
    }
}

bool bk_seg_fd_cache_shed(void)
{
    if ((errno != EMFILE && errno != ENFILE) || fdc.open == 0)
        return false;
    /* the cache is larger than what the process can have besides its
     * sockets and other files: give back half of it */
    BK_WARN("seg",
            "out of file descriptors with %zu segment files open: closing "
            "half of them",
            fdc.open);
    fdc_trim(fdc.open / 2);
    return true;
}

int bk_seg_open_file(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0 && bk_seg_fd_cache_shed())
        fd = open(path, flags | O_CLOEXEC, 0644);
    return fd;
}

/* Opens s's .log with O_RDWR | flags into the cache (s has no fd).  0, or
 * -1 with errno. */
static int fdc_open(bk_seg *s, int flags)
{
    assert(s->fd < 0);
    size_t cap = fdc_capacity();
    fdc_trim(cap - 1);
    int fd = bk_seg_open_file(s->log_path, O_RDWR | flags);
    if (fd < 0)
        return -1;
    s->fd = fd;
    fdc_push_front(s);
    fdc.open++;
    fdc.opens++;
    return 0;
}

int bk_seg_fd(bk_seg *s)
{
    if (s->fd >= 0) {
        if (fdc.head != s) {
            fdc_unlink(s);
            fdc_push_front(s);
        }
        return s->fd;
    }
    if (fdc_open(s, 0) != 0) {
        BK_ERROR("seg", "cannot open %s: %s", s->log_path, strerror(errno));
        return -BK_EIO;
    }
    return s->fd;
}

void bk_seg_fd_cache_set(size_t capacity)
{
    fdc.cap = capacity;
    fdc_trim(fdc_capacity());
}

void bk_seg_fd_cache_stats(bk_seg_fd_stats *st)
{
    st->capacity = fdc_capacity();
    st->open = fdc.open;
    st->opens = fdc.opens;
    st->evictions = fdc.evictions;
}

/* ---------------------------- life cycle ---------------------------- */

static int seg_alloc(const char *dir, int64_t base, uint32_t interval,
                     bk_seg **out)
{
    char path[4096];
    bk_seg *s = calloc(1, sizeof *s);
    if (!s)
        return -BK_ENOMEM;
    s->fd = -1;
    s->base = base;
    s->interval = interval;
    s->next_offset = base;
    s->max_ts = -1;
    s->first_ts = -1;
    s->created_ms = 0;
    int rc = bk_seg_path(path, sizeof path, dir, base, "log");
    if (rc == 0 && !(s->log_path = strdup(path)))
        rc = -BK_ENOMEM;
    if (rc == 0)
        rc = bk_seg_path(path, sizeof path, dir, base, "index");
    if (rc == 0)
        rc = bk_idx_init(&s->oidx, path, BK_IDX_OFFSET);
    if (rc == 0)
        rc = bk_seg_path(path, sizeof path, dir, base, "timeindex");
    if (rc == 0)
        rc = bk_idx_init(&s->tidx, path, BK_IDX_TIME);
    if (rc != 0) {
        bk_idx_free(&s->oidx);
        bk_idx_free(&s->tidx);
        free(s->log_path);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int bk_seg_create(const char *dir, int64_t base, uint32_t interval,
                  bk_seg **out)
{
    bk_seg *s;
    int rc = seg_alloc(dir, base, interval, &s);
    if (rc != 0)
        return rc;
    rc = fdc_open(s, O_CREAT | O_EXCL);
    if (rc < 0) {
        rc = errno == EEXIST ? -BK_EEXIST : -BK_EIO;
        BK_ERROR("seg", "cannot create %s: %s", s->log_path, strerror(errno));
        bk_seg_close(s);
        return rc;
    }
    s->loaded = true;
    s->dirty = true;
    /* index files are created (or emptied of stale bytes) by the first
     * sync */
    *out = s;
    return 0;
}

int bk_seg_open(const char *dir, int64_t base, uint64_t size, uint32_t interval,
                bk_seg **out)
{
    int rc = seg_alloc(dir, base, interval, out);
    if (rc == 0)
        (*out)->size = size;
    return rc;
}

void bk_seg_close(bk_seg *s)
{
    if (!s)
        return;
    if (s->loaded)
        (void)bk_seg_sync(s, false);
    fdc_drop(s);
    bk_idx_free(&s->oidx);
    bk_idx_free(&s->tidx);
    free(s->log_path);
    free(s);
}

int bk_seg_delete(bk_seg *s)
{
    int rc = 0;
    if (bk_idx_unlink(&s->oidx) != 0 || bk_idx_unlink(&s->tidx) != 0)
        rc = -BK_EIO;
    if (unlink(s->log_path) != 0 && errno != ENOENT)
        rc = -BK_EIO;
    if (rc != 0)
        BK_ERROR("seg", "cannot delete %s: %s", s->log_path, strerror(errno));
    s->loaded = false; /* nothing left to sync */
    bk_seg_close(s);
    return rc;
}

/* ------------------------------- walking ------------------------------- */

/* Checks the batch header at pos against what must follow: returns NULL
 * when acceptable, else a static reason. */
static const char *check_next(const bk_seg *s, uint64_t pos, uint64_t limit,
                              const bk_batch_header *h)
{
    uint64_t size = bk_batch_size(h);
    if (size > limit - pos)
        return "batch extends past the end of the file";
    if (pos + size > BK_SEG_MAX_BYTES)
        return "batch ends beyond the segment size limit";
    if (h->base_offset < s->next_offset)
        return "base offset does not follow the previous batch";
    if (bk_batch_last_offset(h) - s->base > BK_SEG_MAX_REL)
        return "offset too far from the segment base";
    return NULL;
}

/* Walks batches from the boundary pos up to limit, accounting each.
 * Verifying walks also check the CRC and hand batches to fn.  *stop is
 * where the walk ended (limit, or the start of the first bad batch, with
 * *why set).  0, -BK_EIO, -BK_ENOMEM. */
static int seg_walk(bk_seg *s, uint64_t pos, uint64_t limit, bool verify,
                    bk_seg_batch_fn fn, void *arg, uint64_t *stop,
                    const char **why)
{
    seg_rd r;
    int rc = 0;
    *why = NULL;
    if (pos >= limit) {
        *stop = pos;
        return 0;
    }
    int fd = bk_seg_fd(s);
    if (fd < 0)
        return fd;
    rd_init(&r, fd, limit, verify ? RD_CHUNK_VERIFY : RD_CHUNK_HEADERS);
    while (pos < limit) {
        bk_batch_header h;
        const uint8_t *p = rd_get(&r, pos, BK_BATCH_HEADER_SIZE, &rc);
        if (!p) {
            if (rc == 0)
                *why = "partial batch header at the end of the file";
            break;
        }
        int prc = bk_batch_parse_header(p, BK_BATCH_HEADER_SIZE, &h);
        if (prc != 0) {
            *why = prc == -BK_EUNSUPPORTED ? "unsupported batch magic"
                                           : "malformed batch header";
            break;
        }
        if ((*why = check_next(s, pos, limit, &h)) != NULL)
            break;
        size_t size = bk_batch_size(&h);
        if (verify) {
            p = rd_get(&r, pos, size, &rc);
            if (!p)
                break; /* rc < 0: check_next made sure it fits */
            if (bk_batch_check_crc(p, size) != 0) {
                *why = "CRC mismatch";
                break;
            }
            if (fn)
                fn(arg, &h);
        }
        account(s, pos, &h);
        pos += size;
    }
    rd_free(&r);
    *stop = pos;
    return rc;
}

/* Sets the walking state to "just after the batch of offset-index entry
 * e" (dropping later entries), or to an empty segment when e < 0.  *pos is
 * where a walk continues.  -BK_ECORRUPT when entry e does not name a
 * whole batch with that last offset. */
static int seg_resume(bk_seg *s, ssize_t e, uint64_t limit, uint64_t *pos)
{
    if (e < 0) {
        reset_state(s);
        *pos = 0;
        return 0;
    }
    int64_t key;
    uint32_t at;
    bk_batch_header h;
    bk_idx_get(&s->oidx, (size_t)e, &key, &at);
    if (at >= limit)
        return -BK_ECORRUPT;
    int rc = bk_seg_read_header(s, at, &h);
    if (rc != 0)
        return rc == -BK_EIO ? rc : -BK_ECORRUPT;
    if (bk_batch_last_offset(&h) != s->base + key || h.base_offset < s->base ||
        bk_batch_size(&h) > limit - at)
        return -BK_ECORRUPT;
    bk_idx_truncate(&s->oidx, (size_t)e + 1);
    /* time entries up to this batch's offset describe batches up to it */
    bk_idx_truncate(&s->tidx,
                    (size_t)(bk_idx_floor_val(&s->tidx, (uint32_t)key) + 1));
    int64_t tk;
    s->max_ts = bk_idx_last(&s->tidx, &tk, NULL) ? tk : -1;
    s->next_offset = s->base + key + 1;
    s->since_index = bk_batch_size(&h);
    *pos = at + bk_batch_size(&h);
    return 0;
}

static int load_first_ts(bk_seg *s)
{
    bk_batch_header h;
    s->first_ts = -1;
    if (s->size == 0)
        return 0;
    int rc = bk_seg_read_header(s, 0, &h);
    if (rc == 0)
        s->first_ts = h.max_timestamp;
    return rc == -BK_EIO ? rc : 0;
}

static int file_size(bk_seg *s, uint64_t *size)
{
    struct stat st;
    int fd = bk_seg_fd(s);
    if (fd < 0)
        return fd;
    if (fstat(fd, &st) != 0)
        return -BK_EIO;
    *size = (uint64_t)st.st_size;
    return 0;
}

/* Loads both index files with the checks that make them usable, for a file
 * of fsize bytes. 0, -BK_ECORRUPT/-BK_ENOENT (rebuild), -BK_EIO/ENOMEM. */
static int load_indexes(bk_seg *s, uint64_t fsize)
{
    int64_t max_pos =
        fsize
            ? (int64_t)(fsize > BK_SEG_MAX_BYTES ? BK_SEG_MAX_BYTES : fsize - 1)
            : -1;
    int rc = bk_idx_load(&s->oidx, BK_SEG_MAX_REL, max_pos);
    if (rc == 0)
        rc = bk_idx_load(&s->tidx, INT64_MAX, BK_SEG_MAX_REL);
    if (rc != 0) {
        bk_idx_truncate(&s->oidx, 0);
        bk_idx_truncate(&s->tidx, 0);
    }
    return rc;
}

int bk_seg_load(bk_seg *s)
{
    if (s->loaded)
        return 0;
    uint64_t fsize, pos, stop;
    const char *why;
    int rc = file_size(s, &fsize);
    if (rc != 0)
        return rc;
    if (fsize > BK_SEG_MAX_BYTES)
        fsize = BK_SEG_MAX_BYTES; /* the rest cannot be indexed: not ours */
    s->size = fsize;
    rc = load_indexes(s, fsize);
    if (rc == 0) {
        ssize_t e = (ssize_t)bk_idx_count(&s->oidx) - 1;
        rc = seg_resume(s, e, fsize, &pos);
    }
    if (rc == -BK_ENOENT || rc == -BK_ECORRUPT) {
        BK_WARN("seg", "%s: index %s, rebuilding it from the log", s->log_path,
                rc == -BK_ENOENT ? "missing" : "corrupt");
        rc = seg_resume(s, -1, fsize, &pos);
    }
    if (rc != 0)
        return rc;
    rc = seg_walk(s, pos, fsize, false, NULL, NULL, &stop, &why);
    if (rc != 0)
        return rc;
    if (why) {
        /* trusted data (below the recovery point) that does not parse:
         * nothing we can fix here without losing the later segments, so
         * serve the good prefix and say so loudly */
        BK_ERROR("seg",
                 "%s: %s at position %" PRIu64 " (below the recovery point); "
                 "serving only the first %" PRIu64 " bytes",
                 s->log_path, why, stop, stop);
        s->size = stop;
    }
    rc = load_first_ts(s);
    if (rc != 0)
        return rc;
    s->loaded = true;
    return bk_seg_seal(s);
}

int bk_seg_recover(bk_seg *s, int64_t rp, bk_seg_batch_fn fn, void *arg,
                   bool *damaged)
{
    uint64_t fsize, pos = 0, stop;
    const char *why;
    *damaged = false;
    int rc = file_size(s, &fsize);
    if (rc != 0)
        return rc;
    uint64_t limit = fsize > BK_SEG_MAX_BYTES ? BK_SEG_MAX_BYTES : fsize;
    s->size = limit;
    s->loaded = false;
    rc = -BK_ENOENT;
    if (rp > s->base) {
        /* resume after the last indexed batch wholly below rp */
        rc = load_indexes(s, limit);
        if (rc == 0) {
            int64_t rel = rp - 1 - s->base;
            ssize_t e = bk_idx_floor_key(
                &s->oidx, rel > BK_SEG_MAX_REL ? BK_SEG_MAX_REL : rel);
            rc = seg_resume(s, e, limit, &pos);
        }
        if (rc == -BK_EIO || rc == -BK_ENOMEM)
            return rc;
        if (rc != 0)
            BK_WARN("seg", "%s: index %s, verifying the whole segment",
                    s->log_path, rc == -BK_ENOENT ? "missing" : "corrupt");
    }
    if (rc != 0)
        (void)seg_resume(s, -1, limit, &pos);
    rc = seg_walk(s, pos, limit, true, fn, arg, &stop, &why);
    if (rc != 0)
        return rc;
    if (stop < fsize) {
        if (!why)
            why = "beyond the segment size limit";
        BK_WARN("seg",
                "%s: %s at position %" PRIu64 " (offset %" PRId64
                "): truncating %" PRIu64 " bytes",
                s->log_path, why, stop, s->next_offset, fsize - stop);
        int fd = bk_seg_fd(s);
        if (fd < 0)
            return fd;
        if (ftruncate(fd, (off_t)stop) != 0) {
            BK_ERROR("seg", "%s: cannot truncate: %s", s->log_path,
                     strerror(errno));
            return -BK_EIO;
        }
        *damaged = true;
    }
    s->size = stop;
    s->dirty = true;
    rc = load_first_ts(s);
    if (rc != 0)
        return rc;
    s->loaded = true;
    return bk_seg_seal(s);
}

/* ---------------------------- appending ---------------------------- */

int bk_seg_append(bk_seg *s, const uint8_t *data, size_t len)
{
    assert(s->loaded);
    assert(s->size + len <= BK_SEG_MAX_BYTES);
    int fd = bk_seg_fd(s);
    if (fd < 0)
        return fd;
    size_t done = 0;
    while (done < len) {
        ssize_t w =
            pwrite(fd, data + done, len - done, (off_t)(s->size + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            /* leave no partial batch behind: the file ends where the
             * segment says it does */
            if (ftruncate(fd, (off_t)s->size) != 0)
                BK_ERROR("seg", "%s: cannot undo a failed write: %s",
                         s->log_path, strerror(errno));
            BK_ERROR("seg", "%s: write failed: %s", s->log_path, strerror(e));
            errno = e;
            return -BK_EIO;
        }
        done += (size_t)w;
    }
    /* the bytes were validated by the log: parse only what accounting
     * needs, with the same checked parser */
    size_t off = 0;
    while (off < len) {
        bk_batch_header h;
        int rc = bk_batch_parse_header(data + off, len - off, &h);
        assert(rc == 0 && bk_batch_size(&h) <= len - off);
        (void)rc;
        account(s, s->size + off, &h);
        off += bk_batch_size(&h);
    }
    s->size += len;
    s->dirty = true;
    if (bk_idx_unsynced(&s->oidx) >= IDX_WRITE_BATCH ||
        bk_idx_unsynced(&s->tidx) >= IDX_WRITE_BATCH)
        (void)bk_seg_sync(s, false); /* a failure here is retried later */
    return 0;
}

int bk_seg_seal(bk_seg *s)
{
    int64_t tk;
    if (!s->loaded || s->next_offset == s->base || s->max_ts < 0)
        return 0;
    if (bk_idx_last(&s->tidx, &tk, NULL) && s->max_ts <= tk)
        return 0;
    return bk_idx_append(&s->tidx, s->max_ts,
                         (uint32_t)(s->next_offset - 1 - s->base));
}

int bk_seg_sync(bk_seg *s, bool durable)
{
    if (!s->loaded)
        return 0; /* nothing in memory that the files lack */
    bool flush = durable && s->dirty;
    int rc = bk_idx_sync(&s->oidx, flush);
    if (rc == 0)
        rc = bk_idx_sync(&s->tidx, flush);
    if (rc == 0 && flush) {
        int fd = bk_seg_fd(s);
        if (fd < 0)
            return fd;
        if (fdatasync(fd) != 0)
            rc = -BK_EIO;
        else
            s->dirty = false;
    }
    if (rc != 0)
        BK_ERROR("seg", "%s: sync failed: %s", s->log_path, strerror(errno));
    return rc;
}

/* ---------------------------- reading ---------------------------- */

int bk_seg_read_header(bk_seg *s, uint64_t pos, bk_batch_header *h)
{
    uint8_t buf[BK_BATCH_HEADER_SIZE];
    int fd = bk_seg_fd(s);
    if (fd < 0)
        return fd;
    if (pos > s->size || s->size - pos < BK_BATCH_HEADER_SIZE)
        return -BK_ECORRUPT;
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t r = pread(fd, buf + got, sizeof buf - got, (off_t)(pos + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -BK_EIO : -BK_ECORRUPT;
        got += (size_t)r;
    }
    if (bk_batch_parse_header(buf, sizeof buf, h) != 0)
        return -BK_ECORRUPT;
    if (bk_batch_size(h) > s->size - pos)
        return -BK_ECORRUPT;
    return 0;
}

/* Header at pos through the reader (bounds: the segment size). */
static int rd_header(seg_rd *r, uint64_t pos, bk_batch_header *h)
{
    int rc;
    const uint8_t *p = rd_get(r, pos, BK_BATCH_HEADER_SIZE, &rc);
    if (!p)
        return rc ? rc : -BK_ECORRUPT;
    if (bk_batch_parse_header(p, BK_BATCH_HEADER_SIZE, h) != 0 ||
        bk_batch_size(h) > r->limit - pos)
        return -BK_ECORRUPT;
    return 0;
}

/* Position of an offset-index entry at or before the batch of offset;
 * *key (may be NULL) gets the entry's absolute last offset, or -1 when
 * the walk must start at the segment's first batch. */
static uint64_t index_floor(const bk_seg *s, int64_t offset, int64_t *key)
{
    int64_t rel = offset - s->base;
    int64_t k = -1;
    uint32_t pos = 0;
    if (rel >= 0) {
        ssize_t e = bk_idx_floor_key(
            &s->oidx, rel > BK_SEG_MAX_REL ? BK_SEG_MAX_REL : rel);
        if (e >= 0) {
            bk_idx_get(&s->oidx, (size_t)e, &k, &pos);
            k += s->base;
        }
    }
    if (key)
        *key = k;
    return pos;
}

/* Does the batch at pos have last offset `last`?  (An index that passed
 * the load checks can still lie in the middle: every entry a lookup
 * starts from is checked against the batch it names.) */
static bool entry_ok(bk_seg *s, seg_rd *r, uint64_t pos, int64_t last)
{
    bk_batch_header h;
    if (rd_header(r, pos, &h) == 0 && bk_batch_last_offset(&h) == last)
        return true;
    /* rebuild rather than warn at every lookup through the bad entry */
    BK_WARN("seg",
            "%s: index entry (offset %" PRId64 ", position %" PRIu64
            ") does not match the log: rebuilding the indexes",
            s->log_path, last, pos);
    uint64_t size = s->size, p, stop;
    const char *why;
    (void)seg_resume(s, -1, size, &p);
    int rc = seg_walk(s, 0, size, false, NULL, NULL, &stop, &why);
    if (rc == 0 && why) {
        BK_ERROR("seg",
                 "%s: %s at position %" PRIu64 "; serving only the "
                 "first %" PRIu64 " bytes",
                 s->log_path, why, stop, stop);
        s->size = stop;
    }
    if (rc == 0)
        (void)bk_seg_seal(s);
    return false;
}

/* index_floor() checked with entry_ok(); after a rebuild the new index is
 * used. */
static uint64_t checked_floor(bk_seg *s, seg_rd *r, int64_t offset)
{
    int64_t key;
    uint64_t p = index_floor(s, offset, &key);
    if (key < 0 || entry_ok(s, r, p, key))
        return p;
    return index_floor(s, offset, NULL);
}

int bk_seg_find(bk_seg *s, int64_t offset, uint64_t *pos, bk_batch_header *h)
{
    assert(s->loaded);
    if (offset >= s->next_offset)
        return 0;
    int fd = bk_seg_fd(s);
    if (fd < 0)
        return fd;
    seg_rd r;
    rd_init(&r, fd, s->size, RD_CHUNK_FIND);
    uint64_t p = checked_floor(s, &r, offset);
    int rc = 0;
    while (p < s->size) {
        if ((rc = rd_header(&r, p, h)) != 0)
            break;
        if (bk_batch_last_offset(h) >= offset) {
            *pos = p;
            rc = 1;
            break;
        }
        p += bk_batch_size(h);
    }
    rd_free(&r);
    return rc;
}

int bk_seg_read_end(bk_seg *s, uint64_t start, const bk_batch_header *first,
                    size_t max_bytes, int64_t max_offset, uint64_t *end,
                    int64_t *next)
{
    assert(s->loaded);
    if (max_offset >= 0 && bk_batch_last_offset(first) >= max_offset) {
        *end = start; /* not even the first batch may be read yet */
        *next = first->base_offset;
        return 0;
    }
    uint64_t e = start + bk_batch_size(first); /* KIP-74: at least one */
    int64_t n = bk_batch_last_offset(first) + 1;
    uint64_t limit = max_bytes > s->size - start ? s->size : start + max_bytes;
    /* jump over whole batches with the index: an entry's position is a
     * batch start, and everything from start to it is whole batches whose
     * last offsets are <= the entry's key */
    ssize_t i = bk_idx_floor_val(&s->oidx, (uint32_t)limit);
    if (max_offset >= 0) {
        int64_t rel = max_offset - 1 - s->base;
        ssize_t j = rel < 0 ? -1
                            : bk_idx_floor_key(&s->oidx, rel > BK_SEG_MAX_REL
                                                             ? BK_SEG_MAX_REL
                                                             : rel);
        if (j < i)
            i = j;
    }
    int fd = bk_seg_fd(s);
    if (fd < 0)
        return fd;
    seg_rd r;
    rd_init(&r, fd, s->size, RD_CHUNK_FIND);
    if (i >= 0) {
        uint32_t ipos;
        int64_t key;
        bk_idx_get(&s->oidx, (size_t)i, &key, &ipos);
        if (ipos > e && entry_ok(s, &r, ipos, s->base + key)) {
            /* what follows the run is learnt from the header at ipos in
             * the walk below */
            e = ipos;
            n = -1;
        }
    }
    int rc = 0;
    while (e < s->size) {
        bk_batch_header h;
        if ((rc = rd_header(&r, e, &h)) != 0)
            break;
        if (n < 0)
            n = h.base_offset; /* after the jump: what follows the slice */
        if (e >= limit || bk_batch_size(&h) > limit - e ||
            (max_offset >= 0 && bk_batch_last_offset(&h) >= max_offset))
            break;
        e += bk_batch_size(&h);
        n = bk_batch_last_offset(&h) + 1;
    }
    rd_free(&r);
    if (n < 0)
        n = s->next_offset; /* the jump reached the end of the segment */
    *end = e;
    *next = n;
    return rc;
}

int bk_seg_find_time(bk_seg *s, int64_t ts, int64_t min_offset,
                     size_t max_uncompressed, int64_t *offset,
                     int64_t *found_ts)
{
    assert(s->loaded);
    if (s->max_ts < ts || s->next_offset <= min_offset)
        return 0;
    int fd = bk_seg_fd(s);
    if (fd < 0)
        return fd;
    seg_rd r;
    rd_init(&r, fd, s->size, RD_CHUNK_FIND);
    /* every batch up to the time entry's offset has timestamps < ts */
    uint64_t p = 0;
    ssize_t t = bk_idx_floor_key(&s->tidx, ts - 1);
    if (t >= 0) {
        uint32_t rel;
        bk_idx_get(&s->tidx, (size_t)t, NULL, &rel);
        p = checked_floor(s, &r, s->base + rel);
    }
    if (min_offset > s->base) {
        uint64_t q = checked_floor(s, &r, min_offset);
        if (q > p)
            p = q;
    }
    int rc = 0;
    while (p < s->size && rc == 0) {
        bk_batch_header h;
        if ((rc = rd_header(&r, p, &h)) != 0)
            break;
        size_t size = bk_batch_size(&h);
        if (h.max_timestamp >= ts && bk_batch_last_offset(&h) >= min_offset) {
            /* the answer is a record of this batch (if its header tells
             * the truth): decode it */
            const uint8_t *b = rd_get(&r, p, size, &rc);
            if (!b)
                break;
            bk_batch_iter it;
            memset(&it, 0, sizeof it); /* so that free() is safe on error */
            rc = bk_batch_iter_init(&it, b, size, max_uncompressed);
            if (rc != 0) {
                bk_batch_iter_free(&it);
                break;
            }
            bk_record_view rec;
            while ((rc = bk_batch_iter_next(&it, &rec)) == 1) {
                if (rec.offset >= min_offset && rec.timestamp >= ts) {
                    *offset = rec.offset;
                    *found_ts = rec.timestamp;
                    break;
                }
            }
            bk_batch_iter_free(&it);
            /* 1: found; 0: the header's maxTimestamp lied, go on */
        }
        p += size;
    }
    rd_free(&r);
    return rc;
}

/* ---------------------------- truncation ---------------------------- */

int bk_seg_truncate(bk_seg *s, int64_t offset)
{
    uint64_t cut, pos, stop;
    bk_batch_header h;
    const char *why;
    assert(s->loaded);
    int rc = bk_seg_find(s, offset, &cut, &h);
    if (rc <= 0)
        return rc;
    int fd = bk_seg_fd(s);
    if (fd < 0)
        return fd;
    if (ftruncate(fd, (off_t)cut) != 0) {
        BK_ERROR("seg", "%s: cannot truncate: %s", s->log_path,
                 strerror(errno));
        return -BK_EIO;
    }
    s->size = cut;
    s->dirty = true;
    /* keep the index entries of batches before the cut and replay the
     * few batches after the last of them */
    ssize_t e = cut ? bk_idx_floor_val(&s->oidx, (uint32_t)(cut - 1)) : -1;
    rc = seg_resume(s, e, cut, &pos);
    if (rc == -BK_ECORRUPT)
        rc = seg_resume(s, -1, cut, &pos);
    if (rc != 0)
        return rc;
    rc = seg_walk(s, pos, cut, false, NULL, NULL, &stop, &why);
    if (rc == 0 && why) {
        BK_ERROR("seg", "%s: %s at position %" PRIu64 " while truncating",
                 s->log_path, why, stop);
        s->size = stop;
    }
    if (rc == 0)
        rc = load_first_ts(s);
    return rc;
}
