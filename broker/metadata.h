/*
 * metadata.h -- the broker's picture of the cluster as ZooKeeper holds it
 * (DESIGN.md section 5): live brokers (/brokers/ids), topics and their
 * replica assignment (/brokers/topics/<t>), each partition's leader, epoch
 * and ISR (.../partitions/<p>/state), the cluster id and the controller.
 *
 * A bk_md is a plain value.  The ZooKeeper side (broker/zkbroker.c) keeps
 * one on its own thread, updates it as watches fire, and posts a deep copy
 * (bk_md_clone) to the loop, which swaps it in whole: the loop never sees a
 * half-updated picture and never shares memory with the ZooKeeper thread.
 * Metadata requests are answered from the loop's copy.
 *
 * Topics are kept sorted by name and brokers by id (binary search).
 * Not thread-safe; one owner at a time.
 */
#ifndef BK_METADATA_H
#define BK_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bk_md_broker {
    int32_t id;
    char *host; /* owned */
    int32_t port;
    char *rack; /* owned, "" = none */
    /* The registration znode's czxid (Kafka's broker epoch): a broker that
     * restarted and registered again has a new one.  0: unknown. */
    int64_t epoch;
} bk_md_broker;

typedef struct bk_md_part {
    int32_t index;
    int32_t *replicas; /* owned; assignment order (first = preferred) */
    size_t nreplicas;
    bool has_state; /* the state znode exists; the fields below are set */
    int32_t leader; /* -1: none */
    int32_t leader_epoch;
    int32_t controller_epoch;
    int32_t zk_version; /* of the state znode, for conditional writes */
    int32_t *isr;       /* owned */
    size_t nisr;
} bk_md_part;

typedef struct bk_md_topic {
    char *name;        /* owned */
    bk_md_part *parts; /* owned, parts[i].index == i */
    size_t nparts;
    bool deleting; /* listed under /admin/delete_topics */
    /* Topic config overrides (/config/topics/<t>), as stored. */
    char **cfg_keys, **cfg_vals; /* owned, ncfg of each */
    size_t ncfg;
} bk_md_topic;

/* A config entity's key/value pairs (owned strings), e.g. the dynamic
 * broker configs below. */
typedef struct bk_md_cfg {
    char **keys, **vals;
    size_t n;
} bk_md_cfg;

typedef struct bk_md {
    bk_md_broker *brokers; /* sorted by id */
    size_t nbrokers, cap_brokers;
    bk_md_topic *topics; /* sorted by name */
    size_t ntopics, cap_topics;
    char *cluster_id;      /* owned, "" when unknown */
    int32_t controller_id; /* -1: none */
    /* True once a full read of ZooKeeper went into this picture: only then
     * may the broker delete local logs of topics that are absent. */
    bool complete;
    /* Dynamic broker configs (broker/dynconfig.h), broker-level names
     * ("log.retention.ms"), values already checked: the cluster default
     * entity /config/brokers/<default> and this broker's own
     * /config/brokers/<id>. */
    bk_md_cfg dyn_default, dyn_broker;
} bk_md;

/* An empty picture.  NULL on allocation failure. */
bk_md *bk_md_new(void);
void bk_md_free(bk_md *md);
/* A deep copy, or NULL. */
bk_md *bk_md_clone(const bk_md *md);

const bk_md_broker *bk_md_broker_find(const bk_md *md, int32_t id);
const bk_md_topic *bk_md_topic_find(const bk_md *md, const char *name);
/* NULL when the topic or the partition does not exist. */
const bk_md_part *bk_md_part_find(const bk_md *md, const char *topic,
                                  int32_t partition);

/* Mutators (0 or -BK_ENOMEM). */
int bk_md_set_broker(bk_md *md, int32_t id, const char *host, int32_t port,
                     const char *rack);
void bk_md_remove_broker(bk_md *md, int32_t id);
/* Sets a registered broker's epoch (no-op for an unknown id). */
void bk_md_set_broker_epoch(bk_md *md, int32_t id, int64_t epoch);
/* Sets the brokers to exactly ids[0..n): drops the others (their data
 * must then be set with bk_md_set_broker). */
void bk_md_retain_brokers(bk_md *md, const int32_t *ids, size_t n);
/* Creates or replaces a topic's assignment: nparts partitions,
 * replicas[i] (nrep[i] ids) for partition i.  Partition states of
 * partitions that still exist are kept. */
int bk_md_set_topic(bk_md *md, const char *name, size_t nparts,
                    int32_t *const *replicas, const size_t *nrep);
void bk_md_remove_topic(bk_md *md, const char *name);
/* Keeps only the named topics. */
void bk_md_retain_topics(bk_md *md, char *const *names, size_t n);
void bk_md_set_deleting(bk_md *md, const char *name, bool deleting);
/* Replaces a topic's config overrides with keys/vals[0..n) (copied).
 * 0, -BK_ENOENT (no such topic), -BK_ENOMEM. */
int bk_md_set_topic_config(bk_md *md, const char *name, const char *const *keys,
                           const char *const *vals, size_t n);
/* The override of key for topic t, or NULL. */
const char *bk_md_topic_config(const bk_md_topic *t, const char *key);
/* Replaces c's pairs with keys/vals[0..n) (copied).  0 or -BK_ENOMEM
 * (c unchanged). */
int bk_md_cfg_set(bk_md_cfg *c, const char *const *keys,
                  const char *const *vals, size_t n);
/* The value of key in c, or NULL. */
const char *bk_md_cfg_get(const bk_md_cfg *c, const char *key);
/* Sets a partition's state (has_state becomes true).  0, -BK_ENOENT when
 * the partition does not exist, -BK_ENOMEM. */
int bk_md_set_state(bk_md *md, const char *topic, int32_t partition,
                    int32_t leader, int32_t leader_epoch,
                    int32_t controller_epoch, int32_t zk_version,
                    const int32_t *isr, size_t nisr);
/* Forgets a partition's state (the znode is gone). */
void bk_md_clear_state(bk_md *md, const char *topic, int32_t partition);
int bk_md_set_cluster_id(bk_md *md, const char *id);

/* Which of two partition states is newer: leader_epoch first, then the
 * state znode's zk_version (an ISR change keeps the epoch and bumps the
 * version).  > 0 when a is newer, 0 when equal, < 0 when older; a state
 * that is absent (!has_state) is older than any present one. */
int bk_md_state_cmp(const bk_md_part *a, const bk_md_part *b);

/* The merge of the two ways a broker learns partition states: the
 * ZooKeeper worker posts whole pictures (md), which may be older than
 * states a controller request (LeaderAndIsr / UpdateMetadata) already
 * brought; those wait in `pending` (a picture holding only such states).
 * Per partition, the newer state wins: a pending state newer than md's
 * is copied into md; one md has caught up with (same or newer), or
 * whose partition md no longer has (topic deleted), is dropped from
 * pending, as are topics of pending left without states.  Returns the
 * number of states copied into md, or -BK_ENOMEM (md then holds what was
 * merged so far). */
int bk_md_merge_pending(bk_md *md, bk_md *pending);

#endif
