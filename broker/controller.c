/*
 * controller.c -- controller election and leader/ISR decisions (see
 * controller.h).
 */
#include "broker/controller.h"
#include "broker/dynconfig.h"
#include "broker/reassign.h"

#include <assert.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "coordinator/topic.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"

#define MOD "controller"

/* Rounds of "write, lose a race on some state, re-read it, recompute"
 * before giving up until the next event. */
#define MAX_ROUNDS 50

struct bk_ctrl {
    int32_t id;           /* this broker */
    bool unclean_default; /* broker's unclean.leader.election.enable */
    atomic_bool active;
    atomic_int_least32_t epoch;
    /* Session thread only. */
    int32_t epoch_version;     /* zkVersion of /controller_epoch as we set it */
    bk_ctrl_notify_fn *notify; /* tells brokers of changes (may be NULL) */
    void *notify_arg;
    bool told_full;     /* the whole picture went out since we won */
    int32_t *told_live; /* live broker ids when it went out */
    size_t ntold_live;
    char **told_topics; /* topics whose states brokers were sent (sorted) */
    size_t ntold_topics;
    /* Brokers in controlled shutdown, with the czxid of the registration
     * that asked: a new registration (restart) ends the shutdown. */
    int32_t *shut_ids;
    int64_t *shut_czxid;
    size_t nshut;
    /* Broker epochs (registration czxids) as last handled: a live broker
     * whose epoch changed restarted in between (before its session
     * expired) and is handled as a failure first (see bounced()). */
    int32_t *seen_ids;
    int64_t *seen_epochs;
    size_t nseen;
    unsigned pending;      /* BK_CTRL_ADMIN_* announced, not yet done */
    bool rebalance;        /* auto.leader.rebalance.enable */
    int32_t imbalance_pct; /* leader.imbalance.per.broker.percentage */
};

/* One planned state write. */
typedef struct change {
    const char *topic; /* into the picture (stable during a pass) */
    int32_t p;
    int32_t version; /* the state znode's zkVersion we computed from */
    bk_zkc_pstate st;
} change;

bk_ctrl *bk_ctrl_new(int32_t broker_id, bool unclean_default)
{
    bk_ctrl *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->id = broker_id;
    c->unclean_default = unclean_default;
    atomic_init(&c->active, false);
    atomic_init(&c->epoch, 0);
    return c;
}

void bk_ctrl_free(bk_ctrl *c)
{
    if (c) {
        free(c->told_live);
        free(c->shut_ids);
        free(c->shut_czxid);
        free(c->seen_ids);
        free(c->seen_epochs);
        for (size_t i = 0; i < c->ntold_topics; i++)
            free(c->told_topics[i]);
        free(c->told_topics);
    }
    free(c);
}

void bk_ctrl_tps_free(bk_ctrl_tp *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].topic);
    free(v);
}

void bk_ctrl_set_notify(bk_ctrl *c, bk_ctrl_notify_fn *fn, void *arg)
{
    c->notify = fn;
    c->notify_arg = arg;
}

/* Tells brokers that ch[0..n) were written (see bk_ctrl_notify_fn). */
static void notify_changes(bk_ctrl *c, const bk_md *md, const bk_ctrl_tp *tp,
                           size_t n)
{
    if (c->notify && n > 0)
        c->notify(c->notify_arg, md, bk_ctrl_epoch(c), tp, n, false);
}

/* Sends the whole picture when we just won or the live brokers changed
 * (a new or returning broker must learn every state it is part of). */
