/*
 * cgroup.c -- consumer-group membership and committed offsets (see
 * cgroup.h for the state machine and brook.h for the semantics).
 *
 * Error handling follows Kafka's consumer (AbstractCoordinator /
 * ConsumerCoordinator):
 *   NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, NETWORK_EXCEPTION,
 *   REQUEST_TIMED_OUT        the coordinator is looked up again; the
 *                            request is redone with the new one
 *   COORDINATOR_LOAD_IN_PROGRESS  retried after retry.backoff.ms
 *   REBALANCE_IN_PROGRESS    (Heartbeat, SyncGroup, OffsetCommit) rejoin
 *   UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION  member id and generation are
 *                            reset; the partitions are LOST; rejoin
 *   MEMBER_ID_REQUIRED       (JoinGroup, KIP-394) join again at once with
 *                            the member id the coordinator gave
 *   FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT,
 *   GROUP_AUTHORIZATION_FAILED, GROUP_MAX_SIZE_REACHED, ...  fatal: one
 *                            group ERROR event, the member stops
 */
#include "client/cgroup.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/assignor.h"
#include "client/consumer.h"
#include "common/clock.h"
#include "common/err.h"
#include "proto/protocol.h"

typedef enum cg_state {
    CG_UNSUBSCRIBED,
    CG_PREPARE,     /* a (re)join is due: commit and revoke first */
    CG_PREP_COMMIT, /* the commit before revocation is in flight */
    CG_REVOKE,      /* revocation waits for the application (dispatch) */
    CG_JOIN,        /* JoinGroup to send */
    CG_JOINING,     /* JoinGroup in flight */
    CG_LEADER_MD,   /* leader: waits for metadata of the group's topics */
    CG_SYNC,        /* SyncGroup to send */
    CG_SYNCING,     /* SyncGroup in flight */
    CG_STABLE,      /* member of generation g->generation */
    CG_LEAVING,     /* closing: LeaveGroup to send or in flight */
    CG_CLOSED,
    CG_FAILED, /* a fatal group error: nothing more happens */
} cg_state;

typedef enum cg_commit_kind {
    CK_SYNC,    /* brook_commit(): the caller waits in its loop */
    CK_ASYNC,   /* brook_commit_async(): result to the callback */
    CK_AUTO,    /* enable.auto.commit, every auto.commit.interval.ms */
    CK_PREPARE, /* before revocation: the join waits for it */
} cg_commit_kind;

/* One OffsetCommit, from request to result. */
typedef struct cg_commit {
    struct cg_commit *next; /* in g->commit_q or g->done_q */
    struct bk_cg *g;
    cg_commit_kind kind;
    brook_tp *parts; /* owned array; topics point at metadata names */
    size_t n;
    bool sent, done, abandoned;
    int err; /* the first error */
    brook_commit_cb *cb;
    void *opaque;
} cg_commit;

/* A group member's part of JoinGroup's answer (leader only). */
typedef struct cg_member {
    char *id, *instance;
    bk_asg_subscription sub;
} cg_member;

typedef struct cg_gtopic {
    bk_topic *t;
    int32_t nparts;
} cg_gtopic;

typedef struct cg_tpref {
    bk_topic *t;
    int32_t part;
    uint64_t epoch;
} cg_tpref;

/* An OffsetFetch in flight. */
typedef struct cg_ofreq {
    struct bk_cg *g;
    size_t n;
    cg_tpref parts[];
} cg_ofreq;

struct bk_cg {
    brook_client *c;
    bk_cons *k;
    cg_state state;
    /* configuration */
    const char *group_id, *instance_id;
    int32_t session_timeout_ms, rebalance_timeout_ms, heartbeat_ms;
    int64_t auto_commit_ms, retry_backoff_ms, request_timeout_ms;
    bool auto_commit;
    int64_t reset; /* BROOK_CONF_RESET_* */
    char **strategies;
    size_t nstrategies;

    /* subscription, sorted and without duplicates */
    bk_topic **sub;
    size_t nsub;
    bool sub_changed; /* since the last JoinGroup */

    /* coordinator */
    int32_t coord_id; /* -1: unknown */
    char coord_host[256];
    int coord_port;
    bool coord_finding, coord_live;
    int64_t coord_retry_at;

    /* membership */
    char *member_id; /* "" before the first join */
    int32_t generation;
    char *protocol; /* the assignor the coordinator chose */
    bool leader;
    bool lost;       /* the coming revocation is a loss */
    int64_t join_at; /* not before (backoff after an error) */
    cg_member *members;
    size_t nmembers;
    uint64_t md_mark;
    int64_t md_deadline;
    bk_buf *plan;    /* SyncGroup assignments, per member */
    cg_gtopic *snap; /* leader: partition counts the plan used */
    size_t nsnap;
    uint64_t snap_version;

    /* the assignment of the current generation */
    cg_tpref *assigned;
    size_t nassigned;
    cg_tpref *owned; /* the previous one, for sticky (JoinGroup) */
    size_t nowned;
    int32_t owned_generation;
    bool assign_pending; /* ASSIGNED callback due */

    bool hb_inflight;
    int64_t hb_next;
    bool of_inflight;
    int64_t of_retry_at;
    int64_t ac_next;
    bool ac_inflight, prep_inflight;
    bool leave_inflight, leave_done;

    cg_commit *commit_q, *done_q; /* to send or in flight; results due */
    int64_t last_poll;
    bool in_dispatch;
};

/* ------------------------------ helpers ------------------------------ */

static int64_t now_ms(void)
{
    return bk_clock_mono_ms();
}

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

static bool generation_valid(const bk_cg *g)
{
    return g->generation >= 0 && g->member_id[0];
}

/* Commits in the group's name are allowed with a valid generation while
 * the member is not between JoinGroup and SyncGroup (Kafka's
 * generationIfStable(): the REVOKED callback may still commit). */
static bool can_commit_as_member(const bk_cg *g)
{
    return generation_valid(g) &&
           (g->state == CG_STABLE || g->state == CG_PREPARE ||
            g->state == CG_PREP_COMMIT || g->state == CG_REVOKE);
}

static bool is_member_state(cg_state s)
{
    return s != CG_UNSUBSCRIBED && s != CG_CLOSED && s != CG_FAILED;
}

/* The error of a response: transport, header, wrong body. */
static int resp_err(int err, const Brook__Response *resp, int body_case)
{
    if (err)
        return err;
    if (!resp)
        return BK_ERR_UNKNOWN;
    if (resp->header && resp->header->error_code)
        return resp->header->error_code;
    if ((int)resp->body_case != body_case)
        return BK_ERR_UNKNOWN;
    return 0;
}

/* Errors after which the coordinator must be looked up again. */
static bool coord_error(int err)
{
    return err == BK_ERR_NOT_COORDINATOR ||
           err == BK_ERR_COORDINATOR_NOT_AVAILABLE ||
           err == BK_ERR_NETWORK_EXCEPTION || err == BK_ERR_REQUEST_TIMED_OUT;
}

static void coord_lost(bk_cg *g, int err)
{
    if (g->coord_id >= 0)
        brook_client_set_error(g->c, "group %s: coordinator %d lost (%s)",
                               g->group_id, g->coord_id, bk_err_name(err));
    g->coord_id = -1;
    g->coord_live = false;
}

/* The coordinator's connection when it can take a request, else NULL
 * (opening it, or noticing that it went down). */
static bk_conn *coord_conn(bk_cg *g)
{
    if (g->coord_id < 0)
        return NULL;
    bk_conn *conn = brook_client_node_conn(g->c, INT32_MAX - g->coord_id,
                                           g->coord_host, g->coord_port);
    if (!conn)
        return NULL;
    if (conn->state != BK_CONN_DOWN) {
        g->coord_live = true;
    } else if (g->coord_live) {
        /* it was up (or trying) and is down now: Kafka marks the
         * coordinator unknown on a disconnect */
        coord_lost(g, BK_ERR_NETWORK_EXCEPTION);
        return NULL;
    }
    return brook_client_conn_ready(g->c, conn) ? conn : NULL;
}

static void req_init(Brook__Request *req, Brook__RequestHeader *hdr,
                     int api_key)
{
    brook__request__init(req);
    brook__request_header__init(hdr);
    hdr->api_key = api_key;
    req->header = hdr;
}

