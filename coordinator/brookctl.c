/*
 * brookctl.c -- Brook's admin tool.  It talks to ZooKeeper only (DESIGN.md
 * section 1), so it works while every broker is down: it reads and writes
 * Kafka's znode layout through coordinator/zkdata, the same code brookd's
 * CreateTopics/DeleteTopics handlers use.
 *
 *   brookctl [--zookeeper CONNECT] [--timeout-ms N] <command> [options]
 *
 * Global options may come before or after the command words.  The output
 * of describe mimics kafka-topics.sh --describe, so scripts and habits
 * carry over.  Exit status: 0 ok, 1 the operation failed, 2 usage error,
 * 3 ZooKeeper unreachable (or the connection was lost mid-operation).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/logging.h"
#include "coordinator/zk.h"
#include "coordinator/zkdata.h"
#include "proto/protocol.h"

enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_UNREACHABLE = 3,
};

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_CONFIGS        64

/* Options, as bits, to check which ones a command accepts. */
enum {
    OPT_TOPIC = 1 << 0,
    OPT_PARTITIONS = 1 << 1,
    OPT_RF = 1 << 2,
    OPT_CONFIG = 1 << 3,
    OPT_IF_EXISTS = 1 << 4,
    OPT_IF_NOT_EXISTS = 1 << 5,
};

typedef struct args {
    const char *zookeeper;
    int timeout_ms;
    bool help;
    const char *words[3];
    int nwords;
    unsigned given; /* OPT_* bits */
    const char *topic;
    const char *partitions, *rf;
    bk_zkc_kv configs[MAX_CONFIGS];
    size_t nconfigs;
} args;

static const char *const main_help =
    "usage: brookctl [--zookeeper CONNECT] [--timeout-ms N] <command> "
    "[options]\n"
    "\n"
    "Brook's admin tool: reads and writes the cluster's metadata in\n"
    "ZooKeeper (it works while every broker is down).\n"
    "\n"
    "Commands:\n"
    "  topics create    create a topic\n"
    "  topics list      list topic names\n"
    "  topics describe  show partitions, leaders, replicas, ISR, configs\n"
    "  topics delete    delete a topic\n"
    "  brokers list     list registered (live) brokers\n"
    "\n"
    "Global options (before or after the command):\n"
    "  --zookeeper CONNECT  host:port[,host:port...][/chroot], as Kafka's\n"
    "                       zookeeper.connect; default: $BROOK_ZOOKEEPER\n"
    "  --timeout-ms N       give up connecting to ZooKeeper after N ms\n"
    "                       (default 10000)\n"
    "  -h, --help           this help; `brookctl <command> --help` for a\n"
    "                       command\n"
    "\n"
    "Environment: BROOK_ZOOKEEPER (connect string), BROOK_LOG_LEVEL\n"
    "(debug|info|warn|error|off; default warn).\n"
    "\n"
    "Exit status: 0 success, 1 the operation failed, 2 usage error,\n"
    "3 ZooKeeper unreachable.\n";

static const char *const create_help =
    "usage: brookctl topics create --topic T --partitions N\n"
    "                              --replication-factor R [--config k=v]...\n"
    "                              [--if-not-exists]\n"
    "\n"
    "Creates topic T with N partitions of R replicas each, spread over the\n"
    "live brokers as Kafka does (leaders round-robin from a random\n"
    "broker).  Needs at least R registered brokers.\n"
    "\n"
    "  --topic T                 1-249 characters of [a-zA-Z0-9._-]\n"
    "  --partitions N            number of partitions (>= 1)\n"
    "  --replication-factor R    replicas per partition (<= live brokers)\n"
    "  --config k=v              a topic config override (repeatable),\n"
    "                            Kafka's names: retention.ms, "
    "retention.bytes,\n"
    "                            segment.bytes, segment.ms, "
    "cleanup.policy,\n"
    "                            min.insync.replicas, "
    "max.message.bytes ...\n"
    "  --if-not-exists           succeed quietly if T already exists\n";

