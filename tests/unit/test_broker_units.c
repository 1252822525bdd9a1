/*
 * test_broker_units.c -- brookd's own modules without ZooKeeper:
 * broker/brokercfg (schema, Kafka precedence rules, listener and
 * zookeeper.connect checks, file:line:key messages), broker/pool,
 * broker/metadata, broker/fetchwait (completion by bytes, by timer, by
 * partition change, cancellation) and broker/server (an in-process server
 * on the loop: pipelined requests completed out of order are answered in
 * order; undecodable frames; oversized length prefixes; half-close) and
 * broker/partition's high-watermark checkpoint (each HW starts at its
 * checkpointed value clamped to the log end, at 0 without one, and is
 * written back as replication-offset-checkpoint).
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/brokercfg.h"
#include "broker/checkpoint.h"
#include "broker/fetchwait.h"
#include "broker/metadata.h"
#include "broker/partition.h"
#include "broker/pool.h"
#include "broker/server.h"
#include "common/batch.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/frame.h"
#include "common/logging.h"
#include "proto/protocol.h"
#include "tests/unit/cu_main.h"

/* ------------------------------ brokercfg ------------------------------ */

static int load(const char *text, const char *const *ov, size_t nov,
                bk_bcfg *cfg, bk_buf *errs)
{
    bk_buf_reset(errs);
    int rc = bk_bcfg_load_string("b.properties", text, ov, nov, cfg, errs);
    bk_buf_put_u8(errs, 0);
    return rc;
}

static void test_cfg_defaults(void)
{
    bk_bcfg c;
    bk_buf e = BK_BUF_INIT;
    CU_ASSERT_EQUAL(load("broker.id=4\nzookeeper.connect=z1:2181,z2:2181/k\n",
                         NULL, 0, &c, &e),
                    0);
    CU_ASSERT_EQUAL(c.broker_id, 4);
    CU_ASSERT_STRING_EQUAL(c.listen_host, "");
    CU_ASSERT_EQUAL(c.listen_port, 9092);
    CU_ASSERT_EQUAL(c.adv_port, 9092);
    CU_ASSERT(c.adv_host[0] != '\0'); /* the host name */
    CU_ASSERT_EQUAL(c.n_log_dirs, 1);
    CU_ASSERT_STRING_EQUAL(c.log_dirs[0], "/var/lib/brook/logs");
    CU_ASSERT_EQUAL(c.zk_session_timeout_ms, 18000);
    CU_ASSERT_EQUAL(c.zk_connection_timeout_ms, 18000);
    CU_ASSERT_EQUAL(c.retention_ms, 168LL * 3600000);
    CU_ASSERT_EQUAL(c.roll_ms, 168LL * 3600000);
    CU_ASSERT_EQUAL(c.retention_bytes, -1);
    CU_ASSERT_EQUAL(c.message_max_bytes, 1048588);
    CU_ASSERT_EQUAL(c.socket_request_max_bytes, 104857600u);
    CU_ASSERT_EQUAL(c.flush_interval_messages, INT64_MAX);
    CU_ASSERT_EQUAL(c.min_insync_replicas, 1);
    CU_ASSERT_EQUAL(c.hw_checkpoint_interval_ms, 5000);
    CU_ASSERT_TRUE(c.auto_create_topics);
    CU_ASSERT_EQUAL(c.log_level, BK_LVL_INFO);
    bk_bcfg_free(&c);
    bk_buf_free(&e);
}

static void test_cfg_precedence(void)
{
    bk_bcfg c;
    bk_buf e = BK_BUF_INIT;
    /* Kafka: ms over minutes over hours; connection timeout falls back to
     * the session timeout. */
    CU_ASSERT_EQUAL(load("broker.id=1\nzookeeper.connect=z:1\n"
                         "log.retention.hours=2\nlog.retention.minutes=3\n"
                         "log.roll.hours=5\n"
                         "zookeeper.session.timeout.ms=7000\n",
                         NULL, 0, &c, &e),
                    0);
    CU_ASSERT_EQUAL(c.retention_ms, 3 * 60000);
    CU_ASSERT_EQUAL(c.roll_ms, 5LL * 3600000);
    CU_ASSERT_EQUAL(c.zk_connection_timeout_ms, 7000);
    bk_bcfg_free(&c);
    const char *ov[] = {"log.retention.ms=-1", "log.roll.ms=1234",
                        "zookeeper.connection.timeout.ms=500"};
    CU_ASSERT_EQUAL(load("broker.id=1\nzookeeper.connect=z:1\n"
                         "log.retention.hours=2\n",
                         ov, 3, &c, &e),
                    0);
    CU_ASSERT_EQUAL(c.retention_ms, -1);
    CU_ASSERT_EQUAL(c.roll_ms, 1234);
    CU_ASSERT_EQUAL(c.zk_connection_timeout_ms, 500);
    bk_bcfg_free(&c);
    bk_buf_free(&e);
}

