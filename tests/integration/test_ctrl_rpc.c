/*
 * test_ctrl_rpc.c -- the controller's requests to the brokers
 * (broker/ctrlchan.c, broker/handlers_ctrl.c) and controlled shutdown, on
 * a real ZooKeeper with three brookd processes:
 *   - fencing: a LeaderAndIsr / UpdateMetadata with a controller epoch
 *     older than the current one gets STALE_CONTROLLER_EPOCH and changes
 *     nothing (Metadata and produce on that broker as before); one with
 *     the current epoch but an older leader epoch gets
 *     FENCED_LEADER_EPOCH for the partition, again changing nothing;
 *   - propagation: after the leader of a partition is SIGKILLed, a broker
 *     that is neither the controller nor the new leader answers Metadata
 *     with the new leader; the time from the state znode's write (its
 *     mtime) to that answer is measured and printed;
 *   - controlled shutdown (SIGTERM) of a partition leader while a raw
 *     acks=all producer writes to an RF=3, min.insync.replicas=2 topic:
 *     the state znode names another leader while the broker is still
 *     registered, the broker leaves the ISR, it exits 0, the producer
 *     sees only retriable errors and every acknowledged record is read
 *     back afterwards;
 *   - the same for the controller itself: it hands its leaderships over
 *     before its znode goes, and another broker becomes controller;
 *   - a request's newer state (LeaderAndIsr ahead of ZooKeeper) is used
 *     at once and survives the older pictures of the ZooKeeper worker;
 *   - SIGTERM to every broker in turn: each hands over to the others,
 *     the last one (nobody to hand over to) stops at once instead of
 *     retrying until controlled.shutdown.max.retries.
 */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
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
    /* A short backoff keeps a retried controlled shutdown quick. */
    cl = bk_h_cluster_start("rpc", 1, 3,
                            "controlled.shutdown.retry.backoff.ms=300\n");
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

static int32_t controller_epoch(void)
{
    int32_t e = -1;
    if (bk_zkd_controller_epoch_read(zk, &e, NULL) != 0)
        return -1;
    return e;
}

/* The partition's state and its znode's stat.  true when read. */
static bool read_state(const char *topic, int p, bk_zkc_pstate *st,
                       bk_zk_stat *zst)
{
    char path[BK_ZKC_PATH_MAX];
    bk_zkc_path_partition_state(path, topic, p);
    bk_buf b = BK_BUF_INIT;
    bk_zk_stat s;
    bool ok = bk_zk_get(zk, path, &b, &s, NULL, NULL) == 0;
    char err[128];
    if (ok)
        ok = bk_zkc_pstate_decode(b.data, b.len, st, err, sizeof err) == 0;
    bk_buf_free(&b);
    if (ok && zst)
        *zst = s;
    return ok;
}

static bool isr_has(const bk_zkc_pstate *st, int id)
{
    for (int i = 0; i < st->nisr; i++)
        if (st->isr[i] == id)
            return true;
    return false;
}

static bool registered(int id)
{
    char path[BK_ZKC_PATH_MAX];
    bk_zkc_path_broker(path, id);
    return bk_zk_exists(zk, path, NULL, NULL, NULL) == 0;
}

static int idx(int id)
{
    CU_ASSERT_FATAL(id >= 1 && id <= cl->n);
    return id - 1;
}

