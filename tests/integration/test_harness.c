/*
 * test_harness.c -- the harness itself against a real ZooKeeper: a
 * standalone server and a 3-node ensemble come up, answer, survive the loss
 * of one node (ensemble keeps quorum) and restart.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "tests/harness/harness.h"
#include "tests/unit/cu_main.h"

static void test_standalone(void)
{
    bk_h_zk *zk = bk_h_zk_start("zk-standalone", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    char buf[2048];
    CU_ASSERT_TRUE(
        bk_h_zk_4lw(zk->node[0].client_port, "srvr", buf, sizeof buf) > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Mode: standalone"));
    CU_ASSERT_PTR_NOT_NULL(strstr(zk->connect, "127.0.0.1:"));
    bk_h_zk_kill_node(zk, 0);
    CU_ASSERT_EQUAL(
        bk_h_zk_4lw(zk->node[0].client_port, "srvr", buf, sizeof buf), -1);
    CU_ASSERT_EQUAL(bk_h_zk_start_node(zk, 0, true), 0);
    CU_ASSERT_TRUE(
        bk_h_zk_4lw(zk->node[0].client_port, "srvr", buf, sizeof buf) > 0);
    bk_h_zk_stop(zk);
}

static void test_ensemble(void)
{
    bk_h_zk *zk = bk_h_zk_start("zk-ensemble", 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    char buf[2048];
    int leaders = 0, followers = 0;
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_TRUE(
            bk_h_zk_4lw(zk->node[i].client_port, "srvr", buf, sizeof buf) > 0);
        leaders += strstr(buf, "Mode: leader") != NULL;
        followers += strstr(buf, "Mode: follower") != NULL;
    }
    CU_ASSERT_EQUAL(leaders, 1);
    CU_ASSERT_EQUAL(followers, 2);
    bk_h_zk_stop(zk);
}

static CU_TestInfo harness_tests[] = {
    {"standalone zookeeper start/kill/restart", test_standalone},
    {"3-node ensemble has one leader", test_ensemble},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite("harness", harness_tests);
}
