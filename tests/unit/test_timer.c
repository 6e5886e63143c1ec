/* Timers (event/timer.h) against a reference model, and the loop that runs them. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "event/loop.h"
#include "event/timer.h"
#include "t.h"

#define MAX_FIRED 64

typedef struct {
    lux_timer t;
    int id;
} owned_timer;

static int fired[MAX_FIRED];
static int nfired;

static void record(lux_timer *t) {
    if (nfired < MAX_FIRED)
        fired[nfired++] = ((owned_timer *)t)->id;
}

static void setup(owned_timer *ts, int n, lux_timer_cb cb) {
    nfired = 0;
    for (int i = 0; i < n; i++)
        ts[i] = (owned_timer){.t.cb = cb, .id = i};
}

static void test_runs_in_order_of_due_time(void) {
    lux_timers h;
    lux_timers_init(&h);
    owned_timer ts[5];
    setup(ts, 5, record);
    int64_t due[5] = {50, 10, 40, 20, 30};
    for (int i = 0; i < 5; i++)
        CHECK_INT(lux_timers_arm(&h, &ts[i].t, due[i]), 0);
    CHECK_INT(lux_timers_next(&h), 10);
    lux_timers_run(&h, 9);
    CHECK_INT(nfired, 0);
    lux_timers_run(&h, 30);
    CHECK_INT(nfired, 3);
    CHECK_INT(fired[0], 1);
    CHECK_INT(fired[1], 3);
    CHECK_INT(fired[2], 4);
    CHECK(!lux_timer_armed(&ts[1].t));
    CHECK(lux_timer_armed(&ts[0].t));
    lux_timers_run(&h, 100);
    CHECK_INT(nfired, 5);
    CHECK_INT(fired[3], 2);
    CHECK_INT(fired[4], 0);
    CHECK_INT(lux_timers_next(&h), INT64_MAX);
    lux_timers_free(&h);
}

static void test_cancel(void) {
    lux_timers h;
    lux_timers_init(&h);
    owned_timer ts[3];
    setup(ts, 3, record);
    for (int i = 0; i < 3; i++)
        lux_timers_arm(&h, &ts[i].t, 10 * (i + 1));
    lux_timers_cancel(&h, &ts[0].t);
    lux_timers_cancel(&h, &ts[0].t); /* twice is harmless */
    CHECK(!lux_timer_armed(&ts[0].t));
    lux_timers_run(&h, 100);
    CHECK_INT(nfired, 2);
    CHECK_INT(fired[0], 1);
    CHECK_INT(fired[1], 2);
    lux_timers_free(&h);
}

static void test_rearm_later_and_earlier(void) {
    lux_timers h;
    lux_timers_init(&h);
    owned_timer ts[2];
    setup(ts, 2, record);
    lux_timers_arm(&h, &ts[0].t, 10);
    lux_timers_arm(&h, &ts[1].t, 20);
    lux_timers_arm(&h, &ts[0].t, 30); /* later: must not run at 10 */
    lux_timers_run(&h, 15);
    CHECK_INT(nfired, 0);
    CHECK(lux_timer_armed(&ts[0].t));
    lux_timers_run(&h, 25);
    CHECK_INT(nfired, 1);
    CHECK_INT(fired[0], 1);
    lux_timers_arm(&h, &ts[0].t, 26); /* earlier than 30 */
    CHECK_INT(lux_timers_next(&h), 26);
    lux_timers_run(&h, 26);
    CHECK_INT(nfired, 2);
    CHECK_INT(fired[1], 0);
    lux_timers_free(&h);
}

/* A callback that cancels one timer, arms another due by now, and re-arms itself. */
typedef struct {
    owned_timer first, victim, armed;
    lux_timers h;
} chain_fixture;

static void chain_first(lux_timer *t) {
    chain_fixture *f = (chain_fixture *)((char *)t - offsetof(chain_fixture, first));
    record(t);
    lux_timers_cancel(&f->h, &f->victim.t);
    lux_timers_arm(&f->h, &f->armed.t, 5);
    lux_timers_arm(&f->h, &f->first.t, 1000); /* and itself again */
}

static void test_callback_changes_others(void) {
    chain_fixture f = {0};
    lux_timers_init(&f.h);
    nfired = 0;
    f.first = (owned_timer){.t.cb = chain_first, .id = 0};
    f.victim = (owned_timer){.t.cb = record, .id = 1};
    f.armed = (owned_timer){.t.cb = record, .id = 2};
    lux_timers_arm(&f.h, &f.first.t, 5);
    lux_timers_arm(&f.h, &f.victim.t, 6);
    lux_timers_run(&f.h, 10);
    CHECK_INT(nfired, 2);
    CHECK_INT(fired[0], 0);
    CHECK_INT(fired[1], 2);
    CHECK(!lux_timer_armed(&f.victim.t));
    CHECK(lux_timer_armed(&f.first.t));
    CHECK_INT(lux_timers_next(&f.h), 1000);
    lux_timers_free(&f.h);
}

/* 100,000 random arms, re-arms and cancels against a model that keeps each timer's due time:
 * runs must fire exactly the timers the model says are due, in due-time order. */
#define NT 1000
static owned_timer many[NT];
static int64_t model[NT]; /* due time, -1 when not armed */
static int64_t last_due;
static int order_ok, fired_ok;

