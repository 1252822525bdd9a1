/*
 * metrics.c -- the HTTP endpoint and brookd's own metrics (see metrics.h;
 * the registry and the exposition writer are common/prom.c).
 */
#include "broker/metrics.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/controller.h"
#include "broker/repl.h"
#include "broker/zkbroker.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "proto/protocol.h"

#include "config.h"

#define MOD "metrics"

/* ============================ HTTP server ============================ */

#define LINGER_MS 1000 /* drain after the answer before closing */

typedef enum { C_READ, C_WRITE, C_DRAIN } conn_state;

typedef struct mconn {
    bk_metrics *m;
    int fd;
    conn_state st;
    uint8_t in[BK_MHTTP_MAX_REQUEST];
    size_t nin;
    bk_buf out;
    size_t out_pos;
    bk_timer timer;
    struct mconn *prev, *next;
} mconn;

/* ========================== broker's metrics ========================== */

#define NAPI (BK_API_KEY_MAX + 2) /* every key, plus "unknown" */

struct bk_metrics {
    bk_broker *b;
    bk_mreg *reg;
    int64_t start_ms;   /* monotonic */
    int64_t start_wall; /* Unix ms */
    /* Families with stored series. */
    bk_mfam *f_bytes_in, *f_records_in, *f_bytes_out, *f_records_out,
        *f_repl_bytes_out;
    bk_mfam *f_requests, *f_latency, *f_errors;
    bk_mser *requests[NAPI], *latency[NAPI];
    bk_mser *isr_shrinks, *isr_expands;
    bk_mser *scrapes, *http_bad;
    bk_mtopic *topics;
    /* The endpoint. */
    int64_t idle_ms;
    int lfd;
    int port;
    mconn *conns;
    size_t nconns;
    bk_timer accept_retry; /* after EMFILE: the listener rests a moment */
    /* The last rendered text, shared by the scrapes of one loop tick
     * while no request was counted since (a burst of scrapes renders
     * once, not once each, on the loop thread). */
    bk_buf cache;
    bool cache_ok;
    int64_t cache_ms;      /* loop time of the render */
    uint64_t cache_events; /* `events` at the render */
    uint64_t events;       /* requests counted so far */
};

static const double latency_bounds[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};

bk_mreg *bk_metrics_registry(bk_metrics *m)
{
    return m->reg;
}

void bk_metrics_set_idle_ms(bk_metrics *m, int64_t ms)
{
    m->idle_ms = ms;
}

static size_t api_slot(int api_key)
{
    if (api_key < 0 || api_key > BK_API_KEY_MAX)
        return NAPI - 1;
    return (size_t)api_key;
}

static const char *slot_name(size_t slot)
{
    return slot == NAPI - 1 ? "UnknownApi" : bk_api_name((int)slot);
}

static bool make_api_series(bk_metrics *m, size_t slot)
{
    const char *v[1] = {slot_name(slot)};
    if (!m->requests[slot])
        m->requests[slot] = bk_mfam_series(m->f_requests, v);
    if (!m->latency[slot])
        m->latency[slot] = bk_mfam_series(m->f_latency, v);
    return m->requests[slot] && m->latency[slot];
}

void bk_metrics_request(bk_metrics *m, int api_key, int64_t elapsed_ns)
{
    if (!m)
        return;
    size_t slot = api_slot(api_key);
    /* Series of served APIs exist from the start; others appear when a
     * client first sends one. */
    if (!m->requests[slot] && !make_api_series(m, slot))
        return;
    m->requests[slot]->u++;
    m->events++;
    bk_mser_observe(m->latency[slot],
                    elapsed_ns > 0 ? (double)elapsed_ns / 1e9 : 0.0);
}

void bk_metrics_request_error(bk_metrics *m, int api_key, int error_code)
{
    if (!m || error_code == 0)
        return;
    const char *v[2] = {slot_name(api_slot(api_key)), bk_err_name(error_code)};
    bk_mser_add(bk_mfam_series(m->f_errors, v), 1);
    m->events++;
}

static bk_mser *topic_series(bk_mfam *f, const char *topic)
{
    const char *v[1] = {topic};
    return bk_mfam_series(f, v);
}

