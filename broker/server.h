/*
 * server.h -- brookd's network front: the listening socket and the client
 * connections, on the broker's event loop.
 *
 * The server turns bytes into requests and responses into bytes; it knows
 * frames (common/frame.h) and the Request/Response envelopes, never what a
 * request means (broker/handlers.h does).  In the manner of Redis's
 * networking.c, each connection reads into an input buffer and cuts whole
 * frames out of it; a partial frame waits for more bytes.
 *
 * Ordering.  Every decoded request becomes a bk_req appended to its
 * connection's FIFO and is handed to the handler.  The handler answers at
 * once or later (a long-poll fetch, a topic creation through ZooKeeper); a
 * connection writes responses strictly in FIFO order, so a quick answer
 * behind a slow one waits for it (DESIGN.md section 4: pipelined requests
 * are answered in order).  Responses are written with writev straight from
 * each request's encoded buffer.
 *
 * Backpressure.  A connection stops reading (and stops cutting frames out of
 * what it has already read) while its unsent output exceeds
 * BK_SRV_OUT_HIGH bytes or BK_SRV_MAX_PENDING requests are unanswered, and
 * resumes below half of each.  A slow reader thus costs bounded memory.
 *
 * Bad input.  A length prefix above the maximum or <= 0 closes the
 * connection (logged).  A frame that is not a valid Request gets a
 * header-only response with INVALID_REQUEST when its correlation id can be
 * read, else the connection is closed.  Nothing from the wire can crash
 * the broker.
 *
 * Lifetimes.  A bk_req is reference counted: the connection holds one
 * reference until the response is written (or the connection closes); a
 * handler that answers later takes another with bk_req_hold() and drops it
 * with bk_req_release().  When a connection closes with a request still
 * unanswered, the request's abort callback runs (it must stop the pending
 * work and release its reference); req->conn is then NULL and responding is
 * a no-op.
 *
 * Threading: everything runs on the loop's thread.
 */
#ifndef BK_SERVER_H
#define BK_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/loop.h"
#include "proto/brook.pb-c.h"

/* Pause reading above this much unsent output per connection. */
#define BK_SRV_OUT_HIGH (16u * 1024 * 1024)
/* ... or with this many requests not yet answered. */
#define BK_SRV_MAX_PENDING 512

typedef struct bk_srv bk_srv;
typedef struct bk_conn bk_conn;
typedef struct bk_req bk_req;

typedef void bk_req_abort_fn(bk_req *req);

/* One request and, once answered, its encoded response. */
struct bk_req {
    bk_conn *conn;       /* NULL after the connection closed */
    bk_srv *srv;         /* never NULL; freed before answers that come
                            during shutdown: use only while conn is set */
    struct bk_metrics *metrics; /* srv's, copied: it outlives srv */
    Brook__Request *msg; /* the decoded request (owned by the req) */
    int32_t api_key;     /* from the header */
    int32_t api_version;
    int32_t correlation_id;
    int64_t recv_ms;        /* loop time when it arrived */
    int64_t recv_ns;        /* monotonic ns when decoded (latency metric) */
    bk_buf out;             /* the response frame once done */
    size_t out_pos;         /* bytes of out already written */
    bool done;              /* answered (or needs no answer) */
    int refs;               /* connection's + handlers' holds */
    bk_req_abort_fn *abort; /* runs when the connection dies first */
    void *ctx;              /* the handler's pending state */
    bk_req *next;           /* connection FIFO */
};

/* Called for every decoded request; must eventually answer it with one of
 * bk_req_respond*() or bk_req_no_response(). */
typedef void bk_srv_handler_fn(bk_srv *srv, bk_req *req, void *arg);

typedef struct bk_srv_opts {
    const char *host;   /* "" or NULL: every interface */
    int port;           /* 0: let the kernel pick (tests) */
    uint32_t max_frame; /* socket.request.max.bytes */
    bk_srv_handler_fn *handler;
    void *handler_arg;
    struct bk_metrics *metrics; /* counts requests and latencies (may be
                                   NULL) */
} bk_srv_opts;

/* Creates the server and binds + listens (non-blocking).  0, -BK_EIO with
 * the reason logged (address in use...), -BK_ENOMEM. */
int bk_srv_new(bk_loop *loop, const bk_srv_opts *opts, bk_srv **out);
/* Closes every connection (aborting pending requests) and the listener. */
void bk_srv_free(bk_srv *srv);
/* The port actually bound. */
int bk_srv_port(const bk_srv *srv);
/* Stops accepting: closes the listening socket (shutdown step 1). */
void bk_srv_stop_accepting(bk_srv *srv);
/* True when no connection has an unanswered request or unsent bytes. */
bool bk_srv_idle(const bk_srv *srv);
/* Number of open connections. */
size_t bk_srv_nconns(const bk_srv *srv);

/* Encodes resp as the answer to req (the header's correlation_id and
 * api_key are filled in when resp->header is NULL or left 0).  Takes no
 * ownership of resp.  A no-op when the connection is gone.  Encoding
 * failure (out of memory) closes the connection. */
void bk_req_respond(bk_req *req, Brook__Response *resp);
/* A header-only answer: a request-level error (INVALID_REQUEST,
 * UNSUPPORTED_VERSION...). */
void bk_req_respond_error(bk_req *req, int32_t error_code, const char *msg);
/* The request needs no answer (Produce with acks=0). */
void bk_req_no_response(bk_req *req);
/* Closes the request's connection instead of answering (Kafka's way to
 * tell an acks=0 producer that something failed).  req is released by the
 * connection: do not use it afterwards unless you hold it. */
void bk_req_close_conn(bk_req *req, const char *why);

void bk_req_hold(bk_req *req);
/* Drops a hold; frees the request at zero. */
void bk_req_release(bk_req *req);
/* Installs the abort callback and context of a request that stays
 * pending. */
void bk_req_set_abort(bk_req *req, bk_req_abort_fn *fn, void *ctx);

/* "127.0.0.1:53412" of the request's client, "" when gone.  Static
 * storage inside the connection. */
const char *bk_req_peer(const bk_req *req);

#endif
