/*
 * test_reassign.c -- partition reassignment (`brookctl partitions
 * reassign`, broker/reassign.c) on a real ZooKeeper with four brookd
 * processes; broker 4 is stopped before any topic exists and started
 * later (the new broker that takes replicas).  Topic "mv" has two
 * partitions of two replicas, assigned explicitly: 0 -> [1,2], 1 -> [2,3].
 *
 * Suite "reassign-codec" (no cluster): the /admin/reassign_partitions
 * JSON round-trips, and malformed lists are refused with a message
 * naming the problem.
 *
 * Suite "reassign":
 *   - bad input is refused before anything is written, each problem
 *     named: invalid JSON, an empty list, an empty replica list, a
 *     duplicate replica, an unknown topic, an unknown partition, a broker
 *     that is not registered (9, and the stopped 4); several problems of
 *     one file are all reported; the znode never appears;
 *   - --generate proposes every partition of the topics over the broker
 *     list with the replication factor kept, and writes nothing;
 *   - mv-0 [1,2] -> [3,4] while an acks=all producer keeps writing to
 *     whatever broker leads it (the leader moves: 1 is not a target):
 *     --verify says "in progress" or "complete" and ends complete; the
 *     assignment is [3,4], the leader a target with leader_epoch + 1,
 *     the ISR {3,4}; the znode is gone; brokers 1 and 2 deleted their
 *     mv-0 directories; 3 and 4 hold byte-identical logs that start with
 *     the bytes broker 1 had before the move; every acknowledged record
 *     is read back at its offset from the new leader;
 *   - mv-1 [L,x] -> [L,4] with L its leader: the leader and its epoch
 *     stay, x leaves the ISR and deletes its log, 4 gets an identical one;
 *   - an unreadable /admin/reassign_partitions (written by hand) is
 *     removed by the controller;
 *   - a reassignment that cannot finish (mv-1 gets broker 1 added while
 *     broker 1 is down: the znode is written by hand, brookctl would
 *     refuse): --verify says in progress and exits 1, a second
 *     `reassign` is refused naming the one in progress; the assignment
 *     shows [.., 1] with 1 in adding_replicas; the controller is
 *     SIGTERMed (a new one takes over from ZooKeeper alone) and broker 1
 *     started: the reassignment completes, three identical replicas.
 */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/fileio.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"
#include "proto/protocol.h"
#include "tests/integration/brokertest.h"
#include "tests/unit/cu_main.h"

#define TOPIC "mv"

static bk_h_cluster *cl;
static bk_zk *zk; /* the test's own session */

/* ------------------------------ codec ------------------------------ */

static int decode(const char *json, bk_zkc_reassign **v, size_t *n, char *err,
                  size_t errlen)
{
    return bk_zkc_reassign_decode(json, strlen(json), v, n, err, errlen);
}

