/*
 * loop.c -- epoll event loop with a timer heap and a cross-thread post
 * queue (see loop.h).
 *
 * fd callbacks live in a table indexed by fd (fds are small integers, and
 * the table grows by doubling).  A deleted fd gets a fresh generation
 * number so that an event collected for the old registration in the same
 * epoll_wait batch is dropped instead of reaching a new owner of the same
 * fd number.
 */
#include "common/loop.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"

#define MAX_EVENTS 256

typedef struct fd_slot {
    bk_io_fn *fn;
    void *arg;
    unsigned events;
    uint32_t gen; /* bumped on every add/del */
    bool used;
} fd_slot;

typedef struct post_item {
    bk_post_fn *fn;
    void *arg;
    struct post_item *next;
} post_item;

struct bk_loop {
    int epfd;
    int wakefd; /* eventfd: bk_loop_post / bk_loop_stop wake-ups */
    fd_slot *fds;
    size_t nfds; /* table size */
    bk_timer **heap;
    size_t heap_len, heap_cap;
    uint64_t timer_seq;
    int64_t now_ms;
    atomic_bool stop;
    pthread_mutex_t post_lock;
    post_item *post_head, *post_tail; /* under post_lock */
};

/* ------------------------------ timers ------------------------------ */

static bool timer_before(const bk_timer *a, const bk_timer *b)
{
    if (a->deadline_ms != b->deadline_ms)
        return a->deadline_ms < b->deadline_ms;
    return a->seq < b->seq;
}

static void heap_set(bk_loop *l, size_t i, bk_timer *t)
{
    l->heap[i] = t;
    t->heap_index = i;
}

static void heap_up(bk_loop *l, size_t i)
{
    bk_timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, l->heap[parent]))
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void heap_down(bk_loop *l, size_t i)
{
    bk_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->heap_len)
            break;
        if (c + 1 < l->heap_len && timer_before(l->heap[c + 1], l->heap[c]))
            c++;
        if (!timer_before(l->heap[c], t))
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

void bk_timer_init(bk_timer *t, bk_timer_fn *fn, void *arg)
{
    memset(t, 0, sizeof *t);
    t->heap_index = SIZE_MAX;
    t->fn = fn;
    t->arg = arg;
}

void bk_loop_timer_cancel(bk_loop *l, bk_timer *t)
{
    size_t i = t->heap_index;
    if (i == SIZE_MAX)
        return;
    assert(i < l->heap_len && l->heap[i] == t);
    t->heap_index = SIZE_MAX;
    bk_timer *last = l->heap[--l->heap_len];
    if (last == t)
        return;
    heap_set(l, i, last);
    heap_up(l, i);
    heap_down(l, last->heap_index);
}

int bk_loop_timer_arm_at(bk_loop *l, bk_timer *t, int64_t deadline_ms)
{
    bk_loop_timer_cancel(l, t);
    if (l->heap_len == l->heap_cap) {
        size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
        bk_timer **h = realloc(l->heap, cap * sizeof *h);
        if (!h)
            return -BK_ENOMEM;
        l->heap = h;
        l->heap_cap = cap;
    }
    t->deadline_ms = deadline_ms;
    t->seq = l->timer_seq++;
    heap_set(l, l->heap_len++, t);
    heap_up(l, t->heap_index);
    return 0;
}

int bk_loop_timer_arm(bk_loop *l, bk_timer *t, int64_t delay_ms)
{
    if (delay_ms < 0)
        delay_ms = 0;
    return bk_loop_timer_arm_at(l, t, bk_clock_mono_ms() + delay_ms);
}

/* Fires every timer due at l->now_ms.  A callback may re-arm its timer or
 * arm others; a timer re-armed for "now" waits for the next iteration so
 * that a zero-delay timer cannot starve I/O. */
static int run_timers(bk_loop *l)
{
    int ran = 0;
    uint64_t seq_limit = l->timer_seq;
    while (l->heap_len > 0) {
        bk_timer *t = l->heap[0];
        if (t->deadline_ms > l->now_ms || t->seq >= seq_limit)
            break;
        bk_loop_timer_cancel(l, t);
        t->fn(l, t, t->arg);
        ran++;
    }
    return ran;
}

/* ------------------------------ fds ------------------------------ */

static uint32_t to_epoll(unsigned ev)
{
    uint32_t e = 0;
    if (ev & BK_EV_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (ev & BK_EV_WRITE)
        e |= EPOLLOUT;
    return e;
}

static int grow_fds(bk_loop *l, int fd)
{
    if ((size_t)fd < l->nfds)
        return 0;
    size_t n = l->nfds ? l->nfds : 64;
    while (n <= (size_t)fd)
        n *= 2;
    fd_slot *s = realloc(l->fds, n * sizeof *s);
    if (!s)
        return -BK_ENOMEM;
    memset(s + l->nfds, 0, (n - l->nfds) * sizeof *s);
    l->fds = s;
    l->nfds = n;
    return 0;
}

int bk_loop_add_fd(bk_loop *l, int fd, unsigned events, bk_io_fn *fn, void *arg)
{
    if (fd < 0)
        return -BK_EINVAL;
    int rc = grow_fds(l, fd);
    if (rc)
        return rc;
    fd_slot *s = &l->fds[fd];
    if (s->used)
        return -BK_EEXIST;
    struct epoll_event ev = {.events = to_epoll(events)};
    s->gen++;
    ev.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)s->gen << 32;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -BK_EIO;
    s->fn = fn;
    s->arg = arg;
    s->events = events;
    s->used = true;
    return 0;
}