/* Drops the member's identity: its partitions are lost (Kafka's
 * resetGenerationOnResponseError). */
static void reset_generation(bk_cg *g)
{
    free(g->member_id);
    g->member_id = xstrdup("");
    g->generation = -1;
    g->lost = true;
}

/* Asks for a rejoin (commit, revoke, join) when not rejoining already. */
static void request_rejoin(bk_cg *g)
{
    if (g->state == CG_STABLE)
        g->state = CG_PREPARE;
    else if (g->state == CG_LEADER_MD || g->state == CG_SYNC)
        g->state = CG_JOIN; /* between join and sync: just join again */
}

/* A fatal group error: reported once, the member stops. */
static void fail(bk_cg *g, int err)
{
    brook_client_set_error(g->c, "group %s: %s (%s)", g->group_id,
                           bk_err_message(err), bk_err_name(err));
    g->state = CG_FAILED;
    g->k->group_err = err;
}

/* ------------------------------ coordinator ------------------------------ */

static void find_done(bk_conn *conn, int err, Brook__Response *resp, void *arg)
{
    (void)conn;
    bk_cg *g = arg;
    g->coord_finding = false;
    err = resp_err(err, resp, BROOK__RESPONSE__BODY_FIND_COORDINATOR);
    const Brook__FindCoordinatorResponse *fr =
        err ? NULL : resp->find_coordinator;
    if (!err)
        err = fr->error_code;
    if (!err && (fr->node_id < 0 || !fr->host || !*fr->host || fr->port <= 0 ||
                 fr->port > 65535))
        err = BK_ERR_COORDINATOR_NOT_AVAILABLE;
    if (err) {
        brook_client_set_error(g->c, "group %s: FindCoordinator: %s",
                               g->group_id, bk_err_name(err));
        g->coord_retry_at = now_ms() + g->retry_backoff_ms;
        if (brook_client_md_error(err))
            brook_client_md_refresh(g->c);
        return;
    }
    g->coord_id = fr->node_id;
    snprintf(g->coord_host, sizeof g->coord_host, "%s", fr->host);
    g->coord_port = fr->port;
    g->coord_live = false;
}

static int64_t coord_service(bk_cg *g, int64_t now)
{
    if (g->coord_id >= 0 || g->coord_finding)
        return INT64_MAX;
    if (now < g->coord_retry_at)
        return g->coord_retry_at;
    bk_conn *conn = brook_client_any_conn(g->c);
    if (!conn)
        return INT64_MAX; /* a connection is being opened */
    Brook__Request req;
    Brook__RequestHeader hdr;
    req_init(&req, &hdr, BK_API_FIND_COORDINATOR);
    Brook__FindCoordinatorRequest fc = BROOK__FIND_COORDINATOR_REQUEST__INIT;
    fc.key = (char *)g->group_id;
    fc.key_type = 0; /* group */
    req.body_case = BROOK__REQUEST__BODY_FIND_COORDINATOR;
    req.find_coordinator = &fc;
    if (bk_conn_send(conn, &req, true, g->request_timeout_ms, now, find_done,
                     g) != 0)
        return now + g->retry_backoff_ms;
    g->coord_finding = true;
    /* the next lookup after a failure waits retry.backoff.ms */
    g->coord_retry_at = now + g->retry_backoff_ms;
    return INT64_MAX;
}

/* ------------------------------ commits ------------------------------ */

static void commit_free(cg_commit *cm)
{
    free(cm->parts);
    free(cm);
}

/* The current positions that moved since their last commit, as a new
 * commit of kind kind; NULL when there is nothing (or no memory). */
static cg_commit *commit_positions(bk_cg *g, cg_commit_kind kind)
{
    bk_cons *k = g->k;
    cg_commit *cm = calloc(1, sizeof *cm);
    if (!cm)
        return NULL;
    cm->parts = calloc(k->ncps ? k->ncps : 1, sizeof *cm->parts);
    if (!cm->parts) {
        free(cm);
        return NULL;
    }
    for (size_t i = 0; i < k->ncps; i++) {
        bk_cp *cp = k->cps[i];
        if (!cp->pos_known ||
            (cp->state != BK_CP_FETCHING && cp->state != BK_CP_STOPPED))
            continue;
        if (cp->committed_known && cp->committed == cp->position)
            continue;
        cm->parts[cm->n++] = (brook_tp){cp->t->name, cp->part, cp->position, 0};
    }
    cm->g = g;
    cm->kind = kind;
    return cm;
}

static void commit_enqueue(bk_cg *g, cg_commit *cm)
{
    cg_commit **pp = &g->commit_q;
    while (*pp)
        pp = &(*pp)->next;
    cm->next = NULL;
    *pp = cm;
}

static void commit_unlink(bk_cg *g, cg_commit *cm)
{
    for (cg_commit **pp = &g->commit_q; *pp; pp = &(*pp)->next) {
        if (*pp == cm) {
            *pp = cm->next;
            cm->next = NULL;
            return;
        }
    }
}

/* The commit is over (answered, failed or refused before sending). */
static void commit_finish(bk_cg *g, cg_commit *cm, int err)
{
    commit_unlink(g, cm);
    cm->done = true;
    if (!cm->err)
        cm->err = err;
    switch (cm->kind) {
    case CK_SYNC:
        if (cm->abandoned)
            commit_free(cm);
        /* else brook_commit() sees done and frees it */
        return;
    case CK_ASYNC: {
        cg_commit **pp = &g->done_q;
        while (*pp)
            pp = &(*pp)->next;
        *pp = cm;
        return;
    }
    case CK_AUTO:
        g->ac_inflight = false;
        if (cm->err)
            brook_client_set_error(g->c, "group %s: auto commit failed: %s",
                                   g->group_id, bk_err_name(cm->err));
        commit_free(cm);
        return;
    case CK_PREPARE:
        /* whatever the outcome, the rejoin goes on (as Kafka's
         * onJoinPrepare: a failed commit is logged, not fatal) */
        g->prep_inflight = false;
        if (g->state == CG_PREP_COMMIT)
            g->state = CG_REVOKE;
        commit_free(cm);
        return;
    }
}

/* Applies a partition's commit result. */
static void commit_part_result(bk_cg *g, brook_tp *tp, int err)
{
    tp->err = err;
    if (err)
        return;
    bk_cp *cp = bk_cons_cp_find(g->k, tp->topic, tp->partition);
    if (cp) {
        cp->committed = tp->offset;
        cp->committed_known = true;
    }
}

/* The group-level meaning of a commit error (Kafka's
 * OffsetCommitResponseHandler). */
static void commit_error_effect(bk_cg *g, int err)
{
    if (coord_error(err)) {
        coord_lost(g, err);
    } else if (err == BK_ERR_UNKNOWN_MEMBER_ID ||
               err == BK_ERR_ILLEGAL_GENERATION) {
        if (is_member_state(g->state)) {
            reset_generation(g);
            request_rejoin(g);
        }
    } else if (err == BK_ERR_REBALANCE_IN_PROGRESS) {
        if (is_member_state(g->state))
            request_rejoin(g);
    } else if (err == BK_ERR_FENCED_INSTANCE_ID) {
        fail(g, err);
    }
}

static void commit_done(bk_conn *conn, int err, Brook__Response *resp,
                        void *arg)
{
    (void)conn;
    cg_commit *cm = arg;
    bk_cg *g = cm->g;
    err = resp_err(err, resp, BROOK__RESPONSE__BODY_OFFSET_COMMIT);
    int first = err;
    if (!err) {
        const Brook__OffsetCommitResponse *r = resp->offset_commit;
        for (size_t i = 0; i < cm->n; i++) {
            brook_tp *tp = &cm->parts[i];
            int perr = BK_ERR_UNKNOWN; /* left out of the answer */
            for (size_t ti = 0; ti < r->n_topics; ti++) {
                const Brook__OffsetCommitResponseTopic *t = r->topics[ti];
                if (!t->name || strcmp(t->name, tp->topic) != 0)
                    continue;
                for (size_t pi = 0; pi < t->n_partitions; pi++)
                    if (t->partitions[pi]->partition_index == tp->partition)
                        perr = t->partitions[pi]->error_code;
            }
            commit_part_result(g, tp, perr);
            if (perr && !first)
                first = perr;
        }
    } else {
        for (size_t i = 0; i < cm->n; i++)
            cm->parts[i].err = err;
    }
    if (first)
        commit_error_effect(g, first);
    commit_finish(g, cm, first);
}

