/*
 * test_murmur2.c -- client/partitioner.c: Kafka's murmur2 against the
 * values Kafka's own tests assert (UtilsTest.testMurmur2, kafka-python's
 * pure murmur2 test), the keyed partition formula
 * (toPositive(murmur2) % n, not abs), and sticky partitioning (KIP-480).
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "client/partitioner.h"
#include "tests/unit/cu_main.h"

static int32_t mm(const char *s)
{
    return bk_murmur2(s, strlen(s));
}

static void test_kafka_vectors(void)
{
    /* Kafka clients/src/test/.../utils/UtilsTest.java testMurmur2 */
    CU_ASSERT_EQUAL(mm("21"), -973932308);
    CU_ASSERT_EQUAL(mm("foobar"), -790332482);
    CU_ASSERT_EQUAL(mm("a-little-bit-long-string"), -985981536);
    CU_ASSERT_EQUAL(mm("a-little-bit-longer-string"), -1486304829);
    CU_ASSERT_EQUAL(mm("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
                    -58897971);
    const char abc[3] = {'a', 'b', 'c'};
    CU_ASSERT_EQUAL(bk_murmur2(abc, 3), 479470107);
    CU_ASSERT_EQUAL(bk_murmur2("", 0), 275646681);
}

static void test_more_vectors(void)
{
    /* kafka-python test_partitioner.py (unsigned values): lengths 0..9
     * cover every tail case */
    CU_ASSERT_EQUAL((uint32_t)mm("testing"), 2291530147u);
    CU_ASSERT_EQUAL((uint32_t)mm("PEACH!"), 2546348827u);
    CU_ASSERT_EQUAL((uint32_t)mm("Gorz!"), 1742407956u);
    CU_ASSERT_EQUAL((uint32_t)mm("987654321"), 577579727u);
    CU_ASSERT_EQUAL((uint32_t)mm("_!!_"), 2335345241u);
    CU_ASSERT_EQUAL((uint32_t)mm("CRINOID"), 3603193626u);
}

static void test_high_bytes(void)
{
    /* bytes >= 0x80 must not sign-extend (Java masks with & 0xff) */
    uint8_t a[5] = {0xff, 0x80, 0x7f, 0x00, 0xfe};
    int32_t h1 = bk_murmur2(a, 5);
    a[0] = 0x7f;
    CU_ASSERT_NOT_EQUAL(bk_murmur2(a, 5), h1);
    /* deterministic */
    a[0] = 0xff;
    CU_ASSERT_EQUAL(bk_murmur2(a, 5), h1);
}

/* Expected partition from a known hash, by Kafka's formula. */
static int32_t kafka_part(int32_t hash, int32_t n)
{
    return (hash & 0x7fffffff) % n;
}

static void test_partition_for_key(void)
{
    static const struct {
        const char *key;
        int32_t hash;
    } v[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"", 275646681},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        for (int32_t n = 1; n <= 12; n++)
            CU_ASSERT_EQUAL(bk_part_for_key(v[i].key, strlen(v[i].key), n),
                            kafka_part(v[i].hash, n));
    }
    /* worked by hand: "21" -> 1173551340 after toPositive; mod 3 = 0,
     * mod 7 = 1173551340 - 7 * 167650191 = 3 */
    CU_ASSERT_EQUAL(bk_part_for_key("21", 2, 3), 0);
    CU_ASSERT_EQUAL(bk_part_for_key("21", 2, 7), 3);
    /* toPositive is not abs: -790332482 & 0x7fffffff = 1357151166, while
     * abs would give 790332482; mod 10 they differ (6 vs 2) */
    CU_ASSERT_EQUAL(bk_part_for_key("foobar", 6, 10), 6);
    /* brook_produce() accepts an empty key as (NULL, 0): it is hashed like
     * any empty key, without forming NULL + 0 (undefined behaviour) */
    CU_ASSERT_EQUAL(bk_murmur2(NULL, 0), 275646681);
    CU_ASSERT_EQUAL(bk_part_for_key(NULL, 0, 5), kafka_part(275646681, 5));
    /* the result is always a valid partition */
    char key[32];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(key, sizeof key, "key-%d", i);
        int32_t p = bk_part_for_key(key, (size_t)n, 7);
        CU_ASSERT_TRUE(p >= 0 && p < 7);
    }
}

static void test_sticky_sticks_until_batch_closed(void)
{
    bk_sticky s;
    bk_sticky_init(&s, 42);
    int32_t avail[] = {0, 1, 2, 3, 4, 5};
    int32_t p = bk_sticky_partition(&s, 6, avail, 6);
    CU_ASSERT_TRUE(p >= 0 && p < 6);
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(bk_sticky_partition(&s, 6, avail, 6), p);
    /* another partition's batch closing changes nothing */
    bk_sticky_batch_closed(&s, (p + 1) % 6, 6, avail, 6);
    CU_ASSERT_EQUAL(bk_sticky_partition(&s, 6, avail, 6), p);
    /* its own batch closing moves it to a different partition */
    bk_sticky_batch_closed(&s, p, 6, avail, 6);
    int32_t q = bk_sticky_partition(&s, 6, avail, 6);
    CU_ASSERT_NOT_EQUAL(q, p);
    CU_ASSERT_TRUE(q >= 0 && q < 6);
}

static void test_sticky_spreads_and_respects_availability(void)
{
    bk_sticky s;
    bk_sticky_init(&s, 7);
    int32_t avail[] = {1, 3};
    int seen[4] = {0};
    for (int i = 0; i < 200; i++) {
        int32_t p = bk_sticky_partition(&s, 4, avail, 2);
        CU_ASSERT_TRUE(p == 1 || p == 3);
        seen[p]++;
        bk_sticky_batch_closed(&s, p, 4, avail, 2);
    }
    CU_ASSERT_EQUAL(seen[0] + seen[2], 0);
    /* with two choices it alternates strictly (never the same twice) */
    CU_ASSERT_EQUAL(seen[1], 100);
    CU_ASSERT_EQUAL(seen[3], 100);

    /* nothing available: any partition of the topic */
    int all[5] = {0};
    for (int i = 0; i < 500; i++) {
        int32_t p = bk_sticky_partition(&s, 5, NULL, 0);
        CU_ASSERT_TRUE(p >= 0 && p < 5);
        all[p]++;
        bk_sticky_batch_closed(&s, p, 5, NULL, 0);
    }
    for (int i = 0; i < 5; i++)
        CU_ASSERT_TRUE(all[i] > 50);

    /* one partition: always 0 */
    bk_sticky_init(&s, 1);
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(bk_sticky_partition(&s, 1, NULL, 0), 0);
        bk_sticky_batch_closed(&s, 0, 1, NULL, 0);
    }
    /* a sticky choice beyond a shrunken count is replaced */
    bk_sticky_init(&s, 3);
    s.part = 9;
    int32_t p = bk_sticky_partition(&s, 4, NULL, 0);
    CU_ASSERT_TRUE(p >= 0 && p < 4);
}

static CU_TestInfo murmur_tests[] = {
    {"Kafka UtilsTest murmur2 vectors", test_kafka_vectors},
    {"kafka-python murmur2 vectors", test_more_vectors},
    {"bytes >= 0x80", test_high_bytes},
    {"partition for key = toPositive(murmur2) % n", test_partition_for_key},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo sticky_tests[] = {
    {"sticks until its batch closes", test_sticky_sticks_until_batch_closed},
    {"spreads, respects availability",
     test_sticky_spreads_and_respects_availability},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite("murmur2", murmur_tests);
    bk_test_add_suite("sticky", sticky_tests);
}
