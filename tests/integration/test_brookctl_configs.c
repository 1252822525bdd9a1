/*
 * test_brookctl_configs.c -- `brookctl configs alter|describe` and the
 * zkdata functions behind them (bk_zkd_config_alter,
 * bk_zkd_config_changes_purge) against a real ZooKeeper (no brokers):
 * the exact znodes and change notifications written (Kafka's JSON), the
 * bracket syntax, every refusal leaving ZooKeeper untouched, broker
 * entities, describe output, --all sources, concurrent writers, and the
 * purge of old notifications.
 *
 * One ZooKeeper serves the suite; each test works under its own chroot:
 * the harness runs brookctl with --zookeeper cl->zk_connect, which
 * use_chroot() points at the test's chroot.  Topics are made by writing
 * /brokers/topics/<t> directly (brookctl configs only asks whether the
 * topic exists; creating it through brookctl would need live brokers).
 */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"
#include "tests/harness/harness.h"
#include "tests/unit/cu_main.h"

static bk_h_cluster *cl;

static int suite_init(void)
{
    cl = bk_h_cluster_start("cfgctl", 1, 0, NULL); /* ZooKeeper only */
    return cl ? 0 : -1;
}

static int suite_clean(void)
{
    bk_h_cluster_stop(cl);
    cl = NULL;
    return 0;
}

/* ------------------------------- helpers ------------------------------- */

/* Points brookctl at <zk>/cfg-<name> and opens a session there. */
static bk_zk *use_chroot(const char *name)
{
    snprintf(cl->zk_connect, sizeof cl->zk_connect, "%s/cfg-%s",
             cl->zk->connect, name);
    bk_zk_opts o = {.connect = cl->zk_connect,
                    .session_timeout_ms = 6000,
                    .connect_timeout_ms = 10000};
    bk_zk *zk = NULL;
    char err[300];
    if (bk_zk_open(&o, &zk, err, sizeof err))
        printf("\n%s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    return zk;
}

typedef struct run {
    int status;
    char out[16384]; /* stdout and stderr */
} run;

static void ctl(run *r, const char *const *args)
{
    r->status = bk_h_brookctl(cl, r->out, sizeof r->out, args);
}

#define CTL(r, ...) ctl((r), (const char *const[]){__VA_ARGS__, NULL})

#define EXPECT_STATUS(r, want)                                                 \
    do {                                                                       \
        if ((r)->status != (want))                                             \
            printf("\nbrookctl exit %d (want %d): %s\n", (r)->status, (want),  \
                   (r)->out);                                                  \
        CU_ASSERT_EQUAL((r)->status, (want));                                  \
    } while (0)

#define EXPECT_OUT(r, s)                                                       \
    do {                                                                       \
        if (!strstr((r)->out, (s)))                                            \
            printf("\nbrookctl said '%s', missing '%s'\n", (r)->out, (s));     \
        CU_ASSERT_PTR_NOT_NULL(strstr((r)->out, (s)));                         \
    } while (0)

#define EXPECT_OUT_EQ(r, s)                                                    \
    do {                                                                       \
        if (strcmp((r)->out, (s)) != 0)                                        \
            printf("\nbrookctl said:\n%s\nwanted:\n%s\n", (r)->out, (s));      \
        CU_ASSERT_STRING_EQUAL((r)->out, (s));                                 \
    } while (0)

/* /brokers/topics/<t> with one partition on broker 1. */
static void make_topic(bk_zk *zk, const char *t)
{
    bk_zkc_assignment a;
    int32_t ids[1] = {1};
    CU_ASSERT_EQUAL_FATAL(bk_zkc_assignment_init(&a, 1, 1, ids), 0);
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_assignment_encode(&a, &b), 0);
    char p[BK_ZKC_PATH_MAX];
    bk_zkc_path_topic(p, t);
    CU_ASSERT_EQUAL_FATAL(
        bk_zk_create(zk, p, b.data, b.len, BK_ZK_PARENTS, NULL, 0), 0);
    bk_buf_free(&b);
    bk_zkc_assignment_free(&a);
}

/* The data of path as a string ("" and version -1 when absent). */
static void get_raw(bk_zk *zk, const char *path, char *out, size_t outlen,
                    int32_t *version)
{
    bk_buf b = BK_BUF_INIT;
    bk_zk_stat st;
    out[0] = '\0';
    if (version)
        *version = -1;
    if (bk_zk_get(zk, path, &b, &st, NULL, NULL) == 0) {
        size_t n = b.len < outlen - 1 ? b.len : outlen - 1;
        memcpy(out, b.data, n);
        out[n] = '\0';
        if (version)
            *version = st.version;
    }
    bk_buf_free(&b);
}

static void expect_raw(bk_zk *zk, const char *path, const char *want)
{
    char raw[2048];
    get_raw(zk, path, raw, sizeof raw, NULL);
    if (strcmp(raw, want) != 0)
        printf("\n%s holds '%s', want '%s'\n", path, raw, want);
    CU_ASSERT_STRING_EQUAL(raw, want);
}

