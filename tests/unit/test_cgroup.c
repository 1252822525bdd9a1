/*
 * test_cgroup.c -- libbrook's consumer-group member (client/cgroup.c)
 * against an in-process fake: a thread serving two "brokers" (two
 * listening sockets, node ids 1 and 2) that answer Metadata, ListOffsets
 * and Fetch for a topic of 4 partitions holding 10 records each, and act
 * as a scripted group coordinator (FindCoordinator, JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch).  The fake records
 * every group request in order, decodes the consumer-protocol bytes with
 * its own reader (not the library's), and can be told to answer an error
 * once, to move the coordinator, or to add a second (synthetic) member to
 * the group so that the client, as leader, assigns for two.
 *
 * The client is checked by what it sends and what it hands the
 * application: join/sync contents, the leader's range assignment, start
 * positions from committed offsets or auto.offset.reset, commit before
 * revocation, rediscovery after NOT_COORDINATOR, auto commit timing,
 * LeaveGroup at close.
 */
#include <CUnit/CUnit.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/brook.h"
#include "common/batch.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/frame.h"
#include "tests/unit/cu_main.h"

#define NPARTS  4
#define NRECS   10
#define MAXEV   512
#define MAXCONN 16

static const char *TOPIC = "t";

/* One group request as the fake saw it. */
typedef struct fev {
    int api, node;
    int64_t at; /* monotonic ms */
    char member[64];
    int32_t generation;
    int32_t err; /* what the fake answered */
    /* OffsetCommit (topic t only) */
    int64_t off[NPARTS]; /* -1: not in the commit */
} fev;

typedef struct fake {
    int lfd[2], port[2];
    pthread_t th;
    volatile int stop;
    pthread_mutex_t mu;
    bk_buf log[NPARTS]; /* one batch of NRECS records per partition */
    /* group state */
    int coord_node;        /* 1 or 2 */
    int md_parts;          /* partitions Metadata reports (<= NPARTS) */
    int require_member_id; /* first JoinGroup: MEMBER_ID_REQUIRED */
    int other_member;      /* a synthetic second member "m-2" */
    int32_t generation;
    int32_t hb_err, hb_err_count; /* answer heartbeats with hb_err */
    int32_t join_err;             /* answer the next JoinGroup with it */
    int32_t commit_err, commit_err_count;
    int64_t committed[NPARTS]; /* -1 none */
    /* what the client sent */
    fev ev[MAXEV];
    int nev;
    char join_member[64];
    char join_protocols[128]; /* names joined by ',' */
    char join_topics[128];    /* subscription topics joined by ',' */
    char join_ptype[32];
    int32_t join_session, join_rebalance;
    char sync_assign[2][128]; /* per member "m-1=t:0,1" */
    char client_assign[128];  /* assignment bytes returned to m-1 */
    size_t client_assign_len;
    uint8_t client_assign_raw[256];
    uint8_t forced_assign[64]; /* when forced_len: SyncGroup answers this */
    size_t forced_len;
} fake;

typedef struct fconn {
    int fd, node;
    bk_buf in;
    bk_frame_dec dec;
} fconn;

/* ------------------------ consumer protocol reader ------------------------
 * independent of client/assignor.c: Kafka's encoding, big-endian */

typedef struct rd {
    const uint8_t *p;
    size_t n, i;
    int bad;
} rd;

static int64_t rd_int(rd *r, int bytes)
{
    if (r->i + (size_t)bytes > r->n) {
        r->bad = 1;
        return 0;
    }
    int64_t v = 0;
    for (int k = 0; k < bytes; k++)
        v = (v << 8) | r->p[r->i++];
    if (bytes == 2)
        return (int16_t)v;
    if (bytes == 4)
        return (int32_t)v;
    return v;
}

static void rd_str(rd *r, char *out, size_t cap)
{
    int64_t len = rd_int(r, 2);
    if (r->bad || len < 0 || r->i + (size_t)len > r->n || (size_t)len >= cap) {
        r->bad = 1;
        out[0] = 0;
        return;
    }
    memcpy(out, r->p + r->i, (size_t)len);
    out[len] = 0;
    r->i += (size_t)len;
}

/* Subscription: the topics as "a,b". */
static int decode_sub(const uint8_t *p, size_t n, char *topics, size_t cap)
{
    rd r = {p, n, 0, 0};
    rd_int(&r, 2); /* version */
    int64_t nt = rd_int(&r, 4);
    topics[0] = 0;
    for (int64_t i = 0; i < nt && !r.bad; i++) {
        char t[64];
        rd_str(&r, t, sizeof t);
        if (i)
            strncat(topics, ",", cap - strlen(topics) - 1);
        strncat(topics, t, cap - strlen(topics) - 1);
    }
    return r.bad ? -1 : 0;
}

/* Assignment: "t:0,1;u:3". */
static int decode_assign(const uint8_t *p, size_t n, char *out, size_t cap)
{
    rd r = {p, n, 0, 0};
    out[0] = 0;
    if (n == 0)
        return 0;
    rd_int(&r, 2);
    int64_t nt = rd_int(&r, 4);
    for (int64_t i = 0; i < nt && !r.bad; i++) {
        char t[64], buf[32];
        rd_str(&r, t, sizeof t);
        if (i)
            strncat(out, ";", cap - strlen(out) - 1);
        strncat(out, t, cap - strlen(out) - 1);
        strncat(out, ":", cap - strlen(out) - 1);
        int64_t np = rd_int(&r, 4);
        for (int64_t j = 0; j < np && !r.bad; j++) {
            snprintf(buf, sizeof buf, "%s%d", j ? "," : "", (int)rd_int(&r, 4));
            strncat(out, buf, cap - strlen(out) - 1);
        }
    }
    int64_t ud = rd_int(&r, 4); /* user data */
    if (ud > 0)
        r.i += (size_t)ud;
    return r.bad ? -1 : 0;
}

/* A subscription v0 to topic t, for the synthetic member. */
static void encode_sub(bk_buf *b, const char *t)
{
    bk_buf_put_i16(b, 0);
    bk_buf_put_i32(b, 1);
    bk_buf_put_i16(b, (int16_t)strlen(t));
    bk_buf_put(b, t, strlen(t));
    bk_buf_put_i32(b, -1);
}

/* ------------------------------ the fake ------------------------------ */

static void send_resp(int fd, Brook__Request *req, Brook__Response *r)
{
    Brook__ResponseHeader h = BROOK__RESPONSE_HEADER__INIT;
    h.correlation_id = req->header->correlation_id;
    h.api_key = req->header->api_key;
    r->header = &h;
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

static fev *ev_add(fake *f, int api, int node)
{
    if (f->nev >= MAXEV)
        return &f->ev[MAXEV - 1];
    fev *e = &f->ev[f->nev++];
    memset(e, 0, sizeof *e);
    e->api = api;
    e->node = node;
    e->at = bk_clock_mono_ms();
    for (int i = 0; i < NPARTS; i++)
        e->off[i] = -1;
    return e;
}

static void fake_metadata(fake *f, int fd, Brook__Request *req)
{
    Brook__MetadataResponseBroker b[2], *bs[2];
    for (int i = 0; i < 2; i++) {
        brook__metadata_response_broker__init(&b[i]);
        b[i].node_id = i + 1;
        b[i].host = "127.0.0.1";
        b[i].port = f->port[i];
        bs[i] = &b[i];
    }
    Brook__MetadataResponsePartition p[NPARTS], *pp[NPARTS];
    for (int i = 0; i < NPARTS; i++) {
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
            t[i].n_partitions = (size_t)f->md_parts;
            t[i].partitions = pp;
        } else {
            t[i].error_code = BK_ERR_UNKNOWN_TOPIC_OR_PART;
        }
        tp[i] = &t[i];
    }
    Brook__MetadataResponse m = BROOK__METADATA_RESPONSE__INIT;
    m.n_brokers = 2;
    m.brokers = bs;
    m.n_topics = nt;
    m.topics = tp;
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.body_case = BROOK__RESPONSE__BODY_METADATA;
    r.metadata = &m;
    send_resp(fd, req, &r);
    free(t);
    free(tp);
}

