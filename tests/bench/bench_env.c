/*
 * bench_env.c -- what the cluster harness needs from tests/unit/cu_main.c
 * (bk_test_dir, bk_test_subdir, bk_test_long, bk_test_seed), for benchmark
 * programs that are plain programs rather than CUnit suites.  Their files
 * go to a fresh directory under $TMPDIR (or /tmp), which the benchmark
 * removes when it is done.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tests/unit/cu_main.h"

bool bk_test_long;
unsigned long bk_test_seed;
static char test_dir[PATH_MAX];

const char *bk_test_dir(void)
{
    if (test_dir[0])
        return test_dir;
    const char *base = getenv("TMPDIR");
    snprintf(test_dir, sizeof test_dir, "%s/bk-bench-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(test_dir)) {
        perror("mkdtemp");
        exit(2);
    }
    return test_dir;
}

const char *bk_test_subdir(const char *name)
{
    static char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", bk_test_dir(), name);
    mkdir(path, 0755);
    return path;
}
