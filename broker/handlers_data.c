/*
 * handlers_data.c -- Produce, Fetch and ListOffsets (see handlers.h).
 *
 * Produce appends each partition's batches with one bk_log_append (which
 * validates every batch first: CRC, record structure, size) and tells
 * replication (broker/repl.h: followers' fetches wake, the high watermark
 * may move).  acks=1 answers once appended; acks=all first checks the ISR
 * against min.insync.replicas (NOT_ENOUGH_REPLICAS), as Kafka does before
 * appending, then waits in bk_repl_wait_acks until the ISR has the
 * records.
 *
 * Fetch reads whole batches below the high watermark through
 * bk_log_read() slices, pread() into the response (sendfile() straight
 * from the slices is future work: it needs the response encoder to leave
 * holes for the records).  Limits: partition_max_bytes per partition,
 * max_bytes (capped by fetch.max.bytes) for the whole response, except
 * that the first batch of the first partition with data is returned even
 * when larger (KIP-74), so a consumer always makes progress.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/handlers.h"
#include "broker/metrics.h"
#include "broker/repl.h"
#include "common/err.h"
#include "common/logging.h"
#include "proto/protocol.h"

#define MOD "handlers"

/* ------------------------------- Produce ------------------------------- */

static int32_t append_error(int rc)
{
    switch (rc) {
    case -BK_ECORRUPT:
    case -BK_EINVAL:
        return BK_ERR_INVALID_MSG; /* Kafka's CORRUPT_MESSAGE */
    case -BK_EUNSUPPORTED:
        return BK_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    case -BK_ETOOBIG:
        return BK_ERR_MSG_SIZE_TOO_LARGE;
    case -BK_EIO:
        return BK_ERR_KAFKA_STORAGE_ERROR;
    default:
        return BK_ERR_UNKNOWN;
    }
}

