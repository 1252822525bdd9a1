/*
 * harness.c -- real ZooKeeper servers and child processes for integration
 * tests (see harness.h).
 *
 * ZooKeeper is started as Debian packages it: the QuorumPeerMain class from
 * /usr/share/java/zookeeper.jar (its manifest pulls in the dependencies) with
 * our own zoo.cfg.  A short tickTime (500 ms) keeps session timeouts and
 * elections quick.  Readiness is the `srvr` four-letter word answering with
 * a "Mode:" line: `ruok` answers before a quorum exists.
 */
#include "tests/harness/harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/frame.h"
#include "proto/protocol.h"
#include "tests/unit/cu_main.h"

#define ZK_JAR      "/usr/share/java/zookeeper.jar"
#define ZK_CONF_DIR "/etc/zookeeper/conf_example"
#define ZK_READY_MS 30000

/* Every pid we spawned and have not reaped, killed at exit. */
#define MAX_CHILDREN 64
static pid_t children[MAX_CHILDREN];
static bool atexit_done;

static void kill_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] > 0) {
            kill(-children[i], SIGKILL);
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
            children[i] = 0;
        }
    }
}

static void track(pid_t pid)
{
    if (!atexit_done) {
        atexit(kill_children);
        atexit_done = true;
    }
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] == 0) {
            children[i] = pid;
            return;
        }
    }
}

static void untrack(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == pid)
            children[i] = 0;
}

void bk_h_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int bk_h_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

pid_t bk_h_spawn(char *const argv[], const char *logpath)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127); /* the test died before we set PDEATHSIG */
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    track(pid);
    return pid;
}

bool bk_h_exited(pid_t pid, int *status)
{
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
        untrack(pid);
        if (status)
            *status = st;
        return true;
    }
    return false;
}

int bk_h_kill(pid_t pid, int sig, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    kill(pid, sig);
    if (sig != SIGKILL && sig != SIGTERM && sig != SIGINT)
        return 0;
    int64_t t0 = bk_clock_mono_ms();
    int st;
    for (;;) {
        if (bk_h_exited(pid, &st))
            return st;
        if (bk_clock_mono_ms() - t0 > timeout_ms)
            return -1;
        bk_h_sleep_ms(5);
    }
}

int bk_h_zk_4lw(int port, const char *cmd, char *out, int outlen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd)) {
        close(fd);
        return -1;
    }
    int got = 0;
    while (got < outlen - 1) {
        ssize_t r = read(fd, out + got, (size_t)(outlen - 1 - got));
        if (r <= 0)
            break;
        got += (int)r;
    }
    out[got] = '\0';
    close(fd);
    return got;
}

static bool zk_node_serving(const bk_h_zk_node *node)
{
    char buf[2048];
    return bk_h_zk_4lw(node->client_port, "srvr", buf, sizeof buf) > 0 &&
           strstr(buf, "Mode:") != NULL;
}

static int write_zoo_cfg(bk_h_zk *zk, int i)
{
    bk_h_zk_node *node = &zk->node[i];
    char path[512];
    snprintf(path, sizeof path, "%s/zoo.cfg", node->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "# written by the Brook test harness\n"
            "tickTime=500\n"
            "initLimit=20\n"
            "syncLimit=10\n"
            "dataDir=%s/data\n"
            "clientPort=%d\n"
            "clientPortAddress=127.0.0.1\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=*\n"
            "maxClientCnxns=0\n"
            "minSessionTimeout=1000\n"
            "maxSessionTimeout=60000\n",
            node->dir, node->client_port);
    if (zk->n > 1) {
        for (int k = 0; k < zk->n; k++)
            fprintf(f, "server.%d=127.0.0.1:%d:%d\n", k + 1,
                    zk->node[k].quorum_port, zk->node[k].election_port);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/data", node->dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/data/myid", node->dir);
    f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", i + 1);
    fclose(f);
    return 0;
}

