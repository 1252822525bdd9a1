/*
 * test_groups.c -- brookd's group coordinator (broker/gcoord.c over
 * broker/group.c and coordinator/offsets.c) with raw protocol frames, on a
 * real ZooKeeper and three brokers (__consumer_offsets with 5 partitions,
 * replication factor 3, group.initial.rebalance.delay.ms=0):
 *   - FindCoordinator creates __consumer_offsets and then names the leader
 *     of partition abs(hash(group)) % 5; other brokers answer group
 *     requests NOT_COORDINATOR;
 *   - JoinGroup: MEMBER_ID_REQUIRED, then generation 1 with the member as
 *     leader; SyncGroup hands out the leader's assignment; a second member
 *     makes the first one's heartbeat REBALANCE_IN_PROGRESS, both rejoin
 *     (generation 2, one leader who sees both subscriptions), sync, and
 *     heartbeat NONE; DescribeGroups / ListGroups show it Stable;
 *   - OffsetCommit / OffsetFetch: a commit of the current generation is
 *     stored in ZooKeeper (read back through OffsetFetch with its metadata
 *     and directly from the znode); a stale generation, an unknown member
 *     and an unknown topic are refused;
 *   - a held JoinGroup whose connection closes does not block the group;
 *   - the coordinator SIGKILLed: FindCoordinator names the new leader of
 *     the group's partition, the old member gets UNKNOWN_MEMBER_ID there
 *     and the committed offsets are still served (they live in
 *     ZooKeeper).
 */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/gcoord.h"
#include "common/clock.h"
#include "coordinator/offsets.h"
#include "coordinator/zk.h"
#include "proto/brook.pb-c.h"
#include "proto/protocol.h"
#include "tests/integration/brokertest.h"
#include "tests/unit/cu_main.h"

#define NOFF 5

static bk_h_cluster *cl;

static int suite_init(void)
{
    cl = bk_h_cluster_start("groups", 1, 3,
                            "offsets.topic.num.partitions=5\n"
                            "offsets.topic.replication.factor=3\n"
                            "group.initial.rebalance.delay.ms=0\n"
                            "group.min.session.timeout.ms=1000\n");
    if (!cl)
        return 1;
    int fd = bk_h_connect(cl->broker[0].port);
    int rc = bt_create_topic(fd, "gt", 4, 3) == 0 ? 0 : 1;
    close(fd);
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = bk_h_wait_topic(cl, i, "gt", 4, 10000) == 0 ? 0 : 1;
    return rc;
}

static int suite_clean(void)
{
    int bad = cl ? bk_h_cluster_log_problems(cl) : 0;
    bk_h_cluster_stop(cl);
    cl = NULL;
    return bad ? 1 : 0;
}

/* ------------------------------- requests ------------------------------- */

static int port_of(int id)
{
    return bt_port_of(cl, id);
}

/* Waits until FindCoordinator (asked at broker index `at`) names a
 * coordinator; returns its id or -1. */
static int wait_coord(int at, const char *group, int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < timeout_ms) {
        int32_t node = -1;
        if (bt_find_coordinator(cl->broker[at].port, group, &node) == 0 &&
            node >= 0)
            return node;
        bk_h_sleep_ms(50);
    }
    return -1;
}

static const uint8_t SUB_A[] = "subscription-a";
static const uint8_t SUB_B[] = "subscription-b";

static int send_join(int fd, const char *group, const char *member,
                     const uint8_t *meta, size_t len, int32_t corr)
{
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_h_req_init(&req, BK_API_JOIN_GROUP, corr);
    Brook__JoinGroupRequest jr = BROOK__JOIN_GROUP_REQUEST__INIT;
    Brook__JoinGroupRequestProtocol p =
        BROOK__JOIN_GROUP_REQUEST_PROTOCOL__INIT;
    Brook__JoinGroupRequestProtocol *pp = &p;
    jr.group_id = (char *)group;
    jr.session_timeout_ms = 6000;
    jr.rebalance_timeout_ms = 6000;
    jr.member_id = (char *)member;
    jr.protocol_type = "consumer";
    p.name = "range";
    p.metadata.data = (uint8_t *)meta;
    p.metadata.len = len;
    jr.n_protocols = 1;
    jr.protocols = &pp;
    req.body_case = BROOK__REQUEST__BODY_JOIN_GROUP;
    req.join_group = &jr;
    return bk_h_send_request(fd, &req);
}

