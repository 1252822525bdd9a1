/*
 * config.c -- schema-checked properties files (see config.h).
 *
 * Loading works in two layers.  The line reader turns the bytes into
 * logical lines the way java.util.Properties does (comments, continuation
 * backslashes, the three separators, escapes), remembering the physical
 * line where each logical line starts, because that is the line an
 * operator's editor shows.  Then apply() looks the key up in the schema,
 * parses the value by its type and stores it.  Each failure becomes one
 * message and loading goes on with the next line: a broker that dies on the
 * first typo of a twenty-line mistake wastes nineteen restarts.
 *
 * Keys are looked up by a linear scan of the schema.  A broker has a few
 * hundred keys at most and reads them once at start-up, so a hash table
 * would buy nothing measurable.
 */
#include "common/config.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/logging.h"
#include "common/utf8.h"

#define MAX_FILE_SIZE   (1u << 20) /* a broker.properties is a few KiB */
#define MAX_KEPT_ERRORS 100        /* a binary file must not flood the log */
#define MAX_SHOWN       80         /* longest value quoted in a message */
#define MAX_SUGGEST_LEN 128        /* keys longer than this get no suggestion */
#define MSG_MAX         1024

/* A parsed value.  Which field holds it depends on the key's type. */
typedef struct cfg_value {
    int64_t i;     /* INT, LONG; ENUM: index into choices */
    double d;      /* DOUBLE */
    bool b;        /* BOOL */
    char **items;  /* LIST: nitems pointers, then the item text, one block */
    size_t nitems; /* LIST */
} cfg_value;

/* The state of one schema key. */
typedef struct cfg_slot {
    char *text;           /* value text (owned); NULL: required and unset */
    cfg_value val;        /* parsed from text */
    bool set;             /* a file or an override supplied a valid value */
    bool seen;            /* the key appeared at all (even with a bad value) */
    bool overridden;      /* the command line set it: files can't change it */
    const char *file_src; /* first file that named the key (for duplicates) */
    int file_line;
} cfg_slot;

struct bk_cfg {
    const bk_cfg_def *defs; /* the caller's schema (not owned) */
    size_t n;
    cfg_slot *slots; /* one per def, same order */
    char **srcs;     /* names of loaded sources (owned): messages point here */
    size_t nsrcs;
    char **errs;  /* kept messages (owned), at most MAX_KEPT_ERRORS */
    size_t nkept; /* messages in errs */
    size_t nerrs; /* all errors, including those not kept */
    char *joined; /* cache of bk_cfg_errors(), dropped when errors change */
    bool oom;
    bool finished;
    int finish_rc;
};

/* ------------------------------ messages ------------------------------ */

static void add_msg(bk_cfg *cfg, const char *msg)
{
    cfg->nerrs++;
    free(cfg->joined);
    cfg->joined = NULL;
    if (cfg->nkept >= MAX_KEPT_ERRORS)
        return;
    char *m = strdup(msg);
    if (!m) {
        cfg->oom = true;
        return;
    }
    cfg->errs[cfg->nkept++] = m;
}

/* Records "src:line: <fmt>" (or "src: <fmt>" when line is 0). */
__attribute__((format(printf, 4, 5))) static void
add_error(bk_cfg *cfg, const char *src, int line, const char *fmt, ...)
{
    char msg[MSG_MAX];
    int n = line > 0 ? snprintf(msg, sizeof msg, "%s:%d: ", src, line)
                     : snprintf(msg, sizeof msg, "%s: ", src);
    if (n < 0 || (size_t)n >= sizeof msg)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    add_msg(cfg, msg);
}

/* Writes s as a quoted, printable excerpt: 'abc'.  Control bytes become
 * \xNN so a stray CR or escape sequence cannot garble a terminal; long
 * values are cut with "...". */
static const char *quote(char *dst, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, shown = 0;
    assert(cap >= MAX_SHOWN * 4 + 8);
    dst[o++] = '\'';
    for (; *s && shown < MAX_SHOWN; s++, shown++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        } else {
            dst[o++] = (char)c;
        }
    }
    if (*s) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o++] = '\'';
    dst[o] = '\0';
    return dst;
}

