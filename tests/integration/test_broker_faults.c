/*
 * test_broker_faults.c -- brookd under faults, with a real ZooKeeper:
 *   - hostile input on a live broker (garbage, oversized and negative
 *     length prefixes, a truncated frame, an unknown API key, a body that
 *     does not match its key, invalid protobuf after a good header, a
 *     produce with a corrupt CRC, and random mutations of a valid frame),
 *     each answered with an error or a closed connection, while a second
 *     client thread keeps producing and consuming on the same broker;
 *   - SIGKILL with a torn write at the end of the active segment: after
 *     the restart every acknowledged record is there and the tail is cut;
 *   - ZooKeeper down at broker start: a clear error and exit 1 within
 *     zookeeper.connection.timeout.ms;
 *   - ZooKeeper killed and restarted under a running broker: the broker
 *     reconnects, its registration is back, it still serves;
 *   - session expiry (the broker is SIGSTOPped past its session timeout):
 *     the znode goes, and after SIGCONT the broker re-registers.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/batch.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/logging.h"
#include "proto/protocol.h"
#include "tests/integration/brokertest.h"
#include "tests/unit/cu_main.h"

static bk_h_cluster *cl;

static int suite_init(void)
{
    cl = bk_h_cluster_start("faults", 1, 1,
                            "socket.request.max.bytes=2097152\n");
    if (!cl)
        return 1;
    int fd = bk_h_connect(cl->broker[0].port);
    int rc = bt_create_topic(fd, "bad", 1, 1) == 0 &&
                     bt_create_topic(fd, "steady", 1, 1) == 0
                 ? 0
                 : 1;
    close(fd);
    if (rc == 0 && (bk_h_wait_topic(cl, 0, "bad", 1, 10000) != 0 ||
                    bk_h_wait_topic(cl, 0, "steady", 1, 10000) != 0))
        rc = 1;
    return rc;
}

static int suite_clean(void)
{
    int problems = bk_h_cluster_log_problems(cl);
    bk_h_cluster_stop(cl);
    cl = NULL;
    return problems ? 1 : 0;
}

static bool broker_alive(int i)
{
    int st;
    if (cl->broker[i].pid <= 0)
        return false;
    if (bk_h_exited(cl->broker[i].pid, &st)) {
        cl->broker[i].pid = 0;
        return false;
    }
    return true;
}

/* ------------------------- the steady client ------------------------- */

typedef struct steady {
    pthread_t t;
    atomic_bool stop;
    atomic_int rounds; /* produce + consume-back rounds that succeeded */
    atomic_int failures;
    int port;
} steady;

/* Produces a record, then reads it back, over and over, on one
 * connection (no CUnit calls here: the main thread checks the counts). */
static void *steady_main(void *arg)
{
    steady *s = arg;
    int fd = bk_h_connect(s->port);
    if (fd < 0) {
        s->failures++;
        return NULL;
    }
    int n = 0;
    while (!s->stop) {
        int64_t base = -1;
        int prc = bt_produce(fd, "steady", 0, 1, "s", n, 1, &base);
        if (prc != 0) {
            printf("\n    steady client: produce %d answered %d\n", n, prc);
            s->failures++;
            break;
        }
        bt_fetch_res r;
        bt_fetch(fd, "steady", 0, base, 0, 1, &r);
        char want[32];
        snprintf(want, sizeof want, "s-%d", n);
        if (r.error != 0 || r.nrecs < 1 || strcmp(r.recs[0].value, want) != 0) {
            printf("\n    steady client: fetch of %d at offset %lld: error "
                   "%d, %zu records, first '%s'\n",
                   n, (long long)base, r.error, r.nrecs,
                   r.nrecs > 0 ? r.recs[0].value : "");
            s->failures++;
        } else
            s->rounds++;
        bt_fetch_free(&r);
        n++;
    }
    close(fd);
    return NULL;
}

/* --------------------------- hostile input --------------------------- */

/* Sends raw bytes on a fresh connection; true when the broker closes it
 * (after answering or not). */
