/*
 * batch.c -- Kafka RecordBatch v2: builder, validation, iteration (see
 * batch.h for the layout).
 *
 * The builder is on the producer's hot path: a record is encoded straight
 * into the builder's buffer with one capacity check, its varints written
 * in place (the record's length is computed first, so nothing is moved
 * afterwards).  A reset builder keeps its buffer, so a producer that
 * reuses one builder allocates nothing per record or per batch.
 *
 * Validation is the broker's gate (DESIGN.md section 3): a batch is checked
 * once on produce -- header, exact size, CRC-32C, codec, and every record
 * decoded within its own length -- and then stored and served unchanged.
 * Decoding reads untrusted bytes only through bk_rd (STYLE.md rule 6).
 */
#include "common/batch.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "common/varint.h"

/* Field offsets inside the 61-byte header. */
enum {
    OFF_BASE_OFFSET = 0,
    OFF_BATCH_LENGTH = 8,
    OFF_LEADER_EPOCH = 12,
    OFF_MAGIC = 16,
    OFF_CRC = 17,
    OFF_ATTRIBUTES = 21,
    OFF_LAST_OFFSET_DELTA = 23,
    OFF_BASE_TIMESTAMP = 27,
    OFF_MAX_TIMESTAMP = 35,
    OFF_PRODUCER_ID = 43,
    OFF_PRODUCER_EPOCH = 51,
    OFF_BASE_SEQUENCE = 53,
    OFF_RECORD_COUNT = 57,
};

/* The largest batch: batchLength is an int32. */
#define MAX_BATCH_SIZE ((uint64_t)BK_BATCH_LOG_OVERHEAD + INT32_MAX)

/* --------------------------- header and CRC --------------------------- */

int bk_batch_parse_header(const uint8_t *p, size_t len, bk_batch_header *h)
{
    if (len < BK_BATCH_HEADER_SIZE)
        return BK_AGAIN;
    bk_rd r;
    bk_rd_init(&r, p, BK_BATCH_HEADER_SIZE);
    BK_RD_TRY(bk_rd_i64(&r, &h->base_offset));
    BK_RD_TRY(bk_rd_i32(&r, &h->batch_length));
    BK_RD_TRY(bk_rd_i32(&r, &h->leader_epoch));
    BK_RD_TRY(bk_rd_i8(&r, &h->magic));
    BK_RD_TRY(bk_rd_u32(&r, &h->crc));
    BK_RD_TRY(bk_rd_i16(&r, &h->attributes));
    BK_RD_TRY(bk_rd_i32(&r, &h->last_offset_delta));
    BK_RD_TRY(bk_rd_i64(&r, &h->base_timestamp));
    BK_RD_TRY(bk_rd_i64(&r, &h->max_timestamp));
    BK_RD_TRY(bk_rd_i64(&r, &h->producer_id));
    BK_RD_TRY(bk_rd_i16(&r, &h->producer_epoch));
    BK_RD_TRY(bk_rd_i32(&r, &h->base_sequence));
    BK_RD_TRY(bk_rd_i32(&r, &h->record_count));
    assert(bk_rd_remains(&r) == 0);
    /* magic first: an old message set (magic 0/1) is "unsupported", not
     * "corrupt", and its other fields mean something else */
    if (h->magic != BK_BATCH_MAGIC)
        return -BK_EUNSUPPORTED;
    if (h->batch_length < BK_BATCH_MIN_LENGTH || h->record_count < 0 ||
        h->last_offset_delta < 0)
        return -BK_ECORRUPT;
    /* callers compute bk_batch_last_offset() + 1 (next fetch offset, log
     * end): a base offset so close to INT64_MAX that this overflows is no
     * offset any log can hold */
    if (h->base_offset > INT64_MAX - 1 - h->last_offset_delta)
        return -BK_ECORRUPT;
    return 0;
err_parse:
    return -BK_ECORRUPT; /* unreachable: len was checked */
}

