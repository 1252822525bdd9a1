/*
 * test_frame.c -- tests common/frame.{h,c}: incremental frame decoding over
 * non-blocking-style reads, size limits, encoding, protobuf payload
 * decoding of good and hostile bytes, and the header peek used to answer
 * undecodable requests.  Run under ASan/UBSan the malformed-input tests
 * also prove "no crash, no leak".
 */
#include "common/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "proto/protocol.h"
#include "tests/unit/cu_main.h"

/* xorshift64*: a private generator so runs replay from bk_test_seed. */
static uint64_t rng_state;
static void rng_seed(uint64_t salt)
{
    rng_state = (bk_test_seed ^ salt) * 0x9E3779B97F4A7C15ull;
    if (rng_state == 0)
        rng_state = 1;
}
static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
/* Uniform-ish in [0, n). */
static size_t rng_below(size_t n)
{
    return n ? (size_t)(rng_next() % n) : 0;
}

/* Appends a raw frame: length field `len_field`, then n payload bytes. */
static void put_raw_frame(bk_buf *b, int32_t len_field, const void *p, size_t n)
{
    bk_buf_put_i32(b, len_field);
    bk_buf_put(b, p, n);
}

/* ------------------------------------------------------------------------
 * A Produce request with binary records (zero bytes inside).
 */
static const uint8_t records_a[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x2a, 0x00, 0xff, 0x00, 0x01,
                                    0x02, 0x00, 0x00, 0x7f, 0x80, 0x00};
static const uint8_t records_b[] = {0x00};

struct produce_fixture {
    Brook__Request req;
    Brook__RequestHeader hdr;
    Brook__ProduceRequest produce;
    Brook__TopicProduceData topics[2];
    Brook__TopicProduceData *topic_ptrs[2];
    Brook__PartitionProduceData parts[3];
    Brook__PartitionProduceData *parts0[2];
    Brook__PartitionProduceData *parts1[1];
};

static void produce_fixture_init(struct produce_fixture *f,
                                 int32_t correlation_id)
{
    brook__request__init(&f->req);
    brook__request_header__init(&f->hdr);
    brook__produce_request__init(&f->produce);
    f->hdr.api_key = BK_API_PRODUCE;
    f->hdr.api_version = 0;
    f->hdr.correlation_id = correlation_id;
    f->hdr.client_id = "test-client";
    f->req.header = &f->hdr;
    f->req.body_case = BROOK__REQUEST__BODY_PRODUCE;
    f->req.produce = &f->produce;
    f->produce.acks = -1;
    f->produce.timeout_ms = 30000;
    for (int i = 0; i < 2; i++) {
        brook__topic_produce_data__init(&f->topics[i]);
        f->topic_ptrs[i] = &f->topics[i];
    }
    for (int i = 0; i < 3; i++)
        brook__partition_produce_data__init(&f->parts[i]);
    f->topics[0].name = "orders";
    f->topics[0].n_partition_data = 2;
    f->topics[0].partition_data = f->parts0;
    f->parts0[0] = &f->parts[0];
    f->parts0[1] = &f->parts[1];
    f->parts[0].index = 0;
    f->parts[0].records.data = (uint8_t *)records_a;
    f->parts[0].records.len = sizeof records_a;
    f->parts[1].index = 7;
    f->parts[1].records.data = (uint8_t *)records_b;
    f->parts[1].records.len = sizeof records_b;
    f->topics[1].name = "t\xc3\xa9st"; /* UTF-8 */
    f->topics[1].n_partition_data = 1;
    f->topics[1].partition_data = f->parts1;
    f->parts1[0] = &f->parts[2];
    f->parts[2].index = 2147483647;
    /* parts[2].records stays empty: an empty bytes field */
    f->produce.n_topic_data = 2;
    f->produce.topic_data = f->topic_ptrs;
}

/* Encodes a small request whose payload is `payload_size` bytes or so,
 * carrying `tag` in its correlation id and client id. */
