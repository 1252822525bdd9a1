/*
 * test_brookctl.c -- the built brookctl program against a real ZooKeeper:
 * output and exit codes of every command, the errors users meet (bad
 * names, bad configs, too few brokers, duplicate topics, unreachable
 * ZooKeeper), and the exact znodes it writes, read back with the
 * ZooKeeper client and parsed.
 *
 * Brokers.  No brookd runs here.  A test that needs live brokers
 * registers them the way a broker does: its own ZooKeeper session
 * creates the ephemeral /brokers/ids/<id> znode with a version 4
 * registration (coordinator/zkcodec).  That is a real registration in a
 * real ZooKeeper, not a mock: brookctl cannot tell it from brookd's, and
 * it vanishes when the test closes the session, as a dead broker's does.
 *
 * One ZooKeeper serves the whole suite; every test works under its own
 * chroot (which brookctl creates), so tests do not see each other.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "tests/harness/harness.h"
#include "tests/unit/cu_main.h"

static bk_h_zk *zkh;

static int suite_init(void)
{
    zkh = bk_h_zk_start("zk-brookctl", 1);
    return zkh ? 0 : -1;
}

static int suite_clean(void)
{
    bk_h_zk_stop(zkh);
    zkh = NULL;
    return 0;
}

/* ------------------------------ running it ------------------------------ */

typedef struct run {
    int status; /* exit code; -1 when killed or not run */
    int64_t ms; /* how long it ran */
    char out[16384];
    char err[4096];
} run;

/* Runs brookctl with args (NULL-terminated); when env_zk is not NULL it
 * is put in BROOK_ZOOKEEPER, else BROOK_ZOOKEEPER is unset.  Kills it
 * after 20 s. */
static void brookctl_env(run *r, const char *env_zk, const char *const *args)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    char *argv[64];
    int n = 0;
    static char bin[4096];
    snprintf(bin, sizeof bin, "%s", bk_h_bin("coordinator/brookctl"));
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
        return;
    int64_t t0 = bk_clock_mono_ms();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        if (env_zk)
            setenv("BROOK_ZOOKEEPER", env_zk, 1);
        else
            unsetenv("BROOK_ZOOKEEPER");
        unsetenv("BROOK_LOG_LEVEL");
        execv(bin, argv);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t no = 0, ne = 0;
    bool open_o = true, open_e = true;
    while ((open_o || open_e) && bk_clock_mono_ms() - t0 < 20000) {
        struct pollfd pf[2] = {{open_o ? po[0] : -1, POLLIN, 0},
                               {open_e ? pe[0] : -1, POLLIN, 0}};
        if (poll(pf, 2, 200) <= 0)
            continue;
        if (pf[0].revents) {
            ssize_t k = read(po[0], r->out + no, sizeof r->out - 1 - no);
            if (k <= 0)
                open_o = false;
            else
                no += (size_t)k;
        }
        if (pf[1].revents) {
            ssize_t k = read(pe[0], r->err + ne, sizeof r->err - 1 - ne);
            if (k <= 0)
                open_e = false;
            else
                ne += (size_t)k;
        }
    }
    close(po[0]);
    close(pe[0]);
    if (open_o || open_e)
        kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    r->ms = bk_clock_mono_ms() - t0;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* brookctl --zookeeper <zk>/<chroot> args... */
static void ctl(run *r, const char *chroot, const char *const *args)
{
    char connect[400];
    snprintf(connect, sizeof connect, "%s%s", zkh->connect, chroot);
    const char *full[64] = {"--zookeeper", connect};
    int n = 2;
    for (int i = 0; args[i] && n < 63; i++)
        full[n++] = args[i];
    full[n] = NULL;
    brookctl_env(r, NULL, full);
}

#define CTL(r, chroot, ...)                                                    \
    ctl((r), (chroot), (const char *const[]){__VA_ARGS__, NULL})

/* Prints what brookctl said when an expectation fails. */
#define EXPECT_STATUS(r, want)                                                 \
    do {                                                                       \
        if ((r)->status != (want))                                             \
            printf("\nbrookctl exit %d (want %d)\nstdout: %s\nstderr: %s\n",   \
                   (r)->status, (want), (r)->out, (r)->err);                   \
        CU_ASSERT_EQUAL((r)->status, (want));                                  \
    } while (0)

