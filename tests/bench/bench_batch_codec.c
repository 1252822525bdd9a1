/*
 * bench_batch_codec.c -- throughput of RecordBatch v2 building, validation
 * and CRC-32C (common/batch.c, common/crc32c.c), with a memcpy baseline
 * measured in the same run so that numbers from different machines can be
 * compared as ratios.
 *
 * Workload: 100-byte values (null key, no headers, rising timestamps) in
 * batches of up to 16 KiB, the shape of a producer's default batch.size.
 * Each measurement repeats its loop for a fixed time (--time SECONDS, 0.7
 * by default), so the whole run takes a few seconds.
 *
 * Targets (DESIGN/brief): >= 5 M records/s built on one core, CRC-32C
 * >= 2 GB/s on the hardware path.  --check makes a missed target exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/batch.h"
#include "common/clock.h"
#include "common/compress.h"
#include "common/crc32c.h"
#include "common/err.h"

#define VALUE_SIZE    100
#define BATCH_BYTES   (16 * 1024)
#define CRC_BUF       (1024 * 1024)
#define TARGET_BUILD  5e6
#define TARGET_CRC_HW 2e9

static double run_time = 0.7;
/* Keeps results alive so the compiler cannot drop the measured work. */
static volatile uint64_t sink;

static double now_s(void)
{
    return (double)bk_clock_mono_ns() / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_batch_codec: %s: %s\n", what, bk_strerror(rc));
    exit(2);
}

#define NVALUES 1024

/* Values: JSON-like events with varying numbers and words, so that the
 * compressed rows see data that compresses like typical payloads (a few
 * times), not one repeated string. */
static void fill_values(uint8_t *v)
{
    static const char *const ev[] = {"click", "view",   "purchase", "scroll",
                                     "login", "logout", "search"};
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < NVALUES; i++) {
        char tmp[2 * VALUE_SIZE];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int n = snprintf(tmp, sizeof tmp,
                         "{\"user\":%u,\"event\":\"%s\",\"page\":\"/p/%u\","
                         "\"ts\":%llu,\"ms\":%u,\"pad\":\"%08x%08x\"}",
                         (unsigned)(x % 1000000), ev[(x >> 20) % 7],
                         (unsigned)((x >> 24) % 5000),
                         (unsigned long long)(1700000000000ULL + (x >> 40)),
                         (unsigned)((x >> 8) % 900), (unsigned)(x >> 3),
                         (unsigned)(x >> 33));
        for (int k = n; k < VALUE_SIZE; k++)
            tmp[k] = ' ';
        memcpy(v + (size_t)i * VALUE_SIZE, tmp, VALUE_SIZE);
    }
}

/* Adds records to b until the next one would pass BATCH_BYTES, finishes
 * into out (reset first).  Returns the number of records. */
static int build_one(bk_batch_builder *b, bk_buf *out, const uint8_t *values,
                     int64_t *ts)
{
    bk_record r;
    memset(&r, 0, sizeof r);
    r.key_len = -1;
    r.value_len = VALUE_SIZE;
    bk_batch_builder_reset(b);
    /* 100-byte value + ~8 bytes of record framing */
    while (bk_batch_builder_size(b) + VALUE_SIZE + 16 <= BATCH_BYTES) {
        r.value = values + (size_t)(*ts % NVALUES) * VALUE_SIZE;
        r.timestamp = (*ts)++;
        int rc = bk_batch_builder_add(b, &r);
        if (rc != 0)
            die("add", rc);
    }
    bk_buf_reset(out);
    int rc = bk_batch_builder_finish(b, out);
    if (rc != 0)
        die("finish", rc);
    return b->count;
}

typedef struct result {
    double recs_per_s;
    double bytes_per_s; /* uncompressed batch bytes per second */
    double ratio;       /* uncompressed / stored */
} result;

