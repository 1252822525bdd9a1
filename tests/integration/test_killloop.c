/*
 * test_killloop.c -- the kill loop of issue #4: three brookd processes and
 * a real ZooKeeper; topics "kl" (1 partition) and "kl3" (3 partitions),
 * RF=3, min.insync.replicas=2.  A libbrook producer (acks=all, retries
 * on, one batch in flight per partition) writes numbered records "n-<i>"
 * round-robin over the four partitions while the test SIGKILLs the
 * current leader of kl/0, keeps producing until the controller has
 * elected a new leader (the state znode names another broker: ZooKeeper
 * session expiry; the brokers here use a 3 s session timeout so that a
 * round takes ~4 s), restarts the killed broker, keeps producing until
 * it is back in the ISR of every partition, and starts the next round.
 * 10 rounds, 100 with bk_test_long (issue #4).  The bounce loop does the
 * same but restarts the killed leader at once, before its session
 * expired, as systemd's Restart= would (5 rounds, 30 with --long): the
 * controller must notice the new registration (broker epoch) and move
 * the leadership as for a failure.
 *
 * Afterwards, for every partition:
 *   - every acknowledged number is in the log (read by a consumer up to the
 *     high watermark) at its acknowledged offset, and acknowledged offsets
 *     grow with the numbers (produce order);
 *   - an acknowledged number appears nowhere else except at lower offsets
 *     (an attempt whose answer was lost, stored, then retried: at least
 *     once without idempotence); such duplicates are counted and printed;
 *   - nothing appears that was never produced;
 *   - the three replicas' logs (every segment concatenated in offset
 *     order) are byte-identical and the high watermark is their end.
 * Then min.insync.replicas=2 with both followers of kl/0 SIGKILLed: once
 * the controller has shrunk the ISR to the leader, acks=all records
 * (retries 0) are refused with NOT_ENOUGH_REPLICAS and the leader's log is
 * unchanged; with both restarted and back in the ISR, acks=all succeeds
 * at the old end.
 */
#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/brook.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"
#include "proto/protocol.h"
#include "tests/integration/brokertest.h"
#include "tests/unit/cu_main.h"

#define NPART 4 /* kl/0, kl3/0, kl3/1, kl3/2 */

static const char *const part_topic[NPART] = {"kl", "kl3", "kl3", "kl3"};
static const int32_t part_num[NPART] = {0, 0, 1, 2};

static bk_h_cluster *cl;
static bk_zk *zk; /* the test's own session, for reading states */

static int suite_init(void)
{
    cl = bk_h_cluster_start("kill", 1, 3,
                            "replica.lag.time.max.ms=5000\n"
                            "zookeeper.session.timeout.ms=3000\n");
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
    int fd = bk_h_connect(cl->broker[0].port);
    const char *cfg[] = {"min.insync.replicas", "2", "segment.bytes", "65536",
                         NULL};
    int rc = bt_create_topic_cfg(fd, "kl", 1, 3, cfg) == 0 &&
                     bt_create_topic_cfg(fd, "kl3", 3, 3, cfg) == 0
                 ? 0
                 : 1;
    close(fd);
    for (int i = 0; rc == 0 && i < 3; i++)
        if (bk_h_wait_topic(cl, i, "kl", 1, 10000) != 0 ||
            bk_h_wait_topic(cl, i, "kl3", 3, 10000) != 0)
            rc = 1;
    return rc;
}

static int suite_clean(void)
{
    int bad = cl ? bk_h_cluster_log_problems(cl) : 0;
    bk_zk_close(zk);
    zk = NULL;
    bk_h_cluster_stop(cl);
    cl = NULL;
    return bad ? 1 : 0;
}

/* ------------------------------- helpers ------------------------------- */

static bool read_state(int part, bk_zkc_pstate *st)
{
    return bk_zkd_pstate_read(zk, part_topic[part], part_num[part], st, NULL) ==
           0;
}

static bool isr_has(const bk_zkc_pstate *st, int id)
{
    for (int i = 0; i < st->nisr; i++)
        if (st->isr[i] == id)
            return true;
    return false;
}

/* ------------------------------ producer ------------------------------ */

/* One produced record: its partition slot and what its report said. */
typedef struct kl_rec {
    int part;
    int err;        /* -1 until reported */
    int64_t offset; /* acknowledged offset, -1 otherwise */
} kl_rec;

