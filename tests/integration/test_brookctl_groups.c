/*
 * test_brookctl_groups.c -- `brookctl groups ...` (coordinator/
 * brookctl_groups.c) against a real cluster: one ZooKeeper, three brookd
 * (__consumer_offsets with 5 partitions), a topic "gt" of 3 partitions
 * holding 10, 7 and 4 records (partition 0 with fixed record timestamps
 * 1600000000000 + i), and a consumer group driven with raw protocol
 * frames: one member joins, syncs an assignment in Kafka's
 * ConsumerProtocolAssignment layout (gt 0 and 1) and commits 3, 7 and 1
 * through the coordinator.  The built brookctl then must:
 *   - list: the live group as Stable, a group that only has offsets in
 *     ZooKeeper as Empty, sorted;
 *   - describe: state, strategy, member (id, client id, host, gt(0,1)),
 *     and per partition committed offset, log end offset and lag, exact,
 *     with the owner; an unknown group is an error (exit 1);
 *   - reset-offsets: a dry run prints and writes nothing; --execute is
 *     refused while the member is alive; after LeaveGroup it writes the
 *     computed offsets (to-offset clamped to the log end, to-latest,
 *     to-datetime, to-earliest), read back from ZooKeeper;
 *   - delete: refused while the member is alive, then removes
 *     /consumers/<group>;
 *   - usage errors exit 2, an unreachable ZooKeeper exits 3.
 */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/logging.h"
#include "coordinator/offsets.h"
#include "coordinator/zk.h"
#include "proto/brook.pb-c.h"
#include "proto/protocol.h"
#include "tests/integration/brokertest.h"
#include "tests/unit/cu_main.h"

#define TS0 1600000000000LL /* 2020-09-13T12:26:40Z */

static bk_h_cluster *cl;
static const char *const G = "orders-ctl";
static const int NRECS[3] = {10, 7, 4};

static int port_of(int id)
{
    return bt_port_of(cl, id);
}

/* Produces n records to gt/p at its leader (acks=all), timestamps from
 * ts0 (< 0: now). */
static int produce(int32_t p, int n, int64_t ts0)
{
    int leader = -1;
    for (int i = 0; i < 100 && leader < 0; i++) {
        leader = bt_leader(cl->broker[0].port, "gt", p);
        if (leader < 0)
            bk_h_sleep_ms(100);
    }
    int fd = bk_h_connect(port_of(leader));
    if (fd < 0)
        return -1;
    bk_buf b = BK_BUF_INIT;
    int rc = bt_batch(&b, "r", 0, n, ts0) == 0
                 ? bt_produce_raw(fd, "gt", p, -1, b.data, b.len, NULL)
                 : -1;
    bk_buf_free(&b);
    /* the high watermark (what ListOffsets latest gives) must reach n */
    int64_t off = -1;
    for (int i = 0; rc == 0 && i < 100; i++) {
        if (bt_list_offsets(fd, "gt", p, -1, &off, NULL) == 0 && off == n)
            break;
        bk_h_sleep_ms(50);
    }
    close(fd);
    return rc == 0 && off == n ? 0 : -1;
}

static int suite_init(void)
{
    bk_logging_set_level(BK_LVL_WARN); /* no line per ZooKeeper session */
    cl = bk_h_cluster_start("ctlgroups", 1, 3,
                            "offsets.topic.num.partitions=5\n"
                            "group.initial.rebalance.delay.ms=0\n"
                            "group.min.session.timeout.ms=1000\n");
    if (!cl)
        return 1;
    int fd = bk_h_connect(cl->broker[0].port);
    int rc = bt_create_topic(fd, "gt", 3, 3) == 0 ? 0 : 1;
    close(fd);
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = bk_h_wait_topic(cl, i, "gt", 3, 10000) == 0 ? 0 : 1;
    for (int p = 0; rc == 0 && p < 3; p++)
        rc = produce(p, NRECS[p], p == 0 ? TS0 : -1) == 0 ? 0 : 1;
    return rc;
}

