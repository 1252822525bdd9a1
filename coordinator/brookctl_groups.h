/*
 * brookctl_groups.h -- `brookctl groups ...`: consumer groups seen from
 * the admin tool (issue #5, DESIGN.md section 9).
 *
 * Committed offsets live in ZooKeeper (/consumers/<group>/offsets/...,
 * coordinator/offsets.h), so brookctl reads and writes them directly, like
 * the rest of brookctl.  Live membership (state, members, assignments)
 * exists only in the group's coordinator broker; brookctl finds it from
 * ZooKeeper the way brokers do (broker/gcoord.h): the leader of partition
 * abs(javaHash(group)) % N of __consumer_offsets, at the endpoint of
 * /brokers/ids/<leader>, and asks it with the native protocol through a
 * small blocking client (one request frame, one response frame, bounded
 * by --timeout-ms).  Offsets of partitions (earliest, latest, by time)
 * come from the partition leaders with ListOffsets the same way.
 *
 *   groups list
 *   groups describe --group G
 *   groups reset-offsets --group G --topic T[:p,p]... (--to-earliest |
 *       --to-latest | --to-offset N | --to-datetime ISO8601) [--execute]
 *   groups delete --group G
 *
 * brookctl.c hands the whole command line to bk_ctlg_main() when the
 * command word is "groups", so the group commands parse their own options
 * (and the global ones, with the same meaning and exit statuses as the
 * rest of brookctl: 0 ok, 1 failed, 2 usage, 3 ZooKeeper unreachable).
 *
 * Threads: the brookctl process's main thread only.
 */
#ifndef BK_BROOKCTL_GROUPS_H
#define BK_BROOKCTL_GROUPS_H

#include <stdbool.h>
#include <stdint.h>

/* True when the command word of argv (the first word that is neither an
 * option nor an option's value) is "groups". */
bool bk_ctlg_wants(int argc, char **argv);

/* Runs a `groups` command line (argv as main() got it); returns the exit
 * status.  Writes results to stdout and diagnostics to stderr. */
int bk_ctlg_main(int argc, char **argv);

/* Parses an ISO-8601 date-time as kafka-consumer-groups.sh --to-datetime
 * takes it: YYYY-MM-DD[THH:MM[:SS[.sss]]] with an optional zone, Z or
 * +HH:MM / -HH:MM / +HHMM (no zone: local time).  0 and *ms (since the
 * epoch), or -BK_EINVAL. */
int bk_ctlg_parse_datetime(const char *s, int64_t *ms);

#endif
