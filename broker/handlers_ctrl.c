/*
 * handlers_ctrl.c -- the controller's requests as every broker answers
 * them: LeaderAndIsr (4), StopReplica (5), UpdateMetadata (6), and
 * ControlledShutdown (7), which only the active controller serves.
 *
 * Fencing.  The broker keeps the newest controller epoch it has seen
 * (b->ctrl_epoch_seen); a request from an older epoch is answered
 * STALE_CONTROLLER_EPOCH and changes nothing: it comes from a controller
 * that was replaced.  Within a request, each partition state is compared
 * with what the broker knows (its picture and its own partition, which
 * may be ahead after an ISR change it wrote): an older leader epoch is
 * refused with FENCED_LEADER_EPOCH, the same state again is a no-op, and
 * a newer one is applied.
 *
 * Applying.  A newer state goes into b->pending and a copy of the current
 * picture goes through bk_broker_set_md, which merges pending into it
 * (bk_md_merge_pending): the very path the ZooKeeper watches take, so a
 * broker becomes leader or follower as soon as the request arrives, and
 * a picture the ZooKeeper worker posts later that is still older than
 * the request cannot undo it (the watches on the state znodes remain as
 * the fallback; both feed the picture, the newer state wins).  A state
 * of a topic the broker's picture does not know yet is left to the
 * watches (answered UNKNOWN_TOPIC_OR_PART).
 *
 * Threading: the loop thread, except cshut_done (the ZooKeeper worker),
 * which only posts.
 */
#include "broker/handlers.h"

#include <stdlib.h>
#include <string.h>

#include "broker/zkbroker.h"
#include "common/err.h"
#include "common/logging.h"
#include "proto/protocol.h"

#define MOD "handlers"

/* True (and logged) when epoch is older than the newest seen; else
 * remembers it. */
static bool stale_controller(bk_broker *b, int32_t ctrl_id, int32_t epoch,
                             int api_key, bk_req *req)
{
    if (epoch < b->ctrl_epoch_seen) {
        BK_WARN(MOD,
                "%s from controller %d with epoch %d < %d (from %s): "
                "rejected as stale",
                bk_api_name(api_key), ctrl_id, epoch, b->ctrl_epoch_seen,
                bk_req_peer(req));
        return true;
    }
    if (epoch > b->ctrl_epoch_seen)
        BK_INFO(MOD, "controller %d, epoch %d", ctrl_id, epoch);
    b->ctrl_epoch_seen = epoch;
    return false;
}

/* The newest state the broker holds for topic/p: its picture's, or its
 * own partition's when that is newer (an ISR write of its own). */
static bk_md_part known_state(bk_broker *b, const bk_md_part *mp,
                              const char *topic, int32_t p)
{
    bk_md_part k = *mp;
    bk_part *lp = bk_parts_find(b->parts, topic, p);
    if (lp && lp->zk_version >= 0) {
        bk_md_part l = {.has_state = true,
                        .leader_epoch = lp->leader_epoch,
                        .zk_version = lp->zk_version};
        if (bk_md_state_cmp(&l, &k) > 0) {
            k.has_state = true;
            k.leader_epoch = lp->leader_epoch;
            k.zk_version = lp->zk_version;
        }
    }
    return k;
}

/* Offers one partition state; the partition error code (0: applied or
 * already known).  *added is set when it went into b->pending. */
static int32_t offer(bk_broker *b, const char *topic, int32_t p, int32_t leader,
                     int32_t leader_epoch, int32_t ctrl_epoch,
                     int32_t zk_version, const int32_t *isr, size_t nisr,
                     bool *added)
{
    const bk_md_topic *t = bk_md_topic_find(b->md, topic);
    const bk_md_part *mp = bk_md_part_find(b->md, topic, p);
    if (!t || !mp)
        return BK_ERR_UNKNOWN_TOPIC_OR_PART;
    bk_md_part in = {.has_state = true,
                     .leader_epoch = leader_epoch,
                     .zk_version = zk_version};
    bk_md_part cur = known_state(b, mp, topic, p);
    if (cur.has_state && leader_epoch < cur.leader_epoch)
        return BK_ERR_FENCED_LEADER_EPOCH;
    /* Not newer than what ZooKeeper or an earlier request gave. */
    const bk_md_part *pp =
        b->pending ? bk_md_part_find(b->pending, topic, p) : NULL;
    if (bk_md_state_cmp(&in, &cur) <= 0 ||
        (pp && bk_md_state_cmp(&in, pp) <= 0))
        return 0;
    if (!b->pending && !(b->pending = bk_md_new()))
        return BK_ERR_UNKNOWN;
    if (!pp) {
        /* The pending picture mirrors the topic's assignment so that
         * partition indexes line up (states already pending are kept). */
        int32_t **reps = calloc(t->nparts ? t->nparts : 1, sizeof *reps);
        size_t *nrep = calloc(t->nparts ? t->nparts : 1, sizeof *nrep);
        int rc = reps && nrep ? 0 : -BK_ENOMEM;
        for (size_t i = 0; rc == 0 && i < t->nparts; i++) {
            reps[i] = t->parts[i].replicas;
            nrep[i] = t->parts[i].nreplicas;
        }
        if (rc == 0)
            rc = bk_md_set_topic(b->pending, topic, t->nparts, reps, nrep);
        free(reps);
        free(nrep);
        if (rc != 0)
            return BK_ERR_UNKNOWN;
    }
    if (bk_md_set_state(b->pending, topic, p, leader, leader_epoch, ctrl_epoch,
                        zk_version, isr, nisr) != 0)
        return BK_ERR_UNKNOWN;
    *added = true;
    return 0;
}

