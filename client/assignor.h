/*
 * assignor.h -- the client half of consumer groups (DESIGN.md section 9):
 * what a member says in JoinGroup, what the leader answers in SyncGroup,
 * and the partition assignors the leader runs in between.
 *
 * The coordinator never looks inside these bytes (protocol type
 * "consumer"); they use Kafka's classic consumer-protocol encoding so that a
 * Kafka-wire listener could later pass them through unchanged.  Big-endian;
 * string = int16 length + bytes; bytes = int32 length + bytes (-1: null);
 * array = int32 count + elements.
 *
 *   Subscription (JoinGroupRequestProtocol.metadata)
 *     int16 version
 *     [string] topics
 *     bytes user_data                      (nullable)
 *     [topic string, [int32] partitions]   owned_partitions   v1+
 *     int32 generation_id                  (-1: unknown)      v2+
 *     string rack_id                       (nullable)         v3+
 *
 *   Assignment (SyncGroupRequestAssignment.assignment)
 *     int16 version                        (v1..v3 add nothing to v0)
 *     [topic string, [int32] partitions]   assigned_partitions
 *     bytes user_data                      (nullable)
 *
 * Decoding goes through the checked readers only: a malformed blob is an
 * error whose message names the field and byte offset, never a crash, and
 * a count is checked against the bytes left before anything is allocated.
 * A version above the highest one known is read as the highest one and the
 * bytes after it are ignored (Kafka's rule, so newer clients can join);
 * for known versions trailing bytes are an error.
 *
 * Assignors ("range", "roundrobin", "sticky") are pure functions of the
 * members' subscriptions and the partition counts: the same input (in any
 * order) gives the same output.  Members are ordered as Kafka's
 * AbstractPartitionAssignor.MemberInfo orders them: static members (with a
 * group.instance.id, KIP-345) first by instance id, then dynamic members by
 * member id (byte order).  Topics that no partition count is given for are
 * ignored (unknown to the metadata).
 *
 * Everything here is pure and keeps no global state: any thread, as long as
 * one object is used by one thread at a time.
 */
#ifndef BK_ASSIGNOR_H
#define BK_ASSIGNOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Highest versions this code reads and writes in full. */
#define BK_ASG_SUBSCRIPTION_VERSION_MAX 3
#define BK_ASG_ASSIGNMENT_VERSION_MAX   3

/* Partitions of one topic. */
typedef struct bk_asg_tp {
    char *topic;    /* NUL-terminated topic name */
    int32_t *parts; /* partition ids, nparts of them */
    int32_t nparts;
} bk_asg_tp;

/*
 * A member's subscription.  After bk_asg_subscription_decode() the struct
 * owns every pointer (bk_asg_subscription_clear() frees them); for encoding
 * the caller may point the fields at memory it owns.
 */
typedef struct bk_asg_subscription {
    int16_t version; /* 0..3 to encode; as read after decoding */
    char **topics;   /* subscribed topic names */
    int32_t ntopics;
    uint8_t *user_data;    /* opaque to Brook */
    int32_t user_data_len; /* -1: null */
    bk_asg_tp *owned;      /* partitions owned in the last generation, v1+ */
    int32_t nowned;
    int32_t generation; /* generation of `owned`, v2+; -1: unknown */
    char *rack;         /* client.rack, v3+; NULL: null */
} bk_asg_subscription;

/* A member's assignment; ownership as for bk_asg_subscription. */
typedef struct bk_asg_assignment {
    int16_t version; /* 0..3 to encode (same fields); as read */
    bk_asg_tp *tps;  /* assigned partitions by topic */
    int32_t ntps;
    uint8_t *user_data;
    int32_t user_data_len; /* -1: null */
} bk_asg_assignment;

/* Empty subscription: version 1, no topics, null user data and rack,
 * generation -1. */
void bk_asg_subscription_init(bk_asg_subscription *s);
/* Frees what a decode allocated and re-initialises s.  Only for structs
 * that own their pointers (decoded ones). */
void bk_asg_subscription_clear(bk_asg_subscription *s);
/* Empty assignment: version 0, no partitions, null user data. */
void bk_asg_assignment_init(bk_asg_assignment *a);
/* As bk_asg_subscription_clear(), for assignments (and plan entries). */
void bk_asg_assignment_clear(bk_asg_assignment *a);

/*
 * Appends the encoding of s (at s->version; fields the version lacks are
 * left out, as Kafka does) to out.  0, -BK_EINVAL (version out of range, a
 * NULL or over-long string, a negative count) with a message in err, or
 * -BK_ENOMEM (out failed).
 */