static void mtopic_free(bk_mtopic *t)
{
    bk_mser_remove(t->bytes_in);
    bk_mser_remove(t->records_in);
    bk_mser_remove(t->bytes_out);
    bk_mser_remove(t->records_out);
    bk_mser_remove(t->repl_bytes_out);
    free(t->name);
    free(t);
}

bk_mtopic *bk_metrics_topic(bk_metrics *m, bk_part *p)
{
    if (!m)
        return NULL;
    if (p->mtopic)
        return p->mtopic;
    bk_mtopic *t = m->topics;
    while (t && strcmp(t->name, p->topic) != 0)
        t = t->next;
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t)
            return NULL;
        t->name = strdup(p->topic);
        t->bytes_in = topic_series(m->f_bytes_in, p->topic);
        t->records_in = topic_series(m->f_records_in, p->topic);
        t->bytes_out = topic_series(m->f_bytes_out, p->topic);
        t->records_out = topic_series(m->f_records_out, p->topic);
        t->repl_bytes_out = topic_series(m->f_repl_bytes_out, p->topic);
        if (!t->name || !t->bytes_in || !t->records_in || !t->bytes_out ||
            !t->records_out || !t->repl_bytes_out) {
            mtopic_free(t);
            return NULL;
        }
        t->next = m->topics;
        m->topics = t;
    }
    p->mtopic = t;
    return t;
}

void bk_metrics_produced(bk_metrics *m, bk_part *p, size_t bytes,
                         int64_t records)
{
    bk_mtopic *t = bk_metrics_topic(m, p);
    if (!t)
        return;
    t->bytes_in->u += bytes;
    t->records_in->u += records > 0 ? (uint64_t)records : 0;
}

uint64_t bk_metrics_count_records(const uint8_t *data, size_t len)
{
    /* RecordBatch v2 header: baseOffset(8) batchLength(4) epoch(4)
     * magic(1) crc(4) attributes(2) lastOffsetDelta(4) firstTs(8)
     * maxTs(8) producerId(8) producerEpoch(2) baseSequence(4)
     * records count(4) at byte 57; 61 bytes in all. */
    uint64_t n = 0;
    size_t off = 0;
    while (len - off >= 61) {
        const uint8_t *b = data + off;
        uint32_t blen = bk_load_be32(b + 8);
        if (b[16] != 2 || blen < 49 || blen > len - off - 12)
            break;
        int32_t cnt = (int32_t)bk_load_be32(b + 57);
        if (cnt > 0)
            n += (uint64_t)cnt;
        off += 12 + (size_t)blen;
    }
    return n;
}

void bk_metrics_fetched(bk_metrics *m, bk_part *p, bool replica,
                        const uint8_t *records, size_t len)
{
    if (len == 0)
        return;
    bk_mtopic *t = bk_metrics_topic(m, p);
    if (!t)
        return;
    if (replica) {
        t->repl_bytes_out->u += len;
    } else {
        t->bytes_out->u += len;
        t->records_out->u += bk_metrics_count_records(records, len);
    }
}

void bk_metrics_isr_changed(bk_metrics *m, size_t old_n, size_t new_n)
{
    if (!m)
        return;
    m->events++;
    if (new_n < old_n)
        m->isr_shrinks->u++;
    else if (new_n > old_n)
        m->isr_expands->u++;
}

/* ------------------------- scrape-time metrics ------------------------- */

static void gauge(bk_buf *out, const char *name, const char *help, double v)
{
    bk_mexp_family(out, BK_M_GAUGE, name, help);
    bk_mexp_sample(out, name, NULL, NULL, 0, v);
}

/* Partitions of the cluster picture without a live leader: what Kafka's
 * controller reports as OfflinePartitionsCount (topics being deleted and
 * partitions whose state is not written yet do not count). */
static uint64_t offline_partitions(const bk_md *md)
{
    uint64_t n = 0;
    for (size_t i = 0; md && i < md->ntopics; i++) {
        const bk_md_topic *t = &md->topics[i];
        if (t->deleting)
            continue;
        for (size_t k = 0; k < t->nparts; k++) {
            const bk_md_part *p = &t->parts[k];
            if (p->has_state &&
                (p->leader < 0 || !bk_md_broker_find(md, p->leader)))
                n++;
        }
    }
    return n;
}

