/*
 * json.c -- strict JSON parser (recursive descent into an arena-backed
 * tree) and compact writer.  See json.h for the contract.
 *
 * Parser design.  The input is walked once by a recursive-descent parser
 * whose recursion is bounded by the depth limit (64 by default), so a
 * hostile "[[[[..." cannot blow the C stack.  Nodes and decoded strings
 * are carved from an arena owned by the document; container children are
 * first pushed on one shared scratch stack and copied into an exactly
 * sized array of the arena when the container closes, so no container
 * ever reallocates and the scratch stack is the only growing buffer.
 */
#include "common/json.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/utf8.h"

/* ------------------------------ arena ------------------------------ */

typedef struct arena_blk {
    struct arena_blk *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
} arena_blk;

#define DOC_MAGIC       0x4a534f4eu /* "JSON" */
#define ARENA_MIN_BLOCK 4096

/* The document: the root node lives inside, so bk_json_free() finds the
 * arena from the root pointer. */
typedef struct json_doc {
    uint32_t magic;
    arena_blk *blocks;
    bk_json root;
} json_doc;

static void *arena_alloc(json_doc *d, size_t n)
{
    const size_t align = alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    if (n == 0)
        n = align;
    arena_blk *b = d->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_MIN_BLOCK ? n : ARENA_MIN_BLOCK;
        /* grow blocks geometrically so a big document needs few mallocs */
        if (b && b->cap * 2 > cap && b->cap < 1024 * 1024)
            cap = b->cap * 2;
        arena_blk *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->cap = cap;
        nb->used = 0;
        nb->next = d->blocks;
        d->blocks = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void bk_json_free(bk_json *root)
{
    if (!root)
        return;
    json_doc *d = (json_doc *)(void *)((char *)root - offsetof(json_doc, root));
    assert(d->magic == DOC_MAGIC); /* only roots from bk_json_parse() */
    arena_blk *b = d->blocks;
    while (b) {
        arena_blk *next = b->next;
        free(b);
        b = next;
    }
    d->magic = 0;
    free(d);
}

/* ------------------------------ parser ------------------------------ */

typedef struct parser {
    const uint8_t *p;
    size_t len, pos;
    int depth, max_depth;
    json_doc *d;
    bk_json **stack; /* scratch: children of the open containers */
    size_t sp, cap;
    char *err;
    size_t errlen;
} parser;

static int fail(parser *ps, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(parser *ps, int rc, const char *fmt, ...)
{
    if (ps->err && ps->errlen > 0) {
        int k = snprintf(ps->err, ps->errlen, "byte %zu: ", ps->pos);
        if (k >= 0 && (size_t)k < ps->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->err + k, ps->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return rc;
}

static int oom(parser *ps)
{
    return fail(ps, -BK_ENOMEM, "out of memory");
}

static void skip_ws(parser *ps)
{
    while (ps->pos < ps->len) {
        uint8_t c = ps->p[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        ps->pos++;
    }
}

static int push(parser *ps, bk_json *v)
{
    if (ps->sp == ps->cap) {
        size_t ncap = ps->cap ? ps->cap * 2 : 64;
        bk_json **ns = realloc(ps->stack, ncap * sizeof *ns);
        if (!ns)
            return oom(ps);
        ps->stack = ns;
        ps->cap = ncap;
    }
    ps->stack[ps->sp++] = v;
    return 0;
}

/* Reads 4 hex digits at ps->pos (after "\u"); -1 when malformed. */
static long read_hex4(parser *ps)
{
    long v = bk_hex4((const char *)ps->p + ps->pos, ps->len - ps->pos);
    if (v >= 0)
        ps->pos += 4;
    return v;
}

/* Length of the well-formed UTF-8 sequence at p[0..n), or 0 (RFC 3629:
 * no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return need;
}

/* Parses a string at ps->pos (which is at '"') into arena memory. */
static int parse_string(parser *ps, const char **out, size_t *outlen)
{
    assert(ps->p[ps->pos] == '"');
    size_t start = ps->pos + 1, i = start;
    /* find the closing quote first: the decoded text is never longer
     * than the raw text, so one allocation of the raw size suffices */
    while (i < ps->len && ps->p[i] != '"')
        i += ps->p[i] == '\\' ? 2 : 1;
    if (i >= ps->len)
        return fail(ps, -BK_EINVAL, "unterminated string");
    size_t end = i;
    char *o = arena_alloc(ps->d, end - start + 1);
    if (!o)
        return oom(ps);
    size_t n = 0;
    ps->pos = start;
    while (ps->pos < end) {
        uint8_t c = ps->p[ps->pos];
        if (c < 0x20)
            return fail(ps, -BK_EINVAL, "control character in string");
        if (c >= 0x80) {
            size_t k = utf8_seq(ps->p + ps->pos, end - ps->pos);
            if (k == 0)
                return fail(ps, -BK_EINVAL, "invalid UTF-8 in string");
            memcpy(o + n, ps->p + ps->pos, k);
            n += k;
            ps->pos += k;
            continue;
        }
        if (c != '\\') {
            o[n++] = (char)c;
            ps->pos++;
            continue;
        }
        ps->pos++; /* the backslash; end > pos because of the scan */
        uint8_t e = ps->p[ps->pos++];
        switch (e) {
        case '"':
        case '\\':
        case '/':
            o[n++] = (char)e;
            break;
        case 'b':
            o[n++] = '\b';
            break;
        case 'f':
            o[n++] = '\f';
            break;
        case 'n':
            o[n++] = '\n';
            break;
        case 'r':
            o[n++] = '\r';
            break;
        case 't':
            o[n++] = '\t';
            break;
        case 'u': {
            long cp = ps->pos + 4 <= end ? read_hex4(ps) : -1;
            if (cp < 0)
                return fail(ps, -BK_EINVAL, "bad \\u escape");
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return fail(ps, -BK_EINVAL, "lone low surrogate");
            if (cp >= 0xd800 && cp <= 0xdbff) {
                long lo = -1;
                if (ps->pos + 6 <= end && ps->p[ps->pos] == '\\' &&
                    ps->p[ps->pos + 1] == 'u') {
                    ps->pos += 2;
                    lo = read_hex4(ps);
                }
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail(ps, -BK_EINVAL, "lone high surrogate");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            n += bk_utf8_put(o + n, (uint32_t)cp);
            break;
        }
        default:
            ps->pos--;
            return fail(ps, -BK_EINVAL, "bad escape '\\%c'",
                        e >= 0x20 && e < 0x7f ? (char)e : '?');
        }
    }
    assert(n <= end - start);
    o[n] = '\0';
    ps->pos = end + 1;
    *out = o;
    *outlen = n;
    return 0;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static int parse_number(parser *ps, bk_json *v)
{
    size_t start = ps->pos;
    bool neg = false, integral = true;
    if (ps->p[ps->pos] == '-') {
        neg = true;
        ps->pos++;
    }
    if (ps->pos >= ps->len || !is_digit(ps->p[ps->pos]))
        return fail(ps, -BK_EINVAL, "expected a digit");
    if (ps->p[ps->pos] == '0') {
        ps->pos++;
        if (ps->pos < ps->len && is_digit(ps->p[ps->pos]))
            return fail(ps, -BK_EINVAL, "leading zero in number");
    } else {
        while (ps->pos < ps->len && is_digit(ps->p[ps->pos]))
            ps->pos++;
    }
    size_t int_end = ps->pos;
    if (ps->pos < ps->len && ps->p[ps->pos] == '.') {
        integral = false;
        ps->pos++;
        if (ps->pos >= ps->len || !is_digit(ps->p[ps->pos]))
            return fail(ps, -BK_EINVAL, "expected a digit after '.'");
        while (ps->pos < ps->len && is_digit(ps->p[ps->pos]))
            ps->pos++;
    }
    if (ps->pos < ps->len && (ps->p[ps->pos] | 0x20) == 'e') {
        integral = false;
        ps->pos++;
        if (ps->pos < ps->len &&
            (ps->p[ps->pos] == '+' || ps->p[ps->pos] == '-'))
            ps->pos++;
        if (ps->pos >= ps->len || !is_digit(ps->p[ps->pos]))
            return fail(ps, -BK_EINVAL, "expected a digit in exponent");
        while (ps->pos < ps->len && is_digit(ps->p[ps->pos]))
            ps->pos++;
    }
    if (integral) {
        /* magnitude up to 2^63 (the magnitude of INT64_MIN) */
        uint64_t m = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
        bool over = false;
        for (size_t i = start + neg; i < int_end; i++) {
            unsigned dgt = (unsigned)(ps->p[i] - '0');
            if (m > (lim - dgt) / 10) {
                over = true;
                break;
            }
            m = m * 10 + dgt;
        }
        if (!over) {
            v->type = BK_JSON_INT;
            v->u.i =
                neg ? (m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m)
                    : (int64_t)m;
            return 0;
        }
        /* too big for int64: falls through to a double, like Jackson's
         * BigInteger-or-double choice would for our purposes */
    }
    size_t tl = ps->pos - start;
    char small[64];
    char *tok = tl < sizeof small ? small : malloc(tl + 1);
    if (!tok)
        return oom(ps);
    memcpy(tok, ps->p + start, tl);
    tok[tl] = '\0';
    /* strtod follows LC_NUMERIC; Brook programs never call setlocale(),
     * so the decimal point is '.', which the grammar above has checked */
    double d = strtod(tok, NULL);
    if (tok != small)
        free(tok);
    if (!isfinite(d)) {
        ps->pos = start;
        return fail(ps, -BK_EINVAL, "number out of range");
    }
    v->type = BK_JSON_DOUBLE;
    v->u.d = d;
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    const bk_json *x = *(bk_json *const *)a, *y = *(bk_json *const *)b;
    size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->keylen < y->keylen ? -1 : x->keylen > y->keylen;
}

/* Rejects an object with two members of the same name.  Small objects
 * are checked pairwise; big ones (a partitions map of a large topic) by
 * sorting a copy, so the check stays O(n log n). */
static int check_dup_keys(parser *ps, bk_json **items, size_t n)
{
    const bk_json *dup = NULL;
    if (n <= 16) {
        for (size_t i = 0; i < n && !dup; i++)
            for (size_t j = i + 1; j < n && !dup; j++)
                if (key_cmp(&items[i], &items[j]) == 0)
                    dup = items[i];
    } else {
        bk_json **tmp = malloc(n * sizeof *tmp);
        if (!tmp)
            return oom(ps);
        memcpy(tmp, items, n * sizeof *tmp);
        qsort(tmp, n, sizeof *tmp, key_cmp);
        for (size_t i = 1; i < n && !dup; i++)
            if (key_cmp(&tmp[i - 1], &tmp[i]) == 0)
                dup = tmp[i];
        free(tmp);
    }
    if (dup)
        return fail(ps, -BK_EINVAL, "duplicate key \"%.*s\"",
                    (int)(dup->keylen > 64 ? 64 : dup->keylen), dup->key);
    return 0;
}

static int parse_value(parser *ps, bk_json *v);

/* Moves the children pushed since `base` into an arena array. */
static int close_container(parser *ps, bk_json *v, size_t base)
{
    size_t n = ps->sp - base;
    v->u.kids.n = n;
    v->u.kids.items = NULL;
    if (n) {
        v->u.kids.items = arena_alloc(ps->d, n * sizeof(bk_json *));
        if (!v->u.kids.items)
            return oom(ps);
        memcpy(v->u.kids.items, ps->stack + base, n * sizeof(bk_json *));
    }
    ps->sp = base;
    ps->depth--;
    if (v->type == BK_JSON_OBJECT)
        return check_dup_keys(ps, v->u.kids.items, n);
    return 0;
}

static int parse_container(parser *ps, bk_json *v, bool obj)
{
    if (++ps->depth > ps->max_depth)
        return fail(ps, -BK_ETOOBIG, "nesting deeper than %d", ps->max_depth);
    v->type = obj ? BK_JSON_OBJECT : BK_JSON_ARRAY;
    size_t base = ps->sp;
    const char close = obj ? '}' : ']';
    ps->pos++; /* '{' or '[' */
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == close) {
        ps->pos++;
        return close_container(ps, v, base);
    }
    for (;;) {
        bk_json *kid = arena_alloc(ps->d, sizeof *kid);
        if (!kid)
            return oom(ps);
        memset(kid, 0, sizeof *kid);
        if (obj) {
            if (ps->pos >= ps->len || ps->p[ps->pos] != '"')
                return fail(ps, -BK_EINVAL, "expected a string key");
            int rc = parse_string(ps, &kid->key, &kid->keylen);
            if (rc)
                return rc;
            skip_ws(ps);
            if (ps->pos >= ps->len || ps->p[ps->pos] != ':')
                return fail(ps, -BK_EINVAL, "expected ':' after key");
            ps->pos++;
            skip_ws(ps);
        }
        int rc = parse_value(ps, kid);
        if (rc)
            return rc;
        if ((rc = push(ps, kid)) != 0)
            return rc;
        skip_ws(ps);
        if (ps->pos >= ps->len)
            return fail(ps, -BK_EINVAL, "unterminated %s",
                        obj ? "object" : "array");
        uint8_t c = ps->p[ps->pos];
        if (c == close) {
            ps->pos++;
            return close_container(ps, v, base);
        }
        if (c != ',')
            return fail(ps, -BK_EINVAL, "expected ',' or '%c'", close);
        ps->pos++;
        skip_ws(ps);
    }
}

static int parse_literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n) != 0)
        return fail(ps, -BK_EINVAL, "invalid literal");
    ps->pos += n;
    return 0;
}

static int parse_value(parser *ps, bk_json *v)
{
    if (ps->pos >= ps->len)
        return fail(ps, -BK_EINVAL, "unexpected end of input");
    uint8_t c = ps->p[ps->pos];
    switch (c) {
    case '{':
        return parse_container(ps, v, true);
    case '[':
        return parse_container(ps, v, false);
    case '"':
        v->type = BK_JSON_STRING;
        return parse_string(ps, &v->u.str.s, &v->u.str.len);
    case 't':
        v->type = BK_JSON_BOOL;
        v->u.b = true;
        return parse_literal(ps, "true");
    case 'f':
        v->type = BK_JSON_BOOL;
        v->u.b = false;
        return parse_literal(ps, "false");
    case 'n':
        v->type = BK_JSON_NULL;
        return parse_literal(ps, "null");
    default:
        if (c == '-' || is_digit(c))
            return parse_number(ps, v);
        return fail(ps, -BK_EINVAL, "unexpected character 0x%02x", c);
    }
}

int bk_json_parse(const void *text, size_t len, const bk_json_limits *lim,
                  bk_json **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    size_t max_bytes =
        lim && lim->max_bytes ? lim->max_bytes : BK_JSON_DEFAULT_MAX_BYTES;
    int max_depth =
        lim && lim->max_depth > 0 ? lim->max_depth : BK_JSON_DEFAULT_MAX_DEPTH;
    parser ps = {
        .p = text,
        .len = len,
        .max_depth = max_depth,
        .err = err,
        .errlen = errlen,
    };
    if (len > max_bytes)
        return fail(&ps, -BK_ETOOBIG,
                    "document of %zu bytes over the limit "
                    "of %zu",
                    len, max_bytes);
    if (len > 0 && !text)
        return fail(&ps, -BK_EINVAL, "no text");
    json_doc *d = calloc(1, sizeof *d);
    if (!d)
        return oom(&ps);
    d->magic = DOC_MAGIC;
    ps.d = d;
    skip_ws(&ps);
    int rc;
    if (ps.pos >= ps.len)
        rc = fail(&ps, -BK_EINVAL, "empty document");
    else
        rc = parse_value(&ps, &d->root);
    if (rc == 0) {
        skip_ws(&ps);
        if (ps.pos != ps.len)
            rc = fail(&ps, -BK_EINVAL,
                      "trailing characters after the "
                      "document");
    }
    free(ps.stack);
    if (rc) {
        bk_json_free(&d->root);
        return rc;
    }
    *out = &d->root;
    return 0;
}

/* ------------------------------ reading ------------------------------ */

const bk_json *bk_json_get(const bk_json *v, const char *key)
{
    if (!bk_json_is(v, BK_JSON_OBJECT) || !key)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < v->u.kids.n; i++) {
        const bk_json *m = v->u.kids.items[i];
        if (m->keylen == kl && memcmp(m->key, key, kl) == 0)
            return m;
    }
    return NULL;
}

size_t bk_json_len(const bk_json *v)
{
    if (bk_json_is(v, BK_JSON_OBJECT) || bk_json_is(v, BK_JSON_ARRAY))
        return v->u.kids.n;
    return 0;
}

const bk_json *bk_json_at(const bk_json *v, size_t i)
{
    if (i >= bk_json_len(v))
        return NULL;
    return v->u.kids.items[i];
}

const char *bk_json_key(const bk_json *member)
{
    return member ? member->key : NULL;
}

int bk_json_int(const bk_json *v, int64_t *out)
{
    if (!bk_json_is(v, BK_JSON_INT))
        return -BK_EINVAL;
    *out = v->u.i;
    return 0;
}

int bk_json_int32(const bk_json *v, int32_t *out)
{
    if (!bk_json_is(v, BK_JSON_INT))
        return -BK_EINVAL;
    if (v->u.i < INT32_MIN || v->u.i > INT32_MAX)
        return -BK_ERANGE;
    *out = (int32_t)v->u.i;
    return 0;
}

int bk_json_num(const bk_json *v, double *out)
{
    if (bk_json_is(v, BK_JSON_INT)) {
        *out = (double)v->u.i;
        return 0;
    }
    if (bk_json_is(v, BK_JSON_DOUBLE)) {
        *out = v->u.d;
        return 0;
    }
    return -BK_EINVAL;
}

int bk_json_bool(const bk_json *v, bool *out)
{
    if (!bk_json_is(v, BK_JSON_BOOL))
        return -BK_EINVAL;
    *out = v->u.b;
    return 0;
}

const char *bk_json_str(const bk_json *v, size_t *len)
{
    if (!bk_json_is(v, BK_JSON_STRING))
        return NULL;
    if (len)
        *len = v->u.str.len;
    return v->u.str.s;
}

const char *bk_json_cstr(const bk_json *v)
{
    size_t n;
    const char *s = bk_json_str(v, &n);
    if (!s || memchr(s, '\0', n))
        return NULL;
    return s;
}

/* ------------------------------ writing ------------------------------ */

static inline uint64_t bit(int d)
{
    return (uint64_t)1 << d;
}

void bk_json_w_init(bk_json_w *w, bk_buf *b)
{
    memset(w, 0, sizeof *w);
    w->b = b;
}

/* Comma and state bookkeeping before any value. */
static void before_value(bk_json_w *w)
{
    if (w->depth == 0) {
        assert(!w->done); /* one root value per document */
        return;
    }
    int d = w->depth - 1;
    if (w->isobj & bit(d)) {
        assert(w->want_value); /* an object member needs its key first */
        w->want_value = false;
        return;
    }
    if (!(w->empty & bit(d)))
        bk_buf_put_u8(w->b, ',');
    w->empty &= ~bit(d);
}

static void after_value(bk_json_w *w)
{
    if (w->depth == 0)
        w->done = true;
}

static void put_str(bk_buf *b, const char *s)
{
    bk_buf_put(b, s, strlen(s));
}

static void write_string(bk_json_w *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)s;
    bk_buf_put_u8(w->b, '"');
    size_t i = 0, run = 0; /* run: bytes copied verbatim pending */
    while (i < len) {
        uint8_t c = p[i];
        size_t k = 1;
        const char *esc = NULL;
        char u[6];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20) {
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
        } else if (c >= 0x80) {
            k = utf8_seq(p + i, len - i);
            if (k == 0) {
                esc = "\xef\xbf\xbd"; /* U+FFFD for a byte that is not
                                         UTF-8 */
                w->bad = true;
                k = 1;
            }
        }
        if (!esc && c >= 0x20) {
            run += k;
            i += k;
            continue;
        }
        bk_buf_put(w->b, p + i - run, run);
        run = 0;
        if (esc)
            put_str(w->b, esc);
        else
            bk_buf_put(w->b, u, sizeof u);
        i += k;
    }
    bk_buf_put(w->b, p + i - run, run);
    bk_buf_put_u8(w->b, '"');
}

