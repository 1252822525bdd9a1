/*
 * gcoord.c -- group -> coordinator placement (see gcoord.h).
 */
#include "broker/gcoord.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/broker.h"
#include "broker/group.h"
#include "broker/handlers.h"
#include "broker/offsvc.h"
#include "broker/pool.h"
#include "broker/zkbroker.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "coordinator/offsets.h"
#include "coordinator/topic.h"
#include "coordinator/zkdata.h"
#include "proto/protocol.h"

#define MOD "groups"

void bk_gc_locate(const bk_md *md, const char *group, bk_gc_where *out)
{
    memset(out, 0, sizeof *out);
    out->partition = -1;
    out->node = -1;
    if (!group || !*group) {
        out->error = BK_ERR_INVALID_GROUP_ID;
        return;
    }
    const bk_md_topic *t = bk_md_topic_find(md, BK_GC_TOPIC);
    if (!t || t->nparts == 0) {
        out->error = BK_ERR_COORDINATOR_NOT_AVAILABLE;
        out->create = !t;
        return;
    }
    out->partition = bk_off_group_partition(group, (int32_t)t->nparts);
    const bk_md_part *p = &t->parts[out->partition];
    const bk_md_broker *b = p->has_state && p->leader >= 0
                                ? bk_md_broker_find(md, p->leader)
                                : NULL;
    if (t->deleting || !b) {
        out->error = BK_ERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    out->node = b->id;
    out->host = b->host;
    out->port = b->port;
}

/* ================================ service ================================ */

struct bk_gsvc {
    bk_broker *b;
    bk_grp_mgr *mgr;
    bk_osvc *osvc;
    bk_off_cache *cache;  /* offsets worker only */
    bk_timer timer;       /* the manager's next deadline */
    int64_t create_after; /* no new __consumer_offsets creation before */
};

/* Re-arms the timer at the manager's next deadline. */
static void rearm(bk_gsvc *g)
{
    int64_t d = bk_grp_next_deadline(g->mgr);
    if (d == INT64_MAX) {
        bk_loop_timer_cancel(g->b->loop, &g->timer);
        return;
    }
    if (bk_loop_timer_arm_at(g->b->loop, &g->timer, d) != 0)
        BK_ERROR(MOD, "cannot arm the group timer (out of memory)");
}

static void on_timer(bk_loop *loop, bk_timer *t, void *arg)
{
    (void)t;
    bk_gsvc *g = arg;
    bk_grp_tick(g->mgr, bk_loop_now_ms(loop));
    rearm(g);
}

/* "/127.0.0.1" from "127.0.0.1:53412", as Kafka shows client hosts. */
static void client_host(const bk_req *req, char *out, size_t cap)
{
    const char *peer = bk_req_peer(req);
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    snprintf(out, cap, "/%.*s", (int)n, peer);
}

static const char *client_id(const bk_req *req)
{
    const Brook__RequestHeader *h = req->msg->header;
    return h && h->client_id ? h->client_id : "";
}

/* JoinGroup / SyncGroup answers (held or immediate). */
/* The connection of a held JoinGroup / SyncGroup closed: the manager
 * forgets the request (the member stays until it rejoins, leaves or
 * times out) and our hold goes. */
static void held_abort(bk_req *req)
{
    bk_gsvc *g = req->ctx;
    if (g->mgr && bk_grp_cancel(g->mgr, req))
        bk_req_release(req);
    rearm(g);
}

/* After bk_grp_join / bk_grp_sync: a held request learns of its
 * connection's end through held_abort. */
static void track(bk_gsvc *g, bk_req *req, int rc)
{
    if (rc == BK_AGAIN)
        bk_req_set_abort(req, held_abort, g);
}

static void on_join(void *ctx, const bk_grp_join_resp *r)
{
    bk_req *req = ctx;
    bk_req_set_abort(req, NULL, NULL);
    bk_pool pool = BK_POOL_INIT;
    Brook__JoinGroupResponse jr = BROOK__JOIN_GROUP_RESPONSE__INIT;
    jr.error_code = r->error;
    jr.generation_id = r->generation_id;
    jr.protocol_type = (char *)(r->protocol_type ? r->protocol_type : "");
    jr.protocol_name = (char *)(r->protocol_name ? r->protocol_name : "");
    jr.leader = (char *)(r->leader_id ? r->leader_id : "");
    jr.member_id = (char *)(r->member_id ? r->member_id : "");
    Brook__JoinGroupResponseMember **pm =
        r->n_members ? bk_pool_calloc(&pool, r->n_members, sizeof *pm) : NULL;
    for (size_t i = 0; pm && i < r->n_members; i++) {
        pm[i] = BK_PNEW(&pool, Brook__JoinGroupResponseMember,
                        BROOK__JOIN_GROUP_RESPONSE_MEMBER__INIT);
        if (!pm[i]) {
            pm = NULL;
            break;
        }
        pm[i]->member_id = (char *)r->members[i].member_id;
        pm[i]->group_instance_id = "";
        pm[i]->metadata.data = (uint8_t *)r->members[i].metadata;
        pm[i]->metadata.len = r->members[i].metadata_len;
    }
    if (r->n_members && !pm) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
    } else {
        jr.n_members = r->n_members;
        jr.members = pm;
        Brook__Response resp = BROOK__RESPONSE__INIT;
        resp.body_case = BROOK__RESPONSE__BODY_JOIN_GROUP;
        resp.join_group = &jr;
        bk_req_respond(req, &resp);
    }
    bk_pool_free(&pool);
    bk_req_release(req);
}

