/*
 * zkdata.h -- reading and writing Kafka's ZooKeeper layout: the
 * persistent paths a cluster needs, broker and topic listings, the
 * topic operations (create, delete, describe), and dynamic configs
 * (/config/<type>/<name> entities and their change notifications).
 *
 * These are the one implementation behind brookctl and brookd's
 * CreateTopics/DeleteTopics handlers, so both give the same answers.
 * Topic operations answer in a bk_zkd_result: a Kafka error code
 * (BK_ERR_*, proto/protocol.h) and a message for the user; their return
 * value is 0 when the request was answered and -BK_E* only when ZooKeeper
 * itself failed.  Formats are in zkcodec.h, topic rules in topic.h.
 *
 * Consistency: writes that belong together go in one zoo_multi (a topic's
 * config, assignment and partition states are created at once, DESIGN.md
 * section 5); a multi is kept below 256 KiB, so a topic with many
 * thousands of partitions is written in several multis, the first one
 * holding the config and the assignment.
 *
 * Threads: every function here uses bk_zk's synchronous helpers, so it
 * blocks on ZooKeeper round trips and must not run on ZooKeeper's
 * completion thread (zk.h); in brookd they belong to a thread that may
 * block, not the event loop.
 */
#ifndef BK_ZKDATA_H
#define BK_ZKDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coordinator/topic.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"

/* Creates the persistent paths a broker expects (Kafka's
 * ZkData.PersistentZkPaths: /consumers, /brokers/ids, /brokers/topics,
 * /brokers/seqid, /config/changes, /config/topics, /config/clients,
 * /config/users, /config/brokers, /admin/delete_topics,
 * /isr_change_notification, /latest_producer_id_block,
 * /log_dir_event_notification) and /cluster/id when absent.  Idempotent;
 * safe to run concurrently from several brokers.  cluster_id (may be
 * NULL) receives the cluster's id, truncated to idlen - 1 characters (ids
 * Kafka and Brook make have 22).  0 or -BK_E*. */
int bk_zkd_ensure_paths(bk_zk *zk, char *cluster_id, size_t idlen);

/* Live broker ids (children of /brokers/ids that are decimal ids),
 * sorted.  *ids is malloc'd.  No /brokers/ids yet: 0 brokers. */
int bk_zkd_broker_ids(bk_zk *zk, int32_t **ids, size_t *n);
/* Every registered broker, decoded, sorted by id (malloc'd).  A broker
 * whose znode vanishes while listing is left out; one whose payload does
 * not decode is left out with a warning in the log. */
int bk_zkd_brokers_list(bk_zk *zk, bk_zkc_broker **out, size_t *n);

/* Topic names (children of /brokers/topics), sorted; none yet: empty. */
int bk_zkd_topics_list(bk_zk *zk, bk_zk_strings *out);
/* True (1) when /admin/delete_topics/<t> exists, 0 when not, or -BK_E*. */
int bk_zkd_topic_marked_for_deletion(bk_zk *zk, const char *topic);

/* Reads /brokers/topics/<t>.  -BK_ENOENT when the topic does not exist,
 * -BK_ECORRUPT when its payload is bad.  zk_version may be NULL. */
int bk_zkd_topic_read(bk_zk *zk, const char *topic, bk_zkc_assignment *a,
                      int32_t *zk_version);
/* Reads a partition state; -BK_ENOENT when there is none yet. */
int bk_zkd_pstate_read(bk_zk *zk, const char *topic, int32_t p,
                       bk_zkc_pstate *st, int32_t *zk_version);
/* Reads the states of partitions parts[i] of topics[i], i < n, in one
 * pipelined batch (bk_zk_get_many_st).  rcs[i]: 0 (st[i] and, when
 * versions is not NULL, versions[i] set), -BK_ENOENT (no state yet),
 * -BK_ECORRUPT (does not decode: logged with its path) or the read's
 * error.  Returns 0, or -BK_ENOMEM / the send error when nothing could
 * be asked. */
int bk_zkd_pstates_read(bk_zk *zk, const char *const *topics,
                        const int32_t *parts, size_t n, bk_zkc_pstate *st,
                        int32_t *versions, int *rcs);
