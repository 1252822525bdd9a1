/*
 * zkbroker.c -- registration, watches and topic admin through ZooKeeper
 * (see zkbroker.h; dynamic configs and /config/changes are zkconfig.c,
 * the shared state broker/zkbroker_int.h).
 *
 * Watches are one-shot and set by reads.  The worker keeps the set of
 * watches it has armed ("armed", keyed by kind and path) so that re-reading
 * a node whose watch has not fired yet does not stack a second watch on
 * it; a firing removes the key, and the re-read that follows arms it
 * again.  A new session starts with no watches: the set is cleared and
 * everything is read afresh.
 */
#include "broker/zkbroker.h"
#include "broker/zkbroker_int.h"

#include "broker/admin.h"
#include "broker/controller.h"
#include "broker/dynconfig.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/logging.h"
#include "coordinator/zk.h"
#include "coordinator/zkdata.h"
#include "proto/protocol.h"

#define MOD          "zookeeper"
#define SESSION_FILE "zk-session-id"
#define RETRY_MS     1000
/* Config change notifications this much older than the newest one are
 * purged (Kafka's 15 minutes). */
#define CHANGE_MAX_AGE_MS (15 * 60 * 1000)
/* ... checked this often by the active controller, ... */
#define PURGE_EVERY_MS (60 * 1000)
/* ... deleting at most this many at a time (the worker has other work);
 * a backlog is worked off every PURGE_BACKLOG_MS. */
#define PURGE_MAX_DELETES 1000
#define PURGE_BACKLOG_MS  1000

/* An event from ZooKeeper's thread to the loop. */
typedef struct zk_event {
    bk_zkb *z;
    bool session;
    bk_zk_state state;
    char path[];
} zk_event;

/* --------------------------------- queue --------------------------------- */

static void job_free(job *j)
{
    free(j->path);
    free(j);
}

static void push(bk_zkb *z, job *j)
{
    pthread_mutex_lock(&z->mu);
    j->next = NULL;
    if (z->tail)
        z->tail->next = j;
    else
        z->head = j;
    z->tail = j;
    pthread_cond_signal(&z->cv);
    pthread_mutex_unlock(&z->mu);
}

/* Blocks for the next job, giving up at the monotonic time due_ms: NULL
 * with *timeout set then (NULL without it: told to quit). */
static job *pop_until(bk_zkb *z, int64_t due_ms, bool *timeout)
{
    *timeout = false;
    int64_t left = due_ms - bk_clock_mono_ms();
    if (left < 0)
        left = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(left / 1000);
    ts.tv_nsec += (long)(left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&z->mu);
    while (!z->head && !z->quit)
        if (pthread_cond_timedwait(&z->cv, &z->mu, &ts) == ETIMEDOUT)
            break;
    job *j = NULL;
    if (!z->quit && z->head) {
        j = z->head;
        z->head = j->next;
        if (!z->head)
            z->tail = NULL;
    } else if (!z->quit) {
        *timeout = true;
    }
    pthread_mutex_unlock(&z->mu);
    return j;
}

/* True when the next queued job is a watch event. */
static bool watch_queued(bk_zkb *z)
{
    pthread_mutex_lock(&z->mu);
    bool w = z->head && z->head->type == J_WATCH;
    pthread_mutex_unlock(&z->mu);
    return w;
}

/* Sleeps ms or until told to quit; true when quitting. */
static bool nap(bk_zkb *z, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&z->mu);
    while (!z->quit && pthread_cond_timedwait(&z->cv, &z->mu, &ts) == 0) {
    }
    bool q = z->quit;
    pthread_mutex_unlock(&z->mu);
    return q;
}

/* ------------------------- ZooKeeper callbacks ------------------------- */
/* These run on ZooKeeper's completion thread: post and return. */

static void on_event(bk_loop *loop, void *arg);

static void post_event(bk_zkb *z, bool session, bk_zk_state st,
                       const char *path)
{
    size_t n = path ? strlen(path) : 0;
    zk_event *e = malloc(sizeof *e + n + 1);
    if (!e) {
        /* Lost event: a later full read (session expiry) repairs it. */
        BK_ERROR(MOD, "out of memory: a ZooKeeper event was dropped");
        return;
    }
    e->z = z;
    e->session = session;
    e->state = st;
    memcpy(e->path, path ? path : "", n + 1);
    if (bk_loop_post(z->o.loop, on_event, e) != 0) {
        BK_ERROR(MOD, "cannot post a ZooKeeper event to the loop");
        free(e);
    }
}

static void session_cb(void *arg, bk_zk_state st)
{
    post_event(arg, true, st, NULL);
}

static void watch_cb(void *arg, bk_zk_event ev, const char *path)
{
    (void)ev;
    post_event(arg, false, BK_ZK_CONNECTED, path);
}