static int commit_send(bk_cg *g, cg_commit *cm, bk_conn *conn, int64_t now)
{
    bool member = can_commit_as_member(g);
    if (bk_cg_subscribed(g) && !member) {
        /* between JoinGroup and SyncGroup, or without membership: Kafka
         * refuses locally (RebalanceInProgressException) */
        commit_finish(g, cm, BK_ERR_REBALANCE_IN_PROGRESS);
        return 0;
    }
    size_t n = cm->n;
    Brook__OffsetCommitRequestTopic *ts = calloc(n, sizeof *ts);
    Brook__OffsetCommitRequestTopic **tsp = calloc(n, sizeof *tsp);
    Brook__OffsetCommitRequestPartition *ps = calloc(n, sizeof *ps);
    Brook__OffsetCommitRequestPartition **psp = calloc(n, sizeof *psp);
    int rc = -BK_ENOMEM;
    if (!ts || !tsp || !ps || !psp)
        goto out;
    size_t nt = 0;
    /* partitions of one topic share an entry (commits are grouped by
     * topic when built; a topic seen again gets its own entry, which the
     * protocol allows) */
    for (size_t i = 0; i < n; i++) {
        brook__offset_commit_request_partition__init(&ps[i]);
        ps[i].partition_index = cm->parts[i].partition;
        ps[i].committed_offset = cm->parts[i].offset;
        ps[i].committed_leader_epoch = -1;
        ps[i].committed_metadata = "";
        psp[i] = &ps[i];
        if (i == 0 || strcmp(cm->parts[i - 1].topic, cm->parts[i].topic)) {
            brook__offset_commit_request_topic__init(&ts[nt]);
            ts[nt].name = (char *)cm->parts[i].topic;
            ts[nt].partitions = &psp[i];
            tsp[nt] = &ts[nt];
            nt++;
        }
        ts[nt - 1].n_partitions++;
    }
    Brook__Request req;
    Brook__RequestHeader hdr;
    req_init(&req, &hdr, BK_API_OFFSET_COMMIT);
    Brook__OffsetCommitRequest oc = BROOK__OFFSET_COMMIT_REQUEST__INIT;
    oc.group_id = (char *)g->group_id;
    oc.generation_id = member ? g->generation : -1;
    oc.member_id = member ? g->member_id : "";
    oc.group_instance_id = (char *)g->instance_id;
    oc.retention_time_ms = -1;
    oc.n_topics = nt;
    oc.topics = tsp;
    req.body_case = BROOK__REQUEST__BODY_OFFSET_COMMIT;
    req.offset_commit = &oc;
    rc = bk_conn_send(conn, &req, true, g->request_timeout_ms, now, commit_done,
                      cm);
    if (rc == 0)
        cm->sent = true;
out:
    free(ts);
    free(tsp);
    free(ps);
    free(psp);
    return rc;
}

/* Sends the queued commits that wait for the coordinator. */
static void commits_service(bk_cg *g, int64_t now)
{
    cg_commit *cm = g->commit_q;
    while (cm) {
        cg_commit *next = cm->next;
        if (!cm->sent) {
            if (cm->n == 0) {
                commit_finish(g, cm, 0);
            } else {
                bk_conn *conn = coord_conn(g);
                if (!conn)
                    return;
                if (commit_send(g, cm, conn, now) != 0)
                    return; /* try again on the next pass */
            }
        }
        cm = next;
    }
}

static bool commits_waiting(const bk_cg *g)
{
    for (const cg_commit *cm = g->commit_q; cm; cm = cm->next)
        if (!cm->sent)
            return true;
    return false;
}

/* ------------------------------ OffsetFetch ------------------------------ */

/* Where a partition without committed offset starts. */
static void start_by_reset(bk_cg *g, bk_cp *cp)
{
    if (g->reset == BROOK_CONF_RESET_ERROR) {
        /* Kafka's NoOffsetForPartitionException: the application decides
         * (brook_seek) */
        brook_client_set_error(g->c,
                               "group %s: no committed offset for %s-%d and "
                               "auto.offset.reset is error",
                               g->group_id, cp->t->name, cp->part);
        bk_cons_cp_stop(cp, BK_ERR_OFFSET_OUT_OF_RANGE);
        cp->position = -1;
        cp->pos_known = false;
    } else {
        bk_cons_cp_seek(g->k, cp, g->reset, true);
    }
}

static void of_done(bk_conn *conn, int err, Brook__Response *resp, void *arg)
{
    (void)conn;
    cg_ofreq *rq = arg;
    bk_cg *g = rq->g;
    g->of_inflight = false;
    err = resp_err(err, resp, BROOK__RESPONSE__BODY_OFFSET_FETCH);
    const Brook__OffsetFetchResponse *r = err ? NULL : resp->offset_fetch;
    if (!err)
        err = r->error_code;
    if (err) {
        brook_client_set_error(g->c, "group %s: OffsetFetch: %s", g->group_id,
                               bk_err_name(err));
        if (coord_error(err))
            coord_lost(g, err);
        else if (err == BK_ERR_GROUP_AUTHORIZATION_FAILED)
            fail(g, err);
        g->of_retry_at = now_ms() + g->retry_backoff_ms;
        free(rq);
        return;
    }
    bool retry = false;
    for (size_t i = 0; i < rq->n; i++) {
        cg_tpref *e = &rq->parts[i];
        bk_cp *cp = e->part < e->t->nparts ? e->t->parts[e->part].cp : NULL;
        if (!cp || cp->epoch != e->epoch || cp->state != BK_CP_AWAIT)
            continue; /* revoked or seeked meanwhile */
        const Brook__OffsetFetchResponsePartition *p = NULL;
        for (size_t ti = 0; ti < r->n_topics && !p; ti++) {
            const Brook__OffsetFetchResponseTopic *t = r->topics[ti];
            if (!t->name || strcmp(t->name, e->t->name) != 0)
                continue;
            for (size_t pi = 0; pi < t->n_partitions; pi++)
                if (t->partitions[pi]->partition_index == e->part)
                    p = t->partitions[pi];
        }
        if (!p || (p->error_code && bk_err_retriable(p->error_code))) {
            retry = true; /* asked again (UNSTABLE_OFFSET_COMMIT ...) */
            continue;
        }
        if (p->error_code) {
            bk_cons_cp_stop(cp, p->error_code);
            continue;
        }
        cp->committed = p->committed_offset >= 0 ? p->committed_offset : -1;
        cp->committed_known = true;
        if (p->committed_offset >= 0)
            bk_cons_cp_seek(g->k, cp, p->committed_offset, false);
        else
            start_by_reset(g, cp);
    }
    if (retry)
        g->of_retry_at = now_ms() + g->retry_backoff_ms;
    free(rq);
}

