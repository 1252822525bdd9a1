/*
 * config.h -- broker.properties: Kafka-style "key=value" files checked
 * against a schema (DESIGN.md section 11: every key validated at start with
 * a message naming the file, the line and the key).
 *
 * The caller declares its keys once, as a static array of bk_cfg_def (name,
 * type, default, range, doc).  A bk_cfg holds one value per key; it is
 * filled from files (bk_cfg_load_file), strings (bk_cfg_load_string, for
 * tests and generated configs) and command-line overrides
 * (bk_cfg_override, Kafka's `--override key=value`), then closed with
 * bk_cfg_finish(), after which the typed getters return each value or its
 * default.
 *
 * File syntax is java.util.Properties' (what Kafka reads):
 *   - "key=value", "key: value" and "key value" (the key ends at the first
 *     unescaped '=', ':' or blank; blanks around the separator are skipped);
 *   - lines whose first non-blank character is '#' or '!' are comments;
 *     blank lines are ignored; LF, CRLF and CR all end a line;
 *   - a line ending in an odd number of backslashes continues on the next
 *     line (whose leading blanks are dropped);
 *   - escapes \t \n \r \f \uXXXX, and a backslash before any other
 *     character stands for that character ("\=", "\:", "\\", "\ ").
 * Deliberate differences from Java: trailing blanks of a value are
 * trimmed (an escaped "\ " is kept), bytes are taken as UTF-8 rather than
 * ISO-8859-1, a leading UTF-8 byte-order mark is skipped, and a key set
 * twice is an error instead of "last one wins".
 *
 * Errors.  Nothing stops at the first error: every bad line is reported,
 * so an operator fixes a file in one pass.  Each message names its place:
 *   "broker.properties:12: log.segment.bytes: value 'abc' is not an integer"
 *   "broker.properties:3: unknown key 'brokerid' (did you mean 'broker.id'?)"
 *   "command line: num.partitions: value '0' is less than the minimum 1"
 * The module itself never logs: messages collect in the bk_cfg, read them
 * with bk_cfg_errors()/bk_cfg_error(), or log them all with
 * bk_cfg_log_errors() (one BK_ERROR line each).  A -BK_ECONFIG return from
 * this module means "the messages are in the bk_cfg", not "already logged".
 *
 * Value rules, by type (leading/trailing blanks never count):
 *   STRING  any text, "" allowed unless BK_CFG_NONEMPTY.
 *   INT     decimal 32-bit signed integer, optional sign; LONG: 64-bit.
 *   BOOL    "true" or "false", any case (as Kafka).
 *   DOUBLE  decimal floating point, finite (no hex, inf or nan).
 *   LIST    comma-separated items, each trimmed; "" is the empty list; an
 *           empty item ("a,,b", "a,") is an error.  With `choices`, every
 *           item must be one of them.
 *   ENUM    exactly one of `choices` (case-sensitive, as Kafka's ValidString).
 *
 * No global state; a bk_cfg belongs to one thread at a time (configs are
 * read at start-up, then only read).
 */
#ifndef BK_CONFIG_H
#define BK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef enum bk_cfg_type {
    BK_CFG_STRING,
    BK_CFG_INT,
    BK_CFG_LONG,
    BK_CFG_BOOL,
    BK_CFG_DOUBLE,
    BK_CFG_LIST,
    BK_CFG_ENUM,
} bk_cfg_type;

/* bk_cfg_def.flags */
#define BK_CFG_NONEMPTY 0x1 /* STRING/LIST: "" (empty list) is an error */
#define BK_CFG_SECRET   0x2 /* bk_cfg_dump() prints "[hidden]" */

/* One key of the schema.  Write it with designated initializers; fields
 * left out are zero:
 *   {.name = "num.partitions", .type = BK_CFG_INT, .dflt = "1",
 *    .min = 1, .max = 10000, .doc = "default partitions of a new topic"}
 */
typedef struct bk_cfg_def {
    const char *name; /* the key, e.g. "log.segment.bytes" */
    bk_cfg_type type;
    /* The default, written as it would be in the file and checked by the
     * same rules at bk_cfg_new().  NULL: the key is required. */
    const char *dflt;
    /* INT/LONG: inclusive range.  Both 0 means "any value of the type". */
    int64_t min, max;
    /* DOUBLE: inclusive range.  Both 0 means "any finite value". */
    double dmin, dmax;
    /* ENUM (and optionally LIST items): the allowed values separated by
     * '|', e.g. "none|gzip|snappy|lz4|zstd". */
    const char *choices;
    unsigned flags;  /* BK_CFG_NONEMPTY, BK_CFG_SECRET */
    const char *doc; /* one line for --help and generated docs */
} bk_cfg_def;

