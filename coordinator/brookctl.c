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
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/logging.h"
#include "coordinator/brookctl.h"
#include "coordinator/brookctl_groups.h"
#include "coordinator/zk.h"
#include "coordinator/zkdata.h"
#include "proto/protocol.h"

enum {
    EXIT_OK = BK_CTL_OK,
    EXIT_FAILED = BK_CTL_FAILED,
    EXIT_USAGE = BK_CTL_USAGE,
    EXIT_UNREACHABLE = BK_CTL_UNREACHABLE,
};

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_BROKER_LIST    1024 /* --broker-list of partitions reassign */

typedef bk_ctl_args args;

#define usage     bk_ctl_usage
#define fail      bk_ctl_fail
#define zk_failed bk_ctl_zk_failed

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
    "  partitions elect-leaders\n"
    "                   give leadership back to preferred replicas\n"
    "  partitions reassign\n"
    "                   move partitions to other brokers (new replicas\n"
    "                   catch up before old ones are removed)\n"
    "  configs describe | alter\n"
    "                   dynamic topic configs and broker-wide defaults\n"
    "                   (applied by every broker without a restart)\n"
    "  cluster status   controller, live brokers, under-replicated and\n"
    "                   offline partitions (exit 1 if any is offline)\n"
    "  groups list | describe | reset-offsets | delete\n"
    "                   consumer groups: offsets, members, lag\n"
    "                   (`brookctl groups --help`)\n"
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

static const char *const elect_help =
    "usage: brookctl partitions elect-leaders [--topic T [--partition P]]\n"
    "                                         [--wait]\n"
    "\n"
    "Asks the controller for a preferred-leader election (Kafka's\n"
    "/admin/preferred_replica_election): each partition whose leader is\n"
    "not its preferred replica (the first in its assignment) is led by it\n"
    "again, if it is alive and in sync.  Every partition of every topic\n"
    "(but those being deleted), or of topic T, or partition P of T.\n"
    "Refused while an earlier election is pending.\n"
    "\n"
    "  --topic T       only this topic\n"
    "  --partition P   only this partition (needs --topic)\n"
    "  --wait          wait (up to --timeout-ms) until the controller is\n"
    "                  done, then print per partition\n"
    "                  Topic: T<TAB>Partition: P<TAB>Leader: L<TAB>"
    "Preferred: R\n"
    "                  and fail (exit 1) if some partition is not led by\n"
    "                  its preferred replica\n";

int bk_ctl_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("brookctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'brookctl --help'.\n", stderr);
    return EXIT_USAGE;
}

int bk_ctl_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("brookctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILED;
}

