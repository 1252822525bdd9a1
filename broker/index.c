/*
 * index.c -- sparse segment indexes kept in memory in file format (see
 * index.h).
 *
 * Why memory and pwrite instead of a preallocated mmap (Kafka's way): the
 * file then always has exactly the entries written so far, so a crash never
 * leaves a tail of zeroes to tell apart from entries, and truncation is an
 * ftruncate of the same length.  Lookups are binary searches over the
 * in-memory copy.
 */
#include "broker/index.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/segment.h" /* bk_seg_open_file: the fd budget */
#include "common/err.h"

/* Largest index file we accept to load: an offset index of a 2 GiB
 * segment with a 1-byte interval is far beyond any real configuration. */
#define IDX_MAX_FILE (256u << 20)

int bk_idx_init(bk_idx *x, const char *path, bk_idx_kind kind)
{
    memset(x, 0, sizeof *x);
    x->unflushed = true; /* nothing known about the file yet */
    x->kind = kind;
    x->width = kind == BK_IDX_OFFSET ? BK_IDX_OFFSET_WIDTH : BK_IDX_TIME_WIDTH;
    bk_buf_init(&x->mem);
    x->path = strdup(path);
    return x->path ? 0 : -BK_ENOMEM;
}

void bk_idx_free(bk_idx *x)
{
    bk_buf_free(&x->mem);
    free(x->path);
    x->path = NULL;
}

static int64_t key_at(const bk_idx *x, size_t i)
{
    const uint8_t *p = x->mem.data + i * x->width;
    if (x->kind == BK_IDX_OFFSET)
        return (int64_t)bk_load_be32(p);
    return (int64_t)bk_load_be64(p);
}

static uint32_t val_at(const bk_idx *x, size_t i)
{
    const uint8_t *p = x->mem.data + i * x->width;
    return bk_load_be32(p + x->width - 4);
}

void bk_idx_get(const bk_idx *x, size_t i, int64_t *key, uint32_t *val)
{
    assert(i < bk_idx_count(x));
    if (key)
        *key = key_at(x, i);
    if (val)
        *val = val_at(x, i);
}

bool bk_idx_last(const bk_idx *x, int64_t *key, uint32_t *val)
{
    size_t n = bk_idx_count(x);
    if (n == 0)
        return false;
    bk_idx_get(x, n - 1, key, val);
    return true;
}

int bk_idx_load(bk_idx *x, int64_t max_key, int64_t max_val)
{
    bk_buf_reset(&x->mem);
    x->synced = 0;
    x->file_len = 0;
    x->known = false;
    /* whoever wrote the file may not have fsync'ed it */
    x->unflushed = true;
    int fd = bk_seg_open_file(x->path, O_RDONLY);
    if (fd < 0)
        return errno == ENOENT ? -BK_ENOENT : -BK_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -BK_EIO;
    }
    /* file_len is what the next sync() must truncate away if the content
     * turns out to be unusable */
    x->file_len = (size_t)st.st_size;
    x->known = true;
    if ((uint64_t)st.st_size > IDX_MAX_FILE ||
        (size_t)st.st_size % x->width != 0) {
        close(fd);
        return -BK_ECORRUPT;
    }
    size_t len = (size_t)st.st_size;
    if (len == 0) {
        close(fd);
        return 0;
    }
    uint8_t *p = bk_buf_extend(&x->mem, len);
    if (!p) {
        close(fd);
        x->mem.oom = false;
        return -BK_ENOMEM;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, p + got, len - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            bk_buf_reset(&x->mem);
            return r < 0 ? -BK_EIO : -BK_ECORRUPT; /* shrank under us */
        }
        got += (size_t)r;
    }
    close(fd);

    size_t n = len / x->width;
    int64_t prev_key = -1;
    int64_t prev_val = -1;
    for (size_t i = 0; i < n; i++) {
        int64_t k = key_at(x, i);
        int64_t v = val_at(x, i);
        if (k <= prev_key || v <= prev_val || k > max_key || v > max_val) {
            bk_buf_reset(&x->mem);
            return -BK_ECORRUPT;
        }
        prev_key = k;
        prev_val = v;
    }
    x->synced = len;
    return 0;
}

