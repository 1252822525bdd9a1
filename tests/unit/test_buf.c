/*
 * test_buf.c -- the small common modules under everything else:
 * common/buf (growable buffers, big-endian helpers, checked readers),
 * common/varint (Kafka's zigzag varints), common/clock, common/fileio
 * (atomic replacement, read_all, mkdirs) and common/logging.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/logging.h"
#include "common/varint.h"
#include "tests/unit/cu_main.h"

/* ------------------------------ bk_buf ------------------------------ */

static void test_buf_growth(void)
{
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_TRUE(bk_buf_ok(&b));
    /* byte by byte: contents intact, capacity a power-of-two multiple of
     * the first allocation, never short */
    for (int i = 0; i < 10000; i++) {
        bk_buf_put_u8(&b, (uint8_t)(i * 7));
        CU_ASSERT_FATAL(b.len == (size_t)i + 1);
        CU_ASSERT_FATAL(b.cap >= b.len);
    }
    CU_ASSERT_EQUAL(b.cap, 16384); /* 64 doubled up to >= 10000 */
    size_t bad = 0;
    for (int i = 0; i < 10000; i++)
        bad += b.data[i] != (uint8_t)(i * 7);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_TRUE(bk_buf_ok(&b));
    bk_buf_free(&b);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.cap, 0);

    /* one big put */
    uint8_t big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i ^ (i >> 8));
    bk_buf_init(&b);
    bk_buf_put(&b, "x", 1);
    bk_buf_put(&b, big, sizeof big);
    bk_buf_put(&b, big, 0); /* no-op */
    CU_ASSERT_EQUAL(b.len, 1 + sizeof big);
    CU_ASSERT_EQUAL(b.data[0], 'x');
    CU_ASSERT_EQUAL(memcmp(b.data + 1, big, sizeof big), 0);
    bk_buf_free(&b);
}

static void test_buf_reserve_extend(void)
{
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_buf_reserve(&b, 1000), 0);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.cap, 1024);
    uint8_t *before = b.data;
    /* room already there: no reallocation */
    CU_ASSERT_EQUAL(bk_buf_reserve(&b, 1024), 0);
    CU_ASSERT_PTR_EQUAL(b.data, before);
    CU_ASSERT_EQUAL(bk_buf_reserve(&b, 0), 0);

    /* extend: reserve a length field, fill the body, patch the length */
    uint8_t *lenp = bk_buf_extend(&b, 4);
    CU_ASSERT_FATAL(lenp != NULL);
    CU_ASSERT_PTR_EQUAL(lenp, b.data);
    CU_ASSERT_EQUAL(b.len, 4);
    size_t at = (size_t)(lenp - b.data); /* the pointer dies on growth */
    for (int i = 0; i < 3000; i++)
        bk_buf_put_u8(&b, 0xab);
    bk_store_be32(b.data + at, (uint32_t)(b.len - 4));
    CU_ASSERT_EQUAL(bk_load_be32(b.data), 3000);
    uint8_t *p = bk_buf_extend(&b, 2);
    CU_ASSERT_PTR_EQUAL(p, b.data + 3004);
    CU_ASSERT_EQUAL(b.len, 3006);

    /* a zero-length extend of an empty buffer succeeds: NULL would mean
     * "out of memory" to the caller */
    bk_buf e = BK_BUF_INIT;
    CU_ASSERT_PTR_NOT_NULL(bk_buf_extend(&e, 0));
    CU_ASSERT_TRUE(bk_buf_ok(&e));
    CU_ASSERT_EQUAL(e.len, 0);
    bk_buf_free(&e);

    /* an impossible reservation fails and the failure is sticky */
    CU_ASSERT_EQUAL(bk_buf_reserve(&b, SIZE_MAX), -BK_ENOMEM);
    CU_ASSERT_FALSE(bk_buf_ok(&b));
    size_t len = b.len;
    bk_buf_put_u8(&b, 1);
    bk_buf_put_i64(&b, 1);
    bk_buf_put_varlong(&b, 1);
    bk_buf_put(&b, "abc", 3);
    CU_ASSERT_EQUAL(b.len, len);
    CU_ASSERT_PTR_NULL(bk_buf_extend(&b, 1));
    CU_ASSERT_EQUAL(bk_buf_reserve(&b, 1), -BK_ENOMEM);
    /* reset forgets the failure and the contents, keeps the memory */
    size_t cap = b.cap;
    bk_buf_reset(&b);
    CU_ASSERT_TRUE(bk_buf_ok(&b));
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.cap, cap);
    bk_buf_put_i16(&b, 0x1234);
    CU_ASSERT_EQUAL(b.len, 2);
    CU_ASSERT_EQUAL(bk_load_be16(b.data), 0x1234);
    bk_buf_free(&b);
}

