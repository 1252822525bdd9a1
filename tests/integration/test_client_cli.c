/*
 * test_client_cli.c -- the `brook` command line against a real cluster
 * (ZooKeeper + two brookd, tests/harness): `produce --report` and
 * `consume -e` round trip with keys, formats, counts, start offsets and
 * timestamps, acks=0, and the error messages and exit codes of --help
 * (1: unknown topic or partition, 2: usage, 3: no broker reachable).
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/partitioner.h"
#include "common/clock.h"
#include "tests/harness/harness.h"
#include "tests/unit/cu_main.h"

extern char **environ;

static bk_h_cluster *cl;

static int suite_init(void)
{
    cl = bk_h_cluster_start("cli", 1, 2, NULL);
    if (!cl)
        return -1;
    const char *args[] = {"topics",
                          "create",
                          "--topic",
                          "cli",
                          "--partitions",
                          "3",
                          "--replication-factor",
                          "1",
                          NULL};
    char out[1024];
    if (bk_h_brookctl(cl, out, sizeof out, args) != 0) {
        fprintf(stderr, "brookctl: %s\n", out);
        return -1;
    }
    for (int i = 0; i < cl->n; i++)
        if (bk_h_wait_topic(cl, i, "cli", 3, 20000) != 0)
            return -1;
    return 0;
}

static int suite_clean(void)
{
    bk_h_cluster_stop(cl);
    cl = NULL;
    return 0;
}

/* The output of one run (owned, NUL-terminated). */
typedef struct run {
    int code;
    char *out, *err;
    size_t outlen;
} run;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    if (len)
        *len = got;
    return b;
}

/* Runs brook with args (NULL-terminated), stdin from `in` (may be NULL:
 * /dev/null). */
static run brook(const char *in, const char *const *args)
{
    static int seq;
    char dir[512], pin[600], pout[600], perr[600];
    snprintf(dir, sizeof dir, "%s", bk_test_dir());
    seq++;
    snprintf(pin, sizeof pin, "%s/in-%d", dir, seq);
    snprintf(pout, sizeof pout, "%s/out-%d", dir, seq);
    snprintf(perr, sizeof perr, "%s/err-%d", dir, seq);
    FILE *f = fopen(pin, "wb");
    if (in)
        fputs(in, f);
    fclose(f);
    char *argv[64];
    int n = 0;
    static char bin[1024];
    snprintf(bin, sizeof bin, "%s", bk_h_bin("client/brook"));
    argv[n++] = bin;
    for (; *args && n < 63; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, pin, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, pout, O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&fa, 2, perr, O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    pid_t pid;
    run r = {.code = -1};
    if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) == 0) {
        int st;
        waitpid(pid, &st, 0);
        r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    posix_spawn_file_actions_destroy(&fa);
    r.out = slurp(pout, &r.outlen);
    r.err = slurp(perr, NULL);
    return r;
}

static void run_free(run *r)
{
    free(r->out);
    free(r->err);
}

#define N_LINES 1000

