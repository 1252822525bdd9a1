/*
 * test_assignor.c -- client/assignor: the consumer-protocol encodings
 * (exact bytes, versions, malformed input named, truncations and bit flips
 * of valid blobs decoding cleanly) and the range, roundrobin and sticky
 * assignors (Kafka's documented examples, validity, balance, minimal
 * movement, claim conflicts, determinism, randomized properties over many
 * seeds and a timing run with 1000 members and 10000 partitions).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/assignor.h"
#include "common/buf.h"
#include "common/err.h"
#include "tests/unit/cu_main.h"

/* ------------------------------ helpers ------------------------------ */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
static uint32_t rndn(uint32_t n)
{
    return n ? (uint32_t)(rnd() % n) : 0;
}
static void rng_seed(uint64_t s)
{
    rng_state = s * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    if (!rng_state)
        rng_state = 1;
    for (int i = 0; i < 4; i++)
        rnd();
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Subscriptions built here own their memory like decoded ones, so
 * bk_asg_subscription_clear() frees them. */
static void sub_topic(bk_asg_subscription *s, const char *t)
{
    s->topics = realloc(s->topics, (size_t)(s->ntopics + 1) * sizeof(char *));
    CU_ASSERT_FATAL(s->topics != NULL);
    s->topics[s->ntopics++] = strdup(t);
}

static void sub_owned(bk_asg_subscription *s, const char *t, int32_t p)
{
    int32_t i;
    for (i = 0; i < s->nowned; i++)
        if (strcmp(s->owned[i].topic, t) == 0)
            break;
    if (i == s->nowned) {
        s->owned = realloc(s->owned, (size_t)(i + 1) * sizeof *s->owned);
        CU_ASSERT_FATAL(s->owned != NULL);
        s->owned[i] = (bk_asg_tp){strdup(t), NULL, 0};
        s->nowned++;
    }
    bk_asg_tp *tp = &s->owned[i];
    tp->parts = realloc(tp->parts, (size_t)(tp->nparts + 1) * sizeof(int32_t));
    CU_ASSERT_FATAL(tp->parts != NULL);
    tp->parts[tp->nparts++] = p;
}

/* A group under test: members with owned ids and subscriptions. */
#define MAXM 1100
typedef struct grp {
    int nm;
    bk_asg_member m[MAXM];
    char id[MAXM][24];
    char inst[MAXM][24];
} grp;

static grp *grp_new(void)
{
    grp *g = calloc(1, sizeof *g);
    CU_ASSERT_FATAL(g != NULL);
    return g;
}

/* Adds a member subscribed to a comma-separated topic list. */
static bk_asg_member *grp_add(grp *g, const char *id, const char *inst,
                              const char *topics)
{
    CU_ASSERT_FATAL(g->nm < MAXM);
    int k = g->nm++;
    bk_asg_member *m = &g->m[k];
    snprintf(g->id[k], sizeof g->id[k], "%s", id);
    m->member_id = g->id[k];
    m->instance_id = NULL;
    if (inst) {
        snprintf(g->inst[k], sizeof g->inst[k], "%s", inst);
        m->instance_id = g->inst[k];
    }
    bk_asg_subscription_init(&m->sub);
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", topics);
    for (char *save, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save))
        sub_topic(&m->sub, t);
    return m;
}

static void grp_remove(grp *g, int k)
{
    bk_asg_subscription_clear(&g->m[k].sub);
    for (int i = k; i + 1 < g->nm; i++) {
        g->m[i] = g->m[i + 1];
        memcpy(g->id[i], g->id[i + 1], sizeof g->id[i]);
        memcpy(g->inst[i], g->inst[i + 1], sizeof g->inst[i]);
        g->m[i].member_id = g->id[i];
        g->m[i].instance_id = g->m[i].instance_id ? g->inst[i] : NULL;
    }
    g->nm--;
}

static void grp_free(grp *g)
{
    for (int k = 0; k < g->nm; k++)
        bk_asg_subscription_clear(&g->m[k].sub);
    free(g);
}

/* The plan's assignments become the members' owned partitions. */
static void grp_take(grp *g, const bk_asg_plan *p, int32_t generation)
{
    CU_ASSERT_FATAL(p->nmembers == g->nm);
    for (int k = 0; k < g->nm; k++) {
        bk_asg_subscription *s = &g->m[k].sub;
        for (int32_t i = 0; i < s->nowned; i++) {
            free(s->owned[i].topic);
            free(s->owned[i].parts);
        }
        free(s->owned);
        s->owned = NULL;
        s->nowned = 0;
        s->generation = generation;
        const bk_asg_assignment *a = &p->assign[k];
        for (int32_t i = 0; i < a->ntps; i++)
            for (int32_t j = 0; j < a->tps[i].nparts; j++)
                sub_owned(s, a->tps[i].topic, a->tps[i].parts[j]);
    }
}

static int32_t count_of(const bk_asg_assignment *a)
{
    int32_t n = 0;
    for (int32_t i = 0; i < a->ntps; i++)
        n += a->tps[i].nparts;
    return n;
}

static bool has(const bk_asg_assignment *a, const char *t, int32_t p)
{
    for (int32_t i = 0; i < a->ntps; i++)
        if (strcmp(a->tps[i].topic, t) == 0)
            for (int32_t j = 0; j < a->tps[i].nparts; j++)
                if (a->tps[i].parts[j] == p)
                    return true;
    return false;
}

/* "t0:0,1;t1:2" form of an assignment, for exact comparisons. */
static const char *fmt(const bk_asg_assignment *a)
{
    static char buf[8][512];
    static int which;
    char *b = buf[which++ % 8];
    size_t n = 0;
    b[0] = '\0';
    for (int32_t i = 0; i < a->ntps && n < 500; i++) {
        n += (size_t)snprintf(b + n, 512 - n, "%s%s:", i ? ";" : "",
                              a->tps[i].topic);
        for (int32_t j = 0; j < a->tps[i].nparts && n < 500; j++)
            n += (size_t)snprintf(b + n, 512 - n, "%s%d", j ? "," : "",
                                  a->tps[i].parts[j]);
    }
    return b;
}

static bool subscribes(const bk_asg_member *m, const char *t)
{
    for (int32_t i = 0; i < m->sub.ntopics; i++)
        if (strcmp(m->sub.topics[i], t) == 0)
            return true;
    return false;
}

static int topic_idx(const bk_asg_topic *topics, int nt, const char *name)
{
    for (int t = 0; t < nt; t++)
        if (strcmp(topics[t].name, name) == 0)
            return t;
    return -1;
}

/*
 * The properties every assignor must have: each partition of a topic with
 * at least one subscriber is held by exactly one member, only by a
 * subscriber; nothing else is handed out; topics in name order and
 * partitions ascending.  With `balanced`: no member holds a partition of a
 * topic whose least loaded subscriber holds two or more fewer.  Returns
 * the number of violations (the first few printed).
 */