static void test_codec_roundtrip(void)
{
    bk_zkc_reassign in[2] = {
        {.topic = "a.b", .partition = 3, .nreplicas = 3, .replicas = {3, 1, 2}},
        {.topic = "x", .partition = 0, .nreplicas = 1, .replicas = {7}}};
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_reassign_encode(in, 2, &b), 0);
    bk_buf_put(&b, "", 1);
    CU_ASSERT_STRING_EQUAL(
        (const char *)b.data,
        "{\"version\":1,\"partitions\":[{\"topic\":\"a.b\",\"partition\":3,"
        "\"replicas\":[3,1,2]},{\"topic\":\"x\",\"partition\":0,"
        "\"replicas\":[7]}]}");
    bk_zkc_reassign *v = NULL;
    size_t n = 0;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(
        bk_zkc_reassign_decode(b.data, b.len - 1, &v, &n, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(memcmp(v, in, sizeof in), 0);
    free(v);
    bk_buf_free(&b);
    /* Kafka's optional log_dirs is ignored; no version means 1. */
    CU_ASSERT_EQUAL(decode("{\"partitions\":[{\"topic\":\"t\",\"partition\":1,"
                           "\"replicas\":[2],\"log_dirs\":[\"any\"]}]}",
                           &v, &n, err, sizeof err),
                    0);
    CU_ASSERT(n == 1 && v[0].partition == 1 && v[0].replicas[0] == 2);
    free(v);
}

static void expect_bad(const char *json, const char *needle)
{
    bk_zkc_reassign *v = (void *)1;
    size_t n = 99;
    char err[512] = "";
    CU_ASSERT_EQUAL(decode(json, &v, &n, err, sizeof err), -BK_ECORRUPT);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(n, 0);
    if (!strstr(err, needle)) {
        printf("\n    '%s': got '%s', wanted '%s'\n", json, err, needle);
        CU_FAIL("message does not name the problem");
    }
}

static void test_codec_rejects(void)
{
    expect_bad("{", "invalid JSON");
    expect_bad("[]", "not a JSON object");
    expect_bad("{\"version\":2,\"partitions\":[]}", "version");
    expect_bad("{\"version\":1}", "\"partitions\" is missing");
    expect_bad("{\"partitions\":{}}", "not an array");
    expect_bad("{\"partitions\":[3]}", "partitions[0] is not an object");
    expect_bad("{\"partitions\":[{\"partition\":0,\"replicas\":[1]}]}",
               "missing \"topic\"");
    expect_bad("{\"partitions\":[{\"topic\":\"\",\"partition\":0,"
               "\"replicas\":[1]}]}",
               "\"topic\" is empty");
    expect_bad("{\"partitions\":[{\"topic\":\"..\",\"partition\":0,"
               "\"replicas\":[1]}]}",
               "cannot be \".\" or \"..\"");
    expect_bad("{\"partitions\":[{\"topic\":\"a/b\",\"partition\":0,"
               "\"replicas\":[1]}]}",
               "illegal");
    expect_bad("{\"partitions\":[{\"topic\":\"t\",\"partition\":-1,"
               "\"replicas\":[1]}]}",
               "\"partition\"");
    expect_bad("{\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}",
               "t-0: \"replicas\" is missing");
    expect_bad("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
               "\"replicas\":[]}]}",
               "t-0: the replica list is empty");
    expect_bad("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
               "\"replicas\":[1,2,1]}]}",
               "t-0: broker 1 is listed twice");
    expect_bad("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
               "\"replicas\":[1,\"2\"]}]}",
               "replica 2 is not a broker id");
    expect_bad("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
               "\"replicas\":[-3]}]}",
               "replica 1 is not a broker id");
    expect_bad("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
               "\"replicas\":[1]},{\"topic\":\"t\",\"partition\":0,"
               "\"replicas\":[2]}]}",
               "t-0 is listed twice");
}

/* ---------------------------- cluster suite ---------------------------- */

static int suite_init(void)
{
    /* A SIGTERMed broker that still leads a partition (no other live
     * in-sync replica) retries its controlled shutdown: quickly here. */
    cl = bk_h_cluster_start("reassign", 1, 4,
                            "controlled.shutdown.retry.backoff.ms=200\n");
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
    /* Broker 4 leaves before any topic exists: it comes back later as
     * the new broker. */
    if (bk_h_broker_signal(cl, 3, SIGTERM) < 0)
        return 1;
    int64_t t0 = bk_clock_mono_ms();
    while (bt_zk_exists(cl->zk_connect, "/brokers/ids/4") == 0) {
        if (bk_clock_mono_ms() - t0 > 10000)
            return 1;
        bk_h_sleep_ms(20);
    }
    const int32_t ids[] = {1, 2, 2, 3};
    bk_zkd_topic_spec spec = {.name = TOPIC,
                              .partitions = 2,
                              .replication_factor = 2,
                              .replicas = ids,
                              .start_index = -1,
                              .shift = -1};
    bk_zkd_result res;
    if (bk_zkd_topic_create(zk, &spec, &res) != 0 || res.error != 0) {
        fprintf(stderr, "create %s: %s\n", TOPIC, res.message);
        return 1;
    }
    for (int i = 0; i < 3; i++)
        if (bk_h_wait_topic(cl, i, TOPIC, 2, 10000) != 0)
            return 1;
    return 0;
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

/* Writes text to a file in the test dir; returns its path (one of a few
 * static buffers, so that two can be in use at once). */
static const char *json_file(const char *name, const char *text)
{
    static char paths[4][600];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s.json", bk_test_dir(), name);
    CU_ASSERT_FATAL(bk_file_write_atomic(path, text, strlen(text)) == 0);
    return path;
}

static int ctl(char *out, size_t outlen, const char *mode, const char *file)
{
    const char *args[] = {"partitions", "reassign", "--reassignment-json-file",
                          file,         mode,       NULL};
    return bk_h_brookctl(cl, out, outlen, args);
}

static bool admin_exists(void)
{
    return bt_zk_exists(cl->zk_connect, BK_ZKC_REASSIGN) == 0;
}

static bool read_state(int p, bk_zkc_pstate *st)
{
    return bk_zkd_pstate_read(zk, TOPIC, p, st, NULL) == 0;
}

static bool isr_is(const bk_zkc_pstate *st, const int32_t *ids, int n)
{
    if (st->nisr != n)
        return false;
    for (int i = 0; i < n; i++) {
        bool found = false;
        for (int k = 0; k < st->nisr; k++)
            found |= st->isr[k] == ids[i];
        if (!found)
            return false;
    }
    return true;
}

/* Waits until p's ISR is the set ids[0..n) (a leader that saw the
 * smaller ISR before the narrowed assignment may briefly take a removed
 * replica back; the controller drops it again).  *st gets the state. */
static bool wait_isr(int p, const int32_t *ids, int n, bk_zkc_pstate *st)
{
    int64_t t0 = bk_clock_mono_ms();
    for (;;) {
        bool ok = read_state(p, st) && isr_is(st, ids, n);
        if (ok || bk_clock_mono_ms() - t0 > 3000)
            return ok;
        bk_h_sleep_ms(20);
    }
}

/* Partition p's replica list in ZooKeeper (and adding count). */
static int replicas_of(int p, int32_t *out, int *nadding)
{
    bk_zkc_assignment a;
    if (bk_zkd_topic_read(zk, TOPIC, &a, NULL) != 0)
        return -1;
    const bk_zkc_part *pp = bk_zkc_assignment_find(&a, p);
    int n = pp ? pp->nreplicas : -1;
    if (pp)
        memcpy(out, pp->replicas, (size_t)n * sizeof *out);
    if (nadding)
        *nadding = pp ? pp->nadding : 0;
    bk_zkc_assignment_free(&a);
    return n;
}

static bool dir_exists(int id, int p)
{
    return access(bk_h_partition_dir(cl, id - 1, TOPIC, p), F_OK) == 0;
}

static bool wait_dir_gone(int id, int p, int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms();
    while (dir_exists(id, p)) {
        if (bk_clock_mono_ms() - t0 > timeout_ms)
            return false;
        bk_h_sleep_ms(20);
    }
    return true;
}

/* Waits until the logs of partition p on brokers ids[0..n) are
 * byte-identical and non-empty; *log gets them. */
static bool wait_identical(int p, const int *ids, int n, bk_buf *log,
                           int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms();
    for (;;) {
        bk_buf first = BK_BUF_INIT;
        bool same = bt_read_log(bk_h_partition_dir(cl, ids[0] - 1, TOPIC, p),
                                &first) == 0 &&
                    first.len > 0;
        for (int i = 1; same && i < n; i++) {
            bk_buf other = BK_BUF_INIT;
            same = bt_read_log(bk_h_partition_dir(cl, ids[i] - 1, TOPIC, p),
                               &other) == 0 &&
                   other.len == first.len &&
                   memcmp(other.data, first.data, first.len) == 0;
            bk_buf_free(&other);
        }
        if (same || bk_clock_mono_ms() - t0 > timeout_ms) {
            bk_buf_reset(log);
            bk_buf_put(log, first.data, first.len);
            bk_buf_free(&first);
            return same;
        }
        bk_buf_free(&first);
        bk_h_sleep_ms(50);
    }
}

/* The leader of partition p as some live broker's Metadata says. */
static int leader_of(int p)
{
    for (int i = 0; i < cl->n; i++) {
        if (!cl->broker[i].pid)
            continue;
        int id = bt_leader(cl->broker[i].port, TOPIC, p);
        if (id >= 1)
            return id;
    }
    return -1;
}

/* Acknowledged batches of the producer below. */
typedef struct acked {
    int64_t base;
    int first, n;
} acked;

typedef struct producer {
    int p;
    acked v[4096];
    int n;
    int next;    /* next record number */
    int retries; /* failed attempts (leader moved, timeouts) */
} producer;

/* Produces one batch of 10 records acks=all to whoever leads p, retrying
 * on the next leader; true when acknowledged. */
static bool produce_one(producer *pr, int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < timeout_ms) {
        int id = leader_of(pr->p);
        int fd = id >= 1 ? bk_h_connect(cl->broker[id - 1].port) : -1;
        int64_t base = -1;
        int rc =
            fd >= 0 ? bt_produce(fd, TOPIC, pr->p, -1, "a", pr->next, 10, &base)
                    : -1;
        if (fd >= 0)
            close(fd);
        if (rc == 0) {
            if (pr->n < (int)(sizeof pr->v / sizeof pr->v[0]))
                pr->v[pr->n++] = (acked){base, pr->next, 10};
            pr->next += 10;
            return true;
        }
        pr->retries++;
        pr->next += 10; /* a failed attempt may still be in the log */
        bk_h_sleep_ms(20);
    }
    return false;
}

/* Every acknowledged record of pr is read back at its offset from the
 * leader. */
static void check_acked(const producer *pr)
{
    int id = leader_of(pr->p);
    CU_ASSERT_FATAL(id >= 1);
    int fd = bk_h_connect(cl->broker[id - 1].port);
    CU_ASSERT_FATAL(fd >= 0);
    bt_fetch_res r;
    bt_fetch_all(fd, TOPIC, pr->p, &r);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(r.error, 0);
    int missing = 0;
    for (int i = 0; i < pr->n; i++) {
        for (int k = 0; k < pr->v[i].n; k++) {
            int64_t off = pr->v[i].base + k;
            char want[64];
            snprintf(want, sizeof want, "a-%d", pr->v[i].first + k);
            if (off >= (int64_t)r.nrecs || r.recs[off].offset != off ||
                strcmp(r.recs[off].value, want) != 0)
                missing++;
        }
    }
    printf("    %s-%d: %d acknowledged batches, %zu records read, "
           "%d missing\n",
           TOPIC, pr->p, pr->n, r.nrecs, missing);
    CU_ASSERT_EQUAL(missing, 0);
    bt_fetch_free(&r);
}

/* Runs --verify until it exits 0; the time taken or -1. */
static int64_t wait_complete(const char *file, int timeout_ms, producer *pr)
{
    int64_t t0 = bk_clock_mono_ms();
    char out[2048];
    bool saw_progress = false;
    for (;;) {
        if (pr)
            CU_ASSERT(produce_one(pr, 10000));
        int rc = ctl(out, sizeof out, "--verify", file);
        if (rc == 0) {
            CU_ASSERT_PTR_NOT_NULL(strstr(out, "is complete."));
            return bk_clock_mono_ms() - t0;
        }
        CU_ASSERT_EQUAL(rc, 1);
        if (strstr(out, "in progress"))
            saw_progress = true;
        else
            printf("\n    unexpected --verify output: %s\n", out);
        if (bk_clock_mono_ms() - t0 > timeout_ms) {
            printf("\n    --verify after %d ms: %s\n", timeout_ms, out);
            return -1;
        }
        bk_h_sleep_ms(pr ? 5 : 50);
    }
    (void)saw_progress;
}

/* -------------------------------- tests -------------------------------- */

static void expect_refused(const char *name, const char *json,
                           const char *const *needles)
{
    char out[4096];
    int rc = ctl(out, sizeof out, "--execute", json_file(name, json));
    CU_ASSERT_EQUAL(rc, 1);
    for (int i = 0; needles[i]; i++) {
        if (!strstr(out, needles[i])) {
            printf("\n    %s: output lacks '%s':\n%s\n", name, needles[i], out);
            CU_FAIL("the problem is not named");
        }
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "nothing was written"));
    CU_ASSERT_FALSE(admin_exists());
}

