/*
 * test_config.c -- broker.properties parsing and validation (common/config).
 *
 * The messages are part of the interface (an operator reads them), so most
 * tests compare them exactly, including file name, line and key.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/logging.h"
#include "tests/unit/cu_main.h"

/* A broker-like schema.  The first two keys are required; the value tests
 * use the rest (VSCHEMA) so that they need not set those two. */
static const bk_cfg_def schema[] = {
    {.name = "broker.id",
     .type = BK_CFG_INT,
     .min = 0,
     .max = 1000,
     .doc = "id of this broker"},
    {.name = "zookeeper.connect",
     .type = BK_CFG_STRING,
     .flags = BK_CFG_NONEMPTY,
     .doc = "ZooKeeper connect string"},
    {.name = "log.dirs",
     .type = BK_CFG_LIST,
     .dflt = "/tmp/brook-logs",
     .flags = BK_CFG_NONEMPTY},
    {.name = "num.partitions",
     .type = BK_CFG_INT,
     .dflt = "1",
     .min = 1,
     .max = 10000},
    {.name = "log.segment.bytes",
     .type = BK_CFG_INT,
     .dflt = "1073741824",
     .min = 14,
     .max = INT32_MAX},
    {.name = "log.retention.ms",
     .type = BK_CFG_LONG,
     .dflt = "604800000",
     .min = -1,
     .max = INT64_MAX},
    {.name = "offset.any", .type = BK_CFG_LONG, .dflt = "0"},
    {.name = "int.any", .type = BK_CFG_INT, .dflt = "0"},
    {.name = "auto.create.topics.enable", .type = BK_CFG_BOOL, .dflt = "true"},
    {.name = "log.cleaner.min.cleanable.ratio",
     .type = BK_CFG_DOUBLE,
     .dflt = "0.5",
     .dmin = 0,
     .dmax = 1},
    {.name = "compression.type",
     .type = BK_CFG_ENUM,
     .dflt = "producer",
     .choices = "uncompressed|zstd|lz4|snappy|gzip|producer"},
    {.name = "cleanup.policy",
     .type = BK_CFG_LIST,
     .dflt = "delete",
     .choices = "delete|compact"},
    {.name = "broker.rack", .type = BK_CFG_STRING, .dflt = ""},
    {.name = "ssl.key.password",
     .type = BK_CFG_STRING,
     .dflt = "",
     .flags = BK_CFG_SECRET},
    {.name = "listeners", .type = BK_CFG_STRING, .dflt = "PLAINTEXT://:9092"},
};
#define NSCHEMA  (sizeof schema / sizeof schema[0])
#define VSCHEMA  (schema + 2)
#define NVSCHEMA (NSCHEMA - 2)

#define SRC "test.properties"

/* Loads text as SRC with the full schema and finishes; *rc gets the
 * result of bk_cfg_finish(). */
static bk_cfg *load_full(const char *text, int *rc)
{
    bk_cfg *cfg = NULL;
    CU_ASSERT_FATAL(bk_cfg_new(schema, NSCHEMA, &cfg) == 0);
    bk_cfg_load_string(cfg, SRC, text, strlen(text));
    *rc = bk_cfg_finish(cfg);
    return cfg;
}

/* Same with the schema that has no required key. */
static bk_cfg *load_v(const char *text, int *rc)
{
    bk_cfg *cfg = NULL;
    CU_ASSERT_FATAL(bk_cfg_new(VSCHEMA, NVSCHEMA, &cfg) == 0);
    int lrc = bk_cfg_load_string(cfg, SRC, text, strlen(text));
    *rc = bk_cfg_finish(cfg);
    /* load and finish agree when there is nothing else */
    CU_ASSERT_EQUAL(lrc, *rc);
    return cfg;
}

static bool has_error(const bk_cfg *cfg, const char *msg)
{
    size_t kept = bk_cfg_nerrors(cfg) < 100 ? bk_cfg_nerrors(cfg) : 100;
    for (size_t i = 0; i < kept; i++)
        if (strcmp(bk_cfg_error(cfg, i), msg) == 0)
            return true;
    return false;
}

/* Asserts that `msg` is among the errors, printing them all if not. */
#define ASSERT_ERR(cfg, msg)                                                   \
    do {                                                                       \
        bool found_ = has_error((cfg), (msg));                                 \
        if (!found_)                                                           \
            fprintf(stderr, "\nexpected error: %s\ngot:\n%s", (msg),           \
                    bk_cfg_errors(cfg));                                       \
        CU_ASSERT(found_);                                                     \
    } while (0)

/* One line "key=value": accepted or rejected with the given message
 * (NULL: only check that it is rejected). */
static void expect_ok(const char *line)
{
    int rc;
    bk_cfg *cfg = load_v(line, &rc);
    if (rc != 0)
        fprintf(stderr, "\nunexpected errors for [%s]:\n%s", line,
                bk_cfg_errors(cfg));
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 0);
    bk_cfg_free(cfg);
}

static void expect_bad(const char *line, const char *msg)
{
    int rc;
    bk_cfg *cfg = load_v(line, &rc);
    CU_ASSERT_EQUAL(rc, -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 1);
    if (msg)
        ASSERT_ERR(cfg, msg);
    bk_cfg_free(cfg);
}

/* ------------------------------ tests ------------------------------ */

