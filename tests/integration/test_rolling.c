/*
 * test_rolling.c -- operating a cluster (issue #6): `brookctl cluster
 * status` against a real cluster, and a rolling restart under load.
 *
 * Suite "cluster status" (real ZooKeeper, three brookd, 3 s broker
 * sessions):
 *   - healthy: topic "st3" (3 partitions, RF 3): exit 0, the controller
 *     with its epoch, the three live brokers with their endpoints, topic
 *     and partition counts as ZooKeeper has them, 0 under-replicated,
 *     0 offline, no missing broker, "Status: healthy";
 *   - broker 3 SIGKILLed: once the controller has taken it out of the
 *     ISRs, every st3 partition is listed as under-replicated
 *     (kafka-topics --describe style lines), broker 3 is "missing", exit
 *     status 0 and "Status: under-replicated"; restarted, healthy again
 *     (time printed);
 *   - an RF=1 topic "st1" on broker 2, broker 2 SIGKILLed: the partition
 *     is offline ("Leader: none" or a dead leader), exit status 1;
 *   - 10,000 partitions (ZooKeeper only, a chroot of their own, fake
 *     broker registrations): exact counts of under-replicated, offline,
 *     non-preferred leaders and missing brokers, and the time it takes
 *     (printed beside `topics describe` of the same topic, which reads the
 *     states one round trip each);
 *   - ZooKeeper down: exit status 3.
 *
 * Suite "rolling restart" (real ZooKeeper, three brookd with controlled
 * shutdown): topic "roll" (6 partitions, RF 3, min.insync.replicas=2).  A
 * producer thread (libbrook, acks=all) writes key "k-<n>" / value "v-<n>"
 * records and keeps each acknowledgement (partition, offset); a consumer
 * group of two threads (brook_subscribe, auto commit every 200 ms) records
 * every record it sees.  Each broker in turn gets SIGTERM (controlled
 * shutdown: it must exit 0), is started again, and the next one waits until
 * `brookctl cluster status` shows no under-replicated partition (every
 * replica back in its ISR, __consumer_offsets included) -- the procedure
 * of README.md.  One pass over the three brokers; three with --long.
 * Afterwards:
 *   - no producer send finally failed;
 *   - every acknowledged record is in the log at its acknowledged offset
 *     (every partition read back from offset 0 at its leader) and nothing
 *     unknown is there; copies of a record at other offsets (a retried
 *     batch: no idempotent producer) are counted;
 *   - every acknowledged record was consumed by the group (at least once;
 *     records consumed twice are counted);
 *   - every error the clients saw is a retriable one.  libbrook retries
 *     internally, so the test watches what an application can see: the
 *     producer's delivery reports, consumer error events, and every new
 *     brook_last_error() text of the three clients, plus libbrook's own
 *     "retrying batch ... : <ERROR>" debug lines (stderr is captured while
 *     the test runs; other lines go through).  Accepted kinds:
 *     NOT_LEADER_FOR_PARTITION, LEADER_NOT_AVAILABLE, NOT_COORDINATOR,
 *     COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS,
 *     REBALANCE_IN_PROGRESS, NOT_ENOUGH_REPLICAS(_AFTER_APPEND),
 *     REQUEST_TIMED_OUT, network errors (refused, closed, timed out), and
 *     UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION from a new coordinator that
 *     does not know the members yet (group membership is not persisted:
 *     DESIGN.md section 9; the member rejoins).  Counts per kind are
 *     printed; anything else fails the test.
 * Printed: each broker's shutdown time, start time, time until no
 * under-replicated partition, and the producer's longest stall (gap
 * between two acknowledgements) during each restart.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/brook.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"
#include "proto/protocol.h"
#include "tests/integration/brokertest.h"
#include "tests/unit/cu_main.h"

static bk_h_cluster *cl;
static bk_zk *zk; /* the test's own session */

