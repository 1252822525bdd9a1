/*
 * offsets.c -- committed offsets of consumer groups in ZooKeeper (see
 * offsets.h for the layout, the payload and the commit strategy).
 */
#include "coordinator/offsets.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"
#include "coordinator/topic.h"
#include "coordinator/zkcodec.h"

/* Write attempts of one commit: the cache's guess, then up to two
 * attempts after a probe (the second one only when another writer changed
 * the tree between the probe and the write). */
#define COMMIT_ATTEMPTS 3
/* Rounds of bk_off_delete_* against concurrent commits. */
#define DELETE_ROUNDS 5
/* Deletes per multi in the delete helpers (small ops: no byte budget
 * needed, paths are bounded by BK_OFF_PATH_MAX). */
#define DELETE_BATCH 500
/* Our estimate of a multi op's fixed cost in request bytes, beyond its
 * path and data: op header, lengths, version/flags, and for a create the
 * open ACL ("world"/"anyone"). */
#define OP_OVERHEAD 64

#define DEFAULT_CACHE_PATHS 100000

/* ------------------------------ names ------------------------------ */

/* Decodes one UTF-8 sequence at s[0..n); the code point, with *used set,
 * or -1 when the bytes are not valid UTF-8 (overlong forms, surrogates
 * and values over U+10FFFF included). */
static int32_t utf8_next(const unsigned char *s, size_t n, size_t *used)
{
    unsigned char c = s[0];
    int32_t cp;
    size_t len;
    if (c < 0x80) {
        *used = 1;
        return c;
    } else if (c >= 0xC2 && c <= 0xDF) {
        cp = c & 0x1F;
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        cp = c & 0x0F;
        len = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
        cp = c & 0x07;
        len = 4;
    } else {
        return -1;
    }
    if (n < len)
        return -1;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *used = len;
    return cp;
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t used;
        if (utf8_next(p + i, n - i, &used) < 0)
            return false;
        i += used;
    }
    return true;
}

/* The characters ZooKeeper's PathUtils.validatePath refuses. */
static bool zk_forbidden(int32_t cp)
{
    return cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F) ||
           (cp >= 0xD800 && cp <= 0xF8FF) || (cp >= 0xFFF0 && cp <= 0xFFFF);
}

/* ------------------------- group placement ------------------------- */

/* Next code point of a UTF-8 string; invalid sequences give U+FFFD and
 * consume one byte. */
static uint32_t next_cp(const unsigned char **pp)
{
    const unsigned char *p = *pp;
    uint32_t c = p[0];
    int n = c < 0x80             ? 0
            : (c & 0xe0) == 0xc0 ? 1
            : (c & 0xf0) == 0xe0 ? 2
            : (c & 0xf8) == 0xf0 ? 3
                                 : -1;
    if (n == 0) {
        *pp = p + 1;
        return c;
    }
    if (n < 0) {
        *pp = p + 1;
        return 0xfffd;
    }
    uint32_t cp = c & (0x3fu >> n);
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *pp = p + 1;
            return 0xfffd;
        }
        cp = cp << 6 | (p[i] & 0x3f);
    }
    static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        *pp = p + 1;
        return 0xfffd;
    }
    *pp = p + n + 1;
    return cp;
}

int32_t bk_off_java_hash(const char *s)
{
    /* Java's int arithmetic wraps: compute in uint32_t. */
    uint32_t h = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp = next_cp(&p);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

int32_t bk_off_group_partition(const char *group, int32_t nparts)
{
    int32_t h = bk_off_java_hash(group);
    int32_t a = h == INT32_MIN ? 0 : h < 0 ? -h : h;
    return a % nparts;
}

int bk_off_validate_group(const char *group, char *err, size_t errlen)
{
    if (!group || !group[0]) {
        bk_errf(err, errlen, "group id is empty");
        return -BK_EINVAL;
    }
    size_t n = strlen(group);
    if (n > BK_OFF_GROUP_MAX) {
        bk_errf(err, errlen, "group id is %zu bytes long, more than %d", n,
                BK_OFF_GROUP_MAX);
        return -BK_EINVAL;
    }
    /* "." and ".." would be read as path steps by ZooKeeper. */
    if (!strcmp(group, ".") || !strcmp(group, "..")) {
        bk_errf(err, errlen, "group id \"%s\" is not allowed", group);
        return -BK_EINVAL;
    }
    const unsigned char *p = (const unsigned char *)group;
    for (size_t i = 0; i < n;) {
        size_t used;
        int32_t cp = utf8_next(p + i, n - i, &used);
        if (cp < 0) {
            bk_errf(err, errlen, "group id is not valid UTF-8 (byte %zu)", i);
            return -BK_EINVAL;
        }
        if (cp == '/') {
            bk_errf(err, errlen, "group id \"%s\" contains '/'", group);
            return -BK_EINVAL;
        }
        if (zk_forbidden(cp)) {
            bk_errf(err, errlen,
                    "group id contains U+%04" PRIX32
                    " (byte %zu), which ZooKeeper does not allow in a path",
                    (uint32_t)cp, i);
            return -BK_EINVAL;
        }
        i += used;
    }
    return 0;
}

static int pathf(char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, BK_OFF_PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= BK_OFF_PATH_MAX) {
        out[0] = '\0';
        return -BK_ETOOBIG;
    }
    return 0;
}

