/*
 * admin.c -- CreateTopics, DeleteTopics and auto-creation through
 * ZooKeeper (see admin.h).
 *
 * The ZooKeeper work runs on the caller's (blocking) thread; the answer is
 * built into a small struct and posted to the loop, which encodes the
 * response and releases the request there: apart from reading its decoded
 * message (immutable while held for us), a bk_req is only ever touched by
 * the loop thread.
 */
#include "broker/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/logging.h"
#include "coordinator/zkdata.h"
#include "proto/protocol.h"

#define MOD "admin"

typedef struct admin_item {
    char *name;
    int32_t error;
    char *message; /* NULL: none */
    int32_t partitions, rf;
} admin_item;

typedef struct admin_post {
    bk_req *req;
    bool create;
    size_t n;
    admin_item v[];
} admin_post;

/* Out of memory on the worker: the answer cannot reach the loop.  The
 * request is left held (its connection waits) rather than released here:
 * its reference count belongs to the loop thread. */
static void lost(bk_req *req)
{
    BK_ERROR(MOD,
             "out of memory: a %s request (correlation id %d) stays "
             "unanswered",
             bk_api_name(req->api_key), req->correlation_id);
}

static void admin_free(admin_post *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].message);
    }
    free(p);
}

static void on_admin_post(bk_loop *loop, void *arg)
{
    (void)loop;
    admin_post *p = arg;
    bk_req *req = p->req;
    Brook__Response resp = BROOK__RESPONSE__INIT;
    if (p->create) {
        Brook__CreateTopicsResponse body = BROOK__CREATE_TOPICS_RESPONSE__INIT;
        Brook__CreatableTopicResult *r = calloc(p->n ? p->n : 1, sizeof *r);
        Brook__CreatableTopicResult **pr = calloc(p->n ? p->n : 1, sizeof *pr);
        if (r && pr) {
            for (size_t i = 0; i < p->n; i++) {
                brook__creatable_topic_result__init(&r[i]);
                r[i].name = p->v[i].name;
                r[i].error_code = p->v[i].error;
                if (p->v[i].message)
                    r[i].error_message = p->v[i].message;
                r[i].num_partitions = p->v[i].partitions;
                r[i].replication_factor = p->v[i].rf;
                pr[i] = &r[i];
            }
            body.n_topics = p->n;
            body.topics = pr;
            resp.body_case = BROOK__RESPONSE__BODY_CREATE_TOPICS;
            resp.create_topics = &body;
            bk_req_respond(req, &resp);
        } else {
            bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
        }
        free(r);
        free(pr);
    } else {
        Brook__DeleteTopicsResponse body = BROOK__DELETE_TOPICS_RESPONSE__INIT;
        Brook__DeletableTopicResult *r = calloc(p->n ? p->n : 1, sizeof *r);
        Brook__DeletableTopicResult **pr = calloc(p->n ? p->n : 1, sizeof *pr);
        if (r && pr) {
            for (size_t i = 0; i < p->n; i++) {
                brook__deletable_topic_result__init(&r[i]);
                r[i].name = p->v[i].name;
                r[i].error_code = p->v[i].error;
                if (p->v[i].message)
                    r[i].error_message = p->v[i].message;
                pr[i] = &r[i];
            }
            body.n_responses = p->n;
            body.responses = pr;
            resp.body_case = BROOK__RESPONSE__BODY_DELETE_TOPICS;
            resp.delete_topics = &body;
            bk_req_respond(req, &resp);
        } else {
            bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
        }
        free(r);
        free(pr);
    }
    admin_free(p);
    bk_req_release(req);
}

static admin_post *admin_new(bk_req *req, bool create, size_t n)
{
    admin_post *p = calloc(1, sizeof *p + (n ? n : 1) * sizeof p->v[0]);
    if (p) {
        p->req = req;
        p->create = create;
        p->n = n;
    }
    return p;
}

static void admin_set(admin_item *it, const char *name, int32_t err,
                      const char *msg)
{
    it->name = strdup(name ? name : "");
    it->error = err;
    it->message = msg && msg[0] ? strdup(msg) : NULL;
}

void bk_adm_fail(bk_loop *loop, bk_req *req, int32_t err, const char *msg)
{
    bool create = req->api_key == BK_API_CREATE_TOPICS;
    size_t n = create ? req->msg->create_topics->n_topics
                      : req->msg->delete_topics->n_topic_names;
    admin_post *p = admin_new(req, create, n);
    if (!p) {
        lost(req);
        return;
    }
    for (size_t i = 0; i < n; i++)
        admin_set(&p->v[i],
                  create ? req->msg->create_topics->topics[i]->name
                         : req->msg->delete_topics->topic_names[i],
                  err, msg);
    if (bk_loop_post(loop, on_admin_post, p) != 0) {
        admin_free(p);
        lost(req);
    }
}

