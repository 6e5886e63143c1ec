/* lux: the command line (lighttpd's flags), config loading, daemonising, then run. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <openssl/opensslv.h>
#include <pcre2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/conf_lint.h"
#include "core/core_conf.h"
#include "core/gen.h"
#include "core/module_load.h"
#include "core/version.h"
#include "net/server_run.h"
#include "net/upgrade.h"

static void usage(FILE *out) {
    fprintf(out, "lux/" LUX_VERSION " - a fast web server for lighttpd configurations\n"
                 "usage: lux -f <config> [options]\n"
                 "  -f <file>  configuration file (lighttpd.conf syntax)\n"
                 "  -m <dir>   module directory (overrides server.modules-dir)\n"
                 "  -D         don't go to background (default: daemonise)\n"
                 "  -t         test the configuration file for syntax errors and exit\n"
                 "  -tt        test the configuration, load modules, and exit\n"
                 "  -p         print the parsed configuration in normalised form and exit\n"
                 "  --lint     report deprecated, ignored, duplicated or shadowed directives and\n"
                 "             those lux reads differently from lighttpd (file:line: kind: ...);\n"
                 "             exit status 1 when there is any\n"
                 "  -1         serve the one connection on stdin, then exit\n"
                 "  -i <secs>  shut down gracefully after <secs> of inactivity\n"
                 "  -s <sig>   signal the running server (its server.pid-file): reload, stop,\n"
                 "             quit (graceful), reopen (logs), upgrade (binary)\n"
                 "  -v         show version\n"
                 "  -V         show compile-time features\n"
                 "  -h         show this help\n");
}

/* -V in lighttpd's layout and words, so that scripts grepping "+ OpenSSL support" or
 * "- zlib support" read lux as they read lighttpd. A line says what this binary has. */
typedef struct {
    int on;
    const char *name;
} feature;

static void feature_list(const char *title, const feature *f, size_t n) {
    printf("\n%s\n\n", title);
    for (size_t i = 0; i < n; i++)
        printf("\t%c %s\n", f[i].on ? '+' : '-', f[i].name);
}

static void features(void) {
    static const feature events[] = {
        {0, "select (generic)"},    {0, "poll (Unix)"},          {1, "epoll (Linux)"},
        {0, "/dev/poll (Solaris)"}, {0, "eventports (Solaris)"}, {0, "kqueue (FreeBSD)"},
    };
    static const feature network[] = {
        {1, "linux-sendfile"},    {0, "freebsd-sendfile"}, {0, "darwin-sendfile"},
        {0, "solaris-sendfilev"}, {1, "writev"},           {0, "write"},
        {0, "mmap support"},
    };
    const feature feats[] = {
        {1, "IPv6 support"},
        {1, "zlib support"},
        {1, "zstd support"},
        {1, "bzip2 support"},
        {1, "brotli support"},
        {1, "crypt support"},
        {OPENSSL_VERSION_NUMBER != 0, "OpenSSL support"},
        {0, "mbedTLS support"},
        {0, "NSS crypto support"},
        {0, "GnuTLS support"},
        {0, "WolfSSL support"},
        {0, "Nettle support"},
        {PCRE2_MAJOR >= 10, "PCRE support"},
        {0, "MySQL support"},
        {0, "PgSQL support"},
        {0, "DBI support"},
        {0, "Kerberos support"},
        {0, "LDAP support"},
        {0, "PAM support"},
        {0, "FAM support"},
        {1, "LUA support"},
        {0, "xml support"},
        {1, "SQLite support"},
        {sizeof(time_t) >= 8, "Y2038 support"},
        {1, "HTTP/2 support"},
        {1, "dynamic module loading support"},
        {1, "threads support"},
        {1, "systemd socket activation support"},
    };
    printf("lux/" LUX_VERSION " (ssl) - a fast web server for lighttpd configurations\n");
    feature_list("Event Handlers:", events, sizeof events / sizeof events[0]);
    feature_list("Network handler:", network, sizeof network / sizeof network[0]);
    feature_list("Features:", feats, sizeof feats / sizeof feats[0]);
    printf("\n");
}

