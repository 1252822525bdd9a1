/*
 * logging.c -- leveled one-line logging to stderr (see logging.h).
 *
 * The line is formatted into a stack buffer and written with one write(2)
 * so that lines from several threads never interleave.
 */
#include "common/logging.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"

bk_level bk_logging_threshold = BK_LVL_INFO;

void bk_logging_set_level(bk_level lvl)
{
    bk_logging_threshold = lvl;
}

static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

const char *bk_logging_level_name(bk_level lvl)
{
    return (unsigned)lvl <= BK_LVL_OFF ? names[lvl] : "?";
}

int bk_logging_parse_level(const char *s, bk_level *out)
{
    for (int i = 0; i <= BK_LVL_OFF; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (bk_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = BK_LVL_WARN;
        return 0;
    }
    return -BK_EINVAL;
}

void bk_logf(bk_level lvl, const char *module, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                     bk_logging_level_name(lvl), module ? module : "-");
    if (n < 0)
        return;
    /* snprintf returns the untruncated length: a prefix that filled the
     * line must not send vsnprintf past the end with a wrapped size */
    if ((size_t)n > sizeof line - 2)
        n = (int)(sizeof line - 2);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2; /* truncated line */
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere left to report a failed log write */
}
