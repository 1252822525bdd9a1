/*
 * reassign.c -- partition reassignment on the controller (see
 * reassign.h).
 *
 * A run is a few rounds of: read /admin/reassign_partitions, then per
 * topic read its assignment, plan each listed partition and write what
 * the plans call for in one fenced zoo_multi.  A partition goes
 *   expand (assignment RS) -> wait (TR not all in the ISR)
 *     -> lead (only when the leader is not in TR: state with a leader
 *        from TR, the ISR unchanged; Kafka's order, so the old leader
 *        is a follower before it leaves the assignment and deletes its
 *        log)
 *     -> shrink (assignment TR) -> finish (state: leader, ISR; leaves
 *        the list) or done (the state needs no change; leaves the list)
 * or is dropped (cannot be done).  Each step is decided from what
 * ZooKeeper holds now, never from memory of an earlier step.  A round
 * that wrote something is followed by another (a partition whose target
 * replicas are already in sync goes from expand to finish in one run); a
 * round that only waits ends the run, and the next event (an ISR change,
 * a broker coming back, the admin znode changing) runs it again.  After
 * the rounds, ISR members that are no longer replicas are removed (see
 * isr_hygiene).
 */
#include "broker/reassign.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/logging.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"

#define MOD "reassign"

/* Rounds per run before waiting for the next event. */
#define MAX_ROUNDS 20

_Static_assert(BK_TOPIC_MAX_RF == 64, "the S_DROP message names the bound");

/* The next step of one listed partition. */
typedef enum step {
    S_DROP,   /* cannot be done: leaves the list */
    S_DONE,   /* the assignment is the target already: leaves the list */
    S_EXPAND, /* write the assignment RS (with adding/removing) */
    S_WAIT,   /* a target replica is not in the ISR yet */
    S_LEAD,   /* all in sync, the leader is not in TR: write a state with
                 a leader from TR (ISR unchanged) */
    S_SHRINK, /* all in sync: write the assignment TR */
    S_FINISH, /* assignment is TR: write the state, leave the list */
} step;

typedef struct plan {
    const bk_zkc_reassign *r; /* the listed entry */
    step s;
    const char *why; /* S_DROP, S_WAIT: for the log */
    /* S_EXPAND, S_SHRINK: the partition's new assignment entry. */
    int32_t rs[BK_TOPIC_MAX_RF], add[BK_TOPIC_MAX_RF], rm[BK_TOPIC_MAX_RF];
    int32_t nrs, nadd, nrm;
    /* S_LEAD, S_FINISH: the state to write. */
    bool new_leader;
    bk_zkc_pstate st;
    int32_t st_version;
    char path[BK_ZKC_PATH_MAX]; /* of the state znode */
    bk_buf data;                /* the encoded state */
} plan;

static bool has(const int32_t *v, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

static bool same(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static bool live(const bk_md *md, int32_t id)
{
    return id >= 0 && bk_md_broker_find(md, id) != NULL;
}

/* "1,2,3" into out. */
static const char *fmt_ids(char *out, size_t cap, const int32_t *v, size_t n)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && at + 12 < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s%" PRId32, i ? "," : "",
                               v[i]);
    return out;
}

/* The leader a partition should have once its replicas are tr: the
 * current one when it is a target, else the first target (preferred
 * order) that is in sync and alive; -1 when there is none. */
static int32_t pick_leader(const bk_md *md, const bk_md_part *mp,
                           const int32_t *tr, size_t ntr,
                           const bk_reassign_ctl *ctl)
{
    if (has(tr, ntr, mp->leader))
        return mp->leader;
    for (size_t i = 0; i < ntr; i++)
        if (has(mp->isr, mp->nisr, tr[i]) && live(md, tr[i]) &&
            !has(ctl->shutting, ctl->nshutting, tr[i]))
            return tr[i];
    return -1;
}

/* Plans one partition: cur is its entry in the assignment as read, mp
 * its state in the controller's picture (NULL when the picture does not
 * have the partition yet). */
