/*
 * zk.c -- the ZooKeeper session: connect string, bounded connect, session
 * events, synchronous helpers, multi, reopen after expiry.  See zk.h.
 *
 * The C client calls us back on its completion thread.  The only state
 * those callbacks share with the owner is the session state and the list
 * of pending watches, both under zk->mu; the bounded connect waits on
 * zk->cv for the state to become CONNECTED.
 *
 * Watches: each bk_zk_get/exists/children call with a watch allocates a
 * small record (user function + argument) and registers it with the C
 * client as the watcher context.  The client owns it until it fires once
 * with a node event (then our trampoline frees it) or the handle is closed
 * (then bk_zk_close/reopen frees what never fired).  Whether the client
 * kept a registration depends on the result code, exactly as the C
 * client's result checkers decide: get and children keep it on ZOK only,
 * exists on ZOK and ZNONODE; otherwise we free the record at once.
 * Session events are also delivered to every registered watcher by the
 * C client; the trampoline ignores those (the session callback has them).
 */
#include "coordinator/zk.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
/* the synchronous API exists only in the threaded client (zookeeper_mt) */
#define THREADED 1
#include <zookeeper/zookeeper.h>

#include "common/err.h"
#include "common/logging.h"

#define MOD "zk"

typedef struct watch_rec {
    bk_zk *zk;
    bk_zk_watch_fn fn;
    void *arg;
    struct watch_rec *prev, *next;
} watch_rec;

struct bk_zk {
    zhandle_t *zh; /* NULL when closed */
    char *connect; /* as given */
    bk_zk_connect parsed;
    int session_timeout_ms, connect_timeout_ms;
    bk_zk_session_fn on_session;
    void *arg;

    pthread_mutex_t mu; /* guards the fields below */
    pthread_cond_t cv;  /* signalled on every state change */
    bk_zk_state state;
    bool ever_connected; /* this handle reached CONNECTED once */
    bool closing;        /* no more user callbacks for this handle */
    bool quiet;          /* the short chroot-creating session: log at DEBUG */
    int64_t session_id;
    watch_rec *watches; /* registered, not yet fired */
};

static _Thread_local int last_zrc;

int bk_zk_last_error(void)
{
    return last_zrc;
}

const char *bk_zk_error_text(int zrc)
{
    return zerror(zrc);
}

const char *bk_zk_state_name(bk_zk_state s)
{
    switch (s) {
    case BK_ZK_CONNECTING:
        return "connecting";
    case BK_ZK_CONNECTED:
        return "connected";
    case BK_ZK_DISCONNECTED:
        return "disconnected";
    case BK_ZK_EXPIRED:
        return "expired";
    case BK_ZK_AUTH_FAILED:
        return "auth-failed";
    case BK_ZK_CLOSED:
        return "closed";
    }
    return "?";
}

/* Records ZooKeeper's code for bk_zk_last_error() and maps it (zk.h). */
static int map_zrc(int zrc)
{
    last_zrc = zrc;
    switch (zrc) {
    case ZOK:
        return 0;
    case ZNONODE:
        return -BK_ENOENT;
    case ZNODEEXISTS:
    case ZNOTEMPTY:
        return -BK_EEXIST;
    case ZBADVERSION:
        return -BK_ERANGE;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONEXPIRED:
    case ZSESSIONMOVED:
    case ZINVALIDSTATE:
    case ZCLOSING:
    case ZSYSTEMERROR:
        return -BK_EIO;
    case ZBADARGUMENTS:
    case ZINVALIDACL:
    case ZNOCHILDRENFOREPHEMERALS:
    case ZNOAUTH:
        return -BK_EINVAL;
    case ZMARSHALLINGERROR:
        return -BK_ENOMEM;
    default:
        return -BK_EUNSUPPORTED;
    }
}

/* ------------------------- connect string ------------------------- */

