/*
 * test_roundtrip.c -- libbrook against a real cluster (ZooKeeper + three
 * brookd processes, tests/harness): 100k keyed records over 3 partitions
 * come back complete, once each, in order per partition and each on its
 * murmur2 partition; null and empty keys, values and headers survive;
 * every compression codec round-trips; seeks by offset, end and
 * timestamp; a consumer at the end follows new records through long
 * polling; a producer rides out its partition leader's restart.
 */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/brook.h"
#include "client/partitioner.h"
#include "common/clock.h"
#include "tests/harness/harness.h"
#include "tests/unit/cu_main.h"

static bk_h_cluster *cl;

static int suite_init(void)
{
    cl = bk_h_cluster_start("roundtrip", 1, 3, NULL);
    return cl ? 0 : -1;
}

static int suite_clean(void)
{
    bk_h_cluster_stop(cl);
    cl = NULL;
    return 0;
}

/* Creates topic with n partitions and waits until every broker knows it. */
static void create_topic(const char *topic, int n)
{
    char parts[16], out[2048];
    snprintf(parts, sizeof parts, "%d", n);
    const char *args[] = {"topics",
                          "create",
                          "--topic",
                          topic,
                          "--partitions",
                          parts,
                          "--replication-factor",
                          "1",
                          NULL};
    int rc = bk_h_brookctl(cl, out, sizeof out, args);
    if (rc != 0)
        fprintf(stderr, "brookctl: %s\n", out);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    for (int i = 0; i < cl->n; i++)
        CU_ASSERT_EQUAL_FATAL(bk_h_wait_topic(cl, i, topic, n, 20000), 0);
}

