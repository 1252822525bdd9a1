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

static void register_metrics_suite(void);
static void register_dynconfig_suite(void);

void bk_test_register(void)
{
    /* BK_DEBUG=1 shows the server's debug lines while hunting a failure. */
    bk_logging_set_level(getenv("BK_DEBUG") ? BK_LVL_DEBUG : BK_LVL_ERROR);
    bk_test_add_suite("brokercfg", cfg_tests);
    bk_test_add_suite("broker-modules", misc_tests);
    register_metrics_suite();
    register_dynconfig_suite();
}

/* ------------------------------- metrics -------------------------------
 * broker/metrics (issue #6): the registry's exposition text, the record
 * counter of fetched batches, the metrics.listener key, the HTTP request
 * parser (table + fuzz: never reads out of bounds, decisions are stable
 * as more bytes arrive) and the endpoint on a real loop (statuses, sizes,
 * timeouts). */

#include <fcntl.h>

#include "broker/broker.h"
#include "broker/metrics.h"

static void test_metrics_registry(void)
{
    bk_mreg *r = bk_mreg_new();
    CU_ASSERT_FATAL(r != NULL);
    static const char *const ln[1] = {"topic"};
    static const double bounds[2] = {0.5, 2};
    bk_mfam *c = bk_mreg_family(r, BK_M_COUNTER, "t_bytes_total",
                                "Bytes \\ in\nline two", ln, 1, NULL, 0);
    bk_mfam *g =
        bk_mreg_family(r, BK_M_GAUGE, "t_gauge", "A gauge.", NULL, 0, NULL, 0);
    bk_mfam *h = bk_mreg_family(r, BK_M_HISTOGRAM, "t_seconds", "Latency.", ln,
                                1, bounds, 2);
    CU_ASSERT_FATAL(c && g && h);
    const char *odd[1] = {"a\"b\\c\nd"};
    const char *plain[1] = {"x"};
    bk_mser *s1 = bk_mfam_series(c, plain);
    bk_mser *s2 = bk_mfam_series(c, odd);
    CU_ASSERT_PTR_EQUAL(bk_mfam_series(c, plain), s1); /* found, not new */
    bk_mser_add(s1, 5);
    bk_mser_add(s1, 7);
    bk_mser_add(s2, 18446744073709551615ULL); /* exact, not a double */
    bk_mser_set(bk_mfam_series(g, NULL), 0.25);
    bk_mser *hs = bk_mfam_series(h, plain);
    bk_mser_observe(hs, 0.1);
    bk_mser_observe(hs, 0.5); /* le is inclusive */
    bk_mser_observe(hs, 1);
    bk_mser_observe(hs, 100);
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_mreg_render(r, &out), 0);
    bk_buf_put_u8(&out, 0);
    const char *want =
        "# HELP t_bytes_total Bytes \\\\ in\\nline two\n"
        "# TYPE t_bytes_total counter\n"
        "t_bytes_total{topic=\"x\"} 12\n"
        "t_bytes_total{topic=\"a\\\"b\\\\c\\nd\"} 18446744073709551615\n"
        "# HELP t_gauge A gauge.\n"
        "# TYPE t_gauge gauge\n"
        "t_gauge 0.25\n"
        "# HELP t_seconds Latency.\n"
        "# TYPE t_seconds histogram\n"
        "t_seconds_bucket{topic=\"x\",le=\"0.5\"} 2\n"
        "t_seconds_bucket{topic=\"x\",le=\"2\"} 3\n"
        "t_seconds_bucket{topic=\"x\",le=\"+Inf\"} 4\n"
        "t_seconds_sum{topic=\"x\"} 101.6\n"
        "t_seconds_count{topic=\"x\"} 4\n";
    CU_ASSERT_STRING_EQUAL((char *)out.data, want);
    /* A removed series is gone from the text. */
    bk_mser_remove(s2);
    bk_buf_reset(&out);
    CU_ASSERT_EQUAL(bk_mreg_render(r, &out), 0);
    bk_buf_put_u8(&out, 0);
    CU_ASSERT_PTR_NULL(strstr((char *)out.data, "a\\\"b"));
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)out.data, "{topic=\"x\"} 12\n"));
    bk_buf_free(&out);
    bk_mreg_free(r);
}

static void test_metrics_count_records(void)
{
    bk_batch_builder b;
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_FATAL(bk_batch_builder_init(&b, BK_CODEC_NONE) == 0);
    for (int n = 3; n <= 5; n += 2) {
        for (int i = 0; i < n; i++) {
            bk_record rec = {"k", 1, "value", 5, 1000 + i, NULL, 0};
            CU_ASSERT_FATAL(bk_batch_builder_add(&b, &rec) == 0);
        }
        CU_ASSERT_FATAL(bk_batch_builder_finish(&b, &out) == 0);
        bk_batch_builder_reset(&b);
    }
    bk_batch_builder_free(&b);
    CU_ASSERT_EQUAL(bk_metrics_count_records(out.data, out.len), 8);
    /* A torn last batch (a fetch cut at its limit) is not counted. */
    CU_ASSERT_EQUAL(bk_metrics_count_records(out.data, out.len - 1), 3);
    CU_ASSERT_EQUAL(bk_metrics_count_records(out.data, 60), 0);
    uint8_t junk[200];
    memset(junk, 0xff, sizeof junk);
    CU_ASSERT_EQUAL(bk_metrics_count_records(junk, sizeof junk), 0);
    bk_buf_free(&out);
}