static void encode_tagged_request(bk_buf *out, int32_t tag, size_t pad)
{
    Brook__Request req = BROOK__REQUEST__INIT;
    Brook__RequestHeader hdr = BROOK__REQUEST_HEADER__INIT;
    Brook__HeartbeatRequest hb = BROOK__HEARTBEAT_REQUEST__INIT;
    char *member = malloc(pad + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(member);
    for (size_t i = 0; i < pad; i++)
        member[i] = (char)('a' + (tag + (int32_t)i) % 26);
    member[pad] = '\0';
    hdr.api_key = BK_API_HEARTBEAT;
    hdr.correlation_id = tag;
    req.header = &hdr;
    req.body_case = BROOK__REQUEST__BODY_HEARTBEAT;
    req.heartbeat = &hb;
    hb.group_id = "g";
    hb.generation_id = tag;
    hb.member_id = member;
    CU_ASSERT_EQUAL(bk_frame_encode_request(out, &req), 0);
    free(member);
}

/* Checks that a payload decodes to the request encode_tagged_request()
 * built for `tag`. */
static void check_tagged_request(const uint8_t *p, size_t n, int32_t tag,
                                 size_t pad)
{
    Brook__Request *req = NULL;
    CU_ASSERT_EQUAL_FATAL(bk_frame_decode_request(p, n, &req), 0);
    CU_ASSERT_EQUAL(req->header->correlation_id, tag);
    CU_ASSERT_EQUAL(req->header->api_key, BK_API_HEARTBEAT);
    CU_ASSERT_EQUAL_FATAL(req->body_case, BROOK__REQUEST__BODY_HEARTBEAT);
    CU_ASSERT_EQUAL(req->heartbeat->generation_id, tag);
    CU_ASSERT_EQUAL(strlen(req->heartbeat->member_id), pad);
    brook__request__free_unpacked(req, NULL);
}

/* ------------------------------------------------------------------------
 * Decoding from a read buffer
 */

/* The whole stream arrives one byte per read. */
static void test_byte_by_byte(void)
{
    bk_buf wire = BK_BUF_INIT, in = BK_BUF_INIT;
    const int nframes = 5;
    for (int i = 0; i < nframes; i++)
        encode_tagged_request(&wire, 100 + i, (size_t)i * 37);
    bk_frame_dec d;
    bk_frame_dec_init(&d, BK_FRAME_DEFAULT_MAX);
    int got = 0;
    size_t frame_start = 0; /* offset in `wire` of the frame being read */
    for (size_t i = 0; i < wire.len; i++) {
        /* Before the byte arrives the frame is incomplete. */
        const uint8_t *p;
        size_t n;
        CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), BK_AGAIN);
        size_t missing = bk_frame_dec_missing(&d, &in);
        CU_ASSERT(missing >= 1);
        bk_buf_put(&in, wire.data + i, 1);
        int rc = bk_frame_dec_next(&d, &in, &p, &n);
        size_t frame_len = 0;
        if (i + 1 - frame_start >= 4)
            frame_len = 4 + bk_load_be32(wire.data + frame_start);
        if (frame_len && i + 1 == frame_start + frame_len) {
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            CU_ASSERT_EQUAL(missing, 1);
            CU_ASSERT_EQUAL(n, frame_len - 4);
            check_tagged_request(p, n, 100 + got, (size_t)got * 37);
            got++;
            frame_start += frame_len;
            CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), BK_AGAIN);
        } else {
            CU_ASSERT_EQUAL(rc, BK_AGAIN);
        }
        bk_frame_dec_compact(&d, &in);
    }
    CU_ASSERT_EQUAL(got, nframes);
    CU_ASSERT_EQUAL(in.len, 0);
    bk_buf_free(&wire);
    bk_buf_free(&in);
}

/* Several frames arrive in one read, then one and a half, then the rest. */
static void test_several_in_one_read(void)
{
    bk_buf in = BK_BUF_INIT, tail = BK_BUF_INIT;
    for (int i = 0; i < 10; i++)
        encode_tagged_request(&in, i, (size_t)i);
    encode_tagged_request(&tail, 10, 300);
    size_t half = tail.len / 2;
    bk_buf_put(&in, tail.data, half);

    bk_frame_dec d;
    bk_frame_dec_init(&d, 1024);
    const uint8_t *p;
    size_t n;
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL_FATAL(bk_frame_dec_next(&d, &in, &p, &n), 0);
        check_tagged_request(p, n, i, (size_t)i);
    }
    CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), BK_AGAIN);
    CU_ASSERT_EQUAL(bk_frame_dec_missing(&d, &in), tail.len - half);
    /* The half frame survives compaction at the front of the buffer. */
    bk_frame_dec_compact(&d, &in);
    CU_ASSERT_EQUAL(in.len, half);
    CU_ASSERT_EQUAL(memcmp(in.data, tail.data, half), 0);
    bk_buf_put(&in, tail.data + half, tail.len - half);
    CU_ASSERT_EQUAL(bk_frame_dec_missing(&d, &in), 0);
    CU_ASSERT_EQUAL_FATAL(bk_frame_dec_next(&d, &in, &p, &n), 0);
    check_tagged_request(p, n, 10, 300);
    CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), BK_AGAIN);
    CU_ASSERT_EQUAL(bk_frame_dec_missing(&d, &in), 4);
    bk_frame_dec_compact(&d, &in);
    CU_ASSERT_EQUAL(in.len, 0);
    bk_buf_free(&in);
    bk_buf_free(&tail);
}

