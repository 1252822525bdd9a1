/*
 * brookctl_groups.c -- `brookctl groups ...` (see brookctl_groups.h).
 *
 * Three sources of truth, each asked for what only it knows:
 *   - ZooKeeper: committed offsets (coordinator/offsets.h), live brokers,
 *     topic assignments and partition leaders (coordinator/zkdata.h);
 *   - the group's coordinator broker: state, protocol, members and their
 *     assignments (DescribeGroups), and the groups it holds (ListGroups);
 *   - each partition's leader: earliest / latest / by-time offsets
 *     (ListOffsets; "latest" is the high watermark, what a consumer can
 *     reach, so the lag is what Kafka shows).
 *
 * The protocol client is deliberately tiny and blocking: a fresh TCP
 * connection per request, one frame out, one frame in, every step bounded
 * by a deadline.  An admin command sends a handful of requests; a
 * connection pool or pipelining would buy nothing.
 *
 * Member assignments are decoded here with a minimal checked decoder of
 * Kafka's ConsumerProtocolAssignment (client/assignor.h has the full one,
 * but brookctl does not link libbrook, and an admin tool should not need
 * the client library to read eight fields).
 */
#define _DEFAULT_SOURCE /* getaddrinfo, strdup under -std=c11 */
#include "coordinator/brookctl_groups.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/frame.h"
#include "coordinator/offsets.h"
#include "coordinator/topic.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"
#include "proto/brook.pb-c.h"
#include "proto/protocol.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

#define GC_TOPIC           "__consumer_offsets" /* broker/gcoord.h */
#define DEFAULT_TIMEOUT_MS 10000
#define MAX_TOPIC_ARGS     64
#define RESP_MAX           (64u * 1024 * 1024) /* largest answer we read */
#define CLIENT_ID          "brookctl"

/* ------------------------------ messages ------------------------------ */

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("brookctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'brookctl groups --help'.\n", stderr);
    return EXIT_USAGE;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("brookctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILED;
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("brookctl: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* A ZooKeeper failure mid-command: the connection (exit 3) or else. */
static int zk_failed(bk_zk *zk, int rc, const char *what)
{
    fprintf(stderr, "brookctl: %s: %s\n", what, bk_strerror(rc));
    if (rc == -BK_EIO) {
        fprintf(stderr, "brookctl: lost the connection to ZooKeeper at %s\n",
                bk_zk_connect_string(zk));
        return EXIT_UNREACHABLE;
    }
    return EXIT_FAILED;
}

/* ------------------------------ help ------------------------------ */

static const char *const groups_help =
    "usage: brookctl [--zookeeper CONNECT] [--timeout-ms N] groups "
    "<command> [options]\n"
    "\n"
    "Consumer groups: committed offsets are read from and written to\n"
    "ZooKeeper; live membership is asked of the group's coordinator broker\n"
    "(the leader of the group's __consumer_offsets partition).\n"
    "\n"
    "Commands:\n"
    "  groups list\n"
    "  groups describe --group G\n"
    "  groups reset-offsets --group G --topic T[:P,P...] (--to-earliest |\n"
    "      --to-latest | --to-offset N | --to-datetime ISO8601) "
    "[--execute]\n"
    "  groups delete --group G\n"
    "`brookctl groups <command> --help` for one command.\n"
    "\n"
    "--timeout-ms N bounds the ZooKeeper connection and each wait for a\n"
    "broker (default 10000).  Exit status: 0 success, 1 failure, 2 usage\n"
    "error, 3 ZooKeeper unreachable.\n";

static const char *const list_help =
    "usage: brookctl groups list\n"
    "\n"
    "Every group with committed offsets in ZooKeeper and every group a\n"
    "live broker coordinates, sorted, one per line:\n"
    "  GROUP<TAB>STATE\n"
    "STATE is the coordinator's (Stable, PreparingRebalance,\n"
    "CompletingRebalance, Empty, Dead); Empty for a group with only\n"
    "committed offsets; Unknown when its coordinator could not be asked.\n"
    "Unreachable brokers are skipped with a warning on stderr.\n";

static const char *const describe_help =
    "usage: brookctl groups describe --group G\n"
    "\n"
    "Prints, as kafka-consumer-groups.sh --describe --state / --members /\n"
    "--offsets do, three tables: the group (coordinator, assignment\n"
    "strategy, state, member count); its members (member id, host, client\n"
    "id, assigned partitions); and per partition with a committed offset\n"
    "or an owner: CURRENT-OFFSET (committed), LOG-END-OFFSET (the\n"
    "partition's high watermark, from its leader), LAG and the owning\n"
    "member.  '-' where a value is unknown.  A group that has neither\n"
    "committed offsets nor a live coordinator entry does not exist (exit\n"
    "1).\n";

static const char *const reset_help =
    "usage: brookctl groups reset-offsets --group G --topic T[:P,P...]\n"
    "           (--to-earliest | --to-latest | --to-offset N |\n"
    "            --to-datetime YYYY-MM-DDTHH:MM:SS[.sss][Z|+HH:MM])\n"
    "           [--dry-run | --execute]\n"
    "\n"
    "Computes new committed offsets for the partitions of T (all, or the\n"
    "listed ones; --topic may be repeated) and prints them:\n"
    "  --to-earliest  the log start offset\n"
    "  --to-latest    the log end offset (high watermark)\n"
    "  --to-offset N  N, clamped to [earliest, latest] as Kafka does\n"
    "  --to-datetime  the first offset whose timestamp is at or after the\n"
    "                 time (the log end when there is none); no zone:\n"
    "                 local time\n"
    "Without --execute nothing is written (a dry run, Kafka's default).\n"
    "With --execute the offsets are written to ZooKeeper in one\n"
    "transaction; refused while the group has active members, or when its\n"
    "coordinator cannot be asked.\n";

static const char *const delete_help =
    "usage: brookctl groups delete --group G\n"
    "\n"
    "Deletes group G's committed offsets (/consumers/G in ZooKeeper).\n"
    "Refused while the group has active members, or when its coordinator\n"
    "cannot be asked.\n";

/* ------------------------------ arguments ------------------------------ */

enum {
    GO_GROUP = 1 << 0,
    GO_TOPIC = 1 << 1,
    GO_TO = 1 << 2,
    GO_EXECUTE = 1 << 3,
    GO_DRY_RUN = 1 << 4,
};

enum to_kind { TO_NONE, TO_EARLIEST, TO_LATEST, TO_OFFSET, TO_DATETIME };

typedef struct gargs {
    const char *zookeeper;
    int timeout_ms;
    bool help;
    const char *words[3];
    int nwords;
    unsigned given;
    const char *group;
    const char *topics[MAX_TOPIC_ARGS];
    size_t ntopics;
    enum to_kind to;
    int nto; /* --to-* options given */
    const char *to_value;
} gargs;

/* Flags (options without a value) of every brookctl command, so that the
 * word scan of bk_ctlg_wants() knows what is not followed by a value. */
static bool is_flag(const char *name, size_t n)
{
    static const char *const flags[] = {
        "--help",      "--execute",   "--verify",        "--generate",
        "--wait",      "--if-exists", "--if-not-exists", "--to-earliest",
        "--to-latest", "--dry-run",
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strlen(flags[i]) == n && strncmp(flags[i], name, n) == 0)
            return true;
    return false;
}

bool bk_ctlg_wants(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) == 0 && a[2]) {
            if (!strchr(a, '=') && !is_flag(a, strlen(a)))
                i++; /* its value */
            continue;
        }
        if (a[0] == '-')
            continue;
        return strcmp(a, "groups") == 0;
    }
    return false;
}

static bool parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return false;
    *out = (int64_t)v;
    return true;
}

