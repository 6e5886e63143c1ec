/* Log sinks with per-thread buffers and non-blocking pipes (see log_sink.h). */
#include "core/log_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/spawn.h"
#include "lux/log.h"

/* A thread writes its buffer once it holds this much, and drops new lines while it holds
 * LOG_BUF_CAP (a single longer line still goes out on its own). */
#define LOG_FLUSH_AT 16384
#define LOG_BUF_CAP 65536

typedef struct thread_logs thread_logs;

struct lux_log_sink {
    _Atomic long refs; /* the opener's, and one per thread buffer holding lines for the sink */
    int fd;
    int is_pipe;
    char *target;
    char *what;
    /* A pipe takes up to PIPE_BUF bytes in one piece only: a longer write may stop mid-line.
     * The lock serialises writes to the pipe (they never block), and partial_owner, the thread
     * whose line is half written, is the only one that may write until it has finished it. */
    pthread_mutex_t lock;
    thread_logs *partial_owner;
    _Atomic unsigned long dropped;
    _Atomic long last_drop_report;
    _Atomic long last_error_report;
};

/* The calling thread's buffer for one sink; sink NULL marks a free slot that keeps its memory. */
typedef struct {
    lux_log_sink *sink;
    char *buf;
    size_t len, cap;
} thread_buf;

struct thread_logs {
    thread_buf *v;
    size_t n, cap;
};

static _Thread_local thread_logs *my_logs;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void sink_unref(lux_log_sink *s) {
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    close(s->fd); /* a piped logger sees end of input and exits; the server reaps it */
    pthread_mutex_destroy(&s->lock);
    free(s->target);
    free(s->what);
    free(s);
}

