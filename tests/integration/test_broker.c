/*
 * test_broker.c -- brookd against a real ZooKeeper: the request handlers
 * over raw frames (ApiVersions, Metadata, CreateTopics, DeleteTopics,
 * Produce with every acks, Fetch with long polling, ListOffsets), request
 * pipelining, SIGTERM, a duplicate broker id, configuration errors and the
 * systemd unit.
 *
 * One cluster (1 ZooKeeper, 2 brokers, min.insync.replicas=2 so that
 * acks=all on a single-replica partition must fail) serves the "broker"
 * suite; the tests run in order and build on each other's topics.
 */
#include "config.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/batch.h"
#include "common/clock.h"
#include "common/logging.h"
#include "proto/protocol.h"
#include "tests/integration/brokertest.h"
#include "tests/unit/cu_main.h"

static bk_h_cluster *cl;

static int suite_init(void)
{
    cl = bk_h_cluster_start("broker", 1, 2,
                            "min.insync.replicas=2\n"
                            "message.max.bytes=65536\n"
                            "num.partitions=2\n");
    return cl ? 0 : 1;
}

static int suite_clean(void)
{
    int problems = bk_h_cluster_log_problems(cl);
    bk_h_cluster_stop(cl);
    cl = NULL;
    return problems ? 1 : 0;
}

/* Connects to the broker with id `id`. */
static int connect_id(int id)
{
    for (int i = 0; i < cl->n; i++)
        if (cl->broker[i].id == id)
            return bk_h_connect(cl->broker[i].port);
    return -1;
}

static int index_of(int id)
{
    for (int i = 0; i < cl->n; i++)
        if (cl->broker[i].id == id)
            return i;
    return -1;
}

/* ----------------------------------------------------------------- */

/* DescribeConfigs naming the same resource many times is refused whole
 * (each answer for a topic is hundreds of bytes: repeats would let a small
 * request build a huge response); distinct ones are answered. */
static void test_describe_configs_duplicates(void)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    enum { N = 20000 };
    Brook__DescribeConfigsResource *res = calloc(N, sizeof *res);
    Brook__DescribeConfigsResource **rp = calloc(N, sizeof *rp);
    CU_ASSERT_FATAL(res && rp);
    for (int i = 0; i < N; i++) {
        brook__describe_configs_resource__init(&res[i]);
        res[i].resource_type = BK_RESOURCE_TOPIC;
        res[i].resource_name = i == N - 1 ? "t" : (char *)"dc-missing";
        rp[i] = &res[i];
    }
    Brook__Request req;
    Brook__DescribeConfigsRequest dr = BROOK__DESCRIBE_CONFIGS_REQUEST__INIT;
    dr.include_synonyms = true;
    dr.resources = rp;
    dr.n_resources = N;
    bk_h_req_init(&req, BK_API_DESCRIBE_CONFIGS, 11);
    req.body_case = BROOK__REQUEST__BODY_DESCRIBE_CONFIGS;
    req.describe_configs = &dr;
    Brook__Response *resp = bk_h_call(fd, &req, 5000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    CU_ASSERT_EQUAL(resp->header->error_code, BK_ERR_INVALID_REQUEST);
    CU_ASSERT_PTR_NULL(resp->describe_configs);
    brook__response__free_unpacked(resp, NULL);
    /* two distinct names: both answered (unknown topics) */
    res[1].resource_name = "dc-missing-2";
    dr.n_resources = 2;
    bk_h_req_init(&req, BK_API_DESCRIBE_CONFIGS, 12);
    req.body_case = BROOK__REQUEST__BODY_DESCRIBE_CONFIGS;
    req.describe_configs = &dr;
    resp = bk_h_call(fd, &req, 5000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    CU_ASSERT_EQUAL(resp->header->error_code, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp->describe_configs);
    CU_ASSERT_EQUAL(resp->describe_configs->n_results, 2);
    for (size_t i = 0; i < resp->describe_configs->n_results; i++)
        CU_ASSERT_EQUAL(resp->describe_configs->results[i]->error_code,
                        BK_ERR_UNKNOWN_TOPIC_OR_PART);
    brook__response__free_unpacked(resp, NULL);
    free(res);
    free(rp);
    close(fd);
}

/* Waits until every broker serves `topic` (a test then talks to whichever
 * broker leads a partition, which may not be the one that created it). */
static int wait_topic_all(const char *topic, int partitions)
{
    for (int i = 0; i < cl->n; i++)
        if (bk_h_wait_topic(cl, i, topic, partitions, 10000) != 0)
            return -1;
    return 0;
}

static void test_api_versions(void)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    Brook__Request req;
    bk_h_req_init(&req, BK_API_API_VERSIONS, 7);
    Brook__ApiVersionsRequest av = BROOK__API_VERSIONS_REQUEST__INIT;
    req.body_case = BROOK__REQUEST__BODY_API_VERSIONS;
    req.api_versions = &av;
    Brook__Response *resp = bk_h_call(fd, &req, 5000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    CU_ASSERT_EQUAL(resp->header->correlation_id, 7);
    CU_ASSERT_EQUAL(resp->header->api_key, BK_API_API_VERSIONS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp->api_versions);
    int want[] = {BK_API_PRODUCE,      BK_API_FETCH,
                  BK_API_LIST_OFFSETS, BK_API_METADATA,
                  BK_API_API_VERSIONS, BK_API_CREATE_TOPICS,
                  BK_API_DELETE_TOPICS};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        bool found = false;
        for (size_t i = 0; i < resp->api_versions->n_api_keys; i++)
            if (resp->api_versions->api_keys[i]->api_key == want[k])
                found = true;
        CU_ASSERT_TRUE(found);
    }
    brook__response__free_unpacked(resp, NULL);
    close(fd);
}