/* The config_change_* notifications, sorted (oldest first). */
static size_t changes(bk_zk *zk, bk_zk_strings *out)
{
    bk_zk_strings tmp;
    bk_zk_strings *s = out ? out : &tmp;
    int rc = bk_zk_children(zk, BK_ZKC_CONFIG_CHANGES, s, NULL, NULL);
    if (rc == -BK_ENOENT) {
        s->v = NULL;
        s->n = 0;
        return 0;
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    size_t n = s->n;
    if (!out)
        bk_zk_strings_free(&tmp);
    return n;
}

/* The entity_path of the newest notification. */
static void newest_change(bk_zk *zk, char *raw, size_t rawlen)
{
    bk_zk_strings s;
    raw[0] = '\0';
    if (changes(zk, &s) == 0)
        return;
    char p[BK_ZKC_PATH_MAX];
    snprintf(p, sizeof p, BK_ZKC_CONFIG_CHANGES "/%s", s.v[s.n - 1]);
    get_raw(zk, p, raw, rawlen, NULL);
    bk_zk_strings_free(&s);
}

/* ------------------------------ the tests ------------------------------ */

static void test_help(void)
{
    run r;
    CTL(&r, "configs", "alter", "--help");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT(&r, "usage: brookctl configs alter");
    EXPECT_OUT(&r, "--add-config");
    EXPECT_OUT(&r, "square");
    CTL(&r, "configs", "describe", "--help");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT(&r, "usage: brookctl configs describe");
    EXPECT_OUT(&r, "broker.properties");
}

static void test_alter_exact_json(void)
{
    bk_zk *zk = use_chroot("exact");
    make_topic(zk, "t1");
    run r;
    char raw[512];
    CTL(&r, "configs", "alter", "--topic", "t1", "--add-config",
        "segment.bytes=1048576,retention.ms=3600000");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "Completed updating config for topic t1.\n");
    expect_raw(zk, "/config/topics/t1",
               "{\"version\":1,\"config\":{\"retention.ms\":\"3600000\","
               "\"segment.bytes\":\"1048576\"}}");
    CU_ASSERT_EQUAL(changes(zk, NULL), 1);
    newest_change(zk, raw, sizeof raw);
    CU_ASSERT_STRING_EQUAL(raw,
                           "{\"version\":2,\"entity_path\":\"topics/t1\"}");

    /* Kafka's entity syntax, blanks around key and value, normalization */
    CTL(&r, "configs", "alter", "--entity-type", "topics", "--entity-name",
        "t1", "--add-config",
        " min.insync.replicas = 2 ,unclean.leader.election.enable=TRUE");
    EXPECT_STATUS(&r, 0);
    expect_raw(zk, "/config/topics/t1",
               "{\"version\":1,\"config\":{\"min.insync.replicas\":\"2\","
               "\"retention.ms\":\"3600000\",\"segment.bytes\":\"1048576\","
               "\"unclean.leader.election.enable\":\"true\"}}");
    CU_ASSERT_EQUAL(changes(zk, NULL), 2);

    /* replacing a value, deleting in the same alteration */
    CTL(&r, "configs", "alter", "--topic", "t1", "--add-config",
        "retention.ms=60000", "--delete-config",
        "segment.bytes, min.insync.replicas");
    EXPECT_STATUS(&r, 0);
    expect_raw(zk, "/config/topics/t1",
               "{\"version\":1,\"config\":{\"retention.ms\":\"60000\","
               "\"unclean.leader.election.enable\":\"true\"}}");
    CU_ASSERT_EQUAL(changes(zk, NULL), 3);

    /* add then delete restores the znode byte for byte */
    char before[512], after[512];
    get_raw(zk, "/config/topics/t1", before, sizeof before, NULL);
    CTL(&r, "configs", "alter", "--topic", "t1", "--add-config",
        "flush.ms=1000,max.message.bytes=2000000");
    EXPECT_STATUS(&r, 0);
    CTL(&r, "configs", "alter", "--topic", "t1", "--delete-config",
        "flush.ms,max.message.bytes");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "Completed updating config for topic t1.\n");
    get_raw(zk, "/config/topics/t1", after, sizeof after, NULL);
    CU_ASSERT_STRING_EQUAL(before, after);
    CU_ASSERT_EQUAL(changes(zk, NULL), 5);

    /* deleting everything leaves Kafka's empty config, not a gap */
    CTL(&r, "configs", "alter", "--topic", "t1", "--delete-config",
        "retention.ms,unclean.leader.election.enable");
    EXPECT_STATUS(&r, 0);
    expect_raw(zk, "/config/topics/t1", "{\"version\":1,\"config\":{}}");

    /* a topic without a config znode yet (created by hand): created */
    make_topic(zk, "t2");
    CTL(&r, "configs", "alter", "--topic", "t2", "--add-config",
        "segment.ms=600000");
    EXPECT_STATUS(&r, 0);
    expect_raw(zk, "/config/topics/t2",
               "{\"version\":1,\"config\":{\"segment.ms\":\"600000\"}}");
    newest_change(zk, raw, sizeof raw);
    CU_ASSERT_STRING_EQUAL(raw,
                           "{\"version\":2,\"entity_path\":\"topics/t2\"}");
    bk_zk_close(zk);
}

