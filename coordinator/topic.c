/*
 * topic.c -- topic names, topic config keys and replica assignment.  See
 * topic.h.
 */
#include "coordinator/topic.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/batch.h"
#include "common/err.h"
#include "proto/protocol.h"

/* ------------------------------ names ------------------------------ */

static bool legal_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int bk_topic_validate_name(const char *name, char *err, size_t errlen)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0) {
        bk_errf(err, errlen, "Topic name is illegal, it can't be empty");
        return BK_ERR_TOPIC_EXCEPTION;
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        bk_errf(err, errlen, "Topic name cannot be \".\" or \"..\"");
        return BK_ERR_TOPIC_EXCEPTION;
    }
    if (n > BK_TOPIC_NAME_MAX) {
        bk_errf(err, errlen,
                "Topic name is illegal, it can't be longer than %d "
                "characters, topic name: %.40s...",
                BK_TOPIC_NAME_MAX, name);
        return BK_ERR_TOPIC_EXCEPTION;
    }
    for (size_t i = 0; i < n; i++) {
        if (!legal_char(name[i])) {
            bk_errf(err, errlen,
                    "Topic name \"%s\" is illegal, it contains a character "
                    "other than ASCII alphanumerics, '.', '_' and '-'",
                    name);
            return BK_ERR_TOPIC_EXCEPTION;
        }
    }
    return 0;
}

bool bk_topic_has_collision_chars(const char *name)
{
    return strchr(name, '.') || strchr(name, '_');
}

bool bk_topic_names_collide(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return false;
    for (;; a++, b++) {
        char x = *a == '.' ? '_' : *a, y = *b == '.' ? '_' : *b;
        if (x != y)
            return false;
        if (!x)
            return true;
    }
}

/* ------------------------------ configs ------------------------------ */

#define NO_COMPACTION                                                          \
    " (accepted for compatibility; no effect: Brook has no log compaction)"

/* Kafka 2.x LogConfig's topic-level keys, with Kafka's types and lower
 * bounds.  Sorted by name (bk_topic_cfg_lookup uses bsearch). */