typedef struct join_res {
    int error;
    int32_t generation;
    char member[160];
    char leader[160];
    size_t nmembers;
    char protocol[32];
} join_res;

static int recv_join(int fd, join_res *out, int timeout_ms)
{
    memset(out, 0, sizeof *out);
    out->error = -100;
    Brook__Response *resp = NULL;
    if (bk_h_recv_response(fd, timeout_ms, &resp) != 0 || !resp)
        return -1;
    if (resp->join_group) {
        const Brook__JoinGroupResponse *j = resp->join_group;
        out->error = j->error_code;
        out->generation = j->generation_id;
        snprintf(out->member, sizeof out->member, "%s", j->member_id);
        snprintf(out->leader, sizeof out->leader, "%s", j->leader);
        snprintf(out->protocol, sizeof out->protocol, "%s", j->protocol_name);
        out->nmembers = j->n_members;
    }
    brook__response__free_unpacked(resp, NULL);
    return 0;
}

/* A complete first join: MEMBER_ID_REQUIRED, then the join with the id
 * (which may be held: the answer comes through recv_join). */
static int join_new(int fd, const char *group, const uint8_t *meta, size_t len,
                    char *member, size_t cap)
{
    join_res r;
    if (send_join(fd, group, "", meta, len, bt_corr()) != 0 ||
        recv_join(fd, &r, 10000) != 0)
        return -1;
    CU_ASSERT_EQUAL(r.error, BK_ERR_MEMBER_ID_REQUIRED);
    CU_ASSERT(r.member[0] != '\0');
    snprintf(member, cap, "%s", r.member);
    return send_join(fd, group, member, meta, len, bt_corr());
}

/* Sends a SyncGroup (the answer may be held: read it with recv_sync). */
static int sync_group(int fd, const char *group, const char *member,
                      int32_t gen, const char *const *ids,
                      const char *const *data, size_t n)
{
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_h_req_init(&req, BK_API_SYNC_GROUP, bt_corr());
    Brook__SyncGroupRequest sr = BROOK__SYNC_GROUP_REQUEST__INIT;
    Brook__SyncGroupRequestAssignment av[4], *pv[4];
    sr.group_id = (char *)group;
    sr.member_id = (char *)member;
    sr.generation_id = gen;
    for (size_t i = 0; i < n && i < 4; i++) {
        brook__sync_group_request_assignment__init(&av[i]);
        av[i].member_id = (char *)ids[i];
        av[i].assignment.data = (uint8_t *)data[i];
        av[i].assignment.len = strlen(data[i]);
        pv[i] = &av[i];
    }
    sr.n_assignments = n;
    sr.assignments = pv;
    req.body_case = BROOK__REQUEST__BODY_SYNC_GROUP;
    req.sync_group = &sr;
    return bk_h_send_request(fd, &req);
}

static int recv_sync(int fd, char *got, size_t cap, int timeout_ms)
{
    Brook__Response *resp = NULL;
    if (bk_h_recv_response(fd, timeout_ms, &resp) != 0 || !resp)
        return -100;
    int err = -100;
    if (resp->sync_group) {
        err = resp->sync_group->error_code;
        size_t n = resp->sync_group->assignment.len;
        if (n >= cap)
            n = cap - 1;
        memcpy(got, resp->sync_group->assignment.data, n);
        got[n] = '\0';
    }
    brook__response__free_unpacked(resp, NULL);
    return err;
}