static int check_plan(const grp *g, const bk_asg_topic *topics, int nt,
                      const bk_asg_plan *p, bool balanced)
{
    int bad = 0;
#define BAD(...)                                                               \
    do {                                                                       \
        if (bad++ < 5)                                                         \
            fprintf(stderr, "check_plan: " __VA_ARGS__);                       \
    } while (0)
    if (p->nmembers != g->nm)
        BAD("%d plan entries for %d members\n", p->nmembers, g->nm);
    int32_t *base = calloc((size_t)nt + 1, sizeof *base);
    for (int t = 0; t < nt; t++)
        base[t + 1] = base[t] + topics[t].nparts;
    int *holders = calloc((size_t)base[nt] + 1, sizeof *holders);
    for (int k = 0; k < g->nm && k < p->nmembers; k++) {
        const bk_asg_assignment *a = &p->assign[k];
        for (int32_t i = 0; i < a->ntps; i++) {
            const bk_asg_tp *tp = &a->tps[i];
            int t = topic_idx(topics, nt, tp->topic);
            if (t < 0 || !subscribes(&g->m[k], tp->topic))
                BAD("%s got %s (unknown or not subscribed)\n",
                    g->m[k].member_id, tp->topic);
            if (i > 0 && strcmp(a->tps[i - 1].topic, tp->topic) >= 0)
                BAD("%s: topics out of order\n", g->m[k].member_id);
            if (tp->nparts <= 0)
                BAD("%s: empty topic entry\n", g->m[k].member_id);
            for (int32_t j = 0; t >= 0 && j < tp->nparts; j++) {
                int32_t q = tp->parts[j];
                if (q < 0 || q >= topics[t].nparts)
                    BAD("%s: %s:%d does not exist\n", g->m[k].member_id,
                        tp->topic, q);
                else
                    holders[base[t] + q]++;
                if (j > 0 && tp->parts[j - 1] >= q)
                    BAD("%s: partitions not ascending\n", g->m[k].member_id);
            }
        }
    }
    for (int t = 0; t < nt; t++) {
        bool wanted = false;
        int32_t least = INT32_MAX;
        for (int k = 0; k < g->nm; k++)
            if (subscribes(&g->m[k], topics[t].name)) {
                wanted = true;
                if (k < p->nmembers && count_of(&p->assign[k]) < least)
                    least = count_of(&p->assign[k]);
            }
        for (int32_t q = 0; q < topics[t].nparts; q++)
            if (holders[base[t] + q] != (wanted ? 1 : 0))
                BAD("%s:%d held %d times\n", topics[t].name, q,
                    holders[base[t] + q]);
        if (!balanced)
            continue;
        for (int k = 0; k < g->nm && k < p->nmembers; k++) {
            const bk_asg_assignment *a = &p->assign[k];
            for (int32_t i = 0; i < a->ntps; i++)
                if (strcmp(a->tps[i].topic, topics[t].name) == 0 &&
                    count_of(a) >= least + 2)
                    BAD("unbalanced: %s holds %d with %s while a "
                        "subscriber holds %d\n",
                        g->m[k].member_id, count_of(a), topics[t].name, least);
        }
    }
    free(base);
    free(holders);
#undef BAD
    return bad;
}

/* Partitions whose owner changed between the members' owned lists and p
 * (a partition of a member that left counts as moved). */
static int moved(const grp *before, const grp *g, const bk_asg_plan *p)
{
    int n = 0;
    for (int k = 0; k < before->nm; k++) {
        const bk_asg_subscription *s = &before->m[k].sub;
        for (int32_t i = 0; i < s->nowned; i++)
            for (int32_t j = 0; j < s->owned[i].nparts; j++) {
                int now = -1;
                for (int x = 0; x < g->nm; x++)
                    if (has(&p->assign[x], s->owned[i].topic,
                            s->owned[i].parts[j]))
                        now = x;
                if (now < 0 ||
                    strcmp(g->m[now].member_id, before->m[k].member_id) != 0)
                    n++;
            }
    }
    return n;
}

/* A copy of the member ids and owned lists as they are now, for moved()
 * after the group changed. */
static grp *grp_snapshot(const grp *g)
{
    grp *s = grp_new();
    s->nm = g->nm;
    for (int k = 0; k < g->nm; k++) {
        memcpy(s->id[k], g->id[k], sizeof s->id[k]);
        s->m[k].member_id = s->id[k];
        bk_asg_subscription_init(&s->m[k].sub);
        const bk_asg_subscription *o = &g->m[k].sub;
        for (int32_t i = 0; i < o->nowned; i++)
            for (int32_t j = 0; j < o->owned[i].nparts; j++)
                sub_owned(&s->m[k].sub, o->owned[i].topic,
                          o->owned[i].parts[j]);
    }
    return s;
}

static int run(bk_asg_fn fn, const grp *g, const bk_asg_topic *topics, int nt,
               bk_asg_plan *p)
{
    char err[256] = "";
    int rc = fn(g->m, g->nm, topics, nt, p, err, sizeof err);
    if (rc)
        fprintf(stderr, "assignor failed: %d %s\n", rc, err);
    return rc;
}

/* ----------------------------- encodings ----------------------------- */

static void test_subscription_bytes(void)
{
    bk_asg_subscription s;
    bk_asg_subscription_init(&s);
    char *topics[] = {"a", "bc"};
    s.version = 0;
    s.topics = topics;
    s.ntopics = 2;
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_asg_subscription_encode(&s, &b, NULL, 0), 0);
    /* clang-format off */
    static const uint8_t v0[] = {
        0, 0,                           /* version */
        0, 0, 0, 2,                     /* 2 topics */
        0, 1, 'a', 0, 2, 'b', 'c',      /* "a", "bc" */
        0xff, 0xff, 0xff, 0xff};        /* user data: null */
    /* clang-format on */
    CU_ASSERT_EQUAL(b.len, sizeof v0);
    CU_ASSERT(b.len == sizeof v0 && memcmp(b.data, v0, sizeof v0) == 0);

    /* version 1: owned partitions follow the user data; v0 leaves them
     * out even when given */
    int32_t parts[] = {0, 3};
    bk_asg_tp owned = {"a", parts, 2};
    s.owned = &owned;
    s.nowned = 1;
    uint8_t ud[] = {7};
    s.user_data = ud;
    s.user_data_len = 1;
    bk_buf_reset(&b);
    CU_ASSERT_EQUAL(bk_asg_subscription_encode(&s, &b, NULL, 0), 0);
    CU_ASSERT_EQUAL(b.len, sizeof v0 + 1); /* owned dropped, 1 byte of ud */
    s.version = 1;
    bk_buf_reset(&b);
    CU_ASSERT_EQUAL(bk_asg_subscription_encode(&s, &b, NULL, 0), 0);
    /* clang-format off */
    static const uint8_t v1[] = {
        0, 1,                           /* version */
        0, 0, 0, 2,                     /* 2 topics */
        0, 1, 'a', 0, 2, 'b', 'c',      /* "a", "bc" */
        0, 0, 0, 1, 7,                  /* user data: 1 byte */
        0, 0, 0, 1,                     /* 1 owned topic */
        0, 1, 'a', 0, 0, 0, 2,          /* "a", 2 partitions */
        0, 0, 0, 0, 0, 0, 0, 3};        /* 0, 3 */
    /* clang-format on */
    CU_ASSERT(b.len == sizeof v1 && memcmp(b.data, v1, sizeof v1) == 0);

    bk_asg_subscription d;
    char err[200] = "";
    CU_ASSERT_EQUAL(
        bk_asg_subscription_decode(v1, sizeof v1, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.version, 1);
    CU_ASSERT_EQUAL(d.ntopics, 2);
    CU_ASSERT_STRING_EQUAL(d.topics[0], "a");
    CU_ASSERT_STRING_EQUAL(d.topics[1], "bc");
    CU_ASSERT_EQUAL(d.user_data_len, 1);
    CU_ASSERT_EQUAL(d.user_data[0], 7);
    CU_ASSERT_EQUAL(d.nowned, 1);
    CU_ASSERT_STRING_EQUAL(d.owned[0].topic, "a");
    CU_ASSERT_EQUAL(d.owned[0].nparts, 2);
    CU_ASSERT_EQUAL(d.owned[0].parts[1], 3);
    CU_ASSERT_EQUAL(d.generation, -1); /* not in v1 */
    CU_ASSERT_PTR_NULL(d.rack);
    bk_asg_subscription_clear(&d);

    /* v3: generation and rack round trip; a null rack too */
    s.version = 3;
    s.generation = 42;
    s.rack = "rack-1";
    for (int rack = 0; rack < 2; rack++) {
        bk_buf_reset(&b);
        CU_ASSERT_EQUAL(bk_asg_subscription_encode(&s, &b, NULL, 0), 0);
        CU_ASSERT_EQUAL(b.len, sizeof v1 + 4 + 2 + (rack ? 0 : 6));
        CU_ASSERT_EQUAL(
            bk_asg_subscription_decode(b.data, b.len, &d, err, sizeof err), 0);
        CU_ASSERT_EQUAL(d.version, 3);
        CU_ASSERT_EQUAL(d.generation, 42);
        CU_ASSERT(rack ? d.rack == NULL
                       : d.rack && strcmp(d.rack, "rack-1") == 0);
        CU_ASSERT_EQUAL(d.nowned, 1);
        bk_asg_subscription_clear(&d);
        s.rack = NULL;
    }

    /* a newer version is read as v3 and what follows is ignored; a known
     * version with trailing bytes is an error that says so */
    bk_buf_put_i32(&b, 12345);
    b.data[1] = 7;
    CU_ASSERT_EQUAL(
        bk_asg_subscription_decode(b.data, b.len, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.version, 7);
    CU_ASSERT_EQUAL(d.generation, 42);
    bk_asg_subscription_clear(&d);
    b.data[1] = 3;
    CU_ASSERT_EQUAL(
        bk_asg_subscription_decode(b.data, b.len, &d, err, sizeof err),
        -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "4 trailing bytes"));
    CU_ASSERT_EQUAL(d.ntopics, 0); /* left empty */

    /* encoder refusals */
    s.version = 4;
    CU_ASSERT_EQUAL(bk_asg_subscription_encode(&s, &b, err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "version 4"));
    s.version = 1;
    topics[1] = NULL;
    CU_ASSERT_EQUAL(bk_asg_subscription_encode(&s, &b, err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "topics[1] is NULL"));
    bk_buf_free(&b);
}

