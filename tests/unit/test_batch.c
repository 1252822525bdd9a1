/*
 * test_batch.c -- tests of common/batch.c (RecordBatch v2) and
 * common/compress.c (its codecs).
 *
 * The format is checked byte by byte against a layout computed by hand
 * from the Kafka spec; round trips cover null vs empty keys and values,
 * headers, many records and every codec; the hostile-input tests flip and
 * truncate every byte, forge lengths, counts and codecs, feed garbage to
 * the decompressors and a zip bomb past the size limit.  Run under
 * ASan/UBSan they also prove that no input makes the decoder read out of
 * bounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include "common/batch.h"
#include "common/compress.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "tests/unit/cu_main.h"

#define MAX_UNC (64u << 20)

static const int codecs[] = {BK_CODEC_NONE, BK_CODEC_GZIP, BK_CODEC_LZ4,
                             BK_CODEC_ZSTD};
#define NCODECS (int)(sizeof codecs / sizeof codecs[0])

/* xorshift64*: a reproducible stream from bk_test_seed */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}
static void rnd_seed(unsigned long salt)
{
    rng_state = (bk_test_seed ^ (salt * 0x9E3779B97F4A7C15ULL)) | 1;
}

/* Bitwise CRC-32C, independent of common/crc32c.c's tables. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

/* Recomputes the CRC of a (forged) batch so that later checks are
 * reached. */
static void fix_crc(uint8_t *p, size_t len)
{
    bk_store_be32(p + 17, bk_crc32c(0, p + 21, len - 21));
}

/* Builds a batch around hand-made record bytes: header fields as given,
 * CRC valid. */
static size_t forge(uint8_t *dst, const uint8_t *recs, size_t n, int32_t count,
                    int32_t last_delta, int16_t attrs)
{
    memset(dst, 0, 61);
    bk_store_be64(dst, 100);
    bk_store_be32(dst + 8, (uint32_t)(49 + n));
    bk_store_be32(dst + 12, 7);
    dst[16] = 2;
    bk_store_be16(dst + 21, (uint16_t)attrs);
    bk_store_be32(dst + 23, (uint32_t)last_delta);
    bk_store_be64(dst + 27, 1000);
    bk_store_be64(dst + 35, 1000);
    bk_store_be64(dst + 43, (uint64_t)-1);
    bk_store_be16(dst + 51, (uint16_t)-1);
    bk_store_be32(dst + 53, (uint32_t)-1);
    bk_store_be32(dst + 57, (uint32_t)count);
    memcpy(dst + 61, recs, n);
    fix_crc(dst, 61 + n);
    return 61 + n;
}

static bk_record rec_kv(const char *k, int32_t klen, const char *v,
                        int32_t vlen, int64_t ts)
{
    bk_record r;
    memset(&r, 0, sizeof r);
    r.key = k;
    r.key_len = klen;
    r.value = v;
    r.value_len = vlen;
    r.timestamp = ts;
    return r;
}

/* A batch of n varied records (sizes 0..max_val) in codec. */
static void build_n(bk_buf *out, int codec, int n, int max_val)
{
    bk_batch_builder b;
    CU_ASSERT_FATAL(bk_batch_builder_init(&b, codec) == 0);
    char *val = malloc((size_t)max_val + 1);
    for (int i = 0; i <= max_val; i++)
        val[i] = (char)('a' + i % 26);
    for (int i = 0; i < n; i++) {
        char key[32];
        int klen = snprintf(key, sizeof key, "key-%d", i);
        bk_record r =
            rec_kv(key, klen, val, i % (max_val + 1), 1700000000000 + i);
        CU_ASSERT_FATAL(bk_batch_builder_add(&b, &r) == 0);
    }
    CU_ASSERT_FATAL(bk_batch_builder_finish(&b, out) == 0);
    bk_batch_builder_free(&b);
    free(val);
}

/* ------------------------------ layout ------------------------------ */

/* Two records, computed by hand from the spec (see batch.h):
 * r0: ts 1000, key "k", value "hello", one header ("h", "v")
 * r1: ts 1001, null key, empty value, no header. */
static const uint8_t expect_recs[] = {
    /* r0: length 16 (zigzag 32) */
    0x20, 0x00 /* attrs */, 0x00 /* tsDelta 0 */, 0x00 /* offDelta 0 */,
    0x02 /* keyLen 1 */, 'k', 0x0a /* valueLen 5 */, 'h', 'e', 'l', 'l', 'o',
    0x02 /* 1 header */, 0x02, 'h', 0x02, 'v',
    /* r1: length 6 */
    0x0c, 0x00, 0x02 /* tsDelta 1 */, 0x02 /* offDelta 1 */,
    0x01 /* keyLen -1 */, 0x00 /* valueLen 0 */, 0x00 /* no headers */
};

static void test_layout_exact(void)
{
    bk_batch_builder b;
    CU_ASSERT_FATAL(bk_batch_builder_init(&b, BK_CODEC_NONE) == 0);
    bk_rec_header h = {"h", 1, "v", 1};
    bk_record r0 = rec_kv("k", 1, "hello", 5, 1000);
    r0.headers = &h;
    r0.header_count = 1;
    bk_record r1 = rec_kv(NULL, -1, "", 0, 1001);
    CU_ASSERT(bk_batch_builder_add(&b, &r0) == 0);
    CU_ASSERT(bk_batch_builder_add(&b, &r1) == 0);
    CU_ASSERT_EQUAL(bk_batch_builder_size(&b), 61 + sizeof expect_recs);
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_FATAL(bk_batch_builder_finish(&b, &out) == 0);

    uint8_t want[61 + sizeof expect_recs];
    static const uint8_t hdr[61] = {
        0,    0,    0,    0,
        0,    0,    0,    0,    /* 0 baseOffset 0 */
        0,    0,    0,    73,   /* 8 batchLength 85-12 */
        0xff, 0xff, 0xff, 0xff, /* 12 leader epoch -1 */
        2,                      /* 16 magic */
        0,    0,    0,    0,    /* 17 crc, below */
        0,    0,                /* 21 attributes */
        0,    0,    0,    1,    /* 23 lastOffsetDelta */
        0,    0,    0,    0,
        0,    0,    0x03, 0xe8, /* 27 baseTimestamp 1000 */
        0,    0,    0,    0,
        0,    0,    0x03, 0xe9, /* 35 maxTimestamp 1001 */
        0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, /* 43 pid -1 */
        0xff, 0xff,             /* 51 producer epoch -1 */
        0xff, 0xff, 0xff, 0xff, /* 53 base sequence -1 */
        0,    0,    0,    2,    /* 57 record count */
    };
    memcpy(want, hdr, 61);
    memcpy(want + 61, expect_recs, sizeof expect_recs);
    bk_store_be32(want + 17, crc32c_bitwise(want + 21, sizeof want - 21));

    CU_ASSERT_EQUAL_FATAL(out.len, sizeof want);
    CU_ASSERT(memcmp(out.data, want, sizeof want) == 0);
    for (size_t i = 0; i < sizeof want; i++)
        if (out.data[i] != want[i])
            printf("\n  byte %zu: got %02x want %02x", i, out.data[i], want[i]);

    bk_batch_header bh;
    CU_ASSERT(bk_batch_parse_header(out.data, out.len, &bh) == 0);
    CU_ASSERT_EQUAL(bh.base_offset, 0);
    CU_ASSERT_EQUAL(bh.batch_length, 73);
    CU_ASSERT_EQUAL(bh.leader_epoch, -1);
    CU_ASSERT_EQUAL(bh.magic, 2);
    CU_ASSERT_EQUAL(bh.crc, bk_load_be32(want + 17));
    CU_ASSERT_EQUAL(bh.attributes, 0);
    CU_ASSERT_EQUAL(bh.last_offset_delta, 1);
    CU_ASSERT_EQUAL(bh.base_timestamp, 1000);
    CU_ASSERT_EQUAL(bh.max_timestamp, 1001);
    CU_ASSERT_EQUAL(bh.producer_id, -1);
    CU_ASSERT_EQUAL(bh.producer_epoch, -1);
    CU_ASSERT_EQUAL(bh.base_sequence, -1);
    CU_ASSERT_EQUAL(bh.record_count, 2);
    CU_ASSERT_EQUAL(bk_batch_size(&bh), out.len);
    CU_ASSERT_EQUAL(bk_batch_last_offset(&bh), 1);
    CU_ASSERT(bk_batch_check_crc(out.data, out.len) == 0);
    CU_ASSERT(bk_batch_validate(out.data, out.len, MAX_UNC, NULL) == 0);

    /* the builder keeps its records: a second finish gives the same bytes */
    bk_buf again = BK_BUF_INIT;
    CU_ASSERT(bk_batch_builder_finish(&b, &again) == 0);
    CU_ASSERT(again.len == out.len &&
              memcmp(again.data, out.data, out.len) == 0);
    bk_buf_free(&again);
    bk_buf_free(&out);
    bk_batch_builder_free(&b);
}

