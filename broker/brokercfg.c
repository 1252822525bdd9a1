/*
 * brokercfg.c -- the broker.properties schema and its checks (see
 * brokercfg.h).
 *
 * Defaults are Kafka 2.8's unless a comment says otherwise.  Keys whose
 * Kafka default is "unset, fall back to another key" (log.roll.ms,
 * log.retention.ms, zookeeper.connection.timeout.ms) are read with
 * bk_cfg_is_set() so the fallback works as in Kafka.
 */
#include "broker/brokercfg.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/err.h"
#include "common/fileio.h"

#define I32MAX 2147483647
#define I64MAX INT64_MAX

static const bk_cfg_def schema[] = {
    {.name = "broker.id",
     .type = BK_CFG_INT,
     .dflt = NULL,
     .min = 0,
     .max = I32MAX,
     .doc = "this broker's id, unique in the cluster"},
    {.name = "listeners",
     .type = BK_CFG_STRING,
     .dflt = "PLAINTEXT://:9092",
     .flags = BK_CFG_NONEMPTY,
     .doc = "PLAINTEXT://host:port to listen on (empty host: all)"},
    {.name = "advertised.listeners",
     .type = BK_CFG_STRING,
     .dflt = "",
     .doc = "PLAINTEXT://host:port given to clients (default: listeners)"},
    {.name = "metrics.listener",
     .type = BK_CFG_STRING,
     .dflt = "",
     .doc = "Brook: host:port of the Prometheus endpoint (GET /metrics); "
            "empty: off"},
    {.name = "broker.rack",
     .type = BK_CFG_STRING,
     .dflt = "",
     .doc = "rack of this broker, registered in ZooKeeper"},
    {.name = "log.dirs",
     .type = BK_CFG_LIST,
     .dflt = "/var/lib/brook/logs",
     .flags = BK_CFG_NONEMPTY,
     .doc = "directories holding partition logs"},
    {.name = "zookeeper.connect",
     .type = BK_CFG_STRING,
     .dflt = NULL,
     .flags = BK_CFG_NONEMPTY,
     .doc = "host:port[,host:port...][/chroot]"},
    {.name = "zookeeper.session.timeout.ms",
     .type = BK_CFG_INT,
     .dflt = "18000",
     .min = 1000,
     .max = I32MAX,
     .doc = "ZooKeeper session timeout"},
    {.name = "zookeeper.connection.timeout.ms",
     .type = BK_CFG_INT,
     .dflt = "18000",
     .min = 100,
     .max = I32MAX,
     .doc = "longest wait for a ZooKeeper connection (default: the session "
            "timeout)"},
    {.name = "num.partitions",
     .type = BK_CFG_INT,
     .dflt = "1",
     .min = 1,
     .max = 100000,
     .doc = "partitions of an automatically created topic"},
    {.name = "default.replication.factor",
     .type = BK_CFG_INT,
     .dflt = "1",
     .min = 1,
     .max = 1000,
     .doc = "replication factor of automatically "
            "created topics"},
    {.name = "auto.create.topics.enable",
     .type = BK_CFG_BOOL,
     .dflt = "true",
     .doc = "create a topic named in a Metadata request "
            "that allows it"},
    {.name = "delete.topic.enable",
     .type = BK_CFG_BOOL,
     .dflt = "true",
     .doc = "allow DeleteTopics"},
    {.name = "message.max.bytes",
     .type = BK_CFG_INT,
     .dflt = "1048588",
     .min = 64,
     .max = I32MAX,
     .doc = "largest record batch accepted"},
    {.name = "socket.request.max.bytes",
     .type = BK_CFG_INT,
     .dflt = "104857600",
     .min = 1024,
     .max = I32MAX,
     .doc = "largest request frame; a larger length prefix closes the "
            "connection"},
    {.name = "fetch.max.bytes",
     .type = BK_CFG_INT,
     .dflt = "57671680",
     .min = 1024,
     .max = I32MAX,
     .doc = "most record bytes in one fetch response"},
    {.name = "log.segment.bytes",
     .type = BK_CFG_INT,
     .dflt = "1073741824",
     .min = 1024,
     .max = I32MAX,
     .doc = "segment size that triggers a roll"},
    {.name = "log.roll.ms",
     .type = BK_CFG_LONG,
     .dflt = "604800000",
     .min = 1,
     .max = I64MAX,
     .doc = "segment age that triggers a roll "
            "(default: log.roll.hours)"},
    {.name = "log.roll.hours",
     .type = BK_CFG_INT,
     .dflt = "168",
     .min = 1,
     .max = I32MAX,
     .doc = "segment age that triggers a roll, hours"},
    {.name = "log.retention.ms",
     .type = BK_CFG_LONG,
     .dflt = "604800000",
     .min = -1,
     .max = I64MAX,
     .doc = "age after which segments are deleted, -1: never"},
    {.name = "log.retention.minutes",
     .type = BK_CFG_INT,
     .dflt = "10080",
     .min = -1,
     .max = I32MAX,
     .doc = "as log.retention.ms, in minutes"},
    {.name = "log.retention.hours",
     .type = BK_CFG_INT,
     .dflt = "168",
     .min = -1,
     .max = I32MAX,
     .doc = "as log.retention.ms, in hours"},
    {.name = "log.retention.bytes",
     .type = BK_CFG_LONG,
     .dflt = "-1",
     .min = -1,
     .max = I64MAX,
     .doc = "partition size above which old segments go, -1: none"},
    {.name = "log.retention.check.interval.ms",
     .type = BK_CFG_LONG,
     .dflt = "300000",
     .min = 1,
     .max = I64MAX,
     .doc = "how often retention runs"},
    {.name = "log.index.interval.bytes",
     .type = BK_CFG_INT,
     .dflt = "4096",
     .min = 0,
     .max = I32MAX,
     .doc = "bytes between sparse index entries"},
    {.name = "log.flush.interval.messages",
     .type = BK_CFG_LONG,
     .dflt = "9223372036854775807",
     .min = 1,
     .max = I64MAX,
     .doc = "fsync after this many records"},
    {.name = "log.flush.interval.ms",
     .type = BK_CFG_LONG,
     .dflt = "9223372036854775807",
     .min = 1,
     .max = I64MAX,
     .doc = "fsync when unflushed data is this old"},
    {.name = "log.flush.offset.checkpoint.interval.ms",
     .type = BK_CFG_INT,
     .dflt = "60000",
     .min = 100,
     .max = I32MAX,
     .doc = "how often recovery points are checkpointed"},
    {.name = "replica.high.watermark.checkpoint.interval.ms",
     .type = BK_CFG_LONG,
     .dflt = "5000",
     .min = 1,
     .max = I64MAX,
     .doc = "how often high watermarks are checkpointed"},
    {.name = "log.cleanup.policy",
     .type = BK_CFG_ENUM,
     .dflt = "delete",
     .choices = "delete",
     .doc = "only delete is supported"},
    {.name = "replica.lag.time.max.ms",
     .type = BK_CFG_LONG,
     .dflt = "30000",
     .min = 1,
     .max = I64MAX,
     .doc = "a follower this far behind leaves the ISR"},
    {.name = "min.insync.replicas",
     .type = BK_CFG_INT,
     .dflt = "1",
     .min = 1,
     .max = 1000,
     .doc = "ISR size needed for acks=all"},
    {.name = "unclean.leader.election.enable",
     .type = BK_CFG_BOOL,
     .dflt = "false",
     .doc = "elect a leader outside the ISR"},
    {.name = "auto.leader.rebalance.enable",
     .type = BK_CFG_BOOL,
     .dflt = "true",
     .doc = "the controller moves leadership back to preferred replicas"},
    {.name = "leader.imbalance.check.interval.seconds",
     .type = BK_CFG_LONG,
     .dflt = "300",
     .min = 1,
     .max = 86400L * 365,
     .doc = "how often the controller checks the leader imbalance"},
    {.name = "leader.imbalance.per.broker.percentage",
     .type = BK_CFG_INT,
     .dflt = "10",
     .min = 0,
     .max = 100,
     .doc = "imbalance per broker above which leaders are rebalanced"},
    {.name = "controlled.shutdown.enable",
     .type = BK_CFG_BOOL,
     .dflt = "true",
     .doc = "move leadership away before stopping"},
    {.name = "controlled.shutdown.max.retries",
     .type = BK_CFG_INT,
     .dflt = "3",
     .min = 1,
     .max = I32MAX,
     .doc = "ControlledShutdown attempts before stopping anyway"},
    {.name = "controlled.shutdown.retry.backoff.ms",
     .type = BK_CFG_LONG,
     .dflt = "5000",
     .min = 0,
     .max = I32MAX,
     .doc = "pause between ControlledShutdown attempts"},
    {.name = "controller.socket.timeout.ms",
     .type = BK_CFG_INT,
     .dflt = "30000",
     .min = 1,
     .max = I32MAX,
     .doc = "controller-to-broker request timeout"},
    /* Consumer groups (issue #5). */
    {.name = "offsets.topic.num.partitions",
     .type = BK_CFG_INT,
     .dflt = "50",
     .min = 1,
     .max = 10000,
     .doc = "partitions of __consumer_offsets (group placement)"},
    {.name = "offsets.topic.replication.factor",
     .type = BK_CFG_INT,
     .dflt = "3",
     .min = 1,
     .max = 1000,
     .doc = "replicas of __consumer_offsets (needs that many live brokers)"},
    {.name = "offsets.commit.timeout.ms",
     .type = BK_CFG_INT,
     .dflt = "5000",
     .min = 1,
     .max = I32MAX,
     .doc = "a commit not written to ZooKeeper by then is refused "
            "(REQUEST_TIMED_OUT)"},
    {.name = "group.min.session.timeout.ms",
     .type = BK_CFG_INT,
     .dflt = "6000",
     .min = 1,
     .max = I32MAX,
     .doc = "smallest session.timeout.ms a member may ask for"},
    {.name = "group.max.session.timeout.ms",
     .type = BK_CFG_INT,
     .dflt = "1800000",
     .min = 1,
     .max = I32MAX,
     .doc = "largest session.timeout.ms a member may ask for"},
    {.name = "group.initial.rebalance.delay.ms",
     .type = BK_CFG_INT,
     .dflt = "3000",
     .min = 0,
     .max = I32MAX,
     .doc = "wait for more members before a new group's first rebalance"},
    {.name = "group.max.size",
     .type = BK_CFG_INT,
     .dflt = "2147483647",
     .min = 1,
     .max = I32MAX,
     .doc = "members per group"},
    {.name = "log.level",
     .type = BK_CFG_ENUM,
     .dflt = "info",
     .choices = "debug|info|warn|error",
     .doc = "Brook: stderr log level"},
};

