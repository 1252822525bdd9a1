/*
 * test_replication.c -- replication between brookd processes, with a real
 * ZooKeeper and three brokers (broker/repl.h, broker/fetcher.h):
 *   - an RF=3 topic produced to with acks=1: once the leader's high
 *     watermark covers everything, all three replicas hold byte-identical
 *     logs (the segments' bytes, concatenated in offset order) and
 *     identical leader-epoch checkpoints;
 *   - consumers see only offsets below the high watermark: with both
 *     followers SIGSTOPped, an acks=1 append moves the leader's LEO but
 *     not what ListOffsets(latest) or a consumer's Fetch return, while a
 *     replica's Fetch reads it, and the leader's periodic
 *     replication-offset-checkpoint (every 200 ms here) holds the HW, not
 *     the LEO; a consumer's long poll waiting at the HW is answered as
 *     soon as the followers (SIGCONT) catch up, and the checkpoint follows;
 *   - fencing of replica fetches: a newer current_leader_epoch gets
 *     UNKNOWN_LEADER_EPOCH, a fetch sent to a follower gets
 *     NOT_LEADER_FOR_PARTITION.
 *   - a zombie leader: the leader appends records alone (followers
 *     SIGSTOPped), is SIGSTOPped itself while the state znode moves the
 *     leadership to a follower (epoch + 1, as the controller does); the
 *     new leader takes acks=all writes; when the old one resumes it
 *     becomes a follower, truncates by leader epoch (OffsetForLeaderEpoch)
 *     and ends byte-identical to the new leader, its lone records gone and
 *     every acknowledged one kept;
 *   - high-watermark checkpoint at a clean restart: an RF=1 topic's
 *     broker, SIGTERMed, leaves "<topic> 0 <hw>" in its log dir's
 *     replication-offset-checkpoint, and once restarted ListOffsets(latest)
 *     and a consumer's Fetch end at that HW.
 * Suite "acks-all" (replica.lag.time.max.ms=1000, short enough that the
 * SIGSTOPped brokers keep their 6 s ZooKeeper sessions; topic
 * min.insync.replicas=2):
 *   - acks=all with the whole ISR answers once every replica has it;
 *   - one follower SIGSTOPped: the leader shrinks the ISR in the state
 *     znode after the lag time, and acks=all still succeeds;
 *   - the second one SIGSTOPped: a short acks=all times out
 *     (REQUEST_TIMED_OUT), a long one ends with
 *     NOT_ENOUGH_REPLICAS_AFTER_APPEND once the ISR shrinks to the
 *     leader, and the next one is refused before appending
 *     (NOT_ENOUGH_REPLICAS) with nothing appended;
 *   - SIGCONT: both rejoin the ISR and acks=all succeeds again.
 */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fileio.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "proto/protocol.h"
#include "tests/integration/brokertest.h"
#include "tests/unit/cu_main.h"

#define TOPIC "r3"

static bk_h_cluster *cl;

static int suite_init(void)
{
    cl = bk_h_cluster_start("repl", 1, 3,
                            "replica.lag.time.max.ms=30000\n"
                            "replica.high.watermark.checkpoint.interval.ms="
                            "200\n"
                            "default.replication.factor=3\n");
    if (!cl)
        return 1;
    int fd = bk_h_connect(cl->broker[0].port);
    const char *cfg[] = {"segment.bytes", "20000", NULL};
    int rc = bt_create_topic_cfg(fd, TOPIC, 1, 3, cfg) == 0 ? 0 : 1;
    close(fd);
    for (int i = 0; rc == 0 && i < 3; i++)
        if (bk_h_wait_topic(cl, i, TOPIC, 1, 10000) != 0)
            rc = 1;
    return rc;
}

static bk_zk *zk1; /* the test's session on cl's ZooKeeper */

static int suite_clean(void)
{
    bk_zk_close(zk1);
    zk1 = NULL;
    int problems = bk_h_cluster_log_problems(cl);
    bk_h_cluster_stop(cl);
    cl = NULL;
    return problems ? 1 : 0;
}