static void test_set_fields_keep_crc(void)
{
    bk_buf out = BK_BUF_INIT;
    build_n(&out, BK_CODEC_NONE, 5, 10);
    uint32_t crc = bk_load_be32(out.data + 17);
    bk_batch_set_base_offset(out.data, 0x0102030405060708LL);
    bk_batch_set_leader_epoch(out.data, 0x11223344);
    CU_ASSERT_EQUAL(bk_load_be32(out.data + 17), crc);
    CU_ASSERT(bk_batch_check_crc(out.data, out.len) == 0);
    bk_batch_header h;
    CU_ASSERT(bk_batch_validate(out.data, out.len, MAX_UNC, &h) == 0);
    CU_ASSERT_EQUAL(h.base_offset, 0x0102030405060708LL);
    CU_ASSERT_EQUAL(h.leader_epoch, 0x11223344);
    CU_ASSERT_EQUAL(bk_batch_last_offset(&h), 0x0102030405060708LL + 4);
    static const uint8_t be[] = {1, 2, 3, 4, 5, 6, 7, 8};
    CU_ASSERT(memcmp(out.data, be, 8) == 0);
    bk_batch_set_leader_epoch(out.data, -1);
    CU_ASSERT(bk_batch_check_crc(out.data, out.len) == 0);

    bk_batch_iter it;
    CU_ASSERT_FATAL(bk_batch_iter_init(&it, out.data, out.len, MAX_UNC) == 0);
    bk_record_view v;
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_FATAL(bk_batch_iter_next(&it, &v) == 1);
        CU_ASSERT_EQUAL(v.offset, 0x0102030405060708LL + i);
    }
    CU_ASSERT(bk_batch_iter_next(&it, &v) == 0);
    bk_batch_iter_free(&it);
    bk_buf_free(&out);
}

static void test_parse_header_errors(void)
{
    bk_buf out = BK_BUF_INIT;
    build_n(&out, BK_CODEC_NONE, 3, 4);
    bk_batch_header h;
    for (size_t n = 0; n < 61; n++)
        CU_ASSERT(bk_batch_parse_header(out.data, n, &h) == BK_AGAIN);
    /* the header alone parses even when the rest has not arrived */
    CU_ASSERT(bk_batch_parse_header(out.data, 61, &h) == 0);

    uint8_t p[61];
    for (int magic = 0; magic < 256; magic++) {
        memcpy(p, out.data, 61);
        p[16] = (uint8_t)magic;
        int rc = bk_batch_parse_header(p, 61, &h);
        CU_ASSERT(magic == 2 ? rc == 0 : rc == -BK_EUNSUPPORTED);
    }
    memcpy(p, out.data, 61);
    bk_store_be32(p + 8, 48);
    CU_ASSERT(bk_batch_parse_header(p, 61, &h) == -BK_ECORRUPT);
    bk_store_be32(p + 8, 49);
    CU_ASSERT(bk_batch_parse_header(p, 61, &h) == 0);
    bk_store_be32(p + 8, (uint32_t)-5);
    CU_ASSERT(bk_batch_parse_header(p, 61, &h) == -BK_ECORRUPT);
    memcpy(p, out.data, 61);
    bk_store_be32(p + 57, (uint32_t)-1);
    CU_ASSERT(bk_batch_parse_header(p, 61, &h) == -BK_ECORRUPT);
    memcpy(p, out.data, 61);
    bk_store_be32(p + 23, (uint32_t)-1);
    CU_ASSERT(bk_batch_parse_header(p, 61, &h) == -BK_ECORRUPT);
    /* the last offset + 1 (the next fetch offset, the log end) must fit an
     * int64: a hostile base offset near INT64_MAX is corrupt, not an
     * overflow in every caller of bk_batch_last_offset() */
    memcpy(p, out.data, 61);
    bk_store_be32(p + 23, 2);
    bk_store_be64(p, (uint64_t)(INT64_MAX - 3));
    CU_ASSERT_FATAL(bk_batch_parse_header(p, 61, &h) == 0);
    CU_ASSERT_EQUAL(bk_batch_last_offset(&h) + 1, INT64_MAX);
    bk_store_be64(p, (uint64_t)(INT64_MAX - 2));
    CU_ASSERT(bk_batch_parse_header(p, 61, &h) == -BK_ECORRUPT);
    bk_store_be64(p, (uint64_t)INT64_MAX);
    CU_ASSERT(bk_batch_parse_header(p, 61, &h) == -BK_ECORRUPT);
    bk_store_be32(p + 23, 0x7fffffff);
    bk_store_be64(p, (uint64_t)(INT64_MAX - 0x7fffffff));
    CU_ASSERT(bk_batch_parse_header(p, 61, &h) == -BK_ECORRUPT);

    /* check_crc wants the exact size */
    CU_ASSERT(bk_batch_check_crc(out.data, out.len) == 0);
    CU_ASSERT(bk_batch_check_crc(out.data, out.len - 1) == -BK_ECORRUPT);
    CU_ASSERT(bk_batch_check_crc(out.data, 60) == -BK_ECORRUPT);
    bk_buf_put_u8(&out, 0);
    CU_ASSERT(bk_batch_check_crc(out.data, out.len) == -BK_ECORRUPT);
    bk_buf_free(&out);
}

/* ----------------------------- round trips ----------------------------- */

