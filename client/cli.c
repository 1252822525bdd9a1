/*
 * cli.c -- `brook`, the command-line client (in the manner of kcat):
 * `brook produce` sends stdin a line per record, `brook consume` prints
 * records with a format.  Built on libbrook (client/brook.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/brook.h"
#include "client/format.h"
#include "common/buf.h"

/* Exit codes (documented in usage()). */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,        /* delivery or consume error */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_UNREACHABLE = 3, /* no broker answered */
};

static const char usage_text[] =
    "usage: brook produce -b HOST:PORT[,...] -t TOPIC [-p PARTITION]\n"
    "                     [-K SEP] [--acks 0|1|all] [--report]\n"
    "                     [-X key=value ...]\n"
    "       brook consume -b HOST:PORT[,...] -t TOPIC [-p PARTITION]\n"
    "                     [-o beginning|end|OFFSET|s@TIMESTAMP] [-c COUNT]\n"
    "                     [-e] [-f FORMAT] [-X key=value ...]\n"
    "       brook consume -b HOST:PORT[,...] -g GROUP -t TOPIC[,TOPIC...]\n"
    "                     [-o beginning|end] [-c COUNT] [-e] [-f FORMAT]\n"
    "                     [-X key=value ...]\n"
    "       brook --help\n"
    "\n"
    "produce  reads stdin, one record per line (without its newline).\n"
    "  -K SEP        the line is KEY SEP VALUE (split at the first SEP; a\n"
    "                line without SEP has a null key)\n"
    "  -p PARTITION  send every record there (default: by key with Kafka's\n"
    "                murmur2 partitioner, sticky partitioning without key)\n"
    "  --acks A      0, 1 or all (default all)\n"
    "  --report      print \"PARTITION OFFSET\" for every acknowledged record\n"
    "                (offset -1 with --acks 0); per partition in input order\n"
    "\n"
    "consume  prints records of every partition of TOPIC (or of -p).\n"
    "  -o START      beginning, end (default), an OFFSET, or s@TIMESTAMP\n"
    "                (ms since the epoch: the first record at or after it)\n"
    "  -c COUNT      stop after COUNT records\n"
    "  -e            stop when every partition reached its end (high\n"
    "                watermark)\n"
    "  -g GROUP      consume as a member of consumer group GROUP: the group\n"
    "                shares the partitions of the topics (a comma-separated\n"
    "                list) among its members; each starts at the group's\n"
    "                committed offset, else as -o says (beginning, or end by\n"
    "                default: auto.offset.reset); positions are committed\n"
    "                every auto.commit.interval.ms and at exit, and the\n"
    "                member leaves the group cleanly (SIGINT/SIGTERM too)\n"
    "  -f FORMAT     default \"%s\\n\"; %t topic, %p partition, %o offset,\n"
    "                %k key, %s value, %T timestamp, %h headers (k=v,..),\n"
    "                %K / %S key / value length (-1: null), %% percent;\n"
    "                escapes \\n \\t \\r \\\\ \\0\n"
    "\n"
    "common:\n"
    "  -b LIST       bootstrap brokers\n"
    "  -X key=value  a client setting (linger.ms, batch.size,\n"
    "                compression.type, fetch.max.wait.ms, ...; see\n"
    "                client/brook.h)\n"
    "  --timeout MS  how long to wait for the cluster's first answer\n"
    "                (default 10000)\n"
    "  -q            no progress messages on stderr\n"
    "\n"
    "exit codes:\n"
    "  0  success\n"
    "  1  a record could not be delivered or consumed, or the topic or\n"
    "     partition does not exist\n"
    "  2  usage error (bad option or value)\n"
    "  3  no broker could be reached\n";

static void usage(FILE *f)
{
    fputs(usage_text, f);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "brook: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(try brook --help)\n");
    return EXIT_USAGE;
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ------------------------------ options ------------------------------ */

typedef struct opts {
    const char *brokers, *topic, *key_sep, *acks, *offset, *format, *group;
    int32_t partition; /* -1: all / by partitioner */
    int64_t count;     /* -1: no limit */
    bool report, exit_at_end, quiet;
    int timeout_ms;
    const char *xs[64];
    int nxs;
} opts;

static bool parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno)
        return false;
    *out = v;
    return true;
}

