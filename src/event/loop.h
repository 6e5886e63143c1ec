/*
 * One event loop per worker thread: epoll for readiness, timers (event/timer.h) on a
 * millisecond CLOCK_MONOTONIC clock, a coarse wall clock, and a once-a-second tick for
 * housekeeping (caches, resuming accepts, the start of a graceful stop). A loop is only ever
 * touched by its own thread.
 *
 * One iteration: refresh the clocks, run the tick if a second has passed, run the timers that
 * are due and the "run soon" queue (event/soon.h), write out buffered log lines, wait for events
 * (no longer than the nearest timer or the next tick), then dispatch the batch of events. Tick and
 * timers run between batches, never inside one, so they may close any object without leaving an
 * event of this batch pointing at freed memory. The same holds for the run-soon callbacks, which
 * run right after the due timers.
 */
#ifndef LUX_LOOP_H
#define LUX_LOOP_H

#include <stdint.h>
#include <time.h>

#include "event/soon.h"
#include "event/timer.h"

typedef struct lux_loop lux_loop;
typedef struct lux_io lux_io;

enum { LUX_EV_READ = 1, LUX_EV_WRITE = 2, LUX_EV_ERROR = 4 };

typedef void (*lux_io_cb)(lux_io *io, unsigned events);

/* Embedded in whatever owns the fd (a connection, a listener). */
struct lux_io {
    int fd;
    unsigned events; /* what is registered */
    lux_io_cb cb;
};

lux_loop *lux_loop_new(void);
void lux_loop_free(lux_loop *l);
/* Register, change or remove interest; edge-triggered is not used: level-triggered keeps the
 * state machine simple and the cost is one epoll_ctl when interest changes. An io with no
 * events (never added, or removed) is not in the epoll set: lux_loop_mod adds it, so an fd that
 * never has to wait never costs an epoll_ctl. */
int lux_loop_add(lux_loop *l, lux_io *io, unsigned events);
int lux_loop_add_exclusive(lux_loop *l, lux_io *io); /* a listener shared by several loops */
int lux_loop_mod(lux_loop *l, lux_io *io, unsigned events);
void lux_loop_del(lux_loop *l, lux_io *io);

/* Called once a second (and once at start). */
void lux_loop_set_tick(lux_loop *l, void (*tick)(void *), void *arg);
/* Run the tick at the start of the next iteration, after the events at hand. */
void lux_loop_tick_soon(lux_loop *l);
/* Run until lux_loop_stop. Before each wait for events, and when it stops, the loop writes out
 * the log lines its thread buffered (lux_log_flush). */
void lux_loop_run(lux_loop *l);
void lux_loop_stop(lux_loop *l);
/* Seconds since the epoch, refreshed once per loop iteration. */
time_t lux_loop_now(const lux_loop *l);
/* Milliseconds on CLOCK_MONOTONIC, refreshed before the tick and timers and after each wait
 * that returned events. */
int64_t lux_loop_now_ms(const lux_loop *l);
/* Run t->cb once lux_loop_now_ms() reaches due_ms, after the batch of events at hand. Re-arming
 * an armed timer for later is O(1) (see event/timer.h); 0, or -1 out of memory. */
int lux_loop_timer_arm(lux_loop *l, lux_timer *t, int64_t due_ms);
void lux_loop_timer_cancel(lux_loop *l, lux_timer *t);
/* Run s->cb from the loop after the batch of events at hand, where the due timers run and
 * right after them, in the order of queueing; a callback queued by a timer or by another
 * run-soon callback runs before the loop waits again. Queueing a queued entry does nothing;
 * lux_soon_cancel takes it out (O(1)); the owner cancels it before freeing it. */
void lux_loop_soon(lux_loop *l, lux_soon *s);

#endif