static bool told_topic(const bk_ctrl *c, const char *name)
{
    size_t lo = 0, hi = c->ntold_topics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(c->told_topics[mid], name);
        if (d == 0)
            return true;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Topics created since the brokers were last told (topic creation writes
 * the initial states; the brokers also see them through their watches):
 * LeaderAndIsr / UpdateMetadata for their partitions.  A topic whose
 * states are not all written yet waits for a later run.  With all_told
 * (the whole picture just went out) only the bookkeeping is done. */
static void notify_new_topics(bk_ctrl *c, const bk_md *md, bool all_told)
{
    if (!c->notify)
        return;
    size_t n = 0, cap = 0, nnames = 0;
    bk_ctrl_tp *tp = NULL;
    char **names = calloc(md->ntopics ? md->ntopics : 1, sizeof *names);
    if (!names)
        return;
    bool oom = false;
    for (size_t ti = 0; ti < md->ntopics && !oom; ti++) {
        const bk_md_topic *t = &md->topics[ti];
        bool complete = !t->deleting;
        for (size_t pi = 0; complete && pi < t->nparts; pi++)
            complete = t->parts[pi].has_state;
        if (!complete)
            continue; /* not recorded: looked at again */
        if (!(names[nnames] = strdup(t->name))) {
            oom = true;
            break;
        }
        nnames++;
        if (all_told || told_topic(c, t->name))
            continue;
        for (size_t pi = 0; pi < t->nparts; pi++) {
            if (n == cap) {
                size_t nc = cap ? 2 * cap : 64;
                bk_ctrl_tp *v = realloc(tp, nc * sizeof *v);
                if (!v) {
                    oom = true;
                    break;
                }
                tp = v;
                cap = nc;
            }
            tp[n++] = (bk_ctrl_tp){t->name, t->parts[pi].index};
        }
    }
    if (oom) {
        for (size_t i = 0; i < nnames; i++)
            free(names[i]);
        free(names);
        free(tp);
        return; /* tried again at the next run */
    }
    if (n > 0)
        notify_changes(c, md, tp, n);
    free(tp); /* topics point into md */
    for (size_t i = 0; i < c->ntold_topics; i++)
        free(c->told_topics[i]);
    free(c->told_topics);
    c->told_topics = names; /* md's topics are sorted by name */
    c->ntold_topics = nnames;
}

/* True when the whole picture went out now. */
static bool notify_full_if_needed(bk_ctrl *c, const bk_md *md)
{
    bool same = c->told_full && c->ntold_live == md->nbrokers;
    for (size_t i = 0; same && i < md->nbrokers; i++)
        same = c->told_live[i] == md->brokers[i].id;
    if (same || !c->notify)
        return false;
    int32_t *v = malloc((md->nbrokers ? md->nbrokers : 1) * sizeof *v);
    if (!v)
        return false; /* tried again at the next run */
    for (size_t i = 0; i < md->nbrokers; i++)
        v[i] = md->brokers[i].id;
    free(c->told_live);
    c->told_live = v;
    c->ntold_live = md->nbrokers;
    c->told_full = true;
    c->notify(c->notify_arg, md, bk_ctrl_epoch(c), NULL, 0, true);
    return true;
}

bool bk_ctrl_is_active(const bk_ctrl *c)
{
    return atomic_load(&((bk_ctrl *)c)->active);
}

int32_t bk_ctrl_epoch(const bk_ctrl *c)
{
    return (int32_t)atomic_load(&((bk_ctrl *)c)->epoch);
}

void bk_ctrl_session_lost(bk_ctrl *c)
{
    if (atomic_exchange(&c->active, false))
        BK_WARN(MOD, "session expired: no longer the controller (epoch %d)",
                bk_ctrl_epoch(c));
}

static void resign(bk_ctrl *c, const char *why)
{
    if (atomic_exchange(&c->active, false))
        BK_WARN(MOD, "no longer the controller (epoch %d): %s",
                bk_ctrl_epoch(c), why);
}

static void won(bk_ctrl *c, bk_md *md, int32_t epoch, int32_t version)
{
    c->epoch_version = version;
    c->told_full = false;
    /* A new controller knows of no shutdown in progress (a stopping
     * broker asks again) and looks at every admin request once. */
    c->nshut = 0;
    c->nseen = 0; /* epochs are learnt afresh */
    c->pending = BK_CTRL_ADMIN_PREFERRED | BK_CTRL_ADMIN_ISR_CHANGE |
                 BK_CTRL_ADMIN_DELETE;
    atomic_store(&c->epoch, epoch);
    atomic_store(&c->active, true);
    md->controller_id = c->id;
    BK_INFO(MOD, "broker %d is the controller (epoch %d)", c->id, epoch);
}

/* ------------------------------- election ------------------------------- */

/* After our create of /controller failed with "exists": whose is it?
 * Adopts it when it is this session's (an earlier attempt whose answer
 * was lost went through), deletes it when it is our previous process's.
 * 1: try again, 0: someone else is controller (or we are now), or -BK_E*. */
static int examine_holder(bk_ctrl *c, bk_zk *zk, bk_md *md,
                          int64_t prev_session)
{
    bk_buf b = BK_BUF_INIT;
    bk_zk_stat st;
    int rc = bk_zk_get(zk, BK_ZKC_CONTROLLER, &b, &st, NULL, NULL);
    if (rc == -BK_ENOENT) {
        bk_buf_free(&b);
        return 1; /* gone again meanwhile */
    }
    if (rc != 0) {
        bk_buf_free(&b);
        return rc;
    }
    int32_t holder = -1;
    char err[256];
    if (bk_zkc_controller_decode(b.data, b.len, &holder, err, sizeof err) != 0)
        holder = -1;
    bk_buf_free(&b);
    int64_t sid = bk_zk_session_id(zk);
    if (st.ephemeral_owner == sid) {
        int32_t epoch, ver;
        rc = bk_zkd_controller_epoch_read(zk, &epoch, &ver);
        if (rc != 0)
            return rc == -BK_ENOENT ? -BK_EIO : rc;
        won(c, md, epoch, ver);
        return 0;
    }
    if (prev_session != 0 && st.ephemeral_owner == prev_session) {
        BK_INFO(MOD,
                "/controller belongs to this broker's previous session "
                "0x%llx (killed before it expired): replacing it",
                (unsigned long long)prev_session);
        rc = bk_zk_delete(zk, BK_ZKC_CONTROLLER, st.version);
        if (rc != 0 && rc != -BK_ENOENT && rc != -BK_ERANGE)
            return rc;
        return 1;
    }
    md->controller_id = holder;
    return 0;
}

/* One race: create /controller and bump /controller_epoch atomically. */
static int race(bk_ctrl *c, bk_zk *zk, bk_md *md, int64_t prev_session)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        int32_t epoch = 0, ver = -1;
        int rc = bk_zkd_controller_epoch_read(zk, &epoch, &ver);
        bool have = rc == 0;
        if (rc != 0 && rc != -BK_ENOENT) {
            if (rc == -BK_ECORRUPT)
                BK_ERROR(MOD, "/controller_epoch is not a number: cannot "
                              "become controller");
            return rc;
        }
        bk_buf me = BK_BUF_INIT, eb = BK_BUF_INIT;
        rc = bk_zkc_controller_encode(c->id, bk_clock_wall_ms(), &me);
        if (rc == 0)
            rc = bk_zkc_controller_epoch_encode(epoch + 1, &eb);
        if (rc == 0 && (!bk_buf_ok(&me) || !bk_buf_ok(&eb)))
            rc = -BK_ENOMEM;
        int failed = -1;
        if (rc == 0) {
            bk_zk_op ops[2] = {
                bk_zk_op_create(BK_ZKC_CONTROLLER, me.data, me.len,
                                BK_ZK_EPHEMERAL),
                have ? bk_zk_op_set(BK_ZKC_CONTROLLER_EPOCH, eb.data, eb.len,
                                    ver)
                     : bk_zk_op_create(BK_ZKC_CONTROLLER_EPOCH, eb.data, eb.len,
                                       0),
            };
            rc = bk_zk_multi(zk, ops, 2, &failed);
        }
        bk_buf_free(&me);
        bk_buf_free(&eb);
        if (rc == 0) {
            won(c, md, epoch + 1, have ? ver + 1 : 0);
            return 0;
        }
        if (rc == -BK_EEXIST && failed == 0) {
            rc = examine_holder(c, zk, md, prev_session);
            if (rc == 1)
                continue;
            return rc;
        }
        if (failed == 1 && (rc == -BK_ERANGE || rc == -BK_EEXIST))
            continue; /* the epoch moved under us: read it again */
        if (rc == -BK_EIO) {
            /* Unknown outcome: the next attempt finds out (its create
             * fails with "exists" and the holder is this session). */
            continue;
        }
        return rc;
    }
    return -BK_EIO;
}

/* --------------------------- leader and ISR --------------------------- */

static bool live(const bk_md *md, int32_t id)
{
    return id >= 0 && bk_md_broker_find(md, id) != NULL;
}

