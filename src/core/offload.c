/* The shared blocking-work pool and the per-loop inboxes its results come back through. */
#include "core/offload.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct lux_offload_inbox {
    lux_io io; /* the eventfd, watched by the loop */
    lux_loop *loop;
    pthread_mutex_t lock;
    lux_offload_job *done_head, **done_tail; /* finished, for the loop to take */
    unsigned refs;                           /* the owner's, plus one per job out */
    int closed;
};

/* The pool: one queue for every loop. Threads start on first use and live as long as the
 * process; they hold no resource that needs releasing at exit. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t more;
    lux_offload_job *head, **tail;
    unsigned queued;
    unsigned threads;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, &pool.head, 0, 0};

static void inbox_release(lux_offload_inbox *in) {
    pthread_mutex_destroy(&in->lock);
    free(in);
}

/* A pool thread hands a finished job back; the job's reference on the inbox ends here. */
static void deliver(lux_offload_job *j) {
    lux_offload_inbox *in = j->inbox;
    pthread_mutex_lock(&in->lock);
    int orphan = in->closed;
    if (!orphan) {
        j->next = NULL;
        *in->done_tail = j;
        in->done_tail = &j->next;
        uint64_t one = 1;
        ssize_t n = write(in->io.fd, &one, sizeof one); /* under the lock: the fd stays open */
        (void)n;
    }
    int last = --in->refs == 0;
    pthread_mutex_unlock(&in->lock);
    if (orphan)
        free(j);
    if (last)
        inbox_release(in);
}

static void *pool_main(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&pool.lock);
        while (!pool.head)
            pthread_cond_wait(&pool.more, &pool.lock);
        lux_offload_job *j = pool.head;
        pool.head = j->next;
        if (!pool.head)
            pool.tail = &pool.head;
        pool.queued--;
        pthread_mutex_unlock(&pool.lock);
        j->work(j);
        deliver(j);
    }
    return NULL;
}

/* Start the threads not running yet; called with pool.lock held. */
static void pool_start_locked(void) {
    while (pool.threads < LUX_OFFLOAD_THREADS) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, pool_main, NULL);
        pthread_attr_destroy(&attr);
        if (rc != 0)
            return;
        pool.threads++;
    }
}

/* The loop takes what came back and runs each job's `done`, in the order they finished. */
static void on_inbox(lux_io *io, unsigned events) {
    (void)events;
    lux_offload_inbox *in = (lux_offload_inbox *)io;
    uint64_t v;
    ssize_t n = read(io->fd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&in->lock);
    lux_offload_job *j = in->done_head;
    in->done_head = NULL;
    in->done_tail = &in->done_head;
    pthread_mutex_unlock(&in->lock);
    while (j) {
        lux_offload_job *next = j->next;
        j->done(j);
        j = next;
    }
}

lux_offload_inbox *lux_offload_inbox_new(lux_loop *l) {
    lux_offload_inbox *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    in->io.cb = on_inbox;
    in->loop = l;
    in->done_tail = &in->done_head;
    in->refs = 1;
    pthread_mutex_init(&in->lock, NULL);
    if (in->io.fd < 0 || lux_loop_add(l, &in->io, LUX_EV_READ) < 0) {
        if (in->io.fd >= 0)
            close(in->io.fd);
        inbox_release(in);
        return NULL;
    }
    return in;
}

void lux_offload_inbox_close(lux_offload_inbox *in) {
    if (!in)
        return;
    lux_loop_del(in->loop, &in->io);
    pthread_mutex_lock(&in->lock);
    in->closed = 1;
    close(in->io.fd);
    lux_offload_job *j = in->done_head;
    in->done_head = NULL;
    int last = --in->refs == 0;
    pthread_mutex_unlock(&in->lock);
    while (j) {
        lux_offload_job *next = j->next;
        free(j);
        j = next;
    }
    if (last)
        inbox_release(in);
}

int lux_offload_submit(lux_offload_inbox *in, lux_offload_job *j) {
    pthread_mutex_lock(&pool.lock);
    pool_start_locked();
    if (!pool.threads || pool.queued >= LUX_OFFLOAD_QUEUE) {
        pthread_mutex_unlock(&pool.lock);
        return -1;
    }
    pthread_mutex_lock(&in->lock);
    in->refs++;
    pthread_mutex_unlock(&in->lock);
    j->inbox = in;
    j->next = NULL;
    *pool.tail = j;
    pool.tail = &j->next;
    pool.queued++;
    pthread_cond_signal(&pool.more);
    pthread_mutex_unlock(&pool.lock);
    return 0;
}
