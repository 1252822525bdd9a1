/*
 * repl.c -- replication state of the partitions (see repl.h).
 */
#include "broker/repl.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/fetcher.h"
#include "broker/metrics.h"
#include "broker/zkbroker.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "proto/protocol.h"

#define MOD "repl"

typedef struct dprod dprod;

struct bk_repl {
    bk_broker *b;
    bk_fetcher **fetchers; /* one per source broker */
    size_t nfetchers, cap;
    bk_timer isr_timer; /* the periodic ISR shrink check */
    dprod *produces;    /* waiting acks=all produces */
    size_t nproduces;
};

static void on_isr_timer(bk_loop *loop, bk_timer *t, void *arg);
static void dprod_finish(dprod *dp, int32_t err, bool respond);
static bk_part_follower *follower(bk_part *p, int32_t id);
static bool update_hw(bk_repl *r, bk_part *p);

static int64_t isr_period(const bk_repl *r)
{
    int64_t ms = r->b->cfg->replica_lag_time_max_ms / 2;
    return ms < 50 ? 50 : ms;
}

bk_repl *bk_repl_new(bk_broker *b)
{
    bk_repl *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->b = b;
    bk_timer_init(&r->isr_timer, on_isr_timer, r);
    if (bk_loop_timer_arm(b->loop, &r->isr_timer, isr_period(r)) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

void bk_repl_free(bk_repl *r)
{
    if (!r)
        return;
    /* The broker is stopping: producers retry elsewhere. */
    while (r->produces)
        dprod_finish(r->produces, BK_ERR_NOT_LEADER_FOR_PARTITION, true);
    bk_loop_timer_cancel(r->b->loop, &r->isr_timer);
    for (size_t i = 0; i < r->nfetchers; i++)
        bk_fetcher_free(r->fetchers[i]);
    free(r->fetchers);
    free(r);
}

size_t bk_repl_waiting(const bk_repl *r)
{
    return r->nproduces;
}

/* ------------------------------ followers ------------------------------ */

static bool contains(const int32_t *v, size_t n, int32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

/* Leaves p's fetcher; frees the fetcher when it has nothing left. */
static void stop_fetching(bk_repl *r, bk_part *p)
{
    bk_fetcher *f = p->fetcher;
    if (!f)
        return;
    bk_fetcher_remove(f, p);
    if (bk_fetcher_count(f) > 0)
        return;
    for (size_t i = 0; i < r->nfetchers; i++) {
        if (r->fetchers[i] == f) {
            r->fetchers[i] = r->fetchers[--r->nfetchers];
            break;
        }
    }
    bk_fetcher_free(f);
}

static bk_fetcher *fetcher_for(bk_repl *r, int32_t leader)
{
    for (size_t i = 0; i < r->nfetchers; i++)
        if (bk_fetcher_leader(r->fetchers[i]) == leader)
            return r->fetchers[i];
    if (r->nfetchers == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4;
        bk_fetcher **v = realloc(r->fetchers, cap * sizeof *v);
        if (!v)
            return NULL;
        r->fetchers = v;
        r->cap = cap;
    }
    bk_fetcher *f = bk_fetcher_new(r->b, leader);
    if (f)
        r->fetchers[r->nfetchers++] = f;
    return f;
}

static void start_fetching(bk_repl *r, bk_part *p)
{
    if (p->fetcher && bk_fetcher_leader(p->fetcher) == p->leader)
        return;
    stop_fetching(r, p);
    bk_fetcher *f = fetcher_for(r, p->leader);
    if (!f || bk_fetcher_add(f, p) != 0) {
        /* The next state change retries. */
        BK_ERROR(MOD, "%s-%d: out of memory: not following leader %d", p->topic,
                 p->index, p->leader);
        return;
    }
    BK_INFO(MOD, "%s-%d: following leader %d (epoch %d) from offset %lld",
            p->topic, p->index, p->leader, p->leader_epoch,
            (long long)bk_log_end_offset(p->log));
}

/* ------------------------ delayed acks=all ------------------------ */

typedef struct dack {
    bk_repl_ack a; /* a.p == NULL once resolved */
} dack;

struct dprod {
    bk_repl *r;
    bk_req *req; /* held */
    bk_pool pool;
    Brook__ProduceResponse body;
    dack *v; /* n entries, in the pool */
    size_t n, left;
    bk_timer timer;
    dprod *prev, *next;
};

static void resolve(dack *d, int32_t err)
{
    assert(d->a.p && d->a.p->nproduces > 0);
    d->a.p->nproduces--;
    d->a.p = NULL;
    d->a.resp->error_code = err;
    if (err) {
        d->a.resp->base_offset = -1;
        if (err == BK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND)
            d->a.resp->error_message = "the ISR shrank below "
                                       "min.insync.replicas while waiting";
    }
}

/* Resolves what is left with err, answers (unless the connection went)
 * and frees dp. */
static void dprod_finish(dprod *dp, int32_t err, bool respond)
{
    bk_repl *r = dp->r;
    for (size_t i = 0; i < dp->n; i++)
        if (dp->v[i].a.p)
            resolve(&dp->v[i], err);
    bk_loop_timer_cancel(r->b->loop, &dp->timer);
    if (dp->prev)
        dp->prev->next = dp->next;
    else
        r->produces = dp->next;
    if (dp->next)
        dp->next->prev = dp->prev;
    r->nproduces--;
    bk_req *req = dp->req;
    bk_req_set_abort(req, NULL, NULL);
    if (respond) {
        /* errors decided while waiting (timeout, ISR too small, leadership
         * lost): the ones known at append were counted by the handler */
        for (size_t i = 0; i < dp->n; i++)
            if (dp->v[i].a.resp->error_code)
                bk_metrics_request_error(r->b->metrics, BK_API_PRODUCE,
                                         dp->v[i].a.resp->error_code);
        Brook__Response resp = BROOK__RESPONSE__INIT;
        resp.body_case = BROOK__RESPONSE__BODY_PRODUCE;
        resp.produce = &dp->body;
        bk_req_respond(req, &resp);
    }
    bk_pool_free(&dp->pool);
    free(dp);
    bk_req_release(req);
}

/* Whether entry d can be answered now; resolves it if so. */
static void evaluate(dack *d)
{
    bk_part *p = d->a.p;
    if (!p->is_leader)
        resolve(d, BK_ERR_NOT_LEADER_FOR_PARTITION);
    else if (p->hw >= d->a.required)
        resolve(d, p->nisr < (size_t)p->min_isr
                       ? BK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND
                       : 0);
}

/* p's HW or state changed (removing: p goes): answers the produces that
 * are complete. */
static void check_produces(bk_repl *r, bk_part *p, bool removing)
{
    if (p->nproduces == 0)
        return;
    dprod *dp = r->produces;
    while (dp) {
        dprod *next = dp->next;
        for (size_t i = 0; i < dp->n; i++) {
            dack *d = &dp->v[i];
            if (d->a.p != p)
                continue;
            if (removing)
                resolve(d, BK_ERR_NOT_LEADER_FOR_PARTITION);
            else
                evaluate(d);
            if (!d->a.p)
                dp->left--;
        }
        if (dp->left == 0)
            dprod_finish(dp, 0, true);
        dp = next;
    }
}

static void on_produce_timeout(bk_loop *loop, bk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    dprod_finish(arg, BK_ERR_REQUEST_TIMED_OUT, true);
}

static void on_produce_abort(bk_req *req)
{
    dprod_finish(req->ctx, BK_ERR_REQUEST_TIMED_OUT, false);
}

int bk_repl_wait_acks(bk_repl *r, bk_req *req, bk_pool *pool,
                      const Brook__ProduceResponse *body,
                      const bk_repl_ack *acks, size_t n, int64_t timeout_ms)
{
    dprod *dp = calloc(1, sizeof *dp);
    dack *v = bk_pool_calloc(pool, n ? n : 1, sizeof *v);
    if (!dp || !v) {
        free(dp);
        return -BK_ENOMEM;
    }
    dp->r = r;
    dp->req = req;
    dp->body = *body;
    dp->v = v;
    dp->n = n;
    bk_timer_init(&dp->timer, on_produce_timeout, dp);
    if (bk_loop_timer_arm(r->b->loop, &dp->timer,
                          timeout_ms > 0 ? timeout_ms : 0) != 0) {
        free(dp);
        return -BK_ENOMEM;
    }
    dp->pool = *pool;
    *pool = (bk_pool)BK_POOL_INIT;
    for (size_t i = 0; i < n; i++) {
        v[i].a = acks[i];
        v[i].a.p->nproduces++;
        evaluate(&v[i]);
        if (v[i].a.p)
            dp->left++;
    }
    dp->next = r->produces;
    if (r->produces)
        r->produces->prev = dp;
    r->produces = dp;
    r->nproduces++;
    bk_req_hold(req);
    bk_req_set_abort(req, on_produce_abort, dp);
    if (dp->left == 0)
        dprod_finish(dp, 0, true);
    return 0;
}

/* ------------------------------ ISR writes ------------------------------ */

/* One ISR change, carried to the ZooKeeper worker and back. */
typedef struct isr_job {
    bk_broker *b; /* outlives the job (main's); b->repl may be gone */
    bk_loop *loop;
    char *topic;
    int32_t partition;
    int32_t leader, leader_epoch, controller_epoch;
    int32_t version; /* the state znode's, as last read */
    int rc;          /* worker's result */
    int32_t new_version;
    size_t nisr;
    int32_t isr[];
} isr_job;

static void isr_done(bk_loop *loop, void *arg);

/* Worker thread (zk == NULL: the worker stopped first). */
static void isr_write(struct bk_zk *zk, void *arg)
{
    isr_job *j = arg;
    j->rc = -BK_EIO;
    if (zk) {
        char path[BK_ZKC_PATH_MAX];
        bk_zkc_pstate st = {.leader = j->leader,
                            .leader_epoch = j->leader_epoch,
                            .controller_epoch = j->controller_epoch,
                            .nisr = (int32_t)j->nisr};
        memcpy(st.isr, j->isr, j->nisr * sizeof *j->isr);
        bk_buf data = BK_BUF_INIT;
        bk_zk_stat zst;
        j->rc = bk_zkc_path_partition_state(path, j->topic, j->partition);
        if (j->rc == 0)
            j->rc = bk_zkc_pstate_encode(&st, &data);
        if (j->rc == 0)
            j->rc = bk_zk_set(zk, path, data.data, data.len, j->version, &zst);
        if (j->rc == 0) {
            j->new_version = zst.version;
            /* Tell the controller (Kafka's isr_change_notification), so
             * that it can update the other brokers.  The state is written
             * already: a failure here is only logged. */
            bk_zkc_tp tp = {.partition = j->partition};
            snprintf(tp.topic, sizeof tp.topic, "%s", j->topic);
            bk_buf_reset(&data);
            int rc = bk_zkc_isr_change_encode(&tp, 1, &data);
            if (rc == 0)
                rc = bk_zk_create(zk, BK_ZKC_ISR_CHANGE_SEQ, data.data,
                                  data.len, BK_ZK_SEQUENTIAL, NULL, 0);
            if (rc != 0)
                BK_WARN(MOD,
                        "%s-%d: cannot write the ISR change "
                        "notification: %s",
                        j->topic, j->partition, bk_strerror(rc));
        }
        bk_buf_free(&data);
    }
    if (bk_loop_post(j->loop, isr_done, j) != 0) {
        BK_ERROR(MOD, "cannot post an ISR write result");
        free(j->topic);
        free(j);
    }
}

static void fmt_isr(char *out, size_t cap, const int32_t *v, size_t n)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && at + 12 < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s%d", i ? "," : "",
                               (int)v[i]);
}

/* Loop thread: the write's outcome. */
static void isr_done(bk_loop *loop, void *arg)
{
    (void)loop;
    isr_job *j = arg;
    bk_broker *b = j->b;
    bk_part *p = b->repl && b->parts
                     ? bk_parts_find(b->parts, j->topic, j->partition)
                     : NULL;
    if (p)
        p->isr_pending = false;
    char list[256];
    fmt_isr(list, sizeof list, j->isr, j->nisr);
    if (j->rc == 0 && p && p->is_leader && p->leader_epoch == j->leader_epoch) {
        int32_t *isr = malloc(j->nisr * sizeof *isr);
        if (isr) {
            memcpy(isr, j->isr, j->nisr * sizeof *isr);
            bk_metrics_isr_changed(b->metrics, p->nisr, j->nisr);
            free(p->isr);
            p->isr = isr;
            p->nisr = j->nisr;
            p->zk_version = j->new_version;
            BK_INFO(MOD, "%s-%d: ISR is now [%s] (state version %d)", p->topic,
                    p->index, list, (int)j->new_version);
            /* A smaller ISR may let the HW (and waiting produces) move;
             * waiting produces see the new size either way. */
            if (!update_hw(b->repl, p))
                check_produces(b->repl, p, false);
        }
    } else if (j->rc == -BK_ERANGE) {
        BK_WARN(MOD,
                "%s-%d: ISR change to [%s] lost a race (the state "
                "changed since version %d); waiting for the new state",
                j->topic, j->partition, list, (int)j->version);
    } else if (j->rc != 0) {
        BK_WARN(MOD, "%s-%d: ISR change to [%s] failed: %s", j->topic,
                j->partition, list, bk_strerror(j->rc));
    }
    free(j->topic);
    free(j);
}

/* Asks the worker to write isr[0..n) as p's ISR. */
static void propose_isr(bk_repl *r, bk_part *p, const int32_t *isr, size_t n)
{
    if (!r->b->zkb || p->isr_pending || p->zk_version < 0)
        return;
    isr_job *j = calloc(1, sizeof *j + n * sizeof *j->isr);
    if (!j || !(j->topic = strdup(p->topic))) {
        free(j);
        return;
    }
    j->b = r->b;
    j->loop = r->b->loop;
    j->partition = p->index;
    j->leader = p->leader;
    j->leader_epoch = p->leader_epoch;
    j->controller_epoch = p->controller_epoch;
    j->version = p->zk_version;
    j->nisr = n;
    memcpy(j->isr, isr, n * sizeof *isr);
    char from[256], to[256];
    fmt_isr(from, sizeof from, p->isr, p->nisr);
    fmt_isr(to, sizeof to, isr, n);
    BK_INFO(MOD, "%s-%d: %s ISR from [%s] to [%s]", p->topic, p->index,
            n < p->nisr ? "shrinking" : "expanding", from, to);
    if (bk_zkb_call(r->b->zkb, isr_write, j) != 0) {
        free(j->topic);
        free(j);
        return;
    }
    p->isr_pending = true;
}

static void on_isr_timer(bk_loop *loop, bk_timer *t, void *arg)
{
    bk_repl *r = arg;
    int32_t me = r->b->cfg->broker_id;
    int64_t now = bk_loop_now_ms(loop);
    int64_t lag = r->b->cfg->replica_lag_time_max_ms;
    for (bk_part *p = r->b->parts ? bk_parts_first(r->b->parts) : NULL; p;
         p = p->next) {
        if (!p->is_leader || p->isr_pending || p->nisr <= 1)
            continue;
        int32_t keep[BK_TOPIC_MAX_RF];
        size_t n = 0;
        for (size_t i = 0; i < p->nisr && n < BK_TOPIC_MAX_RF; i++) {
            int32_t id = p->isr[i];
            bk_part_follower *f = id == me ? NULL : follower(p, id);
            /* A member that is not a replica any more goes too. */
            if (id == me || (f && now - f->last_caught_up_ms <= lag))
                keep[n++] = id;
        }
        if (n < p->nisr)
            propose_isr(r, p, keep, n);
    }
    bk_loop_timer_arm(loop, t, isr_period(r));
}

/* Leader: follower f may rejoin the ISR. */
static void maybe_expand(bk_repl *r, bk_part *p, const bk_part_follower *f)
{
    if (p->isr_pending || contains(p->isr, p->nisr, f->id) ||
        p->nisr >= BK_TOPIC_MAX_RF || f->leo < p->hw)
        return;
    /* It must also have reached the start of our epoch (Kafka: the
     * leader epoch start offset), so that it holds nothing of an older
     * leader that we truncated away. */
    int64_t start = bk_log_end_offset(p->log);
    for (int i = bk_log_epoch_count(p->log) - 1; i >= 0; i--) {
        int32_t e;
        int64_t so;
        bk_log_epoch_entry(p->log, i, &e, &so);
        if (e == p->leader_epoch) {
            start = so;
            break;
        }
        if (e < p->leader_epoch)
            break;
    }
    if (f->leo < start)
        return;
    int32_t isr[BK_TOPIC_MAX_RF];
    memcpy(isr, p->isr, p->nisr * sizeof *isr);
    isr[p->nisr] = f->id;
    propose_isr(r, p, isr, p->nisr + 1);
}

/* --------------------------- leader: the HW --------------------------- */

static bk_part_follower *follower(bk_part *p, int32_t id)
{
    for (size_t i = 0; i < p->nfollowers; i++)
        if (p->followers[i].id == id)
            return &p->followers[i];
    return NULL;
}

/* Recomputes the leader's high watermark; wakes consumers when it moved.
 * True when it moved. */
static bool update_hw(bk_repl *r, bk_part *p)
{
    int32_t me = r->b->cfg->broker_id;
    int64_t leo = bk_log_end_offset(p->log);
    int64_t hw = leo;
    for (size_t i = 0; i < p->nisr; i++) {
        if (p->isr[i] == me)
            continue;
        bk_part_follower *f = follower(p, p->isr[i]);
        /* An ISR member we have not heard from under this leadership (or
         * that is not even a replica) may lack anything above the HW. */
        int64_t fl = f && f->leo >= 0 ? f->leo : p->hw;
        if (fl < hw)
            hw = fl;
    }
    if (hw <= p->hw)
        return false;
    assert(hw <= leo);
    p->hw = hw;
    bk_fw_hw_grew(r->b->fwq, p);
    check_produces(r, p, false);
    return true;
}

/* A new leadership (or new replicas): one entry per other replica.  Every
 * follower starts as caught up now (Kafka does the same), so that an ISR
 * member gets replica.lag.time.max.ms to show up. */
static void reset_followers(bk_repl *r, bk_part *p)
{
    int32_t me = r->b->cfg->broker_id;
    /* the clock, not the loop's cached time: creating thousands of
     * partitions in one loop iteration takes tens of seconds, and their
     * followers would start already beyond replica.lag.time.max.ms */
    int64_t now = bk_clock_mono_ms();
    bk_part_follower *v = calloc(p->nreplicas ? p->nreplicas : 1, sizeof *v);
    if (!v) {
        BK_ERROR(MOD, "%s-%d: out of memory for the follower table", p->topic,
                 p->index);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < p->nreplicas; i++) {
        if (p->replicas[i] == me)
            continue;
        bk_part_follower *old = p->followers_epoch == p->leader_epoch
                                    ? follower(p, p->replicas[i])
                                    : NULL;
        if (old) {
            v[n++] = *old;
            continue;
        }
        v[n].id = p->replicas[i];
        v[n].leo = -1;
        v[n].last_caught_up_ms = now;
        v[n].last_fetch_ms = 0;
        v[n].leo_at_last_fetch = -1;
        n++;
    }
    free(p->followers);
    p->followers = v;
    p->nfollowers = n;
    p->followers_epoch = p->leader_epoch;
}

/* ------------------------------- public ------------------------------- */

void bk_repl_part_changed(bk_repl *r, bk_part *p, bool removing)
{
    check_produces(r, p, removing);
    if (removing || !p->assigned) {
        stop_fetching(r, p);
        free(p->followers);
        p->followers = NULL;
        p->nfollowers = 0;
        p->followers_epoch = -1;
        return;
    }
    if (p->is_leader) {
        p->follow_epoch = -1;
        p->truncating = false;
        stop_fetching(r, p);
        reset_followers(r, p);
        update_hw(r, p);
        return;
    }
    free(p->followers);
    p->followers = NULL;
    p->nfollowers = 0;
    p->followers_epoch = -1;
    if (p->leader >= 0 && p->leader != r->b->cfg->broker_id &&
        contains(p->replicas, p->nreplicas, r->b->cfg->broker_id)) {
        /* A new leadership: our log may hold records the new leader does
         * not have (we led, or followed a leader that lost them): find
         * where the logs agree before fetching (KIP-101), never
         * truncating blindly to the high watermark. */
        if (p->follow_epoch != p->leader_epoch) {
            p->follow_epoch = p->leader_epoch;
            p->truncating = true;
        }
        start_fetching(r, p);
    } else {
        stop_fetching(r, p);
        p->follow_epoch = -1;
        p->truncating = false;
    }
}

bool bk_repl_follower_fetch(bk_repl *r, bk_part *p, int32_t id,
                            int64_t fetch_offset)
{
    assert(p->is_leader);
    bk_part_follower *f = follower(p, id);
    if (!f)
        return false;
    int64_t now = bk_loop_now_ms(r->b->loop);
    int64_t leo = bk_log_end_offset(p->log);
    /* Kafka's rule (Replica.updateFetchState): caught up now when it asks
     * for our LEO; caught up at its previous fetch when it asks for what
     * was our LEO then. */
    if (fetch_offset >= leo)
        f->last_caught_up_ms = now;
    else if (f->last_fetch_ms > 0 && fetch_offset >= f->leo_at_last_fetch &&
             f->last_fetch_ms > f->last_caught_up_ms)
        f->last_caught_up_ms = f->last_fetch_ms;
    f->leo = fetch_offset <= leo ? fetch_offset : leo;
    f->last_fetch_ms = now;
    f->leo_at_last_fetch = leo;
    update_hw(r, p);
    maybe_expand(r, p, f);
    return true;
}

void bk_repl_appended(bk_repl *r, bk_part *p, size_t bytes)
{
    bk_fw_leo_grew(r->b->fwq, p, bytes);
    update_hw(r, p);
}

void bk_repl_follower_hw(bk_repl *r, bk_part *p, int64_t leader_hw)
{
    (void)r;
    int64_t leo = bk_log_end_offset(p->log);
    int64_t hw = leader_hw < leo ? leader_hw : leo;
    if (hw > p->hw)
        p->hw = hw;
}