static const bk_topic_cfg_def defs[] = {
    {.name = "cleanup.policy",
     .type = BK_TCFG_LIST,
     .choices = "compact|delete",
     .unsupported = "compact",
     .doc = "what to do with old segments: delete (compact is refused)"},
    {.name = "compression.type",
     .type = BK_TCFG_STRING,
     .choices = "uncompressed|zstd|lz4|snappy|gzip|producer",
     .unsupported = "snappy",
     .doc = "codec batches are stored with; producer keeps theirs"},
    {.name = "delete.retention.ms",
     .type = BK_TCFG_LONG,
     .min = 0,
     .max = INT64_MAX,
     .doc = "tombstone retention" NO_COMPACTION},
    {.name = "file.delete.delay.ms",
     .type = BK_TCFG_LONG,
     .min = 0,
     .max = INT64_MAX,
     .doc = "delay before a deleted segment is removed"},
    {.name = "flush.messages",
     .type = BK_TCFG_LONG,
     .min = 1, /* Brook: 0 would mean nothing; Kafka takes it */
     .max = INT64_MAX,
     .doc = "fsync after this many messages"},
    {.name = "flush.ms",
     .type = BK_TCFG_LONG,
     .min = 0,
     .max = INT64_MAX,
     .doc = "fsync after this many milliseconds"},
    {.name = "index.interval.bytes",
     .type = BK_TCFG_INT,
     .min = 0,
     .max = INT32_MAX,
     .doc = "bytes between offset index entries"},
    {.name = "max.compaction.lag.ms",
     .type = BK_TCFG_LONG,
     .min = 1,
     .max = INT64_MAX,
     .doc = "max compaction delay" NO_COMPACTION},
    {.name = "max.message.bytes",
     .type = BK_TCFG_INT,
     .min = BK_BATCH_HEADER_SIZE, /* Brook: no batch is smaller */
     .max = INT32_MAX,
     .doc = "largest record batch accepted"},
    {.name = "message.downconversion.enable",
     .type = BK_TCFG_BOOL,
     .doc = "down-convert for old consumers (Brook stores v2 only)"},
    {.name = "message.timestamp.difference.max.ms",
     .type = BK_TCFG_LONG,
     .min = 0,
     .max = INT64_MAX,
     .doc = "max distance of a CreateTime timestamp from the broker clock"},
    {.name = "message.timestamp.type",
     .type = BK_TCFG_STRING,
     .choices = "CreateTime|LogAppendTime",
     .doc = "which timestamp records keep"},
    {.name = "min.cleanable.dirty.ratio",
     .type = BK_TCFG_DOUBLE,
     .dmin = 0,
     .dmax = 1,
     .doc = "compaction trigger" NO_COMPACTION},
    {.name = "min.compaction.lag.ms",
     .type = BK_TCFG_LONG,
     .min = 0,
     .max = INT64_MAX,
     .doc = "min compaction delay" NO_COMPACTION},
    {.name = "min.insync.replicas",
     .type = BK_TCFG_INT,
     .min = 1,
     .max = INT32_MAX,
     .doc = "replicas that must ack an acks=all write"},
    {.name = "preallocate",
     .type = BK_TCFG_BOOL,
     .doc = "preallocate segment files"},
    {.name = "retention.bytes",
     .type = BK_TCFG_LONG,
     .min = INT64_MIN,
     .max = INT64_MAX,
     .doc = "max partition size before deletion; -1 none"},
    {.name = "retention.ms",
     .type = BK_TCFG_LONG,
     .min = -1,
     .max = INT64_MAX,
     .doc = "max age of a segment's data; -1 forever"},
    {.name = "segment.bytes",
     .type = BK_TCFG_INT,
     .min = 1024, /* Brook's brokers need this much (Kafka: 14) */
     .max = INT32_MAX,
     .doc = "segment file size"},
    {.name = "segment.index.bytes",
     .type = BK_TCFG_INT,
     .min = 8,
     .max = INT32_MAX,
     .doc = "offset index size per segment"},
    {.name = "segment.jitter.ms",
     .type = BK_TCFG_LONG,
     .min = 0,
     .max = INT64_MAX,
     .doc = "random jitter subtracted from segment.ms"},
    {.name = "segment.ms",
     .type = BK_TCFG_LONG,
     .min = 1,
     .max = INT64_MAX,
     .doc = "roll a segment after this age"},
    {.name = "unclean.leader.election.enable",
     .type = BK_TCFG_BOOL,
     .doc = "allow an out-of-sync replica to become leader"},
};

static const bk_dyn_cfg_def dyn_defs[] = {
    {"flush.messages", "log.flush.interval.messages"},
    {"flush.ms", "log.flush.interval.ms"},
    {"max.message.bytes", "message.max.bytes"},
    {"min.insync.replicas", "min.insync.replicas"},
    {"retention.bytes", "log.retention.bytes"},
    {"retention.ms", "log.retention.ms"},
    {"segment.bytes", "log.segment.bytes"},
    {"segment.ms", "log.roll.ms"},
    {"unclean.leader.election.enable", "unclean.leader.election.enable"},
};

const bk_dyn_cfg_def *bk_dyn_cfg_defs(size_t *n)
{
    *n = sizeof dyn_defs / sizeof dyn_defs[0];
    return dyn_defs;
}

const char *bk_dyn_cfg_broker_key(const char *topic_key)
{
    for (size_t i = 0; i < sizeof dyn_defs / sizeof dyn_defs[0]; i++)
        if (strcmp(dyn_defs[i].topic_key, topic_key) == 0)
            return dyn_defs[i].broker_key;
    return NULL;
}

const char *bk_dyn_cfg_topic_key(const char *broker_key)
{
    for (size_t i = 0; i < sizeof dyn_defs / sizeof dyn_defs[0]; i++)
        if (strcmp(dyn_defs[i].broker_key, broker_key) == 0)
            return dyn_defs[i].topic_key;
    return NULL;
}

const bk_topic_cfg_def *bk_topic_cfg_defs(size_t *n)
{
    *n = sizeof defs / sizeof defs[0];
    return defs;
}

