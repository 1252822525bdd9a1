/*
 * consumer.c -- assignment, offset lookups, fetching and record iteration
 * (see consumer.h).
 */
#include "client/consumer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "proto/protocol.h"

/* Bound on a batch's decompressed size (a zip bomb stops here). */
#define MAX_UNCOMPRESSED (256u * 1024 * 1024)
/* Records taken from one partition before the next one gets its turn. */
#define RR_STREAK 256

int bk_cons_new(brook_client *c, bk_cons **out)
{
    bk_cons *k = calloc(1, sizeof *k);
    if (!k)
        return -BK_ENOMEM;
    const brook_conf *cf = c->conf;
    k->c = c;
    k->max_wait_ms = (int32_t)brook_conf_int(cf, BROOK_CK_FETCH_MAX_WAIT_MS);
    k->min_bytes = (int32_t)brook_conf_int(cf, BROOK_CK_FETCH_MIN_BYTES);
    k->max_bytes = (int32_t)brook_conf_int(cf, BROOK_CK_FETCH_MAX_BYTES);
    k->part_max_bytes =
        (int32_t)brook_conf_int(cf, BROOK_CK_MAX_PARTITION_FETCH_BYTES);
    k->request_timeout_ms = brook_conf_int(cf, BROOK_CK_REQUEST_TIMEOUT_MS);
    k->retry_backoff_ms = brook_conf_int(cf, BROOK_CK_RETRY_BACKOFF_MS);
    k->next_epoch = 1;
    *out = k;
    return 0;
}

static void cp_drop_data(bk_cp *cp)
{
    if (cp->it_on) {
        bk_batch_iter_free(&cp->it);
        cp->it_on = false;
    }
    bk_cchunk *ch = cp->head;
    while (ch) {
        bk_cchunk *n = ch->next;
        free(ch->data);
        free(ch);
        ch = n;
    }
    cp->head = cp->tail = NULL;
    cp->buffered = 0;
}

static void cp_free(bk_cp *cp)
{
    cp_drop_data(cp);
    cp->t->parts[cp->part].cp = NULL;
    free(cp);
}

void bk_cons_free(bk_cons *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->ncps; i++)
        cp_free(k->cps[i]);
    free(k->cps);
    free(k->fetch_busy);
    free(k);
}

static bk_cp *cp_find(bk_cons *k, const char *topic, int32_t part)
{
    bk_topic *t = bk_md_topic(&k->c->md, topic);
    if (!t || part < 0 || part >= t->nparts)
        return NULL;
    return t->parts[part].cp;
}

/* Moves cp to offset (>= 0) or to a ListOffsets lookup of reset_ts. */
static void cp_seek(bk_cons *k, bk_cp *cp, int64_t offset, bool lookup)
{
    cp->pos_known = !lookup;
    cp_drop_data(cp);
    cp->epoch = k->next_epoch++;
    cp->fetching = false;
    cp->eof_sent = false;
    cp->hw_fresh = false;
    cp->pending_err = 0;
    cp->backoff_until = 0;
    if (lookup) {
        cp->state = BK_CP_RESET;
        cp->reset_ts = offset;
    } else {
        cp->state = BK_CP_FETCHING;
        cp->position = cp->fetch_pos = offset;
    }
}

int bk_cons_assign(bk_cons *k, const char *topic, int32_t part, int64_t offset)
{
    if (!topic || !bk_md_topic_name_valid(topic) || part < 0 ||
        offset < BROOK_OFFSET_BEGINNING)
        return -BK_EINVAL;
    brook_client *c = k->c;
    bool created;
    bk_topic *t = bk_md_topic_add(&c->md, topic, &created);
    if (!t)
        return -BK_ENOMEM;
    /* the partition gets a slot now even if the cluster has not confirmed
     * it yet; a missing one shows up as an error event */
    if (bk_md_topic_grow(t, part + 1) != 0)
        return -BK_ENOMEM;
    if (t->parts[part].cp)
        return -BK_EEXIST;
    if (k->ncps == k->capcps) {
        size_t cap = k->capcps ? k->capcps * 2 : 8;
        bk_cp **v = realloc(k->cps, cap * sizeof *v);
        if (!v)
            return -BK_ENOMEM;
        k->cps = v;
        k->capcps = cap;
    }
    bk_cp *cp = calloc(1, sizeof *cp);
    if (!cp)
        return -BK_ENOMEM;
    cp->t = t;
    cp->part = part;
    cp->hw = -1;
    cp->committed = -1;
    cp->max_bytes = k->part_max_bytes;
    cp_seek(k, cp, offset, offset < 0);
    t->parts[part].cp = cp;
    k->cps[k->ncps++] = cp;
    brook_client_md_refresh(c);
    return 0;
}

