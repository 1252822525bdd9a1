/*
 * brookctl.h -- what the files of the admin tool share: the parsed command
 * line, exit statuses, error reporting, and the commands that live outside
 * brookctl.c (configs, cluster).  brookctl.c parses the command line and
 * connects to ZooKeeper; a command function gets both and returns the
 * process's exit status.
 *
 * Threads: the brookctl process's main thread only.
 */
#ifndef BK_BROOKCTL_H
#define BK_BROOKCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "coordinator/zk.h"
#include "coordinator/zkcodec.h"

/* Exit statuses of every brookctl command. */
enum {
    BK_CTL_OK = 0,
    BK_CTL_FAILED = 1,      /* the operation failed */
    BK_CTL_USAGE = 2,       /* bad command line, nothing done */
    BK_CTL_UNREACHABLE = 3, /* ZooKeeper unreachable or lost mid-way */
};

#define BK_CTL_MAX_CONFIGS 64

/* Options, as bits, to check which ones a command accepts. */
enum {
    OPT_TOPIC = 1 << 0,
    OPT_PARTITIONS = 1 << 1,
    OPT_RF = 1 << 2,
    OPT_CONFIG = 1 << 3,
    OPT_IF_EXISTS = 1 << 4,
    OPT_IF_NOT_EXISTS = 1 << 5,
    /* partitions reassign */
    OPT_REASSIGN_FILE = 1 << 6,
    OPT_EXECUTE = 1 << 7,
    OPT_VERIFY = 1 << 8,
    OPT_GENERATE = 1 << 9,
    OPT_TOPICS = 1 << 10,
    OPT_BROKER_LIST = 1 << 11,
    /* configs describe / alter */
    OPT_ENTITY_TYPE = 1 << 12,
    OPT_ENTITY_NAME = 1 << 13,
    OPT_ENTITY_DEFAULT = 1 << 14,
    OPT_ADD_CONFIG = 1 << 15,
    /* partitions elect-leaders */
    OPT_PARTITION = 1 << 16,
    OPT_WAIT = 1 << 17,
    /* configs */
    OPT_DELETE_CONFIG = 1 << 18,
    OPT_ALL = 1 << 19,
};

typedef struct bk_ctl_args {
    const char *zookeeper;
    int timeout_ms;
    bool help;
    const char *words[3];
    int nwords;
    unsigned given; /* OPT_* bits */
    const char *topic;
    const char *partitions, *rf;
    bk_zkc_kv configs[BK_CTL_MAX_CONFIGS]; /* topics create --config */
    size_t nconfigs;
    const char *partition; /* partitions elect-leaders */
    const char *reassign_file, *topics, *broker_list; /* partitions reassign */
    /* configs describe / alter: as given, unparsed (brookctl_configs.c) */
    const char *entity_type, *entity_name;
    const char *add_config;    /* "k=v,k=[a,b],..." (Kafka's syntax) */
    const char *delete_config; /* "k,k" */
} bk_ctl_args;

/* "brookctl: <msg>" and a hint on stderr; returns BK_CTL_USAGE. */
int bk_ctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "brookctl: <msg>" on stderr; returns BK_CTL_FAILED. */
int bk_ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A ZooKeeper failure in the middle of a command: prints msg; returns
 * BK_CTL_UNREACHABLE when the connection was lost (rc == -BK_EIO), else
 * BK_CTL_FAILED. */
int bk_ctl_zk_failed(bk_zk *zk, int rc, const char *msg);

/* ----------------- configs (coordinator/brookctl_configs.c) -----------------
 */
extern const char *const bk_ctl_configs_describe_help;
extern const char *const bk_ctl_configs_alter_help;
/* Usage checks before connecting (alter: true for `configs alter`):
 * -1 to go on, else an exit status. */
int bk_ctl_configs_check(const bk_ctl_args *a, bool alter);
int bk_ctl_configs_describe(bk_zk *zk, const bk_ctl_args *a);
int bk_ctl_configs_alter(bk_zk *zk, const bk_ctl_args *a);

/* ----------------- cluster (coordinator/brookctl_cluster.c) -----------------
 */
extern const char *const bk_ctl_cluster_status_help;
int bk_ctl_cluster_status(bk_zk *zk, const bk_ctl_args *a);

#endif
