/*
 * handlers.c -- request dispatch, ApiVersions, Metadata and the topic
 * admin requests (see handlers.h).
 */
#include "broker/handlers.h"

#include "broker/gcoord.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/dynconfig.h"
#include "broker/zkbroker.h"
#include "common/logging.h"
#include "coordinator/topic.h"
#include "coordinator/zkcodec.h"
#include "proto/protocol.h"

#define MOD "handlers"

void *bk_hdl_pnew(bk_pool *pool, const void *init, size_t size)
{
    void *p = bk_pool_alloc(pool, size);
    if (p)
        memcpy(p, init, size);
    return p;
}

bool bk_hdl_implemented(int api_key)
{
    switch (api_key) {
    case BK_API_PRODUCE:
    case BK_API_FETCH:
    case BK_API_LIST_OFFSETS:
    case BK_API_METADATA:
    case BK_API_API_VERSIONS:
    case BK_API_CREATE_TOPICS:
    case BK_API_DELETE_TOPICS:
    case BK_API_OFFSET_FOR_LEADER_EPOCH:
    case BK_API_LEADER_AND_ISR:
    case BK_API_STOP_REPLICA:
    case BK_API_UPDATE_METADATA:
    case BK_API_CONTROLLED_SHUTDOWN:
    case BK_API_OFFSET_COMMIT:
    case BK_API_OFFSET_FETCH:
    case BK_API_FIND_COORDINATOR:
    case BK_API_JOIN_GROUP:
    case BK_API_HEARTBEAT:
    case BK_API_LEAVE_GROUP:
    case BK_API_SYNC_GROUP:
    case BK_API_DESCRIBE_GROUPS:
    case BK_API_LIST_GROUPS:
    case BK_API_DESCRIBE_CONFIGS:
        return true;
    default:
        return false;
    }
}

void bk_broker_handle(bk_srv *srv, bk_req *req, void *arg)
{
    (void)srv;
    bk_broker *b = arg;
    int key = req->api_key;
    if (!bk_hdl_implemented(key)) {
        char msg[128];
        snprintf(msg, sizeof msg, "API key %d (%s) is not supported", key,
                 bk_api_name(key));
        BK_DEBUG(MOD, "%s from %s", msg, bk_req_peer(req));
        bk_req_respond_error(req, BK_ERR_UNSUPPORTED_VERSION, msg);
        return;
    }
    if (req->api_version < 0 || req->api_version > bk_api_max_version(key)) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s version %d is not supported (max %d)",
                 bk_api_name(key), req->api_version, bk_api_max_version(key));
        bk_req_respond_error(req, BK_ERR_UNSUPPORTED_VERSION, msg);
        return;
    }
    if ((int)req->msg->body_case != BK_BODY_FIELD(key)) {
        bk_req_respond_error(req, BK_ERR_INVALID_REQUEST,
                             "the request body does not match its api_key");
        return;
    }
    switch (key) {
    case BK_API_PRODUCE:
        bk_hdl_produce(b, req);
        break;
    case BK_API_FETCH:
        bk_hdl_fetch(b, req);
        break;
    case BK_API_LIST_OFFSETS:
        bk_hdl_list_offsets(b, req);
        break;
    case BK_API_METADATA:
        bk_hdl_metadata(b, req);
        break;
    case BK_API_API_VERSIONS:
        bk_hdl_api_versions(b, req);
        break;
    case BK_API_CREATE_TOPICS:
        bk_hdl_create_topics(b, req);
        break;
    case BK_API_DELETE_TOPICS:
        bk_hdl_delete_topics(b, req);
        break;
    case BK_API_OFFSET_FOR_LEADER_EPOCH:
        bk_hdl_offset_for_leader_epoch(b, req);
        break;
    case BK_API_LEADER_AND_ISR:
        bk_hdl_leader_and_isr(b, req);
        break;
    case BK_API_STOP_REPLICA:
        bk_hdl_stop_replica(b, req);
        break;
    case BK_API_UPDATE_METADATA:
        bk_hdl_update_metadata(b, req);
        break;
    case BK_API_CONTROLLED_SHUTDOWN:
        bk_hdl_controlled_shutdown(b, req);
        break;
    case BK_API_OFFSET_COMMIT:
        bk_hdl_offset_commit(b, req);
        break;
    case BK_API_OFFSET_FETCH:
        bk_hdl_offset_fetch(b, req);
        break;
    case BK_API_FIND_COORDINATOR:
        bk_hdl_find_coordinator(b, req);
        break;
    case BK_API_JOIN_GROUP:
        bk_hdl_join_group(b, req);
        break;
    case BK_API_HEARTBEAT:
        bk_hdl_heartbeat(b, req);
        break;
    case BK_API_LEAVE_GROUP:
        bk_hdl_leave_group(b, req);
        break;
    case BK_API_SYNC_GROUP:
        bk_hdl_sync_group(b, req);
        break;
    case BK_API_DESCRIBE_GROUPS:
        bk_hdl_describe_groups(b, req);
        break;
    case BK_API_LIST_GROUPS:
        bk_hdl_list_groups(b, req);
        break;
    case BK_API_DESCRIBE_CONFIGS:
        bk_hdl_describe_configs(b, req);
        break;
    }
}