/* Loop thread: turn an event into a job. */
static void on_event(bk_loop *loop, void *arg)
{
    (void)loop;
    zk_event *e = arg;
    bk_zkb *z = e->z;
    if (z->stopping) {
        free(e);
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        free(e);
        return;
    }
    if (e->session) {
        j->type = J_SESSION;
        j->state = e->state;
        BK_INFO(MOD, "session %s", bk_zk_state_name(e->state));
        if (e->state == BK_ZK_CONNECTED)
            z->n_connected++;
        else if (e->state == BK_ZK_EXPIRED)
            z->n_expired++;
        if (z->o.on_state)
            z->o.on_state(z->o.arg, e->state == BK_ZK_CONNECTED);
    } else {
        j->type = J_WATCH;
        j->path = strdup(e->path);
        if (!j->path) {
            free(j);
            free(e);
            return;
        }
    }
    free(e);
    push(z, j);
}

/* -------------------------------- reads -------------------------------- */
/* Worker (or main thread before the worker starts). */


/* Children of path and its stat (st may be NULL), watching it unless a
 * watch is armed.  -BK_ENOENT when path is absent: then its creation is
 * watched instead (a children watch cannot be set on a missing node, and
 * without any watch a re-created parent would go unnoticed). */
int bk_zkb_watched_children_st(bk_zkb *z, const char *path,
                               bk_zk_strings *out, bk_zk_stat *st)
{
    char k[BK_ZKC_PATH_MAX + 8];
    key(k, sizeof k, 'c', path);
    bool arm = !sset_has(&z->armed, k);
    for (int tries = 0; tries < 3; tries++) {
        int rc =
            bk_zk_children2(z->zk, path, out, st, arm ? watch_cb : NULL, z);
        if (rc == 0) {
            if (arm)
                sset_add(&z->armed, k);
            return 0;
        }
        if (rc != -BK_ENOENT || !arm)
            return rc; /* (!arm: the watch armed fires on creation) */
        rc = bk_zk_exists(z->zk, path, NULL, watch_cb, z);
        if (rc == -BK_ENOENT) {
            sset_add(&z->armed, k);
            return -BK_ENOENT;
        }
        if (rc != 0)
            return rc;
        /* Created in between: list it, now with a children watch (the
         * exists watch may fire once more: a harmless re-read). */
    }
    return -BK_EIO;
}

/* The same without the stat; a missing node gives an empty list. */
static int watched_children(bk_zkb *z, const char *path, bk_zk_strings *out)
{
    int rc = bk_zkb_watched_children_st(z, path, out, NULL);
    return rc == -BK_ENOENT ? 0 : rc;
}

/* Data of path, watching it (existence included) unless armed.  ENOENT
 * when absent (then watched for creation). */
static int watched_get(bk_zkb *z, const char *path, bk_buf *out, bk_zk_stat *st)
{
    char k[BK_ZKC_PATH_MAX + 8];
    key(k, sizeof k, 'd', path);
    bool arm = !sset_has(&z->armed, k);
    for (int tries = 0; tries < 3; tries++) {
        int rc = bk_zk_get(z->zk, path, out, st, arm ? watch_cb : NULL, z);
        if (rc == 0) {
            if (arm)
                sset_add(&z->armed, k);
            return 0;
        }
        if (rc != -BK_ENOENT || !arm)
            return rc;
        /* No node, no watch: watch for its creation instead. */
        rc = bk_zk_exists(z->zk, path, NULL, watch_cb, z);
        if (rc == -BK_ENOENT) {
            sset_add(&z->armed, k);
            return -BK_ENOENT;
        }
        if (rc != 0)
            return rc;
        /* Created in between: read it (the exists watch now covers it). */
        sset_add(&z->armed, k);
        arm = false;
    }
    return -BK_EIO;
}

static int read_state(bk_zkb *z, const char *topic, int32_t p)
{
    char path[BK_ZKC_PATH_MAX];
    if (bk_zkc_path_partition_state(path, topic, p) != 0)
        return -BK_EINVAL;
    bk_buf b = BK_BUF_INIT;
    bk_zk_stat st;
    int rc = watched_get(z, path, &b, &st);
    if (rc == -BK_ENOENT) {
        bk_md_clear_state(z->md, topic, p);
        bk_buf_free(&b);
        return 0;
    }
    if (rc == 0) {
        bk_zkc_pstate ps;
        char err[256];
        if (bk_zkc_pstate_decode(b.data, b.len, &ps, err, sizeof err) != 0) {
            BK_WARN(MOD, "%s: %s (ignored)", path, err);
            bk_md_clear_state(z->md, topic, p);
        } else {
            rc = bk_md_set_state(z->md, topic, p, ps.leader, ps.leader_epoch,
                                 ps.controller_epoch, st.version, ps.isr,
                                 (size_t)ps.nisr);
            if (rc == -BK_ENOENT)
                rc = 0;
        }
    }
    bk_buf_free(&b);
    return rc;
}

