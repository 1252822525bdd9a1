/*
 * json.h -- a small, strict JSON parser (into a read-only tree) and a
 * writer (into a bk_buf).
 *
 * Brook needs JSON for one thing: the payloads Kafka keeps in ZooKeeper
 * (DESIGN.md section 5), e.g. {"version":1,"partitions":{"0":[1,2,3]}}.
 * Those bytes are untrusted (any ZooKeeper client can write them), so the
 * parser is strict RFC 8259 and defensive:
 *   - a size limit (default 1 MiB, ZooKeeper's own jute.maxbuffer) and a
 *     nesting limit (default 64): over either -> -BK_ETOOBIG;
 *   - anything malformed -> -BK_EINVAL with a message naming the byte
 *     offset, never a crash: truncated input, trailing garbage, invalid
 *     UTF-8, unescaped control characters, lone surrogates, leading zeros,
 *     "1.", ".5", NaN/Infinity, single quotes, trailing commas, comments and
 *     duplicate object keys are all rejected (a duplicate "partitions" key
 *     would make an assignment ambiguous, so we refuse rather than guess);
 *   - numbers written without fraction or exponent that fit an int64 are
 *     BK_JSON_INT; every other number is BK_JSON_DOUBLE;
 *   - strings are decoded (escapes, \uXXXX and surrogate pairs -> UTF-8)
 *     and NUL-terminated; their length is kept too, because "\u0000" is a
 *     legal character (callers that want C strings check for it with
 *     bk_json_cstr()).
 *
 * Memory: one arena per parsed document (STYLE.md rule 8); every node and
 * string of the tree lives in it and bk_json_free(root) releases it all.
 * Nodes are read through the accessors below, which accept NULL and wrong
 * types (they answer NULL / an error), so a lookup chain like
 * bk_json_get(bk_json_get(root, "a"), "b") needs one check at the end.
 *
 * The writer appends compact JSON (no blanks, as Kafka's Jackson writes
 * it) to a bk_buf; it tracks commas and nesting itself.  Misuse (a value
 * where a key is needed, unbalanced ends) is a programming error and
 * asserted; invalid UTF-8 in a string is written as U+FFFD and makes
 * bk_json_w_ok() false.
 *
 * Not thread-safe; a tree or writer belongs to one thread at a time (a
 * finished tree is read-only and may be read by several threads).
 */
#ifndef BK_JSON_H
#define BK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef enum bk_json_type {
    BK_JSON_NULL = 0,
    BK_JSON_BOOL,
    BK_JSON_INT,    /* integral literal that fits int64_t */
    BK_JSON_DOUBLE, /* any other number (finite) */
    BK_JSON_STRING,
    BK_JSON_ARRAY,
    BK_JSON_OBJECT,
} bk_json_type;

/* A node of a parsed document.  Read it through the accessors; the fields
 * are visible only so that small inline loops are possible. */
typedef struct bk_json bk_json;
struct bk_json {
    bk_json_type type;
    const char *key; /* member name when the parent is an object, else NULL */
    size_t keylen;
    union {
        bool b;
        int64_t i;
        double d;
        struct {
            const char *s; /* NUL-terminated (may also contain NULs) */
            size_t len;
        } str;
        struct {
            bk_json **items; /* elements / members, in document order */
            size_t n;
        } kids;
    } u;
};

#define BK_JSON_DEFAULT_MAX_BYTES (1024 * 1024)
#define BK_JSON_DEFAULT_MAX_DEPTH 64

typedef struct bk_json_limits {
    size_t max_bytes; /* 0: BK_JSON_DEFAULT_MAX_BYTES */
    int max_depth;    /* 0: BK_JSON_DEFAULT_MAX_DEPTH (arrays+objects) */
} bk_json_limits;