int bk_cons_unassign(bk_cons *k, const char *topic, int32_t part)
{
    bk_cp *cp = cp_find(k, topic, part);
    if (!cp)
        return -BK_ENOENT;
    for (size_t i = 0; i < k->ncps; i++) {
        if (k->cps[i] == cp) {
            memmove(&k->cps[i], &k->cps[i + 1],
                    (k->ncps - i - 1) * sizeof *k->cps);
            k->ncps--;
            break;
        }
    }
    k->rr = 0;
    k->rr_streak = 0;
    /* requests in flight find no cp (or another epoch) and are ignored */
    cp_free(cp);
    return 0;
}

int bk_cons_seek(bk_cons *k, const char *topic, int32_t part, int64_t offset,
                 bool by_timestamp)
{
    bk_cp *cp = cp_find(k, topic, part);
    if (!cp)
        return -BK_ENOENT;
    if (by_timestamp ? offset < 0 : offset < BROOK_OFFSET_BEGINNING)
        return -BK_EINVAL;
    cp_seek(k, cp, offset, by_timestamp || offset < 0);
    return 0;
}

int bk_cons_position(bk_cons *k, const char *topic, int32_t part,
                     int64_t *offset)
{
    bk_cp *cp = cp_find(k, topic, part);
    if (!cp)
        return -BK_ENOENT;
    if (cp->state == BK_CP_RESET || cp->state == BK_CP_LISTING ||
        cp->state == BK_CP_AWAIT)
        return BK_AGAIN;
    *offset = cp->position;
    return 0;
}

bk_cp *bk_cons_cp_find(bk_cons *k, const char *topic, int32_t part)
{
    return cp_find(k, topic, part);
}

int bk_cons_assign_await(bk_cons *k, const char *topic, int32_t part)
{
    int rc = bk_cons_assign(k, topic, part, 0);
    if (rc != 0)
        return rc;
    bk_cp *cp = cp_find(k, topic, part);
    assert(cp);
    cp->state = BK_CP_AWAIT;
    cp->pos_known = false;
    return 0;
}

void bk_cons_cp_seek(bk_cons *k, bk_cp *cp, int64_t offset, bool lookup)
{
    cp_seek(k, cp, offset, lookup);
}

void bk_cons_unassign_all(bk_cons *k)
{
    for (size_t i = 0; i < k->ncps; i++)
        cp_free(k->cps[i]);
    k->ncps = 0;
    k->rr = 0;
    k->rr_streak = 0;
}

int bk_cons_pause(bk_cons *k, const char *topic, int32_t part, bool on)
{
    bk_cp *cp = cp_find(k, topic, part);
    if (!cp)
        return -BK_ENOENT;
    cp->paused = on;
    return 0;
}

int bk_cons_hw(bk_cons *k, const char *topic, int32_t part, int64_t *hw)
{
    bk_cp *cp = cp_find(k, topic, part);
    if (!cp)
        return -BK_ENOENT;
    *hw = cp->hw;
    return 0;
}

/* ------------------------------ iteration ------------------------------ */

size_t bk_cons_complete_prefix(const uint8_t *p, size_t len,
                               int64_t *next_fetch, size_t *need)
{
    size_t pos = 0;
    *need = 0;
    while (pos < len) {
        bk_batch_header h;
        if (bk_batch_parse_header(p + pos, len - pos, &h) != 0)
            break; /* cut header (a corrupt one is caught when iterated) */
        size_t size = bk_batch_size(&h);
        if (size > len - pos) {
            if (pos == 0)
                *need = size;
            break;
        }
        int64_t next = bk_batch_last_offset(&h) + 1;
        if (next > *next_fetch)
            *next_fetch = next;
        pos += size;
    }
    return pos;
}

static void msg_event(bk_cons *k, bk_cp *cp, brook_msg_type type, int err)
{
    brook_msg *m = &k->msg;
    memset(m, 0, sizeof *m);
    m->type = type;
    m->topic = cp->t->name;
    m->partition = cp->part;
    m->offset = cp->position;
    m->timestamp = -1;
    m->key_len = m->value_len = -1;
    m->err = err;
}