int bk_ctl_zk_failed(bk_zk *zk, int rc, const char *msg)
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
        unsigned rflag = strcmp(name, "--execute") == 0    ? OPT_EXECUTE
                         : strcmp(name, "--verify") == 0   ? OPT_VERIFY
                         : strcmp(name, "--generate") == 0 ? OPT_GENERATE
                                                           : 0;
        if (rflag) {
            if (eq)
                return usage("option %s takes no value", name);
            a->given |= rflag;
            continue;
        }
        if (strcmp(name, "--wait") == 0 || strcmp(name, "--all") == 0 ||
            strcmp(name, "--entity-default") == 0) {
            if (eq)
                return usage("option %s takes no value", name);
            a->given |= strcmp(name, "--wait") == 0  ? OPT_WAIT
                        : strcmp(name, "--all") == 0 ? OPT_ALL
                                                     : OPT_ENTITY_DEFAULT;
            continue;
        }
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
        } else if (strcmp(name, "--reassignment-json-file") == 0) {
            a->reassign_file = value;
            a->given |= OPT_REASSIGN_FILE;
        } else if (strcmp(name, "--topics") == 0) {
            a->topics = value;
            a->given |= OPT_TOPICS;
        } else if (strcmp(name, "--broker-list") == 0) {
            a->broker_list = value;
            a->given |= OPT_BROKER_LIST;
        } else if (strcmp(name, "--entity-type") == 0) {
            a->entity_type = value;
            a->given |= OPT_ENTITY_TYPE;
        } else if (strcmp(name, "--entity-name") == 0) {
            a->entity_name = value;
            a->given |= OPT_ENTITY_NAME;
        } else if (strcmp(name, "--add-config") == 0) {
            a->add_config = value;
            a->given |= OPT_ADD_CONFIG;
        } else if (strcmp(name, "--delete-config") == 0) {
            a->delete_config = value;
            a->given |= OPT_DELETE_CONFIG;
        } else if (strcmp(name, "--partition") == 0) {
            a->partition = value;
            a->given |= OPT_PARTITION;
        } else if (strcmp(name, "--config") == 0) {
            a->given |= OPT_CONFIG;
            if (value) {
                const char *e = strchr(value, '=');
                if (!e || e == value)
                    return usage("--config wants key=value, got '%s'", value);
                if (a->nconfigs == BK_CTL_MAX_CONFIGS)
                    return usage("more than %d --config options",
                                 BK_CTL_MAX_CONFIGS);
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
        {OPT_PARTITION, "--partition"},
        {OPT_WAIT, "--wait"},
        {OPT_REASSIGN_FILE, "--reassignment-json-file"},
        {OPT_EXECUTE, "--execute"},
        {OPT_VERIFY, "--verify"},
        {OPT_GENERATE, "--generate"},
        {OPT_TOPICS, "--topics"},
        {OPT_BROKER_LIST, "--broker-list"},
        {OPT_ENTITY_TYPE, "--entity-type"},
        {OPT_ENTITY_NAME, "--entity-name"},
        {OPT_ENTITY_DEFAULT, "--entity-default"},
        {OPT_ADD_CONFIG, "--add-config"},
        {OPT_DELETE_CONFIG, "--delete-config"},
        {OPT_ALL, "--all"},
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

/* ------------------------- partitions reassign ------------------------- */

static const char *const reassign_help =
    "usage: brookctl partitions reassign --reassignment-json-file F "
    "[--execute]\n"
    "       brookctl partitions reassign --reassignment-json-file F "
    "--verify\n"
    "       brookctl partitions reassign --generate --topics T1,T2 "
    "--broker-list 1,2,3\n"
    "\n"
    "Moves partitions to other brokers, as kafka-reassign-partitions.sh.\n"
    "F is Kafka's reassignment JSON:\n"
    "  {\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
    "\"replicas\":[1,2,3]}]}\n"
    "\n"
    "  --execute   (the default) check every entry (the topic and partition\n"
    "              exist, the replicas are distinct registered brokers) and\n"
    "              start the reassignment by writing\n"
    "              /admin/reassign_partitions; prints the current assignment\n"
    "              for a rollback.  Refused while another reassignment is\n"
    "              in progress.  The controller adds the new replicas, waits\n"
    "              until they are in sync, moves leadership if needed, then\n"
    "              removes the old replicas (their logs are deleted).\n"
    "  --verify    one line per partition of F: complete, in progress or\n"
    "              failed; exit status 0 only when all are complete\n"
    "  --generate  print a proposed assignment of every partition of the\n"
    "              --topics over the --broker-list (Kafka's rack-unaware\n"
    "              assignment, replication factor kept); writes nothing\n";

/* Parses "1,2,3" (distinct ids >= 0) into ids (cap entries). */
static int parse_ids(const char *s, int32_t *ids, int cap, int *n)
{
    *n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX ||
            (*end != ',' && *end != '\0'))
            return usage("bad --broker-list '%s': broker ids separated by "
                         "commas",
                         s);
        for (int i = 0; i < *n; i++)
            if (ids[i] == (int32_t)v)
                return usage("--broker-list names broker %ld twice", v);
        if (*n == cap)
            return usage("--broker-list has more than %d brokers", cap);
        ids[(*n)++] = (int32_t)v;
        if (*end == '\0')
            return -1;
        p = end + 1;
    }
}

/* One topic of a reassignment as ZooKeeper has it. */
typedef struct ra_topic {
    const char *name; /* into the entries */
    int rc;           /* of bk_zkd_topic_read */
    bk_zkc_assignment a;
    int marked; /* for deletion: 1, 0, or -BK_E* */
} ra_topic;

static void ra_topics_free(ra_topic *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        bk_zkc_assignment_free(&t[i].a);
    free(t);
}

/* Reads each distinct topic of v[0..n) once.  *out[i] for topic i; the
 * index of entry j's topic in *tix[j].  0 or -BK_E* (ZooKeeper). */
