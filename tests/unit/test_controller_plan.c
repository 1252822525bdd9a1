/*
 * test_controller_plan.c -- the controller's per-partition decision
 * (bk_ctrl_plan, broker/controller.c) on hand-made cluster pictures:
 * leader election from ISR ∩ live in assignment order, offline with the
 * dead leader kept as the only ISR member, unclean election only when
 * allowed, dead followers leaving the ISR without a leader-epoch bump,
 * an offline partition electing a returning ISR member, and no change
 * where none is due; brokers in controlled shutdown (never elected,
 * leadership moved off them, out of ISRs that keep another member);
 * preferred-leader election and the per-broker leader imbalance.  The ZooKeeper
 * side is covered by tests/integration/test_controller.c.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "broker/controller.h"
#include "broker/metadata.h"
#include "tests/unit/cu_main.h"

/* A picture with live brokers live[0..nlive) and topic "t" with one
 * partition: replicas, state (leader, epoch 5, isr). */
static bk_md *picture(const int32_t *live, size_t nlive,
                      const int32_t *replicas, size_t nrep, int32_t leader,
                      const int32_t *isr, size_t nisr)
{
    bk_md *md = bk_md_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    for (size_t i = 0; i < nlive; i++)
        CU_ASSERT_EQUAL_FATAL(
            bk_md_set_broker(md, live[i], "127.0.0.1", 9000 + live[i], ""), 0);
    int32_t *reps[1] = {(int32_t *)replicas};
    size_t nr[1] = {nrep};
    CU_ASSERT_EQUAL_FATAL(bk_md_set_topic(md, "t", 1, reps, nr), 0);
    CU_ASSERT_EQUAL_FATAL(
        bk_md_set_state(md, "t", 0, leader, 5, 1, 7, isr, nisr), 0);
    return md;
}

static bk_ctrl_decision run(bk_md *md, bool unclean, bk_zkc_pstate *out)
{
    return bk_ctrl_plan(md, bk_md_part_find(md, "t", 0), unclean, 9, NULL, 0,
                        out);
}

static void test_elect_from_isr(void)
{
    const int32_t live[] = {2, 3}, reps[] = {1, 3, 2}, isr[] = {1, 2, 3};
    bk_md *md = picture(live, 2, reps, 3, 1, isr, 3);
    bk_zkc_pstate st;
    CU_ASSERT_EQUAL(run(md, false, &st), BK_CTRL_ELECT);
    /* Assignment order decides: 3 before 2. */
    CU_ASSERT_EQUAL(st.leader, 3);
    CU_ASSERT_EQUAL(st.leader_epoch, 6);
    CU_ASSERT_EQUAL(st.controller_epoch, 9);
    CU_ASSERT_EQUAL(st.nisr, 2);
    CU_ASSERT_EQUAL(st.isr[0], 2);
    CU_ASSERT_EQUAL(st.isr[1], 3);
    bk_md_free(md);
}

static void test_offline_keeps_leader(void)
{
    /* ISR {1}; 2 and 3 are alive but not in sync. */
    const int32_t live[] = {2, 3}, reps[] = {1, 2, 3}, isr[] = {1};
    bk_md *md = picture(live, 2, reps, 3, 1, isr, 1);
    bk_zkc_pstate st;
    CU_ASSERT_EQUAL(run(md, false, &st), BK_CTRL_OFFLINE);
    CU_ASSERT_EQUAL(st.leader, -1);
    CU_ASSERT_EQUAL(st.leader_epoch, 6);
    CU_ASSERT_EQUAL(st.nisr, 1);
    CU_ASSERT_EQUAL(st.isr[0], 1);
    bk_md_free(md);
    /* Every ISR member dead: the ISR is not emptied either. */
    const int32_t isr2[] = {1, 2};
    const int32_t live2[] = {3};
    md = picture(live2, 1, reps, 3, 1, isr2, 2);
    CU_ASSERT_EQUAL(run(md, false, &st), BK_CTRL_OFFLINE);
    CU_ASSERT_EQUAL(st.nisr, 1);
    CU_ASSERT_EQUAL(st.isr[0], 1);
    bk_md_free(md);
}

