/*
 * test_metrics.c -- brookd's Prometheus endpoint (metrics.listener, issue
 * #6) on three real brokers and a real ZooKeeper.
 *
 * Every scrape goes through a strict checker of the text exposition
 * format written here (HELP/TYPE before samples, one TYPE per family,
 * families contiguous, legal names and labels, escapes, values, no
 * duplicate series, histograms with increasing le, cumulative buckets,
 * +Inf == _count, a _sum) and, when /usr/bin/promtool exists, through
 * `promtool check metrics` (skipped, not failed, without it).
 *
 *   - basics: status, Content-Type, ZooKeeper session state 1 everywhere,
 *     exactly one broker says brook_active_controller 1;
 *   - traffic: N records produced in batches and fetched back by a
 *     consumer move the topic's bytes/records in/out counters on the
 *     leader by exactly the batch bytes and records; Produce / Fetch /
 *     Metadata request counts grow; each API's histogram _count equals
 *     its request count; followers' fetches show up as replication bytes;
 *     log end offset, start offset and high watermark match ListOffsets;
 *   - ISR: a SIGSTOPped follower past replica.lag.time.max.ms makes the
 *     leader report an under-replicated partition and an ISR shrink; after
 *     SIGCONT it rejoins: 0 under-replicated, an ISR expansion;
 *   - offline: the brokers of an RF=1 topic's partitions killed: the
 *     controller (only it) reports offline partitions; back to 0 once they
 *     return;
 *   - bad HTTP: garbage, a huge header, a POST, a slowloris connection:
 *     the right status (or a close), and the broker goes on serving
 *     produce and scrapes.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "proto/protocol.h"
#include "tests/harness/harness.h"
#include "tests/integration/brokertest.h"
#include "tests/unit/cu_main.h"

#define NBROKERS 3
#define LAG_MS   1000

static bk_h_cluster *cl;
static int mport[NBROKERS]; /* metrics port of broker i */
static int slow_fd = -1;    /* the slowloris connection */
static int64_t slow_t0;

/* ----------------------------- the cluster ----------------------------- */

static int write_props(int i)
{
    bk_h_broker *b = &cl->broker[i];
    char path[600];
    snprintf(path, sizeof path, "%s/broker.properties", b->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "broker.id=%d\n"
            "listeners=PLAINTEXT://127.0.0.1:%d\n"
            "log.dirs=%s/logs\n"
            "zookeeper.connect=%s\n"
            "zookeeper.session.timeout.ms=6000\n"
            "zookeeper.connection.timeout.ms=10000\n"
            "replica.lag.time.max.ms=%d\n"
            "metrics.listener=127.0.0.1:%d\n"
            "log.level=info\n",
            b->id, b->port, b->dir, cl->zk_connect, LAG_MS, mport[i]);
    fclose(f);
    return 0;
}

/* The harness writes one broker.properties for all brokers; each of ours
 * needs its own metrics port, so the brokers are set up here on the
 * harness's ZooKeeper (same layout: <dir>/broker<id>/). */
static int suite_init(void)
{
    cl = bk_h_cluster_start("metrics", 1, 0, NULL);
    if (!cl)
        return -1;
    cl->n = NBROKERS;
    size_t off = 0;
    for (int i = 0; i < NBROKERS; i++) {
        bk_h_broker *b = &cl->broker[i];
        b->id = i + 1;
        b->port = bk_h_free_port();
        mport[i] = bk_h_free_port();
        snprintf(b->dir, sizeof b->dir, "%s/broker%d", cl->dir, b->id);
        mkdir(b->dir, 0755);
        off += (size_t)snprintf(cl->bootstrap + off, sizeof cl->bootstrap - off,
                                "%s127.0.0.1:%d", i ? "," : "", b->port);
        if (write_props(i) != 0)
            return -1;
    }
    for (int i = 0; i < NBROKERS; i++)
        if (bk_h_broker_start(cl, i, true) != 0)
            return -1;
    return 0;
}

static int suite_clean(void)
{
    if (slow_fd >= 0)
        close(slow_fd);
    /* A sanitizer report in a broker's log fails the suite. */
    int bad = cl ? bk_h_cluster_log_problems(cl) : 0;
    bk_h_cluster_stop(cl);
    cl = NULL;
    return bad ? 1 : 0;
}

/* ------------------------------ HTTP client ------------------------------ */

/* Sends req to 127.0.0.1:port and reads until the server closes.  Returns
 * the answer (malloc'd, NUL-terminated) or NULL when nothing came. */
static char *http_raw(int port, const void *req, size_t len)
{
    int fd = bk_h_connect(port);
    if (fd < 0)
        return NULL;
    if (len && bk_h_send_raw(fd, req, len) != 0) {
        /* The server may cut a large request off early: read what it
         * said anyway. */
    }
    bk_buf in = BK_BUF_INIT;
    for (;;) {
        if (bk_buf_reserve(&in, 65536) != 0)
            break;
        ssize_t r = recv(fd, in.data + in.len, in.cap - in.len, 0);
        if (r <= 0)
            break;
        in.len += (size_t)r;
    }
    close(fd);
    bk_buf_put_u8(&in, 0);
    if (in.len <= 1) {
        bk_buf_free(&in);
        return NULL;
    }
    size_t n;
    return (char *)bk_buf_detach(&in, &n);
}

static int http_status(const char *ans)
{
    if (!ans || strncmp(ans, "HTTP/1.1 ", 9) != 0)
        return -1;
    return atoi(ans + 9);
}

/* ------------------------- exposition checker ------------------------- */