/* Asks for the committed offsets of the partitions in AWAIT. */
static void of_service(bk_cg *g, int64_t now, int64_t *wake)
{
    if (g->of_inflight)
        return;
    bk_cons *k = g->k;
    size_t n = 0;
    for (size_t i = 0; i < k->ncps; i++)
        n += k->cps[i]->state == BK_CP_AWAIT;
    if (n == 0)
        return;
    if (now < g->of_retry_at) {
        if (g->of_retry_at < *wake)
            *wake = g->of_retry_at;
        return;
    }
    bk_conn *conn = coord_conn(g);
    if (!conn)
        return;
    cg_ofreq *rq = calloc(1, sizeof *rq + n * sizeof rq->parts[0]);
    Brook__OffsetFetchRequestTopic *ts = calloc(n, sizeof *ts);
    Brook__OffsetFetchRequestTopic **tsp = calloc(n, sizeof *tsp);
    int32_t *idx = calloc(n, sizeof *idx);
    if (!rq || !ts || !tsp || !idx)
        goto out;
    size_t nt = 0, j = 0;
    /* cps of one topic are adjacent in assignment order (the group
     * assigns topic by topic) */
    for (size_t i = 0; i < k->ncps; i++) {
        bk_cp *cp = k->cps[i];
        if (cp->state != BK_CP_AWAIT)
            continue;
        rq->parts[j] = (cg_tpref){cp->t, cp->part, cp->epoch};
        idx[j] = cp->part;
        if (nt == 0 || ts[nt - 1].name != cp->t->name) {
            brook__offset_fetch_request_topic__init(&ts[nt]);
            ts[nt].name = cp->t->name;
            ts[nt].partition_indexes = &idx[j];
            tsp[nt] = &ts[nt];
            nt++;
        }
        ts[nt - 1].n_partition_indexes++;
        j++;
    }
    rq->g = g;
    rq->n = n;
    Brook__Request req;
    Brook__RequestHeader hdr;
    req_init(&req, &hdr, BK_API_OFFSET_FETCH);
    Brook__OffsetFetchRequest of = BROOK__OFFSET_FETCH_REQUEST__INIT;
    of.group_id = (char *)g->group_id;
    of.n_topics = nt;
    of.topics = tsp;
    of.require_stable = true; /* KIP-447, as Kafka's consumer */
    req.body_case = BROOK__REQUEST__BODY_OFFSET_FETCH;
    req.offset_fetch = &of;
    if (bk_conn_send(conn, &req, true, g->request_timeout_ms, now, of_done,
                     rq) == 0) {
        rq = NULL;
        g->of_inflight = true;
    }
out:
    free(rq);
    free(ts);
    free(tsp);
    free(idx);
}

/* ------------------------------ heartbeat ------------------------------ */

static void hb_done(bk_conn *conn, int err, Brook__Response *resp, void *arg)
{
    (void)conn;
    bk_cg *g = arg;
    g->hb_inflight = false;
    err = resp_err(err, resp, BROOK__RESPONSE__BODY_HEARTBEAT);
    if (!err)
        err = resp->heartbeat->error_code;
    if (!err || !is_member_state(g->state))
        return;
    if (coord_error(err)) {
        coord_lost(g, err);
        g->hb_next = now_ms(); /* to the new coordinator as soon as known */
    } else if (err == BK_ERR_REBALANCE_IN_PROGRESS) {
        request_rejoin(g);
    } else if (err == BK_ERR_UNKNOWN_MEMBER_ID ||
               err == BK_ERR_ILLEGAL_GENERATION) {
        if (g->state == CG_STABLE || g->state == CG_PREPARE ||
            g->state == CG_PREP_COMMIT || g->state == CG_REVOKE) {
            reset_generation(g);
            request_rejoin(g);
        }
    } else if (err == BK_ERR_FENCED_INSTANCE_ID ||
               err == BK_ERR_GROUP_AUTHORIZATION_FAILED) {
        fail(g, err);
    } else {
        brook_client_set_error(g->c, "group %s: heartbeat: %s", g->group_id,
                               bk_err_name(err));
    }
}

static void hb_service(bk_cg *g, int64_t now, int64_t *wake)
{
    if (g->hb_inflight || !generation_valid(g))
        return;
    if (now < g->hb_next) {
        if (g->hb_next < *wake)
            *wake = g->hb_next;
        return;
    }
    bk_conn *conn = coord_conn(g);
    if (!conn)
        return;
    Brook__Request req;
    Brook__RequestHeader hdr;
    req_init(&req, &hdr, BK_API_HEARTBEAT);
    Brook__HeartbeatRequest hb = BROOK__HEARTBEAT_REQUEST__INIT;
    hb.group_id = (char *)g->group_id;
    hb.generation_id = g->generation;
    hb.member_id = g->member_id;
    hb.group_instance_id = (char *)g->instance_id;
    req.body_case = BROOK__REQUEST__BODY_HEARTBEAT;
    req.heartbeat = &hb;
    if (bk_conn_send(conn, &req, true, g->request_timeout_ms, now, hb_done,
                     g) == 0) {
        g->hb_inflight = true;
        g->hb_next = now + g->heartbeat_ms;
        if (g->hb_next < *wake)
            *wake = g->hb_next;
    }
}

/* ------------------------------ join ------------------------------ */

static void members_free(bk_cg *g)
{
    for (size_t i = 0; i < g->nmembers; i++) {
        free(g->members[i].id);
        free(g->members[i].instance);
        bk_asg_subscription_clear(&g->members[i].sub);
    }
    free(g->members);
    g->members = NULL;
    if (g->plan)
        for (size_t i = 0; i < g->nmembers; i++)
            bk_buf_free(&g->plan[i]);
    free(g->plan);
    g->plan = NULL;
    g->nmembers = 0;
}

/* Asks for metadata of every topic the group subscribes to (the leader
 * needs their partition counts). */
static int leader_prepare(bk_cg *g, int64_t now)
{
    for (size_t i = 0; i < g->nmembers; i++) {
        const bk_asg_subscription *s = &g->members[i].sub;
        for (int32_t j = 0; j < s->ntopics; j++) {
            if (!bk_md_topic_name_valid(s->topics[j]))
                continue; /* cannot be asked for; gets no partitions */
            if (!bk_md_topic_add(&g->c->md, s->topics[j], NULL))
                return -BK_ENOMEM;
        }
    }
    /* a fresh answer, past the refresh backoff */
    g->md_mark = g->c->md.version;
    g->c->md_need = true;
    g->c->md_last_try = INT64_MIN / 2;
    g->md_deadline = now + g->request_timeout_ms;
    return 0;
}

static void join_done(bk_conn *conn, int err, Brook__Response *resp, void *arg)
{
    (void)conn;
    bk_cg *g = arg;
    if (g->state != CG_JOINING)
        return;
    int64_t now = now_ms();
    err = resp_err(err, resp, BROOK__RESPONSE__BODY_JOIN_GROUP);
    const Brook__JoinGroupResponse *r = err ? NULL : resp->join_group;
    if (!err)
        err = r->error_code;
    g->state = CG_JOIN;
    switch (err) {
    case 0:
        break;
    case BK_ERR_MEMBER_ID_REQUIRED:
        /* KIP-394: the coordinator gave us an id; join again with it */
        free(g->member_id);
        g->member_id = xstrdup(r->member_id);
        return;
    case BK_ERR_UNKNOWN_MEMBER_ID:
    case BK_ERR_ILLEGAL_GENERATION:
        reset_generation(g);
        return;
    case BK_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case BK_ERR_REBALANCE_IN_PROGRESS:
        g->join_at = now + g->retry_backoff_ms;
        return;
    default:
        if (coord_error(err)) {
            coord_lost(g, err);
            return;
        }
        if (bk_err_retriable(err)) {
            g->join_at = now + g->retry_backoff_ms;
            return;
        }
        fail(g, err);
        return;
    }
    free(g->member_id);
    g->member_id = xstrdup(r->member_id);
    g->generation = r->generation_id;
    free(g->protocol);
    g->protocol = xstrdup(r->protocol_name);
    g->leader = r->leader && strcmp(r->leader, g->member_id) == 0;
    g->lost = false;
    members_free(g);
    if (!g->leader) {
        g->state = CG_SYNC;
        return;
    }
    g->members = calloc(r->n_members ? r->n_members : 1, sizeof *g->members);
    if (!g->members)
        goto retry;
    for (size_t i = 0; i < r->n_members; i++) {
        const Brook__JoinGroupResponseMember *m = r->members[i];
        cg_member *cm = &g->members[g->nmembers];
        char why[160];
        if (bk_asg_subscription_decode(m->metadata.data, m->metadata.len,
                                       &cm->sub, why, sizeof why) != 0) {
            /* one member's garbage must not stop the group: it gets
             * nothing (Kafka would fail the assignment) */
            brook_client_set_error(g->c, "group %s: member %s: %s", g->group_id,
                                   m->member_id, why);
            bk_asg_subscription_init(&cm->sub);
        }
        cm->id = xstrdup(m->member_id);
        cm->instance = m->group_instance_id && *m->group_instance_id
                           ? xstrdup(m->group_instance_id)
                           : NULL;
        g->nmembers++;
        if (!cm->id)
            goto retry;
    }
    if (leader_prepare(g, now) != 0)
        goto retry;
    g->state = CG_LEADER_MD;
    return;
retry:
    members_free(g);
    g->state = CG_JOIN;
    g->join_at = now + g->retry_backoff_ms;
}