static void test_valid_file(void)
{
    const char *text = "# Brook broker configuration\n"
                       "! a comment in the other style\n"
                       "\n"
                       "   \t \n"
                       "broker.id=7\n"
                       "  zookeeper.connect = zk1:2181,zk2:2181/brook   \n"
                       "log.dirs: /data/a, /data/b ,/data/c\n"
                       "num.partitions 3\n"
                       "\tauto.create.topics.enable=FALSE\n"
                       "log.cleaner.min.cleanable.ratio=0.25\n"
                       "compression.type=zstd\n"
                       "cleanup.policy=compact, delete\n"
                       "log.retention.ms=-1\n"
                       "listeners=PLAINTEXT://:9092=x\n"
                       "    # indented comment\n"
                       "broker.rack=rack one"; /* no final newline */
    int rc;
    bk_cfg *cfg = load_full(text, &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(bk_cfg_errors(cfg), "");
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "broker.id"), 7);
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "zookeeper.connect"),
                           "zk1:2181,zk2:2181/brook");
    const char *const *items;
    CU_ASSERT_EQUAL_FATAL(bk_cfg_get_list(cfg, "log.dirs", &items), 3);
    CU_ASSERT_STRING_EQUAL(items[0], "/data/a");
    CU_ASSERT_STRING_EQUAL(items[1], "/data/b");
    CU_ASSERT_STRING_EQUAL(items[2], "/data/c");
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "num.partitions"), 3);
    CU_ASSERT_FALSE(bk_cfg_get_bool(cfg, "auto.create.topics.enable"));
    CU_ASSERT_DOUBLE_EQUAL(
        bk_cfg_get_double(cfg, "log.cleaner.min.cleanable.ratio"), 0.25, 0);
    CU_ASSERT_EQUAL(bk_cfg_get_enum(cfg, "compression.type"), 1);
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "compression.type"), "zstd");
    CU_ASSERT_EQUAL_FATAL(bk_cfg_get_list(cfg, "cleanup.policy", &items), 2);
    CU_ASSERT_STRING_EQUAL(items[0], "compact");
    CU_ASSERT_STRING_EQUAL(items[1], "delete");
    CU_ASSERT_EQUAL(bk_cfg_get_long(cfg, "log.retention.ms"), -1);
    /* only the first separator counts: the rest belongs to the value */
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "listeners"),
                           "PLAINTEXT://:9092=x");
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "broker.rack"), "rack one");

    /* defaults of keys the file does not name */
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "log.segment.bytes"), 1073741824);
    CU_ASSERT_EQUAL(bk_cfg_get_long(cfg, "offset.any"), 0);
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "ssl.key.password"), "");
    CU_ASSERT_TRUE(bk_cfg_is_set(cfg, "broker.id"));
    CU_ASSERT_TRUE(bk_cfg_is_set(cfg, "log.dirs"));
    CU_ASSERT_FALSE(bk_cfg_is_set(cfg, "log.segment.bytes"));
    bk_cfg_free(cfg);
}

static void test_defaults(void)
{
    bk_cfg *cfg = NULL;
    CU_ASSERT_FATAL(bk_cfg_new(VSCHEMA, NVSCHEMA, &cfg) == 0);
    CU_ASSERT_EQUAL(bk_cfg_finish(cfg), 0);
    const char *const *items;
    CU_ASSERT_EQUAL_FATAL(bk_cfg_get_list(cfg, "log.dirs", &items), 1);
    CU_ASSERT_STRING_EQUAL(items[0], "/tmp/brook-logs");
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "num.partitions"), 1);
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "log.segment.bytes"), 1073741824);
    CU_ASSERT_EQUAL(bk_cfg_get_long(cfg, "log.retention.ms"), 604800000);
    CU_ASSERT_TRUE(bk_cfg_get_bool(cfg, "auto.create.topics.enable"));
    CU_ASSERT_DOUBLE_EQUAL(
        bk_cfg_get_double(cfg, "log.cleaner.min.cleanable.ratio"), 0.5, 0);
    CU_ASSERT_EQUAL(bk_cfg_get_enum(cfg, "compression.type"), 5);
    CU_ASSERT_EQUAL_FATAL(bk_cfg_get_list(cfg, "cleanup.policy", &items), 1);
    CU_ASSERT_STRING_EQUAL(items[0], "delete");
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "broker.rack"), "");
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "num.partitions"), "1");
    CU_ASSERT_FALSE(bk_cfg_is_set(cfg, "num.partitions"));
    bk_cfg_free(cfg);
}