static void test_buf_consume_detach(void)
{
    bk_buf b = BK_BUF_INIT;
    bk_buf_put(&b, "0123456789", 10);
    bk_buf_consume(&b, 0);
    CU_ASSERT_EQUAL(b.len, 10);
    bk_buf_consume(&b, 3);
    CU_ASSERT_EQUAL(b.len, 7);
    CU_ASSERT_EQUAL(memcmp(b.data, "3456789", 7), 0);
    bk_buf_put(&b, "ab", 2);
    CU_ASSERT_EQUAL(memcmp(b.data, "3456789ab", 9), 0);
    bk_buf_consume(&b, 9);
    CU_ASSERT_EQUAL(b.len, 0);
    bk_buf_put(&b, "xy", 2);
    bk_buf_consume(&b, 5); /* more than there is: empties */
    CU_ASSERT_EQUAL(b.len, 0);

    bk_buf_put(&b, "hello", 5);
    size_t len = 0;
    uint8_t *d = bk_buf_detach(&b, &len);
    CU_ASSERT_EQUAL(len, 5);
    CU_ASSERT_FATAL(d != NULL);
    CU_ASSERT_EQUAL(memcmp(d, "hello", 5), 0);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.cap, 0);
    free(d);
    /* the buffer is reusable after detach */
    bk_buf_put(&b, "again", 5);
    CU_ASSERT_EQUAL(b.len, 5);
    d = bk_buf_detach(&b, NULL);
    free(d);
    /* detaching an empty buffer gives NULL and length 0 */
    len = 99;
    CU_ASSERT_PTR_NULL(bk_buf_detach(&b, &len));
    CU_ASSERT_EQUAL(len, 0);
}

static void test_be_round_trips(void)
{
    bk_buf b = BK_BUF_INIT;
    static const int16_t i16s[] = {0, 1, -1, INT16_MAX, INT16_MIN, 0x1234};
    static const int32_t i32s[] = {0, 1, -1, INT32_MAX, INT32_MIN, 0x01020304};
    static const int64_t i64s[] = {0,         1,         -1,
                                   INT64_MAX, INT64_MIN, 0x0102030405060708ll};
    static const uint8_t u8s[] = {0, 1, 0x7f, 0x80, 0xff};
    for (size_t i = 0; i < 5; i++)
        bk_buf_put_u8(&b, u8s[i]);
    for (size_t i = 0; i < 6; i++)
        bk_buf_put_i16(&b, i16s[i]);
    for (size_t i = 0; i < 6; i++)
        bk_buf_put_i32(&b, i32s[i]);
    for (size_t i = 0; i < 6; i++)
        bk_buf_put_i64(&b, i64s[i]);
    CU_ASSERT_EQUAL(b.len, 5 + 6 * 2 + 6 * 4 + 6 * 8);
    /* network byte order on the wire */
    static const uint8_t w16[] = {0x12, 0x34};
    static const uint8_t w32[] = {0x01, 0x02, 0x03, 0x04};
    static const uint8_t w64[] = {1, 2, 3, 4, 5, 6, 7, 8};
    CU_ASSERT_EQUAL(memcmp(b.data + 5 + 5 * 2, w16, 2), 0);
    CU_ASSERT_EQUAL(memcmp(b.data + 17 + 5 * 4, w32, 4), 0);
    CU_ASSERT_EQUAL(memcmp(b.data + 41 + 5 * 8, w64, 8), 0);
    CU_ASSERT_EQUAL(b.data[5 + 4 * 2], 0x80); /* INT16_MIN high byte */
    CU_ASSERT_EQUAL(b.data[5 + 3 * 2], 0x7f); /* INT16_MAX high byte */

    bk_rd r;
    bk_rd_init(&r, b.data, b.len);
    for (size_t i = 0; i < 5; i++) {
        if (i == 3) {
            int8_t s;
            CU_ASSERT_EQUAL(bk_rd_i8(&r, &s), 0);
            CU_ASSERT_EQUAL(s, -128);
        } else {
            uint8_t u;
            CU_ASSERT_EQUAL(bk_rd_u8(&r, &u), 0);
            CU_ASSERT_EQUAL(u, u8s[i]);
        }
    }
    for (size_t i = 0; i < 6; i++) {
        int16_t v;
        CU_ASSERT_EQUAL(bk_rd_i16(&r, &v), 0);
        CU_ASSERT_EQUAL(v, i16s[i]);
    }
    for (size_t i = 0; i < 6; i++) {
        int32_t v;
        uint32_t u;
        if (i % 2) {
            CU_ASSERT_EQUAL(bk_rd_i32(&r, &v), 0);
            CU_ASSERT_EQUAL(v, i32s[i]);
        } else {
            CU_ASSERT_EQUAL(bk_rd_u32(&r, &u), 0);
            CU_ASSERT_EQUAL(u, (uint32_t)i32s[i]);
        }
    }
    for (size_t i = 0; i < 6; i++) {
        int64_t v;
        CU_ASSERT_EQUAL(bk_rd_i64(&r, &v), 0);
        CU_ASSERT_EQUAL(v, i64s[i]);
    }
    CU_ASSERT_EQUAL(bk_rd_remains(&r), 0);
    CU_ASSERT_EQUAL(r.err, 0);
    bk_buf_free(&b);

    /* the raw helpers at the extremes */
    uint8_t m[8];
    bk_store_be64(m, UINT64_MAX);
    CU_ASSERT_EQUAL(bk_load_be64(m), UINT64_MAX);
    bk_store_be64(m, 0x8000000000000001ull);
    CU_ASSERT_EQUAL(m[0], 0x80);
    CU_ASSERT_EQUAL(m[7], 0x01);
    CU_ASSERT_EQUAL(bk_load_be64(m), 0x8000000000000001ull);
    bk_store_be32(m, 0xfedcba98u);
    CU_ASSERT_EQUAL(bk_load_be32(m), 0xfedcba98u);
    CU_ASSERT_EQUAL(m[0], 0xfe);
    bk_store_be16(m, 0xffff);
    CU_ASSERT_EQUAL(bk_load_be16(m), 0xffff);
}