typedef struct sample {
    char *key; /* name{labels} exactly as written (our label order) */
    char *name;
    char *base; /* histogram: key without the le label and suffix */
    char *le;   /* histogram bucket bound, else NULL */
    double v;
} sample;

typedef struct scrape {
    sample *s;
    size_t n, cap;
    char *text;
} scrape;

static void scrape_free(scrape *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        free(sc->s[i].key);
        free(sc->s[i].name);
        free(sc->s[i].base);
        free(sc->s[i].le);
    }
    free(sc->s);
    free(sc->text);
    memset(sc, 0, sizeof *sc);
}

static bool legal_name(const char *s, size_t n, bool metric)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '_' || (metric && c == ':') ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static bool parse_value(const char *s, double *v)
{
    if (strcmp(s, "+Inf") == 0) {
        *v = INFINITY;
        return true;
    }
    if (strcmp(s, "-Inf") == 0) {
        *v = -INFINITY;
        return true;
    }
    if (strcmp(s, "NaN") == 0) {
        *v = NAN;
        return true;
    }
    if (!*s)
        return false;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *end == '\0' && errno == 0 &&
           strspn(s, "+-0123456789.eE") == strlen(s);
}

#define FAIL(...)                                                              \
    do {                                                                       \
        fprintf(stderr, "\n    exposition: line %d: ", lineno);                \
        fprintf(stderr, __VA_ARGS__);                                          \
        fprintf(stderr, "\n");                                                 \
        return false;                                                          \
    } while (0)

typedef struct family {
    char name[128];
    char type[16];
    bool help, typed, closed;
} family;

