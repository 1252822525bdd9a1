/*
 * test_zkdata.c -- the pure half of Brook's ZooKeeper layer, no ZooKeeper
 * needed: znode paths and payloads (coordinator/zkcodec: exact Kafka JSON,
 * round trips, every decoder against malformed and mutated input), topic
 * rules (coordinator/topic: names, config keys, replica assignment) and
 * the connect-string parser of coordinator/zk.  The operations that talk
 * to ZooKeeper (coordinator/zkdata, coordinator/zk) are covered by
 * tests/integration/test_zk and test_brookctl against a real server.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "coordinator/topic.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"
#include "proto/protocol.h"
#include "tests/unit/cu_main.h"

/* The buffer's bytes as a NUL-terminated string (static, for asserts). */
static const char *str(bk_buf *b)
{
    static char s[4096];
    size_t n = b->len < sizeof s - 1 ? b->len : sizeof s - 1;
    memcpy(s, b->data, n);
    s[n] = '\0';
    return s;
}

/* ------------------------------ paths ------------------------------ */

static void test_paths(void)
{
    char p[BK_ZKC_PATH_MAX];
    CU_ASSERT_EQUAL(bk_zkc_path_broker(p, 3), 0);
    CU_ASSERT_STRING_EQUAL(p, "/brokers/ids/3");
    CU_ASSERT_EQUAL(bk_zkc_path_topic(p, "t"), 0);
    CU_ASSERT_STRING_EQUAL(p, "/brokers/topics/t");
    CU_ASSERT_EQUAL(bk_zkc_path_partitions(p, "t"), 0);
    CU_ASSERT_STRING_EQUAL(p, "/brokers/topics/t/partitions");
    CU_ASSERT_EQUAL(bk_zkc_path_partition(p, "t", 7), 0);
    CU_ASSERT_STRING_EQUAL(p, "/brokers/topics/t/partitions/7");
    CU_ASSERT_EQUAL(bk_zkc_path_partition_state(p, "t", 7), 0);
    CU_ASSERT_STRING_EQUAL(p, "/brokers/topics/t/partitions/7/state");
    CU_ASSERT_EQUAL(bk_zkc_path_topic_config(p, "t"), 0);
    CU_ASSERT_STRING_EQUAL(p, "/config/topics/t");
    CU_ASSERT_EQUAL(bk_zkc_path_delete_topic(p, "t"), 0);
    CU_ASSERT_STRING_EQUAL(p, "/admin/delete_topics/t");
    CU_ASSERT_EQUAL(bk_zkc_path_consumer_offset(p, "g", "t", 2), 0);
    CU_ASSERT_STRING_EQUAL(p, "/consumers/g/offsets/t/2");
    CU_ASSERT_EQUAL(bk_zkc_path_entity_config(p, BK_ZKC_ENTITY_TOPICS, "t"), 0);
    CU_ASSERT_STRING_EQUAL(p, "/config/topics/t");
    CU_ASSERT_EQUAL(bk_zkc_path_entity_config(p, BK_ZKC_ENTITY_BROKERS,
                                              BK_ZKC_ENTITY_DEFAULT),
                    0);
    CU_ASSERT_STRING_EQUAL(p, "/config/brokers/<default>");
    CU_ASSERT_EQUAL(bk_zkc_path_entity_config(p, BK_ZKC_ENTITY_BROKERS, "3"),
                    0);
    CU_ASSERT_STRING_EQUAL(p, BK_ZKC_CONFIG_BROKERS "/3");
    /* the longest legal topic fits every path */
    char name[BK_TOPIC_NAME_MAX + 1];
    memset(name, 'x', BK_TOPIC_NAME_MAX);
    name[BK_TOPIC_NAME_MAX] = '\0';
    CU_ASSERT_EQUAL(bk_zkc_path_partition_state(p, name, INT32_MAX), 0);
    char big[600];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CU_ASSERT_EQUAL(bk_zkc_path_topic(p, big), -BK_ETOOBIG);
    int32_t id;
    CU_ASSERT_TRUE(bk_zkc_parse_id("0", &id) && id == 0);
    CU_ASSERT_TRUE(bk_zkc_parse_id("2147483647", &id) && id == INT32_MAX);
    CU_ASSERT_FALSE(bk_zkc_parse_id("2147483648", &id));
    CU_ASSERT_FALSE(bk_zkc_parse_id("01", &id));
    CU_ASSERT_FALSE(bk_zkc_parse_id("-1", &id));
    CU_ASSERT_FALSE(bk_zkc_parse_id("+1", &id));
    CU_ASSERT_FALSE(bk_zkc_parse_id("", &id));
    CU_ASSERT_FALSE(bk_zkc_parse_id("1a", &id));
}

/* ------------------------ broker registration ------------------------ */

