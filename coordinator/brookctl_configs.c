/*
 * brookctl_configs.c -- `brookctl configs describe` and `brookctl configs
 * alter`: dynamic configuration in ZooKeeper, as kafka-configs.sh
 * --zookeeper does it (same entity options, same --add-config syntax,
 * same znodes and notifications, the same confirmation lines).
 *
 * Entities (coordinator/zkdata.h, "dynamic configs"):
 *   --topic T | --entity-type topics --entity-name T    /config/topics/T
 *   --entity-type brokers --entity-default         /config/brokers/<default>
 *   --entity-type brokers --entity-name ID         /config/brokers/ID
 *
 * Everything the command line says is checked before the connection is
 * made (bk_ctl_configs_check), and again, with what ZooKeeper holds, by
 * bk_zkd_config_alter before it writes: a refused alteration writes
 * nothing.  The write itself (config + change notification in one
 * zoo_multi, conditional on the version read) is zkdata's, so brokers
 * and tests use the same code.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "coordinator/brookctl.h"
#include "coordinator/topic.h"
#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"
#include "coordinator/zkdata.h"

#define usage     bk_ctl_usage
#define fail      bk_ctl_fail
#define zk_failed bk_ctl_zk_failed

const char *const bk_ctl_configs_describe_help =
    "usage: brookctl configs describe --topic T [--all]\n"
    "       brookctl configs describe --entity-type topics [--entity-name T]\n"
    "                                 [--all]\n"
    "       brookctl configs describe --entity-type brokers\n"
    "                                 [--entity-default | --entity-name ID]\n"
    "                                 [--all]\n"
    "\n"
    "Prints the dynamic configs stored in ZooKeeper, as kafka-configs.sh\n"
    "--describe does, one line per key, sorted (only the header when\n"
    "nothing is set):\n"
    "  Dynamic configs for topic T are:\n"
    "    retention.ms=3600000\n"
    "\n"
    "  --topic T, --entity-type topics --entity-name T\n"
    "        topic T's overrides (/config/topics/T); --entity-type topics\n"
    "        alone: every topic that has overrides\n"
    "  --entity-type brokers --entity-default\n"
    "        the cluster-wide broker defaults (/config/brokers/<default>):\n"
    "        \"Default configs for brokers in the cluster are:\"\n"
    "  --entity-type brokers --entity-name ID\n"
    "        broker ID's own overrides (/config/brokers/ID); --entity-type\n"
    "        brokers alone: the defaults, then every broker with overrides\n"
    "  --all\n"
    "        for one entity: every dynamic key, with the value a broker\n"
    "        takes from ZooKeeper and where it comes from; for a topic:\n"
    "          retention.ms=3600000 (topic)\n"
    "          segment.bytes=1048576 (cluster default; broker 2: 2097152)\n"
    "          flush.ms (broker default)\n"
    "        A topic's value wins over a broker's own (\"broker 2: v\":\n"
    "        broker 2 uses v), which wins over the cluster default.\n"
    "        \"(broker default)\" means set nowhere in ZooKeeper: each\n"
    "        broker uses its broker.properties value or the built-in\n"
    "        default.  brookctl cannot see broker.properties, so no value\n"
    "        is shown for those, and a static value there loses to every\n"
    "        value shown here.\n";

const char *const bk_ctl_configs_alter_help =
    "usage: brookctl configs alter --topic T [--add-config k=v[,k=v...]]\n"
    "                              [--delete-config k[,k...]]\n"
    "       brookctl configs alter --entity-type topics --entity-name T ...\n"
    "       brookctl configs alter --entity-type brokers\n"
    "                              (--entity-default | --entity-name ID) ...\n"
    "\n"
    "Changes dynamic configs in ZooKeeper, as kafka-configs.sh --alter\n"
    "does; every broker applies the change without a restart.  Writes the\n"
    "entity's znode ({\"version\":1,\"config\":{\"k\":\"v\",...}}) and a\n"
    "/config/changes/config_change_<seq> notification in one transaction,\n"
    "conditional on the version it read (a concurrent change of another\n"
    "key is kept, not overwritten), then prints one of\n"
    "  Completed updating config for topic T.\n"
    "  Completed updating default config for brokers in the cluster.\n"
    "  Completed updating config for broker ID.\n"
    "\n"
    "  --add-config k=v[,k=v...]\n"
    "        set keys; a value holding commas goes in square brackets:\n"
    "        cleanup.policy=[delete,delete]\n"
    "  --delete-config k[,k...]\n"
    "        remove keys (each must be set)\n"
    "\n"
    "A topic (which must exist) takes Kafka's topic keys: retention.ms,\n"
    "retention.bytes, segment.bytes, segment.ms, min.insync.replicas,\n"
    "unclean.leader.election.enable, flush.messages, flush.ms,\n"
    "max.message.bytes, cleanup.policy ...  The broker entities take the\n"
    "broker-level names of the dynamic ones: log.retention.ms,\n"
    "log.retention.bytes, log.segment.bytes, log.roll.ms,\n"
    "min.insync.replicas, unclean.leader.election.enable,\n"
    "log.flush.interval.messages, log.flush.interval.ms,\n"
    "message.max.bytes.  A topic's value wins over a broker's own, which\n"
    "wins over the cluster default, which wins over broker.properties.\n"
    "\n"
    "Everything is checked before anything is written: an unknown key, a\n"
    "bad value, a key both added and deleted, or deleting a key that is\n"
    "not set fails and names the key (exit 1; 2 for a malformed command\n"
    "line).\n";

/* ----------------------------- the entity ----------------------------- */