/* Drops the series of topics no partition here points at any more. */
static void sweep_topics(bk_metrics *m)
{
    bk_broker *b = m->b;
    for (bk_mtopic *t = m->topics; t; t = t->next)
        t->seen = false;
    if (b->parts)
        for (bk_part *p = bk_parts_first(b->parts); p; p = p->next)
            if (p->mtopic)
                p->mtopic->seen = true;
    bk_mtopic **pp = &m->topics;
    while (*pp) {
        bk_mtopic *t = *pp;
        if (t->seen) {
            pp = &t->next;
        } else {
            *pp = t->next;
            mtopic_free(t);
        }
    }
}

static void collect_partitions(bk_buf *out, bk_metrics *m)
{
    bk_broker *b = m->b;
    uint64_t nparts = 0, nlead = 0, nurp = 0, nmin = 0;
    bk_part *first = b->parts ? bk_parts_first(b->parts) : NULL;
    for (bk_part *p = first; p; p = p->next) {
        if (!p->assigned)
            continue;
        nparts++;
        if (!p->is_leader)
            continue;
        nlead++;
        if (p->nisr < p->nreplicas)
            nurp++;
        if (p->nisr < (size_t)p->min_isr)
            nmin++;
    }
    gauge(out, "brook_partitions",
          "Partitions with a replica on this broker (Kafka's "
          "PartitionCount).",
          (double)nparts);
    gauge(out, "brook_leader_partitions",
          "Partitions this broker leads (Kafka's LeaderCount).", (double)nlead);
    gauge(out, "brook_under_replicated_partitions",
          "Partitions led here whose ISR is smaller than the replica list "
          "(Kafka's UnderReplicatedPartitions).",
          (double)nurp);
    gauge(out, "brook_under_min_isr_partitions",
          "Partitions led here whose ISR is smaller than "
          "min.insync.replicas: acks=all produce fails.",
          (double)nmin);

    static const char *const ln[2] = {"topic", "partition"};
    static const struct {
        const char *name, *help;
    } per[] = {
        {"brook_log_size_bytes",
         "Bytes of the partition's log segments on disk (Kafka's Log Size)."},
        {"brook_log_start_offset",
         "First offset of the partition's log (Kafka's LogStartOffset)."},
        {"brook_log_end_offset",
         "Offset the next record appended to the partition gets (Kafka's "
         "LogEndOffset)."},
        {"brook_high_watermark",
         "The partition's high watermark as this replica knows it: "
         "consumers read below it."},
    };
    for (size_t k = 0; k < sizeof per / sizeof per[0]; k++) {
        bk_mexp_family(out, BK_M_GAUGE, per[k].name, per[k].help);
        for (bk_part *p = first; p; p = p->next) {
            if (!p->log)
                continue;
            char idx[16];
            snprintf(idx, sizeof idx, "%d", (int)p->index);
            const char *lv[2] = {p->topic, idx};
            int64_t v;
            switch (k) {
            case 0:
                v = (int64_t)bk_log_size(p->log);
                break;
            case 1:
                v = bk_log_start_offset(p->log);
                break;
            case 2:
                v = bk_log_end_offset(p->log);
                break;
            default:
                v = p->hw;
                break;
            }
            bk_mexp_sample_i64(out, per[k].name, ln, lv, 2, v);
        }
    }
}

