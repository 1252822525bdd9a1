/*
 * zkconfig.c -- the broker's side of dynamic configuration in ZooKeeper
 * (issue #6; broker/dynconfig.h has the layers and their precedence):
 * reading config entities (/config/topics/<t>, /config/brokers/<default>,
 * /config/brokers/<own id>) into the cluster picture, and following
 * /config/changes the way Kafka's ZkConfigManager does.  Part of the
 * ZooKeeper worker (broker/zkbroker_int.h).
 */
#include "broker/dynconfig.h"
#include "broker/zkbroker_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/logging.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"

#define MOD "zookeeper"
/* More unread notifications than this, and than there are config
 * entities, are not read one by one: every entity is read instead. */
#define CHANGE_BACKLOG_MIN 64

/* Keeps what checks out (bk_dyn_sanitize) of the config entity read from
 * path (get_rc: what the read returned, data its bytes) into *out (empty
 * on entry; freed by the caller, even on failure).  An absent znode has
 * no pairs; one whose JSON does not decode sets only the values that lose
 * nothing (retention -1, no unclean election; with a warning), so that
 * every broker applies the same thing whatever it read before. */
static int entity_from(const char *path, bk_dyn_entity kind, int get_rc,
                       const bk_buf *data, bk_zkc_config *out)
{
    if (get_rc != 0 && get_rc != -BK_ENOENT)
        return get_rc;
    bk_zkc_config in = {0};
    if (get_rc == 0 && data->len > 0) {
        char err[256];
        if (bk_zkc_config_decode(data->data, data->len, &in, err, sizeof err) !=
            0) {
            /* Whatever it meant, nothing looser than it may apply where
             * data could be lost: invalid retention and unclean election
             * values stand as "keep everything" and "no" (the sanitizer
             * turns these into -1 / false on every broker alike). */
            BK_WARN(MOD,
                    "%s: %s (ignored: retention keeps everything, no "
                    "unclean election, the rest from the next layer)",
                    path, err);
            bk_zkc_config_free(&in);
            bool broker = kind == BK_DYN_BROKER;
            if (bk_zkc_config_add(&in,
                                  broker ? "log.retention.ms" : "retention.ms",
                                  "?") != 0 ||
                bk_zkc_config_add(
                    &in, broker ? "log.retention.bytes" : "retention.bytes",
                    "?") != 0 ||
                bk_zkc_config_add(&in, "unclean.leader.election.enable", "?") !=
                    0) {
                bk_zkc_config_free(&in);
                return -BK_ENOMEM;
            }
        }
    }
    int rc = bk_dyn_sanitize(kind, path, &in, out);
    bk_zkc_config_free(&in);
    return rc < 0 ? rc : 0;
}

/* Reads the config entity at path into *out (see entity_from).  No
 * watch: changes are announced under /config/changes
 * (read_config_changes). */
static int read_entity(bk_zkb *z, const char *path, bk_dyn_entity kind,
                       bk_zkc_config *out)
{
    bk_buf b = BK_BUF_INIT;
    int rc = bk_zk_get(z->zk, path, &b, NULL, NULL, NULL);
    rc = entity_from(path, kind, rc, &b, out);
    bk_buf_free(&b);
    return rc;
}

/* Puts topic's checked overrides cfg into the picture. */
static int set_topic_config(bk_zkb *z, const char *topic,
                            const bk_zkc_config *cfg)
{
    const char **keys = calloc(cfg->n ? cfg->n : 1, sizeof *keys);
    const char **vals = calloc(cfg->n ? cfg->n : 1, sizeof *vals);
    int rc = keys && vals ? 0 : -BK_ENOMEM;
    for (size_t i = 0; rc == 0 && i < cfg->n; i++) {
        keys[i] = cfg->kv[i].key;
        vals[i] = cfg->kv[i].value;
    }
    if (rc == 0) {
        rc = bk_md_set_topic_config(z->md, topic, keys, vals, cfg->n);
        if (rc == -BK_ENOENT)
            rc = 0;
    }
    free(keys);
    free(vals);
    return rc;
}

/* /config/topics/<t>: the topic's config overrides. */
int bk_zkb_read_topic_config(bk_zkb *z, const char *topic)
{
    char path[BK_ZKC_PATH_MAX];
    if (bk_zkc_path_topic_config(path, topic) != 0)
        return -BK_EINVAL;
    bk_zkc_config cfg = {0};
    int rc = read_entity(z, path, BK_DYN_TOPIC, &cfg);
    if (rc == 0)
        rc = set_topic_config(z, topic, &cfg);
    bk_zkc_config_free(&cfg);
    return rc;
}

/* /config/brokers/<default> (dflt) or /config/brokers/<our id>: dynamic
 * broker configs, into md->dyn_default / md->dyn_broker. */
