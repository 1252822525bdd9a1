/*
 * ctrlchan.c -- the controller's request channel to the brokers and the
 * broker's ControlledShutdown client (see ctrlchan.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "broker/ctrlchan.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker/pool.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/logging.h"
#include "proto/protocol.h"

#define MOD "ctrlchan"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000
#define SLICE_MS       100 /* how often blocked I/O looks at quit */
/* Requests queued for one broker beyond which new ones are dropped (the
 * broker is far behind; its watches still bring the states). */
#define QUEUE_MAX 10000
/* ... or beyond this many bytes (a full picture of a large cluster is
 * megabytes; 10000 of them to a broker that cannot be reached would be
 * gigabytes).  One request is always accepted into an empty queue. */
#define QUEUE_MAX_BYTES (64u * 1024 * 1024)
#define ANSWER_MAX      (16u * 1024 * 1024)

/* One encoded request waiting for its destination. */
typedef struct cmsg {
    struct cmsg *next;
    int32_t api_key;
    bk_buf frame;
} cmsg;

/* A destination broker and its sender thread. */
typedef struct dest {
    struct bk_cc *cc;
    int32_t id;
    char host[256];
    int port;
    bool reconnect; /* the endpoint changed: drop the connection */
    atomic_bool quit;
    cmsg *head, *tail; /* under cc->mu; head stays until answered */
    size_t nq;
    size_t qbytes; /* frame bytes queued, under cc->mu */
    pthread_cond_t cv;
    struct dest *next;
} dest;

struct bk_cc {
    int32_t id;
    int timeout_ms;
    pthread_mutex_t mu;
    pthread_cond_t threads_cv; /* nthreads dropped */
    int nthreads;
    dest *dests; /* live destinations */
    atomic_int corr;
    atomic_uint_least64_t sent;
    atomic_bool quit;
    /* The controller as the loop last saw it (controlled shutdown). */
    int32_t ctrl_id;
    char ctrl_host[256];
    int ctrl_port;
    int64_t my_epoch; /* our registration's czxid (-1: unknown) */
    bool cshut_running;
};

/* ------------------------------ sockets ------------------------------ */

/* Waits for events on fd until deadline (mono ms); 0 when ready, -1 on
 * timeout, quit or error. */
static int wait_fd(int fd, short events, int64_t deadline,
                   const atomic_bool *q1, const atomic_bool *q2)
{
    for (;;) {
        if ((q1 && atomic_load(q1)) || (q2 && atomic_load(q2)))
            return -1;
        int64_t left = deadline - bk_clock_mono_ms();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {.fd = fd, .events = events};
        int r = poll(&pfd, 1, (int)(left < SLICE_MS ? left : SLICE_MS));
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* A connected socket to host:port, or -1. */
static int net_connect(const char *host, int port, int64_t deadline,
                       const atomic_bool *q1, const atomic_bool *q2)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (!host[0] || getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
        return -1;
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return -1;
    }
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    if (rc != 0) {
        int err = 0;
        socklen_t el = sizeof err;
        if (wait_fd(fd, POLLOUT, deadline, q1, q2) != 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
            close(fd);
            return -1;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int send_all(int fd, const uint8_t *p, size_t n, int64_t deadline,
                    const atomic_bool *q1, const atomic_bool *q2)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            wait_fd(fd, POLLOUT, deadline, q1, q2) == 0)
            continue;
        return -1;
    }
    return 0;
}

static int recv_n(int fd, uint8_t *p, size_t n, int64_t deadline,
                  const atomic_bool *q1, const atomic_bool *q2)
{
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            wait_fd(fd, POLLIN, deadline, q1, q2) == 0)
            continue;
        return -1; /* closed, error, timeout */
    }
    return 0;
}

/* Sends frame and reads one answer; *out decoded (caller frees), its
 * correlation id checked.  0 or -1 (the connection is then unusable). */
static int exchange(int fd, const bk_buf *frame, int32_t corr, int timeout_ms,
                    const atomic_bool *q1, const atomic_bool *q2,
                    Brook__Response **out)
{
    *out = NULL;
    int64_t deadline = bk_clock_mono_ms() + timeout_ms;
    if (send_all(fd, frame->data, frame->len, deadline, q1, q2) != 0)
        return -1;
    uint8_t lb[4];
    if (recv_n(fd, lb, 4, deadline, q1, q2) != 0)
        return -1;
    uint32_t len = bk_load_be32(lb);
    if (len == 0 || len > ANSWER_MAX)
        return -1;
    uint8_t *p = malloc(len);
    if (!p)
        return -1;
    int rc = recv_n(fd, p, len, deadline, q1, q2);
    if (rc == 0 && bk_frame_decode_response(p, len, out) != 0)
        rc = -1;
    free(p);
    if (rc == 0 && (*out)->header->correlation_id != corr) {
        brook__response__free_unpacked(*out, NULL);
        *out = NULL;
        rc = -1;
    }
    return rc;
}

