/*
 * fetchwait.c -- delayed fetches (see fetchwait.h).
 */
#include "broker/fetchwait.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/err.h"

typedef struct bk_fw bk_fw;

/* One fetch's membership in one partition's waiter list. */
typedef struct watch {
    bk_fw *fw;
    bk_part *part;
    struct watch *prev, *next;
} watch;

struct bk_fw {
    bk_fwq *q;
    bk_req *req; /* held */
    bk_timer timer;
    int64_t bytes; /* available, as estimated */
    int64_t min_bytes;
    watch *watches; /* n of them, one per partition */
    size_t n;
    bk_fw_run_fn *run;
    bk_fw_drop_fn *drop;
    void *arg;
    bool replica; /* a follower's fetch: counts LEO growth, not HW growth */
    bk_fw *prev, *next; /* queue's list */
};

struct bk_fwq {
    bk_loop *loop;
    bk_fw *all;
    size_t count;
};

bk_fwq *bk_fwq_new(bk_loop *loop)
{
    bk_fwq *q = calloc(1, sizeof *q);
    if (q)
        q->loop = loop;
    return q;
}

void bk_fwq_free(bk_fwq *q)
{
    if (!q)
        return;
    bk_fw_wake_all(q);
    assert(q->count == 0);
    free(q);
}

size_t bk_fw_count(const bk_fwq *q)
{
    return q->count;
}

/* Unlinks fw from everything; the request stays held. */
static void detach(bk_fw *fw)
{
    bk_fwq *q = fw->q;
    bk_loop_timer_cancel(q->loop, &fw->timer);
    for (size_t i = 0; i < fw->n; i++) {
        watch *w = &fw->watches[i];
        if (w->prev)
            w->prev->next = w->next;
        else
            w->part->waiters = w->next;
        if (w->next)
            w->next->prev = w->prev;
    }
    if (fw->prev)
        fw->prev->next = fw->next;
    else
        q->all = fw->next;
    if (fw->next)
        fw->next->prev = fw->prev;
    q->count--;
}

static void finish(bk_fw *fw, bool run)
{
    detach(fw);
    bk_req *req = fw->req;
    bk_req_set_abort(req, NULL, NULL);
    if (run)
        fw->run(req, fw->arg);
    if (fw->drop)
        fw->drop(fw->arg);
    free(fw->watches);
    free(fw);
    bk_req_release(req);
}

static void on_timeout(bk_loop *loop, bk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    finish(arg, true);
}

/* The connection closed while we waited. */
static void on_abort(bk_req *req)
{
    finish(req->ctx, false);
}

static int wait_impl(bk_fwq *q, bk_req *req, bk_part *const *parts, size_t n,
                     int64_t have, int64_t min_bytes, int64_t max_wait_ms,
                     bk_fw_run_fn *run, bk_fw_drop_fn *drop, void *arg,
                     bool replica)
{
    bk_fw *fw = calloc(1, sizeof *fw);
    watch *ws = calloc(n ? n : 1, sizeof *ws);
    if (!fw || !ws) {
        free(fw);
        free(ws);
        return -BK_ENOMEM;
    }
    fw->q = q;
    fw->req = req;
    fw->bytes = have;
    fw->min_bytes = min_bytes;
    fw->watches = ws;
    fw->n = n;
    fw->run = run;
    fw->drop = drop;
    fw->arg = arg;
    fw->replica = replica;
    bk_timer_init(&fw->timer, on_timeout, fw);
    if (bk_loop_timer_arm(q->loop, &fw->timer, max_wait_ms) != 0) {
        free(ws);
        free(fw);
        return -BK_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        watch *w = &ws[i];
        w->fw = fw;
        w->part = parts[i];
        w->prev = NULL;
        w->next = parts[i]->waiters;
        if (w->next)
            w->next->prev = w;
        parts[i]->waiters = w;
    }
    fw->next = q->all;
    if (q->all)
        q->all->prev = fw;
    q->all = fw;
    q->count++;
    bk_req_hold(req);
    bk_req_set_abort(req, on_abort, fw);
    return 0;
}

int bk_fw_wait(bk_fwq *q, bk_req *req, bk_part *const *parts, size_t n,
               int64_t have, int64_t min_bytes, int64_t max_wait_ms,
               bk_fw_run_fn *run, bk_fw_drop_fn *drop, void *arg)
{
    return wait_impl(q, req, parts, n, have, min_bytes, max_wait_ms, run, drop,
                     arg, false);
}

int bk_fw_wait_replica(bk_fwq *q, bk_req *req, bk_part *const *parts, size_t n,
                       int64_t have, int64_t min_bytes, int64_t max_wait_ms,
                       bk_fw_run_fn *run, bk_fw_drop_fn *drop, void *arg)
{
    return wait_impl(q, req, parts, n, have, min_bytes, max_wait_ms, run, drop,
                     arg, true);
}

/* Adds bytes to the waiters of p of the given kinds, then completes those
 * that have enough. */
static void grew(bk_part *p, int64_t bytes, bool replicas, bool consumers)
{
    for (watch *w = p->waiters; w; w = w->next)
        if (w->fw->replica ? replicas : consumers)
            w->fw->bytes += bytes;
    /* Completing unlinks from this very list: restart after each. */
    for (;;) {
        watch *w = p->waiters;
        while (w && w->fw->bytes < w->fw->min_bytes)
            w = w->next;
        if (!w)
            break;
        finish(w->fw, true);
    }
}

void bk_fw_appended(bk_fwq *q, bk_part *p, size_t bytes)
{
    (void)q;
    grew(p, (int64_t)bytes, true, true);
}

void bk_fw_leo_grew(bk_fwq *q, bk_part *p, size_t bytes)
{
    (void)q;
    grew(p, (int64_t)bytes, true, false);
}

void bk_fw_hw_grew(bk_fwq *q, bk_part *p)
{
    (void)q;
    /* How many bytes the new HW uncovers is not known here; counting "a
     * lot" may complete a consumer's fetch early, never late. */
    grew(p, INT64_MAX / 4, false, true);
}

void bk_fw_wake(bk_fwq *q, bk_part *p)
{
    (void)q;
    while (p->waiters) {
        watch *w = p->waiters;
        finish(w->fw, true);
    }
}

void bk_fw_wake_all(bk_fwq *q)
{
    while (q->all)
        finish(q->all, true);
}