static void open_container(bk_json_w *w, bool obj)
{
    before_value(w);
    assert(w->depth < BK_JSON_W_MAX_DEPTH);
    int d = w->depth++;
    w->empty |= bit(d);
    if (obj)
        w->isobj |= bit(d);
    else
        w->isobj &= ~bit(d);
    bk_buf_put_u8(w->b, obj ? '{' : '[');
}

static void close_container_w(bk_json_w *w, bool obj)
{
    assert(w->depth > 0);
    assert(!!(w->isobj & bit(w->depth - 1)) == obj);
    assert(!w->want_value); /* a key without its value */
    w->depth--;
    bk_buf_put_u8(w->b, obj ? '}' : ']');
    after_value(w);
}

void bk_json_w_obj_begin(bk_json_w *w)
{
    open_container(w, true);
}

void bk_json_w_obj_end(bk_json_w *w)
{
    close_container_w(w, true);
}

void bk_json_w_arr_begin(bk_json_w *w)
{
    open_container(w, false);
}

void bk_json_w_arr_end(bk_json_w *w)
{
    close_container_w(w, false);
}

void bk_json_w_keyn(bk_json_w *w, const char *key, size_t len)
{
    assert(w->depth > 0 && (w->isobj & bit(w->depth - 1)));
    assert(!w->want_value);
    int d = w->depth - 1;
    if (!(w->empty & bit(d)))
        bk_buf_put_u8(w->b, ',');
    w->empty &= ~bit(d);
    write_string(w, key, len);
    bk_buf_put_u8(w->b, ':');
    w->want_value = true;
}