#define QBUF (MAX_SHOWN * 4 + 8)

/* ------------------------------ schema ------------------------------ */

static int find_def(const bk_cfg *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->defs[i].name, name) == 0)
            return (int)i;
    return -1;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Optimal-string-alignment distance (Levenshtein plus adjacent
 * transpositions), ignoring case: "brokerid", "borker.id" and "Broker.Id"
 * are all one step from "broker.id".  Both lengths <= MAX_SUGGEST_LEN. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][MAX_SUGGEST_LEN + 1];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = lower(a[i - 1]) != lower(b[j - 1]);
            size_t v = prev[j - 1] + cost;
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1]) && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            cur[j] = v;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

/* The schema key closest to an unknown one, or NULL when none is close
 * enough to be a plausible typo. */
static const char *suggest(const bk_cfg *cfg, const char *key)
{
    size_t len = strlen(key);
    if (len > MAX_SUGGEST_LEN)
        return NULL;
    size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < cfg->n; i++) {
        const char *name = cfg->defs[i].name;
        if (strlen(name) > MAX_SUGGEST_LEN)
            continue;
        size_t d = edit_distance(key, name);
        if (d < best_d) {
            best_d = d;
            best = name;
        }
    }
    return best;
}

/* ------------------------------ values ------------------------------ */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

enum { NUM_OK, NUM_BAD, NUM_OVERFLOW };

/* Decimal integer with an optional sign, nothing else (Java's
 * Long.parseLong accepts the same). */
static int parse_i64(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!is_digit(*p))
        return NUM_BAD;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    bool over = false;
    for (; is_digit(*p); p++) {
        unsigned dg = (unsigned)(*p - '0');
        if (v > (lim - dg) / 10)
            over = true;
        else
            v = v * 10 + dg;
    }
    if (*p)
        return NUM_BAD; /* "12abc" is not a number, however long */
    if (over)
        return NUM_OVERFLOW;
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v)
               : (int64_t)v;
    return NUM_OK;
}

/* Index of s in a '|'-separated choice list, or -1. */
static int find_choice(const char *choices, const char *s)
{
    size_t len = strlen(s);
    int idx = 0;
    for (const char *c = choices; c;) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == len && memcmp(c, s, n) == 0)
            return idx;
        c = bar ? bar + 1 : NULL;
        idx++;
    }
    return -1;
}

/* "a|b|c" -> "a, b, c" for messages. */
static const char *choice_list(char *dst, size_t cap, const char *choices)
{
    size_t o = 0;
    for (const char *c = choices; *c && o + 3 < cap; c++) {
        if (*c == '|') {
            dst[o++] = ',';
            dst[o++] = ' ';
        } else {
            dst[o++] = *c;
        }
    }
    dst[o] = '\0';
    return dst;
}

static void value_free(cfg_value *v)
{
    free(v->items);
    memset(v, 0, sizeof *v);
}

/* Splits a LIST value into trimmed items, checking each. */
static int parse_list(const bk_cfg_def *d, const char *text, cfg_value *out,
                      char *why, size_t whycap)
{
    char q[QBUF], cl[512];
    if (*text == '\0') {
        if (d->flags & BK_CFG_NONEMPTY) {
            snprintf(why, whycap, "empty list (at least one item needed)");
            return -BK_EINVAL;
        }
        return 0;
    }
    size_t n = 1, tlen = strlen(text);
    for (const char *p = text; *p; p++)
        n += *p == ',';
    char **items = malloc(n * sizeof *items + tlen + 1);
    if (!items)
        return -BK_ENOMEM;
    char *copy = (char *)(items + n);
    memcpy(copy, text, tlen + 1);
    char *p = copy;
    for (size_t i = 0; i < n; i++) {
        char *comma = strchr(p, ',');
        char *end = comma ? comma : p + strlen(p);
        char *next = comma ? comma + 1 : end;
        while (p < end && is_blank(*p))
            p++;
        while (end > p && is_blank(end[-1]))
            end--;
        *end = '\0';
        if (*p == '\0') {
            snprintf(why, whycap, "item %zu of list %s is empty", i + 1,
                     quote(q, sizeof q, text));
            free(items);
            return -BK_EINVAL;
        }
        if (d->choices && find_choice(d->choices, p) < 0) {
            snprintf(why, whycap, "list item %s is not one of: %s",
                     quote(q, sizeof q, p),
                     choice_list(cl, sizeof cl, d->choices));
            free(items);
            return -BK_EINVAL;
        }
        items[i] = p;
        p = next;
    }
    out->items = items;
    out->nitems = n;
    return 0;
}

