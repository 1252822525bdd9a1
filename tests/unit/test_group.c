/*
 * test_group.c -- the group coordinator's state machine (broker/group.c)
 * under a fake clock: join phases, leader and protocol choice, SyncGroup,
 * heartbeats, session / rebalance / sync / new-member timeouts, the
 * delayed initial rebalance, LeaveGroup, commit validation, errors,
 * unloading, and randomized event sequences checking that every request
 * is answered exactly once with consistent generations and leaders.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/group.h"
#include "common/err.h"
#include "common/logging.h"
#include "proto/protocol.h"
#include "tests/unit/cu_main.h"

#define SESSION 10000
#define REBAL   30000

/* One request's answer, as the callback saw it. */
typedef struct reply {
    int kind;  /* 1 JoinGroup, 2 SyncGroup */
    int count; /* times answered: must end at exactly 1 */
    int32_t error;
    int32_t generation;
    char member_id[128];
    char leader[128];
    char protocol[32];
    char protocol_type[32];
    size_t n_members;
    char members[16][128];
    char metas[16][32];
    uint8_t assign[128];
    size_t assign_len;
    /* randomized test bookkeeping */
    int client;
    int epoch;
    int incarnation;
    int32_t req_gen;
    bool cancelled; /* bk_grp_cancel'ed: must never be answered */
    struct reply *next;
} reply;

static void (*join_hook)(reply *r);
static void (*sync_hook)(reply *r);

static void copy_str(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

static void on_join(void *ctx, const bk_grp_join_resp *r)
{
    reply *x = ctx;
    CU_ASSERT_EQUAL(x->count, 0); /* answered once only */
    x->kind = 1;
    x->count++;
    x->error = r->error;
    x->generation = r->generation_id;
    copy_str(x->member_id, sizeof(x->member_id), r->member_id);
    copy_str(x->leader, sizeof(x->leader), r->leader_id);
    copy_str(x->protocol, sizeof(x->protocol), r->protocol_name);
    copy_str(x->protocol_type, sizeof(x->protocol_type), r->protocol_type);
    x->n_members = r->n_members;
    CU_ASSERT_FATAL(r->n_members <= 16);
    for (size_t i = 0; i < r->n_members; i++) {
        copy_str(x->members[i], sizeof(x->members[i]), r->members[i].member_id);
        size_t n = r->members[i].metadata_len;
        CU_ASSERT_FATAL(n < sizeof(x->metas[i]));
        memcpy(x->metas[i], r->members[i].metadata, n);
        x->metas[i][n] = '\0';
    }
    if (join_hook)
        join_hook(x);
}

static void on_sync(void *ctx, const bk_grp_sync_resp *r)
{
    reply *x = ctx;
    CU_ASSERT_EQUAL(x->count, 0);
    x->kind = 2;
    x->count++;
    x->error = r->error;
    copy_str(x->protocol, sizeof(x->protocol), r->protocol_name);
    copy_str(x->protocol_type, sizeof(x->protocol_type), r->protocol_type);
    CU_ASSERT_FATAL(r->assignment_len <= sizeof(x->assign));
    if (r->assignment_len)
        memcpy(x->assign, r->assignment, r->assignment_len);
    x->assign_len = r->assignment_len;
    if (sync_hook)
        sync_hook(x);
}

static bk_grp_mgr *mk(int32_t initial_delay, int32_t max_size)
{
    bk_grp_config cfg;
    bk_grp_config_default(&cfg);
    CU_ASSERT_EQUAL(cfg.initial_rebalance_delay_ms, 3000);
    CU_ASSERT_EQUAL(cfg.min_session_timeout_ms, 6000);
    CU_ASSERT_EQUAL(cfg.max_session_timeout_ms, 1800000);
    cfg.initial_rebalance_delay_ms = initial_delay;
    cfg.max_size = max_size;
    cfg.seed = 42;
    cfg.on_join = on_join;
    cfg.on_sync = on_sync;
    bk_grp_mgr *m = NULL;
    CU_ASSERT_EQUAL_FATAL(bk_grp_new(&cfg, &m), 0);
    return m;
}

/* Protocol lists used by the tests. */
static const bk_grp_protocol P_RANGE_RR[] = {
    {"range", (const uint8_t *)"r-meta", 6},
    {"roundrobin", (const uint8_t *)"rr-meta", 7}};
static const bk_grp_protocol P_RR_RANGE[] = {
    {"roundrobin", (const uint8_t *)"rr-meta", 7},
    {"range", (const uint8_t *)"r-meta", 6}};
static const bk_grp_protocol P_STICKY[] = {{"sticky", (const uint8_t *)"s", 1}};

static int join_p(bk_grp_mgr *m, reply *r, const char *group, const char *mid,
                  const char *client, const bk_grp_protocol *p, size_t np,
                  bool require_known, int64_t now)
{
    char id[128]; /* mid may point into *r */
    snprintf(id, sizeof(id), "%s", mid ? mid : "");
    memset(r, 0, sizeof(*r));
    bk_grp_join_req q = {0};
    q.group_id = group;
    q.member_id = id;
    q.client_id = client;
    q.client_host = "/127.0.0.1";
    q.protocol_type = "consumer";
    q.session_timeout_ms = SESSION;
    q.rebalance_timeout_ms = REBAL;
    q.protocols = p;
    q.n_protocols = np;
    q.require_known_member_id = require_known;
    int rc = bk_grp_join(m, &q, r, now);
    /* held iff not answered yet */
    CU_ASSERT_EQUAL(r->count, rc == BK_AGAIN ? 0 : 1);
    CU_ASSERT(rc == 0 || rc == BK_AGAIN);
    return rc;
}

static int join(bk_grp_mgr *m, reply *r, const char *group, const char *mid,
                const char *client, int64_t now)
{
    return join_p(m, r, group, mid, client, P_RANGE_RR, 2, false, now);
}

static int sync_(bk_grp_mgr *m, reply *r, const char *group, const char *mid,
                 int32_t gen, const bk_grp_assignment *a, size_t na,
                 int64_t now)
{
    char id[128];
    snprintf(id, sizeof(id), "%s", mid ? mid : "");
    memset(r, 0, sizeof(*r));
    bk_grp_sync_req q = {group, id, gen, NULL, NULL, a, na};
    int rc = bk_grp_sync(m, &q, r, now);
    CU_ASSERT_EQUAL(r->count, rc == BK_AGAIN ? 0 : 1);
    return rc;
}

static void check_state(bk_grp_mgr *m, const char *group, bk_grp_state st,
                        size_t n_members, int32_t gen)
{
    bk_grp_desc d;
    CU_ASSERT_EQUAL_FATAL(bk_grp_describe(m, group, &d), 0);
    CU_ASSERT_EQUAL(d.state, st);
    CU_ASSERT_STRING_EQUAL(d.state_name, bk_grp_state_name(st));
    CU_ASSERT_EQUAL(d.n_members, n_members);
    CU_ASSERT_EQUAL(d.generation_id, gen);
    bk_grp_desc_free(&d);
    CU_ASSERT_EQUAL(bk_grp_verify(m), 0);
}

/* Syncs members ids[0..n) of generation gen, the leader (ids[0]) last,
 * with assignments "as-<i>"; the group must end Stable. */
static void sync_all(bk_grp_mgr *m, const char *group, size_t n,
                     char ids[][128], int32_t gen, int64_t t)
{
    reply s[8];
    bk_grp_assignment a[8];
    char data[8][32];
    for (size_t i = 0; i < n; i++) {
        snprintf(data[i], sizeof(data[i]), "as-%zu", i);
        a[i] = (bk_grp_assignment){ids[i], (const uint8_t *)data[i],
                                   strlen(data[i])};
    }
    for (size_t i = 1; i < n; i++)
        CU_ASSERT_EQUAL(sync_(m, &s[i], group, ids[i], gen, NULL, 0, t),
                        BK_AGAIN);
    CU_ASSERT_EQUAL(sync_(m, &s[0], group, ids[0], gen, a, n, t), 0);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(s[i].count, 1);
        CU_ASSERT_EQUAL(s[i].error, 0);
        CU_ASSERT_EQUAL(s[i].assign_len, strlen(data[i]));
        CU_ASSERT_EQUAL(memcmp(s[i].assign, data[i], s[i].assign_len), 0);
    }
    check_state(m, group, BK_GRP_STABLE, n, gen);
}

/* Builds a Stable group of n new members at time t (the manager made
 * with no initial delay): c1 completes a generation alone and leads, the
 * others join (a rebalance), c1 rejoins and completes the next one.
 * ids gets the member ids, the leader first.  Returns the generation. */
