/*
 * topic.h -- the rules of a topic, without any I/O: Kafka's topic-name
 * rules, the topic-level configuration keys Brook accepts (Kafka's names,
 * types and ranges), and replica assignment across brokers (Kafka's
 * rack-unaware algorithm).
 *
 * zkdata.c applies these when it creates a topic, whether the request
 * comes from brookctl or from brookd's CreateTopics handler, so both give
 * the same answers.  Failures here are answers to a client: functions
 * return 0 or a Kafka protocol error code (BK_ERR_*, positive, from
 * proto/protocol.h) and write a message meant for the user into err.
 * Pure functions over their arguments (the assignment's randomness comes
 * from the caller): any thread.
 */
#ifndef BK_TOPIC_H
#define BK_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kafka's limit: 249 characters (255 minus room for a partition suffix
 * and "-delete" in the log directory name). */
#define BK_TOPIC_NAME_MAX 249
/* Brook's own bound on the replication factor (Kafka has none; nobody
 * runs more than a handful of replicas) so that replica lists fit fixed
 * arrays (zkdata.h). */
#define BK_TOPIC_MAX_RF 64

/* Kafka's Topic.validate: 1..249 characters from [a-zA-Z0-9._-], not "."
 * or "..".  0 or BK_ERR_TOPIC_EXCEPTION with err like
 *   Topic name "a b" is illegal, it contains a character other than
 *   ASCII alphanumerics, '.', '_' and '-' */
int bk_topic_validate_name(const char *name, char *err, size_t errlen);

/* True when the name has '.' or '_': Kafka warns that such topics can
 * collide in metric names ("a.b" and "a_b" map to the same metric). */
bool bk_topic_has_collision_chars(const char *name);
/* True when a and b differ but are equal with every '.' read as '_'
 * (creating the second is refused, as Kafka does). */
bool bk_topic_names_collide(const char *a, const char *b);

/* ------------------------- topic configs ------------------------- */
typedef enum bk_topic_cfg_type {
    BK_TCFG_INT,    /* 32-bit */
    BK_TCFG_LONG,   /* 64-bit */
    BK_TCFG_BOOL,   /* true/false, any case */
    BK_TCFG_DOUBLE, /* finite decimal */
    BK_TCFG_STRING, /* one of `choices` */
    BK_TCFG_LIST,   /* comma-separated, each one of `choices` */
} bk_topic_cfg_type;

typedef struct bk_topic_cfg_def {
    const char *name;
    bk_topic_cfg_type type;
    int64_t min, max;        /* INT/LONG inclusive range */
    double dmin, dmax;       /* DOUBLE inclusive range */
    const char *choices;     /* STRING/LIST: allowed values, '|'-separated */
    const char *unsupported; /* STRING/LIST: values Kafka allows but Brook
                                refuses, '|'-separated, or NULL */
    const char *doc;
} bk_topic_cfg_def;

/* The table of known keys (sorted by name). */
const bk_topic_cfg_def *bk_topic_cfg_defs(size_t *n);
/* The definition of key, or NULL when Brook does not know it. */
const bk_topic_cfg_def *bk_topic_cfg_lookup(const char *key);

/* Checks one key=value against the table.  On success the normalized
 * value (blanks around it and around list items dropped, booleans in
 * lower case) is written to norm (normlen bytes; NULL to skip) and 0 is
 * returned.  Otherwise BK_ERR_INVALID_CONFIG and err names the key:
 *   "Unknown topic config name: retention.msx"
 *   "Invalid value abc for configuration retention.ms: not a number"
 *   "cleanup.policy=compact is not supported by Brook (no log
 *    compaction); use cleanup.policy=delete" */
int bk_topic_cfg_check(const char *key, const char *value, char *norm,
                       size_t normlen, char *err, size_t errlen);

/* ------------------ dynamic configs (issue #6) ------------------ */
/* The topic keys a broker applies without a restart, and their
 * broker-level synonyms (Kafka's names), which may be set cluster-wide
 * under /config/brokers/<default> and in broker.properties; a topic's
 * own value (/config/topics/<t>) wins over both:
 *   retention.ms     log.retention.ms         segment.bytes  log.segment.bytes
 *   retention.bytes  log.retention.bytes      segment.ms     log.roll.ms
 *   flush.messages   log.flush.interval.messages
 *   flush.ms         log.flush.interval.ms    max.message.bytes
 *   min.insync.replicas (same name)                     message.max.bytes
 *   unclean.leader.election.enable (same name) */
typedef struct bk_dyn_cfg_def {
    const char *topic_key;  /* e.g. "retention.ms" */
    const char *broker_key; /* e.g. "log.retention.ms" */
} bk_dyn_cfg_def;

/* The table above (n entries, sorted by topic_key). */
const bk_dyn_cfg_def *bk_dyn_cfg_defs(size_t *n);
/* The broker-level name of a dynamic topic key, or NULL when the key is
 * not one of them. */
const char *bk_dyn_cfg_broker_key(const char *topic_key);
/* The topic key a broker-level dynamic name stands for, or NULL. */
const char *bk_dyn_cfg_topic_key(const char *broker_key);
/* bk_topic_cfg_check for a broker-level dynamic key (the values of
 * /config/brokers/<default> and /config/brokers/<id>): the key must be a
 * broker_key of the table above, its value follows the rules of its
 * topic synonym, and messages name the broker key:
 *   "Invalid value abc for configuration log.retention.ms: Not a number
 *    of type LONG"
 *   "Unknown or non-dynamic broker config name: num.io.threads (dynamic
 *    broker configs: log.flush.interval.messages, ...)" */
int bk_topic_broker_cfg_check(const char *broker_key, const char *value,
                              char *norm, size_t normlen, char *err,
                              size_t errlen);

/* ------------------------ replica assignment ------------------------ */

/* Assigns `partitions` partitions with `rf` replicas each over the
 * brokers (ids in any order, no duplicates), as Kafka's
 * AdminUtils.assignReplicasToBrokers does without racks:
 *   - brokers sorted by id; the first replica of partition p is broker
 *     (start + p) mod n, so leaders go round-robin;
 *   - the other replicas follow the first at a distance of
 *     1 + (shift + j) mod (n - 1) for the j-th follower; shift grows by
 *     one after every n partitions, so followers do not always pair the
 *     same brokers.
 * start and shift are random in [0, n) in Kafka; pass them in (the caller
 * draws them, tests fix them); a negative value means 0.
 * out receives partitions * rf ids: out[p * rf + r].  Returns 0,
 * BK_ERR_INVALID_PARTITIONS (partitions < 1), or
 * BK_ERR_INVALID_REPLICATION_FACTOR (rf < 1, rf > BK_TOPIC_MAX_RF or rf >
 * number of brokers: "replication factor 3 larger than available
 * brokers: 1"). */
int bk_topic_assign(const int32_t *brokers, int nbrokers, int32_t partitions,
                    int rf, int start, int shift, int32_t *out, char *err,
                    size_t errlen);

#endif