/* Parses text by d's type into *out.  On a bad value returns -BK_EINVAL
 * with the reason in why ("value 'x' is not an integer"). */
static int parse_value(const bk_cfg_def *d, const char *text, cfg_value *out,
                       char *why, size_t whycap)
{
    char q[QBUF], cl[512];
    memset(out, 0, sizeof *out);
    bool bounded = d->min != 0 || d->max != 0;
    switch (d->type) {
    case BK_CFG_STRING:
        if (*text == '\0' && (d->flags & BK_CFG_NONEMPTY)) {
            snprintf(why, whycap, "empty value (a non-empty string needed)");
            return -BK_EINVAL;
        }
        return 0;
    case BK_CFG_INT:
    case BK_CFG_LONG: {
        bool is_int = d->type == BK_CFG_INT;
        int64_t v;
        if (*text == '\0') {
            snprintf(why, whycap, "empty value (an integer needed)");
            return -BK_EINVAL;
        }
        int rc = parse_i64(text, &v);
        if (rc == NUM_OK && is_int && (v < INT32_MIN || v > INT32_MAX))
            rc = NUM_OVERFLOW;
        if (rc == NUM_BAD) {
            snprintf(why, whycap, "value %s is not an integer",
                     quote(q, sizeof q, text));
            return -BK_EINVAL;
        }
        if (rc == NUM_OVERFLOW) {
            snprintf(why, whycap,
                     "value %s is out of range for a %s integer "
                     "[%" PRId64 ", %" PRId64 "]",
                     quote(q, sizeof q, text), is_int ? "32-bit" : "64-bit",
                     is_int ? (int64_t)INT32_MIN : INT64_MIN,
                     is_int ? (int64_t)INT32_MAX : INT64_MAX);
            return -BK_EINVAL;
        }
        if (bounded && v < d->min) {
            snprintf(why, whycap, "value %s is below the minimum %" PRId64,
                     quote(q, sizeof q, text), d->min);
            return -BK_EINVAL;
        }
        if (bounded && v > d->max) {
            snprintf(why, whycap, "value %s is above the maximum %" PRId64,
                     quote(q, sizeof q, text), d->max);
            return -BK_EINVAL;
        }
        out->i = v;
        return 0;
    }
    case BK_CFG_BOOL:
        if (strcasecmp(text, "true") == 0) {
            out->b = true;
            return 0;
        }
        if (strcasecmp(text, "false") == 0) {
            out->b = false;
            return 0;
        }
        snprintf(why, whycap, "value %s is not a boolean (true or false)",
                 quote(q, sizeof q, text));
        return -BK_EINVAL;
    case BK_CFG_DOUBLE: {
        /* strtod alone would also take "inf", "nan" and hex floats */
        bool ok =
            *text != '\0' && strspn(text, "0123456789+-.eE") == strlen(text);
        char *end = NULL;
        errno = 0;
        double v = ok ? strtod(text, &end) : 0;
        if (!ok || *end != '\0') {
            snprintf(why, whycap, "value %s is not a number",
                     quote(q, sizeof q, text));
            return -BK_EINVAL;
        }
        if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1)) {
            snprintf(why, whycap, "value %s is out of range for a double",
                     quote(q, sizeof q, text));
            return -BK_EINVAL;
        }
        bool dbounded = d->dmin != 0 || d->dmax != 0;
        if (dbounded && (v < d->dmin || v > d->dmax)) {
            snprintf(why, whycap, "value %s is outside [%g, %g]",
                     quote(q, sizeof q, text), d->dmin, d->dmax);
            return -BK_EINVAL;
        }
        out->d = v;
        return 0;
    }
    case BK_CFG_LIST:
        return parse_list(d, text, out, why, whycap);
    case BK_CFG_ENUM: {
        int idx = d->choices ? find_choice(d->choices, text) : -1;
        if (idx < 0) {
            snprintf(why, whycap, "value %s is not one of: %s",
                     quote(q, sizeof q, text),
                     choice_list(cl, sizeof cl, d->choices ? d->choices : ""));
            return -BK_EINVAL;
        }
        out->i = idx;
        return 0;
    }
    }
    snprintf(why, whycap, "unknown type %d in the schema", (int)d->type);
    return -BK_EINVAL;
}