static void test_assignment_bytes(void)
{
    int32_t p0[] = {0, 1};
    int32_t p1[] = {5};
    bk_asg_tp tps[] = {{"t", p0, 2}, {"u", p1, 1}};
    bk_asg_assignment a;
    bk_asg_assignment_init(&a);
    a.tps = tps;
    a.ntps = 2;
    bk_buf b = BK_BUF_INIT;
    CU_ASSERT_EQUAL(bk_asg_assignment_encode(&a, &b, NULL, 0), 0);
    /* clang-format off */
    static const uint8_t v0[] = {
        0, 0,                               /* version */
        0, 0, 0, 2,                         /* 2 topics */
        0, 1, 't', 0, 0, 0, 2,              /* "t", 2 partitions */
        0, 0, 0, 0, 0, 0, 0, 1,             /* 0, 1 */
        0, 1, 'u', 0, 0, 0, 1, 0, 0, 0, 5,  /* "u", [5] */
        0xff, 0xff, 0xff, 0xff};            /* user data: null */
    /* clang-format on */
    CU_ASSERT(b.len == sizeof v0 && memcmp(b.data, v0, sizeof v0) == 0);

    bk_asg_assignment d;
    char err[200] = "";
    CU_ASSERT_EQUAL(
        bk_asg_assignment_decode(v0, sizeof v0, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.ntps, 2);
    CU_ASSERT_STRING_EQUAL(fmt(&d), "t:0,1;u:5");
    CU_ASSERT_EQUAL(d.user_data_len, -1);
    bk_asg_assignment_clear(&d);

    /* user data (empty but not null survives as 0), versions 1..3 have
     * the same layout */
    a.version = 3;
    a.user_data_len = 0;
    bk_buf_reset(&b);
    CU_ASSERT_EQUAL(bk_asg_assignment_encode(&a, &b, NULL, 0), 0);
    CU_ASSERT_EQUAL(b.len, sizeof v0);
    CU_ASSERT_EQUAL(b.data[1], 3);
    CU_ASSERT_EQUAL(
        bk_asg_assignment_decode(b.data, b.len, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.version, 3);
    CU_ASSERT_EQUAL(d.user_data_len, 0);
    bk_asg_assignment_clear(&d);

    /* zero bytes: the empty assignment the coordinator hands out */
    CU_ASSERT_EQUAL(bk_asg_assignment_decode(NULL, 0, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.ntps, 0);
    bk_buf_free(&b);
}

/* Decoding bad blobs fails with a message naming the field. */
static void expect_sub_error(const uint8_t *p, size_t n, const char *want)
{
    bk_asg_subscription d;
    char err[256] = "";
    int rc = bk_asg_subscription_decode(p, n, &d, err, sizeof err);
    CU_ASSERT_EQUAL(rc, -BK_EINVAL);
    if (!strstr(err, want))
        fprintf(stderr, "error '%s' lacks '%s'\n", err, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    CU_ASSERT_EQUAL(d.ntopics, 0);
    CU_ASSERT_EQUAL(d.nowned, 0);
}

static void test_malformed(void)
{
    /* truncated in the second topic name */
    static const uint8_t t1[] = {0, 0, 0, 0, 0, 2, 0, 1, 'a', 0, 2, 'b'};
    expect_sub_error(t1, sizeof t1, "topics[1] at byte 9");
    expect_sub_error(t1, 1, "version");
    static const uint8_t neg[] = {0x80, 0};
    expect_sub_error(neg, sizeof neg, "negative version");
    /* a forged count is refused before anything is allocated */
    static const uint8_t huge[] = {0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0};
    expect_sub_error(huge, sizeof huge, "cannot fit");
    static const uint8_t nullarr[] = {0, 0, 0xff, 0xff, 0xff, 0xff};
    expect_sub_error(nullarr, sizeof nullarr, "topics at byte 2: null array");
    static const uint8_t nullstr[] = {0, 0, 0, 0, 0, 1, 0xff, 0xff};
    expect_sub_error(nullstr, sizeof nullstr, "topics[0] at byte 6: null");
    static const uint8_t nul[] = {0, 0, 0, 0, 0, 1, 0, 2, 'a', 0};
    expect_sub_error(nul, sizeof nul, "NUL byte");
    static const uint8_t ud[] = {0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe};
    expect_sub_error(ud, sizeof ud, "user_data at byte 6: negative");
    static const uint8_t ud2[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 1};
    expect_sub_error(ud2, sizeof ud2, "user_data at byte 6: truncated");
    /* v1 owned partitions: a partition number cut short */
    static const uint8_t own[] = {0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                                  0, 0, 0, 1, 0, 1, 'x',  0,    0,    0,
                                  2, 0, 0, 0, 1, 0, 0,    0};
    expect_sub_error(own, sizeof own, "owned_partitions[0].partitions");
    /* v1 without the owned array at all */
    expect_sub_error(own, 10, "owned_partitions at byte 10: truncated");
    /* v2 lacking the generation */
    uint8_t v2[sizeof own];
    memcpy(v2, own, sizeof own);
    v2[1] = 2;
    v2[20] = 1; /* one partition: bytes 21..24, generation cut short */
    expect_sub_error(v2, sizeof v2, "generation_id at byte 25: truncated");

    bk_asg_assignment a;
    char err[256] = "";
    static const uint8_t as[] = {0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 3, 0};
    CU_ASSERT_EQUAL(
        bk_asg_assignment_decode(as, sizeof as, &a, err, sizeof err),
        -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err, "assignment: assigned_partitions[0].partitions at byte 9: "
                    "array count 3 cannot fit"));
    CU_ASSERT_EQUAL(a.ntps, 0);
}

/* Two decodes of the same message agree field by field. */
static bool sub_equal(const bk_asg_subscription *x,
                      const bk_asg_subscription *y)
{
    if (x->ntopics != y->ntopics || x->user_data_len != y->user_data_len ||
        x->nowned != y->nowned || x->generation != y->generation ||
        !x->rack != !y->rack || (x->rack && strcmp(x->rack, y->rack)))
        return false;
    for (int32_t i = 0; i < x->ntopics; i++)
        if (strcmp(x->topics[i], y->topics[i]))
            return false;
    if (x->user_data_len > 0 &&
        memcmp(x->user_data, y->user_data, (size_t)x->user_data_len))
        return false;
    for (int32_t i = 0; i < x->nowned; i++)
        if (strcmp(x->owned[i].topic, y->owned[i].topic) ||
            x->owned[i].nparts != y->owned[i].nparts ||
            (x->owned[i].nparts &&
             memcmp(x->owned[i].parts, y->owned[i].parts,
                    (size_t)x->owned[i].nparts * sizeof(int32_t))))
            return false;
    return true;
}

/*
 * Fuzz-ish: every truncation and many random bit flips, byte changes and
 * splices of valid blobs either decode or fail with a message; what does
 * decode re-encodes to something that decodes to the same fields.  ASan
 * and UBSan watch the reads.
 */
static void test_fuzz(void)
{
    rng_seed(bk_test_seed ^ 0xf00d);
    int rounds = bk_test_long ? 200000 : 20000;
    bk_buf blobs[5];
    int16_t versions[] = {0, 1, 2, 3};
    for (int v = 0; v < 4; v++) {
        bk_asg_subscription s;
        bk_asg_subscription_init(&s);
        sub_topic(&s, "orders");
        sub_topic(&s, "payments");
        sub_topic(&s, "");
        sub_owned(&s, "orders", 0);
        sub_owned(&s, "orders", 7);
        sub_owned(&s, "payments", 2);
        s.user_data = malloc(3);
        memcpy(s.user_data, "xyz", 3);
        s.user_data_len = 3;
        s.rack = strdup("r1");
        s.generation = 9;
        s.version = versions[v];
        bk_buf_init(&blobs[v]);
        CU_ASSERT_EQUAL(bk_asg_subscription_encode(&s, &blobs[v], NULL, 0), 0);
        bk_asg_subscription_clear(&s);
    }
    int32_t p0[] = {0, 1, 2}, p1[] = {4};
    bk_asg_tp tps[] = {{"orders", p0, 3}, {"payments", p1, 1}};
    bk_asg_assignment a;
    bk_asg_assignment_init(&a);
    a.tps = tps;
    a.ntps = 2;
    a.user_data = (uint8_t *)"ud";
    a.user_data_len = 2;
    bk_buf_init(&blobs[4]);
    CU_ASSERT_EQUAL(bk_asg_assignment_encode(&a, &blobs[4], NULL, 0), 0);

    long ok = 0, failed = 0, nomsg = 0, unstable = 0;
    uint8_t buf[512];
    for (int i = 0; i < rounds; i++) {
        int which = (int)rndn(5);
        bk_buf *src = &blobs[which];
        size_t n = src->len;
        CU_ASSERT_FATAL(n <= sizeof buf);
        memcpy(buf, src->data, n);
        switch (rndn(4)) {
        case 0: /* truncate */
            n = rndn((uint32_t)n);
            break;
        case 1: /* flip 1..3 bits */
            for (uint32_t f = 0, nf = 1 + rndn(3); f < nf; f++)
                buf[rndn((uint32_t)n)] ^= (uint8_t)(1u << rndn(8));
            break;
        case 2: /* a byte becomes 0x00, 0xff or 0x7f (counts, lengths) */
            buf[rndn((uint32_t)n)] = (uint8_t[]){0, 0xff, 0x7f}[rndn(3)];
            break;
        default: /* flip, then truncate */
            buf[rndn((uint32_t)n)] ^= (uint8_t)(1u << rndn(8));
            n = rndn((uint32_t)n + 1);
            break;
        }
        char err[256] = "";
        if (which < 4) {
            bk_asg_subscription d, d2;
            int rc = bk_asg_subscription_decode(buf, n, &d, err, sizeof err);
            if (rc) {
                failed++;
                nomsg += err[0] == '\0' || rc != -BK_EINVAL;
                continue;
            }
            ok++;
            bk_buf re = BK_BUF_INIT;
            if (d.version > BK_ASG_SUBSCRIPTION_VERSION_MAX)
                d.version = BK_ASG_SUBSCRIPTION_VERSION_MAX;
            if (bk_asg_subscription_encode(&d, &re, err, sizeof err) != 0 ||
                bk_asg_subscription_decode(re.data, re.len, &d2, err,
                                           sizeof err) != 0)
                unstable++;
            else {
                unstable += !sub_equal(&d, &d2);
                bk_asg_subscription_clear(&d2);
            }
            bk_buf_free(&re);
            bk_asg_subscription_clear(&d);
        } else {
            bk_asg_assignment d;
            int rc = bk_asg_assignment_decode(buf, n, &d, err, sizeof err);
            if (rc) {
                failed++;
                nomsg += err[0] == '\0' || rc != -BK_EINVAL;
                continue;
            }
            ok++;
            bk_buf re = BK_BUF_INIT;
            if (d.version > BK_ASG_ASSIGNMENT_VERSION_MAX)
                d.version = BK_ASG_ASSIGNMENT_VERSION_MAX;
            unstable += bk_asg_assignment_encode(&d, &re, err, sizeof err) != 0;
            bk_buf_free(&re);
            bk_asg_assignment_clear(&d);
        }
    }
    printf("\n    fuzz: %d mutations: %ld decoded, %ld refused\n", rounds, ok,
           failed);
    CU_ASSERT_EQUAL(nomsg, 0);
    CU_ASSERT_EQUAL(unstable, 0);
    CU_ASSERT(ok > 0 && failed > 0);
    for (int i = 0; i < 5; i++)
        bk_buf_free(&blobs[i]);
}

/* ------------------------ range and roundrobin ------------------------ */

/* RangeAssignor's javadoc: C0 and C1, t0 and t1 with 3 partitions each:
 * C0 [t0p0, t0p1, t1p0, t1p1], C1 [t0p2, t1p2]. */
static void test_range_kafka_example(void)
{
    grp *g = grp_new();
    grp_add(g, "C1", NULL, "t0,t1");
    grp_add(g, "C0", NULL, "t1,t0");
    bk_asg_topic topics[] = {{"t1", 3}, {"t0", 3}};
    bk_asg_plan p;
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_range, g, topics, 2, &p), 0);
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[1]), "t0:0,1;t1:0,1");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[0]), "t0:2;t1:2");
    CU_ASSERT_EQUAL(check_plan(g, topics, 2, &p, false), 0);
    bk_asg_plan_free(&p);
    grp_free(g);
}

