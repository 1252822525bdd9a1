/*
 * test_admin_ops.c -- the controller's admin work (broker/controller.c)
 * on a real ZooKeeper with three brookd processes, every outcome read
 * back from ZooKeeper:
 *   - preferred-leader election by `brookctl partitions elect-leaders
 *     --wait`: the preferred leader is killed and restarted, leadership
 *     stays away until the election brings it back (leader_epoch + 1);
 *     records produced before, between and after are all readable;
 *   - an election where nothing is to be done writes nothing;
 *   - brookctl's side: refused while a request is pending, the request
 *     written in Kafka's JSON, --wait giving up without a controller,
 *     usage errors;
 *   - controlled shutdown through the ControlledShutdown request: the
 *     broker's leaderships move to other ISR members (leader_epoch + 1),
 *     it leaves every ISR, is not elected while marked, and is a normal
 *     broker again once it registers anew;
 *   - /isr_change_notification entries (a leader's ISR expansion, and one
 *     written by the test) are consumed by the controller;
 *   - a topic deletion interrupted half-way (mark left, znodes partly
 *     gone) is finished by the controller, local logs included;
 *   - auto.leader.rebalance.enable with leader.imbalance.check.interval.
 *     seconds=1 (second cluster): leadership returns to the restarted
 *     preferred replica by itself.
 */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
static bk_zk *zk; /* the test's own session, in the cluster's chroot */

