/*
 * zkdata.c -- reading and writing Kafka's ZooKeeper layout; topic
 * operations.  See zkdata.h.
 */
#include "coordinator/zkdata.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "proto/protocol.h"

#define MOD "zkdata"

static int cmp_kv(const void *x, const void *y)
{
    return strcmp(((const bk_zkc_kv *)x)->key, ((const bk_zkc_kv *)y)->key);
}

static void set_res(bk_zkd_result *res, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_res(bk_zkd_result *res, int error, const char *fmt, ...)
{
    res->error = error;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
}

/* A ZooKeeper failure: the request could not be answered. */
static int zk_fail(bk_zkd_result *res, int rc, const char *doing)
{
    set_res(res, BK_ERR_UNKNOWN, "ZooKeeper error while %s: %s", doing,
            rc == -BK_ENOMEM ? "out of memory"
                             : bk_zk_error_text(bk_zk_last_error()));
    return rc;
}

int bk_zkd_ensure_paths(bk_zk *zk, char *cluster_id, size_t idlen)
{
    /* Kafka's ZkData.PersistentZkPaths, config entity types included */
    static const char *const paths[] = {
        BK_ZKC_CONSUMERS,
        BK_ZKC_BROKERS_IDS,
        BK_ZKC_BROKERS_TOPICS,
        BK_ZKC_CONFIG_CHANGES,
        BK_ZKC_DELETE_TOPICS,
        BK_ZKC_BROKERS_SEQID,
        BK_ZKC_ISR_CHANGE,
        "/latest_producer_id_block",
        "/log_dir_event_notification",
        BK_ZKC_CONFIG_TOPICS,
        "/config/clients",
        "/config/users",
        "/config/brokers",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int rc = bk_zk_mkdirs(zk, paths[i]);
        if (rc)
            return rc;
    }
    bk_buf b = BK_BUF_INIT;
    char id[128] = "";
    int rc = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        rc = bk_zk_get(zk, BK_ZKC_CLUSTER_ID, &b, NULL, NULL, NULL);
        if (rc == 0) {
            char err[200];
            rc = bk_zkc_cluster_id_decode(b.data, b.len, id, sizeof id, err,
                                          sizeof err);
            if (rc)
                BK_ERROR(MOD, "%s: %s", BK_ZKC_CLUSTER_ID, err);
            break;
        }
        if (rc != -BK_ENOENT)
            break;
        /* first broker of a new cluster: make the id; a concurrent one
         * may win the create, then we read its id */
        if ((rc = bk_zkc_cluster_id_generate(id)) != 0)
            break;
        bk_buf_reset(&b);
        if ((rc = bk_zkc_cluster_id_encode(id, &b)) != 0)
            break;
        rc = bk_zk_create(zk, BK_ZKC_CLUSTER_ID, b.data, b.len, BK_ZK_PARENTS,
                          NULL, 0);
        if (rc == 0) {
            BK_INFO(MOD, "created cluster id %s", id);
            break;
        }
        if (rc != -BK_EEXIST)
            break;
    }
    bk_buf_free(&b);
    if (rc == 0 && cluster_id && idlen)
        snprintf(cluster_id, idlen, "%s", id);
    return rc;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int bk_zkd_broker_ids(bk_zk *zk, int32_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    bk_zk_strings kids;
    int rc = bk_zk_children(zk, BK_ZKC_BROKERS_IDS, &kids, NULL, NULL);
    if (rc == -BK_ENOENT)
        return 0;
    if (rc)
        return rc;
    if (kids.n) {
        *ids = malloc(kids.n * sizeof **ids);
        if (!*ids) {
            bk_zk_strings_free(&kids);
            return -BK_ENOMEM;
        }
    }
    for (size_t i = 0; i < kids.n; i++) {
        int32_t id;
        if (bk_zkc_parse_id(kids.v[i], &id))
            (*ids)[(*n)++] = id;
        else
            BK_WARN(MOD, "ignoring %s/%s: not a broker id", BK_ZKC_BROKERS_IDS,
                    kids.v[i]);
    }
    bk_zk_strings_free(&kids);
    if (*n)
        qsort(*ids, *n, sizeof **ids, cmp_i32);
    return 0;
}

int bk_zkd_brokers_list(bk_zk *zk, bk_zkc_broker **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int32_t *ids;
    size_t nids;
    int rc = bk_zkd_broker_ids(zk, &ids, &nids);
    if (rc || nids == 0)
        return rc;
    bk_zkc_broker *bs = calloc(nids, sizeof *bs);
    if (!bs) {
        free(ids);
        return -BK_ENOMEM;
    }
    bk_buf b = BK_BUF_INIT;
    char path[BK_ZKC_PATH_MAX], err[300];
    for (size_t i = 0; i < nids && rc == 0; i++) {
        bk_zkc_path_broker(path, ids[i]);
        rc = bk_zk_get(zk, path, &b, NULL, NULL, NULL);
        if (rc == -BK_ENOENT) {
            rc = 0; /* went away while we listed */
            continue;
        }
        if (rc)
            break;
        if (bk_zkc_broker_decode(ids[i], b.data, b.len, &bs[*n], err,
                                 sizeof err) == 0)
            (*n)++;
        else
            BK_WARN(MOD, "%s: %s", path, err);
    }
    bk_buf_free(&b);
    free(ids);
    if (rc) {
        free(bs);
        *n = 0;
        return rc;
    }
    *out = bs;
    return 0;
}

int bk_zkd_topics_list(bk_zk *zk, bk_zk_strings *out)
{
    int rc = bk_zk_children(zk, BK_ZKC_BROKERS_TOPICS, out, NULL, NULL);
    return rc == -BK_ENOENT ? 0 : rc;
}

int bk_zkd_topic_marked_for_deletion(bk_zk *zk, const char *topic)
{
    char path[BK_ZKC_PATH_MAX];
    if (bk_zkc_path_delete_topic(path, topic))
        return -BK_ETOOBIG;
    int rc = bk_zk_exists(zk, path, NULL, NULL, NULL);
    if (rc == -BK_ENOENT)
        return 0;
    return rc ? rc : 1;
}

int bk_zkd_topic_read(bk_zk *zk, const char *topic, bk_zkc_assignment *a,
                      int32_t *zk_version)
{
    memset(a, 0, sizeof *a);
    char path[BK_ZKC_PATH_MAX], err[300];
    if (bk_zkc_path_topic(path, topic))
        return -BK_ETOOBIG;
    bk_buf b = BK_BUF_INIT;
    bk_zk_stat st;
    int rc = bk_zk_get(zk, path, &b, &st, NULL, NULL);
    if (rc == 0) {
        rc = bk_zkc_assignment_decode(b.data, b.len, a, err, sizeof err);
        if (rc == -BK_ECORRUPT)
            BK_WARN(MOD, "%s: %s", path, err);
        if (rc == 0 && zk_version)
            *zk_version = st.version;
    }
    bk_buf_free(&b);
    return rc;
}

int bk_zkd_pstate_read(bk_zk *zk, const char *topic, int32_t p,
                       bk_zkc_pstate *s, int32_t *zk_version)
{
    char path[BK_ZKC_PATH_MAX], err[300];
    if (bk_zkc_path_partition_state(path, topic, p))
        return -BK_ETOOBIG;
    bk_buf b = BK_BUF_INIT;
    bk_zk_stat st;
    int rc = bk_zk_get(zk, path, &b, &st, NULL, NULL);
    if (rc == 0) {
        rc = bk_zkc_pstate_decode(b.data, b.len, s, err, sizeof err);
        if (rc == -BK_ECORRUPT)
            BK_WARN(MOD, "%s: %s", path, err);
        if (rc == 0 && zk_version)
            *zk_version = st.version;
    }
    bk_buf_free(&b);
    return rc;
}

int bk_zkd_pstates_read(bk_zk *zk, const char *const *topics,
                        const int32_t *parts, size_t n, bk_zkc_pstate *st,
                        int32_t *versions, int *rcs)
{
    if (n == 0)
        return 0;
    char(*paths)[BK_ZKC_PATH_MAX] = calloc(n, sizeof *paths);
    const char **pp = calloc(n, sizeof *pp);
    bk_buf *bufs = calloc(n, sizeof *bufs);
    bk_zk_stat *sts = calloc(n, sizeof *sts);
    int rc = paths && pp && bufs && sts ? 0 : -BK_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (bk_zkc_path_partition_state(paths[i], topics[i], parts[i]) != 0)
            rc = -BK_ETOOBIG;
        pp[i] = paths[i];
    }
    if (rc == 0)
        rc = bk_zk_get_many_st(zk, pp, n, bufs, sts, rcs);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (rcs[i] != 0)
            continue;
        char err[300];
        rcs[i] = bk_zkc_pstate_decode(bufs[i].data, bufs[i].len, &st[i], err,
                                      sizeof err);
        if (rcs[i] == -BK_ECORRUPT)
            BK_WARN(MOD, "%s: %s", paths[i], err);
        else if (rcs[i] == 0 && versions)
            versions[i] = sts[i].version;
    }
    for (size_t i = 0; bufs && i < n; i++)
        bk_buf_free(&bufs[i]);
    free(paths);
    free(pp);
    free(bufs);
    free(sts);
    return rc;
}