static void test_null_vs_empty(void)
{
    for (int c = 0; c < NCODECS; c++) {
        bk_batch_builder b;
        CU_ASSERT_FATAL(bk_batch_builder_init(&b, codecs[c]) == 0);
        /* every combination of null / empty / non-empty key and value */
        const int32_t lens[] = {-1, 0, 3};
        for (int k = 0; k < 3; k++)
            for (int v = 0; v < 3; v++) {
                bk_record r = rec_kv(lens[k] < 0 ? NULL : "KEY", lens[k],
                                     lens[v] < 0 ? NULL : "VAL", lens[v],
                                     5000 - k * 3 - v);
                CU_ASSERT(bk_batch_builder_add(&b, &r) == 0);
            }
        bk_buf out = BK_BUF_INIT;
        CU_ASSERT_FATAL(bk_batch_builder_finish(&b, &out) == 0);
        bk_batch_header h;
        CU_ASSERT_FATAL(bk_batch_validate(out.data, out.len, MAX_UNC, &h) == 0);
        CU_ASSERT_EQUAL(h.attributes & 7, codecs[c]);
        CU_ASSERT_EQUAL(h.base_timestamp, 5000);
        CU_ASSERT_EQUAL(h.max_timestamp, 5000);
        bk_batch_iter it;
        CU_ASSERT_FATAL(bk_batch_iter_init(&it, out.data, out.len, MAX_UNC) ==
                        0);
        bk_record_view rv;
        int i = 0;
        for (int k = 0; k < 3; k++)
            for (int v = 0; v < 3; v++, i++) {
                CU_ASSERT_FATAL(bk_batch_iter_next(&it, &rv) == 1);
                CU_ASSERT_EQUAL(rv.offset, i);
                /* negative timestamp deltas survive the zigzag varlong */
                CU_ASSERT_EQUAL(rv.timestamp, 5000 - k * 3 - v);
                CU_ASSERT_EQUAL(rv.key_len, lens[k]);
                CU_ASSERT_EQUAL(rv.value_len, lens[v]);
                CU_ASSERT((rv.key == NULL) == (lens[k] < 0));
                CU_ASSERT((rv.value == NULL) == (lens[v] < 0));
                if (lens[k] > 0)
                    CU_ASSERT(memcmp(rv.key, "KEY", 3) == 0);
                if (lens[v] > 0)
                    CU_ASSERT(memcmp(rv.value, "VAL", 3) == 0);
                CU_ASSERT_EQUAL(rv.header_count, 0);
                size_t pos = 0;
                bk_rec_header hh;
                CU_ASSERT(bk_record_header_next(&rv, &pos, &hh) == 0);
            }
        CU_ASSERT(bk_batch_iter_next(&it, &rv) == 0);
        CU_ASSERT(bk_batch_iter_next(&it, &rv) == 0);
        bk_batch_iter_free(&it);
        bk_buf_free(&out);
        bk_batch_builder_free(&b);
    }
}

static void test_headers(void)
{
    bk_rec_header hs[4] = {
        {"trace", 5, "abc", 3},
        {"", 0, "empty-key", 9}, /* empty key is allowed */
        {"null", 4, NULL, -1},   /* null value */
        {"empty", 5, "", 0},     /* empty value */
    };
    for (int c = 0; c < NCODECS; c++) {
        bk_batch_builder b;
        CU_ASSERT_FATAL(bk_batch_builder_init(&b, codecs[c]) == 0);
        for (int n = 0; n <= 4; n++) {
            bk_record r = rec_kv("k", 1, "v", 1, 42);
            r.headers = hs;
            r.header_count = n;
            CU_ASSERT(bk_batch_builder_add(&b, &r) == 0);
        }
        bk_buf out = BK_BUF_INIT;
        CU_ASSERT_FATAL(bk_batch_builder_finish(&b, &out) == 0);
        CU_ASSERT_FATAL(bk_batch_validate(out.data, out.len, MAX_UNC, NULL) ==
                        0);
        bk_batch_iter it;
        CU_ASSERT_FATAL(bk_batch_iter_init(&it, out.data, out.len, MAX_UNC) ==
                        0);
        bk_record_view rv;
        for (int n = 0; n <= 4; n++) {
            CU_ASSERT_FATAL(bk_batch_iter_next(&it, &rv) == 1);
            CU_ASSERT_EQUAL(rv.header_count, n);
            CU_ASSERT(rv.key_len == 1 && rv.key[0] == 'k');
            CU_ASSERT(rv.value_len == 1 && rv.value[0] == 'v');
            size_t pos = 0;
            bk_rec_header hh;
            for (int j = 0; j < n; j++) {
                CU_ASSERT_FATAL(bk_record_header_next(&rv, &pos, &hh) == 1);
                CU_ASSERT_EQUAL(hh.key_len, hs[j].key_len);
                CU_ASSERT(memcmp(hh.key, hs[j].key, hh.key_len) == 0);
                CU_ASSERT_EQUAL(hh.value_len, hs[j].value_len);
                CU_ASSERT((hh.value == NULL) == (hs[j].value_len < 0));
                if (hh.value_len > 0)
                    CU_ASSERT(memcmp(hh.value, hs[j].value,
                                     (size_t)hh.value_len) == 0);
            }
            CU_ASSERT(bk_record_header_next(&rv, &pos, &hh) == 0);
            CU_ASSERT_EQUAL(pos, rv.headers_len);
        }
        CU_ASSERT(bk_batch_iter_next(&it, &rv) == 0);
        bk_batch_iter_free(&it);
        bk_buf_free(&out);
        bk_batch_builder_free(&b);
    }

    /* a corrupt header blob is reported, not overrun */
    static const uint8_t bad[] = {0x02, 'a', 0x7f}; /* value length -64 */
    bk_record_view rv;
    memset(&rv, 0, sizeof rv);
    rv.headers = bad;
    rv.headers_len = sizeof bad;
    rv.header_count = 1;
    size_t pos = 0;
    bk_rec_header hh;
    CU_ASSERT(bk_record_header_next(&rv, &pos, &hh) == -BK_ECORRUPT);
    static const uint8_t trunc[] = {0x02, 'a', 0x06, 'x'}; /* 3 of 1 byte */
    rv.headers = trunc;
    rv.headers_len = sizeof trunc;
    pos = 0;
    CU_ASSERT(bk_record_header_next(&rv, &pos, &hh) == -BK_ECORRUPT);
}

static void test_many_records(void)
{
    int n = bk_test_long ? 200000 : 20000;
    rnd_seed(1);
    uint8_t *pool = malloc(4096);
    for (int i = 0; i < 4096; i++)
        pool[i] = (uint8_t)rnd();
    int32_t *klen = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *vlen = malloc(sizeof(int32_t) * (size_t)n);
    int64_t *ts = malloc(sizeof(int64_t) * (size_t)n);
    int64_t maxts = INT64_MIN;
    for (int i = 0; i < n; i++) {
        /* sizes around the varint boundaries 63/64 and 8191/8192 */
        klen[i] = (int32_t)(rnd() % 70) - 1;
        vlen[i] = rnd() % 50 == 0 ? (int32_t)(rnd() % 4000)
                                  : (int32_t)(rnd() % 130) - 1;
        ts[i] = 1700000000000LL + (int64_t)(rnd() % 100000) - 50000;
        if (ts[i] > maxts)
            maxts = ts[i];
    }
    for (int c = 0; c < NCODECS; c++) {
        bk_batch_builder b;
        CU_ASSERT_FATAL(bk_batch_builder_init(&b, codecs[c]) == 0);
        b.producer_id = 123456789012LL;
        b.producer_epoch = 7;
        b.base_sequence = 1000;
        b.extra_attributes = BK_BATCH_ATTR_TRANSACTIONAL | 0x7; /* codec
                                                   bits are ignored */
        for (int i = 0; i < n; i++) {
            bk_record r = rec_kv((const char *)pool + i % 64, klen[i],
                                 (const char *)pool + i % 64, vlen[i], ts[i]);
            CU_ASSERT_FATAL(bk_batch_builder_add(&b, &r) == 0);
        }
        bk_buf out = BK_BUF_INIT;
        CU_ASSERT_FATAL(bk_batch_builder_finish(&b, &out) == 0);
        if (codecs[c] == BK_CODEC_NONE)
            CU_ASSERT_EQUAL(out.len, bk_batch_builder_size(&b));
        bk_batch_set_base_offset(out.data, 1000000);
        bk_batch_header h;
        CU_ASSERT_FATAL(bk_batch_validate(out.data, out.len, MAX_UNC, &h) == 0);
        CU_ASSERT_EQUAL(h.record_count, n);
        CU_ASSERT_EQUAL(h.last_offset_delta, n - 1);
        CU_ASSERT_EQUAL(h.base_timestamp, ts[0]);
        CU_ASSERT_EQUAL(h.max_timestamp, maxts);
        CU_ASSERT_EQUAL(h.producer_id, 123456789012LL);
        CU_ASSERT_EQUAL(h.producer_epoch, 7);
        CU_ASSERT_EQUAL(h.base_sequence, 1000);
        CU_ASSERT_EQUAL(h.attributes, BK_BATCH_ATTR_TRANSACTIONAL | codecs[c]);
        bk_batch_iter it;
        CU_ASSERT_FATAL(bk_batch_iter_init(&it, out.data, out.len, MAX_UNC) ==
                        0);
        bk_record_view rv;
        int bad = 0;
        for (int i = 0; i < n; i++) {
            if (bk_batch_iter_next(&it, &rv) != 1) {
                bad++;
                break;
            }
            const uint8_t *src = pool + i % 64;
            if (rv.offset != 1000000 + i || rv.timestamp != ts[i] ||
                rv.key_len != klen[i] || rv.value_len != vlen[i] ||
                (klen[i] > 0 && memcmp(rv.key, src, (size_t)klen[i])) ||
                (vlen[i] > 0 && memcmp(rv.value, src, (size_t)vlen[i])))
                bad++;
        }
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT(bk_batch_iter_next(&it, &rv) == 0);
        bk_batch_iter_free(&it);

        /* reset keeps the codec: a second, smaller batch starts over */
        bk_batch_builder_reset(&b);
        CU_ASSERT_EQUAL(bk_batch_builder_size(&b), 61);
        bk_buf_reset(&out);
        CU_ASSERT(bk_batch_builder_finish(&b, &out) == -BK_EINVAL);
        bk_record r = rec_kv(NULL, -1, "x", 1, 99);
        CU_ASSERT(bk_batch_builder_add(&b, &r) == 0);
        CU_ASSERT_FATAL(bk_batch_builder_finish(&b, &out) == 0);
        CU_ASSERT(bk_batch_validate(out.data, out.len, MAX_UNC, &h) == 0);
        CU_ASSERT(h.record_count == 1 && h.base_timestamp == 99 &&
                  h.max_timestamp == 99 && (h.attributes & 7) == codecs[c]);
        bk_buf_free(&out);
        bk_batch_builder_free(&b);
    }
    free(pool);
    free(klen);
    free(vlen);
    free(ts);
}