/* What the entity options name.  name NULL: every entity of the type. */
typedef struct entity {
    const char *type; /* BK_ZKC_ENTITY_TOPICS or BK_ZKC_ENTITY_BROKERS */
    const char *name; /* a topic, "<default>", a broker id, or NULL */
} entity;

/* -1 to go on, else an exit status. */
static int get_entity(const bk_ctl_args *a, bool alter, entity *e)
{
    e->type = NULL;
    e->name = NULL;
    const char *cmd = alter ? "alter" : "describe";
    const char *t = a->entity_type;
    if (t && strcmp(t, BK_ZKC_ENTITY_TOPICS) != 0 &&
        strcmp(t, BK_ZKC_ENTITY_BROKERS) != 0)
        return usage("--entity-type '%s': Brook has dynamic configs for "
                     "'topics' and 'brokers'",
                     t);
    bool dflt = a->given & OPT_ENTITY_DEFAULT;
    if (a->topic) {
        if (t && strcmp(t, BK_ZKC_ENTITY_TOPICS) != 0)
            return usage("--topic goes with --entity-type topics, not %s", t);
        if (a->entity_name)
            return usage("give --topic or --entity-name, not both");
        if (dflt)
            return usage("--entity-default is for --entity-type brokers");
        e->type = BK_ZKC_ENTITY_TOPICS;
        e->name = a->topic;
    } else if (!t) {
        if (a->entity_name || dflt)
            return usage("--entity-name and --entity-default need "
                         "--entity-type");
        return usage("configs %s needs --topic or --entity-type", cmd);
    } else {
        e->type = t;
        if (dflt && strcmp(t, BK_ZKC_ENTITY_BROKERS) != 0)
            return usage("--entity-default is for --entity-type brokers "
                         "(a topic has no default entity)");
        if (dflt && a->entity_name)
            return usage("give --entity-name or --entity-default, not both");
        e->name = dflt ? BK_ZKC_ENTITY_DEFAULT : a->entity_name;
    }
    if (!e->name) {
        if (alter)
            return usage("configs alter needs one entity: --topic, "
                         "--entity-name or --entity-default");
        if (a->given & OPT_ALL)
            return usage("--all needs one entity: --topic, --entity-name "
                         "or --entity-default");
        return -1;
    }
    char err[512];
    if (bk_zkd_entity_check(e->type, e->name, err, sizeof err) != 0) {
        /* a bad topic name is refused like topics create refuses it */
        if (strcmp(e->type, BK_ZKC_ENTITY_TOPICS) == 0)
            return fail("%s", err);
        return usage("%s", err);
    }
    return -1;
}

/* ------------------- --add-config, --delete-config ------------------- */

typedef struct alteration {
    bk_zkc_kv *adds;
    size_t nadds;
    char **deletes;
    size_t ndeletes;
} alteration;