static int suite_clean(void)
{
    int bad = cl ? bk_h_cluster_log_problems(cl) : 0;
    bk_h_cluster_stop(cl);
    cl = NULL;
    return bad ? 1 : 0;
}

/* ------------------------------ brookctl ------------------------------ */

static char out[32768];

/* Runs brookctl with the words (NULL-terminated) and prints its output
 * when it is not the expected status, to make failures readable. */
static int ctl(int want, const char *const *args)
{
    int st = bk_h_brookctl(cl, out, sizeof out, args);
    if (st != want) {
        fprintf(stderr, "\nbrookctl exit %d (wanted %d):", st, want);
        for (int i = 0; args[i]; i++)
            fprintf(stderr, " %s", args[i]);
        fprintf(stderr, "\n%s\n", out);
    }
    return st;
}

/* Splits the line of `text` whose first tokens are w0 w1 w2 (w2 may be
 * NULL) into tok (up to 12); returns the count, 0 when no line matches. */
static int row(const char *text, const char *w0, const char *w1, const char *w2,
               char tok[12][256])
{
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[2048];
        if (len < sizeof buf) {
            memcpy(buf, line, len);
            buf[len] = '\0';
            int n = 0;
            char *save = NULL;
            for (char *t = strtok_r(buf, " \t", &save); t && n < 12;
                 t = strtok_r(NULL, " \t", &save))
                snprintf(tok[n++], 256, "%s", t);
            if (n >= 3 && strcmp(tok[0], w0) == 0 && strcmp(tok[1], w1) == 0 &&
                (!w2 || strcmp(tok[2], w2) == 0))
                return n;
        }
        line = end ? end + 1 : NULL;
    }
    return 0;
}

/* Committed offset of G's gt/p in ZooKeeper (-1: none, -2: error). */
static int64_t zk_offset(const char *group, int32_t p)
{
    bk_zk_opts o = {.connect = cl->zk_connect, .connect_timeout_ms = 10000};
    bk_zk *zk;
    char err[256];
    if (bk_zk_open(&o, &zk, err, sizeof err) != 0)
        return -2;
    bk_off_tp tp = {"gt", p};
    bk_off_list l = {0};
    int64_t v = -2;
    if (bk_off_fetch(zk, group, &tp, 1, &l, err, sizeof err) == 0 && l.n == 1)
        v = l.v[0].offset;
    bk_off_list_free(&l);
    bk_zk_close(zk);
    return v;
}

/* ------------------------------ the group ------------------------------ */

static char member[200];
static int32_t gen;
static int coord_port;

static Brook__Response *call(int port, Brook__Request *req)
{
    int fd = bk_h_connect(port);
    if (fd < 0)
        return NULL;
    Brook__Response *r = bk_h_call(fd, req, 10000);
    close(fd);
    return r;
}

static int find_coordinator(const char *group)
{
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < 20000) {
        int32_t node = -1;
        if (bt_find_coordinator(cl->broker[0].port, group, &node) == 0)
            return port_of(node);
        bk_h_sleep_ms(100);
    }
    return -1;
}

/* JoinGroup on fd; the response's error code, member id and generation. */
static int join(int fd, const char *group, const char *mid, char *got_member,
                int32_t *got_gen)
{
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_h_req_init(&req, BK_API_JOIN_GROUP, bt_corr());
    Brook__JoinGroupRequest jr = BROOK__JOIN_GROUP_REQUEST__INIT;
    Brook__JoinGroupRequestProtocol p =
        BROOK__JOIN_GROUP_REQUEST_PROTOCOL__INIT;
    Brook__JoinGroupRequestProtocol *pp = &p;
    static const uint8_t sub[] = {0, 0,   0,   0,    0,    1,    0,
                                  2, 'g', 't', 0xff, 0xff, 0xff, 0xff};
    jr.group_id = (char *)group;
    jr.session_timeout_ms = 120000; /* alive through the whole suite */
    jr.rebalance_timeout_ms = 10000;
    jr.member_id = (char *)mid;
    jr.protocol_type = "consumer";
    p.name = "range";
    p.metadata.data = (uint8_t *)sub;
    p.metadata.len = sizeof sub;
    jr.n_protocols = 1;
    jr.protocols = &pp;
    req.body_case = BROOK__REQUEST__BODY_JOIN_GROUP;
    req.join_group = &jr;
    Brook__Response *r = bk_h_call(fd, &req, 15000);
    int err = -100;
    if (r && r->join_group) {
        err = r->join_group->error_code;
        snprintf(got_member, 200, "%s", r->join_group->member_id);
        *got_gen = r->join_group->generation_id;
    }
    if (r)
        brook__response__free_unpacked(r, NULL);
    return err;
}