/* The next record of cp from its buffers: 1 (k->msg filled) or 0. */
static int cp_next_record(bk_cons *k, bk_cp *cp)
{
    for (;;) {
        if (cp->it_on) {
            bk_record_view rv;
            int rc = bk_batch_iter_next(&cp->it, &rv);
            if (rc == 1) {
                if (rv.offset < cp->position)
                    continue; /* before the fetch offset in its batch */
                brook_msg *m = &k->msg;
                m->type = BROOK_MSG_RECORD;
                m->topic = cp->t->name;
                m->partition = cp->part;
                m->offset = rv.offset;
                m->timestamp = rv.timestamp;
                m->key = rv.key_len >= 0 ? rv.key : NULL;
                m->key_len = rv.key_len;
                m->value = rv.value_len >= 0 ? rv.value : NULL;
                m->value_len = rv.value_len;
                m->header_count = rv.header_count;
                m->err = 0;
                m->hdr_raw_ = rv.headers;
                m->hdr_len_ = rv.headers_len;
                cp->position = rv.offset + 1;
                cp->eof_sent = false;
                return 1;
            }
            bk_batch_iter_free(&cp->it);
            cp->it_on = false;
            if (rc < 0) {
                /* a batch whose CRC held but whose records do not decode:
                 * nothing sensible to hand out; say so and skip it */
                cp->pending_err = BK_ERR_INVALID_MSG;
                return 0;
            }
        }
        bk_cchunk *ch = cp->head;
        if (!ch)
            return 0;
        if (ch->pos >= ch->len) {
            cp->head = ch->next;
            if (!cp->head)
                cp->tail = NULL;
            cp->buffered -= ch->len;
            free(ch->data);
            free(ch);
            continue;
        }
        bk_batch_header h;
        const uint8_t *b = ch->data + ch->pos;
        if (bk_batch_parse_header(b, ch->len - ch->pos, &h) != 0 ||
            bk_batch_size(&h) > ch->len - ch->pos) {
            ch->pos = ch->len; /* cannot happen: prefix was checked */
            continue;
        }
        size_t size = bk_batch_size(&h);
        ch->pos += size;
        if (bk_batch_last_offset(&h) < cp->position ||
            (h.attributes & BK_BATCH_ATTR_CONTROL))
            continue;
        /* check.crcs, on as in Kafka's consumer: bytes damaged on the way
         * (or on the broker's disk) are not handed out as records */
        if (bk_batch_check_crc(b, size) != 0) {
            cp->pending_err = BK_ERR_INVALID_MSG;
            return 0;
        }
        int rc = bk_batch_iter_init(&cp->it, b, size, MAX_UNCOMPRESSED);
        if (rc != 0) {
            /* a failed init may hold a decompression buffer */
            bk_batch_iter_free(&cp->it);
            cp->pending_err = BK_ERR_INVALID_MSG;
            return 0;
        }
        cp->it_on = true;
    }
}

/* The next message of cp (event or record): 1 or 0. */
static int cp_next(bk_cons *k, bk_cp *cp)
{
    if (cp->paused)
        return 0;
    if (cp->pending_err) {
        msg_event(k, cp, BROOK_MSG_ERROR, cp->pending_err);
        cp->pending_err = 0;
        return 1;
    }
    if (cp->state == BK_CP_FETCHING || cp->state == BK_CP_STOPPED) {
        if (cp_next_record(k, cp))
            return 1;
        if (cp->pending_err)
            return cp_next(k, cp);
    }
    if (cp->state == BK_CP_FETCHING && !cp->eof_sent && cp->hw_fresh &&
        cp->position >= cp->hw && !cp->head && !cp->it_on) {
        cp->eof_sent = true;
        msg_event(k, cp, BROOK_MSG_EOF, 0);
        return 1;
    }
    return 0;
}