static int heartbeat(int port, const char *group, const char *member,
                     int32_t gen)
{
    int fd = bk_h_connect(port);
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_h_req_init(&req, BK_API_HEARTBEAT, bt_corr());
    Brook__HeartbeatRequest hr = BROOK__HEARTBEAT_REQUEST__INIT;
    hr.group_id = (char *)group;
    hr.member_id = (char *)member;
    hr.generation_id = gen;
    req.body_case = BROOK__REQUEST__BODY_HEARTBEAT;
    req.heartbeat = &hr;
    Brook__Response *resp = bk_h_call(fd, &req, 10000);
    close(fd);
    int err = resp && resp->heartbeat ? resp->heartbeat->error_code : -100;
    if (resp)
        brook__response__free_unpacked(resp, NULL);
    return err;
}

/* OffsetCommit of one partition of "gt"; the partition's error code. */
static int commit(int port, const char *group, const char *member, int32_t gen,
                  const char *topic, int32_t p, int64_t offset,
                  const char *meta)
{
    int fd = bk_h_connect(port);
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
    cr.member_id = (char *)member;
    cr.generation_id = gen;
    cr.n_topics = 1;
    cr.topics = &tp;
    t.name = (char *)topic;
    t.n_partitions = 1;
    t.partitions = &ppp;
    pp.partition_index = p;
    pp.committed_offset = offset;
    pp.committed_leader_epoch = -1;
    pp.committed_metadata = (char *)meta;
    req.body_case = BROOK__REQUEST__BODY_OFFSET_COMMIT;
    req.offset_commit = &cr;
    Brook__Response *resp = bk_h_call(fd, &req, 10000);
    close(fd);
    int err = -100;
    if (resp && resp->offset_commit && resp->offset_commit->n_topics == 1 &&
        resp->offset_commit->topics[0]->n_partitions == 1)
        err = resp->offset_commit->topics[0]->partitions[0]->error_code;
    if (resp)
        brook__response__free_unpacked(resp, NULL);
    return err;
}

/* OffsetFetch of gt/p: the group-level error, offset and metadata. */
static int fetch_offset(int port, const char *group, int32_t p, int64_t *off,
                        char *meta, size_t cap)
{
    int fd = bk_h_connect(port);
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_h_req_init(&req, BK_API_OFFSET_FETCH, bt_corr());
    Brook__OffsetFetchRequest fr = BROOK__OFFSET_FETCH_REQUEST__INIT;
    Brook__OffsetFetchRequestTopic t = BROOK__OFFSET_FETCH_REQUEST_TOPIC__INIT;
    Brook__OffsetFetchRequestTopic *tp = &t;
    int32_t parts[1] = {p};
    fr.group_id = (char *)group;
    fr.n_topics = 1;
    fr.topics = &tp;
    t.name = "gt";
    t.n_partition_indexes = 1;
    t.partition_indexes = parts;
    req.body_case = BROOK__REQUEST__BODY_OFFSET_FETCH;
    req.offset_fetch = &fr;
    Brook__Response *resp = bk_h_call(fd, &req, 10000);
    close(fd);
    int err = -100;
    *off = -2;
    if (resp && resp->offset_fetch) {
        err = resp->offset_fetch->error_code;
        if (err == 0 && resp->offset_fetch->n_topics == 1 &&
            resp->offset_fetch->topics[0]->n_partitions == 1) {
            const Brook__OffsetFetchResponsePartition *pp =
                resp->offset_fetch->topics[0]->partitions[0];
            *off = pp->committed_offset;
            snprintf(meta, cap, "%s", pp->metadata);
            err = pp->error_code;
        }
    }
    if (resp)
        brook__response__free_unpacked(resp, NULL);
    return err;
}