/* Parses text[0..len) (no NUL needed).  lim may be NULL (defaults).
 * On success *out is the root; free it with bk_json_free().  On failure
 * *out is NULL and, if err is not NULL, err gets a message such as
 * "byte 17: expected ':' after object key".
 * Returns 0, -BK_EINVAL (malformed), -BK_ETOOBIG (size or depth limit),
 * -BK_ENOMEM. */
int bk_json_parse(const void *text, size_t len, const bk_json_limits *lim,
                  bk_json **out, char *err, size_t errlen);

/* Frees a whole document; root must be what bk_json_parse() returned
 * (NULL is fine). */
void bk_json_free(bk_json *root);

/* ------------------------------ reading ------------------------------ */
/* All accessors accept NULL. */
static inline bk_json_type bk_json_typeof(const bk_json *v)
{
    return v ? v->type : BK_JSON_NULL;
}
static inline bool bk_json_is(const bk_json *v, bk_json_type t)
{
    return v && v->type == t;
}
/* Member `key` of an object (the only one: duplicates are rejected), or
 * NULL when v is not an object or has no such member. */
const bk_json *bk_json_get(const bk_json *v, const char *key);
/* Number of elements of an array or members of an object; 0 otherwise. */
size_t bk_json_len(const bk_json *v);
/* Element i of an array / member i of an object (document order); NULL
 * when out of range or not a container. */
const bk_json *bk_json_at(const bk_json *v, size_t i);
/* The member name of an object member (NULL for others). */
const char *bk_json_key(const bk_json *member);

/* INT only (a double like 1.0 is not accepted).  0 or -BK_EINVAL. */
int bk_json_int(const bk_json *v, int64_t *out);
/* INT within int32: 0, -BK_EINVAL (not an INT), -BK_ERANGE. */
int bk_json_int32(const bk_json *v, int32_t *out);
/* INT or DOUBLE as a double.  0 or -BK_EINVAL. */
int bk_json_num(const bk_json *v, double *out);
int bk_json_bool(const bk_json *v, bool *out);
/* A string's bytes (NUL-terminated; *len may be NULL), or NULL when v is
 * not a string. */
const char *bk_json_str(const bk_json *v, size_t *len);
/* A string without embedded NULs (usable as a C string), else NULL. */
const char *bk_json_cstr(const bk_json *v);

/* ------------------------------ writing ------------------------------ */
#define BK_JSON_W_MAX_DEPTH 64

typedef struct bk_json_w {
    bk_buf *b;       /* not owned */
    int depth;       /* open containers */
    uint64_t empty;  /* bit d: the container at depth d has no element yet */
    uint64_t isobj;  /* bit d: the container at depth d is an object */
    bool want_value; /* a key was written; its value comes next */
    bool done;       /* the root value is complete */
    bool bad;        /* invalid UTF-8 or non-finite double was written */
} bk_json_w;

void bk_json_w_init(bk_json_w *w, bk_buf *b);
void bk_json_w_obj_begin(bk_json_w *w);
void bk_json_w_obj_end(bk_json_w *w);
void bk_json_w_arr_begin(bk_json_w *w);
void bk_json_w_arr_end(bk_json_w *w);
/* A member name inside an object (must be followed by one value). */
void bk_json_w_key(bk_json_w *w, const char *key);
void bk_json_w_keyn(bk_json_w *w, const char *key, size_t len);
void bk_json_w_str(bk_json_w *w, const char *s);
void bk_json_w_strn(bk_json_w *w, const char *s, size_t len);
void bk_json_w_int(bk_json_w *w, int64_t v);
/* Shortest text that reads back to the same double; NaN/inf -> null and
 * bad. */
void bk_json_w_double(bk_json_w *w, double v);
void bk_json_w_bool(bk_json_w *w, bool v);
void bk_json_w_null(bk_json_w *w);
/* Writes a parsed (sub)tree. */
void bk_json_w_value(bk_json_w *w, const bk_json *v);
/* True when the document is complete (all containers closed), nothing
 * invalid was written and the buffer did not run out of memory. */
bool bk_json_w_ok(const bk_json_w *w);

#endif