static int ra_read_topics(bk_zk *zk, const bk_zkc_reassign *v, size_t n,
                          ra_topic **out, size_t *nt, size_t *tix)
{
    ra_topic *t = calloc(n ? n : 1, sizeof *t);
    *out = t;
    *nt = 0;
    if (!t)
        return -BK_ENOMEM;
    for (size_t j = 0; j < n; j++) {
        size_t i = 0;
        while (i < *nt && strcmp(t[i].name, v[j].topic) != 0)
            i++;
        tix[j] = i;
        if (i < *nt)
            continue;
        (*nt)++;
        t[i].name = v[j].topic;
        t[i].rc = bk_zkd_topic_read(zk, v[j].topic, &t[i].a, NULL);
        if (t[i].rc != 0 && t[i].rc != -BK_ENOENT && t[i].rc != -BK_ECORRUPT)
            return t[i].rc;
        t[i].marked =
            t[i].rc == 0 ? bk_zkd_topic_marked_for_deletion(zk, v[j].topic) : 0;
        if (t[i].marked < 0)
            return t[i].marked;
    }
    return 0;
}

/* The reassignment in progress (NULL, 0 when none).  0 or -BK_E*;
 * -BK_ECORRUPT (err set) when it does not decode. */
static int ra_in_progress(bk_zk *zk, bk_zkc_reassign **v, size_t *n, char *err,
                          size_t errlen)
{
    *v = NULL;
    *n = 0;
    bk_buf b = BK_BUF_INIT;
    int rc = bk_zk_get(zk, BK_ZKC_REASSIGN, &b, NULL, NULL, NULL);
    if (rc == 0)
        rc = bk_zkc_reassign_decode(b.data, b.len, v, n, err, errlen);
    bk_buf_free(&b);
    return rc == -BK_ENOENT ? 0 : rc;
}

static void print_json(const bk_buf *b)
{
    fwrite(b->data, 1, b->len, stdout);
    fputc('\n', stdout);
}

static int cmd_reassign_verify(bk_zk *zk, const bk_zkc_reassign *v, size_t n)
{
    bk_zkc_reassign *run = NULL;
    size_t nrun = 0;
    char err[512];
    int rc = ra_in_progress(zk, &run, &nrun, err, sizeof err);
    if (rc == -BK_ECORRUPT) {
        fprintf(stderr, "brookctl: %s: %s\n", BK_ZKC_REASSIGN, err);
        nrun = 0;
        rc = 0;
    }
    if (rc)
        return zk_failed(zk, rc, "cannot read " BK_ZKC_REASSIGN);
    size_t *tix = calloc(n ? n : 1, sizeof *tix);
    ra_topic *t = NULL;
    size_t nt = 0;
    rc = tix ? ra_read_topics(zk, v, n, &t, &nt, tix) : -BK_ENOMEM;
    int st = EXIT_OK;
    if (rc)
        st = zk_failed(zk, rc, "cannot read the topics");
    if (st == EXIT_OK)
        printf("Status of partition reassignment:\n");
    for (size_t j = 0; st != EXIT_UNREACHABLE && rc == 0 && j < n; j++) {
        bool running = false;
        for (size_t k = 0; k < nrun && !running; k++)
            running = run[k].partition == v[j].partition &&
                      strcmp(run[k].topic, v[j].topic) == 0;
        const bk_zkc_part *p =
            t[tix[j]].rc == 0
                ? bk_zkc_assignment_find(&t[tix[j]].a, v[j].partition)
                : NULL;
        const char *what;
        if (running)
            what = "in progress";
        else if (p && p->nadding == 0 && p->nremoving == 0 &&
                 p->nreplicas == v[j].nreplicas &&
                 memcmp(p->replicas, v[j].replicas,
                        (size_t)p->nreplicas * sizeof *p->replicas) == 0)
            what = "complete";
        else
            what = "failed";
        if (strcmp(what, "complete") != 0)
            st = EXIT_FAILED;
        printf("Reassignment of partition %s-%" PRId32 " is %s.\n", v[j].topic,
               v[j].partition, what);
    }
    ra_topics_free(t, nt);
    free(tix);
    free(run);
    return st;
}

