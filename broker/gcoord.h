/*
 * gcoord.h -- where a consumer group's coordinator lives (DESIGN.md
 * section 9, issue #5).
 *
 * As in Kafka, a group belongs to one partition of the internal topic
 * __consumer_offsets: partition abs(javaHashCode(group)) % N, where N is
 * the topic's partition count as registered in ZooKeeper (created with
 * offsets.topic.num.partitions) and abs() maps Integer.MIN_VALUE to 0
 * (Kafka's Utils.abs; bk_off_group_partition in coordinator/offsets.h).  The
 * leader of that partition coordinates the group; when the leadership moves, so
 * does the group.  Brook stores no records in that topic (offsets live in
 * ZooKeeper): it exists only so that coordination follows the controller's
 * leader elections.
 *
 * The topic is created on the first FindCoordinator that needs it, with
 * offsets.topic.replication.factor replicas; until it exists and the
 * partition has a live leader, FindCoordinator answers
 * COORDINATOR_NOT_AVAILABLE (retriable), as Kafka does.
 *
 * The group service (bk_gsvc) is brookd's group coordinator: it answers
 * FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * DescribeGroups, ListGroups (broker/group.h keeps the groups' state
 * machines, driven from the loop with a loop timer), and OffsetCommit /
 * OffsetFetch, whose ZooKeeper work (coordinator/offsets.h) runs on the
 * offsets session's worker (broker/offsvc.h), never on the loop.  A group
 * request reaching a broker that does not lead the group's partition is
 * answered NOT_COORDINATOR (COORDINATOR_LOAD_IN_PROGRESS while ZooKeeper
 * says it leads but the local replica has not become leader yet); when the
 * leadership of a partition moves away, its groups are unloaded (held
 * requests answered NOT_COORDINATOR; members rediscover and rejoin).
 *
 * Threads: bk_gc_* placement functions are pure (any thread); bk_gsvc_*
 * and the handlers run on the loop thread.
 */
#ifndef BK_GCOORD_H
#define BK_GCOORD_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/metadata.h"

#define BK_GC_TOPIC "__consumer_offsets"

/* Where FindCoordinator should send a client for group. */
typedef struct bk_gc_where {
    int32_t error;     /* 0, COORDINATOR_NOT_AVAILABLE, INVALID_GROUP_ID */
    int32_t partition; /* of BK_GC_TOPIC, -1 when the topic is missing */
    int32_t node;      /* the coordinator (error 0) */
    const char *host;  /* into md */
    int32_t port;
    bool create; /* the topic does not exist: create it */
} bk_gc_where;

void bk_gc_locate(const bk_md *md, const char *group, bk_gc_where *out);

/* ------------------------------ service ------------------------------ */

struct bk_broker;
struct bk_req;
struct bk_part;
typedef struct bk_gsvc bk_gsvc;

/* Creates the service of broker b (its config, loop, picture, partitions
 * and ZooKeeper side must exist) and starts the offsets session.
 * 0, -BK_ENOMEM, -BK_EINVAL. */
int bk_gsvc_new(struct bk_broker *b, bk_gsvc **out);
/* Answers every held request NOT_COORDINATOR, stops the offsets worker
 * (queued commits are answered COORDINATOR_NOT_AVAILABLE) and frees g.
 * Loop thread, before the server goes.  NULL is fine. */
void bk_gsvc_free(bk_gsvc *g);
/* Shutdown begins: every group is unloaded now (held JoinGroup / SyncGroup
 * answered NOT_COORDINATOR, so members move on and the drain does not
 * wait for rebalances).  Loop thread; NULL is fine. */
void bk_gsvc_unload_all(bk_gsvc *g);
/* A local partition changed (leadership, removal): unloads the groups of
 * a __consumer_offsets partition this broker no longer leads. */
void bk_gsvc_part_changed(bk_gsvc *g, struct bk_part *p, bool removing);

/* Handlers (API keys 8, 9, 10, 11, 12, 13, 14, 15, 16). */
void bk_hdl_offset_commit(struct bk_broker *b, struct bk_req *req);
void bk_hdl_offset_fetch(struct bk_broker *b, struct bk_req *req);
void bk_hdl_find_coordinator(struct bk_broker *b, struct bk_req *req);
void bk_hdl_join_group(struct bk_broker *b, struct bk_req *req);
void bk_hdl_heartbeat(struct bk_broker *b, struct bk_req *req);
void bk_hdl_leave_group(struct bk_broker *b, struct bk_req *req);
void bk_hdl_sync_group(struct bk_broker *b, struct bk_req *req);
void bk_hdl_describe_groups(struct bk_broker *b, struct bk_req *req);
void bk_hdl_list_groups(struct bk_broker *b, struct bk_req *req);

#endif
