/*
 * controller.c -- controller election and leader/ISR decisions (see
 * controller.h).
 */
#include "broker/controller.h"

#include <assert.h>
#include <stdatomic.h>
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
    int32_t epoch_version; /* zkVersion of /controller_epoch as we set it */
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
    free(c);
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

static bool unclean_for(const bk_ctrl *c, const bk_md_topic *t)
{
    const char *v = bk_md_topic_config(t, "unclean.leader.election.enable");
    if (!v)
        return c->unclean_default;
    return strcmp(v, "true") == 0;
}

bk_ctrl_decision bk_ctrl_plan(const bk_md *md, const bk_md_part *p,
                              bool unclean, int32_t ctrl_epoch,
                              bk_zkc_pstate *out)
{
    if (!p->has_state || p->nreplicas == 0)
        return BK_CTRL_KEEP;
    memset(out, 0, sizeof *out);
    out->controller_epoch = ctrl_epoch;
    /* The ISR members that are alive, in ISR order. */
    int32_t isr[BK_TOPIC_MAX_RF];
    int32_t n = 0;
    for (size_t i = 0; i < p->nisr && n < BK_TOPIC_MAX_RF; i++)
        if (live(md, p->isr[i]))
            isr[n++] = p->isr[i];
    int32_t old = p->leader;
    if (live(md, old)) {
        /* The leader lives: only dead followers leave the ISR.  A leader
         * that is not in its own ISR is the leader's business. */
        if ((size_t)n == p->nisr || !has(isr, (size_t)n, old))
            return BK_CTRL_KEEP;
        out->leader = old;
        out->leader_epoch = p->leader_epoch;
        out->nisr = n;
        memcpy(out->isr, isr, (size_t)n * sizeof *isr);
        return BK_CTRL_SHRINK;
    }
    /* No live leader: the first replica in assignment order (the
     * preferred one first) that is in the ISR and alive. */
    for (size_t i = 0; i < p->nreplicas; i++) {
        int32_t r = p->replicas[i];
        if (has(isr, (size_t)n, r)) {
            out->leader = r;
            out->leader_epoch = p->leader_epoch + 1;
            out->nisr = n;
            memcpy(out->isr, isr, (size_t)n * sizeof *isr);
            return BK_CTRL_ELECT;
        }
    }
    if (unclean) {
        /* unclean.leader.election.enable: availability over durability,
         * any live replica (records it lacks are lost). */
        for (size_t i = 0; i < p->nreplicas; i++) {
            int32_t r = p->replicas[i];
            if (live(md, r)) {
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
     * member the same way). */
    out->leader = -1;
    out->leader_epoch = p->leader_epoch + 1;
    if (has(p->isr, p->nisr, old)) {
        out->nisr = 1;
        out->isr[0] = old;
    } else {
        out->nisr =
            (int32_t)(p->nisr < BK_TOPIC_MAX_RF ? p->nisr : BK_TOPIC_MAX_RF);
        memcpy(out->isr, p->isr, (size_t)out->nisr * sizeof *out->isr);
    }
    return BK_CTRL_OFFLINE;
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

/* One pass over the picture: plan, write, account.  0 when nothing
 * (more) is to be written, 1 to run another pass (a race was lost and
 * the state re-read), 2 when we are no longer controller, -BK_E*. */
static int pass(bk_ctrl *c, bk_zk *zk, bk_md *md, int *total)
{
    change *ch = NULL;
    size_t n = 0, cap = 0;
    int elected = 0, offline = 0, shrunk = 0;
    for (size_t ti = 0; ti < md->ntopics; ti++) {
        const bk_md_topic *t = &md->topics[ti];
        if (t->deleting)
            continue; /* its replicas are going away */
        bool unclean = unclean_for(c, t);
        for (size_t pi = 0; pi < t->nparts; pi++) {
            const bk_md_part *p = &t->parts[pi];
            bk_zkc_pstate st;
            bk_ctrl_decision d =
                bk_ctrl_plan(md, p, unclean, bk_ctrl_epoch(c), &st);
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
    if (written > 0)
        BK_INFO(MOD,
                "epoch %d: %d of %zu partition states written (planned: "
                "%d leaders elected, %d offline, %d ISRs shrunk)",
                bk_ctrl_epoch(c), written, n, elected, offline, shrunk);
    free(ch);
    return rc;
}

static int reconcile(bk_ctrl *c, bk_zk *zk, bk_md *md)
{
    int64_t t0 = bk_clock_mono_ms();
    int total = 0;
    for (int round = 0; round < MAX_ROUNDS; round++) {
        int rc = pass(c, zk, md, &total);
        if (rc == 1)
            continue;
        if (rc == 2) {
            resign(c, "/controller_epoch moved: a newer controller exists");
            return 0;
        }
        if (rc == 0 && total > 0)
            BK_INFO(MOD, "%d partition states changed in %lld ms", total,
                    (long long)(bk_clock_mono_ms() - t0));
        return rc;
    }
    BK_WARN(MOD, "states keep changing under the controller; trying again "
                 "at the next event");
    return 0;
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
    return reconcile(c, zk, md);
}