/* DescribeGroups: state name and member count. */
static int describe(int port, const char *group, char *state, size_t cap,
                    size_t *nmembers)
{
    int fd = bk_h_connect(port);
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_h_req_init(&req, BK_API_DESCRIBE_GROUPS, bt_corr());
    Brook__DescribeGroupsRequest dr = BROOK__DESCRIBE_GROUPS_REQUEST__INIT;
    char *g = (char *)group;
    dr.n_groups = 1;
    dr.groups = &g;
    req.body_case = BROOK__REQUEST__BODY_DESCRIBE_GROUPS;
    req.describe_groups = &dr;
    Brook__Response *resp = bk_h_call(fd, &req, 10000);
    close(fd);
    int err = -100;
    if (resp && resp->describe_groups && resp->describe_groups->n_groups == 1) {
        const Brook__DescribedGroup *d = resp->describe_groups->groups[0];
        err = d->error_code;
        snprintf(state, cap, "%s", d->group_state);
        *nmembers = d->n_members;
    }
    if (resp)
        brook__response__free_unpacked(resp, NULL);
    return err;
}

/* --------------------------------- tests --------------------------------- */

static const char *G = "orders-app";

static void test_find_coordinator(void)
{
    /* The first FindCoordinator creates __consumer_offsets. */
    int32_t node = -1;
    int err = bt_find_coordinator(cl->broker[0].port, G, &node);
    CU_ASSERT(err == 0 || err == BK_ERR_COORDINATOR_NOT_AVAILABLE);
    int64_t t0 = bk_clock_mono_ms();
    int coord = wait_coord(0, G, 20000);
    printf("\n    coordinator of %s: broker %d after %lld ms\n", G, coord,
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_FATAL(coord >= 1);
    /* It is the leader of the group's partition, on every broker. */
    int32_t p = bk_off_group_partition(G, NOFF);
    CU_ASSERT_EQUAL(bt_leader(cl->broker[1].port, BK_GC_TOPIC, p), coord);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(wait_coord(i, G, 10000), coord);
    CU_ASSERT_EQUAL(bt_find_coordinator(cl->broker[0].port, "", &node),
                    BK_ERR_INVALID_GROUP_ID);
    CU_ASSERT_EQUAL(bt_find_coordinator(cl->broker[0].port, "a/b", &node),
                    BK_ERR_INVALID_GROUP_ID);
    /* Group requests elsewhere: NOT_COORDINATOR. */
    for (int i = 0; i < 3; i++)
        if (cl->broker[i].id != coord)
            CU_ASSERT_EQUAL(heartbeat(cl->broker[i].port, G, "x", 1),
                            BK_ERR_NOT_COORDINATOR);
}

static char mem_a[160], mem_b[160];
static int32_t gen2;

static void test_join_sync_rebalance(void)
{
    int coord = wait_coord(0, G, 10000);
    CU_ASSERT_FATAL(coord >= 1);
    int port = port_of(coord);
    int fa = bk_h_connect(port), fb = bk_h_connect(port);
    CU_ASSERT_FATAL(fa >= 0 && fb >= 0);

    /* A alone: generation 1, A leads. */
    CU_ASSERT_FATAL(
        join_new(fa, G, SUB_A, sizeof SUB_A - 1, mem_a, sizeof mem_a) == 0);
    join_res ja;
    CU_ASSERT_FATAL(recv_join(fa, &ja, 10000) == 0);
    CU_ASSERT_EQUAL(ja.error, 0);
    CU_ASSERT_EQUAL(ja.generation, 1);
    CU_ASSERT_STRING_EQUAL(ja.leader, mem_a);
    CU_ASSERT_STRING_EQUAL(ja.member, mem_a);
    CU_ASSERT_STRING_EQUAL(ja.protocol, "range");
    CU_ASSERT_EQUAL(ja.nmembers, 1);
    const char *ids1[] = {mem_a};
    const char *as1[] = {"all-of-gt"};
    char got[64];
    CU_ASSERT_EQUAL(sync_group(fa, G, mem_a, 1, ids1, as1, 1), 0);
    CU_ASSERT_EQUAL(recv_sync(fa, got, sizeof got, 10000), 0);
    CU_ASSERT_STRING_EQUAL(got, "all-of-gt");
    CU_ASSERT_EQUAL(heartbeat(port, G, mem_a, 1), 0);
    CU_ASSERT_EQUAL(heartbeat(port, G, mem_a, 7), BK_ERR_ILLEGAL_GENERATION);
    CU_ASSERT_EQUAL(heartbeat(port, G, "nobody", 1), BK_ERR_UNKNOWN_MEMBER_ID);

    /* B joins: held until A rejoins (A learns from its heartbeat). */
    CU_ASSERT_FATAL(
        join_new(fb, G, SUB_B, sizeof SUB_B - 1, mem_b, sizeof mem_b) == 0);
    int hb = -1;
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < 5000 &&
           (hb = heartbeat(port, G, mem_a, 1)) == 0)
        bk_h_sleep_ms(50);
    CU_ASSERT_EQUAL(hb, BK_ERR_REBALANCE_IN_PROGRESS);
    CU_ASSERT_FATAL(
        send_join(fa, G, mem_a, SUB_A, sizeof SUB_A - 1, bt_corr()) == 0);
    join_res ra, rb;
    CU_ASSERT_FATAL(recv_join(fa, &ra, 10000) == 0);
    CU_ASSERT_FATAL(recv_join(fb, &rb, 10000) == 0);
    CU_ASSERT_EQUAL(ra.error, 0);
    CU_ASSERT_EQUAL(rb.error, 0);
    CU_ASSERT_EQUAL(ra.generation, 2);
    CU_ASSERT_EQUAL(rb.generation, 2);
    CU_ASSERT_STRING_EQUAL(ra.leader, rb.leader);
    /* Only the leader gets the member list (both subscriptions). */
    bool a_leads = strcmp(ra.leader, mem_a) == 0;
    CU_ASSERT_EQUAL(a_leads ? ra.nmembers : rb.nmembers, 2);
    CU_ASSERT_EQUAL(a_leads ? rb.nmembers : ra.nmembers, 0);
    gen2 = ra.generation;

    /* The follower's SyncGroup waits for the leader's. */
    int fl = a_leads ? fa : fb, ff = a_leads ? fb : fa;
    const char *lid = a_leads ? mem_a : mem_b, *fid = a_leads ? mem_b : mem_a;
    CU_ASSERT_EQUAL(sync_group(ff, G, fid, gen2, NULL, NULL, 0), 0);
    bk_h_sleep_ms(200);
    const char *ids2[] = {mem_a, mem_b};
    const char *as2[] = {"gt-0-1", "gt-2-3"};
    CU_ASSERT_EQUAL(sync_group(fl, G, lid, gen2, ids2, as2, 2), 0);
    char ga[64], gb[64];
    CU_ASSERT_EQUAL(recv_sync(fa, ga, sizeof ga, 10000), 0);
    CU_ASSERT_EQUAL(recv_sync(fb, gb, sizeof gb, 10000), 0);
    CU_ASSERT_STRING_EQUAL(ga, "gt-0-1");
    CU_ASSERT_STRING_EQUAL(gb, "gt-2-3");
    CU_ASSERT_EQUAL(heartbeat(port, G, mem_a, gen2), 0);
    CU_ASSERT_EQUAL(heartbeat(port, G, mem_b, gen2), 0);

    char state[32] = "";
    size_t nm = 0;
    CU_ASSERT_EQUAL(describe(port, G, state, sizeof state, &nm), 0);
    CU_ASSERT_STRING_EQUAL(state, "Stable");
    CU_ASSERT_EQUAL(nm, 2);
    close(fa);
    close(fb);
}