#define NSCHEMA (sizeof schema / sizeof schema[0])

/* ----------------------------- messages ----------------------------- */

typedef struct msgs {
    bk_buf *to; /* NULL: stderr */
    int n;
} msgs;

static void msg(msgs *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void msg(msgs *m, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    m->n++;
    if (m->to) {
        bk_buf_put(m->to, line, strlen(line));
        bk_buf_put_u8(m->to, '\n');
    } else {
        fprintf(stderr, "brookd: %s\n", line);
    }
}

/*
 * The line of `key` in a properties text, for messages about values that
 * passed the type check but not ours.  common/config keeps no positions, so
 * this re-reads the text with the same notion of a key (first token of a
 * logical line, ended by '=', ':' or a blank).  Returns 0 when not found
 * (the key then came from an override).
 */
static int key_line(const char *text, const char *key)
{
    if (!text)
        return 0;
    size_t klen = strlen(key);
    int line = 1, found = 0;
    const char *p = text;
    bool cont = false; /* this physical line continues a logical one */
    while (*p) {
        const char *s = p;
        while (*p && *p != '\n' && *p != '\r')
            p++;
        const char *e = p;
        bool comment = false;
        if (!cont) {
            const char *k = s;
            while (k < e && (*k == ' ' || *k == '\t' || *k == '\f'))
                k++;
            comment = k < e && (*k == '#' || *k == '!');
            if ((size_t)(e - k) >= klen && memcmp(k, key, klen) == 0 &&
                (k + klen == e || k[klen] == '=' || k[klen] == ':' ||
                 k[klen] == ' ' || k[klen] == '\t'))
                found = line;
        }
        /* An odd number of trailing backslashes continues the line
         * (comments never continue). */
        size_t bs = 0;
        for (const char *q = e; q > s && q[-1] == '\\'; q--)
            bs++;
        cont = !comment && bs % 2 == 1;
        if (*p == '\r' && p[1] == '\n')
            p++;
        if (*p)
            p++;
        line++;
    }
    return found;
}

/* Where a key's value came from, for a message prefix. */
static void where(char *dst, size_t cap, const bk_cfg *cfg, const char *src,
                  const char *text, const char *const *ov, size_t nov,
                  const char *key)
{
    (void)cfg;
    size_t klen = strlen(key);
    for (size_t i = 0; i < nov; i++) {
        const char *o = ov[i];
        while (*o == ' ' || *o == '\t')
            o++;
        if (strncmp(o, key, klen) == 0 &&
            (o[klen] == '=' || o[klen] == ' ' || o[klen] == '\t')) {
            snprintf(dst, cap, "%s: %s", BK_CFG_CMDLINE, key);
            return;
        }
    }
    int line = key_line(text, key);
    if (line > 0)
        snprintf(dst, cap, "%s:%d: %s", src, line, key);
    else
        snprintf(dst, cap, "%s: %s", src, key);
}

/* --------------------------- value checks --------------------------- */

/* "PLAINTEXT://host:port"; host may be empty or a [v6] literal. */
static int parse_listener(const char *s, char *host, size_t hcap, int *port,
                          const char **why)
{
    const char *scheme = "PLAINTEXT://";
    if (strchr(s, ',')) {
        *why = "only one listener is supported";
        return -1;
    }
    if (strncmp(s, scheme, strlen(scheme)) != 0) {
        *why = "only PLAINTEXT://host:port is supported";
        return -1;
    }
    const char *h = s + strlen(scheme);
    const char *colon;
    size_t hlen;
    if (*h == '[') {
        const char *rb = strchr(h, ']');
        if (!rb || rb[1] != ':') {
            *why = "bad [IPv6]:port";
            return -1;
        }
        h++;
        hlen = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(h, ':');
        if (!colon) {
            *why = "missing :port";
            return -1;
        }
        hlen = (size_t)(colon - h);
    }
    if (hlen >= hcap) {
        *why = "host name too long";
        return -1;
    }
    for (size_t i = 0; i < hlen; i++) {
        if (isspace((unsigned char)h[i]) || h[i] == '/') {
            *why = "bad host";
            return -1;
        }
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535) {
        *why = "port must be 0..65535";
        return -1;
    }
    *port = (int)p;
    return 0;
}

/* metrics.listener: host:port (host may be empty or a [v6] literal; no
 * scheme: it is plain HTTP). */
static int parse_hostport(const char *s, char *host, size_t hcap, int *port,
                          const char **why)
{
    if (strstr(s, "://")) {
        *why = "expected host:port without a scheme, e.g. 127.0.0.1:9404";
        return -1;
    }
    char buf[300];
    if (strlen(s) + sizeof "PLAINTEXT://" > sizeof buf) {
        *why = "too long";
        return -1;
    }
    snprintf(buf, sizeof buf, "PLAINTEXT://%s", s);
    if (parse_listener(buf, host, hcap, port, why) != 0) {
        if (strchr(s, ','))
            *why = "only one host:port";
        return -1;
    }
    return 0;
}

/* host:port[,host:port...][/chroot] */
static int check_zk_connect(const char *s, const char **why)
{
    const char *slash = strchr(s, '/');
    size_t hosts_len = slash ? (size_t)(slash - s) : strlen(s);
    if (hosts_len == 0) {
        *why = "no host:port";
        return -1;
    }
    const char *p = s;
    const char *end = s + hosts_len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *colon = NULL;
        for (const char *q = p; q < e; q++)
            if (*q == ':')
                colon = q;
        if (!colon || colon == p || colon + 1 == e) {
            *why = "each server must be host:port";
            return -1;
        }
        long port = 0;
        for (const char *q = colon + 1; q < e; q++) {
            if (*q < '0' || *q > '9' || port > 65535) {
                *why = "bad port";
                return -1;
            }
            port = port * 10 + (*q - '0');
        }
        if (port < 1 || port > 65535) {
            *why = "port must be 1..65535";
            return -1;
        }
        p = comma ? comma + 1 : end;
        if (comma && p == end) {
            *why = "empty server after ','";
            return -1;
        }
    }
    if (slash) {
        /* ZooKeeper's path rules: no empty component, no trailing '/'. */
        size_t n = strlen(slash);
        if (n == 1 || slash[n - 1] == '/' || strstr(slash, "//") ||
            strstr(slash, "/./") || strstr(slash, "/../")) {
            *why = "bad chroot path";
            return -1;
        }
    }
    return 0;
}