int bk_zkb_read_broker_entity(bk_zkb *z, bool dflt)
{
    char path[BK_ZKC_PATH_MAX], id[16];
    snprintf(id, sizeof id, "%d", (int)z->o.cfg->broker_id);
    if (bk_zkc_path_entity_config(path, BK_ZKC_ENTITY_BROKERS,
                                  dflt ? BK_ZKC_ENTITY_DEFAULT : id) != 0)
        return -BK_EINVAL;
    bk_zkc_config cfg = {0};
    int rc = read_entity(z, path, BK_DYN_BROKER, &cfg);
    const char **keys = calloc(cfg.n ? cfg.n : 1, sizeof *keys);
    const char **vals = calloc(cfg.n ? cfg.n : 1, sizeof *vals);
    if (rc == 0 && (!keys || !vals))
        rc = -BK_ENOMEM;
    for (size_t i = 0; rc == 0 && i < cfg.n; i++) {
        keys[i] = cfg.kv[i].key;
        vals[i] = cfg.kv[i].value;
    }
    if (rc == 0)
        rc = bk_md_cfg_set(dflt ? &z->md->dyn_default : &z->md->dyn_broker,
                           keys, vals, cfg.n);
    free(keys);
    free(vals);
    bk_zkc_config_free(&cfg);
    return rc;
}

/* Reads every config entity this broker applies again: both broker
 * entities and every topic's (pipelined: one round trip per
 * BK_ZK_GET_WINDOW topics).  For what no notification announces: a
 * notification that vanished unread, a re-created /config/changes. */
/* Reads the config entities of topics names[0..n) (in the picture) in one
 * pipelined batch and puts them into the picture. */
static int read_topic_configs(bk_zkb *z, const char *const *names, size_t n)
{
    if (n == 0)
        return 0;
    int rc = 0;
    char **topics = calloc(n, sizeof *topics);
    char(*paths)[BK_ZKC_PATH_MAX] = calloc(n, sizeof *paths);
    const char **pp = calloc(n, sizeof *pp);
    bk_buf *bufs = calloc(n, sizeof *bufs);
    int *rcs = calloc(n, sizeof *rcs);
    if (!topics || !paths || !pp || !bufs || !rcs)
        rc = -BK_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        /* Copies: setting a topic's config must not pull names away. */
        if (!(topics[i] = strdup(names[i])))
            rc = -BK_ENOMEM;
        else if (bk_zkc_path_topic_config(paths[i], topics[i]) != 0)
            rc = -BK_EINVAL;
        else
            pp[i] = paths[i];
    }
    if (rc == 0)
        rc = bk_zk_get_many(z->zk, pp, n, bufs, rcs);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bk_zkc_config cfg = {0};
        rc = entity_from(paths[i], BK_DYN_TOPIC, rcs[i], &bufs[i], &cfg);
        if (rc == 0)
            rc = set_topic_config(z, topics[i], &cfg);
        bk_zkc_config_free(&cfg);
    }
    for (size_t i = 0; i < n; i++) {
        if (topics)
            free(topics[i]);
        if (bufs)
            bk_buf_free(&bufs[i]);
    }
    free(topics);
    free(paths);
    free(pp);
    free(bufs);
    free(rcs);
    return rc;
}

static int reread_configs(bk_zkb *z)
{
    int rc = bk_zkb_read_broker_entity(z, true);
    if (rc == 0)
        rc = bk_zkb_read_broker_entity(z, false);
    size_t n = z->md->ntopics;
    if (rc != 0 || n == 0)
        return rc;
    const char **names = calloc(n, sizeof *names);
    if (!names)
        return -BK_ENOMEM;
    for (size_t i = 0; i < n; i++)
        names[i] = z->md->topics[i].name;
    rc = read_topic_configs(z, names, n);
    free(names);
    return rc;
}

/* Applies the notification naming entity_path ("topics/<t>",
 * "brokers/<default>", "brokers/<id>") by re-reading that entity. */
static int apply_change(bk_zkb *z, const char *entity_path)
{
    static const char topics[] = BK_ZKC_ENTITY_TOPICS "/";
    static const char brokers[] = BK_ZKC_ENTITY_BROKERS "/";
    if (strncmp(entity_path, topics, sizeof topics - 1) == 0) {
        const char *t = entity_path + sizeof topics - 1;
        /* A topic not in the picture yet gets its config with its
         * assignment (read_topic). */
        return bk_md_topic_find(z->md, t) ? bk_zkb_read_topic_config(z, t) : 0;
    }
    if (strncmp(entity_path, brokers, sizeof brokers - 1) == 0) {
        const char *name = entity_path + sizeof brokers - 1;
        if (strcmp(name, BK_ZKC_ENTITY_DEFAULT) == 0)
            return bk_zkb_read_broker_entity(z, true);
        int32_t id;
        if (bk_zkc_parse_id(name, &id) && id == z->o.cfg->broker_id)
            return bk_zkb_read_broker_entity(z, false);
        return 0; /* another broker's own configs */
    }
    BK_DEBUG(MOD, "config change for %s: nothing here applies it", entity_path);
    return 0;
}