static bool has(const int32_t *v, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

/* The topic's unclean.leader.election.enable: its override, else this
 * broker's dynamic or cluster-default value (/config/brokers/..., in the
 * picture), else broker.properties (broker/dynconfig.h). */
static bool unclean_for(const bk_ctrl *c, const bk_md *md,
                        const bk_md_topic *t)
{
    return bk_dyn_unclean(md, t, c->unclean_default);
}

bk_ctrl_decision bk_ctrl_plan(const bk_md *md, const bk_md_part *p,
                              bool unclean, int32_t ctrl_epoch,
                              const int32_t *shutting, size_t nshutting,
                              bk_zkc_pstate *out)
{
    if (!p->has_state || p->nreplicas == 0)
        return BK_CTRL_KEEP;
    memset(out, 0, sizeof *out);
    out->controller_epoch = ctrl_epoch;
    /* The ISR members that are alive (isr), and of those the ones not
     * shutting down (keep), in ISR order. */
    int32_t isr[BK_TOPIC_MAX_RF], keep[BK_TOPIC_MAX_RF];
    int32_t n = 0, nk = 0;
    for (size_t i = 0; i < p->nisr && n < BK_TOPIC_MAX_RF; i++) {
        if (!live(md, p->isr[i]))
            continue;
        isr[n++] = p->isr[i];
        if (!has(shutting, nshutting, p->isr[i]))
            keep[nk++] = p->isr[i];
    }
    int32_t old = p->leader;
    bool old_live = live(md, old);
    if (old_live && !has(shutting, nshutting, old)) {
        /* The leader lives: dead followers leave the ISR.  Shutting-down
         * ones stay here: they leave once, when the shutdown is asked
         * for (bk_ctrl_plan_shutdown) -- removing them at every pass
         * would fight the leader, which takes a follower that still
         * fetches back into the ISR.  A leader that is not in its own
         * ISR is the leader's business. */
        if ((size_t)n == p->nisr || !has(isr, (size_t)n, old))
            return BK_CTRL_KEEP;
        out->leader = old;
        out->leader_epoch = p->leader_epoch;
        out->nisr = n;
        memcpy(out->isr, isr, (size_t)n * sizeof *isr);
        return BK_CTRL_SHRINK;
    }
    /* No live leader, or one that is shutting down: the first replica in
     * assignment order (the preferred one first) that is in the ISR,
     * alive and staying.  The shutting-down leader leaves the ISR. */
    for (size_t i = 0; i < p->nreplicas; i++) {
        int32_t r = p->replicas[i];
        if (has(keep, (size_t)nk, r)) {
            out->leader = r;
            out->leader_epoch = p->leader_epoch + 1;
            out->nisr = nk;
            memcpy(out->isr, keep, (size_t)nk * sizeof *keep);
            return BK_CTRL_ELECT;
        }
    }
    if (old_live) {
        /* A shutting-down leader nobody can replace keeps leading (its
         * ControlledShutdown answer lists the partition); only dead
         * followers leave. */
        if ((size_t)n == p->nisr || !has(isr, (size_t)n, old))
            return BK_CTRL_KEEP;
        out->leader = old;
        out->leader_epoch = p->leader_epoch;
        out->nisr = n;
        memcpy(out->isr, isr, (size_t)n * sizeof *isr);
        return BK_CTRL_SHRINK;
    }
    if (unclean) {
        /* unclean.leader.election.enable: availability over durability,
         * any live replica that stays (records it lacks are lost). */
        for (size_t i = 0; i < p->nreplicas; i++) {
            int32_t r = p->replicas[i];
            if (live(md, r) && !has(shutting, nshutting, r)) {
                out->leader = r;
                out->leader_epoch = p->leader_epoch + 1;
                out->nisr = 1;
                out->isr[0] = r;
                return BK_CTRL_ELECT;
            }
        }
    }
    if (old < 0)
        return BK_CTRL_KEEP; /* offline already; waits for an ISR member */
    /* Offline.  The ISR keeps the dead leader -- it has every acknowledged
     * record -- rather than becoming empty (Kafka keeps the last ISR
     * member the same way), and the live ISR members that are shutting
     * down: in sync too, they are elected when they come back. */
    out->leader = -1;
    out->leader_epoch = p->leader_epoch + 1;
    if (has(p->isr, p->nisr, old)) {
        out->nisr = 0;
        for (size_t i = 0; i < p->nisr && out->nisr < BK_TOPIC_MAX_RF; i++)
            if (p->isr[i] == old || has(isr, (size_t)n, p->isr[i]))
                out->isr[out->nisr++] = p->isr[i];
    } else {
        out->nisr =
            (int32_t)(p->nisr < BK_TOPIC_MAX_RF ? p->nisr : BK_TOPIC_MAX_RF);
        memcpy(out->isr, p->isr, (size_t)out->nisr * sizeof *out->isr);
    }
    return BK_CTRL_OFFLINE;
}

bk_ctrl_decision bk_ctrl_plan_shutdown(const bk_md *md, const bk_md_part *p,
                                       int32_t ctrl_epoch,
                                       const int32_t *shutting,
                                       size_t nshutting, bk_zkc_pstate *out)
{
    if (!p->has_state || !live(md, p->leader) ||
        has(shutting, nshutting, p->leader) || !has(p->isr, p->nisr, p->leader))
        return BK_CTRL_KEEP;
    memset(out, 0, sizeof *out);
    out->controller_epoch = ctrl_epoch;
    out->leader = p->leader;
    out->leader_epoch = p->leader_epoch;
    for (size_t i = 0; i < p->nisr && out->nisr < BK_TOPIC_MAX_RF; i++)
        if (!has(shutting, nshutting, p->isr[i]))
            out->isr[out->nisr++] = p->isr[i];
    return (size_t)out->nisr == p->nisr ? BK_CTRL_KEEP : BK_CTRL_SHRINK;
}

bk_ctrl_decision bk_ctrl_plan_preferred(const bk_md *md, const bk_md_part *p,
                                        int32_t ctrl_epoch,
                                        const int32_t *shutting,
                                        size_t nshutting, bk_zkc_pstate *out)
{
    if (!p->has_state || p->nreplicas == 0)
        return BK_CTRL_KEEP;
    int32_t pref = p->replicas[0];
    if (p->leader == pref || !live(md, pref) ||
        has(shutting, nshutting, pref) || !has(p->isr, p->nisr, pref))
        return BK_CTRL_KEEP;
    memset(out, 0, sizeof *out);
    out->controller_epoch = ctrl_epoch;
    out->leader = pref;
    out->leader_epoch = p->leader_epoch + 1;
    out->nisr =
        (int32_t)(p->nisr < BK_TOPIC_MAX_RF ? p->nisr : BK_TOPIC_MAX_RF);
    memcpy(out->isr, p->isr, (size_t)out->nisr * sizeof *out->isr);
    return BK_CTRL_ELECT;
}

void bk_ctrl_imbalance(const bk_md *md, int32_t broker_id, size_t *elsewhere,
                       size_t *preferred)
{
    *elsewhere = *preferred = 0;
    for (size_t ti = 0; ti < md->ntopics; ti++) {
        const bk_md_topic *t = &md->topics[ti];
        if (t->deleting)
            continue;
        for (size_t pi = 0; pi < t->nparts; pi++) {
            const bk_md_part *p = &t->parts[pi];
            if (!p->has_state || p->nreplicas == 0 ||
                p->replicas[0] != broker_id)
                continue;
            (*preferred)++;
            *elsewhere += p->leader != broker_id;
        }
    }
}

/* Re-reads one state after a conditional write lost a race. */
static int refresh(bk_zk *zk, bk_md *md, const char *topic, int32_t p)
{
    bk_zkc_pstate st;
    int32_t ver = 0;
    int rc = bk_zkd_pstate_read(zk, topic, p, &st, &ver);
    if (rc == -BK_ENOENT || rc == -BK_ECORRUPT) {
        bk_md_clear_state(md, topic, p);
        return 0;
    }
    if (rc != 0)
        return rc;
    rc = bk_md_set_state(md, topic, p, st.leader, st.leader_epoch,
                         st.controller_epoch, ver, st.isr, (size_t)st.nisr);
    return rc == -BK_ENOENT ? 0 : rc;
}

/* refresh() of tps[0..n) in one pipelined batch of reads. */
static int refresh_many(bk_zk *zk, bk_md *md, const bk_ctrl_tp *tps, size_t n)
{
    if (n == 0)
        return 0;
    const char **tv = calloc(n, sizeof *tv);
    int32_t *pv = calloc(n, sizeof *pv);
    bk_zkc_pstate *st = calloc(n, sizeof *st);
    int32_t *ver = calloc(n, sizeof *ver);
    int *rcs = calloc(n, sizeof *rcs);
    int rc = tv && pv && st && ver && rcs ? 0 : -BK_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        tv[i] = tps[i].topic;
        pv[i] = tps[i].partition;
    }
    if (rc == 0)
        rc = bk_zkd_pstates_read(zk, tv, pv, n, st, ver, rcs);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (rcs[i] == -BK_ENOENT || rcs[i] == -BK_ECORRUPT) {
            bk_md_clear_state(md, tv[i], pv[i]);
            continue;
        }
        if ((rc = rcs[i]) != 0)
            break;
        rc = bk_md_set_state(md, tv[i], pv[i], st[i].leader,
                             st[i].leader_epoch, st[i].controller_epoch,
                             ver[i], st[i].isr, (size_t)st[i].nisr);
        if (rc == -BK_ENOENT)
            rc = 0;
    }
    free(tv);
    free(pv);
    free(st);
    free(ver);
    free(rcs);
    return rc;
}

