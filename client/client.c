/*
 * client.c -- brook_client: connections, metadata refresh and the poll loop
 * that drives the producer and the consumer (see client.h and brook.h).
 *
 * The poll loop is one function, run_once(): a service pass (timeouts,
 * metadata, producer, consumer, then write what they queued), one
 * bk_loop_run_once() waiting no longer than the earliest deadline any part
 * reported, and a second service pass so that a response is followed at
 * once by the next request (the next batch of a partition goes out in the
 * same poll call that saw the previous one acknowledged).
 */
#include "client/client.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cgroup.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "proto/protocol.h"

/* Longest single wait in the loop: a safety net for a deadline nobody
 * reported, not a polling interval. */
#define MAX_WAIT_MS 1000

int64_t brook_client_now(const brook_client *c)
{
    (void)c;
    return bk_clock_mono_ms();
}

void brook_client_set_error(brook_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->last_error, sizeof c->last_error, fmt, ap);
    va_end(ap);
}

bool brook_client_md_error(int err)
{
    switch (err) {
    case BK_ERR_UNKNOWN_TOPIC_OR_PART:
    case BK_ERR_LEADER_NOT_AVAILABLE:
    case BK_ERR_NOT_LEADER_FOR_PARTITION:
    case BK_ERR_REQUEST_TIMED_OUT:
    case BK_ERR_BROKER_NOT_AVAILABLE:
    case BK_ERR_REPLICA_NOT_AVAILABLE:
    case BK_ERR_NETWORK_EXCEPTION:
    case BK_ERR_KAFKA_STORAGE_ERROR:
    case BK_ERR_FENCED_LEADER_EPOCH:
    case BK_ERR_UNKNOWN_LEADER_EPOCH:
        return true;
    default:
        return false;
    }
}

void brook_client_md_refresh(brook_client *c)
{
    c->md_need = true;
}

/* ------------------------------ connections ------------------------------ */

static void conn_state(bk_conn *conn, bool up, const char *why, void *arg)
{
    brook_client *c = arg;
    if (up)
        return;
    if (why && *why)
        brook_client_set_error(c, "%s", why);
    /* Kafka's NetworkClient asks for metadata after a disconnect: the
     * broker may be gone and its partitions led elsewhere */
    if (conn->node_id >= 0)
        c->md_need = true;
}

static bk_conn *conn_add(brook_client *c, int32_t node_id, const char *host,
                         int port)
{
    if (c->nconns == c->capconns) {
        size_t cap = c->capconns ? c->capconns * 2 : 8;
        bk_conn **v = realloc(c->conns, cap * sizeof *v);
        if (!v)
            return NULL;
        c->conns = v;
        c->capconns = cap;
    }
    int64_t fmb = brook_conf_int(c->conf, BROOK_CK_FETCH_MAX_BYTES);
    uint64_t max_frame = (uint64_t)fmb + (1u << 20);
    if (max_frame < BK_FRAME_DEFAULT_MAX)
        max_frame = BK_FRAME_DEFAULT_MAX;
    if (max_frame > BK_FRAME_WIRE_MAX)
        max_frame = BK_FRAME_WIRE_MAX;
    bk_conn_opts o = {
        .client_id = brook_conf_str(c->conf, BROOK_CK_CLIENT_ID),
        .max_frame = (uint32_t)max_frame,
        .connect_timeout_ms =
            brook_conf_int(c->conf, BROOK_CK_CONNECT_TIMEOUT_MS),
        .backoff_min_ms =
            brook_conf_int(c->conf, BROOK_CK_RECONNECT_BACKOFF_MS),
        .backoff_max_ms =
            brook_conf_int(c->conf, BROOK_CK_RECONNECT_BACKOFF_MAX_MS),
        .on_state = conn_state,
        .state_arg = c,
    };
    bk_conn *conn = bk_conn_new(c->loop, node_id, host, port, &o);
    if (conn)
        c->conns[c->nconns++] = conn;
    return conn;
}

static bk_conn *conn_find(brook_client *c, int32_t node_id)
{
    for (size_t i = 0; i < c->nconns; i++)
        if (c->conns[i]->node_id == node_id)
            return c->conns[i];
    return NULL;
}

static bool conn_has_room(const brook_client *c, const bk_conn *conn)
{
    return conn->state == BK_CONN_UP &&
           bk_conn_inflight(conn) <
               (uint32_t)brook_conf_int(c->conf, BROOK_CK_MAX_IN_FLIGHT);
}

