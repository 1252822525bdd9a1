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
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

#include "common/clock.h"
#include "tests/unit/cu_main.h"

#define ZK_JAR "/usr/share/java/zookeeper.jar"
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
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                      0644);
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
        off += (size_t)snprintf(zk->connect + off, sizeof zk->connect - off,
                                "%s127.0.0.1:%d", i ? "," : "",
                                node->client_port);
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