void bk_hdl_produce(bk_broker *b, bk_req *req)
{
    Brook__ProduceRequest *pr = req->msg->produce;
    bk_pool pool = BK_POOL_INIT;
    Brook__ProduceResponse body = BROOK__PRODUCE_RESPONSE__INIT;
    bool oom = false, failed = false;
    int32_t acks = pr->acks;
    bool acks_ok = acks == 0 || acks == 1 || acks == -1;

    if (pr->transactional_id && pr->transactional_id[0]) {
        /* No transactions yet: refuse rather than append half-supported
         * transactional batches. */
        bk_req_respond_error(req, BK_ERR_UNSUPPORTED_VERSION,
                             "transactions are not supported");
        return;
    }
    body.responses = bk_pool_calloc(
        &pool, pr->n_topic_data ? pr->n_topic_data : 1, sizeof *body.responses);
    oom |= !body.responses;
    /* acks=all: the partitions appended, waiting for the ISR. */
    size_t nparts = 0, nacks = 0;
    for (size_t ti = 0; ti < pr->n_topic_data; ti++)
        nparts += pr->topic_data[ti]->n_partition_data;
    bk_repl_ack *waits =
        acks == -1 ? bk_pool_calloc(&pool, nparts ? nparts : 1, sizeof *waits)
                   : NULL;
    oom |= acks == -1 && !waits;
    for (size_t ti = 0; !oom && ti < pr->n_topic_data; ti++) {
        Brook__TopicProduceData *td = pr->topic_data[ti];
        Brook__TopicProduceResponse *tr =
            BK_PNEW(&pool, Brook__TopicProduceResponse,
                    BROOK__TOPIC_PRODUCE_RESPONSE__INIT);
        if (!tr || !(tr->partition_responses = bk_pool_calloc(
                         &pool, td->n_partition_data ? td->n_partition_data : 1,
                         sizeof *tr->partition_responses))) {
            oom = true;
            break;
        }
        tr->name = td->name;
        body.responses[body.n_responses++] = tr;
        for (size_t pi = 0; pi < td->n_partition_data; pi++) {
            Brook__PartitionProduceData *pd = td->partition_data[pi];
            Brook__PartitionProduceResponse *r =
                BK_PNEW(&pool, Brook__PartitionProduceResponse,
                        BROOK__PARTITION_PRODUCE_RESPONSE__INIT);
            if (!r) {
                oom = true;
                break;
            }
            tr->partition_responses[tr->n_partition_responses++] = r;
            r->index = pd->index;
            r->base_offset = -1;
            r->log_append_time_ms = -1;
            r->log_start_offset = -1;
            int32_t err = 0;
            bk_part *part = NULL;
            if (!acks_ok)
                err = BK_ERR_INVALID_REQUIRED_ACKS;
            else
                part = bk_hdl_leader_part(b, td->name, pd->index, &err);
            if (part && acks == -1 && part->nisr < (size_t)part->min_isr) {
                err = BK_ERR_NOT_ENOUGH_REPLICAS;
                r->error_message = "the ISR is smaller than "
                                   "min.insync.replicas";
                part = NULL;
            }
            if (part) {
                bk_log_append_info info;
                int rc =
                    bk_log_append(part->log, pd->records.data, pd->records.len,
                                  part->leader_epoch, &info);
                if (rc == 0) {
                    r->base_offset = info.first_offset;
                    bk_metrics_produced(b->metrics, part, info.bytes,
                                        info.records);
                    bk_repl_appended(b->repl, part, info.bytes);
                    if (acks == -1)
                        waits[nacks++] =
                            (bk_repl_ack){.p = part,
                                          .required = info.last_offset + 1,
                                          .resp = r};
                } else {
                    err = append_error(rc);
                    BK_DEBUG(MOD, "produce to %s-%d from %s refused: %s",
                             td->name, pd->index, bk_req_peer(req),
                             bk_strerror(rc));
                }
                r->log_start_offset = bk_log_start_offset(part->log);
            }
            r->error_code = err;
            if (err) {
                failed = true;
                bk_metrics_request_error(b->metrics, BK_API_PRODUCE, err);
                if (err == BK_ERR_NOT_LEADER_FOR_PARTITION)
                    r->current_leader =
                        bk_hdl_current_leader(b, &pool, td->name, pd->index);
            }
        }
    }
    if (acks == 0) {
        /* No response; on failure Kafka closes the connection so that the
         * producer notices and refreshes its metadata. */
        bk_pool_free(&pool);
        if (failed || oom)
            bk_req_close_conn(req, "acks=0 produce failed");
        else
            bk_req_no_response(req);
        return;
    }
    /* acks=all: the answer waits until the ISR has every append
     * (broker/repl.h). */
    if (!oom && nacks > 0 &&
        bk_repl_wait_acks(b->repl, req, &pool, &body, waits, nacks,
                          pr->timeout_ms) == 0) {
        bk_pool_free(&pool); /* emptied: a no-op */
        return;
    }
    if (oom) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
    } else {
        Brook__Response resp = BROOK__RESPONSE__INIT;
        resp.body_case = BROOK__RESPONSE__BODY_PRODUCE;
        resp.produce = &body;
        bk_req_respond(req, &resp);
    }
    bk_pool_free(&pool);
}

/* -------------------------------- Fetch -------------------------------- */

typedef struct fetch_result {
    Brook__FetchResponse body;
    size_t bytes; /* record bytes in the response */
    bool error;   /* some partition has an error: answer at once */
    bool oom;
    bk_part **parts; /* partitions read (for waiting), nparts of them */
    Brook__FetchPartitionData **pds; /* their answers (metrics) */
    size_t nparts;
} fetch_result;

/* Reads p from offset into pd->records within limit bytes; first says
 * whether one batch may exceed the limit (KIP-74).  Returns 0 or a
 * protocol error code. */
