/*
 * conn.h -- one TCP connection from the client to a broker: non-blocking
 * connect, pipelined requests matched to responses by correlation id,
 * request timeouts, reconnect backoff.
 *
 * Requests are encoded into the connection's output buffer as frames
 * (common/frame.h) and written when the socket is writable; responses are
 * read into the input buffer and split into frames.  The broker answers in
 * order (DESIGN.md section 4), so a response must carry the correlation id
 * of the oldest request still waiting: anything else is a protocol error
 * and closes the connection.  A request sent without expecting an answer
 * (Produce with acks=0) completes as soon as its last byte is written.
 *
 * When the connection closes -- error, peer hang-up, a request older than
 * its timeout (as Kafka's NetworkClient, which cannot tell a slow broker
 * from a dead one) -- every request still pending completes with an error
 * code (NETWORK_EXCEPTION or REQUEST_TIMED_OUT), in the order sent.
 *
 * Completion callbacks run on the client's thread from bk_conn_io() (via
 * the loop), bk_conn_flush(), bk_conn_check() or bk_conn_close(); never from
 * inside bk_conn_send().  A callback may send on any connection but must
 * not close or free the one it is called for.
 */
#ifndef BK_CLIENT_CONN_H
#define BK_CLIENT_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/frame.h"
#include "common/loop.h"
#include "proto/brook.pb-c.h"

typedef enum bk_conn_state {
    BK_CONN_DOWN = 0,
    BK_CONN_CONNECTING,
    BK_CONN_UP,
} bk_conn_state;

typedef struct bk_conn bk_conn;

/*
 * A request's completion.  err 0: resp is the answer (owned by the
 * connection, freed when the callback returns; the callback may steal
 * bytes fields by setting them to {0, NULL}), or NULL for a request that
 * expected none.  err != 0 (BK_ERR_NETWORK_EXCEPTION, ..._REQUEST_TIMED_OUT):
 * resp is NULL and the request may or may not have reached the broker.
 */
typedef void bk_conn_fn(bk_conn *conn, int err, Brook__Response *resp,
                        void *arg);

/* Told when the connection comes up or goes down (why: a sentence). */
typedef void bk_conn_state_fn(bk_conn *conn, bool up, const char *why,
                              void *arg);

typedef struct bk_conn_req {
    int32_t corr_id;
    int32_t api_key;
    int64_t deadline_ms; /* monotonic */
    uint64_t end;        /* output stream position after its last byte */
    bk_conn_fn *fn;
    void *arg;
} bk_conn_req;

/* A FIFO of requests (a growable ring). */
typedef struct bk_conn_fifo {
    bk_conn_req *v;
    uint32_t cap, head, n;
} bk_conn_fifo;

#define BK_CONN_MAX_ADDRS 4

struct bk_conn {
    int32_t node_id; /* broker id, or < 0 for a bootstrap server */
    char host[256];
    int port;
    bk_conn_state state;
    int fd; /* -1 when DOWN */
    bk_loop *loop;
    const char *client_id; /* borrowed from the client's config */
    uint32_t max_frame;    /* largest response accepted */

    bk_buf out; /* frames not yet written, from out_pos on */
    size_t out_pos;
    uint64_t out_total; /* bytes ever queued (stream position) */
    uint64_t written;   /* bytes ever written */
    bk_buf in;          /* bytes read, split by dec */
    bk_frame_dec dec;
    bool want_write; /* BK_EV_WRITE is being watched */

    bk_conn_fifo waiting; /* sent, answer expected, oldest first */
    bk_conn_fifo noresp;  /* sent without answer, not yet written */
    int32_t next_corr;

    /* connect */
    struct sockaddr_storage *addrs; /* resolved addresses (owned) */
    uint32_t addrlens[BK_CONN_MAX_ADDRS];
    int naddrs, addr_i; /* the one being tried */
    int64_t connect_deadline;
    int64_t connect_timeout_ms;
    int64_t backoff_ms, backoff_min_ms, backoff_max_ms;
    int64_t retry_at; /* DOWN: no new attempt before (monotonic ms) */
    int failures;     /* consecutive failed attempts */

    bk_conn_state_fn *on_state;
    void *state_arg;
    char last_err[320];
};

typedef struct bk_conn_opts {
    const char *client_id;
    uint32_t max_frame;
    int64_t connect_timeout_ms;
    int64_t backoff_min_ms, backoff_max_ms;
    bk_conn_state_fn *on_state;
    void *state_arg;
} bk_conn_opts;

/* A new DOWN connection to host:port.  NULL on allocation failure. */
bk_conn *bk_conn_new(bk_loop *loop, int32_t node_id, const char *host, int port,
                     const bk_conn_opts *opts);
/* Closes and frees it.  Pending requests are dropped WITHOUT callbacks
 * (the owner is going away). */
void bk_conn_free(bk_conn *c);

/* Starts connecting when DOWN and past its backoff (now: monotonic ms).
 * 0 when connecting/up or started; BK_AGAIN in backoff; -BK_EIO when the
 * name cannot be resolved or no socket can be made (the connection stays
 * DOWN with its backoff armed, last_err says why). */
int bk_conn_connect(bk_conn *c, int64_t now);

/*
 * Queues req (the caller fills header->api_key and the body; this sets the
 * correlation id and client id) on a CONNECTING or UP connection.  With
 * expect_response false the request completes once written.  timeout_ms:
 * how long the answer may take from now.  0, -BK_EIO when DOWN, -BK_ENOMEM,
 * -BK_ETOOBIG.  fn is called exactly once unless this returns non-zero.
 */
int bk_conn_send(bk_conn *c, Brook__Request *req, bool expect_response,
                 int64_t timeout_ms, int64_t now, bk_conn_fn *fn, void *arg);

/* Writes what it can of the output now (completing acks=0 requests). */
void bk_conn_flush(bk_conn *c);

/* Requests waiting for an answer or for their last byte to go out. */
static inline uint32_t bk_conn_inflight(const bk_conn *c)
{
    return c->waiting.n + c->noresp.n;
}

/* Closes the connection when its connect or its oldest request timed out.
 * Returns the earliest deadline still ahead (INT64_MAX when none). */
int64_t bk_conn_check(bk_conn *c, int64_t now);

/* Closes: pending requests complete with err (a BK_ERR_*), the state
 * callback hears `why`, a reconnect backoff starts. */
void bk_conn_close(bk_conn *c, int err, const char *why);

#endif
