/*
 * conf.c -- the client configuration table (see conf.h and brook.h).
 */
#include "client/conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/compress.h"
#include "common/err.h"

typedef enum {
    T_STR,
    T_INT,
    T_ACKS,
    T_CODEC,
    T_BOOL,
    T_RESET,
    T_STRATEGY
} ctype;

typedef struct cdef {
    const char *name;
    const char *alias; /* Kafka's longer name, or NULL */
    ctype type;
    const char *dflt; /* NULL: required */
    int64_t min, max; /* T_INT */
} cdef;

/* Defaults are Kafka's where Kafka has the key, except linger.ms (5 as in
 * Kafka 4.0, where it was raised from 0 because batching pays off). */
static const cdef defs[BROOK_CK__COUNT] = {
    [BROOK_CK_BOOTSTRAP_SERVERS] = {"bootstrap.servers", NULL, T_STR, NULL},
    [BROOK_CK_CLIENT_ID] = {"client.id", NULL, T_STR, "brook"},
    [BROOK_CK_ACKS] = {"acks", NULL, T_ACKS, "all"},
    [BROOK_CK_LINGER_MS] = {"linger.ms", NULL, T_INT, "5", 0, 900000},
    [BROOK_CK_BATCH_SIZE] = {"batch.size", NULL, T_INT, "16384", 1, 1 << 30},
    [BROOK_CK_COMPRESSION_TYPE] = {"compression.type", NULL, T_CODEC, "none"},
    [BROOK_CK_RETRIES] = {"retries", NULL, T_INT, "2147483647", 0, INT32_MAX},
    [BROOK_CK_RETRY_BACKOFF_MS] = {"retry.backoff.ms", NULL, T_INT, "100", 0,
                                   3600000},
    [BROOK_CK_REQUEST_TIMEOUT_MS] = {"request.timeout.ms", NULL, T_INT, "30000",
                                     1, 3600000},
    [BROOK_CK_DELIVERY_TIMEOUT_MS] = {"delivery.timeout.ms", NULL, T_INT,
                                      "120000", 1, INT32_MAX},
    [BROOK_CK_MAX_IN_FLIGHT] = {"max.in.flight",
                                "max.in.flight.requests.per.connection", T_INT,
                                "5", 1, 1000},
    [BROOK_CK_MAX_REQUEST_SIZE] = {"max.request.size", NULL, T_INT, "1048576",
                                   1024, 1 << 30},
    [BROOK_CK_BUFFER_MEMORY] = {"buffer.memory", NULL, T_INT, "33554432", 1024,
                                INT64_MAX},
    [BROOK_CK_METADATA_MAX_AGE_MS] = {"metadata.max.age.ms", NULL, T_INT,
                                      "300000", 1, INT32_MAX},
    [BROOK_CK_RECONNECT_BACKOFF_MS] = {"reconnect.backoff.ms", NULL, T_INT,
                                       "50", 0, 3600000},
    [BROOK_CK_RECONNECT_BACKOFF_MAX_MS] = {"reconnect.backoff.max.ms", NULL,
                                           T_INT, "1000", 0, 3600000},
    [BROOK_CK_CONNECT_TIMEOUT_MS] = {"socket.connection.setup.timeout.ms", NULL,
                                     T_INT, "10000", 1, 3600000},
    [BROOK_CK_FETCH_MAX_WAIT_MS] = {"fetch.max.wait.ms", NULL, T_INT, "500", 0,
                                    3600000},
    [BROOK_CK_FETCH_MIN_BYTES] = {"fetch.min.bytes", NULL, T_INT, "1", 0,
                                  INT32_MAX},
    [BROOK_CK_FETCH_MAX_BYTES] = {"fetch.max.bytes", NULL, T_INT, "52428800", 1,
                                  INT32_MAX},
    [BROOK_CK_MAX_PARTITION_FETCH_BYTES] = {"max.partition.fetch.bytes", NULL,
                                            T_INT, "1048576", 1, INT32_MAX},
    [BROOK_CK_GROUP_ID] = {"group.id", NULL, T_STR, ""},
    [BROOK_CK_GROUP_INSTANCE_ID] = {"group.instance.id", NULL, T_STR, ""},
    [BROOK_CK_SESSION_TIMEOUT_MS] = {"session.timeout.ms", NULL, T_INT, "45000",
                                     1, 3600000},
    [BROOK_CK_HEARTBEAT_INTERVAL_MS] = {"heartbeat.interval.ms", NULL, T_INT,
                                        "3000", 1, 3600000},
    [BROOK_CK_MAX_POLL_INTERVAL_MS] = {"max.poll.interval.ms", NULL, T_INT,
                                       "300000", 1, INT32_MAX},
    /* Kafka's Java client defaults to range (first in its list) */
    [BROOK_CK_ASSIGNMENT_STRATEGY] = {"partition.assignment.strategy", NULL,
                                      T_STRATEGY, "range"},
    [BROOK_CK_ENABLE_AUTO_COMMIT] = {"enable.auto.commit", NULL, T_BOOL,
                                     "true"},
    [BROOK_CK_AUTO_COMMIT_INTERVAL_MS] = {"auto.commit.interval.ms", NULL,
                                          T_INT, "5000", 0, INT32_MAX},
    [BROOK_CK_AUTO_OFFSET_RESET] = {"auto.offset.reset", NULL, T_RESET,
                                    "latest"},
};