static void test_broker_encode_exact(void)
{
    bk_zkc_broker b = {.id = 1, .jmx_port = -1, .timestamp = 1700000000123};
    strcpy(b.endpoints[0].listener, "PLAINTEXT");
    strcpy(b.endpoints[0].protocol, "PLAINTEXT");
    strcpy(b.endpoints[0].host, "broker1.example");
    b.endpoints[0].port = 9092;
    b.nendpoints = 1;
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_zkc_broker_encode(&b, &out), 0);
    CU_ASSERT_STRING_EQUAL(
        str(&out),
        "{\"version\":4,\"host\":\"broker1.example\",\"port\":9092,"
        "\"endpoints\":[\"PLAINTEXT://broker1.example:9092\"],"
        "\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"
        "\"jmx_port\":-1,\"rack\":null,\"timestamp\":\"1700000000123\"}");
    bk_zkc_broker d;
    char err[200];
    CU_ASSERT_EQUAL_FATAL(
        bk_zkc_broker_decode(1, out.data, out.len, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.id, 1);
    CU_ASSERT_EQUAL(d.version, 4);
    CU_ASSERT_STRING_EQUAL(d.host, "broker1.example");
    CU_ASSERT_EQUAL(d.port, 9092);
    CU_ASSERT_EQUAL(d.nendpoints, 1);
    CU_ASSERT_STRING_EQUAL(d.endpoints[0].listener, "PLAINTEXT");
    CU_ASSERT_STRING_EQUAL(d.endpoints[0].protocol, "PLAINTEXT");
    CU_ASSERT_STRING_EQUAL(d.endpoints[0].host, "broker1.example");
    CU_ASSERT_EQUAL(d.endpoints[0].port, 9092);
    CU_ASSERT_EQUAL(d.jmx_port, -1);
    CU_ASSERT_FALSE(d.has_rack);
    CU_ASSERT_EQUAL(d.timestamp, 1700000000123);

    /* two listeners, SSL first, IPv6, a rack: host/port come from the
     * PLAINTEXT one */
    bk_zkc_broker m = {
        .id = 2, .jmx_port = 9999, .timestamp = 5, .has_rack = true};
    strcpy(m.rack, "dc1");
    strcpy(m.endpoints[0].listener, "SECURE");
    strcpy(m.endpoints[0].protocol, "SSL");
    strcpy(m.endpoints[0].host, "::1");
    m.endpoints[0].port = 9093;
    strcpy(m.endpoints[1].listener, "CLIENT");
    strcpy(m.endpoints[1].protocol, "PLAINTEXT");
    strcpy(m.endpoints[1].host, "10.0.0.2");
    m.endpoints[1].port = 9092;
    m.nendpoints = 2;
    bk_buf_reset(&out);
    CU_ASSERT_EQUAL(bk_zkc_broker_encode(&m, &out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(str(&out), "\"SECURE://[::1]:9093\""));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(str(&out), "\"host\":\"10.0.0.2\",\"port\":9092"));
    CU_ASSERT_PTR_NOT_NULL(strstr(str(&out), "\"rack\":\"dc1\""));
    CU_ASSERT_EQUAL_FATAL(
        bk_zkc_broker_decode(2, out.data, out.len, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.nendpoints, 2);
    CU_ASSERT_STRING_EQUAL(d.endpoints[0].host, "::1");
    CU_ASSERT_STRING_EQUAL(d.endpoints[0].protocol, "SSL");
    CU_ASSERT_STRING_EQUAL(d.endpoints[1].listener, "CLIENT");
    CU_ASSERT_TRUE(d.has_rack);
    CU_ASSERT_STRING_EQUAL(d.rack, "dc1");
    char ep[400];
    bk_zkc_endpoint_string(&d.endpoints[0], ep, sizeof ep);
    CU_ASSERT_STRING_EQUAL(ep, "SECURE://[::1]:9093");

    /* no PLAINTEXT endpoint: host null, port -1 (Kafka) */
    m.nendpoints = 1;
    bk_buf_reset(&out);
    CU_ASSERT_EQUAL(bk_zkc_broker_encode(&m, &out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(str(&out), "\"host\":null,\"port\":-1"));
    CU_ASSERT_EQUAL(
        bk_zkc_broker_decode(2, out.data, out.len, &d, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(d.host, "");
    bk_buf_free(&out);
}

static int dec_broker(const char *json, bk_zkc_broker *d, char *err)
{
    return bk_zkc_broker_decode(9, json, strlen(json), d, err, 200);
}

static void test_broker_decode_versions_and_errors(void)
{
    bk_zkc_broker d;
    char err[200];
    /* version 1: host and port only */
    CU_ASSERT_EQUAL(dec_broker("{\"version\":1,\"host\":\"h\",\"port\":9092,"
                               "\"jmx_port\":-1,\"timestamp\":\"1\"}",
                               &d, err),
                    0);
    CU_ASSERT_EQUAL(d.nendpoints, 1);
    CU_ASSERT_STRING_EQUAL(d.endpoints[0].protocol, "PLAINTEXT");
    CU_ASSERT_EQUAL(d.endpoints[0].port, 9092);
    /* version 2: no protocol map, listener names are protocols */
    CU_ASSERT_EQUAL(dec_broker("{\"version\":2,\"host\":\"h\",\"port\":1,"
                               "\"jmx_port\":9,\"endpoints\":"
                               "[\"PLAINTEXT://h:1\",\"SSL://h:2\"]}",
                               &d, err),
                    0);
    CU_ASSERT_EQUAL(d.nendpoints, 2);
    CU_ASSERT_STRING_EQUAL(d.endpoints[1].protocol, "SSL");
    /* version 5 with Kafka 2.7's features map (ignored), rack absent */
    CU_ASSERT_EQUAL(
        dec_broker("{\"features\":{\"f\":{\"min_version\":1,\"max_version\":"
                   "2}},\"listener_security_protocol_map\":{\"INT\":"
                   "\"PLAINTEXT\"},\"endpoints\":[\"INT://:9092\"],"
                   "\"jmx_port\":-1,\"host\":null,\"timestamp\":"
                   "\"1600000000000\",\"port\":-1,\"version\":5}",
                   &d, err),
        0);
    CU_ASSERT_STRING_EQUAL(d.endpoints[0].host, "");
    CU_ASSERT_FALSE(d.has_rack);

    static const char *const bad[] = {
        "",
        "[]",
        "{\"version\":4}",                     /* no jmx_port */
        "{\"version\":0,\"jmx_port\":-1}",     /* version < 1 */
        "{\"version\":\"4\",\"jmx_port\":-1}", /* version a string */
        "{\"version\":4,\"jmx_port\":-1}",     /* no endpoints */
        "{\"version\":4,\"jmx_port\":-1,\"endpoints\":[]}",
        "{\"version\":4,\"jmx_port\":-1,\"endpoints\":[1]}",
        "{\"version\":4,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT:/h:1\"]}",
        "{\"version\":4,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h\"]}",
        "{\"version\":4,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:x\"]}",
        ("{\"version\":4,\"jmx_port\":-1,\"endpoints\":"
         "[\"PLAINTEXT://h:70000\"]}"),
        "{\"version\":4,\"jmx_port\":-1,\"endpoints\":[\"FOO://h:1\"]}",
        ("{\"version\":4,\"jmx_port\":-1,\"endpoints\":[\"A://h:1\"],"
         "\"listener_security_protocol_map\":{\"B\":\"SSL\"}}"),
        ("{\"version\":4,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"],"
         "\"timestamp\":\"soon\"}"),
        ("{\"version\":4,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"],"
         "\"rack\":7}"),
        "{\"version\":1,\"jmx_port\":-1,\"host\":\"h\"}", /* v1: no port */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = dec_broker(bad[i], &d, err);
        if (rc != -BK_ECORRUPT)
            printf("\naccepted: %s\n", bad[i]);
        CU_ASSERT_EQUAL(rc, -BK_ECORRUPT);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "broker registration"));
    }
    /* nine endpoints: over BK_ZKC_MAX_ENDPOINTS */
    char many[1024] = "{\"version\":4,\"jmx_port\":-1,\"endpoints\":[";
    for (int i = 0; i < 9; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many),
                 "%s\"PLAINTEXT://h:%d\"", i ? "," : "", i + 1);
    strcat(many, "]}");
    CU_ASSERT_EQUAL(dec_broker(many, &d, err), -BK_ECORRUPT);
}

/* ------------------------- topic assignment ------------------------- */

