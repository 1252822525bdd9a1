/*
 * loop.h -- the event loop: file descriptors, timers, and a queue through
 * which other threads post work to the loop's thread.
 *
 * One loop thread owns all broker state (DESIGN.md section 10).  The loop
 * knows sockets and timers only, never the protocol (STYLE.md rule 4).
 *
 * - fds: level-triggered epoll; one callback per fd, told which of
 *   BK_EV_READ / BK_EV_WRITE (and BK_EV_ERROR for hang-up/error) are ready.
 * - timers: caller-owned bk_timer structs kept in a binary min-heap by
 *   deadline (monotonic ms); arming an armed timer moves it.  Cost
 *   O(log n) per arm/cancel/fire, so thousands of delayed produce/fetch
 *   operations are cheap.
 * - posts: bk_loop_post() is the only thread-safe entry point.  It queues
 *   (fn, arg) under a mutex and wakes the loop through an eventfd; the loop
 *   runs posted functions in FIFO order on its own thread.  This is how
 *   ZooKeeper callbacks reach broker state (STYLE.md rule 5).
 *
 * Every function except bk_loop_post() and bk_loop_stop() must be called on
 * the loop's thread (or before bk_loop_run() starts).
 */
#ifndef BK_LOOP_H
#define BK_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_EV_READ  0x1u
#define BK_EV_WRITE 0x2u
#define BK_EV_ERROR 0x4u /* reported only: EPOLLERR / EPOLLHUP */

typedef struct bk_loop bk_loop;
typedef struct bk_timer bk_timer;

typedef void bk_io_fn(bk_loop *loop, int fd, unsigned events, void *arg);
typedef void bk_timer_fn(bk_loop *loop, bk_timer *t, void *arg);
typedef void bk_post_fn(bk_loop *loop, void *arg);

/* Embedded by its owner; initialise with bk_timer_init() before use.  The
 * owner must cancel an armed timer before freeing it. */
struct bk_timer {
    int64_t deadline_ms; /* monotonic ms when armed */
    size_t heap_index;   /* position in the heap, SIZE_MAX when not armed */
    uint64_t seq;        /* arming order: equal deadlines fire FIFO */
    bk_timer_fn *fn;
    void *arg;
};

/* Creates a loop.  NULL on failure (errno set). */
bk_loop *bk_loop_new(void);
/* Frees the loop.  Posts still queued are dropped without running; the
 * caller owns (and must have dealt with) their arguments. */
void bk_loop_free(bk_loop *loop);

/* Watches fd for `events` (BK_EV_READ|BK_EV_WRITE, may be 0).  An fd can be
 * added once; 0, -BK_EEXIST, -BK_EIO. */
int bk_loop_add_fd(bk_loop *loop, int fd, unsigned events, bk_io_fn *fn,
                   void *arg);
/* Changes the events watched.  0 or -BK_ENOENT / -BK_EIO. */
int bk_loop_mod_fd(bk_loop *loop, int fd, unsigned events);
/* Stops watching fd (does not close it).  Safe inside that fd's callback;
 * an event already collected for it in this iteration is not delivered. */
void bk_loop_del_fd(bk_loop *loop, int fd);

void bk_timer_init(bk_timer *t, bk_timer_fn *fn, void *arg);
static inline bool bk_timer_armed(const bk_timer *t)
{
    return t->heap_index != SIZE_MAX;
}
/* Arms (or re-arms) t to fire once, delay_ms from now.  -BK_ENOMEM. */
int bk_loop_timer_arm(bk_loop *loop, bk_timer *t, int64_t delay_ms);
/* Same with an absolute monotonic deadline. */
int bk_loop_timer_arm_at(bk_loop *loop, bk_timer *t, int64_t deadline_ms);
/* Disarms t; no effect when it is not armed. */
void bk_loop_timer_cancel(bk_loop *loop, bk_timer *t);

/* Thread-safe.  Queues fn(loop, arg) to run on the loop thread.  0 or
 * -BK_ENOMEM (then fn will not run). */
int bk_loop_post(bk_loop *loop, bk_post_fn *fn, void *arg);

/* Runs until bk_loop_stop().  0, or -BK_EIO when epoll_wait fails. */
int bk_loop_run(bk_loop *loop);
/* Runs one iteration, waiting at most timeout_ms (-1: until an event).
 * For tests and for shutdown draining.  Returns the number of callbacks
 * run, or -BK_EIO. */
int bk_loop_run_once(bk_loop *loop, int timeout_ms);
/* Thread-safe.  Makes bk_loop_run() return after the current iteration. */
void bk_loop_stop(bk_loop *loop);

/* The loop's notion of now (monotonic ms), refreshed every iteration. */
int64_t bk_loop_now_ms(const bk_loop *loop);

/* A non-blocking, close-on-exec TCP listening socket on host:port (host
 * NULL or "": every interface; port 0: the kernel picks), SO_REUSEADDR,
 * the first address of host that binds.  Returns the fd and sets
 * *bound_port (may be NULL), or -BK_EIO with why (resolution, bind or
 * listen error text) in err.  For listeners served by a loop. */
int bk_tcp_listen(const char *host, int port, int backlog, int *bound_port,
                  char *err, size_t errlen);

#endif
