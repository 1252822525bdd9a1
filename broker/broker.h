/*
 * broker.h -- the broker singleton: everything brookd's event loop owns,
 * in one struct (in the manner of Redis's redisServer), and the glue
 * between the server, the handlers, the partitions and ZooKeeper.
 *
 * Ownership: main() creates the pieces and the loop thread alone reads and
 * changes them (DESIGN.md section 10).  The ZooKeeper side
 * (broker/zkbroker.h) runs its blocking calls on its own thread and only
 * talks to this struct through bk_loop_post().
 */
#ifndef BK_BROKER_H
#define BK_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/brokercfg.h"
#include "broker/fetchwait.h"
#include "broker/log.h"
#include "broker/metadata.h"
#include "broker/partition.h"
#include "broker/server.h"
#include "common/loop.h"

struct bk_zkb;
struct bk_repl;
struct bk_gsvc;

typedef struct bk_broker {
    const bk_bcfg *cfg; /* read-only after start */
    bk_loop *loop;
    bk_srv *srv;          /* listener and connections */
    bk_parts *parts;      /* local partition logs */
    bk_fwq *fwq;          /* delayed fetches */
    bk_md *md;            /* latest cluster picture from ZooKeeper (owned) */
    struct bk_zkb *zkb;   /* the ZooKeeper side */
    struct bk_repl *repl; /* replication: fetchers, followers' state */
    struct bk_gsvc *gsvc; /* group coordinator (broker/gcoord.h) */
    bk_log_config log_cfg;
    bool stopping;     /* shutdown has begun: no new work */
    bool zk_connected; /* as last reported by the session callback */
    /* Controller requests (broker/handlers_ctrl.c): partition states they
     * brought that ZooKeeper's picture has not caught up with yet (merged
     * into every picture, see bk_md_merge_pending; NULL: none), and the
     * newest controller epoch seen (older requests are fenced). */
    bk_md *pending;
    int32_t ctrl_epoch_seen;
    struct bk_metrics *metrics; /* Prometheus metrics (broker/metrics.h);
                                   NULL: nothing is counted */
} bk_broker;

/* The server's request handler: dispatches on the API key
 * (broker/handlers.c).  arg is the bk_broker. */
void bk_broker_handle(bk_srv *srv, bk_req *req, void *arg);

/* Replaces the cluster picture (takes ownership of md) and applies it to
 * the partitions.  Loop thread. */
void bk_broker_set_md(bk_broker *b, bk_md *md);

/* Partition change hook for bk_parts (answers waiting fetches). */
void bk_broker_part_changed(void *arg, bk_part *p, bool removing);

#endif