static bool parse_port(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

int bk_zk_parse_connect(const char *s, bk_zk_connect *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s || !*s) {
        bk_errf(err, errlen, "empty ZooKeeper connect string");
        return -BK_EINVAL;
    }
    const char *slash = strchr(s, '/');
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    if (hl == 0) {
        bk_errf(err, errlen, "ZooKeeper connect string '%s' has no host", s);
        return -BK_EINVAL;
    }
    if (hl >= sizeof out->hosts) {
        bk_errf(err, errlen, "ZooKeeper connect string too long");
        return -BK_EINVAL;
    }
    /* each entry: host:port or [v6]:port */
    size_t i = 0;
    while (i <= hl) {
        size_t j = i;
        while (j < hl && s[j] != ',')
            j++;
        const char *e = s + i;
        size_t el = j - i;
        size_t colon = el;
        if (el > 0 && e[0] == '[') {
            const char *rb = memchr(e, ']', el);
            if (rb && (size_t)(rb - e) + 1 < el && rb[1] == ':')
                colon = (size_t)(rb - e) + 1;
        } else {
            for (size_t k = 0; k < el; k++)
                if (e[k] == ':')
                    colon = k; /* the last one */
        }
        bool ok = colon > 0 && colon < el &&
                  parse_port(e + colon + 1, el - colon - 1);
        for (size_t k = 0; ok && k < colon; k++)
            if (e[k] == ' ' || e[k] == '\t' || e[k] == ',')
                ok = false;
        if (!ok) {
            bk_errf(err, errlen,
                    "bad ZooKeeper server '%.*s' in '%s' (expected host:port)",
                    (int)el, e, s);
            return -BK_EINVAL;
        }
        i = j + 1;
    }
    memcpy(out->hosts, s, hl);
    out->hosts[hl] = '\0';
    if (slash) {
        const char *c = slash;
        size_t cl = strlen(c);
        if (cl == 1)
            return 0; /* "/" is the root: no chroot */
        if (cl >= sizeof out->chroot) {
            bk_errf(err, errlen, "ZooKeeper chroot too long");
            return -BK_EINVAL;
        }
        if (c[cl - 1] == '/') {
            bk_errf(err, errlen, "ZooKeeper chroot '%s' must not end with '/'",
                    c);
            return -BK_EINVAL;
        }
        /* components: non-empty, not "." or "..", printable */
        const char *p = c + 1;
        while (*p) {
            const char *q = strchr(p, '/');
            size_t n = q ? (size_t)(q - p) : strlen(p);
            bool bad = n == 0 || (n == 1 && p[0] == '.') ||
                       (n == 2 && p[0] == '.' && p[1] == '.');
            for (size_t k = 0; k < n && !bad; k++)
                if ((unsigned char)p[k] < 0x20 || p[k] == 0x7f)
                    bad = true;
            if (bad) {
                bk_errf(err, errlen, "bad ZooKeeper chroot '%s'", c);
                return -BK_EINVAL;
            }
            p += n;
            if (*p == '/')
                p++;
        }
        memcpy(out->chroot, c, cl + 1);
    }
    return 0;
}

/* ------------------------- session plumbing ------------------------- */

static void zk_client_log(const char *message)
{
    /* The C client's lines: useful when debugging, noise otherwise. */
    BK_DEBUG("zk-client", "%s", message);
}

static pthread_once_t zk_log_once = PTHREAD_ONCE_INIT;

static void zk_log_init(void)
{
    /* Lines below ERROR are not even formatted; what remains goes to
     * zk_client_log (per handle) at DEBUG.  With Brook at DEBUG, keep the
     * client's INFO lines too. */
    zoo_set_debug_level(bk_logging_threshold <= BK_LVL_DEBUG
                            ? ZOO_LOG_LEVEL_INFO
                            : ZOO_LOG_LEVEL_ERROR);
}

/* The handle-wide watcher: only session events arrive here because every
 * watch is registered with its own record (watch_trampoline). */
static void session_watcher(zhandle_t *zh, int type, int state,
                            const char *path, void *ctx)
{
    (void)path;
    bk_zk *zk = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    bk_zk_state st;
    pthread_mutex_lock(&zk->mu);
    if (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE)
        st = BK_ZK_CONNECTED;
    else if (state == ZOO_EXPIRED_SESSION_STATE)
        st = BK_ZK_EXPIRED;
    else if (state == ZOO_AUTH_FAILED_STATE)
        st = BK_ZK_AUTH_FAILED;
    else if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE)
        st = zk->ever_connected ? BK_ZK_DISCONNECTED : BK_ZK_CONNECTING;
    else
        st = zk->state; /* NOTCONNECTED/closing: nothing to report */
    bool changed = st != zk->state;
    zk->state = st;
    if (st == BK_ZK_CONNECTED) {
        zk->ever_connected = true;
        const clientid_t *cid = zoo_client_id(zh);
        zk->session_id = cid ? cid->client_id : 0;
    } else if (st == BK_ZK_EXPIRED) {
        zk->session_id = 0;
    }
    bool notify = changed && !zk->closing;
    int64_t sid = zk->session_id;
    pthread_cond_broadcast(&zk->cv);
    pthread_mutex_unlock(&zk->mu);
    if (!changed)
        return;
    if (st == BK_ZK_CONNECTED)
        BK_LOG(zk->quiet ? BK_LVL_DEBUG : BK_LVL_INFO, MOD,
               "session 0x%llx connected to %s (timeout %d ms)",
               (unsigned long long)sid,
               zk->quiet ? zk->parsed.hosts : zk->connect,
               zoo_recv_timeout(zh));
    else if (st == BK_ZK_DISCONNECTED)
        BK_WARN(MOD, "disconnected from %s, reconnecting", zk->connect);
    else if (st == BK_ZK_EXPIRED)
        BK_WARN(MOD, "session expired (%s)", zk->connect);
    else if (st == BK_ZK_AUTH_FAILED)
        BK_ERROR(MOD, "authentication failed (%s)", zk->connect);
    if (notify && zk->on_session)
        zk->on_session(zk->arg, st);
}