static void plan_part(const bk_md *md, const bk_zkc_part *cur,
                      const bk_md_part *mp, const bk_reassign_ctl *ctl,
                      plan *pl)
{
    int32_t ctrl_epoch = ctl->ctrl_epoch;
    const bk_zkc_reassign *r = pl->r;
    const int32_t *tr = r->replicas;
    size_t ntr = (size_t)r->nreplicas;
    size_t ncur = (size_t)cur->nreplicas;
    if (same(cur->replicas, ncur, tr, ntr) && cur->nadding == 0 &&
        cur->nremoving == 0) {
        /* The assignment is the target: what is left is the state (the
         * leader in TR, the ISR within TR), then the list. */
        pl->s = S_DONE;
        if (!mp) {
            pl->s = S_WAIT; /* the picture has not caught up yet */
            pl->why = "the partition is not in the controller's picture yet";
            return;
        }
        if (!mp->has_state || mp->leader < 0)
            return; /* no state, or offline: the controller's elections
                       (broker/controller.c) are in charge of it */
        int32_t leader = pick_leader(md, mp, tr, ntr, ctl);
        if (leader < 0) {
            pl->s = S_WAIT;
            pl->why = "no in-sync target replica is alive to lead";
            return;
        }
        bk_zkc_pstate *st = &pl->st;
        memset(st, 0, sizeof *st);
        st->leader = leader;
        pl->new_leader = leader != mp->leader;
        /* A new leader gets a new epoch (followers truncate by it,
         * KIP-101); an ISR that only loses the removed replicas keeps
         * it, as the controller's own ISR shrink does. */
        st->leader_epoch = mp->leader_epoch + (pl->new_leader ? 1 : 0);
        st->controller_epoch = ctrl_epoch;
        for (size_t i = 0; i < mp->nisr; i++)
            if (has(tr, ntr, mp->isr[i]) && st->nisr < BK_TOPIC_MAX_RF)
                st->isr[st->nisr++] = mp->isr[i];
        if (st->nisr == 0) /* never an empty ISR (Kafka keeps one) */
            return;
        if (pl->new_leader || (size_t)st->nisr != mp->nisr) {
            pl->s = S_FINISH;
            pl->st_version = mp->zk_version;
        }
        return;
    }
    /* RS = TR + (current - TR): every current replica stays until the
     * end, including ones a replaced reassignment was adding. */
    size_t n = 0;
    bool fits = true;
    for (size_t i = 0; i < ntr; i++)
        pl->rs[n++] = tr[i];
    for (size_t i = 0; i < ncur; i++) {
        if (has(tr, ntr, cur->replicas[i]))
            continue;
        if (n == BK_TOPIC_MAX_RF) {
            fits = false;
            break;
        }
        pl->rs[n++] = cur->replicas[i];
    }
    if (!fits) {
        pl->s = S_DROP;
        pl->why = "the move needs more than BK_TOPIC_MAX_RF (64) replicas "
                  "at once";
        return;
    }
    pl->nrs = (int32_t)n;
    /* The original replicas are the current ones minus those being
     * added (Kafka 2.4+ records them in the assignment). */
    pl->nadd = pl->nrm = 0;
    for (size_t i = 0; i < ntr; i++)
        if (!has(cur->replicas, ncur, tr[i]) ||
            has(cur->adding, (size_t)cur->nadding, tr[i]))
            pl->add[pl->nadd++] = tr[i];
    for (size_t i = 0; i < ncur; i++)
        if (!has(tr, ntr, cur->replicas[i]))
            pl->rm[pl->nrm++] = cur->replicas[i];
    if (!same(cur->replicas, ncur, pl->rs, n) ||
        !same(cur->adding, (size_t)cur->nadding, pl->add, (size_t)pl->nadd) ||
        !same(cur->removing, (size_t)cur->nremoving, pl->rm, (size_t)pl->nrm)) {
        pl->s = S_EXPAND;
        return;
    }
    /* Expanded: wait until every target replica is in sync. */
    pl->s = S_WAIT;
    if (!mp || !mp->has_state) {
        pl->why = "no partition state yet";
        return;
    }
    for (size_t i = 0; i < ntr; i++) {
        if (!has(mp->isr, mp->nisr, tr[i])) {
            pl->why = "target replicas are not all in the ISR yet";
            return;
        }
    }
    int32_t leader = pick_leader(md, mp, tr, ntr, ctl);
    if (leader < 0) {
        pl->why = "no in-sync target replica is alive (and not shutting "
                  "down) to lead";
        return;
    }
    if (mp->leader >= 0 && leader != mp->leader) {
        /* Leadership moves first (a new epoch: the old leader truncates
         * by it and follows); the ISR keeps every replica, all still
         * assigned, so no leader can see an ISR narrower than its
         * assignment.  The shrink comes at the next round. */
        bk_zkc_pstate *st = &pl->st;
        memset(st, 0, sizeof *st);
        st->leader = leader;
        st->leader_epoch = mp->leader_epoch + 1;
        st->controller_epoch = ctrl_epoch;
        for (size_t i = 0; i < mp->nisr && st->nisr < BK_TOPIC_MAX_RF; i++)
            st->isr[st->nisr++] = mp->isr[i];
        pl->new_leader = true;
        pl->st_version = mp->zk_version;
        pl->s = S_LEAD;
        return;
    }
    /* The assignment becomes TR first, the state follows (S_FINISH, at
     * the next round).  In this order no broker can see a picture in
     * which a removed replica is still assigned while the ISR no longer
     * has it -- a leader with that picture would take the removed
     * replica, still fetching, back into the ISR (broker/repl.c), and
     * acks=all would then wait for a replica that is deleting its log.
     * Between the two writes the removed replicas stop fetching and the
     * leader's high watermark holds still for a few milliseconds. */
    memcpy(pl->rs, tr, ntr * sizeof *tr);
    pl->nrs = (int32_t)ntr;
    pl->nadd = pl->nrm = 0;
    pl->s = S_SHRINK;
}

