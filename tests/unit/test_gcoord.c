/*
 * test_gcoord.c -- group coordinator placement (broker/gcoord): Java's
 * String.hashCode over UTF-16 (values Java computes), Kafka's abs() with
 * Integer.MIN_VALUE, and the lookup in a cluster picture.
 */
#include <CUnit/CUnit.h>

#include "broker/gcoord.h"
#include "coordinator/offsets.h"
#include "proto/protocol.h"
#include "tests/unit/cu_main.h"

static void test_java_hash(void)
{
    /* Values of java.lang.String#hashCode. */
    CU_ASSERT_EQUAL(bk_off_java_hash(""), 0);
    CU_ASSERT_EQUAL(bk_off_java_hash("hello"), 99162322);
    CU_ASSERT_EQUAL(bk_off_java_hash("Aa"), 2112);
    CU_ASSERT_EQUAL(bk_off_java_hash("BB"), 2112);
    CU_ASSERT_EQUAL(bk_off_java_hash("my-group"), -1906497762);
    CU_ASSERT_EQUAL(bk_off_java_hash("polygenelubricants"), INT32_MIN);
    /* Non-ASCII: one UTF-16 unit for U+00FC/U+00DF, a surrogate pair for
     * U+1F600. */
    CU_ASSERT_EQUAL(bk_off_java_hash("gr\xc3\xbc\xc3\x9f"
                                     "e"),
                    98768023);
    CU_ASSERT_EQUAL(bk_off_java_hash("\xf0\x9f\x98\x80x"), 54959989);
    /* Invalid UTF-8 hashes as U+FFFD per bad byte, never crashes. */
    CU_ASSERT_EQUAL(bk_off_java_hash("\xff"), 0xfffd);
    CU_ASSERT_EQUAL(bk_off_java_hash("\xe2\x82"), 31 * 0xfffd + 0xfffd);
}

static void test_partition_for(void)
{
    CU_ASSERT_EQUAL(bk_off_group_partition("hello", 50), 22);
    CU_ASSERT_EQUAL(bk_off_group_partition("my-group", 50), 12); /* negative */
    CU_ASSERT_EQUAL(bk_off_group_partition("polygenelubricants", 50), 0);
    CU_ASSERT_EQUAL(bk_off_group_partition("console-consumer-12345", 50), 6);
    CU_ASSERT_EQUAL(bk_off_group_partition("x", 1), 0);
}

static bk_md *picture(int nparts, int32_t leader, bool leader_live)
{
    bk_md *md = bk_md_new();
    CU_ASSERT_FATAL(md != NULL);
    CU_ASSERT_FATAL(bk_md_set_broker(md, 1, "h1", 9092, "") == 0);
    CU_ASSERT_FATAL(bk_md_set_broker(md, 2, "h2", 9093, "") == 0);
    if (!leader_live)
        bk_md_remove_broker(md, leader);
    if (nparts <= 0)
        return md;
    int32_t reps[2] = {1, 2};
    int32_t *rv[64];
    size_t nr[64];
    for (int i = 0; i < nparts; i++) {
        rv[i] = reps;
        nr[i] = 2;
    }
    CU_ASSERT_FATAL(bk_md_set_topic(md, BK_GC_TOPIC, (size_t)nparts, rv, nr) ==
                    0);
    for (int i = 0; i < nparts; i++)
        CU_ASSERT_FATAL(
            bk_md_set_state(md, BK_GC_TOPIC, i, leader, 0, 1, 0, reps, 2) == 0);
    return md;
}

static void test_locate(void)
{
    bk_gc_where w;
    bk_md *md = picture(0, 1, true);
    bk_gc_locate(md, "g", &w);
    CU_ASSERT_EQUAL(w.error, BK_ERR_COORDINATOR_NOT_AVAILABLE);
    CU_ASSERT(w.create);
    bk_gc_locate(md, "", &w);
    CU_ASSERT_EQUAL(w.error, BK_ERR_INVALID_GROUP_ID);
    CU_ASSERT(!w.create);
    bk_md_free(md);

    md = picture(50, 2, true);
    bk_gc_locate(md, "my-group", &w);
    CU_ASSERT_EQUAL(w.error, 0);
    CU_ASSERT_EQUAL(w.partition, 12);
    CU_ASSERT_EQUAL(w.node, 2);
    CU_ASSERT_STRING_EQUAL(w.host, "h2");
    CU_ASSERT_EQUAL(w.port, 9093);
    CU_ASSERT(!w.create);
    bk_md_free(md);

    /* The leader's broker is not registered: not available, no create. */
    md = picture(50, 2, false);
    bk_gc_locate(md, "my-group", &w);
    CU_ASSERT_EQUAL(w.error, BK_ERR_COORDINATOR_NOT_AVAILABLE);
    CU_ASSERT_EQUAL(w.partition, 12);
    CU_ASSERT(!w.create);
    bk_md_free(md);

    /* Offline partition (leader -1). */
    md = picture(3, -1, true);
    bk_gc_locate(md, "hello", &w);
    CU_ASSERT_EQUAL(w.error, BK_ERR_COORDINATOR_NOT_AVAILABLE);
    CU_ASSERT_EQUAL(w.partition, 99162322 % 3);
    bk_md_free(md);
}

static CU_TestInfo tests[] = {
    {"Java String.hashCode", test_java_hash},
    {"partition for a group", test_partition_for},
    {"locate in a picture", test_locate},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite("gcoord", tests);
}