static int open_zk(const char *connect, bk_zk **out)
{
    bk_zk_opts o = {.connect = connect,
                    .session_timeout_ms = 6000,
                    .connect_timeout_ms = 5000};
    char err[256];
    if (bk_zk_open(&o, out, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    return 0;
}

static int start(const char *name, const char *props)
{
    cl = bk_h_cluster_start(name, 1, 3, props);
    if (!cl)
        return 1;
    return open_zk(cl->zk_connect, &zk);
}

static int stop(void)
{
    int bad = cl ? bk_h_cluster_log_problems(cl) : 0;
    bk_zk_close(zk);
    zk = NULL;
    bk_h_cluster_stop(cl);
    cl = NULL;
    return bad ? 1 : 0;
}

/* Elections only on request in the first suite. */
static int admin_init(void)
{
    return start("admin", "auto.leader.rebalance.enable=false\n");
}

static int rebalance_init(void)
{
    return start("rebalance", "leader.imbalance.check.interval.seconds=1\n");
}

/* ------------------------------- helpers ------------------------------- */

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

/* The preferred replica (first in the assignment) of topic/p, or -1. */
static int preferred(const char *topic, int p)
{
    bk_zkc_assignment a;
    if (bk_zkd_topic_read(zk, topic, &a, NULL) != 0)
        return -1;
    const bk_zkc_part *pp = bk_zkc_assignment_find(&a, p);
    int id = pp && pp->nreplicas > 0 ? pp->replicas[0] : -1;
    bk_zkc_assignment_free(&a);
    return id;
}

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

static bool exists(const char *path)
{
    return bk_zk_exists(zk, path, NULL, NULL, NULL) == 0;
}

static int children(const char *path)
{
    bk_zk_strings s = {0};
    if (bk_zk_children(zk, path, &s, NULL, NULL) != 0)
        return -1;
    int n = (int)s.n;
    bk_zk_strings_free(&s);
    return n;
}

static int idx(int id)
{
    CU_ASSERT_FATAL(id >= 1 && id <= cl->n);
    return id - 1;
}

static void create_topic(const char *name, int parts, int rf)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL_FATAL(bt_create_topic(fd, name, parts, rf), 0);
    close(fd);
    for (int i = 0; i < cl->n; i++)
        CU_ASSERT_EQUAL_FATAL(bk_h_wait_topic(cl, i, name, parts, 10000), 0);
}

/* Waits until topic/p's state satisfies cond (re-read every 20 ms). */
typedef bool state_cond(const bk_zkc_pstate *st, int arg);

static bool wait_state(const char *topic, int p, state_cond *cond, int arg,
                       int timeout_ms, bk_zkc_pstate *st)
{
    int64_t t0 = bk_clock_mono_ms();
    do {
        if (read_state(topic, p, st) && cond(st, arg))
            return true;
        bk_h_sleep_ms(20);
    } while (bk_clock_mono_ms() - t0 < timeout_ms);
    return false;
}

static bool led_by(const bk_zkc_pstate *st, int id)
{
    return st->leader == id;
}

static bool led_by_other(const bk_zkc_pstate *st, int id)
{
    return st->leader >= 0 && st->leader != id;
}

static bool in_isr(const bk_zkc_pstate *st, int id)
{
    return isr_has(st, id);
}

static bool isr_size(const bk_zkc_pstate *st, int n)
{
    return st->nisr == n;
}

/* Produces n records tag-first.. with acks=all to the current leader of
 * topic/p, retrying while leadership settles.  0 or the last error. */
static int produce(const char *topic, int p, const char *tag, int first, int n)
{
    int err = -1;
    int64_t t0 = bk_clock_mono_ms();
    do {
        bk_zkc_pstate st;
        if (read_state(topic, p, &st) && st.leader >= 1) {
            int fd = bk_h_connect(cl->broker[idx(st.leader)].port);
            if (fd >= 0) {
                err = bt_produce(fd, topic, p, -1, tag, first, n, NULL);
                close(fd);
            }
            if (err == 0)
                return 0;
        }
        bk_h_sleep_ms(100);
    } while (bk_clock_mono_ms() - t0 < 10000);
    return err;
}

/* Every record of topic/p from its leader, expecting `want` of them. */
static void fetch_all(const char *topic, int p, size_t want, bt_fetch_res *r)
{
    int64_t t0 = bk_clock_mono_ms();
    memset(r, 0, sizeof *r);
    do {
        bt_fetch_free(r);
        memset(r, 0, sizeof *r);
        bk_zkc_pstate st;
        if (read_state(topic, p, &st) && st.leader >= 1) {
            int fd = bk_h_connect(cl->broker[idx(st.leader)].port);
            if (fd >= 0) {
                bt_fetch_all(fd, topic, p, r);
                close(fd);
            }
            if (r->error == 0 && r->nrecs >= want)
                return;
        }
        bk_h_sleep_ms(100);
    } while (bk_clock_mono_ms() - t0 < 10000);
}

static void restart(int id)
{
    CU_ASSERT_EQUAL(bk_h_broker_start(cl, idx(id), true), 0);
}

/* ------------------------- preferred election ------------------------- */

static void test_elect_by_brookctl(void)
{
    create_topic("pe", 1, 3);
    int pref = preferred("pe", 0);
    CU_ASSERT_FATAL(pref >= 1);
    bk_zkc_pstate st;
    CU_ASSERT_FATAL(wait_state("pe", 0, led_by, pref, 5000, &st));
    CU_ASSERT_EQUAL(produce("pe", 0, "before", 0, 10), 0);
    /* The preferred leader dies: another ISR member takes over. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(pref), SIGKILL) >= 0);
    CU_ASSERT_FATAL(
        wait_state("pe", 0, led_by_other, pref, SESSION_MS + 2000, &st));
    int other = st.leader;
    int32_t e1 = st.leader_epoch;
    restart(pref);
    CU_ASSERT_FATAL(wait_state("pe", 0, in_isr, pref, 15000, &st));
    /* Back in sync, but nothing moves leadership back by itself here
     * (auto.leader.rebalance.enable=false). */
    bk_h_sleep_ms(1500);
    CU_ASSERT_TRUE(read_state("pe", 0, &st));
    CU_ASSERT_EQUAL(st.leader, other);
    CU_ASSERT_EQUAL(st.leader_epoch, e1);
    CU_ASSERT_EQUAL(produce("pe", 0, "mid", 0, 5), 0);
    char out[4096];
    const char *args[] = {"partitions", "elect-leaders", "--topic",
                          "pe",         "--wait",        NULL};
    int64_t t0 = bk_clock_mono_ms();
    int rc = bk_h_brookctl(cl, out, sizeof out, args);
    printf("\n    elect-leaders --wait took %lld ms: %s",
           (long long)(bk_clock_mono_ms() - t0), out);
    CU_ASSERT_EQUAL(rc, 0);
    char line[128];
    snprintf(line, sizeof line, "Topic: pe\tPartition: 0\tLeader: %d\t", pref);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, line));
    CU_ASSERT_TRUE(read_state("pe", 0, &st));
    CU_ASSERT_EQUAL(st.leader, pref);
    CU_ASSERT_EQUAL(st.leader_epoch, e1 + 1);
    CU_ASSERT_EQUAL(st.nisr, 3);
    CU_ASSERT_FALSE(exists(BK_ZKC_PREFERRED));
    CU_ASSERT_EQUAL(produce("pe", 0, "after", 0, 10), 0);
    /* Every record, in order, from the preferred leader. */
    bt_fetch_res r;
    fetch_all("pe", 0, 25, &r);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL_FATAL(r.nrecs, 25);
    char want[64];
    for (size_t i = 0; i < r.nrecs; i++) {
        if (i < 10)
            snprintf(want, sizeof want, "before-%zu", i);
        else if (i < 15)
            snprintf(want, sizeof want, "mid-%zu", i - 10);
        else
            snprintf(want, sizeof want, "after-%zu", i - 15);
        CU_ASSERT_STRING_EQUAL(r.recs[i].value, want);
        CU_ASSERT_EQUAL(r.recs[i].offset, (int64_t)i);
    }
    bt_fetch_free(&r);
}