int bk_zkd_topic_config_read(bk_zk *zk, const char *topic, bk_zkc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char path[BK_ZKC_PATH_MAX], err[300];
    if (bk_zkc_path_topic_config(path, topic))
        return -BK_ETOOBIG;
    bk_buf b = BK_BUF_INIT;
    int rc = bk_zk_get(zk, path, &b, NULL, NULL, NULL);
    if (rc == -BK_ENOENT) {
        rc = 0;
    } else if (rc == 0 && b.len > 0) {
        rc = bk_zkc_config_decode(b.data, b.len, cfg, err, sizeof err);
        if (rc == -BK_ECORRUPT)
            BK_WARN(MOD, "%s: %s", path, err);
    }
    bk_buf_free(&b);
    return rc;
}

int bk_zkd_controller_epoch_read(bk_zk *zk, int32_t *epoch, int32_t *zk_version)
{
    *epoch = 0;
    bk_buf b = BK_BUF_INIT;
    bk_zk_stat st;
    int rc = bk_zk_get(zk, BK_ZKC_CONTROLLER_EPOCH, &b, &st, NULL, NULL);
    if (rc == 0) {
        rc = bk_zkc_controller_epoch_decode(b.data, b.len, epoch);
        if (rc == 0 && zk_version)
            *zk_version = st.version;
    }
    bk_buf_free(&b);
    return rc;
}

/* --- building large multi requests --- */

/* Ops are collected with their paths and payloads in one arena buffer
 * (offsets, since the buffer moves as it grows), then turned into
 * bk_zk_op arrays and sent in chunks that stay far below ZooKeeper's
 * request limit (jute.maxbuffer, 1 MiB by default). */
#define MULTI_BUDGET (256 * 1024)

typedef struct op_rec {
    bk_zk_op_type type;
    size_t path_off;
    size_t data_off, data_len;
    bool has_data;
    int32_t version;
} op_rec;

typedef struct op_list {
    op_rec *v;
    size_t n, cap;
    bk_buf text; /* NUL-terminated paths and payloads */
    bool oom;
} op_list;

static void ops_free(op_list *l)
{
    free(l->v);
    bk_buf_free(&l->text);
    memset(l, 0, sizeof *l);
}

static void ops_add(op_list *l, bk_zk_op_type type, const char *path,
                    const void *data, size_t len, bool has_data,
                    int32_t version)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        op_rec *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            l->oom = true;
            return;
        }
        l->v = nv;
        l->cap = nc;
    }
    op_rec *o = &l->v[l->n++];
    o->type = type;
    o->version = version;
    o->has_data = has_data;
    o->path_off = l->text.len;
    bk_buf_put(&l->text, path, strlen(path) + 1);
    o->data_off = l->text.len;
    o->data_len = len;
    if (len)
        bk_buf_put(&l->text, data, len);
    if (!bk_buf_ok(&l->text))
        l->oom = true;
}

static size_t op_cost(const op_list *l, const op_rec *o)
{
    /* path + data + headers and the open ACL ("world"/"anyone") */
    return strlen((const char *)l->text.data + o->path_off) + o->data_len + 64;
}

/* Sends ops [from, to) as one multi.  *failed_op gets the failing op's
 * index in the list (or -1). */