/* Each loop tags its numbers ("n-<i>", "b-<i>"): the loops share the
 * topics, and a loop checks only its own records. */
#define LOOP_TAGS "nb"
static char loop_tag = 'n';

static kl_rec *recs;
static size_t nrecs, caprecs;
static size_t nreports;

static void on_dr(brook_client *c, const brook_dr *dr, void *app)
{
    (void)c;
    (void)app;
    size_t n = (size_t)(uintptr_t)dr->opaque;
    CU_ASSERT(n < nrecs); /* not FATAL: no longjmp out of libbrook */
    if (n >= nrecs)
        return;
    CU_ASSERT(recs[n].err == -1); /* one report per record */
    recs[n].err = dr->err;
    recs[n].offset = dr->err == 0 ? dr->offset : -1;
    nreports++;
}

/* Produces up to 8 more numbered records while fewer than `window` are
 * outstanding, then serves the client for up to 2 ms. */
static void pump_once(brook_client *c, size_t window)
{
    for (int k = 0; k < 8 && brook_outq_len(c) < window; k++) {
        if (nrecs == caprecs) {
            caprecs = caprecs ? caprecs * 2 : 4096;
            recs = realloc(recs, caprecs * sizeof *recs);
            CU_ASSERT_FATAL(recs != NULL);
        }
        size_t n = nrecs;
        int part = (int)(n % NPART);
        char v[32];
        int vl = snprintf(v, sizeof v, "%c-%zu", loop_tag, n);
        recs[n] = (kl_rec){.part = part, .err = -1, .offset = -1};
        nrecs++;
        int rc =
            brook_produce(c, part_topic[part], part_num[part], NULL, -1, v, vl,
                          NULL, 0, BROOK_TIMESTAMP_NOW, (void *)(uintptr_t)n);
        if (rc != 0) {
            /* BK_AGAIN: buffer full; drop the number, it was never sent. */
            CU_ASSERT_EQUAL(rc, BK_AGAIN);
            nrecs--;
            break;
        }
    }
    brook_poll(c, 2);
}

static void pump_ms(brook_client *c, int ms)
{
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < ms)
        pump_once(c, 2000);
}

/* --------------------------------- test --------------------------------- */

