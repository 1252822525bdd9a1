/*
 * utf8.h -- the small pieces that turn \uXXXX escapes into UTF-8, shared by
 * the JSON parser (znode payloads) and the properties parser (config files).
 * Pure functions; any thread.
 */
#ifndef BK_UTF8_H
#define BK_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Reads 4 hex digits at p[0..n) (n >= 4 needed); the value, or -1 when
 * fewer than 4 bytes are given or one is not a hex digit. */
long bk_hex4(const char *p, size_t n);

/* Writes code point cp (<= 0x10FFFF, not a surrogate: the caller checked)
 * as UTF-8 into o, which has room for 4 bytes; returns the bytes written. */
size_t bk_utf8_put(char *o, uint32_t cp);

#endif