/* ------------------------------ bk_rd ------------------------------ */

enum {
    R_U8,
    R_I8,
    R_I16,
    R_I32,
    R_U32,
    R_I64,
    R_VARINT,
    R_VARLONG,
    R_PTR,
    R_SKIP,
    R_NTYPES
};

/* Reads one value of the given kind (size n for ptr/skip). */
static int rd_one(bk_rd *r, int kind, size_t n)
{
    union {
        uint8_t u8;
        int8_t i8;
        int16_t i16;
        int32_t i32;
        uint32_t u32;
        int64_t i64;
        const uint8_t *p;
    } v;
    switch (kind) {
    case R_U8:
        return bk_rd_u8(r, &v.u8);
    case R_I8:
        return bk_rd_i8(r, &v.i8);
    case R_I16:
        return bk_rd_i16(r, &v.i16);
    case R_I32:
        return bk_rd_i32(r, &v.i32);
    case R_U32:
        return bk_rd_u32(r, &v.u32);
    case R_I64:
        return bk_rd_i64(r, &v.i64);
    case R_VARINT:
        return bk_rd_varint(r, &v.i32);
    case R_VARLONG:
        return bk_rd_varlong(r, &v.i64);
    case R_PTR:
        return bk_rd_ptr(r, n, &v.p);
    case R_SKIP:
        return bk_rd_skip(r, n);
    }
    return -1;
}

static void test_rd_underflow(void)
{
    /* bytes that each read type needs; a truncated varint is 0x80s */
    static const size_t need[R_NTYPES] = {1, 1, 2, 4, 4, 8, 5, 10, 7, 7};
    uint8_t bytes[16];
    memset(bytes, 0x80, sizeof bytes);
    for (int kind = 0; kind < R_NTYPES; kind++) {
        for (size_t have = 0; have < need[kind]; have++) {
            bk_rd r;
            bk_rd_init(&r, bytes, have);
            int rc = rd_one(&r, kind, need[kind]);
            CU_ASSERT_EQUAL(rc, -BK_EINVAL);
            CU_ASSERT_EQUAL(r.err, -BK_EINVAL);
            CU_ASSERT_EQUAL(r.pos, 0); /* nothing consumed */
            /* sticky: every later read fails, even one that would fit */
            for (int k2 = 0; k2 < R_NTYPES; k2++)
                CU_ASSERT_EQUAL(rd_one(&r, k2, 0), -BK_EINVAL);
            CU_ASSERT_EQUAL(r.pos, 0);
        }
        /* exactly enough is fine (varints: a terminated one) */
        bytes[need[kind] - 1] = 0x01;
        bk_rd r;
        bk_rd_init(&r, bytes, need[kind]);
        CU_ASSERT_EQUAL(rd_one(&r, kind, need[kind]), 0);
        CU_ASSERT_EQUAL(bk_rd_remains(&r), 0);
        CU_ASSERT_EQUAL(r.err, 0);
        bytes[need[kind] - 1] = 0x80;
    }

    /* lengths that would wrap the position around are underflows too */
    bk_rd r;
    const uint8_t *p;
    bk_rd_init(&r, bytes, 4);
    CU_ASSERT_EQUAL(bk_rd_skip(&r, 2), 0);
    CU_ASSERT_EQUAL(bk_rd_ptr(&r, SIZE_MAX, &p), -BK_EINVAL);
    CU_ASSERT_EQUAL(r.pos, 2);
    bk_rd_init(&r, bytes, 4);
    CU_ASSERT_EQUAL(bk_rd_skip(&r, SIZE_MAX - 1), -BK_EINVAL);
    /* a zero-length ptr at the end is fine and points at the end */
    bk_rd_init(&r, bytes, 4);
    CU_ASSERT_EQUAL(bk_rd_skip(&r, 4), 0);
    CU_ASSERT_EQUAL(bk_rd_ptr(&r, 0, &p), 0);
    CU_ASSERT_PTR_EQUAL(p, bytes + 4);

    /* an empty input (e.g. an empty protobuf bytes field: NULL, 0) fails
     * every read cleanly */
    for (int kind = 0; kind < R_NTYPES; kind++) {
        bk_rd_init(&r, NULL, 0);
        CU_ASSERT_EQUAL(rd_one(&r, kind, 1), -BK_EINVAL);
    }
    bk_rd_init(&r, NULL, 0);
    CU_ASSERT_EQUAL(bk_rd_ptr(&r, 0, &p), 0);
    CU_ASSERT_EQUAL(bk_rd_skip(&r, 0), 0);
    CU_ASSERT_EQUAL(bk_rd_remains(&r), 0);
}

/* A parser in the house style: one err_parse exit.  *steps counts the
 * reads that succeeded. */
static int parse_three(const uint8_t *p, size_t n, int32_t out[3], int *steps)
{
    bk_rd r;
    bk_rd_init(&r, p, n);
    *steps = 0;
    BK_RD_TRY(bk_rd_i32(&r, &out[0]));
    (*steps)++;
    BK_RD_TRY(bk_rd_varint(&r, &out[1]));
    (*steps)++;
    BK_RD_TRY(bk_rd_i32(&r, &out[2]));
    (*steps)++;
    return 0;
err_parse:
    return -BK_EINVAL;
}