void bk_json_w_key(bk_json_w *w, const char *key)
{
    bk_json_w_keyn(w, key, strlen(key));
}

void bk_json_w_strn(bk_json_w *w, const char *s, size_t len)
{
    before_value(w);
    write_string(w, s, len);
    after_value(w);
}

void bk_json_w_str(bk_json_w *w, const char *s)
{
    bk_json_w_strn(w, s, strlen(s));
}

void bk_json_w_int(bk_json_w *w, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    before_value(w);
    bk_buf_put(w->b, tmp, (size_t)n);
    after_value(w);
}

void bk_json_w_double(bk_json_w *w, double v)
{
    if (!isfinite(v)) {
        w->bad = true;
        bk_json_w_null(w);
        return;
    }
    char tmp[40];
    int n = 0;
    /* the shortest of %.15g..%.17g that reads back exactly */
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* keep it a double when read back ("1" would parse as an INT) */
    if (!strpbrk(tmp, ".eE"))
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, ".0");
    before_value(w);
    bk_buf_put(w->b, tmp, (size_t)n);
    after_value(w);
}

void bk_json_w_bool(bk_json_w *w, bool v)
{
    before_value(w);
    put_str(w->b, v ? "true" : "false");
    after_value(w);
}

void bk_json_w_null(bk_json_w *w)
{
    before_value(w);
    put_str(w->b, "null");
    after_value(w);
}