static int join_send(bk_cg *g, bk_conn *conn, int64_t now)
{
    /* the subscription: our topics and the partitions we held (sticky) */
    bk_asg_subscription s;
    bk_asg_subscription_init(&s);
    s.version = BK_ASG_SUBSCRIPTION_VERSION_MAX;
    char **topics = calloc(g->nsub ? g->nsub : 1, sizeof *topics);
    bk_asg_tp *owned = calloc(g->nowned ? g->nowned : 1, sizeof *owned);
    int32_t *parts = calloc(g->nowned ? g->nowned : 1, sizeof *parts);
    bk_buf meta = BK_BUF_INIT;
    int rc = -BK_ENOMEM;
    Brook__JoinGroupRequestProtocol *ps = NULL, **psp = NULL;
    if (!topics || !owned || !parts)
        goto out;
    for (size_t i = 0; i < g->nsub; i++)
        topics[i] = g->sub[i]->name;
    s.topics = topics;
    s.ntopics = (int32_t)g->nsub;
    for (size_t i = 0; i < g->nowned; i++) {
        parts[i] = g->owned[i].part;
        if (s.nowned == 0 || owned[s.nowned - 1].topic != g->owned[i].t->name) {
            owned[s.nowned].topic = g->owned[i].t->name;
            owned[s.nowned].parts = &parts[i];
            s.nowned++;
        }
        owned[s.nowned - 1].nparts++;
    }
    s.owned = owned;
    s.generation = g->nowned ? g->owned_generation : -1;
    char why[160];
    if (bk_asg_subscription_encode(&s, &meta, why, sizeof why) != 0)
        goto out;
    ps = calloc(g->nstrategies, sizeof *ps);
    psp = calloc(g->nstrategies, sizeof *psp);
    if (!ps || !psp)
        goto out;
    for (size_t i = 0; i < g->nstrategies; i++) {
        brook__join_group_request_protocol__init(&ps[i]);
        ps[i].name = g->strategies[i];
        ps[i].metadata.data = meta.data;
        ps[i].metadata.len = meta.len;
        psp[i] = &ps[i];
    }
    Brook__Request req;
    Brook__RequestHeader hdr;
    req_init(&req, &hdr, BK_API_JOIN_GROUP);
    Brook__JoinGroupRequest jg = BROOK__JOIN_GROUP_REQUEST__INIT;
    jg.group_id = (char *)g->group_id;
    jg.session_timeout_ms = g->session_timeout_ms;
    jg.rebalance_timeout_ms = g->rebalance_timeout_ms;
    jg.member_id = g->member_id;
    jg.group_instance_id = (char *)g->instance_id;
    jg.protocol_type = "consumer";
    jg.n_protocols = g->nstrategies;
    jg.protocols = psp;
    jg.reason = "";
    req.body_case = BROOK__REQUEST__BODY_JOIN_GROUP;
    req.join_group = &jg;
    /* the coordinator holds a JoinGroup until every member rejoined, up
     * to the rebalance timeout (Kafka's client waits that + 5 s) */
    int64_t timeout = (int64_t)g->rebalance_timeout_ms + 5000;
    if (timeout < g->request_timeout_ms)
        timeout = g->request_timeout_ms;
    rc = bk_conn_send(conn, &req, true, timeout, now, join_done, g);
out:
    free(topics);
    free(owned);
    free(parts);
    free(ps);
    free(psp);
    bk_buf_free(&meta);
    return rc;
}

/* ------------------------------ assignment ------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The leader's plan: one encoded assignment per member in g->plan. */
static int leader_assign(bk_cg *g)
{
    bk_asg_fn fn = bk_asg_find(g->protocol);
    if (!fn)
        return BK_ERR_INCONSISTENT_GROUP_PROTOCOL;
    /* the group's topics, without duplicates */
    size_t cap = 0;
    for (size_t i = 0; i < g->nmembers; i++)
        cap += (size_t)g->members[i].sub.ntopics;
    char **names = calloc(cap ? cap : 1, sizeof *names);
    bk_asg_topic *ts = calloc(cap ? cap : 1, sizeof *ts);
    bk_asg_member *ms = calloc(g->nmembers ? g->nmembers : 1, sizeof *ms);
    cg_gtopic *snap = calloc(cap ? cap : 1, sizeof *snap);
    bk_asg_plan plan = {0};
    int rc = -BK_ENOMEM;
    size_t nn = 0, nt = 0, nsnap = 0;
    if (!names || !ts || !ms || !snap)
        goto out;
    for (size_t i = 0; i < g->nmembers; i++)
        for (int32_t j = 0; j < g->members[i].sub.ntopics; j++)
            names[nn++] = g->members[i].sub.topics[j];
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) {
        if (i > 0 && strcmp(names[i - 1], names[i]) == 0)
            continue;
        bk_topic *t = bk_md_topic(&g->c->md, names[i]);
        int32_t np = t && t->known && !t->err ? t->md_nparts : 0;
        ts[nt++] = (bk_asg_topic){names[i], np};
        if (t)
            snap[nsnap++] = (cg_gtopic){t, np};
    }
    for (size_t i = 0; i < g->nmembers; i++)
        ms[i] = (bk_asg_member){g->members[i].id, g->members[i].instance,
                                g->members[i].sub};
    char why[200];
    rc = fn(ms, (int32_t)g->nmembers, ts, (int32_t)nt, &plan, why, sizeof why);
    if (rc != 0) {
        brook_client_set_error(g->c, "group %s: assignor %s: %s", g->group_id,
                               g->protocol, why);
        goto out;
    }
    g->plan = calloc(g->nmembers ? g->nmembers : 1, sizeof *g->plan);
    if (!g->plan) {
        rc = -BK_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        bk_buf_init(&g->plan[i]);
        rc = bk_asg_assignment_encode(&plan.assign[i], &g->plan[i], why,
                                      sizeof why);
        if (rc != 0)
            goto out;
    }
    free(g->snap);
    g->snap = snap;
    g->nsnap = nsnap;
    g->snap_version = g->c->md.version;
    snap = NULL;
out:
    bk_asg_plan_free(&plan);
    free(names);
    free(ts);
    free(ms);
    free(snap);
    return rc;
}

/* Whether the partition counts the leader assigned with still hold. */
static bool snapshot_matches(const bk_cg *g)
{
    for (size_t i = 0; i < g->nsnap; i++) {
        const bk_topic *t = g->snap[i].t;
        if (!t->known)
            continue;
        int32_t np = t->err ? 0 : t->md_nparts;
        if (np != g->snap[i].nparts)
            return false;
    }
    return true;
}

static bool subscribed_to(const bk_cg *g, const char *topic)
{
    for (size_t i = 0; i < g->nsub; i++)
        if (strcmp(g->sub[i]->name, topic) == 0)
            return true;
    return false;
}

/* Takes the assignment: partitions enter the consumer in AWAIT. */
static int take_assignment(bk_cg *g, const uint8_t *data, size_t len)
{
    bk_asg_assignment a;
    char why[160];
    int rc = bk_asg_assignment_decode(data, len, &a, why, sizeof why);
    if (rc != 0) {
        brook_client_set_error(g->c, "group %s: assignment: %s", g->group_id,
                               why);
        return rc;
    }
    size_t n = 0;
    for (int32_t i = 0; i < a.ntps; i++)
        n += (size_t)a.tps[i].nparts;
    cg_tpref *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        bk_asg_assignment_clear(&a);
        return -BK_ENOMEM;
    }
    size_t m = 0;
    for (int32_t i = 0; i < a.ntps; i++) {
        const bk_asg_tp *tp = &a.tps[i];
        if (!subscribed_to(g, tp->topic)) {
            /* Kafka's consumer ignores (and logs) topics it did not ask
             * for */
            brook_client_set_error(g->c,
                                   "group %s: assigned topic %s is "
                                   "not subscribed",
                                   g->group_id, tp->topic);
            continue;
        }
        bk_topic *t = bk_md_topic(&g->c->md, tp->topic);
        for (int32_t j = 0; t && j < tp->nparts; j++) {
            int32_t p = tp->parts[j];
            /* the leader is another client: a forged index must not make
             * bk_cons_assign grow the partition table to it (INT32_MAX
             * would even overflow); same bound as metadata.c applies */
            if (p < 0 || p >= 1000000 ||
                bk_cons_assign_await(g->k, t->name, p) != 0)
                continue; /* bad or duplicate */
            v[m++] = (cg_tpref){t, p, 0};
        }
    }
    bk_asg_assignment_clear(&a);
    free(g->assigned);
    g->assigned = v;
    g->nassigned = m;
    return 0;
}