/* -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, gargs *a)
{
    memset(a, 0, sizeof *a);
    a->timeout_ms = DEFAULT_TIMEOUT_MS;
    const char *timeout = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (arg[0] == '-')
                return usage("unknown option '%s'", arg);
            if (a->nwords == 3)
                return usage("unexpected argument '%s'", arg);
            a->words[a->nwords++] = arg;
            continue;
        }
        char name[64];
        const char *eq = strchr(arg, '=');
        size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nl >= sizeof name)
            return usage("unknown option '%s'", arg);
        memcpy(name, arg, nl);
        name[nl] = '\0';
        if (is_flag(name, nl)) {
            if (eq)
                return usage("option %s takes no value", name);
            if (strcmp(name, "--execute") == 0)
                a->given |= GO_EXECUTE;
            else if (strcmp(name, "--dry-run") == 0)
                a->given |= GO_DRY_RUN;
            else if (strcmp(name, "--to-earliest") == 0 ||
                     strcmp(name, "--to-latest") == 0) {
                a->given |= GO_TO;
                a->nto++;
                a->to = name[5] == 'e' ? TO_EARLIEST : TO_LATEST;
            } else
                return usage("option %s is not valid for 'groups'", name);
            continue;
        }
        const char *value = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!value)
            return usage("option %s needs a value", name);
        if (strcmp(name, "--zookeeper") == 0)
            a->zookeeper = value;
        else if (strcmp(name, "--timeout-ms") == 0)
            timeout = value;
        else if (strcmp(name, "--group") == 0) {
            a->group = value;
            a->given |= GO_GROUP;
        } else if (strcmp(name, "--topic") == 0) {
            if (a->ntopics == MAX_TOPIC_ARGS)
                return usage("more than %d --topic options", MAX_TOPIC_ARGS);
            a->topics[a->ntopics++] = value;
            a->given |= GO_TOPIC;
        } else if (strcmp(name, "--to-offset") == 0 ||
                   strcmp(name, "--to-datetime") == 0) {
            a->given |= GO_TO;
            a->nto++;
            a->to = name[5] == 'o' ? TO_OFFSET : TO_DATETIME;
            a->to_value = value;
        } else
            return usage("unknown option '%s'", name);
    }
    if (timeout) {
        int64_t v;
        if (!parse_i64(timeout, 1, 3600 * 1000, &v))
            return usage("bad --timeout-ms '%s' (milliseconds, 1..3600000)",
                         timeout);
        a->timeout_ms = (int)v;
    }
    return -1;
}

static int check_opts(const gargs *a, unsigned allowed, const char *cmd)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {GO_GROUP, "--group"},     {GO_TOPIC, "--topic"},     {GO_TO, "--to-*"},
        {GO_EXECUTE, "--execute"}, {GO_DRY_RUN, "--dry-run"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((a->given & names[i].bit) && !(allowed & names[i].bit))
            return usage("option %s is not valid for '%s'", names[i].name, cmd);
    return -1;
}

/* ------------------------------ pure helpers ------------------------------ */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* n digits at *p into *v; advances. */
static bool digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        x = x * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *v = x;
    return true;
}

int bk_ctlg_parse_datetime(const char *s, int64_t *ms)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0;
    const char *p = s;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
        *p++ != '-' || !digits(&p, 2, &d))
        return -BK_EINVAL;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap))
        return -BK_EINVAL;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return -BK_EINVAL;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec))
                return -BK_EINVAL;
            if (*p == '.') {
                p++;
                int nd = 0, scale = 100;
                for (; *p >= '0' && *p <= '9'; p++, nd++) {
                    frac_ms += (*p - '0') * scale;
                    scale /= 10;
                }
                if (nd == 0 || nd > 9)
                    return -BK_EINVAL;
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return -BK_EINVAL;
    }
    bool zone = false;
    int off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        zone = true;
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, zh, zm = 0;
        if (!digits(&p, 2, &zh))
            return -BK_EINVAL;
        if (*p == ':')
            p++;
        if (*p && !digits(&p, 2, &zm))
            return -BK_EINVAL;
        if (zh > 18 || zm > 59)
            return -BK_EINVAL;
        zone = true;
        off_min = sign * (zh * 60 + zm);
    }
    if (*p)
        return -BK_EINVAL;
    int64_t secs;
    if (zone) {
        secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
               (int64_t)off_min * 60;
    } else {
        struct tm tm = {.tm_year = y - 1900,
                        .tm_mon = mo - 1,
                        .tm_mday = d,
                        .tm_hour = h,
                        .tm_min = mi,
                        .tm_sec = sec,
                        .tm_isdst = -1};
        time_t t = mktime(&tm);
        if (t == (time_t)-1)
            return -BK_EINVAL;
        secs = (int64_t)t;
    }
    if (secs < 0)
        return -BK_EINVAL;
    *ms = secs * 1000 + frac_ms;
    return 0;
}

/* ------------------------ assignment (Kafka layout) ------------------------
 */

/* One assigned partition. */
typedef struct asg_tp {
    char *topic; /* owned */
    int32_t partition;
} asg_tp;

typedef struct asg {
    asg_tp *v;
    size_t n;
} asg;

static void asg_free(asg *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i].topic);
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

/*
 * ConsumerProtocolAssignment: int16 version, [string topic, [int32]
 * partitions], bytes user_data (nullable).  Versions 1..3 add nothing to
 * version 0; above 3 the bytes after the known fields are ignored (Kafka
 * reads a newer version as the highest it knows).  Empty input (a member
 * that has no assignment yet) is no partitions.  0, -BK_ECORRUPT (err
 * says where) or -BK_ENOMEM.
 */
static int asg_decode(const uint8_t *p, size_t len, asg *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return 0;
    bk_rd r;
    bk_rd_init(&r, p, len);
    int16_t version, tlen;
    int32_t ntopics, nparts, ulen;
    const char *what = "version";
    BK_RD_TRY(bk_rd_i16(&r, &version));
    what = "a negative version";
    if (version < 0)
        goto err_parse;
    what = "the topic count";
    BK_RD_TRY(bk_rd_i32(&r, &ntopics));
    /* a topic takes at least 6 bytes: bound counts by what is left */
    if (ntopics < 0 || (size_t)ntopics > bk_rd_remains(&r) / 6)
        goto err_parse;
    for (int32_t t = 0; t < ntopics; t++) {
        const uint8_t *name;
        what = "a topic name";
        BK_RD_TRY(bk_rd_i16(&r, &tlen));
        if (tlen < 0)
            goto err_parse;
        BK_RD_TRY(bk_rd_ptr(&r, (size_t)tlen, &name));
        what = "a partition count";
        BK_RD_TRY(bk_rd_i32(&r, &nparts));
        if (nparts < 0 || (size_t)nparts > bk_rd_remains(&r) / 4)
            goto err_parse;
        if (nparts > 0) {
            asg_tp *nv =
                realloc(out->v, (out->n + (size_t)nparts) * sizeof *nv);
            if (!nv) {
                asg_free(out);
                return -BK_ENOMEM;
            }
            out->v = nv;
        }
        for (int32_t k = 0; k < nparts; k++) {
            int32_t part;
            what = "a partition";
            BK_RD_TRY(bk_rd_i32(&r, &part));
            char *tn = strndup((const char *)name, (size_t)tlen);
            if (!tn) {
                asg_free(out);
                return -BK_ENOMEM;
            }
            out->v[out->n].topic = tn;
            out->v[out->n].partition = part;
            out->n++;
        }
    }
    what = "user data";
    BK_RD_TRY(bk_rd_i32(&r, &ulen));
    if (ulen < -1)
        goto err_parse;
    if (ulen > 0)
        BK_RD_TRY(bk_rd_skip(&r, (size_t)ulen));
    what = "trailing bytes";
    if (version <= 3 && bk_rd_remains(&r) != 0)
        goto err_parse;
    return 0;
err_parse:
    bk_errf(err, errlen, "bad assignment: %s at byte %zu", what, r.pos);
    asg_free(out);
    return -BK_ECORRUPT;
}