static void test_metadata(void)
{
    int fd = bk_h_connect(cl->broker[1].port);
    CU_ASSERT_FATAL(fd >= 0);
    /* Brokers learn of each other through ZooKeeper watches: the picture
     * is eventually complete, as in Kafka, so allow it a moment. */
    Brook__Response *resp = NULL;
    for (int tries = 0; tries < 100; tries++) {
        resp = bt_metadata(fd, NULL, false);
        if (!resp || (resp->metadata && resp->metadata->n_brokers == 2))
            break;
        brook__response__free_unpacked(resp, NULL);
        resp = NULL;
        bk_h_sleep_ms(50);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    Brook__MetadataResponse *md = resp->metadata;
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    CU_ASSERT_EQUAL(md->n_brokers, 2);
    for (size_t i = 0; i < md->n_brokers; i++) {
        int bi = index_of(md->brokers[i]->node_id);
        CU_ASSERT(bi >= 0);
        if (bi >= 0)
            CU_ASSERT_EQUAL(md->brokers[i]->port, cl->broker[bi].port);
        CU_ASSERT_STRING_EQUAL(md->brokers[i]->host, "127.0.0.1");
    }
    CU_ASSERT_EQUAL(strlen(md->cluster_id), 22);
    brook__response__free_unpacked(resp, NULL);

    resp = bt_metadata(fd, "no-such-topic", false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    CU_ASSERT_EQUAL(resp->metadata->n_topics, 1);
    CU_ASSERT_EQUAL(resp->metadata->topics[0]->error_code,
                    BK_ERR_UNKNOWN_TOPIC_OR_PART);
    brook__response__free_unpacked(resp, NULL);

    resp = bt_metadata(fd, "bad name!", true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    CU_ASSERT_EQUAL(resp->metadata->topics[0]->error_code,
                    BK_ERR_TOPIC_EXCEPTION);
    brook__response__free_unpacked(resp, NULL);

    /* a name asked for many times is answered once, in first-seen order */
    {
        enum { N = 5000 };
        Brook__MetadataRequestTopic *ts = calloc(N, sizeof *ts);
        Brook__MetadataRequestTopic **tp = calloc(N, sizeof *tp);
        CU_ASSERT_FATAL(ts && tp);
        for (int i = 0; i < N; i++) {
            brook__metadata_request_topic__init(&ts[i]);
            ts[i].name = i % 2 ? "dup-b" : "dup-a";
            tp[i] = &ts[i];
        }
        Brook__Request req;
        Brook__MetadataRequest mr = BROOK__METADATA_REQUEST__INIT;
        mr.topics = tp;
        mr.n_topics = N;
        bk_h_req_init(&req, BK_API_METADATA, 21);
        req.body_case = BROOK__REQUEST__BODY_METADATA;
        req.metadata = &mr;
        resp = bk_h_call(fd, &req, 5000);
        CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
        CU_ASSERT_PTR_NOT_NULL_FATAL(resp->metadata);
        CU_ASSERT_EQUAL_FATAL(resp->metadata->n_topics, 2);
        CU_ASSERT_STRING_EQUAL(resp->metadata->topics[0]->name, "dup-a");
        CU_ASSERT_STRING_EQUAL(resp->metadata->topics[1]->name, "dup-b");
        brook__response__free_unpacked(resp, NULL);
        free(ts);
        free(tp);
    }
    close(fd);
}

static void test_create_topics(void)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(bt_create_topic(fd, "orders", 2, 1), 0);
    CU_ASSERT_EQUAL(wait_topic_all("orders", 2), 0);
    CU_ASSERT_EQUAL(bk_h_wait_topic(cl, 1, "orders", 2, 10000), 0);
    CU_ASSERT_EQUAL(bt_create_topic(fd, "orders", 2, 1),
                    BK_ERR_TOPIC_ALREADY_EXISTS);
    CU_ASSERT_EQUAL(bt_create_topic(fd, "wide", 1, 3),
                    BK_ERR_INVALID_REPLICATION_FACTOR);
    CU_ASSERT_NOT_EQUAL(bt_create_topic(fd, "bad/name", 1, 1), 0);
    /* Each partition's log exists on its leader only. */
    for (int p = 0; p < 2; p++) {
        int leader = bt_leader(cl->broker[0].port, "orders", p);
        CU_ASSERT(leader == 1 || leader == 2);
        int li = index_of(leader);
        if (li < 0)
            continue;
        struct stat st;
        CU_ASSERT_EQUAL(stat(bk_h_partition_dir(cl, li, "orders", p), &st), 0);
        CU_ASSERT_NOT_EQUAL(
            stat(bk_h_partition_dir(cl, 1 - li, "orders", p), &st), 0);
    }
    close(fd);
}

static void test_produce_fetch(void)
{
    for (int p = 0; p < 2; p++) {
        int leader = bt_leader(cl->broker[0].port, "orders", p);
        int fd = connect_id(leader);
        CU_ASSERT_FATAL(fd >= 0);
        for (int b = 0; b < 3; b++) {
            int64_t base = -1;
            CU_ASSERT_EQUAL(
                bt_produce(fd, "orders", p, 1, "v", b * 5, 5, &base), 0);
            CU_ASSERT_EQUAL(base, b * 5);
        }
        bt_fetch_res r;
        bt_fetch_all(fd, "orders", p, &r);
        CU_ASSERT_EQUAL(r.error, 0);
        CU_ASSERT_EQUAL(r.hw, 15);
        CU_ASSERT_EQUAL_FATAL(r.nrecs, 15);
        for (size_t i = 0; i < r.nrecs; i++) {
            char want[32];
            snprintf(want, sizeof want, "v-%zu", i);
            CU_ASSERT_EQUAL(r.recs[i].offset, (int64_t)i);
            CU_ASSERT_STRING_EQUAL(r.recs[i].value, want);
        }
        bt_fetch_free(&r);
        /* From the middle of a batch: the batch comes whole, records
         * from offset 7 on are the ones asked for. */
        bt_fetch(fd, "orders", p, 7, 0, 1, &r);
        CU_ASSERT_EQUAL(r.error, 0);
        CU_ASSERT(r.nrecs >= 3);
        if (r.nrecs > 0) {
            CU_ASSERT_EQUAL(r.recs[0].offset, 7);
            CU_ASSERT_STRING_EQUAL(r.recs[0].value, "v-7");
        }
        bt_fetch_free(&r);
        /* At the end: nothing, no error; past it: out of range. */
        bt_fetch(fd, "orders", p, 15, 0, 1, &r);
        CU_ASSERT_EQUAL(r.error, 0);
        CU_ASSERT_EQUAL(r.nrecs, 0);
        bt_fetch_free(&r);
        bt_fetch(fd, "orders", p, 16, 0, 1, &r);
        CU_ASSERT_EQUAL(r.error, BK_ERR_OFFSET_OUT_OF_RANGE);
        bt_fetch_free(&r);
        int64_t off = -5;
        CU_ASSERT_EQUAL(bt_list_offsets(fd, "orders", p, -2, &off, NULL), 0);
        CU_ASSERT_EQUAL(off, 0);
        CU_ASSERT_EQUAL(bt_list_offsets(fd, "orders", p, -1, &off, NULL), 0);
        CU_ASSERT_EQUAL(off, 15);
        close(fd);
    }
}

static void test_acks(void)
{
    int leader = bt_leader(cl->broker[0].port, "orders", 0);
    int fd = connect_id(leader);
    CU_ASSERT_FATAL(fd >= 0);
    /* acks=0: no answer.  The next request's answer is the next thing on
     * the wire. */
    CU_ASSERT_EQUAL(bt_produce(fd, "orders", 0, 0, "v", 15, 5, NULL), 0);
    Brook__Request req;
    bk_h_req_init(&req, BK_API_API_VERSIONS, 4242);
    Brook__ApiVersionsRequest av = BROOK__API_VERSIONS_REQUEST__INIT;
    req.body_case = BROOK__REQUEST__BODY_API_VERSIONS;
    req.api_versions = &av;
    Brook__Response *resp = bk_h_call(fd, &req, 5000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    CU_ASSERT_EQUAL(resp->header->correlation_id, 4242);
    brook__response__free_unpacked(resp, NULL);
    int64_t off = -1;
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "orders", 0, -1, &off, NULL), 0);
    CU_ASSERT_EQUAL(off, 20);

    /* acks=all with ISR (1) < min.insync.replicas (2): refused, nothing
     * appended. */
    CU_ASSERT_EQUAL(bt_produce(fd, "orders", 0, -1, "v", 20, 5, NULL),
                    BK_ERR_NOT_ENOUGH_REPLICAS);
    CU_ASSERT_EQUAL(bt_produce(fd, "orders", 0, 2, "v", 20, 5, NULL),
                    BK_ERR_INVALID_REQUIRED_ACKS);
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "orders", 0, -1, &off, NULL), 0);
    CU_ASSERT_EQUAL(off, 20);
    close(fd);
}