/* Kafka's ConsumerProtocolAssignment v0 of gt partitions 0 and 1. */
static void assignment(bk_buf *b)
{
    bk_buf_put_i16(b, 0);
    bk_buf_put_i32(b, 1);
    bk_buf_put_i16(b, 2);
    bk_buf_put(b, "gt", 2);
    bk_buf_put_i32(b, 2);
    bk_buf_put_i32(b, 0);
    bk_buf_put_i32(b, 1);
    bk_buf_put_i32(b, -1); /* user data: null */
}

/* SyncGroup of a one-member group: mid gets the bytes asg[0..len). */
static int sync_group(int fd, const char *group, const char *mid, int32_t g,
                      const uint8_t *asg, size_t len)
{
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_h_req_init(&req, BK_API_SYNC_GROUP, bt_corr());
    Brook__SyncGroupRequest sr = BROOK__SYNC_GROUP_REQUEST__INIT;
    Brook__SyncGroupRequestAssignment av =
        BROOK__SYNC_GROUP_REQUEST_ASSIGNMENT__INIT;
    Brook__SyncGroupRequestAssignment *pv = &av;
    sr.group_id = (char *)group;
    sr.member_id = (char *)mid;
    sr.generation_id = g;
    av.member_id = (char *)mid;
    av.assignment.data = (uint8_t *)asg;
    av.assignment.len = len;
    sr.n_assignments = 1;
    sr.assignments = &pv;
    req.body_case = BROOK__REQUEST__BODY_SYNC_GROUP;
    req.sync_group = &sr;
    Brook__Response *r = bk_h_call(fd, &req, 15000);
    int err = r && r->sync_group ? r->sync_group->error_code : -100;
    if (r)
        brook__response__free_unpacked(r, NULL);
    return err;
}

static int commit(const char *group, int32_t p, int64_t offset)
{
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_h_req_init(&req, BK_API_OFFSET_COMMIT, bt_corr());
    Brook__OffsetCommitRequest cr = BROOK__OFFSET_COMMIT_REQUEST__INIT;
    Brook__OffsetCommitRequestTopic t =
        BROOK__OFFSET_COMMIT_REQUEST_TOPIC__INIT;
    Brook__OffsetCommitRequestPartition pp =
        BROOK__OFFSET_COMMIT_REQUEST_PARTITION__INIT;
    Brook__OffsetCommitRequestTopic *tp = &t;
    Brook__OffsetCommitRequestPartition *ppp = &pp;
    cr.group_id = (char *)group;
    cr.member_id = member;
    cr.generation_id = gen;
    cr.retention_time_ms = -1;
    cr.n_topics = 1;
    cr.topics = &tp;
    t.name = "gt";
    t.n_partitions = 1;
    t.partitions = &ppp;
    pp.partition_index = p;
    pp.committed_offset = offset;
    pp.committed_leader_epoch = -1;
    pp.committed_metadata = "";
    req.body_case = BROOK__REQUEST__BODY_OFFSET_COMMIT;
    req.offset_commit = &cr;
    Brook__Response *r = call(coord_port, &req);
    int err = -100;
    if (r && r->offset_commit && r->offset_commit->n_topics == 1 &&
        r->offset_commit->topics[0]->n_partitions == 1)
        err = r->offset_commit->topics[0]->partitions[0]->error_code;
    if (r)
        brook__response__free_unpacked(r, NULL);
    return err;
}