static void test_cfg_listeners(void)
{
    bk_bcfg c;
    bk_buf e = BK_BUF_INIT;
    CU_ASSERT_EQUAL(load("broker.id=1\nzookeeper.connect=z:1\n"
                         "listeners=PLAINTEXT://[::1]:9093\n"
                         "advertised.listeners=PLAINTEXT://b1.example:19093\n",
                         NULL, 0, &c, &e),
                    0);
    CU_ASSERT_STRING_EQUAL(c.listen_host, "::1");
    CU_ASSERT_EQUAL(c.listen_port, 9093);
    CU_ASSERT_STRING_EQUAL(c.adv_host, "b1.example");
    CU_ASSERT_EQUAL(c.adv_port, 19093);
    bk_bcfg_free(&c);
    CU_ASSERT_EQUAL(load("broker.id=1\nzookeeper.connect=z:1\n"
                         "listeners=PLAINTEXT://10.0.0.1:9094\n",
                         NULL, 0, &c, &e),
                    0);
    CU_ASSERT_STRING_EQUAL(c.adv_host, "10.0.0.1");
    CU_ASSERT_EQUAL(c.adv_port, 9094);
    bk_bcfg_free(&c);

    const char *bad[] = {"SSL://h:1", "PLAINTEXT://h", "PLAINTEXT://h:99999",
                         "PLAINTEXT://h:1,PLAINTEXT://g:2", "PLAINTEXT://h:x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "broker.id=1\nzookeeper.connect=z:1\n# c\nlisteners=%s\n",
                 bad[i]);
        CU_ASSERT_EQUAL(load(text, NULL, 0, &c, &e), -BK_ECONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr((char *)e.data, "b.properties:4: "
                                                      "listeners"));
        bk_bcfg_free(&c);
    }
    bk_buf_free(&e);
}

static void test_cfg_errors(void)
{
    bk_bcfg c;
    bk_buf e = BK_BUF_INIT;
    /* Unknown key, wrong type, out of range: all reported at once. */
    CU_ASSERT_EQUAL(load("broker.id=1\nzookeeper.connect=z:1\n"
                         "brokerid=1\nnum.partitions=x\n"
                         "log.segment.bytes=10\n",
                         NULL, 0, &c, &e),
                    -BK_ECONFIG);
    const char *msg = (const char *)e.data;
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "b.properties:3: unknown key "
                                       "'brokerid'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "b.properties:4: num.partitions"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "b.properties:5: log.segment.bytes"));
    bk_bcfg_free(&c);

    /* Lines are counted through comments and continuation lines. */
    CU_ASSERT_EQUAL(load("broker.id=1\n! comment \\\n"
                         "zookeeper.connect=z:1,\\\n  y:2\n"
                         "log.dirs=relative/dir\n",
                         NULL, 0, &c, &e),
                    -BK_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)e.data, "b.properties:5: log.dirs"));
    bk_bcfg_free(&c);

    CU_ASSERT_EQUAL(
        load("broker.id=1\nzookeeper.connect=z:1/a/\n", NULL, 0, &c, &e),
        -BK_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(
        strstr((char *)e.data, "b.properties:2: zookeeper.connect"));
    bk_bcfg_free(&c);
    CU_ASSERT_EQUAL(
        load("broker.id=1\nzookeeper.connect=z:1,:5\n", NULL, 0, &c, &e),
        -BK_ECONFIG);
    bk_bcfg_free(&c);

    /* A value from an override is blamed on the command line. */
    const char *ov[] = {"listeners=PLAINTEXT://nope"};
    CU_ASSERT_EQUAL(load("broker.id=1\nzookeeper.connect=z:1\n", ov, 1, &c, &e),
                    -BK_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)e.data, "command line: listeners"));
    bk_bcfg_free(&c);

    /* Cross-key check: a batch must fit in a request. */
    CU_ASSERT_EQUAL(load("broker.id=1\nzookeeper.connect=z:1\n"
                         "socket.request.max.bytes=2048\n"
                         "message.max.bytes=2000\n",
                         NULL, 0, &c, &e),
                    -BK_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(
        strstr((char *)e.data, "b.properties:4: message.max.bytes"));
    bk_bcfg_free(&c);

    /* Required keys. */
    CU_ASSERT_EQUAL(load("", NULL, 0, &c, &e), -BK_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)e.data, "broker.id"));
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)e.data, "zookeeper.connect"));
    bk_bcfg_free(&c);
    bk_buf_free(&e);
}