/* Encodes a request with body set by the caller (body_case and pointer). */
static int encode(bk_cc *cc, Brook__Request *req, int32_t api_key,
                  bk_buf *frame)
{
    Brook__RequestHeader hdr = BROOK__REQUEST_HEADER__INIT;
    hdr.api_key = api_key;
    hdr.correlation_id = atomic_fetch_add(&cc->corr, 1) + 1;
    char client[32];
    snprintf(client, sizeof client, "controller-%d", (int)cc->id);
    hdr.client_id = client;
    req->header = &hdr;
    int rc = bk_frame_encode_request(frame, req);
    req->header = NULL;
    return rc;
}

/* The correlation id an encoded frame carries (we wrote it: decodes). */
static int32_t frame_corr(const bk_buf *frame)
{
    bk_frame_hdr h;
    if (bk_frame_peek_header(frame->data + 4, frame->len - 4, &h) != 0)
        return -1;
    return h.correlation_id;
}

/* ------------------------------ senders ------------------------------ */

static void cmsg_free(cmsg *m)
{
    bk_buf_free(&m->frame);
    free(m);
}

/* Logs what a broker answered (errors only: the request is not re-sent,
 * a stale or fenced request stays stale). */
static void log_answer(const dest *d, int32_t api_key, const Brook__Response *r)
{
    int32_t err = r->header->error_code;
    size_t nperr = 0;
    if (!err && api_key == BK_API_LEADER_AND_ISR && r->leader_and_isr) {
        err = r->leader_and_isr->error_code;
        for (size_t i = 0; i < r->leader_and_isr->n_partition_errors; i++)
            nperr += r->leader_and_isr->partition_errors[i]->error_code != 0;
    } else if (!err && api_key == BK_API_UPDATE_METADATA &&
               r->update_metadata) {
        err = r->update_metadata->error_code;
    } else if (!err && api_key == BK_API_STOP_REPLICA && r->stop_replica) {
        err = r->stop_replica->error_code;
    }
    if (err)
        BK_WARN(MOD, "broker %d answered %s with %s", d->id,
                bk_api_name(api_key), bk_err_name(err));
    else if (nperr)
        BK_DEBUG(MOD, "broker %d: %zu partitions of %s not applied (stale)",
                 d->id, nperr, bk_api_name(api_key));
}