static void collect_broker(bk_buf *out, void *arg)
{
    bk_metrics *m = arg;
    bk_broker *b = m->b;
    sweep_topics(m);
    collect_partitions(out, m);

    const bk_ctrl *ctrl = b->zkb ? bk_zkb_ctrl(b->zkb) : NULL;
    bool active = ctrl && bk_ctrl_is_active(ctrl);
    gauge(out, "brook_active_controller",
          "1 when this broker is the active controller, else 0 (Kafka's "
          "ActiveControllerCount).",
          active ? 1 : 0);
    gauge(out, "brook_controller_epoch",
          "Newest controller epoch this broker knows (the controller's "
          "own when active).",
          active ? (double)bk_ctrl_epoch(ctrl) : (double)b->ctrl_epoch_seen);
    gauge(out, "brook_offline_partitions",
          "Partitions of the cluster without a live leader, as counted by "
          "the active controller; 0 on other brokers (Kafka's "
          "OfflinePartitionsCount).",
          active ? (double)offline_partitions(b->md) : 0);
    gauge(out, "brook_live_brokers",
          "Brokers registered in ZooKeeper, as this broker's picture "
          "says.",
          b->md ? (double)b->md->nbrokers : 0);

    gauge(out, "brook_zookeeper_session_state",
          "1 while the broker's ZooKeeper session is connected, else 0.",
          b->zk_connected ? 1 : 0);
    uint64_t connects = 0, expirations = 0;
    if (b->zkb)
        bk_zkb_session_stats(b->zkb, &connects, &expirations);
    bk_mexp_family(out, BK_M_COUNTER, "brook_zookeeper_reconnects_total",
                   "Times the ZooKeeper session was connected again after "
                   "a disconnection or an expiry.");
    bk_mexp_sample_u64(out, "brook_zookeeper_reconnects_total", NULL, NULL, 0,
                       connects > 0 ? connects - 1 : 0);
    bk_mexp_family(out, BK_M_COUNTER, "brook_zookeeper_expirations_total",
                   "ZooKeeper session expirations seen by this broker.");
    bk_mexp_sample_u64(out, "brook_zookeeper_expirations_total", NULL, NULL, 0,
                       expirations);

    gauge(out, "brook_connections",
          "Open client connections on the broker's listener (the metrics "
          "endpoint's own are not counted).",
          b->srv ? (double)bk_srv_nconns(b->srv) : 0);
    gauge(out, "brook_delayed_produce_requests",
          "acks=all produce requests waiting for the ISR (Kafka's produce "
          "purgatory size).",
          b->repl ? (double)bk_repl_waiting(b->repl) : 0);
    int64_t up = bk_clock_mono_ms() - m->start_ms;
    gauge(out, "brook_uptime_seconds", "Seconds since brookd started.",
          (double)up / 1000.0);
    gauge(out, "brook_start_time_seconds", "Unix time at which brookd started.",
          (double)m->start_wall / 1000.0);

    static const char *const iln[3] = {"broker_id", "version", "cluster_id"};
    char id[16];
    snprintf(id, sizeof id, "%d", b->cfg ? (int)b->cfg->broker_id : -1);
    const char *ilv[3] = {id, PACKAGE_VERSION,
                          b->md && b->md->cluster_id ? b->md->cluster_id : ""};
    bk_mexp_family(out, BK_M_GAUGE, "brook_broker_info",
                   "Always 1; the labels say which broker answers.");
    bk_mexp_sample(out, "brook_broker_info", iln, ilv, 3, 1);
}

static void accept_retry(bk_loop *loop, bk_timer *t, void *arg);