static int ops_send(bk_zk *zk, const op_list *l, size_t from, size_t to,
                    long *failed_op)
{
    size_t n = to - from;
    *failed_op = -1;
    bk_zk_op *zo = calloc(n ? n : 1, sizeof *zo);
    if (!zo)
        return -BK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const op_rec *o = &l->v[from + i];
        zo[i].type = o->type;
        zo[i].path = (const char *)l->text.data + o->path_off;
        zo[i].data = o->has_data ? l->text.data + o->data_off : NULL;
        zo[i].len = o->data_len;
        zo[i].version = o->version;
    }
    int failed = -1;
    int rc = bk_zk_multi(zk, zo, (int)n, &failed);
    if (failed >= 0)
        *failed_op = (long)(from + (size_t)failed);
    free(zo);
    return rc;
}

/* End of the chunk starting at `from`: as many ops as fit the budget,
 * at least one, and never splitting before index `keep_with` (ops up to
 * it go together). */
static size_t chunk_end(const op_list *l, size_t from, size_t keep_with)
{
    size_t bytes = 0, i = from;
    while (i < l->n) {
        size_t c = op_cost(l, &l->v[i]);
        if (i > from && i > keep_with && bytes + c > MULTI_BUDGET)
            break;
        bytes += c;
        i++;
    }
    return i;
}

/* --- topic creation --- */

static int draw_random(int n)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint32_t)bk_clock_mono_ns();
    return n > 0 ? (int)(r % (uint32_t)n) : 0;
}

/* Name, existence and collisions.  0 to go on; else res is set. */
static int check_name_and_existing(bk_zk *zk, const char *name,
                                   bk_zkd_result *res)
{
    int e = bk_topic_validate_name(name, res->message, sizeof res->message);
    if (e) {
        res->error = e;
        return 0;
    }
    if (bk_topic_has_collision_chars(name))
        snprintf(res->warning, sizeof res->warning,
                 "WARNING: Due to limitations in metric names, topics with a "
                 "period ('.') or underscore ('_') could collide. To avoid "
                 "issues it is best to use either, but not both.");
    bk_zk_strings topics;
    int rc = bk_zkd_topics_list(zk, &topics);
    if (rc)
        return zk_fail(res, rc, "listing topics");
    for (size_t i = 0; i < topics.n && !res->error; i++) {
        if (strcmp(topics.v[i], name) == 0)
            set_res(res, BK_ERR_TOPIC_ALREADY_EXISTS,
                    "Topic '%s' already exists.", name);
        else if (bk_topic_names_collide(topics.v[i], name))
            set_res(res, BK_ERR_TOPIC_EXCEPTION,
                    "Topic '%s' collides with existing topics: %s", name,
                    topics.v[i]);
    }
    bk_zk_strings_free(&topics);
    return 0;
}

/* Validated configs (normalized values, sorted, no duplicates). */
static int check_configs(const bk_zkd_topic_spec *spec, bk_zkc_config *cfg,
                         bk_zkd_result *res)
{
    char norm[256];
    for (size_t i = 0; i < spec->nconfigs; i++) {
        const bk_zkc_kv *kv = &spec->configs[i];
        int e = bk_topic_cfg_check(kv->key, kv->value, norm, sizeof norm,
                                   res->message, sizeof res->message);
        if (e) {
            res->error = e;
            return 0;
        }
        if (bk_zkc_config_get(cfg, kv->key)) {
            set_res(res, BK_ERR_INVALID_CONFIG,
                    "Config %s is given more than once", kv->key);
            return 0;
        }
        if (bk_zkc_config_add(cfg, kv->key, norm))
            return zk_fail(res, -BK_ENOMEM, "checking configs");
    }
    if (cfg->n)
        qsort(cfg->kv, cfg->n, sizeof *cfg->kv, cmp_kv);
    return 0;
}

/* An explicit replica assignment: every partition complete, no broker
 * twice in a partition, every broker alive. */
static void check_explicit(const bk_zkd_topic_spec *spec, const int32_t *live,
                           size_t nlive, bk_zkd_result *res)
{
    int rf = spec->replication_factor;
    if (rf < 1 || rf > BK_TOPIC_MAX_RF) {
        set_res(res, BK_ERR_INVALID_REPLICATION_FACTOR,
                "replication factor must be between 1 and %d", BK_TOPIC_MAX_RF);
        return;
    }
    for (int32_t p = 0; p < spec->partitions; p++) {
        const int32_t *r = spec->replicas + (size_t)p * (size_t)rf;
        for (int i = 0; i < rf; i++) {
            for (int j = 0; j < i; j++)
                if (r[i] == r[j]) {
                    set_res(res, BK_ERR_INVALID_REPLICA_ASSIGNMENT,
                            "Duplicate replica assignment found for "
                            "partition %" PRId32 ": broker %" PRId32,
                            p, r[i]);
                    return;
                }
            if (nlive == 0 ||
                !bsearch(&r[i], live, nlive, sizeof *live, cmp_i32)) {
                set_res(res, BK_ERR_INVALID_REPLICA_ASSIGNMENT,
                        "Unknown broker(s) in replica assignment: %" PRId32,
                        r[i]);
                return;
            }
        }
    }
}

/* The ops of a new topic: config, assignment, partitions node, then per
 * partition its node and its state. */
