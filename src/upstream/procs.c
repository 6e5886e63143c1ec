#include "upstream/procs.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/gen.h"
#include "core/pool.h"
#include "core/spawn.h"
#include "lux/log.h"

#define BACKOFF_MAX 60
#define HEALTHY_AFTER 30 /* seconds up after which a restart starts over at one second */

extern char **environ;

typedef struct {
    char path[108];
    int listen_fd;
    int pidfd; /* -1 while not running */
    pid_t pid;
    time_t started, next_start;
    long backoff;
} backend_proc;

typedef struct {
    char **argv;
    char **envp;
    size_t n;
    backend_proc *procs;
} proc_set;

static int listen_on(const char *path) {
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof un.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(un.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    unlink(path); /* a socket left by an earlier run (or the generation before a reload) */
    if (bind(fd, (struct sockaddr *)&un, sizeof un) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int start_one(proc_set *s, backend_proc *p) {
    int fds[3] = {p->listen_fd, -1, -1};
    if (lux_spawn_exec(s->argv[0], s->argv, s->envp, fds, NULL, &p->pid) < 0) {
        lux_log(LUX_LOG_ERR, "cannot start %s: %s", s->argv[0], strerror(errno));
        return -1;
    }
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    if (p->pidfd < 0) { /* gone already (reaped): watch() starts it again */
        p->pidfd = -1;
        return -1;
    }
    p->started = time(NULL);
    return 0;
}

static int exited(const backend_proc *p) {
    struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
    return poll(&pfd, 1, 0) > 0;
}

/* Main thread: restart processes that exited, pausing longer while they keep failing. */
static void watch(void *arg) {
    proc_set *s = arg;
    time_t now = time(NULL);
    for (size_t i = 0; i < s->n; i++) {
        backend_proc *p = &s->procs[i];
        if (p->pidfd >= 0) {
            if (!exited(p))
                continue;
            close(p->pidfd);
            p->pidfd = -1;
            p->backoff = now - p->started >= HEALTHY_AFTER ? 1
                         : p->backoff < BACKOFF_MAX / 2    ? (p->backoff ? p->backoff * 2 : 1)
                                                           : BACKOFF_MAX;
            p->next_start = now + p->backoff;
            lux_log(LUX_LOG_ERR, "%s (pid %d) on %s exited; starting it again in %ld s", s->argv[0],
                    (int)p->pid, p->path, p->backoff);
            continue;
        }
        if (now >= p->next_start && start_one(s, p) < 0)
            p->next_start = now + (p->backoff = p->backoff ? p->backoff : 1);
    }
}

/* The generation is freed: stop its processes (the main thread reaps them). */
static void stop_all(void *arg) {
    proc_set *s = arg;
    for (size_t i = 0; i < s->n; i++) {
        backend_proc *p = &s->procs[i];
        if (p->pidfd >= 0) {
            syscall(SYS_pidfd_send_signal, p->pidfd, SIGTERM, NULL, 0);
            close(p->pidfd);
        }
        if (p->listen_fd >= 0)
            close(p->listen_fd);
    }
}

static char **split_args(lux_gen *gen, const char *cmd) {
    char *copy = lux_pool_strndup(&gen->pool, cmd, strlen(cmd));
    size_t max = strlen(cmd) / 2 + 2;
    char **argv = lux_pool_alloc(&gen->pool, max * sizeof *argv);
    if (!copy || !argv)
        return NULL;
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
        argv[n++] = t;
    argv[n] = NULL;
    return n ? argv : NULL;
}

static int copy_wanted(const lux_ups_procs_conf *c, const char *entry) {
    if (!c->copy_env)
        return 1;
    size_t nlen = strcspn(entry, "=");
    for (size_t i = 0; i < c->copy_env->n; i++)
        if (c->copy_env->items[i].len == nlen && !memcmp(c->copy_env->items[i].ptr, entry, nlen))
            return 1;
    return 0;
}

static char **build_env(lux_gen *gen, const lux_ups_procs_conf *c) {
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = lux_pool_alloc(&gen->pool, (n + c->nenv + 1) * sizeof *envp);
    if (!envp)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (copy_wanted(c, environ[i]))
            envp[k++] = lux_pool_strndup(&gen->pool, environ[i], strlen(environ[i]));
    for (size_t i = 0; i < c->nenv; i++) {
        size_t len = c->env[i].key.len + c->env[i].value.len + 2;
        char *e = lux_pool_alloc(&gen->pool, len);
        if (!e)
            return NULL;
        snprintf(e, len, "%s=%s", c->env[i].key.ptr, c->env[i].value.ptr);
        envp[k++] = e;
    }
    envp[k] = NULL;
    for (size_t i = 0; i < k; i++)
        if (!envp[i])
            return NULL;
    return envp;
}

int lux_ups_procs_start(lux_gen *gen, const lux_ups_procs_conf *c, lux_ups_backend *backends,
                        char *err, size_t errlen) {
    proc_set *s = lux_pool_alloc(&gen->pool, sizeof *s);
    if (!s || !(s->procs = lux_pool_alloc(&gen->pool, (size_t)c->nprocs * sizeof *s->procs)) ||
        !(s->envp = build_env(gen, c))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(s->argv = split_args(gen, c->bin_path)) || s->argv[0][0] != '/') {
        snprintf(err, errlen, "\"bin-path\" must start with an absolute path: \"%s\"", c->bin_path);
        return -1;
    }
    s->n = (size_t)c->nprocs;
    for (size_t i = 0; i < s->n; i++) {
        backend_proc *p = &s->procs[i];
        *p = (backend_proc){.listen_fd = -1, .pidfd = -1};
        snprintf(p->path, sizeof p->path, "%s-%zu", c->socket, i);
        if (lux_ups_backend_init(&backends[i], NULL, 0, p->path, err, errlen) < 0)
            return -1;
    }
    if (lux_gen_test_only(gen))
        return 0;
    if (lux_gen_on_free(gen, stop_all, s) < 0 || lux_gen_on_watch(gen, watch, s) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        backend_proc *p = &s->procs[i];
        if ((p->listen_fd = listen_on(p->path)) < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", p->path, strerror(errno));
            return -1;
        }
        if (start_one(s, p) < 0 && p->pidfd < 0 && !p->pid) {
            snprintf(err, errlen, "cannot start %s: %s", s->argv[0], strerror(errno));
            return -1;
        }
    }
    return 0;
}
