/*
 * batch.h -- Kafka RecordBatch v2 (magic 2), the one record format of Brook
 * from producer to disk to consumer (DESIGN.md section 3).
 *
 * Layout (big-endian), 61-byte header then the records:
 *
 *   off len field
 *    0   8  baseOffset            \ "log overhead": outside batchLength
 *    8   4  batchLength           /  (bytes after this field)
 *   12   4  partitionLeaderEpoch     outside the CRC: the broker sets it
 *   16   1  magic (= 2)
 *   17   4  crc (CRC-32C of bytes 21..end)
 *   21   2  attributes: bits 0-2 codec, 3 timestamp type (1 = log append
 *           time), 4 transactional, 5 control
 *   23   4  lastOffsetDelta
 *   27   8  baseTimestamp
 *   35   8  maxTimestamp
 *   43   8  producerId
 *   51   2  producerEpoch
 *   53   4  baseSequence
 *   57   4  recordCount
 *   61      records (compressed as a whole when codec != none)
 *
 * A record: length varint, attributes int8, timestampDelta varlong,
 * offsetDelta varint, keyLength varint (-1 = null key), key, valueLength
 * varint (-1 = null value), value, headerCount varint, headers (keyLength
 * varint, key, valueLength varint (-1 = null), value).
 *
 * The broker never re-encodes records: it validates a batch, writes the base
 * offset and leader epoch in place (both lie outside the CRC's range, so the
 * CRC stays valid) and appends the bytes.  Not thread-safe per object;
 * different objects may be used from different threads.
 */
#ifndef BK_BATCH_H
#define BK_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/compress.h"

#define BK_BATCH_MAGIC        2
#define BK_BATCH_HEADER_SIZE  61
#define BK_BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */
/* batchLength counts from partitionLeaderEpoch: at least the header rest */
#define BK_BATCH_MIN_LENGTH (BK_BATCH_HEADER_SIZE - BK_BATCH_LOG_OVERHEAD)
#define BK_BATCH_CRC_START  21

#define BK_BATCH_ATTR_CODEC_MASK      0x07
#define BK_BATCH_ATTR_LOG_APPEND_TIME 0x08
#define BK_BATCH_ATTR_TRANSACTIONAL   0x10
#define BK_BATCH_ATTR_CONTROL         0x20

#define BK_NO_PRODUCER_ID (-1)
#define BK_NO_SEQUENCE    (-1)

/* The decoded 61-byte header. */
typedef struct bk_batch_header {
    int64_t base_offset;
    int32_t batch_length; /* bytes after this field; total = 12 + this */
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} bk_batch_header;

/* Total size of the batch described by h, log overhead included. */
static inline size_t bk_batch_size(const bk_batch_header *h)
{
    return (size_t)BK_BATCH_LOG_OVERHEAD + (size_t)h->batch_length;
}
/* Offset of the last record in the batch. */
static inline int64_t bk_batch_last_offset(const bk_batch_header *h)
{
    return h->base_offset + h->last_offset_delta;
}

/* Decodes the header from p[0..len).  Checks only what the header alone can
 * tell: len >= 61, magic == 2, batchLength >= 49, recordCount >= 0,
 * lastOffsetDelta >= 0, baseOffset + lastOffsetDelta + 1 fits an int64.
 * Does not check the CRC or that the whole batch is present.  0, BK_AGAIN
 * (positive) when fewer than 61 bytes are given, -BK_ECORRUPT,
 * -BK_EUNSUPPORTED (other magic). */
int bk_batch_parse_header(const uint8_t *p, size_t len, bk_batch_header *h);

/* Checks the CRC-32C of a complete batch p[0..len) (len must equal the
 * batch's size).  0 or -BK_ECORRUPT.  Cheap: what log recovery uses. */
int bk_batch_check_crc(const uint8_t *p, size_t len);

/* Full validation of one complete batch p[0..len) (len must be exactly the
 * batch's size): header, CRC, codec known, every record decodes (after
 * decompression, bounded by max_uncompressed bytes), recordCount matches,
 * offset deltas are 0,1,2..., lastOffsetDelta matches the last one.
 * Each record must fill its own length exactly and no bytes may follow the
 * last one.  A batch without records is refused (Kafka refuses them from
 * producers).  maxTimestamp is taken as given (as Kafka does); record
 * timestamps only must not overflow.  max_uncompressed bounds only the
 * decompressed size of compressed batches.
 * Fills *h when h is not NULL and the header decoded (even if a later
 * check fails).  0, -BK_ECORRUPT, -BK_EUNSUPPORTED (magic or codec),
 * -BK_ETOOBIG, -BK_ENOMEM.  Allocates only to decompress; any thread. */
int bk_batch_validate(const uint8_t *p, size_t len, size_t max_uncompressed,
                      bk_batch_header *h);