static void create_one(bk_zk *zk, const bk_bcfg *cfg,
                       const Brook__CreatableTopic *t, bool validate_only,
                       admin_item *it)
{
    bk_zkd_topic_spec spec = {.name = t->name,
                              .partitions = t->num_partitions,
                              .replication_factor = t->replication_factor,
                              .start_index = -1,
                              .shift = -1,
                              .validate_only = validate_only};
    int32_t *ids = NULL;
    bk_zkc_kv *kv = NULL;
    bk_zkd_result res;
    memset(&res, 0, sizeof res);
    if (t->n_assignments > 0) {
        if (t->num_partitions != -1 || t->replication_factor != -1) {
            admin_set(it, t->name, BK_ERR_INVALID_REQUEST,
                      "num_partitions and replication_factor must be -1 "
                      "when assignments are given");
            return;
        }
        size_t np = t->n_assignments;
        size_t rf = t->assignments[0]->n_broker_ids;
        ids = calloc(np * (rf ? rf : 1), sizeof *ids);
        bool ok = ids != NULL && rf > 0 && rf <= BK_TOPIC_MAX_RF;
        bool *seen = calloc(np, sizeof *seen);
        ok = ok && seen;
        for (size_t i = 0; ok && i < np; i++) {
            const Brook__CreatableReplicaAssignment *a = t->assignments[i];
            int32_t pi = a->partition_index;
            ok = a->n_broker_ids == rf && pi >= 0 && (size_t)pi < np &&
                 !seen[pi];
            if (ok) {
                seen[pi] = true;
                memcpy(&ids[(size_t)pi * rf], a->broker_ids, rf * sizeof *ids);
            }
        }
        free(seen);
        if (!ok) {
            free(ids);
            admin_set(it, t->name, BK_ERR_INVALID_REPLICA_ASSIGNMENT,
                      "each partition 0..n-1 needs one assignment, all of "
                      "the same length");
            return;
        }
        spec.partitions = (int32_t)np;
        spec.replication_factor = (int)rf;
        spec.replicas = ids;
    } else {
        /* KIP-464: -1 takes the broker's default. */
        if (spec.partitions == -1)
            spec.partitions = cfg->num_partitions;
        if (spec.replication_factor == -1)
            spec.replication_factor = cfg->default_replication_factor;
    }
    if (t->n_configs > 0) {
        kv = calloc(t->n_configs, sizeof *kv);
        if (!kv) {
            free(ids);
            admin_set(it, t->name, BK_ERR_UNKNOWN, "out of memory");
            return;
        }
        for (size_t i = 0; i < t->n_configs; i++) {
            kv[i].key = t->configs[i]->name;
            kv[i].value = t->configs[i]->value;
        }
        spec.configs = kv;
        spec.nconfigs = t->n_configs;
    }
    int rc = bk_zkd_topic_create(zk, &spec, &res);
    free(ids);
    free(kv);
    if (rc != 0 && res.error == 0)
        res.error = BK_ERR_UNKNOWN;
    admin_set(it, t->name, res.error, res.message);
    it->partitions = spec.partitions;
    it->rf = spec.replication_factor;
    if (res.error == 0 && !validate_only)
        BK_INFO(MOD,
                "created topic %s (%d partitions, replication factor "
                "%d)",
                t->name, spec.partitions, spec.replication_factor);
}

void bk_adm_create_topics(bk_zk *zk, const bk_bcfg *cfg, bk_loop *loop,
                          bk_req *req)
{
    const Brook__CreateTopicsRequest *cr = req->msg->create_topics;
    admin_post *p = admin_new(req, true, cr->n_topics);
    if (!p) {
        lost(req);
        return;
    }
    for (size_t i = 0; i < cr->n_topics; i++) {
        const Brook__CreatableTopic *t = cr->topics[i];
        bool dup = false;
        for (size_t k = 0; k < cr->n_topics && !dup; k++)
            dup = k != i && strcmp(cr->topics[k]->name, t->name) == 0;
        if (dup) {
            /* Kafka answers INVALID_REQUEST for a name given twice. */
            admin_set(&p->v[i], t->name, BK_ERR_INVALID_REQUEST,
                      "topic named more than once in the request");
            continue;
        }
        create_one(zk, cfg, t, cr->validate_only, &p->v[i]);
    }
    if (bk_loop_post(loop, on_admin_post, p) != 0) {
        admin_free(p);
        lost(req);
    }
}

void bk_adm_delete_topics(bk_zk *zk, const bk_bcfg *cfg, bk_loop *loop,
                          bk_req *req)
{
    const Brook__DeleteTopicsRequest *dr = req->msg->delete_topics;
    admin_post *p = admin_new(req, false, dr->n_topic_names);
    if (!p) {
        lost(req);
        return;
    }
    for (size_t i = 0; i < dr->n_topic_names; i++) {
        const char *name = dr->topic_names[i];
        if (!cfg->delete_topic_enable) {
            admin_set(&p->v[i], name, BK_ERR_TOPIC_DELETION_DISABLED,
                      "delete.topic.enable is false on this broker");
            continue;
        }
        bk_zkd_result res;
        memset(&res, 0, sizeof res);
        int rc = bk_zkd_topic_delete(zk, name, &res);
        if (rc != 0 && res.error == 0)
            res.error = BK_ERR_UNKNOWN;
        admin_set(&p->v[i], name, res.error, res.message);
        if (res.error == 0)
            BK_INFO(MOD, "deleted topic %s", name);
    }
    if (bk_loop_post(loop, on_admin_post, p) != 0) {
        admin_free(p);
        lost(req);
    }
}

void bk_adm_auto_create(bk_zk *zk, const bk_bcfg *cfg, const char *topic)
{
    bk_zkd_topic_spec spec = {.name = topic,
                              .partitions = cfg->num_partitions,
                              .replication_factor =
                                  cfg->default_replication_factor,
                              .start_index = -1,
                              .shift = -1};
    bk_zkd_result res;
    memset(&res, 0, sizeof res);
    int rc = bk_zkd_topic_create(zk, &spec, &res);
    if (rc == 0 && res.error == 0)
        BK_INFO(MOD, "auto-created topic %s (%d partitions)", topic,
                spec.partitions);
    else if (res.error != BK_ERR_TOPIC_ALREADY_EXISTS)
        BK_WARN(MOD, "auto-creation of topic %s failed: %s", topic,
                res.message[0] ? res.message : bk_strerror(rc));
}