static int open_fd(const char *target, int *is_pipe) {
    *is_pipe = target[0] == '|';
    if (!*is_pipe)
        return open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    pid_t pid;
    int fd = lux_spawn_reader(target + 1, &pid);
    if (fd >= 0 && fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

lux_log_sink *lux_log_sink_open(const char *target, const char *what) {
    lux_log_sink *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->target = strdup(target);
    s->what = strdup(what);
    if (!s->target || !s->what || (s->fd = open_fd(target, &s->is_pipe)) < 0) {
        int e = s->target && s->what ? errno : ENOMEM;
        free(s->target);
        free(s->what);
        free(s);
        errno = e;
        return NULL;
    }
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void lux_log_sink_release(lux_log_sink *s) {
    if (s)
        sink_unref(s);
}

int lux_log_sink_reopen(lux_log_sink *s) {
    if (s->is_pipe)
        return 0; /* the logger program owns rotation */
    int fd = open(s->target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    /* dup3 keeps the number, so a thread writing meanwhile writes to one file or the other,
     * never to a closed descriptor. */
    int rc = dup3(fd, s->fd, O_CLOEXEC) < 0 ? -1 : 0;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* ---- reports: made after the sink's lock is released, since they log themselves ---------- */

static unsigned long count_lines(const char *p, size_t n) {
    unsigned long k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == '\n';
    return k ? k : 1;
}

static void report_drops(lux_log_sink *s) {
    if (atomic_load_explicit(&s->dropped, memory_order_relaxed) == 0)
        return;
    long now = (long)time(NULL);
    long last = atomic_load_explicit(&s->last_drop_report, memory_order_relaxed);
    if (now - last < LUX_LOG_DROP_REPORT_SECONDS ||
        !atomic_compare_exchange_strong(&s->last_drop_report, &last, now))
        return;
    unsigned long n = atomic_exchange(&s->dropped, 0);
    if (n)
        lux_log(LUX_LOG_WARN, "%s %s: %lu line(s) dropped: the log does not take them fast enough",
                s->what, s->target, n);
}

static void report_error(lux_log_sink *s, int err) {
    long now = (long)time(NULL);
    if (atomic_exchange_explicit(&s->last_error_report, now, memory_order_relaxed) != now)
        lux_log(LUX_LOG_ERR, "writing %s %s: %s", s->what, s->target, strerror(err));
}

/* ---- writing ------------------------------------------------------------------------------ */

/* Write what b holds without blocking; returns 0, or an errno when the rest had to be dropped. */
static int write_out(thread_logs *me, thread_buf *b) {
    lux_log_sink *s = b->sink;
    size_t off = 0;
    int err = 0;
    if (s->is_pipe)
        pthread_mutex_lock(&s->lock);
    if (!s->is_pipe || !s->partial_owner || s->partial_owner == me) {
        while (off < b->len) {
            ssize_t w = write(s->fd, b->buf + off, b->len - off);
            if (w > 0) {
                off += (size_t)w;
            } else if (w < 0 && errno == EINTR) {
                continue;
            } else if (w < 0 && errno == EAGAIN) {
                break;
            } else {
                err = w < 0 ? errno : EIO;
                atomic_fetch_add(&s->dropped, count_lines(b->buf + off, b->len - off));
                off = b->len;
                break;
            }
        }
        if (s->is_pipe && off > 0)
            s->partial_owner = !err && b->buf[off - 1] != '\n' ? me : NULL;
    }
    if (s->is_pipe)
        pthread_mutex_unlock(&s->lock);
    b->len -= off;
    if (b->len && off)
        memmove(b->buf, b->buf + off, b->len);
    return err;
}

/* Flush slot i and give the sink back once nothing is left to write or report. Reports come
 * last: they log, which may grow the slot array. */
static void flush_slot(thread_logs *me, size_t i) {
    thread_buf *b = &me->v[i];
    lux_log_sink *s = b->sink;
    int err = b->len ? write_out(me, b) : 0;
    if (b->len == 0 && atomic_load_explicit(&s->dropped, memory_order_relaxed) == 0) {
        b->sink = NULL;
        if (err)
            report_error(s, err);
        sink_unref(s);
        return;
    }
    if (err)
        report_error(s, err);
    report_drops(s);
}

static void thread_exit(void *arg) {
    thread_logs *me = arg;
    for (size_t i = 0; i < me->n; i++) {
        if (!me->v[i].sink)
            continue;
        flush_slot(me, i);
        thread_buf *b = &me->v[i];
        if (b->sink) { /* still unwritten: the logger is stalled, and this thread is leaving */
            lux_log_sink *s = b->sink;
            if (b->len)
                atomic_fetch_add(&s->dropped, count_lines(b->buf, b->len));
            pthread_mutex_lock(&s->lock);
            if (s->partial_owner == me)
                s->partial_owner = NULL;
            pthread_mutex_unlock(&s->lock);
            b->sink = NULL;
            sink_unref(s);
        }
    }
    for (size_t i = 0; i < me->n; i++)
        free(me->v[i].buf);
    free(me->v);
    free(me);
    my_logs = NULL;
}

static void make_exit_key(void) {
    pthread_key_create(&exit_key, thread_exit);
}

static thread_logs *logs_of_thread(void) {
    if (my_logs)
        return my_logs;
    pthread_once(&exit_key_once, make_exit_key);
    thread_logs *me = calloc(1, sizeof *me);
    if (!me)
        return NULL;
    pthread_setspecific(exit_key, me); /* flushed and freed when the thread exits */
    my_logs = me;
    return me;
}

static thread_buf *slot_for(thread_logs *me, lux_log_sink *s) {
    thread_buf *free_slot = NULL;
    for (size_t i = 0; i < me->n; i++) {
        if (me->v[i].sink == s)
            return &me->v[i];
        if (!me->v[i].sink && !free_slot)
            free_slot = &me->v[i];
    }
    if (!free_slot) {
        if (me->n == me->cap) {
            size_t cap = me->cap ? me->cap * 2 : 4;
            thread_buf *v = realloc(me->v, cap * sizeof *v);
            if (!v)
                return NULL;
            me->v = v;
            me->cap = cap;
        }
        free_slot = &me->v[me->n++];
        *free_slot = (thread_buf){0};
    }
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    free_slot->sink = s;
    return free_slot;
}

/* Room for n more bytes, growing up to LOG_BUF_CAP (or to one line that is longer). */
static int make_room(thread_buf *b, size_t n) {
    if (b->len + n <= b->cap)
        return 0;
    if (b->len && b->len + n > LOG_BUF_CAP)
        return -1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
        cap *= 2;
    char *p = realloc(b->buf, cap);
    if (!p)
        return -1;
    b->buf = p;
    b->cap = cap;
    return 0;
}

void lux_log_sink_write(lux_log_sink *s, const char *line, size_t n) {
    thread_logs *me = logs_of_thread();
    thread_buf *b = me ? slot_for(me, s) : NULL;
    if (!b) {
        atomic_fetch_add(&s->dropped, 1);
        return;
    }
    int err = 0;
    if (b->len && b->len + n > LOG_BUF_CAP)
        err = write_out(me, b); /* make room if the reader has caught up */
    if (make_room(b, n) < 0) {
        atomic_fetch_add(&s->dropped, 1);
    } else {
        memcpy(b->buf + b->len, line, n);
        b->len += n;
    }
    size_t i = (size_t)(b - me->v);
    if (err)
        report_error(s, err); /* logs: b may be stale from here on */
    if (i < me->n && me->v[i].sink == s && me->v[i].len >= LOG_FLUSH_AT)
        flush_slot(me, i);
}

void lux_log_sink_flush(lux_log_sink *s) {
    thread_logs *me = my_logs;
    for (size_t i = 0; me && i < me->n; i++)
        if (me->v[i].sink == s) {
            flush_slot(me, i);
            return;
        }
}

void lux_log_flush(void) {
    thread_logs *me = my_logs;
    for (size_t i = 0; me && i < me->n; i++)
        if (me->v[i].sink)
            flush_slot(me, i);
}