/* The documented sample in deploy/config loads as it is. */
static void test_cfg_sample(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/deploy/config/broker.properties",
             BK_TOP_SRCDIR);
    bk_bcfg c;
    CU_ASSERT_EQUAL(bk_bcfg_load(path, NULL, 0, &c), 0);
    CU_ASSERT_EQUAL(c.broker_id, 1);
    CU_ASSERT_EQUAL(c.listen_port, 9092);
    CU_ASSERT_STRING_EQUAL(c.zk_connect, "127.0.0.1:2181/brook");
    CU_ASSERT_EQUAL(c.retention_ms, 168LL * 3600000);
    bk_bcfg_free(&c);
}

/* ------------------------ high-watermark checkpoint ------------------------
 */

/* Creates dir/<topic>-<p> holding n records. */
static void make_log(const char *dir, const char *topic, int32_t p, int n)
{
    bk_log_config cfg;
    bk_log_config_default(&cfg);
    bk_log *log = NULL;
    CU_ASSERT_FATAL(bk_log_open(dir, topic, p, &cfg, 0, 0, &log) == 0);
    bk_batch_builder b;
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_FATAL(bk_batch_builder_init(&b, BK_CODEC_NONE) == 0);
    for (int i = 0; i < n; i++) {
        bk_record r = {"k", 1, "v", 1, 1000 + i, NULL, 0};
        CU_ASSERT_FATAL(bk_batch_builder_add(&b, &r) == 0);
    }
    CU_ASSERT_FATAL(bk_batch_builder_finish(&b, &out) == 0);
    bk_batch_builder_free(&b);
    bk_log_append_info info;
    CU_ASSERT_EQUAL(bk_log_append(log, out.data, out.len, 0, &info), 0);
    CU_ASSERT_EQUAL(bk_log_end_offset(log), n);
    CU_ASSERT_EQUAL(bk_log_flush(log), 0);
    bk_log_close(log);
    bk_buf_free(&out);
}

static void test_hw_checkpoint(void)
{
    const char *dir = bk_test_subdir("hwck");
    make_log(dir, "t", 0, 5);
    make_log(dir, "t", 1, 5);
    make_log(dir, "t", 2, 5);
    char path[4200];
    snprintf(path, sizeof path, "%s/replication-offset-checkpoint", dir);
    bk_ckpt c = BK_CKPT_INIT;
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "t", 0, 3), 0);  /* below the LEO */
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "t", 1, 99), 0); /* past it */
    CU_ASSERT_EQUAL(bk_ckpt_write(path, &c), 0);     /* t-2: none */
    bk_ckpt_free(&c);

    bk_log_config cfg;
    bk_log_config_default(&cfg);
    char *dirs[] = {(char *)dir};
    bk_parts_opts o = {.dirs = dirs,
                       .ndirs = 1,
                       .log_cfg = &cfg,
                       .broker_id = 1,
                       .min_isr = 1};
    bk_parts *ps = NULL;
    CU_ASSERT_FATAL(bk_parts_new(&o, &ps) == 0);
    CU_ASSERT_FATAL(bk_parts_lock_dirs(ps) == 0);
    CU_ASSERT_FATAL(bk_parts_open_all(ps) == 0);
    const int64_t want[3] = {3, 5, 0};
    for (int32_t p = 0; p < 3; p++) {
        bk_part *x = bk_parts_find(ps, "t", p);
        CU_ASSERT_FATAL(x != NULL);
        CU_ASSERT_EQUAL(bk_log_end_offset(x->log), 5);
        CU_ASSERT_EQUAL(x->hw, want[p]);
    }
    /* Written back as they are. */
    bk_parts_find(ps, "t", 2)->hw = 4;
    CU_ASSERT_EQUAL(bk_parts_checkpoint_hw(ps), 0);
    bk_parts_free(ps);
    char *data = NULL;
    size_t len = 0;
    CU_ASSERT_FATAL(bk_file_read_all(path, 1 << 20, &data, &len) == 0);
    const char exp[] = "0\n3\nt 0 3\nt 1 5\nt 2 4\n";
    CU_ASSERT(len == sizeof exp - 1 && memcmp(data, exp, len) == 0);
    free(data);
}

/* -------------------------------- pool -------------------------------- */

