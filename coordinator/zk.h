/*
 * zk.h -- a ZooKeeper session for Brook, over the C client (zookeeper_mt).
 *
 * What it gives:
 *   - Kafka's connect string, "host:port[,host:port...][/chroot]"
 *     (zookeeper.connect); a chroot that does not exist yet is created
 *     first (through a short session without chroot), as Kafka does;
 *   - a bounded connect: bk_zk_open() fails with "cannot connect to
 *     ZooKeeper at <connect> within <N> ms" instead of hanging;
 *   - session events (connected, disconnected, expired...) delivered to a
 *     caller-supplied callback;
 *   - synchronous helpers for create (optionally with parents), get, set,
 *     delete, children, exists and multi, returning 0 / -BK_E*, with
 *     ZooKeeper's own error code kept per thread (bk_zk_last_error());
 *   - bk_zk_reopen() for the one thing a ZooKeeper handle cannot survive,
 *     session expiry: the handle is closed and a new session is made.
 *
 * THREADS -- read this before using callbacks.  zookeeper_mt runs two
 * threads of its own per handle: an I/O thread and a completion thread.
 * The session callback (bk_zk_opts.on_session) and every watch callback
 * run on the completion thread, never on the caller's thread.  Therefore:
 *   - a callback must not touch the broker's state: brookd only posts an
 *     event to its loop (bk_loop_post) and returns (DESIGN.md section 5,
 *     STYLE.md rule 5);
 *   - a callback must not call any function of this module (they block on
 *     replies that only the completion thread could deliver: deadlock);
 *   - callbacks run one at a time, in the order ZooKeeper produced them.
 * The synchronous helpers may be called from any thread except the
 * completion thread (the C client serializes them); bk_zk_open/close/
 * reopen belong to the owner thread and must not run while another
 * thread is inside a helper of the same bk_zk (the handle is replaced).
 * No callback runs after bk_zk_close() or bk_zk_reopen() returns for the
 * handle they closed (the client's threads are joined first), and none
 * for the session being closed while they run.
 *
 * WATCHES are one-shot, as in ZooKeeper: a watch callback fires at most
 * once, with the event and the path (relative to the chroot).  Watches set
 * through a session that later expires or is closed never fire; their
 * bookkeeping is freed by bk_zk_close()/bk_zk_reopen().  After an expiry
 * the owner re-reads what it watched and sets the watches again.
 *
 * Return codes of the helpers (ZooKeeper's own code: bk_zk_last_error()):
 *   0            ZOK
 *   -BK_ENOENT   ZNONODE: the node (for create: a parent) does not exist
 *   -BK_EEXIST   ZNODEEXISTS; for delete, ZNOTEMPTY (children exist)
 *   -BK_ERANGE   ZBADVERSION: a conditional write lost a race (re-read)
 *   -BK_EIO      connection loss, timeout, expired or closed session: the
 *                outcome of a write is unknown (check before retrying)
 *   -BK_EINVAL   bad arguments, invalid ACL, child of an ephemeral node
 *   -BK_ETOOBIG  data longer than ZooKeeper can take
 *   -BK_ENOMEM
 *   -BK_EUNSUPPORTED  any other ZooKeeper error (see bk_zk_last_error())
 *
 * The ZooKeeper client's own log lines go to Brook's log at DEBUG level
 * only (module "zk-client"), so its reconnect chatter does not flood a
 * broker's log or a test's output; this module logs session transitions
 * itself at INFO/WARN.
 */
#ifndef BK_ZK_H
#define BK_ZK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef struct bk_zk bk_zk;

/* Kafka's zookeeper.session.timeout.ms default (Kafka 2.5+). */
#define BK_ZK_DEFAULT_SESSION_TIMEOUT_MS 18000
#define BK_ZK_PATH_MAX                   1024

typedef enum bk_zk_state {
    BK_ZK_CONNECTING = 0, /* no session yet: the client is trying servers */
    BK_ZK_CONNECTED,      /* a session exists and a server answers */
    BK_ZK_DISCONNECTED,   /* was connected; the client is reconnecting and
                             the session (and its ephemerals) may still be
                             alive */
    BK_ZK_EXPIRED,        /* the session is gone: ephemerals and watches
                             are lost; call bk_zk_reopen() */
    BK_ZK_AUTH_FAILED,    /* the server refused our credentials */
    BK_ZK_CLOSED,         /* bk_zk_close() or a failed bk_zk_reopen() */
} bk_zk_state;

