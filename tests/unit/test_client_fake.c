/*
 * test_client_fake.c -- libbrook against an in-process fake broker: a
 * thread that speaks Brook's frames (Metadata, Produce, ListOffsets,
 * Fetch) over a loopback socket, keeps a log per partition, and can be
 * told to misbehave (answer NOT_LEADER_FOR_PARTITION, a fatal error, drop
 * the connection, never answer).  This checks the client's own logic --
 * partitioning, batching, ordering, retries, delivery reports, offsets,
 * seeks, EOF and error events -- exactly and quickly; the real broker is
 * exercised by the integration suites.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/brook.h"
#include "client/partitioner.h"
#include "common/batch.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/frame.h"
#include "tests/unit/cu_main.h"

/* ------------------------------ the fake ------------------------------ */

#define FAKE_PARTS 3
#define FAKE_CONNS 8

typedef struct fbatch {
    size_t pos, len;
    int64_t base, last;
} fbatch;

typedef struct fpart {
    bk_buf log;
    fbatch *b;
    size_t nb;
    int64_t next;
} fpart;

typedef struct fake {
    int lfd, port;
    pthread_t th;
    volatile int stop;
    pthread_mutex_t mu;
    fpart parts[FAKE_PARTS];
    /* counters */
    int md_requests, produce_requests, fetch_requests, list_requests;
    int corr_errors; /* correlation ids not increasing on a conn */
    /* misbehaviour for Produce on inject_part */
    int32_t inject_part;
    int inject_err, inject_count;   /* answer inject_err this many times */
    int drop_count;                 /* close the connection instead */
    int swallow;                    /* never answer Produce */
    int fetch_err, fetch_err_count; /* answer Fetch with fetch_err */
    /* when fetch_raw_len > 0: answer every Fetch of a valid partition
     * with these bytes (whatever the offset) and high watermark raw_hw */
    const uint8_t *fetch_raw;
    size_t fetch_raw_len;
    int64_t fetch_raw_hw;
} fake;

typedef struct fconn {
    int fd;
    bk_buf in;
    bk_frame_dec dec;
    int32_t last_corr;
} fconn;

static const char *TOPIC = "t";