static void on_sync(void *ctx, const bk_grp_sync_resp *r)
{
    bk_req *req = ctx;
    bk_req_set_abort(req, NULL, NULL);
    Brook__SyncGroupResponse sr = BROOK__SYNC_GROUP_RESPONSE__INIT;
    sr.error_code = r->error;
    sr.protocol_type = (char *)(r->protocol_type ? r->protocol_type : "");
    sr.protocol_name = (char *)(r->protocol_name ? r->protocol_name : "");
    sr.assignment.data = (uint8_t *)r->assignment;
    sr.assignment.len = r->assignment_len;
    Brook__Response resp = BROOK__RESPONSE__INIT;
    resp.body_case = BROOK__RESPONSE__BODY_SYNC_GROUP;
    resp.sync_group = &sr;
    bk_req_respond(req, &resp);
    bk_req_release(req);
}

int bk_gsvc_new(bk_broker *b, bk_gsvc **out)
{
    *out = NULL;
    bk_gsvc *g = calloc(1, sizeof *g);
    if (!g)
        return -BK_ENOMEM;
    g->b = b;
    bk_timer_init(&g->timer, on_timer, g);
    bk_grp_config gc;
    bk_grp_config_default(&gc);
    gc.min_session_timeout_ms = b->cfg->group_min_session_ms;
    gc.max_session_timeout_ms = b->cfg->group_max_session_ms;
    gc.initial_rebalance_delay_ms = b->cfg->group_initial_delay_ms;
    gc.max_size =
        b->cfg->group_max_size == INT32_MAX ? 0 : b->cfg->group_max_size;
    gc.on_join = on_join;
    gc.on_sync = on_sync;
    int rc = bk_grp_new(&gc, &g->mgr);
    if (rc == 0) {
        g->cache = bk_off_cache_new(0);
        rc = g->cache ? 0 : -BK_ENOMEM;
    }
    if (rc == 0) {
        bk_osvc_opts oo = {.connect = b->cfg->zk_connect,
                           .session_timeout_ms = b->cfg->zk_session_timeout_ms,
                           .connect_timeout_ms =
                               b->cfg->zk_connection_timeout_ms};
        rc = bk_osvc_new(&oo, &g->osvc);
    }
    if (rc != 0) {
        bk_gsvc_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void bk_gsvc_free(bk_gsvc *g)
{
    if (!g)
        return;
    if (g->mgr)
        bk_grp_free(g->mgr); /* held joins/syncs: NOT_COORDINATOR */
    g->mgr = NULL;
    bk_loop_timer_cancel(g->b->loop, &g->timer);
    bk_osvc_free(g->osvc); /* queued jobs: canceled, answered here */
    bk_off_cache_free(g->cache);
    free(g);
}

/* -------------------------- coordination check -------------------------- */

/* 0 when this broker coordinates group now, else the error to answer. */
static int32_t coordinates(bk_broker *b, const char *group, int32_t *partition)
{
    bk_gc_where w;
    bk_gc_locate(b->md, group, &w);
    if (partition)
        *partition = w.partition;
    if (w.error == BK_ERR_INVALID_GROUP_ID)
        return w.error;
    char err[160];
    if (bk_off_validate_group(group, err, sizeof err) != 0)
        return BK_ERR_INVALID_GROUP_ID;
    if (w.error != 0 || w.node != b->cfg->broker_id)
        return BK_ERR_NOT_COORDINATOR;
    const bk_part *p = bk_parts_find(b->parts, BK_GC_TOPIC, w.partition);
    if (!p || !p->is_leader)
        return BK_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    return 0;
}

typedef struct unload_arg {
    int32_t partition, nparts;
} unload_arg;

static bool in_partition(const char *group, void *arg)
{
    const unload_arg *u = arg;
    return bk_off_group_partition(group, u->nparts) == u->partition;
}

static bool any_group(const char *group, void *arg)
{
    (void)group;
    (void)arg;
    return true;
}

void bk_gsvc_unload_all(bk_gsvc *g)
{
    if (!g || !g->mgr)
        return;
    size_t n = bk_grp_unload_if(g->mgr, any_group, NULL);
    if (n > 0)
        BK_INFO(MOD, "shutting down: %zu groups unloaded", n);
    rearm(g);
}

void bk_gsvc_part_changed(bk_gsvc *g, bk_part *p, bool removing)
{
    if (!g || !g->mgr || strcmp(p->topic, BK_GC_TOPIC) != 0)
        return;
    if (!removing && p->is_leader)
        return;
    const bk_md_topic *t = bk_md_topic_find(g->b->md, BK_GC_TOPIC);
    if (!t || t->nparts == 0)
        return;
    unload_arg u = {p->index, (int32_t)t->nparts};
    size_t n = bk_grp_unload_if(g->mgr, in_partition, &u);
    if (n > 0)
        BK_INFO(MOD, "%s-%d is no longer led here: %zu groups unloaded",
                BK_GC_TOPIC, p->index, n);
    rearm(g);
}

/* --------------------------- FindCoordinator --------------------------- */

typedef struct create_job {
    const bk_bcfg *cfg;
} create_job;

static void create_internal(bk_zk *zk, void *arg)
{
    create_job *j = arg;
    if (zk) {
        bk_zkd_topic_spec spec = {
            .name = BK_GC_TOPIC,
            .partitions = j->cfg->offsets_topic_partitions,
            .replication_factor = j->cfg->offsets_topic_rf,
            .start_index = -1,
            .shift = -1};
        bk_zkd_result res;
        memset(&res, 0, sizeof res);
        int rc = bk_zkd_topic_create(zk, &spec, &res);
        if (rc == 0 && res.error == 0)
            BK_INFO(MOD, "created %s (%d partitions, replication factor %d)",
                    BK_GC_TOPIC, spec.partitions, spec.replication_factor);
        else if (res.error != BK_ERR_TOPIC_ALREADY_EXISTS)
            BK_WARN(MOD,
                    "cannot create %s yet (offsets.topic.replication.factor="
                    "%d): %s",
                    BK_GC_TOPIC, spec.replication_factor,
                    res.message[0] ? res.message : bk_strerror(rc));
    }
    free(j);
}

void bk_hdl_find_coordinator(bk_broker *b, bk_req *req)
{
    const Brook__FindCoordinatorRequest *r = req->msg->find_coordinator;
    Brook__FindCoordinatorResponse fr = BROOK__FIND_COORDINATOR_RESPONSE__INIT;
    fr.host = "";
    fr.node_id = -1;
    fr.error_message = "";
    if (r->key_type != 0) {
        fr.error_code = BK_ERR_INVALID_REQUEST;
        fr.error_message = "only group coordinators (key_type 0): Brook has "
                           "no transactions";
    } else {
        bk_gc_where w;
        bk_gc_locate(b->md, r->key, &w);
        char err[160];
        if (w.error == 0 && bk_off_validate_group(r->key, err, sizeof err) != 0)
            w.error = BK_ERR_INVALID_GROUP_ID;
        fr.error_code = w.error;
        if (w.error == 0) {
            fr.node_id = w.node;
            fr.host = (char *)w.host;
            fr.port = w.port;
        } else if (w.error == BK_ERR_COORDINATOR_NOT_AVAILABLE) {
            fr.error_message = "the group's coordinator is not available yet";
        } else {
            fr.error_message = "invalid group id";
        }
        bk_gsvc *g = b->gsvc;
        int64_t now = bk_loop_now_ms(b->loop);
        if (w.create && g && now >= g->create_after) {
            g->create_after = now + 2000;
            create_job *j = malloc(sizeof *j);
            if (j) {
                j->cfg = b->cfg;
                if (bk_zkb_call(b->zkb, create_internal, j) != 0)
                    free(j);
            }
        }
    }
    Brook__Response resp = BROOK__RESPONSE__INIT;
    resp.body_case = BROOK__RESPONSE__BODY_FIND_COORDINATOR;
    resp.find_coordinator = &fr;
    bk_req_respond(req, &resp);
}

/* ------------------------- Join/Sync/Heartbeat ------------------------- */

/* The service, or NULL after answering a header-only error. */
static bk_gsvc *service(bk_broker *b, bk_req *req)
{
    if (!b->gsvc || !b->gsvc->mgr || b->stopping) {
        bk_req_respond_error(req, BK_ERR_COORDINATOR_NOT_AVAILABLE,
                             "the broker is shutting down");
        return NULL;
    }
    return b->gsvc;
}

void bk_hdl_join_group(bk_broker *b, bk_req *req)
{
    bk_gsvc *g = service(b, req);
    if (!g)
        return;
    const Brook__JoinGroupRequest *r = req->msg->join_group;
    int32_t err = coordinates(b, r->group_id, NULL);
    bk_grp_protocol *pv =
        r->n_protocols ? calloc(r->n_protocols, sizeof *pv) : NULL;
    if (r->n_protocols && !pv)
        err = BK_ERR_UNKNOWN;
    if (err != 0) {
        free(pv);
        bk_grp_join_resp jr = {.error = err, .generation_id = -1};
        bk_req_hold(req);
        on_join(req, &jr);
        return;
    }
    for (size_t i = 0; i < r->n_protocols; i++)
        pv[i] = (bk_grp_protocol){r->protocols[i]->name,
                                  r->protocols[i]->metadata.data,
                                  r->protocols[i]->metadata.len};
    char host[96];
    client_host(req, host, sizeof host);
    bk_grp_join_req jq = {.group_id = r->group_id,
                          .member_id = r->member_id,
                          .client_id = client_id(req),
                          .client_host = host,
                          .protocol_type = r->protocol_type,
                          .session_timeout_ms = r->session_timeout_ms,
                          .rebalance_timeout_ms = r->rebalance_timeout_ms,
                          .protocols = pv,
                          .n_protocols = r->n_protocols,
                          .require_known_member_id = true};
    bk_req_hold(req); /* released by on_join */
    track(g, req, bk_grp_join(g->mgr, &jq, req, bk_loop_now_ms(b->loop)));
    free(pv);
    rearm(g);
}

void bk_hdl_sync_group(bk_broker *b, bk_req *req)
{
    bk_gsvc *g = service(b, req);
    if (!g)
        return;
    const Brook__SyncGroupRequest *r = req->msg->sync_group;
    int32_t err = coordinates(b, r->group_id, NULL);
    bk_grp_assignment *av =
        r->n_assignments ? calloc(r->n_assignments, sizeof *av) : NULL;
    if (r->n_assignments && !av)
        err = BK_ERR_UNKNOWN;
    bk_req_hold(req); /* released by on_sync */
    if (err != 0) {
        free(av);
        bk_grp_sync_resp sr = {.error = err};
        on_sync(req, &sr);
        return;
    }
    for (size_t i = 0; i < r->n_assignments; i++)
        av[i] = (bk_grp_assignment){r->assignments[i]->member_id,
                                    r->assignments[i]->assignment.data,
                                    r->assignments[i]->assignment.len};
    bk_grp_sync_req sq = {.group_id = r->group_id,
                          .member_id = r->member_id,
                          .generation_id = r->generation_id,
                          .protocol_type = r->protocol_type,
                          .protocol_name = r->protocol_name,
                          .assignments = av,
                          .n_assignments = r->n_assignments};
    track(g, req, bk_grp_sync(g->mgr, &sq, req, bk_loop_now_ms(b->loop)));
    free(av);
    rearm(g);
}

void bk_hdl_heartbeat(bk_broker *b, bk_req *req)
{
    bk_gsvc *g = service(b, req);
    if (!g)
        return;
    const Brook__HeartbeatRequest *r = req->msg->heartbeat;
    int32_t err = coordinates(b, r->group_id, NULL);
    if (err == 0) {
        err = bk_grp_heartbeat(g->mgr, r->group_id, r->member_id,
                               r->generation_id, bk_loop_now_ms(b->loop));
        rearm(g);
    }
    Brook__HeartbeatResponse hr = BROOK__HEARTBEAT_RESPONSE__INIT;
    hr.error_code = err;
    Brook__Response resp = BROOK__RESPONSE__INIT;
    resp.body_case = BROOK__RESPONSE__BODY_HEARTBEAT;
    resp.heartbeat = &hr;
    bk_req_respond(req, &resp);
}

void bk_hdl_leave_group(bk_broker *b, bk_req *req)
{
    bk_gsvc *g = service(b, req);
    if (!g)
        return;
    const Brook__LeaveGroupRequest *r = req->msg->leave_group;
    int32_t err = coordinates(b, r->group_id, NULL);
    size_t n = r->n_members;
    const char **ids = n ? calloc(n, sizeof *ids) : NULL;
    int32_t *errs = n ? calloc(n, sizeof *errs) : NULL;
    Brook__LeaveGroupMemberResponse *mv = n ? calloc(n, sizeof *mv) : NULL;
    Brook__LeaveGroupMemberResponse **pm = n ? calloc(n, sizeof *pm) : NULL;
    if (n && (!ids || !errs || !mv || !pm))
        err = BK_ERR_UNKNOWN;
    if (err == 0) {
        for (size_t i = 0; i < n; i++)
            ids[i] = r->members[i]->member_id;
        err = bk_grp_leave(g->mgr, r->group_id, ids, n, errs,
                           bk_loop_now_ms(b->loop));
        rearm(g);
    }
    Brook__LeaveGroupResponse lr = BROOK__LEAVE_GROUP_RESPONSE__INIT;
    lr.error_code = err;
    if (err == 0) {
        for (size_t i = 0; i < n; i++) {
            brook__leave_group_member_response__init(&mv[i]);
            mv[i].member_id = r->members[i]->member_id;
            mv[i].group_instance_id = r->members[i]->group_instance_id;
            mv[i].error_code = errs[i];
            pm[i] = &mv[i];
        }
        lr.n_members = n;
        lr.members = pm;
    }
    Brook__Response resp = BROOK__RESPONSE__INIT;
    resp.body_case = BROOK__RESPONSE__BODY_LEAVE_GROUP;
    resp.leave_group = &lr;
    bk_req_respond(req, &resp);
    free(ids);
    free(errs);
    free(mv);
    free(pm);
}

/* ------------------------- Describe/ListGroups ------------------------- */

void bk_hdl_describe_groups(bk_broker *b, bk_req *req)
{
    bk_gsvc *g = service(b, req);
    if (!g)
        return;
    const Brook__DescribeGroupsRequest *r = req->msg->describe_groups;
    bk_pool pool = BK_POOL_INIT;
    size_t n = r->n_groups;
    Brook__DescribedGroup **pg =
        n ? bk_pool_calloc(&pool, n, sizeof *pg) : NULL;
    bk_grp_desc *descs = n ? calloc(n, sizeof *descs) : NULL;
    bool oom = n && (!pg || !descs);
    for (size_t i = 0; !oom && i < n; i++) {
        Brook__DescribedGroup *d =
            BK_PNEW(&pool, Brook__DescribedGroup, BROOK__DESCRIBED_GROUP__INIT);
        if (!d) {
            oom = true;
            break;
        }
        pg[i] = d;
        d->group_id = r->groups[i];
        d->group_state = "";
        d->protocol_type = "";
        d->protocol_data = "";
        d->error_code = coordinates(b, r->groups[i], NULL);
        if (d->error_code != 0)
            continue;
        bk_grp_desc *gd = &descs[i];
        if (bk_grp_describe(g->mgr, r->groups[i], gd) != 0) {
            oom = true;
            break;
        }
        d->error_code = gd->error;
        d->group_state = (char *)gd->state_name;
        d->protocol_type = (char *)gd->protocol_type;
        d->protocol_data = (char *)gd->protocol_name;
        d->n_members = gd->n_members;
        d->members = gd->n_members ? bk_pool_calloc(&pool, gd->n_members,
                                                    sizeof *d->members)
                                   : NULL;
        for (size_t k = 0; k < gd->n_members; k++) {
            Brook__DescribedGroupMember *m =
                d->members ? BK_PNEW(&pool, Brook__DescribedGroupMember,
                                     BROOK__DESCRIBED_GROUP_MEMBER__INIT)
                           : NULL;
            if (!m) {
                oom = true;
                break;
            }
            const bk_grp_member_desc *md = &gd->members[k];
            m->member_id = (char *)md->member_id;
            m->group_instance_id = "";
            m->client_id = (char *)md->client_id;
            m->client_host = (char *)md->client_host;
            m->member_metadata.data = (uint8_t *)md->metadata;
            m->member_metadata.len = md->metadata_len;
            m->member_assignment.data = (uint8_t *)md->assignment;
            m->member_assignment.len = md->assignment_len;
            d->members[k] = m;
        }
    }
    if (oom) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
    } else {
        Brook__DescribeGroupsResponse dr =
            BROOK__DESCRIBE_GROUPS_RESPONSE__INIT;
        dr.n_groups = n;
        dr.groups = pg;
        Brook__Response resp = BROOK__RESPONSE__INIT;
        resp.body_case = BROOK__RESPONSE__BODY_DESCRIBE_GROUPS;
        resp.describe_groups = &dr;
        bk_req_respond(req, &resp);
    }
    for (size_t i = 0; descs && i < n; i++)
        bk_grp_desc_free(&descs[i]);
    free(descs);
    bk_pool_free(&pool);
}

void bk_hdl_list_groups(bk_broker *b, bk_req *req)
{
    bk_gsvc *g = service(b, req);
    if (!g)
        return;
    const Brook__ListGroupsRequest *r = req->msg->list_groups;
    bk_grp_overview *ov = NULL;
    size_t n = 0;
    Brook__ListGroupsResponse lr = BROOK__LIST_GROUPS_RESPONSE__INIT;
    bk_pool pool = BK_POOL_INIT;
    if (bk_grp_list(g->mgr, &ov, &n) != 0) {
        lr.error_code = BK_ERR_UNKNOWN;
        n = 0;
    }
    Brook__ListedGroup **pl = n ? bk_pool_calloc(&pool, n, sizeof *pl) : NULL;
    size_t k = 0;
    for (size_t i = 0; pl && i < n; i++) {
        bool want = r->n_states_filter == 0;
        for (size_t f = 0; !want && f < r->n_states_filter; f++)
            want = strcasecmp(r->states_filter[f], ov[i].state_name) == 0;
        if (!want)
            continue;
        Brook__ListedGroup *l =
            BK_PNEW(&pool, Brook__ListedGroup, BROOK__LISTED_GROUP__INIT);
        if (!l)
            break;
        l->group_id = (char *)ov[i].group_id;
        l->protocol_type = (char *)ov[i].protocol_type;
        l->group_state = (char *)ov[i].state_name;
        pl[k++] = l;
    }
    lr.n_groups = k;
    lr.groups = pl;
    Brook__Response resp = BROOK__RESPONSE__INIT;
    resp.body_case = BROOK__RESPONSE__BODY_LIST_GROUPS;
    resp.list_groups = &lr;
    bk_req_respond(req, &resp);
    free(ov);
    bk_pool_free(&pool);
}

/* ----------------------------- OffsetCommit ----------------------------- */

/* Result code slots: a partition refused before ZooKeeper keeps its own
 * code; the others (PENDING) get the commit's outcome. */
#define PENDING INT32_MIN

typedef struct commit_job {
    bk_loop *loop;
    int64_t deadline; /* monotonic ms: not written after it (the client has
                         given up and retries; a late write could move the
                         offset back behind a newer commit elsewhere) */
    bk_req *req;      /* held; its message owns every string below */
    bk_off_cache *cache;
    const char *group;
    bk_off_entry *e; /* what goes to ZooKeeper */
    size_t n;
    size_t *slot;  /* e[i]'s index in code */
    int32_t *code; /* per request partition, in request order */
    size_t ncodes;
    int rc;
    bk_off_commit_info info;
    char err[256];
} commit_job;

static void commit_job_free(commit_job *j)
{
    free(j->e);
    free(j->slot);
    free(j->code);
    free(j);
}

static int32_t store_error(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case -BK_EINVAL:
        return BK_ERR_INVALID_REQUEST;
    case -BK_ENOMEM:
        return BK_ERR_UNKNOWN;
    case -BK_ETIMEDOUT:
        return BK_ERR_REQUEST_TIMED_OUT;
    default: /* ZooKeeper unreachable, contention, stopping: retriable */
        return BK_ERR_COORDINATOR_NOT_AVAILABLE;
    }
}