static void *sender(void *arg)
{
    dest *d = arg;
    bk_cc *cc = d->cc;
    int fd = -1;
    int backoff = BACKOFF_MIN_MS;
    bool logged_down = false;
    pthread_mutex_lock(&cc->mu);
    for (;;) {
        while (!d->head && !atomic_load(&d->quit))
            pthread_cond_wait(&d->cv, &cc->mu);
        if (atomic_load(&d->quit))
            break;
        if (d->reconnect && fd >= 0) {
            close(fd);
            fd = -1;
        }
        d->reconnect = false;
        cmsg *m = d->head; /* only this thread removes the head */
        char host[256];
        int port = d->port;
        memcpy(host, d->host, sizeof host);
        pthread_mutex_unlock(&cc->mu);

        int rc = 0;
        if (fd < 0) {
            fd = net_connect(host, port, bk_clock_mono_ms() + cc->timeout_ms,
                             &d->quit, &cc->quit);
            rc = fd < 0 ? -1 : 0;
        }
        Brook__Response *resp = NULL;
        if (rc == 0)
            rc = exchange(fd, &m->frame, frame_corr(&m->frame), cc->timeout_ms,
                          &d->quit, &cc->quit, &resp);
        if (rc == 0) {
            log_answer(d, m->api_key, resp);
            brook__response__free_unpacked(resp, NULL);
            atomic_fetch_add(&cc->sent, 1);
            backoff = BACKOFF_MIN_MS;
            if (logged_down)
                BK_INFO(MOD, "broker %d reachable again", d->id);
            logged_down = false;
        } else {
            if (fd >= 0)
                close(fd);
            fd = -1;
            if (!logged_down && !atomic_load(&d->quit))
                BK_WARN(MOD, "cannot send %s to broker %d at %s:%d; retrying",
                        bk_api_name(m->api_key), d->id, host, port);
            logged_down = true;
        }

        pthread_mutex_lock(&cc->mu);
        if (rc == 0) {
            d->head = m->next;
            if (!d->head)
                d->tail = NULL;
            d->nq--;
            d->qbytes -= m->frame.len;
            cmsg_free(m);
        } else if (!atomic_load(&d->quit)) {
            /* Backoff; a quit or a new endpoint wakes us early. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)backoff * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            while (!atomic_load(&d->quit) && !d->reconnect &&
                   pthread_cond_timedwait(&d->cv, &cc->mu, &ts) == 0) {
            }
            backoff =
                backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        }
    }
    /* Unlinked by whoever set quit: the queue is ours to drop. */
    cmsg *m = d->head;
    while (m) {
        cmsg *next = m->next;
        cmsg_free(m);
        m = next;
    }
    cc->nthreads--;
    pthread_cond_broadcast(&cc->threads_cv);
    pthread_mutex_unlock(&cc->mu);
    if (fd >= 0)
        close(fd);
    pthread_cond_destroy(&d->cv);
    free(d);
    return NULL;
}

/* Under mu.  Starts the sender of broker b. */
static dest *dest_start(bk_cc *cc, const bk_md_broker *b)
{
    dest *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->cc = cc;
    d->id = b->id;
    snprintf(d->host, sizeof d->host, "%s", b->host ? b->host : "");
    d->port = b->port;
    atomic_init(&d->quit, false);
    pthread_cond_init(&d->cv, NULL);
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &at, sender, d);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        pthread_cond_destroy(&d->cv);
        free(d);
        return NULL;
    }
    cc->nthreads++;
    d->next = cc->dests;
    cc->dests = d;
    return d;
}

/* Under mu. */
static void dest_stop(bk_cc *cc, dest **pd)
{
    dest *d = *pd;
    *pd = d->next;
    atomic_store(&d->quit, true);
    pthread_cond_signal(&d->cv);
    (void)cc;
}

static dest *dest_find(bk_cc *cc, int32_t id)
{
    for (dest *d = cc->dests; d; d = d->next)
        if (d->id == id)
            return d;
    return NULL;
}

/* Under mu: one sender per live broker of md, endpoints as md says. */
static void dests_sync(bk_cc *cc, const bk_md *md)
{
    for (dest **pd = &cc->dests; *pd;) {
        if (!bk_md_broker_find(md, (*pd)->id)) {
            BK_INFO(MOD, "broker %d left: its requests are dropped", (*pd)->id);
            dest_stop(cc, pd);
        } else {
            pd = &(*pd)->next;
        }
    }
    for (size_t i = 0; i < md->nbrokers; i++) {
        const bk_md_broker *b = &md->brokers[i];
        dest *d = dest_find(cc, b->id);
        if (!d) {
            if (!dest_start(cc, b))
                BK_ERROR(MOD, "cannot start a sender for broker %d", b->id);
            continue;
        }
        const char *h = b->host ? b->host : "";
        if (d->port != b->port || strcmp(d->host, h) != 0) {
            snprintf(d->host, sizeof d->host, "%s", h);
            d->port = b->port;
            d->reconnect = true;
            pthread_cond_signal(&d->cv);
        }
    }
}

/* Under mu: queues frame (taken) for broker id. */
static void enqueue(bk_cc *cc, int32_t id, int32_t api_key, bk_buf *frame)
{
    dest *d = dest_find(cc, id);
    bool room = d && d->nq < QUEUE_MAX &&
                (d->nq == 0 || d->qbytes + frame->len <= QUEUE_MAX_BYTES);
    cmsg *m = room ? calloc(1, sizeof *m) : NULL;
    if (!m) {
        if (d)
            BK_WARN(MOD, "%s to broker %d dropped (queue full)",
                    bk_api_name(api_key), id);
        bk_buf_free(frame);
        return;
    }
    m->api_key = api_key;
    m->frame = *frame;
    *frame = (bk_buf)BK_BUF_INIT;
    if (d->tail)
        d->tail->next = m;
    else
        d->head = m;
    d->tail = m;
    d->nq++;
    d->qbytes += m->frame.len;
    pthread_cond_signal(&d->cv);
}

/* ----------------------------- requests ----------------------------- */

/* A partition to tell about. */
typedef struct pref {
    const bk_md_topic *t;
    const bk_md_part *p;
} pref;