bk_metrics *bk_metrics_new(bk_broker *b)
{
    bk_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->b = b;
    m->lfd = -1;
    m->idle_ms = BK_MHTTP_IDLE_MS;
    bk_timer_init(&m->accept_retry, accept_retry, m);
    bk_buf_init(&m->cache);
    m->start_ms = bk_clock_mono_ms();
    m->start_wall = bk_clock_wall_ms();
    m->reg = bk_mreg_new();
    if (!m->reg)
        goto fail;
    static const char *const topic[1] = {"topic"};
    static const char *const api[1] = {"api"};
    static const char *const api_err[2] = {"api", "error"};
    bk_mreg *r = m->reg;
    m->f_bytes_in = bk_mreg_family(
        r, BK_M_COUNTER, "brook_topic_bytes_in_total",
        "Record batch bytes produced to the topic's partitions led here "
        "(Kafka's BytesInPerSec).",
        topic, 1, NULL, 0);
    m->f_records_in = bk_mreg_family(
        r, BK_M_COUNTER, "brook_topic_records_in_total",
        "Records produced to the topic's partitions led here (Kafka's "
        "MessagesInPerSec).",
        topic, 1, NULL, 0);
    m->f_bytes_out = bk_mreg_family(
        r, BK_M_COUNTER, "brook_topic_bytes_out_total",
        "Record batch bytes sent to consumers' fetches of the topic "
        "(Kafka's BytesOutPerSec; replication excluded).",
        topic, 1, NULL, 0);
    m->f_records_out = bk_mreg_family(
        r, BK_M_COUNTER, "brook_topic_records_out_total",
        "Records sent to consumers' fetches of the topic (whole batches: "
        "a batch's records below the fetch offset count too).",
        topic, 1, NULL, 0);
    m->f_repl_bytes_out = bk_mreg_family(
        r, BK_M_COUNTER, "brook_replication_bytes_out_total",
        "Record batch bytes sent to followers' fetches of the topic "
        "(Kafka's ReplicationBytesOutPerSec).",
        topic, 1, NULL, 0);
    m->f_requests =
        bk_mreg_family(r, BK_M_COUNTER, "brook_requests_total",
                       "Requests answered, by API (acks=0 produce counted when "
                       "handled; a request whose client left before its "
                       "answer is not counted).",
                       api, 1, NULL, 0);
    m->f_latency = bk_mreg_family(
        r, BK_M_HISTOGRAM, "brook_request_latency_seconds",
        "Time from a request's decoding to its answer being queued, by "
        "API; delayed produce and fetch included (Kafka's "
        "TotalTimeMs without the network).",
        api, 1, latency_bounds,
        sizeof latency_bounds / sizeof latency_bounds[0]);
    m->f_errors = bk_mreg_family(
        r, BK_M_COUNTER, "brook_request_errors_total",
        "Error codes returned, by API and error name: request-level "
        "errors, and partition errors of Produce and Fetch (Kafka's "
        "ErrorsPerSec).",
        api_err, 2, NULL, 0);
    bk_mfam *f_shrinks = bk_mreg_family(
        r, BK_M_COUNTER, "brook_isr_shrinks_total",
        "ISR shrinks written by this broker as a leader (Kafka's "
        "IsrShrinksPerSec).",
        NULL, 0, NULL, 0);
    bk_mfam *f_expands = bk_mreg_family(
        r, BK_M_COUNTER, "brook_isr_expands_total",
        "ISR expansions written by this broker as a leader (Kafka's "
        "IsrExpandsPerSec).",
        NULL, 0, NULL, 0);
    bk_mfam *f_scrapes = bk_mreg_family(
        r, BK_M_COUNTER, "brook_metrics_scrapes_total",
        "GET /metrics answers served by this endpoint.", NULL, 0, NULL, 0);
    bk_mfam *f_bad = bk_mreg_family(
        r, BK_M_COUNTER, "brook_metrics_bad_requests_total",
        "HTTP requests of the metrics endpoint refused or cut off (bad "
        "request, wrong path or method, too large, too slow).",
        NULL, 0, NULL, 0);
    if (!m->f_bytes_in || !m->f_records_in || !m->f_bytes_out ||
        !m->f_records_out || !m->f_repl_bytes_out || !m->f_requests ||
        !m->f_latency || !m->f_errors || !f_shrinks || !f_expands ||
        !f_scrapes || !f_bad)
        goto fail;
    m->isr_shrinks = bk_mfam_series(f_shrinks, NULL);
    m->isr_expands = bk_mfam_series(f_expands, NULL);
    m->scrapes = bk_mfam_series(f_scrapes, NULL);
    m->http_bad = bk_mfam_series(f_bad, NULL);
    if (!m->isr_shrinks || !m->isr_expands || !m->scrapes || !m->http_bad)
        goto fail;
    for (size_t slot = 0; slot <= BK_API_KEY_MAX; slot++)
        if (bk_api_supported((int)slot) && !make_api_series(m, slot))
            goto fail;
    if (bk_mreg_collector(r, collect_broker, m) != 0)
        goto fail;
    return m;
fail:
    bk_metrics_free(m);
    return NULL;
}

int bk_metrics_render(bk_metrics *m, bk_buf *out)
{
    return bk_mreg_render(m->reg, out);
}

/* --------------------------- the endpoint --------------------------- */

static void conn_close(mconn *c)
{
    bk_metrics *m = c->m;
    bk_loop *loop = m->b->loop;
    bk_loop_timer_cancel(loop, &c->timer);
    bk_loop_del_fd(loop, c->fd);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        m->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    m->nconns--;
    bk_buf_free(&c->out);
    free(c);
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 431:
        return "Request Header Fields Too Large";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Internal Server Error";
    }
}

