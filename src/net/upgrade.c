#include "net/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_FDS_START 3
#define READY_ENV "LUX_UPGRADE_READY_FD"

extern char **environ;

/* Everything the child needs, built before fork: between fork and exec a threaded process may
 * only make async-signal-safe calls, so no malloc and no printf there. */
typedef struct {
    char **argv;
    char **envp;
    char pid_var[32]; /* "LISTEN_PID=" + digits the child writes */
    char *owned[3];   /* the other variables this plan adds, to free */
} exec_plan;

static void plan_free(exec_plan *p) {
    for (size_t i = 0; i < sizeof p->owned / sizeof p->owned[0]; i++)
        free(p->owned[i]);
    free(p->envp);
    free(p->argv);
}

static int is_handover_var(const char *e) {
    return strncmp(e, "LISTEN_PID=", 11) == 0 || strncmp(e, "LISTEN_FDS=", 11) == 0 ||
           strncmp(e, "LISTEN_FDNAMES=", 15) == 0 ||
           strncmp(e, READY_ENV "=", sizeof READY_ENV) == 0;
}

/* "LISTEN_FDNAMES=lux-upgrade:lux-upgrade:..." for n sockets. */
static char *fdnames_var(size_t n) {
    size_t len = strlen("LISTEN_FDNAMES=") + n * (sizeof LUX_UPGRADE_FDNAME) + 1;
    char *v = malloc(len);
    if (!v)
        return NULL;
    strcpy(v, "LISTEN_FDNAMES=");
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(v, ":");
        strcat(v, LUX_UPGRADE_FDNAME);
    }
    return v;
}

static int plan_build(exec_plan *p, const char *exe, char *const *argv, size_t nfds) {
    size_t argc = 0, nenv = 0;
    while (argv[argc])
        argc++;
    while (environ[nenv])
        nenv++;
    p->argv = calloc(argc + 2, sizeof *p->argv);
    p->envp = calloc(nenv + 5, sizeof *p->envp);
    if (!p->argv || !p->envp)
        return -1;
    p->argv[0] = (char *)exe;
    p->argv[1] = "-D";
    for (size_t i = 1; i < argc; i++)
        p->argv[i + 1] = argv[i];
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (!is_handover_var(environ[i]))
            p->envp[k++] = environ[i];
    char fds[32], ready[48];
    snprintf(fds, sizeof fds, "LISTEN_FDS=%zu", nfds);
    snprintf(ready, sizeof ready, READY_ENV "=%zu", LISTEN_FDS_START + nfds);
    strcpy(p->pid_var, "LISTEN_PID=");
    p->envp[k++] = p->pid_var;
    p->owned[0] = strdup(fds);
    p->owned[1] = strdup(ready);
    p->owned[2] = fdnames_var(nfds);
    for (size_t i = 0; i < 3; i++)
        if (!(p->envp[k++] = p->owned[i]))
            return -1;
    return 0;
}

/* Async-signal-safe: append the decimal pid to "LISTEN_PID=". */
static void put_pid(char *var, pid_t pid) {
    char digits[16];
    int n = 0;
    do {
        digits[n++] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid > 0);
    char *p = var + strlen("LISTEN_PID=");
    while (n > 0)
        *p++ = digits[--n];
    *p = '\0';
}

/* In the child: listeners to fds 3.., the readiness pipe right after them, then exec. Copies
 * go above the target range first, so that moving one never overwrites another. */
static void child_exec(const lux_server *s, int ready_w, exec_plan *p) {
    int top = LISTEN_FDS_START + (int)s->nlisteners + 1;
    int high[s->nlisteners + 1];
    for (size_t i = 0; i < s->nlisteners; i++)
        if ((high[i] = fcntl(s->listeners[i].fd, F_DUPFD_CLOEXEC, top)) < 0)
            _exit(127);
    int ready_high = fcntl(ready_w, F_DUPFD_CLOEXEC, top);
    if (ready_high < 0)
        _exit(127);
    for (size_t i = 0; i < s->nlisteners; i++)
        if (dup2(high[i], LISTEN_FDS_START + (int)i) < 0)
            _exit(127);
    if (dup2(ready_high, LISTEN_FDS_START + (int)s->nlisteners) < 0)
        _exit(127);
    put_pid(p->pid_var, getpid());
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(p->argv[0], p->argv, p->envp);
    _exit(127);
}

int lux_upgrade_start(const lux_server *s, const char *exe, char *const *argv, lux_upgrade *u,
                      char *err, size_t el) {
    for (size_t i = 0; i < s->nlisteners; i++)
        if (s->listeners[i].fd < 0) {
            snprintf(err, el, "the listeners are already closed");
            return -1;
        }
    exec_plan plan = {0};
    errno = 0;
    int pipefd[2] = {-1, -1};
    if (plan_build(&plan, exe, argv, s->nlisteners) < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
        snprintf(err, el, "%s", strerror(errno ? errno : ENOMEM));
        plan_free(&plan);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0)
        child_exec(s, pipefd[1], &plan);
    int saved = errno;
    close(pipefd[1]);
    plan_free(&plan);
    if (pid < 0) {
        close(pipefd[0]);
        snprintf(err, el, "fork: %s", strerror(saved));
        return -1;
    }
    *u = (lux_upgrade){pid, pipefd[0]};
    return 0;
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int lux_upgrade_wait(lux_upgrade *u, int timeout_ms) {
    long deadline = now_ms() + timeout_ms;
    char c = 0;
    ssize_t n = -1;
    for (;;) {
        long left = deadline - now_ms();
        struct pollfd pfd = {u->ready_fd, POLLIN, 0};
        int rc = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (rc > 0) {
            n = read(u->ready_fd, &c, 1);
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        if ((rc < 0 && errno != EINTR) || left <= 0)
            break;
    }
    close(u->ready_fd);
    u->ready_fd = -1;
    if (n == 1)
        return 1;
    /* Too slow, or gone: not reaped yet (SIGCHLD waits for the signal loop), so the pid is still
     * its own and the signal reaches no one else. */
    kill(u->pid, SIGTERM);
    return 0;
}

static int ready_fd = -1;

void lux_upgrade_take_ready_fd(void) {
    const char *v = getenv(READY_ENV);
    if (!v)
        return;
    char *end;
    long fd = strtol(v, &end, 10);
    unsetenv(READY_ENV);
    if (*end || fd < LISTEN_FDS_START || fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
        return;
    ready_fd = (int)fd;
}

void lux_upgrade_report_ready(void) {
    if (ready_fd < 0)
        return;
    char c = 1;
    ssize_t n = write(ready_fd, &c, 1);
    (void)n;
    close(ready_fd);
    ready_fd = -1;
}