static void test_rejects_bad_input(void)
{
    expect_refused("garbage", "{\"version\":1,\"partitions\":[",
                   (const char *[]){"invalid JSON", NULL});
    expect_refused("empty", "{\"version\":1,\"partitions\":[]}",
                   (const char *[]){"no partitions to reassign", NULL});
    expect_refused("norep",
                   "{\"version\":1,\"partitions\":[{\"topic\":\"mv\","
                   "\"partition\":0,\"replicas\":[]}]}",
                   (const char *[]){"mv-0: the replica list is empty", NULL});
    expect_refused("dup",
                   "{\"version\":1,\"partitions\":[{\"topic\":\"mv\","
                   "\"partition\":0,\"replicas\":[3,3]}]}",
                   (const char *[]){"broker 3 is listed twice", NULL});
    expect_refused("unknown",
                   "{\"version\":1,\"partitions\":["
                   "{\"topic\":\"nope\",\"partition\":0,\"replicas\":[1]},"
                   "{\"topic\":\"mv\",\"partition\":7,\"replicas\":[1]},"
                   "{\"topic\":\"mv\",\"partition\":0,\"replicas\":[1,9]},"
                   "{\"topic\":\"mv\",\"partition\":1,\"replicas\":[4,3]}]}",
                   (const char *[]){"topic 'nope' does not exist",
                                    "partition 7 does not exist",
                                    "mv-0: broker 9 is not registered",
                                    "mv-1: broker 4 is not registered",
                                    "4 problems", NULL});
    /* Usage errors never reach ZooKeeper. */
    const char *args[] = {"partitions", "reassign", "--verify", NULL};
    CU_ASSERT_EQUAL(bk_h_brookctl(cl, NULL, 0, args), 2);
    CU_ASSERT_FALSE(admin_exists());
}

