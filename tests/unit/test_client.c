/*
 * test_client.c -- the parts of libbrook that need no broker: the
 * configuration table (client/conf.c), the batching and retry decisions
 * of the producer, the size bound of a record, the consumer's complete-
 * batch scan, the metadata table, and kcat-style formats (client/format.c).
 */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "client/conf.h"
#include "client/consumer.h"
#include "client/format.h"
#include "client/metadata.h"
#include "client/producer.h"
#include "common/batch.h"
#include "common/err.h"
#include "tests/unit/cu_main.h"

/* ------------------------------ config ------------------------------ */

static void test_conf_defaults(void)
{
    brook_conf *c = brook_conf_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_ACKS), -1);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_LINGER_MS), 5);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_BATCH_SIZE), 16384);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_RETRIES), 2147483647);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_DELIVERY_TIMEOUT_MS), 120000);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_MAX_IN_FLIGHT), 5);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_FETCH_MAX_WAIT_MS), 500);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_COMPRESSION_TYPE),
                    BK_CODEC_NONE);
    CU_ASSERT_STRING_EQUAL(brook_conf_get(c, "client.id"), "brook");
    CU_ASSERT_STRING_EQUAL(brook_conf_get(c, "acks"), "all");
    CU_ASSERT_PTR_NULL(brook_conf_get(c, "bootstrap.servers"));
    CU_ASSERT_PTR_NULL(brook_conf_get(c, "no.such.key"));
    brook_conf_free(c);
}