/* --------------------------- ZooKeeper access --------------------------- */

static bk_zk *zk_at(const char *chroot)
{
    char connect[400];
    snprintf(connect, sizeof connect, "%s%s", zkh->connect, chroot);
    bk_zk_opts o = {.connect = connect,
                    .session_timeout_ms = 6000,
                    .connect_timeout_ms = 10000};
    bk_zk *zk = NULL;
    char err[300];
    if (bk_zk_open(&o, &zk, err, sizeof err))
        printf("\n%s\n", err);
    return zk;
}

/* Registers broker `id` as brookd does: an ephemeral znode with a
 * version 4 registration, owned by zk's session. */
static void register_broker(bk_zk *zk, int id, const char *rack)
{
    bk_zkc_broker b = {
        .id = id, .jmx_port = -1, .timestamp = bk_clock_wall_ms()};
    strcpy(b.endpoints[0].listener, "PLAINTEXT");
    strcpy(b.endpoints[0].protocol, "PLAINTEXT");
    strcpy(b.endpoints[0].host, "127.0.0.1");
    b.endpoints[0].port = 9092 + id;
    b.nendpoints = 1;
    if (rack) {
        b.has_rack = true;
        snprintf(b.rack, sizeof b.rack, "%s", rack);
    }
    bk_buf buf = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_broker_encode(&b, &buf), 0);
    char path[BK_ZKC_PATH_MAX];
    bk_zkc_path_broker(path, id);
    CU_ASSERT_EQUAL_FATAL(bk_zk_create(zk, path, buf.data, buf.len,
                                       BK_ZK_EPHEMERAL | BK_ZK_PARENTS, NULL,
                                       0),
                          0);
    bk_buf_free(&buf);
}

/* A session under chroot with brokers 1..n registered. */
static bk_zk *brokers_at(const char *chroot, int n)
{
    bk_zk *zk = zk_at(chroot);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    for (int i = 1; i <= n; i++)
        register_broker(zk, i, NULL);
    return zk;
}

/* Reads and parses a znode's JSON; NULL when absent. */
static bk_json *read_json(bk_zk *zk, const char *path, char *raw, size_t rawlen)
{
    bk_buf b = BK_BUF_INIT;
    if (bk_zk_get(zk, path, &b, NULL, NULL, NULL) != 0) {
        bk_buf_free(&b);
        return NULL;
    }
    if (raw) {
        size_t n = b.len < rawlen - 1 ? b.len : rawlen - 1;
        memcpy(raw, b.data, n);
        raw[n] = '\0';
    }
    bk_json *j = NULL;
    CU_ASSERT_EQUAL(bk_json_parse(b.data, b.len, NULL, &j, NULL, 0), 0);
    bk_buf_free(&b);
    return j;
}

static bool exists(bk_zk *zk, const char *path)
{
    return bk_zk_exists(zk, path, NULL, NULL, NULL) == 0;
}

static int64_t jint(const bk_json *j, const char *key)
{
    int64_t v = -999;
    CU_ASSERT_EQUAL(bk_json_int(bk_json_get(j, key), &v), 0);
    return v;
}

/* Nothing of topic t exists under zk. */
static void assert_no_topic(bk_zk *zk, const char *t)
{
    char p[BK_ZKC_PATH_MAX];
    bk_zkc_path_topic(p, t);
    CU_ASSERT_FALSE(exists(zk, p));
    bk_zkc_path_topic_config(p, t);
    CU_ASSERT_FALSE(exists(zk, p));
    bk_zkc_path_delete_topic(p, t);
    CU_ASSERT_FALSE(exists(zk, p));
}

/* ------------------------------ the tests ------------------------------ */

