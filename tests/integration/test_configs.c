/*
 * test_configs.c -- dynamic configuration on a real cluster (issue #6):
 * a standalone ZooKeeper and three brookd processes; configs changed in
 * ZooKeeper the way `brookctl configs alter` does (bk_zkd_config_alter:
 * /config/topics/<t> or /config/brokers/<default> plus a
 * /config/changes/config_change_<seq> notification in one zoo_multi), and
 * what each broker applies read back with DescribeConfigs (raw frames):
 *   - propagation: every broker shows a topic change and a cluster
 *     default change within 1 s (measured, 5 rounds each, and once through
 *     the brookctl binary);
 *   - effects without restart: max.message.bytes (MESSAGE_TOO_LARGE),
 *     min.insync.replicas (NOT_ENOUGH_REPLICAS, then success),
 *     retention.ms and retention.bytes (log start offset advances),
 *     segment.bytes (segments roll on every replica);
 *   - precedence: a cluster default applies to a topic without an
 *     override, a topic override wins, deleting it falls back;
 *   - invalid values written straight into ZooKeeper are ignored: as if
 *     absent (the next layer applies), but retention as -1 and unclean
 *     election as false, which lose nothing; the same on a restarted
 *     broker as on the others; the brokers keep running, the log names
 *     key and znode;
 *   - DescribeConfigs errors: unknown topic, another broker's id;
 *   - the controller: unclean.leader.election.enable from the cluster
 *     default elects a stale replica;
 *   - a broker that was down, or whose session expired (SIGSTOP), reads
 *     every config again, and follows notifications after;
 *   - /config/changes deleted and created again (sequence numbers start
 *     again at 0): by brookctl after the brokers saw it gone, and in one
 *     transaction; every broker sees the change within 1 s;
 *   - a notification deleted before a (briefly SIGSTOPped) broker read
 *     it: the broker reads every config again and converges;
 *   - 2,000 notifications at once (20,000 in the long run): a change
 *     beside them, a broker restarted with them present, and the purge.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"
#include "proto/protocol.h"
#include "tests/integration/brokertest.h"
#include "tests/unit/cu_main.h"

#define PROPAGATION_LIMIT_MS 1000

static bk_h_cluster *cl;
static bk_zk *zk; /* the test's own session */

static int suite_init(void)
{
    /* Retention runs every 200 ms so that its effects show quickly. */
    cl = bk_h_cluster_start("configs", 1, 3,
                            "log.retention.check.interval.ms=200\n");
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

/* Alters an entity as brookctl does: adds "k=v" pairs (NULL-terminated
 * list of keys and values) and deletes keys.  0 or the -BK_E*. */
static int alter(const char *type, const char *name, const char *const *adds,
                 const char *const *deletes)
{
    bk_zkc_kv kv[16];
    size_t na = 0, nd = 0;
    for (; adds && adds[2 * na]; na++)
        kv[na] = (bk_zkc_kv){(char *)adds[2 * na], (char *)adds[2 * na + 1]};
    while (deletes && deletes[nd])
        nd++;
    char err[512] = "";
    int rc = bk_zkd_config_alter(zk, type, name, kv, na, deletes, nd, err,
                                 sizeof err);
    if (rc != 0)
        printf("\n    alter %s/%s: %s (%s)\n", type, name, bk_strerror(rc),
               err);
    return rc;
}

static int alter_topic(const char *t, const char *k, const char *v)
{
    return alter(BK_ZKC_ENTITY_TOPICS, t, (const char *const[]){k, v, NULL},
                 NULL);
}

static int delete_topic_key(const char *t, const char *k)
{
    return alter(BK_ZKC_ENTITY_TOPICS, t, NULL, (const char *const[]){k, NULL});
}

static int alter_default(const char *k, const char *v)
{
    return alter(BK_ZKC_ENTITY_BROKERS, BK_ZKC_ENTITY_DEFAULT,
                 (const char *const[]){k, v, NULL}, NULL);
}

static int delete_default_key(const char *k)
{
    return alter(BK_ZKC_ENTITY_BROKERS, BK_ZKC_ENTITY_DEFAULT, NULL,
                 (const char *const[]){k, NULL});
}

/* Sends DescribeConfigs for one resource (keys: NULL-terminated, NULL for
 * all) and returns the answer (NULL on a transport failure). */
static Brook__Response *describe_raw(int fd, int rtype, const char *name,
                                     const char *const *keys, bool synonyms)
{
    Brook__Request req;
    bk_h_req_init(&req, BK_API_DESCRIBE_CONFIGS, bt_corr());
    Brook__DescribeConfigsRequest dr = BROOK__DESCRIBE_CONFIGS_REQUEST__INIT;
    Brook__DescribeConfigsResource res = BROOK__DESCRIBE_CONFIGS_RESOURCE__INIT;
    Brook__DescribeConfigsResource *rp = &res;
    res.resource_type = rtype;
    res.resource_name = (char *)name;
    size_t nk = 0;
    while (keys && keys[nk])
        nk++;
    res.n_configuration_keys = nk;
    res.configuration_keys = (char **)keys;
    dr.n_resources = 1;
    dr.resources = &rp;
    dr.include_synonyms = synonyms;
    req.body_case = BROOK__REQUEST__BODY_DESCRIBE_CONFIGS;
    req.describe_configs = &dr;
    Brook__Response *r = bk_h_call(fd, &req, 5000);
    if (r && (!r->describe_configs || r->describe_configs->n_results != 1)) {
        brook__response__free_unpacked(r, NULL);
        return NULL;
    }
    return r;
}

/* One key of one resource as broker fd applies it: the resource's error
 * code (0: *value and *source set; 1000 when the key is not listed), or
 * -1 on a transport failure. */
static int describe(int fd, int rtype, const char *name, const char *key,
                    char *value, size_t cap, int *source)
{
    Brook__Response *r =
        describe_raw(fd, rtype, name, (const char *const[]){key, NULL}, false);
    if (!r)
        return -1;
    Brook__DescribeConfigsResult *res = r->describe_configs->results[0];
    int rc = res->error_code ? res->error_code : 1000;
    for (size_t i = 0; rc == 1000 && i < res->n_configs; i++) {
        if (strcmp(res->configs[i]->name, key) != 0)
            continue;
        snprintf(value, cap, "%s", res->configs[i]->value);
        if (source)
            *source = res->configs[i]->config_source;
        rc = 0;
    }
    brook__response__free_unpacked(r, NULL);
    return rc;
}

/* A connection to every broker (fds[i] for broker i). */
static void connect_all(int *fds)
{
    for (int i = 0; i < cl->n; i++) {
        fds[i] = bk_h_connect(cl->broker[i].port);
        CU_ASSERT_FATAL(fds[i] >= 0);
    }
}

static void close_all(const int *fds)
{
    for (int i = 0; i < cl->n; i++)
        close(fds[i]);
}

/* Polls every broker until each describes key of the resource as want
 * (with source want_src when > 0); per-broker latency from t0 into
 * lat[i] (-1: not within timeout_ms).  Returns the largest latency, or
 * -1 when some broker never showed it. */
static int64_t wait_all(const int *fds, int rtype, const char *const *names,
                        const char *key, const char *want, int want_src,
                        int64_t t0, int timeout_ms, int64_t *lat)
{
    int done = 0;
    for (int i = 0; i < cl->n; i++)
        lat[i] = -1;
    while (done < cl->n && bk_clock_mono_ms() - t0 < timeout_ms) {
        for (int i = 0; i < cl->n; i++) {
            if (lat[i] >= 0)
                continue;
            char v[256];
            int src = 0;
            if (describe(fds[i], rtype, names[i], key, v, sizeof v, &src) ==
                    0 &&
                strcmp(v, want) == 0 && (want_src <= 0 || src == want_src)) {
                lat[i] = bk_clock_mono_ms() - t0;
                done++;
            }
        }
        if (done < cl->n)
            bk_h_sleep_ms(2);
    }
    int64_t max = 0;
    for (int i = 0; i < cl->n; i++) {
        if (lat[i] < 0)
            return -1;
        if (lat[i] > max)
            max = lat[i];
    }
    return max;
}

/* The same topic name for every broker. */
static const char *const *same(const char *t, const char **v)
{
    for (int i = 0; i < cl->n; i++)
        v[i] = t;
    return v;
}

/* Each broker's own id as a string (BROKER resources). */
static const char *const *own_ids(char ids[][8], const char **v)
{
    for (int i = 0; i < cl->n; i++) {
        snprintf(ids[i], 8, "%d", cl->broker[i].id);
        v[i] = ids[i];
    }
    return v;
}

/* Waits until every broker shows the value (1 s limit, asserted). */
static void expect_all(int rtype, const char *topic, const char *key,
                       const char *want, int want_src)
{
    int fds[BK_H_MAX_BROKERS];
    const char *names[BK_H_MAX_BROKERS];
    char ids[BK_H_MAX_BROKERS][8];
    int64_t lat[BK_H_MAX_BROKERS];
    connect_all(fds);
    int64_t max = wait_all(
        fds, rtype, topic ? same(topic, names) : own_ids(ids, names), key, want,
        want_src, bk_clock_mono_ms(), PROPAGATION_LIMIT_MS, lat);
    if (max < 0)
        printf("\n    %s=%s (source %d) not seen on every broker\n", key, want,
               want_src);
    CU_ASSERT(max >= 0);
    close_all(fds);
}

static void create_topic(const char *t, int partitions, int rf,
                         const char *const *cfg)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL_FATAL(bt_create_topic_cfg(fd, t, partitions, rf, cfg), 0);
    close(fd);
    for (int i = 0; i < cl->n; i++)
        CU_ASSERT_EQUAL_FATAL(bk_h_wait_topic(cl, i, t, partitions, 10000), 0);
}