/* One multi: the epoch check, then up to BK_CTRL_MULTI_OPS - 1 state
 * writes, with the paths and payloads they point into. */
typedef struct batch {
    bk_zk_op *ops;
    char (*paths)[BK_ZKC_PATH_MAX];
    bk_buf *data;
    int n; /* state writes (ops: n + 1) */
} batch;

static void batch_free(batch *b)
{
    for (int i = 0; b->data && i < b->n; i++)
        bk_buf_free(&b->data[i]);
    free(b->data);
    free(b->paths);
    free(b->ops);
}

static int batch_build(batch *b, const bk_ctrl *c, const change *ch, int n)
{
    assert(n > 0 && n < BK_CTRL_MULTI_OPS);
    b->n = n;
    b->ops = calloc((size_t)n + 1, sizeof *b->ops);
    b->paths = calloc((size_t)n, sizeof *b->paths);
    b->data = calloc((size_t)n, sizeof *b->data);
    if (!b->ops || !b->paths || !b->data)
        return -BK_ENOMEM;
    b->ops[0] = bk_zk_op_check(BK_ZKC_CONTROLLER_EPOCH, c->epoch_version);
    for (int i = 0; i < n; i++) {
        int rc = bk_zkc_path_partition_state(b->paths[i], ch[i].topic, ch[i].p);
        if (rc == 0)
            rc = bk_zkc_pstate_encode(&ch[i].st, &b->data[i]);
        if (rc == 0 && !bk_buf_ok(&b->data[i]))
            rc = -BK_ENOMEM;
        if (rc != 0)
            return rc;
        b->ops[i + 1] = bk_zk_op_set(b->paths[i], b->data[i].data,
                                     b->data[i].len, ch[i].version);
    }
    return 0;
}

/* Writes ch[0..n): multis of BK_CTRL_MULTI_OPS ops, all sent at once
 * (pipelined), each behind the check of /controller_epoch.  What was
 * written goes into md (the version a conditional set leaves is the one
 * it expected + 1), a state that changed under us is re-read.  0; 1 when
 * a race was lost (run another pass); 2 when the epoch check failed (a
 * newer controller exists); -BK_E* (e.g. connection loss: the outcome
 * of unanswered multis is unknown, the next pass finds out). */
static int write_all(bk_ctrl *c, bk_zk *zk, bk_md *md, const change *ch,
                     size_t n, int *written)
{
    const int per = BK_CTRL_MULTI_OPS - 1;
    int nb = (int)((n + (size_t)per - 1) / (size_t)per);
    batch *b = calloc((size_t)nb, sizeof *b);
    bk_zk_op **ops = calloc((size_t)nb, sizeof *ops);
    int *cnt = calloc((size_t)nb, sizeof *cnt);
    int *rcs = calloc((size_t)nb, sizeof *rcs);
    int *failed = calloc((size_t)nb, sizeof *failed);
    int rc = b && ops && cnt && rcs && failed ? 0 : -BK_ENOMEM;
    for (int i = 0; rc == 0 && i < nb; i++) {
        size_t off = (size_t)i * (size_t)per;
        int k = (int)(n - off < (size_t)per ? n - off : (size_t)per);
        rc = batch_build(&b[i], c, ch + off, k);
        ops[i] = b[i].ops;
        cnt[i] = k + 1;
    }
    if (rc == 0)
        rc = bk_zk_multi_batches(zk, ops, cnt, nb, rcs, failed);
    bool fenced = false, again = false;
    int err = 0, logged = 0;
    for (int i = 0; rc == 0 && i < nb; i++) {
        const change *w = ch + (size_t)i * (size_t)per;
        if (rcs[i] == 0) {
            for (int j = 0; j < b[i].n; j++) {
                int r = bk_md_set_state(
                    md, w[j].topic, w[j].p, w[j].st.leader,
                    w[j].st.leader_epoch, w[j].st.controller_epoch,
                    w[j].version + 1, w[j].st.isr, (size_t)w[j].st.nisr);
                if (r == -BK_ENOMEM)
                    err = r;
                if (w[j].st.leader < 0 && logged++ < 20)
                    BK_WARN(MOD,
                            "%s-%d: offline (no live in-sync replica; "
                            "unclean.leader.election.enable is off)",
                            w[j].topic, w[j].p);
            }
            *written += b[i].n;
        } else if (failed[i] == 0 && rcs[i] != -BK_EIO) {
            fenced = true;
        } else if (failed[i] > 0 &&
                   (rcs[i] == -BK_ERANGE || rcs[i] == -BK_ENOENT)) {
            const change *bad = &w[failed[i] - 1];
            BK_DEBUG(MOD, "%s-%d: state changed under us: re-reading",
                     bad->topic, bad->p);
            int r = refresh(zk, md, bad->topic, bad->p);
            if (r != 0)
                err = r;
            again = true;
        } else {
            err = rcs[i];
        }
    }
    for (int i = 0; b && i < nb; i++)
        batch_free(&b[i]);
    free(b);
    free(ops);
    free(cnt);
    free(rcs);
    free(failed);
    if (rc != 0)
        return rc;
    if (fenced)
        return 2;
    if (err != 0)
        return err;
    return again ? 1 : 0;
}

/* Decides one partition in a pass: KEEP or the new state in *out. */
typedef bk_ctrl_decision plan_fn(const bk_ctrl *c, const bk_md *md,
                                 const bk_md_topic *t, const bk_md_part *p,
                                 const void *arg, bk_zkc_pstate *out);

