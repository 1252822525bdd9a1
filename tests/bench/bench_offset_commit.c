/*
 * bench_offset_commit.c -- what a consumer-group offset commit costs in
 * ZooKeeper (coordinator/offsets.c): commits of N partitions (10 by
 * default) through bk_off_commit in the steady state (the znodes exist,
 * the cache knows them: one zoo_multi of N setData per commit), beside
 * plain zoo_multi writes of the same size (N setData of payloads of the
 * same length in one bk_zk_multi) from the same client, same machine,
 * same run.  The ratio shows what the offsets layer adds over the bare
 * ZooKeeper transaction (validation, encoding, the cache lookup).
 *
 * One synchronous client, so the figures are latency-bound: one commit in
 * flight at a time, as a consumer's synchronous commit.  The two kinds
 * alternate in rounds (ABAB...) so that a drift of the machine (other
 * load, the ZooKeeper JVM warming up) hits both alike.  The server is a
 * standalone ZooKeeper from the harness (forceSync on: every transaction
 * is fsynced to its log, as in production).
 *
 * Printed: per kind, writes per second with p50/p99 latency, and the
 * ratio; then each round's rates and the spread of the per-round ratio
 * (on a busy machine the fsync latency of ZooKeeper's log dominates and
 * wanders; the spread says how far to trust the ratio).  Exits 1 when a commit
 * fails, when a steady-state commit needed more than one round trip, or when
 * the offsets read back are not the last ones committed.
 *
 *   bench_offset_commit [--seconds S] [--partitions N] [--long] [--keep]
 *
 * The third kind is the whole path a consumer's commit takes: an
 * OffsetCommit request of N partitions sent to a brookd (one broker,
 * __consumer_offsets with one partition, so that broker coordinates the
 * group) over a blocking socket, answered after the broker's offsets
 * thread (broker/offsvc.c) has written it with bk_off_commit on the
 * broker's own ZooKeeper session.  The group has no members: a commit of
 * generation -1 (as brookctl or a consumer without group management
 * sends).  Its group name has the same length as the others, and the
 * bench's own session uses the cluster's chroot, so ZooKeeper sees paths
 * of the same length for all three kinds.  Rounds go ABCABC...
 *
 * Driven by tests/bench/offset-commit (which builds broker/brookd too).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "coordinator/offsets.h"
#include "proto/brook.pb-c.h"
#include "proto/protocol.h"
#include "coordinator/zk.h"
#include "tests/harness/harness.h"
#include "tests/unit/cu_main.h"

/* bk_test_dir() and friends for the harness: tests/bench/bench_env.c */

#define GROUP  "bench-group"
#define PLAIN  "bench-plain" /* same length as GROUP: same path lengths */
#define BROKER "bench-brokr" /* the group committed through the broker */
#define TOPIC  "bench-topic"
#define ROUNDS 5 /* rounds per kind, interleaved */
#define KINDS  3 /* bk_off_commit, plain multi, OffsetCommit via brookd */

typedef struct stats {
    long n;          /* writes done */
    int64_t ns;      /* time spent in them */
    int64_t cpu_ns;  /* CPU time of the calling thread in them */
    int64_t *lat_us; /* per write */
    long cap;
} stats;

static void stats_add(stats *s, int64_t ns)
{
    if (s->n == s->cap) {
        long nc = s->cap ? s->cap * 2 : 65536;
        int64_t *v = realloc(s->lat_us, (size_t)nc * sizeof *v);
        if (!v) {
            fprintf(stderr, "bench: out of memory\n");
            exit(2);
        }
        s->lat_us = v;
        s->cap = nc;
    }
    s->lat_us[s->n++] = ns / 1000;
    s->ns += ns;
}

/* CPU time of this thread: what the caller's side of a write costs,
 * which unlike wall time hardly depends on the machine's other load. */
static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct_ms(stats *s, double p)
{
    if (s->n == 0)
        return 0;
    long i = (long)(p * (double)(s->n - 1));
    return (double)s->lat_us[i] / 1000.0;
}

static double per_sec(const stats *s)
{
    return s->ns > 0 ? (double)s->n * 1e9 / (double)s->ns : 0;
}

