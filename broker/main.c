/*
 * main.c -- brookd: start-up, the event loop, and shutdown.
 *
 * Start-up order (each step fails with a clear message and exit status):
 *   1. configuration (exit 2 on any error, every error listed);
 *   2. lock the log dirs (another brookd on the same dirs: exit 1);
 *   3. ZooKeeper session, bounded by zookeeper.connection.timeout.ms
 *      (unreachable: exit 1), persistent paths, cluster id;
 *   4. log recovery (checkpointed recovery points; torn tails cut);
 *   5. listen (the port is bound before registering, so a registered
 *      broker is one that accepts connections);
 *   6. register /brokers/ids/<id> (id taken: exit 1), read the cluster
 *      picture, create the logs of newly assigned partitions;
 *   7. sd_notify READY=1, run the loop.
 * SIGTERM/SIGINT: when controlled.shutdown.enable, first move leadership
 * away (ControlledShutdown to the controller, broker/ctrlchan.h) while
 * still serving -- clients then see NOT_LEADER and go to the new leader;
 * a second signal skips the wait.  Then stop accepting, answer waiting
 * fetches, let in-flight requests finish (at most DRAIN_MS), flush every
 * log and write the checkpoints, close the ZooKeeper session (the
 * registration vanishes at once), exit 0.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "broker/broker.h"
#include "broker/brokercfg.h"
#include "broker/gcoord.h"
#include "broker/metrics.h"
#include "broker/repl.h"
#include "broker/segment.h"
#include "broker/ctrlchan.h"
#include "broker/zkbroker.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/logging.h"
#include "proto/protocol.h"

#define MOD           "brookd"
#define DRAIN_MS      5000
#define MAX_OVERRIDES 256

#define EXIT_RUNTIME 1 /* could not start, or failed while running */
#define EXIT_CONFIG  2 /* bad command line or configuration */

typedef struct app {
    bk_broker b;
    bk_bcfg cfg;
    bk_zkb *zkb;
    bk_cc *cc;  /* controller channel + controlled shutdown client */
    bool cshut; /* controlled shutdown under way (SIGTERM) */
    int cshut_attempts;
    bk_timer cshut_retry; /* the next attempt, after the backoff */
    bk_timer cshut_timer; /* waits for the moved leaderships to arrive */
    int64_t cshut_ms;     /* when the controller answered */
    int sigfd;
    int exit_code;
    bool fatal; /* stopped because of an error, not a signal */
    bk_timer checkpoint_timer;
    bk_timer hw_checkpoint_timer;
    bk_timer retention_timer;
    bk_timer watchdog_timer;
    int64_t watchdog_ms; /* 0: no watchdog */
} app;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: brookd [--override key=value ...] broker.properties\n"
            "\n"
            "Runs one Brook broker.  The properties file uses Kafka's key\n"
            "names (see deploy/config/broker.properties); --override sets a\n"
            "key on the command line, over the file.  --check-config\n"
            "validates the file (and overrides) and exits: 0 when brookd\n"
            "would accept it.\n"
            "\n"
            "Exit status: 0 after a clean shutdown (SIGTERM or SIGINT),\n"
            "1 when it could not start or failed while running (ZooKeeper\n"
            "unreachable, broker.id already registered, log dir locked...),\n"
            "2 for a bad command line or configuration.\n");
}

static void notify(const char *state)
{
#ifdef HAVE_SYSTEMD
    sd_notify(0, state);
#else
    (void)state;
#endif
}

/* ------------------------------ shutdown ------------------------------ */

static void begin_shutdown(app *a, const char *why)
{
    if (a->b.stopping)
        return;
    BK_INFO(MOD, "shutting down: %s", why);
    notify("STOPPING=1");
    a->b.stopping = true;
    bk_srv_stop_accepting(a->b.srv);
    /* Long polls answer now with what they have; held group joins are
     * told NOT_COORDINATOR (members find the next coordinator). */
    bk_fw_wake_all(a->b.fwq);
    bk_gsvc_unload_all(a->b.gsvc);
    bk_loop_stop(a->b.loop);
}

/* Longest wait, after the controller answered, for this broker to learn
 * (LeaderAndIsr, or its watches) that it no longer leads. */
