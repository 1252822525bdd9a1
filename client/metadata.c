/*
 * metadata.c -- the client's cluster table (see metadata.h).
 */
#include "client/metadata.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "proto/protocol.h"

void bk_md_init(bk_md *md)
{
    memset(md, 0, sizeof *md);
}

static void topic_free(bk_topic *t)
{
    free(t->name);
    free(t->parts);
    free(t->avail);
    free(t);
}

void bk_md_free(bk_md *md)
{
    for (size_t i = 0; i < md->ntopics; i++)
        topic_free(md->topics[i]);
    free(md->topics);
    free(md->brokers);
    memset(md, 0, sizeof *md);
}

bool bk_md_topic_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

bk_topic *bk_md_topic(bk_md *md, const char *name)
{
    /* the producer looks a topic up per record: the cache makes the common
     * case (one topic) a single strcmp */
    if (md->last && strcmp(md->last->name, name) == 0)
        return md->last;
    for (size_t i = 0; i < md->ntopics; i++) {
        if (strcmp(md->topics[i]->name, name) == 0)
            return md->last = md->topics[i];
    }
    return NULL;
}

bk_topic *bk_md_topic_add(bk_md *md, const char *name, bool *created)
{
    bk_topic *t = bk_md_topic(md, name);
    if (created)
        *created = false;
    if (t)
        return t;
    if (md->ntopics == md->cap) {
        size_t cap = md->cap ? md->cap * 2 : 8;
        bk_topic **v = realloc(md->topics, cap * sizeof *v);
        if (!v)
            return NULL;
        md->topics = v;
        md->cap = cap;
    }
    t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        free(t);
        return NULL;
    }
    md->topics[md->ntopics++] = t;
    if (created)
        *created = true;
    return md->last = t;
}

const bk_md_broker *bk_md_broker_find(const bk_md *md, int32_t id)
{
    for (size_t i = 0; i < md->nbrokers; i++)
        if (md->brokers[i].id == id)
            return &md->brokers[i];
    return NULL;
}

int bk_md_topic_grow(bk_topic *t, int32_t n)
{
    if (n <= t->nparts)
        return 0;
    bk_tpart *v = realloc(t->parts, (size_t)n * sizeof *v);
    if (!v)
        return -BK_ENOMEM;
    t->parts = v;
    int32_t *a = realloc(t->avail, (size_t)n * sizeof *a);
    if (!a)
        return -BK_ENOMEM;
    t->avail = a;
    for (int32_t i = t->nparts; i < n; i++) {
        memset(&v[i], 0, sizeof v[i]);
        v[i].leader = -1;
        v[i].leader_epoch = -1;
    }
    t->nparts = n;
    return 0;
}

static void topic_apply(bk_topic *t, const Brook__MetadataResponseTopic *mt)
{
    t->known = true;
    t->err = mt->error_code;
    if (mt->error_code != 0) {
        /* deleted, not yet created, or leaderless: nobody to talk to */
        for (int32_t p = 0; p < t->nparts; p++) {
            t->parts[p].leader = -1;
            t->parts[p].err = mt->error_code;
        }
        t->navail = 0;
        t->md_nparts = 0;
        return;
    }
    int32_t n = 0;
    for (size_t i = 0; i < mt->n_partitions; i++) {
        int32_t idx = mt->partitions[i]->partition_index;
        if (idx >= 0 && idx < 1000000 && idx + 1 > n)
            n = idx + 1;
    }
    if (bk_md_topic_grow(t, n) != 0)
        return; /* keeps the old picture; the next refresh tries again */
    t->md_nparts = n;
    /* slots beyond the answer (assigned before the cluster confirmed
     * them) have no leader */
    for (int32_t p = n; p < t->nparts; p++)
        t->parts[p].leader = -1;
    for (size_t i = 0; i < mt->n_partitions; i++) {
        const Brook__MetadataResponsePartition *mp = mt->partitions[i];
        int32_t idx = mp->partition_index;
        if (idx < 0 || idx >= t->nparts)
            continue;
        bk_tpart *tp = &t->parts[idx];
        tp->err = mp->error_code;
        tp->leader =
            mp->error_code == BK_ERR_LEADER_NOT_AVAILABLE ? -1 : mp->leader_id;
        tp->leader_epoch = mp->leader_epoch;
    }
    t->navail = 0;
    for (int32_t p = 0; p < t->nparts; p++)
        if (bk_md_part_available(t, p))
            t->avail[t->navail++] = p;
}

int bk_md_apply(bk_md *md, const Brook__MetadataResponse *resp)
{
    if (resp->n_brokers > 0) {
        bk_md_broker *b = calloc(resp->n_brokers, sizeof *b);
        if (!b)
            return -BK_ENOMEM;
        size_t nb = 0;
        for (size_t i = 0; i < resp->n_brokers; i++) {
            const Brook__MetadataResponseBroker *rb = resp->brokers[i];
            if (!rb->host || !*rb->host || strlen(rb->host) >= 256 ||
                rb->port < 1 || rb->port > 65535)
                continue; /* unusable entry: skip rather than fail all */
            b[nb].id = rb->node_id;
            strcpy(b[nb].host, rb->host);
            b[nb].port = rb->port;
            nb++;
        }
        free(md->brokers);
        md->brokers = b;
        md->nbrokers = nb;
    }
    for (size_t i = 0; i < resp->n_topics; i++) {
        const Brook__MetadataResponseTopic *mt = resp->topics[i];
        bk_topic *t = mt->name ? bk_md_topic(md, mt->name) : NULL;
        if (t)
            topic_apply(t, mt);
    }
    md->version++;
    return 0;
}