static int def_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const bk_topic_cfg_def *)elem)->name);
}

const bk_topic_cfg_def *bk_topic_cfg_lookup(const char *key)
{
    return bsearch(key, defs, sizeof defs / sizeof defs[0], sizeof defs[0],
                   def_cmp);
}

/* True when [s, s+n) is one of the '|'-separated words of list. */
static bool in_list(const char *list, const char *s, size_t n)
{
    while (list && *list) {
        const char *bar = strchr(list, '|');
        size_t wl = bar ? (size_t)(bar - list) : strlen(list);
        if (wl == n && memcmp(list, s, n) == 0)
            return true;
        if (!bar)
            break;
        list = bar + 1;
    }
    return false;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Trims [*s, *s+*n). */
static void trim(const char **s, size_t *n)
{
    while (*n && is_blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_blank((*s)[*n - 1]))
        (*n)--;
}

static void choices_text(const bk_topic_cfg_def *d, char *out, size_t len)
{
    /* "[a, b, c]" for messages */
    size_t o = 0;
    out[o++] = '[';
    for (const char *p = d->choices; *p && o + 3 < len; p++) {
        if (*p == '|') {
            out[o++] = ',';
            out[o++] = ' ';
        } else {
            out[o++] = *p;
        }
    }
    out[o++] = ']';
    out[o] = '\0';
}

/* One STRING value or LIST item; 0 or BK_ERR_INVALID_CONFIG.  Messages
 * name `key` (the topic key, or its broker-level synonym). */
static int check_word(const bk_topic_cfg_def *d, const char *key, const char *s,
                      size_t n, const char *whole, char *err, size_t errlen)
{
    if (d->unsupported && in_list(d->unsupported, s, n)) {
        if (strcmp(d->name, "cleanup.policy") == 0)
            bk_errf(err, errlen,
                    "cleanup.policy=%.*s is not supported by Brook (no log "
                    "compaction); use cleanup.policy=delete",
                    (int)n, s);
        else
            bk_errf(err, errlen, "%s=%.*s is not supported by Brook", key,
                    (int)n, s);
        return BK_ERR_INVALID_CONFIG;
    }
    if (!in_list(d->choices, s, n)) {
        char ch[160];
        choices_text(d, ch, sizeof ch);
        bk_errf(err, errlen,
                "Invalid value %s for configuration %s: String must be one "
                "of: %s",
                whole, key, ch + 1);
        /* drop the closing bracket of the list form */
        if (err && errlen) {
            size_t l = strlen(err);
            if (l && err[l - 1] == ']')
                err[l - 1] = '\0';
        }
        return BK_ERR_INVALID_CONFIG;
    }
    return 0;
}

static int put_norm(char *norm, size_t normlen, const char *s, size_t n,
                    const char *key, char *err, size_t errlen)
{
    if (!norm)
        return 0;
    if (n >= normlen) {
        bk_errf(err, errlen, "Invalid value for configuration %s: too long",
                key);
        return BK_ERR_INVALID_CONFIG;
    }
    memcpy(norm, s, n);
    norm[n] = '\0';
    return 0;
}

/* Checks value against d's rules; messages name `key`. */
static int check_def(const bk_topic_cfg_def *d, const char *key,
                     const char *value, char *norm, size_t normlen, char *err,
                     size_t errlen)
{
    const char *s = value;
    size_t n = strlen(value);
    trim(&s, &n);
    char tmp[128];
    if (n == 0 && d->type != BK_TCFG_LIST) {
        bk_errf(err, errlen, "Invalid value \"\" for configuration %s: empty",
                key);
        return BK_ERR_INVALID_CONFIG;
    }
    switch (d->type) {
    case BK_TCFG_INT:
    case BK_TCFG_LONG: {
        if (n >= sizeof tmp)
            goto not_number;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        char *end;
        errno = 0;
        long long v = strtoll(tmp, &end, 10);
        if (*end || end == tmp || errno == ERANGE)
            goto not_number;
        if (d->type == BK_TCFG_INT && (v < INT32_MIN || v > INT32_MAX)) {
            bk_errf(err, errlen,
                    "Invalid value %s for configuration %s: Not a number of "
                    "type INT",
                    tmp, key);
            return BK_ERR_INVALID_CONFIG;
        }
        if (v < d->min || v > d->max) {
            bk_errf(err, errlen,
                    "Invalid value %s for configuration %s: Value must be at "
                    "least %lld",
                    tmp, key, (long long)d->min);
            return BK_ERR_INVALID_CONFIG;
        }
        /* normalized: as strtoll read it ("+5" -> "5", "007" -> "7") */
        snprintf(tmp, sizeof tmp, "%lld", v);
        return put_norm(norm, normlen, tmp, strlen(tmp), key, err, errlen);
    not_number:
        bk_errf(err, errlen,
                "Invalid value %.*s for configuration %s: Not a number of type "
                "%s",
                (int)(n > 64 ? 64 : n), s, key,
                d->type == BK_TCFG_INT ? "INT" : "LONG");
        return BK_ERR_INVALID_CONFIG;
    }
    case BK_TCFG_BOOL:
        if (n == 4 && strncasecmp(s, "true", 4) == 0)
            return put_norm(norm, normlen, "true", 4, key, err, errlen);
        if (n == 5 && strncasecmp(s, "false", 5) == 0)
            return put_norm(norm, normlen, "false", 5, key, err, errlen);
        bk_errf(err, errlen,
                "Invalid value %.*s for configuration %s: Expected value to be "
                "either true or false",
                (int)(n > 64 ? 64 : n), s, key);
        return BK_ERR_INVALID_CONFIG;
    case BK_TCFG_DOUBLE: {
        if (n >= sizeof tmp)
            goto not_double;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        char *end;
        double v = strtod(tmp, &end);
        /* decimal only: no hex, inf or nan */
        if (*end || end == tmp || !isfinite(v) || strpbrk(tmp, "xXnN"))
            goto not_double;
        if (v < d->dmin || v > d->dmax) {
            bk_errf(err, errlen,
                    "Invalid value %s for configuration %s: Value must be "
                    "between %g and %g",
                    tmp, key, d->dmin, d->dmax);
            return BK_ERR_INVALID_CONFIG;
        }
        return put_norm(norm, normlen, s, n, key, err, errlen);
    not_double:
        bk_errf(err, errlen,
                "Invalid value %.*s for configuration %s: Not a number of type "
                "DOUBLE",
                (int)(n > 64 ? 64 : n), s, key);
        return BK_ERR_INVALID_CONFIG;
    }
    case BK_TCFG_STRING: {
        char whole[96];
        snprintf(whole, sizeof whole, "%.*s", (int)(n > 64 ? 64 : n), s);
        int rc = check_word(d, key, s, n, whole, err, errlen);
        if (rc)
            return rc;
        return put_norm(norm, normlen, s, n, key, err, errlen);
    }
    case BK_TCFG_LIST: {
        /* items trimmed, joined back with ',' */
        char out[256];
        size_t o = 0;
        const char *p = s, *end = s + n;
        if (n == 0) {
            bk_errf(err, errlen,
                    "Invalid value \"\" for configuration %s: empty list", key);
            return BK_ERR_INVALID_CONFIG;
        }
        while (p <= end) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *ie = comma ? comma : end;
            const char *is = p;
            size_t il = (size_t)(ie - is);
            trim(&is, &il);
            char whole[96];
            snprintf(whole, sizeof whole, "%.*s", (int)(il > 64 ? 64 : il), is);
            int rc = check_word(d, key, is, il, whole, err, errlen);
            if (rc)
                return rc;
            if (o + il + 2 >= sizeof out) {
                bk_errf(err, errlen,
                        "Invalid value for configuration %s: too long", key);
                return BK_ERR_INVALID_CONFIG;
            }
            if (o)
                out[o++] = ',';
            memcpy(out + o, is, il);
            o += il;
            if (!comma)
                break;
            p = comma + 1;
        }
        return put_norm(norm, normlen, out, o, key, err, errlen);
    }
    }
    assert(!"unreachable");
    return BK_ERR_INVALID_CONFIG;
}

