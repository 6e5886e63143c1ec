#include "event/timer.h"

#include <stdlib.h>

void lux_timers_init(lux_timers *h) {
    h->heap = NULL;
    h->n = h->cap = 0;
}

void lux_timers_free(lux_timers *h) {
    for (uint32_t i = 0; i < h->n; i++)
        h->heap[i]->pos = 0;
    free(h->heap);
    lux_timers_init(h);
}

static void place(lux_timers *h, uint32_t i, lux_timer *t) {
    h->heap[i] = t;
    t->pos = i + 1;
}

static void sift_up(lux_timers *h, uint32_t i) {
    lux_timer *t = h->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->heap[parent]->key <= t->key)
            break;
        place(h, i, h->heap[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(lux_timers *h, uint32_t i) {
    lux_timer *t = h->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->heap[child + 1]->key < h->heap[child]->key)
            child++;
        if (t->key <= h->heap[child]->key)
            break;
        place(h, i, h->heap[child]);
        i = child;
    }
    place(h, i, t);
}

static int grow(lux_timers *h) {
    uint32_t cap = h->cap ? h->cap * 2 : 64;
    lux_timer **heap = realloc(h->heap, cap * sizeof *heap);
    if (!heap)
        return -1;
    h->heap = heap;
    h->cap = cap;
    return 0;
}

int lux_timers_place(lux_timers *h, lux_timer *t, int64_t due) {
    t->due = due;
    if (t->pos) {
        if (due >= t->key) /* later: see lux_timers_arm */
            return 0;
        t->key = due;
        sift_up(h, t->pos - 1);
        return 0;
    }
    if (h->n == h->cap && grow(h) < 0)
        return -1;
    t->key = due;
    place(h, h->n++, t);
    sift_up(h, h->n - 1);
    return 0;
}

void lux_timers_cancel(lux_timers *h, lux_timer *t) {
    if (!t->pos)
        return;
    uint32_t i = t->pos - 1;
    t->pos = 0;
    lux_timer *last = h->heap[--h->n];
    if (last == t)
        return;
    place(h, i, last);
    if (i > 0 && h->heap[(i - 1) / 2]->key > last->key)
        sift_up(h, i);
    else
        sift_down(h, i);
}

int64_t lux_timers_next(const lux_timers *h) {
    return h->n ? h->heap[0]->key : INT64_MAX;
}

void lux_timers_run(lux_timers *h, int64_t now) {
    while (h->n && h->heap[0]->key <= now) {
        lux_timer *t = h->heap[0];
        if (t->key != t->due) {
            /* Re-armed later since it was sifted: move it to its due time first, so what runs
             * runs in due-time order. */
            t->key = t->due;
            sift_down(h, 0);
            continue;
        }
        lux_timers_cancel(h, t);
        t->cb(t);
    }
}