/* ------------------------- the broker's OffsetCommit -------------------------
 */

static int32_t corr;

/* CreateTopics of TOPIC with nparts partitions (RF 1).  0 or -1. */
static int create_topic(int fd, int nparts)
{
    Brook__Request req;
    bk_h_req_init(&req, BK_API_CREATE_TOPICS, ++corr);
    Brook__CreateTopicsRequest cr = BROOK__CREATE_TOPICS_REQUEST__INIT;
    Brook__CreatableTopic t = BROOK__CREATABLE_TOPIC__INIT;
    Brook__CreatableTopic *tp = &t;
    t.name = TOPIC;
    t.num_partitions = nparts;
    t.replication_factor = 1;
    cr.n_topics = 1;
    cr.topics = &tp;
    cr.timeout_ms = 10000;
    req.body_case = BROOK__REQUEST__BODY_CREATE_TOPICS;
    req.create_topics = &cr;
    Brook__Response *r = bk_h_call(fd, &req, 15000);
    int rc = r && r->create_topics && r->create_topics->n_topics == 1 &&
                     r->create_topics->topics[0]->error_code == 0
                 ? 0
                 : -1;
    if (r)
        brook__response__free_unpacked(r, NULL);
    return rc;
}

/* FindCoordinator for BROKER until the broker names itself (it creates
 * __consumer_offsets on the first ask).  0 or -1. */
static int find_coordinator(int fd)
{
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < 20000) {
        Brook__Request req;
        bk_h_req_init(&req, BK_API_FIND_COORDINATOR, ++corr);
        Brook__FindCoordinatorRequest fr =
            BROOK__FIND_COORDINATOR_REQUEST__INIT;
        fr.key = BROKER;
        req.body_case = BROOK__REQUEST__BODY_FIND_COORDINATOR;
        req.find_coordinator = &fr;
        Brook__Response *r = bk_h_call(fd, &req, 10000);
        bool ok = r && r->find_coordinator &&
                  r->find_coordinator->error_code == 0 &&
                  r->find_coordinator->node_id == 1;
        if (r)
            brook__response__free_unpacked(r, NULL);
        if (ok)
            return 0;
        bk_h_sleep_ms(100);
    }
    return -1;
}

/* One OffsetCommit of partitions 0..nparts-1 at `offset`, generation -1,
 * waited for.  0, or the first partition error / -1 (transport), with a
 * message in err. */
static int broker_commit(int fd, int nparts, int64_t offset,
                         Brook__OffsetCommitRequestPartition *pp,
                         Brook__OffsetCommitRequestPartition **ppp, char *err,
                         size_t errlen)
{
    Brook__Request req;
    bk_h_req_init(&req, BK_API_OFFSET_COMMIT, ++corr);
    Brook__OffsetCommitRequest cr = BROOK__OFFSET_COMMIT_REQUEST__INIT;
    Brook__OffsetCommitRequestTopic t =
        BROOK__OFFSET_COMMIT_REQUEST_TOPIC__INIT;
    Brook__OffsetCommitRequestTopic *tp = &t;
    cr.group_id = BROKER;
    cr.member_id = "";
    cr.generation_id = -1;
    cr.n_topics = 1;
    cr.topics = &tp;
    t.name = TOPIC;
    t.n_partitions = (size_t)nparts;
    t.partitions = ppp;
    for (int p = 0; p < nparts; p++)
        pp[p].committed_offset = offset;
    req.body_case = BROOK__REQUEST__BODY_OFFSET_COMMIT;
    req.offset_commit = &cr;
    Brook__Response *r = bk_h_call(fd, &req, 10000);
    int rc = -1;
    if (!r) {
        snprintf(err, errlen, "OffsetCommit: no answer from the broker");
        return -1;
    }
    if (r->offset_commit && r->offset_commit->n_topics == 1 &&
        r->offset_commit->topics[0]->n_partitions == (size_t)nparts) {
        rc = 0;
        for (int p = 0; p < nparts && rc == 0; p++)
            rc = r->offset_commit->topics[0]->partitions[p]->error_code;
    }
    if (rc != 0)
        snprintf(err, errlen, "OffsetCommit: error %d (%s)", rc,
                 rc > 0 ? bk_err_name(rc) : "bad answer");
    brook__response__free_unpacked(r, NULL);
    return rc;
}