static void test_assignment_encode_decode(void)
{
    const int32_t ids[] = {1, 2, 3, 2, 3, 1};
    bk_zkc_assignment a;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_assignment_init(&a, 2, 3, ids), 0);
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_zkc_assignment_encode(&a, &out), 0);
    CU_ASSERT_STRING_EQUAL(str(&out),
                           "{\"version\":1,\"partitions\":{\"0\":[1,2,3],\"1\":"
                           "[2,3,1]}}");
    bk_zkc_assignment d;
    char err[200];
    CU_ASSERT_EQUAL_FATAL(
        bk_zkc_assignment_decode(out.data, out.len, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.version, 1);
    CU_ASSERT_EQUAL(d.nparts, 2);
    CU_ASSERT_EQUAL(d.parts[1].id, 1);
    CU_ASSERT_EQUAL(d.parts[1].nreplicas, 3);
    CU_ASSERT_EQUAL(d.parts[1].replicas[2], 1);
    CU_ASSERT_EQUAL(d.parts[0].nadding, 0);
    bk_zkc_assignment_free(&d);

    /* a reassignment in progress: written as version 2 */
    int32_t add[] = {4}, rem[] = {1};
    a.parts[0].adding = add;
    a.parts[0].nadding = 1;
    a.parts[0].removing = rem;
    a.parts[0].nremoving = 1;
    bk_buf_reset(&out);
    CU_ASSERT_EQUAL(bk_zkc_assignment_encode(&a, &out), 0);
    CU_ASSERT_STRING_EQUAL(
        str(&out),
        "{\"version\":2,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1]},"
        "\"adding_replicas\":{\"0\":[4]},\"removing_replicas\":{\"0\":[1]}}");
    bk_zkc_assignment_free(&a);

    /* version 3 (Kafka 2.8: topic_id), keys out of order, empty extras */
    const char *v3 = "{\"version\":3,\"topic_id\":\"AAAAAAAAAAAAAAAAAAAAAA\","
                     "\"partitions\":{\"10\":[5],\"2\":[6,7]},"
                     "\"adding_replicas\":{\"2\":[8]},"
                     "\"removing_replicas\":{}}";
    CU_ASSERT_EQUAL_FATAL(
        bk_zkc_assignment_decode(v3, strlen(v3), &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.version, 3);
    CU_ASSERT_STRING_EQUAL(d.topic_id, "AAAAAAAAAAAAAAAAAAAAAA");
    CU_ASSERT_EQUAL(d.nparts, 2);
    CU_ASSERT_EQUAL(d.parts[0].id, 2); /* sorted by id */
    CU_ASSERT_EQUAL(d.parts[0].nadding, 1);
    CU_ASSERT_EQUAL(d.parts[0].adding[0], 8);
    CU_ASSERT_EQUAL(d.parts[1].id, 10);
    CU_ASSERT_PTR_NOT_NULL(bk_zkc_assignment_find(&d, 10));
    CU_ASSERT_PTR_NULL(bk_zkc_assignment_find(&d, 3));
    CU_ASSERT_PTR_NULL(bk_zkc_assignment_find(&d, 11));
    bk_zkc_assignment_free(&d);

    static const char *const bad[] = {
        "{\"partitions\":{\"0\":[1]}}", /* no version */
        "{\"version\":1}",
        "{\"version\":1,\"partitions\":[]}",
        "{\"version\":1,\"partitions\":{\"01\":[1]}}",
        "{\"version\":1,\"partitions\":{\"-1\":[1]}}",
        "{\"version\":1,\"partitions\":{\"x\":[1]}}",
        "{\"version\":1,\"partitions\":{\"0\":[]}}",
        "{\"version\":1,\"partitions\":{\"0\":[1,1]}}",
        "{\"version\":1,\"partitions\":{\"0\":[-1]}}",
        "{\"version\":1,\"partitions\":{\"0\":[1.5]}}",
        "{\"version\":1,\"partitions\":{\"0\":[\"1\"]}}",
        "{\"version\":1,\"partitions\":{\"0\":1}}",
        "{\"version\":1,\"partitions\":{\"0\":[2147483648]}}",
        "{\"version\":1,\"partitions\":{\"0\":[1],\"0\":[2]}}",
        /* distinct JSON keys, the same id once read as a C string */
        "{\"version\":1,\"partitions\":{\"0\":[1],\"0\\u0000\":[2]}}",
        "{\"version\":2,\"partitions\":{\"0\":[1]},\"adding_replicas\":[]}",
        ("{\"version\":2,\"partitions\":{\"0\":[1]},\"adding_replicas\":"
         "{\"0\":[3,3]}}"),
        "{\"version\":3,\"partitions\":{\"0\":[1]},\"topic_id\":5}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = bk_zkc_assignment_decode(bad[i], strlen(bad[i]), &d, err, 200);
        if (rc != -BK_ECORRUPT)
            printf("\naccepted: %s\n", bad[i]);
        CU_ASSERT_EQUAL(rc, -BK_ECORRUPT);
        CU_ASSERT_EQUAL(d.nparts, 0); /* nothing left to free */
    }
    /* more replicas than BK_TOPIC_MAX_RF */
    char big[1024] = "{\"version\":1,\"partitions\":{\"0\":[";
    for (int i = 0; i <= BK_TOPIC_MAX_RF; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "%s%d",
                 i ? "," : "", i);
    strcat(big, "]}}");
    CU_ASSERT_EQUAL(
        bk_zkc_assignment_decode(big, strlen(big), &d, err, sizeof err),
        -BK_ECORRUPT);
    bk_buf_free(&out);
}

/* ------------------------- partition state etc ------------------------- */

static void test_pstate(void)
{
    bk_zkc_pstate s = {.leader = 2,
                       .leader_epoch = 5,
                       .controller_epoch = 3,
                       .nisr = 2,
                       .isr = {2, 1}};
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_zkc_pstate_encode(&s, &out), 0);
    CU_ASSERT_STRING_EQUAL(str(&out),
                           "{\"controller_epoch\":3,\"leader\":2,\"version\":"
                           "1,\"leader_epoch\":5,\"isr\":[2,1]}");
    bk_zkc_pstate d;
    char err[200];
    CU_ASSERT_EQUAL(
        bk_zkc_pstate_decode(out.data, out.len, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(memcmp(&d, &s, sizeof s), 0);
    /* no leader, empty ISR; key order does not matter */
    const char *none = "{\"isr\":[],\"version\":1,\"leader_epoch\":9,"
                       "\"leader\":-1,\"controller_epoch\":0}";
    CU_ASSERT_EQUAL(
        bk_zkc_pstate_decode(none, strlen(none), &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.leader, -1);
    CU_ASSERT_EQUAL(d.nisr, 0);
    static const char *const bad[] = {
        "{\"leader\":1,\"leader_epoch\":0,\"controller_epoch\":0}",
        "{\"leader\":1,\"leader_epoch\":0,\"isr\":[1]}",
        ("{\"leader\":-2,\"leader_epoch\":0,\"controller_epoch\":0,"
         "\"isr\":[]}"),
        ("{\"leader\":1,\"leader_epoch\":-1,\"controller_epoch\":0,"
         "\"isr\":[1]}"),
        ("{\"leader\":1,\"leader_epoch\":0,\"controller_epoch\":0,"
         "\"isr\":[1,1]}"),
        ("{\"leader\":1,\"leader_epoch\":0,\"controller_epoch\":0,"
         "\"isr\":{}}"),
        ("{\"leader\":\"1\",\"leader_epoch\":0,\"controller_epoch\":0,"
         "\"isr\":[1]}"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(
            bk_zkc_pstate_decode(bad[i], strlen(bad[i]), &d, err, 200),
            -BK_ECORRUPT);
    bk_buf_free(&out);
}

static void test_controller_and_epoch(void)
{
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_zkc_controller_encode(2, 1700000000000, &out), 0);
    CU_ASSERT_STRING_EQUAL(str(&out), "{\"version\":1,\"brokerid\":2,"
                                      "\"timestamp\":\"1700000000000\"}");
    int32_t id = -1;
    char err[200];
    CU_ASSERT_EQUAL(
        bk_zkc_controller_decode(out.data, out.len, &id, err, sizeof err), 0);
    CU_ASSERT_EQUAL(id, 2);
    CU_ASSERT_EQUAL(
        bk_zkc_controller_decode("{\"version\":1}", 13, &id, err, sizeof err),
        -BK_ECORRUPT);
    bk_buf_reset(&out);
    CU_ASSERT_EQUAL(bk_zkc_controller_epoch_encode(17, &out), 0);
    CU_ASSERT_STRING_EQUAL(str(&out), "17");
    int32_t e = -1;
    CU_ASSERT_EQUAL(bk_zkc_controller_epoch_decode("0", 1, &e), 0);
    CU_ASSERT_EQUAL(e, 0);
    CU_ASSERT_EQUAL(bk_zkc_controller_epoch_decode("17", 2, &e), 0);
    CU_ASSERT_EQUAL(e, 17);
    CU_ASSERT_EQUAL(bk_zkc_controller_epoch_decode("", 0, &e), -BK_ECORRUPT);
    CU_ASSERT_EQUAL(bk_zkc_controller_epoch_decode("-1", 2, &e), -BK_ECORRUPT);
    CU_ASSERT_EQUAL(bk_zkc_controller_epoch_decode("1 ", 2, &e), -BK_ECORRUPT);
    CU_ASSERT_EQUAL(bk_zkc_controller_epoch_decode("99999999999", 11, &e),
                    -BK_ECORRUPT);
    bk_buf_free(&out);
}

static void test_config_and_changes(void)
{
    bk_zkc_config c = {0};
    CU_ASSERT_EQUAL(bk_zkc_config_add(&c, "retention.ms", "1000"), 0);
    CU_ASSERT_EQUAL(bk_zkc_config_add(&c, "cleanup.policy", "delete"), 0);
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_zkc_config_encode(&c, &out), 0);
    CU_ASSERT_STRING_EQUAL(str(&out), "{\"version\":1,\"config\":{"
                                      "\"retention.ms\":\"1000\","
                                      "\"cleanup.policy\":\"delete\"}}");
    bk_zkc_config d;
    char err[200];
    CU_ASSERT_EQUAL_FATAL(
        bk_zkc_config_decode(out.data, out.len, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.n, 2);
    CU_ASSERT_STRING_EQUAL(d.kv[0].key, "cleanup.policy"); /* sorted */
    CU_ASSERT_STRING_EQUAL(bk_zkc_config_get(&d, "retention.ms"), "1000");
    CU_ASSERT_PTR_NULL(bk_zkc_config_get(&d, "segment.ms"));
    bk_zkc_config_free(&d);
    bk_zkc_config_free(&c);
    /* an empty config, and no "config" at all */
    bk_buf_reset(&out);
    CU_ASSERT_EQUAL(bk_zkc_config_encode(&c, &out), 0);
    CU_ASSERT_STRING_EQUAL(str(&out), "{\"version\":1,\"config\":{}}");
    CU_ASSERT_EQUAL(
        bk_zkc_config_decode("{\"version\":1}", 13, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.n, 0);
    const char *bad = "{\"version\":1,\"config\":{\"a\":\"1\",\"b\":2}}";
    CU_ASSERT_EQUAL(bk_zkc_config_decode(bad, strlen(bad), &d, err, sizeof err),
                    -BK_ECORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"b\""));
    CU_ASSERT_EQUAL(d.n, 0);

    /* config change notifications, versions 2 and 1 */
    bk_buf_reset(&out);
    CU_ASSERT_EQUAL(bk_zkc_config_change_encode("topics/t", &out), 0);
    CU_ASSERT_STRING_EQUAL(str(&out),
                           "{\"version\":2,\"entity_path\":\"topics/t\"}");
    char ep[300];
    CU_ASSERT_EQUAL(bk_zkc_config_change_decode(out.data, out.len, ep,
                                                sizeof ep, err, sizeof err),
                    0);
    CU_ASSERT_STRING_EQUAL(ep, "topics/t");
    const char *v1 = "{\"version\":1,\"entity_type\":\"topics\","
                     "\"entity_name\":\"u\"}";
    CU_ASSERT_EQUAL(bk_zkc_config_change_decode(v1, strlen(v1), ep, sizeof ep,
                                                err, sizeof err),
                    0);
    CU_ASSERT_STRING_EQUAL(ep, "topics/u");
    CU_ASSERT_EQUAL(bk_zkc_config_change_decode("{\"version\":2}", 13, ep,
                                                sizeof ep, err, sizeof err),
                    -BK_ECORRUPT);

    /* ISR change notifications */
    bk_zkc_tp tps[2] = {{"a", 0}, {"b", 3}};
    bk_buf_reset(&out);
    CU_ASSERT_EQUAL(bk_zkc_isr_change_encode(tps, 2, &out), 0);
    CU_ASSERT_STRING_EQUAL(str(&out), "{\"version\":1,\"partitions\":["
                                      "{\"topic\":\"a\",\"partition\":0},"
                                      "{\"topic\":\"b\",\"partition\":3}]}");
    bk_zkc_tp *got = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(
        bk_zkc_isr_change_decode(out.data, out.len, &got, &n, err, sizeof err),
        0);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_STRING_EQUAL(got[1].topic, "b");
    CU_ASSERT_EQUAL(got[1].partition, 3);
    free(got);
    const char *badisr = "{\"version\":1,\"partitions\":[{\"topic\":\"a\"}]}";
    CU_ASSERT_EQUAL(bk_zkc_isr_change_decode(badisr, strlen(badisr), &got, &n,
                                             err, sizeof err),
                    -BK_ECORRUPT);
    CU_ASSERT_PTR_NULL(got);

    /* Preferred replica election: the same JSON, its own messages. */
    bk_buf_reset(&out);
    CU_ASSERT_EQUAL(bk_zkc_preferred_encode(tps, 2, &out), 0);
    CU_ASSERT_STRING_EQUAL(str(&out), "{\"version\":1,\"partitions\":["
                                      "{\"topic\":\"a\",\"partition\":0},"
                                      "{\"topic\":\"b\",\"partition\":3}]}");
    CU_ASSERT_EQUAL_FATAL(
        bk_zkc_preferred_decode(out.data, out.len, &got, &n, err, sizeof err),
        0);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_STRING_EQUAL(got[0].topic, "a");
    CU_ASSERT_EQUAL(got[0].partition, 0);
    free(got);
    const char *badpref = "{\"version\":1,\"partitions\":[{\"topic\":\"a\","
                          "\"partition\":-1}]}";
    CU_ASSERT_EQUAL(bk_zkc_preferred_decode(badpref, strlen(badpref), &got, &n,
                                            err, sizeof err),
                    -BK_ECORRUPT);
    CU_ASSERT_PTR_NULL(got);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "preferred replica election"));
    bk_buf_free(&out);
}

static int b64val(char c)
{
    const char *t =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *p = strchr(t, c);
    return p && c ? (int)(p - t) : -1;
}

static void test_cluster_id(void)
{
    char a[BK_ZKC_CLUSTER_ID_LEN + 1], b[BK_ZKC_CLUSTER_ID_LEN + 1];
    CU_ASSERT_EQUAL(bk_zkc_cluster_id_generate(a), 0);
    CU_ASSERT_EQUAL(bk_zkc_cluster_id_generate(b), 0);
    CU_ASSERT_EQUAL(strlen(a), 22);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    /* decode the base64 and check the UUID version/variant bits */
    uint8_t u[17] = {0};
    uint32_t acc = 0;
    int bits = 0, o = 0;
    for (int i = 0; i < 22; i++) {
        int v = b64val(a[i]);
        CU_ASSERT_TRUE_FATAL(v >= 0);
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            u[o++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    CU_ASSERT_EQUAL(o, 16);
    CU_ASSERT_EQUAL(u[6] >> 4, 4);
    CU_ASSERT_EQUAL(u[8] >> 6, 2);
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_zkc_cluster_id_encode(a, &out), 0);
    char want[80];
    snprintf(want, sizeof want, "{\"version\":\"1\",\"id\":\"%s\"}", a);
    CU_ASSERT_STRING_EQUAL(str(&out), want);
    char id[64], err[200];
    CU_ASSERT_EQUAL(bk_zkc_cluster_id_decode(out.data, out.len, id, sizeof id,
                                             err, sizeof err),
                    0);
    CU_ASSERT_STRING_EQUAL(id, a);
    CU_ASSERT_EQUAL(bk_zkc_cluster_id_decode("{\"version\":\"1\",\"id\":\"\"}",
                                             24, id, sizeof id, err,
                                             sizeof err),
                    -BK_ECORRUPT);
    bk_buf_free(&out);
}

/* Every decoder against random mutations of valid payloads: an error
 * code or a success, never a crash (ASan/UBSan builds check this). */
static uint64_t rng;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void decode_all(const char *p, size_t n)
{
    char err[200], s[300];
    bk_zkc_broker b;
    bk_zkc_assignment a;
    bk_zkc_pstate st;
    bk_zkc_config c;
    bk_zkc_tp *tps;
    size_t ntp;
    int32_t i32;
    if (bk_zkc_broker_decode(1, p, n, &b, err, sizeof err) == 0)
        CU_ASSERT_TRUE(b.nendpoints >= 1 &&
                       b.nendpoints <= BK_ZKC_MAX_ENDPOINTS);
    if (bk_zkc_assignment_decode(p, n, &a, err, sizeof err) == 0) {
        for (int32_t i = 0; i < a.nparts; i++) {
            CU_ASSERT_TRUE(a.parts[i].nreplicas >= 1);
            if (i)
                CU_ASSERT_TRUE(a.parts[i - 1].id < a.parts[i].id);
        }
        bk_zkc_assignment_free(&a);
    }
    if (bk_zkc_pstate_decode(p, n, &st, err, sizeof err) == 0)
        CU_ASSERT_TRUE(st.nisr <= BK_TOPIC_MAX_RF);
    if (bk_zkc_config_decode(p, n, &c, err, sizeof err) == 0)
        bk_zkc_config_free(&c);
    if (bk_zkc_isr_change_decode(p, n, &tps, &ntp, err, sizeof err) == 0)
        free(tps);
    bk_zkc_controller_decode(p, n, &i32, err, sizeof err);
    bk_zkc_controller_epoch_decode(p, n, &i32);
    bk_zkc_config_change_decode(p, n, s, sizeof s, err, sizeof err);
    bk_zkc_cluster_id_decode(p, n, s, sizeof s, err, sizeof err);
}

static void test_decoders_fuzz(void)
{
    static const char *const seeds[] = {
        ("{\"version\":4,\"host\":\"h\",\"port\":9092,\"endpoints\":"
         "[\"PLAINTEXT://h:9092\",\"SSL://[::1]:9093\"],"
         "\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\","
         "\"SSL\":\"SSL\"},\"jmx_port\":-1,\"rack\":\"r\",\"timestamp\":"
         "\"1\"}"),
        ("{\"version\":2,\"partitions\":{\"0\":[1,2],\"1\":[2,1]},"
         "\"adding_replicas\":{\"0\":[3]},\"removing_replicas\":{}}"),
        ("{\"controller_epoch\":1,\"leader\":1,\"version\":1,"
         "\"leader_epoch\":0,\"isr\":[1,2]}"),
        "{\"version\":1,\"config\":{\"retention.ms\":\"1\"}}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}",
        "{\"version\":\"1\",\"id\":\"abc\"}",
        "{\"version\":2,\"entity_path\":\"topics/t\"}",
    };
    rng = bk_test_seed * 0x9e3779b97f4a7c15ull + 3;
    int iters = bk_test_long ? 200000 : 20000;
    char buf[512];
    for (int it = 0; it < iters; it++) {
        const char *seed = seeds[rnd() % (sizeof seeds / sizeof seeds[0])];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int muts = 1 + (int)(rnd() % 3);
        for (int m = 0; m < muts && n > 0; m++) {
            size_t pos = rnd() % n;
            switch (rnd() % 3) {
            case 0:
                buf[pos] = "0123456789-\"[]{},:x "[rnd() % 20];
                break;
            case 1:
                memmove(buf + pos, buf + pos + 1, n - pos - 1);
                n--;
                break;
            default:
                n = pos;
                break;
            }
        }
        char *heap = malloc(n ? n : 1); /* exact size: ASan sees overreads */
        memcpy(heap, buf, n);
        decode_all(heap, n);
        free(heap);
    }
}

/* ------------------------------ topic rules ------------------------------ */

static void test_topic_names(void)
{
    char err[400];
    char n249[BK_TOPIC_NAME_MAX + 2];
    memset(n249, 'a', sizeof n249);
    n249[BK_TOPIC_NAME_MAX] = '\0';
    CU_ASSERT_EQUAL(bk_topic_validate_name("a", err, sizeof err), 0);
    CU_ASSERT_EQUAL(bk_topic_validate_name("Az-09_x.y", err, sizeof err), 0);
    CU_ASSERT_EQUAL(bk_topic_validate_name("...", err, sizeof err), 0);
    CU_ASSERT_EQUAL(bk_topic_validate_name(n249, err, sizeof err), 0);
    n249[BK_TOPIC_NAME_MAX] = 'a';
    n249[BK_TOPIC_NAME_MAX + 1] = '\0';
    CU_ASSERT_EQUAL(bk_topic_validate_name(n249, err, sizeof err),
                    BK_ERR_TOPIC_EXCEPTION);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than 249"));
    CU_ASSERT_EQUAL(bk_topic_validate_name("", err, sizeof err),
                    BK_ERR_TOPIC_EXCEPTION);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty"));
    CU_ASSERT_EQUAL(bk_topic_validate_name(".", err, sizeof err),
                    BK_ERR_TOPIC_EXCEPTION);
    CU_ASSERT_STRING_EQUAL(err, "Topic name cannot be \".\" or \"..\"");
    CU_ASSERT_EQUAL(bk_topic_validate_name("..", err, sizeof err),
                    BK_ERR_TOPIC_EXCEPTION);
    static const char *const bad[] = {"a b", "a/b", "a\\b", "\xc3\xa9",
                                      "a\n", "a:b", "a*",   "t\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(bk_topic_validate_name(bad[i], err, sizeof err),
                        BK_ERR_TOPIC_EXCEPTION);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "character other than ASCII"));
    }
    CU_ASSERT_TRUE(bk_topic_has_collision_chars("a.b"));
    CU_ASSERT_TRUE(bk_topic_has_collision_chars("a_b"));
    CU_ASSERT_FALSE(bk_topic_has_collision_chars("a-b"));
    CU_ASSERT_TRUE(bk_topic_names_collide("a.b", "a_b"));
    CU_ASSERT_TRUE(bk_topic_names_collide("a_b.c", "a.b_c"));
    CU_ASSERT_FALSE(bk_topic_names_collide("a.b", "a.b"));
    CU_ASSERT_FALSE(bk_topic_names_collide("a.b", "a_bc"));
    CU_ASSERT_FALSE(bk_topic_names_collide("ab", "a_b"));
}