bk_part *bk_hdl_leader_part(bk_broker *b, const char *topic, int32_t p,
                            int32_t *err)
{
    bk_part *part = bk_parts_find(b->parts, topic, p);
    if (part && part->is_leader)
        return part;
    const bk_md_topic *t = bk_md_topic_find(b->md, topic);
    if (!t || t->deleting || p < 0 || (size_t)p >= t->nparts)
        *err = BK_ERR_UNKNOWN_TOPIC_OR_PART;
    else
        *err = BK_ERR_NOT_LEADER_FOR_PARTITION;
    return NULL;
}

Brook__LeaderIdAndEpoch *bk_hdl_current_leader(bk_broker *b, bk_pool *pool,
                                               const char *topic, int32_t p)
{
    Brook__LeaderIdAndEpoch *l = BK_PNEW(pool, Brook__LeaderIdAndEpoch,
                                         BROOK__LEADER_ID_AND_EPOCH__INIT);
    if (!l)
        return NULL;
    const bk_md_part *mp = bk_md_part_find(b->md, topic, p);
    l->leader_id = mp && mp->has_state ? mp->leader : -1;
    l->leader_epoch = mp && mp->has_state ? mp->leader_epoch : -1;
    return l;
}

/* ----------------------------- ApiVersions ----------------------------- */

void bk_hdl_api_versions(bk_broker *b, bk_req *req)
{
    (void)b;
    Brook__ApiVersion v[BK_API_KEY_MAX + 1];
    Brook__ApiVersion *pv[BK_API_KEY_MAX + 1];
    size_t n = 0;
    for (int k = 0; k <= BK_API_KEY_MAX; k++) {
        if (!bk_hdl_implemented(k))
            continue;
        brook__api_version__init(&v[n]);
        v[n].api_key = k;
        v[n].min_version = 0;
        v[n].max_version = bk_api_max_version(k);
        pv[n] = &v[n];
        n++;
    }
    Brook__ApiVersionsResponse body = BROOK__API_VERSIONS_RESPONSE__INIT;
    body.n_api_keys = n;
    body.api_keys = pv;
    Brook__Response resp = BROOK__RESPONSE__INIT;
    resp.body_case = BROOK__RESPONSE__BODY_API_VERSIONS;
    resp.api_versions = &body;
    bk_req_respond(req, &resp);
}

/* ------------------------------ Metadata ------------------------------ */

static bool is_live(const bk_md *md, int32_t id)
{
    return bk_md_broker_find(md, id) != NULL;
}

static int32_t *copy_ids(bk_pool *pool, const int32_t *v, size_t n)
{
    int32_t *d = bk_pool_calloc(pool, n ? n : 1, sizeof *d);
    if (d && n)
        memcpy(d, v, n * sizeof *d);
    return d;
}