#define CSHUT_SETTLE_MS 5000
/* Pause before asking again when the controller was gone or had moved. */
#define CSHUT_RESOLVE_MS 300

/* True while a partition is led here that another in-sync replica could
 * lead: the controller has moved it, the news is on its way. */
static bool still_leading(app *a)
{
    for (bk_part *p = bk_parts_first(a->b.parts); p; p = p->next)
        if (p->is_leader && p->nisr > 1)
            return true;
    return false;
}

/* Stops only once this broker knows it is a follower everywhere: a
 * stopping broker ignores new pictures, so produce requests waiting for
 * acks would otherwise wait for the drain's end instead of being told
 * NOT_LEADER_FOR_PARTITION (the answer and the LeaderAndIsr travel on
 * different connections). */
static void on_cshut_settle(bk_loop *loop, bk_timer *t, void *arg)
{
    app *a = arg;
    int64_t waited = bk_clock_mono_ms() - a->cshut_ms;
    if (still_leading(a) && waited < CSHUT_SETTLE_MS) {
        bk_loop_timer_arm(loop, t, 10);
        return;
    }
    BK_INFO(MOD, "%s %lld ms after the controller's answer",
            still_leading(a) ? "still leading partitions"
                             : "no longer leading; stopping",
            (long long)waited);
    begin_shutdown(a, "controlled shutdown done");
}

/* True when no partition of rem[0..n) could move: each has no other
 * in-sync replica here (the controller cannot elect anyone; retrying
 * only delays the stop, e.g. for the last broker of a cluster). */
static bool none_movable(app *a, const bk_ctrl_tp *rem, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bk_part *p = bk_parts_find(a->b.parts, rem[i].topic, rem[i].partition);
        if (p && p->nisr > 1)
            return false;
    }
    return true;
}

static void on_cshut_done(void *arg, int err, bk_ctrl_tp *rem, size_t n);

/* Starts attempt number ++cshut_attempts. */
static void cshut_try(app *a)
{
    a->cshut_attempts++;
    if (bk_cc_controlled_shutdown(a->cc, a->b.loop, a->cshut_attempts,
                                  on_cshut_done, a) != 0)
        begin_shutdown(a, "controlled shutdown could not start");
}

static void on_cshut_retry(bk_loop *loop, bk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    app *a = arg;
    if (!a->b.stopping)
        cshut_try(a);
}

/* The outcome of one attempt: wait for the moves to arrive, retry, or
 * give up and stop as usual. */
static void on_cshut_done(void *arg, int err, bk_ctrl_tp *rem, size_t n)
{
    app *a = arg;
    bool none = err == 0 && none_movable(a, rem, n);
    bk_ctrl_tps_free(rem, n);
    if (a->b.stopping)
        return; /* a second signal, or a fatal error, came first */
    if (err == 0 && n == 0) {
        a->cshut_ms = bk_clock_mono_ms();
        on_cshut_settle(a->b.loop, &a->cshut_timer, a);
        return;
    }
    if (none) {
        BK_INFO(MOD,
                "controlled shutdown: %zu partitions have no other in-sync "
                "replica to take over; stopping",
                n);
        begin_shutdown(a, "controlled shutdown done (nothing else movable)");
        return;
    }
    if (a->cshut_attempts >= a->cfg.controlled_shutdown_max_retries) {
        BK_WARN(MOD,
                "controlled shutdown incomplete after %d attempts; "
                "stopping anyway",
                a->cshut_attempts);
        begin_shutdown(a, "controlled shutdown incomplete");
        return;
    }
    /* The controller is gone or moved (NOT_CONTROLLER, unreachable):
     * its successor is elected within milliseconds, ask it soon. */
    int64_t backoff = a->cfg.controlled_shutdown_backoff_ms;
    if ((err == -1 || err == BK_ERR_NOT_CONTROLLER) &&
        backoff > CSHUT_RESOLVE_MS)
        backoff = CSHUT_RESOLVE_MS;
    bk_loop_timer_arm(a->b.loop, &a->cshut_retry, backoff);
}

