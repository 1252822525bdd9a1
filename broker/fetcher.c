/*
 * fetcher.c -- a replica fetcher on the broker's loop (see fetcher.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "broker/fetcher.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/repl.h"
#include "common/batch.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/logging.h"
#include "proto/protocol.h"

#define MOD "fetcher"

typedef enum fstate {
    F_IDLE,       /* no connection; the timer reconnects */
    F_CONNECTING, /* connect() in progress */
    F_READY,      /* connected, no request in flight */
    F_WAITING,    /* a request is in flight */
} fstate;

struct bk_fetcher {
    bk_broker *b;
    int32_t leader;
    fstate state;
    int fd;
    bk_buf in, out; /* out: the unsent part of the request frame */
    bk_frame_dec dec;
    bk_timer timer; /* backoff (F_IDLE) or response deadline (F_WAITING) */
    int32_t corr;   /* correlation id of the request in flight */
    bk_part **parts;
    size_t nparts, cap;
    bool logged_down; /* "cannot reach" logged once per outage */
};

static void on_io(bk_loop *loop, int fd, unsigned events, void *arg);
static void send_fetch(bk_fetcher *f);

/* --------------------------- connection state --------------------------- */

static void disconnect(bk_fetcher *f, int64_t retry_ms)
{
    if (f->fd >= 0) {
        bk_loop_del_fd(f->b->loop, f->fd);
        close(f->fd);
        f->fd = -1;
    }
    bk_buf_reset(&f->in);
    bk_buf_reset(&f->out);
    bk_frame_dec_init(&f->dec, BK_FRAME_DEFAULT_MAX);
    f->state = F_IDLE;
    if (f->nparts > 0)
        bk_loop_timer_arm(f->b->loop, &f->timer, retry_ms);
    else
        bk_loop_timer_cancel(f->b->loop, &f->timer);
}

static void fail(bk_fetcher *f, const char *what)
{
    if (!f->logged_down)
        BK_WARN(MOD, "leader %d: %s; retrying", f->leader, what);
    f->logged_down = true;
    disconnect(f, BK_FETCHER_BACKOFF_MS);
}

static void start_connect(bk_fetcher *f)
{
    assert(f->state == F_IDLE && f->fd < 0);
    const bk_md_broker *mb = bk_md_broker_find(f->b->md, f->leader);
    if (!mb) {
        /* Not registered (yet): wait for it to show up. */
        fail(f, "not registered in ZooKeeper");
        return;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", (int)mb->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    /* A host name costs a blocking lookup on the loop; brokers normally
     * advertise addresses. */
    if (getaddrinfo(mb->host, port, &hints, &ai) != 0 || !ai) {
        fail(f, "cannot resolve its host");
        return;
    }
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        fail(f, "socket() failed");
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0 && errno != EINPROGRESS) {
        close(fd);
        fail(f, "connection refused");
        return;
    }
    if (bk_loop_add_fd(f->b->loop, fd, BK_EV_WRITE, on_io, f) != 0) {
        close(fd);
        fail(f, "cannot watch the socket");
        return;
    }
    f->fd = fd;
    f->state = F_CONNECTING;
    bk_loop_timer_arm(f->b->loop, &f->timer, BK_FETCHER_TIMEOUT_MS);
}

static void on_timer(bk_loop *loop, bk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    bk_fetcher *f = arg;
    switch (f->state) {
    case F_IDLE:
        if (f->nparts > 0)
            start_connect(f);
        break;
    case F_CONNECTING:
        fail(f, "connect timed out");
        break;
    case F_READY:
        /* A pause after errors: fetch again. */
        send_fetch(f);
        break;
    case F_WAITING:
        fail(f, "no answer to a fetch");
        break;
    }
}

/* ------------------------------ requests ------------------------------ */

/* Builds and queues the Fetch of every partition; F_WAITING. */
/* Queues req and waits for its answer (F_WAITING). */
static void send_request(bk_fetcher *f, Brook__Request *req, int32_t api_key)
{
    Brook__RequestHeader hdr = BROOK__REQUEST_HEADER__INIT;
    hdr.api_key = api_key;
    hdr.correlation_id = ++f->corr;
    char client[32];
    snprintf(client, sizeof client, "broker-%d-fetcher",
             (int)f->b->cfg->broker_id);
    hdr.client_id = client;
    req->header = &hdr;
    if (bk_frame_encode_request(&f->out, req) != 0) {
        fail(f, "cannot encode a request");
        return;
    }
    f->state = F_WAITING;
    bk_loop_timer_arm(f->b->loop, &f->timer,
                      BK_FETCHER_MAX_WAIT_MS + BK_FETCHER_TIMEOUT_MS);
    bk_loop_mod_fd(f->b->loop, f->fd, BK_EV_READ | BK_EV_WRITE);
}