static void test_pool(void)
{
    bk_pool p = BK_POOL_INIT;
    for (int i = 0; i < 10000; i++) {
        size_t n = 1 + (size_t)(i * 7919) % 300;
        uint8_t *x = bk_pool_alloc(&p, n);
        CU_ASSERT_PTR_NOT_NULL_FATAL(x);
        CU_ASSERT_EQUAL_FATAL((uintptr_t)x % alignof(max_align_t), 0);
        size_t nonzero = 0;
        for (size_t k = 0; k < n; k++)
            nonzero += x[k] != 0;
        CU_ASSERT_EQUAL_FATAL(nonzero, 0);
        memset(x, 0xab, n);
    }
    uint8_t *big = bk_pool_alloc(&p, 1 << 20);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    CU_ASSERT_EQUAL(big[(1 << 20) - 1], 0);
    char *s = bk_pool_strdup(&p, "hello");
    CU_ASSERT_STRING_EQUAL(s, "hello");
    CU_ASSERT_PTR_NULL(bk_pool_calloc(&p, SIZE_MAX / 2, 4));
    bk_pool_free(&p);
    CU_ASSERT_PTR_NULL(p.chunks);
    /* Reusable after free. */
    CU_ASSERT_PTR_NOT_NULL(bk_pool_alloc(&p, 10));
    bk_pool_free(&p);
}

/* ------------------------------ metadata ------------------------------ */