bk_conn *brook_client_ready_conn(brook_client *c, int32_t node_id)
{
    bk_conn *conn = conn_find(c, node_id);
    const bk_md_broker *b = bk_md_broker_find(&c->md, node_id);
    if (!b) {
        c->md_need = true;
        return conn && conn_has_room(c, conn) ? conn : NULL;
    }
    if (!conn) {
        conn = conn_add(c, node_id, b->host, b->port);
        if (!conn)
            return NULL;
    } else if (conn->state == BK_CONN_DOWN &&
               (strcmp(conn->host, b->host) != 0 || conn->port != b->port)) {
        /* the broker moved: the next attempt goes to its new address */
        snprintf(conn->host, sizeof conn->host, "%s", b->host);
        conn->port = b->port;
        conn->naddrs = 0;
    }
    if (conn->state == BK_CONN_DOWN &&
        bk_conn_connect(conn, bk_clock_mono_ms()) != 0 &&
        conn->retry_at < c->conn_wake)
        c->conn_wake = conn->retry_at; /* wake up for the next attempt */
    return conn_has_room(c, conn) ? conn : NULL;
}

bool brook_client_conn_ready(const brook_client *c, const bk_conn *conn)
{
    return conn_has_room(c, conn);
}

bk_conn *brook_client_node_conn(brook_client *c, int32_t conn_id,
                                const char *host, int port)
{
    bk_conn *conn = conn_find(c, conn_id);
    if (!conn) {
        conn = conn_add(c, conn_id, host, port);
        if (!conn)
            return NULL;
    } else if (conn->state == BK_CONN_DOWN &&
               (strcmp(conn->host, host) != 0 || conn->port != port)) {
        snprintf(conn->host, sizeof conn->host, "%s", host);
        conn->port = port;
        conn->naddrs = 0;
    }
    if (conn->state == BK_CONN_DOWN &&
        bk_conn_connect(conn, bk_clock_mono_ms()) != 0 &&
        conn->retry_at < c->conn_wake)
        c->conn_wake = conn->retry_at;
    return conn;
}

static bk_conn *md_candidate(brook_client *c, size_t i);

bk_conn *brook_client_any_conn(brook_client *c)
{
    size_t ncand = c->md.nbrokers + c->nbootstrap;
    for (size_t i = 0; i < ncand; i++) {
        bk_conn *conn = md_candidate(c, i);
        if (conn && conn_has_room(c, conn))
            return conn;
    }
    for (size_t i = 0; i < ncand; i++) {
        bk_conn *conn = md_candidate(c, i);
        if (conn && conn->state == BK_CONN_CONNECTING)
            return NULL; /* its completion wakes the loop */
    }
    int64_t now = bk_clock_mono_ms();
    for (size_t k = 0; k < ncand; k++) {
        size_t i = (c->md_rr + k) % ncand;
        bk_conn *conn = md_candidate(c, i);
        if (!conn)
            continue;
        if (bk_conn_connect(conn, now) == 0 && conn->state != BK_CONN_DOWN) {
            c->md_rr = i + 1;
            return NULL;
        }
        if (conn->retry_at < c->conn_wake)
            c->conn_wake = conn->retry_at;
    }
    return NULL;
}

static int add_bootstrap(const char *host, int port, void *arg)
{
    brook_client *c = arg;
    int32_t id = -1 - (int32_t)c->nbootstrap;
    if (!conn_add(c, id, host, port))
        return -BK_ENOMEM;
    c->nbootstrap++;
    return 0;
}

/* ------------------------------ metadata ------------------------------ */

static void md_done(bk_conn *conn, int err, Brook__Response *resp, void *arg)
{
    brook_client *c = arg;
    c->md_inflight = false;
    if (!err && resp->header->error_code)
        err = resp->header->error_code;
    if (!err && resp->body_case != BROOK__RESPONSE__BODY_METADATA)
        err = BK_ERR_UNKNOWN;
    if (err) {
        brook_client_set_error(c, "metadata request to %s:%d failed: %s",
                               conn->host, conn->port, bk_err_name(err));
        c->md_need = true;
        return;
    }
    if (bk_md_apply(&c->md, resp->metadata) != 0) {
        c->md_need = true;
        return;
    }
    c->md_ever = true;
    c->md_last_ok = bk_clock_mono_ms();
}