/* Parses one sample line into *out; checks names, labels, escapes. */
static bool check_sample_line(const char *line, int lineno, sample *out,
                              char *name, size_t ncap)
{
    const char *p = line;
    size_t nl = strcspn(p, "{ ");
    if (!legal_name(p, nl, true) || nl >= ncap)
        FAIL("bad metric name in '%s'", line);
    memcpy(name, p, nl);
    name[nl] = '\0';
    p += nl;
    char labels_wo_le[2048] = "";
    size_t lw = 0;
    char le[64] = "";
    bool has_le = false;
    char seen[8][64];
    int nseen = 0;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            size_t ln = strcspn(p, "=");
            if (!legal_name(p, ln, false) || ln >= 64 ||
                (ln >= 2 && p[0] == '_' && p[1] == '_'))
                FAIL("bad label name in '%s'", line);
            char lname[64];
            memcpy(lname, p, ln);
            lname[ln] = '\0';
            for (int k = 0; k < nseen; k++)
                if (strcmp(seen[k], lname) == 0)
                    FAIL("label %s twice in '%s'", lname, line);
            if (nseen < 8)
                snprintf(seen[nseen++], 64, "%s", lname);
            p += ln;
            if (p[0] != '=' || p[1] != '"')
                FAIL("label value not quoted in '%s'", line);
            p += 2;
            const char *v0 = p;
            char val[1024];
            size_t vn = 0;
            while (*p && *p != '"') {
                if (*p == '\\') {
                    if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
                        FAIL("bad escape in '%s'", line);
                    p++;
                }
                if (vn < sizeof val - 1)
                    val[vn++] = *p;
                p++;
            }
            val[vn] = '\0';
            if (*p != '"')
                FAIL("unterminated label value in '%s'", line);
            if (strcmp(lname, "le") == 0) {
                has_le = true;
                snprintf(le, sizeof le, "%.60s", val);
            } else if (lw < sizeof labels_wo_le) {
                lw += (size_t)snprintf(
                    labels_wo_le + lw, sizeof labels_wo_le - lw,
                    "%s%s=\"%.*s\"", lw ? "," : "", lname, (int)(p - v0), v0);
            }
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                FAIL("expected , or } in '%s'", line);
        }
        p++;
    }
    if (*p != ' ')
        FAIL("no space before the value in '%s'", line);
    p++;
    char val[64];
    size_t vl = strcspn(p, " ");
    if (vl == 0 || vl >= sizeof val)
        FAIL("bad value in '%s'", line);
    memcpy(val, p, vl);
    val[vl] = '\0';
    if (!parse_value(val, &out->v))
        FAIL("bad value '%s' in '%s'", val, line);
    if (p[vl] == ' ') { /* a timestamp: an integer */
        const char *ts = p + vl + 1;
        if (!*ts || strspn(ts, "-0123456789") != strlen(ts))
            FAIL("bad timestamp in '%s'", line);
    }
    out->key = strndup(line, (size_t)(p - 1 - line));
    out->name = strdup(name);
    out->le = has_le ? strdup(le) : NULL;
    char base[2300];
    snprintf(base, sizeof base, "{%s}", labels_wo_le);
    out->base = strdup(base);
    return true;
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Strict check of a whole exposition text; fills sc with its samples. */
static bool check_exposition(const char *text, scrape *sc)
{
    family fam[512];
    size_t nfam = 0;
    family *cur = NULL;
    int lineno = 0;
    const char *p = text;
    if (!*text)
        FAIL("empty");
    while (*p) {
        lineno++;
        const char *e = strchr(p, '\n');
        if (!e)
            FAIL("last line without a newline");
        char line[4096];
        size_t len = (size_t)(e - p);
        if (len >= sizeof line)
            FAIL("line too long");
        memcpy(line, p, len);
        line[len] = '\0';
        p = e + 1;
        if (len == 0)
            FAIL("empty line");
        if (line[0] == '#') {
            bool help = strncmp(line, "# HELP ", 7) == 0;
            bool type = strncmp(line, "# TYPE ", 7) == 0;
            if (!help && !type)
                continue; /* a plain comment */
            const char *nm = line + 7;
            size_t nl = strcspn(nm, " ");
            if (!legal_name(nm, nl, true) || nl >= sizeof fam[0].name ||
                nm[nl] != ' ')
                FAIL("bad family name in '%s'", line);
            family *f = NULL;
            for (size_t i = 0; i < nfam; i++)
                if (strlen(fam[i].name) == nl &&
                    memcmp(fam[i].name, nm, nl) == 0)
                    f = &fam[i];
            if (f && f != cur)
                FAIL("family %.*s split in two", (int)nl, nm);
            if (!f) {
                if (nfam == sizeof fam / sizeof fam[0])
                    FAIL("too many families");
                if (cur)
                    cur->closed = true;
                f = &fam[nfam++];
                memset(f, 0, sizeof *f);
                memcpy(f->name, nm, nl);
                cur = f;
            }
            const char *rest = nm + nl + 1;
            if (help) {
                if (f->help)
                    FAIL("second HELP for %s", f->name);
                for (const char *q = rest; *q; q++)
                    if (*q == '\\' && q[1] != '\\' && q[1] != 'n')
                        FAIL("bad escape in HELP of %s", f->name);
                    else if (*q == '\\')
                        q++;
                f->help = true;
            } else {
                if (f->typed)
                    FAIL("second TYPE for %s", f->name);
                if (strcmp(rest, "counter") && strcmp(rest, "gauge") &&
                    strcmp(rest, "histogram") && strcmp(rest, "summary") &&
                    strcmp(rest, "untyped"))
                    FAIL("bad type '%s'", rest);
                /* TYPE must come before the family's samples. */
                for (size_t i = 0; i < sc->n; i++)
                    if (strncmp(sc->s[i].name, f->name, strlen(f->name)) == 0)
                        FAIL("TYPE of %s after its samples", f->name);
                snprintf(f->type, sizeof f->type, "%s", rest);
                f->typed = true;
            }
            continue;
        }
        if (sc->n == sc->cap) {
            sc->cap = sc->cap ? 2 * sc->cap : 256;
            sc->s = realloc(sc->s, sc->cap * sizeof *sc->s);
        }
        sample *s = &sc->s[sc->n];
        memset(s, 0, sizeof *s);
        char name[256];
        if (!check_sample_line(line, lineno, s, name, sizeof name))
            return false;
        sc->n++;
        /* Which TYPE'd family it belongs to: the current one. */
        if (!cur || !cur->typed)
            FAIL("sample %s without a TYPE'd family", name);
        if (!cur->help)
            FAIL("family %s without HELP", cur->name);
        bool ok;
        if (strcmp(cur->type, "histogram") == 0) {
            char b[300], su[300], c[300];
            snprintf(b, sizeof b, "%s_bucket", cur->name);
            snprintf(su, sizeof su, "%s_sum", cur->name);
            snprintf(c, sizeof c, "%s_count", cur->name);
            ok = strcmp(name, b) == 0 || strcmp(name, su) == 0 ||
                 strcmp(name, c) == 0;
            if (strcmp(name, b) == 0 && !s->le)
                FAIL("bucket without le: %s", line);
            if (strcmp(name, b) != 0 && s->le)
                FAIL("le outside a bucket: %s", line);
        } else {
            ok = strcmp(name, cur->name) == 0;
            if (s->le)
                FAIL("le label outside a histogram: %s", line);
        }
        if (!ok)
            FAIL("sample %s does not belong to family %s", name, cur->name);
        if (strcmp(cur->type, "counter") == 0 && !(s->v >= 0))
            FAIL("negative counter: %s", line);
        if (strcmp(cur->type, "counter") == 0 &&
            !ends_with(cur->name, "_total"))
            FAIL("counter %s without _total", cur->name);
        for (size_t i = 0; i + 1 < sc->n; i++) {
            bool same = strcmp(sc->s[i].key, s->key) == 0;
            if (!same && s->le && sc->s[i].le &&
                strcmp(sc->s[i].name, s->name) == 0 &&
                strcmp(sc->s[i].base, s->base) == 0 &&
                strcmp(sc->s[i].le, s->le) == 0)
                same = true;
            if (same)
                FAIL("duplicate series %s", s->key);
        }
    }
    /* Histograms: for each label set, le increasing, counts cumulative,
     * +Inf last and equal to _count, a _sum. */
    for (size_t f = 0; f < nfam; f++) {
        if (strcmp(fam[f].type, "histogram") != 0)
            continue;
        char b[300], su[300], c[300];
        snprintf(b, sizeof b, "%s_bucket", fam[f].name);
        snprintf(su, sizeof su, "%s_sum", fam[f].name);
        snprintf(c, sizeof c, "%s_count", fam[f].name);
        for (size_t i = 0; i < sc->n; i++) {
            if (strcmp(sc->s[i].name, c) != 0)
                continue;
            const char *base = sc->s[i].base;
            double count = sc->s[i].v, prev_le = -INFINITY, prev_v = 0;
            bool inf = false, sum = false;
            int nb = 0;
            for (size_t k = 0; k < sc->n; k++) {
                if (strcmp(sc->s[k].base, base) != 0)
                    continue;
                if (strcmp(sc->s[k].name, su) == 0)
                    sum = true;
                if (strcmp(sc->s[k].name, b) != 0)
                    continue;
                double le;
                if (!parse_value(sc->s[k].le, &le) || !(le > prev_le) || inf)
                    FAIL("%s%s: le not increasing", b, base);
                if (sc->s[k].v < prev_v)
                    FAIL("%s%s: buckets not cumulative", b, base);
                prev_le = le;
                prev_v = sc->s[k].v;
                inf = isinf(le) && le > 0;
                nb++;
            }
            if (!inf || prev_v != count || !sum || nb < 2)
                FAIL("%s%s: +Inf bucket %g, count %g, sum %d", fam[f].name,
                     base, prev_v, count, sum);
        }
    }
    return true;
}