static int build_create_ops(bk_zk *zk, const char *name,
                            const bk_zkc_config *cfg,
                            const bk_zkc_assignment *a, int32_t ctrl_epoch,
                            op_list *ops)
{
    char path[BK_ZKC_PATH_MAX];
    bk_buf b = BK_BUF_INIT;
    int rc;

    /* /config/topics/<t> first (Kafka's order: a broker that sees the
     * topic finds its config).  A config left by an interrupted delete is
     * overwritten at its current version. */
    bk_zkc_path_topic_config(path, name);
    if ((rc = bk_zkc_config_encode(cfg, &b)) != 0)
        goto out;
    bk_zk_stat st;
    rc = bk_zk_exists(zk, path, &st, NULL, NULL);
    if (rc == 0)
        ops_add(ops, BK_ZK_OP_SET, path, b.data, b.len, true, st.version);
    else if (rc == -BK_ENOENT)
        ops_add(ops, BK_ZK_OP_CREATE, path, b.data, b.len, true, -1);
    else
        goto out;
    rc = 0;

    bk_buf_reset(&b);
    bk_zkc_path_topic(path, name);
    if ((rc = bk_zkc_assignment_encode(a, &b)) != 0)
        goto out;
    ops_add(ops, BK_ZK_OP_CREATE, path, b.data, b.len, true, -1);
    bk_zkc_path_partitions(path, name);
    ops_add(ops, BK_ZK_OP_CREATE, path, NULL, 0, false, -1);

    /* Initial partition states.  In Kafka the controller writes these
     * when it brings new partitions online; Brook has no controller yet
     * (issue #4 takes this over), so creation writes them, in their final
     * format: leader = first replica (all replicas are live brokers here),
     * ISR = all replicas, leader_epoch 0, the current controller epoch. */
    for (int32_t i = 0; i < a->nparts; i++) {
        const bk_zkc_part *p = &a->parts[i];
        bk_zkc_pstate s = {.leader = p->replicas[0],
                           .leader_epoch = 0,
                           .controller_epoch = ctrl_epoch,
                           .nisr = p->nreplicas};
        memcpy(s.isr, p->replicas, (size_t)p->nreplicas * sizeof *s.isr);
        bk_zkc_path_partition(path, name, p->id);
        ops_add(ops, BK_ZK_OP_CREATE, path, NULL, 0, false, -1);
        bk_buf_reset(&b);
        if ((rc = bk_zkc_pstate_encode(&s, &b)) != 0)
            goto out;
        bk_zkc_path_partition_state(path, name, p->id);
        ops_add(ops, BK_ZK_OP_CREATE, path, b.data, b.len, true, -1);
    }
    if (ops->oom)
        rc = -BK_ENOMEM;
out:
    bk_buf_free(&b);
    return rc;
}

int bk_zkd_topic_create(bk_zk *zk, const bk_zkd_topic_spec *spec,
                        bk_zkd_result *res)
{
    memset(res, 0, sizeof *res);
    const char *name = spec->name;
    int rc = check_name_and_existing(zk, name, res);
    if (rc || res->error)
        return rc;
    if (spec->partitions < 1) {
        set_res(res, BK_ERR_INVALID_PARTITIONS,
                "number of partitions must be larger than 0");
        return 0;
    }
    bk_zkc_config cfg = {0};
    bk_zkc_assignment a = {0};
    int32_t *live = NULL, *ids = NULL;
    size_t nlive = 0;
    op_list ops = {0};
    if ((rc = check_configs(spec, &cfg, res)) != 0 || res->error)
        goto out;
    if ((rc = bk_zkd_broker_ids(zk, &live, &nlive)) != 0) {
        zk_fail(res, rc, "listing brokers");
        goto out;
    }
    int rf = spec->replication_factor;
    if (spec->replicas) {
        check_explicit(spec, live, nlive, res);
        if (res->error)
            goto out;
        rc = bk_zkc_assignment_init(&a, spec->partitions, rf, spec->replicas);
    } else {
        if (rf >= 1 && rf <= BK_TOPIC_MAX_RF &&
            (size_t)spec->partitions * (size_t)rf > 100u * 1000 * 1000) {
            set_res(res, BK_ERR_INVALID_PARTITIONS, "too many partitions");
            goto out;
        }
        ids = malloc((size_t)spec->partitions *
                     (size_t)(rf > 0 && rf <= BK_TOPIC_MAX_RF ? rf : 1) *
                     sizeof *ids);
        if (!ids) {
            rc = zk_fail(res, -BK_ENOMEM, "assigning replicas");
            goto out;
        }
        int n = (int)nlive;
        int e = bk_topic_assign(live, n, spec->partitions, rf,
                                spec->start_index >= 0 ? spec->start_index
                                                       : draw_random(n),
                                spec->shift >= 0 ? spec->shift : draw_random(n),
                                ids, res->message, sizeof res->message);
        if (e) {
            res->error = e;
            if (nlive == 0)
                snprintf(res->message + strlen(res->message),
                         sizeof res->message - strlen(res->message),
                         " (no broker is registered under %s)",
                         BK_ZKC_BROKERS_IDS);
            goto out;
        }
        rc = bk_zkc_assignment_init(&a, spec->partitions, rf, ids);
    }
    if (rc) {
        zk_fail(res, rc, "assigning replicas");
        goto out;
    }
    if (spec->validate_only)
        goto out;
    int32_t ctrl_epoch = 0;
    rc = bk_zkd_controller_epoch_read(zk, &ctrl_epoch, NULL);
    if (rc == -BK_ENOENT || rc == -BK_ECORRUPT)
        rc = 0; /* no controller ever ran: epoch 0 */
    if (rc) {
        zk_fail(res, rc, "reading the controller epoch");
        goto out;
    }
    if ((rc = build_create_ops(zk, name, &cfg, &a, ctrl_epoch, &ops)) != 0) {
        zk_fail(res, rc, "preparing the topic");
        goto out;
    }
    /* The first multi carries the config, the assignment, the partitions
     * node (ops 0..2) and as many partitions as fit; a huge topic's
     * remaining partition states follow in further multis. */
    size_t from = 0;
    bool retried = false;
    while (from < ops.n) {
        size_t to = chunk_end(&ops, from, from == 0 ? 2 : from);
        long failed;
        rc = ops_send(zk, &ops, from, to, &failed);
        if (rc == -BK_ENOENT && from == 0 && !retried) {
            /* a fresh ZooKeeper: the parents do not exist yet */
            retried = true;
            if ((rc = bk_zk_mkdirs(zk, BK_ZKC_BROKERS_TOPICS)) != 0 ||
                (rc = bk_zk_mkdirs(zk, BK_ZKC_CONFIG_TOPICS)) != 0) {
                zk_fail(res, rc, "creating " BK_ZKC_BROKERS_TOPICS);
                goto out;
            }
            continue;
        }
        if (rc == -BK_EEXIST && from == 0) {
            /* a concurrent creator won (its config or topic znode came
             * first); nothing of ours was written */
            set_res(res, BK_ERR_TOPIC_ALREADY_EXISTS,
                    "Topic '%s' already exists.", name);
            rc = 0;
            goto out;
        }
        if (rc == -BK_ERANGE && from == 0 && failed == 0) {
            /* the leftover config changed under us: someone else is
             * working on this topic */
            set_res(res, BK_ERR_TOPIC_ALREADY_EXISTS,
                    "Topic '%s' is being created or deleted concurrently.",
                    name);
            rc = 0;
            goto out;
        }
        if (rc) {
            zk_fail(res, rc, "writing the topic");
            goto out;
        }
        from = to;
    }
    BK_INFO(MOD,
            "created topic %s: %" PRId32 " partitions, replication "
            "factor %d",
            name, spec->partitions, rf);
out:
    ops_free(&ops);
    bk_zkc_assignment_free(&a);
    bk_zkc_config_free(&cfg);
    free(live);
    free(ids);
    return rc;
}

