/*
 * offsets.h -- committed offsets of consumer groups, kept in ZooKeeper
 * (DESIGN.md sections 5 and 9): the store behind OffsetCommit /
 * OffsetFetch in the group coordinator and behind `brookctl groups`.
 *
 * LAYOUT.  Kafka's old ZooKeeper consumer layout, one persistent znode per
 * partition:
 *   /consumers/<group>/offsets/<topic>/<partition>
 * Kafka's old consumers wrote the offset there as bare decimal text
 * ("12345").  Brook also keeps the commit's metadata string and time, so
 * it writes a small JSON object instead, still readable in zkCli:
 *   {"version":1,"offset":12345,"metadata":"...","timestamp":1700000000000}
 * (timestamp: ms since the epoch, when the commit was made).  The decoder
 * reads both forms: a bare decimal offset (optionally surrounded by
 * blanks, as a hand-written zkCli `set` may leave) gives metadata "" and
 * the znode's mtime as timestamp.  Keeping the offset in the same znode
 * (rather than metadata in a sibling) is what lets one setData per
 * partition carry a whole commit.  Unknown extra JSON fields are ignored
 * (room for a later version); a version below 1 is refused.
 *
 * NAMES.  Topics follow Kafka's rules (coordinator/topic.h).  Group ids
 * are free-form in Kafka; here they must also be usable as one ZooKeeper
 * path component: 1..BK_OFF_GROUP_MAX bytes of valid UTF-8, no '/', not
 * "." or "..", and none of the characters ZooKeeper refuses in paths
 * (U+0000-U+001F, U+007F-U+009F, U+D800-U+F8FF, U+FFF0-U+FFFF).
 *
 * COMMIT.  bk_off_commit() writes every partition of one commit in ONE
 * zoo_multi, so a commit is all-or-nothing: setData for znodes that
 * exist, create for those that do not (with their missing parents,
 * top-down, in the same multi).  To know which is which without a read
 * per partition, the caller keeps a bk_off_cache of paths known to exist
 * and the first attempt guesses from it:
 *   - path cached                      -> setData;
 *   - path not cached, topic cached    -> create (a partition new to the
 *                                         group);
 *   - topic not cached (cold cache)    -> setData (after a coordinator
 *                                         restart or failover the znodes
 *                                         usually exist already).
 * When the guess is wrong (NONODE / NODEEXISTS) the commit probes every
 * path it needs with pipelined one-op check multis (one round trip),
 * corrects the cache and tries again; ZooKeeper's multi wrote nothing
 * for the failed attempt.  A race with another writer (e.g. a concurrent
 * `groups delete`) gets one more probe and attempt.  So the steady state
 * is one round trip per commit, and a wrong guess costs two more.
 *
 * A commit whose requests would exceed BK_OFF_MULTI_MAX_BYTES (well below
 * ZooKeeper's jute.maxbuffer, 1 MiB by default) is split into several
 * multis, sent pipelined (still about one round trip): each multi is
 * atomic, the commit as a whole is NOT (info->atomic is false; a failure
 * may leave part of it written).  With paths of ~40 bytes and short
 * metadata that takes well over a thousand partitions.
 *
 * Validation happens before anything is sent: an invalid group, topic,
 * partition (< 0), offset (< 0), metadata (over BK_OFF_METADATA_MAX bytes,
 * Kafka's offset.metadata.max.bytes default, or not UTF-8) or a
 * partition listed twice fails the whole commit with -BK_EINVAL,
 * info->bad_entry naming the entry, and writes nothing.
 *
 * Return codes: 0; -BK_EINVAL (bad argument, or ZooKeeper refused a path,
 * e.g. a parent that is ephemeral); -BK_EIO (connection loss or session
 * gone: the outcome of a write is unknown, the caller may retry the same
 * commit, which is idempotent); -BK_ENOENT / -BK_EEXIST (other writers
 * kept changing the tree during every attempt); -BK_ENOMEM; -BK_ECORRUPT
 * (fetch: stored data does not decode, per partition).
 *
 * THREADS.  Every function blocks on ZooKeeper: call from any thread but
 * ZooKeeper's completion thread (see zk.h), e.g. the coordinator's
 * ZooKeeper worker, never the broker's event loop.  A bk_off_cache
 * belongs to one thread at a time (no locking inside).
 */