/* A connection to the leader of t/0 (its index in *li). */
static int leader_fd(const char *t, int *li)
{
    int id = -1;
    int64_t t0 = bk_clock_mono_ms();
    while ((id = bt_leader(cl->broker[0].port, t, 0)) < 0 &&
           bk_clock_mono_ms() - t0 < 10000)
        bk_h_sleep_ms(20);
    CU_ASSERT_FATAL(id >= 1 && id <= cl->n);
    if (li)
        *li = id - 1;
    int fd = bk_h_connect(bt_port_of(cl, id));
    CU_ASSERT_FATAL(fd >= 0);
    return fd;
}

/* One batch of n records with timestamps from ts0 (-1: now). */
static int produce_n(int fd, const char *t, int acks, int n, int64_t ts0)
{
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bt_batch(&b, "cfg", 0, n, ts0), 0);
    int rc = bt_produce_raw(fd, t, 0, acks, b.data, b.len, NULL);
    bk_buf_free(&b);
    return rc;
}

/* Size in bytes of the batch produce_n(n) sends. */
static size_t batch_size(int n)
{
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bt_batch(&b, "cfg", 0, n, -1), 0);
    size_t len = b.len;
    bk_buf_free(&b);
    return len;
}

static int64_t log_start(int fd, const char *t)
{
    int64_t off = -1;
    CU_ASSERT_EQUAL(bt_list_offsets(fd, t, 0, -2, &off, NULL), 0);
    return off;
}

/* *.log files in broker i's directory of t/0. */
static int segments(int i, const char *t)
{
    DIR *d = opendir(bk_h_partition_dir(cl, i, t, 0));
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".log") == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* ------------------------------ propagation ----------------------------- */

static void report(const char *what, int round, int64_t max, const int64_t *lat)
{
    printf("\n    config propagation (%s, round %d): max %lld ms (", what,
           round, (long long)max);
    for (int i = 0; i < cl->n; i++)
        printf("%sbroker %d %lld ms", i ? ", " : "", cl->broker[i].id,
               (long long)lat[i]);
    printf(")");
}

static void test_propagation(void)
{
    create_topic("prop", 1, 3, NULL);
    int fds[BK_H_MAX_BROKERS];
    const char *names[BK_H_MAX_BROKERS];
    char ids[BK_H_MAX_BROKERS][8];
    int64_t lat[BK_H_MAX_BROKERS], worst = 0;
    connect_all(fds);
    int rounds = bk_test_long ? 50 : 5;
    /* A topic config. */
    for (int r = 0; r < rounds; r++) {
        char v[32];
        snprintf(v, sizeof v, "%d", 3600000 + r);
        int64_t t0 = bk_clock_mono_ms();
        CU_ASSERT_EQUAL_FATAL(alter_topic("prop", "retention.ms", v), 0);
        int64_t max = wait_all(fds, BK_RESOURCE_TOPIC, same("prop", names),
                               "retention.ms", v, BK_CFG_SRC_TOPIC, t0,
                               PROPAGATION_LIMIT_MS * 5, lat);
        report("topic retention.ms", r, max, lat);
        CU_ASSERT(max >= 0 && max <= PROPAGATION_LIMIT_MS);
        if (max > worst)
            worst = max;
    }
    /* The cluster default entity, as each broker applies it. */
    for (int r = 0; r < rounds; r++) {
        char v[32];
        snprintf(v, sizeof v, "%d", 7200000 + r);
        int64_t t0 = bk_clock_mono_ms();
        CU_ASSERT_EQUAL_FATAL(alter_default("log.retention.ms", v), 0);
        int64_t max = wait_all(fds, BK_RESOURCE_BROKER, own_ids(ids, names),
                               "log.retention.ms", v, BK_CFG_SRC_DYN_DEFAULT,
                               t0, PROPAGATION_LIMIT_MS * 5, lat);
        report("default log.retention.ms", r, max, lat);
        CU_ASSERT(max >= 0 && max <= PROPAGATION_LIMIT_MS);
        if (max > worst)
            worst = max;
    }
    /* Through the brookctl binary (timed from its start). */
    char out[4096];
    int64_t t0 = bk_clock_mono_ms();
    int st = bk_h_brookctl(cl, out, sizeof out,
                           (const char *const[]){"configs", "alter", "--topic",
                                                 "prop", "--add-config",
                                                 "retention.ms=5400000", NULL});
    CU_ASSERT_EQUAL(st, 0);
    if (st != 0) {
        printf("\n    brookctl: %s\n", out);
    } else {
        int64_t max = wait_all(fds, BK_RESOURCE_TOPIC, same("prop", names),
                               "retention.ms", "5400000", BK_CFG_SRC_TOPIC, t0,
                               PROPAGATION_LIMIT_MS * 5, lat);
        report("brookctl configs alter, from its start", 0, max, lat);
        CU_ASSERT(max >= 0 && max <= PROPAGATION_LIMIT_MS);
    }
    printf("\n    config propagation: max %lld ms over %d rounds\n",
           (long long)worst, 2 * rounds);
    CU_ASSERT_EQUAL(delete_default_key("log.retention.ms"), 0);
    close_all(fds);
}

