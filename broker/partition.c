/*
 * partition.c -- the partition table and the log directories (see
 * partition.h).
 */
#define _XOPEN_SOURCE 700
#include "broker/partition.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/checkpoint.h"
#include "broker/dynconfig.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/logging.h"

#define MOD           "partitions"
#define RP_FILE       "recovery-point-offset-checkpoint"
#define LS_FILE       "log-start-offset-checkpoint"
#define HW_FILE       "replication-offset-checkpoint"
#define META_FILE     "meta.properties"
#define LOCK_FILE     ".lock"
#define DELETE_SUFFIX "-delete"
#define NBUCKETS_MIN  64

typedef struct logdir {
    char *path;
    int lock_fd;   /* -1 until locked */
    size_t nparts; /* partitions placed here */
} logdir;

struct bk_parts {
    logdir *dirs;
    size_t ndirs;
    bk_log_config log_cfg;
    int32_t broker_id;
    int min_isr;
    bk_parts_change_fn *on_change;
    void *on_change_arg;
    bk_part **buckets;
    size_t nbuckets;
    size_t n;
    bk_part *all; /* list of every partition */
};

/* ------------------------------- hashing ------------------------------- */

static size_t hash(const char *topic, int32_t p)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *s = (const unsigned char *)topic; *s; s++)
        h = (h ^ *s) * 1099511628211ull;
    h = (h ^ (uint32_t)p) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

static int grow(bk_parts *ps)
{
    size_t nb = ps->nbuckets * 2;
    bk_part **b = calloc(nb, sizeof *b);
    if (!b)
        return -BK_ENOMEM;
    for (bk_part *p = ps->all; p; p = p->next) {
        size_t i = hash(p->topic, p->index) & (nb - 1);
        p->hnext = b[i];
        b[i] = p;
    }
    free(ps->buckets);
    ps->buckets = b;
    ps->nbuckets = nb;
    return 0;
}

bk_part *bk_parts_find(const bk_parts *ps, const char *topic, int32_t p)
{
    size_t i = hash(topic, p) & (ps->nbuckets - 1);
    for (bk_part *x = ps->buckets[i]; x; x = x->hnext)
        if (x->index == p && strcmp(x->topic, topic) == 0)
            return x;
    return NULL;
}

bk_part *bk_parts_first(const bk_parts *ps)
{
    return ps->all;
}

size_t bk_parts_count(const bk_parts *ps)
{
    return ps->n;
}

const char *bk_parts_main_dir(const bk_parts *ps)
{
    return ps->dirs[0].path;
}

static void insert(bk_parts *ps, bk_part *p)
{
    if (ps->n + 1 > ps->nbuckets)
        (void)grow(ps); /* on failure chains just get longer */
    size_t i = hash(p->topic, p->index) & (ps->nbuckets - 1);
    p->hnext = ps->buckets[i];
    ps->buckets[i] = p;
    p->prev = NULL;
    p->next = ps->all;
    if (ps->all)
        ps->all->prev = p;
    ps->all = p;
    ps->n++;
    ps->dirs[p->dir].nparts++;
}

static void unlink_part(bk_parts *ps, bk_part *p)
{
    size_t i = hash(p->topic, p->index) & (ps->nbuckets - 1);
    for (bk_part **pp = &ps->buckets[i]; *pp; pp = &(*pp)->hnext) {
        if (*pp == p) {
            *pp = p->hnext;
            break;
        }
    }
    if (p->prev)
        p->prev->next = p->next;
    else
        ps->all = p->next;
    if (p->next)
        p->next->prev = p->prev;
    ps->n--;
    ps->dirs[p->dir].nparts--;
}

static void part_free(bk_part *p)
{
    assert(p->waiters == NULL);
    assert(p->fetcher == NULL && p->nproduces == 0);
    bk_log_close(p->log);
    free(p->topic);
    free(p->isr);
    free(p->replicas);
    free(p->followers);
    free(p);
}

/* ------------------------------- table ------------------------------- */

