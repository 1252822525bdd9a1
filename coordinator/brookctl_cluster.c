/*
 * brookctl_cluster.c -- `brookctl cluster status`: the cluster's health at
 * a glance, from ZooKeeper alone (it works while every broker is down):
 * the controller, the live brokers, under-replicated and offline
 * partitions, leaders that are not the preferred replica, and brokers that
 * hold replicas but are not registered.
 *
 * Cost: a cluster of 10,000 partitions is 10,000 state znodes.  They are
 * read with pipelined gets (bk_zk_get_many), not one round trip each, and
 * so are the topics' assignments.  The reads are not one snapshot (nothing
 * in ZooKeeper is): a partition whose leader changes while we read shows
 * whichever state the server had when it answered that read.
 *
 * Threads: brookctl's main thread only.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/brookctl.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"

const char *const bk_ctl_cluster_status_help =
    "usage: brookctl cluster status\n"
    "\n"
    "The cluster's health as ZooKeeper has it (no broker is asked):\n"
    "  Controller: ID (epoch E)          or \"Controller: none\"\n"
    "  Live brokers: N\n"
    "  <TAB>Broker: ID<TAB>Endpoint: PLAINTEXT://host:port\n"
    "  Topics: N<TAB>Partitions: N\n"
    "  Under-replicated partitions: N    (ISR smaller than the replicas)\n"
    "  Offline partitions: N             (no leader, or a leader that is\n"
    "                                     not a live broker)\n"
    "then each of those partitions, as `topics describe` shows it:\n"
    "  <TAB>Topic: T<TAB>Partition: P<TAB>Leader: L<TAB>Replicas: a,b,c"
    "<TAB>Isr: a,b\n"
    "and\n"
    "  Preferred replica not leader: N   (`partitions elect-leaders` moves\n"
    "                                     them back)\n"
    "  Missing brokers: ID,...           (hold replicas, not registered)\n"
    "  Status: healthy | under-replicated | offline | no controller\n"
    "An offline partition is not counted as under-replicated too.  Topics\n"
    "marked for deletion are counted but not checked.\n"
    "\n"
    "Exit status: 0 healthy or only under-replicated, 1 some partition is\n"
    "offline or there is no controller (or the metadata could not be\n"
    "read), 3 ZooKeeper unreachable.\n";

/* One partition as read. */
typedef struct cs_part {
    size_t topic;           /* index into the topic list */
    const bk_zkc_part *asg; /* into that topic's assignment */
    bool has_state;
    bk_zkc_pstate st;
} cs_part;

typedef struct cs_topic {
    int rc; /* of reading/decoding its assignment: 0, -BK_ENOENT, ... */
    bool deleting;
    bk_zkc_assignment a;
} cs_topic;

static bool has_id(const int32_t *ids, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Binary search in the sorted live ids. */
static bool is_live(const int32_t *live, size_t n, int32_t id)
{
    return bsearch(&id, live, n, sizeof *live, cmp_i32) != NULL;
}

static void print_ids(const int32_t *ids, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        printf("%s%" PRId32, i ? "," : "", ids[i]);
}

static void print_part(const char *topic, const cs_part *p)
{
    printf("\tTopic: %s\tPartition: %" PRId32 "\tLeader: ", topic, p->asg->id);
    if (p->has_state && p->st.leader >= 0)
        printf("%" PRId32, p->st.leader);
    else
        printf("none");
    printf("\tReplicas: ");
    print_ids(p->asg->replicas, p->asg->nreplicas);
    printf("\tIsr: ");
    if (p->has_state)
        print_ids(p->st.isr, p->st.nisr);
    printf("\n");
}

/* Pipelined reads of paths[0..n): *bufs and *rcs are malloc'd (n each).
 * 0, or -BK_EIO when the connection went (some read said so), or
 * -BK_ENOMEM. */
static int read_many(bk_zk *zk, char **paths, size_t n, bk_buf **bufs,
                     int **rcs)
{
    *bufs = calloc(n ? n : 1, sizeof **bufs);
    *rcs = calloc(n ? n : 1, sizeof **rcs);
    if (!*bufs || !*rcs)
        return -BK_ENOMEM;
    int rc = bk_zk_get_many(zk, (const char *const *)paths, n, *bufs, *rcs);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if ((*rcs)[i] == -BK_EIO || (*rcs)[i] == -BK_ENOMEM)
            return (*rcs)[i];
    }
    return 0;
}

