/*
 * test_checkpoint.c -- broker/checkpoint.c (Kafka-format checkpoint files)
 * and broker/epoch.c (leader-epoch cache and its checkpoint file).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/checkpoint.h"
#include "broker/epoch.h"
#include "common/err.h"
#include "common/fileio.h"
#include "tests/unit/cu_main.h"

static char path_buf[4096];

static const char *file_in(const char *sub, const char *name)
{
    const char *d = bk_test_subdir(sub);
    snprintf(path_buf, sizeof path_buf, "%s/%s", d, name);
    return path_buf;
}

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
}

static char *get_file(const char *path)
{
    char *t;
    size_t n;
    if (bk_file_read_all(path, 1 << 20, &t, &n) != 0)
        return NULL;
    return t;
}

static void test_round_trip(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s",
             file_in("rt", "recovery-point-offset-checkpoint"));
    bk_ckpt c = BK_CKPT_INIT;
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "orders", 3, 12345), 0);
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "orders", 0, 0), 0);
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "a.b_c-d", 7, INT64_MAX), 0);
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "orders", 3, 99), 0); /* replace */
    CU_ASSERT_EQUAL(c.n, 3);
    CU_ASSERT_EQUAL(bk_ckpt_write(path, &c), 0);

    /* the exact bytes: Kafka's format, sorted by topic then partition */
    char *text = get_file(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_STRING_EQUAL(text, "0\n3\n"
                                 "a.b_c-d 7 9223372036854775807\n"
                                 "orders 0 0\n"
                                 "orders 3 99\n");
    free(text);

    bk_ckpt r = BK_CKPT_INIT;
    char err[256] = "";
    CU_ASSERT_EQUAL(bk_ckpt_read(path, &r, err, sizeof err), 0);
    CU_ASSERT_EQUAL(r.n, 3);
    int64_t v = -1;
    CU_ASSERT_EQUAL(bk_ckpt_get(&r, "orders", 3, &v), 0);
    CU_ASSERT_EQUAL(v, 99);
    CU_ASSERT_EQUAL(bk_ckpt_get(&r, "a.b_c-d", 7, &v), 0);
    CU_ASSERT_EQUAL(v, INT64_MAX);
    CU_ASSERT_EQUAL(bk_ckpt_get(&r, "orders", 1, &v), -BK_ENOENT);
    CU_ASSERT_EQUAL(bk_ckpt_remove(&r, "orders", 0), 0);
    CU_ASSERT_EQUAL(bk_ckpt_remove(&r, "orders", 0), -BK_ENOENT);
    CU_ASSERT_EQUAL(r.n, 2);

    /* an empty set round-trips too */
    bk_ckpt e = BK_CKPT_INIT;
    CU_ASSERT_EQUAL(bk_ckpt_write(path, &e), 0);
    CU_ASSERT_EQUAL(bk_ckpt_read(path, &r, NULL, 0), 0);
    CU_ASSERT_EQUAL(r.n, 0);

    /* many entries, inserted out of order */
    for (int i = 999; i >= 0; i--) {
        char t[32];
        snprintf(t, sizeof t, "topic%d", i % 37);
        CU_ASSERT_EQUAL(bk_ckpt_set(&c, t, i, (int64_t)i * 1000003), 0);
    }
    CU_ASSERT_EQUAL(bk_ckpt_write(path, &c), 0);
    CU_ASSERT_EQUAL(bk_ckpt_read(path, &r, NULL, 0), 0);
    CU_ASSERT_EQUAL(r.n, c.n);
    for (int i = 0; i < 1000; i++) {
        char t[32];
        snprintf(t, sizeof t, "topic%d", i % 37);
        CU_ASSERT_EQUAL(bk_ckpt_get(&r, t, i, &v), 0);
        CU_ASSERT_EQUAL(v, (int64_t)i * 1000003);
    }
    bk_ckpt_free(&c);
    bk_ckpt_free(&r);

    /* missing file: its own code, not an error message */
    CU_ASSERT_EQUAL(bk_ckpt_read(file_in("rt2", "nope"), &r, NULL, 0),
                    -BK_ENOENT);
}

static void test_invalid_entries(void)
{
    bk_ckpt c = BK_CKPT_INIT;
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "", 0, 1), -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "has space", 0, 1), -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "new\nline", 0, 1), -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "t", -1, 1), -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "t", 0, -1), -BK_EINVAL);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, longname, 0, 1), -BK_EINVAL);
    longname[249] = '\0';
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, longname, 0, 1), 0);
    CU_ASSERT_EQUAL(c.n, 1);
    bk_ckpt_free(&c);
}