static void test_help_and_usage(void)
{
    run r;
    brookctl_env(&r, NULL, (const char *const[]){"--help", NULL});
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "usage: brookctl"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Exit status"));
    brookctl_env(&r, NULL,
                 (const char *const[]){"topics", "create", "--help", NULL});
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "--replication-factor R"));
    brookctl_env(&r, NULL,
                 (const char *const[]){"-h", "brokers", "list", NULL});
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "brokers list"));

    const char *const *const bad[] = {
        (const char *const[]){NULL},
        (const char *const[]){"topics", NULL},
        (const char *const[]){"topics", "frob", NULL},
        (const char *const[]){"cluster", "nuke", NULL},
        (const char *const[]){"topics", "list", "extra", NULL},
        (const char *const[]){"topics", "list", "--bogus", NULL},
        (const char *const[]){"topics", "list", "-x", NULL},
        (const char *const[]){"topics", "list", "--partitions", "3", NULL},
        (const char *const[]){"topics", "list", "--zookeeper", NULL},
        (const char *const[]){"topics", "list", "--timeout-ms", "soon",
                              "--zookeeper", "h:1", NULL},
        (const char *const[]){"topics", "list", NULL}, /* no ZooKeeper */
        (const char *const[]){"topics", "list", "--zookeeper", "nohostport",
                              NULL},
        (const char *const[]){"topics", "create", "--zookeeper", "h:1",
                              "--topic", "t", NULL},
        (const char *const[]){"topics", "create", "--zookeeper", "h:1",
                              "--topic", "t", "--partitions", "x",
                              "--replication-factor", "1", NULL},
        (const char *const[]){"topics", "create", "--zookeeper", "h:1",
                              "--topic", "t", "--partitions", "1",
                              "--replication-factor", "1", "--config",
                              "retention.ms", NULL},
        (const char *const[]){"topics", "delete", "--zookeeper", "h:1", NULL},
        (const char *const[]){"topics", "delete", "--if-exists=yes", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        brookctl_env(&r, NULL, bad[i]);
        if (r.status != 2)
            printf("\ncase %zu: exit %d, stderr %s\n", i, r.status, r.err);
        CU_ASSERT_EQUAL(r.status, 2);
        CU_ASSERT_TRUE(strncmp(r.err, "brookctl: ", 10) == 0);
        CU_ASSERT_EQUAL(r.out[0], '\0');
    }
    brookctl_env(&r, NULL, (const char *const[]){"topics", "list", NULL});
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "BROOK_ZOOKEEPER"));
}