static void test_range_uneven_and_static(void)
{
    /* 10 over 3: 4,3,3; 7 over 3: 3,2,2; 2 over 3: 1,1,0 */
    grp *g = grp_new();
    grp_add(g, "m-b", NULL, "a,b,c");
    grp_add(g, "m-c", NULL, "a,b,c");
    grp_add(g, "m-a", NULL, "a,b,c");
    bk_asg_topic topics[] = {{"a", 10}, {"b", 7}, {"c", 2}};
    bk_asg_plan p;
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_range, g, topics, 3, &p), 0);
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[2]), "a:0,1,2,3;b:0,1,2;c:0");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[0]), "a:4,5,6;b:3,4;c:1");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[1]), "a:7,8,9;b:5,6");
    bk_asg_plan_free(&p);

    /* static members come first, by group.instance.id (KIP-345): the
     * order is m-c (i1), m-a (i2), then m-b */
    g->m[1].instance_id = strcpy(g->inst[1], "i1");
    g->m[2].instance_id = strcpy(g->inst[2], "i2");
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_range, g, topics, 3, &p), 0);
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[1]), "a:0,1,2,3;b:0,1,2;c:0");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[2]), "a:4,5,6;b:3,4;c:1");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[0]), "a:7,8,9;b:5,6");
    bk_asg_plan_free(&p);

    /* per topic: only its subscribers share it; unknown topics are
     * ignored */
    grp_free(g);
    g = grp_new();
    grp_add(g, "x", NULL, "a,nosuch");
    grp_add(g, "y", NULL, "a,b");
    grp_add(g, "z", NULL, "");
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_range, g, topics, 2, &p), 0);
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[0]), "a:0,1,2,3,4");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[1]), "a:5,6,7,8,9;b:0,1,2,3,4,5,6");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[2]), "");
    CU_ASSERT_EQUAL(check_plan(g, topics, 2, &p, false), 0);
    bk_asg_plan_free(&p);
    grp_free(g);
}