static void test_produce_report_consume(void)
{
    /* keyed lines "key-i%50:value-i" */
    size_t cap = N_LINES * 40;
    char *in = malloc(cap), *w = in;
    for (int i = 0; i < N_LINES; i++)
        w += sprintf(w, "key-%d:value-%d\n", i % 50, i);
    const char *pargs[] = {"produce", "-b", cl->bootstrap, "-t", "cli",
                           "-K",      ":",  "--report",    NULL};
    run r = brook(in, pargs);
    CU_ASSERT_EQUAL(r.code, 0);
    if (r.code != 0)
        fprintf(stderr, "stderr: %s\n", r.err);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "1000 records delivered"));
    /* one "partition offset" line per record; lines of one partition come
     * in the input order of its records (partitions interleave), so the
     * k-th line naming partition p is the k-th input record hashed to p */
    int part[N_LINES];
    long long off[N_LINES];
    int order[3][N_LINES], norder[3] = {0, 0, 0}, taken[3] = {0, 0, 0};
    for (int i = 0; i < N_LINES; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "key-%d", i % 50);
        int p = bk_part_for_key(k, (size_t)kl, 3);
        order[p][norder[p]++] = i;
        part[i] = -1;
    }
    int lines = 0;
    int bad = 0;
    char *save, *line = strtok_r(r.out, "\n", &save);
    while (line && lines < N_LINES) {
        int p;
        long long o;
        if (sscanf(line, "%d %lld", &p, &o) != 2 || p < 0 || p > 2 ||
            taken[p] >= norder[p]) {
            bad++;
        } else {
            int i = order[p][taken[p]];
            part[i] = p;
            off[i] = o;
            /* a fresh topic: the k-th record of p has offset k */
            if (o != taken[p])
                bad++;
            taken[p]++;
        }
        lines++;
        line = strtok_r(NULL, "\n", &save);
    }
    CU_ASSERT_EQUAL(lines, N_LINES);
    CU_ASSERT_EQUAL(bad, 0);
    run_free(&r);

    /* consume everything back with a format; -e stops at the end */
    const char *cargs[] = {
        "consume", "-b", cl->bootstrap,          "-t", "cli", "-o", "beginning",
        "-e",      "-f", "%p %o %k=%s %K %S\\n", NULL};
    r = brook(NULL, cargs);
    CU_ASSERT_EQUAL(r.code, 0);
    int seen[N_LINES] = {0};
    int got = 0;
    bad = 0;
    line = strtok_r(r.out, "\n", &save);
    while (line) {
        int p, ki, vi, kl, vl;
        long long o;
        if (sscanf(line, "%d %lld key-%d=value-%d %d %d", &p, &o, &ki, &vi, &kl,
                   &vl) != 6 ||
            vi < 0 || vi >= N_LINES) {
            bad++;
        } else {
            /* the record is where --report said it went */
            if (part[vi] != p || off[vi] != o || ki != vi % 50 || vl < 7)
                bad++;
            seen[vi]++;
        }
        got++;
        line = strtok_r(NULL, "\n", &save);
    }
    CU_ASSERT_EQUAL(got, N_LINES);
    CU_ASSERT_EQUAL(bad, 0);
    int once = 0;
    for (int i = 0; i < N_LINES; i++)
        once += seen[i] == 1;
    CU_ASSERT_EQUAL(once, N_LINES);
    run_free(&r);

    /* -c and -p and a start offset */
    const char *c2[] = {"consume", "-b", cl->bootstrap, "-t", "cli",
                        "-p",      "1",  "-o",          "3",  "-c",
                        "4",       "-f", "%o\\n",       NULL};
    r = brook(NULL, c2);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "3\n4\n5\n6\n");
    run_free(&r);
    free(in);
}

static void test_timestamps_and_acks0(void)
{
    /* a fresh topic; its records all come after t_mid */
    const char *args[] = {"topics",
                          "create",
                          "--topic",
                          "cli-ts",
                          "--partitions",
                          "1",
                          "--replication-factor",
                          "1",
                          NULL};
    CU_ASSERT_EQUAL_FATAL(bk_h_brookctl(cl, NULL, 0, args), 0);
    for (int i = 0; i < cl->n; i++)
        CU_ASSERT_EQUAL_FATAL(bk_h_wait_topic(cl, i, "cli-ts", 1, 20000), 0);
    const char *p1[] = {"produce", "-b",       cl->bootstrap, "-t",
                        "cli-ts",  "--report", "-q",          NULL};
    run r = brook("a\nb\n", p1);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "0 0\n0 1\n");
    CU_ASSERT_STRING_EQUAL(r.err, ""); /* -q */
    run_free(&r);
    bk_h_sleep_ms(20);
    char at[64];
    snprintf(at, sizeof at, "s@%lld", (long long)bk_clock_wall_ms());
    bk_h_sleep_ms(20);
    /* acks=0: no offsets known; a last line without newline counts */
    const char *p2[] = {"produce", "-b", cl->bootstrap, "-t", "cli-ts",
                        "--acks",  "0",  "--report",    NULL};
    r = brook("c\nd", p2);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "0 -1\n0 -1\n");
    run_free(&r);
    /* from the timestamp on: only c and d */
    const char *c1[] = {"consume", "-b", cl->bootstrap, "-t", "cli-ts",
                        "-o",      at,   "-e",          "-f", "%o:%s\\n",
                        NULL};
    int64_t deadline = bk_clock_mono_ms() + 10000;
    do {
        /* acks=0 records may take a moment to be appended */
        r = brook(NULL, c1);
        if (strcmp(r.out, "2:c\n3:d\n") == 0 || bk_clock_mono_ms() > deadline)
            break;
        run_free(&r);
        bk_h_sleep_ms(100);
    } while (1);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "2:c\n3:d\n");
    run_free(&r);
    /* -o end -e: nothing, at once */
    const char *c2[] = {"consume", "-b",  cl->bootstrap, "-t", "cli-ts",
                        "-o",      "end", "-e",          NULL};
    r = brook(NULL, c2);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    run_free(&r);
}

