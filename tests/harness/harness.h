/*
 * harness.h -- the cluster harness of Brook's integration tests: real
 * ZooKeeper servers (Debian's zookeeper package) and, later, brookd
 * processes, on free loopback ports in a temporary directory.
 *
 * Nothing is mocked: a test gets a real ZooKeeper (standalone or a 3-node
 * ensemble) and real broker processes that it can SIGKILL, SIGSTOP and
 * restart.  Ports are picked by binding port 0 on 127.0.0.1 and reading what
 * the kernel chose, so parallel runs do not collide.  Every child process
 * gets PR_SET_PDEATHSIG so that nothing outlives a crashed test, and an
 * atexit handler kills what is left.
 *
 * Files (zoo.cfg, data, logs) live under bk_test_dir(), which cu_main keeps
 * when a test fails, so the logs of a failing run can be read.
 * Test-process only; single-threaded.
 */
#ifndef BK_HARNESS_H
#define BK_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BK_H_MAX_ZK 5

typedef struct bk_h_zk_node {
    int client_port;
    int quorum_port;
    int election_port;
    pid_t pid; /* 0 when not running */
    char dir[448];
} bk_h_zk_node;

typedef struct bk_h_zk {
    int n;
    bk_h_zk_node node[BK_H_MAX_ZK];
    char connect[256]; /* "127.0.0.1:p1,127.0.0.1:p2,..." */
    char dir[400];
} bk_h_zk;

/* Returns a free TCP port on 127.0.0.1 (bound and released). */
int bk_h_free_port(void);

/* Starts a ZooKeeper of n nodes (1 = standalone, 3 or 5 = ensemble) in a
 * fresh subdirectory of bk_test_dir() called `name`, and waits until every
 * node answers `srvr` with a Mode line (a quorum exists).  NULL on failure
 * (the reason is printed; node logs stay in the directory). */
bk_h_zk *bk_h_zk_start(const char *name, int n);
/* SIGKILLs node i (0-based) and waits for it to exit. */
void bk_h_zk_kill_node(bk_h_zk *zk, int i);
/* (Re)starts node i with its old ports and data; waits until it serves
 * when wait is true.  0 or -1. */
int bk_h_zk_start_node(bk_h_zk *zk, int i, bool wait);
/* Kills every node and frees zk (its files stay until the test dir goes). */
void bk_h_zk_stop(bk_h_zk *zk);

/* Asks `cmd` (a four-letter word) of 127.0.0.1:port; copies the answer to
 * out.  Returns bytes read or -1 when nothing answers. */
int bk_h_zk_4lw(int port, const char *cmd, char *out, int outlen);

/* Child-process helpers shared by the ZooKeeper and broker parts. */
/* fork+exec argv with stdout/stderr appended to logpath, in its own process
 * group, dying with the test (PR_SET_PDEATHSIG).  Returns the pid or -1. */
pid_t bk_h_spawn(char *const argv[], const char *logpath);
/* Sends sig to pid and, for SIGKILL/SIGTERM, waits up to timeout_ms for it
 * to exit.  Returns its wait status, or -1 when it did not exit in time. */
int bk_h_kill(pid_t pid, int sig, int timeout_ms);
/* Non-blocking: true when pid has exited (reaped; *status filled). */
bool bk_h_exited(pid_t pid, int *status);

/* Milliseconds sleep. */
void bk_h_sleep_ms(int ms);

/* ---------------------------------------------------------------------
 * Brokers (implemented with brookd, issue #3).  A cluster is a ZooKeeper
 * (standalone or ensemble) plus n brookd processes on free ports, each with
 * its own broker.properties and log dir under bk_test_dir()/<name>/.
 * ------------------------------------------------------------------- */
#define BK_H_MAX_BROKERS 8

typedef struct bk_h_broker {
    int id;        /* broker.id (1-based: broker i has id i + 1) */
    int port;      /* its listener port on 127.0.0.1 */
    pid_t pid;     /* 0 when not running */
    char dir[448]; /* its directory: broker.properties, logs/, out.log */
} bk_h_broker;