static const char *const list_help =
    "usage: brookctl topics list\n"
    "\n"
    "Prints every topic name, one per line (\"T - marked for deletion\"\n"
    "for a topic whose deletion is pending).\n";

static const char *const describe_help =
    "usage: brookctl topics describe [--topic T]\n"
    "\n"
    "For each topic (or only T), a line\n"
    "  Topic: T<TAB>PartitionCount: N<TAB>ReplicationFactor: R<TAB>"
    "Configs: k=v,...\n"
    "then one line per partition\n"
    "  <TAB>Topic: T<TAB>Partition: P<TAB>Leader: L<TAB>Replicas: a,b,c"
    "<TAB>Isr: a,b\n"
    "(Leader: none when the partition has no leader).\n";

static const char *const delete_help =
    "usage: brookctl topics delete --topic T [--if-exists]\n"
    "\n"
    "Deletes topic T: marks it under /admin/delete_topics, removes its\n"
    "znodes, then the mark.  Brokers remove their local logs when they\n"
    "see the topic gone.\n"
    "\n"
    "  --if-exists   succeed quietly if T does not exist\n";

static const char *const brokers_help =
    "usage: brookctl brokers list\n"
    "\n"
    "One line per registered broker:\n"
    "  Broker: ID<TAB>Host: host:port<TAB>Endpoints: PLAINTEXT://host:port"
    "[<TAB>Rack: r]\n";

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("brookctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'brookctl --help'.\n", stderr);
    return EXIT_USAGE;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("brookctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILED;
}

/* A ZooKeeper failure in the middle of a command. */
static int zk_failed(bk_zk *zk, int rc, const char *msg)
{
    fprintf(stderr, "brookctl: %s\n", msg);
    if (rc == -BK_EIO) {
        fprintf(stderr, "brookctl: lost the connection to ZooKeeper at %s\n",
                bk_zk_connect_string(zk));
        return EXIT_UNREACHABLE;
    }
    return EXIT_FAILED;
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Parses argv.  Returns -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->timeout_ms = DEFAULT_TIMEOUT_MS;
    const char *timeout = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (arg[0] == '-')
                return usage("unknown option '%s'", arg);
            if (a->nwords == 3)
                return usage("unexpected argument '%s'", arg);
            a->words[a->nwords++] = arg;
            continue;
        }
        /* --name value or --name=value */
        char name[64];
        const char *value = NULL;
        const char *eq = strchr(arg, '=');
        size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nl >= sizeof name)
            return usage("unknown option '%s'", arg);
        memcpy(name, arg, nl);
        name[nl] = '\0';
        bool flag = strcmp(name, "--if-exists") == 0 ||
                    strcmp(name, "--if-not-exists") == 0;
        if (flag) {
            if (eq)
                return usage("option %s takes no value", name);
            a->given |= strcmp(name, "--if-exists") == 0 ? OPT_IF_EXISTS
                                                         : OPT_IF_NOT_EXISTS;
            continue;
        }
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        }
        bool known = true;
        if (strcmp(name, "--zookeeper") == 0)
            a->zookeeper = value;
        else if (strcmp(name, "--timeout-ms") == 0)
            timeout = value;
        else if (strcmp(name, "--topic") == 0) {
            a->topic = value;
            a->given |= OPT_TOPIC;
        } else if (strcmp(name, "--partitions") == 0) {
            a->partitions = value;
            a->given |= OPT_PARTITIONS;
        } else if (strcmp(name, "--replication-factor") == 0) {
            a->rf = value;
            a->given |= OPT_RF;
        } else if (strcmp(name, "--config") == 0) {
            a->given |= OPT_CONFIG;
            if (value) {
                const char *e = strchr(value, '=');
                if (!e || e == value)
                    return usage("--config wants key=value, got '%s'", value);
                if (a->nconfigs == MAX_CONFIGS)
                    return usage("more than %d --config options", MAX_CONFIGS);
                bk_zkc_kv *kv = &a->configs[a->nconfigs++];
                kv->key = strndup(value, (size_t)(e - value));
                kv->value = strdup(e + 1);
                if (!kv->key || !kv->value)
                    return fail("out of memory");
            }
        } else
            known = false;
        if (!known)
            return usage("unknown option '%s'", name);
        if (!value)
            return usage("option %s needs a value", name);
    }
    if (timeout) {
        long v;
        if (!parse_int(timeout, 1, 3600 * 1000, &v))
            return usage("bad --timeout-ms '%s' (milliseconds, 1..3600000)",
                         timeout);
        a->timeout_ms = (int)v;
    }
    return -1;
}

