/*
 * conn.c -- a client connection to one broker (see conn.h).
 */
#include "client/conn.h"

#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "proto/protocol.h"

/* Bytes read per read(2) at least; more when a frame says it needs more. */
#define READ_CHUNK (256 * 1024)

/* ------------------------------ fifo ------------------------------ */

static int fifo_push(bk_conn_fifo *f, const bk_conn_req *r)
{
    if (f->n == f->cap) {
        uint32_t cap = f->cap ? f->cap * 2 : 8;
        bk_conn_req *v = malloc(cap * sizeof *v);
        if (!v)
            return -BK_ENOMEM;
        for (uint32_t i = 0; i < f->n; i++)
            v[i] = f->v[(f->head + i) % f->cap];
        free(f->v);
        f->v = v;
        f->cap = cap;
        f->head = 0;
    }
    f->v[(f->head + f->n) % f->cap] = *r;
    f->n++;
    return 0;
}

static bk_conn_req *fifo_front(bk_conn_fifo *f)
{
    return f->n ? &f->v[f->head] : NULL;
}

static void fifo_pop(bk_conn_fifo *f)
{
    assert(f->n > 0);
    f->head = (f->head + 1) % f->cap;
    f->n--;
}

/* ------------------------------ life ------------------------------ */

bk_conn *bk_conn_new(bk_loop *loop, int32_t node_id, const char *host, int port,
                     const bk_conn_opts *o)
{
    bk_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->node_id = node_id;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    c->fd = -1;
    c->loop = loop;
    c->client_id = o->client_id;
    c->max_frame = o->max_frame;
    c->connect_timeout_ms = o->connect_timeout_ms;
    c->backoff_min_ms = o->backoff_min_ms;
    c->backoff_max_ms = o->backoff_max_ms;
    c->backoff_ms = o->backoff_min_ms;
    c->on_state = o->on_state;
    c->state_arg = o->state_arg;
    c->next_corr = 1;
    bk_buf_init(&c->out);
    bk_buf_init(&c->in);
    return c;
}

static void conn_shut(bk_conn *c)
{
    if (c->fd >= 0) {
        bk_loop_del_fd(c->loop, c->fd);
        close(c->fd);
        c->fd = -1;
    }
    c->want_write = false;
    c->state = BK_CONN_DOWN;
    bk_buf_reset(&c->out);
    c->out_pos = 0;
    c->out_total = c->written = 0;
    bk_buf_reset(&c->in);
}

void bk_conn_free(bk_conn *c)
{
    if (!c)
        return;
    conn_shut(c);
    bk_buf_free(&c->out);
    bk_buf_free(&c->in);
    free(c->waiting.v);
    free(c->noresp.v);
    free(c->addrs);
    free(c);
}

/* Fails every pending request with err, oldest first.  The fifos are
 * detached first so that a callback sending anew (it gets -BK_EIO: the
 * connection is DOWN by now) cannot disturb the walk. */
static void fail_all(bk_conn *c, int err)
{
    bk_conn_fifo w = c->waiting, n = c->noresp;
    memset(&c->waiting, 0, sizeof c->waiting);
    memset(&c->noresp, 0, sizeof c->noresp);
    /* requests were sent in stream order; noresp and waiting interleave,
     * so merge them by stream position to keep the order */
    while (w.n || n.n) {
        bk_conn_req *a = fifo_front(&w), *b = fifo_front(&n);
        bk_conn_req r;
        if (a && (!b || a->end < b->end)) {
            r = *a;
            fifo_pop(&w);
        } else {
            r = *b;
            fifo_pop(&n);
        }
        r.fn(c, err, NULL, r.arg);
    }
    free(w.v);
    free(n.v);
}

