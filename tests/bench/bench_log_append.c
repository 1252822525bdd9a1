/*
 * bench_log_append.c -- append throughput of the partition log against
 * plain write(2) of the same bytes.
 *
 * Builds a set of 16 KiB RecordBatch v2 batches of 100-byte records once
 * (the builder), then appends 512 MiB of them through bk_log_append()
 * (validation, offset assignment, segment write, index) and writes the
 * same buffers, in the same sizes and order, with write(2) to a plain file
 * in the same directory.  The log rewrites each batch's base offset and
 * leader epoch in place, which is all a re-append needs.  Neither side
 * fsyncs (the log's default).  Runs alternate (plain, log, plain, log...)
 * and the best run of each is reported, with the ratio log / plain.
 *
 * Usage: bench_log_append [--mib N] [--batch-kib N] [--record N]
 *                         [--rounds N] [--segment-mib N] [--dir DIR]
 * The files go in a fresh temporary directory under DIR (default $TMPDIR
 * or /tmp) and are removed at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/log.h"
#include "common/batch.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/logging.h"

#define NBATCH 64 /* distinct batches, cycled */

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_log_append: %s: %s\n", what,
            rc ? bk_strerror(rc) : strerror(errno));
    exit(1);
}

static void rm_rf(const char *dir)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_log_append: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
    long mib = 512, batch_kib = 16, record = 100, rounds = 3,
         segment_mib = 1024;
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    for (int i = 1; i < argc; i++) {
        long *v = NULL;
        if (strcmp(argv[i], "--mib") == 0)
            v = &mib;
        else if (strcmp(argv[i], "--batch-kib") == 0)
            v = &batch_kib;
        else if (strcmp(argv[i], "--record") == 0)
            v = &record;
        else if (strcmp(argv[i], "--rounds") == 0)
            v = &rounds;
        else if (strcmp(argv[i], "--segment-mib") == 0)
            v = &segment_mib;
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            base = argv[++i];
            continue;
        }
        if (!v || i + 1 >= argc || (*v = strtol(argv[++i], NULL, 10)) <= 0) {
            fprintf(stderr,
                    "usage: %s [--mib N] [--batch-kib N] [--record N] "
                    "[--rounds N] [--segment-mib N] [--dir DIR]\n",
                    argv[0]);
            return 2;
        }
    }
    if (segment_mib > 2047)
        segment_mib = 2047;
    bk_logging_set_level(BK_LVL_WARN);

    /* the batches: 100-byte values (random bytes), no key */
    bk_buf batches[NBATCH];
    uint8_t *val = malloc((size_t)record);
    unsigned seed = 12345;
    size_t total_batch_bytes = 0;
    for (int b = 0; b < NBATCH; b++) {
        bk_batch_builder bb;
        int rc = bk_batch_builder_init(&bb, BK_CODEC_NONE);
        if (rc != 0)
            die("builder", rc);
        int64_t ts = bk_clock_wall_ms();
        for (;;) {
            for (long j = 0; j < record; j++)
                val[j] = (uint8_t)(rand_r(&seed) >> 7);
            bk_record r = {NULL, -1, val, (int32_t)record, ts, NULL, 0};
            /* stop before the batch would pass batch_kib */
            if (bb.count > 0 &&
                bk_batch_builder_size(&bb) + (size_t)record + 16 >
                    (size_t)batch_kib * 1024)
                break;
            if ((rc = bk_batch_builder_add(&bb, &r)) != 0)
                die("builder add", rc);
        }
        bk_buf_init(&batches[b]);
        if ((rc = bk_batch_builder_finish(&bb, &batches[b])) != 0)
            die("builder finish", rc);
        bk_batch_builder_free(&bb);
        total_batch_bytes += batches[b].len;
    }
    free(val);
    size_t avg = total_batch_bytes / NBATCH;
    long appends = (long)(((uint64_t)mib << 20) / avg);
    uint64_t bytes = 0;
    for (long i = 0; i < appends; i++)
        bytes += batches[i % NBATCH].len;

    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/bench-log-append-XXXXXX", base);
    if (!mkdtemp(dir))
        die(dir, 0);
    char plain[PATH_MAX + 16];
    snprintf(plain, sizeof plain, "%s/plain", dir);

    bk_log_config cfg;
    bk_log_config_default(&cfg);
    cfg.segment_bytes = segment_mib << 20;
    cfg.max_message_bytes = (int32_t)(batch_kib * 1024 * 2);

    printf("bench_log_append: %ld appends of ~%zu-byte batches "
           "(%ld-byte records), %.1f MiB per run, crc32c %s, in %s\n",
           appends, avg, record, bytes / 1048576.0,
           bk_crc32c_hw_available() ? "hardware" : "software", dir);
    double best_plain = 0, best_log = 0;
    for (long r = 0; r < rounds; r++) {
        /* plain write(2) */
        int fd = open(plain, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            die(plain, 0);
        int64_t t0 = bk_clock_mono_ns();
        for (long i = 0; i < appends; i++) {
            const bk_buf *b = &batches[i % NBATCH];
            if (write(fd, b->data, b->len) != (ssize_t)b->len)
                die("write", 0);
        }
        int64_t t1 = bk_clock_mono_ns();
        close(fd);
        unlink(plain);
        double mbs = bytes / 1048576.0 / ((t1 - t0) / 1e9);
        if (mbs > best_plain)
            best_plain = mbs;
        printf("  round %ld: plain write  %8.1f MiB/s\n", r + 1, mbs);

        /* the log */
        bk_log *log;
        int rc = bk_log_open(dir, "bench", 0, &cfg, 0, 0, &log);
        if (rc != 0)
            die("bk_log_open", rc);
        t0 = bk_clock_mono_ns();
        for (long i = 0; i < appends; i++) {
            bk_buf *b = &batches[i % NBATCH];
            rc = bk_log_append(log, b->data, b->len, 0, NULL);
            if (rc != 0)
                die("bk_log_append", rc);
        }
        t1 = bk_clock_mono_ns();
        int64_t leo = bk_log_end_offset(log);
        bk_log_close(log);
        char pdir[PATH_MAX + 16];
        snprintf(pdir, sizeof pdir, "%s/bench-0", dir);
        rm_rf(pdir);
        mbs = bytes / 1048576.0 / ((t1 - t0) / 1e9);
        if (mbs > best_log)
            best_log = mbs;
        printf("  round %ld: bk_log_append %8.1f MiB/s (%lld records)\n", r + 1,
               mbs, (long long)leo);
    }
    rm_rf(dir);
    printf("plain write:    %.1f MiB/s\n", best_plain);
    printf("bk_log_append:  %.1f MiB/s\n", best_log);
    printf("ratio:          %.2f (target >= 0.80)\n", best_log / best_plain);
    for (int b = 0; b < NBATCH; b++)
        bk_buf_free(&batches[b]);
    return 0;
}