static Brook__MetadataResponseTopic *md_topic(bk_broker *b, bk_pool *pool,
                                              const bk_md_topic *t)
{
    Brook__MetadataResponseTopic *rt =
        BK_PNEW(pool, Brook__MetadataResponseTopic,
                BROOK__METADATA_RESPONSE_TOPIC__INIT);
    if (!rt)
        return NULL;
    rt->name = t->name;
    rt->partitions =
        bk_pool_calloc(pool, t->nparts ? t->nparts : 1, sizeof *rt->partitions);
    if (!rt->partitions)
        return NULL;
    for (size_t i = 0; i < t->nparts; i++) {
        const bk_md_part *mp = &t->parts[i];
        Brook__MetadataResponsePartition *rp =
            BK_PNEW(pool, Brook__MetadataResponsePartition,
                    BROOK__METADATA_RESPONSE_PARTITION__INIT);
        if (!rp)
            return NULL;
        rp->partition_index = mp->index;
        rp->replica_nodes = copy_ids(pool, mp->replicas, mp->nreplicas);
        rp->n_replica_nodes = mp->nreplicas;
        rp->offline_replicas =
            bk_pool_calloc(pool, mp->nreplicas ? mp->nreplicas : 1,
                           sizeof *rp->offline_replicas);
        if (!rp->replica_nodes || !rp->offline_replicas)
            return NULL;
        for (size_t k = 0; k < mp->nreplicas; k++)
            if (!is_live(b->md, mp->replicas[k]))
                rp->offline_replicas[rp->n_offline_replicas++] =
                    mp->replicas[k];
        if (mp->has_state) {
            rp->isr_nodes = copy_ids(pool, mp->isr, mp->nisr);
            if (!rp->isr_nodes)
                return NULL;
            rp->n_isr_nodes = mp->nisr;
            rp->leader_epoch = mp->leader_epoch;
        }
        if (mp->has_state && mp->leader >= 0 && is_live(b->md, mp->leader)) {
            rp->leader_id = mp->leader;
        } else {
            rp->leader_id = -1;
            rp->error_code = BK_ERR_LEADER_NOT_AVAILABLE;
        }
        rt->partitions[rt->n_partitions++] = rp;
    }
    return rt;
}

static Brook__MetadataResponseTopic *
md_error_topic(bk_pool *pool, const char *name, int32_t err)
{
    Brook__MetadataResponseTopic *rt =
        BK_PNEW(pool, Brook__MetadataResponseTopic,
                BROOK__METADATA_RESPONSE_TOPIC__INIT);
    if (rt) {
        rt->name = (char *)name;
        rt->error_code = err;
    }
    return rt;
}

static bool valid_topic_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 249 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

typedef struct md_name {
    const char *name;
    size_t idx;
} md_name;