static void test_brackets(void)
{
    bk_zk *zk = use_chroot("brackets");
    make_topic(zk, "b");
    run r;
    CTL(&r, "configs", "alter", "--topic", "b", "--add-config",
        "retention.ms=5,cleanup.policy=[delete, delete],segment.ms=7");
    EXPECT_STATUS(&r, 0);
    expect_raw(zk, "/config/topics/b",
               "{\"version\":1,\"config\":{\"cleanup.policy\":"
               "\"delete,delete\",\"retention.ms\":\"5\","
               "\"segment.ms\":\"7\"}}");
    /* the list reaches the key's own validation as one value */
    CTL(&r, "configs", "alter", "--topic", "b", "--add-config",
        "cleanup.policy=[delete,compact]");
    EXPECT_STATUS(&r, 1);
    EXPECT_OUT(&r, "cleanup.policy=compact is not supported");
    CTL(&r, "configs", "alter", "--topic", "b", "--add-config",
        "retention.ms=[1,2]");
    EXPECT_STATUS(&r, 1);
    EXPECT_OUT(&r, "Invalid value 1,2 for configuration retention.ms");
    /* malformed syntax: usage errors */
    static const char *const bad[] = {
        "retention.ms=[1",
        "retention.ms=1]",
        "retention.ms=[[1]]",
        "retention.ms",
        "=5",
        "retention.ms=1,,segment.ms=2",
        "retention.ms=1=2",
        "retention.ms=1,",
        "retention.ms=a[1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CTL(&r, "configs", "alter", "--topic", "b", "--add-config", bad[i]);
        if (r.status != 2)
            printf("\n'%s': ", bad[i]);
        EXPECT_STATUS(&r, 2);
    }
    CTL(&r, "configs", "alter", "--topic", "b", "--delete-config",
        "retention.ms,,segment.ms");
    EXPECT_STATUS(&r, 2);
    /* none of that was written */
    CU_ASSERT_EQUAL(changes(zk, NULL), 1);
    bk_zk_close(zk);
}

/* Runs a refused alteration: exit status `want`, the output names every
 * string of `names`, the znode's version and the notifications stay. */
static void refused(bk_zk *zk, const char *path, int want,
                    const char *const *names, const char *const *args)
{
    int32_t v0, v1;
    char raw0[1024], raw1[1024];
    get_raw(zk, path, raw0, sizeof raw0, &v0);
    size_t n0 = changes(zk, NULL);
    run r;
    ctl(&r, args);
    EXPECT_STATUS(&r, want);
    for (size_t i = 0; names[i]; i++)
        EXPECT_OUT(&r, names[i]);
    get_raw(zk, path, raw1, sizeof raw1, &v1);
    CU_ASSERT_EQUAL(v0, v1);
    CU_ASSERT_STRING_EQUAL(raw0, raw1);
    CU_ASSERT_EQUAL(changes(zk, NULL), n0);
}

#define REFUSED(zk, path, want, names, ...)                                    \
    refused((zk), (path), (want), (const char *const[]){names, NULL},          \
            (const char *const[]){__VA_ARGS__, NULL})
#define NAMES2(a, b) a, b