static int read_topic(bk_zkb *z, const char *topic)
{
    char path[BK_ZKC_PATH_MAX];
    if (bk_zkc_path_topic(path, topic) != 0)
        return -BK_EINVAL;
    bk_buf b = BK_BUF_INIT;
    bk_zk_stat st;
    int rc = watched_get(z, path, &b, &st);
    if (rc == -BK_ENOENT) {
        bk_md_remove_topic(z->md, topic);
        bk_buf_free(&b);
        return 0;
    }
    if (rc != 0) {
        bk_buf_free(&b);
        return rc;
    }
    bk_zkc_assignment a;
    char err[256];
    rc = bk_zkc_assignment_decode(b.data, b.len, &a, err, sizeof err);
    bk_buf_free(&b);
    if (rc != 0) {
        BK_WARN(MOD, "%s: %s (topic ignored)", path, err);
        bk_md_remove_topic(z->md, topic);
        return rc == -BK_ENOMEM ? rc : 0;
    }
    /* Partitions must be 0..n-1 to be served; a gap ends the list. */
    size_t n = 0;
    while (n < (size_t)a.nparts && a.parts[n].id == (int32_t)n)
        n++;
    if (n < (size_t)a.nparts)
        BK_WARN(MOD, "%s: partition ids are not 0..%d; serving 0..%zu", path,
                a.nparts - 1, n ? n - 1 : 0);
    int32_t **reps = calloc(n ? n : 1, sizeof *reps);
    size_t *nrep = calloc(n ? n : 1, sizeof *nrep);
    if (!reps || !nrep) {
        free(reps);
        free(nrep);
        bk_zkc_assignment_free(&a);
        return -BK_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        reps[i] = a.parts[i].replicas;
        nrep[i] = (size_t)a.parts[i].nreplicas;
    }
    rc = bk_md_set_topic(z->md, topic, n, reps, nrep);
    free(reps);
    free(nrep);
    bk_zkc_assignment_free(&a);
    if (rc != 0)
        return rc;
    bk_md_set_deleting(z->md, topic, sset_has(&z->marks, topic));
    rc = bk_zkb_read_topic_config(z, topic);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = read_state(z, topic, (int32_t)i);
    return rc;
}

static int read_topic_list(bk_zkb *z)
{
    bk_zk_strings names = {0};
    int rc = watched_children(z, BK_ZKC_BROKERS_TOPICS, &names);
    if (rc != 0)
        return rc;
    bk_md_retain_topics(z->md, names.v, names.n);
    for (size_t i = 0; i < names.n && rc == 0; i++)
        if (!bk_md_topic_find(z->md, names.v[i]))
            rc = read_topic(z, names.v[i]);
    bk_zk_strings_free(&names);
    return rc;
}

static int read_brokers(bk_zkb *z)
{
    bk_zk_strings ids = {0};
    int rc = watched_children(z, BK_ZKC_BROKERS_IDS, &ids);
    if (rc != 0)
        return rc;
    int32_t *keep = calloc(ids.n ? ids.n : 1, sizeof *keep);
    size_t nkeep = 0;
    if (!keep) {
        bk_zk_strings_free(&ids);
        return -BK_ENOMEM;
    }
    bk_buf b = BK_BUF_INIT;
    for (size_t i = 0; i < ids.n && rc == 0; i++) {
        char *end;
        long id = strtol(ids.v[i], &end, 10);
        if (*end || id < 0 || id > INT32_MAX)
            continue;
        char path[BK_ZKC_PATH_MAX];
        bk_zkc_path_broker(path, (int32_t)id);
        bk_buf_reset(&b);
        bk_zk_stat st;
        rc = bk_zk_get(z->zk, path, &b, &st, NULL, NULL);
        if (rc == -BK_ENOENT) {
            rc = 0; /* gone meanwhile; the children watch tells us */
            continue;
        }
        if (rc != 0)
            break;
        bk_zkc_broker br;
        char err[256];
        if (bk_zkc_broker_decode((int32_t)id, b.data, b.len, &br, err,
                                 sizeof err) != 0) {
            BK_WARN(MOD, "%s: %s (broker ignored)", path, err);
            continue;
        }
        rc = bk_md_set_broker(z->md, (int32_t)id, br.host, br.port,
                              br.has_rack ? br.rack : "");
        /* The registration's czxid: the controller tells a restarted
         * broker from one that never went away by it. */
        bk_md_set_broker_epoch(z->md, (int32_t)id, st.czxid);
        keep[nkeep++] = (int32_t)id;
    }
    bk_buf_free(&b);
    if (rc == 0)
        bk_md_retain_brokers(z->md, keep, nkeep);
    free(keep);
    bk_zk_strings_free(&ids);
    return rc;
}

static int read_marks(bk_zkb *z)
{
    bk_zk_strings names = {0};
    int rc = watched_children(z, BK_ZKC_DELETE_TOPICS, &names);
    if (rc != 0)
        return rc;
    sset_clear(&z->marks);
    for (size_t i = 0; i < names.n; i++)
        sset_add(&z->marks, names.v[i]);
    for (size_t i = 0; i < z->md->ntopics; i++)
        z->md->topics[i].deleting = sset_has(&z->marks, z->md->topics[i].name);
    if (names.n > 0) /* the controller finishes deletions left undone */
        bk_ctrl_admin_changed(z->ctrl, BK_CTRL_ADMIN_DELETE);
    bk_zk_strings_free(&names);
    return 0;
}

/* /admin/preferred_replica_election and /isr_change_notification are
 * watched for the controller, which reads and deletes what is there
 * (every broker watches: the one that becomes controller must not have
 * to arm its watches first). */