static void test_elect_nothing_to_do(void)
{
    /* Every partition of every topic is led by its preferred replica:
     * the election completes and writes nothing. */
    bk_zkc_pstate before, after;
    CU_ASSERT_FATAL(read_state("pe", 0, &before));
    CU_ASSERT_EQUAL_FATAL(before.leader, preferred("pe", 0));
    char out[4096];
    const char *args[] = {"partitions", "elect-leaders", "--wait", NULL};
    CU_ASSERT_EQUAL(bk_h_brookctl(cl, out, sizeof out, args), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Topic: pe\tPartition: 0\t"));
    CU_ASSERT_PTR_NULL(strstr(out, "not available"));
    CU_ASSERT_TRUE(read_state("pe", 0, &after));
    CU_ASSERT_EQUAL(after.leader, before.leader);
    CU_ASSERT_EQUAL(after.leader_epoch, before.leader_epoch);
    CU_ASSERT_FALSE(exists(BK_ZKC_PREFERRED));
}

static void test_elect_brookctl_side(void)
{
    /* A chroot without brokers: requests stay until deleted. */
    char connect[600];
    snprintf(connect, sizeof connect, "%s/noctl", cl->zk->connect);
    bk_zk *root;
    CU_ASSERT_EQUAL_FATAL(open_zk(cl->zk->connect, &root), 0);
    static const char asg[] = "{\"version\":1,\"partitions\":{\"0\":[1,2],"
                              "\"1\":[2,1]}}";
    CU_ASSERT_EQUAL_FATAL(bk_zk_create(root, "/noctl/brokers/topics/rt", asg,
                                       strlen(asg), BK_ZK_PARENTS, NULL, 0),
                          0);
    static const char pending[] =
        "{\"version\":1,\"partitions\":[{\"topic\":\"x\",\"partition\":0}]}";
    CU_ASSERT_EQUAL_FATAL(bk_zk_create(root, "/noctl" BK_ZKC_PREFERRED, pending,
                                       strlen(pending), BK_ZK_PARENTS, NULL, 0),
                          0);
    char out[4096];
    const char *refused[] = {"partitions", "elect-leaders", "--zookeeper",
                             connect, NULL};
    CU_ASSERT_EQUAL(bk_h_brookctl(cl, out, sizeof out, refused), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "already in progress"));
    CU_ASSERT_EQUAL(bk_zk_delete(root, "/noctl" BK_ZKC_PREFERRED, -1), 0);
    /* One partition: Kafka's JSON with exactly it. */
    const char *one[] = {"partitions",  "elect-leaders", "--topic",
                         "rt",          "--partition",   "1",
                         "--zookeeper", connect,         NULL};
    CU_ASSERT_EQUAL(bk_h_brookctl(cl, out, sizeof out, one), 0);
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(
        bk_zk_get(root, "/noctl" BK_ZKC_PREFERRED, &b, NULL, NULL, NULL), 0);
    bk_zkc_tp *v = NULL;
    size_t n = 0;
    char err[256];
    CU_ASSERT_EQUAL(
        bk_zkc_preferred_decode(b.data, b.len, &v, &n, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(v[0].topic, "rt");
    CU_ASSERT_EQUAL(v[0].partition, 1);
    free(v);
    bk_buf_free(&b);
    CU_ASSERT_EQUAL(bk_zk_delete(root, "/noctl" BK_ZKC_PREFERRED, -1), 0);
    /* No controller: --wait gives up after --timeout-ms. */
    const char *wait[] = {
        "partitions",   "elect-leaders", "--topic",     "rt",    "--wait",
        "--timeout-ms", "300",           "--zookeeper", connect, NULL};
    CU_ASSERT_EQUAL(bk_h_brookctl(cl, out, sizeof out, wait), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "still pending"));
    CU_ASSERT_EQUAL(bk_zk_delete(root, "/noctl" BK_ZKC_PREFERRED, -1), 0);
    /* Usage errors and unknown topics. */
    const char *nopart[] = {"partitions",  "elect-leaders", "--partition", "1",
                            "--zookeeper", connect,         NULL};
    CU_ASSERT_EQUAL(bk_h_brookctl(cl, out, sizeof out, nopart), 2);
    const char *unknown[] = {"partitions",  "elect-leaders", "--topic", "nope",
                             "--zookeeper", connect,         NULL};
    CU_ASSERT_EQUAL(bk_h_brookctl(cl, out, sizeof out, unknown), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "does not exist"));
    const char *badp[] = {"partitions",  "elect-leaders", "--topic",
                          "rt",          "--partition",   "7",
                          "--zookeeper", connect,         NULL};
    CU_ASSERT_EQUAL(bk_h_brookctl(cl, out, sizeof out, badp), 1);
    CU_ASSERT_FALSE(
        bk_zk_exists(root, "/noctl" BK_ZKC_PREFERRED, NULL, NULL, NULL) == 0);
    bk_zk_close(root);
}

