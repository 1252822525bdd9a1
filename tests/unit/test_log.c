/*
 * test_log.c -- broker/log.c, segment.c and index.c: the partition log on
 * real files (bk_test_subdir()).
 *
 * Most checks compare the log with a model: the list of batches (their
 * exact bytes, as the log must serve them) that must be there.  The crash
 * test cuts copies of a log directory at many byte positions and checks
 * recovery against the same model; the model test drives random operations
 * for ~2 s (20 s with --long) and checks after each one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/log.h"
#include "broker/segment.h"
#include "common/batch.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "tests/unit/cu_main.h"

#define TOPIC "t"
#define PART  0

/* ------------------------------- helpers ------------------------------- */

static uint64_t rng = 88172645463325252ull;

static void rng_seed(unsigned long seed)
{
    rng = seed * 2654435761u + 88172645463325252ull;
    if (rng == 0)
        rng = 1;
}

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* A batch the test built, with what the log must serve for it. */
typedef struct tbatch {
    uint8_t *data; /* owned: the bytes (offsets/epoch set once appended) */
    size_t len;
    int64_t base;  /* base offset once appended */
    int32_t count; /* records */
    int32_t epoch;
    int64_t *ts; /* owned: record timestamps */
    int64_t max_ts;
} tbatch;

static void tb_free(tbatch *b)
{
    free(b->data);
    free(b->ts);
    memset(b, 0, sizeof *b);
}

static int64_t tb_last(const tbatch *b)
{
    return b->base + b->count - 1;
}

/* n records with values of vlen bytes, timestamps ts0, ts0+step, ... */
static tbatch make_batch(int n, size_t vlen, int64_t ts0, int64_t step)
{
    static uint32_t tag;
    tbatch t = {0};
    bk_batch_builder b;
    bk_buf out = BK_BUF_INIT;
    uint8_t *val = malloc(vlen + 1);
    CU_ASSERT_FATAL(val != NULL);
    CU_ASSERT_FATAL(bk_batch_builder_init(&b, BK_CODEC_NONE) == 0);
    t.ts = calloc((size_t)n, sizeof *t.ts);
    t.count = n;
    t.max_ts = -1;
    tag++;
    for (int i = 0; i < n; i++) {
        char key[32];
        int klen = snprintf(key, sizeof key, "k%u-%d", tag, i);
        for (size_t j = 0; j < vlen; j++)
            val[j] = (uint8_t)(tag * 31 + (uint32_t)i * 7 + j);
        t.ts[i] = ts0 + step * i;
        if (t.ts[i] > t.max_ts)
            t.max_ts = t.ts[i];
        bk_record r = {key, klen, val, (int32_t)vlen, t.ts[i], NULL, 0};
        CU_ASSERT_FATAL(bk_batch_builder_add(&b, &r) == 0);
    }
    CU_ASSERT_FATAL(bk_batch_builder_finish(&b, &out) == 0);
    bk_batch_builder_free(&b);
    free(val);
    t.data = bk_buf_detach(&out, &t.len);
    return t;
}

static tbatch tb_copy(const tbatch *b)
{
    tbatch c = *b;
    c.data = malloc(b->len);
    c.ts = malloc(sizeof *c.ts * (size_t)b->count);
    memcpy(c.data, b->data, b->len);
    memcpy(c.ts, b->ts, sizeof *c.ts * (size_t)b->count);
    return c;
}

/* The model: batches in offset order that the log must hold. */
typedef struct model {
    tbatch *v;
    size_t n, cap;
    int64_t start; /* log start offset */
    int64_t leo;
} model;

static void model_push(model *m, tbatch b)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = realloc(m->v, m->cap * sizeof *m->v);
        CU_ASSERT_FATAL(m->v != NULL);
    }
    m->v[m->n++] = b;
    m->leo = tb_last(&b) + 1;
}

static void model_free(model *m)
{
    for (size_t i = 0; i < m->n; i++)
        tb_free(&m->v[i]);
    free(m->v);
    memset(m, 0, sizeof *m);
}

/* The log dropped every batch whose last offset >= offset. */
static void model_truncate(model *m, int64_t offset)
{
    while (m->n > 0 && tb_last(&m->v[m->n - 1]) >= offset) {
        m->leo = m->v[m->n - 1].base;
        tb_free(&m->v[--m->n]);
    }
    if (m->start > m->leo)
        m->start = m->leo; /* the cut batch straddled the start */
}

/* Batches wholly below start are gone (retention); the start moves up
 * to it. */
static void model_drop_below(model *m, int64_t start)
{
    size_t k = 0;
    while (k < m->n && tb_last(&m->v[k]) < start)
        tb_free(&m->v[k++]);
    memmove(m->v, m->v + k, (m->n - k) * sizeof *m->v);
    m->n -= k;
    if (start > m->start)
        m->start = start;
}

/* Index of the model batch holding offset (or the first after it). */
static size_t model_find(const model *m, int64_t offset)
{
    size_t i = 0;
    while (i < m->n && tb_last(&m->v[i]) < offset)
        i++;
    return i;
}

static bk_log_config small_config(void)
{
    bk_log_config c;
    bk_log_config_default(&c);
    c.segment_bytes = 4096;
    c.index_interval_bytes = 256;
    c.retention_ms = -1;
    return c;
}

static bk_log *open_log(const char *dir, const bk_log_config *cfg, int64_t rp,
                        int64_t start)
{
    bk_log *log = NULL;
    int rc = bk_log_open(dir, TOPIC, PART, cfg, rp, start, &log);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return log;
}

/* Leader-appends b (a copy goes to the model).  Checks the offsets. */
static void append(bk_log *log, model *m, tbatch *b, int32_t epoch)
{
    bk_log_append_info ai;
    int64_t leo = bk_log_end_offset(log);
    int rc = bk_log_append(log, b->data, b->len, epoch, &ai);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(ai.first_offset, leo);
    CU_ASSERT_EQUAL(ai.last_offset, leo + b->count - 1);
    CU_ASSERT_EQUAL(ai.records, b->count);
    CU_ASSERT_EQUAL(ai.batches, 1);
    CU_ASSERT_EQUAL(ai.max_timestamp, b->max_ts);
    CU_ASSERT_EQUAL(bk_log_end_offset(log), leo + b->count);
    b->base = leo;
    b->epoch = epoch;
    model_push(m, tb_copy(b));
}

static uint8_t *slice_bytes(const bk_log_slice *s)
{
    uint8_t *p = malloc(s->len ? s->len : 1);
    size_t got = 0;
    while (got < s->len) {
        ssize_t r = pread(s->fd, p + got, s->len - got, (off_t)(s->pos + got));
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    CU_ASSERT_EQUAL(got, s->len);
    return p;
}

static bool is_seg_base(const bk_log *log, int64_t offset)
{
    for (int i = 0; i < bk_log_segment_count(log); i++)
        if (bk_log_segment_base(log, i) == offset)
            return true;
    return false;
}

static int fails;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            if (fails++ < 20) {                                                \
                fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,         \
                        __LINE__, #cond);                                      \
                fprintf(stderr, __VA_ARGS__);                                  \
                fprintf(stderr, "\n");                                         \
            }                                                                  \
            CU_FAIL(#cond);                                                    \
            return false;                                                      \
        }                                                                      \
    } while (0)

/* One read checked against the model: the right first batch, exact bytes,
 * and a stop that only max_bytes, max_offset, a segment end or the LEO
 * explain. */
static bool check_read(bk_log *log, const model *m, int64_t offset,
                       size_t max_bytes, int64_t max_offset)
{
    bk_log_slice s;
    int rc = bk_log_read(log, offset, max_bytes, max_offset, &s);
    if (offset < m->start || offset > m->leo) {
        CHECK(rc == -BK_ERANGE,
              "read %" PRId64 " (start %" PRId64 ", leo %" PRId64 "): rc %d",
              offset, m->start, m->leo, rc);
        return true;
    }
    CHECK(rc == 0, "read %" PRId64 ": rc %d", offset, rc);
    size_t i = model_find(m, offset);
    if (i == m->n || (max_offset >= 0 && offset >= max_offset) ||
        (max_offset >= 0 && tb_last(&m->v[i]) >= max_offset)) {
        CHECK(s.len == 0, "read %" PRId64 ": %zu bytes, expected none", offset,
              s.len);
        return true;
    }
    CHECK(s.len > 0, "read %" PRId64 " (max %zu, below %" PRId64 "): empty",
          offset, max_bytes, max_offset);
    CHECK(s.first_offset == m->v[i].base, "first %" PRId64 " != %" PRId64,
          s.first_offset, m->v[i].base);
    uint8_t *p = slice_bytes(&s);
    size_t off = 0, j = i;
    bool ok = true;
    while (off < s.len && ok) {
        if (j >= m->n || m->v[j].len > s.len - off ||
            memcmp(p + off, m->v[j].data, m->v[j].len) != 0) {
            fprintf(stderr, "read %" PRId64 ": batch %zu differs\n", offset, j);
            ok = false;
            break;
        }
        off += m->v[j].len;
        j++;
    }
    free(p);
    CHECK(ok, "bytes of read at %" PRId64, offset);
    CHECK(j == i + 1 || off <= max_bytes, "read %" PRId64 ": %zu > max %zu",
          offset, off, max_bytes);
    if (j < m->n) {
        /* why did it stop? */
        bool explained = off + m->v[j].len > max_bytes ||
                         (max_offset >= 0 && tb_last(&m->v[j]) >= max_offset) ||
                         is_seg_base(log, m->v[j].base);
        CHECK(explained,
              "read %" PRId64 " stopped before batch %" PRId64
              " for no reason (max %zu, got %zu)",
              offset, m->v[j].base, max_bytes, off);
        /* next: after the slice, at or before the next batch (a gap may
         * lie between) */
        CHECK(s.next_offset > tb_last(&m->v[j - 1]) &&
                  s.next_offset <= m->v[j].base,
              "next %" PRId64 " not in (%" PRId64 ", %" PRId64 "]",
              s.next_offset, tb_last(&m->v[j - 1]), m->v[j].base);
    } else {
        CHECK(s.next_offset == m->leo, "next %" PRId64 " != leo %" PRId64,
              s.next_offset, m->leo);
    }
    return true;
}

/* Everything: offsets, and every batch read back (from its first offset,
 * a middle one and its last one). */
static bool check_all(bk_log *log, const model *m)
{
    CHECK(bk_log_end_offset(log) == m->leo, "leo %" PRId64 " != %" PRId64,
          bk_log_end_offset(log), m->leo);
    CHECK(bk_log_start_offset(log) == m->start, "start %" PRId64 " != %" PRId64,
          bk_log_start_offset(log), m->start);
    for (size_t i = 0; i < m->n; i++) {
        const tbatch *b = &m->v[i];
        if (b->base >= m->start && !check_read(log, m, b->base, 1, -1))
            return false;
        if (!check_read(log, m, tb_last(b), 1, -1))
            return false;
        int64_t mid = b->base + b->count / 2;
        if (mid >= m->start && !check_read(log, m, mid, 1 << 20, -1))
            return false;
    }
    if (!check_read(log, m, m->leo, 100, -1) ||
        !check_read(log, m, m->leo + 1, 100, -1))
        return false;
    if (m->start > 0 && !check_read(log, m, m->start - 1, 100, -1))
        return false;
    return true;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : (uint64_t)-1;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n)
        n = 0;
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(p, 1, n, f) == n);
    fclose(f);
}

static char *seg_file(const char *pdir, int64_t base, const char *ext)
{
    static char path[4096];
    CU_ASSERT_FATAL(bk_seg_path(path, sizeof path, pdir, base, ext) == 0);
    return path;
}

/* The partition directory of a log under dir. */
static const char *pdir_of(const char *dir)
{
    static char p[4096];
    int n = snprintf(p, sizeof p, "%s/%s-%d", dir, TOPIC, PART);
    CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof p);
    return p;
}