/* 0 or EXIT_USAGE. */
static int parse_opts(int argc, char **argv, bool produce, opts *o)
{
    enum { OPT_ACKS = 256, OPT_REPORT, OPT_TIMEOUT, OPT_HELP };
    static const struct option longs[] = {
        {"acks", required_argument, NULL, OPT_ACKS},
        {"report", no_argument, NULL, OPT_REPORT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->partition = -1;
    o->count = -1;
    o->timeout_ms = 10000;
    o->format = "%s\\n";
    int ch;
    int64_t v;
    optind = 1;
    const char *shorts = produce ? "b:t:p:K:X:q" : "b:t:p:o:c:ef:g:X:q";
    while ((ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        switch (ch) {
        case 'b':
            o->brokers = optarg;
            break;
        case 't':
            o->topic = optarg;
            break;
        case 'p':
            if (!parse_i64(optarg, &v) || v < 0 || v > INT32_MAX)
                return usage_error("-p: '%s' is not a partition number",
                                   optarg);
            o->partition = (int32_t)v;
            break;
        case 'K':
            if (!*optarg)
                return usage_error("-K: the separator is empty%s", "");
            o->key_sep = optarg;
            break;
        case 'o':
            o->offset = optarg;
            break;
        case 'c':
            if (!parse_i64(optarg, &v) || v < 1)
                return usage_error("-c: '%s' is not a positive count", optarg);
            o->count = v;
            break;
        case 'e':
            o->exit_at_end = true;
            break;
        case 'f':
            o->format = optarg;
            break;
        case 'g':
            if (!*optarg)
                return usage_error("-g: the group id is empty%s", "");
            o->group = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'X':
            if (o->nxs == 64)
                return usage_error("too many -X options%s", "");
            o->xs[o->nxs++] = optarg;
            break;
        case OPT_ACKS:
            if (!produce)
                return usage_error("--acks is a produce option%s", "");
            o->acks = optarg;
            break;
        case OPT_REPORT:
            if (!produce)
                return usage_error("--report is a produce option%s", "");
            o->report = true;
            break;
        case OPT_TIMEOUT:
            if (!parse_i64(optarg, &v) || v < 1 || v > INT32_MAX)
                return usage_error("--timeout: '%s' is not milliseconds",
                                   optarg);
            o->timeout_ms = (int)v;
            break;
        case OPT_HELP:
            usage(stdout);
            exit(EXIT_OK);
        default:
            return usage_error("bad option%s", "");
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->brokers)
        return usage_error("-b HOST:PORT[,...] is required%s", "");
    if (!o->topic)
        return usage_error("-t TOPIC is required%s", "");
    if (o->group && o->partition >= 0)
        return usage_error("-p cannot be used with -g (the group assigns "
                           "partitions)%s",
                           "");
    if (!o->group && strchr(o->topic, ','))
        return usage_error("-t: several topics need -g GROUP ('%s')", o->topic);
    return 0;
}

/* Builds the client.  NULL and *rc set on failure. */
static brook_client *make_client(const opts *o, const char *acks,
                                 brook_dr_cb *dr, void *dr_arg, int *rc,
                                 brook_rebalance_cb *rcb, void *rarg)
{
    char err[512];
    brook_conf *conf = brook_conf_new();
    if (!conf) {
        fprintf(stderr, "brook: out of memory\n");
        *rc = EXIT_FAIL;
        return NULL;
    }
    if (brook_conf_set(conf, "bootstrap.servers", o->brokers, err,
                       sizeof err) != 0 ||
        brook_conf_set(conf, "client.id", "brook-cli", err, sizeof err) != 0 ||
        (acks && brook_conf_set(conf, "acks", acks, err, sizeof err) != 0))
        goto bad;
    for (int i = 0; i < o->nxs; i++)
        if (brook_conf_set_kv(conf, o->xs[i], err, sizeof err) != 0)
            goto bad;
    if (dr)
        brook_conf_set_dr_cb(conf, dr, dr_arg);
    if (o->group) {
        /* -o beginning/end is the reset policy, unless -X says one */
        bool reset_set = false;
        for (int i = 0; i < o->nxs; i++)
            reset_set |= strncmp(o->xs[i], "auto.offset.reset=", 18) == 0;
        if (brook_conf_set(conf, "group.id", o->group, err, sizeof err) != 0 ||
            (!reset_set && o->offset &&
             brook_conf_set(conf, "auto.offset.reset",
                            strcmp(o->offset, "beginning") == 0 ? "earliest"
                                                                : "latest",
                            err, sizeof err) != 0))
            goto bad;
        brook_conf_set_rebalance_cb(conf, rcb, rarg);
    }
    brook_client *c = brook_client_new(conf, err, sizeof err);
    if (!c)
        goto bad;
    return c;
bad:
    fprintf(stderr, "brook: %s\n", err);
    brook_conf_free(conf);
    *rc = EXIT_USAGE;
    return NULL;
}

/* Asks the cluster about topic.  0 and *nparts, or an exit code. */
static int check_one_topic(brook_client *c, const opts *o, const char *topic,
                           int32_t *nparts)
{
    brook_topic_info info;
    int rc = brook_topic_metadata(c, topic, o->timeout_ms, &info);
    if (rc == BK_AGAIN) {
        const char *why = brook_last_error(c);
        fprintf(stderr, "brook: cannot reach any broker of %s%s%s%s\n",
                o->brokers, *why ? " (" : "", why, *why ? ")" : "");
        return EXIT_UNREACHABLE;
    }
    if (rc != 0) {
        fprintf(stderr, "brook: '%s' is not a valid topic name\n", topic);
        return EXIT_USAGE;
    }
    if (info.err) {
        if (info.err == BK_ERR_UNKNOWN_TOPIC_OR_PART)
            fprintf(stderr, "brook: topic '%s' does not exist (%s)\n", topic,
                    brook_err_name(info.err));
        else
            fprintf(stderr, "brook: topic '%s' is not available: %s (%s)\n",
                    topic, bk_err_message(info.err), brook_err_name(info.err));
        return EXIT_FAIL;
    }
    if (o->partition >= info.partition_count) {
        fprintf(stderr,
                "brook: partition %d does not exist: topic '%s' has %d "
                "partition%s (%s)\n",
                o->partition, o->topic, info.partition_count,
                info.partition_count == 1 ? "" : "s",
                brook_err_name(BK_ERR_UNKNOWN_TOPIC_OR_PART));
        return EXIT_FAIL;
    }
    *nparts = info.partition_count;
    return 0;
}

static int check_topic(brook_client *c, const opts *o, int32_t *nparts)
{
    return check_one_topic(c, o, o->topic, nparts);
}

/* ------------------------------ produce ------------------------------ */

typedef struct prod_state {
    bool report;
    uint64_t delivered, failed;
    int last_err;
} prod_state;

static void produce_dr(brook_client *c, const brook_dr *dr, void *arg)
{
    (void)c;
    prod_state *s = arg;
    if (dr->err) {
        if (s->failed < 5)
            fprintf(stderr,
                    "brook: record %" PRIuPTR
                    " to %s was not delivered: %s (%s)\n",
                    (uintptr_t)dr->opaque, dr->topic, bk_err_message(dr->err),
                    brook_err_name(dr->err));
        s->failed++;
        s->last_err = dr->err;
        return;
    }
    s->delivered++;
    if (s->report)
        printf("%d %" PRId64 "\n", dr->partition, dr->offset);
}

static int produce_line(brook_client *c, const opts *o, const char *line,
                        size_t len, uint64_t lineno)
{
    const char *key = NULL, *val = line;
    int32_t klen = -1, vlen = (int32_t)len;
    if (o->key_sep) {
        size_t sl = strlen(o->key_sep);
        const char *sep = sl <= len ? memmem(line, len, o->key_sep, sl) : NULL;
        if (sep) {
            key = line;
            klen = (int32_t)(sep - line);
            val = sep + sl;
            vlen = (int32_t)(len - (size_t)klen - sl);
        }
    }
    for (;;) {
        int rc = brook_produce(
            c, o->topic, o->partition >= 0 ? o->partition : BROOK_PARTITION_ANY,
            key, klen, val, vlen, NULL, 0, BROOK_TIMESTAMP_NOW,
            (void *)(uintptr_t)lineno);
        if (rc == 0)
            return 0;
        if (rc == BK_AGAIN) {
            brook_poll(c, 100); /* queue full: let deliveries drain it */
            continue;
        }
        fprintf(stderr, "brook: line %" PRIu64 " cannot be produced: %s\n",
                lineno,
                rc == -BK_ETOOBIG ? "larger than max.request.size"
                                  : bk_strerror(rc));
        return -1;
    }
}

static int cmd_produce(int argc, char **argv)
{
    opts o;
    if (parse_opts(argc, argv, true, &o) != 0)
        return EXIT_USAGE;
    prod_state st = {.report = o.report};
    int rc = 0;
    brook_client *c = make_client(&o, o.acks, produce_dr, &st, &rc, NULL, NULL);
    if (!c)
        return rc;
    int32_t nparts;
    if ((rc = check_topic(c, &o, &nparts)) != 0) {
        brook_client_destroy(c);
        return rc;
    }

    bk_buf in = BK_BUF_INIT;
    uint64_t lineno = 0;
    bool eof = false, bad = false;
    while (!eof && !stop_requested) {
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        if (poll(&pfd, 1, 0) <= 0) {
            brook_poll(c, 10); /* stdin idle: keep the client moving */
            fflush(stdout);    /* and show the reports so far */
            continue;
        }
        if (bk_buf_reserve(&in, 65536) != 0) {
            fprintf(stderr, "brook: out of memory\n");
            bad = true;
            break;
        }
        ssize_t n = read(0, in.data + in.len, in.cap - in.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "brook: reading stdin: %s\n", strerror(errno));
            bad = true;
            break;
        }
        if (n == 0)
            eof = true;
        in.len += (size_t)n;
        size_t start = 0;
        for (size_t i = in.len - (size_t)n; i < in.len; i++) {
            if (in.data[i] != '\n')
                continue;
            if (produce_line(c, &o, (const char *)in.data + start, i - start,
                             ++lineno) != 0)
                bad = true;
            start = i + 1;
        }
        /* a last line without newline is a record too */
        if (eof && start < in.len) {
            if (produce_line(c, &o, (const char *)in.data + start,
                             in.len - start, ++lineno) != 0)
                bad = true;
            start = in.len;
        }
        bk_buf_consume(&in, start);
        brook_poll(c, 0);
    }
    bk_buf_free(&in);
    /* every record ends delivered or failed within delivery.timeout.ms */
    brook_flush(c, -1);
    fflush(stdout);
    if (st.failed) {
        fprintf(stderr,
                "brook: %" PRIu64 " of %" PRIu64
                " records were not delivered (last error %s)\n",
                st.failed, st.failed + st.delivered,
                brook_err_name(st.last_err));
        bad = true;
    } else if (!o.quiet) {
        fprintf(stderr, "brook: %" PRIu64 " records delivered to %s\n",
                st.delivered, o.topic);
    }
    brook_client_destroy(c);
    return bad ? EXIT_FAIL : EXIT_OK;
}

/* ------------------------------ consume ------------------------------ */

/* Parses -o into (offset, by_timestamp).  0 or EXIT_USAGE. */
static int parse_start(const char *s, int64_t *off, bool *by_ts)
{
    *by_ts = false;
    if (!s || strcmp(s, "end") == 0) {
        *off = BROOK_OFFSET_END;
    } else if (strcmp(s, "beginning") == 0) {
        *off = BROOK_OFFSET_BEGINNING;
    } else if (strncmp(s, "s@", 2) == 0) {
        if (!parse_i64(s + 2, off) || *off < 0)
            return usage_error("-o: '%s' is not s@TIMESTAMP (ms)", s);
        *by_ts = true;
    } else if (!parse_i64(s, off) || *off < 0) {
        return usage_error(
            "-o: '%s' is not beginning, end, an offset or s@TIMESTAMP", s);
    }
    return 0;
}

/* -g: which assigned partitions reached their end (for -e). */
typedef struct grp_state {
    brook_tp *parts; /* the assignment (topics point into the client) */
    bool *at_end;
    size_t n, nend;
    bool assigned, quiet;
} grp_state;

static void grp_rebalance(brook_client *c, brook_rebalance_type type,
                          const brook_tp *parts, size_t n, void *opaque)
{
    (void)c;
    grp_state *s = opaque;
    free(s->parts);
    free(s->at_end);
    s->parts = NULL;
    s->at_end = NULL;
    s->n = s->nend = 0;
    if (type != BROOK_REBALANCE_ASSIGNED) {
        if (!s->quiet)
            fprintf(stderr, "brook: %zu partition%s %s\n", n, n == 1 ? "" : "s",
                    type == BROOK_REBALANCE_LOST ? "lost" : "revoked");
        return;
    }
    s->assigned = true;
    s->parts = malloc((n ? n : 1) * sizeof *s->parts);
    s->at_end = calloc(n ? n : 1, sizeof *s->at_end);
    if (!s->parts || !s->at_end)
        return;
    memcpy(s->parts, parts, n * sizeof *parts);
    s->n = n;
    if (!s->quiet) {
        fprintf(stderr, "brook: assigned %zu partition%s:", n,
                n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %s[%d]", parts[i].topic, parts[i].partition);
        fprintf(stderr, "\n");
    }
}

/* Marks m's partition at its end or not; true when all are. */
static bool grp_mark(grp_state *s, const brook_msg *m, bool end)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->parts[i].partition != m->partition ||
            strcmp(s->parts[i].topic, m->topic) != 0)
            continue;
        if (s->at_end[i] != end) {
            s->at_end[i] = end;
            if (end)
                s->nend++;
            else
                s->nend--;
        }
    }
    return s->assigned && s->nend == s->n;
}

/* brook consume -g: a group member over the topics of -t. */
static int consume_group(const opts *o, bk_fmt *fmt, int64_t start, bool by_ts)
{
    if (by_ts || start >= 0)
        return usage_error("-o: with -g only beginning or end (the group's "
                           "committed offsets come first)%s",
                           "");
    grp_state st = {.quiet = o->quiet};
    int rc = 0;
    brook_client *c = make_client(o, NULL, NULL, NULL, &rc, grp_rebalance, &st);
    if (!c)
        return rc;
    /* every topic must exist (a clear message instead of an empty
     * assignment) */
    char *list = strdup(o->topic);
    const char **topics = calloc(strlen(o->topic) + 1, sizeof *topics);
    size_t nt = 0;
    if (!list || !topics) {
        fprintf(stderr, "brook: out of memory\n");
        rc = EXIT_FAIL;
        goto out;
    }
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        int32_t np;
        if ((rc = check_one_topic(c, o, t, &np)) != 0)
            goto out;
        topics[nt++] = t;
    }
    if (nt == 0 || brook_subscribe(c, topics, nt) != 0) {
        rc = usage_error("-t: '%s' is not a list of topics", o->topic);
        goto out;
    }
    bk_buf out = BK_BUF_INIT;
    int64_t count = 0;
    bool unflushed = false;
    while (!stop_requested) {
        const brook_msg *m;
        /* brook_consume() may auto-commit the position of every record
         * handed out so far: those must be out of stdio's buffer first, or
         * a crash (SIGKILL) would lose records the group has committed --
         * at least once means printed before committed */
        if (unflushed && fflush(stdout) != 0) {
            fprintf(stderr, "brook: writing stdout failed\n");
            rc = EXIT_FAIL;
            break;
        }
        unflushed = false;
        int r = brook_consume(c, 200, &m);
        if (r < 0) {
            fprintf(stderr, "brook: %s\n", bk_strerror(r));
            rc = EXIT_FAIL;
            break;
        }
        if (r == 0)
            continue;
        if (m->type == BROOK_MSG_ERROR) {
            if (m->partition < 0)
                fprintf(stderr, "brook: group %s: %s (%s)\n", o->group,
                        bk_err_message(m->err), brook_err_name(m->err));
            else
                fprintf(stderr,
                        "brook: %s [%d] at offset %" PRId64 ": %s (%s)\n",
                        m->topic, m->partition, m->offset,
                        bk_err_message(m->err), brook_err_name(m->err));
            rc = EXIT_FAIL;
            break;
        }
        if (m->type == BROOK_MSG_EOF) {
            if (grp_mark(&st, m, true) && o->exit_at_end)
                break;
            continue;
        }
        grp_mark(&st, m, false);
        bk_buf_reset(&out);
        bk_fmt_render(fmt, m, &out);
        if (!bk_buf_ok(&out) ||
            fwrite(out.data, 1, out.len, stdout) != out.len) {
            fprintf(stderr, "brook: writing stdout failed\n");
            rc = EXIT_FAIL;
            break;
        }
        unflushed = true;
        if (o->count > 0 && ++count >= o->count)
            break;
    }
    if (fflush(stdout) != 0 && rc == 0)
        rc = EXIT_FAIL;
    bk_buf_free(&out);
    /* what was printed is committed (enable.auto.commit), then the group
     * hears that we leave */
    if (brook_consumer_close(c, o->timeout_ms) != 0 && !o->quiet)
        fprintf(stderr, "brook: leaving group %s timed out (%s)\n", o->group,
                brook_last_error(c));
out:
    free(list);
    free(topics);
    brook_client_destroy(c);
    free(st.parts);
    free(st.at_end);
    return rc;
}