static int md_send(brook_client *c, bk_conn *conn, int64_t now)
{
    size_t n = c->md.ntopics;
    Brook__MetadataRequestTopic *mt = calloc(n ? n : 1, sizeof *mt);
    Brook__MetadataRequestTopic **mtp = calloc(n ? n : 1, sizeof *mtp);
    int rc = -BK_ENOMEM;
    if (mt && mtp) {
        for (size_t i = 0; i < n; i++) {
            brook__metadata_request_topic__init(&mt[i]);
            mt[i].name = c->md.topics[i]->name;
            mtp[i] = &mt[i];
        }
        Brook__MetadataRequest mr = BROOK__METADATA_REQUEST__INIT;
        mr.n_topics = n;
        mr.topics = mtp;
        mr.all_topics = false;
        mr.allow_auto_topic_creation = false;
        Brook__RequestHeader hdr = BROOK__REQUEST_HEADER__INIT;
        hdr.api_key = BK_API_METADATA;
        Brook__Request req = BROOK__REQUEST__INIT;
        req.header = &hdr;
        req.body_case = BROOK__REQUEST__BODY_METADATA;
        req.metadata = &mr;
        rc = bk_conn_send(conn, &req, true,
                          brook_conf_int(c->conf, BROOK_CK_REQUEST_TIMEOUT_MS),
                          now, md_done, c);
    }
    free(mt);
    free(mtp);
    if (rc == 0) {
        c->md_inflight = true;
        c->md_need = false;
        c->md_last_try = now;
    }
    return rc;
}

/* Candidates for a metadata request, in order of preference: known
 * brokers, then the bootstrap servers. */
static bk_conn *md_candidate(brook_client *c, size_t i)
{
    size_t nb = c->md.nbrokers;
    if (i < nb) {
        const bk_md_broker *b = &c->md.brokers[i];
        bk_conn *conn = conn_find(c, b->id);
        if (!conn)
            conn = conn_add(c, b->id, b->host, b->port);
        return conn;
    }
    return conn_find(c, -1 - (int32_t)(i - nb));
}

static int64_t md_service(brook_client *c, int64_t now)
{
    if (c->md_inflight)
        return INT64_MAX;
    int64_t backoff = brook_conf_int(c->conf, BROOK_CK_RETRY_BACKOFF_MS);
    int64_t due = INT64_MAX;
    if (c->md_need)
        due = c->md_last_try + backoff;
    if (c->md_ever) {
        int64_t age = c->md_last_ok +
                      brook_conf_int(c->conf, BROOK_CK_METADATA_MAX_AGE_MS);
        if (age < due)
            due = age;
    }
    if (due > now)
        return due;

    /* any connection that is up will do */
    size_t ncand = c->md.nbrokers + c->nbootstrap;
    for (size_t i = 0; i < ncand; i++) {
        bk_conn *conn = md_candidate(c, i);
        if (conn && conn_has_room(c, conn))
            return md_send(c, conn, now) == 0 ? INT64_MAX : now + backoff;
    }
    /* none: wait for one being opened, else open the next candidate in
     * turn (so that one dead bootstrap server does not stop us) */
    int64_t wake = INT64_MAX;
    for (size_t i = 0; i < ncand; i++) {
        bk_conn *conn = md_candidate(c, i);
        if (conn && conn->state == BK_CONN_CONNECTING)
            return INT64_MAX; /* its completion or timeout wakes the loop */
    }
    for (size_t k = 0; k < ncand; k++) {
        size_t i = (c->md_rr + k) % ncand;
        bk_conn *conn = md_candidate(c, i);
        if (!conn)
            continue;
        int rc = bk_conn_connect(conn, now);
        if (rc == 0 && conn->state != BK_CONN_DOWN) {
            c->md_rr = i + 1;
            return INT64_MAX;
        }
        if (conn->retry_at < wake)
            wake = conn->retry_at;
    }
    return wake;
}

/* ------------------------------ the loop ------------------------------ */

static int64_t service(brook_client *c, int64_t now)
{
    int64_t wake = INT64_MAX, w;
    c->conn_wake = INT64_MAX;
    for (size_t i = 0; i < c->nconns; i++) {
        w = bk_conn_check(c->conns[i], now);
        if (w < wake)
            wake = w;
    }
    w = bk_prod_service(c->prod, now);
    if (w < wake)
        wake = w;
    /* the group before the consumer: it assigns and seeks partitions */
    if (c->cg) {
        w = bk_cg_service(c->cg, now);
        if (w < wake)
            wake = w;
    }
    w = bk_cons_service(c->cons, now);
    if (w < wake)
        wake = w;
    /* metadata last: producer and consumer have said what they need */
    w = md_service(c, now);
    if (w < wake)
        wake = w;
    for (size_t i = 0; i < c->nconns; i++)
        bk_conn_flush(c->conns[i]);
    return c->conn_wake < wake ? c->conn_wake : wake;
}