/* OffsetForLeaderEpoch for the partitions that must truncate first: the
 * end, in the leader's log, of the latest epoch in ours. */
static bool send_epochs(bk_fetcher *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nparts; i++)
        n += f->parts[i]->truncating;
    if (n == 0)
        return false;
    Brook__OffsetForLeaderTopic *tv = calloc(n, sizeof *tv);
    Brook__OffsetForLeaderTopic **tps = calloc(n, sizeof *tps);
    Brook__OffsetForLeaderPartition *pv = calloc(n, sizeof *pv);
    Brook__OffsetForLeaderPartition **pps = calloc(n, sizeof *pps);
    if (!tv || !tps || !pv || !pps) {
        free(tv);
        free(tps);
        free(pv);
        free(pps);
        fail(f, "out of memory");
        return true;
    }
    size_t k = 0;
    for (size_t i = 0; i < f->nparts; i++) {
        bk_part *p = f->parts[i];
        if (!p->truncating)
            continue;
        tv[k] =
            (Brook__OffsetForLeaderTopic)BROOK__OFFSET_FOR_LEADER_TOPIC__INIT;
        pv[k] = (Brook__OffsetForLeaderPartition)
            BROOK__OFFSET_FOR_LEADER_PARTITION__INIT;
        pv[k].partition = p->index;
        pv[k].current_leader_epoch = p->leader_epoch;
        pv[k].leader_epoch = bk_log_latest_epoch(p->log);
        p->fetch_epoch = p->leader_epoch;
        pps[k] = &pv[k];
        tv[k].topic = p->topic;
        tv[k].n_partitions = 1;
        tv[k].partitions = &pps[k];
        tps[k] = &tv[k];
        k++;
    }
    Brook__OffsetForLeaderEpochRequest er =
        BROOK__OFFSET_FOR_LEADER_EPOCH_REQUEST__INIT;
    er.replica_id = f->b->cfg->broker_id;
    er.n_topics = n;
    er.topics = tps;
    Brook__Request req = BROOK__REQUEST__INIT;
    req.body_case = BROOK__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH;
    req.offset_for_leader_epoch = &er;
    send_request(f, &req, BK_API_OFFSET_FOR_LEADER_EPOCH);
    free(tv);
    free(tps);
    free(pv);
    free(pps);
    return true;
}

static void send_fetch(bk_fetcher *f)
{
    assert(f->state == F_READY);
    if (f->nparts == 0)
        return;
    if (send_epochs(f))
        return;
    Brook__FetchTopic **topics = calloc(f->nparts, sizeof *topics);
    Brook__FetchTopic *tv = calloc(f->nparts, sizeof *tv);
    Brook__FetchPartition **pps = calloc(f->nparts, sizeof *pps);
    Brook__FetchPartition *pv = calloc(f->nparts, sizeof *pv);
    if (!topics || !tv || !pps || !pv) {
        free(topics);
        free(tv);
        free(pps);
        free(pv);
        fail(f, "out of memory");
        return;
    }
    /* One FetchTopic per partition: simple, and a topic name repeated in
     * a request costs a few bytes. */
    for (size_t i = 0; i < f->nparts; i++) {
        bk_part *p = f->parts[i];
        tv[i] = (Brook__FetchTopic)BROOK__FETCH_TOPIC__INIT;
        pv[i] = (Brook__FetchPartition)BROOK__FETCH_PARTITION__INIT;
        pv[i].partition = p->index;
        pv[i].current_leader_epoch = p->leader_epoch;
        pv[i].fetch_offset = bk_log_end_offset(p->log);
        pv[i].log_start_offset = bk_log_start_offset(p->log);
        pv[i].partition_max_bytes = BK_FETCHER_PART_BYTES;
        p->fetch_epoch = p->leader_epoch;
        pps[i] = &pv[i];
        tv[i].topic = p->topic;
        tv[i].n_partitions = 1;
        tv[i].partitions = &pps[i];
        topics[i] = &tv[i];
    }
    Brook__FetchRequest fr = BROOK__FETCH_REQUEST__INIT;
    fr.replica_id = f->b->cfg->broker_id;
    fr.max_wait_ms = BK_FETCHER_MAX_WAIT_MS;
    fr.min_bytes = 1;
    fr.max_bytes = BK_FETCHER_MAX_BYTES;
    fr.n_topics = f->nparts;
    fr.topics = topics;
    Brook__Request req = BROOK__REQUEST__INIT;
    req.body_case = BROOK__REQUEST__BODY_FETCH;
    req.fetch = &fr;
    send_request(f, &req, BK_API_FETCH);
    free(topics);
    free(tv);
    free(pps);
    free(pv);
}