static int cmd_reassign_execute(bk_zk *zk, const char *file,
                                const bk_zkc_reassign *v, size_t n)
{
    bk_zkc_reassign *run = NULL;
    size_t nrun = 0;
    char err[512];
    int rc = ra_in_progress(zk, &run, &nrun, err, sizeof err);
    free(run);
    if (rc == 0 && nrun > 0)
        return fail("a partition reassignment is already in progress (%zu "
                    "partitions in %s; see --verify); wait until it is "
                    "done.  Nothing was written.",
                    nrun, BK_ZKC_REASSIGN);
    if (rc == -BK_ECORRUPT)
        return fail("%s holds an unreadable reassignment (%s); the "
                    "controller removes it.  Nothing was written.",
                    BK_ZKC_REASSIGN, err);
    if (rc)
        return zk_failed(zk, rc, "cannot read " BK_ZKC_REASSIGN);
    int32_t *live = NULL;
    size_t nlive = 0;
    rc = bk_zkd_broker_ids(zk, &live, &nlive);
    if (rc)
        return zk_failed(zk, rc, "cannot list the brokers");
    size_t *tix = calloc(n ? n : 1, sizeof *tix);
    ra_topic *t = NULL;
    size_t nt = 0;
    bk_zkc_reassign *cur = calloc(n ? n : 1, sizeof *cur);
    rc = tix && cur ? ra_read_topics(zk, v, n, &t, &nt, tix) : -BK_ENOMEM;
    int st = EXIT_OK;
    if (rc)
        st = zk_failed(zk, rc, "cannot read the topics");
    /* Every problem is named, then nothing is written. */
    int problems = 0;
    char livestr[256];
    size_t at = 0;
    livestr[0] = '\0';
    for (size_t i = 0; i < nlive && at + 12 < sizeof livestr; i++)
        at += (size_t)snprintf(livestr + at, sizeof livestr - at, "%s%" PRId32,
                               i ? "," : "", live[i]);
    for (size_t j = 0; st == EXIT_OK && j < n; j++) {
        const ra_topic *tp = &t[tix[j]];
        const bk_zkc_reassign *e = &v[j];
        const bk_zkc_part *p = NULL;
        if (tp->rc == -BK_ENOENT) {
            fprintf(stderr,
                    "brookctl: %s-%" PRId32 ": topic '%s' does not exist\n",
                    e->topic, e->partition, e->topic);
            problems++;
            continue;
        }
        if (tp->rc == -BK_ECORRUPT) {
            fprintf(stderr,
                    "brookctl: %s-%" PRId32 ": the assignment of topic '%s' "
                    "in ZooKeeper does not decode\n",
                    e->topic, e->partition, e->topic);
            problems++;
            continue;
        }
        if (tp->marked) {
            fprintf(stderr,
                    "brookctl: %s-%" PRId32 ": topic '%s' is marked for "
                    "deletion\n",
                    e->topic, e->partition, e->topic);
            problems++;
            continue;
        }
        p = bk_zkc_assignment_find(&tp->a, e->partition);
        if (!p) {
            fprintf(stderr,
                    "brookctl: %s-%" PRId32 ": partition %" PRId32
                    " does not exist (topic '%s' has %" PRId32 " partitions)\n",
                    e->topic, e->partition, e->partition, e->topic,
                    tp->a.nparts);
            problems++;
            continue;
        }
        for (int32_t r = 0; r < e->nreplicas; r++) {
            bool ok = false;
            for (size_t i = 0; i < nlive && !ok; i++)
                ok = live[i] == e->replicas[r];
            if (!ok) {
                fprintf(stderr,
                        "brookctl: %s-%" PRId32 ": broker %" PRId32
                        " is not registered (registered brokers: %s)\n",
                        e->topic, e->partition, e->replicas[r],
                        nlive ? livestr : "none");
                problems++;
            }
        }
        cur[j] = *e;
        cur[j].nreplicas = p->nreplicas;
        memcpy(cur[j].replicas, p->replicas,
               (size_t)p->nreplicas * sizeof *p->replicas);
    }
    if (st == EXIT_OK && problems)
        st = fail("%s: %d problem%s (above); nothing was written", file,
                  problems, problems == 1 ? "" : "s");
    bk_buf json = BK_BUF_INIT;
    if (st == EXIT_OK) {
        rc = bk_zkc_reassign_encode(cur, n, &json);
        if (rc == 0 && !bk_buf_ok(&json))
            rc = -BK_ENOMEM;
        if (rc)
            st = fail("cannot encode the current assignment: %s",
                      bk_strerror(rc));
    }
    if (st == EXIT_OK) {
        printf("Current partition replica assignment\n\n");
        print_json(&json);
        printf("\nSave this to use as the --reassignment-json-file option "
               "during rollback\n");
        bk_buf_reset(&json);
        rc = bk_zkc_reassign_encode(v, n, &json);
        if (rc == 0 && !bk_buf_ok(&json))
            rc = -BK_ENOMEM;
        if (rc == 0) {
            rc = bk_zk_create(zk, BK_ZKC_REASSIGN, json.data, json.len, 0, NULL,
                              0);
            if (rc == -BK_ENOENT) { /* no /admin yet (no broker ever ran) */
                rc = bk_zk_mkdirs(zk, "/admin");
                if (rc == 0)
                    rc = bk_zk_create(zk, BK_ZKC_REASSIGN, json.data, json.len,
                                      0, NULL, 0);
            }
        }
        if (rc == -BK_EEXIST)
            st = fail("a partition reassignment was started meanwhile (%s "
                      "exists); nothing was written",
                      BK_ZKC_REASSIGN);
        else if (rc)
            st = zk_failed(zk, rc, "cannot write " BK_ZKC_REASSIGN);
        else
            printf("Successfully started partition reassignment of %zu "
                   "partition%s\n",
                   n, n == 1 ? "" : "s");
    }
    bk_buf_free(&json);
    ra_topics_free(t, nt);
    free(cur);
    free(tix);
    free(live);
    return st;
}