/* Copies every regular file of src into dst (created). */
static void copy_dir(const char *src, const char *dst)
{
    CU_ASSERT_FATAL(mkdir(dst, 0755) == 0 || errno == EEXIST);
    DIR *d = opendir(src);
    CU_ASSERT_FATAL(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char a[4096], b[4096];
        int na = snprintf(a, sizeof a, "%s/%s", src, de->d_name);
        int nb = snprintf(b, sizeof b, "%s/%s", dst, de->d_name);
        CU_ASSERT_FATAL(na > 0 && (size_t)na < sizeof a && nb > 0 &&
                        (size_t)nb < sizeof b);
        size_t n;
        char *p = slurp(a, &n);
        CU_ASSERT_FATAL(p != NULL);
        spit(b, p, n);
        free(p);
    }
    closedir(d);
}

/* -------------------------------- tests -------------------------------- */

static void test_round_trip(void)
{
    const char *dir = bk_test_subdir("roundtrip");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 1 << 20;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    CU_ASSERT_EQUAL(bk_log_end_offset(log), 0);
    CU_ASSERT_EQUAL(bk_log_start_offset(log), 0);
    CU_ASSERT_TRUE(check_all(log, &m));

    /* the producer's base offset and epoch are overwritten */
    tbatch b1 = make_batch(5, 20, 1000, 1);
    bk_batch_set_base_offset(b1.data, 777);
    bk_batch_set_leader_epoch(b1.data, 9);
    append(log, &m, &b1, 0);
    bk_batch_header h;
    CU_ASSERT_EQUAL(bk_batch_parse_header(b1.data, b1.len, &h), 0);
    CU_ASSERT_EQUAL(h.base_offset, 0);
    CU_ASSERT_EQUAL(h.leader_epoch, 0);
    CU_ASSERT_EQUAL(bk_batch_validate(b1.data, b1.len, 1 << 20, NULL), 0);

    tbatch b2 = make_batch(1, 0, 2000, 0);
    append(log, &m, &b2, 0);
    CU_ASSERT_EQUAL(b2.base, 5);
    tbatch b3 = make_batch(100, 50, 3000, 2);
    append(log, &m, &b3, 0);
    CU_ASSERT_EQUAL(b3.base, 6);
    CU_ASSERT_EQUAL(bk_log_end_offset(log), 106);
    CU_ASSERT_TRUE(check_all(log, &m));

    /* a slice is the stored bytes, from the batch holding the offset */
    bk_log_slice s;
    CU_ASSERT_EQUAL(bk_log_read(log, 50, 1 << 20, -1, &s), 0);
    CU_ASSERT_EQUAL(s.first_offset, 6);
    CU_ASSERT_EQUAL(s.len, b3.len);
    CU_ASSERT_EQUAL(s.next_offset, 106);
    CU_ASSERT_EQUAL(bk_log_read(log, 0, 1 << 20, -1, &s), 0);
    CU_ASSERT_EQUAL(s.len, b1.len + b2.len + b3.len);
    CU_ASSERT_EQUAL(s.pos, 0);
    CU_ASSERT_EQUAL(bk_log_read(log, 106, 100, -1, &s), 0);
    CU_ASSERT_EQUAL(s.len, 0);
    CU_ASSERT_EQUAL(bk_log_read(log, 107, 100, -1, &s), -BK_ERANGE);
    CU_ASSERT_EQUAL(bk_log_read(log, -1, 100, -1, &s), -BK_ERANGE);

    /* several batches in one append */
    tbatch c1 = make_batch(3, 10, 4000, 1), c2 = make_batch(4, 10, 4100, 1);
    size_t n = c1.len + c2.len;
    uint8_t *both = malloc(n);
    memcpy(both, c1.data, c1.len);
    memcpy(both + c1.len, c2.data, c2.len);
    bk_log_append_info ai;
    CU_ASSERT_EQUAL(bk_log_append(log, both, n, 0, &ai), 0);
    CU_ASSERT_EQUAL(ai.first_offset, 106);
    CU_ASSERT_EQUAL(ai.last_offset, 112);
    CU_ASSERT_EQUAL(ai.batches, 2);
    CU_ASSERT_EQUAL(ai.records, 7);
    CU_ASSERT_EQUAL(ai.max_timestamp, 4103);
    c1.base = 106;
    c2.base = 109;
    memcpy(c1.data, both, c1.len);
    memcpy(c2.data, both + c1.len, c2.len);
    model_push(&m, c1);
    model_push(&m, c2);
    free(both);
    CU_ASSERT_TRUE(check_all(log, &m));

    /* invalid input writes nothing */
    tbatch bad = make_batch(2, 10, 5000, 1);
    bad.data[bad.len - 1] ^= 1; /* CRC now wrong */
    CU_ASSERT_EQUAL(bk_log_append(log, bad.data, bad.len, 0, NULL),
                    -BK_ECORRUPT);
    bad.data[bad.len - 1] ^= 1;
    CU_ASSERT_EQUAL(bk_log_append(log, bad.data, bad.len - 1, 0, NULL),
                    -BK_ECORRUPT); /* cut short */
    CU_ASSERT_EQUAL(bk_log_append(log, bad.data, 10, 0, NULL), -BK_ECORRUPT);
    CU_ASSERT_EQUAL(bk_log_append(log, bad.data, 0, 0, NULL), -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_log_append(log, bad.data, bad.len, -1, NULL),
                    -BK_EINVAL);
    /* a valid batch followed by garbage: nothing of it is written */
    uint8_t *two = malloc(bad.len * 2);
    memcpy(two, bad.data, bad.len);
    memcpy(two + bad.len, bad.data, bad.len);
    two[bad.len + 16] = 7; /* magic */
    CU_ASSERT_NOT_EQUAL(bk_log_append(log, two, bad.len * 2, 0, NULL), 0);
    free(two);
    cfg.max_message_bytes = (int32_t)bad.len - 1;
    CU_ASSERT_EQUAL(bk_log_set_config(log, &cfg), 0);
    CU_ASSERT_EQUAL(bk_log_append(log, bad.data, bad.len, 0, NULL),
                    -BK_ETOOBIG);
    CU_ASSERT_EQUAL(bk_log_end_offset(log), 113);
    CU_ASSERT_TRUE(check_all(log, &m));
    tb_free(&bad);

    /* reopen: all there, appends continue */
    bk_log_close(log);
    cfg.max_message_bytes = 1 << 20;
    log = open_log(dir, &cfg, 0, 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    tbatch b4 = make_batch(2, 5, 6000, 1);
    append(log, &m, &b4, 0);
    CU_ASSERT_EQUAL(b4.base, 113);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    tb_free(&b1);
    tb_free(&b2);
    tb_free(&b3);
    tb_free(&b4);
    model_free(&m);
}

/* Fills a log with n batches of 1..maxrec records. */
static void fill(bk_log *log, model *m, int n, int maxrec, size_t vlen,
                 int64_t *ts, int32_t epoch)
{
    for (int i = 0; i < n; i++) {
        tbatch b = make_batch(1 + (int)below((uint64_t)maxrec), vlen, *ts, 1);
        *ts += b.count;
        append(log, m, &b, epoch);
        tb_free(&b);
    }
}

static void test_roll_by_size(void)
{
    const char *dir = bk_test_subdir("rollsize");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 2000;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    int64_t ts = 1000;
    fill(log, &m, 60, 5, 40, &ts, 0);
    int nseg = bk_log_segment_count(log);
    CU_ASSERT(nseg >= 5);
    /* every segment file: named by its base, within segment.bytes, holding
     * exactly the batches between its base and the next one's */
    uint64_t total = 0;
    for (int i = 0; i < nseg; i++) {
        int64_t base = bk_log_segment_base(log, i);
        uint64_t sz = file_size(seg_file(pdir_of(dir), base, "log"));
        CU_ASSERT(sz > 0 && sz <= 2000);
        uint64_t expect = 0;
        int64_t next = i + 1 < nseg ? bk_log_segment_base(log, i + 1) : m.leo;
        bool first = false;
        for (size_t j = 0; j < m.n; j++) {
            if (m.v[j].base == base)
                first = true;
            if (m.v[j].base >= base && m.v[j].base < next)
                expect += m.v[j].len;
        }
        CU_ASSERT_TRUE(first); /* a segment starts with a batch */
        CU_ASSERT_EQUAL(sz, expect);
        total += sz;
        /* and a roll never happens when the batch would have fit */
        if (i + 1 < nseg) {
            size_t j = model_find(&m, next);
            CU_ASSERT(sz + m.v[j].len > 2000);
        }
    }
    CU_ASSERT_EQUAL(total, bk_log_size(log));
    CU_ASSERT_TRUE(check_all(log, &m));
    /* every roll flushed the previous segment: recovery point moved */
    CU_ASSERT_EQUAL(bk_log_recovery_point(log),
                    bk_log_segment_base(log, nseg - 1));

    /* a batch larger than segment.bytes still goes in (alone) */
    tbatch big = make_batch(40, 100, ts, 1);
    CU_ASSERT(big.len > 2000);
    append(log, &m, &big, 0);
    CU_ASSERT_EQUAL(bk_log_segment_count(log), nseg + 1);
    CU_ASSERT_EQUAL(bk_log_segment_base(log, nseg), big.base);
    tb_free(&big);
    tbatch small = make_batch(1, 1, ts, 1);
    append(log, &m, &small, 0);
    CU_ASSERT_EQUAL(bk_log_segment_count(log), nseg + 2);
    tb_free(&small);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    log = open_log(dir, &cfg, 0, 0);
    CU_ASSERT_EQUAL(bk_log_segment_count(log), nseg + 2);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    model_free(&m);
}

static void test_roll_by_time(void)
{
    const char *dir = bk_test_subdir("rolltime");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 1 << 20;
    cfg.segment_ms = 1000;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    const int64_t t0 = 1700000000000;
    /* age = batch max timestamp - max timestamp of the segment's first
     * batch */
    int64_t times[] = {t0,        t0 + 500,  t0 + 1000, t0 + 1001,
                       t0 + 1500, t0 + 2001, t0 + 3002, t0 + 100};
    int segs_after[] = {1, 1, 1, 2, 2, 2, 3, 3};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        tbatch b = make_batch(2, 10, times[i], 0);
        append(log, &m, &b, 0);
        CU_ASSERT_EQUAL(bk_log_segment_count(log), segs_after[i]);
        tb_free(&b);
    }
    CU_ASSERT_EQUAL(bk_log_segment_base(log, 1), 6);
    CU_ASSERT_EQUAL(bk_log_segment_base(log, 2), 12);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    model_free(&m);
}

/* The time rule after a reopen: the first batch's timestamp is read back
 * from the segment. */
static void test_roll_by_time_reopen(void)
{
    const char *dir = bk_test_subdir("rolltime2");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 1 << 20;
    cfg.segment_ms = 1000;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    const int64_t t0 = 1700000000000;
    tbatch b = make_batch(2, 10, t0, 0);
    append(log, &m, &b, 0);
    tb_free(&b);
    int64_t rp = bk_log_end_offset(log);
    CU_ASSERT_EQUAL(bk_log_flush(log), 0);
    bk_log_close(log);
    log = open_log(dir, &cfg, rp, 0);
    b = make_batch(2, 10, t0 + 999, 0);
    append(log, &m, &b, 0);
    tb_free(&b);
    CU_ASSERT_EQUAL(bk_log_segment_count(log), 1);
    b = make_batch(2, 10, t0 + 1001, 0);
    append(log, &m, &b, 0);
    tb_free(&b);
    CU_ASSERT_EQUAL(bk_log_segment_count(log), 2);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    model_free(&m);
}

