/*
 * handlers.h -- the request handlers of brookd, one function per API key,
 * behind bk_broker_handle() (broker/broker.h), which checks the API key,
 * its version and that the body matches the key before dispatching.
 *
 * handlers.c: ApiVersions, Metadata, CreateTopics, DeleteTopics (the last
 * two go through ZooKeeper, see broker/zkbroker.h);
 * handlers_data.c: Produce, Fetch (with long polling through
 * broker/fetchwait.h), ListOffsets and OffsetForLeaderEpoch.
 *
 * Every handler answers its request exactly once, now or later
 * (bk_req_respond*), building the response in a per-request pool
 * (broker/pool.h) that is freed once the response is encoded.  Errors about
 * a partition go in the partition's error_code, as in Kafka; a request
 * that cannot be answered at all gets a header-only error.
 *
 * Threading: the loop thread only.
 */
#ifndef BK_HANDLERS_H
#define BK_HANDLERS_H

#include "broker/broker.h"
#include "broker/pool.h"

void bk_hdl_api_versions(bk_broker *b, bk_req *req);
void bk_hdl_metadata(bk_broker *b, bk_req *req);
void bk_hdl_create_topics(bk_broker *b, bk_req *req);
void bk_hdl_delete_topics(bk_broker *b, bk_req *req);
void bk_hdl_produce(bk_broker *b, bk_req *req);
void bk_hdl_fetch(bk_broker *b, bk_req *req);
void bk_hdl_list_offsets(bk_broker *b, bk_req *req);
/* A follower asks where an epoch ends in the leader's log (KIP-101),
 * answered from the leader's epoch cache. */
void bk_hdl_offset_for_leader_epoch(bk_broker *b, bk_req *req);

/* handlers_ctrl.c: the controller's requests (fenced by controller
 * epoch, states applied through the picture) and ControlledShutdown
 * (answered by the active controller through the ZooKeeper worker). */
void bk_hdl_leader_and_isr(bk_broker *b, bk_req *req);
void bk_hdl_stop_replica(bk_broker *b, bk_req *req);
void bk_hdl_update_metadata(bk_broker *b, bk_req *req);
void bk_hdl_controlled_shutdown(bk_broker *b, bk_req *req);

/* DescribeConfigs (issue #6): the configs this broker applies, with their
 * sources (broker/dynconfig.h), for topics and for the broker itself. */
void bk_hdl_describe_configs(bk_broker *b, bk_req *req);

/* True for the APIs brookd answers today (ApiVersions lists them). */
bool bk_hdl_implemented(int api_key);

/* A protobuf struct T allocated in pool and initialised from INIT (its
 * __INIT macro), or NULL. */
void *bk_hdl_pnew(bk_pool *pool, const void *init, size_t size);
#define BK_PNEW(pool, T, INIT) ((T *)bk_hdl_pnew((pool), &(T)INIT, sizeof(T)))

/* The partition of topic/p that this broker leads, or NULL with *err set
 * to UNKNOWN_TOPIC_OR_PART or NOT_LEADER_FOR_PARTITION (Kafka's codes for
 * a client to refresh its metadata). */
bk_part *bk_hdl_leader_part(bk_broker *b, const char *topic, int32_t p,
                            int32_t *err);

/* The current leader of topic/p as known from ZooKeeper, for responses
 * that redirect a client (NULL on allocation failure). */
Brook__LeaderIdAndEpoch *bk_hdl_current_leader(bk_broker *b, bk_pool *pool,
                                               const char *topic, int32_t p);

#endif