/* The controlled shutdown's pass: the regular decision, and where that
 * keeps the state, shutting-down followers leave the ISR. */
static bk_ctrl_decision plan_cshut(const bk_ctrl *c, const bk_md *md,
                                   const bk_md_topic *t, const bk_md_part *p,
                                   const void *arg, bk_zkc_pstate *out);

/* Leaders and ISRs as liveness and shutdowns call for (bk_ctrl_plan). */
static bk_ctrl_decision plan_regular(const bk_ctrl *c, const bk_md *md,
                                     const bk_md_topic *t, const bk_md_part *p,
                                     const void *arg, bk_zkc_pstate *out)
{
    (void)arg;
    return bk_ctrl_plan(md, p, unclean_for(c, md, t), bk_ctrl_epoch(c),
                        c->shut_ids, c->nshut, out);
}

/* One pass over the picture: plan (fn with arg decides each partition),
 * write, account.  0 when nothing (more) is to be written, 1 to run
 * another pass (a race was lost and the state re-read), 2 when we are no
 * longer controller, -BK_E*. */
static int pass(bk_ctrl *c, bk_zk *zk, bk_md *md, plan_fn *fn, const void *arg,
                int *total)
{
    change *ch = NULL;
    size_t n = 0, cap = 0;
    int elected = 0, offline = 0, shrunk = 0;
    for (size_t ti = 0; ti < md->ntopics; ti++) {
        const bk_md_topic *t = &md->topics[ti];
        if (t->deleting)
            continue; /* its replicas are going away */
        for (size_t pi = 0; pi < t->nparts; pi++) {
            const bk_md_part *p = &t->parts[pi];
            bk_zkc_pstate st;
            bk_ctrl_decision d = fn(c, md, t, p, arg, &st);
            if (d == BK_CTRL_KEEP)
                continue;
            elected += d == BK_CTRL_ELECT;
            offline += d == BK_CTRL_OFFLINE;
            shrunk += d == BK_CTRL_SHRINK;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                change *v = realloc(ch, nc * sizeof *v);
                if (!v) {
                    free(ch);
                    return -BK_ENOMEM;
                }
                ch = v;
                cap = nc;
            }
            ch[n++] = (change){t->name, p->index, p->zk_version, st};
        }
    }
    int written = 0;
    int rc = n > 0 ? write_all(c, zk, md, ch, n, &written) : 0;
    *total += written;
    if (written > 0 && c->notify) {
        /* write_all put what it wrote into md; tell brokers about every
         * planned partition (a state that lost a race is re-sent as read,
         * which is harmless: brokers keep the newer leader epoch). */
        bk_ctrl_tp *tp = malloc(n * sizeof *tp);
        if (tp) {
            for (size_t i = 0; i < n; i++)
                tp[i] = (bk_ctrl_tp){(char *)ch[i].topic, ch[i].p};
            notify_changes(c, md, tp, n);
            free(tp); /* topics point into md: not freed */
        }
    }
    if (written > 0)
        BK_INFO(MOD,
                "epoch %d: %d of %zu partition states written (planned: "
                "%d leaders elected, %d offline, %d ISRs shrunk)",
                bk_ctrl_epoch(c), written, n, elected, offline, shrunk);
    free(ch);
    return rc;
}

/* Passes of fn until nothing is left to write (see pass()); *written
 * (may be NULL) gets the number of states written.  0 (also when we
 * resigned), or -BK_E*. */
static int run_passes(bk_ctrl *c, bk_zk *zk, bk_md *md, plan_fn *fn,
                      const void *arg, int *written)
{
    int64_t t0 = bk_clock_mono_ms();
    int total = 0;
    if (!written)
        written = &total;
    *written = 0;
    for (int round = 0; round < MAX_ROUNDS; round++) {
        int rc = pass(c, zk, md, fn, arg, written);
        if (rc == 1)
            continue;
        if (rc == 2) {
            resign(c, "/controller_epoch moved: a newer controller exists");
            return 0;
        }
        if (rc == 0 && *written > 0)
            BK_INFO(MOD, "%d partition states changed in %lld ms", *written,
                    (long long)(bk_clock_mono_ms() - t0));
        return rc;
    }
    BK_WARN(MOD, "states keep changing under the controller; trying again "
                 "at the next event");
    return 0;
}

static bk_ctrl_decision plan_cshut(const bk_ctrl *c, const bk_md *md,
                                   const bk_md_topic *t, const bk_md_part *p,
                                   const void *arg, bk_zkc_pstate *out)
{
    bk_ctrl_decision d = plan_regular(c, md, t, p, arg, out);
    if (d != BK_CTRL_KEEP)
        return d;
    return bk_ctrl_plan_shutdown(md, p, bk_ctrl_epoch(c), c->shut_ids, c->nshut,
                                 out);
}

static int reconcile(bk_ctrl *c, bk_zk *zk, bk_md *md)
{
    return run_passes(c, zk, md, plan_regular, NULL, NULL);
}

/* ------------------------------ bounces ------------------------------ */

/* The regular decision with liveness taken from arg, a picture without
 * the bounced brokers (the states themselves are md's, always fresh). */
static bk_ctrl_decision plan_bounce(const bk_ctrl *c, const bk_md *md,
                                    const bk_md_topic *t, const bk_md_part *p,
                                    const void *arg, bk_zkc_pstate *out)
{
    return bk_ctrl_plan(arg, p, unclean_for(c, md, t), bk_ctrl_epoch(c),
                        c->shut_ids, c->nshut, out);
}

static int64_t seen_epoch(const bk_ctrl *c, int32_t id)
{
    for (size_t i = 0; i < c->nseen; i++)
        if (c->seen_ids[i] == id)
            return c->seen_epochs[i];
    return 0;
}

/* A broker restarted fast enough to replace its own registration before
 * its session expired (systemd's Restart=, a crash loop) never looked
 * dead, yet it lost everything it held in memory -- and, after a disk
 * failure, maybe its log.  As Kafka does with broker epochs, such a
 * broker is handled as a failure first: the partitions it led elect
 * another ISR member (leader_epoch + 1) and it leaves the ISRs; it then
 * catches up as a follower like any returning broker, and preferred
 * election brings its leaderships back.  Then the epochs are recorded. */