int main(int argc, char **argv)
{
    double seconds = 15;
    int nparts = 10;
    bool keep = false, set = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
            set = true;
        } else if (!strcmp(argv[i], "--partitions") && i + 1 < argc) {
            nparts = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--long")) {
            bk_test_long = true;
        } else if (!strcmp(argv[i], "--keep")) {
            keep = true;
        } else {
            fprintf(stderr,
                    "usage: %s [--seconds S] [--partitions N] [--long] "
                    "[--keep]\n",
                    argv[0]);
            return 2;
        }
    }
    if (bk_test_long && !set)
        seconds = 90;
    if (seconds <= 0 || nparts < 1 || nparts > 10000)
        return 2;

    /* One broker: it leads the single __consumer_offsets partition, so it
     * coordinates every group. */
    bk_h_cluster *cl =
        bk_h_cluster_start("bench", 1, 1,
                           "offsets.topic.num.partitions=1\n"
                           "offsets.topic.replication.factor=1\n"
                           "group.initial.rebalance.delay.ms=0\n");
    if (!cl)
        return 2;
    int rc = 1, bfd = -1;
    bk_zk *zk = NULL;
    bk_off_cache *cache = bk_off_cache_new(0);
    bk_off_entry *e = calloc((size_t)nparts, sizeof *e);
    bk_zk_op *ops = calloc((size_t)nparts, sizeof *ops);
    char(*paths)[BK_OFF_PATH_MAX] = calloc((size_t)nparts, sizeof *paths);
    Brook__OffsetCommitRequestPartition *bpp =
        calloc((size_t)nparts, sizeof *bpp);
    Brook__OffsetCommitRequestPartition **bppp =
        calloc((size_t)nparts, sizeof *bppp);
    stats st_off = {0}, st_zk = {0}, st_brk = {0};
    bk_buf payload = BK_BUF_INIT;
    bk_zk_opts o = {.connect = cl->zk_connect,
                    .session_timeout_ms = 30000,
                    .connect_timeout_ms = 10000};
    char err[300];
    if (!cache || !e || !ops || !paths || !bpp || !bppp ||
        bk_zk_open(&o, &zk, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s\n", zk ? "out of memory" : err);
        goto out;
    }

    /* Consumers usually commit with empty metadata; the offsets grow
     * with every commit, as a consumer's do. */
    for (int p = 0; p < nparts; p++)
        e[p] = (bk_off_entry){.topic = TOPIC, .partition = p, .metadata = ""};
    bk_off_commit_info info;
    if (bk_off_commit(zk, cache, GROUP, e, (size_t)nparts, 0, &info, err,
                      sizeof err) != 0) {
        fprintf(stderr, "bench: first commit: %s\n", err);
        goto out;
    }

    /* The plain writes go to the znodes of a twin group whose name has
     * the same length, with payloads of the same length as a commit's
     * (an offset of as many digits as the loop's, the same metadata, a
     * timestamp): ZooKeeper does the same work for both kinds, so the
     * ratio shows what Brook's layer adds. */
    if (bk_off_commit(zk, NULL, PLAIN, e, (size_t)nparts, 0, NULL, err,
                      sizeof err) != 0 ||
        bk_off_encode(1000000, "", bk_clock_wall_ms(), &payload) != 0) {
        fprintf(stderr, "bench: setting up the plain znodes failed\n");
        goto out;
    }
    for (int p = 0; p < nparts; p++) {
        bk_off_path_partition(paths[p], PLAIN, TOPIC, p);
        ops[p] = bk_zk_op_set(paths[p], payload.data, payload.len, -1);
    }

    /* The broker path: the topic must exist for the coordinator to take
     * its offsets; FindCoordinator creates __consumer_offsets; a first
     * commit creates the group's znodes. */
    for (int p = 0; p < nparts; p++) {
        brook__offset_commit_request_partition__init(&bpp[p]);
        bpp[p].partition_index = p;
        bpp[p].committed_leader_epoch = -1;
        bpp[p].committed_metadata = "";
        bppp[p] = &bpp[p];
    }
    if ((bfd = bk_h_connect(cl->broker[0].port)) < 0 ||
        create_topic(bfd, nparts) != 0 ||
        bk_h_wait_topic(cl, 0, TOPIC, nparts, 10000) != 0 ||
        find_coordinator(bfd) != 0 ||
        broker_commit(bfd, nparts, 0, bpp, bppp, err, sizeof err) != 0) {
        fprintf(stderr, "bench: setting up the broker path failed (%s)\n", err);
        goto out;
    }

    printf("offset-commit: %d partitions per commit, one synchronous client, "
           "standalone ZooKeeper and one brookd on this host, %d x %.1f s "
           "per kind\n",
           nparts, ROUNDS, seconds / (KINDS * ROUNDS));
    int64_t next = 1000000, slow = 0;
    /* `seconds` in all, shared by the kinds and rounds */
    int64_t round_ns = (int64_t)(seconds / (KINDS * ROUNDS) * 1e9);
    int64_t next_brk = 1;
    double rate[KINDS * ROUNDS]; /* per round, writes/s */
    for (int r = 0; r < KINDS * ROUNDS; r++) {
        int kind = r % KINDS;
        bool off = kind == 0;
        stats *cur = kind == 0 ? &st_off : kind == 1 ? &st_zk : &st_brk;
        long n0 = cur->n;
        int64_t ns0 = cur->ns;
        int64_t end = bk_clock_mono_ns() + round_ns;
        while (bk_clock_mono_ns() < end) {
            int64_t t0 = bk_clock_mono_ns(), c0 = thread_cpu_ns();
            int wrc;
            if (off) {
                for (int p = 0; p < nparts; p++)
                    e[p].offset = next;
                wrc = bk_off_commit(zk, cache, GROUP, e, (size_t)nparts, 0,
                                    &info, err, sizeof err);
                if (wrc == 0 && info.round_trips != 1)
                    slow++;
                next++;
            } else if (kind == 2) {
                wrc = broker_commit(bfd, nparts, next_brk++, bpp, bppp, err,
                                    sizeof err);
            } else {
                int failed;
                wrc = bk_zk_multi(zk, ops, nparts, &failed);
                snprintf(err, sizeof err, "multi: %s", bk_strerror(wrc));
            }
            int64_t dt = bk_clock_mono_ns() - t0;
            cur->cpu_ns += thread_cpu_ns() - c0;
            if (wrc != 0) {
                fprintf(stderr, "bench: %s\n", err);
                goto out;
            }
            stats_add(cur, dt);
        }
        rate[r] = cur->ns > ns0
                      ? (double)(cur->n - n0) * 1e9 / (double)(cur->ns - ns0)
                      : 0;
    }

    /* What was committed last is what is stored. */
    bk_off_list l;
    if (bk_off_fetch_all(zk, GROUP, TOPIC, &l, err, sizeof err) != 0) {
        fprintf(stderr, "bench: fetch: %s\n", err);
        goto out;
    }
    size_t good = 0;
    for (size_t i = 0; i < l.n; i++)
        good += l.v[i].offset == next - 1 && l.v[i].error == 0;
    bk_off_list_free(&l);
    size_t good_brk = 0;
    if (bk_off_fetch_all(zk, BROKER, TOPIC, &l, err, sizeof err) != 0) {
        fprintf(stderr, "bench: fetch: %s\n", err);
        goto out;
    }
    for (size_t i = 0; i < l.n; i++)
        good_brk += l.v[i].offset == next_brk - 1 && l.v[i].error == 0;
    bk_off_list_free(&l);

    qsort(st_off.lat_us, (size_t)st_off.n, sizeof *st_off.lat_us, cmp_i64);
    qsort(st_zk.lat_us, (size_t)st_zk.n, sizeof *st_zk.lat_us, cmp_i64);
    qsort(st_brk.lat_us, (size_t)st_brk.n, sizeof *st_brk.lat_us, cmp_i64);
    double a = per_sec(&st_off), b = per_sec(&st_zk), c = per_sec(&st_brk);
    printf("  bk_off_commit, steady state:      %8.0f commits/s  "
           "(%ld commits, p50 %.2f ms, p99 %.2f ms)\n",
           a, st_off.n, pct_ms(&st_off, 0.5), pct_ms(&st_off, 0.99));
    printf("  plain bk_zk_multi of %2d setData:  %8.0f multis/s   "
           "(%ld multis, p50 %.2f ms, p99 %.2f ms)\n",
           nparts, b, st_zk.n, pct_ms(&st_zk, 0.5), pct_ms(&st_zk, 0.99));
    printf("  OffsetCommit through brookd:      %8.0f commits/s  "
           "(%ld commits, p50 %.2f ms, p99 %.2f ms)\n",
           c, st_brk.n, pct_ms(&st_brk, 0.5), pct_ms(&st_brk, 0.99));
    printf("  ratio bk_off_commit / plain:      %8.2f\n", b > 0 ? a / b : 0);
    printf("  ratio brookd / plain:             %8.2f\n", b > 0 ? c / b : 0);
    printf("  caller's CPU per write:           %8.1f us (commit), %.1f us "
           "(plain multi), %.1f us (brookd request)\n",
           st_off.n ? (double)st_off.cpu_ns / 1000.0 / (double)st_off.n : 0,
           st_zk.n ? (double)st_zk.cpu_ns / 1000.0 / (double)st_zk.n : 0,
           st_brk.n ? (double)st_brk.cpu_ns / 1000.0 / (double)st_brk.n : 0);
    printf("  partition-offsets committed:      %8.0f per s (bk_off_commit), "
           "%.0f per s (brookd)\n",
           a * nparts, c * nparts);
    /* The machine's noise, visible: each round's rates and ratios. */
    double ratios[ROUNDS], bratios[ROUNDS];
    printf("  per round (commits/s : multis/s : brookd commits/s):");
    for (int r = 0; r < ROUNDS; r++) {
        const double *k = &rate[KINDS * r];
        printf(" %.0f:%.0f:%.0f", k[0], k[1], k[2]);
        ratios[r] = k[1] > 0 ? k[0] / k[1] : 0;
        bratios[r] = k[1] > 0 ? k[2] / k[1] : 0;
    }
    qsort(ratios, ROUNDS, sizeof ratios[0], cmp_double);
    qsort(bratios, ROUNDS, sizeof bratios[0], cmp_double);
    printf("\n  ratio per round, bk_off_commit / plain: min %.2f, median %.2f, "
           "max %.2f\n",
           ratios[0], ratios[ROUNDS / 2], ratios[ROUNDS - 1]);
    printf("  ratio per round, brookd / plain:        min %.2f, median %.2f, "
           "max %.2f\n",
           bratios[0], bratios[ROUNDS / 2], bratios[ROUNDS - 1]);
    if (slow)
        fprintf(stderr,
                "bench: %lld steady-state commits needed more than "
                "one round trip\n",
                (long long)slow);
    if (good != (size_t)nparts)
        fprintf(stderr,
                "bench: %zu of %d partitions read back the last "
                "committed offset\n",
                good, nparts);
    if (good_brk != (size_t)nparts)
        fprintf(stderr,
                "bench: %zu of %d partitions read back the last offset "
                "committed through the broker\n",
                good_brk, nparts);
    rc = slow == 0 && good == (size_t)nparts && good_brk == (size_t)nparts ? 0
                                                                           : 1;
out:
    if (bfd >= 0)
        close(bfd);
    free(bppp);
    free(bpp);
    free(st_off.lat_us);
    free(st_zk.lat_us);
    free(st_brk.lat_us);
    bk_buf_free(&payload);
    free(paths);
    free(ops);
    free(e);
    bk_off_cache_free(cache);
    bk_zk_close(zk);
    if (bk_h_cluster_log_problems(cl))
        rc = 1;
    bk_h_cluster_stop(cl);
    if (!keep) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", bk_test_dir());
        if (system(cmd) != 0)
            fprintf(stderr, "bench: could not remove %s\n", bk_test_dir());
    } else {
        printf("  files kept in %s\n", bk_test_dir());
    }
    return rc;
}