/* -------------------------- controlled shutdown -------------------------- */

/* Sends ControlledShutdown(broker_id, broker_epoch) to port; the error
 * code or -1, *remaining set. */
static int controlled_shutdown_epoch(int port, int broker_id,
                                     int64_t broker_epoch, size_t *remaining)
{
    int fd = bk_h_connect(port);
    if (fd < 0)
        return -1;
    Brook__Request req = BROOK__REQUEST__INIT;
    Brook__ControlledShutdownRequest body =
        BROOK__CONTROLLED_SHUTDOWN_REQUEST__INIT;
    bk_h_req_init(&req, BK_API_CONTROLLED_SHUTDOWN, bt_corr());
    body.broker_id = broker_id;
    body.broker_epoch = broker_epoch;
    req.body_case = BROOK__REQUEST__BODY_CONTROLLED_SHUTDOWN;
    req.controlled_shutdown = &body;
    Brook__Response *r = bk_h_call(fd, &req, 20000);
    close(fd);
    if (!r || !r->controlled_shutdown) {
        if (r)
            brook__response__free_unpacked(r, NULL);
        return -1;
    }
    int err = r->controlled_shutdown->error_code;
    *remaining = r->controlled_shutdown->n_remaining_partitions;
    brook__response__free_unpacked(r, NULL);
    return err;
}

