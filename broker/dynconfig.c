/*
 * dynconfig.c -- effective values of the dynamic configs and the checks
 * on what ZooKeeper holds (see dynconfig.h).
 */
#include "broker/dynconfig.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/batch.h"
#include "common/config.h"
#include "common/err.h"
#include "common/logging.h"
#include "coordinator/topic.h"
#include "proto/protocol.h"

#define MOD "dynconfig"

/* Brook's smallest segment.bytes (the logs would take less, but a segment
 * per batch only costs file descriptors). */
#define MIN_SEGMENT_BYTES 1024

/* Index of topic_key in the dynamic key table, -1 when not there. */
static int key_index(const char *topic_key)
{
    size_t n;
    const bk_dyn_cfg_def *d = bk_dyn_cfg_defs(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(d[i].topic_key, topic_key) == 0)
            return (int)i;
    return -1;
}

/* ------------------------------ static ------------------------------ */

static void put_long(char *out, size_t cap, int64_t v)
{
    snprintf(out, cap, "%" PRId64, v);
}

void bk_dyn_static_from_bcfg(const bk_bcfg *cfg, bk_dyn_static *out)
{
    memset(out, 0, sizeof *out);
    size_t n;
    const bk_dyn_cfg_def *d = bk_dyn_cfg_defs(&n);
    assert(n <= BK_DYN_MAX_KEYS);
    out->n = n;
    const struct bk_cfg *raw = cfg->raw;
    for (size_t i = 0; i < n; i++) {
        const char *k = d[i].topic_key;
        char *v = out->value[i];
        size_t cap = sizeof out->value[i];
        bool set = raw && bk_cfg_is_set(raw, d[i].broker_key);
        if (strcmp(k, "retention.ms") == 0) {
            put_long(v, cap, cfg->retention_ms);
            set = set || (raw && (bk_cfg_is_set(raw, "log.retention.minutes") ||
                                  bk_cfg_is_set(raw, "log.retention.hours")));
        } else if (strcmp(k, "retention.bytes") == 0) {
            put_long(v, cap, cfg->retention_bytes);
        } else if (strcmp(k, "segment.bytes") == 0) {
            put_long(v, cap, cfg->segment_bytes);
        } else if (strcmp(k, "segment.ms") == 0) {
            put_long(v, cap, cfg->roll_ms);
            set = set || (raw && bk_cfg_is_set(raw, "log.roll.hours"));
        } else if (strcmp(k, "flush.messages") == 0) {
            put_long(v, cap, cfg->flush_interval_messages);
        } else if (strcmp(k, "flush.ms") == 0) {
            put_long(v, cap, cfg->flush_interval_ms);
        } else if (strcmp(k, "max.message.bytes") == 0) {
            put_long(v, cap, cfg->message_max_bytes);
        } else if (strcmp(k, "min.insync.replicas") == 0) {
            put_long(v, cap, cfg->min_insync_replicas);
        } else if (strcmp(k, "unclean.leader.election.enable") == 0) {
            snprintf(v, cap, "%s",
                     cfg->unclean_leader_election ? "true" : "false");
        } else {
            /* A key added to the table without a static counterpart
             * here: say so rather than invent a value. */
            snprintf(v, cap, "%s", "");
        }
        out->set[i] = set;
    }
}

/* ------------------------------ layers ------------------------------ */

const char *bk_dyn_lookup(const bk_md *md, const bk_md_topic *t,
                          const char *topic_key, int *source)
{
    const char *bkey = bk_dyn_cfg_broker_key(topic_key);
    const char *v;
    int src = 0;
    if (t && (v = bk_md_topic_config(t, topic_key)) != NULL)
        src = BK_CFG_SRC_TOPIC;
    else if (md && bkey && (v = bk_md_cfg_get(&md->dyn_broker, bkey)) != NULL)
        src = BK_CFG_SRC_DYN_BROKER;
    else if (md && bkey && (v = bk_md_cfg_get(&md->dyn_default, bkey)) != NULL)
        src = BK_CFG_SRC_DYN_DEFAULT;
    else
        v = NULL;
    if (source)
        *source = src;
    return v;
}