int bk_off_path_group(char *out, const char *group)
{
    return pathf(out, BK_ZKC_CONSUMERS "/%s", group);
}

int bk_off_path_offsets(char *out, const char *group)
{
    return pathf(out, BK_ZKC_CONSUMERS "/%s/offsets", group);
}

int bk_off_path_topic(char *out, const char *group, const char *topic)
{
    return pathf(out, BK_ZKC_CONSUMERS "/%s/offsets/%s", group, topic);
}

int bk_off_path_partition(char *out, const char *group, const char *topic,
                          int32_t partition)
{
    return pathf(out, BK_ZKC_CONSUMERS "/%s/offsets/%s/%" PRId32, group, topic,
                 partition);
}

/* ------------------------------ payload ------------------------------ */

int bk_off_encode(int64_t offset, const char *metadata, int64_t timestamp_ms,
                  bk_buf *out)
{
    if (!metadata)
        metadata = "";
    if (!utf8_valid(metadata, strlen(metadata)))
        return -BK_EINVAL;
    bk_json_w w;
    bk_json_w_init(&w, out);
    bk_json_w_obj_begin(&w);
    bk_json_w_key(&w, "version");
    bk_json_w_int(&w, 1);
    bk_json_w_key(&w, "offset");
    bk_json_w_int(&w, offset);
    bk_json_w_key(&w, "metadata");
    bk_json_w_str(&w, metadata);
    bk_json_w_key(&w, "timestamp");
    bk_json_w_int(&w, timestamp_ms);
    bk_json_w_obj_end(&w);
    return bk_json_w_ok(&w) ? 0 : -BK_ENOMEM;
}

void bk_off_value_free(bk_off_value *v)
{
    if (v) {
        free(v->metadata);
        v->metadata = NULL;
    }
}

static bool is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Kafka's old consumers: Long.toString(offset), nothing else. */
static int decode_decimal(const unsigned char *p, size_t n, bk_off_value *out,
                          char *err, size_t errlen)
{
    while (n > 0 && is_blank(p[n - 1]))
        n--;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            bk_errf(err, errlen,
                    "neither a JSON object nor a decimal offset (byte %zu)", i);
            return -BK_ECORRUPT;
        }
        int d = p[i] - '0';
        if (v > (INT64_MAX - d) / 10) {
            bk_errf(err, errlen, "decimal offset out of range");
            return -BK_ECORRUPT;
        }
        v = v * 10 + d;
    }
    out->metadata = strdup("");
    if (!out->metadata)
        return -BK_ENOMEM;
    out->offset = v;
    out->timestamp = -1;
    out->version = 0;
    return 0;
}

static int decode_json(const void *data, size_t len, bk_off_value *out,
                       char *err, size_t errlen)
{
    bk_json *root = NULL;
    char perr[160];
    int rc = bk_json_parse(data, len, NULL, &root, perr, sizeof perr);
    if (rc == -BK_ENOMEM)
        return rc;
    if (rc != 0) {
        bk_errf(err, errlen, "invalid JSON: %s", perr);
        return -BK_ECORRUPT;
    }
    rc = -BK_ECORRUPT;
    int64_t version = 0, offset = 0, ts = -1;
    const bk_json *md = bk_json_get(root, "metadata");
    const bk_json *tsv = bk_json_get(root, "timestamp");
    const char *mds = "";
    if (!bk_json_is(root, BK_JSON_OBJECT)) {
        bk_errf(err, errlen, "not a JSON object");
    } else if (bk_json_int(bk_json_get(root, "version"), &version) != 0 ||
               version < 1) {
        bk_errf(err, errlen, "\"version\": missing or not an integer >= 1");
    } else if (bk_json_int(bk_json_get(root, "offset"), &offset) != 0 ||
               offset < 0) {
        bk_errf(err, errlen, "\"offset\": missing or not an integer >= 0");
    } else if (md && !bk_json_is(md, BK_JSON_NULL) &&
               !(mds = bk_json_cstr(md))) {
        bk_errf(err, errlen, "\"metadata\": not a string");
    } else if (tsv && !bk_json_is(tsv, BK_JSON_NULL) &&
               bk_json_int(tsv, &ts) != 0) {
        bk_errf(err, errlen, "\"timestamp\": not an integer");
    } else if (!(out->metadata = strdup(mds))) {
        rc = -BK_ENOMEM;
    } else {
        out->offset = offset;
        out->timestamp = ts;
        out->version = version > INT32_MAX ? INT32_MAX : (int)version;
        rc = 0;
    }
    bk_json_free(root);
    return rc;
}

int bk_off_decode(const void *data, size_t len, bk_off_value *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    const unsigned char *p = data;
    size_t i = 0;
    while (i < len && is_blank(p[i]))
        i++;
    if (i == len) {
        bk_errf(err, errlen, "no data");
        return -BK_ECORRUPT;
    }
    if (p[i] == '{')
        return decode_json(data, len, out, err, errlen);
    return decode_decimal(p + i, len - i, out, err, errlen);
}

/* ------------------------------ cache ------------------------------ */

typedef struct cnode {
    struct cnode *next;
    uint64_t h;
    char path[]; /* NUL-terminated */
} cnode;

