/*
 * offsvc.h -- brookd's second ZooKeeper session, for consumer-group
 * offsets (DESIGN.md section 9, issue #5).
 *
 * Why a second session.  Committed offsets live in ZooKeeper and every
 * OffsetCommit is a zoo_multi round trip.  The broker's main session
 * (broker/zkbroker.h) serialises its calls on one worker thread that also
 * runs the controller; commits queued behind a controller pass of
 * thousands of partitions would wait seconds, and a controller pass would
 * wait behind a burst of commits.  So offsets get their own session and
 * their own worker thread: a FIFO of jobs, each run with the session.  The
 * session holds no ephemerals and no watches, so its expiry costs nothing
 * but a reconnect.
 *
 * Jobs.  bk_osvc_submit(fn, arg) from any thread; the worker runs
 * fn(zk, arg, status) in submission order:
 *   status 0            -- zk is connected (calls may still fail);
 *   status -BK_EIO      -- ZooKeeper cannot be reached right now (the
 *                          worker tried for zookeeper.connection.timeout.ms):
 *                          answer COORDINATOR_NOT_AVAILABLE or similar;
 *   status -BK_ECANCELED -- the service is stopping: free arg, zk is NULL.
 * A job reports back to the event loop with bk_loop_post(); it must not
 * touch loop-owned state.
 *
 * Threads: bk_osvc_submit and bk_osvc_queued from any thread, the rest from
 * the thread that created the service.
 */
#ifndef BK_OFFSVC_H
#define BK_OFFSVC_H

#include <stddef.h>

#include "coordinator/zk.h"

typedef struct bk_osvc bk_osvc;

typedef void bk_osvc_fn(bk_zk *zk, void *arg, int status);

typedef struct bk_osvc_opts {
    const char *connect; /* zookeeper.connect (with the chroot) */
    int session_timeout_ms;
    int connect_timeout_ms; /* one connection attempt's bound */
} bk_osvc_opts;

/* Creates the service and starts its worker, which connects in the
 * background (bk_osvc_new does not wait for ZooKeeper).  0, -BK_ENOMEM,
 * -BK_EINVAL (bad connect string, logged). */
int bk_osvc_new(const bk_osvc_opts *o, bk_osvc **out);

/* Queues fn(zk, arg, status) (see above).  0, or -BK_ENOMEM / -BK_EPERM
 * (stopping): then fn is not called and the caller keeps arg. */
int bk_osvc_submit(bk_osvc *s, bk_osvc_fn *fn, void *arg);

/* Jobs waiting (not counting the one running). */
size_t bk_osvc_queued(bk_osvc *s);

/* Stops the worker after its current job, runs the jobs still queued with
 * status -BK_ECANCELED, closes the session and frees s.  NULL is fine. */
void bk_osvc_free(bk_osvc *s);

#endif