/* --------------------------- effects on the logs ---------------------------
 */

static void test_max_message_bytes(void)
{
    create_topic("mmb", 1, 3, NULL);
    int fd = leader_fd("mmb", NULL);
    size_t big = batch_size(100);
    CU_ASSERT_FATAL(big > 1200);
    CU_ASSERT_EQUAL(produce_n(fd, "mmb", -1, 100, -1), 0);
    CU_ASSERT_EQUAL(alter_topic("mmb", "max.message.bytes", "1024"), 0);
    expect_all(BK_RESOURCE_TOPIC, "mmb", "max.message.bytes", "1024",
               BK_CFG_SRC_TOPIC);
    CU_ASSERT_EQUAL(produce_n(fd, "mmb", -1, 100, -1),
                    BK_ERR_MSG_SIZE_TOO_LARGE);
    CU_ASSERT_EQUAL(produce_n(fd, "mmb", -1, 5, -1), 0); /* small still goes */
    CU_ASSERT_EQUAL(delete_topic_key("mmb", "max.message.bytes"), 0);
    expect_all(BK_RESOURCE_TOPIC, "mmb", "max.message.bytes", "1048588",
               BK_CFG_SRC_DEFAULT);
    CU_ASSERT_EQUAL(produce_n(fd, "mmb", -1, 100, -1), 0);
    close(fd);
}

static void test_min_insync(void)
{
    create_topic("misr", 1, 3, NULL);
    int fd = leader_fd("misr", NULL);
    CU_ASSERT_EQUAL(produce_n(fd, "misr", -1, 5, -1), 0);
    /* Above the ISR size (3): acks=all refused before the append. */
    CU_ASSERT_EQUAL(alter_topic("misr", "min.insync.replicas", "4"), 0);
    expect_all(BK_RESOURCE_TOPIC, "misr", "min.insync.replicas", "4",
               BK_CFG_SRC_TOPIC);
    CU_ASSERT_EQUAL(produce_n(fd, "misr", -1, 5, -1),
                    BK_ERR_NOT_ENOUGH_REPLICAS);
    CU_ASSERT_EQUAL(produce_n(fd, "misr", 1, 5, -1), 0); /* acks=1 is fine */
    CU_ASSERT_EQUAL(alter_topic("misr", "min.insync.replicas", "2"), 0);
    expect_all(BK_RESOURCE_TOPIC, "misr", "min.insync.replicas", "2",
               BK_CFG_SRC_TOPIC);
    CU_ASSERT_EQUAL(produce_n(fd, "misr", -1, 5, -1), 0);
    close(fd);
}

