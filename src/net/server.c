/*
 * The server's life: open listeners, drop privileges, start workers, then the main thread waits
 * for signals — INT graceful stop, TERM stop, USR1 reload, HUP reopen logs, USR2 binary upgrade.
 * Each change of state is also told to systemd (sd_notify.h) when it asks.
 */
#include "net/server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "core/sd_notify.h"
#include "lux/log.h"
#include "lux/req.h"
#include "net/listen.h"
#include "net/server_run.h"
#include "net/stats.h"
#include "net/upgrade.h"
#include "net/worker.h"

void lux_server_publish(lux_server *s, lux_gen *g) {
    pthread_mutex_lock(&s->gen_lock);
    lux_gen *old = s->gen;
    s->gen = g;
    pthread_mutex_unlock(&s->gen_lock);
    atomic_fetch_add_explicit(&s->gen_seq, 1, memory_order_release);
    lux_gen_unref(old);
}

lux_gen *lux_server_gen(lux_server *s) {
    pthread_mutex_lock(&s->gen_lock);
    lux_gen *g = lux_gen_ref(s->gen);
    pthread_mutex_unlock(&s->gen_lock);
    return g;
}

/* lighttpd's default when server.max-fds is not set: the soft limit is raised to this if the
 * hard limit allows, and the server plans with no more than this. */
#define DEFAULT_MAX_FDS 4096

/* Set the open-files limit as lighttpd does; returns the descriptors the server plans with. */
static long set_fd_limit(const lux_core_conf *core) {
    struct rlimit rl;
    long planned = core->max_fds > 0 ? core->max_fds : DEFAULT_MAX_FDS;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return planned;
    if (core->max_fds <= 0 && rl.rlim_cur >= DEFAULT_MAX_FDS)
        return DEFAULT_MAX_FDS; /* enough already: leave the limit as it is */
    rlim_t want = (rlim_t)planned;
    if (geteuid() != 0 && want > rl.rlim_max)
        want = rl.rlim_max;
    rl.rlim_cur = want;
    if (want > rl.rlim_max)
        rl.rlim_max = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        lux_log(LUX_LOG_WARN, "cannot set the open-files limit to %lu: %s", (unsigned long)want,
                strerror(errno));
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
            return planned;
        want = rl.rlim_cur;
    }
    return want < (rlim_t)planned ? (long)want : planned;
}

/* server.max-connections as lighttpd reads it: a third of the descriptors by default (each
 * connection may also hold files open), never more than half. */
static long connection_limit(const lux_core_conf *core, long max_fds) {
    if (core->max_connections > max_fds / 2) {
        lux_log(LUX_LOG_WARN,
                "server.max-connections %ld is more than half of the %ld open files "
                "allowed (server.max-fds); using %ld",
                core->max_connections, max_fds, max_fds / 2);
        return max_fds / 2;
    }
    return core->max_connections > 0 ? core->max_connections : max_fds / 3;
}

static int drop_privileges(const lux_core_conf *core, char *err, size_t el) {
    if (geteuid() != 0)
        return 0; /* nothing to drop; lighttpd ignores the settings too */
    struct passwd *pw = NULL;
    struct group *gr = NULL;
    if (core->username.ptr && !(pw = getpwnam(core->username.ptr))) {
        snprintf(err, el, "server.username: unknown user \"%s\"", core->username.ptr);
        return -1;
    }
    if (core->groupname.ptr && !(gr = getgrnam(core->groupname.ptr))) {
        snprintf(err, el, "server.groupname: unknown group \"%s\"", core->groupname.ptr);
        return -1;
    }
    if (core->chroot_dir.ptr && (chroot(core->chroot_dir.ptr) < 0 || chdir("/") < 0)) {
        snprintf(err, el, "server.chroot \"%s\": %s", core->chroot_dir.ptr, strerror(errno));
        return -1;
    }
    gid_t gid = gr ? gr->gr_gid : pw ? pw->pw_gid : 0;
    if ((gr || pw) && setgid(gid) < 0) {
        snprintf(err, el, "setgid: %s", strerror(errno));
        return -1;
    }
    if (pw && (initgroups(pw->pw_name, gid) < 0 || setuid(pw->pw_uid) < 0)) {
        snprintf(err, el, "cannot switch to user %s: %s", pw->pw_name, strerror(errno));
        return -1;
    }
    return 0;
}