static void test_atomic_replace(void)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s",
             file_in("atomic", "replication-offset-checkpoint"));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    bk_ckpt c = BK_CKPT_INIT, r = BK_CKPT_INIT;
    int64_t v;
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "t", 0, 10), 0);
    CU_ASSERT_EQUAL(bk_ckpt_write(path, &c), 0);

    /* a crash during the next write left a half-written temp file: the
     * reader ignores it */
    put_file(tmp, "0\n2\nt 0 2");
    CU_ASSERT_EQUAL(bk_ckpt_read(path, &r, NULL, 0), 0);
    CU_ASSERT_EQUAL(bk_ckpt_get(&r, "t", 0, &v), 0);
    CU_ASSERT_EQUAL(v, 10);

    /* and the next write replaces both */
    CU_ASSERT_EQUAL(bk_ckpt_set(&c, "t", 0, 20), 0);
    CU_ASSERT_EQUAL(bk_ckpt_write(path, &c), 0);
    CU_ASSERT_EQUAL(access(tmp, F_OK), -1);
    CU_ASSERT_EQUAL(bk_ckpt_read(path, &r, NULL, 0), 0);
    CU_ASSERT_EQUAL(bk_ckpt_get(&r, "t", 0, &v), 0);
    CU_ASSERT_EQUAL(v, 20);

    /* a failed write leaves the old file: the directory is gone */
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/nodir/x", bk_test_subdir("atomic2"));
    CU_ASSERT_EQUAL(bk_ckpt_write(bad, &c), -BK_EIO);
    bk_ckpt_free(&c);
    bk_ckpt_free(&r);
}

static void test_malformed(void)
{
    static const struct {
        const char *text;
        const char *msg; /* must appear in the error */
    } cases[] = {
        {"", ":1: expected a version number"},
        {"1\n0\n", ":1: unsupported version 1"},
        {"x\n0\n", ":1: expected a version number"},
        {"0\n", ":2: expected an entry count"},
        {"0\n-1\n", ":2: expected an entry count"},
        {"0\n2\nt 0 1\n", ":4: file ends after 1 of 2 entries"},
        {"0\n1\nt 0 1\nt 1 2\n", ":4: unexpected data after 1 entries"},
        {"0\n1\nt 0 1", ":3: line not terminated"},
        {"0\n1\nt 0\n", ":3: expected 3 fields, got 2"},
        {"0\n1\nt 0 1 2\n", ":3: expected 3 fields, got 4"},
        {"0\n1\nt  0 1\n", ":3: malformed line"},
        {"0\n1\nt 0 1 \n", ":3: malformed line"},
        {"0\n1\nt 0 1\r\n", ":3: malformed line"},
        {"0\n1\nt x 1\n", ":3: invalid partition 'x'"},
        {"0\n1\nt 0 -5\n", ":3: invalid offset '-5'"},
        {"0\n1\nt 0 99999999999999999999\n", ":3: invalid offset"},
        {"0\n1\nt 2147483648 1\n", ":3: invalid partition"},
        {"0\n1\nt 0 1x\n", ":3: invalid offset '1x'"},
        {"0\n1\nt 0 +1\n", ":3: invalid offset '+1'"},
        {"0\n1\nt/x 0 1\n", ":3: invalid topic name 't/x'"},
        {"0\n2\nt 0 1\nt 0 2\n", ":4: duplicate entry for t-0"},
    };
    char path[4096];
    snprintf(path, sizeof path, "%s", file_in("bad", "ckpt"));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bk_ckpt r = BK_CKPT_INIT;
        char err[512] = "";
        put_file(path, cases[i].text);
        int rc = bk_ckpt_read(path, &r, err, sizeof err);
        CU_ASSERT_EQUAL(rc, -BK_ECORRUPT);
        CU_ASSERT_EQUAL(r.n, 0);
        if (!strstr(err, cases[i].msg) || !strstr(err, path)) {
            fprintf(stderr, "case %zu: error '%s' lacks '%s'\n", i, err,
                    cases[i].msg);
            CU_FAIL("error message");
        }
    }
}

