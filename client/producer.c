/*
 * producer.c -- accumulation, sending, retries and delivery reports (see
 * producer.h).
 */
#include "client/producer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "proto/protocol.h"

/* ------------------------------ decisions ------------------------------ */

size_t bk_prod_record_size(int32_t key_len, int32_t value_len,
                           const brook_header *headers, int header_count)
{
    /* length, attributes, timestamp delta, offset delta, key and value
     * lengths, header count: at most 5 + 1 + 10 + 5 + 5 + 5 + 5 bytes */
    size_t n = 36;
    if (key_len > 0)
        n += (size_t)key_len;
    if (value_len > 0)
        n += (size_t)value_len;
    for (int i = 0; i < header_count; i++) {
        n += 10 + headers[i].key_len;
        if (headers[i].value_len > 0)
            n += (size_t)headers[i].value_len;
    }
    return n;
}

bool bk_prod_needs_new_batch(int32_t count, size_t open_bytes, size_t rec_bytes,
                             size_t batch_size)
{
    return count > 0 && open_bytes + rec_bytes > batch_size;
}

bool bk_prod_should_close(int32_t count, size_t open_bytes, int64_t open_since,
                          int64_t now, int64_t linger_ms, size_t batch_size,
                          bool flushing, int64_t *wake_at)
{
    if (wake_at)
        *wake_at = INT64_MAX;
    if (count == 0)
        return false;
    if (flushing || open_bytes >= batch_size || now - open_since >= linger_ms)
        return true;
    if (wake_at)
        *wake_at = open_since + linger_ms;
    return false;
}

bool bk_prod_may_retry(int err, int attempts, int retries, int64_t created_ms,
                       int64_t delivery_timeout_ms, int64_t now)
{
    return bk_err_retriable(err) && attempts <= retries &&
           now < created_ms + delivery_timeout_ms;
}

/* ------------------------------ life ------------------------------ */

int bk_prod_new(brook_client *c, bk_prod **out)
{
    bk_prod *p = calloc(1, sizeof *p);
    if (!p)
        return -BK_ENOMEM;
    const brook_conf *cf = c->conf;
    p->c = c;
    p->linger_ms = brook_conf_int(cf, BROOK_CK_LINGER_MS);
    p->retry_backoff_ms = brook_conf_int(cf, BROOK_CK_RETRY_BACKOFF_MS);
    p->request_timeout_ms = brook_conf_int(cf, BROOK_CK_REQUEST_TIMEOUT_MS);
    p->delivery_timeout_ms = brook_conf_int(cf, BROOK_CK_DELIVERY_TIMEOUT_MS);
    p->batch_size = (size_t)brook_conf_int(cf, BROOK_CK_BATCH_SIZE);
    p->max_request_size = (size_t)brook_conf_int(cf, BROOK_CK_MAX_REQUEST_SIZE);
    p->buffer_memory = (size_t)brook_conf_int(cf, BROOK_CK_BUFFER_MEMORY);
    p->acks = (int)brook_conf_int(cf, BROOK_CK_ACKS);
    p->codec = (int)brook_conf_int(cf, BROOK_CK_COMPRESSION_TYPE);
    p->retries = (int)brook_conf_int(cf, BROOK_CK_RETRIES);
    p->max_in_flight = (uint32_t)brook_conf_int(cf, BROOK_CK_MAX_IN_FLIGHT);
    p->dr_cb = cf->dr_cb;
    p->dr_opaque = cf->dr_opaque;
    *out = p;
    return 0;
}

static void batch_free(bk_pbatch *b)
{
    bk_buf_free(&b->data);
    free(b->opaques);
    free(b);
}

static void precord_free(bk_precord *r)
{
    free(r->blob);
    free(r);
}