void bk_json_w_value(bk_json_w *w, const bk_json *v)
{
    switch (bk_json_typeof(v)) {
    case BK_JSON_NULL:
        bk_json_w_null(w);
        break;
    case BK_JSON_BOOL:
        bk_json_w_bool(w, v->u.b);
        break;
    case BK_JSON_INT:
        bk_json_w_int(w, v->u.i);
        break;
    case BK_JSON_DOUBLE:
        bk_json_w_double(w, v->u.d);
        break;
    case BK_JSON_STRING:
        bk_json_w_strn(w, v->u.str.s, v->u.str.len);
        break;
    case BK_JSON_ARRAY:
        bk_json_w_arr_begin(w);
        for (size_t i = 0; i < v->u.kids.n; i++)
            bk_json_w_value(w, v->u.kids.items[i]);
        bk_json_w_arr_end(w);
        break;
    case BK_JSON_OBJECT:
        bk_json_w_obj_begin(w);
        for (size_t i = 0; i < v->u.kids.n; i++) {
            const bk_json *m = v->u.kids.items[i];
            bk_json_w_keyn(w, m->key, m->keylen);
            bk_json_w_value(w, m);
        }
        bk_json_w_obj_end(w);
        break;
    }
}

bool bk_json_w_ok(const bk_json_w *w)
{
    return !w->bad && w->depth == 0 && w->done && !w->want_value &&
           bk_buf_ok(w->b);
}