/* One round: service, wait (until deadline at most), service. */
static int run_once(brook_client *c, int64_t deadline)
{
    int64_t now = bk_clock_mono_ms();
    uint64_t ev = c->events;
    int64_t wake = service(c, now);
    int64_t until = wake < deadline ? wake : deadline;
    int64_t wait = until - now;
    if (c->events != ev)
        wait = 0; /* something to hand back: do not sleep */
    if (wait < 0)
        wait = 0;
    if (wait > MAX_WAIT_MS)
        wait = MAX_WAIT_MS;
    int rc = bk_loop_run_once(c->loop, (int)wait);
    if (rc < 0)
        return rc;
    service(c, bk_clock_mono_ms());
    return 0;
}

int brook_client_run_once(brook_client *c, int64_t deadline)
{
    return run_once(c, deadline);
}

static int64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? INT64_MAX : bk_clock_mono_ms() + timeout_ms;
}

int brook_poll(brook_client *c, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    uint64_t r0 = c->prod->reports;
    do {
        if (c->cg)
            bk_cg_dispatch(c->cg);
        int rc = run_once(c, deadline);
        if (rc < 0)
            return rc;
    } while (c->prod->reports == r0 && bk_clock_mono_ms() < deadline);
    uint64_t made = c->prod->reports - r0;
    return made > INT32_MAX ? INT32_MAX : (int)made;
}

int brook_flush(brook_client *c, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    c->prod->flushing = true;
    int rc = 0;
    while (c->prod->outq > 0) {
        if (bk_clock_mono_ms() >= deadline) {
            rc = BK_AGAIN;
            break;
        }
        rc = run_once(c, deadline);
        if (rc < 0)
            break;
    }
    c->prod->flushing = false;
    return rc;
}

int brook_consume(brook_client *c, int timeout_ms, const brook_msg **out)
{
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        /* rebalance and commit callbacks run here, on the application's
         * call and outside any I/O callback */
        if (c->cg)
            bk_cg_dispatch(c->cg);
        /* nothing while a rejoin commits the positions (bk_cg_holding) */
        if ((!c->cg || !bk_cg_holding(c->cg)) && bk_cons_next(c->cons, out))
            return 1;
        int rc = run_once(c, deadline);
        if (rc < 0)
            return rc;
        if (c->cg)
            bk_cg_dispatch(c->cg);
        if ((!c->cg || !bk_cg_holding(c->cg)) && bk_cons_next(c->cons, out))
            return 1;
        if (bk_clock_mono_ms() >= deadline)
            return 0;
    }
}

/* ------------------------------ life ------------------------------ */

brook_client *brook_client_new(brook_conf *conf, char *errstr, size_t errlen)
{
    if (!conf) {
        if (errstr && errlen)
            snprintf(errstr, errlen, "no configuration");
        return NULL;
    }
    if (brook_conf_check(conf, errstr, errlen) != 0)
        return NULL;
    brook_client *c = calloc(1, sizeof *c);
    if (!c)
        goto oom;
    bk_md_init(&c->md);
    c->conf = conf;
    if (!(c->loop = bk_loop_new()))
        goto oom;
    if (brook_conf_each_server(brook_conf_str(conf, BROOK_CK_BOOTSTRAP_SERVERS),
                               add_bootstrap, c) != 0)
        goto oom;
    if (bk_prod_new(c, &c->prod) != 0 || bk_cons_new(c, &c->cons) != 0)
        goto oom;
    if (*brook_conf_str(conf, BROOK_CK_GROUP_ID) && bk_cg_new(c, &c->cg) != 0)
        goto oom;
    return c;
oom:
    if (errstr && errlen)
        snprintf(errstr, errlen, "out of memory creating the client");
    if (c) {
        c->conf = NULL; /* stays the caller's */
        brook_client_destroy(c);
    }
    return NULL;
}