static void fake_list(fake *f, int fd, Brook__Request *req)
{
    (void)f;
    Brook__ListOffsetsRequest *lr = req->list_offsets;
    Brook__ListOffsetsTopicResponse t =
        BROOK__LIST_OFFSETS_TOPIC_RESPONSE__INIT;
    Brook__ListOffsetsTopicResponse *tp = &t;
    Brook__ListOffsetsPartitionResponse p[NPARTS], *pp[NPARTS];
    t.name = (char *)TOPIC;
    t.partitions = pp;
    for (size_t k = 0;
         lr->n_topics && k < lr->topics[0]->n_partitions && k < NPARTS; k++) {
        Brook__ListOffsetsPartition *q = lr->topics[0]->partitions[k];
        brook__list_offsets_partition_response__init(&p[k]);
        p[k].partition_index = q->partition_index;
        p[k].timestamp = -1;
        p[k].offset = q->timestamp == -2 ? 0 : NRECS;
        pp[k] = &p[k];
        t.n_partitions++;
    }
    Brook__ListOffsetsResponse l = BROOK__LIST_OFFSETS_RESPONSE__INIT;
    l.n_topics = 1;
    l.topics = &tp;
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.body_case = BROOK__RESPONSE__BODY_LIST_OFFSETS;
    r.list_offsets = &l;
    send_resp(fd, req, &r);
}

static void fake_fetch(fake *f, int fd, Brook__Request *req)
{
    Brook__FetchRequest *fr = req->fetch;
    Brook__FetchableTopicResponse t = BROOK__FETCHABLE_TOPIC_RESPONSE__INIT;
    Brook__FetchableTopicResponse *tp = &t;
    Brook__FetchPartitionData p[NPARTS], *pp[NPARTS];
    t.topic = (char *)TOPIC;
    t.partitions = pp;
    size_t total = 0;
    for (size_t k = 0;
         fr->n_topics && k < fr->topics[0]->n_partitions && k < NPARTS; k++) {
        Brook__FetchPartition *q = fr->topics[0]->partitions[k];
        brook__fetch_partition_data__init(&p[k]);
        p[k].partition_index = q->partition;
        p[k].high_watermark = NRECS;
        if (q->partition < 0 || q->partition >= NPARTS ||
            q->fetch_offset > NRECS || q->fetch_offset < 0) {
            p[k].error_code = BK_ERR_OFFSET_OUT_OF_RANGE;
        } else if (q->fetch_offset < NRECS) {
            p[k].records.data = f->log[q->partition].data;
            p[k].records.len = f->log[q->partition].len;
            total += p[k].records.len;
        }
        pp[k] = &p[k];
        t.n_partitions++;
    }
    if (total == 0 && fr->max_wait_ms > 0) {
        pthread_mutex_unlock(&f->mu);
        usleep(20000);
        pthread_mutex_lock(&f->mu);
    }
    Brook__FetchResponse fresp = BROOK__FETCH_RESPONSE__INIT;
    fresp.n_responses = 1;
    fresp.responses = &tp;
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.body_case = BROOK__RESPONSE__BODY_FETCH;
    r.fetch = &fresp;
    send_resp(fd, req, &r);
}

static void fake_find(fake *f, fconn *c, Brook__Request *req)
{
    ev_add(f, BK_API_FIND_COORDINATOR, c->node);
    Brook__FindCoordinatorResponse fc = BROOK__FIND_COORDINATOR_RESPONSE__INIT;
    if (strcmp(req->find_coordinator->key, "g1") != 0 ||
        req->find_coordinator->key_type != 0) {
        fc.error_code = BK_ERR_INVALID_REQUEST;
    } else {
        fc.node_id = f->coord_node;
        fc.host = "127.0.0.1";
        fc.port = f->port[f->coord_node - 1];
    }
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.body_case = BROOK__RESPONSE__BODY_FIND_COORDINATOR;
    r.find_coordinator = &fc;
    send_resp(c->fd, req, &r);
}

static void fake_join(fake *f, fconn *c, Brook__Request *req, int notcoord)
{
    Brook__JoinGroupRequest *jr = req->join_group;
    fev *e = ev_add(f, BK_API_JOIN_GROUP, c->node);
    snprintf(e->member, sizeof e->member, "%s", jr->member_id);
    snprintf(f->join_member, sizeof f->join_member, "%s", jr->member_id);
    snprintf(f->join_ptype, sizeof f->join_ptype, "%s", jr->protocol_type);
    f->join_session = jr->session_timeout_ms;
    f->join_rebalance = jr->rebalance_timeout_ms;
    f->join_protocols[0] = 0;
    for (size_t i = 0; i < jr->n_protocols; i++) {
        if (i)
            strcat(f->join_protocols, ",");
        strncat(f->join_protocols, jr->protocols[i]->name, 30);
    }
    if (jr->n_protocols)
        decode_sub(jr->protocols[0]->metadata.data,
                   jr->protocols[0]->metadata.len, f->join_topics,
                   sizeof f->join_topics);
    Brook__JoinGroupResponse j = BROOK__JOIN_GROUP_RESPONSE__INIT;
    Brook__JoinGroupResponseMember m[2], *mp[2];
    bk_buf other = BK_BUF_INIT;
    if (notcoord) {
        j.error_code = BK_ERR_NOT_COORDINATOR;
    } else if (f->join_err) {
        j.error_code = f->join_err;
        f->join_err = 0;
    } else if (!jr->member_id[0] && f->require_member_id) {
        f->require_member_id = 0;
        j.error_code = BK_ERR_MEMBER_ID_REQUIRED;
        j.member_id = "m-1";
    } else {
        f->generation++;
        j.generation_id = f->generation;
        j.protocol_type = "consumer";
        j.protocol_name = jr->n_protocols ? jr->protocols[0]->name : "";
        j.member_id = jr->member_id[0] ? jr->member_id : "m-1";
        j.leader = j.member_id;
        brook__join_group_response_member__init(&m[0]);
        m[0].member_id = j.member_id;
        if (jr->n_protocols)
            m[0].metadata = jr->protocols[0]->metadata;
        mp[0] = &m[0];
        j.n_members = 1;
        if (f->other_member) {
            encode_sub(&other, TOPIC);
            brook__join_group_response_member__init(&m[1]);
            m[1].member_id = "m-2";
            m[1].metadata.data = other.data;
            m[1].metadata.len = other.len;
            mp[1] = &m[1];
            j.n_members = 2;
        }
        j.members = mp;
    }
    e->err = j.error_code;
    e->generation = j.generation_id;
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.body_case = BROOK__RESPONSE__BODY_JOIN_GROUP;
    r.join_group = &j;
    send_resp(c->fd, req, &r);
    bk_buf_free(&other);
}

static void fake_sync(fake *f, fconn *c, Brook__Request *req, int notcoord)
{
    Brook__SyncGroupRequest *sr = req->sync_group;
    fev *e = ev_add(f, BK_API_SYNC_GROUP, c->node);
    snprintf(e->member, sizeof e->member, "%s", sr->member_id);
    e->generation = sr->generation_id;
    Brook__SyncGroupResponse s = BROOK__SYNC_GROUP_RESPONSE__INIT;
    memset(f->sync_assign, 0, sizeof f->sync_assign);
    if (notcoord) {
        s.error_code = BK_ERR_NOT_COORDINATOR;
    } else if (sr->generation_id != f->generation) {
        s.error_code = BK_ERR_ILLEGAL_GENERATION;
    } else {
        for (size_t i = 0; i < sr->n_assignments && i < 2; i++) {
            char a[100];
            if (decode_assign(sr->assignments[i]->assignment.data,
                              sr->assignments[i]->assignment.len, a,
                              sizeof a) != 0)
                snprintf(a, sizeof a, "BAD");
            snprintf(f->sync_assign[i], sizeof f->sync_assign[i], "%s=%s",
                     sr->assignments[i]->member_id, a);
            if (strcmp(sr->assignments[i]->member_id, sr->member_id) == 0 &&
                sr->assignments[i]->assignment.len <=
                    sizeof f->client_assign_raw) {
                memcpy(f->client_assign_raw,
                       sr->assignments[i]->assignment.data,
                       sr->assignments[i]->assignment.len);
                f->client_assign_len = sr->assignments[i]->assignment.len;
                snprintf(f->client_assign, sizeof f->client_assign, "%s", a);
            }
        }
        s.protocol_type = "consumer";
        s.protocol_name = sr->protocol_name;
        s.assignment.data = f->client_assign_raw;
        s.assignment.len = f->client_assign_len;
        if (f->forced_len) {
            s.assignment.data = f->forced_assign;
            s.assignment.len = f->forced_len;
        }
    }
    e->err = s.error_code;
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.body_case = BROOK__RESPONSE__BODY_SYNC_GROUP;
    r.sync_group = &s;
    send_resp(c->fd, req, &r);
}