void bk_conn_close(bk_conn *c, int err, const char *why)
{
    bool was_up = c->state == BK_CONN_UP;
    bool was_active = c->state != BK_CONN_DOWN;
    conn_shut(c);
    if (why && why != c->last_err)
        snprintf(c->last_err, sizeof c->last_err, "%s", why);
    int64_t now = bk_clock_mono_ms();
    if (!was_up) {
        /* a failed attempt: back off exponentially (Kafka's
         * reconnect.backoff.ms .. reconnect.backoff.max.ms) */
        c->failures++;
        c->retry_at = now + c->backoff_ms;
        c->backoff_ms *= 2;
        if (c->backoff_ms > c->backoff_max_ms)
            c->backoff_ms = c->backoff_max_ms;
    } else {
        c->retry_at = now + c->backoff_min_ms;
    }
    if (was_active || c->waiting.n || c->noresp.n)
        fail_all(c, err);
    if (c->on_state)
        c->on_state(c, false, c->last_err, c->state_arg);
}

/* ------------------------------ connect ------------------------------ */

static void conn_io(bk_loop *loop, int fd, unsigned events, void *arg);

static int resolve(bk_conn *c)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    int rc = getaddrinfo(c->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(c->last_err, sizeof c->last_err, "resolve %s: %s", c->host,
                 gai_strerror(rc));
        return -BK_EIO;
    }
    if (!c->addrs) {
        c->addrs = calloc(BK_CONN_MAX_ADDRS, sizeof *c->addrs);
        if (!c->addrs) {
            freeaddrinfo(res);
            return -BK_ENOMEM;
        }
    }
    c->naddrs = 0;
    for (struct addrinfo *ai = res; ai && c->naddrs < BK_CONN_MAX_ADDRS;
         ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof *c->addrs)
            continue;
        memcpy(&c->addrs[c->naddrs], ai->ai_addr, ai->ai_addrlen);
        c->addrlens[c->naddrs] = (uint32_t)ai->ai_addrlen;
        c->naddrs++;
    }
    freeaddrinfo(res);
    return c->naddrs ? 0 : -BK_EIO;
}

/* Starts a non-blocking connect to address c->addr_i.  0 (CONNECTING or
 * UP), or -BK_EIO when this address failed at once. */
static int try_addr(bk_conn *c)
{
    const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[c->addr_i];
    int fd =
        socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(c->last_err, sizeof c->last_err, "socket: %s",
                 strerror(errno));
        return -BK_EIO;
    }
    /* requests are whole frames written at once: Nagle only adds delay */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, sa, c->addrlens[c->addr_i]) != 0 && errno != EINPROGRESS) {
        snprintf(c->last_err, sizeof c->last_err, "connect to %s:%d: %s",
                 c->host, c->port, strerror(errno));
        close(fd);
        return -BK_EIO;
    }
    if (bk_loop_add_fd(c->loop, fd, BK_EV_WRITE, conn_io, c) != 0) {
        snprintf(c->last_err, sizeof c->last_err, "event loop refused fd");
        close(fd);
        return -BK_EIO;
    }
    c->fd = fd;
    c->want_write = true;
    c->state = BK_CONN_CONNECTING;
    return 0;
}

int bk_conn_connect(bk_conn *c, int64_t now)
{
    if (c->state != BK_CONN_DOWN)
        return 0;
    if (now < c->retry_at)
        return BK_AGAIN;
    int rc = resolve(c);
    if (rc == 0) {
        for (c->addr_i = 0; c->addr_i < c->naddrs; c->addr_i++) {
            if (try_addr(c) == 0) {
                c->connect_deadline = now + c->connect_timeout_ms;
                return 0;
            }
        }
        rc = -BK_EIO;
    }
    bk_conn_close(c, BK_ERR_NETWORK_EXCEPTION, c->last_err);
    return rc;
}

static void connect_done(bk_conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        snprintf(c->last_err, sizeof c->last_err, "connect to %s:%d: %s",
                 c->host, c->port, strerror(err));
        /* next address of the name, if any, before giving up */
        bk_loop_del_fd(c->loop, c->fd);
        close(c->fd);
        c->fd = -1;
        while (++c->addr_i < c->naddrs) {
            if (try_addr(c) == 0)
                return;
        }
        bk_conn_close(c, BK_ERR_NETWORK_EXCEPTION, c->last_err);
        return;
    }
    c->state = BK_CONN_UP;
    c->failures = 0;
    c->backoff_ms = c->backoff_min_ms;
    BK_DEBUG("client", "connected to %s:%d (node %d)", c->host, c->port,
             c->node_id);
    bk_frame_dec_init(&c->dec, c->max_frame);
    unsigned ev = BK_EV_READ | (c->out_pos < c->out.len ? BK_EV_WRITE : 0);
    c->want_write = ev & BK_EV_WRITE;
    bk_loop_mod_fd(c->loop, c->fd, ev);
    if (c->on_state)
        c->on_state(c, true, NULL, c->state_arg);
}