/* Builds the answer in c->out. */
static void build_answer(mconn *c, int status, bool head)
{
    bk_metrics *m = c->m;
    bk_buf body = BK_BUF_INIT;
    bk_buf *text = &body;
    if (status == 200) {
        int64_t now = bk_loop_now_ms(m->b->loop);
        if (!m->cache_ok || m->cache_ms != now ||
            m->cache_events != m->events) {
            bk_buf_reset(&m->cache);
            m->cache_ok = bk_metrics_render(m, &m->cache) == 0 &&
                          bk_buf_ok(&m->cache);
            m->cache_ms = now;
            m->cache_events = m->events;
        }
        if (!m->cache_ok) {
            status = 500;
        } else {
            text = &m->cache;
            m->scrapes->u++;
        }
    } else {
        m->http_bad->u++;
    }
    if (status != 200) {
        char msg[96];
        int k = snprintf(msg, sizeof msg, "%d %s\n", status, reason(status));
        bk_buf_put(&body, msg, (size_t)k);
    }
    char hdr[512];
    int k = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "Connection: close\r\n\r\n",
                     status, reason(status),
                     status == 200 ? "text/plain; version=0.0.4; charset=utf-8"
                                   : "text/plain; charset=utf-8",
                     text->len, status == 405 ? "Allow: GET, HEAD\r\n" : "");
    bk_buf_reset(&c->out);
    bk_buf_put(&c->out, hdr, (size_t)k);
    if (!head && text->len)
        bk_buf_put(&c->out, text->data, text->len);
    bk_buf_free(&body);
    c->out_pos = 0;
}

static bool conn_drain_start(mconn *c);

/* Writes what it can; false when c was closed. */
static bool conn_write(mconn *c)
{
    while (c->out_pos < c->out.len) {
        ssize_t w = send(c->fd, c->out.data + c->out_pos,
                         c->out.len - c->out_pos, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            conn_close(c);
            return false;
        }
        c->out_pos += (size_t)w;
        /* a client that keeps reading is not cut off mid-answer */
        bk_loop_timer_arm(c->m->b->loop, &c->timer, c->m->idle_ms);
    }
    return conn_drain_start(c);
}

static void conn_answer(mconn *c, int status, bool head)
{
    build_answer(c, status, head);
    if (!bk_buf_ok(&c->out)) {
        conn_close(c);
        return;
    }
    c->st = C_WRITE;
    bk_loop_timer_arm(c->m->b->loop, &c->timer, c->m->idle_ms);
    if (conn_write(c) && c->st == C_WRITE &&
        bk_loop_mod_fd(c->m->b->loop, c->fd, BK_EV_WRITE) != 0)
        conn_close(c);
}

/* The answer is out: no more writes; read and drop what the client still
 * sends until it closes (or LINGER_MS), so the answer is not reset.  False
 * when c was closed. */
static bool conn_drain_start(mconn *c)
{
    bk_loop *loop = c->m->b->loop;
    shutdown(c->fd, SHUT_WR);
    c->st = C_DRAIN;
    bk_buf_free(&c->out);
    if (bk_loop_mod_fd(loop, c->fd, BK_EV_READ) != 0) {
        conn_close(c);
        return false;
    }
    bk_loop_timer_arm(loop, &c->timer, LINGER_MS);
    return true;
}

static void conn_read(mconn *c)
{
    for (;;) {
        uint8_t sink[4096];
        uint8_t *dst = c->st == C_READ ? c->in + c->nin : sink;
        size_t room = c->st == C_READ ? sizeof c->in - c->nin : sizeof sink;
        if (room == 0)
            break;
        ssize_t r = read(c->fd, dst, room);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            conn_close(c);
            return;
        }
        if (r == 0) {
            /* EOF: a half-closed client still gets its answer when its
             * head is complete; otherwise there is nobody to answer. */
            if (c->st == C_READ) {
                bk_mhttp_req hr;
                if (bk_mhttp_parse(c->in, c->nin, &hr) == 0) {
                    conn_answer(c, hr.status, hr.head);
                    return;
                }
                c->m->http_bad->u++;
            }
            conn_close(c);
            return;
        }
        if (c->st != C_READ)
            continue;
        c->nin += (size_t)r;
        bk_mhttp_req hr;
        if (bk_mhttp_parse(c->in, c->nin, &hr) == 0) {
            conn_answer(c, hr.status, hr.head);
            return;
        }
    }
}

