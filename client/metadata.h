/*
 * metadata.h -- the client's picture of the cluster: brokers (id -> host,
 * port) and, for each topic the client uses, its partitions and their
 * leaders, as the latest Metadata response told them.
 *
 * A topic enters the table when the client first produces to it, assigns
 * one of its partitions or asks about it; it stays for the client's life.
 * The producer and consumer hang their per-partition state off the table
 * (bk_tpart.pq / .cp), so a leader lookup and the partition's queues are
 * one pointer apart.  When to refresh is decided by the client (client.c);
 * this module only stores and applies answers.  Client thread only.
 */
#ifndef BK_CLIENT_METADATA_H
#define BK_CLIENT_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/brook.pb-c.h"

struct bk_pq;     /* producer.h */
struct bk_cp;     /* consumer.h */
struct bk_ptopic; /* producer.h */

typedef struct bk_md_broker {
    int32_t id;
    char host[256];
    int port;
} bk_md_broker;

typedef struct bk_tpart {
    int32_t leader;       /* broker id, -1: none known */
    int32_t leader_epoch; /* -1: unknown */
    int err;              /* the partition's BK_ERR_* in the last answer */
    struct bk_pq *pq;     /* producer state, NULL until produced to */
    struct bk_cp *cp;     /* consumer state, NULL unless assigned */
} bk_tpart;

typedef struct bk_topic {
    char *name;        /* owned */
    bool known;        /* a Metadata answer has covered the topic */
    int err;           /* its BK_ERR_* in that answer */
    int32_t nparts;    /* slots in `parts` (>= md_nparts: a consumer
                          may assign one not confirmed yet) */
    int32_t md_nparts; /* partitions in the last answer (0 on error) */
    bk_tpart *parts;   /* owned; grows when partitions are added */
    int32_t *avail;    /* partitions with a leader (for sticky) */
    int32_t navail;
    struct bk_ptopic *pt; /* producer per-topic state, or NULL */
} bk_topic;

typedef struct bk_md {
    bk_md_broker *brokers; /* owned, nbrokers of them */
    size_t nbrokers;
    bk_topic **topics; /* owned */
    size_t ntopics, cap;
    bk_topic *last;   /* lookup cache: the last topic found */
    uint64_t version; /* bumped by every applied answer */
} bk_md;

void bk_md_init(bk_md *md);
/* Frees the table.  The pq/cp/pt pointers must already be released by
 * their owners. */
void bk_md_free(bk_md *md);

/* Kafka's topic name rule: 1..249 of [a-zA-Z0-9._-], not "." or "..". */
bool bk_md_topic_name_valid(const char *name);

/* The topic named so, or NULL. */
bk_topic *bk_md_topic(bk_md *md, const char *name);
/* The topic named so, created (unknown, no partitions) when absent.
 * *created tells which (may be NULL).  NULL on allocation failure. */
bk_topic *bk_md_topic_add(bk_md *md, const char *name, bool *created);

/* The broker with this id, or NULL. */
const bk_md_broker *bk_md_broker_find(const bk_md *md, int32_t id);

/*
 * Applies a Metadata response: replaces the broker list and updates every
 * topic of the table that the answer mentions (topics it does not mention
 * keep their old state).  Partition arrays only grow: Kafka never removes
 * partitions, and a shorter answer is treated as stale.  0 or -BK_ENOMEM.
 */
int bk_md_apply(bk_md *md, const Brook__MetadataResponse *resp);

/* Whether partition p of t has a leader according to the table. */
static inline bool bk_md_part_available(const bk_topic *t, int32_t p)
{
    /* a partition error with a leader (REPLICA_NOT_AVAILABLE: a follower
     * is down) does not stop produce or fetch, as in Kafka's client */
    return p >= 0 && p < t->nparts && t->parts[p].leader >= 0;
}

/* Makes t->parts hold at least n partitions (new ones without leader).
 * 0 or -BK_ENOMEM. */
int bk_md_topic_grow(bk_topic *t, int32_t n);

#endif
