/*
 * test_zk.c -- coordinator/zk against a real ZooKeeper (tests/harness):
 * the synchronous helpers, versions, ephemeral and sequential nodes,
 * multi (atomic: a failing op leaves nothing behind), one-shot watches,
 * chroot creation, the bounded connect, and the faults a broker must
 * live through: the server restarting (same session comes back), the
 * session expiring (callback, then bk_zk_reopen gives a new session and
 * the old ephemerals are gone), and in a 3-node ensemble the loss of the
 * very server the session is connected to.
 *
 * One standalone server serves the whole first suite (each test works in
 * its own subtree), one ensemble the second.
 */
#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* the twin-session trick of the expiry test needs the raw C client */
#define THREADED 1
#include <zookeeper/zookeeper.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "coordinator/zk.h"
#include "tests/harness/harness.h"
#include "tests/unit/cu_main.h"

static bk_h_zk *zks; /* standalone, for the first suite */
static bk_h_zk *zke; /* ensemble, for the second */

/* ---------------- events seen by callbacks (other thread) ---------------- */

typedef struct events {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    int kind[64]; /* bk_zk_state or 100 + bk_zk_event */
    char path[64][128];
} events;

static void ev_init(events *e)
{
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
}

static void ev_destroy(events *e)
{
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
}

