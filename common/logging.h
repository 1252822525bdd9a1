/*
 * logging.h -- one line per event to stderr, with a level (journald picks
 * stderr up under systemd).
 *
 * Format: "2026-11-25T12:00:00.123Z WARN  [module] message".  The level
 * threshold is process-wide (bk_logging_set_level); lines below it cost one
 * comparison.  Thread-safe: each line is written with a single write(2).
 */
#ifndef BK_LOGGING_H
#define BK_LOGGING_H

typedef enum bk_level {
    BK_LVL_DEBUG = 0,
    BK_LVL_INFO = 1,
    BK_LVL_WARN = 2,
    BK_LVL_ERROR = 3,
    BK_LVL_OFF = 4,
} bk_level;

extern bk_level bk_logging_threshold;

void bk_logging_set_level(bk_level lvl);
/* Parses "debug", "info", "warn", "error", "off" (case-insensitive).
 * Returns 0 or -BK_EINVAL. */
int bk_logging_parse_level(const char *s, bk_level *out);
const char *bk_logging_level_name(bk_level lvl);

void bk_logf(bk_level lvl, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define BK_LOG(lvl, mod, ...)                                                  \
    do {                                                                       \
        if ((lvl) >= bk_logging_threshold)                                     \
            bk_logf((lvl), (mod), __VA_ARGS__);                                \
    } while (0)
#define BK_DEBUG(mod, ...) BK_LOG(BK_LVL_DEBUG, mod, __VA_ARGS__)
#define BK_INFO(mod, ...)  BK_LOG(BK_LVL_INFO, mod, __VA_ARGS__)
#define BK_WARN(mod, ...)  BK_LOG(BK_LVL_WARN, mod, __VA_ARGS__)
#define BK_ERROR(mod, ...) BK_LOG(BK_LVL_ERROR, mod, __VA_ARGS__)

#endif