/* Checks one schema entry; problems become "schema:" errors. */
static void check_def(bk_cfg *cfg, size_t i)
{
    const bk_cfg_def *d = &cfg->defs[i];
    const char *name = d->name;
    for (size_t j = 0; j < i; j++)
        if (strcmp(cfg->defs[j].name, name) == 0)
            add_error(cfg, "schema", 0, "key '%s' is declared twice", name);
    if (d->type == BK_CFG_ENUM && (!d->choices || !*d->choices))
        add_error(cfg, "schema", 0, "%s: an enum needs choices", name);
    if (d->min > d->max)
        add_error(cfg, "schema", 0, "%s: min %" PRId64 " > max %" PRId64, name,
                  d->min, d->max);
    if (d->type == BK_CFG_INT && (d->min < INT32_MIN || d->max > INT32_MAX))
        add_error(cfg, "schema", 0, "%s: range is wider than 32 bits", name);
    if (d->dmin > d->dmax)
        add_error(cfg, "schema", 0, "%s: dmin %g > dmax %g", name, d->dmin,
                  d->dmax);
}

/* ------------------------------ create ------------------------------ */

int bk_cfg_new(const bk_cfg_def *defs, size_t n, bk_cfg **out)
{
    bk_cfg *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return -BK_ENOMEM;
    cfg->defs = defs;
    cfg->n = n;
    cfg->slots = calloc(n ? n : 1, sizeof *cfg->slots);
    cfg->errs = calloc(MAX_KEPT_ERRORS, sizeof *cfg->errs);
    if (!cfg->slots || !cfg->errs) {
        bk_cfg_free(cfg);
        return -BK_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const bk_cfg_def *d = &defs[i];
        if (!d->name || !*d->name) {
            /* later lookups strcmp every name: keep it valid */
            add_error(cfg, "schema", 0, "entry %zu has no name", i);
            cfg->n = i;
            break;
        }
        check_def(cfg, i);
        if (!d->dflt)
            continue; /* required: text stays NULL until a value arrives */
        char why[MSG_MAX];
        int rc = parse_value(d, d->dflt, &cfg->slots[i].val, why, sizeof why);
        if (rc == -BK_ENOMEM) {
            bk_cfg_free(cfg);
            return rc;
        }
        if (rc != 0) {
            add_error(cfg, "schema", 0, "%s: default: %s", d->name, why);
            continue;
        }
        cfg->slots[i].text = strdup(d->dflt);
        if (!cfg->slots[i].text) {
            bk_cfg_free(cfg);
            return -BK_ENOMEM;
        }
    }
    *out = cfg;
    return 0;
}

void bk_cfg_free(bk_cfg *cfg)
{
    if (!cfg)
        return;
    if (cfg->slots) {
        for (size_t i = 0; i < cfg->n; i++) {
            free(cfg->slots[i].text);
            value_free(&cfg->slots[i].val);
        }
    }
    free(cfg->slots);
    for (size_t i = 0; i < cfg->nsrcs; i++)
        free(cfg->srcs[i]);
    free(cfg->srcs);
    for (size_t i = 0; i < cfg->nkept; i++)
        free(cfg->errs[i]);
    free(cfg->errs);
    free(cfg->joined);
    free(cfg);
}