static void alteration_free(alteration *al)
{
    for (size_t i = 0; i < al->nadds; i++) {
        free(al->adds[i].key);
        free(al->adds[i].value);
    }
    for (size_t i = 0; i < al->ndeletes; i++)
        free(al->deletes[i]);
    free(al->adds);
    free(al->deletes);
    memset(al, 0, sizeof *al);
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* A malloc'd copy of [s, s+n) without surrounding blanks. */
static char *trimmed(const char *s, size_t n)
{
    while (n && blank(*s)) {
        s++;
        n--;
    }
    while (n && blank(s[n - 1]))
        n--;
    return strndup(s, n);
}

/* Kafka's --add-config syntax: k=v pairs separated by commas; a value
 * holding commas is written in square brackets (k=[a,b]), which are
 * dropped; no '=' inside a value; blanks around keys and values are
 * dropped.  -1 to go on, else an exit status. */
static int parse_adds(const char *s, alteration *al)
{
    static const char *const format =
        "--add-config wants key=value[,key=value...] (a value with commas "
        "in square brackets: key=[a,b]), got '%s'";
    const char *p = s;
    for (;;) {
        const char *q = p;
        bool in = false;
        for (; *q && (in || *q != ','); q++) {
            if (*q == '[') {
                if (in)
                    return usage("--add-config '%s': '[' inside brackets", s);
                in = true;
            } else if (*q == ']') {
                if (!in)
                    return usage("--add-config '%s': ']' without '['", s);
                in = false;
            }
        }
        if (in)
            return usage("--add-config '%s': '[' without ']'", s);
        const char *eq = memchr(p, '=', (size_t)(q - p));
        if (!eq || memchr(eq + 1, '=', (size_t)(q - eq - 1)))
            return usage(format, s);
        char *key = trimmed(p, (size_t)(eq - p));
        char *value = trimmed(eq + 1, (size_t)(q - eq - 1));
        if (!key || !value) {
            free(key);
            free(value);
            return fail("out of memory");
        }
        size_t vl = strlen(value);
        bool bad = key[0] == '\0';
        if (!bad && vl > 0 && value[0] == '[') {
            /* the whole value bracketed: drop the brackets */
            if (value[vl - 1] != ']')
                bad = true;
            else {
                memmove(value, value + 1, vl - 2);
                value[vl - 2] = '\0';
            }
        } else if (strpbrk(value, "[]")) {
            bad = true;
        }
        bk_zkc_kv *nv =
            bad ? NULL : realloc(al->adds, (al->nadds + 1) * sizeof *nv);
        if (!nv) {
            free(key);
            free(value);
            return bad ? usage(format, s) : fail("out of memory");
        }
        al->adds = nv;
        al->adds[al->nadds].key = key;
        al->adds[al->nadds].value = value;
        al->nadds++;
        if (!*q)
            return -1;
        p = q + 1;
    }
}

/* "k[,k...]".  -1 to go on, else an exit status. */
static int parse_deletes(const char *s, alteration *al)
{
    const char *p = s;
    for (;;) {
        const char *q = strchr(p, ',');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        char *key = trimmed(p, n);
        if (!key)
            return fail("out of memory");
        char **nv = key[0]
                        ? realloc(al->deletes, (al->ndeletes + 1) * sizeof *nv)
                        : NULL;
        if (!nv) {
            bool empty = key[0] == '\0';
            free(key);
            return empty ? usage("--delete-config wants key[,key...], got "
                                 "'%s'",
                                 s)
                         : fail("out of memory");
        }
        al->deletes = nv;
        al->deletes[al->ndeletes++] = key;
        if (!q)
            return -1;
        p = q + 1;
    }
}

/* Parses --add-config and --delete-config and checks them for the
 * entity (no I/O).  -1 to go on (al filled), else an exit status. */
static int get_alteration(const bk_ctl_args *a, const entity *e, alteration *al)
{
    memset(al, 0, sizeof *al);
    if (!a->add_config && !a->delete_config)
        return usage("configs alter needs --add-config or --delete-config");
    int st = -1;
    if (a->add_config)
        st = parse_adds(a->add_config, al);
    if (st < 0 && a->delete_config)
        st = parse_deletes(a->delete_config, al);
    if (st >= 0)
        return st;
    /* a key named twice on the command line is a usage error; an unknown
     * key or a bad value is refused (exit 1), as topics create does */
    for (size_t i = 0; i < al->nadds; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(al->adds[i].key, al->adds[j].key) == 0)
                return usage("--add-config sets %s twice", al->adds[i].key);
    for (size_t i = 0; i < al->ndeletes; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(al->deletes[i], al->deletes[j]) == 0)
                return usage("--delete-config names %s twice", al->deletes[i]);
        for (size_t j = 0; j < al->nadds; j++)
            if (strcmp(al->deletes[i], al->adds[j].key) == 0)
                return usage("%s is both in --add-config and "
                             "--delete-config",
                             al->deletes[i]);
    }
    char err[512];
    int rc = bk_zkd_config_check(e->type, e->name, al->adds, al->nadds,
                                 (const char *const *)al->deletes, al->ndeletes,
                                 NULL, err, sizeof err);
    if (rc == -BK_ENOMEM)
        return fail("out of memory");
    if (rc)
        return fail("%s; nothing was written", err);
    return -1;
}