/* Reads /config/topics/<t>; absent means no overrides (0, empty). */
int bk_zkd_topic_config_read(bk_zk *zk, const char *topic, bk_zkc_config *cfg);
/* Reads /controller_epoch; absent: *epoch 0 and -BK_ENOENT. */
int bk_zkd_controller_epoch_read(bk_zk *zk, int32_t *epoch,
                                 int32_t *zk_version);

/* The answer of a topic operation. */
typedef struct bk_zkd_result {
    int error;         /* BK_ERR_NO_ERROR (0) or a Kafka error code */
    char message[512]; /* for the user when error != 0 */
    char warning[256]; /* non-fatal remark ("" when none) */
} bk_zkd_result;

typedef struct bk_zkd_topic_spec {
    const char *name;
    int32_t partitions;
    int replication_factor;
    const bk_zkc_kv *configs; /* as given by the user; checked here */
    size_t nconfigs;
    /* Optional explicit assignment (CreateTopics' replica assignment):
     * partitions * replication_factor ids, ids[p * rf + r]; NULL: Brook
     * assigns with bk_topic_assign(). */
    const int32_t *replicas;
    int start_index, shift; /* for bk_topic_assign; -1: random */
    bool validate_only;     /* check everything, write nothing */
} bk_zkd_topic_spec;

/* Creates a topic: checks the name, configs and replication factor
 * against the live brokers, assigns replicas, then writes in ONE
 * zoo_multi: /config/topics/<t>, /brokers/topics/<t>, its partitions
 * node and each /partitions/<p>/state (leader = first replica, isr = all
 * replicas, leader_epoch 0, controller_epoch from /controller_epoch).
 * Returns 0 when the request was answered (res->error says how: 0,
 * TOPIC_ALREADY_EXISTS, INVALID_* ...), or -BK_E* when ZooKeeper failed
 * (res->error is BK_ERR_UNKNOWN and res->message says why). */
int bk_zkd_topic_create(bk_zk *zk, const bk_zkd_topic_spec *spec,
                        bk_zkd_result *res);

/* Deletes a topic the way Brook does before a controller exists: marks
 * it (/admin/delete_topics/<t>, Kafka's request) and then runs
 * bk_zkd_topic_delete_now().  res->error: 0 or UNKNOWN_TOPIC_OR_PART.
 * Returns like bk_zkd_topic_create(). */
int bk_zkd_topic_delete(bk_zk *zk, const char *topic, bk_zkd_result *res);

/* Removes every znode of a topic: the partition state znodes,
 * /brokers/topics/<t>, /config/topics/<t> and last the
 * /admin/delete_topics/<t> mark, so an interrupted deletion is still
 * marked and can be finished by calling this again.  Brokers watching
 * /brokers/topics then remove their local logs.  The controller (issue
 * #4) will call this once no replica serves the topic.  Idempotent: 0
 * when nothing is left, -BK_E* on ZooKeeper failure. */
int bk_zkd_topic_delete_now(bk_zk *zk, const char *topic);

/* Everything describe shows about one topic. */
typedef struct bk_zkd_topic_desc {
    bk_zkc_assignment assignment;
    bk_zkc_config config;
    bk_zkc_pstate *states; /* one per assignment.parts[i] */
    bool *has_state;       /* false: no state znode (yet) */
    bool marked_for_deletion;
} bk_zkd_topic_desc;

/* -BK_ENOENT when the topic does not exist.  Free with
 * bk_zkd_topic_desc_free(). */
int bk_zkd_topic_describe(bk_zk *zk, const char *topic, bk_zkd_topic_desc *d);
void bk_zkd_topic_desc_free(bk_zkd_topic_desc *d);

/* ------------------- dynamic configs (issue #6) -------------------
 * A config entity is (entity_type, entity_name), stored at
 * /config/<type>/<name> as {"version":1,"config":{"k":"v",...}}:
 *   ("topics", T)             a topic's overrides (any topic key of
 *                             topic.h, bk_topic_cfg_check);
 *   ("brokers", "<default>")  cluster-wide dynamic broker defaults;
 *   ("brokers", "<id>")       one broker's dynamic overrides;
 * both broker entities take only the broker keys of bk_dyn_cfg_defs()
 * (bk_topic_broker_cfg_check).  Kafka's precedence for a topic on a
 * broker: topic > per-broker dynamic > cluster default dynamic > static
 * broker.properties > built-in default.  Every change is announced by a
 * persistent sequential /config/changes/config_change_<seq> holding
 * {"version":2,"entity_path":"<type>/<name>"}, which brokers watch. */