static bool closes_after(const void *p, size_t n, bool half_close)
{
    int fd = bk_h_connect(cl->broker[0].port);
    if (fd < 0)
        return false;
    bk_h_send_raw(fd, p, n);
    if (half_close)
        shutdown(fd, SHUT_WR);
    bool closed = bk_h_wait_closed(fd, 5000);
    close(fd);
    return closed;
}

/* An ApiVersions round trip on fd still works (the connection survived). */
static bool still_serves(int fd)
{
    Brook__Request req;
    bk_h_req_init(&req, BK_API_API_VERSIONS, 777);
    Brook__ApiVersionsRequest av = BROOK__API_VERSIONS_REQUEST__INIT;
    req.body_case = BROOK__REQUEST__BODY_API_VERSIONS;
    req.api_versions = &av;
    Brook__Response *resp = bk_h_call(fd, &req, 5000);
    bool ok = resp && resp->header->correlation_id == 777 && resp->api_versions;
    if (resp)
        brook__response__free_unpacked(resp, NULL);
    return ok;
}

/* Encodes a request header + optional raw body bytes as one frame. */
static void frame_with_body(bk_buf *out, int api_key, int32_t corr,
                            const uint8_t *body, size_t n)
{
    Brook__Request req;
    bk_h_req_init(&req, api_key, corr);
    bk_buf payload = BK_BUF_INIT;
    size_t sz = brook__request__get_packed_size(&req);
    uint8_t *p = bk_buf_extend(&payload, sz);
    brook__request__pack(&req, p);
    bk_buf_put(&payload, body, n);
    bk_buf_put_i32(out, (int32_t)payload.len);
    bk_buf_put(out, payload.data, payload.len);
    bk_buf_free(&payload);
}