int bk_cons_next(bk_cons *k, const brook_msg **out)
{
    if (k->group_err) {
        /* the group cannot go on (cgroup.c): no partition to name */
        brook_msg *m = &k->msg;
        memset(m, 0, sizeof *m);
        m->type = BROOK_MSG_ERROR;
        m->topic = "";
        m->partition = -1;
        m->offset = -1;
        m->timestamp = -1;
        m->key_len = m->value_len = -1;
        m->err = k->group_err;
        k->group_err = 0;
        k->c->events++;
        *out = m;
        return 1;
    }
    if (k->ncps == 0)
        return 0;
    if (k->rr >= k->ncps)
        k->rr = 0;
    if (k->rr_streak >= RR_STREAK) {
        k->rr = (k->rr + 1) % k->ncps;
        k->rr_streak = 0;
    }
    for (size_t i = 0; i < k->ncps; i++) {
        size_t idx = (k->rr + i) % k->ncps;
        if (cp_next(k, k->cps[idx])) {
            if (idx != k->rr) {
                k->rr = idx;
                k->rr_streak = 0;
            }
            k->rr_streak++;
            k->c->events++;
            *out = &k->msg;
            return 1;
        }
    }
    return 0;
}

/* ------------------------------ requests ------------------------------ */

/* Which partitions (and at which epoch) a request was about. */
typedef struct bk_creq_part {
    bk_topic *t;
    int32_t part;
    uint64_t epoch;
} bk_creq_part;

typedef struct bk_creq {
    bk_cons *k;
    int32_t broker;
    uint32_t n;
    bk_creq_part parts[];
} bk_creq;

/* The cp a request entry still refers to, or NULL when it was unassigned
 * or seeked since. */
static bk_cp *creq_cp(const bk_creq_part *e)
{
    bk_cp *cp = e->part < e->t->nparts ? e->t->parts[e->part].cp : NULL;
    return cp && cp->epoch == e->epoch ? cp : NULL;
}

static void busy_set(bk_cons *k, int32_t broker, bool on)
{
    for (size_t i = 0; i < k->nbusy; i++) {
        if (k->fetch_busy[i] == broker) {
            if (!on)
                k->fetch_busy[i] = k->fetch_busy[--k->nbusy];
            return;
        }
    }
    if (!on)
        return;
    if (k->nbusy == k->capbusy) {
        size_t cap = k->capbusy ? k->capbusy * 2 : 8;
        int32_t *v = realloc(k->fetch_busy, cap * sizeof *v);
        if (!v)
            return; /* then it is not tracked: at worst two fetches */
        k->fetch_busy = v;
        k->capbusy = cap;
    }
    k->fetch_busy[k->nbusy++] = broker;
}

static bool busy(const bk_cons *k, int32_t broker)
{
    for (size_t i = 0; i < k->nbusy; i++)
        if (k->fetch_busy[i] == broker)
            return true;
    return false;
}

/* A retriable failure of cp's fetch or lookup: back off, maybe refresh. */
static void cp_retry_later(bk_cons *k, bk_cp *cp, int err, int64_t now)
{
    cp->backoff_until = now + k->retry_backoff_ms;
    if (brook_client_md_error(err))
        brook_client_md_refresh(k->c);
}

static void cp_stop(bk_cp *cp, int err)
{
    cp->state = BK_CP_STOPPED;
    cp->pending_err = err;
}

void bk_cons_cp_stop(bk_cp *cp, int err)
{
    cp_stop(cp, err);
}

