/*
 * test_controller.c -- the controller (broker/controller.c) on a real
 * ZooKeeper with three brookd processes (zookeeper.session.timeout.ms is
 * 6000 in the harness):
 *   - election: exactly one controller, and every broker names it in
 *     Metadata;
 *   - controller SIGKILLed: another broker holds /controller within the
 *     session timeout + 1 s, with /controller_epoch increased;
 *   - controller SIGTERMed: a new one at once (its session is closed);
 *   - controller SIGSTOPped past its session timeout: replaced; woken up,
 *     it finds its session expired and stays deposed (same epoch);
 *   - partition leader SIGKILLed (RF=3): a new leader from the ISR with
 *     leader_epoch + 1 within session timeout + 1 s, the dead broker out
 *     of every ISR, Metadata of a live broker naming the new leader, the
 *     new leader accepting produce and a follower answering
 *     NOT_LEADER_FOR_PARTITION;
 *   - unclean election off (RF=2): follower Y dies (ISR shrinks to the
 *     leader X), X dies: the partition goes offline (leader -1, ISR {X})
 *     and stays offline when the stale Y returns; X returns: leader again;
 *   - unclean election on for a topic: the same sequence elects Y.
 */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"
#include "proto/protocol.h"
#include "tests/integration/brokertest.h"
#include "tests/unit/cu_main.h"

#define SESSION_MS 6000

static bk_h_cluster *cl;
static bk_zk *zk; /* the test's own session */

static int suite_init(void)
{
    cl = bk_h_cluster_start("ctrl", 1, 3, NULL);
    if (!cl)
        return 1;
    bk_zk_opts o = {.connect = cl->zk_connect,
                    .session_timeout_ms = 6000,
                    .connect_timeout_ms = 5000};
    char err[256];
    if (bk_zk_open(&o, &zk, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    return 0;
}

static int suite_clean(void)
{
    int bad = cl ? bk_h_cluster_log_problems(cl) : 0;
    bk_zk_close(zk);
    bk_h_cluster_stop(cl);
    return bad ? 1 : 0;
}

/* ------------------------------- helpers ------------------------------- */

/* The broker id in /controller, or -1. */
static int controller_id(void)
{
    bk_buf b = BK_BUF_INIT;
    int32_t id = -1;
    char err[128];
    if (bk_zk_get(zk, BK_ZKC_CONTROLLER, &b, NULL, NULL, NULL) != 0 ||
        bk_zkc_controller_decode(b.data, b.len, &id, err, sizeof err) != 0)
        id = -1;
    bk_buf_free(&b);
    return id;
}

static int32_t controller_epoch(void)
{
    int32_t e = -1;
    if (bk_zkd_controller_epoch_read(zk, &e, NULL) != 0)
        return -1;
    return e;
}

/* Waits for a controller other than `not` (and not -1); its id or -1. */
static int wait_controller(int not, int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms();
    do {
        int id = controller_id();
        if (id >= 0 && id != not )
            return id;
        bk_h_sleep_ms(20);
    } while (bk_clock_mono_ms() - t0 < timeout_ms);
    return -1;
}

static bool read_state(const char *topic, int p, bk_zkc_pstate *st)
{
    return bk_zkd_pstate_read(zk, topic, p, st, NULL) == 0;
}

static bool isr_has(const bk_zkc_pstate *st, int id)
{
    for (int i = 0; i < st->nisr; i++)
        if (st->isr[i] == id)
            return true;
    return false;
}

/* Index of the broker with this id (ids are index + 1). */
static int idx(int id)
{
    CU_ASSERT_FATAL(id >= 1 && id <= cl->n);
    return id - 1;
}

static void restart(int id)
{
    CU_ASSERT_EQUAL(bk_h_broker_start(cl, idx(id), true), 0);
}

/* Waits until every broker's Metadata names `id` as controller. */
static bool all_name_controller(int id, int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms();
    do {
        int agree = 0;
        for (int i = 0; i < cl->n; i++) {
            if (!cl->broker[i].pid)
                continue;
            int fd = bk_h_connect(cl->broker[i].port);
            Brook__Response *r = fd >= 0 ? bt_metadata(fd, NULL, false) : NULL;
            if (fd >= 0)
                close(fd);
            if (r && r->metadata && r->metadata->controller_id == id)
                agree++;
            if (r)
                brook__response__free_unpacked(r, NULL);
        }
        if (agree == cl->n)
            return true;
        bk_h_sleep_ms(50);
    } while (bk_clock_mono_ms() - t0 < timeout_ms);
    return false;
}

static void create_topic(const char *name, int parts, int rf,
                         const char *const *cfg)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL_FATAL(bt_create_topic_cfg(fd, name, parts, rf, cfg), 0);
    close(fd);
    for (int i = 0; i < cl->n; i++)
        CU_ASSERT_EQUAL_FATAL(bk_h_wait_topic(cl, i, name, parts, 10000), 0);
}

/* -------------------------------- tests -------------------------------- */

static void test_one_controller(void)
{
    int id = wait_controller(-1, 5000);
    CU_ASSERT_FATAL(id >= 1 && id <= 3);
    CU_ASSERT(controller_epoch() >= 1);
    CU_ASSERT_TRUE(all_name_controller(id, 5000));
    /* Only the winner ever became controller. */
    int winners = 0;
    for (int i = 0; i < cl->n; i++) {
        char log[600];
        snprintf(log, sizeof log, "%s/out.log", cl->broker[i].dir);
        winners += bt_file_contains(log, "is the controller");
    }
    CU_ASSERT_EQUAL(winners, 1);
}

static void test_controller_sigkill(void)
{
    int old = wait_controller(-1, 5000);
    CU_ASSERT_FATAL(old >= 1);
    int32_t e0 = controller_epoch();
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(old), SIGKILL) >= 0);
    int64_t t0 = bk_clock_mono_ms();
    int now = wait_controller(old, SESSION_MS + 1000);
    int64_t took = bk_clock_mono_ms() - t0;
    printf("\n    controller %d SIGKILLed: broker %d is controller after "
           "%lld ms (epoch %d -> %d)\n",
           old, now, (long long)took, e0, controller_epoch());
    CU_ASSERT(now >= 1 && now != old);
    CU_ASSERT(controller_epoch() > e0);
    restart(old);
    CU_ASSERT_EQUAL(controller_id(), now); /* the returning one waits */
    CU_ASSERT_TRUE(all_name_controller(now, 5000));
}

