/*
 * bench_failover.c -- how fast the controller (broker/controller.c) moves
 * leadership off a dead broker: a real ZooKeeper and three brookd
 * (tests/harness), one topic of N partitions (3000; 10000 with --long)
 * with replication factor 3, so every broker leads a third of them.  A
 * broker that is not the controller is SIGKILLed; its ZooKeeper session
 * expires after zookeeper.session.timeout.ms (6000 in the harness), its
 * /brokers/ids znode goes, and the controller elects new leaders.
 *
 * Printed:
 *   - detection: SIGKILL -> /brokers/ids/<id> deleted (the session
 *     timeout, not Brook's doing);
 *   - ZooKeeper: /brokers/ids/<id> deleted -> the last state znode
 *     rewritten with a live leader (the state znodes' mtime, ZooKeeper's
 *     own clock on this host), checked by reading every state back;
 *   - Metadata: the same, until a live broker's Metadata answer names a
 *     live leader for every partition (polled).
 *
 *   bench_failover [--partitions N] [--long] [--keep]
 *
 * Driven by tests/bench/failover.  Exits 1 when a partition is left
 * without a live leader.
 */
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"
#include "proto/brook.pb-c.h"
#include "proto/protocol.h"
#include "tests/harness/harness.h"
#include "tests/unit/cu_main.h"

/* bk_test_dir() and friends for the harness: tests/bench/bench_env.c */

/* ------------------------------- helpers ------------------------------- */

#define TOPIC "failover"

static atomic_llong gone_at; /* wall ms when the victim's znode went */

/* ZooKeeper's completion thread: only records the time. */
static void on_gone(void *arg, bk_zk_event ev, const char *path)
{
    (void)arg;
    (void)path;
    if (ev == BK_ZK_EV_DELETED)
        atomic_store(&gone_at, (long long)bk_clock_wall_ms());
}

/* Reads every partition's state: leaders into lead[], the newest mtime
 * of states led by someone other than `not` into *newest (may be NULL),
 * the number of partitions with all three replicas in the ISR into
 * *full_isr (may be NULL).  The number of partitions whose leader is
 * neither -1 nor `not`, or -1 on error. */
static int read_states(bk_zk *zk, int nparts, int not, int32_t *lead,
                       int64_t *newest, int *full_isr)
{
    int ok = 0;
    if (full_isr)
        *full_isr = 0;
    bk_buf b = BK_BUF_INIT;
    if (newest)
        *newest = 0;
    for (int p = 0; p < nparts; p++) {
        char path[BK_ZKC_PATH_MAX];
        bk_zkc_path_partition_state(path, TOPIC, p);
        bk_zk_stat st;
        bk_zkc_pstate s;
        char err[128];
        if (bk_zk_get(zk, path, &b, &st, NULL, NULL) != 0 ||
            bk_zkc_pstate_decode(b.data, b.len, &s, err, sizeof err) != 0) {
            bk_buf_free(&b);
            return -1;
        }
        lead[p] = s.leader;
        if (full_isr && s.nisr == 3)
            (*full_isr)++;
        if (s.leader >= 0 && s.leader != not ) {
            ok++;
            if (newest && st.mtime > *newest)
                *newest = st.mtime;
        }
    }
    bk_buf_free(&b);
    return ok;
}

/* Partitions whose leader in broker port's Metadata is live (not -1 nor
 * `not`), or -1. */
static int metadata_ok(int port, int nparts, int not )
{
    int fd = bk_h_connect(port);
    if (fd < 0)
        return -1;
    Brook__Request req;
    Brook__MetadataRequest body = BROOK__METADATA_REQUEST__INIT;
    Brook__MetadataRequestTopic t = BROOK__METADATA_REQUEST_TOPIC__INIT;
    Brook__MetadataRequestTopic *tp = &t;
    t.name = (char *)TOPIC;
    bk_h_req_init(&req, BK_API_METADATA, 1);
    body.n_topics = 1;
    body.topics = &tp;
    req.body_case = BROOK__REQUEST__BODY_METADATA;
    req.metadata = &body;
    Brook__Response *r = bk_h_call(fd, &req, 10000);
    close(fd);
    int ok = -1;
    if (r && r->metadata && r->metadata->n_topics == 1) {
        Brook__MetadataResponseTopic *mt = r->metadata->topics[0];
        ok = 0;
        for (size_t i = 0; i < mt->n_partitions; i++)
            if (mt->partitions[i]->leader_id >= 0 &&
                mt->partitions[i]->leader_id != not )
                ok++;
        if (mt->n_partitions != (size_t)nparts)
            ok = -1;
    }
    if (r)
        brook__response__free_unpacked(r, NULL);
    return ok;
}

/* Open fds and resident memory of a process, from /proc: 0, or -1 when
 * it cannot be read. */
static int proc_usage(pid_t pid, int *fds, long *rss_kib)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    *fds = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            (*fds)++;
    closedir(d);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    *rss_kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", rss_kib) == 1)
            break;
    fclose(f);
    return *rss_kib >= 0 ? 0 : -1;
}

static int controller_id(bk_zk *zk)
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