static int32_t read_part(bk_pool *pool, bk_part *p, int64_t offset,
                         int64_t bound, size_t limit, bool first,
                         Brook__FetchPartitionData *pd, size_t *got)
{
    *got = 0;
    if (limit == 0 && !first)
        return 0;
    bk_log_slice sl[16];
    size_t ns = 0, total = 0;
    int64_t at = offset;
    while (ns < 16) {
        size_t room = limit > total ? limit - total : 0;
        if (room == 0 && !(first && total == 0))
            break;
        int rc = bk_log_read(p->log, at, room ? room : 1, bound, &sl[ns]);
        if (rc == -BK_ERANGE)
            return ns == 0 ? BK_ERR_OFFSET_OUT_OF_RANGE : 0;
        if (rc != 0) {
            BK_ERROR(MOD, "read of %s-%d at %lld failed: %s", p->topic,
                     p->index, (long long)at, bk_strerror(rc));
            if (ns == 0)
                return BK_ERR_KAFKA_STORAGE_ERROR;
            break;
        }
        if (sl[ns].len == 0)
            break;
        /* bk_log_read returns at least one batch; past the first one
         * only what fits the limit counts. */
        if (total + sl[ns].len > limit && !(first && total == 0))
            break;
        total += sl[ns].len;
        at = sl[ns].next_offset;
        ns++;
        if (bound >= 0 && at >= bound)
            break;
    }
    if (total == 0)
        return 0;
    uint8_t *buf = bk_pool_alloc(pool, total);
    if (!buf)
        return BK_ERR_UNKNOWN;
    size_t off = 0;
    for (size_t i = 0; i < ns; i++) {
        /* not pread(sl[i].fd): the later reads may have closed that fd
         * (the segment fd cache, broker/segment.h) */
        int rc = bk_log_read_slice(p->log, &sl[i], buf + off);
        if (rc != 0) {
            BK_ERROR(MOD, "read of %s-%d failed: %s", p->topic, p->index,
                     bk_strerror(rc));
            return BK_ERR_KAFKA_STORAGE_ERROR;
        }
        off += sl[i].len;
    }
    pd->records.data = buf;
    pd->records.len = total;
    *got = total;
    return 0;
}

static void fetch_build(bk_broker *b, const Brook__FetchRequest *fr,
                        bk_pool *pool, fetch_result *res)
{
    memset(res, 0, sizeof *res);
    res->body = (Brook__FetchResponse)BROOK__FETCH_RESPONSE__INIT;
    Brook__FetchResponse *body = &res->body;
    size_t nparts = 0;
    for (size_t ti = 0; ti < fr->n_topics; ti++)
        nparts += fr->topics[ti]->n_partitions;
    body->responses = bk_pool_calloc(pool, fr->n_topics ? fr->n_topics : 1,
                                     sizeof *body->responses);
    res->parts = bk_pool_calloc(pool, nparts ? nparts : 1, sizeof *res->parts);
    res->pds = bk_pool_calloc(pool, nparts ? nparts : 1, sizeof *res->pds);
    if (!body->responses || !res->parts || !res->pds) {
        res->oom = true;
        return;
    }
    size_t cap = (size_t)b->cfg->fetch_max_bytes;
    if (fr->max_bytes > 0 && (size_t)fr->max_bytes < cap)
        cap = (size_t)fr->max_bytes;
    size_t total = 0;
    bool first = true; /* no partition has returned data yet */
    for (size_t ti = 0; ti < fr->n_topics; ti++) {
        const Brook__FetchTopic *ft = fr->topics[ti];
        Brook__FetchableTopicResponse *tr =
            BK_PNEW(pool, Brook__FetchableTopicResponse,
                    BROOK__FETCHABLE_TOPIC_RESPONSE__INIT);
        if (!tr || !(tr->partitions = bk_pool_calloc(
                         pool, ft->n_partitions ? ft->n_partitions : 1,
                         sizeof *tr->partitions))) {
            res->oom = true;
            return;
        }
        tr->topic = ft->topic;
        body->responses[body->n_responses++] = tr;
        for (size_t pi = 0; pi < ft->n_partitions; pi++) {
            const Brook__FetchPartition *fp = ft->partitions[pi];
            Brook__FetchPartitionData *pd =
                BK_PNEW(pool, Brook__FetchPartitionData,
                        BROOK__FETCH_PARTITION_DATA__INIT);
            if (!pd) {
                res->oom = true;
                return;
            }
            tr->partitions[tr->n_partitions++] = pd;
            pd->partition_index = fp->partition;
            pd->high_watermark = -1;
            pd->last_stable_offset = -1;
            pd->log_start_offset = -1;
            int32_t err = 0;
            bk_part *p = bk_hdl_leader_part(b, ft->topic, fp->partition, &err);
            if (p && fp->current_leader_epoch >= 0 &&
                fp->current_leader_epoch != p->leader_epoch) {
                /* KIP-320 fencing. */
                err = fp->current_leader_epoch < p->leader_epoch
                          ? BK_ERR_FENCED_LEADER_EPOCH
                          : BK_ERR_UNKNOWN_LEADER_EPOCH;
                p = NULL;
            }
            /* A follower's fetch reads up to the log end and tells us its
             * LEO; a consumer's (or a non-replica's) reads below the high
             * watermark. */
            bool replica = p && fr->replica_id >= 0 &&
                           bk_repl_follower_fetch(b->repl, p, fr->replica_id,
                                                  fp->fetch_offset);
            if (p) {
                pd->high_watermark = p->hw;
                pd->last_stable_offset = p->hw;
                pd->log_start_offset = bk_log_start_offset(p->log);
                res->pds[res->nparts] = pd;
                res->parts[res->nparts++] = p;
                size_t limit = fp->partition_max_bytes > 0
                                   ? (size_t)fp->partition_max_bytes
                                   : 0;
                size_t room = cap > total ? cap - total : 0;
                if (room < limit)
                    limit = room;
                size_t got = 0;
                err = read_part(pool, p, fp->fetch_offset, replica ? -1 : p->hw,
                                limit, first, pd, &got);
                total += got;
                if (got > 0)
                    first = false;
            }
            if (err) {
                pd->error_code = err;
                res->error = true;
                if (err == BK_ERR_NOT_LEADER_FOR_PARTITION ||
                    err == BK_ERR_FENCED_LEADER_EPOCH)
                    pd->current_leader = bk_hdl_current_leader(
                        b, pool, ft->topic, fp->partition);
            }
        }
    }
    res->bytes = total;
}