size_t bk_dyn_layers(const bk_md *md, const bk_md_topic *t,
                     const bk_dyn_static *st, const char *topic_key,
                     bk_dyn_value out[5])
{
    int i = key_index(topic_key);
    if (i < 0 || (size_t)i >= st->n)
        return 0;
    const char *bkey = bk_dyn_cfg_broker_key(topic_key);
    size_t n = 0;
    const char *v;
    if (t && (v = bk_md_topic_config(t, topic_key)) != NULL)
        out[n++] = (bk_dyn_value){topic_key, v, BK_CFG_SRC_TOPIC};
    if (md && (v = bk_md_cfg_get(&md->dyn_broker, bkey)) != NULL)
        out[n++] = (bk_dyn_value){bkey, v, BK_CFG_SRC_DYN_BROKER};
    if (md && (v = bk_md_cfg_get(&md->dyn_default, bkey)) != NULL)
        out[n++] = (bk_dyn_value){bkey, v, BK_CFG_SRC_DYN_DEFAULT};
    out[n++] = (bk_dyn_value){bkey, st->value[i],
                              st->set[i] ? BK_CFG_SRC_STATIC_BROKER
                                         : BK_CFG_SRC_DEFAULT};
    return n;
}

/* ------------------------------ checks ------------------------------ */

static bool parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = x;
    return true;
}

int bk_dyn_check(const char *topic_key, const char *value, char *norm,
                 size_t normlen, char *err, size_t errlen)
{
    char tmp[256];
    if (!norm) {
        norm = tmp;
        normlen = sizeof tmp;
    }
    if (!bk_topic_cfg_lookup(topic_key)) {
        snprintf(err, errlen, "unknown configuration %s", topic_key);
        return -BK_ENOENT;
    }
    if (bk_topic_cfg_check(topic_key, value, norm, normlen, err, errlen) != 0)
        return -BK_EINVAL;
    int64_t v;
    if (strcmp(topic_key, "segment.bytes") == 0 && parse_i64(norm, &v) &&
        v < MIN_SEGMENT_BYTES) {
        snprintf(err, errlen,
                 "Invalid value %s for configuration %s: Brook needs at "
                 "least %d",
                 value, topic_key, MIN_SEGMENT_BYTES);
        return -BK_EINVAL;
    }
    if (strcmp(topic_key, "max.message.bytes") == 0 && parse_i64(norm, &v) &&
        v < BK_BATCH_HEADER_SIZE) {
        snprintf(err, errlen,
                 "Invalid value %s for configuration %s: smaller than a "
                 "record batch header (%d bytes)",
                 value, topic_key, BK_BATCH_HEADER_SIZE);
        return -BK_EINVAL;
    }
    return 0;
}