static void test_retention(void)
{
    /* Small segments so that there are old ones to delete. */
    create_topic("ret", 1, 3,
                 (const char *const[]){"segment.bytes", "1024", NULL});
    create_topic("retb", 1, 3,
                 (const char *const[]){"segment.bytes", "1024", NULL});
    int fd = leader_fd("ret", NULL);
    int64_t hour_ago = bk_clock_wall_ms() - 3600 * 1000;
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(produce_n(fd, "ret", -1, 40, hour_ago), 0);
    bk_h_sleep_ms(600); /* three retention checks: nothing goes yet */
    CU_ASSERT_EQUAL(log_start(fd, "ret"), 0);
    CU_ASSERT_EQUAL(alter_topic("ret", "retention.ms", "600000"), 0);
    int64_t t0 = bk_clock_mono_ms(), start = 0;
    while ((start = log_start(fd, "ret")) == 0 &&
           bk_clock_mono_ms() - t0 < 5000)
        bk_h_sleep_ms(20);
    printf("\n    retention.ms lowered: log start %lld after %lld ms",
           (long long)start, (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT(start > 0);
    close(fd);

    fd = leader_fd("retb", NULL);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(produce_n(fd, "retb", -1, 40, -1), 0);
    bk_h_sleep_ms(600);
    CU_ASSERT_EQUAL(log_start(fd, "retb"), 0);
    CU_ASSERT_EQUAL(alter_topic("retb", "retention.bytes", "2048"), 0);
    t0 = bk_clock_mono_ms();
    while ((start = log_start(fd, "retb")) == 0 &&
           bk_clock_mono_ms() - t0 < 5000)
        bk_h_sleep_ms(20);
    printf("\n    retention.bytes lowered: log start %lld after %lld ms\n",
           (long long)start, (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT(start > 0);
    close(fd);
}

static void test_segment_bytes(void)
{
    create_topic("seg", 1, 3, NULL);
    int li;
    int fd = leader_fd("seg", &li);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(produce_n(fd, "seg", -1, 40, -1), 0);
    for (int i = 0; i < cl->n; i++)
        CU_ASSERT_EQUAL(segments(i, "seg"), 1);
    CU_ASSERT_EQUAL(alter_topic("seg", "segment.bytes", "1024"), 0);
    expect_all(BK_RESOURCE_TOPIC, "seg", "segment.bytes", "1024",
               BK_CFG_SRC_TOPIC);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(produce_n(fd, "seg", -1, 40, -1), 0);
    /* acks=all: every replica has appended (and rolled) by now; a
     * follower's appends come in fetch-sized pieces, so allow it a moment
     * and expect at least a few segments. */
    int64_t t0 = bk_clock_mono_ms();
    for (int i = 0; i < cl->n; i++) {
        while (segments(i, "seg") < 4 && bk_clock_mono_ms() - t0 < 3000)
            bk_h_sleep_ms(20);
        printf("\n    segment.bytes lowered: broker %d has %d segments%s",
               cl->broker[i].id, segments(i, "seg"),
               i == li ? " (leader)" : "");
        CU_ASSERT(segments(i, "seg") >= 4);
    }
    printf("\n");
    close(fd);
}

/* ------------------------------ precedence ------------------------------ */

static void test_default_and_override(void)
{
    create_topic("dflt", 1, 3, NULL);
    create_topic("ovr", 1, 3,
                 (const char *const[]){"max.message.bytes", "200000", NULL});
    int fd = leader_fd("dflt", NULL);
    int fo = leader_fd("ovr", NULL);
    CU_ASSERT_EQUAL(produce_n(fd, "dflt", -1, 100, -1), 0);
    /* The cluster default (broker-level name) reaches the topic without
     * an override ... */
    CU_ASSERT_EQUAL(alter_default("message.max.bytes", "1024"), 0);
    expect_all(BK_RESOURCE_TOPIC, "dflt", "max.message.bytes", "1024",
               BK_CFG_SRC_DYN_DEFAULT);
    CU_ASSERT_EQUAL(produce_n(fd, "dflt", -1, 100, -1),
                    BK_ERR_MSG_SIZE_TOO_LARGE);
    /* ... not the one with its own value. */
    expect_all(BK_RESOURCE_TOPIC, "ovr", "max.message.bytes", "200000",
               BK_CFG_SRC_TOPIC);
    CU_ASSERT_EQUAL(produce_n(fo, "ovr", -1, 100, -1), 0);
    /* Deleting the override falls back to the default. */
    CU_ASSERT_EQUAL(delete_topic_key("ovr", "max.message.bytes"), 0);
    expect_all(BK_RESOURCE_TOPIC, "ovr", "max.message.bytes", "1024",
               BK_CFG_SRC_DYN_DEFAULT);
    CU_ASSERT_EQUAL(produce_n(fo, "ovr", -1, 100, -1),
                    BK_ERR_MSG_SIZE_TOO_LARGE);
    /* A topic override set now wins again. */
    CU_ASSERT_EQUAL(alter_topic("dflt", "max.message.bytes", "300000"), 0);
    expect_all(BK_RESOURCE_TOPIC, "dflt", "max.message.bytes", "300000",
               BK_CFG_SRC_TOPIC);
    CU_ASSERT_EQUAL(produce_n(fd, "dflt", -1, 100, -1), 0);
    /* The controller's unclean-election default is in the same picture. */
    CU_ASSERT_EQUAL(alter_default("unclean.leader.election.enable", "true"), 0);
    expect_all(BK_RESOURCE_TOPIC, "dflt", "unclean.leader.election.enable",
               "true", BK_CFG_SRC_DYN_DEFAULT);
    /* Removing the default: broker.properties (built-in here) again. */
    CU_ASSERT_EQUAL(delete_default_key("message.max.bytes"), 0);
    CU_ASSERT_EQUAL(delete_default_key("unclean.leader.election.enable"), 0);
    expect_all(BK_RESOURCE_TOPIC, "ovr", "max.message.bytes", "1048588",
               BK_CFG_SRC_DEFAULT);
    expect_all(BK_RESOURCE_TOPIC, "dflt", "unclean.leader.election.enable",
               "false", BK_CFG_SRC_DEFAULT);
    CU_ASSERT_EQUAL(produce_n(fo, "ovr", -1, 100, -1), 0);
    /* The default entity as described: empty again. */
    Brook__Response *r = describe_raw(fd, BK_RESOURCE_BROKER, "", NULL, false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->describe_configs->results[0]->error_code, 0);
    CU_ASSERT_EQUAL(r->describe_configs->results[0]->n_configs, 0);
    brook__response__free_unpacked(r, NULL);
    close(fd);
    close(fo);
}

/* One broker's own entity (/config/brokers/<id>) wins over the cluster
 * default on that broker only; a topic override wins over both. */
static void test_per_broker(void)
{
    create_topic("pb", 1, 3, NULL);
    CU_ASSERT_EQUAL(alter_default("log.retention.ms", "100000"), 0);
    CU_ASSERT_EQUAL(
        alter(BK_ZKC_ENTITY_BROKERS, "2",
              (const char *const[]){"log.retention.ms", "200000", NULL}, NULL),
        0);
    int64_t t0 = bk_clock_mono_ms();
    for (int i = 0; i < cl->n; i++) {
        int fd = bk_h_connect(cl->broker[i].port);
        CU_ASSERT_FATAL(fd >= 0);
        bool two = cl->broker[i].id == 2;
        const char *want = two ? "200000" : "100000";
        int want_src = two ? BK_CFG_SRC_DYN_BROKER : BK_CFG_SRC_DYN_DEFAULT;
        char v[64] = "";
        int src = 0;
        while (bk_clock_mono_ms() - t0 < PROPAGATION_LIMIT_MS &&
               !(describe(fd, BK_RESOURCE_TOPIC, "pb", "retention.ms", v,
                          sizeof v, &src) == 0 &&
                 strcmp(v, want) == 0 && src == want_src))
            bk_h_sleep_ms(5);
        CU_ASSERT_STRING_EQUAL(v, want);
        CU_ASSERT_EQUAL(src, want_src);
        close(fd);
    }
    CU_ASSERT_EQUAL(alter_topic("pb", "retention.ms", "300000"), 0);
    expect_all(BK_RESOURCE_TOPIC, "pb", "retention.ms", "300000",
               BK_CFG_SRC_TOPIC);
    CU_ASSERT_EQUAL(alter(BK_ZKC_ENTITY_BROKERS, "2", NULL,
                          (const char *const[]){"log.retention.ms", NULL}),
                    0);
    CU_ASSERT_EQUAL(delete_default_key("log.retention.ms"), 0);
    expect_all(BK_RESOURCE_BROKER, NULL, "log.retention.ms", "604800000",
               BK_CFG_SRC_DEFAULT);
}

/* ------------------------------- invalid ------------------------------- */

/* A change notification for entity_path ("topics/t", ...). */
static void notify(const char *entity_path)
{
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_config_change_encode(entity_path, &b), 0);
    CU_ASSERT_EQUAL_FATAL(bk_zk_create(zk, BK_ZKC_CONFIG_CHANGE_SEQ, b.data,
                                       b.len, BK_ZK_SEQUENTIAL, NULL, 0),
                          0);
    bk_buf_free(&b);
}

/* Writes data to path (created when absent) and a change notification
 * for entity_path, the way a careless tool would. */
static void write_raw(const char *path, const char *data,
                      const char *entity_path)
{
    int rc = bk_zk_set(zk, path, data, strlen(data), -1, NULL);
    if (rc == -BK_ENOENT)
        rc = bk_zk_create(zk, path, data, strlen(data), 0, NULL, 0);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    notify(entity_path);
}

/* Every broker process still runs and answers. */
static void assert_alive(void)
{
    for (int i = 0; i < cl->n; i++) {
        int st;
        CU_ASSERT_FALSE(bk_h_exited(cl->broker[i].pid, &st));
        int fd = bk_h_connect(cl->broker[i].port);
        CU_ASSERT(fd >= 0);
        if (fd >= 0) {
            Brook__Response *r = bt_metadata(fd, NULL, false);
            CU_ASSERT_PTR_NOT_NULL(r);
            if (r)
                brook__response__free_unpacked(r, NULL);
            close(fd);
        }
    }
}

static bool logs_contain(const char *needle)
{
    for (int i = 0; i < cl->n; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/out.log", cl->broker[i].dir);
        if (!bt_file_contains(path, needle))
            return false;
    }
    return true;
}

/* Every broker shows the same value for key of topic t (the first
 * broker's), and it is want. */
static void expect_same(const char *t, const char *key, const char *want,
                        int want_src)
{
    expect_all(BK_RESOURCE_TOPIC, t, key, want, want_src);
    for (int i = 0; i < cl->n; i++) {
        int fd = bk_h_connect(cl->broker[i].port);
        CU_ASSERT_FATAL(fd >= 0);
        char v[64] = "";
        int src = 0;
        CU_ASSERT_EQUAL(
            describe(fd, BK_RESOURCE_TOPIC, t, key, v, sizeof v, &src), 0);
        CU_ASSERT_STRING_EQUAL(v, want);
        CU_ASSERT_EQUAL(src, want_src);
        close(fd);
    }
}

static void test_invalid_ignored(void)
{
    create_topic("bad", 1, 3, NULL);
    CU_ASSERT_EQUAL(alter_default("log.retention.ms", "7200000"), 0);
    CU_ASSERT_EQUAL(alter_topic("bad", "retention.ms", "3600000"), 0);
    expect_all(BK_RESOURCE_TOPIC, "bad", "retention.ms", "3600000",
               BK_CFG_SRC_TOPIC);
    /* A bad value beside a good one: the good one applies; the bad
     * retention.ms stands as -1 (a looser layer, here the cluster default,
     * could delete data), not the value the brokers had. */
    char path[BK_ZKC_PATH_MAX];
    bk_zkc_path_topic_config(path, "bad");
    write_raw(path,
              "{\"version\":1,\"config\":{\"retention.ms\":\"soon\","
              "\"segment.bytes\":\"2048\"}}",
              "topics/bad");
    expect_all(BK_RESOURCE_TOPIC, "bad", "segment.bytes", "2048",
               BK_CFG_SRC_TOPIC);
    expect_same("bad", "retention.ms", "-1", BK_CFG_SRC_TOPIC);
    /* A restarted broker (which never had the valid value) applies the
     * same as the ones that had it. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, 2, SIGTERM) >= 0);
    CU_ASSERT_EQUAL_FATAL(bk_h_broker_start(cl, 2, true), 0);
    expect_same("bad", "retention.ms", "-1", BK_CFG_SRC_TOPIC);
    expect_same("bad", "segment.bytes", "2048", BK_CFG_SRC_TOPIC);
    /* Out of Brook's range (Kafka takes 14): ignored, the next layer
     * (built in) applies. */
    write_raw(path,
              "{\"version\":1,\"config\":{\"retention.ms\":\"3600000\","
              "\"segment.bytes\":\"100\",\"max.message.bytes\":\"-5\"}}",
              "topics/bad");
    expect_all(BK_RESOURCE_TOPIC, "bad", "retention.ms", "3600000",
               BK_CFG_SRC_TOPIC);
    expect_same("bad", "segment.bytes", "1073741824", BK_CFG_SRC_DEFAULT);
    expect_same("bad", "max.message.bytes", "1048588", BK_CFG_SRC_DEFAULT);
    /* JSON that does not decode: the topic sets only what loses nothing
     * (retention -1, no unclean election); the rest from the next layer. */
    write_raw(path,
              "{\"version\":1,\"config\":{\"retention.ms\":", "topics/bad");
    expect_same("bad", "retention.ms", "-1", BK_CFG_SRC_TOPIC);
    expect_same("bad", "retention.bytes", "-1", BK_CFG_SRC_TOPIC);
    expect_same("bad", "unclean.leader.election.enable", "false",
                BK_CFG_SRC_TOPIC);
    expect_same("bad", "segment.bytes", "1073741824", BK_CFG_SRC_DEFAULT);
    write_raw(path, "{\"version\":1,\"config\":{\"segment.bytes\":\"2048\"}}",
              "topics/bad");
    expect_same("bad", "retention.ms", "7200000", BK_CFG_SRC_DYN_DEFAULT);
    /* The default entity: a bad value and a key that is not dynamic. */
    char dpath[BK_ZKC_PATH_MAX];
    bk_zkc_path_entity_config(dpath, BK_ZKC_ENTITY_BROKERS,
                              BK_ZKC_ENTITY_DEFAULT);
    write_raw(dpath,
              "{\"version\":1,\"config\":{\"log.retention.bytes\":\"lots\","
              "\"num.io.threads\":\"8\",\"log.roll.ms\":\"86400000\"}}",
              "brokers/<default>");
    expect_all(BK_RESOURCE_TOPIC, "bad", "segment.ms", "86400000",
               BK_CFG_SRC_DYN_DEFAULT);
    /* log.retention.bytes=lots stands as -1, from the default entity */
    expect_same("bad", "retention.bytes", "-1", BK_CFG_SRC_DYN_DEFAULT);
    expect_same("bad", "retention.ms", "604800000", BK_CFG_SRC_DEFAULT);
    assert_alive();
    /* The brokers said what they ignored, naming key and znode. */
    int64_t t0 = bk_clock_mono_ms();
    while (!logs_contain("ignoring retention.ms=soon") &&
           bk_clock_mono_ms() - t0 < 2000)
        bk_h_sleep_ms(20);
    CU_ASSERT_TRUE(
        logs_contain("/config/topics/bad: ignoring retention.ms=soon"));
    CU_ASSERT_TRUE(logs_contain("ignoring log.retention.bytes=lots"));
    CU_ASSERT_TRUE(logs_contain("num.io.threads is not a dynamic broker"));
    /* A valid change afterwards still goes through. */
    CU_ASSERT_EQUAL(alter_default("log.roll.ms", "43200000"), 0);
    expect_all(BK_RESOURCE_TOPIC, "bad", "segment.ms", "43200000",
               BK_CFG_SRC_DYN_DEFAULT);
    /* The entity deleted outright: nothing of it applies. */
    CU_ASSERT_EQUAL(bk_zk_delete(zk, dpath, -1), 0);
    notify("brokers/<default>");
    expect_all(BK_RESOURCE_TOPIC, "bad", "segment.ms", "604800000",
               BK_CFG_SRC_DEFAULT);
}

/* ------------------- /config/changes itself goes away ------------------- */

/* Deletes every notification and /config/changes itself. */
static void wipe_changes(void)
{
    bk_zk_strings s;
    CU_ASSERT_EQUAL_FATAL(
        bk_zk_children(zk, BK_ZKC_CONFIG_CHANGES, &s, NULL, NULL), 0);
    for (size_t i = 0; i < s.n; i++) {
        char p[BK_ZKC_PATH_MAX];
        snprintf(p, sizeof p, BK_ZKC_CONFIG_CHANGES "/%s", s.v[i]);
        int rc = bk_zk_delete(zk, p, -1);
        CU_ASSERT(rc == 0 || rc == -BK_ENOENT);
    }
    bk_zk_strings_free(&s);
    CU_ASSERT_EQUAL_FATAL(bk_zk_delete(zk, BK_ZKC_CONFIG_CHANGES, -1), 0);
}

/* The newest notification's name ("" when none). */
static void newest_change(char *out, size_t cap)
{
    bk_zk_strings s;
    out[0] = '\0';
    if (bk_zk_children(zk, BK_ZKC_CONFIG_CHANGES, &s, NULL, NULL) != 0)
        return;
    if (s.n > 0)
        snprintf(out, cap, "%s", s.v[s.n - 1]);
    bk_zk_strings_free(&s);
}

/* Every broker shows retention.ms=want on t within 1 s of t0 (reported). */
static void expect_within(const char *what, const char *t, const char *want,
                          int64_t t0)
{
    int fds[BK_H_MAX_BROKERS];
    const char *names[BK_H_MAX_BROKERS];
    int64_t lat[BK_H_MAX_BROKERS];
    connect_all(fds);
    int64_t max =
        wait_all(fds, BK_RESOURCE_TOPIC, same(t, names), "retention.ms", want,
                 BK_CFG_SRC_TOPIC, t0, PROPAGATION_LIMIT_MS * 5, lat);
    report(what, 0, max, lat);
    CU_ASSERT(max >= 0 && max <= PROPAGATION_LIMIT_MS);
    close_all(fds);
}

static void test_changes_recreated(void)
{
    create_topic("recr", 1, 3, NULL);
    /* Enough notifications that the brokers' last one is well above 0. */
    for (int r = 0; r < 3; r++)
        CU_ASSERT_EQUAL(alter_topic("recr", "retention.ms", "1000000"), 0);
    expect_all(BK_RESOURCE_TOPIC, "recr", "retention.ms", "1000000",
               BK_CFG_SRC_TOPIC);
    /* Gone, and seen gone by the brokers; then brookctl creates it again
     * with its notification, numbered 0. */
    wipe_changes();
    bk_h_sleep_ms(200);
    char out[4096];
    int64_t t0 = bk_clock_mono_ms();
    int st = bk_h_brookctl(cl, out, sizeof out,
                           (const char *const[]){"configs", "alter", "--topic",
                                                 "recr", "--add-config",
                                                 "retention.ms=2000000", NULL});
    CU_ASSERT_EQUAL_FATAL(st, 0);
    expect_within("after /config/changes was re-created by brookctl", "recr",
                  "2000000", t0);
    CU_ASSERT_TRUE(logs_contain("/config/changes was deleted"));
    char name[64];
    newest_change(name, sizeof name);
    CU_ASSERT_STRING_EQUAL(name, "config_change_0000000000");
    /* The next notification under the new parent is followed as usual. */
    t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(alter_topic("recr", "retention.ms", "3000000"), 0);
    expect_within("the next change under the new parent", "recr", "3000000",
                  t0);
    /* Deleted and created again in one transaction, with the config and
     * a notification numbered 0: the brokers never see it absent. */
    bk_zk_strings s;
    CU_ASSERT_EQUAL_FATAL(
        bk_zk_children(zk, BK_ZKC_CONFIG_CHANGES, &s, NULL, NULL), 0);
    CU_ASSERT_FATAL(s.n >= 1 && s.n <= 4);
    char paths[4][BK_ZKC_PATH_MAX], tpath[BK_ZKC_PATH_MAX];
    bk_zk_op ops[9];
    int n = 0;
    for (size_t i = 0; i < s.n; i++) {
        snprintf(paths[i], sizeof paths[i], BK_ZKC_CONFIG_CHANGES "/%s",
                 s.v[i]);
        ops[n++] = bk_zk_op_delete(paths[i], -1);
    }
    bk_zk_strings_free(&s);
    ops[n++] = bk_zk_op_delete(BK_ZKC_CONFIG_CHANGES, -1);
    static const char cfg[] =
        "{\"version\":1,\"config\":{\"retention.ms\":\"4000000\"}}";
    bk_zkc_path_topic_config(tpath, "recr");
    ops[n++] = bk_zk_op_set(tpath, cfg, strlen(cfg), -1);
    ops[n++] = bk_zk_op_create(BK_ZKC_CONFIG_CHANGES, NULL, 0, 0);
    bk_buf note = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_config_change_encode("topics/recr", &note), 0);
    ops[n++] = bk_zk_op_create(BK_ZKC_CONFIG_CHANGE_SEQ, note.data, note.len,
                               BK_ZK_SEQUENTIAL);
    t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL_FATAL(bk_zk_multi(zk, ops, n, NULL), 0);
    bk_buf_free(&note);
    expect_within("after /config/changes was re-created in one transaction",
                  "recr", "4000000", t0);
    CU_ASSERT_TRUE(logs_contain("/config/changes was created again"));
    t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(alter_topic("recr", "retention.ms", "5000000"), 0);
    expect_within("the next change after that", "recr", "5000000", t0);
}

/* -------------------- many notifications at once -------------------- */

/* n notifications for entity_path, in pipelined multis of 100. */
static void make_notifications(int n, const char *entity_path)
{
    enum { PER = 100 };
    bk_buf note = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_config_change_encode(entity_path, &note), 0);
    int nb = (n + PER - 1) / PER;
    bk_zk_op *ops = calloc((size_t)n, sizeof *ops);
    bk_zk_op **opp = calloc((size_t)nb, sizeof *opp);
    int *cnt = calloc((size_t)nb, sizeof *cnt),
        *rcs = calloc((size_t)nb, sizeof *rcs),
        *failed = calloc((size_t)nb, sizeof *failed);
    CU_ASSERT_FATAL(ops && opp && cnt && rcs && failed);
    for (int i = 0; i < n; i++)
        ops[i] = bk_zk_op_create(BK_ZKC_CONFIG_CHANGE_SEQ, note.data, note.len,
                                 BK_ZK_SEQUENTIAL);
    for (int b = 0; b < nb; b++) {
        opp[b] = ops + b * PER;
        cnt[b] = n - b * PER < PER ? n - b * PER : PER;
    }
    CU_ASSERT_EQUAL(bk_zk_multi_batches(zk, opp, cnt, nb, rcs, failed), 0);
    for (int b = 0; b < nb; b++)
        CU_ASSERT_EQUAL(rcs[b], 0);
    free(ops);
    free(opp);
    free(cnt);
    free(rcs);
    free(failed);
    bk_buf_free(&note);
}

/* Thousands of notifications present (a burst of changes; 20,000 in the
 * long run) cost a restarted broker little and each change after them
 * still reaches every broker within 1 s; the purge then removes them. */
static void test_many_notifications(void)
{
    int n = bk_test_long ? 20000 : 2000;
    create_topic("many", 1, 3, NULL);
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(alter_topic("many", "retention.ms", "1300000"), 0);
    make_notifications(n, "topics/many");
    printf("\n    %d notifications made in %lld ms", n,
           (long long)(bk_clock_mono_ms() - t0));
    expect_all(BK_RESOURCE_TOPIC, "many", "retention.ms", "1300000",
               BK_CFG_SRC_TOPIC);
    t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(alter_topic("many", "retention.ms", "1400000"), 0);
    expect_within("a change beside the burst", "many", "1400000", t0);
    /* A broker starting with them all present. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, 0, SIGTERM) >= 0);
    CU_ASSERT_EQUAL(alter_topic("many", "retention.ms", "1500000"), 0);
    t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL_FATAL(bk_h_broker_start(cl, 0, true), 0);
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    char v[64] = "";
    while (bk_clock_mono_ms() - t0 < 10000 &&
           !(describe(fd, BK_RESOURCE_TOPIC, "many", "retention.ms", v,
                      sizeof v, NULL) == 0 &&
             strcmp(v, "1500000") == 0))
        bk_h_sleep_ms(5);
    close(fd);
    int64_t ms = bk_clock_mono_ms() - t0;
    printf("\n    broker %d restarted with %d notifications present: "
           "serving the change made while it was down %lld ms after its "
           "start",
           cl->broker[0].id, n + 3, (long long)ms);
    CU_ASSERT_STRING_EQUAL(v, "1500000");
    CU_ASSERT(ms < 5000);
    expect_all(BK_RESOURCE_TOPIC, "many", "retention.ms", "1500000",
               BK_CFG_SRC_TOPIC);
    t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(alter_topic("many", "retention.ms", "1600000"), 0);
    expect_within("a change after the restart", "many", "1600000", t0);
    /* Every notification but the newest goes (as the controller's purge
     * does with 15 minutes); the brokers still follow. */
    t0 = bk_clock_mono_ms();
    int del = bk_zkd_config_changes_purge(zk, bk_clock_wall_ms(), 0, 0);
    printf("\n    purge: %d notifications deleted in %lld ms", del,
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT(del >= n);
    t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(alter_topic("many", "retention.ms", "1700000"), 0);
    expect_within("a change after the purge", "many", "1700000", t0);
}

/* -------------------- a notification read by nobody -------------------- */

/* Waits until process pid is stopped (SIGSTOP delivered). */
static bool wait_stopped(pid_t pid)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(p, "r");
        char state = 0;
        if (f) {
            /* "pid (comm) S ...": the state follows the last ')' */
            char line[512];
            if (fgets(line, sizeof line, f)) {
                char *rp = strrchr(line, ')');
                if (rp && rp[1] == ' ')
                    state = rp[2];
            }
            fclose(f);
        }
        if (state == 'T' || state == 't')
            return true;
        bk_h_sleep_ms(5);
    }
    return false;
}