static int32_t stable_group(bk_grp_mgr *m, const char *group, size_t n,
                            char ids[][128], int64_t t)
{
    reply r[8];
    CU_ASSERT_FATAL(n >= 1 && n <= 8);
    CU_ASSERT_EQUAL(join(m, &r[0], group, "", "c1", t), 0);
    CU_ASSERT_EQUAL_FATAL(r[0].error, 0);
    snprintf(ids[0], 128, "%s", r[0].member_id);
    for (size_t i = 1; i < n; i++) {
        char client[16];
        snprintf(client, sizeof(client), "c%zu", i + 1);
        CU_ASSERT_EQUAL(join(m, &r[i], group, "", client, t), BK_AGAIN);
    }
    if (n > 1)
        CU_ASSERT_EQUAL(join(m, &r[0], group, ids[0], "c1", t), 0);
    int32_t gen = r[0].generation;
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL_FATAL(r[i].count, 1);
        CU_ASSERT_EQUAL_FATAL(r[i].error, 0);
        CU_ASSERT_EQUAL_FATAL(r[i].generation, gen);
        CU_ASSERT_STRING_EQUAL(r[i].leader, ids[0]);
        snprintf(ids[i], 128, "%s", r[i].member_id);
    }
    CU_ASSERT_EQUAL(r[0].n_members, n);
    sync_all(m, group, n, ids, gen, t);
    return gen;
}

/* All of a Stable group's members rejoin (the leader ids[0] first, which
 * starts the rebalance) and sync again.  Returns the new generation. */
static int32_t rejoin_all(bk_grp_mgr *m, const char *group, size_t n,
                          char ids[][128], int64_t t)
{
    reply r[8];
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_EQUAL(join(m, &r[i], group, ids[i], "c", t),
                        i + 1 < n ? BK_AGAIN : 0);
    int32_t gen = r[0].generation;
    for (size_t i = 0; i < n; i++)
        CU_ASSERT(r[i].count == 1 && r[i].error == 0 && r[i].generation == gen);
    sync_all(m, group, n, ids, gen, t);
    return gen;
}

/* ---- scenarios ---------------------------------------------------- */

static void test_three_join_and_sync(void)
{
    bk_grp_mgr *m = mk(3000, 0);
    reply r1, r2, r3;
    const bk_grp_protocol *p3 = P_RR_RANGE;
    CU_ASSERT_EQUAL(bk_grp_next_deadline(m), INT64_MAX);
    CU_ASSERT_EQUAL(join_p(m, &r1, "g", "", "c1", P_RANGE_RR, 2, false, 0),
                    BK_AGAIN);
    check_state(m, "g", BK_GRP_PREPARING_REBALANCE, 1, 0);
    CU_ASSERT_EQUAL(bk_grp_next_deadline(m), 3000); /* initial delay */
    CU_ASSERT_EQUAL(join_p(m, &r2, "g", "", "c2", P_RR_RANGE, 2, false, 100),
                    BK_AGAIN);
    CU_ASSERT_EQUAL(join_p(m, &r3, "g", "", "c3", p3, 2, false, 200), BK_AGAIN);
    bk_grp_tick(m, 2999);
    CU_ASSERT_EQUAL(r1.count + r2.count + r3.count, 0);
    /* new members arrived during the delay: it is extended once more */
    bk_grp_tick(m, 3000);
    CU_ASSERT_EQUAL(r1.count + r2.count + r3.count, 0);
    CU_ASSERT_EQUAL(bk_grp_next_deadline(m), 6000);
    bk_grp_tick(m, 6000);
    CU_ASSERT_EQUAL(r1.count, 1);
    CU_ASSERT_EQUAL(r2.count, 1);
    CU_ASSERT_EQUAL(r3.count, 1);
    reply *rs[3] = {&r1, &r2, &r3};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(rs[i]->error, 0);
        CU_ASSERT_EQUAL(rs[i]->generation, 1);
        CU_ASSERT_STRING_EQUAL(rs[i]->leader, r1.member_id);
        /* two of three prefer roundrobin, which all support */
        CU_ASSERT_STRING_EQUAL(rs[i]->protocol, "roundrobin");
        CU_ASSERT_STRING_EQUAL(rs[i]->protocol_type, "consumer");
    }
    CU_ASSERT_EQUAL(strncmp(r1.member_id, "c1-", 3), 0);
    CU_ASSERT_EQUAL(strlen(r1.member_id), 3 + 36);
    CU_ASSERT_EQUAL(r1.member_id[3 + 14], '4'); /* uuid v4 */
    CU_ASSERT_STRING_NOT_EQUAL(r1.member_id, r2.member_id);
    CU_ASSERT_EQUAL(r1.n_members, 3); /* the leader sees everybody */
    CU_ASSERT_EQUAL(r2.n_members, 0);
    CU_ASSERT_EQUAL(r3.n_members, 0);
    CU_ASSERT_STRING_EQUAL(r1.members[1], r2.member_id);
    CU_ASSERT_STRING_EQUAL(r1.metas[0], "rr-meta");
    check_state(m, "g", BK_GRP_COMPLETING_REBALANCE, 3, 1);

    /* heartbeats are fine, commits wait for the assignment */
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", r2.member_id, 1, 6100), 0);
    CU_ASSERT_EQUAL(bk_grp_commit_check(m, "g", r2.member_id, 1, 6100),
                    BK_ERR_REBALANCE_IN_PROGRESS);
    /* followers wait for the leader */
    reply s1, s2, s3;
    CU_ASSERT_EQUAL(sync_(m, &s2, "g", r2.member_id, 1, NULL, 0, 6200),
                    BK_AGAIN);
    CU_ASSERT_EQUAL(sync_(m, &s3, "g", r3.member_id, 1, NULL, 0, 6300),
                    BK_AGAIN);
    check_state(m, "g", BK_GRP_COMPLETING_REBALANCE, 3, 1);
    bk_grp_assignment a[] = {{r1.member_id, (const uint8_t *)"A1", 2},
                             {r2.member_id, (const uint8_t *)"A22", 3},
                             {"not-a-member", (const uint8_t *)"X", 1}};
    CU_ASSERT_EQUAL(sync_(m, &s1, "g", r1.member_id, 1, a, 3, 6400), 0);
    CU_ASSERT_EQUAL(s1.count, 1);
    CU_ASSERT_EQUAL(s2.count, 1);
    CU_ASSERT_EQUAL(s3.count, 1);
    CU_ASSERT_EQUAL(s1.error + s2.error + s3.error, 0);
    CU_ASSERT(s1.assign_len == 2 && memcmp(s1.assign, "A1", 2) == 0);
    CU_ASSERT(s2.assign_len == 3 && memcmp(s2.assign, "A22", 3) == 0);
    CU_ASSERT_EQUAL(s3.assign_len, 0); /* omitted: empty */
    CU_ASSERT_STRING_EQUAL(s2.protocol, "roundrobin");
    check_state(m, "g", BK_GRP_STABLE, 3, 1);

    /* a late SyncGroup in Stable gets the same answer at once */
    CU_ASSERT_EQUAL(sync_(m, &s2, "g", r2.member_id, 1, NULL, 0, 6500), 0);
    CU_ASSERT(s2.error == 0 && s2.assign_len == 3);
    CU_ASSERT_EQUAL(bk_grp_commit_check(m, "g", r2.member_id, 1, 6500), 0);

    bk_grp_desc d;
    CU_ASSERT_EQUAL(bk_grp_describe(m, "g", &d), 0);
    CU_ASSERT_STRING_EQUAL(d.state_name, "Stable");
    CU_ASSERT_STRING_EQUAL(d.protocol_type, "consumer");
    CU_ASSERT_STRING_EQUAL(d.protocol_name, "roundrobin");
    CU_ASSERT_STRING_EQUAL(d.leader_id, r1.member_id);
    CU_ASSERT_EQUAL_FATAL(d.n_members, 3);
    CU_ASSERT_STRING_EQUAL(d.members[1].client_id, "c2");
    CU_ASSERT_STRING_EQUAL(d.members[1].client_host, "/127.0.0.1");
    CU_ASSERT(d.members[1].metadata_len == 7 &&
              memcmp(d.members[1].metadata, "rr-meta", 7) == 0);
    CU_ASSERT(d.members[1].assignment_len == 3 &&
              memcmp(d.members[1].assignment, "A22", 3) == 0);
    bk_grp_desc_free(&d);

    bk_grp_overview *ov;
    size_t n;
    CU_ASSERT_EQUAL(bk_grp_list(m, &ov, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(ov[0].group_id, "g");
    CU_ASSERT_STRING_EQUAL(ov[0].state_name, "Stable");
    CU_ASSERT_STRING_EQUAL(ov[0].protocol_type, "consumer");
    free(ov);
    bk_grp_free(m);
}

static void test_fourth_joins(void)
{
    bk_grp_mgr *m = mk(0, 0);
    char ids[4][128];
    int32_t gen = stable_group(m, "g", 3, ids, 0);
    reply r4, rj[3];
    CU_ASSERT_EQUAL(join(m, &r4, "g", "", "c4", 1000), BK_AGAIN);
    check_state(m, "g", BK_GRP_PREPARING_REBALANCE, 4, gen);
    /* the others learn of it from their heartbeats and rejoin */
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[i], gen, 1100 + i),
                        BK_ERR_REBALANCE_IN_PROGRESS);
        /* commits of the old generation still count while preparing */
        CU_ASSERT_EQUAL(bk_grp_commit_check(m, "g", ids[i], gen, 1100), 0);
    }
    CU_ASSERT_EQUAL(join(m, &rj[1], "g", ids[1], "c2", 1200), BK_AGAIN);
    CU_ASSERT_EQUAL(join(m, &rj[2], "g", ids[2], "c3", 1300), BK_AGAIN);
    /* a SyncGroup now is told to rejoin */
    reply s;
    sync_(m, &s, "g", ids[0], gen, NULL, 0, 1350);
    CU_ASSERT_EQUAL(s.error, BK_ERR_REBALANCE_IN_PROGRESS);
    /* the last one completes the join phase at once */
    CU_ASSERT_EQUAL(join(m, &rj[0], "g", ids[0], "c1", 1400), 0);
    reply *all[4] = {&rj[0], &rj[1], &rj[2], &r4};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(all[i]->count, 1);
        CU_ASSERT_EQUAL(all[i]->error, 0);
        CU_ASSERT_EQUAL(all[i]->generation, gen + 1);
        CU_ASSERT_STRING_EQUAL(all[i]->leader, ids[0]); /* kept */
    }
    CU_ASSERT_EQUAL(rj[0].n_members, 4);
    check_state(m, "g", BK_GRP_COMPLETING_REBALANCE, 4, gen + 1);
    /* the old generation is refused now */
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[1], gen, 1500),
                    BK_ERR_ILLEGAL_GENERATION);
    bk_grp_free(m);
}

