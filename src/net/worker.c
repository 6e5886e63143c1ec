/* Worker threads: each runs its own loop over its own connections; listeners are shared. */
#include "net/worker.h"
#include "net/rate_table.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "core/offload.h"
#include "http/stat_cache.h"
#include "lux/log.h"
#include "net/conn.h"

#define MAX_SPARE_BUFS 32
/* Request-pool blocks (4 KiB) kept for reuse. One per request in flight: HTTP/2 alone holds
 * up to server.h2-max-concurrent-streams per connection, and a block that misses this list
 * costs a malloc and a free of a size no thread cache keeps (h2load -c 50 -m 10 keeps about
 * 400 in flight). 512 blocks: 2 MiB per worker at most, and only once that many requests were
 * in flight together. */
#define MAX_SPARE_BLOCKS 512
#define ACCEPT_BATCH 64

const char *lux_worker_date(lux_worker *w) {
    time_t now = lux_loop_now(w->loop);
    if (now != w->date_time) {
        w->date_time = now;
        lux_http_date_format(now, w->date);
    }
    return w->date;
}

static void *spare_pop(lux_spare_list *l) {
    lux_spare *s = l->head;
    if (s) {
        l->head = s->next;
        l->n--;
    }
    return s;
}

static void spare_push(lux_spare_list *l, void *p, unsigned max) {
    if (!p)
        return;
    if (l->n >= max) {
        free(p);
        return;
    }
    lux_spare *s = p;
    s->next = l->head;
    l->head = s;
    l->n++;
}

static void spare_drain(lux_spare_list *l) {
    void *p;
    while ((p = spare_pop(l)))
        free(p);
}

char *lux_worker_buf_get(lux_worker *w) {
    char *b = spare_pop(&w->spare_bufs);
    return b ? b : malloc(LUX_IN_BUF);
}

void lux_worker_buf_put(lux_worker *w, char *buf) {
    spare_push(&w->spare_bufs, buf, MAX_SPARE_BUFS);
}

void *lux_worker_block_get(lux_worker *w) {
    return spare_pop(&w->spare_blocks);
}

void lux_worker_block_put(lux_worker *w, void *block) {
    spare_push(&w->spare_blocks, block, MAX_SPARE_BLOCKS);
}

/* Pick up a newly published generation (after SIGUSR1): new connections use it. */
static void refresh_gen(lux_worker *w) {
    unsigned long seq = atomic_load_explicit(&w->srv->gen_seq, memory_order_acquire);
    if (seq == w->gen_seq)
        return;
    lux_gen *g = lux_server_gen(w->srv);
    lux_gen_unref(w->gen);
    w->gen = g;
    w->gen_seq = seq;
}

static void set_accepting(lux_worker *w, int on) {
    if (w->accepting == on)
        return;
    for (size_t i = 0; i < w->naccepts; i++) {
        if (on)
            lux_loop_add_exclusive(w->loop, &w->accepts[i].io);
        else
            lux_loop_del(w->loop, &w->accepts[i].io);
    }
    w->accepting = on;
}

/* Stopping: take the listeners out of this loop for good and tell the main thread, which closes
 * them once every worker has (whichever of the tick or the wake-up sees the stop first). */
static void let_go_of_listeners(lux_worker *w) {
    set_accepting(w, 0);
    if (!w->stop_seen) {
        w->stop_seen = 1;
        atomic_fetch_add(&w->srv->released, 1);
    }
}

static void on_accept(lux_io *io, unsigned events) {
    lux_accept_io *a = (lux_accept_io *)io;
    lux_worker *w = a->w;
    lux_server *s = w->srv;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        /* Stopping: whatever waits in the queue is another process's after an upgrade (else
         * refused when the listeners close); the wake-up that follows lets go of them. */
        if (atomic_load_explicit(&s->state, memory_order_relaxed) != LUX_RUNNING)
            return;
        if (s->max_connections &&
            atomic_load_explicit(&s->connections, memory_order_relaxed) >= s->max_connections) {
            set_accepting(w, 0); /* resumed by the tick when connections close */
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        /* The worker's own copy of the descriptor: the main thread resets l->fd when it closes
         * the listeners at a stop, and must not race this read. */
        int fd = accept4(a->io.fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                lux_log(LUX_LOG_ERR, "accept: %s; pausing new connections", strerror(errno));
                set_accepting(w, 0);
            }
            return;
        }
        atomic_store_explicit(&s->last_activity, (long)lux_loop_now(w->loop), memory_order_relaxed);
        /* Per connection, not per batch: a batch serves requests inline and may outlast a
         * reload, and a client whose last connection saw the new generation must never get an
         * older one on its next. */
        refresh_gen(w);
        lux_conn_accept(w, a->l, fd, (struct sockaddr *)&ss, sl);
    }
}

