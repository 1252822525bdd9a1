/*
 * test_zkdata.c -- coordinator/zkdata as brookd will call it, against a
 * real ZooKeeper: the persistent paths and cluster id at start, broker
 * listing (a bad registration is skipped, not fatal), topic creation with
 * an explicit assignment or validate-only, two creators racing for one
 * topic (the multi lets exactly one win), and a topic big enough to need
 * several multis, created, described and deleted.
 *
 * Brokers are registered as brookd does it (an ephemeral /brokers/ids/<id>
 * from the test's session); see test_brookctl.c.
 */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"
#include "proto/protocol.h"
#include "tests/harness/harness.h"
#include "tests/unit/cu_main.h"

static bk_h_zk *zkh;

static int suite_init(void)
{
    zkh = bk_h_zk_start("zk-zkdata", 1);
    return zkh ? 0 : -1;
}

static int suite_clean(void)
{
    bk_h_zk_stop(zkh);
    zkh = NULL;
    return 0;
}

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

static void register_broker(bk_zk *zk, int id)
{
    bk_zkc_broker b = {.id = id,
                       .jmx_port = -1,
                       .timestamp = bk_clock_wall_ms(),
                       .nendpoints = 1};
    strcpy(b.endpoints[0].listener, "PLAINTEXT");
    strcpy(b.endpoints[0].protocol, "PLAINTEXT");
    strcpy(b.endpoints[0].host, "127.0.0.1");
    b.endpoints[0].port = 9092 + id;
    bk_buf buf = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_broker_encode(&b, &buf), 0);
    char path[BK_ZKC_PATH_MAX];
    bk_zkc_path_broker(path, id);
    CU_ASSERT_EQUAL(bk_zk_create(zk, path, buf.data, buf.len,
                                 BK_ZK_EPHEMERAL | BK_ZK_PARENTS, NULL, 0),
                    0);
    bk_buf_free(&buf);
}

static void test_ensure_paths_and_cluster_id(void)
{
    bk_zk *zk = zk_at("/zd/paths");
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    char id1[64] = "", id2[64] = "";
    CU_ASSERT_EQUAL(bk_zkd_ensure_paths(zk, id1, sizeof id1), 0);
    CU_ASSERT_EQUAL(strlen(id1), BK_ZKC_CLUSTER_ID_LEN);
    static const char *const paths[] = {
        "/consumers",
        "/brokers/ids",
        "/brokers/topics",
        "/brokers/seqid",
        "/config/changes",
        "/config/topics",
        "/config/brokers",
        "/config/clients",
        "/config/users",
        "/admin/delete_topics",
        "/isr_change_notification",
        "/latest_producer_id_block",
        "/log_dir_event_notification",
        "/cluster/id",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        CU_ASSERT_EQUAL(bk_zk_exists(zk, paths[i], NULL, NULL, NULL), 0);
    /* idempotent, and the id stays (a second broker reads the first's) */
    CU_ASSERT_EQUAL(bk_zkd_ensure_paths(zk, id2, sizeof id2), 0);
    CU_ASSERT_STRING_EQUAL(id1, id2);
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_zk_get(zk, "/cluster/id", &b, NULL, NULL, NULL), 0);
    char want[80];
    snprintf(want, sizeof want, "{\"version\":\"1\",\"id\":\"%s\"}", id1);
    CU_ASSERT_EQUAL(b.len, strlen(want));
    CU_ASSERT_EQUAL(memcmp(b.data, want, b.len), 0);
    bk_buf_free(&b);
    /* an id Kafka wrote is kept as it is */
    bk_zk *k = zk_at("/zd/kafka");
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    const char *kid = "{\"version\":\"1\",\"id\":\"kafka-made-id\"}";
    CU_ASSERT_EQUAL(bk_zk_create(k, "/cluster/id", kid, strlen(kid),
                                 BK_ZK_PARENTS, NULL, 0),
                    0);
    CU_ASSERT_EQUAL(bk_zkd_ensure_paths(k, id2, sizeof id2), 0);
    CU_ASSERT_STRING_EQUAL(id2, "kafka-made-id");
    bk_zk_close(k);
    bk_zk_close(zk);
}