/* Handles one partition of a Fetch answer. */
static void fetch_part(bk_cons *k, bk_cp *cp, Brook__FetchPartitionData *pd,
                       int64_t now)
{
    int err = pd->error_code;
    if (err == BK_ERR_OFFSET_OUT_OF_RANGE) {
        brook_client_set_error(k->c, "offset %lld is out of range for %s-%d",
                               (long long)cp->fetch_pos, cp->t->name, cp->part);
        if (k->oor_reset != 0 && !cp->head && !cp->it_on)
            cp_seek(k, cp, k->oor_reset, true); /* auto.offset.reset */
        else if (k->oor_reset == 0)
            cp_stop(cp, err);
        else /* records before it are still buffered: handed out first,
                then the next fetch sees the error again */
            cp->backoff_until = now + k->retry_backoff_ms;
        return;
    }
    if (err != 0) {
        if (bk_err_retriable(err))
            cp_retry_later(k, cp, err, now);
        else
            cp_stop(cp, err);
        return;
    }
    cp->hw = pd->high_watermark;
    cp->hw_fresh = true;
    if (pd->records.len == 0)
        return;
    size_t need;
    int64_t next = cp->fetch_pos;
    size_t n = bk_cons_complete_prefix(pd->records.data, pd->records.len, &next,
                                       &need);
    if (n == 0) {
        /* a first header that does not parse, or that claims more than any
         * fetch can ask for, would be fetched again and again forever:
         * stop with an error (the application may seek past it) */
        bk_batch_header h;
        if (need > (size_t)INT32_MAX ||
            (need == 0 && bk_batch_parse_header(pd->records.data,
                                                pd->records.len, &h) < 0)) {
            brook_client_set_error(
                k->c, "corrupt batch at offset %lld of %s-%d",
                (long long)cp->fetch_pos, cp->t->name, cp->part);
            cp_stop(cp, BK_ERR_INVALID_MSG);
            return;
        }
        /* the next batch is bigger than what we asked for: ask for enough
         * next time (the broker may return just a part of it) */
        if (need > (size_t)cp->max_bytes && need <= (size_t)INT32_MAX)
            cp->max_bytes = (int32_t)need;
        else if (need == 0 && cp->max_bytes <= INT32_MAX / 2)
            cp->max_bytes *= 2;
        return;
    }
    bk_cchunk *ch = calloc(1, sizeof *ch);
    if (!ch) {
        cp_retry_later(k, cp, 0, now);
        return;
    }
    /* take the buffer protobuf-c allocated instead of copying it */
    ch->data = pd->records.data;
    ch->len = n;
    pd->records.data = NULL;
    pd->records.len = 0;
    if (cp->tail)
        cp->tail->next = ch;
    else
        cp->head = ch;
    cp->tail = ch;
    cp->buffered += n;
    cp->fetch_pos = next;
}

static void fetch_done(bk_conn *conn, int err, Brook__Response *resp, void *arg)
{
    (void)conn;
    bk_creq *rq = arg;
    bk_cons *k = rq->k;
    int64_t now = bk_clock_mono_ms();
    busy_set(k, rq->broker, false);
    if (!err && resp && resp->header->error_code)
        err = resp->header->error_code;
    if (!err && (!resp || resp->body_case != BROOK__RESPONSE__BODY_FETCH))
        err = BK_ERR_UNKNOWN;
    if (!err && resp->fetch->error_code)
        err = resp->fetch->error_code;
    for (uint32_t i = 0; i < rq->n; i++) {
        bk_cp *cp = creq_cp(&rq->parts[i]);
        if (!cp)
            continue;
        cp->fetching = false;
        if (err) {
            cp_retry_later(k, cp, err, now);
            continue;
        }
        Brook__FetchPartitionData *pd = NULL;
        Brook__FetchResponse *fr = resp->fetch;
        for (size_t ti = 0; ti < fr->n_responses && !pd; ti++) {
            Brook__FetchableTopicResponse *tr = fr->responses[ti];
            if (!tr->topic || strcmp(tr->topic, cp->t->name) != 0)
                continue;
            for (size_t pi = 0; pi < tr->n_partitions; pi++)
                if (tr->partitions[pi]->partition_index == cp->part)
                    pd = tr->partitions[pi];
        }
        if (pd)
            fetch_part(k, cp, pd, now);
        /* a partition the answer left out is simply fetched again */
    }
    free(rq);
}

static void list_done(bk_conn *conn, int err, Brook__Response *resp, void *arg)
{
    (void)conn;
    bk_creq *rq = arg;
    bk_cons *k = rq->k;
    int64_t now = bk_clock_mono_ms();
    if (!err && resp && resp->header->error_code)
        err = resp->header->error_code;
    if (!err &&
        (!resp || resp->body_case != BROOK__RESPONSE__BODY_LIST_OFFSETS))
        err = BK_ERR_UNKNOWN;
    for (uint32_t i = 0; i < rq->n; i++) {
        bk_cp *cp = creq_cp(&rq->parts[i]);
        if (!cp || cp->state != BK_CP_LISTING)
            continue;
        cp->state = BK_CP_RESET;
        if (err) {
            cp_retry_later(k, cp, err, now);
            continue;
        }
        const Brook__ListOffsetsPartitionResponse *pr = NULL;
        const Brook__ListOffsetsResponse *lr = resp->list_offsets;
        for (size_t ti = 0; ti < lr->n_topics && !pr; ti++) {
            const Brook__ListOffsetsTopicResponse *tr = lr->topics[ti];
            if (!tr->name || strcmp(tr->name, cp->t->name) != 0)
                continue;
            for (size_t pi = 0; pi < tr->n_partitions; pi++)
                if (tr->partitions[pi]->partition_index == cp->part)
                    pr = tr->partitions[pi];
        }
        if (!pr) {
            cp_retry_later(k, cp, 0, now);
        } else if (pr->error_code) {
            if (bk_err_retriable(pr->error_code))
                cp_retry_later(k, cp, pr->error_code, now);
            else
                cp_stop(cp, pr->error_code);
        } else if (pr->offset < 0) {
            /* no record at or after the timestamp: Kafka's consumer then
             * has no offset; seeking lands at the end, where the next
             * record (necessarily later) will appear */
            cp->reset_ts = BROOK_OFFSET_END;
        } else {
            cp->state = BK_CP_FETCHING;
            cp->position = cp->fetch_pos = pr->offset;
            cp->pos_known = true;
            cp->eof_sent = false;
        }
    }
    free(rq);
}

