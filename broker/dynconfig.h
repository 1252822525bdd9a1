/*
 * dynconfig.h -- the broker's view of dynamic configuration (issue #6):
 * which value of each dynamic topic key (coordinator/topic.h,
 * bk_dyn_cfg_defs: retention.ms, retention.bytes, segment.bytes,
 * segment.ms, flush.messages, flush.ms, max.message.bytes,
 * min.insync.replicas, unclean.leader.election.enable) a broker applies,
 * and where it comes from.
 *
 * Precedence, highest first (Kafka's, with its DescribeConfigs source
 * numbers, proto/protocol.h BK_CFG_SRC_*):
 *   1 TOPIC_CONFIG                   /config/topics/<t>, topic key name
 *   2 DYNAMIC_BROKER_CONFIG          /config/brokers/<this broker's id>
 *   3 DYNAMIC_DEFAULT_BROKER_CONFIG  /config/brokers/<default>
 *   4 STATIC_BROKER_CONFIG           broker.properties (set there)
 *   5 DEFAULT_CONFIG                 built in (not set anywhere)
 * Layers 2-4 use the broker-level synonyms (log.retention.ms,
 * message.max.bytes, ...).
 *
 * Values from ZooKeeper are checked when they are read (bk_dyn_sanitize,
 * on the ZooKeeper worker): an invalid one is ignored with a warning
 * naming the key and the znode, as if that znode did not set the key, so
 * the next layer applies -- except where a looser layer could lose data:
 * an invalid retention.ms / retention.bytes (log.retention.*) stands as
 * -1 (keep everything) and an invalid unclean.leader.election.enable as
 * false.  A znode whose JSON does not decode sets nothing.
 * What a broker applies thus depends only on what ZooKeeper holds, not on
 * what the broker read before: every replica of a partition, restarted or
 * not, applies the same settings.  The layers kept in the cluster picture
 * (broker/metadata.h: topic overrides, md->dyn_default, md->dyn_broker)
 * hold only values that parse and that the logs accept, and applying them
 * (bk_dyn_log_config, bk_dyn_unclean) cannot fail.
 *
 * Pure functions over their arguments, no I/O except log lines; any
 * thread (each caller owns the picture it passes).
 */
#ifndef BK_DYNCONFIG_H
#define BK_DYNCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/brokercfg.h"
#include "broker/log.h"
#include "broker/metadata.h"
#include "coordinator/zkcodec.h"

/* Room for the dynamic key table (coordinator/topic.h has 9 today). */
#define BK_DYN_MAX_KEYS 16

/* The static layers (4 and 5) of every dynamic key, from broker.properties,
 * in bk_dyn_cfg_defs order. */
typedef struct bk_dyn_static {
    size_t n;
    char value[BK_DYN_MAX_KEYS][24]; /* Kafka's spelling: "604800000",
                                        "true", "9223372036854775807" */
    bool set[BK_DYN_MAX_KEYS];       /* set in broker.properties (4), else
                                        built in (5) */
} bk_dyn_static;

/* Fills *out from a loaded configuration (cfg->raw tells what was set;
 * retention.ms counts as set when any of log.retention.{ms,minutes,hours}
 * is, segment.ms for log.roll.{ms,hours}). */
void bk_dyn_static_from_bcfg(const bk_bcfg *cfg, bk_dyn_static *out);

/* One layer's value of a key. */
typedef struct bk_dyn_value {
    const char *name;  /* the key's name in that layer ("retention.ms" in a
                          topic, "log.retention.ms" in the others) */
    const char *value; /* borrowed from the picture or the bk_dyn_static */
    int source;        /* BK_CFG_SRC_* */
} bk_dyn_value;

/* The layers that set topic_key (a topic key, e.g. "retention.ms"), highest
 * precedence first, into out[0..5): the topic's override (t may be NULL:
 * no topic layer), md's dyn_broker and dyn_default (md may be NULL), then
 * the static layer (always there).  out[0] is the effective value.
 * Returns the count (>= 1), or 0 when topic_key is not a dynamic key. */
size_t bk_dyn_layers(const bk_md *md, const bk_md_topic *t,
                     const bk_dyn_static *st, const char *topic_key,
                     bk_dyn_value out[5]);

/* The highest dynamic layer (1-3) that sets topic_key, or NULL (then the
 * static value applies); *source gets its BK_CFG_SRC_* (may be NULL). */
const char *bk_dyn_lookup(const bk_md *md, const bk_md_topic *t,
                          const char *topic_key, int *source);

/* Checks value for a dynamic topic key: Kafka's type and range
 * (bk_topic_cfg_check) and what Brook's logs accept (segment.bytes at
 * least 1024, max.message.bytes at least one batch header).  Other known
 * topic keys get Kafka's check alone.  0 with the normalized value in norm
 * (normlen bytes), or -BK_EINVAL with a message for the operator in err;
 * -BK_ENOENT for a key Brook does not know. */
int bk_dyn_check(const char *topic_key, const char *value, char *norm,
                 size_t normlen, char *err, size_t errlen);

typedef enum bk_dyn_entity {
    BK_DYN_TOPIC,  /* /config/topics/<t>: topic key names */
    BK_DYN_BROKER, /* /config/brokers/<default> or <id>: broker names */
} bk_dyn_entity;

/* What a broker keeps of an entity it read from the znode `path`: each
 * pair of `in` that checks out, normalized; an invalid value is logged
 * (key, value, znode, why) and dropped, as if the znode did not set the
 * key (retention and unclean election: replaced by -1 / false).  For BK_DYN_BROKER, a key that is not a dynamic broker key is
 * logged and dropped; for BK_DYN_TOPIC, keys Brook does not know are kept
 * as they are (they change nothing).  The result depends on `in` alone,
 * never on what the broker had before.  *out must be empty; it is filled
 * even on -BK_ENOMEM (free it then too).  Returns the number of pairs
 * ignored, or -BK_ENOMEM. */
int bk_dyn_sanitize(bk_dyn_entity kind, const char *path,
                    const bk_zkc_config *in, bk_zkc_config *out);

/* The log settings and min.insync.replicas for topic t: base and
 * base_min_isr (broker.properties) with the dynamic layers of each key
 * applied, and t's index.interval.bytes.  md and t may be NULL. */
void bk_dyn_log_config(const bk_md *md, const bk_md_topic *t,
                       const bk_log_config *base, int base_min_isr,
                       bk_log_config *out, int *min_isr);

/* unclean.leader.election.enable for topic t (NULL: the broker's value):
 * the dynamic layers, else static_default (broker.properties). */
bool bk_dyn_unclean(const bk_md *md, const bk_md_topic *t, bool static_default);

#endif