/* -------------------------------- load -------------------------------- */

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

static int fill(bk_bcfg *out, bk_cfg *cfg, const char *src, const char *text,
                const char *const *ov, size_t nov, msgs *m)
{
    char loc[512];
    const char *why;

    out->broker_id = bk_cfg_get_int(cfg, "broker.id");
    if (parse_listener(bk_cfg_get_str(cfg, "listeners"), out->listen_host,
                       sizeof out->listen_host, &out->listen_port, &why) != 0) {
        where(loc, sizeof loc, cfg, src, text, ov, nov, "listeners");
        msg(m, "%s: '%s': %s", loc, bk_cfg_get_str(cfg, "listeners"), why);
    }
    const char *adv = bk_cfg_get_str(cfg, "advertised.listeners");
    if (adv[0]) {
        if (parse_listener(adv, out->adv_host, sizeof out->adv_host,
                           &out->adv_port, &why) != 0) {
            where(loc, sizeof loc, cfg, src, text, ov, nov,
                  "advertised.listeners");
            msg(m, "%s: '%s': %s", loc, adv, why);
        } else if (out->adv_host[0] == '\0' || out->adv_port == 0) {
            where(loc, sizeof loc, cfg, src, text, ov, nov,
                  "advertised.listeners");
            msg(m, "%s: '%s': needs a host and a non-zero port", loc, adv);
        }
    } else {
        snprintf(out->adv_host, sizeof out->adv_host, "%s", out->listen_host);
        out->adv_port = out->listen_port;
        if (out->adv_host[0] == '\0' || strcmp(out->adv_host, "0.0.0.0") == 0 ||
            strcmp(out->adv_host, "::") == 0) {
            /* Kafka advertises the canonical host name in this case. */
            if (gethostname(out->adv_host, sizeof out->adv_host) != 0)
                snprintf(out->adv_host, sizeof out->adv_host, "localhost");
            out->adv_host[sizeof out->adv_host - 1] = '\0';
        }
    }
    snprintf(out->rack, sizeof out->rack, "%s",
             bk_cfg_get_str(cfg, "broker.rack"));
    const char *ml = bk_cfg_get_str(cfg, "metrics.listener");
    out->metrics_enabled = false;
    if (ml[0]) {
        if (parse_hostport(ml, out->metrics_host, sizeof out->metrics_host,
                           &out->metrics_port, &why) != 0) {
            where(loc, sizeof loc, cfg, src, text, ov, nov,
                  "metrics.listener");
            msg(m, "%s: '%s': %s", loc, ml, why);
        } else if (out->metrics_port != 0 &&
                   out->metrics_port == out->listen_port) {
            where(loc, sizeof loc, cfg, src, text, ov, nov,
                  "metrics.listener");
            msg(m, "%s: '%s': port %d is the broker's listener port", loc,
                ml, out->metrics_port);
        } else {
            out->metrics_enabled = true;
        }
    }

    const char *const *dirs;
    size_t nd = bk_cfg_get_list(cfg, "log.dirs", &dirs);
    out->log_dirs = calloc(nd ? nd : 1, sizeof *out->log_dirs);
    if (!out->log_dirs)
        return -BK_ENOMEM;
    for (size_t i = 0; i < nd; i++) {
        if (dirs[i][0] != '/') {
            where(loc, sizeof loc, cfg, src, text, ov, nov, "log.dirs");
            msg(m, "%s: '%s' is not an absolute path", loc, dirs[i]);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(dirs[i], dirs[j]) == 0) {
                where(loc, sizeof loc, cfg, src, text, ov, nov, "log.dirs");
                msg(m, "%s: '%s' is listed twice", loc, dirs[i]);
            }
        }
        out->log_dirs[i] = xstrdup(dirs[i]);
        if (!out->log_dirs[i])
            return -BK_ENOMEM;
        out->n_log_dirs = i + 1;
    }

    const char *zk = bk_cfg_get_str(cfg, "zookeeper.connect");
    out->zk_connect = xstrdup(zk);
    if (!out->zk_connect)
        return -BK_ENOMEM;
    if (bk_cfg_is_set(cfg, "zookeeper.connect") &&
        check_zk_connect(zk, &why) != 0) {
        where(loc, sizeof loc, cfg, src, text, ov, nov, "zookeeper.connect");
        msg(m, "%s: '%s': %s", loc, zk, why);
    }
    out->zk_session_timeout_ms =
        bk_cfg_get_int(cfg, "zookeeper.session.timeout.ms");
    out->zk_connection_timeout_ms =
        bk_cfg_is_set(cfg, "zookeeper.connection.timeout.ms")
            ? bk_cfg_get_int(cfg, "zookeeper.connection.timeout.ms")
            : out->zk_session_timeout_ms;

    out->num_partitions = bk_cfg_get_int(cfg, "num.partitions");
    out->default_replication_factor =
        bk_cfg_get_int(cfg, "default.replication.factor");
    out->auto_create_topics = bk_cfg_get_bool(cfg, "auto.create.topics.enable");
    out->delete_topic_enable = bk_cfg_get_bool(cfg, "delete.topic.enable");
    out->message_max_bytes = bk_cfg_get_int(cfg, "message.max.bytes");
    out->socket_request_max_bytes =
        (uint32_t)bk_cfg_get_int(cfg, "socket.request.max.bytes");
    out->fetch_max_bytes = bk_cfg_get_int(cfg, "fetch.max.bytes");
    if ((uint32_t)out->message_max_bytes + 1024 >
        out->socket_request_max_bytes) {
        where(loc, sizeof loc, cfg, src, text, ov, nov, "message.max.bytes");
        msg(m,
            "%s: %d does not fit in a request of socket.request.max.bytes "
            "= %u (a batch needs about 1 KiB of request around it)",
            loc, out->message_max_bytes, out->socket_request_max_bytes);
    }

    out->segment_bytes = bk_cfg_get_int(cfg, "log.segment.bytes");
    out->roll_ms =
        bk_cfg_is_set(cfg, "log.roll.ms")
            ? bk_cfg_get_long(cfg, "log.roll.ms")
            : (int64_t)bk_cfg_get_int(cfg, "log.roll.hours") * 3600000;
    if (bk_cfg_is_set(cfg, "log.retention.ms"))
        out->retention_ms = bk_cfg_get_long(cfg, "log.retention.ms");
    else if (bk_cfg_is_set(cfg, "log.retention.minutes"))
        out->retention_ms =
            (int64_t)bk_cfg_get_int(cfg, "log.retention.minutes") * 60000;
    else
        out->retention_ms =
            (int64_t)bk_cfg_get_int(cfg, "log.retention.hours") * 3600000;
    if (out->retention_ms < 0)
        out->retention_ms = -1;
    out->retention_bytes = bk_cfg_get_long(cfg, "log.retention.bytes");
    out->retention_check_interval_ms =
        bk_cfg_get_long(cfg, "log.retention.check.interval.ms");
    out->index_interval_bytes = bk_cfg_get_int(cfg, "log.index.interval.bytes");
    out->flush_interval_messages =
        bk_cfg_get_long(cfg, "log.flush.interval.messages");
    out->flush_interval_ms = bk_cfg_get_long(cfg, "log.flush.interval.ms");
    out->checkpoint_interval_ms =
        bk_cfg_get_int(cfg, "log.flush.offset.checkpoint.interval.ms");
    out->hw_checkpoint_interval_ms =
        bk_cfg_get_long(cfg, "replica.high.watermark.checkpoint.interval.ms");

    out->replica_lag_time_max_ms =
        bk_cfg_get_long(cfg, "replica.lag.time.max.ms");
    out->min_insync_replicas = bk_cfg_get_int(cfg, "min.insync.replicas");
    out->unclean_leader_election =
        bk_cfg_get_bool(cfg, "unclean.leader.election.enable");
    out->auto_leader_rebalance =
        bk_cfg_get_bool(cfg, "auto.leader.rebalance.enable");
    out->leader_imbalance_check_s =
        bk_cfg_get_long(cfg, "leader.imbalance.check.interval.seconds");
    out->leader_imbalance_pct =
        bk_cfg_get_int(cfg, "leader.imbalance.per.broker.percentage");
    out->controlled_shutdown =
        bk_cfg_get_bool(cfg, "controlled.shutdown.enable");
    out->controlled_shutdown_max_retries =
        bk_cfg_get_int(cfg, "controlled.shutdown.max.retries");
    out->controlled_shutdown_backoff_ms =
        bk_cfg_get_long(cfg, "controlled.shutdown.retry.backoff.ms");
    out->controller_socket_timeout_ms =
        bk_cfg_get_int(cfg, "controller.socket.timeout.ms");
    out->offsets_topic_partitions =
        bk_cfg_get_int(cfg, "offsets.topic.num.partitions");
    out->offsets_commit_timeout_ms =
        bk_cfg_get_int(cfg, "offsets.commit.timeout.ms");
    out->offsets_topic_rf =
        bk_cfg_get_int(cfg, "offsets.topic.replication.factor");
    out->group_min_session_ms =
        bk_cfg_get_int(cfg, "group.min.session.timeout.ms");
    out->group_max_session_ms =
        bk_cfg_get_int(cfg, "group.max.session.timeout.ms");
    out->group_initial_delay_ms =
        bk_cfg_get_int(cfg, "group.initial.rebalance.delay.ms");
    out->group_max_size = bk_cfg_get_int(cfg, "group.max.size");
    if (bk_logging_parse_level(bk_cfg_get_str(cfg, "log.level"),
                               &out->log_level) != 0)
        out->log_level = BK_LVL_INFO;
    return 0;
}

