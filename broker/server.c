/*
 * server.c -- listener and connections (see server.h).
 *
 * A connection's life: accept -> read/cut frames/dispatch -> write
 * responses in FIFO order -> close.  Two subtleties:
 *
 *  - Re-entrancy.  A handler may answer requests of other connections
 *    (a produce completes a waiting fetch) or, on failure, close its own.
 *    A connection being dispatched is marked busy: its responses are only
 *    written once the batch of frames is done (one writev instead of one
 *    write per response), and closing it only marks it; it is freed when
 *    the dispatch unwinds.
 *  - Half-close.  A client may send its requests and shut down its write
 *    side; EOF stops reading, and the connection closes once every
 *    response is written.
 */
#include "broker/server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "broker/metrics.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/logging.h"
#include "proto/protocol.h"

#define MOD             "server"
#define READ_CHUNK      (64u * 1024)
#define MAX_IOV         64
#define ACCEPT_BATCH    64
#define ACCEPT_RETRY_MS 100

struct bk_conn {
    bk_srv *srv;
    int fd;
    uint64_t id;
    char peer[64];
    bk_buf in; /* bytes read, not yet cut into frames */
    bk_frame_dec dec;
    bk_req *head, *tail;  /* requests in arrival order */
    size_t npending;      /* requests in the FIFO */
    size_t unsent;        /* encoded bytes not yet written */
    unsigned events;      /* what the loop watches for us */
    int busy;             /* > 0 while dispatching: defer writes/free */
    bool paused;          /* backpressure: not reading */
    bool eof;             /* peer closed its write side */
    bool closed;          /* fd gone; free when no longer busy */
    bk_timer resume;      /* cuts buffered frames after a pause ends */
    bk_conn *prev, *next; /* server's list */
};

struct bk_srv {
    bk_loop *loop;
    int lfd; /* -1 once we stopped accepting */
    int port;
    uint32_t max_frame;
    bk_srv_handler_fn *handler;
    void *handler_arg;
    struct bk_metrics *metrics; /* may be NULL */
    bk_conn *conns;
    size_t nconns;
    uint64_t next_id;
    bk_timer accept_retry; /* after EMFILE */
};

/* Each of these may close and free c; false means c is gone (or, for
 * conn_close, closed and possibly freed). */
static void conn_close(bk_conn *c, const char *why);
static bool conn_flush(bk_conn *c);
static bool conn_process(bk_conn *c);

/* ------------------------------ requests ------------------------------ */

void bk_req_hold(bk_req *req)
{
    assert(req->refs > 0);
    req->refs++;
}

void bk_req_release(bk_req *req)
{
    assert(req->refs > 0);
    if (--req->refs > 0)
        return;
    if (req->msg)
        brook__request__free_unpacked(req->msg, NULL);
    bk_buf_free(&req->out);
    free(req);
}

void bk_req_set_abort(bk_req *req, bk_req_abort_fn *fn, void *ctx)
{
    req->abort = fn;
    req->ctx = ctx;
}

const char *bk_req_peer(const bk_req *req)
{
    return req->conn ? req->conn->peer : "";
}

/* Every answered request passes here once (metrics: count, latency). */
static void req_count(const bk_req *req)
{
    bk_metrics_request(req->metrics, req->api_key,
                       bk_clock_mono_ns() - req->recv_ns);
}

static void req_done(bk_req *req)
{
    bk_conn *c = req->conn;
    req_count(req);
    req->done = true;
    req->abort = NULL;
    if (!c)
        return;
    c->unsent += req->out.len;
    if (c->busy == 0 && c->head == req)
        conn_flush(c);
}

void bk_req_respond(bk_req *req, Brook__Response *resp)
{
    assert(!req->done);
    if (resp->header && resp->header->error_code)
        bk_metrics_request_error(req->metrics, req->api_key,
                                 resp->header->error_code);
    if (!req->conn) {
        req_count(req);
        req->done = true;
        return;
    }
    Brook__ResponseHeader hdr = BROOK__RESPONSE_HEADER__INIT;
    Brook__ResponseHeader *saved = resp->header;
    if (!resp->header)
        resp->header = &hdr;
    if (resp->header->correlation_id == 0)
        resp->header->correlation_id = req->correlation_id;
    if (resp->header->api_key == 0)
        resp->header->api_key = req->api_key;
    int rc = bk_frame_encode_response(&req->out, resp);
    resp->header = saved;
    if (rc != 0) {
        BK_ERROR(MOD, "cannot encode a %s response for %s: %s",
                 bk_api_name(req->api_key), req->conn->peer, bk_strerror(rc));
        req->done = true;
        req_count(req);
        conn_close(req->conn, "response encoding failed");
        return;
    }
    req_done(req);
}