/* ------------------------------ responses ------------------------------ */

/* The length of the whole batches at the start of data[0..len). */
static size_t whole_batches(const uint8_t *data, size_t len)
{
    size_t at = 0;
    while (len - at >= BK_BATCH_LOG_OVERHEAD) {
        uint32_t blen = bk_load_be32(data + at + 8);
        size_t size = (size_t)BK_BATCH_LOG_OVERHEAD + blen;
        if (blen > INT32_MAX || size > len - at)
            break;
        at += size;
    }
    return at;
}

/* Skips the batches that end below `from` (a leader returns the batch
 * holding the fetch offset). */
static size_t skip_below(const uint8_t *data, size_t len, int64_t from)
{
    size_t at = 0;
    while (len - at >= BK_BATCH_HEADER_SIZE) {
        bk_batch_header h;
        if (bk_batch_parse_header(data + at, len - at, &h) != 0)
            break;
        if (bk_batch_last_offset(&h) >= from)
            break;
        at += bk_batch_size(&h);
    }
    return at;
}

/* Applies one partition's answer; true when it made progress (data or a
 * truncation), false on an error worth a pause. */
static bool apply_part(bk_fetcher *f, const char *topic,
                       const Brook__FetchPartitionData *pd)
{
    bk_part *p = bk_parts_find(f->b->parts, topic, pd->partition_index);
    if (!p || p->fetcher != f || p->fetch_epoch != p->leader_epoch ||
        p->truncating)
        return true; /* moved or gone meanwhile: stale */
    bk_repl *r = f->b->repl;
    int64_t leo = bk_log_end_offset(p->log);
    switch (pd->error_code) {
    case 0:
        break;
    case BK_ERR_OFFSET_OUT_OF_RANGE:
        if (pd->log_start_offset > leo) {
            /* We are behind the leader's retention: start over there. */
            BK_WARN(MOD,
                    "%s-%d: offset %lld is below leader %d's log start "
                    "%lld: restarting the log there",
                    p->topic, p->index, (long long)leo, f->leader,
                    (long long)pd->log_start_offset);
            int rc = bk_log_truncate_fully(p->log, pd->log_start_offset);
            if (rc == 0)
                p->hw = pd->log_start_offset;
            return rc == 0;
        }
        /* Ahead of the leader's log: ask it again where our epochs end
         * there (after a pause, in case its answer does not change). */
        BK_WARN(MOD,
                "%s-%d: offset %lld is above leader %d's log: truncating "
                "by leader epoch again",
                p->topic, p->index, (long long)leo, f->leader);
        p->truncating = true;
        return false;
    default:
        BK_DEBUG(MOD, "%s-%d: leader %d answers error %d", p->topic, p->index,
                 f->leader, pd->error_code);
        return false;
    }
    size_t len = whole_batches(pd->records.data, pd->records.len);
    size_t skip = skip_below(pd->records.data, len, leo);
    if (len > skip) {
        bk_log_append_info info;
        int rc = bk_log_append_replica(p->log, pd->records.data + skip,
                                       len - skip, &info);
        if (rc != 0) {
            BK_ERROR(MOD,
                     "%s-%d: cannot append %zu bytes from leader %d at "
                     "%lld: %s",
                     p->topic, p->index, len - skip, f->leader, (long long)leo,
                     bk_strerror(rc));
            return false;
        }
    }
    bk_repl_follower_hw(r, p, pd->high_watermark);
    return true;
}