/* The codecs write what Kafka writes: check the frame signatures. */
static void test_codec_formats(void)
{
    bk_buf out = BK_BUF_INIT;
    build_n(&out, BK_CODEC_GZIP, 10, 100);
    /* GZIPOutputStream: magic, deflate, no flags, mtime 0, xfl 0, OS 255 */
    static const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    CU_ASSERT(memcmp(out.data + 61, gz, sizeof gz) == 0);
    bk_buf_reset(&out);
    build_n(&out, BK_CODEC_LZ4, 10, 100);
    /* LZ4 frame magic, FLG 0x60 (v01, independent blocks, no checksums,
     * no size), BD 0x40 (64 KiB blocks) */
    static const uint8_t lz[] = {0x04, 0x22, 0x4d, 0x18, 0x60, 0x40};
    CU_ASSERT(memcmp(out.data + 61, lz, sizeof lz) == 0);
    bk_buf_reset(&out);
    build_n(&out, BK_CODEC_ZSTD, 10, 100);
    static const uint8_t zs[] = {0x28, 0xb5, 0x2f, 0xfd};
    CU_ASSERT(memcmp(out.data + 61, zs, sizeof zs) == 0);
    /* more than one 64 KiB block: still independent blocks (Kafka's
     * reader does not support linked ones) */
    bk_buf_reset(&out);
    uint8_t *big = calloc(1, 256 * 1024);
    CU_ASSERT_FATAL(bk_compress(BK_CODEC_LZ4, big, 256 * 1024, &out) == 0);
    CU_ASSERT(memcmp(out.data, lz, sizeof lz) == 0);
    free(big);
    bk_buf_free(&out);
}

static void test_log_append_time(void)
{
    bk_batch_builder b;
    CU_ASSERT_FATAL(bk_batch_builder_init(&b, BK_CODEC_NONE) == 0);
    b.extra_attributes = BK_BATCH_ATTR_LOG_APPEND_TIME;
    for (int i = 0; i < 3; i++) {
        bk_record r = rec_kv(NULL, -1, "v", 1, 10 + i);
        CU_ASSERT(bk_batch_builder_add(&b, &r) == 0);
    }
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_FATAL(bk_batch_builder_finish(&b, &out) == 0);
    /* a broker stamping log-append time writes maxTimestamp (inside the
     * CRC: it recomputes it); every record then reads as that time */
    bk_store_be64(out.data + 35, 777777);
    fix_crc(out.data, out.len);
    CU_ASSERT(bk_batch_validate(out.data, out.len, MAX_UNC, NULL) == 0);
    bk_batch_iter it;
    CU_ASSERT_FATAL(bk_batch_iter_init(&it, out.data, out.len, MAX_UNC) == 0);
    bk_record_view rv;
    int n = 0;
    while (bk_batch_iter_next(&it, &rv) == 1) {
        CU_ASSERT_EQUAL(rv.timestamp, 777777);
        n++;
    }
    CU_ASSERT_EQUAL(n, 3);
    bk_batch_iter_free(&it);
    bk_buf_free(&out);
    bk_batch_builder_free(&b);
}

static void test_builder_errors(void)
{
    bk_batch_builder b;
    CU_ASSERT(bk_batch_builder_init(&b, BK_CODEC_SNAPPY) == -BK_EUNSUPPORTED);
    bk_batch_builder_free(&b);
    for (int c = 5; c < 9; c++) {
        CU_ASSERT(bk_batch_builder_init(&b, c) == -BK_EUNSUPPORTED);
        bk_batch_builder_free(&b);
    }
    CU_ASSERT(bk_batch_builder_init(&b, -1) == -BK_EUNSUPPORTED);
    bk_batch_builder_free(&b);

    CU_ASSERT_FATAL(bk_batch_builder_init(&b, BK_CODEC_NONE) == 0);
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT(bk_batch_builder_finish(&b, &out) == -BK_EINVAL);
    CU_ASSERT_EQUAL(out.len, 0);
    bk_record r = rec_kv("k", -2, "v", 1, 0);
    CU_ASSERT(bk_batch_builder_add(&b, &r) == -BK_EINVAL);
    r = rec_kv("k", 1, "v", -2, 0);
    CU_ASSERT(bk_batch_builder_add(&b, &r) == -BK_EINVAL);
    r = rec_kv("k", 1, "v", 1, 0);
    r.header_count = -1;
    CU_ASSERT(bk_batch_builder_add(&b, &r) == -BK_EINVAL);
    bk_rec_header bad = {"h", 1, "v", -3};
    r.headers = &bad;
    r.header_count = 1;
    CU_ASSERT(bk_batch_builder_add(&b, &r) == -BK_EINVAL);
    CU_ASSERT_EQUAL(b.count, 0);
    CU_ASSERT_EQUAL(bk_batch_builder_size(&b), 61);
    /* timestamps whose delta overflows int64 */
    r = rec_kv(NULL, -1, NULL, -1, INT64_MIN);
    CU_ASSERT(bk_batch_builder_add(&b, &r) == 0);
    r.timestamp = INT64_MAX;
    CU_ASSERT(bk_batch_builder_add(&b, &r) == -BK_EINVAL);
    CU_ASSERT_EQUAL(b.count, 1);
    /* finish appends after what out already holds */
    bk_buf_put(&out, "xyz", 3);
    CU_ASSERT(bk_batch_builder_finish(&b, &out) == 0);
    CU_ASSERT(memcmp(out.data, "xyz", 3) == 0);
    CU_ASSERT(bk_batch_validate(out.data + 3, out.len - 3, MAX_UNC, NULL) == 0);
    bk_buf_free(&out);
    bk_batch_builder_free(&b);
}