int bk_parts_new(const bk_parts_opts *o, bk_parts **out)
{
    *out = NULL;
    bk_parts *ps = calloc(1, sizeof *ps);
    if (!ps)
        return -BK_ENOMEM;
    ps->log_cfg = *o->log_cfg;
    ps->broker_id = o->broker_id;
    ps->min_isr = o->min_isr > 0 ? o->min_isr : 1;
    ps->on_change = o->on_change;
    ps->on_change_arg = o->on_change_arg;
    ps->nbuckets = NBUCKETS_MIN;
    ps->buckets = calloc(ps->nbuckets, sizeof *ps->buckets);
    ps->dirs = calloc(o->ndirs, sizeof *ps->dirs);
    if (!ps->buckets || !ps->dirs) {
        free(ps->buckets);
        free(ps->dirs);
        free(ps);
        return -BK_ENOMEM;
    }
    for (size_t i = 0; i < o->ndirs; i++) {
        ps->dirs[i].lock_fd = -1;
        ps->dirs[i].path = strdup(o->dirs[i]);
        ps->ndirs++;
        if (!ps->dirs[i].path) {
            bk_parts_free(ps);
            return -BK_ENOMEM;
        }
    }
    *out = ps;
    return 0;
}

void bk_parts_free(bk_parts *ps)
{
    if (!ps)
        return;
    bk_part *p = ps->all;
    while (p) {
        bk_part *next = p->next;
        part_free(p);
        p = next;
    }
    for (size_t i = 0; i < ps->ndirs; i++) {
        if (ps->dirs[i].lock_fd >= 0)
            close(ps->dirs[i].lock_fd);
        free(ps->dirs[i].path);
    }
    free(ps->dirs);
    free(ps->buckets);
    free(ps);
}

/* --------------------------- meta.properties --------------------------- */

/* Reads key's value from a meta.properties text into val; false when the
 * key is absent. */
static bool meta_get(const char *text, const char *key, char *val, size_t cap)
{
    size_t klen = strlen(key);
    for (const char *l = text; l && *l;
         l = strchr(l, '\n'), l = l ? l + 1 : l) {
        if (strncmp(l, key, klen) == 0 && l[klen] == '=') {
            const char *v = l + klen + 1;
            size_t n = strcspn(v, "\r\n");
            if (n >= cap)
                n = cap - 1;
            memcpy(val, v, n);
            val[n] = '\0';
            return true;
        }
    }
    return false;
}

static int meta_write(const char *dir, int32_t broker_id,
                      const char *cluster_id)
{
    char path[4096], text[512];
    snprintf(path, sizeof path, "%s/%s", dir, META_FILE);
    int n =
        snprintf(text, sizeof text,
                 "#\n# written by brookd; do not edit\n"
                 "version=0\nbroker.id=%d\n%s%s%s",
                 broker_id, cluster_id && cluster_id[0] ? "cluster.id=" : "",
                 cluster_id && cluster_id[0] ? cluster_id : "",
                 cluster_id && cluster_id[0] ? "\n" : "");
    return bk_file_write_atomic(path, text, (size_t)n);
}

int bk_parts_lock_dirs(bk_parts *ps)
{
    for (size_t i = 0; i < ps->ndirs; i++) {
        logdir *d = &ps->dirs[i];
        if (bk_mkdirs(d->path) != 0) {
            BK_ERROR(MOD, "cannot create log dir %s: %s", d->path,
                     strerror(errno));
            return -BK_EIO;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", d->path, LOCK_FILE);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            BK_ERROR(MOD, "cannot open %s: %s", path, strerror(errno));
            return -BK_EIO;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            BK_ERROR(MOD,
                     "log dir %s is in use by another process (%s is "
                     "locked)",
                     d->path, path);
            close(fd);
            return -BK_EEXIST;
        }
        d->lock_fd = fd;
        snprintf(path, sizeof path, "%s/%s", d->path, META_FILE);
        char *text = NULL;
        size_t len;
        int rc = bk_file_read_all(path, 64 * 1024, &text, &len);
        if (rc == -BK_ENOENT) {
            if (meta_write(d->path, ps->broker_id, NULL) != 0) {
                BK_ERROR(MOD, "cannot write %s: %s", path, strerror(errno));
                return -BK_EIO;
            }
            continue;
        }
        if (rc != 0) {
            BK_ERROR(MOD, "cannot read %s: %s", path, bk_strerror(rc));
            return -BK_EIO;
        }
        char v[64];
        if (meta_get(text, "broker.id", v, sizeof v) &&
            strtol(v, NULL, 10) != ps->broker_id) {
            /* Kafka's InconsistentBrokerIdException. */
            BK_ERROR(MOD,
                     "log dir %s belongs to broker.id %s, not %d (%s); "
                     "fix broker.id or log.dirs",
                     d->path, v, ps->broker_id, path);
            free(text);
            return -BK_ECONFIG;
        }
        free(text);
    }
    return 0;
}

