/*
 * test_json.c -- common/json: the strict parser (values, escapes, limits,
 * every malformed form we know of, truncation at every byte, random
 * mutations and garbage) and the writer (exact bytes, escaping, round
 * trips of random documents).  Run under ASan/UBSan by tests/run, which
 * is where "no crash on garbage" is really checked.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "tests/unit/cu_main.h"

static int parse(const char *s, bk_json **out)
{
    char err[128];
    return bk_json_parse(s, strlen(s), NULL, out, err, sizeof err);
}

/* Writes v compactly into a NUL-terminated malloc'd string. */
static char *dump(const bk_json *v)
{
    bk_buf b = BK_BUF_INIT;
    bk_json_w w;
    bk_json_w_init(&w, &b);
    bk_json_w_value(&w, v);
    CU_ASSERT_TRUE(bk_json_w_ok(&w));
    bk_buf_put_u8(&b, 0);
    size_t n;
    return (char *)bk_buf_detach(&b, &n);
}

static void test_kafka_document(void)
{
    const char *doc = "{\"version\":1,\"partitions\":{\"0\":[1,2,3],"
                      "\"1\":[2,3,1]},\"adding_replicas\":{},"
                      "\"rack\":null,\"ok\":true}";
    bk_json *r = NULL;
    CU_ASSERT_EQUAL_FATAL(parse(doc, &r), 0);
    CU_ASSERT_EQUAL(bk_json_typeof(r), BK_JSON_OBJECT);
    CU_ASSERT_EQUAL(bk_json_len(r), 5);
    int64_t v = 0;
    CU_ASSERT_EQUAL(bk_json_int(bk_json_get(r, "version"), &v), 0);
    CU_ASSERT_EQUAL(v, 1);
    const bk_json *parts = bk_json_get(r, "partitions");
    CU_ASSERT_EQUAL(bk_json_len(parts), 2);
    CU_ASSERT_STRING_EQUAL(bk_json_key(bk_json_at(parts, 1)), "1");
    const bk_json *p0 = bk_json_get(parts, "0");
    CU_ASSERT_EQUAL(bk_json_len(p0), 3);
    int32_t x = 0;
    CU_ASSERT_EQUAL(bk_json_int32(bk_json_at(p0, 2), &x), 0);
    CU_ASSERT_EQUAL(x, 3);
    CU_ASSERT_PTR_NULL(bk_json_at(p0, 3));
    CU_ASSERT_TRUE(bk_json_is(bk_json_get(r, "rack"), BK_JSON_NULL));
    CU_ASSERT_EQUAL(bk_json_len(bk_json_get(r, "adding_replicas")), 0);
    bool b = false;
    CU_ASSERT_EQUAL(bk_json_bool(bk_json_get(r, "ok"), &b), 0);
    CU_ASSERT_TRUE(b);
    /* wrong types and missing keys answer errors, not crashes */
    CU_ASSERT_PTR_NULL(bk_json_get(r, "missing"));
    CU_ASSERT_PTR_NULL(bk_json_get(p0, "x"));
    CU_ASSERT_PTR_NULL(bk_json_get(NULL, "x"));
    CU_ASSERT_EQUAL(bk_json_int(bk_json_get(r, "ok"), &v), -BK_EINVAL);
    CU_ASSERT_EQUAL(bk_json_int(NULL, &v), -BK_EINVAL);
    CU_ASSERT_PTR_NULL(bk_json_str(bk_json_get(r, "version"), NULL));
    CU_ASSERT_EQUAL(bk_json_len(bk_json_get(r, "version")), 0);
    /* written back: same bytes (compact, document order) */
    char *out = dump(r);
    CU_ASSERT_STRING_EQUAL(out, doc);
    free(out);
    bk_json_free(r);
}