/* RoundRobinAssignor's javadoc, both examples. */
static void test_roundrobin_kafka_examples(void)
{
    grp *g = grp_new();
    grp_add(g, "C0", NULL, "t0,t1");
    grp_add(g, "C1", NULL, "t0,t1");
    bk_asg_topic topics[] = {{"t0", 3}, {"t1", 3}};
    bk_asg_plan p;
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_roundrobin, g, topics, 2, &p), 0);
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[0]), "t0:0,2;t1:1");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[1]), "t0:1;t1:0,2");
    bk_asg_plan_free(&p);
    grp_free(g);

    /* C0 subscribes t0; C1 t0, t1; C2 t0, t1, t2; 1, 2 and 3 partitions:
     * C0 [t0p0], C1 [t1p0], C2 [t1p1, t2p0, t2p1, t2p2] */
    g = grp_new();
    grp_add(g, "C2", NULL, "t0,t1,t2");
    grp_add(g, "C0", NULL, "t0");
    grp_add(g, "C1", NULL, "t0,t1");
    bk_asg_topic t3[] = {{"t2", 3}, {"t0", 1}, {"t1", 2}};
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_roundrobin, g, t3, 3, &p), 0);
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[1]), "t0:0");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[2]), "t1:0");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[0]), "t1:1;t2:0,1,2");
    CU_ASSERT_EQUAL(check_plan(g, t3, 3, &p, false), 0);
    bk_asg_plan_free(&p);
    grp_free(g);
}

/* ------------------------------- sticky ------------------------------- */

/* StickyAssignor's javadoc: C0, C1, C2 on t0..t3 with 2 partitions each;
 * C1 leaves: C0 and C2 keep everything they had and split C1's. */
static void test_sticky_member_leaves(void)
{
    grp *g = grp_new();
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "C%d", i);
        grp_add(g, id, NULL, "t0,t1,t2,t3");
    }
    bk_asg_topic topics[] = {{"t0", 2}, {"t1", 2}, {"t2", 2}, {"t3", 2}};
    bk_asg_plan p;
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 4, &p), 0);
    CU_ASSERT_EQUAL(check_plan(g, topics, 4, &p, true), 0);
    CU_ASSERT_EQUAL(count_of(&p.assign[0]) + count_of(&p.assign[1]) +
                        count_of(&p.assign[2]),
                    8);
    grp_take(g, &p, 1);
    bk_asg_plan_free(&p);
    grp *before = grp_snapshot(g);
    grp_remove(g, 1);
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 4, &p), 0);
    CU_ASSERT_EQUAL(check_plan(g, topics, 4, &p, true), 0);
    CU_ASSERT_EQUAL(count_of(&p.assign[0]), 4);
    CU_ASSERT_EQUAL(count_of(&p.assign[1]), 4);
    /* only C1's partitions (3 of the 8) moved */
    CU_ASSERT_EQUAL(moved(before, g, &p), 3);
    for (int k = 0; k < 2; k++) {
        const bk_asg_subscription *s = &g->m[k].sub;
        for (int32_t i = 0; i < s->nowned; i++)
            for (int32_t j = 0; j < s->owned[i].nparts; j++)
                CU_ASSERT(
                    has(&p.assign[k], s->owned[i].topic, s->owned[i].parts[j]));
    }
    bk_asg_plan_free(&p);
    grp_free(before);
    grp_free(g);
}

/* 3 members with 12 partitions hold 4 each; a 4th joins: exactly 3
 * partitions move (one from each), and back again when it leaves. */
static void test_sticky_join_moves_minimum(void)
{
    grp *g = grp_new();
    grp_add(g, "a", NULL, "t");
    grp_add(g, "b", NULL, "t");
    grp_add(g, "c", NULL, "t");
    bk_asg_topic topics[] = {{"t", 12}};
    bk_asg_plan p;
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 1, &p), 0);
    for (int k = 0; k < 3; k++)
        CU_ASSERT_EQUAL(count_of(&p.assign[k]), 4);
    grp_take(g, &p, 1);
    bk_asg_plan_free(&p);

    grp *before = grp_snapshot(g);
    grp_add(g, "d", NULL, "t");
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 1, &p), 0);
    CU_ASSERT_EQUAL(check_plan(g, topics, 1, &p, true), 0);
    for (int k = 0; k < 4; k++)
        CU_ASSERT_EQUAL(count_of(&p.assign[k]), 3);
    CU_ASSERT_EQUAL(moved(before, g, &p), 3);
    grp_take(g, &p, 2);
    bk_asg_plan_free(&p);
    grp_free(before);

    /* b leaves: its 3 partitions move, nothing else */
    before = grp_snapshot(g);
    grp_remove(g, 1);
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 1, &p), 0);
    CU_ASSERT_EQUAL(check_plan(g, topics, 1, &p, true), 0);
    for (int k = 0; k < 3; k++)
        CU_ASSERT_EQUAL(count_of(&p.assign[k]), 4);
    CU_ASSERT_EQUAL(moved(before, g, &p), 3);
    bk_asg_plan_free(&p);
    grp_free(before);
    grp_free(g);
}

/* StickyAssignor's javadoc, unequal subscriptions: C0 t0; C1 t0, t1; C2
 * t0, t1, t2 (1, 2, 3 partitions) gives C0 [t0p0], C1 [t1p0, t1p1], C2
 * [t2p0, t2p1, t2p2]; after C0 leaves, C1 [t0p0, t1p0, t1p1], C2 keeps
 * its three. */
static void test_sticky_kafka_unequal(void)
{
    grp *g = grp_new();
    grp_add(g, "C0", NULL, "t0");
    grp_add(g, "C1", NULL, "t0,t1");
    grp_add(g, "C2", NULL, "t0,t1,t2");
    bk_asg_topic topics[] = {{"t0", 1}, {"t1", 2}, {"t2", 3}};
    bk_asg_plan p;
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 3, &p), 0);
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[0]), "t0:0");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[1]), "t1:0,1");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[2]), "t2:0,1,2");
    CU_ASSERT_EQUAL(check_plan(g, topics, 3, &p, true), 0);
    grp_take(g, &p, 1);
    bk_asg_plan_free(&p);
    grp_remove(g, 0);
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 3, &p), 0);
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[0]), "t0:0;t1:0,1");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[1]), "t2:0,1,2");
    bk_asg_plan_free(&p);
    grp_free(g);
}