static int pref_cmp(const void *a, const void *b)
{
    const pref *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1; /* md->topics is sorted by name */
    return x->p->index < y->p->index ? -1 : x->p->index > y->p->index;
}

static bool has_id(const int32_t *v, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

/* Number of distinct topics in the sorted refs. */
static size_t count_topics(const pref *r, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += i == 0 || r[i].t != r[i - 1].t;
    return k;
}

/* LeaderAndIsr of refs r[0..n) (sorted) into frame; 0 or -BK_ENOMEM. */
static int build_lai(bk_cc *cc, const bk_md *md, int32_t epoch, const pref *r,
                     size_t n, bk_buf *frame)
{
    bk_pool pool = BK_POOL_INIT;
    Brook__LeaderAndIsrRequest body = BROOK__LEADER_AND_ISR_REQUEST__INIT;
    body.controller_id = cc->id;
    body.controller_epoch = epoch;
    body.broker_epoch = -1;
    size_t nt = count_topics(r, n);
    Brook__LeaderAndIsrTopicState **ts = bk_pool_calloc(&pool, nt, sizeof *ts);
    Brook__LeaderAndIsrPartitionState **ps =
        bk_pool_calloc(&pool, n, sizeof *ps);
    Brook__LeaderAndIsrLiveLeader **ll = bk_pool_calloc(&pool, n, sizeof *ll);
    int rc = ts && ps && ll ? 0 : -BK_ENOMEM;
    size_t ti = 0, nl = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i == 0 || r[i].t != r[i - 1].t) {
            Brook__LeaderAndIsrTopicState *t = bk_pool_alloc(&pool, sizeof *t);
            if (!t) {
                rc = -BK_ENOMEM;
                break;
            }
            brook__leader_and_isr_topic_state__init(t);
            t->topic_name = r[i].t->name;
            t->partition_states = &ps[i];
            ts[ti++] = t;
        }
        ts[ti - 1]->n_partition_states++;
        const bk_md_part *p = r[i].p;
        Brook__LeaderAndIsrPartitionState *s = bk_pool_alloc(&pool, sizeof *s);
        if (!s) {
            rc = -BK_ENOMEM;
            break;
        }
        brook__leader_and_isr_partition_state__init(s);
        s->partition_index = p->index;
        s->controller_epoch = p->controller_epoch;
        s->leader = p->leader;
        s->leader_epoch = p->leader_epoch;
        s->n_isr = p->nisr;
        s->isr = p->isr;
        s->partition_epoch = p->zk_version;
        s->n_replicas = p->nreplicas;
        s->replicas = p->replicas;
        ps[i] = s;
        const bk_md_broker *lb = bk_md_broker_find(md, p->leader);
        bool seen = false;
        for (size_t k = 0; k < nl && !seen; k++)
            seen = ll[k]->broker_id == p->leader;
        if (lb && !seen) {
            Brook__LeaderAndIsrLiveLeader *l = bk_pool_alloc(&pool, sizeof *l);
            if (!l) {
                rc = -BK_ENOMEM;
                break;
            }
            brook__leader_and_isr_live_leader__init(l);
            l->broker_id = lb->id;
            l->host_name = lb->host ? lb->host : "";
            l->port = lb->port;
            ll[nl++] = l;
        }
    }
    if (rc == 0) {
        body.n_topic_states = nt;
        body.topic_states = ts;
        body.n_live_leaders = nl;
        body.live_leaders = ll;
        Brook__Request req = BROOK__REQUEST__INIT;
        req.body_case = BROOK__REQUEST__BODY_LEADER_AND_ISR;
        req.leader_and_isr = &body;
        rc = encode(cc, &req, BK_API_LEADER_AND_ISR, frame);
    }
    bk_pool_free(&pool);
    return rc;
}

/* The UpdateMetadata body of refs r[0..n) (sorted) and md's live brokers,
 * allocated in pool.  NULL on allocation failure. */