struct bk_off_cache {
    cnode **b; /* buckets (a power of two) */
    size_t nb;
    size_t n;
    size_t max;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

bk_off_cache *bk_off_cache_new(size_t max_paths)
{
    bk_off_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->nb = 256;
    c->b = calloc(c->nb, sizeof *c->b);
    if (!c->b) {
        free(c);
        return NULL;
    }
    c->max = max_paths ? max_paths : DEFAULT_CACHE_PATHS;
    return c;
}

static void cache_clear(bk_off_cache *c)
{
    for (size_t i = 0; i < c->nb; i++) {
        cnode *x = c->b[i];
        while (x) {
            cnode *nx = x->next;
            free(x);
            x = nx;
        }
        c->b[i] = NULL;
    }
    c->n = 0;
}

void bk_off_cache_free(bk_off_cache *c)
{
    if (!c)
        return;
    cache_clear(c);
    free(c->b);
    free(c);
}

size_t bk_off_cache_size(const bk_off_cache *c)
{
    return c ? c->n : 0;
}

static bool cache_has(const bk_off_cache *c, const char *path)
{
    if (!c)
        return false;
    uint64_t h = fnv1a(path);
    for (cnode *x = c->b[h & (c->nb - 1)]; x; x = x->next)
        if (x->h == h && !strcmp(x->path, path))
            return true;
    return false;
}

static void cache_grow(bk_off_cache *c)
{
    size_t nb = c->nb * 2;
    cnode **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < c->nb; i++) {
        cnode *x = c->b[i];
        while (x) {
            cnode *nx = x->next;
            x->next = b[x->h & (nb - 1)];
            b[x->h & (nb - 1)] = x;
            x = nx;
        }
    }
    free(c->b);
    c->b = b;
    c->nb = nb;
}

/* A hint only: failing to remember (no memory) is harmless. */
static void cache_add(bk_off_cache *c, const char *path)
{
    if (!c || cache_has(c, path))
        return;
    if (c->n >= c->max)
        cache_clear(c);
    if (c->n >= c->nb)
        cache_grow(c);
    size_t len = strlen(path);
    cnode *x = malloc(sizeof *x + len + 1);
    if (!x)
        return;
    x->h = fnv1a(path);
    memcpy(x->path, path, len + 1);
    x->next = c->b[x->h & (c->nb - 1)];
    c->b[x->h & (c->nb - 1)] = x;
    c->n++;
}

static void cache_del(bk_off_cache *c, const char *path)
{
    if (!c)
        return;
    uint64_t h = fnv1a(path);
    for (cnode **pp = &c->b[h & (c->nb - 1)]; *pp; pp = &(*pp)->next) {
        cnode *x = *pp;
        if (x->h == h && !strcmp(x->path, path)) {
            *pp = x->next;
            free(x);
            c->n--;
            return;
        }
    }
}

/* Forgets `prefix` and every path below it. */
static void cache_forget_tree(bk_off_cache *c, const char *prefix)
{
    if (!c)
        return;
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < c->nb; i++) {
        for (cnode **pp = &c->b[i]; *pp;) {
            cnode *x = *pp;
            if (!strncmp(x->path, prefix, pl) &&
                (x->path[pl] == '\0' || x->path[pl] == '/')) {
                *pp = x->next;
                free(x);
                c->n--;
            } else {
                pp = &x->next;
            }
        }
    }
}

void bk_off_cache_forget_group(bk_off_cache *c, const char *group)
{
    char path[BK_OFF_PATH_MAX];
    if (c && group && bk_off_path_group(path, group) == 0)
        cache_forget_tree(c, path);
}

/* ------------------------------ commit ------------------------------ */

/* Existence of a znode as one attempt sees it. */
enum { ST_MISSING = 0, ST_EXISTS = 1, ST_UNKNOWN = 2 };

/* Everything one commit needs, built once and reused by its attempts.
 * Paths and payloads live in one pool (freed in one place); the arrays
 * hold offsets into it because the pool moves while it grows. */
typedef struct plan {
    const bk_off_entry *e;
    size_t n;
    size_t *ord;  /* entry indexes sorted by (topic, partition) */
    size_t *leaf; /* [sorted pos] pool offset of the partition path */
    size_t *data; /* [sorted pos] pool offset of the payload */
    size_t *dlen; /* [sorted pos] payload length */
    size_t *tix;  /* [sorted pos] topic index */
    size_t ntopics;
    size_t *tpath;  /* [topic] pool offset of the topic path */
    size_t *tfirst; /* [topic] first sorted pos of the topic */
    size_t up[3];   /* pool offsets: /consumers, group, group/offsets */
    unsigned char *leaf_st, *topic_st, up_st[3];
    bk_buf pool;
    /* one attempt's ops, in batches of at most BK_OFF_MULTI_MAX_BYTES */
    bk_zk_op *ops;
    size_t *op_pos; /* [op] sorted pos of its entry, or topic's first */
    size_t nops;
    int *bstart; /* [batch] first op */
    int nbatches;
} plan;

static const char *P(const plan *pl, size_t off)
{
    return (const char *)pl->pool.data + off;
}