/* --- topic deletion --- */

int bk_zkd_topic_delete_now(bk_zk *zk, const char *topic)
{
    char tpath[BK_ZKC_PATH_MAX], cpath[BK_ZKC_PATH_MAX], dpath[BK_ZKC_PATH_MAX];
    if (bk_zkc_path_topic(tpath, topic) ||
        bk_zkc_path_topic_config(cpath, topic) ||
        bk_zkc_path_delete_topic(dpath, topic))
        return -BK_ETOOBIG;
    int rc = 0;
    /* A concurrent writer (a controller updating a state) can make a
     * multi fail with NONODE/NOTEMPTY: read the tree again and retry. */
    for (int attempt = 0; attempt < 5; attempt++) {
        op_list ops = {0};
        bk_zk_strings tree = {0};
        rc = bk_zk_tree(zk, tpath, &tree);
        if (rc && rc != -BK_ENOENT)
            break;
        /* children before parents: any prefix can go in its own multi */
        for (size_t i = 0; i < tree.n; i++)
            ops_add(&ops, BK_ZK_OP_DELETE, tree.v[i], NULL, 0, false, -1);
        bk_zk_strings_free(&tree);
        rc = bk_zk_exists(zk, cpath, NULL, NULL, NULL);
        if (rc == 0)
            ops_add(&ops, BK_ZK_OP_DELETE, cpath, NULL, 0, false, -1);
        else if (rc != -BK_ENOENT)
            goto next;
        /* the mark goes last: while it exists, the deletion is pending */
        rc = bk_zk_exists(zk, dpath, NULL, NULL, NULL);
        if (rc == 0)
            ops_add(&ops, BK_ZK_OP_DELETE, dpath, NULL, 0, false, -1);
        else if (rc != -BK_ENOENT)
            goto next;
        rc = ops.oom ? -BK_ENOMEM : 0;
        for (size_t from = 0; rc == 0 && from < ops.n;) {
            size_t to = chunk_end(&ops, from, from);
            long failed;
            rc = ops_send(zk, &ops, from, to, &failed);
            from = to;
        }
    next:
        ops_free(&ops);
        if (rc != -BK_ENOENT && rc != -BK_EEXIST)
            break;
    }
    if (rc == 0)
        BK_INFO(MOD, "deleted topic %s", topic);
    return rc;
}

int bk_zkd_topic_delete(bk_zk *zk, const char *topic, bk_zkd_result *res)
{
    memset(res, 0, sizeof *res);
    char path[BK_ZKC_PATH_MAX];
    if (bk_zkc_path_topic(path, topic) != 0) {
        set_res(res, BK_ERR_UNKNOWN_TOPIC_OR_PART,
                "Topic '%.100s...' does not exist", topic);
        return 0;
    }
    int rc = bk_zk_exists(zk, path, NULL, NULL, NULL);
    if (rc && rc != -BK_ENOENT)
        return zk_fail(res, rc, "looking up the topic");
    int marked = bk_zkd_topic_marked_for_deletion(zk, topic);
    if (marked < 0)
        return zk_fail(res, marked, "looking up the topic");
    if (rc == -BK_ENOENT && !marked) {
        set_res(res, BK_ERR_UNKNOWN_TOPIC_OR_PART, "Topic '%s' does not exist",
                topic);
        return 0;
    }
    if (rc == -BK_ENOENT)
        snprintf(res->warning, sizeof res->warning,
                 "finishing an interrupted deletion of '%s'", topic);
    /* Kafka's request to delete, kept until the deletion is complete */
    char dpath[BK_ZKC_PATH_MAX];
    bk_zkc_path_delete_topic(dpath, topic);
    rc = bk_zk_create(zk, dpath, NULL, 0, BK_ZK_PARENTS, NULL, 0);
    if (rc && rc != -BK_EEXIST)
        return zk_fail(res, rc, "marking the topic for deletion");
    rc = bk_zkd_topic_delete_now(zk, topic);
    if (rc)
        return zk_fail(res, rc, "deleting the topic");
    return 0;
}

/* --- describe --- */

void bk_zkd_topic_desc_free(bk_zkd_topic_desc *d)
{
    bk_zkc_assignment_free(&d->assignment);
    bk_zkc_config_free(&d->config);
    free(d->states);
    free(d->has_state);
    memset(d, 0, sizeof *d);
}

int bk_zkd_topic_describe(bk_zk *zk, const char *topic, bk_zkd_topic_desc *d)
{
    memset(d, 0, sizeof *d);
    int rc = bk_zkd_topic_read(zk, topic, &d->assignment, NULL);
    if (rc)
        return rc;
    if ((rc = bk_zkd_topic_config_read(zk, topic, &d->config)) != 0)
        goto fail;
    int m = bk_zkd_topic_marked_for_deletion(zk, topic);
    if (m < 0) {
        rc = m;
        goto fail;
    }
    d->marked_for_deletion = m == 1;
    size_t n = (size_t)d->assignment.nparts;
    d->states = calloc(n ? n : 1, sizeof *d->states);
    d->has_state = calloc(n ? n : 1, sizeof *d->has_state);
    if (!d->states || !d->has_state) {
        rc = -BK_ENOMEM;
        goto fail;
    }
    /* The states in one pipelined batch: a topic of thousands of
     * partitions is a few round trips, not one per partition. */
    const char **tv = calloc(n ? n : 1, sizeof *tv);
    int32_t *pv = calloc(n ? n : 1, sizeof *pv);
    int *rcs = calloc(n ? n : 1, sizeof *rcs);
    rc = tv && pv && rcs ? 0 : -BK_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        tv[i] = topic;
        pv[i] = d->assignment.parts[i].id;
    }
    if (rc == 0)
        rc = bk_zkd_pstates_read(zk, tv, pv, n, d->states, NULL, rcs);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (rcs[i] == 0)
            d->has_state[i] = true;
        else if (rcs[i] != -BK_ENOENT && rcs[i] != -BK_ECORRUPT)
            rc = rcs[i];
    }
    free(tv);
    free(pv);
    free(rcs);
    if (rc != 0)
        goto fail;
    return 0;