static void test_bad_input(void)
{
    steady s = {.port = cl->broker[0].port};
    CU_ASSERT_EQUAL_FATAL(pthread_create(&s.t, NULL, steady_main, &s), 0);
    while (s.rounds < 3 && s.failures == 0)
        bk_h_sleep_ms(5);
    int rounds_before = s.rounds;

    /* 1. Garbage: a small length, then bytes that are no protobuf at all
     * (no header can be read): closed. */
    uint8_t garbage[20] = {0, 0, 0, 16};
    memset(garbage + 4, 0xff, 16);
    CU_ASSERT_TRUE(closes_after(garbage, sizeof garbage, false));

    /* 2. A length prefix over socket.request.max.bytes (2 MiB here), and
     * a negative one: closed before any payload is buffered. */
    uint8_t huge[4] = {0x7f, 0xff, 0xff, 0xff};
    CU_ASSERT_TRUE(closes_after(huge, 4, false));
    uint8_t over[4] = {0x00, 0x20, 0x00, 0x01}; /* 2 MiB + 1 */
    CU_ASSERT_TRUE(closes_after(over, 4, false));
    uint8_t neg[4] = {0xff, 0xff, 0xff, 0xf0};
    CU_ASSERT_TRUE(closes_after(neg, 4, false));
    char log[600];
    snprintf(log, sizeof log, "%s/out.log", cl->broker[0].dir);
    CU_ASSERT_TRUE(bt_file_contains(log, "frame length 2097153 is over "
                                         "socket.request.max.bytes"));

    /* 3. A truncated frame: 100 bytes announced, 10 sent, then EOF. */
    uint8_t trunc[14] = {0, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    CU_ASSERT_TRUE(closes_after(trunc, sizeof trunc, true));

    /* 4. An unknown API key and an unsupported version: an error in the
     * header, the connection stays usable. */
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd >= 0);
    Brook__Request req;
    bk_h_req_init(&req, 57, 31);
    Brook__Response *resp = bk_h_call(fd, &req, 5000);
    CU_ASSERT_PTR_NOT_NULL(resp);
    if (resp) {
        CU_ASSERT_EQUAL(resp->header->correlation_id, 31);
        CU_ASSERT_EQUAL(resp->header->error_code, BK_ERR_UNSUPPORTED_VERSION);
        brook__response__free_unpacked(resp, NULL);
    }
    bk_h_req_init(&req, 9999, 32);
    resp = bk_h_call(fd, &req, 5000);
    CU_ASSERT_PTR_NOT_NULL(resp);
    if (resp) {
        CU_ASSERT_EQUAL(resp->header->error_code, BK_ERR_UNSUPPORTED_VERSION);
        brook__response__free_unpacked(resp, NULL);
    }
    bk_h_req_init(&req, BK_API_METADATA, 33);
    req.header->api_version = 7;
    Brook__MetadataRequest mr = BROOK__METADATA_REQUEST__INIT;
    req.body_case = BROOK__REQUEST__BODY_METADATA;
    req.metadata = &mr;
    resp = bk_h_call(fd, &req, 5000);
    CU_ASSERT_PTR_NOT_NULL(resp);
    if (resp) {
        CU_ASSERT_EQUAL(resp->header->correlation_id, 33);
        CU_ASSERT_EQUAL(resp->header->error_code, BK_ERR_UNSUPPORTED_VERSION);
        brook__response__free_unpacked(resp, NULL);
    }
    CU_ASSERT_TRUE(still_serves(fd));

    /* 5. A body that does not match the API key (Produce key, Metadata
     * body): INVALID_REQUEST. */
    bk_h_req_init(&req, BK_API_PRODUCE, 34);
    req.body_case = BROOK__REQUEST__BODY_METADATA;
    req.metadata = &mr;
    resp = bk_h_call(fd, &req, 5000);
    CU_ASSERT_PTR_NOT_NULL(resp);
    if (resp) {
        CU_ASSERT_EQUAL(resp->header->correlation_id, 34);
        CU_ASSERT_EQUAL(resp->header->error_code, BK_ERR_INVALID_REQUEST);
        brook__response__free_unpacked(resp, NULL);
    }
    /* 6. A good header, then invalid protobuf (a field with a length
     * running past the end): INVALID_REQUEST with the correlation id. */
    bk_buf b = BK_BUF_INIT;
    const uint8_t bad_body[] = {0x52, 0x7f, 0x01, 0x02}; /* field 10, len 127 */
    frame_with_body(&b, BK_API_PRODUCE, 35, bad_body, sizeof bad_body);
    CU_ASSERT_EQUAL(bk_h_send_raw(fd, b.data, b.len), 0);
    bk_buf_free(&b);
    resp = NULL;
    CU_ASSERT_EQUAL(bk_h_recv_response(fd, 5000, &resp), 0);
    if (resp) {
        CU_ASSERT_EQUAL(resp->header->correlation_id, 35);
        CU_ASSERT_EQUAL(resp->header->error_code, BK_ERR_INVALID_REQUEST);
        brook__response__free_unpacked(resp, NULL);
    }
    CU_ASSERT_TRUE(still_serves(fd));

    /* 7. A produce whose batch fails its CRC: CORRUPT_MESSAGE, nothing
     * appended; the same batch intact is accepted. */
    bk_buf batch = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bt_batch(&batch, "c", 0, 3, -1), 0);
    batch.data[batch.len - 2] ^= 0x55;
    int prc = bt_produce_raw(fd, "bad", 0, 1, batch.data, batch.len, NULL);
    if (prc != BK_ERR_INVALID_MSG)
        printf("\ncorrupt produce answered %d\n", prc);
    CU_ASSERT_EQUAL(prc, BK_ERR_INVALID_MSG);
    int64_t end = -1;
    CU_ASSERT_EQUAL(bt_list_offsets(fd, "bad", 0, -1, &end, NULL), 0);
    CU_ASSERT_EQUAL(end, 0);
    /* A batch cut short and plain junk as records: refused too. */
    CU_ASSERT_EQUAL(bt_produce_raw(fd, "bad", 0, 1, batch.data, 30, NULL),
                    BK_ERR_INVALID_MSG);
    CU_ASSERT_EQUAL(
        bt_produce_raw(fd, "bad", 0, 1, (const uint8_t *)"", 0, NULL),
        BK_ERR_INVALID_MSG);
    batch.data[batch.len - 2] ^= 0x55;
    int64_t base = -1;
    CU_ASSERT_EQUAL(
        bt_produce_raw(fd, "bad", 0, 1, batch.data, batch.len, &base), 0);
    CU_ASSERT_EQUAL(base, 0);
    /* With acks=0 a failed produce closes the connection (Kafka's way
     * of telling such a producer). */
    batch.data[batch.len - 2] ^= 0x55;
    CU_ASSERT_EQUAL(
        bt_produce_raw(fd, "bad", 0, 0, batch.data, batch.len, NULL), 0);
    CU_ASSERT_TRUE(bk_h_wait_closed(fd, 5000));
    close(fd);

    /* 8. Random mutations of a valid produce frame, each on its own
     * connection: whatever happens, the broker answers or closes. */
    bk_buf frame = BK_BUF_INIT;
    {
        Brook__Request preq;
        bk_h_req_init(&preq, BK_API_PRODUCE, 99);
        Brook__ProduceRequest pr = BROOK__PRODUCE_REQUEST__INIT;
        Brook__TopicProduceData td = BROOK__TOPIC_PRODUCE_DATA__INIT;
        Brook__PartitionProduceData pd = BROOK__PARTITION_PRODUCE_DATA__INIT;
        Brook__TopicProduceData *tdp = &td;
        Brook__PartitionProduceData *pdp = &pd;
        pr.acks = 1;
        pr.n_topic_data = 1;
        pr.topic_data = &tdp;
        td.name = "bad";
        td.n_partition_data = 1;
        td.partition_data = &pdp;
        pd.records.data = batch.data;
        pd.records.len = batch.len;
        preq.body_case = BROOK__REQUEST__BODY_PRODUCE;
        preq.produce = &pr;
        CU_ASSERT_EQUAL(bk_frame_encode_request(&frame, &preq), 0);
    }
    srand((unsigned)bk_test_seed);
    int answered = 0, closed = 0, silent = 0;
    int mutations = bk_test_long ? 2000 : 200;
    uint8_t *m = malloc(frame.len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    for (int i = 0; i < mutations; i++) {
        memcpy(m, frame.data, frame.len);
        int flips = 1 + rand() % 4;
        for (int k = 0; k < flips; k++) {
            /* Keep the length prefix mostly sane so that the payload is
             * what gets exercised. */
            size_t at = 4 + (size_t)rand() % (frame.len - 4);
            m[at] = (uint8_t)rand();
        }
        int cfd = bk_h_connect(cl->broker[0].port);
        if (cfd < 0)
            break;
        bk_h_send_raw(cfd, m, frame.len);
        Brook__Response *r = NULL;
        int rc = bk_h_recv_response(cfd, 5000, &r);
        if (rc == 0) {
            answered++;
            brook__response__free_unpacked(r, NULL);
        } else if (rc == -1) {
            closed++;
        } else if (rc == -2 && still_serves(cfd)) {
            /* No answer, connection fine: the mutation turned the frame
             * into a valid acks=0 produce, which gets no response. */
            silent++;
        }
        close(cfd);
    }
    free(m);
    bk_buf_free(&frame);
    bk_buf_free(&batch);
    CU_ASSERT_EQUAL(answered + closed + silent, mutations);
    printf("\n    %d mutated frames: %d answered, %d closed, %d acks=0 "
           "(no answer, connection still serving)\n",
           mutations, answered, closed, silent);

    /* The steady client made progress while the bad input went on, and
     * goes on afterwards. */
    int rounds_during = s.rounds - rounds_before;
    int64_t t0 = bk_clock_mono_ms();
    int target = s.rounds + 20;
    while (s.rounds < target && s.failures == 0 &&
           bk_clock_mono_ms() - t0 < 10000)
        bk_h_sleep_ms(5);
    s.stop = true;
    pthread_join(s.t, NULL);
    CU_ASSERT(rounds_during > 0);
    CU_ASSERT(s.rounds >= target);
    printf("    steady client: %d produce+fetch rounds, %d failures\n",
           (int)s.rounds, (int)s.failures);
    CU_ASSERT_EQUAL(s.failures, 0);
    CU_ASSERT_TRUE(broker_alive(0));
    /* And the broker still serves a fresh client. */
    fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_TRUE(fd >= 0 && still_serves(fd));
    close(fd);
}