static void check_partition(int part, int64_t *acked_out, int64_t *dups_out,
                            int64_t *bytes_out)
{
    const char *topic = part_topic[part];
    int32_t p = part_num[part];
    bk_zkc_pstate st;
    CU_ASSERT_FATAL(read_state(part, &st));
    int li = st.leader - 1;
    CU_ASSERT_FATAL(li >= 0 && li < 3);

    /* Everything in the ISR again: the three logs converge to the same
     * bytes and the leader's HW is their end. */
    bk_buf logs[3];
    for (int i = 0; i < 3; i++)
        bk_buf_init(&logs[i]);
    bool same = false;
    int64_t t0 = bk_clock_mono_ms();
    while (!same && bk_clock_mono_ms() - t0 < 15000) {
        for (int i = 0; i < 3; i++) {
            bk_buf_reset(&logs[i]);
            char dir[4096];
            snprintf(dir, sizeof dir, "%s",
                     bk_h_partition_dir(cl, i, topic, p));
            bt_read_log(dir, &logs[i]);
        }
        same = logs[0].len > 0;
        for (int i = 1; i < 3; i++)
            same = same && logs[i].len == logs[0].len &&
                   memcmp(logs[i].data, logs[0].data, logs[0].len) == 0;
        if (!same)
            bk_h_sleep_ms(100);
    }
    if (!same)
        printf("    %s/%d: replica logs differ: %zu %zu %zu bytes\n", topic, p,
               logs[0].len, logs[1].len, logs[2].len);
    CU_ASSERT(same);
    *bytes_out = (int64_t)logs[li].len;
    for (int i = 0; i < 3; i++)
        bk_buf_free(&logs[i]);

    /* A consumer's view of the leader, up to the HW. */
    int fd = bk_h_connect(cl->broker[li].port);
    CU_ASSERT_FATAL(fd >= 0);
    int64_t leo = -1;
    CU_ASSERT_EQUAL(bt_list_offsets(fd, topic, p, -1, &leo, NULL), 0);
    bt_fetch_res r;
    bt_fetch_all(fd, topic, p, &r);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(r.error, 0);
    CU_ASSERT_EQUAL(r.hw, leo);
    CU_ASSERT_EQUAL((int64_t)r.nrecs, r.hw); /* offsets 0..hw-1, no gap */
    CU_ASSERT_EQUAL(r.log_start, 0);

    /* Offsets are contiguous from 0: index = offset. */
    int bad_offsets = 0;
    for (size_t i = 0; i < r.nrecs; i++)
        bad_offsets += r.recs[i].offset != (int64_t)i;
    CU_ASSERT_EQUAL(bad_offsets, 0);

    /* Where each number sits. */
    int64_t *at = malloc(r.nrecs * sizeof *at + 1);
    int foreign = 0;
    for (size_t i = 0; i < r.nrecs; i++) {
        char *end = NULL;
        unsigned long long n = 0;
        const char *v = r.recs[i].value;
        if (v[0] != loop_tag && strchr(LOOP_TAGS, v[0]) && v[0] &&
            v[1] == '-') {
            at[i] = -1; /* an earlier loop's record */
            continue;
        }
        if (v[0] == loop_tag && v[1] == '-')
            n = strtoull(v + 2, &end, 10);
        if (!end || *end || n >= nrecs || recs[n].part != part) {
            foreign++;
            at[i] = -1;
        } else {
            at[i] = (int64_t)n;
        }
    }
    CU_ASSERT_EQUAL(foreign, 0);

    int64_t acked = 0, missing = 0, misplaced = 0, disorder = 0, dups = 0,
            late_dups = 0, last_off = -1;
    for (size_t n = (size_t)part; n < nrecs; n += NPART) {
        if (recs[n].err != 0)
            continue;
        acked++;
        int64_t o = recs[n].offset;
        if (o < 0 || o >= (int64_t)r.nrecs)
            missing++;
        else if (at[o] != (int64_t)n)
            misplaced++;
        if (o <= last_off)
            disorder++;
        last_off = o;
    }
    /* Every copy of an acknowledged number other than the acknowledged one
     * lies below it (an earlier attempt of the same batch). */
    for (size_t i = 0; i < r.nrecs; i++) {
        if (at[i] < 0)
            continue;
        const kl_rec *k = &recs[at[i]];
        if (k->err == 0 && k->offset == (int64_t)i)
            continue;
        if (k->err == 0 && dups++ == 0)
            printf("    %s/%d: first duplicate: n-%" PRId64 " at offset %zu, "
                   "acknowledged at %" PRId64 "\n",
                   topic, p, at[i], i, k->offset);
        if (k->err == 0 && (int64_t)i > k->offset)
            late_dups++;
    }
    if (missing || misplaced || disorder || late_dups)
        printf("    %s/%d: %" PRId64 " acked missing, %" PRId64
               " misplaced, %" PRId64 " out of order, %" PRId64
               " copies after their ack\n",
               topic, p, missing, misplaced, disorder, late_dups);
    CU_ASSERT_EQUAL(missing, 0);
    CU_ASSERT_EQUAL(misplaced, 0);
    CU_ASSERT_EQUAL(disorder, 0);
    CU_ASSERT_EQUAL(late_dups, 0);
    *acked_out = acked;
    *dups_out = dups;
    free(at);
    bt_fetch_free(&r);
}

/* bounce: restart the killed broker at once, as systemd's Restart= would,
 * before its session expired (it replaces its own registration). */
