/*
 * offsvc.c -- the offsets session and its worker (see offsvc.h).
 */
#include "broker/offsvc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"

#define MOD "offsets"

/* Pause between connection attempts while ZooKeeper is unreachable; jobs
 * that arrive meanwhile are answered -BK_EIO at once rather than waiting. */
#define RETRY_MS 1000

typedef struct job {
    struct job *next;
    bk_osvc_fn *fn;
    void *arg;
} job;

struct bk_osvc {
    bk_zk_opts zo;
    char *connect; /* owned copy behind zo.connect */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail; /* under mu */
    size_t queued;    /* under mu */
    bool stop;        /* under mu */
    /* Worker thread only. */
    bk_zk *zk;
    int64_t next_try_ms; /* no connection attempt before this */
    bool logged_down;
};

/* ------------------------------- session ------------------------------- */

/* Worker: a usable session, or NULL (ZooKeeper unreachable for now). */
static bk_zk *session(bk_osvc *s)
{
    if (s->zk) {
        bk_zk_state st = bk_zk_get_state(s->zk);
        if (st == BK_ZK_CONNECTED || st == BK_ZK_DISCONNECTED ||
            st == BK_ZK_CONNECTING)
            return s->zk; /* the client reconnects by itself meanwhile */
        if (st == BK_ZK_EXPIRED) {
            char err[256];
            if (bk_zk_reopen(s->zk, err, sizeof err) == 0) {
                BK_INFO(MOD, "offsets session expired; new session 0x%llx",
                        (unsigned long long)bk_zk_session_id(s->zk));
                return s->zk;
            }
            BK_WARN(MOD,
                    "offsets session expired and could not be renewed: "
                    "%s",
                    err);
        }
        bk_zk_close(s->zk);
        s->zk = NULL;
    }
    int64_t now = bk_clock_mono_ms();
    if (now < s->next_try_ms)
        return NULL;
    char err[512];
    if (bk_zk_open(&s->zo, &s->zk, err, sizeof err) != 0) {
        s->zk = NULL;
        s->next_try_ms = bk_clock_mono_ms() + RETRY_MS;
        if (!s->logged_down)
            BK_WARN(MOD, "cannot reach ZooKeeper for offsets: %s", err);
        s->logged_down = true;
        return NULL;
    }
    BK_INFO(MOD, "offsets session 0x%llx (timeout %d ms)",
            (unsigned long long)bk_zk_session_id(s->zk),
            bk_zk_negotiated_timeout(s->zk));
    s->logged_down = false;
    return s->zk;
}

/* -------------------------------- worker -------------------------------- */

static job *take(bk_osvc *s, bool *stop)
{
    pthread_mutex_lock(&s->mu);
    while (!s->head && !s->stop)
        pthread_cond_wait(&s->cv, &s->mu);
    job *j = s->head;
    if (j && !s->stop) {
        s->head = j->next;
        if (!s->head)
            s->tail = NULL;
        s->queued--;
    } else {
        j = NULL;
    }
    *stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return j;
}

static void *worker(void *arg)
{
    bk_osvc *s = arg;
    /* Connect ahead of the first job: the first commit should not pay for
     * the session. */
    (void)session(s);
    for (;;) {
        bool stop;
        job *j = take(s, &stop);
        if (!j)
            break;
        bk_zk *zk = session(s);
        j->fn(zk, j->arg, zk ? 0 : -BK_EIO);
        free(j);
        (void)stop;
    }
    return NULL;
}

/* -------------------------------- public -------------------------------- */

int bk_osvc_new(const bk_osvc_opts *o, bk_osvc **out)
{
    *out = NULL;
    bk_zk_connect parsed;
    char err[256];
    if (bk_zk_parse_connect(o->connect, &parsed, err, sizeof err) != 0) {
        BK_ERROR(MOD, "zookeeper.connect: %s", err);
        return -BK_EINVAL;
    }
    bk_osvc *s = calloc(1, sizeof *s);
    if (!s)
        return -BK_ENOMEM;
    s->connect = strdup(o->connect);
    if (!s->connect) {
        free(s);
        return -BK_ENOMEM;
    }
    s->zo = (bk_zk_opts){.connect = s->connect,
                         .session_timeout_ms = o->session_timeout_ms,
                         .connect_timeout_ms = o->connect_timeout_ms};
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, worker, s) != 0) {
        bk_osvc_free(s);
        return -BK_ENOMEM;
    }
    s->started = true;
    *out = s;
    return 0;
}

int bk_osvc_submit(bk_osvc *s, bk_osvc_fn *fn, void *arg)
{
    job *j = malloc(sizeof *j);
    if (!j)
        return -BK_ENOMEM;
    *j = (job){.fn = fn, .arg = arg};
    pthread_mutex_lock(&s->mu);
    if (s->stop) {
        pthread_mutex_unlock(&s->mu);
        free(j);
        return -BK_EPERM;
    }
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->queued++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

size_t bk_osvc_queued(bk_osvc *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->queued;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void bk_osvc_free(bk_osvc *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->started)
        pthread_join(s->thread, NULL);
    /* What never ran learns that it will not. */
    job *j = s->head;
    s->head = s->tail = NULL;
    while (j) {
        job *next = j->next;
        j->fn(NULL, j->arg, -BK_ECANCELED);
        free(j);
        j = next;
    }
    if (s->zk)
        bk_zk_close(s->zk);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->connect);
    free(s);
}