/* Copies into md the states of pending newer than md's, dropping none
 * from pending.  0 or -BK_ENOMEM. */
static int copy_newer(bk_md *md, const bk_md *pending)
{
    for (size_t ti = 0; ti < pending->ntopics; ti++) {
        const bk_md_topic *pt = &pending->topics[ti];
        for (size_t k = 0; k < pt->nparts; k++) {
            const bk_md_part *pp = &pt->parts[k];
            const bk_md_part *mp = bk_md_part_find(md, pt->name, pp->index);
            if (!pp->has_state || !mp || bk_md_state_cmp(pp, mp) <= 0)
                continue;
            int rc = bk_md_set_state(md, pt->name, pp->index, pp->leader,
                                     pp->leader_epoch, pp->controller_epoch,
                                     pp->zk_version, pp->isr, pp->nisr);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Applies b->pending: a copy of the picture (with the brokers of
 * live[0..nlive) added when missing) gets the pending states and is set.
 * Not through bk_md_merge_pending: b->md already holds the states merged
 * earlier, which that merge would take for "ZooKeeper caught up" and
 * drop from pending -- and the next picture from the worker, still
 * older, would then undo them (a deposed leader leading again). */
static void apply_pending(bk_broker *b, int32_t ctrl_id,
                          Brook__UpdateMetadataBroker *const *live,
                          size_t nlive, bool force)
{
    bool missing = false;
    for (size_t i = 0; i < nlive && !missing; i++)
        missing = !bk_md_broker_find(b->md, live[i]->id);
    if (!force && !missing && b->md->controller_id == ctrl_id)
        return;
    bk_md *md = bk_md_clone(b->md);
    if (!md) {
        BK_ERROR(MOD, "out of memory: controller request applied later");
        return;
    }
    md->controller_id = ctrl_id;
    for (size_t i = 0; i < nlive; i++) {
        const Brook__UpdateMetadataBroker *lb = live[i];
        if (bk_md_broker_find(md, lb->id) || lb->n_endpoints == 0)
            continue;
        (void)bk_md_set_broker(md, lb->id, lb->endpoints[0]->host,
                               lb->endpoints[0]->port, lb->rack);
    }
    bk_md *pending = b->pending;
    if (pending && copy_newer(md, pending) != 0)
        BK_WARN(MOD, "out of memory applying controller states");
    b->pending = NULL; /* kept whole until ZooKeeper's picture catches up */
    bk_broker_set_md(b, md);
    b->pending = pending;
}

/* ----------------------------- LeaderAndIsr ----------------------------- */

void bk_hdl_leader_and_isr(bk_broker *b, bk_req *req)
{
    const Brook__LeaderAndIsrRequest *r = req->msg->leader_and_isr;
    Brook__Response resp = BROOK__RESPONSE__INIT;
    Brook__LeaderAndIsrResponse body = BROOK__LEADER_AND_ISR_RESPONSE__INIT;
    resp.body_case = BROOK__RESPONSE__BODY_LEADER_AND_ISR;
    resp.leader_and_isr = &body;
    if (stale_controller(b, r->controller_id, r->controller_epoch,
                         BK_API_LEADER_AND_ISR, req)) {
        body.error_code = BK_ERR_STALE_CTRL_EPOCH;
        bk_req_respond(req, &resp);
        return;
    }
    bk_pool pool = BK_POOL_INIT;
    size_t n = 0;
    for (size_t i = 0; i < r->n_topic_states; i++)
        n += r->topic_states[i]->n_partition_states;
    Brook__LeaderAndIsrPartitionError **pe =
        bk_pool_calloc(&pool, n ? n : 1, sizeof *pe);
    if (!pe) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
        return;
    }
    bool added = false;
    size_t k = 0, applied = 0;
    for (size_t i = 0; i < r->n_topic_states; i++) {
        const Brook__LeaderAndIsrTopicState *t = r->topic_states[i];
        for (size_t j = 0; j < t->n_partition_states; j++) {
            const Brook__LeaderAndIsrPartitionState *s = t->partition_states[j];
            bool a = false;
            int32_t err = offer(b, t->topic_name, s->partition_index, s->leader,
                                s->leader_epoch, s->controller_epoch,
                                s->partition_epoch, s->isr, s->n_isr, &a);
            added |= a;
            applied += a;
            Brook__LeaderAndIsrPartitionError *e =
                BK_PNEW(&pool, Brook__LeaderAndIsrPartitionError,
                        BROOK__LEADER_AND_ISR_PARTITION_ERROR__INIT);
            if (!e)
                continue;
            e->topic_name = t->topic_name;
            e->partition_index = s->partition_index;
            e->error_code = err;
            pe[k++] = e;
        }
    }
    if (added || r->controller_id != b->md->controller_id)
        apply_pending(b, r->controller_id, NULL, 0, added);
    BK_DEBUG(MOD, "LeaderAndIsr epoch %d: %zu of %zu partition states new",
             r->controller_epoch, applied, n);
    body.n_partition_errors = k;
    body.partition_errors = pe;
    bk_req_respond(req, &resp);
    bk_pool_free(&pool);
}

/* ---------------------------- UpdateMetadata ---------------------------- */

void bk_hdl_update_metadata(bk_broker *b, bk_req *req)
{
    const Brook__UpdateMetadataRequest *r = req->msg->update_metadata;
    Brook__Response resp = BROOK__RESPONSE__INIT;
    Brook__UpdateMetadataResponse body = BROOK__UPDATE_METADATA_RESPONSE__INIT;
    resp.body_case = BROOK__RESPONSE__BODY_UPDATE_METADATA;
    resp.update_metadata = &body;
    if (stale_controller(b, r->controller_id, r->controller_epoch,
                         BK_API_UPDATE_METADATA, req)) {
        body.error_code = BK_ERR_STALE_CTRL_EPOCH;
        bk_req_respond(req, &resp);
        return;
    }
    bool added = false;
    for (size_t i = 0; i < r->n_topic_states; i++) {
        const Brook__UpdateMetadataTopicState *t = r->topic_states[i];
        for (size_t j = 0; j < t->n_partition_states; j++) {
            const Brook__UpdateMetadataPartitionState *s =
                t->partition_states[j];
            bool a = false;
            /* Per-partition refusals are silent here (UpdateMetadata has
             * no partition errors): a stale state is simply not used. */
            (void)offer(b, t->topic_name, s->partition_index, s->leader,
                        s->leader_epoch, s->controller_epoch, s->zk_version,
                        s->isr, s->n_isr, &a);
            added |= a;
        }
    }
    apply_pending(b, r->controller_id, r->live_brokers, r->n_live_brokers,
                  added);
    bk_req_respond(req, &resp);
}

/* ------------------------------ StopReplica ------------------------------ */

/* The broker stops being a replica when its picture says so (the
 * assignment no longer names it; the log goes with the topic).  The
 * request is fenced and checked here; removing a log before ZooKeeper's
 * assignment says so is left to the picture (which also keeps a broker
 * from deleting a log a late request names). */
void bk_hdl_stop_replica(bk_broker *b, bk_req *req)
{
    const Brook__StopReplicaRequest *r = req->msg->stop_replica;
    Brook__Response resp = BROOK__RESPONSE__INIT;
    Brook__StopReplicaResponse body = BROOK__STOP_REPLICA_RESPONSE__INIT;
    resp.body_case = BROOK__RESPONSE__BODY_STOP_REPLICA;
    resp.stop_replica = &body;
    if (stale_controller(b, r->controller_id, r->controller_epoch,
                         BK_API_STOP_REPLICA, req)) {
        body.error_code = BK_ERR_STALE_CTRL_EPOCH;
        bk_req_respond(req, &resp);
        return;
    }
    bk_pool pool = BK_POOL_INIT;
    size_t n = 0;
    for (size_t i = 0; i < r->n_topic_states; i++)
        n += r->topic_states[i]->n_partition_states;
    Brook__StopReplicaPartitionError **pe =
        bk_pool_calloc(&pool, n ? n : 1, sizeof *pe);
    if (!pe) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->n_topic_states; i++) {
        const Brook__StopReplicaTopicState *t = r->topic_states[i];
        for (size_t j = 0; j < t->n_partition_states; j++) {
            const Brook__StopReplicaPartitionState *s = t->partition_states[j];
            bk_part *lp =
                bk_parts_find(b->parts, t->topic_name, s->partition_index);
            int32_t err = 0;
            if (!lp)
                err = BK_ERR_UNKNOWN_TOPIC_OR_PART;
            else if (s->leader_epoch != -2 &&
                     s->leader_epoch < lp->leader_epoch)
                err = BK_ERR_FENCED_LEADER_EPOCH;
            else
                BK_INFO(MOD, "StopReplica %s-%d (delete %s) from controller %d",
                        t->topic_name, s->partition_index,
                        s->delete_partition ? "yes" : "no", r->controller_id);
            Brook__StopReplicaPartitionError *e =
                BK_PNEW(&pool, Brook__StopReplicaPartitionError,
                        BROOK__STOP_REPLICA_PARTITION_ERROR__INIT);
            if (!e)
                continue;
            e->topic_name = t->topic_name;
            e->partition_index = s->partition_index;
            e->error_code = err;
            pe[k++] = e;
        }
    }
    body.n_partition_errors = k;
    body.partition_errors = pe;
    bk_req_respond(req, &resp);
    bk_pool_free(&pool);
}

/* -------------------------- ControlledShutdown -------------------------- */

typedef struct cshut_ans {
    bk_req *req;
    bk_loop *loop;
    int rc;
    bk_ctrl_tp *rem;
    size_t nrem;
} cshut_ans;

static void cshut_answer(bk_loop *loop, void *arg)
{
    (void)loop;
    cshut_ans *a = arg;
    Brook__Response resp = BROOK__RESPONSE__INIT;
    Brook__ControlledShutdownResponse body =
        BROOK__CONTROLLED_SHUTDOWN_RESPONSE__INIT;
    resp.body_case = BROOK__RESPONSE__BODY_CONTROLLED_SHUTDOWN;
    resp.controlled_shutdown = &body;
    Brook__RemainingPartition *rp = calloc(a->nrem ? a->nrem : 1, sizeof *rp);
    Brook__RemainingPartition **prp =
        calloc(a->nrem ? a->nrem : 1, sizeof *prp);
    if (a->rc == -BK_EPERM)
        body.error_code = BK_ERR_NOT_CONTROLLER;
    else if (a->rc == -BK_ERANGE)
        body.error_code = BK_ERR_STALE_BROKER_EPOCH;
    else if (a->rc != 0 || !rp || !prp)
        body.error_code = BK_ERR_UNKNOWN;
    else {
        for (size_t i = 0; i < a->nrem; i++) {
            brook__remaining_partition__init(&rp[i]);
            rp[i].topic_name = a->rem[i].topic;
            rp[i].partition_index = a->rem[i].partition;
            prp[i] = &rp[i];
        }
        body.n_remaining_partitions = a->nrem;
        body.remaining_partitions = prp;
    }
    BK_INFO(MOD, "ControlledShutdown from %s: %s, %zu partitions remain",
            bk_req_peer(a->req), body.error_code ? "failed" : "done",
            body.error_code ? (size_t)0 : a->nrem);
    bk_req_respond(a->req, &resp);
    bk_req_release(a->req);
    free(rp);
    free(prp);
    bk_ctrl_tps_free(a->rem, a->nrem);
    free(a);
}

/* Worker thread: hand the outcome to the loop. */
static void cshut_done(void *arg, int rc, bk_ctrl_tp *rem, size_t n)
{
    cshut_ans *a = arg;
    a->rc = rc;
    a->rem = rem;
    a->nrem = n;
    if (bk_loop_post(a->loop, cshut_answer, a) != 0) {
        /* The loop is gone: the request (and its connection) go with it. */
        BK_ERROR(MOD, "cannot post a ControlledShutdown answer");
        bk_ctrl_tps_free(rem, n);
        free(a);
    }
}

void bk_hdl_controlled_shutdown(bk_broker *b, bk_req *req)
{
    const Brook__ControlledShutdownRequest *r = req->msg->controlled_shutdown;
    if (!b->zkb || !bk_ctrl_is_active(bk_zkb_ctrl(b->zkb))) {
        Brook__Response resp = BROOK__RESPONSE__INIT;
        Brook__ControlledShutdownResponse body =
            BROOK__CONTROLLED_SHUTDOWN_RESPONSE__INIT;
        body.error_code = BK_ERR_NOT_CONTROLLER;
        resp.body_case = BROOK__RESPONSE__BODY_CONTROLLED_SHUTDOWN;
        resp.controlled_shutdown = &body;
        bk_req_respond(req, &resp);
        return;
    }
    BK_INFO(MOD, "ControlledShutdown of broker %d requested by %s",
            r->broker_id, bk_req_peer(req));
    cshut_ans *a = calloc(1, sizeof *a);
    if (!a) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
        return;
    }
    a->req = req;
    a->loop = b->loop;
    bk_req_hold(req);
    if (bk_zkb_controlled_shutdown(b->zkb, r->broker_id, r->broker_epoch,
                                   cshut_done, a) != 0) {
        free(a);
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
        bk_req_release(req);
    }
}