static brook_client *new_client(brook_dr_cb *dr, void *arg,
                                const char *const *kv)
{
    char err[256];
    brook_conf *conf = brook_conf_new();
    CU_ASSERT_EQUAL(brook_conf_set(conf, "bootstrap.servers", cl->bootstrap,
                                   err, sizeof err),
                    0);
    for (; kv && *kv; kv++)
        CU_ASSERT_EQUAL(brook_conf_set_kv(conf, *kv, err, sizeof err), 0);
    if (dr)
        brook_conf_set_dr_cb(conf, dr, arg);
    brook_client *c = brook_client_new(conf, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    return c;
}

/* ------------------------------ 100k keyed ------------------------------ */

#define N_KEYED 100000
#define N_KEYS  7919

typedef struct keyed_dr {
    int n, errs, first_err;
    int32_t *part;
    int64_t *off;
} keyed_dr;

static void keyed_cb(brook_client *c, const brook_dr *dr, void *arg)
{
    (void)c;
    keyed_dr *d = arg;
    intptr_t i = (intptr_t)dr->opaque;
    d->n++;
    if (dr->err) {
        if (!d->errs++)
            d->first_err = dr->err;
        return;
    }
    d->part[i] = dr->partition;
    d->off[i] = dr->offset;
}

static int key_of(int i, char *buf, size_t n)
{
    return snprintf(buf, n, "user-%d", i % N_KEYS);
}

static void test_keyed_roundtrip(void)
{
    const char *topic = "keyed";
    create_topic(topic, 3);
    keyed_dr d = {0};
    d.part = calloc(N_KEYED, sizeof *d.part);
    d.off = calloc(N_KEYED, sizeof *d.off);
    const char *pkv[] = {"acks=all", "linger.ms=5", "batch.size=65536", NULL};
    brook_client *p = new_client(keyed_cb, &d, pkv);
    int64_t t0 = bk_clock_mono_ms();
    for (int i = 0; i < N_KEYED; i++) {
        char k[32], v[48];
        int kl = key_of(i, k, sizeof k);
        int vl = snprintf(v, sizeof v, "value-%d", i);
        int rc;
        while ((rc = brook_produce(p, topic, BROOK_PARTITION_ANY, k, kl, v, vl,
                                   NULL, 0, BROOK_TIMESTAMP_NOW,
                                   (void *)(intptr_t)i)) == BK_AGAIN)
            brook_poll(p, 10);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        if (i % 1000 == 0)
            brook_poll(p, 0);
    }
    CU_ASSERT_EQUAL(brook_flush(p, 60000), 0);
    int64_t t1 = bk_clock_mono_ms();
    if (d.errs)
        fprintf(stderr, "first delivery error: %s (%s)\n",
                brook_err_name(d.first_err), brook_last_error(p));
    CU_ASSERT_EQUAL(d.n, N_KEYED);
    CU_ASSERT_EQUAL(d.errs, 0);
    brook_client_destroy(p);

    /* every key on Kafka's partition for it */
    int bad_part = 0;
    for (int i = 0; i < N_KEYED; i++) {
        char k[32];
        int kl = key_of(i, k, sizeof k);
        if (d.part[i] != bk_part_for_key(k, (size_t)kl, 3))
            bad_part++;
    }
    CU_ASSERT_EQUAL(bad_part, 0);

    /* read everything back with a fresh client */
    const char *ckv[] = {"fetch.max.wait.ms=100", NULL};
    brook_client *c = new_client(NULL, NULL, ckv);
    for (int part = 0; part < 3; part++)
        CU_ASSERT_EQUAL(brook_assign(c, topic, part, BROOK_OFFSET_BEGINNING),
                        0);
    char *seen = calloc(N_KEYED, 1);
    int64_t next_off[3] = {0, 0, 0};
    int last_i[3] = {-1, -1, -1};
    int got = 0, dup = 0, gaps = 0, disorder = 0, wrong_part = 0,
        off_mismatch = 0, bad_value = 0, eofs = 0, errs = 0;
    bool at_end[3] = {false, false, false};
    int64_t deadline = bk_clock_mono_ms() + 60000;
    while ((got < N_KEYED || eofs < 3) && bk_clock_mono_ms() < deadline) {
        const brook_msg *m;
        if (brook_consume(c, 500, &m) != 1)
            continue;
        if (m->type == BROOK_MSG_ERROR) {
            fprintf(stderr, "consume error %s on %d\n", brook_err_name(m->err),
                    m->partition);
            errs++;
            continue;
        }
        if (m->type == BROOK_MSG_EOF) {
            if (!at_end[m->partition]) {
                at_end[m->partition] = true;
                eofs++;
            }
            continue;
        }
        int pt = m->partition;
        if (m->offset != next_off[pt])
            gaps++;
        next_off[pt] = m->offset + 1;
        int i = -1;
        if (m->value_len > 6 && memcmp(m->value, "value-", 6) == 0)
            i = atoi((const char *)m->value + 6);
        if (i < 0 || i >= N_KEYED) {
            bad_value++;
            continue;
        }
        if (seen[i])
            dup++;
        seen[i] = 1;
        got++;
        /* produce order is kept within a partition */
        if (i <= last_i[pt])
            disorder++;
        last_i[pt] = i;
        char k[32];
        int kl = key_of(i, k, sizeof k);
        if (m->key_len != kl || memcmp(m->key, k, (size_t)kl) != 0 ||
            pt != bk_part_for_key(k, (size_t)kl, 3))
            wrong_part++;
        if (d.off[i] != m->offset || d.part[i] != pt)
            off_mismatch++;
    }
    int64_t t2 = bk_clock_mono_ms();
    int missing = 0;
    for (int i = 0; i < N_KEYED; i++)
        missing += !seen[i];
    CU_ASSERT_EQUAL(got, N_KEYED);
    CU_ASSERT_EQUAL(missing, 0);
    CU_ASSERT_EQUAL(dup, 0);
    CU_ASSERT_EQUAL(gaps, 0);
    CU_ASSERT_EQUAL(disorder, 0);
    CU_ASSERT_EQUAL(wrong_part, 0);
    CU_ASSERT_EQUAL(off_mismatch, 0);
    CU_ASSERT_EQUAL(bad_value, 0);
    CU_ASSERT_EQUAL(errs, 0);
    CU_ASSERT_EQUAL(eofs, 3);
    CU_ASSERT_EQUAL(next_off[0] + next_off[1] + next_off[2], N_KEYED);
    printf("\n  100k keyed: produce %lld ms, consume %lld ms; per partition "
           "%lld/%lld/%lld\n",
           (long long)(t1 - t0), (long long)(t2 - t1), (long long)next_off[0],
           (long long)next_off[1], (long long)next_off[2]);
    free(seen);
    free(d.part);
    free(d.off);
    brook_client_destroy(c);
}

/* ------------------------------ nulls ------------------------------ */

typedef struct simple_dr {
    int n, errs;
    int64_t off[64];
} simple_dr;

static void simple_cb(brook_client *c, const brook_dr *dr, void *arg)
{
    (void)c;
    simple_dr *d = arg;
    intptr_t i = (intptr_t)dr->opaque;
    d->n++;
    if (dr->err)
        d->errs++;
    if (i >= 0 && i < 64)
        d->off[i] = dr->offset;
}

/* Waits for the next record (skipping EOF events); NULL on timeout. */
static const brook_msg *next_record(brook_client *c, int timeout_ms)
{
    int64_t deadline = bk_clock_mono_ms() + timeout_ms;
    while (bk_clock_mono_ms() < deadline) {
        const brook_msg *m;
        if (brook_consume(c, 100, &m) == 1 && m->type == BROOK_MSG_RECORD)
            return m;
    }
    return NULL;
}

static void test_null_and_empty(void)
{
    const char *topic = "nulls";
    create_topic(topic, 1);
    simple_dr d = {0};
    brook_client *p = new_client(simple_cb, &d, NULL);
    brook_header h[3] = {
        {"a", 1, "x", 1}, {"empty", 5, "", 0}, {"null", 4, NULL, -1}};
    /* key/value: null/null, empty/empty, null/empty, empty/null, k/v+hdrs */
    CU_ASSERT_EQUAL(brook_produce(p, topic, 0, NULL, -1, NULL, -1, NULL, 0,
                                  BROOK_TIMESTAMP_NOW, (void *)0),
                    0);
    CU_ASSERT_EQUAL(brook_produce(p, topic, 0, "", 0, "", 0, NULL, 0,
                                  BROOK_TIMESTAMP_NOW, (void *)1),
                    0);
    CU_ASSERT_EQUAL(brook_produce(p, topic, 0, NULL, -1, "", 0, NULL, 0,
                                  BROOK_TIMESTAMP_NOW, (void *)2),
                    0);
    CU_ASSERT_EQUAL(brook_produce(p, topic, 0, "", 0, NULL, -1, NULL, 0,
                                  BROOK_TIMESTAMP_NOW, (void *)3),
                    0);
    CU_ASSERT_EQUAL(brook_produce(p, topic, 0, "k", 1, "v", 1, h, 3,
                                  BROOK_TIMESTAMP_NOW, (void *)4),
                    0);
    CU_ASSERT_EQUAL(brook_flush(p, 20000), 0);
    CU_ASSERT_EQUAL(d.n, 5);
    CU_ASSERT_EQUAL(d.errs, 0);
    brook_client_destroy(p);

    brook_client *c = new_client(NULL, NULL, NULL);
    CU_ASSERT_EQUAL(brook_assign(c, topic, 0, BROOK_OFFSET_BEGINNING), 0);
    const int32_t want_k[] = {-1, 0, -1, 0, 1}, want_v[] = {-1, 0, 0, -1, 1};
    for (int i = 0; i < 5; i++) {
        const brook_msg *m = next_record(c, 10000);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        CU_ASSERT_EQUAL(m->offset, i);
        CU_ASSERT_EQUAL(m->key_len, want_k[i]);
        CU_ASSERT_EQUAL(m->value_len, want_v[i]);
        CU_ASSERT_EQUAL(m->key == NULL, want_k[i] < 0);
        CU_ASSERT_EQUAL(m->value == NULL, want_v[i] < 0);
        if (i == 4) {
            CU_ASSERT_EQUAL(m->header_count, 3);
            size_t pos = 0;
            brook_header hh;
            CU_ASSERT_EQUAL(brook_msg_header_next(m, &pos, &hh), 1);
            CU_ASSERT_EQUAL(hh.key_len, 1);
            CU_ASSERT_EQUAL(hh.value_len, 1);
            CU_ASSERT_EQUAL(brook_msg_header_next(m, &pos, &hh), 1);
            CU_ASSERT_EQUAL(hh.key_len, 5);
            CU_ASSERT_EQUAL(hh.value_len, 0);
            CU_ASSERT_EQUAL(brook_msg_header_next(m, &pos, &hh), 1);
            CU_ASSERT_EQUAL(hh.key_len, 4);
            CU_ASSERT_EQUAL(memcmp(hh.key, "null", 4), 0);
            CU_ASSERT_EQUAL(hh.value_len, -1);
            CU_ASSERT_EQUAL(brook_msg_header_next(m, &pos, &hh), 0);
        }
    }
    brook_client_destroy(c);
}

/* ------------------------------ codecs ------------------------------ */

static void test_codecs(void)
{
    const char *topic = "codecs";
    create_topic(topic, 1);
    const char *codecs[] = {"none", "gzip", "lz4", "zstd"};
    for (int ci = 0; ci < 4; ci++) {
        char kv0[64];
        snprintf(kv0, sizeof kv0, "compression.type=%s", codecs[ci]);
        const char *kv[] = {kv0, NULL};
        simple_dr d = {0};
        brook_client *p = new_client(simple_cb, &d, kv);
        for (int i = 0; i < 500; i++) {
            char v[64];
            int vl = snprintf(v, sizeof v, "%s-record-%d-aaaaaaaaaaaaaaaa",
                              codecs[ci], i);
            CU_ASSERT_EQUAL(brook_produce(p, topic, 0, NULL, -1, v, vl, NULL, 0,
                                          BROOK_TIMESTAMP_NOW, (void *)-1),
                            0);
        }
        CU_ASSERT_EQUAL(brook_flush(p, 20000), 0);
        CU_ASSERT_EQUAL(d.n, 500);
        CU_ASSERT_EQUAL(d.errs, 0);
        brook_client_destroy(p);
    }
    brook_client *c = new_client(NULL, NULL, NULL);
    CU_ASSERT_EQUAL(brook_assign(c, topic, 0, BROOK_OFFSET_BEGINNING), 0);
    for (int ci = 0; ci < 4; ci++) {
        for (int i = 0; i < 500; i++) {
            const brook_msg *m = next_record(c, 10000);
            CU_ASSERT_PTR_NOT_NULL_FATAL(m);
            char v[64];
            int vl = snprintf(v, sizeof v, "%s-record-%d-aaaaaaaaaaaaaaaa",
                              codecs[ci], i);
            CU_ASSERT_EQUAL_FATAL(m->value_len, vl);
            CU_ASSERT_EQUAL(memcmp(m->value, v, (size_t)vl), 0);
            CU_ASSERT_EQUAL(m->offset, ci * 500 + i);
        }
    }
    brook_client_destroy(c);
}

/* ------------------------------ seeks ------------------------------ */

static void test_seeks(void)
{
    const char *topic = "seeks";
    create_topic(topic, 2);
    simple_dr d = {0};
    brook_client *p = new_client(simple_cb, &d, NULL);
    /* timestamps 10 ms apart from t0; partition 1 stays empty */
    int64_t t0 = bk_clock_wall_ms() - 100000;
    for (int i = 0; i < 50; i++) {
        char v[16];
        int vl = snprintf(v, sizeof v, "s%d", i);
        brook_produce(p, topic, 0, NULL, -1, v, vl, NULL, 0, t0 + 10 * i,
                      (void *)(intptr_t)i);
    }
    CU_ASSERT_EQUAL(brook_flush(p, 20000), 0);
    CU_ASSERT_EQUAL(d.errs, 0);
    CU_ASSERT_EQUAL(d.off[49], 49);
    brook_client_destroy(p);

    brook_client *c = new_client(NULL, NULL, NULL);
    CU_ASSERT_EQUAL(brook_assign(c, topic, 0, 20), 0);
    const brook_msg *m = next_record(c, 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->offset, 20);
    CU_ASSERT_EQUAL(m->timestamp, t0 + 200);

    /* by timestamp: 455 ms after t0 -> the record at 460 (offset 46) */
    CU_ASSERT_EQUAL(brook_seek_timestamp(c, topic, 0, t0 + 455), 0);
    m = next_record(c, 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->offset, 46);
    CU_ASSERT_EQUAL(m->value_len, 3);
    CU_ASSERT_EQUAL(memcmp(m->value, "s46", 3), 0);
    /* an exact timestamp hits its record */
    CU_ASSERT_EQUAL(brook_seek_timestamp(c, topic, 0, t0 + 300), 0);
    m = next_record(c, 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->offset, 30);
    /* before everything: the first record */
    CU_ASSERT_EQUAL(brook_seek_timestamp(c, topic, 0, 0), 0);
    m = next_record(c, 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->offset, 0);

    /* beginning / end and the position */
    CU_ASSERT_EQUAL(brook_seek(c, topic, 0, BROOK_OFFSET_END), 0);
    int64_t pos = -5;
    int64_t deadline = bk_clock_mono_ms() + 10000;
    int rc;
    while ((rc = brook_position(c, topic, 0, &pos)) == BK_AGAIN &&
           bk_clock_mono_ms() < deadline)
        brook_poll(c, 20);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(pos, 50);
    CU_ASSERT_EQUAL(brook_consume(c, 3000, &m), 1);
    CU_ASSERT_EQUAL(m->type, BROOK_MSG_EOF);
    CU_ASSERT_EQUAL(m->offset, 50);
    /* after the last timestamp: positioned at the end */
    CU_ASSERT_EQUAL(brook_seek_timestamp(c, topic, 0, t0 + 100000), 0);
    CU_ASSERT_EQUAL(brook_consume(c, 3000, &m), 1);
    CU_ASSERT_EQUAL(m->type, BROOK_MSG_EOF);
    CU_ASSERT_EQUAL(m->offset, 50);
    CU_ASSERT_EQUAL(brook_seek(c, topic, 0, BROOK_OFFSET_BEGINNING), 0);
    m = next_record(c, 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->offset, 0);

    /* an empty partition is at its end at once; past its end is an
     * OFFSET_OUT_OF_RANGE error event */
    CU_ASSERT_EQUAL(brook_unassign(c, topic, 0), 0);
    CU_ASSERT_EQUAL(brook_assign(c, topic, 1, BROOK_OFFSET_BEGINNING), 0);
    CU_ASSERT_EQUAL(brook_consume(c, 5000, &m), 1);
    CU_ASSERT_EQUAL(m->type, BROOK_MSG_EOF);
    CU_ASSERT_EQUAL(m->offset, 0);
    CU_ASSERT_EQUAL(brook_seek(c, topic, 1, 7), 0);
    CU_ASSERT_EQUAL(brook_consume(c, 5000, &m), 1);
    CU_ASSERT_EQUAL(m->type, BROOK_MSG_ERROR);
    CU_ASSERT_EQUAL(m->err, BK_ERR_OFFSET_OUT_OF_RANGE);
    brook_client_destroy(c);
}

/* ------------------------------ long poll ------------------------------ */

static void test_follow_long_poll(void)
{
    const char *topic = "follow";
    create_topic(topic, 1);
    /* a long fetch wait: a new record must still arrive at once, because
     * the broker answers the parked fetch when data comes in */
    const char *ckv[] = {"fetch.max.wait.ms=5000", NULL};
    brook_client *c = new_client(NULL, NULL, ckv);
    CU_ASSERT_EQUAL(brook_assign(c, topic, 0, BROOK_OFFSET_END), 0);
    const brook_msg *m;
    CU_ASSERT_EQUAL(brook_consume(c, 10000, &m), 1);
    CU_ASSERT_EQUAL(m->type, BROOK_MSG_EOF);
    simple_dr d = {0};
    const char *pkv[] = {"linger.ms=0", NULL};
    brook_client *p = new_client(simple_cb, &d, pkv);
    int64_t worst = 0;
    for (int round = 0; round < 5; round++) {
        /* let the consumer's fetch park on the broker first (an EOF
         * event may come meanwhile, no record) */
        int64_t idle = bk_clock_mono_ms() + 300;
        while (bk_clock_mono_ms() < idle)
            if (brook_consume(c, 50, &m) == 1)
                CU_ASSERT_EQUAL(m->type, BROOK_MSG_EOF);
        char v[16];
        int vl = snprintf(v, sizeof v, "late-%d", round);
        int64_t t0 = bk_clock_mono_ms();
        brook_produce(p, topic, 0, NULL, -1, v, vl, NULL, 0,
                      BROOK_TIMESTAMP_NOW, (void *)(intptr_t)round);
        CU_ASSERT_EQUAL(brook_flush(p, 5000), 0);
        m = next_record(c, 8000);
        int64_t lat = bk_clock_mono_ms() - t0;
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        CU_ASSERT_EQUAL(m->offset, round);
        CU_ASSERT_EQUAL(m->value_len, vl);
        CU_ASSERT_EQUAL(memcmp(m->value, v, (size_t)vl), 0);
        if (lat > worst)
            worst = lat;
    }
    /* far below fetch.max.wait.ms */
    CU_ASSERT_TRUE(worst < 1500);
    printf("\n  long poll: worst produce-to-consume latency %lld ms\n",
           (long long)worst);
    CU_ASSERT_EQUAL(d.errs, 0);
    brook_client_destroy(p);
    brook_client_destroy(c);
}

/* ------------------------------ leader restart ------------------------------
 */

static void test_leader_restart(void)
{
    const char *topic = "restart";
    create_topic(topic, 3);
    simple_dr d = {0};
    const char *pkv[] = {"retry.backoff.ms=50", "reconnect.backoff.ms=50",
                         "request.timeout.ms=5000", "linger.ms=1", NULL};
    brook_client *p = new_client(simple_cb, &d, pkv);
    /* partition 0's leader: the broker whose restart we cause.  Which one
     * that is comes from the cluster (the replica placement is the
     * controller's), so ask by producing and finding the dir. */
    CU_ASSERT_EQUAL(brook_produce(p, topic, 0, NULL, -1, "first", 5, NULL, 0,
                                  BROOK_TIMESTAMP_NOW, (void *)0),
                    0);
    CU_ASSERT_EQUAL(brook_flush(p, 10000), 0);
    int leader = -1;
    for (int i = 0; i < cl->n; i++) {
        if (access(bk_h_partition_dir(cl, i, topic, 0), F_OK) == 0)
            leader = i;
    }
    CU_ASSERT_FATAL(leader >= 0);
    CU_ASSERT_EQUAL(bk_h_broker_signal(cl, leader, SIGKILL) >= 0, 1);
    /* records produced while the leader is down wait and are retried */
    for (int i = 1; i < 40; i++) {
        char v[16];
        int vl = snprintf(v, sizeof v, "r%d", i);
        CU_ASSERT_EQUAL(brook_produce(p, topic, 0, NULL, -1, v, vl, NULL, 0,
                                      BROOK_TIMESTAMP_NOW, (void *)(intptr_t)i),
                        0);
        brook_poll(p, 20);
    }
    CU_ASSERT_EQUAL(bk_h_broker_start(cl, leader, true), 0);
    CU_ASSERT_EQUAL(brook_flush(p, 30000), 0);
    CU_ASSERT_EQUAL(d.n, 40);
    CU_ASSERT_EQUAL(d.errs, 0);
    brook_client_destroy(p);

    /* all 40 are there, in order (the first retry may have been stored
     * twice if only its answer was lost; a killed broker never answered,
     * so here nothing may repeat) */
    brook_client *c = new_client(NULL, NULL, NULL);
    CU_ASSERT_EQUAL(brook_assign(c, topic, 0, BROOK_OFFSET_BEGINNING), 0);
    for (int i = 0; i < 40; i++) {
        const brook_msg *m = next_record(c, 10000);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        char v[16];
        int vl = i ? snprintf(v, sizeof v, "r%d", i)
                   : snprintf(v, sizeof v, "first");
        CU_ASSERT_EQUAL(m->value_len, vl);
        CU_ASSERT_EQUAL(memcmp(m->value, v, (size_t)vl), 0);
    }
    brook_client_destroy(c);
}

static void test_unknown_topic(void)
{
    brook_client *c = new_client(NULL, NULL, NULL);
    brook_topic_info info;
    CU_ASSERT_EQUAL(brook_topic_metadata(c, "no-such-topic", 10000, &info), 0);
    CU_ASSERT_EQUAL(info.err, BK_ERR_UNKNOWN_TOPIC_OR_PART);
    CU_ASSERT_EQUAL(brook_topic_metadata(c, "keyed", 10000, &info), 0);
    CU_ASSERT_EQUAL(info.err, 0);
    CU_ASSERT_EQUAL(info.partition_count, 3);
    brook_client_destroy(c);
}

static CU_TestInfo rt_tests[] = {
    {"100k keyed records over 3 partitions", test_keyed_roundtrip},
    {"null and empty keys, values, headers", test_null_and_empty},
    {"compression codecs", test_codecs},
    {"seek by offset, end, timestamp", test_seeks},
    {"consumer follows new data (long poll)", test_follow_long_poll},
    {"producer rides out a leader restart", test_leader_restart},
    {"unknown topic", test_unknown_topic},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("roundtrip", rt_tests, suite_init, suite_clean);
}