static int cmd_reassign_generate(bk_zk *zk, const args *a)
{
    int32_t brokers[MAX_BROKER_LIST];
    int nb = 0;
    int st = parse_ids(a->broker_list, brokers, MAX_BROKER_LIST, &nb);
    if (st >= 0)
        return st;
    /* The topics: "a,b,c". */
    bk_zkc_reassign *cur = NULL, *prop = NULL;
    size_t n = 0, cap = 0;
    char *list = strdup(a->topics);
    if (!list)
        return fail("out of memory");
    int32_t *ids = NULL;
    char err[256];
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name && st < 0;
         name = strtok_r(NULL, ",", &save)) {
        bk_zkc_assignment as;
        int rc = bk_zkd_topic_read(zk, name, &as, NULL);
        if (rc == -BK_ENOENT) {
            st = fail("topic '%s' does not exist", name);
            break;
        }
        if (rc) {
            st = zk_failed(zk, rc, "cannot read the topic");
            break;
        }
        int rf = as.nparts ? as.parts[0].nreplicas : 1;
        free(ids);
        ids = malloc((size_t)(as.nparts ? as.nparts : 1) * (size_t)rf *
                     sizeof *ids);
        unsigned seed = (unsigned)bk_clock_wall_ms() ^ (unsigned)getpid();
        int e = ids ? bk_topic_assign(brokers, nb, as.nparts, rf,
                                      (int)(rand_r(&seed) % (unsigned)nb),
                                      (int)(rand_r(&seed) % (unsigned)nb), ids,
                                      err, sizeof err)
                    : -1;
        if (e != 0) {
            bk_zkc_assignment_free(&as);
            st = fail("topic '%s': %s", name, ids ? err : "out of memory");
            break;
        }
        if (n + (size_t)as.nparts > cap) {
            size_t nc = (n + (size_t)as.nparts) * 2;
            bk_zkc_reassign *c2 = realloc(cur, nc * sizeof *c2);
            if (c2)
                cur = c2;
            bk_zkc_reassign *p2 = c2 ? realloc(prop, nc * sizeof *p2) : NULL;
            if (p2)
                prop = p2;
            if (!c2 || !p2) {
                bk_zkc_assignment_free(&as);
                st = fail("out of memory");
                break;
            }
            cap = nc;
        }
        for (int32_t i = 0; i < as.nparts; i++) {
            const bk_zkc_part *p = &as.parts[i];
            bk_zkc_reassign *c = &cur[n], *q = &prop[n];
            memset(c, 0, sizeof *c);
            snprintf(c->topic, sizeof c->topic, "%s", name);
            c->partition = p->id;
            c->nreplicas = p->nreplicas;
            memcpy(c->replicas, p->replicas,
                   (size_t)p->nreplicas * sizeof *p->replicas);
            *q = *c;
            q->nreplicas = rf;
            memcpy(q->replicas, ids + (size_t)i * (size_t)rf,
                   (size_t)rf * sizeof *ids);
            n++;
        }
        bk_zkc_assignment_free(&as);
    }
    free(ids);
    free(list);
    if (st < 0) {
        bk_buf b = BK_BUF_INIT;
        int rc = bk_zkc_reassign_encode(cur, n, &b);
        if (rc == 0) {
            printf("Current partition replica assignment\n");
            print_json(&b);
            bk_buf_reset(&b);
            rc = bk_zkc_reassign_encode(prop, n, &b);
        }
        if (rc == 0) {
            printf("\nProposed partition reassignment configuration\n");
            print_json(&b);
        }
        bk_buf_free(&b);
        st = rc ? fail("cannot encode the assignment: %s", bk_strerror(rc))
                : EXIT_OK;
    }
    free(cur);
    free(prop);
    return st;
}