static int controlled_shutdown(int port, int broker_id, size_t *remaining)
{
    return controlled_shutdown_epoch(port, broker_id, -1, remaining);
}

static void test_controlled_shutdown(void)
{
    create_topic("cs", 3, 3);
    int ctl = controller_id();
    CU_ASSERT_FATAL(ctl >= 1);
    bk_zkc_pstate before[3], st;
    int x = -1; /* a broker that leads something and is not controller */
    for (int p = 0; p < 3; p++) {
        CU_ASSERT_FATAL(read_state("cs", p, &before[p]));
        CU_ASSERT_EQUAL_FATAL(before[p].nisr, 3);
        if (before[p].leader != ctl)
            x = before[p].leader;
    }
    CU_ASSERT_FATAL(x >= 1);
    /* Only the controller answers. */
    size_t rem = 99;
    int other = ctl % 3 + 1;
    CU_ASSERT_EQUAL(controlled_shutdown(cl->broker[idx(other)].port, x, &rem),
                    BK_ERR_NOT_CONTROLLER);
    int32_t v0[3], v1[3];
    for (int p = 0; p < 3; p++)
        CU_ASSERT_FATAL(bk_zkd_pstate_read(zk, "cs", p, &st, &v0[p]) == 0);
    /* A request of an earlier incarnation of x (an older broker epoch:
     * the czxid of its registration) is refused and changes nothing. */
    char bpath[BK_ZKC_PATH_MAX];
    bk_zkc_path_broker(bpath, x);
    bk_zk_stat bst;
    CU_ASSERT_EQUAL_FATAL(bk_zk_exists(zk, bpath, &bst, NULL, NULL), 0);
    CU_ASSERT_EQUAL(controlled_shutdown_epoch(cl->broker[idx(ctl)].port, x,
                                              bst.czxid - 1, &rem),
                    BK_ERR_STALE_BROKER_EPOCH);
    for (int p = 0; p < 3; p++) {
        int32_t v;
        CU_ASSERT_FATAL(bk_zkd_pstate_read(zk, "cs", p, &st, &v) == 0);
        CU_ASSERT_EQUAL(v, v0[p]);
    }
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL_FATAL(controlled_shutdown_epoch(cl->broker[idx(ctl)].port,
                                                    x, bst.czxid, &rem),
                          0);
    printf("\n    ControlledShutdown of broker %d answered in %lld ms, "
           "%zu partitions remaining\n",
           x, (long long)(bk_clock_mono_ms() - t0), rem);
    CU_ASSERT_EQUAL(rem, 0);
    for (int p = 0; p < 3; p++) {
        CU_ASSERT_FATAL(read_state("cs", p, &st));
        CU_ASSERT(st.leader >= 1 && st.leader != x);
        if (before[p].leader == x) {
            CU_ASSERT_TRUE(isr_has(&before[p], st.leader));
            CU_ASSERT_EQUAL(st.leader_epoch, before[p].leader_epoch + 1);
        } else {
            CU_ASSERT_EQUAL(st.leader, before[p].leader);
            CU_ASSERT_EQUAL(st.leader_epoch, before[p].leader_epoch);
        }
    }
    /* x keeps fetching: its leaders take it back into the ISR once, and
     * the controller does not fight them over it (one removal when asked,
     * one re-add), nor gives it leadership back. */
    bk_h_sleep_ms(1500);
    for (int p = 0; p < 3; p++) {
        CU_ASSERT_FATAL(bk_zkd_pstate_read(zk, "cs", p, &st, &v1[p]) == 0);
        printf("    cs-%d: %d state writes in the 1.5 s after\n", p,
               v1[p] - v0[p]);
        CU_ASSERT(v1[p] - v0[p] >= 1 && v1[p] - v0[p] <= 3);
        CU_ASSERT_NOT_EQUAL(st.leader, x);
    }
    /* Stopped (as if stopping), asked again as a stopping broker retries:
     * it leaves every ISR and nobody takes it back. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(x), SIGSTOP) == 0);
    bk_h_sleep_ms(700); /* its last long-poll fetch is over */
    CU_ASSERT_EQUAL_FATAL(
        controlled_shutdown(cl->broker[idx(ctl)].port, x, &rem), 0);
    CU_ASSERT_EQUAL(rem, 0);
    for (int p = 0; p < 3; p++) {
        CU_ASSERT_FATAL(read_state("cs", p, &st));
        CU_ASSERT(st.leader >= 1 && st.leader != x);
        CU_ASSERT_FALSE(isr_has(&st, x));
        CU_ASSERT_EQUAL(st.nisr, 2);
    }
    /* A marked broker is not elected, even when preferred. */
    int xp = -1;
    for (int p = 0; p < 3; p++)
        if (preferred("cs", p) == x)
            xp = p;
    CU_ASSERT_FATAL(xp >= 0);
    char out[4096];
    char pstr[16];
    snprintf(pstr, sizeof pstr, "%d", xp);
    const char *args[] = {
        "partitions", "elect-leaders", "--topic", "cs", "--partition",
        pstr,         "--wait",        NULL};
    CU_ASSERT_EQUAL(bk_h_brookctl(cl, out, sizeof out, args), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "not available"));
    CU_ASSERT_TRUE(read_state("cs", xp, &st));
    CU_ASSERT_NOT_EQUAL(st.leader, x);
    /* It stops and comes back: a new registration ends the shutdown, it
     * rejoins every ISR and can be elected again. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(x), SIGKILL) >= 0);
    restart(x);
    for (int p = 0; p < 3; p++)
        CU_ASSERT_TRUE(wait_state("cs", p, in_isr, x, 15000, &st));
    CU_ASSERT_EQUAL(bk_h_brookctl(cl, out, sizeof out, args), 0);
    CU_ASSERT_TRUE(read_state("cs", xp, &st));
    CU_ASSERT_EQUAL(st.leader, x);
}

/* --------------------------- ISR notifications --------------------------- */