static void test_numbers(void)
{
    static const struct {
        const char *text;
        bk_json_type type;
        int64_t i;
        double d;
    } cases[] = {
        {"0", BK_JSON_INT, 0, 0},
        {"-0", BK_JSON_INT, 0, 0},
        {"42", BK_JSON_INT, 42, 0},
        {"-17", BK_JSON_INT, -17, 0},
        {"9223372036854775807", BK_JSON_INT, INT64_MAX, 0},
        {"-9223372036854775808", BK_JSON_INT, INT64_MIN, 0},
        {"9223372036854775808", BK_JSON_DOUBLE, 0, 9223372036854775808.0},
        {"-9223372036854775809", BK_JSON_DOUBLE, 0, -9223372036854775809.0},
        {"1.5", BK_JSON_DOUBLE, 0, 1.5},
        {"1.0", BK_JSON_DOUBLE, 0, 1.0},
        {"-2.5e3", BK_JSON_DOUBLE, 0, -2500.0},
        {"1E2", BK_JSON_DOUBLE, 0, 100.0},
        {"1e-2", BK_JSON_DOUBLE, 0, 0.01},
        {"0.5e+1", BK_JSON_DOUBLE, 0, 5.0},
        {" 7 ", BK_JSON_INT, 7, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bk_json *r = NULL;
        CU_ASSERT_EQUAL_FATAL(parse(cases[i].text, &r), 0);
        CU_ASSERT_EQUAL(bk_json_typeof(r), cases[i].type);
        if (cases[i].type == BK_JSON_INT) {
            int64_t v;
            CU_ASSERT_EQUAL(bk_json_int(r, &v), 0);
            CU_ASSERT_EQUAL(v, cases[i].i);
        } else {
            double d;
            CU_ASSERT_EQUAL(bk_json_num(r, &d), 0);
            CU_ASSERT_DOUBLE_EQUAL(d, cases[i].d, fabs(cases[i].d) * 1e-15);
            int64_t v;
            CU_ASSERT_EQUAL(bk_json_int(r, &v), -BK_EINVAL);
        }
        bk_json_free(r);
    }
    bk_json *r = NULL;
    int32_t x;
    CU_ASSERT_EQUAL_FATAL(parse("[2147483647,2147483648,-2147483649]", &r), 0);
    CU_ASSERT_EQUAL(bk_json_int32(bk_json_at(r, 0), &x), 0);
    CU_ASSERT_EQUAL(x, INT32_MAX);
    CU_ASSERT_EQUAL(bk_json_int32(bk_json_at(r, 1), &x), -BK_ERANGE);
    CU_ASSERT_EQUAL(bk_json_int32(bk_json_at(r, 2), &x), -BK_ERANGE);
    bk_json_free(r);
}

static void test_strings(void)
{
    bk_json *r = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(
        parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac"
              "\\ud83d\\ude00\xc3\xa9\"",
              &r),
        0);
    const char *s = bk_json_str(r, &n);
    const char want[] = "a\"b\\c/d\b\f\n\r\tA\xc3\xa9\xe2\x82\xac"
                        "\xf0\x9f\x98\x80\xc3\xa9";
    CU_ASSERT_EQUAL(n, sizeof want - 1);
    CU_ASSERT_EQUAL(memcmp(s, want, n), 0);
    CU_ASSERT_PTR_NOT_NULL(bk_json_cstr(r));
    bk_json_free(r);

    /* an embedded NUL is legal JSON; the length keeps it, cstr refuses */
    CU_ASSERT_EQUAL_FATAL(parse("\"a\\u0000b\"", &r), 0);
    s = bk_json_str(r, &n);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(memcmp(s, "a\0b", 3), 0);
    CU_ASSERT_PTR_NULL(bk_json_cstr(r));
    char *out = dump(r);
    CU_ASSERT_STRING_EQUAL(out, "\"a\\u0000b\"");
    free(out);
    bk_json_free(r);

    /* keys are decoded too */
    CU_ASSERT_EQUAL_FATAL(parse("{\"k\\u00e9y\":1,\"\":2}", &r), 0);
    CU_ASSERT_PTR_NOT_NULL(bk_json_get(r, "k\xc3\xa9y"));
    CU_ASSERT_PTR_NOT_NULL(bk_json_get(r, ""));
    bk_json_free(r);
}

