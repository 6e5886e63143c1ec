/*
 * Timers and per-worker state for modules. Every worker thread runs one event loop; a module
 * reaches its worker through r->worker. Everything here is called from that worker's thread
 * only, so none of it takes a lock.
 */
#ifndef LUX_TIMER_PUBLIC_H
#define LUX_TIMER_PUBLIC_H

#include <stdint.h>

typedef struct lux_worker lux_worker;
typedef struct lux_module lux_module;

/* A timer lives inside its owner (no allocation per timer); set cb, then arm it. The fields
 * other than cb are the loop's. */
typedef struct lux_timer lux_timer;
typedef void (*lux_timer_cb)(lux_timer *t);
struct lux_timer {
    int64_t due;  /* when the owner wants the callback, in the clock's milliseconds */
    int64_t key;  /* the heap's order: the due time when it was last sifted, <= due */
    uint32_t pos; /* index in the heap + 1; 0 while not armed */
    lux_timer_cb cb;
};

/* The worker's clock: milliseconds on CLOCK_MONOTONIC, refreshed once per loop iteration. */
int64_t lux_worker_now_ms(const lux_worker *w);
/*
 * Run t->cb from w's loop once lux_worker_now_ms() reaches due_ms (after the batch of events at
 * hand when due_ms is now or past). Arming an armed timer moves it. 0, or -1 out of memory
 * (only the first arming of a timer can fail). The owner cancels the timer before freeing it.
 */
int lux_worker_timer_arm(lux_worker *w, lux_timer *t, int64_t due_ms);
void lux_worker_timer_cancel(lux_worker *w, lux_timer *t);

/*
 * Module m's slot on worker w, initially NULL, for state the module keeps across requests and
 * reloads on that worker (a cache, a store, backend connections): each worker has its own, so
 * the request path needs no lock. NULL when out of memory. Free what it points to in a
 * lux_worker_on_stop callback.
 */
void **lux_worker_data(lux_worker *w, const lux_module *m);
/* Call fn(arg) on w's thread when the worker stops, after its connections have closed (last
 * registered, first called). 0, or -1 out of memory. */
int lux_worker_on_stop(lux_worker *w, void (*fn)(void *arg), void *arg);

#endif