/* ------------------------------ the client ------------------------------ */

static int64_t remaining(int64_t deadline)
{
    int64_t r = deadline - bk_clock_mono_ms();
    return r > 0 ? r : 0;
}

/* Waits for ev on fd until the deadline.  0, or -1 with errno. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        int64_t r = remaining(deadline);
        if (r == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd pf = {fd, ev, 0};
        int n = poll(&pf, 1, (int)r);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static int net_connect(const char *host, int32_t port, int64_t deadline,
                       char *err, size_t errlen)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%" PRId32, port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(host, ps, &hints, &ai);
    if (g != 0) {
        bk_errf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(g));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *x = ai; x && fd < 0; x = x->ai_next) {
        fd = socket(x->ai_family, x->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    x->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        if (connect(fd, x->ai_addr, x->ai_addrlen) != 0) {
            socklen_t sl = sizeof e;
            e = errno;
            if (e == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) == 0 && e == 0)
                break;
            if (e == EINPROGRESS)
                e = errno ? errno : ETIMEDOUT;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        bk_errf(err, errlen, "cannot connect to %s:%" PRId32 ": %s", host, port,
                strerror(e ? e : ECONNREFUSED));
    return fd;
}

static int net_write(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, deadline) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

static int net_read(int fd, uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t k = recv(fd, p, n, 0);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k == 0) {
            errno = ECONNRESET;
            return -1;
        } else if (errno == EAGAIN || errno == EINTR) {
            if (wait_fd(fd, POLLIN, deadline) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/*
 * Sends req (its header is filled here) to host:port and reads the one
 * response, all before `deadline` (monotonic ms).  0 and *out (free with
 * brook__response__free_unpacked), whose body is the API's; or -1 with
 * err saying what failed (connect, timeout, closed, undecodable answer,
 * request-level error).
 */
static int net_call(const char *host, int32_t port, int api_key,
                    Brook__Request *req, int64_t deadline,
                    Brook__Response **out, char *err, size_t errlen)
{
    static int32_t corr = 1;
    *out = NULL;
    Brook__RequestHeader hdr = BROOK__REQUEST_HEADER__INIT;
    hdr.api_key = api_key;
    hdr.correlation_id = corr++;
    hdr.client_id = CLIENT_ID;
    req->header = &hdr;
    bk_buf b = BK_BUF_INIT;
    if (bk_frame_encode_request(&b, req) != 0) {
        bk_buf_free(&b);
        bk_errf(err, errlen, "cannot encode the %s request",
                bk_api_name(api_key));
        return -1;
    }
    int fd = net_connect(host, port, deadline, err, errlen);
    if (fd < 0) {
        bk_buf_free(&b);
        return -1;
    }
    uint8_t lenb[4];
    uint8_t *payload = NULL;
    int rc = -1;
    const char *stage = "send";
    if (net_write(fd, b.data, b.len, deadline) != 0)
        goto out;
    stage = "receive";
    if (net_read(fd, lenb, 4, deadline) != 0)
        goto out;
    uint32_t n = bk_load_be32(lenb);
    if (n == 0 || n > RESP_MAX) {
        bk_errf(err, errlen, "%s:%" PRId32 " sent a frame of bad length %u",
                host, port, n);
        goto out_quiet;
    }
    payload = malloc(n);
    if (!payload || net_read(fd, payload, n, deadline) != 0)
        goto out;
    Brook__Response *resp = NULL;
    if (bk_frame_decode_response(payload, n, &resp) != 0) {
        bk_errf(err, errlen, "%s:%" PRId32 " sent an undecodable response",
                host, port);
        goto out_quiet;
    }
    if (resp->header->correlation_id != hdr.correlation_id) {
        bk_errf(err, errlen, "%s:%" PRId32 " answered another request", host,
                port);
    } else if (resp->header->error_code != 0) {
        bk_errf(err, errlen, "%s:%" PRId32 " refused %s: %s%s%s", host, port,
                bk_api_name(api_key), bk_err_name(resp->header->error_code),
                resp->header->error_message[0] ? ": " : "",
                resp->header->error_message);
    } else if ((int)resp->body_case != BK_BODY_FIELD(api_key)) {
        bk_errf(err, errlen, "%s:%" PRId32 " answered %s with another body",
                host, port, bk_api_name(api_key));
    } else {
        *out = resp;
        rc = 0;
        goto out_quiet;
    }
    brook__response__free_unpacked(resp, NULL);
    goto out_quiet;
out:
    bk_errf(err, errlen, "%s %s:%" PRId32 ": %s", stage, host, port,
            errno == ETIMEDOUT ? "timed out"
            : errno            ? strerror(errno)
                               : "out of memory");
out_quiet:
    req->header = NULL;
    free(payload);
    close(fd);
    bk_buf_free(&b);
    return rc;
}

/* ------------------------------ cluster view ------------------------------ */

typedef struct ctl {
    bk_zk *zk;
    int timeout_ms;
    bk_zkc_broker *brokers; /* live brokers (loaded once) */
    size_t nbrokers;
    bool have_brokers;
    int32_t gc_nparts; /* __consumer_offsets partitions; 0: no topic */
    bool have_gc;
} ctl;

static int load_brokers(ctl *c)
{
    if (c->have_brokers)
        return 0;
    int rc = bk_zkd_brokers_list(c->zk, &c->brokers, &c->nbrokers);
    c->have_brokers = rc == 0;
    return rc;
}

static const bk_zkc_broker *broker_find(const ctl *c, int32_t id)
{
    for (size_t i = 0; i < c->nbrokers; i++)
        if (c->brokers[i].id == id)
            return &c->brokers[i];
    return NULL;
}

/* Where to reach broker b ("" / -1 when it has no endpoint). */
static void broker_addr(const bk_zkc_broker *b, const char **host,
                        int32_t *port)
{
    *host = b->host;
    *port = b->port;
    if ((!b->host[0] || b->port <= 0) && b->nendpoints > 0) {
        *host = b->endpoints[0].host;
        *port = b->endpoints[0].port;
    }
}

/* The leader of topic/p from its state znode: 0 and *leader (-1: none or
 * no state), or -BK_E* from ZooKeeper. */
static int leader_of(ctl *c, const char *topic, int32_t p, int32_t *leader)
{
    bk_zkc_pstate st;
    int rc = bk_zkd_pstate_read(c->zk, topic, p, &st, NULL);
    *leader = rc == 0 ? st.leader : -1;
    return rc == -BK_ENOENT || rc == -BK_ECORRUPT ? 0 : rc;
}

static int load_gc(ctl *c)
{
    if (c->have_gc)
        return 0;
    bk_zkc_assignment as;
    int rc = bk_zkd_topic_read(c->zk, GC_TOPIC, &as, NULL);
    if (rc == 0) {
        c->gc_nparts = as.nparts;
        bk_zkc_assignment_free(&as);
    } else if (rc == -BK_ENOENT || rc == -BK_ECORRUPT) {
        c->gc_nparts = 0;
        rc = 0;
    }
    c->have_gc = rc == 0;
    return rc;
}

/* The coordinator of group according to ZooKeeper.  0 and *node (a live
 * broker); 1 when __consumer_offsets does not exist (no group has ever
 * had a coordinator, so none has members); -1 with why when there is no
 * live coordinator now; -BK_E* from ZooKeeper. */