void bk_prod_free(bk_prod *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->npqs; i++) {
        bk_pq *q = p->pqs[i];
        bk_pbatch *b = q->head;
        while (b) {
            bk_pbatch *n = b->next;
            batch_free(b);
            b = n;
        }
        if (q->inflight)
            batch_free(q->inflight);
        bk_batch_builder_free(&q->b);
        free(q->opq);
        q->t->parts[q->part].pq = NULL;
        free(q);
    }
    free(p->pqs);
    bk_pbatch *b = p->failed_head;
    while (b) {
        bk_pbatch *n = b->next;
        batch_free(b);
        b = n;
    }
    bk_md *md = &p->c->md;
    for (size_t i = 0; i < md->ntopics; i++) {
        bk_topic *t = md->topics[i];
        if (!t->pt)
            continue;
        bk_precord *r = t->pt->pend_head;
        while (r) {
            bk_precord *n = r->next;
            precord_free(r);
            r = n;
        }
        free(t->pt);
        t->pt = NULL;
    }
    free(p);
}

static bk_ptopic *pt_get(bk_topic *t)
{
    if (!t->pt) {
        t->pt = calloc(1, sizeof *t->pt);
        if (t->pt) {
            /* seed from the topic and the clock: clients started together
             * should not all stick to the same partition */
            uint64_t seed =
                (uint64_t)bk_clock_mono_ns() ^ (uint64_t)(uintptr_t)t;
            bk_sticky_init(&t->pt->sticky, seed);
        }
    }
    return t->pt;
}

static bk_pq *pq_get(bk_prod *p, bk_topic *t, int32_t part)
{
    assert(part >= 0 && part < t->nparts);
    bk_pq *q = t->parts[part].pq;
    if (q)
        return q;
    if (p->npqs == p->cappqs) {
        size_t cap = p->cappqs ? p->cappqs * 2 : 16;
        bk_pq **v = realloc(p->pqs, cap * sizeof *v);
        if (!v)
            return NULL;
        p->pqs = v;
        p->cappqs = cap;
    }
    q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    if (bk_batch_builder_init(&q->b, p->codec) != 0) {
        free(q);
        return NULL;
    }
    q->t = t;
    q->part = part;
    t->parts[part].pq = q;
    p->pqs[p->npqs++] = q;
    return q;
}

/* ------------------------------ reports ------------------------------ */

/* Reports every record of b (offsets base, base+1... on success; -1 when
 * base is -1) and frees b. */
static void report(bk_prod *p, bk_pbatch *b, int err, int64_t base)
{
    brook_dr dr = {
        .topic = b->t->name,
        .partition = b->part,
        .err = err,
    };
    size_t count = (size_t)b->count;
    assert(p->outq >= count && p->outq_bytes >= b->bytes);
    p->outq -= count;
    p->outq_bytes -= b->bytes;
    p->reports += count;
    p->c->events += count;
    if (p->dr_cb) {
        for (int32_t i = 0; i < b->count; i++) {
            dr.offset = err == 0 && base >= 0 ? base + i : -1;
            dr.opaque = b->opaques[i];
            p->dr_cb(p->c, &dr, p->dr_opaque);
        }
    }
    batch_free(b);
}

/* Queues b for a failure report at the next service pass (reports are
 * never made inside brook_produce()). */
static void defer_failure(bk_prod *p, bk_pbatch *b, int err)
{
    b->err = err;
    b->next = NULL;
    if (p->failed_tail)
        p->failed_tail->next = b;
    else
        p->failed_head = b;
    p->failed_tail = b;
}

/* A one-record failure report for a record that never reached a batch. */
static int fail_record(bk_prod *p, bk_topic *t, int32_t part, void *opaque,
                       size_t bytes, int err)
{
    bk_pbatch *b = calloc(1, sizeof *b);
    if (!b || !(b->opaques = malloc(sizeof *b->opaques))) {
        free(b);
        return -BK_ENOMEM;
    }
    b->count = 1;
    b->opaques[0] = opaque;
    b->bytes = bytes;
    b->t = t;
    b->part = part;
    defer_failure(p, b, err);
    return 0;
}

/* ------------------------------ accumulation ------------------------------ */