static void test_refusals_write_nothing(void)
{
    bk_zk *zk = use_chroot("refusals");
    make_topic(zk, "v");
    run r;
    CTL(&r, "configs", "alter", "--topic", "v", "--add-config",
        "retention.ms=1000");
    EXPECT_STATUS(&r, 0);
    const char *tp = "/config/topics/v";
    /* unknown key, bad values (alone and beside a good key) */
    REFUSED(zk, tp, 1, "Unknown topic config name: retention.msx", "configs",
            "alter", "--topic", "v", "--add-config", "retention.msx=1");
    REFUSED(zk, tp, 1, NAMES2("retention.ms", "abc"), "configs", "alter",
            "--topic", "v", "--add-config", "retention.ms=abc");
    REFUSED(zk, tp, 1, NAMES2("segment.bytes", "10"), "configs", "alter",
            "--topic", "v", "--add-config", "flush.ms=5,segment.bytes=10");
    REFUSED(zk, tp, 1, NAMES2("segment.ms", "0"), "configs", "alter", "--topic",
            "v", "--add-config", "segment.ms=0", "--delete-config",
            "retention.ms");
    REFUSED(zk, tp, 1, NAMES2("unclean.leader.election.enable", "maybe"),
            "configs", "alter", "--topic", "v", "--add-config",
            "unclean.leader.election.enable=maybe");
    REFUSED(zk, tp, 1, "min.insync.replicas", "configs", "alter", "--topic",
            "v", "--add-config", "min.insync.replicas=");
    /* the same key added and deleted, or twice */
    REFUSED(zk, tp, 2, "retention.ms", "configs", "alter", "--topic", "v",
            "--add-config", "retention.ms=5", "--delete-config",
            "retention.ms");
    REFUSED(zk, tp, 2, "flush.ms", "configs", "alter", "--topic", "v",
            "--add-config", "flush.ms=5,flush.ms=6");
    /* deleting what is not set (with what is), or an unknown key */
    REFUSED(zk, tp, 1, "Invalid config(s): flush.ms,segment.ms", "configs",
            "alter", "--topic", "v", "--delete-config",
            "flush.ms,retention.ms,segment.ms");
    REFUSED(zk, tp, 1, "Invalid config(s): nope.key", "configs", "alter",
            "--topic", "v", "--delete-config", "nope.key");
    /* the topic must exist; its config is not created */
    REFUSED(zk, "/config/topics/nosuch", 1, "Topic 'nosuch' does not exist",
            "configs", "alter", "--topic", "nosuch", "--add-config",
            "retention.ms=1");
    REFUSED(zk, "/config/topics/nosuch", 1, "Topic 'nosuch' does not exist",
            "configs", "describe", "--topic", "nosuch");
    REFUSED(zk, tp, 1, "illegal", "configs", "alter", "--topic", "a b",
            "--add-config", "retention.ms=1");
    /* broker entities take only the dynamic broker keys */
    const char *dp = "/config/brokers/<default>";
    REFUSED(zk, dp, 1, NAMES2("retention.ms", "log.retention.ms"), "configs",
            "alter", "--entity-type", "brokers", "--entity-default",
            "--add-config", "retention.ms=1");
    REFUSED(zk, dp, 1, NAMES2("log.retention.ms", "abc"), "configs", "alter",
            "--entity-type", "brokers", "--entity-default", "--add-config",
            "log.retention.ms=abc");
    REFUSED(zk, dp, 1, NAMES2("log.segment.bytes", "10"), "configs", "alter",
            "--entity-type", "brokers", "--entity-default", "--add-config",
            "log.retention.ms=5,log.segment.bytes=10");
    REFUSED(zk, dp, 1, "num.io.threads", "configs", "alter", "--entity-type",
            "brokers", "--entity-default", "--add-config", "num.io.threads=8");
    REFUSED(zk, dp, 1, "Invalid config(s): message.max.bytes", "configs",
            "alter", "--entity-type", "brokers", "--entity-default",
            "--delete-config", "message.max.bytes");
    REFUSED(zk, "/config/brokers/2", 1,
            NAMES2("min.insync.replicas", "Value must be at least 1"),
            "configs", "alter", "--entity-type", "brokers", "--entity-name",
            "2", "--add-config", "min.insync.replicas=0");
    /* a config znode that is not a config (written by hand): refused,
     * left as it is for the operator to look at */
    make_topic(zk, "junk");
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/config/topics/junk", "{\"config\":7}",
                                 12, 0, NULL, 0),
                    0);
    REFUSED(zk, "/config/topics/junk", 1, "does not hold a valid config",
            "configs", "alter", "--topic", "junk", "--add-config",
            "retention.ms=1");
    REFUSED(zk, "/config/topics/junk", 1, "does not hold a valid config",
            "configs", "describe", "--topic", "junk");
    /* usage errors */
    REFUSED(zk, tp, 2, "--topic or --entity-type", "configs", "alter",
            "--add-config", "retention.ms=1");
    REFUSED(zk, tp, 2, "--add-config or --delete-config", "configs", "alter",
            "--topic", "v");
    REFUSED(zk, tp, 2, "--entity-default", "configs", "alter", "--entity-type",
            "topics", "--entity-default", "--add-config", "retention.ms=1");
    REFUSED(zk, tp, 2, "brokers", "configs", "alter", "--topic", "v",
            "--entity-type", "brokers", "--add-config", "retention.ms=1");
    REFUSED(zk, tp, 2, "one entity", "configs", "alter", "--entity-type",
            "topics", "--add-config", "retention.ms=1");
    REFUSED(zk, dp, 2, "abc", "configs", "alter", "--entity-type", "brokers",
            "--entity-name", "abc", "--add-config", "log.retention.ms=1");
    REFUSED(zk, tp, 2, "users", "configs", "alter", "--entity-type", "users",
            "--entity-name", "u", "--add-config", "retention.ms=1");
    REFUSED(zk, tp, 2, "--add-config", "configs", "describe", "--topic", "v",
            "--add-config", "retention.ms=1");
    /* a key Brook does not know, set by a Kafka tool (a replication
     * throttle), can still be deleted, as with kafka-configs.sh */
    make_topic(zk, "thr");
    const char *thr = "{\"version\":1,\"config\":{\"leader.replication."
                      "throttled.replicas\":\"0:1\",\"retention.ms\":\"9\"}}";
    CU_ASSERT_EQUAL(
        bk_zk_create(zk, "/config/topics/thr", thr, strlen(thr), 0, NULL, 0),
        0);
    CTL(&r, "configs", "alter", "--topic", "thr", "--delete-config",
        "leader.replication.throttled.replicas");
    EXPECT_STATUS(&r, 0);
    expect_raw(zk, "/config/topics/thr",
               "{\"version\":1,\"config\":{\"retention.ms\":\"9\"}}");
    /* the same refusals from the library call itself */
    bk_zkc_kv bad = {"retention.ms", "-5"};
    char err[512];
    CU_ASSERT_EQUAL(bk_zkd_config_alter(zk, "topics", "v", &bad, 1, NULL, 0,
                                        err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "retention.ms"));
    const char *del[] = {"segment.ms"};
    CU_ASSERT_EQUAL(bk_zkd_config_alter(zk, "topics", "v", NULL, 0, del, 1, err,
                                        sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_STRING_EQUAL(err, "Invalid config(s): segment.ms");
    bk_zkc_kv good = {"retention.ms", "5"};
    CU_ASSERT_EQUAL(bk_zkd_config_alter(zk, "topics", "gone", &good, 1, NULL, 0,
                                        err, sizeof err),
                    -BK_ENOENT);
    expect_raw(zk, tp,
               "{\"version\":1,\"config\":{\"retention.ms\":\"1000\"}}");
    /* the first alter and the throttle's deletion; no refusal wrote one */
    CU_ASSERT_EQUAL(changes(zk, NULL), 2);
    bk_zk_close(zk);
}

static void test_broker_entities(void)
{
    /* a fresh chroot: /config/brokers and /config/changes do not exist
     * (no broker ever ran); alter creates them */
    bk_zk *zk = use_chroot("brokers");
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/config/changes", NULL, NULL, NULL),
                    -BK_ENOENT);
    run r;
    char raw[512];
    CTL(&r, "configs", "describe", "--entity-type", "brokers",
        "--entity-default");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "Default configs for brokers in the cluster are:\n");
    CTL(&r, "configs", "alter", "--entity-type", "brokers", "--entity-default",
        "--add-config", "log.retention.ms=3600000,min.insync.replicas=2");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "Completed updating default config for brokers in the "
                      "cluster.\n");
    expect_raw(zk, "/config/brokers/<default>",
               "{\"version\":1,\"config\":{\"log.retention.ms\":\"3600000\","
               "\"min.insync.replicas\":\"2\"}}");
    newest_change(zk, raw, sizeof raw);
    CU_ASSERT_STRING_EQUAL(
        raw, "{\"version\":2,\"entity_path\":\"brokers/<default>\"}");
    /* a broker's own overrides */
    CTL(&r, "configs", "alter", "--entity-type", "brokers", "--entity-name",
        "2", "--add-config", "log.segment.bytes=2097152");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "Completed updating config for broker 2.\n");
    expect_raw(zk, "/config/brokers/2",
               "{\"version\":1,\"config\":{\"log.segment.bytes\":"
               "\"2097152\"}}");
    newest_change(zk, raw, sizeof raw);
    CU_ASSERT_STRING_EQUAL(raw,
                           "{\"version\":2,\"entity_path\":\"brokers/2\"}");
    CU_ASSERT_EQUAL(changes(zk, NULL), 2);
    /* describe each, and all */
    CTL(&r, "configs", "describe", "--entity-type", "brokers",
        "--entity-default");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "Default configs for brokers in the cluster are:\n"
                      "  log.retention.ms=3600000\n"
                      "  min.insync.replicas=2\n");
    CTL(&r, "configs", "describe", "--entity-type", "brokers", "--entity-name",
        "2");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "Dynamic configs for broker 2 are:\n"
                      "  log.segment.bytes=2097152\n");
    CTL(&r, "configs", "describe", "--entity-type", "brokers", "--entity-name",
        "3");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "Dynamic configs for broker 3 are:\n");
    CTL(&r, "configs", "describe", "--entity-type", "brokers");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "Default configs for brokers in the cluster are:\n"
                      "  log.retention.ms=3600000\n"
                      "  min.insync.replicas=2\n"
                      "Dynamic configs for broker 2 are:\n"
                      "  log.segment.bytes=2097152\n");
    /* --all for the default and for broker 2 */
    CTL(&r, "configs", "describe", "--entity-type", "brokers",
        "--entity-default", "--all");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "All default configs for brokers in the cluster are:\n"
                      "  log.flush.interval.messages (broker default)\n"
                      "  log.flush.interval.ms (broker default)\n"
                      "  log.retention.bytes (broker default)\n"
                      "  log.retention.ms=3600000 (cluster default)\n"
                      "  log.roll.ms (broker default)\n"
                      "  log.segment.bytes (broker default)\n"
                      "  message.max.bytes (broker default)\n"
                      "  min.insync.replicas=2 (cluster default)\n"
                      "  unclean.leader.election.enable (broker default)\n");
    CTL(&r, "configs", "describe", "--entity-type", "brokers", "--entity-name",
        "2", "--all");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT(&r, "  log.retention.ms=3600000 (cluster default)\n");
    EXPECT_OUT(&r, "  log.segment.bytes=2097152 (broker 2)\n");
    EXPECT_OUT(&r, "  log.roll.ms (broker default)\n");
    /* delete restores the empty default */
    CTL(&r, "configs", "alter", "--entity-type", "brokers", "--entity-default",
        "--delete-config", "log.retention.ms,min.insync.replicas");
    EXPECT_STATUS(&r, 0);
    expect_raw(zk, "/config/brokers/<default>",
               "{\"version\":1,\"config\":{}}");
    CU_ASSERT_EQUAL(changes(zk, NULL), 3);
    /* the read function the brokers use */
    bk_zkc_config c;
    int32_t ver = -7;
    CU_ASSERT_EQUAL(bk_zkd_entity_config_read(zk, "brokers", "2", &c, &ver), 0);
    CU_ASSERT_EQUAL(c.n, 1);
    CU_ASSERT_STRING_EQUAL(bk_zkc_config_get(&c, "log.segment.bytes"),
                           "2097152");
    CU_ASSERT_EQUAL(ver, 0);
    bk_zkc_config_free(&c);
    CU_ASSERT_EQUAL(bk_zkd_entity_config_read(zk, "brokers", "9", &c, &ver), 0);
    CU_ASSERT_EQUAL(c.n, 0);
    CU_ASSERT_EQUAL(ver, -1);
    bk_zk_close(zk);
}