static int leave(const char *group)
{
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_h_req_init(&req, BK_API_LEAVE_GROUP, bt_corr());
    Brook__LeaveGroupRequest lr = BROOK__LEAVE_GROUP_REQUEST__INIT;
    Brook__MemberIdentity mi = BROOK__MEMBER_IDENTITY__INIT;
    Brook__MemberIdentity *pm = &mi;
    lr.group_id = (char *)group;
    mi.member_id = member;
    lr.n_members = 1;
    lr.members = &pm;
    req.body_case = BROOK__REQUEST__BODY_LEAVE_GROUP;
    req.leave_group = &lr;
    Brook__Response *r = call(coord_port, &req);
    int err = r && r->leave_group ? r->leave_group->error_code : -100;
    if (r)
        brook__response__free_unpacked(r, NULL);
    return err;
}

/* ------------------------------ tests ------------------------------ */

/* Usage errors and an unreachable ZooKeeper need no group. */
static void test_usage_and_unreachable(void)
{
    const char *no_sub[] = {"groups", NULL};
    CU_ASSERT_EQUAL(ctl(2, no_sub), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "needs a subcommand"));
    const char *no_group[] = {"groups", "describe", NULL};
    CU_ASSERT_EQUAL(ctl(2, no_group), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "needs --group"));
    const char *bad_opt[] = {"groups", "list", "--group", "x", NULL};
    CU_ASSERT_EQUAL(ctl(2, bad_opt), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--group is not valid"));
    const char *no_to[] = {
        "groups", "reset-offsets", "--group", G, "--topic", "gt", NULL};
    CU_ASSERT_EQUAL(ctl(2, no_to), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "exactly one of"));
    const char *two_to[] = {
        "groups", "reset-offsets", "--group",     G,   "--topic",
        "gt",     "--to-earliest", "--to-latest", NULL};
    CU_ASSERT_EQUAL(ctl(2, two_to), 2);
    const char *bad_off[] = {
        "groups", "reset-offsets", "--group", G,   "--topic",
        "gt",     "--to-offset",   "x1",      NULL};
    CU_ASSERT_EQUAL(ctl(2, bad_off), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "bad --to-offset 'x1'"));
    const char *bad_dt[] = {
        "groups", "reset-offsets", "--group",    G,   "--topic",
        "gt",     "--to-datetime", "2020-13-01", NULL};
    CU_ASSERT_EQUAL(ctl(2, bad_dt), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "bad --to-datetime"));
    const char *bad_part[] = {
        "groups",  "reset-offsets", "--group",       G,
        "--topic", "gt:0,x",        "--to-earliest", NULL};
    CU_ASSERT_EQUAL(ctl(2, bad_part), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "bad partition 'x'"));
    const char *bad_grp[] = {"groups", "describe", "--group", "a/b", NULL};
    CU_ASSERT_EQUAL(ctl(2, bad_grp), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "bad --group 'a/b'"));

    /* the last --zookeeper wins over the harness's */
    const char *unreach[] = {"groups",      "list",         "--zookeeper",
                             "127.0.0.1:1", "--timeout-ms", "500",
                             NULL};
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(ctl(3, unreach), 3);
    CU_ASSERT(bk_clock_mono_ms() - t0 < 5000);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cannot connect to ZooKeeper"));
    const char *unreach2[] = {
        "groups",      "describe",     "--group", G,   "--zookeeper",
        "127.0.0.1:1", "--timeout-ms", "500",     NULL};
    CU_ASSERT_EQUAL(ctl(3, unreach2), 3);
}