static void test_offsets(void)
{
    int coord = wait_coord(0, G, 10000);
    int port = port_of(coord);
    /* Keep the members alive while committing. */
    CU_ASSERT_EQUAL(heartbeat(port, G, mem_a, gen2), 0);
    CU_ASSERT_EQUAL(heartbeat(port, G, mem_b, gen2), 0);
    CU_ASSERT_EQUAL(commit(port, G, mem_a, gen2, "gt", 0, 42, "m-42"), 0);
    CU_ASSERT_EQUAL(commit(port, G, mem_b, gen2, "gt", 2, 7, ""), 0);
    CU_ASSERT_EQUAL(commit(port, G, mem_a, gen2 - 1, "gt", 0, 50, ""),
                    BK_ERR_ILLEGAL_GENERATION);
    CU_ASSERT_EQUAL(commit(port, G, "stranger", gen2, "gt", 0, 50, ""),
                    BK_ERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_EQUAL(commit(port, G, mem_a, gen2, "nosuchtopic", 0, 1, ""),
                    BK_ERR_UNKNOWN_TOPIC_OR_PART);
    int other = port_of(coord % 3 + 1);
    CU_ASSERT_EQUAL(commit(other, G, mem_a, gen2, "gt", 0, 50, ""),
                    BK_ERR_NOT_COORDINATOR);

    int64_t off = -5;
    char meta[64] = "";
    CU_ASSERT_EQUAL(fetch_offset(port, G, 0, &off, meta, sizeof meta), 0);
    CU_ASSERT_EQUAL(off, 42);
    CU_ASSERT_STRING_EQUAL(meta, "m-42");
    CU_ASSERT_EQUAL(fetch_offset(port, G, 1, &off, meta, sizeof meta), 0);
    CU_ASSERT_EQUAL(off, -1); /* nothing committed */
    /* a bad partition is that partition's error, not the group's */
    CU_ASSERT_EQUAL(fetch_offset(port, G, -1, &off, meta, sizeof meta),
                    BK_ERR_UNKNOWN_TOPIC_OR_PART);

    /* It is in ZooKeeper, in the layout brookctl reads. */
    bk_zk *zk = NULL;
    char connect[400], err[256];
    snprintf(connect, sizeof connect, "%s", cl->zk_connect);
    bk_zk_opts o = {.connect = connect, .session_timeout_ms = 6000};
    CU_ASSERT_FATAL(bk_zk_open(&o, &zk, err, sizeof err) == 0);
    bk_off_tp tps[2] = {{"gt", 0}, {"gt", 2}};
    bk_off_list l = {0};
    CU_ASSERT_EQUAL(bk_off_fetch(zk, G, tps, 2, &l, err, sizeof err), 0);
    CU_ASSERT_EQUAL(l.n, 2);
    if (l.n == 2) {
        CU_ASSERT_EQUAL(l.v[0].offset, 42);
        CU_ASSERT_STRING_EQUAL(l.v[0].metadata, "m-42");
        CU_ASSERT_EQUAL(l.v[1].offset, 7);
    }
    bk_off_list_free(&l);
    bk_zk_close(zk);
}

/* A held JoinGroup whose client goes away must not hold up the rest. */
static void test_abandoned_join(void)
{
    const char *g = "abandon";
    int coord = wait_coord(0, g, 10000);
    CU_ASSERT_FATAL(coord >= 1);
    int port = port_of(coord);
    int f1 = bk_h_connect(port);
    char m1[160], m2[160];
    CU_ASSERT_FATAL(join_new(f1, g, SUB_A, sizeof SUB_A - 1, m1, sizeof m1) ==
                    0);
    join_res r;
    CU_ASSERT_FATAL(recv_join(f1, &r, 10000) == 0);
    CU_ASSERT_EQUAL(r.error, 0);
    /* A second member's join is held (rebalance); it disconnects. */
    int f2 = bk_h_connect(port);
    CU_ASSERT_FATAL(join_new(f2, g, SUB_B, sizeof SUB_B - 1, m2, sizeof m2) ==
                    0);
    bk_h_sleep_ms(100);
    close(f2);
    /* The first member rejoins: the rebalance completes without it once
     * its rebalance timeout passes at the latest (6 s), and the broker
     * stays healthy. */
    CU_ASSERT_FATAL(send_join(f1, g, m1, SUB_A, sizeof SUB_A - 1, bt_corr()) ==
                    0);
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_FATAL(recv_join(f1, &r, 15000) == 0);
    printf("\n    rejoin answered in %lld ms (generation %d, %zu members)\n",
           (long long)(bk_clock_mono_ms() - t0), r.generation, r.nmembers);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.generation, 2);
    close(f1);
}

