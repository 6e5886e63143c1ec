/* The run-soon queue (event/soon.h) and its place in the loop: after the batch of events, with
 * the due timers, before the loop waits again. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "event/loop.h"
#include "event/soon.h"
#include "t.h"

typedef struct {
    lux_soon s;
    char id;
} owned_soon;

static char ran[32];
static int nran;
static lux_soon_queue *queue; /* the queue the callbacks below act on */
static owned_soon *victim;    /* cancelled by on_cancel_victim */
static int requeue_left;      /* times on_requeue_self queues itself again */

static void note(char c) {
    if (nran < (int)sizeof ran - 1)
        ran[nran++] = c;
    ran[nran] = '\0';
}

static void record(lux_soon *s) {
    note(((owned_soon *)s)->id);
}

static void reset(owned_soon *es, int n, lux_soon_cb cb) {
    nran = 0;
    ran[0] = '\0';
    for (int i = 0; i < n; i++)
        es[i] = (owned_soon){.s.cb = cb, .id = (char)('0' + i)};
}

static void test_first_queued_runs_first(void) {
    lux_soon_queue q;
    lux_soon_queue_init(&q);
    owned_soon es[4];
    reset(es, 4, record);
    CHECK(!lux_soon_pending(&q));
    lux_soon_push(&q, &es[2].s);
    lux_soon_push(&q, &es[0].s);
    lux_soon_push(&q, &es[3].s);
    lux_soon_push(&q, &es[1].s);
    lux_soon_push(&q, &es[2].s); /* queued already: keeps its place */
    CHECK(lux_soon_pending(&q));
    CHECK(lux_soon_queued(&es[2].s));
    lux_soon_run(&q);
    CHECK_STR(ran, "2031");
    CHECK(!lux_soon_pending(&q));
    for (int i = 0; i < 4; i++)
        CHECK(!lux_soon_queued(&es[i].s));
    lux_soon_run(&q); /* nothing left: nothing runs again */
    CHECK_STR(ran, "2031");
}

static void test_cancel_anywhere(void) {
    lux_soon_queue q;
    lux_soon_queue_init(&q);
    owned_soon es[5];
    reset(es, 5, record);
    for (int i = 0; i < 5; i++)
        lux_soon_push(&q, &es[i].s);
    lux_soon_cancel(&es[0].s); /* the first */
    lux_soon_cancel(&es[2].s); /* one in the middle */
    lux_soon_cancel(&es[4].s); /* the last */
    lux_soon_cancel(&es[4].s); /* not queued: nothing happens */
    CHECK(!lux_soon_queued(&es[2].s));
    lux_soon_push(&q, &es[0].s); /* queued again: at the end now */
    lux_soon_run(&q);
    CHECK_STR(ran, "130");
    lux_soon_push(&q, &es[1].s);
    lux_soon_cancel(&es[1].s); /* the only one */
    CHECK(!lux_soon_pending(&q));
    lux_soon_run(&q);
    CHECK_STR(ran, "130");
}

static void on_cancel_victim(lux_soon *s) {
    record(s);
    lux_soon_cancel(&victim->s);
}

static void on_queue_later(lux_soon *s) {
    record(s);
    lux_soon_push(queue, &victim->s);
}

static void on_requeue_self(lux_soon *s) {
    record(s);
    CHECK(!lux_soon_queued(s)); /* it left the queue before its callback */
    if (requeue_left-- > 0)
        lux_soon_push(queue, s);
}

static void test_callbacks_change_the_queue(void) {
    lux_soon_queue q;
    lux_soon_queue_init(&q);
    queue = &q;
    owned_soon es[4];
    reset(es, 4, record);
    /* 0 cancels 2 before its turn. */
    es[0].s.cb = on_cancel_victim;
    lux_soon_push(&q, &es[0].s);
    lux_soon_push(&q, &es[1].s);
    lux_soon_push(&q, &es[2].s);
    victim = &es[2];
    lux_soon_run(&q);
    CHECK_STR(ran, "01");
    CHECK(!lux_soon_pending(&q));

    /* 1 queues 3, which runs in the same call after those queued before it. */
    reset(es, 4, record);
    es[1].s.cb = on_queue_later;
    victim = &es[3];
    lux_soon_push(&q, &es[1].s);
    lux_soon_push(&q, &es[2].s);
    lux_soon_run(&q);
    CHECK_STR(ran, "123");

    reset(es, 4, record);
    es[0].s.cb = on_requeue_self;
    requeue_left = 2;
    lux_soon_push(&q, &es[0].s);
    lux_soon_push(&q, &es[1].s);
    lux_soon_run(&q);
    CHECK_STR(ran, "0100");
    CHECK(!lux_soon_pending(&q));
}