static void test_unclean(void)
{
    const int32_t live[] = {3}, reps[] = {1, 2, 3}, isr[] = {1};
    bk_md *md = picture(live, 1, reps, 3, 1, isr, 1);
    bk_zkc_pstate st;
    CU_ASSERT_EQUAL(run(md, true, &st), BK_CTRL_ELECT);
    CU_ASSERT_EQUAL(st.leader, 3);
    CU_ASSERT_EQUAL(st.leader_epoch, 6);
    CU_ASSERT_EQUAL(st.nisr, 1);
    CU_ASSERT_EQUAL(st.isr[0], 3);
    bk_md_free(md);
    /* Nobody alive at all: offline even when unclean is allowed. */
    md = picture(NULL, 0, reps, 3, 1, isr, 1);
    CU_ASSERT_EQUAL(run(md, true, &st), BK_CTRL_OFFLINE);
    bk_md_free(md);
}

static void test_offline_stays_then_returns(void)
{
    const int32_t reps[] = {1, 2}, isr[] = {1};
    /* Offline, and only the stale replica 2 is back: nothing to do. */
    const int32_t live[] = {2};
    bk_md *md = picture(live, 1, reps, 2, -1, isr, 1);
    bk_zkc_pstate st;
    CU_ASSERT_EQUAL(run(md, false, &st), BK_CTRL_KEEP);
    bk_md_free(md);
    /* 1 returns: elected. */
    const int32_t live2[] = {1, 2};
    md = picture(live2, 2, reps, 2, -1, isr, 1);
    CU_ASSERT_EQUAL(run(md, false, &st), BK_CTRL_ELECT);
    CU_ASSERT_EQUAL(st.leader, 1);
    CU_ASSERT_EQUAL(st.leader_epoch, 6);
    CU_ASSERT_EQUAL(st.nisr, 1);
    bk_md_free(md);
}

static void test_shrink_and_keep(void)
{
    const int32_t live[] = {1, 3}, reps[] = {1, 2, 3}, isr[] = {1, 2, 3};
    bk_md *md = picture(live, 2, reps, 3, 1, isr, 3);
    bk_zkc_pstate st;
    CU_ASSERT_EQUAL(run(md, false, &st), BK_CTRL_SHRINK);
    CU_ASSERT_EQUAL(st.leader, 1);
    CU_ASSERT_EQUAL(st.leader_epoch, 5);
    CU_ASSERT_EQUAL(st.nisr, 2);
    CU_ASSERT_EQUAL(st.isr[0], 1);
    CU_ASSERT_EQUAL(st.isr[1], 3);
    bk_md_free(md);
    /* Everyone alive: nothing to do. */
    const int32_t all[] = {1, 2, 3};
    md = picture(all, 3, reps, 3, 1, isr, 3);
    CU_ASSERT_EQUAL(run(md, false, &st), BK_CTRL_KEEP);
    bk_md_free(md);
    /* No state znode yet: not the controller's to invent here. */
    md = bk_md_new();
    int32_t *r[1] = {(int32_t *)reps};
    size_t nr[1] = {3};
    CU_ASSERT_EQUAL_FATAL(bk_md_set_topic(md, "t", 1, r, nr), 0);
    CU_ASSERT_EQUAL(run(md, false, &st), BK_CTRL_KEEP);
    bk_md_free(md);
}

static bk_ctrl_decision run_shut(bk_md *md, const int32_t *shut, size_t n,
                                 bk_zkc_pstate *out)
{
    return bk_ctrl_plan(md, bk_md_part_find(md, "t", 0), false, 9, shut, n,
                        out);
}