/* Waits until topic/p has a full ISR of n in ZooKeeper. */
static bool wait_isr(const char *topic, int p, int n, int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms();
    do {
        bk_zkc_pstate st;
        if (read_state(topic, p, &st, NULL) && st.nisr == n && st.leader >= 0)
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
    for (int p = 0; p < parts; p++)
        CU_ASSERT_TRUE_FATAL(wait_isr(name, p, rf, 15000));
}

/* Leader and leader epoch of topic/p in the Metadata of the broker on
 * fd; false on failure. */
static bool md_leader(int fd, const char *topic, int p, int *leader, int *epoch)
{
    Brook__Response *r = bt_metadata(fd, topic, false);
    bool ok = r && r->metadata && r->metadata->n_topics == 1 &&
              (size_t)p < r->metadata->topics[0]->n_partitions;
    if (ok) {
        Brook__MetadataResponsePartition *mp =
            r->metadata->topics[0]->partitions[p];
        *leader = mp->leader_id;
        *epoch = mp->leader_epoch;
    }
    if (r)
        brook__response__free_unpacked(r, NULL);
    return ok;
}

/* A LeaderAndIsr of one partition state, sent to port; the response
 * (caller frees) or NULL. */
static Brook__Response *send_lai(int port, int32_t ctrl_id, int32_t epoch,
                                 const char *topic, int p, int32_t leader,
                                 int32_t leader_epoch, int32_t *isr,
                                 size_t nisr, int32_t zkv)
{
    Brook__LeaderAndIsrPartitionState ps =
        BROOK__LEADER_AND_ISR_PARTITION_STATE__INIT;
    ps.partition_index = p;
    ps.controller_epoch = epoch;
    ps.leader = leader;
    ps.leader_epoch = leader_epoch;
    ps.n_isr = nisr;
    ps.isr = isr;
    ps.partition_epoch = zkv;
    ps.n_replicas = nisr;
    ps.replicas = isr;
    Brook__LeaderAndIsrPartitionState *pps = &ps;
    Brook__LeaderAndIsrTopicState ts = BROOK__LEADER_AND_ISR_TOPIC_STATE__INIT;
    ts.topic_name = (char *)topic;
    ts.n_partition_states = 1;
    ts.partition_states = &pps;
    Brook__LeaderAndIsrTopicState *pts = &ts;
    Brook__LeaderAndIsrRequest body = BROOK__LEADER_AND_ISR_REQUEST__INIT;
    body.controller_id = ctrl_id;
    body.controller_epoch = epoch;
    body.broker_epoch = -1;
    body.n_topic_states = 1;
    body.topic_states = &pts;
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_h_req_init(&req, BK_API_LEADER_AND_ISR, bt_corr());
    req.body_case = BROOK__REQUEST__BODY_LEADER_AND_ISR;
    req.leader_and_isr = &body;
    int fd = bk_h_connect(port);
    if (fd < 0)
        return NULL;
    Brook__Response *r = bk_h_call(fd, &req, 5000);
    close(fd);
    return r;
}

static Brook__Response *send_um(int port, int32_t ctrl_id, int32_t epoch,
                                const char *topic, int p, int32_t leader,
                                int32_t leader_epoch, int32_t *isr, size_t nisr,
                                int32_t zkv)
{
    Brook__UpdateMetadataPartitionState ps =
        BROOK__UPDATE_METADATA_PARTITION_STATE__INIT;
    ps.partition_index = p;
    ps.controller_epoch = epoch;
    ps.leader = leader;
    ps.leader_epoch = leader_epoch;
    ps.n_isr = nisr;
    ps.isr = isr;
    ps.zk_version = zkv;
    ps.n_replicas = nisr;
    ps.replicas = isr;
    Brook__UpdateMetadataPartitionState *pps = &ps;
    Brook__UpdateMetadataTopicState ts =
        BROOK__UPDATE_METADATA_TOPIC_STATE__INIT;
    ts.topic_name = (char *)topic;
    ts.n_partition_states = 1;
    ts.partition_states = &pps;
    Brook__UpdateMetadataTopicState *pts = &ts;
    Brook__UpdateMetadataRequest body = BROOK__UPDATE_METADATA_REQUEST__INIT;
    body.controller_id = ctrl_id;
    body.controller_epoch = epoch;
    body.broker_epoch = -1;
    body.n_topic_states = 1;
    body.topic_states = &pts;
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_h_req_init(&req, BK_API_UPDATE_METADATA, bt_corr());
    req.body_case = BROOK__REQUEST__BODY_UPDATE_METADATA;
    req.update_metadata = &body;
    int fd = bk_h_connect(port);
    if (fd < 0)
        return NULL;
    Brook__Response *r = bk_h_call(fd, &req, 5000);
    close(fd);
    return r;
}

/* -------------------------------- fencing -------------------------------- */

static void test_stale_controller_epoch(void)
{
    create_topic("st", 1, 3, NULL);
    int ctrl = wait_controller(-1, 5000);
    CU_ASSERT_FATAL(ctrl >= 1);
    int32_t epoch = controller_epoch();
    CU_ASSERT_FATAL(epoch >= 1);
    bk_zkc_pstate st;
    bk_zk_stat zst;
    CU_ASSERT_FATAL(read_state("st", 0, &st, &zst));
    int leader = st.leader;
    int follower = leader % 3 + 1; /* another replica (RF=3 over 3) */
    int fport = cl->broker[idx(follower)].port;
    /* The follower has heard from the controller (the topic's states were
     * sent to it), so the epoch it holds is the current one. */
    int fd = bk_h_connect(fport);
    CU_ASSERT_FATAL(fd >= 0);
    int ml = -1, me = -1;
    int64_t t0 = bk_clock_mono_ms();
    while ((!md_leader(fd, "st", 0, &ml, &me) || ml != leader) &&
           bk_clock_mono_ms() - t0 < 5000)
        bk_h_sleep_ms(20);
    CU_ASSERT_EQUAL_FATAL(ml, leader);
    int32_t isr[] = {follower};

    /* Stale controller epoch: rejected as a whole. */
    Brook__Response *r =
        send_lai(fport, ctrl, epoch - 1, "st", 0, follower,
                 st.leader_epoch + 10, isr, 1, zst.version + 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->leader_and_isr);
    CU_ASSERT_EQUAL(r->leader_and_isr->error_code, BK_ERR_STALE_CTRL_EPOCH);
    brook__response__free_unpacked(r, NULL);
    r = send_um(fport, ctrl, epoch - 1, "st", 0, follower, st.leader_epoch + 10,
                isr, 1, zst.version + 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->update_metadata);
    CU_ASSERT_EQUAL(r->update_metadata->error_code, BK_ERR_STALE_CTRL_EPOCH);
    brook__response__free_unpacked(r, NULL);

    /* Current controller epoch, older leader epoch: fenced per partition. */
    r = send_lai(fport, ctrl, epoch, "st", 0, follower, st.leader_epoch - 1,
                 isr, 1, zst.version + 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->leader_and_isr);
    CU_ASSERT_EQUAL(r->leader_and_isr->error_code, 0);
    CU_ASSERT_EQUAL_FATAL(r->leader_and_isr->n_partition_errors, 1);
    CU_ASSERT_EQUAL(r->leader_and_isr->partition_errors[0]->error_code,
                    BK_ERR_FENCED_LEADER_EPOCH);
    brook__response__free_unpacked(r, NULL);

    /* Nothing changed: same leader and epoch in the follower's Metadata,
     * and it still refuses produce as a follower. */
    bk_h_sleep_ms(200);
    CU_ASSERT_TRUE(md_leader(fd, "st", 0, &ml, &me));
    CU_ASSERT_EQUAL(ml, leader);
    CU_ASSERT_EQUAL(me, st.leader_epoch);
    CU_ASSERT_EQUAL(bt_produce(fd, "st", 0, 1, "st", 0, 1, NULL),
                    BK_ERR_NOT_LEADER_FOR_PARTITION);
    close(fd);
    /* ...and ZooKeeper's state was not touched either. */
    bk_zkc_pstate st2;
    CU_ASSERT_TRUE(read_state("st", 0, &st2, NULL));
    CU_ASSERT_EQUAL(st2.leader, leader);
    CU_ASSERT_EQUAL(st2.leader_epoch, st.leader_epoch);
    printf("\n    stale epoch %d (current %d): STALE_CONTROLLER_EPOCH; old "
           "leader epoch: FENCED_LEADER_EPOCH; broker %d unchanged\n",
           epoch - 1, epoch, follower);
}

/* ------------------------------ propagation ------------------------------ */

#define FO_PARTS 60

/* Metadata of the broker on fd: every partition in want[0..FO_PARTS)
 * (true) has a leader other than dead with an epoch above epoch0[p]. */
static bool md_moved(int fd, const bool *want, const int32_t *epoch0, int dead)
{
    Brook__Response *r = bt_metadata(fd, "fo", false);
    bool ok = r && r->metadata && r->metadata->n_topics == 1 &&
              r->metadata->topics[0]->n_partitions == FO_PARTS;
    for (int p = 0; ok && p < FO_PARTS; p++) {
        const Brook__MetadataResponsePartition *mp =
            r->metadata->topics[0]->partitions[p];
        if (want[p])
            ok = mp->leader_id >= 1 && mp->leader_id != dead &&
                 mp->leader_epoch > epoch0[p];
    }
    if (r)
        brook__response__free_unpacked(r, NULL);
    return ok;
}

static void test_failover_propagation(void)
{
    create_topic("fo", FO_PARTS, 3, NULL);
    int ctrl = wait_controller(-1, 5000);
    CU_ASSERT_FATAL(ctrl >= 1);
    /* Kill a broker that is not the controller; every partition it leads
     * moves. */
    int dead = ctrl % 3 + 1;
    int other = 6 - ctrl - dead;
    bool want[FO_PARTS];
    int32_t epoch0[FO_PARTS];
    int nmoved = 0;
    for (int p = 0; p < FO_PARTS; p++) {
        bk_zkc_pstate st;
        CU_ASSERT_FATAL(read_state("fo", p, &st, NULL));
        want[p] = st.leader == dead;
        epoch0[p] = st.leader_epoch;
        nmoved += want[p];
    }
    CU_ASSERT_FATAL(nmoved > 0);
    int obs[2] = {ctrl, other};
    int fds[2];
    for (int k = 0; k < 2; k++) {
        fds[k] = bk_h_connect(cl->broker[idx(obs[k])].port);
        CU_ASSERT_FATAL(fds[k] >= 0);
    }
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, idx(dead), SIGKILL) >= 0);
    /* Poll both survivors' Metadata (one call covers every partition). */
    int64_t seen[2] = {-1, -1};
    int64_t t0 = bk_clock_mono_ms();
    while ((seen[0] < 0 || seen[1] < 0) &&
           bk_clock_mono_ms() - t0 < SESSION_MS + 10000) {
        for (int k = 0; k < 2; k++)
            if (seen[k] < 0 && md_moved(fds[k], want, epoch0, dead))
                seen[k] = bk_clock_wall_ms();
        bk_h_sleep_ms(1);
    }
    close(fds[0]);
    close(fds[1]);
    CU_ASSERT_FATAL(seen[0] > 0 && seen[1] > 0);
    /* When the controller wrote them: the state znodes' mtimes. */
    int64_t first = INT64_MAX, last = 0;
    for (int p = 0; p < FO_PARTS; p++) {
        if (!want[p])
            continue;
        bk_zkc_pstate st;
        bk_zk_stat zst;
        CU_ASSERT_FATAL(read_state("fo", p, &st, &zst));
        CU_ASSERT(st.leader != dead && st.leader_epoch > epoch0[p]);
        first = zst.mtime < first ? zst.mtime : first;
        last = zst.mtime > last ? zst.mtime : last;
    }
    printf("\n    broker %d SIGKILLed (led %d of %d partitions): states "
           "written within %lld ms; every new leader in Metadata of the "
           "controller %d after %lld ms, of broker %d after %lld ms (from "
           "the last state write)\n",
           dead, nmoved, FO_PARTS, (long long)(last - first), ctrl,
           (long long)(seen[0] - last), other, (long long)(seen[1] - last));
    /* Through the requests it takes milliseconds; the watches alone took
     * up to about a second under load (session 8's failover bench). */
    CU_ASSERT(seen[0] - last < 1000);
    CU_ASSERT(seen[1] - last < 1000);
    CU_ASSERT_EQUAL(bk_h_broker_start(cl, idx(dead), true), 0);
    for (int p = 0; p < FO_PARTS; p++)
        CU_ASSERT_TRUE(wait_isr("fo", p, 3, 15000));
}