static int read_file(const char *dir, const char *name, bk_buf *out)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *data = NULL;
    size_t len = 0;
    if (bk_file_read_all(path, 1u << 20, &data, &len) != 0)
        return -1;
    bk_buf_put(out, data, len);
    free(data);
    return 0;
}

/* Waits until ListOffsets(latest) of a consumer on broker i is `want`. */
static int64_t wait_hw(int i, int64_t want, int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms(), off = -1;
    while (bk_clock_mono_ms() - t0 < timeout_ms) {
        int fd = bk_h_connect(cl->broker[i].port);
        off = -1;
        if (fd >= 0) {
            bt_list_offsets(fd, TOPIC, 0, -1, &off, NULL);
            close(fd);
        }
        if (off == want)
            return off;
        bk_h_sleep_ms(50);
    }
    return off;
}

static int leader_index(void)
{
    int id = bt_leader(cl->broker[0].port, TOPIC, 0);
    return id >= 1 && id <= 3 ? id - 1 : -1;
}

/* Waits until broker i's replication-offset-checkpoint (in the log dir
 * holding topic/0) has the line "<topic> 0 <hw>".  True when it does. */
static bool wait_hw_ckpt(int i, const char *topic, int64_t hw, int timeout_ms)
{
    char path[4200], line[300];
    snprintf(path, sizeof path, "%s/../replication-offset-checkpoint",
             bk_h_partition_dir(cl, i, topic, 0));
    snprintf(line, sizeof line, "\n%s 0 %lld\n", topic, (long long)hw);
    int64_t t0 = bk_clock_mono_ms();
    while (!bt_file_contains(path, line)) {
        if (bk_clock_mono_ms() - t0 > timeout_ms)
            return false;
        bk_h_sleep_ms(50);
    }
    return true;
}

/* A replica's fetch: replica_id and current_leader_epoch set. */
static int replica_fetch(int port, int32_t replica, int32_t epoch,
                         int64_t offset, bt_fetch_res *out)
{
    int fd = bk_h_connect(port);
    if (fd < 0)
        return -1;
    Brook__Request req;
    int32_t corr = bt_corr();
    bk_h_req_init(&req, BK_API_FETCH, corr);
    Brook__FetchRequest fr = BROOK__FETCH_REQUEST__INIT;
    Brook__FetchTopic ft = BROOK__FETCH_TOPIC__INIT;
    Brook__FetchPartition fp = BROOK__FETCH_PARTITION__INIT;
    Brook__FetchTopic *ftp = &ft;
    Brook__FetchPartition *fpp = &fp;
    fr.replica_id = replica;
    fr.max_wait_ms = 0;
    fr.min_bytes = 1;
    fr.max_bytes = 1 << 20;
    fr.n_topics = 1;
    fr.topics = &ftp;
    ft.topic = TOPIC;
    ft.n_partitions = 1;
    ft.partitions = &fpp;
    fp.partition = 0;
    fp.current_leader_epoch = epoch;
    fp.fetch_offset = offset;
    fp.log_start_offset = 0;
    fp.partition_max_bytes = 1 << 20;
    req.body_case = BROOK__REQUEST__BODY_FETCH;
    req.fetch = &fr;
    int rc = bk_h_send_request(fd, &req);
    if (rc == 0)
        bt_fetch_recv(fd, corr, offset, 10000, out);
    close(fd);
    return rc;
}

/* Writes topic/0's state (as the controller would): leader, epoch + 1,
 * isr, conditional on the version read.  0 or -1. */