/* Most attempts of bk_zkd_config_alter when concurrent writers keep
 * changing the entity between its read and its conditional write. */
#define BK_ZKD_CONFIG_ALTER_ATTEMPTS 10

/* Checks an entity without I/O: "topics" with a legal topic name, or
 * "brokers" with "<default>" or a canonical broker id.  0 or -BK_EINVAL
 * with err set. */
int bk_zkd_entity_check(const char *entity_type, const char *entity_name,
                        char *err, size_t errlen);

/* Reads /config/<type>/<name>, sorted by key.  Absent: 0, an empty
 * config and *zk_version -1 (zk_version may be NULL).  -BK_ECORRUPT when
 * the payload is not a config (logged), -BK_ETOOBIG for a name too long
 * for a path, else ZooKeeper's -BK_E*.  Free with bk_zkc_config_free(). */
int bk_zkd_entity_config_read(bk_zk *zk, const char *entity_type,
                              const char *entity_name, bk_zkc_config *cfg,
                              int32_t *zk_version);

/* Checks an alteration without I/O: the entity (bk_zkd_entity_check),
 * every added key and value (unknown key, bad value: the message names
 * both), every deleted key (a known name), no key added twice, deleted
 * twice, or both added and deleted.  On success the normalized adds
 * (topic.h's normalization, sorted by key) go to *norm when it is not
 * NULL (free with bk_zkc_config_free()).  0 or -BK_EINVAL with err set
 * (-BK_ENOMEM when out of memory). */
int bk_zkd_config_check(const char *entity_type, const char *entity_name,
                        const bk_zkc_kv *adds, size_t nadds,
                        const char *const *deletes, size_t ndeletes,
                        bk_zkc_config *norm, char *err, size_t errlen);

/* Alters an entity's config: checks everything first
 * (bk_zkd_config_check; for topics that the topic exists; that every
 * deleted key is set), then in ONE zoo_multi writes the new config
 * (setData conditional on the version read, or create when absent; for
 * a topic also a check that /brokers/topics/<t> still exists) and the
 * /config/changes/config_change_<seq> notification.  When another
 * writer changed the entity between the read and the write, it reads
 * again and retries (BK_ZKD_CONFIG_ALTER_ATTEMPTS in all, with a short
 * random pause), so concurrent alterations of different keys all
 * survive.  Missing parents (/config/brokers, /config/changes on a
 * fresh ZooKeeper) are created.
 * Returns 0; -BK_EINVAL (invalid, nothing written; err names the key:
 * "Invalid config(s): k" for a deleted key that is not set); -BK_ENOENT
 * ("Topic 'T' does not exist"); -BK_ERANGE (still conflicting after every
 * attempt, nothing written); or ZooKeeper's -BK_E* (err says so; after
 * -BK_EIO the write may or may not have happened). */
int bk_zkd_config_alter(bk_zk *zk, const char *entity_type,
                        const char *entity_name, const bk_zkc_kv *adds,
                        size_t nadds, const char *const *deletes,
                        size_t ndeletes, char *err, size_t errlen);

/* Kafka's change-notification hygiene: deletes every
 * /config/changes/config_change_* whose creation time (ZooKeeper's
 * ctime) is more than max_age_ms (Kafka: 15 minutes, 900000) before the
 * reference min(now_ms, ctime of the newest notification).  The newest
 * ctime bounds it so that a caller whose clock runs ahead of
 * ZooKeeper's deletes nothing brokers may not have read yet (brokers
 * read a notification within seconds, and one that starts reads every
 * config anyway); the newest notification always stays.  Walks the
 * notifications oldest first (pipelined stats and deletes) and stops at
 * the first young one, or after max_deletes of them (> 0; 0: no
 * limit), so that a caller with other work bounds each call.  Several
 * callers may purge at once: a notification already gone is fine.
 * Returns how many it deleted (>= 0), or -BK_E* from ZooKeeper. */
int bk_zkd_config_changes_purge(bk_zk *zk, int64_t now_ms, int64_t max_age_ms,
                                int max_deletes);

#endif