static void test_create_list_describe_delete(void)
{
    const char *root = "/ctl/basic";
    bk_zk *zk = brokers_at(root, 3);
    run r;
    /* --zookeeper after the command words, --opt=value forms */
    char connect[400];
    snprintf(connect, sizeof connect, "%s%s", zkh->connect, root);
    brookctl_env(&r, NULL,
                 (const char *const[]){
                     "topics", "create", "--topic=events", "--partitions", "6",
                     "--replication-factor=3", "--config",
                     "segment.bytes=1048576", "--config",
                     "retention.ms=86400000", "--zookeeper", connect, NULL});
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "Created topic events.\n");
    CU_ASSERT_STRING_EQUAL(r.err, "");

    CTL(&r, root, "topics", "list");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "events\n");

    /* describe: the header, then one line per partition */
    CTL(&r, root, "topics", "describe", "--topic", "events");
    EXPECT_STATUS(&r, 0);
    const char *hdr = "Topic: events\tPartitionCount: 6\tReplicationFactor: "
                      "3\tConfigs: retention.ms=86400000,"
                      "segment.bytes=1048576\n";
    CU_ASSERT_TRUE_FATAL(strncmp(r.out, hdr, strlen(hdr)) == 0);
    int leads[4] = {0};
    int32_t reps[6][3];
    const char *line = r.out + strlen(hdr);
    for (int p = 0; p < 6; p++) {
        int pp, leader, a, b, c, i1, i2, i3, used = 0;
        int got = sscanf(line,
                         "\tTopic: events\tPartition: %d\tLeader: %d\t"
                         "Replicas: %d,%d,%d\tIsr: %d,%d,%d\n%n",
                         &pp, &leader, &a, &b, &c, &i1, &i2, &i3, &used);
        CU_ASSERT_EQUAL_FATAL(got, 8);
        CU_ASSERT_TRUE_FATAL(used > 0);
        line += used;
        CU_ASSERT_EQUAL(pp, p);
        CU_ASSERT_EQUAL(leader, a); /* leader = first replica */
        CU_ASSERT_TRUE(a != b && b != c && a != c);
        CU_ASSERT_TRUE(a >= 1 && a <= 3 && b >= 1 && b <= 3 && c >= 1 &&
                       c <= 3);
        CU_ASSERT_TRUE(i1 == a && i2 == b && i3 == c); /* ISR = replicas */
        leads[a]++;
        reps[p][0] = a;
        reps[p][1] = b;
        reps[p][2] = c;
    }
    CU_ASSERT_STRING_EQUAL(line, "");
    /* 6 partitions over 3 brokers: each leads exactly two */
    CU_ASSERT_TRUE(leads[1] == 2 && leads[2] == 2 && leads[3] == 2);

    /* describe without --topic shows all topics, the same lines */
    run all;
    CTL(&all, root, "topics", "describe");
    EXPECT_STATUS(&all, 0);
    CU_ASSERT_STRING_EQUAL(all.out, r.out);

    /* the znodes, read back and parsed */
    char raw[1024];
    bk_json *j = read_json(zk, "/brokers/topics/events", raw, sizeof raw);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(jint(j, "version"), 1);
    const bk_json *parts = bk_json_get(j, "partitions");
    CU_ASSERT_EQUAL(bk_json_len(parts), 6);
    for (int p = 0; p < 6; p++) {
        char k[8];
        snprintf(k, sizeof k, "%d", p);
        const bk_json *arr = bk_json_get(parts, k);
        CU_ASSERT_EQUAL_FATAL(bk_json_len(arr), 3);
        for (int i = 0; i < 3; i++) {
            int32_t id;
            CU_ASSERT_EQUAL(bk_json_int32(bk_json_at(arr, (size_t)i), &id), 0);
            CU_ASSERT_EQUAL(id, reps[p][i]);
        }
        /* the partition state */
        char path[BK_ZKC_PATH_MAX];
        bk_zkc_path_partition_state(path, "events", p);
        bk_json *s = read_json(zk, path, NULL, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_EQUAL(jint(s, "version"), 1);
        CU_ASSERT_EQUAL(jint(s, "leader"), reps[p][0]);
        CU_ASSERT_EQUAL(jint(s, "leader_epoch"), 0);
        CU_ASSERT_EQUAL(jint(s, "controller_epoch"), 0);
        const bk_json *isr = bk_json_get(s, "isr");
        CU_ASSERT_EQUAL(bk_json_len(isr), 3);
        bk_json_free(s);
    }
    bk_json_free(j);
    j = read_json(zk, "/config/topics/events", raw, sizeof raw);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(raw, "{\"version\":1,\"config\":{"
                                "\"retention.ms\":\"86400000\","
                                "\"segment.bytes\":\"1048576\"}}");
    bk_json_free(j);
    /* the partitions node has exactly the six partitions */
    bk_zk_strings kids;
    CU_ASSERT_EQUAL(bk_zk_children(zk, "/brokers/topics/events/partitions",
                                   &kids, NULL, NULL),
                    0);
    CU_ASSERT_EQUAL(kids.n, 6);
    bk_zk_strings_free(&kids);

    /* delete */
    CTL(&r, root, "topics", "delete", "--topic", "events");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "Deleted topic events.\n");
    assert_no_topic(zk, "events");
    CTL(&r, root, "topics", "list");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CTL(&r, root, "topics", "delete", "--topic", "events");
    EXPECT_STATUS(&r, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "Topic 'events' does not exist"));
    CTL(&r, root, "topics", "delete", "--topic", "events", "--if-exists");
    EXPECT_STATUS(&r, 0);
    CTL(&r, root, "topics", "describe", "--topic", "events");
    EXPECT_STATUS(&r, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "does not exist"));
    bk_zk_close(zk);
}