/* A broker stopped for a moment (its session lives on) while a change is
 * made and its notification deleted: when it resumes, the listing no
 * longer has the notification, but /config/changes' cversion counts a
 * child created and deleted unseen, so it reads every config again. */
static void test_vanished_notification(void)
{
    create_topic("van", 1, 3, NULL);
    int i = 1;
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, i, SIGSTOP) >= 0);
    CU_ASSERT_FATAL(wait_stopped(cl->broker[i].pid));
    CU_ASSERT_EQUAL(alter_topic("van", "retention.ms", "1100000"), 0);
    char name[64], p[BK_ZKC_PATH_MAX];
    newest_change(name, sizeof name);
    snprintf(p, sizeof p, BK_ZKC_CONFIG_CHANGES "/%s", name);
    CU_ASSERT_EQUAL(bk_zk_delete(zk, p, -1), 0);
    bk_h_sleep_ms(100);
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, i, SIGCONT) >= 0);
    int64_t t0 = bk_clock_mono_ms();
    int fd = bk_h_connect(cl->broker[i].port);
    CU_ASSERT_FATAL(fd >= 0);
    char v[64] = "";
    int src = 0;
    while (bk_clock_mono_ms() - t0 < 5000) {
        if (describe(fd, BK_RESOURCE_TOPIC, "van", "retention.ms", v, sizeof v,
                     &src) == 0 &&
            strcmp(v, "1100000") == 0)
            break;
        bk_h_sleep_ms(5);
    }
    int64_t ms = bk_clock_mono_ms() - t0;
    printf("\n    notification deleted before broker %d read it: converged "
           "%lld ms after SIGCONT\n",
           cl->broker[i].id, (long long)ms);
    CU_ASSERT_STRING_EQUAL(v, "1100000");
    CU_ASSERT_EQUAL(src, BK_CFG_SRC_TOPIC);
    CU_ASSERT(ms <= 2000);
    close(fd);
    /* ... because it counted the notification it never saw. */
    char log[600];
    snprintf(log, sizeof log, "%s/out.log", cl->broker[i].dir);
    CU_ASSERT_TRUE(bt_file_contains(log, "came and went before this broker"));
    /* Every broker agrees, and follows the next notification. */
    expect_all(BK_RESOURCE_TOPIC, "van", "retention.ms", "1100000",
               BK_CFG_SRC_TOPIC);
    t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(alter_topic("van", "retention.ms", "1200000"), 0);
    expect_within("the next change", "van", "1200000", t0);
}