static void commit_respond(commit_job *j)
{
    const Brook__OffsetCommitRequest *r = j->req->msg->offset_commit;
    int32_t outcome = store_error(j->rc);
    for (size_t i = 0; i < j->n; i++)
        j->code[j->slot[i]] = outcome;
    if (j->rc == -BK_EINVAL && j->info.bad_entry >= 0 &&
        (size_t)j->info.bad_entry < j->n)
        BK_WARN(MOD, "group %s: commit refused by the offsets store: %s",
                j->group, j->err);
    bk_pool pool = BK_POOL_INIT;
    Brook__OffsetCommitResponse cr = BROOK__OFFSET_COMMIT_RESPONSE__INIT;
    Brook__OffsetCommitResponseTopic **pt =
        r->n_topics ? bk_pool_calloc(&pool, r->n_topics, sizeof *pt) : NULL;
    bool oom = r->n_topics && !pt;
    size_t c = 0;
    for (size_t ti = 0; !oom && ti < r->n_topics; ti++) {
        const Brook__OffsetCommitRequestTopic *rt = r->topics[ti];
        Brook__OffsetCommitResponseTopic *t =
            BK_PNEW(&pool, Brook__OffsetCommitResponseTopic,
                    BROOK__OFFSET_COMMIT_RESPONSE_TOPIC__INIT);
        Brook__OffsetCommitResponsePartition **pp =
            rt->n_partitions
                ? bk_pool_calloc(&pool, rt->n_partitions, sizeof *pp)
                : NULL;
        if (!t || (rt->n_partitions && !pp)) {
            oom = true;
            break;
        }
        t->name = rt->name;
        t->n_partitions = rt->n_partitions;
        t->partitions = pp;
        for (size_t pi = 0; pi < rt->n_partitions; pi++) {
            pp[pi] = BK_PNEW(&pool, Brook__OffsetCommitResponsePartition,
                             BROOK__OFFSET_COMMIT_RESPONSE_PARTITION__INIT);
            if (!pp[pi]) {
                oom = true;
                break;
            }
            pp[pi]->partition_index = rt->partitions[pi]->partition_index;
            pp[pi]->error_code = j->code[c++];
        }
        pt[ti] = t;
    }
    if (oom) {
        bk_req_respond_error(j->req, BK_ERR_UNKNOWN, "out of memory");
    } else {
        cr.n_topics = r->n_topics;
        cr.topics = pt;
        Brook__Response resp = BROOK__RESPONSE__INIT;
        resp.body_case = BROOK__RESPONSE__BODY_OFFSET_COMMIT;
        resp.offset_commit = &cr;
        bk_req_respond(j->req, &resp);
    }
    bk_pool_free(&pool);
    bk_req_release(j->req);
    commit_job_free(j);
}

