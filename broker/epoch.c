/*
 * epoch.c -- leader-epoch cache and leader-epoch-checkpoint (see epoch.h).
 *
 * The list is short (one entry per leadership change that wrote data), so
 * plain arrays and linear scans are the right tool.
 */
#include "broker/epoch.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/checkpoint.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/logging.h"

static int push(bk_epoch *c, int32_t epoch, int64_t start)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        bk_epoch_entry *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return -BK_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (bk_epoch_entry){epoch, start};
    return 0;
}

static int load_line(void *arg, char **f, char *err, size_t errlen)
{
    bk_epoch *c = arg;
    int64_t epoch, start;
    if (bk_ckpt_parse_i64(f[0], 0, INT32_MAX, &epoch) != 0) {
        snprintf(err, errlen, "invalid epoch '%s'", f[0]);
        return -BK_ECORRUPT;
    }
    if (bk_ckpt_parse_i64(f[1], 0, INT64_MAX, &start) != 0) {
        snprintf(err, errlen, "invalid start offset '%s'", f[1]);
        return -BK_ECORRUPT;
    }
    if (c->n > 0 && (epoch <= c->v[c->n - 1].epoch ||
                     start <= c->v[c->n - 1].start_offset)) {
        snprintf(err, errlen, "entry (%lld, %lld) does not follow (%d, %lld)",
                 (long long)epoch, (long long)start, (int)c->v[c->n - 1].epoch,
                 (long long)c->v[c->n - 1].start_offset);
        return -BK_ECORRUPT;
    }
    return push(c, (int32_t)epoch, start);
}

int bk_epoch_open(bk_epoch *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->path = strdup(path);
    if (!c->path)
        return -BK_ENOMEM;
    int rc = bk_ckpt_read_file(path, 0, 2, load_line, c, NULL, 0);
    if (rc != 0) {
        c->n = 0;
        /* a file we could not use is rewritten by the next flush */
        c->dirty = rc == -BK_ECORRUPT;
    }
    return rc;
}

void bk_epoch_free(bk_epoch *c)
{
    free(c->v);
    free(c->path);
    memset(c, 0, sizeof *c);
}

int bk_epoch_flush(bk_epoch *c)
{
    if (!c->dirty)
        return 0;
    bk_buf b = BK_BUF_INIT;
    char line[64];
    int n = snprintf(line, sizeof line, "0\n%zu\n", c->n);
    bk_buf_put(&b, line, (size_t)n);
    for (size_t i = 0; i < c->n; i++) {
        n = snprintf(line, sizeof line, "%d %lld\n", (int)c->v[i].epoch,
                     (long long)c->v[i].start_offset);
        bk_buf_put(&b, line, (size_t)n);
    }
    int rc = bk_buf_ok(&b) ? bk_file_write_atomic(c->path, b.data, b.len)
                           : -BK_ENOMEM;
    bk_buf_free(&b);
    if (rc == 0)
        c->dirty = false;
    return rc;
}

int32_t bk_epoch_latest(const bk_epoch *c)
{
    return c->n ? c->v[c->n - 1].epoch : BK_EPOCH_UNDEFINED;
}

int64_t bk_epoch_latest_start(const bk_epoch *c)
{
    return c->n ? c->v[c->n - 1].start_offset : BK_EPOCH_UNDEFINED_OFFSET;
}

int bk_epoch_assign(bk_epoch *c, int32_t epoch, int64_t start_offset)
{
    if (epoch < 0 || epoch <= bk_epoch_latest(c))
        return 0;
    assert(start_offset >= 0);
    /* a newer epoch that starts at or before an existing entry: those
     * entries describe offsets that no longer exist in this log */
    size_t n = c->n;
    while (n > 0 && c->v[n - 1].start_offset >= start_offset)
        n--;
    if (n != c->n)
        BK_WARN("epoch", "%s: epoch %d at offset %lld drops %zu entries",
                c->path, (int)epoch, (long long)start_offset, c->n - n);
    c->n = n;
    int rc = push(c, epoch, start_offset);
    c->dirty = true;
    return rc;
}

void bk_epoch_truncate_from_end(bk_epoch *c, int64_t end_offset)
{
    size_t n = c->n;
    while (n > 0 && c->v[n - 1].start_offset >= end_offset)
        n--;
    if (n != c->n) {
        c->n = n;
        c->dirty = true;
    }
}

void bk_epoch_truncate_from_start(bk_epoch *c, int64_t start_offset)
{
    /* k = number of entries that start at or below start_offset; the last
     * of them covers start_offset and survives with its start moved up */
    size_t k = 0;
    while (k < c->n && c->v[k].start_offset <= start_offset)
        k++;
    if (k == 0)
        return;
    size_t drop = k - 1;
    if (drop == 0 && c->v[0].start_offset == start_offset)
        return;
    memmove(&c->v[0], &c->v[drop], (c->n - drop) * sizeof *c->v);
    c->n -= drop;
    c->v[0].start_offset = start_offset;
    c->dirty = true;
}

void bk_epoch_clear(bk_epoch *c)
{
    if (c->n)
        c->dirty = true;
    c->n = 0;
}

void bk_epoch_end_offset(const bk_epoch *c, int32_t requested,
                         int64_t log_end_offset, int32_t *epoch,
                         int64_t *end_offset)
{
    *epoch = BK_EPOCH_UNDEFINED;
    *end_offset = BK_EPOCH_UNDEFINED_OFFSET;
    if (requested < 0 || c->n == 0)
        return;
    if (requested == bk_epoch_latest(c)) {
        *epoch = requested;
        *end_offset = log_end_offset;
        return;
    }
    /* first entry with an epoch > requested */
    size_t i = 0;
    while (i < c->n && c->v[i].epoch <= requested)
        i++;
    if (i == c->n)
        return; /* requested is newer than anything we have */
    *end_offset = c->v[i].start_offset;
    *epoch = i == 0 ? requested : c->v[i - 1].epoch;
}
