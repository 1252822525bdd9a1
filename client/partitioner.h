/*
 * partitioner.h -- which partition a produced record goes to, exactly as
 * Kafka's Java producer decides it, so that a key lands on the same
 * partition whether a Brook or a Kafka client wrote it.
 *
 *  - explicit partition: used as given;
 *  - key (including the empty key): toPositive(murmur2(key)) % partitions,
 *    where murmur2 is Kafka's Utils.murmur2 (MurmurHash2, 32 bit, seed
 *    0x9747b28c, little-endian 4-byte blocks) and toPositive(h) is
 *    h & 0x7fffffff (not abs(): abs(INT32_MIN) overflows);
 *  - null key: sticky partitioning (KIP-480): every keyless record of a
 *    topic goes to the same partition until the batch it fills is closed
 *    (full or sent), then a new partition is chosen at random among the
 *    available ones, different from the previous one when there is a
 *    choice.  Batches fill faster than with round robin, so fewer, larger
 *    requests go out for the same load.
 *
 * Pure functions and a small caller-owned state; no locking (the state
 * belongs to the client's thread).
 */
#ifndef BK_PARTITIONER_H
#define BK_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's Utils.murmur2(byte[]): the signed 32-bit result as Java sees it. */
int32_t bk_murmur2(const void *data, size_t len);

/* Kafka's default partition for a non-null key: toPositive(murmur2(key)) %
 * nparts.  nparts >= 1. */
int32_t bk_part_for_key(const void *key, size_t len, int32_t nparts);

/* The sticky choice for keyless records of one topic. */
typedef struct bk_sticky {
    int32_t part; /* current sticky partition, -1: none chosen yet */
    uint64_t rng; /* xorshift state for the random choice */
} bk_sticky;

/* seed: any value (0 is replaced by a fixed non-zero constant). */
void bk_sticky_init(bk_sticky *s, uint64_t seed);

/*
 * The partition for the next keyless record.  avail[0..navail) lists the
 * partitions that have a leader (may be empty: then any of 0..nparts-1 is
 * taken).  Keeps the current choice while it is valid; chooses anew when
 * there is none yet or the current one is no longer < nparts.
 */
int32_t bk_sticky_partition(bk_sticky *s, int32_t nparts, const int32_t *avail,
                            int32_t navail);

/* Tells the state that the batch of partition `part` was closed (full or
 * handed to the sender): if it is the sticky partition, the next keyless
 * record picks a new one (KIP-480's onNewBatch). */
void bk_sticky_batch_closed(bk_sticky *s, int32_t part, int32_t nparts,
                            const int32_t *avail, int32_t navail);

#endif
