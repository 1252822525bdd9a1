/*
 * metadata.c -- the cluster picture (see metadata.h).
 */
#include "broker/metadata.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static int32_t *dup_ids(const int32_t *v, size_t n)
{
    int32_t *d = malloc((n ? n : 1) * sizeof *d);
    if (d && n)
        memcpy(d, v, n * sizeof *d);
    return d;
}

static void part_free(bk_md_part *p)
{
    free(p->replicas);
    free(p->isr);
}

static void cfg_free(bk_md_topic *t)
{
    for (size_t i = 0; i < t->ncfg; i++) {
        free(t->cfg_keys[i]);
        free(t->cfg_vals[i]);
    }
    free(t->cfg_keys);
    free(t->cfg_vals);
    t->cfg_keys = t->cfg_vals = NULL;
    t->ncfg = 0;
}

static void topic_free(bk_md_topic *t)
{
    for (size_t i = 0; i < t->nparts; i++)
        part_free(&t->parts[i]);
    free(t->parts);
    free(t->name);
    cfg_free(t);
}

/* Copies n keys/values into t (replacing what it had). */
static int cfg_copy(bk_md_topic *t, const char *const *keys,
                    const char *const *vals, size_t n)
{
    char **k = calloc(n ? n : 1, sizeof *k);
    char **v = calloc(n ? n : 1, sizeof *v);
    bool ok = k && v;
    for (size_t i = 0; ok && i < n; i++) {
        k[i] = strdup(keys[i]);
        v[i] = strdup(vals[i]);
        ok = k[i] && v[i];
    }
    if (!ok) {
        for (size_t i = 0; k && v && i < n; i++) {
            free(k[i]);
            free(v[i]);
        }
        free(k);
        free(v);
        return -BK_ENOMEM;
    }
    cfg_free(t);
    t->cfg_keys = k;
    t->cfg_vals = v;
    t->ncfg = n;
    return 0;
}

static void kv_free(bk_md_cfg *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->vals[i]);
    }
    free(c->keys);
    free(c->vals);
    memset(c, 0, sizeof *c);
}

int bk_md_cfg_set(bk_md_cfg *c, const char *const *keys,
                  const char *const *vals, size_t n)
{
    bk_md_cfg t = {calloc(n ? n : 1, sizeof(char *)),
                   calloc(n ? n : 1, sizeof(char *)), 0};
    bool ok = t.keys && t.vals;
    for (size_t i = 0; ok && i < n; i++) {
        t.keys[i] = strdup(keys[i]);
        t.vals[i] = strdup(vals[i]);
        t.n++;
        ok = t.keys[i] && t.vals[i];
    }
    if (!ok) {
        kv_free(&t);
        return -BK_ENOMEM;
    }
    kv_free(c);
    *c = t;
    return 0;
}

const char *bk_md_cfg_get(const bk_md_cfg *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0)
            return c->vals[i];
    return NULL;
}

static void broker_free(bk_md_broker *b)
{
    free(b->host);
    free(b->rack);
}

bk_md *bk_md_new(void)
{
    bk_md *md = calloc(1, sizeof *md);
    if (!md)
        return NULL;
    md->cluster_id = strdup("");
    md->controller_id = -1;
    if (!md->cluster_id) {
        free(md);
        return NULL;
    }
    return md;
}

void bk_md_free(bk_md *md)
{
    if (!md)
        return;
    for (size_t i = 0; i < md->nbrokers; i++)
        broker_free(&md->brokers[i]);
    free(md->brokers);
    for (size_t i = 0; i < md->ntopics; i++)
        topic_free(&md->topics[i]);
    free(md->topics);
    free(md->cluster_id);
    kv_free(&md->dyn_default);
    kv_free(&md->dyn_broker);
    free(md);
}