static void test_brokers_list(void)
{
    bk_zk *zk = zk_at("/zd/brokers");
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    int32_t *ids;
    size_t n;
    bk_zkc_broker *bs;
    /* nothing registered yet, not even /brokers/ids */
    CU_ASSERT_EQUAL(bk_zkd_broker_ids(zk, &ids, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    free(ids);
    CU_ASSERT_EQUAL(bk_zkd_brokers_list(zk, &bs, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    free(bs);
    register_broker(zk, 10);
    register_broker(zk, 2);
    /* garbage under /brokers/ids: a bad name and a bad payload */
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/brokers/ids/x", NULL, 0, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/brokers/ids/7", "{", 1, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(bk_zkd_broker_ids(zk, &ids, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_TRUE(ids[0] == 2 && ids[1] == 7 && ids[2] == 10);
    free(ids);
    CU_ASSERT_EQUAL(bk_zkd_brokers_list(zk, &bs, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(bs[0].id, 2);
    CU_ASSERT_EQUAL(bs[1].id, 10);
    CU_ASSERT_EQUAL(bs[1].endpoints[0].port, 9102);
    free(bs);
    bk_zk_close(zk);
}

static void test_explicit_and_validate_only(void)
{
    bk_zk *zk = zk_at("/zd/explicit");
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    for (int i = 1; i <= 3; i++)
        register_broker(zk, i);
    bk_zkd_result res;
    const int32_t reps[] = {3, 1, 1, 2};
    bk_zkd_topic_spec spec = {.name = "manual",
                              .partitions = 2,
                              .replication_factor = 2,
                              .replicas = reps,
                              .start_index = -1,
                              .shift = -1};
    /* validate only: the answer, nothing written */
    spec.validate_only = true;
    CU_ASSERT_EQUAL(bk_zkd_topic_create(zk, &spec, &res), 0);
    CU_ASSERT_EQUAL(res.error, 0);
    CU_ASSERT_EQUAL(
        bk_zk_exists(zk, "/brokers/topics/manual", NULL, NULL, NULL),
        -BK_ENOENT);
    spec.validate_only = false;
    CU_ASSERT_EQUAL(bk_zkd_topic_create(zk, &spec, &res), 0);
    CU_ASSERT_EQUAL(res.error, 0);
    bk_zkd_topic_desc d;
    CU_ASSERT_EQUAL_FATAL(bk_zkd_topic_describe(zk, "manual", &d), 0);
    CU_ASSERT_EQUAL(d.assignment.nparts, 2);
    CU_ASSERT_EQUAL(d.assignment.parts[0].replicas[0], 3);
    CU_ASSERT_EQUAL(d.assignment.parts[1].replicas[1], 2);
    CU_ASSERT_TRUE(d.has_state[0] && d.states[0].leader == 3);
    CU_ASSERT_TRUE(d.has_state[1] && d.states[1].leader == 1);
    CU_ASSERT_FALSE(d.marked_for_deletion);
    bk_zkd_topic_desc_free(&d);

    const int32_t dup[] = {1, 1};
    bk_zkd_topic_spec bad = {.name = "dup",
                             .partitions = 1,
                             .replication_factor = 2,
                             .replicas = dup};
    CU_ASSERT_EQUAL(bk_zkd_topic_create(zk, &bad, &res), 0);
    CU_ASSERT_EQUAL(res.error, BK_ERR_INVALID_REPLICA_ASSIGNMENT);
    const int32_t unknown[] = {1, 9};
    bad.replicas = unknown;
    CU_ASSERT_EQUAL(bk_zkd_topic_create(zk, &bad, &res), 0);
    CU_ASSERT_EQUAL(res.error, BK_ERR_INVALID_REPLICA_ASSIGNMENT);
    CU_ASSERT_PTR_NOT_NULL(strstr(res.message, "9"));
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/brokers/topics/dup", NULL, NULL, NULL),
                    -BK_ENOENT);
    /* delete of an unknown topic */
    CU_ASSERT_EQUAL(bk_zkd_topic_delete(zk, "nope", &res), 0);
    CU_ASSERT_EQUAL(res.error, BK_ERR_UNKNOWN_TOPIC_OR_PART);
    bk_zk_close(zk);
}

/* Two sessions create the same topic at the same moment. */
typedef struct racer {
    const char *connect;
    int partitions;
    bk_zkd_result res;
    int rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    bk_zk *zk = zk_at(r->connect);
    if (!zk) {
        r->rc = -BK_EIO;
        return NULL;
    }
    bk_zkd_topic_spec spec = {.name = "contended",
                              .partitions = r->partitions,
                              .replication_factor = 1,
                              .start_index = -1,
                              .shift = -1};
    r->rc = bk_zkd_topic_create(zk, &spec, &r->res);
    bk_zk_close(zk);
    return NULL;
}

static void test_concurrent_create(void)
{
    bk_zk *zk = zk_at("/zd/race");
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    register_broker(zk, 1);
    int wins = 0, lost = 0;
    for (int round = 0; round < 5; round++) {
        racer r[2] = {{"/zd/race", 3, {0}, 0}, {"/zd/race", 5, {0}, 0}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, race, &r[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        int won = -1;
        for (int i = 0; i < 2; i++) {
            CU_ASSERT_EQUAL(r[i].rc, 0);
            if (r[i].res.error == 0) {
                wins++;
                won = i;
            } else {
                CU_ASSERT_EQUAL(r[i].res.error, BK_ERR_TOPIC_ALREADY_EXISTS);
                lost++;
            }
        }
        /* whoever won, the topic is exactly theirs: no mixed writes */
        CU_ASSERT_TRUE_FATAL(won >= 0);
        bk_zkd_topic_desc d;
        CU_ASSERT_EQUAL_FATAL(bk_zkd_topic_describe(zk, "contended", &d), 0);
        CU_ASSERT_EQUAL(d.assignment.nparts, r[won].partitions);
        bk_zk_strings kids;
        CU_ASSERT_EQUAL(bk_zk_children(zk,
                                       "/brokers/topics/contended/partitions",
                                       &kids, NULL, NULL),
                        0);
        CU_ASSERT_EQUAL(kids.n, (size_t)r[won].partitions);
        bk_zk_strings_free(&kids);
        bk_zkd_topic_desc_free(&d);
        bk_zkd_result res;
        CU_ASSERT_EQUAL(bk_zkd_topic_delete(zk, "contended", &res), 0);
        CU_ASSERT_EQUAL(res.error, 0);
    }
    CU_ASSERT_EQUAL(wins, 5);
    CU_ASSERT_EQUAL(lost, 5);
    bk_zk_close(zk);
}

/* 2000 partitions x RF 3: the partition states need several multis. */
static void test_big_topic(void)
{
    bk_zk *zk = zk_at("/zd/big");
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    for (int i = 1; i <= 3; i++)
        register_broker(zk, i);
    bk_zkd_topic_spec spec = {.name = "big",
                              .partitions = 2000,
                              .replication_factor = 3,
                              .start_index = -1,
                              .shift = -1};
    bk_zkd_result res;
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(bk_zkd_topic_create(zk, &spec, &res), 0);
    CU_ASSERT_EQUAL(res.error, 0);
    int64_t t1 = bk_clock_mono_ms();
    bk_zkd_topic_desc d;
    CU_ASSERT_EQUAL_FATAL(bk_zkd_topic_describe(zk, "big", &d), 0);
    CU_ASSERT_EQUAL(d.assignment.nparts, 2000);
    int with_state = 0, leads[4] = {0};
    for (int32_t i = 0; i < d.assignment.nparts; i++) {
        with_state += d.has_state[i];
        leads[d.states[i].leader]++;
    }
    CU_ASSERT_EQUAL(with_state, 2000);
    CU_ASSERT_TRUE(leads[1] >= 666 && leads[2] >= 666 && leads[3] >= 666);
    bk_zkd_topic_desc_free(&d);
    int64_t t2 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(bk_zkd_topic_delete(zk, "big", &res), 0);
    CU_ASSERT_EQUAL(res.error, 0);
    int64_t t3 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/brokers/topics/big", NULL, NULL, NULL),
                    -BK_ENOENT);
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/config/topics/big", NULL, NULL, NULL),
                    -BK_ENOENT);
    printf("\n  2000 partitions: create %lld ms, describe %lld ms, delete "
           "%lld ms\n",
           (long long)(t1 - t0), (long long)(t2 - t1), (long long)(t3 - t2));
    bk_zk_close(zk);
}

static CU_TestInfo tests[] = {
    {"persistent paths and cluster id", test_ensure_paths_and_cluster_id},
    {"broker listing skips bad registrations", test_brokers_list},
    {"explicit assignment, validate-only, unknown topic",
     test_explicit_and_validate_only},
    {"two creators race: exactly one wins, whole", test_concurrent_create},
    {"a 2000-partition topic (several multis)", test_big_topic},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("zkdata", tests, suite_init, suite_clean);
}