static void test_describe(void)
{
    bk_zk *zk = use_chroot("describe");
    make_topic(zk, "a");
    make_topic(zk, "b");
    make_topic(zk, "c");
    run r;
    CTL(&r, "configs", "alter", "--topic", "c", "--add-config",
        "segment.ms=100,cleanup.policy=delete,retention.bytes=-1");
    EXPECT_STATUS(&r, 0);
    CTL(&r, "configs", "alter", "--topic", "a", "--add-config",
        "flush.messages=10");
    EXPECT_STATUS(&r, 0);
    CTL(&r, "configs", "describe", "--topic", "c");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "Dynamic configs for topic c are:\n"
                      "  cleanup.policy=delete\n"
                      "  retention.bytes=-1\n"
                      "  segment.ms=100\n");
    CTL(&r, "configs", "describe", "--entity-type", "topics", "--entity-name",
        "b");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "Dynamic configs for topic b are:\n");
    /* every topic that has overrides (b has none) */
    CTL(&r, "configs", "describe", "--entity-type", "topics");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "Dynamic configs for topic a are:\n"
                      "  flush.messages=10\n"
                      "Dynamic configs for topic c are:\n"
                      "  cleanup.policy=delete\n"
                      "  retention.bytes=-1\n"
                      "  segment.ms=100\n");
    CTL(&r, "configs", "describe", "--entity-type", "topics", "--all");
    EXPECT_STATUS(&r, 2);
    bk_zk_close(zk);
}