static void test_coordinator_failover(void)
{
    int coord = wait_coord(0, G, 10000);
    CU_ASSERT_FATAL(coord >= 1);
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, coord - 1, SIGKILL) >= 0);
    int at = coord % 3; /* a live broker's index */
    int64_t t0 = bk_clock_mono_ms();
    int now = -1;
    while (bk_clock_mono_ms() - t0 < 20000) {
        now = wait_coord(at, G, 500);
        if (now >= 1 && now != coord)
            break;
        bk_h_sleep_ms(100);
    }
    printf("\n    coordinator %d SIGKILLed: broker %d coordinates after %lld "
           "ms\n",
           coord, now, (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT_FATAL(now >= 1 && now != coord);
    int port = port_of(now);
    /* The group starts afresh there; committed offsets survived. */
    int hb = -1;
    t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < 5000 &&
           (hb = heartbeat(port, G, mem_a, gen2)) ==
               BK_ERR_COORDINATOR_LOAD_IN_PROGRESS)
        bk_h_sleep_ms(50);
    CU_ASSERT_EQUAL(hb, BK_ERR_UNKNOWN_MEMBER_ID);
    int64_t off = -5;
    char meta[64] = "";
    CU_ASSERT_EQUAL(fetch_offset(port, G, 0, &off, meta, sizeof meta), 0);
    CU_ASSERT_EQUAL(off, 42);
    CU_ASSERT_STRING_EQUAL(meta, "m-42");
    CU_ASSERT(bk_h_broker_start(cl, coord - 1, true) == 0);
}