static void test_ranges(void)
{
    /* INT with an explicit range: both ends in, one beyond out */
    expect_ok("num.partitions=1");
    expect_ok("num.partitions=10000");
    expect_bad("num.partitions=0", SRC ":1: num.partitions: value '0' is "
                                       "below the minimum 1");
    expect_bad("num.partitions=10001",
               SRC ":1: num.partitions: value "
                   "'10001' is above the maximum 10000");
    expect_ok("log.segment.bytes=14");
    expect_bad("log.segment.bytes=13", NULL);
    /* max = INT32_MAX: the end of the type */
    expect_ok("log.segment.bytes=2147483647");
    expect_bad("log.segment.bytes=2147483648",
               SRC ":1: log.segment.bytes: value '2147483648' is out of "
                   "range for a 32-bit integer [-2147483648, 2147483647]");
    /* INT without a range: the whole 32-bit type */
    expect_ok("int.any=-2147483648");
    expect_ok("int.any=+2147483647");
    expect_bad("int.any=-2147483649", NULL);
    /* LONG */
    expect_ok("log.retention.ms=-1");
    expect_bad("log.retention.ms=-2", SRC ":1: log.retention.ms: value '-2' "
                                          "is below the minimum -1");
    expect_ok("log.retention.ms=9223372036854775807");
    expect_ok("offset.any=-9223372036854775808");
    expect_ok("offset.any=9223372036854775807");
    expect_bad("offset.any=9223372036854775808", NULL);
    expect_bad("offset.any=-9223372036854775809", NULL);
    /* DOUBLE */
    expect_ok("log.cleaner.min.cleanable.ratio=0");
    expect_ok("log.cleaner.min.cleanable.ratio=1.0");
    expect_ok("log.cleaner.min.cleanable.ratio=5e-1");
    expect_bad("log.cleaner.min.cleanable.ratio=1.0001",
               SRC ":1: log.cleaner.min.cleanable.ratio: value '1.0001' is "
                   "outside [0, 1]");
    expect_bad("log.cleaner.min.cleanable.ratio=-0.1", NULL);
    expect_bad("log.cleaner.min.cleanable.ratio=nan",
               SRC ":1: log.cleaner.min.cleanable.ratio: value 'nan' is not "
                   "a number");
    expect_bad("log.cleaner.min.cleanable.ratio=inf", NULL);
    expect_bad("log.cleaner.min.cleanable.ratio=0x1p-1", NULL);
    expect_bad("log.cleaner.min.cleanable.ratio=0.5.5", NULL);
    expect_bad("log.cleaner.min.cleanable.ratio=1e999", NULL);

    /* the stored values are the parsed ones */
    int rc;
    bk_cfg *cfg = load_v("offset.any=-9223372036854775808\n"
                         "int.any=-2147483648\n",
                         &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(bk_cfg_get_long(cfg, "offset.any"), INT64_MIN);
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "int.any"), INT32_MIN);
    bk_cfg_free(cfg);
}

static void test_not_numbers(void)
{
    expect_bad("log.segment.bytes=abc", SRC ":1: log.segment.bytes: value "
                                            "'abc' is not an integer");
    expect_bad("log.segment.bytes=12abc", NULL);
    expect_bad("log.segment.bytes=1.5", NULL);
    expect_bad("log.segment.bytes=1 000", NULL);
    expect_bad("log.segment.bytes=0x100", NULL);
    expect_bad("log.segment.bytes=-", NULL);
    expect_bad("log.segment.bytes=+", NULL);
    expect_bad("log.segment.bytes=--5", NULL);
    /* 20 digits: out of range, not "not a number" */
    expect_bad("offset.any=99999999999999999999",
               SRC ":1: offset.any: value '99999999999999999999' is out of "
                   "range for a 64-bit integer [-9223372036854775808, "
                   "9223372036854775807]");
    expect_bad("offset.any=99999999999999999999999999999999999999", NULL);
    /* leading zeros are still decimal */
    int rc;
    bk_cfg *cfg = load_v("num.partitions=010\n", &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "num.partitions"), 10);
    bk_cfg_free(cfg);
}

static void test_bools(void)
{
    expect_ok("auto.create.topics.enable=true");
    expect_ok("auto.create.topics.enable=True");
    expect_ok("auto.create.topics.enable=FALSE");
    expect_bad("auto.create.topics.enable=yes",
               SRC ":1: auto.create.topics.enable: value 'yes' is not a "
                   "boolean (true or false)");
    expect_bad("auto.create.topics.enable=1", NULL);
    expect_bad("auto.create.topics.enable=truex", NULL);
    expect_bad("auto.create.topics.enable=", NULL);
    int rc;
    bk_cfg *cfg = load_v("auto.create.topics.enable = tRuE \n", &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(bk_cfg_get_bool(cfg, "auto.create.topics.enable"));
    bk_cfg_free(cfg);
}

static void test_enums_and_lists(void)
{
    expect_ok("compression.type=lz4");
    expect_bad("compression.type=zip",
               SRC ":1: compression.type: value 'zip' is not one of: "
                   "uncompressed, zstd, lz4, snappy, gzip, producer");
    expect_bad("compression.type=LZ4", NULL); /* case-sensitive */
    expect_bad("compression.type=", NULL);
    expect_bad("cleanup.policy=delete,compcat",
               SRC ":1: cleanup.policy: list item 'compcat' is not one of: "
                   "delete, compact");
    expect_bad("cleanup.policy=delete,,compact",
               SRC ":1: cleanup.policy: item 2 of list 'delete,,compact' is "
                   "empty");
    expect_bad("cleanup.policy=delete,", NULL);
    expect_bad("cleanup.policy= , delete", NULL);

    int rc;
    const char *const *items;
    bk_cfg *cfg = load_v("compression.type=gzip\ncleanup.policy=\n", &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(bk_cfg_get_enum(cfg, "compression.type"), 4);
    CU_ASSERT_EQUAL(bk_cfg_get_list(cfg, "cleanup.policy", &items), 0);
    CU_ASSERT_PTR_NULL(items[0]);
    bk_cfg_free(cfg);
}

static void test_empty_values(void)
{
    /* "key=" and a bare "key" both give the empty string */
    int rc;
    bk_cfg *cfg = load_v("broker.rack=\nlisteners\n", &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(bk_cfg_is_set(cfg, "broker.rack"));
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "broker.rack"), "");
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "listeners"), "");
    bk_cfg_free(cfg);

    expect_bad("num.partitions=", SRC ":1: num.partitions: empty value (an "
                                      "integer needed)");
    expect_bad("num.partitions =   ", NULL);
    expect_bad("log.retention.ms", NULL);
    expect_bad("log.cleaner.min.cleanable.ratio=", NULL);
    expect_bad("log.dirs=", SRC ":1: log.dirs: empty list (at least one item "
                                "needed)");
    expect_bad("=5", SRC ":1: missing key before value '5'");
    expect_bad(": x", NULL);

    cfg = load_full("broker.id=1\nzookeeper.connect=\n", &rc);
    CU_ASSERT_EQUAL(rc, -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 1); /* not also "is not set" */
    ASSERT_ERR(cfg, SRC ":2: zookeeper.connect: empty value (a non-empty "
                        "string needed)");
    bk_cfg_free(cfg);
}