/* Usage checks of partitions reassign, before any connection. */
static int check_reassign(const args *a)
{
    unsigned modes = a->given & (OPT_EXECUTE | OPT_VERIFY | OPT_GENERATE);
    if (modes & (modes - 1))
        return usage("give one of --execute, --verify and --generate");
    if (modes == OPT_GENERATE) {
        if (!a->topics || !a->broker_list)
            return usage("--generate needs --topics and --broker-list");
        if (a->reassign_file)
            return usage("--generate takes no --reassignment-json-file");
        return -1;
    }
    if (!a->reassign_file)
        return usage("partitions reassign needs --reassignment-json-file "
                     "(or --generate)");
    if (a->topics || a->broker_list)
        return usage("--topics and --broker-list go with --generate");
    return -1;
}

static int cmd_reassign(bk_zk *zk, const args *a)
{
    if (a->given & OPT_GENERATE)
        return cmd_reassign_generate(zk, a);
    char *text = NULL;
    size_t len = 0;
    int rc = bk_file_read_all(a->reassign_file, BK_JSON_DEFAULT_MAX_BYTES,
                              &text, &len);
    if (rc)
        return fail("cannot read %s: %s", a->reassign_file,
                    rc == -BK_ENOENT    ? "no such file"
                    : rc == -BK_ETOOBIG ? "larger than 1 MiB"
                                        : bk_strerror(rc));
    bk_zkc_reassign *v = NULL;
    size_t n = 0;
    char err[512];
    rc = bk_zkc_reassign_decode(text, len, &v, &n, err, sizeof err);
    free(text);
    if (rc == -BK_ENOMEM)
        return fail("out of memory");
    if (rc)
        return fail("%s: %s; nothing was written", a->reassign_file, err);
    int st;
    if (n == 0)
        st = fail("%s: no partitions to reassign; nothing was written",
                  a->reassign_file);
    else if (a->given & OPT_VERIFY)
        st = cmd_reassign_verify(zk, v, n);
    else
        st = cmd_reassign_execute(zk, a->reassign_file, v, n);
    free(v);
    return st;
}

/* Adds partition p of topic to v (grown as needed). */
static int tp_add(bk_zkc_tp **v, size_t *n, size_t *cap, const char *topic,
                  int32_t p)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        bk_zkc_tp *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return -BK_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    snprintf((*v)[*n].topic, sizeof(*v)[*n].topic, "%s", topic);
    (*v)[*n].partition = p;
    (*n)++;
    return 0;
}