static void ev_push(events *e, int kind, const char *path)
{
    pthread_mutex_lock(&e->mu);
    if (e->n < 64) {
        e->kind[e->n] = kind;
        snprintf(e->path[e->n], sizeof e->path[0], "%s", path ? path : "");
        e->n++;
    }
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static void on_session(void *arg, bk_zk_state st)
{
    ev_push(arg, (int)st, NULL);
}

static void on_watch(void *arg, bk_zk_event ev, const char *path)
{
    ev_push(arg, 100 + (int)ev, path);
}

/* Waits up to ms for an event of `kind` at index >= from; returns its
 * index or -1. */
static int ev_wait(events *e, int kind, int from, int ms)
{
    int64_t end = bk_clock_mono_ms() + ms;
    pthread_mutex_lock(&e->mu);
    int found = -1;
    for (;;) {
        for (int i = from; i < e->n && found < 0; i++)
            if (e->kind[i] == kind)
                found = i;
        if (found >= 0 || bk_clock_mono_ms() >= end)
            break;
        pthread_mutex_unlock(&e->mu);
        bk_h_sleep_ms(10);
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return found;
}

static int ev_count(events *e)
{
    pthread_mutex_lock(&e->mu);
    int n = e->n;
    pthread_mutex_unlock(&e->mu);
    return n;
}

static bk_zk *open_zk(const char *connect, events *e, int session_ms)
{
    bk_zk_opts o = {.connect = connect,
                    .session_timeout_ms = session_ms,
                    .connect_timeout_ms = 10000,
                    .on_session = e ? on_session : NULL,
                    .arg = e};
    bk_zk *zk = NULL;
    char err[300];
    int rc = bk_zk_open(&o, &zk, err, sizeof err);
    if (rc)
        printf("\nbk_zk_open(%s): %s\n", connect, err);
    return zk;
}

static int init_standalone(void)
{
    zks = bk_h_zk_start("zk-standalone", 1);
    return zks ? 0 : -1;
}

static int clean_standalone(void)
{
    bk_h_zk_stop(zks);
    zks = NULL;
    return 0;
}

/* ------------------------------ basic ops ------------------------------ */

static void test_basic_ops(void)
{
    bk_zk *zk = open_zk(zks->connect, NULL, 6000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    CU_ASSERT_EQUAL(bk_zk_get_state(zk), BK_ZK_CONNECTED);
    CU_ASSERT_NOT_EQUAL(bk_zk_session_id(zk), 0);
    int t = bk_zk_negotiated_timeout(zk);
    CU_ASSERT_TRUE(t >= 1000 && t <= 10000); /* [2, 20] x tickTime 500 */

    CU_ASSERT_EQUAL(bk_zk_mkdirs(zk, "/basic/a/b"), 0);
    CU_ASSERT_EQUAL(bk_zk_mkdirs(zk, "/basic/a/b"), 0); /* idempotent */
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/basic/n", "v1", 2, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/basic/n", "v1", 2, 0, NULL, 0),
                    -BK_EEXIST);
    CU_ASSERT_EQUAL(bk_zk_last_error(), ZNODEEXISTS);
    /* missing parent, then with BK_ZK_PARENTS */
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/basic/x/y/z", "d", 1, 0, NULL, 0),
                    -BK_ENOENT);
    CU_ASSERT_EQUAL(bk_zk_last_error(), ZNONODE);
    CU_ASSERT_EQUAL(
        bk_zk_create(zk, "/basic/x/y/z", "d", 1, BK_ZK_PARENTS, NULL, 0), 0);

    bk_buf b = BK_BUF_INIT;
    bk_zk_stat st;
    CU_ASSERT_EQUAL(bk_zk_get(zk, "/basic/n", &b, &st, NULL, NULL), 0);
    CU_ASSERT_EQUAL(b.len, 2);
    CU_ASSERT_EQUAL(memcmp(b.data, "v1", 2), 0);
    CU_ASSERT_EQUAL(st.version, 0);
    CU_ASSERT_EQUAL(st.data_length, 2);
    CU_ASSERT_EQUAL(st.ephemeral_owner, 0);
    /* conditional set: right version wins, stale version loses */
    bk_zk_stat nst;
    CU_ASSERT_EQUAL(bk_zk_set(zk, "/basic/n", "v2", 2, 0, &nst), 0);
    CU_ASSERT_EQUAL(nst.version, 1);
    CU_ASSERT_EQUAL(bk_zk_set(zk, "/basic/n", "v3", 2, 0, NULL), -BK_ERANGE);
    CU_ASSERT_EQUAL(bk_zk_last_error(), ZBADVERSION);
    CU_ASSERT_EQUAL(bk_zk_set(zk, "/basic/n", "v3", 2, -1, NULL), 0);
    CU_ASSERT_EQUAL(bk_zk_get(zk, "/basic/n", &b, &st, NULL, NULL), 0);
    CU_ASSERT_EQUAL(memcmp(b.data, "v3", 2), 0);
    CU_ASSERT_EQUAL(st.version, 2);
    CU_ASSERT_EQUAL(bk_zk_set(zk, "/basic/none", "x", 1, -1, NULL), -BK_ENOENT);

    /* exists */
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/basic/n", &st, NULL, NULL), 0);
    CU_ASSERT_EQUAL(st.version, 2);
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/basic/none", NULL, NULL, NULL),
                    -BK_ENOENT);

    /* children, sorted */
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/basic/c", NULL, 0, 0, NULL, 0), 0);
    const char *names[] = {"/basic/c/zeta", "/basic/c/alpha", "/basic/c/mu"};
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(bk_zk_create(zk, names[i], NULL, 0, 0, NULL, 0), 0);
    bk_zk_strings kids;
    CU_ASSERT_EQUAL_FATAL(bk_zk_children(zk, "/basic/c", &kids, NULL, NULL), 0);
    CU_ASSERT_EQUAL(kids.n, 3);
    if (kids.n == 3) {
        CU_ASSERT_STRING_EQUAL(kids.v[0], "alpha");
        CU_ASSERT_STRING_EQUAL(kids.v[1], "mu");
        CU_ASSERT_STRING_EQUAL(kids.v[2], "zeta");
    }
    bk_zk_strings_free(&kids);
    CU_ASSERT_EQUAL(bk_zk_children(zk, "/basic/none", &kids, NULL, NULL),
                    -BK_ENOENT);
    CU_ASSERT_EQUAL(kids.n, 0);

    /* the tree, children before parents */
    bk_zk_strings tree;
    CU_ASSERT_EQUAL_FATAL(bk_zk_tree(zk, "/basic/x", &tree), 0);
    CU_ASSERT_EQUAL(tree.n, 3);
    if (tree.n == 3) {
        CU_ASSERT_STRING_EQUAL(tree.v[0], "/basic/x/y/z");
        CU_ASSERT_STRING_EQUAL(tree.v[1], "/basic/x/y");
        CU_ASSERT_STRING_EQUAL(tree.v[2], "/basic/x");
    }
    bk_zk_strings_free(&tree);

    /* delete: versions, not-empty */
    CU_ASSERT_EQUAL(bk_zk_delete(zk, "/basic/c", -1), -BK_EEXIST);
    CU_ASSERT_EQUAL(bk_zk_last_error(), ZNOTEMPTY);
    CU_ASSERT_EQUAL(bk_zk_delete(zk, "/basic/n", 1), -BK_ERANGE);
    CU_ASSERT_EQUAL(bk_zk_delete(zk, "/basic/n", 2), 0);
    CU_ASSERT_EQUAL(bk_zk_delete(zk, "/basic/n", -1), -BK_ENOENT);

    /* no data reads as empty; big data (past the first 4 KiB read) */
    CU_ASSERT_EQUAL(bk_zk_get(zk, "/basic/c", &b, &st, NULL, NULL), 0);
    CU_ASSERT_EQUAL(b.len, 0);
    size_t big = 300 * 1024;
    char *data = malloc(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 31 + 7);
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/basic/big", data, big, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(bk_zk_get(zk, "/basic/big", &b, &st, NULL, NULL), 0);
    CU_ASSERT_EQUAL(b.len, big);
    CU_ASSERT_EQUAL(memcmp(b.data, data, big), 0);
    free(data);
    bk_buf_free(&b);
    bk_zk_close(zk);
}