static void test_topic_configs(void)
{
    /* the table is sorted (lookup is a binary search) */
    size_t n;
    const bk_topic_cfg_def *defs = bk_topic_cfg_defs(&n);
    CU_ASSERT_TRUE(n >= 20);
    for (size_t i = 1; i < n; i++)
        CU_ASSERT_TRUE(strcmp(defs[i - 1].name, defs[i].name) < 0);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_PTR_EQUAL(bk_topic_cfg_lookup(defs[i].name), &defs[i]);

    static const struct {
        const char *key, *value, *norm; /* norm NULL: must fail */
        const char *msg;                /* substring of the error */
    } cases[] = {
        {"retention.ms", "86400000", "86400000", NULL},
        {"retention.ms", "-1", "-1", NULL},
        {"retention.ms", " 100 ", "100", NULL},
        {"retention.ms", "-2", NULL, "retention.ms"},
        {"retention.ms", "1d", NULL, "Not a number of type LONG"},
        {"retention.ms", "", NULL, "retention.ms"},
        {"retention.ms", "99999999999999999999", NULL, "LONG"},
        {"retention.bytes", "-1", "-1", NULL},
        {"segment.bytes", "1073741824", "1073741824", NULL},
        {"segment.bytes", "1023", NULL, "at least 1024"},
        {"segment.bytes", "2147483648", NULL, "type INT"},
        {"segment.ms", "0", NULL, "segment.ms"},
        {"min.insync.replicas", "2", "2", NULL},
        {"min.insync.replicas", "0", NULL, "at least 1"},
        {"unclean.leader.election.enable", "TRUE", "true", NULL},
        {"unclean.leader.election.enable", "yes", NULL, "true or false"},
        {"max.message.bytes", "1048588", "1048588", NULL},
        {"flush.messages", "1", "1", NULL},
        {"flush.ms", "x", NULL, "flush.ms"},
        {"index.interval.bytes", "4096", "4096", NULL},
        {"compression.type", "zstd", "zstd", NULL},
        {"compression.type", "producer", "producer", NULL},
        {"compression.type", "snappy", NULL, "not supported by Brook"},
        {"compression.type", "brotli", NULL, "compression.type"},
        {"message.timestamp.type", "LogAppendTime", "LogAppendTime", NULL},
        {"message.timestamp.type", "createtime", NULL, "CreateTime"},
        {"cleanup.policy", "delete", "delete", NULL},
        {"cleanup.policy", " delete ", "delete", NULL},
        {"cleanup.policy", "compact", NULL,
         "cleanup.policy=compact is not supported"},
        {"cleanup.policy", "delete,compact", NULL, "compact"},
        {"cleanup.policy", "delete,,delete", NULL, "cleanup.policy"},
        {"cleanup.policy", "remove", NULL, "cleanup.policy"},
        {"min.cleanable.dirty.ratio", "0.5", "0.5", NULL},
        {"min.cleanable.dirty.ratio", "1.5", NULL, "between"},
        {"min.cleanable.dirty.ratio", "nan", NULL, "DOUBLE"},
        {"min.cleanable.dirty.ratio", "0x1p-1", NULL, "DOUBLE"},
        {"preallocate", "false", "false", NULL},
        {"retention.msx", "1", NULL,
         "Unknown topic config name: "
         "retention.msx"},
        {"", "1", NULL, "Unknown topic config name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char norm[256] = "", err[300] = "";
        int rc = bk_topic_cfg_check(cases[i].key, cases[i].value, norm,
                                    sizeof norm, err, sizeof err);
        if (cases[i].norm) {
            if (rc)
                printf("\n%s=%s refused: %s\n", cases[i].key, cases[i].value,
                       err);
            CU_ASSERT_EQUAL(rc, 0);
            CU_ASSERT_STRING_EQUAL(norm, cases[i].norm);
        } else {
            CU_ASSERT_EQUAL(rc, BK_ERR_INVALID_CONFIG);
            if (!strstr(err, cases[i].msg))
                printf("\n%s=%s: message '%s' lacks '%s'\n", cases[i].key,
                       cases[i].value, err, cases[i].msg);
            CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].msg));
        }
    }
}