static int cmp_cp_leader(const void *a, const void *b)
{
    const bk_cp *x = *(bk_cp *const *)a, *y = *(bk_cp *const *)b;
    int32_t lx = x->t->parts[x->part].leader, ly = y->t->parts[y->part].leader;
    return lx < ly ? -1 : lx > ly;
}

static int cmp_cp_topic(const void *a, const void *b)
{
    const bk_cp *x = *(bk_cp *const *)a, *y = *(bk_cp *const *)b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->part < y->part ? -1 : x->part > y->part;
}

/* Builds and sends one ListOffsets or Fetch request for cps[0..n), all led
 * by `broker`.  Returns 0 when sent. */
static int send_for(bk_cons *k, bool fetch, int32_t broker, bk_cp **cps,
                    uint32_t n, int64_t now)
{
    bk_conn *conn = brook_client_ready_conn(k->c, broker);
    if (!conn)
        return -BK_EIO;
    bk_creq *rq = calloc(1, sizeof *rq + n * sizeof rq->parts[0]);
    /* one topic entry per topic: sort the slice by topic, then each run
     * of a topic shares an entry whose partitions are consecutive in pp */
    qsort(cps, n, sizeof *cps, cmp_cp_topic);
    void **tp = calloc(n, sizeof(void *)), **pp = calloc(n, sizeof(void *));
    Brook__FetchTopic *ft = fetch ? calloc(n, sizeof *ft) : NULL;
    Brook__FetchPartition *fp = fetch ? calloc(n, sizeof *fp) : NULL;
    Brook__ListOffsetsTopic *lt = fetch ? NULL : calloc(n, sizeof *lt);
    Brook__ListOffsetsPartition *lp = fetch ? NULL : calloc(n, sizeof *lp);
    int rc = -BK_ENOMEM;
    size_t nt = 0;
    if (!rq || !tp || !pp || (fetch && (!ft || !fp)) ||
        (!fetch && (!lt || !lp)))
        goto out;
    for (uint32_t i = 0; i < n; i++) {
        bk_cp *cp = cps[i];
        bool new_topic = i == 0 || cps[i - 1]->t != cp->t;
        rq->parts[i] = (bk_creq_part){cp->t, cp->part, cp->epoch};
        if (fetch) {
            brook__fetch_partition__init(&fp[i]);
            fp[i].partition = cp->part;
            fp[i].current_leader_epoch = -1;
            fp[i].fetch_offset = cp->fetch_pos;
            fp[i].log_start_offset = -1;
            fp[i].partition_max_bytes = cp->max_bytes;
            pp[i] = &fp[i];
            if (new_topic) {
                brook__fetch_topic__init(&ft[nt]);
                ft[nt].topic = cp->t->name;
                ft[nt].partitions = (Brook__FetchPartition **)&pp[i];
                tp[nt] = &ft[nt];
                nt++;
            }
            ft[nt - 1].n_partitions++;
        } else {
            brook__list_offsets_partition__init(&lp[i]);
            lp[i].partition_index = cp->part;
            lp[i].current_leader_epoch = -1;
            lp[i].timestamp = cp->reset_ts;
            pp[i] = &lp[i];
            if (new_topic) {
                brook__list_offsets_topic__init(&lt[nt]);
                lt[nt].name = cp->t->name;
                lt[nt].partitions = (Brook__ListOffsetsPartition **)&pp[i];
                tp[nt] = &lt[nt];
                nt++;
            }
            lt[nt - 1].n_partitions++;
        }
    }
    rq->k = k;
    rq->broker = broker;
    rq->n = n;
    Brook__RequestHeader hdr = BROOK__REQUEST_HEADER__INIT;
    Brook__Request req = BROOK__REQUEST__INIT;
    Brook__FetchRequest fr = BROOK__FETCH_REQUEST__INIT;
    Brook__ListOffsetsRequest lr = BROOK__LIST_OFFSETS_REQUEST__INIT;
    req.header = &hdr;
    int64_t timeout = k->request_timeout_ms;
    if (fetch) {
        hdr.api_key = BK_API_FETCH;
        fr.replica_id = -1;
        fr.max_wait_ms = k->max_wait_ms;
        fr.min_bytes = k->min_bytes;
        fr.max_bytes = k->max_bytes;
        fr.n_topics = nt;
        fr.topics = (Brook__FetchTopic **)tp;
        req.body_case = BROOK__REQUEST__BODY_FETCH;
        req.fetch = &fr;
        timeout += k->max_wait_ms; /* the broker may hold it that long */
    } else {
        hdr.api_key = BK_API_LIST_OFFSETS;
        lr.replica_id = -1;
        lr.n_topics = nt;
        lr.topics = (Brook__ListOffsetsTopic **)tp;
        req.body_case = BROOK__REQUEST__BODY_LIST_OFFSETS;
        req.list_offsets = &lr;
    }
    rc = bk_conn_send(conn, &req, true, timeout, now,
                      fetch ? fetch_done : list_done, rq);
    if (rc == 0) {
        rq = NULL;
        for (uint32_t i = 0; i < n; i++) {
            if (fetch)
                cps[i]->fetching = true;
            else
                cps[i]->state = BK_CP_LISTING;
        }
        if (fetch)
            busy_set(k, broker, true);
    }
out:
    free(rq);
    free(tp);
    free(pp);
    free(ft);
    free(fp);
    free(lt);
    free(lp);
    return rc;
}