static void test_metrics_cfg(void)
{
    bk_bcfg c;
    bk_buf e = BK_BUF_INIT;
    CU_ASSERT_EQUAL(
        load("broker.id=1\nzookeeper.connect=z:1\n", NULL, 0, &c, &e), 0);
    CU_ASSERT_FALSE(c.metrics_enabled);
    bk_bcfg_free(&c);
    CU_ASSERT_EQUAL(load("broker.id=1\nzookeeper.connect=z:1\n"
                         "metrics.listener=127.0.0.1:9404\n",
                         NULL, 0, &c, &e),
                    0);
    CU_ASSERT(c.metrics_enabled);
    CU_ASSERT_STRING_EQUAL(c.metrics_host, "127.0.0.1");
    CU_ASSERT_EQUAL(c.metrics_port, 9404);
    bk_bcfg_free(&c);
    CU_ASSERT_EQUAL(load("broker.id=1\nzookeeper.connect=z:1\n"
                         "metrics.listener=[::1]:0\n",
                         NULL, 0, &c, &e),
                    0);
    CU_ASSERT(c.metrics_enabled);
    CU_ASSERT_STRING_EQUAL(c.metrics_host, "::1");
    bk_bcfg_free(&c);
    const char *bad[] = {
        "http://127.0.0.1:9404", "localhost", "h:99999", "h:1,g:2", "h:x",
        "127.0.0.1:9092"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "broker.id=1\nzookeeper.connect=z:1\n"
                 "listeners=PLAINTEXT://127.0.0.1:9092\nmetrics.listener=%s\n",
                 bad[i]);
        CU_ASSERT_EQUAL(load(text, NULL, 0, &c, &e), -BK_ECONFIG);
        CU_ASSERT_PTR_NOT_NULL(
            strstr((char *)e.data, "b.properties:4: metrics.listener"));
        bk_bcfg_free(&c);
    }
    bk_buf_free(&e);
}

static int parse_str(const char *s, bk_mhttp_req *r)
{
    return bk_mhttp_parse((const uint8_t *)s, strlen(s), r);
}