static Brook__UpdateMetadataRequest *build_um(bk_cc *cc, bk_pool *pool,
                                              const bk_md *md, int32_t epoch,
                                              const pref *r, size_t n)
{
    Brook__UpdateMetadataRequest *body = bk_pool_alloc(pool, sizeof *body);
    if (!body)
        return NULL;
    brook__update_metadata_request__init(body);
    body->controller_id = cc->id;
    body->controller_epoch = epoch;
    body->broker_epoch = -1;
    size_t nt = count_topics(r, n);
    Brook__UpdateMetadataTopicState **ts = bk_pool_calloc(pool, nt, sizeof *ts);
    Brook__UpdateMetadataPartitionState **ps =
        bk_pool_calloc(pool, n, sizeof *ps);
    Brook__UpdateMetadataBroker **lb =
        bk_pool_calloc(pool, md->nbrokers, sizeof *lb);
    if ((nt && !ts) || (n && !ps) || (md->nbrokers && !lb))
        return NULL;
    size_t ti = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || r[i].t != r[i - 1].t) {
            Brook__UpdateMetadataTopicState *t = bk_pool_alloc(pool, sizeof *t);
            if (!t)
                return NULL;
            brook__update_metadata_topic_state__init(t);
            t->topic_name = r[i].t->name;
            t->partition_states = &ps[i];
            ts[ti++] = t;
        }
        ts[ti - 1]->n_partition_states++;
        const bk_md_part *p = r[i].p;
        Brook__UpdateMetadataPartitionState *s = bk_pool_alloc(pool, sizeof *s);
        int32_t *off =
            bk_pool_calloc(pool, p->nreplicas ? p->nreplicas : 1, sizeof *off);
        if (!s || !off)
            return NULL;
        brook__update_metadata_partition_state__init(s);
        s->partition_index = p->index;
        s->controller_epoch = p->controller_epoch;
        s->leader = p->leader;
        s->leader_epoch = p->leader_epoch;
        s->n_isr = p->nisr;
        s->isr = p->isr;
        s->zk_version = p->zk_version;
        s->n_replicas = p->nreplicas;
        s->replicas = p->replicas;
        size_t noff = 0;
        for (size_t k = 0; k < p->nreplicas; k++)
            if (!bk_md_broker_find(md, p->replicas[k]))
                off[noff++] = p->replicas[k];
        s->n_offline_replicas = noff;
        s->offline_replicas = off;
        ps[i] = s;
    }
    for (size_t i = 0; i < md->nbrokers; i++) {
        const bk_md_broker *b = &md->brokers[i];
        Brook__UpdateMetadataBroker *ub = bk_pool_alloc(pool, sizeof *ub);
        Brook__UpdateMetadataEndpoint *ep = bk_pool_alloc(pool, sizeof *ep);
        Brook__UpdateMetadataEndpoint **eps = bk_pool_alloc(pool, sizeof *eps);
        if (!ub || !ep || !eps)
            return NULL;
        brook__update_metadata_broker__init(ub);
        brook__update_metadata_endpoint__init(ep);
        ep->host = b->host ? b->host : "";
        ep->port = b->port;
        ep->listener = "PLAINTEXT";
        ep->security_protocol = 0;
        eps[0] = ep;
        ub->id = b->id;
        ub->n_endpoints = 1;
        ub->endpoints = eps;
        ub->rack = b->rack ? b->rack : "";
        lb[i] = ub;
    }
    body->n_topic_states = nt;
    body->topic_states = ts;
    body->n_live_brokers = md->nbrokers;
    body->live_brokers = lb;
    return body;
}

/* The partitions to tell about, sorted and without duplicates; only
 * those with a state.  *out malloc'd (NULL when n is 0). */
static int collect(const bk_md *md, const bk_ctrl_tp *changed, size_t n,
                   bool full, pref **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    size_t cap = 0;
    if (full)
        for (size_t i = 0; i < md->ntopics; i++)
            cap += md->topics[i].nparts;
    else
        cap = n;
    if (cap == 0)
        return 0;
    pref *r = malloc(cap * sizeof *r);
    if (!r)
        return -BK_ENOMEM;
    size_t k = 0;
    if (full) {
        for (size_t i = 0; i < md->ntopics; i++)
            for (size_t j = 0; j < md->topics[i].nparts; j++)
                if (md->topics[i].parts[j].has_state)
                    r[k++] = (pref){&md->topics[i], &md->topics[i].parts[j]};
    } else {
        for (size_t i = 0; i < n; i++) {
            const bk_md_topic *t = bk_md_topic_find(md, changed[i].topic);
            const bk_md_part *p =
                bk_md_part_find(md, changed[i].topic, changed[i].partition);
            if (t && p && p->has_state)
                r[k++] = (pref){t, p};
        }
        qsort(r, k, sizeof *r, pref_cmp);
        size_t w = 0;
        for (size_t i = 0; i < k; i++)
            if (w == 0 || pref_cmp(&r[w - 1], &r[i]) != 0)
                r[w++] = r[i];
        k = w;
    }
    *out = r;
    *nout = k;
    return 0;
}