fail:
    bk_zkd_topic_desc_free(d);
    return rc;
}

/* --- dynamic configs (issue #6) --- */

static bool entity_is_topic(const char *type)
{
    return strcmp(type, BK_ZKC_ENTITY_TOPICS) == 0;
}

int bk_zkd_entity_check(const char *entity_type, const char *entity_name,
                        char *err, size_t errlen)
{
    if (!entity_type || !entity_name) {
        bk_errf(err, errlen, "no config entity given");
        return -BK_EINVAL;
    }
    if (entity_is_topic(entity_type))
        return bk_topic_validate_name(entity_name, err, errlen) ? -BK_EINVAL
                                                                : 0;
    if (strcmp(entity_type, BK_ZKC_ENTITY_BROKERS) == 0) {
        int32_t id;
        if (strcmp(entity_name, BK_ZKC_ENTITY_DEFAULT) == 0 ||
            bk_zkc_parse_id(entity_name, &id))
            return 0;
        bk_errf(err, errlen,
                "Invalid broker entity name '%.100s': a broker id (0, 1, "
                "...) or " BK_ZKC_ENTITY_DEFAULT,
                entity_name);
        return -BK_EINVAL;
    }
    bk_errf(err, errlen,
            "Unsupported config entity type '%.100s' (Brook has "
            "dynamic configs for topics and brokers)",
            entity_type);
    return -BK_EINVAL;
}

int bk_zkd_entity_config_read(bk_zk *zk, const char *entity_type,
                              const char *entity_name, bk_zkc_config *cfg,
                              int32_t *zk_version)
{
    memset(cfg, 0, sizeof *cfg);
    if (zk_version)
        *zk_version = -1;
    char path[BK_ZKC_PATH_MAX], err[300];
    if (bk_zkc_path_entity_config(path, entity_type, entity_name))
        return -BK_ETOOBIG;
    bk_buf b = BK_BUF_INIT;
    bk_zk_stat st;
    int rc = bk_zk_get(zk, path, &b, &st, NULL, NULL);
    if (rc == -BK_ENOENT) {
        rc = 0;
    } else if (rc == 0) {
        /* no data at all: an entity with no overrides (Kafka never
         * writes that, an operator's zkCli create may) */
        if (b.len > 0)
            rc = bk_zkc_config_decode(b.data, b.len, cfg, err, sizeof err);
        if (rc == -BK_ECORRUPT)
            BK_WARN(MOD, "%s: %s", path, err);
        if (rc == 0 && zk_version)
            *zk_version = st.version;
    }
    bk_buf_free(&b);
    return rc;
}

/* One key=value for an entity type: 0 or -BK_EINVAL. */
static int check_entity_kv(bool topic, const char *key, const char *value,
                           char *norm, size_t normlen, char *err, size_t errlen)
{
    int e = topic ? bk_topic_cfg_check(key, value, norm, normlen, err, errlen)
                  : bk_topic_broker_cfg_check(key, value, norm, normlen, err,
                                              errlen);
    return e ? -BK_EINVAL : 0;
}

int bk_zkd_config_check(const char *entity_type, const char *entity_name,
                        const bk_zkc_kv *adds, size_t nadds,
                        const char *const *deletes, size_t ndeletes,
                        bk_zkc_config *norm, char *err, size_t errlen)
{
    if (norm)
        memset(norm, 0, sizeof *norm);
    int rc = bk_zkd_entity_check(entity_type, entity_name, err, errlen);
    if (rc)
        return rc;
    bool topic = entity_is_topic(entity_type);
    bk_zkc_config out = {0};
    char nv[256];
    for (size_t i = 0; i < nadds && rc == 0; i++) {
        const char *k = adds[i].key;
        for (size_t j = 0; j < i; j++)
            if (strcmp(adds[j].key, k) == 0) {
                bk_errf(err, errlen, "Config %s is given more than once", k);
                rc = -BK_EINVAL;
                break;
            }
        if (rc == 0)
            rc = check_entity_kv(topic, k, adds[i].value, nv, sizeof nv, err,
                                 errlen);
        if (rc == 0 && bk_zkc_config_add(&out, k, nv) != 0) {
            bk_errf(err, errlen, "out of memory");
            rc = -BK_ENOMEM;
        }
    }
    for (size_t i = 0; i < ndeletes && rc == 0; i++) {
        const char *k = deletes[i];
        /* Any key may be deleted, known to Brook or not (a Kafka tool may
         * have set one Brook does not apply, e.g. a replication
         * throttle): as Kafka, it only has to be set (checked against the
         * znode when altering: "Invalid config(s)"). */
        if (!*k) {
            bk_errf(err, errlen, "an empty config name cannot be deleted");
            rc = -BK_EINVAL;
            break;
        }
        for (size_t j = 0; j < i && rc == 0; j++)
            if (strcmp(deletes[j], k) == 0) {
                bk_errf(err, errlen, "Config %s is deleted more than once", k);
                rc = -BK_EINVAL;
            }
        if (rc == 0 && bk_zkc_config_get(&out, k)) {
            bk_errf(err, errlen, "Config %s cannot be both added and deleted",
                    k);
            rc = -BK_EINVAL;
        }
    }
    if (rc == 0 && out.n)
        qsort(out.kv, out.n, sizeof *out.kv, cmp_kv);
    if (rc == 0 && norm)
        *norm = out;
    else
        bk_zkc_config_free(&out);
    return rc;
}