static void free_many(char **paths, bk_buf *bufs, int *rcs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (paths)
            free(paths[i]);
        if (bufs)
            bk_buf_free(&bufs[i]);
    }
    free(paths);
    free(bufs);
    free(rcs);
}

/* The controller: *id -1 when none.  0 or -BK_E*. */
static int read_controller(bk_zk *zk, int32_t *id, int32_t *epoch)
{
    *id = -1;
    *epoch = -1;
    bk_buf b = BK_BUF_INIT;
    int rc = bk_zk_get(zk, BK_ZKC_CONTROLLER, &b, NULL, NULL, NULL);
    if (rc == 0) {
        char err[256];
        if (bk_zkc_controller_decode(b.data, b.len, id, err, sizeof err)) {
            fprintf(stderr, "brookctl: %s: %s\n", BK_ZKC_CONTROLLER, err);
            *id = -1;
        }
    }
    bk_buf_free(&b);
    if (rc && rc != -BK_ENOENT)
        return rc;
    rc = bk_zkd_controller_epoch_read(zk, epoch, NULL);
    return rc == -BK_ENOENT ? 0 : rc;
}

/* What the command read, and its verdicts.  One lifetime: cs_free(). */
typedef struct cs_view {
    int32_t ctrl, epoch; /* ctrl -1: no controller */
    bk_zkc_broker *brokers;
    size_t nbrokers;
    int32_t *live; /* the brokers' ids, sorted */
    bk_zk_strings topics, deleting;
    cs_topic *ts; /* one per topics.v[i] */
    cs_part *parts;
    size_t nparts;
    bool unreadable; /* some znode did not decode (named on stderr) */
    /* verdicts */
    bool *offline, *urp; /* per part */
    size_t noffline, nurp, nnotpref, nchecked_topics;
    int32_t *missing; /* replica ids not live, sorted */
    size_t nmissing;
} cs_view;

static void cs_free(cs_view *v)
{
    for (size_t i = 0; v->ts && i < v->topics.n; i++)
        bk_zkc_assignment_free(&v->ts[i].a);
    free(v->ts);
    free(v->parts);
    free(v->offline);
    free(v->urp);
    free(v->missing);
    bk_zk_strings_free(&v->topics);
    bk_zk_strings_free(&v->deleting);
    free(v->live);
    free(v->brokers);
}

/* Reads the topics' assignments (pipelined) into v->ts and lists their
 * partitions in v->parts.  -1 to go on, else an exit status. */