/* Closes the open batch of q into its queue (or the failure queue). */
static void pq_close(bk_prod *p, bk_pq *q)
{
    if (q->b.count == 0)
        return;
    bk_pbatch *b = calloc(1, sizeof *b);
    int rc = b ? bk_batch_builder_finish(&q->b, &b->data) : -BK_ENOMEM;
    if (!b) {
        /* cannot even say so: drop the records' accounting, keep going */
        BK_ERROR("client", "out of memory closing a batch of %s-%d", q->t->name,
                 q->part);
        p->outq -= (size_t)q->b.count;
        p->outq_bytes -= q->open_bytes;
        bk_batch_builder_reset(&q->b);
        q->open_bytes = 0;
        return;
    }
    b->count = q->b.count;
    b->opaques = q->opq;
    b->bytes = q->open_bytes;
    b->created_ms = q->open_since;
    b->t = q->t;
    b->part = q->part;
    q->opq = NULL;
    q->opq_cap = 0;
    q->open_bytes = 0;
    bk_batch_builder_reset(&q->b);
    if (rc != 0) {
        defer_failure(p, b,
                      rc == -BK_ETOOBIG ? BK_ERR_MSG_SIZE_TOO_LARGE
                                        : BK_ERR_UNKNOWN);
    } else {
        if (q->tail)
            q->tail->next = b;
        else
            q->head = b;
        q->tail = b;
        q->nqueued++;
    }
    /* KIP-480: the sticky partition moves on once its batch is closed */
    bk_topic *t = q->t;
    if (t->pt)
        bk_sticky_batch_closed(&t->pt->sticky, q->part, t->md_nparts, t->avail,
                               t->navail);
}

/* Encodes one record into partition q's open batch. */
static int pq_append(bk_prod *p, bk_pq *q, const void *key, int32_t key_len,
                     const void *value, int32_t value_len,
                     const brook_header *headers, int header_count, int64_t ts,
                     void *opaque, size_t bytes, int64_t now)
{
    if (bk_prod_needs_new_batch(q->b.count, q->open_bytes, bytes,
                                p->batch_size))
        pq_close(p, q);
    if (q->b.count == q->opq_cap) {
        int32_t cap = q->opq_cap ? q->opq_cap * 2 : 64;
        void **v = realloc(q->opq, (size_t)cap * sizeof *v);
        if (!v)
            return -BK_ENOMEM;
        q->opq = v;
        q->opq_cap = cap;
    }
    /* brook_header and bk_rec_header have the same fields; convert anyway
     * so that the two can evolve separately */
    bk_rec_header stack_hdrs[8], *hdrs = stack_hdrs;
    if (header_count > 8 &&
        !(hdrs = malloc((size_t)header_count * sizeof *hdrs)))
        return -BK_ENOMEM;
    for (int i = 0; i < header_count; i++) {
        hdrs[i].key = headers[i].key;
        hdrs[i].key_len = headers[i].key_len;
        hdrs[i].value = headers[i].value;
        hdrs[i].value_len = headers[i].value_len;
    }
    bk_record r = {
        .key = key,
        .key_len = key_len,
        .value = value,
        .value_len = value_len,
        .timestamp = ts,
        .headers = hdrs,
        .header_count = header_count,
    };
    int rc = bk_batch_builder_add(&q->b, &r);
    if (hdrs != stack_hdrs)
        free(hdrs);
    if (rc != 0)
        return rc;
    q->opq[q->b.count - 1] = opaque;
    if (q->b.count == 1)
        q->open_since = now;
    q->open_bytes += bytes;
    if (q->open_bytes >= p->batch_size)
        pq_close(p, q);
    return 0;
}

/* Chooses the partition of a record for a topic whose partitions are
 * known (Kafka's default partitioner, partitioner.h). */
static int32_t choose_partition(bk_topic *t, int32_t partition, const void *key,
                                int32_t key_len)
{
    if (partition >= 0)
        return partition;
    if (key_len >= 0)
        return bk_part_for_key(key, (size_t)key_len, t->md_nparts);
    return bk_sticky_partition(&t->pt->sticky, t->md_nparts, t->avail,
                               t->navail);
}

/* Partitions and appends a record of a known topic.  A partition beyond
 * the topic's count becomes a deferred UNKNOWN_TOPIC_OR_PART report. */
static int place(bk_prod *p, bk_topic *t, int32_t partition, const void *key,
                 int32_t key_len, const void *value, int32_t value_len,
                 const brook_header *headers, int header_count, int64_t ts,
                 void *opaque, size_t bytes, int64_t now)
{
    int32_t part = choose_partition(t, partition, key, key_len);
    if (part >= t->md_nparts)
        return fail_record(p, t, part, opaque, bytes,
                           BK_ERR_UNKNOWN_TOPIC_OR_PART);
    bk_pq *q = pq_get(p, t, part);
    if (!q)
        return -BK_ENOMEM;
    return pq_append(p, q, key, key_len, value, value_len, headers,
                     header_count, ts, opaque, bytes, now);
}

