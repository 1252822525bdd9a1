/*
 * conf.h -- the client configuration behind brook_conf (brook.h lists the
 * keys): a table of Kafka-named keys with types, defaults and ranges; values
 * are checked when set, so a client never starts with a bad one.
 *
 * The library reads values through brook_conf_int() / brook_conf_str() with
 * a key id, never by name, so a typo in the library is a compile error.
 * Not thread-safe; a conf belongs to one thread (then to its client).
 */
#ifndef BK_CLIENT_CONF_H
#define BK_CLIENT_CONF_H

#include <stdint.h>

#include "client/brook.h"

typedef enum brook_conf_key {
    BROOK_CK_BOOTSTRAP_SERVERS,
    BROOK_CK_CLIENT_ID,
    BROOK_CK_ACKS, /* int: 0, 1, -1 */
    BROOK_CK_LINGER_MS,
    BROOK_CK_BATCH_SIZE,
    BROOK_CK_COMPRESSION_TYPE, /* int: a bk_codec */
    BROOK_CK_RETRIES,
    BROOK_CK_RETRY_BACKOFF_MS,
    BROOK_CK_REQUEST_TIMEOUT_MS,
    BROOK_CK_DELIVERY_TIMEOUT_MS,
    BROOK_CK_MAX_IN_FLIGHT,
    BROOK_CK_MAX_REQUEST_SIZE,
    BROOK_CK_BUFFER_MEMORY,
    BROOK_CK_METADATA_MAX_AGE_MS,
    BROOK_CK_RECONNECT_BACKOFF_MS,
    BROOK_CK_RECONNECT_BACKOFF_MAX_MS,
    BROOK_CK_CONNECT_TIMEOUT_MS,
    BROOK_CK_FETCH_MAX_WAIT_MS,
    BROOK_CK_FETCH_MIN_BYTES,
    BROOK_CK_FETCH_MAX_BYTES,
    BROOK_CK_MAX_PARTITION_FETCH_BYTES,
    /* consumer groups */
    BROOK_CK_GROUP_ID,
    BROOK_CK_GROUP_INSTANCE_ID,
    BROOK_CK_SESSION_TIMEOUT_MS,
    BROOK_CK_HEARTBEAT_INTERVAL_MS,
    BROOK_CK_MAX_POLL_INTERVAL_MS,
    BROOK_CK_ASSIGNMENT_STRATEGY, /* text: comma-separated names */
    BROOK_CK_ENABLE_AUTO_COMMIT,  /* int: 0 or 1 */
    BROOK_CK_AUTO_COMMIT_INTERVAL_MS,
    BROOK_CK_AUTO_OFFSET_RESET, /* int: a BROOK_CONF_RESET_* */
    BROOK_CK__COUNT
} brook_conf_key;

/* auto.offset.reset as brook_conf_int() gives it. */
#define BROOK_CONF_RESET_LATEST   (-1) /* = BROOK_OFFSET_END */
#define BROOK_CONF_RESET_EARLIEST (-2) /* = BROOK_OFFSET_BEGINNING */
#define BROOK_CONF_RESET_ERROR    (-3)

struct brook_conf {
    char *text[BROOK_CK__COUNT];  /* each value as set (owned) */
    int64_t num[BROOK_CK__COUNT]; /* parsed value of int and enum keys */
    brook_dr_cb *dr_cb;
    void *dr_opaque;
    brook_rebalance_cb *rebalance_cb;
    void *rebalance_opaque;
};

/* The parsed value of an int or enum key. */
int64_t brook_conf_int(const brook_conf *conf, brook_conf_key k);
/* The text of a key (string keys). */
const char *brook_conf_str(const brook_conf *conf, brook_conf_key k);

/* Checks what single keys cannot: bootstrap.servers set and well formed,
 * delivery.timeout.ms >= linger.ms + request.timeout.ms,
 * heartbeat.interval.ms < session.timeout.ms.  0 or -BK_EINVAL with
 * errstr. */
int brook_conf_check(const brook_conf *conf, char *errstr, size_t errlen);

/*
 * Splits one "host:port" (or "[v6addr]:port") of n bytes.  host gets the
 * host (without brackets), NUL-terminated; 1 <= port <= 65535.  0 or
 * -BK_EINVAL.
 */
int brook_conf_parse_hostport(const char *s, size_t n, char *host,
                              size_t hostcap, int *port);

/* Calls fn for each server of a comma-separated list (blanks around items
 * ignored).  0, or the first non-zero fn result, or -BK_EINVAL for a
 * malformed item or an empty list. */
int brook_conf_each_server(const char *list,
                           int (*fn)(const char *host, int port, void *arg),
                           void *arg);

#endif