static void plan_free(plan *pl)
{
    free(pl->ord);
    free(pl->leaf);
    free(pl->data);
    free(pl->dlen);
    free(pl->tix);
    free(pl->tpath);
    free(pl->tfirst);
    free(pl->leaf_st);
    free(pl->topic_st);
    free(pl->ops);
    free(pl->op_pos);
    free(pl->bstart);
    bk_buf_free(&pl->pool);
}

static int cmp_tp(const bk_off_entry *a, const bk_off_entry *b)
{
    int c = strcmp(a->topic, b->topic);
    if (c)
        return c;
    return (a->partition > b->partition) - (a->partition < b->partition);
}

/* The sort has no context argument: the entries being sorted, one commit
 * at a time per thread. */
static _Thread_local const bk_off_entry *sort_entries;

static int cmp_ord(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = cmp_tp(&sort_entries[x], &sort_entries[y]);
    if (c)
        return c;
    return (x > y) - (x < y); /* stable: the later duplicate comes second */
}

/* Appends s and its NUL to the pool; the offset, or SIZE_MAX when out of
 * memory. */
static size_t pool_str(bk_buf *pool, const char *s)
{
    size_t off = pool->len;
    bk_buf_put(pool, s, strlen(s) + 1);
    return bk_buf_ok(pool) ? off : SIZE_MAX;
}

/* Checks the entries and builds paths and payloads.  0, -BK_EINVAL (with
 * *bad set, err filled) or -BK_ENOMEM. */
static int plan_build(plan *pl, const char *group, const bk_off_entry *e,
                      size_t n, int64_t ts, int *bad, char *err, size_t errlen)
{
    char path[BK_OFF_PATH_MAX], msg[200];
    pl->e = e;
    pl->n = n;
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        if (!e[i].topic ||
            bk_topic_validate_name(e[i].topic, msg, sizeof msg) != 0)
            why = e[i].topic ? msg : "no topic";
        else if (e[i].partition < 0)
            why = "partition < 0";
        else if (e[i].offset < 0)
            why = "offset < 0";
        else if (e[i].metadata && strlen(e[i].metadata) > BK_OFF_METADATA_MAX) {
            snprintf(msg, sizeof msg,
                     "metadata of %zu bytes, more than %d "
                     "(offset.metadata.max.bytes)",
                     strlen(e[i].metadata), BK_OFF_METADATA_MAX);
            why = msg;
        } else if (e[i].metadata &&
                   !utf8_valid(e[i].metadata, strlen(e[i].metadata)))
            why = "metadata is not valid UTF-8";
        if (why) {
            *bad = (int)i;
            bk_errf(err, errlen, "entry %zu (%s-%" PRId32 "): %s", i,
                    e[i].topic ? e[i].topic : "?", e[i].partition, why);
            return -BK_EINVAL;
        }
    }
    pl->ord = malloc(n * sizeof *pl->ord);
    pl->leaf = malloc(n * sizeof *pl->leaf);
    pl->data = malloc(n * sizeof *pl->data);
    pl->dlen = malloc(n * sizeof *pl->dlen);
    pl->tix = malloc(n * sizeof *pl->tix);
    pl->tpath = malloc(n * sizeof *pl->tpath);
    pl->tfirst = malloc(n * sizeof *pl->tfirst);
    pl->leaf_st = malloc(n);
    pl->topic_st = malloc(n);
    if (!pl->ord || !pl->leaf || !pl->data || !pl->dlen || !pl->tix ||
        !pl->tpath || !pl->tfirst || !pl->leaf_st || !pl->topic_st)
        return -BK_ENOMEM;
    for (size_t i = 0; i < n; i++)
        pl->ord[i] = i;
    sort_entries = e;
    qsort(pl->ord, n, sizeof *pl->ord, cmp_ord);
    sort_entries = NULL;

    bk_off_path_group(path, group);
    pl->up[0] = pool_str(&pl->pool, BK_ZKC_CONSUMERS);
    pl->up[1] = pool_str(&pl->pool, path);
    bk_off_path_offsets(path, group);
    pl->up[2] = pool_str(&pl->pool, path);
    pl->ntopics = 0;
    for (size_t k = 0; k < n; k++) {
        const bk_off_entry *x = &e[pl->ord[k]];
        if (k > 0 && cmp_tp(&e[pl->ord[k - 1]], x) == 0) {
            *bad = (int)pl->ord[k];
            bk_errf(err, errlen,
                    "entry %zu (%s-%" PRId32 "): partition listed twice",
                    pl->ord[k], x->topic, x->partition);
            return -BK_EINVAL;
        }
        if (k == 0 || strcmp(e[pl->ord[k - 1]].topic, x->topic) != 0) {
            /* group <= 249 and topic <= 249 bytes: the paths fit */
            int rc = bk_off_path_topic(path, group, x->topic);
            assert(rc == 0);
            pl->tpath[pl->ntopics] = pool_str(&pl->pool, path);
            pl->tfirst[pl->ntopics] = k;
            pl->ntopics++;
            (void)rc;
        }
        pl->tix[k] = pl->ntopics - 1;
        int rc = bk_off_path_partition(path, group, x->topic, x->partition);
        assert(rc == 0);
        (void)rc;
        pl->leaf[k] = pool_str(&pl->pool, path);
        pl->data[k] = pl->pool.len;
        rc = bk_off_encode(x->offset, x->metadata, ts, &pl->pool);
        if (rc != 0)
            return rc;
        pl->dlen[k] = pl->pool.len - pl->data[k];
    }
    if (!bk_buf_ok(&pl->pool))
        return -BK_ENOMEM;
    /* at most: 3 parents + a topic per entry + the entries */
    size_t maxops = 3 + 2 * n;
    pl->ops = calloc(maxops, sizeof *pl->ops);
    pl->op_pos = calloc(maxops, sizeof *pl->op_pos);
    pl->bstart = calloc(maxops + 1, sizeof *pl->bstart);
    if (!pl->ops || !pl->op_pos || !pl->bstart)
        return -BK_ENOMEM;
    return 0;
}