static int open_zk(const char *connect, bk_zk **out)
{
    bk_zk_opts o = {.connect = connect,
                    .session_timeout_ms = 10000,
                    .connect_timeout_ms = 5000};
    char err[256];
    if (bk_zk_open(&o, out, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int status_suite_init(void)
{
    cl = bk_h_cluster_start("status", 1, 3,
                            "zookeeper.session.timeout.ms=3000\n"
                            "replica.lag.time.max.ms=5000\n");
    return cl && open_zk(cl->zk_connect, &zk) == 0 ? 0 : 1;
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

#define OUT_MAX 65536

/* `brookctl cluster status`: exit status, output in out. */
static int status(char *out)
{
    const char *args[] = {"--timeout-ms", "3000", "cluster", "status", NULL};
    return bk_h_brookctl(cl, out, OUT_MAX, args);
}

static bool has(const char *out, const char *needle)
{
    return strstr(out, needle) != NULL;
}

/* Number of lines of out that start with prefix. */
static int lines_with(const char *out, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *l = out; l && *l;) {
        if (strncmp(l, prefix, pl) == 0)
            n++;
        l = strchr(l, '\n');
        if (l)
            l++;
    }
    return n;
}

static bool isr_has(const bk_zkc_pstate *st, int id)
{
    for (int i = 0; i < st->nisr; i++)
        if (st->isr[i] == id)
            return true;
    return false;
}

/* Polls `cluster status` until its exit status is want and its output
 * holds needle; the time it took (ms) or -1 after timeout_ms. */
static int64_t wait_status(char *out, int want, const char *needle,
                           int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms();
    for (;;) {
        int rc = status(out);
        if (rc == want && has(out, needle))
            return bk_clock_mono_ms() - t0;
        if (bk_clock_mono_ms() - t0 > timeout_ms) {
            printf("\n    last status (exit %d):\n%s", rc, out);
            return -1;
        }
        bk_h_sleep_ms(100);
    }
}

/* ---------------------------- cluster status ---------------------------- */

static void test_status_healthy(void)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(bt_create_topic(fd, "st3", 3, 3) == 0);
    close(fd);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_FATAL(bk_h_wait_topic(cl, i, "st3", 3, 10000) == 0);
    static char out[OUT_MAX];
    CU_ASSERT_FATAL(wait_status(out, 0, "Status: healthy", 10000) >= 0);
    printf("\n%s", out);

    /* the controller and its epoch, as ZooKeeper has them */
    bk_buf b = BK_BUF_INIT;
    int32_t ctrl = -1, epoch = -1;
    char err[128], want[256];
    CU_ASSERT_FATAL(bk_zk_get(zk, "/controller", &b, NULL, NULL, NULL) == 0);
    CU_ASSERT_FATAL(
        bk_zkc_controller_decode(b.data, b.len, &ctrl, err, sizeof err) == 0);
    bk_buf_free(&b);
    CU_ASSERT_FATAL(bk_zkd_controller_epoch_read(zk, &epoch, NULL) == 0);
    snprintf(want, sizeof want, "Controller: %d (epoch %d)\n", ctrl, epoch);
    CU_ASSERT(has(out, want));
    CU_ASSERT(has(out, "Live brokers: 3\n"));
    for (int i = 0; i < 3; i++) {
        snprintf(want, sizeof want,
                 "\tBroker: %d\tEndpoint: PLAINTEXT://127.0.0.1:%d\n",
                 cl->broker[i].id, cl->broker[i].port);
        CU_ASSERT(has(out, want));
    }
    /* topic and partition counts: what ZooKeeper lists */
    bk_zk_strings topics;
    CU_ASSERT_FATAL(bk_zkd_topics_list(zk, &topics) == 0);
    int32_t nparts = 0;
    for (size_t i = 0; i < topics.n; i++) {
        bk_zkc_assignment a;
        CU_ASSERT_FATAL(bk_zkd_topic_read(zk, topics.v[i], &a, NULL) == 0);
        nparts += a.nparts;
        bk_zkc_assignment_free(&a);
    }
    snprintf(want, sizeof want, "Topics: %zu\tPartitions: %d\n", topics.n,
             nparts);
    CU_ASSERT(has(out, want));
    CU_ASSERT(nparts >= 3);
    bk_zk_strings_free(&topics);
    CU_ASSERT(has(out, "Under-replicated partitions: 0\n"));
    CU_ASSERT(has(out, "Offline partitions: 0\n"));
    CU_ASSERT(has(out, "Missing brokers: none\n"));
    CU_ASSERT(lines_with(out, "\tTopic: ") == 0);
}

static void test_status_under_replicated(void)
{
    static char out[OUT_MAX];
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, 2, SIGKILL) >= 0);
    int64_t t0 = bk_clock_mono_ms();
    /* the controller takes broker 3 out of every ISR of st3 */
    bool out_of_isr = false;
    while (!out_of_isr && bk_clock_mono_ms() - t0 < 20000) {
        out_of_isr = true;
        for (int p = 0; p < 3 && out_of_isr; p++) {
            bk_zkc_pstate st;
            out_of_isr = bk_zkd_pstate_read(zk, "st3", p, &st, NULL) == 0 &&
                         !isr_has(&st, 3) && st.leader >= 1 && st.leader != 3;
        }
        if (!out_of_isr)
            bk_h_sleep_ms(100);
    }
    CU_ASSERT_FATAL(out_of_isr);
    int rc = status(out);
    printf("\n%s", out);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(has(out, "Live brokers: 2\n"));
    CU_ASSERT(has(out, "Offline partitions: 0\n"));
    CU_ASSERT(has(out, "Missing brokers: 3\n"));
    CU_ASSERT(has(out, "Status: under-replicated"));
    /* each st3 partition listed, as ZooKeeper has it */
    for (int p = 0; p < 3; p++) {
        bk_zkc_pstate st;
        bk_zkc_assignment a;
        CU_ASSERT_FATAL(bk_zkd_pstate_read(zk, "st3", p, &st, NULL) == 0);
        CU_ASSERT_FATAL(bk_zkd_topic_read(zk, "st3", &a, NULL) == 0);
        const bk_zkc_part *ap = bk_zkc_assignment_find(&a, p);
        CU_ASSERT_FATAL(ap != NULL);
        char want[256];
        int n = snprintf(want, sizeof want,
                         "\tTopic: st3\tPartition: %d\tLeader: %d\tReplicas: "
                         "%d,%d,%d\tIsr: ",
                         p, st.leader, ap->replicas[0], ap->replicas[1],
                         ap->replicas[2]);
        for (int i = 0; i < st.nisr; i++)
            n += snprintf(want + n, sizeof want - (size_t)n, "%s%d",
                          i ? "," : "", st.isr[i]);
        snprintf(want + n, sizeof want - (size_t)n, "\n");
        CU_ASSERT(has(out, want));
        CU_ASSERT_EQUAL(st.nisr, 2);
        bk_zkc_assignment_free(&a);
    }
    /* the URP count covers st3 and whatever else has a replica on 3
     * (__consumer_offsets is not created in this suite) */
    CU_ASSERT(has(out, "Under-replicated partitions: 3\n"));
    CU_ASSERT_EQUAL(lines_with(out, "\tTopic: st3\t"), 3);

    /* back: healthy again once it is in every ISR */
    CU_ASSERT_FATAL(bk_h_broker_start(cl, 2, true) == 0);
    int64_t took = wait_status(out, 0, "Status: healthy", 20000);
    printf("    broker 3 restarted: `cluster status` healthy after %" PRId64
           " ms\n",
           took);
    CU_ASSERT(took >= 0);
}

static void test_status_offline(void)
{
    static char out[OUT_MAX];
    /* RF 1 on broker 2 only */
    const int32_t replicas[1] = {2};
    bk_zkd_topic_spec spec = {.name = "st1",
                              .partitions = 1,
                              .replication_factor = 1,
                              .replicas = replicas,
                              .start_index = -1,
                              .shift = -1};
    bk_zkd_result res;
    CU_ASSERT_FATAL(bk_zkd_topic_create(zk, &spec, &res) == 0);
    CU_ASSERT_EQUAL_FATAL(res.error, 0);
    CU_ASSERT_FATAL(bk_h_wait_topic(cl, 1, "st1", 1, 10000) == 0);
    CU_ASSERT_FATAL(wait_status(out, 0, "Status: healthy", 10000) >= 0);
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, 1, SIGKILL) >= 0);
    /* offline as soon as broker 2's registration is gone (its leader is
     * not live), whether or not the controller has written leader -1 */
    int64_t took = wait_status(out, 1, "Offline partitions: 1\n", 20000);
    printf("\n%s", out);
    printf("    broker 2 SIGKILLed: st1 offline in `cluster status` after "
           "%" PRId64 " ms (session timeout 3000 ms)\n",
           took);
    CU_ASSERT_FATAL(took >= 0);
    CU_ASSERT(has(out, "\tTopic: st1\tPartition: 0\tLeader: "));
    CU_ASSERT(has(out, "\tReplicas: 2\tIsr: 2\n"));
    CU_ASSERT(has(out, "Status: offline (1 partition)"));
    CU_ASSERT(has(out, "Missing brokers: 2\n"));
    CU_ASSERT(has(out, "Live brokers: 2\n"));
    /* st3 lost a replica too */
    CU_ASSERT(has(out, "Under-replicated partitions: 3\n"));
    CU_ASSERT(has(out, "under-replicated (3 partitions)"));
    CU_ASSERT_FATAL(bk_h_broker_start(cl, 1, true) == 0);
    CU_ASSERT(wait_status(out, 0, "Status: healthy", 20000) >= 0);
}