static result bench_build(int codec, const uint8_t *values)
{
    bk_batch_builder b;
    int rc = bk_batch_builder_init(&b, codec);
    if (rc != 0)
        die("builder_init", rc);
    bk_buf out = BK_BUF_INIT;
    int64_t ts = 1700000000000LL;
    uint64_t recs = 0, bytes = 0, plain = 0;
    build_one(&b, &out, values, &ts); /* warm up: allocations happen here */
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 16; i++) {
            recs += (uint64_t)build_one(&b, &out, values, &ts);
            bytes += out.len;
            plain += bk_batch_builder_size(&b);
        }
        t = now_s() - t0;
    } while (t < run_time);
    sink += out.data[out.len - 1];
    bk_buf_free(&out);
    bk_batch_builder_free(&b);
    return (result){(double)recs / t, (double)plain / t,
                    (double)plain / (double)bytes};
}

static result bench_validate(int codec, const uint8_t *values)
{
    bk_batch_builder b;
    int rc = bk_batch_builder_init(&b, codec);
    if (rc != 0)
        die("builder_init", rc);
    bk_buf out = BK_BUF_INIT;
    int64_t ts = 1700000000000LL;
    int n = build_one(&b, &out, values, &ts);
    size_t plain = bk_batch_builder_size(&b);
    rc = bk_batch_validate(out.data, out.len, 1 << 20, NULL);
    if (rc != 0)
        die("validate", rc);
    uint64_t recs = 0, bytes = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 16; i++) {
            if (bk_batch_validate(out.data, out.len, 1 << 20, NULL) != 0)
                die("validate", -BK_ECORRUPT);
            recs += (uint64_t)n;
            bytes += plain;
        }
        t = now_s() - t0;
    } while (t < run_time);
    result res = {(double)recs / t, (double)bytes / t,
                  (double)plain / (double)out.len};
    bk_buf_free(&out);
    bk_batch_builder_free(&b);
    return res;
}

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static double bench_crc(crc_fn fn, const uint8_t *p, size_t n)
{
    uint64_t bytes = 0;
    uint32_t c = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 8; i++) {
            c = fn(c, p, n);
            bytes += n;
        }
        t = now_s() - t0;
    } while (t < run_time);
    sink += c;
    return (double)bytes / t;
}