static void fake_heartbeat(fake *f, fconn *c, Brook__Request *req, int notcoord)
{
    Brook__HeartbeatRequest *hr = req->heartbeat;
    fev *e = ev_add(f, BK_API_HEARTBEAT, c->node);
    snprintf(e->member, sizeof e->member, "%s", hr->member_id);
    e->generation = hr->generation_id;
    Brook__HeartbeatResponse h = BROOK__HEARTBEAT_RESPONSE__INIT;
    if (notcoord) {
        h.error_code = BK_ERR_NOT_COORDINATOR;
    } else if (f->hb_err_count > 0) {
        f->hb_err_count--;
        h.error_code = f->hb_err;
    } else if (hr->generation_id != f->generation) {
        h.error_code = BK_ERR_ILLEGAL_GENERATION;
    }
    e->err = h.error_code;
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.body_case = BROOK__RESPONSE__BODY_HEARTBEAT;
    r.heartbeat = &h;
    send_resp(c->fd, req, &r);
}

static void fake_commit(fake *f, fconn *c, Brook__Request *req, int notcoord)
{
    Brook__OffsetCommitRequest *cr = req->offset_commit;
    fev *e = ev_add(f, BK_API_OFFSET_COMMIT, c->node);
    snprintf(e->member, sizeof e->member, "%s", cr->member_id);
    e->generation = cr->generation_id;
    int err = notcoord ? BK_ERR_NOT_COORDINATOR : 0;
    if (!err && f->commit_err_count > 0) {
        f->commit_err_count--;
        err = f->commit_err;
    }
    if (!err && cr->generation_id >= 0 && cr->generation_id != f->generation)
        err = BK_ERR_ILLEGAL_GENERATION;
    e->err = err;
    Brook__OffsetCommitResponseTopic t[4], *tp[4];
    Brook__OffsetCommitResponsePartition p[16], *pp[16];
    size_t nt = 0, np = 0;
    for (size_t i = 0; i < cr->n_topics && nt < 4; i++) {
        brook__offset_commit_response_topic__init(&t[nt]);
        t[nt].name = cr->topics[i]->name;
        t[nt].partitions = &pp[np];
        for (size_t k = 0; k < cr->topics[i]->n_partitions && np < 16; k++) {
            Brook__OffsetCommitRequestPartition *q =
                cr->topics[i]->partitions[k];
            brook__offset_commit_response_partition__init(&p[np]);
            p[np].partition_index = q->partition_index;
            p[np].error_code = err;
            if (strcmp(t[nt].name, TOPIC) == 0 && q->partition_index >= 0 &&
                q->partition_index < NPARTS) {
                e->off[q->partition_index] = q->committed_offset;
                if (!err)
                    f->committed[q->partition_index] = q->committed_offset;
            }
            pp[np] = &p[np];
            np++;
            t[nt].n_partitions++;
        }
        tp[nt] = &t[nt];
        nt++;
    }
    Brook__OffsetCommitResponse o = BROOK__OFFSET_COMMIT_RESPONSE__INIT;
    o.n_topics = nt;
    o.topics = tp;
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.body_case = BROOK__RESPONSE__BODY_OFFSET_COMMIT;
    r.offset_commit = &o;
    send_resp(c->fd, req, &r);
}

static void fake_offset_fetch(fake *f, fconn *c, Brook__Request *req,
                              int notcoord)
{
    Brook__OffsetFetchRequest *fr = req->offset_fetch;
    fev *e = ev_add(f, BK_API_OFFSET_FETCH, c->node);
    Brook__OffsetFetchResponse o = BROOK__OFFSET_FETCH_RESPONSE__INIT;
    Brook__OffsetFetchResponseTopic t =
        BROOK__OFFSET_FETCH_RESPONSE_TOPIC__INIT;
    Brook__OffsetFetchResponseTopic *tp = &t;
    Brook__OffsetFetchResponsePartition p[NPARTS], *pp[NPARTS];
    if (notcoord) {
        o.error_code = BK_ERR_NOT_COORDINATOR;
    } else if (fr->n_topics == 1 && strcmp(fr->topics[0]->name, TOPIC) == 0) {
        t.name = (char *)TOPIC;
        t.partitions = pp;
        for (size_t k = 0; k < fr->topics[0]->n_partition_indexes && k < NPARTS;
             k++) {
            int32_t part = fr->topics[0]->partition_indexes[k];
            brook__offset_fetch_response_partition__init(&p[k]);
            p[k].partition_index = part;
            p[k].committed_leader_epoch = -1;
            p[k].metadata = "";
            p[k].committed_offset =
                part >= 0 && part < NPARTS ? f->committed[part] : -1;
            e->off[part >= 0 && part < NPARTS ? part : 0] = 1; /* asked */
            pp[k] = &p[k];
            t.n_partitions++;
        }
        o.n_topics = 1;
        o.topics = &tp;
    }
    e->err = o.error_code;
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.body_case = BROOK__RESPONSE__BODY_OFFSET_FETCH;
    r.offset_fetch = &o;
    send_resp(c->fd, req, &r);
}

static void fake_leave(fake *f, fconn *c, Brook__Request *req)
{
    Brook__LeaveGroupRequest *lr = req->leave_group;
    fev *e = ev_add(f, BK_API_LEAVE_GROUP, c->node);
    if (lr->n_members == 1)
        snprintf(e->member, sizeof e->member, "%s", lr->members[0]->member_id);
    Brook__LeaveGroupResponse l = BROOK__LEAVE_GROUP_RESPONSE__INIT;
    Brook__Response r = BROOK__RESPONSE__INIT;
    r.body_case = BROOK__RESPONSE__BODY_LEAVE_GROUP;
    r.leave_group = &l;
    send_resp(c->fd, req, &r);
}

static int fake_serve(fake *f, fconn *c)
{
    const uint8_t *p;
    size_t n;
    while (bk_frame_dec_next(&c->dec, &c->in, &p, &n) == 0) {
        Brook__Request *req;
        if (bk_frame_decode_request(p, n, &req) != 0)
            return 1;
        pthread_mutex_lock(&f->mu);
        int notcoord = c->node != f->coord_node;
        int drop = 0;
        switch (req->header->api_key) {
        case BK_API_METADATA:
            fake_metadata(f, c->fd, req);
            break;
        case BK_API_LIST_OFFSETS:
            fake_list(f, c->fd, req);
            break;
        case BK_API_FETCH:
            fake_fetch(f, c->fd, req);
            break;
        case BK_API_FIND_COORDINATOR:
            fake_find(f, c, req);
            break;
        case BK_API_JOIN_GROUP:
            fake_join(f, c, req, notcoord);
            break;
        case BK_API_SYNC_GROUP:
            fake_sync(f, c, req, notcoord);
            break;
        case BK_API_HEARTBEAT:
            fake_heartbeat(f, c, req, notcoord);
            break;
        case BK_API_OFFSET_COMMIT:
            fake_commit(f, c, req, notcoord);
            break;
        case BK_API_OFFSET_FETCH:
            fake_offset_fetch(f, c, req, notcoord);
            break;
        case BK_API_LEAVE_GROUP:
            fake_leave(f, c, req);
            break;
        default:
            drop = 1;
        }
        pthread_mutex_unlock(&f->mu);
        brook__request__free_unpacked(req, NULL);
        if (drop)
            return 1;
    }
    bk_frame_dec_compact(&c->dec, &c->in);
    return 0;
}

