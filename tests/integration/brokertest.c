/*
 * brokertest.c -- request helpers for the broker suites (see
 * brokertest.h).
 */
#include "tests/integration/brokertest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/batch.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fileio.h"
#include "coordinator/zk.h"
#include "proto/protocol.h"

int32_t bt_corr(void)
{
    /* atomic: test threads (a steady client beside the main thread)
     * take ids concurrently */
    static _Atomic int32_t next = 1000;
    return ++next;
}

int bt_batch(bk_buf *out, const char *tag, int first, int n, int64_t ts0)
{
    bk_batch_builder b;
    if (bk_batch_builder_init(&b, BK_CODEC_NONE) != 0)
        return -1;
    int64_t now = ts0 >= 0 ? ts0 : bk_clock_wall_ms();
    for (int i = 0; i < n; i++) {
        char key[32], val[128];
        int kl = snprintf(key, sizeof key, "k%d", first + i);
        int vl = snprintf(val, sizeof val, "%s-%d", tag, first + i);
        bk_record r = {.key = key,
                       .key_len = kl,
                       .value = val,
                       .value_len = vl,
                       .timestamp = now + i};
        if (bk_batch_builder_add(&b, &r) != 0) {
            bk_batch_builder_free(&b);
            return -1;
        }
    }
    int rc = bk_batch_builder_finish(&b, out);
    bk_batch_builder_free(&b);
    return rc == 0 ? 0 : -1;
}

int bt_produce_raw(int fd, const char *topic, int32_t p, int acks,
                   const uint8_t *records, size_t len, int64_t *base_offset)
{
    Brook__Request req;
    bk_h_req_init(&req, BK_API_PRODUCE, bt_corr());
    Brook__ProduceRequest pr = BROOK__PRODUCE_REQUEST__INIT;
    Brook__TopicProduceData td = BROOK__TOPIC_PRODUCE_DATA__INIT;
    Brook__PartitionProduceData pd = BROOK__PARTITION_PRODUCE_DATA__INIT;
    Brook__TopicProduceData *tdp = &td;
    Brook__PartitionProduceData *pdp = &pd;
    pr.acks = acks;
    pr.timeout_ms = 10000;
    pr.n_topic_data = 1;
    pr.topic_data = &tdp;
    td.name = (char *)topic;
    td.n_partition_data = 1;
    td.partition_data = &pdp;
    pd.index = p;
    pd.records.data = (uint8_t *)records;
    pd.records.len = len;
    req.body_case = BROOK__REQUEST__BODY_PRODUCE;
    req.produce = &pr;
    if (acks == 0)
        return bk_h_send_request(fd, &req) == 0 ? 0 : -1;
    Brook__Response *resp = bk_h_call(fd, &req, 10000);
    if (!resp)
        return -1;
    int rc = -1;
    if (resp->header->correlation_id == req.header->correlation_id &&
        resp->produce && resp->produce->n_responses == 1 &&
        resp->produce->responses[0]->n_partition_responses == 1) {
        Brook__PartitionProduceResponse *r =
            resp->produce->responses[0]->partition_responses[0];
        rc = r->error_code;
        if (base_offset)
            *base_offset = r->base_offset;
    } else if (resp->header->error_code) {
        rc = resp->header->error_code;
    }
    brook__response__free_unpacked(resp, NULL);
    return rc;
}

int bt_produce(int fd, const char *topic, int32_t p, int acks, const char *tag,
               int first, int n, int64_t *base_offset)
{
    bk_buf b = BK_BUF_INIT;
    if (bt_batch(&b, tag, first, n, -1) != 0) {
        bk_buf_free(&b);
        return -1;
    }
    int rc = bt_produce_raw(fd, topic, p, acks, b.data, b.len, base_offset);
    bk_buf_free(&b);
    return rc;
}

int bt_fetch_send(int fd, int32_t corr, const char *topic, int32_t p,
                  int64_t offset, int max_wait_ms, int min_bytes, int max_bytes,
                  int part_max_bytes)
{
    Brook__Request req;
    bk_h_req_init(&req, BK_API_FETCH, corr);
    Brook__FetchRequest fr = BROOK__FETCH_REQUEST__INIT;
    Brook__FetchTopic ft = BROOK__FETCH_TOPIC__INIT;
    Brook__FetchPartition fp = BROOK__FETCH_PARTITION__INIT;
    Brook__FetchTopic *ftp = &ft;
    Brook__FetchPartition *fpp = &fp;
    fr.replica_id = -1;
    fr.max_wait_ms = max_wait_ms;
    fr.min_bytes = min_bytes;
    fr.max_bytes = max_bytes;
    fr.n_topics = 1;
    fr.topics = &ftp;
    ft.topic = (char *)topic;
    ft.n_partitions = 1;
    ft.partitions = &fpp;
    fp.partition = p;
    fp.current_leader_epoch = -1;
    fp.fetch_offset = offset;
    fp.log_start_offset = -1;
    fp.partition_max_bytes = part_max_bytes;
    req.body_case = BROOK__REQUEST__BODY_FETCH;
    req.fetch = &fr;
    return bk_h_send_request(fd, &req);
}