static void test_rd_try(void)
{
    bk_buf b = BK_BUF_INIT;
    bk_buf_put_i32(&b, 11);
    bk_buf_put_varint(&b, -300);
    bk_buf_put_i32(&b, 33);
    int32_t out[3] = {0, 0, 0};
    int steps;
    CU_ASSERT_EQUAL(parse_three(b.data, b.len, out, &steps), 0);
    CU_ASSERT_EQUAL(steps, 3);
    CU_ASSERT_EQUAL(out[0], 11);
    CU_ASSERT_EQUAL(out[1], -300);
    CU_ASSERT_EQUAL(out[2], 33);
    /* cut at every length: the jump happens at the first short read and
     * no later statement runs */
    for (size_t cut = 0; cut < b.len; cut++) {
        CU_ASSERT_EQUAL(parse_three(b.data, cut, out, &steps), -BK_EINVAL);
        int want = cut < 4 ? 0 : cut < 6 ? 1 : 2;
        CU_ASSERT_EQUAL(steps, want);
    }
    bk_buf_free(&b);
}

/* ------------------------------ varint ------------------------------ */

static void test_zigzag(void)
{
    CU_ASSERT_EQUAL(bk_zigzag32(0), 0u);
    CU_ASSERT_EQUAL(bk_zigzag32(-1), 1u);
    CU_ASSERT_EQUAL(bk_zigzag32(1), 2u);
    CU_ASSERT_EQUAL(bk_zigzag32(-2), 3u);
    CU_ASSERT_EQUAL(bk_zigzag32(INT32_MAX), 0xfffffffeu);
    CU_ASSERT_EQUAL(bk_zigzag32(INT32_MIN), 0xffffffffu);
    CU_ASSERT_EQUAL(bk_zigzag64(INT64_MAX), 0xfffffffffffffffeull);
    CU_ASSERT_EQUAL(bk_zigzag64(INT64_MIN), 0xffffffffffffffffull);
    CU_ASSERT_EQUAL(bk_zigzag64(-1), 1u);
    static const int32_t v32[] = {0,
                                  1,
                                  -1,
                                  2,
                                  -2,
                                  63,
                                  -64,
                                  64,
                                  -65,
                                  INT32_MAX,
                                  INT32_MIN,
                                  INT32_MAX - 1,
                                  INT32_MIN + 1};
    for (size_t i = 0; i < sizeof v32 / sizeof v32[0]; i++)
        CU_ASSERT_EQUAL(bk_unzigzag32(bk_zigzag32(v32[i])), v32[i]);
    static const int64_t v64[] = {0,
                                  1,
                                  -1,
                                  INT64_MAX,
                                  INT64_MIN,
                                  INT64_MAX - 1,
                                  INT64_MIN + 1,
                                  (int64_t)INT32_MIN - 1};
    for (size_t i = 0; i < sizeof v64 / sizeof v64[0]; i++)
        CU_ASSERT_EQUAL(bk_unzigzag64(bk_zigzag64(v64[i])), v64[i]);
}

typedef struct known {
    int64_t v;
    const char *hex; /* expected encoding, as hex pairs */
} known;

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    for (; s[0] && s[1]; s += 2) {
        unsigned x;
        sscanf(s, "%2x", &x);
        out[n++] = (uint8_t)x;
    }
    return n;
}

static void test_varint_known(void)
{
    /* values and encodings of Kafka's ByteUtils.writeVarint/writeVarlong */
    static const known ints[] = {
        {0, "00"},
        {-1, "01"},
        {1, "02"},
        {-2, "03"},
        {63, "7e"},
        {-64, "7f"},
        {64, "8001"},
        {-65, "8101"},
        {8191, "fe7f"},
        {-8192, "ff7f"},
        {8192, "808001"},
        {-8193, "818001"},
        {300, "d804"},
        {INT32_MAX, "feffffff0f"},
        {INT32_MIN, "ffffffff0f"},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        uint8_t want[16], got[16];
        size_t wn = unhex(ints[i].hex, want);
        int32_t v = (int32_t)ints[i].v;
        CU_ASSERT_EQUAL(bk_varint_size(v), wn);
        CU_ASSERT_EQUAL(bk_varint_encode(v, got), wn);
        CU_ASSERT_EQUAL(memcmp(got, want, wn), 0);
        int32_t back = 12345;
        CU_ASSERT_EQUAL(bk_varint_decode(want, wn, &back), wn);
        CU_ASSERT_EQUAL(back, v);
        /* the varlong of the same value encodes the same way */
        CU_ASSERT_EQUAL(bk_varlong_encode(v, got), wn);
        CU_ASSERT_EQUAL(memcmp(got, want, wn), 0);
    }
    static const known longs[] = {
        {INT64_MAX, "feffffffffffffffff01"},
        {INT64_MIN, "ffffffffffffffffff01"},
        {(int64_t)INT32_MAX + 1, "8080808010"},
        {(int64_t)1 << 62, "808080808080808080"
                           "01"},
        {-((int64_t)1 << 62) - 1, "818080808080808080"
                                  "01"},
        {(int64_t)1 << 55, "808080808080808001"},
    };
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
        uint8_t want[16], got[16];
        size_t wn = unhex(longs[i].hex, want);
        CU_ASSERT_EQUAL(bk_varlong_size(longs[i].v), wn);
        CU_ASSERT_EQUAL(bk_varlong_encode(longs[i].v, got), wn);
        CU_ASSERT_EQUAL(memcmp(got, want, wn), 0);
        int64_t back = 12345;
        CU_ASSERT_EQUAL(bk_varlong_decode(want, wn, &back), wn);
        CU_ASSERT_EQUAL(back, longs[i].v);
    }
    CU_ASSERT_EQUAL(bk_varlong_size(0), 1);
    CU_ASSERT_EQUAL(bk_varlong_size(INT64_MIN), BK_VARLONG_MAX);
    CU_ASSERT_EQUAL(bk_varint_size(INT32_MIN), BK_VARINT_MAX);
}