/* Sends one request per leader for the candidates cand[0..n). */
static void send_grouped(bk_cons *k, bool fetch, bk_cp **cand, size_t n,
                         int64_t now)
{
    qsort(cand, n, sizeof *cand, cmp_cp_leader);
    size_t i = 0;
    while (i < n) {
        int32_t leader = cand[i]->t->parts[cand[i]->part].leader;
        size_t j = i;
        while (j < n && cand[j]->t->parts[cand[j]->part].leader == leader)
            j++;
        if (!fetch || !busy(k, leader))
            send_for(k, fetch, leader, &cand[i], (uint32_t)(j - i), now);
        i = j;
    }
}

int64_t bk_cons_service(bk_cons *k, int64_t now)
{
    if (k->ncps == 0)
        return INT64_MAX;
    int64_t wake = INT64_MAX;
    bk_cp *stack[64], **list = stack;
    if (k->ncps > 64 && !(list = malloc(k->ncps * sizeof *list)))
        return now + 10; /* try again shortly */
    bool need_md = false;

    for (int pass = 0; pass < 2; pass++) {
        bool fetch = pass == 1;
        size_t n = 0;
        for (size_t i = 0; i < k->ncps; i++) {
            bk_cp *cp = k->cps[i];
            bool due = fetch ? cp->state == BK_CP_FETCHING && !cp->fetching &&
                                   !cp->paused &&
                                   cp->buffered < (size_t)cp->max_bytes
                             : cp->state == BK_CP_RESET;
            if (!due)
                continue;
            if (now < cp->backoff_until) {
                if (cp->backoff_until < wake)
                    wake = cp->backoff_until;
                continue;
            }
            if (!bk_md_part_available(cp->t, cp->part)) {
                need_md = true;
                /* a partition the cluster does not have: the application
                 * hears it once per episode; fetching resumes if it
                 * appears (a topic being created) */
                bk_topic *t = cp->t;
                if (t->known && !cp->unknown_sent &&
                    (t->err == BK_ERR_UNKNOWN_TOPIC_OR_PART ||
                     (t->err == 0 && cp->part >= t->md_nparts))) {
                    cp->unknown_sent = true;
                    cp->pending_err = BK_ERR_UNKNOWN_TOPIC_OR_PART;
                }
                continue;
            }
            cp->unknown_sent = false;
            list[n++] = cp;
        }
        if (n)
            send_grouped(k, fetch, list, n, now);
    }
    if (need_md)
        brook_client_md_refresh(k->c);
    if (list != stack)
        free(list);
    return wake;
}