static int coord_find(ctl *c, const char *group, int32_t *node, char *why,
                      size_t whylen)
{
    int rc = load_gc(c);
    if (rc)
        return rc;
    if (c->gc_nparts <= 0)
        return 1;
    int32_t p = bk_off_group_partition(group, c->gc_nparts), leader;
    if ((rc = leader_of(c, GC_TOPIC, p, &leader)) != 0)
        return rc;
    if ((rc = load_brokers(c)) != 0)
        return rc;
    if (leader < 0) {
        bk_errf(why, whylen, "partition %" PRId32 " of %s has no leader", p,
                GC_TOPIC);
        return -1;
    }
    if (!broker_find(c, leader)) {
        bk_errf(why, whylen,
                "broker %" PRId32 " (leader of %s partition %" PRId32
                ") is not registered",
                leader, GC_TOPIC, p);
        return -1;
    }
    *node = leader;
    return 0;
}

/* What the coordinator says of one group. */
typedef struct gdesc {
    Brook__Response *resp;          /* owns d */
    const Brook__DescribedGroup *d; /* NULL when never coordinated */
    int32_t node;                   /* coordinator; -1 when none */
} gdesc;

static void gdesc_free(gdesc *g)
{
    if (g->resp)
        brook__response__free_unpacked(g->resp, NULL);
    memset(g, 0, sizeof *g);
    g->node = -1;
}

/*
 * DescribeGroups for group at its coordinator.  Retriable answers
 * (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS / NOT_AVAILABLE: the
 * leadership is moving) and unreachable coordinators are retried, with a
 * fresh look at ZooKeeper, until --timeout-ms has passed.
 * 0: out->d is the answer (NULL: __consumer_offsets does not exist, so
 * the group cannot have members); -1: no answer, why says why; -BK_E*
 * from ZooKeeper.
 */
static int group_describe(ctl *c, const char *group, gdesc *out, char *why,
                          size_t whylen)
{
    memset(out, 0, sizeof *out);
    out->node = -1;
    int64_t deadline = bk_clock_mono_ms() + c->timeout_ms;
    for (;;) {
        int32_t node = -1;
        int rc = coord_find(c, group, &node, why, whylen);
        if (rc == 1)
            return 0;
        if (rc < -1)
            return rc;
        if (rc == 0) {
            const char *host;
            int32_t port;
            broker_addr(broker_find(c, node), &host, &port);
            Brook__Request req = BROOK__REQUEST__INIT;
            Brook__DescribeGroupsRequest dr =
                BROOK__DESCRIBE_GROUPS_REQUEST__INIT;
            char *g = (char *)group;
            dr.n_groups = 1;
            dr.groups = &g;
            req.body_case = BROOK__REQUEST__BODY_DESCRIBE_GROUPS;
            req.describe_groups = &dr;
            Brook__Response *resp;
            char e[400];
            if (net_call(host, port, BK_API_DESCRIBE_GROUPS, &req, deadline,
                         &resp, e, sizeof e) != 0) {
                bk_errf(why, whylen, "coordinator (broker %" PRId32 "): %s",
                        node, e);
            } else if (resp->describe_groups->n_groups != 1 ||
                       strcmp(resp->describe_groups->groups[0]->group_id,
                              group) != 0) {
                bk_errf(why, whylen,
                        "coordinator (broker %" PRId32
                        ") answered DescribeGroups about another group",
                        node);
                brook__response__free_unpacked(resp, NULL);
            } else {
                const Brook__DescribedGroup *d =
                    resp->describe_groups->groups[0];
                int32_t ec = d->error_code;
                if (ec == 0) {
                    out->resp = resp;
                    out->d = d;
                    out->node = node;
                    return 0;
                }
                bk_errf(why, whylen,
                        "coordinator (broker %" PRId32 ") answered %s", node,
                        bk_err_name(ec));
                brook__response__free_unpacked(resp, NULL);
                if (ec != BK_ERR_NOT_COORDINATOR &&
                    ec != BK_ERR_COORDINATOR_LOAD_IN_PROGRESS &&
                    ec != BK_ERR_COORDINATOR_NOT_AVAILABLE)
                    return -1;
            }
        }
        if (remaining(deadline) < 100)
            return -1;
        usleep(100 * 1000);
        c->have_gc = false; /* the topic may have been created meanwhile */
        c->have_brokers = false;
        free(c->brokers);
        c->brokers = NULL;
        c->nbrokers = 0;
    }
}

/* True when the described group has no active member. */
static bool inactive(const gdesc *g)
{
    if (!g->d)
        return true;
    return g->d->n_members == 0 && (strcmp(g->d->group_state, "Empty") == 0 ||
                                    strcmp(g->d->group_state, "Dead") == 0);
}

/* ------------------------------ partition offsets
 * ------------------------------ */

enum { SLOT_EARLIEST, SLOT_LATEST, SLOT_TIME, NSLOTS };

/* One partition a command is about. */
typedef struct tpo {
    char *topic; /* owned */
    int32_t partition;
    int64_t committed; /* -1: none */
    bool corrupt;      /* the committed offset does not decode */
    int owner;         /* member index in the description, -1: none */
    int32_t leader;    /* -1: none */
    int64_t off[NSLOTS];
    int64_t ts_found; /* SLOT_TIME: timestamp of off (or -1) */
    bool have[NSLOTS];
    int64_t new_offset; /* reset-offsets */
} tpo;

typedef struct tpov {
    tpo *v;
    size_t n, cap;
} tpov;

static void tpov_free(tpov *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].topic);
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* The entry for topic/p, added when missing; NULL when out of memory. */
static tpo *tpov_get(tpov *t, const char *topic, int32_t p)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].partition == p && strcmp(t->v[i].topic, topic) == 0)
            return &t->v[i];
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 32;
        tpo *nv = realloc(t->v, nc * sizeof *nv);
        if (!nv)
            return NULL;
        t->v = nv;
        t->cap = nc;
    }
    tpo *e = &t->v[t->n];
    memset(e, 0, sizeof *e);
    if (!(e->topic = strdup(topic)))
        return NULL;
    e->partition = p;
    e->committed = -1;
    e->owner = -1;
    e->leader = -1;
    e->ts_found = -1;
    t->n++;
    return e;
}