static void test_unknown_key(void)
{
    int rc;
    bk_cfg *cfg = load_full("# broker\n"
                            "broker.id=1\n"
                            "brokerid=2\n"
                            "zookeeper.connect=zk:2181\n"
                            "borker.id=3\n"
                            "Broker.ID=4\n"
                            "log_dirs=/x\n"
                            "foo.bar.baz=1\n"
                            "prt=1\n",
                            &rc);
    CU_ASSERT_EQUAL(rc, -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 6);
    ASSERT_ERR(cfg, SRC ":3: unknown key 'brokerid' (did you mean "
                        "'broker.id'?)");
    ASSERT_ERR(cfg, SRC ":5: unknown key 'borker.id' (did you mean "
                        "'broker.id'?)");
    ASSERT_ERR(cfg, SRC ":6: unknown key 'Broker.ID' (did you mean "
                        "'broker.id'?)");
    ASSERT_ERR(cfg, SRC ":7: unknown key 'log_dirs' (did you mean "
                        "'log.dirs'?)");
    ASSERT_ERR(cfg, SRC ":8: unknown key 'foo.bar.baz'");
    ASSERT_ERR(cfg, SRC ":9: unknown key 'prt'");
    /* the valid lines still count */
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "broker.id"), 1);
    bk_cfg_free(cfg);
}

static void test_duplicate_key(void)
{
    int rc;
    bk_cfg *cfg = load_v("num.partitions=2\n"
                         "log.dirs=/a\n"
                         "\n"
                         "num.partitions = 5\n"
                         "num.partitions=oops\n",
                         &rc);
    CU_ASSERT_EQUAL(rc, -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 2);
    ASSERT_ERR(cfg, SRC ":4: duplicate key 'num.partitions' (first set on "
                        "line 1)");
    ASSERT_ERR(cfg, SRC ":5: duplicate key 'num.partitions' (first set on "
                        "line 1)");
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "num.partitions"), 2);
    bk_cfg_free(cfg);

    /* across two loaded sources */
    CU_ASSERT_FATAL(bk_cfg_new(VSCHEMA, NVSCHEMA, &cfg) == 0);
    CU_ASSERT_EQUAL(
        bk_cfg_load_string(cfg, "a.properties", "num.partitions=2", 16), 0);
    CU_ASSERT_EQUAL(
        bk_cfg_load_string(cfg, "b.properties", "\nnum.partitions=3", 17),
        -BK_ECONFIG);
    ASSERT_ERR(cfg, "b.properties:2: duplicate key 'num.partitions' (first "
                    "set at a.properties:1)");
    bk_cfg_free(cfg);
}

static void test_missing_required(void)
{
    int rc;
    bk_cfg *cfg = load_full("broker.id=3\n", &rc);
    CU_ASSERT_EQUAL(rc, -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 1);
    ASSERT_ERR(cfg, SRC ": required key 'zookeeper.connect' is not set");
    /* getters still work; the missing one reads as empty */
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "broker.id"), 3);
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "zookeeper.connect"), "");
    /* finish is idempotent: no second round of messages */
    CU_ASSERT_EQUAL(bk_cfg_finish(cfg), -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 1);
    bk_cfg_free(cfg);

    /* nothing loaded at all: both keys, named with the command line */
    CU_ASSERT_FATAL(bk_cfg_new(schema, NSCHEMA, &cfg) == 0);
    CU_ASSERT_EQUAL(bk_cfg_finish(cfg), -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 2);
    ASSERT_ERR(cfg, "command line: required key 'broker.id' is not set");
    ASSERT_ERR(cfg, "command line: required key 'zookeeper.connect' is not "
                    "set");
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "broker.id"), 0);
    bk_cfg_free(cfg);

    /* a required key with a bad value gets one message, not two */
    cfg = load_full("broker.id=x\nzookeeper.connect=zk\n", &rc);
    CU_ASSERT_EQUAL(rc, -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 1);
    ASSERT_ERR(cfg, SRC ":1: broker.id: value 'x' is not an integer");
    bk_cfg_free(cfg);

    /* a required enum without a value reads as -1 */
    static const bk_cfg_def req_enum[] = {
        {.name = "mode", .type = BK_CFG_ENUM, .choices = "a|b"},
    };
    CU_ASSERT_FATAL(bk_cfg_new(req_enum, 1, &cfg) == 0);
    CU_ASSERT_EQUAL(bk_cfg_finish(cfg), -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_get_enum(cfg, "mode"), -1);
    bk_cfg_free(cfg);
}