static void test_controller_sigterm(void)
{
    int old = wait_controller(-1, 5000);
    CU_ASSERT_FATAL(old >= 1);
    int32_t e0 = controller_epoch();
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(old), SIGTERM) >= 0);
    int now = wait_controller(old, 3000);
    int64_t took = bk_clock_mono_ms() - t0;
    printf("\n    controller %d SIGTERMed: broker %d is controller after "
           "%lld ms\n",
           old, now, (long long)took);
    CU_ASSERT(now >= 1 && now != old);
    CU_ASSERT(controller_epoch() > e0);
    restart(old);
    CU_ASSERT_TRUE(all_name_controller(now, 5000));
}

static void test_controller_sigstop(void)
{
    /* A zombie controller: frozen past its session timeout, replaced, then
     * woken up.  It must notice it lost the session and stay deposed. */
    int old = wait_controller(-1, 5000);
    CU_ASSERT_FATAL(old >= 1);
    int32_t e0 = controller_epoch();
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(old), SIGSTOP) == 0);
    int64_t t0 = bk_clock_mono_ms();
    int now = wait_controller(old, SESSION_MS + 2000);
    printf("\n    controller %d SIGSTOPped: broker %d is controller after "
           "%lld ms\n",
           old, now, (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT(now >= 1 && now != old);
    int32_t e1 = controller_epoch();
    CU_ASSERT(e1 > e0);
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(old), SIGCONT) == 0);
    /* It re-registers (new session) and loses the race to the holder. */
    char log[600];
    snprintf(log, sizeof log, "%s/out.log", cl->broker[idx(old)].dir);
    t0 = bk_clock_mono_ms();
    while (!bt_file_contains(log, "no longer the controller") &&
           bk_clock_mono_ms() - t0 < 10000)
        bk_h_sleep_ms(50);
    CU_ASSERT_TRUE(bt_file_contains(log, "no longer the controller"));
    CU_ASSERT_TRUE(all_name_controller(now, 10000));
    CU_ASSERT_EQUAL(controller_id(), now);
    CU_ASSERT_EQUAL(controller_epoch(), e1);
}