static int cmd_consume(int argc, char **argv)
{
    opts o;
    if (parse_opts(argc, argv, false, &o) != 0)
        return EXIT_USAGE;
    int64_t start;
    bool by_ts;
    if (parse_start(o.offset, &start, &by_ts) != 0)
        return EXIT_USAGE;
    bk_fmt fmt;
    char ferr[256];
    if (bk_fmt_parse(&fmt, o.format, ferr, sizeof ferr) != 0) {
        bk_fmt_free(&fmt);
        return usage_error("-f: %s", ferr);
    }
    if (o.group) {
        int rc = consume_group(&o, &fmt, start, by_ts);
        bk_fmt_free(&fmt);
        return rc;
    }
    int rc = 0;
    brook_client *c = make_client(&o, NULL, NULL, NULL, &rc, NULL, NULL);
    if (!c) {
        bk_fmt_free(&fmt);
        return rc;
    }
    int32_t nparts;
    if ((rc = check_topic(c, &o, &nparts)) != 0)
        goto out;
    int32_t first = o.partition >= 0 ? o.partition : 0;
    int32_t last = o.partition >= 0 ? o.partition : nparts - 1;
    int32_t nassigned = last - first + 1;
    bool *at_end = calloc((size_t)nparts, sizeof *at_end);
    if (!at_end) {
        rc = EXIT_FAIL;
        goto out;
    }
    for (int32_t p = first; p <= last; p++) {
        brook_assign(c, o.topic, p, by_ts ? BROOK_OFFSET_END : start);
        if (by_ts)
            brook_seek_timestamp(c, o.topic, p, start);
    }

    bk_buf out = BK_BUF_INIT;
    int64_t count = 0;
    int32_t nend = 0;
    while (!stop_requested) {
        const brook_msg *m;
        int r = brook_consume(c, 200, &m);
        if (r < 0) {
            fprintf(stderr, "brook: %s\n", bk_strerror(r));
            rc = EXIT_FAIL;
            break;
        }
        if (r == 0) {
            fflush(stdout); /* idle: show what came so far */
            continue;
        }
        if (m->type == BROOK_MSG_ERROR) {
            fprintf(stderr, "brook: %s [%d] at offset %" PRId64 ": %s (%s)\n",
                    m->topic, m->partition, m->offset, bk_err_message(m->err),
                    brook_err_name(m->err));
            rc = EXIT_FAIL;
            break;
        }
        bool *e = &at_end[m->partition];
        if (m->type == BROOK_MSG_EOF) {
            if (!*e) {
                *e = true;
                nend++;
            }
            if (o.exit_at_end && nend == nassigned)
                break;
            continue;
        }
        if (*e) {
            *e = false; /* new records after its end */
            nend--;
        }
        bk_buf_reset(&out);
        bk_fmt_render(&fmt, m, &out);
        if (!bk_buf_ok(&out) ||
            fwrite(out.data, 1, out.len, stdout) != out.len) {
            fprintf(stderr, "brook: writing stdout failed\n");
            rc = EXIT_FAIL;
            break;
        }
        if (o.count > 0 && ++count >= o.count)
            break;
    }
    if (fflush(stdout) != 0 && rc == 0)
        rc = EXIT_FAIL;
    bk_buf_free(&out);
    free(at_end);
out:
    bk_fmt_free(&fmt);
    brook_client_destroy(c);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(argv[1], "produce") == 0)
        return cmd_produce(argc - 1, argv + 1);
    if (strcmp(argv[1], "consume") == 0)
        return cmd_consume(argc - 1, argv + 1);
    return usage_error("unknown command '%s' (produce or consume)", argv[1]);
}
