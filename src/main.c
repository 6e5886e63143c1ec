/* lux: the command line (lighttpd's flags), config loading, daemonising, then run. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/gen.h"
#include "core/version.h"
#include "net/server_run.h"

static void usage(FILE *out) {
    fprintf(out, "lux/" LUX_VERSION " - a fast web server for lighttpd configurations\n"
                 "usage: lux -f <config> [options]\n"
                 "  -f <file>  configuration file (lighttpd.conf syntax)\n"
                 "  -m <dir>   module directory\n"
                 "  -D         don't go to background (default: daemonise)\n"
                 "  -t         test the configuration file for syntax errors and exit\n"
                 "  -tt        test the configuration, load modules, and exit\n"
                 "  -p         print the parsed configuration in normalised form and exit\n"
                 "  -1         serve the one connection on stdin, then exit\n"
                 "  -i <secs>  shut down gracefully after <secs> of inactivity\n"
                 "  -v         show version\n"
                 "  -V         show compile-time features\n"
                 "  -h         show this help\n");
}

static void features(void) {
    printf("lux/" LUX_VERSION "\n\nEvent handlers:\n\t+ epoll (Linux)\n"
           "\nNetwork handler:\n\t+ linux-sendfile\n"
           "\nFeatures:\n"
           "\t+ IPv6 support\n"
           "\t+ PCRE2 support\n"
           "\t+ threads support (one event loop per core)\n"
           "\t+ systemd socket activation support\n"
           "\t- SSL support\n"
           "\t+ HTTP/2 support (nghttp2)\n"
           "\t- zlib support\n"
           "\t- brotli support\n"
           "\t- zstd support\n"
           "\t- crypt support\n"
           "\t- dynamic module loading support\n");
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
    const char *config = NULL;
    int foreground = 0, test = 0, print = 0, single = 0;
    long idle = 0;
    int opt;
    while ((opt = getopt(argc, argv, "f:m:Dtp1i:vVh")) != -1) {
        switch (opt) {
        case 'f':
            config = optarg;
            break;
        case 'm':
            break; /* built-in modules only in this version */
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
    lux_gen *g = lux_gen_build(tree, test == 1 ? LUX_GEN_TEST_ONLY : 0, err, sizeof err);
    if (!g) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (test) {
        printf("Syntax OK\n");
        lux_gen_unref(g);
        return 0;
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
    };
    return lux_server_run(g, &o);
}