static void test_acks_all_ok(void)
{
    /* A topic with two replicas has an ISR of 2 (the state znode lists
     * every replica): acks=all passes min.insync.replicas=2. */
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(bt_create_topic(fd, "pairs", 1, 2), 0);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(wait_topic_all("pairs", 1), 0);
    int leader = bt_leader(cl->broker[0].port, "pairs", 0);
    fd = connect_id(leader);
    CU_ASSERT_FATAL(fd >= 0);
    int64_t base = -1;
    CU_ASSERT_EQUAL(bt_produce(fd, "pairs", 0, -1, "a", 0, 3, &base), 0);
    CU_ASSERT_EQUAL(base, 0);
    close(fd);
}

static void test_topic_config(void)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    const char *cfg[] = {"min.insync.replicas", "1", "max.message.bytes",
                         "1000", NULL};
    CU_ASSERT_EQUAL(bt_create_topic_cfg(fd, "relaxed", 1, 1, cfg), 0);
    const char *bad[] = {"retention.ms", "soon", NULL};
    CU_ASSERT_EQUAL(bt_create_topic_cfg(fd, "badcfg", 1, 1, bad),
                    BK_ERR_INVALID_CONFIG);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(wait_topic_all("relaxed", 1), 0);
    fd = connect_id(bt_leader(cl->broker[0].port, "relaxed", 0));
    CU_ASSERT_FATAL(fd >= 0);
    /* The topic's min.insync.replicas=1 beats the broker's 2. */
    CU_ASSERT_EQUAL(bt_produce(fd, "relaxed", 0, -1, "r", 0, 2, NULL), 0);
    /* And its max.message.bytes=1000 beats the broker's 65536. */
    CU_ASSERT_EQUAL(bt_produce(fd, "relaxed", 0, 1, "r", 0, 100, NULL),
                    BK_ERR_MSG_SIZE_TOO_LARGE);
    close(fd);
}