/* A notification: its sequence number and child name (borrowed). */
typedef struct change_note {
    int64_t seq;
    const char *name;
} change_note;

static int cmp_change_note(const void *a, const void *b)
{
    int64_t x = ((const change_note *)a)->seq;
    int64_t y = ((const change_note *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Applies the notifications notes[0..n) (above last_change, in order):
 * reads them (pipelined) and re-reads each entity they name once, however
 * many times it appears.  *vanished is set when one was deleted before we
 * read it (its entity is unknown).  0 or -BK_E* (then nothing counts as
 * handled: the caller retries the whole batch). */
static int apply_changes(bk_zkb *z, const change_note *notes, size_t n,
                         bool *vanished)
{
    char(*paths)[BK_ZKC_PATH_MAX] = calloc(n, sizeof *paths);
    const char **pp = calloc(n, sizeof *pp);
    bk_buf *bufs = calloc(n, sizeof *bufs);
    int *rcs = calloc(n, sizeof *rcs);
    char **eps = calloc(n, sizeof *eps); /* distinct entities, in order */
    size_t neps = 0;
    strset seen = {0};
    int rc = paths && pp && bufs && rcs && eps ? 0 : -BK_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", BK_ZKC_CONFIG_CHANGES,
                 notes[i].name);
        pp[i] = paths[i];
    }
    if (rc == 0)
        rc = bk_zk_get_many(z->zk, pp, n, bufs, rcs);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (rcs[i] == -BK_ENOENT) {
            /* Deleted before we read it (a purge, an operator): what it
             * announced is unknown. */
            BK_WARN(MOD, "%s vanished before this broker read it", paths[i]);
            *vanished = true;
            continue;
        }
        if (rcs[i] != 0) {
            rc = rcs[i];
            break;
        }
        char ep[BK_ZKC_PATH_MAX], err[256];
        if (bk_zkc_config_change_decode(bufs[i].data, bufs[i].len, ep,
                                        sizeof ep, err, sizeof err) != 0) {
            BK_WARN(MOD, "%s: %s (ignored)", paths[i], err);
            continue;
        }
        BK_DEBUG(MOD, "config change %s: %s", notes[i].name, ep);
        if (sset_has(&seen, ep))
            continue;
        sset_add(&seen, ep); /* out of memory: only a second re-read */
        if (!(eps[neps] = strdup(ep))) {
            rc = -BK_ENOMEM;
            break;
        }
        neps++;
    }
    /* After a vanished one every entity is read anyway (the caller).
     * Topics in the picture: one pipelined batch (a burst of changes to
     * thousands of topics is a few round trips); the rest one by one. */
    const char **tnames = calloc(neps ? neps : 1, sizeof *tnames);
    size_t nt = 0;
    if (rc == 0 && !tnames)
        rc = -BK_ENOMEM;
    static const char tpfx[] = BK_ZKC_ENTITY_TOPICS "/";
    for (size_t i = 0; rc == 0 && !*vanished && i < neps; i++) {
        if (strncmp(eps[i], tpfx, sizeof tpfx - 1) == 0) {
            const char *t = eps[i] + sizeof tpfx - 1;
            if (bk_md_topic_find(z->md, t))
                tnames[nt++] = t;
            /* else: it gets its config with its assignment */
            continue;
        }
        rc = apply_change(z, eps[i]);
    }
    if (rc == 0 && !*vanished)
        rc = read_topic_configs(z, tnames, nt);
    free(tnames);
    for (size_t i = 0; i < n; i++) {
        if (bufs)
            bk_buf_free(&bufs[i]);
        if (eps)
            free(eps[i]);
    }
    sset_clear(&seen);
    free(paths);
    free(pp);
    free(bufs);
    free(rcs);
    free(eps);
    return rc;
}

/* How many children of a node were created and deleted between two
 * listings of it, prev (cversion cv0) and cur (cversion cv1), both sorted
 * by strcmp: each create and each delete adds one to cversion, so what
 * the listings do not show is (cv1 - cv0 - added - removed) / 2. */
static int64_t unseen_children(const bk_zk_strings *prev, int32_t cv0,
                               const bk_zk_strings *cur, int32_t cv1)
{
    int64_t added = 0, removed = 0;
    size_t i = 0, j = 0;
    while (i < prev->n || j < cur->n) {
        int c = i == prev->n  ? 1
                : j == cur->n ? -1
                              : strcmp(prev->v[i], cur->v[j]);
        if (c < 0) {
            removed++;
            i++;
        } else if (c > 0) {
            added++;
            j++;
        } else {
            i++;
            j++;
        }
    }
    int64_t x = ((int64_t)cv1 - cv0 - added - removed) / 2;
    return x > 0 ? x : 0;
}