/* Applies the leader's answer about where our latest epoch ends there:
 * truncates to the smaller of that offset and our own end of the epoch
 * the leader names (KIP-101, with KIP-279's rule when the leader knows
 * only an older epoch).  True when done (or stale), false on an error. */
static bool apply_epoch(bk_fetcher *f, const char *topic,
                        const Brook__EpochEndOffset *eo)
{
    bk_part *p = bk_parts_find(f->b->parts, topic, eo->partition);
    if (!p || p->fetcher != f || p->fetch_epoch != p->leader_epoch ||
        !p->truncating)
        return true;
    if (eo->error_code) {
        BK_DEBUG(MOD,
                 "%s-%d: leader %d answers error %d to "
                 "OffsetForLeaderEpoch",
                 p->topic, p->index, f->leader, eo->error_code);
        return false;
    }
    int64_t leo = bk_log_end_offset(p->log);
    int64_t to = leo;
    if (bk_log_latest_epoch(p->log) < 0) {
        /* Nothing with an epoch here: nothing to disagree about. */
    } else if (eo->end_offset < 0) {
        /* The leader knows no epoch <= ours (Kafka's fallback): only
         * what was committed is certain. */
        to = p->hw;
    } else {
        int32_t e;
        int64_t own;
        bk_log_end_offset_for_epoch(p->log, eo->leader_epoch, &e, &own);
        to = eo->end_offset;
        if (own >= 0 && own < to)
            to = own;
    }
    if (to < leo) {
        int rc = bk_log_truncate(p->log, to);
        if (rc != 0) {
            BK_ERROR(MOD, "%s-%d: cannot truncate to %lld: %s", p->topic,
                     p->index, (long long)to, bk_strerror(rc));
            return false;
        }
        BK_WARN(MOD,
                "%s-%d: truncated from %lld to %lld (leader %d ends epoch "
                "%d at %lld)",
                p->topic, p->index, (long long)leo,
                (long long)bk_log_end_offset(p->log), f->leader,
                (int)eo->leader_epoch, (long long)eo->end_offset);
        if (p->hw > bk_log_end_offset(p->log))
            p->hw = bk_log_end_offset(p->log);
    }
    p->truncating = false;
    return true;
}

static void handle_response(bk_fetcher *f, const uint8_t *payload, size_t len)
{
    Brook__Response *resp = NULL;
    if (bk_frame_decode_response(payload, len, &resp) != 0) {
        fail(f, "undecodable answer");
        return;
    }
    const Brook__ResponseHeader *h = resp->header;
    if (!h || h->correlation_id != f->corr ||
        (resp->body_case != BROOK__RESPONSE__BODY_FETCH &&
         resp->body_case != BROOK__RESPONSE__BODY_OFFSET_FOR_LEADER_EPOCH)) {
        int err = h ? h->error_code : -1;
        brook__response__free_unpacked(resp, NULL);
        char why[96];
        snprintf(why, sizeof why, "unexpected answer to a fetch (error %d)",
                 err);
        fail(f, why);
        return;
    }
    if (f->logged_down)
        BK_INFO(MOD, "leader %d: fetching again", f->leader);
    f->logged_down = false;
    bool progress = true;
    if (resp->body_case == BROOK__RESPONSE__BODY_FETCH) {
        const Brook__FetchResponse *fr = resp->fetch;
        for (size_t ti = 0; ti < fr->n_responses; ti++) {
            const Brook__FetchableTopicResponse *tr = fr->responses[ti];
            for (size_t pi = 0; pi < tr->n_partitions; pi++)
                progress &= apply_part(f, tr->topic, tr->partitions[pi]);
        }
    } else {
        const Brook__OffsetForLeaderEpochResponse *er =
            resp->offset_for_leader_epoch;
        for (size_t ti = 0; ti < er->n_topics; ti++) {
            const Brook__OffsetForLeaderTopicResult *tr = er->topics[ti];
            for (size_t pi = 0; pi < tr->n_partitions; pi++)
                progress &= apply_epoch(f, tr->topic, tr->partitions[pi]);
        }
    }
    brook__response__free_unpacked(resp, NULL);
    f->state = F_READY;
    if (progress) {
        send_fetch(f);
    } else {
        /* Errors (stale epochs...): pause rather than spin; ZooKeeper's
         * news meanwhile moves the partitions. */
        bk_loop_timer_arm(f->b->loop, &f->timer, BK_FETCHER_BACKOFF_MS);
    }
}