static int read_preferred(bk_zkb *z)
{
    bk_buf b = BK_BUF_INIT;
    int rc = watched_get(z, BK_ZKC_PREFERRED, &b, NULL);
    bk_buf_free(&b);
    if (rc == 0)
        bk_ctrl_admin_changed(z->ctrl, BK_CTRL_ADMIN_PREFERRED);
    return rc == -BK_ENOENT ? 0 : rc;
}

static int read_isr_changes(bk_zkb *z)
{
    bk_zk_strings names = {0};
    int rc = watched_children(z, BK_ZKC_ISR_CHANGE, &names);
    if (rc == 0 && names.n > 0)
        bk_ctrl_admin_changed(z->ctrl, BK_CTRL_ADMIN_ISR_CHANGE);
    bk_zk_strings_free(&names);
    return rc;
}

/* /admin/reassign_partitions is only watched here: the controller reads
 * it itself when it runs (broker/reassign.h), which every firing of
 * this watch makes it do. */
static int watch_reassign(bk_zkb *z)
{
    bk_buf b = BK_BUF_INIT;
    int rc = watched_get(z, BK_ZKC_REASSIGN, &b, NULL);
    bk_buf_free(&b);
    return rc == -BK_ENOENT ? 0 : rc;
}

static int read_controller(bk_zkb *z)
{
    bk_buf b = BK_BUF_INIT;
    int rc = watched_get(z, BK_ZKC_CONTROLLER, &b, NULL);
    if (rc == -BK_ENOENT) {
        z->md->controller_id = -1;
        rc = 0;
    } else if (rc == 0) {
        int32_t id;
        char err[256];
        z->md->controller_id =
            bk_zkc_controller_decode(b.data, b.len, &id, err, sizeof err) == 0
                ? id
                : -1;
    }
    bk_buf_free(&b);
    return rc;
}

/* Reads everything into a fresh picture (a new session has no watches). */
static int read_all(bk_zkb *z)
{
    bk_md *md = bk_md_new();
    if (!md || bk_md_set_cluster_id(md, z->cluster_id) != 0) {
        bk_md_free(md);
        return -BK_ENOMEM;
    }
    bk_md_free(z->md);
    z->md = md;
    sset_clear(&z->armed);
    /* Notifications first (see read_config_changes), then the broker
     * entities; topic configs come with the topics. */
    int rc = bk_zkb_read_config_changes(z, true);
    if (rc == 0)
        rc = bk_zkb_read_broker_entity(z, true);
    if (rc == 0)
        rc = bk_zkb_read_broker_entity(z, false);
    if (rc == 0)
        rc = read_brokers(z);
    if (rc == 0)
        rc = read_marks(z);
    if (rc == 0)
        rc = read_topic_list(z);
    if (rc == 0)
        rc = read_controller(z);
    if (rc == 0)
        rc = watch_reassign(z);
    if (rc == 0)
        rc = read_preferred(z);
    if (rc == 0)
        rc = read_isr_changes(z);
    if (rc == 0)
        md->complete = true;
    return rc;
}

/* Re-reads what the watch on path is about. */
/* The watch of key k fired: it is to be armed again by the read.  Not on
 * a retried read: a read that failed after arming left the watch armed
 * (arming it again would register a second watcher). */
static void disarm(bk_zkb *z, const char *k, bool retry)
{
    if (!retry)
        sset_del(&z->armed, k);
}

static int read_for_path(bk_zkb *z, const char *path, bool retry)
{
    static const char topics[] = BK_ZKC_BROKERS_TOPICS "/";
    char k[BK_ZKC_PATH_MAX + 8];
    if (strcmp(path, BK_ZKC_BROKERS_IDS) == 0) {
        key(k, sizeof k, 'c', path);
        disarm(z, k, retry);
        return read_brokers(z);
    }
    if (strcmp(path, BK_ZKC_BROKERS_TOPICS) == 0) {
        key(k, sizeof k, 'c', path);
        disarm(z, k, retry);
        return read_topic_list(z);
    }
    if (strcmp(path, BK_ZKC_DELETE_TOPICS) == 0) {
        key(k, sizeof k, 'c', path);
        disarm(z, k, retry);
        return read_marks(z);
    }
    if (strcmp(path, BK_ZKC_ISR_CHANGE) == 0) {
        key(k, sizeof k, 'c', path);
        disarm(z, k, retry);
        return read_isr_changes(z);
    }
    if (strcmp(path, BK_ZKC_CONFIG_CHANGES) == 0) {
        key(k, sizeof k, 'c', path);
        disarm(z, k, retry);
        return bk_zkb_read_config_changes(z, false);
    }
    key(k, sizeof k, 'd', path);
    disarm(z, k, retry);
    if (strcmp(path, BK_ZKC_CONTROLLER) == 0)
        return read_controller(z);
    if (strcmp(path, BK_ZKC_PREFERRED) == 0)
        return read_preferred(z);
    if (strcmp(path, BK_ZKC_REASSIGN) == 0)
        return watch_reassign(z);
    if (strncmp(path, topics, sizeof topics - 1) == 0) {
        const char *t = path + sizeof topics - 1;
        const char *slash = strchr(t, '/');
        char topic[BK_TOPIC_NAME_MAX + 1];
        size_t tl = slash ? (size_t)(slash - t) : strlen(t);
        if (tl == 0 || tl > BK_TOPIC_NAME_MAX)
            return 0;
        memcpy(topic, t, tl);
        topic[tl] = '\0';
        if (!slash)
            return read_topic(z, topic);
        static const char parts[] = "/partitions/";
        if (strncmp(slash, parts, sizeof parts - 1) != 0)
            return 0;
        const char *d = slash + sizeof parts - 1;
        int64_t p = 0;
        const char *q = d;
        while (*q >= '0' && *q <= '9' && p <= INT32_MAX)
            p = p * 10 + (*q++ - '0');
        if (q == d || p > INT32_MAX || strcmp(q, "/state") != 0)
            return 0;
        if (bk_md_topic_find(z->md, topic))
            return read_state(z, topic, (int32_t)p);
    }
    return 0;
}