/* Written beside its final name and renamed into place, so whoever polls for the file (a test,
 * an init script, systemd's PIDFile=) never reads it empty or half written. */
static int write_pid_file(const char *path, char *err, size_t el) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, el, "server.pid-file \"%s\": name too long", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, el, "server.pid-file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    ssize_t w = write(fd, buf, (size_t)n);
    int rc = close(fd);
    if (w != n || rc < 0 || rename(tmp, path) < 0) {
        snprintf(err, el, "server.pid-file \"%s\": %s", path,
                 w != n ? "short write" : strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static long cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

static void wake_all(lux_server *s) {
    for (size_t i = 0; i < s->nworkers; i++)
        if (s->workers[i]) /* NULL once joined */
            lux_worker_wake(s->workers[i]);
}

int lux_req_server_stopping(const lux_req *r) {
    return r->worker &&
           atomic_load_explicit(&r->worker->srv->state, memory_order_relaxed) != LUX_RUNNING;
}

static unsigned long long monotonic_usec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
}

static void notify_serving(const lux_server *s, const char *what) {
    lux_sd_notifyf("READY=1\nSTATUS=%s: %zu listener(s), %zu worker(s)", what, s->nlisteners,
                   s->nworkers);
}

/* SIGUSR1: re-read the config; on success new connections get it, open ones keep theirs. */
static void reload(lux_server *s, const lux_run_opts *o) {
    /* systemd's Type=notify-reload protocol: the reload's start, stamped, then READY again. */
    lux_sd_notifyf("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading", monotonic_usec());
    char err[1024];
    lux_conf_tree *t = lux_conf_load_file(o->config_file, err, sizeof err);
    lux_gen *g = t ? lux_gen_build(t, 0, err, sizeof err) : NULL;
    if (!g) {
        lux_log(LUX_LOG_ERR, "reload failed, keeping the running config: %s", err);
        notify_serving(s, "reload failed, serving the previous configuration");
        return;
    }
    if (g->nlistens != s->gen->nlistens)
        lux_log(LUX_LOG_WARN, "reload: listener changes take effect on restart");
    lux_server_publish(s, g);
    lux_stats_reloaded();
    wake_all(s);
    lux_log(LUX_LOG_INFO, "configuration reloaded");
    notify_serving(s, "serving (reloaded)");
}

static void stop_workers(lux_server *s, int how) {
    if (atomic_load(&s->state) == LUX_RUNNING)
        lux_sd_notify("STOPPING=1\nSTATUS=stopping");
    atomic_store(&s->state, how);
    wake_all(s);
}

/* How long a new binary may take to serve before the upgrade is given up. */
#define UPGRADE_TIMEOUT_MS 30000

/*
 * SIGUSR2: start the new binary on our listeners; once it serves, it owns the pid file and the
 * unix socket files, and this process stops gracefully. Returns 1 when handed over.
 */
static int upgrade(lux_server *s, const lux_run_opts *o) {
    if (!o->exe) {
        lux_log(LUX_LOG_ERR, "SIGUSR2: this process cannot upgrade (its binary is unknown)");
        return 0;
    }
    char err[256];
    lux_upgrade u;
    if (lux_upgrade_start(s, o->exe, o->argv, &u, err, sizeof err) < 0) {
        lux_log(LUX_LOG_ERR, "SIGUSR2: cannot start %s: %s", o->exe, err);
        return 0;
    }
    lux_log(LUX_LOG_INFO, "SIGUSR2: started %s as pid %ld, waiting for it to serve", o->exe,
            (long)u.pid);
    if (!lux_upgrade_wait(&u, UPGRADE_TIMEOUT_MS)) {
        lux_log(LUX_LOG_ERR, "SIGUSR2: the new process %ld did not start serving; keeping on",
                (long)u.pid);
        return 0;
    }
    for (size_t i = 0; i < s->nlisteners; i++)
        s->listeners[i].inherited = 1;
    lux_log(LUX_LOG_INFO, "SIGUSR2: pid %ld serves now; graceful shutdown", (long)u.pid);
    lux_sd_notifyf("MAINPID=%ld\nSTATUS=upgraded: pid %ld serves", (long)u.pid, (long)u.pid);
    stop_workers(s, LUX_STOP_GRACEFUL);
    return 1;
}

/* After a graceful stop the listening sockets close at once (clients get refused, as with
 * lighttpd), but only once every worker has taken them out of its epoll set. The records are
 * freed at exit: connections still finishing read them ($SERVER["socket"], %A/%p in logs). */
static void close_listeners_when_released(lux_server *s) {
    if (!s->nlisteners || atomic_load(&s->released) < (long)s->nworkers)
        return;
    lux_listen_shut(s);
}

/* The signals the main thread takes with sigtimedwait (blocked everywhere else). */
static void handled_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR2);
    sigaddset(set, SIGCHLD);
}