static void test_session_expiry(void)
{
    bk_grp_mgr *m = mk(0, 0);
    char ids[3][128];
    int32_t gen = stable_group(m, "g", 3, ids, 0);
    /* members 0 and 1 heartbeat every 3 s; member 2 is silent */
    int64_t t = 0;
    for (t = 3000; t < SESSION; t += 3000) {
        CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[0], gen, t), 0);
        CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[1], gen, t), 0);
    }
    CU_ASSERT_EQUAL(bk_grp_next_deadline(m), SESSION);
    bk_grp_tick(m, SESSION - 1);
    check_state(m, "g", BK_GRP_STABLE, 3, gen);
    bk_grp_tick(m, SESSION);
    check_state(m, "g", BK_GRP_PREPARING_REBALANCE, 2, gen);
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[2], gen, SESSION + 1),
                    BK_ERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_EQUAL(bk_grp_commit_check(m, "g", ids[2], gen, SESSION + 1),
                    BK_ERR_UNKNOWN_MEMBER_ID);
    reply r0, r1;
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[1], gen, SESSION + 100),
                    BK_ERR_REBALANCE_IN_PROGRESS);
    CU_ASSERT_EQUAL(join(m, &r1, "g", ids[1], "c2", SESSION + 200), BK_AGAIN);
    CU_ASSERT_EQUAL(join(m, &r0, "g", ids[0], "c1", SESSION + 300), 0);
    CU_ASSERT(r1.count == 1 && r1.generation == gen + 1);
    CU_ASSERT_EQUAL(r0.n_members, 2);
    check_state(m, "g", BK_GRP_COMPLETING_REBALANCE, 2, gen + 1);

    /* the expiry also works when nobody ticks: the next request on the
     * group runs the due timers first */
    reply s0, s1;
    sync_(m, &s1, "g", ids[1], gen + 1, NULL, 0, SESSION + 400);
    bk_grp_assignment a[] = {{ids[0], (const uint8_t *)"x", 1},
                             {ids[1], (const uint8_t *)"y", 1}};
    sync_(m, &s0, "g", ids[0], gen + 1, a, 2, SESSION + 400);
    CU_ASSERT(s0.error == 0 && s1.error == 0);
    int64_t late = SESSION + 400 + SESSION;
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[0], gen + 1, late - 1), 0);
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[0], gen + 1, late + 5),
                    BK_ERR_REBALANCE_IN_PROGRESS); /* ids[1] expired */
    check_state(m, "g", BK_GRP_PREPARING_REBALANCE, 1, gen + 1);
    bk_grp_free(m);
}

static void test_rebalance_timeout(void)
{
    bk_grp_mgr *m = mk(0, 0);
    char ids[3][128];
    int32_t gen = stable_group(m, "g", 3, ids, 0);
    reply r0, r1;
    /* the leader rejoining (same metadata) starts a rebalance */
    CU_ASSERT_EQUAL(join(m, &r0, "g", ids[0], "c1", 1000), BK_AGAIN);
    check_state(m, "g", BK_GRP_PREPARING_REBALANCE, 3, gen);
    CU_ASSERT_EQUAL(join(m, &r1, "g", ids[1], "c2", 1500), BK_AGAIN);
    /* member 2 heartbeats (so its session does not end) but never
     * rejoins */
    for (int64_t t = 2000; t < 1000 + REBAL; t += 3000)
        CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[2], gen, t),
                        BK_ERR_REBALANCE_IN_PROGRESS);
    /* the rejoined ones wait on the rebalance timeout, not a session */
    CU_ASSERT_EQUAL(bk_grp_next_deadline(m), 1000 + REBAL);
    bk_grp_tick(m, 1000 + REBAL - 1);
    CU_ASSERT_EQUAL(r0.count + r1.count, 0);
    bk_grp_tick(m, 1000 + REBAL);
    CU_ASSERT(r0.count == 1 && r0.error == 0 && r0.generation == gen + 1);
    CU_ASSERT(r1.count == 1 && r1.error == 0 && r1.generation == gen + 1);
    CU_ASSERT_EQUAL(r0.n_members, 2);
    check_state(m, "g", BK_GRP_COMPLETING_REBALANCE, 2, gen + 1);
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[2], gen, 1000 + REBAL + 1),
                    BK_ERR_UNKNOWN_MEMBER_ID);
    reply r2;
    join(m, &r2, "g", ids[2], "c3", 1000 + REBAL + 2);
    CU_ASSERT_EQUAL(r2.error, BK_ERR_UNKNOWN_MEMBER_ID);
    bk_grp_free(m);
}

static void test_leader_leaves_rebalance_timeout(void)
{
    /* the leader does not rejoin: a member that did becomes leader */
    bk_grp_mgr *m = mk(0, 0);
    char ids[3][128];
    int32_t gen = stable_group(m, "g", 3, ids, 0);
    reply r1, r2;
    /* a follower with changed metadata starts the rebalance */
    CU_ASSERT_EQUAL(
        join_p(m, &r2, "g", ids[2], "c3", P_RR_RANGE, 2, false, 100), BK_AGAIN);
    CU_ASSERT_EQUAL(join(m, &r1, "g", ids[1], "c2", 200), BK_AGAIN);
    /* the leader stays alive (heartbeats) but does not rejoin */
    for (int64_t t = 3000; t < 100 + REBAL; t += 3000)
        CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[0], gen, t),
                        BK_ERR_REBALANCE_IN_PROGRESS);
    bk_grp_tick(m, 100 + REBAL);
    CU_ASSERT(r1.count == 1 && r2.count == 1);
    CU_ASSERT_STRING_EQUAL(r1.leader, ids[1]);
    CU_ASSERT_STRING_EQUAL(r2.leader, ids[1]);
    CU_ASSERT_EQUAL(r1.n_members, 2);
    check_state(m, "g", BK_GRP_COMPLETING_REBALANCE, 2, gen + 1);
    bk_grp_free(m);
}

static void test_sync_timeout(void)
{
    /* the leader never sends its SyncGroup: after the rebalance timeout
     * it is removed and the waiting followers are told to rejoin */
    bk_grp_mgr *m = mk(0, 0);
    reply r[3];
    join(m, &r[0], "g", "", "c1", 0);
    CU_ASSERT_EQUAL(r[0].count, 1); /* alone, no delay: at once */
    char lid[128];
    snprintf(lid, sizeof(lid), "%s", r[0].member_id);
    CU_ASSERT_EQUAL(join(m, &r[1], "g", "", "c2", 0), BK_AGAIN);
    CU_ASSERT_EQUAL(join(m, &r[2], "g", "", "c3", 0), BK_AGAIN);
    CU_ASSERT_EQUAL(join(m, &r[0], "g", lid, "c1", 0), 0);
    CU_ASSERT(r[0].count == 1 && r[1].count == 1 && r[2].count == 1);
    int32_t gen = r[1].generation;
    CU_ASSERT_STRING_EQUAL(r[1].leader, lid);
    reply s1, s2;
    CU_ASSERT_EQUAL(sync_(m, &s1, "g", r[1].member_id, gen, NULL, 0, 10),
                    BK_AGAIN);
    CU_ASSERT_EQUAL(sync_(m, &s2, "g", r[2].member_id, gen, NULL, 0, 10),
                    BK_AGAIN);
    /* the leader is alive (heartbeats answer NONE meanwhile) */
    for (int64_t t = 3000; t < REBAL; t += 3000)
        CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", lid, gen, t), 0);
    CU_ASSERT_EQUAL(bk_grp_next_deadline(m), REBAL);
    bk_grp_tick(m, REBAL);
    CU_ASSERT(s1.count == 1 && s1.error == BK_ERR_REBALANCE_IN_PROGRESS);
    CU_ASSERT(s2.count == 1 && s2.error == BK_ERR_REBALANCE_IN_PROGRESS);
    check_state(m, "g", BK_GRP_PREPARING_REBALANCE, 2, gen);
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", lid, gen, REBAL + 1),
                    BK_ERR_UNKNOWN_MEMBER_ID);
    reply j1, j2;
    char id1[128], id2[128];
    snprintf(id1, sizeof(id1), "%s", r[1].member_id);
    snprintf(id2, sizeof(id2), "%s", r[2].member_id);
    join(m, &j1, "g", id1, "c2", REBAL + 2);
    join(m, &j2, "g", id2, "c3", REBAL + 3);
    CU_ASSERT(j1.count == 1 && j1.generation == gen + 1);
    CU_ASSERT_STRING_EQUAL(j1.leader, id1);
    bk_grp_free(m);
}

