/*
 * varint.c -- zigzag varint/varlong codec (see varint.h).
 *
 * Kafka's record format (KIP-98) borrows protobuf's encoding: 7 bits per
 * byte, least significant group first, high bit = "more follows", with
 * zigzag so that small negative numbers (e.g. -1 for a null key length)
 * stay one byte.
 */
#include "common/varint.h"

#include <assert.h>

size_t bk_uvarint_encode(uint64_t v, uint8_t *out)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t bk_uvarint_decode(const uint8_t *p, size_t len, int maxbytes,
                         uint64_t *out)
{
    uint64_t v = 0;
    assert(maxbytes <= BK_VARLONG_MAX); /* a larger shift is undefined */
    for (int i = 0; i < maxbytes; i++) {
        if ((size_t)i >= len)
            return 0; /* truncated */
        if (i == BK_VARLONG_MAX - 1 && p[i] > 1)
            return 0; /* bits beyond 64: not a value */
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *out = v;
            return (size_t)i + 1;
        }
    }
    return 0; /* over-long */
}

size_t bk_varint_size(int32_t v)
{
    uint32_t u = bk_zigzag32(v);
    size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        n++;
    }
    return n;
}

size_t bk_varlong_size(int64_t v)
{
    uint64_t u = bk_zigzag64(v);
    size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        n++;
    }
    return n;
}

size_t bk_varint_encode(int32_t v, uint8_t *out)
{
    return bk_uvarint_encode(bk_zigzag32(v), out);
}

size_t bk_varlong_encode(int64_t v, uint8_t *out)
{
    return bk_uvarint_encode(bk_zigzag64(v), out);
}

size_t bk_varint_decode(const uint8_t *p, size_t len, int32_t *out)
{
    uint64_t u;
    size_t n = bk_uvarint_decode(p, len, BK_VARINT_MAX, &u);
    if (n == 0 || u > UINT32_MAX)
        return 0;
    *out = bk_unzigzag32((uint32_t)u);
    return n;
}

size_t bk_varlong_decode(const uint8_t *p, size_t len, int64_t *out)
{
    uint64_t u;
    size_t n = bk_uvarint_decode(p, len, BK_VARLONG_MAX, &u);
    if (n == 0)
        return 0;
    /* a 10th byte may only carry the single top bit */
    if (n == BK_VARLONG_MAX && p[9] > 1)
        return 0;
    *out = bk_unzigzag64(u);
    return n;
}