static void kill_loop(int rounds, bool bounce)
{
    brook_conf *conf = brook_conf_new();
    CU_ASSERT_FATAL(conf != NULL);
    char err[256];
    CU_ASSERT_FATAL(brook_conf_set(conf, "bootstrap.servers", cl->bootstrap,
                                   err, sizeof err) == 0);
    CU_ASSERT_FATAL(brook_conf_set(conf, "acks", "all", err, sizeof err) == 0);
    CU_ASSERT_FATAL(brook_conf_set(conf, "linger.ms", "2", err, sizeof err) ==
                    0);
    CU_ASSERT_FATAL(brook_conf_set(conf, "request.timeout.ms", "5000", err,
                                   sizeof err) == 0);
    CU_ASSERT_FATAL(brook_conf_set(conf, "delivery.timeout.ms", "60000", err,
                                   sizeof err) == 0);
    CU_ASSERT_FATAL(brook_conf_set(conf, "metadata.max.age.ms", "1000", err,
                                   sizeof err) == 0);
    brook_conf_set_dr_cb(conf, on_dr, NULL);
    brook_client *c = brook_client_new(conf, err, sizeof err);
    CU_ASSERT_FATAL(c != NULL);

    int64_t tstart = bk_clock_mono_ms();
    pump_ms(c, 1000);
    CU_ASSERT(nreports > 0);
    for (int round = 0; round < rounds; round++) {
        bk_zkc_pstate st;
        CU_ASSERT_FATAL(read_state(0, &st));
        int dead = st.leader;
        CU_ASSERT_FATAL(dead >= 1 && dead <= 3);
        size_t before = nreports;
        CU_ASSERT_FATAL(bk_h_broker_signal(cl, dead - 1, SIGKILL) >= 0);
        int64_t t0 = bk_clock_mono_ms();
        int64_t failover = 0;
        if (!bounce) {
            bool moved = false;
            while (!moved && bk_clock_mono_ms() - t0 < 20000) {
                pump_once(c, 2000);
                moved =
                    read_state(0, &st) && st.leader >= 1 && st.leader != dead;
            }
            failover = bk_clock_mono_ms() - t0;
            CU_ASSERT_FATAL(moved);
            pump_ms(c, 500);
            /* The dead broker has left every ISR (the controller's doing). */
            int in_isr = 0;
            for (int part = 0; part < NPART; part++)
                in_isr += !read_state(part, &st) || isr_has(&st, dead);
            CU_ASSERT_EQUAL(in_isr, 0);
        }
        CU_ASSERT_FATAL(bk_h_broker_start(cl, dead - 1, false) == 0);
        t0 = bk_clock_mono_ms();
        bool back = false;
        while (!back && bk_clock_mono_ms() - t0 < 30000) {
            pump_once(c, 2000);
            back = true;
            for (int part = 0; back && part < NPART; part++)
                back =
                    read_state(part, &st) && st.nisr == 3 && isr_has(&st, dead);
            /* A bounce is a failure too: the controller sees the new
             * registration (broker epoch) and moves the leadership. */
            if (back && bounce)
                back = read_state(0, &st) && st.leader != dead;
        }
        int64_t rejoin = bk_clock_mono_ms() - t0;
        bk_zkc_pstate st0;
        CU_ASSERT_FATAL(read_state(0, &st0));
        printf("\n    round %d: leader %d killed, new leader %d after %lld "
               "ms, back in every ISR %lld ms after restart; %zu reports",
               round + 1, dead, st0.leader, (long long)failover,
               (long long)rejoin, nreports - before);
        CU_ASSERT_FATAL(back);
        pump_ms(c, bounce ? 1500 : 300);
    }
    /* Let every record get its report. */
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(brook_flush(c, 70000), 0);
    int64_t flush_ms = bk_clock_mono_ms() - t0;
    size_t failed = 0, unreported = 0;
    int first_err = 0;
    for (size_t n = 0; n < nrecs; n++) {
        unreported += recs[n].err == -1;
        if (recs[n].err > 0) {
            failed++;
            if (!first_err)
                first_err = recs[n].err;
        }
    }
    CU_ASSERT_EQUAL(unreported, 0);
    printf("\n    %zu records produced in %lld ms (flush %lld ms), %zu "
           "failed delivery%s%s\n",
           nrecs, (long long)(bk_clock_mono_ms() - tstart), (long long)flush_ms,
           failed, failed ? ", first: " : "",
           failed ? brook_err_name(first_err) : "");
    brook_client_destroy(c);

    int64_t acked_all = 0;
    for (int part = 0; part < NPART; part++) {
        int64_t acked = 0, dups = 0, bytes = 0;
        check_partition(part, &acked, &dups, &bytes);
        printf("    %s/%d: %" PRId64 " acknowledged, %" PRId64
               " duplicates of acknowledged records (retried "
               "attempts), %" PRId64 " log bytes identical on 3 replicas\n",
               part_topic[part], part_num[part], acked, dups, bytes);
        acked_all += acked;
    }
    /* Failures are allowed (delivery timeout during a failover) but the
     * producer must have made progress through every round. */
    CU_ASSERT(acked_all > (int64_t)nrecs / 2);
    free(recs);
    recs = NULL;
    nrecs = caprecs = nreports = 0;
}

static void test_kill_loop(void)
{
    loop_tag = 'n';
    kill_loop(bk_test_long ? 100 : 10, false);
}

static void test_bounce_loop(void)
{
    loop_tag = 'b';
    kill_loop(bk_test_long ? 30 : 5, true);
}

