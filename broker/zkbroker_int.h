/*
 * zkbroker_int.h -- what the files of the broker's ZooKeeper side share
 * (zkbroker.c: sessions, registration, watches, the worker; zkconfig.c:
 * dynamic configs and their change notifications).  Not for other
 * modules: they use broker/zkbroker.h.
 *
 * Threads: everything here belongs to the ZooKeeper worker (or to the
 * main thread before the worker starts), but the fields marked
 * "Loop-owned" and the queue (under mu).
 */
#ifndef BK_ZKBROKER_INT_H
#define BK_ZKBROKER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/metadata.h"
#include "broker/zkbroker.h"
#include "coordinator/zk.h"

/* ------------------------------ string set ------------------------------ */

typedef struct sitem {
    char *s;
    struct sitem *next;
} sitem;

typedef struct strset {
    sitem **b;
    size_t nb, n;
} strset;

static inline size_t shash(const char *s)
{
    size_t h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

static inline bool sset_has(const strset *ss, const char *s)
{
    if (!ss->nb)
        return false;
    for (sitem *i = ss->b[shash(s) % ss->nb]; i; i = i->next)
        if (strcmp(i->s, s) == 0)
            return true;
    return false;
}

static inline void sset_add(strset *ss, const char *s)
{
    if (sset_has(ss, s))
        return;
    if (ss->n >= ss->nb) {
        size_t nb = ss->nb ? ss->nb * 2 : 64;
        sitem **b = calloc(nb, sizeof *b);
        if (!b)
            return; /* a watch may then be set twice: harmless */
        for (size_t k = 0; k < ss->nb; k++) {
            sitem *i = ss->b[k];
            while (i) {
                sitem *next = i->next;
                size_t h = shash(i->s) % nb;
                i->next = b[h];
                b[h] = i;
                i = next;
            }
        }
        free(ss->b);
        ss->b = b;
        ss->nb = nb;
    }
    sitem *i = malloc(sizeof *i);
    if (!i || !(i->s = strdup(s))) {
        free(i);
        return;
    }
    size_t h = shash(s) % ss->nb;
    i->next = ss->b[h];
    ss->b[h] = i;
    ss->n++;
}

static inline void sset_del(strset *ss, const char *s)
{
    if (!ss->nb)
        return;
    for (sitem **pi = &ss->b[shash(s) % ss->nb]; *pi; pi = &(*pi)->next) {
        if (strcmp((*pi)->s, s) == 0) {
            sitem *i = *pi;
            *pi = i->next;
            free(i->s);
            free(i);
            ss->n--;
            return;
        }
    }
}

static inline void sset_clear(strset *ss)
{
    for (size_t k = 0; k < ss->nb; k++) {
        sitem *i = ss->b[k];
        while (i) {
            sitem *next = i->next;
            free(i->s);
            free(i);
            i = next;
        }
    }
    free(ss->b);
    memset(ss, 0, sizeof *ss);
}

/* -------------------------------- state -------------------------------- */

typedef enum job_type {
    J_WATCH = 1, /* a watch fired on path */
    J_SESSION,   /* the session changed state */
    J_CREATE,    /* CreateTopics request */
    J_DELETE,    /* DeleteTopics request */
    J_AUTO,      /* auto-create topic */
    J_CALL,      /* bk_zkb_call: run fn(zk, arg) */
    J_CSHUT,     /* ControlledShutdown of broker `id` (controller side) */
} job_type;

typedef struct job {
    job_type type;
    char *path;             /* J_WATCH; J_AUTO: the topic */
    bk_zk_state state;      /* J_SESSION */
    bk_req *req;            /* J_CREATE, J_DELETE (held) */
    bk_zkb_call_fn *fn;     /* J_CALL */
    bk_zkb_cshut_fn *cshut; /* J_CSHUT, with id and epoch */
    int32_t id;
    int64_t epoch;
    bool retry; /* J_WATCH: a read that failed, queued again */
    void *arg;
    struct job *next;
} job;

struct bk_zkb {
    bk_zkb_opts o;
    char session_path[4096];
    bk_zk *zk;
    char cluster_id[64];
    int64_t prev_session; /* our last session id, from the file */
    int64_t boot_session; /* the same as read at start (prev_session then
                             follows our registrations) */
    bk_ctrl *ctrl;        /* the controller (runs on the worker) */
    /* Worker: monotonic ms of the next leader-imbalance check. */
    int64_t next_rebalance;
    /* Worker: monotonic ms of the next purge of old config changes. */
    int64_t next_purge;
    /* Worker-owned. */
    bk_md *md;
    /* Sequence number of the last /config/changes notification handled
     * (-1: none yet), under the incarnation of /config/changes whose
     * czxid is changes_czxid (0: absent; ZooKeeper's sequence numbers
     * start again at 0 under a re-created parent). */
    int64_t last_change;
    int64_t changes_czxid;
    /* The children of /config/changes at the last listing (sorted) and
     * its cversion then: ZooKeeper counts every child created or deleted
     * in cversion, so the next listing tells how many notifications came
     * and went unseen in between. */
    bk_zk_strings changes_prev;
    int32_t changes_cversion;
    /* Every config entity must be read again (a notification vanished
     * unread, or /config/changes was re-created); kept until that read
     * succeeds. */
    bool cfg_reread;
    strset armed;
    strset marks; /* topics under /admin/delete_topics */
    /* Queue (under mu). */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    bool quit;
    pthread_t thread;
    bool started;
    /* Loop-owned. */
    bool stopping;
    uint64_t n_connected; /* session events: CONNECTED (metrics) */
    uint64_t n_expired;   /* ... and EXPIRED */
};

/* The armed-set key of a watch on path ('c'hildren, 'd'ata, 'e'xists). */
static inline void key(char *out, size_t cap, char kind, const char *path)
{
    snprintf(out, cap, "%c:%s", kind, path);
}

/* Children of path and its stat (st may be NULL), watching it unless a
 * watch is armed (zkbroker.c).  -BK_ENOENT when path is absent: then its
 * creation is watched instead. */
int bk_zkb_watched_children_st(bk_zkb *z, const char *path, bk_zk_strings *out,
                               bk_zk_stat *st);

/* ---------------------------- zkconfig.c ---------------------------- */

/* /config/brokers/<default> (dflt) or /config/brokers/<own id>, checked,
 * into md->dyn_default / md->dyn_broker. */
int bk_zkb_read_broker_entity(bk_zkb *z, bool dflt);
/* /config/topics/<topic>, checked (broker/dynconfig.h), into the picture. */
int bk_zkb_read_topic_config(bk_zkb *z, const char *topic);
/* Follows /config/changes (Kafka's ZkConfigManager): lists the
 * notifications (watching them), applies the new ones; initial: a full
 * read (start, new session).  0 or -BK_E* (retried by the caller). */
int bk_zkb_read_config_changes(bk_zkb *z, bool initial);

#endif