/* --------------------------- hostile input --------------------------- */

/* Flip every byte (and every bit of it): inside the CRC's range every flip
 * must be caught; baseOffset and leader epoch are outside the CRC on
 * purpose and flips there must still validate. */
static void flip_all(int codec)
{
    bk_buf out = BK_BUF_INIT;
    build_n(&out, codec, 12, 40);
    uint8_t *p = malloc(out.len);
    int missed = 0, wrong_ok = 0;
    for (size_t i = 0; i < out.len; i++) {
        for (int k = 0; k < 9; k++) {
            uint8_t mask = k == 8 ? 0xff : (uint8_t)(1u << k);
            memcpy(p, out.data, out.len);
            p[i] ^= mask;
            int rc = bk_batch_validate(p, out.len, MAX_UNC, NULL);
            bool free_field = i < 8 || (i >= 12 && i < 16);
            if (free_field && rc != 0)
                wrong_ok++;
            if (!free_field && rc == 0)
                missed++;
            if (!free_field)
                CU_ASSERT(rc == -BK_ECORRUPT || rc == -BK_EUNSUPPORTED);
            /* the iterator must survive the flipped bytes too */
            bk_batch_iter it;
            if (bk_batch_iter_init(&it, p, out.len, MAX_UNC) == 0) {
                bk_record_view rv;
                while (bk_batch_iter_next(&it, &rv) == 1)
                    ;
            }
            bk_batch_iter_free(&it);
        }
    }
    CU_ASSERT_EQUAL(missed, 0);
    CU_ASSERT_EQUAL(wrong_ok, 0);
    free(p);
    bk_buf_free(&out);
}

static void test_flip_every_byte(void)
{
    for (int c = 0; c < NCODECS; c++)
        flip_all(codecs[c]);
}

static void test_truncate_everywhere(void)
{
    for (int c = 0; c < NCODECS; c++) {
        bk_buf out = BK_BUF_INIT;
        build_n(&out, codecs[c], 12, 40);
        for (size_t n = 0; n < out.len; n++) {
            /* a fresh copy of exactly n bytes: ASan catches a read past */
            uint8_t *p = malloc(n ? n : 1);
            memcpy(p, out.data, n);
            CU_ASSERT(bk_batch_validate(p, n, MAX_UNC, NULL) < 0);
            CU_ASSERT(bk_batch_check_crc(p, n) == -BK_ECORRUPT);
            bk_batch_iter it;
            CU_ASSERT(bk_batch_iter_init(&it, p, n, MAX_UNC) < 0);
            bk_record_view rv;
            CU_ASSERT(bk_batch_iter_next(&it, &rv) == 0);
            bk_batch_iter_free(&it);
            bk_batch_header h;
            int rc = bk_batch_parse_header(p, n, &h);
            CU_ASSERT(n < 61 ? rc == BK_AGAIN : rc == 0);
            free(p);
        }
        /* and with the batchLength made to match the cut: CRC catches it */
        for (size_t n = 61; n < out.len; n++) {
            uint8_t *p = malloc(n);
            memcpy(p, out.data, n);
            bk_store_be32(p + 8, (uint32_t)(n - 12));
            CU_ASSERT(bk_batch_validate(p, n, MAX_UNC, NULL) == -BK_ECORRUPT);
            /* with a valid CRC it is the record decoder that objects */
            fix_crc(p, n);
            CU_ASSERT(bk_batch_validate(p, n, MAX_UNC, NULL) == -BK_ECORRUPT);
            free(p);
        }
        bk_buf_free(&out);
    }
}

static int validate_forged(const uint8_t *recs, size_t n, int32_t count,
                           int32_t last_delta)
{
    uint8_t *p = malloc(61 + n);
    size_t len = forge(p, recs, n, count, last_delta, 0);
    int rc = bk_batch_validate(p, len, MAX_UNC, NULL);
    free(p);
    return rc;
}