static int load(const char *src, const char *path, const char *text, size_t len,
                const char *const *ov, size_t nov, bk_bcfg *out, bk_buf *errs)
{
    memset(out, 0, sizeof *out);
    msgs m = {errs, 0};
    bk_cfg *cfg;
    int rc = bk_cfg_new(schema, NSCHEMA, &cfg);
    if (rc != 0)
        return rc;
    out->raw = cfg;
    if (path)
        rc = bk_cfg_load_file(cfg, path);
    else
        rc = bk_cfg_load_string(cfg, src, text, len);
    if (rc == -BK_ENOMEM)
        return rc;
    for (size_t i = 0; i < nov; i++)
        if (bk_cfg_override(cfg, ov[i]) == -BK_ENOMEM)
            return -BK_ENOMEM;
    rc = bk_cfg_finish(cfg);
    if (rc == -BK_ENOMEM)
        return rc;
    for (size_t i = 0; i < bk_cfg_nerrors(cfg); i++) {
        const char *e = bk_cfg_error(cfg, i);
        if (e)
            msg(&m, "%s", e);
    }
    if (rc == 0) {
        /* Semantic checks only on a config whose keys all parsed. */
        rc = fill(out, cfg, src, text, ov, nov, &m);
        if (rc != 0)
            return rc;
    }
    return m.n > 0 ? -BK_ECONFIG : 0;
}

