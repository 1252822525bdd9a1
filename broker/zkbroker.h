/*
 * zkbroker.h -- brookd's side of ZooKeeper (DESIGN.md section 5): the
 * session, the broker's registration (/brokers/ids/<id>), the watches on
 * brokers, topics and partition states that keep the broker's cluster
 * picture (broker/metadata.h) current, and the topic admin requests
 * (CreateTopics, DeleteTopics, auto-creation) through coordinator/zkdata,
 * the same code brookctl runs.
 *
 * Threads.  ZooKeeper calls block, so they never run on the event loop.
 * Start-up (bk_zkb_open, bk_zkb_register, the first read) runs on the main
 * thread before the loop starts; after bk_zkb_start() a worker thread of
 * this module owns the session and makes every call.  The three kinds of
 * threads talk only through queues:
 *   ZooKeeper's completion thread -- watch and session callbacks only
 *       bk_loop_post() an event to the loop (zk.h forbids anything else);
 *   loop thread -- turns those events into jobs for the worker, and hands
 *       it admin requests (bk_zkb_create_topics...);
 *   worker -- re-reads what changed, then bk_loop_post()s a fresh copy of
 *       the cluster picture (on_md) or an admin request's answer.
 * Broker state is only ever touched by the loop thread.
 *
 * Registration.  /brokers/ids/<id> is an ephemeral znode with Kafka's
 * JSON.  If it exists, the broker refuses to start -- unless the znode's
 * session is the one this broker itself used last (recorded in the file
 * zk-session-id in the first log dir, which this process has locked): that
 * is our own previous incarnation, killed before its session expired, and
 * its znode is replaced at once instead of waiting out the session
 * timeout.
 *
 * Dynamic configs (broker/dynconfig.h, Kafka's ZkConfigManager): the
 * children of /config/changes are watched; each config_change_<seq> above
 * the last one handled names an entity ("topics/<t>", "brokers/<default>",
 * "brokers/<id>") that is read again into the picture (values checked,
 * invalid ones ignored) and posted, so the logs and the controller apply
 * it; an entity named several times in one batch is read once.
 * /config/topics/<t> itself is not watched (one notification per change,
 * as in Kafka); a full read (start, new session) reads every entity and
 * counts the notifications present as handled.  When /config/changes is
 * deleted (its creation is then watched) or created again (sequence
 * numbers restart at 0), or a notification vanishes before it was read,
 * every config entity is read again the same way.  The active controller
 * purges notifications 15 minutes older than the newest one (every
 * minute; bk_zkd_config_changes_purge).
 *
 * Session expiry: the worker opens a new session (retrying), registers
 * again, re-reads everything with fresh watches and posts the new picture.
 * If the id was taken meanwhile by another broker, on_fatal is posted.
 */
#ifndef BK_ZKBROKER_H
#define BK_ZKBROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/brokercfg.h"
#include "broker/controller.h"
#include "broker/metadata.h"
#include "broker/server.h"
#include "common/loop.h"

typedef struct bk_zkb bk_zkb;

/* Loop-thread callbacks (run through bk_loop_post). */
typedef void bk_zkb_md_fn(void *arg, bk_md *md); /* takes ownership */
typedef void bk_zkb_state_fn(void *arg, bool connected);
typedef void bk_zkb_fatal_fn(void *arg, const char *why);

typedef struct bk_zkb_opts {
    bk_loop *loop;
    const bk_bcfg *cfg;    /* registered endpoint: adv_host, adv_port (read
                              at each registration) */
    const char *state_dir; /* where zk-session-id lives (a locked log dir) */
    bk_zkb_md_fn *on_md;
    bk_zkb_state_fn *on_state;
    bk_zkb_fatal_fn *on_fatal;
    void *arg;
} bk_zkb_opts;

/* Main thread, before the loop: connects (bounded by
 * zookeeper.connection.timeout.ms; creates the chroot), creates Kafka's
 * persistent paths and learns the cluster id.  0, or -BK_EIO / -BK_EINVAL
 * with the reason logged.  *out is set even on failure (except -BK_ENOMEM
 * before anything started): tear it down as after a success. */