void bk_req_respond_error(bk_req *req, int32_t error_code, const char *msg)
{
    Brook__Response resp = BROOK__RESPONSE__INIT;
    Brook__ResponseHeader hdr = BROOK__RESPONSE_HEADER__INIT;
    hdr.correlation_id = req->correlation_id;
    hdr.api_key = req->api_key;
    hdr.error_code = error_code;
    hdr.error_message = (char *)(msg ? msg : "");
    resp.header = &hdr;
    bk_req_respond(req, &resp);
}

void bk_req_no_response(bk_req *req)
{
    assert(!req->done);
    if (!req->conn) {
        req_count(req);
        req->done = true;
        return;
    }
    req_done(req);
}

void bk_req_close_conn(bk_req *req, const char *why)
{
    if (!req->done) {
        req_count(req);
        req->done = true; /* nothing will be sent for it */
    }
    if (req->conn)
        conn_close(req->conn, why);
}

/* ----------------------------- connections ----------------------------- */

static void conn_set_events(bk_conn *c)
{
    if (c->closed)
        return;
    unsigned ev = 0;
    if (!c->paused && !c->eof)
        ev |= BK_EV_READ;
    /* Only when the head can be written: answers queued behind an
     * unanswered head (a long poll) must not make us poll a writable
     * socket in a busy loop. */
    if (c->head && c->head->done && c->unsent > 0)
        ev |= BK_EV_WRITE;
    if (ev != c->events) {
        if (bk_loop_mod_fd(c->srv->loop, c->fd, ev) != 0) {
            conn_close(c, "epoll_ctl failed");
            return;
        }
        c->events = ev;
    }
}

static bool over_high(const bk_conn *c)
{
    return c->unsent > BK_SRV_OUT_HIGH || c->npending >= BK_SRV_MAX_PENDING;
}

static bool under_low(const bk_conn *c)
{
    return c->unsent <= BK_SRV_OUT_HIGH / 2 &&
           c->npending < BK_SRV_MAX_PENDING / 2;
}

static void conn_free(bk_conn *c)
{
    assert(c->closed && c->busy == 0);
    assert(!bk_timer_armed(&c->resume));
    bk_buf_free(&c->in);
    free(c);
}

static void conn_close(bk_conn *c, const char *why)
{
    if (c->closed)
        return;
    bk_srv *srv = c->srv;
    BK_DEBUG(MOD, "closing connection %llu from %s: %s",
             (unsigned long long)c->id, c->peer, why);
    c->closed = true;
    bk_loop_timer_cancel(srv->loop, &c->resume);
    bk_loop_del_fd(srv->loop, c->fd);
    close(c->fd);
    c->fd = -1;
    /* Unlink from the server first: aborts may look at other conns. */
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    bk_req *r = c->head;
    c->head = c->tail = NULL;
    while (r) {
        bk_req *next = r->next;
        r->conn = NULL;
        r->next = NULL;
        if (!r->done && r->abort) {
            bk_req_abort_fn *fn = r->abort;
            r->abort = NULL;
            fn(r);
        }
        bk_req_release(r);
        r = next;
    }
    c->npending = 0;
    c->unsent = 0;
    if (c->busy == 0)
        conn_free(c);
}

/* Writes answered requests from the head of the FIFO, in order.  Returns
 * false when c was closed. */
static bool conn_flush(bk_conn *c)
{
    if (c->closed)
        return false;
    if (c->busy > 0)
        return true;
    while (c->head && c->head->done) {
        struct iovec iov[MAX_IOV];
        int n = 0;
        for (bk_req *r = c->head; r && r->done && n < MAX_IOV; r = r->next) {
            if (r->out.len > r->out_pos) {
                iov[n].iov_base = r->out.data + r->out_pos;
                iov[n].iov_len = r->out.len - r->out_pos;
                n++;
            }
        }
        ssize_t w = 0;
        if (n > 0) {
            /* sendmsg for MSG_NOSIGNAL: a vanished peer is an error
             * return here, never a SIGPIPE. */
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
            w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                if (errno == EINTR)
                    continue;
                conn_close(c, strerror(errno));
                return false;
            }
        }
        c->unsent -= (size_t)w;
        /* Pop everything fully written (including acks=0 requests). */
        size_t left = (size_t)w;
        while (c->head && c->head->done) {
            bk_req *r = c->head;
            size_t rem = r->out.len - r->out_pos;
            if (rem > left) {
                r->out_pos += left;
                left = 0;
                break;
            }
            left -= rem;
            r->out_pos = r->out.len;
            c->head = r->next;
            if (!c->head)
                c->tail = NULL;
            c->npending--;
            r->conn = NULL;
            bk_req_release(r);
        }
        if (c->head && c->head->done && c->head->out_pos < c->head->out.len)
            continue; /* partial write: try again, EAGAIN will stop us */
    }
    if (c->eof && !c->head) {
        conn_close(c, "peer closed");
        return false;
    }
    if (c->paused && under_low(c)) {
        c->paused = false;
        /* Frames already buffered will not make the socket readable
         * again: cut them on the next loop iteration.  Not now: we may be
         * inside another connection's handler (a produce answering this
         * connection's fetch), and dispatching from there would nest
         * handlers. */
        if (c->in.len > c->dec.pos)
            bk_loop_timer_arm(c->srv->loop, &c->resume, 0);
    }
    conn_set_events(c);
    return !c->closed;
}