#ifndef BK_OFFSETS_H
#define BK_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "coordinator/zk.h"

/* Bytes of a group id (Brook's bound; Kafka has none). */
#define BK_OFF_GROUP_MAX 249
/* Kafka's offset.metadata.max.bytes default. */
#define BK_OFF_METADATA_MAX 4096
/* Long enough for any offset path of a valid group and topic. */
#define BK_OFF_PATH_MAX 560
/* Estimated request bytes above which a commit is split (see COMMIT). */
#define BK_OFF_MULTI_MAX_BYTES (512 * 1024)

/* ------------------------------ names ------------------------------ */

/* 0, or -BK_EINVAL with err saying what is wrong with the group id. */
int bk_off_validate_group(const char *group, char *err, size_t errlen);

/* java.lang.String#hashCode of the UTF-8 string s, over its UTF-16 code
 * units (an invalid UTF-8 byte counts as U+FFFD, as Java's decoder). */
int32_t bk_off_java_hash(const char *s);

/* The __consumer_offsets partition of group among nparts (> 0), as Kafka
 * places groups: Utils.abs(groupId.hashCode) % nparts, where abs maps
 * Integer.MIN_VALUE to 0.  The broker (broker/gcoord.c) and brookctl
 * groups both use this. */
int32_t bk_off_group_partition(const char *group, int32_t nparts);

/* Path builders: write into out (BK_OFF_PATH_MAX bytes); 0 or
 * -BK_ETOOBIG.  Names are not validated here.
 *   /consumers/<g>   /consumers/<g>/offsets   .../offsets/<t>   .../<t>/<p> */
int bk_off_path_group(char *out, const char *group);
int bk_off_path_offsets(char *out, const char *group);
int bk_off_path_topic(char *out, const char *group, const char *topic);
int bk_off_path_partition(char *out, const char *group, const char *topic,
                          int32_t partition);

/* ------------------------------ payload ------------------------------ */

/* One committed offset as stored. */
typedef struct bk_off_value {
    int64_t offset;    /* >= 0 */
    char *metadata;    /* malloc'd, NUL-terminated ("" when none) */
    int64_t timestamp; /* ms since the epoch; -1 when unknown */
    int version;       /* 0: Kafka's bare decimal; else the JSON version */
} bk_off_value;

/* Appends the version-1 JSON for one offset.  metadata NULL means "".
 * 0, -BK_EINVAL (metadata not UTF-8) or -BK_ENOMEM. */
int bk_off_encode(int64_t offset, const char *metadata, int64_t timestamp_ms,
                  bk_buf *out);
/* Decodes untrusted bytes (JSON or bare decimal, see LAYOUT) into *out
 * (free its metadata with bk_off_value_free()).  A bare decimal gets
 * timestamp -1 (the fetch functions put the znode's mtime there).
 * 0, -BK_ECORRUPT with err naming the problem, or -BK_ENOMEM. */
int bk_off_decode(const void *data, size_t len, bk_off_value *out, char *err,
                  size_t errlen);
void bk_off_value_free(bk_off_value *v);

/* ------------------------------ cache ------------------------------ */

/* Paths known to exist, a hint for bk_off_commit (see COMMIT).  Bounded:
 * past max_paths entries it forgets everything and learns again.  A wrong
 * entry costs a retry, never a wrong result. */
typedef struct bk_off_cache bk_off_cache;

/* max_paths 0: 100000.  NULL when out of memory. */
bk_off_cache *bk_off_cache_new(size_t max_paths);
void bk_off_cache_free(bk_off_cache *c);
/* Number of cached paths. */
size_t bk_off_cache_size(const bk_off_cache *c);
/* Forgets every path of group (e.g. when this coordinator takes the group
 * over from another broker).  c may be NULL. */
void bk_off_cache_forget_group(bk_off_cache *c, const char *group);