static void watch_trampoline(zhandle_t *zh, int type, int state,
                             const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    watch_rec *w = ctx;
    if (type == ZOO_SESSION_EVENT)
        return; /* the session callback reports these */
    bk_zk_event ev;
    if (type == ZOO_CREATED_EVENT)
        ev = BK_ZK_EV_CREATED;
    else if (type == ZOO_DELETED_EVENT)
        ev = BK_ZK_EV_DELETED;
    else if (type == ZOO_CHANGED_EVENT)
        ev = BK_ZK_EV_CHANGED;
    else if (type == ZOO_CHILD_EVENT)
        ev = BK_ZK_EV_CHILD;
    else
        ev = 0; /* NOTWATCHING: the client dropped it */
    bk_zk *zk = w->zk;
    pthread_mutex_lock(&zk->mu);
    if (w->prev)
        w->prev->next = w->next;
    else
        zk->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    bool closing = zk->closing;
    pthread_mutex_unlock(&zk->mu);
    bk_zk_watch_fn fn = w->fn;
    void *arg = w->arg;
    free(w);
    if (ev && !closing)
        fn(arg, ev, path);
}

static watch_rec *watch_new(bk_zk *zk, bk_zk_watch_fn fn, void *arg)
{
    watch_rec *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->zk = zk;
    w->fn = fn;
    w->arg = arg;
    pthread_mutex_lock(&zk->mu);
    w->next = zk->watches;
    if (w->next)
        w->next->prev = w;
    zk->watches = w;
    pthread_mutex_unlock(&zk->mu);
    return w;
}

/* Frees a record the C client did not keep. */
static void watch_drop(bk_zk *zk, watch_rec *w)
{
    pthread_mutex_lock(&zk->mu);
    if (w->prev)
        w->prev->next = w->next;
    else
        zk->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&zk->mu);
    free(w);
}

/* Closes the handle, joins the client's threads, frees unfired watches. */
static void close_handle(bk_zk *zk)
{
    pthread_mutex_lock(&zk->mu);
    zk->closing = true;
    pthread_mutex_unlock(&zk->mu);
    if (zk->zh)
        zookeeper_close(zk->zh);
    zk->zh = NULL;
    pthread_mutex_lock(&zk->mu);
    watch_rec *w = zk->watches;
    zk->watches = NULL;
    zk->state = BK_ZK_CLOSED;
    zk->session_id = 0;
    pthread_mutex_unlock(&zk->mu);
    while (w) {
        watch_rec *next = w->next;
        free(w);
        w = next;
    }
}