/* Keeps a copy of a source name for the life of cfg (slots point to it). */
static const char *intern_src(bk_cfg *cfg, const char *name)
{
    char **s = realloc(cfg->srcs, (cfg->nsrcs + 1) * sizeof *s);
    if (!s)
        return NULL;
    cfg->srcs = s;
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    cfg->srcs[cfg->nsrcs++] = copy;
    return copy;
}

/* ------------------------------ apply ------------------------------ */

/* Validates key=value from src:line and stores it.  `src` must live as
 * long as cfg (interned, or the BK_CFG_CMDLINE literal). */
static void apply(bk_cfg *cfg, const char *src, int line, const char *key,
                  const char *value, bool is_override)
{
    char q[QBUF];
    if (*key == '\0') {
        add_error(cfg, src, line, "missing key before value %s",
                  quote(q, sizeof q, value));
        return;
    }
    int idx = find_def(cfg, key);
    if (idx < 0) {
        const char *s = suggest(cfg, key);
        if (s)
            add_error(cfg, src, line, "unknown key %s (did you mean '%s'?)",
                      quote(q, sizeof q, key), s);
        else
            add_error(cfg, src, line, "unknown key %s",
                      quote(q, sizeof q, key));
        return;
    }
    const bk_cfg_def *d = &cfg->defs[idx];
    cfg_slot *slot = &cfg->slots[idx];
    if (is_override) {
        if (slot->overridden) {
            add_error(cfg, src, line, "key '%s' is overridden twice", d->name);
            return;
        }
    } else if (slot->file_src) {
        if (slot->file_src == src)
            add_error(cfg, src, line,
                      "duplicate key '%s' (first set on line %d)", d->name,
                      slot->file_line);
        else
            add_error(cfg, src, line, "duplicate key '%s' (first set at %s:%d)",
                      d->name, slot->file_src, slot->file_line);
        return;
    } else {
        slot->file_src = src;
        slot->file_line = line;
    }
    slot->seen = true;

    char why[MSG_MAX];
    cfg_value v;
    int rc = parse_value(d, value, &v, why, sizeof why);
    if (rc == -BK_ENOMEM) {
        cfg->oom = true;
        return;
    }
    if (rc != 0) {
        add_error(cfg, src, line, "%s: %s", d->name, why);
        return;
    }
    if (!is_override && slot->overridden) {
        value_free(&v); /* checked, but the command line wins */
        return;
    }
    char *text = strdup(value);
    if (!text) {
        value_free(&v);
        cfg->oom = true;
        return;
    }
    free(slot->text);
    value_free(&slot->val);
    slot->text = text;
    slot->val = v;
    slot->set = true;
    if (is_override)
        slot->overridden = true;
}

/* --------------------------- properties syntax --------------------------- */

/* Finds the next physical line at *pos; LF, CRLF and CR end a line. */
static void next_line(const char *t, size_t len, size_t *pos, const char **s,
                      size_t *n)
{
    size_t i = *pos;
    while (i < len && t[i] != '\n' && t[i] != '\r')
        i++;
    *s = t + *pos;
    *n = i - *pos;
    if (i < len && t[i] == '\r' && i + 1 < len && t[i + 1] == '\n')
        i++;
    *pos = i < len ? i + 1 : len;
}

static void skip_blanks(const char **s, size_t *n)
{
    while (*n > 0 && is_blank(**s)) {
        (*s)++;
        (*n)--;
    }
}

/* True when p[0..n) ends in an odd number of backslashes: the last one
 * escapes the line end, so the logical line continues. */
static bool continues(const char *p, size_t n)
{
    size_t k = 0;
    while (k < n && p[n - 1 - k] == '\\')
        k++;
    return k % 2 == 1;
}

/* Reads the 4 hex digits of a \uXXXX escape at s (pointing at the 'u');
 * -1 when malformed. */
static long read_u4(const char *s, const char *end)
{
    if (end - s < 5)
        return -1;
    return bk_hex4(s + 1, 4);
}

/* Resolves Properties escapes of s[0..n) into a malloc'd string (never
 * longer than the input).  NULL with *bad set on a malformed \u escape,
 * NULL with *bad clear when out of memory. */