/* Puts the written assignment a into the picture (partitions 0..n-1, as
 * zkbroker reads them) when the picture has the topic. */
static int md_set_assignment(bk_md *md, const char *topic,
                             const bk_zkc_assignment *a)
{
    if (!bk_md_topic_find(md, topic))
        return 0;
    size_t n = 0;
    while (n < (size_t)a->nparts && a->parts[n].id == (int32_t)n)
        n++;
    int32_t **reps = calloc(n ? n : 1, sizeof *reps);
    size_t *nrep = calloc(n ? n : 1, sizeof *nrep);
    int rc = reps && nrep ? 0 : -BK_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        reps[i] = a->parts[i].replicas;
        nrep[i] = (size_t)a->parts[i].nreplicas;
    }
    if (rc == 0)
        rc = bk_md_set_topic(md, topic, n, reps, nrep);
    free(reps);
    free(nrep);
    return rc;
}

/* State of one run. */
typedef struct run {
    bk_zk *zk;
    bk_md *md;
    const bk_reassign_ctl *ctl;
    bk_zkc_reassign *list; /* /admin/reassign_partitions as read */
    size_t n;
    bool *gone;            /* list[i] has left the znode (written) */
    int32_t admin_version; /* -1: the znode is gone */
    bool wrote;            /* something was written this round */
    bool again;            /* a race was lost: read again */
} run;

/* The admin znode's content without the entries that are gone or about
 * to go (leaving[i]). */
static int encode_remaining(const run *rn, const bool *leaving, bk_buf *out,
                            size_t *left)
{
    bk_zkc_reassign *v = malloc((rn->n ? rn->n : 1) * sizeof *v);
    if (!v)
        return -BK_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < rn->n; i++)
        if (!rn->gone[i] && !leaving[i])
            v[k++] = rn->list[i];
    *left = k;
    int rc = k ? bk_zkc_reassign_encode(v, k, out) : 0;
    free(v);
    return rc;
}