int bk_idx_append(bk_idx *x, int64_t key, uint32_t val)
{
    int64_t lk;
    uint32_t lv;
    if (bk_idx_last(x, &lk, &lv))
        assert(key > lk && val > lv);
    assert(key >= 0);
    assert(x->kind != BK_IDX_OFFSET || key <= UINT32_MAX);
    uint8_t *p = bk_buf_extend(&x->mem, x->width);
    if (!p) {
        /* a failed extend leaves the buffer marked; clear it so that the
         * entries already there stay usable */
        x->mem.oom = false;
        return -BK_ENOMEM;
    }
    if (x->kind == BK_IDX_OFFSET)
        bk_store_be32(p, (uint32_t)key);
    else
        bk_store_be64(p, (uint64_t)key);
    bk_store_be32(p + x->width - 4, val);
    return 0;
}

ssize_t bk_idx_floor_key(const bk_idx *x, int64_t target)
{
    /* invariant: entries [0, lo) have key <= target, [hi, n) > target */
    size_t lo = 0, hi = bk_idx_count(x);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_at(x, mid) <= target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ssize_t)lo - 1;
}

ssize_t bk_idx_floor_val(const bk_idx *x, uint32_t target)
{
    size_t lo = 0, hi = bk_idx_count(x);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (val_at(x, mid) <= target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ssize_t)lo - 1;
}

void bk_idx_truncate(bk_idx *x, size_t n)
{
    assert(n <= bk_idx_count(x));
    x->mem.len = n * x->width;
    if (x->synced > x->mem.len)
        x->synced = x->mem.len;
}

/* Writes what memory has and the file lacks through fd. */
static int idx_write(bk_idx *x, int fd)
{
    /* the file as it is, not as we left it: one we did not load (a new
     * segment, a rebuilt index) may hold stale bytes beyond what memory
     * says was synced, and one cut or removed behind our back is
     * rewritten from memory */
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -BK_EIO;
    x->file_len = (size_t)st.st_size;
    x->known = true;
    if (x->file_len < x->synced)
        x->synced = x->file_len;
    if (x->file_len > x->synced) {
        x->unflushed = true;
        if (ftruncate(fd, (off_t)x->synced) != 0)
            return -BK_EIO;
        x->file_len = x->synced;
    }
    while (x->synced < x->mem.len) {
        x->unflushed = true;
        ssize_t w = pwrite(fd, x->mem.data + x->synced, x->mem.len - x->synced,
                           (off_t)x->synced);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -BK_EIO;
        x->synced += (size_t)w;
        if (x->synced > x->file_len)
            x->file_len = x->synced;
    }
    return 0;
}

int bk_idx_sync(bk_idx *x, bool durable)
{
    /* no fd is kept between syncs (thousands of segments would need
     * thousands of fds): open, write, close.  A sync that has nothing to
     * do makes no system call. */
    if (x->known && x->file_len == x->synced && x->synced == x->mem.len &&
        !(durable && x->unflushed))
        return 0;
    /* nor does a non-durable sync of an empty index never written here
     * (closing thousands of logs that never got data): a durable one
     * creates the file */
    if (!durable && !x->known && x->mem.len == 0)
        return 0;
    int fd = bk_seg_open_file(x->path, O_RDWR | O_CREAT);
    if (fd < 0)
        return -BK_EIO;
    int rc = idx_write(x, fd);
    if (rc == 0 && durable && x->unflushed) {
        /* fsync of a fresh fd writes every dirty page of the file, also
         * those written through an earlier one */
        if (fdatasync(fd) != 0)
            rc = -BK_EIO;
        else
            x->unflushed = false;
    }
    close(fd);
    return rc;
}

int bk_idx_unlink(bk_idx *x)
{
    bk_buf_reset(&x->mem);
    x->synced = x->file_len = 0;
    x->known = false;
    x->unflushed = true;
    if (unlink(x->path) != 0 && errno != ENOENT)
        return -BK_EIO;
    return 0;
}