/* 10,000 partitions written straight into ZooKeeper under a chroot of
 * their own, with fake broker registrations 1-3 and a controller: the
 * counts must be exact and the reads pipelined. */
#define BIG_N 10000

static void big_state(int32_t p, bk_zkc_pstate *st)
{
    memset(st, 0, sizeof *st);
    st->leader = 1;
    st->leader_epoch = 3;
    st->controller_epoch = 5;
    st->nisr = 3;
    st->isr[0] = 1;
    st->isr[1] = 2;
    st->isr[2] = 3;
    if (p % 1000 == 0) { /* offline: no leader (10) */
        st->leader = -1;
        st->nisr = 1;
        st->isr[0] = 3;
    } else if (p == BIG_N - 1) { /* offline: leader not live (1) */
        st->leader = 4;
    } else if (p == BIG_N - 2) { /* replicas 4,1,2: under-replicated and
                                    led by 1, not the preferred 4 */
        st->nisr = 2;
        st->isr[0] = 1;
        st->isr[1] = 2;
    } else if (p % 500 == 7) { /* under-replicated (20) */
        st->nisr = 2;
    } else if (p % 100 == 50) { /* led by 2, not the preferred 1 (100) */
        st->leader = 2;
    }
}

static void test_status_10k(void)
{
    char connect[300];
    snprintf(connect, sizeof connect, "%.256s/bigstatus", cl->zk->connect);
    bk_zk *z;
    CU_ASSERT_FATAL(open_zk(connect, &z) == 0);
    CU_ASSERT_FATAL(bk_zkd_ensure_paths(z, NULL, 0) == 0);
    /* brokers 1-3 (ephemeral: they go with this session) and controller 1 */
    for (int id = 1; id <= 3; id++) {
        bk_zkc_broker b = {.id = id,
                           .version = 4,
                           .jmx_port = -1,
                           .nendpoints = 1,
                           .timestamp = 1};
        snprintf(b.endpoints[0].listener, sizeof b.endpoints[0].listener,
                 "PLAINTEXT");
        snprintf(b.endpoints[0].protocol, sizeof b.endpoints[0].protocol,
                 "PLAINTEXT");
        snprintf(b.endpoints[0].host, sizeof b.endpoints[0].host, "h%d", id);
        b.endpoints[0].port = 9092;
        bk_buf enc = BK_BUF_INIT;
        char path[BK_ZKC_PATH_MAX];
        CU_ASSERT_FATAL(bk_zkc_broker_encode(&b, &enc) == 0);
        bk_zkc_path_broker(path, id);
        CU_ASSERT_FATAL(bk_zk_create(z, path, enc.data, enc.len,
                                     BK_ZK_EPHEMERAL, NULL, 0) == 0);
        bk_buf_free(&enc);
    }
    bk_buf enc = BK_BUF_INIT;
    CU_ASSERT_FATAL(bk_zkc_controller_encode(1, 1, &enc) == 0);
    CU_ASSERT_FATAL(bk_zk_create(z, "/controller", enc.data, enc.len,
                                 BK_ZK_EPHEMERAL, NULL, 0) == 0);
    bk_buf_reset(&enc);
    CU_ASSERT_FATAL(bk_zkc_controller_epoch_encode(5, &enc) == 0);
    CU_ASSERT_FATAL(bk_zk_create(z, "/controller_epoch", enc.data, enc.len, 0,
                                 NULL, 0) == 0);
    /* the assignment: [1,2,3] everywhere but [4,1,2] at BIG_N - 2 */
    int32_t *ids = malloc(sizeof *ids * BIG_N * 3);
    CU_ASSERT_FATAL(ids != NULL);
    for (int32_t p = 0; p < BIG_N; p++) {
        ids[p * 3] = 1;
        ids[p * 3 + 1] = 2;
        ids[p * 3 + 2] = 3;
    }
    ids[(BIG_N - 2) * 3] = 4;
    ids[(BIG_N - 2) * 3 + 1] = 1;
    ids[(BIG_N - 2) * 3 + 2] = 2;
    bk_zkc_assignment a;
    CU_ASSERT_FATAL(bk_zkc_assignment_init(&a, BIG_N, 3, ids) == 0);
    free(ids);
    bk_buf_reset(&enc);
    CU_ASSERT_FATAL(bk_zkc_assignment_encode(&a, &enc) == 0);
    bk_zkc_assignment_free(&a);
    CU_ASSERT_FATAL(bk_zk_create(z, "/brokers/topics/big", enc.data, enc.len, 0,
                                 NULL, 0) == 0);
    CU_ASSERT_FATAL(bk_zk_create(z, "/brokers/topics/big/partitions", NULL, 0,
                                 0, NULL, 0) == 0);
    bk_buf_free(&enc);
    /* partition znodes and states, pipelined multis of 1000 ops */
    enum { PER = 500 }; /* partitions per multi: 2 ops each */
    int nb = BIG_N / PER;
    char(*paths)[2][BK_ZKC_PATH_MAX] = malloc(sizeof *paths * BIG_N);
    bk_buf *data = calloc(BIG_N, sizeof *data);
    bk_zk_op *ops = calloc(2 * BIG_N, sizeof *ops);
    bk_zk_op **batch = calloc((size_t)nb, sizeof *batch);
    int *nops = calloc((size_t)nb, sizeof *nops), *rcs = calloc(nb, 4),
        *failed = calloc(nb, 4);
    CU_ASSERT_FATAL(paths && data && ops && batch && nops && rcs && failed);
    for (int32_t p = 0; p < BIG_N; p++) {
        bk_zkc_pstate st;
        big_state(p, &st);
        CU_ASSERT_FATAL(bk_zkc_pstate_encode(&st, &data[p]) == 0);
        bk_zkc_path_partition(paths[p][0], "big", p);
        bk_zkc_path_partition_state(paths[p][1], "big", p);
        ops[2 * p] = bk_zk_op_create(paths[p][0], NULL, 0, 0);
        ops[2 * p + 1] =
            bk_zk_op_create(paths[p][1], data[p].data, data[p].len, 0);
    }
    for (int k = 0; k < nb; k++) {
        batch[k] = &ops[2 * PER * k];
        nops[k] = 2 * PER;
    }
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_FATAL(bk_zk_multi_batches(z, batch, nops, nb, rcs, failed) == 0);
    for (int k = 0; k < nb; k++)
        CU_ASSERT_EQUAL_FATAL(rcs[k], 0);
    int64_t t_write = bk_clock_mono_ms() - t0;
    for (int32_t p = 0; p < BIG_N; p++)
        bk_buf_free(&data[p]);
    free(paths);
    free(data);
    free(ops);
    free(batch);
    free(nops);
    free(rcs);
    free(failed);

    /* bk_zk_get_many straight: every state plus a missing znode, more
     * than its window of requests in flight */
    {
        size_t n = BIG_N + 1;
        char **gp = calloc(n, sizeof *gp);
        bk_buf *gb = calloc(n, sizeof *gb);
        int *grc = calloc(n, sizeof *grc);
        CU_ASSERT_FATAL(gp && gb && grc);
        for (int32_t p = 0; p < BIG_N; p++) {
            gp[p] = malloc(BK_ZKC_PATH_MAX);
            bk_zkc_path_partition_state(gp[p], "big", p);
        }
        gp[BIG_N] = strdup("/brokers/topics/big/partitions/99999/state");
        t0 = bk_clock_mono_ms();
        CU_ASSERT_EQUAL(bk_zk_get_many(z, (const char *const *)gp, n, gb, grc),
                        0);
        int64_t t_get = bk_clock_mono_ms() - t0;
        int wrong = 0;
        for (int32_t p = 0; p < BIG_N; p++) {
            bk_zkc_pstate got, want;
            char err[128];
            big_state(p, &want);
            wrong += grc[p] != 0 ||
                     bk_zkc_pstate_decode(gb[p].data, gb[p].len, &got, err,
                                          sizeof err) != 0 ||
                     got.leader != want.leader || got.nisr != want.nisr ||
                     memcmp(got.isr, want.isr,
                            sizeof got.isr[0] * (size_t)want.nisr) != 0;
        }
        CU_ASSERT_EQUAL(wrong, 0);
        CU_ASSERT_EQUAL(grc[BIG_N], -BK_ENOENT);
        CU_ASSERT_EQUAL(gb[BIG_N].len, 0);
        printf("\n    bk_zk_get_many: %d state znodes read in %" PRId64 " ms",
               BIG_N, t_get);
        for (size_t i = 0; i < n; i++) {
            free(gp[i]);
            bk_buf_free(&gb[i]);
        }
        free(gp);
        free(gb);
        free(grc);
    }

    /* brookctl on that chroot */
    char saved[sizeof cl->zk_connect];
    memcpy(saved, cl->zk_connect, sizeof saved);
    snprintf(cl->zk_connect, sizeof cl->zk_connect, "%s", connect);
    static char out[OUT_MAX];
    t0 = bk_clock_mono_ms();
    int rc = status(out);
    int64_t t_status = bk_clock_mono_ms() - t0;
    static char dout[4 << 20];
    const char *dargs[] = {"topics", "describe", "--topic", "big", NULL};
    t0 = bk_clock_mono_ms();
    int drc = bk_h_brookctl(cl, dout, sizeof dout, dargs);
    int64_t t_describe = bk_clock_mono_ms() - t0;
    memcpy(cl->zk_connect, saved, sizeof saved);
    printf("\n    %d partitions (written in %" PRId64
           " ms): `cluster status` %" PRId64 " ms, `topics describe` "
           "%" PRId64 " ms\n",
           BIG_N, t_write, t_status, t_describe);
    CU_ASSERT_EQUAL(drc, 0);
    CU_ASSERT_EQUAL(rc, 1); /* offline partitions */
    CU_ASSERT(has(out, "Controller: 1 (epoch 5)\n"));
    CU_ASSERT(has(out, "Live brokers: 3\n"));
    CU_ASSERT(has(out, "\tBroker: 2\tEndpoint: PLAINTEXT://h2:9092\n"));
    CU_ASSERT(has(out, "Topics: 1\tPartitions: 10000\n"));
    CU_ASSERT(has(out, "Under-replicated partitions: 21\n"));
    CU_ASSERT(has(out, "Offline partitions: 11\n"));
    CU_ASSERT(has(out, "Preferred replica not leader: 101\n"));
    CU_ASSERT(has(out, "Missing brokers: 4\n"));
    CU_ASSERT(has(out, "Status: offline (11 partitions), under-replicated "
                       "(21 partitions)\n"));
    CU_ASSERT_EQUAL(lines_with(out, "\tTopic: big\t"), 32);
    CU_ASSERT(has(out, "\tTopic: big\tPartition: 0\tLeader: none\tReplicas: "
                       "1,2,3\tIsr: 3\n"));
    CU_ASSERT(has(out, "\tTopic: big\tPartition: 9999\tLeader: 4\tReplicas: "
                       "1,2,3\tIsr: 1,2,3\n"));
    CU_ASSERT(has(out, "\tTopic: big\tPartition: 9998\tLeader: 1\tReplicas: "
                       "4,1,2\tIsr: 1,2\n"));
    CU_ASSERT(has(out, "\tTopic: big\tPartition: 507\tLeader: 1\tReplicas: "
                       "1,2,3\tIsr: 1,2\n"));
    /* generous: pipelined, it takes a few hundred ms on a laptop */
    CU_ASSERT(t_status < 10000);

    /* no controller: exit 1 even with every partition fine */
    CU_ASSERT_FATAL(bk_zk_delete(z, "/controller", -1) == 0);
    bk_zk_strings kids;
    CU_ASSERT_FATAL(bk_zk_children(z, "/brokers/topics/big/partitions", &kids,
                                   NULL, NULL) == 0);
    CU_ASSERT_EQUAL(kids.n, BIG_N);
    bk_zk_strings_free(&kids);
    snprintf(cl->zk_connect, sizeof cl->zk_connect, "%s", connect);
    rc = status(out);
    memcpy(cl->zk_connect, saved, sizeof saved);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT(has(out, "Controller: none\n"));
    CU_ASSERT(has(out, "no controller"));
    bk_zk_close(z);
}