/* Whether name[0..n) is an assignor libbrook has. */
static int strategy_known(const char *name, size_t n)
{
    static const char *const known[] = {"range", "roundrobin", "sticky"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i]) == n && memcmp(known[i], name, n) == 0)
            return 1;
    return 0;
}

static int conf_err(char *errstr, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int conf_err(char *errstr, size_t errlen, const char *fmt, ...)
{
    if (errstr && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errlen, fmt, ap);
        va_end(ap);
    }
    return -BK_EINVAL;
}

static int find_key(const char *name)
{
    for (int i = 0; i < BROOK_CK__COUNT; i++) {
        if (strcmp(defs[i].name, name) == 0 ||
            (defs[i].alias && strcmp(defs[i].alias, name) == 0))
            return i;
    }
    return -1;
}

/* Parses value for key k into *num.  0 or -BK_EINVAL with errstr. */
static int parse_value(int k, const char *value, int64_t *num, char *errstr,
                       size_t errlen)
{
    const cdef *d = &defs[k];
    switch (d->type) {
    case T_STR:
        *num = 0;
        return 0;
    case T_ACKS:
        if (strcmp(value, "all") == 0 || strcmp(value, "-1") == 0)
            *num = -1;
        else if (strcmp(value, "0") == 0)
            *num = 0;
        else if (strcmp(value, "1") == 0)
            *num = 1;
        else
            return conf_err(errstr, errlen,
                            "acks: value '%s' is not one of 0, 1, all", value);
        return 0;
    case T_CODEC: {
        bk_codec c;
        if (bk_codec_parse(value, &c) != 0)
            return conf_err(errstr, errlen,
                            "compression.type: value '%s' is not one of "
                            "none, gzip, lz4, zstd",
                            value);
        *num = c;
        return 0;
    }
    case T_BOOL:
        if (strcmp(value, "true") == 0)
            *num = 1;
        else if (strcmp(value, "false") == 0)
            *num = 0;
        else
            return conf_err(errstr, errlen,
                            "%s: value '%s' is not true or false", d->name,
                            value);
        return 0;
    case T_RESET:
        /* "error" is librdkafka's name, "none" Kafka's Java client's */
        if (strcmp(value, "latest") == 0 || strcmp(value, "largest") == 0)
            *num = BROOK_CONF_RESET_LATEST;
        else if (strcmp(value, "earliest") == 0 ||
                 strcmp(value, "smallest") == 0)
            *num = BROOK_CONF_RESET_EARLIEST;
        else if (strcmp(value, "error") == 0 || strcmp(value, "none") == 0)
            *num = BROOK_CONF_RESET_ERROR;
        else
            return conf_err(errstr, errlen,
                            "auto.offset.reset: value '%s' is not one of "
                            "latest, earliest, error",
                            value);
        return 0;
    case T_STRATEGY: {
        /* a list in order of preference: "range", "sticky,range" */
        const char *p = value;
        int count = 0;
        for (;;) {
            while (*p == ' ' || *p == '\t')
                p++;
            const char *e = p;
            while (*e && *e != ',')
                e++;
            const char *t = e;
            while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
                t--;
            if (!strategy_known(p, (size_t)(t - p)))
                return conf_err(errstr, errlen,
                                "partition.assignment.strategy: '%.*s' is not "
                                "one of range, roundrobin, sticky",
                                (int)(t - p), p);
            count++;
            if (!*e)
                break;
            p = e + 1;
        }
        *num = count;
        return 0;
    }
    case T_INT: {
        const char *p = value;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            return conf_err(errstr, errlen, "%s: value is empty", d->name);
        errno = 0;
        char *end;
        long long v = strtoll(p, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (*end || errno == ERANGE)
            return conf_err(errstr, errlen, "%s: value '%s' is not an integer",
                            d->name, value);
        if (v < d->min || v > d->max)
            return conf_err(errstr, errlen,
                            "%s: value %lld is outside %lld..%lld", d->name, v,
                            (long long)d->min, (long long)d->max);
        *num = v;
        return 0;
    }
    }
    return -BK_EINVAL;
}

static int set_key(brook_conf *conf, int k, const char *value, char *errstr,
                   size_t errlen)
{
    int64_t num = 0;
    int rc = parse_value(k, value, &num, errstr, errlen);
    if (rc != 0)
        return rc;
    char *copy = strdup(value);
    if (!copy)
        return conf_err(errstr, errlen, "out of memory");
    free(conf->text[k]);
    conf->text[k] = copy;
    conf->num[k] = num;
    return 0;
}

brook_conf *brook_conf_new(void)
{
    brook_conf *conf = calloc(1, sizeof *conf);
    if (!conf)
        return NULL;
    for (int k = 0; k < BROOK_CK__COUNT; k++) {
        if (!defs[k].dflt)
            continue;
        /* a default that fails its own rules is a bug in the table */
        if (set_key(conf, k, defs[k].dflt, NULL, 0) != 0) {
            brook_conf_free(conf);
            return NULL;
        }
    }
    return conf;
}

void brook_conf_free(brook_conf *conf)
{
    if (!conf)
        return;
    for (int k = 0; k < BROOK_CK__COUNT; k++)
        free(conf->text[k]);
    free(conf);
}

brook_conf *brook_conf_dup(const brook_conf *conf)
{
    brook_conf *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    *d = *conf;
    for (int k = 0; k < BROOK_CK__COUNT; k++) {
        if (conf->text[k] && !(d->text[k] = strdup(conf->text[k]))) {
            for (int j = 0; j < k; j++)
                free(d->text[j]);
            free(d);
            return NULL;
        }
    }
    return d;
}

int brook_conf_set(brook_conf *conf, const char *key, const char *value,
                   char *errstr, size_t errlen)
{
    if (!key || !value)
        return conf_err(errstr, errlen, "configuration key or value missing");
    int k = find_key(key);
    if (k < 0)
        return conf_err(errstr, errlen, "unknown configuration key '%s'", key);
    return set_key(conf, k, value, errstr, errlen);
}

int brook_conf_set_kv(brook_conf *conf, const char *kv, char *errstr,
                      size_t errlen)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return conf_err(errstr, errlen, "'%s' is not of the form key=value",
                        kv);
    char key[128];
    size_t n = (size_t)(eq - kv);
    if (n >= sizeof key)
        return conf_err(errstr, errlen, "unknown configuration key '%.*s'",
                        (int)n, kv);
    memcpy(key, kv, n);
    key[n] = 0;
    return brook_conf_set(conf, key, eq + 1, errstr, errlen);
}

