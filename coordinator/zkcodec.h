/*
 * zkcodec.h -- Kafka's ZooKeeper layout (DESIGN.md section 5): znode
 * paths and the JSON payloads, encode and decode.  No I/O (zkdata.h does
 * the reading and writing).
 *
 * The payloads are Kafka 2.x's own (kafka/zk/ZkData.scala), so Kafka's
 * tools and an operator's zkCli habits carry over:
 *   /brokers/ids/<id>          {"version":4,"host":..,"port":..,
 *                               "endpoints":["PLAINTEXT://h:p"],
 *                               "listener_security_protocol_map":{..},
 *                               "jmx_port":-1,"rack":null,"timestamp":"<ms>"}
 *   /brokers/topics/<t>        {"version":1,"partitions":{"0":[1,2,3]}}
 *   /brokers/topics/<t>/partitions/<p>/state
 *                              {"controller_epoch":..,"leader":..,
 *                               "version":1,"leader_epoch":..,"isr":[..]}
 *   /controller                {"version":1,"brokerid":..,"timestamp":".."}
 *   /controller_epoch          decimal text
 *   /config/topics/<t>         {"version":1,"config":{"k":"v",..}}
 *   /config/changes/config_change_<seq>
 *                              {"version":2,"entity_path":"topics/<t>"}
 *   /admin/delete_topics/<t>   no data
 *   /admin/preferred_replica_election
 *                              {"version":1,"partitions":[{"topic":..,
 *                               "partition":..}]}
 *   /isr_change_notification/isr_change_<seq>
 *                              {"version":1,"partitions":[{"topic":..,
 *                               "partition":..}]}
 *   /cluster/id                {"version":"1","id":"<22 chars>"}
 * Kafka omits "rack" when a broker has none; Brook writes "rack":null
 * (Kafka's decoder reads both).
 *
 * Decoders take untrusted bytes (any ZooKeeper client can write them):
 * they validate every field and fail with -BK_ECORRUPT and a message
 * naming the field, never crash; unknown extra fields are ignored (newer
 * Kafka versions add some).  Encoders append to a bk_buf and return 0 or
 * -BK_ENOMEM (-BK_EINVAL if a string was not UTF-8).
 *
 * Pure functions: any thread.
 */
#ifndef BK_ZKCODEC_H
#define BK_ZKCODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "coordinator/topic.h"

/* ------------------------------ paths ------------------------------ */
#define BK_ZKC_BROKERS_IDS       "/brokers/ids"
#define BK_ZKC_BROKERS_TOPICS    "/brokers/topics"
#define BK_ZKC_BROKERS_SEQID     "/brokers/seqid"
#define BK_ZKC_CONTROLLER        "/controller"
#define BK_ZKC_CONTROLLER_EPOCH  "/controller_epoch"
#define BK_ZKC_CONFIG_TOPICS     "/config/topics"
#define BK_ZKC_CONFIG_CHANGES    "/config/changes"
#define BK_ZKC_CONFIG_CHANGE_SEQ "/config/changes/config_change_"
#define BK_ZKC_CONFIG_BROKERS    "/config/brokers"
#define BK_ZKC_DELETE_TOPICS     "/admin/delete_topics"
#define BK_ZKC_REASSIGN          "/admin/reassign_partitions"
#define BK_ZKC_PREFERRED         "/admin/preferred_replica_election"
#define BK_ZKC_ISR_CHANGE        "/isr_change_notification"
#define BK_ZKC_ISR_CHANGE_SEQ    "/isr_change_notification/isr_change_"
#define BK_ZKC_CLUSTER_ID        "/cluster/id"
#define BK_ZKC_CONSUMERS         "/consumers"

/* Canonical non-negative int32 decimal, as in znode names and partition
 * keys ("0", "17"; not "017", "+1", "-1"). */
bool bk_zkc_parse_id(const char *s, int32_t *out);

/* Long enough for any path below with a valid (<= 249 char) topic. */
#define BK_ZKC_PATH_MAX 512

/* Path builders: write into out (BK_ZKC_PATH_MAX bytes), return 0 or
 * -BK_ETOOBIG.  Names are not validated here. */
int bk_zkc_path_broker(char *out, int32_t id);
int bk_zkc_path_topic(char *out, const char *topic);
int bk_zkc_path_partitions(char *out, const char *topic);
int bk_zkc_path_partition(char *out, const char *topic, int32_t p);
int bk_zkc_path_partition_state(char *out, const char *topic, int32_t p);
int bk_zkc_path_topic_config(char *out, const char *topic);
/* /config/<entity_type>/<entity_name>, e.g. "/config/topics/t",
 * "/config/brokers/<default>", "/config/brokers/1". */
int bk_zkc_path_entity_config(char *out, const char *entity_type,
                              const char *entity_name);