int bk_parts_check_cluster(bk_parts *ps, const char *cluster_id)
{
    for (size_t i = 0; i < ps->ndirs; i++) {
        logdir *d = &ps->dirs[i];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", d->path, META_FILE);
        char *text = NULL;
        size_t len;
        char v[256];
        bool have = false;
        if (bk_file_read_all(path, 64 * 1024, &text, &len) == 0)
            have = meta_get(text, "cluster.id", v, sizeof v);
        free(text);
        if (have && strcmp(v, cluster_id) != 0) {
            /* Kafka's InconsistentClusterIdException: most likely a wrong
             * zookeeper.connect (chroot), and applying that cluster's
             * topics would delete this dir's logs. */
            BK_ERROR(MOD,
                     "log dir %s belongs to cluster %s but ZooKeeper (%s) "
                     "holds cluster %s; check zookeeper.connect",
                     d->path, v, "zookeeper.connect", cluster_id);
            return -BK_ECONFIG;
        }
        if (!have && meta_write(d->path, ps->broker_id, cluster_id) != 0) {
            BK_ERROR(MOD, "cannot write %s: %s", path, strerror(errno));
            return -BK_EIO;
        }
    }
    return 0;
}

/* ------------------------------ opening ------------------------------ */

static bool valid_topic(const char *t, size_t n)
{
    if (n == 0 || n > 249)
        return false;
    if ((n == 1 && t[0] == '.') || (n == 2 && t[0] == '.' && t[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* "<topic>-<p>": true, topic copied into t. */
static bool parse_dir_name(const char *name, char *t, size_t tcap, int32_t *p)
{
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || dash[1] == '\0')
        return false;
    long v = 0;
    for (const char *q = dash + 1; *q; q++) {
        if (*q < '0' || *q > '9' || v > 100000000)
            return false;
        v = v * 10 + (*q - '0');
    }
    size_t n = (size_t)(dash - name);
    if (!valid_topic(name, n) || n >= tcap)
        return false;
    memcpy(t, name, n);
    t[n] = '\0';
    *p = (int32_t)v;
    return true;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bk_part *part_new(const bk_parts *ps, const char *topic, int32_t index,
                         size_t dir, bk_log *log, int64_t hw)
{
    bk_part *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->topic = strdup(topic);
    if (!p->topic) {
        free(p);
        return NULL;
    }
    p->index = index;
    p->dir = dir;
    p->log = log;
    p->leader = -1;
    p->zk_version = -1;
    p->followers_epoch = -1;
    p->fetch_epoch = -1;
    p->follow_epoch = -1;
    /* From the high-watermark checkpoint (0 without one, as in Kafka), never
     * past the log end (starting at the log end would let consumers read
     * records that are not on the ISR) nor below the log start (Kafka's
     * clamp too).  A leader moves it up from here. */
    int64_t leo = bk_log_end_offset(log), start = bk_log_start_offset(log);
    p->hw = hw > leo ? leo : hw < start ? start : hw;
    p->cfg = ps->log_cfg;
    p->min_isr = ps->min_isr;
    return p;
}

int bk_parts_open_all(bk_parts *ps)
{
    int64_t t0 = bk_clock_mono_ms();
    size_t opened = 0, failed = 0;
    for (size_t di = 0; di < ps->ndirs; di++) {
        const char *dir = ps->dirs[di].path;
        char path[4096], err[512];
        bk_ckpt rp = BK_CKPT_INIT, ls = BK_CKPT_INIT, hw = BK_CKPT_INIT;
        snprintf(path, sizeof path, "%s/%s", dir, RP_FILE);
        int rc = bk_ckpt_read(path, &rp, err, sizeof err);
        if (rc != 0 && rc != -BK_ENOENT)
            BK_WARN(MOD, "%s: %s; verifying every log of %s", path, err, dir);
        snprintf(path, sizeof path, "%s/%s", dir, LS_FILE);
        rc = bk_ckpt_read(path, &ls, err, sizeof err);
        if (rc != 0 && rc != -BK_ENOENT)
            BK_WARN(MOD, "%s: %s", path, err);
        snprintf(path, sizeof path, "%s/%s", dir, HW_FILE);
        rc = bk_ckpt_read(path, &hw, err, sizeof err);
        if (rc != 0 && rc != -BK_ENOENT)
            BK_WARN(MOD, "%s: %s; high watermarks start at 0", path, err);
        DIR *d = opendir(dir);
        if (!d) {
            BK_ERROR(MOD, "cannot read log dir %s: %s", dir, strerror(errno));
            bk_ckpt_free(&rp);
            bk_ckpt_free(&ls);
            bk_ckpt_free(&hw);
            return -BK_EIO;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
                continue;
            size_t nl = strlen(e->d_name);
            size_t sl = strlen(DELETE_SUFFIX);
            if (nl > sl && strcmp(e->d_name + nl - sl, DELETE_SUFFIX) == 0) {
                BK_INFO(MOD, "removing %s (deleted before a restart)", path);
                rm_rf(path);
                continue;
            }
            char topic[256];
            int32_t pi;
            if (!parse_dir_name(e->d_name, topic, sizeof topic, &pi)) {
                BK_WARN(MOD, "ignoring %s: not a <topic>-<partition> dir",
                        path);
                continue;
            }
            if (bk_parts_find(ps, topic, pi)) {
                BK_ERROR(MOD,
                         "%s: %s-%d is in two log dirs; ignoring this "
                         "copy",
                         path, topic, pi);
                continue;
            }
            int64_t rpv = 0, lsv = 0, hwv = 0;
            (void)bk_ckpt_get(&rp, topic, pi, &rpv);
            (void)bk_ckpt_get(&ls, topic, pi, &lsv);
            (void)bk_ckpt_get(&hw, topic, pi, &hwv);
            bk_log *log = NULL;
            rc = bk_log_open(dir, topic, pi, &ps->log_cfg, rpv, lsv, &log);
            if (rc != 0) {
                BK_ERROR(MOD, "cannot open the log %s: %s", path,
                         bk_strerror(rc));
                failed++;
                continue;
            }
            bk_part *p = part_new(ps, topic, pi, di, log, hwv);
            if (!p) {
                bk_log_close(log);
                closedir(d);
                bk_ckpt_free(&rp);
                bk_ckpt_free(&ls);
                bk_ckpt_free(&hw);
                return -BK_ENOMEM;
            }
            insert(ps, p);
            opened++;
        }
        closedir(d);
        bk_ckpt_free(&rp);
        bk_ckpt_free(&ls);
        bk_ckpt_free(&hw);
    }
    BK_INFO(MOD, "opened %zu partition logs in %lld ms%s", opened,
            (long long)(bk_clock_mono_ms() - t0),
            failed ? " (some failed, see above)" : "");
    return 0;
}

/* ------------------------------- state ------------------------------- */

static size_t pick_dir(const bk_parts *ps)
{
    size_t best = 0;
    for (size_t i = 1; i < ps->ndirs; i++)
        if (ps->dirs[i].nparts < ps->dirs[best].nparts)
            best = i;
    return best;
}

static bk_part *create_part(bk_parts *ps, const char *topic, int32_t index,
                            const bk_log_config *cfg)
{
    size_t di = pick_dir(ps);
    bk_log *log = NULL;
    int rc = bk_log_open(ps->dirs[di].path, topic, index, cfg, 0, 0, &log);
    if (rc != 0) {
        BK_ERROR(MOD, "cannot create the log of %s-%d in %s: %s", topic, index,
                 ps->dirs[di].path, bk_strerror(rc));
        return NULL;
    }
    bk_part *p = part_new(ps, topic, index, di, log, 0);
    if (!p) {
        bk_log_close(log);
        return NULL;
    }
    p->cfg = *cfg;
    insert(ps, p);
    BK_INFO(MOD, "created log %s-%d in %s", topic, index, ps->dirs[di].path);
    return p;
}

static void delete_part(bk_parts *ps, bk_part *p)
{
    if (ps->on_change)
        ps->on_change(ps->on_change_arg, p, true);
    unlink_part(ps, p);
    char dir[4096], gone[4200];
    snprintf(dir, sizeof dir, "%s", bk_log_dir(p->log));
    bk_log_close(p->log);
    p->log = NULL;
    /* Rename first: atomic, so a crash leaves either the live log or a
     * *-delete dir that the next start removes. */
    snprintf(gone, sizeof gone, "%s.%lld%s", dir, (long long)bk_clock_wall_ms(),
             DELETE_SUFFIX);
    if (rename(dir, gone) == 0) {
        (void)bk_fsync_parent(gone);
        rm_rf(gone);
    } else {
        BK_ERROR(MOD, "cannot rename %s for deletion: %s", dir,
                 strerror(errno));
    }
    BK_INFO(MOD, "deleted log %s-%d", p->topic, p->index);
    part_free(p);
}

static bool contains(const int32_t *v, size_t n, int32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

/* Copies the state of mp into p; true when anything changed. */
static bool set_state(bk_parts *ps, bk_part *p, const bk_md_part *mp,
                      bool deleting)
{
    bool assigned = mp && contains(mp->replicas, mp->nreplicas, ps->broker_id);
    int32_t leader = mp && mp->has_state ? mp->leader : -1;
    int32_t epoch = mp && mp->has_state ? mp->leader_epoch : 0;
    bool is_leader = assigned && !deleting && leader == ps->broker_id;
    size_t nisr = mp && mp->has_state ? mp->nisr : 0;
    size_t nrep = mp ? mp->nreplicas : 0;
    int32_t zkv = mp && mp->has_state ? mp->zk_version : -1;
    bool changed =
        assigned != p->assigned || is_leader != p->is_leader ||
        leader != p->leader || epoch != p->leader_epoch || nisr != p->nisr ||
        (nisr && memcmp(p->isr, mp->isr, nisr * sizeof *p->isr)) ||
        nrep != p->nreplicas ||
        (nrep && memcmp(p->replicas, mp->replicas, nrep * sizeof(int32_t)));
    p->zk_version = zkv;
    p->controller_epoch = mp && mp->has_state ? mp->controller_epoch : -1;
    if (!changed)
        return false;
    int32_t *isr = malloc((nisr ? nisr : 1) * sizeof *isr);
    int32_t *reps = malloc((nrep ? nrep : 1) * sizeof *reps);
    if (!isr || !reps) {
        free(isr);
        free(reps);
        return false; /* keep the old state; the next update retries */
    }
    if (nisr)
        memcpy(isr, mp->isr, nisr * sizeof *isr);
    if (nrep)
        memcpy(reps, mp->replicas, nrep * sizeof *reps);
    free(p->isr);
    p->isr = isr;
    p->nisr = nisr;
    free(p->replicas);
    p->replicas = reps;
    p->nreplicas = nrep;
    if (is_leader != p->is_leader)
        BK_INFO(MOD, "%s-%d: %s (leader epoch %d)", p->topic, p->index,
                is_leader ? "now the leader" : "no longer the leader", epoch);
    p->assigned = assigned;
    p->is_leader = is_leader;
    p->leader = leader;
    p->leader_epoch = epoch;
    /* The high watermark is kept across state changes (a new leader starts
     * from what it knew as a follower, as in Kafka); only a truncation may
     * take it down. */
    if (p->hw > bk_log_end_offset(p->log))
        p->hw = bk_log_end_offset(p->log);
    return true;
}

static bool same_config(const bk_log_config *a, const bk_log_config *b)
{
    return a->segment_bytes == b->segment_bytes &&
           a->segment_ms == b->segment_ms &&
           a->retention_bytes == b->retention_bytes &&
           a->retention_ms == b->retention_ms &&
           a->index_interval_bytes == b->index_interval_bytes &&
           a->max_message_bytes == b->max_message_bytes &&
           a->max_uncompressed_bytes == b->max_uncompressed_bytes &&
           a->flush_messages == b->flush_messages && a->flush_ms == b->flush_ms;
}

/* The broker's log settings with the dynamic configs of t applied: its
 * overrides, this broker's and the cluster's dynamic defaults
 * (broker/dynconfig.h; the picture holds only values checked when read). */
static void topic_config(const bk_parts *ps, const bk_md *md,
                         const bk_md_topic *t, bk_log_config *c, int *min_isr)
{
    bk_dyn_log_config(md, t, &ps->log_cfg, ps->min_isr, c, min_isr);
}

int bk_parts_apply(bk_parts *ps, const bk_md *md)
{
    int failures = 0;
    for (size_t ti = 0; ti < md->ntopics; ti++) {
        const bk_md_topic *t = &md->topics[ti];
        bk_log_config cfg;
        int min_isr;
        bool computed = false;
        for (size_t k = 0; k < t->nparts; k++) {
            const bk_md_part *mp = &t->parts[k];
            bk_part *p = bk_parts_find(ps, t->name, mp->index);
            bool mine = contains(mp->replicas, mp->nreplicas, ps->broker_id);
            if (!p && !(mine && !t->deleting))
                continue;
            if (!computed) {
                topic_config(ps, md, t, &cfg, &min_isr);
                computed = true;
            }
            if (!p) {
                p = create_part(ps, t->name, mp->index, &cfg);
                if (!p) {
                    failures++;
                    continue;
                }
            }
            p->min_isr = min_isr;
            if (!same_config(&p->cfg, &cfg)) {
                if (bk_log_set_config(p->log, &cfg) == 0) {
                    p->cfg = cfg;
                    BK_INFO(MOD, "%s-%d: topic config updated", p->topic,
                            p->index);
                }
            }
            if (set_state(ps, p, mp, t->deleting) && ps->on_change)
                ps->on_change(ps->on_change_arg, p, false);
        }
    }
    if (!md->complete)
        return failures;
    bk_part *p = ps->all;
    while (p) {
        bk_part *next = p->next;
        /* Gone, or reassigned away from this broker (Kafka's StopReplica
         * with deletePartition): the log goes. */
        const bk_md_part *mp = bk_md_part_find(md, p->topic, p->index);
        if (!mp || !contains(mp->replicas, mp->nreplicas, ps->broker_id))
            delete_part(ps, p);
        p = next;
    }
    return failures;
}

/* --------------------------- checkpoints etc --------------------------- */

int bk_parts_checkpoint(bk_parts *ps)
{
    int result = 0;
    for (size_t di = 0; di < ps->ndirs; di++) {
        bk_ckpt rp = BK_CKPT_INIT, ls = BK_CKPT_INIT;
        int rc = 0;
        for (bk_part *p = ps->all; p && rc == 0; p = p->next) {
            if (p->dir != di)
                continue;
            rc = bk_ckpt_set(&rp, p->topic, p->index,
                             bk_log_recovery_point(p->log));
            if (rc == 0)
                rc = bk_ckpt_set(&ls, p->topic, p->index,
                                 bk_log_start_offset(p->log));
        }
        char path[4096];
        if (rc == 0) {
            snprintf(path, sizeof path, "%s/%s", ps->dirs[di].path, RP_FILE);
            rc = bk_ckpt_write(path, &rp);
        }
        if (rc == 0) {
            snprintf(path, sizeof path, "%s/%s", ps->dirs[di].path, LS_FILE);
            rc = bk_ckpt_write(path, &ls);
        }
        if (rc != 0) {
            BK_ERROR(MOD, "cannot write the checkpoints of %s: %s",
                     ps->dirs[di].path, bk_strerror(rc));
            result = -BK_EIO;
        }
        bk_ckpt_free(&rp);
        bk_ckpt_free(&ls);
    }
    return result;
}

int bk_parts_checkpoint_hw(bk_parts *ps)
{
    int result = 0;
    for (size_t di = 0; di < ps->ndirs; di++) {
        bk_ckpt hw = BK_CKPT_INIT;
        int rc = 0;
        for (bk_part *p = ps->all; p && rc == 0; p = p->next)
            if (p->dir == di)
                rc = bk_ckpt_set(&hw, p->topic, p->index, p->hw);
        char path[4096];
        if (rc == 0) {
            snprintf(path, sizeof path, "%s/%s", ps->dirs[di].path, HW_FILE);
            rc = bk_ckpt_write(path, &hw);
        }
        if (rc != 0) {
            BK_ERROR(MOD,
                     "cannot write the high-watermark checkpoint of %s: %s",
                     ps->dirs[di].path, bk_strerror(rc));
            result = -BK_EIO;
        }
        bk_ckpt_free(&hw);
    }
    return result;
}

int bk_parts_flush_all(bk_parts *ps)
{
    int result = 0;
    for (bk_part *p = ps->all; p; p = p->next) {
        int rc = bk_log_flush(p->log);
        if (rc != 0) {
            BK_ERROR(MOD, "cannot flush %s-%d: %s", p->topic, p->index,
                     bk_strerror(rc));
            result = -BK_EIO;
        }
    }
    return result;
}

void bk_parts_retain(bk_parts *ps, int64_t now_ms)
{
    for (bk_part *p = ps->all; p; p = p->next) {
        int deleted = 0;
        int rc = bk_log_retain(p->log, now_ms, &deleted);
        if (rc != 0)
            BK_ERROR(MOD, "retention of %s-%d failed: %s", p->topic, p->index,
                     bk_strerror(rc));
        else if (deleted > 0)
            BK_INFO(MOD,
                    "%s-%d: retention deleted %d segments, log start "
                    "now %lld",
                    p->topic, p->index, deleted,
                    (long long)bk_log_start_offset(p->log));
    }
}