/* A newer state brought by a LeaderAndIsr is used at once and is not
 * undone by the older pictures ZooKeeper's worker keeps posting; once
 * ZooKeeper holds the same state the two paths agree. */
static void test_request_ahead_of_zookeeper(void)
{
    create_topic("ap", 1, 3, NULL);
    int ctrl = wait_controller(-1, 5000);
    int32_t epoch = controller_epoch();
    bk_zkc_pstate st;
    bk_zk_stat zst;
    CU_ASSERT_FATAL(read_state("ap", 0, &st, &zst));
    int follower = st.leader % 3 + 1;
    int fport = cl->broker[idx(follower)].port;
    int32_t isr[3];
    for (int i = 0; i < st.nisr && i < 3; i++)
        isr[i] = st.isr[i];
    /* What a controller would write next (a new leader epoch). */
    Brook__Response *r =
        send_lai(fport, ctrl, epoch, "ap", 0, st.leader, st.leader_epoch + 1,
                 isr, (size_t)st.nisr, zst.version + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->leader_and_isr);
    CU_ASSERT_EQUAL(r->leader_and_isr->error_code, 0);
    CU_ASSERT_EQUAL(r->leader_and_isr->n_partition_errors, 1);
    if (r->leader_and_isr->n_partition_errors == 1)
        CU_ASSERT_EQUAL(r->leader_and_isr->partition_errors[0]->error_code, 0);
    brook__response__free_unpacked(r, NULL);
    int fd = bk_h_connect(fport);
    CU_ASSERT_FATAL(fd >= 0);
    int ml = -1, me = -1;
    CU_ASSERT_TRUE(md_leader(fd, "ap", 0, &ml, &me));
    CU_ASSERT_EQUAL(me, st.leader_epoch + 1); /* at once, ahead of ZK */
    /* A later request for another partition must not make the first
     * state look caught up with (it is in the broker's picture, not in
     * ZooKeeper's): the pictures that follow are still older. */
    create_topic("apb", 1, 3, NULL);
    bk_zkc_pstate sb;
    bk_zk_stat zsb;
    CU_ASSERT_FATAL(read_state("apb", 0, &sb, &zsb));
    int32_t isrb[3];
    for (int i = 0; i < sb.nisr && i < 3; i++)
        isrb[i] = sb.isr[i];
    r = send_lai(fport, ctrl, epoch, "apb", 0, sb.leader, sb.leader_epoch + 1,
                 isrb, (size_t)sb.nisr, zsb.version + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->leader_and_isr);
    CU_ASSERT_EQUAL(r->leader_and_isr->error_code, 0);
    brook__response__free_unpacked(r, NULL);
    /* A new topic makes the worker post a fresh (for "ap": older)
     * picture; the newer state stays. */
    create_topic("ap2", 1, 1, NULL);
    CU_ASSERT_TRUE(md_leader(fd, "ap", 0, &ml, &me));
    CU_ASSERT_EQUAL(me, st.leader_epoch + 1);
    CU_ASSERT_EQUAL(ml, st.leader);
    /* ZooKeeper catches up (written as the controller would). */
    bk_zkc_pstate nst = st;
    nst.leader_epoch = st.leader_epoch + 1;
    bk_buf json = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_pstate_encode(&nst, &json), 0);
    char path[BK_ZKC_PATH_MAX];
    bk_zkc_path_partition_state(path, "ap", 0);
    CU_ASSERT_EQUAL(bk_zk_set(zk, path, json.data, json.len, zst.version, NULL),
                    0);
    bk_buf_free(&json);
    nst = sb;
    nst.leader_epoch = sb.leader_epoch + 1;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_pstate_encode(&nst, &json), 0);
    bk_zkc_path_partition_state(path, "apb", 0);
    CU_ASSERT_EQUAL(bk_zk_set(zk, path, json.data, json.len, zsb.version, NULL),
                    0);
    bk_buf_free(&json);
    /* Every broker now agrees, and the leader still takes writes. */
    for (int i = 0; i < cl->n; i++) {
        int64_t t0 = bk_clock_mono_ms();
        int l = -1, e = -1;
        int bfd = bk_h_connect(cl->broker[i].port);
        CU_ASSERT_FATAL(bfd >= 0);
        while ((!md_leader(bfd, "ap", 0, &l, &e) || e != st.leader_epoch + 1) &&
               bk_clock_mono_ms() - t0 < 5000)
            bk_h_sleep_ms(20);
        close(bfd);
        CU_ASSERT_EQUAL(e, st.leader_epoch + 1);
        CU_ASSERT_EQUAL(l, st.leader);
    }
    close(fd);
    int lfd = bk_h_connect(cl->broker[idx(st.leader)].port);
    CU_ASSERT_FATAL(lfd >= 0);
    int64_t t0 = bk_clock_mono_ms();
    int rc;
    while ((rc = bt_produce(lfd, "ap", 0, -1, "ap", 0, 1, NULL)) != 0 &&
           bk_clock_mono_ms() - t0 < 10000)
        bk_h_sleep_ms(100);
    CU_ASSERT_EQUAL(rc, 0);
    close(lfd);
}