static void test_index_lookup(void)
{
    const int intervals[] = {0, 1, 100, 4096};
    for (size_t k = 0; k < sizeof intervals / sizeof intervals[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "index%zu", k);
        const char *dir = bk_test_subdir(name);
        bk_log_config cfg = small_config();
        cfg.segment_bytes = 8000;
        cfg.index_interval_bytes = intervals[k];
        bk_log *log = open_log(dir, &cfg, 0, 0);
        model m = {0};
        int64_t ts = 5000;
        fill(log, &m, 300, 8, 20, &ts, 0);
        CU_ASSERT(bk_log_segment_count(log) > 5);
        for (int round = 0; round < 2; round++) {
            /* every offset, with max_bytes 1: exactly its batch */
            for (int64_t o = 0; o < m.leo; o++)
                if (!check_read(log, &m, o, 1, -1))
                    break;
            bk_log_close(log);
            /* round 2: indexes loaded from their files (rp = LEO: the
             * old segments are trusted, loaded lazily) */
            log = open_log(dir, &cfg, m.leo, 0);
        }
        /* the index file: 8-byte entries, keyed by last offset, one per
         * interval of log bytes */
        if (intervals[k] == 0) {
            size_t n;
            char *idx = slurp(seg_file(pdir_of(dir), 0, "index"), &n);
            int64_t next = bk_log_segment_base(log, 1);
            size_t batches = model_find(&m, next);
            CU_ASSERT_EQUAL(n, 8 * batches);
            uint32_t pos = 0;
            for (size_t j = 0; j < batches && j * 8 + 8 <= n; j++) {
                CU_ASSERT_EQUAL(bk_load_be32((uint8_t *)idx + j * 8),
                                (uint32_t)tb_last(&m.v[j]));
                CU_ASSERT_EQUAL(bk_load_be32((uint8_t *)idx + j * 8 + 4), pos);
                pos += (uint32_t)m.v[j].len;
            }
            free(idx);
        }
        bk_log_close(log);
        model_free(&m);
    }
}

static void test_read_limits(void)
{
    const char *dir = bk_test_subdir("readmax");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 1 << 20;
    cfg.index_interval_bytes = 200;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    int64_t ts = 0;
    fill(log, &m, 50, 6, 30, &ts, 0);
    size_t l0 = m.v[0].len, l1 = m.v[1].len, l2 = m.v[2].len;
    bk_log_slice s;
    /* KIP-74: one whole batch even when larger than max_bytes */
    CU_ASSERT_EQUAL(bk_log_read(log, 0, 1, -1, &s), 0);
    CU_ASSERT_EQUAL(s.len, l0);
    CU_ASSERT_EQUAL(bk_log_read(log, 0, 0, -1, &s), 0);
    CU_ASSERT_EQUAL(s.len, l0);
    CU_ASSERT_EQUAL(bk_log_read(log, 0, l0 + l1 + l2, -1, &s), 0);
    CU_ASSERT_EQUAL(s.len, l0 + l1 + l2);
    CU_ASSERT_EQUAL(s.next_offset, m.v[3].base);
    CU_ASSERT_EQUAL(bk_log_read(log, 0, l0 + l1 + l2 - 1, -1, &s), 0);
    CU_ASSERT_EQUAL(s.len, l0 + l1);
    /* max_offset: only batches wholly below it */
    CU_ASSERT_EQUAL(bk_log_read(log, 0, 1 << 20, m.v[2].base, &s), 0);
    CU_ASSERT_EQUAL(s.len, l0 + l1);
    CU_ASSERT_EQUAL(s.next_offset, m.v[2].base);
    CU_ASSERT_EQUAL(bk_log_read(log, 0, 1 << 20, tb_last(&m.v[2]), &s), 0);
    CU_ASSERT_EQUAL(s.len, l0 + l1); /* batch 2 straddles it */
    CU_ASSERT_EQUAL(bk_log_read(log, 0, 1 << 20, tb_last(&m.v[2]) + 1, &s), 0);
    CU_ASSERT_EQUAL(s.len, l0 + l1 + l2);
    CU_ASSERT_EQUAL(bk_log_read(log, m.v[2].base, 1 << 20, m.v[2].base, &s), 0);
    CU_ASSERT_EQUAL(s.len, 0);
    CU_ASSERT_EQUAL(
        bk_log_read(log, m.v[2].base + 100, 1 << 20, m.v[2].base, &s), 0);
    CU_ASSERT_EQUAL(s.len, 0);
    /* everything */
    CU_ASSERT_EQUAL(bk_log_read(log, 0, 1 << 20, -1, &s), 0);
    CU_ASSERT_EQUAL(s.len, bk_log_size(log));
    /* exhaustive small cases against the model */
    for (int64_t o = 0; o < m.leo; o += 3)
        for (size_t mb = 0; mb < 1500; mb += 97)
            if (!check_read(log, &m, o, mb,
                            below(2) ? -1 : o + (int64_t)below(40)))
                goto out;
out:
    bk_log_close(log);
    model_free(&m);
}