/* The first attempt's picture of the tree, from the cache (offsets.h). */
static void plan_guess(plan *pl, const bk_off_cache *c)
{
    for (size_t t = 0; t < pl->ntopics; t++)
        pl->topic_st[t] =
            cache_has(c, P(pl, pl->tpath[t])) ? ST_EXISTS : ST_UNKNOWN;
    for (size_t k = 0; k < pl->n; k++) {
        if (cache_has(c, P(pl, pl->leaf[k])))
            pl->leaf_st[k] = ST_EXISTS;
        else
            pl->leaf_st[k] =
                pl->topic_st[pl->tix[k]] == ST_EXISTS ? ST_MISSING : ST_UNKNOWN;
    }
    for (int u = 0; u < 3; u++)
        pl->up_st[u] = ST_UNKNOWN;
}

static void plan_push(plan *pl, bk_zk_op op, size_t pos, size_t *bytes)
{
    size_t cost = strlen(op.path) + op.len + OP_OVERHEAD;
    if (*bytes > 0 && *bytes + cost > BK_OFF_MULTI_MAX_BYTES) {
        pl->bstart[pl->nbatches++] = (int)pl->nops;
        *bytes = 0;
    }
    *bytes += cost;
    pl->op_pos[pl->nops] = pos;
    pl->ops[pl->nops++] = op;
}

/* Builds this attempt's ops from the states: parents (top-down) where
 * known missing, create for a missing partition, setData otherwise (an
 * unknown one is guessed to exist). */
static void plan_ops(plan *pl)
{
    size_t bytes = 0;
    unsigned char up[3];
    memcpy(up, pl->up_st, sizeof up);
    pl->nops = 0;
    pl->nbatches = 0;
    pl->bstart[pl->nbatches++] = 0;
    for (size_t t = 0; t < pl->ntopics; t++) {
        size_t first = pl->tfirst[t];
        if (pl->topic_st[t] == ST_MISSING) {
            for (int u = 0; u < 3; u++) {
                if (up[u] == ST_MISSING) {
                    plan_push(pl, bk_zk_op_create(P(pl, pl->up[u]), NULL, 0, 0),
                              first, &bytes);
                    up[u] = ST_EXISTS;
                }
            }
            plan_push(pl, bk_zk_op_create(P(pl, pl->tpath[t]), NULL, 0, 0),
                      first, &bytes);
        }
        for (size_t k = first; k < pl->n && pl->tix[k] == t; k++) {
            const char *path = P(pl, pl->leaf[k]);
            const void *d = pl->pool.data + pl->data[k];
            bk_zk_op op = pl->leaf_st[k] == ST_MISSING
                              ? bk_zk_op_create(path, d, pl->dlen[k], 0)
                              : bk_zk_op_set(path, d, pl->dlen[k], -1);
            plan_push(pl, op, k, &bytes);
        }
    }
    pl->bstart[pl->nbatches] = (int)pl->nops;
}

/* Sends the attempt: one bk_zk_multi, or pipelined multis when split.
 * Returns the first failure (0 when all succeeded) and its op index in
 * *failop (-1 when the request as a whole failed). */
static int plan_send(bk_zk *zk, plan *pl, int *failop)
{
    *failop = -1;
    if (pl->nbatches == 1) {
        int f;
        int rc = bk_zk_multi(zk, pl->ops, (int)pl->nops, &f);
        *failop = f;
        return rc;
    }
    int nb = pl->nbatches;
    bk_zk_op **bops = malloc((size_t)nb * sizeof *bops);
    int *bn = malloc((size_t)nb * sizeof *bn);
    int *rcs = malloc((size_t)nb * sizeof *rcs);
    int *fails = malloc((size_t)nb * sizeof *fails);
    int rc = -BK_ENOMEM;
    if (bops && bn && rcs && fails) {
        for (int b = 0; b < nb; b++) {
            bops[b] = pl->ops + pl->bstart[b];
            bn[b] = pl->bstart[b + 1] - pl->bstart[b];
        }
        rc = bk_zk_multi_batches(zk, bops, bn, nb, rcs, fails);
        for (int b = 0; rc == 0 && b < nb; b++) {
            if (rcs[b] != 0) {
                rc = rcs[b];
                *failop = fails[b] >= 0 ? pl->bstart[b] + fails[b] : -1;
            }
        }
    }
    free(bops);
    free(bn);
    free(rcs);
    free(fails);
    return rc;
}

/* Learns the real state of every path the commit touches with one
 * pipelined round of single-check multis (a check of version -1 succeeds
 * iff the node exists), and tells the cache.  0 or the error. */