static void commit_done(bk_loop *loop, void *arg)
{
    (void)loop;
    commit_respond(arg);
}

static void commit_run(bk_zk *zk, void *arg, int status)
{
    commit_job *j = arg;
    if (status == -BK_ECANCELED) {
        /* bk_gsvc_free on the loop thread: answer right here. */
        j->rc = status;
        commit_respond(j);
        return;
    }
    if (status == 0 && bk_clock_mono_ms() > j->deadline)
        j->rc = -BK_ETIMEDOUT; /* queued too long behind a slow ZooKeeper */
    else
        j->rc = status != 0 ? status
                            : bk_off_commit(zk, j->cache, j->group, j->e, j->n,
                                            0, &j->info, j->err, sizeof j->err);
    if (bk_loop_post(j->loop, commit_done, j) != 0)
        BK_ERROR(MOD,
                 "group %s: cannot hand a commit's answer to the loop "
                 "(out of memory): the client will time out",
                 j->group);
}

void bk_hdl_offset_commit(bk_broker *b, bk_req *req)
{
    bk_gsvc *g = service(b, req);
    if (!g)
        return;
    const Brook__OffsetCommitRequest *r = req->msg->offset_commit;
    size_t ncodes = 0;
    for (size_t ti = 0; ti < r->n_topics; ti++)
        ncodes += r->topics[ti]->n_partitions;
    commit_job *j = calloc(1, sizeof *j);
    if (!j || !(j->code = calloc(ncodes ? ncodes : 1, sizeof *j->code)) ||
        !(j->e = calloc(ncodes ? ncodes : 1, sizeof *j->e)) ||
        !(j->slot = calloc(ncodes ? ncodes : 1, sizeof *j->slot))) {
        if (j)
            commit_job_free(j);
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
        return;
    }
    j->loop = b->loop;
    j->deadline = bk_clock_mono_ms() + b->cfg->offsets_commit_timeout_ms;
    j->req = req;
    j->cache = g->cache;
    j->group = r->group_id;
    j->ncodes = ncodes;
    int64_t now = bk_loop_now_ms(b->loop);
    int32_t gerr = coordinates(b, r->group_id, NULL);
    if (gerr == 0) {
        gerr = bk_grp_commit_check(g->mgr, r->group_id, r->member_id,
                                   r->generation_id, now);
        rearm(g);
    }
    size_t c = 0;
    for (size_t ti = 0; ti < r->n_topics; ti++) {
        const Brook__OffsetCommitRequestTopic *rt = r->topics[ti];
        const bk_md_topic *t = bk_md_topic_find(b->md, rt->name);
        for (size_t pi = 0; pi < rt->n_partitions; pi++, c++) {
            const Brook__OffsetCommitRequestPartition *rp = rt->partitions[pi];
            int32_t code = gerr;
            if (code == 0 && (!t || t->deleting || rp->partition_index < 0 ||
                              (size_t)rp->partition_index >= t->nparts))
                code = BK_ERR_UNKNOWN_TOPIC_OR_PART;
            else if (code == 0 && rp->committed_metadata &&
                     strlen(rp->committed_metadata) > BK_OFF_METADATA_MAX)
                code = BK_ERR_OFFSET_METADATA_TOO_LARGE;
            else if (code == 0 && rp->committed_offset < 0)
                code = BK_ERR_INVALID_REQUEST;
            j->code[c] = code;
            if (code != 0)
                continue;
            j->code[c] = PENDING;
            j->slot[j->n] = c;
            j->e[j->n++] =
                (bk_off_entry){rt->name, rp->partition_index,
                               rp->committed_offset, rp->committed_metadata};
        }
    }
    bk_req_hold(req); /* released by commit_respond */
    if (j->n == 0) {
        j->rc = 0;
        commit_respond(j);
        return;
    }
    if (bk_osvc_submit(g->osvc, commit_run, j) != 0) {
        j->rc = -BK_EIO;
        commit_respond(j);
    }
}