/* Metrics of a fetch answer about to be sent: bytes and records per
 * topic, partition errors.  Only here, not in fetch_build: a long poll
 * builds answers it drops. */
static void fetch_count(bk_broker *b, const Brook__FetchRequest *fr,
                        const fetch_result *res)
{
    if (!b->metrics)
        return;
    for (size_t i = 0; i < res->nparts; i++) {
        const Brook__FetchPartitionData *pd = res->pds[i];
        bk_metrics_fetched(b->metrics, res->parts[i], fr->replica_id >= 0,
                           pd->records.data, pd->records.len);
    }
    const Brook__FetchResponse *body = &res->body;
    for (size_t ti = 0; ti < body->n_responses; ti++)
        for (size_t pi = 0; pi < body->responses[ti]->n_partitions; pi++)
            bk_metrics_request_error(
                b->metrics, BK_API_FETCH,
                body->responses[ti]->partitions[pi]->error_code);
}

static void fetch_answer(bk_broker *b, bk_req *req)
{
    bk_pool pool = BK_POOL_INIT;
    fetch_result res;
    fetch_build(b, req->msg->fetch, &pool, &res);
    if (res.oom) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
    } else {
        Brook__Response resp = BROOK__RESPONSE__INIT;
        resp.body_case = BROOK__RESPONSE__BODY_FETCH;
        resp.fetch = &res.body;
        fetch_count(b, req->msg->fetch, &res);
        bk_req_respond(req, &resp);
    }
    bk_pool_free(&pool);
}

static void fetch_run(bk_req *req, void *arg)
{
    fetch_answer(arg, req);
}

