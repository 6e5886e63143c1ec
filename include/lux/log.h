/*
 * The error log. One line per call, prefixed with a timestamp; lines from different workers
 * never interleave. Goes to server.errorlog (a file, or a pipe to a command when it starts with
 * '|'), to syslog with server.errorlog-use-syslog, else stderr. Logging never blocks on a file
 * or piped error log: a line the log cannot take now waits in the thread's buffer (see
 * src/core/log_sink.h) and is dropped, and counted, when that is full.
 */
#ifndef LUX_LOG_H
#define LUX_LOG_H

#include <stdarg.h>

typedef enum { LUX_LOG_ERR, LUX_LOG_WARN, LUX_LOG_INFO, LUX_LOG_DEBUG } lux_log_level;

void lux_log(lux_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lux_logv(lux_log_level level, const char *fmt, va_list ap);

/* Open the configured target (path may be NULL for stderr). Returns 0 or -1 with errno. */
int lux_log_open(const char *path, int use_syslog);
/* Reopen the file after rotation (SIGHUP). */
int lux_log_reopen(void);
/* Write out what the calling thread has buffered, then close the log (after the workers stop). */
void lux_log_close(void);

#endif