static void test_shutdown_moves_leader(void)
{
    /* Leader 1 is shutting down: leadership goes to the first other live
     * ISR member in assignment order (3 before 2), 1 leaves the ISR. */
    const int32_t live[] = {1, 2, 3}, reps[] = {1, 3, 2}, isr[] = {1, 2, 3};
    const int32_t shut[] = {1};
    bk_md *md = picture(live, 3, reps, 3, 1, isr, 3);
    bk_zkc_pstate st;
    CU_ASSERT_EQUAL(run_shut(md, shut, 1, &st), BK_CTRL_ELECT);
    CU_ASSERT_EQUAL(st.leader, 3);
    CU_ASSERT_EQUAL(st.leader_epoch, 6);
    CU_ASSERT_EQUAL(st.controller_epoch, 9);
    CU_ASSERT_EQUAL_FATAL(st.nisr, 2);
    CU_ASSERT_EQUAL(st.isr[0], 2);
    CU_ASSERT_EQUAL(st.isr[1], 3);
    bk_md_free(md);
    /* 3 is shutting down too and 2 is not in the ISR: nobody can take
     * over, 1 keeps leading (the partition stays available). */
    const int32_t isr2[] = {1, 3}, shut2[] = {1, 3};
    md = picture(live, 3, reps, 3, 1, isr2, 2);
    CU_ASSERT_EQUAL(run_shut(md, shut2, 2, &st), BK_CTRL_KEEP);
    bk_md_free(md);
    /* The same, with a dead follower: only it leaves the ISR. */
    const int32_t live3[] = {1, 3}, isr3[] = {1, 2, 3};
    md = picture(live3, 2, reps, 3, 1, isr3, 3);
    CU_ASSERT_EQUAL(run_shut(md, shut2, 2, &st), BK_CTRL_SHRINK);
    CU_ASSERT_EQUAL(st.leader, 1);
    CU_ASSERT_EQUAL(st.leader_epoch, 5);
    CU_ASSERT_EQUAL_FATAL(st.nisr, 2);
    CU_ASSERT_EQUAL(st.isr[0], 1);
    CU_ASSERT_EQUAL(st.isr[1], 3);
    bk_md_free(md);
}

static bk_ctrl_decision run_cshut(bk_md *md, const int32_t *shut, size_t n,
                                  bk_zkc_pstate *out)
{
    return bk_ctrl_plan_shutdown(md, bk_md_part_find(md, "t", 0), 9, shut, n,
                                 out);
}

static void test_shutdown_follower_leaves_isr(void)
{
    /* Follower 2 is shutting down: when the shutdown is asked for it
     * leaves the ISR, leader and leader epoch stay; the regular pass
     * leaves it alone (its leader may take it back while it fetches). */
    const int32_t live[] = {1, 2, 3}, reps[] = {1, 2, 3}, isr[] = {1, 2, 3};
    const int32_t shut[] = {2};
    bk_md *md = picture(live, 3, reps, 3, 1, isr, 3);
    bk_zkc_pstate st;
    CU_ASSERT_EQUAL(run_shut(md, shut, 1, &st), BK_CTRL_KEEP);
    CU_ASSERT_EQUAL(run_cshut(md, shut, 1, &st), BK_CTRL_SHRINK);
    CU_ASSERT_EQUAL(st.controller_epoch, 9);
    CU_ASSERT_EQUAL(st.leader, 1);
    CU_ASSERT_EQUAL(st.leader_epoch, 5);
    CU_ASSERT_EQUAL_FATAL(st.nisr, 2);
    CU_ASSERT_EQUAL(st.isr[0], 1);
    CU_ASSERT_EQUAL(st.isr[1], 3);
    bk_md_free(md);
    /* Already out of the ISR: nothing to do. */
    const int32_t isr2[] = {1, 3};
    md = picture(live, 3, reps, 3, 1, isr2, 2);
    CU_ASSERT_EQUAL(run_shut(md, shut, 1, &st), BK_CTRL_KEEP);
    CU_ASSERT_EQUAL(run_cshut(md, shut, 1, &st), BK_CTRL_KEEP);
    bk_md_free(md);
    /* A shutting-down or dead leader is not this function's business. */
    const int32_t shut12[] = {1, 2};
    md = picture(live, 3, reps, 3, 1, isr, 3);
    CU_ASSERT_EQUAL(run_cshut(md, shut12, 2, &st), BK_CTRL_KEEP);
    bk_md_free(md);
    const int32_t live23[] = {2, 3};
    md = picture(live23, 2, reps, 3, 1, isr, 3);
    CU_ASSERT_EQUAL(run_cshut(md, shut, 1, &st), BK_CTRL_KEEP);
    bk_md_free(md);
}

