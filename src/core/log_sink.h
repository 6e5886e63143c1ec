/*
 * Log sinks: a file or a piped logger that several threads write lines to (the error log,
 * mod_accesslog's targets).
 *
 * A worker must never wait for a log. Each thread queues its lines in a buffer of its own per
 * sink and writes them out in one write() when the buffer passes a threshold, when the thread
 * goes idle (its event loop is about to sleep: lux_log_flush) and when it exits. A piped
 * logger's pipe is non-blocking: when the logger does not keep up, lines wait in the buffer,
 * and once the buffer is full new lines are dropped and counted; the count goes to the error log
 * at most every LUX_LOG_DROP_REPORT_SECONDS. Lines from different threads never interleave, but
 * lines from different workers may reach the log a batch of events apart.
 */
#ifndef LUX_LOG_SINK_H
#define LUX_LOG_SINK_H

#include <stddef.h>

#define LUX_LOG_DROP_REPORT_SECONDS 10

typedef struct lux_log_sink lux_log_sink;

/*
 * Open target: a path (appended to, created 0644) or "|command" (started with lux_spawn_reader,
 * reading the lines on its stdin). what names the log in messages ("access log"). Returns NULL
 * with errno set.
 */
lux_log_sink *lux_log_sink_open(const char *target, const char *what);
/* Give up the opener's reference: the descriptor closes once every thread's buffered lines for
 * the sink are written (or dropped). */
void lux_log_sink_release(lux_log_sink *s);
/* SIGHUP: a file sink opens its path again, in place (the descriptor number stays); a pipe stays.
 */
int lux_log_sink_reopen(lux_log_sink *s);

/* Queue one line, with its '\n', in the calling thread's buffer for s. Never blocks. */
void lux_log_sink_write(lux_log_sink *s, const char *line, size_t n);
/* Write out what the calling thread has queued for s, without blocking. */
void lux_log_sink_flush(lux_log_sink *s);
/* The same for every sink the calling thread has lines for. */
void lux_log_flush(void);

#endif