static void test_varint_sizes_random(void)
{
    /* size == encode length == decode length, for every bit width */
    uint8_t enc[16];
    for (int bits = 0; bits < 64; bits++) {
        for (int sign = 0; sign < 2; sign++) {
            /* 2^bits - 1 and -2^bits: the edges of each width */
            uint64_t u = (uint64_t)1 << bits;
            int64_t v = sign ? (int64_t)(0 - u) : (int64_t)(u - 1);
            size_t n = bk_varlong_encode(v, enc);
            CU_ASSERT_EQUAL(n, bk_varlong_size(v));
            int64_t back;
            CU_ASSERT_EQUAL(bk_varlong_decode(enc, n, &back), n);
            CU_ASSERT_EQUAL(back, v);
            if (v >= INT32_MIN && v <= INT32_MAX) {
                n = bk_varint_encode((int32_t)v, enc);
                CU_ASSERT_EQUAL(n, bk_varint_size((int32_t)v));
                int32_t b32;
                CU_ASSERT_EQUAL(bk_varint_decode(enc, n, &b32), n);
                CU_ASSERT_EQUAL(b32, (int32_t)v);
            }
        }
    }
    /* through the buffer and the reader */
    bk_buf b = BK_BUF_INIT;
    uint64_t s = bk_test_seed | 1;
    int64_t vals[500];
    for (int i = 0; i < 500; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        vals[i] = (int64_t)(s >> (s % 64));
        if (i % 2)
            vals[i] = -vals[i];
        if (i % 3 == 0)
            bk_buf_put_varint(&b, (int32_t)vals[i]);
        else
            bk_buf_put_varlong(&b, vals[i]);
    }
    bk_rd r;
    bk_rd_init(&r, b.data, b.len);
    for (int i = 0; i < 500; i++) {
        if (i % 3 == 0) {
            int32_t v;
            CU_ASSERT_EQUAL_FATAL(bk_rd_varint(&r, &v), 0);
            CU_ASSERT_EQUAL(v, (int32_t)vals[i]);
        } else {
            int64_t v;
            CU_ASSERT_EQUAL_FATAL(bk_rd_varlong(&r, &v), 0);
            CU_ASSERT_EQUAL(v, vals[i]);
        }
    }
    CU_ASSERT_EQUAL(bk_rd_remains(&r), 0);
    bk_buf_free(&b);
}

static void test_varint_bad(void)
{
    uint8_t p[16] = {0};
    int32_t v32 = 777;
    int64_t v64 = 777;

    /* truncated: empty, or the last byte says "more follows" */
    CU_ASSERT_EQUAL(bk_varint_decode(p, 0, &v32), 0);
    CU_ASSERT_EQUAL(bk_varlong_decode(p, 0, &v64), 0);
    size_t n = unhex("808080", p);
    CU_ASSERT_EQUAL(bk_varint_decode(p, n, &v32), 0);
    CU_ASSERT_EQUAL(bk_varlong_decode(p, n, &v64), 0);
    n = unhex("feffffff0f", p); /* INT32_MAX, cut short at each length */
    for (size_t k = 0; k < n; k++)
        CU_ASSERT_EQUAL(bk_varint_decode(p, k, &v32), 0);

    /* over-long: a sixth byte for a varint, an eleventh for a varlong */
    n = unhex("808080808001", p);
    CU_ASSERT_EQUAL(bk_varint_decode(p, n, &v32), 0);
    n = unhex("8080808080808080808001", p);
    CU_ASSERT_EQUAL(bk_varlong_decode(p, n, &v64), 0);
    /* five bytes whose value needs more than 32 bits */
    n = unhex("ffffffff1f", p);
    CU_ASSERT_EQUAL(bk_varint_decode(p, n, &v32), 0);
    n = unhex("8080808010", p);
    CU_ASSERT_EQUAL(bk_varint_decode(p, n, &v32), 0);
    /* a 10-byte varlong whose last byte carries more than the top bit */
    n = unhex("ffffffffffffffffff02", p);
    CU_ASSERT_EQUAL(bk_varlong_decode(p, n, &v64), 0);
    n = unhex("ffffffffffffffffff7f", p);
    CU_ASSERT_EQUAL(bk_varlong_decode(p, n, &v64), 0);
    n = unhex("ffffffffffffffffff81", p); /* and says "more" */
    CU_ASSERT_EQUAL(bk_varlong_decode(p, n, &v64), 0);
    /* failures leave the output alone */
    CU_ASSERT_EQUAL(v32, 777);
    CU_ASSERT_EQUAL(v64, 777);

    /* the reader turns them into sticky errors */
    bk_rd r;
    n = unhex("02808080808001", p);
    bk_rd_init(&r, p, n);
    CU_ASSERT_EQUAL(bk_rd_varint(&r, &v32), 0);
    CU_ASSERT_EQUAL(v32, 1);
    CU_ASSERT_EQUAL(bk_rd_varint(&r, &v32), -BK_EINVAL);
    CU_ASSERT_EQUAL(r.pos, 1);
    CU_ASSERT_EQUAL(bk_rd_u8(&r, p), -BK_EINVAL);

    /* a redundant zero group is still accepted, as Kafka does */
    n = unhex("8000", p);
    CU_ASSERT_EQUAL(bk_varint_decode(p, n, &v32), 2);
    CU_ASSERT_EQUAL(v32, 0);
}