/* Room for one more record in *v (n in use): the array doubles when n is
 * 0 or a power of two, so appends cost O(1) amortised (a kill-loop log of
 * 100k records would be quadratic with one realloc per record). */
static bt_rec *push_rec(bt_rec **v, size_t n)
{
    if (n == 0 || (n & (n - 1)) == 0) {
        bt_rec *nv = realloc(*v, (n ? 2 * n : 16) * sizeof *nv);
        if (!nv)
            return NULL;
        *v = nv;
    }
    return &(*v)[n];
}

/* Decodes the batches of records[0..len) into r->recs. */
static void decode_records(const uint8_t *p, size_t len, int64_t from,
                           bt_fetch_res *r)
{
    size_t pos = 0;
    while (pos + BK_BATCH_HEADER_SIZE <= len) {
        bk_batch_header h;
        if (bk_batch_parse_header(p + pos, len - pos, &h) != 0)
            break;
        size_t sz = bk_batch_size(&h);
        if (pos + sz > len)
            break; /* a partial batch at the end is allowed */
        bk_batch_iter it;
        if (bk_batch_iter_init(&it, p + pos, sz, 64u << 20) == 0) {
            bk_record_view v;
            while (bk_batch_iter_next(&it, &v) == 1) {
                if (v.offset < from)
                    continue;
                bt_rec *rec = push_rec(&r->recs, r->nrecs);
                if (!rec)
                    break;
                r->nrecs++;
                rec->offset = v.offset;
                rec->timestamp = v.timestamp;
                int n = v.value_len < 0 ? 0 : v.value_len;
                if (n > (int)sizeof rec->value - 1)
                    n = (int)sizeof rec->value - 1;
                memcpy(rec->value, v.value, (size_t)n);
                rec->value[n] = '\0';
            }
        } else {
            r->error = -2; /* the broker returned a bad batch */
        }
        bk_batch_iter_free(&it);
        pos += sz;
    }
}

void bt_fetch_recv(int fd, int32_t corr, int64_t offset, int timeout_ms,
                   bt_fetch_res *out)
{
    memset(out, 0, sizeof *out);
    out->error = -1;
    Brook__Response *resp = NULL;
    if (bk_h_recv_response(fd, timeout_ms, &resp) != 0 || !resp)
        return;
    if (resp->header->correlation_id == corr && resp->fetch &&
        resp->fetch->n_responses == 1 &&
        resp->fetch->responses[0]->n_partitions == 1) {
        Brook__FetchPartitionData *pd =
            resp->fetch->responses[0]->partitions[0];
        out->error = pd->error_code;
        out->hw = pd->high_watermark;
        out->log_start = pd->log_start_offset;
        out->bytes = pd->records.len;
        decode_records(pd->records.data, pd->records.len, offset, out);
    } else if (resp->header->error_code) {
        out->error = resp->header->error_code;
    }
    brook__response__free_unpacked(resp, NULL);
}

void bt_fetch(int fd, const char *topic, int32_t p, int64_t offset,
              int max_wait_ms, int min_bytes, bt_fetch_res *out)
{
    int32_t corr = bt_corr();
    if (bt_fetch_send(fd, corr, topic, p, offset, max_wait_ms, min_bytes,
                      1 << 20, 1 << 20) != 0) {
        memset(out, 0, sizeof *out);
        out->error = -1;
        return;
    }
    bt_fetch_recv(fd, corr, offset, max_wait_ms + 10000, out);
}

void bt_fetch_free(bt_fetch_res *r)
{
    free(r->recs);
    r->recs = NULL;
    r->nrecs = 0;
}