void bk_cc_notify(void *arg, const bk_md *md, int32_t ctrl_epoch,
                  const bk_ctrl_tp *changed, size_t n, bool full)
{
    bk_cc *cc = arg;
    pref *r = NULL, *sub = NULL;
    size_t nr = 0;
    if (collect(md, changed, n, full, &r, &nr) != 0)
        goto oom;
    if (nr == 0 && !full)
        return;
    sub = malloc((nr ? nr : 1) * sizeof *sub);
    if (!sub)
        goto oom;
    bk_pool pool = BK_POOL_INIT;
    Brook__UpdateMetadataRequest *um =
        build_um(cc, &pool, md, ctrl_epoch, r, nr);
    if (!um) {
        bk_pool_free(&pool);
        goto oom;
    }
    pthread_mutex_lock(&cc->mu);
    dests_sync(cc, md);
    pthread_mutex_unlock(&cc->mu);
    size_t nlai = 0;
    for (size_t i = 0; i < md->nbrokers; i++) {
        int32_t to = md->brokers[i].id;
        size_t ns = 0;
        for (size_t k = 0; k < nr; k++)
            if (has_id(r[k].p->replicas, r[k].p->nreplicas, to))
                sub[ns++] = r[k];
        bk_buf lai = BK_BUF_INIT, upd = BK_BUF_INIT;
        if (ns > 0 && build_lai(cc, md, ctrl_epoch, sub, ns, &lai) != 0)
            BK_ERROR(MOD, "cannot encode LeaderAndIsr for broker %d", to);
        Brook__Request req = BROOK__REQUEST__INIT;
        req.body_case = BROOK__REQUEST__BODY_UPDATE_METADATA;
        req.update_metadata = um;
        if (encode(cc, &req, BK_API_UPDATE_METADATA, &upd) != 0)
            BK_ERROR(MOD, "cannot encode UpdateMetadata for broker %d", to);
        pthread_mutex_lock(&cc->mu);
        if (lai.len > 0) {
            enqueue(cc, to, BK_API_LEADER_AND_ISR, &lai);
            nlai += ns;
        }
        if (upd.len > 0)
            enqueue(cc, to, BK_API_UPDATE_METADATA, &upd);
        pthread_mutex_unlock(&cc->mu);
        bk_buf_free(&lai);
        bk_buf_free(&upd);
    }
    BK_DEBUG(MOD,
             "epoch %d: %zu partition states queued to %zu brokers%s "
             "(%zu LeaderAndIsr entries)",
             ctrl_epoch, nr, md->nbrokers, full ? " (full)" : "", nlai);
    bk_pool_free(&pool);
    free(r);
    free(sub);
    return;
oom:
    BK_ERROR(MOD,
             "out of memory: brokers not told of %zu partition states "
             "(their watches will bring them)",
             full ? (size_t)0 : n);
    free(r);
    free(sub);
}

int bk_cc_stop_replica(bk_cc *cc, const bk_md *md, int32_t ctrl_epoch,
                       int32_t to, const bk_ctrl_tp *tp, size_t n,
                       bool delete_logs)
{
    if (!bk_md_broker_find(md, to))
        return -BK_ENOENT;
    bk_pool pool = BK_POOL_INIT;
    Brook__StopReplicaRequest body = BROOK__STOP_REPLICA_REQUEST__INIT;
    body.controller_id = cc->id;
    body.controller_epoch = ctrl_epoch;
    body.broker_epoch = -1;
    Brook__StopReplicaTopicState **ts = bk_pool_calloc(&pool, n, sizeof *ts);
    int rc = n == 0 || ts ? 0 : -BK_ENOMEM;
    size_t nt = 0;
    /* One topic entry per partition: simple, and valid protocol. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        Brook__StopReplicaTopicState *t = bk_pool_alloc(&pool, sizeof *t);
        Brook__StopReplicaPartitionState *s = bk_pool_alloc(&pool, sizeof *s);
        Brook__StopReplicaPartitionState **sp =
            bk_pool_alloc(&pool, sizeof *sp);
        if (!t || !s || !sp) {
            rc = -BK_ENOMEM;
            break;
        }
        brook__stop_replica_topic_state__init(t);
        brook__stop_replica_partition_state__init(s);
        const bk_md_part *p = bk_md_part_find(md, tp[i].topic, tp[i].partition);
        s->partition_index = tp[i].partition;
        /* -2: regardless of epoch (Kafka's sentinel for deletion). */
        s->leader_epoch =
            p && p->has_state && !delete_logs ? p->leader_epoch : -2;
        s->delete_partition = delete_logs;
        sp[0] = s;
        t->topic_name = tp[i].topic;
        t->n_partition_states = 1;
        t->partition_states = sp;
        ts[nt++] = t;
    }
    bk_buf frame = BK_BUF_INIT;
    if (rc == 0) {
        body.n_topic_states = nt;
        body.topic_states = ts;
        Brook__Request req = BROOK__REQUEST__INIT;
        req.body_case = BROOK__REQUEST__BODY_STOP_REPLICA;
        req.stop_replica = &body;
        rc = encode(cc, &req, BK_API_STOP_REPLICA, &frame);
    }
    bk_pool_free(&pool);
    if (rc != 0) {
        bk_buf_free(&frame);
        return rc;
    }
    pthread_mutex_lock(&cc->mu);
    dests_sync(cc, md);
    enqueue(cc, to, BK_API_STOP_REPLICA, &frame);
    pthread_mutex_unlock(&cc->mu);
    bk_buf_free(&frame);
    return 0;
}

