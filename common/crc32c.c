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
        uint32_t hi = (uint32_t)(p[4] | p[5] << 8 | p[6] << 16 |
                                 (uint32_t)p[7] << 24);
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

__attribute__((target("sse4.2"))) uint32_t
bk_crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    uint64_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    /* Three independent streams would hide the instruction's 3-cycle
     * latency; one stream already gives several GB/s, well above what the
     * log needs, so keep it simple until a benchmark says otherwise. */
    while (n >= 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        memcpy(&w2, p + 16, 8);
        memcpy(&w3, p + 24, 8);
        c = _mm_crc32_u64(c, w0);
        c = _mm_crc32_u64(c, w1);
        c = _mm_crc32_u64(c, w2);
        c = _mm_crc32_u64(c, w3);
        p += 32;
        n -= 32;
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
