/*
 * err.h -- Brook's uniform local return codes.
 *
 * Every function that can fail returns 0 on success or a negative -BK_E*
 * value (STYLE.md rule 3).  Results travel through out-parameters.  Where a
 * result goes back to a client the code is a protocol error (BK_ERR_*, Kafka
 * numbering, see proto/protocol.h); the two spaces never mix in one return.
 *
 * BK_AGAIN means "not complete yet, call again when more input exists" in
 * non-blocking code (frame decoding, partial socket reads).
 */
#ifndef BK_ERR_H
#define BK_ERR_H

enum {
    BK_OK = 0,
    BK_AGAIN = 1,        /* not complete yet (positive: not a failure) */
    BK_EINVAL = 2,       /* malformed input or bad argument */
    BK_ENOMEM = 3,       /* allocation failed */
    BK_EIO = 4,          /* read/write/fsync failed (errno kept by caller) */
    BK_ECORRUPT = 5,     /* stored or received bytes fail validation (CRC...) */
    BK_ETOOBIG = 6,      /* over a configured size limit */
    BK_ENOENT = 7,       /* no such file, offset, key */
    BK_ERANGE = 8,       /* value or offset out of range */
    BK_EUNSUPPORTED = 9, /* unknown codec, magic, version */
    BK_EEXIST = 10,      /* already exists */
    BK_ECONFIG = 11,     /* configuration error (details from bk_cfg_errors) */
    BK_EPERM = 12,       /* not in this role (e.g. not the controller) */
    BK_ECANCELED = 13,   /* given up: the service is stopping */
    BK_ETIMEDOUT = 14,   /* not done within its deadline */
};

#include <stddef.h>

/* A short, static, human-readable name for a -BK_E* (or BK_AGAIN) code. */
const char *bk_strerror(int rc);

/* Formats an error message into err[0..errlen) for functions that report
 * details through an (err, errlen) out-parameter; does nothing when err is
 * NULL or errlen is 0.  Any thread. */
void bk_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
