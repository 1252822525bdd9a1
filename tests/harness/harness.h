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

#endif