static void test_stale_generation(void)
{
    bk_grp_mgr *m = mk(0, 0);
    char ids[2][128];
    int32_t g1 = stable_group(m, "g", 2, ids, 0);
    int32_t g2 = rejoin_all(m, "g", 2, ids, 100);
    CU_ASSERT(g2 > g1);
    CU_ASSERT_EQUAL(bk_grp_commit_check(m, "g", ids[0], g1, 200),
                    BK_ERR_ILLEGAL_GENERATION);
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[0], g1, 200),
                    BK_ERR_ILLEGAL_GENERATION);
    reply s;
    sync_(m, &s, "g", ids[0], g1, NULL, 0, 200);
    CU_ASSERT_EQUAL(s.error, BK_ERR_ILLEGAL_GENERATION);
    CU_ASSERT_EQUAL(bk_grp_commit_check(m, "g", "nobody", g2, 200),
                    BK_ERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_EQUAL(bk_grp_commit_check(m, "g", ids[1], g2, 200), 0);
    /* a simple consumer (no group management) may not commit into an
     * active group */
    CU_ASSERT_EQUAL(bk_grp_commit_check(m, "g", "", -1, 200),
                    BK_ERR_UNKNOWN_MEMBER_ID);
    /* unknown group: generation -1 allowed, else a stale generation */
    CU_ASSERT_EQUAL(bk_grp_commit_check(m, "other", "", -1, 200), 0);
    CU_ASSERT_EQUAL(bk_grp_commit_check(m, "other", "x", 3, 200),
                    BK_ERR_ILLEGAL_GENERATION);
    CU_ASSERT_EQUAL(bk_grp_commit_check(m, "", "x", 3, 200),
                    BK_ERR_INVALID_GROUP_ID);
    /* everybody leaves: Empty, simple commits allowed, old ones not */
    int32_t errs[2];
    const char *who[] = {ids[0], ids[1]};
    CU_ASSERT_EQUAL(bk_grp_leave(m, "g", who, 2, errs, 300), 0);
    CU_ASSERT(errs[0] == 0 && errs[1] == 0);
    check_state(m, "g", BK_GRP_EMPTY, 0, g2 + 1);
    CU_ASSERT_EQUAL(bk_grp_commit_check(m, "g", "", -1, 300), 0);
    CU_ASSERT_EQUAL(bk_grp_commit_check(m, "g", ids[0], g2, 300),
                    BK_ERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "g", ids[0], g2 + 1, 300),
                    BK_ERR_UNKNOWN_MEMBER_ID);
    bk_grp_free(m);
}

static void test_leave(void)
{
    bk_grp_mgr *m = mk(0, 0);
    char ids[3][128];
    int32_t gen = stable_group(m, "g", 3, ids, 0);
    int32_t errs[2];
    const char *who[] = {ids[1], "ghost"};
    CU_ASSERT_EQUAL(bk_grp_leave(m, "g", who, 2, errs, 100), 0);
    CU_ASSERT_EQUAL(errs[0], 0);
    CU_ASSERT_EQUAL(errs[1], BK_ERR_UNKNOWN_MEMBER_ID);
    check_state(m, "g", BK_GRP_PREPARING_REBALANCE, 2, gen);
    reply r0, r2;
    join(m, &r2, "g", ids[2], "c3", 200);
    join(m, &r0, "g", ids[0], "c1", 300);
    CU_ASSERT(r0.count == 1 && r2.count == 1 && r2.generation == gen + 1);
    CU_ASSERT_EQUAL(r0.n_members, 2);
    /* the leader leaves a Stable group: the next member leads */
    reply s0, s2;
    sync_(m, &s2, "g", ids[2], gen + 1, NULL, 0, 400);
    sync_(m, &s0, "g", ids[0], gen + 1, NULL, 0, 400);
    check_state(m, "g", BK_GRP_STABLE, 2, gen + 1);
    const char *l[] = {ids[0]};
    CU_ASSERT_EQUAL(bk_grp_leave(m, "g", l, 1, errs, 500), 0);
    CU_ASSERT_EQUAL(errs[0], 0);
    /* the one remaining member completes the join phase alone */
    join(m, &r2, "g", ids[2], "c3", 600);
    CU_ASSERT(r2.count == 1 && r2.error == 0 && r2.generation == gen + 2);
    CU_ASSERT_STRING_EQUAL(r2.leader, ids[2]);
    /* leaving with a held JoinGroup answers it */
    reply r3;
    CU_ASSERT_EQUAL(join(m, &r3, "g", "", "c4", 700), BK_AGAIN);
    bk_grp_desc d;
    bk_grp_describe(m, "g", &d);
    CU_ASSERT_EQUAL_FATAL(d.n_members, 2);
    char newid[128];
    snprintf(newid, sizeof(newid), "%s", d.members[1].member_id);
    bk_grp_desc_free(&d);
    const char *l4[] = {newid};
    CU_ASSERT_EQUAL(bk_grp_leave(m, "g", l4, 1, errs, 800), 0);
    CU_ASSERT(r3.count == 1 && r3.error == BK_ERR_UNKNOWN_MEMBER_ID);
    /* unknown group: per-member UNKNOWN_MEMBER_ID; empty id: invalid */
    CU_ASSERT_EQUAL(bk_grp_leave(m, "nope", l4, 1, errs, 900), 0);
    CU_ASSERT_EQUAL(errs[0], BK_ERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_EQUAL(bk_grp_leave(m, "", l4, 1, errs, 900),
                    BK_ERR_INVALID_GROUP_ID);
    /* the last one leaves: Empty, generation bumped, listed as Empty */
    const char *l5[] = {ids[2]};
    bk_grp_leave(m, "g", l5, 1, errs, 1000);
    check_state(m, "g", BK_GRP_EMPTY, 0, gen + 3);
    bk_grp_overview *ov;
    size_t n;
    bk_grp_list(m, &ov, &n);
    CU_ASSERT(n == 1 && strcmp(ov[0].state_name, "Empty") == 0);
    free(ov);
    /* DeleteGroups */
    CU_ASSERT_EQUAL(bk_grp_delete(m, "g"), 0);
    CU_ASSERT_EQUAL(bk_grp_delete(m, "g"), BK_ERR_GROUP_ID_NOT_FOUND);
    CU_ASSERT_EQUAL(bk_grp_count(m), 0);
    bk_grp_free(m);
}

static bool pred_ab(const char *g, void *arg)
{
    (void)arg;
    return strcmp(g, "a") == 0 || strcmp(g, "b") == 0;
}

static void test_unload(void)
{
    bk_grp_mgr *m = mk(3000, 0);
    /* a: PreparingRebalance with held joins; b: CompletingRebalance with
     * held syncs; c: Stable, nothing held */
    reply a1, a2;
    join(m, &a1, "a", "", "c1", 0);
    join(m, &a2, "a", "", "c2", 0);
    reply b1, b2, bs;
    join(m, &b1, "b", "", "c1", 0);
    join(m, &b2, "b", "", "c2", 0);
    reply c1;
    join(m, &c1, "c", "", "c1", 0);
    bk_grp_tick(m, 6000); /* all three complete their join phase */
    CU_ASSERT(b1.count == 1 && b2.count == 1 && c1.count == 1);
    CU_ASSERT_EQUAL(a1.count, 1);
    /* changed metadata: a rebalance, held while a2 is not back */
    join_p(m, &a1, "a", a1.member_id, "c1", P_RR_RANGE, 2, false, 6000);
    CU_ASSERT_EQUAL(a1.count, 0);
    CU_ASSERT_EQUAL(a2.count, 1);
    const char *follower =
        strcmp(b1.leader, b1.member_id) ? b1.member_id : b2.member_id;
    CU_ASSERT_EQUAL(sync_(m, &bs, "b", follower, b1.generation, NULL, 0, 6000),
                    BK_AGAIN);
    CU_ASSERT_EQUAL(bk_grp_count(m), 3);
    CU_ASSERT_EQUAL(bk_grp_unload_if(m, pred_ab, NULL), 2);
    CU_ASSERT(a1.count == 1 && a1.error == BK_ERR_NOT_COORDINATOR);
    CU_ASSERT(bs.count == 1 && bs.error == BK_ERR_NOT_COORDINATOR);
    CU_ASSERT_EQUAL(bk_grp_count(m), 1);
    check_state(m, "a", BK_GRP_DEAD, 0, -1);
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "b", follower, b1.generation, 6001),
                    BK_ERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_EQUAL(bk_grp_unload(m, "a"), -BK_ENOENT);
    /* c has a held SyncGroup when the manager is freed */
    char cid[128];
    snprintf(cid, sizeof(cid), "%s", c1.member_id);
    reply c2j, cs;
    join(m, &c2j, "c", "", "c2", 6100); /* held */
    CU_ASSERT_EQUAL(c2j.count, 0);
    reply cj;
    join(m, &cj, "c", cid, "c1", 6100); /* completes */
    CU_ASSERT(cj.count == 1 && c2j.count == 1);
    CU_ASSERT_EQUAL(
        sync_(m, &cs, "c", c2j.member_id, cj.generation, NULL, 0, 6200),
        BK_AGAIN);
    bk_grp_free(m);
    CU_ASSERT(cs.count == 1 && cs.error == BK_ERR_NOT_COORDINATOR);
}