static void test_describe_all_sources(void)
{
    bk_zk *zk = use_chroot("all");
    make_topic(zk, "t");
    run r;
    CTL(&r, "configs", "alter", "--topic", "t", "--add-config",
        "retention.ms=3600000,cleanup.policy=delete");
    EXPECT_STATUS(&r, 0);
    CTL(&r, "configs", "alter", "--entity-type", "brokers", "--entity-default",
        "--add-config", "log.segment.bytes=1048576,log.retention.ms=1");
    EXPECT_STATUS(&r, 0);
    CTL(&r, "configs", "alter", "--entity-type", "brokers", "--entity-name",
        "2", "--add-config", "log.segment.bytes=2097152");
    EXPECT_STATUS(&r, 0);
    CTL(&r, "configs", "alter", "--entity-type", "brokers", "--entity-name",
        "3", "--add-config", "log.flush.interval.ms=5,log.segment.bytes=4096");
    EXPECT_STATUS(&r, 0);
    CTL(&r, "configs", "describe", "--topic", "t", "--all");
    EXPECT_STATUS(&r, 0);
    EXPECT_OUT_EQ(&r, "All configs for topic t are:\n"
                      "  cleanup.policy=delete (topic)\n"
                      "  flush.messages (broker default)\n"
                      "  flush.ms (broker default; broker 3: 5)\n"
                      "  max.message.bytes (broker default)\n"
                      "  min.insync.replicas (broker default)\n"
                      "  retention.bytes (broker default)\n"
                      "  retention.ms=3600000 (topic)\n"
                      "  segment.bytes=1048576 (cluster default; broker 2: "
                      "2097152, broker 3: 4096)\n"
                      "  segment.ms (broker default)\n"
                      "  unclean.leader.election.enable (broker default)\n");
    bk_zk_close(zk);
}

/* Two brookctl processes altering different keys of one topic at once,
 * in a loop: every alteration of both survives. */
static void test_concurrent_brookctl(void)
{
    bk_zk *zk = use_chroot("concurrent");
    make_topic(zk, "c");
    const int rounds = 8;
    size_t n0 = changes(zk, NULL);
    pid_t pids[2];
    fflush(stdout); /* the children _exit: no buffered output twice */
    const char *keys[2] = {"retention.ms", "segment.ms"};
    for (int k = 0; k < 2; k++) {
        pids[k] = fork();
        CU_ASSERT_FATAL(pids[k] >= 0);
        if (pids[k] == 0) {
            int failures = 0;
            for (int i = 1; i <= rounds; i++) {
                char kv[64], out[4096];
                snprintf(kv, sizeof kv, "%s=%d", keys[k], 1000 + i);
                int st = bk_h_brookctl(
                    cl, out, sizeof out,
                    (const char *const[]){"configs", "alter", "--topic", "c",
                                          "--add-config", kv, NULL});
                if (st != 0) {
                    printf("\n%s: exit %d: %s\n", kv, st, out);
                    failures++;
                }
            }
            fflush(stdout);
            _exit(failures);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st;
        CU_ASSERT_EQUAL(waitpid(pids[k], &st, 0), pids[k]);
        CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    expect_raw(zk, "/config/topics/c",
               "{\"version\":1,\"config\":{\"retention.ms\":\"1008\","
               "\"segment.ms\":\"1008\"}}");
    CU_ASSERT_EQUAL(changes(zk, NULL), n0 + 2 * (size_t)rounds);
    bk_zk_close(zk);
}

/* The conditional write under real contention: threads, each with its
 * own session, alter their own key of one entity as fast as they can.
 * Before each write a thread reads its key back: only it writes that
 * key, so it must find its previous value.  An unconditional write
 * (setData at any version) from a stale read puts older values back;
 * with it this test fails in most runs (checked by hand). */
#define HAMMER_THREADS 4
#define HAMMER_ROUNDS  25

typedef struct hammer {
    const char *key;
    int failures;
    int lost; /* own values found overwritten by an older one */
    char err[512];
} hammer;

static void *hammer_main(void *arg)
{
    hammer *h = arg;
    bk_zk_opts o = {.connect = cl->zk_connect,
                    .session_timeout_ms = 6000,
                    .connect_timeout_ms = 10000};
    bk_zk *zk = NULL;
    if (bk_zk_open(&o, &zk, h->err, sizeof h->err)) {
        h->failures = HAMMER_ROUNDS;
        return NULL;
    }
    for (int i = 1; i <= HAMMER_ROUNDS; i++) {
        bk_zkc_config c;
        if (i > 1 && bk_zkd_entity_config_read(zk, "brokers", "<default>", &c,
                                               NULL) == 0) {
            const char *now = bk_zkc_config_get(&c, h->key);
            if (!now || atoi(now) != 2000 + i - 1)
                h->lost++;
            bk_zkc_config_free(&c);
        }
        char v[32];
        snprintf(v, sizeof v, "%d", 2000 + i); /* >= every minimum */
        bk_zkc_kv kv = {(char *)h->key, v};
        if (bk_zkd_config_alter(zk, "brokers", "<default>", &kv, 1, NULL, 0,
                                h->err, sizeof h->err) != 0)
            h->failures++;
    }
    bk_zk_close(zk);
    return NULL;
}

static void test_concurrent_threads(void)
{
    bk_zk *zk = use_chroot("hammer");
    static const char *const keys[HAMMER_THREADS] = {
        "log.retention.ms", "log.segment.bytes", "log.roll.ms",
        "log.flush.interval.ms"};
    hammer h[HAMMER_THREADS];
    pthread_t th[HAMMER_THREADS];
    int64_t t0 = bk_clock_mono_ms();
    for (int i = 0; i < HAMMER_THREADS; i++) {
        memset(&h[i], 0, sizeof h[i]);
        h[i].key = keys[i];
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, hammer_main, &h[i]),
                              0);
    }
    for (int i = 0; i < HAMMER_THREADS; i++) {
        pthread_join(th[i], NULL);
        if (h[i].failures)
            printf("\n%s: %d failures, last: %s\n", h[i].key, h[i].failures,
                   h[i].err);
        CU_ASSERT_EQUAL(h[i].failures, 0);
        CU_ASSERT_EQUAL(h[i].lost, 0);
    }
    int64_t ms = bk_clock_mono_ms() - t0;
    bk_zkc_config c;
    int32_t ver;
    CU_ASSERT_EQUAL_FATAL(
        bk_zkd_entity_config_read(zk, "brokers", "<default>", &c, &ver), 0);
    CU_ASSERT_EQUAL(c.n, HAMMER_THREADS);
    for (int i = 0; i < HAMMER_THREADS; i++) {
        const char *v = bk_zkc_config_get(&c, keys[i]);
        CU_ASSERT_PTR_NOT_NULL(v);
        if (v)
            CU_ASSERT_EQUAL(atoi(v), 2000 + HAMMER_ROUNDS);
    }
    /* one write and one notification per alteration, none lost */
    CU_ASSERT_EQUAL(ver, HAMMER_THREADS * HAMMER_ROUNDS - 1);
    CU_ASSERT_EQUAL(changes(zk, NULL), HAMMER_THREADS * HAMMER_ROUNDS);
    printf("\n  %d alterations by %d writers in %lld ms ",
           HAMMER_THREADS * HAMMER_ROUNDS, HAMMER_THREADS, (long long)ms);
    bk_zkc_config_free(&c);
    bk_zk_close(zk);
}