/* ----------------------------- OffsetFetch ----------------------------- */

typedef struct fetch_job {
    bk_loop *loop;
    bk_req *req; /* held */
    const char *group;
    bool all;
    bk_off_tp *tps; /* the partitions asked for (not all) */
    size_t n;
    bk_off_list list;
    int rc;
    char err[256];
} fetch_job;

static void fetch_job_free(fetch_job *j)
{
    bk_off_list_free(&j->list);
    free(j->tps);
    free(j);
}

/* Appends one partition answer to t (grown in the pool). */
static Brook__OffsetFetchResponsePartition *
fetch_part(bk_pool *pool, const bk_off_committed *c, int32_t index)
{
    Brook__OffsetFetchResponsePartition *p =
        BK_PNEW(pool, Brook__OffsetFetchResponsePartition,
                BROOK__OFFSET_FETCH_RESPONSE_PARTITION__INIT);
    if (!p)
        return NULL;
    p->partition_index = index;
    p->committed_offset = c ? c->offset : -1;
    p->committed_leader_epoch = -1;
    p->metadata = c && c->metadata ? c->metadata : "";
    p->error_code = c && c->error ? BK_ERR_UNKNOWN : 0;
    return p;
}

static void fetch_respond(fetch_job *j)
{
    bk_pool pool = BK_POOL_INIT;
    Brook__OffsetFetchResponse fr = BROOK__OFFSET_FETCH_RESPONSE__INIT;
    bool oom = false;
    if (j->rc != 0) {
        fr.error_code =
            j->rc == -BK_EINVAL ? BK_ERR_INVALID_GROUP_ID : store_error(j->rc);
    } else if (j->list.ncorrupt > 0) {
        BK_WARN(MOD, "group %s: %zu committed offsets do not decode: %s",
                j->group, j->list.ncorrupt, j->err);
    }
    /* Topics in the order they come (all: sorted by topic). */
    const Brook__OffsetFetchRequest *r = j->req->msg->offset_fetch;
    size_t cap = j->all ? j->list.n : r->n_topics;
    Brook__OffsetFetchResponseTopic **pt =
        cap ? bk_pool_calloc(&pool, cap, sizeof *pt) : NULL;
    size_t nt = 0;
    oom = cap && !pt;
    if (!oom && j->rc == 0 && j->all) {
        for (size_t i = 0; i < j->list.n && !oom;) {
            size_t k = i;
            while (k < j->list.n &&
                   strcmp(j->list.v[k].topic, j->list.v[i].topic) == 0)
                k++;
            Brook__OffsetFetchResponseTopic *t =
                BK_PNEW(&pool, Brook__OffsetFetchResponseTopic,
                        BROOK__OFFSET_FETCH_RESPONSE_TOPIC__INIT);
            Brook__OffsetFetchResponsePartition **pp =
                bk_pool_calloc(&pool, k - i, sizeof *pp);
            oom = !t || !pp;
            for (size_t m = i; !oom && m < k; m++)
                oom = !(pp[m - i] = fetch_part(&pool, &j->list.v[m],
                                               j->list.v[m].partition));
            if (!oom) {
                t->name = j->list.v[i].topic;
                t->n_partitions = k - i;
                t->partitions = pp;
                pt[nt++] = t;
            }
            i = k;
        }
    } else if (!oom && !j->all) {
        size_t c = 0;
        for (size_t ti = 0; ti < r->n_topics && !oom; ti++) {
            const Brook__OffsetFetchRequestTopic *rt = r->topics[ti];
            Brook__OffsetFetchResponseTopic *t =
                BK_PNEW(&pool, Brook__OffsetFetchResponseTopic,
                        BROOK__OFFSET_FETCH_RESPONSE_TOPIC__INIT);
            Brook__OffsetFetchResponsePartition **pp =
                rt->n_partition_indexes
                    ? bk_pool_calloc(&pool, rt->n_partition_indexes, sizeof *pp)
                    : NULL;
            oom = !t || (rt->n_partition_indexes && !pp);
            for (size_t pi = 0; !oom && pi < rt->n_partition_indexes; pi++) {
                /* Requested partitions map 1:1 onto tps / list (in order)
                 * except those refused by name, which tps skipped. */
                const bk_off_committed *cm = NULL;
                if (j->rc == 0 && c < j->n &&
                    strcmp(j->tps[c].topic, rt->name) == 0 &&
                    j->tps[c].partition == rt->partition_indexes[pi])
                    cm = &j->list.v[c++];
                oom = !(pp[pi] =
                            fetch_part(&pool, cm, rt->partition_indexes[pi]));
                if (!oom && !cm && j->rc == 0) {
                    char e[64];
                    if (bk_topic_validate_name(rt->name, e, sizeof e) != 0 ||
                        rt->partition_indexes[pi] < 0)
                        pp[pi]->error_code = BK_ERR_UNKNOWN_TOPIC_OR_PART;
                }
            }
            if (!oom) {
                t->name = rt->name;
                t->n_partitions = rt->n_partition_indexes;
                t->partitions = pp;
                pt[nt++] = t;
            }
        }
    }
    if (oom) {
        bk_req_respond_error(j->req, BK_ERR_UNKNOWN, "out of memory");
    } else {
        fr.n_topics = nt;
        fr.topics = pt;
        Brook__Response resp = BROOK__RESPONSE__INIT;
        resp.body_case = BROOK__RESPONSE__BODY_OFFSET_FETCH;
        resp.offset_fetch = &fr;
        bk_req_respond(j->req, &resp);
    }
    bk_pool_free(&pool);
    bk_req_release(j->req);
    fetch_job_free(j);
}