static void test_leader_sigkill(void)
{
    create_topic("fo", 3, 3, NULL);
    bk_zkc_pstate before[3], st;
    for (int p = 0; p < 3; p++)
        CU_ASSERT_FATAL(read_state("fo", p, &before[p]));
    int dead = before[0].leader;
    CU_ASSERT_FATAL(dead >= 1);
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(dead), SIGKILL) >= 0);
    int64_t t0 = bk_clock_mono_ms();
    bool moved = false;
    while (!moved && bk_clock_mono_ms() - t0 < SESSION_MS + 1000) {
        moved = read_state("fo", 0, &st) && st.leader >= 0 && st.leader != dead;
        if (!moved)
            bk_h_sleep_ms(20);
    }
    int64_t took = bk_clock_mono_ms() - t0;
    printf("\n    leader %d SIGKILLed: fo-0 led by %d after %lld ms\n", dead,
           st.leader, (long long)took);
    CU_ASSERT_FATAL(moved);
    CU_ASSERT_TRUE(isr_has(&before[0], st.leader));
    CU_ASSERT_EQUAL(st.leader_epoch, before[0].leader_epoch + 1);
    CU_ASSERT(st.controller_epoch >= 1);
    /* Every partition is led by a live broker and the dead one is in no
     * ISR (it was a follower of the partitions it did not lead). */
    for (int p = 0; p < 3; p++) {
        bk_zkc_pstate s;
        CU_ASSERT_FATAL(read_state("fo", p, &s));
        CU_ASSERT(s.leader >= 1 && s.leader != dead);
        CU_ASSERT_FALSE(isr_has(&s, dead));
        CU_ASSERT_EQUAL(s.nisr, 2);
        if (before[p].leader != dead)
            CU_ASSERT_EQUAL(s.leader_epoch, before[p].leader_epoch);
    }
    /* Metadata of the live brokers names the new leader. */
    int leader = st.leader, follower = -1;
    for (int id = 1; id <= 3; id++) {
        if (id == dead)
            continue;
        if (id != leader)
            follower = id;
        int64_t t1 = bk_clock_mono_ms();
        while (bt_leader(cl->broker[idx(id)].port, "fo", 0) != leader &&
               bk_clock_mono_ms() - t1 < 3000)
            bk_h_sleep_ms(20);
        CU_ASSERT_EQUAL(bt_leader(cl->broker[idx(id)].port, "fo", 0), leader);
    }
    /* The new leader serves; the other live broker refuses. */
    int fd = bk_h_connect(cl->broker[idx(leader)].port);
    CU_ASSERT_EQUAL(bt_produce(fd, "fo", 0, 1, "after", 0, 3, NULL), 0);
    close(fd);
    fd = bk_h_connect(cl->broker[idx(follower)].port);
    CU_ASSERT_EQUAL(bt_produce(fd, "fo", 0, 1, "wrong", 0, 1, NULL),
                    BK_ERR_NOT_LEADER_FOR_PARTITION);
    close(fd);
    restart(dead);
}