int bk_ctl_configs_check(const bk_ctl_args *a, bool alter)
{
    entity e;
    int st = get_entity(a, alter, &e);
    if (st >= 0 || !alter)
        return st;
    alteration al;
    st = get_alteration(a, &e, &al);
    alteration_free(&al);
    return st;
}

/* ------------------------------- alter ------------------------------- */

int bk_ctl_configs_alter(bk_zk *zk, const bk_ctl_args *a)
{
    entity e;
    int st = get_entity(a, true, &e);
    if (st >= 0)
        return st;
    alteration al;
    if ((st = get_alteration(a, &e, &al)) >= 0) {
        alteration_free(&al);
        return st;
    }
    char err[1024] = "";
    int rc = bk_zkd_config_alter(zk, e.type, e.name, al.adds, al.nadds,
                                 (const char *const *)al.deletes, al.ndeletes,
                                 err, sizeof err);
    alteration_free(&al);
    switch (rc) {
    case 0:
        break;
    case -BK_EINVAL:
    case -BK_ENOENT:
    case -BK_ERANGE:
        return fail("%s", err);
    default:
        return zk_failed(zk, rc, err[0] ? err : "cannot alter the config");
    }
    if (strcmp(e.type, BK_ZKC_ENTITY_TOPICS) == 0)
        printf("Completed updating config for topic %s.\n", e.name);
    else if (strcmp(e.name, BK_ZKC_ENTITY_DEFAULT) == 0)
        printf("Completed updating default config for brokers in the "
               "cluster.\n");
    else
        printf("Completed updating config for broker %s.\n", e.name);
    return BK_CTL_OK;
}

/* ------------------------------ describe ------------------------------ */

/* Reads one entity's config; prints the error and returns an exit
 * status when it cannot, else -1. */
static int read_entity(bk_zk *zk, const char *type, const char *name,
                       bk_zkc_config *cfg)
{
    int rc = bk_zkd_entity_config_read(zk, type, name, cfg, NULL);
    if (rc == 0)
        return -1;
    if (rc == -BK_ECORRUPT)
        return fail("/config/%s/%s does not hold a valid config (see the "
                    "warning above)",
                    type, name);
    return zk_failed(zk, rc, "cannot read the config");
}

/* kafka-configs.sh's headers; `all` for --all. */
static void print_header_all(const char *type, const char *name, bool all)
{
    const char *what = all ? "All" : "Dynamic";
    if (strcmp(type, BK_ZKC_ENTITY_TOPICS) == 0)
        printf("%s configs for topic %s are:\n", what, name);
    else if (strcmp(name, BK_ZKC_ENTITY_DEFAULT) == 0)
        printf("%s configs for brokers in the cluster are:\n",
               all ? "All default" : "Default");
    else
        printf("%s configs for broker %s are:\n", what, name);
}

static void print_header(const char *type, const char *name)
{
    print_header_all(type, name, false);
}

static void print_config(const bk_zkc_config *cfg)
{
    /* decode sorts by key */
    for (size_t i = 0; i < cfg->n; i++)
        printf("  %s=%s\n", cfg->kv[i].key, cfg->kv[i].value);
}

/* Every broker that has its own entity (/config/brokers/<id>), sorted
 * by id, with its config. */
typedef struct broker_cfgs {
    size_t n;
    int32_t *ids;
    bk_zkc_config *cfgs;
} broker_cfgs;

static void broker_cfgs_free(broker_cfgs *b)
{
    for (size_t i = 0; i < b->n; i++)
        bk_zkc_config_free(&b->cfgs[i]);
    free(b->ids);
    free(b->cfgs);
    memset(b, 0, sizeof *b);
}