static void test_errors_and_exit_codes(void)
{
    const char *a1[] = {"consume", "-b", cl->bootstrap, "-t",
                        "nope",    "-e", NULL};
    run r = brook(NULL, a1);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(r.err, "topic 'nope' does not exist (UNKNOWN_TOPIC_OR_PART)"));
    run_free(&r);

    const char *a2[] = {"produce", "-b", cl->bootstrap, "-t",
                        "cli",     "-p", "9",           NULL};
    r = brook("x\n", a2);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "partition 9 does not exist"));
    run_free(&r);

    /* nothing listens on a fresh free port */
    char dead[64];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", bk_h_free_port());
    const char *a3[] = {"produce", "-b",        dead,   "-t",
                        "cli",     "--timeout", "1000", NULL};
    r = brook("x\n", a3);
    CU_ASSERT_EQUAL(r.code, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "cannot reach any broker"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "Connection refused"));
    run_free(&r);

    const char *a4[] = {"consume", "-b", cl->bootstrap, "-t",
                        "cli",     "-o", "yesterday",   NULL};
    r = brook(NULL, a4);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "-o: 'yesterday'"));
    run_free(&r);

    const char *a5[] = {"consume", "-b", cl->bootstrap, "-t",
                        "cli",     "-f", "%z",          NULL};
    r = brook(NULL, a5);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "unknown conversion '%z'"));
    run_free(&r);

    const char *a6[] = {"produce", "-b", cl->bootstrap, "-t",
                        "cli",     "-X", "lingr.ms=1",  NULL};
    r = brook("x\n", a6);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "unknown configuration key"));
    run_free(&r);

    const char *a7[] = {"produce", "-t", "cli", NULL};
    r = brook(NULL, a7);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "-b HOST:PORT"));
    run_free(&r);

    const char *a8[] = {"--help", NULL};
    r = brook(NULL, a8);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "exit codes:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "3  no broker could be reached"));
    run_free(&r);
}

static void test_dead_bootstrap_first(void)
{
    /* the first bootstrap server is dead: the client moves on */
    char list[600];
    snprintf(list, sizeof list, "127.0.0.1:%d,%s", bk_h_free_port(),
             cl->bootstrap);
    const char *p[] = {"produce", "-b", list,       "-t", "cli",
                       "-p",      "0",  "--report", "-q", NULL};
    run r = brook("one\n", p);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_EQUAL(strncmp(r.out, "0 ", 2), 0);
    run_free(&r);
    const char *c[] = {"consume", "-b", list,  "-t", "cli", "-p",
                       "0",       "-o", "end", "-e", NULL};
    r = brook(NULL, c);
    CU_ASSERT_EQUAL(r.code, 0);
    run_free(&r);
}

static CU_TestInfo cli_tests[] = {
    {"produce --report / consume -e round trip", test_produce_report_consume},
    {"timestamps, acks=0, -o end", test_timestamps_and_acks0},
    {"errors and exit codes", test_errors_and_exit_codes},
    {"a dead bootstrap server first", test_dead_bootstrap_first},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("brook-cli", cli_tests, suite_init, suite_clean);
}