static void test_not_leader(void)
{
    int leader = bt_leader(cl->broker[0].port, "orders", 0);
    int other = leader == 1 ? 2 : 1;
    int fd = connect_id(other);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(bt_produce(fd, "orders", 0, 1, "x", 0, 1, NULL),
                    BK_ERR_NOT_LEADER_FOR_PARTITION);
    bt_fetch_res r;
    bt_fetch(fd, "orders", 0, 0, 0, 1, &r);
    CU_ASSERT_EQUAL(r.error, BK_ERR_NOT_LEADER_FOR_PARTITION);
    bt_fetch_free(&r);
    CU_ASSERT_EQUAL(bt_produce(fd, "nope", 0, 1, "x", 0, 1, NULL),
                    BK_ERR_UNKNOWN_TOPIC_OR_PART);
    CU_ASSERT_EQUAL(bt_produce(fd, "orders", 9, 1, "x", 0, 1, NULL),
                    BK_ERR_UNKNOWN_TOPIC_OR_PART);
    close(fd);
}

static void test_list_offsets_time(void)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(bt_create_topic(fd, "times", 1, 1), 0);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(wait_topic_all("times", 1), 0);
    fd = connect_id(bt_leader(cl->broker[0].port, "times", 0));
    CU_ASSERT_FATAL(fd >= 0);
    const int64_t t0 = 1700000000000;
    for (int b = 0; b < 3; b++) {
        bk_buf buf = BK_BUF_INIT;
        CU_ASSERT_EQUAL(bt_batch(&buf, "t", b * 2, 2, t0 + b * 1000), 0);
        CU_ASSERT_EQUAL(
            bt_produce_raw(fd, "times", 0, 1, buf.data, buf.len, NULL), 0);
        bk_buf_free(&buf);
    }
    int64_t off = -9, ts = -9;
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "times", 0, t0 + 1500, &off, &ts), 0);
    CU_ASSERT_EQUAL(off, 4);
    CU_ASSERT_EQUAL(ts, t0 + 2000);
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "times", 0, t0 + 1, &off, &ts), 0);
    CU_ASSERT_EQUAL(off, 1);
    CU_ASSERT_EQUAL(ts, t0 + 1);
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "times", 0, t0 + 99999, &off, &ts), 0);
    CU_ASSERT_EQUAL(off, -1);
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "times", 0, -2, &off, NULL), 0);
    CU_ASSERT_EQUAL(off, 0);
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "times", 0, -1, &off, NULL), 0);
    CU_ASSERT_EQUAL(off, 6);
    close(fd);
}

static void test_message_too_large(void)
{
    int fd = connect_id(bt_leader(cl->broker[0].port, "times", 0));
    CU_ASSERT_FATAL(fd >= 0);
    bk_batch_builder b;
    CU_ASSERT_EQUAL_FATAL(bk_batch_builder_init(&b, BK_CODEC_NONE), 0);
    static char big[70000];
    memset(big, 'x', sizeof big);
    bk_record r = {.key_len = -1,
                   .value = big,
                   .value_len = sizeof big,
                   .timestamp = bk_clock_wall_ms()};
    CU_ASSERT_EQUAL(bk_batch_builder_add(&b, &r), 0);
    bk_buf buf = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_batch_builder_finish(&b, &buf), 0);
    bk_batch_builder_free(&b);
    CU_ASSERT_EQUAL(bt_produce_raw(fd, "times", 0, 1, buf.data, buf.len, NULL),
                    BK_ERR_MSG_SIZE_TOO_LARGE);
    bk_buf_free(&buf);
    int64_t off = -1;
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "times", 0, -1, &off, NULL), 0);
    CU_ASSERT_EQUAL(off, 6);
    close(fd);
}