int bk_asg_subscription_encode(const bk_asg_subscription *s, bk_buf *out,
                               char *err, size_t errlen);
/*
 * Decodes data[0..len) into *s (initialised here; on success the caller
 * owns it and calls bk_asg_subscription_clear()).  0, or -BK_EINVAL with
 * a message naming the field and byte offset, or -BK_ENOMEM; on failure *s
 * is left empty.
 */
int bk_asg_subscription_decode(const void *data, size_t len,
                               bk_asg_subscription *s, char *err,
                               size_t errlen);

/* Same pair for assignments.  Decoding zero bytes gives an empty
 * assignment: the coordinator sends that to members the leader gave
 * nothing to. */
int bk_asg_assignment_encode(const bk_asg_assignment *a, bk_buf *out, char *err,
                             size_t errlen);
int bk_asg_assignment_decode(const void *data, size_t len, bk_asg_assignment *a,
                             char *err, size_t errlen);

/* ----------------------------- assignors ----------------------------- */

/* One group member as the leader sees it in JoinGroup's response. */
typedef struct bk_asg_member {
    const char *member_id;   /* unique, not NULL */
    const char *instance_id; /* group.instance.id; NULL: dynamic member */
    bk_asg_subscription sub; /* not modified; may be a decoded one */
} bk_asg_member;

/* Partition count of a topic from the metadata. */
typedef struct bk_asg_topic {
    const char *name;
    int32_t nparts; /* >= 0 */
} bk_asg_topic;

/* An assignor's result: assign[i] is for members[i] of the input.  Topics
 * are in name order, partitions ascending, version 0, null user data. */
typedef struct bk_asg_plan {
    bk_asg_assignment *assign;
    int32_t nmembers;
} bk_asg_plan;

/*
 * An assignor: computes *out (caller frees it with bk_asg_plan_free())
 * from members[0..nmembers) and topics[0..ntopics).  0, -BK_EINVAL (NULL
 * or duplicate member id, duplicate topic, negative partition count, more
 * than INT32_MAX partitions) with a message, or -BK_ENOMEM.
 *
 *  - range: per topic, its subscribers in member order split the
 *    partitions into contiguous ranges; with n partitions and m
 *    subscribers each gets n/m and the first n%m one more.
 *  - roundrobin: every subscribed topic-partition in (topic, partition)
 *    order is dealt to the members in member order, cyclically, skipping
 *    members not subscribed to its topic.
 *  - sticky: balanced and sticky, for eager rebalancing.  Balanced: no
 *    partition is held by a member while another member subscribed to its
 *    topic holds two or more fewer partitions (so members with the same
 *    subscriptions differ by at most one).  Sticky: an owned partition
 *    (sub.owned) stays where it is unless balance requires a move; when
 *    all members have the same subscriptions the number of partitions that
 *    change owner is the least possible.  A partition claimed by several
 *    members goes to the claim with the highest generation, between equal
 *    generations to the first member in member order.
 *
 * The assignors read sub.topics, sub.owned and sub.generation; user data
 * is not used.  So for sticky to be sticky a member must send the
 * partitions of its last assignment as owned_partitions (v1+) and that
 * assignment's generation (v2+) even though, rebalancing eagerly, it
 * stops consuming them before it joins.  (Kafka's eager StickyAssignor
 * carries the same facts in its own user-data format, which is not read
 * here.)
 */
typedef int (*bk_asg_fn)(const bk_asg_member *members, int32_t nmembers,
                         const bk_asg_topic *topics, int32_t ntopics,
                         bk_asg_plan *out, char *err, size_t errlen);

int bk_asg_range(const bk_asg_member *members, int32_t nmembers,
                 const bk_asg_topic *topics, int32_t ntopics, bk_asg_plan *out,
                 char *err, size_t errlen);
int bk_asg_roundrobin(const bk_asg_member *members, int32_t nmembers,
                      const bk_asg_topic *topics, int32_t ntopics,
                      bk_asg_plan *out, char *err, size_t errlen);
int bk_asg_sticky(const bk_asg_member *members, int32_t nmembers,
                  const bk_asg_topic *topics, int32_t ntopics, bk_asg_plan *out,
                  char *err, size_t errlen);

/* The assignor of a protocol name ("range", "roundrobin", "sticky"), or
 * NULL when unknown. */
bk_asg_fn bk_asg_find(const char *name);

/* Frees a plan's assignments; p may be empty (zeroed). */
void bk_asg_plan_free(bk_asg_plan *p);

#endif