static bool produce_works(const char *tag);

/* ----------------------------- slow reader ----------------------------- */

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* A client pipelines hundreds of large fetches and reads nothing: the
 * broker stops reading it once its unsent output passes the limit, so its
 * memory stays bounded and other clients are served; when the client
 * finally reads, every answer arrives, in order. */
static void test_slow_reader(void)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_EQUAL_FATAL(bt_create_topic(fd, "big", 1, 1), 0);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(bk_h_wait_topic(cl, 0, "big", 1, 10000), 0);
    fd = bk_h_connect(cl->broker[0].port);
    /* About 800 KB of records. */
    static char val[1000];
    memset(val, 'b', sizeof val);
    for (int b = 0; b < 8; b++) {
        bk_batch_builder bb;
        CU_ASSERT_EQUAL_FATAL(bk_batch_builder_init(&bb, BK_CODEC_NONE), 0);
        for (int i = 0; i < 100; i++) {
            bk_record r = {.key_len = -1,
                           .value = val,
                           .value_len = sizeof val,
                           .timestamp = bk_clock_wall_ms()};
            bk_batch_builder_add(&bb, &r);
        }
        bk_buf buf = BK_BUF_INIT;
        CU_ASSERT_EQUAL(bk_batch_builder_finish(&bb, &buf), 0);
        bk_batch_builder_free(&bb);
        CU_ASSERT_EQUAL(
            bt_produce_raw(fd, "big", 0, 1, buf.data, buf.len, NULL), 0);
        bk_buf_free(&buf);
    }
    close(fd);

    pid_t pid = cl->broker[0].pid;
    long rss0 = rss_kb(pid);
    int slow = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(slow >= 0);
    const int n = 400; /* ~320 MB of answers if nothing held back */
    for (int i = 0; i < n; i++)
        CU_ASSERT_EQUAL(
            bt_fetch_send(slow, 10000 + i, "big", 0, 0, 0, 1, 4 << 20, 4 << 20),
            0);
    bk_h_sleep_ms(1000);
    long rss1 = rss_kb(pid);
    /* Meanwhile another client is served promptly. */
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_TRUE(produce_works("busy"));
    int64_t other_ms = bk_clock_mono_ms() - t0;
    CU_ASSERT(other_ms < 2000);
    printf("\n    broker RSS %ld -> %ld kB with %d unread fetches; "
           "other client served in %lld ms\n",
           rss0, rss1, n, (long long)other_ms);
    CU_ASSERT(rss0 > 0 && rss1 > 0);
    CU_ASSERT(rss1 - rss0 < 100 * 1024);
    /* Now read everything: all answers, in order, each complete. */
    int good = 0;
    for (int i = 0; i < n; i++) {
        bt_fetch_res r;
        bt_fetch_recv(slow, 10000 + i, 0, 20000, &r);
        if (r.error == 0 && r.nrecs == 800)
            good++;
        bt_fetch_free(&r);
        if (r.error != 0)
            break;
    }
    CU_ASSERT_EQUAL(good, n);
    close(slow);
    CU_ASSERT_TRUE(broker_alive(0));
}