/* Returns 1 when the listeners were handed over to a new binary (SIGUSR2), else 0. */
static int signal_loop(lux_server *s, const lux_run_opts *o) {
    sigset_t set;
    handled_signals(&set);
    size_t running = s->nworkers;
    int handed_over = 0;
    while (running) {
        int stopping = atomic_load(&s->state) != LUX_RUNNING;
        struct timespec ts = {stopping ? 0 : 1, stopping ? 50 * 1000 * 1000 : 0};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT && atomic_load(&s->state) == LUX_RUNNING) {
            lux_log(LUX_LOG_INFO, "SIGINT: graceful shutdown");
            stop_workers(s, LUX_STOP_GRACEFUL);
        } else if (sig == SIGTERM || (sig == SIGINT)) {
            lux_log(LUX_LOG_INFO, "%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            stop_workers(s, LUX_STOP_NOW);
        } else if (sig == SIGUSR1 && atomic_load(&s->state) == LUX_RUNNING) {
            reload(s, o);
        } else if (sig == SIGUSR2 && atomic_load(&s->state) == LUX_RUNNING) {
            handed_over = upgrade(s, o);
        } else if (sig == SIGHUP) {
            if (lux_log_reopen() < 0)
                lux_log(LUX_LOG_ERR, "cannot reopen the error log: %s", strerror(errno));
            lux_gen *g = lux_server_gen(s);
            lux_gen_reopen(g);
            lux_gen_unref(g);
        } else if (sig == SIGCHLD) {
            while (waitpid(-1, NULL, WNOHANG) > 0) {
            }
        }
        if ((sig == SIGCHLD || sig < 0) && atomic_load(&s->state) == LUX_RUNNING) {
            lux_gen *g = lux_server_gen(s);
            lux_gen_watch(g);
            lux_gen_unref(g);
        }
        if (o->idle_exit > 0 && atomic_load(&s->state) == LUX_RUNNING &&
            atomic_load(&s->connections) == 0 &&
            time(NULL) - atomic_load(&s->last_activity) >= o->idle_exit) {
            lux_log(LUX_LOG_INFO, "idle for %ld s: shutting down", o->idle_exit);
            stop_workers(s, LUX_STOP_GRACEFUL);
        }
        if (atomic_load(&s->state) != LUX_RUNNING) {
            close_listeners_when_released(s);
            /* Join whoever has finished; the loop ends when all have. */
            running = 0;
            for (size_t i = 0; i < s->nworkers; i++)
                if (s->workers[i] && pthread_tryjoin_np(s->workers[i]->thread, NULL) == 0) {
                    lux_worker_join_free(s->workers[i]);
                    s->workers[i] = NULL;
                } else if (s->workers[i]) {
                    running++;
                }
        }
    }
    return handed_over;
}