/* --------------------------- controlled shutdown ---------------------------
 */

#define MAX_VALUES 200000

typedef struct prod {
    const char *topic;
    atomic_bool stop;
    int next;             /* next record number */
    unsigned char *acked; /* acked[n]: record n acknowledged */
    int nacked;
    atomic_int ok; /* read by the main thread while it runs */
    int transport, retriable, fatal;
    int codes[128]; /* retriable codes seen (count by code) */
    int last_fatal;
} prod;

static int leader_port(const char *topic, int *leader)
{
    for (int i = 0; i < cl->n; i++) {
        if (!cl->broker[i].pid)
            continue;
        int l = bt_leader(cl->broker[i].port, topic, 0);
        if (l >= 1 && l <= cl->n && cl->broker[l - 1].pid) {
            *leader = l;
            return cl->broker[l - 1].port;
        }
    }
    return -1;
}

static void *producer(void *arg)
{
    prod *pr = arg;
    int fd = -1, port = -1, leader = -1;
    while (!atomic_load(&pr->stop) && pr->next + 10 < MAX_VALUES) {
        if (fd < 0) {
            port = leader_port(pr->topic, &leader);
            fd = port > 0 ? bk_h_connect(port) : -1;
            if (fd < 0) {
                bk_h_sleep_ms(20);
                continue;
            }
        }
        int first = pr->next;
        pr->next += 10;
        int rc = bt_produce(fd, pr->topic, 0, -1, "cs", first, 10, NULL);
        if (rc == 0) {
            atomic_fetch_add(&pr->ok, 1);
            for (int i = 0; i < 10; i++)
                pr->acked[first + i] = 1;
            pr->nacked += 10;
            bk_h_sleep_ms(2);
            continue;
        }
        if (rc < 0) {
            pr->transport++; /* a connection the old leader closed */
        } else if (bk_err_retriable(rc)) {
            pr->retriable++;
            if (rc < 128)
                pr->codes[rc]++;
        } else {
            pr->fatal++;
            pr->last_fatal = rc;
        }
        close(fd);
        fd = -1; /* look the leader up again */
        bk_h_sleep_ms(10);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* Every acknowledged record of topic/0 is read back (from the leader,
 * below its high watermark; retried while the HW catches up). */
static void check_acked(const char *topic, const prod *pr)
{
    unsigned char *found = calloc(MAX_VALUES, 1);
    CU_ASSERT_FATAL(found != NULL);
    int missing = -1;
    int64_t t0 = bk_clock_mono_ms();
    do {
        int leader;
        int port = leader_port(topic, &leader);
        int fd = port > 0 ? bk_h_connect(port) : -1;
        if (fd >= 0) {
            bt_fetch_res res;
            bt_fetch_all(fd, topic, 0, &res);
            if (res.error == 0) {
                for (size_t i = 0; i < res.nrecs; i++) {
                    int v;
                    if (sscanf(res.recs[i].value, "cs-%d", &v) == 1 && v >= 0 &&
                        v < MAX_VALUES)
                        found[v] = 1;
                }
                missing = 0;
                for (int v = 0; v < pr->next && v < MAX_VALUES; v++)
                    missing += pr->acked[v] && !found[v];
            }
            bt_fetch_free(&res);
            close(fd);
        }
        if (missing != 0)
            bk_h_sleep_ms(200);
    } while (missing != 0 && bk_clock_mono_ms() - t0 < 10000);
    printf("    %d acknowledged records, %d missing when read back\n",
           pr->nacked, missing);
    CU_ASSERT_EQUAL(missing, 0);
    free(found);
}

/* SIGTERMs broker id and watches ZooKeeper every millisecond until its
 * znode goes: *moved_ms is when every partition in parts[0..n) of topic
 * had another leader (and the broker was out of their ISRs), -1 if never
 * seen while it was registered; returns the ms until the znode went. */
static int64_t sigterm_and_watch(int id, const char *topic, const int *parts,
                                 int n, int64_t *moved_ms)
{
    *moved_ms = -1;
    pid_t pid = cl->broker[idx(id)].pid;
    CU_ASSERT_FATAL(pid > 0);
    int64_t t0 = bk_clock_mono_ms();
    kill(pid, SIGTERM);
    int64_t gone = -1;
    while (bk_clock_mono_ms() - t0 < 30000) {
        bool reg = registered(id);
        if (!reg) {
            gone = bk_clock_mono_ms() - t0;
            break;
        }
        if (*moved_ms < 0) {
            bool all = true;
            for (int k = 0; k < n && all; k++) {
                bk_zkc_pstate st;
                all = read_state(topic, parts[k], &st, NULL) &&
                      st.leader != id && st.leader >= 0 && !isr_has(&st, id);
            }
            /* Still registered after the reads: moved first. */
            if (all && registered(id))
                *moved_ms = bk_clock_mono_ms() - t0;
        }
        bk_h_sleep_ms(1);
    }
    /* Reap it (already past its controlled shutdown) and check a clean
     * exit. */
    int status = bk_h_broker_signal(cl, idx(id), SIGTERM);
    CU_ASSERT(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return gone;
}

static void test_controlled_shutdown_leader(void)
{
    static const char *const cfg[] = {"min.insync.replicas", "2", NULL};
    create_topic("cs", 1, 3, cfg);
    int ctrl = wait_controller(-1, 5000);
    CU_ASSERT_FATAL(ctrl >= 1);
    bk_zkc_pstate st;
    CU_ASSERT_FATAL(read_state("cs", 0, &st, NULL));
    int leader = st.leader;
    if (leader == ctrl) /* covered by the next test too; fine here */
        printf("\n    (the leader of cs/0 is the controller)");
    prod *pr = calloc(1, sizeof *pr);
    CU_ASSERT_FATAL(pr != NULL);
    pr->topic = "cs";
    pr->acked = calloc(MAX_VALUES, 1);
    CU_ASSERT_FATAL(pr->acked != NULL);
    atomic_init(&pr->stop, false);
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, producer, pr), 0);
    /* Let it produce a while first. */
    int64_t t0 = bk_clock_mono_ms();
    while (atomic_load(&pr->ok) < 50 && bk_clock_mono_ms() - t0 < 10000)
        bk_h_sleep_ms(10);
    CU_ASSERT_FATAL(atomic_load(&pr->ok) >= 50);
    int part = 0;
    int64_t moved = -1;
    int64_t gone = sigterm_and_watch(leader, "cs", &part, 1, &moved);
    /* Keep producing to the new leader for a while. */
    int ok_at_stop = atomic_load(&pr->ok);
    t0 = bk_clock_mono_ms();
    while (atomic_load(&pr->ok) < ok_at_stop + 50 &&
           bk_clock_mono_ms() - t0 < 10000)
        bk_h_sleep_ms(10);
    atomic_store(&pr->stop, true);
    pthread_join(th, NULL);
    printf("\n    leader %d SIGTERMed: leadership moved after %lld ms, znode "
           "gone after %lld ms; producer: %d ok, %d retriable (NOT_LEADER "
           "%d, NOT_ENOUGH_REPLICAS %d, timeout %d), %d connection, %d "
           "other errors\n",
           leader, (long long)moved, (long long)gone, atomic_load(&pr->ok),
           pr->retriable, pr->codes[BK_ERR_NOT_LEADER_FOR_PARTITION],
           pr->codes[BK_ERR_NOT_ENOUGH_REPLICAS],
           pr->codes[BK_ERR_REQUEST_TIMED_OUT], pr->transport, pr->fatal);
    CU_ASSERT(gone >= 0);
    CU_ASSERT(moved >= 0 && moved <= gone);
    CU_ASSERT_EQUAL(pr->fatal, 0);
    /* Not even a dropped connection: the broker stops only after it
     * learnt that it follows (in-flight produces got NOT_LEADER). */
    CU_ASSERT_EQUAL(pr->transport, 0);
    CU_ASSERT(atomic_load(&pr->ok) >= ok_at_stop + 50);
    bk_zkc_pstate after;
    CU_ASSERT_TRUE(read_state("cs", 0, &after, NULL));
    CU_ASSERT(after.leader != leader && after.leader >= 1);
    CU_ASSERT_FALSE(isr_has(&after, leader));
    char log[600];
    snprintf(log, sizeof log, "%s/out.log", cl->broker[idx(leader)].dir);
    CU_ASSERT_TRUE(bt_file_contains(log, "moved every leadership away"));
    check_acked("cs", pr);
    free(pr->acked);
    free(pr);
    CU_ASSERT_EQUAL(bk_h_broker_start(cl, idx(leader), true), 0);
    CU_ASSERT_TRUE(wait_isr("cs", 0, 3, 15000));
}

static void test_controlled_shutdown_controller(void)
{
    create_topic("cc", 3, 3, NULL);
    int ctrl = wait_controller(-1, 5000);
    CU_ASSERT_FATAL(ctrl >= 1);
    int32_t e0 = controller_epoch();
    /* The partitions the controller leads (the assignment spreads
     * leaders, but a restart may have moved them: make sure of one). */
    int led[3], n = 0;
    for (int p = 0; p < 3; p++) {
        bk_zkc_pstate st;
        CU_ASSERT_FATAL(read_state("cc", p, &st, NULL));
        if (st.leader == ctrl)
            led[n++] = p;
    }
    if (n == 0) {
        printf("\n    (controller %d leads no partition of cc: only the "
               "hand-over of the controller role is checked)",
               ctrl);
    }
    int64_t moved = -1;
    int64_t gone = sigterm_and_watch(ctrl, "cc", led, n, &moved);
    int now = wait_controller(ctrl, 5000);
    printf("\n    controller %d SIGTERMed (led %d partitions): moved after "
           "%lld ms, znode gone after %lld ms, new controller %d (epoch %d "
           "-> %d)\n",
           ctrl, n, (long long)moved, (long long)gone, now, e0,
           controller_epoch());
    CU_ASSERT(gone >= 0);
    if (n > 0)
        CU_ASSERT(moved >= 0 && moved <= gone);
    CU_ASSERT(now >= 1 && now != ctrl);
    CU_ASSERT(controller_epoch() > e0);
    char log[600];
    snprintf(log, sizeof log, "%s/out.log", cl->broker[idx(ctrl)].dir);
    CU_ASSERT_TRUE(bt_file_contains(log, "moved every leadership away"));
    CU_ASSERT_EQUAL(bk_h_broker_start(cl, idx(ctrl), true), 0);
    for (int p = 0; p < 3; p++)
        CU_ASSERT_TRUE(wait_isr("cc", p, 3, 15000));
}

/* Lines of the file at path that contain needle; the last one into
 * last (may be NULL). */
static int count_lines(const char *path, const char *needle, char *last,
                       size_t cap)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, needle)) {
            n++;
            if (last)
                snprintf(last, cap, "%s", line);
        }
    if (f)
        fclose(f);
    return n;
}

