/*
 * partitioner.c -- Kafka's default partitioner: murmur2 for keys, sticky
 * partitioning for keyless records (see partitioner.h).
 */
#include "client/partitioner.h"

#include <assert.h>

/*
 * MurmurHash2 as Kafka's Utils.murmur2 computes it.  Java does this in int
 * arithmetic with >>> (logical shifts); uint32_t gives the same bits.  The
 * tail bytes are mixed in the order 3, 2, 1 with fall-through, as in
 * Kafka's switch statement.
 */
int32_t bk_murmur2(const void *data, size_t len)
{
    const uint8_t *p = data;
    const uint32_t seed = 0x9747b28cu;
    const uint32_t m = 0x5bd1e995u;
    const int r = 24;
    uint32_t h = seed ^ (uint32_t)len;
    size_t blocks = len / 4;

    for (size_t i = 0; i < blocks; i++) {
        const uint8_t *b = p + 4 * i;
        uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
                     (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }

    /* an index, not a tail pointer: an empty key may be (NULL, 0), and
     * NULL + 0 is undefined in C */
    size_t t = len & ~(size_t)3;
    switch (len % 4) {
    case 3:
        h ^= (uint32_t)p[t + 2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)p[t + 1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)p[t];
        h *= m;
    }

    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

int32_t bk_part_for_key(const void *key, size_t len, int32_t nparts)
{
    assert(nparts >= 1);
    /* Utils.toPositive: clear the sign bit (not abs, see the header) */
    int32_t pos = bk_murmur2(key, len) & 0x7fffffff;
    return pos % nparts;
}

void bk_sticky_init(bk_sticky *s, uint64_t seed)
{
    s->part = -1;
    s->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint32_t sticky_rand(bk_sticky *s)
{
    /* xorshift64: plenty for spreading load, and no global state */
    uint64_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->rng = x;
    return (uint32_t)(x >> 32);
}

/* A random partition other than `old` when there is a choice. */
static int32_t sticky_choose(bk_sticky *s, int32_t old, int32_t nparts,
                             const int32_t *avail, int32_t navail)
{
    if (navail > 0) {
        if (navail == 1)
            return avail[0];
        for (;;) {
            int32_t p = avail[sticky_rand(s) % (uint32_t)navail];
            if (p != old)
                return p;
        }
    }
    if (nparts <= 1)
        return 0;
    for (;;) {
        int32_t p = (int32_t)(sticky_rand(s) % (uint32_t)nparts);
        if (p != old)
            return p;
    }
}

int32_t bk_sticky_partition(bk_sticky *s, int32_t nparts, const int32_t *avail,
                            int32_t navail)
{
    assert(nparts >= 1);
    if (s->part < 0 || s->part >= nparts)
        s->part = sticky_choose(s, -1, nparts, avail, navail);
    return s->part;
}

void bk_sticky_batch_closed(bk_sticky *s, int32_t part, int32_t nparts,
                            const int32_t *avail, int32_t navail)
{
    if (part != s->part || nparts < 1)
        return;
    s->part = sticky_choose(s, part, nparts, avail, navail);
}