static void test_ephemeral_and_sequential(void)
{
    bk_zk *a = open_zk(zks->connect, NULL, 6000);
    bk_zk *obs = open_zk(zks->connect, NULL, 6000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(obs);
    CU_ASSERT_EQUAL(bk_zk_mkdirs(a, "/eph"), 0);
    CU_ASSERT_EQUAL(
        bk_zk_create(a, "/eph/me", "x", 1, BK_ZK_EPHEMERAL, NULL, 0), 0);
    bk_zk_stat st;
    CU_ASSERT_EQUAL(bk_zk_exists(obs, "/eph/me", &st, NULL, NULL), 0);
    CU_ASSERT_EQUAL(st.ephemeral_owner, bk_zk_session_id(a));
    /* ephemerals cannot have children */
    CU_ASSERT_EQUAL(bk_zk_create(a, "/eph/me/kid", NULL, 0, 0, NULL, 0),
                    -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_zk_last_error(), ZNOCHILDRENFOREPHEMERALS);

    char p1[128], p2[128];
    CU_ASSERT_EQUAL(
        bk_zk_create(a, "/eph/seq-", "1", 1, BK_ZK_SEQUENTIAL, p1, sizeof p1),
        0);
    CU_ASSERT_EQUAL(
        bk_zk_create(a, "/eph/seq-", "2", 1, BK_ZK_SEQUENTIAL, p2, sizeof p2),
        0);
    CU_ASSERT_STRING_EQUAL(p1, "/eph/seq-0000000001");
    CU_ASSERT_STRING_EQUAL(p2, "/eph/seq-0000000002");

    /* closing the session removes its ephemerals at once */
    bk_zk_close(a);
    CU_ASSERT_EQUAL(bk_zk_exists(obs, "/eph/me", NULL, NULL, NULL), -BK_ENOENT);
    CU_ASSERT_EQUAL(bk_zk_exists(obs, p1, NULL, NULL, NULL), 0);
    bk_zk_close(obs);
}

static void test_multi(void)
{
    bk_zk *zk = open_zk(zks->connect, NULL, 6000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    CU_ASSERT_EQUAL(bk_zk_mkdirs(zk, "/multi"), 0);
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/multi/v", "0", 1, 0, NULL, 0), 0);
    char seq[128] = "";
    bk_zk_op ops[4] = {
        bk_zk_op_create("/multi/a", "A", 1, 0),
        bk_zk_op_set("/multi/v", "1", 1, 0),
        bk_zk_op_check("/multi/v", 1), /* sees the set before it */
        bk_zk_op_create("/multi/s-", NULL, 0, BK_ZK_SEQUENTIAL),
    };
    ops[3].out_path = seq;
    ops[3].out_len = sizeof seq;
    int failed = 99;
    CU_ASSERT_EQUAL(bk_zk_multi(zk, ops, 4, &failed), 0);
    CU_ASSERT_EQUAL(failed, -1);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(ops[i].zrc, ZOK);
    CU_ASSERT_STRING_EQUAL(seq, "/multi/s-0000000002");

    /* a failing op in the middle: nothing of the multi is applied */
    bk_zk_op bad[3] = {
        bk_zk_op_create("/multi/b", "B", 1, 0),
        bk_zk_op_set("/multi/v", "2", 1, 0), /* stale: version is 1 */
        bk_zk_op_delete("/multi/a", -1),
    };
    CU_ASSERT_EQUAL(bk_zk_multi(zk, bad, 3, &failed), -BK_ERANGE);
    CU_ASSERT_EQUAL(failed, 1);
    CU_ASSERT_EQUAL(bk_zk_last_error(), ZBADVERSION);
    CU_ASSERT_EQUAL(bad[1].zrc, ZBADVERSION);
    CU_ASSERT_EQUAL(bad[2].zrc, ZRUNTIMEINCONSISTENCY);
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/multi/b", NULL, NULL, NULL), -BK_ENOENT);
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/multi/a", NULL, NULL, NULL), 0);
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_zk_get(zk, "/multi/v", &b, NULL, NULL, NULL), 0);
    CU_ASSERT_EQUAL(b.len, 1);
    CU_ASSERT_EQUAL(b.data[0], '1');
    /* creating under a missing parent in a multi */
    bk_zk_op orphan = bk_zk_op_create("/multi/no/kid", NULL, 0, 0);
    CU_ASSERT_EQUAL(bk_zk_multi(zk, &orphan, 1, &failed), -BK_ENOENT);
    CU_ASSERT_EQUAL(failed, 0);
    bk_buf_free(&b);
    bk_zk_close(zk);
}

/* bk_zk_multi_batches: independent multis sent at once, applied in
 * order; a failing one leaves the others applied. */
static void test_multi_batches(void)
{
    bk_zk *zk = open_zk(zks->connect, NULL, 6000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    CU_ASSERT_EQUAL(bk_zk_mkdirs(zk, "/mb"), 0);
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/mb/v", "0", 1, 0, NULL, 0), 0);
    enum { NB = 20 };
    bk_zk_op ops[NB][2];
    bk_zk_op *v[NB];
    int n[NB], rcs[NB], failed[NB];
    char paths[NB][32];
    for (int i = 0; i < NB; i++) {
        snprintf(paths[i], sizeof paths[i], "/mb/n%02d", i);
        /* Each batch bumps /mb/v from version i to i + 1, so they only
         * all succeed if applied in order -- except batch 7, which
         * expects a wrong version and must fail alone. */
        ops[i][0] = bk_zk_op_set("/mb/v", "x", 1, i == 7 ? 999 : i - (i > 7));
        ops[i][1] = bk_zk_op_create(paths[i], NULL, 0, 0);
        v[i] = ops[i];
        n[i] = 2;
    }
    CU_ASSERT_EQUAL(bk_zk_multi_batches(zk, v, n, NB, rcs, failed), 0);
    for (int i = 0; i < NB; i++) {
        int want = i == 7 ? -BK_ERANGE : 0;
        CU_ASSERT_EQUAL(rcs[i], want);
        CU_ASSERT_EQUAL(failed[i], i == 7 ? 0 : -1);
        CU_ASSERT_EQUAL(bk_zk_exists(zk, paths[i], NULL, NULL, NULL),
                        i == 7 ? -BK_ENOENT : 0);
    }
    bk_zk_stat st;
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/mb/v", &st, NULL, NULL), 0);
    CU_ASSERT_EQUAL(st.version, NB - 1);
    bk_zk_close(zk);
}

static void test_watches(void)
{
    events ev;
    ev_init(&ev);
    bk_zk *zk = open_zk(zks->connect, NULL, 6000);
    bk_zk *other = open_zk(zks->connect, NULL, 6000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    CU_ASSERT_PTR_NOT_NULL_FATAL(other);
    CU_ASSERT_EQUAL(bk_zk_mkdirs(zk, "/w/kids"), 0);
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/w/data", "0", 1, 0, NULL, 0), 0);
    bk_buf b = BK_BUF_INIT;

    /* data watch: one event for two changes (one-shot) */
    CU_ASSERT_EQUAL(bk_zk_get(zk, "/w/data", &b, NULL, on_watch, &ev), 0);
    CU_ASSERT_EQUAL(bk_zk_set(other, "/w/data", "1", 1, -1, NULL), 0);
    CU_ASSERT_EQUAL(bk_zk_set(other, "/w/data", "2", 1, -1, NULL), 0);
    int i = ev_wait(&ev, 100 + BK_ZK_EV_CHANGED, 0, 5000);
    CU_ASSERT_TRUE_FATAL(i >= 0);
    CU_ASSERT_STRING_EQUAL(ev.path[i], "/w/data");
    bk_h_sleep_ms(200);
    CU_ASSERT_EQUAL(ev_count(&ev), 1);

    /* children watch */
    bk_zk_strings kids;
    CU_ASSERT_EQUAL(bk_zk_children(zk, "/w/kids", &kids, on_watch, &ev), 0);
    CU_ASSERT_EQUAL(kids.n, 0);
    bk_zk_strings_free(&kids);
    CU_ASSERT_EQUAL(bk_zk_create(other, "/w/kids/k1", NULL, 0, 0, NULL, 0), 0);
    i = ev_wait(&ev, 100 + BK_ZK_EV_CHILD, 1, 5000);
    CU_ASSERT_TRUE(i >= 0);
    if (i >= 0)
        CU_ASSERT_STRING_EQUAL(ev.path[i], "/w/kids");

    /* exists watch on a missing node fires on creation */
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/w/later", NULL, on_watch, &ev),
                    -BK_ENOENT);
    CU_ASSERT_EQUAL(bk_zk_create(other, "/w/later", NULL, 0, 0, NULL, 0), 0);
    i = ev_wait(&ev, 100 + BK_ZK_EV_CREATED, 2, 5000);
    CU_ASSERT_TRUE(i >= 0);

    /* data watch fires on deletion */
    CU_ASSERT_EQUAL(bk_zk_get(zk, "/w/later", &b, NULL, on_watch, &ev), 0);
    CU_ASSERT_EQUAL(bk_zk_delete(other, "/w/later", -1), 0);
    i = ev_wait(&ev, 100 + BK_ZK_EV_DELETED, 3, 5000);
    CU_ASSERT_TRUE(i >= 0);

    /* a get watch on a missing node is not set (ZooKeeper's rule); its
     * record is freed at once (ASan checks) */
    CU_ASSERT_EQUAL(bk_zk_get(zk, "/w/missing", &b, NULL, on_watch, &ev),
                    -BK_ENOENT);
    /* watches that never fire are freed by close; none fires after it */
    CU_ASSERT_EQUAL(bk_zk_get(zk, "/w/data", &b, NULL, on_watch, &ev), 0);
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/w/never", NULL, on_watch, &ev),
                    -BK_ENOENT);
    int before = ev_count(&ev);
    bk_zk_close(zk);
    CU_ASSERT_EQUAL(bk_zk_set(other, "/w/data", "3", 1, -1, NULL), 0);
    CU_ASSERT_EQUAL(bk_zk_create(other, "/w/never", NULL, 0, 0, NULL, 0), 0);
    bk_h_sleep_ms(300);
    CU_ASSERT_EQUAL(ev_count(&ev), before);
    bk_buf_free(&b);
    bk_zk_close(other);
    ev_destroy(&ev);
}

static void test_chroot(void)
{
    char connect[400];
    snprintf(connect, sizeof connect, "%s/brook/t/deep", zks->connect);
    bk_zk *zk = open_zk(connect, NULL, 6000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    CU_ASSERT_STRING_EQUAL(bk_zk_connect_string(zk), connect);
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/x", "in", 2, 0, NULL, 0), 0);
    char seq[128];
    CU_ASSERT_EQUAL(
        bk_zk_create(zk, "/s-", NULL, 0, BK_ZK_SEQUENTIAL, seq, sizeof seq), 0);
    CU_ASSERT_STRING_EQUAL(seq, "/s-0000000001"); /* relative to chroot */
    bk_zk_op op = bk_zk_op_create("/m-", NULL, 0, BK_ZK_SEQUENTIAL);
    char mseq[128] = "";
    op.out_path = mseq;
    op.out_len = sizeof mseq;
    CU_ASSERT_EQUAL(bk_zk_multi(zk, &op, 1, NULL), 0);
    CU_ASSERT_STRING_EQUAL(mseq, "/m-0000000002");
    bk_zk_strings tree;
    CU_ASSERT_EQUAL(bk_zk_tree(zk, "/", &tree), 0);
    CU_ASSERT_EQUAL(tree.n, 4); /* /x, /s-.., /m-.., and "/" */
    bk_zk_strings_free(&tree);

    /* seen from the root */
    bk_zk *root = open_zk(zks->connect, NULL, 6000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_zk_get(root, "/brook/t/deep/x", &b, NULL, NULL, NULL),
                    0);
    CU_ASSERT_EQUAL(b.len, 2);
    bk_buf_free(&b);
    /* an existing chroot is fine too */
    bk_zk *again = open_zk(connect, NULL, 6000);
    CU_ASSERT_PTR_NOT_NULL(again);
    CU_ASSERT_EQUAL(bk_zk_exists(again, "/x", NULL, NULL, NULL), 0);
    bk_zk_close(again);
    bk_zk_close(root);
    bk_zk_close(zk);
}

static void test_connect_bounded(void)
{
    char connect[64], err[300];
    int port = bk_h_free_port(); /* nothing listens there */
    snprintf(connect, sizeof connect, "127.0.0.1:%d", port);
    bk_zk_opts o = {.connect = connect, .connect_timeout_ms = 700};
    bk_zk *zk = (bk_zk *)1;
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(bk_zk_open(&o, &zk, err, sizeof err), -BK_EIO);
    int64_t took = bk_clock_mono_ms() - t0;
    CU_ASSERT_PTR_NULL(zk);
    CU_ASSERT_TRUE(took >= 650 && took < 3000);
    char want[200];
    snprintf(want, sizeof want,
             "cannot connect to ZooKeeper at %s within 700 ms", connect);
    CU_ASSERT_STRING_EQUAL(err, want);

    /* with a chroot the bound holds as well (the chroot step fails) */
    snprintf(connect, sizeof connect, "127.0.0.1:%d/brook", port);
    t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(bk_zk_open(&o, &zk, err, sizeof err), -BK_EIO);
    CU_ASSERT_TRUE(bk_clock_mono_ms() - t0 < 3000);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "within 700 ms"));

    /* a host that does not resolve */
    o.connect = "no-such-host.invalid:2181";
    t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(bk_zk_open(&o, &zk, err, sizeof err), -BK_EIO);
    CU_ASSERT_TRUE(bk_clock_mono_ms() - t0 < 5000);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no-such-host.invalid:2181"));

    /* a malformed connect string is a usage error, not a network one */
    o.connect = "127.0.0.1";
    CU_ASSERT_EQUAL(bk_zk_open(&o, &zk, err, sizeof err), -BK_EINVAL);
}