bk_md *bk_md_clone(const bk_md *md)
{
    bk_md *c = bk_md_new();
    if (!c)
        return NULL;
    c->controller_id = md->controller_id;
    c->complete = md->complete;
    if (bk_md_set_cluster_id(c, md->cluster_id) != 0)
        goto fail;
    if (bk_md_cfg_set(&c->dyn_default,
                      (const char *const *)md->dyn_default.keys,
                      (const char *const *)md->dyn_default.vals,
                      md->dyn_default.n) != 0 ||
        bk_md_cfg_set(&c->dyn_broker, (const char *const *)md->dyn_broker.keys,
                      (const char *const *)md->dyn_broker.vals,
                      md->dyn_broker.n) != 0)
        goto fail;
    c->brokers = calloc(md->nbrokers ? md->nbrokers : 1, sizeof *c->brokers);
    c->topics = calloc(md->ntopics ? md->ntopics : 1, sizeof *c->topics);
    if (!c->brokers || !c->topics)
        goto fail;
    c->cap_brokers = md->nbrokers ? md->nbrokers : 1;
    c->cap_topics = md->ntopics ? md->ntopics : 1;
    for (size_t i = 0; i < md->nbrokers; i++) {
        const bk_md_broker *s = &md->brokers[i];
        bk_md_broker *d = &c->brokers[i];
        d->id = s->id;
        d->port = s->port;
        d->epoch = s->epoch;
        d->host = strdup(s->host);
        d->rack = strdup(s->rack);
        c->nbrokers++;
        if (!d->host || !d->rack)
            goto fail;
    }
    for (size_t i = 0; i < md->ntopics; i++) {
        const bk_md_topic *s = &md->topics[i];
        bk_md_topic *d = &c->topics[i];
        c->ntopics++;
        d->deleting = s->deleting;
        if (s->ncfg && cfg_copy(d, (const char *const *)s->cfg_keys,
                                (const char *const *)s->cfg_vals, s->ncfg) != 0)
            goto fail;
        d->name = strdup(s->name);
        d->parts = calloc(s->nparts ? s->nparts : 1, sizeof *d->parts);
        if (!d->name || !d->parts)
            goto fail;
        for (size_t k = 0; k < s->nparts; k++) {
            const bk_md_part *sp = &s->parts[k];
            bk_md_part *dp = &d->parts[k];
            *dp = *sp;
            dp->replicas = dup_ids(sp->replicas, sp->nreplicas);
            dp->isr = dup_ids(sp->isr, sp->nisr);
            d->nparts++;
            if (!dp->replicas || !dp->isr)
                goto fail;
        }
    }
    return c;
fail:
    bk_md_free(c);
    return NULL;
}