/* RF=2 on replicas {x, y}: y dies, then x; y returns; then x. */
static void stale_replica_case(const char *topic, bool unclean)
{
    static const char *const on[] = {"unclean.leader.election.enable", "true",
                                     NULL};
    create_topic(topic, 1, 2, unclean ? on : NULL);
    bk_zkc_pstate st;
    CU_ASSERT_FATAL(read_state(topic, 0, &st));
    CU_ASSERT_EQUAL_FATAL(st.nisr, 2);
    int x = st.leader, y = st.isr[0] == x ? st.isr[1] : st.isr[0];
    /* y dies: the ISR shrinks to {x}, x stays leader. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(y), SIGKILL) >= 0);
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < SESSION_MS + 1000 &&
           !(read_state(topic, 0, &st) && st.nisr == 1))
        bk_h_sleep_ms(20);
    CU_ASSERT_EQUAL_FATAL(st.nisr, 1);
    CU_ASSERT_EQUAL(st.isr[0], x);
    CU_ASSERT_EQUAL(st.leader, x);
    /* Records y never sees. */
    int fd = bk_h_connect(cl->broker[idx(x)].port);
    CU_ASSERT_EQUAL(bt_produce(fd, topic, 0, 1, "only-x", 0, 5, NULL), 0);
    close(fd);
    /* x dies: offline, the ISR keeps x. */
    int32_t e0 = st.leader_epoch;
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(x), SIGKILL) >= 0);
    t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < SESSION_MS + 1000 &&
           !(read_state(topic, 0, &st) && st.leader != x))
        bk_h_sleep_ms(20);
    CU_ASSERT_EQUAL(st.leader, -1);
    CU_ASSERT_EQUAL(st.leader_epoch, e0 + 1);
    CU_ASSERT_EQUAL_FATAL(st.nisr, 1);
    CU_ASSERT_EQUAL(st.isr[0], x);
    /* The stale y returns. */
    restart(y);
    t0 = bk_clock_mono_ms();
    if (unclean) {
        while (bk_clock_mono_ms() - t0 < 5000 &&
               !(read_state(topic, 0, &st) && st.leader == y))
            bk_h_sleep_ms(20);
        printf("\n    unclean on: stale replica %d elected after %lld ms\n", y,
               (long long)(bk_clock_mono_ms() - t0));
        CU_ASSERT_EQUAL(st.leader, y);
        CU_ASSERT_EQUAL(st.nisr, 1);
        CU_ASSERT_EQUAL(st.isr[0], y);
        restart(x);
        return;
    }
    bk_h_sleep_ms(2000);
    CU_ASSERT_TRUE(read_state(topic, 0, &st));
    CU_ASSERT_EQUAL(st.leader, -1);
    CU_ASSERT_EQUAL(bt_leader(cl->broker[idx(y)].port, topic, 0), -1);
    fd = bk_h_connect(cl->broker[idx(y)].port);
    CU_ASSERT_NOT_EQUAL(bt_produce(fd, topic, 0, 1, "stale", 0, 1, NULL), 0);
    close(fd);
    /* x returns: it leads again, with all its records. */
    restart(x);
    t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < 5000 &&
           !(read_state(topic, 0, &st) && st.leader == x))
        bk_h_sleep_ms(20);
    printf("\n    unclean off: offline until %d returned; leader again "
           "%lld ms after its restart\n",
           x, (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_EQUAL(st.leader, x);
    CU_ASSERT_EQUAL(st.leader_epoch, e0 + 2);
    int64_t t1 = bk_clock_mono_ms();
    while (bt_leader(cl->broker[idx(x)].port, topic, 0) != x &&
           bk_clock_mono_ms() - t1 < 3000)
        bk_h_sleep_ms(20);
    fd = bk_h_connect(cl->broker[idx(x)].port);
    bt_fetch_res r;
    bt_fetch_all(fd, topic, 0, &r);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT(r.nrecs >= 5);
    if (r.nrecs >= 1)
        CU_ASSERT_STRING_EQUAL(r.recs[0].value, "only-x-0");
    bt_fetch_free(&r);
    close(fd);
}

static void test_unclean_off(void)
{
    stale_replica_case("uc-off", false);
}

static void test_unclean_on(void)
{
    stale_replica_case("uc-on", true);
}

static CU_TestInfo election_tests[] = {
    {"exactly one controller, named by every broker", test_one_controller},
    {"controller SIGKILL: a new one within session timeout + 1 s",
     test_controller_sigkill},
    {"controller SIGTERM: a new one at once", test_controller_sigterm},
    {"controller SIGSTOPped past its session: replaced, stays deposed",
     test_controller_sigstop},
    {"leader SIGKILL: new leader from the ISR, epoch + 1", test_leader_sigkill},
    {"unclean election off: offline until an ISR member returns",
     test_unclean_off},
    {"unclean election on: a stale replica is elected", test_unclean_on},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_logging_set_level(BK_LVL_WARN);
    bk_test_add_suite_fn("controller", election_tests, suite_init, suite_clean);
}