static void test_generate(void)
{
    char out[4096];
    const char *args[] = {"partitions", "reassign", "--generate",
                          "--topics",   TOPIC,      "--broker-list",
                          "1,2,3,4",    NULL};
    CU_ASSERT_EQUAL_FATAL(bk_h_brookctl(cl, out, sizeof out, args), 0);
    const char *prop =
        strstr(out, "Proposed partition reassignment configuration\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(prop);
    prop = strchr(prop, '\n') + 1;
    const char *end = strchr(prop, '\n');
    CU_ASSERT_PTR_NOT_NULL_FATAL(end);
    bk_zkc_reassign *v = NULL;
    size_t n = 0;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(bk_zkc_reassign_decode(prop, (size_t)(end - prop), &v,
                                                 &n, err, sizeof err),
                          0);
    CU_ASSERT_EQUAL(n, 2);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_STRING_EQUAL(v[i].topic, TOPIC);
        CU_ASSERT_EQUAL(v[i].partition, (int32_t)i);
        CU_ASSERT_EQUAL(v[i].nreplicas, 2);
        for (int r = 0; r < v[i].nreplicas; r++)
            CU_ASSERT(v[i].replicas[r] >= 1 && v[i].replicas[r] <= 4);
    }
    /* Leaders round-robin: the two partitions start on different brokers. */
    CU_ASSERT(n == 2 && v[0].replicas[0] != v[1].replicas[0]);
    free(v);
    CU_ASSERT_FALSE(admin_exists());
}