/* Claims: conflicts, generations, and claims that do not count. */
static void test_sticky_claims(void)
{
    grp *g = grp_new();
    bk_asg_member *a = grp_add(g, "a", NULL, "t");
    bk_asg_member *b = grp_add(g, "b", NULL, "t");
    bk_asg_topic topics[] = {{"t", 4}, {"u", 2}};
    bk_asg_plan p;
    /* both claim t:1 in the same generation: one of them (a, first in
     * member order) gets it; b keeps its other claim */
    sub_owned(&a->sub, "t", 1);
    sub_owned(&b->sub, "t", 1);
    sub_owned(&b->sub, "t", 2);
    a->sub.generation = b->sub.generation = 3;
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 2, &p), 0);
    CU_ASSERT_EQUAL(check_plan(g, topics, 2, &p, true), 0);
    CU_ASSERT(has(&p.assign[0], "t", 1));
    CU_ASSERT(has(&p.assign[1], "t", 2));
    CU_ASSERT_EQUAL(count_of(&p.assign[0]), 2);
    CU_ASSERT_EQUAL(count_of(&p.assign[1]), 2);
    bk_asg_plan_free(&p);
    /* a newer generation wins the conflict */
    b->sub.generation = 4;
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 2, &p), 0);
    CU_ASSERT(has(&p.assign[1], "t", 1));
    CU_ASSERT(has(&p.assign[1], "t", 2));
    CU_ASSERT_EQUAL(count_of(&p.assign[1]), 2);
    bk_asg_plan_free(&p);

    /* claims that do not count: unknown topic, unsubscribed topic,
     * partition out of range, negative; a repeated claim counts once */
    grp_free(g);
    g = grp_new();
    a = grp_add(g, "a", NULL, "t");
    b = grp_add(g, "b", NULL, "t");
    sub_owned(&a->sub, "nosuch", 0);
    sub_owned(&a->sub, "u", 0);
    sub_owned(&a->sub, "t", 9);
    sub_owned(&a->sub, "t", -1);
    sub_owned(&b->sub, "t", 3);
    sub_owned(&b->sub, "t", 3);
    sub_owned(&b->sub, "t", 0);
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 2, &p), 0);
    CU_ASSERT_EQUAL(check_plan(g, topics, 2, &p, true), 0);
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[1]), "t:0,3");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[0]), "t:1,2");
    bk_asg_plan_free(&p);

    /* one member claims everything: it keeps its quota (the lowest
     * partitions), the rest goes to the newcomer */
    for (int32_t q = 1; q < 4; q++)
        sub_owned(&a->sub, "t", q);
    bk_asg_subscription_clear(&b->sub);
    bk_asg_subscription_init(&b->sub);
    sub_topic(&b->sub, "t");
    sub_owned(&a->sub, "t", 0);
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 2, &p), 0);
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[0]), "t:0,1");
    CU_ASSERT_STRING_EQUAL(fmt(&p.assign[1]), "t:2,3");
    bk_asg_plan_free(&p);
    grp_free(g);
}