/* Copies a record into the topic's pending list. */
static int pend(bk_ptopic *pt, int32_t partition, const void *key,
                int32_t key_len, const void *value, int32_t value_len,
                const brook_header *headers, int header_count, int64_t ts,
                void *opaque, size_t bytes, int64_t now)
{
    bk_precord *r = calloc(1, sizeof *r);
    if (!r)
        return -BK_ENOMEM;
    size_t blob = (size_t)header_count * sizeof(brook_header);
    blob += key_len > 0 ? (size_t)key_len : 0;
    blob += value_len > 0 ? (size_t)value_len : 0;
    for (int i = 0; i < header_count; i++)
        blob += headers[i].key_len +
                (headers[i].value_len > 0 ? (size_t)headers[i].value_len : 0);
    r->blob = malloc(blob ? blob : 1);
    if (!r->blob) {
        free(r);
        return -BK_ENOMEM;
    }
    uint8_t *w = r->blob;
    r->headers = (brook_header *)(void *)w;
    w += (size_t)header_count * sizeof(brook_header);
    r->key_len = key_len;
    if (key_len > 0) {
        memcpy(w, key, (size_t)key_len);
        r->key = w;
        w += key_len;
    } else if (key_len == 0) {
        r->key = w; /* empty, not null */
    }
    r->value_len = value_len;
    if (value_len > 0) {
        memcpy(w, value, (size_t)value_len);
        r->value = w;
        w += value_len;
    } else if (value_len == 0) {
        r->value = w;
    }
    for (int i = 0; i < header_count; i++) {
        brook_header *h = &r->headers[i];
        h->key = (const char *)w;
        h->key_len = headers[i].key_len;
        memcpy(w, headers[i].key, headers[i].key_len);
        w += headers[i].key_len;
        h->value_len = headers[i].value_len;
        h->value = headers[i].value_len >= 0 ? w : NULL;
        if (headers[i].value_len > 0) {
            memcpy(w, headers[i].value, (size_t)headers[i].value_len);
            w += headers[i].value_len;
        }
    }
    r->header_count = header_count;
    r->partition = partition;
    r->timestamp = ts;
    r->opaque = opaque;
    r->bytes = bytes;
    r->created_ms = now;
    if (pt->pend_tail)
        pt->pend_tail->next = r;
    else
        pt->pend_head = r;
    pt->pend_tail = r;
    pt->npend++;
    return 0;
}

int bk_prod_produce(bk_prod *p, const char *topic, int32_t partition,
                    const void *key, int32_t key_len, const void *value,
                    int32_t value_len, const brook_header *headers,
                    int header_count, int64_t timestamp, void *opaque)
{
    if (!topic || !bk_md_topic_name_valid(topic) || partition < -1 ||
        key_len < -1 || value_len < -1 || (key_len > 0 && !key) ||
        (value_len > 0 && !value) || header_count < 0 ||
        (header_count > 0 && !headers) || timestamp < -1)
        return -BK_EINVAL;
    for (int i = 0; i < header_count; i++) {
        if (headers[i].value_len < -1 ||
            (headers[i].key_len > 0 && !headers[i].key) ||
            (headers[i].value_len > 0 && !headers[i].value) ||
            headers[i].key_len > INT32_MAX)
            return -BK_EINVAL;
    }
    size_t bytes =
        bk_prod_record_size(key_len, value_len, headers, header_count);
    if (bytes + BK_BATCH_HEADER_SIZE > p->max_request_size)
        return -BK_ETOOBIG;
    /* one record always fits, so that a huge record cannot wedge the
     * producer */
    if (p->outq > 0 && p->outq_bytes + bytes > p->buffer_memory)
        return BK_AGAIN;

    brook_client *c = p->c;
    bool created;
    bk_topic *t = bk_md_topic_add(&c->md, topic, &created);
    if (!t)
        return -BK_ENOMEM;
    if (created)
        brook_client_md_refresh(c);
    bk_ptopic *pt = pt_get(t);
    if (!pt)
        return -BK_ENOMEM;
    int64_t ts =
        timestamp == BROOK_TIMESTAMP_NOW ? bk_clock_wall_ms() : timestamp;
    int64_t now = bk_clock_mono_ms();
    int rc;
    /* records wait behind earlier pending ones of the topic so that the
     * order of a partition is the order of the calls */
    if (t->known && t->err == 0 && t->md_nparts > 0 && pt->npend == 0)
        rc = place(p, t, partition, key, key_len, value, value_len, headers,
                   header_count, ts, opaque, bytes, now);
    else
        rc = pend(pt, partition, key, key_len, value, value_len, headers,
                  header_count, ts, opaque, bytes, now);
    if (rc != 0)
        return rc;
    p->outq++;
    p->outq_bytes += bytes;
    return 0;
}

