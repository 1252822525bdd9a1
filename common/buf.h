/*
 * buf.h -- growable byte buffers (writers) and checked readers.
 *
 * bk_buf: an owned, growable byte array for building frames, batches and
 * files.  Appends never fail silently: on allocation failure the buffer is
 * marked failed (b->oom) and later appends are no-ops, so a builder can do
 * many appends and check once (bk_buf_ok()).
 *
 * bk_rd: a cursor over untrusted bytes.  Every read checks the remaining
 * length (STYLE.md rule 6); on underflow it returns -BK_EINVAL and sets
 * r->err so that later reads fail too.  Parsers use BK_RD_TRY() to jump to
 * one `err_parse:` label.
 *
 * Integers are big-endian (network order) as in the Kafka protocol.
 * Not thread-safe; a buffer belongs to one thread at a time.
 */
#ifndef BK_BUF_H
#define BK_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* --- big-endian load/store on raw memory (caller checked the bounds) --- */
static inline uint16_t bk_load_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t bk_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}
static inline uint64_t bk_load_be64(const uint8_t *p)
{
    return (uint64_t)bk_load_be32(p) << 32 | bk_load_be32(p + 4);
}
static inline void bk_store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void bk_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void bk_store_be64(uint8_t *p, uint64_t v)
{
    bk_store_be32(p, (uint32_t)(v >> 32));
    bk_store_be32(p + 4, (uint32_t)v);
}

/* ------------------------------ writer ------------------------------ */
typedef struct bk_buf {
    uint8_t *data; /* owned; NULL until the first append */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
    bool oom;      /* an allocation failed; contents are incomplete */
} bk_buf;

#define BK_BUF_INIT                                                            \
    {                                                                          \
        NULL, 0, 0, false                                                      \
    }

void bk_buf_init(bk_buf *b);
/* Frees the data; the buffer may be reused after bk_buf_init(). */
void bk_buf_free(bk_buf *b);
/* Keeps the allocation, forgets the contents (and a past oom). */
void bk_buf_reset(bk_buf *b);
/* Makes room for `extra` more bytes.  0 or -BK_ENOMEM. */
int bk_buf_reserve(bk_buf *b, size_t extra);
/* Reserves n bytes at the end and returns a pointer to them (len grows by
 * n), or NULL on allocation failure.  Useful to patch a length later. */
uint8_t *bk_buf_extend(bk_buf *b, size_t n);
static inline bool bk_buf_ok(const bk_buf *b)
{
    return !b->oom;
}
/* Drops the first n bytes (n <= len), moving the rest to the front. */
void bk_buf_consume(bk_buf *b, size_t n);
/* Hands the data to the caller (free() it), leaving b empty. */
uint8_t *bk_buf_detach(bk_buf *b, size_t *len);

void bk_buf_put(bk_buf *b, const void *p, size_t n);
void bk_buf_put_u8(bk_buf *b, uint8_t v);
void bk_buf_put_i16(bk_buf *b, int16_t v);
void bk_buf_put_i32(bk_buf *b, int32_t v);
void bk_buf_put_i64(bk_buf *b, int64_t v);
void bk_buf_put_varint(bk_buf *b, int32_t v);
void bk_buf_put_varlong(bk_buf *b, int64_t v);

/* ------------------------------ reader ------------------------------ */
typedef struct bk_rd {
    const uint8_t *p; /* start of the bytes (not owned) */
    size_t len;       /* total length */
    size_t pos;       /* next byte to read */
    int err;          /* first error seen (sticky), 0 if none */
} bk_rd;

static inline void bk_rd_init(bk_rd *r, const void *p, size_t len)
{
    r->p = (const uint8_t *)p;
    r->len = len;
    r->pos = 0;
    r->err = 0;
}
static inline size_t bk_rd_remains(const bk_rd *r)
{
    return r->len - r->pos;
}

int bk_rd_u8(bk_rd *r, uint8_t *out);
int bk_rd_i8(bk_rd *r, int8_t *out);
int bk_rd_i16(bk_rd *r, int16_t *out);
int bk_rd_i32(bk_rd *r, int32_t *out);
int bk_rd_u32(bk_rd *r, uint32_t *out);
int bk_rd_i64(bk_rd *r, int64_t *out);
int bk_rd_varint(bk_rd *r, int32_t *out);
int bk_rd_varlong(bk_rd *r, int64_t *out);
/* Points *out at the next n bytes (no copy) and skips them. */
int bk_rd_ptr(bk_rd *r, size_t n, const uint8_t **out);
int bk_rd_skip(bk_rd *r, size_t n);

/* In a parser: BK_RD_TRY(bk_rd_i32(&r, &x)); ... err_parse: return -BK_EINVAL;
 */
#define BK_RD_TRY(call)                                                        \
    do {                                                                       \
        if ((call) != 0)                                                       \
            goto err_parse;                                                    \
    } while (0)

#endif