static void log_plan(const plan *pl)
{
    const bk_zkc_reassign *r = pl->r;
    char a[256], b[256], c[256];
    switch (pl->s) {
    case S_DROP:
        BK_WARN(MOD, "%s-%" PRId32 ": reassignment to [%s] dropped: %s",
                r->topic, r->partition,
                fmt_ids(a, sizeof a, r->replicas, (size_t)r->nreplicas),
                pl->why);
        break;
    case S_DONE:
        BK_INFO(MOD, "%s-%" PRId32 ": reassignment to [%s] complete", r->topic,
                r->partition,
                fmt_ids(a, sizeof a, r->replicas, (size_t)r->nreplicas));
        break;
    case S_EXPAND:
        BK_INFO(MOD,
                "%s-%" PRId32 ": reassigning: replicas [%s] (adding [%s], "
                "removing [%s])",
                r->topic, r->partition,
                fmt_ids(a, sizeof a, pl->rs, (size_t)pl->nrs),
                fmt_ids(b, sizeof b, pl->add, (size_t)pl->nadd),
                fmt_ids(c, sizeof c, pl->rm, (size_t)pl->nrm));
        break;
    case S_SHRINK:
        BK_INFO(MOD,
                "%s-%" PRId32 ": target replicas [%s] in sync: "
                "assignment narrowed to them",
                r->topic, r->partition,
                fmt_ids(a, sizeof a, r->replicas, (size_t)r->nreplicas));
        break;
    case S_LEAD:
        BK_INFO(MOD,
                "%s-%" PRId32 ": target replicas [%s] in sync: leadership "
                "moves to %" PRId32 " (epoch %" PRId32 ") before the "
                "assignment narrows",
                r->topic, r->partition,
                fmt_ids(a, sizeof a, r->replicas, (size_t)r->nreplicas),
                pl->st.leader, pl->st.leader_epoch);
        break;
    case S_FINISH:
        BK_INFO(MOD,
                "%s-%" PRId32 ": reassignment to [%s] complete: leader %" PRId32
                "%s (epoch %" PRId32 "), ISR [%s]",
                r->topic, r->partition,
                fmt_ids(a, sizeof a, r->replicas, (size_t)r->nreplicas),
                pl->st.leader, pl->new_leader ? " (moved)" : "",
                pl->st.leader_epoch,
                fmt_ids(b, sizeof b, pl->st.isr, (size_t)pl->st.nisr));
        break;
    case S_WAIT:
        BK_DEBUG(MOD, "%s-%" PRId32 ": reassignment waits: %s", r->topic,
                 r->partition, pl->why);
        break;
    }
}

/* Re-reads one state into the picture after a conditional write lost. */
static int refresh_state(run *rn, const char *topic, int32_t p)
{
    bk_zkc_pstate st;
    int32_t ver = 0;
    int rc = bk_zkd_pstate_read(rn->zk, topic, p, &st, &ver);
    if (rc == -BK_ENOENT || rc == -BK_ECORRUPT) {
        bk_md_clear_state(rn->md, topic, p);
        return 0;
    }
    if (rc != 0)
        return rc;
    rc = bk_md_set_state(rn->md, topic, p, st.leader, st.leader_epoch,
                         st.controller_epoch, ver, st.isr, (size_t)st.nisr);
    return rc == -BK_ENOENT ? 0 : rc;
}

/* Plans and writes the listed partitions of one topic (list indexes
 * idx[0..k)).  0 or BK_REASSIGN_FENCED or -BK_E*. */