/* Index of the first broker with id >= id. */
static size_t broker_pos(const bk_md *md, int32_t id)
{
    size_t lo = 0, hi = md->nbrokers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (md->brokers[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t topic_pos(const bk_md *md, const char *name)
{
    size_t lo = 0, hi = md->ntopics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(md->topics[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const bk_md_broker *bk_md_broker_find(const bk_md *md, int32_t id)
{
    size_t i = broker_pos(md, id);
    return i < md->nbrokers && md->brokers[i].id == id ? &md->brokers[i] : NULL;
}

const bk_md_topic *bk_md_topic_find(const bk_md *md, const char *name)
{
    size_t i = topic_pos(md, name);
    return i < md->ntopics && strcmp(md->topics[i].name, name) == 0
               ? &md->topics[i]
               : NULL;
}

const bk_md_part *bk_md_part_find(const bk_md *md, const char *topic,
                                  int32_t partition)
{
    const bk_md_topic *t = bk_md_topic_find(md, topic);
    if (!t || partition < 0 || (size_t)partition >= t->nparts)
        return NULL;
    return &t->parts[partition];
}

void bk_md_set_broker_epoch(bk_md *md, int32_t id, int64_t epoch)
{
    size_t i = broker_pos(md, id);
    if (i < md->nbrokers && md->brokers[i].id == id)
        md->brokers[i].epoch = epoch;
}

int bk_md_set_broker(bk_md *md, int32_t id, const char *host, int32_t port,
                     const char *rack)
{
    char *h = strdup(host ? host : "");
    char *r = strdup(rack ? rack : "");
    if (!h || !r) {
        free(h);
        free(r);
        return -BK_ENOMEM;
    }
    size_t i = broker_pos(md, id);
    int64_t epoch = 0; /* kept across an update of the same broker */
    if (i < md->nbrokers && md->brokers[i].id == id) {
        epoch = md->brokers[i].epoch;
        broker_free(&md->brokers[i]);
    } else {
        if (md->nbrokers == md->cap_brokers) {
            size_t cap = md->cap_brokers ? 2 * md->cap_brokers : 8;
            bk_md_broker *v = realloc(md->brokers, cap * sizeof *v);
            if (!v) {
                free(h);
                free(r);
                return -BK_ENOMEM;
            }
            md->brokers = v;
            md->cap_brokers = cap;
        }
        memmove(&md->brokers[i + 1], &md->brokers[i],
                (md->nbrokers - i) * sizeof *md->brokers);
        md->nbrokers++;
    }
    md->brokers[i] = (bk_md_broker){id, h, port, r, epoch};
    return 0;
}

void bk_md_remove_broker(bk_md *md, int32_t id)
{
    size_t i = broker_pos(md, id);
    if (i >= md->nbrokers || md->brokers[i].id != id)
        return;
    broker_free(&md->brokers[i]);
    memmove(&md->brokers[i], &md->brokers[i + 1],
            (md->nbrokers - i - 1) * sizeof *md->brokers);
    md->nbrokers--;
}

void bk_md_retain_brokers(bk_md *md, const int32_t *ids, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < md->nbrokers; i++) {
        bool keep = false;
        for (size_t k = 0; k < n && !keep; k++)
            keep = ids[k] == md->brokers[i].id;
        if (keep)
            md->brokers[w++] = md->brokers[i];
        else
            broker_free(&md->brokers[i]);
    }
    md->nbrokers = w;
}

static int topics_grow(bk_md *md)
{
    if (md->ntopics < md->cap_topics)
        return 0;
    size_t cap = md->cap_topics ? 2 * md->cap_topics : 16;
    bk_md_topic *v = realloc(md->topics, cap * sizeof *v);
    if (!v)
        return -BK_ENOMEM;
    md->topics = v;
    md->cap_topics = cap;
    return 0;
}

int bk_md_set_topic(bk_md *md, const char *name, size_t nparts,
                    int32_t *const *replicas, const size_t *nrep)
{
    bk_md_part *parts = calloc(nparts ? nparts : 1, sizeof *parts);
    if (!parts)
        return -BK_ENOMEM;
    size_t i = topic_pos(md, name);
    bk_md_topic *old = i < md->ntopics && strcmp(md->topics[i].name, name) == 0
                           ? &md->topics[i]
                           : NULL;
    for (size_t k = 0; k < nparts; k++) {
        bk_md_part *p = &parts[k];
        p->index = (int32_t)k;
        p->leader = -1;
        p->replicas = dup_ids(replicas[k], nrep[k]);
        p->nreplicas = nrep[k];
        if (old && k < old->nparts && old->parts[k].has_state) {
            const bk_md_part *op = &old->parts[k];
            p->has_state = true;
            p->leader = op->leader;
            p->leader_epoch = op->leader_epoch;
            p->controller_epoch = op->controller_epoch;
            p->zk_version = op->zk_version;
            p->isr = dup_ids(op->isr, op->nisr);
            p->nisr = op->nisr;
        } else {
            p->isr = dup_ids(NULL, 0);
        }
        if (!p->replicas || !p->isr) {
            for (size_t j = 0; j <= k; j++)
                part_free(&parts[j]);
            free(parts);
            return -BK_ENOMEM;
        }
    }
    if (old) {
        for (size_t k = 0; k < old->nparts; k++)
            part_free(&old->parts[k]);
        free(old->parts);
        old->parts = parts;
        old->nparts = nparts;
        return 0;
    }
    char *nm = strdup(name);
    if (!nm || topics_grow(md) != 0) {
        free(nm);
        for (size_t k = 0; k < nparts; k++)
            part_free(&parts[k]);
        free(parts);
        return -BK_ENOMEM;
    }
    memmove(&md->topics[i + 1], &md->topics[i],
            (md->ntopics - i) * sizeof *md->topics);
    md->ntopics++;
    md->topics[i] = (bk_md_topic){nm, parts, nparts, false, NULL, NULL, 0};
    return 0;
}

void bk_md_remove_topic(bk_md *md, const char *name)
{
    size_t i = topic_pos(md, name);
    if (i >= md->ntopics || strcmp(md->topics[i].name, name) != 0)
        return;
    topic_free(&md->topics[i]);
    memmove(&md->topics[i], &md->topics[i + 1],
            (md->ntopics - i - 1) * sizeof *md->topics);
    md->ntopics--;
}

void bk_md_retain_topics(bk_md *md, char *const *names, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < md->ntopics; i++) {
        bool keep = false;
        for (size_t k = 0; k < n && !keep; k++)
            keep = strcmp(names[k], md->topics[i].name) == 0;
        if (keep)
            md->topics[w++] = md->topics[i];
        else
            topic_free(&md->topics[i]);
    }
    md->ntopics = w;
}

void bk_md_set_deleting(bk_md *md, const char *name, bool deleting)
{
    bk_md_topic *t = (bk_md_topic *)bk_md_topic_find(md, name);
    if (t)
        t->deleting = deleting;
}

int bk_md_set_topic_config(bk_md *md, const char *name, const char *const *keys,
                           const char *const *vals, size_t n)
{
    bk_md_topic *t = (bk_md_topic *)bk_md_topic_find(md, name);
    if (!t)
        return -BK_ENOENT;
    return cfg_copy(t, keys, vals, n);
}

const char *bk_md_topic_config(const bk_md_topic *t, const char *key)
{
    for (size_t i = 0; t && i < t->ncfg; i++)
        if (strcmp(t->cfg_keys[i], key) == 0)
            return t->cfg_vals[i];
    return NULL;
}

int bk_md_set_state(bk_md *md, const char *topic, int32_t partition,
                    int32_t leader, int32_t leader_epoch,
                    int32_t controller_epoch, int32_t zk_version,
                    const int32_t *isr, size_t nisr)
{
    bk_md_part *p = (bk_md_part *)bk_md_part_find(md, topic, partition);
    if (!p)
        return -BK_ENOENT;
    int32_t *v = dup_ids(isr, nisr);
    if (!v)
        return -BK_ENOMEM;
    free(p->isr);
    p->isr = v;
    p->nisr = nisr;
    p->has_state = true;
    p->leader = leader;
    p->leader_epoch = leader_epoch;
    p->controller_epoch = controller_epoch;
    p->zk_version = zk_version;
    return 0;
}

void bk_md_clear_state(bk_md *md, const char *topic, int32_t partition)
{
    bk_md_part *p = (bk_md_part *)bk_md_part_find(md, topic, partition);
    if (!p)
        return;
    p->has_state = false;
    p->leader = -1;
    p->leader_epoch = 0;
    p->controller_epoch = 0;
    p->zk_version = 0;
    p->nisr = 0;
}

int bk_md_set_cluster_id(bk_md *md, const char *id)
{
    char *d = strdup(id ? id : "");
    if (!d)
        return -BK_ENOMEM;
    free(md->cluster_id);
    md->cluster_id = d;
    return 0;
}

int bk_md_state_cmp(const bk_md_part *a, const bk_md_part *b)
{
    if (a->has_state != b->has_state)
        return a->has_state ? 1 : -1;
    if (!a->has_state)
        return 0;
    if (a->leader_epoch != b->leader_epoch)
        return a->leader_epoch > b->leader_epoch ? 1 : -1;
    if (a->zk_version != b->zk_version)
        return a->zk_version > b->zk_version ? 1 : -1;
    return 0;
}

int bk_md_merge_pending(bk_md *md, bk_md *pending)
{
    int applied = 0;
    /* Backwards: removing a topic shifts the ones after it. */
    for (size_t ti = pending->ntopics; ti-- > 0;) {
        bk_md_topic *pt = &pending->topics[ti];
        bool left = false;
        for (size_t k = 0; k < pt->nparts; k++) {
            bk_md_part *pp = &pt->parts[k];
            if (!pp->has_state)
                continue;
            bk_md_part *mp =
                (bk_md_part *)bk_md_part_find(md, pt->name, pp->index);
            if (!mp || bk_md_state_cmp(pp, mp) <= 0) {
                pp->has_state = false; /* caught up with, or gone */
                continue;
            }
            int rc = bk_md_set_state(md, pt->name, pp->index, pp->leader,
                                     pp->leader_epoch, pp->controller_epoch,
                                     pp->zk_version, pp->isr, pp->nisr);
            if (rc != 0)
                return rc;
            applied++;
            left = true; /* kept until md's own source catches up */
        }
        if (!left)
            bk_md_remove_topic(pending, pt->name);
    }
    return applied;
}