static void test_duplicate_and_collision(void)
{
    const char *root = "/ctl/dup";
    bk_zk *zk = brokers_at(root, 1);
    run r;
    CTL(&r, root, "topics", "create", "--topic", "a.b", "--partitions", "2",
        "--replication-factor", "1");
    EXPECT_STATUS(&r, 0);
    /* Kafka's warning about '.' and '_' */
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "could collide"));
    bk_zk_stat st;
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/brokers/topics/a.b", &st, NULL, NULL),
                    0);
    int64_t mzxid = st.mzxid;

    CTL(&r, root, "topics", "create", "--topic", "a.b", "--partitions", "5",
        "--replication-factor", "1");
    EXPECT_STATUS(&r, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "Topic 'a.b' already exists."));
    CTL(&r, root, "topics", "create", "--topic", "a.b", "--partitions", "5",
        "--replication-factor", "1", "--if-not-exists");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    /* untouched */
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/brokers/topics/a.b", &st, NULL, NULL),
                    0);
    CU_ASSERT_EQUAL(st.mzxid, mzxid);
    CTL(&r, root, "topics", "describe", "--topic", "a.b");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "PartitionCount: 2\t"));

    CTL(&r, root, "topics", "create", "--topic", "a_b", "--partitions", "1",
        "--replication-factor", "1");
    EXPECT_STATUS(&r, 1);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(r.err, "Topic 'a_b' collides with existing topics: a.b"));
    assert_no_topic(zk, "a_b");
    bk_zk_close(zk);
}

static void test_too_few_brokers(void)
{
    const char *root = "/ctl/few";
    bk_zk *zk = brokers_at(root, 1);
    run r;
    CTL(&r, root, "topics", "create", "--topic", "t", "--partitions", "3",
        "--replication-factor", "3");
    EXPECT_STATUS(&r, 1);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(r.err, "replication factor 3 larger than available brokers: 1"));
    CU_ASSERT_STRING_EQUAL(r.out, "");
    assert_no_topic(zk, "t");
    CTL(&r, root, "topics", "create", "--topic", "t", "--partitions", "0",
        "--replication-factor", "1");
    EXPECT_STATUS(&r, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "partitions must be larger than 0"));
    CTL(&r, root, "topics", "create", "--topic", "t", "--partitions", "1",
        "--replication-factor", "0");
    EXPECT_STATUS(&r, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "replication factor must be larger"));
    assert_no_topic(zk, "t");
    bk_zk_close(zk);
}

/* Every broker down: create fails naming why; everything else works. */
static void test_no_brokers(void)
{
    const char *root = "/ctl/nobrokers";
    bk_zk *zk = brokers_at(root, 2);
    run r;
    CTL(&r, root, "topics", "create", "--topic", "kept", "--partitions", "2",
        "--replication-factor", "2");
    EXPECT_STATUS(&r, 0);
    CTL(&r, root, "brokers", "list");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Broker: 2\t"));
    bk_zk_close(zk); /* both "brokers" die: their znodes go */

    CTL(&r, root, "brokers", "list");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CTL(&r, root, "topics", "create", "--topic", "new", "--partitions", "1",
        "--replication-factor", "1");
    EXPECT_STATUS(&r, 1);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(r.err, "replication factor 1 larger than available brokers: "
                      "0 (no broker is registered under /brokers/ids)"));
    CTL(&r, root, "topics", "list");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "kept\n");
    CTL(&r, root, "topics", "describe");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Topic: kept\tPartitionCount: 2"));
    CTL(&r, root, "topics", "delete", "--topic", "kept");
    EXPECT_STATUS(&r, 0);

    /* a ZooKeeper nobody has used: nothing exists yet, still no error */
    CTL(&r, "/ctl/virgin", "topics", "list");
    EXPECT_STATUS(&r, 0);
    CTL(&r, "/ctl/virgin", "topics", "describe");
    EXPECT_STATUS(&r, 0);
    CTL(&r, "/ctl/virgin", "brokers", "list");
    EXPECT_STATUS(&r, 0);
}