static double bench_memcpy(uint8_t *dst, const uint8_t *src, size_t n)
{
    uint64_t bytes = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 8; i++) {
            memcpy(dst, src, n);
            /* the copy must be observable, and depend on the loop */
            sink += dst[(bytes >> 10) % n];
            bytes += n;
        }
        t = now_s() - t0;
    } while (t < run_time);
    return (double)bytes / t;
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--time SECONDS] [--check] [--no-codecs]\n"
            "  --time S     seconds per measurement (default 0.7)\n"
            "  --check      exit 1 when a target is missed\n"
            "  --no-codecs  skip the gzip/lz4/zstd rows\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    bool check = false, codecs = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
            run_time = atof(argv[++i]);
            if (run_time <= 0 || run_time > 5)
                return usage(argv[0]);
        } else if (strcmp(argv[i], "--check") == 0) {
            check = true;
        } else if (strcmp(argv[i], "--no-codecs") == 0) {
            codecs = false;
        } else {
            return usage(argv[0]);
        }
    }

    static uint8_t values[NVALUES * VALUE_SIZE];
    fill_values(values);

    printf("RecordBatch v2: %d-byte values, null keys, batches <= %d KiB, "
           "%.1f s per row\n\n",
           VALUE_SIZE, BATCH_BYTES / 1024, run_time);
    printf("(MB/s of uncompressed batch bytes; ratio = uncompressed / "
           "stored)\n");
    printf("%-6s %14s %11s %16s %11s %7s\n", "codec", "built rec/s",
           "built MB/s", "validated rec/s", "valid. MB/s", "ratio");
    result build_none = bench_build(BK_CODEC_NONE, values);
    result val_none = bench_validate(BK_CODEC_NONE, values);
    printf("%-6s %14.3e %11.0f %16.3e %11.0f %7.2f\n", "none",
           build_none.recs_per_s, build_none.bytes_per_s / 1e6,
           val_none.recs_per_s, val_none.bytes_per_s / 1e6, build_none.ratio);
    if (codecs) {
        const int cs[] = {BK_CODEC_LZ4, BK_CODEC_ZSTD, BK_CODEC_GZIP};
        for (int i = 0; i < 3; i++) {
            result bu = bench_build(cs[i], values);
            result va = bench_validate(cs[i], values);
            printf("%-6s %14.3e %11.0f %16.3e %11.0f %7.2f\n",
                   bk_codec_name(cs[i]), bu.recs_per_s, bu.bytes_per_s / 1e6,
                   va.recs_per_s, va.bytes_per_s / 1e6, bu.ratio);
        }
    }

    /* CRC-32C and memcpy over the same bytes: 1 MiB of real batches */
    uint8_t *src = malloc(CRC_BUF), *dst = malloc(CRC_BUF);
    if (!src || !dst)
        die("malloc", -BK_ENOMEM);
    {
        bk_batch_builder b;
        bk_buf out = BK_BUF_INIT;
        int64_t ts = 0;
        bk_batch_builder_init(&b, BK_CODEC_NONE);
        for (size_t off = 0; off < CRC_BUF;) {
            build_one(&b, &out, values, &ts);
            size_t n = out.len < CRC_BUF - off ? out.len : CRC_BUF - off;
            memcpy(src + off, out.data, n);
            off += n;
        }
        bk_buf_free(&out);
        bk_batch_builder_free(&b);
    }
    memset(dst, 0, CRC_BUF);
    bool hw = bk_crc32c_hw_available();
    double crc_hw = hw ? bench_crc(bk_crc32c_hw, src, CRC_BUF) : 0;
    double crc_sw = bench_crc(bk_crc32c_sw, src, CRC_BUF);
    double mcpy = bench_memcpy(dst, src, CRC_BUF);
    if (hw && bk_crc32c_hw(0, src, CRC_BUF) != bk_crc32c_sw(0, src, CRC_BUF))
        die("crc32c hw and sw disagree", -BK_ECORRUPT);

    printf("\nover the same %d KiB of batches:\n", CRC_BUF / 1024);
    printf("  memcpy (baseline)   %6.2f GB/s\n", mcpy / 1e9);
    if (hw)
        printf("  CRC-32C hardware    %6.2f GB/s  (%.2f x memcpy)\n",
               crc_hw / 1e9, crc_hw / mcpy);
    else
        printf("  CRC-32C hardware    not available on this CPU\n");
    printf("  CRC-32C software    %6.2f GB/s  (%.2f x memcpy)\n", crc_sw / 1e9,
           crc_sw / mcpy);
    printf("  build (none)        %6.2f GB/s  (%.2f x memcpy)\n",
           build_none.bytes_per_s / 1e9, build_none.bytes_per_s / mcpy);
    printf("  validate (none)     %6.2f GB/s  (%.2f x memcpy)\n",
           val_none.bytes_per_s / 1e9, val_none.bytes_per_s / mcpy);

    bool ok_build = build_none.recs_per_s >= TARGET_BUILD;
    bool ok_crc = hw && crc_hw >= TARGET_CRC_HW;
    printf("\ntargets:\n");
    printf("  build >= %.0f M records/s: %.2f M  %s\n", TARGET_BUILD / 1e6,
           build_none.recs_per_s / 1e6, ok_build ? "MET" : "MISSED");
    printf("  CRC-32C hw >= %.0f GB/s:     %.2f     %s\n", TARGET_CRC_HW / 1e9,
           crc_hw / 1e9, ok_crc ? "MET" : "MISSED");
    free(src);
    free(dst);
    return check && !(ok_build && ok_crc) ? 1 : 0;
}