static void test_crlf(void)
{
    int rc;
    bk_cfg *cfg = load_full("# windows\r\n"
                            "broker.id=5\r\n"
                            "zookeeper.connect=zk:2181\r\n"
                            "\r\n"
                            "broker.rack=r1\r\n"
                            "num.partitions=x\r\n"
                            "log.dirs=/a,\\\r\n"
                            "   /b\r\n"
                            "log.segment.bytes=abc\r" /* old Mac: lone CR */
                            "listeners=L\r",
                            &rc);
    CU_ASSERT_EQUAL(rc, -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 2);
    /* CRLF counts as one line end: the bad lines are 6 and 9 */
    ASSERT_ERR(cfg, SRC ":6: num.partitions: value 'x' is not an integer");
    ASSERT_ERR(cfg, SRC ":9: log.segment.bytes: value 'abc' is not an "
                        "integer");
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "broker.id"), 5);
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "zookeeper.connect"), "zk:2181");
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "broker.rack"), "r1");
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "listeners"), "L");
    const char *const *items;
    CU_ASSERT_EQUAL_FATAL(bk_cfg_get_list(cfg, "log.dirs", &items), 2);
    CU_ASSERT_STRING_EQUAL(items[1], "/b");
    bk_cfg_free(cfg);
}

static void test_continuation_and_escapes(void)
{
    int rc;
    bk_cfg *cfg = load_v("log.dirs=/a,\\\n"
                         "         /b,\\\n"
                         "   /c\n"
                         "# a comment ending in a backslash \\\n"
                         "broker.rack=r\\u00e9\\u20ac\\ud83d\\ude00\n"
                         "listeners=a\\=b\\:c\\\\d\\te\\ \n"
                         "\\u006eum.partitions=4\n"
                         "cleanup.policy = compact\\\n",
                         &rc);
    if (rc != 0)
        fprintf(stderr, "\n%s", bk_cfg_errors(cfg));
    CU_ASSERT_EQUAL(rc, 0);
    const char *const *items;
    CU_ASSERT_EQUAL_FATAL(bk_cfg_get_list(cfg, "log.dirs", &items), 3);
    CU_ASSERT_STRING_EQUAL(items[2], "/c");
    /* e-acute, euro sign and U+1F600 from a surrogate pair, in UTF-8 */
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "broker.rack"),
                           "r\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    /* escaped separators, backslash, tab; an escaped final blank stays */
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "listeners"), "a=b:c\\d\te ");
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "num.partitions"), 4);
    bk_cfg_free(cfg);
    /* an even number of final backslashes is an escaped backslash, not a
     * continuation: "zstd\" is not a codec */
    expect_bad("compression.type=zstd\\\\\nnum.partitions=2\n",
               SRC ":1: compression.type: value 'zstd\\' is not one of: "
                   "uncompressed, zstd, lz4, snappy, gzip, producer");

    /* a continued line reports the line where it starts; later lines keep
     * their physical numbers */
    cfg = load_v("log.dirs=/a,\\\n"
                 "  ,/b\n"
                 "num.partitions=0\n",
                 &rc);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 2);
    ASSERT_ERR(cfg, SRC ":1: log.dirs: item 2 of list '/a,,/b' is empty");
    ASSERT_ERR(cfg, SRC ":3: num.partitions: value '0' is below the minimum "
                        "1");
    bk_cfg_free(cfg);

    expect_bad("broker.rack=\\u00zz", SRC ":1: malformed \\uXXXX escape in "
                                          "the value");
    expect_bad("broker.rack=\\u12", NULL);
    expect_bad("broker.rack=\\ud83d", NULL); /* lone high surrogate */
    expect_bad("broker.rack=\\ude00", NULL); /* lone low surrogate */
    /* the low half must be a backslash-u escape too, not any escaped
     * letter */
    expect_bad("broker.rack=\\ud83d\\xde00", NULL);
    expect_bad("broker.rack=\\u0000", NULL); /* NUL cannot be in a string */
    expect_bad("bro\\uker.rack=1", SRC ":1: malformed \\uXXXX escape in the "
                                       "key");
}

static void test_separators(void)
{
    int rc;
    bk_cfg *cfg = load_v("num.partitions:2\n"
                         "log.segment.bytes   :   1000\n"
                         "broker.rack    r2\n"
                         "listeners = = x\n"
                         "log.retention.ms\t5\n"
                         "offset.any\f=\f6\n",
                         &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "num.partitions"), 2);
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "log.segment.bytes"), 1000);
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "broker.rack"), "r2");
    /* one separator is consumed, a second belongs to the value (Java) */
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "listeners"), "= x");
    CU_ASSERT_EQUAL(bk_cfg_get_long(cfg, "log.retention.ms"), 5);
    CU_ASSERT_EQUAL(bk_cfg_get_long(cfg, "offset.any"), 6);
    bk_cfg_free(cfg);
}

