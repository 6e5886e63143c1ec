/*
 * Work that would block an event loop (password hashing that costs on purpose) runs on a small
 * shared pool of threads; its result comes back to the loop that asked, through that loop's
 * inbox (an eventfd the loop watches), so the requesting side never takes a lock of its own.
 *
 * A job is a struct the caller allocates with malloc, lux_offload_job first. `work` runs on a
 * pool thread and must touch only the job; `done` runs afterwards on the inbox's loop thread
 * and owns the job (frees it). When the inbox is closed before the job comes back (its worker
 * stopped), the job is released with free() instead and `done` never runs.
 */
#ifndef LUX_OFFLOAD_H
#define LUX_OFFLOAD_H

#include "event/loop.h"

typedef struct lux_offload_job lux_offload_job;
typedef struct lux_offload_inbox lux_offload_inbox;

struct lux_offload_job {
    void (*work)(lux_offload_job *j);
    void (*done)(lux_offload_job *j);
    lux_offload_inbox *inbox; /* set by lux_offload_submit */
    lux_offload_job *next;
};

/* Pool threads, and how many jobs may wait for one before submissions are refused. */
#define LUX_OFFLOAD_THREADS 3
#define LUX_OFFLOAD_QUEUE 256

/* An inbox registered with loop l (NULL on failure); close it from l's thread. */
lux_offload_inbox *lux_offload_inbox_new(lux_loop *l);
void lux_offload_inbox_close(lux_offload_inbox *in);
/* Queue j; the pool starts on first use. 0, or -1 when the queue is full or no thread could
 * start (the caller still owns j). */
int lux_offload_submit(lux_offload_inbox *in, lux_offload_job *j);

#endif