static void test_metadata(void)
{
    bk_md *md = bk_md_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    CU_ASSERT_EQUAL(bk_md_set_broker(md, 3, "h3", 93, ""), 0);
    CU_ASSERT_EQUAL(bk_md_set_broker(md, 1, "h1", 91, "r1"), 0);
    CU_ASSERT_EQUAL(bk_md_set_broker(md, 2, "h2", 92, ""), 0);
    CU_ASSERT_EQUAL(bk_md_set_broker(md, 2, "h2b", 192, ""), 0);
    CU_ASSERT_EQUAL(md->nbrokers, 3);
    CU_ASSERT_EQUAL(md->brokers[0].id, 1);
    CU_ASSERT_EQUAL(md->brokers[2].id, 3);
    CU_ASSERT_STRING_EQUAL(bk_md_broker_find(md, 2)->host, "h2b");
    int32_t r0[] = {1, 2}, r1[] = {2, 3};
    int32_t *reps[] = {r0, r1};
    size_t nrep[] = {2, 2};
    CU_ASSERT_EQUAL(bk_md_set_topic(md, "b", 2, reps, nrep), 0);
    CU_ASSERT_EQUAL(bk_md_set_topic(md, "a", 1, reps, nrep), 0);
    CU_ASSERT_STRING_EQUAL(md->topics[0].name, "a");
    int32_t isr[] = {2};
    CU_ASSERT_EQUAL(bk_md_set_state(md, "b", 1, 2, 5, 1, 7, isr, 1), 0);
    CU_ASSERT_EQUAL(bk_md_set_state(md, "b", 2, 2, 5, 1, 7, isr, 1),
                    -BK_ENOENT);
    const char *k[] = {"retention.ms"}, *v[] = {"1000"};
    CU_ASSERT_EQUAL(bk_md_set_topic_config(md, "b", k, v, 1), 0);
    /* Re-assigning keeps existing states and the config. */
    CU_ASSERT_EQUAL(bk_md_set_topic(md, "b", 2, reps, nrep), 0);
    const bk_md_part *p = bk_md_part_find(md, "b", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_TRUE(p->has_state);
    CU_ASSERT_EQUAL(p->leader, 2);
    CU_ASSERT_EQUAL(p->leader_epoch, 5);
    CU_ASSERT_STRING_EQUAL(
        bk_md_topic_config(bk_md_topic_find(md, "b"), "retention.ms"), "1000");

    bk_md *c = bk_md_clone(md);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    bk_md_remove_topic(md, "b");
    bk_md_remove_broker(md, 2);
    CU_ASSERT_PTR_NULL(bk_md_topic_find(md, "b"));
    /* The clone is deep. */
    p = bk_md_part_find(c, "b", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(p->replicas[1], 3);
    CU_ASSERT_EQUAL(p->isr[0], 2);
    CU_ASSERT_PTR_NOT_NULL(bk_md_broker_find(c, 2));
    CU_ASSERT_STRING_EQUAL(
        bk_md_topic_config(bk_md_topic_find(c, "b"), "retention.ms"), "1000");
    int32_t keep[] = {3};
    bk_md_retain_brokers(c, keep, 1);
    CU_ASSERT_EQUAL(c->nbrokers, 1);
    char *names[] = {"b"};
    bk_md_retain_topics(c, names, 1);
    CU_ASSERT_EQUAL(c->ntopics, 1);
    bk_md_clear_state(c, "b", 1);
    CU_ASSERT_FALSE(bk_md_part_find(c, "b", 1)->has_state);
    bk_md_free(c);
    bk_md_free(md);
}

/* ------------------------------ fetchwait ------------------------------ */

static int runs;
static int drops;

static void fw_run(bk_req *req, void *arg)
{
    (void)req;
    (void)arg;
    runs++;
}

static void fw_drop(void *arg)
{
    (void)arg;
    drops++;
}

static bk_req *fake_req(void)
{
    bk_req *r = calloc(1, sizeof *r);
    r->refs = 1;
    bk_buf_init(&r->out);
    return r;
}

static void test_fetchwait(void)
{
    bk_loop *loop = bk_loop_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    bk_fwq *q = bk_fwq_new(loop);
    bk_part p1, p2;
    memset(&p1, 0, sizeof p1);
    memset(&p2, 0, sizeof p2);
    bk_part *both[] = {&p1, &p2};
    runs = drops = 0;

    /* Completed by appends adding up to min_bytes over two partitions. */
    bk_req *r = fake_req();
    CU_ASSERT_EQUAL(
        bk_fw_wait(q, r, both, 2, 10, 100, 60000, fw_run, fw_drop, NULL), 0);
    CU_ASSERT_EQUAL(r->refs, 2);
    CU_ASSERT_EQUAL(bk_fw_count(q), 1);
    bk_fw_appended(q, &p1, 40);
    CU_ASSERT_EQUAL(runs, 0);
    bk_fw_appended(q, &p2, 50);
    CU_ASSERT_EQUAL(runs, 1);
    CU_ASSERT_EQUAL(drops, 1);
    CU_ASSERT_EQUAL(bk_fw_count(q), 0);
    CU_ASSERT_PTR_NULL(p1.waiters);
    CU_ASSERT_PTR_NULL(p2.waiters);
    CU_ASSERT_EQUAL(r->refs, 1);
    bk_req_release(r);

    /* Completed by the timer. */
    r = fake_req();
    CU_ASSERT_EQUAL(bk_fw_wait(q, r, both, 1, 0, 1, 30, fw_run, NULL, NULL), 0);
    int64_t t0 = bk_clock_mono_ms();
    while (runs == 1 && bk_clock_mono_ms() - t0 < 2000)
        bk_loop_run_once(loop, 10);
    CU_ASSERT_EQUAL(runs, 2);
    CU_ASSERT(bk_clock_mono_ms() - t0 >= 25);
    CU_ASSERT_PTR_NULL(p1.waiters);
    bk_req_release(r);

    /* Several waiters on one partition: a state change answers all. */
    bk_req *a = fake_req(), *b = fake_req(), *c = fake_req();
    bk_fw_wait(q, a, both, 1, 0, 1000, 60000, fw_run, NULL, NULL);
    bk_fw_wait(q, b, both, 2, 0, 1000, 60000, fw_run, NULL, NULL);
    bk_fw_wait(q, c, both + 1, 1, 0, 1000, 60000, fw_run, NULL, NULL);
    bk_fw_wake(q, &p1);
    CU_ASSERT_EQUAL(runs, 4);
    CU_ASSERT_EQUAL(bk_fw_count(q), 1);
    CU_ASSERT_PTR_NOT_NULL(p2.waiters); /* c still waits */
    /* A connection closing cancels without running. */
    c->abort(c);
    CU_ASSERT_EQUAL(runs, 4);
    CU_ASSERT_EQUAL(bk_fw_count(q), 0);
    CU_ASSERT_PTR_NULL(p2.waiters);
    bk_req_release(a);
    bk_req_release(b);
    bk_req_release(c);

    /* Shutdown answers whatever waits. */
    r = fake_req();
    bk_fw_wait(q, r, both, 2, 0, 1000, 60000, fw_run, fw_drop, NULL);
    bk_fwq_free(q);
    CU_ASSERT_EQUAL(runs, 5);
    CU_ASSERT_EQUAL(drops, 2);
    bk_req_release(r);
    bk_loop_free(loop);
}

/* ------------------------------- server ------------------------------- */

/* The handler answers ApiVersions requests after a delay taken from the
 * correlation id (ms = corr % 100), so later requests often complete
 * first; Metadata requests are answered at once. */
typedef struct delayed {
    bk_timer t;
    bk_req *req;
} delayed;

static bk_loop *srv_loop;

static void answer(bk_req *req)
{
    Brook__Response resp = BROOK__RESPONSE__INIT;
    Brook__ApiVersionsResponse body = BROOK__API_VERSIONS_RESPONSE__INIT;
    resp.body_case = BROOK__RESPONSE__BODY_API_VERSIONS;
    resp.api_versions = &body;
    bk_req_respond(req, &resp);
}

static void on_delay(bk_loop *loop, bk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    delayed *d = arg;
    answer(d->req);
    bk_req_release(d->req);
    free(d);
}

static void on_abort_delayed(bk_req *req)
{
    delayed *d = req->ctx;
    bk_loop_timer_cancel(srv_loop, &d->t);
    bk_req_release(d->req);
    free(d);
}

static void handler(bk_srv *srv, bk_req *req, void *arg)
{
    (void)srv;
    (void)arg;
    if (req->api_key == BK_API_API_VERSIONS) {
        delayed *d = calloc(1, sizeof *d);
        d->req = req;
        bk_req_hold(req);
        bk_timer_init(&d->t, on_delay, d);
        bk_loop_timer_arm(srv_loop, &d->t, req->correlation_id % 100);
        bk_req_set_abort(req, on_abort_delayed, d);
    } else {
        answer(req);
    }
}

typedef struct client_result {
    int port;
    int in_order; /* answers whose correlation id was the expected one */
    int garbage_closed;
    int oversize_closed;
    int invalid_answered;
    int halfclose_answers;
    int slow_head_ok;
} client_result;

static int cconnect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_req(int fd, int key, int32_t corr)
{
    Brook__Request req = BROOK__REQUEST__INIT;
    Brook__RequestHeader h = BROOK__REQUEST_HEADER__INIT;
    h.api_key = key;
    h.correlation_id = corr;
    req.header = &h;
    bk_buf b = BK_BUF_INIT;
    bk_frame_encode_request(&b, &req);
    (void)!write(fd, b.data, b.len);
    bk_buf_free(&b);
}

/* Reads one response; its correlation id and header error, or -1. */
static int32_t recv_corr(int fd, int32_t *err)
{
    uint8_t lb[4];
    size_t got = 0;
    while (got < 4) {
        ssize_t r = read(fd, lb + got, 4 - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    uint32_t n = bk_load_be32(lb);
    uint8_t *p = malloc(n);
    got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r <= 0) {
            free(p);
            return -1;
        }
        got += (size_t)r;
    }
    Brook__Response *resp = NULL;
    int32_t corr = -1;
    if (bk_frame_decode_response(p, n, &resp) == 0) {
        corr = resp->header->correlation_id;
        if (err)
            *err = resp->header->error_code;
        brook__response__free_unpacked(resp, NULL);
    }
    free(p);
    return corr;
}

static bool closed_soon(int fd)
{
    char buf[256];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0)
            return true;
        if (r < 0)
            return false; /* timeout (5 s) or error */
    }
}