/* ------------------------------ writing ------------------------------ */

static void set_write_interest(bk_conn *c, bool on)
{
    if (c->want_write == on || c->fd < 0 || c->state != BK_CONN_UP)
        return;
    c->want_write = on;
    bk_loop_mod_fd(c->loop, c->fd, BK_EV_READ | (on ? BK_EV_WRITE : 0));
}

int bk_conn_send(bk_conn *c, Brook__Request *req, bool expect_response,
                 int64_t timeout_ms, int64_t now, bk_conn_fn *fn, void *arg)
{
    if (c->state == BK_CONN_DOWN)
        return -BK_EIO;
    assert(req->header);
    req->header->correlation_id = c->next_corr;
    req->header->client_id = (char *)c->client_id;
    size_t before = c->out.len;
    int rc = bk_frame_encode_request(&c->out, req);
    if (rc != 0)
        return rc;
    bk_conn_req r = {
        .corr_id = c->next_corr,
        .api_key = req->header->api_key,
        .deadline_ms = now + timeout_ms,
        .fn = fn,
        .arg = arg,
    };
    r.end = c->out_total + (c->out.len - before);
    rc = fifo_push(expect_response ? &c->waiting : &c->noresp, &r);
    if (rc != 0) {
        c->out.len = before;
        return rc;
    }
    c->out_total = r.end;
    /* correlation ids wrap within int32's positive range */
    c->next_corr = c->next_corr == INT32_MAX ? 1 : c->next_corr + 1;
    set_write_interest(c, true);
    return 0;
}

/* Completes the acks=0 requests whose bytes are all out. */
static void complete_written(bk_conn *c)
{
    bk_conn_req *r;
    while ((r = fifo_front(&c->noresp)) && r->end <= c->written) {
        bk_conn_req done = *r;
        fifo_pop(&c->noresp);
        done.fn(c, 0, NULL, done.arg);
        if (c->state != BK_CONN_UP)
            return;
    }
}

/* 0, or -BK_EIO after closing the connection. */
static int conn_write(bk_conn *c)
{
    while (c->out_pos < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_pos,
                         c->out.len - c->out_pos, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_pos += (size_t)n;
            c->written += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        char why[320];
        snprintf(why, sizeof why, "write to %s:%d: %s", c->host, c->port,
                 n < 0 ? strerror(errno) : "no progress");
        bk_conn_close(c, BK_ERR_NETWORK_EXCEPTION, why);
        return -BK_EIO;
    }
    if (c->out_pos == c->out.len) {
        bk_buf_reset(&c->out);
        c->out_pos = 0;
        set_write_interest(c, false);
    } else if (c->out_pos > (1u << 20) && c->out_pos > c->out.len / 2) {
        bk_buf_consume(&c->out, c->out_pos);
        c->out_pos = 0;
    }
    complete_written(c);
    return 0;
}

void bk_conn_flush(bk_conn *c)
{
    if (c->state == BK_CONN_UP && c->out_pos < c->out.len)
        conn_write(c);
}

/* ------------------------------ reading ------------------------------ */