static void test_errors(void)
{
    bk_grp_mgr *m = mk(0, 2);
    reply r;
    bk_grp_join_req q = {0};
    q.group_id = "g";
    q.client_id = "c";
    q.protocol_type = "consumer";
    q.protocols = P_RANGE_RR;
    q.n_protocols = 2;
    q.session_timeout_ms = 5999;
    memset(&r, 0, sizeof(r));
    CU_ASSERT_EQUAL(bk_grp_join(m, &q, &r, 0), 0);
    CU_ASSERT_EQUAL(r.error, BK_ERR_INVALID_SESSION_TIMEOUT);
    CU_ASSERT_EQUAL(r.generation, -1);
    q.session_timeout_ms = 1800001;
    memset(&r, 0, sizeof(r));
    bk_grp_join(m, &q, &r, 0);
    CU_ASSERT_EQUAL(r.error, BK_ERR_INVALID_SESSION_TIMEOUT);
    q.session_timeout_ms = SESSION;
    q.group_id = "";
    memset(&r, 0, sizeof(r));
    bk_grp_join(m, &q, &r, 0);
    CU_ASSERT_EQUAL(r.error, BK_ERR_INVALID_GROUP_ID);
    CU_ASSERT_EQUAL(bk_grp_count(m), 0);
    /* a known member id of an unknown group */
    join(m, &r, "g", "c-123", "c", 0);
    CU_ASSERT_EQUAL(r.error, BK_ERR_UNKNOWN_MEMBER_ID);
    /* no protocols / no type: inconsistent, and no group is left */
    join_p(m, &r, "g", "", "c", P_RANGE_RR, 0, false, 0);
    CU_ASSERT_EQUAL(r.error, BK_ERR_INCONSISTENT_GROUP_PROTOCOL);
    CU_ASSERT_EQUAL(bk_grp_count(m), 0);

    /* MEMBER_ID_REQUIRED: the id comes first, the member on the retry */
    join_p(m, &r, "g", "", "cl", P_RANGE_RR, 2, true, 0);
    CU_ASSERT_EQUAL(r.error, BK_ERR_MEMBER_ID_REQUIRED);
    CU_ASSERT_EQUAL(strncmp(r.member_id, "cl-", 3), 0);
    char id1[128];
    snprintf(id1, sizeof(id1), "%s", r.member_id);
    check_state(m, "g", BK_GRP_EMPTY, 0, 0);
    CU_ASSERT_EQUAL(bk_grp_next_deadline(m), SESSION); /* pending expiry */
    reply j1;
    CU_ASSERT_EQUAL(join(m, &j1, "g", id1, "cl", 100), 0);
    CU_ASSERT(j1.error == 0 && j1.generation == 1);
    CU_ASSERT_STRING_EQUAL(j1.member_id, id1);
    /* a second id handed out but never used: it lapses, and while it is
     * pending the join phase waits for it */
    join_p(m, &r, "g", "", "c2", P_RANGE_RR, 2, true, 200);
    CU_ASSERT_EQUAL(r.error, BK_ERR_MEMBER_ID_REQUIRED);
    char id2[128];
    snprintf(id2, sizeof(id2), "%s", r.member_id);
    reply j1b;
    CU_ASSERT_EQUAL(join_p(m, &j1b, "g", id1, "cl", P_RR_RANGE, 2, false, 300),
                    BK_AGAIN); /* changed: a rebalance, held for id2 */
    bk_grp_tick(m, 200 + SESSION - 1);
    CU_ASSERT_EQUAL(j1b.count, 0);
    bk_grp_tick(m, 200 + SESSION);
    CU_ASSERT(j1b.count == 1 && j1b.error == 0 && j1b.generation == 2);
    join(m, &r, "g", id2, "c2", 200 + SESSION + 1);
    CU_ASSERT_EQUAL(r.error, BK_ERR_UNKNOWN_MEMBER_ID);

    /* another protocol type, or no common protocol: inconsistent */
    bk_grp_join_req q2 = q;
    q2.group_id = "g";
    q2.protocol_type = "connect";
    memset(&r, 0, sizeof(r));
    bk_grp_join(m, &q2, &r, 20000);
    CU_ASSERT_EQUAL(r.error, BK_ERR_INCONSISTENT_GROUP_PROTOCOL);
    join_p(m, &r, "g", "", "c9", P_STICKY, 1, false, 20000);
    CU_ASSERT_EQUAL(r.error, BK_ERR_INCONSISTENT_GROUP_PROTOCOL);
    /* the sole member may change protocol: nobody else votes */
    reply j1c;
    join_p(m, &j1c, "g", id1, "cl", P_STICKY, 1, false, 20000);
    CU_ASSERT(j1c.count == 1 && j1c.error == 0);
    CU_ASSERT_STRING_EQUAL(j1c.protocol, "sticky");
    int32_t gen = j1c.generation;

    /* group.max.size 2: the third is refused */
    reply r2, r3, j1d;
    CU_ASSERT_EQUAL(join_p(m, &r2, "g", "", "c2", P_STICKY, 1, false, 20100),
                    BK_AGAIN);
    join_p(m, &r3, "g", "", "c3", P_STICKY, 1, false, 20100);
    CU_ASSERT_EQUAL(r3.error, BK_ERR_GROUP_MAX_SIZE_REACHED);
    /* a second JoinGroup from a member whose first is held: the first is
     * answered (REBALANCE_IN_PROGRESS), the second takes its place */
    reply r2b;
    char id_r2[128];
    bk_grp_desc d;
    bk_grp_describe(m, "g", &d);
    CU_ASSERT_EQUAL_FATAL(d.n_members, 2);
    snprintf(id_r2, sizeof(id_r2), "%s", d.members[1].member_id);
    bk_grp_desc_free(&d);
    CU_ASSERT_EQUAL(
        join_p(m, &r2b, "g", id_r2, "c2", P_STICKY, 1, false, 20200), BK_AGAIN);
    CU_ASSERT(r2.count == 1 && r2.error == BK_ERR_REBALANCE_IN_PROGRESS);
    join_p(m, &j1d, "g", id1, "cl", P_STICKY, 1, false, 20300);
    CU_ASSERT(j1d.count == 1 && r2b.count == 1 && r2b.error == 0);
    CU_ASSERT_EQUAL(r2b.generation, gen + 1);
    /* SyncGroup with a wrong protocol name (v5) */
    bk_grp_sync_req sq = {"g", id_r2, gen + 1, "consumer", "range", NULL, 0};
    reply s;
    memset(&s, 0, sizeof(s));
    bk_grp_sync(m, &sq, &s, 20400);
    CU_ASSERT_EQUAL(s.error, BK_ERR_INCONSISTENT_GROUP_PROTOCOL);
    /* a repeated SyncGroup replaces a held one */
    reply sa, sb;
    CU_ASSERT_EQUAL(sync_(m, &sa, "g", id_r2, gen + 1, NULL, 0, 20500),
                    BK_AGAIN);
    CU_ASSERT_EQUAL(sync_(m, &sb, "g", id_r2, gen + 1, NULL, 0, 20500),
                    BK_AGAIN);
    CU_ASSERT(sa.count == 1 && sa.error == BK_ERR_REBALANCE_IN_PROGRESS);
    /* SyncGroup of unknown group / member; heartbeat errors */
    sync_(m, &s, "zz", id_r2, 1, NULL, 0, 20600);
    CU_ASSERT_EQUAL(s.error, BK_ERR_UNKNOWN_MEMBER_ID);
    sync_(m, &s, "", id_r2, 1, NULL, 0, 20600);
    CU_ASSERT_EQUAL(s.error, BK_ERR_INVALID_GROUP_ID);
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "", id1, 1, 20600),
                    BK_ERR_INVALID_GROUP_ID);
    CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "zz", id1, 1, 20600),
                    BK_ERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_EQUAL(bk_grp_delete(m, "g"), BK_ERR_NON_EMPTY_GROUP);
    CU_ASSERT_EQUAL(bk_grp_verify(m), 0);
    bk_grp_free(m);
    CU_ASSERT(sb.count == 1 && sb.error == BK_ERR_NOT_COORDINATOR);

    bk_grp_config cfg;
    bk_grp_config_default(&cfg);
    bk_grp_mgr *bad = NULL;
    CU_ASSERT_EQUAL(bk_grp_new(&cfg, &bad), -BK_EINVAL); /* no callbacks */
}