static void test_invalid_names(void)
{
    const char *root = "/ctl/names";
    bk_zk *zk = brokers_at(root, 1);
    run r;
    char n250[251], n249[250];
    memset(n250, 'x', 250);
    n250[250] = '\0';
    memset(n249, 'y', 249);
    n249[249] = '\0';
    static const char *const msgs[] = {
        "cannot be \".\" or \"..\"",
        "cannot be \".\" or \"..\"",
        "can't be longer than 249 characters",
        "contains a character other than ASCII alphanumerics",
        "contains a character other than ASCII alphanumerics",
        "can't be empty",
    };
    const char *names[] = {".", "..", n250, "a b", "a/b", ""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        CTL(&r, root, "topics", "create", "--topic", names[i], "--partitions",
            "1", "--replication-factor", "1");
        EXPECT_STATUS(&r, 1);
        if (!strstr(r.err, msgs[i]))
            printf("\nname '%s': %s\n", names[i], r.err);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.err, msgs[i]));
    }
    bk_zk_strings kids;
    int rc = bk_zk_children(zk, "/brokers/topics", &kids, NULL, NULL);
    CU_ASSERT_TRUE(rc == -BK_ENOENT || kids.n == 0);
    if (rc == 0)
        bk_zk_strings_free(&kids);
    CTL(&r, root, "topics", "create", "--topic", n249, "--partitions", "1",
        "--replication-factor", "1");
    EXPECT_STATUS(&r, 0);
    bk_zk_close(zk);
}

static void test_config_errors(void)
{
    const char *root = "/ctl/configs";
    bk_zk *zk = brokers_at(root, 1);
    run r;
    static const struct {
        const char *kv, *msg;
    } bad[] = {
        {"retention.msx=1", "Unknown topic config name: retention.msx"},
        {"retention.ms=abc", "for configuration retention.ms"},
        {"segment.bytes=10", "configuration segment.bytes"},
        {"cleanup.policy=compact", "cleanup.policy=compact is not supported"},
        {"compression.type=snappy", "compression.type=snappy is not "
                                    "supported"},
        {"unclean.leader.election.enable=maybe",
         "unclean.leader.election.enable"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CTL(&r, root, "topics", "create", "--topic", "c", "--partitions", "1",
            "--replication-factor", "1", "--config", "retention.ms=1000",
            "--config", bad[i].kv);
        EXPECT_STATUS(&r, 1);
        if (!strstr(r.err, bad[i].msg))
            printf("\n%s: %s\n", bad[i].kv, r.err);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.err, bad[i].msg));
        assert_no_topic(zk, "c");
    }
    /* the same key twice */
    CTL(&r, root, "topics", "create", "--topic", "c", "--partitions", "1",
        "--replication-factor", "1", "--config", "retention.ms=1", "--config",
        "retention.ms=2");
    EXPECT_STATUS(&r, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "retention.ms"));
    assert_no_topic(zk, "c");
    /* normalized values are what gets stored */
    CTL(&r, root, "topics", "create", "--topic", "c", "--partitions", "1",
        "--replication-factor", "1", "--config",
        "unclean.leader.election.enable=TRUE", "--config",
        "cleanup.policy= delete ");
    EXPECT_STATUS(&r, 0);
    char raw[512];
    bk_json *j = read_json(zk, "/config/topics/c", raw, sizeof raw);
    CU_ASSERT_STRING_EQUAL(raw, "{\"version\":1,\"config\":{"
                                "\"cleanup.policy\":\"delete\","
                                "\"unclean.leader.election.enable\":"
                                "\"true\"}}");
    bk_json_free(j);
    bk_zk_close(zk);
}

static void test_chroot_created(void)
{
    bk_zk *root = zk_at("");
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    CU_ASSERT_FALSE(exists(root, "/brook/test"));
    run r;
    CTL(&r, "/brook/test", "topics", "list");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_TRUE(exists(root, "/brook/test"));
    /* and topics land under it */
    bk_zk *zk = brokers_at("/brook/test", 1);
    CTL(&r, "/brook/test", "topics", "create", "--topic", "in-chroot",
        "--partitions", "1", "--replication-factor", "1");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_TRUE(exists(root, "/brook/test/brokers/topics/in-chroot"));
    CU_ASSERT_TRUE(exists(root, "/brook/test/config/topics/in-chroot"));
    CU_ASSERT_FALSE(exists(root, "/brokers/topics/in-chroot"));
    bk_zk_close(zk);
    bk_zk_close(root);
}