/* min.insync.replicas=2 with two of three brokers SIGKILLed: once the
 * controller has shrunk the ISR to the leader, an acks=all produce is
 * refused with NOT_ENOUGH_REPLICAS, nothing is acknowledged and nothing is
 * appended; with both back in the ISR it succeeds at the old end. */
static int nir_err[8];
static int64_t nir_off[8];

static void on_dr_nir(brook_client *c, const brook_dr *dr, void *app)
{
    (void)c;
    (void)app;
    size_t n = (size_t)(uintptr_t)dr->opaque;
    CU_ASSERT(n < 8);
    if (n >= 8)
        return;
    nir_err[n] = dr->err;
    nir_off[n] = dr->offset;
}

static brook_client *nir_client(void)
{
    brook_conf *conf = brook_conf_new();
    char err[256];
    CU_ASSERT_FATAL(conf != NULL);
    CU_ASSERT_FATAL(brook_conf_set(conf, "bootstrap.servers", cl->bootstrap,
                                   err, sizeof err) == 0);
    CU_ASSERT_FATAL(brook_conf_set(conf, "acks", "all", err, sizeof err) == 0);
    CU_ASSERT_FATAL(brook_conf_set(conf, "retries", "0", err, sizeof err) == 0);
    CU_ASSERT_FATAL(brook_conf_set(conf, "linger.ms", "0", err, sizeof err) ==
                    0);
    brook_conf_set_dr_cb(conf, on_dr_nir, NULL);
    brook_client *c = brook_client_new(conf, err, sizeof err);
    CU_ASSERT_FATAL(c != NULL);
    return c;
}

/* Produces 4 records "m-<first + i>" to kl/0 and flushes. */
static void nir_produce(brook_client *c, int first)
{
    for (int i = 0; i < 4; i++) {
        char v[32];
        int vl = snprintf(v, sizeof v, "m-%d", first + i);
        nir_err[i] = -1;
        nir_off[i] = -1;
        CU_ASSERT_EQUAL(brook_produce(c, "kl", 0, NULL, -1, v, vl, NULL, 0,
                                      BROOK_TIMESTAMP_NOW,
                                      (void *)(uintptr_t)i),
                        0);
    }
    CU_ASSERT_EQUAL(brook_flush(c, 20000), 0);
}

static void test_min_insync(void)
{
    bk_zkc_pstate st;
    CU_ASSERT_FATAL(read_state(0, &st));
    int leader = st.leader, dead[2], nd = 0;
    CU_ASSERT_FATAL(leader >= 1 && leader <= 3 && st.nisr == 3);
    for (int id = 1; id <= 3; id++)
        if (id != leader)
            dead[nd++] = id;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s",
             bk_h_partition_dir(cl, leader - 1, "kl", 0));
    int fd = bk_h_connect(cl->broker[leader - 1].port);
    int64_t hw0 = -1;
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "kl", 0, -1, &hw0, NULL), 0);
    close(fd);

    for (int k = 0; k < 2; k++)
        CU_ASSERT_FATAL(bk_h_broker_signal(cl, dead[k] - 1, SIGKILL) >= 0);
    int64_t t0 = bk_clock_mono_ms();
    bool alone = false;
    while (!alone && bk_clock_mono_ms() - t0 < 20000) {
        alone = read_state(0, &st) && st.nisr == 1 && st.isr[0] == leader;
        if (!alone)
            bk_h_sleep_ms(50);
    }
    printf("\n    two followers SIGKILLed: ISR {%d} after %lld ms\n", leader,
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_FATAL(alone);
    CU_ASSERT_EQUAL(st.leader, leader);

    bk_buf before = BK_BUF_INIT, after = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bt_read_log(dir, &before), 0);
    brook_client *c = nir_client();
    nir_produce(c, 0);
    int refused = 0;
    for (int i = 0; i < 4; i++)
        refused += nir_err[i] == BK_ERR_NOT_ENOUGH_REPLICAS && nir_off[i] < 0;
    printf("    acks=all with ISR {%d}: %s\n", leader,
           brook_err_name(nir_err[0]));
    CU_ASSERT_EQUAL(refused, 4);
    CU_ASSERT_EQUAL(bt_read_log(dir, &after), 0);
    CU_ASSERT(after.len == before.len &&
              memcmp(after.data, before.data, before.len) == 0);
    bk_buf_free(&before);
    bk_buf_free(&after);

    /* Both come back, rejoin, and acks=all works at the old end. */
    for (int k = 0; k < 2; k++)
        CU_ASSERT_FATAL(bk_h_broker_start(cl, dead[k] - 1, true) == 0);
    t0 = bk_clock_mono_ms();
    bool full = false;
    while (!full && bk_clock_mono_ms() - t0 < 20000) {
        full = read_state(0, &st) && st.nisr == 3;
        if (!full)
            bk_h_sleep_ms(50);
    }
    CU_ASSERT_FATAL(full);
    nir_produce(c, 100);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(nir_err[i], 0);
        CU_ASSERT_EQUAL(nir_off[i], hw0 + i);
    }
    brook_client_destroy(c);
    fd = bk_h_connect(cl->broker[leader - 1].port);
    bt_fetch_res r;
    bt_fetch_all(fd, "kl", 0, &r);
    close(fd);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.hw, hw0 + 4);
    CU_ASSERT(r.nrecs == (size_t)hw0 + 4 &&
              strcmp(r.recs[hw0].value, "m-100") == 0);
    bt_fetch_free(&r);
}