/* Every one of these must be refused with -BK_EINVAL. */
static const char *const malformed[] = {
    "",
    " ",
    "{",
    "}",
    "[",
    "]",
    "[1,]",
    "[,1]",
    "[1 2]",
    "{\"a\"}",
    "{\"a\":}",
    "{\"a\":1,}",
    "{a:1}",
    "{'a':1}",
    "{\"a\" 1}",
    "{,}",
    "{\"a\":1 \"b\":2}",
    "[1]]",
    "[1]x",
    "{}{}",
    "01",
    "-",
    "-01",
    "1.",
    ".5",
    "1.e3",
    "1e",
    "1e+",
    "+1",
    "0x10",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "tru",
    "true1",
    "nul",
    "nulll",
    "True",
    "FALSE",
    "\"abc",
    "\"\\\"",
    "\"\\x\"",
    "\"\\u12\"",
    "\"\\u12G4\"",
    "\"\\ud800\"",
    "\"\\udc00\"",
    "\"\\ud800\\u0041\"",
    "\"\\ud800x\"",
    "\"a\nb\"",
    "\"\t\"",
    "\"\x01\"",
    "\"\x80\"",
    "\"\xc3\"",
    "\"\xc0\xaf\"",
    "\"\xe0\x80\xaf\"",
    "\"\xed\xa0\x80\"",
    "\"\xf4\x90\x80\x80\"",
    "\"\xff\"",
    "\"\xf0\x9f\x98\"",
    "[1,2",
    "{\"a\":[}",
    "/* c */ 1",
    "1 // c",
    "[\"a\",]",
    "{\"a\":1,\"a\":2}",
    "[{\"x\":1,\"y\":2,\"x\":3}]",
    "\xef\xbb\xbf{}", /* a byte-order mark is not JSON */
};

static void test_malformed(void)
{
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        bk_json *r = (bk_json *)1;
        char err[128] = "";
        int rc = bk_json_parse(malformed[i], strlen(malformed[i]), NULL, &r,
                               err, sizeof err);
        if (rc != -BK_EINVAL)
            printf("\naccepted or wrong code %d: [%s]\n", rc, malformed[i]);
        CU_ASSERT_EQUAL(rc, -BK_EINVAL);
        CU_ASSERT_PTR_NULL(r);
        CU_ASSERT_TRUE(strncmp(err, "byte ", 5) == 0);
    }
    /* the message names the offset of the problem */
    bk_json *r;
    char err[128];
    CU_ASSERT_EQUAL(bk_json_parse("{\"a\" 1}", 7, NULL, &r, err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_STRING_EQUAL(err, "byte 5: expected ':' after key");
    /* a NULL err buffer is fine */
    CU_ASSERT_EQUAL(bk_json_parse("[", 1, NULL, &r, NULL, 0), -BK_EINVAL);
}

static void test_duplicate_keys_big_object(void)
{
    /* > 16 members takes the sorting path */
    bk_buf b = BK_BUF_INIT;
    bk_json_w w;
    bk_json_w_init(&w, &b);
    bk_json_w_obj_begin(&w);
    char k[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "%d", i);
        bk_json_w_key(&w, k);
        bk_json_w_int(&w, i);
    }
    bk_json_w_obj_end(&w);
    CU_ASSERT_TRUE(bk_json_w_ok(&w));
    bk_json *r = NULL;
    CU_ASSERT_EQUAL(bk_json_parse(b.data, b.len, NULL, &r, NULL, 0), 0);
    CU_ASSERT_EQUAL(bk_json_len(r), 1000);
    int64_t v = 0;
    CU_ASSERT_EQUAL(bk_json_int(bk_json_get(r, "777"), &v), 0);
    CU_ASSERT_EQUAL(v, 777);
    bk_json_free(r);
    /* now make key "500" appear twice */
    b.len--; /* drop '}' */
    const char *dup = ",\"500\":1}";
    bk_buf_put(&b, dup, strlen(dup));
    char err[128];
    CU_ASSERT_EQUAL(bk_json_parse(b.data, b.len, NULL, &r, err, sizeof err),
                    -BK_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "duplicate key \"500\""));
    bk_buf_free(&b);
}