static int fail(char *msg, int (*ready)(void *, const char *), void *arg) {
    if (ready)
        ready(arg, msg);
    else
        fprintf(stderr, "lux: %s\n", msg);
    return 1;
}

/* A start that fails before any worker runs: the generation goes too, and with it what it
 * started (bin-path backends would otherwise outlive the server). */
static int fail_start(lux_gen *g, char *msg, const lux_run_opts *o) {
    int rc = fail(msg, o->ready, o->ready_arg);
    lux_gen_unref(g);
    return rc;
}

int lux_server_run(lux_gen *g, const lux_run_opts *o) {
    lux_server srv = {.single_fd = -1};
    lux_server *s = &srv;
    pthread_mutex_init(&s->gen_lock, NULL);
    s->gen = g;
    atomic_store(&s->last_activity, (long)time(NULL));
    const lux_core_conf *core = g->core;
    char err[1024];

    /* Signals are taken synchronously by the main thread; workers never see them. */
    sigset_t set;
    handled_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    long max_fds = set_fd_limit(core);
    if (o->single_fd < 0 && lux_listen_open(s, g, err, sizeof err) < 0)
        return fail_start(g, err, o);
    if (lux_log_open(core->errorlog.ptr, core->errorlog_use_syslog) < 0) {
        snprintf(err, sizeof err, "server.errorlog \"%s\": %s", core->errorlog.ptr,
                 strerror(errno));
        return fail_start(g, err, o);
    }
    if (core->pid_file.ptr && write_pid_file(core->pid_file.ptr, err, sizeof err) < 0)
        return fail_start(g, err, o);
    if (drop_privileges(core, err, sizeof err) < 0)
        return fail_start(g, err, o);
    s->max_connections = connection_limit(core, max_fds);

    if (o->single_fd >= 0) {
        s->single_fd = o->single_fd;
        lux_worker *w = lux_stats_start(1, s->max_connections) == 0 ? lux_worker_new(s, 0) : NULL;
        if (!w)
            return fail("out of memory", o->ready, o->ready_arg);
        if (o->ready)
            o->ready(o->ready_arg, NULL);
        lux_worker_run_single(w, o->single_fd);
        lux_worker_join_free(w);
        lux_stats_stop();
        lux_gen_unref(s->gen);
        return 0;
    }

    s->nworkers = core->max_worker > 0 ? (size_t)core->max_worker : (size_t)cpu_count();
    s->workers = calloc(s->nworkers, sizeof *s->workers);
    if (!s->workers || lux_stats_start(s->nworkers, s->max_connections) < 0)
        return fail("out of memory", o->ready, o->ready_arg);
    for (size_t i = 0; i < s->nworkers; i++) {
        s->workers[i] = lux_worker_new(s, (unsigned)i);
        if (!s->workers[i] || lux_worker_start(s->workers[i]) < 0)
            return fail("cannot start worker threads", o->ready, o->ready_arg);
    }
    lux_log(LUX_LOG_INFO, "lux started: %zu listener(s), %zu worker(s)", s->nlisteners,
            s->nworkers);
    if (o->ready)
        o->ready(o->ready_arg, NULL);
    notify_serving(s, "serving");
    lux_upgrade_report_ready();
    /* The start-up generation may be gone after a reload; keep what the exit needs. */
    char *pid_file = core->pid_file.ptr ? strdup(core->pid_file.ptr) : NULL;
    int handed_over = signal_loop(s, o);
    free(s->workers);
    lux_stats_stop();
    lux_listen_free(s);
    if (pid_file && !handed_over) /* else it names the new process */
        unlink(pid_file);
    free(pid_file);
    lux_log(LUX_LOG_INFO, "lux stopped");
    lux_gen_unref(s->gen);
    lux_log_close();
    return 0;
}