static void test_file_io(void)
{
    const char *dir = bk_test_subdir("config");
    char path[512];
    snprintf(path, sizeof path, "%s/broker.properties", dir);
    const char *text = "broker.id=9\nzookeeper.connect=zk:2181\n"
                       "num.partitions=eight\n";
    CU_ASSERT_FATAL(bk_file_write_atomic(path, text, strlen(text)) == 0);

    bk_cfg *cfg = NULL;
    CU_ASSERT_FATAL(bk_cfg_new(schema, NSCHEMA, &cfg) == 0);
    CU_ASSERT_EQUAL(bk_cfg_load_file(cfg, path), -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_finish(cfg), -BK_ECONFIG);
    char want[700];
    snprintf(want, sizeof want,
             "%s:3: num.partitions: value 'eight' is not an integer", path);
    ASSERT_ERR(cfg, want);
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "broker.id"), 9);
    bk_cfg_free(cfg);

    /* a missing file: one error naming the path; the required keys are
     * then reported against that path too */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/nope.properties", dir);
    CU_ASSERT_FATAL(bk_cfg_new(schema, NSCHEMA, &cfg) == 0);
    CU_ASSERT_EQUAL(bk_cfg_load_file(cfg, missing), -BK_ECONFIG);
    snprintf(want, sizeof want, "%s: cannot read config file: no such file",
             missing);
    ASSERT_ERR(cfg, want);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 1);
    CU_ASSERT_EQUAL(bk_cfg_finish(cfg), -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 3);
    snprintf(want, sizeof want, "%s: required key 'broker.id' is not set",
             missing);
    ASSERT_ERR(cfg, want);
    bk_cfg_free(cfg);

    /* a directory is not a config file */
    CU_ASSERT_FATAL(bk_cfg_new(VSCHEMA, NVSCHEMA, &cfg) == 0);
    CU_ASSERT_EQUAL(bk_cfg_load_file(cfg, dir), -BK_ECONFIG);
    snprintf(want, sizeof want, "%s: cannot read config file: Is a directory",
             dir);
    ASSERT_ERR(cfg, want);
    bk_cfg_free(cfg);

    /* a good file */
    text = "broker.id=9\nzookeeper.connect=zk:2181\n";
    CU_ASSERT_FATAL(bk_file_write_atomic(path, text, strlen(text)) == 0);
    CU_ASSERT_FATAL(bk_cfg_new(schema, NSCHEMA, &cfg) == 0);
    CU_ASSERT_EQUAL(bk_cfg_load_file(cfg, path), 0);
    CU_ASSERT_EQUAL(bk_cfg_finish(cfg), 0);
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "broker.id"), 9);
    bk_cfg_free(cfg);

    /* over the 1 MiB limit */
    size_t big = (1u << 20) + 1;
    char *junk = malloc(big);
    CU_ASSERT_FATAL(junk != NULL);
    memset(junk, '#', big);
    CU_ASSERT_FATAL(bk_file_write_atomic(path, junk, big) == 0);
    free(junk);
    CU_ASSERT_FATAL(bk_cfg_new(VSCHEMA, NVSCHEMA, &cfg) == 0);
    CU_ASSERT_EQUAL(bk_cfg_load_file(cfg, path), -BK_ECONFIG);
    snprintf(want, sizeof want, "%s: config file is larger than 1048576 bytes",
             path);
    ASSERT_ERR(cfg, want);
    bk_cfg_free(cfg);
}

static void test_many_errors(void)
{
    int rc;
    bk_cfg *cfg = load_full("broker.id=-1\n"
                            "# fine\n"
                            "num.partitions=abc\n"
                            "log.segment.bytes=99999999999\n"
                            "auto.create.topics.enable=maybe\n"
                            "log.dirs=/ok\n"
                            "no.such.key=1\n"
                            "log.dirs=/again\n"
                            "compression.type=rar\n",
                            &rc);
    CU_ASSERT_EQUAL(rc, -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 8);
    const char *want[] = {
        SRC ":1: broker.id: value '-1' is below the minimum 0",
        SRC ":3: num.partitions: value 'abc' is not an integer",
        SRC ":4: log.segment.bytes: value '99999999999' is out of range for "
            "a 32-bit integer [-2147483648, 2147483647]",
        SRC ":5: auto.create.topics.enable: value 'maybe' is not a boolean "
            "(true or false)",
        SRC ":7: unknown key 'no.such.key'",
        SRC ":8: duplicate key 'log.dirs' (first set on line 6)",
        SRC ":9: compression.type: value 'rar' is not one of: uncompressed, "
            "zstd, lz4, snappy, gzip, producer",
        SRC ": required key 'zookeeper.connect' is not set",
    };
    /* in file order, then the required keys; joined one per line */
    char joined[2048] = "";
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CU_ASSERT_STRING_EQUAL(bk_cfg_error(cfg, i), want[i]);
        strcat(joined, want[i]);
        strcat(joined, "\n");
    }
    CU_ASSERT_STRING_EQUAL(bk_cfg_errors(cfg), joined);
    /* bad values keep their defaults */
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "num.partitions"), 1);
    CU_ASSERT_EQUAL(bk_cfg_get_enum(cfg, "compression.type"), 5);
    bk_cfg_free(cfg);
}