static char *unescape(const char *s, size_t n, bool *bad)
{
    const char *end = s + n;
    char *out = malloc(n + 1), *o = out;
    *bad = false;
    if (!out)
        return NULL;
    while (s < end) {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        if (++s == end)
            break; /* a lone final backslash stands for nothing */
        char c = *s;
        if (c != 'u') {
            *o++ = c == 't'   ? '\t'
                   : c == 'n' ? '\n'
                   : c == 'r' ? '\r'
                   : c == 'f' ? '\f'
                              : c;
            s++;
            continue;
        }
        long cp = read_u4(s, end);
        s += 5;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            /* a UTF-16 surrogate pair, as Java writes characters above
             * U+FFFF */
            long lo = end - s >= 6 && s[0] == '\\' && s[1] == 'u'
                          ? read_u4(s + 1, end)
                          : -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                cp = -1;
            else {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                s += 6;
            }
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            cp = -1;
        }
        if (cp <= 0) { /* malformed, lone surrogate, or \u0000 */
            free(out);
            *bad = true;
            return NULL;
        }
        o += bk_utf8_put(o, (uint32_t)cp);
    }
    *o = '\0';
    return out;
}

/* Splits one logical line (continuations joined, escapes unresolved) into
 * key and value the way Properties.load does, and applies it. */
static void parse_line(bk_cfg *cfg, const char *src, int line, const char *s,
                       size_t n)
{
    size_t i = 0;
    while (i < n && s[i] != '=' && s[i] != ':' && !is_blank(s[i]))
        i += s[i] == '\\' ? 2 : 1;
    if (i > n)
        i = n;
    size_t klen = i;
    /* blanks, at most one '=' or ':', blanks */
    while (i < n && is_blank(s[i]))
        i++;
    if (i < n && (s[i] == '=' || s[i] == ':')) {
        i++;
        while (i < n && is_blank(s[i]))
            i++;
    }
    /* trailing blanks go, unless escaped ("\ ") */
    size_t vend = n;
    while (vend > i && is_blank(s[vend - 1])) {
        size_t k = 0;
        while (vend - 1 - k > i && s[vend - 2 - k] == '\\')
            k++;
        if (k % 2 == 1)
            break;
        vend--;
    }
    bool bad_key, bad_val;
    char *key = unescape(s, klen, &bad_key);
    char *val = unescape(s + i, vend - i, &bad_val);
    if (bad_key || bad_val)
        add_error(cfg, src, line, "malformed \\uXXXX escape in the %s",
                  bad_key ? "key" : "value");
    else if (!key || !val)
        cfg->oom = true;
    else
        apply(cfg, src, line, key, val, false);
    free(key);
    free(val);
}

/* Reads text[0..len) as properties; src is interned. */
static int load_text(bk_cfg *cfg, const char *src, const char *text, size_t len)
{
    size_t before = cfg->nerrs;
    size_t pos = 0;
    int lineno = 0;
    bk_buf logical = BK_BUF_INIT;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        pos = 3; /* UTF-8 byte-order mark from a Windows editor */
    while (pos < len) {
        const char *s;
        size_t n;
        next_line(text, len, &pos, &s, &n);
        int start = ++lineno;
        skip_blanks(&s, &n);
        if (n == 0 || s[0] == '#' || s[0] == '!')
            continue; /* comments never continue, as in Java */
        bk_buf_reset(&logical);
        bool nul = false;
        for (;;) {
            bool more = continues(s, n);
            nul |= memchr(s, '\0', n) != NULL;
            bk_buf_put(&logical, s, more ? n - 1 : n);
            if (!more || pos >= len)
                break;
            next_line(text, len, &pos, &s, &n);
            lineno++;
            skip_blanks(&s, &n);
        }
        if (!bk_buf_ok(&logical)) {
            cfg->oom = true;
            break;
        }
        if (nul) {
            add_error(cfg, src, start, "line contains a NUL byte");
            continue;
        }
        parse_line(cfg, src, start, (const char *)logical.data, logical.len);
    }
    bk_buf_free(&logical);
    if (cfg->oom)
        return -BK_ENOMEM;
    return cfg->nerrs > before ? -BK_ECONFIG : 0;
}