/* SIGTERM of the coordinator while a JoinGroup is held: the member is
 * told NOT_COORDINATOR (or, at worst, the connection closes) at once,
 * and the broker stops without waiting for the rebalance. */
static void test_sigterm_answers_held_join(void)
{
    const char *g = "term-group";
    int coord = wait_coord(0, g, 10000);
    CU_ASSERT_FATAL(coord >= 1);
    int port = port_of(coord);
    int f1 = bk_h_connect(port), f2 = bk_h_connect(port);
    char m1[160], m2[160];
    CU_ASSERT_FATAL(join_new(f1, g, SUB_A, sizeof SUB_A - 1, m1, sizeof m1) ==
                    0);
    join_res r;
    CU_ASSERT_FATAL(recv_join(f1, &r, 10000) == 0);
    CU_ASSERT_EQUAL(r.error, 0);
    /* a second member: its join is held until the first rejoins */
    CU_ASSERT_FATAL(join_new(f2, g, SUB_B, sizeof SUB_B - 1, m2, sizeof m2) ==
                    0);
    bk_h_sleep_ms(200);
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT(bk_h_broker_signal(cl, coord - 1, SIGTERM) >= 0);
    int64_t stop_ms = bk_clock_mono_ms() - t0;
    int rc = recv_join(f2, &r, 5000);
    printf("\n    coordinator stopped in %lld ms; the held join got %s\n",
           (long long)stop_ms,
           rc == 0 ? bk_err_name(r.error) : "a closed connection");
    CU_ASSERT(rc != 0 || r.error == BK_ERR_NOT_COORDINATOR);
    CU_ASSERT(stop_ms < 5000);
    close(f1);
    close(f2);
    CU_ASSERT(bk_h_broker_start(cl, coord - 1, true) == 0);
}

static CU_TestInfo tests[] = {
    {"FindCoordinator creates __consumer_offsets", test_find_coordinator},
    {"join, sync, rebalance, heartbeat, describe", test_join_sync_rebalance},
    {"OffsetCommit / OffsetFetch through ZooKeeper", test_offsets},
    {"a held JoinGroup whose client left", test_abandoned_join},
    {"coordinator SIGKILLed: group moves, offsets kept",
     test_coordinator_failover},
    {"coordinator SIGTERMed: a held join is answered",
     test_sigterm_answers_held_join},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("groups", tests, suite_init, suite_clean);
}