static void alter_pause(int attempt)
{
    /* random, growing a little: two writers that collided do not
     * collide again in lock step */
    int cap = 5 * attempt < 50 ? 5 * attempt : 50;
    struct timespec ts = {0, (long)(1 + draw_random(cap)) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The config after the alteration: cur without the deleted keys, with
 * the added ones (replacing), sorted. */
static int merged_config(const bk_zkc_config *cur, const bk_zkc_config *add,
                         const char *const *deletes, size_t ndeletes,
                         bk_zkc_config *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < cur->n; i++) {
        const char *k = cur->kv[i].key;
        bool drop = bk_zkc_config_get(add, k) != NULL;
        for (size_t j = 0; j < ndeletes && !drop; j++)
            drop = strcmp(deletes[j], k) == 0;
        if (!drop && bk_zkc_config_add(out, k, cur->kv[i].value))
            return -BK_ENOMEM;
    }
    for (size_t i = 0; i < add->n; i++)
        if (bk_zkc_config_add(out, add->kv[i].key, add->kv[i].value))
            return -BK_ENOMEM;
    if (out->n)
        qsort(out->kv, out->n, sizeof *out->kv, cmp_kv);
    return 0;
}

static int alter_zk_fail(int rc, const char *doing, char *err, size_t errlen)
{
    bk_errf(err, errlen, "ZooKeeper error while %s: %s", doing,
            rc == -BK_ENOMEM ? "out of memory"
                             : bk_zk_error_text(bk_zk_last_error()));
    return rc;
}

int bk_zkd_config_alter(bk_zk *zk, const char *entity_type,
                        const char *entity_name, const bk_zkc_kv *adds,
                        size_t nadds, const char *const *deletes,
                        size_t ndeletes, char *err, size_t errlen)
{
    bk_zkc_config add = {0}, cur = {0}, next = {0};
    int rc = bk_zkd_config_check(entity_type, entity_name, adds, nadds, deletes,
                                 ndeletes, &add, err, errlen);
    if (rc)
        return rc;
    bool topic = entity_is_topic(entity_type);
    char epath[BK_ZKC_PATH_MAX], tpath[BK_ZKC_PATH_MAX],
        parent[BK_ZKC_PATH_MAX];
    char entity_path[BK_ZKC_PATH_MAX];
    bk_buf data = BK_BUF_INIT, note = BK_BUF_INIT;
    if (bk_zkc_path_entity_config(epath, entity_type, entity_name) ||
        (topic && bk_zkc_path_topic(tpath, entity_name)) ||
        snprintf(entity_path, sizeof entity_path, "%s/%s", entity_type,
                 entity_name) >= (int)sizeof entity_path) {
        bk_errf(err, errlen, "config entity name too long");
        rc = -BK_EINVAL;
        goto out;
    }
    snprintf(parent, sizeof parent, "/config/%s", entity_type);
    if (topic) {
        /* Kafka refuses configs for a topic that does not exist; the
         * multi checks it again, against a concurrent deletion */
        rc = bk_zk_exists(zk, tpath, NULL, NULL, NULL);
        if (rc == -BK_ENOENT) {
            bk_errf(err, errlen, "Topic '%s' does not exist", entity_name);
            goto out;
        }
        if (rc) {
            alter_zk_fail(rc, "looking up the topic", err, errlen);
            goto out;
        }
    }
    if ((rc = bk_zkc_config_change_encode(entity_path, &note)) != 0) {
        alter_zk_fail(rc, "encoding the notification", err, errlen);
        goto out;
    }
    bool made_parents = false;
    for (int attempt = 0; attempt < BK_ZKD_CONFIG_ALTER_ATTEMPTS; attempt++) {
        if (attempt > 0)
            alter_pause(attempt);
        bk_zkc_config_free(&cur);
        bk_zkc_config_free(&next);
        int32_t version;
        rc = bk_zkd_entity_config_read(zk, entity_type, entity_name, &cur,
                                       &version);
        if (rc == -BK_ECORRUPT) {
            bk_errf(err, errlen,
                    "%s does not hold a valid config (see the warning "
                    "above); nothing was written",
                    epath);
            goto out;
        }
        if (rc) {
            alter_zk_fail(rc, "reading the config", err, errlen);
            goto out;
        }
        /* deleting what is not set: Kafka's "Invalid config(s)" with
         * every such key */
        char missing[512] = "";
        size_t mo = 0;
        for (size_t i = 0; i < ndeletes; i++)
            if (!bk_zkc_config_get(&cur, deletes[i]) &&
                mo < sizeof missing - 1) {
                int k = snprintf(missing + mo, sizeof missing - mo, "%s%s",
                                 mo ? "," : "", deletes[i]);
                mo = k < 0 ? mo : mo + (size_t)k;
            }
        if (mo) {
            bk_errf(err, errlen, "Invalid config(s): %s", missing);
            rc = -BK_EINVAL;
            goto out;
        }
        bk_buf_reset(&data);
        if ((rc = merged_config(&cur, &add, deletes, ndeletes, &next)) != 0 ||
            (rc = bk_zkc_config_encode(&next, &data)) != 0) {
            alter_zk_fail(rc, "encoding the config", err, errlen);
            goto out;
        }
        bk_zk_op ops[3];
        int n = 0, eop;
        if (topic)
            ops[n++] = bk_zk_op_check(tpath, -1);
        eop = n;
        ops[n++] = version >= 0
                       ? bk_zk_op_set(epath, data.data, data.len, version)
                       : bk_zk_op_create(epath, data.data, data.len, 0);
        ops[n++] = bk_zk_op_create(BK_ZKC_CONFIG_CHANGE_SEQ, note.data,
                                   note.len, BK_ZK_SEQUENTIAL);
        int failed = -1;
        rc = bk_zk_multi(zk, ops, n, &failed);
        if (rc == 0) {
            BK_INFO(MOD, "altered config of %s (%zu set, %zu deleted)",
                    entity_path, add.n, ndeletes);
            goto out;
        }
        if (rc == -BK_ENOENT && topic && failed == 0) {
            bk_errf(err, errlen, "Topic '%s' does not exist", entity_name);
            goto out;
        }
        if (rc == -BK_ENOENT && failed != eop && made_parents) {
            alter_zk_fail(rc, "writing the notification", err, errlen);
            goto out;
        }
        if (rc == -BK_ENOENT && !made_parents) {
            /* a fresh ZooKeeper (no broker ever started): the parents
             * are missing; or the entity was deleted under us */
            made_parents = true;
            if ((rc = bk_zk_mkdirs(zk, parent)) != 0 ||
                (rc = bk_zk_mkdirs(zk, BK_ZKC_CONFIG_CHANGES)) != 0) {
                alter_zk_fail(rc, "creating " BK_ZKC_CONFIG_CHANGES, err,
                              errlen);
                goto out;
            }
            attempt--; /* not a conflict */
            continue;
        }
        /* a concurrent writer changed (ERANGE), deleted (ENOENT) or
         * created (EEXIST) the entity since we read it: read again */
        if (rc == -BK_ERANGE || rc == -BK_ENOENT || rc == -BK_EEXIST) {
            BK_DEBUG(MOD, "config of %s changed concurrently (attempt %d)",
                     entity_path, attempt + 1);
            rc = -BK_ERANGE;
            continue;
        }
        /* The connection went while the write was in flight: ZooKeeper
         * may or may not have applied it. */
        alter_zk_fail(rc,
                      rc == -BK_EIO ? "writing the config (the outcome is "
                                      "unknown: check with configs describe)"
                                    : "writing the config",
                      err, errlen);
        goto out;
    }
    bk_errf(err, errlen,
            "the config of %s kept changing concurrently (%d attempts); "
            "nothing was written, try again",
            entity_path, BK_ZKD_CONFIG_ALTER_ATTEMPTS);
out:
    bk_zkc_config_free(&add);
    bk_zkc_config_free(&cur);
    bk_zkc_config_free(&next);
    bk_buf_free(&data);
    bk_buf_free(&note);
    return rc;
}

/* One notification of the purge: its sequence number and name. */
typedef struct purge_note {
    int64_t seq;
    const char *name;
} purge_note;

static int cmp_purge_note(const void *a, const void *b)
{
    int64_t x = ((const purge_note *)a)->seq, y = ((const purge_note *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Notifications stat'ed (and deleted) per pipelined round. */
#define PURGE_CHUNK 256

int bk_zkd_config_changes_purge(bk_zk *zk, int64_t now_ms, int64_t max_age_ms,
                                int max_deletes)
{
    bk_zk_strings kids;
    int rc = bk_zk_children(zk, BK_ZKC_CONFIG_CHANGES, &kids, NULL, NULL);
    if (rc == -BK_ENOENT)
        return 0;
    if (rc)
        return rc;
    /* In sequence order, oldest first (the names are zero-padded, but
     * sort the numbers rather than rely on it). */
    purge_note *notes = calloc(kids.n ? kids.n : 1, sizeof *notes);
    char(*paths)[BK_ZKC_PATH_MAX] = calloc(PURGE_CHUNK, sizeof *paths);
    const char **pp = calloc(PURGE_CHUNK, sizeof *pp);
    bk_zk_stat *sts = calloc(PURGE_CHUNK, sizeof *sts);
    int *rcs = calloc(PURGE_CHUNK, sizeof *rcs);
    bk_zk_op *ops = calloc(PURGE_CHUNK, sizeof *ops);
    bk_zk_op **opp = calloc(PURGE_CHUNK, sizeof *opp);
    int *nops = calloc(PURGE_CHUNK, sizeof *nops);
    int *failed = calloc(PURGE_CHUNK, sizeof *failed);
    int deleted = 0;
    size_t n = 0;
    if (!notes || !paths || !pp || !sts || !rcs || !ops || !opp || !nops ||
        !failed) {
        rc = -BK_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < kids.n; i++) {
        int64_t seq = bk_zkc_config_change_seq(kids.v[i]);
        if (seq >= 0 && strlen(kids.v[i]) + sizeof BK_ZKC_CONFIG_CHANGES + 1 <
                            BK_ZKC_PATH_MAX)
            notes[n++] = (purge_note){seq, kids.v[i]};
    }
    if (n == 0)
        goto out;
    qsort(notes, n, sizeof *notes, cmp_purge_note);
    /* Ages count from the newest notification's ctime, ZooKeeper's clock,
     * not from ours: a purger whose clock runs ahead would otherwise
     * delete notifications brokers have not read yet.  now_ms only
     * lowers the reference (a clock behind purges less, never more), and
     * the newest notification always stays. */
    snprintf(paths[0], sizeof paths[0], BK_ZKC_CONFIG_CHANGES "/%s",
             notes[n - 1].name);
    rc = bk_zk_exists(zk, paths[0], &sts[0], NULL, NULL);
    if (rc == -BK_ENOENT) { /* another purger, or a new /config/changes */
        rc = 0;
        goto out;
    }
    if (rc)
        goto out;
    int64_t ref = sts[0].ctime < now_ms ? sts[0].ctime : now_ms;
    /* Oldest first, a chunk at a time (pipelined stats, then pipelined
     * deletes), stopping at the first young enough notification: ctime
     * grows with the sequence, so a purge costs what it deletes plus one
     * chunk, not a stat of every notification. */
    bool young = false;
    /* The newest always stays (its age is 0): at most n - 1 go. */
    size_t limit = n - 1;
    if (max_deletes > 0 && (size_t)max_deletes < limit)
        limit = (size_t)max_deletes;
    for (size_t base = 0; base < limit && !young && rc == 0;
         base += PURGE_CHUNK) {
        size_t m = limit - base < PURGE_CHUNK ? limit - base : PURGE_CHUNK;
        for (size_t i = 0; i < m; i++) {
            snprintf(paths[i], sizeof paths[i], BK_ZKC_CONFIG_CHANGES "/%s",
                     notes[base + i].name);
            pp[i] = paths[i];
        }
        rc = bk_zk_exists_many(zk, pp, m, sts, rcs);
        if (rc)
            break;
        int nb = 0;
        for (size_t i = 0; i < m; i++) {
            if (rcs[i] == -BK_ENOENT) /* another purger was first */
                continue;
            if (rcs[i] != 0) {
                rc = rcs[i];
                break;
            }
            if (ref - sts[i].ctime <= max_age_ms) {
                young = true;
                break;
            }
            ops[nb] = bk_zk_op_delete(paths[i], -1);
            opp[nb] = &ops[nb];
            nops[nb] = 1;
            nb++;
        }
        if (nb == 0)
            continue;
        /* One op per multi: a notification another purger deleted first
         * fails only its own. */
        int brc = bk_zk_multi_batches(zk, opp, nops, nb, rcs, failed);
        if (brc && rc == 0)
            rc = brc;
        for (int b = 0; brc == 0 && b < nb; b++) {
            if (rcs[b] == 0)
                deleted++;
            else if (rcs[b] != -BK_ENOENT && rc == 0)
                rc = rcs[b];
        }
    }
out:
    free(notes);
    free(paths);
    free(pp);
    free(sts);
    free(rcs);
    free(ops);
    free(opp);
    free(nops);
    free(failed);
    bk_zk_strings_free(&kids);
    if (deleted)
        BK_INFO(MOD,
                "purged %d config change notification%s older than "
                "%" PRId64 " ms",
                deleted, deleted == 1 ? "" : "s", max_age_ms);
    return rc ? rc : deleted;
}