static int do_topic(run *rn, const size_t *idx, size_t k)
{
    const char *topic = rn->list[idx[0]].topic;
    plan *pl = calloc(k, sizeof *pl);
    bool *leaving = calloc(rn->n ? rn->n : 1, sizeof *leaving);
    bk_zk_op *ops = calloc(k + 3, sizeof *ops);
    bk_zkc_assignment a = {0}, na = {0};
    bk_buf abuf = BK_BUF_INIT, lbuf = BK_BUF_INIT;
    int rc = pl && leaving && ops ? 0 : -BK_ENOMEM;
    int32_t aver = -1;
    bool have_a = false;
    const bk_md_topic *mt = bk_md_topic_find(rn->md, topic);
    for (size_t i = 0; i < k; i++)
        pl[i].r = &rn->list[idx[i]];
    if (rc == 0 && mt && mt->deleting) {
        for (size_t i = 0; i < k; i++) {
            pl[i].s = S_DROP;
            pl[i].why = "the topic is being deleted";
        }
    } else if (rc == 0) {
        rc = bk_zkd_topic_read(rn->zk, topic, &a, &aver);
        if (rc == -BK_ENOENT || rc == -BK_ECORRUPT) {
            for (size_t i = 0; i < k; i++) {
                pl[i].s = S_DROP;
                pl[i].why = rc == -BK_ENOENT
                                ? "the topic does not exist"
                                : "the topic's assignment does not decode";
            }
            rc = 0;
        } else if (rc == 0) {
            have_a = true;
        }
    }
    bool write_a = false;
    if (rc == 0 && have_a) {
        for (size_t i = 0; i < k; i++) {
            const bk_zkc_part *cur =
                bk_zkc_assignment_find(&a, pl[i].r->partition);
            if (!cur) {
                pl[i].s = S_DROP;
                pl[i].why = "the partition does not exist";
                continue;
            }
            plan_part(rn->md, cur,
                      bk_md_part_find(rn->md, topic, pl[i].r->partition),
                      rn->ctl, &pl[i]);
            write_a |= pl[i].s == S_EXPAND || pl[i].s == S_SHRINK;
        }
    }
    /* The ops: the epoch check, state writes, the assignment, the list. */
    int nops = 0;
    bool drop_list = false;
    size_t left = 0;
    if (rc == 0) {
        ops[nops++] =
            bk_zk_op_check(BK_ZKC_CONTROLLER_EPOCH, rn->ctl->epoch_version);
        for (size_t i = 0; i < k; i++) {
            leaving[idx[i]] =
                pl[i].s == S_DROP || pl[i].s == S_DONE || pl[i].s == S_FINISH;
            drop_list |= leaving[idx[i]];
            if (pl[i].s != S_FINISH && pl[i].s != S_LEAD)
                continue;
            rc = bk_zkc_path_partition_state(pl[i].path, topic,
                                             pl[i].r->partition);
            if (rc == 0)
                rc = bk_zkc_pstate_encode(&pl[i].st, &pl[i].data);
            if (rc == 0 && !bk_buf_ok(&pl[i].data))
                rc = -BK_ENOMEM;
            if (rc != 0)
                break;
            ops[nops++] = bk_zk_op_set(pl[i].path, pl[i].data.data,
                                       pl[i].data.len, pl[i].st_version);
        }
    }
    char apath[BK_ZKC_PATH_MAX];
    if (rc == 0 && write_a) {
        /* The new assignment: a's partitions, the planned ones replaced
         * (na borrows a's pool and the plans' arrays). */
        na.version = a.version;
        na.nparts = a.nparts;
        na.parts = malloc((size_t)(a.nparts ? a.nparts : 1) * sizeof *na.parts);
        rc = na.parts ? 0 : -BK_ENOMEM;
        if (rc == 0)
            memcpy(na.parts, a.parts, (size_t)a.nparts * sizeof *na.parts);
        for (size_t i = 0; rc == 0 && i < k; i++) {
            if (pl[i].s != S_EXPAND && pl[i].s != S_SHRINK)
                continue;
            for (int32_t j = 0; j < na.nparts; j++) {
                bk_zkc_part *p = &na.parts[j];
                if (p->id != pl[i].r->partition)
                    continue;
                p->replicas = pl[i].rs;
                p->nreplicas = pl[i].nrs;
                p->adding = pl[i].add;
                p->nadding = pl[i].nadd;
                p->removing = pl[i].rm;
                p->nremoving = pl[i].nrm;
            }
        }
        if (rc == 0)
            rc = bk_zkc_path_topic(apath, topic);
        if (rc == 0)
            rc = bk_zkc_assignment_encode(&na, &abuf);
        if (rc == 0 && !bk_buf_ok(&abuf))
            rc = -BK_ENOMEM;
        if (rc == 0)
            ops[nops++] = bk_zk_op_set(apath, abuf.data, abuf.len, aver);
    }
    if (rc == 0 && drop_list) {
        rc = encode_remaining(rn, leaving, &lbuf, &left);
        if (rc == 0 && left > 0 && !bk_buf_ok(&lbuf))
            rc = -BK_ENOMEM;
        if (rc == 0)
            ops[nops++] =
                left ? bk_zk_op_set(BK_ZKC_REASSIGN, lbuf.data, lbuf.len,
                                    rn->admin_version)
                     : bk_zk_op_delete(BK_ZKC_REASSIGN, rn->admin_version);
    }
    for (size_t i = 0; rc == 0 && i < k; i++)
        if (pl[i].s == S_WAIT)
            log_plan(&pl[i]);
    if (rc == 0 && nops > 1) {
        int failed = -1;
        int mrc = bk_zk_multi(rn->zk, ops, nops, &failed);
        if (mrc == 0) {
            rn->wrote = true;
            for (size_t i = 0; i < k; i++) {
                if (pl[i].s != S_WAIT)
                    log_plan(&pl[i]);
                if (leaving[idx[i]])
                    rn->gone[idx[i]] = true;
                if (pl[i].s == S_FINISH || pl[i].s == S_LEAD) {
                    const bk_zkc_pstate *st = &pl[i].st;
                    int r = bk_md_set_state(
                        rn->md, topic, pl[i].r->partition, st->leader,
                        st->leader_epoch, st->controller_epoch,
                        pl[i].st_version + 1, st->isr, (size_t)st->nisr);
                    if (r == -BK_ENOMEM)
                        rc = r;
                }
            }
            if (write_a && rc == 0)
                rc = md_set_assignment(rn->md, topic, &na);
            if (drop_list)
                rn->admin_version = left ? rn->admin_version + 1 : -1;
            /* Tell brokers (LeaderAndIsr) about changed assignments: the
             * new replicas must learn the partition, the leader its new
             * followers.  Not the final state (S_FINISH): the broker's
             * LeaderAndIsr handler takes leader and ISR but not the
             * replicas, so a leader could see the smaller ISR before the
             * narrowed assignment and take a removed replica back into
             * the ISR; its watches deliver the two in order. */
            bk_ctrl_tp *tp = malloc(k * sizeof *tp);
            size_t ntp = 0;
            for (size_t i = 0; tp && i < k; i++)
                if (pl[i].s == S_EXPAND || pl[i].s == S_SHRINK ||
                    pl[i].s == S_LEAD)
                    tp[ntp++] = (bk_ctrl_tp){(char *)pl[i].r->topic,
                                             pl[i].r->partition};
            if (rc == 0 && ntp > 0 && rn->ctl->notify)
                rn->ctl->notify(rn->ctl->notify_arg, rn->md,
                                rn->ctl->ctrl_epoch, tp, ntp, false);
            free(tp);
        } else if (failed == 0 && mrc != -BK_EIO) {
            rc = BK_REASSIGN_FENCED;
        } else if (failed > 0 && (mrc == -BK_ERANGE || mrc == -BK_ENOENT ||
                                  mrc == -BK_EEXIST)) {
            /* Something changed since we read it: a state (re-read it
             * into the picture), the assignment or the list (read at
             * the next round). */
            BK_DEBUG(MOD, "%s: %s changed under us: reading again", topic,
                     ops[failed].path);
            rn->again = true;
            for (size_t i = 0; i < k; i++)
                if ((pl[i].s == S_FINISH || pl[i].s == S_LEAD) &&
                    ops[failed].path == pl[i].path)
                    rc = refresh_state(rn, topic, pl[i].r->partition);
        } else {
            rc = mrc;
        }
    }
    for (size_t i = 0; pl && i < k; i++)
        bk_buf_free(&pl[i].data);
    free(pl);
    free(leaving);
    free(ops);
    free(na.parts);
    bk_zkc_assignment_free(&a);
    bk_buf_free(&abuf);
    bk_buf_free(&lbuf);
    return rc;
}

