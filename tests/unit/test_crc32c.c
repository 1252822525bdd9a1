/*
 * test_crc32c.c -- CRC-32C (common/crc32c): known vectors on both the
 * hardware and the software path, incremental use, and the two paths
 * against each other and against a bit-at-a-time reference on random
 * buffers of random lengths and alignments.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "tests/unit/cu_main.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

/* The paths under test: software always; hardware when the CPU has it;
 * the dispatching entry point always. */
static size_t paths(crc_fn fns[3], const char *names[3])
{
    size_t n = 0;
    fns[n] = bk_crc32c_sw;
    names[n++] = "sw";
    if (bk_crc32c_hw_available()) {
        fns[n] = bk_crc32c_hw;
        names[n++] = "hw";
    }
    fns[n] = bk_crc32c;
    names[n++] = "dispatch";
    return n;
}

/* Bit-at-a-time CRC-32C straight from the definition (reflected
 * polynomial 0x82F63B78): shares no table or code with the module. */
static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return ~crc;
}

/* splitmix64: a small deterministic generator seeded by bk_test_seed. */
static uint64_t rng_state;
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define CHECK_ALL(buf, len, want)                                              \
    do {                                                                       \
        crc_fn fns_[3];                                                        \
        const char *names_[3];                                                 \
        size_t np_ = paths(fns_, names_);                                      \
        for (size_t k_ = 0; k_ < np_; k_++) {                                  \
            uint32_t got_ = fns_[k_](0, (buf), (len));                         \
            if (got_ != (want))                                                \
                fprintf(stderr, "\n%s: got %08x want %08x\n", names_[k_],      \
                        got_, (unsigned)(want));                               \
            CU_ASSERT_EQUAL(got_, (want));                                     \
        }                                                                      \
        CU_ASSERT_EQUAL(crc_ref(0, (const uint8_t *)(buf), (len)), (want));    \
    } while (0)

static void test_check_value(void)
{
    CHECK_ALL("123456789", 9, 0xE3069283u);
    CHECK_ALL("The quick brown fox jumps over the lazy dog", 43, 0x22620404u);
    CHECK_ALL("", 0, 0u);
    CHECK_ALL("a", 1, 0xC1D04330u);
}

static void test_rfc3720(void)
{
    /* RFC 3720 (iSCSI) appendix B.4 */
    uint8_t b[32];
    memset(b, 0, sizeof b);
    CHECK_ALL(b, 32, 0x8A9136AAu);
    memset(b, 0xff, sizeof b);
    CHECK_ALL(b, 32, 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    CHECK_ALL(b, 32, 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    CHECK_ALL(b, 32, 0x113FDB5Cu);
}

static void test_empty_keeps_crc(void)
{
    crc_fn fns[3];
    const char *names[3];
    size_t np = paths(fns, names);
    for (size_t k = 0; k < np; k++) {
        CU_ASSERT_EQUAL(fns[k](0x12345678u, NULL, 0), 0x12345678u);
        CU_ASSERT_EQUAL(fns[k](0, NULL, 0), 0u);
    }
}

static void test_incremental(void)
{
    /* long enough for the 32- and 8-byte loops and the byte tails */
    uint8_t buf[300];
    rng_state = bk_test_seed;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rng();
    uint32_t whole = crc_ref(0, buf, sizeof buf);
    crc_fn fns[3];
    const char *names[3];
    size_t np = paths(fns, names);
    for (size_t k = 0; k < np; k++) {
        CU_ASSERT_EQUAL(fns[k](0, buf, sizeof buf), whole);
        size_t bad = 0;
        for (size_t split = 0; split <= sizeof buf; split++) {
            uint32_t c = fns[k](0, buf, split);
            c = fns[k](c, buf + split, sizeof buf - split);
            bad += c != whole;
        }
        CU_ASSERT_EQUAL(bad, 0);
        /* three pieces, each path continuing another's CRC */
        for (size_t a = 0; a < 40; a++) {
            size_t b = a + 1 + (size_t)(rng() % (sizeof buf - a - 1));
            uint32_t c = fns[k](0, buf, a);
            c = fns[(k + 1) % np](c, buf + a, b - a);
            c = fns[(k + 2) % np](c, buf + b, sizeof buf - b);
            CU_ASSERT_EQUAL(c, whole);
        }
    }
}

static void test_random_buffers(void)
{
    enum { MAXLEN = 4096, SLACK = 16 };
    uint8_t *mem = malloc(MAXLEN + SLACK);
    CU_ASSERT_FATAL(mem != NULL);
    rng_state = bk_test_seed ^ 0xC0FFEEu;
    int rounds = bk_test_long ? 200000 : 3000;
    int mismatches = 0;
    bool hw = bk_crc32c_hw_available();
    for (int r = 0; r < rounds; r++) {
        size_t off = (size_t)(rng() % SLACK);
        /* mostly short lengths (the tails), sometimes long ones */
        size_t len = (size_t)(rng() % (r % 4 == 0 ? MAXLEN : 80));
        for (size_t i = 0; i < len; i++)
            mem[off + i] = (uint8_t)rng();
        uint32_t seed = r % 3 == 0 ? 0 : (uint32_t)rng();
        uint32_t sw = bk_crc32c_sw(seed, mem + off, len);
        uint32_t want = crc_ref(seed, mem + off, len);
        uint32_t got_hw = hw ? bk_crc32c_hw(seed, mem + off, len) : want;
        uint32_t got = bk_crc32c(seed, mem + off, len);
        if (sw != want || got_hw != want || got != want) {
            if (mismatches++ < 5)
                fprintf(stderr,
                        "\noff %zu len %zu seed %08x: ref %08x sw %08x "
                        "hw %08x dispatch %08x\n",
                        off, len, seed, want, sw, got_hw, got);
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);
    free(mem);
}

static void test_dispatch_choice(void)
{
    /* the dispatcher picks hw exactly when the CPU has SSE4.2; both give
     * the same answers, so only report which one ran */
    printf("\n    crc32c: hardware path %s\n",
           bk_crc32c_hw_available() ? "available" : "not available");
#if defined(__x86_64__)
    CU_ASSERT_EQUAL(bk_crc32c_hw_available(),
                    (bool)__builtin_cpu_supports("sse4.2"));
#endif
}

void bk_test_register(void)
{
    static CU_TestInfo tests[] = {
        {"check value 123456789", test_check_value},
        {"RFC 3720 vectors", test_rfc3720},
        {"empty input keeps the crc", test_empty_keeps_crc},
        {"incremental == one-shot", test_incremental},
        {"hw == sw == reference, random", test_random_buffers},
        {"dispatch", test_dispatch_choice},
        CU_TEST_INFO_NULL,
    };
    bk_test_add_suite("crc32c", tests);
}