/* ----------------------- SIGKILL and torn write ----------------------- */

/* Path of the newest segment (.log) of the partition dir. */
static int newest_segment(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char best[256] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n == 24 && strcmp(e->d_name + 20, ".log") == 0 &&
            strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    }
    closedir(d);
    if (!best[0])
        return -1;
    snprintf(out, cap, "%s/%s", dir, best);
    return 0;
}

static void test_kill_torn_write(void)
{
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_EQUAL_FATAL(bt_create_topic(fd, "durable", 1, 1), 0);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(bk_h_wait_topic(cl, 0, "durable", 1, 10000), 0);
    fd = bk_h_connect(cl->broker[0].port);
    /* 50 acknowledged batches of 10 records. */
    int acked = 0;
    for (int b = 0; b < 50; b++) {
        int64_t base = -1;
        if (bt_produce(fd, "durable", 0, 1, "d", acked, 10, &base) == 0 &&
            base == acked)
            acked += 10;
    }
    CU_ASSERT_EQUAL(acked, 500);
    close(fd);

    CU_ASSERT(bk_h_broker_signal(cl, 0, SIGKILL) >= 0);
    /* Simulate a write torn by a crash: half of a valid batch appended to
     * the active segment. */
    char seg[1024];
    CU_ASSERT_EQUAL_FATAL(
        newest_segment(bk_h_partition_dir(cl, 0, "durable", 0), seg,
                       sizeof seg),
        0);
    struct stat st0;
    CU_ASSERT_EQUAL(stat(seg, &st0), 0);
    bk_buf torn = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bt_batch(&torn, "torn", 0, 10, -1), 0);
    bk_store_be64(torn.data, 500); /* a plausible next base offset */
    int sfd = open(seg, O_WRONLY | O_APPEND);
    CU_ASSERT_FATAL(sfd >= 0);
    CU_ASSERT_EQUAL(write(sfd, torn.data, torn.len / 2),
                    (ssize_t)(torn.len / 2));
    close(sfd);
    bk_buf_free(&torn);

    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL_FATAL(bk_h_broker_start(cl, 0, true), 0);
    printf("\n    restart after SIGKILL: registered in %lld ms\n",
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_EQUAL(bk_h_wait_topic(cl, 0, "durable", 1, 10000), 0);
    struct stat st1;
    CU_ASSERT_EQUAL(stat(seg, &st1), 0);
    CU_ASSERT_EQUAL(st1.st_size, st0.st_size); /* the torn tail was cut */

    fd = bk_h_connect(cl->broker[0].port);
    bt_fetch_res r;
    bt_fetch_all(fd, "durable", 0, &r);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.hw, 500);
    CU_ASSERT_EQUAL(r.nrecs, 500);
    int bad = 0;
    for (size_t i = 0; i < r.nrecs; i++) {
        char want[32];
        snprintf(want, sizeof want, "d-%zu", i);
        if (r.recs[i].offset != (int64_t)i || strcmp(r.recs[i].value, want))
            bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    bt_fetch_free(&r);
    /* Appends continue right after the last acknowledged record. */
    int64_t base = -1;
    CU_ASSERT_EQUAL(bt_produce(fd, "durable", 0, 1, "d", 500, 5, &base), 0);
    CU_ASSERT_EQUAL(base, 500);
    close(fd);
    char log[600];
    snprintf(log, sizeof log, "%s/out.log", cl->broker[0].dir);
    CU_ASSERT_TRUE(bt_file_contains(log, "previous session"));
}