void bk_hdl_fetch(bk_broker *b, bk_req *req)
{
    const Brook__FetchRequest *fr = req->msg->fetch;
    bk_pool pool = BK_POOL_INIT;
    fetch_result res;
    fetch_build(b, fr, &pool, &res);
    bool now = res.oom || res.error || b->stopping || fr->max_wait_ms <= 0 ||
               res.nparts == 0 || (int64_t)res.bytes >= fr->min_bytes;
    if (!now) {
        /* Long poll: wait for appends, the timer or a state change, then
         * read again (the data read now is dropped: it is below
         * min_bytes and will be read again with whatever arrives). */
        int rc = fr->replica_id >= 0
                     ? bk_fw_wait_replica(b->fwq, req, res.parts, res.nparts,
                                          (int64_t)res.bytes, fr->min_bytes,
                                          fr->max_wait_ms, fetch_run, NULL, b)
                     : bk_fw_wait(b->fwq, req, res.parts, res.nparts,
                                  (int64_t)res.bytes, fr->min_bytes,
                                  fr->max_wait_ms, fetch_run, NULL, b);
        if (rc == 0) {
            bk_pool_free(&pool);
            return;
        }
    }
    if (res.oom) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
    } else {
        Brook__Response resp = BROOK__RESPONSE__INIT;
        resp.body_case = BROOK__RESPONSE__BODY_FETCH;
        resp.fetch = &res.body;
        fetch_count(b, req->msg->fetch, &res);
        bk_req_respond(req, &resp);
    }
    bk_pool_free(&pool);
}

/* ----------------------------- ListOffsets ----------------------------- */

void bk_hdl_list_offsets(bk_broker *b, bk_req *req)
{
    const Brook__ListOffsetsRequest *lr = req->msg->list_offsets;
    bk_pool pool = BK_POOL_INIT;
    Brook__ListOffsetsResponse body = BROOK__LIST_OFFSETS_RESPONSE__INIT;
    bool oom = false;
    body.topics = bk_pool_calloc(&pool, lr->n_topics ? lr->n_topics : 1,
                                 sizeof *body.topics);
    oom |= !body.topics;
    for (size_t ti = 0; !oom && ti < lr->n_topics; ti++) {
        const Brook__ListOffsetsTopic *lt = lr->topics[ti];
        Brook__ListOffsetsTopicResponse *tr =
            BK_PNEW(&pool, Brook__ListOffsetsTopicResponse,
                    BROOK__LIST_OFFSETS_TOPIC_RESPONSE__INIT);
        if (!tr || !(tr->partitions = bk_pool_calloc(
                         &pool, lt->n_partitions ? lt->n_partitions : 1,
                         sizeof *tr->partitions))) {
            oom = true;
            break;
        }
        tr->name = lt->name;
        body.topics[body.n_topics++] = tr;
        for (size_t pi = 0; pi < lt->n_partitions; pi++) {
            const Brook__ListOffsetsPartition *lp = lt->partitions[pi];
            Brook__ListOffsetsPartitionResponse *r =
                BK_PNEW(&pool, Brook__ListOffsetsPartitionResponse,
                        BROOK__LIST_OFFSETS_PARTITION_RESPONSE__INIT);
            if (!r) {
                oom = true;
                break;
            }
            tr->partitions[tr->n_partitions++] = r;
            r->partition_index = lp->partition_index;
            r->timestamp = -1;
            r->offset = -1;
            r->leader_epoch = -1;
            int32_t err = 0;
            bk_part *p =
                bk_hdl_leader_part(b, lt->name, lp->partition_index, &err);
            if (p && lp->current_leader_epoch >= 0 &&
                lp->current_leader_epoch != p->leader_epoch) {
                err = lp->current_leader_epoch < p->leader_epoch
                          ? BK_ERR_FENCED_LEADER_EPOCH
                          : BK_ERR_UNKNOWN_LEADER_EPOCH;
                p = NULL;
            }
            if (p) {
                r->leader_epoch = p->leader_epoch;
                if (lp->timestamp == BK_LOG_LATEST_TIMESTAMP) {
                    /* A consumer sees up to the high watermark. */
                    r->offset =
                        lr->replica_id >= 0 ? bk_log_end_offset(p->log) : p->hw;
                } else if (lp->timestamp == BK_LOG_EARLIEST_TIMESTAMP) {
                    r->offset = bk_log_start_offset(p->log);
                } else if (lp->timestamp < 0) {
                    err = BK_ERR_INVALID_REQUEST;
                } else {
                    int64_t off, ts;
                    int rc = bk_log_offset_for_time(p->log, lp->timestamp, &off,
                                                    &ts);
                    if (rc == 0 && off < p->hw) {
                        r->offset = off;
                        r->timestamp = ts;
                    } else if (rc != 0 && rc != -BK_ENOENT) {
                        err = rc == -BK_EIO || rc == -BK_ECORRUPT
                                  ? BK_ERR_KAFKA_STORAGE_ERROR
                                  : BK_ERR_UNKNOWN;
                    }
                    /* Not found: offset -1, timestamp -1 (Kafka). */
                }
            }
            r->error_code = err;
        }
    }
    if (oom) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
    } else {
        Brook__Response resp = BROOK__RESPONSE__INIT;
        resp.body_case = BROOK__RESPONSE__BODY_LIST_OFFSETS;
        resp.list_offsets = &body;
        bk_req_respond(req, &resp);
    }
    bk_pool_free(&pool);
}