/* -------------------------- posting to the loop -------------------------- */

typedef struct md_post {
    bk_zkb_md_fn *fn;
    void *arg;
    bk_md *md;
} md_post;

static void on_md_post(bk_loop *loop, void *arg)
{
    (void)loop;
    md_post *p = arg;
    p->fn(p->arg, p->md); /* ownership of md passes on */
    free(p);
}

static void post_md(bk_zkb *z)
{
    md_post *p = malloc(sizeof *p);
    bk_md *md = bk_md_clone(z->md);
    if (!p || !md) {
        free(p);
        bk_md_free(md);
        BK_ERROR(MOD, "out of memory: metadata update dropped");
        return;
    }
    *p = (md_post){z->o.on_md, z->o.arg, md};
    if (bk_loop_post(z->o.loop, on_md_post, p) != 0) {
        bk_md_free(md);
        free(p);
    }
}

typedef struct fatal_post {
    bk_zkb_fatal_fn *fn;
    void *arg;
    char why[512];
} fatal_post;

static void on_fatal_post(bk_loop *loop, void *arg)
{
    (void)loop;
    fatal_post *p = arg;
    p->fn(p->arg, p->why);
    free(p);
}

static void post_fatal(bk_zkb *z, const char *why)
{
    fatal_post *p = malloc(sizeof *p);
    if (!p)
        return;
    p->fn = z->o.on_fatal;
    p->arg = z->o.arg;
    snprintf(p->why, sizeof p->why, "%s", why);
    if (bk_loop_post(z->o.loop, on_fatal_post, p) != 0)
        free(p);
}

/* ----------------------------- registration ----------------------------- */

static int64_t read_session_file(const char *path)
{
    char *text = NULL;
    size_t len;
    int64_t id = 0;
    if (bk_file_read_all(path, 256, &text, &len) == 0) {
        unsigned long long v;
        if (sscanf(text, "%llx", &v) == 1)
            id = (int64_t)v;
    }
    free(text);
    return id;
}

static int write_session_file(const char *path, int64_t id)
{
    char text[64];
    int n = snprintf(text, sizeof text, "%llx\n", (unsigned long long)id);
    return bk_file_write_atomic(path, text, (size_t)n);
}

static int do_register(bk_zkb *z)
{
    const bk_bcfg *cfg = z->o.cfg;
    char path[BK_ZKC_PATH_MAX];
    bk_zkc_path_broker(path, cfg->broker_id);
    int64_t sid = bk_zk_session_id(z->zk);
    for (int attempt = 0; attempt < 3; attempt++) {
        bk_zk_stat st;
        int rc = bk_zk_exists(z->zk, path, &st, NULL, NULL);
        if (rc == 0) {
            if (st.ephemeral_owner == sid)
                return 0; /* ours already (a retried create went through) */
            if (z->prev_session != 0 && st.ephemeral_owner == z->prev_session) {
                BK_INFO(MOD,
                        "%s belongs to this broker's previous session "
                        "0x%llx (killed before it expired): replacing it",
                        path, (unsigned long long)st.ephemeral_owner);
                rc = bk_zk_delete(z->zk, path, st.version);
                if (rc != 0 && rc != -BK_ENOENT && rc != -BK_ERANGE)
                    return rc;
                continue;
            }
            BK_ERROR(MOD,
                     "broker.id %d is already registered in ZooKeeper (%s, "
                     "session 0x%llx): another broker is running with this "
                     "id; refusing to start",
                     cfg->broker_id, path,
                     (unsigned long long)st.ephemeral_owner);
            return -BK_EEXIST;
        }
        if (rc != -BK_ENOENT)
            return rc;
        /* Record the session before the znode exists, so that a crash
         * right after the create is still recognised at the next start. */
        if (write_session_file(z->session_path, sid) != 0)
            BK_WARN(MOD, "cannot write %s: %s", z->session_path,
                    strerror(errno));
        z->prev_session = sid;
        bk_zkc_broker br;
        memset(&br, 0, sizeof br);
        br.id = cfg->broker_id;
        br.version = 4;
        br.nendpoints = 1;
        snprintf(br.endpoints[0].listener, sizeof br.endpoints[0].listener,
                 "PLAINTEXT");
        snprintf(br.endpoints[0].protocol, sizeof br.endpoints[0].protocol,
                 "PLAINTEXT");
        snprintf(br.endpoints[0].host, sizeof br.endpoints[0].host, "%s",
                 cfg->adv_host);
        br.endpoints[0].port = cfg->adv_port;
        br.jmx_port = -1;
        br.has_rack = cfg->rack[0] != '\0';
        snprintf(br.rack, sizeof br.rack, "%s", cfg->rack);
        br.timestamp = bk_clock_wall_ms();
        bk_buf json = BK_BUF_INIT;
        rc = bk_zkc_broker_encode(&br, &json);
        if (rc == 0 && !bk_buf_ok(&json))
            rc = -BK_ENOMEM;
        if (rc == 0)
            rc = bk_zk_create(z->zk, path, json.data, json.len, BK_ZK_EPHEMERAL,
                              NULL, 0);
        bk_buf_free(&json);
        if (rc == 0) {
            BK_INFO(MOD, "registered %s (%s:%d, session 0x%llx)", path,
                    cfg->adv_host, cfg->adv_port, (unsigned long long)sid);
            return 0;
        }
        if (rc != -BK_EEXIST && rc != -BK_EIO)
            return rc;
        /* EEXIST: someone was faster (checked again above); EIO: the
         * outcome is unknown, look again. */
    }
    return -BK_EIO;
}