static void test_status_zk_down(void)
{
    static char out[OUT_MAX];
    bk_zk_close(zk);
    zk = NULL;
    bk_h_zk_kill_node(cl->zk, 0);
    int64_t t0 = bk_clock_mono_ms();
    int rc = status(out);
    printf("\n    ZooKeeper down: exit %d after %" PRId64 " ms: %s", rc,
           bk_clock_mono_ms() - t0, out);
    CU_ASSERT_EQUAL(rc, 3);
    CU_ASSERT(has(out, "cannot connect to ZooKeeper"));
}

static CU_TestInfo status_tests[] = {
    {"healthy: exit 0, controller, brokers, counts", test_status_healthy},
    {"a broker of an RF=3 topic SIGKILLed: under-replicated, exit 0",
     test_status_under_replicated},
    {"the broker of an RF=1 topic SIGKILLed: offline, exit 1",
     test_status_offline},
    {"10,000 partitions: exact counts, pipelined reads", test_status_10k},
    {"ZooKeeper down: exit 3", test_status_zk_down},
    CU_TEST_INFO_NULL,
};

/* ---------------------------- rolling restart ---------------------------- */

#define RT_TOPIC "roll"
#define RT_NP    6
#define RT_GROUP "roll-g"

static int rolling_suite_init(void)
{
    cl = bk_h_cluster_start("rolling", 1, 3,
                            "offsets.topic.num.partitions=5\n"
                            "offsets.topic.replication.factor=3\n"
                            "group.initial.rebalance.delay.ms=0\n"
                            "group.min.session.timeout.ms=1000\n"
                            "zookeeper.session.timeout.ms=6000\n"
                            "replica.lag.time.max.ms=5000\n"
                            "controlled.shutdown.retry.backoff.ms=500\n");
    if (!cl || open_zk(cl->zk_connect, &zk) != 0)
        return 1;
    int fd = bk_h_connect(cl->broker[0].port);
    const char *cfg[] = {"min.insync.replicas", "2", NULL};
    int rc = fd >= 0 && bt_create_topic_cfg(fd, RT_TOPIC, RT_NP, 3, cfg) == 0
                 ? 0
                 : 1;
    if (fd >= 0)
        close(fd);
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = bk_h_wait_topic(cl, i, RT_TOPIC, RT_NP, 10000) == 0 ? 0 : 1;
    return rc;
}

