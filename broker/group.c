/*
 * group.c -- the group coordinator's state machine; see group.h.
 *
 * Layout: a chained hash table of groups; each group keeps its members in
 * join order (the order decides the next leader when the leader goes, and
 * the order of the leader's member list).  Groups are small (tens of
 * members), so members are found by a linear scan.
 *
 * Memory: everything a timer path needs is reserved on the request path,
 * where an allocation failure can still be answered (UNKNOWN_SERVER_ERROR)
 * before any state changes: the leader's member list (m->scratch) and the
 * chosen protocol's name (g->pname) are sized when a member joins, so
 * completing a join phase never allocates.
 *
 * Timers are plain deadlines in the structs.  Each group caches its
 * earliest one; a request for a group (and a timer run) invalidates that
 * group's cache, so bk_grp_next_deadline() costs O(groups + members of
 * the groups touched since the last call), not O(all members) per
 * request.
 */
#include "broker/group.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "proto/protocol.h"

typedef struct grp_proto {
    char *name;
    uint8_t *meta;
    size_t len;
} grp_proto;

typedef struct grp_member {
    char *id;
    char *client_id;
    char *client_host;
    int32_t session_ms;
    int32_t rebalance_ms;
    grp_proto *protos; /* preference order */
    size_t n_protos;
    uint8_t *assign; /* set by the leader's SyncGroup */
    size_t assign_len;
    /* Joined, but no join phase completed yet: its held JoinGroup is
     * bounded by new_member_join_timeout_ms (it cannot heartbeat). */
    bool is_new;
    bool awaiting_join; /* a JoinGroup is held: join_ctx */
    void *join_ctx;
    uint64_t join_tok;
    bool awaiting_sync; /* a SyncGroup is held: sync_ctx */
    void *sync_ctx;
    uint64_t sync_tok;
    bool pending_sync;   /* got its JoinGroup answer, no SyncGroup yet */
    int64_t hb_deadline; /* session expiry, unless exempt (member_exempt) */
} grp_member;

/* A MEMBER_ID_REQUIRED member: id handed out, JoinGroup with it awaited. */
typedef struct grp_pending {
    char *id;
    int64_t deadline;
} grp_pending;

typedef struct grp_group {
    struct grp_group *next; /* hash chain */
    char *id;
    bk_grp_state state;
    int64_t touched; /* time of the last request for it (expiry of Empty
                        groups) */
    int64_t next_cache; /* group_next() when next_ok */
    bool next_ok;       /* false after anything that may move a deadline */
    int32_t generation;
    char *protocol_type; /* of the members; kept when Empty (NULL: never) */
    char *pname;         /* chosen protocol, valid when has_protocol */
    size_t pname_cap;
    bool has_protocol; /* CompletingRebalance and Stable */
    grp_member **members;
    size_t n_members, cap_members;
    grp_member *leader; /* NULL iff no members */
    size_t n_awaiting_join;
    grp_pending *pending;
    size_t n_pending, cap_pending;
    /* PreparingRebalance: when the join phase ends (Kafka's DelayedJoin /
     * InitialDelayedJoin). */
    int64_t join_deadline;
    bool initial_delay;
    bool new_member_added;
    int64_t initial_remaining;
    /* CompletingRebalance / Stable with pending_sync members. */
    bool sync_timer;
    int64_t sync_deadline;
} grp_group;

struct bk_grp_mgr {
    bk_grp_config cfg;
    grp_group **buckets;
    size_t n_buckets; /* power of two */
    size_t n_groups;
    bk_grp_join_member *scratch; /* the leader's member list */
    size_t scratch_cap;
    uint64_t rng;
    uint64_t tok_seq; /* request tokens: tells a held request from ours */
    bool in_cb;
    char orphan; /* &orphan: the ctx of a cancelled held request */
};

static const char *const state_names[] = {
    "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"};

const char *bk_grp_state_name(bk_grp_state s)
{
    if ((unsigned)s > BK_GRP_DEAD)
        return "Dead";
    return state_names[s];
}

void bk_grp_config_default(bk_grp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->min_session_timeout_ms = 6000;
    cfg->max_session_timeout_ms = 1800000;
    cfg->initial_rebalance_delay_ms = 3000;
    cfg->max_size = 0;
    cfg->new_member_join_timeout_ms = 300000;
    cfg->empty_group_ttl_ms = 600000;
}

/* ---- small helpers ------------------------------------------------ */

static char *dupstr(const char *s)
{
    return strdup(s ? s : "");
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static grp_group *find_group(const bk_grp_mgr *m, const char *id)
{
    grp_group *g = m->buckets[hash_str(id) & (m->n_buckets - 1)];
    while (g && strcmp(g->id, id) != 0)
        g = g->next;
    return g;
}

/* find_group() for a request that may change the group: its cached
 * deadline is recomputed at the next bk_grp_next_deadline(). */
static grp_group *touch_group(const bk_grp_mgr *m, const char *id)
{
    grp_group *g = find_group(m, id);
    if (g)
        g->next_ok = false;
    return g;
}

static grp_member *find_member(const grp_group *g, const char *id, size_t *idx)
{
    for (size_t i = 0; i < g->n_members; i++)
        if (strcmp(g->members[i]->id, id) == 0) {
            if (idx)
                *idx = i;
            return g->members[i];
        }
    return NULL;
}

static bool find_pending(const grp_group *g, const char *id, size_t *idx)
{
    for (size_t i = 0; i < g->n_pending; i++)
        if (strcmp(g->pending[i].id, id) == 0) {
            *idx = i;
            return true;
        }
    return false;
}

/* Existing members whose held JoinGroup or SyncGroup is pending are
 * governed by the rebalance / sync timeouts, not by their session: they
 * cannot heartbeat while their request waits (Kafka's
 * hasSatisfiedHeartbeat). */
static bool member_exempt(const grp_member *mb)
{
    return !mb->is_new && (mb->awaiting_join || mb->awaiting_sync);
}

static int32_t group_rebalance_ms(const grp_group *g)
{
    int32_t t = 0;
    for (size_t i = 0; i < g->n_members; i++)
        if (g->members[i]->rebalance_ms > t)
            t = g->members[i]->rebalance_ms;
    return t;
}

static void free_protos(grp_proto *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].meta);
    }
    free(p);
}

static void free_member(grp_member *mb)
{
    if (!mb)
        return;
    free(mb->id);
    free(mb->client_id);
    free(mb->client_host);
    free_protos(mb->protos, mb->n_protos);
    free(mb->assign);
    free(mb);
}

static int copy_protos(const bk_grp_protocol *src, size_t n, grp_proto **out)
{
    grp_proto *p = calloc(n ? n : 1, sizeof(*p));
    if (!p)
        return -BK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        p[i].name = dupstr(src[i].name);
        p[i].len = src[i].metadata_len;
        p[i].meta = malloc(p[i].len ? p[i].len : 1);
        if (!p[i].name || !p[i].meta) {
            free_protos(p, i + 1);
            return -BK_ENOMEM;
        }
        if (p[i].len)
            memcpy(p[i].meta, src[i].metadata, p[i].len);
    }
    *out = p;
    return 0;
}