/* ------------------------------- session ------------------------------- */

/* Lets the controller act on the picture just read (it may race for
 * /controller, or write partition states and update z->md with them). */
static int ctrl_run(bk_zkb *z)
{
    return bk_ctrl_run(z->ctrl, z->zk, z->md, z->boot_session);
}

/* After expiry: new session, registration, full read.  Retries until it
 * works or we quit. */
static void renew_session(bk_zkb *z)
{
    for (;;) {
        char err[512];
        if (bk_zk_get_state(z->zk) != BK_ZK_CONNECTED) {
            if (bk_zk_reopen(z->zk, err, sizeof err) != 0) {
                BK_WARN(MOD, "new session failed: %s (retrying)", err);
                if (nap(z, RETRY_MS))
                    return;
                continue;
            }
            BK_INFO(MOD, "new session 0x%llx",
                    (unsigned long long)bk_zk_session_id(z->zk));
        }
        int rc = do_register(z);
        if (rc == -BK_EEXIST) {
            post_fatal(z, "broker.id taken by another broker after a "
                          "session expiry");
            return;
        }
        if (rc == 0)
            rc = read_all(z);
        if (rc == 0) {
            /* Race again for /controller (ours went with the session). */
            int crc = ctrl_run(z);
            if (crc != 0)
                BK_WARN(MOD, "controller: %s (retrying at the next event)",
                        bk_strerror(crc));
            post_md(z);
            return;
        }
        BK_WARN(MOD, "re-registration failed: %s (retrying)", bk_strerror(rc));
        if (nap(z, RETRY_MS))
            return;
    }
}

/* -------------------------------- worker -------------------------------- */

/* auto.leader.rebalance.enable: every leader.imbalance.check.interval.
 * seconds the controller gives leaderships back to preferred replicas of
 * imbalanced brokers (Kafka's checkAndTriggerAutoLeaderRebalance). */
static void rebalance_tick(bk_zkb *z)
{
    if (!bk_ctrl_is_active(z->ctrl))
        return;
    int rc = bk_ctrl_rebalance(z->ctrl, z->zk, z->md);
    if (rc < 0)
        BK_WARN(MOD, "leader rebalance: %s (retrying at the next check)",
                bk_strerror(rc));
    else if (rc > 0)
        post_md(z); /* the states it wrote */
}

/* Kafka's hygiene: config change notifications 15 minutes older than the
 * newest one go (ZooKeeper's clock, not ours: bk_zkd_config_changes_purge).
 * The active controller does it (a broker that starts reads every config
 * anyway, so an old notification is never needed). */
static void purge_tick(bk_zkb *z)
{
    if (!bk_ctrl_is_active(z->ctrl))
        return;
    int rc = bk_zkd_config_changes_purge(z->zk, bk_clock_wall_ms(),
                                         CHANGE_MAX_AGE_MS, PURGE_MAX_DELETES);
    if (rc < 0)
        BK_WARN(MOD, "purging old config changes: %s (retrying later)",
                bk_strerror(rc));
    else if (rc > 0)
        BK_INFO(MOD, "purged %d config change notifications", rc);
    if (rc >= PURGE_MAX_DELETES) /* maybe more: soon again */
        z->next_purge = bk_clock_mono_ms() + PURGE_BACKLOG_MS;
}

/* The next job, running the periodic checks (leader rebalance, purge of
 * old config changes) while waiting. */