static void test_parse_i64(void)
{
    int64_t v;
    CU_ASSERT_EQUAL(bk_ckpt_parse_i64("0", 0, 10, &v), 0);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(
        bk_ckpt_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
    CU_ASSERT_EQUAL(v, INT64_MIN);
    CU_ASSERT_EQUAL(bk_ckpt_parse_i64("9223372036854775807", 0, INT64_MAX, &v),
                    0);
    CU_ASSERT_EQUAL(v, INT64_MAX);
    CU_ASSERT_EQUAL(bk_ckpt_parse_i64("9223372036854775808", 0, INT64_MAX, &v),
                    -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_ckpt_parse_i64("-0", INT64_MIN, INT64_MAX, &v),
                    -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_ckpt_parse_i64("", 0, 10, &v), -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_ckpt_parse_i64("-", -10, 10, &v), -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_ckpt_parse_i64("11", 0, 10, &v), -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_ckpt_parse_i64("-1", 0, 10, &v), -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_ckpt_parse_i64(" 1", 0, 10, &v), -BK_EINVAL);
}

/* ------------------------------ epochs ------------------------------ */

static void test_epoch_file_round_trip(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", file_in("epoch", BK_EPOCH_FILE));
    bk_epoch c;
    CU_ASSERT_EQUAL(bk_epoch_open(&c, path), -BK_ENOENT);
    CU_ASSERT_EQUAL(bk_epoch_latest(&c), BK_EPOCH_UNDEFINED);
    CU_ASSERT_EQUAL(bk_epoch_assign(&c, 0, 0), 0);
    CU_ASSERT_EQUAL(bk_epoch_assign(&c, 0, 50), 0); /* same epoch: no-op */
    CU_ASSERT_EQUAL(bk_epoch_assign(&c, 2, 100), 0);
    CU_ASSERT_EQUAL(bk_epoch_assign(&c, 1, 150), 0);  /* older: ignored */
    CU_ASSERT_EQUAL(bk_epoch_assign(&c, -1, 160), 0); /* none: ignored */
    CU_ASSERT_EQUAL(bk_epoch_assign(&c, 5, 300), 0);
    CU_ASSERT_EQUAL(c.n, 3);
    CU_ASSERT_EQUAL(bk_epoch_flush(&c), 0);
    char *text = get_file(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_STRING_EQUAL(text, "0\n3\n0 0\n2 100\n5 300\n");
    free(text);
    bk_epoch_free(&c);

    CU_ASSERT_EQUAL(bk_epoch_open(&c, path), 0);
    CU_ASSERT_EQUAL(c.n, 3);
    CU_ASSERT_EQUAL(c.v[1].epoch, 2);
    CU_ASSERT_EQUAL(c.v[1].start_offset, 100);
    CU_ASSERT_EQUAL(bk_epoch_latest(&c), 5);
    CU_ASSERT_EQUAL(bk_epoch_latest_start(&c), 300);
    CU_ASSERT_FALSE(c.dirty);

    /* a newer epoch at or below existing starts replaces them */
    CU_ASSERT_EQUAL(bk_epoch_assign(&c, 7, 100), 0);
    CU_ASSERT_EQUAL(c.n, 2);
    CU_ASSERT_EQUAL(c.v[1].epoch, 7);
    CU_ASSERT_EQUAL(c.v[1].start_offset, 100);
    CU_ASSERT_EQUAL(bk_epoch_flush(&c), 0);
    bk_epoch_free(&c);
    CU_ASSERT_EQUAL(bk_epoch_open(&c, path), 0);
    CU_ASSERT_EQUAL(c.n, 2);
    bk_epoch_free(&c);

    /* malformed files: empty cache, rewritten at the next flush */
    static const char *bad[] = {
        "0\n2\n1 0\n1 10\n",  /* epoch not increasing */
        "0\n2\n1 10\n2 10\n", /* offset not increasing */
        "0\n1\n-1 0\n",       "0\n1\n1 -3\n", "0\n1\n1 2 3\n", "1\n0\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put_file(path, bad[i]);
        CU_ASSERT_EQUAL(bk_epoch_open(&c, path), -BK_ECORRUPT);
        CU_ASSERT_EQUAL(c.n, 0);
        CU_ASSERT_TRUE(c.dirty);
        bk_epoch_free(&c);
    }
    /* a leftover .tmp is ignored */
    put_file(path, "0\n1\n4 40\n");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    put_file(tmp, "garbage");
    CU_ASSERT_EQUAL(bk_epoch_open(&c, path), 0);
    CU_ASSERT_EQUAL(bk_epoch_latest(&c), 4);
    bk_epoch_free(&c);
}

static void test_epoch_truncation(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", file_in("epoch2", BK_EPOCH_FILE));
    bk_epoch c;
    (void)bk_epoch_open(&c, path);
    bk_epoch_assign(&c, 1, 0);
    bk_epoch_assign(&c, 3, 100);
    bk_epoch_assign(&c, 4, 200);
    bk_epoch_assign(&c, 6, 300);

    bk_epoch_truncate_from_end(&c, 300); /* epoch 6 had nothing left */
    CU_ASSERT_EQUAL(c.n, 3);
    CU_ASSERT_EQUAL(bk_epoch_latest(&c), 4);
    bk_epoch_truncate_from_end(&c, 250); /* 4 keeps [200, 250) */
    CU_ASSERT_EQUAL(c.n, 3);

    bk_epoch_truncate_from_start(&c, 50); /* 1 now starts at 50 */
    CU_ASSERT_EQUAL(c.n, 3);
    CU_ASSERT_EQUAL(c.v[0].epoch, 1);
    CU_ASSERT_EQUAL(c.v[0].start_offset, 50);
    bk_epoch_truncate_from_start(&c, 100); /* 1 is gone */
    CU_ASSERT_EQUAL(c.n, 2);
    CU_ASSERT_EQUAL(c.v[0].epoch, 3);
    CU_ASSERT_EQUAL(c.v[0].start_offset, 100);
    bk_epoch_truncate_from_start(&c, 220);
    CU_ASSERT_EQUAL(c.n, 1);
    CU_ASSERT_EQUAL(c.v[0].epoch, 4);
    CU_ASSERT_EQUAL(c.v[0].start_offset, 220);
    bk_epoch_truncate_from_start(&c, 10); /* below: nothing */
    CU_ASSERT_EQUAL(c.v[0].start_offset, 220);
    CU_ASSERT_EQUAL(bk_epoch_flush(&c), 0);
    bk_epoch_clear(&c);
    CU_ASSERT_EQUAL(c.n, 0);
    CU_ASSERT_EQUAL(bk_epoch_flush(&c), 0);
    bk_epoch_free(&c);
    CU_ASSERT_EQUAL(bk_epoch_open(&c, path), 0);
    CU_ASSERT_EQUAL(c.n, 0);
    bk_epoch_free(&c);
}

static void test_epoch_end_offset(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", file_in("epoch3", BK_EPOCH_FILE));
    bk_epoch c;
    int32_t e;
    int64_t o;
    (void)bk_epoch_open(&c, path);
    bk_epoch_end_offset(&c, 0, 10, &e, &o); /* empty cache */
    CU_ASSERT_EQUAL(e, BK_EPOCH_UNDEFINED);
    CU_ASSERT_EQUAL(o, BK_EPOCH_UNDEFINED_OFFSET);

    bk_epoch_assign(&c, 2, 10);
    bk_epoch_assign(&c, 4, 50);
    bk_epoch_assign(&c, 7, 80);
    const int64_t leo = 120;
    bk_epoch_end_offset(&c, 7, leo, &e, &o); /* latest: LEO */
    CU_ASSERT_EQUAL(e, 7);
    CU_ASSERT_EQUAL(o, leo);
    bk_epoch_end_offset(&c, 4, leo, &e, &o); /* next epoch's start */
    CU_ASSERT_EQUAL(e, 4);
    CU_ASSERT_EQUAL(o, 80);
    bk_epoch_end_offset(&c, 5, leo, &e, &o); /* unknown, between */
    CU_ASSERT_EQUAL(e, 4);
    CU_ASSERT_EQUAL(o, 80);
    bk_epoch_end_offset(&c, 2, leo, &e, &o);
    CU_ASSERT_EQUAL(e, 2);
    CU_ASSERT_EQUAL(o, 50);
    bk_epoch_end_offset(&c, 1, leo, &e, &o); /* before the first */
    CU_ASSERT_EQUAL(e, 1);
    CU_ASSERT_EQUAL(o, 10);
    bk_epoch_end_offset(&c, 8, leo, &e, &o); /* newer than we know */
    CU_ASSERT_EQUAL(e, BK_EPOCH_UNDEFINED);
    CU_ASSERT_EQUAL(o, BK_EPOCH_UNDEFINED_OFFSET);
    bk_epoch_end_offset(&c, BK_EPOCH_UNDEFINED, leo, &e, &o);
    CU_ASSERT_EQUAL(e, BK_EPOCH_UNDEFINED);
    CU_ASSERT_EQUAL(o, BK_EPOCH_UNDEFINED_OFFSET);
    bk_epoch_free(&c);
}

void bk_test_register(void)
{
    static CU_TestInfo ckpt[] = {
        {"round trip", test_round_trip},
        {"invalid entries", test_invalid_entries},
        {"atomic replace", test_atomic_replace},
        {"malformed files", test_malformed},
        {"parse_i64", test_parse_i64},
        CU_TEST_INFO_NULL,
    };
    static CU_TestInfo epoch[] = {
        {"checkpoint file round trip", test_epoch_file_round_trip},
        {"truncation", test_epoch_truncation},
        {"end offset for epoch", test_epoch_end_offset},
        CU_TEST_INFO_NULL,
    };
    bk_test_add_suite("checkpoint", ckpt);
    bk_test_add_suite("epoch", epoch);
}