static void test_bogus_lengths(void)
{
    /* a good pair of records as a control: [len 6: attrs ts off k v h] */
    static const uint8_t good[] = {0x0c, 0, 0, 0, 1, 0, 0,
                                   0x0c, 0, 0, 2, 1, 0, 0};
    CU_ASSERT(validate_forged(good, sizeof good, 2, 1) == 0);

    /* key length -2 */
    static const uint8_t k_neg[] = {0x0c, 0, 0, 0, 3, 0, 0};
    CU_ASSERT(validate_forged(k_neg, sizeof k_neg, 1, 0) == -BK_ECORRUPT);
    /* key length 2^31-1: past the record */
    static const uint8_t k_huge[] = {0x14, 0,    0,    0, 0xfe, 0xff,
                                     0xff, 0xff, 0x0f, 0, 0};
    CU_ASSERT(validate_forged(k_huge, sizeof k_huge, 1, 0) == -BK_ECORRUPT);
    /* key length -2^31 */
    static const uint8_t k_min[] = {0x14, 0,    0,    0, 0xff, 0xff,
                                    0xff, 0xff, 0x0f, 0, 0};
    CU_ASSERT(validate_forged(k_min, sizeof k_min, 1, 0) == -BK_ECORRUPT);
    /* over-long varint (6 bytes) for the key length */
    static const uint8_t k_long[] = {0x16, 0,    0,    0,    0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x00, 0,    0};
    CU_ASSERT(validate_forged(k_long, sizeof k_long, 1, 0) == -BK_ECORRUPT);
    /* value length 3 with 1 byte in the record, the rest in the next */
    static const uint8_t v_over[] = {0x0e, 0, 0, 0, 1, 6, 'x',
                                     0x0c, 0, 0, 2, 1, 0, 0};
    CU_ASSERT(validate_forged(v_over, sizeof v_over, 2, 1) == -BK_ECORRUPT);
    /* record length larger than the batch */
    static const uint8_t r_huge[] = {0xfe, 0xff, 0xff, 0xff, 0x0f, 0,
                                     0,    0,    1,    0,    0};
    CU_ASSERT(validate_forged(r_huge, sizeof r_huge, 1, 0) == -BK_ECORRUPT);
    /* negative record length */
    static const uint8_t r_neg[] = {0x03, 0, 0, 0, 1, 0, 0};
    CU_ASSERT(validate_forged(r_neg, sizeof r_neg, 1, 0) == -BK_ECORRUPT);
    /* record length longer than its fields (a stray byte inside) */
    static const uint8_t r_slack[] = {0x0e, 0, 0, 0, 1, 0, 0, 0x55};
    CU_ASSERT(validate_forged(r_slack, sizeof r_slack, 1, 0) == -BK_ECORRUPT);
    /* record length shorter than its fields */
    static const uint8_t r_short[] = {0x0a, 0, 0, 0, 1, 0, 0};
    CU_ASSERT(validate_forged(r_short, sizeof r_short, 1, 0) == -BK_ECORRUPT);
    /* zero-length record */
    static const uint8_t r_zero[] = {0x00};
    CU_ASSERT(validate_forged(r_zero, sizeof r_zero, 1, 0) == -BK_ECORRUPT);
    /* negative header count; header with a null key; huge header count */
    static const uint8_t h_neg[] = {0x0c, 0, 0, 0, 1, 0, 1};
    CU_ASSERT(validate_forged(h_neg, sizeof h_neg, 1, 0) == -BK_ECORRUPT);
    static const uint8_t h_nullkey[] = {0x10, 0, 0, 0, 1, 0, 2, 1, 1};
    CU_ASSERT(validate_forged(h_nullkey, sizeof h_nullkey, 1, 0) ==
              -BK_ECORRUPT);
    static const uint8_t h_many[] = {0x14, 0,    0,    0,    1,   0,
                                     0xfe, 0xff, 0xff, 0xff, 0x0f};
    CU_ASSERT(validate_forged(h_many, sizeof h_many, 1, 0) == -BK_ECORRUPT);

    /* record count does not match the records */
    CU_ASSERT(validate_forged(good, sizeof good, 3, 1) == -BK_ECORRUPT);
    CU_ASSERT(validate_forged(good, sizeof good, 3, 2) == -BK_ECORRUPT);
    CU_ASSERT(validate_forged(good, sizeof good, 1, 0) == -BK_ECORRUPT);
    CU_ASSERT(validate_forged(good, sizeof good, 0, 1) == -BK_ECORRUPT);
    CU_ASSERT(validate_forged(good, 0, 0, 0) == -BK_ECORRUPT);
    CU_ASSERT(validate_forged(good, sizeof good, INT32_MAX, 1) == -BK_ECORRUPT);
    /* lastOffsetDelta disagrees */
    CU_ASSERT(validate_forged(good, sizeof good, 2, 0) == -BK_ECORRUPT);
    CU_ASSERT(validate_forged(good, sizeof good, 2, 2) == -BK_ECORRUPT);
    /* offset delta gap (0, 2), a start at 1, and a repeat (0, 0) */
    static const uint8_t gap[] = {0x0c, 0, 0, 0, 1, 0, 0,
                                  0x0c, 0, 0, 4, 1, 0, 0};
    CU_ASSERT(validate_forged(gap, sizeof gap, 2, 2) == -BK_ECORRUPT);
    CU_ASSERT(validate_forged(gap, sizeof gap, 2, 1) == -BK_ECORRUPT);
    static const uint8_t late[] = {0x0c, 0, 0, 2, 1, 0, 0};
    CU_ASSERT(validate_forged(late, sizeof late, 1, 1) == -BK_ECORRUPT);
    CU_ASSERT(validate_forged(late, sizeof late, 1, 0) == -BK_ECORRUPT);
    static const uint8_t twice[] = {0x0c, 0, 0, 0, 1, 0, 0,
                                    0x0c, 0, 0, 0, 1, 0, 0};
    CU_ASSERT(validate_forged(twice, sizeof twice, 2, 1) == -BK_ECORRUPT);
    /* bytes after the last record */
    static const uint8_t tail[] = {0x0c, 0, 0, 0, 1, 0, 0, 0};
    CU_ASSERT(validate_forged(tail, sizeof tail, 1, 0) == -BK_ECORRUPT);
    /* a timestamp delta that overflows int64 from base 1000 */
    static const uint8_t ts_ovf[] = {0x1e, 0,    0xfe, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                                     0,    1,    0,    0};
    CU_ASSERT(validate_forged(ts_ovf, sizeof ts_ovf, 1, 0) == -BK_ECORRUPT);
    /* maxTimestamp is taken as given (as Kafka does): any value passes */
    uint8_t p[61 + sizeof good];
    size_t len = forge(p, good, sizeof good, 2, 1, 0);
    bk_store_be64(p + 35, 5);
    fix_crc(p, len);
    CU_ASSERT(bk_batch_validate(p, len, MAX_UNC, NULL) == 0);

    /* the batch length must be the exact size given */
    len = forge(p, good, sizeof good, 2, 1, 0);
    bk_store_be32(p + 8, (uint32_t)(len - 12 + 1));
    CU_ASSERT(bk_batch_validate(p, len, MAX_UNC, NULL) == -BK_ECORRUPT);
    bk_store_be32(p + 8, (uint32_t)(len - 12 - 1));
    CU_ASSERT(bk_batch_validate(p, len, MAX_UNC, NULL) == -BK_ECORRUPT);
    bk_store_be32(p + 8, 0x7fffffff);
    CU_ASSERT(bk_batch_validate(p, len, MAX_UNC, NULL) == -BK_ECORRUPT);
}

static void test_unknown_codec(void)
{
    static const uint8_t good[] = {0x0c, 0, 0, 0, 1, 0, 0};
    uint8_t p[61 + sizeof good];
    const int16_t bad[] = {BK_CODEC_SNAPPY, 5, 6, 7,
                           BK_CODEC_SNAPPY | BK_BATCH_ATTR_TRANSACTIONAL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = forge(p, good, sizeof good, 1, 0, bad[i]);
        CU_ASSERT(bk_batch_check_crc(p, len) == 0);
        CU_ASSERT(bk_batch_validate(p, len, MAX_UNC, NULL) == -BK_EUNSUPPORTED);
        bk_batch_iter it;
        CU_ASSERT(bk_batch_iter_init(&it, p, len, MAX_UNC) == -BK_EUNSUPPORTED);
        bk_batch_iter_free(&it);
    }
    /* the other attribute bits do not matter to validation */
    size_t len = forge(p, good, sizeof good, 1, 0,
                       BK_BATCH_ATTR_TRANSACTIONAL | BK_BATCH_ATTR_CONTROL |
                           (int16_t)0x7f00);
    CU_ASSERT(bk_batch_validate(p, len, MAX_UNC, NULL) == 0);
    /* an old magic is "unsupported", even with a valid CRC */
    len = forge(p, good, sizeof good, 1, 0, 0);
    p[16] = 1;
    CU_ASSERT(bk_batch_validate(p, len, MAX_UNC, NULL) == -BK_EUNSUPPORTED);

    bk_codec c;
    CU_ASSERT(bk_codec_parse("snappy", &c) == -BK_EUNSUPPORTED);
    CU_ASSERT(bk_codec_parse("brotli", &c) == -BK_EUNSUPPORTED);
    CU_ASSERT(bk_codec_parse("", &c) == -BK_EUNSUPPORTED);
    for (int i = 0; i < NCODECS; i++) {
        CU_ASSERT(bk_codec_parse(bk_codec_name(codecs[i]), &c) == 0);
        CU_ASSERT_EQUAL((int)c, codecs[i]);
    }
    CU_ASSERT_STRING_EQUAL(bk_codec_name(BK_CODEC_SNAPPY), "snappy");
    CU_ASSERT_STRING_EQUAL(bk_codec_name(5), "unknown");
    CU_ASSERT_STRING_EQUAL(bk_codec_name(-1), "unknown");
    uint8_t x = 0;
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT(bk_compress(BK_CODEC_SNAPPY, &x, 1, &out) == -BK_EUNSUPPORTED);
    CU_ASSERT(bk_compress(6, &x, 1, &out) == -BK_EUNSUPPORTED);
    CU_ASSERT(bk_decompress(BK_CODEC_SNAPPY, &x, 1, 100, &out) ==
              -BK_EUNSUPPORTED);
    CU_ASSERT(bk_decompress(7, &x, 1, 100, &out) == -BK_EUNSUPPORTED);
    CU_ASSERT_EQUAL(out.len, 0);
    bk_buf_free(&out);
}

/* A batch of codec whose compressed records are `payload` (CRC valid). */
static int validate_payload(int codec, const uint8_t *payload, size_t n,
                            int32_t count, size_t max_unc)
{
    uint8_t *p = malloc(61 + n);
    size_t len = forge(p, payload, n, count, count - 1, (int16_t)codec);
    int rc = bk_batch_validate(p, len, max_unc, NULL);
    free(p);
    return rc;
}