static int plan_probe(bk_zk *zk, plan *pl, bk_off_cache *c)
{
    size_t m = 3 + pl->ntopics + pl->n;
    bk_zk_op *ops = malloc(m * sizeof *ops);
    bk_zk_op **bops = malloc(m * sizeof *bops);
    int *bn = malloc(m * sizeof *bn);
    int *rcs = malloc(m * sizeof *rcs);
    int *fails = malloc(m * sizeof *fails);
    int rc = -BK_ENOMEM;
    if (!ops || !bops || !bn || !rcs || !fails || m > INT32_MAX)
        goto out;
    size_t j = 0;
    for (int u = 0; u < 3; u++)
        ops[j++] = bk_zk_op_check(P(pl, pl->up[u]), -1);
    for (size_t t = 0; t < pl->ntopics; t++)
        ops[j++] = bk_zk_op_check(P(pl, pl->tpath[t]), -1);
    for (size_t k = 0; k < pl->n; k++)
        ops[j++] = bk_zk_op_check(P(pl, pl->leaf[k]), -1);
    assert(j == m);
    for (size_t i = 0; i < m; i++) {
        bops[i] = &ops[i];
        bn[i] = 1;
    }
    rc = bk_zk_multi_batches(zk, bops, bn, (int)m, rcs, fails);
    for (size_t i = 0; rc == 0 && i < m; i++)
        if (rcs[i] != 0 && rcs[i] != -BK_ENOENT)
            rc = rcs[i];
    if (rc != 0)
        goto out;
    j = 0;
    for (int u = 0; u < 3; u++, j++)
        pl->up_st[u] = rcs[j] == 0 ? ST_EXISTS : ST_MISSING;
    for (size_t t = 0; t < pl->ntopics; t++, j++)
        pl->topic_st[t] = rcs[j] == 0 ? ST_EXISTS : ST_MISSING;
    for (size_t k = 0; k < pl->n; k++, j++)
        pl->leaf_st[k] = rcs[j] == 0 ? ST_EXISTS : ST_MISSING;
    for (size_t i = 0; i < m; i++) {
        if (rcs[i] == 0)
            cache_add(c, ops[i].path);
        else
            cache_del(c, ops[i].path);
    }
out:
    free(ops);
    free(bops);
    free(bn);
    free(rcs);
    free(fails);
    return rc;
}

/* After a successful write every path of the commit exists. */
static void plan_remember(const plan *pl, bk_off_cache *c)
{
    if (!c)
        return;
    for (int u = 0; u < 3; u++)
        cache_add(c, P(pl, pl->up[u]));
    for (size_t t = 0; t < pl->ntopics; t++)
        cache_add(c, P(pl, pl->tpath[t]));
    for (size_t k = 0; k < pl->n; k++)
        cache_add(c, P(pl, pl->leaf[k]));
}

int bk_off_commit(bk_zk *zk, bk_off_cache *cache, const char *group,
                  const bk_off_entry *e, size_t n, int64_t timestamp_ms,
                  bk_off_commit_info *info, char *err, size_t errlen)
{
    bk_off_commit_info dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    info->bad_entry = -1;
    info->atomic = true;
    int rc = bk_off_validate_group(group, err, errlen);
    if (rc != 0)
        return rc;
    if (n == 0)
        return 0;
    if (!e || n > (size_t)INT32_MAX / 4) {
        bk_errf(err, errlen, "bad commit: %zu entries", n);
        return -BK_EINVAL;
    }
    if (timestamp_ms <= 0)
        timestamp_ms = bk_clock_wall_ms();
    plan pl;
    memset(&pl, 0, sizeof pl);
    bk_buf_init(&pl.pool);
    rc = plan_build(&pl, group, e, n, timestamp_ms, &info->bad_entry, err,
                    errlen);
    if (rc != 0) {
        if (rc == -BK_ENOMEM)
            bk_errf(err, errlen, "out of memory");
        goto out;
    }
    plan_guess(&pl, cache);
    for (int attempt = 0;; attempt++) {
        plan_ops(&pl);
        info->multis = pl.nbatches;
        info->atomic = pl.nbatches == 1;
        info->attempts++;
        info->round_trips++;
        int failop;
        rc = plan_send(zk, &pl, &failop);
        if (rc == 0) {
            plan_remember(&pl, cache);
            break;
        }
        const char *fpath = failop >= 0 ? pl.ops[failop].path : "";
        bool fixable = rc == -BK_ENOENT || rc == -BK_EEXIST;
        if (!fixable || attempt + 1 >= COMMIT_ATTEMPTS) {
            if (failop >= 0 && rc != -BK_EIO)
                info->bad_entry = (int)pl.ord[pl.op_pos[failop]];
            bk_errf(err, errlen, "commit of group %s: %s%s%s (%s)", group,
                    fpath, *fpath ? ": " : "",
                    bk_zk_error_text(bk_zk_last_error()),
                    fixable ? "the tree kept changing during the commit"
                            : bk_strerror(rc));
            goto out;
        }
        /* Wrong guess or a concurrent writer: nothing was written by the
         * failed multi (for a split commit, maybe some batches were; they
         * are written again, with the same bytes). */
        info->round_trips++;
        rc = plan_probe(zk, &pl, cache);
        if (rc != 0) {
            bk_errf(err, errlen, "commit of group %s: probing znodes: %s",
                    group, bk_strerror(rc));
            goto out;
        }
    }
out:
    plan_free(&pl);
    return rc;
}