static void check_fire(lux_timer *t) {
    owned_timer *o = (owned_timer *)t;
    if (model[o->id] < 0 || t->due != model[o->id])
        fired_ok = 0;
    if (t->due < last_due)
        order_ok = 0;
    last_due = t->due;
    model[o->id] = -2; /* fired */
}

static void test_many_against_model(void) {
    lux_timers h;
    lux_timers_init(&h);
    setup(many, NT, check_fire);
    for (int i = 0; i < NT; i++)
        model[i] = -1;
    srand(12345);
    int64_t now = 0;
    order_ok = fired_ok = 1;
    for (int op = 0; op < 100000; op++) {
        int i = rand() % NT;
        int what = rand() % 8;
        if (what < 5) {
            int64_t due = now + rand() % 5000;
            CHECK_INT(lux_timers_arm(&h, &many[i].t, due), 0);
            model[i] = due;
        } else if (what < 7) {
            lux_timers_cancel(&h, &many[i].t);
            model[i] = -1;
        } else {
            now += rand() % 300;
            last_due = INT64_MIN;
            lux_timers_run(&h, now);
            for (int j = 0; j < NT; j++) {
                if (model[j] >= 0 && model[j] <= now)
                    fired_ok = 0; /* due but did not fire */
                if (model[j] == -2)
                    model[j] = -1;
                if ((model[j] >= 0) != lux_timer_armed(&many[j].t))
                    fired_ok = 0;
            }
        }
    }
    CHECK(order_ok);
    CHECK(fired_ok);
    lux_timers_free(&h);
}

/* The loop: its clock is monotonic, a timer wakes it, and timers run after the whole batch of
 * events (so a timer may close an object whose event was in that batch). */
typedef struct {
    lux_io a, b;
    lux_timer t;
    lux_loop *loop;
    char order[8];
    int n;
} batch_fixture;

static void batch_note(batch_fixture *f, char what) {
    if (f->n < (int)sizeof f->order - 1)
        f->order[f->n++] = what;
}

static void on_a(lux_io *io, unsigned ev) {
    batch_fixture *f = (batch_fixture *)((char *)io - offsetof(batch_fixture, a));
    uint64_t v;
    CHECK_INT(read(io->fd, &v, sizeof v), (long)sizeof v);
    batch_note(f, 'a');
    lux_loop_timer_arm(f->loop, &f->t, lux_loop_now_ms(f->loop));
}

static void on_b(lux_io *io, unsigned ev) {
    batch_fixture *f = (batch_fixture *)((char *)io - offsetof(batch_fixture, b));
    uint64_t v;
    CHECK_INT(read(io->fd, &v, sizeof v), (long)sizeof v);
    batch_note(f, 'b');
    lux_loop_timer_arm(f->loop, &f->t, lux_loop_now_ms(f->loop));
}

static void on_batch_timer(lux_timer *t) {
    batch_fixture *f = (batch_fixture *)((char *)t - offsetof(batch_fixture, t));
    batch_note(f, 't');
    lux_loop_stop(f->loop);
}

static void test_loop_runs_timers_after_the_batch(void) {
    batch_fixture f = {0};
    f.loop = lux_loop_new();
    f.a = (lux_io){.fd = eventfd(1, EFD_NONBLOCK), .cb = on_a};
    f.b = (lux_io){.fd = eventfd(1, EFD_NONBLOCK), .cb = on_b};
    f.t.cb = on_batch_timer;
    CHECK(f.loop && f.a.fd >= 0 && f.b.fd >= 0);
    lux_loop_add(f.loop, &f.a, LUX_EV_READ);
    lux_loop_add(f.loop, &f.b, LUX_EV_READ);
    lux_loop_run(f.loop);
    CHECK_INT(f.n, 3);
    CHECK_INT(f.order[2], 't');
    close(f.a.fd);
    close(f.b.fd);
    lux_loop_free(f.loop);
}

typedef struct {
    lux_timer t;
    lux_loop *loop;
    int64_t fired_at;
} wake_fixture;

static void on_wake_timer(lux_timer *t) {
    wake_fixture *f = (wake_fixture *)t;
    f->fired_at = lux_loop_now_ms(f->loop);
    lux_loop_stop(f->loop);
}

static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_loop_wakes_for_a_timer(void) {
    wake_fixture f = {.t.cb = on_wake_timer};
    f.loop = lux_loop_new();
    int64_t start = lux_loop_now_ms(f.loop);
    int64_t real_start = monotonic_ms();
    CHECK(real_start - start >= 0 && real_start - start < 1000); /* the same clock */
    lux_loop_timer_arm(f.loop, &f.t, start + 30);
    lux_loop_run(f.loop);
    int64_t took = monotonic_ms() - real_start;
    CHECK(f.fired_at >= start + 30);
    CHECK(took >= 30);
    CHECK(took < 900); /* woken by the timer, not by the once-a-second tick (generous bound) */
    lux_loop_free(f.loop);
}

int main(void) {
    RUN(test_runs_in_order_of_due_time);
    RUN(test_cancel);
    RUN(test_rearm_later_and_earlier);
    RUN(test_callback_changes_others);
    RUN(test_many_against_model);
    RUN(test_loop_runs_timers_after_the_batch);
    RUN(test_loop_wakes_for_a_timer);
    T_EXIT();
}