static void test_metrics_parse(void)
{
    static const struct {
        const char *req;
        int rc, status;
        bool head;
    } cases[] = {
        {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 0, 200, false},
        {"GET /metrics HTTP/1.0\r\n\r\n", 0, 200, false},
        {"GET /metrics?x=1 HTTP/1.1\nAccept: */*\n\n", 0, 200, false},
        {"GET http://h:9404/metrics HTTP/1.1\r\n\r\n", 0, 200, false},
        {"HEAD /metrics HTTP/1.1\r\n\r\n", 0, 200, true},
        {"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\n", 0, 405, false},
        {"DELETE /metrics HTTP/1.1\r\n\r\n", 0, 405, false},
        {"GET / HTTP/1.1\r\n\r\n", 0, 404, false},
        {"GET /metricsx HTTP/1.1\r\n\r\n", 0, 404, false},
        {"GET /metrics HTTP/2.0\r\n\r\n", 0, 505, false},
        {"GET /metrics HTTP/1.1 x\r\n", 0, 400, false},
        {"GET  /metrics HTTP/1.1\r\n", 0, 400, false},
        {"GET /metrics\r\n", 0, 400, false},
        {"\r\n\r\n", 0, 400, false},
        {"\x16\x03\x01\x02", 0, 400, false}, /* a TLS hello */
        {"GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n", 0, 400, false},
        {"GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 0, 400, false},
        {"GET /metrics HTTP/1.1\r\nA: b\x01\r\n\r\n", 0, 400, false},
        {"GET /metrics HTTP/1.1\r\nHost: x\r\n", BK_AGAIN, 0, false},
        {"GET /metr", BK_AGAIN, 0, false},
        {"", BK_AGAIN, 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bk_mhttp_req r;
        int rc = parse_str(cases[i].req, &r);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc != cases[i].rc)
            fprintf(stderr, "case %zu: rc %d\n", i, rc);
        if (rc == 0) {
            CU_ASSERT_EQUAL(r.status, cases[i].status);
            if (r.status != cases[i].status)
                fprintf(stderr, "case %zu: status %d\n", i, r.status);
            CU_ASSERT_EQUAL(r.head, cases[i].head);
            CU_ASSERT(r.consumed <= strlen(cases[i].req));
        }
    }
    /* A head that never ends: 431 once the buffer is full. */
    static uint8_t big[BK_MHTTP_MAX_REQUEST + 100];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
    bk_mhttp_req r;
    CU_ASSERT_EQUAL(bk_mhttp_parse(big, BK_MHTTP_MAX_REQUEST - 1, &r),
                    BK_AGAIN);
    CU_ASSERT_EQUAL(bk_mhttp_parse(big, BK_MHTTP_MAX_REQUEST, &r), 0);
    CU_ASSERT_EQUAL(r.status, 431);
    CU_ASSERT_EQUAL(bk_mhttp_parse(big, sizeof big, &r), 0);
    CU_ASSERT_EQUAL(r.status, 431);
}

/* Random bytes, mutated valid requests and every split point: the parser
 * returns BK_AGAIN or a status from its list, consumes no more than it was
 * given, and once it decided on a prefix, more bytes do not change the
 * decision.  Heap copies of the exact size let ASan catch any read past
 * the end. */
static void test_metrics_parse_fuzz(void)
{
    static const char *seeds[] = {
        "GET /metrics HTTP/1.1\r\nHost: a\r\nAccept: text/plain\r\n\r\n",
        "HEAD /metrics?q HTTP/1.0\n\n",
        "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    };
    unsigned long seed = bk_test_seed;
    int rounds = bk_test_long ? 200000 : 20000;
    for (int it = 0; it < rounds; it++) {
        uint8_t tmp[600];
        size_t n;
        seed = seed * 6364136223846793005UL + 1442695040888963407UL;
        unsigned kind = (unsigned)(seed >> 33) % 3;
        if (kind == 0) {
            n = (size_t)(seed >> 40) % sizeof tmp;
            for (size_t i = 0; i < n; i++) {
                seed = seed * 6364136223846793005UL + 1442695040888963407UL;
                tmp[i] = (uint8_t)(seed >> 56);
            }
        } else {
            const char *s = seeds[(seed >> 20) % 3];
            n = strlen(s);
            memcpy(tmp, s, n);
            int flips = 1 + (int)((seed >> 45) % 4);
            for (int f = 0; f < flips; f++) {
                seed = seed * 6364136223846793005UL + 1442695040888963407UL;
                size_t at = (size_t)(seed >> 35) % n;
                static const uint8_t pick[] = {'\r', '\n', ' ', ':', 0,
                                               0x7f, 'A',  '/', '?'};
                tmp[at] = kind == 1 ? (uint8_t)(seed >> 56)
                                    : pick[(seed >> 50) % sizeof pick];
            }
        }
        uint8_t *heap = malloc(n ? n : 1);
        CU_ASSERT_FATAL(heap != NULL);
        memcpy(heap, tmp, n);
        bk_mhttp_req full;
        int frc = bk_mhttp_parse(heap, n, &full);
        CU_ASSERT(frc == 0 || frc == BK_AGAIN);
        if (frc == 0) {
            CU_ASSERT(full.status == 200 || full.status == 400 ||
                      full.status == 404 || full.status == 405 ||
                      full.status == 505);
            CU_ASSERT(full.consumed <= n);
        }
        /* A random prefix, also exactly sized. */
        seed = seed * 6364136223846793005UL + 1442695040888963407UL;
        size_t k = n ? (size_t)(seed >> 33) % (n + 1) : 0;
        uint8_t *pre = malloc(k ? k : 1);
        CU_ASSERT_FATAL(pre != NULL);
        memcpy(pre, heap, k);
        bk_mhttp_req part;
        int prc = bk_mhttp_parse(pre, k, &part);
        CU_ASSERT(prc == 0 || prc == BK_AGAIN);
        if (prc == 0) {
            CU_ASSERT_EQUAL(frc, 0);
            CU_ASSERT_EQUAL(part.status, full.status);
            CU_ASSERT_EQUAL(part.head, full.head);
        }
        free(pre);
        free(heap);
    }
}

/* ---- the endpoint on a real loop ---- */

static int mx_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Runs the loop until the server closes fd (EOF) or max_ms pass; the
 * answer goes to out (NUL-terminated).  Returns its length, -1 on
 * timeout. */
static long mx_collect(bk_loop *loop, int fd, char *out, size_t cap, int max_ms)
{
    size_t n = 0;
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < max_ms) {
        bk_loop_run_once(loop, 5);
        for (;;) {
            ssize_t r = recv(fd, out + n, cap - 1 - n, MSG_DONTWAIT);
            if (r > 0) {
                n += (size_t)r;
                if (n == cap - 1)
                    return -1;
                continue;
            }
            if (r == 0) {
                out[n] = '\0';
                return (long)n;
            }
            if (errno == ECONNRESET)
                return -1;
            break;
        }
    }
    out[n] = '\0';
    return -1;
}

static long mx_exchange(bk_loop *loop, int port, const void *req, size_t len,
                        char *out, size_t cap)
{
    int fd = mx_connect(port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    long n = mx_collect(loop, fd, out, cap, 3000);
    close(fd);
    return n;
}

static void test_metrics_http(void)
{
    static bk_broker b;
    memset(&b, 0, sizeof b);
    b.loop = bk_loop_new();
    CU_ASSERT_FATAL(b.loop != NULL);
    bk_metrics *m = bk_metrics_new(&b);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(bk_metrics_listen(m, "127.0.0.1", 0), 0);
    int port = bk_metrics_port(m);
    CU_ASSERT_FATAL(port > 0);
    static char out[1 << 20];

    bk_metrics_request(m, BK_API_PRODUCE, 3000000); /* 3 ms */
    bk_metrics_request(m, 9999, 1);                 /* unknown key */
    bk_metrics_request_error(m, BK_API_FETCH, BK_ERR_NOT_LEADER_FOR_PARTITION);
    const char *get = "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
    long n = mx_exchange(b.loop, port, get, strlen(get), out, sizeof out);
    CU_ASSERT(n > 0);
    CU_ASSERT(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out, "\r\nContent-Type: text/plain; version=0.0.4"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\r\nConnection: close\r\n"));
    const char *body = strstr(out, "\r\n\r\n");
    CU_ASSERT_FATAL(body != NULL);
    body += 4;
    const char *cl = strstr(out, "Content-Length: ");
    CU_ASSERT_FATAL(cl != NULL);
    CU_ASSERT_EQUAL(strtol(cl + 16, NULL, 10), (long)strlen(body));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(body, "brook_requests_total{api=\"Produce\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(body, "brook_requests_total{api=\"UnknownApi\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(
        body, "brook_request_latency_seconds_bucket{api=\"Produce\",le=\"0."
              "0025\"} 0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(
        body, "brook_request_latency_seconds_bucket{api=\"Produce\",le=\"0."
              "005\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(body, "brook_request_errors_total{api=\"Fetch\",error=\"NOT_"
                     "LEADER_FOR_PARTITION\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "# TYPE brook_partitions gauge\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "brook_zookeeper_session_state 0\n"));

    /* HEAD: the headers only. */
    const char *head = "HEAD /metrics HTTP/1.1\r\n\r\n";
    n = mx_exchange(b.loop, port, head, strlen(head), out, sizeof out);
    CU_ASSERT(n > 0 && strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    CU_ASSERT(n > 4 && strcmp(out + n - 4, "\r\n\r\n") == 0);

    static const struct {
        const char *req;
        const char *status;
    } bad[] = {
        {"POST /metrics HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd",
         "HTTP/1.1 405 "},
        {"GET /nope HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "},
        {"\x00\x01\x02garbage", "HTTP/1.1 400 "},
        {"GET /metrics HTTP/3.0\r\n\r\n", "HTTP/1.1 505 "},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = i == 2 ? 10 : strlen(bad[i].req);
        n = mx_exchange(b.loop, port, bad[i].req, len, out, sizeof out);
        CU_ASSERT(n > 0);
        CU_ASSERT(strncmp(out, bad[i].status, strlen(bad[i].status)) == 0);
        if (i == 0)
            CU_ASSERT_PTR_NOT_NULL(strstr(out, "\r\nAllow: GET, HEAD\r\n"));
    }
    /* A header larger than the buffer: 431, and the rest is drained (no
     * reset eats the answer). */
    static char huge[64 * 1024];
    memset(huge, 'x', sizeof huge);
    memcpy(huge, "GET /metrics HTTP/1.1\r\nX-Big: ", 30);
    int fd = mx_connect(port);
    CU_ASSERT_FATAL(fd >= 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    size_t sent = 0;
    int64_t t0 = bk_clock_mono_ms();
    while (sent < sizeof huge && bk_clock_mono_ms() - t0 < 3000) {
        ssize_t w = send(fd, huge + sent, sizeof huge - sent, MSG_NOSIGNAL);
        if (w > 0)
            sent += (size_t)w;
        else if (w < 0 && errno != EAGAIN)
            break;
        bk_loop_run_once(b.loop, 1);
    }
    n = mx_collect(b.loop, fd, out, sizeof out, 3000);
    CU_ASSERT(n > 0 && strncmp(out, "HTTP/1.1 431 ", 13) == 0);
    close(fd);

    /* Slow clients are cut off: 408 after the idle timeout. */
    bk_metrics_set_idle_ms(m, 200);
    fd = mx_connect(port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(send(fd, "GET /met", 8, MSG_NOSIGNAL), 8);
    t0 = bk_clock_mono_ms();
    n = mx_collect(b.loop, fd, out, sizeof out, 3000);
    int64_t took = bk_clock_mono_ms() - t0;
    CU_ASSERT(n > 0 && strncmp(out, "HTTP/1.1 408 ", 13) == 0);
    CU_ASSERT(took >= 150 && took < 2000);
    close(fd);
    /* A client that connects and vanishes, and one that half-closes after
     * its request (it still gets the answer). */
    fd = mx_connect(port);
    close(fd);
    fd = mx_connect(port);
    CU_ASSERT_EQUAL(send(fd, get, strlen(get), MSG_NOSIGNAL),
                    (ssize_t)strlen(get));
    shutdown(fd, SHUT_WR);
    n = mx_collect(b.loop, fd, out, sizeof out, 3000);
    CU_ASSERT(n > 0 && strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    close(fd);
    /* Many clients at once, each answered. */
    int fds[50];
    for (int i = 0; i < 50; i++) {
        fds[i] = mx_connect(port);
        CU_ASSERT_FATAL(fds[i] >= 0);
        CU_ASSERT_EQUAL(send(fds[i], get, strlen(get), MSG_NOSIGNAL),
                        (ssize_t)strlen(get));
    }
    for (int i = 0; i < 50; i++) {
        n = mx_collect(b.loop, fds[i], out, sizeof out, 3000);
        CU_ASSERT(n > 0 && strncmp(out, "HTTP/1.1 200 ", 13) == 0);
        close(fds[i]);
    }
    /* Counted: the scrapes and the refusals. */
    n = mx_exchange(b.loop, port, get, strlen(get), out, sizeof out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "brook_metrics_scrapes_total 53\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "brook_metrics_bad_requests_total 7\n"));
    bk_metrics_free(m);
    bk_loop_free(b.loop);
}

static CU_TestInfo metrics_tests[] = {
    {"registry: exposition text, escaping, histograms", test_metrics_registry},
    {"records counted from batch headers", test_metrics_count_records},
    {"metrics.listener key", test_metrics_cfg},
    {"HTTP request parser", test_metrics_parse},
    {"HTTP request parser fuzzed", test_metrics_parse_fuzz},
    {"endpoint: statuses, limits, timeouts, many clients", test_metrics_http},
    CU_TEST_INFO_NULL,
};

static void register_metrics_suite(void)
{
    bk_test_add_suite("metrics", metrics_tests);
}

/* ------------------------------ dynconfig ------------------------------ */
/* broker/dynconfig (issue #6): the static layer from broker.properties,
 * the precedence topic > this broker's dynamic > cluster default >
 * static > built in (Kafka's DescribeConfigs sources 1-5), the checks on
 * values read from ZooKeeper (an invalid one keeps the old value), and
 * the log settings and unclean flag the broker applies. */

#include "broker/dynconfig.h"
#include "coordinator/zkcodec.h"

static void dyn_load(const char *extra, bk_bcfg *c)
{
    char text[1024];
    snprintf(text, sizeof text, "broker.id=1\nzookeeper.connect=z:2181\n%s",
             extra);
    bk_buf e = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(load(text, NULL, 0, c, &e), 0);
    bk_buf_free(&e);
}

/* The static layer's entry of topic_key. */
static const bk_dyn_value *dyn_static_of(const bk_dyn_static *st,
                                         const char *topic_key, bk_dyn_value *v)
{
    bk_dyn_value l[5];
    size_t n = bk_dyn_layers(NULL, NULL, st, topic_key, l);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    *v = l[0];
    return v;
}

static void test_dyn_static(void)
{
    bk_bcfg c;
    dyn_load("log.retention.hours=48\nmessage.max.bytes=2000000\n"
             "unclean.leader.election.enable=true\nlog.roll.ms=1000\n",
             &c);
    bk_dyn_static st;
    bk_dyn_static_from_bcfg(&c, &st);
    size_t nd;
    bk_dyn_cfg_defs(&nd);
    CU_ASSERT_EQUAL(st.n, nd);
    bk_dyn_value v;
    /* Set through a synonym of another unit: still "set" (4). */
    dyn_static_of(&st, "retention.ms", &v);
    CU_ASSERT_STRING_EQUAL(v.value, "172800000");
    CU_ASSERT_STRING_EQUAL(v.name, "log.retention.ms");
    CU_ASSERT_EQUAL(v.source, BK_CFG_SRC_STATIC_BROKER);
    dyn_static_of(&st, "max.message.bytes", &v);
    CU_ASSERT_STRING_EQUAL(v.value, "2000000");
    CU_ASSERT_STRING_EQUAL(v.name, "message.max.bytes");
    CU_ASSERT_EQUAL(v.source, BK_CFG_SRC_STATIC_BROKER);
    dyn_static_of(&st, "segment.ms", &v);
    CU_ASSERT_STRING_EQUAL(v.value, "1000");
    CU_ASSERT_EQUAL(v.source, BK_CFG_SRC_STATIC_BROKER);
    dyn_static_of(&st, "unclean.leader.election.enable", &v);
    CU_ASSERT_STRING_EQUAL(v.value, "true");
    /* Not set: built in (5), Kafka's values. */
    dyn_static_of(&st, "segment.bytes", &v);
    CU_ASSERT_STRING_EQUAL(v.value, "1073741824");
    CU_ASSERT_EQUAL(v.source, BK_CFG_SRC_DEFAULT);
    dyn_static_of(&st, "flush.messages", &v);
    CU_ASSERT_STRING_EQUAL(v.value, "9223372036854775807");
    CU_ASSERT_EQUAL(v.source, BK_CFG_SRC_DEFAULT);
    dyn_static_of(&st, "retention.bytes", &v);
    CU_ASSERT_STRING_EQUAL(v.value, "-1");
    dyn_static_of(&st, "min.insync.replicas", &v);
    CU_ASSERT_STRING_EQUAL(v.value, "1");
    CU_ASSERT_EQUAL(v.source, BK_CFG_SRC_DEFAULT);
    /* Not a dynamic key. */
    bk_dyn_value l[5];
    CU_ASSERT_EQUAL(bk_dyn_layers(NULL, NULL, &st, "cleanup.policy", l), 0);
    CU_ASSERT_EQUAL(bk_dyn_layers(NULL, NULL, &st, "log.retention.ms", l), 0);
    bk_bcfg_free(&c);
}

/* A picture with topic "t" and the given layers (NULL: not set). */
static bk_md *dyn_md(const char *topic_ret, const char *broker_ret,
                     const char *default_ret)
{
    bk_md *md = bk_md_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    int32_t r[] = {1, 2, 3};
    int32_t *reps[] = {r};
    size_t nrep[] = {3};
    CU_ASSERT_EQUAL_FATAL(bk_md_set_topic(md, "t", 1, reps, nrep), 0);
    if (topic_ret)
        CU_ASSERT_EQUAL_FATAL(
            bk_md_set_topic_config(md, "t", (const char *[]){"retention.ms"},
                                   (const char *[]){topic_ret}, 1),
            0);
    if (broker_ret)
        CU_ASSERT_EQUAL_FATAL(
            bk_md_cfg_set(&md->dyn_broker, (const char *[]){"log.retention.ms"},
                          (const char *[]){broker_ret}, 1),
            0);
    if (default_ret)
        CU_ASSERT_EQUAL_FATAL(
            bk_md_cfg_set(
                &md->dyn_default,
                (const char *[]){"log.retention.ms", "message.max.bytes"},
                (const char *[]){default_ret, "5000"}, 2),
            0);
    return md;
}

static void test_dyn_precedence(void)
{
    bk_bcfg c;
    dyn_load("log.retention.ms=100\n", &c);
    bk_dyn_static st;
    bk_dyn_static_from_bcfg(&c, &st);
    struct {
        const char *topic, *broker, *dflt; /* layers set */
        const char *want;
        int src;
        size_t nlayers;
    } cases[] = {
        {"3000", "2000", "1000", "3000", BK_CFG_SRC_TOPIC, 4},
        {NULL, "2000", "1000", "2000", BK_CFG_SRC_DYN_BROKER, 3},
        {NULL, NULL, "1000", "1000", BK_CFG_SRC_DYN_DEFAULT, 2},
        {"3000", NULL, "1000", "3000", BK_CFG_SRC_TOPIC, 3},
        {"3000", NULL, NULL, "3000", BK_CFG_SRC_TOPIC, 2},
        {NULL, NULL, NULL, "100", BK_CFG_SRC_STATIC_BROKER, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        bk_md *md = dyn_md(cases[k].topic, cases[k].broker, cases[k].dflt);
        const bk_md_topic *t = bk_md_topic_find(md, "t");
        bk_dyn_value l[5];
        size_t n = bk_dyn_layers(md, t, &st, "retention.ms", l);
        CU_ASSERT_EQUAL(n, cases[k].nlayers);
        CU_ASSERT_STRING_EQUAL(l[0].value, cases[k].want);
        CU_ASSERT_EQUAL(l[0].source, cases[k].src);
        /* Sources strictly increase down the layers; the last is static. */
        for (size_t i = 1; i < n; i++)
            CU_ASSERT(l[i].source > l[i - 1].source);
        CU_ASSERT_EQUAL(l[n - 1].source, BK_CFG_SRC_STATIC_BROKER);
        CU_ASSERT_STRING_EQUAL(l[n - 1].value, "100");
        /* Layer names: the topic's key, else the broker synonym. */
        CU_ASSERT_STRING_EQUAL(l[0].name, cases[k].src == BK_CFG_SRC_TOPIC
                                              ? "retention.ms"
                                              : "log.retention.ms");
        int src = -1;
        const char *v = bk_dyn_lookup(md, t, "retention.ms", &src);
        if (cases[k].src == BK_CFG_SRC_STATIC_BROKER) {
            CU_ASSERT_PTR_NULL(v);
            CU_ASSERT_EQUAL(src, 0);
        } else {
            CU_ASSERT_PTR_NOT_NULL(v);
            if (v)
                CU_ASSERT_STRING_EQUAL(v, cases[k].want);
            CU_ASSERT_EQUAL(src, cases[k].src);
        }
        /* Without the topic (a BROKER resource): no topic layer. */
        n = bk_dyn_layers(md, NULL, &st, "retention.ms", l);
        CU_ASSERT_NOT_EQUAL(l[0].source, BK_CFG_SRC_TOPIC);
        /* The picture's copy carries the broker layers. */
        bk_md *cp = bk_md_clone(md);
        CU_ASSERT_PTR_NOT_NULL_FATAL(cp);
        bk_dyn_value l2[5];
        CU_ASSERT_EQUAL(bk_dyn_layers(cp, bk_md_topic_find(cp, "t"), &st,
                                      "retention.ms", l2),
                        cases[k].nlayers);
        CU_ASSERT_STRING_EQUAL(l2[0].value, cases[k].want);
        bk_md_free(cp);
        bk_md_free(md);
    }
    /* Another key of the default entity. */
    bk_md *md = dyn_md(NULL, NULL, "1");
    bk_dyn_value l[5];
    CU_ASSERT_EQUAL(bk_dyn_layers(md, bk_md_topic_find(md, "t"), &st,
                                  "max.message.bytes", l),
                    2);
    CU_ASSERT_STRING_EQUAL(l[0].value, "5000");
    CU_ASSERT_STRING_EQUAL(l[0].name, "message.max.bytes");
    CU_ASSERT_EQUAL(l[0].source, BK_CFG_SRC_DYN_DEFAULT);
    bk_md_free(md);
    bk_bcfg_free(&c);
}

static void test_dyn_apply(void)
{
    bk_log_config base, out;
    bk_log_config_default(&base);
    bk_md *md = bk_md_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    int32_t r[] = {1};
    int32_t *reps[] = {r};
    size_t nrep[] = {1};
    CU_ASSERT_EQUAL_FATAL(bk_md_set_topic(md, "t", 1, reps, nrep), 0);
    int misr = 0;
    /* Nothing dynamic: the base as is. */
    bk_dyn_log_config(md, bk_md_topic_find(md, "t"), &base, 2, &out, &misr);
    CU_ASSERT_EQUAL(memcmp(&out, &base, sizeof out), 0);
    CU_ASSERT_EQUAL(misr, 2);
    CU_ASSERT_EQUAL_FATAL(
        bk_md_cfg_set(&md->dyn_default,
                      (const char *[]){"log.retention.ms", "log.segment.bytes",
                                       "min.insync.replicas",
                                       "log.flush.interval.messages",
                                       "log.flush.interval.ms",
                                       "log.retention.bytes", "log.roll.ms"},
                      (const char *[]){"60000", "4096", "3", "5000",
                                       "9223372036854775807", "-7", "500"},
                      7),
        0);
    CU_ASSERT_EQUAL_FATAL(
        bk_md_set_topic_config(
            md, "t",
            (const char *[]){"max.message.bytes", "min.insync.replicas",
                             "index.interval.bytes", "cleanup.policy"},
            (const char *[]){"2048", "2", "128", "delete"}, 4),
        0);
    const bk_md_topic *t = bk_md_topic_find(md, "t");
    bk_dyn_log_config(md, t, &base, 1, &out, &misr);
    CU_ASSERT_EQUAL(out.retention_ms, 60000);
    CU_ASSERT_EQUAL(out.segment_bytes, 4096);
    CU_ASSERT_EQUAL(out.segment_ms, 500);
    CU_ASSERT_EQUAL(out.max_message_bytes, 2048);
    CU_ASSERT_EQUAL(out.index_interval_bytes, 128);
    CU_ASSERT_EQUAL(out.flush_messages, 5000);
    CU_ASSERT_EQUAL(out.flush_ms, -1);        /* Long.MAX_VALUE: never */
    CU_ASSERT_EQUAL(out.retention_bytes, -1); /* negative: no limit */
    CU_ASSERT_EQUAL(misr, 2);                 /* topic over default */
    CU_ASSERT_EQUAL(out.max_uncompressed_bytes, base.max_uncompressed_bytes);
    /* Without the topic: the default entity alone. */
    bk_dyn_log_config(md, NULL, &base, 1, &out, &misr);
    CU_ASSERT_EQUAL(misr, 3);
    CU_ASSERT_EQUAL(out.max_message_bytes, base.max_message_bytes);
    CU_ASSERT_EQUAL(out.index_interval_bytes, base.index_interval_bytes);
    /* unclean.leader.election.enable: topic > dynamic > static. */
    CU_ASSERT_FALSE(bk_dyn_unclean(md, t, false));
    CU_ASSERT_TRUE(bk_dyn_unclean(md, t, true));
    CU_ASSERT_EQUAL_FATAL(
        bk_md_cfg_set(&md->dyn_default,
                      (const char *[]){"unclean.leader.election.enable"},
                      (const char *[]){"true"}, 1),
        0);
    CU_ASSERT_TRUE(bk_dyn_unclean(md, t, false));
    CU_ASSERT_EQUAL_FATAL(
        bk_md_cfg_set(&md->dyn_broker,
                      (const char *[]){"unclean.leader.election.enable"},
                      (const char *[]){"false"}, 1),
        0);
    CU_ASSERT_FALSE(bk_dyn_unclean(md, t, true));
    CU_ASSERT_EQUAL_FATAL(
        bk_md_set_topic_config(md, "t",
                               (const char *[]){"unclean.leader.election."
                                                "enable"},
                               (const char *[]){"true"}, 1),
        0);
    CU_ASSERT_TRUE(bk_dyn_unclean(md, bk_md_topic_find(md, "t"), false));
    CU_ASSERT_FALSE(bk_dyn_unclean(NULL, NULL, false));
    bk_md_free(md);
}

static void test_dyn_check(void)
{
    char norm[64], err[256];
    CU_ASSERT_EQUAL(bk_dyn_check("retention.ms", " 1000 ", norm, sizeof norm,
                                 err, sizeof err),
                    0);
    CU_ASSERT_STRING_EQUAL(norm, "1000");
    CU_ASSERT_EQUAL(bk_dyn_check("unclean.leader.election.enable", "TRUE", norm,
                                 sizeof norm, err, sizeof err),
                    0);
    CU_ASSERT_STRING_EQUAL(norm, "true");
    CU_ASSERT_EQUAL(
        bk_dyn_check("retention.ms", "-1", norm, sizeof norm, err, sizeof err),
        0);
    struct {
        const char *key, *value;
    } bad[] = {
        {"retention.ms", "abc"},
        {"retention.ms", "-2"},
        {"retention.ms", ""},
        {"segment.bytes", "100"},
        {"segment.bytes", "99999999999"},
        {"max.message.bytes", "60"},
        {"min.insync.replicas", "0"},
        {"segment.ms", "0"},
        {"flush.ms", "-1"},
        {"flush.messages", "0"}, /* the log needs at least 1 */
        {"unclean.leader.election.enable", "yes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(bk_dyn_check(bad[i].key, bad[i].value, norm,
                                     sizeof norm, err, sizeof err),
                        -BK_EINVAL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].key));
    }
    CU_ASSERT_EQUAL(bk_dyn_check("segment.bytes", "1024", norm, sizeof norm,
                                 err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(
        bk_dyn_check("no.such.key", "1", norm, sizeof norm, err, sizeof err),
        -BK_ENOENT);
}

static void test_dyn_sanitize(void)
{
    bk_zkc_config in = {0}, out = {0}, again = {0};
    const char *v;
    CU_ASSERT_EQUAL_FATAL(bk_zkc_config_add(&in, "retention.ms", "soon"), 0);
    CU_ASSERT_EQUAL_FATAL(bk_zkc_config_add(&in, "segment.bytes", "12"), 0);
    CU_ASSERT_EQUAL_FATAL(bk_zkc_config_add(&in, "flush.ms", " 5 "), 0);
    CU_ASSERT_EQUAL_FATAL(bk_zkc_config_add(&in, "x.unknown", "?"), 0);
    /* Topic: both bad values are ignored: segment.bytes as if the znode
     * did not set it, retention.ms as -1 (a looser layer could delete
     * data); flush.ms is normalized, the unknown key stays as written. */
    CU_ASSERT_EQUAL(
        bk_dyn_sanitize(BK_DYN_TOPIC, "/config/topics/t", &in, &out), 2);
    CU_ASSERT_EQUAL(out.n, 3);
    v = bk_zkc_config_get(&out, "retention.ms");
    CU_ASSERT(v && strcmp(v, "-1") == 0);
    CU_ASSERT_PTR_NULL(bk_zkc_config_get(&out, "segment.bytes"));
    v = bk_zkc_config_get(&out, "flush.ms");
    CU_ASSERT(v && strcmp(v, "5") == 0);
    v = bk_zkc_config_get(&out, "x.unknown");
    CU_ASSERT(v && strcmp(v, "?") == 0);
    /* The same input gives the same output: nothing depends on what a
     * broker read before. */
    CU_ASSERT_EQUAL(
        bk_dyn_sanitize(BK_DYN_TOPIC, "/config/topics/t", &in, &again), 2);
    CU_ASSERT_EQUAL_FATAL(again.n, out.n);
    for (size_t i = 0; i < out.n; i++) {
        CU_ASSERT_STRING_EQUAL(again.kv[i].key, out.kv[i].key);
        CU_ASSERT_STRING_EQUAL(again.kv[i].value, out.kv[i].value);
    }
    bk_zkc_config_free(&again);
    /* ... so the invalid topic value gives the same (-1, from the topic)
     * on a broker that had a valid one before as on a fresh one. */
    for (int had_before = 0; had_before < 2; had_before++) {
        bk_md *md = bk_md_new();
        CU_ASSERT_PTR_NOT_NULL_FATAL(md);
        int32_t r[] = {1};
        int32_t *reps[] = {r};
        size_t nrep[] = {1};
        CU_ASSERT_EQUAL_FATAL(bk_md_set_topic(md, "t", 1, reps, nrep), 0);
        CU_ASSERT_EQUAL_FATAL(
            bk_md_cfg_set(&md->dyn_default,
                          (const char *[]){"log.retention.ms"},
                          (const char *[]){"7000"}, 1),
            0);
        if (had_before)
            CU_ASSERT_EQUAL_FATAL(bk_md_set_topic_config(
                                      md, "t", (const char *[]){"retention.ms"},
                                      (const char *[]){"3600000"}, 1),
                                  0);
        const char *keys[3], *vals[3];
        for (size_t i = 0; i < out.n; i++) {
            keys[i] = out.kv[i].key;
            vals[i] = out.kv[i].value;
        }
        CU_ASSERT_EQUAL_FATAL(
            bk_md_set_topic_config(md, "t", keys, vals, out.n), 0);
        int src = 0;
        v = bk_dyn_lookup(md, bk_md_topic_find(md, "t"), "retention.ms", &src);
        CU_ASSERT(v && strcmp(v, "-1") == 0);
        CU_ASSERT_EQUAL(src, BK_CFG_SRC_TOPIC);
        bk_md_free(md);
    }
    bk_zkc_config_free(&out);
    /* No pairs at all (a znode that did not decode): nothing. */
    CU_ASSERT_EQUAL(
        bk_dyn_sanitize(BK_DYN_TOPIC, "/config/topics/t", NULL, &out), 0);
    CU_ASSERT_EQUAL(out.n, 0);
    bk_zkc_config_free(&out);
    bk_zkc_config_free(&in);
    /* Broker entity: broker-level names only, checked by their topic
     * synonym's rules; bad values, topic names and non-dynamic keys go. */
    CU_ASSERT_EQUAL_FATAL(bk_zkc_config_add(&in, "log.retention.ms", "-5"), 0);
    CU_ASSERT_EQUAL_FATAL(bk_zkc_config_add(&in, "message.max.bytes", "9000"),
                          0);
    CU_ASSERT_EQUAL_FATAL(bk_zkc_config_add(&in, "num.io.threads", "8"), 0);
    CU_ASSERT_EQUAL_FATAL(bk_zkc_config_add(&in, "retention.ms", "10"), 0);
    CU_ASSERT_EQUAL_FATAL(
        bk_zkc_config_add(&in, "unclean.leader.election.enable", "False"), 0);
    CU_ASSERT_EQUAL(
        bk_dyn_sanitize(BK_DYN_BROKER, "/config/brokers/<default>", &in, &out),
        3);
    CU_ASSERT_EQUAL(out.n, 3);
    v = bk_zkc_config_get(&out, "log.retention.ms"); /* -5: kept as -1 */
    CU_ASSERT(v && strcmp(v, "-1") == 0);
    v = bk_zkc_config_get(&out, "message.max.bytes");
    CU_ASSERT(v && strcmp(v, "9000") == 0);
    v = bk_zkc_config_get(&out, "unclean.leader.election.enable");
    CU_ASSERT(v && strcmp(v, "false") == 0);
    CU_ASSERT_PTR_NULL(bk_zkc_config_get(&out, "num.io.threads"));
    CU_ASSERT_PTR_NULL(bk_zkc_config_get(&out, "retention.ms"));
    bk_zkc_config_free(&out);
    bk_zkc_config_free(&in);
    /* Every value the checks let through is one the logs take. */
    size_t nd;
    const bk_dyn_cfg_def *defs = bk_dyn_cfg_defs(&nd);
    const char *samples[] = {
        "0",          "1",   "14", "61", "1024", "-1", "9223372036854775807",
        "2147483647", "true"};
    for (size_t i = 0; i < nd; i++) {
        for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
            char norm[64], err[256];
            if (bk_dyn_check(defs[i].topic_key, samples[s], norm, sizeof norm,
                             err, sizeof err) != 0)
                continue;
            bk_md *md = bk_md_new();
            CU_ASSERT_PTR_NOT_NULL_FATAL(md);
            CU_ASSERT_EQUAL_FATAL(
                bk_md_cfg_set(&md->dyn_default,
                              (const char *[]){defs[i].broker_key},
                              (const char *[]){norm}, 1),
                0);
            bk_log_config base, out2;
            bk_log_config_default(&base);
            int misr;
            bk_dyn_log_config(md, NULL, &base, 1, &out2, &misr);
            CU_ASSERT_EQUAL(bk_log_config_check(&out2), 0);
            CU_ASSERT(misr >= 1);
            bk_md_free(md);
        }
    }
}

static CU_TestInfo dynconfig_tests[] = {
    {"static layer from broker.properties", test_dyn_static},
    {"precedence and sources", test_dyn_precedence},
    {"applied log settings and unclean flag", test_dyn_apply},
    {"value checks", test_dyn_check},
    {"values read from ZooKeeper", test_dyn_sanitize},
    CU_TEST_INFO_NULL,
};

static void register_dynconfig_suite(void)
{
    bk_test_add_suite("dynconfig", dynconfig_tests);
}
