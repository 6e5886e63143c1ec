/*
 * The "run soon" queue: callbacks due now, run in the order they were queued, from the loop
 * (after the batch of events at hand, where the due timers run). A lux_soon lives inside its
 * owner like a timer; queueing and cancelling are O(1) and never allocate, so they cannot
 * fail. What would otherwise be a timer armed for "now" (deliver a response from the loop,
 * free an object once the batch is over) belongs here: it never touches the timer heap.
 *
 * The queue is a circular doubly linked list through a sentinel: an entry unlinks itself
 * without a search, and an entry's `next` is NULL exactly while it is not queued.
 */
#ifndef LUX_SOON_H
#define LUX_SOON_H

#include <stddef.h>

typedef struct lux_soon lux_soon;
typedef void (*lux_soon_cb)(lux_soon *s);
struct lux_soon {
    lux_soon *next, *prev; /* the queue's; NULL while not queued */
    lux_soon_cb cb;        /* the owner's: set before queueing */
};

typedef struct {
    lux_soon head; /* sentinel: head.next is the first entry, head.prev the last */
} lux_soon_queue;

void lux_soon_queue_init(lux_soon_queue *q);
/* Run every queued callback, first queued first; each leaves the queue before its callback
 * runs, so a callback may queue or cancel any entry, itself included. Entries queued by a
 * callback run in the same call, after those queued before them. */
void lux_soon_run(lux_soon_queue *q);

static inline int lux_soon_queued(const lux_soon *s) {
    return s->next != NULL;
}

static inline int lux_soon_pending(const lux_soon_queue *q) {
    return q->head.next != &q->head;
}

/* Queue s at the end; an entry already queued keeps its place. */
static inline void lux_soon_push(lux_soon_queue *q, lux_soon *s) {
    if (s->next)
        return;
    lux_soon *last = q->head.prev;
    s->prev = last;
    s->next = &q->head;
    last->next = s;
    q->head.prev = s;
}

/* Take s out of the queue; nothing happens when it is not in it. */
static inline void lux_soon_cancel(lux_soon *s) {
    if (!s->next)
        return;
    s->prev->next = s->next;
    s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

#endif