static void test_limits(void)
{
    char deep[300];
    bk_json *r = NULL;
    /* exactly 64 levels pass, 65 do not */
    for (int depth = 63; depth <= 66; depth++) {
        int n = 0;
        for (int i = 0; i < depth; i++)
            deep[n++] = '[';
        for (int i = 0; i < depth; i++)
            deep[n++] = ']';
        int rc = bk_json_parse(deep, (size_t)n, NULL, &r, NULL, 0);
        CU_ASSERT_EQUAL(rc, depth <= 64 ? 0 : -BK_ETOOBIG);
        bk_json_free(r);
        r = NULL;
    }
    /* custom limits */
    bk_json_limits lim = {.max_bytes = 8, .max_depth = 2};
    CU_ASSERT_EQUAL(bk_json_parse("[[1]]", 5, &lim, &r, NULL, 0), 0);
    bk_json_free(r);
    CU_ASSERT_EQUAL(bk_json_parse("[[[1]]]", 7, &lim, &r, NULL, 0),
                    -BK_ETOOBIG);
    CU_ASSERT_EQUAL(bk_json_parse("[1,2,3,4]", 9, &lim, &r, NULL, 0),
                    -BK_ETOOBIG);
    CU_ASSERT_PTR_NULL(r);
    /* a hostile nesting far past the limit fails fast without recursion
     * trouble */
    size_t big = 1000000;
    char *s = malloc(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    memset(s, '[', big);
    CU_ASSERT_EQUAL(bk_json_parse(s, big, NULL, &r, NULL, 0), -BK_ETOOBIG);
    /* over the default size limit of 1 MiB */
    free(s);
    big = BK_JSON_DEFAULT_MAX_BYTES + 1;
    s = malloc(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    memset(s, ' ', big);
    s[0] = '1';
    CU_ASSERT_EQUAL(bk_json_parse(s, big, NULL, &r, NULL, 0), -BK_ETOOBIG);
    free(s);
}

/* A valid document: every strict prefix must be refused (an object only
 * completes at its last byte), and never crash. */
static void test_truncation_every_position(void)
{
    const char *doc =
        "{\"version\":4,\"host\":\"broker-1.example\",\"port\":9092,"
        "\"endpoints\":[\"PLAINTEXT://broker-1.example:9092\"],"
        "\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"
        "\"jmx_port\":-1,\"rack\":null,\"timestamp\":\"1700000000000\","
        "\"x\":[1.5e3,true,false,\"\\u00e9\\ud83d\\ude00\\n\"]}";
    size_t len = strlen(doc);
    for (size_t i = 0; i < len; i++) {
        /* a heap copy of exactly i bytes, so ASan catches any read past
         * the end */
        char *p = malloc(i ? i : 1);
        memcpy(p, doc, i);
        bk_json *r = NULL;
        int rc = bk_json_parse(p, i, NULL, &r, NULL, 0);
        CU_ASSERT_EQUAL(rc, -BK_EINVAL);
        CU_ASSERT_PTR_NULL(r);
        free(p);
    }
    bk_json *r = NULL;
    CU_ASSERT_EQUAL(bk_json_parse(doc, len, NULL, &r, NULL, 0), 0);
    bk_json_free(r);
}

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Parses p[0..n); when accepted, the document written back must parse
 * again to the same bytes (writer and parser agree). */
static void parse_and_check(const char *p, size_t n)
{
    char *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    bk_json *r = NULL;
    int rc = bk_json_parse(copy, n, NULL, &r, NULL, 0);
    CU_ASSERT_TRUE(rc == 0 || rc == -BK_EINVAL || rc == -BK_ETOOBIG);
    if (rc == 0) {
        char *a = dump(r);
        bk_json *r2 = NULL;
        CU_ASSERT_EQUAL(parse(a, &r2), 0);
        char *b = dump(r2);
        CU_ASSERT_STRING_EQUAL(a, b);
        free(a);
        free(b);
        bk_json_free(r2);
    }
    bk_json_free(r);
    free(copy);
}

static void test_random_mutations_and_garbage(void)
{
    rng_state = bk_test_seed * 2654435761u + 1;
    const char *seed_doc =
        "{\"version\":1,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1]},"
        "\"config\":{\"retention.ms\":\"86400000\",\"s\":\"\\u00e9\\\"\"},"
        "\"n\":[-1,0.25,1e3,null,true,false,[],{}]}";
    size_t sl = strlen(seed_doc);
    int iters = bk_test_long ? 500000 : 40000;
    char buf[512];
    for (int it = 0; it < iters; it++) {
        memcpy(buf, seed_doc, sl);
        size_t n = sl;
        int muts = 1 + (int)(rnd() % 4);
        for (int m = 0; m < muts; m++) {
            size_t pos = rnd() % n;
            switch (rnd() % 4) {
            case 0: /* flip a byte */
                buf[pos] = (char)rnd();
                break;
            case 1: /* delete a byte */
                memmove(buf + pos, buf + pos + 1, n - pos - 1);
                n--;
                break;
            case 2: /* insert a structural byte */
                if (n < sizeof buf - 1) {
                    memmove(buf + pos + 1, buf + pos, n - pos);
                    buf[pos] = "{}[]\",:\\ 0-eE.tfnu"[rnd() % 19];
                    n++;
                }
                break;
            default: /* truncate */
                n = pos;
                break;
            }
            if (n == 0)
                break;
        }
        parse_and_check(buf, n);
    }
    /* pure garbage, and token soup that often nests */
    for (int it = 0; it < iters; it++) {
        size_t n = rnd() % 64;
        for (size_t i = 0; i < n; i++) {
            if (it & 1)
                buf[i] = (char)rnd();
            else
                buf[i] = "{}[]\",:1 -\\u\"a"[rnd() % 14];
        }
        parse_and_check(buf, n);
    }
}

/* Random valid documents through the writer and back. */
static void gen_value(bk_json_w *w, int depth)
{
    int kind = depth >= 6 ? (int)(rnd() % 5) : (int)(rnd() % 7);
    char s[24];
    switch (kind) {
    case 0:
        bk_json_w_null(w);
        break;
    case 1:
        bk_json_w_bool(w, rnd() & 1);
        break;
    case 2:
        bk_json_w_int(w, (int64_t)((uint64_t)rnd() << 32 | rnd()));
        break;
    case 3: {
        double d = (double)(int32_t)rnd() / ((rnd() % 1000) + 1);
        bk_json_w_double(w, d);
        break;
    }
    case 4: {
        size_t n = rnd() % sizeof s;
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(rnd() % 128); /* ASCII incl. control chars */
        bk_json_w_strn(w, s, n);
        break;
    }
    case 5: {
        bk_json_w_arr_begin(w);
        int n = (int)(rnd() % 5);
        for (int i = 0; i < n; i++)
            gen_value(w, depth + 1);
        bk_json_w_arr_end(w);
        break;
    }
    default: {
        bk_json_w_obj_begin(w);
        int n = (int)(rnd() % 5);
        for (int i = 0; i < n; i++) {
            snprintf(s, sizeof s, "k%d", i); /* unique keys */
            bk_json_w_key(w, s);
            gen_value(w, depth + 1);
        }
        bk_json_w_obj_end(w);
        break;
    }
    }
}

static void test_writer_roundtrip_random(void)
{
    rng_state = bk_test_seed * 40503u + 7;
    int iters = bk_test_long ? 100000 : 5000;
    for (int it = 0; it < iters; it++) {
        bk_buf b = BK_BUF_INIT;
        bk_json_w w;
        bk_json_w_init(&w, &b);
        gen_value(&w, 0);
        CU_ASSERT_TRUE(bk_json_w_ok(&w));
        bk_json *r = NULL;
        char err[128] = "";
        int rc = bk_json_parse(b.data, b.len, NULL, &r, err, sizeof err);
        CU_ASSERT_EQUAL(rc, 0);
        if (rc == 0) {
            char *again = dump(r);
            CU_ASSERT_EQUAL(strlen(again), b.len);
            CU_ASSERT_EQUAL(memcmp(again, b.data, b.len), 0);
            free(again);
        } else {
            printf("\nrejected own output (%s): %.*s\n", err, (int)b.len,
                   (const char *)b.data);
        }
        bk_json_free(r);
        bk_buf_free(&b);
    }
}

static void test_writer_exact(void)
{
    bk_buf b = BK_BUF_INIT;
    bk_json_w w;
    bk_json_w_init(&w, &b);
    bk_json_w_obj_begin(&w);
    bk_json_w_key(&w, "version");
    bk_json_w_int(&w, 4);
    bk_json_w_key(&w, "s");
    bk_json_w_str(&w, "q\"b\\s/\n\x01\x1f\xc3\xa9");
    bk_json_w_key(&w, "a");
    bk_json_w_arr_begin(&w);
    bk_json_w_int(&w, INT64_MIN);
    bk_json_w_double(&w, 0.1);
    bk_json_w_double(&w, 2.0);
    bk_json_w_double(&w, 1e300);
    bk_json_w_arr_begin(&w);
    bk_json_w_arr_end(&w);
    bk_json_w_obj_begin(&w);
    bk_json_w_obj_end(&w);
    bk_json_w_bool(&w, false);
    bk_json_w_null(&w);
    bk_json_w_arr_end(&w);
    bk_json_w_obj_end(&w);
    CU_ASSERT_TRUE(bk_json_w_ok(&w));
    const char *want = "{\"version\":4,\"s\":\"q\\\"b\\\\s/\\n\\u0001\\u001f"
                       "\xc3\xa9\",\"a\":[-9223372036854775808,0.1,2.0,"
                       "1e+300,[],{},false,null]}";
    CU_ASSERT_EQUAL(b.len, strlen(want));
    CU_ASSERT_EQUAL(memcmp(b.data, want, b.len), 0);

    /* doubles read back as the same doubles */
    bk_json *r = NULL;
    CU_ASSERT_EQUAL_FATAL(bk_json_parse(b.data, b.len, NULL, &r, NULL, 0), 0);
    double d;
    const bk_json *a = bk_json_get(r, "a");
    CU_ASSERT_EQUAL(bk_json_num(bk_json_at(a, 1), &d), 0);
    CU_ASSERT_TRUE(d == 0.1);
    CU_ASSERT_TRUE(bk_json_is(bk_json_at(a, 2), BK_JSON_DOUBLE));
    bk_json_free(r);

    /* incomplete document: not ok */
    bk_buf_reset(&b);
    bk_json_w_init(&w, &b);
    bk_json_w_arr_begin(&w);
    CU_ASSERT_FALSE(bk_json_w_ok(&w));
    bk_json_w_arr_end(&w);
    CU_ASSERT_TRUE(bk_json_w_ok(&w));

    /* invalid UTF-8 is replaced and flagged; NaN is null and flagged */
    bk_buf_reset(&b);
    bk_json_w_init(&w, &b);
    bk_json_w_str(&w, "a\xff"
                      "b");
    CU_ASSERT_FALSE(bk_json_w_ok(&w));
    CU_ASSERT_EQUAL(b.len, 7);
    CU_ASSERT_EQUAL(memcmp(b.data,
                           "\"a\xef\xbf\xbd"
                           "b\"",
                           7),
                    0);
    bk_buf_reset(&b);
    bk_json_w_init(&w, &b);
    bk_json_w_double(&w, NAN);
    CU_ASSERT_FALSE(bk_json_w_ok(&w));
    bk_buf_free(&b);
}

static CU_TestInfo json_tests[] = {
    {"a Kafka znode document: values, accessors, rewrite", test_kafka_document},
    {"numbers: int64 bounds, overflow to double, fractions", test_numbers},
    {"strings: escapes, \\u, surrogate pairs, NUL", test_strings},
    {"malformed documents are refused with an offset", test_malformed},
    {"duplicate keys in a 1000-member object", test_duplicate_keys_big_object},
    {"depth and size limits", test_limits},
    {"truncation at every position", test_truncation_every_position},
    {"random mutations and garbage", test_random_mutations_and_garbage},
    {"writer: exact bytes, escaping, flags", test_writer_exact},
    {"writer/parser round trip of random documents",
     test_writer_roundtrip_random},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite("json", json_tests);
}