int bk_zkc_path_delete_topic(char *out, const char *topic);
int bk_zkc_path_consumer_offset(char *out, const char *group, const char *topic,
                                int32_t p);

/* ------------------------ broker registration ------------------------ */
#define BK_ZKC_MAX_ENDPOINTS 8
#define BK_ZKC_HOST_MAX      256

typedef struct bk_zkc_endpoint {
    char listener[64]; /* "PLAINTEXT" */
    char protocol[32]; /* security protocol: "PLAINTEXT", "SSL" ... */
    char host[BK_ZKC_HOST_MAX];
    int32_t port;
} bk_zkc_endpoint;

typedef struct bk_zkc_broker {
    int32_t id; /* from the path, not the payload */
    int version;
    /* Kafka's top-level host/port: the first PLAINTEXT endpoint's, or
     * ""/-1 when there is none.  Encode derives them from endpoints. */
    char host[BK_ZKC_HOST_MAX];
    int32_t port;
    bk_zkc_endpoint endpoints[BK_ZKC_MAX_ENDPOINTS];
    int nendpoints;
    int32_t jmx_port; /* -1: none */
    char rack[BK_ZKC_HOST_MAX];
    bool has_rack;     /* false: "rack":null */
    int64_t timestamp; /* ms, registration time */
} bk_zkc_broker;

/* Appends version 4 JSON for b (endpoints, jmx_port, rack, timestamp). */
int bk_zkc_broker_encode(const bk_zkc_broker *b, bk_buf *out);
/* Decodes versions 1-5.  0, or -BK_ECORRUPT with err set. */
int bk_zkc_broker_decode(int32_t id, const void *data, size_t len,
                         bk_zkc_broker *out, char *err, size_t errlen);
/* "PLAINTEXT://host:9092" of endpoint i (out at least 400 bytes). */
void bk_zkc_endpoint_string(const bk_zkc_endpoint *e, char *out, size_t outlen);

/* ------------------------- topic assignment ------------------------- */
typedef struct bk_zkc_part {
    int32_t id;
    int32_t nreplicas, nadding, nremoving;
    int32_t *replicas; /* into the assignment's pool */
    int32_t *adding;   /* reassignment in progress (version 2+) */
    int32_t *removing;
} bk_zkc_part;

typedef struct bk_zkc_assignment {
    int version;
    char topic_id[40]; /* version 3 ("topic_id"), "" when absent */
    int32_t nparts;
    bk_zkc_part *parts; /* sorted by id */
    int32_t *pool;      /* owns every id array */
} bk_zkc_assignment;

/* Builds an assignment of partitions 0..nparts-1 from a flat array
 * ids[p * rf + r].  Free with bk_zkc_assignment_free(). */
int bk_zkc_assignment_init(bk_zkc_assignment *a, int32_t nparts, int rf,
                           const int32_t *ids);
void bk_zkc_assignment_free(bk_zkc_assignment *a);
/* Version 1 JSON; version 2 (with adding/removing_replicas) only when a
 * partition has a reassignment in progress. */
int bk_zkc_assignment_encode(const bk_zkc_assignment *a, bk_buf *out);
/* Accepts versions 1-3.  Partition ids must be canonical non-negative
 * decimals, replica lists 1..BK_TOPIC_MAX_RF distinct ids >= 0.
 * 0, -BK_ECORRUPT (err set) or -BK_ENOMEM. */
int bk_zkc_assignment_decode(const void *data, size_t len,
                             bk_zkc_assignment *out, char *err, size_t errlen);
/* The partition with this id, or NULL. */
const bk_zkc_part *bk_zkc_assignment_find(const bk_zkc_assignment *a,
                                          int32_t id);

/* ------------------------- partition state ------------------------- */
typedef struct bk_zkc_pstate {
    int32_t leader; /* -1: none */
    int32_t leader_epoch;
    int32_t controller_epoch;
    int32_t nisr;
    int32_t isr[BK_TOPIC_MAX_RF];
} bk_zkc_pstate;

int bk_zkc_pstate_encode(const bk_zkc_pstate *s, bk_buf *out);
int bk_zkc_pstate_decode(const void *data, size_t len, bk_zkc_pstate *out,
                         char *err, size_t errlen);

/* ----------------------- controller and epoch ----------------------- */
int bk_zkc_controller_encode(int32_t broker_id, int64_t timestamp_ms,
                             bk_buf *out);
int bk_zkc_controller_decode(const void *data, size_t len, int32_t *broker_id,
                             char *err, size_t errlen);
int bk_zkc_controller_epoch_encode(int32_t epoch, bk_buf *out);
int bk_zkc_controller_epoch_decode(const void *data, size_t len,
                                   int32_t *epoch);

