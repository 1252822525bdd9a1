/*
 * varint.h -- Kafka's variable-length integers (protobuf-style base-128,
 * little-endian groups of 7 bits) with zigzag sign encoding, as used inside
 * RecordBatch v2 records: varint for 32-bit, varlong for 64-bit values.
 *
 * Decoders take untrusted input: they never read past `len`, and reject
 * over-long encodings (more than 5 bytes for a varint, 10 for a varlong).
 * Pure functions; any thread.
 */
#ifndef BK_VARINT_H
#define BK_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define BK_VARINT_MAX  5
#define BK_VARLONG_MAX 10

static inline uint32_t bk_zigzag32(int32_t v)
{
    return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}
static inline int32_t bk_unzigzag32(uint32_t v)
{
    return (int32_t)((v >> 1) ^ (~(v & 1) + 1));
}
static inline uint64_t bk_zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t bk_unzigzag64(uint64_t v)
{
    return (int64_t)((v >> 1) ^ (~(v & 1) + 1));
}

/* Number of bytes the zigzag encoding of v takes. */
size_t bk_varint_size(int32_t v);
size_t bk_varlong_size(int64_t v);

/* Encode into out (room for BK_VARINT_MAX / BK_VARLONG_MAX bytes);
 * returns the number of bytes written. */
size_t bk_varint_encode(int32_t v, uint8_t *out);
size_t bk_varlong_encode(int64_t v, uint8_t *out);

/* Decode from p[0..len).  Returns bytes consumed (> 0), or 0 when the input
 * is truncated or over-long (then *out is untouched). */
size_t bk_varint_decode(const uint8_t *p, size_t len, int32_t *out);
size_t bk_varlong_decode(const uint8_t *p, size_t len, int64_t *out);

/* Unsigned (no zigzag) base-128, as protobuf and Kafka's flexible versions
 * use; same contract as above. */
size_t bk_uvarint_encode(uint64_t v, uint8_t *out);
size_t bk_uvarint_decode(const uint8_t *p, size_t len, int maxbytes,
                         uint64_t *out);

#endif