static void on_signal(bk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    app *a = arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            if (a->b.stopping)
                BK_INFO(MOD, "%s again: already stopping",
                        strsignal((int)si.ssi_signo));
            else if (!a->cshut && a->cfg.controlled_shutdown && a->cc) {
                BK_INFO(MOD,
                        "%s: controlled shutdown (moving leadership "
                        "away first)",
                        strsignal((int)si.ssi_signo));
                a->cshut = true;
                cshut_try(a);
                continue;
            }
            begin_shutdown(a, strsignal((int)si.ssi_signo));
        }
    }
}

static void on_fatal(void *arg, const char *why)
{
    app *a = arg;
    BK_ERROR(MOD, "%s", why);
    a->fatal = true;
    begin_shutdown(a, why);
}

static void on_md(void *arg, bk_md *md)
{
    app *a = arg;
    if (a->cc)
        bk_cc_set_controller(a->cc, md);
    bk_broker_set_md(&a->b, md);
}

static void on_zk_state(void *arg, bool connected)
{
    app *a = arg;
    a->b.zk_connected = connected;
}

/* ------------------------------- timers ------------------------------- */

static void on_checkpoint(bk_loop *loop, bk_timer *t, void *arg)
{
    app *a = arg;
    bk_parts_checkpoint(a->b.parts);
    bk_loop_timer_arm(loop, t, a->cfg.checkpoint_interval_ms);
}

static void on_hw_checkpoint(bk_loop *loop, bk_timer *t, void *arg)
{
    app *a = arg;
    bk_parts_checkpoint_hw(a->b.parts);
    bk_loop_timer_arm(loop, t, a->cfg.hw_checkpoint_interval_ms);
}

static void on_retention(bk_loop *loop, bk_timer *t, void *arg)
{
    app *a = arg;
    bk_parts_retain(a->b.parts, bk_clock_wall_ms());
    bk_loop_timer_arm(loop, t, a->cfg.retention_check_interval_ms);
}

/* The watchdog ping comes from the loop itself: a loop stuck in a
 * blocking call for WatchdogSec gets the broker restarted by systemd. */
static void on_watchdog(bk_loop *loop, bk_timer *t, void *arg)
{
    app *a = arg;
    notify("WATCHDOG=1");
    bk_loop_timer_arm(loop, t, a->watchdog_ms);
}

/* ------------------------------- start ------------------------------- */

/* --check-config: validate the configuration, start nothing. */
static bool check_config_only;

static int parse_args(int argc, char **argv, const char **path, const char **ov,
                      size_t *nov)
{
    *path = NULL;
    *nov = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(s, "--version") == 0) {
            printf("brookd %s\n", PACKAGE_VERSION);
            exit(0);
        }
        if (strcmp(s, "--check-config") == 0) {
            check_config_only = true;
            continue;
        }
        if (strcmp(s, "--override") == 0 ||
            strncmp(s, "--override=", 11) == 0) {
            const char *kv = s[10] == '=' ? s + 11 : NULL;
            if (!kv) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "brookd: --override needs key=value\n");
                    return -1;
                }
                kv = argv[++i];
            }
            if (*nov >= MAX_OVERRIDES) {
                fprintf(stderr, "brookd: too many --override\n");
                return -1;
            }
            ov[(*nov)++] = kv;
            continue;
        }
        if (s[0] == '-' && s[1] != '\0') {
            fprintf(stderr, "brookd: unknown option '%s' (try --help)\n", s);
            return -1;
        }
        if (*path) {
            fprintf(stderr, "brookd: more than one properties file given\n");
            return -1;
        }
        *path = s;
    }
    if (!*path) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static void log_config(const bk_bcfg *cfg)
{
    bk_buf dump = BK_BUF_INIT;
    bk_bcfg_dump(cfg, &dump);
    bk_buf_put_u8(&dump, 0);
    if (bk_buf_ok(&dump)) {
        char *line = (char *)dump.data;
        while (line && *line) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            BK_DEBUG(MOD, "config: %s", line);
            line = nl ? nl + 1 : NULL;
        }
    }
    bk_buf_free(&dump);
}