int bk_batch_check_crc(const uint8_t *p, size_t len)
{
    if (len < BK_BATCH_HEADER_SIZE)
        return -BK_ECORRUPT;
    int32_t blen = (int32_t)bk_load_be32(p + OFF_BATCH_LENGTH);
    if (blen < BK_BATCH_MIN_LENGTH ||
        (uint64_t)len != (uint64_t)BK_BATCH_LOG_OVERHEAD + (uint64_t)blen)
        return -BK_ECORRUPT;
    uint32_t want = bk_load_be32(p + OFF_CRC);
    uint32_t got =
        bk_crc32c(0, p + BK_BATCH_CRC_START, len - BK_BATCH_CRC_START);
    return got == want ? 0 : -BK_ECORRUPT;
}

void bk_batch_set_base_offset(uint8_t *p, int64_t base_offset)
{
    bk_store_be64(p + OFF_BASE_OFFSET, (uint64_t)base_offset);
}

void bk_batch_set_leader_epoch(uint8_t *p, int32_t epoch)
{
    bk_store_be32(p + OFF_LEADER_EPOCH, (uint32_t)epoch);
}

/* ------------------------------ builder ------------------------------ */

/* Bytes of the base-128 encoding of u: ceil(bits / 7), at least 1. */
static inline size_t uvarint_size(uint64_t u)
{
    unsigned bits = 64u - (unsigned)__builtin_clzll(u | 1);
    return (bits * 9 + 64) / 64;
}
static inline size_t vi_size(int32_t v)
{
    return uvarint_size(bk_zigzag32(v));
}
static inline size_t vl_size(int64_t v)
{
    return uvarint_size(bk_zigzag64(v));
}
static inline uint8_t *put_uvarint(uint8_t *p, uint64_t u)
{
    while (u >= 0x80) {
        *p++ = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    *p++ = (uint8_t)u;
    return p;
}
static inline uint8_t *put_vi(uint8_t *p, int32_t v)
{
    return put_uvarint(p, bk_zigzag32(v));
}
static inline uint8_t *put_vl(uint8_t *p, int64_t v)
{
    return put_uvarint(p, bk_zigzag64(v));
}
static inline uint8_t *put_bytes(uint8_t *p, const void *src, int32_t n)
{
    if (n > 0) {
        memcpy(p, src, (size_t)n);
        p += n;
    }
    return p;
}

int bk_batch_builder_init(bk_batch_builder *b, int codec)
{
    memset(b, 0, sizeof *b);
    bk_buf_init(&b->recs);
    b->producer_id = BK_NO_PRODUCER_ID;
    b->producer_epoch = -1;
    b->base_sequence = BK_NO_SEQUENCE;
    if (codec != BK_CODEC_NONE && codec != BK_CODEC_GZIP &&
        codec != BK_CODEC_LZ4 && codec != BK_CODEC_ZSTD)
        return -BK_EUNSUPPORTED;
    b->codec = codec;
    return 0;
}

void bk_batch_builder_free(bk_batch_builder *b)
{
    bk_buf_free(&b->recs);
}

void bk_batch_builder_reset(bk_batch_builder *b)
{
    bk_buf_reset(&b->recs);
    b->count = 0;
    b->base_timestamp = 0;
    b->max_timestamp = 0;
}

size_t bk_batch_builder_size(const bk_batch_builder *b)
{
    return BK_BATCH_HEADER_SIZE + b->recs.len;
}

int bk_batch_builder_add(bk_batch_builder *b, const bk_record *r)
{
    if (r->key_len < -1 || r->value_len < -1 || r->header_count < 0 ||
        (r->key_len > 0 && !r->key) || (r->value_len > 0 && !r->value) ||
        (r->header_count > 0 && !r->headers))
        return -BK_EINVAL;
    if (b->count == INT32_MAX)
        return -BK_ETOOBIG;

    /* Kafka: baseTimestamp is the first record's, deltas are relative to
     * it (and may be negative), maxTimestamp the largest */
    int64_t ts_delta = 0;
    if (b->count > 0 &&
        __builtin_sub_overflow(r->timestamp, b->base_timestamp, &ts_delta))
        return -BK_EINVAL;

    /* The record's body size first, so that its length prefix can be
     * written before it without moving anything. */
    uint64_t body = 1 + vl_size(ts_delta) + vi_size(b->count) +
                    vi_size(r->key_len) + vi_size(r->value_len) +
                    vi_size(r->header_count);
    if (r->key_len > 0)
        body += (uint64_t)r->key_len;
    if (r->value_len > 0)
        body += (uint64_t)r->value_len;
    for (int i = 0; i < r->header_count; i++) {
        const bk_rec_header *h = &r->headers[i];
        if (h->key_len > INT32_MAX || h->value_len < -1 ||
            (h->key_len > 0 && !h->key) || (h->value_len > 0 && !h->value))
            return -BK_EINVAL;
        body +=
            vi_size((int32_t)h->key_len) + h->key_len + vi_size(h->value_len);
        if (h->value_len > 0)
            body += (uint64_t)h->value_len;
    }
    size_t need =
        vi_size((int32_t)(body > INT32_MAX ? INT32_MAX : body)) + (size_t)body;
    if (body > INT32_MAX ||
        (uint64_t)bk_batch_builder_size(b) + need > MAX_BATCH_SIZE)
        return -BK_ETOOBIG;

    if (need > b->recs.cap - b->recs.len && bk_buf_reserve(&b->recs, need) != 0)
        return -BK_ENOMEM;
    uint8_t *p = b->recs.data + b->recs.len, *start = p;
    p = put_vi(p, (int32_t)body);
    *p++ = 0; /* record attributes: unused in v2 */
    p = put_vl(p, ts_delta);
    p = put_vi(p, b->count);
    p = put_vi(p, r->key_len);
    p = put_bytes(p, r->key, r->key_len);
    p = put_vi(p, r->value_len);
    p = put_bytes(p, r->value, r->value_len);
    p = put_vi(p, r->header_count);
    for (int i = 0; i < r->header_count; i++) {
        const bk_rec_header *h = &r->headers[i];
        p = put_vi(p, (int32_t)h->key_len);
        p = put_bytes(p, h->key, (int32_t)h->key_len);
        p = put_vi(p, h->value_len);
        p = put_bytes(p, h->value, h->value_len);
    }
    assert((size_t)(p - start) == need);
    b->recs.len += need;

    if (b->count == 0) {
        b->base_timestamp = b->max_timestamp = r->timestamp;
    } else if (r->timestamp > b->max_timestamp) {
        b->max_timestamp = r->timestamp;
    }
    b->count++;
    return 0;
}

int bk_batch_builder_finish(bk_batch_builder *b, bk_buf *out)
{
    if (b->count == 0)
        return -BK_EINVAL;
    if (!bk_buf_ok(&b->recs) || !bk_buf_ok(out))
        return -BK_ENOMEM;
    size_t start = out->len;
    if (!bk_buf_extend(out, BK_BATCH_HEADER_SIZE))
        return -BK_ENOMEM;
    int rc = bk_compress(b->codec, b->recs.data, b->recs.len, out);
    if (rc != 0) {
        out->len = start;
        return rc;
    }
    size_t total = out->len - start;
    if (total > MAX_BATCH_SIZE) {
        out->len = start;
        return -BK_ETOOBIG;
    }
    int16_t attrs =
        (int16_t)((b->extra_attributes & ~BK_BATCH_ATTR_CODEC_MASK) | b->codec);
    uint8_t *p = out->data + start;
    bk_store_be64(p + OFF_BASE_OFFSET, 0);
    bk_store_be32(p + OFF_BATCH_LENGTH,
                  (uint32_t)(total - BK_BATCH_LOG_OVERHEAD));
    bk_store_be32(p + OFF_LEADER_EPOCH, (uint32_t)-1);
    p[OFF_MAGIC] = BK_BATCH_MAGIC;
    bk_store_be16(p + OFF_ATTRIBUTES, (uint16_t)attrs);
    bk_store_be32(p + OFF_LAST_OFFSET_DELTA, (uint32_t)(b->count - 1));
    bk_store_be64(p + OFF_BASE_TIMESTAMP, (uint64_t)b->base_timestamp);
    bk_store_be64(p + OFF_MAX_TIMESTAMP, (uint64_t)b->max_timestamp);
    bk_store_be64(p + OFF_PRODUCER_ID, (uint64_t)b->producer_id);
    bk_store_be16(p + OFF_PRODUCER_EPOCH, (uint16_t)b->producer_epoch);
    bk_store_be32(p + OFF_BASE_SEQUENCE, (uint32_t)b->base_sequence);
    bk_store_be32(p + OFF_RECORD_COUNT, (uint32_t)b->count);
    bk_store_be32(p + OFF_CRC, bk_crc32c(0, p + BK_BATCH_CRC_START,
                                         total - BK_BATCH_CRC_START));
    return 0;
}

/* ------------------------------ records ------------------------------ */

/* Reads a nullable length-prefixed field (-1 = null) from r. */
static int rd_nullable(bk_rd *r, int32_t *len, const uint8_t **p)
{
    BK_RD_TRY(bk_rd_varint(r, len));
    if (*len < -1)
        return -BK_ECORRUPT;
    *p = NULL;
    if (*len >= 0)
        BK_RD_TRY(bk_rd_ptr(r, (size_t)*len, p));
    return 0;
err_parse:
    return -BK_ECORRUPT;
}

/* Reads one header; keys may be empty but never null (as in Kafka). */
static int rd_header(bk_rd *r, bk_rec_header *hdr)
{
    int32_t klen;
    const uint8_t *k, *v;
    BK_RD_TRY(bk_rd_varint(r, &klen));
    if (klen < 0)
        return -BK_ECORRUPT;
    BK_RD_TRY(bk_rd_ptr(r, (size_t)klen, &k));
    if (rd_nullable(r, &hdr->value_len, &v) != 0)
        return -BK_ECORRUPT;
    hdr->key = (const char *)k;
    hdr->key_len = (size_t)klen;
    hdr->value = v;
    return 0;
err_parse:
    return -BK_ECORRUPT;
}

/* Decodes the next record of the iterator's cursor into rec (offset and
 * timestamp left as deltas in *off_delta / *ts_delta).  Every field must
 * lie within the record's own length, and fill it exactly. */
static int decode_record(bk_rd *rd, bk_record_view *rec, int32_t *off_delta,
                         int64_t *ts_delta)
{
    int32_t len;
    const uint8_t *body;
    int8_t attrs;
    BK_RD_TRY(bk_rd_varint(rd, &len));
    if (len < 0)
        return -BK_ECORRUPT;
    BK_RD_TRY(bk_rd_ptr(rd, (size_t)len, &body));

    bk_rd r;
    bk_rd_init(&r, body, (size_t)len);
    BK_RD_TRY(bk_rd_i8(&r, &attrs)); /* unused in v2: any value is fine */
    BK_RD_TRY(bk_rd_varlong(&r, ts_delta));
    BK_RD_TRY(bk_rd_varint(&r, off_delta));
    if (rd_nullable(&r, &rec->key_len, &rec->key) != 0 ||
        rd_nullable(&r, &rec->value_len, &rec->value) != 0)
        return -BK_ECORRUPT;
    BK_RD_TRY(bk_rd_varint(&r, &rec->header_count));
    if (rec->header_count < 0)
        return -BK_ECORRUPT;
    rec->headers = body + r.pos;
    for (int32_t i = 0; i < rec->header_count; i++) {
        bk_rec_header hdr;
        if (rd_header(&r, &hdr) != 0)
            return -BK_ECORRUPT;
    }
    rec->headers_len = (size_t)(body + r.pos - rec->headers);
    if (bk_rd_remains(&r) != 0)
        return -BK_ECORRUPT; /* the length claims bytes no field uses */
    (void)attrs;
    return 0;
err_parse:
    return -BK_ECORRUPT;
}

int bk_record_header_next(const bk_record_view *rec, size_t *pos,
                          bk_rec_header *hdr)
{
    if (*pos >= rec->headers_len)
        return 0;
    bk_rd r;
    bk_rd_init(&r, rec->headers, rec->headers_len);
    r.pos = *pos;
    if (rd_header(&r, hdr) != 0)
        return -BK_ECORRUPT;
    *pos = r.pos;
    return 1;
}

/* ------------------------------ iterator ------------------------------ */

static bool codec_known(int codec)
{
    return codec == BK_CODEC_NONE || codec == BK_CODEC_GZIP ||
           codec == BK_CODEC_LZ4 || codec == BK_CODEC_ZSTD;
}

/* Header, exact size and codec of a complete batch (no CRC). */
static int check_frame(const uint8_t *p, size_t len, bk_batch_header *h)
{
    int rc = bk_batch_parse_header(p, len, h);
    if (rc == BK_AGAIN)
        return -BK_ECORRUPT; /* the caller says this is the whole batch */
    if (rc != 0)
        return rc;
    if (bk_batch_size(h) != len)
        return -BK_ECORRUPT;
    return 0;
}

static int iter_start(bk_batch_iter *it, const uint8_t *p, size_t len,
                      size_t max_uncompressed)
{
    int codec = it->h.attributes & BK_BATCH_ATTR_CODEC_MASK;
    if (!codec_known(codec))
        return -BK_EUNSUPPORTED;
    const uint8_t *recs = p + BK_BATCH_HEADER_SIZE;
    size_t n = len - BK_BATCH_HEADER_SIZE;
    if (codec == BK_CODEC_NONE) {
        bk_rd_init(&it->rd, recs, n);
        return 0;
    }
    int rc = bk_decompress(codec, recs, n, max_uncompressed, &it->plain);
    if (rc != 0)
        return rc;
    bk_rd_init(&it->rd, it->plain.data, it->plain.len);
    return 0;
}

int bk_batch_iter_init(bk_batch_iter *it, const uint8_t *p, size_t len,
                       size_t max_uncompressed)
{
    memset(it, 0, sizeof *it);
    bk_buf_init(&it->plain);
    bk_rd_init(&it->rd, NULL, 0);
    int rc = check_frame(p, len, &it->h);
    if (rc == 0)
        rc = iter_start(it, p, len, max_uncompressed);
    if (rc != 0)
        it->h.record_count = 0; /* next() then ends at once */
    return rc;
}

int bk_batch_iter_next(bk_batch_iter *it, bk_record_view *rec)
{
    if (it->index >= it->h.record_count)
        return 0;
    int32_t off_delta;
    int64_t ts_delta;
    if (decode_record(&it->rd, rec, &off_delta, &ts_delta) != 0)
        return -BK_ECORRUPT;
    if (off_delta < 0 ||
        __builtin_add_overflow(it->h.base_offset, (int64_t)off_delta,
                               &rec->offset))
        return -BK_ECORRUPT;
    if (it->h.attributes & BK_BATCH_ATTR_LOG_APPEND_TIME)
        rec->timestamp = it->h.max_timestamp;
    else if (__builtin_add_overflow(it->h.base_timestamp, ts_delta,
                                    &rec->timestamp))
        return -BK_ECORRUPT;
    it->index++;
    return 1;
}

void bk_batch_iter_free(bk_batch_iter *it)
{
    bk_buf_free(&it->plain);
}

/* ------------------------------ validate ------------------------------ */

/* Reads an unsigned base-128 value of at most maxb bytes from [*pp, end).
 * One- and two-byte values (most lengths and deltas: a 100-byte record has
 * two-byte lengths) take an inlined path without a loop; the validation
 * walk below is on the produce path for every record. */
static bool walk_uvarint_slow(const uint8_t **pp, const uint8_t *end, int maxb,
                              uint64_t *out)
{
    const uint8_t *p = *pp;
    size_t n = bk_uvarint_decode(p, (size_t)(end - p), maxb, out);
    if (n == 0)
        return false; /* truncated or over-long */
    *pp = p + n;
    return true;
}

static inline bool walk_uvarint(const uint8_t **pp, const uint8_t *end,
                                int maxb, uint64_t *out)
{
    const uint8_t *p = *pp;
    /* the last field of a record (its header count) ends at its bound:
     * one byte is enough for the first path */
    if (__builtin_expect(p < end && !(p[0] & 0x80), 1)) {
        *out = p[0];
        *pp = p + 1;
        return true;
    }
    if (end - p >= 2 && !(p[1] & 0x80)) {
        *out = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
        *pp = p + 2;
        return true;
    }
    return walk_uvarint_slow(pp, end, maxb, out);
}

static inline bool walk_varint(const uint8_t **pp, const uint8_t *end,
                               int32_t *out)
{
    uint64_t u;
    if (!walk_uvarint(pp, end, BK_VARINT_MAX, &u) || u > UINT32_MAX)
        return false;
    *out = bk_unzigzag32((uint32_t)u);
    return true;
}

/* Skips a length-prefixed field whose length may be -1 (null) when
 * nullable. */
static inline bool walk_field(const uint8_t **pp, const uint8_t *end,
                              bool nullable)
{
    int32_t n;
    if (!walk_varint(pp, end, &n) || n < (nullable ? -1 : 0))
        return false;
    if (n > 0) {
        if ((size_t)n > (size_t)(end - *pp))
            return false;
        *pp += n;
    }
    return true;
}

/* Checks that [p, end) holds exactly `count` records with offset deltas
 * 0..count-1, each field within its record's own length and filling it
 * exactly -- the same rules as decode_record(), without building views.
 * 0 or -BK_ECORRUPT. */
static int walk_records(const uint8_t *p, const uint8_t *end, int32_t count,
                        int64_t base_ts)
{
    for (int32_t i = 0; i < count; i++) {
        int32_t len, off_delta, nh;
        uint64_t u;
        int64_t ts;
        if (!walk_varint(&p, end, &len) || len < 0 ||
            (size_t)len > (size_t)(end - p))
            return -BK_ECORRUPT;
        const uint8_t *q = p, *rend = p + len;
        if (q >= rend) /* attributes: int8, any value */
            return -BK_ECORRUPT;
        q++;
        if (!walk_uvarint(&q, rend, BK_VARLONG_MAX, &u) ||
            __builtin_add_overflow(base_ts, bk_unzigzag64(u), &ts))
            return -BK_ECORRUPT;
        if (!walk_varint(&q, rend, &off_delta) || off_delta != i)
            return -BK_ECORRUPT;
        if (!walk_field(&q, rend, true) || !walk_field(&q, rend, true))
            return -BK_ECORRUPT;
        if (!walk_varint(&q, rend, &nh) || nh < 0)
            return -BK_ECORRUPT;
        for (int32_t k = 0; k < nh; k++)
            if (!walk_field(&q, rend, false) || !walk_field(&q, rend, true))
                return -BK_ECORRUPT;
        if (q != rend)
            return -BK_ECORRUPT; /* the length claims bytes no field uses */
        p = rend;
    }
    return p == end ? 0 : -BK_ECORRUPT;
}

int bk_batch_validate(const uint8_t *p, size_t len, size_t max_uncompressed,
                      bk_batch_header *hout)
{
    bk_batch_header h;
    int rc = check_frame(p, len, &h);
    if (rc != 0)
        return rc;
    if (hout)
        *hout = h;
    if (bk_batch_check_crc(p, len) != 0)
        return -BK_ECORRUPT;
    /* Kafka refuses empty batches from producers ("batch has no
     * records"); only log compaction may leave them behind */
    if (h.record_count == 0)
        return -BK_ECORRUPT;

    bk_batch_iter it;
    memset(&it, 0, sizeof it);
    it.h = h;
    bk_buf_init(&it.plain);
    rc = iter_start(&it, p, len, max_uncompressed);
    if (rc != 0)
        goto out;
    /* Offsets are assigned by position: the deltas must be exactly 0..n-1
     * (the broker rewrites only baseOffset, so a gap would be stored).
     * maxTimestamp is taken as given, as Kafka does. */
    if (h.last_offset_delta != h.record_count - 1 || it.rd.len == 0 ||
        walk_records(it.rd.p, it.rd.p + it.rd.len, h.record_count,
                     h.base_timestamp) != 0)
        rc = -BK_ECORRUPT;
out:
    bk_batch_iter_free(&it);
    return rc;
}