/* One round: read the list, work through its topics.  0 (look at
 * rn->wrote / rn->again), BK_REASSIGN_FENCED or -BK_E*. */
static int round_once(run *rn)
{
    bk_buf b = BK_BUF_INIT;
    bk_zk_stat st;
    int rc = bk_zk_get(rn->zk, BK_ZKC_REASSIGN, &b, &st, NULL, NULL);
    if (rc != 0) {
        bk_buf_free(&b);
        return rc == -BK_ENOENT ? 0 : rc;
    }
    char err[512];
    rc = bk_zkc_reassign_decode(b.data, b.len, &rn->list, &rn->n, err,
                                sizeof err);
    bk_buf_free(&b);
    if (rc == -BK_ENOMEM)
        return rc;
    if (rc != 0) {
        BK_ERROR(MOD, "%s: %s: deleting it (nothing of it can be done)",
                 BK_ZKC_REASSIGN, err);
        rc = bk_zk_delete(rn->zk, BK_ZKC_REASSIGN, st.version);
        if (rc == -BK_ERANGE || rc == -BK_ENOENT) {
            rn->again = true; /* rewritten meanwhile: look again */
            rc = 0;
        }
        return rc;
    }
    rn->admin_version = st.version;
    if (rn->n == 0) {
        /* An empty list: nothing in progress; remove it (Kafka does). */
        rc = bk_zk_delete(rn->zk, BK_ZKC_REASSIGN, st.version);
        return rc == -BK_ERANGE || rc == -BK_ENOENT ? 0 : rc;
    }
    rn->gone = calloc(rn->n, sizeof *rn->gone);
    size_t *idx = malloc(rn->n * sizeof *idx);
    bool *seen = calloc(rn->n, sizeof *seen);
    rc = rn->gone && idx && seen ? 0 : -BK_ENOMEM;
    /* Topic by topic (in list order), one multi each. */
    for (size_t i = 0; rc == 0 && !rn->again && i < rn->n; i++) {
        if (seen[i])
            continue;
        size_t k = 0;
        for (size_t j = i; j < rn->n; j++) {
            if (!seen[j] && strcmp(rn->list[j].topic, rn->list[i].topic) == 0) {
                seen[j] = true;
                idx[k++] = j;
            }
        }
        rc = do_topic(rn, idx, k);
        if (rn->admin_version < 0)
            break; /* the list is gone (its last entries left) */
    }
    free(idx);
    free(seen);
    return rc;
}