const char *brook_conf_get(const brook_conf *conf, const char *key)
{
    int k = find_key(key);
    return k < 0 ? NULL : conf->text[k];
}

void brook_conf_set_dr_cb(brook_conf *conf, brook_dr_cb *cb, void *app_opaque)
{
    conf->dr_cb = cb;
    conf->dr_opaque = app_opaque;
}

void brook_conf_set_rebalance_cb(brook_conf *conf, brook_rebalance_cb *cb,
                                 void *opaque)
{
    conf->rebalance_cb = cb;
    conf->rebalance_opaque = opaque;
}

int64_t brook_conf_int(const brook_conf *conf, brook_conf_key k)
{
    return conf->num[k];
}

const char *brook_conf_str(const brook_conf *conf, brook_conf_key k)
{
    return conf->text[k] ? conf->text[k] : "";
}

int brook_conf_parse_hostport(const char *s, size_t n, char *host,
                              size_t hostcap, int *port)
{
    const char *end = s + n;
    const char *h, *hend, *colon;
    if (n > 0 && s[0] == '[') {
        /* [v6addr]:port */
        hend = memchr(s, ']', n);
        if (!hend || hend + 1 >= end || hend[1] != ':')
            return -BK_EINVAL;
        h = s + 1;
        colon = hend + 1;
    } else {
        colon = NULL;
        for (const char *p = s; p < end; p++)
            if (*p == ':')
                colon = p;
        if (!colon || memchr(s, ':', (size_t)(colon - s)))
            return -BK_EINVAL; /* no port, or an unbracketed v6 address */
        h = s;
        hend = colon;
    }
    size_t hl = (size_t)(hend - h);
    if (hl == 0 || hl >= hostcap)
        return -BK_EINVAL;
    for (const char *p = h; p < hend; p++)
        if (isspace((unsigned char)*p) || *p == ',' || *p == '/')
            return -BK_EINVAL;
    const char *p = colon + 1;
    if (p >= end || end - p > 5)
        return -BK_EINVAL;
    int v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -BK_EINVAL;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return -BK_EINVAL;
    memcpy(host, h, hl);
    host[hl] = 0;
    *port = v;
    return 0;
}