/* -------------------------- ZooKeeper faults -------------------------- */

static bool wait_znode(const char *path, bool present, int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < timeout_ms) {
        int rc = bt_zk_exists(cl->zk_connect, path);
        if ((rc == 0) == present && rc != -2)
            return true;
        bk_h_sleep_ms(100);
    }
    return false;
}

static bool produce_works(const char *tag)
{
    int fd = bk_h_connect(cl->broker[0].port);
    if (fd < 0)
        return false;
    int64_t base = -1;
    int rc = bt_produce(fd, "steady", 0, 1, tag, 0, 1, &base);
    bt_fetch_res r;
    bt_fetch(fd, "steady", 0, base, 0, 1, &r);
    bool ok = rc == 0 && r.error == 0 && r.nrecs >= 1;
    bt_fetch_free(&r);
    close(fd);
    return ok;
}

static void test_zk_restart(void)
{
    CU_ASSERT_TRUE(wait_znode("/brokers/ids/1", true, 5000));
    bk_h_zk_kill_node(cl->zk, 0);
    /* The data path does not need ZooKeeper. */
    CU_ASSERT_TRUE(produce_works("zkdown"));
    bk_h_sleep_ms(1000);
    CU_ASSERT_EQUAL_FATAL(bk_h_zk_start_node(cl->zk, 0, true), 0);
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_TRUE(wait_znode("/brokers/ids/1", true, 20000));
    printf("\n    registration visible %lld ms after ZooKeeper restarted\n",
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_TRUE(broker_alive(0));
    CU_ASSERT_TRUE(produce_works("zkback"));
    /* Watches work again: a topic created now reaches the broker. */
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_EQUAL(bt_create_topic(fd, "after-restart", 1, 1), 0);
    close(fd);
    CU_ASSERT_EQUAL(bk_h_wait_topic(cl, 0, "after-restart", 1, 10000), 0);
}

static void test_session_expiry(void)
{
    /* Freeze the broker past its session timeout (6 s): ZooKeeper expires
     * the session and drops the ephemeral znode. */
    CU_ASSERT_EQUAL(bk_h_broker_signal(cl, 0, SIGSTOP), 0);
    bool gone = wait_znode("/brokers/ids/1", false, 15000);
    CU_ASSERT_TRUE(gone);
    CU_ASSERT_EQUAL(bk_h_broker_signal(cl, 0, SIGCONT), 0);
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_TRUE(wait_znode("/brokers/ids/1", true, 20000));
    printf("\n    re-registered %lld ms after SIGCONT\n",
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_TRUE(broker_alive(0));
    CU_ASSERT_TRUE(produce_works("expired"));
    /* The new session has working watches too. */
    int fd = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_EQUAL(bt_create_topic(fd, "after-expiry", 1, 1), 0);
    close(fd);
    CU_ASSERT_EQUAL(bk_h_wait_topic(cl, 0, "after-expiry", 1, 10000), 0);
    char log[600];
    snprintf(log, sizeof log, "%s/out.log", cl->broker[0].dir);
    CU_ASSERT_TRUE(bt_file_contains(log, "new session"));
    if (getenv("BK_KEEP_LOG")) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "cp %s /tmp/expiry-out.log", log);
        (void)!system(cmd);
    }
}