/* Handles one response frame.  0, or -BK_EIO after closing. */
static int conn_frame(bk_conn *c, const uint8_t *p, size_t n)
{
    char why[320];
    Brook__Response *resp = NULL;
    if (bk_frame_decode_response(p, n, &resp) != 0) {
        snprintf(why, sizeof why, "%s:%d sent an undecodable response", c->host,
                 c->port);
        bk_conn_close(c, BK_ERR_NETWORK_EXCEPTION, why);
        return -BK_EIO;
    }
    bk_conn_req *r = fifo_front(&c->waiting);
    if (!r || resp->header->correlation_id != r->corr_id ||
        resp->header->api_key != r->api_key) {
        snprintf(why, sizeof why,
                 "%s:%d answered correlation id %d (api %d), expected %d",
                 c->host, c->port, resp->header->correlation_id,
                 resp->header->api_key, r ? r->corr_id : -1);
        brook__response__free_unpacked(resp, NULL);
        bk_conn_close(c, BK_ERR_NETWORK_EXCEPTION, why);
        return -BK_EIO;
    }
    bk_conn_req done = *r;
    fifo_pop(&c->waiting);
    done.fn(c, 0, resp, done.arg);
    brook__response__free_unpacked(resp, NULL);
    return c->state == BK_CONN_UP ? 0 : -BK_EIO;
}

static void conn_read(bk_conn *c)
{
    char why[320];
    for (;;) {
        size_t want = bk_frame_dec_missing(&c->dec, &c->in);
        if (want < READ_CHUNK)
            want = READ_CHUNK;
        if (bk_buf_reserve(&c->in, want) != 0) {
            bk_conn_close(c, BK_ERR_NETWORK_EXCEPTION, "out of memory");
            return;
        }
        size_t room = c->in.cap - c->in.len;
        ssize_t n = read(c->fd, c->in.data + c->in.len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            snprintf(why, sizeof why, "%s:%d closed the connection%s%s",
                     c->host, c->port, n < 0 ? ": " : "",
                     n < 0 ? strerror(errno) : "");
            bk_conn_close(c, BK_ERR_NETWORK_EXCEPTION, why);
            return;
        }
        c->in.len += (size_t)n;
        const uint8_t *p;
        size_t len;
        int rc;
        while ((rc = bk_frame_dec_next(&c->dec, &c->in, &p, &len)) == 0) {
            if (conn_frame(c, p, len) != 0)
                return; /* closed: the buffers are gone */
        }
        if (rc != BK_AGAIN) {
            snprintf(why, sizeof why, "%s:%d sent a bad frame: %s", c->host,
                     c->port, bk_strerror(rc));
            bk_conn_close(c, BK_ERR_NETWORK_EXCEPTION, why);
            return;
        }
        bk_frame_dec_compact(&c->dec, &c->in);
        if ((size_t)n < room)
            return; /* drained the socket */
    }
}

static void conn_io(bk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    bk_conn *c = arg;
    if (c->state == BK_CONN_CONNECTING) {
        if (events & (BK_EV_WRITE | BK_EV_ERROR))
            connect_done(c);
        return;
    }
    if (c->state != BK_CONN_UP)
        return;
    if (events & (BK_EV_READ | BK_EV_ERROR))
        conn_read(c);
    if (c->state == BK_CONN_UP && (events & BK_EV_WRITE))
        conn_write(c);
}

/* ------------------------------ timeouts ------------------------------ */

static int64_t earliest(const bk_conn_fifo *f)
{
    int64_t d = INT64_MAX;
    for (uint32_t i = 0; i < f->n; i++) {
        int64_t x = f->v[(f->head + i) % f->cap].deadline_ms;
        if (x < d)
            d = x;
    }
    return d;
}

int64_t bk_conn_check(bk_conn *c, int64_t now)
{
    char why[320];
    if (c->state == BK_CONN_CONNECTING) {
        if (now >= c->connect_deadline) {
            snprintf(why, sizeof why, "connect to %s:%d: timed out", c->host,
                     c->port);
            bk_conn_close(c, BK_ERR_NETWORK_EXCEPTION, why);
            return INT64_MAX;
        }
        return c->connect_deadline;
    }
    if (c->state != BK_CONN_UP)
        return INT64_MAX;
    int64_t d = earliest(&c->waiting), d2 = earliest(&c->noresp);
    if (d2 < d)
        d = d2;
    if (now >= d) {
        snprintf(why, sizeof why, "request to %s:%d timed out", c->host,
                 c->port);
        bk_conn_close(c, BK_ERR_REQUEST_TIMED_OUT, why);
        return INT64_MAX;
    }
    return d;
}