/* Raw payloads of random sizes, split into random chunks; compaction at
 * random moments, as a connection would do between reads. */
static void test_random_chunking(void)
{
    rng_seed(0xF4A3E);
    int rounds = bk_test_long ? 200 : 30;
    for (int round = 0; round < rounds; round++) {
        bk_buf wire = BK_BUF_INIT, in = BK_BUF_INIT;
        size_t nframes = 1 + rng_below(40);
        size_t *sizes = calloc(nframes, sizeof *sizes);
        CU_ASSERT_PTR_NOT_NULL_FATAL(sizes);
        uint32_t max = 70000;
        for (size_t i = 0; i < nframes; i++) {
            /* mostly small, sometimes up to the limit */
            size_t sz =
                rng_below(8) == 0 ? 1 + rng_below(max) : 1 + rng_below(300);
            if (rng_below(20) == 0)
                sz = max; /* exactly the limit is accepted */
            sizes[i] = sz;
            bk_buf_put_i32(&wire, (int32_t)sz);
            uint8_t *p = bk_buf_extend(&wire, sz);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p);
            /* contents derived from (frame, position), with zero bytes */
            for (size_t j = 0; j < sz; j++)
                p[j] = (uint8_t)((i * 131 + j * 7) % 251 * (j % 5 != 0));
        }
        bk_frame_dec d;
        bk_frame_dec_init(&d, max);
        size_t sent = 0, got = 0;
        while (sent < wire.len) {
            size_t chunk = 1 + rng_below(rng_below(4) == 0 ? 100000 : 64);
            if (chunk > wire.len - sent)
                chunk = wire.len - sent;
            bk_buf_put(&in, wire.data + sent, chunk);
            sent += chunk;
            const uint8_t *p;
            size_t n;
            int rc;
            while ((rc = bk_frame_dec_next(&d, &in, &p, &n)) == 0) {
                CU_ASSERT_FATAL(got < nframes);
                CU_ASSERT_EQUAL_FATAL(n, sizes[got]);
                bool same = true;
                for (size_t j = 0; j < n; j++)
                    same = same && p[j] == (uint8_t)((got * 131 + j * 7) % 251 *
                                                     (j % 5 != 0));
                CU_ASSERT_TRUE(same);
                got++;
            }
            CU_ASSERT_EQUAL_FATAL(rc, BK_AGAIN);
            if (sent < wire.len)
                CU_ASSERT(bk_frame_dec_missing(&d, &in) >= 1);
            if (rng_below(3) != 0)
                bk_frame_dec_compact(&d, &in);
        }
        CU_ASSERT_EQUAL(got, nframes);
        CU_ASSERT_EQUAL(d.pos, in.len); /* everything consumed */
        free(sizes);
        bk_buf_free(&wire);
        bk_buf_free(&in);
    }
}

/* A length above the limit is refused on the 4 length bytes alone, and the
 * error is sticky; the payload prefix still gives the correlation id. */
static void test_max_size(void)
{
    bk_frame_dec d;
    const uint8_t *p;
    size_t n;
    uint8_t payload[64] = {1, 2, 3};

    /* Exactly the limit: fine. */
    bk_buf in = BK_BUF_INIT;
    bk_frame_dec_init(&d, 64);
    put_raw_frame(&in, 64, payload, 64);
    CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), 0);
    CU_ASSERT_EQUAL(n, 64);

    /* One more: refused before any payload arrives. */
    bk_buf_reset(&in);
    bk_frame_dec_init(&d, 64);
    bk_buf_put_i32(&in, 65);
    CU_ASSERT_EQUAL(bk_frame_dec_missing(&d, &in), 0);
    CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), -BK_ETOOBIG);
    bk_buf_put(&in, payload, 64);
    CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), -BK_ETOOBIG);
    bk_frame_dec_compact(&d, &in);
    CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), -BK_ETOOBIG);

    /* The largest positive length against the default limit. */
    bk_buf_reset(&in);
    bk_frame_dec_init(&d, BK_FRAME_DEFAULT_MAX);
    bk_buf_put_i32(&in, INT32_MAX);
    CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), -BK_ETOOBIG);
    bk_buf_reset(&in);
    bk_frame_dec_init(&d, BK_FRAME_DEFAULT_MAX);
    bk_buf_put_i32(&in, (int32_t)BK_FRAME_DEFAULT_MAX + 1);
    CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), -BK_ETOOBIG);

    /* A too-big Produce: the first read holds the length and a prefix of
     * the payload; the header can be recovered from it. */
    struct produce_fixture f;
    produce_fixture_init(&f, 4242);
    bk_buf enc = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_frame_encode_request(&enc, &f.req), 0);
    size_t plen = enc.len - 4;
    bk_buf_reset(&in);
    bk_frame_dec_init(&d, (uint32_t)plen - 1);
    bk_buf_put(&in, enc.data, 4 + 20); /* header field fits in 20 bytes */
    CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), -BK_ETOOBIG);
    const uint8_t *part;
    size_t part_n;
    bk_frame_dec_partial(&d, &in, &part, &part_n);
    CU_ASSERT_EQUAL(part_n, 20);
    bk_frame_hdr h;
    CU_ASSERT_EQUAL(bk_frame_peek_header(part, part_n, &h), 0);
    CU_ASSERT_EQUAL(h.correlation_id, 4242);
    CU_ASSERT_EQUAL(h.api_key, BK_API_PRODUCE);
    bk_buf_free(&enc);
    bk_buf_free(&in);
}

