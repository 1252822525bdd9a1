/*
 * cu_main.h -- the shared main() of Brook's CUnit suites.
 *
 * Each test program defines bk_test_register(), which adds its suites with
 * bk_test_add_suite().  main() runs them, prints CUnit's verbose report and
 * one machine-readable line "BKTEST <program> passed=N failed=M" that
 * tests/run sums, and exits non-zero on any failure.
 *
 * Options: --long (or BK_TEST_LONG=1) for the longer randomized runs,
 * --seed N (or BK_TEST_SEED=N) to replay a randomized test.
 */
#ifndef BK_CU_MAIN_H
#define BK_CU_MAIN_H

#include <CUnit/CUnit.h>
#include <stdbool.h>

void bk_test_register(void);

/* Adds a suite; tests is terminated by CU_TEST_INFO_NULL. */
void bk_test_add_suite(const char *name, CU_TestInfo *tests);
/* Same, with per-suite setup/teardown. */
void bk_test_add_suite_fn(const char *name, CU_TestInfo *tests,
                          CU_InitializeFunc init, CU_CleanupFunc clean);

/* True when running with --long. */
extern bool bk_test_long;
/* The seed for randomized tests (printed at start). */
extern unsigned long bk_test_seed;

/* A fresh empty directory for this program's files, created on first use
 * under $TMPDIR (or /tmp) and removed at exit when every test passed (kept
 * for inspection on failure).  Returns its path. */
const char *bk_test_dir(void);
/* A fresh empty subdirectory of bk_test_dir() named `name` (removed and
 * re-created if it exists).  Returns a static buffer valid until the next
 * call. */
const char *bk_test_subdir(const char *name);

#endif