static void test_cancel(void)
{
    /* a held JoinGroup whose connection closed: never answered, the
     * member still counts; a held SyncGroup likewise */
    bk_grp_mgr *m = mk(0, 0);
    char ids[2][128];
    int32_t gen = stable_group(m, "g", 2, ids, 0);
    reply r0, r1, s1, s0;
    CU_ASSERT_EQUAL(join(m, &r0, "g", ids[0], "c1", 100), BK_AGAIN);
    CU_ASSERT_TRUE(bk_grp_cancel(m, &r0));
    CU_ASSERT_FALSE(bk_grp_cancel(m, &r0));
    CU_ASSERT_FALSE(bk_grp_cancel(m, &r1));
    CU_ASSERT_EQUAL(join(m, &r1, "g", ids[1], "c2", 200), 0);
    CU_ASSERT(r1.count == 1 && r1.generation == gen + 1);
    CU_ASSERT_EQUAL(r0.count, 0);
    check_state(m, "g", BK_GRP_COMPLETING_REBALANCE, 2, gen + 1);
    CU_ASSERT_EQUAL(sync_(m, &s1, "g", ids[1], gen + 1, NULL, 0, 300),
                    BK_AGAIN);
    CU_ASSERT_TRUE(bk_grp_cancel(m, &s1));
    /* the leader (its client retried) syncs: Stable, s1 stays silent */
    sync_(m, &s0, "g", ids[0], gen + 1, NULL, 0, 400);
    CU_ASSERT_EQUAL(s0.error, 0);
    CU_ASSERT_EQUAL(s1.count, 0);
    check_state(m, "g", BK_GRP_STABLE, 2, gen + 1);
    bk_grp_free(m);
    CU_ASSERT_EQUAL(r0.count + s1.count, 0);
}

/* A response written to a dead socket closes its connection, whose other
 * held requests are aborted from inside the callback: bk_grp_cancel must
 * work there (brookd aborted on an assertion before). */
static bk_grp_mgr *cancel_mgr;
static reply *cancel_target;

static void cancel_in_cb(reply *r)
{
    (void)r;
    if (cancel_target) {
        reply *t = cancel_target;
        cancel_target = NULL;
        CU_ASSERT_TRUE(bk_grp_cancel(cancel_mgr, t));
    }
}

static void test_cancel_in_callback(void)
{
    bk_grp_mgr *m = mk(0, 0);
    char ids[3][128];
    int32_t gen = stable_group(m, "g", 3, ids, 0);
    reply r0, r1;
    CU_ASSERT_EQUAL(join(m, &r0, "g", ids[0], "c1", 100), BK_AGAIN);
    CU_ASSERT_EQUAL(join(m, &r1, "g", ids[1], "c2", 100), BK_AGAIN);
    /* unloading answers r0 first; its "connection" aborts r1 */
    cancel_mgr = m;
    cancel_target = &r1;
    join_hook = cancel_in_cb;
    CU_ASSERT_EQUAL(bk_grp_unload(m, "g"), 0);
    join_hook = NULL;
    CU_ASSERT_PTR_NULL(cancel_target);
    CU_ASSERT(r0.count == 1 && r0.error == BK_ERR_NOT_COORDINATOR);
    CU_ASSERT_EQUAL(r1.count, 0);
    CU_ASSERT_EQUAL(bk_grp_verify(m), 0);
    /* the same while a join phase completes: the later member is cancelled
     * mid-loop and stays a member (it rejoins or times out) */
    gen = stable_group(m, "g", 3, ids, 1000);
    reply q0, q1, q2;
    CU_ASSERT_EQUAL(join(m, &q0, "g", ids[0], "c1", 1100), BK_AGAIN);
    CU_ASSERT_EQUAL(join(m, &q1, "g", ids[1], "c2", 1100), BK_AGAIN);
    cancel_target = &q1;
    join_hook = cancel_in_cb;
    CU_ASSERT_EQUAL(join(m, &q2, "g", ids[2], "c3", 1100), 0);
    join_hook = NULL;
    CU_ASSERT(q0.count == 1 && q0.error == 0 && q0.generation == gen + 1);
    CU_ASSERT_EQUAL(q1.count, 0);
    CU_ASSERT(q2.count == 1 && q2.error == 0);
    check_state(m, "g", BK_GRP_COMPLETING_REBALANCE, 3, gen + 1);
    CU_ASSERT_EQUAL(bk_grp_verify(m), 0);
    bk_grp_free(m);
    CU_ASSERT_EQUAL(r1.count + q1.count, 0);
}

static void deadline_in_cb(reply *r)
{
    (void)r;
    (void)bk_grp_next_deadline(cancel_mgr);
}

static void test_deadline_in_callback(void)
{
    /* The gcoord timer is re-armed from inside a callback when an answer
     * closes a dead connection (held_abort).  The request is not done
     * then: a deadline it sets after answering (the sync timer of a
     * completed join) must still be seen afterwards. */
    bk_grp_mgr *m = mk(0, 0);
    cancel_mgr = m;
    join_hook = deadline_in_cb;
    reply a;
    memset(&a, 0, sizeof(a));
    bk_grp_join_req q = {0};
    q.group_id = "g";
    q.client_id = "a";
    q.protocol_type = "consumer";
    q.protocols = P_RANGE_RR;
    q.n_protocols = 2;
    q.session_timeout_ms = 30000; /* later than the sync timer */
    q.rebalance_timeout_ms = 6000;
    CU_ASSERT_EQUAL(bk_grp_join(m, &q, &a, 0), 0);
    join_hook = NULL;
    CU_ASSERT(a.count == 1 && a.error == 0);
    int64_t d = bk_grp_next_deadline(m);
    CU_ASSERT_EQUAL(bk_grp_verify(m), 0); /* the cache is a full scan's */
    CU_ASSERT(d <= 6000);                 /* the sync timer, not a session */
    bk_grp_free(m);
}

static void test_new_member_timeout(void)
{
    /* a new member's held JoinGroup is bounded by 5 minutes even when
     * the rebalance timeout is longer */
    bk_grp_mgr *m = mk(0, 0);
    reply a, b;
    bk_grp_join_req q = {0};
    q.group_id = "g";
    q.client_id = "a";
    q.protocol_type = "consumer";
    q.protocols = P_RANGE_RR;
    q.n_protocols = 2;
    q.session_timeout_ms = SESSION;
    q.rebalance_timeout_ms = 600000;
    memset(&a, 0, sizeof(a));
    CU_ASSERT_EQUAL(bk_grp_join(m, &q, &a, 0), 0);
    int32_t gen = a.generation;
    memset(&b, 0, sizeof(b));
    q.client_id = "b";
    CU_ASSERT_EQUAL(bk_grp_join(m, &q, &b, 1000), BK_AGAIN);
    /* a keeps heartbeating but never rejoins */
    for (int64_t t = 4000; t <= 301000; t += 3000) {
        bk_grp_tick(m, t);
        int32_t e = bk_grp_heartbeat(m, "g", a.member_id, gen, t);
        CU_ASSERT_EQUAL(e, BK_ERR_REBALANCE_IN_PROGRESS);
    }
    CU_ASSERT(b.count == 1 && b.error == BK_ERR_UNKNOWN_MEMBER_ID);
    check_state(m, "g", BK_GRP_PREPARING_REBALANCE, 1, gen);
    bk_grp_free(m);
}

static void test_initial_delay_bounded(void)
{
    /* members keep arriving every 2 s: the initial delay is extended in
     * steps of 3 s but ends within the rebalance timeout (10 s) */
    bk_grp_mgr *m = mk(3000, 0);
    reply r[8];
    memset(r, 0, sizeof(r));
    bk_grp_join_req q = {0};
    q.group_id = "g";
    q.client_id = "c";
    q.protocol_type = "consumer";
    q.protocols = P_RANGE_RR;
    q.n_protocols = 2;
    q.session_timeout_ms = SESSION;
    q.rebalance_timeout_ms = 10000;
    int64_t done = -1;
    for (int i = 0; i < 8; i++) {
        int64_t t = i * 2000;
        bk_grp_tick(m, t);
        if (done < 0 && r[0].count)
            done = t;
        memset(&r[i], 0, sizeof(r[i]));
        bk_grp_join(m, &q, &r[i], t);
        if (done < 0)
            CU_ASSERT_EQUAL(bk_grp_next_deadline(m) <= 10000, true);
    }
    /* completion at exactly 10000: the members of 0..8000 are in */
    CU_ASSERT_EQUAL(done, 10000);
    CU_ASSERT_EQUAL(r[0].n_members, 5);
    CU_ASSERT_EQUAL(r[0].generation, 1);
    bk_grp_free(m);
}

