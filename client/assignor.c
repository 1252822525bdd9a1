/*
 * assignor.c -- consumer-protocol encodings and the range, roundrobin and
 * sticky assignors (see assignor.h for the formats and the contracts).
 *
 * Inside the assignors everything is an integer: topics are numbered in
 * name order, a partition is known by its global number g = base[t] + p (so
 * ascending g is Kafka's (topic, partition) order), and members are
 * numbered k in member order.  Per-member and per-topic lists are kept as
 * compressed rows (an offset array plus one flat array) to keep the
 * allocations few when a group has thousands of members.
 */
#include "client/assignor.h"

#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* ============================ encodings ============================ */

void bk_asg_subscription_init(bk_asg_subscription *s)
{
    memset(s, 0, sizeof *s);
    s->version = 1;
    s->user_data_len = -1;
    s->generation = -1;
}

static void tps_free(bk_asg_tp *tps, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        free(tps[i].topic);
        free(tps[i].parts);
    }
    free(tps);
}

void bk_asg_subscription_clear(bk_asg_subscription *s)
{
    for (int32_t i = 0; i < s->ntopics; i++)
        free(s->topics[i]);
    free(s->topics);
    free(s->user_data);
    tps_free(s->owned, s->nowned);
    free(s->rack);
    bk_asg_subscription_init(s);
}

void bk_asg_assignment_init(bk_asg_assignment *a)
{
    memset(a, 0, sizeof *a);
    a->user_data_len = -1;
}

void bk_asg_assignment_clear(bk_asg_assignment *a)
{
    tps_free(a->tps, a->ntps);
    free(a->user_data);
    bk_asg_assignment_init(a);
}

/* --- decoding --- */

/*
 * Decoder state: the checked reader plus the field being read, kept as
 * pieces (name, index, sub-field, index) and formatted only when something
 * fails, so that naming the field costs a few stores per element.
 */
typedef struct dec {
    bk_rd r;
    const char *msg;   /* "subscription" or "assignment" */
    const char *outer; /* field name */
    int32_t i;         /* its element, -1: none */
    const char *inner; /* field inside the element, NULL: none */
    int32_t j;         /* its element, -1: none */
    char *err;
    size_t errlen;
} dec;

static void dec_at(dec *d, const char *outer, int32_t i, const char *inner,
                   int32_t j)
{
    d->outer = outer;
    d->i = i;
    d->inner = inner;
    d->j = j;
}

