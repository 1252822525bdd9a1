/*
 * buf.c -- growable buffers and checked readers (see buf.h).
 *
 * Growth doubles the capacity so that building a frame of n bytes costs
 * O(n) copies.  Readers keep a sticky error so that a parser which forgets
 * one check still cannot read past the end: every later read fails.
 */
#include "common/buf.h"

#include <stdlib.h>

#include "common/err.h"
#include "common/varint.h"

void bk_buf_init(bk_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

void bk_buf_free(bk_buf *b)
{
    free(b->data);
    bk_buf_init(b);
}

void bk_buf_reset(bk_buf *b)
{
    b->len = 0;
    b->oom = false;
}

int bk_buf_reserve(bk_buf *b, size_t extra)
{
    if (b->oom)
        return -BK_ENOMEM;
    /* the first reservation allocates even for 0 bytes: extend(b, 0) must
     * return a real pointer (NULL means out of memory), and NULL + 0 is
     * undefined behaviour */
    if (b->data && extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return -BK_ENOMEM;
    }
    size_t want = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return -BK_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

uint8_t *bk_buf_extend(bk_buf *b, size_t n)
{
    if (bk_buf_reserve(b, n) != 0)
        return NULL;
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

void bk_buf_consume(bk_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

uint8_t *bk_buf_detach(bk_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    bk_buf_init(b);
    return p;
}

void bk_buf_put(bk_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    uint8_t *d = bk_buf_extend(b, n);
    if (d)
        memcpy(d, p, n);
}

void bk_buf_put_u8(bk_buf *b, uint8_t v)
{
    uint8_t *d = bk_buf_extend(b, 1);
    if (d)
        *d = v;
}

void bk_buf_put_i16(bk_buf *b, int16_t v)
{
    uint8_t *d = bk_buf_extend(b, 2);
    if (d)
        bk_store_be16(d, (uint16_t)v);
}

void bk_buf_put_i32(bk_buf *b, int32_t v)
{
    uint8_t *d = bk_buf_extend(b, 4);
    if (d)
        bk_store_be32(d, (uint32_t)v);
}

void bk_buf_put_i64(bk_buf *b, int64_t v)
{
    uint8_t *d = bk_buf_extend(b, 8);
    if (d)
        bk_store_be64(d, (uint64_t)v);
}

void bk_buf_put_varint(bk_buf *b, int32_t v)
{
    if (bk_buf_reserve(b, BK_VARINT_MAX) == 0)
        b->len += bk_varint_encode(v, b->data + b->len);
}

void bk_buf_put_varlong(bk_buf *b, int64_t v)
{
    if (bk_buf_reserve(b, BK_VARLONG_MAX) == 0)
        b->len += bk_varlong_encode(v, b->data + b->len);
}

/* ------------------------------ reader ------------------------------ */

/* Checks that n bytes remain; on failure makes the error sticky. */
static int rd_need(bk_rd *r, size_t n)
{
    if (r->err)
        return r->err;
    if (n > r->len - r->pos) {
        r->err = -BK_EINVAL;
        return r->err;
    }
    return 0;
}

int bk_rd_u8(bk_rd *r, uint8_t *out)
{
    int rc = rd_need(r, 1);
    if (rc)
        return rc;
    *out = r->p[r->pos++];
    return 0;
}

int bk_rd_i8(bk_rd *r, int8_t *out)
{
    uint8_t v;
    int rc = bk_rd_u8(r, &v);
    if (rc == 0)
        *out = (int8_t)v;
    return rc;
}

int bk_rd_i16(bk_rd *r, int16_t *out)
{
    int rc = rd_need(r, 2);
    if (rc)
        return rc;
    *out = (int16_t)bk_load_be16(r->p + r->pos);
    r->pos += 2;
    return 0;
}

int bk_rd_u32(bk_rd *r, uint32_t *out)
{
    int rc = rd_need(r, 4);
    if (rc)
        return rc;
    *out = bk_load_be32(r->p + r->pos);
    r->pos += 4;
    return 0;
}

int bk_rd_i32(bk_rd *r, int32_t *out)
{
    uint32_t v;
    int rc = bk_rd_u32(r, &v);
    if (rc == 0)
        *out = (int32_t)v;
    return rc;
}

int bk_rd_i64(bk_rd *r, int64_t *out)
{
    int rc = rd_need(r, 8);
    if (rc)
        return rc;
    *out = (int64_t)bk_load_be64(r->p + r->pos);
    r->pos += 8;
    return 0;
}

int bk_rd_varint(bk_rd *r, int32_t *out)
{
    /* at least one byte, so r->p is not NULL (an empty input may be
     * NULL, 0) when the pointer is formed */
    int rc = rd_need(r, 1);
    if (rc)
        return rc;
    size_t n = bk_varint_decode(r->p + r->pos, r->len - r->pos, out);
    if (n == 0)
        return r->err = -BK_EINVAL;
    r->pos += n;
    return 0;
}

int bk_rd_varlong(bk_rd *r, int64_t *out)
{
    /* at least one byte, so r->p is not NULL (an empty input may be
     * NULL, 0) when the pointer is formed */
    int rc = rd_need(r, 1);
    if (rc)
        return rc;
    size_t n = bk_varlong_decode(r->p + r->pos, r->len - r->pos, out);
    if (n == 0)
        return r->err = -BK_EINVAL;
    r->pos += n;
    return 0;
}

int bk_rd_ptr(bk_rd *r, size_t n, const uint8_t **out)
{
    int rc = rd_need(r, n);
    if (rc)
        return rc;
    *out = r->p ? r->p + r->pos : NULL; /* NULL, 0 input: no NULL + 0 */
    r->pos += n;
    return 0;
}

int bk_rd_skip(bk_rd *r, size_t n)
{
    int rc = rd_need(r, n);
    if (rc)
        return rc;
    r->pos += n;
    return 0;
}