static job *next_job(bk_zkb *z)
{
    const bk_bcfg *cfg = z->o.cfg;
    int64_t every = cfg->leader_imbalance_check_s * 1000;
    int64_t now = bk_clock_mono_ms();
    if (cfg->auto_leader_rebalance && z->next_rebalance == 0)
        z->next_rebalance = now + every;
    if (z->next_purge == 0)
        z->next_purge = now + PURGE_EVERY_MS;
    for (;;) {
        int64_t due = z->next_purge;
        if (cfg->auto_leader_rebalance && z->next_rebalance < due)
            due = z->next_rebalance;
        bool timeout;
        job *j = pop_until(z, due, &timeout);
        if (!timeout)
            return j;
        now = bk_clock_mono_ms();
        if (cfg->auto_leader_rebalance && now >= z->next_rebalance) {
            z->next_rebalance = now + every;
            rebalance_tick(z);
        }
        if (now >= z->next_purge) {
            z->next_purge = now + PURGE_EVERY_MS;
            purge_tick(z); /* may move next_purge closer */
        }
    }
}

static void *worker(void *arg)
{
    bk_zkb *z = arg;
    job *j;
    /* The first race for /controller, on the picture read at start. */
    int crc = ctrl_run(z);
    if (crc != 0)
        BK_WARN(MOD, "controller: %s (retrying at the next event)",
                bk_strerror(crc));
    if (bk_ctrl_is_active(z->ctrl))
        post_md(z);
    while ((j = next_job(z)) != NULL) {
        int rc = 0;
        switch (j->type) {
        case J_WATCH:
            rc = read_for_path(z, j->path, j->retry);
            /* A burst of watch events (a failover rewrites thousands of
             * state znodes) is read in full before the controller looks
             * and the picture is posted once: posting after each read
             * costs a copy of the whole picture per partition. */
            if (rc == 0 && !watch_queued(z)) {
                /* A failed controller step is retried like a read. */
                rc = ctrl_run(z);
                post_md(z);
            } else if (rc != 0) {
                post_md(z); /* what the burst read so far */
            }
            if (rc != 0) {
                /* Mostly a connection loss: the watch is lost with this
                 * read; retry the read once reconnected (a session
                 * event comes) by queueing the job again after a pause. */
                BK_WARN(MOD, "re-reading %s failed: %s (retrying)", j->path,
                        bk_strerror(rc));
                if (!nap(z, RETRY_MS)) {
                    j->retry = true;
                    push(z, j);
                    continue;
                }
            }
            break;
        case J_SESSION:
            if (j->state == BK_ZK_EXPIRED || j->state == BK_ZK_CLOSED) {
                bk_ctrl_session_lost(z->ctrl);
                renew_session(z);
            } else if (j->state == BK_ZK_CONNECTED) {
                /* Reconnected: a controller step that failed while the
                 * connection was down (and had no later event) runs now. */
                int src = ctrl_run(z);
                if (src != 0)
                    BK_WARN(MOD, "controller: %s (retrying at the next event)",
                            bk_strerror(src));
                else if (bk_ctrl_is_active(z->ctrl))
                    post_md(z);
            }
            break;
        case J_CREATE:
            bk_adm_create_topics(z->zk, z->o.cfg, z->o.loop, j->req);
            j->req = NULL;
            break;
        case J_DELETE:
            bk_adm_delete_topics(z->zk, z->o.cfg, z->o.loop, j->req);
            j->req = NULL;
            break;
        case J_AUTO:
            bk_adm_auto_create(z->zk, z->o.cfg, j->path);
            break;
        case J_CALL:
            j->fn(z->zk, j->arg);
            break;
        case J_CSHUT: {
            bk_ctrl_tp *rem = NULL;
            size_t nrem = 0;
            rc = bk_ctrl_controlled_shutdown(z->ctrl, z->zk, z->md, j->id,
                                             j->epoch, &rem, &nrem);
            if (rc == 0)
                post_md(z); /* the states it wrote */
            j->cshut(j->arg, rc, rem, nrem);
            break;
        }
        }
        job_free(j);
    }
    return NULL;
}

/* ------------------------------- public ------------------------------- */

int bk_zkb_open(const bk_zkb_opts *o, bk_zkb **out)
{
    *out = NULL;
    bk_zkb *z = calloc(1, sizeof *z);
    if (!z)
        return -BK_ENOMEM;
    z->o = *o;
    snprintf(z->session_path, sizeof z->session_path, "%s/%s", o->state_dir,
             SESSION_FILE);
    z->prev_session = read_session_file(z->session_path);
    z->last_change = -1;
    z->changes_czxid = -1;
    z->boot_session = z->prev_session;
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->cv, NULL);
    /* From here on the caller tears z down, even on failure: the session
     * callback may already have posted events that point at it. */
    *out = z;
    z->md = bk_md_new();
    z->ctrl = bk_ctrl_new(o->cfg->broker_id, o->cfg->unclean_leader_election);
    if (!z->md || !z->ctrl) {
        bk_zkb_close(z);
        return -BK_ENOMEM;
    }
    bk_ctrl_set_rebalance(z->ctrl, o->cfg->auto_leader_rebalance,
                          o->cfg->leader_imbalance_pct);
    bk_zk_opts zo = {.connect = o->cfg->zk_connect,
                     .session_timeout_ms = o->cfg->zk_session_timeout_ms,
                     .connect_timeout_ms = o->cfg->zk_connection_timeout_ms,
                     .on_session = session_cb,
                     .arg = z};
    char err[512];
    int rc = bk_zk_open(&zo, &z->zk, err, sizeof err);
    if (rc != 0) {
        BK_ERROR(MOD, "%s", err);
        bk_zkb_close(z);
        return rc;
    }
    BK_INFO(MOD, "connected to %s (session 0x%llx, timeout %d ms)",
            o->cfg->zk_connect, (unsigned long long)bk_zk_session_id(z->zk),
            bk_zk_negotiated_timeout(z->zk));
    rc = bk_zkd_ensure_paths(z->zk, z->cluster_id, sizeof z->cluster_id);
    if (rc != 0) {
        BK_ERROR(MOD, "cannot create the persistent paths in ZooKeeper: %s",
                 bk_strerror(rc));
        bk_zkb_close(z);
        return rc;
    }
    if (bk_md_set_cluster_id(z->md, z->cluster_id) != 0) {
        bk_zkb_close(z);
        return -BK_ENOMEM;
    }
    return 0;
}