static void free_args(args *a)
{
    for (size_t i = 0; i < a->nconfigs; i++) {
        free(a->configs[i].key);
        free(a->configs[i].value);
    }
}

/* Rejects options the command does not take. */
static int check_opts(const args *a, unsigned allowed, const char *cmd)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {OPT_TOPIC, "--topic"},
        {OPT_PARTITIONS, "--partitions"},
        {OPT_RF, "--replication-factor"},
        {OPT_CONFIG, "--config"},
        {OPT_IF_EXISTS, "--if-exists"},
        {OPT_IF_NOT_EXISTS, "--if-not-exists"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((a->given & names[i].bit) && !(allowed & names[i].bit))
            return usage("option %s is not valid for '%s'", names[i].name, cmd);
    return -1;
}

/* ------------------------------ commands ------------------------------ */

/* Usage checks of create, before any connection is made. */
static int check_create(const args *a)
{
    long v;
    if (!a->topic || !a->partitions || !a->rf)
        return usage("topics create needs --topic, --partitions and "
                     "--replication-factor");
    if (!parse_int(a->partitions, INT32_MIN, INT32_MAX, &v))
        return usage("bad --partitions '%s': not an integer", a->partitions);
    if (!parse_int(a->rf, INT32_MIN, INT32_MAX, &v))
        return usage("bad --replication-factor '%s': not an integer", a->rf);
    return -1;
}

static int cmd_create(bk_zk *zk, const args *a)
{
    long parts = 0, rf = 0;
    parse_int(a->partitions, INT32_MIN, INT32_MAX, &parts);
    parse_int(a->rf, INT32_MIN, INT32_MAX, &rf);
    bk_zkd_topic_spec spec = {
        .name = a->topic,
        .partitions = (int32_t)parts,
        .replication_factor = (int)rf,
        .configs = a->configs,
        .nconfigs = a->nconfigs,
        .start_index = -1,
        .shift = -1,
    };
    bk_zkd_result res;
    int rc = bk_zkd_topic_create(zk, &spec, &res);
    if (res.warning[0])
        fprintf(stderr, "%s\n", res.warning);
    if (rc)
        return zk_failed(zk, rc, res.message);
    if (res.error == BK_ERR_TOPIC_ALREADY_EXISTS &&
        (a->given & OPT_IF_NOT_EXISTS))
        return EXIT_OK;
    if (res.error)
        return fail("%s", res.message);
    printf("Created topic %s.\n", a->topic);
    return EXIT_OK;
}

static int cmd_list(bk_zk *zk)
{
    bk_zk_strings topics;
    int rc = bk_zkd_topics_list(zk, &topics);
    if (rc)
        return zk_failed(zk, rc, "cannot list topics");
    int status = EXIT_OK;
    for (size_t i = 0; i < topics.n; i++) {
        int m = bk_zkd_topic_marked_for_deletion(zk, topics.v[i]);
        if (m < 0) {
            status = zk_failed(zk, m, "cannot list topics");
            break;
        }
        printf("%s%s\n", topics.v[i], m ? " - marked for deletion" : "");
    }
    bk_zk_strings_free(&topics);
    return status;
}

static void print_ids(const int32_t *ids, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        printf("%s%" PRId32, i ? "," : "", ids[i]);
}