static int move_leader(const char *topic, int32_t leader, const int32_t *isr,
                       int nisr)
{
    char err[256];
    if (!zk1) {
        bk_zk_opts o = {.connect = cl->zk_connect,
                        .session_timeout_ms = 6000,
                        .connect_timeout_ms = 5000};
        if (bk_zk_open(&o, &zk1, err, sizeof err) != 0)
            return -1;
    }
    char path[BK_ZKC_PATH_MAX];
    bk_zkc_path_partition_state(path, topic, 0);
    bk_buf b = BK_BUF_INIT;
    bk_zk_stat st;
    bk_zkc_pstate ps;
    int rc = -1;
    if (bk_zk_get(zk1, path, &b, &st, NULL, NULL) == 0 &&
        bk_zkc_pstate_decode(b.data, b.len, &ps, err, sizeof err) == 0) {
        ps.leader = leader;
        ps.leader_epoch++;
        ps.nisr = nisr;
        memcpy(ps.isr, isr, (size_t)nisr * sizeof *isr);
        bk_buf_reset(&b);
        if (bk_zkc_pstate_encode(&ps, &b) == 0 &&
            bk_zk_set(zk1, path, b.data, b.len, st.version, NULL) == 0)
            rc = 0;
    }
    bk_buf_free(&b);
    return rc;
}

/* ------------------------------- tests ------------------------------- */

#define NBATCH 200
#define PERB   5

static void test_identical_replicas(void)
{
    int li = leader_index();
    CU_ASSERT_FATAL(li >= 0);
    int fd = bk_h_connect(cl->broker[li].port);
    CU_ASSERT_FATAL(fd >= 0);
    int errors = 0;
    for (int i = 0; i < NBATCH; i++) {
        int64_t base = -1;
        if (bt_produce(fd, TOPIC, 0, 1, "rep", i * PERB, PERB, &base) != 0 ||
            base != (int64_t)i * PERB)
            errors++;
    }
    close(fd);
    CU_ASSERT_EQUAL(errors, 0);
    /* The HW reaches the end only when both followers have everything. */
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(wait_hw(li, NBATCH * PERB, 15000), NBATCH * PERB);
    printf("\n    HW reached %d records %lld ms after the last ack\n",
           NBATCH * PERB, (long long)(bk_clock_mono_ms() - t0));

    bk_buf logs[3], epochs[3];
    for (int i = 0; i < 3; i++) {
        bk_buf_init(&logs[i]);
        bk_buf_init(&epochs[i]);
    }
    /* Followers have the data once the HW covers it; the files are read
     * after a short pause so that nothing is mid-write. */
    bk_h_sleep_ms(200);
    for (int i = 0; i < 3; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", bk_h_partition_dir(cl, i, TOPIC, 0));
        CU_ASSERT_EQUAL(bt_read_log(dir, &logs[i]), 0);
        CU_ASSERT_EQUAL(read_file(dir, "leader-epoch-checkpoint", &epochs[i]),
                        0);
    }
    CU_ASSERT(logs[li].len > 25000); /* two segments of <= 20000 bytes */
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(logs[i].len, logs[li].len);
        CU_ASSERT(logs[i].len == logs[li].len &&
                  memcmp(logs[i].data, logs[li].data, logs[li].len) == 0);
        CU_ASSERT(epochs[i].len == epochs[li].len &&
                  memcmp(epochs[i].data, epochs[li].data, epochs[li].len) == 0);
    }
    for (int i = 0; i < 3; i++) {
        bk_buf_free(&logs[i]);
        bk_buf_free(&epochs[i]);
    }
}