uint64_t bk_cc_sent(bk_cc *cc)
{
    return atomic_load(&cc->sent);
}

/* ------------------------- controlled shutdown ------------------------- */

void bk_cc_set_controller(bk_cc *cc, const bk_md *md)
{
    const bk_md_broker *b = bk_md_broker_find(md, md->controller_id);
    pthread_mutex_lock(&cc->mu);
    cc->ctrl_id = md->controller_id;
    snprintf(cc->ctrl_host, sizeof cc->ctrl_host, "%s",
             b && b->host ? b->host : "");
    cc->ctrl_port = b ? b->port : 0;
    const bk_md_broker *me = bk_md_broker_find(md, cc->id);
    cc->my_epoch = me && me->epoch > 0 ? me->epoch : -1;
    pthread_mutex_unlock(&cc->mu);
}

typedef struct cshut {
    bk_cc *cc;
    bk_loop *loop;
    int attempt;
    bk_cc_cshut_done_fn *done;
    void *arg;
    int err;
    bk_ctrl_tp *rem;
    size_t nrem;
} cshut;

static void cshut_post(bk_loop *loop, void *arg)
{
    (void)loop;
    cshut *s = arg;
    s->done(s->arg, s->err, s->rem, s->nrem); /* takes rem */
    free(s);
}

/* The remaining partitions of an answer, copied into s.  0 or -1. */
static int copy_remaining(cshut *s, const Brook__ControlledShutdownResponse *cs)
{
    size_t n = cs->n_remaining_partitions;
    if (n == 0)
        return 0;
    s->rem = calloc(n, sizeof *s->rem);
    if (!s->rem)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const Brook__RemainingPartition *p = cs->remaining_partitions[i];
        s->rem[i].topic = strdup(p->topic_name ? p->topic_name : "");
        s->rem[i].partition = p->partition_index;
        s->nrem = i + 1;
        if (!s->rem[i].topic)
            return -1;
    }
    return 0;
}