static int bounced(bk_ctrl *c, bk_zk *zk, bk_md *md)
{
    bk_md *alt = NULL;
    for (size_t i = 0; i < md->nbrokers; i++) {
        const bk_md_broker *br = &md->brokers[i];
        int64_t was = seen_epoch(c, br->id);
        if (br->epoch == 0 || was == 0 || was == br->epoch)
            continue;
        if (!alt && !(alt = bk_md_clone(md)))
            return -BK_ENOMEM;
        BK_WARN(MOD,
                "broker %d registered again (epoch 0x%llx -> 0x%llx): "
                "restarted without its session expiring; moving its "
                "leaderships and taking it out of the ISRs",
                br->id, (unsigned long long)was, (unsigned long long)br->epoch);
        bk_md_remove_broker(alt, br->id);
    }
    int rc = 0;
    if (alt) {
        rc = run_passes(c, zk, md, plan_bounce, alt, NULL);
        bk_md_free(alt);
    }
    if (rc != 0 || !bk_ctrl_is_active(c))
        return rc;
    int32_t *ids = malloc((md->nbrokers ? md->nbrokers : 1) * sizeof *ids);
    int64_t *eps = malloc((md->nbrokers ? md->nbrokers : 1) * sizeof *eps);
    if (!ids || !eps) {
        free(ids);
        free(eps);
        return -BK_ENOMEM;
    }
    for (size_t i = 0; i < md->nbrokers; i++) {
        ids[i] = md->brokers[i].id;
        eps[i] = md->brokers[i].epoch;
    }
    free(c->seen_ids);
    free(c->seen_epochs);
    c->seen_ids = ids;
    c->seen_epochs = eps;
    c->nseen = md->nbrokers;
    return 0;
}

/* ------------------------- controlled shutdown ------------------------- */

static void shut_del(bk_ctrl *c, size_t i)
{
    c->shut_ids[i] = c->shut_ids[c->nshut - 1];
    c->shut_czxid[i] = c->shut_czxid[c->nshut - 1];
    c->nshut--;
}

static int shut_add(bk_ctrl *c, int32_t id, int64_t czxid)
{
    for (size_t i = 0; i < c->nshut; i++) {
        if (c->shut_ids[i] == id) {
            c->shut_czxid[i] = czxid;
            return 0;
        }
    }
    int32_t *ids = realloc(c->shut_ids, (c->nshut + 1) * sizeof *ids);
    if (!ids)
        return -BK_ENOMEM;
    c->shut_ids = ids;
    int64_t *cz = realloc(c->shut_czxid, (c->nshut + 1) * sizeof *cz);
    if (!cz)
        return -BK_ENOMEM;
    c->shut_czxid = cz;
    c->shut_ids[c->nshut] = id;
    c->shut_czxid[c->nshut] = czxid;
    c->nshut++;
    return 0;
}

/* Ends the shutdown of brokers whose registration went away or was
 * created anew (a restart: the broker is back in service).  The picture
 * can miss a quick restart, so the znode's czxid is compared. */
static int prune_shutting(bk_ctrl *c, bk_zk *zk, const bk_md *md)
{
    for (size_t i = 0; i < c->nshut;) {
        int32_t id = c->shut_ids[i];
        bk_zk_stat st;
        int rc = -BK_ENOENT;
        if (live(md, id)) {
            char path[BK_ZKC_PATH_MAX];
            bk_zkc_path_broker(path, id);
            rc = bk_zk_exists(zk, path, &st, NULL, NULL);
            if (rc != 0 && rc != -BK_ENOENT)
                return rc;
        }
        if (rc == 0 && st.czxid == c->shut_czxid[i]) {
            i++;
            continue;
        }
        BK_INFO(MOD, "broker %d: controlled shutdown over (%s)", id,
                rc == 0 ? "registered again" : "unregistered");
        shut_del(c, i);
    }
    return 0;
}

int bk_ctrl_controlled_shutdown(bk_ctrl *c, bk_zk *zk, bk_md *md,
                                int32_t broker_id, int64_t broker_epoch,
                                bk_ctrl_tp **remaining,
                                size_t *nremaining)
{
    *remaining = NULL;
    *nremaining = 0;
    if (!bk_ctrl_is_active(c))
        return -BK_EPERM;
    char path[BK_ZKC_PATH_MAX];
    bk_zkc_path_broker(path, broker_id);
    bk_zk_stat st;
    int rc = bk_zk_exists(zk, path, &st, NULL, NULL);
    if (rc == -BK_ENOENT) {
        BK_INFO(MOD,
                "controlled shutdown of broker %d: not registered, "
                "nothing to move",
                broker_id);
        return 0;
    }
    if (rc != 0)
        return rc;
    /* A czxid is positive: 0 (proto3's unset) or -1 mean "not sent". */
    if (broker_epoch > 0 && broker_epoch < st.czxid) {
        BK_WARN(MOD,
                "controlled shutdown of broker %d refused: broker epoch "
                "%" PRId64 " is older than its registration (%" PRId64 ")",
                broker_id, broker_epoch, st.czxid);
        return -BK_ERANGE;
    }
    if ((rc = shut_add(c, broker_id, st.czxid)) != 0)
        return rc;
    rc = run_passes(c, zk, md, plan_cshut, NULL, NULL);
    if (rc != 0)
        return rc;
    if (!bk_ctrl_is_active(c))
        return -BK_EPERM; /* fenced while writing */
    /* What it still leads: partitions nobody else can take over. */
    size_t n = 0, cap = 0;
    bk_ctrl_tp *v = NULL;
    for (size_t ti = 0; ti < md->ntopics; ti++) {
        const bk_md_topic *t = &md->topics[ti];
        if (t->deleting)
            continue;
        for (size_t pi = 0; pi < t->nparts; pi++) {
            const bk_md_part *p = &t->parts[pi];
            if (!p->has_state || p->leader != broker_id || p->nreplicas < 2)
                continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 16;
                bk_ctrl_tp *nv = realloc(v, nc * sizeof *nv);
                if (!nv) {
                    bk_ctrl_tps_free(v, n);
                    return -BK_ENOMEM;
                }
                v = nv;
                cap = nc;
            }
            v[n].topic = strdup(t->name);
            v[n].partition = p->index;
            if (!v[n].topic) {
                bk_ctrl_tps_free(v, n);
                return -BK_ENOMEM;
            }
            n++;
        }
    }
    BK_INFO(MOD,
            "controlled shutdown of broker %d: %zu partitions still led "
            "by it (no other live in-sync replica)",
            broker_id, n);
    *remaining = v;
    *nremaining = n;
    return 0;
}

/* ----------------------- preferred-leader election ----------------------- */