static void test_consumers_below_hw(void)
{
    int li = leader_index();
    CU_ASSERT_FATAL(li >= 0);
    int64_t end = NBATCH * PERB;
    CU_ASSERT_EQUAL_FATAL(wait_hw(li, end, 15000), end);
    int f1 = (li + 1) % 3, f2 = (li + 2) % 3;
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, f1, SIGSTOP) == 0 &&
                    bk_h_broker_signal(cl, f2, SIGSTOP) == 0);
    /* Let fetches in flight finish before appending. */
    bk_h_sleep_ms(100);
    int fd = bk_h_connect(cl->broker[li].port);
    int64_t base = -1;
    CU_ASSERT_EQUAL(bt_produce(fd, TOPIC, 0, 1, "above", 0, 10, &base), 0);
    CU_ASSERT_EQUAL(base, end);

    /* The leader has it, consumers do not see it. */
    int64_t off = -1;
    CU_ASSERT_EQUAL(bt_list_offsets(fd, TOPIC, 0, -1, &off, NULL), 0);
    CU_ASSERT_EQUAL(off, end);
    bt_fetch_res r;
    bt_fetch(fd, TOPIC, 0, end, 0, 1, &r);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.hw, end);
    CU_ASSERT_EQUAL(r.nrecs, 0);
    bt_fetch_free(&r);
    bt_fetch(fd, TOPIC, 0, end - PERB, 0, 1, &r);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.nrecs, PERB); /* the last committed batch, no more */
    bt_fetch_free(&r);
    /* A replica's fetch reads above the HW. */
    CU_ASSERT_EQUAL(
        replica_fetch(cl->broker[li].port, cl->broker[f1].id, -1, end, &r), 0);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.nrecs, 10);
    CU_ASSERT(r.nrecs == 10 && strcmp(r.recs[0].value, "above-0") == 0);
    bt_fetch_free(&r);
    /* The periodic HW checkpoint records the HW, never the LEO (two
     * intervals have passed after this wait). */
    CU_ASSERT(wait_hw_ckpt(li, TOPIC, end, 2000));
    bk_h_sleep_ms(500);
    CU_ASSERT(wait_hw_ckpt(li, TOPIC, end, 0));

    /* A consumer's long poll at the HW is answered when the followers
     * catch up. */
    int32_t corr = bt_corr();
    CU_ASSERT_EQUAL(
        bt_fetch_send(fd, corr, TOPIC, 0, end, 8000, 1, 1 << 20, 1 << 20), 0);
    bk_h_sleep_ms(300);
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT(bk_h_broker_signal(cl, f1, SIGCONT) == 0 &&
              bk_h_broker_signal(cl, f2, SIGCONT) == 0);
    bt_fetch_recv(fd, corr, end, 15000, &r);
    int64_t took = bk_clock_mono_ms() - t0;
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.nrecs, 10);
    CU_ASSERT_EQUAL(r.hw, end + 10);
    CU_ASSERT(took < 3000);
    printf("\n    long poll answered %lld ms after SIGCONT\n", (long long)took);
    bt_fetch_free(&r);
    CU_ASSERT_EQUAL(bt_list_offsets(fd, TOPIC, 0, -1, &off, NULL), 0);
    CU_ASSERT_EQUAL(off, end + 10);
    CU_ASSERT(wait_hw_ckpt(li, TOPIC, end + 10, 2000));
    close(fd);
}

static void test_fencing(void)
{
    int li = leader_index();
    CU_ASSERT_FATAL(li >= 0);
    int f1 = (li + 1) % 3;
    Brook__Response *md = NULL;
    int fd = bk_h_connect(cl->broker[li].port);
    md = bt_metadata(fd, TOPIC, false);
    close(fd);
    CU_ASSERT_FATAL(md && md->metadata->n_topics == 1);
    int32_t epoch = md->metadata->topics[0]->partitions[0]->leader_epoch;
    brook__response__free_unpacked(md, NULL);
    bt_fetch_res r;
    /* A newer epoch than the leader's: the leader is behind. */
    CU_ASSERT_EQUAL(
        replica_fetch(cl->broker[li].port, cl->broker[f1].id, epoch + 1, 0, &r),
        0);
    CU_ASSERT_EQUAL(r.error, BK_ERR_UNKNOWN_LEADER_EPOCH);
    bt_fetch_free(&r);
    if (epoch > 0) {
        CU_ASSERT_EQUAL(replica_fetch(cl->broker[li].port, cl->broker[f1].id,
                                      epoch - 1, 0, &r),
                        0);
        CU_ASSERT_EQUAL(r.error, BK_ERR_FENCED_LEADER_EPOCH);
        bt_fetch_free(&r);
    }
    /* The current epoch reads. */
    CU_ASSERT_EQUAL(
        replica_fetch(cl->broker[li].port, cl->broker[f1].id, epoch, 0, &r), 0);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT(r.nrecs > 0);
    bt_fetch_free(&r);
    /* A follower is not the leader. */
    CU_ASSERT_EQUAL(
        replica_fetch(cl->broker[f1].port, cl->broker[li].id, epoch, 0, &r), 0);
    CU_ASSERT_EQUAL(r.error, BK_ERR_NOT_LEADER_FOR_PARTITION);
    bt_fetch_free(&r);
}