/* Value of the sample written exactly as key, NAN when absent. */
static double sget(const scrape *sc, const char *key)
{
    for (size_t i = 0; i < sc->n; i++)
        if (strcmp(sc->s[i].key, key) == 0)
            return sc->s[i].v;
    return NAN;
}

static double sgetf(const scrape *sc, const char *fmt, const char *arg)
{
    char key[512];
    snprintf(key, sizeof key, fmt, arg);
    return sget(sc, key);
}

static bool have_promtool(void)
{
    return access("/usr/bin/promtool", X_OK) == 0;
}

static int promtool_runs;

/* promtool check metrics < text: 0 when it is happy. */
static int promtool_check(const char *text)
{
    char path[600], cmd[1400], outp[600];
    snprintf(path, sizeof path, "%s/scrape.txt", bk_test_dir());
    snprintf(outp, sizeof outp, "%s/promtool.out", bk_test_dir());
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/promtool check metrics < '%s' > '%s' 2>&1", path, outp);
    int st = system(cmd);
    promtool_runs++;
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (rc != 0) {
        char buf[2048] = "";
        FILE *o = fopen(outp, "r");
        if (o) {
            size_t n = fread(buf, 1, sizeof buf - 1, o);
            buf[n] = '\0';
            fclose(o);
        }
        fprintf(stderr, "\n    promtool check metrics (%d):\n%s\n", rc, buf);
    }
    return rc;
}

/* Scrapes broker i: the answer must be a 200 with the exposition
 * Content-Type and a body that passes both checkers. */
static bool scrape_broker(int i, scrape *sc)
{
    memset(sc, 0, sizeof *sc);
    const char *req = "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n";
    char *ans = http_raw(mport[i], req, strlen(req));
    if (http_status(ans) != 200) {
        fprintf(stderr, "\n    scrape of broker %d: %.60s\n", i + 1,
                ans ? ans : "(nothing)");
        free(ans);
        return false;
    }
    CU_ASSERT_PTR_NOT_NULL(
        strstr(ans, "\r\nContent-Type: text/plain; version=0.0.4"));
    char *body = strstr(ans, "\r\n\r\n");
    CU_ASSERT_FATAL(body != NULL);
    body += 4;
    const char *cl_ = strstr(ans, "Content-Length: ");
    CU_ASSERT(cl_ && strtol(cl_ + 16, NULL, 10) == (long)strlen(body));
    sc->text = strdup(body);
    free(ans);
    bool ok = check_exposition(sc->text, sc);
    CU_ASSERT(ok);
    /* promtool on every few scrapes (it takes ~50 ms per run). */
    if (ok && have_promtool() && (promtool_runs < 6 || rand() % 8 == 0))
        CU_ASSERT_EQUAL(promtool_check(sc->text), 0);
    return ok;
}

static double scrape_value(int i, const char *key)
{
    scrape sc;
    double v = NAN;
    if (scrape_broker(i, &sc))
        v = sget(&sc, key);
    scrape_free(&sc);
    return v;
}

/* Polls broker i until key's value satisfies want(v), within ms.  The
 * time it took, -1 on timeout. */
static int64_t wait_value(int i, const char *key, bool (*want)(double), int ms)
{
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < ms) {
        if (want(scrape_value(i, key)))
            return bk_clock_mono_ms() - t0;
        bk_h_sleep_ms(100);
    }
    return -1;
}

/* Polls broker i until key reaches at least target (or ms pass); its last
 * value.  A counter that follows a ZooKeeper write (ISR shrinks and
 * expands count once the new ISR is stored) may trail the gauges computed
 * from the partition table by a moment. */
static double wait_at_least(int i, const char *key, double target, int ms)
{
    int64_t t0 = bk_clock_mono_ms();
    double v = scrape_value(i, key);
    while (!(v >= target) && bk_clock_mono_ms() - t0 < ms) {
        bk_h_sleep_ms(50);
        v = scrape_value(i, key);
    }
    return v;
}

static bool positive(double v)
{
    return v > 0;
}

static bool zero(double v)
{
    return v == 0;
}

static int index_of(int id)
{
    for (int i = 0; i < NBROKERS; i++)
        if (cl->broker[i].id == id)
            return i;
    return -1;
}

static int controller_index(void)
{
    int ctrl = -1, n = 0;
    for (int i = 0; i < NBROKERS; i++) {
        if (cl->broker[i].pid <= 0)
            continue;
        if (scrape_value(i, "brook_active_controller") == 1) {
            ctrl = i;
            n++;
        }
    }
    return n == 1 ? ctrl : -1;
}

/* -------------------------------- tests -------------------------------- */

