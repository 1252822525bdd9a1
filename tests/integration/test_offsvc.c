/*
 * test_offsvc.c -- broker/offsvc (the offsets session and its worker)
 * against a real standalone ZooKeeper: jobs run in submission order with
 * a connected session; with ZooKeeper down they are answered -BK_EIO
 * promptly instead of piling up; when it is back they run again; jobs
 * still queued at shutdown are told -BK_ECANCELED exactly once.
 */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "broker/offsvc.h"
#include "common/clock.h"
#include "common/err.h"
#include "tests/harness/harness.h"
#include "tests/unit/cu_main.h"

static bk_h_zk *hz;

static int suite_init(void)
{
    hz = bk_h_zk_start("offsvc", 1);
    return hz ? 0 : 1;
}

static int suite_clean(void)
{
    bk_h_zk_stop(hz);
    hz = NULL;
    return 0;
}

/* What jobs saw, in the order they ran. */
#define MAXJ 64
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int ran_id[MAXJ], ran_status[MAXJ];
static int nran;
static atomic_int wrote; /* jobs that wrote their znode */

static void job(bk_zk *zk, void *arg, int status)
{
    int id = (int)(intptr_t)arg;
    if (status == 0) {
        /* What the job saw: its status, or its call's failure. */
        char path[64], data[16];
        snprintf(path, sizeof path, "/offsvc-%d", id);
        int n = snprintf(data, sizeof data, "%d", id);
        status = bk_zk_create(zk, path, data, (size_t)n, 0, NULL, 0);
        if (status == 0)
            atomic_fetch_add(&wrote, 1);
    }
    pthread_mutex_lock(&mu);
    if (nran < MAXJ) {
        ran_id[nran] = id;
        ran_status[nran] = status;
        nran++;
    }
    pthread_mutex_unlock(&mu);
}

static int wait_ran(int n, int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms();
    for (;;) {
        pthread_mutex_lock(&mu);
        int have = nran;
        pthread_mutex_unlock(&mu);
        if (have >= n || bk_clock_mono_ms() - t0 > timeout_ms)
            return have;
        bk_h_sleep_ms(5);
    }
}

static void reset(void)
{
    pthread_mutex_lock(&mu);
    nran = 0;
    pthread_mutex_unlock(&mu);
    atomic_store(&wrote, 0);
}

static bk_osvc *open_svc(void)
{
    char connect[320];
    snprintf(connect, sizeof connect, "%s/brook-offsvc", hz->connect);
    bk_osvc_opts o = {.connect = connect,
                      .session_timeout_ms = 4000,
                      .connect_timeout_ms = 1500};
    bk_osvc *s = NULL;
    CU_ASSERT_FATAL(bk_osvc_new(&o, &s) == 0 && s != NULL);
    return s;
}

static void test_order_and_session(void)
{
    reset();
    bk_osvc *s = open_svc();
    for (int i = 0; i < 20; i++)
        CU_ASSERT_EQUAL(bk_osvc_submit(s, job, (void *)(intptr_t)i), 0);
    CU_ASSERT_EQUAL(wait_ran(20, 10000), 20);
    for (int i = 0; i < 20; i++) {
        CU_ASSERT_EQUAL(ran_id[i], i);
        CU_ASSERT_EQUAL(ran_status[i], 0);
    }
    CU_ASSERT_EQUAL(atomic_load(&wrote), 20);
    bk_osvc_free(s);
}

static void test_zookeeper_down_and_back(void)
{
    reset();
    bk_osvc *s = open_svc();
    CU_ASSERT_EQUAL(bk_osvc_submit(s, job, (void *)(intptr_t)100), 0);
    CU_ASSERT_EQUAL(wait_ran(1, 10000), 1);
    CU_ASSERT_EQUAL(ran_status[0], 0);

    bk_h_zk_kill_node(hz, 0);
    /* Down for longer than the session: the jobs must not wait for it to
     * come back; each gets an answer within about a connect timeout. */
    int64_t t0 = bk_clock_mono_ms();
    int failed = 0;
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(bk_osvc_submit(s, job, (void *)(intptr_t)(101 + i)), 0);
    CU_ASSERT_EQUAL(wait_ran(6, 30000), 6);
    int64_t took = bk_clock_mono_ms() - t0;
    for (int i = 1; i < 6; i++)
        failed += ran_status[i] != 0;
    printf("\n    ZooKeeper down: 5 jobs answered in %lld ms, %d failed "
           "(first: %s)\n",
           (long long)took, failed, bk_strerror(ran_status[1]));
    /* Every one is answered (with the session's connection loss or
     * -BK_EIO), none waits for ZooKeeper to return. */
    CU_ASSERT_EQUAL(failed, 5);
    CU_ASSERT_EQUAL(atomic_load(&wrote), 1);
    CU_ASSERT(took < 20000);

    CU_ASSERT_FATAL(bk_h_zk_start_node(hz, 0, true) == 0);
    /* Back: a job runs with a session again (after the retry pause). */
    bool ok = false;
    t0 = bk_clock_mono_ms();
    int next = 200;
    while (!ok && bk_clock_mono_ms() - t0 < 20000) {
        int before = wait_ran(0, 0);
        CU_ASSERT_EQUAL(bk_osvc_submit(s, job, (void *)(intptr_t)next), 0);
        next++;
        CU_ASSERT_EQUAL(wait_ran(before + 1, 15000), before + 1);
        ok = ran_status[before] == 0;
        if (!ok)
            bk_h_sleep_ms(200);
    }
    printf("    ZooKeeper back: a job succeeded %lld ms after the restart\n",
           (long long)(bk_clock_mono_ms() - t0));
    CU_ASSERT(ok);
    bk_osvc_free(s);
}

/* A job that blocks the worker until released. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_entered;

static void gate_job(bk_zk *zk, void *arg, int status)
{
    (void)zk;
    (void)arg;
    (void)status;
    pthread_mutex_lock(&gate_mu);
    gate_entered = true;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void *opener(void *arg)
{
    (void)arg;
    bk_h_sleep_ms(200);
    pthread_mutex_lock(&gate_mu);
    gate_open = true;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    return NULL;
}

static void test_cancel_at_stop(void)
{
    reset();
    bk_osvc *s = open_svc();
    CU_ASSERT_EQUAL(bk_osvc_submit(s, gate_job, NULL), 0);
    pthread_mutex_lock(&gate_mu);
    while (!gate_entered)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    for (int i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(bk_osvc_submit(s, job, (void *)(intptr_t)(300 + i)), 0);
    CU_ASSERT_EQUAL(bk_osvc_queued(s), 10);
    pthread_t th;
    CU_ASSERT_FATAL(pthread_create(&th, NULL, opener, NULL) == 0);
    bk_osvc_free(s); /* returns once the gate job ends */
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(nran, 10);
    int canceled = 0;
    for (int i = 0; i < nran; i++)
        canceled += ran_status[i] == -BK_ECANCELED && ran_id[i] == 300 + i;
    CU_ASSERT_EQUAL(canceled, 10);
    CU_ASSERT_EQUAL(atomic_load(&wrote), 0);
}

static CU_TestInfo tests[] = {
    {"jobs run in order with a session", test_order_and_session},
    {"ZooKeeper down: prompt EIO; back: runs again",
     test_zookeeper_down_and_back},
    {"jobs queued at stop are canceled once", test_cancel_at_stop},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("offsvc", tests, suite_init, suite_clean);
}
