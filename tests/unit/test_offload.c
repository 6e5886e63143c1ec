/* The offload pool: jobs run off the loop and come back to it, in full, once each; an inbox
 * closed with jobs still out lets them go without calling back. */
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/offload.h"
#include "t.h"

typedef struct {
    lux_offload_job job;
    int input, output;
    int *done_count, want;
    lux_loop *loop;
} square_job;

static atomic_int worked;

static void square_work(lux_offload_job *j) {
    square_job *s = (square_job *)j;
    s->output = s->input * s->input;
    atomic_fetch_add(&worked, 1);
}

static int wrong_results;

static void square_done(lux_offload_job *j) {
    square_job *s = (square_job *)j;
    if (s->output != s->input * s->input)
        wrong_results++;
    if (++*s->done_count == s->want)
        lux_loop_stop(s->loop);
    free(s);
}

static square_job *new_job(lux_loop *l, int input, int *count, int want) {
    square_job *s = calloc(1, sizeof *s);
    s->job.work = square_work;
    s->job.done = square_done;
    s->input = input;
    s->done_count = count;
    s->want = want;
    s->loop = l;
    return s;
}

/* Wait (bounded) until the pool has worked `target` jobs in all. */
static void wait_worked(int target) {
    for (int i = 0; i < 2500 && atomic_load(&worked) < target; i++)
        usleep(2000);
}

static void test_results_come_back_to_the_loop(void) {
    lux_loop *l = lux_loop_new();
    lux_offload_inbox *in = lux_offload_inbox_new(l);
    CHECK(in != NULL);
    int count = 0, n = 100;
    wrong_results = 0;
    for (int i = 0; i < n; i++)
        CHECK_INT(lux_offload_submit(in, &new_job(l, i, &count, n)->job), 0);
    lux_loop_run(l);
    CHECK_INT(count, n);
    CHECK_INT(wrong_results, 0);
    lux_offload_inbox_close(in);
    lux_loop_free(l);
}

static void test_queue_is_bounded(void) {
    lux_loop *l = lux_loop_new();
    lux_offload_inbox *in = lux_offload_inbox_new(l);
    int count = 0, accepted = 0, refused = 0, n = 4 * LUX_OFFLOAD_QUEUE;
    int before = atomic_load(&worked);
    for (int i = 0; i < n; i++) {
        square_job *s = new_job(l, i, &count, -1);
        if (lux_offload_submit(in, &s->job) == 0)
            accepted++;
        else {
            refused++;
            free(s);
        }
    }
    CHECK(accepted >= LUX_OFFLOAD_QUEUE);
    CHECK(refused > 0 || accepted == n); /* the pool may keep up with a fast producer */
    lux_offload_inbox_close(in); /* jobs still out are freed by the pool, never called back */
    lux_loop_free(l);
    wait_worked(before + accepted);
    CHECK_INT(atomic_load(&worked) - before, accepted);
    CHECK_INT(count, 0);
}

static void test_close_with_jobs_out(void) {
    lux_loop *l = lux_loop_new();
    lux_offload_inbox *in = lux_offload_inbox_new(l);
    int count = 0;
    int before = atomic_load(&worked);
    for (int i = 0; i < 50; i++)
        CHECK_INT(lux_offload_submit(in, &new_job(l, i, &count, -1)->job), 0);
    lux_offload_inbox_close(in);
    lux_loop_free(l);
    wait_worked(before + 50);
    CHECK_INT(atomic_load(&worked) - before, 50);
    CHECK_INT(count, 0);
}

int main(void) {
    RUN(test_results_come_back_to_the_loop);
    RUN(test_queue_is_bounded);
    RUN(test_close_with_jobs_out);
    T_EXIT();
}