static void test_errors_and_names(void)
{
    grp *g = grp_new();
    grp_add(g, "a", NULL, "t");
    grp_add(g, "a", NULL, "t");
    bk_asg_topic topics[] = {{"t", 4}, {"t", 2}};
    bk_asg_plan p;
    char err[256];
    CU_ASSERT_EQUAL(bk_asg_sticky(g->m, 2, topics, 1, &p, err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "member id 'a' given twice"));
    CU_ASSERT_PTR_NULL(p.assign);
    CU_ASSERT_EQUAL(bk_asg_range(g->m, 1, topics, 2, &p, err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "topic 't' given twice"));
    topics[1] = (bk_asg_topic){"u", -1};
    CU_ASSERT_EQUAL(bk_asg_roundrobin(g->m, 1, topics, 2, &p, err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "negative partition count"));
    g->m[1].member_id = NULL;
    CU_ASSERT_EQUAL(bk_asg_sticky(g->m, 2, topics, 1, &p, err, sizeof err),
                    -BK_EINVAL);
    g->m[1].member_id = g->id[1];

    /* no members, no topics: empty plans */
    for (int i = 0; i < 3; i++) {
        bk_asg_fn fn =
            bk_asg_find((const char *[]){"range", "roundrobin", "sticky"}[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(fn);
        CU_ASSERT_EQUAL(fn(NULL, 0, topics, 1, &p, err, sizeof err), 0);
        CU_ASSERT_EQUAL(p.nmembers, 0);
        bk_asg_plan_free(&p);
        CU_ASSERT_EQUAL(fn(g->m, 1, NULL, 0, &p, err, sizeof err), 0);
        CU_ASSERT_EQUAL(p.nmembers, 1);
        CU_ASSERT_EQUAL(p.assign[0].ntps, 0);
        bk_asg_plan_free(&p);
    }
    CU_ASSERT(bk_asg_find("range") == bk_asg_range);
    CU_ASSERT(bk_asg_find("roundrobin") == bk_asg_roundrobin);
    CU_ASSERT(bk_asg_find("sticky") == bk_asg_sticky);
    CU_ASSERT_PTR_NULL(bk_asg_find("cooperative-sticky"));
    CU_ASSERT_PTR_NULL(bk_asg_find(NULL));
    grp_free(g);
}

/* ------------------------- randomized properties ------------------------- */

/* Kafka's member order, written out independently of the assignor. */
static int member_before(const bk_asg_member *x, const bk_asg_member *y)
{
    if (x->instance_id && y->instance_id) {
        int c = strcmp(x->instance_id, y->instance_id);
        return c ? c < 0 : strcmp(x->member_id, y->member_id) < 0;
    }
    if (x->instance_id || y->instance_id)
        return x->instance_id != NULL;
    return strcmp(x->member_id, y->member_id) < 0;
}

static void sorted_members(const grp *g, int *ord)
{
    for (int k = 0; k < g->nm; k++)
        ord[k] = k;
    for (int i = 1; i < g->nm; i++) /* insertion sort: small groups */
        for (int j = i;
             j > 0 && member_before(&g->m[ord[j]], &g->m[ord[j - 1]]); j--) {
            int t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
}

static int cmp_topic_name(const void *a, const void *b)
{
    return strcmp(((const bk_asg_topic *)a)->name,
                  ((const bk_asg_topic *)b)->name);
}

/* The textbook range and roundrobin results, owner[t][p] = member index,
 * compared with the plan.  Returns mismatches. */
static int compare_reference(const grp *g, const bk_asg_topic *topics_in,
                             int nt, const bk_asg_plan *p, bool range)
{
    int ord[64], bad = 0;
    bk_asg_topic topics[16];
    CU_ASSERT_FATAL(g->nm <= 64 && nt <= 16);
    memcpy(topics, topics_in, (size_t)nt * sizeof *topics);
    qsort(topics, (size_t)nt, sizeof *topics, cmp_topic_name);
    sorted_members(g, ord);
    int cursor = 0;
    for (int t = 0; t < nt; t++) {
        int subs[64], m = 0;
        for (int i = 0; i < g->nm; i++)
            if (subscribes(&g->m[ord[i]], topics[t].name))
                subs[m++] = ord[i];
        if (!m)
            continue;
        for (int32_t q = 0; q < topics[t].nparts; q++) {
            int want;
            if (range) {
                int32_t per = topics[t].nparts / m,
                        extra = topics[t].nparts % m;
                /* member i holds [per*i + min(i, extra), + per + (i<extra)) */
                int i = 0;
                while (q >= per * (i + 1) + (i + 1 < extra ? i + 1 : extra))
                    i++;
                want = subs[i];
            } else {
                while (!subscribes(&g->m[ord[cursor]], topics[t].name))
                    cursor = (cursor + 1) % g->nm;
                want = ord[cursor];
                cursor = (cursor + 1) % g->nm;
            }
            bad += !has(&p->assign[want], topics[t].name, q);
        }
    }
    return bad;
}

/* The most claims a balanced assignment can keep when everyone has the
 * same subscriptions and claims do not overlap: the n%m largest claim
 * counts may keep n/m+1, the others n/m. */
static int best_kept(const int *claims, int m, int32_t n)
{
    int c[MAXM];
    memcpy(c, claims, (size_t)m * sizeof *c);
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && c[j] > c[j - 1]; j--) {
            int t = c[j];
            c[j] = c[j - 1];
            c[j - 1] = t;
        }
    int kept = 0;
    for (int i = 0; i < m; i++) {
        int cap = n / m + (i < n % m);
        kept += c[i] < cap ? c[i] : cap;
    }
    return kept;
}

static bool plans_equal_by_id(const grp *g1, const bk_asg_plan *p1,
                              const grp *g2, const bk_asg_plan *p2)
{
    for (int i = 0; i < g1->nm; i++)
        for (int j = 0; j < g2->nm; j++)
            if (strcmp(g1->m[i].member_id, g2->m[j].member_id) == 0 &&
                strcmp(fmt(&p1->assign[i]), fmt(&p2->assign[j])) != 0)
                return false;
    return true;
}

/* Same group, members, topics and subscription lists shuffled. */
static grp *grp_shuffled(const grp *g)
{
    grp *s = grp_new();
    int ord[MAXM];
    for (int k = 0; k < g->nm; k++)
        ord[k] = k;
    for (int k = g->nm - 1; k > 0; k--) {
        int j = (int)rndn((uint32_t)k + 1), t = ord[k];
        ord[k] = ord[j];
        ord[j] = t;
    }
    for (int k = 0; k < g->nm; k++) {
        const bk_asg_member *m = &g->m[ord[k]];
        bk_asg_member *n = grp_add(s, m->member_id, m->instance_id, "");
        for (int32_t i = m->sub.ntopics - 1; i >= 0; i--)
            sub_topic(&n->sub, m->sub.topics[i]);
        for (int32_t i = m->sub.nowned - 1; i >= 0; i--)
            for (int32_t j = 0; j < m->sub.owned[i].nparts; j++)
                sub_owned(&n->sub, m->sub.owned[i].topic,
                          m->sub.owned[i].parts[j]);
        n->sub.generation = m->sub.generation;
    }
    return s;
}

static void test_random_properties(void)
{
    int iters = bk_test_long ? 20000 : 1500;
    int fails = 0;
    for (int it = 0; it < iters && fails < 3; it++) {
        rng_seed(bk_test_seed + (uint64_t)it);
        static const char *names[] = {"t0", "t1", "t2", "t3", "t4", "t5"};
        bk_asg_topic topics[6];
        int nt = 1 + (int)rndn(6);
        for (int t = 0; t < nt; t++)
            topics[t] = (bk_asg_topic){names[t], (int32_t)rndn(21)};
        bool same = rndn(2);
        grp *g = grp_new();
        int nm = 1 + (int)rndn(8);
        char common[64] = "";
        for (int t = 0; t < nt; t++)
            if (rndn(3))
                snprintf(common + strlen(common),
                         sizeof common - strlen(common), "%s%s",
                         *common ? "," : "", names[t]);
        int next_id = 0;
        for (int k = 0; k < nm; k++) {
            char id[24], inst[24], subs[64] = "";
            snprintf(id, sizeof id, "m%x-%d", (unsigned)rndn(4096), next_id++);
            snprintf(inst, sizeof inst, "i%u", (unsigned)rndn(100));
            if (same)
                snprintf(subs, sizeof subs, "%s", common);
            else
                for (int t = 0; t < nt + 1; t++)
                    if (rndn(2))
                        snprintf(subs + strlen(subs),
                                 sizeof subs - strlen(subs), "%s%s",
                                 *subs ? "," : "",
                                 t < nt ? names[t] : "unknown");
            grp_add(g, id, rndn(4) == 0 ? inst : NULL, subs);
        }
        bk_asg_plan p;
        /* range and roundrobin: exactly the textbook results */
        CU_ASSERT_EQUAL_FATAL(run(bk_asg_range, g, topics, nt, &p), 0);
        int bad = check_plan(g, topics, nt, &p, false) +
                  compare_reference(g, topics, nt, &p, true);
        bk_asg_plan_free(&p);
        CU_ASSERT_EQUAL_FATAL(run(bk_asg_roundrobin, g, topics, nt, &p), 0);
        bad += check_plan(g, topics, nt, &p, false) +
               compare_reference(g, topics, nt, &p, false);
        bk_asg_plan_free(&p);

        /* sticky, first generation */
        CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, nt, &p), 0);
        bad += check_plan(g, topics, nt, &p, true);
        grp_take(g, &p, 1);
        bk_asg_plan_free(&p);

        /* a stable group gets the same assignment again */
        CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, nt, &p), 0);
        grp *before = grp_snapshot(g);
        bad += moved(before, g, &p) != 0;
        bk_asg_plan_free(&p);

        /* next generation: some leave, some join, partitions may grow */
        for (int k = g->nm - 1; k >= 0; k--)
            if (g->nm > 1 && rndn(4) == 0)
                grp_remove(g, k);
        for (int j = (int)rndn(3); j > 0; j--) {
            char id[24];
            snprintf(id, sizeof id, "m%x-%d", (unsigned)rndn(4096), next_id++);
            grp_add(g, id, NULL, same ? common : names[rndn((uint32_t)nt)]);
        }
        for (int t = 0; t < nt; t++)
            if (rndn(5) == 0)
                topics[t].nparts += (int32_t)rndn(5);
        if (rndn(3) == 0) {
            /* scrambled claims instead: any member may claim anything
             * (even unsubscribed or missing partitions); with unequal
             * subscriptions several members may claim one partition, in
             * random generations */
            for (int k = 0; k < g->nm; k++) {
                bk_asg_subscription *s = &g->m[k].sub;
                bk_asg_subscription_clear(s);
                for (int t = 0; t < nt; t++)
                    if (same ? subscribes(&g->m[0], names[t]) : rndn(2))
                        sub_topic(s, names[t]);
                s->generation = (int32_t)rndn(3);
            }
            for (int t = 0; t < nt; t++)
                for (int32_t q = 0; q < topics[t].nparts + 1; q++)
                    for (int c = same ? 1 : 1 + (int)rndn(3); c > 0; c--) {
                        int k = (int)rndn((uint32_t)g->nm * 2);
                        if (k < g->nm)
                            sub_owned(&g->m[k].sub, names[t], q);
                    }
        }
        grp_free(before);
        before = grp_snapshot(g);
        CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, nt, &p), 0);
        bad += check_plan(g, topics, nt, &p, true);
        if (same) {
            /* as few claims lost as balance allows */
            int claims[MAXM], kept = 0, total = 0;
            int32_t n = 0;
            for (int t = 0; t < nt; t++)
                if (g->nm && subscribes(&g->m[0], names[t]))
                    n += topics[t].nparts;
            for (int k = 0; k < g->nm; k++) {
                claims[k] = 0;
                const bk_asg_subscription *s = &g->m[k].sub;
                for (int32_t i = 0; i < s->nowned; i++)
                    for (int32_t j = 0; j < s->owned[i].nparts; j++) {
                        int t = topic_idx(topics, nt, s->owned[i].topic);
                        if (!subscribes(&g->m[k], s->owned[i].topic) ||
                            s->owned[i].parts[j] >= topics[t].nparts)
                            continue; /* a claim that does not count */
                        claims[k]++;
                        kept += has(&p.assign[k], s->owned[i].topic,
                                    s->owned[i].parts[j]);
                    }
                total += claims[k];
            }
            if (kept != best_kept(claims, g->nm, n)) {
                fprintf(stderr, "kept %d of %d claims, best %d\n", kept, total,
                        best_kept(claims, g->nm, n));
                bad++;
            }
        }
        /* the order of the input does not matter */
        grp *s = grp_shuffled(g);
        bk_asg_topic shuf[6];
        for (int t = 0; t < nt; t++)
            shuf[t] = topics[nt - 1 - t];
        bk_asg_plan p2;
        CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, s, shuf, nt, &p2), 0);
        bad += !plans_equal_by_id(g, &p, s, &p2);
        bk_asg_plan_free(&p2);
        CU_ASSERT_EQUAL_FATAL(run(bk_asg_range, s, shuf, nt, &p2), 0);
        bk_asg_plan p3;
        CU_ASSERT_EQUAL_FATAL(run(bk_asg_range, g, topics, nt, &p3), 0);
        bad += !plans_equal_by_id(g, &p3, s, &p2);
        bk_asg_plan_free(&p2);
        bk_asg_plan_free(&p3);
        grp_free(s);
        bk_asg_plan_free(&p);
        grp_free(before);
        grp_free(g);
        if (bad) {
            fprintf(stderr,
                    "random properties: seed %lu iteration %d: %d "
                    "violations\n",
                    bk_test_seed, it, bad);
            fails++;
        }
    }
    CU_ASSERT_EQUAL(fails, 0);
}

