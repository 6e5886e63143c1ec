#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/log_sink.h"
#include "event/loop.h"
#include "lux/log.h"

#define MAX_EVENTS 256

struct lux_loop {
    int epfd;
    int stop;
    time_t now;
    long wall_ms;   /* milliseconds into the current wall-clock second */
    int64_t now_ms; /* CLOCK_MONOTONIC */
    time_t next_tick;
    void (*tick)(void *);
    void *tick_arg;
    lux_timers timers;
    lux_soon_queue soon;
};

static void refresh_clocks(lux_loop *l) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    l->now = ts.tv_sec;
    l->wall_ms = ts.tv_nsec / 1000000;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    l->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

lux_loop *lux_loop_new(void) {
    lux_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    lux_timers_init(&l->timers);
    lux_soon_queue_init(&l->soon);
    refresh_clocks(l);
    return l;
}

void lux_loop_free(lux_loop *l) {
    if (!l)
        return;
    close(l->epfd);
    lux_timers_free(&l->timers);
    while (lux_soon_pending(&l->soon))
        lux_soon_cancel(l->soon.head.next);
    free(l);
}

static uint32_t to_epoll(unsigned ev) {
    return (ev & LUX_EV_READ ? EPOLLIN | EPOLLRDHUP : 0) | (ev & LUX_EV_WRITE ? EPOLLOUT : 0);
}

static int ctl(lux_loop *l, int op, lux_io *io, uint32_t events) {
    struct epoll_event e = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, op, io->fd, &e);
}

int lux_loop_add(lux_loop *l, lux_io *io, unsigned events) {
    if (ctl(l, EPOLL_CTL_ADD, io, to_epoll(events)) < 0)
        return -1;
    io->events = events;
    return 0;
}

int lux_loop_add_exclusive(lux_loop *l, lux_io *io) {
    /* EPOLLEXCLUSIVE wakes one waiting loop per new connection, not all of them. */
    io->events = LUX_EV_READ;
    return ctl(l, EPOLL_CTL_ADD, io, EPOLLIN | EPOLLEXCLUSIVE);
}

int lux_loop_mod(lux_loop *l, lux_io *io, unsigned events) {
    if (io->events == events)
        return 0;
    if (!io->events)
        return lux_loop_add(l, io, events);
    io->events = events;
    return ctl(l, EPOLL_CTL_MOD, io, to_epoll(events));
}

void lux_loop_del(lux_loop *l, lux_io *io) {
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->events = 0;
}

void lux_loop_set_tick(lux_loop *l, void (*tick)(void *), void *arg) {
    l->tick = tick;
    l->tick_arg = arg;
}

void lux_loop_stop(lux_loop *l) {
    l->stop = 1;
}

void lux_loop_tick_soon(lux_loop *l) {
    l->next_tick = 0;
}

time_t lux_loop_now(const lux_loop *l) {
    return l->now;
}

int64_t lux_loop_now_ms(const lux_loop *l) {
    return l->now_ms;
}

int lux_loop_timer_arm(lux_loop *l, lux_timer *t, int64_t due_ms) {
    return lux_timers_arm(&l->timers, t, due_ms);
}

void lux_loop_timer_cancel(lux_loop *l, lux_timer *t) {
    lux_timers_cancel(&l->timers, t);
}

void lux_loop_soon(lux_loop *l, lux_soon *s) {
    lux_soon_push(&l->soon, s);
}

/* Sleep until the nearest timer, or the next wall-clock second for the tick, whichever comes
 * first; not at all while a run-soon callback waits. */
static int wait_ms(const lux_loop *l) {
    if (lux_soon_pending(&l->soon))
        return 0;
    int64_t wait = 1000 - l->wall_ms;
    int64_t next = lux_timers_next(&l->timers);
    if (next - l->now_ms < wait)
        wait = next > l->now_ms ? next - l->now_ms : 0;
    return (int)wait;
}

static void dispatch(struct epoll_event *ev, int n) {
    for (int i = 0; i < n; i++) {
        lux_io *io = ev[i].data.ptr;
        unsigned e = 0;
        if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
            e |= LUX_EV_READ;
        if (ev[i].events & EPOLLOUT)
            e |= LUX_EV_WRITE;
        if (ev[i].events & (EPOLLERR | EPOLLHUP))
            e |= LUX_EV_ERROR;
        io->cb(io, e);
    }
}

/* The due timers, then the run-soon queue, until neither has anything left for now: either
 * may queue or arm for the other. */
static void run_due(lux_loop *l) {
    do {
        lux_timers_run(&l->timers, l->now_ms);
        lux_soon_run(&l->soon);
    } while (!l->stop && lux_timers_next(&l->timers) <= l->now_ms);
}

void lux_loop_run(lux_loop *l) {
    struct epoll_event ev[MAX_EVENTS];
    l->stop = 0;
    l->next_tick = 0;
    while (!l->stop) {
        refresh_clocks(l);
        if (l->now >= l->next_tick) {
            l->next_tick = l->now + 1;
            if (l->tick)
                l->tick(l->tick_arg);
            if (l->stop)
                break;
        }
        /* After the previous batch: a timer or a run-soon callback may close an object whose
         * event was in it. */
        run_due(l);
        if (l->stop)
            break;
        /* Log lines are buffered per thread (core/log_sink.h): what this batch of events, the
         * tick and the timers logged goes out now, before the loop sleeps. */
        lux_log_flush();
        int n = epoll_wait(l->epfd, ev, MAX_EVENTS, wait_ms(l));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            lux_log(LUX_LOG_ERR, "epoll_wait: %s", strerror(errno));
            break;
        }
        if (n > 0) {
            refresh_clocks(l);
            dispatch(ev, n);
        }
    }
    lux_log_flush();
}