static void *client_main(void *arg)
{
    client_result *res = arg;
    /* 1. 200 pipelined requests, mixed slow and quick. */
    int fd = cconnect(res->port);
    for (int32_t i = 1; i <= 200; i++)
        send_req(fd, i % 3 ? BK_API_API_VERSIONS : BK_API_METADATA,
                 i * 37 % 1000 + 1000 * i);
    for (int32_t i = 1; i <= 200; i++)
        if (recv_corr(fd, NULL) == i * 37 % 1000 + 1000 * i)
            res->in_order++;
    close(fd);
    /* 2. A frame that is not a Request and has no readable header. */
    fd = cconnect(res->port);
    uint8_t garbage[] = {0, 0, 0, 3, 0xff, 0xff, 0xff};
    (void)!write(fd, garbage, sizeof garbage);
    res->garbage_closed = closed_soon(fd);
    close(fd);
    /* 3. A length over the maximum (64 KiB here). */
    fd = cconnect(res->port);
    uint8_t big[] = {0, 1, 0, 1};
    (void)!write(fd, big, sizeof big);
    res->oversize_closed = closed_soon(fd);
    close(fd);
    /* 4. A readable header, then a broken field: an error answer. */
    fd = cconnect(res->port);
    uint8_t hdr_then_junk[] = {0,    0,    0,    8,    0x0a, 0x02,
                               0x18, 0x2a, 0x52, 0x7f, 0x00, 0x00};
    (void)!write(fd, hdr_then_junk, sizeof hdr_then_junk);
    int32_t err = 0;
    if (recv_corr(fd, &err) == 42 && err == BK_ERR_INVALID_REQUEST)
        res->invalid_answered = 1;
    close(fd);
    /* 5. Requests then half-close: every answer comes, then EOF. */
    fd = cconnect(res->port);
    send_req(fd, BK_API_API_VERSIONS, 50);
    send_req(fd, BK_API_METADATA, 51);
    shutdown(fd, SHUT_WR);
    if (recv_corr(fd, NULL) == 50 && recv_corr(fd, NULL) == 51 &&
        closed_soon(fd))
        res->halfclose_answers = 2;
    close(fd);
    /* 6. A slow head (99 ms) with quick answers queued behind it: they
     * wait for it (in order), and the server does not spin meanwhile
     * (checked by the loop's callback count in test_server). */
    fd = cconnect(res->port);
    send_req(fd, BK_API_API_VERSIONS, 299);
    for (int32_t i = 0; i < 50; i++)
        send_req(fd, BK_API_METADATA, 300 + i);
    int ok = recv_corr(fd, NULL) == 299;
    for (int32_t i = 0; i < 50; i++)
        ok &= recv_corr(fd, NULL) == 300 + i;
    res->slow_head_ok = ok;
    close(fd);
    /* 7. Requests left pending when the client disconnects: the
     * server aborts them (no leak, no crash: checked under ASan). */
    fd = cconnect(res->port);
    for (int32_t i = 0; i < 20; i++)
        send_req(fd, BK_API_API_VERSIONS, 90 + i);
    close(fd);
    return NULL;
}