static void fill_log_config(const bk_bcfg *c, bk_log_config *l)
{
    bk_log_config_default(l);
    l->segment_bytes = c->segment_bytes;
    l->segment_ms = c->roll_ms;
    l->retention_bytes = c->retention_bytes;
    l->retention_ms = c->retention_ms;
    l->index_interval_bytes = c->index_interval_bytes;
    l->max_message_bytes = c->message_max_bytes;
    /* Kafka's "Long.MAX_VALUE" means never; the log says -1. */
    l->flush_messages = c->flush_interval_messages == INT64_MAX
                            ? -1
                            : c->flush_interval_messages;
    l->flush_ms = c->flush_interval_ms == INT64_MAX ? -1 : c->flush_interval_ms;
}

/* Runs queued posts (ZooKeeper events, admin answers) so that they free
 * what they carry. */
static void drain_posts(bk_loop *loop)
{
    for (int i = 0; i < 100 && bk_loop_run_once(loop, 0) > 0; i++) {
    }
}

/* Raises the soft RLIMIT_NOFILE to the hard one (Kafka operators set
 * LimitNOFILE high and expect the broker to use it; the systemd unit sets
 * 100000) and logs it with the segment fd cache's share (half of it,
 * broker/segment.h).  A failure is logged, not fatal. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        BK_WARN(MOD, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return;
    }
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            BK_WARN(MOD, "cannot raise RLIMIT_NOFILE from %llu to %llu: %s",
                    (unsigned long long)was, (unsigned long long)rl.rlim_max,
                    strerror(errno));
            rl.rlim_cur = was;
        }
    }
    bk_seg_fd_stats st;
    bk_seg_fd_cache_stats(&st); /* sizes the cache from the new limit */
    BK_INFO(MOD,
            "open files: limit %llu (was %llu, hard %llu); up to %zu "
            "segment files kept open",
            (unsigned long long)rl.rlim_cur, (unsigned long long)was,
            (unsigned long long)rl.rlim_max, st.capacity);
}