static void test_isr_change_consumed(void)
{
    create_topic("ic", 1, 3);
    bk_zkc_pstate st;
    CU_ASSERT_FATAL(read_state("ic", 0, &st));
    int leader = st.leader, f = -1;
    for (int i = 0; i < st.nisr; i++)
        if (st.isr[i] != leader)
            f = st.isr[i];
    CU_ASSERT_FATAL(f >= 1);
    /* The follower dies: the controller shrinks the ISR. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(f), SIGKILL) >= 0);
    CU_ASSERT_FATAL(wait_state("ic", 0, isr_size, 2, SESSION_MS + 2000, &st));
    /* Back: the leader expands the ISR and writes a notification. */
    restart(f);
    CU_ASSERT_FATAL(wait_state("ic", 0, in_isr, f, 15000, &st));
    int64_t t0 = bk_clock_mono_ms();
    while (children(BK_ZKC_ISR_CHANGE) != 0 && bk_clock_mono_ms() - t0 < 5000)
        bk_h_sleep_ms(20);
    CU_ASSERT_EQUAL(children(BK_ZKC_ISR_CHANGE), 0);
    int ctl = controller_id();
    CU_ASSERT_FATAL(ctl >= 1);
    char log[600];
    snprintf(log, sizeof log, "%s/out.log", cl->broker[idx(ctl)].dir);
    CU_ASSERT_TRUE(bt_file_contains(log, "ISR change notifications consumed"));
    /* One written by hand (as a leader does) goes too. */
    bk_zkc_tp tp = {.topic = "ic", .partition = 0};
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_zkc_isr_change_encode(&tp, 1, &b), 0);
    char made[256];
    CU_ASSERT_EQUAL_FATAL(bk_zk_create(zk, BK_ZKC_ISR_CHANGE_SEQ, b.data, b.len,
                                       BK_ZK_SEQUENTIAL, made, sizeof made),
                          0);
    bk_buf_free(&b);
    t0 = bk_clock_mono_ms();
    while (exists(made) && bk_clock_mono_ms() - t0 < 5000)
        bk_h_sleep_ms(20);
    printf("\n    %s consumed after %lld ms\n", made,
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_FALSE(exists(made));
    CU_ASSERT_EQUAL(children(BK_ZKC_ISR_CHANGE), 0);
    /* A burst (a broker failure shrinks many ISRs): read pipelined, all
     * consumed, the states re-read. */
    enum { BURST = 400 };
    t0 = bk_clock_mono_ms();
    for (int i = 0; i < BURST; i++) {
        bk_buf nb = BK_BUF_INIT;
        bk_zkc_tp one = {.topic = "ic", .partition = 0};
        CU_ASSERT_EQUAL(bk_zkc_isr_change_encode(&one, 1, &nb), 0);
        CU_ASSERT_EQUAL(bk_zk_create(zk, BK_ZKC_ISR_CHANGE_SEQ, nb.data,
                                     nb.len, BK_ZK_SEQUENTIAL, NULL, 0),
                        0);
        bk_buf_free(&nb);
    }
    int64_t t1 = bk_clock_mono_ms();
    while (children(BK_ZKC_ISR_CHANGE) != 0 && bk_clock_mono_ms() - t1 < 10000)
        bk_h_sleep_ms(20);
    printf("    %d notifications written in %lld ms, all consumed %lld ms "
           "after the last\n",
           BURST, (long long)(t1 - t0), (long long)(bk_clock_mono_ms() - t1));
    CU_ASSERT_EQUAL(children(BK_ZKC_ISR_CHANGE), 0);
    /* the partition keeps its leader */
    CU_ASSERT_FATAL(read_state("ic", 0, &st));
    CU_ASSERT(st.leader >= 1);
}

