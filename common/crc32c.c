/*
 * crc32c.c -- CRC-32C with a hardware path (see crc32c.h).
 *
 * The software path is slicing-by-8: eight 256-entry tables let the loop
 * consume 8 bytes per iteration.  The hardware path uses the SSE4.2 crc32q
 * instruction, 8 bytes per instruction; it is compiled with a target
 * attribute so the rest of the build needs no -msse4.2, and is selected at
 * run time with __builtin_cpu_supports.
 */
#include "common/crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] =
                (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

uint32_t bk_crc32c_sw(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    pthread_once(&table_once, table_init);
    crc = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
        n--;
    }
    while (n >= 8) {
        /* assemble the words byte by byte: endian-neutral, and compilers
         * turn it into plain loads on little-endian hosts */
        uint32_t lo = crc ^ (uint32_t)(p[0] | p[1] << 8 | p[2] << 16 |
                                       (uint32_t)p[3] << 24);
        uint32_t hi =
            (uint32_t)(p[4] | p[5] << 8 | p[6] << 16 | (uint32_t)p[7] << 24);
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
              table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
              table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
              table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

/*
 * The crc32 instruction has a latency of 3 cycles but a throughput of one
 * per cycle, so one dependent chain uses a third of the unit.  Long inputs
 * are cut into three equal stripes computed as three independent chains,
 * then joined: a CRC register is linear in its input, so
 *     reg(A || B, r) = reg(B, 0) ^ zeros_len(B)(reg(A, r)),
 * where zeros_n(x) is the register after n zero bytes starting from x --
 * a linear map of 32 bits, tabulated once per stripe length (four 256-entry
 * tables, built from its values on the 32 unit vectors).
 */
#define STRIPE_LONG  2048
#define STRIPE_SHORT 256

static uint32_t zeros_long[4][256], zeros_short[4][256];
static pthread_once_t zeros_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static uint32_t zeros_apply_slow(uint32_t x,
                                                                   size_t n)
{
    uint64_t c = x;
    for (size_t i = 0; i < n / 8; i++)
        c = _mm_crc32_u64(c, 0);
    return (uint32_t)c;
}

static void zeros_table(uint32_t t[4][256], size_t n)
{
    uint32_t unit[32];
    for (int b = 0; b < 32; b++)
        unit[b] = zeros_apply_slow(1u << b, n);
    for (int k = 0; k < 4; k++) {
        for (uint32_t v = 0; v < 256; v++) {
            uint32_t r = 0;
            for (int b = 0; b < 8; b++)
                if (v & (1u << b))
                    r ^= unit[8 * k + b];
            t[k][v] = r;
        }
    }
}

static void zeros_init(void)
{
    zeros_table(zeros_long, STRIPE_LONG);
    zeros_table(zeros_short, STRIPE_SHORT);
}

static inline uint32_t zeros_apply(uint32_t t[4][256], uint32_t x)
{
    return t[0][x & 0xff] ^ t[1][(x >> 8) & 0xff] ^ t[2][(x >> 16) & 0xff] ^
           t[3][x >> 24];
}

/* Three stripes of `stripe` bytes each from p; returns the joined
 * register. */
__attribute__((target("sse4.2"))) static inline uint64_t
crc_3way(uint64_t c, const uint8_t *p, size_t stripe, uint32_t t[4][256])
{
    uint64_t c1 = 0, c2 = 0;
    const uint8_t *p1 = p + stripe, *p2 = p + 2 * stripe;
    for (size_t i = 0; i < stripe; i += 8) {
        uint64_t w0, w1, w2;
        memcpy(&w0, p + i, 8);
        memcpy(&w1, p1 + i, 8);
        memcpy(&w2, p2 + i, 8);
        c = _mm_crc32_u64(c, w0);
        c1 = _mm_crc32_u64(c1, w1);
        c2 = _mm_crc32_u64(c2, w2);
    }
    c = zeros_apply(t, (uint32_t)c) ^ (uint32_t)c1;
    return zeros_apply(t, (uint32_t)c) ^ (uint32_t)c2;
}

__attribute__((target("sse4.2"))) uint32_t
bk_crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    uint64_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    if (n >= 3 * STRIPE_SHORT) {
        pthread_once(&zeros_once, zeros_init);
        while (n >= 3 * STRIPE_LONG) {
            c = crc_3way(c, p, STRIPE_LONG, zeros_long);
            p += 3 * STRIPE_LONG;
            n -= 3 * STRIPE_LONG;
        }
        while (n >= 3 * STRIPE_SHORT) {
            c = crc_3way(c, p, STRIPE_SHORT, zeros_short);
            p += 3 * STRIPE_SHORT;
            n -= 3 * STRIPE_SHORT;
        }
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    while (n--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

bool bk_crc32c_hw_available(void)
{
    return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t bk_crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
    return bk_crc32c_sw(crc, buf, n);
}

bool bk_crc32c_hw_available(void)
{
    return false;
}
#endif

static uint32_t (*crc_impl)(uint32_t, const void *, size_t);
static pthread_once_t impl_once = PTHREAD_ONCE_INIT;

static void impl_init(void)
{
    crc_impl = bk_crc32c_hw_available() ? bk_crc32c_hw : bk_crc32c_sw;
}

uint32_t bk_crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&impl_once, impl_init);
    return crc_impl(crc, p, n);
}
