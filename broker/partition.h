/*
 * partition.h -- the broker's partitions: the table of topic-partitions
 * this broker holds a log for, their state as ZooKeeper says (leader,
 * epoch, ISR), and the log directories they live in (Kafka's LogManager
 * and the log side of its ReplicaManager; leader/follower replication
 * state lives in broker/repl.h and broker/fetcher.h).
 *
 * Log directories.  Each of log.dirs holds <topic>-<p>/ partition
 * directories (broker/log.h), the broker-level checkpoints
 * recovery-point-offset-checkpoint, log-start-offset-checkpoint and
 * replication-offset-checkpoint (high watermarks) (broker/checkpoint.h),
 * Kafka's meta.properties (version, broker.id, cluster.id: a log dir
 * written by another broker or cluster is refused) and a .lock file held
 * with flock() while the broker runs, so two processes never share a log
 * dir.  A new partition goes to the dir with the fewest partitions
 * (Kafka's rule).  A deleted partition's directory is first renamed to
 * <topic>-<p>.<ms>-delete (atomic), then removed;
 * leftovers of a crash in between are removed at the next start.
 *
 * Start-up: bk_parts_open_all() opens every partition directory found,
 * recovering each log from its checkpointed recovery point (everything
 * after it is CRC-checked and a torn tail cut), each high watermark from
 * its checkpoint (0 without one; kept within the log start and end).  Clean
 * shutdown: bk_parts_flush_all() then bk_parts_checkpoint() and
 * bk_parts_checkpoint_hw(), so the next start has nothing to verify and
 * consumers see no more than the ISR had.
 *
 * Threading: the loop thread only (blocking file I/O).
 */
#ifndef BK_PARTITION_H
#define BK_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/log.h"
#include "broker/metadata.h"

typedef struct bk_part bk_part;
typedef struct bk_parts bk_parts;
struct bk_fetcher;

/* What a leader knows of one follower (broker/repl.h keeps it). */
typedef struct bk_part_follower {
    int32_t id;
    int64_t leo;               /* from its last fetch; -1: not fetched yet
                                  under this leadership */
    int64_t last_caught_up_ms; /* last time its LEO reached ours (loop ms) */
    int64_t last_fetch_ms;     /* loop ms of its last fetch (0: none) */
    int64_t leo_at_last_fetch; /* our LEO at that fetch */
} bk_part_follower;

struct bk_part {
    char *topic; /* owned */
    int32_t index;
    bk_log *log;
    size_t dir; /* index in log.dirs */
    /* From the partition state in ZooKeeper. */
    bool assigned;  /* this broker is in the replica list */
    bool is_leader; /* leader == this broker */
    int32_t leader; /* -1: none */
    int32_t leader_epoch;
    int32_t *isr; /* owned */
    size_t nisr;
    int32_t *replicas; /* owned: the assignment */
    size_t nreplicas;
    int32_t zk_version;       /* of the state znode (conditional ISR writes) */
    int32_t controller_epoch; /* of the state znode, written back as is */
    bool isr_pending;         /* an ISR change of ours is being written */
    /* High watermark: every offset below it is on every ISR member
     * (broker/repl.h moves it; it never decreases while leader). */
    int64_t hw;
    /* Replication (broker/repl.h).  Leader: one entry per other replica.
     * Follower: the fetcher pulling from the leader, and the leader epoch
     * of the fetch in flight. */
    bk_part_follower *followers; /* owned */
    size_t nfollowers;
    int32_t followers_epoch; /* leader epoch the entries belong to */
    struct bk_fetcher *fetcher;
    int32_t fetch_epoch;
    int32_t follow_epoch; /* leader epoch we last became follower at */
    bool truncating;      /* must truncate by leader epoch (KIP-101)
                             before fetching */
    size_t nproduces;     /* delayed acks=all produces waiting on it */
    /* Effective settings: the broker's defaults with the dynamic configs
     * (topic overrides, /config/brokers/...) applied (broker/dynconfig.h). */
    bk_log_config cfg;
    int min_isr; /* min.insync.replicas */
    /* Delayed fetches waiting for appends here (broker/fetchwait.h). */
    void *waiters;
    /* The topic's traffic counters (broker/metrics.h), resolved on first
     * use; NULL until then. */
    struct bk_mtopic *mtopic;
    bk_part *hnext;       /* hash chain */
    bk_part *prev, *next; /* list of all partitions */
};