const char *bk_zk_state_name(bk_zk_state s);

/* Called on ZooKeeper's completion thread on every state change of the
 * session (see THREADS above). */
typedef void (*bk_zk_session_fn)(void *arg, bk_zk_state state);

typedef enum bk_zk_event {
    BK_ZK_EV_CREATED = 1,
    BK_ZK_EV_DELETED,
    BK_ZK_EV_CHANGED,
    BK_ZK_EV_CHILD,
} bk_zk_event;

/* A one-shot watch, called on ZooKeeper's completion thread (see THREADS
 * above).  path is only valid during the call. */
typedef void (*bk_zk_watch_fn)(void *arg, bk_zk_event ev, const char *path);

typedef struct bk_zk_opts {
    const char *connect;         /* "h:p[,h:p...][/chroot]" (copied) */
    int session_timeout_ms;      /* 0: BK_ZK_DEFAULT_SESSION_TIMEOUT_MS; the
                                    server bounds it to [2, 20] x its tickTime */
    int connect_timeout_ms;      /* bound of bk_zk_open/reopen; 0: the session
                                    timeout (Kafka's
                                    zookeeper.connection.timeout.ms default) */
    bk_zk_session_fn on_session; /* may be NULL */
    void *arg;
} bk_zk_opts;

/* A parsed connect string. */
typedef struct bk_zk_connect {
    char hosts[512];  /* "h:p,h:p" as the C client wants it */
    char chroot[512]; /* "/a/b", or "" for none */
} bk_zk_connect;

/* Parses and checks "host:port[,host:port...][/chroot]" (hosts may be
 * "[v6addr]:port"; a chroot of "/" means none).  On error writes a
 * message to err and returns -BK_EINVAL. */
int bk_zk_parse_connect(const char *s, bk_zk_connect *out, char *err,
                        size_t errlen);

/* Opens a session: parses opts->connect, creates the chroot when it is
 * missing, then connects with the chroot and waits up to the connect
 * timeout for the session.  The chroot creation and the connection each
 * get the full bound.  On failure *out is NULL, err gets the reason
 * ("cannot connect to ZooKeeper at 127.0.0.1:1 within 10000 ms") and the
 * return is -BK_EINVAL (bad connect string) or -BK_EIO.  Owner thread.
 * Free with bk_zk_close(). */
int bk_zk_open(const bk_zk_opts *opts, bk_zk **out, char *err, size_t errlen);

/* Ends the session (its ephemeral znodes go at once) and frees zk (NULL
 * is fine).  The session callback is not called for this close. */
void bk_zk_close(bk_zk *zk);

/* Closes the current handle (if any) and opens a new session with the
 * same options, bounded like bk_zk_open().  Used after BK_ZK_EXPIRED;
 * ephemerals and watches of the old session are not re-created (that is
 * the owner's job).  0 or -BK_EIO with err set; on failure the state is
 * BK_ZK_CLOSED and reopen may be tried again.  Owner thread. */
int bk_zk_reopen(bk_zk *zk, char *err, size_t errlen);

/* Current state, and the session id (0 when there is none).  Any thread. */
bk_zk_state bk_zk_get_state(bk_zk *zk);
int64_t bk_zk_session_id(bk_zk *zk);
/* The session's id and password, as ZooKeeper's clientid_t holds them.
 * For fault-injection tests: a test expires a session by opening a twin
 * session with these credentials and closing it (the C client's own
 * tests do the same).  0, or -BK_EIO when there is no session. */
int bk_zk_session_credentials(bk_zk *zk, int64_t *id, unsigned char passwd[16]);
/* The session timeout the server granted (ms); 0 before a session. */
int bk_zk_negotiated_timeout(bk_zk *zk);
/* The connect string as given (owned by zk). */
const char *bk_zk_connect_string(const bk_zk *zk);

/* ZooKeeper's code (ZOK, ZNONODE, ZBADVERSION ...) of the last helper
 * called by this thread, and its text. */
int bk_zk_last_error(void);
const char *bk_zk_error_text(int zrc);