static void test_server(void)
{
    srv_loop = bk_loop_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv_loop);
    bk_srv *srv = NULL;
    bk_srv_opts o = {
        .host = "127.0.0.1", .port = 0, .max_frame = 65536, .handler = handler};
    CU_ASSERT_EQUAL_FATAL(bk_srv_new(srv_loop, &o, &srv), 0);
    client_result res = {.port = bk_srv_port(srv)};
    CU_ASSERT(res.port > 0);
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, client_main, &res), 0);
    /* Run the loop until the client is done (it ends by closing). */
    int64_t t0 = bk_clock_mono_ms();
    bool done = false;
    long callbacks = 0;
    while (!done && bk_clock_mono_ms() - t0 < 30000) {
        int n = bk_loop_run_once(srv_loop, 10);
        callbacks += n > 0 ? n : 0;
        done = pthread_tryjoin_np(t, NULL) == 0;
    }
    CU_ASSERT_TRUE_FATAL(done);
    /* Let the server notice the last close. */
    int64_t tw = bk_clock_mono_ms();
    while (bk_srv_nconns(srv) > 0 && bk_clock_mono_ms() - tw < 3000) {
        int n = bk_loop_run_once(srv_loop, 10);
        callbacks += n > 0 ? n : 0;
    }
    int64_t waited = bk_clock_mono_ms() - tw;
    /* About one callback per request, connection event and timer: a few
     * hundred.  A server polling a writable socket while its head request
     * waits would run tens of thousands. */
    printf("\n    %ld loop callbacks\n", callbacks);
    CU_ASSERT(callbacks < 3000);
    CU_ASSERT_TRUE(res.slow_head_ok);
    CU_ASSERT_EQUAL(res.in_order, 200);
    CU_ASSERT_TRUE(res.garbage_closed);
    CU_ASSERT_TRUE(res.oversize_closed);
    CU_ASSERT_TRUE(res.invalid_answered);
    CU_ASSERT_EQUAL(res.halfclose_answers, 2);
    CU_ASSERT_EQUAL(bk_srv_nconns(srv), 0);
    CU_ASSERT_TRUE(bk_srv_idle(srv));
    CU_ASSERT(waited < 1000);
    bk_srv_free(srv);
    bk_loop_free(srv_loop);
}

/* The merge of controller-request states (pending) into ZooKeeper
 * pictures: per partition the newer (leader_epoch, then zk_version)
 * wins, pending entries md caught up with or that md lost are dropped. */
