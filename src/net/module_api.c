/* The module API over lux's internals: what include/lux/timer.h gives modules of their worker
 * (its clock, timers, a slot per module, stop callbacks; all of it on the worker's own thread)
 * and request-pool memory. */
#include <stdlib.h>

#include "core/gen.h"
#include "core/pool.h"
#include "lux/req.h"
#include "net/worker.h"

struct lux_worker_modules {
    const lux_module *module[LUX_MAX_MODULES];
    void *data[LUX_MAX_MODULES];
    size_t n;
    struct stop_callback {
        struct stop_callback *next;
        void (*fn)(void *);
        void *arg;
    } * stops;
};

int64_t lux_worker_now_ms(const lux_worker *w) {
    return lux_loop_now_ms(w->loop);
}

int lux_worker_timer_arm(lux_worker *w, lux_timer *t, int64_t due_ms) {
    return lux_loop_timer_arm(w->loop, t, due_ms);
}

void lux_worker_timer_cancel(lux_worker *w, lux_timer *t) {
    lux_loop_timer_cancel(w->loop, t);
}

void *lux_req_alloc(lux_req *r, size_t size) {
    return lux_pool_alloc(r->pool, size);
}

static struct lux_worker_modules *modules_of(lux_worker *w) {
    if (!w->modules)
        w->modules = calloc(1, sizeof *w->modules);
    return w->modules;
}

void **lux_worker_data(lux_worker *w, const lux_module *m) {
    struct lux_worker_modules *wm = modules_of(w);
    if (!wm)
        return NULL;
    for (size_t i = 0; i < wm->n; i++)
        if (wm->module[i] == m)
            return &wm->data[i];
    /* A module has one slot for the process's life, reloads included: there are never more
     * distinct modules than one generation holds plus those loaded since. */
    if (wm->n == LUX_MAX_MODULES)
        return NULL;
    wm->module[wm->n] = m;
    return &wm->data[wm->n++];
}

int lux_worker_on_stop(lux_worker *w, void (*fn)(void *), void *arg) {
    struct lux_worker_modules *wm = modules_of(w);
    struct stop_callback *c = wm ? malloc(sizeof *c) : NULL;
    if (!c)
        return -1;
    *c = (struct stop_callback){wm->stops, fn, arg};
    wm->stops = c;
    return 0;
}

void lux_worker_modules_stop(lux_worker *w) {
    struct lux_worker_modules *wm = w->modules;
    if (!wm)
        return;
    while (wm->stops) {
        struct stop_callback *c = wm->stops;
        wm->stops = c->next;
        c->fn(c->arg);
        free(c);
    }
    free(wm);
    w->modules = NULL;
}
