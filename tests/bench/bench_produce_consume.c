/*
 * bench_produce_consume.c -- end-to-end throughput of one broker: a real
 * ZooKeeper and one brookd (tests/harness), a topic of one partition,
 * libbrook producing N records of 100 bytes with acks=1, then a fresh
 * client consuming them all from the beginning.  Each figure is printed
 * beside a raw loopback baseline measured in the same run: the same number
 * of payload bytes written through a pair of TCP sockets on 127.0.0.1 in
 * 16 KiB chunks, so the cost of the whole stack (encoding, framing,
 * protobuf, the broker's validation and log append, fetch) reads as a
 * fraction of what the kernel's loopback alone allows.
 *
 *   bench_produce_consume [--records N] [--size BYTES] [--batch-size B]
 *                         [--linger MS] [--acks A] [--keep]
 *
 * Driven by tests/bench/produce-consume.  Prints one line per measurement
 * and a summary; exits 1 when a record goes missing.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
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

/* ------------------------------ the client side ------------------------------
 */

typedef struct dr_count {
    uint64_t ok, failed;
    int last_err;
} dr_count;

static void on_dr(brook_client *c, const brook_dr *dr, void *arg)
{
    (void)c;
    dr_count *d = arg;
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
    printf("  %-10s %9.0f records/s  %8.1f MB/s  (%.2f s)   loopback "
           "baseline %8.1f MB/s  -> %4.1f%% of it\n",
           what, (double)n / s, (double)bytes / s / 1e6, s,
           (double)bytes / base_s / 1e6, 100.0 * base_s / s);
}

int main(int argc, char **argv)
{
    uint64_t n = 2000000;
    int size = 100;
    const char *batch = "262144", *linger = "5", *acks = "1";
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--records") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch-size") && i + 1 < argc)
            batch = argv[++i];
        else if (!strcmp(argv[i], "--linger") && i + 1 < argc)
            linger = argv[++i];
        else if (!strcmp(argv[i], "--acks") && i + 1 < argc)
            acks = argv[++i];
        else if (!strcmp(argv[i], "--keep"))
            keep = true;
        else {
            fprintf(stderr,
                    "usage: %s [--records N] [--size BYTES] [--batch-size B] "
                    "[--linger MS] [--acks A] [--keep]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n == 0 || size < 1 || size > 1000000)
        return 2;
    uint64_t bytes = n * (uint64_t)size;

    int64_t tc = bk_clock_mono_ms();
    bk_h_cluster *cl = bk_h_cluster_start("bench", 1, 1, NULL);
    if (!cl) {
        fprintf(stderr, "bench: the cluster did not start (files in %s)\n",
                bk_test_dir());
        return 2;
    }
    const char *args[] = {"topics",
                          "create",
                          "--topic",
                          "bench",
                          "--partitions",
                          "1",
                          "--replication-factor",
                          "1",
                          NULL};
    char out[1024];
    if (bk_h_brookctl(cl, out, sizeof out, args) != 0 ||
        bk_h_wait_topic(cl, 0, "bench", 1, 20000) != 0) {
        fprintf(stderr, "bench: topic creation failed: %s\n", out);
        bk_h_cluster_stop(cl);
        return 2;
    }
    printf("cluster: ZooKeeper + 1 brookd up in %lld ms; %llu records of "
           "%d bytes (%.1f MB), acks=%s, batch.size=%s, linger.ms=%s, "
           "1 partition\n",
           (long long)(bk_clock_mono_ms() - tc), (unsigned long long)n, size,
           (double)bytes / 1e6, acks, batch, linger);

    /* produce */
    char kb[64], kl[64], ka[64];
    snprintf(kb, sizeof kb, "batch.size=%s", batch);
    snprintf(kl, sizeof kl, "linger.ms=%s", linger);
    snprintf(ka, sizeof ka, "acks=%s", acks);
    const char *pkv[] = {
        ka,  kb, kl, "max.request.size=4194304", "buffer.memory=134217728",
        NULL};
    dr_count d = {0};
    brook_client *p = client(cl->bootstrap, pkv, on_dr, &d);
    char *val = malloc((size_t)size);
    memset(val, 'v', (size_t)size);
    brook_topic_info info;
    brook_topic_metadata(p, "bench", 10000, &info);
    double base_p = loopback_seconds(bytes);
    int64_t t0 = bk_clock_mono_ns();
    for (uint64_t i = 0; i < n; i++) {
        memcpy(val, &i, sizeof i < (size_t)size ? sizeof i : (size_t)size);
        int rc;
        while ((rc = brook_produce(p, "bench", 0, NULL, -1, val, size, NULL, 0,
                                   BROOK_TIMESTAMP_NOW, NULL)) == BK_AGAIN)
            brook_poll(p, 1);
        if (rc != 0) {
            fprintf(stderr, "bench: produce: %s\n", bk_strerror(rc));
            return 1;
        }
        if ((i & 1023) == 0)
            brook_poll(p, 0);
    }
    brook_flush(p, -1);
    int64_t t1 = bk_clock_mono_ns();
    double sp = (double)(t1 - t0) / 1e9;
    brook_client_destroy(p);
    if (d.ok != n) {
        fprintf(stderr, "bench: %llu of %llu records failed (%s)\n",
                (unsigned long long)d.failed, (unsigned long long)n,
                brook_err_name(d.last_err));
        bk_h_cluster_stop(cl);
        return 1;
    }

    /* consume */
    const char *ckv[] = {"fetch.max.bytes=52428800",
                         "max.partition.fetch.bytes=4194304", NULL};
    brook_client *c = client(cl->bootstrap, ckv, NULL, NULL);
    brook_topic_metadata(c, "bench", 10000, &info);
    brook_assign(c, "bench", 0, BROOK_OFFSET_BEGINNING);
    double base_c = loopback_seconds(bytes);
    uint64_t got = 0, sum = 0;
    t0 = bk_clock_mono_ns();
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
    t1 = bk_clock_mono_ns();
    double sc = (double)(t1 - t0) / 1e9;
    brook_client_destroy(c);
    free(val);

    if (base_p < 0 || base_c < 0) {
        fprintf(stderr, "bench: the loopback baseline failed\n");
        return 2;
    }
    line("produce", n, bytes, sp, base_p);
    if (got != n) {
        fprintf(stderr, "bench: consumed %llu of %llu records in order\n",
                (unsigned long long)got, (unsigned long long)n);
        bk_h_cluster_stop(cl);
        return 1;
    }
    line("consume", n, bytes, sc, base_c);
    printf("  (MB/s count the %d-byte values only; checksum %llu)\n", size,
           (unsigned long long)sum);
    bk_h_cluster_stop(cl);
    if (!keep) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", bk_test_dir());
        if (system(cmd) != 0)
            fprintf(stderr, "bench: could not remove %s\n", bk_test_dir());
    } else {
        printf("  files kept in %s\n", bk_test_dir());
    }
    return 0;
}
