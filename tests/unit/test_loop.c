/*
 * test_loop.c -- the event loop: fd readiness, timers (order, cancel,
 * re-arm, many), posts from other threads, stop.
 */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/loop.h"
#include "tests/unit/cu_main.h"

typedef struct io_state {
    int reads;
    int writes;
    char last;
} io_state;

static void on_io(bk_loop *l, int fd, unsigned ev, void *arg)
{
    io_state *s = arg;
    (void)l;
    if (ev & BK_EV_READ) {
        char c;
        if (read(fd, &c, 1) == 1) {
            s->reads++;
            s->last = c;
        }
    }
    if (ev & BK_EV_WRITE)
        s->writes++;
}

static void test_fd_events(void)
{
    bk_loop *l = bk_loop_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    int p[2];
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    io_state s = {0};
    CU_ASSERT_EQUAL(bk_loop_add_fd(l, p[0], BK_EV_READ, on_io, &s), 0);
    CU_ASSERT_EQUAL(bk_loop_add_fd(l, p[0], BK_EV_READ, on_io, &s), -BK_EEXIST);
    /* nothing to read: a short wait runs nothing */
    CU_ASSERT_EQUAL(bk_loop_run_once(l, 10), 0);
    CU_ASSERT_EQUAL(write(p[1], "x", 1), 1);
    CU_ASSERT_EQUAL(bk_loop_run_once(l, 1000), 1);
    CU_ASSERT_EQUAL(s.reads, 1);
    CU_ASSERT_EQUAL(s.last, 'x');

    /* the write end: writable at once when asked for */
    io_state w = {0};
    CU_ASSERT_EQUAL(bk_loop_add_fd(l, p[1], 0, on_io, &w), 0);
    CU_ASSERT_EQUAL(bk_loop_run_once(l, 10), 0);
    CU_ASSERT_EQUAL(bk_loop_mod_fd(l, p[1], BK_EV_WRITE), 0);
    CU_ASSERT_EQUAL(bk_loop_run_once(l, 1000), 1);
    CU_ASSERT_EQUAL(w.writes, 1);
    bk_loop_del_fd(l, p[1]);
    CU_ASSERT_EQUAL(bk_loop_mod_fd(l, p[1], BK_EV_WRITE), -BK_ENOENT);

    /* deleted fd: data pending but no callback */
    CU_ASSERT_EQUAL(write(p[1], "y", 1), 1);
    bk_loop_del_fd(l, p[0]);
    CU_ASSERT_EQUAL(bk_loop_run_once(l, 10), 0);
    CU_ASSERT_EQUAL(s.reads, 1);
    close(p[0]);
    close(p[1]);
    bk_loop_free(l);
}

/* Two fds ready in the same batch; the first callback deletes the second:
 * the second must not be called. */
typedef struct del_state {
    int other_fd;
    int calls;
} del_state;

static void on_del_other(bk_loop *l, int fd, unsigned ev, void *arg)
{
    del_state *d = arg;
    (void)fd;
    (void)ev;
    d->calls++;
    bk_loop_del_fd(l, d->other_fd);
}

static void test_del_in_callback(void)
{
    bk_loop *l = bk_loop_new();
    int a[2], b[2];
    CU_ASSERT_EQUAL_FATAL(pipe(a), 0);
    CU_ASSERT_EQUAL_FATAL(pipe(b), 0);
    del_state da = {.other_fd = b[0]}, db = {.other_fd = a[0]};
    CU_ASSERT_EQUAL(bk_loop_add_fd(l, a[0], BK_EV_READ, on_del_other, &da), 0);
    CU_ASSERT_EQUAL(bk_loop_add_fd(l, b[0], BK_EV_READ, on_del_other, &db), 0);
    CU_ASSERT_EQUAL(write(a[1], "1", 1), 1);
    CU_ASSERT_EQUAL(write(b[1], "1", 1), 1);
    CU_ASSERT_EQUAL(bk_loop_run_once(l, 1000), 1);
    CU_ASSERT_EQUAL(da.calls + db.calls, 1);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
    bk_loop_free(l);
}

#define NT 200
static int fired_order[NT];
static int fired_count;

static void on_timer(bk_loop *l, bk_timer *t, void *arg)
{
    (void)l;
    (void)t;
    fired_order[fired_count++] = (int)(intptr_t)arg;
}

static void test_timers_order(void)
{
    bk_loop *l = bk_loop_new();
    static bk_timer t[NT];
    fired_count = 0;
    srand((unsigned)bk_test_seed);
    int delay[NT];
    for (int i = 0; i < NT; i++) {
        delay[i] = rand() % 40;
        bk_timer_init(&t[i], on_timer, (void *)(intptr_t)i);
        CU_ASSERT_FALSE(bk_timer_armed(&t[i]));
        CU_ASSERT_EQUAL(bk_loop_timer_arm(l, &t[i], delay[i]), 0);
        CU_ASSERT_TRUE(bk_timer_armed(&t[i]));
    }
    /* cancel every third one */
    int expect = 0;
    for (int i = 0; i < NT; i++) {
        if (i % 3 == 0)
            bk_loop_timer_cancel(l, &t[i]);
        else
            expect++;
    }
    int64_t t0 = bk_clock_mono_ms();
    while (fired_count < expect && bk_clock_mono_ms() - t0 < 2000)
        bk_loop_run_once(l, 100);
    CU_ASSERT_EQUAL(fired_count, expect);
    /* deadlines are non-decreasing in firing order, no cancelled one fired */
    for (int k = 0; k < fired_count; k++) {
        int i = fired_order[k];
        CU_ASSERT_NOT_EQUAL(i % 3, 0);
        CU_ASSERT_FALSE(bk_timer_armed(&t[i]));
        if (k > 0)
            CU_ASSERT_TRUE(t[fired_order[k - 1]].deadline_ms <=
                           t[i].deadline_ms);
    }
    bk_loop_free(l);
}