void brook_client_destroy(brook_client *c)
{
    if (!c)
        return;
    /* pending requests complete (so their contexts are freed) without
     * any report reaching the application */
    if (c->prod)
        c->prod->dr_cb = NULL;
    for (size_t i = 0; i < c->nconns; i++) {
        c->conns[i]->on_state = NULL;
        bk_conn_close(c->conns[i], BK_ERR_NETWORK_EXCEPTION, "client closing");
    }
    bk_cg_free(c->cg);
    bk_prod_free(c->prod);
    bk_cons_free(c->cons);
    for (size_t i = 0; i < c->nconns; i++)
        bk_conn_free(c->conns[i]);
    free(c->conns);
    bk_md_free(&c->md);
    if (c->loop)
        bk_loop_free(c->loop);
    brook_conf_free(c->conf);
    free(c);
}

void *brook_app_opaque(const brook_client *c)
{
    return c->conf->dr_opaque;
}

const char *brook_last_error(const brook_client *c)
{
    return c->last_error;
}

const char *brook_err_name(int err)
{
    return bk_err_name(err);
}

/* ------------------------------ metadata API ------------------------------ */

int brook_topic_metadata(brook_client *c, const char *topic, int timeout_ms,
                         brook_topic_info *out)
{
    if (!topic || !bk_md_topic_name_valid(topic))
        return -BK_EINVAL;
    bk_topic *t = bk_md_topic_add(&c->md, topic, NULL);
    if (!t)
        return -BK_ENOMEM;
    /* a fresh answer, sent after this call: skip the refresh backoff */
    uint64_t v0 = c->md.version;
    c->md_need = true;
    c->md_last_try = INT64_MIN / 2;
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        if (c->md.version > v0 && t->known) {
            out->err = t->err;
            out->partition_count = t->err ? 0 : t->md_nparts;
            return 0;
        }
        if (bk_clock_mono_ms() >= deadline)
            return BK_AGAIN;
        int rc = run_once(c, deadline);
        if (rc < 0)
            return rc;
    }
}

/* ------------------------------ producer API ------------------------------ */

int brook_produce(brook_client *c, const char *topic, int32_t partition,
                  const void *key, int32_t key_len, const void *value,
                  int32_t value_len, const brook_header *headers,
                  int header_count, int64_t timestamp, void *opaque)
{
    return bk_prod_produce(c->prod, topic, partition, key, key_len, value,
                           value_len, headers, header_count, timestamp, opaque);
}

size_t brook_outq_len(const brook_client *c)
{
    return c->prod->outq;
}

/* ------------------------------ consumer API ------------------------------ */

int brook_assign(brook_client *c, const char *topic, int32_t partition,
                 int64_t offset)
{
    if (c->cg && bk_cg_subscribed(c->cg))
        return -BK_EINVAL; /* the group assigns (Kafka forbids the mix) */
    return bk_cons_assign(c->cons, topic, partition, offset);
}

int brook_unassign(brook_client *c, const char *topic, int32_t partition)
{
    if (c->cg && bk_cg_subscribed(c->cg))
        return -BK_EINVAL;
    return bk_cons_unassign(c->cons, topic, partition);
}

int brook_seek(brook_client *c, const char *topic, int32_t partition,
               int64_t offset)
{
    return bk_cons_seek(c->cons, topic, partition, offset, false);
}

int brook_seek_timestamp(brook_client *c, const char *topic, int32_t partition,
                         int64_t ts_ms)
{
    return bk_cons_seek(c->cons, topic, partition, ts_ms, true);
}

int brook_position(brook_client *c, const char *topic, int32_t partition,
                   int64_t *offset)
{
    return bk_cons_position(c->cons, topic, partition, offset);
}

int brook_pause(brook_client *c, const char *topic, int32_t partition)
{
    return bk_cons_pause(c->cons, topic, partition, true);
}

int brook_resume(brook_client *c, const char *topic, int32_t partition)
{
    return bk_cons_pause(c->cons, topic, partition, false);
}

int brook_high_watermark(brook_client *c, const char *topic, int32_t partition,
                         int64_t *hw)
{
    return bk_cons_hw(c->cons, topic, partition, hw);
}

int brook_msg_header_next(const brook_msg *m, size_t *pos, brook_header *hdr)
{
    bk_record_view rv = {
        .header_count = m->header_count,
        .headers = m->hdr_raw_,
        .headers_len = m->hdr_len_,
    };
    bk_rec_header h;
    int rc = bk_record_header_next(&rv, pos, &h);
    if (rc == 1) {
        hdr->key = h.key;
        hdr->key_len = h.key_len;
        hdr->value = h.value;
        hdr->value_len = h.value_len;
    }
    return rc;
}