int brook_conf_each_server(const char *list,
                           int (*fn)(const char *host, int port, void *arg),
                           void *arg)
{
    int count = 0;
    const char *p = list;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        char host[256];
        int port;
        if (brook_conf_parse_hostport(p, (size_t)(t - p), host, sizeof host,
                                      &port) != 0)
            return -BK_EINVAL;
        count++;
        if (fn) {
            int rc = fn(host, port, arg);
            if (rc != 0)
                return rc;
        }
        if (!*e)
            break;
        p = e + 1;
    }
    return count > 0 ? 0 : -BK_EINVAL;
}

int brook_conf_check(const brook_conf *conf, char *errstr, size_t errlen)
{
    const char *bs = conf->text[BROOK_CK_BOOTSTRAP_SERVERS];
    if (!bs || !*bs)
        return conf_err(errstr, errlen, "bootstrap.servers is not set");
    if (brook_conf_each_server(bs, NULL, NULL) != 0)
        return conf_err(errstr, errlen,
                        "bootstrap.servers: '%s' is not a list of host:port",
                        bs);
    /* Kafka's rule: a record must be able to wait its linger and one full
     * request before its delivery deadline */
    int64_t need =
        conf->num[BROOK_CK_LINGER_MS] + conf->num[BROOK_CK_REQUEST_TIMEOUT_MS];
    if (conf->num[BROOK_CK_DELIVERY_TIMEOUT_MS] < need)
        return conf_err(errstr, errlen,
                        "delivery.timeout.ms (%lld) must be >= linger.ms + "
                        "request.timeout.ms (%lld)",
                        (long long)conf->num[BROOK_CK_DELIVERY_TIMEOUT_MS],
                        (long long)need);
    if (conf->num[BROOK_CK_RECONNECT_BACKOFF_MAX_MS] <
        conf->num[BROOK_CK_RECONNECT_BACKOFF_MS])
        return conf_err(errstr, errlen,
                        "reconnect.backoff.max.ms must be >= "
                        "reconnect.backoff.ms");
    /* Kafka's rule: several heartbeats must fit in a session */
    if (conf->num[BROOK_CK_HEARTBEAT_INTERVAL_MS] >=
        conf->num[BROOK_CK_SESSION_TIMEOUT_MS])
        return conf_err(errstr, errlen,
                        "heartbeat.interval.ms must be lower than "
                        "session.timeout.ms");
    return 0;
}