__attribute__((format(printf, 4, 5))) static int
dec_fail(dec *d, int rc, size_t pos, const char *fmt, ...)
{
    if (!d->err || !d->errlen)
        return rc;
    char what[128], field[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int n = snprintf(field, sizeof field, "%s", d->outer);
    if (d->i >= 0 && n >= 0 && (size_t)n < sizeof field)
        n += snprintf(field + n, sizeof field - (size_t)n, "[%d]", d->i);
    if (d->inner && n >= 0 && (size_t)n < sizeof field)
        n += snprintf(field + n, sizeof field - (size_t)n, ".%s", d->inner);
    if (d->j >= 0 && n >= 0 && (size_t)n < sizeof field)
        snprintf(field + n, sizeof field - (size_t)n, "[%d]", d->j);
    bk_errf(d->err, d->errlen, "%s: %s at byte %zu: %s", d->msg, field, pos,
            what);
    return rc;
}

static int dec_oom(dec *d)
{
    return dec_fail(d, -BK_ENOMEM, d->r.pos, "out of memory");
}

static int dec_i16(dec *d, int16_t *v)
{
    if (bk_rd_i16(&d->r, v) == 0)
        return 0;
    return dec_fail(d, -BK_EINVAL, d->r.pos,
                    "truncated: int16 needs 2 bytes, %zu left",
                    bk_rd_remains(&d->r));
}

static int dec_i32(dec *d, int32_t *v)
{
    if (bk_rd_i32(&d->r, v) == 0)
        return 0;
    return dec_fail(d, -BK_EINVAL, d->r.pos,
                    "truncated: int32 needs 4 bytes, %zu left",
                    bk_rd_remains(&d->r));
}

/* An array count: not null, not negative, and not more elements (of at
 * least `min_size` bytes each) than the bytes left can hold -- checked
 * before anything is allocated, so a forged count cannot ask for
 * gigabytes. */
static int dec_count(dec *d, size_t min_size, int32_t *n)
{
    size_t pos = d->r.pos;
    int rc = dec_i32(d, n);
    if (rc)
        return rc;
    if (*n == -1)
        return dec_fail(d, -BK_EINVAL, pos, "null array is not allowed here");
    if (*n < 0)
        return dec_fail(d, -BK_EINVAL, pos, "negative array count %d", *n);
    if ((size_t)*n > bk_rd_remains(&d->r) / min_size)
        return dec_fail(d, -BK_EINVAL, pos,
                        "array count %d cannot fit in the %zu bytes left", *n,
                        bk_rd_remains(&d->r));
    return 0;
}

/* A string into a fresh NUL-terminated copy; *out stays NULL for a null
 * string when `nullable`.  Names with NUL bytes are refused: they could
 * not be used as C strings later. */
static int dec_str(dec *d, bool nullable, char **out)
{
    size_t pos = d->r.pos;
    int16_t len;
    const uint8_t *p;
    int rc = dec_i16(d, &len);
    if (rc)
        return rc;
    if (len == -1 && nullable)
        return 0;
    if (len < 0)
        return dec_fail(d, -BK_EINVAL, pos, "%s string length %d",
                        len == -1 ? "null" : "negative", len);
    if (bk_rd_ptr(&d->r, (size_t)len, &p) != 0)
        return dec_fail(d, -BK_EINVAL, pos,
                        "truncated: string of %d bytes, %zu left", len,
                        bk_rd_remains(&d->r));
    if (len && memchr(p, 0, (size_t)len))
        return dec_fail(d, -BK_EINVAL, pos, "string contains a NUL byte");
    char *s = malloc((size_t)len + 1);
    if (!s)
        return dec_oom(d);
    if (len)
        memcpy(s, p, (size_t)len);
    s[len] = '\0';
    *out = s;
    return 0;
}

/* Nullable bytes: *len -1 and *out NULL for null. */
static int dec_bytes(dec *d, uint8_t **out, int32_t *len)
{
    size_t pos = d->r.pos;
    const uint8_t *p;
    int rc = dec_i32(d, len);
    if (rc)
        return rc;
    if (*len == -1)
        return 0;
    if (*len < 0)
        return dec_fail(d, -BK_EINVAL, pos, "negative bytes length %d", *len);
    if (bk_rd_ptr(&d->r, (size_t)*len, &p) != 0)
        return dec_fail(d, -BK_EINVAL, pos,
                        "truncated: %d bytes announced, %zu left", *len,
                        bk_rd_remains(&d->r));
    if (*len == 0)
        return 0;
    if (!(*out = malloc((size_t)*len)))
        return dec_oom(d);
    memcpy(*out, p, (size_t)*len);
    return 0;
}

/* [topic string, [int32] partitions]: the counts are stored as soon as the
 * zeroed array exists, so the caller's clear() frees a partial result. */
static int dec_tps(dec *d, const char *field, bk_asg_tp **out, int32_t *nout)
{
    int32_t n;
    int rc;
    dec_at(d, field, -1, NULL, -1);
    if ((rc = dec_count(d, 2 + 4, &n)) != 0)
        return rc;
    if (n == 0)
        return 0;
    if (!(*out = calloc((size_t)n, sizeof **out)))
        return dec_oom(d);
    *nout = n;
    for (int32_t i = 0; i < n; i++) {
        bk_asg_tp *tp = &(*out)[i];
        int32_t np;
        dec_at(d, field, i, "topic", -1);
        if ((rc = dec_str(d, false, &tp->topic)) != 0)
            return rc;
        dec_at(d, field, i, "partitions", -1);
        if ((rc = dec_count(d, 4, &np)) != 0)
            return rc;
        if (np == 0)
            continue;
        if (!(tp->parts = malloc((size_t)np * sizeof *tp->parts)))
            return dec_oom(d);
        tp->nparts = np;
        for (int32_t j = 0; j < np; j++) {
            dec_at(d, field, i, "partitions", j);
            if ((rc = dec_i32(d, &tp->parts[j])) != 0)
                return rc;
        }
    }
    return 0;
}

static void dec_init(dec *d, const char *msg, const void *data, size_t len,
                     char *err, size_t errlen)
{
    bk_rd_init(&d->r, data, len);
    d->msg = msg;
    d->err = err;
    d->errlen = errlen;
    dec_at(d, "version", -1, NULL, -1);
}

/* The version to parse as: a negative one is malformed, a newer one is
 * read as the newest known (its extra fields follow ours; Kafka's
 * ConsumerProtocol does the same so that old leaders accept new members). */
static int dec_version(dec *d, int16_t max, int16_t *version, int16_t *as)
{
    int rc = dec_i16(d, version);
    if (rc)
        return rc;
    if (*version < 0)
        return dec_fail(d, -BK_EINVAL, 0, "negative version %d", *version);
    *as = *version > max ? max : *version;
    return 0;
}

/* Known versions must end exactly: trailing bytes mean the writer and we
 * disagree about the layout, which is better reported than ignored. */
static int dec_end(dec *d, int16_t version, int16_t max)
{
    if (version > max || bk_rd_remains(&d->r) == 0)
        return 0;
    dec_at(d, "end", -1, NULL, -1);
    return dec_fail(d, -BK_EINVAL, d->r.pos,
                    "%zu trailing bytes after a version %d %s",
                    bk_rd_remains(&d->r), version, d->msg);
}

int bk_asg_subscription_decode(const void *data, size_t len,
                               bk_asg_subscription *s, char *err, size_t errlen)
{
    dec d;
    int16_t version, v;
    int32_t n;
    int rc;

    dec_init(&d, "subscription", data, len, err, errlen);
    bk_asg_subscription_init(s);
    if ((rc = dec_version(&d, BK_ASG_SUBSCRIPTION_VERSION_MAX, &version, &v)) !=
        0)
        goto fail;
    s->version = version;

    dec_at(&d, "topics", -1, NULL, -1);
    if ((rc = dec_count(&d, 2, &n)) != 0)
        goto fail;
    if (n > 0) {
        if (!(s->topics = calloc((size_t)n, sizeof *s->topics))) {
            rc = dec_oom(&d);
            goto fail;
        }
        s->ntopics = n;
    }
    for (int32_t i = 0; i < n; i++) {
        dec_at(&d, "topics", i, NULL, -1);
        if ((rc = dec_str(&d, false, &s->topics[i])) != 0)
            goto fail;
    }
    dec_at(&d, "user_data", -1, NULL, -1);
    if ((rc = dec_bytes(&d, &s->user_data, &s->user_data_len)) != 0)
        goto fail;
    if (v >= 1 &&
        (rc = dec_tps(&d, "owned_partitions", &s->owned, &s->nowned)) != 0)
        goto fail;
    if (v >= 2) {
        dec_at(&d, "generation_id", -1, NULL, -1);
        if ((rc = dec_i32(&d, &s->generation)) != 0)
            goto fail;
    }
    if (v >= 3) {
        dec_at(&d, "rack_id", -1, NULL, -1);
        if ((rc = dec_str(&d, true, &s->rack)) != 0)
            goto fail;
    }
    if ((rc = dec_end(&d, version, BK_ASG_SUBSCRIPTION_VERSION_MAX)) != 0)
        goto fail;
    return 0;
fail:
    bk_asg_subscription_clear(s);
    return rc;
}

int bk_asg_assignment_decode(const void *data, size_t len, bk_asg_assignment *a,
                             char *err, size_t errlen)
{
    dec d;
    int16_t version, v;
    int rc;

    bk_asg_assignment_init(a);
    if (len == 0)
        return 0; /* what the coordinator sends a member given nothing */
    dec_init(&d, "assignment", data, len, err, errlen);
    if ((rc = dec_version(&d, BK_ASG_ASSIGNMENT_VERSION_MAX, &version, &v)) !=
        0)
        goto fail;
    a->version = version;
    if ((rc = dec_tps(&d, "assigned_partitions", &a->tps, &a->ntps)) != 0)
        goto fail;
    dec_at(&d, "user_data", -1, NULL, -1);
    if ((rc = dec_bytes(&d, &a->user_data, &a->user_data_len)) != 0)
        goto fail;
    if ((rc = dec_end(&d, version, BK_ASG_ASSIGNMENT_VERSION_MAX)) != 0)
        goto fail;
    return 0;
fail:
    bk_asg_assignment_clear(a);
    return rc;
}

/* --- encoding --- */

static int enc_str(bk_buf *b, const char *s, bool nullable, const char *msg,
                   const char *field, int32_t i, char *err, size_t errlen)
{
    if (!s && nullable) {
        bk_buf_put_i16(b, -1);
        return 0;
    }
    size_t len = s ? strlen(s) : 0;
    if (!s || len > INT16_MAX) {
        char at[16] = "";
        if (i >= 0)
            snprintf(at, sizeof at, "[%d]", i);
        bk_errf(err, errlen, "%s: %s%s is %s", msg, field, at,
                s ? "longer than 32767 bytes" : "NULL");
        return -BK_EINVAL;
    }
    bk_buf_put_i16(b, (int16_t)len);
    bk_buf_put(b, s, len);
    return 0;
}

static int enc_bytes(bk_buf *b, const uint8_t *p, int32_t len)
{
    bk_buf_put_i32(b, len < 0 ? -1 : len);
    if (len > 0) {
        if (!p)
            return -BK_EINVAL;
        bk_buf_put(b, p, (size_t)len);
    }
    return 0;
}

static int enc_tps(bk_buf *b, const bk_asg_tp *tps, int32_t n, const char *msg,
                   const char *field, char *err, size_t errlen)
{
    int rc;
    if (n < 0 || (n > 0 && !tps)) {
        bk_errf(err, errlen, "%s: %s: bad count %d", msg, field, n);
        return -BK_EINVAL;
    }
    bk_buf_put_i32(b, n);
    for (int32_t i = 0; i < n; i++) {
        if ((rc = enc_str(b, tps[i].topic, false, msg, field, i, err,
                          errlen)) != 0)
            return rc;
        if (tps[i].nparts < 0 || (tps[i].nparts > 0 && !tps[i].parts)) {
            bk_errf(err, errlen, "%s: %s[%d].partitions: bad count %d", msg,
                    field, i, tps[i].nparts);
            return -BK_EINVAL;
        }
        bk_buf_put_i32(b, tps[i].nparts);
        for (int32_t j = 0; j < tps[i].nparts; j++)
            bk_buf_put_i32(b, tps[i].parts[j]);
    }
    return 0;
}

int bk_asg_subscription_encode(const bk_asg_subscription *s, bk_buf *out,
                               char *err, size_t errlen)
{
    static const char msg[] = "subscription";
    int rc;
    if (s->version < 0 || s->version > BK_ASG_SUBSCRIPTION_VERSION_MAX) {
        bk_errf(err, errlen, "%s: cannot write version %d", msg, s->version);
        return -BK_EINVAL;
    }
    if (s->ntopics < 0 || (s->ntopics > 0 && !s->topics)) {
        bk_errf(err, errlen, "%s: topics: bad count %d", msg, s->ntopics);
        return -BK_EINVAL;
    }
    bk_buf_put_i16(out, s->version);
    bk_buf_put_i32(out, s->ntopics);
    for (int32_t i = 0; i < s->ntopics; i++)
        if ((rc = enc_str(out, s->topics[i], false, msg, "topics", i, err,
                          errlen)) != 0)
            return rc;
    if (enc_bytes(out, s->user_data, s->user_data_len) != 0) {
        bk_errf(err, errlen, "%s: user_data is NULL", msg);
        return -BK_EINVAL;
    }
    if (s->version >= 1 && (rc = enc_tps(out, s->owned, s->nowned, msg,
                                         "owned_partitions", err, errlen)) != 0)
        return rc;
    if (s->version >= 2)
        bk_buf_put_i32(out, s->generation);
    if (s->version >= 3 && (rc = enc_str(out, s->rack, true, msg, "rack_id", -1,
                                         err, errlen)) != 0)
        return rc;
    if (!bk_buf_ok(out)) {
        bk_errf(err, errlen, "%s: out of memory", msg);
        return -BK_ENOMEM;
    }
    return 0;
}

int bk_asg_assignment_encode(const bk_asg_assignment *a, bk_buf *out, char *err,
                             size_t errlen)
{
    static const char msg[] = "assignment";
    int rc;
    if (a->version < 0 || a->version > BK_ASG_ASSIGNMENT_VERSION_MAX) {
        bk_errf(err, errlen, "%s: cannot write version %d", msg, a->version);
        return -BK_EINVAL;
    }
    bk_buf_put_i16(out, a->version);
    if ((rc = enc_tps(out, a->tps, a->ntps, msg, "assigned_partitions", err,
                      errlen)) != 0)
        return rc;
    if (enc_bytes(out, a->user_data, a->user_data_len) != 0) {
        bk_errf(err, errlen, "%s: user_data is NULL", msg);
        return -BK_EINVAL;
    }
    if (!bk_buf_ok(out)) {
        bk_errf(err, errlen, "%s: out of memory", msg);
        return -BK_ENOMEM;
    }
    return 0;
}

/* ============================ assignors ============================ */

/* A growable list of int32 (global partition numbers). */
typedef struct ilist {
    int32_t *v;
    int32_t n, cap;
} ilist;

static int il_reserve(ilist *l, int32_t cap)
{
    if (cap <= l->cap)
        return 0;
    int32_t *v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v)
        return -BK_ENOMEM;
    l->v = v;
    l->cap = cap;
    return 0;
}