/* The partitions elect-leaders is about: --topic [--partition], or all. */
static int elect_targets(bk_zk *zk, const args *a, bk_zkc_tp **v, size_t *n)
{
    size_t cap = 0;
    bk_zk_strings topics = {0};
    if (a->topic) {
        topics.v = (char **)&a->topic;
        topics.n = 1;
    } else {
        int rc = bk_zkd_topics_list(zk, &topics);
        if (rc)
            return zk_failed(zk, rc, "cannot list topics");
    }
    int st = -1;
    long want = -1;
    if (a->partition)
        parse_int(a->partition, 0, INT32_MAX, &want);
    for (size_t i = 0; st < 0 && i < topics.n; i++) {
        bk_zkc_assignment as;
        int rc = bk_zkd_topic_read(zk, topics.v[i], &as, NULL);
        if (rc == -BK_ENOENT || rc == -BK_ECORRUPT) {
            if (a->topic)
                st = rc == -BK_ENOENT
                         ? fail("Topic '%s' does not exist", a->topic)
                         : fail("topic '%s': its znode does not hold a "
                                "valid assignment",
                                a->topic);
            continue;
        }
        if (rc) {
            st = zk_failed(zk, rc, "cannot read the topic");
            break;
        }
        /* All topics: one being deleted is not the controller's to
         * elect for (it skips such topics). */
        if (!a->topic &&
            bk_zkd_topic_marked_for_deletion(zk, topics.v[i]) == 1) {
            bk_zkc_assignment_free(&as);
            continue;
        }
        bool found = false;
        for (int32_t p = 0; st < 0 && p < as.nparts; p++) {
            if (want >= 0 && as.parts[p].id != want)
                continue;
            found = true;
            if (tp_add(v, n, &cap, topics.v[i], as.parts[p].id) != 0)
                st = fail("out of memory");
        }
        if (st < 0 && want >= 0 && !found)
            st = fail("Topic '%s' has no partition %ld", topics.v[i], want);
        bk_zkc_assignment_free(&as);
    }
    if (!a->topic)
        bk_zk_strings_free(&topics);
    if (st < 0 && *n == 0)
        st = fail("no partitions to elect leaders for (no topics)");
    return st;
}

static int cmd_elect(bk_zk *zk, const args *a)
{
    bk_zkc_tp *v = NULL;
    size_t n = 0;
    int st = elect_targets(zk, a, &v, &n);
    if (st >= 0) {
        free(v);
        return st;
    }
    bk_buf data = BK_BUF_INIT;
    int rc = bk_zkc_preferred_encode(v, n, &data);
    if (rc == 0 && !bk_buf_ok(&data))
        rc = -BK_ENOMEM;
    if (rc == 0)
        rc = bk_zk_create(zk, BK_ZKC_PREFERRED, data.data, data.len,
                          BK_ZK_PARENTS, NULL, 0);
    bk_buf_free(&data);
    if (rc == -BK_EEXIST) {
        free(v);
        return fail("a preferred replica election is already in progress "
                    "(%s exists); try again when it is gone",
                    BK_ZKC_PREFERRED);
    }
    if (rc) {
        free(v);
        return zk_failed(zk, rc, "cannot write the election request");
    }
    printf("Preferred replica election requested for %zu partition%s.\n", n,
           n == 1 ? "" : "s");
    if (!(a->given & OPT_WAIT)) {
        free(v);
        return EXIT_OK;
    }
    /* The controller deletes the request when its elections are done. */
    int waited = 0;
    for (;;) {
        rc = bk_zk_exists(zk, BK_ZKC_PREFERRED, NULL, NULL, NULL);
        if (rc == -BK_ENOENT)
            break;
        if (rc) {
            free(v);
            return zk_failed(zk, rc, "cannot watch the election request");
        }
        if (waited >= a->timeout_ms) {
            free(v);
            return fail("the election is still pending after %d ms (is a "
                        "broker running as controller?)",
                        a->timeout_ms);
        }
        usleep(50 * 1000);
        waited += 50;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        bk_zkc_pstate ps;
        bk_zkc_assignment as;
        rc = bk_zkd_pstate_read(zk, v[i].topic, v[i].partition, &ps, NULL);
        if (rc && rc != -BK_ENOENT && rc != -BK_ECORRUPT) {
            free(v);
            return zk_failed(zk, rc, "cannot read the partition states");
        }
        int32_t leader = rc == 0 ? ps.leader : -1;
        int32_t pref = -1;
        if (bk_zkd_topic_read(zk, v[i].topic, &as, NULL) == 0) {
            const bk_zkc_part *p = bk_zkc_assignment_find(&as, v[i].partition);
            if (p && p->nreplicas > 0)
                pref = p->replicas[0];
            bk_zkc_assignment_free(&as);
        }
        printf("Topic: %s\tPartition: %" PRId32 "\tLeader: ", v[i].topic,
               v[i].partition);
        if (leader >= 0)
            printf("%" PRId32, leader);
        else
            printf("none");
        printf("\tPreferred: %" PRId32 "%s\n", pref,
               leader == pref ? "" : "\t(preferred replica not available)");
        off += leader != pref;
    }
    free(v);
    if (off > 0)
        return fail("%zu partition%s not led by the preferred replica (not "
                    "alive or not in sync)",
                    off, off == 1 ? " is" : "s are");
    return EXIT_OK;
}