static void test_zero_negative_length(void)
{
    static const int32_t bad[] = {0, -1, INT32_MIN, -4};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bk_buf in = BK_BUF_INIT;
        bk_frame_dec d;
        bk_frame_dec_init(&d, BK_FRAME_DEFAULT_MAX);
        const uint8_t *p;
        size_t n;
        /* A good frame first: it is still delivered. */
        put_raw_frame(&in, 3, "abc", 3);
        bk_buf_put_i32(&in, bad[i]);
        bk_buf_put(&in, "xyzw", 4);
        CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), 0);
        CU_ASSERT_EQUAL(n, 3);
        CU_ASSERT_EQUAL(memcmp(p, "abc", 3), 0);
        CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), -BK_EINVAL);
        CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &in, &p, &n), -BK_EINVAL);
        CU_ASSERT_EQUAL(bk_frame_dec_missing(&d, &in), 0);
        bk_buf_free(&in);
    }
}

/* ------------------------------------------------------------------------
 * Encoding and payload decoding
 */

static void test_produce_round_trip(void)
{
    struct produce_fixture f;
    produce_fixture_init(&f, -7);
    bk_buf out = BK_BUF_INIT;
    bk_buf_put(&out, "prefix", 6); /* frames append after what is there */
    CU_ASSERT_EQUAL_FATAL(bk_frame_encode_request(&out, &f.req), 0);
    CU_ASSERT_EQUAL(memcmp(out.data, "prefix", 6), 0);
    size_t plen = protobuf_c_message_get_packed_size(&f.req.base);
    CU_ASSERT_EQUAL_FATAL(out.len, 6 + 4 + plen);
    CU_ASSERT_EQUAL(bk_load_be32(out.data + 6), plen);

    bk_frame_dec d;
    bk_frame_dec_init(&d, BK_FRAME_DEFAULT_MAX);
    d.pos = 6; /* skip the prefix */
    const uint8_t *p;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(bk_frame_dec_next(&d, &out, &p, &n), 0);
    Brook__Request *r = NULL;
    CU_ASSERT_EQUAL_FATAL(bk_frame_decode_request(p, n, &r), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->header->api_key, BK_API_PRODUCE);
    CU_ASSERT_EQUAL(r->header->correlation_id, -7);
    CU_ASSERT_STRING_EQUAL(r->header->client_id, "test-client");
    CU_ASSERT_EQUAL_FATAL(r->body_case, BROOK__REQUEST__BODY_PRODUCE);
    CU_ASSERT_EQUAL((int)r->body_case, BK_BODY_FIELD(r->header->api_key));
    Brook__ProduceRequest *pr = r->produce;
    CU_ASSERT_EQUAL(pr->acks, -1);
    CU_ASSERT_EQUAL(pr->timeout_ms, 30000);
    CU_ASSERT_STRING_EQUAL(pr->transactional_id, "");
    CU_ASSERT_EQUAL_FATAL(pr->n_topic_data, 2);
    CU_ASSERT_STRING_EQUAL(pr->topic_data[0]->name, "orders");
    CU_ASSERT_STRING_EQUAL(pr->topic_data[1]->name, "t\xc3\xa9st");
    CU_ASSERT_EQUAL_FATAL(pr->topic_data[0]->n_partition_data, 2);
    CU_ASSERT_EQUAL_FATAL(pr->topic_data[1]->n_partition_data, 1);
    Brook__PartitionProduceData *a = pr->topic_data[0]->partition_data[0];
    Brook__PartitionProduceData *b = pr->topic_data[0]->partition_data[1];
    Brook__PartitionProduceData *c = pr->topic_data[1]->partition_data[0];
    CU_ASSERT_EQUAL(a->index, 0);
    CU_ASSERT_EQUAL_FATAL(a->records.len, sizeof records_a);
    CU_ASSERT_EQUAL(memcmp(a->records.data, records_a, sizeof records_a), 0);
    /* decoded bytes are a copy, not a pointer into the frame */
    CU_ASSERT(a->records.data < out.data ||
              a->records.data >= out.data + out.len);
    CU_ASSERT_EQUAL(b->index, 7);
    CU_ASSERT_EQUAL_FATAL(b->records.len, 1);
    CU_ASSERT_EQUAL(b->records.data[0], 0);
    CU_ASSERT_EQUAL(c->index, 2147483647);
    CU_ASSERT_EQUAL(c->records.len, 0);
    brook__request__free_unpacked(r, NULL);

    /* The decoded request still decodes after compaction (own memory). */
    bk_frame_dec_compact(&d, &out);
    CU_ASSERT_EQUAL(out.len, 0);
    bk_buf_free(&out);
}