static int il_push(ilist *l, int32_t x)
{
    if (l->n == INT32_MAX)
        return -BK_ENOMEM;
    if (l->n == l->cap &&
        il_reserve(l, l->cap < 8               ? 8
                      : l->cap > INT32_MAX / 2 ? INT32_MAX
                                               : l->cap * 2) != 0)
        return -BK_ENOMEM;
    l->v[l->n++] = x;
    return 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sort records, kept apart from the input so qsort needs no context. */
typedef struct tsort {
    const char *name;
    int32_t nparts;
} tsort;
typedef struct msort {
    const char *inst; /* NULL: dynamic member */
    const char *id;
    int32_t orig; /* index in the input */
} msort;

static int cmp_tsort(const void *a, const void *b)
{
    return strcmp(((const tsort *)a)->name, ((const tsort *)b)->name);
}

/*
 * Kafka's MemberInfo order: static members first, by group.instance.id,
 * then dynamic ones by member id.  Java compares UTF-16 units and we
 * compare bytes; both agree on everything below U+E000 (plain ASCII ids in
 * practice).  Equal instance ids (which the coordinator fences) fall back
 * to the member id so the order stays total.
 */
static int cmp_msort(const void *a, const void *b)
{
    const msort *x = a, *y = b;
    if (x->inst && y->inst) {
        int c = strcmp(x->inst, y->inst);
        if (c)
            return c;
    } else if (x->inst) {
        return -1;
    } else if (y->inst) {
        return 1;
    }
    return strcmp(x->id, y->id);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The assignors' shared view of one rebalance. */
typedef struct asg {
    int32_t nt;        /* known topics, numbered in name order */
    tsort *topics;     /* [t] name and partition count */
    int32_t *base;     /* [t] global number of partition 0; [nt] = total */
    int32_t nm;        /* members, numbered in member order */
    msort *members;    /* [k] */
    int32_t *msub_off; /* [k]..[k+1]: member k's topics in msub */
    int32_t *msub;     /* ascending topic numbers, no repeats */
    int32_t *tsub_off; /* [t]..[t+1]: topic t's subscribers in tsub */
    int32_t *tsub;     /* ascending member numbers */
    ilist *out;        /* [k] partitions given to member k */
    const bk_asg_member *in;
    char *err;
    size_t errlen;
} asg;

static void asg_free(asg *a)
{
    free(a->topics);
    free(a->base);
    free(a->members);
    free(a->msub_off);
    free(a->msub);
    free(a->tsub_off);
    free(a->tsub);
    if (a->out)
        for (int32_t k = 0; k < a->nm; k++)
            free(a->out[k].v);
    free(a->out);
}

/* Topic number of a name, -1 when the metadata does not know it. */
static int32_t asg_topic(const asg *a, const char *name)
{
    tsort key = {name, 0};
    const tsort *t = name ? bsearch(&key, a->topics, (size_t)a->nt,
                                    sizeof *a->topics, cmp_tsort)
                          : NULL;
    return t ? (int32_t)(t - a->topics) : -1;
}

/* Topic number of a global partition number. */
static int32_t asg_topic_of(const asg *a, int32_t g)
{
    int32_t lo = 0, hi = a->nt - 1; /* base[lo] <= g < base[hi + 1] */
    assert(g >= 0 && g < a->base[a->nt]);
    while (lo < hi) {
        int32_t mid = lo + (hi - lo + 1) / 2;
        if (a->base[mid] <= g)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static bool asg_subscribes(const asg *a, int32_t k, int32_t t)
{
    const int32_t *v = a->msub + a->msub_off[k];
    size_t n = (size_t)(a->msub_off[k + 1] - a->msub_off[k]);
    return bsearch(&t, v, n, sizeof *v, cmp_i32) != NULL;
}

static int asg_oom(asg *a)
{
    bk_errf(a->err, a->errlen, "assignor: out of memory");
    return -BK_ENOMEM;
}

/* Validates the input and builds the numbered view. */
static int asg_init(asg *a, const bk_asg_member *in, int32_t nm,
                    const bk_asg_topic *topics, int32_t nt, char *err,
                    size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->in = in;
    a->err = err;
    a->errlen = errlen;
    if (nm < 0 || nt < 0 || (nm && !in) || (nt && !topics)) {
        bk_errf(err, errlen, "assignor: bad member or topic count");
        return -BK_EINVAL;
    }

    /* topics in name order, numbered */
    a->nt = nt;
    a->topics = malloc(((size_t)nt + 1) * sizeof *a->topics);
    a->base = malloc(((size_t)nt + 1) * sizeof *a->base);
    if (!a->topics || !a->base)
        return asg_oom(a);
    for (int32_t t = 0; t < nt; t++) {
        if (!topics[t].name || topics[t].nparts < 0) {
            bk_errf(err, errlen, "assignor: topic %d: %s", t,
                    topics[t].name ? "negative partition count" : "NULL name");
            return -BK_EINVAL;
        }
        a->topics[t] = (tsort){topics[t].name, topics[t].nparts};
    }
    qsort(a->topics, (size_t)nt, sizeof *a->topics, cmp_tsort);
    int64_t total = 0;
    for (int32_t t = 0; t < nt; t++) {
        if (t > 0 && strcmp(a->topics[t - 1].name, a->topics[t].name) == 0) {
            bk_errf(err, errlen, "assignor: topic '%s' given twice",
                    a->topics[t].name);
            return -BK_EINVAL;
        }
        a->base[t] = (int32_t)total;
        total += a->topics[t].nparts;
        if (total > INT32_MAX) {
            bk_errf(err, errlen, "assignor: more than %d partitions",
                    INT32_MAX);
            return -BK_EINVAL;
        }
    }
    a->base[nt] = (int32_t)total;

    /* members in member order; ids unique */
    a->nm = nm;
    a->members = malloc(((size_t)nm + 1) * sizeof *a->members);
    const char **ids = malloc(((size_t)nm + 1) * sizeof *ids);
    if (!a->members || !ids) {
        free(ids);
        return asg_oom(a);
    }
    for (int32_t k = 0; k < nm; k++) {
        a->members[k] = (msort){in[k].instance_id, in[k].member_id, k};
        ids[k] = in[k].member_id;
        if (!ids[k]) {
            free(ids);
            bk_errf(err, errlen, "assignor: member %d has no member id", k);
            return -BK_EINVAL;
        }
    }
    qsort(ids, (size_t)nm, sizeof *ids, cmp_str_ptr);
    for (int32_t k = 1; k < nm; k++) {
        if (strcmp(ids[k - 1], ids[k]) == 0) {
            bk_errf(err, errlen, "assignor: member id '%s' given twice",
                    ids[k]);
            free(ids);
            return -BK_EINVAL;
        }
    }
    free(ids);
    qsort(a->members, (size_t)nm, sizeof *a->members, cmp_msort);

    /* each member's known topics, ascending, without repeats; written in
     * place over the flat array (the write position never passes the read
     * position) */
    int64_t nsub = 0;
    for (int32_t k = 0; k < nm; k++) {
        const bk_asg_subscription *s = &in[a->members[k].orig].sub;
        if (s->ntopics < 0 || (s->ntopics > 0 && !s->topics)) {
            bk_errf(err, errlen, "assignor: member '%s': bad topic count",
                    a->members[k].id);
            return -BK_EINVAL;
        }
        nsub += s->ntopics;
        if (nsub > INT32_MAX) {
            bk_errf(err, errlen, "assignor: too many subscriptions");
            return -BK_EINVAL;
        }
    }
    a->msub_off = malloc(((size_t)nm + 1) * sizeof *a->msub_off);
    a->msub = malloc(((size_t)nsub + 1) * sizeof *a->msub);
    a->tsub_off = calloc((size_t)nt + 2, sizeof *a->tsub_off);
    a->out = calloc((size_t)nm + 1, sizeof *a->out);
    if (!a->msub_off || !a->msub || !a->tsub_off || !a->out)
        return asg_oom(a);
    int32_t w = 0;
    for (int32_t k = 0; k < nm; k++) {
        const bk_asg_subscription *s = &in[a->members[k].orig].sub;
        int32_t start = w;
        a->msub_off[k] = start;
        for (int32_t i = 0; i < s->ntopics; i++) {
            int32_t t = asg_topic(a, s->topics[i]);
            if (t >= 0)
                a->msub[w++] = t;
        }
        qsort(a->msub + start, (size_t)(w - start), sizeof *a->msub, cmp_i32);
        int32_t u = start;
        for (int32_t i = start; i < w; i++)
            if (i == start || a->msub[i] != a->msub[u - 1])
                a->msub[u++] = a->msub[i];
        w = u;
        for (int32_t i = start; i < w; i++)
            a->tsub_off[a->msub[i] + 2]++;
    }
    a->msub_off[nm] = w;

    /* transpose into per-topic subscriber lists (counting sort: members
     * are visited in order, so each list comes out ascending) */
    a->tsub = malloc(((size_t)w + 1) * sizeof *a->tsub);
    if (!a->tsub)
        return asg_oom(a);
    for (int32_t t = 0; t < nt; t++)
        a->tsub_off[t + 2] += a->tsub_off[t + 1];
    for (int32_t k = 0; k < nm; k++)
        for (int32_t i = a->msub_off[k]; i < a->msub_off[k + 1]; i++)
            a->tsub[a->tsub_off[a->msub[i] + 1]++] = k;
    /* tsub_off[t + 1] now ends topic t, i.e. tsub_off[t] starts it */
    return 0;
}

/* Turns the per-member lists into the plan, indexed like the input. */
static int asg_finish(asg *a, bk_asg_plan *out)
{
    out->nmembers = a->nm;
    out->assign = calloc((size_t)a->nm + 1, sizeof *out->assign);
    if (!out->assign)
        return asg_oom(a);
    for (int32_t k = 0; k < a->nm; k++)
        bk_asg_assignment_init(&out->assign[k]);
    for (int32_t k = 0; k < a->nm; k++) {
        bk_asg_assignment *as = &out->assign[a->members[k].orig];
        ilist *l = &a->out[k];
        if (l->n == 0)
            continue;
        qsort(l->v, (size_t)l->n, sizeof *l->v, cmp_i32);
        int32_t runs = 0;
        for (int32_t i = 0, t = -1; i < l->n; i++) {
            assert(i == 0 || l->v[i] > l->v[i - 1]); /* given once */
            if (t < 0 || l->v[i] >= a->base[t + 1]) {
                t = asg_topic_of(a, l->v[i]);
                runs++;
            }
        }
        if (!(as->tps = calloc((size_t)runs, sizeof *as->tps)))
            return asg_oom(a);
        as->ntps = runs;
        for (int32_t i = 0, r = -1, t = -1; i < l->n; i++) {
            if (t < 0 || l->v[i] >= a->base[t + 1]) {
                t = asg_topic_of(a, l->v[i]);
                r++;
                int32_t end = i;
                while (end < l->n && l->v[end] < a->base[t + 1])
                    end++;
                as->tps[r].topic = strdup(a->topics[t].name);
                as->tps[r].parts =
                    malloc((size_t)(end - i) * sizeof *as->tps[r].parts);
                if (!as->tps[r].topic || !as->tps[r].parts)
                    return asg_oom(a);
            }
            as->tps[r].parts[as->tps[r].nparts++] = l->v[i] - a->base[t];
        }
    }
    return 0;
}

/* Runs body(a) between the shared set-up and the conversion; a failed run
 * leaves *out empty. */
static int asg_run(int (*body)(asg *), const bk_asg_member *members,
                   int32_t nmembers, const bk_asg_topic *topics,
                   int32_t ntopics, bk_asg_plan *out, char *err, size_t errlen)
{
    asg a;
    memset(out, 0, sizeof *out);
    int rc = asg_init(&a, members, nmembers, topics, ntopics, err, errlen);
    if (rc == 0)
        rc = body(&a);
    if (rc == 0)
        rc = asg_finish(&a, out);
    asg_free(&a);
    if (rc)
        bk_asg_plan_free(out);
    return rc;
}

void bk_asg_plan_free(bk_asg_plan *p)
{
    if (p->assign)
        for (int32_t k = 0; k < p->nmembers; k++)
            bk_asg_assignment_clear(&p->assign[k]);
    free(p->assign);
    p->assign = NULL;
    p->nmembers = 0;
}

/* --- range --- */

static int range_body(asg *a)
{
    for (int32_t t = 0; t < a->nt; t++) {
        const int32_t *subs = a->tsub + a->tsub_off[t];
        int32_t m = a->tsub_off[t + 1] - a->tsub_off[t];
        int32_t n = a->topics[t].nparts;
        if (m == 0)
            continue;
        int32_t q = n / m, extra = n % m;
        for (int32_t i = 0; i < m; i++) {
            int32_t start = q * i + (i < extra ? i : extra);
            int32_t len = q + (i < extra);
            for (int32_t p = start; p < start + len; p++)
                if (il_push(&a->out[subs[i]], a->base[t] + p) != 0)
                    return asg_oom(a);
        }
    }
    return 0;
}

int bk_asg_range(const bk_asg_member *members, int32_t nmembers,
                 const bk_asg_topic *topics, int32_t ntopics, bk_asg_plan *out,
                 char *err, size_t errlen)
{
    return asg_run(range_body, members, nmembers, topics, ntopics, out, err,
                   errlen);
}

/* --- roundrobin --- */

static int roundrobin_body(asg *a)
{
    int32_t k = 0;
    for (int32_t t = 0; t < a->nt; t++) {
        if (a->tsub_off[t + 1] == a->tsub_off[t])
            continue; /* nobody subscribes: the cursor never spins idle */
        for (int32_t p = 0; p < a->topics[t].nparts; p++) {
            while (!asg_subscribes(a, k, t))
                k = (k + 1) % a->nm;
            if (il_push(&a->out[k], a->base[t] + p) != 0)
                return asg_oom(a);
            k = (k + 1) % a->nm;
        }
    }
    return 0;
}

int bk_asg_roundrobin(const bk_asg_member *members, int32_t nmembers,
                      const bk_asg_topic *topics, int32_t ntopics,
                      bk_asg_plan *out, char *err, size_t errlen)
{
    return asg_run(roundrobin_body, members, nmembers, topics, ntopics, out,
                   err, errlen);
}

/* --- sticky --- */

/*
 * Claims: which member keeps which partition if balance allows.  A claim
 * counts only for a known partition of a topic the member still
 * subscribes to.  Between two claims the higher generation wins (the other
 * member missed a rebalance and its list is stale); between equal
 * generations the member first in member order wins, so the result does
 * not depend on the order members are given in.
 */
static void sticky_claims(asg *a, int32_t *claim, int32_t *cgen)
{
    for (int32_t g = 0; g < a->base[a->nt]; g++)
        claim[g] = -1;
    for (int32_t k = 0; k < a->nm; k++) {
        const bk_asg_subscription *s = &a->in[a->members[k].orig].sub;
        if (s->nowned <= 0 || !s->owned)
            continue;
        for (int32_t i = 0; i < s->nowned; i++) {
            int32_t t = asg_topic(a, s->owned[i].topic);
            if (t < 0 || !asg_subscribes(a, k, t) || !s->owned[i].parts)
                continue;
            for (int32_t j = 0; j < s->owned[i].nparts; j++) {
                int32_t p = s->owned[i].parts[j];
                if (p < 0 || p >= a->topics[t].nparts)
                    continue;
                int32_t g = a->base[t] + p;
                if (claim[g] < 0 ||
                    (claim[g] != k && s->generation > cgen[g])) {
                    claim[g] = k;
                    cgen[g] = s->generation;
                }
            }
        }
    }
}

typedef struct capsort {
    int32_t claims;
    int32_t k;
} capsort;

static int cmp_capsort(const void *a, const void *b)
{
    const capsort *x = a, *y = b;
    if (x->claims != y->claims)
        return x->claims > y->claims ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k);
}

/*
 * Every member subscribes to the same topics: N partitions over M members
 * means n/m each and n%m members with one more; giving the larger quotas
 * to the members with the most claims and letting each keep claims up to
 * its quota keeps the most claims any balanced assignment can keep.
 */
static int sticky_same(asg *a, const int32_t *claim)
{
    const int32_t *tops = a->msub + a->msub_off[0];
    int32_t ntops = a->msub_off[1] - a->msub_off[0];
    int64_t n = 0;
    int rc = -BK_ENOMEM;
    for (int32_t i = 0; i < ntops; i++)
        n += a->topics[tops[i]].nparts;
    int32_t q = (int32_t)(n / a->nm), extra = (int32_t)(n % a->nm);

    capsort *cs = calloc((size_t)a->nm, sizeof *cs);
    int32_t *cap = malloc((size_t)a->nm * sizeof *cap);
    uint8_t *kept = NULL; /* [g] 1: kept by its claimant */
    if (!cs || !cap)
        goto out;
    for (int32_t k = 0; k < a->nm; k++)
        cs[k].k = k;
    for (int32_t i = 0; i < ntops; i++)
        for (int32_t g = a->base[tops[i]]; g < a->base[tops[i] + 1]; g++)
            if (claim[g] >= 0)
                cs[claim[g]].claims++;
    qsort(cs, (size_t)a->nm, sizeof *cs, cmp_capsort);
    for (int32_t i = 0; i < a->nm; i++)
        cap[cs[i].k] = q + (i < extra);
    for (int32_t k = 0; k < a->nm; k++)
        if (il_reserve(&a->out[k], cap[k] > 0 ? cap[k] : 1) != 0)
            goto out;

    /* keep claims up to the quota (the lowest-numbered ones) */
    if (!(kept = calloc((size_t)a->base[a->nt] + 1, 1)))
        goto out;
    for (int32_t i = 0; i < ntops; i++)
        for (int32_t g = a->base[tops[i]]; g < a->base[tops[i] + 1]; g++) {
            int32_t k = claim[g];
            if (k >= 0 && a->out[k].n < cap[k]) {
                a->out[k].v[a->out[k].n++] = g;
                kept[g] = 1;
            }
        }
    /* the rest fill the members below quota, in member order */
    int32_t k = 0;
    for (int32_t i = 0; i < ntops; i++)
        for (int32_t g = a->base[tops[i]]; g < a->base[tops[i] + 1]; g++) {
            if (kept[g])
                continue;
            while (a->out[k].n >= cap[k])
                k++;
            assert(k < a->nm);
            a->out[k].v[a->out[k].n++] = g;
        }
    rc = 0;
out:
    free(kept);
    free(cs);
    free(cap);
    return rc ? asg_oom(a) : 0;
}

/* Fewest-partitions subscriber of topic t other than `skip` (-1: none);
 * ties go to the first in member order. */
static int32_t sticky_least(const asg *a, int32_t t, int32_t skip)
{
    int32_t best = -1;
    for (int32_t i = a->tsub_off[t]; i < a->tsub_off[t + 1]; i++) {
        int32_t k = a->tsub[i];
        if (k != skip && (best < 0 || a->out[k].n < a->out[best].n))
            best = k;
    }
    return best;
}

typedef struct movesort {
    int32_t t;       /* topic */
    int32_t claimed; /* 1: the holder claimed it (move those last) */
    int32_t g;
} movesort;

static int cmp_movesort(const void *a, const void *b)
{
    const movesort *x = a, *y = b;
    if (x->t != y->t)
        return (x->t > y->t) - (x->t < y->t);
    if (x->claimed != y->claimed)
        return x->claimed - y->claimed;
    return (x->g > y->g) - (x->g < y->g);
}

/*
 * Members with different subscriptions.  Keep every claim, give each
 * unclaimed partition to its least loaded subscriber (partitions with the
 * fewest possible owners first, as Kafka does, so that the constrained
 * ones are placed while there is still room), then move partitions one at
 * a time from a member to a subscriber holding two or more fewer until no
 * such move exists.  Each move lowers the sum of squared loads by at least
 * two, so the loop ends; when it ends the assignment is balanced in the
 * sense of assignor.h.  Unclaimed partitions move before claimed ones.
 */
static int sticky_general(asg *a, const int32_t *claim)
{
    int32_t npart = a->base[a->nt];
    int32_t *where = malloc(((size_t)npart + 1) * sizeof *where);
    size_t nms = (size_t)(a->nm > a->nt ? a->nm : a->nt) + 1;
    capsort *ms = malloc(nms * sizeof *ms); /* sort space, topics/members */
    movesort *mv = NULL;
    size_t mvcap = 0;
    int rc = -BK_ENOMEM;
    if (!where || !ms)
        goto out;

    /* where[g]: index of g in its holder's list, -1: unassigned */
    for (int32_t g = 0; g < npart; g++) {
        where[g] = -1;
        if (claim[g] >= 0) {
            ilist *l = &a->out[claim[g]];
            where[g] = l->n;
            if (il_push(l, g) != 0)
                goto out;
        }
    }

    /* unclaimed partitions, topics with the fewest subscribers first */
    for (int32_t t = 0; t < a->nt; t++) /* cmp_capsort: largest first */
        ms[t] = (capsort){-(a->tsub_off[t + 1] - a->tsub_off[t]), t};
    qsort(ms, (size_t)a->nt, sizeof *ms, cmp_capsort);
    for (int32_t i = 0; i < a->nt; i++) {
        int32_t t = ms[i].k;
        if (a->tsub_off[t + 1] == a->tsub_off[t])
            continue;
        for (int32_t g = a->base[t]; g < a->base[t + 1]; g++) {
            if (where[g] >= 0)
                continue;
            int32_t k = sticky_least(a, t, -1);
            where[g] = a->out[k].n;
            if (il_push(&a->out[k], g) != 0)
                goto out;
        }
    }

    /* balance */
    for (bool moved = true; moved;) {
        moved = false;
        for (int32_t k = 0; k < a->nm; k++)
            ms[k] = (capsort){a->out[k].n, k};
        qsort(ms, (size_t)a->nm, sizeof *ms, cmp_capsort);
        for (int32_t i = 0; i < a->nm; i++) {
            int32_t k = ms[i].k;
            ilist *from = &a->out[k];
            if (from->n < 2)
                continue;
            if ((size_t)from->n > mvcap) {
                free(mv);
                mvcap = (size_t)from->n;
                if (!(mv = malloc(mvcap * sizeof *mv)))
                    goto out;
            }
            int32_t nmv = from->n;
            for (int32_t j = 0; j < nmv; j++) {
                int32_t g = from->v[j];
                mv[j] = (movesort){asg_topic_of(a, g), claim[g] == k, g};
            }
            qsort(mv, (size_t)nmv, sizeof *mv, cmp_movesort);
            for (int32_t j = 0; j < nmv;) {
                int32_t t = mv[j].t, end = j;
                while (end < nmv && mv[end].t == t)
                    end++;
                for (int32_t to; j < end; j++) {
                    to = sticky_least(a, t, k);
                    if (to < 0 || a->out[to].n > from->n - 2)
                        break;
                    /* move mv[j].g from k to `to` */
                    int32_t g = mv[j].g, at = where[g];
                    assert(from->v[at] == g);
                    from->v[at] = from->v[--from->n];
                    where[from->v[at]] = at;
                    where[g] = a->out[to].n;
                    if (il_push(&a->out[to], g) != 0)
                        goto out;
                    moved = true;
                }
                j = end;
            }
        }
    }
    rc = 0;
out:
    free(where);
    free(ms);
    free(mv);
    return rc ? asg_oom(a) : 0;
}

static int sticky_body(asg *a)
{
    int32_t npart = a->base[a->nt];
    int32_t *claim = malloc(((size_t)npart + 1) * sizeof *claim);
    int32_t *cgen = malloc(((size_t)npart + 1) * sizeof *cgen);
    if (!claim || !cgen) {
        free(claim);
        free(cgen);
        return asg_oom(a);
    }
    sticky_claims(a, claim, cgen);
    free(cgen);

    bool same = true;
    int32_t n0 = a->nm ? a->msub_off[1] - a->msub_off[0] : 0;
    for (int32_t k = 1; k < a->nm && same; k++)
        same = a->msub_off[k + 1] - a->msub_off[k] == n0 &&
               memcmp(a->msub + a->msub_off[k], a->msub,
                      (size_t)n0 * sizeof *a->msub) == 0;
    int rc = 0;
    if (a->nm > 0)
        rc = same ? sticky_same(a, claim) : sticky_general(a, claim);
    free(claim);
    return rc;
}

int bk_asg_sticky(const bk_asg_member *members, int32_t nmembers,
                  const bk_asg_topic *topics, int32_t ntopics, bk_asg_plan *out,
                  char *err, size_t errlen)
{
    return asg_run(sticky_body, members, nmembers, topics, ntopics, out, err,
                   errlen);
}

bk_asg_fn bk_asg_find(const char *name)
{
    static const struct {
        const char *name;
        bk_asg_fn fn;
    } known[] = {
        {"range", bk_asg_range},
        {"roundrobin", bk_asg_roundrobin},
        {"sticky", bk_asg_sticky},
    };
    for (size_t i = 0; name && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i].name) == 0)
            return known[i].fn;
    return NULL;
}