int bk_h_zk_start_node(bk_h_zk *zk, int i, bool wait)
{
    bk_h_zk_node *node = &zk->node[i];
    if (node->pid > 0)
        return 0;
    char cfg[512], log[512];
    snprintf(cfg, sizeof cfg, "%s/zoo.cfg", node->dir);
    snprintf(log, sizeof log, "%s/zookeeper.log", node->dir);
    char *argv[] = {"java",
                    "-Xmx256m",
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    "-Dzookeeper.log.dir=.",
                    "-cp",
                    ZK_CONF_DIR ":" ZK_JAR,
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                    cfg,
                    NULL};
    node->pid = bk_h_spawn(argv, log);
    if (node->pid < 0) {
        node->pid = 0;
        return -1;
    }
    if (!wait)
        return 0;
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < ZK_READY_MS) {
        if (zk_node_serving(node))
            return 0;
        int st;
        if (bk_h_exited(node->pid, &st)) {
            fprintf(stderr, "harness: zookeeper node %d exited (see %s)\n",
                    i + 1, log);
            node->pid = 0;
            return -1;
        }
        bk_h_sleep_ms(50);
    }
    fprintf(stderr, "harness: zookeeper node %d not serving after %d ms (%s)\n",
            i + 1, ZK_READY_MS, log);
    return -1;
}

void bk_h_zk_kill_node(bk_h_zk *zk, int i)
{
    if (zk->node[i].pid > 0) {
        bk_h_kill(zk->node[i].pid, SIGKILL, 10000);
        zk->node[i].pid = 0;
    }
}

bk_h_zk *bk_h_zk_start(const char *name, int n)
{
    if (n < 1 || n > BK_H_MAX_ZK)
        return NULL;
    bk_h_zk *zk = calloc(1, sizeof *zk);
    if (!zk)
        return NULL;
    zk->n = n;
    snprintf(zk->dir, sizeof zk->dir, "%s", bk_test_subdir(name));
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        bk_h_zk_node *node = &zk->node[i];
        node->client_port = bk_h_free_port();
        node->quorum_port = bk_h_free_port();
        node->election_port = bk_h_free_port();
        snprintf(node->dir, sizeof node->dir, "%s/zk%d", zk->dir, i + 1);
        mkdir(node->dir, 0755);
        off +=
            (size_t)snprintf(zk->connect + off, sizeof zk->connect - off,
                             "%s127.0.0.1:%d", i ? "," : "", node->client_port);
    }
    for (int i = 0; i < n; i++) {
        if (write_zoo_cfg(zk, i) != 0 || bk_h_zk_start_node(zk, i, false)) {
            bk_h_zk_stop(zk);
            return NULL;
        }
    }
    for (int i = 0; i < n; i++) {
        int64_t t0 = bk_clock_mono_ms();
        while (!zk_node_serving(&zk->node[i])) {
            int st;
            if (bk_h_exited(zk->node[i].pid, &st) ||
                bk_clock_mono_ms() - t0 > ZK_READY_MS) {
                fprintf(stderr,
                        "harness: zookeeper node %d did not start (see "
                        "%s/zookeeper.log)\n",
                        i + 1, zk->node[i].dir);
                zk->node[i].pid = 0;
                bk_h_zk_stop(zk);
                return NULL;
            }
            bk_h_sleep_ms(50);
        }
    }
    return zk;
}

void bk_h_zk_stop(bk_h_zk *zk)
{
    if (!zk)
        return;
    for (int i = 0; i < zk->n; i++)
        bk_h_zk_kill_node(zk, i);
    free(zk);
}

/* ------------------------------------------------------------------ */
/* Brokers                                                             */
/* ------------------------------------------------------------------ */
/*
 * A broker is "up" when it answers a Metadata request listing itself among
 * the brokers: brookd serves connections only once it has recovered its
 * logs and registered /brokers/ids/<id>, and its broker list comes from
 * ZooKeeper, so that answer proves both.  (The harness does not link the
 * ZooKeeper client library, so it asks the broker rather than ZooKeeper.)
 */
#define BROKER_READY_MS 30000
#define BROKER_STOP_MS  20000