/* ------------------------------ pending ------------------------------ */

static void drain_pending(bk_prod *p, bk_topic *t, int64_t now)
{
    bk_ptopic *pt = t->pt;
    bool usable = t->known && t->err == 0 && t->md_nparts > 0;
    bool hopeless = t->known && t->err != 0 && !bk_err_retriable(t->err);
    while (pt->pend_head) {
        bk_precord *r = pt->pend_head;
        int err = 0;
        if (usable) {
            if (place(p, t, r->partition, r->key, r->key_len, r->value,
                      r->value_len, r->headers, r->header_count, r->timestamp,
                      r->opaque, r->bytes, now) != 0)
                err = BK_ERR_UNKNOWN;
        } else if (hopeless) {
            err = t->err;
        } else if (now >= r->created_ms + p->delivery_timeout_ms) {
            err = t->known && t->err ? t->err : BK_ERR_REQUEST_TIMED_OUT;
        } else {
            break; /* wait for metadata; later ones are younger */
        }
        if (err &&
            fail_record(p, t, r->partition, r->opaque, r->bytes, err) != 0) {
            p->outq--; /* cannot report: at least keep flush from hanging */
            p->outq_bytes -= r->bytes;
        }
        pt->pend_head = r->next;
        if (!pt->pend_head)
            pt->pend_tail = NULL;
        pt->npend--;
        precord_free(r);
    }
    if (pt->pend_head)
        brook_client_md_refresh(p->c);
}

/* ------------------------------ sending ------------------------------ */

/* A Produce request in flight: which partitions it carries. */
typedef struct bk_preq {
    bk_prod *p;
    uint32_t n;
    bk_pq *pqs[];
} bk_preq;

/* The outcome of pq's in-flight batch. */
static void pq_result(bk_prod *p, bk_pq *q, int err, int64_t base, int64_t now)
{
    bk_pbatch *b = q->inflight;
    assert(b);
    q->inflight = NULL;
    if (err == 0) {
        report(p, b, 0, base);
        return;
    }
    if (bk_prod_may_retry(err, b->attempts, p->retries, b->created_ms,
                          p->delivery_timeout_ms, now)) {
        BK_DEBUG("client", "retrying batch of %d records to %s-%d: %s",
                 b->count, q->t->name, q->part, bk_err_name(err));
        b->next = q->head;
        q->head = b;
        if (!q->tail)
            q->tail = b;
        q->nqueued++;
        q->backoff_until = now + p->retry_backoff_ms;
        if (brook_client_md_error(err))
            brook_client_md_refresh(p->c);
        return;
    }
    report(p, b, err, -1);
}