/* Member joins, syncs gt 0,1, commits 3, 7, 1. */
static void test_setup_group(void)
{
    coord_port = find_coordinator(G);
    CU_ASSERT_FATAL(coord_port > 0);
    int fd = bk_h_connect(coord_port);
    CU_ASSERT_FATAL(fd >= 0);
    char mid[200];
    int32_t g = -1;
    CU_ASSERT_EQUAL(join(fd, G, "", mid, &g), BK_ERR_MEMBER_ID_REQUIRED);
    CU_ASSERT_EQUAL_FATAL(join(fd, G, mid, member, &gen), 0);
    CU_ASSERT_STRING_EQUAL(member, mid);
    CU_ASSERT_EQUAL(gen, 1);
    bk_buf b = BK_BUF_INIT;
    assignment(&b);
    CU_ASSERT_EQUAL(sync_group(fd, G, member, gen, b.data, b.len), 0);
    bk_buf_free(&b);
    close(fd);
    CU_ASSERT_EQUAL(commit(G, 0, 3), 0);
    CU_ASSERT_EQUAL(commit(G, 1, 7), 0);
    CU_ASSERT_EQUAL(commit(G, 2, 1), 0);
    CU_ASSERT_EQUAL(zk_offset(G, 0), 3);
    CU_ASSERT_EQUAL(zk_offset(G, 2), 1);

    /* a group that only has offsets in ZooKeeper (an old consumer's) */
    bk_zk_opts o = {.connect = cl->zk_connect, .connect_timeout_ms = 10000};
    bk_zk *zk;
    char err[256];
    CU_ASSERT_FATAL(bk_zk_open(&o, &zk, err, sizeof err) == 0);
    bk_off_entry e = {"gt", 1, 2, NULL};
    CU_ASSERT_EQUAL(bk_off_commit(zk, NULL, "zz-offsets-only", &e, 1, 0, NULL,
                                  err, sizeof err),
                    0);
    bk_zk_close(zk);
}

static void test_list(void)
{
    const char *args[] = {"groups", "list", NULL};
    CU_ASSERT_EQUAL_FATAL(ctl(0, args), 0);
    const char *a = strstr(out, "orders-ctl\tStable\n");
    const char *b = strstr(out, "zz-offsets-only\tEmpty\n");
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT_PTR_NOT_NULL(b);
    CU_ASSERT(a && b && a < b); /* sorted */
    CU_ASSERT_PTR_NULL(strstr(out, "warning"));
}

/* Checks the partition row of gt/p: committed, end, lag, owner. */
static void check_row(int32_t p, const char *cur, const char *end,
                      const char *lag, const char *owner)
{
    char tok[12][256], ps[8];
    snprintf(ps, sizeof ps, "%d", p);
    int n = row(out, G, "gt", ps, tok);
    CU_ASSERT_EQUAL(n, 9);
    if (n != 9)
        return;
    CU_ASSERT_STRING_EQUAL(tok[3], cur);
    CU_ASSERT_STRING_EQUAL(tok[4], end);
    CU_ASSERT_STRING_EQUAL(tok[5], lag);
    CU_ASSERT_STRING_EQUAL(tok[6], owner);
}

static void test_describe_live(void)
{
    const char *args[] = {"groups", "describe", "--group", G, NULL};
    CU_ASSERT_EQUAL_FATAL(ctl(0, args), 0);
    char tok[12][256];
    /* GROUP COORDINATOR (ID) STRATEGY STATE #MEMBERS */
    int n = row(out, G, "127.0.0.1", NULL, tok);
    if (n == 0) {
        /* the coordinator column is host:port (id) */
        char first[64];
        snprintf(first, sizeof first, "127.0.0.1:%d", coord_port);
        n = row(out, G, first, NULL, tok);
    }
    CU_ASSERT_EQUAL(n, 6);
    if (n == 6) {
        CU_ASSERT_STRING_EQUAL(tok[3], "range");
        CU_ASSERT_STRING_EQUAL(tok[4], "Stable");
        CU_ASSERT_STRING_EQUAL(tok[5], "1");
    }
    /* member: GROUP ID HOST CLIENT-ID #PARTITIONS ASSIGNMENT */
    n = row(out, G, member, NULL, tok);
    CU_ASSERT_EQUAL(n, 6);
    if (n == 6) {
        CU_ASSERT_STRING_EQUAL(tok[2], "/127.0.0.1");
        CU_ASSERT_STRING_EQUAL(tok[3], "test");
        CU_ASSERT_STRING_EQUAL(tok[4], "2");
        CU_ASSERT_STRING_EQUAL(tok[5], "gt(0,1)");
    }
    check_row(0, "3", "10", "7", member);
    check_row(1, "7", "7", "0", member);
    check_row(2, "1", "4", "3", "-");
}