/* ctime of /config/changes/<name>. */
static int64_t ctime_of(bk_zk *zk, const char *name)
{
    char p[BK_ZKC_PATH_MAX];
    snprintf(p, sizeof p, BK_ZKC_CONFIG_CHANGES "/%s", name);
    bk_zk_stat st;
    CU_ASSERT_EQUAL(bk_zk_exists(zk, p, &st, NULL, NULL), 0);
    return st.ctime;
}

static void test_purge(void)
{
    bk_zk *zk = use_chroot("purge");
    /* nothing there yet */
    CU_ASSERT_EQUAL(bk_zkd_config_changes_purge(zk, bk_clock_wall_ms(), 0, 0),
                    0);
    make_topic(zk, "p");
    char err[512];
    bk_zkc_kv kv = {"retention.ms", "1"};
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(bk_zkd_config_alter(zk, "topics", "p", &kv, 1, NULL, 0,
                                            err, sizeof err),
                        0);
    bk_h_sleep_ms(60);
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(bk_zkd_config_alter(zk, "topics", "p", &kv, 1, NULL, 0,
                                            err, sizeof err),
                        0);
    /* something else under /config/changes is not ours to delete */
    CU_ASSERT_EQUAL(
        bk_zk_create(zk, "/config/changes/other", NULL, 0, 0, NULL, 0), 0);
    bk_zk_strings s;
    CU_ASSERT_EQUAL_FATAL(changes(zk, &s), 6);
    /* sorted: config_change_0000000000..4, then "other" */
    int64_t old_min = ctime_of(zk, s.v[0]), old_max = ctime_of(zk, s.v[2]);
    int64_t young_min = ctime_of(zk, s.v[3]), newest = ctime_of(zk, s.v[4]);
    CU_ASSERT_TRUE_FATAL(young_min >= old_max + 2);
    char young[3][64];
    for (int i = 0; i < 3; i++)
        snprintf(young[i], sizeof young[i], "%s", s.v[3 + i]);
    bk_zk_strings_free(&s);
    /* the real clock with Kafka's 15 minutes: nothing is that old */
    CU_ASSERT_EQUAL(
        bk_zkd_config_changes_purge(zk, bk_clock_wall_ms(), 15 * 60 * 1000, 0),
        0);
    /* a purger whose clock runs 15 minutes or an hour ahead of
     * ZooKeeper's: ages count from the newest notification's ctime, so
     * nothing goes */
    CU_ASSERT_EQUAL(bk_zkd_config_changes_purge(
                        zk, bk_clock_wall_ms() + 15 * 60 * 1000 + 1, 900000, 0),
                    0);
    CU_ASSERT_EQUAL(
        bk_zkd_config_changes_purge(zk, newest + 3600 * 1000, 900000, 0), 0);
    /* a clock an hour behind: even a max age of 0 deletes nothing */
    CU_ASSERT_EQUAL(
        bk_zkd_config_changes_purge(zk, old_min - 3600 * 1000, 0, 0), 0);
    CU_ASSERT_EQUAL(changes(zk, NULL), 6);
    /* a max age ending inside the gap, counted from the newest: the first
     * three are older than that, the other two are not */
    int64_t mid = old_max + (young_min - old_max) / 2;
    CU_ASSERT_EQUAL(
        bk_zkd_config_changes_purge(zk, newest + 3600 * 1000, newest - mid, 0),
        3);
    CU_ASSERT_EQUAL_FATAL(changes(zk, &s), 3);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_STRING_EQUAL(s.v[i], young[i]);
    bk_zk_strings_free(&s);
    /* again: nothing more */
    CU_ASSERT_EQUAL(
        bk_zkd_config_changes_purge(zk, newest + 3600 * 1000, newest - mid, 0),
        0);
    /* max age 0: every notification older than the newest; the newest
     * and "other" stay */
    int older = young_min < newest ? 1 : 0;
    CU_ASSERT_EQUAL(bk_zkd_config_changes_purge(zk, newest + 3600 * 1000, 0, 0),
                    older);
    CU_ASSERT_EQUAL_FATAL(changes(zk, &s), 3 - (size_t)older);
    CU_ASSERT_STRING_EQUAL(s.v[s.n - 2], young[1]);
    CU_ASSERT_STRING_EQUAL(s.v[s.n - 1], "other");
    bk_zk_strings_free(&s);
    bk_zk_close(zk);
}