static void test_move_to_new_broker(void)
{
    static producer pr = {.p = 0};
    for (int i = 0; i < 30; i++)
        CU_ASSERT_FATAL(produce_one(&pr, 5000));
    /* Broker 1 leads mv-0; what it holds now must survive the move. */
    bk_zkc_pstate before;
    CU_ASSERT_FATAL(read_state(0, &before));
    CU_ASSERT_EQUAL(before.leader, 1);
    bk_buf old = BK_BUF_INIT;
    CU_ASSERT_FATAL(wait_identical(0, (const int[]){1, 2}, 2, &old, 5000));
    /* The new broker arrives. */
    CU_ASSERT_EQUAL_FATAL(bk_h_broker_start(cl, 3, true), 0);
    const char *file =
        json_file("move", "{\"version\":1,\"partitions\":[{\"topic\":\"mv\","
                          "\"partition\":0,\"replicas\":[3,4]}]}");
    char out[4096];
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL_FATAL(ctl(out, sizeof out, "--execute", file), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Current partition replica assignment"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"partition\":0,\"replicas\":[1,2]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Successfully started"));
    /* Keep producing while it runs. */
    int64_t took = wait_complete(file, 20000, &pr);
    printf("\n    mv-0 [1,2] -> [3,4]: complete after %lld ms "
           "(%d acknowledged batches, %d retried attempts)\n",
           (long long)(bk_clock_mono_ms() - t0), pr.n, pr.retries);
    CU_ASSERT_FATAL(took >= 0);
    int32_t reps[64];
    CU_ASSERT_EQUAL(replicas_of(0, reps, NULL), 2);
    CU_ASSERT(reps[0] == 3 && reps[1] == 4);
    bk_zkc_pstate st;
    CU_ASSERT(wait_isr(0, (const int32_t[]){3, 4}, 2, &st));
    CU_ASSERT(st.leader == 3 || st.leader == 4);
    CU_ASSERT(st.leader_epoch > before.leader_epoch);
    CU_ASSERT_FALSE(admin_exists());
    /* The old replicas are gone from disk. */
    CU_ASSERT_TRUE(wait_dir_gone(1, 0, 10000));
    CU_ASSERT_TRUE(wait_dir_gone(2, 0, 10000));
    /* Produce and fetch on the new leader. */
    for (int i = 0; i < 10; i++)
        CU_ASSERT(produce_one(&pr, 5000));
    check_acked(&pr);
    bk_buf now = BK_BUF_INIT;
    CU_ASSERT_TRUE(wait_identical(0, (const int[]){3, 4}, 2, &now, 10000));
    CU_ASSERT(now.len > old.len);
    CU_ASSERT(now.len >= old.len && memcmp(now.data, old.data, old.len) == 0);
    bk_buf_free(&now);
    bk_buf_free(&old);
}