/* ------------------------------ fetch ------------------------------ */

void bk_off_list_free(bk_off_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].topic);
        free(l->v[i].metadata);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Reads one partition into *o (topic already set).  0 (found, missing or
 * corrupt: see o), or -BK_EIO / -BK_ENOMEM / another ZooKeeper error. */
static int read_one(bk_zk *zk, const char *path, bk_buf *b, bk_off_committed *o,
                    bk_off_list *l, char *err, size_t errlen)
{
    bk_zk_stat st;
    o->offset = -1;
    o->timestamp = -1;
    o->error = 0;
    int rc = bk_zk_get(zk, path, b, &st, NULL, NULL);
    if (rc == -BK_ENOENT)
        return (o->metadata = strdup("")) ? 0 : -BK_ENOMEM;
    if (rc != 0)
        return rc;
    bk_off_value v;
    char why[200];
    rc = bk_off_decode(b->data, b->len, &v, why, sizeof why);
    if (rc == -BK_ECORRUPT) {
        if (l->ncorrupt++ == 0)
            bk_errf(err, errlen, "%s: %s", path, why);
        o->error = -BK_ECORRUPT;
        return (o->metadata = strdup("")) ? 0 : -BK_ENOMEM;
    }
    if (rc != 0)
        return rc;
    o->offset = v.offset;
    o->metadata = v.metadata; /* handed over */
    /* Kafka's bare decimal has no time: the znode's last write is it. */
    o->timestamp = v.version == 0 ? st.mtime : v.timestamp;
    return 0;
}

int bk_off_fetch(bk_zk *zk, const char *group, const bk_off_tp *tps, size_t n,
                 bk_off_list *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = bk_off_validate_group(group, err, errlen);
    if (rc != 0)
        return rc;
    char msg[200];
    for (size_t i = 0; i < n; i++) {
        if (!tps[i].topic ||
            bk_topic_validate_name(tps[i].topic, msg, sizeof msg) != 0) {
            bk_errf(err, errlen, "entry %zu: %s", i,
                    tps[i].topic ? msg : "no topic");
            return -BK_EINVAL;
        }
        if (tps[i].partition < 0) {
            bk_errf(err, errlen, "entry %zu: partition < 0", i);
            return -BK_EINVAL;
        }
    }
    if (n == 0)
        return 0;
    out->v = calloc(n, sizeof *out->v);
    if (!out->v)
        return -BK_ENOMEM;
    bk_buf b = BK_BUF_INIT;
    char path[BK_OFF_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        bk_off_committed *o = &out->v[i];
        out->n = i + 1;
        o->partition = tps[i].partition;
        if (!(o->topic = strdup(tps[i].topic))) {
            rc = -BK_ENOMEM;
            break;
        }
        bk_off_path_partition(path, group, tps[i].topic, tps[i].partition);
        rc = read_one(zk, path, &b, o, out, err, errlen);
        if (rc != 0) {
            bk_errf(err, errlen, "%s: %s", path, bk_strerror(rc));
            break;
        }
    }
    bk_buf_free(&b);
    if (rc != 0)
        bk_off_list_free(out);
    return rc;
}