static int describe_one(bk_zk *zk, const char *topic, bool must_exist)
{
    bk_zkd_topic_desc d;
    int rc = bk_zkd_topic_describe(zk, topic, &d);
    if (rc == -BK_ENOENT) {
        if (must_exist)
            return fail("Topic '%s' does not exist", topic);
        return EXIT_OK; /* deleted while we listed */
    }
    if (rc == -BK_ECORRUPT)
        return fail("topic '%s': its znode /brokers/topics/%s does not hold "
                    "a valid assignment (see the log line above)",
                    topic, topic);
    if (rc)
        return zk_failed(zk, rc, "cannot read the topic");
    const bk_zkc_assignment *as = &d.assignment;
    int32_t rf = as->nparts ? as->parts[0].nreplicas : 0;
    printf("Topic: %s\tPartitionCount: %" PRId32 "\tReplicationFactor: %" PRId32
           "\tConfigs: ",
           topic, as->nparts, rf);
    for (size_t i = 0; i < d.config.n; i++)
        printf("%s%s=%s", i ? "," : "", d.config.kv[i].key,
               d.config.kv[i].value);
    if (d.marked_for_deletion)
        printf("\tMarkedForDeletion: true");
    printf("\n");
    for (int32_t i = 0; i < as->nparts; i++) {
        const bk_zkc_part *p = &as->parts[i];
        printf("\tTopic: %s\tPartition: %" PRId32 "\tLeader: ", topic, p->id);
        if (d.has_state[i] && d.states[i].leader >= 0)
            printf("%" PRId32, d.states[i].leader);
        else
            printf("none");
        printf("\tReplicas: ");
        print_ids(p->replicas, p->nreplicas);
        printf("\tIsr: ");
        if (d.has_state[i])
            print_ids(d.states[i].isr, d.states[i].nisr);
        printf("\n");
    }
    bk_zkd_topic_desc_free(&d);
    return EXIT_OK;
}

static int cmd_describe(bk_zk *zk, const args *a)
{
    if (a->topic)
        return describe_one(zk, a->topic, true);
    bk_zk_strings topics;
    int rc = bk_zkd_topics_list(zk, &topics);
    if (rc)
        return zk_failed(zk, rc, "cannot list topics");
    int status = EXIT_OK;
    for (size_t i = 0; i < topics.n && status != EXIT_UNREACHABLE; i++) {
        int s = describe_one(zk, topics.v[i], false);
        if (s != EXIT_OK)
            status = s;
    }
    bk_zk_strings_free(&topics);
    return status;
}

static int cmd_delete(bk_zk *zk, const args *a)
{
    bk_zkd_result res;
    int rc = bk_zkd_topic_delete(zk, a->topic, &res);
    if (res.warning[0])
        fprintf(stderr, "brookctl: %s\n", res.warning);
    if (rc)
        return zk_failed(zk, rc, res.message);
    if (res.error == BK_ERR_UNKNOWN_TOPIC_OR_PART && (a->given & OPT_IF_EXISTS))
        return EXIT_OK;
    if (res.error)
        return fail("%s", res.message);
    printf("Deleted topic %s.\n", a->topic);
    return EXIT_OK;
}

static int cmd_brokers(bk_zk *zk)
{
    bk_zkc_broker *bs;
    size_t n;
    int rc = bk_zkd_brokers_list(zk, &bs, &n);
    if (rc)
        return zk_failed(zk, rc, "cannot list brokers");
    char ep[400];
    for (size_t i = 0; i < n; i++) {
        const bk_zkc_broker *b = &bs[i];
        printf("Broker: %" PRId32 "\tHost: ", b->id);
        if (b->host[0] || b->port >= 0)
            printf("%s:%" PRId32, b->host, b->port);
        else
            printf("none");
        printf("\tEndpoints: ");
        for (int e = 0; e < b->nendpoints; e++) {
            bk_zkc_endpoint_string(&b->endpoints[e], ep, sizeof ep);
            printf("%s%s", e ? "," : "", ep);
        }
        if (b->has_rack)
            printf("\tRack: %s", b->rack);
        printf("\n");
    }
    free(bs);
    return EXIT_OK;
}

/* ------------------------------ main ------------------------------ */

enum cmd {
    CMD_NONE,
    CMD_CREATE,
    CMD_LIST,
    CMD_DESCRIBE,
    CMD_DELETE,
    CMD_BROKERS
};