static void on_resume(bk_loop *loop, bk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    bk_conn *c = arg;
    if (!c->closed && !c->paused)
        conn_process(c);
}

static bk_req *req_new(bk_conn *c)
{
    bk_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->conn = c;
    r->srv = c->srv;
    r->metrics = c->srv->metrics;
    r->refs = 1;
    r->recv_ms = bk_loop_now_ms(c->srv->loop);
    r->recv_ns = bk_clock_mono_ns();
    bk_buf_init(&r->out);
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->npending++;
    return r;
}

static void handle_frame(bk_conn *c, const uint8_t *p, size_t n)
{
    Brook__Request *m = NULL;
    if (bk_frame_decode_request(p, n, &m) != 0) {
        bk_frame_hdr h;
        if (bk_frame_peek_header(p, n, &h) != 0) {
            BK_WARN(MOD,
                    "closing connection from %s: undecodable %zu-byte "
                    "frame without a readable header",
                    c->peer, n);
            conn_close(c, "undecodable frame");
            return;
        }
        bk_req *r = req_new(c);
        if (!r) {
            conn_close(c, "out of memory");
            return;
        }
        r->api_key = h.api_key;
        r->api_version = h.api_version;
        r->correlation_id = h.correlation_id;
        BK_INFO(MOD, "invalid %zu-byte request (correlation id %d) from %s", n,
                h.correlation_id, c->peer);
        bk_req_respond_error(r, BK_ERR_INVALID_REQUEST,
                             "the request does not decode");
        return;
    }
    bk_req *r = req_new(c);
    if (!r) {
        brook__request__free_unpacked(m, NULL);
        conn_close(c, "out of memory");
        return;
    }
    r->msg = m;
    r->api_key = m->header->api_key;
    r->api_version = m->header->api_version;
    r->correlation_id = m->header->correlation_id;
    c->srv->handler(c->srv, r, c->srv->handler_arg);
}

/* Cuts and dispatches every complete frame while not over the marks.
 * Returns false when c was closed. */
static bool conn_process(bk_conn *c)
{
    c->busy++;
    while (!c->closed) {
        if (over_high(c)) {
            c->paused = true;
            break;
        }
        const uint8_t *p;
        size_t n;
        int rc = bk_frame_dec_next(&c->dec, &c->in, &p, &n);
        if (rc == BK_AGAIN)
            break;
        if (rc < 0) {
            uint32_t len = 0;
            if (c->in.len >= c->dec.pos + 4)
                len = bk_load_be32(c->in.data + c->dec.pos);
            if (rc == -BK_ETOOBIG)
                BK_WARN(MOD,
                        "closing connection from %s: frame length %u is "
                        "over socket.request.max.bytes (%u)",
                        c->peer, len, c->dec.max_size);
            else
                BK_WARN(MOD,
                        "closing connection from %s: invalid frame length "
                        "%d",
                        c->peer, (int32_t)len);
            conn_close(c, "bad frame length");
            break;
        }
        handle_frame(c, p, n);
    }
    if (!c->closed)
        bk_frame_dec_compact(&c->dec, &c->in);
    c->busy--;
    if (c->closed) {
        if (c->busy == 0)
            conn_free(c);
        return false;
    }
    return conn_flush(c);
}

/* Returns false when c was closed. */
static bool conn_read(bk_conn *c)
{
    for (int round = 0; round < 4 && !c->paused && !c->eof; round++) {
        size_t want = bk_frame_dec_missing(&c->dec, &c->in);
        if (want < READ_CHUNK)
            want = READ_CHUNK;
        if (want > 4 * READ_CHUNK)
            want = 4 * READ_CHUNK;
        if (bk_buf_reserve(&c->in, want) != 0) {
            conn_close(c, "out of memory");
            return false;
        }
        ssize_t r = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            conn_close(c, strerror(errno));
            return false;
        }
        if (r == 0) {
            c->eof = true;
            if (c->in.len > c->dec.pos)
                BK_DEBUG(MOD, "%s closed mid-frame (%zu bytes dropped)",
                         c->peer, c->in.len - c->dec.pos);
            break;
        }
        c->in.len += (size_t)r;
        bool full = c->in.len == c->in.cap;
        if (!conn_process(c))
            return false;
        if (!full)
            break; /* drained the socket */
    }
    if (c->eof && !c->head) {
        conn_close(c, "peer closed");
        return false;
    }
    conn_set_events(c);
    return !c->closed;
}