static int tp_cmp(const void *a, const void *b)
{
    const bk_zkc_tp *x = a, *y = b;
    int d = strcmp(x->topic, y->topic);
    if (d != 0)
        return d;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

/* A sorted list of partitions (the election request). */
typedef struct tp_list {
    const bk_zkc_tp *v;
    size_t n;
} tp_list;

static bool tp_listed(const tp_list *l, const char *topic, int32_t p)
{
    bk_zkc_tp key;
    size_t tl = strlen(topic);
    if (tl >= sizeof key.topic)
        return false;
    memcpy(key.topic, topic, tl + 1);
    key.partition = p;
    return bsearch(&key, l->v, l->n, sizeof *l->v, tp_cmp) != NULL;
}

/* Preferred-leader election for the partitions listed in arg. */
static bk_ctrl_decision plan_pref_list(const bk_ctrl *c, const bk_md *md,
                                       const bk_md_topic *t,
                                       const bk_md_part *p, const void *arg,
                                       bk_zkc_pstate *out)
{
    if (!tp_listed(arg, t->name, p->index))
        return BK_CTRL_KEEP;
    return bk_ctrl_plan_preferred(md, p, bk_ctrl_epoch(c), c->shut_ids,
                                  c->nshut, out);
}

/* A set of broker ids (the imbalanced ones). */
typedef struct id_set {
    const int32_t *v;
    size_t n;
} id_set;

/* Preferred-leader election for partitions whose preferred replica is
 * one of the brokers in arg. */
static bk_ctrl_decision plan_pref_brokers(const bk_ctrl *c, const bk_md *md,
                                          const bk_md_topic *t,
                                          const bk_md_part *p, const void *arg,
                                          bk_zkc_pstate *out)
{
    (void)t;
    const id_set *s = arg;
    if (p->nreplicas == 0 || !has(s->v, s->n, p->replicas[0]))
        return BK_CTRL_KEEP;
    return bk_ctrl_plan_preferred(md, p, bk_ctrl_epoch(c), c->shut_ids,
                                  c->nshut, out);
}

/* Logs how the request's partitions ended up. */
static void report_preferred(const bk_md *md, const bk_zkc_tp *v, size_t n)
{
    size_t ok = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        const bk_md_part *p = bk_md_part_find(md, v[i].topic, v[i].partition);
        if (p && p->has_state && p->nreplicas > 0 &&
            p->leader == p->replicas[0]) {
            ok++;
            continue;
        }
        if (bad++ < 20)
            BK_WARN(MOD, "preferred replica election: %s-%d: %s", v[i].topic,
                    v[i].partition,
                    !p ? "no such partition"
                       : "the preferred replica is not available "
                         "(PREFERRED_LEADER_NOT_AVAILABLE)");
    }
    BK_INFO(MOD,
            "preferred replica election: %zu of %zu partitions led by "
            "their preferred replica",
            ok, n);
}

/* Runs the elections /admin/preferred_replica_election asks for, then
 * deletes it (with the version read, so a newer request stays). */
static int admin_preferred(bk_ctrl *c, bk_zk *zk, bk_md *md)
{
    bk_buf b = BK_BUF_INIT;
    bk_zk_stat st;
    int rc = bk_zk_get(zk, BK_ZKC_PREFERRED, &b, &st, NULL, NULL);
    if (rc != 0) {
        bk_buf_free(&b);
        return rc == -BK_ENOENT ? 0 : rc;
    }
    bk_zkc_tp *v = NULL;
    size_t n = 0;
    char err[256];
    rc = bk_zkc_preferred_decode(b.data, b.len, &v, &n, err, sizeof err);
    bk_buf_free(&b);
    if (rc == -BK_ENOMEM)
        return rc;
    if (rc != 0) {
        BK_WARN(MOD, "%s: %s (request dropped)", BK_ZKC_PREFERRED, err);
    } else {
        if (n > 0)
            qsort(v, n, sizeof *v, tp_cmp);
        tp_list l = {v, n};
        rc = run_passes(c, zk, md, plan_pref_list, &l, NULL);
        if (rc == 0 && bk_ctrl_is_active(c))
            report_preferred(md, v, n);
        free(v);
        if (rc != 0 || !bk_ctrl_is_active(c))
            return rc; /* the request stays for the next controller */
    }
    rc = bk_zk_delete(zk, BK_ZKC_PREFERRED, st.version);
    if (rc == -BK_ENOENT || rc == -BK_ERANGE)
        rc = 0; /* gone, or a new request: its watch brings it */
    return rc;
}

void bk_ctrl_set_rebalance(bk_ctrl *c, bool enable, int32_t percentage)
{
    c->rebalance = enable;
    c->imbalance_pct = percentage;
}

int bk_ctrl_rebalance(bk_ctrl *c, bk_zk *zk, bk_md *md)
{
    if (!c->rebalance || !bk_ctrl_is_active(c))
        return 0;
    int32_t *ids = malloc((md->nbrokers ? md->nbrokers : 1) * sizeof *ids);
    if (!ids)
        return -BK_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < md->nbrokers; i++) {
        int32_t id = md->brokers[i].id;
        if (has(c->shut_ids, c->nshut, id))
            continue;
        size_t elsewhere, preferred;
        bk_ctrl_imbalance(md, id, &elsewhere, &preferred);
        /* Kafka: imbalance ratio > percentage / 100. */
        if (preferred == 0 ||
            elsewhere * 100 <= (size_t)c->imbalance_pct * preferred)
            continue;
        BK_INFO(MOD,
                "broker %d leads %zu of its %zu preferred partitions: "
                "above leader.imbalance.per.broker.percentage=%d, "
                "electing it where it can lead",
                id, preferred - elsewhere, preferred, c->imbalance_pct);
        ids[n++] = id;
    }
    int rc = 0, written = 0;
    if (n > 0) {
        id_set s = {ids, n};
        rc = run_passes(c, zk, md, plan_pref_brokers, &s, &written);
    }
    free(ids);
    return rc != 0 ? rc : written;
}

/* ------------------------ ISR change notifications ------------------------ */

/* Reads and deletes /isr_change_notification/ *, re-reads the states
 * they name and tells brokers (Kafka sends UpdateMetadata for them). */