/* Write fields in place without touching the CRC (both lie before byte 21,
 * outside the CRC's range).  p points at a batch of at least 61 bytes. */
void bk_batch_set_base_offset(uint8_t *p, int64_t base_offset);
void bk_batch_set_leader_epoch(uint8_t *p, int32_t epoch);

/* ------------------------------ records ------------------------------ */

/* A record header (Kafka "headers": key string, nullable value). */
typedef struct bk_rec_header {
    const char *key;
    size_t key_len;
    const void *value;
    int32_t value_len; /* -1 = null */
} bk_rec_header;

/* A record to add to a batch.  Pointers are borrowed for the duration of
 * the call only. */
typedef struct bk_record {
    const void *key;
    int32_t key_len; /* -1 = null key (distinct from 0 = empty key) */
    const void *value;
    int32_t value_len; /* -1 = null value (a tombstone) */
    int64_t timestamp; /* ms since epoch */
    const bk_rec_header *headers;
    int header_count;
} bk_record;

/* ------------------------------ builder ------------------------------ */

/* Builds one batch.  Records are encoded as they are added into an owned
 * buffer; finish() compresses (if asked), writes the header and CRC. */
typedef struct bk_batch_builder {
    bk_buf recs;   /* encoded records, uncompressed */
    int codec;     /* bk_codec */
    int32_t count; /* records added */
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int16_t extra_attributes; /* OR-ed into attributes (e.g. transactional) */
} bk_batch_builder;

/* codec: a bk_codec.  -BK_EUNSUPPORTED for unknown codecs or snappy. */
int bk_batch_builder_init(bk_batch_builder *b, int codec);
void bk_batch_builder_free(bk_batch_builder *b);
/* Forgets the records, keeps the codec and the allocation. */
void bk_batch_builder_reset(bk_batch_builder *b);
/* Adds a record (offset delta = records added so far).  0, -BK_EINVAL for a
 * length < -1 (or a NULL pointer with a length > 0, or a timestamp whose
 * delta to the first record's overflows), -BK_ETOOBIG when the batch would
 * pass Kafka's int32 limits (size, record count), -BK_ENOMEM.  On error the
 * record is not added; after -BK_ENOMEM finish() fails too until reset(). */
int bk_batch_builder_add(bk_batch_builder *b, const bk_record *r);
/* Uncompressed size the batch would have now (header included). */
size_t bk_batch_builder_size(const bk_batch_builder *b);
/* Appends the finished batch (base offset 0, leader epoch -1) to out.
 * The builder keeps its records; reset() it to start the next batch.
 * 0, -BK_EINVAL when no record was added, -BK_ENOMEM, -BK_EUNSUPPORTED,
 * -BK_ETOOBIG (compressed output over the int32 batch size).  On error out
 * is left as it was. */
int bk_batch_builder_finish(bk_batch_builder *b, bk_buf *out);

/* ------------------------------ iterator ------------------------------ */

/* A decoded record; pointers point into the batch or into the iterator's
 * decompression buffer and stay valid until the iterator is freed. */
typedef struct bk_record_view {
    int64_t offset;    /* base offset + offset delta */
    int64_t timestamp; /* base timestamp + delta (or maxTimestamp when the
                          batch uses log-append time) */
    const uint8_t *key;
    int32_t key_len; /* -1 = null */
    const uint8_t *value;
    int32_t value_len; /* -1 = null */
    int32_t header_count;
    const uint8_t *headers; /* raw encoded headers, header_count of them */
    size_t headers_len;
} bk_record_view;

typedef struct bk_batch_iter {
    bk_batch_header h;
    bk_buf plain;  /* decompressed records when the batch is compressed */
    bk_rd rd;      /* cursor over the records */
    int32_t index; /* records returned so far */
} bk_batch_iter;

/* Starts iterating the complete batch p[0..len) (validated by the caller
 * or not: every read is checked).  Decompresses when needed (bounded by
 * max_uncompressed).  Does not check the CRC (bk_batch_check_crc() does).
 * 0 or a negative code as bk_batch_validate(); bk_batch_iter_free() is
 * needed (and safe) either way, and next() on a failed iterator gives 0. */
int bk_batch_iter_init(bk_batch_iter *it, const uint8_t *p, size_t len,
                       size_t max_uncompressed);
/* 1 and *rec filled, 0 at the end, -BK_ECORRUPT on a malformed record. */
int bk_batch_iter_next(bk_batch_iter *it, bk_record_view *rec);
void bk_batch_iter_free(bk_batch_iter *it);

/* Walks the raw headers of a record view: call with *pos = 0 first.
 * 1 and *hdr filled, 0 after the last, -BK_ECORRUPT. */
int bk_record_header_next(const bk_record_view *rec, size_t *pos,
                          bk_rec_header *hdr);

#endif