/* A Fetch response with records and negative fields, and a header-only
 * error response, both ways. */
static void test_response_round_trip(void)
{
    Brook__Response resp = BROOK__RESPONSE__INIT;
    Brook__ResponseHeader hdr = BROOK__RESPONSE_HEADER__INIT;
    Brook__FetchResponse fr = BROOK__FETCH_RESPONSE__INIT;
    Brook__FetchableTopicResponse t = BROOK__FETCHABLE_TOPIC_RESPONSE__INIT;
    Brook__FetchableTopicResponse *tp = &t;
    Brook__FetchPartitionData pd = BROOK__FETCH_PARTITION_DATA__INIT;
    Brook__FetchPartitionData *pdp = &pd;
    hdr.correlation_id = 99;
    hdr.api_key = BK_API_FETCH;
    resp.header = &hdr;
    resp.body_case = BROOK__RESPONSE__BODY_FETCH;
    resp.fetch = &fr;
    fr.n_responses = 1;
    fr.responses = &tp;
    t.topic = "orders";
    t.n_partitions = 1;
    t.partitions = &pdp;
    pd.partition_index = 3;
    pd.error_code = BK_ERR_NO_ERROR;
    pd.high_watermark = 1000000000000LL;
    pd.last_stable_offset = -1;
    pd.log_start_offset = 0;
    pd.records.data = (uint8_t *)records_a;
    pd.records.len = sizeof records_a;

    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_frame_encode_response(&out, &resp), 0);
    /* and an error-only response right behind it */
    Brook__Response err = BROOK__RESPONSE__INIT;
    Brook__ResponseHeader ehdr = BROOK__RESPONSE_HEADER__INIT;
    ehdr.correlation_id = 100;
    ehdr.api_key = BK_API_METADATA;
    ehdr.error_code = BK_ERR_INVALID_REQUEST;
    err.header = &ehdr;
    CU_ASSERT_EQUAL_FATAL(bk_frame_encode_response(&out, &err), 0);

    bk_frame_dec d;
    bk_frame_dec_init(&d, BK_FRAME_DEFAULT_MAX);
    const uint8_t *p;
    size_t n;
    Brook__Response *r = NULL;
    CU_ASSERT_EQUAL_FATAL(bk_frame_dec_next(&d, &out, &p, &n), 0);
    CU_ASSERT_EQUAL_FATAL(bk_frame_decode_response(p, n, &r), 0);
    CU_ASSERT_EQUAL(r->header->correlation_id, 99);
    CU_ASSERT_EQUAL_FATAL(r->body_case, BROOK__RESPONSE__BODY_FETCH);
    CU_ASSERT_EQUAL_FATAL(r->fetch->n_responses, 1);
    CU_ASSERT_EQUAL_FATAL(r->fetch->responses[0]->n_partitions, 1);
    Brook__FetchPartitionData *q = r->fetch->responses[0]->partitions[0];
    CU_ASSERT_EQUAL(q->partition_index, 3);
    CU_ASSERT_EQUAL(q->high_watermark, 1000000000000LL);
    CU_ASSERT_EQUAL(q->last_stable_offset, -1);
    CU_ASSERT_EQUAL_FATAL(q->records.len, sizeof records_a);
    CU_ASSERT_EQUAL(memcmp(q->records.data, records_a, sizeof records_a), 0);
    brook__response__free_unpacked(r, NULL);

    CU_ASSERT_EQUAL_FATAL(bk_frame_dec_next(&d, &out, &p, &n), 0);
    CU_ASSERT_EQUAL_FATAL(bk_frame_decode_response(p, n, &r), 0);
    CU_ASSERT_EQUAL(r->header->correlation_id, 100);
    CU_ASSERT_EQUAL(r->header->error_code, BK_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(r->body_case, BROOK__RESPONSE__BODY__NOT_SET);
    brook__response__free_unpacked(r, NULL);
    CU_ASSERT_EQUAL(bk_frame_dec_next(&d, &out, &p, &n), BK_AGAIN);
    bk_buf_free(&out);
}