static void test_uvarint(void)
{
    uint8_t p[16] = {0};
    uint64_t u = 5;
    CU_ASSERT_EQUAL(bk_uvarint_encode(0, p), 1);
    CU_ASSERT_EQUAL(p[0], 0);
    CU_ASSERT_EQUAL(bk_uvarint_encode(300, p), 2);
    CU_ASSERT_EQUAL(p[0], 0xac);
    CU_ASSERT_EQUAL(p[1], 0x02);
    CU_ASSERT_EQUAL(bk_uvarint_decode(p, 2, 5, &u), 2);
    CU_ASSERT_EQUAL(u, 300);
    CU_ASSERT_EQUAL(bk_uvarint_encode(UINT64_MAX, p), 10);
    CU_ASSERT_EQUAL(p[9], 0x01);
    CU_ASSERT_EQUAL(bk_uvarint_decode(p, 10, 10, &u), 10);
    CU_ASSERT_EQUAL(u, UINT64_MAX);
    CU_ASSERT_EQUAL(bk_uvarint_decode(p, 10, 9, &u), 0); /* over maxbytes */
    CU_ASSERT_EQUAL(bk_uvarint_decode(p, 9, 10, &u), 0); /* truncated */
    /* a 10th byte above 1 would need more than 64 bits: not a value */
    size_t n = unhex("ffffffffffffffffff7f", p);
    u = 5;
    CU_ASSERT_EQUAL(bk_uvarint_decode(p, n, 10, &u), 0);
    CU_ASSERT_EQUAL(u, 5);
}

/* ------------------------------ clock ------------------------------ */