static void test_long_poll_data(void)
{
    int leader = bt_leader(cl->broker[0].port, "orders", 1);
    int a = connect_id(leader), b = connect_id(leader);
    CU_ASSERT_FATAL(a >= 0 && b >= 0);
    int64_t end = -1;
    CU_ASSERT_EQUAL(bt_list_offsets(b, "orders", 1, -1, &end, NULL), 0);
    int32_t corr = bt_corr();
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(
        bt_fetch_send(a, corr, "orders", 1, end, 5000, 1, 1 << 20, 1 << 20), 0);
    bk_h_sleep_ms(300);
    CU_ASSERT_EQUAL(bt_produce(b, "orders", 1, 1, "late", 0, 2, NULL), 0);
    bt_fetch_res r;
    bt_fetch_recv(a, corr, end, 10000, &r);
    int64_t took = bk_clock_mono_ms() - t0;
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.nrecs, 2);
    if (r.nrecs == 2)
        CU_ASSERT_STRING_EQUAL(r.recs[0].value, "late-0");
    /* Answered by the append, not by max_wait_ms. */
    CU_ASSERT(took >= 250);
    CU_ASSERT(took < 2000);
    printf("\n    long poll answered %lld ms after the fetch was sent "
           "(append at ~300 ms)\n",
           (long long)took);
    bt_fetch_free(&r);
    close(a);
    close(b);
}

static void test_long_poll_timeout(void)
{
    int leader = bt_leader(cl->broker[0].port, "orders", 1);
    int fd = connect_id(leader);
    CU_ASSERT_FATAL(fd >= 0);
    int64_t end = -1;
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "orders", 1, -1, &end, NULL), 0);
    int64_t t0 = bk_clock_mono_ms();
    bt_fetch_res r;
    bt_fetch(fd, "orders", 1, end, 600, 1, &r);
    int64_t took = bk_clock_mono_ms() - t0;
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.nrecs, 0);
    CU_ASSERT(took >= 550);
    CU_ASSERT(took < 3000);
    bt_fetch_free(&r);
    /* min_bytes larger than what exists: waits for max_wait_ms too, then
     * answers with what there is. */
    t0 = bk_clock_mono_ms();
    bt_fetch(fd, "orders", 1, 0, 400, 1 << 20, &r);
    took = bk_clock_mono_ms() - t0;
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT(r.nrecs > 0);
    CU_ASSERT(took >= 350);
    bt_fetch_free(&r);
    close(fd);
}

static void test_pipelined_order(void)
{
    int leader = bt_leader(cl->broker[0].port, "orders", 1);
    int fd = connect_id(leader);
    CU_ASSERT_FATAL(fd >= 0);
    int64_t end = -1;
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "orders", 1, -1, &end, NULL), 0);
    /* A slow request first, then two quick ones, in one burst. */
    CU_ASSERT_EQUAL(
        bt_fetch_send(fd, 501, "orders", 1, end, 700, 1, 1 << 20, 1 << 20), 0);
    Brook__Request req;
    bk_h_req_init(&req, BK_API_API_VERSIONS, 502);
    Brook__ApiVersionsRequest av = BROOK__API_VERSIONS_REQUEST__INIT;
    req.body_case = BROOK__REQUEST__BODY_API_VERSIONS;
    req.api_versions = &av;
    CU_ASSERT_EQUAL(bk_h_send_request(fd, &req), 0);
    Brook__Request req2;
    bk_h_req_init(&req2, BK_API_METADATA, 503);
    Brook__MetadataRequest mr = BROOK__METADATA_REQUEST__INIT;
    req2.body_case = BROOK__REQUEST__BODY_METADATA;
    req2.metadata = &mr;
    CU_ASSERT_EQUAL(bk_h_send_request(fd, &req2), 0);
    int64_t t0 = bk_clock_mono_ms();
    for (int32_t want = 501; want <= 503; want++) {
        Brook__Response *resp = NULL;
        CU_ASSERT_EQUAL_FATAL(bk_h_recv_response(fd, 5000, &resp), 0);
        CU_ASSERT_EQUAL(resp->header->correlation_id, want);
        if (want == 501)
            CU_ASSERT(bk_clock_mono_ms() - t0 >= 600);
        brook__response__free_unpacked(resp, NULL);
    }
    close(fd);
}

static void test_delete_topic(void)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(bt_create_topic(fd, "doomed", 1, 1), 0);
    CU_ASSERT_EQUAL_FATAL(wait_topic_all("doomed", 1), 0);
    int leader = bt_leader(cl->broker[0].port, "doomed", 0);
    int li = index_of(leader);
    CU_ASSERT_FATAL(li >= 0);
    int lfd = bk_h_connect(cl->broker[li].port);
    CU_ASSERT_EQUAL(bt_produce(lfd, "doomed", 0, 1, "d", 0, 3, NULL), 0);
    close(lfd);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", bk_h_partition_dir(cl, li, "doomed", 0));
    struct stat st;
    CU_ASSERT_EQUAL(stat(dir, &st), 0);

    CU_ASSERT_EQUAL(bt_delete_topic(fd, "doomed"), 0);
    bool gone = false;
    int64_t t0 = bk_clock_mono_ms();
    while (!gone && bk_clock_mono_ms() - t0 < 10000) {
        Brook__Response *resp = bt_metadata(fd, "doomed", false);
        gone = resp &&
               resp->metadata->topics[0]->error_code ==
                   BK_ERR_UNKNOWN_TOPIC_OR_PART &&
               stat(dir, &st) != 0;
        if (resp)
            brook__response__free_unpacked(resp, NULL);
        if (!gone)
            bk_h_sleep_ms(50);
    }
    CU_ASSERT_TRUE(gone);
    CU_ASSERT_EQUAL(bt_delete_topic(fd, "doomed"),
                    BK_ERR_UNKNOWN_TOPIC_OR_PART);
    close(fd);
}