static int cmp_i32(const void *x, const void *y)
{
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

/* -1 on success, else an exit status. */
static int read_broker_cfgs(bk_zk *zk, broker_cfgs *out)
{
    memset(out, 0, sizeof *out);
    bk_zk_strings kids;
    int rc = bk_zk_children(zk, BK_ZKC_CONFIG_BROKERS, &kids, NULL, NULL);
    if (rc == -BK_ENOENT)
        return -1;
    if (rc)
        return zk_failed(zk, rc, "cannot list " BK_ZKC_CONFIG_BROKERS);
    int st = -1;
    size_t n = 0;
    out->ids = calloc(kids.n ? kids.n : 1, sizeof *out->ids);
    out->cfgs = calloc(kids.n ? kids.n : 1, sizeof *out->cfgs);
    if (!out->ids || !out->cfgs)
        st = fail("out of memory");
    for (size_t i = 0; st < 0 && i < kids.n; i++)
        if (bk_zkc_parse_id(kids.v[i], &out->ids[n]))
            n++;
    bk_zk_strings_free(&kids);
    if (n)
        qsort(out->ids, n, sizeof *out->ids, cmp_i32);
    for (size_t i = 0; st < 0 && i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "%" PRId32, out->ids[i]);
        st = read_entity(zk, BK_ZKC_ENTITY_BROKERS, name, &out->cfgs[i]);
        out->n = i + 1;
    }
    if (st >= 0)
        broker_cfgs_free(out);
    return st;
}

/* ", broker 2: v, broker 3: w" for the brokers that set bkey (into out). */
static void per_broker_note(const broker_cfgs *b, const char *bkey, char *out,
                            size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < b->n && o < outlen; i++) {
        const char *v = bk_zkc_config_get(&b->cfgs[i], bkey);
        if (!v)
            continue;
        int k = snprintf(out + o, outlen - o, "%sbroker %" PRId32 ": %s",
                         o ? ", " : "; ", b->ids[i], v);
        if (k < 0)
            break;
        o += (size_t)k;
    }
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* --all for a topic: the dynamic keys and every key the topic sets. */
static int describe_topic_all(bk_zk *zk, const char *topic,
                              const bk_zkc_config *tcfg)
{
    bk_zkc_config dflt;
    int st =
        read_entity(zk, BK_ZKC_ENTITY_BROKERS, BK_ZKC_ENTITY_DEFAULT, &dflt);
    if (st >= 0)
        return st;
    broker_cfgs bc;
    if ((st = read_broker_cfgs(zk, &bc)) >= 0) {
        bk_zkc_config_free(&dflt);
        return st;
    }
    size_t nd;
    const bk_dyn_cfg_def *dd = bk_dyn_cfg_defs(&nd);
    const char **keys = calloc(nd + tcfg->n + 1, sizeof *keys);
    size_t nk = 0;
    if (!keys) {
        st = fail("out of memory");
        goto out;
    }
    for (size_t i = 0; i < nd; i++)
        keys[nk++] = dd[i].topic_key;
    for (size_t i = 0; i < tcfg->n; i++)
        if (!bk_dyn_cfg_broker_key(tcfg->kv[i].key))
            keys[nk++] = tcfg->kv[i].key;
    qsort(keys, nk, sizeof *keys, cmp_str);
    print_header_all(BK_ZKC_ENTITY_TOPICS, topic, true);
    for (size_t i = 0; i < nk; i++) {
        const char *k = keys[i];
        const char *v = bk_zkc_config_get(tcfg, k);
        if (v) {
            printf("  %s=%s (topic)\n", k, v);
            continue;
        }
        /* not set on the topic: a dynamic key (the others are all set) */
        const char *bkey = bk_dyn_cfg_broker_key(k);
        char note[1024];
        per_broker_note(&bc, bkey, note, sizeof note);
        v = bk_zkc_config_get(&dflt, bkey);
        if (v)
            printf("  %s=%s (cluster default%s)\n", k, v, note);
        else
            printf("  %s (broker default%s)\n", k, note);
    }
    st = BK_CTL_OK;
out:
    free(keys);
    bk_zkc_config_free(&dflt);
    broker_cfgs_free(&bc);
    return st;
}

