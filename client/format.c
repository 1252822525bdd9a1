/*
 * format.c -- kcat-style record formats (see format.h).
 */
#include "client/format.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static int push(bk_fmt *f, bk_fmt_op op, size_t off, size_t len)
{
    /* adjacent literals merge: one copy per run of text at render time */
    if (op == BK_FMT_LITERAL && f->n > 0 &&
        f->items[f->n - 1].op == BK_FMT_LITERAL) {
        f->items[f->n - 1].lit_len += len;
        return 0;
    }
    bk_fmt_item *v = realloc(f->items, (f->n + 1) * sizeof *v);
    if (!v)
        return -BK_ENOMEM;
    f->items = v;
    f->items[f->n++] = (bk_fmt_item){op, off, len};
    return 0;
}

static int lit(bk_fmt *f, char ch)
{
    size_t off = f->lits.len;
    bk_buf_put_u8(&f->lits, (uint8_t)ch);
    if (!bk_buf_ok(&f->lits))
        return -BK_ENOMEM;
    return push(f, BK_FMT_LITERAL, off, 1);
}

int bk_fmt_parse(bk_fmt *f, const char *fmt, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    bk_buf_init(&f->lits);
    for (size_t i = 0; fmt[i]; i++) {
        char ch = fmt[i];
        int rc;
        if (ch == '%') {
            bk_fmt_op op;
            switch (fmt[i + 1]) {
            case 't':
                op = BK_FMT_TOPIC;
                break;
            case 'p':
                op = BK_FMT_PARTITION;
                break;
            case 'o':
                op = BK_FMT_OFFSET;
                break;
            case 'T':
                op = BK_FMT_TIMESTAMP;
                break;
            case 'k':
                op = BK_FMT_KEY;
                break;
            case 's':
                op = BK_FMT_VALUE;
                break;
            case 'K':
                op = BK_FMT_KEY_LEN;
                break;
            case 'S':
                op = BK_FMT_VALUE_LEN;
                break;
            case 'h':
                op = BK_FMT_HEADERS;
                break;
            case '%':
                op = BK_FMT_LITERAL;
                break;
            case '\0':
                snprintf(err, errlen, "format ends with a lone '%%'");
                return -BK_EINVAL;
            default:
                snprintf(err, errlen,
                         "unknown conversion '%%%c' at position %zu "
                         "(known: %%t %%p %%o %%T %%k %%s %%K %%S %%h %%%%)",
                         fmt[i + 1], i + 1);
                return -BK_EINVAL;
            }
            i++;
            rc = op == BK_FMT_LITERAL ? lit(f, '%') : push(f, op, 0, 0);
        } else if (ch == '\\') {
            char e;
            switch (fmt[i + 1]) {
            case 'n':
                e = '\n';
                break;
            case 't':
                e = '\t';
                break;
            case 'r':
                e = '\r';
                break;
            case '\\':
                e = '\\';
                break;
            case '0':
                e = '\0';
                break;
            case '\0':
                snprintf(err, errlen, "format ends with a lone '\\'");
                return -BK_EINVAL;
            default:
                snprintf(err, errlen,
                         "unknown escape '\\%c' at position %zu (known: \\n "
                         "\\t \\r \\\\ \\0)",
                         fmt[i + 1], i + 1);
                return -BK_EINVAL;
            }
            i++;
            rc = lit(f, e);
        } else {
            rc = lit(f, ch);
        }
        if (rc != 0) {
            snprintf(err, errlen, "out of memory");
            return rc;
        }
    }
    return 0;
}

void bk_fmt_free(bk_fmt *f)
{
    free(f->items);
    bk_buf_free(&f->lits);
    memset(f, 0, sizeof *f);
}

static void put_i64(bk_buf *out, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    bk_buf_put(out, tmp, (size_t)n);
}

static void put_headers(bk_buf *out, const brook_msg *m)
{
    size_t pos = 0;
    brook_header h;
    bool first = true;
    while (brook_msg_header_next(m, &pos, &h) == 1) {
        if (!first)
            bk_buf_put_u8(out, ',');
        first = false;
        bk_buf_put(out, h.key, h.key_len);
        if (h.value_len >= 0) {
            bk_buf_put_u8(out, '=');
            bk_buf_put(out, h.value, (size_t)h.value_len);
        }
    }
}

void bk_fmt_render(const bk_fmt *f, const brook_msg *m, bk_buf *out)
{
    for (size_t i = 0; i < f->n; i++) {
        const bk_fmt_item *it = &f->items[i];
        switch (it->op) {
        case BK_FMT_LITERAL:
            bk_buf_put(out, f->lits.data + it->lit_off, it->lit_len);
            break;
        case BK_FMT_TOPIC:
            bk_buf_put(out, m->topic, strlen(m->topic));
            break;
        case BK_FMT_PARTITION:
            put_i64(out, m->partition);
            break;
        case BK_FMT_OFFSET:
            put_i64(out, m->offset);
            break;
        case BK_FMT_TIMESTAMP:
            put_i64(out, m->timestamp);
            break;
        case BK_FMT_KEY:
            if (m->key_len > 0)
                bk_buf_put(out, m->key, (size_t)m->key_len);
            break;
        case BK_FMT_VALUE:
            if (m->value_len > 0)
                bk_buf_put(out, m->value, (size_t)m->value_len);
            break;
        case BK_FMT_KEY_LEN:
            put_i64(out, m->key_len);
            break;
        case BK_FMT_VALUE_LEN:
            put_i64(out, m->value_len);
            break;
        case BK_FMT_HEADERS:
            put_headers(out, m);
            break;
        }
    }
}