int bk_cfg_load_string(bk_cfg *cfg, const char *srcname, const char *text,
                       size_t len)
{
    const char *src = intern_src(cfg, srcname);
    return src ? load_text(cfg, src, text, len) : -BK_ENOMEM;
}

int bk_cfg_load_file(bk_cfg *cfg, const char *path)
{
    char *text;
    size_t len;
    /* interned first, so that even a missing file is where bk_cfg_finish()
     * says the required keys belong */
    const char *src = intern_src(cfg, path);
    if (!src)
        return -BK_ENOMEM;
    int rc = bk_file_read_all(path, MAX_FILE_SIZE, &text, &len);
    int e = errno;
    if (rc == -BK_ENOMEM)
        return rc;
    if (rc == -BK_ENOENT) {
        add_error(cfg, path, 0, "cannot read config file: no such file");
        return -BK_ECONFIG;
    }
    if (rc == -BK_ETOOBIG) {
        add_error(cfg, path, 0, "config file is larger than %u bytes",
                  MAX_FILE_SIZE);
        return -BK_ECONFIG;
    }
    if (rc != 0) {
        add_error(cfg, path, 0, "cannot read config file: %s", strerror(e));
        return -BK_ECONFIG;
    }
    rc = load_text(cfg, src, text, len);
    free(text);
    return rc;
}

int bk_cfg_override(bk_cfg *cfg, const char *kv)
{
    char q[QBUF];
    size_t before = cfg->nerrs;
    const char *eq = strchr(kv, '=');
    if (!eq) {
        add_error(cfg, BK_CFG_CMDLINE, 0, "override %s is not key=value",
                  quote(q, sizeof q, kv));
        return -BK_ECONFIG;
    }
    const char *k = kv, *ke = eq, *v = eq + 1, *ve = eq + strlen(eq);
    while (k < ke && is_blank(*k))
        k++;
    while (ke > k && is_blank(ke[-1]))
        ke--;
    while (v < ve && is_blank(*v))
        v++;
    while (ve > v && is_blank(ve[-1]))
        ve--;
    char *key = strndup(k, (size_t)(ke - k));
    char *val = strndup(v, (size_t)(ve - v));
    if (key && val)
        apply(cfg, BK_CFG_CMDLINE, 0, key, val, true);
    else
        cfg->oom = true;
    free(key);
    free(val);
    if (cfg->oom)
        return -BK_ENOMEM;
    return cfg->nerrs > before ? -BK_ECONFIG : 0;
}

int bk_cfg_finish(bk_cfg *cfg)
{
    if (cfg->finished)
        return cfg->finish_rc;
    cfg->finished = true;
    /* name the first file in the message: that is where the key belongs */
    const char *where = cfg->nsrcs ? cfg->srcs[0] : BK_CFG_CMDLINE;
    for (size_t i = 0; i < cfg->n; i++)
        if (!cfg->defs[i].dflt && !cfg->slots[i].seen)
            add_error(cfg, where, 0, "required key '%s' is not set",
                      cfg->defs[i].name);
    cfg->finish_rc = cfg->oom ? -BK_ENOMEM : cfg->nerrs ? -BK_ECONFIG : 0;
    return cfg->finish_rc;
}

/* ------------------------------ errors ------------------------------ */

size_t bk_cfg_nerrors(const bk_cfg *cfg)
{
    return cfg->nerrs;
}

const char *bk_cfg_error(const bk_cfg *cfg, size_t i)
{
    assert(i < cfg->nkept);
    return i < cfg->nkept ? cfg->errs[i] : "";
}