static void test_timer_rearm(void)
{
    bk_loop *l = bk_loop_new();
    bk_timer a, b;
    fired_count = 0;
    bk_timer_init(&a, on_timer, (void *)1);
    bk_timer_init(&b, on_timer, (void *)2);
    CU_ASSERT_EQUAL(bk_loop_timer_arm(l, &a, 5), 0);
    CU_ASSERT_EQUAL(bk_loop_timer_arm(l, &b, 30), 0);
    /* moving a later than b: b fires first */
    CU_ASSERT_EQUAL(bk_loop_timer_arm(l, &a, 60), 0);
    int64_t t0 = bk_clock_mono_ms();
    while (fired_count < 2 && bk_clock_mono_ms() - t0 < 2000)
        bk_loop_run_once(l, 100);
    CU_ASSERT_EQUAL(fired_count, 2);
    CU_ASSERT_EQUAL(fired_order[0], 2);
    CU_ASSERT_EQUAL(fired_order[1], 1);
    /* fired no earlier than asked */
    CU_ASSERT_TRUE(bk_clock_mono_ms() - t0 >= 60);
    bk_loop_free(l);
}

/* A timer that re-arms itself with delay 0 must not starve the loop: each
 * iteration fires it once. */
static int self_count;
static void on_self(bk_loop *l, bk_timer *t, void *arg)
{
    (void)arg;
    self_count++;
    bk_loop_timer_arm(l, t, 0);
}

static void test_timer_zero_delay_no_starvation(void)
{
    bk_loop *l = bk_loop_new();
    bk_timer t;
    bk_timer_init(&t, on_self, NULL);
    self_count = 0;
    bk_loop_timer_arm(l, &t, 0);
    bk_loop_run_once(l, 0);
    CU_ASSERT_EQUAL(self_count, 1);
    bk_loop_run_once(l, 0);
    CU_ASSERT_EQUAL(self_count, 2);
    bk_loop_timer_cancel(l, &t);
    bk_loop_free(l);
}

#define POSTERS 4
#define POSTS   5000
static long post_sum;
static int post_count;

static void on_post(bk_loop *l, void *arg)
{
    post_sum += (long)(intptr_t)arg;
    if (++post_count == POSTERS * POSTS)
        bk_loop_stop(l);
}

static void *poster(void *arg)
{
    bk_loop *l = arg;
    for (int i = 1; i <= POSTS; i++)
        bk_loop_post(l, on_post, (void *)(intptr_t)i);
    return NULL;
}

static void test_posts_from_threads(void)
{
    bk_loop *l = bk_loop_new();
    post_sum = 0;
    post_count = 0;
    pthread_t th[POSTERS];
    for (int i = 0; i < POSTERS; i++)
        pthread_create(&th[i], NULL, poster, l);
    CU_ASSERT_EQUAL(bk_loop_run(l), 0);
    for (int i = 0; i < POSTERS; i++)
        pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(post_count, POSTERS * POSTS);
    CU_ASSERT_EQUAL(post_sum, (long)POSTERS * POSTS * (POSTS + 1) / 2);
    bk_loop_free(l);
}

static void *stopper(void *arg)
{
    usleep(20000);
    bk_loop_stop(arg);
    return NULL;
}

static void test_stop_from_thread(void)
{
    bk_loop *l = bk_loop_new();
    pthread_t th;
    pthread_create(&th, NULL, stopper, l);
    int64_t t0 = bk_clock_mono_ms();
    CU_ASSERT_EQUAL(bk_loop_run(l), 0);
    CU_ASSERT_TRUE(bk_clock_mono_ms() - t0 < 2000);
    pthread_join(th, NULL);
    /* a stop before run makes run return at once */
    bk_loop_stop(l);
    CU_ASSERT_EQUAL(bk_loop_run(l), 0);
    bk_loop_free(l);
}

static void on_never(bk_loop *l, void *arg)
{
    (void)l;
    (void)arg;
    CU_FAIL("a post ran after its loop was freed");
}

static void test_free_drops_posts(void)
{
    bk_loop *l = bk_loop_new();
    for (int i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(bk_loop_post(l, on_never, NULL), 0);
    bk_loop_free(l); /* must not leak (ASan) nor run them */
}

static CU_TestInfo loop_tests[] = {
    {"fd events", test_fd_events},
    {"delete fd in a callback", test_del_in_callback},
    {"timers fire in deadline order, cancel", test_timers_order},
    {"timer re-arm", test_timer_rearm},
    {"zero-delay timer does not starve", test_timer_zero_delay_no_starvation},
    {"posts from threads", test_posts_from_threads},
    {"stop from another thread", test_stop_from_thread},
    {"free drops queued posts", test_free_drops_posts},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite("loop", loop_tests);
}