static void send_resp(int fd, Brook__Response *r)
{
    bk_buf out = BK_BUF_INIT;
    bk_frame_encode_response(&out, r);
    size_t off = 0;
    while (off < out.len) {
        ssize_t n = send(fd, out.data + off, out.len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    bk_buf_free(&out);
}

static void fake_metadata(fake *f, int fd, Brook__Request *req)
{
    Brook__MetadataResponseBroker b = BROOK__METADATA_RESPONSE_BROKER__INIT;
    b.node_id = 1;
    b.host = "127.0.0.1";
    b.port = f->port;
    Brook__MetadataResponseBroker *bs[] = {&b};
    Brook__MetadataResponsePartition p[FAKE_PARTS], *pp[FAKE_PARTS];
    for (int i = 0; i < FAKE_PARTS; i++) {
        brook__metadata_response_partition__init(&p[i]);
        p[i].partition_index = i;
        p[i].leader_id = 1;
        pp[i] = &p[i];
    }
    size_t nt = req->metadata->n_topics;
    Brook__MetadataResponseTopic *t = calloc(nt + 1, sizeof *t);
    Brook__MetadataResponseTopic **tp = calloc(nt + 1, sizeof *tp);
    for (size_t i = 0; i < nt; i++) {
        brook__metadata_response_topic__init(&t[i]);
        t[i].name = req->metadata->topics[i]->name;
        if (strcmp(t[i].name, TOPIC) == 0) {
            t[i].n_partitions = FAKE_PARTS;
            t[i].partitions = pp;
        } else {
            t[i].error_code = BK_ERR_UNKNOWN_TOPIC_OR_PART;
        }
        tp[i] = &t[i];
    }
    Brook__MetadataResponse m = BROOK__METADATA_RESPONSE__INIT;
    m.n_brokers = 1;
    m.brokers = bs;
    m.n_topics = nt;
    m.topics = tp;
    Brook__ResponseHeader h = BROOK__RESPONSE_HEADER__INIT;
    h.correlation_id = req->header->correlation_id;
    h.api_key = req->header->api_key;
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.header = &h;
    r.body_case = BROOK__RESPONSE__BODY_METADATA;
    r.metadata = &m;
    send_resp(fd, &r);
    free(t);
    free(tp);
}

/* Appends the batches of records to partition p; its error code. */
static int fake_append(fpart *p, const uint8_t *data, size_t len, int64_t *base)
{
    size_t pos = 0;
    *base = p->next;
    while (pos < len) {
        bk_batch_header h;
        if (bk_batch_parse_header(data + pos, len - pos, &h) != 0 ||
            bk_batch_size(&h) > len - pos ||
            bk_batch_validate(data + pos, bk_batch_size(&h), 1 << 26, &h) != 0)
            return BK_ERR_INVALID_MSG;
        size_t sz = bk_batch_size(&h);
        size_t at = p->log.len;
        bk_buf_put(&p->log, data + pos, sz);
        bk_batch_set_base_offset(p->log.data + at, p->next);
        p->b = realloc(p->b, (p->nb + 1) * sizeof *p->b);
        p->b[p->nb++] =
            (fbatch){at, sz, p->next, p->next + h.last_offset_delta};
        p->next += h.last_offset_delta + 1;
        pos += sz;
    }
    return 0;
}

/* 1 when the connection must be dropped. */
static int fake_produce(fake *f, int fd, Brook__Request *req)
{
    Brook__ProduceRequest *pr = req->produce;
    f->produce_requests++;
    if (f->swallow)
        return 0;
    Brook__TopicProduceResponse *tr[4];
    Brook__PartitionProduceResponse pres[16], *pp[16];
    size_t np = 0, nt = 0;
    for (size_t ti = 0; ti < pr->n_topic_data && nt < 4; ti++) {
        Brook__TopicProduceData *td = pr->topic_data[ti];
        tr[nt] = calloc(1, sizeof **tr);
        brook__topic_produce_response__init(tr[nt]);
        tr[nt]->name = td->name;
        tr[nt]->partition_responses = &pp[np];
        for (size_t pi = 0; pi < td->n_partition_data && np < 16; pi++) {
            Brook__PartitionProduceData *pd = td->partition_data[pi];
            brook__partition_produce_response__init(&pres[np]);
            pres[np].index = pd->index;
            pres[np].base_offset = -1;
            if (pd->index == f->inject_part && f->drop_count > 0) {
                f->drop_count--;
                for (size_t i = 0; i <= nt; i++)
                    free(tr[i]);
                return 1;
            }
            if (pd->index == f->inject_part && f->inject_count > 0) {
                f->inject_count--;
                pres[np].error_code = f->inject_err;
            } else if (pd->index < 0 || pd->index >= FAKE_PARTS ||
                       strcmp(td->name, TOPIC) != 0) {
                pres[np].error_code = BK_ERR_UNKNOWN_TOPIC_OR_PART;
            } else {
                int64_t base;
                pres[np].error_code =
                    fake_append(&f->parts[pd->index], pd->records.data,
                                pd->records.len, &base);
                if (!pres[np].error_code)
                    pres[np].base_offset = base;
            }
            pp[np] = &pres[np];
            np++;
            tr[nt]->n_partition_responses++;
        }
        nt++;
    }
    if (pr->acks != 0) {
        Brook__ProduceResponse p = BROOK__PRODUCE_RESPONSE__INIT;
        p.n_responses = nt;
        p.responses = tr;
        Brook__ResponseHeader h = BROOK__RESPONSE_HEADER__INIT;
        h.correlation_id = req->header->correlation_id;
        h.api_key = req->header->api_key;
        Brook__Response r = BROOK__RESPONSE__INIT;
        r.header = &h;
        r.body_case = BROOK__RESPONSE__BODY_PRODUCE;
        r.produce = &p;
        send_resp(fd, &r);
    }
    for (size_t i = 0; i < nt; i++)
        free(tr[i]);
    return 0;
}

/* First offset with timestamp >= ts, or -1. */
static int64_t fake_offset_for_ts(fpart *p, int64_t ts)
{
    for (size_t i = 0; i < p->nb; i++) {
        bk_batch_iter it;
        if (bk_batch_iter_init(&it, p->log.data + p->b[i].pos, p->b[i].len,
                               1 << 26) != 0)
            continue;
        bk_record_view rv;
        while (bk_batch_iter_next(&it, &rv) == 1) {
            if (rv.timestamp >= ts) {
                bk_batch_iter_free(&it);
                return rv.offset;
            }
        }
        bk_batch_iter_free(&it);
    }
    return -1;
}

static void fake_list(fake *f, int fd, Brook__Request *req)
{
    f->list_requests++;
    Brook__ListOffsetsRequest *lr = req->list_offsets;
    size_t nt = lr->n_topics;
    Brook__ListOffsetsTopicResponse *t = calloc(nt, sizeof *t);
    Brook__ListOffsetsTopicResponse **tp = calloc(nt, sizeof *tp);
    Brook__ListOffsetsPartitionResponse *p = calloc(nt * 4 + 1, sizeof *p);
    Brook__ListOffsetsPartitionResponse **pp = calloc(nt * 4 + 1, sizeof *pp);
    size_t np = 0;
    for (size_t i = 0; i < nt; i++) {
        brook__list_offsets_topic_response__init(&t[i]);
        t[i].name = lr->topics[i]->name;
        t[i].partitions = &pp[np];
        for (size_t k = 0; k < lr->topics[i]->n_partitions && k < 4; k++) {
            Brook__ListOffsetsPartition *q = lr->topics[i]->partitions[k];
            brook__list_offsets_partition_response__init(&p[np]);
            p[np].partition_index = q->partition_index;
            p[np].timestamp = -1;
            if (q->partition_index < 0 || q->partition_index >= FAKE_PARTS) {
                p[np].error_code = BK_ERR_UNKNOWN_TOPIC_OR_PART;
            } else {
                fpart *fp = &f->parts[q->partition_index];
                p[np].offset = q->timestamp == -2 ? 0
                               : q->timestamp == -1
                                   ? fp->next
                                   : fake_offset_for_ts(fp, q->timestamp);
            }
            pp[np] = &p[np];
            np++;
            t[i].n_partitions++;
        }
        tp[i] = &t[i];
    }
    Brook__ListOffsetsResponse l = BROOK__LIST_OFFSETS_RESPONSE__INIT;
    l.n_topics = nt;
    l.topics = tp;
    Brook__ResponseHeader h = BROOK__RESPONSE_HEADER__INIT;
    h.correlation_id = req->header->correlation_id;
    h.api_key = req->header->api_key;
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.header = &h;
    r.body_case = BROOK__RESPONSE__BODY_LIST_OFFSETS;
    r.list_offsets = &l;
    send_resp(fd, &r);
    free(t);
    free(tp);
    free(p);
    free(pp);
}

static void fake_fetch(fake *f, int fd, Brook__Request *req)
{
    f->fetch_requests++;
    Brook__FetchRequest *fr = req->fetch;
    size_t nt = fr->n_topics;
    Brook__FetchableTopicResponse *t = calloc(nt, sizeof *t);
    Brook__FetchableTopicResponse **tp = calloc(nt, sizeof *tp);
    Brook__FetchPartitionData *p = calloc(nt * 4 + 1, sizeof *p);
    Brook__FetchPartitionData **pp = calloc(nt * 4 + 1, sizeof *pp);
    bk_buf *data = calloc(nt * 4 + 1, sizeof *data);
    size_t np = 0, total = 0;
    for (size_t i = 0; i < nt; i++) {
        brook__fetchable_topic_response__init(&t[i]);
        t[i].topic = fr->topics[i]->topic;
        t[i].partitions = &pp[np];
        for (size_t k = 0; k < fr->topics[i]->n_partitions && k < 4; k++) {
            Brook__FetchPartition *q = fr->topics[i]->partitions[k];
            brook__fetch_partition_data__init(&p[np]);
            p[np].partition_index = q->partition;
            if (q->partition < 0 || q->partition >= FAKE_PARTS) {
                p[np].error_code = BK_ERR_UNKNOWN_TOPIC_OR_PART;
            } else if (f->fetch_err_count > 0) {
                f->fetch_err_count--;
                p[np].error_code = f->fetch_err;
            } else if (f->fetch_raw_len > 0) {
                p[np].high_watermark = f->fetch_raw_hw;
                p[np].records.data = (uint8_t *)(uintptr_t)f->fetch_raw;
                p[np].records.len = f->fetch_raw_len;
                total += f->fetch_raw_len;
            } else {
                fpart *fp = &f->parts[q->partition];
                p[np].high_watermark = fp->next;
                if (q->fetch_offset > fp->next || q->fetch_offset < 0) {
                    p[np].error_code = BK_ERR_OFFSET_OUT_OF_RANGE;
                } else {
                    for (size_t b = 0; b < fp->nb; b++) {
                        if (fp->b[b].last < q->fetch_offset)
                            continue;
                        if (data[np].len > 0 &&
                            data[np].len + fp->b[b].len >
                                (size_t)q->partition_max_bytes)
                            break;
                        bk_buf_put(&data[np], fp->log.data + fp->b[b].pos,
                                   fp->b[b].len);
                    }
                    p[np].records.data = data[np].data;
                    p[np].records.len = data[np].len;
                    total += data[np].len;
                }
            }
            pp[np] = &p[np];
            np++;
            t[i].n_partitions++;
        }
        tp[i] = &t[i];
    }
    if (total == 0 && fr->max_wait_ms > 0) {
        /* a crude long poll: nothing can arrive meanwhile (one thread),
         * but the client must not spin */
        pthread_mutex_unlock(&f->mu);
        usleep((useconds_t)(fr->max_wait_ms > 30 ? 30 : fr->max_wait_ms) *
               1000);
        pthread_mutex_lock(&f->mu);
    }
    Brook__FetchResponse fresp = BROOK__FETCH_RESPONSE__INIT;
    fresp.n_responses = nt;
    fresp.responses = tp;
    Brook__ResponseHeader h = BROOK__RESPONSE_HEADER__INIT;
    h.correlation_id = req->header->correlation_id;
    h.api_key = req->header->api_key;
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.header = &h;
    r.body_case = BROOK__RESPONSE__BODY_FETCH;
    r.fetch = &fresp;
    send_resp(fd, &r);
    for (size_t i = 0; i < np; i++)
        bk_buf_free(&data[i]);
    free(data);
    free(t);
    free(tp);
    free(p);
    free(pp);
}

/* Handles the frames buffered on c; 1 to drop the connection. */
static int fake_serve(fake *f, fconn *c)
{
    const uint8_t *p;
    size_t n;
    int drop = 0;
    while (!drop && bk_frame_dec_next(&c->dec, &c->in, &p, &n) == 0) {
        Brook__Request *req;
        if (bk_frame_decode_request(p, n, &req) != 0)
            return 1;
        if (req->header->correlation_id <= c->last_corr)
            f->corr_errors++;
        c->last_corr = req->header->correlation_id;
        pthread_mutex_lock(&f->mu);
        switch (req->header->api_key) {
        case BK_API_METADATA:
            f->md_requests++;
            fake_metadata(f, c->fd, req);
            break;
        case BK_API_PRODUCE:
            drop = fake_produce(f, c->fd, req);
            break;
        case BK_API_LIST_OFFSETS:
            fake_list(f, c->fd, req);
            break;
        case BK_API_FETCH:
            fake_fetch(f, c->fd, req);
            break;
        default:
            drop = 1;
        }
        pthread_mutex_unlock(&f->mu);
        brook__request__free_unpacked(req, NULL);
    }
    bk_frame_dec_compact(&c->dec, &c->in);
    return drop;
}

static void *fake_main(void *arg)
{
    fake *f = arg;
    fconn conns[FAKE_CONNS];
    int nc = 0;
    while (!f->stop) {
        struct pollfd pf[FAKE_CONNS + 1];
        pf[0] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
        for (int i = 0; i < nc; i++)
            pf[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        if (poll(pf, (nfds_t)nc + 1, 20) <= 0)
            continue;
        if ((pf[0].revents & POLLIN) && nc < FAKE_CONNS) {
            int fd = accept(f->lfd, NULL, NULL);
            if (fd >= 0) {
                conns[nc] = (fconn){.fd = fd};
                bk_buf_init(&conns[nc].in);
                bk_frame_dec_init(&conns[nc].dec, 1 << 26);
                nc++;
            }
        }
        for (int i = 0; i < nc; i++) {
            if (!(pf[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) ||
                i + 1 > nc)
                continue;
            fconn *c = &conns[i];
            bk_buf_reserve(&c->in, 65536);
            ssize_t n =
                read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
            int drop = n <= 0;
            if (n > 0) {
                c->in.len += (size_t)n;
                drop = fake_serve(f, c);
            }
            if (drop) {
                close(c->fd);
                bk_buf_free(&c->in);
                conns[i] = conns[--nc];
                pf[i + 1] = pf[nc + 1];
                i--;
            }
        }
    }
    for (int i = 0; i < nc; i++) {
        close(conns[i].fd);
        bk_buf_free(&conns[i].in);
    }
    return NULL;
}

static fake *fake_start(void)
{
    fake *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->inject_part = -1;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(f->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(f->lfd, 16) != 0 ||
        getsockname(f->lfd, (struct sockaddr *)&a, &len) != 0)
        return NULL;
    f->port = ntohs(a.sin_port);
    pthread_create(&f->th, NULL, fake_main, f);
    return f;
}

static void fake_stop(fake *f)
{
    f->stop = 1;
    pthread_join(f->th, NULL);
    close(f->lfd);
    for (int i = 0; i < FAKE_PARTS; i++) {
        bk_buf_free(&f->parts[i].log);
        free(f->parts[i].b);
    }
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* Every record of partition p, in order: key and value as "k|v" strings
 * (null as "~"), offsets checked to be 0, 1, 2... */
static char **fake_records(fake *f, int part, size_t *n)
{
    pthread_mutex_lock(&f->mu);
    fpart *p = &f->parts[part];
    char **v = calloc((size_t)p->next + 1, sizeof *v);
    *n = 0;
    for (size_t i = 0; i < p->nb; i++) {
        bk_batch_iter it;
        CU_ASSERT_EQUAL_FATAL(bk_batch_iter_init(&it, p->log.data + p->b[i].pos,
                                                 p->b[i].len, 1 << 26),
                              0);
        bk_record_view rv;
        while (bk_batch_iter_next(&it, &rv) == 1) {
            CU_ASSERT_EQUAL(rv.offset, (int64_t)*n);
            char buf[512];
            snprintf(buf, sizeof buf, "%.*s|%.*s",
                     rv.key_len < 0 ? 1 : (int)rv.key_len,
                     rv.key_len < 0 ? "~" : (const char *)rv.key,
                     rv.value_len < 0 ? 1 : (int)rv.value_len,
                     rv.value_len < 0 ? "~" : (const char *)rv.value);
            v[(*n)++] = strdup(buf);
        }
        bk_batch_iter_free(&it);
    }
    pthread_mutex_unlock(&f->mu);
    return v;
}

static void free_records(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ------------------------------ the client side ------------------------------
 */

#define MAXREC 5000

typedef struct drs {
    int n, errs, last_err;
    int32_t part[MAXREC];
    int64_t off[MAXREC];
    int err[MAXREC];
    int order_violations; /* per partition, reports out of produce order */
    int last_idx[FAKE_PARTS + 1];
} drs;

static void dr_cb(brook_client *c, const brook_dr *dr, void *arg)
{
    (void)c;
    drs *d = arg;
    intptr_t i = (intptr_t)dr->opaque;
    CU_ASSERT_FATAL(i >= 0 && i < MAXREC);
    d->n++;
    d->part[i] = dr->partition;
    d->off[i] = dr->offset;
    d->err[i] = dr->err;
    if (dr->err) {
        d->errs++;
        d->last_err = dr->err;
    }
    if (dr->partition >= 0 && dr->partition < FAKE_PARTS) {
        if (i < d->last_idx[dr->partition])
            d->order_violations++;
        d->last_idx[dr->partition] = (int)i;
    }
}

static brook_client *client_for(fake *f, drs *d, const char *const *kv)
{
    brook_conf *conf = brook_conf_new();
    char err[256], bs[64];
    snprintf(bs, sizeof bs, "127.0.0.1:%d", f->port);
    CU_ASSERT_EQUAL(
        brook_conf_set(conf, "bootstrap.servers", bs, err, sizeof err), 0);
    for (; kv && *kv; kv++)
        CU_ASSERT_EQUAL(brook_conf_set_kv(conf, *kv, err, sizeof err), 0);
    if (d) {
        memset(d, 0, sizeof *d);
        brook_conf_set_dr_cb(conf, dr_cb, d);
    }
    brook_client *c = brook_client_new(conf, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    return c;
}

static void test_keyed_produce(void)
{
    fake *f = fake_start();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static drs d;
    const char *kv[] = {"linger.ms=2", "batch.size=4096", NULL};
    brook_client *c = client_for(f, &d, kv);
    const int n = 3000;
    for (int i = 0; i < n; i++) {
        char k[32], v[32];
        int kl = snprintf(k, sizeof k, "key-%d", i % 97);
        int vl = snprintf(v, sizeof v, "value-%d", i);
        CU_ASSERT_EQUAL_FATAL(
            brook_produce(c, TOPIC, BROOK_PARTITION_ANY, k, kl, v, vl, NULL, 0,
                          BROOK_TIMESTAMP_NOW, (void *)(intptr_t)i),
            0);
        if (i % 500 == 0)
            brook_poll(c, 0);
    }
    CU_ASSERT_EQUAL(brook_flush(c, 10000), 0);
    CU_ASSERT_EQUAL(brook_outq_len(c), 0);
    CU_ASSERT_EQUAL(d.n, n);
    CU_ASSERT_EQUAL(d.errs, 0);
    CU_ASSERT_EQUAL(d.order_violations, 0);
    /* every key on its murmur2 partition; offsets as the broker stored */
    size_t count[FAKE_PARTS];
    char **recs[FAKE_PARTS];
    for (int p = 0; p < FAKE_PARTS; p++)
        recs[p] = fake_records(f, p, &count[p]);
    CU_ASSERT_EQUAL(count[0] + count[1] + count[2], (size_t)n);
    for (int i = 0; i < n; i++) {
        char k[32], want[80];
        int kl = snprintf(k, sizeof k, "key-%d", i % 97);
        CU_ASSERT_EQUAL(d.part[i], bk_part_for_key(k, (size_t)kl, FAKE_PARTS));
        int p = d.part[i];
        CU_ASSERT_FATAL(d.off[i] >= 0 && (size_t)d.off[i] < count[p]);
        snprintf(want, sizeof want, "%s|value-%d", k, i);
        CU_ASSERT_STRING_EQUAL(recs[p][d.off[i]], want);
    }
    /* batching happened: far fewer requests than records */
    CU_ASSERT_TRUE(f->produce_requests < n / 10);
    CU_ASSERT_EQUAL(f->corr_errors, 0);
    for (int p = 0; p < FAKE_PARTS; p++)
        free_records(recs[p], count[p]);
    brook_client_destroy(c);
    fake_stop(f);
}

static void test_retry_not_leader(void)
{
    fake *f = fake_start();
    f->inject_part = 1;
    f->inject_err = BK_ERR_NOT_LEADER_FOR_PARTITION;
    f->inject_count = 2;
    static drs d;
    const char *kv[] = {"retry.backoff.ms=20", "linger.ms=1", "batch.size=1000",
                        NULL};
    brook_client *c = client_for(f, &d, kv);
    for (int i = 0; i < 200; i++) {
        char v[16];
        int vl = snprintf(v, sizeof v, "%d", i);
        CU_ASSERT_EQUAL(brook_produce(c, TOPIC, 1, NULL, -1, v, vl, NULL, 0,
                                      BROOK_TIMESTAMP_NOW, (void *)(intptr_t)i),
                        0);
    }
    CU_ASSERT_EQUAL(brook_flush(c, 10000), 0);
    CU_ASSERT_EQUAL(d.n, 200);
    CU_ASSERT_EQUAL(d.errs, 0);
    CU_ASSERT_EQUAL(d.order_violations, 0);
    /* the error made the client look the leader up again */
    CU_ASSERT_TRUE(f->md_requests >= 3);
    size_t n;
    char **r = fake_records(f, 1, &n);
    CU_ASSERT_EQUAL(n, 200); /* nothing lost, nothing twice, in order */
    for (size_t i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "~|%zu", i);
        CU_ASSERT_STRING_EQUAL(r[i], want);
        CU_ASSERT_EQUAL(d.off[i], (int64_t)i);
    }
    free_records(r, n);
    brook_client_destroy(c);
    fake_stop(f);
}

static void test_fatal_error_not_retried(void)
{
    fake *f = fake_start();
    f->inject_part = 0;
    f->inject_err = BK_ERR_MSG_SIZE_TOO_LARGE;
    f->inject_count = 1;
    static drs d;
    const char *kv[] = {"linger.ms=50", NULL};
    brook_client *c = client_for(f, &d, kv);
    for (int i = 0; i < 10; i++)
        brook_produce(c, TOPIC, 0, "k", 1, "v", 1, NULL, 0, BROOK_TIMESTAMP_NOW,
                      (void *)(intptr_t)i);
    CU_ASSERT_EQUAL(brook_flush(c, 5000), 0);
    CU_ASSERT_EQUAL(d.n, 10);
    CU_ASSERT_EQUAL(d.errs, 10);
    CU_ASSERT_EQUAL(d.last_err, BK_ERR_MSG_SIZE_TOO_LARGE);
    CU_ASSERT_EQUAL(d.off[0], -1);
    CU_ASSERT_EQUAL(f->produce_requests, 1);
    brook_client_destroy(c);
    fake_stop(f);
}

static void test_connection_drop_retried(void)
{
    fake *f = fake_start();
    f->inject_part = 2;
    f->drop_count = 1;
    static drs d;
    const char *kv[] = {"retry.backoff.ms=10", "reconnect.backoff.ms=10", NULL};
    brook_client *c = client_for(f, &d, kv);
    for (int i = 0; i < 50; i++)
        brook_produce(c, TOPIC, 2, NULL, -1, "x", 1, NULL, 0,
                      BROOK_TIMESTAMP_NOW, (void *)(intptr_t)i);
    CU_ASSERT_EQUAL(brook_flush(c, 10000), 0);
    CU_ASSERT_EQUAL(d.n, 50);
    CU_ASSERT_EQUAL(d.errs, 0);
    size_t n;
    char **r = fake_records(f, 2, &n);
    CU_ASSERT_EQUAL(n, 50);
    free_records(r, n);
    CU_ASSERT_EQUAL(f->produce_requests, 2);
    brook_client_destroy(c);
    fake_stop(f);
}

static void test_delivery_timeout(void)
{
    fake *f = fake_start();
    f->swallow = 1;
    static drs d;
    const char *kv[] = {"request.timeout.ms=150", "delivery.timeout.ms=600",
                        "retry.backoff.ms=20", "linger.ms=0", NULL};
    brook_client *c = client_for(f, &d, kv);
    int64_t t0 = bk_clock_mono_ms();
    for (int i = 0; i < 20; i++)
        brook_produce(c, TOPIC, 0, NULL, -1, "x", 1, NULL, 0,
                      BROOK_TIMESTAMP_NOW, (void *)(intptr_t)i);
    CU_ASSERT_EQUAL(brook_flush(c, 5000), 0);
    int64_t took = bk_clock_mono_ms() - t0;
    CU_ASSERT_EQUAL(d.n, 20);
    CU_ASSERT_EQUAL(d.errs, 20);
    CU_ASSERT_TRUE(d.last_err == BK_ERR_REQUEST_TIMED_OUT);
    /* gave up around delivery.timeout.ms, after retrying */
    CU_ASSERT_TRUE(took >= 550 && took < 2000);
    CU_ASSERT_TRUE(f->produce_requests >= 2);
    CU_ASSERT_TRUE(strstr(brook_last_error(c), "timed out") ||
                   strstr(brook_last_error(c), "expired"));
    brook_client_destroy(c);
    fake_stop(f);
}

static void test_acks0(void)
{
    fake *f = fake_start();
    static drs d;
    const char *kv[] = {"acks=0", NULL};
    brook_client *c = client_for(f, &d, kv);
    for (int i = 0; i < 100; i++)
        brook_produce(c, TOPIC, 0, NULL, -1, "z", 1, NULL, 0,
                      BROOK_TIMESTAMP_NOW, (void *)(intptr_t)i);
    CU_ASSERT_EQUAL(brook_flush(c, 5000), 0);
    CU_ASSERT_EQUAL(d.n, 100);
    CU_ASSERT_EQUAL(d.errs, 0);
    CU_ASSERT_EQUAL(d.off[0], -1);
    CU_ASSERT_EQUAL(d.part[99], 0);
    /* the broker got them although it never answered */
    for (int tries = 0; tries < 100; tries++) {
        pthread_mutex_lock(&f->mu);
        int64_t next = f->parts[0].next;
        pthread_mutex_unlock(&f->mu);
        if (next == 100)
            break;
        usleep(10000);
    }
    CU_ASSERT_EQUAL(f->parts[0].next, 100);
    brook_client_destroy(c);
    fake_stop(f);
}

static void test_unknown_topic_and_partition(void)
{
    fake *f = fake_start();
    static drs d;
    brook_client *c = client_for(f, &d, NULL);
    brook_topic_info info;
    CU_ASSERT_EQUAL(brook_topic_metadata(c, "nope", 5000, &info), 0);
    CU_ASSERT_EQUAL(info.err, BK_ERR_UNKNOWN_TOPIC_OR_PART);
    CU_ASSERT_EQUAL(brook_topic_metadata(c, TOPIC, 5000, &info), 0);
    CU_ASSERT_EQUAL(info.err, 0);
    CU_ASSERT_EQUAL(info.partition_count, FAKE_PARTS);
    CU_ASSERT_EQUAL(brook_topic_metadata(c, "bad/name", 10, &info), -BK_EINVAL);
    /* a partition beyond the count: reported, not sent */
    CU_ASSERT_EQUAL(brook_produce(c, TOPIC, 7, NULL, -1, "v", 1, NULL, 0,
                                  BROOK_TIMESTAMP_NOW, (void *)0),
                    0);
    CU_ASSERT_EQUAL(brook_flush(c, 2000), 0);
    CU_ASSERT_EQUAL(d.n, 1);
    CU_ASSERT_EQUAL(d.err[0], BK_ERR_UNKNOWN_TOPIC_OR_PART);
    /* bad arguments are refused at once */
    CU_ASSERT_EQUAL(brook_produce(c, TOPIC, -5, NULL, -1, "v", 1, NULL, 0,
                                  BROOK_TIMESTAMP_NOW, NULL),
                    -BK_EINVAL);
    CU_ASSERT_EQUAL(brook_produce(c, TOPIC, 0, NULL, -2, "v", 1, NULL, 0,
                                  BROOK_TIMESTAMP_NOW, NULL),
                    -BK_EINVAL);
    static char huge[2 << 20];
    CU_ASSERT_EQUAL(brook_produce(c, TOPIC, 0, NULL, -1, huge, sizeof huge,
                                  NULL, 0, BROOK_TIMESTAMP_NOW, NULL),
                    -BK_ETOOBIG);
    brook_client_destroy(c);
    fake_stop(f);
}

/* Consumes until n records (and what events come along) were seen. */
static int consume_n(brook_client *c, int n, char out[][64], int *eofs,
                     int *errs, int64_t *offs)
{
    int got = 0;
    int64_t deadline = bk_clock_mono_ms() + 5000;
    while (got < n && bk_clock_mono_ms() < deadline) {
        const brook_msg *m;
        int r = brook_consume(c, 100, &m);
        if (r <= 0)
            continue;
        if (m->type == BROOK_MSG_EOF) {
            (*eofs)++;
            continue;
        }
        if (m->type == BROOK_MSG_ERROR) {
            (*errs)++;
            continue;
        }
        snprintf(out[got], 64, "%d:%.*s|%.*s", m->partition,
                 m->key_len < 0 ? 1 : m->key_len,
                 m->key_len < 0 ? "~" : (const char *)m->key,
                 m->value_len < 0 ? 1 : m->value_len,
                 m->value_len < 0 ? "~" : (const char *)m->value);
        if (offs)
            offs[got] = m->offset;
        got++;
    }
    return got;
}

static void test_consume(void)
{
    fake *f = fake_start();
    static drs d;
    brook_client *c = client_for(f, &d, NULL);
    /* 30 records per partition, timestamps 1000 + i, null/empty mixed,
     * one with headers */
    brook_header h[2] = {{"h", 1, "hv", 2}, {"n", 1, NULL, -1}};
    for (int i = 0; i < 90; i++) {
        char v[16];
        int vl = snprintf(v, sizeof v, "v%d", i);
        int p = i % 3;
        const char *key = i % 5 == 0 ? NULL : i % 5 == 1 ? "" : "k";
        int32_t kl = key ? (int32_t)strlen(key) : -1;
        CU_ASSERT_EQUAL(
            brook_produce(c, TOPIC, p, key, kl, i % 7 == 0 ? NULL : v,
                          i % 7 == 0 ? -1 : vl, i == 4 ? h : NULL,
                          i == 4 ? 2 : 0, 1000 + i, (void *)(intptr_t)i),
            0);
    }
    CU_ASSERT_EQUAL(brook_flush(c, 5000), 0);
    CU_ASSERT_EQUAL(d.errs, 0);

    for (int p = 0; p < 3; p++)
        CU_ASSERT_EQUAL(brook_assign(c, TOPIC, p, BROOK_OFFSET_BEGINNING), 0);
    CU_ASSERT_EQUAL(brook_assign(c, TOPIC, 0, 0), -BK_EEXIST);
    static char got[100][64];
    int eofs = 0, errs = 0;
    CU_ASSERT_EQUAL(consume_n(c, 90, got, &eofs, &errs, NULL), 90);
    CU_ASSERT_EQUAL(errs, 0);
    /* per partition in order, null and empty kept apart */
    int next[3] = {0, 1, 2};
    for (int i = 0; i < 90; i++) {
        int p = got[i][0] - '0';
        int r = next[p];
        next[p] += 3;
        char want[64], v[16];
        snprintf(v, sizeof v, "v%d", r);
        snprintf(want, sizeof want, "%d:%s|%s", p,
                 r % 5 == 0   ? "~"
                 : r % 5 == 1 ? ""
                              : "k",
                 r % 7 == 0 ? "~" : v);
        CU_ASSERT_STRING_EQUAL(got[i], want);
    }
    /* each partition reports its end once */
    const brook_msg *m;
    int64_t deadline = bk_clock_mono_ms() + 3000;
    while (eofs < 3 && bk_clock_mono_ms() < deadline)
        if (brook_consume(c, 100, &m) == 1 && m->type == BROOK_MSG_EOF)
            eofs++;
    CU_ASSERT_EQUAL(eofs, 3);
    int64_t pos, hw;
    CU_ASSERT_EQUAL(brook_position(c, TOPIC, 1, &pos), 0);
    CU_ASSERT_EQUAL(pos, 30);
    CU_ASSERT_EQUAL(brook_high_watermark(c, TOPIC, 1, &hw), 0);
    CU_ASSERT_EQUAL(hw, 30);

    /* only partition 1 from here on: seek by offset */
    CU_ASSERT_EQUAL(brook_unassign(c, TOPIC, 0), 0);
    CU_ASSERT_EQUAL(brook_unassign(c, TOPIC, 2), 0);
    CU_ASSERT_EQUAL(brook_unassign(c, TOPIC, 2), -BK_ENOENT);
    CU_ASSERT_EQUAL(brook_seek(c, TOPIC, 1, 5), 0);
    int64_t offs[10];
    eofs = errs = 0;
    CU_ASSERT_EQUAL(consume_n(c, 1, got, &eofs, &errs, offs), 1);
    CU_ASSERT_EQUAL(offs[0], 5);
    CU_ASSERT_STRING_EQUAL(got[0], "1:|v16"); /* i = 16: empty key */

    /* seek by timestamp: record i has ts 1000 + i; partition 1 holds
     * i = 1, 4, 7...; ts 1040 -> first i >= 40 there is 40 (offset 13) */
    CU_ASSERT_EQUAL(brook_seek_timestamp(c, TOPIC, 1, 1040), 0);
    CU_ASSERT_EQUAL(consume_n(c, 1, got, &eofs, &errs, offs), 1);
    CU_ASSERT_EQUAL(offs[0], 13);
    /* the record with headers (i = 4, offset 1) */
    CU_ASSERT_EQUAL(brook_seek(c, TOPIC, 1, 1), 0);
    deadline = bk_clock_mono_ms() + 3000;
    m = NULL;
    while (bk_clock_mono_ms() < deadline)
        if (brook_consume(c, 100, &m) == 1 && m->type == BROOK_MSG_RECORD)
            break;
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->offset, 1);
    CU_ASSERT_EQUAL(m->timestamp, 1004);
    CU_ASSERT_EQUAL(m->header_count, 2);
    size_t hp = 0;
    brook_header hh;
    CU_ASSERT_EQUAL(brook_msg_header_next(m, &hp, &hh), 1);
    CU_ASSERT_EQUAL(hh.key_len, 1);
    CU_ASSERT_EQUAL(memcmp(hh.value, "hv", 2), 0);
    CU_ASSERT_EQUAL(brook_msg_header_next(m, &hp, &hh), 1);
    CU_ASSERT_EQUAL(hh.value_len, -1);
    CU_ASSERT_EQUAL(brook_msg_header_next(m, &hp, &hh), 0);

    /* a timestamp after everything: at the end */
    CU_ASSERT_EQUAL(brook_seek_timestamp(c, TOPIC, 1, 99999), 0);
    deadline = bk_clock_mono_ms() + 3000;
    int type = -1;
    while (bk_clock_mono_ms() < deadline && type < 0)
        if (brook_consume(c, 100, &m) == 1)
            type = m->type;
    CU_ASSERT_EQUAL(type, BROOK_MSG_EOF);
    CU_ASSERT_EQUAL(m->offset, 30);

    /* beyond the end: OFFSET_OUT_OF_RANGE, once, and the partition stops */
    CU_ASSERT_EQUAL(brook_seek(c, TOPIC, 1, 1000), 0);
    deadline = bk_clock_mono_ms() + 3000;
    type = -1;
    while (bk_clock_mono_ms() < deadline && type < 0)
        if (brook_consume(c, 100, &m) == 1)
            type = m->type;
    CU_ASSERT_EQUAL(type, BROOK_MSG_ERROR);
    CU_ASSERT_EQUAL(m->err, BK_ERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(m->offset, 1000);
    CU_ASSERT_EQUAL(brook_consume(c, 300, &m), 0);
    /* seek END recovers */
    CU_ASSERT_EQUAL(brook_seek(c, TOPIC, 1, BROOK_OFFSET_END), 0);
    CU_ASSERT_EQUAL(brook_consume(c, 3000, &m), 1);
    CU_ASSERT_EQUAL(m->type, BROOK_MSG_EOF);

    /* a partition the topic does not have: one error event */
    CU_ASSERT_EQUAL(brook_assign(c, TOPIC, 5, 0), 0);
    deadline = bk_clock_mono_ms() + 3000;
    type = -1;
    while (bk_clock_mono_ms() < deadline && type != BROOK_MSG_ERROR)
        if (brook_consume(c, 100, &m) == 1)
            type = m->type;
    CU_ASSERT_EQUAL(type, BROOK_MSG_ERROR);
    CU_ASSERT_EQUAL(m->partition, 5);
    CU_ASSERT_EQUAL(m->err, BK_ERR_UNKNOWN_TOPIC_OR_PART);
    brook_client_destroy(c);
    fake_stop(f);
}

static void test_follows_new_data(void)
{
    fake *f = fake_start();
    static drs d;
    const char *kv[] = {"fetch.max.wait.ms=50", NULL};
    brook_client *cons = client_for(f, NULL, kv);
    brook_client *prod = client_for(f, &d, NULL);
    CU_ASSERT_EQUAL(brook_assign(cons, TOPIC, 0, BROOK_OFFSET_END), 0);
    const brook_msg *m;
    CU_ASSERT_EQUAL(brook_consume(cons, 3000, &m), 1);
    CU_ASSERT_EQUAL(m->type, BROOK_MSG_EOF);
    for (int round = 0; round < 3; round++) {
        char v[16];
        int vl = snprintf(v, sizeof v, "late-%d", round);
        brook_produce(prod, TOPIC, 0, NULL, -1, v, vl, NULL, 0,
                      BROOK_TIMESTAMP_NOW, (void *)(intptr_t)round);
        CU_ASSERT_EQUAL(brook_flush(prod, 3000), 0);
        int r;
        do {
            r = brook_consume(cons, 3000, &m);
        } while (r == 1 && m->type == BROOK_MSG_EOF);
        CU_ASSERT_EQUAL_FATAL(r, 1);
        CU_ASSERT_EQUAL(m->type, BROOK_MSG_RECORD);
        CU_ASSERT_EQUAL(m->value_len, vl);
        CU_ASSERT_EQUAL(memcmp(m->value, v, (size_t)vl), 0);
    }
    brook_client_destroy(prod);
    brook_client_destroy(cons);
    fake_stop(f);
}

static void test_consumer_not_leader(void)
{
    fake *f = fake_start();
    static drs d;
    brook_client *p = client_for(f, &d, NULL);
    for (int i = 0; i < 10; i++)
        brook_produce(p, TOPIC, 2, NULL, -1, "r", 1, NULL, 0,
                      BROOK_TIMESTAMP_NOW, (void *)(intptr_t)i);
    CU_ASSERT_EQUAL(brook_flush(p, 3000), 0);
    brook_client_destroy(p);
    pthread_mutex_lock(&f->mu);
    f->fetch_err = BK_ERR_NOT_LEADER_FOR_PARTITION;
    f->fetch_err_count = 3;
    int md0 = f->md_requests;
    pthread_mutex_unlock(&f->mu);
    const char *kv[] = {"retry.backoff.ms=20", NULL};
    brook_client *c = client_for(f, NULL, kv);
    CU_ASSERT_EQUAL(brook_assign(c, TOPIC, 2, BROOK_OFFSET_BEGINNING), 0);
    static char got[16][64];
    int eofs = 0, errs = 0;
    int64_t offs[16];
    /* the errors are not the application's business: it just gets the
     * records, after the client looked the leader up again */
    CU_ASSERT_EQUAL(consume_n(c, 10, got, &eofs, &errs, offs), 10);
    CU_ASSERT_EQUAL(errs, 0);
    CU_ASSERT_EQUAL(offs[0], 0);
    CU_ASSERT_EQUAL(offs[9], 9);
    pthread_mutex_lock(&f->mu);
    CU_ASSERT_EQUAL(f->fetch_err_count, 0);
    CU_ASSERT_TRUE(f->md_requests >= md0 + 3);
    pthread_mutex_unlock(&f->mu);
    brook_client_destroy(c);
    fake_stop(f);
}

/* Appends a batch of n records (values "<tag><offset>") at base offset
 * base to out; returns where it starts. */
static size_t raw_batch(bk_buf *out, int codec, int64_t base, int n, char tag)
{
    bk_batch_builder b;
    CU_ASSERT_FATAL(bk_batch_builder_init(&b, codec) == 0);
    for (int i = 0; i < n; i++) {
        char v[32];
        int vl = snprintf(v, sizeof v, "%c%llu", tag,
                          (unsigned long long)base + (unsigned)i);
        bk_record r = {
            .key_len = -1, .value = v, .value_len = vl, .timestamp = 1000 + i};
        CU_ASSERT_FATAL(bk_batch_builder_add(&b, &r) == 0);
    }
    size_t at = out->len;
    CU_ASSERT_FATAL(bk_batch_builder_finish(&b, out) == 0);
    bk_batch_builder_free(&b);
    bk_batch_set_base_offset(out->data + at, base);
    return at;
}

/* The next record or error of c within 3 s (EOFs skipped): its type, or
 * -1 when nothing came. */
static int next_msg(brook_client *c, const brook_msg **m)
{
    int64_t deadline = bk_clock_mono_ms() + 3000;
    while (bk_clock_mono_ms() < deadline)
        if (brook_consume(c, 100, m) == 1 && (*m)->type != BROOK_MSG_EOF)
            return (*m)->type;
    return -1;
}

/* A broker's Fetch answer is untrusted input: damaged batches become one
 * error event each (CORRUPT_MESSAGE, Kafka's check.crcs), never records,
 * a hang, a leak or an overflow. */
static void test_consumer_corrupt_batches(void)
{
    fake *f = fake_start();
    brook_client *c = client_for(f, NULL, NULL);
    CU_ASSERT_EQUAL(brook_assign(c, TOPIC, 0, 0), 0);
    const brook_msg *m;
    bk_buf raw = BK_BUF_INIT;

    /* 1: a byte of a value flipped, the CRC left alone: an error instead
     * of the damaged records, then the good batch after it */
    size_t a = raw_batch(&raw, BK_CODEC_NONE, 0, 3, 'a');
    raw_batch(&raw, BK_CODEC_NONE, 3, 2, 'b');
    raw.data[a + 61 + 6] ^= 0x20; /* the first record's value: "A0" */
    pthread_mutex_lock(&f->mu);
    f->fetch_raw = raw.data;
    f->fetch_raw_len = raw.len;
    f->fetch_raw_hw = 5;
    pthread_mutex_unlock(&f->mu);
    CU_ASSERT_EQUAL_FATAL(next_msg(c, &m), BROOK_MSG_ERROR);
    CU_ASSERT_EQUAL(m->err, BK_ERR_INVALID_MSG);
    CU_ASSERT_EQUAL_FATAL(next_msg(c, &m), BROOK_MSG_RECORD);
    CU_ASSERT_EQUAL(m->offset, 3);
    CU_ASSERT_EQUAL(m->value_len, 2);
    CU_ASSERT_EQUAL(memcmp(m->value, "b3", 2), 0);
    CU_ASSERT_EQUAL_FATAL(next_msg(c, &m), BROOK_MSG_RECORD);
    CU_ASSERT_EQUAL(m->offset, 4);

    /* 2: a gzip batch whose payload is garbage under a valid CRC: an
     * error (and its decompression buffer freed), then the next batch */
    pthread_mutex_lock(&f->mu);
    f->fetch_raw_len = 0;
    pthread_mutex_unlock(&f->mu);
    bk_buf_reset(&raw);
    a = raw_batch(&raw, BK_CODEC_GZIP, 5, 2, 'g');
    raw_batch(&raw, BK_CODEC_NONE, 7, 1, 'c');
    size_t glen = BK_BATCH_LOG_OVERHEAD + bk_load_be32(raw.data + a + 8);
    memset(raw.data + a + 61 + 10, 0xff, glen - 61 - 10 - 8);
    bk_store_be32(raw.data + a + 17,
                  bk_crc32c(0, raw.data + a + 21, glen - 21));
    CU_ASSERT_EQUAL(brook_seek(c, TOPIC, 0, 5), 0);
    pthread_mutex_lock(&f->mu);
    f->fetch_raw = raw.data;
    f->fetch_raw_len = raw.len;
    f->fetch_raw_hw = 8;
    pthread_mutex_unlock(&f->mu);
    CU_ASSERT_EQUAL_FATAL(next_msg(c, &m), BROOK_MSG_ERROR);
    CU_ASSERT_EQUAL(m->err, BK_ERR_INVALID_MSG);
    CU_ASSERT_EQUAL_FATAL(next_msg(c, &m), BROOK_MSG_RECORD);
    CU_ASSERT_EQUAL(m->offset, 7);

    /* 3: a first header that does not parse (magic 1): its size is
     * unknown, so no larger fetch can get past it -- one error and the
     * partition stops, instead of fetching it forever */
    pthread_mutex_lock(&f->mu);
    f->fetch_raw_len = 0;
    pthread_mutex_unlock(&f->mu);
    bk_buf_reset(&raw);
    a = raw_batch(&raw, BK_CODEC_NONE, 8, 2, 'm');
    raw.data[a + 16] = 1;
    CU_ASSERT_EQUAL(brook_seek(c, TOPIC, 0, 8), 0);
    pthread_mutex_lock(&f->mu);
    f->fetch_raw = raw.data;
    f->fetch_raw_len = raw.len;
    f->fetch_raw_hw = 10;
    pthread_mutex_unlock(&f->mu);
    CU_ASSERT_EQUAL_FATAL(next_msg(c, &m), BROOK_MSG_ERROR);
    CU_ASSERT_EQUAL(m->err, BK_ERR_INVALID_MSG);
    CU_ASSERT_EQUAL(m->offset, 8);
    CU_ASSERT_EQUAL(brook_consume(c, 300, &m), 0);

    /* 4: a base offset whose last offset + 1 passes INT64_MAX: corrupt,
     * not a signed overflow */
    pthread_mutex_lock(&f->mu);
    f->fetch_raw_len = 0;
    pthread_mutex_unlock(&f->mu);
    bk_buf_reset(&raw);
    raw_batch(&raw, BK_CODEC_NONE, INT64_MAX - 1, 3, 'o');
    CU_ASSERT_EQUAL(brook_seek(c, TOPIC, 0, 10), 0);
    pthread_mutex_lock(&f->mu);
    f->fetch_raw = raw.data;
    f->fetch_raw_len = raw.len;
    f->fetch_raw_hw = 20;
    pthread_mutex_unlock(&f->mu);
    CU_ASSERT_EQUAL_FATAL(next_msg(c, &m), BROOK_MSG_ERROR);
    CU_ASSERT_EQUAL(m->err, BK_ERR_INVALID_MSG);

    /* 5: a header claiming a batch larger than any fetch can ask for
     * (partition_max_bytes is an int32): an error, not a silent loop */
    pthread_mutex_lock(&f->mu);
    f->fetch_raw_len = 0;
    pthread_mutex_unlock(&f->mu);
    bk_buf_reset(&raw);
    a = raw_batch(&raw, BK_CODEC_NONE, 10, 2, 'h');
    bk_store_be32(raw.data + a + 8, INT32_MAX);
    CU_ASSERT_EQUAL(brook_seek(c, TOPIC, 0, 10), 0);
    pthread_mutex_lock(&f->mu);
    f->fetch_raw = raw.data;
    f->fetch_raw_len = raw.len;
    f->fetch_raw_hw = 20;
    pthread_mutex_unlock(&f->mu);
    CU_ASSERT_EQUAL_FATAL(next_msg(c, &m), BROOK_MSG_ERROR);
    CU_ASSERT_EQUAL(m->err, BK_ERR_INVALID_MSG);
    CU_ASSERT_EQUAL(m->offset, 10);

    brook_client_destroy(c);
    fake_stop(f);
    bk_buf_free(&raw);
}

static CU_TestInfo fake_tests[] = {
    {"keyed produce: partitions, offsets, order", test_keyed_produce},
    {"NOT_LEADER retried with metadata refresh", test_retry_not_leader},
    {"fatal error reported, not retried", test_fatal_error_not_retried},
    {"dropped connection retried", test_connection_drop_retried},
    {"delivery timeout", test_delivery_timeout},
    {"acks=0", test_acks0},
    {"unknown topic / partition / bad args", test_unknown_topic_and_partition},
    {"consume, EOF, seek, out of range", test_consume},
    {"consumer follows new data", test_follows_new_data},
    {"consumer retries NOT_LEADER with metadata refresh",
     test_consumer_not_leader},
    {"consumer: corrupt batches are errors, not records or hangs",
     test_consumer_corrupt_batches},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite("client-fake-broker", fake_tests);
}