/* ------------------------------- zombie ------------------------------- */

/* A produce sent from its own thread (the broker it goes to is about to
 * be stopped): its answer, or -1 for none. */
typedef struct pending_produce {
    int port;
    int rc;
    int64_t base;
} pending_produce;

static void *pending_run(void *arg)
{
    pending_produce *pp = arg;
    int fd = bk_h_connect(pp->port);
    pp->rc =
        fd < 0 ? -1 : bt_produce(fd, "zb", 0, -1, "pending", 0, 3, &pp->base);
    if (fd >= 0)
        close(fd);
    return NULL;
}

static bool same_logs(const char *da, const char *db)
{
    bk_buf a = BK_BUF_INIT, b = BK_BUF_INIT;
    bt_read_log(da, &a);
    bt_read_log(db, &b);
    bool same =
        a.len == b.len && a.len > 0 && memcmp(a.data, b.data, a.len) == 0;
    bk_buf_free(&a);
    bk_buf_free(&b);
    return same;
}

/* Issue #4's zombie leader, with the real controller: the leader of zb/0
 * has records its followers never got (acks=1, and an acks=all produce
 * still waiting), then it is SIGSTOPped past the session timeout; the
 * controller elects a follower (leader_epoch + 1), acks=all records go to
 * the new leader; SIGCONT: the old leader must not acknowledge its
 * waiting produce, must become a follower, truncate by leader epoch and
 * end byte-identical to the new leader, with every acknowledged acks=all
 * record at its offset. */