int bk_topic_cfg_check(const char *key, const char *value, char *norm,
                       size_t normlen, char *err, size_t errlen)
{
    const bk_topic_cfg_def *d = bk_topic_cfg_lookup(key);
    if (!d) {
        bk_errf(err, errlen, "Unknown topic config name: %s", key);
        return BK_ERR_INVALID_CONFIG;
    }
    return check_def(d, key, value, norm, normlen, err, errlen);
}

int bk_topic_broker_cfg_check(const char *broker_key, const char *value,
                              char *norm, size_t normlen, char *err,
                              size_t errlen)
{
    const char *tk = bk_dyn_cfg_topic_key(broker_key);
    const bk_topic_cfg_def *d = tk ? bk_topic_cfg_lookup(tk) : NULL;
    if (!d) {
        /* list what may be set, so the operator sees the names Brook
         * knows (a Kafka operator may try a static key such as
         * num.io.threads, which needs broker.properties and a restart) */
        char known[512];
        size_t o = 0;
        known[0] = '\0';
        for (size_t i = 0; i < sizeof dyn_defs / sizeof dyn_defs[0]; i++) {
            int k = snprintf(known + o, sizeof known - o, "%s%s", i ? ", " : "",
                             dyn_defs[i].broker_key);
            if (k < 0 || (size_t)k >= sizeof known - o)
                break;
            o += (size_t)k;
        }
        bk_errf(err, errlen,
                "Unknown or non-dynamic broker config name: %s (dynamic "
                "broker configs: %s)",
                broker_key, known);
        return BK_ERR_INVALID_CONFIG;
    }
    return check_def(d, broker_key, value, norm, normlen, err, errlen);
}

