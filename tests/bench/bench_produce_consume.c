/*
 * bench_produce_consume.c -- end-to-end throughput and produce latency of
 * a three-broker cluster: a real ZooKeeper and three brookd processes
 * (tests/harness), libbrook producing 100-byte records to topics of one
 * partition in three configurations, one after the other in the same run:
 *
 *   RF=1 acks=1    (--acks changes it; then a fresh client consumes it all)
 *   RF=3 acks=1    (the leader's append answers; followers catch up after)
 *   RF=3 acks=all  (min.insync.replicas=2: answered once the high watermark
 *                   passes the batch)
 *
 * Each throughput figure is printed beside a raw loopback baseline measured
 * in the same run: the same number of payload bytes written through a pair
 * of TCP sockets on 127.0.0.1 in 16 KiB chunks, so the cost of the whole
 * stack (encoding, framing, protobuf, the broker's validation and log
 * append, replication, fetch) reads as a fraction of what the kernel's
 * loopback alone allows.  Produce latency is per record, from the
 * brook_produce() call to its delivery report; reports are delivered inside
 * brook_poll()/brook_flush(), so the figure includes linger.ms, batching
 * and the producer loop's polling gaps, as an application would see it.
 * p50/p99 are taken over every record of the run.
 *
 *   bench_produce_consume [--records N] [--records-rf3 N] [--size BYTES]
 *                         [--batch-size B] [--linger MS] [--acks A] [--keep]
 *
 * Driven by tests/bench/produce-consume.  Prints one line per measurement
 * and a summary; exits 1 when a record goes missing.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/brook.h"
#include "common/clock.h"
#include "tests/harness/harness.h"
#include "tests/unit/cu_main.h"

/* bk_test_dir() and friends for the harness: tests/bench/bench_env.c */

/* ------------------------------ baseline ------------------------------ */

#define CHUNK (16 * 1024)

typedef struct sink {
    int fd;
    uint64_t want, got;
} sink;

static void *sink_main(void *arg)
{
    sink *s = arg;
    static char buf[CHUNK];
    while (s->got < s->want) {
        ssize_t n = read(s->fd, buf, sizeof buf);
        if (n <= 0)
            break;
        s->got += (uint64_t)n;
    }
    return NULL;
}

/* Moves `bytes` through a loopback TCP connection in 16 KiB writes; the
 * seconds it took, or -1. */
