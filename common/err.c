/* err.c -- names for Brook's local return codes (see err.h). */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *bk_strerror(int rc)
{
    if (rc < 0)
        rc = -rc;
    switch (rc) {
    case BK_OK:
        return "success";
    case BK_AGAIN:
        return "not complete yet";
    case BK_EINVAL:
        return "invalid input";
    case BK_ENOMEM:
        return "out of memory";
    case BK_EIO:
        return "I/O error";
    case BK_ECORRUPT:
        return "corrupt data";
    case BK_ETOOBIG:
        return "too big";
    case BK_ENOENT:
        return "not found";
    case BK_ERANGE:
        return "out of range";
    case BK_EUNSUPPORTED:
        return "unsupported";
    case BK_EEXIST:
        return "already exists";
    case BK_ECONFIG:
        return "configuration error";
    case BK_EPERM:
        return "not permitted";
    case BK_ECANCELED:
        return "canceled";
    case BK_ETIMEDOUT:
        return "timed out";
    }
    return "unknown error";
}

void bk_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