static int md_name_cmp(const void *a, const void *b)
{
    const md_name *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* dup[i] true when the i-th requested name came earlier in the request
 * (malloc'd; NULL when out of memory or no names). */
static bool *md_duplicates(const Brook__MetadataRequest *mr)
{
    size_t n = mr->n_topics;
    if (n == 0)
        return NULL;
    bool *dup = calloc(n, sizeof *dup);
    md_name *v = malloc(n * sizeof *v);
    if (!dup || !v) {
        free(dup);
        free(v);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (md_name){mr->topics[i]->name ? mr->topics[i]->name : "", i};
    qsort(v, n, sizeof *v, md_name_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1].name, v[i].name) == 0)
            dup[v[i].idx] = true; /* sorted by index within a name */
    free(v);
    return dup;
}

void bk_hdl_metadata(bk_broker *b, bk_req *req)
{
    const Brook__MetadataRequest *mr = req->msg->metadata;
    bk_pool pool = BK_POOL_INIT;
    Brook__MetadataResponse body = BROOK__METADATA_RESPONSE__INIT;
    const bk_md *md = b->md;
    bool oom = false;

    body.cluster_id = md->cluster_id;
    body.controller_id = md->controller_id;
    body.brokers = bk_pool_calloc(&pool, md->nbrokers ? md->nbrokers : 1,
                                  sizeof *body.brokers);
    oom |= !body.brokers;
    for (size_t i = 0; !oom && i < md->nbrokers; i++) {
        Brook__MetadataResponseBroker *rb =
            BK_PNEW(&pool, Brook__MetadataResponseBroker,
                    BROOK__METADATA_RESPONSE_BROKER__INIT);
        if (!rb) {
            oom = true;
            break;
        }
        rb->node_id = md->brokers[i].id;
        rb->host = md->brokers[i].host;
        rb->port = md->brokers[i].port;
        rb->rack = md->brokers[i].rack;
        body.brokers[body.n_brokers++] = rb;
    }

    size_t want = mr->all_topics ? md->ntopics : mr->n_topics;
    body.topics = bk_pool_calloc(&pool, want ? want : 1, sizeof *body.topics);
    oom |= !body.topics;
    if (!oom && mr->all_topics) {
        for (size_t i = 0; i < md->ntopics; i++) {
            if (md->topics[i].deleting)
                continue;
            Brook__MetadataResponseTopic *rt =
                md_topic(b, &pool, &md->topics[i]);
            if (!rt) {
                oom = true;
                break;
            }
            body.topics[body.n_topics++] = rt;
        }
    } else if (!oom) {
        /* A name asked for twice is answered once (Kafka takes a set):
         * repeats of a large topic would otherwise build a response many
         * times the request's size. */
        bool *dup = md_duplicates(mr);
        oom = mr->n_topics > 0 && !dup;
        for (size_t i = 0; !oom && i < mr->n_topics; i++) {
            if (dup[i])
                continue;
            const char *name = mr->topics[i]->name;
            const bk_md_topic *t = bk_md_topic_find(md, name);
            Brook__MetadataResponseTopic *rt;
            if (t && !t->deleting) {
                rt = md_topic(b, &pool, t);
            } else if (!valid_topic_name(name)) {
                rt = md_error_topic(&pool, name, BK_ERR_TOPIC_EXCEPTION);
            } else if (!t && mr->allow_auto_topic_creation &&
                       b->cfg->auto_create_topics && !b->stopping) {
                /* Kafka: start creating it and tell the client to come
                 * back (LEADER_NOT_AVAILABLE is retriable). */
                bk_zkb_auto_create(b->zkb, name);
                rt = md_error_topic(&pool, name, BK_ERR_LEADER_NOT_AVAILABLE);
            } else {
                rt = md_error_topic(&pool, name, BK_ERR_UNKNOWN_TOPIC_OR_PART);
            }
            if (!rt) {
                oom = true;
                break;
            }
            body.topics[body.n_topics++] = rt;
        }
        free(dup);
    }
    if (oom) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
    } else {
        Brook__Response resp = BROOK__RESPONSE__INIT;
        resp.body_case = BROOK__RESPONSE__BODY_METADATA;
        resp.metadata = &body;
        bk_req_respond(req, &resp);
    }
    bk_pool_free(&pool);
}

/* --------------------------- topic admin --------------------------- */

void bk_hdl_create_topics(bk_broker *b, bk_req *req)
{
    if (b->stopping) {
        bk_req_respond_error(req, BK_ERR_BROKER_NOT_AVAILABLE,
                             "the broker is shutting down");
        return;
    }
    bk_zkb_create_topics(b->zkb, req);
}

void bk_hdl_delete_topics(bk_broker *b, bk_req *req)
{
    if (b->stopping) {
        bk_req_respond_error(req, BK_ERR_BROKER_NOT_AVAILABLE,
                             "the broker is shutting down");
        return;
    }
    bk_zkb_delete_topics(b->zkb, req);
}

/* --------------------------- DescribeConfigs --------------------------- */
/* What this broker applies (broker/dynconfig.h), from its own picture:
 * the answer changes when a change notification has been read here. */

static bool dc_wanted(const Brook__DescribeConfigsResource *r,
                      const char *name)
{
    if (r->n_configuration_keys == 0)
        return true;
    for (size_t i = 0; i < r->n_configuration_keys; i++)
        if (strcmp(r->configuration_keys[i], name) == 0)
            return true;
    return false;
}