static void test_basics(void)
{
    /* The slowloris client of test_bad_http starts now: it sends part of
     * a request line and then nothing. */
    slow_fd = bk_h_connect(mport[0]);
    CU_ASSERT(slow_fd >= 0 && bk_h_send_raw(slow_fd, "GET /metr", 9) == 0);
    slow_t0 = bk_clock_mono_ms();

    int controllers = 0;
    for (int i = 0; i < NBROKERS; i++) {
        scrape sc;
        CU_ASSERT_FATAL(scrape_broker(i, &sc));
        CU_ASSERT_EQUAL(sget(&sc, "brook_zookeeper_session_state"), 1);
        double ac = sget(&sc, "brook_active_controller");
        CU_ASSERT(ac == 0 || ac == 1);
        controllers += ac == 1;
        CU_ASSERT(sget(&sc, "brook_uptime_seconds") > 0);
        CU_ASSERT_EQUAL(sget(&sc, "brook_live_brokers"), NBROKERS);
        CU_ASSERT_EQUAL(sget(&sc, "brook_under_replicated_partitions"), 0);
        CU_ASSERT_EQUAL(sget(&sc, "brook_offline_partitions"), 0);
        CU_ASSERT_EQUAL(sget(&sc, "brook_zookeeper_expirations_total"), 0);
        char info[128];
        snprintf(info, sizeof info, "brook_broker_info{broker_id=\"%d\"",
                 cl->broker[i].id);
        CU_ASSERT_PTR_NOT_NULL(strstr(sc.text, info));
        /* Served APIs have their series from the start. */
        CU_ASSERT(sget(&sc, "brook_requests_total{api=\"Produce\"}") >= 0);
        CU_ASSERT(sget(&sc, "brook_request_latency_seconds_count{api="
                            "\"Fetch\"}") >= 0);
        scrape_free(&sc);
    }
    CU_ASSERT_EQUAL(controllers, 1);
    printf("\n    promtool %s\n", have_promtool()
                                      ? "present: every scrape checked"
                                      : "absent: its check skipped");
}

#define TOPIC "mt"
#define NREC  1000

static int leader_index(const char *topic, int p)
{
    int id = bt_leader(cl->broker[0].port, topic, p);
    return id < 0 ? -1 : index_of(id);
}

static void test_traffic(void)
{
    int fd0 = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd0 >= 0);
    CU_ASSERT_EQUAL(bt_create_topic(fd0, TOPIC, 1, 3), 0);
    close(fd0);
    CU_ASSERT_FATAL(bk_h_wait_topic(cl, 0, TOPIC, 1, 10000) == 0);
    int li = leader_index(TOPIC, 0);
    CU_ASSERT_FATAL(li >= 0);

    scrape before;
    CU_ASSERT_FATAL(scrape_broker(li, &before));
    int fd = bk_h_connect(cl->broker[li].port);
    CU_ASSERT_FATAL(fd >= 0);
    /* NREC records in 20 batches of different sizes; the exact bytes. */
    size_t bytes = 0;
    int sent = 0, batches = 0;
    for (int k = 0; sent < NREC; k++) {
        int n = 10 + (k * 37) % 80;
        if (n > NREC - sent)
            n = NREC - sent;
        bk_buf b = BK_BUF_INIT;
        CU_ASSERT_FATAL(bt_batch(&b, "m", sent, n, -1) == 0);
        int64_t base = -1;
        CU_ASSERT_EQUAL(bt_produce_raw(fd, TOPIC, 0, 1, b.data, b.len, &base),
                        0);
        CU_ASSERT_EQUAL(base, sent);
        bytes += b.len;
        sent += n;
        batches++;
        bk_buf_free(&b);
    }
    /* A Metadata request, and the records read back by a consumer once
     * every replica has them (the HW is the LEO). */
    Brook__Response *md = bt_metadata(fd, TOPIC, false);
    CU_ASSERT(md != NULL);
    if (md)
        brook__response__free_unpacked(md, NULL);
    int64_t hw = -1;
    for (int t = 0; t < 100; t++) {
        CU_ASSERT_EQUAL(bt_list_offsets(fd, TOPIC, 0, -1, &hw, NULL), 0);
        if (hw == NREC)
            break;
        bk_h_sleep_ms(50);
    }
    CU_ASSERT_EQUAL_FATAL(hw, NREC);
    /* A consumer reads everything, batch boundary to batch boundary. */
    size_t fetched_bytes = 0, nrecs = 0;
    int fetches = 0;
    for (int64_t at = 0; at < NREC && fetches < 1000; fetches++) {
        bt_fetch_res fr;
        bt_fetch(fd, TOPIC, 0, at, 0, 1, &fr);
        CU_ASSERT_EQUAL_FATAL(fr.error, 0);
        fetched_bytes += fr.bytes;
        nrecs += fr.nrecs;
        if (fr.nrecs > 0)
            at = fr.recs[fr.nrecs - 1].offset + 1;
        bt_fetch_free(&fr);
    }
    CU_ASSERT_EQUAL(nrecs, NREC);
    int64_t lstart = -1;
    CU_ASSERT_EQUAL(bt_list_offsets(fd, TOPIC, 0, -2, &lstart, NULL), 0);

    scrape after;
    CU_ASSERT_FATAL(scrape_broker(li, &after));
