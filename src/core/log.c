#include "lux/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* The log fd is swapped atomically on reopen; writers never block each other. */
static _Atomic int log_fd = STDERR_FILENO;
static int log_syslog;
static char *log_path;
static pthread_mutex_t reopen_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void lux_logv(lux_log_level level, const char *fmt, va_list ap) {
    char line[4096];
    int n = 0;
    if (log_syslog) {
        vsnprintf(line, sizeof line, fmt, ap);
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(prio[level], "%s", line);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    n = (int)strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ": (%s) ", level_names[level]);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    n += m;
    if ((size_t)n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w; /* nowhere left to report a failing log */
}

void lux_log(lux_log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lux_logv(level, fmt, ap);
    va_end(ap);
}

static int open_target(const char *path) {
    if (path[0] == '|') {
        /* A piped logger: the command reads our lines on its stdin. */
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            return -1;
        pid_t pid = fork();
        if (pid < 0) {
            close(p[0]);
            close(p[1]);
            return -1;
        }
        if (pid == 0) {
            dup2(p[0], STDIN_FILENO);
            execl("/bin/sh", "sh", "-c", path + 1, (char *)NULL);
            _exit(127);
        }
        close(p[0]);
        return p[1];
    }
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

int lux_log_open(const char *path, int use_syslog) {
    if (use_syslog) {
        openlog("lux", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        log_syslog = 1;
        return 0;
    }
    if (!path || !*path)
        return 0;
    int fd = open_target(path);
    if (fd < 0)
        return -1;
    pthread_mutex_lock(&reopen_lock);
    free(log_path);
    log_path = strdup(path);
    int old = log_fd;
    log_fd = fd;
    if (old != STDERR_FILENO)
        close(old);
    pthread_mutex_unlock(&reopen_lock);
    return 0;
}

int lux_log_reopen(void) {
    int rc = 0;
    pthread_mutex_lock(&reopen_lock);
    /* Pipes are not rotated: the logger program owns rotation. */
    if (log_path && log_path[0] != '|') {
        int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            rc = -1;
        } else {
            /* dup2 keeps the number, so a writer racing with us writes to one file or the
             * other, never to a closed descriptor. */
            dup3(fd, log_fd, O_CLOEXEC);
            close(fd);
        }
    }
    pthread_mutex_unlock(&reopen_lock);
    return rc;
}

void lux_log_close(void) {
    pthread_mutex_lock(&reopen_lock);
    if (log_fd != STDERR_FILENO) {
        close(log_fd);
        log_fd = STDERR_FILENO;
    }
    free(log_path);
    log_path = NULL;
    if (log_syslog)
        closelog();
    log_syslog = 0;
    pthread_mutex_unlock(&reopen_lock);
}