static void on_conn(bk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    mconn *c = arg;
    if (c->st == C_WRITE) {
        if (events & (BK_EV_WRITE | BK_EV_ERROR))
            conn_write(c);
        return;
    }
    if (events & (BK_EV_READ | BK_EV_ERROR))
        conn_read(c);
}

static void on_timer(bk_loop *loop, bk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    mconn *c = arg;
    if (c->st == C_READ) {
        /* Too slow (or silent): tell it, then go. */
        conn_answer(c, 408, false);
        return;
    }
    conn_close(c);
}

static void accept_retry(bk_loop *loop, bk_timer *t, void *arg)
{
    (void)t;
    bk_metrics *m = arg;
    if (m->lfd >= 0)
        bk_loop_mod_fd(loop, m->lfd, BK_EV_READ);
}

static void on_accept(bk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)events;
    bk_metrics *m = arg;
    for (int i = 0; i < 64; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                /* Out of descriptors: the listener is level-triggered,
                 * so rest it a moment instead of spinning on it. */
                BK_WARN(MOD, "accept: %s (retrying in 100 ms)",
                        strerror(errno));
                bk_loop_mod_fd(loop, fd, 0);
                bk_loop_timer_arm(loop, &m->accept_retry, 100);
            }
            return; /* EAGAIN */
        }
        if (m->nconns >= BK_MHTTP_MAX_CONNS || m->b->stopping) {
            close(cfd);
            m->http_bad->u++;
            continue;
        }
        mconn *c = calloc(1, sizeof *c);
        if (!c) {
            close(cfd);
            continue;
        }
        c->m = m;
        c->fd = cfd;
        c->st = C_READ;
        bk_buf_init(&c->out);
        bk_timer_init(&c->timer, on_timer, c);
        if (bk_loop_add_fd(loop, cfd, BK_EV_READ, on_conn, c) != 0 ||
            bk_loop_timer_arm(loop, &c->timer, m->idle_ms) != 0) {
            bk_loop_del_fd(loop, cfd);
            close(cfd);
            free(c);
            continue;
        }
        c->next = m->conns;
        if (m->conns)
            m->conns->prev = c;
        m->conns = c;
        m->nconns++;
    }
}

int bk_metrics_listen(bk_metrics *m, const char *host, int port)
{
    const char *h = host && host[0] ? host : NULL;
    char why[256];
    m->lfd = bk_tcp_listen(h, port, 128, &m->port, why, sizeof why);
    if (m->lfd < 0) {
        BK_ERROR(MOD, "cannot listen on metrics.listener %s:%d: %s",
                 h ? h : "*", port, why);
        m->lfd = -1;
        return -BK_EIO;
    }
    if (bk_loop_add_fd(m->b->loop, m->lfd, BK_EV_READ, on_accept, m) != 0) {
        close(m->lfd);
        m->lfd = -1;
        m->port = 0;
        return -BK_EIO;
    }
    BK_INFO(MOD, "Prometheus metrics on http://%s:%d/metrics", h ? h : "*",
            m->port);
    return 0;
}

int bk_metrics_port(const bk_metrics *m)
{
    return m ? m->port : 0;
}

void bk_metrics_free(bk_metrics *m)
{
    if (!m)
        return;
    while (m->conns)
        conn_close(m->conns);
    if (m->lfd >= 0) {
        bk_loop_timer_cancel(m->b->loop, &m->accept_retry);
        bk_loop_del_fd(m->b->loop, m->lfd);
        close(m->lfd);
    }
    bk_buf_free(&m->cache);
    while (m->topics) {
        bk_mtopic *t = m->topics;
        m->topics = t->next;
        free(t->name);
        free(t); /* the series go with the registry */
    }
    bk_mreg_free(m->reg);
    free(m);
}