static double loopback_seconds(uint64_t bytes)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(l, 1) != 0 || getsockname(l, (struct sockaddr *)&a, &len) != 0)
        return -1;
    int w = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(w, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    int r = accept(l, NULL, NULL);
    close(l);
    int one = 1;
    setsockopt(w, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sink s = {.fd = r, .want = bytes};
    static char buf[CHUNK];
    memset(buf, 'x', sizeof buf);
    int64_t t0 = bk_clock_mono_ns();
    pthread_t th;
    pthread_create(&th, NULL, sink_main, &s);
    uint64_t sent = 0;
    while (sent < bytes) {
        size_t n = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK;
        ssize_t k = write(w, buf, n);
        if (k <= 0)
            break;
        sent += (uint64_t)k;
    }
    pthread_join(th, NULL);
    int64_t t1 = bk_clock_mono_ns();
    close(w);
    close(r);
    return s.got == bytes ? (double)(t1 - t0) / 1e9 : -1;
}

/* ------------------------------ the client side ---------------------------
 */

/* Delivery bookkeeping for one produce run: the opaque of record i is
 * (void *)(i + 1); sent_ns[i] is when brook_produce() was called for it and
 * becomes its latency when its report arrives. */
typedef struct dr_state {
    uint64_t ok, failed;
    int last_err;
    int64_t *lat_ns; /* n entries */
} dr_state;

static void on_dr(brook_client *c, const brook_dr *dr, void *arg)
{
    (void)c;
    dr_state *d = arg;
    uintptr_t i = (uintptr_t)dr->opaque - 1;
    d->lat_ns[i] = bk_clock_mono_ns() - d->lat_ns[i];
    if (dr->err) {
        d->failed++;
        d->last_err = dr->err;
    } else {
        d->ok++;
    }
}

static brook_client *client(const char *bootstrap, const char *const *kv,
                            brook_dr_cb *dr, void *arg)
{
    char err[256];
    brook_conf *conf = brook_conf_new();
    brook_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    for (; *kv; kv++) {
        if (brook_conf_set_kv(conf, *kv, err, sizeof err) != 0) {
            fprintf(stderr, "bench: %s\n", err);
            exit(2);
        }
    }
    if (dr)
        brook_conf_set_dr_cb(conf, dr, arg);
    brook_client *c = brook_client_new(conf, err, sizeof err);
    if (!c) {
        fprintf(stderr, "bench: %s\n", err);
        exit(2);
    }
    return c;
}

static void line(const char *what, uint64_t n, uint64_t bytes, double s,
                 double base_s)
{
    printf("  %-18s %9.0f records/s  %7.1f MB/s  (%.2f s)   loopback "
           "%7.1f MB/s -> %4.1f%% of it\n",
           what, (double)n / s, (double)bytes / s / 1e6, s,
           (double)bytes / base_s / 1e6, 100.0 * base_s / s);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Creates topic (1 partition, replication factor rf, optional one
 * --config k=v) and waits until broker 0 sees it led.  0 or -1. */
static int create_topic(bk_h_cluster *cl, const char *topic, int rf,
                        const char *config)
{
    char rfs[16];
    snprintf(rfs, sizeof rfs, "%d", rf);
    const char *args[] = {"topics",
                          "create",
                          "--topic",
                          topic,
                          "--partitions",
                          "1",
                          "--replication-factor",
                          rfs,
                          config ? "--config" : NULL,
                          config,
                          NULL};
    char out[1024] = "";
    if (bk_h_brookctl(cl, out, sizeof out, args) != 0 ||
        bk_h_wait_topic(cl, 0, topic, 1, 20000) != 0) {
        fprintf(stderr, "bench: creating %s failed: %s\n", topic, out);
        return -1;
    }
    return 0;
}

typedef struct prod_opts {
    int size;
    const char *batch, *linger;
} prod_opts;

/* Produces n records of o->size bytes to partition 0 of topic with the
 * given acks and prints the throughput (rate 0: as fast as it goes) or the
 * achieved rate (rate > 0: record i is not sent before i / rate seconds)
 * and the latency line.  0, or 1 when a record failed, 2 on a setup
 * error. */
static int produce_run(bk_h_cluster *cl, const char *label, const char *topic,
                       uint64_t n, const char *acks, double rate,
                       const prod_opts *o)
{
    uint64_t bytes = n * (uint64_t)o->size;
    char kb[64], kl[64], ka[64];
    snprintf(kb, sizeof kb, "batch.size=%s", o->batch);
    snprintf(kl, sizeof kl, "linger.ms=%s", o->linger);
    snprintf(ka, sizeof ka, "acks=%s", acks);
    const char *pkv[] = {
        ka,  kb, kl, "max.request.size=4194304", "buffer.memory=134217728",
        NULL};
    dr_state d = {.lat_ns = malloc(n * sizeof(int64_t))};
    char *val = malloc((size_t)o->size);
    if (!d.lat_ns || !val) {
        fprintf(stderr, "bench: out of memory\n");
        return 2;
    }
    memset(val, 'v', (size_t)o->size);
    brook_client *p = client(cl->bootstrap, pkv, on_dr, &d);
    brook_topic_info info;
    brook_topic_metadata(p, topic, 10000, &info);
    double base = loopback_seconds(bytes);
    int64_t t0 = bk_clock_mono_ns();
    for (uint64_t i = 0; i < n; i++) {
        size_t k = sizeof i < (size_t)o->size ? sizeof i : (size_t)o->size;
        memcpy(val, &i, k);
        int rc;
        if (rate > 0) {
            /* Paced: wait for the record's slot, serving the client. */
            int64_t due = t0 + (int64_t)((double)i * 1e9 / rate);
            while (bk_clock_mono_ns() < due)
                brook_poll(p, 1);
        }
        d.lat_ns[i] = bk_clock_mono_ns();
        while ((rc = brook_produce(p, topic, 0, NULL, -1, val, o->size, NULL, 0,
                                   BROOK_TIMESTAMP_NOW,
                                   (void *)(uintptr_t)(i + 1))) == BK_AGAIN)
            brook_poll(p, 1);
        if (rc != 0) {
            fprintf(stderr, "bench: produce: %s\n", bk_strerror(rc));
            return 2;
        }
        if ((i & 1023) == 0)
            brook_poll(p, 0);
    }
    brook_flush(p, -1);
    double s = (double)(bk_clock_mono_ns() - t0) / 1e9;
    brook_client_destroy(p);
    free(val);
    if (base < 0) {
        fprintf(stderr, "bench: the loopback baseline failed\n");
        free(d.lat_ns);
        return 2;
    }
    if (d.ok != n) {
        fprintf(stderr, "bench: %s: %llu of %llu records failed (%s)\n", label,
                (unsigned long long)(n - d.ok), (unsigned long long)n,
                brook_err_name(d.last_err));
        free(d.lat_ns);
        return 1;
    }
    if (rate > 0)
        printf("  %-18s paced at %.0f records/s: achieved %.0f records/s "
               "(%.2f s)\n",
               label, rate, (double)n / s, s);
    else
        line(label, n, bytes, s, base);
    qsort(d.lat_ns, n, sizeof *d.lat_ns, cmp_i64);
    printf("  %-18s latency p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  "
           "(%llu records)\n",
           "", (double)d.lat_ns[n / 2] / 1e6,
           (double)d.lat_ns[n - 1 - n / 100] / 1e6,
           (double)d.lat_ns[n - 1] / 1e6, (unsigned long long)n);
    free(d.lat_ns);
    return 0;
}

/* Consumes the n records of partition 0 of topic from the beginning,
 * checking offsets and sizes, and prints the throughput line.  0 or 1. */
static int consume_run(bk_h_cluster *cl, const char *label, const char *topic,
                       uint64_t n, int size)
{
    uint64_t bytes = n * (uint64_t)size;
    const char *ckv[] = {"fetch.max.bytes=52428800",
                         "max.partition.fetch.bytes=4194304", NULL};
    brook_client *c = client(cl->bootstrap, ckv, NULL, NULL);
    brook_topic_info info;
    brook_topic_metadata(c, topic, 10000, &info);
    brook_assign(c, topic, 0, BROOK_OFFSET_BEGINNING);
    double base = loopback_seconds(bytes);
    uint64_t got = 0, sum = 0;
    int64_t t0 = bk_clock_mono_ns();
    int64_t deadline = bk_clock_mono_ms() + 120000;
    while (got < n && bk_clock_mono_ms() < deadline) {
        const brook_msg *m;
        if (brook_consume(c, 1000, &m) != 1 || m->type != BROOK_MSG_RECORD)
            continue;
        if (m->offset != (int64_t)got || m->value_len != size)
            break;
        sum += ((const uint8_t *)m->value)[0]; /* touch the bytes */
        got++;
    }
    double s = (double)(bk_clock_mono_ns() - t0) / 1e9;
    brook_client_destroy(c);
    if (base < 0) {
        fprintf(stderr, "bench: the loopback baseline failed\n");
        return 1;
    }
    if (got != n) {
        fprintf(stderr, "bench: %s: consumed %llu of %llu records in order\n",
                label, (unsigned long long)got, (unsigned long long)n);
        return 1;
    }
    line(label, n, bytes, s, base);
    printf("  %-18s (checksum %llu)\n", "", (unsigned long long)sum);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t n = 2000000, n3 = 2000000, np = 40000;
    double rate = 20000;
    prod_opts o = {.size = 100, .batch = "262144", .linger = "5"};
    const char *acks = "1";
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--records") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--records-rf3") && i + 1 < argc)
            n3 = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--paced-records") && i + 1 < argc)
            np = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--paced-rate") && i + 1 < argc)
            rate = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            o.size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch-size") && i + 1 < argc)
            o.batch = argv[++i];
        else if (!strcmp(argv[i], "--linger") && i + 1 < argc)
            o.linger = argv[++i];
        else if (!strcmp(argv[i], "--acks") && i + 1 < argc)
            acks = argv[++i];
        else if (!strcmp(argv[i], "--keep"))
            keep = true;
        else {
            fprintf(stderr,
                    "usage: %s [--records N] [--records-rf3 N] "
                    "[--paced-records N] [--paced-rate R] [--size BYTES] "
                    "[--batch-size B] [--linger MS] [--acks A] [--keep]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n == 0 || n3 == 0 || np == 0 || !(rate > 0) || o.size < 1 ||
        o.size > 1000000)
        return 2;

    int64_t tc = bk_clock_mono_ms();
    bk_h_cluster *cl = bk_h_cluster_start("bench", 1, 3, NULL);
    if (!cl) {
        fprintf(stderr, "bench: the cluster did not start (files in %s)\n",
                bk_test_dir());
        return 2;
    }
    int rc = 2;
    if (create_topic(cl, "bench-rf1", 1, NULL) != 0 ||
        create_topic(cl, "bench-rf3-a1", 3, NULL) != 0 ||
        create_topic(cl, "bench-rf3-all", 3, "min.insync.replicas=2") != 0)
        goto out;
    printf("cluster: ZooKeeper + 3 brookd up, 3 topics of 1 partition in "
           "%lld ms; %d-byte records, batch.size=%s, linger.ms=%s\n",
           (long long)(bk_clock_mono_ms() - tc), o.size, o.batch, o.linger);
    printf("  flat out: %llu records for RF=1 (%.1f MB), %llu for each RF=3 "
           "run (%.1f MB); latency there includes the time queued in the "
           "client\n",
           (unsigned long long)n, (double)n * o.size / 1e6,
           (unsigned long long)n3, (double)n3 * o.size / 1e6);

    char l1[64];
    snprintf(l1, sizeof l1, "RF=1 acks=%s", acks);
    if ((rc = produce_run(cl, l1, "bench-rf1", n, acks, 0, &o)) != 0 ||
        (rc = consume_run(cl, "RF=1 consume", "bench-rf1", n, o.size)) != 0 ||
        (rc = produce_run(cl, "RF=3 acks=1", "bench-rf3-a1", n3, "1", 0, &o)) !=
            0 ||
        (rc = produce_run(cl, "RF=3 acks=all", "bench-rf3-all", n3, "all", 0,
                          &o)) != 0)
        goto out;
    /* Flat out, latency is mostly queueing behind the records produced
     * before; paced well below capacity, and with linger.ms=0 so that the
     * client's wait for a fuller batch does not dominate, it is the path's
     * own delay (for acks=all: the followers' fetch round trip). */
    prod_opts po = o;
    po.linger = "0";
    printf("  paced: %llu records each at %.0f records/s, linger.ms=0 "
           "(appended to the same topics)\n",
           (unsigned long long)np, rate);
    if ((rc = produce_run(cl, l1, "bench-rf1", np, acks, rate, &po)) != 0 ||
        (rc = produce_run(cl, "RF=3 acks=1", "bench-rf3-a1", np, "1", rate,
                          &po)) != 0 ||
        (rc = produce_run(cl, "RF=3 acks=all", "bench-rf3-all", np, "all", rate,
                          &po)) != 0)
        goto out;
    printf("  (MB/s count the %d-byte values only; RF=3 acks=all topic has "
           "min.insync.replicas=2)\n",
           o.size);
out:
    bk_h_cluster_stop(cl);
    if (rc == 0 && !keep) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", bk_test_dir());
        if (system(cmd) != 0)
            fprintf(stderr, "bench: could not remove %s\n", bk_test_dir());
    } else {
        printf("  files kept in %s\n", bk_test_dir());
    }
    return rc;
}