/* Errors the clients saw, by kind.  Filled from the client threads and the
 * stderr reader; read by the test at the end. */
#define MAX_KINDS 48
static pthread_mutex_t kinds_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char kind[96];
    long n;
    bool bad; /* not a retriable kind */
    char example[256];
} kinds[MAX_KINDS];
static int nkinds;

/* The kind of an error text, or NULL when it is not a retriable one. */
static const char *classify(const char *msg)
{
    static const char *const names[] = {
        "NOT_LEADER_FOR_PARTITION",
        "LEADER_NOT_AVAILABLE",
        "NOT_COORDINATOR",
        "COORDINATOR_NOT_AVAILABLE",
        "COORDINATOR_LOAD_IN_PROGRESS",
        "REBALANCE_IN_PROGRESS",
        "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        "NOT_ENOUGH_REPLICAS",
        "REQUEST_TIMED_OUT",
        "NETWORK_EXCEPTION",
        /* a new coordinator does not know the members (membership is not
         * persisted, DESIGN.md section 9): the member rejoins */
        "UNKNOWN_MEMBER_ID",
        "ILLEGAL_GENERATION",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strstr(msg, names[i]))
            return names[i];
    static const char *const net[][2] = {
        {"Connection refused", "network: connection refused"},
        {"closed the connection", "network: connection closed"},
        {"Connection reset", "network: connection reset"},
        {"Broken pipe", "network: broken pipe"},
        {"timed out", "network: timed out"},
    };
    for (size_t i = 0; i < sizeof net / sizeof net[0]; i++)
        if (strstr(msg, net[i][0]))
            return net[i][1];
    return NULL;
}

static void count_error(const char *who, const char *msg)
{
    const char *k = classify(msg);
    char kind[96];
    snprintf(kind, sizeof kind, "%s: %s", who, k ? k : "OTHER");
    pthread_mutex_lock(&kinds_mu);
    int i = 0;
    while (i < nkinds && strcmp(kinds[i].kind, kind) != 0)
        i++;
    if (i == nkinds && nkinds < MAX_KINDS) {
        snprintf(kinds[i].kind, sizeof kinds[i].kind, "%s", kind);
        snprintf(kinds[i].example, sizeof kinds[i].example, "%s", msg);
        kinds[i].bad = k == NULL;
        nkinds++;
    }
    if (i < nkinds)
        kinds[i].n++;
    pthread_mutex_unlock(&kinds_mu);
}

/* A client's brook_last_error() text, counted when it changed. */
static void watch_last_error(brook_client *c, const char *who, char *seen,
                             size_t len)
{
    const char *e = brook_last_error(c);
    if (*e && strncmp(e, seen, len - 1) != 0) {
        snprintf(seen, len, "%s", e);
        count_error(who, e);
    }
}

/* stderr capture: libbrook logs "retrying batch of N records to T-P: ERR"
 * at debug level, the one place where the producer's retried errors show;
 * every other line that is not debug goes to the real stderr. */
static int saved_stderr = -1;
static int log_pipe[2] = {-1, -1};
static pthread_t log_thread;