const char *bk_h_bin(const char *rel)
{
    static char path[PATH_MAX];
    const char *b = getenv("BK_BUILD");
    if (b && b[0]) {
        snprintf(path, sizeof path, "%s/%s", b, rel);
        return path;
    }
    /* The test runs as <build>/tests/integration/<prog>. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(path, sizeof path, "%s", rel);
        return path;
    }
    exe[n] = '\0';
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
    }
    if (snprintf(path, sizeof path, "%s/%s", exe, rel) >= (int)sizeof path)
        path[0] = '\0';
    return path;
}

int bk_h_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int bk_h_send_raw(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int bk_h_send_request(int fd, const Brook__Request *req)
{
    bk_buf b = BK_BUF_INIT;
    int rc = bk_frame_encode_request(&b, req);
    if (rc == 0)
        rc = bk_h_send_raw(fd, b.data, b.len);
    bk_buf_free(&b);
    return rc == 0 ? 0 : -1;
}

/* Reads exactly n bytes before the deadline: 0, -1 (EOF/error), -2. */
static int read_full(int fd, uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        int left = (int)(deadline - bk_clock_mono_ms());
        if (left <= 0)
            return -2;
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            return -2;
        ssize_t r = read(fd, p, n);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int bk_h_recv_response(int fd, int timeout_ms, Brook__Response **out)
{
    *out = NULL;
    int64_t deadline = bk_clock_mono_ms() + timeout_ms;
    uint8_t lenb[4];
    int rc = read_full(fd, lenb, 4, deadline);
    if (rc != 0)
        return rc;
    uint32_t len = bk_load_be32(lenb);
    if (len == 0 || len > (1u << 30))
        return -3;
    uint8_t *p = malloc(len);
    if (!p)
        return -1;
    rc = read_full(fd, p, len, deadline);
    if (rc == 0 && bk_frame_decode_response(p, len, out) != 0)
        rc = -3;
    free(p);
    return rc;
}

bool bk_h_wait_closed(int fd, int timeout_ms)
{
    int64_t deadline = bk_clock_mono_ms() + timeout_ms;
    uint8_t buf[4096];
    for (;;) {
        int left = (int)(deadline - bk_clock_mono_ms());
        if (left <= 0)
            return false;
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            return false;
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return true;
        if (r < 0)
            return true;
    }
}

Brook__Response *bk_h_call(int fd, const Brook__Request *req, int timeout_ms)
{
    if (bk_h_send_request(fd, req) != 0)
        return NULL;
    Brook__Response *resp = NULL;
    if (bk_h_recv_response(fd, timeout_ms, &resp) != 0)
        return NULL;
    return resp;
}

void bk_h_req_init(Brook__Request *req, int api_key, int32_t corr)
{
    static _Thread_local Brook__RequestHeader hdrs[8];
    static _Thread_local int next;
    /* The header must outlive the call that sends req: a small ring of
     * headers is enough for a test that keeps a few requests.  One ring
     * per thread: tests run a steady client thread beside the main one,
     * and a shared ring let one thread rewrite the other's correlation
     * id (seen as rare "wrong answer" failures). */
    Brook__RequestHeader *h = &hdrs[next++ % 8];
    brook__request_header__init(h);
    h->api_key = api_key;
    h->api_version = 0;
    h->correlation_id = corr;
    h->client_id = "test";
    brook__request__init(req);
    req->header = h;
}

/* Asks broker `port` for metadata of `topic` (NULL: none).  NULL on
 * failure. */
static Brook__Response *metadata(int port, const char *topic, int timeout_ms)
{
    int fd = bk_h_connect(port);
    if (fd < 0)
        return NULL;
    Brook__Request req;
    bk_h_req_init(&req, BK_API_METADATA, 1);
    Brook__MetadataRequest md = BROOK__METADATA_REQUEST__INIT;
    Brook__MetadataRequestTopic t = BROOK__METADATA_REQUEST_TOPIC__INIT;
    Brook__MetadataRequestTopic *tp = &t;
    if (topic) {
        t.name = (char *)topic;
        md.n_topics = 1;
        md.topics = &tp;
    }
    req.body_case = BROOK__REQUEST__BODY_METADATA;
    req.metadata = &md;
    Brook__Response *resp = bk_h_call(fd, &req, timeout_ms);
    close(fd);
    if (resp && !resp->metadata) {
        brook__response__free_unpacked(resp, NULL);
        return NULL;
    }
    return resp;
}

static bool broker_registered(const bk_h_broker *b)
{
    Brook__Response *resp = metadata(b->port, NULL, 2000);
    if (!resp)
        return false;
    bool found = false;
    for (size_t i = 0; i < resp->metadata->n_brokers; i++)
        if (resp->metadata->brokers[i]->node_id == b->id)
            found = true;
    brook__response__free_unpacked(resp, NULL);
    return found;
}

int bk_h_wait_topic(bk_h_cluster *c, int i, const char *topic, int partitions,
                    int timeout_ms)
{
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < timeout_ms) {
        Brook__Response *resp = metadata(c->broker[i].port, topic, 2000);
        bool ok = false;
        if (resp && resp->metadata->n_topics == 1) {
            Brook__MetadataResponseTopic *t = resp->metadata->topics[0];
            ok = t->error_code == 0 && (int)t->n_partitions == partitions;
            for (size_t k = 0; ok && k < t->n_partitions; k++)
                ok = t->partitions[k]->leader_id >= 0 &&
                     t->partitions[k]->error_code == 0;
        }
        if (resp)
            brook__response__free_unpacked(resp, NULL);
        if (ok)
            return 0;
        bk_h_sleep_ms(50);
    }
    return -1;
}

const char *bk_h_partition_dir(bk_h_cluster *c, int i, const char *topic, int p)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/logs/%s-%d", c->broker[i].dir, topic, p);
    return path;
}