static void test_conf_set(void)
{
    brook_conf *c = brook_conf_new();
    char err[256];
    CU_ASSERT_EQUAL(brook_conf_set(c, "linger.ms", "20", err, sizeof err), 0);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_LINGER_MS), 20);
    /* a later set replaces */
    CU_ASSERT_EQUAL(brook_conf_set(c, "linger.ms", " 7 ", err, sizeof err), 0);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_LINGER_MS), 7);
    CU_ASSERT_EQUAL(brook_conf_set(c, "acks", "0", err, sizeof err), 0);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_ACKS), 0);
    CU_ASSERT_EQUAL(brook_conf_set(c, "acks", "-1", err, sizeof err), 0);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_ACKS), -1);
    CU_ASSERT_EQUAL(
        brook_conf_set(c, "compression.type", "zstd", err, sizeof err), 0);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_COMPRESSION_TYPE),
                    BK_CODEC_ZSTD);
    /* Kafka's long name is an alias */
    CU_ASSERT_EQUAL(brook_conf_set(c, "max.in.flight.requests.per.connection",
                                   "1", err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_MAX_IN_FLIGHT), 1);
    CU_ASSERT_EQUAL(brook_conf_set_kv(c, "batch.size=65536", err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_BATCH_SIZE), 65536);
    CU_ASSERT_STRING_EQUAL(brook_conf_get(c, "batch.size"), "65536");

    /* errors say what is wrong, and keep the old value */
    CU_ASSERT_EQUAL(brook_conf_set(c, "linger.ms", "abc", err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_STRING_EQUAL(err, "linger.ms: value 'abc' is not an integer");
    CU_ASSERT_EQUAL(brook_conf_int(c, BROOK_CK_LINGER_MS), 7);
    CU_ASSERT_EQUAL(brook_conf_set(c, "linger.ms", "-1", err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "outside 0..900000"));
    CU_ASSERT_EQUAL(brook_conf_set(c, "acks", "2", err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_STRING_EQUAL(err, "acks: value '2' is not one of 0, 1, all");
    CU_ASSERT_EQUAL(
        brook_conf_set(c, "compression.type", "snappy", err, sizeof err),
        -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "compression.type"));
    CU_ASSERT_EQUAL(brook_conf_set(c, "lingr.ms", "1", err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_STRING_EQUAL(err, "unknown configuration key 'lingr.ms'");
    CU_ASSERT_EQUAL(brook_conf_set_kv(c, "novalue", err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_EQUAL(brook_conf_set_kv(c, "=1", err, sizeof err), -BK_EINVAL);
    CU_ASSERT_EQUAL(brook_conf_set(c, "batch.size", "", err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_EQUAL(brook_conf_set(c, "batch.size", "99999999999999999999", err,
                                   sizeof err),
                    -BK_EINVAL);

    /* dup copies values and callbacks */
    brook_conf *d = brook_conf_dup(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(brook_conf_int(d, BROOK_CK_BATCH_SIZE), 65536);
    CU_ASSERT_STRING_EQUAL(brook_conf_get(d, "compression.type"), "zstd");
    brook_conf_free(d);
    brook_conf_free(c);
}

static void test_conf_check(void)
{
    brook_conf *c = brook_conf_new();
    char err[256];
    CU_ASSERT_EQUAL(brook_conf_check(c, err, sizeof err), -BK_EINVAL);
    CU_ASSERT_STRING_EQUAL(err, "bootstrap.servers is not set");
    brook_conf_set(c, "bootstrap.servers", "localhost", err, sizeof err);
    CU_ASSERT_EQUAL(brook_conf_check(c, err, sizeof err), -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a list of host:port"));
    brook_conf_set(c, "bootstrap.servers", "127.0.0.1:9092, h2:1,[::1]:3", err,
                   sizeof err);
    CU_ASSERT_EQUAL(brook_conf_check(c, err, sizeof err), 0);
    /* Kafka's rule: delivery.timeout.ms >= linger.ms + request.timeout.ms */
    brook_conf_set(c, "delivery.timeout.ms", "1000", err, sizeof err);
    CU_ASSERT_EQUAL(brook_conf_check(c, err, sizeof err), -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "delivery.timeout.ms (1000)"));
    brook_conf_set(c, "request.timeout.ms", "900", err, sizeof err);
    CU_ASSERT_EQUAL(brook_conf_check(c, err, sizeof err), 0);
    /* a client refuses a bad config and leaves it to the caller */
    brook_conf_set(c, "delivery.timeout.ms", "10", err, sizeof err);
    CU_ASSERT_PTR_NULL(brook_client_new(c, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "delivery.timeout.ms"));
    brook_conf_free(c);
}

static int count_server(const char *host, int port, void *arg)
{
    char *acc = arg;
    char item[300];
    snprintf(item, sizeof item, "%s|%d;", host, port);
    strcat(acc, item);
    return 0;
}

static void test_hostport(void)
{
    char host[64];
    int port;
    CU_ASSERT_EQUAL(
        brook_conf_parse_hostport("a.b:9092", 8, host, sizeof host, &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "a.b");
    CU_ASSERT_EQUAL(port, 9092);
    CU_ASSERT_EQUAL(brook_conf_parse_hostport("[fe80::1]:65535", 15, host,
                                              sizeof host, &port),
                    0);
    CU_ASSERT_STRING_EQUAL(host, "fe80::1");
    CU_ASSERT_EQUAL(port, 65535);
    const char *bad[] = {"a",     "a:",    ":1",     "a:0",   "a:65536", "a:1x",
                         "::1:2", "[::1]", "[::1]2", "a b:1", "a:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(brook_conf_parse_hostport(bad[i], strlen(bad[i]), host,
                                                  sizeof host, &port),
                        -BK_EINVAL);
    char acc[256] = "";
    CU_ASSERT_EQUAL(
        brook_conf_each_server(" h1:1 ,h2:2,[::1]:3", count_server, acc), 0);
    CU_ASSERT_STRING_EQUAL(acc, "h1|1;h2|2;::1|3;");
    CU_ASSERT_EQUAL(brook_conf_each_server("h1:1,,h2:2", NULL, NULL),
                    -BK_EINVAL);
    CU_ASSERT_EQUAL(brook_conf_each_server("", NULL, NULL), -BK_EINVAL);
}

/* ------------------------------ batching ------------------------------ */

static void test_batching_decisions(void)
{
    /* a record that would overflow the open batch starts a new one */
    CU_ASSERT_FALSE(bk_prod_needs_new_batch(0, 0, 100000, 16384));
    CU_ASSERT_FALSE(bk_prod_needs_new_batch(3, 16000, 384, 16384));
    CU_ASSERT_TRUE(bk_prod_needs_new_batch(3, 16000, 385, 16384));
    CU_ASSERT_TRUE(bk_prod_needs_new_batch(1, 20000, 1, 16384));

    int64_t wake;
    /* empty: nothing to do, ever */
    CU_ASSERT_FALSE(bk_prod_should_close(0, 0, 0, 1000, 5, 16384, true, &wake));
    CU_ASSERT_EQUAL(wake, INT64_MAX);
    /* lingering: wakes at open_since + linger */
    CU_ASSERT_FALSE(
        bk_prod_should_close(2, 200, 1000, 1003, 5, 16384, false, &wake));
    CU_ASSERT_EQUAL(wake, 1005);
    /* linger passed */
    CU_ASSERT_TRUE(
        bk_prod_should_close(2, 200, 1000, 1005, 5, 16384, false, &wake));
    /* full */
    CU_ASSERT_TRUE(
        bk_prod_should_close(90, 16384, 1000, 1000, 5, 16384, false, &wake));
    /* flush cuts linger short */
    CU_ASSERT_TRUE(
        bk_prod_should_close(1, 10, 1000, 1000, 5000, 16384, true, &wake));
    /* linger 0: at once */
    CU_ASSERT_TRUE(
        bk_prod_should_close(1, 10, 1000, 1000, 0, 16384, false, NULL));
}

static void test_retry_decisions(void)
{
    int64_t now = 10000;
    CU_ASSERT_TRUE(bk_prod_may_retry(BK_ERR_NOT_LEADER_FOR_PARTITION, 1, 3,
                                     now - 10, 1000, now));
    CU_ASSERT_TRUE(
        bk_prod_may_retry(BK_ERR_NETWORK_EXCEPTION, 3, 3, now, 1000, now));
    /* attempts exhausted */
    CU_ASSERT_FALSE(
        bk_prod_may_retry(BK_ERR_NETWORK_EXCEPTION, 4, 3, now, 1000, now));
    CU_ASSERT_FALSE(
        bk_prod_may_retry(BK_ERR_LEADER_NOT_AVAILABLE, 1, 0, now, 1000, now));
    /* delivery deadline passed */
    CU_ASSERT_FALSE(bk_prod_may_retry(BK_ERR_REQUEST_TIMED_OUT, 1, 100,
                                      now - 1000, 1000, now));
    /* not retriable */
    CU_ASSERT_FALSE(
        bk_prod_may_retry(BK_ERR_MSG_SIZE_TOO_LARGE, 1, 100, now, 1000, now));
    CU_ASSERT_FALSE(bk_prod_may_retry(BK_ERR_INVALID_REQUIRED_ACKS, 1, 100, now,
                                      1000, now));
}

static void test_record_size_bounds_encoding(void)
{
    /* the accounted size is never below what the batch really grows by */
    bk_batch_builder b;
    CU_ASSERT_EQUAL_FATAL(bk_batch_builder_init(&b, BK_CODEC_NONE), 0);
    static uint8_t big[70000];
    brook_header hs[3] = {
        {"h1", 2, "v", 1},
        {"empty", 5, "", 0},
        {"null", 4, NULL, -1},
    };
    bk_rec_header rh[3];
    for (int i = 0; i < 3; i++)
        rh[i] = (bk_rec_header){hs[i].key, hs[i].key_len, hs[i].value,
                                hs[i].value_len};
    const int32_t lens[] = {-1, 0, 1, 63, 64, 127, 8191, 8192, 70000};
    int64_t ts = 1700000000000;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
            for (int hc = 0; hc <= 3; hc += 3) {
                size_t before = bk_batch_builder_size(&b);
                bk_record r = {big, lens[i], big, lens[j], ts, rh, hc};
                /* timestamps far apart make the delta varint long */
                ts += (int64_t)1 << 40;
                CU_ASSERT_EQUAL_FATAL(bk_batch_builder_add(&b, &r), 0);
                size_t grew = bk_batch_builder_size(&b) - before;
                CU_ASSERT_TRUE(grew <=
                               bk_prod_record_size(lens[i], lens[j], hs, hc));
            }
        }
    }
    bk_batch_builder_free(&b);
}

/* ------------------------------ consumer scan ------------------------------
 */

static void make_batch(bk_buf *out, int64_t base, int n)
{
    bk_batch_builder b;
    bk_batch_builder_init(&b, BK_CODEC_NONE);
    for (int i = 0; i < n; i++) {
        char v[16];
        int len = snprintf(v, sizeof v, "v%d", i);
        bk_record r = {NULL, -1, v, len, 1000 + i, NULL, 0};
        bk_batch_builder_add(&b, &r);
    }
    size_t at = out->len;
    bk_batch_builder_finish(&b, out);
    bk_batch_set_base_offset(out->data + at, base);
    bk_batch_builder_free(&b);
}

static void test_complete_prefix(void)
{
    bk_buf buf = BK_BUF_INIT;
    make_batch(&buf, 10, 5); /* offsets 10..14 */
    size_t first = buf.len;
    make_batch(&buf, 15, 3); /* 15..17 */
    size_t total = buf.len;
    int64_t next = 10;
    size_t need;
    CU_ASSERT_EQUAL(bk_cons_complete_prefix(buf.data, total, &next, &need),
                    total);
    CU_ASSERT_EQUAL(next, 18);
    CU_ASSERT_EQUAL(need, 0);
    /* cut inside the second batch: only the first counts */
    next = 10;
    CU_ASSERT_EQUAL(bk_cons_complete_prefix(buf.data, total - 1, &next, &need),
                    first);
    CU_ASSERT_EQUAL(next, 15);
    /* cut inside the first batch's records: nothing, and it says how much
     * the batch needs */
    next = 10;
    CU_ASSERT_EQUAL(bk_cons_complete_prefix(buf.data, first - 1, &next, &need),
                    0);
    CU_ASSERT_EQUAL(next, 10);
    CU_ASSERT_EQUAL(need, first);
    /* cut inside its header: nothing, size unknown */
    CU_ASSERT_EQUAL(bk_cons_complete_prefix(buf.data, 30, &next, &need), 0);
    CU_ASSERT_EQUAL(need, 0);
    /* a fetch position inside the batch is not moved backwards */
    next = 16;
    bk_cons_complete_prefix(buf.data, first, &next, &need);
    CU_ASSERT_EQUAL(next, 16);
    bk_buf_free(&buf);
}

/* ------------------------------ metadata ------------------------------ */

static void test_metadata_apply(void)
{
    bk_md md;
    bk_md_init(&md);
    CU_ASSERT_TRUE(bk_md_topic_name_valid("page_views-1.x"));
    CU_ASSERT_FALSE(bk_md_topic_name_valid(""));
    CU_ASSERT_FALSE(bk_md_topic_name_valid(".."));
    CU_ASSERT_FALSE(bk_md_topic_name_valid("a/b"));
    char long_name[251];
    memset(long_name, 'a', 250);
    long_name[250] = 0;
    CU_ASSERT_FALSE(bk_md_topic_name_valid(long_name));
    long_name[249] = 0;
    CU_ASSERT_TRUE(bk_md_topic_name_valid(long_name));

    bool created;
    bk_topic *t = bk_md_topic_add(&md, "t1", &created);
    CU_ASSERT_TRUE(created);
    CU_ASSERT_PTR_EQUAL(bk_md_topic_add(&md, "t1", &created), t);
    CU_ASSERT_FALSE(created);
    bk_topic *gone = bk_md_topic_add(&md, "gone", NULL);
    CU_ASSERT_FALSE(t->known);

    Brook__MetadataResponseBroker b1 = BROOK__METADATA_RESPONSE_BROKER__INIT,
                                  b2 = BROOK__METADATA_RESPONSE_BROKER__INIT;
    b1.node_id = 1;
    b1.host = "127.0.0.1";
    b1.port = 9001;
    b2.node_id = 2;
    b2.host = "127.0.0.1";
    b2.port = 9002;
    Brook__MetadataResponseBroker *bs[] = {&b1, &b2};
    Brook__MetadataResponsePartition p[3];
    Brook__MetadataResponsePartition *pp[3];
    for (int i = 0; i < 3; i++) {
        brook__metadata_response_partition__init(&p[i]);
        p[i].partition_index = 2 - i; /* any order */
        p[i].leader_id = 1 + (i % 2);
        p[i].leader_epoch = 5;
        pp[i] = &p[i];
    }
    p[0].error_code = BK_ERR_LEADER_NOT_AVAILABLE; /* partition 2 */
    Brook__MetadataResponseTopic mt = BROOK__METADATA_RESPONSE_TOPIC__INIT,
                                 mg = BROOK__METADATA_RESPONSE_TOPIC__INIT;
    mt.name = "t1";
    mt.n_partitions = 3;
    mt.partitions = pp;
    mg.name = "gone";
    mg.error_code = BK_ERR_UNKNOWN_TOPIC_OR_PART;
    Brook__MetadataResponseTopic *ts[] = {&mt, &mg};
    Brook__MetadataResponse r = BROOK__METADATA_RESPONSE__INIT;
    r.n_brokers = 2;
    r.brokers = bs;
    r.n_topics = 2;
    r.topics = ts;
    CU_ASSERT_EQUAL(bk_md_apply(&md, &r), 0);
    CU_ASSERT_EQUAL(md.nbrokers, 2);
    CU_ASSERT_EQUAL(bk_md_broker_find(&md, 2)->port, 9002);
    CU_ASSERT_PTR_NULL(bk_md_broker_find(&md, 3));
    CU_ASSERT_TRUE(t->known);
    CU_ASSERT_EQUAL(t->md_nparts, 3);
    CU_ASSERT_EQUAL(t->parts[0].leader, 1);
    CU_ASSERT_EQUAL(t->parts[1].leader, 2);
    CU_ASSERT_EQUAL(t->parts[2].leader, -1); /* LEADER_NOT_AVAILABLE */
    CU_ASSERT_TRUE(bk_md_part_available(t, 0));
    CU_ASSERT_FALSE(bk_md_part_available(t, 2));
    CU_ASSERT_EQUAL(t->navail, 2);
    CU_ASSERT_TRUE(gone->known);
    CU_ASSERT_EQUAL(gone->err, BK_ERR_UNKNOWN_TOPIC_OR_PART);
    CU_ASSERT_EQUAL(gone->md_nparts, 0);

    /* a slot assigned beyond the cluster's count has no leader, and a
     * later answer does not shrink the table */
    CU_ASSERT_EQUAL(bk_md_topic_grow(t, 5), 0);
    CU_ASSERT_EQUAL(t->nparts, 5);
    CU_ASSERT_EQUAL(bk_md_apply(&md, &r), 0);
    CU_ASSERT_EQUAL(t->nparts, 5);
    CU_ASSERT_EQUAL(t->md_nparts, 3);
    CU_ASSERT_FALSE(bk_md_part_available(t, 4));
    bk_md_free(&md);
}

/* ------------------------------ formats ------------------------------ */

static void render(const char *fmt, const brook_msg *m, char *out, size_t n)
{
    bk_fmt f;
    char err[200];
    CU_ASSERT_EQUAL_FATAL(bk_fmt_parse(&f, fmt, err, sizeof err), 0);
    bk_buf b = BK_BUF_INIT;
    bk_fmt_render(&f, m, &b);
    CU_ASSERT_TRUE(bk_buf_ok(&b));
    CU_ASSERT_FATAL(b.len < n);
    memcpy(out, b.data, b.len);
    out[b.len] = 0;
    bk_buf_free(&b);
    bk_fmt_free(&f);
}

static void test_format(void)
{
    /* headers as a record carries them: encode one to get the raw form */
    bk_batch_builder bb;
    bk_batch_builder_init(&bb, BK_CODEC_NONE);
    bk_rec_header hs[2] = {{"a", 1, "1", 1}, {"b", 1, NULL, -1}};
    bk_record r = {"k", 1, "val", 3, 1234, hs, 2};
    bk_batch_builder_add(&bb, &r);
    bk_buf bytes = BK_BUF_INIT;
    bk_batch_builder_finish(&bb, &bytes);
    bk_batch_set_base_offset(bytes.data, 42);
    bk_batch_iter it;
    CU_ASSERT_EQUAL_FATAL(
        bk_batch_iter_init(&it, bytes.data, bytes.len, 1 << 20), 0);
    bk_record_view rv;
    CU_ASSERT_EQUAL_FATAL(bk_batch_iter_next(&it, &rv), 1);
    brook_msg m = {
        .type = BROOK_MSG_RECORD,
        .topic = "tp",
        .partition = 2,
        .offset = rv.offset,
        .timestamp = rv.timestamp,
        .key = rv.key,
        .key_len = rv.key_len,
        .value = rv.value,
        .value_len = rv.value_len,
        .header_count = rv.header_count,
        .hdr_raw_ = rv.headers,
        .hdr_len_ = rv.headers_len,
    };
    char out[256];
    render("%s\\n", &m, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "val\n");
    render("%t/%p@%o %T [%k=%s] %K %S {%h} 100%%\\t|", &m, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "tp/2@42 1234 [k=val] 1 3 {a=1,b} 100%\t|");
    /* null vs empty: nothing printed, the lengths tell */
    m.key = NULL;
    m.key_len = -1;
    m.value = "";
    m.value_len = 0;
    m.header_count = 0;
    m.hdr_len_ = 0;
    render("<%k><%s> %K %S {%h}", &m, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "<><> -1 0 {}");
    /* \0 gives a NUL byte */
    bk_fmt f;
    char err[200];
    CU_ASSERT_EQUAL(bk_fmt_parse(&f, "a\\0b", err, sizeof err), 0);
    bk_buf b = BK_BUF_INIT;
    bk_fmt_render(&f, &m, &b);
    CU_ASSERT_EQUAL(b.len, 3);
    CU_ASSERT_EQUAL(memcmp(b.data, "a\0b", 3), 0);
    bk_buf_free(&b);
    bk_fmt_free(&f);

    /* errors */
    CU_ASSERT_EQUAL(bk_fmt_parse(&f, "%x", err, sizeof err), -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown conversion '%x'"));
    bk_fmt_free(&f);
    CU_ASSERT_EQUAL(bk_fmt_parse(&f, "abc%", err, sizeof err), -BK_EINVAL);
    bk_fmt_free(&f);
    CU_ASSERT_EQUAL(bk_fmt_parse(&f, "\\q", err, sizeof err), -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown escape"));
    bk_fmt_free(&f);
    CU_ASSERT_EQUAL(bk_fmt_parse(&f, "x\\", err, sizeof err), -BK_EINVAL);
    bk_fmt_free(&f);

    bk_batch_iter_free(&it);
    bk_buf_free(&bytes);
    bk_batch_builder_free(&bb);
}

static CU_TestInfo conf_tests[] = {
    {"defaults", test_conf_defaults},
    {"set, aliases, errors", test_conf_set},
    {"cross-key checks", test_conf_check},
    {"host:port lists", test_hostport},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo producer_tests[] = {
    {"batch close decisions", test_batching_decisions},
    {"retry decisions", test_retry_decisions},
    {"record size bounds its encoding", test_record_size_bounds_encoding},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo misc_tests[] = {
    {"consumer complete-batch prefix", test_complete_prefix},
    {"metadata table", test_metadata_apply},
    {"kcat formats", test_format},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite("client-conf", conf_tests);
    bk_test_add_suite("client-producer", producer_tests);
    bk_test_add_suite("client-misc", misc_tests);
}