/* ---------------------------- topic config ---------------------------- */
typedef struct bk_zkc_kv {
    char *key;
    char *value;
} bk_zkc_kv;

typedef struct bk_zkc_config {
    size_t n;
    bk_zkc_kv *kv; /* sorted by key after decode; owned */
} bk_zkc_config;

void bk_zkc_config_free(bk_zkc_config *c);
/* Adds (copies) key=value; 0 or -BK_ENOMEM. */
int bk_zkc_config_add(bk_zkc_config *c, const char *key, const char *value);
/* The value of key, or NULL. */
const char *bk_zkc_config_get(const bk_zkc_config *c, const char *key);
int bk_zkc_config_encode(const bk_zkc_config *c, bk_buf *out);
int bk_zkc_config_decode(const void *data, size_t len, bk_zkc_config *out,
                         char *err, size_t errlen);

/* Config entity types (Kafka's ConfigType) Brook uses, and the name of
 * the cluster-wide default entity (Kafka's ConfigEntityName.Default):
 * /config/brokers/<default> holds the dynamic defaults of every broker,
 * /config/brokers/<id> one broker's own dynamic overrides. */
#define BK_ZKC_ENTITY_TOPICS  "topics"
#define BK_ZKC_ENTITY_BROKERS "brokers"
#define BK_ZKC_ENTITY_DEFAULT "<default>"

/* /config/changes/config_change_<seq>: version 2 {"entity_path":
 * "topics/<t>"}; decode also reads version 1 {"entity_type":"topics",
 * "entity_name":"<t>"}.  entity_path gets "type/name". */
int bk_zkc_config_change_encode(const char *entity_path, bk_buf *out);
int bk_zkc_config_change_decode(const void *data, size_t len, char *entity_path,
                                size_t pathlen, char *err, size_t errlen);
/* The sequence number of a child name "config_change_<seq>" (digits
 * only, ZooKeeper's 10 or more), or -1 for any other name. */
int64_t bk_zkc_config_change_seq(const char *name);

/* ------------------- ISR change notification ------------------- */
typedef struct bk_zkc_tp {
    char topic[BK_TOPIC_NAME_MAX + 1];
    int32_t partition;
} bk_zkc_tp;

int bk_zkc_isr_change_encode(const bk_zkc_tp *tps, size_t n, bk_buf *out);
/* *out is malloc'd (free()); *n its length. */
int bk_zkc_isr_change_decode(const void *data, size_t len, bk_zkc_tp **out,
                             size_t *n, char *err, size_t errlen);

/* ------------------- partition reassignment ------------------- */
/* /admin/reassign_partitions, and the file of `brookctl partitions
 * reassign` (Kafka's kafka-reassign-partitions.sh format):
 *   {"version":1,"partitions":[{"topic":"t","partition":0,
 *                               "replicas":[1,2,3]},...]}
 * Decode checks the shape (a topic name, a partition >= 0, 1..
 * BK_TOPIC_MAX_RF distinct broker ids >= 0, no partition listed twice;
 * Kafka's optional "log_dirs" is accepted and ignored), not whether the
 * topic or brokers exist. */
typedef struct bk_zkc_reassign {
    char topic[BK_TOPIC_NAME_MAX + 1];
    int32_t partition;
    int32_t nreplicas;
    int32_t replicas[BK_TOPIC_MAX_RF];
} bk_zkc_reassign;

int bk_zkc_reassign_encode(const bk_zkc_reassign *v, size_t n, bk_buf *out);
/* *out is malloc'd (free()), *n its length (may be 0). */
int bk_zkc_reassign_decode(const void *data, size_t len, bk_zkc_reassign **out,
                           size_t *n, char *err, size_t errlen);

/* /admin/preferred_replica_election: the same JSON as an ISR change
 * notification ({"version":1,"partitions":[{"topic":..,"partition":..}]}),
 * the partitions whose preferred replica should lead again. */
int bk_zkc_preferred_encode(const bk_zkc_tp *tps, size_t n, bk_buf *out);
int bk_zkc_preferred_decode(const void *data, size_t len, bk_zkc_tp **out,
                            size_t *n, char *err, size_t errlen);

/* ----------------------------- cluster id ----------------------------- */
#define BK_ZKC_CLUSTER_ID_LEN 22 /* base64url of a random UUID, no '=' */

/* A fresh id, as Kafka makes it (random version-4 UUID, URL-safe base64
 * without padding).  out: at least BK_ZKC_CLUSTER_ID_LEN + 1 bytes. */
int bk_zkc_cluster_id_generate(char *out);
int bk_zkc_cluster_id_encode(const char *id, bk_buf *out);
int bk_zkc_cluster_id_decode(const void *data, size_t len, char *id,
                             size_t idlen, char *err, size_t errlen);

#endif