static void fetch_done(bk_loop *loop, void *arg)
{
    (void)loop;
    fetch_respond(arg);
}

static void fetch_run(bk_zk *zk, void *arg, int status)
{
    fetch_job *j = arg;
    if (status == -BK_ECANCELED) {
        j->rc = status;
        fetch_respond(j);
        return;
    }
    if (status != 0)
        j->rc = status;
    else if (j->all)
        j->rc = bk_off_fetch_all(zk, j->group, NULL, &j->list, j->err,
                                 sizeof j->err);
    else
        j->rc = bk_off_fetch(zk, j->group, j->tps, j->n, &j->list, j->err,
                             sizeof j->err);
    if (bk_loop_post(j->loop, fetch_done, j) != 0)
        BK_ERROR(MOD,
                 "group %s: cannot hand an offset fetch's answer to the "
                 "loop (out of memory)",
                 j->group);
}

/* Answers a group-level error with no topics. */
static void fetch_fail(fetch_job *j, int32_t err)
{
    Brook__OffsetFetchResponse fr = BROOK__OFFSET_FETCH_RESPONSE__INIT;
    fr.error_code = err;
    Brook__Response resp = BROOK__RESPONSE__INIT;
    resp.body_case = BROOK__RESPONSE__BODY_OFFSET_FETCH;
    resp.offset_fetch = &fr;
    bk_req_respond(j->req, &resp);
    bk_req_release(j->req);
    fetch_job_free(j);
}