/* An empty message would be a zero-length frame, which the wire forbids. */
static void test_encode_empty(void)
{
    Brook__Request req = BROOK__REQUEST__INIT;
    bk_buf out = BK_BUF_INIT;
    bk_buf_put(&out, "x", 1);
    CU_ASSERT_EQUAL(bk_frame_encode_request(&out, &req), -BK_EINVAL);
    CU_ASSERT_EQUAL(out.len, 1);
    /* A header with every field at its default still makes a frame. */
    Brook__RequestHeader hdr = BROOK__REQUEST_HEADER__INIT;
    req.header = &hdr;
    CU_ASSERT_EQUAL(bk_frame_encode_request(&out, &req), 0);
    CU_ASSERT_EQUAL(out.len, 1 + 4 + 2);
    Brook__Request *r = NULL;
    CU_ASSERT_EQUAL(bk_frame_decode_request(out.data + 5, 2, &r), 0);
    CU_ASSERT_PTR_NOT_NULL(r);
    if (r) {
        CU_ASSERT_EQUAL(r->header->correlation_id, 0);
        CU_ASSERT_EQUAL(r->body_case, BROOK__REQUEST__BODY__NOT_SET);
        brook__request__free_unpacked(r, NULL);
    }
    bk_buf_free(&out);
}