/* --- synchronous helpers (any thread but ZooKeeper's own) --- */

/* Create flags. */
#define BK_ZK_EPHEMERAL  0x1 /* deleted when the session ends */
#define BK_ZK_SEQUENTIAL 0x2 /* ZooKeeper appends a 10-digit counter */
#define BK_ZK_PARENTS                                                          \
    0x4 /* create missing parents (persistent, no                              \
           data) first; not allowed in multi */

/* What ZooKeeper keeps about a znode. */
typedef struct bk_zk_stat {
    int64_t czxid, mzxid, ctime, mtime; /* times: ms since the epoch */
    int32_t version;                    /* data version, for conditional
                                           set/delete */
    int32_t cversion;                   /* children version */
    int64_t ephemeral_owner;            /* session id, 0 if persistent */
    int32_t data_length, num_children;
} bk_zk_stat;

/* Creates path with data[0..len) (data NULL: no data).  When out_path is
 * not NULL it receives the created path (with the sequence number for
 * BK_ZK_SEQUENTIAL), truncated to out_len.  ACL: open (Brook does not do
 * ZooKeeper authentication yet). */
int bk_zk_create(bk_zk *zk, const char *path, const void *data, size_t len,
                 int flags, char *out_path, size_t out_len);

/* Creates path and every missing ancestor (persistent, no data); a node
 * that already exists is fine.  0 or an error above. */
int bk_zk_mkdirs(bk_zk *zk, const char *path);

/* Reads a znode's data into out (replacing its contents; a znode with no
 * data gives len 0).  st may be NULL.  With watch != NULL a watch is set
 * (only when the node exists, as ZooKeeper does) and fires on change or
 * deletion. */
int bk_zk_get(bk_zk *zk, const char *path, bk_buf *out, bk_zk_stat *st,
              bk_zk_watch_fn watch, void *arg);

/* Sets the data if the node's version is `version` (-1: any version).
 * new_st may be NULL. */
int bk_zk_set(bk_zk *zk, const char *path, const void *data, size_t len,
              int32_t version, bk_zk_stat *new_st);

/* Deletes the node if its version is `version` (-1: any). */
int bk_zk_delete(bk_zk *zk, const char *path, int32_t version);

/* 0 when the node exists (st filled if not NULL), -BK_ENOENT when not.
 * A watch is set in both cases and fires on creation, change or
 * deletion. */
int bk_zk_exists(bk_zk *zk, const char *path, bk_zk_stat *st,
                 bk_zk_watch_fn watch, void *arg);

/* A list of strings owned by the caller (bk_zk_strings_free()). */
typedef struct bk_zk_strings {
    char **v;
    size_t n;
} bk_zk_strings;

void bk_zk_strings_free(bk_zk_strings *s);

/* The names (not paths) of the children of path, sorted (strcmp).  A
 * watch fires when a child is added or removed, or path is deleted. */
int bk_zk_children(bk_zk *zk, const char *path, bk_zk_strings *out,
                   bk_zk_watch_fn watch, void *arg);
/* The same, with path's own stat from the same read (st may be NULL):
 * its czxid tells one incarnation of path from the next. */
int bk_zk_children2(bk_zk *zk, const char *path, bk_zk_strings *out,
                    bk_zk_stat *st, bk_zk_watch_fn watch, void *arg);

/* Every descendant of path and path itself, as full paths, children
 * before their parent (the order in which they can be deleted).  Not
 * atomic: a concurrent writer can change the tree while it is read. */
int bk_zk_tree(bk_zk *zk, const char *path, bk_zk_strings *out);

/* --- multi: several operations applied atomically (zoo_multi) --- */
typedef enum bk_zk_op_type {
    BK_ZK_OP_CREATE = 1,
    BK_ZK_OP_SET,
    BK_ZK_OP_DELETE,
    BK_ZK_OP_CHECK, /* only asserts the version; changes nothing */
} bk_zk_op_type;

typedef struct bk_zk_op {
    bk_zk_op_type type;
    const char *path;
    const void *data; /* CREATE, SET; NULL: no data */
    size_t len;
    int flags;       /* CREATE: BK_ZK_EPHEMERAL | BK_ZK_SEQUENTIAL */
    int32_t version; /* SET, DELETE, CHECK: expected version, -1 any */
    char *out_path;  /* CREATE: optional, receives the created path */
    size_t out_len;
    int zrc; /* result: ZooKeeper's code for this op (ZOK, ZNONODE...;
                ZRUNTIMEINCONSISTENCY for ops after the failing one) */
} bk_zk_op;