static void test_unreachable(void)
{
    char connect[64], want[160];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", bk_h_free_port());
    run r;
    brookctl_env(&r, NULL,
                 (const char *const[]){"--zookeeper", connect, "--timeout-ms",
                                       "1000", "topics", "list", NULL});
    EXPECT_STATUS(&r, 3);
    snprintf(want, sizeof want,
             "brookctl: cannot connect to ZooKeeper at %s within 1000 ms\n",
             connect);
    CU_ASSERT_STRING_EQUAL(r.err, want);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_TRUE(r.ms >= 950 && r.ms < 4000);
    /* through BROOK_ZOOKEEPER, with a chroot, for a write command */
    char env[80];
    snprintf(env, sizeof env, "%s/brook", connect);
    brookctl_env(&r, env,
                 (const char *const[]){
                     "topics", "create", "--topic", "t", "--partitions", "1",
                     "--replication-factor", "1", "--timeout-ms", "500", NULL});
    EXPECT_STATUS(&r, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "within 500 ms"));
    CU_ASSERT_TRUE(r.ms < 4000);
}

static void test_env_and_brokers_list(void)
{
    const char *root = "/ctl/env";
    bk_zk *zk = zk_at(root);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    register_broker(zk, 2, "rack-b");
    register_broker(zk, 1, NULL);
    char env[400];
    snprintf(env, sizeof env, "%s%s", zkh->connect, root);
    run r;
    brookctl_env(&r, env, (const char *const[]){"brokers", "list", NULL});
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_STRING_EQUAL(
        r.out,
        "Broker: 1\tHost: 127.0.0.1:9093\tEndpoints: PLAINTEXT://127.0.0.1:"
        "9093\n"
        "Broker: 2\tHost: 127.0.0.1:9094\tEndpoints: PLAINTEXT://127.0.0.1:"
        "9094\tRack: rack-b\n");
    /* --zookeeper wins over the environment */
    brookctl_env(
        &r, "127.0.0.1:1",
        (const char *const[]){"--zookeeper", env, "brokers", "list", NULL});
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Broker: 2"));
    bk_zk_close(zk);
}

/* Replica spread over random shapes, through the real tool. */
static void test_assignment_spread(void)
{
    const char *root = "/ctl/spread";
    bk_zk *zk = brokers_at(root, 5);
    run r;
    CTL(&r, root, "topics", "create", "--topic", "wide", "--partitions", "20",
        "--replication-factor", "3");
    EXPECT_STATUS(&r, 0);
    CTL(&r, root, "topics", "describe", "--topic", "wide");
    EXPECT_STATUS(&r, 0);
    int leads[6] = {0}, held[6] = {0};
    const char *line = strchr(r.out, '\n');
    CU_ASSERT_PTR_NOT_NULL_FATAL(line);
    line++;
    for (int p = 0; p < 20; p++) {
        int pp, l, a, b, c, used = 0;
        CU_ASSERT_EQUAL_FATAL(sscanf(line,
                                     "\tTopic: wide\tPartition: %d\tLeader: "
                                     "%d\tReplicas: %d,%d,%d\tIsr: %*[0-9,]"
                                     "\n%n",
                                     &pp, &l, &a, &b, &c, &used),
                              5);
        CU_ASSERT_TRUE_FATAL(used > 0);
        line += used;
        CU_ASSERT_TRUE(a != b && b != c && a != c);
        leads[a]++;
        held[a]++;
        held[b]++;
        held[c]++;
    }
    for (int i = 1; i <= 5; i++) {
        CU_ASSERT_EQUAL(leads[i], 4);
        CU_ASSERT_EQUAL(held[i], 12);
    }
    bk_zk_close(zk);
}

/* State left by others: a pending deletion mark, a stray config, and a
 * controller epoch that partition states must carry. */
