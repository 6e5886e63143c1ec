/*
 * Timers: a binary min-heap of lux_timer structs embedded in their owners, on a millisecond
 * clock the caller supplies (the loop's CLOCK_MONOTONIC). Arming a timer that is not armed,
 * moving it earlier and cancelling it cost O(log n); moving an armed timer later costs O(1):
 * only its due time changes, and the heap notices when the old position comes up (then it
 * moves the timer down to its new due time instead of running it). A connection that re-arms
 * on every request therefore touches the heap at most once per timeout period.
 *
 * The heap's array grows as needed and never shrinks, so only the first arming of a timer can
 * fail (out of memory); re-arming from its own callback, after it left the heap, never does.
 */
#ifndef LUX_TIMER_H
#define LUX_TIMER_H

#include <stdint.h>

#include "lux/timer.h" /* struct lux_timer: modules embed timers too */

typedef struct {
    lux_timer **heap;
    uint32_t n, cap;
} lux_timers;

void lux_timers_init(lux_timers *h);
void lux_timers_free(lux_timers *h);
/* lux_timers_arm for a timer that is not armed, or moves earlier: it goes into the heap. */
int lux_timers_place(lux_timers *h, lux_timer *t, int64_t due);
/* Arm (or re-arm) t to run its callback once `due` has come. 0, or -1 out of memory. Inline
 * for the common case, an armed timer moved later (a connection's timeout after each
 * request), which only records the new due time. */
static inline int lux_timers_arm(lux_timers *h, lux_timer *t, int64_t due) {
    if (t->pos && due >= t->key) {
        /* Later: leave the heap alone, lux_timers_run moves it when its key comes up. */
        t->due = due;
        return 0;
    }
    return lux_timers_place(h, t, due);
}
void lux_timers_cancel(lux_timers *h, lux_timer *t);
static inline int lux_timer_armed(const lux_timer *t) {
    return t->pos != 0;
}
/* The earliest time at which lux_timers_run may have a callback to run; INT64_MAX if none. */
int64_t lux_timers_next(const lux_timers *h);
/* Run the callback of every timer due at `now`, earliest first; each leaves the heap before its
 * callback runs, so a callback may re-arm or cancel it and any other timer. A timer armed by a
 * callback for `now` or earlier runs in the same call. */
void lux_timers_run(lux_timers *h, int64_t now);

#endif
