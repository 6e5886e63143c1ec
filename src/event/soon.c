#include "event/soon.h"

void lux_soon_queue_init(lux_soon_queue *q) {
    q->head.next = q->head.prev = &q->head;
    q->head.cb = NULL;
}

void lux_soon_run(lux_soon_queue *q) {
    while (lux_soon_pending(q)) {
        lux_soon *s = q->head.next;
        lux_soon_cancel(s);
        s->cb(s);
    }
}