static void print_log_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[4096];
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz > (long)sizeof buf - 1 ? sz - (long)sizeof buf + 1 : 0,
          SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    fprintf(stderr, "---- tail of %s ----\n%s\n----\n", path, buf);
}

static int write_broker_props(bk_h_cluster *c, int i)
{
    bk_h_broker *b = &c->broker[i];
    char path[512];
    snprintf(path, sizeof path, "%s/broker.properties", b->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "# written by the Brook test harness\n"
            "broker.id=%d\n"
            "listeners=PLAINTEXT://127.0.0.1:%d\n"
            "log.dirs=%s/logs\n"
            "zookeeper.connect=%s\n"
            "%s"
            "zookeeper.connection.timeout.ms=10000\n"
            "log.level=info\n"
            "%s",
            b->id, b->port, b->dir, c->zk_connect,
            /* A suite may pick its own session timeout (duplicates are
             * config errors). */
            strstr(c->extra_props, "zookeeper.session.timeout.ms=")
                ? ""
                : "zookeeper.session.timeout.ms=6000\n",
            c->extra_props);
    fclose(f);
    return 0;
}

int bk_h_broker_start(bk_h_cluster *c, int i, bool wait)
{
    bk_h_broker *b = &c->broker[i];
    if (b->pid > 0)
        return 0;
    char props[512], log[512], bin[PATH_MAX];
    snprintf(props, sizeof props, "%s/broker.properties", b->dir);
    snprintf(log, sizeof log, "%s/out.log", b->dir);
    snprintf(bin, sizeof bin, "%s", bk_h_bin("broker/brookd"));
    char *argv[] = {bin, props, NULL};
    b->pid = bk_h_spawn(argv, log);
    if (b->pid < 0) {
        b->pid = 0;
        return -1;
    }
    if (!wait)
        return 0;
    int64_t t0 = bk_clock_mono_ms();
    while (bk_clock_mono_ms() - t0 < BROKER_READY_MS) {
        int st;
        if (bk_h_exited(b->pid, &st)) {
            fprintf(stderr, "harness: broker %d exited with status %d\n", b->id,
                    WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
            print_log_tail(log);
            b->pid = 0;
            return -1;
        }
        if (broker_registered(b))
            return 0;
        bk_h_sleep_ms(50);
    }
    fprintf(stderr, "harness: broker %d not up after %d ms\n", b->id,
            BROKER_READY_MS);
    print_log_tail(log);
    return -1;
}

int bk_h_broker_signal(bk_h_cluster *c, int i, int sig)
{
    bk_h_broker *b = &c->broker[i];
    if (b->pid <= 0)
        return -1;
    int st = bk_h_kill(b->pid, sig, BROKER_STOP_MS);
    if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT) {
        if (st == -1)
            return -1;
        b->pid = 0;
    }
    return st;
}