/* --all for a broker entity: every dynamic broker key. */
static int describe_broker_all(bk_zk *zk, const char *name,
                               const bk_zkc_config *cfg)
{
    bool is_default = strcmp(name, BK_ZKC_ENTITY_DEFAULT) == 0;
    bk_zkc_config dflt = {0};
    int st = is_default ? -1
                        : read_entity(zk, BK_ZKC_ENTITY_BROKERS,
                                      BK_ZKC_ENTITY_DEFAULT, &dflt);
    if (st >= 0)
        return st;
    size_t nd;
    const bk_dyn_cfg_def *dd = bk_dyn_cfg_defs(&nd);
    const char **keys = calloc(nd, sizeof *keys);
    if (!keys) {
        bk_zkc_config_free(&dflt);
        return fail("out of memory");
    }
    for (size_t i = 0; i < nd; i++)
        keys[i] = dd[i].broker_key;
    qsort(keys, nd, sizeof *keys, cmp_str);
    print_header_all(BK_ZKC_ENTITY_BROKERS, name, true);
    for (size_t i = 0; i < nd; i++) {
        const char *v = bk_zkc_config_get(cfg, keys[i]);
        if (v && is_default)
            printf("  %s=%s (cluster default)\n", keys[i], v);
        else if (v)
            printf("  %s=%s (broker %s)\n", keys[i], v, name);
        else if ((v = bk_zkc_config_get(&dflt, keys[i])) != NULL)
            printf("  %s=%s (cluster default)\n", keys[i], v);
        else
            printf("  %s (broker default)\n", keys[i]);
    }
    free(keys);
    bk_zkc_config_free(&dflt);
    return BK_CTL_OK;
}

static int describe_one(bk_zk *zk, const bk_ctl_args *a, const entity *e)
{
    bool topic = strcmp(e->type, BK_ZKC_ENTITY_TOPICS) == 0;
    if (topic) {
        char path[BK_ZKC_PATH_MAX];
        if (bk_zkc_path_topic(path, e->name))
            return fail("Topic '%s' does not exist", e->name);
        int rc = bk_zk_exists(zk, path, NULL, NULL, NULL);
        if (rc == -BK_ENOENT)
            return fail("Topic '%s' does not exist", e->name);
        if (rc)
            return zk_failed(zk, rc, "cannot look up the topic");
    }
    bk_zkc_config cfg;
    int st = read_entity(zk, e->type, e->name, &cfg);
    if (st >= 0)
        return st;
    if (!(a->given & OPT_ALL)) {
        print_header(e->type, e->name);
        print_config(&cfg);
        st = BK_CTL_OK;
    } else if (topic) {
        st = describe_topic_all(zk, e->name, &cfg);
    } else {
        st = describe_broker_all(zk, e->name, &cfg);
    }
    bk_zkc_config_free(&cfg);
    return st;
}

/* Every topic that has overrides. */
static int describe_topics(bk_zk *zk)
{
    bk_zk_strings topics;
    int rc = bk_zkd_topics_list(zk, &topics);
    if (rc)
        return zk_failed(zk, rc, "cannot list topics");
    int status = BK_CTL_OK;
    for (size_t i = 0; i < topics.n; i++) {
        bk_zkc_config cfg;
        int st = read_entity(zk, BK_ZKC_ENTITY_TOPICS, topics.v[i], &cfg);
        if (st == BK_CTL_UNREACHABLE) {
            status = st;
            break;
        }
        if (st >= 0) { /* a bad znode: go on with the others */
            status = st;
            continue;
        }
        if (cfg.n) {
            print_header(BK_ZKC_ENTITY_TOPICS, topics.v[i]);
            print_config(&cfg);
        }
        bk_zkc_config_free(&cfg);
    }
    bk_zk_strings_free(&topics);
    return status;
}

/* The defaults, then every broker that has overrides. */
static int describe_brokers(bk_zk *zk)
{
    bk_zkc_config dflt;
    int st =
        read_entity(zk, BK_ZKC_ENTITY_BROKERS, BK_ZKC_ENTITY_DEFAULT, &dflt);
    if (st >= 0)
        return st;
    broker_cfgs bc;
    if ((st = read_broker_cfgs(zk, &bc)) >= 0) {
        bk_zkc_config_free(&dflt);
        return st;
    }
    print_header(BK_ZKC_ENTITY_BROKERS, BK_ZKC_ENTITY_DEFAULT);
    print_config(&dflt);
    for (size_t i = 0; i < bc.n; i++) {
        if (!bc.cfgs[i].n)
            continue;
        char name[16];
        snprintf(name, sizeof name, "%" PRId32, bc.ids[i]);
        print_header(BK_ZKC_ENTITY_BROKERS, name);
        print_config(&bc.cfgs[i]);
    }
    bk_zkc_config_free(&dflt);
    broker_cfgs_free(&bc);
    return BK_CTL_OK;
}

int bk_ctl_configs_describe(bk_zk *zk, const bk_ctl_args *a)
{
    entity e;
    int st = get_entity(a, false, &e);
    if (st >= 0)
        return st;
    if (e.name)
        return describe_one(zk, a, &e);
    if (strcmp(e.type, BK_ZKC_ENTITY_TOPICS) == 0)
        return describe_topics(zk);
    return describe_brokers(zk);
}