/* An Empty group with no member and no pending id is forgotten
 * empty_group_ttl_ms after its last request; one that is asked about
 * again lives on, and a group with members never expires. */
static void test_empty_group_expiry(void)
{
    bk_grp_mgr *m = mk(0, 0);
    char ids[1][128], keep[1][128];
    stable_group(m, "gone", 1, ids, 1000);
    stable_group(m, "busy", 1, keep, 1000);
    int32_t errs[1];
    const char *who[] = {ids[0]};
    CU_ASSERT_EQUAL(bk_grp_leave(m, "gone", who, 1, errs, 2000), 0);
    bk_grp_tick(m, 2000); /* the rebalance without members: Empty */
    check_state(m, "gone", BK_GRP_EMPTY, 0, 2);
    const int64_t ttl = 600000;
    bool checked = false, gone_at_ttl = false;
    /* "busy" heartbeats all along; "gone" gets one commit check (a
     * request: it postpones the expiry) at 300 s */
    for (int64_t t = 2000 + SESSION / 2; t <= 300000 + ttl + SESSION;
         t += SESSION / 2) {
        CU_ASSERT_EQUAL(bk_grp_heartbeat(m, "busy", keep[0], 1, t), 0);
        if (!checked && t >= 300000) {
            CU_ASSERT_EQUAL(bk_grp_commit_check(m, "gone", "", -1, 300000), 0);
            checked = true;
        }
        bk_grp_tick(m, t);
        if (t > 2000 + ttl && t < 300000 + ttl)
            gone_at_ttl |= bk_grp_count(m) != 2;
    }
    CU_ASSERT(!gone_at_ttl); /* the commit check kept it */
    bk_grp_desc d;
    CU_ASSERT_EQUAL(bk_grp_describe(m, "gone", &d), 0);
    CU_ASSERT_EQUAL(d.state, BK_GRP_DEAD); /* forgotten */
    bk_grp_desc_free(&d);
    CU_ASSERT_EQUAL(bk_grp_count(m), 1);
    check_state(m, "busy", BK_GRP_STABLE, 1, 1);
    bk_grp_free(m);
}

/* ---- randomized ---------------------------------------------------- */

#define NC     8
#define NG     2
#define MAXGEN 4096

typedef struct client {
    char id[128];
    int32_t gen; /* of its last successful JoinGroup, -1 none */
    bool leader;
    size_t n_members; /* the leader's list */
    char members[16][128];
    reply *join_rep; /* held */
    reply *sync_rep; /* held */
    int epoch;       /* bumped on a crash: old answers are ignored */
} client;

static client cl[NC];
static reply *all_replies;
static int incarnation[NG];
static const char *gname[NG] = {"ga", "gb"};
static uint64_t rnd_state;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static reply *new_reply(int c)
{
    reply *r = calloc(1, sizeof(*r));
    CU_ASSERT_FATAL(r != NULL);
    r->client = c;
    r->epoch = cl[c].epoch;
    r->incarnation = -1;
    r->next = all_replies;
    all_replies = r;
    return r;
}

static void rnd_join_hook(reply *r)
{
    client *c = &cl[r->client];
    r->incarnation = incarnation[r->client % NG];
    if (c->join_rep == r)
        c->join_rep = NULL;
    if (r->epoch != c->epoch)
        return;
    if (r->error == 0 || r->error == BK_ERR_MEMBER_ID_REQUIRED) {
        snprintf(c->id, sizeof(c->id), "%s", r->member_id);
        c->gen = r->error ? -1 : r->generation;
        c->leader = r->error == 0 && strcmp(r->leader, r->member_id) == 0;
        c->n_members = r->n_members;
        for (size_t i = 0; i < r->n_members; i++)
            snprintf(c->members[i], 128, "%s", r->members[i]);
    } else if (r->error == BK_ERR_UNKNOWN_MEMBER_ID ||
               r->error == BK_ERR_NOT_COORDINATOR) {
        c->id[0] = '\0';
        c->gen = -1;
    }
}

static void rnd_sync_hook(reply *r)
{
    client *c = &cl[r->client];
    r->incarnation = incarnation[r->client % NG];
    if (c->sync_rep == r)
        c->sync_rep = NULL;
}

/* join answers ordered by (group, incarnation, generation) */
static int cmp_gen(const void *a, const void *b)
{
    const reply *x = *(reply *const *)a, *y = *(reply *const *)b;
    if (x->client % NG != y->client % NG)
        return x->client % NG < y->client % NG ? -1 : 1;
    if (x->incarnation != y->incarnation)
        return x->incarnation < y->incarnation ? -1 : 1;
    if (x->generation != y->generation)
        return x->generation < y->generation ? -1 : 1;
    return 0;
}

/* ... and by (client, epoch, incarnation, generation) */
static int cmp_client(const void *a, const void *b)
{
    const reply *x = *(reply *const *)a, *y = *(reply *const *)b;
    if (x->client != y->client)
        return x->client < y->client ? -1 : 1;
    if (x->epoch != y->epoch)
        return x->epoch < y->epoch ? -1 : 1;
    if (x->incarnation != y->incarnation)
        return x->incarnation < y->incarnation ? -1 : 1;
    if (x->generation != y->generation)
        return x->generation < y->generation ? -1 : 1;
    return 0;
}

static void assignment_for(char *buf, size_t cap, int inc, int32_t gen,
                           const char *member)
{
    snprintf(buf, cap, "i%dg%d:%.60s", inc, (int)gen, member);
}