static void test_compressed_garbage(void)
{
    rnd_seed(2);
    uint8_t junk[512];
    for (int c = 1; c < NCODECS; c++) {
        int codec = codecs[c];
        for (int t = 0; t < 50; t++) {
            size_t n = 1 + rnd() % sizeof junk;
            for (size_t i = 0; i < n; i++)
                junk[i] = (uint8_t)rnd();
            CU_ASSERT(validate_payload(codec, junk, n, 1, MAX_UNC) ==
                      -BK_ECORRUPT);
        }
        /* nothing at all where the compressed records should be */
        CU_ASSERT(validate_payload(codec, junk, 0, 1, MAX_UNC) == -BK_ECORRUPT);

        /* valid records compressed: fine; the stream cut short, or
         * followed by junk, is not */
        bk_buf plain = BK_BUF_INIT, z = BK_BUF_INIT;
        build_n(&plain, BK_CODEC_NONE, 2000, 30);
        CU_ASSERT_FATAL(
            bk_compress(codec, plain.data + 61, plain.len - 61, &z) == 0);
        CU_ASSERT(validate_payload(codec, z.data, z.len, 2000, MAX_UNC) == 0);
        for (size_t cut = 0; cut < z.len; cut += 1 + cut / 8)
            CU_ASSERT(validate_payload(codec, z.data, cut, 2000, MAX_UNC) ==
                      -BK_ECORRUPT);
        bk_buf_put(&z, "JUNK", 4);
        CU_ASSERT(validate_payload(codec, z.data, z.len, 2000, MAX_UNC) ==
                  -BK_ECORRUPT);
        /* and straight to the decompressor: junk, nothing, a frame + junk */
        bk_buf back = BK_BUF_INIT;
        CU_ASSERT(bk_decompress(codec, z.data, z.len, MAX_UNC, &back) ==
                  -BK_ECORRUPT);
        CU_ASSERT(bk_decompress(codec, z.data, 0, MAX_UNC, &back) ==
                  -BK_ECORRUPT);
        CU_ASSERT(bk_decompress(codec, junk, 64, MAX_UNC, &back) ==
                  -BK_ECORRUPT);
        CU_ASSERT(bk_decompress(codec, z.data + z.len - 4, 4, MAX_UNC, &back) ==
                  -BK_ECORRUPT);
        CU_ASSERT_EQUAL(back.len, 0);
        bk_buf_free(&back);

        /* well-compressed garbage records: the record decoder objects */
        bk_buf_reset(&z);
        CU_ASSERT_FATAL(bk_compress(codec, junk, 100, &z) == 0);
        CU_ASSERT(validate_payload(codec, z.data, z.len, 1, MAX_UNC) ==
                  -BK_ECORRUPT);
        /* a valid compressed empty record area for a count of 1 */
        bk_buf_reset(&z);
        CU_ASSERT_FATAL(bk_compress(codec, NULL, 0, &z) == 0);
        CU_ASSERT(validate_payload(codec, z.data, z.len, 1, MAX_UNC) ==
                  -BK_ECORRUPT);
        bk_buf_free(&plain);
        bk_buf_free(&z);
    }
}

/* Random mutations of compressed payloads, CRC fixed each time so that the
 * decompressors see them: any answer but a crash or a leak is fine, and a
 * "valid" answer must iterate cleanly. */
static void test_mutated_compressed(void)
{
    int rounds = bk_test_long ? 20000 : 1500;
    rnd_seed(3);
    for (int c = 1; c < NCODECS; c++) {
        bk_buf out = BK_BUF_INIT;
        build_n(&out, codecs[c], 50, 200);
        uint8_t *p = malloc(out.len);
        int ok = 0;
        for (int t = 0; t < rounds; t++) {
            memcpy(p, out.data, out.len);
            int muts = 1 + (int)(rnd() % 4);
            for (int m = 0; m < muts; m++)
                p[61 + rnd() % (out.len - 61)] ^= (uint8_t)(1 + rnd() % 255);
            fix_crc(p, out.len);
            int rc = bk_batch_validate(p, out.len, 1 << 20, NULL);
            CU_ASSERT(rc == 0 || rc == -BK_ECORRUPT || rc == -BK_ETOOBIG);
            if (rc == 0) {
                ok++;
                bk_batch_iter it;
                CU_ASSERT_FATAL(bk_batch_iter_init(&it, p, out.len, 1 << 20) ==
                                0);
                bk_record_view rv;
                int n = 0;
                while (bk_batch_iter_next(&it, &rv) == 1)
                    n++;
                CU_ASSERT_EQUAL(n, 50);
                bk_batch_iter_free(&it);
            }
        }
        (void)ok; /* mutations in literals can still decode: that is fine */
        free(p);
        bk_buf_free(&out);
    }
}

static void test_zip_bomb(void)
{
    /* one record whose value is 8 MiB of zeros: a few KiB compressed */
    size_t big = 8u << 20;
    uint8_t *zeros = calloc(1, big);
    CU_ASSERT_FATAL(zeros != NULL);
    for (int c = 1; c < NCODECS; c++) {
        bk_batch_builder b;
        CU_ASSERT_FATAL(bk_batch_builder_init(&b, codecs[c]) == 0);
        bk_record r = rec_kv(NULL, -1, (const char *)zeros, (int32_t)big, 1);
        CU_ASSERT_FATAL(bk_batch_builder_add(&b, &r) == 0);
        bk_buf out = BK_BUF_INIT;
        CU_ASSERT_FATAL(bk_batch_builder_finish(&b, &out) == 0);
        CU_ASSERT(out.len < big / 100);
        size_t plain = bk_batch_builder_size(&b) - 61;
        CU_ASSERT(bk_batch_validate(out.data, out.len, 1 << 20, NULL) ==
                  -BK_ETOOBIG);
        CU_ASSERT(bk_batch_validate(out.data, out.len, plain - 1, NULL) ==
                  -BK_ETOOBIG);
        CU_ASSERT(bk_batch_validate(out.data, out.len, plain, NULL) == 0);
        bk_batch_iter it;
        CU_ASSERT(bk_batch_iter_init(&it, out.data, out.len, 1 << 20) ==
                  -BK_ETOOBIG);
        /* a failed decompression leaves nothing big behind */
        CU_ASSERT(it.plain.cap <= (2u << 20) + 64 * 1024);
        bk_batch_iter_free(&it);
        bk_buf_free(&out);
        bk_batch_builder_free(&b);
    }
    free(zeros);
}

/* ------------------------------ compress ------------------------------ */

static void roundtrip(int codec, const uint8_t *in, size_t n)
{
    bk_buf z = BK_BUF_INIT, back = BK_BUF_INIT;
    CU_ASSERT_FATAL(bk_compress(codec, in, n, &z) == 0);
    CU_ASSERT(codec == BK_CODEC_NONE ? z.len == n : z.len > 0);
    bk_buf_put(&back, "pre", 3); /* decompress appends */
    CU_ASSERT_FATAL(bk_decompress(codec, z.data, z.len, n, &back) == 0);
    CU_ASSERT_EQUAL_FATAL(back.len, n + 3);
    CU_ASSERT(memcmp(back.data, "pre", 3) == 0);
    CU_ASSERT(n == 0 || memcmp(back.data + 3, in, n) == 0);
    if (n > 0) {
        /* one byte less room than needed: refused, out unchanged */
        CU_ASSERT(bk_decompress(codec, z.data, z.len, n - 1, &back) ==
                  -BK_ETOOBIG);
        CU_ASSERT_EQUAL(back.len, n + 3);
    }
    bk_buf_free(&z);
    bk_buf_free(&back);
}

static void test_compress_empty(void)
{
    for (int c = 0; c < NCODECS; c++) {
        roundtrip(codecs[c], NULL, 0);
        roundtrip(codecs[c], (const uint8_t *)"", 0);
        roundtrip(codecs[c], (const uint8_t *)"x", 1);
    }
}