static void test_unknown_group(void)
{
    const char *args[] = {"groups", "describe", "--group", "no-such-group",
                          NULL};
    CU_ASSERT_EQUAL(ctl(1, args), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "'no-such-group' does not exist"));
    const char *del[] = {"groups", "delete", "--group", "no-such-group", NULL};
    CU_ASSERT_EQUAL(ctl(1, del), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "does not exist"));
    const char *topic[] = {"groups",  "reset-offsets", "--group",       G,
                           "--topic", "no-such-topic", "--to-earliest", NULL};
    CU_ASSERT_EQUAL(ctl(1, topic), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Topic 'no-such-topic' does not exist"));
    const char *part[] = {"groups",  "reset-offsets", "--group",       G,
                          "--topic", "gt:0,3",        "--to-earliest", NULL};
    CU_ASSERT_EQUAL(ctl(1, part), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "has no partition 3"));
}

static void test_refused_while_active(void)
{
    /* dry run: printed (with a warning), nothing written */
    const char *dry[] = {"groups", "reset-offsets", "--group", G, "--topic",
                         "gt",     "--to-earliest", NULL};
    CU_ASSERT_EQUAL(ctl(0, dry), 0);
    char tok[12][256];
    for (int p = 0; p < 3; p++) {
        char ps[8];
        snprintf(ps, sizeof ps, "%d", p);
        CU_ASSERT_EQUAL(row(out, G, "gt", ps, tok), 4);
        CU_ASSERT_STRING_EQUAL(tok[3], "0");
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "dry run"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--execute would be refused"));
    CU_ASSERT_EQUAL(zk_offset(G, 0), 3);

    const char *ex[] = {"groups", "reset-offsets", "--group",   G,   "--topic",
                        "gt",     "--to-earliest", "--execute", NULL};
    CU_ASSERT_EQUAL(ctl(1, ex), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "can only be reset if the group"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Stable"));
    CU_ASSERT_EQUAL(zk_offset(G, 0), 3);
    CU_ASSERT_EQUAL(zk_offset(G, 1), 7);
    CU_ASSERT_EQUAL(zk_offset(G, 2), 1);

    const char *del[] = {"groups", "delete", "--group", G, NULL};
    CU_ASSERT_EQUAL(ctl(1, del), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "could not be deleted"));
    CU_ASSERT_EQUAL(zk_offset(G, 0), 3);
}

static void test_reset_after_leave(void)
{
    CU_ASSERT_EQUAL_FATAL(leave(G), 0);
    const char *d[] = {"groups", "describe", "--group", G, NULL};
    CU_ASSERT_EQUAL(ctl(0, d), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "has no active members"));
    check_row(0, "3", "10", "7", "-");

    /* --to-offset past the end is clamped to the log end (Kafka) */
    const char *r0[] = {
        "groups", "reset-offsets", "--group", G,           "--topic",
        "gt:0",   "--to-offset",   "100",     "--execute", NULL};
    CU_ASSERT_EQUAL(ctl(0, r0), 0);
    CU_ASSERT_EQUAL(zk_offset(G, 0), 10);
    CU_ASSERT_EQUAL(zk_offset(G, 1), 7); /* not named: untouched */

    /* two partitions in one command (one multi) */
    const char *r1[] = {
        "groups", "reset-offsets", "--group", G,           "--topic",
        "gt:1,2", "--to-offset",   "2",       "--execute", NULL};
    CU_ASSERT_EQUAL(ctl(0, r1), 0);
    CU_ASSERT_EQUAL(zk_offset(G, 1), 2);
    CU_ASSERT_EQUAL(zk_offset(G, 2), 2);

    const char *r2[] = {"groups", "reset-offsets", "--group",   G,   "--topic",
                        "gt:2",   "--to-latest",   "--execute", NULL};
    CU_ASSERT_EQUAL(ctl(0, r2), 0);
    CU_ASSERT_EQUAL(zk_offset(G, 2), 4);

    /* records of gt/0 have timestamps TS0 + i: TS0 + 5 is offset 5, a
     * time before all of them is offset 0, one after all the end */
    const char *r3[] = {"groups",        "reset-offsets",
                        "--group",       G,
                        "--topic",       "gt:0",
                        "--to-datetime", "2020-09-13T12:26:40.005Z",
                        "--execute",     NULL};
    CU_ASSERT_EQUAL(ctl(0, r3), 0);
    CU_ASSERT_EQUAL(zk_offset(G, 0), 5);
    const char *r4[] = {"groups",
                        "reset-offsets",
                        "--group",
                        G,
                        "--topic",
                        "gt:0",
                        "--to-datetime",
                        "2020-09-13T14:26:39+02:00",
                        NULL};
    CU_ASSERT_EQUAL(ctl(0, r4), 0);
    char tok[12][256];
    CU_ASSERT_EQUAL(row(out, G, "gt", "0", tok), 4);
    CU_ASSERT_STRING_EQUAL(tok[3], "0");
    const char *r5[] = {
        "groups",  "reset-offsets", "--group",       G,
        "--topic", "gt:0",          "--to-datetime", "2021-01-01T00:00:00Z",
        NULL};
    CU_ASSERT_EQUAL(ctl(0, r5), 0);
    CU_ASSERT_EQUAL(row(out, G, "gt", "0", tok), 4);
    CU_ASSERT_STRING_EQUAL(tok[3], "10");
    CU_ASSERT_EQUAL(zk_offset(G, 0), 5); /* dry runs wrote nothing */

    CU_ASSERT_EQUAL(ctl(0, d), 0);
    check_row(0, "5", "10", "5", "-");
    check_row(1, "2", "7", "5", "-");
    check_row(2, "4", "4", "0", "-");

    /* every partition back to the start, in one command */
    const char *r6[] = {"groups", "reset-offsets", "--group",   G,   "--topic",
                        "gt",     "--to-earliest", "--execute", NULL};
    CU_ASSERT_EQUAL(ctl(0, r6), 0);
    for (int p = 0; p < 3; p++)
        CU_ASSERT_EQUAL(zk_offset(G, p), 0);
}