static void *fake_main(void *arg)
{
    fake *f = arg;
    fconn conns[MAXCONN];
    int nc = 0;
    while (!f->stop) {
        struct pollfd pf[MAXCONN + 2];
        pf[0] = (struct pollfd){.fd = f->lfd[0], .events = POLLIN};
        pf[1] = (struct pollfd){.fd = f->lfd[1], .events = POLLIN};
        for (int i = 0; i < nc; i++)
            pf[i + 2] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        if (poll(pf, (nfds_t)nc + 2, 20) <= 0)
            continue;
        for (int l = 0; l < 2; l++) {
            if ((pf[l].revents & POLLIN) && nc < MAXCONN) {
                int fd = accept(f->lfd[l], NULL, NULL);
                if (fd >= 0) {
                    conns[nc] = (fconn){.fd = fd, .node = l + 1};
                    bk_buf_init(&conns[nc].in);
                    bk_frame_dec_init(&conns[nc].dec, 1 << 26);
                    nc++;
                }
            }
        }
        for (int i = 0; i < nc; i++) {
            /* new connections were appended: their pf slot is unset */
            if (i + 2 >= (int)(sizeof pf / sizeof pf[0]) ||
                pf[i + 2].fd != conns[i].fd ||
                !(pf[i + 2].revents & (POLLIN | POLLHUP | POLLERR)))
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
                pf[i + 2] = pf[nc + 2];
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
    f->coord_node = 1;
    f->md_parts = NPARTS;
    for (int i = 0; i < NPARTS; i++)
        f->committed[i] = -1;
    for (int l = 0; l < 2; l++) {
        f->lfd[l] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        if (bind(f->lfd[l], (struct sockaddr *)&a, sizeof a) != 0 ||
            listen(f->lfd[l], 16) != 0 ||
            getsockname(f->lfd[l], (struct sockaddr *)&a, &len) != 0)
            return NULL;
        f->port[l] = ntohs(a.sin_port);
    }
    /* partition p: records "p<p>-<offset>" at offsets 0..NRECS-1 */
    for (int p = 0; p < NPARTS; p++) {
        bk_batch_builder b;
        CU_ASSERT_FATAL(bk_batch_builder_init(&b, BK_CODEC_NONE) == 0);
        for (int i = 0; i < NRECS; i++) {
            char v[32];
            int vl = snprintf(v, sizeof v, "p%d-%d", p, i);
            bk_record r = {.key_len = -1,
                           .value = v,
                           .value_len = vl,
                           .timestamp = 1000 + i};
            CU_ASSERT_FATAL(bk_batch_builder_add(&b, &r) == 0);
        }
        CU_ASSERT_FATAL(bk_batch_builder_finish(&b, &f->log[p]) == 0);
        bk_batch_builder_free(&b);
        bk_batch_set_base_offset(f->log[p].data, 0);
    }
    pthread_create(&f->th, NULL, fake_main, f);
    return f;
}

static void fake_stop(fake *f)
{
    f->stop = 1;
    pthread_join(f->th, NULL);
    close(f->lfd[0]);
    close(f->lfd[1]);
    for (int p = 0; p < NPARTS; p++)
        bk_buf_free(&f->log[p]);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* Index of the first event of api from index `from`, or -1. */
static int ev_find(fake *f, int api, int from)
{
    pthread_mutex_lock(&f->mu);
    int r = -1;
    for (int i = from; i < f->nev && r < 0; i++)
        if (f->ev[i].api == api)
            r = i;
    pthread_mutex_unlock(&f->mu);
    return r;
}

static int ev_count(fake *f, int api)
{
    pthread_mutex_lock(&f->mu);
    int n = 0;
    for (int i = 0; i < f->nev; i++)
        n += f->ev[i].api == api;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* ------------------------------ the client side ------------------------------
 */

#define MAXCB 16

typedef struct rebal {
    int n;
    brook_rebalance_type type[MAXCB];
    char parts[MAXCB][64];      /* "0,1" */
    int64_t pos[MAXCB][NPARTS]; /* positions seen in REVOKED callbacks */
} rebal;

static void rebalance_cb(brook_client *c, brook_rebalance_type type,
                         const brook_tp *parts, size_t n, void *opaque)
{
    rebal *r = opaque;
    if (r->n >= MAXCB)
        return;
    int i = r->n++;
    r->type[i] = type;
    r->parts[i][0] = 0;
    for (int p = 0; p < NPARTS; p++)
        r->pos[i][p] = -9;
    for (size_t k = 0; k < n; k++) {
        char b[16];
        CU_ASSERT_STRING_EQUAL(parts[k].topic, TOPIC);
        snprintf(b, sizeof b, "%s%d", k ? "," : "", parts[k].partition);
        strcat(r->parts[i], b);
        int64_t pos;
        if (parts[k].partition < NPARTS &&
            brook_position(c, TOPIC, parts[k].partition, &pos) == 0)
            r->pos[i][parts[k].partition] = pos;
    }
}

static brook_client *client_for(fake *f, rebal *r, const char *const *kv)
{
    brook_conf *conf = brook_conf_new();
    char err[256], bs[64];
    snprintf(bs, sizeof bs, "127.0.0.1:%d", f->port[0]);
    CU_ASSERT_EQUAL(
        brook_conf_set(conf, "bootstrap.servers", bs, err, sizeof err), 0);
    CU_ASSERT_EQUAL(brook_conf_set(conf, "group.id", "g1", err, sizeof err), 0);
    CU_ASSERT_EQUAL(
        brook_conf_set_kv(conf, "heartbeat.interval.ms=50", err, sizeof err),
        0);
    CU_ASSERT_EQUAL(
        brook_conf_set_kv(conf, "retry.backoff.ms=20", err, sizeof err), 0);
    CU_ASSERT_EQUAL(
        brook_conf_set_kv(conf, "fetch.max.wait.ms=20", err, sizeof err), 0);
    for (; kv && *kv; kv++)
        CU_ASSERT_EQUAL(brook_conf_set_kv(conf, *kv, err, sizeof err), 0);
    if (r) {
        memset(r, 0, sizeof *r);
        brook_conf_set_rebalance_cb(conf, rebalance_cb, r);
    }
    brook_client *c = brook_client_new(conf, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    const char *topics[] = {TOPIC};
    CU_ASSERT_EQUAL(brook_subscribe(c, topics, 1), 0);
    return c;
}

/* Consumes for up to ms or until n records came; records counted per
 * partition in got[] with their first offset in first[]; returns the
 * number of records. */
static int consume_for(brook_client *c, int ms, int n, int *got, int64_t *first,
                       int *errs)
{
    int64_t deadline = bk_clock_mono_ms() + ms;
    int total = 0;
    while (bk_clock_mono_ms() < deadline && (n < 0 || total < n)) {
        const brook_msg *m;
        if (brook_consume(c, 20, &m) != 1)
            continue;
        if (m->type == BROOK_MSG_ERROR) {
            if (errs)
                errs[m->partition >= 0 && m->partition < NPARTS ? m->partition
                                                                : 0] = m->err;
            continue;
        }
        if (m->type != BROOK_MSG_RECORD)
            continue;
        CU_ASSERT_FATAL(m->partition >= 0 && m->partition < NPARTS);
        char want[32];
        snprintf(want, sizeof want, "p%d-%lld", m->partition,
                 (long long)m->offset);
        CU_ASSERT_EQUAL(m->value_len, (int32_t)strlen(want));
        CU_ASSERT_EQUAL(memcmp(m->value, want, strlen(want)), 0);
        if (got) {
            if (got[m->partition] == 0 && first)
                first[m->partition] = m->offset;
            got[m->partition]++;
        }
        total++;
    }
    return total;
}

/* Waits (consuming) until the callback count reaches n. */
static void wait_rebal(brook_client *c, rebal *r, int n, int ms)
{
    int64_t deadline = bk_clock_mono_ms() + ms;
    while (r->n < n && bk_clock_mono_ms() < deadline) {
        const brook_msg *m;
        brook_consume(c, 20, &m);
    }
}

/* ------------------------------ tests ------------------------------ */

/* Join with MEMBER_ID_REQUIRED, a second member in the group: the client
 * leads, assigns by range, and starts at the committed offsets (or the
 * earliest where none). */
static void test_join_leader_committed(void)
{
    fake *f = fake_start();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    f->require_member_id = 1;
    f->other_member = 1;
    f->committed[0] = 5;
    f->committed[1] = 3;
    f->committed[2] = 7; /* m-2's: must not matter to us */
    static rebal r;
    const char *kv[] = {"auto.offset.reset=earliest",
                        "enable.auto.commit=false",
                        "partition.assignment.strategy=range,roundrobin",
                        "session.timeout.ms=6000",
                        "max.poll.interval.ms=9000",
                        NULL};
    brook_client *c = client_for(f, &r, kv);
    int got[NPARTS] = {0};
    int64_t first[NPARTS] = {-1, -1, -1, -1};
    /* t-0 from 5 (5 records), t-1 from 3 (7 records) */
    CU_ASSERT_EQUAL(consume_for(c, 5000, 12, got, first, NULL), 12);
    CU_ASSERT_EQUAL(first[0], 5);
    CU_ASSERT_EQUAL(first[1], 3);
    CU_ASSERT_EQUAL(got[0], 5);
    CU_ASSERT_EQUAL(got[1], 7);
    CU_ASSERT_EQUAL(got[2] + got[3], 0);
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_EQUAL(r.type[0], BROOK_REBALANCE_ASSIGNED);
    CU_ASSERT_STRING_EQUAL(r.parts[0], "0,1");

    pthread_mutex_lock(&f->mu);
    /* FindCoordinator, JoinGroup (MEMBER_ID_REQUIRED), JoinGroup with the
     * given id, SyncGroup, OffsetFetch for 0 and 1 only */
    CU_ASSERT_EQUAL(f->ev[0].api, BK_API_FIND_COORDINATOR);
    CU_ASSERT_EQUAL(f->ev[1].api, BK_API_JOIN_GROUP);
    CU_ASSERT_STRING_EQUAL(f->ev[1].member, "");
    CU_ASSERT_EQUAL(f->ev[1].err, BK_ERR_MEMBER_ID_REQUIRED);
    CU_ASSERT_EQUAL(f->ev[2].api, BK_API_JOIN_GROUP);
    CU_ASSERT_STRING_EQUAL(f->ev[2].member, "m-1");
    CU_ASSERT_EQUAL(f->ev[3].api, BK_API_SYNC_GROUP);
    CU_ASSERT_EQUAL(f->ev[3].generation, 1);
    CU_ASSERT_STRING_EQUAL(f->join_ptype, "consumer");
    CU_ASSERT_STRING_EQUAL(f->join_protocols, "range,roundrobin");
    CU_ASSERT_STRING_EQUAL(f->join_topics, "t");
    CU_ASSERT_EQUAL(f->join_session, 6000);
    CU_ASSERT_EQUAL(f->join_rebalance, 9000);
    /* range over 4 partitions, members m-1 < m-2 */
    CU_ASSERT_STRING_EQUAL(f->sync_assign[0], "m-1=t:0,1");
    CU_ASSERT_STRING_EQUAL(f->sync_assign[1], "m-2=t:2,3");
    int of = -1;
    for (int i = 0; i < f->nev && of < 0; i++)
        if (f->ev[i].api == BK_API_OFFSET_FETCH)
            of = i;
    CU_ASSERT_FATAL(of > 3);
    CU_ASSERT_EQUAL(f->ev[of].off[0], 1);
    CU_ASSERT_EQUAL(f->ev[of].off[1], 1);
    CU_ASSERT_EQUAL(f->ev[of].off[2], -1);
    /* auto commit off: nothing committed */
    for (int i = 0; i < f->nev; i++)
        CU_ASSERT_NOT_EQUAL(f->ev[i].api, BK_API_OFFSET_COMMIT);
    pthread_mutex_unlock(&f->mu);
    int64_t off;
    CU_ASSERT_EQUAL(brook_committed(c, TOPIC, 0, &off), 0);
    CU_ASSERT_EQUAL(off, 5);
    CU_ASSERT_EQUAL(brook_committed(c, TOPIC, 2, &off), -BK_ENOENT);
    /* heartbeats flow with the generation and member id */
    consume_for(c, 200, -1, NULL, NULL, NULL);
    int hb = ev_find(f, BK_API_HEARTBEAT, 0);
    CU_ASSERT_FATAL(hb > 0);
    CU_ASSERT_STRING_EQUAL(f->ev[hb].member, "m-1");
    CU_ASSERT_EQUAL(f->ev[hb].generation, 1);
    /* manual assignment is refused while subscribed */
    CU_ASSERT_EQUAL(brook_assign(c, TOPIC, 2, 0), -BK_EINVAL);

    /* an explicit sync commit */
    brook_tp offs[2] = {{TOPIC, 0, 8, -1}, {TOPIC, 1, 10, -1}};
    int cerr = -1;
    CU_ASSERT_EQUAL(brook_commit(c, offs, 2, 3000, &cerr), 0);
    CU_ASSERT_EQUAL(cerr, 0);
    CU_ASSERT_EQUAL(offs[0].err, 0);
    pthread_mutex_lock(&f->mu);
    CU_ASSERT_EQUAL(f->committed[0], 8);
    CU_ASSERT_EQUAL(f->committed[1], 10);
    int lc = f->nev - 1;
    while (lc > 0 && f->ev[lc].api != BK_API_OFFSET_COMMIT)
        lc--; /* a heartbeat may have come after it */
    CU_ASSERT_EQUAL(f->ev[lc].api, BK_API_OFFSET_COMMIT);
    CU_ASSERT_EQUAL(f->ev[lc].off[0], 8);
    CU_ASSERT_EQUAL(f->ev[lc].off[1], 10);
    CU_ASSERT_STRING_EQUAL(f->ev[lc].member, "m-1");
    CU_ASSERT_EQUAL(f->ev[lc].generation, 1);
    /* the next commit is refused: the error comes back */
    f->commit_err = BK_ERR_OFFSET_METADATA_TOO_LARGE;
    f->commit_err_count = 1;
    pthread_mutex_unlock(&f->mu);
    offs[0].offset = 9;
    CU_ASSERT_EQUAL(brook_commit(c, offs, 1, 3000, &cerr), -BK_EIO);
    CU_ASSERT_EQUAL(cerr, BK_ERR_OFFSET_METADATA_TOO_LARGE);
    CU_ASSERT_EQUAL(offs[0].err, BK_ERR_OFFSET_METADATA_TOO_LARGE);
    CU_ASSERT_EQUAL(brook_committed(c, TOPIC, 0, &off), 0);
    CU_ASSERT_EQUAL(off, 8);
    brook_client_destroy(c);
    fake_stop(f);
}

/* REBALANCE_IN_PROGRESS on a heartbeat: positions committed, REVOKED,
 * rejoin, ASSIGNED, and consumption resumes at the committed positions. */
static void test_rebalance_commit_revoke(void)
{
    fake *f = fake_start();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static rebal r;
    const char *kv[] = {"auto.offset.reset=earliest",
                        "auto.commit.interval.ms=600000", NULL};
    brook_client *c = client_for(f, &r, kv);
    int got[NPARTS] = {0};
    /* consume 2 records of each partition at most, then hold */
    CU_ASSERT_EQUAL(consume_for(c, 5000, 6, got, NULL, NULL), 6);
    int64_t pos[NPARTS];
    for (int p = 0; p < NPARTS; p++)
        CU_ASSERT_EQUAL(brook_position(c, TOPIC, p, &pos[p]), 0);
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_STRING_EQUAL(r.parts[0], "0,1,2,3");
    int joins0 = ev_count(f, BK_API_JOIN_GROUP);
    CU_ASSERT_EQUAL(joins0, 1);
    CU_ASSERT_EQUAL(ev_count(f, BK_API_OFFSET_COMMIT), 0);

    pthread_mutex_lock(&f->mu);
    f->hb_err = BK_ERR_REBALANCE_IN_PROGRESS;
    f->hb_err_count = 1;
    int mark = f->nev;
    pthread_mutex_unlock(&f->mu);
    /* wait without consuming records: poll, not consume */
    int64_t deadline = bk_clock_mono_ms() + 5000;
    while (r.n < 3 && bk_clock_mono_ms() < deadline)
        brook_poll(c, 20);
    CU_ASSERT_EQUAL_FATAL(r.n, 3);
    CU_ASSERT_EQUAL(r.type[1], BROOK_REBALANCE_REVOKED);
    CU_ASSERT_STRING_EQUAL(r.parts[1], "0,1,2,3");
    CU_ASSERT_EQUAL(r.type[2], BROOK_REBALANCE_ASSIGNED);
    /* the REVOKED callback still saw the positions */
    for (int p = 0; p < NPARTS; p++)
        CU_ASSERT_EQUAL(r.pos[1][p], pos[p]);
    int cm = ev_find(f, BK_API_OFFSET_COMMIT, mark);
    int jn = ev_find(f, BK_API_JOIN_GROUP, mark);
    CU_ASSERT_FATAL(cm > 0 && jn > 0);
    CU_ASSERT_TRUE(cm < jn); /* committed before rejoining */
    pthread_mutex_lock(&f->mu);
    CU_ASSERT_EQUAL(f->ev[cm].generation, 1);
    CU_ASSERT_STRING_EQUAL(f->ev[cm].member, "m-1");
    for (int p = 0; p < NPARTS; p++) {
        /* every position is committed (also 0: the earliest reset made
         * it a real position, and none was committed) */
        CU_ASSERT_EQUAL(f->ev[cm].off[p], pos[p]);
        CU_ASSERT_EQUAL(f->committed[p], pos[p]);
    }
    CU_ASSERT_STRING_EQUAL(f->ev[jn].member, "m-1"); /* kept its id */
    CU_ASSERT_EQUAL(f->generation, 2);
    pthread_mutex_unlock(&f->mu);
    /* after the rejoin: resumes at the committed positions */
    int got2[NPARTS] = {0};
    int64_t first[NPARTS] = {-1, -1, -1, -1};
    int want = 0;
    for (int p = 0; p < NPARTS; p++)
        want += NRECS - (int)pos[p];
    CU_ASSERT_EQUAL(consume_for(c, 5000, want, got2, first, NULL), want);
    for (int p = 0; p < NPARTS; p++)
        if (got2[p])
            CU_ASSERT_EQUAL(first[p], pos[p]);

    /* UNKNOWN_MEMBER_ID: the partitions are LOST (no commit), the member
     * joins again without id */
    pthread_mutex_lock(&f->mu);
    f->hb_err = BK_ERR_UNKNOWN_MEMBER_ID;
    f->hb_err_count = 1;
    mark = f->nev;
    pthread_mutex_unlock(&f->mu);
    wait_rebal(c, &r, 5, 5000);
    CU_ASSERT_EQUAL_FATAL(r.n, 5);
    CU_ASSERT_EQUAL(r.type[3], BROOK_REBALANCE_LOST);
    CU_ASSERT_EQUAL(r.type[4], BROOK_REBALANCE_ASSIGNED);
    jn = ev_find(f, BK_API_JOIN_GROUP, mark);
    CU_ASSERT_FATAL(jn > 0);
    CU_ASSERT_STRING_EQUAL(f->ev[jn].member, "");
    cm = ev_find(f, BK_API_OFFSET_COMMIT, mark);
    CU_ASSERT_TRUE(cm < 0 || cm > jn);
    brook_client_destroy(c);
    fake_stop(f);
}

/* The coordinator moves: NOT_COORDINATOR -> FindCoordinator again ->
 * heartbeats go to the new one, without a rebalance. */
static void test_coordinator_moves(void)
{
    fake *f = fake_start();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static rebal r;
    const char *kv[] = {"enable.auto.commit=false", NULL};
    brook_client *c = client_for(f, &r, kv);
    wait_rebal(c, &r, 1, 5000);
    CU_ASSERT_EQUAL_FATAL(r.n, 1);
    consume_for(c, 150, -1, NULL, NULL, NULL);
    CU_ASSERT_EQUAL(ev_count(f, BK_API_FIND_COORDINATOR), 1);
    pthread_mutex_lock(&f->mu);
    f->coord_node = 2;
    int mark = f->nev;
    pthread_mutex_unlock(&f->mu);
    consume_for(c, 500, -1, NULL, NULL, NULL);
    CU_ASSERT_EQUAL(ev_count(f, BK_API_FIND_COORDINATOR), 2);
    int fc = ev_find(f, BK_API_FIND_COORDINATOR, mark);
    CU_ASSERT_FATAL(fc > mark);
    pthread_mutex_lock(&f->mu);
    /* a heartbeat on node 1 was answered NOT_COORDINATOR before it */
    CU_ASSERT_EQUAL(f->ev[fc - 1].api, BK_API_HEARTBEAT);
    CU_ASSERT_EQUAL(f->ev[fc - 1].node, 1);
    CU_ASSERT_EQUAL(f->ev[fc - 1].err, BK_ERR_NOT_COORDINATOR);
    int on2 = 0, on1 = 0;
    for (int i = fc + 1; i < f->nev; i++) {
        if (f->ev[i].api != BK_API_HEARTBEAT)
            continue;
        on2 += f->ev[i].node == 2 && f->ev[i].err == 0;
        on1 += f->ev[i].node == 1;
    }
    pthread_mutex_unlock(&f->mu);
    CU_ASSERT_TRUE(on2 >= 3);
    CU_ASSERT_EQUAL(on1, 0);
    CU_ASSERT_EQUAL(ev_count(f, BK_API_JOIN_GROUP), 1);
    CU_ASSERT_EQUAL(r.n, 1);
    brook_client_destroy(c);
    fake_stop(f);
}

/* No committed offset: earliest, latest, error. */
static void test_offset_reset(void)
{
    const char *modes[] = {"auto.offset.reset=earliest",
                           "auto.offset.reset=latest",
                           "auto.offset.reset=error"};
    for (int mode = 0; mode < 3; mode++) {
        fake *f = fake_start();
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        f->committed[2] = 4;
        const char *kv[] = {modes[mode], "enable.auto.commit=false", NULL};
        brook_client *c = client_for(f, NULL, kv);
        int got[NPARTS] = {0}, errs[NPARTS] = {0};
        int64_t first[NPARTS] = {-1, -1, -1, -1};
        consume_for(c, 1500, -1, got, first, errs);
        /* partition 2 has a committed offset: policy does not matter */
        CU_ASSERT_EQUAL(first[2], 4);
        CU_ASSERT_EQUAL(got[2], NRECS - 4);
        CU_ASSERT_EQUAL(errs[2], 0);
        for (int p = 0; p < NPARTS; p++) {
            if (p == 2)
                continue;
            int64_t pos = -1;
            int rc = brook_position(c, TOPIC, p, &pos);
            if (mode == 0) {
                CU_ASSERT_EQUAL(first[p], 0);
                CU_ASSERT_EQUAL(got[p], NRECS);
            } else if (mode == 1) {
                CU_ASSERT_EQUAL(got[p], 0);
                CU_ASSERT_EQUAL(rc, 0);
                CU_ASSERT_EQUAL(pos, NRECS);
            } else {
                CU_ASSERT_EQUAL(got[p], 0);
                CU_ASSERT_EQUAL(errs[p], BK_ERR_OFFSET_OUT_OF_RANGE);
            }
        }
        if (mode == 2) {
            /* the application decides: a seek restarts it */
            CU_ASSERT_EQUAL(brook_seek(c, TOPIC, 0, 6), 0);
            int g2[NPARTS] = {0};
            int64_t f2[NPARTS] = {-1, -1, -1, -1};
            CU_ASSERT_EQUAL(consume_for(c, 2000, 4, g2, f2, NULL), 4);
            CU_ASSERT_EQUAL(f2[0], 6);
        }
        brook_client_destroy(c);
        fake_stop(f);
    }
}

static int g_async_err = -1;
static size_t g_async_n;
static int64_t g_async_off = -1;

static void async_cb(brook_client *c, int err, const brook_tp *offsets,
                     size_t n, void *opaque)
{
    (void)c;
    CU_ASSERT_PTR_EQUAL(opaque, &g_async_err);
    g_async_err = err;
    g_async_n = n;
    if (n)
        g_async_off = offsets[0].offset;
}

/* enable.auto.commit: positions committed every auto.commit.interval.ms,
 * not before, and only when they moved. */
static void test_auto_commit_interval(void)
{
    fake *f = fake_start();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static rebal r;
    const char *kv[] = {"auto.offset.reset=earliest",
                        "auto.commit.interval.ms=300", NULL};
    brook_client *c = client_for(f, &r, kv);
    int got[NPARTS] = {0};
    CU_ASSERT_EQUAL(consume_for(c, 5000, NPARTS * NRECS, got, NULL, NULL),
                    NPARTS * NRECS);
    int sync = ev_find(f, BK_API_SYNC_GROUP, 0);
    CU_ASSERT_FATAL(sync >= 0);
    consume_for(c, 1000, -1, NULL, NULL, NULL);
    pthread_mutex_lock(&f->mu);
    int64_t t0 = f->ev[sync].at, last = -1;
    int ncommits = 0;
    for (int i = 0; i < f->nev; i++) {
        if (f->ev[i].api != BK_API_OFFSET_COMMIT)
            continue;
        ncommits++;
        /* not before the interval, and at least an interval apart */
        CU_ASSERT_TRUE(f->ev[i].at - t0 >= 250);
        if (last >= 0)
            CU_ASSERT_TRUE(f->ev[i].at - last >= 250);
        last = f->ev[i].at;
        CU_ASSERT_EQUAL(f->ev[i].generation, 1);
    }
    CU_ASSERT_TRUE(ncommits >= 1);
    /* everything consumed is committed; nothing moved afterwards, so no
     * more commits than the consuming took */
    for (int p = 0; p < NPARTS; p++)
        CU_ASSERT_EQUAL(f->committed[p], NRECS);
    CU_ASSERT_TRUE(ncommits <= 3);
    pthread_mutex_unlock(&f->mu);

    /* an async commit of explicit offsets, with its callback; the next
     * auto commit puts the position (10) back, since it differs */
    g_async_err = -1;
    brook_tp one = {TOPIC, 3, 2, 0};
    CU_ASSERT_EQUAL(brook_commit_async(c, &one, 1, async_cb, &g_async_err), 0);
    consume_for(c, 600, -1, NULL, NULL, NULL);
    CU_ASSERT_EQUAL(g_async_err, 0);
    CU_ASSERT_EQUAL(g_async_n, 1);
    CU_ASSERT_EQUAL(g_async_off, 2);
    pthread_mutex_lock(&f->mu);
    int seen2 = -1, back = -1;
    for (int i = 0; i < f->nev; i++) {
        if (f->ev[i].api != BK_API_OFFSET_COMMIT)
            continue;
        if (f->ev[i].off[3] == 2 && f->ev[i].off[0] == -1)
            seen2 = i;
        else if (seen2 >= 0 && f->ev[i].off[3] == NRECS)
            back = i;
    }
    CU_ASSERT_TRUE(seen2 > 0);
    CU_ASSERT_TRUE(back > seen2);
    CU_ASSERT_EQUAL(f->committed[3], NRECS);
    pthread_mutex_unlock(&f->mu);
    brook_client_destroy(c);
    fake_stop(f);
}

/* close: commit (auto), REVOKED, LeaveGroup with the member id; a static
 * member sends no LeaveGroup. */
static void test_close_leaves(void)
{
    for (int stat = 0; stat < 2; stat++) {
        fake *f = fake_start();
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        static rebal r;
        const char *kv[] = {
            "auto.offset.reset=earliest", "auto.commit.interval.ms=600000",
            stat ? "group.instance.id=i-1" : "client.id=x", NULL};
        brook_client *c = client_for(f, &r, kv);
        int got[NPARTS] = {0};
        CU_ASSERT_EQUAL(consume_for(c, 5000, 5, got, NULL, NULL), 5);
        g_async_err = -1;
        CU_ASSERT_EQUAL(brook_commit_async(c, NULL, 0, async_cb, &g_async_err),
                        0);
        int mark = ev_count(f, BK_API_OFFSET_COMMIT);
        CU_ASSERT_EQUAL(brook_consumer_close(c, 3000), 0);
        /* the async commit's callback came by close */
        CU_ASSERT_EQUAL(g_async_err, 0);
        CU_ASSERT_TRUE(g_async_n >= 1);
        CU_ASSERT_EQUAL(r.n, 2);
        CU_ASSERT_EQUAL(r.type[1], BROOK_REBALANCE_REVOKED);
        int lv = ev_find(f, BK_API_LEAVE_GROUP, 0);
        if (stat) {
            CU_ASSERT_EQUAL(lv, -1);
        } else {
            CU_ASSERT_FATAL(lv > 0);
            CU_ASSERT_STRING_EQUAL(f->ev[lv].member, "m-1");
        }
        (void)mark;
        pthread_mutex_lock(&f->mu);
        int64_t sum = 0;
        for (int p = 0; p < NPARTS; p++)
            sum += f->committed[p] > 0 ? f->committed[p] : 0;
        pthread_mutex_unlock(&f->mu);
        CU_ASSERT_EQUAL(sum, 5); /* every consumed record committed */
        /* no more group traffic after close (a heartbeat sent in the
         * last round of close may still arrive) */
        const brook_msg *m;
        CU_ASSERT_EQUAL(brook_consume(c, 100, &m), 0);
        int n0 = ev_count(f, BK_API_HEARTBEAT);
        CU_ASSERT_EQUAL(brook_consume(c, 300, &m), 0);
        CU_ASSERT_EQUAL(ev_count(f, BK_API_HEARTBEAT), n0);
        brook_client_destroy(c);
        fake_stop(f);
    }
}

/* The leader sees the partition count grow: the group rebalances and the
 * new partition is assigned. */
static void test_partition_count_change(void)
{
    fake *f = fake_start();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    f->md_parts = 3;
    static rebal r;
    const char *kv[] = {"metadata.max.age.ms=100", "enable.auto.commit=false",
                        NULL};
    brook_client *c = client_for(f, &r, kv);
    wait_rebal(c, &r, 1, 5000);
    CU_ASSERT_EQUAL_FATAL(r.n, 1);
    CU_ASSERT_STRING_EQUAL(r.parts[0], "0,1,2");
    consume_for(c, 300, -1, NULL, NULL, NULL);
    CU_ASSERT_EQUAL(ev_count(f, BK_API_JOIN_GROUP), 1);
    pthread_mutex_lock(&f->mu);
    f->md_parts = 4;
    pthread_mutex_unlock(&f->mu);
    wait_rebal(c, &r, 3, 5000);
    CU_ASSERT_EQUAL_FATAL(r.n, 3);
    CU_ASSERT_EQUAL(r.type[1], BROOK_REBALANCE_REVOKED);
    CU_ASSERT_EQUAL(r.type[2], BROOK_REBALANCE_ASSIGNED);
    CU_ASSERT_STRING_EQUAL(r.parts[2], "0,1,2,3");
    CU_ASSERT_EQUAL(ev_count(f, BK_API_JOIN_GROUP), 2);
    brook_client_destroy(c);
    fake_stop(f);
}

/* A leader's (any client's) assignment with absurd partition indexes: the
 * member takes the sane ones and does not grow its partition table to
 * INT32_MAX (which overflowed) or millions. */
static void test_hostile_assignment(void)
{
    fake *f = fake_start();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static const uint8_t forged[] = {
        0,    0,                /* version 0 */
        0,    0,    0,    1,    /* one topic */
        0,    1,    't',        /* "t" */
        0,    0,    0,    3,    /* three partitions */
        0,    0,    0,    1,    /* 1 */
        0x7f, 0xff, 0xff, 0xff, /* INT32_MAX */
        0,    0x4c, 0x4b, 0x40, /* 5000000 */
        0xff, 0xff, 0xff, 0xff, /* user data: null */
    };
    memcpy(f->forced_assign, forged, sizeof forged);
    f->forced_len = sizeof forged;
    static rebal r;
    const char *kv[] = {"enable.auto.commit=false", NULL};
    brook_client *c = client_for(f, &r, kv);
    wait_rebal(c, &r, 1, 5000);
    CU_ASSERT_EQUAL_FATAL(r.n, 1);
    CU_ASSERT_EQUAL(r.type[0], BROOK_REBALANCE_ASSIGNED);
    CU_ASSERT_STRING_EQUAL(r.parts[0], "1");
    brook_tp *tps = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(brook_assignment(c, &tps, &n), 0);
    CU_ASSERT_EQUAL(n, 1);
    free(tps);
    brook_client_destroy(c);
    fake_stop(f);
}

/* More than max.poll.interval.ms between polls: LeaveGroup, the
 * partitions LOST, a fresh join. */
static void test_poll_interval(void)
{
    fake *f = fake_start();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static rebal r;
    const char *kv[] = {"max.poll.interval.ms=300", "session.timeout.ms=5000",
                        NULL};
    brook_client *c = client_for(f, &r, kv);
    wait_rebal(c, &r, 1, 5000);
    CU_ASSERT_EQUAL_FATAL(r.n, 1);
    usleep(450 * 1000);
    wait_rebal(c, &r, 3, 5000);
    CU_ASSERT_EQUAL_FATAL(r.n, 3);
    CU_ASSERT_EQUAL(r.type[1], BROOK_REBALANCE_LOST);
    CU_ASSERT_EQUAL(r.type[2], BROOK_REBALANCE_ASSIGNED);
    int lv = ev_find(f, BK_API_LEAVE_GROUP, 0);
    CU_ASSERT_FATAL(lv > 0);
    CU_ASSERT_STRING_EQUAL(f->ev[lv].member, "m-1");
    int jn = ev_find(f, BK_API_JOIN_GROUP, lv);
    CU_ASSERT_FATAL(jn > lv);
    CU_ASSERT_STRING_EQUAL(f->ev[jn].member, "");
    /* a lost partition is not committed */
    CU_ASSERT_EQUAL(ev_find(f, BK_API_OFFSET_COMMIT, 0), -1);
    brook_client_destroy(c);
    fake_stop(f);
}

/* The brook CLI of this build: this program runs as
 * <build>/tests/unit/test_cgroup. */
static const char *brook_bin(void)
{
    static char path[4096];
    char exe[4000];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return "client/brook";
    exe[n] = 0;
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
    }
    snprintf(path, sizeof path, "%s/client/brook", exe);
    return path;
}

/* `brook consume -g`: prints every record once, commits them, leaves. */
static void test_cli_group(void)
{
    const char *bin = brook_bin();
    if (access(bin, X_OK) != 0) {
        CU_FAIL("client/brook is not built");
        return;
    }
    fake *f = fake_start();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char cmd[4400];
    snprintf(cmd, sizeof cmd,
             "'%s' consume -b 127.0.0.1:%d -g g1 -t t -o beginning "
             "-e -q -f '%%t/%%p/%%o:%%s\\n' -X heartbeat.interval.ms=100",
             bin, f->port[0]);
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    char line[128];
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, p)) {
        int part;
        long long off;
        char val[64];
        if (sscanf(line, "t/%d/%lld:%63s", &part, &off, val) != 3) {
            bad++;
            continue;
        }
        char want[64];
        snprintf(want, sizeof want, "p%d-%lld", part, off);
        bad += strcmp(val, want) != 0;
        n++;
    }
    CU_ASSERT_EQUAL(pclose(p), 0);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(n, NPARTS * NRECS);
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < NPARTS; i++)
        CU_ASSERT_EQUAL(f->committed[i], NRECS);
    pthread_mutex_unlock(&f->mu);
    CU_ASSERT_TRUE(ev_find(f, BK_API_LEAVE_GROUP, 0) > 0);
    /* a second run finds everything committed: nothing printed */
    p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    n = 0;
    while (fgets(line, sizeof line, p))
        n++;
    CU_ASSERT_EQUAL(pclose(p), 0);
    CU_ASSERT_EQUAL(n, 0);
    fake_stop(f);
}

/* The coordinator picks roundrobin (the client's second choice): the
 * leader uses it; brook_assignment() tells the member's share. */
static void test_roundrobin_and_fatal(void)
{
    fake *f = fake_start();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    f->other_member = 1;
    static rebal r;
    const char *kv[] = {"partition.assignment.strategy=roundrobin,range",
                        "enable.auto.commit=false", NULL};
    brook_client *c = client_for(f, &r, kv);
    wait_rebal(c, &r, 1, 5000);
    CU_ASSERT_EQUAL_FATAL(r.n, 1);
    CU_ASSERT_STRING_EQUAL(r.parts[0], "0,2");
    pthread_mutex_lock(&f->mu);
    CU_ASSERT_STRING_EQUAL(f->join_protocols, "roundrobin,range");
    CU_ASSERT_STRING_EQUAL(f->sync_assign[0], "m-1=t:0,2");
    CU_ASSERT_STRING_EQUAL(f->sync_assign[1], "m-2=t:1,3");
    pthread_mutex_unlock(&f->mu);
    brook_tp *a;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(brook_assignment(c, &a, &n), 0);
    CU_ASSERT_EQUAL(n, 2);
    if (n == 2) {
        CU_ASSERT_STRING_EQUAL(a[0].topic, TOPIC);
        CU_ASSERT_EQUAL(a[0].partition, 0);
        CU_ASSERT_EQUAL(a[1].partition, 2);
    }
    free(a);
    /* the group rebalances and the coordinator then refuses us for good:
     * one group-level error event, partitions given up, no more joins */
    pthread_mutex_lock(&f->mu);
    f->hb_err = BK_ERR_REBALANCE_IN_PROGRESS;
    f->hb_err_count = 1;
    f->join_err = BK_ERR_INCONSISTENT_GROUP_PROTOCOL;
    pthread_mutex_unlock(&f->mu);
    int64_t deadline = bk_clock_mono_ms() + 5000;
    const brook_msg *m = NULL;
    int type = -1;
    while (bk_clock_mono_ms() < deadline && type != BROOK_MSG_ERROR)
        if (brook_consume(c, 20, &m) == 1)
            type = m->type;
    CU_ASSERT_EQUAL_FATAL(type, BROOK_MSG_ERROR);
    CU_ASSERT_EQUAL(m->err, BK_ERR_INCONSISTENT_GROUP_PROTOCOL);
    CU_ASSERT_EQUAL(m->partition, -1);
    CU_ASSERT_STRING_EQUAL(m->topic, "");
    int joins = ev_count(f, BK_API_JOIN_GROUP);
    consume_for(c, 300, -1, NULL, NULL, NULL);
    CU_ASSERT_EQUAL(ev_count(f, BK_API_JOIN_GROUP), joins);
    CU_ASSERT_EQUAL(brook_assignment(c, &a, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    free(a);
    brook_client_destroy(c);
    fake_stop(f);
}

static void test_config(void)
{
    brook_conf *conf = brook_conf_new();
    char err[256];
    CU_ASSERT_EQUAL(brook_conf_set(conf, "partition.assignment.strategy",
                                   "sticky, range", err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(brook_conf_set(conf, "partition.assignment.strategy",
                                   "range,cooperative", err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cooperative"));
    CU_ASSERT_EQUAL(
        brook_conf_set(conf, "auto.offset.reset", "none", err, sizeof err), 0);
    CU_ASSERT_EQUAL(
        brook_conf_set(conf, "auto.offset.reset", "begin", err, sizeof err),
        -BK_EINVAL);
    CU_ASSERT_EQUAL(
        brook_conf_set(conf, "enable.auto.commit", "yes", err, sizeof err),
        -BK_EINVAL);
    CU_ASSERT_STRING_EQUAL(brook_conf_get(conf, "session.timeout.ms"), "45000");
    CU_ASSERT_STRING_EQUAL(brook_conf_get(conf, "heartbeat.interval.ms"),
                           "3000");
    CU_ASSERT_STRING_EQUAL(brook_conf_get(conf, "max.poll.interval.ms"),
                           "300000");
    CU_ASSERT_STRING_EQUAL(brook_conf_get(conf, "auto.commit.interval.ms"),
                           "5000");
    brook_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", err, sizeof err);
    brook_conf_set(conf, "heartbeat.interval.ms", "50000", err, sizeof err);
    CU_ASSERT_PTR_NULL(brook_client_new(conf, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "heartbeat.interval.ms"));
    brook_conf_set(conf, "heartbeat.interval.ms", "3000", err, sizeof err);
    brook_client *c = brook_client_new(conf, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    /* no group.id: no subscription, no commit */
    const char *t[] = {"t"};
    CU_ASSERT_EQUAL(brook_subscribe(c, t, 1), -BK_EINVAL);
    CU_ASSERT_EQUAL(brook_commit(c, NULL, 0, 10, NULL), -BK_EINVAL);
    CU_ASSERT_EQUAL(brook_consumer_close(c, 10), 0);
    brook_client_destroy(c);
}

static CU_TestInfo cg_tests[] = {
    {"config keys", test_config},
    {"join as leader, range, committed start", test_join_leader_committed},
    {"rebalance: commit, revoke, rejoin; lost", test_rebalance_commit_revoke},
    {"coordinator moves: rediscovery", test_coordinator_moves},
    {"auto.offset.reset earliest/latest/error", test_offset_reset},
    {"auto commit at its interval; async commit", test_auto_commit_interval},
    {"close commits, revokes, leaves", test_close_leaves},
    {"partition count change: leader rejoins", test_partition_count_change},
    {"forged partition indexes in the assignment", test_hostile_assignment},
    {"max.poll.interval.ms: leave, lost, rejoin", test_poll_interval},
    {"roundrobin chosen; fatal join error", test_roundrobin_and_fatal},
    {"brook consume -g", test_cli_group},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite("cgroup-fake-coordinator", cg_tests);
}