/* The command table: words, help text, options it takes. */
static const struct {
    const char *w0, *w1;
    enum cmd cmd;
    const char *const *help;
    unsigned allowed;
} commands[] = {
    {"topics", "create", CMD_CREATE, &create_help,
     OPT_TOPIC | OPT_PARTITIONS | OPT_RF | OPT_CONFIG | OPT_IF_NOT_EXISTS},
    {"topics", "list", CMD_LIST, &list_help, 0},
    {"topics", "describe", CMD_DESCRIBE, &describe_help, OPT_TOPIC},
    {"topics", "delete", CMD_DELETE, &delete_help, OPT_TOPIC | OPT_IF_EXISTS},
    {"brokers", "list", CMD_BROKERS, &brokers_help, 0},
};

static int run(args *a)
{
    enum cmd cmd = CMD_NONE;
    const char *help = main_help;
    unsigned allowed = 0;
    const char *w0 = a->nwords > 0 ? a->words[0] : "";
    const char *w1 = a->nwords > 1 ? a->words[1] : "";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(w0, commands[i].w0) == 0 &&
            strcmp(w1, commands[i].w1) == 0) {
            cmd = commands[i].cmd;
            help = *commands[i].help;
            allowed = commands[i].allowed;
        }
    }
    if (a->help) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    if (a->nwords == 0)
        return usage("no command given");
    if (cmd == CMD_NONE) {
        if (a->nwords == 1 &&
            (strcmp(w0, "topics") == 0 || strcmp(w0, "brokers") == 0))
            return usage("'%s' needs a subcommand", w0);
        return usage("unknown command '%s%s%s'", w0, a->nwords > 1 ? " " : "",
                     w1);
    }
    if (a->nwords > 2)
        return usage("unexpected argument '%s'", a->words[2]);
    char cmdname[64];
    snprintf(cmdname, sizeof cmdname, "%s %s", w0, w1);
    int st = check_opts(a, allowed, cmdname);
    if (st >= 0)
        return st;
    if (cmd == CMD_CREATE && (st = check_create(a)) >= 0)
        return st;
    if (cmd == CMD_DELETE && !a->topic)
        return usage("topics delete needs --topic");

    const char *connect =
        a->zookeeper ? a->zookeeper : getenv("BROOK_ZOOKEEPER");
    if (!connect || !*connect)
        return usage("no ZooKeeper given: use --zookeeper host:port or set "
                     "BROOK_ZOOKEEPER");
    bk_zk_opts o = {
        .connect = connect,
        /* an admin tool needs no long session; the server bounds it */
        .session_timeout_ms = 30000,
        .connect_timeout_ms = a->timeout_ms,
    };
    bk_zk *zk;
    char err[512];
    int rc = bk_zk_open(&o, &zk, err, sizeof err);
    if (rc == -BK_EINVAL)
        return usage("%s", err);
    if (rc) {
        fprintf(stderr, "brookctl: %s\n", err);
        return EXIT_UNREACHABLE;
    }
    switch (cmd) {
    case CMD_CREATE:
        st = cmd_create(zk, a);
        break;
    case CMD_LIST:
        st = cmd_list(zk);
        break;
    case CMD_DESCRIBE:
        st = cmd_describe(zk, a);
        break;
    case CMD_DELETE:
        st = cmd_delete(zk, a);
        break;
    case CMD_BROKERS:
        st = cmd_brokers(zk);
        break;
    case CMD_NONE:
        st = EXIT_USAGE;
        break;
    }
    fflush(stdout);
    bk_zk_close(zk);
    return st;
}

int main(int argc, char **argv)
{
    bk_level lvl = BK_LVL_WARN;
    const char *env = getenv("BROOK_LOG_LEVEL");
    if (env && bk_logging_parse_level(env, &lvl) != 0)
        lvl = BK_LVL_WARN;
    bk_logging_set_level(lvl);
    args a;
    int st = parse_args(argc, argv, &a);
    if (st < 0)
        st = run(&a);
    free_args(&a);
    if (fflush(stdout) != 0 && st == EXIT_OK)
        st = EXIT_FAILED; /* e.g. stdout is a full disk or closed pipe */
    return st;
}