static void on_conn(bk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    bk_conn *c = arg;
    if (events & (BK_EV_READ | BK_EV_ERROR)) {
        if (!conn_read(c))
            return;
        if (events & BK_EV_ERROR) {
            /* EPOLLERR/EPOLLHUP: the peer is gone both ways (a mere
             * half-close is a plain EOF); what could be read was read. */
            conn_close(c, "socket error or hang-up");
            return;
        }
    }
    if (events & BK_EV_WRITE)
        conn_flush(c);
}

/* ------------------------------ listener ------------------------------ */

static void on_accept(bk_loop *loop, int fd, unsigned events, void *arg);

static void accept_retry(bk_loop *loop, bk_timer *t, void *arg)
{
    (void)t;
    bk_srv *srv = arg;
    if (srv->lfd >= 0)
        bk_loop_mod_fd(loop, srv->lfd, BK_EV_READ);
}

static void on_accept(bk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)events;
    bk_srv *srv = arg;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sl,
                          SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                /* Out of descriptors: stop polling the listener a moment
                 * instead of spinning on it. */
                BK_WARN(MOD, "accept: %s (retrying in %d ms)", strerror(errno),
                        ACCEPT_RETRY_MS);
                bk_loop_mod_fd(loop, fd, 0);
                bk_loop_timer_arm(loop, &srv->accept_retry, ACCEPT_RETRY_MS);
            }
            return;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        bk_conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(cfd);
            continue;
        }
        c->srv = srv;
        c->fd = cfd;
        c->id = ++srv->next_id;
        bk_timer_init(&c->resume, on_resume, c);
        bk_buf_init(&c->in);
        bk_frame_dec_init(&c->dec, srv->max_frame);
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        }
        snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
        if (bk_loop_add_fd(loop, cfd, BK_EV_READ, on_conn, c) != 0) {
            close(cfd);
            free(c);
            continue;
        }
        c->events = BK_EV_READ;
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        srv->nconns++;
        BK_DEBUG(MOD, "connection %llu from %s", (unsigned long long)c->id,
                 c->peer);
    }
}

int bk_srv_new(bk_loop *loop, const bk_srv_opts *opts, bk_srv **out)
{
    *out = NULL;
    bk_srv *srv = calloc(1, sizeof *srv);
    if (!srv)
        return -BK_ENOMEM;
    srv->loop = loop;
    srv->lfd = -1;
    srv->max_frame = opts->max_frame ? opts->max_frame : BK_FRAME_DEFAULT_MAX;
    srv->handler = opts->handler;
    srv->handler_arg = opts->handler_arg;
    srv->metrics = opts->metrics;
    bk_timer_init(&srv->accept_retry, accept_retry, srv);

    const char *host = opts->host && opts->host[0] ? opts->host : NULL;
    char why[256];
    srv->lfd = bk_tcp_listen(host, opts->port, 1024, &srv->port, why,
                             sizeof why);
    if (srv->lfd < 0) {
        BK_ERROR(MOD, "cannot listen on %s:%d: %s", host ? host : "*",
                 opts->port, why);
        free(srv);
        return -BK_EIO;
    }
    if (bk_loop_add_fd(loop, srv->lfd, BK_EV_READ, on_accept, srv) != 0) {
        close(srv->lfd);
        free(srv);
        return -BK_EIO;
    }
    *out = srv;
    return 0;
}

int bk_srv_port(const bk_srv *srv)
{
    return srv->port;
}

void bk_srv_stop_accepting(bk_srv *srv)
{
    if (srv->lfd < 0)
        return;
    bk_loop_timer_cancel(srv->loop, &srv->accept_retry);
    bk_loop_del_fd(srv->loop, srv->lfd);
    close(srv->lfd);
    srv->lfd = -1;
}

bool bk_srv_idle(const bk_srv *srv)
{
    for (const bk_conn *c = srv->conns; c; c = c->next)
        if (c->head || c->unsent > 0)
            return false;
    return true;
}

size_t bk_srv_nconns(const bk_srv *srv)
{
    return srv->nconns;
}

void bk_srv_free(bk_srv *srv)
{
    if (!srv)
        return;
    bk_srv_stop_accepting(srv);
    while (srv->conns)
        conn_close(srv->conns, "server stopping");
    free(srv);
}