/* --------------------------------- I/O --------------------------------- */

static void on_io(bk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)fd;
    bk_fetcher *f = arg;
    if (f->state == F_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
            fail(f,
                 err == ECONNREFUSED ? "connection refused" : "cannot connect");
            return;
        }
        f->state = F_READY;
        bk_loop_mod_fd(loop, f->fd, BK_EV_READ);
        send_fetch(f);
        return;
    }
    if ((events & BK_EV_WRITE) && f->out.len > 0) {
        ssize_t w = write(f->fd, f->out.data, f->out.len);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            fail(f, "write failed");
            return;
        }
        if (w > 0)
            bk_buf_consume(&f->out, (size_t)w);
        if (f->out.len == 0)
            bk_loop_mod_fd(loop, f->fd, BK_EV_READ);
    }
    if (events & (BK_EV_READ | BK_EV_ERROR)) {
        for (;;) {
            size_t want = bk_frame_dec_missing(&f->dec, &f->in);
            if (want < 65536)
                want = 65536;
            if (bk_buf_reserve(&f->in, want) != 0) {
                fail(f, "out of memory");
                return;
            }
            ssize_t r =
                read(f->fd, f->in.data + f->in.len, f->in.cap - f->in.len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && errno == EAGAIN)
                break;
            if (r <= 0) {
                fail(f, r == 0 ? "connection closed" : "read failed");
                return;
            }
            f->in.len += (size_t)r;
        }
        const uint8_t *payload;
        size_t len;
        int rc = bk_frame_dec_next(&f->dec, &f->in, &payload, &len);
        if (rc == BK_AGAIN)
            return;
        if (rc != 0 || f->state != F_WAITING) {
            fail(f, "bad frame from the leader");
            return;
        }
        handle_response(f, payload, len);
        /* handle_response may have reset the buffers (fail). */
        if (f->fd >= 0)
            bk_frame_dec_compact(&f->dec, &f->in);
    }
}

/* ------------------------------- public ------------------------------- */

bk_fetcher *bk_fetcher_new(bk_broker *b, int32_t leader_id)
{
    bk_fetcher *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->b = b;
    f->leader = leader_id;
    f->fd = -1;
    f->state = F_IDLE;
    bk_buf_init(&f->in);
    bk_buf_init(&f->out);
    bk_frame_dec_init(&f->dec, BK_FRAME_DEFAULT_MAX);
    bk_timer_init(&f->timer, on_timer, f);
    return f;
}

void bk_fetcher_free(bk_fetcher *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nparts; i++)
        f->parts[i]->fetcher = NULL;
    f->nparts = 0;
    disconnect(f, 0);
    bk_loop_timer_cancel(f->b->loop, &f->timer);
    bk_buf_free(&f->in);
    bk_buf_free(&f->out);
    free(f->parts);
    free(f);
}

int bk_fetcher_add(bk_fetcher *f, bk_part *p)
{
    for (size_t i = 0; i < f->nparts; i++)
        if (f->parts[i] == p)
            return 0;
    if (f->nparts == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        bk_part **v = realloc(f->parts, cap * sizeof *v);
        if (!v)
            return -BK_ENOMEM;
        f->parts = v;
        f->cap = cap;
    }
    f->parts[f->nparts++] = p;
    p->fetcher = f;
    p->fetch_epoch = -1;
    if (f->state == F_IDLE && !bk_timer_armed(&f->timer))
        start_connect(f);
    else if (f->state == F_READY && !bk_timer_armed(&f->timer))
        send_fetch(f);
    /* F_WAITING: the next request includes p. */
    return 0;
}

void bk_fetcher_remove(bk_fetcher *f, bk_part *p)
{
    for (size_t i = 0; i < f->nparts; i++) {
        if (f->parts[i] == p) {
            f->parts[i] = f->parts[--f->nparts];
            break;
        }
    }
    p->fetcher = NULL;
    p->fetch_epoch = -1;
}

size_t bk_fetcher_count(const bk_fetcher *f)
{
    return f->nparts;
}

int32_t bk_fetcher_leader(const bk_fetcher *f)
{
    return f->leader;
}