/* ------------------------- OffsetForLeaderEpoch ------------------------- */

void bk_hdl_offset_for_leader_epoch(bk_broker *b, bk_req *req)
{
    const Brook__OffsetForLeaderEpochRequest *er =
        req->msg->offset_for_leader_epoch;
    bk_pool pool = BK_POOL_INIT;
    Brook__OffsetForLeaderEpochResponse body =
        BROOK__OFFSET_FOR_LEADER_EPOCH_RESPONSE__INIT;
    bool oom = false;
    body.topics = bk_pool_calloc(&pool, er->n_topics ? er->n_topics : 1,
                                 sizeof *body.topics);
    oom |= !body.topics;
    for (size_t ti = 0; !oom && ti < er->n_topics; ti++) {
        const Brook__OffsetForLeaderTopic *t = er->topics[ti];
        Brook__OffsetForLeaderTopicResult *tr =
            BK_PNEW(&pool, Brook__OffsetForLeaderTopicResult,
                    BROOK__OFFSET_FOR_LEADER_TOPIC_RESULT__INIT);
        if (!tr || !(tr->partitions = bk_pool_calloc(
                         &pool, t->n_partitions ? t->n_partitions : 1,
                         sizeof *tr->partitions))) {
            oom = true;
            break;
        }
        tr->topic = t->topic;
        body.topics[body.n_topics++] = tr;
        for (size_t pi = 0; pi < t->n_partitions; pi++) {
            const Brook__OffsetForLeaderPartition *lp = t->partitions[pi];
            Brook__EpochEndOffset *r = BK_PNEW(&pool, Brook__EpochEndOffset,
                                               BROOK__EPOCH_END_OFFSET__INIT);
            if (!r) {
                oom = true;
                break;
            }
            tr->partitions[tr->n_partitions++] = r;
            r->partition = lp->partition;
            r->leader_epoch = -1;
            r->end_offset = -1;
            int32_t err = 0;
            bk_part *p = bk_hdl_leader_part(b, t->topic, lp->partition, &err);
            if (p && lp->current_leader_epoch >= 0 &&
                lp->current_leader_epoch != p->leader_epoch) {
                err = lp->current_leader_epoch < p->leader_epoch
                          ? BK_ERR_FENCED_LEADER_EPOCH
                          : BK_ERR_UNKNOWN_LEADER_EPOCH;
                p = NULL;
            }
            if (p)
                bk_log_end_offset_for_epoch(p->log, lp->leader_epoch,
                                            &r->leader_epoch, &r->end_offset);
            r->error_code = err;
        }
    }
    if (oom) {
        bk_req_respond_error(req, BK_ERR_UNKNOWN, "out of memory");
    } else {
        Brook__Response resp = BROOK__RESPONSE__INIT;
        resp.body_case = BROOK__RESPONSE__BODY_OFFSET_FOR_LEADER_EPOCH;
        resp.offset_for_leader_epoch = &body;
        bk_req_respond(req, &resp);
    }
    bk_pool_free(&pool);
}
