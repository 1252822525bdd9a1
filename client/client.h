/*
 * client.h -- the inside of a brook_client, shared by its parts: the
 * client proper (client.c: connections, metadata refresh, the poll loop),
 * the producer (producer.c) and the consumer (consumer.c).
 *
 * The client owns the event loop, the cluster table and one connection per
 * broker (plus one per bootstrap server until the first metadata answer
 * names the brokers).  Producer and consumer ask it for a broker's
 * connection and for metadata refreshes; it calls their service functions
 * from the poll loop.  Everything runs on the caller's thread (brook.h).
 */
#ifndef BK_CLIENT_CLIENT_H
#define BK_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "client/brook.h"
#include "client/conf.h"
#include "client/conn.h"
#include "client/metadata.h"
#include "common/loop.h"

struct bk_prod;
struct bk_cons;
struct bk_cg;

struct brook_client {
    brook_conf *conf; /* owned */
    bk_loop *loop;    /* owned */
    bk_md md;         /* the cluster table */

    bk_conn **conns; /* owned: brokers (node_id >= 0) and bootstrap
                        servers (node_id -1, -2, ...) */
    size_t nconns, capconns;
    size_t nbootstrap; /* bootstrap connections: node ids -1..-n */

    /* metadata refresh */
    bool md_need;        /* somebody asked for a refresh */
    bool md_inflight;    /* a Metadata request is out */
    bool md_ever;        /* at least one answer applied */
    int64_t md_last_ok;  /* monotonic ms of the last applied answer */
    int64_t md_last_try; /* monotonic ms of the last request sent */
    size_t md_rr;        /* round robin over connection candidates */

    struct bk_prod *prod; /* owned */
    struct bk_cons *cons; /* owned */
    struct bk_cg *cg;     /* owned; NULL without group.id (cgroup.h) */

    uint64_t events;   /* delivery reports + consumer events made */
    int64_t conn_wake; /* earliest reconnect a service pass waits for */
    char last_error[320];
};

/* Monotonic ms, as the loop last saw it. */
int64_t brook_client_now(const brook_client *c);

/*
 * The connection to broker node_id when it is UP and has room for another
 * request (fewer than max.in.flight); NULL otherwise.  A DOWN connection
 * is (re)opened as a side effect, and an unknown broker id asks for a
 * metadata refresh.
 */
bk_conn *brook_client_ready_conn(brook_client *c, int32_t node_id);

/*
 * Any broker connection (known brokers first, then bootstrap servers) that
 * is UP with room for a request, for requests any broker answers
 * (FindCoordinator).  NULL when none: one is being opened then.
 */
bk_conn *brook_client_any_conn(brook_client *c);

/*
 * The client's connection with id conn_id to host:port, created when
 * absent and (re)opened when DOWN and past its backoff; its address is
 * updated when it changed while DOWN.  Unlike brook_client_ready_conn() it
 * needs no metadata: the group coordinator gets its own connection (id
 * INT32_MAX - broker id, as Kafka's client) so that its requests never
 * queue behind long-polling fetches.  NULL on allocation failure.
 */
bk_conn *brook_client_node_conn(brook_client *c, int32_t conn_id,
                                const char *host, int port);

/* Whether conn is UP with room for one more request. */
bool brook_client_conn_ready(const brook_client *c, const bk_conn *conn);

/* One round of the poll loop (service, wait until deadline at most,
 * service), for the group's synchronous calls.  0 or -BK_E*. */
int brook_client_run_once(brook_client *c, int64_t deadline);

/* Asks for a metadata refresh soon (at most one per retry.backoff.ms). */
void brook_client_md_refresh(brook_client *c);

/* Records a problem for brook_last_error(). */
void brook_client_set_error(brook_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* True for errors after which the leader should be looked up again:
 * NOT_LEADER_FOR_PARTITION, UNKNOWN_TOPIC_OR_PART, LEADER_NOT_AVAILABLE,
 * FENCED/UNKNOWN_LEADER_EPOCH, NETWORK_EXCEPTION, REQUEST_TIMED_OUT... */
bool brook_client_md_error(int err);

#endif