const char *bk_zkb_cluster_id(const bk_zkb *z)
{
    return z->cluster_id;
}

const bk_ctrl *bk_zkb_ctrl(const bk_zkb *z)
{
    return z->ctrl;
}

int bk_zkb_register(bk_zkb *z)
{
    return do_register(z);
}

int bk_zkb_read_all(bk_zkb *z, bk_md **md)
{
    *md = NULL;
    int rc = read_all(z);
    if (rc != 0)
        return rc;
    *md = bk_md_clone(z->md);
    return *md ? 0 : -BK_ENOMEM;
}

int bk_zkb_start(bk_zkb *z)
{
    if (pthread_create(&z->thread, NULL, worker, z) != 0)
        return -BK_ENOMEM;
    z->started = true;
    return 0;
}

void bk_zkb_stopping(bk_zkb *z)
{
    z->stopping = true;
}

void bk_zkb_session_stats(const bk_zkb *z, uint64_t *connected,
                          uint64_t *expired)
{
    *connected = z->n_connected;
    *expired = z->n_expired;
}

void bk_zkb_close(bk_zkb *z)
{
    if (!z)
        return;
    pthread_mutex_lock(&z->mu);
    z->quit = true;
    pthread_cond_broadcast(&z->cv);
    pthread_mutex_unlock(&z->mu);
    if (z->started)
        pthread_join(z->thread, NULL);
    z->started = false;
    /* Closing the session removes our ephemeral registration at once. */
    bk_zk_close(z->zk);
    z->zk = NULL;
    /* Jobs never run: admin requests still get an answer. */
    job *j = z->head;
    z->head = z->tail = NULL;
    while (j) {
        job *next = j->next;
        if (j->req)
            bk_adm_fail(z->o.loop, j->req, BK_ERR_BROKER_NOT_AVAILABLE,
                        "the broker is shutting down");
        if (j->fn)
            j->fn(NULL, j->arg);
        if (j->cshut)
            j->cshut(j->arg, -BK_EIO, NULL, 0);
        job_free(j);
        j = next;
    }
}

void bk_zkb_free(bk_zkb *z)
{
    if (!z)
        return;
    assert(!z->started && !z->zk);
    sset_clear(&z->armed);
    sset_clear(&z->marks);
    bk_zk_strings_free(&z->changes_prev);
    bk_md_free(z->md);
    bk_ctrl_free(z->ctrl);
    pthread_mutex_destroy(&z->mu);
    pthread_cond_destroy(&z->cv);
    free(z);
}

/* ------------------------- loop-side requests ------------------------- */

static void submit_req(bk_zkb *z, bk_req *req, job_type type)
{
    job *j = calloc(1, sizeof *j);
    if (!j) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
        return;
    }
    j->type = type;
    j->req = req;
    bk_req_hold(req);
    push(z, j);
}

void bk_zkb_create_topics(bk_zkb *z, bk_req *req)
{
    submit_req(z, req, J_CREATE);
}

void bk_zkb_delete_topics(bk_zkb *z, bk_req *req)
{
    submit_req(z, req, J_DELETE);
}

void bk_zkb_auto_create(bk_zkb *z, const char *topic)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->type = J_AUTO;
    j->path = strdup(topic);
    if (!j->path) {
        free(j);
        return;
    }
    push(z, j);
}

void bk_zkb_set_ctrl_notify(bk_zkb *z, bk_ctrl_notify_fn *fn, void *arg)
{
    assert(!z->started);
    bk_ctrl_set_notify(z->ctrl, fn, arg);
}

int bk_zkb_controlled_shutdown(bk_zkb *z, int32_t broker_id,
                               int64_t broker_epoch, bk_zkb_cshut_fn *done,
                               void *arg)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return -BK_ENOMEM;
    j->type = J_CSHUT;
    j->id = broker_id;
    j->epoch = broker_epoch;
    j->cshut = done;
    j->arg = arg;
    push(z, j);
    return 0;
}

int bk_zkb_call(bk_zkb *z, bk_zkb_call_fn *fn, void *arg)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return -BK_ENOMEM;
    j->type = J_CALL;
    j->fn = fn;
    j->arg = arg;
    push(z, j);
    return 0;
}