bk_h_cluster *bk_h_cluster_start(const char *name, int zk_nodes, int brokers,
                                 const char *extra_props)
{
    if (brokers < 0 || brokers > BK_H_MAX_BROKERS)
        return NULL;
    bk_h_cluster *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->zk = bk_h_zk_start(name, zk_nodes);
    if (!c->zk) {
        free(c);
        return NULL;
    }
    snprintf(c->dir, sizeof c->dir, "%s", c->zk->dir);
    if (extra_props)
        snprintf(c->extra_props, sizeof c->extra_props, "%s", extra_props);
    /* A chroot per cluster, as an operator would share one ensemble. */
    char chroot[128];
    size_t k = 0;
    for (const char *p = name; *p && k < sizeof chroot - 1; p++)
        chroot[k++] =
            (isalnum((unsigned char)*p) || *p == '-' || *p == '_') ? *p : '_';
    chroot[k] = '\0';
    snprintf(c->zk_connect, sizeof c->zk_connect, "%s/brook-%s", c->zk->connect,
             chroot);
    c->n = brokers;
    size_t off = 0;
    for (int i = 0; i < brokers; i++) {
        bk_h_broker *b = &c->broker[i];
        b->id = i + 1;
        b->port = bk_h_free_port();
        snprintf(b->dir, sizeof b->dir, "%s/broker%d", c->dir, b->id);
        mkdir(b->dir, 0755);
        off += (size_t)snprintf(c->bootstrap + off, sizeof c->bootstrap - off,
                                "%s127.0.0.1:%d", i ? "," : "", b->port);
        if (write_broker_props(c, i) != 0 || bk_h_broker_start(c, i, false)) {
            bk_h_cluster_stop(c);
            return NULL;
        }
    }
    for (int i = 0; i < brokers; i++) {
        bk_h_broker *b = &c->broker[i];
        int64_t t0 = bk_clock_mono_ms();
        for (;;) {
            int st;
            if (bk_h_exited(b->pid, &st)) {
                fprintf(stderr, "harness: broker %d exited (status %d)\n",
                        b->id, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
                b->pid = 0;
                char log[512];
                snprintf(log, sizeof log, "%s/out.log", b->dir);
                print_log_tail(log);
                bk_h_cluster_stop(c);
                return NULL;
            }
            if (broker_registered(b))
                break;
            if (bk_clock_mono_ms() - t0 > BROKER_READY_MS) {
                fprintf(stderr, "harness: broker %d not up after %d ms\n",
                        b->id, BROKER_READY_MS);
                char log[512];
                snprintf(log, sizeof log, "%s/out.log", b->dir);
                print_log_tail(log);
                bk_h_cluster_stop(c);
                return NULL;
            }
            bk_h_sleep_ms(50);
        }
    }
    return c;
}

int bk_h_cluster_log_problems(bk_h_cluster *c)
{
    static const char *const bad[] = {"AddressSanitizer", "LeakSanitizer",
                                      "runtime error:"};
    int n = 0;
    for (int i = 0; c && i < c->n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/out.log", c->broker[i].dir);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char line[1024];
        bool found = false;
        while (!found && fgets(line, sizeof line, f))
            for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
                if (strstr(line, bad[k])) {
                    fprintf(stderr, "harness: broker %d: %s", c->broker[i].id,
                            line);
                    found = true;
                    break;
                }
        fclose(f);
        n += found;
    }
    return n;
}

void bk_h_cluster_stop(bk_h_cluster *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++) {
        if (c->broker[i].pid > 0) {
            bk_h_kill(c->broker[i].pid, SIGKILL, BROKER_STOP_MS);
            c->broker[i].pid = 0;
        }
    }
    bk_h_zk_stop(c->zk);
    free(c);
}

int bk_h_brookctl(bk_h_cluster *c, char *out, size_t outlen,
                  const char *const args[])
{
    char *argv[64];
    int n = 0;
    static char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s", bk_h_bin("coordinator/brookctl"));
    argv[n++] = bin;
    argv[n++] = "--zookeeper";
    argv[n++] = c->zk_connect;
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pfd[1], STDOUT_FILENO);
        dup2(pfd[1], STDERR_FILENO);
        execv(bin, argv);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    size_t got = 0;
    char sink[1024];
    for (;;) {
        char *dst = out && got + 1 < outlen ? out + got : sink;
        size_t cap = out && got + 1 < outlen ? outlen - 1 - got : sizeof sink;
        ssize_t r = read(pfd[0], dst, cap);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (dst != sink)
            got += (size_t)r;
    }
    close(pfd[0]);
    if (out && outlen > 0)
        out[got] = '\0';
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