static void test_delete(void)
{
    const char *del[] = {"groups", "delete", "--group", G, NULL};
    CU_ASSERT_EQUAL(ctl(0, del), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "was successful"));
    char path[BK_OFF_PATH_MAX];
    bk_off_path_group(path, G);
    CU_ASSERT_EQUAL(bt_zk_exists(cl->zk_connect, path), -1);
    /* the coordinator's Empty entry is all that is left: not a group */
    const char *d[] = {"groups", "describe", "--group", G, NULL};
    int st = ctl(0, d);
    if (st == 0) { /* the coordinator still holds it, Empty */
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "no committed offsets"));
    } else {
        CU_ASSERT_EQUAL(st, 1);
    }
    CU_ASSERT_EQUAL(ctl(1, del), 1);
    const char *list[] = {"groups", "list", NULL};
    CU_ASSERT_EQUAL(ctl(0, list), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "zz-offsets-only\tEmpty\n"));
}

/* A member whose assignment is not Kafka's layout: describe still works
 * and says so; the group's id is not ASCII. */
static void test_bad_assignment(void)
{
    /* non-ASCII, with a character outside the BMP: brookctl must hash it
     * as Java does (UTF-16 code units, a surrogate pair here) to find
     * the coordinator FindCoordinator named */
    const char *bg = "bad-assignment-\xc3\xbc\xf0\x9f\x98\x80";
    int port = find_coordinator(bg);
    CU_ASSERT_FATAL(port > 0);
    int fd = bk_h_connect(port);
    CU_ASSERT_FATAL(fd >= 0);
    char mid[200], m2[200];
    int32_t g = -1;
    CU_ASSERT_EQUAL(join(fd, bg, "", mid, &g), BK_ERR_MEMBER_ID_REQUIRED);
    CU_ASSERT_EQUAL_FATAL(join(fd, bg, mid, m2, &g), 0);
    /* a topic count far beyond the bytes that follow */
    static const uint8_t junk[] = {0, 0, 0x7f, 0xff, 0xff, 0xff, 'x'};
    CU_ASSERT_EQUAL(sync_group(fd, bg, m2, g, junk, sizeof junk), 0);
    close(fd);
    const char *args[] = {"groups", "describe", "--group", bg, NULL};
    CU_ASSERT_EQUAL(ctl(0, args), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "bad assignment: the topic count"));
    char tok[12][256];
    CU_ASSERT_EQUAL(row(out, bg, m2, NULL, tok), 6);
    CU_ASSERT_STRING_EQUAL(tok[4], "0");
    CU_ASSERT_STRING_EQUAL(tok[5], "-");
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "no committed offsets and no assigned"));
}