#define DELTA(key) (sget(&after, key) - sget(&before, key))
#define TKEY(fam)  fam "{topic=\"" TOPIC "\"}"
    /* Before any traffic the topic had no series: count them as 0. */
    double b_in = sget(&before, TKEY("brook_topic_bytes_in_total"));
    CU_ASSERT(isnan(b_in) || b_in == 0);
    CU_ASSERT_EQUAL(sget(&after, TKEY("brook_topic_bytes_in_total")),
                    (double)bytes);
    CU_ASSERT_EQUAL(sget(&after, TKEY("brook_topic_records_in_total")), NREC);
    /* Out: exactly what the consumer was sent (whole batches), all the
     * records; the followers' copies are counted apart, twice the bytes
     * once they caught up. */
    CU_ASSERT_EQUAL(sget(&after, TKEY("brook_topic_bytes_out_total")),
                    (double)fetched_bytes);
    CU_ASSERT_EQUAL(fetched_bytes, bytes); /* stored bytes unchanged */
    CU_ASSERT_EQUAL(sget(&after, TKEY("brook_topic_records_out_total")), NREC);
    CU_ASSERT_EQUAL(sget(&after, TKEY("brook_replication_bytes_out_total")),
                    2.0 * (double)bytes);
    printf("\n    %d records in %d batches: %zu bytes in, %zu bytes out to "
           "the consumer in %d fetches, %.0f to followers\n",
           NREC, batches, bytes, fetched_bytes, fetches,
           sget(&after, TKEY("brook_replication_bytes_out_total")));
    /* Requests. */
    CU_ASSERT_EQUAL(DELTA("brook_requests_total{api=\"Produce\"}"), batches);
    CU_ASSERT(DELTA("brook_requests_total{api=\"Fetch\"}") >= fetches);
    CU_ASSERT(DELTA("brook_requests_total{api=\"Metadata\"}") >= 1);
    CU_ASSERT(DELTA("brook_requests_total{api=\"ListOffsets\"}") >= 2);
    static const char *apis[] = {"Produce", "Fetch", "Metadata", "ListOffsets",
                                 "ApiVersions"};
    for (size_t k = 0; k < sizeof apis / sizeof apis[0]; k++) {
        double req = sgetf(&after, "brook_requests_total{api=\"%s\"}", apis[k]);
        double cnt = sgetf(
            &after, "brook_request_latency_seconds_count{api=\"%s\"}", apis[k]);
        CU_ASSERT_EQUAL(req, cnt);
        double sum = sgetf(
            &after, "brook_request_latency_seconds_sum{api=\"%s\"}", apis[k]);
        CU_ASSERT(sum >= 0 && (cnt > 0 || sum == 0));
    }
    /* The partition gauges match ListOffsets. */
    char key[256];
    snprintf(key, sizeof key,
             "brook_log_end_offset{topic=\"%s\",partition=\"0\"}", TOPIC);
    CU_ASSERT_EQUAL(sget(&after, key), NREC);
    snprintf(key, sizeof key,
             "brook_high_watermark{topic=\"%s\",partition=\"0\"}", TOPIC);
    CU_ASSERT_EQUAL(sget(&after, key), (double)hw);
    snprintf(key, sizeof key,
             "brook_log_start_offset{topic=\"%s\",partition=\"0\"}", TOPIC);
    CU_ASSERT_EQUAL(sget(&after, key), (double)lstart);
    snprintf(key, sizeof key,
             "brook_log_size_bytes{topic=\"%s\",partition=\"0\"}", TOPIC);
    CU_ASSERT_EQUAL(sget(&after, key), (double)bytes);
    CU_ASSERT(sget(&after, "brook_leader_partitions") >= 1);
    CU_ASSERT(sget(&after, "brook_partitions") >= 1);
    CU_ASSERT(sget(&after, "brook_connections") >= 1);
    /* A follower has the partition's gauges too, but no traffic in. */
    int fi = (li + 1) % NBROKERS;
    scrape fs;
    CU_ASSERT_FATAL(scrape_broker(fi, &fs));
    snprintf(key, sizeof key,
             "brook_log_end_offset{topic=\"%s\",partition=\"0\"}", TOPIC);
    CU_ASSERT_EQUAL(sget(&fs, key), NREC);
    double fin = sget(&fs, TKEY("brook_topic_bytes_in_total"));
    CU_ASSERT(isnan(fin) || fin == 0);
    scrape_free(&fs);
    scrape_free(&before);
    scrape_free(&after);
    close(fd);
}

static void test_isr(void)
{
    int li = leader_index(TOPIC, 0);
    CU_ASSERT_FATAL(li >= 0);
    int fi = (li + 1) % NBROKERS;
    double shrinks0 = scrape_value(li, "brook_isr_shrinks_total");
    double expands0 = scrape_value(li, "brook_isr_expands_total");
    CU_ASSERT_EQUAL(scrape_value(li, "brook_under_replicated_partitions"), 0);

    CU_ASSERT_FATAL(bk_h_broker_signal(cl, fi, SIGSTOP) == 0);
    int fd = bk_h_connect(cl->broker[li].port);
    /* Records the stopped follower cannot have. */
    CU_ASSERT_EQUAL(bt_produce(fd, TOPIC, 0, 1, "isr", 0, 10, NULL), 0);
    int64_t took =
        wait_value(li, "brook_under_replicated_partitions", positive, 8000);
    printf("\n    under-replicated %lld ms after SIGSTOP of a follower "
           "(replica.lag.time.max.ms=%d)\n",
           (long long)took, LAG_MS);
    CU_ASSERT(took >= 0);
    CU_ASSERT_EQUAL(
        wait_at_least(li, "brook_isr_shrinks_total", shrinks0 + 1, 5000),
        shrinks0 + 1);
    CU_ASSERT_EQUAL(scrape_value(li, "brook_under_replicated_partitions"), 1);
    /* Only the leader counts it. */
    int oi = (li + 2) % NBROKERS;
    CU_ASSERT_EQUAL(scrape_value(oi, "brook_under_replicated_partitions"), 0);

    CU_ASSERT_FATAL(bk_h_broker_signal(cl, fi, SIGCONT) == 0);
    took = wait_value(li, "brook_under_replicated_partitions", zero, 10000);
    printf("    back to 0 %lld ms after SIGCONT\n", (long long)took);
    CU_ASSERT(took >= 0);
    CU_ASSERT_EQUAL(
        wait_at_least(li, "brook_isr_expands_total", expands0 + 1, 5000),
        expands0 + 1);
    CU_ASSERT_EQUAL(bt_produce(fd, TOPIC, 0, -1, "isr2", 0, 10, NULL), 0);
    close(fd);
}

