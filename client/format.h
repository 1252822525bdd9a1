/*
 * format.h -- kcat-style output formats for `brook consume -f`.
 *
 * A format is text with conversions:
 *   %t topic      %p partition   %o offset     %T timestamp (ms)
 *   %k key        %s value       %K key length %S value length (-1: null)
 *   %h headers as "k1=v1,k2=v2" (a null header value prints as "k1")
 *   %% a percent sign
 * and escapes \n \t \r \\ \0 (a NUL byte).  A null key or value prints as
 * nothing (its length conversion tells it from an empty one).  The format
 * is checked once (bk_fmt_parse) and then applied to every record.
 * Pure; no state beyond the parsed format.
 */
#ifndef BK_CLIENT_FORMAT_H
#define BK_CLIENT_FORMAT_H

#include <stddef.h>

#include "client/brook.h"
#include "common/buf.h"

typedef enum bk_fmt_op {
    BK_FMT_LITERAL,
    BK_FMT_TOPIC,
    BK_FMT_PARTITION,
    BK_FMT_OFFSET,
    BK_FMT_TIMESTAMP,
    BK_FMT_KEY,
    BK_FMT_VALUE,
    BK_FMT_KEY_LEN,
    BK_FMT_VALUE_LEN,
    BK_FMT_HEADERS,
} bk_fmt_op;

typedef struct bk_fmt_item {
    bk_fmt_op op;
    size_t lit_off, lit_len; /* LITERAL: bytes in bk_fmt.lits */
} bk_fmt_item;

typedef struct bk_fmt {
    bk_fmt_item *items; /* owned */
    size_t n;
    bk_buf lits; /* literal bytes, escapes resolved */
} bk_fmt;

/* Parses fmt.  0, or -BK_EINVAL with a message in err ("unknown
 * conversion '%x' at position 3"), or -BK_ENOMEM.  Free with
 * bk_fmt_free() in every case. */
int bk_fmt_parse(bk_fmt *f, const char *fmt, char *err, size_t errlen);
void bk_fmt_free(bk_fmt *f);

/* Appends the formatted record m to out (check bk_buf_ok(out)). */
void bk_fmt_render(const bk_fmt *f, const brook_msg *m, bk_buf *out);

#endif