int bk_dyn_sanitize(bk_dyn_entity kind, const char *path,
                    const bk_zkc_config *in, bk_zkc_config *out)
{
    assert(out->n == 0);
    int ignored = 0;
    if (!in)
        return 0;
    for (size_t i = 0; i < in->n; i++) {
        const char *key = in->kv[i].key, *val = in->kv[i].value;
        const char *tkey = key;
        if (kind == BK_DYN_BROKER) {
            tkey = bk_dyn_cfg_topic_key(key);
            if (!tkey) {
                BK_WARN(MOD,
                        "%s: %s is not a dynamic broker config Brook "
                        "applies; ignored",
                        path, key);
                ignored++;
                continue;
            }
        }
        char norm[256], err[512];
        int rc = bk_dyn_check(tkey, val, norm, sizeof norm, err, sizeof err);
        if (rc == -BK_ENOENT) {
            /* A topic key Brook does not know changes nothing; keep it as
             * written so that DescribeConfigs shows the znode as is. */
            if (bk_zkc_config_add(out, key, val) != 0)
                return -BK_ENOMEM;
            continue;
        }
        if (rc != 0) {
            /* The same on every broker, whatever it had before (replicas
             * must not differ by their history).  Where falling through
             * to a looser layer could lose data, the value that loses
             * nothing stands in: retention keeps everything, no unclean
             * election.  Otherwise, as if absent: the next layer. */
            const char *safe = strcmp(tkey, "retention.ms") == 0 ||
                                       strcmp(tkey, "retention.bytes") == 0
                                   ? "-1"
                               : strcmp(tkey,
                                        "unclean.leader.election.enable") == 0
                                   ? "false"
                                   : NULL;
            if (safe) {
                BK_WARN(MOD,
                        "%s: ignoring %s=%s (%s); using %s=%s, which "
                        "loses nothing",
                        path, key, val, err, key, safe);
                if (bk_zkc_config_add(out, key, safe) != 0)
                    return -BK_ENOMEM;
            } else {
                BK_WARN(MOD,
                        "%s: ignoring %s=%s (%s); the next layer applies",
                        path, key, val, err);
            }
            ignored++;
            continue;
        }
        if (bk_zkc_config_add(out, key, norm) != 0)
            return -BK_ENOMEM;
    }
    return ignored;
}

/* ------------------------------ applying ------------------------------ */

/* The dynamic value of topic_key as a number, when a layer sets it. */
static bool dyn_long(const bk_md *md, const bk_md_topic *t, const char *key,
                     int64_t *out)
{
    const char *v = bk_dyn_lookup(md, t, key, NULL);
    if (!v)
        return false;
    if (!parse_i64(v, out)) {
        /* bk_dyn_sanitize keeps such values out of the picture. */
        BK_WARN(MOD, "%s=%s does not parse; ignored", key, v);
        return false;
    }
    return true;
}

void bk_dyn_log_config(const bk_md *md, const bk_md_topic *t,
                       const bk_log_config *base, int base_min_isr,
                       bk_log_config *out, int *min_isr)
{
    bk_log_config c = *base;
    int misr = base_min_isr;
    int64_t v;
    if (dyn_long(md, t, "segment.bytes", &v))
        c.segment_bytes = v;
    if (dyn_long(md, t, "segment.ms", &v))
        c.segment_ms = v;
    if (dyn_long(md, t, "retention.ms", &v))
        c.retention_ms = v < 0 ? -1 : v;
    if (dyn_long(md, t, "retention.bytes", &v))
        c.retention_bytes = v < 0 ? -1 : v;
    if (dyn_long(md, t, "max.message.bytes", &v))
        c.max_message_bytes = (int32_t)v;
    /* Kafka's Long.MAX_VALUE means never: the log says -1.  (0 does not
     * get here: bk_dyn_check wants at least 1.) */
    if (dyn_long(md, t, "flush.messages", &v))
        c.flush_messages = v == INT64_MAX ? -1 : v;
    if (dyn_long(md, t, "flush.ms", &v))
        c.flush_ms = v == INT64_MAX ? -1 : v;
    if (dyn_long(md, t, "min.insync.replicas", &v))
        misr = v > INT32_MAX ? INT32_MAX : (int)v;
    /* Not dynamic at broker level: a topic override only. */
    const char *iv = t ? bk_md_topic_config(t, "index.interval.bytes") : NULL;
    if (iv && parse_i64(iv, &v) && v >= 0 && v <= INT32_MAX)
        c.index_interval_bytes = (int32_t)v;
    if (bk_log_config_check(&c) != 0) {
        BK_WARN(MOD, "topic %s: settings out of range; using the broker's",
                t ? t->name : "-");
        c = *base;
        misr = base_min_isr;
    }
    *out = c;
    *min_isr = misr;
}

bool bk_dyn_unclean(const bk_md *md, const bk_md_topic *t, bool static_default)
{
    const char *v =
        bk_dyn_lookup(md, t, "unclean.leader.election.enable", NULL);
    if (!v)
        return static_default;
    return strcmp(v, "true") == 0;
}