int main(int argc, char **argv)
{
    const char *ov[MAX_OVERRIDES];
    size_t nov;
    const char *path;
    if (parse_args(argc, argv, &path, ov, &nov) != 0)
        return EXIT_CONFIG;

    static app a;
    a.exit_code = EXIT_RUNTIME;
    a.sigfd = -1;
    int rc = bk_bcfg_load(path, ov, nov, &a.cfg);
    if (rc != 0) {
        fprintf(stderr, "brookd: %s: configuration rejected\n", path);
        bk_bcfg_free(&a.cfg);
        return EXIT_CONFIG;
    }
    if (check_config_only) {
        /* what a start would check before touching ZooKeeper or disks */
        bk_log_config lc;
        fill_log_config(&a.cfg, &lc);
        rc = bk_log_config_check(&lc);
        if (rc == 0)
            printf("brookd: %s: configuration OK (broker.id=%d)\n", path,
                   a.cfg.broker_id);
        else
            fprintf(stderr, "brookd: %s: the log settings are out of range\n",
                    path);
        bk_bcfg_free(&a.cfg);
        return rc == 0 ? 0 : EXIT_CONFIG;
    }
    bk_logging_set_level(a.cfg.log_level);
    BK_INFO(MOD, "brookd %s starting: broker.id=%d, config %s", PACKAGE_VERSION,
            a.cfg.broker_id, path);
    log_config(&a.cfg);
    raise_nofile();

    /* Signals: block them before any thread exists (ZooKeeper's threads
     * inherit the mask) and read them from a signalfd on the loop. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    a.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

    bk_broker *b = &a.b;
    b->cfg = &a.cfg;
    fill_log_config(&a.cfg, &b->log_cfg);
    b->loop = bk_loop_new();
    b->fwq = b->loop ? bk_fwq_new(b->loop) : NULL;
    b->md = bk_md_new();
    b->repl = b->loop && b->fwq ? bk_repl_new(b) : NULL;
    b->metrics = b->loop ? bk_metrics_new(b) : NULL;
    if (a.sigfd < 0 || !b->loop || !b->fwq || !b->md || !b->repl ||
        !b->metrics) {
        BK_ERROR(MOD, "cannot set up the event loop: %s", strerror(errno));
        goto out;
    }
    if (bk_log_config_check(&b->log_cfg) != 0) {
        BK_ERROR(MOD, "the log settings are out of range (see above)");
        a.exit_code = EXIT_CONFIG;
        goto out;
    }
    bk_parts_opts po = {.dirs = a.cfg.log_dirs,
                        .ndirs = a.cfg.n_log_dirs,
                        .log_cfg = &b->log_cfg,
                        .broker_id = a.cfg.broker_id,
                        .min_isr = a.cfg.min_insync_replicas,
                        .on_change = bk_broker_part_changed,
                        .on_change_arg = b};
    if (bk_parts_new(&po, &b->parts) != 0 || bk_parts_lock_dirs(b->parts) != 0)
        goto out;

    bk_zkb_opts zo = {.loop = b->loop,
                      .cfg = &a.cfg,
                      .state_dir = bk_parts_main_dir(b->parts),
                      .on_md = on_md,
                      .on_state = on_zk_state,
                      .on_fatal = on_fatal,
                      .arg = &a};
    rc = bk_zkb_open(&zo, &a.zkb);
    if (rc != 0)
        goto out;
    b->zkb = a.zkb;
    /* The controller tells brokers of its decisions through the channel
     * (LeaderAndIsr / UpdateMetadata), this one included. */
    a.cc = bk_cc_new(a.cfg.broker_id, a.cfg.controller_socket_timeout_ms);
    if (!a.cc)
        goto out;
    bk_zkb_set_ctrl_notify(a.zkb, bk_cc_notify, a.cc);
    if (bk_parts_check_cluster(b->parts, bk_zkb_cluster_id(a.zkb)) != 0)
        goto out;

    if (bk_parts_open_all(b->parts) != 0)
        goto out;
    /* What recovery verified is now flushed: record it. */
    bk_parts_checkpoint(b->parts);
    bk_parts_checkpoint_hw(b->parts);

    bk_srv_opts so = {.host = a.cfg.listen_host,
                      .port = a.cfg.listen_port,
                      .max_frame = a.cfg.socket_request_max_bytes,
                      .handler = bk_broker_handle,
                      .handler_arg = b,
                      .metrics = b->metrics};
    if (bk_srv_new(b->loop, &so, &b->srv) != 0)
        goto out;
    if (a.cfg.metrics_enabled &&
        bk_metrics_listen(b->metrics, a.cfg.metrics_host,
                          a.cfg.metrics_port) != 0)
        goto out;
    /* listeners=...:0 (tests): advertise the port the kernel picked. */
    if (a.cfg.adv_port == 0)
        a.cfg.adv_port = bk_srv_port(b->srv);

    if (bk_zkb_register(a.zkb) != 0)
        goto out;
    bk_md *md = NULL;
    rc = bk_zkb_read_all(a.zkb, &md);
    if (rc != 0) {
        BK_ERROR(MOD, "cannot read the cluster state from ZooKeeper: %s",
                 bk_strerror(rc));
        goto out;
    }
    bk_cc_set_controller(a.cc, md);
    bk_broker_set_md(b, md);
    if (bk_zkb_start(a.zkb) != 0 ||
        bk_loop_add_fd(b->loop, a.sigfd, BK_EV_READ, on_signal, &a) != 0) {
        BK_ERROR(MOD, "cannot start: out of resources");
        goto out;
    }
    /* The group coordinator (and its own ZooKeeper session for offsets). */
    if (bk_gsvc_new(b, &b->gsvc) != 0) {
        BK_ERROR(MOD, "cannot start the group coordinator");
        goto out;
    }

    bk_timer_init(&a.checkpoint_timer, on_checkpoint, &a);
    bk_timer_init(&a.hw_checkpoint_timer, on_hw_checkpoint, &a);
    bk_timer_init(&a.retention_timer, on_retention, &a);
    bk_timer_init(&a.watchdog_timer, on_watchdog, &a);
    bk_timer_init(&a.cshut_timer, on_cshut_settle, &a);
    bk_timer_init(&a.cshut_retry, on_cshut_retry, &a);
    bk_loop_timer_arm(b->loop, &a.checkpoint_timer,
                      a.cfg.checkpoint_interval_ms);
    bk_loop_timer_arm(b->loop, &a.hw_checkpoint_timer,
                      a.cfg.hw_checkpoint_interval_ms);
    bk_loop_timer_arm(b->loop, &a.retention_timer,
                      a.cfg.retention_check_interval_ms);
#ifdef HAVE_SYSTEMD
    uint64_t wd_usec = 0;
    if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
        a.watchdog_ms = (int64_t)(wd_usec / 2000);
        if (a.watchdog_ms < 1)
            a.watchdog_ms = 1;
        bk_loop_timer_arm(b->loop, &a.watchdog_timer, a.watchdog_ms);
        BK_INFO(MOD, "systemd watchdog: pinging every %lld ms",
                (long long)a.watchdog_ms);
    }