/* In the loop: io callbacks of one batch queue entries; the entries run after the whole batch
 * in the order queued; one arms a timer for now, whose callback queues another entry, and that
 * one still runs before the loop waits (it stops the loop: a wait would hang the test until
 * the tick, and the timer would not have run first). */
typedef struct {
    lux_io a, b;
    lux_soon sa, sb, last;
    lux_timer t;
    lux_loop *loop;
} loop_fixture;

#define FIXTURE(ptr, member) ((loop_fixture *)((char *)(ptr)-offsetof(loop_fixture, member)))

static void drain(lux_io *io) {
    uint64_t v;
    CHECK_INT(read(io->fd, &v, sizeof v), (long)sizeof v);
}

static void on_a(lux_io *io, unsigned ev) {
    loop_fixture *f = FIXTURE(io, a);
    drain(io);
    note('a');
    lux_loop_soon(f->loop, &f->sa);
}

static void on_b(lux_io *io, unsigned ev) {
    loop_fixture *f = FIXTURE(io, b);
    drain(io);
    note('b');
    lux_loop_soon(f->loop, &f->sb);
}

static void on_sa(lux_soon *s) {
    loop_fixture *f = FIXTURE(s, sa);
    note('A');
    lux_loop_timer_arm(f->loop, &f->t, lux_loop_now_ms(f->loop));
}

static void on_sb(lux_soon *s) {
    (void)s;
    note('B');
}

static void on_timer(lux_timer *t) {
    loop_fixture *f = FIXTURE(t, t);
    note('t');
    lux_loop_soon(f->loop, &f->last);
}

static void on_last(lux_soon *s) {
    note('z');
    lux_loop_stop(FIXTURE(s, last)->loop);
}

static void test_loop_runs_them_after_the_batch(void) {
    loop_fixture f = {0};
    reset(NULL, 0, record);
    f.loop = lux_loop_new();
    f.a = (lux_io){.fd = eventfd(1, EFD_NONBLOCK), .cb = on_a};
    f.b = (lux_io){.fd = eventfd(1, EFD_NONBLOCK), .cb = on_b};
    f.sa.cb = on_sa;
    f.sb.cb = on_sb;
    f.last.cb = on_last;
    f.t.cb = on_timer;
    CHECK(f.loop && f.a.fd >= 0 && f.b.fd >= 0);
    lux_loop_add(f.loop, &f.a, LUX_EV_READ);
    lux_loop_add(f.loop, &f.b, LUX_EV_READ);
    lux_loop_run(f.loop);
    CHECK_INT(nran, 6);
    /* Either io may come first; their entries follow in the same order. */
    CHECK(ran[0] != ran[1] && (ran[0] == 'a' || ran[0] == 'b') && (ran[1] == 'a' || ran[1] == 'b'));
    CHECK_INT(ran[2], toupper((unsigned char)ran[0]));
    CHECK_INT(ran[3], toupper((unsigned char)ran[1]));
    CHECK_STR(ran + 4, "tz");
    close(f.a.fd);
    close(f.b.fd);
    lux_loop_free(f.loop);
}

static void test_loop_free_unqueues(void) {
    lux_loop *loop = lux_loop_new();
    lux_soon s = {.cb = record};
    lux_loop_soon(loop, &s);
    CHECK(lux_soon_queued(&s));
    lux_loop_free(loop);
    CHECK(!lux_soon_queued(&s));
}

int main(void) {
    RUN(test_first_queued_runs_first);
    RUN(test_cancel_anywhere);
    RUN(test_callbacks_change_the_queue);
    RUN(test_loop_runs_them_after_the_batch);
    RUN(test_loop_free_unqueues);
    T_EXIT();
}