static int cmp_committed(const void *a, const void *b)
{
    const bk_off_committed *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

/* Appends topic's partitions (children of its offsets node) to *l as
 * slots with topic and partition set; 0, or the error. */
static int list_partitions(bk_zk *zk, const char *group, const char *topic,
                           bk_off_list *l, size_t *cap)
{
    char path[BK_OFF_PATH_MAX];
    if (bk_off_path_topic(path, group, topic) != 0)
        return 0; /* a name no valid commit can have written */
    bk_zk_strings kids;
    int rc = bk_zk_children(zk, path, &kids, NULL, NULL);
    if (rc == -BK_ENOENT)
        return 0; /* deleted since it was listed */
    if (rc != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < kids.n; i++) {
        int32_t p;
        if (!bk_zkc_parse_id(kids.v[i], &p))
            continue; /* not a partition: not ours */
        if (l->n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            bk_off_committed *nv = realloc(l->v, nc * sizeof *nv);
            if (!nv) {
                rc = -BK_ENOMEM;
                break;
            }
            l->v = nv;
            *cap = nc;
        }
        bk_off_committed *o = &l->v[l->n];
        memset(o, 0, sizeof *o);
        o->partition = p;
        if (!(o->topic = strdup(topic))) {
            rc = -BK_ENOMEM;
            break;
        }
        l->n++;
    }
    bk_zk_strings_free(&kids);
    return rc;
}

int bk_off_fetch_all(bk_zk *zk, const char *group, const char *topic,
                     bk_off_list *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = bk_off_validate_group(group, err, errlen);
    if (rc != 0)
        return rc;
    char path[BK_OFF_PATH_MAX], msg[200];
    if (topic && bk_topic_validate_name(topic, msg, sizeof msg) != 0) {
        bk_errf(err, errlen, "%s", msg);
        return -BK_EINVAL;
    }
    size_t cap = 0;
    if (topic) {
        rc = list_partitions(zk, group, topic, out, &cap);
    } else {
        bk_zk_strings topics;
        bk_off_path_offsets(path, group);
        rc = bk_zk_children(zk, path, &topics, NULL, NULL);
        if (rc == -BK_ENOENT)
            return 0;
        for (size_t i = 0; rc == 0 && i < topics.n; i++)
            rc = list_partitions(zk, group, topics.v[i], out, &cap);
        bk_zk_strings_free(&topics);
    }
    if (rc == 0) {
        qsort(out->v, out->n, sizeof *out->v, cmp_committed);
        bk_buf b = BK_BUF_INIT;
        for (size_t i = 0; rc == 0 && i < out->n; i++) {
            bk_off_committed *o = &out->v[i];
            bk_off_path_partition(path, group, o->topic, o->partition);
            rc = read_one(zk, path, &b, o, out, err, errlen);
        }
        bk_buf_free(&b);
    }
    if (rc != 0) {
        bk_errf(err, errlen, "reading offsets of group %s: %s", group,
                bk_strerror(rc));
        bk_off_list_free(out);
    }
    return rc;
}

/* ------------------------------ admin ------------------------------ */

int bk_off_list_groups(bk_zk *zk, bk_zk_strings *out)
{
    memset(out, 0, sizeof *out);
    int rc = bk_zk_children(zk, BK_ZKC_CONSUMERS, out, NULL, NULL);
    if (rc == -BK_ENOENT) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    return rc;
}

/* Deletes path and everything below it; children go before parents in
 * pipelined multis (ZooKeeper applies them in order).  A commit that adds
 * a node meanwhile makes a delete fail (NOTEMPTY): the walk is redone. */
static int delete_tree(bk_zk *zk, const char *path, char *err, size_t errlen)
{
    int rc = 0;
    for (int round = 0; round < DELETE_ROUNDS; round++) {
        bk_zk_strings t;
        rc = bk_zk_tree(zk, path, &t);
        if (rc == -BK_ENOENT)
            return round == 0 ? rc : 0; /* gone (maybe by another) */
        if (rc != 0)
            break;
        int nb = (int)((t.n + DELETE_BATCH - 1) / DELETE_BATCH);
        bk_zk_op *ops = malloc(t.n * sizeof *ops);
        bk_zk_op **bops = malloc((size_t)nb * sizeof *bops);
        int *bn = malloc((size_t)nb * sizeof *bn);
        int *rcs = malloc((size_t)nb * sizeof *rcs);
        int *fails = malloc((size_t)nb * sizeof *fails);
        rc = ops && bops && bn && rcs && fails ? 0 : -BK_ENOMEM;
        if (rc == 0) {
            for (size_t i = 0; i < t.n; i++)
                ops[i] = bk_zk_op_delete(t.v[i], -1);
            for (int b = 0; b < nb; b++) {
                size_t first = (size_t)b * DELETE_BATCH;
                bops[b] = &ops[first];
                bn[b] = (int)(t.n - first < DELETE_BATCH ? t.n - first
                                                         : DELETE_BATCH);
            }
            rc = bk_zk_multi_batches(zk, bops, bn, nb, rcs, fails);
            for (int b = 0; rc == 0 && b < nb; b++)
                if (rcs[b] != 0)
                    rc = rcs[b];
        }
        free(ops);
        free(bops);
        free(bn);
        free(rcs);
        free(fails);
        bk_zk_strings_free(&t);
        if (rc == 0)
            return 0;
        if (rc != -BK_EEXIST && rc != -BK_ENOENT)
            break;
    }
    bk_errf(err, errlen, "deleting %s: %s", path,
            rc == -BK_EEXIST || rc == -BK_ENOENT
                ? "the tree kept changing (concurrent commits)"
                : bk_strerror(rc));
    return rc == -BK_ENOENT ? -BK_EEXIST : rc;
}

int bk_off_delete_group(bk_zk *zk, bk_off_cache *cache, const char *group,
                        char *err, size_t errlen)
{
    int rc = bk_off_validate_group(group, err, errlen);
    if (rc != 0)
        return rc;
    char path[BK_OFF_PATH_MAX];
    bk_off_path_group(path, group);
    bk_off_cache_forget_group(cache, group);
    rc = delete_tree(zk, path, err, errlen);
    if (rc == -BK_ENOENT)
        bk_errf(err, errlen, "group %s does not exist", group);
    return rc;
}

int bk_off_delete_offsets(bk_zk *zk, bk_off_cache *cache, const char *group,
                          const char *topic, char *err, size_t errlen)
{
    int rc = bk_off_validate_group(group, err, errlen);
    if (rc != 0)
        return rc;
    char path[BK_OFF_PATH_MAX], msg[200];
    if (!topic || bk_topic_validate_name(topic, msg, sizeof msg) != 0) {
        bk_errf(err, errlen, "%s", topic ? msg : "no topic");
        return -BK_EINVAL;
    }
    bk_off_path_topic(path, group, topic);
    cache_forget_tree(cache, path);
    rc = delete_tree(zk, path, err, errlen);
    if (rc == -BK_ENOENT)
        bk_errf(err, errlen, "group %s has no offsets for topic %s", group,
                topic);
    return rc;
}