static void *log_reader(void *arg)
{
    (void)arg;
    FILE *f = fdopen(log_pipe[0], "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        const char *r = strstr(line, "[client] retrying batch");
        if (r) {
            const char *e = strrchr(r, ':');
            char msg[128];
            snprintf(msg, sizeof msg, "%s", e ? e + 2 : r);
            msg[strcspn(msg, "\n")] = '\0';
            count_error("producer retry", msg);
            continue;
        }
        if (strstr(line, " DEBUG "))
            continue;
        ssize_t w = write(saved_stderr, line, strlen(line));
        (void)w;
    }
    if (f)
        fclose(f);
    return NULL;
}

static int capture_start(void)
{
    if (pipe(log_pipe) != 0)
        return -1;
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    if (saved_stderr < 0 || dup2(log_pipe[1], STDERR_FILENO) < 0)
        return -1;
    close(log_pipe[1]);
    bk_logging_set_level(BK_LVL_DEBUG);
    return pthread_create(&log_thread, NULL, log_reader, NULL) == 0 ? 0 : -1;
}

static void capture_stop(void)
{
    bk_logging_set_level(BK_LVL_WARN);
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO); /* closes the pipe's last writer */
    pthread_join(log_thread, NULL);
    close(saved_stderr);
    saved_stderr = -1;
}

/* ------------------------------ producer ------------------------------ */

typedef struct rt_ack {
    int32_t p;
    int64_t off; /* -1 until acknowledged */
    int err;     /* -1 until reported */
} rt_ack;

static struct {
    pthread_t th;
    atomic_bool stop;
    rt_ack *acks; /* by sequence number */
    size_t n, cap;
    long failed;
    int first_err;
    bool flushed;
    pthread_mutex_t mu; /* guards the stall bookkeeping */
    int64_t last_ack_ms, window_gap_ms, max_gap_ms;
} pr = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void rt_dr(brook_client *c, const brook_dr *dr, void *app)
{
    (void)c;
    (void)app;
    size_t n = (size_t)(uintptr_t)dr->opaque;
    if (n >= pr.n)
        return;
    pr.acks[n].err = dr->err;
    if (dr->err) {
        if (!pr.failed++)
            pr.first_err = dr->err;
        count_error("producer delivery", brook_err_name(dr->err));
        return;
    }
    pr.acks[n].p = dr->partition;
    pr.acks[n].off = dr->offset;
    int64_t now = bk_clock_mono_ms();
    pthread_mutex_lock(&pr.mu);
    int64_t gap = now - pr.last_ack_ms;
    if (pr.last_ack_ms && gap > pr.window_gap_ms)
        pr.window_gap_ms = gap;
    if (pr.last_ack_ms && gap > pr.max_gap_ms)
        pr.max_gap_ms = gap;
    pr.last_ack_ms = now;
    pthread_mutex_unlock(&pr.mu);
}