/* One entry: name with the layers that set it (layers[0] wins). */
static Brook__DescribeConfigsResourceResult *
dc_entry(bk_pool *pool, const char *name, const bk_dyn_value *layers,
         size_t n, bool synonyms)
{
    Brook__DescribeConfigsResourceResult *e =
        BK_PNEW(pool, Brook__DescribeConfigsResourceResult,
                BROOK__DESCRIBE_CONFIGS_RESOURCE_RESULT__INIT);
    if (!e)
        return NULL;
    e->name = (char *)name;
    e->value = (char *)layers[0].value;
    e->config_source = layers[0].source;
    if (!synonyms)
        return e;
    e->synonyms = bk_pool_calloc(pool, n, sizeof *e->synonyms);
    if (!e->synonyms)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        Brook__DescribeConfigsSynonym *sy =
            BK_PNEW(pool, Brook__DescribeConfigsSynonym,
                    BROOK__DESCRIBE_CONFIGS_SYNONYM__INIT);
        if (!sy)
            return NULL;
        sy->name = (char *)layers[i].name;
        sy->value = (char *)layers[i].value;
        sy->source = layers[i].source;
        e->synonyms[e->n_synonyms++] = sy;
    }
    return e;
}

/* Adds an entry to res (room for cap).  false on allocation failure. */
static bool dc_add(bk_pool *pool, Brook__DescribeConfigsResult *res,
                   const char *name, const bk_dyn_value *layers, size_t n,
                   bool synonyms)
{
    Brook__DescribeConfigsResourceResult *e =
        dc_entry(pool, name, layers, n, synonyms);
    if (!e)
        return false;
    res->configs[res->n_configs++] = e;
    return true;
}

static void dc_error(bk_pool *pool, Brook__DescribeConfigsResult *res,
                     int32_t code, const char *fmt, const char *name)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, name);
    res->error_code = code;
    res->error_message = bk_pool_strdup(pool, msg);
}

/* A topic: every dynamic key as applied, then its other overrides. */
static bool dc_topic(bk_broker *b, bk_pool *pool,
                     const Brook__DescribeConfigsResource *r,
                     const bk_dyn_static *st, bool syn,
                     Brook__DescribeConfigsResult *res)
{
    const bk_md_topic *t = bk_md_topic_find(b->md, r->resource_name);
    if (!t || t->deleting) {
        dc_error(pool, res, BK_ERR_UNKNOWN_TOPIC_OR_PART,
                 "Topic %s does not exist", r->resource_name);
        return true;
    }
    size_t nd;
    const bk_dyn_cfg_def *defs = bk_dyn_cfg_defs(&nd);
    res->configs = bk_pool_calloc(pool, nd + t->ncfg + 1, sizeof *res->configs);
    if (!res->configs)
        return false;
    for (size_t i = 0; i < nd; i++) {
        bk_dyn_value layers[5];
        const char *k = defs[i].topic_key;
        size_t n = bk_dyn_layers(b->md, t, st, k, layers);
        if (n && dc_wanted(r, k) && !dc_add(pool, res, k, layers, n, syn))
            return false;
    }
    for (size_t i = 0; i < t->ncfg; i++) {
        const char *k = t->cfg_keys[i];
        if (bk_dyn_cfg_broker_key(k) || !dc_wanted(r, k))
            continue;
        bk_dyn_value one = {k, t->cfg_vals[i], BK_CFG_SRC_TOPIC};
        if (!dc_add(pool, res, k, &one, 1, syn))
            return false;
    }
    return true;
}

/* A broker: "" is the cluster default entity (what it sets), our own id
 * every dynamic broker key as this broker applies it. */
static bool dc_broker(bk_broker *b, bk_pool *pool,
                      const Brook__DescribeConfigsResource *r,
                      const bk_dyn_static *st, bool syn,
                      Brook__DescribeConfigsResult *res)
{
    const char *name = r->resource_name;
    const bk_md_cfg *dflt = &b->md->dyn_default;
    size_t nd;
    const bk_dyn_cfg_def *defs = bk_dyn_cfg_defs(&nd);
    res->configs =
        bk_pool_calloc(pool, nd + dflt->n + 1, sizeof *res->configs);
    if (!res->configs)
        return false;
    if (name[0] == '\0') {
        for (size_t i = 0; i < dflt->n; i++) {
            bk_dyn_value one = {dflt->keys[i], dflt->vals[i],
                                BK_CFG_SRC_DYN_DEFAULT};
            if (dc_wanted(r, dflt->keys[i]) &&
                !dc_add(pool, res, dflt->keys[i], &one, 1, syn))
                return false;
        }
        return true;
    }
    int32_t id;
    if (!bk_zkc_parse_id(name, &id) || id != b->cfg->broker_id) {
        char fmt[160];
        snprintf(fmt, sizeof fmt,
                 "Unexpected broker id, expected %d or empty string, but "
                 "received %%s",
                 (int)b->cfg->broker_id);
        dc_error(pool, res, BK_ERR_INVALID_REQUEST, fmt, name);
        return true;
    }
    for (size_t i = 0; i < nd; i++) {
        bk_dyn_value layers[5];
        size_t n = bk_dyn_layers(b->md, NULL, st, defs[i].topic_key, layers);
        const char *k = defs[i].broker_key;
        if (n && dc_wanted(r, k) && !dc_add(pool, res, k, layers, n, syn))
            return false;
    }
    return true;
}