void bk_hdl_offset_fetch(bk_broker *b, bk_req *req)
{
    bk_gsvc *g = service(b, req);
    if (!g)
        return;
    const Brook__OffsetFetchRequest *r = req->msg->offset_fetch;
    fetch_job *j = calloc(1, sizeof *j);
    size_t n = 0;
    for (size_t ti = 0; ti < r->n_topics; ti++)
        n += r->topics[ti]->n_partition_indexes;
    if (j && n && !(j->tps = calloc(n, sizeof *j->tps))) {
        free(j);
        j = NULL;
    }
    if (!j) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
        return;
    }
    j->loop = b->loop;
    j->req = req;
    j->group = r->group_id;
    j->all = r->all_topics;
    bk_req_hold(req); /* released by fetch_respond / fetch_fail */
    int32_t err = coordinates(b, r->group_id, NULL);
    if (err != 0) {
        fetch_fail(j, err); /* not ours: a group-level error, no topics */
        return;
    }
    /* Partitions with an invalid topic name are answered without asking
     * ZooKeeper (they cannot be stored there). */
    for (size_t ti = 0; !j->all && ti < r->n_topics; ti++) {
        char e[64];
        const Brook__OffsetFetchRequestTopic *rt = r->topics[ti];
        if (bk_topic_validate_name(rt->name, e, sizeof e) != 0)
            continue;
        /* nor negative partitions: bk_off_fetch would refuse them all */
        for (size_t pi = 0; pi < rt->n_partition_indexes; pi++)
            if (rt->partition_indexes[pi] >= 0)
                j->tps[j->n++] =
                    (bk_off_tp){rt->name, rt->partition_indexes[pi]};
    }
    if (bk_osvc_submit(g->osvc, fetch_run, j) != 0)
        fetch_fail(j, BK_ERR_COORDINATOR_NOT_AVAILABLE);
}