/* More notifications than one pipelined round of the purge, old and
 * young: the old ones go in order, the young ones stay. */
static void test_purge_many(void)
{
    bk_zk *zk = use_chroot("purge-many");
    CU_ASSERT_EQUAL_FATAL(bk_zk_mkdirs(zk, BK_ZKC_CONFIG_CHANGES), 0);
    enum { OLD = 700, YOUNG = 5 };
    bk_buf note = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_config_change_encode("topics/x", &note), 0);
    char last_old[BK_ZKC_PATH_MAX] = "", first_young[BK_ZKC_PATH_MAX] = "";
    for (int i = 0; i < OLD + YOUNG; i++) {
        if (i == OLD)
            bk_h_sleep_ms(60);
        char made[BK_ZKC_PATH_MAX];
        CU_ASSERT_EQUAL_FATAL(bk_zk_create(zk, BK_ZKC_CONFIG_CHANGE_SEQ,
                                           note.data, note.len,
                                           BK_ZK_SEQUENTIAL, made, sizeof made),
                              0);
        if (i == OLD - 1)
            snprintf(last_old, sizeof last_old, "%s", made);
        if (i == OLD)
            snprintf(first_young, sizeof first_young, "%s", made);
    }
    bk_buf_free(&note);
    bk_zk_stat a, b, c;
    CU_ASSERT_EQUAL_FATAL(bk_zk_exists(zk, last_old, &a, NULL, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(bk_zk_exists(zk, first_young, &b, NULL, NULL), 0);
    bk_zk_strings s;
    CU_ASSERT_EQUAL_FATAL(changes(zk, &s), OLD + YOUNG);
    char p[BK_ZKC_PATH_MAX];
    snprintf(p, sizeof p, BK_ZKC_CONFIG_CHANGES "/%s", s.v[s.n - 1]);
    CU_ASSERT_EQUAL_FATAL(bk_zk_exists(zk, p, &c, NULL, NULL), 0);
    bk_zk_strings_free(&s);
    CU_ASSERT_TRUE_FATAL(b.ctime >= a.ctime + 2);
    int64_t mid = a.ctime + (b.ctime - a.ctime) / 2;
    /* at most 300 per call: the 300 oldest */
    CU_ASSERT_EQUAL(
        bk_zkd_config_changes_purge(zk, bk_clock_wall_ms(), c.ctime - mid, 300),
        300);
    CU_ASSERT_EQUAL_FATAL(changes(zk, &s), OLD + YOUNG - 300);
    CU_ASSERT_EQUAL(bk_zkc_config_change_seq(s.v[0]), 300);
    bk_zk_strings_free(&s);
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(
        bk_zkd_config_changes_purge(zk, bk_clock_wall_ms(), c.ctime - mid, 0),
        OLD - 300);
    printf("\n  purged %d of %d notifications in %lld ms ", OLD - 300,
           OLD + YOUNG - 300, (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_EQUAL_FATAL(changes(zk, &s), YOUNG);
    CU_ASSERT_STRING_EQUAL(s.v[0],
                           first_young + strlen(BK_ZKC_CONFIG_CHANGES) + 1);
    bk_zk_strings_free(&s);
    bk_zk_close(zk);
}

static void test_unreachable(void)
{
    snprintf(cl->zk_connect, sizeof cl->zk_connect, "127.0.0.1:%d",
             bk_h_free_port());
    run r;
    CTL(&r, "--timeout-ms", "500", "configs", "alter", "--topic", "t",
        "--add-config", "retention.ms=1");
    EXPECT_STATUS(&r, 3);
    CTL(&r, "--timeout-ms", "500", "configs", "describe", "--topic", "t");
    EXPECT_STATUS(&r, 3);
    /* a refusal needs no ZooKeeper: it comes first */
    CTL(&r, "--timeout-ms", "500", "configs", "alter", "--topic", "t",
        "--add-config", "retention.ms=x");
    EXPECT_STATUS(&r, 1);
    EXPECT_OUT(&r, "retention.ms");
}

static CU_TestInfo tests[] = {
    {"help texts", test_help},
    {"alter: Kafka's JSON, one notification each, add+delete restores",
     test_alter_exact_json},
    {"alter: bracketed values and malformed syntax", test_brackets},
    {"alter: every refusal names the key and writes nothing",
     test_refusals_write_nothing},
    {"broker entities: default and per-broker, describe", test_broker_entities},
    {"describe: one topic, every topic with overrides", test_describe},
    {"describe --all: value and source of every dynamic key",
     test_describe_all_sources},
    {"two brookctl processes alter different keys at once",
     test_concurrent_brookctl},
    {"conditional write: 4 writers, none lost", test_concurrent_threads},
    {"purge deletes only old notifications, whatever the caller's clock",
     test_purge},
    {"purge of 700 old notifications beside young ones, 300 at most per call",
     test_purge_many},
    {"ZooKeeper unreachable: exit 3", test_unreachable},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("brookctl configs", tests, suite_init, suite_clean);
}