/* Told when a partition's state changes or it is about to be removed, so
 * that waiting fetches are answered. */
typedef void bk_parts_change_fn(void *arg, bk_part *p, bool removing);

typedef struct bk_parts_opts {
    char *const *dirs; /* log.dirs (copied) */
    size_t ndirs;
    const bk_log_config *log_cfg;
    int32_t broker_id;
    int min_isr; /* broker default min.insync.replicas */
    bk_parts_change_fn *on_change;
    void *on_change_arg;
} bk_parts_opts;

int bk_parts_new(const bk_parts_opts *o, bk_parts **out);
/* Closes every log (no flush) and frees the table; releases the locks. */
void bk_parts_free(bk_parts *ps);

/* Creates the log dirs if needed, locks them (flock on .lock) and checks
 * meta.properties' broker.id.  0, or -BK_EIO / -BK_EEXIST (locked by
 * another process) / -BK_ECONFIG (another broker's dir), reason logged. */
int bk_parts_lock_dirs(bk_parts *ps);
/* Checks meta.properties' cluster.id against ZooKeeper's and writes the
 * file where it is missing.  0 or -BK_ECONFIG (logged), -BK_EIO. */
int bk_parts_check_cluster(bk_parts *ps, const char *cluster_id);

/* Opens and recovers every partition found in the log dirs.  A partition
 * that cannot be opened is logged and skipped (its directory is left
 * alone).  0 or -BK_ENOMEM. */
int bk_parts_open_all(bk_parts *ps);

bk_part *bk_parts_find(const bk_parts *ps, const char *topic, int32_t p);
/* First/next partition, in no particular order (NULL at the end). */
bk_part *bk_parts_first(const bk_parts *ps);
size_t bk_parts_count(const bk_parts *ps);

/* Applies a cluster picture: creates logs for partitions assigned to this
 * broker, updates leader/epoch/ISR and the effective configs (segment.bytes,
 * segment.ms, retention.ms, retention.bytes, index.interval.bytes,
 * max.message.bytes, flush.messages, flush.ms, min.insync.replicas: topic
 * override > dynamic broker config > broker.properties, see
 * broker/dynconfig.h), and, when md->complete, deletes the logs of topics that no
 * longer exist (or whose partition is gone).
 * Calls on_change for every partition whose state changed or that goes.
 * Returns the number of logs that could not be created (logged). */
int bk_parts_apply(bk_parts *ps, const bk_md *md);

/* Writes both checkpoint files of every log dir.  0 or -BK_EIO. */
int bk_parts_checkpoint(bk_parts *ps);
/* Writes replication-offset-checkpoint (every partition's high watermark)
 * in every log dir (Kafka writes it every
 * replica.high.watermark.checkpoint.interval.ms and at shutdown, after
 * the flush).  A checkpointed HW may lag the real one: a restarted leader
 * moves it up as followers fetch.  0 or -BK_EIO. */
int bk_parts_checkpoint_hw(bk_parts *ps);
/* fsyncs every log (recovery points reach the LEOs).  0 or -BK_EIO. */
int bk_parts_flush_all(bk_parts *ps);
/* Retention on every log at wall time now_ms. */
void bk_parts_retain(bk_parts *ps, int64_t now_ms);

/* The first log dir (where broker-wide files live). */
const char *bk_parts_main_dir(const bk_parts *ps);

#endif