static void test_truncate(void)
{
    const char *dir = bk_test_subdir("truncate");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 3000;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    int64_t ts = 0;
    fill(log, &m, 80, 6, 30, &ts, 1);
    int nseg = bk_log_segment_count(log);
    CU_ASSERT(nseg > 4);

    /* in the middle of a batch of the active segment: the batch goes */
    const tbatch *b = &m.v[m.n - 2];
    CU_ASSERT(b->count > 1 || true);
    int64_t cut = b->base + (b->count > 1 ? 1 : 0);
    int64_t expect = b->base;
    CU_ASSERT_EQUAL(bk_log_truncate(log, cut), 0);
    model_truncate(&m, cut);
    CU_ASSERT_EQUAL(bk_log_end_offset(log), expect);
    CU_ASSERT_TRUE(check_all(log, &m));
    /* at a segment boundary: that segment becomes empty, later ones go */
    int64_t base = bk_log_segment_base(log, nseg - 3);
    CU_ASSERT_EQUAL(bk_log_truncate(log, base), 0);
    model_truncate(&m, base);
    CU_ASSERT_EQUAL(bk_log_end_offset(log), base);
    CU_ASSERT_EQUAL(bk_log_segment_count(log), nseg - 2);
    CU_ASSERT(bk_log_recovery_point(log) <= base);
    CU_ASSERT_TRUE(check_all(log, &m));
    for (int i = nseg - 2; i < nseg; i++)
        ; /* files of deleted segments are gone: */
    CU_ASSERT_EQUAL(file_size(seg_file(pdir_of(dir), base, "log")), 0);
    /* mid-segment in an older segment */
    int64_t mid = m.v[m.n / 3].base + 1;
    CU_ASSERT_EQUAL(bk_log_truncate(log, mid), 0);
    model_truncate(&m, mid);
    CU_ASSERT_TRUE(check_all(log, &m));
    /* appends continue at the new end, with the roll rules intact */
    fill(log, &m, 20, 6, 30, &ts, 1);
    CU_ASSERT_TRUE(check_all(log, &m));
    /* truncating at or past the end changes nothing */
    CU_ASSERT_EQUAL(bk_log_truncate(log, m.leo), 0);
    CU_ASSERT_EQUAL(bk_log_truncate(log, m.leo + 100), 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    /* reopen after truncation */
    bk_log_close(log);
    log = open_log(dir, &cfg, 0, 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    /* to 0 */
    CU_ASSERT_EQUAL(bk_log_truncate(log, 0), 0);
    model_truncate(&m, 0);
    CU_ASSERT_EQUAL(bk_log_end_offset(log), 0);
    CU_ASSERT_EQUAL(bk_log_segment_count(log), 1);
    CU_ASSERT_EQUAL(bk_log_size(log), 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    fill(log, &m, 5, 3, 10, &ts, 1);
    CU_ASSERT_TRUE(check_all(log, &m));

    /* truncate fully and start elsewhere */
    CU_ASSERT_EQUAL(bk_log_truncate_fully(log, 1000), 0);
    model_truncate(&m, 0);
    m.start = m.leo = 1000;
    CU_ASSERT_EQUAL(bk_log_segment_count(log), 1);
    CU_ASSERT_EQUAL(bk_log_segment_base(log, 0), 1000);
    CU_ASSERT_EQUAL(bk_log_latest_epoch(log), -1);
    CU_ASSERT_TRUE(check_all(log, &m));
    fill(log, &m, 5, 3, 10, &ts, 2);
    CU_ASSERT_EQUAL(m.v[0].base, 1000);
    CU_ASSERT_TRUE(check_all(log, &m));
    /* truncating below the log start is a full truncation */
    CU_ASSERT_EQUAL(bk_log_truncate(log, 500), 0);
    model_truncate(&m, 0);
    m.start = m.leo = 500;
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    log = open_log(dir, &cfg, 0, 500);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    model_free(&m);
}

/* Bytes of the model batches of segment i (bases from the log). */
static uint64_t model_seg_bytes(const bk_log *log, const model *m, int i,
                                int64_t *max_ts)
{
    int64_t base = bk_log_segment_base(log, i);
    int64_t next = i + 1 < bk_log_segment_count(log)
                       ? bk_log_segment_base(log, i + 1)
                       : INT64_MAX;
    uint64_t n = 0;
    *max_ts = -1;
    for (size_t j = 0; j < m->n; j++)
        if (m->v[j].base >= base && m->v[j].base < next) {
            n += m->v[j].len;
            if (m->v[j].max_ts > *max_ts)
                *max_ts = m->v[j].max_ts;
        }
    return n;
}

/* What bk_log_retain() must delete (leading segments), by the rules of
 * log.h applied in order, from the log's segment sizes and the model's
 * timestamps. */
static int expect_retain(const bk_log *log, const model *m,
                         const bk_log_config *cfg, int64_t now)
{
    int nseg = bk_log_segment_count(log);
    int k = 0;
    int64_t mts;
    while (k + 1 < nseg && bk_log_segment_base(log, k + 1) <= m->start)
        k++;
    if (cfg->retention_ms >= 0)
        while (k + 1 < nseg) {
            (void)model_seg_bytes(log, m, k, &mts);
            if (now - mts <= cfg->retention_ms)
                break;
            k++;
        }
    if (cfg->retention_bytes >= 0) {
        uint64_t size = 0;
        for (int i = k; i < nseg; i++)
            size += bk_log_segment_size(log, i);
        while (k + 1 < nseg && size - bk_log_segment_size(log, k) >=
                                   (uint64_t)cfg->retention_bytes)
            size -= bk_log_segment_size(log, k++);
    }
    return k;
}

static void test_retention_bytes(void)
{
    const char *dir = bk_test_subdir("retbytes");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 2000;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    int64_t ts = bk_clock_wall_ms();
    fill(log, &m, 60, 5, 40, &ts, 0);
    int nseg = bk_log_segment_count(log);
    uint64_t size = bk_log_size(log);
    int deleted = -1;
    /* no limit: nothing */
    CU_ASSERT_EQUAL(bk_log_retain(log, ts, &deleted), 0);
    CU_ASSERT_EQUAL(deleted, 0);
    /* keep at least `limit` bytes; delete while the rest stays >= it */
    uint64_t limit = size / 2;
    cfg.retention_bytes = (int64_t)limit;
    CU_ASSERT_EQUAL(bk_log_set_config(log, &cfg), 0);
    int expect = 0;
    uint64_t left = size;
    int64_t mts;
    while (expect + 1 < nseg &&
           left - model_seg_bytes(log, &m, expect, &mts) >= limit)
        left -= model_seg_bytes(log, &m, expect++, &mts);
    CU_ASSERT(expect > 0);
    int64_t new_start = bk_log_segment_base(log, expect);
    CU_ASSERT_EQUAL(bk_log_retain(log, ts, &deleted), 0);
    CU_ASSERT_EQUAL(deleted, expect);
    CU_ASSERT_EQUAL(bk_log_size(log), left);
    CU_ASSERT(bk_log_size(log) >= limit);
    model_drop_below(&m, new_start);
    CU_ASSERT_TRUE(check_all(log, &m));
    CU_ASSERT_EQUAL(file_size(seg_file(pdir_of(dir), 0, "log")), (uint64_t)-1);
    CU_ASSERT_EQUAL(file_size(seg_file(pdir_of(dir), 0, "index")),
                    (uint64_t)-1);
    /* 0 bytes: everything but the active segment */
    cfg.retention_bytes = 0;
    CU_ASSERT_EQUAL(bk_log_set_config(log, &cfg), 0);
    CU_ASSERT_EQUAL(bk_log_retain(log, ts, &deleted), 0);
    CU_ASSERT_EQUAL(bk_log_segment_count(log), 1);
    model_drop_below(&m, bk_log_segment_base(log, 0));
    CU_ASSERT_TRUE(check_all(log, &m));
    CU_ASSERT(bk_log_size(log) > 0);
    CU_ASSERT_EQUAL(bk_log_retain(log, ts, &deleted), 0);
    CU_ASSERT_EQUAL(deleted, 0);
    /* the start survives a reopen (via the caller's checkpoint) */
    int64_t start = bk_log_start_offset(log);
    bk_log_close(log);
    log = open_log(dir, &cfg, 0, start);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    /* even without the checkpoint: the first segment's base */
    log = open_log(dir, &cfg, 0, 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    model_free(&m);
}

static void test_retention_time(void)
{
    const char *dir = bk_test_subdir("rettime");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 1500;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    const int64_t day = 24 * 3600 * 1000;
    int64_t now = bk_clock_wall_ms();
    int64_t ts = now - 10 * day; /* old records */
    fill(log, &m, 20, 4, 40, &ts, 0);
    int old_segs = bk_log_segment_count(log);
    ts = now - day / 2; /* recent ones */
    /* the roll rule uses timestamps: this batch starts a new segment */
    fill(log, &m, 20, 4, 40, &ts, 0);
    int nseg = bk_log_segment_count(log);
    CU_ASSERT(nseg > old_segs + 1);
    /* expected: leading segments whose newest record is older than a day
     * (the segment that holds both old and new records stays) */
    int expect = 0;
    int64_t mts;
    while (expect + 1 < nseg) {
        (void)model_seg_bytes(log, &m, expect, &mts);
        if (now - mts <= day)
            break;
        expect++;
    }
    CU_ASSERT(expect >= old_segs - 1 && expect > 0);
    cfg.retention_ms = day;
    CU_ASSERT_EQUAL(bk_log_set_config(log, &cfg), 0);
    int deleted;
    int64_t new_start = bk_log_segment_base(log, expect);
    /* reopen first: the largest timestamps must come from the time
     * indexes of segments that were never read in this process */
    CU_ASSERT_EQUAL(bk_log_flush(log), 0);
    int64_t rp = bk_log_recovery_point(log);
    bk_log_close(log);
    log = open_log(dir, &cfg, rp, 0);
    CU_ASSERT_EQUAL(bk_log_retain(log, now, &deleted), 0);
    CU_ASSERT_EQUAL(deleted, expect);
    model_drop_below(&m, new_start);
    CU_ASSERT_TRUE(check_all(log, &m));
    /* never the active segment, even when all is expired */
    CU_ASSERT_EQUAL(bk_log_retain(log, now + 100 * day, &deleted), 0);
    CU_ASSERT_EQUAL(bk_log_segment_count(log), 1);
    model_drop_below(&m, bk_log_segment_base(log, 0));
    CU_ASSERT_TRUE(check_all(log, &m));
    CU_ASSERT(bk_log_size(log) > 0);
    bk_log_close(log);
    model_free(&m);
}

static void test_start_offset(void)
{
    const char *dir = bk_test_subdir("start");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 2000;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    int64_t ts = 0;
    fill(log, &m, 40, 5, 40, &ts, 3);
    int64_t s = bk_log_segment_base(log, 2) + 1; /* inside segment 2 */
    CU_ASSERT_EQUAL(bk_log_advance_start(log, s), 0);
    CU_ASSERT_EQUAL(bk_log_advance_start(log, 1), 0); /* never backwards */
    CU_ASSERT_EQUAL(bk_log_advance_start(log, m.leo + 1), -BK_ERANGE);
    m.start = s;
    CU_ASSERT_TRUE(check_all(log, &m));
    /* the epoch entry moved up with the start */
    int32_t e;
    int64_t o;
    CU_ASSERT_EQUAL(bk_log_epoch_count(log), 1);
    bk_log_epoch_entry(log, 0, &e, &o);
    CU_ASSERT_EQUAL(e, 3);
    CU_ASSERT_EQUAL(o, s);
    int deleted;
    CU_ASSERT_EQUAL(bk_log_retain(log, ts, &deleted), 0);
    CU_ASSERT_EQUAL(deleted, 2);
    CU_ASSERT_EQUAL(bk_log_start_offset(log), s);
    model_drop_below(&m, s);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    log = open_log(dir, &cfg, 0, s);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    model_free(&m);
}

static void test_reopen(void)
{
    const char *dir = bk_test_subdir("reopen");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 2500;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    int64_t ts = 0;
    fill(log, &m, 50, 5, 30, &ts, 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    /* clean: flushed, recovery point = LEO */
    CU_ASSERT_EQUAL(bk_log_flush(log), 0);
    CU_ASSERT_EQUAL(bk_log_recovery_point(log), m.leo);
    bk_log_close(log);
    log = open_log(dir, &cfg, m.leo, 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    fill(log, &m, 10, 5, 30, &ts, 0);
    int64_t rp = bk_log_recovery_point(log);
    CU_ASSERT(rp < m.leo);
    bk_log_close(log);
    /* unclean-style: from the last recovery point, and from 0 */
    log = open_log(dir, &cfg, rp, 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    log = open_log(dir, &cfg, 0, 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    /* a recovery point beyond the end is harmless */
    bk_log_close(log);
    log = open_log(dir, &cfg, m.leo + 1000, 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    /* flush.messages: the recovery point follows the appends */
    cfg.flush_messages = 1;
    log = open_log(dir, &cfg, 0, 0);
    fill(log, &m, 3, 5, 30, &ts, 0);
    CU_ASSERT_EQUAL(bk_log_recovery_point(log), m.leo);
    bk_log_close(log);
    model_free(&m);
}

static void test_epochs(void)
{
    const char *dir = bk_test_subdir("epochs");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 2000;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    int64_t ts = 0;
    int32_t e;
    int64_t o;
    bk_log_end_offset_for_epoch(log, 0, &e, &o);
    CU_ASSERT_EQUAL(e, -1);
    CU_ASSERT_EQUAL(o, -1);
    fill(log, &m, 10, 3, 10, &ts, 0);
    int64_t s2 = m.leo;
    fill(log, &m, 10, 3, 10, &ts, 2);
    int64_t s5 = m.leo;
    fill(log, &m, 10, 3, 10, &ts, 5);
    CU_ASSERT_EQUAL(bk_log_latest_epoch(log), 5);
    CU_ASSERT_EQUAL(bk_log_epoch_count(log), 3);
    /* an older epoch is a fenced leader */
    tbatch b = make_batch(1, 1, 0, 0);
    CU_ASSERT_EQUAL(bk_log_append(log, b.data, b.len, 4, NULL), -BK_EINVAL);
    tb_free(&b);

    /* OffsetForLeaderEpoch */
    bk_log_end_offset_for_epoch(log, 5, &e, &o);
    CU_ASSERT_EQUAL(e, 5);
    CU_ASSERT_EQUAL(o, m.leo);
    bk_log_end_offset_for_epoch(log, 2, &e, &o);
    CU_ASSERT_EQUAL(e, 2);
    CU_ASSERT_EQUAL(o, s5);
    bk_log_end_offset_for_epoch(log, 3, &e, &o);
    CU_ASSERT_EQUAL(e, 2);
    CU_ASSERT_EQUAL(o, s5);
    bk_log_end_offset_for_epoch(log, 0, &e, &o);
    CU_ASSERT_EQUAL(e, 0);
    CU_ASSERT_EQUAL(o, s2);
    bk_log_end_offset_for_epoch(log, 6, &e, &o);
    CU_ASSERT_EQUAL(e, -1);
    CU_ASSERT_EQUAL(o, -1);

    /* the checkpoint survives a reopen; a lost one is rebuilt by a full
     * scan of the batches */
    char path[4200];
    snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", pdir_of(dir));
    size_t n1, n2;
    char *ck1 = slurp(path, &n1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ck1);
    char expect[200];
    snprintf(expect, sizeof expect, "0\n3\n0 0\n2 %" PRId64 "\n5 %" PRId64 "\n",
             s2, s5);
    CU_ASSERT_EQUAL(n1, strlen(expect));
    CU_ASSERT_EQUAL(memcmp(ck1, expect, n1), 0);
    int64_t leo = m.leo;
    CU_ASSERT_EQUAL(bk_log_flush(log), 0);
    bk_log_close(log);
    unlink(path);
    log = open_log(dir, &cfg, leo, 0);
    CU_ASSERT_EQUAL(bk_log_epoch_count(log), 3);
    bk_log_close(log);
    char *ck2 = slurp(path, &n2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ck2);
    CU_ASSERT_EQUAL(n1, n2);
    CU_ASSERT_EQUAL(memcmp(ck1, ck2, n1), 0);
    free(ck2);
    spit(path, "garbage", 7);
    log = open_log(dir, &cfg, leo, 0);
    CU_ASSERT_EQUAL(bk_log_epoch_count(log), 3);
    bk_log_end_offset_for_epoch(log, 2, &e, &o);
    CU_ASSERT_EQUAL(o, s5);

    /* truncation drops the epochs that started after the cut */
    CU_ASSERT_EQUAL(bk_log_truncate(log, s5), 0);
    model_truncate(&m, s5);
    CU_ASSERT_EQUAL(bk_log_latest_epoch(log), 2);
    bk_log_end_offset_for_epoch(log, 2, &e, &o);
    CU_ASSERT_EQUAL(e, 2);
    CU_ASSERT_EQUAL(o, s5);
    bk_log_end_offset_for_epoch(log, 5, &e, &o);
    CU_ASSERT_EQUAL(e, -1);
    /* a new leader epoch starts at the LEO */
    fill(log, &m, 2, 3, 10, &ts, 7);
    bk_log_end_offset_for_epoch(log, 2, &e, &o);
    CU_ASSERT_EQUAL(o, s5);
    bk_log_end_offset_for_epoch(log, 5, &e, &o);
    CU_ASSERT_EQUAL(e, 2);
    CU_ASSERT_EQUAL(o, s5);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    free(ck1);
    model_free(&m);
}

static void test_replica_append(void)
{
    const char *dir = bk_test_subdir("replica");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 2000;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    int64_t ts = 0;
    /* leader-style batches with offsets and epochs set by "the leader" */
    for (int i = 0; i < 30; i++) {
        tbatch b = make_batch(1 + i % 4, 30, ts, 1);
        ts += 10;
        int32_t ep = i < 10 ? 1 : i < 20 ? 4 : 6;
        bk_batch_set_base_offset(b.data, m.leo);
        bk_batch_set_leader_epoch(b.data, ep);
        b.base = m.leo;
        b.epoch = ep;
        bk_log_append_info ai;
        CU_ASSERT_EQUAL_FATAL(bk_log_append_replica(log, b.data, b.len, &ai),
                              0);
        CU_ASSERT_EQUAL(ai.first_offset, b.base);
        model_push(&m, b);
    }
    CU_ASSERT_TRUE(check_all(log, &m));
    CU_ASSERT_EQUAL(bk_log_epoch_count(log), 3);
    CU_ASSERT_EQUAL(bk_log_latest_epoch(log), 6);
    /* below the LEO, or not contiguous: refused */
    tbatch x = make_batch(2, 5, ts, 1), y = make_batch(2, 5, ts, 1);
    bk_batch_set_base_offset(x.data, m.leo - 1);
    CU_ASSERT_EQUAL(bk_log_append_replica(log, x.data, x.len, NULL),
                    -BK_ERANGE);
    uint8_t *two = malloc(x.len + y.len);
    bk_batch_set_base_offset(x.data, m.leo);
    bk_batch_set_base_offset(y.data, m.leo + 3);
    memcpy(two, x.data, x.len);
    memcpy(two + x.len, y.data, y.len);
    CU_ASSERT_EQUAL(bk_log_append_replica(log, two, x.len + y.len, NULL),
                    -BK_ERANGE);
    two[x.len + 30] ^= 0x40; /* and a bad CRC is refused as corrupt */
    bk_batch_set_base_offset(two + x.len, m.leo + 2);
    CU_ASSERT_EQUAL(bk_log_append_replica(log, two, x.len + y.len, NULL),
                    -BK_ECORRUPT);
    CU_ASSERT_EQUAL(bk_log_end_offset(log), m.leo);
    free(two);
    tb_free(&y);
    /* a gap is allowed (the leader's log starts above ours) */
    bk_batch_set_base_offset(x.data, m.leo + 50);
    bk_batch_set_leader_epoch(x.data, 6);
    CU_ASSERT_EQUAL(bk_log_append_replica(log, x.data, x.len, NULL), 0);
    x.base = m.leo + 50;
    x.epoch = 6;
    int64_t gap = m.leo;
    model_push(&m, x);
    CU_ASSERT_EQUAL(bk_log_end_offset(log), x.base + 2);
    CU_ASSERT_TRUE(check_all(log, &m));
    /* a read inside the gap returns the batch after it */
    bk_log_slice s;
    CU_ASSERT_EQUAL(bk_log_read(log, gap + 10, 100000, -1, &s), 0);
    CU_ASSERT_EQUAL(s.first_offset, x.base);
    bk_log_close(log);
    log = open_log(dir, &cfg, 0, 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    model_free(&m);
}

static void test_timestamps(void)
{
    const char *dir = bk_test_subdir("times");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 1500;
    cfg.index_interval_bytes = 128;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    const int64_t t0 = 1600000000000;
    int64_t ts = t0;
    for (int i = 0; i < 60; i++) {
        /* mostly increasing, with some records from the past */
        int n = 1 + (int)below(6);
        int64_t start = i % 7 == 3 ? ts - 500 : ts;
        tbatch b = make_batch(n, 20, start, 3);
        ts += 3 * n + 10;
        append(log, &m, &b, 0);
        tb_free(&b);
    }
    int64_t off, got;
    for (int round = 0; round < 2; round++) {
        for (int64_t q = t0 - 10; q <= ts + 10; q += 1 + (int64_t)below(7)) {
            /* brute force on the model */
            int64_t eo = -1, et = -1;
            for (size_t i = 0; i < m.n && eo < 0; i++)
                for (int r = 0; r < m.v[i].count; r++)
                    if (m.v[i].ts[r] >= q) {
                        eo = m.v[i].base + r;
                        et = m.v[i].ts[r];
                        break;
                    }
            int rc = bk_log_offset_for_time(log, q, &off, &got);
            if (eo < 0) {
                CU_ASSERT_EQUAL(rc, -BK_ENOENT);
            } else {
                CU_ASSERT_EQUAL(rc, 0);
                CU_ASSERT_EQUAL(off, eo);
                CU_ASSERT_EQUAL(got, et);
                if (off != eo)
                    break;
            }
        }
        int64_t rp = bk_log_end_offset(log);
        CU_ASSERT_EQUAL(bk_log_flush(log), 0);
        bk_log_close(log);
        log = open_log(dir, &cfg, rp, 0);
    }
    CU_ASSERT_EQUAL(
        bk_log_offset_for_time(log, BK_LOG_LATEST_TIMESTAMP, &off, &got), 0);
    CU_ASSERT_EQUAL(off, m.leo);
    CU_ASSERT_EQUAL(
        bk_log_offset_for_time(log, BK_LOG_EARLIEST_TIMESTAMP, &off, &got), 0);
    CU_ASSERT_EQUAL(off, 0);
    CU_ASSERT_EQUAL(bk_log_offset_for_time(log, -5, &off, &got), -BK_EINVAL);
    /* below the log start: the first record at or after the start */
    int64_t s = m.v[10].base + 1;
    CU_ASSERT_EQUAL(bk_log_advance_start(log, s), 0);
    for (int64_t q = t0 - 10; q <= ts + 10; q += 5) {
        int64_t eo = -1;
        for (size_t i = 0; i < m.n && eo < 0; i++)
            for (int r = 0; r < m.v[i].count; r++)
                if (m.v[i].base + r >= s && m.v[i].ts[r] >= q) {
                    eo = m.v[i].base + r;
                    break;
                }
        int rc = bk_log_offset_for_time(log, q, &off, &got);
        CU_ASSERT_EQUAL(rc, eo < 0 ? -BK_ENOENT : 0);
        if (eo >= 0)
            CU_ASSERT_EQUAL(off, eo);
    }
    bk_log_close(log);
    model_free(&m);
}

static void test_index_repair(void)
{
    const char *dir = bk_test_subdir("idxrepair");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 3000;
    cfg.index_interval_bytes = 150;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    int64_t ts = 0;
    fill(log, &m, 60, 5, 30, &ts, 0);
    /* the active segment needs index entries of its own (a few index
     * intervals of data): the random batch sizes may have just rolled */
    for (;;) {
        int64_t base = bk_log_segment_base(log, bk_log_segment_count(log) - 1);
        if (file_size(seg_file(pdir_of(dir), base, "log")) >= 600)
            break;
        fill(log, &m, 1, 5, 30, &ts, 0);
    }
    CU_ASSERT(bk_log_segment_count(log) >= 4);
    int64_t b1 = bk_log_segment_base(log, 1);
    int64_t ba = bk_log_segment_base(log, bk_log_segment_count(log) - 1);
    CU_ASSERT_EQUAL(bk_log_flush(log), 0);
    int64_t leo = m.leo;
    bk_log_close(log);
    char idx1[4200], tidx1[4200], idxa[4200];
    snprintf(idx1, sizeof idx1, "%s", seg_file(pdir_of(dir), b1, "index"));
    snprintf(tidx1, sizeof tidx1, "%s",
             seg_file(pdir_of(dir), b1, "timeindex"));
    snprintf(idxa, sizeof idxa, "%s", seg_file(pdir_of(dir), ba, "index"));
    size_t n1, nt, na;
    char *orig1 = slurp(idx1, &n1), *origt = slurp(tidx1, &nt),
         *origa = slurp(idxa, &na);
    CU_ASSERT(n1 >= 16 && nt >= 12 && na >= 8);

    /* each damage, for a trusted old segment (rp = LEO) and the active */
    for (int kind = 0; kind < 6; kind++) {
        unlink(idx1);
        unlink(idxa);
        if (kind == 0) {
            /* missing */
        } else if (kind == 1) { /* size not a multiple of 8 */
            spit(idx1, orig1, n1 - 3);
            spit(idxa, origa, na - 1);
        } else if (kind == 2) { /* not increasing */
            char *p = malloc(n1);
            memcpy(p, orig1, n1);
            memcpy(p + 8, p, 8);
            spit(idx1, p, n1);
            spit(idxa, p, n1);
            free(p);
        } else if (kind == 3) { /* position beyond the file */
            char *p = malloc(n1);
            memcpy(p, orig1, n1);
            bk_store_be32((uint8_t *)p + n1 - 4, 1u << 30);
            spit(idx1, p, n1);
            spit(idxa, p, n1);
            free(p);
        } else if (kind == 4) { /* monotonic but naming wrong batches */
            char *p = malloc(n1);
            memcpy(p, orig1, n1);
            for (size_t j = 0; j + 16 <= n1; j += 8) /* not the last */
                bk_store_be32((uint8_t *)p + j + 4,
                              bk_load_be32((uint8_t *)p + j + 4) + 1);
            spit(idx1, p, n1);
            spit(idxa, origa, na);
            free(p);
        } else { /* time index damaged */
            spit(idx1, orig1, n1);
            spit(idxa, origa, na);
            spit(tidx1, origt, nt - 5);
        }
        log = open_log(dir, &cfg, leo, 0);
        CU_ASSERT_TRUE(check_all(log, &m));
        int64_t off, got;
        CU_ASSERT_EQUAL(
            bk_log_offset_for_time(log, m.v[m.n / 2].ts[0], &off, &got), 0);
        CU_ASSERT_EQUAL(off, m.v[m.n / 2].base);
        bk_log_close(log);
        /* rebuilt files are what the appends wrote (kind 4 passes the
         * load checks; the first lookup through a lying entry rebuilds) */
        size_t k1, ka, kt;
        char *now1 = slurp(idx1, &k1), *nowa = slurp(idxa, &ka),
             *nowt = slurp(tidx1, &kt);
        CU_ASSERT_PTR_NOT_NULL(now1);
        CU_ASSERT_TRUE(k1 == n1 && memcmp(now1, orig1, n1) == 0);
        CU_ASSERT_TRUE(ka == na && memcmp(nowa, origa, na) == 0);
        CU_ASSERT_TRUE(kt == nt && memcmp(nowt, origt, nt) == 0);
        free(now1);
        free(nowa);
        free(nowt);
    }
    free(orig1);
    free(origt);
    free(origa);
    model_free(&m);
}

/* ------------------------------ crash test ------------------------------ */

typedef struct crash_src {
    char dir[4096]; /* log dir of the pristine copy */
    model m;        /* its batches */
    int nseg;
    int64_t bases[64];
    uint64_t sizes[64];
} crash_src;

/* Segment of batch i and its position in that segment's file. */
static int batch_seg(const crash_src *c, size_t i, uint64_t *pos)
{
    int s = 0;
    while (s + 1 < c->nseg && c->bases[s + 1] <= c->m.v[i].base)
        s++;
    uint64_t p = 0;
    for (size_t j = 0; j < i; j++)
        if (c->m.v[j].base >= c->bases[s])
            p += c->m.v[j].len;
    *pos = p;
    return s;
}

static void build_crash_src(crash_src *c)
{
    snprintf(c->dir, sizeof c->dir, "%s", bk_test_subdir("crash-src"));
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 6000;
    cfg.index_interval_bytes = 300;
    bk_log *log = open_log(c->dir, &cfg, 0, 0);
    memset(&c->m, 0, sizeof c->m);
    int64_t ts = 1000;
    fill(log, &c->m, 25, 12, 25, &ts, 0);
    fill(log, &c->m, 25, 12, 25, &ts, 3);
    /* small batches at the end: every byte of them is cut */
    fill(log, &c->m, 4, 2, 5, &ts, 4);
    c->nseg = bk_log_segment_count(log);
    CU_ASSERT_FATAL(c->nseg >= 3 && c->nseg < 64);
    for (int i = 0; i < c->nseg; i++) {
        c->bases[i] = bk_log_segment_base(log, i);
        c->sizes[i] = file_size(seg_file(pdir_of(c->dir), c->bases[i], "log"));
    }
    CU_ASSERT_EQUAL(bk_log_flush(log), 0);
    bk_log_close(log);
}

/* One crash: segment seg cut at byte `cut`, then `garbage` kind appended,
 * reopened with recovery point rp.  Returns false on a failed check. */
static bool crash_one(const crash_src *c, int seg, uint64_t cut, int garbage,
                      int64_t rp)
{
    const char *work = bk_test_subdir("crash-work");
    char pdir[4096];
    snprintf(pdir, sizeof pdir, "%s", pdir_of(work));
    copy_dir(pdir_of(c->dir), pdir);
    char path[4200];
    snprintf(path, sizeof path, "%s", seg_file(pdir, c->bases[seg], "log"));
    CHECK(truncate(path, (off_t)cut) == 0, "truncate %s", path);

    /* what must survive: batches wholly before the cut (all of them when
     * nothing was damaged) */
    uint8_t junk[4096];
    size_t jlen = 0;
    const tbatch *victim = NULL;
    size_t keep = 0;
    for (size_t i = 0; i < c->m.n; i++) {
        uint64_t pos;
        int s = batch_seg(c, i, &pos);
        if (s < seg || (s == seg && pos + c->m.v[i].len <= cut))
            keep = i + 1;
        else if (!victim)
            victim = &c->m.v[i];
    }
    if (garbage == 1) { /* random bytes */
        jlen = 1 + below(300);
        for (size_t i = 0; i < jlen; i++)
            junk[i] = (uint8_t)rnd();
    } else if (garbage == 2) { /* a plausible batch, bad CRC */
        const tbatch *t = victim ? victim : &c->m.v[c->m.n - 1];
        jlen = t->len < sizeof junk ? t->len : sizeof junk;
        memcpy(junk, t->data, jlen);
        bk_store_be64(junk,
                      (uint64_t)(keep ? tb_last(&c->m.v[keep - 1]) + 1 : 0));
        junk[BK_BATCH_CRC_START + below(jlen - BK_BATCH_CRC_START)] ^=
            (uint8_t)(1u << below(8));
        if (below(2))
            jlen = BK_BATCH_HEADER_SIZE + below(jlen - BK_BATCH_HEADER_SIZE);
    } else if (garbage == 3) { /* zeroes, as after preallocation */
        jlen = 1 + below(sizeof junk);
        memset(junk, 0, jlen);
    }
    if (jlen) {
        FILE *f = fopen(path, "ab");
        CHECK(f != NULL, "open %s", path);
        fwrite(junk, 1, jlen, f);
        fclose(f);
    }
    /* the garbage may rebuild what the cut removed (records end in a 0
     * byte, values are patterns): what survives is every batch whose
     * bytes are still all there, up to the first one that is not */
    size_t dn;
    char *dam = slurp(path, &dn);
    CHECK(dam != NULL, "read %s", path);
    keep = 0;
    uint64_t fp = 0;
    bool intact = true;
    for (size_t i = 0; i < c->m.n; i++) {
        uint64_t pos;
        int s = batch_seg(c, i, &pos);
        if (s < seg) {
            keep = i + 1;
        } else if (s == seg) {
            const tbatch *t = &c->m.v[i];
            if (intact && fp + t->len <= dn &&
                memcmp(dam + fp, t->data, t->len) == 0) {
                keep = i + 1;
                fp += t->len;
            } else {
                intact = false;
            }
        }
    }
    free(dam);
    if (intact && dn == c->sizes[seg])
        keep = c->m.n; /* nothing was damaged */

    model m = c->m; /* a view: only the first `keep` batches */
    m.n = keep;
    m.leo = keep ? tb_last(&m.v[keep - 1]) + 1 : 0;
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 6000;
    cfg.index_interval_bytes = 300;
    bk_log *log = NULL;
    int rc = bk_log_open(work, TOPIC, PART, &cfg, rp, 0, &log);
    CHECK(rc == 0, "open after cut: %d", rc);
    bool ok = check_all(log, &m);
    if (ok) {
        /* the epoch cache ends with the last surviving batch's epoch */
        int32_t want = keep ? m.v[keep - 1].epoch : -1;
        if (bk_log_latest_epoch(log) != want) {
            fprintf(stderr, "latest epoch %d, want %d\n",
                    bk_log_latest_epoch(log), want);
            ok = false;
        }
        /* nothing after the cut, and new appends continue right there */
        tbatch b = make_batch(3, 10, 99, 1);
        bk_log_append_info ai;
        rc = bk_log_append(log, b.data, b.len, 9, &ai);
        if (rc != 0 || ai.first_offset != m.leo)
            ok = false;
        bk_log_slice s;
        if (bk_log_read(log, m.leo, 1 << 20, -1, &s) != 0 || s.len != b.len)
            ok = false;
        else {
            uint8_t *p = slice_bytes(&s);
            ok = memcmp(p, b.data, b.len) == 0;
            free(p);
        }
        tb_free(&b);
    }
    bk_log_close(log);
    CHECK(ok,
          "segment %d cut at %" PRIu64 " garbage %d rp %" PRId64
          " (keep %zu batches)",
          seg, cut, garbage, rp, keep);
    return true;
}

/* A recovery point at or below the first damaged batch. */
static int64_t pick_rp(const crash_src *c, int seg, uint64_t cut)
{
    switch (below(3)) {
    case 0:
        return 0;
    case 1:
        return c->bases[seg];
    default: {
        int64_t hi = c->bases[seg];
        for (size_t i = 0; i < c->m.n; i++) {
            uint64_t pos;
            if (batch_seg(c, i, &pos) == seg && pos + c->m.v[i].len <= cut)
                hi = tb_last(&c->m.v[i]) + 1;
        }
        return c->bases[seg] +
               (int64_t)below((uint64_t)(hi - c->bases[seg] + 1));
    }
    }
}

static void test_crash(void)
{
    crash_src c;
    rng_seed(bk_test_seed);
    bk_level saved = bk_logging_threshold;
    bk_logging_set_level(BK_LVL_ERROR); /* thousands of WARN lines */
    build_crash_src(&c);
    int last = c.nseg - 1;
    /* every byte of the last batches: from the start of the 3rd-last, or
     * of the first of them that lies in the last segment (the random
     * layout can roll a segment among the last three) */
    uint64_t from = 0;
    for (size_t i = c.m.n - 3; i < c.m.n; i++)
        if (batch_seg(&c, i, &from) == last)
            break;
    CU_ASSERT_EQUAL(batch_seg(&c, c.m.n - 1, &(uint64_t){0}), last);
    int runs = 0;
    for (uint64_t cut = from; cut <= c.sizes[last]; cut++) {
        int kinds = bk_test_long ? 4 : 1;
        for (int k = 0; k < kinds; k++) {
            int g = bk_test_long ? k : (int)(cut % 4);
            runs++;
            if (!crash_one(&c, last, cut, g, pick_rp(&c, last, cut)))
                goto out;
        }
    }
    /* a spread over every segment */
    int spread = bk_test_long ? 300 : 30;
    for (int s = 0; s < c.nseg; s++)
        for (int i = 0; i < spread; i++) {
            uint64_t cut = below(c.sizes[s] + 1);
            if (i == 0)
                cut = c.sizes[s]; /* exactly the end */
            if (i == 1)
                cut = 0;
            runs++;
            if (!crash_one(&c, s, cut, (int)below(4), pick_rp(&c, s, cut)))
                goto out;
        }
out:
    bk_logging_set_level(saved);
    printf("(%d crash cuts) ", runs);
    model_free(&c.m);
}

static void test_bit_flip(void)
{
    crash_src c;
    build_crash_src(&c);
    bk_level saved = bk_logging_threshold;
    /* flip one bit in the records of a batch in the middle of segment 1 */
    size_t victim = 0;
    uint64_t pos = 0;
    for (size_t i = 0; i < c.m.n; i++)
        if (batch_seg(&c, i, &pos) == 1) {
            victim = i + 2;
            break;
        }
    CU_ASSERT_EQUAL_FATAL(batch_seg(&c, victim, &pos), 1);
    const char *pdir = pdir_of(c.dir);
    char path[4200];
    snprintf(path, sizeof path, "%s", seg_file(pdir, c.bases[1], "log"));
    size_t n;
    char *bytes = slurp(path, &n);
    bytes[pos + 70] ^= 0x10;
    spit(path, bytes, n);
    free(bytes);
    bk_logging_set_level(BK_LVL_ERROR);
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 6000;
    cfg.index_interval_bytes = 300;
    bk_log *log = open_log(c.dir, &cfg, 0, 0);
    bk_logging_set_level(saved);
    model m = c.m;
    m.n = victim;
    m.leo = c.m.v[victim].base;
    CU_ASSERT_TRUE(check_all(log, &m));
    CU_ASSERT_EQUAL(bk_log_segment_count(log), 2);
    CU_ASSERT_EQUAL(file_size(path), pos);
    CU_ASSERT_EQUAL(file_size(seg_file(pdir, c.bases[2], "log")), (uint64_t)-1);
    bk_log_close(log);
    model_free(&c.m);
}

/* ------------------------------ model test ------------------------------ */

static bool model_check_epochs(bk_log *log, const model *m)
{
    size_t first = model_find(m, m->start); /* below the start: gone */
    for (size_t i = first; i < m->n; i++) {
        if (i > first && m->v[i].epoch == m->v[i - 1].epoch)
            continue;
        int32_t ep = m->v[i].epoch;
        int64_t want = m->leo;
        for (size_t j = i; j < m->n; j++)
            if (m->v[j].epoch > ep) {
                want = m->v[j].base;
                break;
            }
        int32_t e;
        int64_t o;
        bk_log_end_offset_for_epoch(log, ep, &e, &o);
        CHECK(e == ep && o == want,
              "epoch %d: got (%d, %" PRId64 "), want end %" PRId64, ep, e, o,
              want);
    }
    return true;
}

static void test_model(void)
{
    const char *dir = bk_test_subdir("model");
    rng_seed(bk_test_seed + 1);
    bk_level saved = bk_logging_threshold;
    bk_logging_set_level(BK_LVL_ERROR);
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 400 + (int64_t)below(2000);
    cfg.index_interval_bytes = (int32_t)below(600);
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    int64_t ts = 1000000;
    int32_t epoch = 0;
    int64_t rp = 0;
    int64_t budget = bk_test_long ? 20000 : 2000;
    int64_t t_end = bk_clock_mono_ms() + budget;
    long ops = 0, counts[12] = {0};
    int max_segs = 0;
    bool ok = true;
    while (ok && bk_clock_mono_ms() < t_end) {
        int op = (int)below(100);
        ops++;
        if (op < 40) { /* leader append */
            counts[0]++;
            if (below(10) == 0)
                epoch += 1 + (int32_t)below(3);
            tbatch b = make_batch(1 + (int)below(10), below(80), ts, 1);
            ts += 20;
            append(log, &m, &b, epoch);
            tb_free(&b);
        } else if (op < 48) { /* replica append */
            counts[1]++;
            if (below(10) == 0)
                epoch += 1;
            tbatch b = make_batch(1 + (int)below(5), below(50), ts, 1);
            ts += 20;
            bk_batch_set_base_offset(b.data, m.leo);
            bk_batch_set_leader_epoch(b.data, epoch);
            b.base = m.leo;
            b.epoch = epoch;
            int rc = bk_log_append_replica(log, b.data, b.len, NULL);
            CU_ASSERT_EQUAL(rc, 0);
            if (rc == 0)
                model_push(&m, b);
            else
                tb_free(&b);
        } else if (op < 70) { /* read */
            counts[2]++;
            int64_t span = m.leo - m.start + 4;
            int64_t o = m.start - 2 + (int64_t)below((uint64_t)span);
            int64_t mo = below(3) ? -1 : o + (int64_t)below(50);
            ok = check_read(log, &m, o, below(3000), mo);
        } else if (op < 76) { /* truncate */
            counts[3]++;
            int64_t o =
                m.start + (int64_t)below((uint64_t)(m.leo - m.start + 2));
            CU_ASSERT_EQUAL(bk_log_truncate(log, o), 0);
            model_truncate(&m, o);
            ok = check_all(log, &m);
        } else if (op < 83) { /* retention */
            counts[4]++;
            int64_t now = ts + 1000;
            int rule = (int)below(3);
            cfg.retention_bytes =
                rule != 1 ? (int64_t)below(bk_log_size(log) + 1) : -1;
            cfg.retention_ms =
                rule != 0 ? (int64_t)below((uint64_t)(now - 1000000 + 100))
                          : -1;
            bk_log_set_config(log, &cfg);
            int k = expect_retain(log, &m, &cfg, now);
            int64_t ns = bk_log_segment_base(log, k);
            int deleted;
            CU_ASSERT_EQUAL(bk_log_retain(log, now, &deleted), 0);
            cfg.retention_bytes = cfg.retention_ms = -1;
            bk_log_set_config(log, &cfg);
            if (deleted != k) {
                fprintf(stderr, "retention (rule %d): %d deleted, want %d\n",
                        rule, deleted, k);
                ok = false;
            }
            if (k)
                model_drop_below(&m, ns);
            ok = ok && check_all(log, &m);
        } else if (op < 86) { /* advance the start */
            counts[6]++;
            int64_t o =
                m.start + (int64_t)below((uint64_t)(m.leo - m.start + 1));
            CU_ASSERT_EQUAL(bk_log_advance_start(log, o), 0);
            if (o > m.start)
                m.start = o; /* the batches stay until retention */
            ok = check_all(log, &m);
        } else if (op < 93) { /* close and reopen */
            counts[7]++;
            int how = (int)below(3);
            if (how == 0)
                CU_ASSERT_EQUAL(bk_log_flush(log), 0);
            rp = how == 2 ? 0 : bk_log_recovery_point(log);
            int64_t start = bk_log_start_offset(log);
            bk_log_close(log);
            cfg.segment_bytes = 400 + (int64_t)below(2000);
            cfg.index_interval_bytes = (int32_t)below(600);
            log = open_log(dir, &cfg, rp, start);
            ok = check_all(log, &m);
        } else if (op < 94) { /* truncate fully */
            counts[8]++;
            int64_t o = m.leo + (int64_t)below(100);
            CU_ASSERT_EQUAL(bk_log_truncate_fully(log, o), 0);
            model_truncate(&m, 0);
            m.start = m.leo = o;
            ok = check_all(log, &m);
        } else if (op < 97) { /* timestamp lookup */
            counts[9]++;
            int64_t q = 1000000 + (int64_t)below((uint64_t)(ts - 1000000 + 50));
            int64_t eo = -1, et = -1, off, got;
            for (size_t i = 0; i < m.n && eo < 0; i++)
                for (int r = 0; r < m.v[i].count; r++)
                    if (m.v[i].base + r >= m.start && m.v[i].ts[r] >= q) {
                        eo = m.v[i].base + r;
                        et = m.v[i].ts[r];
                        break;
                    }
            int rc = bk_log_offset_for_time(log, q, &off, &got);
            if (eo < 0) {
                if (rc != -BK_ENOENT) {
                    fprintf(stderr, "time %" PRId64 ": rc %d, want ENOENT\n", q,
                            rc);
                    ok = false;
                }
            } else if (rc != 0 || off != eo || got != et) {
                fprintf(stderr,
                        "time %" PRId64 ": rc %d off %" PRId64 ", want %" PRId64
                        "\n",
                        q, rc, off, eo);
                ok = false;
            }
        } else { /* full check */
            counts[10]++;
            ok = check_all(log, &m) && model_check_epochs(log, &m);
        }
        if (!ok)
            fprintf(stderr, "model test: op %d failed\n", op);
        if (ok && bk_log_end_offset(log) != m.leo) {
            fprintf(stderr, "after op %d: leo %" PRId64 " != %" PRId64 "\n", op,
                    bk_log_end_offset(log), m.leo);
            ok = false;
        }
        if (ok)
            ok = model_check_epochs(log, &m);
        if (bk_log_segment_count(log) > max_segs)
            max_segs = bk_log_segment_count(log);
    }
    bk_logging_set_level(saved);
    CU_ASSERT_TRUE(ok);
    if (!ok)
        fprintf(stderr, "model test failed after %ld ops (seed %lu)\n", ops,
                bk_test_seed);
    printf("(%ld ops: %ld app %ld rep %ld read %ld trunc %ld retain "
           "%ld start %ld reopen %ld full %ld time %ld check; up to %d "
           "segments) ",
           ops, counts[0], counts[1], counts[2], counts[3], counts[4],
           counts[6], counts[7], counts[8], counts[9], counts[10], max_segs);
    bk_log_close(log);
    model_free(&m);
}

/* ------------------------------- fd cache ------------------------------- */

/* fds of this process whose path lies under dir. */
static int fds_under(const char *dir)
{
    char real[4096];
    if (!realpath(dir, real))
        return -1;
    size_t n = strlen(real);
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char link[300], target[4096];
        if (de->d_name[0] == '.')
            continue;
        snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k <= 0)
            continue;
        target[k] = '\0';
        if (strncmp(target, real, n) == 0 && target[n] == '/')
            count++;
    }
    closedir(d);
    return count;
}

static bk_seg_fd_stats fdc_stats(void)
{
    bk_seg_fd_stats st;
    bk_seg_fd_cache_stats(&st);
    return st;
}

/* A log of many small segments (model in m). */
static bk_log *many_segments(const char *dir, model *m, int batches)
{
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 1500;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    int64_t ts = 5000;
    fill(log, m, batches, 5, 40, &ts, 0);
    return log;
}

/* The batch bytes of the model from batch i on, as a read of them must
 * return, compared with buf[0..len). */
static bool model_bytes_eq(const model *m, size_t i, const uint8_t *buf,
                           size_t len)
{
    size_t off = 0;
    while (off < len) {
        if (i >= m->n || m->v[i].len > len - off ||
            memcmp(buf + off, m->v[i].data, m->v[i].len) != 0)
            return false;
        off += m->v[i].len;
        i++;
    }
    return true;
}

/* Every segment of a long log is read through a cache of two fds: reads
 * are right, fds stay at two, slices can be read after later reads closed
 * their fd, and eviction is least recently used. */
static void test_fdc_bounded(void)
{
    const char *dir = bk_test_subdir("fdc-bounded");
    bk_seg_fd_cache_set(2);
    bk_seg_fd_stats st0 = fdc_stats();
    CU_ASSERT_EQUAL(st0.capacity, 2);
    model m = {0};
    bk_log *log = many_segments(dir, &m, 150);
    int nseg = bk_log_segment_count(log);
    CU_ASSERT(nseg >= 20);
    CU_ASSERT(fdc_stats().open <= 2);
    CU_ASSERT(fds_under(dir) <= 2);
    CU_ASSERT_TRUE(check_all(log, &m));
    CU_ASSERT(fds_under(dir) <= 2);
    CU_ASSERT(fdc_stats().evictions > st0.evictions);

    /* one slice per segment, read back only after all of them */
    bk_log_slice *sl = calloc((size_t)nseg, sizeof *sl);
    CU_ASSERT_FATAL(sl != NULL);
    for (int i = 0; i < nseg; i++) {
        int64_t base = bk_log_segment_base(log, i);
        CU_ASSERT_EQUAL(bk_log_read(log, base, 1 << 20, -1, &sl[i]), 0);
        CU_ASSERT(sl[i].len > 0);
        CU_ASSERT_EQUAL(sl[i].segment, base);
    }
    CU_ASSERT(fds_under(dir) <= 2);
    for (int i = nseg - 1; i >= 0; i--) {
        uint8_t *buf = malloc(sl[i].len);
        CU_ASSERT_FATAL(buf != NULL);
        CU_ASSERT_EQUAL(bk_log_read_slice(log, &sl[i], buf), 0);
        CU_ASSERT_EQUAL(sl[i].first_offset, bk_log_segment_base(log, i));
        CU_ASSERT_TRUE(model_bytes_eq(&m, model_find(&m, sl[i].first_offset),
                                      buf, sl[i].len));
        free(buf);
    }
    CU_ASSERT(fds_under(dir) <= 2);

    /* LRU: with 0 and 1 cached, touching 0 then reading 2 evicts 1 */
    bk_log_slice t;
    int64_t b0 = bk_log_segment_base(log, 0), b1 = bk_log_segment_base(log, 1),
            b2 = bk_log_segment_base(log, 2);
    CU_ASSERT_EQUAL(bk_log_read(log, b0, 100, -1, &t), 0);
    CU_ASSERT_EQUAL(bk_log_read(log, b1, 100, -1, &t), 0);
    uint64_t opens = fdc_stats().opens;
    CU_ASSERT_EQUAL(bk_log_read(log, b0, 100, -1, &t), 0);
    CU_ASSERT_EQUAL(fdc_stats().opens, opens); /* hit */
    CU_ASSERT_EQUAL(bk_log_read(log, b2, 100, -1, &t), 0);
    CU_ASSERT_EQUAL(fdc_stats().opens, opens + 1);
    CU_ASSERT_EQUAL(bk_log_read(log, b0, 100, -1, &t), 0);
    CU_ASSERT_EQUAL(fdc_stats().opens, opens + 1); /* still cached */
    CU_ASSERT_EQUAL(bk_log_read(log, b1, 100, -1, &t), 0);
    CU_ASSERT_EQUAL(fdc_stats().opens, opens + 2); /* was evicted */

    /* appends after the active segment's fd was evicted */
    int64_t ts = 900000;
    fill(log, &m, 20, 5, 40, &ts, 1);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    CU_ASSERT_EQUAL(fds_under(dir), 0);
    /* and all of it on disk as the model says (verified from offset 0) */
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 1500;
    log = open_log(dir, &cfg, 0, 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    CU_ASSERT(fds_under(dir) <= 2);
    bk_log_close(log);
    CU_ASSERT_EQUAL(fds_under(dir), 0);
    free(sl);
    model_free(&m);
    bk_seg_fd_cache_set(0);
}

/* Truncation and retention delete segments whose fd is cached or not;
 * what is left reads right, slices of deleted segments are refused. */
static void test_fdc_truncate_retain(void)
{
    const char *dir = bk_test_subdir("fdc-trunc");
    bk_seg_fd_cache_set(2);
    model m = {0};
    bk_log *log = many_segments(dir, &m, 150);
    int nseg = bk_log_segment_count(log);
    CU_ASSERT_FATAL(nseg >= 20);
    bk_log_slice s3, s5, s15;
    CU_ASSERT_EQUAL(
        bk_log_read(log, bk_log_segment_base(log, 3), 1 << 20, -1, &s3), 0);
    CU_ASSERT_EQUAL(
        bk_log_read(log, bk_log_segment_base(log, 5), 1 << 20, -1, &s5), 0);
    CU_ASSERT_EQUAL(
        bk_log_read(log, bk_log_segment_base(log, 15), 1 << 20, -1, &s15), 0);
    /* cached now: 15 (newest) and 5; 3 was evicted */
    /* cut in the middle of segment 10: 11.. go, among them cached ones */
    CU_ASSERT_EQUAL(
        bk_log_read(log, bk_log_segment_base(log, 12), 100, -1, &s15), 0);
    size_t bi = model_find(&m, bk_log_segment_base(log, 10)) + 1;
    int64_t cut = m.v[bi].base + 1;
    CU_ASSERT_EQUAL(bk_log_truncate(log, cut), 0);
    model_truncate(&m, cut);
    CU_ASSERT_EQUAL(bk_log_segment_count(log), 11);
    CU_ASSERT_TRUE(check_all(log, &m));
    CU_ASSERT(fds_under(dir) <= 2);
    uint8_t *buf = malloc(1 << 20);
    CU_ASSERT_FATAL(buf != NULL);
    CU_ASSERT_EQUAL(bk_log_read_slice(log, &s15, buf), -BK_ENOENT);
    CU_ASSERT_EQUAL(bk_log_read_slice(log, &s5, buf), 0);
    CU_ASSERT_TRUE(
        model_bytes_eq(&m, model_find(&m, s5.first_offset), buf, s5.len));
    /* grow again: new segments after the cut */
    int64_t ts = 700000;
    fill(log, &m, 60, 5, 40, &ts, 1);
    CU_ASSERT_TRUE(check_all(log, &m));
    /* retention: up to segment 6 (3 and 5 among the deleted) */
    int64_t start = bk_log_segment_base(log, 6);
    CU_ASSERT_EQUAL(bk_log_advance_start(log, start), 0);
    int deleted = 0;
    CU_ASSERT_EQUAL(bk_log_retain(log, ts, &deleted), 0);
    CU_ASSERT_EQUAL(deleted, 6);
    model_drop_below(&m, start);
    CU_ASSERT_TRUE(check_all(log, &m));
    CU_ASSERT_EQUAL(bk_log_read_slice(log, &s3, buf), -BK_ENOENT);
    CU_ASSERT_EQUAL(bk_log_read_slice(log, &s5, buf), -BK_ENOENT);
    CU_ASSERT(fds_under(dir) <= 2);
    CU_ASSERT_EQUAL(file_size(seg_file(pdir_of(dir), s5.segment, "log")),
                    (uint64_t)-1);
    /* truncate the active segment itself after its fd was evicted */
    int64_t leo = bk_log_end_offset(log);
    CU_ASSERT_TRUE(check_read(log, &m, m.start, 100, -1)); /* evicts */
    CU_ASSERT_TRUE(check_read(log, &m, m.start + 1, 100, -1));
    CU_ASSERT_EQUAL(bk_log_truncate(log, m.v[m.n - 1].base), 0);
    model_truncate(&m, m.v[m.n - 1].base);
    CU_ASSERT(bk_log_end_offset(log) < leo);
    fill(log, &m, 3, 5, 40, &ts, 2);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    CU_ASSERT_EQUAL(fds_under(dir), 0);
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 1500;
    log = open_log(dir, &cfg, 0, m.start);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    free(buf);
    model_free(&m);
    bk_seg_fd_cache_set(0);
}

/* Two logs sharing a cache of one fd, as partitions of a broker share
 * its cache: every append to one evicts the other's active segment;
 * nothing is written to the wrong file. */
static void test_fdc_two_logs(void)
{
    char da[4096], db[4096];
    snprintf(da, sizeof da, "%s", bk_test_subdir("fdc-a"));
    snprintf(db, sizeof db, "%s", bk_test_subdir("fdc-b"));
    bk_seg_fd_cache_set(1);
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 1500;
    bk_log *a = open_log(da, &cfg, 0, 0), *b = open_log(db, &cfg, 0, 0);
    model ma = {0}, mb = {0};
    int64_t ts = 1000;
    uint64_t ev = fdc_stats().evictions;
    for (int i = 0; i < 80; i++) {
        fill(a, &ma, 1, 5, 40, &ts, 0);
        fill(b, &mb, 1, 3, 60, &ts, 0);
        CU_ASSERT(fdc_stats().open <= 1);
        if (i == 40) {
            /* a's fd was just evicted by b's append */
            int64_t cut = ma.v[ma.n - 3].base;
            CU_ASSERT_EQUAL(bk_log_truncate(a, cut), 0);
            model_truncate(&ma, cut);
        }
    }
    CU_ASSERT(fdc_stats().evictions >= ev + 150);
    CU_ASSERT_TRUE(check_all(a, &ma));
    CU_ASSERT_TRUE(check_all(b, &mb));
    CU_ASSERT(fds_under(bk_test_dir()) <= 1);
    bk_log_close(a);
    bk_log_close(b);
    a = open_log(da, &cfg, 0, 0); /* verifies every batch */
    b = open_log(db, &cfg, 0, 0);
    CU_ASSERT_TRUE(check_all(a, &ma));
    CU_ASSERT_TRUE(check_all(b, &mb));
    bk_log_close(a);
    bk_log_close(b);
    model_free(&ma);
    model_free(&mb);
    bk_seg_fd_cache_set(0);
}

/* A cache larger than RLIMIT_NOFILE allows: open() fails with EMFILE,
 * the cache gives fds back and the read goes on. */
static void test_fdc_emfile(void)
{
    const char *dir = bk_test_subdir("fdc-emfile");
    bk_seg_fd_cache_set(1000);
    model m = {0};
    bk_log *log = many_segments(dir, &m, 150);
    CU_ASSERT_FATAL(bk_log_segment_count(log) >= 20);
    bk_log_close(log);
    /* the highest fd in use: the limit is a bound on fd numbers */
    int maxfd = 0;
    DIR *d = opendir("/proc/self/fd");
    CU_ASSERT_FATAL(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (atoi(de->d_name) > maxfd)
            maxfd = atoi(de->d_name);
    closedir(d);
    struct rlimit saved, rl;
    CU_ASSERT_FATAL(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rl = saved;
    rl.rlim_cur = (rlim_t)maxfd + 1 + 8;
    CU_ASSERT_FATAL(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    /* fill the free numbers below the limit but 8 (inherited fds leave
     * holes) */
    int fill_fds[4096], nfill = 0;
    while (nfill < 4096 && (fill_fds[nfill] = dup(0)) >= 0)
        nfill++;
    for (int i = 0; i < 8 && nfill > 0; i++)
        close(fill_fds[--nfill]);
    bk_level lvl = bk_logging_threshold;
    bk_logging_set_level(BK_LVL_ERROR); /* one WARN per EMFILE */
    uint64_t ev = fdc_stats().evictions;
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 1500;
    log = open_log(dir, &cfg, m.leo, 0); /* trusted: loaded lazily */
    bool ok = check_all(log, &m);
    int64_t ts = 100000;
    fill(log, &m, 30, 5, 40, &ts, 1);
    ok = ok && check_all(log, &m);
    bk_log_close(log);
    bk_logging_set_level(lvl);
    while (nfill > 0)
        close(fill_fds[--nfill]);
    CU_ASSERT_FATAL(setrlimit(RLIMIT_NOFILE, &saved) == 0);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT(fdc_stats().evictions > ev);
    CU_ASSERT_EQUAL(fds_under(dir), 0);
    model_free(&m);
    bk_seg_fd_cache_set(0);
}

/* Index files are opened only to be written: one removed or cut behind
 * the log's back is written again whole at the next sync that adds
 * entries. */
static void test_fdc_index_rewrite(void)
{
    const char *dir = bk_test_subdir("fdc-index");
    bk_log_config cfg = small_config();
    cfg.segment_bytes = 1 << 20;
    bk_log *log = open_log(dir, &cfg, 0, 0);
    model m = {0};
    int64_t ts = 1000;
    fill(log, &m, 40, 5, 40, &ts, 0);
    CU_ASSERT_EQUAL(bk_log_flush(log), 0);
    CU_ASSERT_EQUAL(fds_under(dir), 1); /* the .log; no index fd */
    char idx[4096], tidx[4096];
    snprintf(idx, sizeof idx, "%s", seg_file(pdir_of(dir), 0, "index"));
    snprintf(tidx, sizeof tidx, "%s", seg_file(pdir_of(dir), 0, "timeindex"));
    uint64_t isize = file_size(idx), tsize = file_size(tidx);
    CU_ASSERT(isize >= 8 * 5 && isize != (uint64_t)-1);
    CU_ASSERT(tsize >= 12 * 5 && tsize != (uint64_t)-1);
    CU_ASSERT_EQUAL(unlink(idx), 0);
    CU_ASSERT_EQUAL(truncate(tidx, 12), 0);
    /* enough for new entries: a sync with nothing to write opens
     * nothing, so notices nothing */
    fill(log, &m, 10, 5, 40, &ts, 0);
    CU_ASSERT_EQUAL(bk_log_flush(log), 0);
    CU_ASSERT(file_size(idx) >= isize && file_size(idx) != (uint64_t)-1);
    CU_ASSERT(file_size(tidx) >= tsize);
    int64_t leo = bk_log_end_offset(log);
    bk_log_close(log);
    /* trusted reopen: the indexes load as they are (a bad one would be
     * rebuilt, which check_all would not notice, so compare sizes too) */
    log = open_log(dir, &cfg, leo, 0);
    CU_ASSERT_TRUE(check_all(log, &m));
    bk_log_close(log);
    CU_ASSERT(file_size(idx) >= isize);
    model_free(&m);
}

/* A log without data writes nothing durable (no epoch file, no index
 * files, so no fsync) until its first append; losing its files in a crash
 * loses nothing. */
static void test_fresh_log(void)
{
    const char *dir = bk_test_subdir("fresh");
    bk_log_config cfg = small_config();
    char epoch[4200], idx[4096];
    snprintf(epoch, sizeof epoch, "%s/leader-epoch-checkpoint", pdir_of(dir));
    snprintf(idx, sizeof idx, "%s", seg_file(pdir_of(dir), 100, "index"));
    bk_log *log = open_log(dir, &cfg, 0, 100);
    CU_ASSERT_EQUAL(bk_log_end_offset(log), 100);
    CU_ASSERT_EQUAL(bk_log_flush(log), 0);
    bk_log_close(log);
    CU_ASSERT_EQUAL(file_size(seg_file(pdir_of(dir), 100, "log")), 0);
    CU_ASSERT_EQUAL(file_size(epoch), (uint64_t)-1);
    CU_ASSERT_EQUAL(file_size(idx), (uint64_t)-1);
    /* reopened (recovery point = start, as the broker checkpoints it):
     * still nothing written, and no warning-worthy state */
    log = open_log(dir, &cfg, 100, 100);
    CU_ASSERT_EQUAL(bk_log_start_offset(log), 100);
    CU_ASSERT_EQUAL(bk_log_end_offset(log), 100);
    bk_log_close(log);
    CU_ASSERT_EQUAL(file_size(epoch), (uint64_t)-1);
    /* a crash lost the segment file: the next open starts again */
    CU_ASSERT_EQUAL(unlink(seg_file(pdir_of(dir), 100, "log")), 0);
    log = open_log(dir, &cfg, 100, 100);
    CU_ASSERT_EQUAL(bk_log_end_offset(log), 100);
    /* the first data makes everything real */
    model m = {.start = 100, .leo = 100};
    int64_t ts = 1000;
    fill(log, &m, 30, 5, 40, &ts, 3);
    CU_ASSERT(file_size(epoch) != (uint64_t)-1);
    CU_ASSERT_EQUAL(bk_log_flush(log), 0);
    CU_ASSERT(file_size(idx) != (uint64_t)-1);
    int64_t rp = bk_log_recovery_point(log);
    CU_ASSERT_EQUAL(rp, m.leo);
    bk_log_close(log);
    log = open_log(dir, &cfg, rp, 100);
    CU_ASSERT_TRUE(check_all(log, &m));
    CU_ASSERT_EQUAL(bk_log_epoch_count(log), 1);
    bk_log_close(log);
    model_free(&m);
}

static int fdc_two_init(void)
{
    bk_seg_fd_cache_set(2);
    return 0;
}

static int fdc_default_init(void)
{
    bk_seg_fd_cache_set(0);
    return 0;
}

void bk_test_register(void)
{
    static CU_TestInfo tests[] = {
        {"append/read round trip", test_round_trip},
        {"roll by size", test_roll_by_size},
        {"roll by time", test_roll_by_time},
        {"roll by time after reopen", test_roll_by_time_reopen},
        {"index lookup across segments", test_index_lookup},
        {"read max_bytes and max_offset", test_read_limits},
        {"truncate", test_truncate},
        {"retention by bytes", test_retention_bytes},
        {"retention by time", test_retention_time},
        {"log start offset", test_start_offset},
        {"reopen", test_reopen},
        {"leader epochs", test_epochs},
        {"replica append", test_replica_append},
        {"timestamp lookup", test_timestamps},
        {"missing or corrupt index", test_index_repair},
        {"crash: cut and garbage", test_crash},
        {"crash: bit flip", test_bit_flip},
        {"model", test_model},
        CU_TEST_INFO_NULL,
    };
    static CU_TestInfo fdc[] = {
        {"many segments, two fds", test_fdc_bounded},
        {"truncation and retention", test_fdc_truncate_retain},
        {"two logs, one fd", test_fdc_two_logs},
        {"out of fds", test_fdc_emfile},
        {"index files rewritten", test_fdc_index_rewrite},
        {"a log without data writes nothing", test_fresh_log},
        CU_TEST_INFO_NULL,
    };
    bk_test_add_suite("log", tests);
    /* everything again with a segment fd cache of two: every read or
     * append may find its fd closed by the one before */
    bk_test_add_suite_fn("log, fd cache of 2", tests, fdc_two_init,
                         fdc_default_init);
    bk_test_add_suite("segment fd cache", fdc);
}
