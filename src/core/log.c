#include "lux/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/log_sink.h"

/* server.errorlog when it is a file or a piped logger; NULL: stderr. Set before the workers
 * start and cleared after they stop, so readers need no lock. */
static lux_log_sink *_Atomic err_sink;
static int log_syslog;

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
    lux_log_sink *sink = atomic_load_explicit(&err_sink, memory_order_acquire);
    if (sink) {
        /* Through this thread's buffer, at once: an error line should not wait for the loop. */
        lux_log_sink_write(sink, line, (size_t)n);
        lux_log_sink_flush(sink);
        return;
    }
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w; /* nowhere left to report a failing log */
}

void lux_log(lux_log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lux_logv(level, fmt, ap);
    va_end(ap);
}

int lux_log_open(const char *path, int use_syslog) {
    if (use_syslog) {
        openlog("lux", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        log_syslog = 1;
        return 0;
    }
    if (!path || !*path)
        return 0;
    lux_log_sink *s = lux_log_sink_open(path, "error log");
    if (!s)
        return -1;
    lux_log_sink_release(atomic_exchange(&err_sink, s));
    return 0;
}

int lux_log_reopen(void) {
    lux_log_sink *s = atomic_load(&err_sink);
    return s ? lux_log_sink_reopen(s) : 0;
}

void lux_log_close(void) {
    lux_log_flush();
    lux_log_sink_release(atomic_exchange(&err_sink, NULL));
    if (log_syslog)
        closelog();
    log_syslog = 0;
}