/* One ControlledShutdown exchange; fills s->err, s->rem. */
static void cshut_attempt(cshut *s)
{
    bk_cc *cc = s->cc;
    int attempt = s->attempt;
    s->err = -1;
    pthread_mutex_lock(&cc->mu);
    int32_t cid = cc->ctrl_id;
    char host[256];
    memcpy(host, cc->ctrl_host, sizeof host);
    int port = cc->ctrl_port;
    int64_t my_epoch = cc->my_epoch;
    pthread_mutex_unlock(&cc->mu);
    if (cid < 0 || !host[0]) {
        BK_WARN(MOD, "controlled shutdown (attempt %d): no controller known",
                attempt);
        return;
    }
    int fd = net_connect(host, port, bk_clock_mono_ms() + cc->timeout_ms,
                         &cc->quit, NULL);
    if (fd < 0) {
        BK_WARN(MOD,
                "controlled shutdown (attempt %d): cannot reach the "
                "controller %d at %s:%d",
                attempt, cid, host, port);
        return;
    }
    Brook__ControlledShutdownRequest body =
        BROOK__CONTROLLED_SHUTDOWN_REQUEST__INIT;
    body.broker_id = cc->id;
    body.broker_epoch = my_epoch;
    Brook__Request req = BROOK__REQUEST__INIT;
    req.body_case = BROOK__REQUEST__BODY_CONTROLLED_SHUTDOWN;
    req.controlled_shutdown = &body;
    bk_buf frame = BK_BUF_INIT;
    Brook__Response *resp = NULL;
    int rc = encode(cc, &req, BK_API_CONTROLLED_SHUTDOWN, &frame);
    if (rc == 0)
        rc = exchange(fd, &frame, frame_corr(&frame), cc->timeout_ms, &cc->quit,
                      NULL, &resp);
    bk_buf_free(&frame);
    close(fd);
    if (rc != 0) {
        BK_WARN(MOD,
                "controlled shutdown (attempt %d): no answer from the "
                "controller %d",
                attempt, cid);
        return;
    }
    int32_t err = resp->header->error_code;
    const Brook__ControlledShutdownResponse *cs = resp->controlled_shutdown;
    if (!err && !cs)
        err = BK_ERR_UNKNOWN;
    if (!err)
        err = cs->error_code;
    if (err) {
        BK_WARN(MOD, "controlled shutdown (attempt %d): controller %d: %s",
                attempt, cid, bk_err_name(err));
    } else if (cs->n_remaining_partitions > 0) {
        const Brook__RemainingPartition *p = cs->remaining_partitions[0];
        BK_WARN(MOD,
                "controlled shutdown (attempt %d): %zu partitions still "
                "led here (e.g. %s-%d)",
                attempt, cs->n_remaining_partitions, p->topic_name,
                p->partition_index);
    } else {
        BK_INFO(MOD,
                "controlled shutdown: controller %d moved every "
                "leadership away (attempt %d)",
                cid, attempt);
    }
    if (err == 0 && copy_remaining(s, cs) != 0)
        err = -1;
    s->err = err;
    brook__response__free_unpacked(resp, NULL);
}

static void *cshut_thread(void *arg)
{
    cshut *s = arg;
    bk_cc *cc = s->cc;
    cshut_attempt(s);
    pthread_mutex_lock(&cc->mu);
    cc->cshut_running = false;
    pthread_mutex_unlock(&cc->mu);
    if (bk_loop_post(s->loop, cshut_post, s) != 0) {
        bk_ctrl_tps_free(s->rem, s->nrem);
        free(s);
    }
    pthread_mutex_lock(&cc->mu);
    cc->nthreads--;
    pthread_cond_broadcast(&cc->threads_cv);
    pthread_mutex_unlock(&cc->mu);
    return NULL;
}

int bk_cc_controlled_shutdown(bk_cc *cc, bk_loop *loop, int attempt,
                              bk_cc_cshut_done_fn *done, void *arg)
{
    cshut *s = calloc(1, sizeof *s);
    if (!s)
        return -BK_ENOMEM;
    s->cc = cc;
    s->loop = loop;
    s->attempt = attempt;
    s->done = done;
    s->arg = arg;
    pthread_mutex_lock(&cc->mu);
    if (cc->cshut_running) {
        pthread_mutex_unlock(&cc->mu);
        free(s);
        return -BK_EEXIST;
    }
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &at, cshut_thread, s);
    pthread_attr_destroy(&at);
    if (rc == 0) {
        cc->cshut_running = true;
        cc->nthreads++;
    }
    pthread_mutex_unlock(&cc->mu);
    if (rc != 0) {
        free(s);
        return -BK_ENOMEM;
    }
    return 0;
}

/* ------------------------------ lifetime ------------------------------ */

bk_cc *bk_cc_new(int32_t broker_id, int socket_timeout_ms)
{
    bk_cc *cc = calloc(1, sizeof *cc);
    if (!cc)
        return NULL;
    cc->id = broker_id;
    cc->timeout_ms = socket_timeout_ms > 0 ? socket_timeout_ms : 30000;
    cc->ctrl_id = -1;
    cc->my_epoch = -1;
    atomic_init(&cc->corr, 0);
    atomic_init(&cc->sent, 0);
    atomic_init(&cc->quit, false);
    pthread_mutex_init(&cc->mu, NULL);
    pthread_cond_init(&cc->threads_cv, NULL);
    return cc;
}

void bk_cc_free(bk_cc *cc)
{
    if (!cc)
        return;
    atomic_store(&cc->quit, true);
    pthread_mutex_lock(&cc->mu);
    while (cc->dests)
        dest_stop(cc, &cc->dests);
    /* Detached threads: wait until each has let go of cc. */
    while (cc->nthreads > 0)
        pthread_cond_wait(&cc->threads_cv, &cc->mu);
    pthread_mutex_unlock(&cc->mu);
    pthread_mutex_destroy(&cc->mu);
    pthread_cond_destroy(&cc->threads_cv);
    free(cc);
}