static void sync_done(bk_conn *conn, int err, Brook__Response *resp, void *arg)
{
    (void)conn;
    bk_cg *g = arg;
    if (g->state != CG_SYNCING)
        return;
    int64_t now = now_ms();
    err = resp_err(err, resp, BROOK__RESPONSE__BODY_SYNC_GROUP);
    const Brook__SyncGroupResponse *r = err ? NULL : resp->sync_group;
    if (!err)
        err = r->error_code;
    members_free(g);
    g->state = CG_JOIN;
    if (err) {
        if (coord_error(err))
            coord_lost(g, err);
        else if (err == BK_ERR_UNKNOWN_MEMBER_ID ||
                 err == BK_ERR_ILLEGAL_GENERATION)
            reset_generation(g);
        else if (err == BK_ERR_REBALANCE_IN_PROGRESS)
            ; /* join again at once */
        else if (bk_err_retriable(err))
            g->join_at = now + g->retry_backoff_ms;
        else
            fail(g, err);
        return;
    }
    if (take_assignment(g, r->assignment.data, r->assignment.len) != 0) {
        g->join_at = now + g->retry_backoff_ms;
        return;
    }
    g->state = CG_STABLE;
    g->assign_pending = true;
    g->hb_next = now + g->heartbeat_ms;
    g->ac_next = now + g->auto_commit_ms;
    g->of_retry_at = 0;
}

static int sync_send(bk_cg *g, bk_conn *conn, int64_t now)
{
    size_t n = g->leader ? g->nmembers : 0;
    Brook__SyncGroupRequestAssignment *as = calloc(n ? n : 1, sizeof *as);
    Brook__SyncGroupRequestAssignment **asp = calloc(n ? n : 1, sizeof *asp);
    int rc = -BK_ENOMEM;
    if (!as || !asp)
        goto out;
    for (size_t i = 0; i < n; i++) {
        brook__sync_group_request_assignment__init(&as[i]);
        as[i].member_id = g->members[i].id;
        as[i].assignment.data = g->plan[i].data;
        as[i].assignment.len = g->plan[i].len;
        asp[i] = &as[i];
    }
    Brook__Request req;
    Brook__RequestHeader hdr;
    req_init(&req, &hdr, BK_API_SYNC_GROUP);
    Brook__SyncGroupRequest sg = BROOK__SYNC_GROUP_REQUEST__INIT;
    sg.group_id = (char *)g->group_id;
    sg.generation_id = g->generation;
    sg.member_id = g->member_id;
    sg.group_instance_id = (char *)g->instance_id;
    sg.protocol_type = "consumer";
    sg.protocol_name = g->protocol;
    sg.n_assignments = n;
    sg.assignments = asp;
    req.body_case = BROOK__REQUEST__BODY_SYNC_GROUP;
    req.sync_group = &sg;
    int64_t timeout = (int64_t)g->rebalance_timeout_ms + 5000;
    if (timeout < g->request_timeout_ms)
        timeout = g->request_timeout_ms;
    rc = bk_conn_send(conn, &req, true, timeout, now, sync_done, g);
out:
    free(as);
    free(asp);
    return rc;
}

/* ------------------------------ leave ------------------------------ */

static void leave_done(bk_conn *conn, int err, Brook__Response *resp, void *arg)
{
    (void)conn;
    bk_cg *g = arg;
    g->leave_inflight = false;
    g->leave_done = true;
    err = resp_err(err, resp, BROOK__RESPONSE__BODY_LEAVE_GROUP);
    if (!err)
        err = resp->leave_group->error_code;
    if (err)
        brook_client_set_error(g->c, "group %s: LeaveGroup: %s", g->group_id,
                               bk_err_name(err));
}

/* Sends LeaveGroup for the current member id.  0 when sent. */
static int leave_send(bk_cg *g, bk_conn *conn, const char *reason, int64_t now)
{
    Brook__Request req;
    Brook__RequestHeader hdr;
    req_init(&req, &hdr, BK_API_LEAVE_GROUP);
    Brook__MemberIdentity mi = BROOK__MEMBER_IDENTITY__INIT;
    mi.member_id = g->member_id;
    mi.group_instance_id = (char *)g->instance_id;
    mi.reason = (char *)reason;
    Brook__MemberIdentity *mip = &mi;
    Brook__LeaveGroupRequest lg = BROOK__LEAVE_GROUP_REQUEST__INIT;
    lg.group_id = (char *)g->group_id;
    lg.n_members = 1;
    lg.members = &mip;
    req.body_case = BROOK__REQUEST__BODY_LEAVE_GROUP;
    req.leave_group = &lg;
    int rc = bk_conn_send(conn, &req, true, g->request_timeout_ms, now,
                          leave_done, g);
    if (rc == 0)
        g->leave_inflight = true;
    return rc;
}

/* ------------------------------ service ------------------------------ */

/* Revocation without the application: nothing to give up, or nobody to
 * tell. */
static bool revoke_silent(const bk_cg *g)
{
    return g->nassigned == 0 || !g->c->conf->rebalance_cb;
}

/* Gives the partitions up: remembered as owned (for a sticky assignor)
 * unless lost, and removed from the consumer. */
static void drop_assignment(bk_cg *g)
{
    free(g->owned);
    g->owned = NULL;
    g->nowned = 0;
    if (!g->lost && g->nassigned) {
        g->owned = g->assigned;
        g->nowned = g->nassigned;
        g->owned_generation = g->generation;
    } else {
        free(g->assigned);
    }
    g->assigned = NULL;
    g->nassigned = 0;
    g->assign_pending = false;
    bk_cons_unassign_all(g->k);
}

int64_t bk_cg_service(bk_cg *g, int64_t now)
{
    int64_t wake = INT64_MAX, w;
    bool want_coord = is_member_state(g->state) || commits_waiting(g);
    if (want_coord) {
        w = coord_service(g, now);
        if (w < wake)
            wake = w;
    }
    commits_service(g, now);
    if (g->state == CG_FAILED && g->nassigned) {
        /* no longer a member: others may own these partitions now */
        g->lost = true;
        drop_assignment(g);
    }
    if (!is_member_state(g->state))
        return wake;

    bk_conn *conn;
    switch (g->state) {
    case CG_PREPARE:
        if (g->auto_commit && generation_valid(g) && g->nassigned) {
            cg_commit *cm = commit_positions(g, CK_PREPARE);
            if (cm && cm->n) {
                g->state = CG_PREP_COMMIT;
                g->prep_inflight = true;
                commit_enqueue(g, cm);
                commits_service(g, now);
                break;
            }
            if (cm)
                commit_free(cm);
        }
        g->state = CG_REVOKE;
        /* fall through */
    case CG_REVOKE:
        if (revoke_silent(g)) {
            drop_assignment(g);
            g->state = CG_JOIN;
        }
        break;
    default:
        break;
    }
    if (g->state == CG_JOIN) {
        if (now < g->join_at) {
            if (g->join_at < wake)
                wake = g->join_at;
        } else if ((conn = coord_conn(g)) != NULL) {
            if (join_send(g, conn, now) == 0) {
                g->state = CG_JOINING;
                g->sub_changed = false; /* this join carries it */
            } else
                wake = now + g->retry_backoff_ms;
        }
    }
    if (g->state == CG_LEADER_MD) {
        bool ready = g->c->md.version > g->md_mark;
        for (size_t i = 0; ready && i < g->nmembers; i++) {
            const bk_asg_subscription *s = &g->members[i].sub;
            for (int32_t j = 0; ready && j < s->ntopics; j++) {
                bk_topic *t = bk_md_topic(&g->c->md, s->topics[j]);
                ready = !t || t->known;
            }
        }
        if (ready || now >= g->md_deadline) {
            int rc = leader_assign(g);
            if (rc == 0) {
                g->state = CG_SYNC;
            } else if (rc == BK_ERR_INCONSISTENT_GROUP_PROTOCOL) {
                fail(g, rc);
                return wake;
            } else {
                members_free(g);
                g->state = CG_JOIN;
                g->join_at = now + g->retry_backoff_ms;
            }
        } else if (g->md_deadline < wake) {
            wake = g->md_deadline;
        }
    }
    if (g->state == CG_SYNC && (conn = coord_conn(g)) != NULL) {
        if (sync_send(g, conn, now) == 0)
            g->state = CG_SYNCING;
        else
            wake = now + g->retry_backoff_ms;
    }
    if (g->state == CG_STABLE || g->state == CG_PREPARE ||
        g->state == CG_PREP_COMMIT || g->state == CG_REVOKE)
        hb_service(g, now, &wake);
    if (g->state == CG_STABLE) {
        if (g->sub_changed ||
            (g->leader && g->c->md.version != g->snap_version &&
             !snapshot_matches(g))) {
            /* a new subscription, or the leader saw a partition count
             * change: the group must rebalance (Kafka's
             * rejoinNeededOrPending) */
            g->state = CG_PREPARE;
            return now;
        }
        if (g->leader)
            g->snap_version = g->c->md.version;
        of_service(g, now, &wake);
        if (g->auto_commit && !g->ac_inflight) {
            if (now >= g->ac_next) {
                cg_commit *cm = commit_positions(g, CK_AUTO);
                g->ac_next = now + g->auto_commit_ms;
                if (cm && cm->n) {
                    g->ac_inflight = true;
                    commit_enqueue(g, cm);
                    commits_service(g, now);
                } else if (cm) {
                    commit_free(cm);
                }
            }
            if (g->ac_next < wake)
                wake = g->ac_next;
        }
    }
    if (g->state == CG_LEAVING && !g->leave_inflight && !g->leave_done &&
        (conn = coord_conn(g)) != NULL)
        leave_send(g, conn, "the consumer is being closed", now);
    return wake;
}

