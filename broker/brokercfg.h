/*
 * brokercfg.h -- brookd's configuration: the broker.properties schema
 * (Kafka's key names and defaults where Kafka has the key) and the typed
 * struct the rest of the broker reads.
 *
 * Loading goes through common/config (syntax, types, ranges, unknown keys,
 * "file:line: key: ..." messages), then this module checks what a type
 * cannot say: the shape of `listeners` and `zookeeper.connect`, and
 * relations between keys.  Those messages name the file, line and key too.
 * Every error is reported, not only the first, so an operator fixes a file
 * in one pass.
 *
 * Deliberate differences from Kafka, documented in
 * deploy/config/broker.properties:
 *   - an unknown key is an error (Kafka logs a warning);
 *   - broker.id is required (no automatic id generation);
 *   - exactly one listener, PLAINTEXT (no TLS/SASL yet);
 *   - auto.create.topics.enable (default true, as Kafka) only acts on
 *     Metadata requests that set allow_auto_topic_creation.
 *
 * Start-up only; the struct is then read-only, owned by main().
 */
#ifndef BK_BROKERCFG_H
#define BK_BROKERCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/logging.h"

struct bk_cfg;

typedef struct bk_bcfg {
    int32_t broker_id;
    /* The listener: host "" means every interface. */
    char listen_host[256];
    int listen_port;
    /* What the broker registers in ZooKeeper and returns in Metadata. */
    char adv_host[256];
    int adv_port;
    char rack[128]; /* broker.rack, "" = none */
    /* metrics.listener (Brook): the Prometheus endpoint, when enabled;
     * host "" means every interface, port 0 lets the kernel pick. */
    bool metrics_enabled;
    char metrics_host[256];
    int metrics_port;

    char **log_dirs; /* log.dirs, n_log_dirs >= 1 (owned) */
    size_t n_log_dirs;

    char *zk_connect; /* "h:p,h:p/chroot" (owned) */
    int zk_session_timeout_ms;
    int zk_connection_timeout_ms;

    int num_partitions;
    int default_replication_factor;
    bool auto_create_topics;
    bool delete_topic_enable;

    int32_t message_max_bytes;         /* largest batch accepted */
    uint32_t socket_request_max_bytes; /* largest request frame */
    int32_t fetch_max_bytes;           /* broker cap on one fetch response */

    /* Log settings, Kafka's precedence already applied (ms over minutes
     * over hours). */
    int64_t segment_bytes;
    int64_t roll_ms;
    int64_t retention_ms;    /* -1: unlimited */
    int64_t retention_bytes; /* -1: unlimited */
    int32_t index_interval_bytes;
    int64_t flush_interval_messages;
    int64_t flush_interval_ms;
    int64_t retention_check_interval_ms;
    int64_t
        checkpoint_interval_ms; /* log.flush.offset.checkpoint.interval.ms */
    int64_t hw_checkpoint_interval_ms; /* replica.high.watermark.checkpoint.
                                          interval.ms */

    int64_t replica_lag_time_max_ms;
    int min_insync_replicas;
    bool unclean_leader_election;
    bool auto_leader_rebalance;       /* auto.leader.rebalance.enable */
    int64_t leader_imbalance_check_s; /* leader.imbalance.check.interval.s */
    int leader_imbalance_pct; /* leader.imbalance.per.broker.percentage */
    bool controlled_shutdown;
    int controlled_shutdown_max_retries;    /* attempts (Kafka: 3) */
    int64_t controlled_shutdown_backoff_ms; /* between attempts */
    int controller_socket_timeout_ms;       /* controller's requests */

    /* Consumer groups. */
    int offsets_topic_partitions;  /* offsets.topic.num.partitions */
    int offsets_topic_rf;          /* offsets.topic.replication.factor */
    int offsets_commit_timeout_ms; /* offsets.commit.timeout.ms */
    int group_min_session_ms;      /* group.min.session.timeout.ms */
    int group_max_session_ms;      /* group.max.session.timeout.ms */
    int group_initial_delay_ms;    /* group.initial.rebalance.delay.ms */
    int group_max_size;            /* group.max.size */

    bk_level log_level;

    struct bk_cfg *raw; /* the loaded key/value set (owned), for dumps */
} bk_bcfg;

/*
 * Loads `path` with the "key=value" overrides applied, validates every key
 * and fills *out.  On failure every message has been written to stderr (one
 * line each, prefixed "brookd: ") and -BK_ECONFIG is returned; -BK_ENOMEM
 * on allocation failure.  Free with bk_bcfg_free() in both cases.
 */
int bk_bcfg_load(const char *path, const char *const *overrides,
                 size_t n_overrides, bk_bcfg *out);

/* Same from a string (named `srcname` in messages); for unit tests.
 * Messages are appended to errs (one per line) instead of stderr when errs
 * is not NULL. */
int bk_bcfg_load_string(const char *srcname, const char *text,
                        const char *const *overrides, size_t n_overrides,
                        bk_bcfg *out, bk_buf *errs);

void bk_bcfg_free(bk_bcfg *cfg);

/* Appends the effective configuration, one "key = value" line per key, as
 * Kafka logs it at start-up. */
void bk_bcfg_dump(const bk_bcfg *cfg, bk_buf *out);

#endif