static struct timespec deadline_after(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Opens a handle to `where` and waits up to the connect timeout for a
 * session.  On failure the handle is closed and err names the reason. */
static int open_handle(bk_zk *zk, const char *where, char *err, size_t errlen)
{
    assert(!zk->zh);
    pthread_mutex_lock(&zk->mu);
    zk->state = BK_ZK_CONNECTING;
    zk->ever_connected = false;
    zk->closing = false;
    zk->session_id = 0;
    pthread_mutex_unlock(&zk->mu);

    errno = 0;
    zk->zh = zookeeper_init2(where, session_watcher, zk->session_timeout_ms,
                             NULL, zk, 0, zk_client_log);
    if (!zk->zh) {
        int e = errno;
        /* the client resolves every host up front; NULL is almost always
         * a name that does not resolve */
        bk_errf(err, errlen, "cannot connect to ZooKeeper at %s: %s",
                zk->connect,
                e == ENOMEM ? strerror(e)
                            : "cannot resolve the server address(es)");
        pthread_mutex_lock(&zk->mu);
        zk->state = BK_ZK_CLOSED;
        pthread_mutex_unlock(&zk->mu);
        return -BK_EIO;
    }
    struct timespec dl = deadline_after(zk->connect_timeout_ms);
    pthread_mutex_lock(&zk->mu);
    while (zk->state == BK_ZK_CONNECTING) {
        int rc = pthread_cond_timedwait(&zk->cv, &zk->mu, &dl);
        if (rc == ETIMEDOUT)
            break;
    }
    bk_zk_state st = zk->state;
    pthread_mutex_unlock(&zk->mu);
    if (st == BK_ZK_CONNECTED)
        return 0;
    if (st == BK_ZK_AUTH_FAILED)
        bk_errf(err, errlen, "ZooKeeper at %s refused authentication",
                zk->connect);
    else
        bk_errf(err, errlen, "cannot connect to ZooKeeper at %s within %d ms",
                zk->connect, zk->connect_timeout_ms);
    close_handle(zk);
    return -BK_EIO;
}

static bk_zk *zk_alloc(const bk_zk_opts *o)
{
    bk_zk *zk = calloc(1, sizeof *zk);
    if (!zk)
        return NULL;
    zk->connect = strdup(o->connect);
    if (!zk->connect) {
        free(zk);
        return NULL;
    }
    zk->session_timeout_ms = o->session_timeout_ms > 0
                                 ? o->session_timeout_ms
                                 : BK_ZK_DEFAULT_SESSION_TIMEOUT_MS;
    zk->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                                       : zk->session_timeout_ms;
    zk->on_session = o->on_session;
    zk->arg = o->arg;
    zk->state = BK_ZK_CLOSED;
    pthread_mutex_init(&zk->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&zk->cv, &ca);
    pthread_condattr_destroy(&ca);
    return zk;
}

static void zk_free(bk_zk *zk)
{
    pthread_cond_destroy(&zk->cv);
    pthread_mutex_destroy(&zk->mu);
    free(zk->connect);
    free(zk);
}

/* Kafka creates a missing chroot before using it (KafkaZkClient's
 * createChrootIfNecessary): through a session on the bare hosts. */
static int ensure_chroot(bk_zk *zk, char *err, size_t errlen)
{
    bk_zk_opts o = {.connect = zk->connect,
                    .session_timeout_ms = zk->session_timeout_ms,
                    .connect_timeout_ms = zk->connect_timeout_ms};
    bk_zk *tmp = zk_alloc(&o);
    if (!tmp) {
        bk_errf(err, errlen, "out of memory");
        return -BK_ENOMEM;
    }
    tmp->parsed = zk->parsed;
    tmp->quiet = true;
    int rc = open_handle(tmp, tmp->parsed.hosts, err, errlen);
    if (rc == 0) {
        rc = bk_zk_mkdirs(tmp, zk->parsed.chroot);
        if (rc)
            bk_errf(err, errlen, "cannot create ZooKeeper chroot %s at %s: %s",
                    zk->parsed.chroot, zk->parsed.hosts,
                    zerror(bk_zk_last_error()));
        else
            BK_DEBUG(MOD, "chroot %s exists", zk->parsed.chroot);
    }
    close_handle(tmp);
    zk_free(tmp);
    return rc;
}

int bk_zk_open(const bk_zk_opts *opts, bk_zk **out, char *err, size_t errlen)
{
    *out = NULL;
    pthread_once(&zk_log_once, zk_log_init);
    bk_zk_connect parsed;
    int rc = bk_zk_parse_connect(opts->connect, &parsed, err, errlen);
    if (rc)
        return rc;
    bk_zk *zk = zk_alloc(opts);
    if (!zk) {
        bk_errf(err, errlen, "out of memory");
        return -BK_ENOMEM;
    }
    zk->parsed = parsed;
    if (parsed.chroot[0]) {
        rc = ensure_chroot(zk, err, errlen);
        if (rc) {
            zk_free(zk);
            return rc == -BK_ENOMEM ? rc : -BK_EIO;
        }
    }
    /* The C client applies a chroot given after the hosts itself: every
     * path we pass and get back is relative to it. */
    rc = open_handle(zk, zk->connect, err, errlen);
    if (rc) {
        zk_free(zk);
        return rc;
    }
    *out = zk;
    return 0;
}

void bk_zk_close(bk_zk *zk)
{
    if (!zk)
        return;
    close_handle(zk);
    zk_free(zk);
}

int bk_zk_reopen(bk_zk *zk, char *err, size_t errlen)
{
    close_handle(zk);
    BK_INFO(MOD, "opening a new session to %s", zk->connect);
    return open_handle(zk, zk->connect, err, errlen);
}

bk_zk_state bk_zk_get_state(bk_zk *zk)
{
    pthread_mutex_lock(&zk->mu);
    bk_zk_state s = zk->state;
    pthread_mutex_unlock(&zk->mu);
    return s;
}

int64_t bk_zk_session_id(bk_zk *zk)
{
    pthread_mutex_lock(&zk->mu);
    int64_t s = zk->session_id;
    pthread_mutex_unlock(&zk->mu);
    return s;
}

int bk_zk_session_credentials(bk_zk *zk, int64_t *id, unsigned char passwd[16])
{
    if (!zk->zh || bk_zk_get_state(zk) != BK_ZK_CONNECTED)
        return -BK_EIO;
    const clientid_t *cid = zoo_client_id(zk->zh);
    if (!cid)
        return -BK_EIO;
    *id = cid->client_id;
    memcpy(passwd, cid->passwd, 16);
    return 0;
}

int bk_zk_negotiated_timeout(bk_zk *zk)
{
    if (!zk->zh || bk_zk_get_state(zk) == BK_ZK_CONNECTING)
        return 0;
    return zoo_recv_timeout(zk->zh);
}

const char *bk_zk_connect_string(const bk_zk *zk)
{
    return zk->connect;
}

/* ------------------------------ helpers ------------------------------ */

static void copy_stat(bk_zk_stat *o, const struct Stat *s)
{
    if (!o)
        return;
    o->czxid = s->czxid;
    o->mzxid = s->mzxid;
    o->ctime = s->ctime;
    o->mtime = s->mtime;
    o->version = s->version;
    o->cversion = s->cversion;
    o->ephemeral_owner = s->ephemeralOwner;
    o->data_length = s->dataLength;
    o->num_children = s->numChildren;
}

static int create_mode(int flags)
{
    int mode = ZOO_PERSISTENT;
    if (flags & BK_ZK_EPHEMERAL)
        mode |= ZOO_EPHEMERAL;
    if (flags & BK_ZK_SEQUENTIAL)
        mode |= ZOO_SEQUENCE;
    return mode;
}

#define CHECK_HANDLE(zk)                                                       \
    do {                                                                       \
        if (!(zk)->zh)                                                         \
            return map_zrc(ZINVALIDSTATE);                                     \
    } while (0)

int bk_zk_mkdirs(bk_zk *zk, const char *path)
{
    CHECK_HANDLE(zk);
    size_t n = strlen(path);
    if (n == 0 || path[0] != '/' || n >= BK_ZK_PATH_MAX)
        return map_zrc(ZBADARGUMENTS);
    if (n == 1)
        return map_zrc(ZOK); /* the root always exists */
    char p[BK_ZK_PATH_MAX];
    memcpy(p, path, n + 1);
    /* each prefix ending before a '/', then the whole path */
    for (size_t i = 1; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        char c = p[i];
        p[i] = '\0';
        int zrc = zoo_create(zk->zh, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                             ZOO_PERSISTENT, NULL, 0);
        p[i] = c;
        if (zrc != ZOK && zrc != ZNODEEXISTS)
            return map_zrc(zrc);
    }
    return map_zrc(ZOK);
}

int bk_zk_create(bk_zk *zk, const char *path, const void *data, size_t len,
                 int flags, char *out_path, size_t out_len)
{
    CHECK_HANDLE(zk);
    if (len > INT_MAX) {
        last_zrc = ZBADARGUMENTS;
        return -BK_ETOOBIG;
    }
    char scratch[8];
    char *pb = out_path && out_len ? out_path : scratch;
    int pbl = out_path && out_len ? (int)(out_len > INT_MAX ? INT_MAX : out_len)
                                  : (int)sizeof scratch;
    int zrc = zoo_create(zk->zh, path, data, data ? (int)len : -1,
                         &ZOO_OPEN_ACL_UNSAFE, create_mode(flags), pb, pbl);
    if (zrc == ZNONODE && (flags & BK_ZK_PARENTS)) {
        const char *last = strrchr(path, '/');
        if (last && last != path) {
            char parent[BK_ZK_PATH_MAX];
            size_t pl = (size_t)(last - path);
            if (pl >= sizeof parent)
                return map_zrc(ZBADARGUMENTS);
            memcpy(parent, path, pl);
            parent[pl] = '\0';
            int rc = bk_zk_mkdirs(zk, parent);
            if (rc)
                return rc;
            zrc = zoo_create(zk->zh, path, data, data ? (int)len : -1,
                             &ZOO_OPEN_ACL_UNSAFE, create_mode(flags), pb, pbl);
        }
    }
    return map_zrc(zrc);
}

int bk_zk_get(bk_zk *zk, const char *path, bk_buf *out, bk_zk_stat *st,
              bk_zk_watch_fn watch, void *arg)
{
    CHECK_HANDLE(zk);
    watch_rec *w = NULL;
    if (watch && !(w = watch_new(zk, watch, arg)))
        return -BK_ENOMEM;
    bk_buf_reset(out);
    int size = 4096;
    for (;;) {
        bk_buf_reset(out);
        char *p = (char *)bk_buf_extend(out, (size_t)size);
        if (!p) {
            if (w)
                watch_drop(zk, w);
            return -BK_ENOMEM;
        }
        int blen = size;
        struct Stat s;
        int zrc = w ? zoo_wget(zk->zh, path, watch_trampoline, w, p, &blen, &s)
                    : zoo_get(zk->zh, path, 0, p, &blen, &s);
        if (w && zrc != ZOK)
            watch_drop(zk, w); /* not registered (data_result_checker) */
        w = NULL;              /* registered or dropped: not ours any more */
        if (zrc != ZOK) {
            bk_buf_reset(out);
            return map_zrc(zrc);
        }
        if (s.dataLength > size) {
            /* grew past our buffer: read again with the full size (the
             * watch from the first read stays set and covers changes) */
            size = s.dataLength;
            continue;
        }
        out->len = blen < 0 ? 0 : (size_t)blen;
        copy_stat(st, &s);
        return map_zrc(ZOK);
    }
}

int bk_zk_set(bk_zk *zk, const char *path, const void *data, size_t len,
              int32_t version, bk_zk_stat *new_st)
{
    CHECK_HANDLE(zk);
    if (len > INT_MAX) {
        last_zrc = ZBADARGUMENTS;
        return -BK_ETOOBIG;
    }
    struct Stat s;
    int zrc = zoo_set2(zk->zh, path, data, data ? (int)len : -1, version, &s);
    if (zrc == ZOK)
        copy_stat(new_st, &s);
    return map_zrc(zrc);
}

int bk_zk_delete(bk_zk *zk, const char *path, int32_t version)
{
    CHECK_HANDLE(zk);
    return map_zrc(zoo_delete(zk->zh, path, version));
}

int bk_zk_exists(bk_zk *zk, const char *path, bk_zk_stat *st,
                 bk_zk_watch_fn watch, void *arg)
{
    CHECK_HANDLE(zk);
    watch_rec *w = NULL;
    if (watch && !(w = watch_new(zk, watch, arg)))
        return -BK_ENOMEM;
    struct Stat s;
    int zrc = w ? zoo_wexists(zk->zh, path, watch_trampoline, w, &s)
                : zoo_exists(zk->zh, path, 0, &s);
    /* exists_result_checker keeps the watch on ZOK and ZNONODE */
    if (w && zrc != ZOK && zrc != ZNONODE)
        watch_drop(zk, w);
    if (zrc == ZOK)
        copy_stat(st, &s);
    return map_zrc(zrc);
}

void bk_zk_strings_free(bk_zk_strings *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int bk_zk_children(bk_zk *zk, const char *path, bk_zk_strings *out,
                   bk_zk_watch_fn watch, void *arg)
{
    return bk_zk_children2(zk, path, out, NULL, watch, arg);
}

int bk_zk_children2(bk_zk *zk, const char *path, bk_zk_strings *out,
                    bk_zk_stat *st, bk_zk_watch_fn watch, void *arg)
{
    out->v = NULL;
    out->n = 0;
    CHECK_HANDLE(zk);
    watch_rec *w = NULL;
    if (watch && !(w = watch_new(zk, watch, arg)))
        return -BK_ENOMEM;
    struct String_vector sv = {0, NULL};
    struct Stat s;
    int zrc = w ? zoo_wget_children2(zk->zh, path, watch_trampoline, w, &sv, &s)
                : zoo_get_children2(zk->zh, path, 0, &sv, &s);
    if (w && zrc != ZOK)
        watch_drop(zk, w); /* child_result_checker: ZOK only */
    if (zrc != ZOK)
        return map_zrc(zrc);
    copy_stat(st, &s);
    int rc = 0;
    if (sv.count > 0) {
        out->v = calloc((size_t)sv.count, sizeof *out->v);
        if (!out->v)
            rc = -BK_ENOMEM;
        for (int i = 0; rc == 0 && i < sv.count; i++) {
            out->v[i] = strdup(sv.data[i]);
            if (!out->v[i])
                rc = -BK_ENOMEM;
            else
                out->n++;
        }
    }
    deallocate_String_vector(&sv);
    if (rc) {
        bk_zk_strings_free(out);
        return rc;
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return map_zrc(ZOK);
}

static int strings_push(bk_zk_strings *s, size_t *cap, const char *str)
{
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nv = realloc(s->v, nc * sizeof *nv);
        if (!nv)
            return -BK_ENOMEM;
        s->v = nv;
        *cap = nc;
    }
    if (!(s->v[s->n] = strdup(str)))
        return -BK_ENOMEM;
    s->n++;
    return 0;
}

static int tree_walk(bk_zk *zk, const char *path, bk_zk_strings *out,
                     size_t *cap, int depth)
{
    if (depth > 64)
        return map_zrc(ZBADARGUMENTS); /* deeper than anything we write */
    bk_zk_strings kids;
    int rc = bk_zk_children(zk, path, &kids, NULL, NULL);
    if (rc)
        return rc;
    char child[BK_ZK_PATH_MAX];
    for (size_t i = 0; rc == 0 && i < kids.n; i++) {
        int n = snprintf(child, sizeof child, "%s/%s",
                         strcmp(path, "/") == 0 ? "" : path, kids.v[i]);
        if (n < 0 || (size_t)n >= sizeof child)
            rc = map_zrc(ZBADARGUMENTS);
        else
            rc = tree_walk(zk, child, out, cap, depth + 1);
    }
    bk_zk_strings_free(&kids);
    if (rc == 0)
        rc = strings_push(out, cap, path);
    return rc;
}

int bk_zk_tree(bk_zk *zk, const char *path, bk_zk_strings *out)
{
    out->v = NULL;
    out->n = 0;
    size_t cap = 0;
    int rc = tree_walk(zk, path, out, &cap, 0);
    if (rc)
        bk_zk_strings_free(out);
    return rc;
}

/* One multi's request and result arrays, built from bk_zk_ops. */
typedef struct multi_req {
    bk_zk_op *ops;
    int n;
    zoo_op_t *zops;
    zoo_op_result_t *res;
    struct Stat *stats;
    char scratch[BK_ZK_PATH_MAX]; /* created paths nobody asked for */
} multi_req;

static void multi_free(multi_req *m)
{
    free(m->zops);
    free(m->res);
    free(m->stats);
}

static int multi_prepare(multi_req *m, bk_zk_op *ops, int n)
{
    m->ops = ops;
    m->n = n;
    m->zops = calloc((size_t)n, sizeof *m->zops);
    m->res = calloc((size_t)n, sizeof *m->res);
    m->stats = calloc((size_t)n, sizeof *m->stats);
    if (!m->zops || !m->res || !m->stats) {
        multi_free(m);
        return -BK_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        bk_zk_op *op = &ops[i];
        int dl = op->data ? (int)(op->len > INT_MAX ? INT_MAX : op->len) : -1;
        switch (op->type) {
        case BK_ZK_OP_CREATE:
            assert(!(op->flags & BK_ZK_PARENTS));
            zoo_create_op_init(
                &m->zops[i], op->path, op->data, dl, &ZOO_OPEN_ACL_UNSAFE,
                create_mode(op->flags),
                op->out_path && op->out_len ? op->out_path : m->scratch,
                op->out_path && op->out_len
                    ? (int)(op->out_len > INT_MAX ? INT_MAX : op->out_len)
                    : (int)sizeof m->scratch);
            break;
        case BK_ZK_OP_SET:
            zoo_set_op_init(&m->zops[i], op->path, op->data, dl, op->version,
                            &m->stats[i]);
            break;
        case BK_ZK_OP_DELETE:
            zoo_delete_op_init(&m->zops[i], op->path, op->version);
            break;
        case BK_ZK_OP_CHECK:
            zoo_check_op_init(&m->zops[i], op->path, op->version);
            break;
        default:
            assert(!"bad bk_zk_op type");
        }
        m->res[i].err = ZRUNTIMEINCONSISTENCY;
    }
    return 0;
}

/* Fills each op's zrc from ZooKeeper's answer zrc; returns the mapped
 * result with *failed set as bk_zk_multi documents. */
static int multi_finish(multi_req *m, int zrc, int *failed)
{
    int bad = -1;
    for (int i = 0; i < m->n; i++) {
        m->ops[i].zrc = m->res[i].err;
        if (bad < 0 && m->res[i].err != ZOK &&
            m->res[i].err != ZRUNTIMEINCONSISTENCY)
            bad = i;
    }
    if (zrc != ZOK && bad < 0) {
        /* the request as a whole failed: no op ran */
        for (int i = 0; i < m->n; i++)
            m->ops[i].zrc = zrc;
    } else if (zrc != ZOK) {
        zrc = m->res[bad].err;
        if (failed)
            *failed = bad;
    }
    return map_zrc(zrc);
}

int bk_zk_multi(bk_zk *zk, bk_zk_op *ops, int n, int *failed)
{
    if (failed)
        *failed = -1;
    CHECK_HANDLE(zk);
    if (n <= 0)
        return map_zrc(ZOK);
    multi_req m;
    int rc = multi_prepare(&m, ops, n);
    if (rc != 0)
        return rc;
    int zrc = zoo_multi(zk->zh, n, m.zops, m.res);
    rc = multi_finish(&m, zrc, failed);
    multi_free(&m);
    return rc;
}

/* Completion bookkeeping of bk_zk_multi_batches. */
typedef struct multi_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending;
} multi_wait;

typedef struct multi_slot {
    multi_wait *w;
    int zrc;
} multi_slot;

/* ZooKeeper's completion thread: record and wake the caller. */
static void multi_done(int rc, const void *data)
{
    multi_slot *sl = (multi_slot *)data;
    pthread_mutex_lock(&sl->w->mu);
    sl->zrc = rc;
    sl->w->pending--;
    pthread_cond_signal(&sl->w->cv);
    pthread_mutex_unlock(&sl->w->mu);
}

int bk_zk_multi_batches(bk_zk *zk, bk_zk_op *const *ops, const int *n, int nb,
                        int *rcs, int *failed)
{
    for (int b = 0; b < nb; b++) {
        rcs[b] = -BK_EIO;
        failed[b] = -1;
    }
    CHECK_HANDLE(zk);
    multi_req *m = calloc((size_t)(nb > 0 ? nb : 1), sizeof *m);
    multi_slot *sl = calloc((size_t)(nb > 0 ? nb : 1), sizeof *sl);
    bool *sent = calloc((size_t)(nb > 0 ? nb : 1), sizeof *sent);
    multi_wait w = {.pending = 0};
    int rc = m && sl && sent ? 0 : -BK_ENOMEM;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int nsent = 0;
    for (int b = 0; rc == 0 && b < nb; b++) {
        if (n[b] <= 0) {
            rcs[b] = 0;
            continue;
        }
        rc = multi_prepare(&m[b], ops[b], n[b]);
        if (rc != 0)
            break;
        sl[b].w = &w;
        pthread_mutex_lock(&w.mu);
        w.pending++;
        pthread_mutex_unlock(&w.mu);
        int zrc =
            zoo_amulti(zk->zh, n[b], m[b].zops, m[b].res, multi_done, &sl[b]);
        if (zrc != ZOK) {
            /* Not queued: no completion will come for it. */
            pthread_mutex_lock(&w.mu);
            w.pending--;
            pthread_mutex_unlock(&w.mu);
            rcs[b] = map_zrc(zrc);
            multi_free(&m[b]);
            break; /* later batches must not overtake an unsent one */
        }
        sent[b] = true;
        nsent++;
    }
    /* Every queued request is answered (with a connection-loss code when
     * the connection goes), so this wait ends. */
    pthread_mutex_lock(&w.mu);
    while (w.pending > 0)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    for (int b = 0; b < nb; b++) {
        if (!sent[b])
            continue;
        rcs[b] = multi_finish(&m[b], sl[b].zrc, &failed[b]);
        multi_free(&m[b]);
    }
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    free(m);
    free(sl);
    free(sent);
    if (nsent > 0 || nb == 0)
        return 0;
    return rc != 0 ? rc : rcs[0];
}

/* Pipelined requests (bk_zk_get_many, bk_zk_exists_many): one slot per
 * path, a shared count of requests in flight. */
typedef struct many_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;
} many_wait;