int bk_bcfg_load(const char *path, const char *const *overrides,
                 size_t n_overrides, bk_bcfg *out)
{
    char *text = NULL;
    size_t len = 0;
    /* Read once more for line numbers of our own checks; a file that
     * cannot be read is reported by common/config. */
    (void)bk_file_read_all(path, 1u << 20, &text, &len);
    int rc = load(path, path, text, len, overrides, n_overrides, out, NULL);
    free(text);
    return rc;
}

int bk_bcfg_load_string(const char *srcname, const char *text,
                        const char *const *overrides, size_t n_overrides,
                        bk_bcfg *out, bk_buf *errs)
{
    return load(srcname, NULL, text, strlen(text), overrides, n_overrides, out,
                errs);
}

void bk_bcfg_free(bk_bcfg *cfg)
{
    if (cfg->log_dirs) {
        for (size_t i = 0; i < cfg->n_log_dirs; i++)
            free(cfg->log_dirs[i]);
        free(cfg->log_dirs);
    }
    free(cfg->zk_connect);
    if (cfg->raw)
        bk_cfg_free(cfg->raw);
    memset(cfg, 0, sizeof *cfg);
}

void bk_bcfg_dump(const bk_bcfg *cfg, bk_buf *out)
{
    if (cfg->raw)
        bk_cfg_dump(cfg->raw, out);
}