const char *bk_cfg_errors(bk_cfg *cfg)
{
    if (cfg->nerrs == 0)
        return "";
    if (cfg->joined)
        return cfg->joined;
    bk_buf b = BK_BUF_INIT;
    for (size_t i = 0; i < cfg->nkept; i++) {
        bk_buf_put(&b, cfg->errs[i], strlen(cfg->errs[i]));
        bk_buf_put_u8(&b, '\n');
    }
    if (cfg->nerrs > cfg->nkept) {
        char more[64];
        int n = snprintf(more, sizeof more, "... and %zu more errors\n",
                         cfg->nerrs - cfg->nkept);
        bk_buf_put(&b, more, (size_t)n);
    }
    bk_buf_put_u8(&b, '\0');
    if (!bk_buf_ok(&b)) {
        bk_buf_free(&b);
        return "out of memory while formatting config errors\n";
    }
    cfg->joined = (char *)bk_buf_detach(&b, NULL);
    return cfg->joined;
}

void bk_cfg_log_errors(const bk_cfg *cfg, const char *module)
{
    for (size_t i = 0; i < cfg->nkept; i++)
        BK_ERROR(module, "%s", cfg->errs[i]);
    if (cfg->nerrs > cfg->nkept)
        BK_ERROR(module, "... and %zu more config errors",
                 cfg->nerrs - cfg->nkept);
}

/* ------------------------------ getters ------------------------------ */

/* The slot of a schema key; asserts the key exists and, unless type < 0,
 * has that type.  NULL (with asserts off) for a wrong name. */
static const cfg_slot *lookup(const bk_cfg *cfg, const char *name, int type)
{
    int idx = find_def(cfg, name);
    assert(idx >= 0 && "config key not in the schema");
    if (idx < 0)
        return NULL;
    assert((type < 0 || cfg->defs[idx].type == (bk_cfg_type)type) &&
           "config getter does not match the key's type");
    if (type >= 0 && cfg->defs[idx].type != (bk_cfg_type)type)
        return NULL;
    return &cfg->slots[idx];
}

int32_t bk_cfg_get_int(const bk_cfg *cfg, const char *name)
{
    const cfg_slot *s = lookup(cfg, name, BK_CFG_INT);
    return s ? (int32_t)s->val.i : 0;
}

int64_t bk_cfg_get_long(const bk_cfg *cfg, const char *name)
{
    const cfg_slot *s = lookup(cfg, name, BK_CFG_LONG);
    return s ? s->val.i : 0;
}

bool bk_cfg_get_bool(const bk_cfg *cfg, const char *name)
{
    const cfg_slot *s = lookup(cfg, name, BK_CFG_BOOL);
    return s ? s->val.b : false;
}

double bk_cfg_get_double(const bk_cfg *cfg, const char *name)
{
    const cfg_slot *s = lookup(cfg, name, BK_CFG_DOUBLE);
    return s ? s->val.d : 0.0;
}

const char *bk_cfg_get_str(const bk_cfg *cfg, const char *name)
{
    const cfg_slot *s = lookup(cfg, name, -1);
    return s && s->text ? s->text : "";
}

size_t bk_cfg_get_list(const bk_cfg *cfg, const char *name,
                       const char *const **items)
{
    const cfg_slot *s = lookup(cfg, name, BK_CFG_LIST);
    static const char *const none[1] = {NULL};
    if (!s || s->val.nitems == 0) {
        *items = none;
        return 0;
    }
    *items = (const char *const *)s->val.items;
    return s->val.nitems;
}

int bk_cfg_get_enum(const bk_cfg *cfg, const char *name)
{
    const cfg_slot *s = lookup(cfg, name, BK_CFG_ENUM);
    return s && s->text ? (int)s->val.i : -1;
}

bool bk_cfg_is_set(const bk_cfg *cfg, const char *name)
{
    const cfg_slot *s = lookup(cfg, name, -1);
    return s && s->set;
}

void bk_cfg_dump(const bk_cfg *cfg, bk_buf *out)
{
    for (size_t i = 0; i < cfg->n; i++) {
        const bk_cfg_def *d = &cfg->defs[i];
        const char *v = !cfg->slots[i].text        ? "(not set)"
                        : d->flags & BK_CFG_SECRET ? "[hidden]"
                                                   : cfg->slots[i].text;
        bk_buf_put(out, d->name, strlen(d->name));
        bk_buf_put(out, " = ", 3);
        bk_buf_put(out, v, strlen(v));
        bk_buf_put_u8(out, '\n');
    }
}