static inline bk_zk_op bk_zk_op_create(const char *path, const void *data,
                                       size_t len, int flags)
{
    bk_zk_op op = {.type = BK_ZK_OP_CREATE,
                   .path = path,
                   .data = data,
                   .len = len,
                   .flags = flags,
                   .version = -1};
    return op;
}
static inline bk_zk_op bk_zk_op_set(const char *path, const void *data,
                                    size_t len, int32_t version)
{
    bk_zk_op op = {.type = BK_ZK_OP_SET,
                   .path = path,
                   .data = data,
                   .len = len,
                   .version = version};
    return op;
}
static inline bk_zk_op bk_zk_op_delete(const char *path, int32_t version)
{
    bk_zk_op op = {.type = BK_ZK_OP_DELETE, .path = path, .version = version};
    return op;
}
static inline bk_zk_op bk_zk_op_check(const char *path, int32_t version)
{
    bk_zk_op op = {.type = BK_ZK_OP_CHECK, .path = path, .version = version};
    return op;
}

/* Applies ops[0..n) all-or-nothing.  Returns 0, or the error of the
 * failing op (mapped as above) with *failed (may be NULL) set to its
 * index (-1 when the whole request failed, e.g. connection loss).  Each
 * op's zrc is filled.  Note ZooKeeper's request size limit (jute.maxbuffer,
 * 1 MiB by default): callers keep a multi well below it. */
int bk_zk_multi(bk_zk *zk, bk_zk_op *ops, int n, int *failed);

/* Pipelined multis: sends the nb independent multis ops[b][0..n[b]) at
 * once (zoo_amulti) and waits for every answer, so they cost about one
 * round trip instead of nb.  Each is atomic on its own and ZooKeeper
 * applies them in order, but one failing does not stop the others.
 * rcs[b] receives batch b's result as bk_zk_multi returns it and
 * failed[b] its failing op (-1 if none).  A batch that could not be sent
 * ends the sending (rcs[] of it and of the later ones: that error or
 * -BK_EIO).  Returns 0 once the sent batches are answered (see rcs), or
 * -BK_E* when nothing could be sent.  Not from ZooKeeper's threads. */
int bk_zk_multi_batches(bk_zk *zk, bk_zk_op *const *ops, const int *n, int nb,
                        int *rcs, int *failed);

/* Pipelined reads: asks for the data of paths[0..n) without waiting for
 * each answer (zoo_aget, at most BK_ZK_GET_WINDOW requests in flight), so
 * reading thousands of znodes costs a few round trips instead of one per
 * znode.  outs[i] receives path i's data (replacing its contents) and
 * rcs[i] its result as bk_zk_get() would return it (0, -BK_ENOENT,
 * -BK_EIO ...).  The reads are not one snapshot: each sees the znode as
 * it was when the server handled it.  Returns 0 once every request was
 * answered (see rcs), or -BK_ENOMEM / the send error when none could be
 * sent (rcs[] of unsent ones: that error).  No watches.  Not from
 * ZooKeeper's threads. */
#define BK_ZK_GET_WINDOW 1000
int bk_zk_get_many(bk_zk *zk, const char *const *paths, size_t n, bk_buf *outs,
                   int *rcs);
/* The same, with each znode's stat in sts[i] (zeroed when not read). */
int bk_zk_get_many_st(bk_zk *zk, const char *const *paths, size_t n,
                      bk_buf *outs, bk_zk_stat *sts, int *rcs);

/* Pipelined exists, as bk_zk_get_many: sts[i] receives path i's stat and
 * rcs[i] its result as bk_zk_exists() would return it (0, -BK_ENOENT,
 * -BK_EIO ...).  Returns 0 once every request was answered, or the send
 * error when none could be sent.  No watches.  Not from ZooKeeper's
 * threads. */
int bk_zk_exists_many(bk_zk *zk, const char *const *paths, size_t n,
                      bk_zk_stat *sts, int *rcs);

#endif