int bk_zkb_open(const bk_zkb_opts *o, bk_zkb **out);
/* The cluster id (valid after bk_zkb_open). */
const char *bk_zkb_cluster_id(const bk_zkb *z);
/* The controller of this broker (broker/controller.h), for
 * bk_ctrl_is_active / bk_ctrl_epoch from any thread; valid until
 * bk_zkb_free. */
const bk_ctrl *bk_zkb_ctrl(const bk_zkb *z);
/* Main thread: registers /brokers/ids/<id>.  0, -BK_EEXIST (another broker
 * has the id: logged), -BK_EIO. */
int bk_zkb_register(bk_zkb *z);
/* Main thread: reads the whole picture (setting watches) into *md.  0 or
 * -BK_EIO / -BK_ENOMEM. */
int bk_zkb_read_all(bk_zkb *z, bk_md **md);
/* Starts the worker thread; from now on every ZooKeeper call is its.
 * 0 or -BK_ENOMEM. */
int bk_zkb_start(bk_zkb *z);
/* Stops the worker (waiting for its current call) and closes the session
 * (the ephemeral registration goes at once).  Admin requests still queued
 * get a BROKER_NOT_AVAILABLE answer through the loop.  Events already
 * posted to the loop still point at z: call bk_zkb_stopping() first, run
 * the loop's queued posts, then bk_zkb_free().  Loop or main thread. */
void bk_zkb_close(bk_zkb *z);
/* Frees z (after bk_zkb_close and the drain).  NULL is fine. */
void bk_zkb_free(bk_zkb *z);
/* Loop thread: from now on ZooKeeper events are dropped. */
void bk_zkb_stopping(bk_zkb *z);
/* Loop thread: session events seen so far (metrics): connections (the
 * first one and every reconnection) and expirations. */
void bk_zkb_session_stats(const bk_zkb *z, uint64_t *connected,
                          uint64_t *expired);

/* Loop thread: answer a CreateTopics / DeleteTopics request through
 * ZooKeeper (the request is held until answered). */
void bk_zkb_create_topics(bk_zkb *z, bk_req *req);
void bk_zkb_delete_topics(bk_zkb *z, bk_req *req);
/* Loop thread: create `topic` with num.partitions and
 * default.replication.factor, without an answer (auto-creation). */
void bk_zkb_auto_create(bk_zkb *z, const char *topic);

/* Main thread, before bk_zkb_start: the controller's hook that tells
 * brokers of state changes (bk_ctrl_set_notify; broker/ctrlchan.h). */
void bk_zkb_set_ctrl_notify(bk_zkb *z, bk_ctrl_notify_fn *fn, void *arg);

/* Loop thread: runs bk_ctrl_controlled_shutdown(broker_id) on the worker
 * (then posts the picture it changed); done(arg, rc, remaining, n) is
 * called on the worker with the outcome and takes remaining (free with
 * bk_ctrl_tps_free); it must only post to the loop.  When the worker
 * stops first, done gets rc = -BK_EIO and no partitions.  0 or
 * -BK_ENOMEM (done not called). */
typedef void bk_zkb_cshut_fn(void *arg, int rc, bk_ctrl_tp *remaining,
                             size_t n);
int bk_zkb_controlled_shutdown(bk_zkb *z, int32_t broker_id,
                               int64_t broker_epoch, bk_zkb_cshut_fn *done,
                               void *arg);

/* Runs fn(zk, arg) on the worker thread, in turn with the other jobs (it
 * may block on ZooKeeper; it must not touch broker state and reports back
 * with bk_loop_post).  When the worker stops before running it, fn gets
 * zk == NULL (from bk_zkb_close) so that it can free arg.  Loop thread.
 * 0 or -BK_ENOMEM. */
struct bk_zk;
typedef void bk_zkb_call_fn(struct bk_zk *zk, void *arg);
int bk_zkb_call(bk_zkb *z, bk_zkb_call_fn *fn, void *arg);

#endif
