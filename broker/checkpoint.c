/*
 * checkpoint.c -- Kafka-format checkpoint files (see checkpoint.h).
 *
 * The parser walks the text line by line with explicit bounds (the file is
 * untrusted input: it may be truncated or edited by hand) and never
 * modifies the buffer it is given: fields are copied into a small scratch
 * array so that callbacks get NUL-terminated strings.
 */
#include "broker/checkpoint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/logging.h"

#define MAX_FIELDS 8

int bk_ckpt_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (*p < '0' || *p > '9')
        return -BK_EINVAL;
    /* accumulate as a negative number so that INT64_MIN fits */
    int64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -BK_EINVAL;
        int d = *p - '0';
        if (v < (INT64_MIN + d) / 10)
            return -BK_EINVAL;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN)
            return -BK_EINVAL;
        v = -v;
    } else if (v == 0) {
        return -BK_EINVAL; /* "-0" */
    }
    if (v < min || v > max)
        return -BK_EINVAL;
    *out = v;
    return 0;
}

/* Next line of text starting at *pos: [*start, *end) without the '\n'.
 * 1, 0 at the end of the text, -1 for a last line without its '\n' (a
 * cut file: "5" may be what is left of "55"). */
static int next_line(const char *text, size_t len, size_t *pos, size_t *start,
                     size_t *end)
{
    if (*pos >= len)
        return 0;
    const char *nl = memchr(text + *pos, '\n', len - *pos);
    if (!nl)
        return -1;
    *start = *pos;
    *end = (size_t)(nl - text);
    *pos = *end + 1;
    return 1;
}

/* Splits [s, e) on single spaces into copies in fields[]; returns the
 * number of fields or -1 on a malformed line (empty field, a field too
 * long, too many fields, or a byte that is not printable ASCII). */
static int split(const char *s, const char *e,
                 char fields[][BK_CKPT_MAX_FIELD + 1])
{
    int n = 0;
    const char *p = s;
    if (p == e)
        return 0;
    for (;;) {
        const char *q = p;
        while (q < e && *q != ' ')
            q++;
        size_t flen = (size_t)(q - p);
        if (flen == 0 || flen > BK_CKPT_MAX_FIELD || n == MAX_FIELDS)
            return -1;
        for (const char *c = p; c < q; c++)
            if (*c < 0x21 || *c > 0x7e)
                return -1;
        memcpy(fields[n], p, flen);
        fields[n][flen] = '\0';
        n++;
        if (q == e)
            return n;
        p = q + 1;
    }
}

int bk_ckpt_parse(const char *name, const char *text, size_t len, int version,
                  int nfields, bk_ckpt_line_fn fn, void *arg, char *err,
                  size_t errlen)
{
    char fields[MAX_FIELDS][BK_CKPT_MAX_FIELD + 1]; /* 2 KiB of stack */
    char *fp[MAX_FIELDS];
    char why[256];
    size_t pos = 0, s, e;
    int line = 0;
    int64_t v, count;

    if (nfields < 1 || nfields > MAX_FIELDS)
        return -BK_EINVAL;
    for (int i = 0; i < MAX_FIELDS; i++)
        fp[i] = fields[i];

    /* version */
    line++;
    if (next_line(text, len, &pos, &s, &e) != 1 ||
        split(text + s, text + e, fields) != 1 ||
        bk_ckpt_parse_i64(fields[0], 0, INT32_MAX, &v) != 0) {
        bk_errf(err, errlen, "%s:%d: expected a version number", name, line);
        return -BK_ECORRUPT;
    }
    if (v != version) {
        bk_errf(err, errlen, "%s:%d: unsupported version %lld (expected %d)",
                name, line, (long long)v, version);
        return -BK_ECORRUPT;
    }
    /* count */
    line++;
    if (next_line(text, len, &pos, &s, &e) != 1 ||
        split(text + s, text + e, fields) != 1 ||
        bk_ckpt_parse_i64(fields[0], 0, INT32_MAX, &count) != 0) {
        bk_errf(err, errlen, "%s:%d: expected an entry count", name, line);
        return -BK_ECORRUPT;
    }
    for (int64_t i = 0; i < count; i++) {
        line++;
        int nl = next_line(text, len, &pos, &s, &e);
        if (nl != 1) {
            if (nl < 0)
                bk_errf(err, errlen, "%s:%d: line not terminated (file cut?)",
                        name, line);
            else
                bk_errf(err, errlen,
                        "%s:%d: file ends after %lld of %lld entries", name,
                        line, (long long)i, (long long)count);
            return -BK_ECORRUPT;
        }
        int got = split(text + s, text + e, fields);
        if (got != nfields) {
            if (got < 0)
                bk_errf(err, errlen, "%s:%d: malformed line", name, line);
            else
                bk_errf(err, errlen, "%s:%d: expected %d fields, got %d", name,
                        line, nfields, got);
            return -BK_ECORRUPT;
        }
        why[0] = '\0';
        int rc = fn(arg, fp, why, sizeof why);
        if (rc != 0) {
            bk_errf(err, errlen, "%s:%d: %s", name, line,
                    why[0] ? why : bk_strerror(rc));
            return rc;
        }
    }
    /* only an empty remainder is allowed: a count smaller than the lines
     * means the file is not what its writer wrote */
    if (pos < len) {
        bk_errf(err, errlen, "%s:%d: unexpected data after %lld entries", name,
                line + 1, (long long)count);
        return -BK_ECORRUPT;
    }
    return 0;
}