static void test_shutdown_never_elected(void)
{
    /* Leader 1 died; 2 (first in assignment order) is shutting down:
     * 3 is elected and 2 leaves the ISR. */
    const int32_t live[] = {2, 3}, reps[] = {2, 1, 3}, isr[] = {1, 2, 3};
    const int32_t shut[] = {2};
    bk_md *md = picture(live, 2, reps, 3, 1, isr, 3);
    bk_zkc_pstate st;
    CU_ASSERT_EQUAL(run_shut(md, shut, 1, &st), BK_CTRL_ELECT);
    CU_ASSERT_EQUAL(st.leader, 3);
    CU_ASSERT_EQUAL(st.leader_epoch, 6);
    CU_ASSERT_EQUAL_FATAL(st.nisr, 1);
    CU_ASSERT_EQUAL(st.isr[0], 3);
    bk_md_free(md);
    /* Only the shutting-down 2 is left in sync: offline, and the ISR
     * keeps the dead leader and 2 (both elected when they return). */
    const int32_t isr2[] = {1, 2};
    md = picture(live, 2, reps, 3, 1, isr2, 2);
    CU_ASSERT_EQUAL(run_shut(md, shut, 1, &st), BK_CTRL_OFFLINE);
    CU_ASSERT_EQUAL(st.leader, -1);
    CU_ASSERT_EQUAL(st.leader_epoch, 6);
    CU_ASSERT_EQUAL_FATAL(st.nisr, 2);
    CU_ASSERT_EQUAL(st.isr[0], 1);
    CU_ASSERT_EQUAL(st.isr[1], 2);
    bk_md_free(md);
    /* Unclean election skips it as well. */
    const int32_t isr3[] = {1};
    md = picture(live, 2, reps, 3, 1, isr3, 1);
    CU_ASSERT_EQUAL(
        bk_ctrl_plan(md, bk_md_part_find(md, "t", 0), true, 9, shut, 1, &st),
        BK_CTRL_ELECT);
    CU_ASSERT_EQUAL(st.leader, 3);
    bk_md_free(md);
}

static bk_ctrl_decision run_pref(bk_md *md, const int32_t *shut, size_t n,
                                 bk_zkc_pstate *out)
{
    return bk_ctrl_plan_preferred(md, bk_md_part_find(md, "t", 0), 9, shut, n,
                                  out);
}