/* ---------------------------- topic deletion ---------------------------- */

static bool dir_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void test_interrupted_delete(void)
{
    create_topic("dl", 2, 2);
    /* A deleter that died half-way: marked, one state znode removed. */
    char dir0[600];
    int holder = -1;
    for (int i = 0; i < cl->n && holder < 0; i++) {
        snprintf(dir0, sizeof dir0, "%s", bk_h_partition_dir(cl, i, "dl", 0));
        if (dir_exists(dir0))
            holder = i;
    }
    CU_ASSERT_FATAL(holder >= 0);
    char path[BK_ZKC_PATH_MAX];
    bk_zkc_path_partition_state(path, "dl", 0);
    CU_ASSERT_EQUAL_FATAL(bk_zk_delete(zk, path, -1), 0);
    bk_zkc_path_delete_topic(path, "dl");
    CU_ASSERT_EQUAL_FATAL(bk_zk_create(zk, path, NULL, 0, 0, NULL, 0), 0);
    /* And a mark whose topic is gone already. */
    char ghost[BK_ZKC_PATH_MAX];
    bk_zkc_path_delete_topic(ghost, "ghost");
    CU_ASSERT_EQUAL_FATAL(bk_zk_create(zk, ghost, NULL, 0, 0, NULL, 0), 0);
    char tpath[BK_ZKC_PATH_MAX], cpath[BK_ZKC_PATH_MAX];
    bk_zkc_path_topic(tpath, "dl");
    bk_zkc_path_topic_config(cpath, "dl");
    int64_t t0 = bk_clock_mono_ms();
    while ((exists(tpath) || exists(path) || exists(ghost)) &&
           bk_clock_mono_ms() - t0 < 5000)
        bk_h_sleep_ms(20);
    printf("\n    interrupted deletion finished after %lld ms\n",
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_FALSE(exists(tpath));
    CU_ASSERT_FALSE(exists(cpath));
    CU_ASSERT_FALSE(exists(path));
    CU_ASSERT_FALSE(exists(ghost));
    /* The brokers drop their logs of it. */
    t0 = bk_clock_mono_ms();
    while (dir_exists(dir0) && bk_clock_mono_ms() - t0 < 5000)
        bk_h_sleep_ms(50);
    CU_ASSERT_FALSE(dir_exists(dir0));
}

/* ------------------------------ rebalance ------------------------------ */

static void test_auto_rebalance(void)
{
    create_topic("rb", 3, 3);
    int pref = preferred("rb", 0);
    CU_ASSERT_FATAL(pref >= 1);
    bk_zkc_pstate st;
    CU_ASSERT_FATAL(wait_state("rb", 0, led_by, pref, 5000, &st));
    CU_ASSERT_EQUAL(produce("rb", 0, "before", 0, 10), 0);
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(pref), SIGKILL) >= 0);
    CU_ASSERT_FATAL(
        wait_state("rb", 0, led_by_other, pref, SESSION_MS + 2000, &st));
    int32_t e1 = st.leader_epoch;
    CU_ASSERT_EQUAL(produce("rb", 0, "mid", 0, 5), 0);
    restart(pref);
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_FATAL(wait_state("rb", 0, in_isr, pref, 15000, &st));
    int64_t t1 = bk_clock_mono_ms();
    /* Nobody asks: the periodic check (1 s) gives it back. */
    CU_ASSERT_TRUE(wait_state("rb", 0, led_by, pref, 5000, &st));
    printf("\n    restarted preferred leader %d: in ISR after %lld ms, "
           "leader again after %lld ms more\n",
           pref, (long long)(t1 - t0), (long long)(bk_clock_mono_ms() - t1));
    CU_ASSERT_EQUAL(st.leader_epoch, e1 + 1);
    CU_ASSERT_EQUAL(st.nisr, 3);
    /* Every partition ends led by its preferred replica. */
    for (int p = 0; p < 3; p++)
        CU_ASSERT_TRUE(
            wait_state("rb", p, led_by, preferred("rb", p), 5000, &st));
    CU_ASSERT_EQUAL(produce("rb", 0, "after", 0, 5), 0);
    bt_fetch_res r;
    fetch_all("rb", 0, 20, &r);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.nrecs, 20);
    if (r.nrecs == 20) {
        CU_ASSERT_STRING_EQUAL(r.recs[0].value, "before-0");
        CU_ASSERT_STRING_EQUAL(r.recs[10].value, "mid-0");
        CU_ASSERT_STRING_EQUAL(r.recs[19].value, "after-4");
    }
    bt_fetch_free(&r);
}

static CU_TestInfo admin_tests[] = {
    {"elect-leaders --wait brings the preferred leader back",
     test_elect_by_brookctl},
    {"elect-leaders with nothing to do writes nothing",
     test_elect_nothing_to_do},
    {"elect-leaders: pending request, JSON, --wait timeout, usage",
     test_elect_brookctl_side},
    {"controlled shutdown: leaderships and ISR membership move off",
     test_controlled_shutdown},
    {"ISR change notifications are consumed", test_isr_change_consumed},
    {"an interrupted topic deletion is finished", test_interrupted_delete},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo rebalance_tests[] = {
    {"auto rebalance: leadership returns by itself", test_auto_rebalance},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_logging_set_level(BK_LVL_WARN);
    bk_test_add_suite_fn("admin-ops", admin_tests, admin_init, stop);
    bk_test_add_suite_fn("auto-rebalance", rebalance_tests, rebalance_init,
                         stop);
}