/* ------------------------- ISR within the assignment -------------------------
 */

/* True when p (with a state) has an ISR member that is not a replica
 * while its leader is one. */
static bool has_stray(const bk_md_part *p)
{
    if (!p->has_state || !has(p->replicas, p->nreplicas, p->leader))
        return false;
    for (size_t i = 0; i < p->nisr; i++)
        if (!has(p->replicas, p->nreplicas, p->isr[i]))
            return true;
    return false;
}

/* Removes from topic t's ISRs the members its assignment (read afresh,
 * and checked by version in the same multi) no longer names. */
static int fix_strays(bk_zk *zk, bk_md *md, const bk_reassign_ctl *ctl,
                      const char *topic)
{
    bk_zkc_assignment a;
    int32_t aver;
    int rc = bk_zkd_topic_read(zk, topic, &a, &aver);
    if (rc == -BK_ENOENT || rc == -BK_ECORRUPT)
        return 0;
    if (rc != 0)
        return rc;
    const bk_md_topic *t = bk_md_topic_find(md, topic);
    size_t n = t ? t->nparts : 0;
    bk_zk_op *ops = calloc(n + 2, sizeof *ops);
    char(*paths)[BK_ZKC_PATH_MAX] = calloc(n ? n : 1, sizeof *paths);
    bk_buf *data = calloc(n ? n : 1, sizeof *data);
    bk_zkc_pstate *sts = calloc(n ? n : 1, sizeof *sts);
    int32_t *idx = calloc(n ? n : 1, sizeof *idx);
    char tpath[BK_ZKC_PATH_MAX];
    rc = ops && paths && data && sts && idx ? 0 : -BK_ENOMEM;
    if (rc == 0)
        rc = bk_zkc_path_topic(tpath, topic);
    int nops = 0, k = 0;
    if (rc == 0) {
        ops[nops++] =
            bk_zk_op_check(BK_ZKC_CONTROLLER_EPOCH, ctl->epoch_version);
        ops[nops++] = bk_zk_op_check(tpath, aver);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const bk_md_part *p = &t->parts[i];
        const bk_zkc_part *zp = bk_zkc_assignment_find(&a, p->index);
        if (!has_stray(p) || !zp || zp->nadding || zp->nremoving)
            continue;
        bk_zkc_pstate *st = &sts[k];
        memset(st, 0, sizeof *st); /* a skipped one may have left data */
        st->leader = p->leader;
        st->leader_epoch = p->leader_epoch;
        st->controller_epoch = ctl->ctrl_epoch;
        for (size_t j = 0; j < p->nisr; j++)
            if (has(zp->replicas, (size_t)zp->nreplicas, p->isr[j]))
                st->isr[st->nisr++] = p->isr[j];
        if ((size_t)st->nisr == p->nisr || st->nisr == 0)
            continue; /* the picture's assignment was behind ZooKeeper's */
        rc = bk_zkc_path_partition_state(paths[k], topic, p->index);
        if (rc == 0)
            rc = bk_zkc_pstate_encode(st, &data[k]);
        if (rc == 0 && !bk_buf_ok(&data[k]))
            rc = -BK_ENOMEM;
        if (rc == 0) {
            ops[nops++] = bk_zk_op_set(paths[k], data[k].data, data[k].len,
                                       p->zk_version);
            idx[k++] = p->index;
        }
    }
    if (rc == 0 && k > 0) {
        int failed = -1;
        int mrc = bk_zk_multi(zk, ops, nops, &failed);
        if (mrc == 0) {
            for (int i = 0; i < k; i++) {
                const bk_md_part *p = bk_md_part_find(md, topic, idx[i]);
                int32_t ver = p ? p->zk_version + 1 : 0;
                char l[256];
                BK_INFO(MOD,
                        "%s-%" PRId32 ": ISR [%s]: members that are no "
                        "longer replicas removed",
                        topic, idx[i],
                        fmt_ids(l, sizeof l, sts[i].isr, (size_t)sts[i].nisr));
                if (bk_md_set_state(md, topic, idx[i], sts[i].leader,
                                    sts[i].leader_epoch,
                                    sts[i].controller_epoch, ver, sts[i].isr,
                                    (size_t)sts[i].nisr) == -BK_ENOMEM)
                    rc = -BK_ENOMEM;
            }
        } else if (failed == 0 && mrc != -BK_EIO) {
            rc = BK_REASSIGN_FENCED;
        } else if (failed >= 2 && (mrc == -BK_ERANGE || mrc == -BK_ENOENT)) {
            /* A state moved on: re-read it; the next event looks again. */
            run rn = {.zk = zk, .md = md, .ctl = ctl};
            rc = refresh_state(&rn, topic, idx[failed - 2]);
        } else if (failed != 1) {
            rc = mrc; /* failed == 1: the assignment moved; its watch
                         brings the controller back */
        }
    }
    for (size_t i = 0; data && i < n; i++)
        bk_buf_free(&data[i]);
    free(ops);
    free(paths);
    free(data);
    free(sts);
    free(idx);
    bk_zkc_assignment_free(&a);
    return rc;
}