/* ------------------------------ main ------------------------------ */

enum cmd {
    CMD_NONE,
    CMD_CREATE,
    CMD_LIST,
    CMD_DESCRIBE,
    CMD_DELETE,
    CMD_BROKERS,
    CMD_ELECT,
    CMD_REASSIGN,
    CMD_CONFIGS_DESCRIBE,
    CMD_CONFIGS_ALTER,
    CMD_CLUSTER_STATUS
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
    {"partitions", "elect-leaders", CMD_ELECT, &elect_help,
     OPT_TOPIC | OPT_PARTITION | OPT_WAIT},
    {"partitions", "reassign", CMD_REASSIGN, &reassign_help,
     OPT_REASSIGN_FILE | OPT_EXECUTE | OPT_VERIFY | OPT_GENERATE | OPT_TOPICS |
         OPT_BROKER_LIST},
    {"configs", "describe", CMD_CONFIGS_DESCRIBE, &bk_ctl_configs_describe_help,
     OPT_TOPIC | OPT_ENTITY_TYPE | OPT_ENTITY_NAME | OPT_ENTITY_DEFAULT |
         OPT_ALL},
    {"configs", "alter", CMD_CONFIGS_ALTER, &bk_ctl_configs_alter_help,
     OPT_TOPIC | OPT_ENTITY_TYPE | OPT_ENTITY_NAME | OPT_ENTITY_DEFAULT |
         OPT_ADD_CONFIG | OPT_DELETE_CONFIG},
    {"cluster", "status", CMD_CLUSTER_STATUS, &bk_ctl_cluster_status_help, 0},
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
            (strcmp(w0, "topics") == 0 || strcmp(w0, "brokers") == 0 ||
             strcmp(w0, "partitions") == 0 || strcmp(w0, "configs") == 0 ||
             strcmp(w0, "cluster") == 0))
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
    if (cmd == CMD_ELECT && a->partition) {
        long p;
        if (!a->topic)
            return usage("--partition needs --topic");
        if (!parse_int(a->partition, 0, INT32_MAX, &p))
            return usage("bad --partition '%s' (0..2147483647)", a->partition);
    }
    if (cmd == CMD_REASSIGN && (st = check_reassign(a)) >= 0)
        return st;
    if ((cmd == CMD_CONFIGS_DESCRIBE || cmd == CMD_CONFIGS_ALTER) &&
        (st = bk_ctl_configs_check(a, cmd == CMD_CONFIGS_ALTER)) >= 0)
        return st;

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
    case CMD_ELECT:
        st = cmd_elect(zk, a);
        break;
    case CMD_BROKERS:
        st = cmd_brokers(zk);
        break;
    case CMD_REASSIGN:
        st = cmd_reassign(zk, a);
        break;
    case CMD_CONFIGS_DESCRIBE:
        st = bk_ctl_configs_describe(zk, a);
        break;
    case CMD_CONFIGS_ALTER:
        st = bk_ctl_configs_alter(zk, a);
        break;
    case CMD_CLUSTER_STATUS:
        st = bk_ctl_cluster_status(zk, a);
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
    if (bk_ctlg_wants(argc, argv)) /* coordinator/brookctl_groups.c */
        return bk_ctlg_main(argc, argv);
    args a;
    int st = parse_args(argc, argv, &a);
    if (st < 0)
        st = run(&a);
    free_args(&a);
    if (fflush(stdout) != 0 && st == EXIT_OK)
        st = EXIT_FAILED; /* e.g. stdout is a full disk or closed pipe */
    return st;
}