/* ------------------------------ dispatch ------------------------------ */

/* The assignment as a brook_tp array (malloc'd). */
static brook_tp *tp_list(const cg_tpref *v, size_t n)
{
    brook_tp *out = calloc(n ? n : 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = (brook_tp){v[i].t->name, v[i].part, -1, 0};
    return out;
}

static void call_rebalance(bk_cg *g, brook_rebalance_type type)
{
    brook_rebalance_cb *cb = g->c->conf->rebalance_cb;
    if (!cb)
        return;
    brook_tp *v = tp_list(g->assigned, g->nassigned);
    if (!v)
        return;
    cb(g->c, type, v, g->nassigned, g->c->conf->rebalance_opaque);
    free(v);
}

/* The REVOKED / LOST callback, then the partitions go. */
static void revoke_now(bk_cg *g)
{
    if (g->nassigned)
        call_rebalance(g, g->lost || !generation_valid(g)
                              ? BROOK_REBALANCE_LOST
                              : BROOK_REBALANCE_REVOKED);
    drop_assignment(g);
}

/* max.poll.interval.ms passed between two polls: as Kafka's heartbeat
 * thread does, leave the group (the partitions go to members that make
 * progress) and join again, the partitions LOST. */
static void poll_timeout(bk_cg *g, int64_t now)
{
    brook_client_set_error(g->c,
                           "group %s: %lld ms between polls exceeds "
                           "max.poll.interval.ms: leaving the group",
                           g->group_id, (long long)(now - g->last_poll));
    bk_conn *conn = coord_conn(g);
    if (conn && !g->instance_id[0] && g->member_id[0] && !g->leave_inflight)
        leave_send(g, conn, "consumer poll timeout has expired", now);
    reset_generation(g);
    if (g->state == CG_STABLE)
        g->state = CG_PREPARE;
    else if (g->state != CG_PREPARE && g->state != CG_PREP_COMMIT &&
             g->state != CG_REVOKE)
        g->state = CG_JOIN;
}

bool bk_cg_holding(const bk_cg *g)
{
    return g->state == CG_PREPARE || g->state == CG_PREP_COMMIT ||
           g->state == CG_REVOKE;
}

void bk_cg_dispatch(bk_cg *g)
{
    if (g->in_dispatch)
        return;
    g->in_dispatch = true;
    int64_t now = now_ms();
    if (is_member_state(g->state) && g->state != CG_LEAVING &&
        g->last_poll > 0 && generation_valid(g) &&
        now - g->last_poll > g->rebalance_timeout_ms)
        poll_timeout(g, now);
    g->last_poll = now;
    while (g->done_q) {
        cg_commit *cm = g->done_q;
        g->done_q = cm->next;
        if (cm->cb)
            cm->cb(g->c, cm->err, cm->parts, cm->n, cm->opaque);
        commit_free(cm);
    }
    if (g->state == CG_REVOKE) {
        revoke_now(g);
        g->state = CG_JOIN;
    }
    if (g->assign_pending && g->state == CG_STABLE) {
        g->assign_pending = false;
        brook_rebalance_cb *cb = g->c->conf->rebalance_cb;
        if (cb) {
            brook_tp *v = tp_list(g->assigned, g->nassigned);
            if (v) {
                cb(g->c, BROOK_REBALANCE_ASSIGNED, v, g->nassigned,
                   g->c->conf->rebalance_opaque);
                free(v);
            }
        }
    }
    g->in_dispatch = false;
}

/* ------------------------------ life ------------------------------ */

/* Splits partition.assignment.strategy into g->strategies. */
static int parse_strategies(bk_cg *g, const char *list)
{
    for (const char *p = list;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        char **v = realloc(g->strategies,
                           (g->nstrategies + 1) * sizeof *g->strategies);
        if (!v)
            return -BK_ENOMEM;
        g->strategies = v;
        if (!(v[g->nstrategies] = strndup(p, (size_t)(t - p))))
            return -BK_ENOMEM;
        g->nstrategies++;
        if (!*e)
            return 0;
        p = e + 1;
    }
}

int bk_cg_new(brook_client *c, bk_cg **out)
{
    bk_cg *g = calloc(1, sizeof *g);
    if (!g)
        return -BK_ENOMEM;
    const brook_conf *cf = c->conf;
    g->c = c;
    g->k = c->cons;
    g->group_id = brook_conf_str(cf, BROOK_CK_GROUP_ID);
    g->instance_id = brook_conf_str(cf, BROOK_CK_GROUP_INSTANCE_ID);
    g->session_timeout_ms =
        (int32_t)brook_conf_int(cf, BROOK_CK_SESSION_TIMEOUT_MS);
    g->heartbeat_ms =
        (int32_t)brook_conf_int(cf, BROOK_CK_HEARTBEAT_INTERVAL_MS);
    /* Kafka's consumer sends max.poll.interval.ms as rebalance timeout */
    g->rebalance_timeout_ms =
        (int32_t)brook_conf_int(cf, BROOK_CK_MAX_POLL_INTERVAL_MS);
    g->auto_commit = brook_conf_int(cf, BROOK_CK_ENABLE_AUTO_COMMIT) != 0;
    g->auto_commit_ms = brook_conf_int(cf, BROOK_CK_AUTO_COMMIT_INTERVAL_MS);
    g->retry_backoff_ms = brook_conf_int(cf, BROOK_CK_RETRY_BACKOFF_MS);
    g->request_timeout_ms = brook_conf_int(cf, BROOK_CK_REQUEST_TIMEOUT_MS);
    g->reset = brook_conf_int(cf, BROOK_CK_AUTO_OFFSET_RESET);
    g->coord_id = -1;
    g->generation = -1;
    g->owned_generation = -1;
    g->member_id = xstrdup("");
    g->protocol = xstrdup("");
    if (!g->member_id || !g->protocol ||
        parse_strategies(g, brook_conf_str(cf, BROOK_CK_ASSIGNMENT_STRATEGY)) !=
            0) {
        bk_cg_free(g);
        return -BK_ENOMEM;
    }
    *out = g;
    return 0;
}

void bk_cg_free(bk_cg *g)
{
    if (!g)
        return;
    cg_commit *lists[2] = {g->commit_q, g->done_q};
    for (int i = 0; i < 2; i++) {
        cg_commit *cm = lists[i];
        while (cm) {
            cg_commit *n = cm->next;
            commit_free(cm);
            cm = n;
        }
    }
    members_free(g);
    for (size_t i = 0; i < g->nstrategies; i++)
        free(g->strategies[i]);
    free(g->strategies);
    free(g->sub);
    free(g->member_id);
    free(g->protocol);
    free(g->snap);
    free(g->assigned);
    free(g->owned);
    free(g);
}

bool bk_cg_subscribed(const bk_cg *g)
{
    return g->state != CG_UNSUBSCRIBED && g->state != CG_CLOSED;
}

/* ------------------------------ public API ------------------------------ */

static int cmp_topic(const void *a, const void *b)
{
    return strcmp((*(bk_topic *const *)a)->name, (*(bk_topic *const *)b)->name);
}

int brook_subscribe(brook_client *c, const char *const *topics, size_t n)
{
    bk_cg *g = c->cg;
    if (!g || !topics || n == 0 || g->state == CG_CLOSED ||
        g->state == CG_FAILED)
        return -BK_EINVAL;
    if (!bk_cg_subscribed(g) && c->cons->ncps > 0)
        return -BK_EINVAL; /* partitions assigned by hand */
    for (size_t i = 0; i < n; i++)
        if (!topics[i] || !bk_md_topic_name_valid(topics[i]))
            return -BK_EINVAL;
    bk_topic **v = calloc(n, sizeof *v);
    if (!v)
        return -BK_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        /* in the table, so that metadata refreshes cover them */
        bk_topic *t = bk_md_topic_add(&c->md, topics[i], NULL);
        if (!t) {
            free(v);
            return -BK_ENOMEM;
        }
        v[m++] = t;
    }
    qsort(v, m, sizeof *v, cmp_topic);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || v[u - 1] != v[i])
            v[u++] = v[i];
    bool same = u == g->nsub;
    for (size_t i = 0; same && i < u; i++)
        same = v[i] == g->sub[i];
    free(g->sub);
    g->sub = v;
    g->nsub = u;
    brook_client_md_refresh(c);
    if (g->state == CG_UNSUBSCRIBED) {
        g->state = CG_PREPARE;
        /* the first join waits for no metadata: the coordinator answers */
        c->cons->oor_reset = g->reset == BROOK_CONF_RESET_ERROR ? 0 : g->reset;
        g->last_poll = 0;
    } else if (!same) {
        g->sub_changed = true;
    }
    return 0;
}