static void test_randomized(void)
{
    rnd_state = bk_test_seed ? bk_test_seed * 2654435761u + 1 : 1;
    memset(cl, 0, sizeof(cl));
    memset(incarnation, 0, sizeof(incarnation));
    all_replies = NULL;
    for (int i = 0; i < NC; i++)
        cl[i].gen = -1;
    join_hook = rnd_join_hook;
    sync_hook = rnd_sync_hook;
    int32_t delay = (rnd() % 2) ? 3000 : 0;
    bk_grp_mgr *m = mk(delay, (rnd() % 3) == 0 ? 5 : 0);
    int64_t now = 0;
    int32_t last_gen[NG] = {-1, -1};
    int steps = bk_test_long ? 200000 : 20000;
    size_t n_req = 0, n_held = 0, n_stable_seen = 0;

    for (int step = 0; step < steps; step++) {
        int ci = (int)(rnd() % NC);
        client *c = &cl[ci];
        const char *g = gname[ci % NG];
        unsigned ev = rnd() % 100;
        if (ev < 22 && !c->join_rep) {
            reply *r = new_reply(ci);
            bk_grp_join_req q = {0};
            q.group_id = g;
            q.member_id = c->id;
            q.client_id = "cli";
            q.protocol_type = (rnd() % 50) ? "consumer" : "other";
            bool alt = rnd() % 4 == 0;
            q.protocols = alt ? P_RR_RANGE : P_RANGE_RR;
            q.n_protocols = 2;
            q.session_timeout_ms = 6000 + (int32_t)(rnd() % 3) * 2000;
            q.rebalance_timeout_ms = 8000 + (int32_t)(rnd() % 3) * 4000;
            q.require_known_member_id = rnd() % 2;
            c->join_rep = r;
            int rc = bk_grp_join(m, &q, r, now);
            n_req++;
            CU_ASSERT_EQUAL(r->count, rc == BK_AGAIN ? 0 : 1);
            if (rc == BK_AGAIN)
                n_held++;
        } else if (ev < 40 && c->gen >= 0 && !c->sync_rep && c->id[0]) {
            reply *r = new_reply(ci);
            r->req_gen = c->gen;
            bk_grp_assignment a[16];
            char data[16][96];
            size_t na = 0;
            if (c->leader) {
                for (size_t i = 0; i < c->n_members; i++) {
                    assignment_for(data[i], sizeof(data[i]),
                                   incarnation[ci % NG], c->gen, c->members[i]);
                    a[na++] = (bk_grp_assignment){c->members[i],
                                                  (const uint8_t *)data[i],
                                                  strlen(data[i])};
                }
            }
            bk_grp_sync_req q = {g, c->id, c->gen, NULL, NULL, a, na};
            c->sync_rep = r;
            int rc = bk_grp_sync(m, &q, r, now);
            n_req++;
            CU_ASSERT_EQUAL(r->count, rc == BK_AGAIN ? 0 : 1);
            if (rc == BK_AGAIN)
                n_held++;
        } else if (ev < 62 && c->id[0]) {
            int32_t e = bk_grp_heartbeat(m, g, c->id, c->gen, now);
            CU_ASSERT(e == 0 || e == BK_ERR_REBALANCE_IN_PROGRESS ||
                      e == BK_ERR_ILLEGAL_GENERATION ||
                      e == BK_ERR_UNKNOWN_MEMBER_ID);
            if (e == BK_ERR_UNKNOWN_MEMBER_ID) {
                c->id[0] = '\0';
                c->gen = -1;
            }
        } else if (ev < 66 && c->id[0]) {
            int32_t err;
            const char *who[] = {c->id};
            CU_ASSERT_EQUAL(bk_grp_leave(m, g, who, 1, &err, now), 0);
            CU_ASSERT(err == 0 || err == BK_ERR_UNKNOWN_MEMBER_ID);
            c->id[0] = '\0';
            c->gen = -1;
        } else if (ev < 72) {
            int32_t gen = c->id[0] ? c->gen : -1;
            int32_t e = bk_grp_commit_check(m, g, c->id, gen, now);
            bk_grp_desc d;
            CU_ASSERT_EQUAL_FATAL(bk_grp_describe(m, g, &d), 0);
            bool member = false;
            for (size_t i = 0; i < d.n_members; i++)
                member |= strcmp(d.members[i].member_id, c->id) == 0;
            /* a member of the Stable current generation may commit */
            if (member && d.state == BK_GRP_STABLE && gen == d.generation_id)
                CU_ASSERT_EQUAL(e, 0);
            if (e == 0 && gen >= 0)
                CU_ASSERT(member && gen == d.generation_id);
            if (e == 0 && gen < 0)
                CU_ASSERT(d.state == BK_GRP_EMPTY || d.state == BK_GRP_DEAD);
            bk_grp_desc_free(&d);
        } else if (ev < 92) {
            now += (int64_t)(rnd() % 4000);
            int64_t dl = bk_grp_next_deadline(m);
            bk_grp_tick(m, now);
            CU_ASSERT(bk_grp_next_deadline(m) > now);
            (void)dl;
        } else if (ev < 96) {
            /* crash: the client forgets everything; the coordinator still
             * holds (and will answer) its requests */
            if (rnd() % 2) { /* its connection closes too */
                reply *held[2] = {c->join_rep, c->sync_rep};
                for (int k = 0; k < 2; k++)
                    if (held[k]) {
                        CU_ASSERT_TRUE(bk_grp_cancel(m, held[k]));
                        held[k]->cancelled = true;
                    }
            }
            c->epoch++;
            c->id[0] = '\0';
            c->gen = -1;
            c->join_rep = NULL;
            c->sync_rep = NULL;
        } else if (ev < 97 && rnd() % 8 == 0) {
            int gi = ci % NG;
            bk_grp_unload(m, g);
            incarnation[gi]++;
            last_gen[gi] = -1;
            /* no held request of that group survives */
            for (reply *r = all_replies; r; r = r->next)
                if (r->client % NG == gi)
                    CU_ASSERT_EQUAL(r->count, r->cancelled ? 0 : 1);
        } else if (ev >= 97 && c->join_rep && c->id[0]) {
            /* a retry while the first is held: both get answered */
            reply *r = new_reply(ci);
            bk_grp_join_req q = {0};
            q.group_id = g;
            q.member_id = c->id;
            q.client_id = "cli";
            q.protocol_type = "consumer";
            q.protocols = P_RANGE_RR;
            q.n_protocols = 2;
            q.session_timeout_ms = 6000;
            q.rebalance_timeout_ms = 8000;
            c->join_rep = r;
            bk_grp_join(m, &q, r, now);
            n_req++;
        }
        /* invariants (the deadline cache is checked against a full scan
         * by bk_grp_verify once it is filled) */
        if (step % 3 == 0)
            (void)bk_grp_next_deadline(m);
        CU_ASSERT_EQUAL_FATAL(bk_grp_verify(m), 0);
        for (int gi = 0; gi < NG; gi++) {
            bk_grp_desc d;
            CU_ASSERT_EQUAL_FATAL(bk_grp_describe(m, gname[gi], &d), 0);
            CU_ASSERT(d.generation_id >= last_gen[gi]); /* monotonic */
            last_gen[gi] = d.generation_id;
            n_stable_seen += d.state == BK_GRP_STABLE;
            size_t leaders = 0;
            for (size_t i = 0; i < d.n_members; i++) {
                leaders += strcmp(d.members[i].member_id, d.leader_id) == 0;
                for (size_t j = i + 1; j < d.n_members; j++)
                    CU_ASSERT(strcmp(d.members[i].member_id,
                                     d.members[j].member_id) != 0);
            }
            CU_ASSERT_EQUAL(leaders, d.n_members ? 1u : 0u);
            if (d.state == BK_GRP_EMPTY)
                CU_ASSERT_EQUAL(d.n_members, 0);
            if (d.state == BK_GRP_STABLE ||
                d.state == BK_GRP_COMPLETING_REBALANCE)
                CU_ASSERT(d.n_members > 0);
            bk_grp_desc_free(&d);
        }
    }
    bk_grp_free(m);
    join_hook = NULL;
    sync_hook = NULL;

    /* every request answered exactly once; per (group incarnation,
     * generation): one leader and protocol, the leader's member list
     * holds every member told that generation, and every assignment
     * handed out is the one the leader made for that member */
    size_t n_rep = 0, n_ok = 0, n_join_ok = 0, n_sync_ok = 0;
    size_t n_cancelled = 0;
    for (reply *r = all_replies; r; r = r->next) {
        n_rep++;
        CU_ASSERT_EQUAL(r->count, r->cancelled ? 0 : 1);
        n_cancelled += r->cancelled;
        n_ok += r->kind == 1 && r->error == 0;
    }
    reply **ok = calloc(n_ok ? n_ok : 1, sizeof(*ok));
    CU_ASSERT_FATAL(ok != NULL);
    for (reply *r = all_replies; r; r = r->next)
        if (r->kind == 1 && r->error == 0)
            ok[n_join_ok++] = r;
    qsort(ok, n_join_ok, sizeof(*ok), cmp_gen);
    for (size_t i = 0; i < n_join_ok;) {
        size_t j = i;
        const reply *leader = NULL;
        while (j < n_join_ok && cmp_gen(&ok[i], &ok[j]) == 0) {
            CU_ASSERT_STRING_EQUAL(ok[j]->leader, ok[i]->leader);
            CU_ASSERT_STRING_EQUAL(ok[j]->protocol, ok[i]->protocol);
            if (strcmp(ok[j]->member_id, ok[j]->leader) == 0)
                leader = ok[j];
            j++;
        }
        for (size_t k = i; k < j && leader; k++) {
            bool found = false;
            for (size_t x = 0; x < leader->n_members; x++)
                found |= strcmp(leader->members[x], ok[k]->member_id) == 0;
            CU_ASSERT(found);
        }
        i = j;
    }
    qsort(ok, n_join_ok, sizeof(*ok), cmp_client);
    for (reply *r = all_replies; r; r = r->next) {
        if (r->kind != 2 || r->error != 0)
            continue;
        n_sync_ok++;
        /* the member id: the client's join answer of that generation */
        reply key = *r;
        key.generation = r->req_gen;
        reply *kp = &key;
        reply **hit = bsearch(&kp, ok, n_join_ok, sizeof(*ok), cmp_client);
        CU_ASSERT_PTR_NOT_NULL_FATAL(hit);
        char want[96];
        assignment_for(want, sizeof(want), r->incarnation, r->req_gen,
                       (*hit)->member_id);
        CU_ASSERT_EQUAL(r->assign_len, strlen(want));
        CU_ASSERT(memcmp(r->assign, want, r->assign_len) == 0);
    }
    free(ok);
    printf("\n    randomized: %zu requests (%zu held, %zu cancelled), %zu "
           "join ok, %zu sync ok, stable seen %zu times ",
           n_rep, n_held, n_cancelled, n_join_ok, n_sync_ok, n_stable_seen);
    CU_ASSERT_EQUAL(n_rep, n_req);
    CU_ASSERT(n_cancelled > 0);
    CU_ASSERT(n_join_ok > 100);
    CU_ASSERT(n_sync_ok > 20);
    CU_ASSERT(n_held > 100);
    while (all_replies) {
        reply *r = all_replies;
        all_replies = r->next;
        free(r);
    }
}

void bk_test_register(void)
{
    static CU_TestInfo tests[] = {
        {"three members join, leader syncs", test_three_join_and_sync},
        {"a fourth member joins", test_fourth_joins},
        {"session expiry", test_session_expiry},
        {"rebalance timeout drops a member", test_rebalance_timeout},
        {"leader does not rejoin", test_leader_leaves_rebalance_timeout},
        {"sync timeout drops the leader", test_sync_timeout},
        {"stale generations", test_stale_generation},
        {"leave", test_leave},
        {"unload answers everything", test_unload},
        {"errors", test_errors},
        {"cancel a held request", test_cancel},
        {"cancel from inside a callback", test_cancel_in_callback},
        {"new member join timeout", test_new_member_timeout},
        {"initial delay is bounded", test_initial_delay_bounded},
        {"empty groups expire", test_empty_group_expiry},
        {"deadline asked from a callback", test_deadline_in_callback},
        {"randomized sequences", test_randomized},
        CU_TEST_INFO_NULL,
    };
    /* the coordinator logs every transition at INFO: keep the report
     * readable */
    bk_logging_set_level(getenv("BK_DEBUG") ? BK_LVL_DEBUG : BK_LVL_WARN);
    bk_test_add_suite("group", tests);
}