static int cs_read_topics(bk_zk *zk, cs_view *v)
{
    int rc = bk_zkd_topics_list(zk, &v->topics);
    if (rc == 0) {
        rc = bk_zk_children(zk, BK_ZKC_DELETE_TOPICS, &v->deleting, NULL, NULL);
        if (rc == -BK_ENOENT)
            rc = 0;
    }
    if (rc)
        return bk_ctl_zk_failed(zk, rc, "cannot list the topics");
    size_t n = v->topics.n;
    v->ts = calloc(n ? n : 1, sizeof *v->ts);
    char **paths = calloc(n ? n : 1, sizeof *paths);
    bk_buf *bufs = NULL;
    int *rcs = NULL;
    int st = -1;
    if (!v->ts || !paths) {
        st = bk_ctl_fail("out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char path[BK_ZKC_PATH_MAX];
        if (bk_zkc_path_topic(path, v->topics.v[i]) != 0 ||
            !(paths[i] = strdup(path))) {
            st = bk_ctl_fail("out of memory");
            goto out;
        }
    }
    rc = read_many(zk, paths, n, &bufs, &rcs);
    if (rc) {
        st = bk_ctl_zk_failed(zk, rc, "cannot read the topics");
        goto out;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        cs_topic *t = &v->ts[i];
        for (size_t k = 0; k < v->deleting.n && !t->deleting; k++)
            t->deleting = strcmp(v->deleting.v[k], v->topics.v[i]) == 0;
        t->rc = rcs[i];
        if (t->rc == 0) {
            char err[256];
            t->rc = bk_zkc_assignment_decode(bufs[i].data, bufs[i].len, &t->a,
                                             err, sizeof err);
            if (t->rc == -BK_ECORRUPT) {
                fprintf(stderr, "brookctl: %s: %s\n", paths[i], err);
                v->unreadable = true;
            }
        }
        if (t->rc == 0)
            total += (size_t)t->a.nparts;
        else if (t->rc != -BK_ENOENT && t->rc != -BK_ECORRUPT) {
            /* e.g. out of memory; a topic deleted meanwhile is fine */
            st = bk_ctl_zk_failed(zk, t->rc, "cannot read the topics");
            goto out;
        }
    }
    v->parts = calloc(total ? total : 1, sizeof *v->parts);
    if (!v->parts) {
        st = bk_ctl_fail("out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (int32_t k = 0; v->ts[i].rc == 0 && k < v->ts[i].a.nparts; k++)
            v->parts[v->nparts++] =
                (cs_part){.topic = i, .asg = &v->ts[i].a.parts[k]};
    assert(v->nparts == total);
out:
    free_many(paths, bufs, rcs, n);
    return st;
}

/* Reads every partition's state (pipelined).  -1 or an exit status. */
static int cs_read_states(bk_zk *zk, cs_view *v)
{
    size_t n = v->nparts;
    const char **tv = calloc(n ? n : 1, sizeof *tv);
    int32_t *pv = calloc(n ? n : 1, sizeof *pv);
    bk_zkc_pstate *st = calloc(n ? n : 1, sizeof *st);
    int *rcs = calloc(n ? n : 1, sizeof *rcs);
    int st_exit = -1;
    int rc = tv && pv && st && rcs ? 0 : -BK_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        tv[i] = v->topics.v[v->parts[i].topic];
        pv[i] = v->parts[i].asg->id;
    }
    if (rc == 0)
        rc = bk_zkd_pstates_read(zk, tv, pv, n, st, NULL, rcs);
    if (rc == -BK_ENOMEM)
        st_exit = bk_ctl_fail("out of memory");
    else if (rc != 0)
        st_exit = bk_ctl_zk_failed(zk, rc, "cannot read the partition states");
    for (size_t i = 0; st_exit < 0 && i < n; i++) {
        if (rcs[i] == -BK_ENOENT)
            continue; /* no state znode: no leader */
        if (rcs[i] == -BK_ECORRUPT) {
            v->unreadable = true; /* the warning names the znode */
            continue;
        }
        if (rcs[i] != 0) {
            st_exit = bk_ctl_zk_failed(zk, rcs[i],
                                       "cannot read a partition state");
            break;
        }
        v->parts[i].st = st[i];
        v->parts[i].has_state = true;
    }
    free(tv);
    free(pv);
    free(st);
    free(rcs);
    return st_exit;
}

/* Everything from ZooKeeper.  -1 or an exit status. */
static int cs_read(bk_zk *zk, cs_view *v)
{
    int rc = read_controller(zk, &v->ctrl, &v->epoch);
    if (rc)
        return bk_ctl_zk_failed(zk, rc, "cannot read the controller");
    rc = bk_zkd_brokers_list(zk, &v->brokers, &v->nbrokers);
    if (rc)
        return bk_ctl_zk_failed(zk, rc, "cannot list the brokers");
    v->live = calloc(v->nbrokers ? v->nbrokers : 1, sizeof *v->live);
    if (!v->live)
        return bk_ctl_fail("out of memory");
    for (size_t i = 0; i < v->nbrokers; i++)
        v->live[i] = v->brokers[i].id; /* listed sorted by id */
    int st = cs_read_topics(zk, v);
    if (st >= 0)
        return st;
    return cs_read_states(zk, v);
}

/* The verdicts: offline first (an offline partition is not also counted
 * as under-replicated), then under-replicated and preferred leaders;
 * topics being deleted are not judged.  0 or -BK_ENOMEM. */
static int cs_judge(cs_view *v)
{
    size_t n = v->nparts;
    v->offline = calloc(n ? n : 1, sizeof *v->offline);
    v->urp = calloc(n ? n : 1, sizeof *v->urp);
    /* every distinct replica id at most once: the missing ones are among
     * them */
    v->missing = calloc(n ? n * BK_TOPIC_MAX_RF : 1, sizeof *v->missing);
    if (!v->offline || !v->urp || !v->missing)
        return -BK_ENOMEM;
    for (size_t i = 0; i < v->topics.n; i++)
        v->nchecked_topics += v->ts[i].rc == 0 && !v->ts[i].deleting;
    for (size_t i = 0; i < n; i++) {
        const cs_part *p = &v->parts[i];
        for (int32_t r = 0; r < p->asg->nreplicas; r++) {
            int32_t id = p->asg->replicas[r];
            if (!is_live(v->live, v->nbrokers, id) &&
                !has_id(v->missing, v->nmissing, id))
                v->missing[v->nmissing++] = id;
        }
        if (v->ts[p->topic].deleting)
            continue;
        int32_t leader = p->has_state ? p->st.leader : -1;
        if (leader < 0 || !is_live(v->live, v->nbrokers, leader)) {
            v->offline[i] = true;
            v->noffline++;
            continue;
        }
        if (p->st.nisr < p->asg->nreplicas) {
            v->urp[i] = true;
            v->nurp++;
        }
        if (p->asg->nreplicas > 0 && leader != p->asg->replicas[0])
            v->nnotpref++;
    }
    qsort(v->missing, v->nmissing, sizeof *v->missing, cmp_i32);
    return 0;
}

static void cs_print(const cs_view *v)
{
    if (v->ctrl >= 0)
        printf("Controller: %" PRId32 " (epoch %" PRId32 ")\n", v->ctrl,
               v->epoch);
    else
        printf("Controller: none\n");
    printf("Live brokers: %zu\n", v->nbrokers);
    char ep[400];
    for (size_t i = 0; i < v->nbrokers; i++) {
        const bk_zkc_broker *b = &v->brokers[i];
        printf("\tBroker: %" PRId32 "\tEndpoint: ", b->id);
        for (int e = 0; e < b->nendpoints; e++) {
            bk_zkc_endpoint_string(&b->endpoints[e], ep, sizeof ep);
            printf("%s%s", e ? "," : "", ep);
        }
        if (b->nendpoints == 0)
            printf("none");
        if (b->has_rack)
            printf("\tRack: %s", b->rack);
        printf("\n");
    }
    printf("Topics: %zu\tPartitions: %zu", v->topics.n, v->nparts);
    if (v->nchecked_topics < v->topics.n)
        printf("\t(%zu topics not checked: marked for deletion or "
               "unreadable)",
               v->topics.n - v->nchecked_topics);
    printf("\n");
    printf("Under-replicated partitions: %zu\n", v->nurp);
    for (size_t i = 0; i < v->nparts; i++)
        if (v->urp[i])
            print_part(v->topics.v[v->parts[i].topic], &v->parts[i]);
    printf("Offline partitions: %zu\n", v->noffline);
    for (size_t i = 0; i < v->nparts; i++)
        if (v->offline[i])
            print_part(v->topics.v[v->parts[i].topic], &v->parts[i]);
    printf("Preferred replica not leader: %zu\n", v->nnotpref);
    printf("Missing brokers: ");
    if (v->nmissing == 0)
        printf("none");
    for (size_t i = 0; i < v->nmissing; i++)
        printf("%s%" PRId32, i ? "," : "", v->missing[i]);
    printf("\n");

    /* the worst first, every problem named */
    printf("Status: ");
    const char *sep = "";
    if (v->noffline) {
        printf("offline (%zu partition%s)", v->noffline,
               v->noffline == 1 ? "" : "s");
        sep = ", ";
    }
    if (v->ctrl < 0) {
        printf("%sno controller", sep);
        sep = ", ";
    }
    if (v->nurp) {
        printf("%sunder-replicated (%zu partition%s)", sep, v->nurp,
               v->nurp == 1 ? "" : "s");
        sep = ", ";
    }
    if (v->unreadable) {
        printf("%sunreadable metadata (see above)", sep);
        sep = ", ";
    }
    if (!*sep)
        printf("healthy");
    printf("\n");
}

int bk_ctl_cluster_status(bk_zk *zk, const bk_ctl_args *a)
{
    (void)a; /* no options */
    cs_view v = {.ctrl = -1, .epoch = -1};
    int st = cs_read(zk, &v);
    if (st < 0) {
        if (cs_judge(&v) != 0) {
            st = bk_ctl_fail("out of memory");
        } else {
            cs_print(&v);
            /* under-replicated alone is not a failure: a rolling restart
             * goes through it on purpose */
            st = v.noffline || v.ctrl < 0 || v.unreadable ? BK_CTL_FAILED
                                                          : BK_CTL_OK;
        }
    }
    cs_free(&v);
    return st;
}
