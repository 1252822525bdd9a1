/*
 * fileio.h -- durable file helpers.
 *
 * Every durable file in Brook is either an append-only log recovered by CRC
 * or a small file replaced atomically: write "<path>.tmp", fsync it, rename
 * it over <path>, fsync the directory.  After a crash a reader sees the old
 * file or the new one, never a mix.  Any thread (blocking I/O).
 */
#ifndef BK_FILEIO_H
#define BK_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* Atomically replaces `path` with data[0..len).  0 or -BK_EIO (errno set;
 * the temp file is removed on failure and `path` is left as it was). */
int bk_file_write_atomic(const char *path, const void *data, size_t len);

/* Reads the whole file (at most `max` bytes; larger is -BK_ETOOBIG) into a
 * malloc'd NUL-terminated buffer that the caller frees.  -BK_ENOENT when
 * the file does not exist, -BK_EIO on other errors. */
int bk_file_read_all(const char *path, size_t max, char **out, size_t *len);

/* fsync()s a directory so that creations, renames and unlinks in it are
 * durable.  0 or -BK_EIO. */
int bk_fsync_dir(const char *dir);

/* fsync()s the directory that contains `path`. */
int bk_fsync_parent(const char *path);

/* mkdir -p with mode 0755.  0 or -BK_EIO. */
int bk_mkdirs(const char *path);

#endif