typedef struct many_slot {
    many_wait *w;
    bk_buf *out;    /* get: the data */
    bk_zk_stat *st; /* exists: the stat */
    int *rc;
} many_slot;

/* ZooKeeper's completion thread: the slot's answer is in; wake the
 * caller.  Each slot's buffer, stat and code belong to the waiting
 * caller, who reads them only after pending reached 0 (the mutex orders
 * the accesses). */
static void many_finish(const many_slot *sl, int rc)
{
    pthread_mutex_lock(&sl->w->mu);
    *sl->rc = rc;
    sl->w->pending--;
    pthread_cond_signal(&sl->w->cv);
    pthread_mutex_unlock(&sl->w->mu);
}

static void get_many_done(int zrc, const char *value, int value_len,
                          const struct Stat *st, const void *data)
{
    const many_slot *sl = data;
    int rc = map_zrc(zrc);
    if (zrc == ZOK && st && sl->st)
        copy_stat(sl->st, st);
    if (zrc == ZOK && value && value_len > 0) {
        bk_buf_put(sl->out, value, (size_t)value_len);
        if (!bk_buf_ok(sl->out))
            rc = -BK_ENOMEM;
    }
    many_finish(sl, rc);
}

static void exists_many_done(int zrc, const struct Stat *st, const void *data)
{
    const many_slot *sl = data;
    if (zrc == ZOK && st)
        copy_stat(sl->st, st);
    many_finish(sl, map_zrc(zrc));
}