#define SOLO "solo"

static void test_offline(void)
{
    int ci = controller_index();
    CU_ASSERT_FATAL(ci >= 0);
    /* RF=1, one partition per broker and more: killing the two other
     * brokers leaves partitions with no replica alive. */
    int fd = bk_h_connect(cl->broker[ci].port);
    CU_ASSERT_EQUAL(bt_create_topic(fd, SOLO, 6, 1), 0);
    close(fd);
    CU_ASSERT_FATAL(bk_h_wait_topic(cl, ci, SOLO, 6, 10000) == 0);
    CU_ASSERT_EQUAL(scrape_value(ci, "brook_offline_partitions"), 0);
    int victims[2] = {(ci + 1) % NBROKERS, (ci + 2) % NBROKERS};
    for (int k = 0; k < 2; k++)
        CU_ASSERT_FATAL(bk_h_broker_signal(cl, victims[k], SIGKILL) >= 0);
    int64_t took = wait_value(ci, "brook_offline_partitions", positive, 15000);
    printf("\n    controller reports offline partitions %lld ms after the "
           "kills\n",
           (long long)took);
    CU_ASSERT(took >= 0);
    double off = scrape_value(ci, "brook_offline_partitions");
    /* At least the RF=1 partitions of the two dead brokers (round-robin
     * placement gives each broker two of the six); "mt" keeps its leader
     * here or moves it here. */
    CU_ASSERT(off >= 4 && off <= 6);
    CU_ASSERT_EQUAL(scrape_value(ci, "brook_active_controller"), 1);
    CU_ASSERT_EQUAL(scrape_value(ci, "brook_live_brokers"), 1);
    for (int k = 0; k < 2; k++)
        CU_ASSERT_FATAL(bk_h_broker_start(cl, victims[k], true) == 0);
    took = wait_value(ci, "brook_offline_partitions", zero, 15000);
    printf("    back to 0 %lld ms after the restarts\n", (long long)took);
    CU_ASSERT(took >= 0);
    /* The others report 0 (only the controller counts), and exactly one
     * controller is still there. */
    for (int k = 0; k < 2; k++)
        CU_ASSERT_EQUAL(scrape_value(victims[k], "brook_offline_partitions"),
                        0);
    CU_ASSERT(controller_index() >= 0);
}