int bk_loop_mod_fd(bk_loop *l, int fd, unsigned events)
{
    if (fd < 0 || (size_t)fd >= l->nfds || !l->fds[fd].used)
        return -BK_ENOENT;
    fd_slot *s = &l->fds[fd];
    if (s->events == events)
        return 0;
    struct epoll_event ev = {.events = to_epoll(events)};
    ev.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)s->gen << 32;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
        return -BK_EIO;
    s->events = events;
    return 0;
}

void bk_loop_del_fd(bk_loop *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->nfds || !l->fds[fd].used)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    fd_slot *s = &l->fds[fd];
    s->used = false;
    s->gen++;
    s->fn = NULL;
    s->arg = NULL;
}

/* ------------------------------ posts ------------------------------ */

static void wake(bk_loop *l)
{
    uint64_t one = 1;
    ssize_t w = write(l->wakefd, &one, sizeof one);
    (void)w; /* EAGAIN: the counter is already non-zero, the loop wakes */
}

int bk_loop_post(bk_loop *l, bk_post_fn *fn, void *arg)
{
    post_item *it = malloc(sizeof *it);
    if (!it)
        return -BK_ENOMEM;
    it->fn = fn;
    it->arg = arg;
    it->next = NULL;
    pthread_mutex_lock(&l->post_lock);
    if (l->post_tail)
        l->post_tail->next = it;
    else
        l->post_head = it;
    l->post_tail = it;
    pthread_mutex_unlock(&l->post_lock);
    wake(l);
    return 0;
}

static int run_posts(bk_loop *l)
{
    uint64_t n;
    ssize_t r = read(l->wakefd, &n, sizeof n);
    (void)r;
    pthread_mutex_lock(&l->post_lock);
    post_item *it = l->post_head;
    l->post_head = l->post_tail = NULL;
    pthread_mutex_unlock(&l->post_lock);
    int ran = 0;
    while (it) {
        post_item *next = it->next;
        it->fn(l, it->arg);
        free(it);
        it = next;
        ran++;
    }
    return ran;
}

/* ------------------------------ loop ------------------------------ */

bk_loop *bk_loop_new(void)
{
    bk_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->epfd < 0 || l->wakefd < 0)
        goto fail;
    pthread_mutex_init(&l->post_lock, NULL);
    atomic_init(&l->stop, false);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) != 0) {
        pthread_mutex_destroy(&l->post_lock);
        goto fail;
    }
    l->now_ms = bk_clock_mono_ms();
    return l;
fail:;
    int e = errno;
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wakefd >= 0)
        close(l->wakefd);
    free(l);
    errno = e;
    return NULL;
}

void bk_loop_free(bk_loop *l)
{
    if (!l)
        return;
    post_item *it = l->post_head;
    while (it) {
        post_item *next = it->next;
        free(it);
        it = next;
    }
    for (size_t i = 0; i < l->heap_len; i++)
        l->heap[i]->heap_index = SIZE_MAX;
    free(l->heap);
    free(l->fds);
    close(l->epfd);
    close(l->wakefd);
    pthread_mutex_destroy(&l->post_lock);
    free(l);
}

int64_t bk_loop_now_ms(const bk_loop *l)
{
    return l->now_ms;
}

void bk_loop_stop(bk_loop *l)
{
    atomic_store(&l->stop, true);
    wake(l);
}

int bk_loop_run_once(bk_loop *l, int timeout_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    l->now_ms = bk_clock_mono_ms();
    if (l->heap_len > 0) {
        int64_t until = l->heap[0]->deadline_ms - l->now_ms;
        if (until < 0)
            until = 0;
        if (timeout_ms < 0 || until < timeout_ms)
            timeout_ms = until > INT32_MAX ? INT32_MAX : (int)until;
    }
    int n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        return -BK_EIO;
    }
    l->now_ms = bk_clock_mono_ms();
    int ran = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == UINT64_MAX) {
            ran += run_posts(l);
            continue;
        }
        int fd = (int)(uint32_t)evs[i].data.u64;
        uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
        if ((size_t)fd >= l->nfds)
            continue;
        fd_slot *s = &l->fds[fd];
        if (!s->used || s->gen != gen)
            continue; /* deleted (or replaced) earlier in this batch */
        unsigned ready = 0;
        if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
            ready |= BK_EV_READ;
        if (evs[i].events & EPOLLOUT)
            ready |= BK_EV_WRITE;
        if (evs[i].events & (EPOLLERR | EPOLLHUP))
            ready |= BK_EV_ERROR | (s->events & BK_EV_READ);
        s->fn(l, fd, ready, s->arg);
        ran++;
    }
    ran += run_timers(l);
    return ran;
}

int bk_loop_run(bk_loop *l)
{
    /* a stop requested before run() makes it return at once */
    while (!atomic_load(&l->stop)) {
        int rc = bk_loop_run_once(l, -1);
        if (rc < 0)
            return rc;
    }
    atomic_store(&l->stop, false);
    return 0;
}

int bk_tcp_listen(const char *host, int port, int backlog, int *bound_port,
                  char *err, size_t errlen)
{
    const char *h = host && host[0] ? host : NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(h, ps, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "%s", gai_strerror(gai));
        return -BK_EIO;
    }
    int lfd = -1, e = 0;
    for (struct addrinfo *a = ai; a && lfd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family,
                        a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 ||
            listen(fd, backlog) != 0) {
            e = errno;
            close(fd);
            continue;
        }
        lfd = fd;
    }
    freeaddrinfo(ai);
    if (lfd < 0) {
        snprintf(err, errlen, "%s", strerror(e ? e : EADDRNOTAVAIL));
        return -BK_EIO;
    }
    if (bound_port) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(lfd, (struct sockaddr *)&ss, &sl);
        *bound_port = ss.ss_family == AF_INET6
                          ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                          : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return lfd;
}