/* Well-framed garbage: decoding fails cleanly (ASan checks the leaks). */
static void test_garbage_payloads(void)
{
    struct {
        const char *what;
        const uint8_t *p;
        size_t n;
    } cases[] = {
        {"truncated varint", (const uint8_t *)"\x08\xff", 2},
        {"length past the end", (const uint8_t *)"\x0a\x05\x08\x01", 4},
        {"wire type 7", (const uint8_t *)"\x0f\x00", 2},
        {"field number 0", (const uint8_t *)"\x02\x00", 2},
        {"11-byte varint",
         (const uint8_t *)"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
         12},
        {"header then bad body length",
         (const uint8_t *)"\x0a\x02\x18\x05\x52\x7f\x00", 7},
        {"body is not a message",
         (const uint8_t *)"\x0a\x02\x18\x05\x52\x03\xff\xff\xff", 9},
        {"all 0xff", (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff", 8},
        {"ascii text", (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Brook__Request *r = (Brook__Request *)&r; /* must be overwritten */
        Brook__Response *s = (Brook__Response *)&s;
        int rc = bk_frame_decode_request(cases[i].p, cases[i].n, &r);
        if (rc != -BK_EINVAL)
            printf("case '%s': rc %d\n", cases[i].what, rc);
        CU_ASSERT_EQUAL(rc, -BK_EINVAL);
        CU_ASSERT_PTR_NULL(r);
        CU_ASSERT_EQUAL(bk_frame_decode_response(cases[i].p, cases[i].n, &s),
                        -BK_EINVAL);
        CU_ASSERT_PTR_NULL(s);
    }

    /* Valid protobuf but no header: nothing to answer, so an error. */
    Brook__Request req = BROOK__REQUEST__INIT;
    Brook__HeartbeatRequest hb = BROOK__HEARTBEAT_REQUEST__INIT;
    hb.group_id = "g";
    req.body_case = BROOK__REQUEST__BODY_HEARTBEAT;
    req.heartbeat = &hb;
    bk_buf out = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_frame_encode_request(&out, &req), 0);
    Brook__Request *r = NULL;
    CU_ASSERT_EQUAL(bk_frame_decode_request(out.data + 4, out.len - 4, &r),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NULL(r);
    bk_buf_free(&out);
}

/* The header survives a damaged body; nothing before the damage, no
 * header. */
static void test_peek_header(void)
{
    struct produce_fixture f;
    produce_fixture_init(&f, 31337);
    f.hdr.api_version = 3;
    bk_buf enc = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_frame_encode_request(&enc, &f.req), 0);
    const uint8_t *p = enc.data + 4;
    size_t n = enc.len - 4;
    bk_frame_hdr h;

    /* intact */
    CU_ASSERT_EQUAL(bk_frame_peek_header(p, n, &h), 0);
    CU_ASSERT_EQUAL(h.correlation_id, 31337);
    CU_ASSERT_EQUAL(h.api_key, BK_API_PRODUCE);
    CU_ASSERT_EQUAL(h.api_version, 3);

    /* every truncation that keeps the header field whole works; shorter
     * ones fail */
    size_t hdr_end = 2 + p[1]; /* key byte, 1-byte length, header bytes */
    CU_ASSERT_EQUAL_FATAL(p[0], 0x0a);
    for (size_t cut = 0; cut <= n; cut++) {
        memset(&h, 0x55, sizeof h);
        int rc = bk_frame_peek_header(p, cut, &h);
        if (cut >= hdr_end) {
            CU_ASSERT_EQUAL(rc, 0);
            CU_ASSERT_EQUAL(h.correlation_id, 31337);
        } else {
            CU_ASSERT_EQUAL(rc, -BK_EINVAL);
        }
    }

    /* garbage body after a good header: decode fails, peek works */
    bk_buf bad = BK_BUF_INIT;
    bk_buf_put(&bad, p, hdr_end);
    bk_buf_put(&bad, "\x52\x05\xff\xff\xff\xff\xff", 7);
    Brook__Request *r = NULL;
    CU_ASSERT_EQUAL(bk_frame_decode_request(bad.data, bad.len, &r), -BK_EINVAL);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(bk_frame_peek_header(bad.data, bad.len, &h), 0);
    CU_ASSERT_EQUAL(h.correlation_id, 31337);

    /* damage before the header: no header */
    bk_buf_reset(&bad);
    bk_buf_put(&bad, "\x0f", 1);
    bk_buf_put(&bad, p, n);
    CU_ASSERT_EQUAL(bk_frame_peek_header(bad.data, bad.len, &h), -BK_EINVAL);

    /* a damaged header is not trusted */
    bk_buf_reset(&bad);
    bk_buf_put(&bad, "\x0a\x03\x18\xff\xff", 5);
    CU_ASSERT_EQUAL(bk_frame_peek_header(bad.data, bad.len, &h), -BK_EINVAL);

    /* negative ids (10-byte varints) */
    Brook__Request req = BROOK__REQUEST__INIT;
    Brook__RequestHeader hdr = BROOK__REQUEST_HEADER__INIT;
    hdr.api_key = BK_API_FETCH;
    hdr.correlation_id = -2;
    req.header = &hdr;
    bk_buf_reset(&bad);
    CU_ASSERT_EQUAL_FATAL(bk_frame_encode_request(&bad, &req), 0);
    CU_ASSERT_EQUAL(bk_frame_peek_header(bad.data + 4, bad.len - 4, &h), 0);
    CU_ASSERT_EQUAL(h.correlation_id, -2);
    CU_ASSERT_EQUAL(h.api_key, BK_API_FETCH);
    /* A second header (only api_version = 4) replaces the first; the peek
     * must agree with protobuf-c, which does not merge the two. */
    bk_buf_put(&bad, "\x0a\x02\x10\x04", 4);
    CU_ASSERT_EQUAL_FATAL(
        bk_frame_decode_request(bad.data + 4, bad.len - 4, &r), 0);
    CU_ASSERT_EQUAL(bk_frame_peek_header(bad.data + 4, bad.len - 4, &h), 0);
    CU_ASSERT_EQUAL(h.correlation_id, r->header->correlation_id);
    CU_ASSERT_EQUAL(h.api_key, r->header->api_key);
    CU_ASSERT_EQUAL(h.api_version, r->header->api_version);
    CU_ASSERT_EQUAL(h.api_version, 4);
    brook__request__free_unpacked(r, NULL);

    /* no header at all */
    CU_ASSERT_EQUAL(bk_frame_peek_header((const uint8_t *)"", 0, &h),
                    -BK_EINVAL);
    CU_ASSERT_EQUAL(
        bk_frame_peek_header((const uint8_t *)"\x08\x01\x10\x02", 4, &h),
        -BK_EINVAL);
    bk_buf_free(&bad);
    bk_buf_free(&enc);
}

/* ------------------------------------------------------------------------
 * Fuzz: random bytes and mutated valid frames through every entry point.
 */

/* Feeds bytes to every decoding function; returns how many decoded. */
static int fuzz_one(const uint8_t *p, size_t n)
{
    int ok = 0;
    Brook__Request *r = NULL;
    if (bk_frame_decode_request(p, n, &r) == 0) {
        CU_ASSERT_PTR_NOT_NULL(r->header);
        brook__request__free_unpacked(r, NULL);
        ok++;
    } else {
        CU_ASSERT_PTR_NULL(r);
    }
    Brook__Response *s = NULL;
    if (bk_frame_decode_response(p, n, &s) == 0) {
        brook__response__free_unpacked(s, NULL);
        ok++;
    } else {
        CU_ASSERT_PTR_NULL(s);
    }
    bk_frame_hdr h;
    (void)bk_frame_peek_header(p, n, &h);

    /* As a raw stream too: frames out of it until AGAIN or an error. */
    bk_buf in = BK_BUF_INIT;
    bk_buf_put(&in, p, n);
    bk_frame_dec d;
    bk_frame_dec_init(&d, 4096);
    const uint8_t *fp;
    size_t fn;
    int rc;
    int frames = 0;
    while ((rc = bk_frame_dec_next(&d, &in, &fp, &fn)) == 0) {
        CU_ASSERT(fn >= 1 && fn <= 4096);
        CU_ASSERT(fp >= in.data && fp + fn <= in.data + in.len);
        frames++;
    }
    CU_ASSERT(rc == BK_AGAIN || rc == -BK_EINVAL || rc == -BK_ETOOBIG);
    const uint8_t *pp;
    size_t pn;
    bk_frame_dec_partial(&d, &in, &pp, &pn);
    CU_ASSERT(pn <= n);
    bk_buf_free(&in);
    (void)frames;
    return ok;
}

static void test_fuzz(void)
{
    rng_seed(0xF022);
    int iters = bk_test_long ? 500000 : 30000;
    uint8_t buf[512];
    int decoded = 0;
    /* pure random bytes, biased toward small field keys and lengths */
    for (int i = 0; i < iters; i++) {
        size_t n = rng_below(sizeof buf + 1);
        for (size_t j = 0; j < n; j++) {
            uint64_t x = rng_next();
            buf[j] = (x & 3) ? (uint8_t)(x >> 8) : (uint8_t)((x >> 8) & 0x3f);
        }
        decoded += fuzz_one(buf, n);
    }
    /* mutations of a valid Produce frame (reach deeper into protobuf-c) */
    struct produce_fixture f;
    produce_fixture_init(&f, 5);
    bk_buf enc = BK_BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(bk_frame_encode_request(&enc, &f.req), 0);
    CU_ASSERT_FATAL(enc.len <= sizeof buf);
    int mutated_ok = 0;
    for (int i = 0; i < iters; i++) {
        size_t n = enc.len;
        memcpy(buf, enc.data, n);
        int edits = 1 + (int)rng_below(4);
        for (int e = 0; e < edits; e++) {
            switch (rng_below(4)) {
            case 0: /* flip a byte */
                buf[rng_below(n)] = (uint8_t)rng_next();
                break;
            case 1: /* flip a bit */
                buf[rng_below(n)] ^= (uint8_t)(1u << rng_below(8));
                break;
            case 2: /* truncate */
                n = 1 + rng_below(n);
                break;
            default: /* set a length-like byte to an extreme */
                buf[rng_below(n)] = rng_below(2) ? 0x7f : 0x80;
                break;
            }
        }
        /* skip the frame length half the time: decode the payload */
        if (rng_below(2) && n > 4)
            mutated_ok += fuzz_one(buf + 4, n - 4);
        else
            fuzz_one(buf, n);
    }
    printf("\n    fuzz: %d random inputs (%d decoded), %d mutations (%d "
           "decoded) ",
           iters, decoded, iters, mutated_ok);
    /* Most single mutations of a valid message still decode; if none did,
     * the mutation loop would be testing nothing but the error path. */
    CU_ASSERT(mutated_ok > 0);
    bk_buf_free(&enc);
}

void bk_test_register(void)
{
    static CU_TestInfo tests[] = {
        {"byte by byte", test_byte_by_byte},
        {"several frames in one read", test_several_in_one_read},
        {"random chunking", test_random_chunking},
        {"max frame size", test_max_size},
        {"zero and negative length", test_zero_negative_length},
        {"produce round trip", test_produce_round_trip},
        {"response round trip", test_response_round_trip},
        {"encode empty message", test_encode_empty},
        {"garbage payloads", test_garbage_payloads},
        {"peek header", test_peek_header},
        {"fuzz", test_fuzz},
        CU_TEST_INFO_NULL,
    };
    bk_test_add_suite("frame", tests);
}