/* Broker-level dynamic keys and the checks of an alteration
 * (topic.c's bk_topic_broker_cfg_check, zkdata.c's pure checks). */
static void test_dynamic_configs(void)
{
    size_t n;
    const bk_dyn_cfg_def *d = bk_dyn_cfg_defs(&n);
    CU_ASSERT_EQUAL(n, 9);
    for (size_t i = 0; i < n; i++) {
        /* both names map to each other and the topic key has rules */
        CU_ASSERT_PTR_NOT_NULL(bk_topic_cfg_lookup(d[i].topic_key));
        CU_ASSERT_STRING_EQUAL(bk_dyn_cfg_topic_key(d[i].broker_key),
                               d[i].topic_key);
        char norm[64], err[300];
        CU_ASSERT_EQUAL(
            bk_topic_broker_cfg_check(d[i].broker_key, "2000", norm, sizeof norm,
                                      err, sizeof err) == 0,
            strcmp(d[i].topic_key, "unclean.leader.election.enable") != 0);
    }
    static const struct {
        const char *key, *value, *norm, *msg;
    } cases[] = {
        {"log.retention.ms", " 3600000 ", "3600000", NULL},
        {"log.retention.ms", "-1", "-1", NULL},
        {"log.retention.ms", "abc", NULL,
         "Invalid value abc for configuration log.retention.ms"},
        {"log.segment.bytes", "13", NULL, "log.segment.bytes"},
        {"log.segment.bytes", "1023", NULL, "at least 1024"},
        {"log.roll.ms", "0", NULL, "log.roll.ms"},
        {"message.max.bytes", "1048588", "1048588", NULL},
        {"min.insync.replicas", "0", NULL, "min.insync.replicas"},
        {"unclean.leader.election.enable", "TRUE", "true", NULL},
        {"unclean.leader.election.enable", "1", NULL, "true or false"},
        {"log.flush.interval.messages", "x", NULL,
         "log.flush.interval.messages"},
        {"retention.ms", "1", NULL,
         "Unknown or non-dynamic broker config name: retention.ms"},
        {"num.io.threads", "8", NULL, "log.retention.ms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char norm[64] = "", err[400] = "";
        int rc = bk_topic_broker_cfg_check(cases[i].key, cases[i].value, norm,
                                           sizeof norm, err, sizeof err);
        if (cases[i].norm) {
            CU_ASSERT_EQUAL(rc, 0);
            CU_ASSERT_STRING_EQUAL(norm, cases[i].norm);
        } else {
            CU_ASSERT_EQUAL(rc, BK_ERR_INVALID_CONFIG);
            if (!strstr(err, cases[i].msg))
                printf("\n%s=%s: '%s' lacks '%s'\n", cases[i].key,
                       cases[i].value, err, cases[i].msg);
            CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].msg));
            /* never the topic synonym's name in a broker key's message */
            const char *tk = bk_dyn_cfg_topic_key(cases[i].key);
            if (tk && strcmp(tk, cases[i].key) != 0) {
                char syn[80];
                snprintf(syn, sizeof syn, "configuration %s", tk);
                CU_ASSERT_PTR_NULL(strstr(err, syn));
            }
        }
    }

    /* entities */
    char err[400];
    CU_ASSERT_EQUAL(bk_zkd_entity_check("topics", "t", err, sizeof err), 0);
    CU_ASSERT_EQUAL(bk_zkd_entity_check("topics", "a/b", err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_EQUAL(
        bk_zkd_entity_check("brokers", "<default>", err, sizeof err), 0);
    CU_ASSERT_EQUAL(bk_zkd_entity_check("brokers", "12", err, sizeof err), 0);
    CU_ASSERT_EQUAL(bk_zkd_entity_check("brokers", "012", err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_zkd_entity_check("brokers", "-1", err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_zkd_entity_check("users", "u", err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "users"));

    /* an alteration: normalized and sorted, or refused naming the key */
    bk_zkc_kv adds[] = {{"segment.ms", " 100"},
                        {"cleanup.policy", "delete"},
                        {"unclean.leader.election.enable", "False"}};
    const char *dels[] = {"retention.ms", "flush.ms"};
    bk_zkc_config norm;
    CU_ASSERT_EQUAL_FATAL(bk_zkd_config_check("topics", "t", adds, 3, dels, 2,
                                              &norm, err, sizeof err),
                          0);
    CU_ASSERT_EQUAL_FATAL(norm.n, 3);
    CU_ASSERT_STRING_EQUAL(norm.kv[0].key, "cleanup.policy");
    CU_ASSERT_STRING_EQUAL(norm.kv[1].value, "100");
    CU_ASSERT_STRING_EQUAL(norm.kv[2].value, "false");
    bk_zkc_config_free(&norm);
    /* topic keys are not broker keys */
    CU_ASSERT_EQUAL(bk_zkd_config_check("brokers", "<default>", adds, 1, NULL,
                                        0, &norm, err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "segment.ms"));
    CU_ASSERT_EQUAL(norm.n, 0);
    bk_zkc_kv twice[] = {{"segment.ms", "1"}, {"segment.ms", "2"}};
    CU_ASSERT_EQUAL(bk_zkd_config_check("topics", "t", twice, 2, NULL, 0, NULL,
                                        err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "segment.ms"));
    const char *both[] = {"segment.ms"};
    CU_ASSERT_EQUAL(bk_zkd_config_check("topics", "t", adds, 1, both, 1, NULL,
                                        err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "segment.ms"));
    /* deleting a key Brook does not know is fine here (it must be set in
     * the znode: checked when altering) */
    const char *unknown[] = {"log.retention.ms"};
    CU_ASSERT_EQUAL(bk_zkd_config_check("topics", "t", NULL, 0, unknown, 1,
                                        NULL, err, sizeof err),
                    0);
    const char *empty[] = {""};
    CU_ASSERT_EQUAL(bk_zkd_config_check("topics", "t", NULL, 0, empty, 1,
                                        NULL, err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_zkd_config_check("brokers", "<default>", NULL, 0,
                                        unknown, 1, NULL, err, sizeof err),
                    0);
    const char *dup[] = {"log.retention.ms", "log.retention.ms"};
    CU_ASSERT_EQUAL(bk_zkd_config_check("brokers", "1", NULL, 0, dup, 2, NULL,
                                        err, sizeof err),
                    -BK_EINVAL);
    bk_zkc_kv bad[] = {{"segment.ms", "1"}, {"retention.ms", "x"}};
    CU_ASSERT_EQUAL(bk_zkd_config_check("topics", "t", bad, 2, NULL, 0, &norm,
                                        err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "retention.ms"));
    CU_ASSERT_EQUAL(norm.n, 0); /* nothing half-built is handed out */
}

static void test_assign_exact(void)
{
    /* brokers given out of order are sorted: [1,2,3]; start 0, shift 0 */
    const int32_t brokers[] = {3, 1, 2};
    int32_t out[6 * 3];
    char err[200];
    CU_ASSERT_EQUAL_FATAL(
        bk_topic_assign(brokers, 3, 6, 3, 0, 0, out, err, sizeof err), 0);
    static const int32_t want[6][3] = {{1, 2, 3}, {2, 3, 1}, {3, 1, 2},
                                       {1, 3, 2}, {2, 1, 3}, {3, 2, 1}};
    CU_ASSERT_EQUAL(memcmp(out, want, sizeof want), 0);
    /* start 1 shifts the leaders: partition 0 led by broker 2 */
    CU_ASSERT_EQUAL(
        bk_topic_assign(brokers, 3, 6, 3, 1, 0, out, err, sizeof err), 0);
    CU_ASSERT_EQUAL(out[0], 2);
    CU_ASSERT_EQUAL(out[3], 3);
    /* Kafka's documented example: 5 brokers, 10 partitions, RF 3,
     * start 0, shift 0: the second round moves followers one step */
    const int32_t five[] = {0, 1, 2, 3, 4};
    int32_t o5[10 * 3];
    CU_ASSERT_EQUAL(bk_topic_assign(five, 5, 10, 3, 0, 0, o5, err, sizeof err),
                    0);
    static const int32_t w5[10][3] = {
        {0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1},
        {0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2}};
    CU_ASSERT_EQUAL(memcmp(o5, w5, sizeof w5), 0);
    /* RF 1 over one broker */
    const int32_t one[] = {7};
    CU_ASSERT_EQUAL(bk_topic_assign(one, 1, 4, 1, 0, 0, out, err, sizeof err),
                    0);
    CU_ASSERT_TRUE(out[0] == 7 && out[3] == 7);
}

static void test_assign_errors(void)
{
    const int32_t b1[] = {1};
    int32_t out[16];
    char err[200];
    CU_ASSERT_EQUAL(bk_topic_assign(b1, 1, 1, 3, 0, 0, out, err, sizeof err),
                    BK_ERR_INVALID_REPLICATION_FACTOR);
    CU_ASSERT_STRING_EQUAL(
        err, "replication factor 3 larger than available brokers: 1");
    CU_ASSERT_EQUAL(bk_topic_assign(NULL, 0, 1, 1, 0, 0, out, err, sizeof err),
                    BK_ERR_INVALID_REPLICATION_FACTOR);
    CU_ASSERT_STRING_EQUAL(
        err, "replication factor 1 larger than available brokers: 0");
    CU_ASSERT_EQUAL(bk_topic_assign(b1, 1, 0, 1, 0, 0, out, err, sizeof err),
                    BK_ERR_INVALID_PARTITIONS);
    CU_ASSERT_EQUAL(bk_topic_assign(b1, 1, -5, 1, 0, 0, out, err, sizeof err),
                    BK_ERR_INVALID_PARTITIONS);
    CU_ASSERT_EQUAL(bk_topic_assign(b1, 1, 1, 0, 0, 0, out, err, sizeof err),
                    BK_ERR_INVALID_REPLICATION_FACTOR);
    CU_ASSERT_EQUAL(bk_topic_assign(b1, 1, 1, BK_TOPIC_MAX_RF + 1, 0, 0, out,
                                    err, sizeof err),
                    BK_ERR_INVALID_REPLICATION_FACTOR);
}

/* Properties over random shapes: no broker twice in a partition, every
 * replica a given broker, leaders spread evenly (counts differ by at most
 * one) and replicas spread evenly as well. */
static void test_assign_properties(void)
{
    rng = bk_test_seed * 6364136223846793005ull + 11;
    int iters = bk_test_long ? 20000 : 2000;
    int32_t brokers[16], *out = malloc(200 * 16 * sizeof *out);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    for (int it = 0; it < iters; it++) {
        int n = 1 + (int)(rnd() % 12);
        for (int i = 0; i < n; i++)
            brokers[i] = 100 + 7 * i; /* sparse ids */
        int rf = 1 + (int)(rnd() % (unsigned)n);
        int parts = 1 + (int)(rnd() % 200);
        int start = (int)(rnd() % (unsigned)n),
            shift = (int)(rnd() % (unsigned)n);
        char err[200];
        CU_ASSERT_EQUAL_FATAL(bk_topic_assign(brokers, n, parts, rf, start,
                                              shift, out, err, sizeof err),
                              0);
        int lead[16] = {0}, held[16] = {0};
        for (int p = 0; p < parts; p++) {
            const int32_t *r = out + p * rf;
            for (int i = 0; i < rf; i++) {
                int idx = (r[i] - 100) / 7;
                CU_ASSERT_TRUE_FATAL(idx >= 0 && idx < n &&
                                     r[i] == 100 + 7 * idx);
                held[idx]++;
                if (i == 0)
                    lead[idx]++;
                for (int j = 0; j < i; j++)
                    CU_ASSERT_TRUE_FATAL(r[i] != r[j]);
            }
        }
        int lmin = parts, lmax = 0;
        for (int i = 0; i < n; i++) {
            lmin = lead[i] < lmin ? lead[i] : lmin;
            lmax = lead[i] > lmax ? lead[i] : lmax;
        }
        CU_ASSERT_TRUE(lmax - lmin <= 1);
        /* whole rounds of n partitions hold exactly rf replicas each */
        if (parts % n == 0)
            for (int i = 0; i < n; i++)
                CU_ASSERT_EQUAL(held[i], parts / n * rf);
    }
    free(out);
}

/* ---------------------------- connect string ---------------------------- */

static void test_connect_string(void)
{
    bk_zk_connect c;
    char err[300];
    CU_ASSERT_EQUAL(bk_zk_parse_connect("127.0.0.1:2181", &c, err, sizeof err),
                    0);
    CU_ASSERT_STRING_EQUAL(c.hosts, "127.0.0.1:2181");
    CU_ASSERT_STRING_EQUAL(c.chroot, "");
    CU_ASSERT_EQUAL(bk_zk_parse_connect("a:1,b.example:2,[::1]:3/brook/prod",
                                        &c, err, sizeof err),
                    0);
    CU_ASSERT_STRING_EQUAL(c.hosts, "a:1,b.example:2,[::1]:3");
    CU_ASSERT_STRING_EQUAL(c.chroot, "/brook/prod");
    CU_ASSERT_EQUAL(bk_zk_parse_connect("h:1/", &c, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.chroot, "");
    static const char *const bad[] = {
        "",         "/chroot",   "h",      "h:",    ":1",       "h:0",
        "h:65536",  "h:x",       "h:1,",   ",h:1",  "h:1,,g:2", "h:1/a/",
        "h:1/a//b", "h:1/a/./b", "h:1/..", "h 1:2", "[::1]",    "h:1:",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = bk_zk_parse_connect(bad[i], &c, err, sizeof err);
        if (rc != -BK_EINVAL)
            printf("\naccepted connect string '%s'\n", bad[i]);
        CU_ASSERT_EQUAL(rc, -BK_EINVAL);
    }
    CU_ASSERT_EQUAL(bk_zk_parse_connect("h:1/a/", &c, err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "must not end with '/'"));
}

static CU_TestInfo codec_tests[] = {
    {"paths", test_paths},
    {"broker registration: exact JSON, round trip", test_broker_encode_exact},
    {"broker registration: versions 1-5, malformed",
     test_broker_decode_versions_and_errors},
    {"topic assignment: exact JSON, versions 1-3, malformed",
     test_assignment_encode_decode},
    {"partition state", test_pstate},
    {"controller and controller epoch", test_controller_and_epoch},
    {"topic config, config changes, ISR changes", test_config_and_changes},
    {"cluster id", test_cluster_id},
    {"decoders survive mutated payloads", test_decoders_fuzz},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo topic_tests[] = {
    {"names: Kafka's rules and collisions", test_topic_names},
    {"configs: keys, types, ranges, refusals", test_topic_configs},
    {"dynamic configs: broker keys, alteration checks", test_dynamic_configs},
    {"assignment: exact layouts", test_assign_exact},
    {"assignment: errors", test_assign_errors},
    {"assignment: properties over random shapes", test_assign_properties},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo connect_tests[] = {
    {"connect string: hosts, chroot, errors", test_connect_string},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite("zkcodec", codec_tests);
    bk_test_add_suite("topic rules", topic_tests);
    bk_test_add_suite("zk connect string", connect_tests);
}