static int tpo_cmp(const void *a, const void *b)
{
    const tpo *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

/* Reads the leader of every entry from ZooKeeper.  0 or -BK_E*. */
static int read_leaders(ctl *c, tpov *t)
{
    for (size_t i = 0; i < t->n; i++) {
        int rc =
            leader_of(c, t->v[i].topic, t->v[i].partition, &t->v[i].leader);
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * ListOffsets with timestamp ts (-2 earliest, -1 latest, else a time) for
 * every entry, one request per leader, results in slot.  Entries that get
 * no answer keep have[slot] false; each problem is reported through
 * report() (a warning or an error, the caller's choice) and counted.
 * Returns the number of entries without an answer.
 */
static size_t list_offsets(ctl *c, tpov *t, int64_t ts, int slot,
                           void (*report)(const char *fmt, ...))
{
    size_t missing = 0;
    bool *done = calloc(t->n ? t->n : 1, sizeof *done);
    Brook__ListOffsetsTopic *tv = calloc(t->n ? t->n : 1, sizeof *tv);
    Brook__ListOffsetsTopic **tp = calloc(t->n ? t->n : 1, sizeof *tp);
    Brook__ListOffsetsPartition *pv = calloc(t->n ? t->n : 1, sizeof *pv);
    Brook__ListOffsetsPartition **pp = calloc(t->n ? t->n : 1, sizeof *pp);
    if (!done || !tv || !tp || !pv || !pp) {
        report("out of memory");
        missing = t->n;
        goto out;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (done[i])
            continue;
        int32_t leader = t->v[i].leader;
        if (leader < 0) {
            report("partition %s-%" PRId32 " has no leader", t->v[i].topic,
                   t->v[i].partition);
            done[i] = true;
            missing++;
            continue;
        }
        const bk_zkc_broker *b = broker_find(c, leader);
        if (!b) {
            report("leader %" PRId32 " of %s-%" PRId32 " is not registered",
                   leader, t->v[i].topic, t->v[i].partition);
            done[i] = true;
            missing++;
            continue;
        }
        /* one ListOffsetsTopic per partition: simple, and the broker
         * answers each on its own */
        size_t k = 0;
        for (size_t j = i; j < t->n; j++) {
            if (done[j] || t->v[j].leader != leader)
                continue;
            brook__list_offsets_topic__init(&tv[k]);
            brook__list_offsets_partition__init(&pv[k]);
            tv[k].name = t->v[j].topic;
            tv[k].n_partitions = 1;
            pp[k] = &pv[k];
            tv[k].partitions = &pp[k];
            pv[k].partition_index = t->v[j].partition;
            pv[k].current_leader_epoch = -1;
            pv[k].timestamp = ts;
            tp[k] = &tv[k];
            k++;
        }
        Brook__Request req = BROOK__REQUEST__INIT;
        Brook__ListOffsetsRequest lr = BROOK__LIST_OFFSETS_REQUEST__INIT;
        lr.replica_id = -1;
        lr.n_topics = k;
        lr.topics = tp;
        req.body_case = BROOK__REQUEST__BODY_LIST_OFFSETS;
        req.list_offsets = &lr;
        const char *host;
        int32_t port;
        broker_addr(b, &host, &port);
        Brook__Response *resp = NULL;
        char e[400];
        int64_t deadline = bk_clock_mono_ms() + c->timeout_ms;
        int rc = net_call(host, port, BK_API_LIST_OFFSETS, &req, deadline,
                          &resp, e, sizeof e);
        for (size_t j = i; j < t->n; j++) {
            if (done[j] || t->v[j].leader != leader)
                continue;
            done[j] = true;
            tpo *x = &t->v[j];
            int32_t ec = -1;
            for (size_t a = 0; rc == 0 && a < resp->list_offsets->n_topics;
                 a++) {
                const Brook__ListOffsetsTopicResponse *r =
                    resp->list_offsets->topics[a];
                if (strcmp(r->name, x->topic) != 0)
                    continue;
                for (size_t q = 0; q < r->n_partitions; q++) {
                    if (r->partitions[q]->partition_index != x->partition)
                        continue;
                    ec = r->partitions[q]->error_code;
                    if (ec == 0) {
                        x->off[slot] = r->partitions[q]->offset;
                        x->have[slot] = true;
                        if (slot == SLOT_TIME)
                            x->ts_found = r->partitions[q]->timestamp;
                    }
                }
            }
            if (x->have[slot])
                continue;
            missing++;
            if (rc != 0)
                report("offsets of %s-%" PRId32 " (leader %" PRId32 "): %s",
                       x->topic, x->partition, leader, e);
            else
                report("offsets of %s-%" PRId32 " (leader %" PRId32 "): %s",
                       x->topic, x->partition, leader,
                       ec < 0 ? "no answer for the partition"
                              : bk_err_name(ec));
        }
        if (resp)
            brook__response__free_unpacked(resp, NULL);
    }
out:
    free(done);
    free(tv);
    free(tp);
    free(pv);
    free(pp);
    return missing;
}

static void report_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void report_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("brookctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ------------------------------ tables ------------------------------ */

#define TBL_MAXCOLS 9

/* Rows of strings printed with aligned columns (two blanks apart, the last
 * column unpadded), as kafka-consumer-groups.sh prints its tables. */
typedef struct table {
    int ncols;
    char **cells; /* row-major, owned */
    size_t nrows, cap;
    bool oom;
} table;

static void tbl_row(table *t, ...)
{
    if (t->nrows == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        char **v = realloc(t->cells, nc * (size_t)t->ncols * sizeof *v);
        if (!v) {
            t->oom = true;
            return;
        }
        t->cells = v;
        t->cap = nc;
    }
    va_list ap;
    va_start(ap, t);
    for (int i = 0; i < t->ncols; i++) {
        const char *s = va_arg(ap, const char *);
        char *d = strdup(s ? s : "-");
        t->oom |= !d;
        t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = d;
    }
    va_end(ap);
    t->nrows++;
}

static void tbl_print_free(table *t)
{
    size_t w[TBL_MAXCOLS] = {0};
    for (size_t r = 0; !t->oom && r < t->nrows; r++)
        for (int i = 0; i < t->ncols; i++) {
            size_t l = strlen(t->cells[r * (size_t)t->ncols + (size_t)i]);
            if (l > w[i])
                w[i] = l;
        }
    for (size_t r = 0; !t->oom && r < t->nrows; r++) {
        for (int i = 0; i < t->ncols; i++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)i];
            if (i + 1 < t->ncols)
                printf("%-*s  ", (int)w[i], s);
            else
                printf("%s\n", s);
        }
    }
    for (size_t k = 0; k < t->nrows * (size_t)t->ncols; k++)
        free(t->cells[k]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

/* ------------------------------ groups list ------------------------------ */

typedef struct listed {
    char *name;
    char state[40];
    int32_t from; /* broker that reported it, -1: ZooKeeper only */
} listed;

static int listed_cmp(const void *a, const void *b)
{
    return strcmp(((const listed *)a)->name, ((const listed *)b)->name);
}

static listed *listed_find(listed *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

static int cmd_list(ctl *c)
{
    bk_zk_strings zg = {0};
    int rc = bk_off_list_groups(c->zk, &zg);
    if (rc)
        return zk_failed(c->zk, rc, "cannot list the groups in ZooKeeper");
    if ((rc = load_brokers(c)) != 0) {
        bk_zk_strings_free(&zg);
        return zk_failed(c->zk, rc, "cannot list the brokers");
    }
    listed *v = NULL;
    size_t n = 0, cap = 0;
    bool *answered = calloc(c->nbrokers ? c->nbrokers : 1, sizeof *answered);
    int st = answered ? -1 : fail("out of memory");
    for (size_t i = 0; st < 0 && i < c->nbrokers; i++) {
        const char *host;
        int32_t port;
        broker_addr(&c->brokers[i], &host, &port);
        Brook__Request req = BROOK__REQUEST__INIT;
        Brook__ListGroupsRequest lr = BROOK__LIST_GROUPS_REQUEST__INIT;
        req.body_case = BROOK__REQUEST__BODY_LIST_GROUPS;
        req.list_groups = &lr;
        Brook__Response *resp;
        char e[400];
        if (net_call(host, port, BK_API_LIST_GROUPS, &req,
                     bk_clock_mono_ms() + c->timeout_ms, &resp, e,
                     sizeof e) != 0) {
            warn("broker %" PRId32 " skipped (%s); the groups it coordinates "
                 "are missing or shown as Unknown",
                 c->brokers[i].id, e);
            continue;
        }
        const Brook__ListGroupsResponse *l = resp->list_groups;
        if (l->error_code != 0) {
            warn("broker %" PRId32 " skipped: ListGroups answered %s",
                 c->brokers[i].id, bk_err_name(l->error_code));
            brook__response__free_unpacked(resp, NULL);
            continue;
        }
        answered[i] = true;
        for (size_t k = 0; st < 0 && k < l->n_groups; k++) {
            const Brook__ListedGroup *g = l->groups[k];
            listed *x = listed_find(v, n, g->group_id);
            if (!x) {
                if (n == cap) {
                    size_t nc = cap ? cap * 2 : 32;
                    listed *nv = realloc(v, nc * sizeof *nv);
                    if (!nv) {
                        st = fail("out of memory");
                        break;
                    }
                    v = nv;
                    cap = nc;
                }
                x = &v[n];
                if (!(x->name = strdup(g->group_id))) {
                    st = fail("out of memory");
                    break;
                }
                n++;
            }
            /* Two brokers may briefly both hold a group whose coordinator
             * moves; the later answer wins, both are live states. */
            snprintf(x->state, sizeof x->state, "%s",
                     g->group_state[0] ? g->group_state : "Unknown");
            x->from = c->brokers[i].id;
        }
        brook__response__free_unpacked(resp, NULL);
    }
    /* Groups known only by their committed offsets: Empty when their
     * coordinator answered and does not hold them (Kafka shows a group
     * with only offsets as Empty), else Unknown. */
    for (size_t i = 0; st < 0 && i < zg.n; i++) {
        if (listed_find(v, n, zg.v[i]))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            listed *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                st = fail("out of memory");
                break;
            }
            v = nv;
            cap = nc;
        }
        listed *x = &v[n];
        if (!(x->name = strdup(zg.v[i]))) {
            st = fail("out of memory");
            break;
        }
        n++;
        x->from = -1;
        snprintf(x->state, sizeof x->state, "Unknown");
        int32_t node;
        char why[200];
        rc = coord_find(c, zg.v[i], &node, why, sizeof why);
        if (rc < -1) {
            st = zk_failed(c->zk, rc, "cannot find a group's coordinator");
            break;
        }
        if (rc == 1)
            snprintf(x->state, sizeof x->state, "Empty");
        for (size_t b = 0; rc == 0 && b < c->nbrokers; b++)
            if (c->brokers[b].id == node && answered[b])
                snprintf(x->state, sizeof x->state, "Empty");
    }
    if (st < 0) {
        if (n)
            qsort(v, n, sizeof *v, listed_cmp);
        for (size_t i = 0; i < n; i++)
            printf("%s\t%s\n", v[i].name, v[i].state);
        st = EXIT_OK;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    free(answered);
    bk_zk_strings_free(&zg);
    return st;
}

/* ------------------------------ groups describe ------------------------------
 */

static void fmt_i64(char *out, size_t cap, bool have, int64_t v)
{
    if (have)
        snprintf(out, cap, "%" PRId64, v);
    else
        snprintf(out, cap, "-");
}

static int cmd_describe(ctl *c, const char *group)
{
    bk_off_list offs = {0};
    char err[512];
    int rc = bk_off_fetch_all(c->zk, group, NULL, &offs, err, sizeof err);
    if (rc)
        return zk_failed(c->zk, rc, "cannot read the committed offsets");
    char path[BK_OFF_PATH_MAX];
    bk_off_path_group(path, group);
    rc = bk_zk_exists(c->zk, path, NULL, NULL, NULL);
    if (rc && rc != -BK_ENOENT) {
        bk_off_list_free(&offs);
        return zk_failed(c->zk, rc, "cannot read the group");
    }
    bool in_zk = rc == 0;
    if (offs.ncorrupt)
        warn("%s", err);

    gdesc gd;
    char why[512] = "";
    rc = group_describe(c, group, &gd, why, sizeof why);
    if (rc < -1) {
        bk_off_list_free(&offs);
        return zk_failed(c->zk, rc, "cannot find the group's coordinator");
    }
    bool known = rc == 0;
    bool live =
        known && gd.d &&
        !(strcmp(gd.d->group_state, "Dead") == 0 && gd.d->n_members == 0);
    int st = -1;
    if (!known && !in_zk)
        st = fail("cannot tell whether consumer group '%s' exists: it has no "
                  "committed offsets and its coordinator cannot be asked "
                  "(%s)",
                  group, why);
    else if (!live && !in_zk)
        st = fail("Consumer group '%s' does not exist.", group);
    if (st >= 0) {
        gdesc_free(&gd);
        bk_off_list_free(&offs);
        return st;
    }
    if (!known)
        warn("the coordinator of group '%s' cannot be asked (%s); members "
             "and state are unknown",
             group, why);

    /* members and their assignments */
    const Brook__DescribedGroup *d = known ? gd.d : NULL;
    size_t nm = d ? d->n_members : 0;
    asg *as = calloc(nm ? nm : 1, sizeof *as);
    tpov t = {0};
    if (!as)
        st = fail("out of memory");
    for (size_t m = 0; st < 0 && m < nm; m++) {
        const Brook__DescribedGroupMember *mb = d->members[m];
        char e[200];
        rc = asg_decode(mb->member_assignment.data, mb->member_assignment.len,
                        &as[m], e, sizeof e);
        if (rc == -BK_ENOMEM)
            st = fail("out of memory");
        else if (rc)
            warn("member %s: %s (%zu bytes); its partitions are not shown",
                 mb->member_id, e, mb->member_assignment.len);
        for (size_t k = 0; st < 0 && k < as[m].n; k++) {
            tpo *x = tpov_get(&t, as[m].v[k].topic, as[m].v[k].partition);
            if (!x)
                st = fail("out of memory");
            else
                x->owner = (int)m;
        }
    }
    for (size_t i = 0; st < 0 && i < offs.n; i++) {
        tpo *x = tpov_get(&t, offs.v[i].topic, offs.v[i].partition);
        if (!x) {
            st = fail("out of memory");
            break;
        }
        x->committed = offs.v[i].offset;
        x->corrupt = offs.v[i].error != 0;
    }
    if (st < 0 && (rc = load_brokers(c)) == 0)
        rc = read_leaders(c, &t);
    if (st < 0 && rc)
        st = zk_failed(c->zk, rc, "cannot read the partition leaders");
    if (st < 0) {
        list_offsets(c, &t, -1, SLOT_LATEST, warn);
        if (t.n)
            qsort(t.v, t.n, sizeof *t.v, tpo_cmp);

        /* the group */
        char coord[400] = "-", nmem[24];
        if (known && gd.node >= 0) {
            const bk_zkc_broker *b = broker_find(c, gd.node);
            const char *host = "?";
            int32_t port = 0;
            if (b)
                broker_addr(b, &host, &port);
            snprintf(coord, sizeof coord, "%s:%" PRId32 " (%" PRId32 ")", host,
                     port, gd.node);
        }
        const char *state = !known ? "Unknown"
                            : live ? d->group_state
                                   : "Empty"; /* only committed offsets */
        snprintf(nmem, sizeof nmem, "%zu", nm);
        table tg = {.ncols = 5};
        tbl_row(&tg, "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY",
                "STATE", "#MEMBERS");
        tbl_row(&tg, group, coord,
                d && d->protocol_data[0] ? d->protocol_data : "-", state,
                known ? nmem : "-");
        tbl_print_free(&tg);
        putchar('\n');

        /* members */
        if (known && nm == 0) {
            printf("Consumer group '%s' has no active members.\n\n", group);
        } else if (nm > 0) {
            table tm = {.ncols = 6};
            tbl_row(&tm, "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID",
                    "#PARTITIONS", "ASSIGNMENT");
            for (size_t m = 0; m < nm; m++) {
                bk_buf a = BK_BUF_INIT;
                /* topic(p,p,...) per topic, in assignment order */
                for (size_t k = 0; k < as[m].n; k++) {
                    bool first = k == 0 || strcmp(as[m].v[k - 1].topic,
                                                  as[m].v[k].topic) != 0;
                    bool last =
                        k + 1 == as[m].n ||
                        strcmp(as[m].v[k + 1].topic, as[m].v[k].topic) != 0;
                    char num[16];
                    if (first) {
                        if (k)
                            bk_buf_put(&a, ",", 1);
                        bk_buf_put(&a, as[m].v[k].topic,
                                   strlen(as[m].v[k].topic));
                        bk_buf_put(&a, "(", 1);
                    }
                    snprintf(num, sizeof num, "%" PRId32 "%s",
                             as[m].v[k].partition, last ? ")" : ",");
                    bk_buf_put(&a, num, strlen(num));
                }
                bk_buf_put(&a, "", 1);
                char np[24];
                snprintf(np, sizeof np, "%zu", as[m].n);
                const Brook__DescribedGroupMember *mb = d->members[m];
                tbl_row(&tm, group, mb->member_id, mb->client_host,
                        mb->client_id[0] ? mb->client_id : "-", np,
                        bk_buf_ok(&a) && as[m].n ? (char *)a.data : "-");
                bk_buf_free(&a);
            }
            tbl_print_free(&tm);
            putchar('\n');
        }

        /* partitions */
        if (t.n == 0) {
            printf("Consumer group '%s' has no committed offsets and no "
                   "assigned partitions.\n",
                   group);
        } else {
            table tp = {.ncols = 9};
            tbl_row(&tp, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET",
                    "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
                    "CLIENT-ID");
            for (size_t i = 0; i < t.n; i++) {
                const tpo *x = &t.v[i];
                char part[16], cur[24], leo[24], lag[24];
                snprintf(part, sizeof part, "%" PRId32, x->partition);
                bool hc = x->committed >= 0 && !x->corrupt;
                fmt_i64(cur, sizeof cur, hc, x->committed);
                fmt_i64(leo, sizeof leo, x->have[SLOT_LATEST],
                        x->off[SLOT_LATEST]);
                /* a commit past the end (after truncation) is no lag */
                int64_t l = x->off[SLOT_LATEST] - x->committed;
                fmt_i64(lag, sizeof lag, hc && x->have[SLOT_LATEST],
                        l > 0 ? l : 0);
                const Brook__DescribedGroupMember *mb =
                    x->owner >= 0 ? d->members[x->owner] : NULL;
                tbl_row(&tp, group, x->topic, part, cur, leo, lag,
                        mb ? mb->member_id : "-", mb ? mb->client_host : "-",
                        mb && mb->client_id[0] ? mb->client_id : "-");
            }
            tbl_print_free(&tp);
        }
        st = EXIT_OK;
    }
    for (size_t m = 0; as && m < nm; m++)
        asg_free(&as[m]);
    free(as);
    tpov_free(&t);
    gdesc_free(&gd);
    bk_off_list_free(&offs);
    return st;
}

/* ------------------------------ reset-offsets ------------------------------
 */

/* Adds the partitions named by one --topic argument, "T" (all of them)
 * or "T:p,p,...", checked against ZooKeeper.  -1 to go on, else an exit
 * status. */
static int add_topic_arg(ctl *c, const char *arg, tpov *t)
{
    char topic[BK_TOPIC_NAME_MAX + 2];
    const char *colon = strchr(arg, ':');
    size_t tl = colon ? (size_t)(colon - arg) : strlen(arg);
    if (tl == 0 || tl > BK_TOPIC_NAME_MAX)
        return usage("bad --topic '%s': not a topic name", arg);
    memcpy(topic, arg, tl);
    topic[tl] = '\0';
    bk_zkc_assignment as;
    int rc = bk_zkd_topic_read(c->zk, topic, &as, NULL);
    if (rc == -BK_ENOENT)
        return fail("Topic '%s' does not exist", topic);
    if (rc)
        return zk_failed(c->zk, rc, "cannot read the topic");
    int st = -1;
    if (!colon) {
        for (int32_t i = 0; st < 0 && i < as.nparts; i++)
            if (!tpov_get(t, topic, as.parts[i].id))
                st = fail("out of memory");
    } else {
        const char *p = colon + 1;
        for (;;) {
            char num[24];
            const char *e = strchr(p, ',');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            int64_t v;
            if (l == 0 || l >= sizeof num) {
                st = usage("bad --topic '%s': want T or T:p,p,...", arg);
                break;
            }
            memcpy(num, p, l);
            num[l] = '\0';
            if (!parse_i64(num, 0, INT32_MAX, &v)) {
                st = usage("bad partition '%s' in --topic '%s'", num, arg);
                break;
            }
            if (!bk_zkc_assignment_find(&as, (int32_t)v)) {
                st = fail("Topic '%s' has no partition %" PRId64, topic, v);
                break;
            }
            if (!tpov_get(t, topic, (int32_t)v)) {
                st = fail("out of memory");
                break;
            }
            if (!e)
                break;
            p = e + 1;
        }
    }
    bk_zkc_assignment_free(&as);
    return st;
}

static int cmd_reset(ctl *c, const gargs *a, bool execute, int64_t to_num)
{
    tpov t = {0};
    int st = -1;
    for (size_t i = 0; st < 0 && i < a->ntopics; i++)
        st = add_topic_arg(c, a->topics[i], &t);
    if (st >= 0) {
        tpov_free(&t);
        return st;
    }
    qsort(t.v, t.n, sizeof *t.v, tpo_cmp);

    /* Only an inactive group may be reset: an active member would commit
     * over the new offsets (Kafka refuses the same way). */
    gdesc gd;
    char why[512] = "";
    int rc = group_describe(c, a->group, &gd, why, sizeof why);
    if (rc < -1) {
        tpov_free(&t);
        return zk_failed(c->zk, rc, "cannot find the group's coordinator");
    }
    if (rc == -1 && execute)
        st = fail("not resetting the offsets of group '%s': its coordinator "
                  "cannot be asked whether the group has active members (%s)",
                  a->group, why);
    else if (rc == 0 && !inactive(&gd) && execute)
        st = fail("Assignments can only be reset if the group '%s' is "
                  "inactive, but the current state is %s (%zu active "
                  "member%s).",
                  a->group, gd.d->group_state, gd.d->n_members,
                  gd.d->n_members == 1 ? "" : "s");
    else if (rc == 0 && !inactive(&gd))
        warn("group '%s' is %s with %zu member%s: --execute would be refused",
             a->group, gd.d->group_state, gd.d->n_members,
             gd.d->n_members == 1 ? "" : "s");
    else if (rc == -1)
        warn("the coordinator of group '%s' cannot be asked (%s): "
             "--execute would be refused",
             a->group, why);
    gdesc_free(&gd);

    if (st < 0 && (rc = load_brokers(c)) == 0)
        rc = read_leaders(c, &t);
    if (st < 0 && rc)
        st = zk_failed(c->zk, rc, "cannot read the partition leaders");
    size_t missing = 0;
    if (st < 0) {
        missing += list_offsets(c, &t, -2, SLOT_EARLIEST, report_error);
        missing += list_offsets(c, &t, -1, SLOT_LATEST, report_error);
        if (a->to == TO_DATETIME)
            missing += list_offsets(c, &t, to_num, SLOT_TIME, report_error);
        if (missing)
            st = fail("cannot compute the new offsets: %zu offset lookup%s "
                      "failed; nothing was written",
                      missing, missing == 1 ? "" : "s");
    }
    bk_off_entry *e = st < 0 ? calloc(t.n ? t.n : 1, sizeof *e) : NULL;
    if (st < 0 && !e)
        st = fail("out of memory");
    if (st < 0) {
        table tb = {.ncols = 4};
        tbl_row(&tb, "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET");
        for (size_t i = 0; i < t.n; i++) {
            tpo *x = &t.v[i];
            int64_t lo = x->off[SLOT_EARLIEST], hi = x->off[SLOT_LATEST];
            switch (a->to) {
            case TO_EARLIEST:
                x->new_offset = lo;
                break;
            case TO_LATEST:
                x->new_offset = hi;
                break;
            case TO_OFFSET:
                x->new_offset = to_num < lo ? lo : to_num > hi ? hi : to_num;
                break;
            case TO_DATETIME:
                /* no record at or after the time: the end (Kafka) */
                x->new_offset = x->off[SLOT_TIME] >= 0 ? x->off[SLOT_TIME] : hi;
                break;
            case TO_NONE:
                break;
            }
            char part[16], off[24];
            snprintf(part, sizeof part, "%" PRId32, x->partition);
            snprintf(off, sizeof off, "%" PRId64, x->new_offset);
            tbl_row(&tb, a->group, x->topic, part, off);
            e[i].topic = x->topic;
            e[i].partition = x->partition;
            e[i].offset = x->new_offset;
            e[i].metadata = "";
        }
        tbl_print_free(&tb);
        if (!execute) {
            fprintf(stderr, "brookctl: dry run: nothing was written (add "
                            "--execute to write these offsets)\n");
            st = EXIT_OK;
        }
    }
    if (st < 0) {
        bk_off_commit_info info;
        char err[512] = "";
        rc = bk_off_commit(c->zk, NULL, a->group, e, t.n, 0, &info, err,
                           sizeof err);
        if (rc == -BK_EIO)
            st = zk_failed(c->zk, rc,
                           "cannot write the offsets (the write "
                           "may or may not have happened)");
        else if (rc)
            st = fail("cannot write the offsets: %s",
                      err[0] ? err : bk_strerror(rc));
        else {
            printf("Offsets of group '%s' reset for %zu partition%s.\n",
                   a->group, t.n, t.n == 1 ? "" : "s");
            st = EXIT_OK;
        }
    }
    free(e);
    tpov_free(&t);
    return st;
}

/* ------------------------------ delete ------------------------------ */

static int cmd_delete(ctl *c, const char *group)
{
    gdesc gd;
    char why[512] = "";
    int rc = group_describe(c, group, &gd, why, sizeof why);
    if (rc < -1)
        return zk_failed(c->zk, rc, "cannot find the group's coordinator");
    if (rc == -1)
        return fail("not deleting group '%s': its coordinator cannot be asked "
                    "whether the group has active members (%s)",
                    group, why);
    if (!inactive(&gd)) {
        int st = fail("Group '%s' could not be deleted: it is %s with %zu "
                      "active member%s (NON_EMPTY_GROUP).",
                      group, gd.d->group_state, gd.d->n_members,
                      gd.d->n_members == 1 ? "" : "s");
        gdesc_free(&gd);
        return st;
    }
    gdesc_free(&gd);
    char err[512] = "";
    rc = bk_off_delete_group(c->zk, NULL, group, err, sizeof err);
    if (rc == -BK_ENOENT)
        return fail("Consumer group '%s' does not exist.", group);
    if (rc == -BK_EIO)
        return zk_failed(c->zk, rc, "cannot delete the group");
    if (rc)
        return fail("cannot delete group '%s': %s", group,
                    err[0] ? err : bk_strerror(rc));
    printf("Deletion of requested consumer group ('%s') was successful.\n",
           group);
    return EXIT_OK;
}

/* ------------------------------ main ------------------------------ */

enum gcmd { G_NONE, G_LIST, G_DESCRIBE, G_RESET, G_DELETE };

static const struct {
    const char *word;
    enum gcmd cmd;
    const char *const *help;
    unsigned allowed;
} gcommands[] = {
    {"list", G_LIST, &list_help, 0},
    {"describe", G_DESCRIBE, &describe_help, GO_GROUP},
    {"reset-offsets", G_RESET, &reset_help,
     GO_GROUP | GO_TOPIC | GO_TO | GO_EXECUTE | GO_DRY_RUN},
    {"delete", G_DELETE, &delete_help, GO_GROUP},
};

int bk_ctlg_main(int argc, char **argv)
{
    gargs a;
    int st = parse_args(argc, argv, &a);
    if (st >= 0)
        return st;
    enum gcmd cmd = G_NONE;
    const char *help = groups_help;
    unsigned allowed = 0;
    const char *w1 = a.nwords > 1 ? a.words[1] : "";
    for (size_t i = 0; i < sizeof gcommands / sizeof gcommands[0]; i++)
        if (strcmp(w1, gcommands[i].word) == 0) {
            cmd = gcommands[i].cmd;
            help = *gcommands[i].help;
            allowed = gcommands[i].allowed;
        }
    if (a.help) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    if (a.nwords < 2)
        return usage("'groups' needs a subcommand (list, describe, "
                     "reset-offsets, delete)");
    if (cmd == G_NONE)
        return usage("unknown command 'groups %s'", w1);
    if (a.nwords > 2)
        return usage("unexpected argument '%s'", a.words[2]);
    char cmdname[64];
    snprintf(cmdname, sizeof cmdname, "groups %s", w1);
    if ((st = check_opts(&a, allowed, cmdname)) >= 0)
        return st;
    char err[512];
    if (cmd != G_LIST) {
        if (!a.group)
            return usage("%s needs --group", cmdname);
        if (bk_off_validate_group(a.group, err, sizeof err) != 0)
            return usage("bad --group '%s': %s", a.group, err);
    }
    int64_t to_num = 0;
    bool execute = (a.given & GO_EXECUTE) != 0;
    if (cmd == G_RESET) {
        if (!a.ntopics)
            return usage("groups reset-offsets needs --topic");
        if (a.nto != 1)
            return usage("groups reset-offsets needs exactly one of "
                         "--to-earliest, --to-latest, --to-offset and "
                         "--to-datetime");
        if (execute && (a.given & GO_DRY_RUN))
            return usage("give --execute or --dry-run, not both");
        if (a.to == TO_OFFSET &&
            !parse_i64(a.to_value, INT64_MIN, INT64_MAX, &to_num))
            return usage("bad --to-offset '%s': not an integer", a.to_value);
        if (a.to == TO_DATETIME &&
            bk_ctlg_parse_datetime(a.to_value, &to_num) != 0)
            return usage("bad --to-datetime '%s' (want "
                         "YYYY-MM-DDTHH:MM:SS[.sss][Z|+HH:MM], not before "
                         "1970)",
                         a.to_value);
        for (size_t i = 0; i < a.ntopics; i++) {
            char topic[BK_TOPIC_NAME_MAX + 2];
            const char *colon = strchr(a.topics[i], ':');
            size_t tl =
                colon ? (size_t)(colon - a.topics[i]) : strlen(a.topics[i]);
            snprintf(topic, sizeof topic, "%.*s",
                     (int)(tl < sizeof topic - 1 ? tl : sizeof topic - 1),
                     a.topics[i]);
            if (tl > BK_TOPIC_NAME_MAX ||
                bk_topic_validate_name(topic, err, sizeof err) != 0)
                return usage("bad --topic '%s': %s", a.topics[i],
                             tl > BK_TOPIC_NAME_MAX ? "name too long" : err);
        }
    }

    const char *connect = a.zookeeper ? a.zookeeper : getenv("BROOK_ZOOKEEPER");
    if (!connect || !*connect)
        return usage("no ZooKeeper given: use --zookeeper host:port or set "
                     "BROOK_ZOOKEEPER");
    bk_zk_opts o = {
        .connect = connect,
        .session_timeout_ms = 30000,
        .connect_timeout_ms = a.timeout_ms,
    };
    ctl c = {.timeout_ms = a.timeout_ms};
    int rc = bk_zk_open(&o, &c.zk, err, sizeof err);
    if (rc == -BK_EINVAL)
        return usage("%s", err);
    if (rc) {
        fprintf(stderr, "brookctl: %s\n", err);
        return EXIT_UNREACHABLE;
    }
    switch (cmd) {
    case G_LIST:
        st = cmd_list(&c);
        break;
    case G_DESCRIBE:
        st = cmd_describe(&c, a.group);
        break;
    case G_RESET:
        st = cmd_reset(&c, &a, execute, to_num);
        break;
    case G_DELETE:
        st = cmd_delete(&c, a.group);
        break;
    case G_NONE:
        st = EXIT_USAGE;
        break;
    }
    if (fflush(stdout) != 0 && st == EXIT_OK)
        st = EXIT_FAILED; /* e.g. a closed pipe */
    free(c.brokers);
    bk_zk_close(c.zk);
    return st;
}