static void test_bad_http(void)
{
    int i = 0;
    /* Garbage: a 400, or at least the connection closes. */
    static const char garbage[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03";
    char *a = http_raw(mport[i], garbage, sizeof garbage - 1);
    CU_ASSERT(a == NULL || http_status(a) == 400);
    free(a);
    a = http_raw(mport[i], "BREW /pot HTCPCP/1.0\r\n\r\n", 24);
    CU_ASSERT(http_status(a) == 400);
    free(a);
    /* POST: 405 with Allow. */
    const char *post = "POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
    a = http_raw(mport[i], post, strlen(post));
    CU_ASSERT_EQUAL(http_status(a), 405);
    CU_ASSERT(a && strstr(a, "\r\nAllow: GET, HEAD\r\n"));
    free(a);
    a = http_raw(mport[i], "GET /admin HTTP/1.1\r\n\r\n", 23);
    CU_ASSERT_EQUAL(http_status(a), 404);
    free(a);
    /* A 1 MiB header: 431 (or a close) long before it is all sent. */
    size_t hn = 1u << 20;
    char *huge = malloc(hn);
    CU_ASSERT_FATAL(huge != NULL);
    memset(huge, 'a', hn);
    memcpy(huge, "GET /metrics HTTP/1.1\r\nX-Huge: ", 31);
    a = http_raw(mport[i], huge, hn);
    CU_ASSERT(a == NULL || http_status(a) == 431);
    free(a);
    free(huge);
    /* Many bad connections at once, then a good scrape. */
    for (int k = 0; k < 100; k++) {
        a = http_raw(mport[i], "GET /metrics HTTP/1.1\r\nBad\r\n\r\n", 30);
        CU_ASSERT_EQUAL(http_status(a), 400);
        free(a);
    }
    /* The slowloris connection: cut off (408, then closed) after the
     * endpoint's idle timeout (10 s from its connect, in test_basics). */
    CU_ASSERT_FATAL(slow_fd >= 0);
    struct timeval tv = {.tv_sec = 15};
    setsockopt(slow_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512];
    size_t n = 0;
    for (;;) {
        ssize_t r = recv(slow_fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    int64_t waited = bk_clock_mono_ms() - slow_t0;
    printf("\n    slowloris connection cut off after %lld ms: %.24s\n",
           (long long)waited, buf);
    CU_ASSERT(strncmp(buf, "HTTP/1.1 408 ", 13) == 0);
    CU_ASSERT(waited >= 9000 && waited < 25000);
    close(slow_fd);
    slow_fd = -1;

    /* The broker still serves produce and scrapes. */
    int li = leader_index(TOPIC, 0);
    CU_ASSERT_FATAL(li >= 0);
    int fd = bk_h_connect(cl->broker[li].port);
    CU_ASSERT_EQUAL(bt_produce(fd, TOPIC, 0, 1, "after", 0, 5, NULL), 0);
    close(fd);
    scrape sc;
    CU_ASSERT(scrape_broker(i, &sc));
    CU_ASSERT(sget(&sc, "brook_metrics_bad_requests_total") >= 106);
    CU_ASSERT_EQUAL(sget(&sc, "brook_zookeeper_session_state"), 1);
    scrape_free(&sc);
    int st;
    CU_ASSERT(cl->broker[i].pid > 0 && !bk_h_exited(cl->broker[i].pid, &st));
}

#define MI3 "mi3"
#define AFTER_APPEND                                                           \
    "brook_request_errors_total{api=\"Produce\",error=\"NOT_ENOUGH_"          \
    "REPLICAS_AFTER_APPEND\"}"

static void test_delayed_errors(void)
{
    /* An acks=all produce appended while the ISR was big enough, failed
     * later (the ISR shrank below min.insync.replicas while it waited):
     * its error is counted like the ones known at once. */
    int fd0 = bk_h_connect(cl->broker[0].port);
    CU_ASSERT_FATAL(fd0 >= 0);
    const char *cfg[] = {"min.insync.replicas", "3", NULL};
    CU_ASSERT_EQUAL(bt_create_topic_cfg(fd0, MI3, 1, 3, cfg), 0);
    close(fd0);
    for (int i = 0; i < NBROKERS; i++)
        CU_ASSERT_FATAL(bk_h_wait_topic(cl, i, MI3, 1, 10000) == 0);
    int li = leader_index(MI3, 0);
    CU_ASSERT_FATAL(li >= 0);
    int fd = bk_h_connect(cl->broker[li].port);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL_FATAL(bt_produce(fd, MI3, 0, -1, "ok", 0, 1, NULL), 0);
    double e0 = scrape_value(li, AFTER_APPEND);
    if (isnan(e0))
        e0 = 0;
    int fi = (li + 1) % NBROKERS;
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, fi, SIGSTOP) == 0);
    /* the ISR is still 3: appended, then waits until the stopped follower
     * leaves the ISR (replica.lag.time.max.ms) */
    int rc = bt_produce(fd, MI3, 0, -1, "wait", 1, 1, NULL);
    CU_ASSERT_FATAL(bk_h_broker_signal(cl, fi, SIGCONT) == 0);
    CU_ASSERT_EQUAL(rc, BK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    CU_ASSERT_EQUAL(scrape_value(li, AFTER_APPEND), e0 + 1);
    close(fd);
}

/* Open descriptors of process pid (/proc/pid/fd). */
static int open_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* CPU time (user + system, clock ticks) process pid has used. */
static long cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* after the command name */
    if (!p)
        return -1;
    long ut = 0, st = 0;
    /* fields 3.. after ")": state ppid pgrp session tty tpgid flags minflt
     * cminflt majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld",
               &ut, &st) != 2)
        return -1;
    return ut + st;
}

static void test_out_of_fds(void)
{
    /* The broker out of descriptors: pending metrics connections cannot
     * be accepted; the listener must rest, not spin the loop (a
     * level-triggered listener that is never drained). */
    int i = 0;
    pid_t pid = cl->broker[i].pid;
    struct rlimit old, lim;
    CU_ASSERT_EQUAL_FATAL(prlimit(pid, RLIMIT_NOFILE, NULL, &old), 0);
    int n = open_fds(pid);
    CU_ASSERT_FATAL(n > 0);
    lim = old;
    lim.rlim_cur = (rlim_t)n + 2;
    CU_ASSERT_EQUAL_FATAL(prlimit(pid, RLIMIT_NOFILE, &lim, NULL), 0);
    enum { NC = 20 };
    int fds[NC];
    for (int k = 0; k < NC; k++)
        fds[k] = bk_h_connect(mport[i]); /* the kernel accepts them */
    bk_h_sleep_ms(300);
    long t0 = cpu_ticks(pid);
    bk_h_sleep_ms(1500);
    long used = cpu_ticks(pid) - t0;
    long hz = sysconf(_SC_CLK_TCK);
    printf("\n    out of fds with %d pending connections: %ld ms of CPU in "
           "1500 ms\n",
           NC, used * 1000 / hz);
    CU_ASSERT(t0 >= 0 && used * 1000 / hz < 500); /* spinning: ~1500 */
    for (int k = 0; k < NC; k++)
        if (fds[k] >= 0)
            close(fds[k]);
    CU_ASSERT_EQUAL(prlimit(pid, RLIMIT_NOFILE, &old, NULL), 0);
    /* descriptors again: scrapes are served */
    scrape sc;
    int64_t w0 = bk_clock_mono_ms();
    bool ok = false;
    while (!ok && bk_clock_mono_ms() - w0 < 3000) {
        ok = scrape_broker(i, &sc);
        if (ok)
            scrape_free(&sc);
        else
            bk_h_sleep_ms(100);
    }
    CU_ASSERT_TRUE(ok);
}

static CU_TestInfo tests[] = {
    {"basics: format, controller, ZooKeeper state", test_basics},
    {"traffic counters, requests, histograms, offsets", test_traffic},
    {"under-replicated partitions, ISR shrink and expand", test_isr},
    {"offline partitions on the controller", test_offline},
    {"bad HTTP: garbage, huge header, POST, slowloris", test_bad_http},
    {"out of descriptors: the listener rests, no spin", test_out_of_fds},
    {"acks=all errors decided while waiting are counted",
     test_delayed_errors},
    CU_TEST_INFO_NULL,
};

void bk_test_register(void)
{
    bk_test_add_suite_fn("metrics", tests, suite_init, suite_clean);
}