static int dc_res_cmp(const void *a, const void *b)
{
    const Brook__DescribeConfigsResource *x =
        *(const Brook__DescribeConfigsResource *const *)a;
    const Brook__DescribeConfigsResource *y =
        *(const Brook__DescribeConfigsResource *const *)b;
    if (x->resource_type != y->resource_type)
        return x->resource_type < y->resource_type ? -1 : 1;
    return strcmp(x->resource_name ? x->resource_name : "",
                  y->resource_name ? y->resource_name : "");
}

/* True when a resource is named twice (Kafka refuses the request): each
 * answer for a known entity is hundreds of bytes, so repeats would let a
 * small request build a huge response on the loop thread. */
static bool dc_has_duplicates(const Brook__DescribeConfigsRequest *dr)
{
    if (dr->n_resources < 2)
        return false;
    const Brook__DescribeConfigsResource **v =
        malloc(dr->n_resources * sizeof *v);
    if (!v)
        return true; /* refused: out of memory is no reason to go on */
    memcpy(v, dr->resources, dr->n_resources * sizeof *v);
    qsort(v, dr->n_resources, sizeof *v, dc_res_cmp);
    bool dup = false;
    for (size_t i = 1; i < dr->n_resources && !dup; i++)
        dup = dc_res_cmp(&v[i - 1], &v[i]) == 0;
    free(v);
    return dup;
}

void bk_hdl_describe_configs(bk_broker *b, bk_req *req)
{
    const Brook__DescribeConfigsRequest *dr = req->msg->describe_configs;
    if (dc_has_duplicates(dr)) {
        bk_req_respond_error(req, BK_ERR_INVALID_REQUEST,
                             "DescribeConfigs names a resource twice");
        return;
    }
    bk_pool pool = BK_POOL_INIT;
    Brook__DescribeConfigsResponse body =
        BROOK__DESCRIBE_CONFIGS_RESPONSE__INIT;
    bk_dyn_static st;
    bk_dyn_static_from_bcfg(b->cfg, &st);
    bool ok = true;
    body.results = bk_pool_calloc(&pool, dr->n_resources ? dr->n_resources : 1,
                                  sizeof *body.results);
    ok = body.results != NULL;
    for (size_t i = 0; ok && i < dr->n_resources; i++) {
        const Brook__DescribeConfigsResource *r = dr->resources[i];
        Brook__DescribeConfigsResult *res =
            BK_PNEW(&pool, Brook__DescribeConfigsResult,
                    BROOK__DESCRIBE_CONFIGS_RESULT__INIT);
        if (!res) {
            ok = false;
            break;
        }
        res->resource_type = r->resource_type;
        res->resource_name = r->resource_name;
        if (r->resource_type == BK_RESOURCE_TOPIC)
            ok = dc_topic(b, &pool, r, &st, dr->include_synonyms, res);
        else if (r->resource_type == BK_RESOURCE_BROKER)
            ok = dc_broker(b, &pool, r, &st, dr->include_synonyms, res);
        else
            dc_error(&pool, res, BK_ERR_INVALID_REQUEST,
                     "Unsupported resource type for %s (2: topic, 4: broker)",
                     r->resource_name);
        body.results[body.n_results++] = res;
    }
    if (!ok) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
    } else {
        Brook__Response resp = BROOK__RESPONSE__INIT;
        resp.body_case = BROOK__RESPONSE__BODY_DESCRIBE_CONFIGS;
        resp.describe_configs = &body;
        bk_req_respond(req, &resp);
    }
    bk_pool_free(&pool);
}