static void test_compress_large(void)
{
    size_t n = bk_test_long ? 64u << 20 : 6u << 20;
    uint8_t *in = malloc(n);
    rnd_seed(4);
    /* half text-like (compressible), half random (not) */
    for (size_t i = 0; i < n / 2; i++)
        in[i] = (uint8_t)("the quick brown fox "[(i * 7 + i / 13) % 20]);
    for (size_t i = n / 2; i < n; i += 8) {
        uint64_t r = rnd();
        memcpy(in + i, &r, n - i < 8 ? n - i : 8);
    }
    for (int c = 0; c < NCODECS; c++)
        roundtrip(codecs[c], in, n);
    free(in);
}

/* Other valid streams than ours: gzip with a file name and several
 * members, linked lz4 blocks with checksums, several zstd frames. */
static void test_decompress_foreign(void)
{
    uint8_t in[200000];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 31 / 7);
    bk_buf z = BK_BUF_INIT, back = BK_BUF_INIT;

    /* gzip: two members, the first with a name and header CRC */
    for (int m = 0; m < 2; m++) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        CU_ASSERT_FATAL(deflateInit2(&zs, 9, Z_DEFLATED, 31, 9,
                                     Z_DEFAULT_STRATEGY) == Z_OK);
        gz_header gh;
        memset(&gh, 0, sizeof gh);
        gh.name = (Bytef *)"file.txt";
        gh.hcrc = 1;
        gh.time = 12345;
        if (m == 0)
            deflateSetHeader(&zs, &gh);
        uint8_t tmp[120000];
        zs.next_in = in + m * 100000;
        zs.avail_in = 100000;
        zs.next_out = tmp;
        zs.avail_out = sizeof tmp;
        CU_ASSERT_FATAL(deflate(&zs, Z_FINISH) == Z_STREAM_END);
        bk_buf_put(&z, tmp, sizeof tmp - zs.avail_out);
        deflateEnd(&zs);
    }
    CU_ASSERT(bk_decompress(BK_CODEC_GZIP, z.data, z.len, sizeof in, &back) ==
              0);
    CU_ASSERT(back.len == sizeof in && memcmp(back.data, in, sizeof in) == 0);
    bk_buf_reset(&back);
    CU_ASSERT(bk_decompress(BK_CODEC_GZIP, z.data, z.len, sizeof in - 1,
                            &back) == -BK_ETOOBIG);
    /* a zlib (not gzip) stream is not what Kafka writes */
    bk_buf_reset(&z);
    bk_buf_reset(&back);
    uLongf zl = compressBound(sizeof in);
    uint8_t *zbuf = malloc(zl);
    CU_ASSERT_FATAL(compress(zbuf, &zl, in, sizeof in) == Z_OK);
    CU_ASSERT(bk_decompress(BK_CODEC_GZIP, zbuf, zl, sizeof in, &back) ==
              -BK_ECORRUPT);
    free(zbuf);

    /* lz4: linked blocks, block and content checksums, content size */
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockLinked;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    prefs.frameInfo.contentSize = sizeof in;
    size_t cap = LZ4F_compressFrameBound(sizeof in, &prefs);
    uint8_t *lzb = malloc(cap);
    size_t lzn = LZ4F_compressFrame(lzb, cap, in, sizeof in, &prefs);
    CU_ASSERT_FATAL(!LZ4F_isError(lzn));
    bk_buf_reset(&back);
    CU_ASSERT(bk_decompress(BK_CODEC_LZ4, lzb, lzn, sizeof in, &back) == 0);
    CU_ASSERT(back.len == sizeof in && memcmp(back.data, in, sizeof in) == 0);
    /* the content checksum is verified */
    lzb[lzn - 2] ^= 1;
    bk_buf_reset(&back);
    CU_ASSERT(bk_decompress(BK_CODEC_LZ4, lzb, lzn, sizeof in, &back) ==
              -BK_ECORRUPT);
    free(lzb);

    /* zstd streamed without a known size (as Java's ZstdOutputStream
     * writes), with a checksum */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    size_t zcap = ZSTD_compressBound(sizeof in);
    uint8_t *zsb = malloc(zcap);
    ZSTD_outBuffer ob = {zsb, zcap, 0};
    for (size_t off = 0; off < sizeof in; off += 50000) {
        ZSTD_inBuffer ib = {in + off, 50000, 0};
        bool last = off + 50000 >= sizeof in;
        size_t left;
        do {
            left = ZSTD_compressStream2(cc, &ob, &ib,
                                        last ? ZSTD_e_end : ZSTD_e_continue);
            CU_ASSERT_FATAL(!ZSTD_isError(left));
        } while (last ? left != 0 : ib.pos < ib.size);
    }
    ZSTD_freeCCtx(cc);
    CU_ASSERT(ZSTD_getFrameContentSize(zsb, ob.pos) ==
              ZSTD_CONTENTSIZE_UNKNOWN);
    bk_buf_reset(&back);
    CU_ASSERT(bk_decompress(BK_CODEC_ZSTD, zsb, ob.pos, sizeof in, &back) == 0);
    CU_ASSERT(back.len == sizeof in && memcmp(back.data, in, sizeof in) == 0);
    bk_buf_reset(&back);
    CU_ASSERT(bk_decompress(BK_CODEC_ZSTD, zsb, ob.pos, sizeof in - 1, &back) ==
              -BK_ETOOBIG);
    free(zsb);

    /* lz4 and zstd: two of our frames back to back */
    const int multi[] = {BK_CODEC_LZ4, BK_CODEC_ZSTD};
    for (int i = 0; i < 2; i++) {
        bk_buf_reset(&z);
        bk_buf_reset(&back);
        CU_ASSERT(bk_compress(multi[i], in, 1000, &z) == 0);
        CU_ASSERT(bk_compress(multi[i], in + 1000, sizeof in - 1000, &z) == 0);
        CU_ASSERT(bk_decompress(multi[i], z.data, z.len, sizeof in, &back) ==
                  0);
        CU_ASSERT(back.len == sizeof in &&
                  memcmp(back.data, in, sizeof in) == 0);
    }
    bk_buf_free(&z);
    bk_buf_free(&back);
}

void bk_test_register(void)
{
    static CU_TestInfo format[] = {
        {"layout byte-exact", test_layout_exact},
        {"set base offset/epoch keep CRC", test_set_fields_keep_crc},
        {"parse_header errors", test_parse_header_errors},
        {"codec frame formats", test_codec_formats},
        CU_TEST_INFO_NULL,
    };
    static CU_TestInfo roundtrips[] = {
        {"null vs empty key/value", test_null_vs_empty},
        {"headers", test_headers},
        {"many records, every codec", test_many_records},
        {"log append time", test_log_append_time},
        {"builder errors", test_builder_errors},
        CU_TEST_INFO_NULL,
    };
    static CU_TestInfo hostile[] = {
        {"flip every byte", test_flip_every_byte},
        {"truncate everywhere", test_truncate_everywhere},
        {"bogus lengths and counts", test_bogus_lengths},
        {"unknown codec", test_unknown_codec},
        {"compressed garbage", test_compressed_garbage},
        {"mutated compressed payloads", test_mutated_compressed},
        {"zip bomb", test_zip_bomb},
        CU_TEST_INFO_NULL,
    };
    static CU_TestInfo compress[] = {
        {"empty inputs", test_compress_empty},
        {"large inputs", test_compress_large},
        {"foreign streams", test_decompress_foreign},
        CU_TEST_INFO_NULL,
    };
    bk_test_add_suite("batch format", format);
    bk_test_add_suite("batch round trips", roundtrips);
    bk_test_add_suite("batch hostile input", hostile);
    bk_test_add_suite("compress", compress);
}
