/*
 * admin.h -- the topic admin requests of brookd: CreateTopics,
 * DeleteTopics and auto-creation (auto.create.topics.enable), carried out
 * in ZooKeeper with coordinator/zkdata, the same code brookctl runs, so
 * both give the same answers (name rules, configs, replica assignment,
 * one zoo_multi per topic).
 *
 * Threads.  The functions taking a bk_zk block on ZooKeeper round trips:
 * they run on the ZooKeeper worker thread (broker/zkbroker.c), never on
 * the loop.  They read the request's decoded message (immutable while the
 * loop holds the request for them) and post the answer to the loop, which
 * sends it and drops the hold.  bk_adm_fail may run on any thread.
 */
#ifndef BK_ADMIN_H
#define BK_ADMIN_H

#include <stdint.h>

#include "broker/brokercfg.h"
#include "broker/server.h"
#include "common/loop.h"
#include "coordinator/zk.h"

/* Creates each topic of the CreateTopics request req (held by the caller's
 * job; the hold passes to the posted answer).  Partitions / replication
 * factor -1 take num.partitions / default.replication.factor (KIP-464);
 * explicit assignments must cover partitions 0..n-1 with lists of one
 * length; a name given twice is INVALID_REQUEST. */
void bk_adm_create_topics(bk_zk *zk, const bk_bcfg *cfg, bk_loop *loop,
                          bk_req *req);
/* Deletes each topic of the DeleteTopics request req (TOPIC_DELETION_
 * DISABLED when delete.topic.enable is false).  Same hold rule. */
void bk_adm_delete_topics(bk_zk *zk, const bk_bcfg *cfg, bk_loop *loop,
                          bk_req *req);
/* Creates topic with the broker's defaults; nothing is answered (a
 * Metadata request already told the client to retry).  Logged. */
void bk_adm_auto_create(bk_zk *zk, const bk_bcfg *cfg, const char *topic);
/* Answers the Create/DeleteTopics request req with err for every topic
 * (shutdown), through the loop; takes over the caller's hold. */
void bk_adm_fail(bk_loop *loop, bk_req *req, int32_t err, const char *msg);

#endif