#endif
    BK_INFO(MOD, "broker %d ready on %s:%d (%zu partitions)", a.cfg.broker_id,
            a.cfg.listen_host[0] ? a.cfg.listen_host : "*", bk_srv_port(b->srv),
            bk_parts_count(b->parts));
    notify("READY=1");

    if (bk_loop_run(b->loop) != 0) {
        BK_ERROR(MOD, "the event loop failed: %s", strerror(errno));
        a.fatal = true;
        begin_shutdown(&a, "event loop failure");
    }

    /* Let in-flight requests finish, within a bound. */
    int64_t t0 = bk_clock_mono_ms();
    while (!bk_srv_idle(b->srv) && bk_clock_mono_ms() - t0 < DRAIN_MS)
        bk_loop_run_once(b->loop, 50);
    if (!bk_srv_idle(b->srv))
        BK_WARN(MOD,
                "closing %zu connections with requests unanswered "
                "after %d ms",
                bk_srv_nconns(b->srv), DRAIN_MS);
    bk_loop_timer_cancel(b->loop, &a.checkpoint_timer);
    bk_loop_timer_cancel(b->loop, &a.hw_checkpoint_timer);
    bk_loop_timer_cancel(b->loop, &a.retention_timer);
    bk_loop_timer_cancel(b->loop, &a.watchdog_timer);
    bk_loop_timer_cancel(b->loop, &a.cshut_timer);
    bk_loop_timer_cancel(b->loop, &a.cshut_retry);
    /* Groups: held requests answered, the offsets worker stopped; its
     * answers already posted run before the server goes. */
    bk_gsvc_free(b->gsvc);
    b->gsvc = NULL;
    drain_posts(b->loop);
    /* Fetchers stop before the logs are flushed for the last time. */
    bk_repl_free(b->repl);
    b->repl = NULL;
    bk_srv_free(b->srv);
    b->srv = NULL;
    int frc = bk_parts_flush_all(b->parts);
    int crc = bk_parts_checkpoint(b->parts);
    /* After the flush: a checkpointed HW is never above a durable LEO. */
    if (bk_parts_checkpoint_hw(b->parts) != 0)
        crc = -BK_EIO;
    if (frc == 0 && crc == 0)
        BK_INFO(MOD, "logs flushed and checkpointed");
    /* A clean stop is exit 0; a failed flush means acknowledged data may
     * not be durable: say so with the exit status. */
    a.exit_code = a.fatal || frc != 0 || crc != 0 ? EXIT_RUNTIME : 0;
out:
    if (b->gsvc) {
        bk_gsvc_free(b->gsvc);
        b->gsvc = NULL;
        drain_posts(b->loop);
    }
    if (a.zkb) {
        bk_zkb_stopping(a.zkb);
        bk_zkb_close(a.zkb);
        if (b->loop)
            drain_posts(b->loop);
        bk_zkb_free(a.zkb);
        b->zkb = NULL;
        if (a.exit_code == 0)
            BK_INFO(MOD, "ZooKeeper session closed; bye");
    }
    /* After the worker stopped (it calls the channel's notify hook). */
    bk_cc_free(a.cc);
    a.cc = NULL;
    if (b->loop)
        drain_posts(b->loop); /* a late controlled-shutdown answer */
    bk_repl_free(b->repl);
    b->repl = NULL;
    bk_srv_free(b->srv);
    bk_fwq_free(b->fwq);
    bk_parts_free(b->parts);
    bk_md_free(b->md);
    bk_md_free(b->pending);
    /* After the partitions (they point at its per-topic counters). */
    bk_metrics_free(b->metrics);
    b->metrics = NULL;
    if (b->loop)
        bk_loop_free(b->loop);
    if (a.sigfd >= 0)
        close(a.sigfd);
    bk_bcfg_free(&a.cfg);
    return a.exit_code;
}