static void test_preferred(void)
{
    const int32_t live[] = {1, 2, 3}, reps[] = {1, 2, 3}, isr[] = {2, 3, 1};
    bk_md *md = picture(live, 3, reps, 3, 2, isr, 3);
    bk_zkc_pstate st;
    CU_ASSERT_EQUAL(run_pref(md, NULL, 0, &st), BK_CTRL_ELECT);
    CU_ASSERT_EQUAL(st.leader, 1);
    CU_ASSERT_EQUAL(st.leader_epoch, 6);
    CU_ASSERT_EQUAL(st.controller_epoch, 9);
    CU_ASSERT_EQUAL_FATAL(st.nisr, 3); /* the ISR is not touched */
    CU_ASSERT_EQUAL(st.isr[0], 2);
    CU_ASSERT_EQUAL(st.isr[1], 3);
    CU_ASSERT_EQUAL(st.isr[2], 1);
    /* Shutting down: not elected. */
    const int32_t shut[] = {1};
    CU_ASSERT_EQUAL(run_pref(md, shut, 1, &st), BK_CTRL_KEEP);
    bk_md_free(md);
    /* Not in the ISR, or not alive: not elected. */
    const int32_t isr2[] = {2, 3};
    md = picture(live, 3, reps, 3, 2, isr2, 2);
    CU_ASSERT_EQUAL(run_pref(md, NULL, 0, &st), BK_CTRL_KEEP);
    bk_md_free(md);
    const int32_t live2[] = {2, 3};
    md = picture(live2, 2, reps, 3, 2, isr, 3);
    CU_ASSERT_EQUAL(run_pref(md, NULL, 0, &st), BK_CTRL_KEEP);
    bk_md_free(md);
    /* Already the leader: nothing to do. */
    md = picture(live, 3, reps, 3, 1, isr, 3);
    CU_ASSERT_EQUAL(run_pref(md, NULL, 0, &st), BK_CTRL_KEEP);
    bk_md_free(md);
}

static void test_imbalance(void)
{
    /* Four partitions preferring 1 (two led by 2), one preferring 2. */
    bk_md *md = bk_md_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    int32_t a[] = {1, 2}, b[] = {2, 1};
    int32_t *reps[5] = {a, a, a, a, b};
    size_t nr[5] = {2, 2, 2, 2, 2};
    CU_ASSERT_EQUAL_FATAL(bk_md_set_topic(md, "t", 5, reps, nr), 0);
    const int32_t leaders[5] = {1, 2, 2, 1, 2};
    for (int p = 0; p < 5; p++)
        CU_ASSERT_EQUAL_FATAL(
            bk_md_set_state(md, "t", p, leaders[p], 0, 1, 0, a, 2), 0);
    size_t elsewhere, preferred;
    bk_ctrl_imbalance(md, 1, &elsewhere, &preferred);
    CU_ASSERT_EQUAL(preferred, 4);
    CU_ASSERT_EQUAL(elsewhere, 2);
    bk_ctrl_imbalance(md, 2, &elsewhere, &preferred);
    CU_ASSERT_EQUAL(preferred, 1);
    CU_ASSERT_EQUAL(elsewhere, 0);
    bk_ctrl_imbalance(md, 3, &elsewhere, &preferred);
    CU_ASSERT_EQUAL(preferred, 0);
    /* A topic being deleted does not count. */
    bk_md_set_deleting(md, "t", true);
    bk_ctrl_imbalance(md, 1, &elsewhere, &preferred);
    CU_ASSERT_EQUAL(preferred, 0);
    CU_ASSERT_EQUAL(elsewhere, 0);
    bk_md_free(md);
}

static CU_TestInfo tests[] = {
    {"leader dies: first ISR member alive, in assignment order",
     test_elect_from_isr},
    {"no live ISR member: offline, the ISR keeps the dead leader",
     test_offline_keeps_leader},
    {"unclean election: any live replica, only when allowed", test_unclean},
    {"offline partition: waits for an ISR member, then elects it",
     test_offline_stays_then_returns},
    {"dead followers leave the ISR; nothing changes otherwise",
     test_shrink_and_keep},
    {"controlled shutdown: leadership moves to another ISR member",
     test_shutdown_moves_leader},
    {"controlled shutdown: a follower leaves the ISR",
     test_shutdown_follower_leaves_isr},
    {"controlled shutdown: never elected, kept in an offline ISR",
     test_shutdown_never_elected},
    {"preferred leader: only when live, in sync and staying", test_preferred},
    {"leader imbalance per broker", test_imbalance},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite("controller-plan", tests);
}