/* ------------------------ replica assignment ------------------------ */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int bk_topic_assign(const int32_t *brokers, int nbrokers, int32_t partitions,
                    int rf, int start, int shift, int32_t *out, char *err,
                    size_t errlen)
{
    if (partitions < 1) {
        bk_errf(err, errlen, "number of partitions must be larger than 0");
        return BK_ERR_INVALID_PARTITIONS;
    }
    if (rf < 1) {
        bk_errf(err, errlen, "replication factor must be larger than 0");
        return BK_ERR_INVALID_REPLICATION_FACTOR;
    }
    if (rf > BK_TOPIC_MAX_RF) {
        bk_errf(err, errlen,
                "replication factor %d larger than Brook's "
                "maximum of %d",
                rf, BK_TOPIC_MAX_RF);
        return BK_ERR_INVALID_REPLICATION_FACTOR;
    }
    if (rf > nbrokers) {
        bk_errf(err, errlen,
                "replication factor %d larger than available brokers: %d", rf,
                nbrokers < 0 ? 0 : nbrokers);
        return BK_ERR_INVALID_REPLICATION_FACTOR;
    }
    int32_t *ids = malloc((size_t)nbrokers * sizeof *ids);
    if (!ids) {
        bk_errf(err, errlen, "out of memory");
        return BK_ERR_UNKNOWN;
    }
    memcpy(ids, brokers, (size_t)nbrokers * sizeof *ids);
    qsort(ids, (size_t)nbrokers, sizeof *ids, cmp_i32);
    const int n = nbrokers;
    start = start < 0 ? 0 : start % n;
    shift = shift < 0 ? 0 : shift % n;
    for (int32_t p = 0; p < partitions; p++) {
        /* after each full round over the brokers, move the followers one
         * step further from their leader, so the same pairs do not always
         * replicate each other */
        if (p > 0 && p % n == 0)
            shift++;
        int first = (int)(((int64_t)p + start) % n);
        int32_t *r = out + (size_t)p * (size_t)rf;
        r[0] = ids[first];
        for (int j = 0; j < rf - 1; j++) {
            /* distance 1..n-1 from the first replica: never the same
             * broker twice within a partition */
            int dist = 1 + (int)(((int64_t)shift + j) % (n - 1));
            r[j + 1] = ids[(first + dist) % n];
        }
    }
    free(ids);
    return 0;
}