/* --------------------------------- size --------------------------------- */

static void big_topics(bk_asg_topic *topics, char names[][16], int nt,
                       int32_t per)
{
    for (int t = 0; t < nt; t++) {
        snprintf(names[t], 16, "topic-%03d", t);
        topics[t] = (bk_asg_topic){names[t], per};
    }
}

/* 1000 members and 10000 partitions: timings printed, not asserted. */
static void test_large_group(void)
{
    static char names[100][16];
    bk_asg_topic topics[100];
    big_topics(topics, names, 10, 1000);
    const char *all = "topic-000,topic-001,topic-002,topic-003,topic-004,"
                      "topic-005,topic-006,topic-007,topic-008,topic-009";
    grp *g = grp_new();
    for (int k = 0; k < 1000; k++) {
        char id[24];
        snprintf(id, sizeof id, "consumer-%04d", k);
        grp_add(g, id, NULL, all);
    }
    bk_asg_plan p;
    double t0 = now_ms();
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 10, &p), 0);
    double t1 = now_ms();
    CU_ASSERT_EQUAL(check_plan(g, topics, 10, &p, true), 0);
    grp_take(g, &p, 1);
    bk_asg_plan_free(&p);
    grp_add(g, "consumer-new", NULL, all);
    double t2 = now_ms();
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 10, &p), 0);
    double t3 = now_ms();
    CU_ASSERT_EQUAL(check_plan(g, topics, 10, &p, true), 0);
    int kept = 0;
    for (int k = 0; k < g->nm; k++) {
        const bk_asg_subscription *s = &g->m[k].sub;
        for (int32_t i = 0; i < s->nowned; i++)
            for (int32_t j = 0; j < s->owned[i].nparts; j++)
                kept +=
                    has(&p.assign[k], s->owned[i].topic, s->owned[i].parts[j]);
    }
    /* 10000 over 1001: 990 hold 10 and 11 hold 9, the newcomer among the
     * latter: 9 partitions move */
    CU_ASSERT_EQUAL(kept, 10000 - 9);
    bk_asg_plan_free(&p);
    double t4 = now_ms();
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_range, g, topics, 10, &p), 0);
    double t5 = now_ms();
    bk_asg_plan_free(&p);
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_roundrobin, g, topics, 10, &p), 0);
    double t6 = now_ms();
    bk_asg_plan_free(&p);
    grp_free(g);

    /* unequal subscriptions: 1000 members on random halves of 100 topics
     * of 100 partitions, then a member joins */
    big_topics(topics, names, 100, 100);
    rng_seed(bk_test_seed ^ 0xbeef);
    g = grp_new();
    for (int k = 0; k < 1000; k++) {
        char id[24];
        snprintf(id, sizeof id, "consumer-%04d", k);
        bk_asg_member *m = grp_add(g, id, NULL, "");
        for (int t = 0; t < 100; t++)
            if (rndn(2))
                sub_topic(&m->sub, names[t]);
    }
    double t7 = now_ms();
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 100, &p), 0);
    double t8 = now_ms();
    CU_ASSERT_EQUAL(check_plan(g, topics, 100, &p, true), 0);
    grp_take(g, &p, 1);
    bk_asg_plan_free(&p);
    bk_asg_member *m = grp_add(g, "consumer-new", NULL, "");
    for (int t = 0; t < 50; t++)
        sub_topic(&m->sub, names[t]);
    double t9 = now_ms();
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 100, &p), 0);
    double t10 = now_ms();
    CU_ASSERT_EQUAL(check_plan(g, topics, 100, &p, true), 0);
    bk_asg_plan_free(&p);

    /* worst case for the balancing moves: the newcomer subscribes to
     * everything and claims all 10000 partitions in a newer generation */
    for (int t = 50; t < 100; t++)
        sub_topic(&m->sub, names[t]);
    for (int t = 0; t < 100; t++)
        for (int32_t q = 0; q < 100; q++)
            sub_owned(&m->sub, names[t], q);
    m->sub.generation = 2;
    double t11 = now_ms();
    CU_ASSERT_EQUAL_FATAL(run(bk_asg_sticky, g, topics, 100, &p), 0);
    double t12 = now_ms();
    CU_ASSERT_EQUAL(check_plan(g, topics, 100, &p, true), 0);
    bk_asg_plan_free(&p);
    grp_free(g);
    printf("\n    1000 members x 10000 partitions: sticky %.1f ms, "
           "+1 member %.1f ms, range %.1f ms, roundrobin %.1f ms\n"
           "    unequal subscriptions (100 topics): sticky %.1f ms, "
           "+1 member %.1f ms, one member claiming all %.1f ms\n",
           t1 - t0, t3 - t2, t5 - t4, t6 - t5, t8 - t7, t10 - t9, t12 - t11);
}

void bk_test_register(void)
{
    static CU_TestInfo codec[] = {
        {"subscription bytes and versions", test_subscription_bytes},
        {"assignment bytes", test_assignment_bytes},
        {"malformed blobs named", test_malformed},
        {"truncations and bit flips", test_fuzz},
        CU_TEST_INFO_NULL,
    };
    static CU_TestInfo assignors[] = {
        {"range: Kafka's example", test_range_kafka_example},
        {"range: uneven, static members", test_range_uneven_and_static},
        {"roundrobin: Kafka's examples", test_roundrobin_kafka_examples},
        {"sticky: a member leaves", test_sticky_member_leaves},
        {"sticky: 4th member moves 3", test_sticky_join_moves_minimum},
        {"sticky: unequal subscriptions", test_sticky_kafka_unequal},
        {"sticky: claims", test_sticky_claims},
        {"errors and names", test_errors_and_names},
        {"randomized properties", test_random_properties},
        {"1000 members x 10000 partitions", test_large_group},
        CU_TEST_INFO_NULL,
    };
    bk_test_add_suite("consumer protocol", codec);
    bk_test_add_suite("assignors", assignors);
}