typedef struct bk_cfg bk_cfg;

/* Location name used for overrides in messages. */
#define BK_CFG_CMDLINE "command line"

/* Creates a config for the n keys of `defs`, each holding its default.
 * `defs` is not copied: it must outlive the bk_cfg (a static array).
 * A bad schema (duplicate name, default that fails its own rules, ENUM
 * without choices, INT range outside 32 bits) is recorded as an error
 * starting with "schema:" and makes bk_cfg_finish() fail, so a broken
 * table is caught by the first test that uses it.
 * Returns 0 or -BK_ENOMEM.  Free with bk_cfg_free(). */
int bk_cfg_new(const bk_cfg_def *defs, size_t n, bk_cfg **out);
void bk_cfg_free(bk_cfg *cfg);

/* Reads a properties file (at most 1 MiB) and applies every key.  A file
 * that cannot be read is one error naming the path and the reason.
 * Returns 0, -BK_ECONFIG when this call added an error, or -BK_ENOMEM. */
int bk_cfg_load_file(bk_cfg *cfg, const char *path);

/* Same, for text[0..len) named `srcname` in messages (e.g. "test"). */
int bk_cfg_load_string(bk_cfg *cfg, const char *srcname, const char *text,
                       size_t len);

/* Applies one "key=value" (split at the first '=', both sides trimmed, no
 * escapes: the shell has already quoted it) with location "command line".
 * An override wins over any file value, whether the file is loaded before
 * or after it; the file's value for that key is still validated.  The same
 * key overridden twice is an error.  Returns like bk_cfg_load_file(). */
int bk_cfg_override(bk_cfg *cfg, const char *kv);

/* Ends loading: reports every required key that no file or override set
 * ("broker.properties: required key 'zookeeper.connect' is not set").
 * Returns 0 when the config has no error at all (schema, files, overrides,
 * required keys), -BK_ECONFIG otherwise, -BK_ENOMEM if an allocation failed
 * along the way.  Call it once, after the last load. */
int bk_cfg_finish(bk_cfg *cfg);

/* Errors so far.  Messages are owned by cfg and live until bk_cfg_free().
 * At most 100 are kept; the rest are only counted (bk_cfg_errors() ends
 * with "... and N more errors"). */
size_t bk_cfg_nerrors(const bk_cfg *cfg); /* all, including dropped */
const char *bk_cfg_error(const bk_cfg *cfg, size_t i); /* i < kept */
/* All messages, one per line ('\n' after each); "" when none.  The string
 * is owned by cfg and valid until the next call that changes it. */
const char *bk_cfg_errors(bk_cfg *cfg);
/* Logs each message with BK_ERROR under `module`. */
void bk_cfg_log_errors(const bk_cfg *cfg, const char *module);

/* Typed getters.  `name` must be a key of the schema with the getter's
 * type (asserted: a mismatch is a programming error).  They return the
 * value that was set, else the default; a required key that was never set
 * reads as 0 / false / "" / no items; a key whose value failed its check
 * keeps its default. */
int32_t bk_cfg_get_int(const bk_cfg *cfg, const char *name);
int64_t bk_cfg_get_long(const bk_cfg *cfg, const char *name);
bool bk_cfg_get_bool(const bk_cfg *cfg, const char *name);
double bk_cfg_get_double(const bk_cfg *cfg, const char *name);
/* Any type: the value's text as written (trimmed, escapes resolved).
 * Owned by cfg. */
const char *bk_cfg_get_str(const bk_cfg *cfg, const char *name);
/* LIST: sets *items to the trimmed items (owned by cfg) and returns their
 * number. */
size_t bk_cfg_get_list(const bk_cfg *cfg, const char *name,
                       const char *const **items);
/* ENUM: the index of the value in `choices` (0 for the first), or -1
 * when a required key has no value. */
int bk_cfg_get_enum(const bk_cfg *cfg, const char *name);
/* True when a file or an override set the key (not the default). */
bool bk_cfg_is_set(const bk_cfg *cfg, const char *name);

/* Appends "name = value\n" for every key in schema order (the effective
 * configuration, as Kafka logs it at start-up); BK_CFG_SECRET values print
 * as "[hidden]". */
void bk_cfg_dump(const bk_cfg *cfg, bk_buf *out);

#endif