/* -s NAME: the signal lux's own semantics give each action (see server.c). */
static const struct {
    const char *name;
    int sig;
} control_signals[] = {
    {"reload", SIGUSR1}, {"stop", SIGTERM},    {"quit", SIGINT},
    {"reopen", SIGHUP},  {"upgrade", SIGUSR2},
};

static int control_signal(const char *name) {
    for (size_t i = 0; i < sizeof control_signals / sizeof control_signals[0]; i++)
        if (strcmp(control_signals[i].name, name) == 0)
            return control_signals[i].sig;
    return 0;
}

/* A process's command name (/proc/PID/comm) into out; "self" for this one. 0 or -1. */
static int process_name(const char *pid, char *out, size_t ol) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/comm", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(out, (int)ol, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    out[strcspn(out, "\n")] = '\0';
    return 0;
}

/* The pid in the pid file, or 0 with a message printed. */
static long read_pid_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "lux: cannot read server.pid-file \"%s\": %s (is lux running?)\n", path,
                strerror(errno));
        return 0;
    }
    char line[64] = "";
    int got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    char *end;
    long pid = got ? strtol(line, &end, 10) : 0;
    if (!got || pid <= 0 || pid > INT_MAX || (*end && *end != '\n')) {
        fprintf(stderr, "lux: server.pid-file \"%s\" holds no process id\n", path);
        return 0;
    }
    return pid;
}

/* -s: signal the lux the config's pid file names, after making sure it is one. */
static int send_control(const lux_gen *g, const char *action) {
    int sig = control_signal(action);
    const char *path = g->core->pid_file.ptr;
    if (!path) {
        fprintf(stderr, "lux: -s needs server.pid-file in the configuration\n");
        return 1;
    }
    long pid = read_pid_file(path);
    if (!pid)
        return 1;
    char pidstr[24], name[64], self[64];
    snprintf(pidstr, sizeof pidstr, "%ld", pid);
    if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
        fprintf(stderr,
                "lux: server.pid-file \"%s\" names process %ld, which is not running "
                "(a stale pid file)\n",
                path, pid);
        return 1;
    }
    /* A pid file outliving its server may name an unrelated process by now: never signal it. */
    if (process_name(pidstr, name, sizeof name) < 0 ||
        process_name("self", self, sizeof self) < 0 || strcmp(name, self) != 0) {
        fprintf(stderr, "lux: process %ld (from \"%s\") is not lux but \"%s\"; not signalled\n",
                pid, path, name);
        return 1;
    }
    if (kill((pid_t)pid, sig) < 0) {
        fprintf(stderr, "lux: cannot signal process %ld: %s\n", pid, strerror(errno));
        return 1;
    }
    return 0;
}

/* The binary's own path, for SIGUSR2 to start whatever is installed there by then. */
static const char *own_binary(void) {
    static char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return NULL;
    path[n] = '\0';
    return path;
}

/* Without -D the parent waits on a pipe until the child is serving (or failed) and exits with
 * the matching status, so an init script sees start-up errors. */
static int ready_pipe = -1;

static int report_ready(void *arg, const char *msg) {
    if (msg)
        fprintf(stderr, "lux: %s\n", msg);
    if (ready_pipe >= 0) {
        char c = msg ? 1 : 0;
        ssize_t n = write(ready_pipe, &c, 1);
        (void)n;
        close(ready_pipe);
        ready_pipe = -1;
        if (!msg) {
            /* The daemon's stdio must not hold the caller's terminal or pipes. */
            FILE *f = freopen("/dev/null", "r", stdin);
            f = f ? freopen("/dev/null", "w", stdout) : f;
            (void)f;
        }
    }
    return 0;
}

static int daemonise(void) {
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        close(p[1]);
        char c = 1;
        ssize_t n = read(p[0], &c, 1);
        _exit(n == 1 && c == 0 ? 0 : 1);
    }
    close(p[0]);
    setsid();
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    ready_pipe = p[1];
    return 0;
}

static void oneshot_stop_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

/*
 * -1 serves the connection on stdin on the main thread, which therefore never waits for signals
 * the way a running server's main thread does. This thread does, and ends the connection the way
 * a client could: SIGINT shuts reading down, so the response in flight completes and the worker
 * closes the connection after it; SIGTERM (or a second SIGINT) shuts both ways, and the worker
 * closes it now. lux then exits as after any one-shot connection.
 */