static void test_clock(void)
{
    int64_t prev = bk_clock_mono_ns();
    int64_t backwards = 0;
    for (int i = 0; i < 100000; i++) {
        int64_t now = bk_clock_mono_ns();
        backwards += now < prev;
        prev = now;
    }
    CU_ASSERT_EQUAL(backwards, 0);

    /* the units agree */
    int64_t ns = bk_clock_mono_ns();
    int64_t us = bk_clock_mono_us();
    int64_t ms = bk_clock_mono_ms();
    int64_t ns2 = bk_clock_mono_ns();
    CU_ASSERT(us >= ns / 1000 && us <= ns2 / 1000);
    CU_ASSERT(ms >= ns / 1000000 && ms <= ns2 / 1000000);

    /* it measures time: a 20 ms sleep takes at least 20 ms */
    int64_t t0 = bk_clock_mono_ms();
    struct timespec ts = {0, 20 * 1000 * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    int64_t t1 = bk_clock_mono_ms();
    CU_ASSERT(t1 - t0 >= 20);
    CU_ASSERT(t1 - t0 < 5000);

    /* wall clock: milliseconds since 1970, and it is after 2024 */
    int64_t wall = bk_clock_wall_ms();
    int64_t sec = (int64_t)time(NULL);
    CU_ASSERT(wall > 1704067200000ll); /* 2024-01-01 */
    CU_ASSERT(wall < 4102444800000ll); /* 2100-01-01 */
    CU_ASSERT(wall / 1000 >= sec - 2 && wall / 1000 <= sec + 2);
}

/* ------------------------------ fileio ------------------------------ */

static char *path_in(const char *dir, const char *name)
{
    static char p[16][1024];
    static int k;
    k = (k + 1) % 16;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_file_atomic(void)
{
    const char *dir = bk_test_subdir("atomic");
    const char *f = path_in(dir, "checkpoint");
    const char *tmp = path_in(dir, "checkpoint.tmp");
    char *data = NULL;
    size_t len = 0;

    CU_ASSERT_EQUAL(bk_file_write_atomic(f, "first version\n", 14), 0);
    CU_ASSERT_EQUAL(bk_file_read_all(f, 1024, &data, &len), 0);
    CU_ASSERT_EQUAL(len, 14);
    CU_ASSERT_STRING_EQUAL(data, "first version\n");
    free(data);
    CU_ASSERT_FALSE(exists(tmp));

    /* replacing with shorter content leaves no tail of the old one */
    CU_ASSERT_EQUAL(bk_file_write_atomic(f, "v2", 2), 0);
    CU_ASSERT_EQUAL(bk_file_read_all(f, 1024, &data, &len), 0);
    CU_ASSERT_EQUAL(len, 2);
    CU_ASSERT_STRING_EQUAL(data, "v2");
    free(data);

    /* a .tmp left by a crash (longer than the new data) does not matter */
    FILE *fp = fopen(tmp, "w");
    CU_ASSERT_FATAL(fp != NULL);
    fputs("garbage from a crashed writer, longer than the new data", fp);
    fclose(fp);
    CU_ASSERT_EQUAL(bk_file_write_atomic(f, "v3", 2), 0);
    CU_ASSERT_EQUAL(bk_file_read_all(f, 1024, &data, &len), 0);
    CU_ASSERT_EQUAL(len, 2);
    CU_ASSERT_STRING_EQUAL(data, "v3");
    free(data);
    CU_ASSERT_FALSE(exists(tmp));

    /* empty content */
    CU_ASSERT_EQUAL(bk_file_write_atomic(f, "", 0), 0);
    CU_ASSERT_EQUAL(bk_file_read_all(f, 1024, &data, &len), 0);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_STRING_EQUAL(data, "");
    free(data);

    /* a bigger binary file, byte for byte */
    size_t big = 3 * 1024 * 1024 + 7;
    uint8_t *blob = malloc(big);
    CU_ASSERT_FATAL(blob != NULL);
    for (size_t i = 0; i < big; i++)
        blob[i] = (uint8_t)(i * 31 + (i >> 11));
    CU_ASSERT_EQUAL(bk_file_write_atomic(f, blob, big), 0);
    CU_ASSERT_EQUAL(bk_file_read_all(f, big, &data, &len), 0);
    CU_ASSERT_EQUAL(len, big);
    CU_ASSERT(data && memcmp(data, blob, big) == 0);
    CU_ASSERT(data && data[big] == '\0');
    free(data);
    free(blob);

    /* a directory that does not exist: error, nothing created */
    const char *nodir = path_in(dir, "no/such/dir/file");
    CU_ASSERT_EQUAL(bk_file_write_atomic(nodir, "x", 1), -BK_EIO);
    CU_ASSERT_EQUAL(errno, ENOENT);

    /* a failed replacement leaves the old file as it was: make the
     * target a non-empty directory so that rename() fails */
    const char *d2 = path_in(dir, "sub");
    CU_ASSERT_EQUAL(bk_mkdirs(path_in(dir, "sub/inner")), 0);
    CU_ASSERT_EQUAL(bk_file_write_atomic(d2, "x", 1), -BK_EIO);
    CU_ASSERT_FALSE(exists(path_in(dir, "sub.tmp")));
    CU_ASSERT_TRUE(exists(path_in(dir, "sub/inner")));

    /* fsync helpers */
    CU_ASSERT_EQUAL(bk_fsync_dir(dir), 0);
    CU_ASSERT_EQUAL(bk_fsync_parent(f), 0);
    CU_ASSERT_EQUAL(bk_fsync_dir(path_in(dir, "missing")), -BK_EIO);
}

static void test_file_read_all(void)
{
    const char *dir = bk_test_subdir("readall");
    const char *f = path_in(dir, "data");
    char *data = (char *)0x1;
    size_t len = 99;
    CU_ASSERT_EQUAL(bk_file_read_all(f, 100, &data, &len), -BK_ENOENT);
    CU_ASSERT_PTR_EQUAL(data, (char *)0x1); /* untouched */

    char hundred[100];
    memset(hundred, 'z', sizeof hundred);
    CU_ASSERT_EQUAL(bk_file_write_atomic(f, hundred, 100), 0);
    CU_ASSERT_EQUAL(bk_file_read_all(f, 99, &data, &len), -BK_ETOOBIG);
    CU_ASSERT_EQUAL(bk_file_read_all(f, 0, &data, &len), -BK_ETOOBIG);
    CU_ASSERT_EQUAL(bk_file_read_all(f, 100, &data, NULL), 0);
    CU_ASSERT_EQUAL(strlen(data), 100);
    free(data);

    /* not a regular file: a directory reads as an I/O error */
    CU_ASSERT_EQUAL(bk_file_read_all(dir, 1 << 20, &data, &len), -BK_EIO);
}

static void test_mkdirs(void)
{
    const char *dir = bk_test_subdir("mkdirs");
    const char *deep = path_in(dir, "a/b/c/d/e");
    CU_ASSERT_EQUAL(bk_mkdirs(deep), 0);
    struct stat st;
    CU_ASSERT(stat(deep, &st) == 0 && S_ISDIR(st.st_mode));
    /* again: already there is fine */
    CU_ASSERT_EQUAL(bk_mkdirs(deep), 0);
    CU_ASSERT_EQUAL(bk_mkdirs(path_in(dir, "a/b")), 0);
    /* trailing and doubled slashes */
    CU_ASSERT_EQUAL(bk_mkdirs(path_in(dir, "x//y/")), 0);
    CU_ASSERT(stat(path_in(dir, "x/y"), &st) == 0 && S_ISDIR(st.st_mode));
    /* a file in the way */
    CU_ASSERT_EQUAL(bk_file_write_atomic(path_in(dir, "file"), "x", 1), 0);
    CU_ASSERT_EQUAL(bk_mkdirs(path_in(dir, "file/sub")), -BK_EIO);
    CU_ASSERT_EQUAL(bk_mkdirs(""), -BK_EIO);
    CU_ASSERT_EQUAL(bk_mkdirs("/"), 0);
}

/* ------------------------------ logging ------------------------------ */

static void test_log_levels(void)
{
    static const struct {
        const char *s;
        bk_level lvl;
    } ok[] = {
        {"debug", BK_LVL_DEBUG},  {"INFO", BK_LVL_INFO},
        {"Warn", BK_LVL_WARN},    {"warning", BK_LVL_WARN},
        {"WARNING", BK_LVL_WARN}, {"error", BK_LVL_ERROR},
        {"off", BK_LVL_OFF},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        bk_level l = (bk_level)-1;
        CU_ASSERT_EQUAL(bk_logging_parse_level(ok[i].s, &l), 0);
        CU_ASSERT_EQUAL(l, ok[i].lvl);
    }
    static const char *bad[] = {"",       "verbose", "inf",
                                "errors", " info",   "trace"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bk_level l = BK_LVL_ERROR;
        CU_ASSERT_EQUAL(bk_logging_parse_level(bad[i], &l), -BK_EINVAL);
        CU_ASSERT_EQUAL(l, BK_LVL_ERROR);
    }
    CU_ASSERT_STRING_EQUAL(bk_logging_level_name(BK_LVL_WARN), "WARN");
    CU_ASSERT_STRING_EQUAL(bk_logging_level_name(BK_LVL_DEBUG), "DEBUG");
    CU_ASSERT_STRING_EQUAL(bk_logging_level_name((bk_level)42), "?");
    /* names round-trip through the parser */
    for (int i = BK_LVL_DEBUG; i <= BK_LVL_OFF; i++) {
        bk_level l;
        CU_ASSERT_EQUAL(
            bk_logging_parse_level(bk_logging_level_name((bk_level)i), &l), 0);
        CU_ASSERT_EQUAL(l, (bk_level)i);
    }
}

/* Runs fn with stderr sent to a file and returns what it wrote (malloc'd). */
static char *capture_stderr(void (*fn)(void))
{
    const char *f = path_in(bk_test_subdir("log"), "stderr");
    int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char *out = NULL;
    CU_ASSERT_FATAL(bk_file_read_all(f, 1 << 20, &out, NULL) == 0);
    return out;
}

static void log_some(void)
{
    bk_level old = bk_logging_threshold;
    bk_logging_set_level(BK_LVL_WARN);
    BK_INFO("test", "hidden %d", 1);
    BK_WARN("test", "shown %d", 2);
    BK_ERROR(NULL, "no module");
    bk_logging_set_level(old);
}

static void log_long(void)
{
    char msg[5000];
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    bk_logf(BK_LVL_ERROR, "long", "%s", msg);
    /* a (buggy) caller with a module name longer than a line */
    bk_logf(BK_LVL_ERROR, msg, "after a long module");
}

static void test_log_output(void)
{
    char *out = capture_stderr(log_some);
    /* "2026-11-25T12:00:00.123Z WARN  [test] shown 2" */
    CU_ASSERT_PTR_NULL(strstr(out, "hidden"));
    char *line = strstr(out, "WARN  [test] shown 2\n");
    CU_ASSERT_PTR_NOT_NULL(line);
    CU_ASSERT_EQUAL(line - out, 25);
    int y, mo, d, h, mi, s, ms;
    CU_ASSERT_EQUAL(sscanf(out, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ ", &y, &mo, &d,
                           &h, &mi, &s, &ms),
                    7);
    CU_ASSERT(y >= 2024 && mo >= 1 && mo <= 12 && ms >= 0 && ms <= 999);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "ERROR [-] no module\n"));
    free(out);

    /* an over-long line is cut, still one line ending in a newline */
    out = capture_stderr(log_long);
    char *nl = strchr(out, '\n');
    CU_ASSERT_FATAL(nl != NULL);
    CU_ASSERT_EQUAL(nl - out + 1, 2047);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "[long] mmmm"));
    char *second = nl + 1;
    nl = strchr(second, '\n');
    CU_ASSERT_FATAL(nl != NULL);
    CU_ASSERT(nl - second + 1 <= 2047);
    CU_ASSERT_EQUAL(nl[1], '\0');
    free(out);
}

