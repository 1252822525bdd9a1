/*
 * frame.c -- length-prefixed protobuf frames (see frame.h).
 *
 * The decoder never copies: it only moves an offset through the caller's
 * input buffer and hands out pointers, so a read that brings ten small
 * requests costs one compaction (memmove of the unconsumed tail), not ten.
 * The size check happens on the 4 length bytes alone, so a hostile length
 * cannot make us buffer more than max_size + 4 bytes.
 *
 * The header peek is a tiny protobuf wire-format walker over a checked
 * reader (STYLE.md rule 6); it exists so that a request with a damaged
 * body still gets an error response carrying its correlation id, which is
 * what lets a pipelining client match the failure to its request.
 */
#include "common/frame.h"

#include <assert.h>
#include <stdbool.h>

#include "common/err.h"

/* ----------------------------- reading ----------------------------- */

void bk_frame_dec_init(bk_frame_dec *d, uint32_t max_size)
{
    assert(max_size >= 1 && max_size <= BK_FRAME_WIRE_MAX);
    d->max_size = max_size;
    d->pos = 0;
    d->err = 0;
}

int bk_frame_dec_next(bk_frame_dec *d, const bk_buf *in,
                      const uint8_t **payload, size_t *len)
{
    assert(d->pos <= in->len);
    if (d->err)
        return d->err;
    size_t avail = in->len - d->pos;
    if (avail < BK_FRAME_LEN_SIZE)
        return BK_AGAIN;
    const uint8_t *p = in->data + d->pos;
    int32_t n = (int32_t)bk_load_be32(p);
    if (n <= 0)
        return d->err = -BK_EINVAL;
    if ((uint32_t)n > d->max_size)
        return d->err = -BK_ETOOBIG;
    if (avail - BK_FRAME_LEN_SIZE < (size_t)n)
        return BK_AGAIN;
    *payload = p + BK_FRAME_LEN_SIZE;
    *len = (size_t)n;
    d->pos += BK_FRAME_LEN_SIZE + (size_t)n;
    return 0;
}

size_t bk_frame_dec_missing(const bk_frame_dec *d, const bk_buf *in)
{
    assert(d->pos <= in->len);
    size_t avail = in->len - d->pos;
    if (avail < BK_FRAME_LEN_SIZE)
        return BK_FRAME_LEN_SIZE - avail;
    if (d->err)
        return 0;
    int32_t n = (int32_t)bk_load_be32(in->data + d->pos);
    if (n <= 0 || (uint32_t)n > d->max_size)
        return 0; /* bk_frame_dec_next() will report the error */
    size_t want = BK_FRAME_LEN_SIZE + (size_t)n;
    return avail >= want ? 0 : want - avail;
}

void bk_frame_dec_partial(const bk_frame_dec *d, const bk_buf *in,
                          const uint8_t **p, size_t *n)
{
    assert(d->pos <= in->len);
    size_t avail = in->len - d->pos;
    if (avail < BK_FRAME_LEN_SIZE) {
        *p = NULL;
        *n = 0;
        return;
    }
    *p = in->data + d->pos + BK_FRAME_LEN_SIZE;
    *n = avail - BK_FRAME_LEN_SIZE;
    /* A frame that is complete ends at its length; bytes after it belong
     * to the next frame.  (For a refused length they are all ours.) */
    int32_t len = (int32_t)bk_load_be32(in->data + d->pos);
    if (len > 0 && (size_t)len < *n)
        *n = (size_t)len;
}

void bk_frame_dec_compact(bk_frame_dec *d, bk_buf *in)
{
    assert(d->pos <= in->len);
    if (d->pos == 0)
        return;
    bk_buf_consume(in, d->pos);
    d->pos = 0;
}

/* ----------------------------- writing ----------------------------- */

int bk_frame_encode(bk_buf *out, const ProtobufCMessage *msg)
{
    /* A message with a NULL where a repeated field says it has elements
     * would crash protobuf-c's packer: catch such caller bugs early. */
    assert(protobuf_c_message_check(msg));
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n == 0)
        return -BK_EINVAL;
    if (n > BK_FRAME_WIRE_MAX)
        return -BK_ETOOBIG;
    size_t old_len = out->len;
    uint8_t *p = bk_buf_extend(out, BK_FRAME_LEN_SIZE + n);
    if (!p)
        return -BK_ENOMEM;
    bk_store_be32(p, (uint32_t)n);
    size_t packed = protobuf_c_message_pack(msg, p + BK_FRAME_LEN_SIZE);
    /* get_packed_size and pack walk the same message; a mismatch would
     * mean a corrupt message struct, and a lying length on the wire. */
    assert(packed == n);
    if (packed != n) {
        out->len = old_len;
        return -BK_EINVAL;
    }
    return 0;
}

int bk_frame_encode_request(bk_buf *out, const Brook__Request *req)
{
    return bk_frame_encode(out, &req->base);
}