static void produce_done(bk_conn *conn, int err, Brook__Response *resp,
                         void *arg)
{
    (void)conn;
    bk_preq *rq = arg;
    bk_prod *p = rq->p;
    int64_t now = bk_clock_mono_ms();
    int all_err = err;
    if (!err && resp) {
        if (resp->header->error_code)
            all_err = resp->header->error_code;
        else if (resp->body_case != BROOK__RESPONSE__BODY_PRODUCE)
            all_err = BK_ERR_UNKNOWN;
    }
    for (uint32_t i = 0; i < rq->n; i++) {
        bk_pq *q = rq->pqs[i];
        if (all_err || !resp) {
            /* acks=0: done once written, no offset known */
            pq_result(p, q, all_err, -1, now);
            continue;
        }
        int perr = BK_ERR_UNKNOWN; /* a partition the answer forgot */
        int64_t base = -1;
        const Brook__ProduceResponse *pr = resp->produce;
        for (size_t ti = 0; ti < pr->n_responses; ti++) {
            const Brook__TopicProduceResponse *tr = pr->responses[ti];
            if (!tr->name || strcmp(tr->name, q->t->name) != 0)
                continue;
            for (size_t pi = 0; pi < tr->n_partition_responses; pi++) {
                const Brook__PartitionProduceResponse *ppr =
                    tr->partition_responses[pi];
                if (ppr->index == q->part) {
                    perr = ppr->error_code;
                    base = ppr->base_offset;
                }
            }
        }
        if (perr == 0 && base < 0)
            perr = BK_ERR_UNKNOWN; /* acks>=1 must tell the offset */
        pq_result(p, q, perr, base, now);
    }
    free(rq);
}

static int cmp_leader(const void *a, const void *b)
{
    const bk_pq *x = *(bk_pq *const *)a, *y = *(bk_pq *const *)b;
    int32_t lx = x->t->parts[x->part].leader, ly = y->t->parts[y->part].leader;
    return lx < ly ? -1 : lx > ly;
}

/* Sends the head batches of q[0..n) (all led by conn's broker) in one
 * Produce request.  On failure the batches stay queued. */
static int send_request(bk_prod *p, bk_conn *conn, bk_pq **q, uint32_t n,
                        int64_t now)
{
    bk_preq *rq = malloc(sizeof *rq + n * sizeof rq->pqs[0]);
    Brook__TopicProduceData *td = calloc(n, sizeof *td);
    Brook__TopicProduceData **tdp = calloc(n, sizeof *tdp);
    Brook__PartitionProduceData *pd = calloc(n, sizeof *pd);
    Brook__PartitionProduceData **pdp = calloc(n, sizeof *pdp);
    int rc = -BK_ENOMEM;
    if (!rq || !td || !tdp || !pd || !pdp)
        goto out;
    /* one TopicProduceData per topic: q is sorted by leader only, so
     * gather each topic's partitions together */
    uint32_t nt = 0, np = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool seen = false;
        for (uint32_t k = 0; k < i; k++)
            seen = seen || q[k]->t == q[i]->t;
        if (seen)
            continue;
        brook__topic_produce_data__init(&td[nt]);
        td[nt].name = q[i]->t->name;
        td[nt].partition_data = &pdp[np];
        for (uint32_t k = i; k < n; k++) {
            if (q[k]->t != q[i]->t)
                continue;
            brook__partition_produce_data__init(&pd[np]);
            pd[np].index = q[k]->part;
            pd[np].records.data = q[k]->head->data.data;
            pd[np].records.len = q[k]->head->data.len;
            pdp[np] = &pd[np];
            rq->pqs[np] = q[k];
            np++;
            td[nt].n_partition_data++;
        }
        tdp[nt] = &td[nt];
        nt++;
    }
    assert(np == n);
    Brook__ProduceRequest pr = BROOK__PRODUCE_REQUEST__INIT;
    pr.acks = p->acks;
    pr.timeout_ms = (int32_t)p->request_timeout_ms;
    pr.n_topic_data = nt;
    pr.topic_data = tdp;
    Brook__RequestHeader hdr = BROOK__REQUEST_HEADER__INIT;
    hdr.api_key = BK_API_PRODUCE;
    Brook__Request req = BROOK__REQUEST__INIT;
    req.header = &hdr;
    req.body_case = BROOK__REQUEST__BODY_PRODUCE;
    req.produce = &pr;
    rq->p = p;
    rq->n = n;
    rc = bk_conn_send(conn, &req, p->acks != 0, p->request_timeout_ms, now,
                      produce_done, rq);
    if (rc == 0) {
        rq = NULL; /* the callback frees it */
        for (uint32_t i = 0; i < n; i++) {
            bk_pq *x = q[i];
            bk_pbatch *b = x->head;
            x->head = b->next;
            if (!x->head)
                x->tail = NULL;
            x->nqueued--;
            b->next = NULL;
            b->attempts++;
            x->inflight = b;
        }
    }