/* Keeps every ISR within its partition's assignment.  A leader that had
 * not yet seen a narrowed assignment (its watch, or a controller request
 * that carries states but not replicas, came in between) may have taken
 * a removed replica back into the ISR: acks=all would then wait for a
 * replica that is deleting its log until the leader's own lag check
 * drops it (replica.lag.time.max.ms).  Cheap: a scan of the picture; a
 * ZooKeeper read only for a topic with such a member. */
static int isr_hygiene(bk_zk *zk, bk_md *md, const bk_reassign_ctl *ctl)
{
    for (size_t ti = 0; ti < md->ntopics; ti++) {
        const bk_md_topic *t = &md->topics[ti];
        if (t->deleting)
            continue;
        bool any = false;
        for (size_t i = 0; i < t->nparts && !any; i++)
            any = has_stray(&t->parts[i]);
        if (!any)
            continue;
        int rc = fix_strays(zk, md, ctl, t->name);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int bk_reassign_run(bk_zk *zk, bk_md *md, const bk_reassign_ctl *ctl)
{
    for (int round = 0; round < MAX_ROUNDS; round++) {
        run rn = {.zk = zk, .md = md, .ctl = ctl, .admin_version = -1};
        int rc = round_once(&rn);
        free(rn.list);
        free(rn.gone);
        if (rc != 0)
            return rc;
        if (!rn.wrote && !rn.again)
            return isr_hygiene(zk, md, ctl);
    }
    BK_WARN(MOD, "reassignments keep changing under the controller; "
                 "continuing at the next event");
    return 0;
}