/* ----------------------------- acks=all ----------------------------- */

#define TOPIC2 "acks"

static bk_h_cluster *cl2;
static bk_zk *zk2; /* the test's own session, for reading states */

static int suite2_init(void)
{
    cl2 = bk_h_cluster_start("acks", 1, 3, "replica.lag.time.max.ms=1000\n");
    if (!cl2)
        return 1;
    int fd = bk_h_connect(cl2->broker[0].port);
    const char *cfg[] = {"min.insync.replicas", "2", NULL};
    int rc = bt_create_topic_cfg(fd, TOPIC2, 1, 3, cfg) == 0 ? 0 : 1;
    close(fd);
    for (int i = 0; rc == 0 && i < 3; i++)
        if (bk_h_wait_topic(cl2, i, TOPIC2, 1, 10000) != 0)
            rc = 1;
    return rc;
}

static int suite2_clean(void)
{
    bk_zk_close(zk2);
    zk2 = NULL;
    int problems = bk_h_cluster_log_problems(cl2);
    bk_h_cluster_stop(cl2);
    cl2 = NULL;
    return problems ? 1 : 0;
}

/* The ISR in the state znode; its size, or -1. */
static int zk_isr(int32_t *isr)
{
    char err[256];
    if (!zk2) {
        bk_zk_opts o = {.connect = cl2->zk_connect,
                        .session_timeout_ms = 6000,
                        .connect_timeout_ms = 5000};
        if (bk_zk_open(&o, &zk2, err, sizeof err) != 0)
            return -1;
    }
    bk_zk *zk = zk2;
    char path[BK_ZKC_PATH_MAX];
    bk_zkc_path_partition_state(path, TOPIC2, 0);
    bk_buf b = BK_BUF_INIT;
    int n = -1;
    if (bk_zk_get(zk, path, &b, NULL, NULL, NULL) == 0) {
        bk_zkc_pstate st;
        if (bk_zkc_pstate_decode(b.data, b.len, &st, err, sizeof err) == 0) {
            n = st.nisr;
            memcpy(isr, st.isr, (size_t)n * sizeof *isr);
        }
    }
    bk_buf_free(&b);
    return n;
}

/* Waits until the ISR has n members; the time it took, or -1. */
static int64_t wait_isr_size(int n, int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < timeout_ms) {
        int32_t isr[BK_TOPIC_MAX_RF];
        if (zk_isr(isr) == n)
            return bk_clock_mono_ms() - t0;
        bk_h_sleep_ms(50);
    }
    return -1;
}

static int produce_all(int fd, int first, int timeout_ms, int64_t *base)
{
    uint8_t *data;
    size_t len;
    bk_buf b = BK_BUF_INIT;
    if (bt_batch(&b, "all", first, 5, -1) != 0)
        return -1;
    data = b.data;
    len = b.len;
    /* bt_produce_raw waits 10 s for the answer with timeout_ms 10000;
     * build the request here for other timeouts. */
    Brook__Request req;
    int32_t corr = bt_corr();
    bk_h_req_init(&req, BK_API_PRODUCE, corr);
    Brook__ProduceRequest pr = BROOK__PRODUCE_REQUEST__INIT;
    Brook__TopicProduceData td = BROOK__TOPIC_PRODUCE_DATA__INIT;
    Brook__PartitionProduceData pd = BROOK__PARTITION_PRODUCE_DATA__INIT;
    Brook__TopicProduceData *tdp = &td;
    Brook__PartitionProduceData *pdp = &pd;
    pr.acks = -1;
    pr.timeout_ms = timeout_ms;
    pr.n_topic_data = 1;
    pr.topic_data = &tdp;
    td.name = TOPIC2;
    td.n_partition_data = 1;
    td.partition_data = &pdp;
    pd.index = 0;
    pd.records.data = data;
    pd.records.len = len;
    req.body_case = BROOK__REQUEST__BODY_PRODUCE;
    req.produce = &pr;
    Brook__Response *resp = bk_h_call(fd, &req, timeout_ms + 10000);
    bk_buf_free(&b);
    if (!resp)
        return -1;
    int err = -1;
    if (resp->produce && resp->produce->n_responses == 1 &&
        resp->produce->responses[0]->n_partition_responses == 1) {
        err = resp->produce->responses[0]->partition_responses[0]->error_code;
        if (base)
            *base = resp->produce->responses[0]
                        ->partition_responses[0]
                        ->base_offset;
    }
    brook__response__free_unpacked(resp, NULL);
    return err;
}