/* ------------------------------ describe ------------------------------ */

static void test_describe(void)
{
    create_topic("desc", 1, 3,
                 (const char *const[]){"retention.ms", "123456",
                                       "cleanup.policy", "delete", NULL});
    int fd = bk_h_connect(cl->broker[1].port);
    CU_ASSERT_FATAL(fd >= 0);
    /* All keys: every dynamic key once, plus the non-dynamic override. */
    Brook__Response *r =
        describe_raw(fd, BK_RESOURCE_TOPIC, "desc", NULL, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    Brook__DescribeConfigsResult *res = r->describe_configs->results[0];
    CU_ASSERT_EQUAL(res->error_code, 0);
    CU_ASSERT_EQUAL(res->resource_type, BK_RESOURCE_TOPIC);
    CU_ASSERT_STRING_EQUAL(res->resource_name, "desc");
    CU_ASSERT_EQUAL(res->n_configs, 10);
    bool saw_ret = false, saw_cleanup = false;
    for (size_t i = 0; i < res->n_configs; i++) {
        Brook__DescribeConfigsResourceResult *c = res->configs[i];
        CU_ASSERT_FALSE(c->read_only);
        CU_ASSERT_FALSE(c->is_sensitive);
        CU_ASSERT(c->n_synonyms >= 1);
        if (strcmp(c->name, "retention.ms") == 0) {
            saw_ret = true;
            CU_ASSERT_STRING_EQUAL(c->value, "123456");
            CU_ASSERT_EQUAL(c->config_source, BK_CFG_SRC_TOPIC);
            /* Synonyms: the topic's, then broker.properties' own. */
            CU_ASSERT_EQUAL(c->n_synonyms, 2);
            if (c->n_synonyms == 2) {
                CU_ASSERT_STRING_EQUAL(c->synonyms[1]->name,
                                       "log.retention.ms");
                CU_ASSERT_STRING_EQUAL(c->synonyms[1]->value, "604800000");
            }
        }
        if (strcmp(c->name, "cleanup.policy") == 0) {
            saw_cleanup = true;
            CU_ASSERT_EQUAL(c->config_source, BK_CFG_SRC_TOPIC);
        }
    }
    CU_ASSERT_TRUE(saw_ret);
    CU_ASSERT_TRUE(saw_cleanup);
    brook__response__free_unpacked(r, NULL);
    /* Static values of the broker: set in broker.properties (4) or
     * built in (5). */
    char v[64];
    int src = 0;
    CU_ASSERT_EQUAL(describe(fd, BK_RESOURCE_BROKER, "2", "log.retention.ms", v,
                             sizeof v, &src),
                    0);
    CU_ASSERT_STRING_EQUAL(v, "604800000");
    CU_ASSERT_EQUAL(src, BK_CFG_SRC_DEFAULT);
    /* Errors. */
    CU_ASSERT_EQUAL(describe(fd, BK_RESOURCE_TOPIC, "nosuch", "retention.ms", v,
                             sizeof v, &src),
                    BK_ERR_UNKNOWN_TOPIC_OR_PART);
    CU_ASSERT_EQUAL(describe(fd, BK_RESOURCE_BROKER, "1", "log.retention.ms", v,
                             sizeof v, &src),
                    BK_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(describe(fd, 3, "x", "a", v, sizeof v, &src),
                    BK_ERR_INVALID_REQUEST);
    /* ApiVersions lists it. */
    Brook__Request req;
    bk_h_req_init(&req, BK_API_API_VERSIONS, bt_corr());
    Brook__ApiVersionsRequest av = BROOK__API_VERSIONS_REQUEST__INIT;
    req.body_case = BROOK__REQUEST__BODY_API_VERSIONS;
    req.api_versions = &av;
    r = bk_h_call(fd, &req, 5000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    bool listed = false;
    for (size_t i = 0; r->api_versions && i < r->api_versions->n_api_keys; i++)
        listed = listed || r->api_versions->api_keys[i]->api_key ==
                               BK_API_DESCRIBE_CONFIGS;
    CU_ASSERT_TRUE(listed);
    brook__response__free_unpacked(r, NULL);
    close(fd);
}

/* ------------------ the controller and unclean election ------------------ */

static bool read_state(const char *topic, bk_zkc_pstate *st)
{
    return bk_zkd_pstate_read(zk, topic, 0, st, NULL) == 0;
}

/* unclean.leader.election.enable=true in the cluster default entity (no
 * topic override, false in broker.properties): RF=2 on {x, y}; y stops,
 * then x (the ISR keeps x): the partition is offline; the stale y
 * returns and the controller elects it, as only the dynamic default
 * allows. */
static void test_unclean_default(void)
{
    create_topic("ucd", 1, 2, NULL);
    CU_ASSERT_EQUAL(alter_default("unclean.leader.election.enable", "true"), 0);
    expect_all(BK_RESOURCE_TOPIC, "ucd", "unclean.leader.election.enable",
               "true", BK_CFG_SRC_DYN_DEFAULT);
    bk_zkc_pstate st;
    CU_ASSERT_FATAL(read_state("ucd", &st));
    CU_ASSERT_EQUAL_FATAL(st.nisr, 2);
    int x = st.leader, y = st.isr[0] == x ? st.isr[1] : st.isr[0];
    /* y stops (controlled shutdown takes it out of the ISR). */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, y - 1, SIGTERM) >= 0);
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < 8000 &&
           !(read_state("ucd", &st) && st.nisr == 1))
        bk_h_sleep_ms(20);
    CU_ASSERT_EQUAL_FATAL(st.nisr, 1);
    CU_ASSERT_EQUAL(st.isr[0], x);
    /* x stops: no live replica at all, offline. */
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, x - 1, SIGTERM) >= 0);
    t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < 8000 &&
           !(read_state("ucd", &st) && st.leader == -1))
        bk_h_sleep_ms(20);
    CU_ASSERT_EQUAL(st.leader, -1);
    /* The stale y returns and is elected. */
    CU_ASSERT_EQUAL_FATAL(bk_h_broker_start(cl, y - 1, true), 0);
    t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < 5000 &&
           !(read_state("ucd", &st) && st.leader == y))
        bk_h_sleep_ms(20);
    printf("\n    unclean election by the cluster default: stale replica %d "
           "elected %lld ms after its restart\n",
           y, (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_EQUAL(st.leader, y);
    CU_ASSERT_EQUAL_FATAL(bk_h_broker_start(cl, x - 1, true), 0);
    CU_ASSERT_EQUAL(delete_default_key("unclean.leader.election.enable"), 0);
    expect_all(BK_RESOURCE_TOPIC, "ucd", "unclean.leader.election.enable",
               "false", BK_CFG_SRC_DEFAULT);
}

/* ------------------------- restarts and sessions ------------------------- */

/* Changes made while a broker is down are there when it starts. */
static void test_changes_while_down(void)
{
    create_topic("down", 1, 3, NULL);
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, 2, SIGTERM) >= 0);
    CU_ASSERT_EQUAL(alter_topic("down", "retention.ms", "777000"), 0);
    CU_ASSERT_EQUAL(alter_default("log.segment.bytes", "4194304"), 0);
    CU_ASSERT_EQUAL_FATAL(bk_h_broker_start(cl, 2, true), 0);
    expect_all(BK_RESOURCE_TOPIC, "down", "retention.ms", "777000",
               BK_CFG_SRC_TOPIC);
    expect_all(BK_RESOURCE_TOPIC, "down", "segment.bytes", "4194304",
               BK_CFG_SRC_DYN_DEFAULT);
    CU_ASSERT_EQUAL(delete_default_key("log.segment.bytes"), 0);
    expect_all(BK_RESOURCE_TOPIC, "down", "segment.bytes", "1073741824",
               BK_CFG_SRC_DEFAULT);
}