static int send_get(zhandle_t *zh, const char *path, many_slot *sl)
{
    return zoo_aget(zh, path, 0, get_many_done, sl);
}

static int send_exists(zhandle_t *zh, const char *path, many_slot *sl)
{
    return zoo_aexists(zh, path, 0, exists_many_done, sl);
}

/* Sends send(paths[i]) for every i, at most BK_ZK_GET_WINDOW in flight,
 * and waits for every answer.  outs or sts may be NULL (not used by the
 * request kind). */
static int run_many(bk_zk *zk, const char *const *paths, size_t n,
                    bk_buf *outs, bk_zk_stat *sts, int *rcs,
                    int (*send)(zhandle_t *, const char *, many_slot *))
{
    for (size_t i = 0; i < n; i++)
        rcs[i] = -BK_EIO;
    CHECK_HANDLE(zk);
    many_slot *sl = calloc(n ? n : 1, sizeof *sl);
    if (!sl) {
        for (size_t i = 0; i < n; i++)
            rcs[i] = -BK_ENOMEM;
        return -BK_ENOMEM;
    }
    many_wait w = {.pending = 0};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int send_rc = 0;
    size_t nsent = 0;
    for (size_t i = 0; i < n; i++) {
        if (outs)
            bk_buf_reset(&outs[i]);
        if (sts)
            memset(&sts[i], 0, sizeof sts[i]);
        sl[i] = (many_slot){.w = &w,
                            .out = outs ? &outs[i] : NULL,
                            .st = sts ? &sts[i] : NULL,
                            .rc = &rcs[i]};
        pthread_mutex_lock(&w.mu);
        /* A bounded window: the client queues every request in memory
         * and the server answers a session's requests in order anyway. */
        while (w.pending >= BK_ZK_GET_WINDOW)
            pthread_cond_wait(&w.cv, &w.mu);
        w.pending++;
        pthread_mutex_unlock(&w.mu);
        int zrc = send(zk->zh, paths[i], &sl[i]);
        if (zrc != ZOK) {
            /* Not queued: no completion will come for it nor for the
             * ones after it, which are not sent. */
            pthread_mutex_lock(&w.mu);
            w.pending--;
            pthread_mutex_unlock(&w.mu);
            send_rc = map_zrc(zrc);
            for (size_t j = i; j < n; j++)
                rcs[j] = send_rc;
            break;
        }
        nsent++;
    }
    /* Every queued request is answered (with a connection-loss code when
     * the connection goes), so this wait ends. */
    pthread_mutex_lock(&w.mu);
    while (w.pending > 0)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    free(sl);
    return nsent > 0 || n == 0 ? 0 : send_rc;
}

int bk_zk_get_many(bk_zk *zk, const char *const *paths, size_t n, bk_buf *outs,
                   int *rcs)
{
    return run_many(zk, paths, n, outs, NULL, rcs, send_get);
}

int bk_zk_get_many_st(bk_zk *zk, const char *const *paths, size_t n,
                      bk_buf *outs, bk_zk_stat *sts, int *rcs)
{
    return run_many(zk, paths, n, outs, sts, rcs, send_get);
}

int bk_zk_exists_many(bk_zk *zk, const char *const *paths, size_t n,
                      bk_zk_stat *sts, int *rcs)
{
    return run_many(zk, paths, n, NULL, sts, rcs, send_exists);
}