static const grp_proto *member_proto(const grp_member *mb, const char *name)
{
    for (size_t i = 0; i < mb->n_protos; i++)
        if (strcmp(mb->protos[i].name, name) == 0)
            return &mb->protos[i];
    return NULL;
}

/* Same protocols, same order, same metadata: a rejoin that changes
 * nothing (Kafka's MemberMetadata.matches). */
static bool member_matches(const grp_member *mb, const bk_grp_join_req *req)
{
    if (mb->n_protos != req->n_protocols)
        return false;
    for (size_t i = 0; i < mb->n_protos; i++) {
        const bk_grp_protocol *p = &req->protocols[i];
        if (strcmp(mb->protos[i].name, p->name ? p->name : "") != 0 ||
            mb->protos[i].len != p->metadata_len ||
            (p->metadata_len &&
             memcmp(mb->protos[i].meta, p->metadata, p->metadata_len) != 0))
            return false;
    }
    return true;
}

/* Whether a member (self: its current entry, or NULL for a new one) with
 * these protocols may be in g: same protocol type as the others and one
 * protocol that every other member supports (Kafka's supportsProtocols,
 * except that self's old protocols do not vote). */
static bool protos_supported(const grp_group *g, const grp_member *self,
                             const bk_grp_join_req *req)
{
    if (!req->protocol_type || !*req->protocol_type || req->n_protocols == 0)
        return false;
    size_t others = g ? g->n_members - (self ? 1 : 0) : 0;
    if (others == 0)
        return true;
    if (!g->protocol_type || strcmp(g->protocol_type, req->protocol_type))
        return false;
    for (size_t p = 0; p < req->n_protocols; p++) {
        const char *name = req->protocols[p].name ? req->protocols[p].name : "";
        size_t votes = 0;
        for (size_t i = 0; i < g->n_members; i++)
            if (g->members[i] != self && member_proto(g->members[i], name))
                votes++;
        if (votes == others)
            return true;
    }
    return false;
}

/* The group's protocol: among those every member supports, the one most
 * members list first (each votes for its most preferred candidate); ties
 * go to the first member's preference. */