/* ------------------------------ commit ------------------------------ */

typedef struct bk_off_entry {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *metadata; /* NULL: "" */
} bk_off_entry;

/* What a commit did (all filled on every return). */
typedef struct bk_off_commit_info {
    int multis;      /* multis of the last write attempt (1 unless split) */
    int attempts;    /* write attempts (1 in the steady state) */
    int round_trips; /* ZooKeeper round trips: attempts + probes */
    bool atomic;     /* the commit fits one multi */
    int bad_entry;   /* entry refused by validation or by ZooKeeper; -1 */
} bk_off_commit_info;

/* Stores e[0..n) for group as one commit (see COMMIT), each with commit
 * time timestamp_ms (<= 0: now).  cache may be NULL (no hint: setData is
 * tried first).  info and err may be NULL.  n == 0 is a no-op. */
int bk_off_commit(bk_zk *zk, bk_off_cache *cache, const char *group,
                  const bk_off_entry *e, size_t n, int64_t timestamp_ms,
                  bk_off_commit_info *info, char *err, size_t errlen);

/* ------------------------------ fetch ------------------------------ */

typedef struct bk_off_tp {
    const char *topic;
    int32_t partition;
} bk_off_tp;

typedef struct bk_off_committed {
    char *topic; /* owned by the list */
    int32_t partition;
    int64_t offset;    /* -1: nothing committed (or error) */
    char *metadata;    /* owned; "" when none */
    int64_t timestamp; /* commit time, ms; -1 when none */
    int error;         /* 0, or -BK_ECORRUPT: the znode does not decode */
} bk_off_committed;

typedef struct bk_off_list {
    bk_off_committed *v;
    size_t n;
    size_t ncorrupt; /* entries with error != 0 */
} bk_off_list;

void bk_off_list_free(bk_off_list *l);

/* The committed offsets of tps[0..n) of group, in the same order.  A
 * partition without a committed offset gets offset -1; one whose znode
 * does not decode gets error -BK_ECORRUPT (and err, when not NULL, the
 * first such problem with its path) while the others are still
 * returned.  The reads are sequential (zk.h has no pipelined read yet):
 * one round trip per partition.  0, -BK_EINVAL (bad group or topic name),
 * -BK_EIO, -BK_ENOMEM; *out is empty on failure. */
int bk_off_fetch(bk_zk *zk, const char *group, const bk_off_tp *tps, size_t n,
                 bk_off_list *out, char *err, size_t errlen);

/* Every committed offset of group (all topics, or only `topic` when not
 * NULL), sorted by topic then partition.  Child znodes that are not
 * partition numbers are skipped.  Corrupt entries as for bk_off_fetch.
 * No group: an empty list. */
int bk_off_fetch_all(bk_zk *zk, const char *group, const char *topic,
                     bk_off_list *out, char *err, size_t errlen);

/* ------------------------------ admin ------------------------------ */

/* Names of the groups under /consumers (sorted; none: empty), including
 * ones whose ids this module would refuse (written by other tools).
 * Free with bk_zk_strings_free(). */
int bk_off_list_groups(bk_zk *zk, bk_zk_strings *out);

/* Deletes /consumers/<group> and everything below it (offsets, and any
 * ids/owners an old Kafka consumer left).  Whether the group may be
 * deleted (no live members) is the caller's check.  Not atomic for a big
 * group: deletes go in pipelined multis, children first; a commit
 * racing with it is retried over (a few rounds) and then -BK_EEXIST.
 * -BK_ENOENT when there is no such group.  cache (may be NULL) forgets
 * the group. */
int bk_off_delete_group(bk_zk *zk, bk_off_cache *cache, const char *group,
                        char *err, size_t errlen);

/* Deletes the committed offsets of one topic of group
 * (/consumers/<group>/offsets/<topic> and below), as above.  -BK_ENOENT
 * when the group has none for it. */
int bk_off_delete_offsets(bk_zk *zk, bk_off_cache *cache, const char *group,
                          const char *topic, char *err, size_t errlen);

#endif