/* A broker whose session expires misses the notifications made meanwhile
 * (its watch went with the session); the new session reads everything,
 * and follows the notifications after, also when /config/changes was
 * made again meanwhile (numbers from 0). */
static void test_session_expiry(void)
{
    create_topic("sess", 1, 3, NULL);
    int i = 1;
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, i, SIGSTOP) >= 0);
    CU_ASSERT_EQUAL(alter_topic("sess", "flush.ms", "1000"), 0);
    /* /config/changes made again meanwhile: the new session finds
     * notifications numbered from 0 again, below the ones it handled. */
    wipe_changes();
    CU_ASSERT_EQUAL(alter_default("log.flush.interval.messages", "5000"), 0);
    /* Past the 6 s session: ZooKeeper expires it. */
    char p[BK_ZKC_PATH_MAX];
    bk_zkc_path_broker(p, cl->broker[i].id);
    int64_t t0 = bk_clock_mono_ms();
    while (bk_zk_exists(zk, p, NULL, NULL, NULL) == 0 &&
           bk_clock_mono_ms() - t0 < 15000)
        bk_h_sleep_ms(50);
    CU_ASSERT_EQUAL(bk_zk_exists(zk, p, NULL, NULL, NULL), -BK_ENOENT);
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, i, SIGCONT) >= 0);
    int fd = bk_h_connect(cl->broker[i].port);
    CU_ASSERT_FATAL(fd >= 0);
    t0 = bk_clock_mono_ms();
    char v[64] = "", w[64] = "";
    int sv = 0, sw = 0;
    while (bk_clock_mono_ms() - t0 < 10000) {
        describe(fd, BK_RESOURCE_TOPIC, "sess", "flush.ms", v, sizeof v, &sv);
        describe(fd, BK_RESOURCE_TOPIC, "sess", "flush.messages", w, sizeof w,
                 &sw);
        if (strcmp(v, "1000") == 0 && strcmp(w, "5000") == 0)
            break;
        bk_h_sleep_ms(20);
    }
    printf("\n    after the session expiry: both changes seen %lld ms after "
           "SIGCONT\n",
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_STRING_EQUAL(v, "1000");
    CU_ASSERT_EQUAL(sv, BK_CFG_SRC_TOPIC);
    CU_ASSERT_STRING_EQUAL(w, "5000");
    CU_ASSERT_EQUAL(sw, BK_CFG_SRC_DYN_DEFAULT);
    close(fd);
    /* And it follows notifications again on the new session. */
    CU_ASSERT_EQUAL(alter_topic("sess", "flush.ms", "2000"), 0);
    expect_all(BK_RESOURCE_TOPIC, "sess", "flush.ms", "2000", BK_CFG_SRC_TOPIC);
    CU_ASSERT_EQUAL(delete_default_key("log.flush.interval.messages"), 0);
    expect_all(BK_RESOURCE_TOPIC, "sess", "flush.messages",
               "9223372036854775807", BK_CFG_SRC_DEFAULT);
}

void bk_test_register(void)
{
    bk_logging_set_level(BK_LVL_WARN);
    static CU_TestInfo tests[] = {
        {"describe: values, sources, synonyms, errors", test_describe},
        {"propagation to every broker within 1 s", test_propagation},
        {"max.message.bytes without restart", test_max_message_bytes},
        {"min.insync.replicas without restart", test_min_insync},
        {"retention.ms and retention.bytes without restart", test_retention},
        {"segment.bytes without restart", test_segment_bytes},
        {"cluster default, topic override, fallback",
         test_default_and_override},
        {"per-broker dynamic config", test_per_broker},
        {"invalid values in ZooKeeper are ignored (retention: -1)",
         test_invalid_ignored},
        {"/config/changes deleted and created again", test_changes_recreated},
        {"a notification deleted before a broker read it",
         test_vanished_notification},
        {"thousands of notifications: restart, changes, purge",
         test_many_notifications},
        {"unclean election by the cluster default", test_unclean_default},
        {"changes made while a broker is down", test_changes_while_down},
        {"session expiry: everything read again", test_session_expiry},
        CU_TEST_INFO_NULL,
    };
    bk_test_add_suite_fn("configs", tests, suite_init, suite_clean);
}