static void test_keep_leader(void)
{
    bk_zkc_pstate before;
    CU_ASSERT_FATAL(read_state(1, &before));
    int32_t reps[64];
    CU_ASSERT_EQUAL_FATAL(replicas_of(1, reps, NULL), 2);
    int lead = before.leader;
    int other = reps[0] == lead ? reps[1] : reps[0];
    CU_ASSERT_FATAL(lead >= 1 && other >= 1 && lead != 4 && other != 4);
    static producer pr = {.p = 1};
    for (int i = 0; i < 10; i++)
        CU_ASSERT_FATAL(produce_one(&pr, 5000));
    char json[256], out[4096];
    snprintf(json, sizeof json,
             "{\"version\":1,\"partitions\":[{\"topic\":\"mv\","
             "\"partition\":1,\"replicas\":[%d,4]}]}",
             lead);
    const char *file = json_file("keep", json);
    CU_ASSERT_EQUAL_FATAL(ctl(out, sizeof out, "--execute", file), 0);
    int64_t took = wait_complete(file, 20000, NULL);
    printf("\n    mv-1 [%d,%d] -> [%d,4]: complete after %lld ms\n", lead,
           other, lead, (long long)took);
    CU_ASSERT_FATAL(took >= 0);
    bk_zkc_pstate st;
    CU_ASSERT(wait_isr(1, (const int32_t[]){lead, 4}, 2, &st));
    CU_ASSERT_EQUAL(st.leader, lead);
    CU_ASSERT_EQUAL(st.leader_epoch, before.leader_epoch);
    CU_ASSERT_TRUE(wait_dir_gone(other, 1, 10000));
    bk_buf log = BK_BUF_INIT;
    CU_ASSERT_TRUE(wait_identical(1, (const int[]){lead, 4}, 2, &log, 10000));
    bk_buf_free(&log);
    for (int i = 0; i < 5; i++)
        CU_ASSERT(produce_one(&pr, 5000));
    check_acked(&pr);
}

static void test_unreadable_znode_removed(void)
{
    const char junk[] = "{\"version\":1,\"partitions\":[{\"topic\":7}]}";
    CU_ASSERT_EQUAL_FATAL(
        bk_zk_create(zk, BK_ZKC_REASSIGN, junk, sizeof junk - 1, 0, NULL, 0),
        0);
    int64_t t0 = bk_clock_mono_ms();
    while (admin_exists() && bk_clock_mono_ms() - t0 < 5000)
        bk_h_sleep_ms(20);
    CU_ASSERT_FALSE(admin_exists());
}