static void *oneshot_signals(void *arg) {
    sigset_t set;
    oneshot_stop_signals(&set);
    int interrupted = 0;
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        int how = sig == SIGINT && !interrupted ? SHUT_RD : SHUT_RDWR;
        interrupted |= sig == SIGINT;
        if (shutdown(STDIN_FILENO, how) < 0 && errno == ENOTSOCK) {
            /* Not a socket: there is nothing to end gently; die of the signal. */
            signal(sig, SIG_DFL);
            pthread_sigmask(SIG_UNBLOCK, &set, NULL);
            raise(sig);
        }
    }
    return arg;
}

/* Block SIGINT and SIGTERM in every thread (lux_server_run blocks the others) and leave them to
 * oneshot_signals. */
static int watch_oneshot_signals(void) {
    sigset_t set;
    oneshot_stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t t;
    int rc = pthread_create(&t, NULL, oneshot_signals, NULL);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    pthread_detach(t);
    return 0;
}

int main(int argc, char **argv) {
    /* Before anything may start a child (include_shell) that would inherit the pipe. */
    lux_upgrade_take_ready_fd();
    const char *config = NULL, *control = NULL;
    int foreground = 0, test = 0, print = 0, single = 0, lint = 0;
    long idle = 0;
    int opt;
    static const struct option long_opts[] = {{"lint", no_argument, NULL, 'L'}, {0}};
    while ((opt = getopt_long(argc, argv, "f:m:Dtp1i:s:vVh", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'L':
            lint = 1;
            break;
        case 'f':
            config = optarg;
            break;
        case 'm':
            lux_module_dir_override(optarg);
            break;
        case 'D':
            foreground = 1;
            break;
        case 't':
            test++;
            break;
        case 'p':
            print = 1;
            break;
        case '1':
            single = 1;
            break;
        case 'i': {
            char *end;
            idle = strtol(optarg, &end, 10);
            if (*end || idle <= 0) {
                fprintf(stderr, "lux: -i expects a positive number of seconds\n");
                return 1;
            }
            break;
        }
        case 's':
            control = optarg;
            if (!control_signal(control)) {
                fprintf(stderr, "lux: -s expects reload, stop, quit, reopen or upgrade\n");
                return 1;
            }
            break;
        case 'v':
            printf("lux/" LUX_VERSION "\n");
            return 0;
        case 'V':
            features();
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lux: unexpected argument \"%s\"\n", argv[optind]);
        return 1;
    }
    if (!config) {
        fprintf(stderr, "lux: no configuration file; use -f <file>\n");
        return 1;
    }
    if (lint)
        return lux_conf_lint(config, stdout, stderr) == 0 ? 0 : 1;
    char err[2048];
    lux_conf_tree *tree = lux_conf_load_file(config, err, sizeof err);
    if (!tree) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (print) {
        lux_conf_print(tree, stdout);
        lux_conf_free(tree);
        return 0;
    }
    /* -t only reads the config; -tt also sets modules up (opens logs), as lighttpd's -tt does. */
    int test_only = test == 1 || control;
    lux_gen *g = lux_gen_build(tree, test_only ? LUX_GEN_TEST_ONLY : 0, err, sizeof err);
    if (!g) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (test) {
        printf("Syntax OK\n");
        lux_gen_unref(g);
        return 0;
    }
    if (control) {
        int rc = send_control(g, control);
        lux_gen_unref(g);
        return rc;
    }
    if (!foreground && !single && daemonise() < 0) {
        fprintf(stderr, "lux: cannot go to background: %s\n", strerror(errno));
        return 1;
    }
    if (single && watch_oneshot_signals() < 0) {
        fprintf(stderr, "lux: cannot start the signal thread: %s\n", strerror(errno));
        return 1;
    }
    lux_run_opts o = {
        .config_file = config,
        .idle_exit = idle,
        .single_fd = single ? STDIN_FILENO : -1,
        .ready = report_ready,
        .exe = own_binary(),
        .argv = argv,
    };
    return lux_server_run(g, &o);
}