static void test_md_merge_pending(void)
{
    int32_t r0[] = {1, 2, 3}, r1[] = {2, 3, 1}, r2[] = {3, 1, 2};
    int32_t *reps[] = {r0, r1, r2};
    size_t nrep[] = {3, 3, 3};
    int32_t isr3[] = {1, 2, 3}, isr2[] = {2, 3}, isr1[] = {3};
    bk_md *md = bk_md_new(), *pend = bk_md_new();
    CU_ASSERT_FATAL(md && pend);
    CU_ASSERT_EQUAL(bk_md_set_topic(md, "t", 3, reps, nrep), 0);
    CU_ASSERT_EQUAL(bk_md_set_topic(md, "u", 1, reps, nrep), 0);
    CU_ASSERT_EQUAL(bk_md_set_topic(pend, "t", 3, reps, nrep), 0);
    CU_ASSERT_EQUAL(bk_md_set_topic(pend, "gone", 1, reps, nrep), 0);
    /* ZooKeeper's (older) picture. */
    bk_md_set_state(md, "t", 0, 1, 5, 1, 7, isr3, 3);
    bk_md_set_state(md, "t", 1, 2, 5, 1, 3, isr3, 3);
    bk_md_set_state(md, "t", 2, 3, 9, 1, 4, isr3, 3);
    bk_md_set_state(md, "u", 0, 1, 1, 1, 0, isr3, 3);
    /* Requests brought: t/0 a new leader (epoch 6, older zk_version
     * number must not matter), t/1 an ISR shrink (same epoch, newer
     * version), t/2 a state older than md's, gone/0 a deleted topic. */
    bk_md_set_state(pend, "t", 0, 2, 6, 2, 2, isr2, 2);
    bk_md_set_state(pend, "t", 1, 2, 5, 2, 4, isr2, 2);
    bk_md_set_state(pend, "t", 2, 1, 8, 2, 9, isr1, 1);
    bk_md_set_state(pend, "gone", 0, 1, 1, 1, 1, isr1, 1);
    CU_ASSERT_EQUAL(bk_md_merge_pending(md, pend), 2);
    const bk_md_part *p0 = bk_md_part_find(md, "t", 0);
    const bk_md_part *p1 = bk_md_part_find(md, "t", 1);
    const bk_md_part *p2 = bk_md_part_find(md, "t", 2);
    CU_ASSERT(p0->leader == 2 && p0->leader_epoch == 6 && p0->nisr == 2);
    CU_ASSERT(p1->leader == 2 && p1->zk_version == 4 && p1->nisr == 2 &&
              p1->isr[0] == 2 && p1->isr[1] == 3);
    CU_ASSERT(p2->leader == 3 && p2->leader_epoch == 9 && p2->nisr == 3);
    /* Kept: t/0 and t/1 (md's source has not caught up); dropped: t/2
     * (older) and the deleted topic. */
    CU_ASSERT_PTR_NULL(bk_md_topic_find(pend, "gone"));
    CU_ASSERT_TRUE(bk_md_part_find(pend, "t", 0)->has_state);
    CU_ASSERT_TRUE(bk_md_part_find(pend, "t", 1)->has_state);
    CU_ASSERT_FALSE(bk_md_part_find(pend, "t", 2)->has_state);

    /* A later, still older picture from the worker: the pending states
     * win again (the request is not undone). */
    bk_md *md2 = bk_md_new();
    CU_ASSERT_FATAL(md2 != NULL);
    CU_ASSERT_EQUAL(bk_md_set_topic(md2, "t", 3, reps, nrep), 0);
    bk_md_set_state(md2, "t", 0, 1, 5, 1, 7, isr3, 3);
    bk_md_set_state(md2, "t", 1, 2, 5, 1, 4, isr2, 2); /* caught up */
    CU_ASSERT_EQUAL(bk_md_merge_pending(md2, pend), 1);
    CU_ASSERT_EQUAL(bk_md_part_find(md2, "t", 0)->leader, 2);
    CU_ASSERT_FALSE(bk_md_part_find(pend, "t", 1)->has_state);
    /* ZooKeeper catches up with t/0, even passes it: nothing applied,
     * pending empties. */
    bk_md_set_state(md2, "t", 0, 3, 7, 2, 3, isr1, 1);
    CU_ASSERT_EQUAL(bk_md_merge_pending(md2, pend), 0);
    CU_ASSERT_EQUAL(bk_md_part_find(md2, "t", 0)->leader, 3);
    CU_ASSERT_EQUAL(pend->ntopics, 0);

    /* Ordering helper: absent < present; epoch before version. */
    bk_md_part a = {.has_state = true, .leader_epoch = 2, .zk_version = 1};
    bk_md_part b = {.has_state = true, .leader_epoch = 1, .zk_version = 9};
    bk_md_part none = {.has_state = false};
    CU_ASSERT(bk_md_state_cmp(&a, &b) > 0);
    CU_ASSERT(bk_md_state_cmp(&b, &a) < 0);
    CU_ASSERT(bk_md_state_cmp(&none, &b) < 0);
    CU_ASSERT_EQUAL(bk_md_state_cmp(&a, &a), 0);
    bk_md_free(md);
    bk_md_free(md2);
    bk_md_free(pend);
}

static CU_TestInfo cfg_tests[] = {
    {"defaults", test_cfg_defaults},
    {"Kafka precedence (ms/minutes/hours, fallbacks)", test_cfg_precedence},
    {"listeners and advertised.listeners", test_cfg_listeners},
    {"errors name file:line:key, all at once", test_cfg_errors},
    {"deploy/config/broker.properties is valid", test_cfg_sample},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo misc_tests[] = {
    {"pool", test_pool},
    {"metadata picture", test_metadata},
    {"metadata: controller states merged, newer wins", test_md_merge_pending},
    {"delayed fetches", test_fetchwait},
    {"server: order, bad frames, half-close", test_server},
    {"high-watermark checkpoint", test_hw_checkpoint},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    /* BK_DEBUG=1 shows the server's debug lines while hunting a failure. */
    bk_logging_set_level(getenv("BK_DEBUG") ? BK_LVL_DEBUG : BK_LVL_ERROR);
    bk_test_add_suite("brokercfg", cfg_tests);
    bk_test_add_suite("broker-modules", misc_tests);
}