static void test_new_topic_on_new_broker(void)
{
    /* Broker 4 joined during the move above: a topic created now spreads
     * over all four, leaders round-robin, so broker 4 leads one
     * partition and holds its log. */
    int fd = bk_h_connect(cl->broker[3].port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL_FATAL(bt_create_topic(fd, "fresh", 4, 2), 0);
    close(fd);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL_FATAL(bk_h_wait_topic(cl, i, "fresh", 4, 10000), 0);
    bk_zkc_assignment a;
    CU_ASSERT_EQUAL_FATAL(bk_zkd_topic_read(zk, "fresh", &a, NULL), 0);
    int led_by_4 = -1, on_4 = 0;
    for (int32_t p = 0; p < a.nparts; p++) {
        if (a.parts[p].replicas[0] == 4)
            led_by_4 = p;
        for (int32_t r = 0; r < a.parts[p].nreplicas; r++)
            on_4 += a.parts[p].replicas[r] == 4;
    }
    bk_zkc_assignment_free(&a);
    CU_ASSERT_FATAL(led_by_4 >= 0);
    CU_ASSERT_EQUAL(on_4, 2);
    CU_ASSERT_EQUAL(bt_leader(cl->broker[3].port, "fresh", led_by_4), 4);
    CU_ASSERT_EQUAL(access(bk_h_partition_dir(cl, 3, "fresh", led_by_4), F_OK),
                    0);
}

static void test_several_partitions(void)
{
    /* Both partitions of mv in one file: mv-0 [3,4] -> [4,1] (the
     * preferred replica changes, 3 goes), mv-1 [..] -> [1] (replication
     * factor 3 -> 1, leader moves to 1 unless it leads already). */
    int32_t r1[64];
    int n1 = replicas_of(1, r1, NULL);
    CU_ASSERT_FATAL(n1 == 3);
    static producer p0 = {.p = 0}, p1 = {.p = 1};
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_FATAL(produce_one(&p0, 5000));
        CU_ASSERT_FATAL(produce_one(&p1, 5000));
    }
    const char *file = json_file(
        "both", "{\"version\":1,\"partitions\":["
                "{\"topic\":\"mv\",\"partition\":0,\"replicas\":[4,1]},"
                "{\"topic\":\"mv\",\"partition\":1,\"replicas\":[1]}]}");
    char out[4096];
    CU_ASSERT_EQUAL_FATAL(ctl(out, sizeof out, "--execute", file), 0);
    int64_t took = wait_complete(file, 20000, NULL);
    printf("\n    mv-0 -> [4,1] and mv-1 -> [1]: complete after %lld ms\n",
           (long long)took);
    CU_ASSERT_FATAL(took >= 0);
    CU_ASSERT_EQUAL(ctl(out, sizeof out, "--verify", file), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "mv-0 is complete."));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "mv-1 is complete."));
    int32_t now[64];
    CU_ASSERT_EQUAL(replicas_of(0, now, NULL), 2);
    CU_ASSERT(now[0] == 4 && now[1] == 1);
    CU_ASSERT_EQUAL(replicas_of(1, now, NULL), 1);
    CU_ASSERT_EQUAL(now[0], 1);
    bk_zkc_pstate st;
    CU_ASSERT(wait_isr(0, (const int32_t[]){4, 1}, 2, &st));
    CU_ASSERT_EQUAL(st.leader, 4); /* 3 led it and is gone: 4 is first */
    CU_ASSERT(wait_isr(1, (const int32_t[]){1}, 1, &st));
    CU_ASSERT_EQUAL(st.leader, 1);
    CU_ASSERT_TRUE(wait_dir_gone(3, 0, 10000));
    for (int i = 0; i < n1; i++)
        if (r1[i] != 1)
            CU_ASSERT_TRUE(wait_dir_gone(r1[i], 1, 10000));
    for (int i = 0; i < 5; i++) {
        CU_ASSERT(produce_one(&p0, 5000));
        CU_ASSERT(produce_one(&p1, 5000));
    }
    check_acked(&p0);
    check_acked(&p1);
    bk_buf log = BK_BUF_INIT;
    CU_ASSERT_TRUE(wait_identical(0, (const int[]){4, 1}, 2, &log, 10000));
    bk_buf_free(&log);
}

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

