/*
 * ctrlchan.h -- the controller's channel to the brokers (Kafka's
 * ControllerChannelManager) and the broker's side of ControlledShutdown.
 *
 * Channel.  bk_cc_notify is the controller's notify hook
 * (bk_ctrl_notify_fn, broker/controller.h).  It runs on the ZooKeeper
 * worker right after the controller wrote partition states, copies what
 * the brokers must learn out of the picture and queues, per live broker:
 *   - LeaderAndIsr: the states of the changed partitions that broker
 *     replicates (controller id and epoch, leader, leader_epoch, ISR,
 *     zk_version, replicas) and the leaders' endpoints;
 *   - UpdateMetadata: the states of every changed partition and the live
 *     brokers with their endpoints.
 * With full set (a new controller, or the live brokers changed) every
 * state goes to everyone.  StopReplica can be queued with bk_cc_stop_replica.
 * The controller is one of the live brokers and sends to itself the same
 * way (over its own listener), so every broker applies states through one
 * path (broker/handlers_ctrl.c).
 *
 * Each destination broker has a sender thread with a FIFO queue: a
 * blocking socket (every wait bounded by controller.socket.timeout.ms),
 * one request in flight, reconnect with backoff (100 ms doubling to 1 s)
 * and re-send of the request that failed, so neither the worker nor the
 * loop ever waits on the network.  When a broker leaves the live set its
 * queue is dropped and its thread ends; a changed endpoint (a restart on
 * another port) makes the thread reconnect.  Losing a request is not
 * fatal: the brokers' watches on the state znodes remain (the fallback).
 *
 * Controlled shutdown.  bk_cc_controlled_shutdown makes one attempt on a
 * thread of its own: ControlledShutdown to the current controller (from
 * the latest picture the loop gave bk_cc_set_controller, read at each
 * attempt, so after NOT_CONTROLLER or a dead connection the next attempt
 * goes to the new controller); the outcome is posted to the loop, which
 * decides about retries (broker/main.c: controlled.shutdown.max.retries
 * attempts, controlled.shutdown.retry.backoff.ms apart).
 *
 * Threads: bk_cc_new / bk_cc_free on the main thread (free after the
 * worker stopped: it calls bk_cc_notify); bk_cc_notify and
 * bk_cc_stop_replica on the ZooKeeper worker; bk_cc_set_controller and
 * bk_cc_controlled_shutdown on the loop.  The internal state is under one
 * mutex.
 */
#ifndef BK_CTRLCHAN_H
#define BK_CTRLCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/controller.h"
#include "broker/metadata.h"
#include "common/loop.h"

typedef struct bk_cc bk_cc;

/* A channel for broker broker_id (the client id says who sends);
 * socket_timeout_ms bounds every connect, send and answer.  NULL on
 * allocation failure. */
bk_cc *bk_cc_new(int32_t broker_id, int socket_timeout_ms);
/* Stops every thread (at most about 100 ms each) and frees the channel.
 * Requests still queued are dropped.  NULL is fine. */
void bk_cc_free(bk_cc *cc);

/* The notify hook (arg is the bk_cc); see bk_ctrl_notify_fn. */
void bk_cc_notify(void *arg, const bk_md *md, int32_t ctrl_epoch,
                  const bk_ctrl_tp *changed, size_t n, bool full);

/* Queues a StopReplica of tp[0..n) (delete: also delete the logs) to
 * broker `to`, a live broker of md.  0, -BK_ENOENT (not live),
 * -BK_ENOMEM. */
int bk_cc_stop_replica(bk_cc *cc, const bk_md *md, int32_t ctrl_epoch,
                       int32_t to, const bk_ctrl_tp *tp, size_t n,
                       bool delete_logs);

/* Requests sent and answered so far (all destinations), for logs and
 * tests. */
uint64_t bk_cc_sent(bk_cc *cc);

/* Loop thread: remembers md's controller and its endpoint. */
void bk_cc_set_controller(bk_cc *cc, const bk_md *md);

/* Called on the loop with the outcome of one ControlledShutdown attempt:
 * err 0 when the controller answered, remaining[0..n) being what this
 * broker still leads (n == 0: every leadership moved; the callee takes
 * remaining, free with bk_ctrl_tps_free); a Kafka error code from the
 * controller (NOT_CONTROLLER...); or -1 when no controller was known or
 * reachable. */
typedef void bk_cc_cshut_done_fn(void *arg, int err, bk_ctrl_tp *remaining,
                                 size_t n);

/* Loop thread: one attempt of the controlled shutdown (see above), on
 * its own thread; attempt numbers the logs.  0, or -BK_EEXIST (one is
 * running), -BK_ENOMEM (done is not called). */
int bk_cc_controlled_shutdown(bk_cc *cc, bk_loop *loop, int attempt,
                              bk_cc_cshut_done_fn *done, void *arg);

#endif