static void on_wake(lux_io *io, unsigned events) {
    lux_worker *w = (lux_worker *)((char *)io - offsetof(lux_worker, wake));
    uint64_t v;
    ssize_t n = read(io->fd, &v, sizeof v);
    (void)n;
    refresh_gen(w);
    int state = atomic_load(&w->srv->state);
    if (state == LUX_STOP_NOW) {
        lux_loop_stop(w->loop);
        return;
    }
    if (state != LUX_RUNNING) {
        let_go_of_listeners(w);
        /* Closing idle connections here could free one whose event is still pending in this
         * epoll batch: leave it to the tick, run right after the batch (it tells the
         * connections once; from then on their timers close them). */
        lux_loop_tick_soon(w->loop);
    }
}

/*
 * Told of a graceful stop, a connection that has received nothing closes at once. One accepted
 * in the moment before the stop may not have received its request yet, though its client did
 * send it: it is told only this long after the stop, so that the request is still answered
 * (what a binary upgrade promises: no request lost while the listeners change hands).
 */
#define STOP_GRACE_MS 300

static int time_to_tell_connections(lux_worker *w, int state) {
    int64_t now_ms = lux_loop_now_ms(w->loop);
    if (!w->stop_ms)
        w->stop_ms = now_ms;
    return state == LUX_STOP_NOW || now_ms - w->stop_ms >= STOP_GRACE_MS;
}

static void tick(void *arg) {
    lux_worker *w = arg;
    time_t now = lux_loop_now(w->loop);
    int state = atomic_load(&w->srv->state);
    lux_stat_cache_expire(w->stat_cache, now);
    if (state != LUX_RUNNING) {
        let_go_of_listeners(w);
        if (!w->conns_told && time_to_tell_connections(w, state)) {
            w->conns_told = 1;
            lux_conn_stopping(w);
        }
        if (w->nconns == 0 || (w->stop_deadline && now >= w->stop_deadline)) {
            lux_loop_stop(w->loop);
            return;
        }
        if (!w->stop_deadline) {
            long t = w->gen->core->graceful_shutdown_timeout;
            w->stop_deadline = t > 0 ? now + t : 0;
        }
    } else if (!w->accepting && w->srv->single_fd < 0 &&
               (!w->srv->max_connections ||
                atomic_load(&w->srv->connections) < w->srv->max_connections)) {
        set_accepting(w, 1);
    }
}

lux_worker *lux_worker_new(lux_server *s, unsigned id) {
    lux_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->srv = s;
    w->id = id;
    w->loop = lux_loop_new();
    w->stat_cache = lux_stat_cache_new();
    w->accepts = calloc(s->nlisteners ? s->nlisteners : 1, sizeof *w->accepts);
    w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->wake.cb = on_wake;
    w->offload = w->loop ? lux_offload_inbox_new(w->loop) : NULL;
    if (!w->loop || !w->stat_cache || !w->accepts || w->wake.fd < 0 || !w->offload ||
        lux_loop_add(w->loop, &w->wake, LUX_EV_READ) < 0) {
        lux_worker_join_free(w);
        return NULL;
    }
    w->gen = lux_server_gen(s);
    w->gen_seq = atomic_load(&s->gen_seq);
    for (size_t i = 0; i < s->nlisteners; i++) {
        w->accepts[i].io.fd = s->listeners[i].fd;
        w->accepts[i].io.cb = on_accept;
        w->accepts[i].w = w;
        w->accepts[i].l = &s->listeners[i];
    }
    w->naccepts = s->nlisteners;
    lux_loop_set_tick(w->loop, tick, w);
    return w;
}

static void *worker_main(void *arg) {
    lux_worker *w = arg;
    set_accepting(w, 1);
    lux_loop_run(w->loop);
    /* Stopping: whatever is still open is cut (the graceful deadline has passed). */
    while (w->conns)
        lux_conn_close(w->conns);
    lux_worker_modules_stop(w);
    return NULL;
}

int lux_worker_start(lux_worker *w) {
    return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

void lux_worker_run_single(lux_worker *w, int fd) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
        memset(&ss, 0, sizeof ss);
        ss.ss_family = AF_UNIX;
        sl = sizeof(sa_family_t);
    }
    lux_conn_accept(w, NULL, fd, (struct sockaddr *)&ss, sl);
    if (w->nconns > 0)
        lux_loop_run(w->loop); /* lux_conn_close stops it with the last connection */
    lux_worker_modules_stop(w);
}

void lux_worker_wake(lux_worker *w) {
    uint64_t one = 1;
    ssize_t n = write(w->wake.fd, &one, sizeof one);
    (void)n;
}

void lux_worker_join_free(lux_worker *w) {
    if (!w)
        return;
    lux_worker_modules_stop(w); /* a worker that never ran, or ran no loop */
    spare_drain(&w->spare_bufs);
    spare_drain(&w->spare_blocks);
    if (w->wake.fd >= 0)
        close(w->wake.fd);
    lux_offload_inbox_close(w->offload);
    lux_stat_cache_free(w->stat_cache);
    lux_rate_table_free(w->rates);
    lux_loop_free(w->loop);
    lux_gen_unref(w->gen);
    free(w->accepts);
    free(w);
}