static void test_leftovers_and_epoch(void)
{
    const char *root = "/ctl/leftovers";
    bk_zk *zk = brokers_at(root, 1);
    run r;
    CTL(&r, root, "topics", "create", "--topic", "doomed", "--partitions", "2",
        "--replication-factor", "1");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/admin/delete_topics/doomed", NULL, 0,
                                 BK_ZK_PARENTS, NULL, 0),
                    0);
    CTL(&r, root, "topics", "list");
    CU_ASSERT_STRING_EQUAL(r.out, "doomed - marked for deletion\n");
    CTL(&r, root, "topics", "describe", "--topic", "doomed");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\tMarkedForDeletion: true\n"));
    CTL(&r, root, "topics", "delete", "--topic", "doomed");
    EXPECT_STATUS(&r, 0);
    assert_no_topic(zk, "doomed");

    /* an interrupted deletion: only the config and the mark are left */
    const char *empty_cfg = "{\"version\":1,\"config\":{}}";
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/config/topics/ghost", empty_cfg,
                                 strlen(empty_cfg), BK_ZK_PARENTS, NULL, 0),
                    0);
    CU_ASSERT_EQUAL(
        bk_zk_create(zk, "/admin/delete_topics/ghost", NULL, 0, 0, NULL, 0), 0);
    CTL(&r, root, "topics", "delete", "--topic", "ghost");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "interrupted deletion"));
    assert_no_topic(zk, "ghost");

    /* a stray config without topic is overwritten by a new create */
    const char *old_cfg = "{\"version\":1,\"config\":{\"retention.ms\":\"5\"}}";
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/config/topics/reborn", old_cfg,
                                 strlen(old_cfg), 0, NULL, 0),
                    0);
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/controller_epoch", "7", 1, 0, NULL, 0),
                    0);
    CTL(&r, root, "topics", "create", "--topic", "reborn", "--partitions", "1",
        "--replication-factor", "1", "--config", "segment.ms=60000");
    EXPECT_STATUS(&r, 0);
    char raw[256];
    bk_json *j = read_json(zk, "/config/topics/reborn", raw, sizeof raw);
    CU_ASSERT_STRING_EQUAL(
        raw, "{\"version\":1,\"config\":{\"segment.ms\":\"60000\"}}");
    bk_json_free(j);
    j = read_json(zk, "/brokers/topics/reborn/partitions/0/state", NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(jint(j, "controller_epoch"), 7);
    bk_json_free(j);
    bk_zk_close(zk);
}

/* A corrupt assignment written by someone else: describe says so and
 * fails; the other topics still list. */
static void test_corrupt_znode(void)
{
    const char *root = "/ctl/corrupt";
    bk_zk *zk = zk_at(root);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/brokers/topics/bad", "{\"version\":", 11,
                                 BK_ZK_PARENTS, NULL, 0),
                    0);
    run r;
    CTL(&r, root, "topics", "list");
    EXPECT_STATUS(&r, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "bad\n");
    CTL(&r, root, "topics", "describe", "--topic", "bad");
    EXPECT_STATUS(&r, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "not hold a valid assignment"));
    /* delete still cleans it up */
    CTL(&r, root, "topics", "delete", "--topic", "bad");
    EXPECT_STATUS(&r, 0);
    assert_no_topic(zk, "bad");
    bk_zk_close(zk);
}

static CU_TestInfo tests[] = {
    {"help and usage errors (exit 2)", test_help_and_usage},
    {"create, list, describe, delete; znodes as Kafka writes them",
     test_create_list_describe_delete},
    {"duplicate topic, --if-not-exists, name collision",
     test_duplicate_and_collision},
    {"replication factor larger than live brokers", test_too_few_brokers},
    {"every broker down", test_no_brokers},
    {"invalid topic names", test_invalid_names},
    {"invalid configs name the key; nothing written", test_config_errors},
    {"a missing chroot is created", test_chroot_created},
    {"unreachable ZooKeeper: exit 3 within the bound", test_unreachable},
    {"BROOK_ZOOKEEPER and brokers list", test_env_and_brokers_list},
    {"replicas spread evenly (5 brokers, 20 partitions)",
     test_assignment_spread},
    {"pending deletions, stray configs, controller epoch",
     test_leftovers_and_epoch},
    {"a corrupt assignment znode", test_corrupt_znode},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("brookctl", tests, suite_init, suite_clean);
}