static void test_failover_mid_reassignment(void)
{
    int32_t reps[64];
    CU_ASSERT_EQUAL_FATAL(replicas_of(1, reps, NULL), 2);
    CU_ASSERT_FATAL(reps[0] != 1 && reps[1] != 1);
    /* Broker 1 holds no replica now; it goes down, and a reassignment
     * adding it is written by hand (brookctl refuses a broker that is
     * not registered, as Kafka's tool does). */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, 0, SIGTERM) >= 0);
    while (bt_zk_exists(cl->zk_connect, "/brokers/ids/1") == 0)
        bk_h_sleep_ms(20);
    bk_zkc_reassign want = {.topic = TOPIC,
                            .partition = 1,
                            .nreplicas = 3,
                            .replicas = {reps[0], reps[1], 1}};
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_reassign_encode(&want, 1, &b), 0);
    CU_ASSERT_EQUAL_FATAL(
        bk_zk_create(zk, BK_ZKC_REASSIGN, b.data, b.len, 0, NULL, 0), 0);
    char json[256], out[4096];
    snprintf(json, sizeof json,
             "{\"version\":1,\"partitions\":[{\"topic\":\"mv\","
             "\"partition\":1,\"replicas\":[%d,%d,1]}]}",
             reps[0], reps[1]);
    const char *file = json_file("grow", json);
    /* The expansion is written (1 is in adding_replicas) and then it
     * waits for broker 1. */
    int nadd = 0;
    int32_t now[64];
    int64_t t0 = bk_clock_mono_ms();
    while ((replicas_of(1, now, &nadd) != 3 || nadd != 1) &&
           bk_clock_mono_ms() - t0 < 5000)
        bk_h_sleep_ms(20);
    CU_ASSERT_EQUAL(replicas_of(1, now, &nadd), 3);
    CU_ASSERT_EQUAL(nadd, 1);
    CU_ASSERT_EQUAL(ctl(out, sizeof out, "--verify", file), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "mv-1 is in progress"));
    /* A second reassignment is refused, the first left as it was. */
    const char *other =
        json_file("other", "{\"version\":1,\"partitions\":[{\"topic\":\"mv\","
                           "\"partition\":0,\"replicas\":[4,3]}]}");
    CU_ASSERT_EQUAL(ctl(out, sizeof out, "--execute", other), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "already in progress"));
    bk_buf cur = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_zk_get(zk, BK_ZKC_REASSIGN, &cur, NULL, NULL, NULL), 0);
    CU_ASSERT(cur.len == b.len && memcmp(cur.data, b.data, b.len) == 0);
    bk_buf_free(&cur);
    bk_buf_free(&b);
    /* The controller goes; the next one continues from ZooKeeper. */
    int c0 = controller_id();
    CU_ASSERT_FATAL(c0 >= 2 && c0 <= 4);
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, c0 - 1, SIGTERM) >= 0);
    t0 = bk_clock_mono_ms();
    int c1;
    while (((c1 = controller_id()) < 0 || c1 == c0) &&
           bk_clock_mono_ms() - t0 < 10000)
        bk_h_sleep_ms(20);
    printf("\n    controller %d SIGTERMed: %d took over after %lld ms\n", c0,
           c1, (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_FATAL(c1 >= 1 && c1 != c0);
    CU_ASSERT_EQUAL_FATAL(bk_h_broker_start(cl, c0 - 1, true), 0);
    /* Broker 1 returns: it catches up, joins the ISR, and the (new)
     * controller finishes. */
    t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL_FATAL(bk_h_broker_start(cl, 0, true), 0);
    int64_t took = wait_complete(file, 20000, NULL);
    printf("    broker 1 back: mv-1 complete after %lld ms\n",
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_FATAL(took >= 0);
    CU_ASSERT_EQUAL(replicas_of(1, now, &nadd), 3);
    CU_ASSERT_EQUAL(nadd, 0);
    CU_ASSERT(now[0] == reps[0] && now[1] == reps[1] && now[2] == 1);
    bk_zkc_pstate st;
    CU_ASSERT(wait_isr(1, (const int32_t[]){reps[0], reps[1], 1}, 3, &st));
    bk_buf log = BK_BUF_INIT;
    CU_ASSERT_TRUE(wait_identical(
        1, (const int[]){(int)reps[0], (int)reps[1], 1}, 3, &log, 10000));
    bk_buf_free(&log);
    CU_ASSERT_FALSE(admin_exists());
}

static CU_TestInfo codec_tests[] = {
    {"JSON round trip", test_codec_roundtrip},
    {"malformed lists named", test_codec_rejects},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo cluster_tests[] = {
    {"bad input refused, nothing written", test_rejects_bad_input},
    {"--generate proposes an assignment", test_generate},
    {"move to a new broker, leader moves, no loss", test_move_to_new_broker},
    {"leader stays when it is a target", test_keep_leader},
    {"a new topic takes the new broker", test_new_topic_on_new_broker},
    {"unreadable znode removed", test_unreadable_znode_removed},
    {"controller failover mid-reassignment", test_failover_mid_reassignment},
    {"several partitions, replication factor down", test_several_partitions},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite("reassign-codec", codec_tests);
    bk_test_add_suite_fn("reassign", cluster_tests, suite_init, suite_clean);
}