out:
    free(rq);
    free(td);
    free(tdp);
    free(pd);
    free(pdp);
    return rc;
}

/* Sends the ready partitions cand[0..n) (sorted by leader). */
static void send_ready(bk_prod *p, bk_pq **cand, size_t n, int64_t now)
{
    size_t i = 0;
    while (i < n) {
        int32_t leader = cand[i]->t->parts[cand[i]->part].leader;
        size_t j = i;
        while (j < n && cand[j]->t->parts[cand[j]->part].leader == leader)
            j++;
        /* cand[i..j) share the leader: pack requests up to
         * max.request.size while the connection has room */
        while (i < j) {
            bk_conn *conn = brook_client_ready_conn(p->c, leader);
            if (!conn)
                break;
            size_t k = i, bytes = 0;
            while (k < j && (k == i || bytes + cand[k]->head->data.len <=
                                           p->max_request_size)) {
                bytes += cand[k]->head->data.len;
                k++;
            }
            if (send_request(p, conn, &cand[i], (uint32_t)(k - i), now) != 0)
                break;
            i = k;
        }
        i = j;
    }
}

int64_t bk_prod_service(bk_prod *p, int64_t now)
{
    int64_t wake = INT64_MAX;
    bk_md *md = &p->c->md;
    for (size_t i = 0; i < md->ntopics; i++) {
        bk_topic *t = md->topics[i];
        if (t->pt && t->pt->pend_head) {
            drain_pending(p, t, now);
            if (t->pt->pend_head) {
                int64_t exp =
                    t->pt->pend_head->created_ms + p->delivery_timeout_ms;
                if (exp < wake)
                    wake = exp;
            }
        }
    }

    bk_pq *stack_cand[64], **cand = stack_cand;
    if (p->npqs > 64 && !(cand = malloc(p->npqs * sizeof *cand)))
        cand = stack_cand; /* degrade: consider only the first 64 */
    size_t ncand = 0, maxcand = cand == stack_cand ? 64 : p->npqs;
    bool need_md = false;
    for (size_t i = 0; i < p->npqs; i++) {
        bk_pq *q = p->pqs[i];
        int64_t w;
        if (bk_prod_should_close(q->b.count, q->open_bytes, q->open_since, now,
                                 p->linger_ms, p->batch_size, p->flushing, &w))
            pq_close(p, q);
        else if (w < wake)
            wake = w;
        if (!q->head || q->inflight)
            continue;
        /* batches waiting too long expire (REQUEST_TIMED_OUT, Kafka's
         * "Expiring N record(s)"); never while an older batch of the
         * partition is in flight, so reports stay in order */
        while (q->head && now >= q->head->created_ms + p->delivery_timeout_ms) {
            bk_pbatch *b = q->head;
            q->head = b->next;
            if (!q->head)
                q->tail = NULL;
            q->nqueued--;
            brook_client_set_error(p->c,
                                   "%d records for %s-%d expired before "
                                   "delivery",
                                   b->count, q->t->name, q->part);
            report(p, b, BK_ERR_REQUEST_TIMED_OUT, -1);
        }
        if (!q->head)
            continue;
        int64_t exp = q->head->created_ms + p->delivery_timeout_ms;
        if (exp < wake)
            wake = exp;
        if (now < q->backoff_until) {
            if (q->backoff_until < wake)
                wake = q->backoff_until;
            continue;
        }
        if (!bk_md_part_available(q->t, q->part)) {
            need_md = true;
            continue;
        }
        if (ncand < maxcand)
            cand[ncand++] = q;
    }
    if (need_md)
        brook_client_md_refresh(p->c);
    if (ncand > 0) {
        qsort(cand, ncand, sizeof *cand, cmp_leader);
        send_ready(p, cand, ncand, now);
    }
    if (cand != stack_cand)
        free(cand);

    while (p->failed_head) {
        bk_pbatch *b = p->failed_head;
        p->failed_head = b->next;
        if (!p->failed_head)
            p->failed_tail = NULL;
        report(p, b, b->err, -1);
    }
    return wake;
}