static void *producer_main(void *arg)
{
    (void)arg;
    brook_conf *conf = brook_conf_new();
    char err[256];
    const char *kv[][2] = {
        {"bootstrap.servers", cl->bootstrap},
        {"client.id", "roll-producer"},
        {"acks", "all"},
        {"linger.ms", "5"},
        {"request.timeout.ms", "5000"},
        {"delivery.timeout.ms", "60000"},
        {"metadata.max.age.ms", "1000"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (brook_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err) != 0)
            abort();
    brook_conf_set_dr_cb(conf, rt_dr, NULL);
    brook_client *c = brook_client_new(conf, err, sizeof err);
    if (!c)
        abort();
    char seen[256] = "";
    /* about 2000 records a second, 10 every 5 ms */
    int64_t t0 = bk_clock_mono_ms();
    for (long tick = 0; !atomic_load(&pr.stop); tick++) {
        for (int k = 0; k < 10; k++) {
            if (pr.n == pr.cap) {
                pr.cap = pr.cap ? 2 * pr.cap : 65536;
                pr.acks = realloc(pr.acks, pr.cap * sizeof *pr.acks);
                if (!pr.acks)
                    abort();
            }
            size_t n = pr.n;
            char key[32], val[32];
            int kl = snprintf(key, sizeof key, "k-%zu", n);
            int vl = snprintf(val, sizeof val, "v-%zu", n);
            pr.acks[n] = (rt_ack){.p = -1, .off = -1, .err = -1};
            pr.n++;
            int r = brook_produce(c, RT_TOPIC, BROOK_PARTITION_ANY, key, kl,
                                  val, vl, NULL, 0, BROOK_TIMESTAMP_NOW,
                                  (void *)(uintptr_t)n);
            if (r != 0) { /* BK_AGAIN: buffer full, never sent */
                pr.n--;
                break;
            }
        }
        int64_t due = t0 + (tick + 1) * 5;
        for (int64_t now; (now = bk_clock_mono_ms()) < due;)
            brook_poll(c, (int)(due - now));
        brook_poll(c, 0);
        watch_last_error(c, "producer", seen, sizeof seen);
    }
    pr.flushed = brook_flush(c, 70000) == 0;
    watch_last_error(c, "producer", seen, sizeof seen);
    brook_client_destroy(c);
    return NULL;
}

/* ------------------------------ consumers ------------------------------ */

typedef struct rt_rec {
    int32_t p;
    int64_t off;
    long seq;
} rt_rec;

typedef struct rt_member {
    char name[16];
    pthread_t th;
    atomic_bool stop;
    brook_client *c;
    pthread_mutex_t mu;
    rt_rec *recs;
    size_t n, cap;
} rt_member;

static void *member_main(void *arg)
{
    rt_member *m = arg;
    const char *topics[1] = {RT_TOPIC};
    char seen[256] = "";
    if (brook_subscribe(m->c, topics, 1) != 0)
        abort();
    while (!atomic_load(&m->stop)) {
        const brook_msg *msg;
        int r = brook_consume(m->c, 100, &msg);
        watch_last_error(m->c, "consumer", seen, sizeof seen);
        if (r <= 0)
            continue;
        if (msg->type == BROOK_MSG_ERROR) {
            count_error("consumer event", brook_err_name(msg->err));
            continue;
        }
        if (msg->type != BROOK_MSG_RECORD)
            continue;
        long seq = -1;
        if (msg->value_len > 2 && msg->value_len < 30 &&
            memcmp(msg->value, "v-", 2) == 0) {
            char v[32];
            memcpy(v, msg->value, (size_t)msg->value_len);
            v[msg->value_len] = '\0';
            seq = atol(v + 2);
        }
        pthread_mutex_lock(&m->mu);
        if (m->n == m->cap) {
            m->cap = m->cap ? 2 * m->cap : 65536;
            m->recs = realloc(m->recs, m->cap * sizeof *m->recs);
            if (!m->recs)
                abort();
        }
        m->recs[m->n++] = (rt_rec){msg->partition, msg->offset, seq};
        pthread_mutex_unlock(&m->mu);
    }
    brook_consumer_close(m->c, 10000);
    watch_last_error(m->c, "consumer", seen, sizeof seen);
    return NULL;
}

static rt_member *member_start(const char *name)
{
    rt_member *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    snprintf(m->name, sizeof m->name, "%s", name);
    pthread_mutex_init(&m->mu, NULL);
    brook_conf *conf = brook_conf_new();
    char err[256];
    const char *kv[][2] = {
        {"bootstrap.servers", cl->bootstrap},
        {"group.id", RT_GROUP},
        {"client.id", name},
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "500"},
        {"max.poll.interval.ms", "20000"},
        {"enable.auto.commit", "true"},
        {"auto.commit.interval.ms", "200"},
        {"auto.offset.reset", "earliest"},
        {"fetch.max.wait.ms", "100"},
        {"request.timeout.ms", "5000"},
        {"metadata.max.age.ms", "1000"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (brook_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err) != 0)
            abort();
    m->c = brook_client_new(conf, err, sizeof err);
    if (!m->c || pthread_create(&m->th, NULL, member_main, m) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void member_stop(rt_member *m)
{
    atomic_store(&m->stop, true);
    pthread_join(m->th, NULL);
    brook_client_destroy(m->c);
    m->c = NULL;
}

/* Records consumed of partition p at offsets [0, leo): true when every
 * offset was seen. */
static bool consumed_all(rt_member *const *ms, int nm, const int64_t *leo)
{
    bool ok = true;
    for (int p = 0; p < RT_NP && ok; p++) {
        bool *seen = calloc((size_t)leo[p] + 1, 1);
        for (int i = 0; i < nm; i++) {
            pthread_mutex_lock(&ms[i]->mu);
            for (size_t k = 0; k < ms[i]->n; k++)
                if (ms[i]->recs[k].p == p && ms[i]->recs[k].off >= 0 &&
                    ms[i]->recs[k].off < leo[p])
                    seen[ms[i]->recs[k].off] = true;
            pthread_mutex_unlock(&ms[i]->mu);
        }
        for (int64_t o = 0; o < leo[p] && ok; o++)
            ok = seen[o];
        free(seen);
    }
    return ok;
}

/* The leader of roll/p as ZooKeeper has it, -1 when none. */
static int leader_of(int p)
{
    bk_zkc_pstate st;
    return bk_zkd_pstate_read(zk, RT_TOPIC, p, &st, NULL) == 0 ? st.leader : -1;
}

/* ------------------------------- the test ------------------------------- */

static void rolling_restart(int passes)
{
    static char out[OUT_MAX];
    CU_ASSERT_FATAL(wait_status(out, 0, "Status: healthy", 20000) >= 0);
    CU_ASSERT_FATAL(capture_start() == 0);
    rt_member *ms[2] = {member_start("roll-c0"), member_start("roll-c1")};
    CU_ASSERT_FATAL(ms[0] && ms[1]);
    CU_ASSERT_FATAL(pthread_create(&pr.th, NULL, producer_main, NULL) == 0);
    bk_h_sleep_ms(2000);
    /* the group's coordinator exists now: __consumer_offsets is healthy
     * before the first restart */
    CU_ASSERT(wait_status(out, 0, "Under-replicated partitions: 0\n", 20000) >=
              0);

    for (int round = 0; round < passes * 3; round++) {
        int i = round % 3;
        pthread_mutex_lock(&pr.mu);
        pr.window_gap_ms = 0;
        pthread_mutex_unlock(&pr.mu);
        int64_t t0 = bk_clock_mono_ms();
        int ws = bk_h_broker_signal(cl, i, SIGTERM);
        int64_t t_stop = bk_clock_mono_ms() - t0;
        CU_ASSERT(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
        /* controlled shutdown: it led nothing when it stopped */
        int led = 0;
        for (int p = 0; p < RT_NP; p++)
            led += leader_of(p) == cl->broker[i].id;
        CU_ASSERT_EQUAL(led, 0);
        /* while it is down: its replicas are out of the ISRs, nothing is
         * offline, and status says so with exit status 0 -- once a
         * controller exists (when the stopped broker was the controller,
         * status says "no controller" and exits 1 for a moment) */
        int64_t t_ctrl =
            wait_status(out, 0, "Status: under-replicated (", 10000);
        CU_ASSERT(t_ctrl >= 0);
        CU_ASSERT(has(out, "Offline partitions: 0\n"));
        CU_ASSERT(has(out, "Live brokers: 2\n"));
        int64_t t1 = bk_clock_mono_ms();
        CU_ASSERT_FATAL(bk_h_broker_start(cl, i, true) == 0);
        int64_t t_start = bk_clock_mono_ms() - t1;
        /* the README's procedure: next broker once nothing is
         * under-replicated */
        int64_t t_urp =
            wait_status(out, 0, "Under-replicated partitions: 0\n", 30000);
        CU_ASSERT_FATAL(t_urp >= 0);
        CU_ASSERT(has(out, "Status: healthy"));
        int64_t total = bk_clock_mono_ms() - t0;
        bk_h_sleep_ms(500); /* a little load between restarts */
        pthread_mutex_lock(&pr.mu);
        int64_t gap = pr.window_gap_ms;
        pthread_mutex_unlock(&pr.mu);
        printf("\n    broker %d: SIGTERM -> exit %" PRId64
               " ms, start -> registered %" PRId64
               " ms, -> no under-replicated partition %" PRId64
               " ms (restart %" PRId64 " ms); producer's longest stall %" PRId64
               " ms",
               cl->broker[i].id, t_stop, t_start, t_urp, total, gap);
    }
    bk_h_sleep_ms(1000);
    atomic_store(&pr.stop, true);
    pthread_join(pr.th, NULL);
    CU_ASSERT(pr.flushed);

    /* log ends, then wait until the group consumed everything */
    int64_t leo[RT_NP];
    for (int p = 0; p < RT_NP; p++) {
        int port = bt_port_of(cl, leader_of(p));
        int fd = port > 0 ? bk_h_connect(port) : -1;
        CU_ASSERT_FATAL(fd >= 0);
        leo[p] = -1;
        CU_ASSERT_EQUAL(bt_list_offsets(fd, RT_TOPIC, p, -1, &leo[p], NULL), 0);
        close(fd);
    }
    int64_t t0 = bk_clock_mono_ms();
    bool all = false;
    while (!(all = consumed_all(ms, 2, leo)) && bk_clock_mono_ms() - t0 < 30000)
        bk_h_sleep_ms(200);
    CU_ASSERT(all);
    member_stop(ms[0]);
    member_stop(ms[1]);
    capture_stop();

    /* the producer: every record reported, none finally failed */
    size_t acked = 0, unreported = 0;
    for (size_t n = 0; n < pr.n; n++) {
        acked += pr.acks[n].err == 0;
        unreported += pr.acks[n].err == -1;
    }
    printf("\n    producer: %zu records, %zu acknowledged, %ld failed%s%s, "
           "longest stall %" PRId64 " ms\n",
           pr.n, acked, pr.failed, pr.failed ? " (first: " : "",
           pr.failed ? brook_err_name(pr.first_err) : "", pr.max_gap_ms);
    CU_ASSERT_EQUAL(pr.failed, 0);
    CU_ASSERT_EQUAL(unreported, 0);
    CU_ASSERT(acked > 0);

    /* the log: read back from 0 at each leader */
    long missing = 0, misplaced = 0, foreign = 0, log_dups = 0;
    long *at_seq = calloc(pr.n + 1, sizeof *at_seq); /* copies in logs */
    for (int p = 0; p < RT_NP; p++) {
        int port = bt_port_of(cl, leader_of(p));
        int fd = port > 0 ? bk_h_connect(port) : -1;
        CU_ASSERT_FATAL(fd >= 0);
        bt_fetch_res r;
        bt_fetch_all(fd, RT_TOPIC, p, &r);
        close(fd);
        CU_ASSERT_EQUAL_FATAL(r.error, 0);
        CU_ASSERT_EQUAL((int64_t)r.nrecs, leo[p]);
        long *seq_at = malloc((r.nrecs + 1) * sizeof *seq_at);
        for (size_t k = 0; k < r.nrecs; k++) {
            seq_at[k] = -1;
            const char *v = r.recs[k].value;
            char *end = NULL;
            long s = strncmp(v, "v-", 2) == 0 ? strtol(v + 2, &end, 10) : -1;
            if (!end || *end || s < 0 || (size_t)s >= pr.n ||
                r.recs[k].offset != (int64_t)k) {
                foreign++;
                continue;
            }
            seq_at[k] = s;
            if (at_seq[s]++ > 0)
                log_dups++;
        }
        for (size_t n = 0; n < pr.n; n++) {
            if (pr.acks[n].err != 0 || pr.acks[n].p != p)
                continue;
            int64_t o = pr.acks[n].off;
            if (o < 0 || o >= (int64_t)r.nrecs)
                missing++;
            else if (seq_at[o] != (long)n)
                misplaced++;
        }
        free(seq_at);
        bt_fetch_free(&r);
    }
    printf("    log: %ld acknowledged records missing, %ld misplaced, %ld "
           "unknown, %ld extra copies (retried batches)\n",
           missing, misplaced, foreign, log_dups);
    CU_ASSERT_EQUAL(missing, 0);
    CU_ASSERT_EQUAL(misplaced, 0);
    CU_ASSERT_EQUAL(foreign, 0);

    /* the group: every acknowledged record consumed at least once */
    long *consumed = calloc(pr.n + 1, sizeof *consumed);
    long twice = 0, not_consumed = 0, total = 0;
    for (int i = 0; i < 2; i++) {
        for (size_t k = 0; k < ms[i]->n; k++) {
            long s = ms[i]->recs[k].seq;
            if (s >= 0 && (size_t)s < pr.n && consumed[s]++ > 0)
                twice++;
        }
        total += (long)ms[i]->n;
    }
    for (size_t n = 0; n < pr.n; n++)
        if (pr.acks[n].err == 0 && consumed[n] == 0) {
            if (not_consumed++ < 5)
                printf("    never consumed: v-%zu (partition %d offset "
                       "%" PRId64 ")\n",
                       n, pr.acks[n].p, pr.acks[n].off);
        }
    printf("    group: %ld records consumed by 2 members (%zu + %zu), %ld "
           "consumed more than once, %ld acknowledged records never "
           "consumed\n",
           total, ms[0]->n, ms[1]->n, twice, not_consumed);
    CU_ASSERT_EQUAL(not_consumed, 0);

    /* errors by kind */
    int bad = 0;
    printf("    errors seen by the clients:%s\n", nkinds ? "" : " none");
    for (int k = 0; k < nkinds; k++) {
        printf("      %-48s %6ld%s%s\n", kinds[k].kind, kinds[k].n,
               kinds[k].bad ? "   NOT RETRIABLE: " : "",
               kinds[k].bad ? kinds[k].example : "");
        bad += kinds[k].bad;
    }
    CU_ASSERT_EQUAL(bad, 0);

    free(consumed);
    free(at_seq);
    for (int i = 0; i < 2; i++) {
        pthread_mutex_destroy(&ms[i]->mu);
        free(ms[i]->recs);
        free(ms[i]);
    }
    free(pr.acks);
}

static void test_rolling_restart(void)
{
    rolling_restart(bk_test_long ? 3 : 1);
}

static CU_TestInfo rolling_tests[] = {
    {"rolling restart (SIGTERM each broker in turn) under acks=all load and "
     "a consumer group: nothing acknowledged lost, only retriable errors",
     test_rolling_restart},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_logging_set_level(BK_LVL_WARN);
    bk_test_add_suite_fn("cluster status", status_tests, status_suite_init,
                         suite_clean);
    bk_test_add_suite_fn("rolling restart", rolling_tests, rolling_suite_init,
                         suite_clean);
}