/* Stopping the whole cluster broker by broker (what deploy/quickstart
 * stop does): each hands its leaderships to the ones still running; the
 * last one has nobody to hand over to and stops without waiting out
 * the retries.  Runs last: it leaves no broker running.  (Logs are
 * appended across restarts: lines are counted before and after.) */
static void test_sigterm_whole_cluster(void)
{
    for (int id = 3; id >= 1; id--) {
        char log[600];
        snprintf(log, sizeof log, "%s/out.log", cl->broker[idx(id)].dir);
        int retries0 = count_lines(log, "(attempt 2)", NULL, 0);
        int moved0 = count_lines(log, "moved every leadership", NULL, 0);
        int none0 = count_lines(log, "no other in-sync replica", NULL, 0);
        int incomplete0 = count_lines(log, "incomplete after", NULL, 0);
        int64_t t0 = bk_clock_mono_ms();
        int status = bk_h_broker_signal(cl, idx(id), SIGTERM);
        int64_t took = bk_clock_mono_ms() - t0;
        CU_ASSERT(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        char first[1024] = "";
        bool retried = count_lines(log, "(attempt 2)", NULL, 0) > retries0;
        int a1 = count_lines(log, "(attempt 1)", first, sizeof first);
        printf("%s    broker %d stopped in %lld ms%s", id == 3 ? "\n" : "", id,
               (long long)took, retried ? " (retried)\n" : "\n");
        if (retried && a1 > 0)
            printf("      %s", first);
        if (id > 1) {
            CU_ASSERT(count_lines(log, "moved every leadership", NULL, 0) >
                      moved0);
        } else {
            CU_ASSERT(count_lines(log, "no other in-sync replica", NULL, 0) >
                      none0);
        }
        /* Never the give-up path (a retry after the controller itself
         * stopped just before is fine: the next attempt finds the new
         * one). */
        CU_ASSERT_EQUAL(count_lines(log, "incomplete after", NULL, 0),
                        incomplete0);
        CU_ASSERT(took < 3000);
    }
}

static CU_TestInfo tests[] = {
    {"stale controller epoch and leader epoch are fenced",
     test_stale_controller_epoch},
    {"leader SIGKILL: new leader in every broker's Metadata quickly",
     test_failover_propagation},
    {"a request's newer state is used at once and kept",
     test_request_ahead_of_zookeeper},
    {"controlled shutdown of a leader under acks=all produce",
     test_controlled_shutdown_leader},
    {"controlled shutdown of the controller hands over",
     test_controlled_shutdown_controller},
    {"SIGTERM to every broker in turn: the last stops at once",
     test_sigterm_whole_cluster},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("ctrl-rpc", tests, suite_init, suite_clean);
}