void bt_fetch_all(int fd, const char *topic, int32_t p, bt_fetch_res *out)
{
    memset(out, 0, sizeof *out);
    int64_t at = 0;
    for (int rounds = 0; rounds < 10000; rounds++) {
        bt_fetch_res r;
        bt_fetch(fd, topic, p, at, 0, 1, &r);
        if (r.error != 0) {
            out->error = r.error;
            bt_fetch_free(&r);
            return;
        }
        out->hw = r.hw;
        out->log_start = r.log_start;
        for (size_t i = 0; i < r.nrecs; i++) {
            bt_rec *rec = push_rec(&out->recs, out->nrecs);
            if (!rec)
                break;
            *rec = r.recs[i];
            out->nrecs++;
        }
        if (r.nrecs > 0)
            at = r.recs[r.nrecs - 1].offset + 1;
        bt_fetch_free(&r);
        if (at >= out->hw || r.bytes == 0)
            return;
    }
}

int bt_create_topic(int fd, const char *topic, int partitions, int rf)
{
    return bt_create_topic_cfg(fd, topic, partitions, rf, NULL);
}

int bt_create_topic_cfg(int fd, const char *topic, int partitions, int rf,
                        const char *const *cfg)
{
    Brook__CreatableTopicConfig cv[16];
    Brook__CreatableTopicConfig *cvp[16];
    size_t nc = 0;
    for (; cfg && cfg[2 * nc] && nc < 16; nc++) {
        brook__creatable_topic_config__init(&cv[nc]);
        cv[nc].name = (char *)cfg[2 * nc];
        cv[nc].value = (char *)cfg[2 * nc + 1];
        cvp[nc] = &cv[nc];
    }
    Brook__Request req;
    bk_h_req_init(&req, BK_API_CREATE_TOPICS, bt_corr());
    Brook__CreateTopicsRequest cr = BROOK__CREATE_TOPICS_REQUEST__INIT;
    Brook__CreatableTopic t = BROOK__CREATABLE_TOPIC__INIT;
    Brook__CreatableTopic *tp = &t;
    t.name = (char *)topic;
    t.num_partitions = partitions;
    t.replication_factor = rf;
    t.n_configs = nc;
    t.configs = cvp;
    cr.n_topics = 1;
    cr.topics = &tp;
    cr.timeout_ms = 10000;
    req.body_case = BROOK__REQUEST__BODY_CREATE_TOPICS;
    req.create_topics = &cr;
    Brook__Response *resp = bk_h_call(fd, &req, 15000);
    if (!resp)
        return -1;
    int rc = -1;
    if (resp->create_topics && resp->create_topics->n_topics == 1)
        rc = resp->create_topics->topics[0]->error_code;
    else if (resp->header->error_code)
        rc = resp->header->error_code;
    brook__response__free_unpacked(resp, NULL);
    return rc;
}

int bt_delete_topic(int fd, const char *topic)
{
    Brook__Request req;
    bk_h_req_init(&req, BK_API_DELETE_TOPICS, bt_corr());
    Brook__DeleteTopicsRequest dr = BROOK__DELETE_TOPICS_REQUEST__INIT;
    char *names[1] = {(char *)topic};
    dr.n_topic_names = 1;
    dr.topic_names = names;
    dr.timeout_ms = 10000;
    req.body_case = BROOK__REQUEST__BODY_DELETE_TOPICS;
    req.delete_topics = &dr;
    Brook__Response *resp = bk_h_call(fd, &req, 15000);
    if (!resp)
        return -1;
    int rc = -1;
    if (resp->delete_topics && resp->delete_topics->n_responses == 1)
        rc = resp->delete_topics->responses[0]->error_code;
    else if (resp->header->error_code)
        rc = resp->header->error_code;
    brook__response__free_unpacked(resp, NULL);
    return rc;
}

int bt_list_offsets(int fd, const char *topic, int32_t p, int64_t ts,
                    int64_t *offset, int64_t *found_ts)
{
    Brook__Request req;
    bk_h_req_init(&req, BK_API_LIST_OFFSETS, bt_corr());
    Brook__ListOffsetsRequest lr = BROOK__LIST_OFFSETS_REQUEST__INIT;
    Brook__ListOffsetsTopic lt = BROOK__LIST_OFFSETS_TOPIC__INIT;
    Brook__ListOffsetsPartition lp = BROOK__LIST_OFFSETS_PARTITION__INIT;
    Brook__ListOffsetsTopic *ltp = &lt;
    Brook__ListOffsetsPartition *lpp = &lp;
    lr.replica_id = -1;
    lr.n_topics = 1;
    lr.topics = &ltp;
    lt.name = (char *)topic;
    lt.n_partitions = 1;
    lt.partitions = &lpp;
    lp.partition_index = p;
    lp.current_leader_epoch = -1;
    lp.timestamp = ts;
    req.body_case = BROOK__REQUEST__BODY_LIST_OFFSETS;
    req.list_offsets = &lr;
    Brook__Response *resp = bk_h_call(fd, &req, 10000);
    if (!resp)
        return -1;
    int rc = -1;
    if (resp->list_offsets && resp->list_offsets->n_topics == 1 &&
        resp->list_offsets->topics[0]->n_partitions == 1) {
        Brook__ListOffsetsPartitionResponse *r =
            resp->list_offsets->topics[0]->partitions[0];
        rc = r->error_code;
        if (offset)
            *offset = r->offset;
        if (found_ts)
            *found_ts = r->timestamp;
    }
    brook__response__free_unpacked(resp, NULL);
    return rc;
}