static void test_zombie_leader(void)
{
    int fd = bk_h_connect(cl->broker[0].port);
    const char *cfg[] = {"min.insync.replicas", "2", NULL};
    CU_ASSERT_FATAL(bt_create_topic_cfg(fd, "zb", 1, 3, cfg) == 0);
    close(fd);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_FATAL(bk_h_wait_topic(cl, i, "zb", 1, 10000) == 0);
    bk_zkc_pstate st0, st;
    int64_t t0 = bk_clock_mono_ms();
    bool full = false;
    while (!full && bk_clock_mono_ms() - t0 < 10000) {
        full = bk_zkd_pstate_read(zk, "zb", 0, &st0, NULL) == 0 &&
               st0.nisr == 3 && st0.leader >= 1;
        if (!full)
            bk_h_sleep_ms(50);
    }
    CU_ASSERT_FATAL(full);
    int li = st0.leader - 1, f1 = (li + 1) % 3, f2 = (li + 2) % 3;
    fd = bk_h_connect(cl->broker[li].port);
    int64_t base = -1;
    CU_ASSERT_EQUAL(bt_produce(fd, "zb", 0, -1, "ok", 0, 10, &base), 0);
    CU_ASSERT_EQUAL(base, 0);

    /* The leader gets records its followers will never see. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, f1, SIGSTOP) == 0 &&
                    bk_h_broker_signal(cl, f2, SIGSTOP) == 0);
    bk_h_sleep_ms(800); /* past the followers' parked long polls */
    CU_ASSERT_EQUAL(bt_produce(fd, "zb", 0, 1, "lone", 0, 5, &base), 0);
    CU_ASSERT_EQUAL(base, 10);
    close(fd);
    pending_produce pp = {.port = cl->broker[li].port, .rc = -2};
    pthread_t th;
    CU_ASSERT_FATAL(pthread_create(&th, NULL, pending_run, &pp) == 0);
    bk_h_sleep_ms(300); /* appended at the leader, waiting for the ISR */

    /* The leader stops past its session; the followers resume. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, li, SIGSTOP) == 0);
    CU_ASSERT(bk_h_broker_signal(cl, f1, SIGCONT) == 0 &&
              bk_h_broker_signal(cl, f2, SIGCONT) == 0);
    t0 = bk_clock_mono_ms();
    bool moved = false;
    while (!moved && bk_clock_mono_ms() - t0 < 20000) {
        moved = bk_zkd_pstate_read(zk, "zb", 0, &st, NULL) == 0 &&
                st.leader >= 1 && st.leader != st0.leader;
        if (!moved)
            bk_h_sleep_ms(50);
    }
    printf("\n    leader %d SIGSTOPped: broker %d leads (epoch %d -> %d) "
           "after %lld ms\n",
           st0.leader, st.leader, st0.leader_epoch, st.leader_epoch,
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_FATAL(moved);
    CU_ASSERT(st.leader_epoch > st0.leader_epoch);
    int ni = st.leader - 1;
    fd = bk_h_connect(cl->broker[ni].port);
    int rc = -1;
    t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < 10000) {
        rc = bt_produce(fd, "zb", 0, -1, "new", 0, 3, &base);
        if (rc == 0)
            break;
        bk_h_sleep_ms(100); /* NOT_LEADER until it learned the state */
    }
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(base, 10);

    /* The zombie wakes up. */
    CU_ASSERT(bk_h_broker_signal(cl, li, SIGCONT) == 0);
    pthread_join(th, NULL);
    printf("    the zombie's waiting acks=all produce got %d (%s)\n", pp.rc,
           pp.rc > 0 ? bk_err_name(pp.rc) : "no answer");
    CU_ASSERT(pp.rc != 0); /* never acknowledged */
    char dl[4096], dn[4096];
    snprintf(dl, sizeof dl, "%s", bk_h_partition_dir(cl, li, "zb", 0));
    snprintf(dn, sizeof dn, "%s", bk_h_partition_dir(cl, ni, "zb", 0));
    t0 = bk_clock_mono_ms();
    bool same = false;
    while (!same && bk_clock_mono_ms() - t0 < 15000) {
        same = same_logs(dl, dn);
        if (!same)
            bk_h_sleep_ms(50);
    }
    printf("    old leader byte-identical to the new one %lld ms after "
           "SIGCONT\n",
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT(same);
    char outlog[4200];
    snprintf(outlog, sizeof outlog, "%s/out.log", cl->broker[li].dir);
    CU_ASSERT(bt_file_contains(outlog, "truncated from 18 to 10") ||
              bt_file_contains(outlog, "truncated from 15 to 10"));

    /* The acknowledged records, nothing else. */
    bt_fetch_res r;
    bt_fetch_all(fd, "zb", 0, &r);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.nrecs, 13);
    int bad = 0;
    for (size_t i = 0; i < r.nrecs; i++) {
        char want[32];
        snprintf(want, sizeof want, i < 10 ? "ok-%zu" : "new-%zu",
                 i < 10 ? i : i - 10);
        bad += r.recs[i].offset != (int64_t)i ||
               strcmp(r.recs[i].value, want) != 0;
    }
    CU_ASSERT_EQUAL(bad, 0);
    bt_fetch_free(&r);
    close(fd);

    /* And it rejoins the ISR as a follower. */
    t0 = bk_clock_mono_ms();
    bool back = false;
    while (!back && bk_clock_mono_ms() - t0 < 15000) {
        back = bk_zkd_pstate_read(zk, "zb", 0, &st, NULL) == 0 &&
               st.nisr == 3 && st.leader == ni + 1;
        if (!back)
            bk_h_sleep_ms(50);
    }
    CU_ASSERT(back);
}

static CU_TestInfo tests[] = {
    {"kill loop: acks=all survives leader SIGKILLs", test_kill_loop},
    {"bounce loop: leader SIGKILLed and restarted at once", test_bounce_loop},
    {"min.insync.replicas=2 with two brokers SIGKILLed", test_min_insync},
    {"zombie leader: SIGSTOP past the session, SIGCONT", test_zombie_leader},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("killloop", tests, suite_init, suite_clean);
}