static void test_auto_create(void)
{
    int fd = bk_h_connect(cl->broker[1].port);
    CU_ASSERT_FATAL(fd >= 0);
    Brook__Response *resp = bt_metadata(fd, "auto-made", true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    CU_ASSERT_EQUAL(resp->metadata->topics[0]->error_code,
                    BK_ERR_LEADER_NOT_AVAILABLE);
    brook__response__free_unpacked(resp, NULL);
    /* num.partitions=2 in this cluster. */
    CU_ASSERT_EQUAL(bk_h_wait_topic(cl, 1, "auto-made", 2, 10000), 0);
    /* Without allow_auto_topic_creation nothing is created. */
    resp = bt_metadata(fd, "not-made", false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    CU_ASSERT_EQUAL(resp->metadata->topics[0]->error_code,
                    BK_ERR_UNKNOWN_TOPIC_OR_PART);
    brook__response__free_unpacked(resp, NULL);
    bk_h_sleep_ms(300);
    resp = bt_metadata(fd, "not-made", false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    CU_ASSERT_EQUAL(resp->metadata->topics[0]->error_code,
                    BK_ERR_UNKNOWN_TOPIC_OR_PART);
    brook__response__free_unpacked(resp, NULL);
    close(fd);
}

/* Writes a properties file into dir and runs brookd on it; returns the
 * exit status (or -1 when still running after timeout_ms). */
static int run_brookd(const char *dir, const char *props,
                      const char *const *extra_args, int timeout_ms)
{
    char path[600], log[600];
    snprintf(path, sizeof path, "%s/broker.properties", dir);
    snprintf(log, sizeof log, "%s/out.log", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -2;
    fputs(props, f);
    fclose(f);
    char *argv[16];
    int n = 0;
    static char bin[600];
    snprintf(bin, sizeof bin, "%s", bk_h_bin("broker/brookd"));
    argv[n++] = bin;
    for (int i = 0; extra_args && extra_args[i] && n < 13; i++)
        argv[n++] = (char *)extra_args[i];
    argv[n++] = path;
    argv[n] = NULL;
    pid_t pid = bk_h_spawn(argv, log);
    if (pid < 0)
        return -2;
    int64_t t0 = bk_clock_mono_ms();
    int st;
    while (bk_clock_mono_ms() - t0 < timeout_ms) {
        if (bk_h_exited(pid, &st))
            return st;
        bk_h_sleep_ms(20);
    }
    bk_h_kill(pid, SIGKILL, 5000);
    return -1;
}

static void test_duplicate_id(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", bk_test_subdir("dup-broker"));
    char props[2048];
    snprintf(props, sizeof props,
             "broker.id=1\n"
             "listeners=PLAINTEXT://127.0.0.1:%d\n"
             "log.dirs=%s/logs\n"
             "zookeeper.connect=%s\n"
             "zookeeper.session.timeout.ms=6000\n",
             bk_h_free_port(), dir, cl->zk_connect);
    int64_t t0 = bk_clock_mono_ms();
    int st = run_brookd(dir, props, NULL, 20000);
    CU_ASSERT(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CU_ASSERT(bk_clock_mono_ms() - t0 < 10000);
    char log[600];
    snprintf(log, sizeof log, "%s/out.log", dir);
    CU_ASSERT_TRUE(bt_file_contains(log, "already registered"));
    /* The real broker 1 is untouched. */
    CU_ASSERT_EQUAL(bt_zk_exists(cl->zk_connect, "/brokers/ids/1"), 0);
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT(fd >= 0);
    Brook__Response *resp = bt_metadata(fd, NULL, false);
    CU_ASSERT_PTR_NOT_NULL(resp);
    if (resp) {
        CU_ASSERT_EQUAL(resp->metadata->n_brokers, 2);
        brook__response__free_unpacked(resp, NULL);
    }
    close(fd);
}

static void test_sigterm(void)
{
    /* Broker 2 leads one partition of "orders": its records must survive
     * the clean restart. */
    int p = bt_leader(cl->broker[0].port, "orders", 0) == 2 ? 0 : 1;
    int fd = bk_h_connect(cl->broker[1].port);
    int64_t end_before = -1;
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "orders", p, -1, &end_before, NULL), 0);
    close(fd);
    CU_ASSERT(end_before > 0);

    int64_t t0 = bk_clock_mono_ms();
    int st = bk_h_broker_signal(cl, 1, SIGTERM);
    int64_t took = bk_clock_mono_ms() - t0;
    CU_ASSERT(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT(took < 5000);
    /* The session is closed, not left to expire: the znode is gone at
     * once. */
    CU_ASSERT_EQUAL(bt_zk_exists(cl->zk_connect, "/brokers/ids/2"), -1);
    char log[600];
    snprintf(log, sizeof log, "%s/out.log", cl->broker[1].dir);
    CU_ASSERT_TRUE(bt_file_contains(log, "logs flushed and checkpointed"));
    printf("\n    SIGTERM to exit: %lld ms\n", (long long)took);

    CU_ASSERT_EQUAL_FATAL(bk_h_broker_start(cl, 1, true), 0);
    CU_ASSERT_EQUAL(bk_h_wait_topic(cl, 1, "orders", 2, 10000), 0);
    fd = bk_h_connect(cl->broker[1].port);
    bt_fetch_res r;
    bt_fetch_all(fd, "orders", p, &r);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL((int64_t)r.nrecs, end_before);
    bt_fetch_free(&r);
    close(fd);
}

/* The sd_notify protocol as systemd sees it: a datagram socket in
 * NOTIFY_SOCKET receives READY=1 once the broker is registered, WATCHDOG=1
 * every WATCHDOG_USEC / 2, and STOPPING=1 at SIGTERM. */
static void test_sd_notify(void)
{
#ifndef HAVE_SYSTEMD
    printf("\n    built without libsystemd: nothing to check\n");
#else
    char dir[512], sock[600], props[2048];
    snprintf(dir, sizeof dir, "%s", bk_test_subdir("notify-broker"));
    snprintf(sock, sizeof sock, "%s/notify.sock", dir);
    int sfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CU_ASSERT_FATAL(sfd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    CU_ASSERT_FATAL(strlen(sock) < sizeof sa.sun_path);
    strcpy(sa.sun_path, sock);
    CU_ASSERT_EQUAL_FATAL(bind(sfd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {0, 200000};
    setsockopt(sfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    snprintf(props, sizeof props,
             "broker.id=5\n"
             "listeners=PLAINTEXT://127.0.0.1:%d\n"
             "log.dirs=%s/logs\n"
             "zookeeper.connect=%s\n"
             "zookeeper.session.timeout.ms=6000\n",
             bk_h_free_port(), dir, cl->zk_connect);
    char path[600], log[600], bin[600];
    snprintf(path, sizeof path, "%s/broker.properties", dir);
    snprintf(log, sizeof log, "%s/out.log", dir);
    snprintf(bin, sizeof bin, "%s", bk_h_bin("broker/brookd"));
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(props, f);
    fclose(f);
    setenv("NOTIFY_SOCKET", sock, 1);
    setenv("WATCHDOG_USEC", "400000", 1);
    char *argv[] = {bin, path, NULL};
    pid_t pid = bk_h_spawn(argv, log);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    CU_ASSERT_FATAL(pid > 0);

    bool ready = false, registered_at_ready = false, stopping = false;
    int watchdogs = 0;
    int64_t t0 = bk_clock_mono_ms(), ready_at = 0;
    bool termed = false;
    while (bk_clock_mono_ms() - t0 < 20000 && !stopping) {
        char msg[512];
        ssize_t n = recv(sfd, msg, sizeof msg - 1, 0);
        if (n > 0) {
            msg[n] = '\0';
            if (strstr(msg, "READY=1") && !ready) {
                ready = true;
                ready_at = bk_clock_mono_ms();
                registered_at_ready =
                    bt_zk_exists(cl->zk_connect, "/brokers/ids/5") == 0;
            }
            if (strstr(msg, "WATCHDOG=1"))
                watchdogs++;
            if (strstr(msg, "STOPPING=1"))
                stopping = true;
        }
        /* Let the watchdog tick a few times, then stop the broker. */
        if (ready && !termed && bk_clock_mono_ms() - ready_at > 1100) {
            kill(pid, SIGTERM);
            termed = true;
        }
    }
    int st = bk_h_kill(pid, SIGTERM, 10000);
    close(sfd);
    CU_ASSERT_TRUE(ready);
    CU_ASSERT_TRUE(registered_at_ready);
    /* 200 ms period over ~1.1 s. */
    CU_ASSERT(watchdogs >= 3);
    CU_ASSERT_TRUE(stopping);
    CU_ASSERT(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("\n    READY=1 after registration, %d WATCHDOG=1 in ~1.1 s, "
           "STOPPING=1\n",
           watchdogs);
#endif
}

/* ---------------------------- configuration ---------------------------- */

static void test_bad_config(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", bk_test_subdir("bad-config"));
    int st = run_brookd(dir,
                        "# a typo and a bad value\n"
                        "broker.id=3\n"
                        "brokerid=3\n"
                        "zookeeper.connect=127.0.0.1:1\n"
                        "num.partitions=abc\n"
                        "listeners=HTTP://127.0.0.1:9\n",
                        NULL, 10000);
    CU_ASSERT(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 2);
    char log[600], want[700];
    snprintf(log, sizeof log, "%s/out.log", dir);
    snprintf(want, sizeof want,
             "%s/broker.properties:3: unknown key "
             "'brokerid'",
             dir);
    CU_ASSERT_TRUE(bt_file_contains(log, want));
    snprintf(want, sizeof want, "%s/broker.properties:5: num.partitions", dir);
    CU_ASSERT_TRUE(bt_file_contains(log, want));

    /* Once the types are right, the shape checks name their line too. */
    st = run_brookd(dir,
                    "broker.id=3\n"
                    "zookeeper.connect=127.0.0.1:1\n"
                    "\n"
                    "listeners=HTTP://127.0.0.1:9\n",
                    NULL, 10000);
    CU_ASSERT(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 2);
    snprintf(want, sizeof want, "%s/broker.properties:4: listeners", dir);
    CU_ASSERT_TRUE(bt_file_contains(log, want));

    /* A bad --override names the command line. */
    const char *args[] = {"--override", "log.segment.bytes=12", NULL};
    st = run_brookd(dir,
                    "broker.id=3\n"
                    "zookeeper.connect=127.0.0.1:1\n",
                    args, 10000);
    CU_ASSERT(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CU_ASSERT_TRUE(bt_file_contains(log, "command line: log.segment.bytes"));

    /* A missing required key. */
    st = run_brookd(dir, "broker.id=3\n", NULL, 10000);
    CU_ASSERT(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CU_ASSERT_TRUE(bt_file_contains(log, "zookeeper.connect"));
}

/* systemd-analyze verify on a copy of the unit whose ExecStart points at
 * the brookd just built (the installed path does not exist here).  Any
 * complaint about the unit fails the test, warnings included. */
static void test_systemd_unit(void)
{
    if (system("command -v systemd-analyze >/dev/null 2>&1") != 0) {
        printf("\n    systemd-analyze not installed: unit not verified\n");
        return;
    }
    char src[1024];
    snprintf(src, sizeof src, "%s/deploy/systemd/brookd@.service",
             BK_TOP_SRCDIR);
    FILE *f = fopen(src, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char dir[512], unit[600], out[600];
    snprintf(dir, sizeof dir, "%s", bk_test_subdir("systemd"));
    snprintf(unit, sizeof unit, "%s/brookd@.service", dir);
    snprintf(out, sizeof out, "%s/verify.out", dir);
    FILE *g = fopen(unit, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    char line[1024];
    bool exec_seen = false, notify = false, watchdog = false, hardening = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "ExecStart=/usr/bin/brookd ", 26) == 0) {
            fprintf(g, "ExecStart=%s %s", bk_h_bin("broker/brookd"), line + 26);
            exec_seen = true;
            continue;
        }
        notify |= strcmp(line, "Type=notify\n") == 0;
        watchdog |= strncmp(line, "WatchdogSec=", 12) == 0;
        hardening |= strcmp(line, "ProtectSystem=strict\n") == 0;
        fputs(line, g);
    }
    fclose(f);
    fclose(g);
    CU_ASSERT_TRUE(exec_seen);
    CU_ASSERT_TRUE(notify);
    CU_ASSERT_TRUE(watchdog);
    CU_ASSERT_TRUE(hardening);
    CU_ASSERT_TRUE(bt_file_contains(unit, "/etc/brook/broker-%i.properties"));
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && systemd-analyze verify ./brookd@1.service >'%s' 2>&1",
             dir, out);
    int rc = system(cmd);
    CU_ASSERT_EQUAL(rc, 0);
    /* No warnings about our unit either (verify exits 0 on mere
     * warnings such as unknown keys). */
    CU_ASSERT_FALSE(bt_file_contains(out, "brookd@"));
    if (rc != 0 || bt_file_contains(out, "brookd@")) {
        snprintf(cmd, sizeof cmd, "cat '%s'", out);
        (void)system(cmd);
    }
}

static CU_TestInfo broker_tests[] = {
    {"ApiVersions lists the served APIs", test_api_versions},
    {"Metadata: brokers, cluster id, unknown topic", test_metadata},
    {"CreateTopics creates logs on the leaders", test_create_topics},
    {"produce/fetch round trip, offsets, ListOffsets", test_produce_fetch},
    {"acks=0, acks=all vs min.insync.replicas, bad acks", test_acks},
    {"acks=all with a big enough ISR", test_acks_all_ok},
    {"topic config overrides reach the partition", test_topic_config},
    {"NOT_LEADER and UNKNOWN_TOPIC_OR_PART", test_not_leader},
    {"ListOffsets by timestamp", test_list_offsets_time},
    {"batch over message.max.bytes", test_message_too_large},
    {"long poll answered by an append", test_long_poll_data},
    {"long poll answered by max_wait_ms", test_long_poll_timeout},
    {"pipelined requests answered in order", test_pipelined_order},
    {"DeleteTopics removes the topic and its log", test_delete_topic},
    {"auto-creation through Metadata", test_auto_create},
    {"a second broker with the same id refuses to start", test_duplicate_id},
    {"SIGTERM: exit 0, znode gone at once, data kept", test_sigterm},
    {"sd_notify: READY after registration, watchdog, STOPPING", test_sd_notify},
    {"DescribeConfigs: a resource named twice is refused",
     test_describe_configs_duplicates},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo config_tests[] = {
    {"bad configuration: exit 2 naming file:line:key", test_bad_config},
    {"systemd unit passes systemd-analyze verify", test_systemd_unit},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    /* The ZooKeeper client's session lines would clutter the report. */
    bk_logging_set_level(BK_LVL_WARN);
    bk_test_add_suite_fn("broker", broker_tests, suite_init, suite_clean);
    bk_test_add_suite("broker-config", config_tests);
}