int bk_ckpt_read_file(const char *path, int version, int nfields,
                      bk_ckpt_line_fn fn, void *arg, char *err, size_t errlen)
{
    char *text;
    size_t len;
    char local[512];
    int rc = bk_file_read_all(path, BK_CKPT_MAX_FILE, &text, &len);
    if (rc != 0) {
        if (rc != -BK_ENOENT)
            bk_errf(err, errlen, "%s: cannot read: %s", path, bk_strerror(rc));
        return rc;
    }
    if (!err) {
        err = local;
        errlen = sizeof local;
    }
    err[0] = '\0';
    rc = bk_ckpt_parse(path, text, len, version, nfields, fn, arg, err, errlen);
    free(text);
    if (rc != 0)
        BK_WARN("ckpt", "%s", err);
    return rc;
}

/* ------------------------- topic partition offset ------------------------ */

static bool topic_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 249)
        return false;
    for (const char *p = t; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int cmp_key(const char *t1, int32_t p1, const char *t2, int32_t p2)
{
    int c = strcmp(t1, t2);
    if (c != 0)
        return c;
    return p1 < p2 ? -1 : p1 > p2 ? 1 : 0;
}

/* Index of the first entry >= (topic, partition); *found when equal. */
static size_t find(const bk_ckpt *c, const char *topic, int32_t partition,
                   bool *found)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_key(c->v[mid].topic, c->v[mid].partition, topic, partition) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < c->n &&
             cmp_key(c->v[lo].topic, c->v[lo].partition, topic, partition) == 0;
    return lo;
}

void bk_ckpt_free(bk_ckpt *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].topic);
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

int bk_ckpt_set(bk_ckpt *c, const char *topic, int32_t partition,
                int64_t offset)
{
    if (!topic_ok(topic) || partition < 0 || offset < 0)
        return -BK_EINVAL;
    bool found;
    size_t i = find(c, topic, partition, &found);
    if (found) {
        c->v[i].offset = offset;
        return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        bk_ckpt_entry *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return -BK_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    char *t = strdup(topic);
    if (!t)
        return -BK_ENOMEM;
    memmove(&c->v[i + 1], &c->v[i], (c->n - i) * sizeof *c->v);
    c->v[i] = (bk_ckpt_entry){t, partition, offset};
    c->n++;
    return 0;
}

int bk_ckpt_get(const bk_ckpt *c, const char *topic, int32_t partition,
                int64_t *offset)
{
    bool found;
    size_t i = find(c, topic, partition, &found);
    if (!found)
        return -BK_ENOENT;
    *offset = c->v[i].offset;
    return 0;
}

int bk_ckpt_remove(bk_ckpt *c, const char *topic, int32_t partition)
{
    bool found;
    size_t i = find(c, topic, partition, &found);
    if (!found)
        return -BK_ENOENT;
    free(c->v[i].topic);
    memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof *c->v);
    c->n--;
    return 0;
}

static int tpo_line(void *arg, char **f, char *err, size_t errlen)
{
    bk_ckpt *c = arg;
    int64_t part, off;
    if (!topic_ok(f[0])) {
        bk_errf(err, errlen, "invalid topic name '%s'", f[0]);
        return -BK_ECORRUPT;
    }
    if (bk_ckpt_parse_i64(f[1], 0, INT32_MAX, &part) != 0) {
        bk_errf(err, errlen, "invalid partition '%s'", f[1]);
        return -BK_ECORRUPT;
    }
    if (bk_ckpt_parse_i64(f[2], 0, INT64_MAX, &off) != 0) {
        bk_errf(err, errlen, "invalid offset '%s'", f[2]);
        return -BK_ECORRUPT;
    }
    int64_t old;
    if (bk_ckpt_get(c, f[0], (int32_t)part, &old) == 0) {
        bk_errf(err, errlen, "duplicate entry for %s-%lld", f[0],
                (long long)part);
        return -BK_ECORRUPT;
    }
    return bk_ckpt_set(c, f[0], (int32_t)part, off);
}

int bk_ckpt_read(const char *path, bk_ckpt *c, char *err, size_t errlen)
{
    bk_ckpt_free(c);
    int rc =
        bk_ckpt_read_file(path, BK_CKPT_VERSION, 3, tpo_line, c, err, errlen);
    if (rc != 0)
        bk_ckpt_free(c);
    return rc;
}

int bk_ckpt_write(const char *path, const bk_ckpt *c)
{
    bk_buf b = BK_BUF_INIT;
    char line[BK_CKPT_MAX_FIELD + 64];
    int n = snprintf(line, sizeof line, "%d\n%zu\n", BK_CKPT_VERSION, c->n);
    bk_buf_put(&b, line, (size_t)n);
    for (size_t i = 0; i < c->n; i++) {
        n = snprintf(line, sizeof line, "%s %d %lld\n", c->v[i].topic,
                     (int)c->v[i].partition, (long long)c->v[i].offset);
        bk_buf_put(&b, line, (size_t)n);
    }
    int rc =
        bk_buf_ok(&b) ? bk_file_write_atomic(path, b.data, b.len) : -BK_ENOMEM;
    bk_buf_free(&b);
    return rc;
}