void bk_test_register(void)
{
    static CU_TestInfo buf_tests[] = {
        {"growth", test_buf_growth},
        {"reserve, extend, oom", test_buf_reserve_extend},
        {"consume, detach", test_buf_consume_detach},
        {"big-endian round trips", test_be_round_trips},
        {"reader underflow is sticky", test_rd_underflow},
        {"BK_RD_TRY jumps", test_rd_try},
        CU_TEST_INFO_NULL,
    };
    static CU_TestInfo varint_tests[] = {
        {"zigzag", test_zigzag},
        {"Kafka's encodings", test_varint_known},
        {"sizes and round trips", test_varint_sizes_random},
        {"truncated and over-long", test_varint_bad},
        {"unsigned", test_uvarint},
        CU_TEST_INFO_NULL,
    };
    static CU_TestInfo misc_tests[] = {
        {"clock", test_clock},
        {"atomic write", test_file_atomic},
        {"read_all", test_file_read_all},
        {"mkdirs", test_mkdirs},
        {"log levels", test_log_levels},
        {"log output", test_log_output},
        CU_TEST_INFO_NULL,
    };
    bk_test_add_suite("buf", buf_tests);
    bk_test_add_suite("varint", varint_tests);
    bk_test_add_suite("clock, fileio, logging", misc_tests);
}