static void test_zk_down_at_start(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", bk_test_subdir("zk-down"));
    char props[1024], path[600], log[600];
    snprintf(path, sizeof path, "%s/broker.properties", dir);
    snprintf(log, sizeof log, "%s/out.log", dir);
    int zport = bk_h_free_port(); /* nothing listens there */
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    snprintf(props, sizeof props,
             "broker.id=7\n"
             "listeners=PLAINTEXT://127.0.0.1:%d\n"
             "log.dirs=%s/logs\n"
             "zookeeper.connect=127.0.0.1:%d/brook\n"
             "zookeeper.connection.timeout.ms=2000\n",
             bk_h_free_port(), dir, zport);
    fputs(props, f);
    fclose(f);
    char *argv[] = {(char *)bk_h_bin("broker/brookd"), path, NULL};
    char bin[600];
    snprintf(bin, sizeof bin, "%s", argv[0]);
    argv[0] = bin;
    int64_t t0 = bk_clock_mono_ms();
    pid_t pid = bk_h_spawn(argv, log);
    CU_ASSERT_FATAL(pid > 0);
    int st = -1;
    while (bk_clock_mono_ms() - t0 < 15000 && !bk_h_exited(pid, &st))
        bk_h_sleep_ms(20);
    int64_t took = bk_clock_mono_ms() - t0;
    if (st == -1)
        bk_h_kill(pid, SIGKILL, 5000);
    CU_ASSERT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CU_ASSERT(took >= 1500 && took < 8000);
    CU_ASSERT_TRUE(bt_file_contains(log, "cannot connect to ZooKeeper"));
    printf("\n    ZooKeeper unreachable: exit %d after %lld ms\n",
           WIFEXITED(st) ? WEXITSTATUS(st) : -1, (long long)took);
}

static CU_TestInfo fault_tests[] = {
    {"hostile input while another client works", test_bad_input},
    {"a client that does not read: bounded memory, in order", test_slow_reader},
    {"SIGKILL + torn write: acknowledged records survive",
     test_kill_torn_write},
    {"ZooKeeper restarted under a running broker", test_zk_restart},
    {"session expiry: znode goes, broker re-registers", test_session_expiry},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo zkdown_tests[] = {
    {"ZooKeeper down at start: exit 1 with a clear error",
     test_zk_down_at_start},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    /* The ZooKeeper client's session lines would clutter the report. */
    bk_logging_set_level(BK_LVL_WARN);
    bk_test_add_suite_fn("broker-faults", fault_tests, suite_init, suite_clean);
    bk_test_add_suite("broker-zk-down", zkdown_tests);
}
