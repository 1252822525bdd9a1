/*
 * compress.h -- the compression codecs of Kafka's RecordBatch attributes
 * (bits 0-2): none, gzip, snappy (not supported by Brook: an error), lz4
 * (Kafka's LZ4 *frame* format, KIP-57), zstd.
 *
 * Inputs are untrusted: decompression is bounded by `max_out` so that a
 * small "zip bomb" cannot exhaust memory.  Pure functions; any thread.
 */
#ifndef BK_COMPRESS_H
#define BK_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef enum bk_codec {
    BK_CODEC_NONE = 0,
    BK_CODEC_GZIP = 1,
    BK_CODEC_SNAPPY = 2, /* defined by Kafka; Brook answers -BK_EUNSUPPORTED */
    BK_CODEC_LZ4 = 3,
    BK_CODEC_ZSTD = 4,
} bk_codec;

/* "none", "gzip", "snappy", "lz4", "zstd", or "unknown". */
const char *bk_codec_name(int codec);
/* Parses a compression.type name; -BK_EUNSUPPORTED for unknown/snappy. */
int bk_codec_parse(const char *name, bk_codec *out);

/* Appends the compressed form of in[0..n) to out.  0, -BK_EUNSUPPORTED for
 * an unknown codec or snappy, -BK_ENOMEM. */
int bk_compress(int codec, const uint8_t *in, size_t n, bk_buf *out);

/* Appends the decompressed form of in[0..n) to out, never producing more
 * than max_out bytes.  0, -BK_EUNSUPPORTED, -BK_ECORRUPT for undecodable
 * input, -BK_ETOOBIG when the output would exceed max_out, -BK_ENOMEM. */
int bk_decompress(int codec, const uint8_t *in, size_t n, size_t max_out,
                  bk_buf *out);

#endif