int bk_frame_encode_response(bk_buf *out, const Brook__Response *resp)
{
    return bk_frame_encode(out, &resp->base);
}

/* --------------------------- payload decode --------------------------- */

int bk_frame_decode_request(const uint8_t *p, size_t n, Brook__Request **out)
{
    *out = NULL;
    Brook__Request *m = brook__request__unpack(NULL, n, p);
    if (!m)
        return -BK_EINVAL;
    if (!m->header) {
        brook__request__free_unpacked(m, NULL);
        return -BK_EINVAL;
    }
    *out = m;
    return 0;
}

int bk_frame_decode_response(const uint8_t *p, size_t n, Brook__Response **out)
{
    *out = NULL;
    Brook__Response *m = brook__response__unpack(NULL, n, p);
    if (!m)
        return -BK_EINVAL;
    if (!m->header) {
        brook__response__free_unpacked(m, NULL);
        return -BK_EINVAL;
    }
    *out = m;
    return 0;
}

/* ---------------------------- header peek ---------------------------- */

/* Protobuf wire types (the low 3 bits of a field key). */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* Field numbers of brook.proto that the peek needs. */
enum {
    F_REQUEST_HEADER = 1,
    F_HDR_API_KEY = 1,
    F_HDR_API_VERSION = 2,
    F_HDR_CORRELATION_ID = 3,
};

/* A protobuf base-128 varint (not zigzag; that is Kafka's, common/varint.h)
 * of at most 10 bytes. */
static int pb_varint(bk_rd *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        uint8_t b;
        if (bk_rd_u8(r, &b) != 0)
            return -BK_EINVAL;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return r->err = -BK_EINVAL; /* an 11th byte: not a varint */
}

/* One field: its number, wire type, and either its varint value or its
 * length-delimited bytes (other wire types are skipped). */
struct pb_field {
    uint32_t num;
    int wt;
    uint64_t v;
    const uint8_t *p;
    size_t n;
};

static int pb_next(bk_rd *r, struct pb_field *f)
{
    uint64_t key;
    BK_RD_TRY(pb_varint(r, &key));
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        goto err_parse;
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    switch (f->wt) {
    case WT_VARINT:
        BK_RD_TRY(pb_varint(r, &f->v));
        return 0;
    case WT_I64:
        BK_RD_TRY(bk_rd_skip(r, 8));
        return 0;
    case WT_I32:
        BK_RD_TRY(bk_rd_skip(r, 4));
        return 0;
    case WT_LEN:
        BK_RD_TRY(pb_varint(r, &f->v));
        if (f->v > bk_rd_remains(r))
            goto err_parse;
        f->n = (size_t)f->v;
        BK_RD_TRY(bk_rd_ptr(r, f->n, &f->p));
        return 0;
    default: /* groups (3, 4) are not used by Brook; 6, 7 do not exist */
        goto err_parse;
    }
err_parse:
    return -BK_EINVAL;
}

/* Reads the fields of one RequestHeader into *h. */
static int peek_header_fields(const uint8_t *p, size_t n, bk_frame_hdr *h)
{
    bk_rd r;
    bk_rd_init(&r, p, n);
    struct pb_field f;
    while (bk_rd_remains(&r) > 0) {
        BK_RD_TRY(pb_next(&r, &f));
        if (f.wt != WT_VARINT)
            continue; /* client_id, or fields of a later version */
        /* int32 fields: protobuf keeps the low 32 bits of the varint. */
        int32_t v = (int32_t)(uint32_t)f.v;
        if (f.num == F_HDR_API_KEY)
            h->api_key = v;
        else if (f.num == F_HDR_API_VERSION)
            h->api_version = v;
        else if (f.num == F_HDR_CORRELATION_ID)
            h->correlation_id = v;
    }
    return 0;
err_parse:
    return -BK_EINVAL;
}

int bk_frame_peek_header(const uint8_t *p, size_t n, bk_frame_hdr *out)
{
    bk_frame_hdr h = {0, 0, 0};
    bool found = false;
    bk_rd r;
    bk_rd_init(&r, p, n);
    struct pb_field f;
    /* Stop at the first damage; what came before it is still good. */
    while (bk_rd_remains(&r) > 0 && pb_next(&r, &f) == 0) {
        if (f.num != F_REQUEST_HEADER || f.wt != WT_LEN)
            continue;
        /* A later header replaces an earlier one wholesale: that is what
         * protobuf-c 1.4 does (the spec would merge them), and the point is
         * to agree with the decoder the broker uses. */
        bk_frame_hdr one = {0, 0, 0};
        if (peek_header_fields(f.p, f.n, &one) != 0)
            break;
        h = one;
        found = true;
    }
    if (!found)
        return -BK_EINVAL;
    *out = h;
    return 0;
}