int brook_assignment(brook_client *c, brook_tp **out, size_t *n)
{
    bk_cg *g = c->cg;
    size_t cnt = g ? g->nassigned : 0;
    brook_tp *v = tp_list(g ? g->assigned : NULL, cnt);
    if (!v)
        return -BK_ENOMEM;
    *out = v;
    *n = cnt;
    return 0;
}

int brook_committed(brook_client *c, const char *topic, int32_t partition,
                    int64_t *offset)
{
    bk_cp *cp = bk_cons_cp_find(c->cons, topic, partition);
    if (!cp)
        return -BK_ENOENT;
    if (!cp->committed_known)
        return BK_AGAIN;
    *offset = cp->committed;
    return 0;
}

/* A commit of offsets[0..n) or, with n == 0, of the positions. */
static int commit_make(bk_cg *g, const brook_tp *offsets, size_t n,
                       cg_commit_kind kind, cg_commit **out)
{
    cg_commit *cm;
    if (!offsets || n == 0) {
        cm = commit_positions(g, kind);
        if (!cm)
            return -BK_ENOMEM;
    } else {
        cm = calloc(1, sizeof *cm);
        if (!cm || !(cm->parts = calloc(n, sizeof *cm->parts))) {
            free(cm);
            return -BK_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            bk_topic *t =
                offsets[i].topic
                    ? bk_md_topic_add(&g->c->md, offsets[i].topic, NULL)
                    : NULL;
            if (!t || offsets[i].partition < 0 || offsets[i].offset < 0) {
                commit_free(cm);
                return -BK_EINVAL;
            }
            /* topic names from the table: they outlive the commit */
            cm->parts[i] =
                (brook_tp){t->name, offsets[i].partition, offsets[i].offset, 0};
        }
        cm->n = n;
        cm->g = g;
        cm->kind = kind;
    }
    *out = cm;
    return 0;
}

int brook_commit(brook_client *c, brook_tp *offsets, size_t n, int timeout_ms,
                 int *err)
{
    bk_cg *g = c->cg;
    if (err)
        *err = 0;
    if (!g)
        return -BK_EINVAL;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
    for (;;) {
        cg_commit *cm;
        int rc = commit_make(g, offsets, n, CK_SYNC, &cm);
        if (rc != 0)
            return rc;
        if (cm->n == 0) {
            commit_free(cm);
            return 0;
        }
        commit_enqueue(g, cm);
        commits_service(g, now_ms());
        while (!cm->done && now_ms() < deadline) {
            rc = brook_client_run_once(c, deadline);
            if (rc < 0)
                break;
        }
        if (!cm->done) {
            /* it may still land: whoever completes it frees it */
            if (!cm->sent) {
                commit_unlink(g, cm);
                commit_free(cm);
            } else {
                cm->abandoned = true;
            }
            return rc < 0 ? rc : BK_AGAIN;
        }
        int e = cm->err;
        if (offsets && n)
            for (size_t i = 0; i < n; i++)
                offsets[i].err = cm->parts[i].err;
        commit_free(cm);
        if (!e)
            return 0;
        /* retriable (coordinator moving or loading, a timeout): again,
         * after retry.backoff.ms, within the time given */
        bool again = bk_err_retriable(e) && e != BK_ERR_REBALANCE_IN_PROGRESS;
        int64_t at = now_ms() + g->retry_backoff_ms;
        if (!again || at >= deadline) {
            if (err)
                *err = e;
            return -BK_EIO;
        }
        while (now_ms() < at)
            if ((rc = brook_client_run_once(c, at)) < 0)
                return rc;
    }
}

int brook_commit_async(brook_client *c, const brook_tp *offsets, size_t n,
                       brook_commit_cb *cb, void *opaque)
{
    bk_cg *g = c->cg;
    if (!g)
        return -BK_EINVAL;
    cg_commit *cm;
    int rc = commit_make(g, offsets, n, CK_ASYNC, &cm);
    if (rc != 0)
        return rc;
    cm->cb = cb;
    cm->opaque = opaque;
    commit_enqueue(g, cm);
    commits_service(g, now_ms());
    return 0;
}

int brook_consumer_close(brook_client *c, int timeout_ms)
{
    bk_cg *g = c->cg;
    if (!g)
        return 0;
    int64_t deadline = now_ms() + (timeout_ms < 0 ? 30000 : timeout_ms);
    int rc = 0;
    bool member = is_member_state(g->state);
    if (member) {
        /* callbacks still due come first (an ASSIGNED before REVOKED) */
        bk_cg_dispatch(g);
        if (g->auto_commit && can_commit_as_member(g) && g->nassigned) {
            int ms = (int)((deadline - now_ms()) > 0 ? deadline - now_ms() : 0);
            if (brook_commit(c, NULL, 0, ms, NULL) == BK_AGAIN)
                rc = BK_AGAIN;
        }
        g->in_dispatch = true;
        revoke_now(g);
        g->in_dispatch = false;
        /* a static member keeps its place for session.timeout.ms */
        if (!g->instance_id[0] && g->member_id[0] && g->state != CG_FAILED) {
            g->state = CG_LEAVING;
            g->leave_done = false;
            while (!g->leave_done && now_ms() < deadline)
                if (brook_client_run_once(c, deadline) < 0)
                    break;
            if (!g->leave_done)
                rc = BK_AGAIN;
        }
        reset_generation(g);
        g->state = CG_CLOSED;
    }
    /* async commits still out get their answers */
    for (;;) {
        bool out = false;
        for (cg_commit *cm = g->commit_q; cm; cm = cm->next)
            out = out || cm->kind == CK_ASYNC;
        if (!out || now_ms() >= deadline)
            break;
        if (brook_client_run_once(c, deadline) < 0)
            break;
    }
    g->in_dispatch = false;
    bk_cg_dispatch(g);
    return rc;
}
