/*
 * prom.c -- the Prometheus registry, the exposition writer and the HTTP
 * request parser (see prom.h).
 *
 * The exposition format (text 0.0.4) in short: for each family a
 * "# HELP name text" and a "# TYPE name type" line, then its samples
 * "name{label="value",...} number", one per line; a histogram's samples are
 * name_bucket{...,le="bound"} with cumulative counts ending at le="+Inf",
 * then name_sum and name_count.  Label values escape backslash, double
 * quote and newline; HELP text escapes backslash and newline.
 */
#include "common/prom.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
/* ============================== registry ============================== */

struct bk_mfam {
    bk_mreg *reg;
    bk_mtype type;
    const char *name;
    const char *help;
    const char *labels[BK_M_MAX_LABELS];
    size_t nlabels;
    double bounds[BK_M_MAX_BUCKETS];
    size_t nbounds;
    bk_mser *head, *tail; /* series in creation order */
    bk_mfam *next;
};

typedef struct collector {
    bk_mcollect_fn *fn;
    void *arg;
} collector;

struct bk_mreg {
    bk_mfam *head, *tail;
    collector colls[8];
    size_t ncolls;
};

static bool name_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     c == '_' || c == ':';
        if (!alpha && !(p > s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

bk_mreg *bk_mreg_new(void)
{
    return calloc(1, sizeof(bk_mreg));
}

static void ser_free(bk_mser *s)
{
    for (size_t i = 0; i < BK_M_MAX_LABELS; i++)
        free(s->lv[i]);
    free(s->buckets);
    free(s);
}

void bk_mreg_free(bk_mreg *r)
{
    if (!r)
        return;
    bk_mfam *f = r->head;
    while (f) {
        bk_mfam *fn = f->next;
        bk_mser *s = f->head;
        while (s) {
            bk_mser *sn = s->next;
            ser_free(s);
            s = sn;
        }
        free(f);
        f = fn;
    }
    free(r);
}

bk_mfam *bk_mreg_family(bk_mreg *r, bk_mtype type, const char *name,
                        const char *help, const char *const *labels,
                        size_t nlabels, const double *bounds, size_t nbounds)
{
    assert(name_ok(name));
    assert(nlabels <= BK_M_MAX_LABELS && nbounds <= BK_M_MAX_BUCKETS);
    assert(type == BK_M_HISTOGRAM || nbounds == 0);
    for (bk_mfam *f = r->head; f; f = f->next)
        assert(strcmp(f->name, name) != 0);
    bk_mfam *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->reg = r;
    f->type = type;
    f->name = name;
    f->help = help;
    for (size_t i = 0; i < nlabels; i++) {
        /* "le" belongs to histograms; "__" names are reserved. */
        assert(name_ok(labels[i]) && strchr(labels[i], ':') == NULL);
        assert(strncmp(labels[i], "__", 2) != 0 && strcmp(labels[i], "le"));
        f->labels[i] = labels[i];
    }
    f->nlabels = nlabels;
    for (size_t i = 0; i < nbounds; i++) {
        assert(isfinite(bounds[i]) && (i == 0 || bounds[i] > bounds[i - 1]));
        f->bounds[i] = bounds[i];
    }
    f->nbounds = nbounds;
    if (r->tail)
        r->tail->next = f;
    else
        r->head = f;
    r->tail = f;
    return f;
}

bk_mser *bk_mfam_series(bk_mfam *f, const char *const *values)
{
    for (bk_mser *s = f->head; s; s = s->next) {
        size_t i = 0;
        while (i < f->nlabels && strcmp(s->lv[i], values[i]) == 0)
            i++;
        if (i == f->nlabels)
            return s;
    }
    bk_mser *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fam = f;
    for (size_t i = 0; i < f->nlabels; i++) {
        s->lv[i] = strdup(values[i]);
        if (!s->lv[i]) {
            ser_free(s);
            return NULL;
        }
    }
    if (f->type == BK_M_HISTOGRAM) {
        s->buckets = calloc(f->nbounds + 1, sizeof *s->buckets);
        if (!s->buckets) {
            ser_free(s);
            return NULL;
        }
    }
    s->prev = f->tail;
    if (f->tail)
        f->tail->next = s;
    else
        f->head = s;
    f->tail = s;
    return s;
}

void bk_mser_remove(bk_mser *s)
{
    if (!s)
        return;
    bk_mfam *f = s->fam;
    if (s->prev)
        s->prev->next = s->next;
    else
        f->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        f->tail = s->prev;
    ser_free(s);
}

int bk_mreg_collector(bk_mreg *r, bk_mcollect_fn *fn, void *arg)
{
    if (r->ncolls == sizeof r->colls / sizeof r->colls[0])
        return -BK_ENOMEM;
    r->colls[r->ncolls++] = (collector){fn, arg};
    return 0;
}

void bk_mser_observe(bk_mser *s, double v)
{
    if (!s)
        return;
    const bk_mfam *f = s->fam;
    assert(f->type == BK_M_HISTOGRAM);
    size_t i = 0;
    while (i < f->nbounds && v > f->bounds[i])
        i++;
    s->buckets[i]++;
    s->u++;
    s->v += v;
}

/* ------------------------------- writer ------------------------------- */

static void put_str(bk_buf *out, const char *s)
{
    bk_buf_put(out, s, strlen(s));
}

/* Shortest of %.15g / %.17g that reads back as v; Prometheus spellings of
 * the special values. */
static void put_double(bk_buf *out, double v)
{
    char tmp[64];
    if (isnan(v)) {
        put_str(out, "NaN");
        return;
    }
    if (isinf(v)) {
        put_str(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof tmp, "%.17g", v);
    put_str(out, tmp);
}

static void put_escaped(bk_buf *out, const char *s, bool quote)
{
    const char *run = s;
    for (const char *p = s;; p++) {
        char c = *p;
        const char *esc = NULL;
        if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '"' && quote)
            esc = "\\\"";
        if (!esc && c != '\0')
            continue;
        bk_buf_put(out, run, (size_t)(p - run));
        if (c == '\0')
            return;
        put_str(out, esc);
        run = p + 1;
    }
}

static const char *type_name(bk_mtype t)
{
    switch (t) {
    case BK_M_COUNTER:
        return "counter";
    case BK_M_GAUGE:
        return "gauge";
    case BK_M_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

void bk_mexp_family(bk_buf *out, bk_mtype type, const char *name,
                    const char *help)
{
    put_str(out, "# HELP ");
    put_str(out, name);
    bk_buf_put_u8(out, ' ');
    put_escaped(out, help, false);
    put_str(out, "\n# TYPE ");
    put_str(out, name);
    bk_buf_put_u8(out, ' ');
    put_str(out, type_name(type));
    bk_buf_put_u8(out, '\n');
}

/* name{ln="lv",...} -- and the extra label (le) when xname is set. */
static void put_series(bk_buf *out, const char *name, const char *suffix,
                       const char *const *ln, const char *const *lv, size_t n,
                       const char *xname, const char *xval)
{
    put_str(out, name);
    if (suffix)
        put_str(out, suffix);
    if (n == 0 && !xname) {
        bk_buf_put_u8(out, ' ');
        return;
    }
    bk_buf_put_u8(out, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            bk_buf_put_u8(out, ',');
        put_str(out, ln[i]);
        put_str(out, "=\"");
        put_escaped(out, lv[i], true);
        bk_buf_put_u8(out, '"');
    }
    if (xname) {
        if (n)
            bk_buf_put_u8(out, ',');
        put_str(out, xname);
        put_str(out, "=\"");
        put_str(out, xval);
        bk_buf_put_u8(out, '"');
    }
    put_str(out, "} ");
}

void bk_mexp_sample(bk_buf *out, const char *name, const char *const *ln,
                    const char *const *lv, size_t n, double v)
{
    put_series(out, name, NULL, ln, lv, n, NULL, NULL);
    put_double(out, v);
    bk_buf_put_u8(out, '\n');
}

void bk_mexp_sample_u64(bk_buf *out, const char *name, const char *const *ln,
                        const char *const *lv, size_t n, uint64_t v)
{
    char tmp[32];
    put_series(out, name, NULL, ln, lv, n, NULL, NULL);
    snprintf(tmp, sizeof tmp, "%llu\n", (unsigned long long)v);
    put_str(out, tmp);
}

void bk_mexp_sample_i64(bk_buf *out, const char *name, const char *const *ln,
                        const char *const *lv, size_t n, int64_t v)
{
    char tmp[32];
    put_series(out, name, NULL, ln, lv, n, NULL, NULL);
    snprintf(tmp, sizeof tmp, "%lld\n", (long long)v);
    put_str(out, tmp);
}

static void render_family(bk_buf *out, const bk_mfam *f)
{
    bk_mexp_family(out, f->type, f->name, f->help);
    const char *const *ln = f->labels;
    for (const bk_mser *s = f->head; s; s = s->next) {
        const char *const *lv = (const char *const *)s->lv;
        if (f->type == BK_M_COUNTER) {
            bk_mexp_sample_u64(out, f->name, ln, lv, f->nlabels, s->u);
        } else if (f->type == BK_M_GAUGE) {
            bk_mexp_sample(out, f->name, ln, lv, f->nlabels, s->v);
        } else {
            char le[64], tmp[32];
            uint64_t cum = 0;
            for (size_t i = 0; i <= f->nbounds; i++) {
                cum += s->buckets[i];
                if (i < f->nbounds) {
                    bk_buf b = BK_BUF_INIT;
                    put_double(&b, f->bounds[i]);
                    snprintf(le, sizeof le, "%.*s", (int)b.len,
                             b.data ? (const char *)b.data : "");
                    bk_buf_free(&b);
                } else {
                    snprintf(le, sizeof le, "+Inf");
                }
                put_series(out, f->name, "_bucket", ln, lv, f->nlabels, "le",
                           le);
                snprintf(tmp, sizeof tmp, "%llu\n", (unsigned long long)cum);
                put_str(out, tmp);
            }
            /* Every observation is in exactly one bucket. */
            assert(cum == s->u);
            put_series(out, f->name, "_sum", ln, lv, f->nlabels, NULL, NULL);
            put_double(out, s->v);
            bk_buf_put_u8(out, '\n');
            put_series(out, f->name, "_count", ln, lv, f->nlabels, NULL, NULL);
            snprintf(tmp, sizeof tmp, "%llu\n", (unsigned long long)s->u);
            put_str(out, tmp);
        }
    }
}

int bk_mreg_render(bk_mreg *r, bk_buf *out)
{
    for (const bk_mfam *f = r->head; f; f = f->next)
        render_family(out, f);
    for (size_t i = 0; i < r->ncolls; i++)
        r->colls[i].fn(out, r->colls[i].arg);
    return bk_buf_ok(out) ? 0 : -BK_ENOMEM;
}

/* ============================ HTTP parser ============================ */

static bool is_tchar(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Checks one request line p[0..n) (no line end).  Returns the status, and
 * sets *head for HEAD. */
static int parse_request_line(const uint8_t *p, size_t n, bool *head)
{
    size_t i = 0;
    while (i < n && i < 32 && is_tchar(p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return 400;
    size_t mlen = i;
    size_t t0 = ++i;
    while (i < n && p[i] > 0x20 && p[i] < 0x7f)
        i++;
    size_t tlen = i - t0;
    if (tlen == 0 || i >= n || p[i] != ' ')
        return 400;
    i++;
    if (n - i != 8 || memcmp(p + i, "HTTP/", 5) != 0 || p[i + 5] < '0' ||
        p[i + 5] > '9' || p[i + 6] != '.' || p[i + 7] < '0' || p[i + 7] > '9')
        return 400;
    if (p[i + 5] != '1')
        return 505;
    /* The path: origin form, or absolute form (http://host/path). */
    const uint8_t *t = p + t0;
    size_t tl = tlen;
    if (tl > 7 && memcmp(t, "http://", 7) == 0) {
        size_t k = 7;
        while (k < tl && t[k] != '/')
            k++;
        t += k;
        tl -= k;
    }
    size_t plen = 0;
    while (plen < tl && t[plen] != '?' && t[plen] != '#')
        plen++;
    if (plen != 8 || memcmp(t, "/metrics", 8) != 0)
        return 404;
    if (mlen == 3 && memcmp(p, "GET", 3) == 0)
        return 200;
    if (mlen == 4 && memcmp(p, "HEAD", 4) == 0) {
        *head = true;
        return 200;
    }
    return 405;
}

/* A header line p[0..n): field-name ":" value, no control characters. */
static bool header_line_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && is_tchar(p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ':')
        return false;
    for (i++; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return false;
    return true;
}

int bk_mhttp_parse(const uint8_t *p, size_t n, bk_mhttp_req *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = n < BK_MHTTP_MAX_REQUEST ? n : BK_MHTTP_MAX_REQUEST;
    size_t pos = 0;
    bool first = true;
    int status = 200;
    while (pos < cap) {
        const uint8_t *nl = memchr(p + pos, '\n', cap - pos);
        if (!nl) {
            /* An incomplete line: reject at once what can never become
             * a request line (binary garbage), else wait for more. */
            if (first) {
                for (size_t i = pos; i < cap; i++) {
                    if (p[i] < 0x20 && p[i] != '\r') {
                        out->status = 400;
                        out->consumed = cap;
                        return 0;
                    }
                }
            }
            break;
        }
        size_t end = (size_t)(nl - p);
        size_t len = end - pos;
        if (len > 0 && p[pos + len - 1] == '\r')
            len--;
        const uint8_t *line = p + pos;
        pos = end + 1;
        if (first) {
            first = false;
            status = parse_request_line(line, len, &out->head);
            if (status == 400 || status == 505) {
                /* No point reading headers of a request we refuse. */
                out->status = status;
                out->consumed = pos;
                return 0;
            }
            continue;
        }
        if (len == 0) {
            out->status = status;
            out->consumed = pos;
            return 0;
        }
        /* obs-fold (a line starting with a blank) is refused, as RFC 7230
         * allows. */
        if (!header_line_ok(line, len)) {
            out->status = 400;
            out->consumed = pos;
            return 0;
        }
    }
    if (n >= BK_MHTTP_MAX_REQUEST) {
        out->status = 431;
        out->consumed = cap;
        out->head = false;
        return 0;
    }
    return BK_AGAIN;
}