static void test_error_cap(void)
{
    bk_cfg *cfg = NULL;
    CU_ASSERT_FATAL(bk_cfg_new(VSCHEMA, NVSCHEMA, &cfg) == 0);
    char text[150 * 16];
    size_t o = 0;
    for (int i = 0; i < 150; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "junk%d=1\n", i);
    CU_ASSERT_EQUAL(bk_cfg_load_string(cfg, SRC, text, o), -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 150);
    CU_ASSERT_STRING_EQUAL(bk_cfg_error(cfg, 99),
                           SRC ":100: unknown key 'junk99'");
    const char *all = bk_cfg_errors(cfg);
    const char *tail = "... and 50 more errors\n";
    CU_ASSERT(strlen(all) > strlen(tail) &&
              strcmp(all + strlen(all) - strlen(tail), tail) == 0);
    bk_cfg_free(cfg);
}

static void test_overrides(void)
{
    /* an override wins over the file, loaded before or after it */
    for (int before = 0; before <= 1; before++) {
        bk_cfg *cfg = NULL;
        CU_ASSERT_FATAL(bk_cfg_new(schema, NSCHEMA, &cfg) == 0);
        const char *text = "broker.id=1\nzookeeper.connect=zk\n"
                           "num.partitions=2\n";
        if (before)
            CU_ASSERT_EQUAL(bk_cfg_override(cfg, " num.partitions = 7 "), 0);
        CU_ASSERT_EQUAL(bk_cfg_load_string(cfg, SRC, text, strlen(text)), 0);
        if (!before)
            CU_ASSERT_EQUAL(bk_cfg_override(cfg, "num.partitions=7"), 0);
        CU_ASSERT_EQUAL(bk_cfg_override(cfg, "broker.rack=a=b"), 0);
        CU_ASSERT_EQUAL(bk_cfg_finish(cfg), 0);
        CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "num.partitions"), 7);
        CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "broker.rack"), "a=b");
        CU_ASSERT_TRUE(bk_cfg_is_set(cfg, "broker.rack"));
        bk_cfg_free(cfg);
    }

    /* a required key can come from the command line alone */
    bk_cfg *cfg = NULL;
    CU_ASSERT_FATAL(bk_cfg_new(schema, NSCHEMA, &cfg) == 0);
    CU_ASSERT_EQUAL(bk_cfg_override(cfg, "broker.id=4"), 0);
    CU_ASSERT_EQUAL(bk_cfg_override(cfg, "zookeeper.connect=zk:1"), 0);
    CU_ASSERT_EQUAL(bk_cfg_finish(cfg), 0);
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "broker.id"), 4);
    bk_cfg_free(cfg);

    /* the same validation, with "command line" as the place */
    CU_ASSERT_FATAL(bk_cfg_new(VSCHEMA, NVSCHEMA, &cfg) == 0);
    CU_ASSERT_EQUAL(bk_cfg_override(cfg, "num.partitions=0"), -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_override(cfg, "num.partition=3"), -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_override(cfg, "log.dirs"), -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_override(cfg, "broker.rack=x"), 0);
    CU_ASSERT_EQUAL(bk_cfg_override(cfg, "broker.rack=y"), -BK_ECONFIG);
    /* the file's value of an overridden key is still checked */
    const char *file = "broker.rack=z\nnum.partitions=x\n";
    CU_ASSERT_EQUAL(bk_cfg_load_string(cfg, SRC, file, strlen(file)),
                    -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_finish(cfg), -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 5);
    ASSERT_ERR(cfg, "command line: num.partitions: value '0' is below the "
                    "minimum 1");
    ASSERT_ERR(cfg, "command line: unknown key 'num.partition' (did you mean "
                    "'num.partitions'?)");
    ASSERT_ERR(cfg, "command line: override 'log.dirs' is not key=value");
    ASSERT_ERR(cfg, "command line: key 'broker.rack' is overridden twice");
    ASSERT_ERR(cfg, SRC ":2: num.partitions: value 'x' is not an integer");
    CU_ASSERT_STRING_EQUAL(bk_cfg_get_str(cfg, "broker.rack"), "x");
    bk_cfg_free(cfg);
}

static void test_schema_errors(void)
{
    static const bk_cfg_def bad[] = {
        {.name = "a", .type = BK_CFG_INT, .dflt = "ten"},
        {.name = "b", .type = BK_CFG_ENUM, .dflt = "x"},
        {.name = "a", .type = BK_CFG_STRING, .dflt = ""},
        {.name = "c", .type = BK_CFG_INT, .dflt = "5", .min = 10, .max = 1},
        {.name = "d",
         .type = BK_CFG_INT,
         .dflt = "0",
         .min = 0,
         .max = INT64_MAX},
        {.name = "e", .type = BK_CFG_LIST, .dflt = "x,y", .choices = "x|z"},
    };
    bk_cfg *cfg = NULL;
    CU_ASSERT_FATAL(bk_cfg_new(bad, 6, &cfg) == 0);
    CU_ASSERT_EQUAL(bk_cfg_finish(cfg), -BK_ECONFIG);
    ASSERT_ERR(cfg, "schema: a: default: value 'ten' is not an integer");
    ASSERT_ERR(cfg, "schema: b: an enum needs choices");
    ASSERT_ERR(cfg, "schema: key 'a' is declared twice");
    ASSERT_ERR(cfg, "schema: c: min 10 > max 1");
    ASSERT_ERR(cfg, "schema: d: range is wider than 32 bits");
    ASSERT_ERR(cfg, "schema: e: default: list item 'y' is not one of: x, z");
    bk_cfg_free(cfg);

    /* an empty schema is fine, and every key is then unknown */
    CU_ASSERT_FATAL(bk_cfg_new(NULL, 0, &cfg) == 0);
    CU_ASSERT_EQUAL(bk_cfg_load_string(cfg, SRC, "x=1", 3), -BK_ECONFIG);
    ASSERT_ERR(cfg, SRC ":1: unknown key 'x'");
    bk_cfg_free(cfg);
}