/* /config/changes (Kafka's ZkConfigManager): the children are watched;
 * the notifications above the last one handled name entities, which are
 * read again and applied.  At a full read (initial) every entity is read
 * anyway, so the notifications present are only counted as handled (this
 * runs before those reads: a change after it is seen by them or by the
 * next notification).
 *
 * What no notification tells, rare, makes every config entity be read
 * again (reread_configs) and the notifications present count as handled:
 *   - /config/changes deleted (its creation is then watched) or created
 *     again: czxid changes, and sequence numbers start again at 0 (so
 *     notifications present all below last_change mean the same);
 *   - a notification deleted before this broker read it: listed but gone
 *     at the read, or created and deleted between two listings (the
 *     parent's cversion moved more than the listings explain). */
int bk_zkb_read_config_changes(bk_zkb *z, bool initial)
{
    bk_zk_strings names = {0};
    bk_zk_stat st;
    int rc = bk_zkb_watched_children_st(z, BK_ZKC_CONFIG_CHANGES, &names, &st);
    bool present = rc == 0;
    if (rc == -BK_ENOENT)
        rc = 0; /* absent: its creation is watched */
    if (rc != 0)
        return rc;
    int64_t czxid = present ? st.czxid : 0;
    int32_t cversion = present ? st.cversion : 0;
    /* In sequence order: parse each name once, sort. */
    change_note *notes = calloc(names.n ? names.n : 1, sizeof *notes);
    size_t n = 0;
    if (!notes) {
        bk_zk_strings_free(&names);
        return -BK_ENOMEM;
    }
    for (size_t i = 0; i < names.n; i++) {
        int64_t seq = bk_zkc_config_change_seq(names.v[i]);
        if (seq >= 0)
            notes[n++] = (change_note){seq, names.v[i]};
    }
    if (n > 1)
        qsort(notes, n, sizeof *notes, cmp_change_note);
    int64_t newest = n ? notes[n - 1].seq : -1;
    if (!initial && !z->cfg_reread) {
        int64_t unseen;
        if (czxid != z->changes_czxid || (n > 0 && newest < z->last_change)) {
            BK_WARN(MOD,
                    "%s was %s (notifications up to %" PRId64
                    " handled): reading every config again",
                    BK_ZKC_CONFIG_CHANGES,
                    czxid == 0 ? "deleted" : "created again", z->last_change);
            z->cfg_reread = true;
        } else if (present && (unseen = unseen_children(
                                   &z->changes_prev, z->changes_cversion,
                                   &names, cversion)) > 0) {
            BK_WARN(MOD,
                    "%" PRId64 " notification(s) under %s came and went "
                    "before this broker listed them: reading every config "
                    "again",
                    unseen, BK_ZKC_CONFIG_CHANGES);
            z->cfg_reread = true;
        }
    }
    /* The first notification not handled yet. */
    size_t first = 0;
    while (!initial && !z->cfg_reread && first < n &&
           notes[first].seq <= z->last_change)
        first++;
    /* A backlog longer than the list of entities (a burst of changes):
     * reading every entity costs fewer reads than the notifications. */
    if (!initial && !z->cfg_reread && n - first > CHANGE_BACKLOG_MIN &&
        n - first > z->md->ntopics + 2) {
        BK_INFO(MOD,
                "%zu config change notifications to read: reading every "
                "config instead (%zu topics)",
                n - first, z->md->ntopics);
        z->cfg_reread = true;
    }
    bool vanished = false;
    if (!initial && !z->cfg_reread && first < n) {
        rc = apply_changes(z, notes + first, n - first, &vanished);
        if (rc == 0 && vanished) {
            BK_WARN(MOD, "reading every config again");
            z->cfg_reread = true;
        }
    }
    bool all = initial || z->cfg_reread;
    if (rc == 0 && !initial && z->cfg_reread)
        rc = reread_configs(z); /* on failure still due at the retry */
    if (rc == 0) {
        z->cfg_reread = false;
        /* After a full read: the newest present, not the largest ever
         * seen (under a re-created parent the numbers are lower). */
        if (all || newest > z->last_change)
            z->last_change = newest;
    }
    free(notes);
    if (rc == 0) {
        /* This listing is the base of the next one's count -- only once
         * handled: after a failed pass the retry must count a
         * notification listed now and deleted before it as unseen. */
        z->changes_czxid = czxid;
        z->changes_cversion = cversion;
        bk_zk_strings_free(&z->changes_prev);
        z->changes_prev = names;
    } else {
        bk_zk_strings_free(&names);
    }
    return rc;
}