typedef struct bk_h_cluster {
    bk_h_zk *zk;
    int n; /* brokers */
    bk_h_broker broker[BK_H_MAX_BROKERS];
    char bootstrap[512];  /* "127.0.0.1:p1,127.0.0.1:p2,..." */
    char zk_connect[400]; /* zk->connect plus the cluster's chroot */
    char dir[400];
    char extra_props[2048]; /* appended to every broker.properties */
} bk_h_cluster;

/* Path of a built program, e.g. bk_h_bin("broker/brookd"): under $BK_BUILD
 * when set, else relative to the running test program's build tree.
 * Returns a static buffer valid until the next call. */
const char *bk_h_bin(const char *rel);

/* Starts a ZooKeeper of zk_nodes nodes and `brokers` brookd processes
 * (all waited for: registered in ZooKeeper and accepting connections).
 * extra_props: lines "key=value
" appended to each broker.properties, or
 * NULL.  NULL on failure (reason printed, logs kept). */
bk_h_cluster *bk_h_cluster_start(const char *name, int zk_nodes, int brokers,
                                 const char *extra_props);
/* (Re)starts broker i with its existing config and data; when wait, waits
 * until it is registered and accepting.  0 or -1. */
int bk_h_broker_start(bk_h_cluster *c, int i, bool wait);
/* Sends sig to broker i; for SIGKILL/SIGTERM waits for the exit and returns
 * the wait status (-1 on timeout). */
int bk_h_broker_signal(bk_h_cluster *c, int i, int sig);
/* Kills everything and frees c. */
void bk_h_cluster_stop(bk_h_cluster *c);
/* Number of brokers whose out.log shows a sanitizer report
 * (AddressSanitizer, LeakSanitizer, UBSan "runtime error"); each is
 * printed.  Call before bk_h_cluster_stop, e.g. in a suite cleanup. */
int bk_h_cluster_log_problems(bk_h_cluster *c);
/* Runs brookctl against the cluster's ZooKeeper: argv-style words after
 * "--zookeeper <connect>".  Output (stdout+stderr) into out (NUL-terminated,
 * may be NULL).  Returns the exit code, or -1 when it could not run. */
int bk_h_brookctl(bk_h_cluster *c, char *out, size_t outlen,
                  const char *const args[]);

/* ---------------------------------------------------------------------
 * A raw protocol client for broker tests: frames built with common/frame
 * over a blocking socket, so a test can send exactly the bytes it wants
 * (valid requests, garbage, truncated frames).
 * ------------------------------------------------------------------- */
struct Brook__Request;
struct Brook__Response;

/* Connects to 127.0.0.1:port (blocking, with 10 s send/receive timeouts).
 * Returns the fd or -1. */
int bk_h_connect(int port);
/* Writes all n bytes.  0 or -1. */
int bk_h_send_raw(int fd, const void *p, size_t n);
/* Sends one request frame.  0 or -1. */
int bk_h_send_request(int fd, const struct Brook__Request *req);
/* Reads one response frame within timeout_ms and decodes it into *out
 * (free with brook__response__free_unpacked).  0; -1 when the connection
 * closed or failed (EOF is -1 with *out NULL); -2 on timeout; -3 when the
 * frame does not decode. */
int bk_h_recv_response(int fd, int timeout_ms, struct Brook__Response **out);
/* True when the peer closes the connection within timeout_ms (reads and
 * discards whatever arrives before the EOF). */
bool bk_h_wait_closed(int fd, int timeout_ms);
/* Sends req and returns its response (NULL on any failure). */
struct Brook__Response *bk_h_call(int fd, const struct Brook__Request *req,
                                  int timeout_ms);

/* Fills the header of req (api_key, correlation_id, client_id "test"). */
void bk_h_req_init(struct Brook__Request *req, int api_key, int32_t corr);

/* The broker's directory of broker i's partition topic-p log. */
const char *bk_h_partition_dir(bk_h_cluster *c, int i, const char *topic,
                               int p);
/* Waits until broker i answers a Metadata request in which `topic` has
 * `partitions` partitions, each with a leader (topic creation has reached
 * the broker).  0 or -1 after timeout_ms. */
int bk_h_wait_topic(bk_h_cluster *c, int i, const char *topic, int partitions,
                    int timeout_ms);

#endif