int main(int argc, char **argv)
{
    int nparts = 3000;
    bool keep = false, set = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--partitions") && i + 1 < argc) {
            nparts = atoi(argv[++i]);
            set = true;
        } else if (!strcmp(argv[i], "--long")) {
            bk_test_long = true;
        } else if (!strcmp(argv[i], "--keep")) {
            keep = true;
        } else {
            fprintf(stderr, "usage: %s [--partitions N] [--long] [--keep]\n",
                    argv[0]);
            return 2;
        }
    }
    if (bk_test_long && !set)
        nparts = 10000;
    if (nparts < 3)
        return 2;

    bk_h_cluster *cl = bk_h_cluster_start("bench", 1, 3, NULL);
    if (!cl)
        return 2;
    int rc = 1;
    bk_zk *zk = NULL;
    int32_t *lead = calloc((size_t)nparts, sizeof *lead);
    bk_zk_opts o = {.connect = cl->zk_connect,
                    .session_timeout_ms = 30000,
                    .connect_timeout_ms = 5000};
    char err[256];
    if (!lead || bk_zk_open(&o, &zk, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s\n", lead ? err : "out of memory");
        goto out;
    }

    /* The topic, written the way brookctl does. */
    int64_t t0 = bk_clock_mono_ms();
    bk_zkd_topic_spec spec = {.name = TOPIC,
                              .partitions = nparts,
                              .replication_factor = 3,
                              .start_index = -1,
                              .shift = -1};
    bk_zkd_result res;
    if (bk_zkd_topic_create(zk, &spec, &res) != 0 || res.error != 0) {
        fprintf(stderr, "bench: topic creation failed: %s\n", res.message);
        goto out;
    }
    for (int i = 0; i < 3; i++) {
        if (bk_h_wait_topic(cl, i, TOPIC, nparts, 120000) != 0) {
            fprintf(stderr, "bench: broker %d never served the topic\n", i + 1);
            goto out;
        }
    }
    printf("failover: %d partitions, RF=3, 3 brokers: topic served by all "
           "after %lld ms\n",
           nparts, (long long)(bk_clock_mono_ms() - t0));

    /* What hosting the replicas costs each broker (each has all of
     * them): file descriptors (segment files are in a bounded cache,
     * broker/segment.h) and memory. */
    for (int i = 0; i < 3; i++) {
        int fds;
        long rss;
        if (proc_usage(cl->broker[i].pid, &fds, &rss) == 0)
            printf("  broker %d: %d open fds, RSS %.1f MiB (%.1f KiB per "
                   "replica)\n",
                   cl->broker[i].id, fds, rss / 1024.0, (double)rss / nparts);
    }

    /* The victim: a broker that is not the controller. */
    int ctrl = controller_id(zk);
    int victim = ctrl == 1 ? 2 : 1;
    /* Every ISR complete first: a follower that fell behind while the
     * brokers were busy creating thousands of logs is out of the ISR for
     * a while, and a partition whose ISR is only the victim goes offline
     * by design (unclean election is off): that is not failover time. */
    int64_t t1 = bk_clock_mono_ms(), isr_deadline = t1 + 180000;
    int full = 0, led_ok = 0;
    while ((led_ok = read_states(zk, nparts, -1, lead, NULL, &full)) >= 0 &&
           (led_ok != nparts || full != nparts) &&
           bk_clock_mono_ms() < isr_deadline)
        bk_h_sleep_ms(500);
    if (led_ok != nparts || full != nparts) {
        fprintf(stderr,
                "bench: before the kill, %d of %d partitions have a leader "
                "and %d a full ISR\n",
                led_ok, nparts, full);
        goto out;
    }
    printf("  every ISR complete %lld ms later\n",
           (long long)(bk_clock_mono_ms() - t1));
    int led = 0;
    for (int p = 0; p < nparts; p++)
        led += lead[p] == victim;
    char vpath[64];
    snprintf(vpath, sizeof vpath, BK_ZKC_BROKERS_IDS "/%d", victim);
    atomic_store(&gone_at, 0);
    if (bk_zk_exists(zk, vpath, NULL, on_gone, NULL) != 0) {
        fprintf(stderr, "bench: %s is not registered\n", vpath);
        goto out;
    }
    int64_t kill_wall = bk_clock_wall_ms();
    bk_h_broker_signal(cl, victim - 1, SIGKILL);
    printf("  SIGKILL broker %d (leader of %d partitions; controller is "
           "broker %d)\n",
           victim, led, ctrl);

    /* Metadata of a live broker, polled until every leader is live. */
    int live_port = cl->broker[(victim == 1 ? 2 : 0)].port;
    int64_t md_done = 0, deadline = bk_clock_mono_ms() + 60000;
    while (bk_clock_mono_ms() < deadline) {
        if (metadata_ok(live_port, nparts, victim) == nparts) {
            md_done = bk_clock_wall_ms();
            break;
        }
        bk_h_sleep_ms(5);
    }
    int64_t gone = (int64_t)atomic_load(&gone_at);
    int64_t newest = 0;
    int good = read_states(zk, nparts, victim, lead, &newest, NULL);
    if (!md_done || !gone || good != nparts) {
        fprintf(stderr,
                "bench: %d of %d partitions have a live leader in "
                "ZooKeeper after 60 s (Metadata %s, znode %s)\n",
                good, nparts, md_done ? "done" : "not done",
                gone ? "gone" : "still there");
        goto out;
    }
    printf("  detection (session expiry):     %6lld ms after SIGKILL\n",
           (long long)(gone - kill_wall));
    printf("  every leader live in ZooKeeper: %6lld ms after the broker's "
           "znode went\n",
           (long long)(newest - gone));
    printf("  every leader live in Metadata:  %6lld ms after the broker's "
           "znode went\n",
           (long long)(md_done - gone));
    rc = 0;
out:
    free(lead);
    bk_zk_close(zk);
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