Brook__Response *bt_metadata(int fd, const char *topic, bool auto_create)
{
    Brook__Request req;
    bk_h_req_init(&req, BK_API_METADATA, bt_corr());
    Brook__MetadataRequest mr = BROOK__METADATA_REQUEST__INIT;
    Brook__MetadataRequestTopic t = BROOK__METADATA_REQUEST_TOPIC__INIT;
    Brook__MetadataRequestTopic *tp = &t;
    if (topic) {
        t.name = (char *)topic;
        mr.n_topics = 1;
        mr.topics = &tp;
    }
    mr.allow_auto_topic_creation = auto_create;
    req.body_case = BROOK__REQUEST__BODY_METADATA;
    req.metadata = &mr;
    Brook__Response *resp = bk_h_call(fd, &req, 10000);
    if (resp && !resp->metadata) {
        brook__response__free_unpacked(resp, NULL);
        return NULL;
    }
    return resp;
}

int bt_leader(int port, const char *topic, int32_t p)
{
    int fd = bk_h_connect(port);
    if (fd < 0)
        return -1;
    Brook__Response *resp = bt_metadata(fd, topic, false);
    close(fd);
    int leader = -1;
    if (resp && resp->metadata->n_topics == 1) {
        Brook__MetadataResponseTopic *t = resp->metadata->topics[0];
        if (p >= 0 && (size_t)p < t->n_partitions)
            leader = t->partitions[p]->leader_id;
    }
    if (resp)
        brook__response__free_unpacked(resp, NULL);
    return leader;
}

bool bt_file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf)
        return false;
    buf[n] = '\0';
    bool found = strstr(buf, needle) != NULL;
    free(buf);
    return found;
}

int bt_zk_exists(const char *connect, const char *path)
{
    bk_zk_opts o = {.connect = connect,
                    .session_timeout_ms = 6000,
                    .connect_timeout_ms = 5000};
    bk_zk *zk = NULL;
    char err[256];
    if (bk_zk_open(&o, &zk, err, sizeof err) != 0)
        return -2;
    int rc = bk_zk_exists(zk, path, NULL, NULL, NULL);
    bk_zk_close(zk);
    return rc == 0 ? 0 : rc == -BK_ENOENT ? -1 : -2;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int bt_read_log(const char *dir, bk_buf *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 1024) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".log") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *data = NULL;
        size_t len = 0;
        if (rc == 0 && bk_file_read_all(path, 1u << 30, &data, &len) != 0)
            rc = -1;
        if (data)
            bk_buf_put(out, data, len);
        free(data);
        free(names[i]);
    }
    return rc;
}

int bt_port_of(const bk_h_cluster *cl, int id)
{
    for (int i = 0; i < cl->n; i++)
        if (cl->broker[i].id == id)
            return cl->broker[i].port;
    return -1;
}

int bt_find_coordinator(int port, const char *group, int32_t *node)
{
    *node = -1;
    int fd = bk_h_connect(port);
    if (fd < 0)
        return -1;
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_h_req_init(&req, BK_API_FIND_COORDINATOR, bt_corr());
    Brook__FindCoordinatorRequest fr = BROOK__FIND_COORDINATOR_REQUEST__INIT;
    fr.key = (char *)group;
    req.body_case = BROOK__REQUEST__BODY_FIND_COORDINATOR;
    req.find_coordinator = &fr;
    Brook__Response *resp = bk_h_call(fd, &req, 5000);
    close(fd);
    int err = -1;
    if (resp && resp->find_coordinator) {
        err = resp->find_coordinator->error_code;
        if (err == 0)
            *node = resp->find_coordinator->node_id;
    }
    if (resp)
        brook__response__free_unpacked(resp, NULL);
    return err;
}