static void test_odd_bytes(void)
{
    /* a UTF-8 byte-order mark is skipped */
    int rc;
    bk_cfg *cfg = load_v("\xef\xbb\xbfnum.partitions=3\n", &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "num.partitions"), 3);
    bk_cfg_free(cfg);

    /* a NUL inside a line is an error for that line only */
    CU_ASSERT_FATAL(bk_cfg_new(VSCHEMA, NVSCHEMA, &cfg) == 0);
    static const char nul[] = "broker.rack=a\0b\nnum.partitions=2\n";
    CU_ASSERT_EQUAL(bk_cfg_load_string(cfg, SRC, nul, sizeof nul - 1),
                    -BK_ECONFIG);
    CU_ASSERT_EQUAL(bk_cfg_nerrors(cfg), 1);
    ASSERT_ERR(cfg, SRC ":1: line contains a NUL byte");
    CU_ASSERT_EQUAL(bk_cfg_get_int(cfg, "num.partitions"), 2);
    bk_cfg_free(cfg);

    /* control characters and long values are quoted safely */
    expect_bad("num.partitions=\x1b[31m", SRC ":1: num.partitions: value "
                                              "'\\x1b[31m' is not an integer");
    char line[300] = "num.partitions=";
    memset(line + strlen(line), '7', 100);
    line[115] = 'x';
    line[116] = '\0';
    cfg = load_v(line, &rc);
    CU_ASSERT_EQUAL(rc, -BK_ECONFIG);
    const char *e = bk_cfg_error(cfg, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "7777...' is not an integer"));
    CU_ASSERT(strlen(e) < 160);
    bk_cfg_free(cfg);

    /* empty input, and input with only comments */
    expect_ok("");
    expect_ok("\n\n# x\n! y\n   \n");
    expect_ok("# trailing comment without newline");
}

static void test_dump(void)
{
    int rc;
    bk_cfg *cfg = load_full("broker.id=2\nzookeeper.connect=zk\n"
                            "ssl.key.password=hunter2\n",
                            &rc);
    CU_ASSERT_EQUAL(rc, 0);
    bk_buf b = BK_BUF_INIT;
    bk_cfg_dump(cfg, &b);
    bk_buf_put_u8(&b, 0);
    const char *s = (const char *)b.data;
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "broker.id = 2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "num.partitions = 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "ssl.key.password = [hidden]\n"));
    CU_ASSERT_PTR_NULL(strstr(s, "hunter2"));
    CU_ASSERT_EQUAL(strncmp(s, "broker.id = 2\nzookeeper.connect = zk\n", 37),
                    0);
    bk_buf_free(&b);
    bk_cfg_free(cfg);
}

static void test_log_errors(void)
{
    int rc;
    bk_cfg *cfg = load_v("num.partitions=0\nbogus=1\n", &rc);
    CU_ASSERT_EQUAL(rc, -BK_ECONFIG);
    /* send stderr to a file for the duration of the call */
    char path[600];
    snprintf(path, sizeof path, "%s/stderr", bk_test_subdir("logerr"));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    bk_cfg_log_errors(cfg, "config");
    dup2(saved, STDERR_FILENO);
    close(saved);
    char *out = NULL;
    CU_ASSERT_FATAL(bk_file_read_all(path, 4096, &out, NULL) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "ERROR [config] " SRC ":1: "
                                       "num.partitions: value '0' is below "
                                       "the minimum 1\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out, "ERROR [config] " SRC ":2: unknown key 'bogus'\n"));
    free(out);
    bk_cfg_free(cfg);
}

void bk_test_register(void)
{
    static CU_TestInfo tests[] = {
        {"valid file, every type", test_valid_file},
        {"defaults", test_defaults},
        {"range boundaries", test_ranges},
        {"not numbers, overflow", test_not_numbers},
        {"booleans", test_bools},
        {"enums and lists", test_enums_and_lists},
        {"empty values", test_empty_values},
        {"unknown keys, did you mean", test_unknown_key},
        {"duplicate keys", test_duplicate_key},
        {"missing required keys", test_missing_required},
        {"CRLF and CR line ends", test_crlf},
        {"continuation lines, escapes", test_continuation_and_escapes},
        {"separators", test_separators},
        {"files", test_file_io},
        {"several errors in one file", test_many_errors},
        {"error cap", test_error_cap},
        {"command-line overrides", test_overrides},
        {"schema errors", test_schema_errors},
        {"odd bytes", test_odd_bytes},
        {"dump", test_dump},
        {"log errors", test_log_errors},
        CU_TEST_INFO_NULL,
    };
    bk_test_add_suite("config", tests);
}
