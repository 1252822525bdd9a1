/*
 * checkpoint.h -- the broker's small checkpoint files (DESIGN.md section 8),
 * in the text format of Kafka's checkpoint files:
 *
 *   <version>\n
 *   <count>\n
 *   <field> <field> ...\n        (count lines)
 *
 * Broker-level files (one per log dir) map partitions to offsets, version 0,
 * lines "topic partition offset":
 *   recovery-point-offset-checkpoint   offsets below which each log is flushed
 *   replication-offset-checkpoint      high watermarks
 *   log-start-offset-checkpoint        log start offsets
 * The per-partition leader-epoch-checkpoint ("epoch start_offset" lines) is
 * parsed with the same generic reader (broker/epoch.c).
 *
 * Files are replaced atomically (common/fileio.h bk_file_write_atomic:
 * write <path>.tmp, fsync, rename, fsync the directory), so a reader sees
 * the old or the new file; a leftover <path>.tmp from a crash is ignored
 * and overwritten by the next write.  Reading is strict: a wrong version,
 * a count that does not match the lines, a bad number or trailing garbage
 * is -BK_ECORRUPT with a message naming the file and line.
 *
 * Plain data, no threads: a bk_ckpt belongs to whoever made it.
 */
#ifndef BK_CHECKPOINT_H
#define BK_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#define BK_CKPT_VERSION 0
/* Largest checkpoint file read (a broker with 100k partitions writes a
 * few MiB). */
#define BK_CKPT_MAX_FILE (64u << 20)
/* Longest field accepted on a line (topic names are at most 249 bytes). */
#define BK_CKPT_MAX_FIELD 255

/* ---------------------------- generic reader ---------------------------- */

/* Called once per entry line with its fields (NUL-terminated, nfields of
 * them).  Returns 0, or a negative code after writing a reason to err (the
 * caller adds file and line). */
typedef int (*bk_ckpt_line_fn)(void *arg, char **fields, char *err,
                               size_t errlen);

/* Parses text[0..len) with the expected version and fields per line,
 * calling fn for each entry.  `name` (a path) prefixes messages.  0,
 * -BK_ECORRUPT (err says why: "name:3: expected 3 fields, got 2"), or
 * fn's error.  err may be NULL. */
int bk_ckpt_parse(const char *name, const char *text, size_t len, int version,
                  int nfields, bk_ckpt_line_fn fn, void *arg, char *err,
                  size_t errlen);

/* Reads and parses a file.  -BK_ENOENT when it does not exist (not an
 * error for a fresh broker), -BK_ECORRUPT (the reason is also logged with
 * BK_WARN), -BK_EIO, -BK_ETOOBIG. */
int bk_ckpt_read_file(const char *path, int version, int nfields,
                      bk_ckpt_line_fn fn, void *arg, char *err, size_t errlen);

/* Parses a decimal int64 field in [min, max] ("-0", "+1", " 1", "1x" and
 * overflow are rejected).  0 or -BK_EINVAL. */
int bk_ckpt_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* ------------------------- topic partition offset ------------------------ */

typedef struct bk_ckpt_entry {
    char *topic; /* owned */
    int32_t partition;
    int64_t offset;
} bk_ckpt_entry;

/* A set of (topic, partition) -> offset, kept sorted by topic then
 * partition (so files are written in a stable order).  Zero-initialise or
 * use BK_CKPT_INIT. */
typedef struct bk_ckpt {
    bk_ckpt_entry *v;
    size_t n, cap;
} bk_ckpt;

#define BK_CKPT_INIT                                                           \
    {                                                                          \
        NULL, 0, 0                                                             \
    }

void bk_ckpt_free(bk_ckpt *c);
/* Inserts or replaces.  The topic must be 1..249 bytes of
 * [A-Za-z0-9._-] (Kafka's rule; nothing else can round-trip through the
 * file), partition >= 0, offset >= 0.  0, -BK_EINVAL, -BK_ENOMEM. */
int bk_ckpt_set(bk_ckpt *c, const char *topic, int32_t partition,
                int64_t offset);
/* 0 and *offset, or -BK_ENOENT. */
int bk_ckpt_get(const bk_ckpt *c, const char *topic, int32_t partition,
                int64_t *offset);
/* Removes an entry (a deleted partition).  0 or -BK_ENOENT. */
int bk_ckpt_remove(bk_ckpt *c, const char *topic, int32_t partition);

/* Replaces c's contents with the file's.  Errors as bk_ckpt_read_file()
 * (c is left empty on error).  Duplicate entries are -BK_ECORRUPT. */
int bk_ckpt_read(const char *path, bk_ckpt *c, char *err, size_t errlen);
/* Atomically writes c to path.  0, -BK_EIO, -BK_ENOMEM. */
int bk_ckpt_write(const char *path, const bk_ckpt *c);

#endif