/* The server goes away and comes back within the session timeout: the
 * same session resumes (ephemerals kept); in between, calls fail with
 * -BK_EIO quickly instead of hanging. */
static void test_server_restart(void)
{
    events ev;
    ev_init(&ev);
    bk_zk *zk = open_zk(zks->connect, &ev, 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    CU_ASSERT_TRUE(ev_wait(&ev, BK_ZK_CONNECTED, 0, 1000) >= 0);
    int64_t sid = bk_zk_session_id(zk);
    CU_ASSERT_EQUAL(bk_zk_mkdirs(zk, "/restart"), 0);
    CU_ASSERT_EQUAL(
        bk_zk_create(zk, "/restart/e", NULL, 0, BK_ZK_EPHEMERAL, NULL, 0), 0);
    int mark = ev_count(&ev);
    bk_h_zk_kill_node(zks, 0);
    CU_ASSERT_TRUE(ev_wait(&ev, BK_ZK_DISCONNECTED, mark, 5000) >= 0);
    CU_ASSERT_EQUAL(bk_zk_get_state(zk), BK_ZK_DISCONNECTED);
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/restart", NULL, NULL, NULL), -BK_EIO);
    CU_ASSERT_TRUE(bk_clock_mono_ms() - t0 < 8000);
    CU_ASSERT_EQUAL(bk_h_zk_start_node(zks, 0, true), 0);
    CU_ASSERT_TRUE(ev_wait(&ev, BK_ZK_CONNECTED, mark, 15000) >= 0);
    CU_ASSERT_EQUAL(bk_zk_session_id(zk), sid);
    bk_zk_stat st;
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/restart/e", &st, NULL, NULL), 0);
    CU_ASSERT_EQUAL(st.ephemeral_owner, sid);
    CU_ASSERT_EQUAL(ev_wait(&ev, BK_ZK_EXPIRED, 0, 0), -1);
    bk_zk_close(zk);
    ev_destroy(&ev);
}

static void quiet_log(const char *msg)
{
    (void)msg; /* the twin's reconnect chatter is expected */
}

/* Expires a session for real: a twin session with the same credentials
 * takes it over and closes it (what the server does for an expired
 * session is exactly that: close it). */
static void expire_session(bk_zk *zk, const char *connect)
{
    clientid_t cid;
    unsigned char pw[16];
    CU_ASSERT_EQUAL_FATAL(bk_zk_session_credentials(zk, &cid.client_id, pw), 0);
    memcpy(cid.passwd, pw, 16);
    zhandle_t *twin =
        zookeeper_init2(connect, NULL, 10000, &cid, NULL, 0, quiet_log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(twin);
    for (int i = 0; i < 500 && zoo_state(twin) != ZOO_CONNECTED_STATE; i++)
        bk_h_sleep_ms(10);
    CU_ASSERT_EQUAL(zoo_state(twin), ZOO_CONNECTED_STATE);
    zookeeper_close(twin);
}

static void test_expiry_and_reopen(void)
{
    events ev, wev;
    ev_init(&ev);
    ev_init(&wev);
    bk_zk *zk = open_zk(zks->connect, &ev, 6000);
    bk_zk *obs = open_zk(zks->connect, NULL, 6000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    CU_ASSERT_PTR_NOT_NULL_FATAL(obs);
    int64_t sid = bk_zk_session_id(zk);
    CU_ASSERT_EQUAL(bk_zk_mkdirs(zk, "/exp"), 0);
    CU_ASSERT_EQUAL(
        bk_zk_create(zk, "/exp/e", NULL, 0, BK_ZK_EPHEMERAL, NULL, 0), 0);
    /* a watch of the old session: must never fire, must be freed */
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/exp/w", NULL, on_watch, &wev),
                    -BK_ENOENT);

    int mark = ev_count(&ev);
    expire_session(zk, zks->connect);
    CU_ASSERT_TRUE_FATAL(ev_wait(&ev, BK_ZK_EXPIRED, mark, 10000) >= 0);
    CU_ASSERT_EQUAL(bk_zk_get_state(zk), BK_ZK_EXPIRED);
    CU_ASSERT_EQUAL(bk_zk_session_id(zk), 0);
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/exp", NULL, NULL, NULL), -BK_EIO);
    /* the server dropped the session's ephemeral */
    CU_ASSERT_EQUAL(bk_zk_exists(obs, "/exp/e", NULL, NULL, NULL), -BK_ENOENT);

    char err[300];
    mark = ev_count(&ev);
    CU_ASSERT_EQUAL_FATAL(bk_zk_reopen(zk, err, sizeof err), 0);
    CU_ASSERT_EQUAL(bk_zk_get_state(zk), BK_ZK_CONNECTED);
    CU_ASSERT_TRUE(ev_wait(&ev, BK_ZK_CONNECTED, mark, 1000) >= 0);
    CU_ASSERT_NOT_EQUAL(bk_zk_session_id(zk), 0);
    CU_ASSERT_NOT_EQUAL(bk_zk_session_id(zk), sid);
    /* the owner re-creates its ephemeral in the new session */
    CU_ASSERT_EQUAL(
        bk_zk_create(zk, "/exp/e", NULL, 0, BK_ZK_EPHEMERAL, NULL, 0), 0);
    CU_ASSERT_EQUAL(bk_zk_create(obs, "/exp/w", NULL, 0, 0, NULL, 0), 0);
    bk_h_sleep_ms(300);
    CU_ASSERT_EQUAL(ev_count(&wev), 0);
    bk_zk_close(zk);
    bk_zk_close(obs);
    ev_destroy(&ev);
    ev_destroy(&wev);
}

/* ------------------------------ ensemble ------------------------------ */

static int init_ensemble(void)
{
    zke = bk_h_zk_start("zk-ensemble", 3);
    return zke ? 0 : -1;
}

static int clean_ensemble(void)
{
    bk_h_zk_stop(zke);
    zke = NULL;
    return 0;
}

/* Which node serves the session (its id appears in that node's `cons`). */
static int serving_node(int64_t sid)
{
    char want[40], buf[8192];
    snprintf(want, sizeof want, "sid=0x%" PRIx64, (uint64_t)sid);
    for (int i = 0; i < zke->n; i++)
        if (bk_h_zk_4lw(zke->node[i].client_port, "cons", buf, sizeof buf) >
                0 &&
            strstr(buf, want))
            return i;
    return -1;
}

static void test_ensemble_failover(void)
{
    events ev;
    ev_init(&ev);
    bk_zk *zk = open_zk(zke->connect, &ev, 8000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(zk);
    int64_t sid = bk_zk_session_id(zk);
    CU_ASSERT_EQUAL(bk_zk_mkdirs(zk, "/fo"), 0);
    CU_ASSERT_EQUAL(
        bk_zk_create(zk, "/fo/e", NULL, 0, BK_ZK_EPHEMERAL, NULL, 0), 0);
    int node = serving_node(sid);
    CU_ASSERT_TRUE_FATAL(node >= 0);
    int mark = ev_count(&ev);
    bk_h_zk_kill_node(zke, node);
    CU_ASSERT_TRUE(ev_wait(&ev, BK_ZK_DISCONNECTED, mark, 5000) >= 0);
    CU_ASSERT_TRUE(ev_wait(&ev, BK_ZK_CONNECTED, mark, 15000) >= 0);
    /* same session, on another node, ephemeral still there; writes work
     * (two of three nodes are a quorum) */
    CU_ASSERT_EQUAL(bk_zk_session_id(zk), sid);
    int now = serving_node(sid);
    CU_ASSERT_TRUE(now >= 0 && now != node);
    bk_zk_stat st;
    CU_ASSERT_EQUAL(bk_zk_exists(zk, "/fo/e", &st, NULL, NULL), 0);
    CU_ASSERT_EQUAL(st.ephemeral_owner, sid);
    CU_ASSERT_EQUAL(bk_zk_create(zk, "/fo/after", "x", 1, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(ev_wait(&ev, BK_ZK_EXPIRED, 0, 0), -1);
    CU_ASSERT_EQUAL(bk_h_zk_start_node(zke, node, true), 0);
    bk_zk_close(zk);
    ev_destroy(&ev);
}

static CU_TestInfo standalone_tests[] = {
    {"create/get/set/delete/exists/children/tree, versions", test_basic_ops},
    {"ephemeral and sequential nodes", test_ephemeral_and_sequential},
    {"multi: all or nothing, failing index", test_multi},
    {"pipelined multis: in order, each on its own", test_multi_batches},
    {"watches: one-shot, kinds, none after close", test_watches},
    {"chroot is created and applied", test_chroot},
    {"connect is bounded, with a clear message", test_connect_bounded},
    {"server restart: same session resumes", test_server_restart},
    {"session expiry: callback, reopen, new session", test_expiry_and_reopen},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo ensemble_tests[] = {
    {"losing the serving node keeps the session", test_ensemble_failover},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("zk standalone", standalone_tests, init_standalone,
                         clean_standalone);
    bk_test_add_suite_fn("zk ensemble", ensemble_tests, init_ensemble,
                         clean_ensemble);
}