/* Brokers down: list skips them with a warning; with the coordinator
 * down, reset --execute and delete are refused (the group might have
 * members) and describe shows the offsets with state Unknown.  Run last:
 * it kills two brokers. */
static void test_brokers_down(void)
{
    /* offsets for G again, straight into ZooKeeper */
    bk_zk_opts o = {.connect = cl->zk_connect, .connect_timeout_ms = 10000};
    bk_zk *zk;
    char err[256];
    CU_ASSERT_FATAL(bk_zk_open(&o, &zk, err, sizeof err) == 0);
    bk_off_entry e = {"gt", 0, 4, NULL};
    CU_ASSERT_EQUAL(bk_off_commit(zk, NULL, G, &e, 1, 0, NULL, err, sizeof err),
                    0);
    bk_zk_close(zk);

    int ci = -1, oi = -1;
    for (int i = 0; i < cl->n; i++) {
        if (cl->broker[i].port == coord_port)
            ci = i;
        else if (oi < 0)
            oi = i;
    }
    CU_ASSERT_FATAL(ci >= 0 && oi >= 0);
    bk_h_broker_signal(cl, oi, SIGKILL);
    const char *list[] = {"groups", "list", "--timeout-ms", "2000", NULL};
    CU_ASSERT_EQUAL(ctl(0, list), 0);
    char want[64];
    snprintf(want, sizeof want, "warning: broker %d skipped",
             cl->broker[oi].id);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "orders-ctl\tEmpty\n"));

    /* the coordinator's registration outlives it by the session timeout
     * (6 s): brookctl finds it in ZooKeeper and cannot connect */
    bk_h_broker_signal(cl, ci, SIGKILL);
    const char *ex[] = {"groups",
                        "reset-offsets",
                        "--group",
                        G,
                        "--topic",
                        "gt:0",
                        "--to-earliest",
                        "--execute",
                        "--timeout-ms",
                        "1500",
                        NULL};
    CU_ASSERT_EQUAL(ctl(1, ex), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cannot be asked"));
    const char *del[] = {"groups",       "delete", "--group", G,
                         "--timeout-ms", "1500",   NULL};
    CU_ASSERT_EQUAL(ctl(1, del), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cannot be asked"));
    CU_ASSERT_EQUAL(zk_offset(G, 0), 4);
    const char *d[] = {"groups",       "describe", "--group", G,
                       "--timeout-ms", "1500",     NULL};
    CU_ASSERT_EQUAL(ctl(0, d), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Unknown"));
    char tok[12][256];
    CU_ASSERT_EQUAL(row(out, G, "gt", "0", tok), 9);
    CU_ASSERT_STRING_EQUAL(tok[3], "4");
}

static CU_TestInfo tests[] = {
    {"usage errors, unreachable ZooKeeper", test_usage_and_unreachable},
    {"a group with one member and commits", test_setup_group},
    {"list", test_list},
    {"describe a live group: members, lag", test_describe_live},
    {"unknown group, topic, partition", test_unknown_group},
    {"reset and delete refused while active", test_refused_while_active},
    {"reset after LeaveGroup", test_reset_after_leave},
    {"a member with an undecodable assignment", test_bad_assignment},
    {"delete", test_delete},
    {"brokers down", test_brokers_down},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("brookctl groups", tests, suite_init, suite_clean);
}