static const char *select_protocol(const grp_group *g)
{
    const grp_member *first = g->members[0];
    const char *best = NULL;
    size_t best_votes = 0;
    for (size_t c = 0; c < first->n_protos; c++) {
        const char *cand = first->protos[c].name;
        bool all = true;
        for (size_t i = 1; i < g->n_members && all; i++)
            all = member_proto(g->members[i], cand) != NULL;
        if (!all)
            continue;
        size_t votes = 0;
        for (size_t i = 0; i < g->n_members; i++) {
            const grp_member *mb = g->members[i];
            /* mb's vote: its first protocol that all members support */
            for (size_t k = 0; k < mb->n_protos; k++) {
                bool ok = true;
                for (size_t j = 0; j < g->n_members && ok; j++)
                    ok = member_proto(g->members[j], mb->protos[k].name);
                if (ok) {
                    if (strcmp(mb->protos[k].name, cand) == 0)
                        votes++;
                    break;
                }
            }
        }
        if (!best || votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    assert(best); /* joins were admitted only with a common protocol */
    return best;
}

/* ---- replies ------------------------------------------------------ */

static void reply_join(bk_grp_mgr *m, void *ctx, const bk_grp_join_resp *r)
{
    assert(!m->in_cb);
    if (ctx == &m->orphan)
        return; /* its connection is gone (bk_grp_cancel) */
    m->in_cb = true;
    m->cfg.on_join(ctx, r);
    m->in_cb = false;
}

static void reply_join_err(bk_grp_mgr *m, void *ctx, const char *member_id,
                           int32_t err)
{
    bk_grp_join_resp r = {err,  -1, "", "", "", member_id ? member_id : "",
                          NULL, 0};
    reply_join(m, ctx, &r);
}

static void reply_sync(bk_grp_mgr *m, void *ctx, const bk_grp_sync_resp *r)
{
    assert(!m->in_cb);
    if (ctx == &m->orphan)
        return;
    m->in_cb = true;
    m->cfg.on_sync(ctx, r);
    m->in_cb = false;
}

static void reply_sync_err(bk_grp_mgr *m, void *ctx, int32_t err)
{
    bk_grp_sync_resp r = {err, "", "", NULL, 0};
    reply_sync(m, ctx, &r);
}

static void *take_join(grp_group *g, grp_member *mb)
{
    assert(mb->awaiting_join && g->n_awaiting_join > 0);
    mb->awaiting_join = false;
    g->n_awaiting_join--;
    void *ctx = mb->join_ctx;
    mb->join_ctx = NULL;
    return ctx;
}

static void *take_sync(grp_member *mb)
{
    assert(mb->awaiting_sync);
    mb->awaiting_sync = false;
    void *ctx = mb->sync_ctx;
    mb->sync_ctx = NULL;
    return ctx;
}

/* The current generation's JoinGroup answer for mb; the leader gets every
 * member's metadata for the chosen protocol. */
static void reply_join_ok(bk_grp_mgr *m, grp_group *g, grp_member *mb,
                          void *ctx)
{
    assert(g->has_protocol && g->leader);
    bk_grp_join_resp r = {BK_ERR_NO_ERROR,
                          g->generation,
                          g->protocol_type,
                          g->pname,
                          g->leader->id,
                          mb->id,
                          NULL,
                          0};
    if (mb == g->leader) {
        assert(m->scratch_cap >= g->n_members);
        for (size_t i = 0; i < g->n_members; i++) {
            const grp_proto *p = member_proto(g->members[i], g->pname);
            assert(p);
            m->scratch[i].member_id = g->members[i]->id;
            m->scratch[i].metadata = p->meta;
            m->scratch[i].metadata_len = p->len;
        }
        r.members = m->scratch;
        r.n_members = g->n_members;
    }
    reply_join(m, ctx, &r);
}

static void reply_sync_ok(bk_grp_mgr *m, grp_group *g, grp_member *mb,
                          void *ctx)
{
    bk_grp_sync_resp r = {BK_ERR_NO_ERROR, g->protocol_type, g->pname,
                          mb->assign, mb->assign_len};
    reply_sync(m, ctx, &r);
}

/* ---- reservations (request path only) ------------------------------ */

static int reserve_scratch(bk_grp_mgr *m, size_t n)
{
    if (m->scratch_cap >= n)
        return 0;
    size_t cap = m->scratch_cap ? m->scratch_cap * 2 : 16;
    while (cap < n)
        cap *= 2;
    bk_grp_join_member *s = realloc(m->scratch, cap * sizeof(*s));
    if (!s)
        return -BK_ENOMEM;
    m->scratch = s;
    m->scratch_cap = cap;
    return 0;
}

static int reserve_pname(grp_group *g, const bk_grp_join_req *req)
{
    size_t need = 1;
    for (size_t i = 0; i < req->n_protocols; i++) {
        const char *n = req->protocols[i].name ? req->protocols[i].name : "";
        if (strlen(n) + 1 > need)
            need = strlen(n) + 1;
    }
    if (g->pname_cap >= need)
        return 0;
    char *p = realloc(g->pname, need);
    if (!p)
        return -BK_ENOMEM;
    if (g->pname_cap == 0)
        p[0] = '\0';
    g->pname = p;
    g->pname_cap = need;
    return 0;
}

static int reserve_members(grp_group *g)
{
    if (g->n_members < g->cap_members)
        return 0;
    size_t cap = g->cap_members ? g->cap_members * 2 : 4;
    grp_member **a = realloc(g->members, cap * sizeof(*a));
    if (!a)
        return -BK_ENOMEM;
    g->members = a;
    g->cap_members = cap;
    return 0;
}

/* ---- the state machine --------------------------------------------- */

static void prepare_rebalance(bk_grp_mgr *m, grp_group *g, int64_t now);

static void complete_join(bk_grp_mgr *m, grp_group *g, int64_t now)
{
    assert(g->state == BK_GRP_PREPARING_REBALANCE);
    /* members that did not rejoin in time are out */
    size_t k = 0;
    bool leader_gone = false;
    for (size_t i = 0; i < g->n_members; i++) {
        grp_member *mb = g->members[i];
        if (mb->awaiting_join) {
            g->members[k++] = mb;
        } else {
            BK_INFO("group", "group %s: member %s did not rejoin in time",
                    g->id, mb->id);
            assert(!mb->awaiting_sync);
            leader_gone |= mb == g->leader;
            free_member(mb);
        }
    }
    g->n_members = k;
    if (leader_gone || !g->n_members)
        g->leader = g->n_members ? g->members[0] : NULL;
    g->initial_delay = false;
    g->new_member_added = false;
    g->generation++;
    assert(g->generation > 0);
    if (g->n_members == 0) {
        g->state = BK_GRP_EMPTY;
        g->has_protocol = false;
        BK_INFO("group", "group %s is empty at generation %" PRId32, g->id,
                g->generation);
        return;
    }
    const char *p = select_protocol(g);
    assert(strlen(p) < g->pname_cap);
    memmove(g->pname, p, strlen(p) + 1);
    g->has_protocol = true;
    g->state = BK_GRP_COMPLETING_REBALANCE;
    BK_INFO("group",
            "group %s generation %" PRId32 ": %zu members, leader %s, "
            "protocol %s",
            g->id, g->generation, g->n_members, g->leader->id, g->pname);
    for (size_t i = 0; i < g->n_members; i++) {
        grp_member *mb = g->members[i];
        void *ctx = take_join(g, mb);
        mb->is_new = false;
        mb->pending_sync = true;
        mb->hb_deadline = now + mb->session_ms;
        reply_join_ok(m, g, mb, ctx);
    }
    assert(g->n_awaiting_join == 0);
    g->sync_timer = true;
    g->sync_deadline = now + group_rebalance_ms(g);
}

static void try_complete_join(bk_grp_mgr *m, grp_group *g, int64_t now)
{
    if (g->state == BK_GRP_PREPARING_REBALANCE && !g->initial_delay &&
        g->n_awaiting_join == g->n_members && g->n_pending == 0)
        complete_join(m, g, now);
}

static void prepare_rebalance(bk_grp_mgr *m, grp_group *g, int64_t now)
{
    if (g->state == BK_GRP_COMPLETING_REBALANCE) {
        /* the held SyncGroups will not get an assignment: rejoin */
        for (size_t i = 0; i < g->n_members; i++) {
            grp_member *mb = g->members[i];
            if (mb->awaiting_sync) {
                void *ctx = take_sync(mb);
                mb->hb_deadline = now + mb->session_ms;
                reply_sync_err(m, ctx, BK_ERR_REBALANCE_IN_PROGRESS);
            }
        }
    }
    for (size_t i = 0; i < g->n_members; i++) {
        grp_member *mb = g->members[i];
        mb->pending_sync = false;
        free(mb->assign);
        mb->assign = NULL;
        mb->assign_len = 0;
    }
    g->sync_timer = false;
    g->has_protocol = false;
    if (g->state == BK_GRP_EMPTY && m->cfg.initial_rebalance_delay_ms > 0) {
        /* KIP-134: give the other members of a new group time to arrive */
        int64_t d = m->cfg.initial_rebalance_delay_ms;
        int64_t rb = group_rebalance_ms(g);
        g->initial_delay = true;
        g->new_member_added = false;
        g->join_deadline = now + d;
        g->initial_remaining = rb > d ? rb - d : 0;
    } else {
        g->initial_delay = false;
        g->join_deadline = now + group_rebalance_ms(g);
    }
    BK_INFO("group", "group %s: rebalance from %s, generation %" PRId32, g->id,
            bk_grp_state_name(g->state), g->generation);
    g->state = BK_GRP_PREPARING_REBALANCE;
    try_complete_join(m, g, now);
}

static void maybe_prepare_rebalance(bk_grp_mgr *m, grp_group *g, int64_t now)
{
    if (g->state == BK_GRP_EMPTY || g->state == BK_GRP_STABLE ||
        g->state == BK_GRP_COMPLETING_REBALANCE)
        prepare_rebalance(m, g, now);
}

/* Takes members[idx] out of the array (no replies, no state change). */
static grp_member *detach_member(grp_group *g, size_t idx)
{
    grp_member *mb = g->members[idx];
    memmove(&g->members[idx], &g->members[idx + 1],
            (g->n_members - idx - 1) * sizeof(*g->members));
    g->n_members--;
    if (g->leader == mb)
        g->leader = g->n_members ? g->members[0] : NULL;
    return mb;
}

/* A member leaves (LeaveGroup, session or new-member expiry): its
 * held requests are answered UNKNOWN_MEMBER_ID (a live client rejoins),
 * and the group rebalances. */
static void remove_member(bk_grp_mgr *m, grp_group *g, size_t idx, int64_t now)
{
    grp_member *mb = detach_member(g, idx);
    if (mb->awaiting_join) {
        mb->awaiting_join = false;
        g->n_awaiting_join--;
        reply_join_err(m, mb->join_ctx, "", BK_ERR_UNKNOWN_MEMBER_ID);
    }
    if (mb->awaiting_sync)
        reply_sync_err(m, take_sync(mb), BK_ERR_UNKNOWN_MEMBER_ID);
    free_member(mb);
    switch (g->state) {
    case BK_GRP_STABLE:
    case BK_GRP_COMPLETING_REBALANCE:
        prepare_rebalance(m, g, now);
        break;
    case BK_GRP_PREPARING_REBALANCE:
        try_complete_join(m, g, now);
        break;
    default:
        break;
    }
}

static void remove_pending(grp_group *g, size_t idx)
{
    free(g->pending[idx].id);
    g->pending[idx] = g->pending[--g->n_pending];
}

static void update_sync_timer(grp_group *g)
{
    bool any = false;
    for (size_t i = 0; i < g->n_members && !any; i++)
        any = g->members[i]->pending_sync;
    if (!any)
        g->sync_timer = false;
}

enum { EV_NONE, EV_JOIN, EV_SYNC, EV_MEMBER, EV_PENDING, EV_EXPIRE };

static int64_t group_next(const grp_group *g, int64_t ttl, int *kind,
                          size_t *idx)
{
    int64_t best = INT64_MAX;
    *kind = EV_NONE;
    /* An Empty group nobody asked about for ttl is forgotten: it holds no
     * offsets (they are in ZooKeeper), and groups with random ids would
     * otherwise pile up (Kafka drops them in its periodic cleanup). */
    if (ttl > 0 && g->state == BK_GRP_EMPTY && g->n_members == 0 &&
        g->n_pending == 0 && g->touched + ttl < best) {
        best = g->touched + ttl;
        *kind = EV_EXPIRE;
    }
    if (g->state == BK_GRP_PREPARING_REBALANCE && g->join_deadline < best) {
        best = g->join_deadline;
        *kind = EV_JOIN;
    }
    if (g->sync_timer && g->sync_deadline < best) {
        best = g->sync_deadline;
        *kind = EV_SYNC;
    }
    for (size_t i = 0; i < g->n_members; i++) {
        const grp_member *mb = g->members[i];
        if (!member_exempt(mb) && mb->hb_deadline < best) {
            best = mb->hb_deadline;
            *kind = EV_MEMBER;
            *idx = i;
        }
    }
    for (size_t i = 0; i < g->n_pending; i++)
        if (g->pending[i].deadline < best) {
            best = g->pending[i].deadline;
            *kind = EV_PENDING;
            *idx = i;
        }
    return best;
}

/* Runs g's timers due at now, earliest first.  True when g expired (the
 * caller drops it; never during a request for g, which touches it
 * first). */
static bool group_run_due(bk_grp_mgr *m, grp_group *g, int64_t now)
{
    for (;;) {
        int kind;
        size_t idx = 0;
        if (group_next(g, m->cfg.empty_group_ttl_ms, &kind, &idx) > now ||
            kind == EV_NONE)
            return false;
        switch (kind) {
        case EV_EXPIRE:
            return true;
        case EV_JOIN:
            if (g->initial_delay && g->new_member_added &&
                g->initial_remaining > 0) {
                /* more members came: wait once more, within the
                 * rebalance timeout */
                int64_t d = m->cfg.initial_rebalance_delay_ms;
                if (d > g->initial_remaining)
                    d = g->initial_remaining;
                g->initial_remaining -= d;
                g->new_member_added = false;
                g->join_deadline += d;
            } else {
                complete_join(m, g, now);
            }
            break;
        case EV_SYNC: {
            /* members that got their JoinGroup answer but sent no
             * SyncGroup within the rebalance timeout (Kafka 3.2+) */
            for (size_t i = 0; i < g->n_members;) {
                if (g->members[i]->pending_sync) {
                    grp_member *mb = detach_member(g, i);
                    BK_INFO("group", "group %s: member %s sent no SyncGroup",
                            g->id, mb->id);
                    assert(!mb->awaiting_join && !mb->awaiting_sync);
                    free_member(mb);
                } else {
                    i++;
                }
            }
            prepare_rebalance(m, g, now);
            break;
        }
        case EV_MEMBER:
            BK_INFO("group", "group %s: member %s expired", g->id,
                    g->members[idx]->id);
            remove_member(m, g, idx, now);
            break;
        case EV_PENDING:
            remove_pending(g, idx);
            try_complete_join(m, g, now);
            break;
        }
    }
}

/* ---- groups ------------------------------------------------------- */

static void free_group(grp_group *g)
{
    for (size_t i = 0; i < g->n_members; i++)
        free_member(g->members[i]);
    for (size_t i = 0; i < g->n_pending; i++)
        free(g->pending[i].id);
    free(g->members);
    free(g->pending);
    free(g->id);
    free(g->protocol_type);
    free(g->pname);
    free(g);
}

static void grow_buckets(bk_grp_mgr *m)
{
    size_t nb = m->n_buckets * 2;
    grp_group **b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < m->n_buckets; i++) {
        grp_group *g = m->buckets[i];
        while (g) {
            grp_group *next = g->next;
            size_t h = hash_str(g->id) & (nb - 1);
            g->next = b[h];
            b[h] = g;
            g = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
}

static grp_group *new_group(bk_grp_mgr *m, const char *id)
{
    grp_group *g = calloc(1, sizeof(*g));
    if (!g || !(g->id = dupstr(id))) {
        free(g);
        return NULL;
    }
    g->state = BK_GRP_EMPTY;
    if (m->n_groups >= m->n_buckets)
        grow_buckets(m);
    size_t h = hash_str(id) & (m->n_buckets - 1);
    g->next = m->buckets[h];
    m->buckets[h] = g;
    m->n_groups++;
    return g;
}

static void drop_group(bk_grp_mgr *m, grp_group *g)
{
    grp_group **pp = &m->buckets[hash_str(g->id) & (m->n_buckets - 1)];
    while (*pp != g)
        pp = &(*pp)->next;
    *pp = g->next;
    m->n_groups--;
    free_group(g);
}

/* Answers g's held requests NOT_COORDINATOR and frees it. */
static void unload_group(bk_grp_mgr *m, grp_group *g)
{
    for (size_t i = 0; i < g->n_members; i++) {
        grp_member *mb = g->members[i];
        if (mb->awaiting_join)
            reply_join_err(m, take_join(g, mb), mb->id, BK_ERR_NOT_COORDINATOR);
        if (mb->awaiting_sync)
            reply_sync_err(m, take_sync(mb), BK_ERR_NOT_COORDINATOR);
    }
    BK_INFO("group", "group %s unloaded at generation %" PRId32, g->id,
            g->generation);
    drop_group(m, g);
}

int bk_grp_new(const bk_grp_config *cfg, bk_grp_mgr **out)
{
    if (!cfg || !cfg->on_join || !cfg->on_sync ||
        cfg->min_session_timeout_ms < 0 ||
        cfg->max_session_timeout_ms < cfg->min_session_timeout_ms ||
        cfg->initial_rebalance_delay_ms < 0 || cfg->max_size < 0 ||
        cfg->new_member_join_timeout_ms <= 0)
        return -BK_EINVAL;
    bk_grp_mgr *m = calloc(1, sizeof(*m));
    if (!m)
        return -BK_ENOMEM;
    m->cfg = *cfg;
    m->n_buckets = 64;
    m->buckets = calloc(m->n_buckets, sizeof(*m->buckets));
    if (!m->buckets) {
        free(m);
        return -BK_ENOMEM;
    }
    m->rng = cfg->seed ? cfg->seed
                       : (uint64_t)bk_clock_mono_ns() ^
                             ((uint64_t)bk_clock_wall_ms() << 20) ^
                             (uint64_t)(uintptr_t)m ^ (uint64_t)getpid();
    *out = m;
    return 0;
}

void bk_grp_free(bk_grp_mgr *m)
{
    if (!m)
        return;
    assert(!m->in_cb);
    for (size_t i = 0; i < m->n_buckets; i++)
        while (m->buckets[i])
            unload_group(m, m->buckets[i]);
    free(m->buckets);
    free(m->scratch);
    free(m);
}

/* "<client_id>-<uuid v4>", unique within g.  NULL on ENOMEM. */
static char *new_member_id(bk_grp_mgr *m, const grp_group *g,
                           const char *client_id)
{
    const char *cid = client_id ? client_id : "";
    size_t len = strlen(cid) + 38;
    char *id = malloc(len);
    if (!id)
        return NULL;
    size_t dummy;
    do {
        uint64_t a = splitmix(&m->rng), b = splitmix(&m->rng);
        snprintf(id, len,
                 "%s-%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32 "-%04" PRIx32
                 "-%012" PRIx64,
                 cid, (uint32_t)(a >> 32), (uint32_t)(a >> 16) & 0xffff,
                 (uint32_t)a & 0xfff, 0x8000 | ((uint32_t)(b >> 48) & 0x3fff),
                 (uint64_t)(b & 0xffffffffffffULL));
    } while (find_member(g, id, NULL) || find_pending(g, id, &dummy));
    return id;
}

/* ---- JoinGroup ---------------------------------------------------- */

/* group.max.size as Kafka 2.x enforces it: a member already in the
 * group may always rejoin; a new one only while the group is smaller. */
static bool accept_joining(const bk_grp_mgr *m, const grp_group *g,
                           const char *member_id)
{
    if (m->cfg.max_size == 0 || find_member(g, member_id, NULL))
        return true;
    return g->n_members < (size_t)m->cfg.max_size;
}

/* Adds a new member (id owned by it from now on, freed on failure) with
 * its JoinGroup held.  0 or -BK_ENOMEM (then g is unchanged). */
static int add_member(bk_grp_mgr *m, grp_group *g, char *id,
                      const bk_grp_join_req *req, void *ctx, uint64_t tok,
                      int64_t now)
{
    grp_member *mb = calloc(1, sizeof(*mb));
    char *type = NULL;
    if (!mb)
        goto oom;
    mb->id = id;
    id = NULL;
    mb->client_id = dupstr(req->client_id);
    mb->client_host = dupstr(req->client_host);
    if (!mb->client_id || !mb->client_host ||
        copy_protos(req->protocols, req->n_protocols, &mb->protos) < 0)
        goto oom;
    mb->n_protos = req->n_protocols;
    if (g->n_members == 0 && !(type = dupstr(req->protocol_type)))
        goto oom;
    if (reserve_members(g) < 0 || reserve_scratch(m, g->n_members + 1) < 0 ||
        reserve_pname(g, req) < 0)
        goto oom;

    mb->session_ms = req->session_timeout_ms;
    mb->rebalance_ms = req->rebalance_timeout_ms > 0 ? req->rebalance_timeout_ms
                                                     : req->session_timeout_ms;
    mb->is_new = true;
    mb->awaiting_join = true;
    mb->join_ctx = ctx;
    mb->join_tok = tok;
    /* it cannot heartbeat before its first answer: bound the wait */
    mb->hb_deadline = now + m->cfg.new_member_join_timeout_ms;
    g->n_awaiting_join++;
    if (g->state == BK_GRP_PREPARING_REBALANCE && g->generation == 0)
        g->new_member_added = true;
    if (type) {
        free(g->protocol_type);
        g->protocol_type = type;
    }
    g->members[g->n_members++] = mb;
    if (!g->leader)
        g->leader = mb;
    maybe_prepare_rebalance(m, g, now);
    return 0;
oom:
    free(id);
    free(type);
    free_member(mb);
    return -BK_ENOMEM;
}

/* An existing member rejoins (with new protocols, maybe). */
static int update_member(bk_grp_mgr *m, grp_group *g, grp_member *mb,
                         const bk_grp_join_req *req, void *ctx, uint64_t tok,
                         int64_t now)
{
    grp_proto *protos;
    char *type = NULL;
    if (copy_protos(req->protocols, req->n_protocols, &protos) < 0)
        return -BK_ENOMEM;
    if ((g->n_members == 1 && !(type = dupstr(req->protocol_type))) ||
        reserve_pname(g, req) < 0) {
        free(type);
        free_protos(protos, req->n_protocols);
        return -BK_ENOMEM;
    }
    if (mb->awaiting_join) {
        /* a retry of a held JoinGroup (say, after a client timeout):
         * answer the old one so that nothing is left hanging */
        reply_join_err(m, take_join(g, mb), mb->id,
                       BK_ERR_REBALANCE_IN_PROGRESS);
    }
    free_protos(mb->protos, mb->n_protos);
    mb->protos = protos;
    mb->n_protos = req->n_protocols;
    mb->session_ms = req->session_timeout_ms;
    mb->rebalance_ms = req->rebalance_timeout_ms > 0 ? req->rebalance_timeout_ms
                                                     : req->session_timeout_ms;
    if (type) {
        free(g->protocol_type);
        g->protocol_type = type;
    }
    mb->awaiting_join = true;
    mb->join_ctx = ctx;
    mb->join_tok = tok;
    g->n_awaiting_join++;
    maybe_prepare_rebalance(m, g, now);
    return 0;
}

static bool join_held(const grp_group *g, uint64_t tok)
{
    for (size_t i = 0; i < g->n_members; i++)
        if (g->members[i]->awaiting_join && g->members[i]->join_tok == tok)
            return true;
    return false;
}

int bk_grp_join(bk_grp_mgr *m, const bk_grp_join_req *req, void *req_ctx,
                int64_t now_ms)
{
    assert(m && req && !m->in_cb);
    const char *mid = req->member_id ? req->member_id : "";
    bool unknown = *mid == '\0';
    uint64_t tok = ++m->tok_seq;

    if (!req->group_id || !*req->group_id) {
        reply_join_err(m, req_ctx, mid, BK_ERR_INVALID_GROUP_ID);
        return 0;
    }
    if (req->session_timeout_ms < m->cfg.min_session_timeout_ms ||
        req->session_timeout_ms > m->cfg.max_session_timeout_ms) {
        reply_join_err(m, req_ctx, mid, BK_ERR_INVALID_SESSION_TIMEOUT);
        return 0;
    }
    grp_group *g = touch_group(m, req->group_id);
    bool created = false;
    if (!g) {
        /* only a new member creates a group; a known member id of an
         * unknown group is stale (e.g. the coordinator moved) */
        if (!unknown) {
            reply_join_err(m, req_ctx, mid, BK_ERR_UNKNOWN_MEMBER_ID);
            return 0;
        }
        if (!protos_supported(NULL, NULL, req)) {
            reply_join_err(m, req_ctx, "", BK_ERR_INCONSISTENT_GROUP_PROTOCOL);
            return 0;
        }
        if (!(g = new_group(m, req->group_id))) {
            reply_join_err(m, req_ctx, "", BK_ERR_UNKNOWN);
            return 0;
        }
        created = true;
        g->touched = now_ms;
    } else {
        g->touched = now_ms;
        group_run_due(m, g, now_ms);
    }

    if (!accept_joining(m, g, mid)) {
        reply_join_err(m, req_ctx, "", BK_ERR_GROUP_MAX_SIZE_REACHED);
        if (created)
            drop_group(m, g);
        return 0;
    }

    int32_t err = BK_ERR_NO_ERROR;
    const char *err_mid = mid;
    if (unknown) {
        err_mid = "";
        char *id;
        if (!protos_supported(g, NULL, req)) {
            err = BK_ERR_INCONSISTENT_GROUP_PROTOCOL;
        } else if (!(id = new_member_id(m, g, req->client_id))) {
            err = BK_ERR_UNKNOWN;
        } else if (req->require_known_member_id) {
            /* KIP-394: hand out the id first, so that a client that
             * times out and retries does not leave a ghost member */
            if (g->n_pending == g->cap_pending) {
                size_t cap = g->cap_pending ? g->cap_pending * 2 : 4;
                grp_pending *p = realloc(g->pending, cap * sizeof(*p));
                if (!p) {
                    free(id);
                    err = BK_ERR_UNKNOWN;
                    goto out;
                }
                g->pending = p;
                g->cap_pending = cap;
            }
            g->pending[g->n_pending].id = id;
            g->pending[g->n_pending].deadline =
                now_ms + req->session_timeout_ms;
            g->n_pending++;
            reply_join_err(m, req_ctx, id, BK_ERR_MEMBER_ID_REQUIRED);
            return 0;
        } else if (add_member(m, g, id, req, req_ctx, tok, now_ms) < 0) {
            err = BK_ERR_UNKNOWN;
        }
    } else {
        size_t pidx;
        grp_member *mb = find_member(g, mid, NULL);
        if (!protos_supported(g, mb, req)) {
            err = BK_ERR_INCONSISTENT_GROUP_PROTOCOL;
        } else if (find_pending(g, mid, &pidx)) {
            /* the second JoinGroup of a MEMBER_ID_REQUIRED member */
            char *id = g->pending[pidx].id;
            g->pending[pidx] = g->pending[--g->n_pending];
            if (add_member(m, g, id, req, req_ctx, tok, now_ms) < 0)
                err = BK_ERR_UNKNOWN;
        } else if (!mb) {
            err = BK_ERR_UNKNOWN_MEMBER_ID;
        } else {
            switch (g->state) {
            case BK_GRP_PREPARING_REBALANCE:
                if (update_member(m, g, mb, req, req_ctx, tok, now_ms) < 0)
                    err = BK_ERR_UNKNOWN;
                break;
            case BK_GRP_COMPLETING_REBALANCE:
            case BK_GRP_STABLE:
                /* a follower that lost its answer gets it again; the
                 * leader rejoining or a changed member rebalances (the
                 * leader may have seen topic metadata change) */
                if (member_matches(mb, req) &&
                    (g->state == BK_GRP_COMPLETING_REBALANCE ||
                     mb != g->leader)) {
                    mb->hb_deadline = now_ms + mb->session_ms;
                    reply_join_ok(m, g, mb, req_ctx);
                    return 0;
                }
                if (update_member(m, g, mb, req, req_ctx, tok, now_ms) < 0)
                    err = BK_ERR_UNKNOWN;
                break;
            default:
                err = BK_ERR_UNKNOWN_MEMBER_ID;
                break;
            }
        }
    }
out:
    if (err != BK_ERR_NO_ERROR) {
        reply_join_err(m, req_ctx, err_mid, err);
        if (created && g->n_members == 0 && g->n_pending == 0)
            drop_group(m, g);
        return 0;
    }
    try_complete_join(m, g, now_ms);
    return join_held(g, tok) ? BK_AGAIN : 0;
}

/* ---- SyncGroup ---------------------------------------------------- */

int bk_grp_sync(bk_grp_mgr *m, const bk_grp_sync_req *req, void *req_ctx,
                int64_t now_ms)
{
    assert(m && req && !m->in_cb);
    uint64_t tok = ++m->tok_seq;
    const char *mid = req->member_id ? req->member_id : "";
    if (!req->group_id || !*req->group_id) {
        reply_sync_err(m, req_ctx, BK_ERR_INVALID_GROUP_ID);
        return 0;
    }
    grp_group *g = touch_group(m, req->group_id);
    if (!g) {
        reply_sync_err(m, req_ctx, BK_ERR_UNKNOWN_MEMBER_ID);
        return 0;
    }
    g->touched = now_ms;
    group_run_due(m, g, now_ms);
    grp_member *mb = find_member(g, mid, NULL);
    int32_t err = BK_ERR_NO_ERROR;
    if (!mb)
        err = BK_ERR_UNKNOWN_MEMBER_ID;
    else if (req->generation_id != g->generation)
        err = BK_ERR_ILLEGAL_GENERATION;
    else if ((req->protocol_type && *req->protocol_type &&
              (!g->protocol_type ||
               strcmp(req->protocol_type, g->protocol_type))) ||
             (req->protocol_name && *req->protocol_name && g->has_protocol &&
              strcmp(req->protocol_name, g->pname)))
        err = BK_ERR_INCONSISTENT_GROUP_PROTOCOL;
    else if (g->state == BK_GRP_PREPARING_REBALANCE)
        err = BK_ERR_REBALANCE_IN_PROGRESS;
    else if (g->state != BK_GRP_COMPLETING_REBALANCE &&
             g->state != BK_GRP_STABLE)
        err = BK_ERR_UNKNOWN_MEMBER_ID;
    if (err != BK_ERR_NO_ERROR) {
        reply_sync_err(m, req_ctx, err);
        return 0;
    }

    if (g->state == BK_GRP_STABLE) {
        /* the assignment is known: answer at once */
        mb->pending_sync = false;
        mb->hb_deadline = now_ms + mb->session_ms;
        update_sync_timer(g);
        reply_sync_ok(m, g, mb, req_ctx);
        return 0;
    }

    /* CompletingRebalance: the leader's call completes everybody's */
    struct {
        uint8_t *p;
        size_t len;
    } *copies = NULL;
    if (mb == g->leader) {
        copies = calloc(g->n_members, sizeof(*copies));
        if (!copies) {
            reply_sync_err(m, req_ctx, BK_ERR_UNKNOWN);
            return 0;
        }
        for (size_t i = 0; i < g->n_members; i++) {
            const bk_grp_assignment *a = NULL;
            for (size_t k = 0; k < req->n_assignments && !a; k++)
                if (req->assignments[k].member_id &&
                    strcmp(req->assignments[k].member_id, g->members[i]->id) ==
                        0)
                    a = &req->assignments[k];
            copies[i].len = a ? a->len : 0;
            copies[i].p = malloc(copies[i].len ? copies[i].len : 1);
            if (!copies[i].p) {
                for (size_t k = 0; k < i; k++)
                    free(copies[k].p);
                free(copies);
                reply_sync_err(m, req_ctx, BK_ERR_UNKNOWN);
                return 0;
            }
            if (copies[i].len)
                memcpy(copies[i].p, a->data, copies[i].len);
        }
    }
    if (mb->awaiting_sync) /* a retry: the first is answered */
        reply_sync_err(m, take_sync(mb), BK_ERR_REBALANCE_IN_PROGRESS);
    mb->awaiting_sync = true;
    mb->sync_ctx = req_ctx;
    mb->sync_tok = tok;
    mb->pending_sync = false;
    if (copies) {
        for (size_t i = 0; i < g->n_members; i++) {
            free(g->members[i]->assign);
            g->members[i]->assign = copies[i].p;
            g->members[i]->assign_len = copies[i].len;
        }
        free(copies);
        g->state = BK_GRP_STABLE;
        BK_INFO("group", "group %s generation %" PRId32 " is stable", g->id,
                g->generation);
        for (size_t i = 0; i < g->n_members; i++) {
            grp_member *x = g->members[i];
            if (x->awaiting_sync) {
                void *ctx = take_sync(x);
                x->hb_deadline = now_ms + x->session_ms;
                reply_sync_ok(m, g, x, ctx);
            }
        }
    }
    update_sync_timer(g);
    return mb->awaiting_sync && mb->sync_tok == tok ? BK_AGAIN : 0;
}

/* ---- Heartbeat, LeaveGroup, commits, deletion ---------------------- */

int32_t bk_grp_heartbeat(bk_grp_mgr *m, const char *group_id,
                         const char *member_id, int32_t generation_id,
                         int64_t now_ms)
{
    assert(m && !m->in_cb);
    if (!group_id || !*group_id)
        return BK_ERR_INVALID_GROUP_ID;
    grp_group *g = touch_group(m, group_id);
    if (!g)
        return BK_ERR_UNKNOWN_MEMBER_ID;
    g->touched = now_ms;
    group_run_due(m, g, now_ms);
    grp_member *mb = find_member(g, member_id ? member_id : "", NULL);
    if (!mb)
        return BK_ERR_UNKNOWN_MEMBER_ID;
    if (generation_id != g->generation)
        return BK_ERR_ILLEGAL_GENERATION;
    switch (g->state) {
    case BK_GRP_COMPLETING_REBALANCE:
    case BK_GRP_STABLE:
        mb->hb_deadline = now_ms + mb->session_ms;
        return BK_ERR_NO_ERROR;
    case BK_GRP_PREPARING_REBALANCE:
        /* alive, but must rejoin: that is how members learn of it */
        mb->hb_deadline = now_ms + mb->session_ms;
        return BK_ERR_REBALANCE_IN_PROGRESS;
    default:
        return BK_ERR_UNKNOWN_MEMBER_ID;
    }
}

int32_t bk_grp_leave(bk_grp_mgr *m, const char *group_id,
                     const char *const *member_ids, size_t n,
                     int32_t *member_errors, int64_t now_ms)
{
    assert(m && !m->in_cb && (n == 0 || (member_ids && member_errors)));
    if (!group_id || !*group_id) {
        for (size_t i = 0; i < n; i++)
            member_errors[i] = BK_ERR_INVALID_GROUP_ID;
        return BK_ERR_INVALID_GROUP_ID;
    }
    grp_group *g = touch_group(m, group_id);
    if (g) {
        g->touched = now_ms;
        group_run_due(m, g, now_ms);
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = member_ids[i] ? member_ids[i] : "";
        size_t idx;
        if (!g) {
            member_errors[i] = BK_ERR_UNKNOWN_MEMBER_ID;
        } else if (find_pending(g, id, &idx)) {
            remove_pending(g, idx);
            try_complete_join(m, g, now_ms);
            member_errors[i] = BK_ERR_NO_ERROR;
        } else if (find_member(g, id, &idx)) {
            BK_INFO("group", "group %s: member %s leaves", g->id, id);
            remove_member(m, g, idx, now_ms);
            member_errors[i] = BK_ERR_NO_ERROR;
        } else {
            member_errors[i] = BK_ERR_UNKNOWN_MEMBER_ID;
        }
    }
    return BK_ERR_NO_ERROR;
}

int32_t bk_grp_commit_check(bk_grp_mgr *m, const char *group_id,
                            const char *member_id, int32_t generation_id,
                            int64_t now_ms)
{
    assert(m && !m->in_cb);
    /* Kafka accepts "" for commits (old clients); its znode path would
     * be /consumers//offsets, so Brook refuses it. */
    if (!group_id || !*group_id)
        return BK_ERR_INVALID_GROUP_ID;
    grp_group *g = touch_group(m, group_id);
    if (!g) /* no group management, or a generation of a lost group */
        return generation_id < 0 ? BK_ERR_NO_ERROR : BK_ERR_ILLEGAL_GENERATION;
    g->touched = now_ms;
    group_run_due(m, g, now_ms);
    if (generation_id < 0 && g->state == BK_GRP_EMPTY)
        return BK_ERR_NO_ERROR;
    grp_member *mb = find_member(g, member_id ? member_id : "", NULL);
    if (!mb)
        return BK_ERR_UNKNOWN_MEMBER_ID;
    if (generation_id != g->generation)
        return BK_ERR_ILLEGAL_GENERATION;
    switch (g->state) {
    case BK_GRP_STABLE:
    case BK_GRP_PREPARING_REBALANCE:
        /* still allowed while preparing: the member learns of the
         * rebalance from its next heartbeat, and commits before it
         * gives its partitions up */
        mb->hb_deadline = now_ms + mb->session_ms;
        return BK_ERR_NO_ERROR;
    default:
        /* CompletingRebalance: the member holds a generation that has no
         * assignment yet */
        return BK_ERR_REBALANCE_IN_PROGRESS;
    }
}

int32_t bk_grp_delete(bk_grp_mgr *m, const char *group_id)
{
    assert(m && !m->in_cb);
    if (!group_id || !*group_id)
        return BK_ERR_INVALID_GROUP_ID;
    grp_group *g = touch_group(m, group_id);
    if (!g)
        return BK_ERR_GROUP_ID_NOT_FOUND;
    if (g->state != BK_GRP_EMPTY)
        return BK_ERR_NON_EMPTY_GROUP;
    assert(g->n_members == 0);
    drop_group(m, g); /* pending MEMBER_ID_REQUIRED ids just lapse */
    return BK_ERR_NO_ERROR;
}

/* ---- coordination moves, timers ----------------------------------- */

int bk_grp_unload(bk_grp_mgr *m, const char *group_id)
{
    assert(m && !m->in_cb);
    grp_group *g = group_id ? touch_group(m, group_id) : NULL;
    if (!g)
        return -BK_ENOENT;
    unload_group(m, g);
    return 0;
}

size_t bk_grp_unload_if(bk_grp_mgr *m,
                        bool (*pred)(const char *group_id, void *arg),
                        void *arg)
{
    assert(m && pred && !m->in_cb);
    size_t n = 0;
    for (size_t i = 0; i < m->n_buckets; i++) {
        grp_group *g = m->buckets[i];
        while (g) {
            grp_group *next = g->next;
            if (pred(g->id, arg)) {
                unload_group(m, g);
                n++;
            }
            g = next;
        }
    }
    return n;
}

bool bk_grp_cancel(bk_grp_mgr *m, void *req_ctx)
{
    /* Allowed inside a callback: answering one request may write to and
     * close a dead connection that holds another request of ours (its
     * abort lands here).  Only a ctx is swapped for &orphan; the reply
     * loops take each ctx just before answering it, so they skip it. */
    assert(m);
    for (size_t i = 0; i < m->n_buckets; i++)
        for (grp_group *g = m->buckets[i]; g; g = g->next)
            for (size_t k = 0; k < g->n_members; k++) {
                grp_member *mb = g->members[k];
                if (mb->awaiting_join && mb->join_ctx == req_ctx) {
                    mb->join_ctx = &m->orphan;
                    return true;
                }
                if (mb->awaiting_sync && mb->sync_ctx == req_ctx) {
                    mb->sync_ctx = &m->orphan;
                    return true;
                }
            }
    return false;
}

int64_t bk_grp_next_deadline(bk_grp_mgr *m)
{
    int64_t best = INT64_MAX;
    for (size_t i = 0; i < m->n_buckets; i++)
        for (grp_group *g = m->buckets[i]; g; g = g->next) {
            int64_t d = g->next_cache;
            if (!g->next_ok) {
                int kind;
                size_t idx;
                d = group_next(g, m->cfg.empty_group_ttl_ms, &kind, &idx);
                /* Not from inside a callback: the request that runs it
                 * may still move the group's deadlines (its cache was
                 * cleared when it began, not when it ends). */
                if (!m->in_cb) {
                    g->next_cache = d;
                    g->next_ok = true;
                }
            }
            if (d < best)
                best = d;
        }
    return best;
}

void bk_grp_tick(bk_grp_mgr *m, int64_t now_ms)
{
    assert(m && !m->in_cb);
    /* timers never add groups; an expired one is dropped after its turn */
    for (size_t i = 0; i < m->n_buckets; i++) {
        grp_group *g = m->buckets[i];
        while (g) {
            grp_group *next = g->next;
            if (g->next_ok && g->next_cache > now_ms) {
                g = next; /* nothing due: its deadlines did not move */
                continue;
            }
            g->next_ok = false;
            if (group_run_due(m, g, now_ms)) {
                BK_INFO("group", "group %s: empty and unused, forgotten",
                        g->id);
                drop_group(m, g);
            }
            g = next;
        }
    }
}

/* ---- DescribeGroups / ListGroups ---------------------------------- */

int bk_grp_describe(const bk_grp_mgr *m, const char *group_id, bk_grp_desc *out)
{
    memset(out, 0, sizeof(*out));
    const grp_group *g = group_id ? find_group(m, group_id) : NULL;
    out->error = BK_ERR_NO_ERROR;
    out->protocol_type = "";
    out->protocol_name = "";
    out->leader_id = "";
    if (!g) {
        out->state = BK_GRP_DEAD;
        out->state_name = bk_grp_state_name(BK_GRP_DEAD);
        out->generation_id = -1;
        return 0;
    }
    out->state = g->state;
    out->state_name = bk_grp_state_name(g->state);
    out->protocol_type = g->protocol_type ? g->protocol_type : "";
    out->generation_id = g->generation;
    out->leader_id = g->leader ? g->leader->id : "";
    bool stable = g->state == BK_GRP_STABLE;
    if (stable)
        out->protocol_name = g->pname;
    if (g->n_members) {
        out->members = calloc(g->n_members, sizeof(*out->members));
        if (!out->members)
            return -BK_ENOMEM;
    }
    for (size_t i = 0; i < g->n_members; i++) {
        const grp_member *mb = g->members[i];
        bk_grp_member_desc *d = &out->members[i];
        d->member_id = mb->id;
        d->client_id = mb->client_id;
        d->client_host = mb->client_host;
        if (stable) {
            const grp_proto *p = member_proto(mb, g->pname);
            d->metadata = p ? p->meta : NULL;
            d->metadata_len = p ? p->len : 0;
            d->assignment = mb->assign;
            d->assignment_len = mb->assign_len;
        }
    }
    out->n_members = g->n_members;
    return 0;
}

void bk_grp_desc_free(bk_grp_desc *d)
{
    if (!d)
        return;
    free(d->members);
    d->members = NULL;
    d->n_members = 0;
}

int bk_grp_list(const bk_grp_mgr *m, bk_grp_overview **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!m->n_groups)
        return 0;
    bk_grp_overview *a = calloc(m->n_groups, sizeof(*a));
    if (!a)
        return -BK_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m->n_buckets; i++)
        for (const grp_group *g = m->buckets[i]; g; g = g->next) {
            a[k].group_id = g->id;
            a[k].protocol_type = g->protocol_type ? g->protocol_type : "";
            a[k].state = g->state;
            a[k].state_name = bk_grp_state_name(g->state);
            k++;
        }
    assert(k == m->n_groups);
    *out = a;
    *n = k;
    return 0;
}

size_t bk_grp_count(const bk_grp_mgr *m)
{
    return m->n_groups;
}

/* ---- invariants ---------------------------------------------------- */

#define VERIFY(c)                                                              \
    do {                                                                       \
        if (!(c)) {                                                            \
            BK_ERROR("group", "group %s: invariant failed: %s", g->id, #c);    \
            return -BK_ECORRUPT;                                               \
        }                                                                      \
    } while (0)

static int verify_group(const bk_grp_mgr *m, const grp_group *g)
{
    VERIFY(g->generation >= 0);
    VERIFY(g->state <= BK_GRP_STABLE);
    VERIFY((g->state == BK_GRP_EMPTY) <= (g->n_members == 0));
    VERIFY((g->n_members == 0) <= (g->state == BK_GRP_EMPTY ||
                                   g->state == BK_GRP_PREPARING_REBALANCE));
    VERIFY((g->leader != NULL) == (g->n_members > 0));
    VERIFY(g->n_members <= g->cap_members);
    VERIFY(m->scratch_cap >= g->n_members);
    VERIFY(g->has_protocol == (g->state == BK_GRP_COMPLETING_REBALANCE ||
                               g->state == BK_GRP_STABLE));
    VERIFY(!g->initial_delay || g->state == BK_GRP_PREPARING_REBALANCE);
    size_t awaiting = 0, pending_sync = 0, leaders = 0;
    for (size_t i = 0; i < g->n_members; i++) {
        const grp_member *mb = g->members[i];
        leaders += mb == g->leader;
        awaiting += mb->awaiting_join;
        pending_sync += mb->pending_sync;
        VERIFY(!mb->awaiting_join || g->state == BK_GRP_PREPARING_REBALANCE);
        VERIFY(!mb->awaiting_sync || g->state == BK_GRP_COMPLETING_REBALANCE);
        VERIFY(!mb->pending_sync || g->state == BK_GRP_COMPLETING_REBALANCE ||
               g->state == BK_GRP_STABLE);
        VERIFY(!mb->is_new || mb->awaiting_join);
        VERIFY(!(mb->awaiting_sync && mb->pending_sync));
        VERIFY(!mb->assign_len || g->state == BK_GRP_STABLE);
        for (size_t j = i + 1; j < g->n_members; j++)
            VERIFY(strcmp(mb->id, g->members[j]->id) != 0);
        size_t idx;
        VERIFY(!find_pending(g, mb->id, &idx));
        if (g->has_protocol)
            VERIFY(member_proto(mb, g->pname) != NULL);
        VERIFY(g->protocol_type && (!g->has_protocol || mb->n_protos > 0));
    }
    VERIFY(leaders == (g->n_members ? 1u : 0u));
    VERIFY(awaiting == g->n_awaiting_join);
    VERIFY(g->sync_timer == (pending_sync > 0));
    return 0;
}

int bk_grp_verify(const bk_grp_mgr *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_buckets; i++)
        for (const grp_group *g = m->buckets[i]; g; g = g->next) {
            n++;
            if (find_group(m, g->id) != g)
                return -BK_ECORRUPT;
            int rc = verify_group(m, g);
            if (rc < 0)
                return rc;
            /* a valid cached deadline is what a full scan would say */
            int kind;
            size_t idx;
            if (g->next_ok &&
                g->next_cache !=
                    group_next(g, m->cfg.empty_group_ttl_ms, &kind, &idx))
                return -BK_ECORRUPT;
        }
    return n == m->n_groups ? 0 : -BK_ECORRUPT;
}