static int leader2(void)
{
    int id = bt_leader(cl2->broker[0].port, TOPIC2, 0);
    return id >= 1 && id <= 3 ? id - 1 : -1;
}

static void test_acks_all_full_isr(void)
{
    int li = leader2();
    CU_ASSERT_FATAL(li >= 0);
    CU_ASSERT_EQUAL(wait_isr_size(3, 5000) >= 0, true);
    int fd = bk_h_connect(cl2->broker[li].port);
    int64_t t0 = bk_clock_mono_ms();
    for (int i = 0; i < 20; i++) {
        int64_t base = -1;
        CU_ASSERT_EQUAL(produce_all(fd, i * 5, 10000, &base), 0);
        CU_ASSERT_EQUAL(base, i * 5);
        /* Acknowledged means committed: the HW covers it at once. */
        int64_t hw = -1;
        bt_list_offsets(fd, TOPIC2, 0, -1, &hw, NULL);
        CU_ASSERT_EQUAL(hw, (i + 1) * 5);
    }
    printf("\n    20 acks=all produces, RF=3: %.2f ms each\n",
           (double)(bk_clock_mono_ms() - t0) / 20);
    close(fd);
}

static void test_isr_shrink_expand(void)
{
    int li = leader2();
    CU_ASSERT_FATAL(li >= 0);
    int f1 = (li + 1) % 3, f2 = (li + 2) % 3;
    int fd = bk_h_connect(cl2->broker[li].port);
    int64_t hw0 = -1, base = -1, hw = -1;
    bt_list_offsets(fd, TOPIC2, 0, -1, &hw0, NULL);

    /* One follower stops: dropped after replica.lag.time.max.ms. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl2, f1, SIGSTOP) == 0);
    int64_t took = wait_isr_size(2, 10000);
    printf("\n    ISR 3 -> 2 in %lld ms (lag time 1000 ms)\n", (long long)took);
    CU_ASSERT(took >= 500 && took < 4000);
    int32_t isr[BK_TOPIC_MAX_RF];
    CU_ASSERT_EQUAL(zk_isr(isr), 2);
    CU_ASSERT(isr[0] != cl2->broker[f1].id && isr[1] != cl2->broker[f1].id);
    CU_ASSERT_EQUAL(produce_all(fd, 1000, 10000, &base), 0);
    CU_ASSERT_EQUAL(base, hw0);

    /* The second one stops: a short wait times out ... */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl2, f2, SIGSTOP) == 0);
    bk_h_sleep_ms(100);
    CU_ASSERT_EQUAL(produce_all(fd, 2000, 300, &base),
                    BK_ERR_REQUEST_TIMED_OUT);
    /* ... a long one ends when the ISR shrinks to the leader alone. */
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(produce_all(fd, 3000, 20000, &base),
                    BK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    printf("    NOT_ENOUGH_REPLICAS_AFTER_APPEND after %lld ms\n",
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_EQUAL(wait_isr_size(1, 1000) >= 0, true);
    /* Now refused before the append: nothing is written. */
    int64_t leo0 = -1, leo1 = -1;
    bt_list_offsets(fd, TOPIC2, 0, -1, &leo0, NULL);
    CU_ASSERT_EQUAL(produce_all(fd, 4000, 10000, &base),
                    BK_ERR_NOT_ENOUGH_REPLICAS);
    bt_list_offsets(fd, TOPIC2, 0, -1, &leo1, NULL);
    CU_ASSERT_EQUAL(leo0, leo1);

    /* Both come back and rejoin. */
    CU_ASSERT(bk_h_broker_signal(cl2, f1, SIGCONT) == 0);
    CU_ASSERT(bk_h_broker_signal(cl2, f2, SIGCONT) == 0);
    took = wait_isr_size(3, 15000);
    printf("    ISR back to 3 members %lld ms after SIGCONT\n",
           (long long)took);
    CU_ASSERT(took >= 0);
    CU_ASSERT_EQUAL(produce_all(fd, 5000, 10000, &base), 0);
    bt_list_offsets(fd, TOPIC2, 0, -1, &hw, NULL);
    CU_ASSERT_EQUAL(hw, base + 5);
    close(fd);

    /* Every replica ends with the same log. */
    bk_h_sleep_ms(500);
    bk_buf logs[3];
    for (int i = 0; i < 3; i++) {
        bk_buf_init(&logs[i]);
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", bk_h_partition_dir(cl2, i, TOPIC2, 0));
        CU_ASSERT_EQUAL(bt_read_log(dir, &logs[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        CU_ASSERT(logs[i].len == logs[li].len &&
                  memcmp(logs[i].data, logs[li].data, logs[li].len) == 0);
    for (int i = 0; i < 3; i++)
        bk_buf_free(&logs[i]);
}

static CU_TestInfo acks_tests[] = {
    {"acks=all with the full ISR", test_acks_all_full_isr},
    {"ISR shrink, min.insync.replicas, expand", test_isr_shrink_expand},
    CU_TEST_INFO_NULL,
};

#define ZTOPIC "zombie"

static void test_zombie_leader(void)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(bt_create_topic(fd, ZTOPIC, 1, 3) == 0);
    close(fd);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_FATAL(bk_h_wait_topic(cl, i, ZTOPIC, 1, 10000) == 0);
    int lid = bt_leader(cl->broker[0].port, ZTOPIC, 0);
    CU_ASSERT_FATAL(lid >= 1 && lid <= 3);
    int li = lid - 1, f1 = (li + 1) % 3, f2 = (li + 2) % 3;
    fd = bk_h_connect(cl->broker[li].port);
    int64_t base = -1;
    CU_ASSERT_EQUAL(bt_produce(fd, ZTOPIC, 0, -1, "ok", 0, 10, &base), 0);
    CU_ASSERT_EQUAL(base, 0);

    /* The leader appends alone. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, f1, SIGSTOP) == 0 &&
                    bk_h_broker_signal(cl, f2, SIGSTOP) == 0);
    /* Past the followers' long polls (500 ms): no fetch of theirs is
     * parked at the leader, so nothing of the next append reaches their
     * sockets. */
    bk_h_sleep_ms(800);
    CU_ASSERT_EQUAL(bt_produce(fd, ZTOPIC, 0, 1, "zombie", 0, 5, &base), 0);
    CU_ASSERT_EQUAL(base, 10);
    close(fd);

    /* It stops; the leadership moves to f1 with a new epoch. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, li, SIGSTOP) == 0);
    CU_ASSERT(bk_h_broker_signal(cl, f1, SIGCONT) == 0 &&
              bk_h_broker_signal(cl, f2, SIGCONT) == 0);
    int32_t isr[2] = {cl->broker[f1].id, cl->broker[f2].id};
    CU_ASSERT_FATAL(move_leader(ZTOPIC, cl->broker[f1].id, isr, 2) == 0);
    int64_t t0 = bk_clock_mono_ms();
    while (bt_leader(cl->broker[f1].port, ZTOPIC, 0) != cl->broker[f1].id &&
           bk_clock_mono_ms() - t0 < 10000)
        bk_h_sleep_ms(20);
    fd = bk_h_connect(cl->broker[f1].port);
    CU_ASSERT_EQUAL(bt_produce(fd, ZTOPIC, 0, -1, "new", 0, 3, &base), 0);
    CU_ASSERT_EQUAL(base, 10);

    /* The old leader comes back as a follower and converges. */
    CU_ASSERT(bk_h_broker_signal(cl, li, SIGCONT) == 0);
    char dl[4096], dn[4096];
    snprintf(dl, sizeof dl, "%s", bk_h_partition_dir(cl, li, ZTOPIC, 0));
    snprintf(dn, sizeof dn, "%s", bk_h_partition_dir(cl, f1, ZTOPIC, 0));
    bool same = false;
    t0 = bk_clock_mono_ms();
    bk_buf a = BK_BUF_INIT, n = BK_BUF_INIT;
    while (!same && bk_clock_mono_ms() - t0 < 10000) {
        bk_buf_reset(&a);
        bk_buf_reset(&n);
        bt_read_log(dl, &a);
        bt_read_log(dn, &n);
        same =
            a.len == n.len && a.len > 0 && memcmp(a.data, n.data, a.len) == 0;
        if (!same)
            bk_h_sleep_ms(50);
    }
    printf("\n    old leader converged %lld ms after SIGCONT\n",
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT(same);
    bk_buf_free(&a);
    bk_buf_free(&n);
    char outlog[4200];
    snprintf(outlog, sizeof outlog, "%s/out.log", cl->broker[li].dir);
    CU_ASSERT(bt_file_contains(outlog, "truncated from 15 to 10"));

    /* Every acknowledged record, none of the lone ones. */
    bt_fetch_res r;
    bt_fetch_all(fd, ZTOPIC, 0, &r);
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
}

static void test_hw_checkpoint_restart(void)
{
    const char *t = "hwck";
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(bt_create_topic(fd, t, 1, 1) == 0);
    close(fd);
    int id = -1;
    int64_t t0 = bk_clock_mono_ms();
    while ((id = bt_leader(cl->broker[0].port, t, 0)) < 1 &&
           bk_clock_mono_ms() - t0 < 10000)
        bk_h_sleep_ms(50);
    CU_ASSERT_FATAL(id >= 1 && id <= 3);
    int i = id - 1;
    fd = bk_h_connect(cl->broker[i].port);
    int64_t base = -1;
    CU_ASSERT_EQUAL(bt_produce(fd, t, 0, -1, "hw", 0, 7, &base), 0);
    CU_ASSERT_EQUAL(base, 0);
    close(fd);

    int st = bk_h_broker_signal(cl, i, SIGTERM);
    CU_ASSERT_FATAL(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* Written at the clean shutdown (after the flush). */
    CU_ASSERT(wait_hw_ckpt(i, t, 7, 0));

    CU_ASSERT_FATAL(bk_h_broker_start(cl, i, true) == 0);
    int64_t off = -1;
    t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < 15000) {
        fd = bk_h_connect(cl->broker[i].port);
        off = -1;
        if (fd >= 0) {
            bt_list_offsets(fd, t, 0, -1, &off, NULL);
            close(fd);
        }
        if (off == 7)
            break;
        bk_h_sleep_ms(50);
    }
    CU_ASSERT_EQUAL(off, 7);
    fd = bk_h_connect(cl->broker[i].port);
    bt_fetch_res r;
    bt_fetch_all(fd, t, 0, &r);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.nrecs, 7);
    CU_ASSERT_EQUAL(r.hw, 7);
    CU_ASSERT(r.nrecs == 7 && strcmp(r.recs[6].value, "hw-6") == 0);
    bt_fetch_free(&r);
    close(fd);
    CU_ASSERT(wait_hw_ckpt(i, t, 7, 2000));
}

static CU_TestInfo repl_tests[] = {
    {"identical replicas (acks=1, RF=3)", test_identical_replicas},
    {"consumers read below the HW", test_consumers_below_hw},
    {"replica fetch fencing", test_fencing},
    {"zombie leader truncates by epoch", test_zombie_leader},
    {"HW checkpoint across a clean restart", test_hw_checkpoint_restart},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("replication", repl_tests, suite_init, suite_clean);
    bk_test_add_suite_fn("acks-all", acks_tests, suite2_init, suite2_clean);
}