static int admin_isr_changes(bk_ctrl *c, bk_zk *zk, bk_md *md)
{
    bk_zk_strings names = {0};
    int rc = bk_zk_children(zk, BK_ZKC_ISR_CHANGE, &names, NULL, NULL);
    if (rc != 0)
        return rc == -BK_ENOENT ? 0 : rc;
    if (names.n == 0) {
        bk_zk_strings_free(&names);
        return 0;
    }
    char(*paths)[BK_ZKC_PATH_MAX] = calloc(names.n, sizeof *paths);
    bk_zk_op *ops = calloc(names.n, sizeof *ops);
    bk_zk_op **batches = calloc(names.n, sizeof *batches);
    int *cnt = calloc(names.n, sizeof *cnt);
    int *rcs = calloc(names.n, sizeof *rcs);
    int *failed = calloc(names.n, sizeof *failed);
    bk_zkc_tp *all = NULL;
    size_t nall = 0;
    const char **pp = calloc(names.n, sizeof *pp);
    bk_buf *bufs = calloc(names.n, sizeof *bufs);
    int *grcs = calloc(names.n, sizeof *grcs);
    rc = paths && ops && batches && cnt && rcs && failed && pp && bufs && grcs
             ? 0
             : -BK_ENOMEM;
    int nops = 0;
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", BK_ZKC_ISR_CHANGE,
                 names.v[i]);
        pp[i] = paths[i];
    }
    /* All notifications in one pipelined batch: after a broker failure
     * there is one per partition whose ISR shrank. */
    if (rc == 0)
        rc = bk_zk_get_many(zk, pp, names.n, bufs, grcs);
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        if (grcs[i] == -BK_ENOENT)
            continue; /* consumed by someone else meanwhile */
        if ((rc = grcs[i]) != 0)
            break;
        bk_zkc_tp *v = NULL;
        size_t n = 0;
        char err[256];
        int drc = bk_zkc_isr_change_decode(bufs[i].data, bufs[i].len, &v, &n,
                                           err, sizeof err);
        if (drc == -BK_ENOMEM) {
            rc = drc;
            break;
        }
        if (drc != 0)
            BK_WARN(MOD, "%s: %s (dropped)", paths[i], err);
        if (n > 0) {
            bk_zkc_tp *na = realloc(all, (nall + n) * sizeof *na);
            if (!na) {
                free(v);
                rc = -BK_ENOMEM;
                break;
            }
            all = na;
            memcpy(all + nall, v, n * sizeof *v);
            nall += n;
        }
        free(v);
        ops[nops] = bk_zk_op_delete(paths[i], -1);
        batches[nops] = &ops[nops];
        cnt[nops] = 1;
        nops++;
    }
    for (size_t i = 0; bufs && i < names.n; i++)
        bk_buf_free(&bufs[i]);
    free(bufs);
    free(pp);
    free(grcs);
    /* One round trip for every delete; a notification deleted by someone
     * else meanwhile (NONODE) is fine. */
    if (rc == 0 && nops > 0)
        rc = bk_zk_multi_batches(zk, batches, cnt, nops, rcs, failed);
    for (int i = 0; rc == 0 && i < nops; i++)
        if (rcs[i] != 0 && rcs[i] != -BK_ENOENT)
            rc = rcs[i];
    if (rc == 0 && nall > 0) {
        qsort(all, nall, sizeof *all, tp_cmp);
        size_t u = 0;
        for (size_t i = 0; i < nall; i++)
            if (u == 0 || tp_cmp(&all[u - 1], &all[i]) != 0)
                all[u++] = all[i];
        nall = u;
        bk_ctrl_tp *tp = malloc(nall * sizeof *tp);
        size_t ntp = 0;
        if (!tp)
            rc = -BK_ENOMEM;
        for (size_t i = 0; rc == 0 && i < nall; i++) {
            if (!bk_md_part_find(md, all[i].topic, all[i].partition))
                continue; /* deleted meanwhile */
            tp[ntp++] = (bk_ctrl_tp){all[i].topic, all[i].partition};
        }
        if (rc == 0)
            rc = refresh_many(zk, md, tp, ntp);
        if (rc == 0) {
            BK_INFO(MOD,
                    "%zu ISR change notifications consumed: %zu "
                    "partitions",
                    (size_t)nops, ntp);
            notify_changes(c, md, tp, ntp);
        }
        free(tp);
    }
    free(all);
    free(failed);
    free(rcs);
    free(cnt);
    free(batches);
    free(ops);
    free(paths);
    bk_zk_strings_free(&names);
    return rc;
}

/* --------------------------- topic deletions --------------------------- */

/* Finishes every deletion still marked under /admin/delete_topics.
 * Deleting brokers and brookctl remove the mark last, so a mark the
 * controller sees is either being worked on right now (the second
 * deleter finds less to delete: bk_zkd_topic_delete_now is idempotent)
 * or was left by a deleter that died half-way. */
static int admin_deletions(bk_zk *zk)
{
    bk_zk_strings names = {0};
    int rc = bk_zk_children(zk, BK_ZKC_DELETE_TOPICS, &names, NULL, NULL);
    if (rc != 0)
        return rc == -BK_ENOENT ? 0 : rc;
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        BK_INFO(MOD, "topic %s is marked for deletion: deleting it",
                names.v[i]);
        rc = bk_zkd_topic_delete_now(zk, names.v[i]);
        if (rc != 0)
            BK_WARN(MOD, "deleting topic %s: %s (retrying at the next event)",
                    names.v[i], bk_strerror(rc));
    }
    bk_zk_strings_free(&names);
    return rc;
}

void bk_ctrl_admin_changed(bk_ctrl *c, unsigned what)
{
    c->pending |= what;
}

/* The announced admin work, each kind done once per announcement. */
static int admin_work(bk_ctrl *c, bk_zk *zk, bk_md *md)
{
    int rc = 0;
    if (c->pending & BK_CTRL_ADMIN_DELETE) {
        rc = admin_deletions(zk);
        if (rc == 0)
            c->pending &= ~BK_CTRL_ADMIN_DELETE;
    }
    if (rc == 0 && (c->pending & BK_CTRL_ADMIN_ISR_CHANGE)) {
        rc = admin_isr_changes(c, zk, md);
        if (rc == 0)
            c->pending &= ~BK_CTRL_ADMIN_ISR_CHANGE;
    }
    if (rc == 0 && (c->pending & BK_CTRL_ADMIN_PREFERRED) &&
        bk_ctrl_is_active(c)) {
        rc = admin_preferred(c, zk, md);
        if (rc == 0)
            c->pending &= ~BK_CTRL_ADMIN_PREFERRED;
    }
    return rc;
}

/* ------------------------------- entry ------------------------------- */

int bk_ctrl_run(bk_ctrl *c, bk_zk *zk, bk_md *md, int64_t prev_session)
{
    bool active = bk_ctrl_is_active(c);
    if (active && md->controller_id != c->id) {
        resign(c, md->controller_id < 0 ? "/controller was deleted"
                                        : "another broker holds /controller");
        active = false;
    }
    /* Race when nobody is controller -- or when /controller names us but
     * we do not know it (an answer lost to a connection loss, or our
     * previous process): race() sorts out which. */
    if (!active && (md->controller_id < 0 || md->controller_id == c->id)) {
        int rc = race(c, zk, md, prev_session);
        if (rc != 0)
            return rc;
        active = bk_ctrl_is_active(c);
    }
    if (!active)
        return 0;
    int rc = prune_shutting(c, zk, md);
    if (rc == 0)
        rc = bounced(c, zk, md);
    if (rc == 0 && bk_ctrl_is_active(c))
        rc = reconcile(c, zk, md);
    if (rc == 0 && bk_ctrl_is_active(c))
        notify_new_topics(c, md, notify_full_if_needed(c, md));
    if (rc == 0 && bk_ctrl_is_active(c))
        rc = admin_work(c, zk, md);
    if (rc == 0 && bk_ctrl_is_active(c)) {
        /* Partition reassignments (broker/reassign.h), level-triggered
         * like the rest.  Last: the states it writes are not sent with
         * the ISR-change updates above before the brokers' watches have
         * brought them the matching assignment. */
        bk_reassign_ctl rctl = {bk_ctrl_epoch(c), c->epoch_version,
                                c->notify,        c->notify_arg,
                                c->shut_ids,      c->nshut};
        rc = bk_reassign_run(zk, md, &rctl);
        if (rc == BK_REASSIGN_FENCED) {
            resign(c, "/controller_epoch moved: a newer controller exists");
            rc = 0;
        }
    }
    return rc;
}
