/*
 * cu_main.c -- shared main() for the unit suites (see cu_main.h).
 */
#include "tests/unit/cu_main.h"

#include <CUnit/Basic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool bk_test_long;
unsigned long bk_test_seed;

static char test_dir[PATH_MAX];
static const char *prog_name = "test";

void bk_test_add_suite_fn(const char *name, CU_TestInfo *tests,
                          CU_InitializeFunc init, CU_CleanupFunc clean)
{
    CU_pSuite s = CU_add_suite(name, init, clean);
    if (!s) {
        fprintf(stderr, "cannot add suite %s: %s\n", name, CU_get_error_msg());
        exit(2);
    }
    for (CU_TestInfo *t = tests; t->pName; t++) {
        if (!CU_add_test(s, t->pName, t->pTestFunc)) {
            fprintf(stderr, "cannot add test %s: %s\n", t->pName,
                    CU_get_error_msg());
            exit(2);
        }
    }
}

void bk_test_add_suite(const char *name, CU_TestInfo *tests)
{
    bk_test_add_suite_fn(name, tests, NULL, NULL);
}

static int rm_rf(const char *path)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd);
}

const char *bk_test_dir(void)
{
    if (test_dir[0])
        return test_dir;
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(test_dir, sizeof test_dir, "%s/bk-%s-XXXXXX", base, prog_name);
    if (!mkdtemp(test_dir)) {
        perror("mkdtemp");
        exit(2);
    }
    return test_dir;
}

const char *bk_test_subdir(const char *name)
{
    static char path[PATH_MAX + 256];
    if (snprintf(path, sizeof path, "%s/%s", bk_test_dir(), name) >=
        (int)sizeof path) {
        fprintf(stderr, "test path too long: %s\n", name);
        exit(2);
    }
    rm_rf(path);
    if (mkdir(path, 0755) != 0) {
        perror(path);
        exit(2);
    }
    return path;
}

int main(int argc, char **argv)
{
    const char *slash = strrchr(argv[0], '/');
    prog_name = slash ? slash + 1 : argv[0];
    /* libtool-free build, but strip a "lt-" prefix anyway */
    if (strncmp(prog_name, "lt-", 3) == 0)
        prog_name += 3;

    const char *env = getenv("BK_TEST_LONG");
    bk_test_long = env && *env && strcmp(env, "0") != 0;
    env = getenv("BK_TEST_SEED");
    bk_test_seed = env && *env ? strtoul(env, NULL, 0)
                               : (unsigned long)time(NULL) ^
                                     ((unsigned long)getpid() << 16);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--long") == 0) {
            bk_test_long = true;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            bk_test_seed = strtoul(argv[++i], NULL, 0);
        } else {
            fprintf(stderr, "usage: %s [--long] [--seed N]\n", argv[0]);
            return 2;
        }
    }
    printf("%s: seed %lu%s (replay with --seed %lu)\n", prog_name, bk_test_seed,
           bk_test_long ? ", long run" : "", bk_test_seed);

    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
        return 2;
    }
    bk_test_register();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned run = CU_get_number_of_tests_run();
    unsigned tests_failed = CU_get_number_of_tests_failed();
    /* a suite whose setup failed ran no tests: count it as a failure */
    unsigned failed = tests_failed + CU_get_number_of_suites_failed();
    unsigned passed = run - tests_failed;
    CU_cleanup_registry();
    printf("\nBKTEST %s passed=%u failed=%u\n", prog_name, passed, failed);
    if (failed == 0 && test_dir[0])
        rm_rf(test_dir);
    else if (test_dir[0])
        printf("%s: files kept in %s\n", prog_name, test_dir);
    return failed ? 1 : 0;
}
