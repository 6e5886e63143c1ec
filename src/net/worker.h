/* A worker thread: one event loop, its connections, and its caches. */
#ifndef LUX_WORKER_H
#define LUX_WORKER_H

#include <pthread.h>
#include <time.h>

#include "event/loop.h"
#include "http/http_date.h"
#include "net/server.h"

typedef struct lux_conn lux_conn;
typedef struct lux_stat_cache lux_stat_cache;
typedef struct lux_offload_inbox lux_offload_inbox;

typedef struct {
    lux_io io;
    lux_worker *w;
    lux_listener *l;
} lux_accept_io;

/* Memory idle connections gave back (input buffers, request-pool blocks), kept on a short free
 * list per worker so the next busy connection takes it without malloc. */
typedef struct lux_spare {
    struct lux_spare *next;
} lux_spare;

typedef struct {
    lux_spare *head;
    unsigned n;
} lux_spare_list;

struct lux_worker {
    lux_server *srv;
    unsigned id;
    pthread_t thread;
    lux_loop *loop;
    lux_gen *gen;
    unsigned long gen_seq;
    lux_io wake; /* eventfd: the main thread asks us to look at srv->state / gen */
    lux_accept_io *accepts;
    size_t naccepts;
    int accepting;
    int stop_seen;   /* has let go of the listeners after a stop */
    int conns_told;  /* has told its connections about the stop (lux_conn_stopping) */
    int64_t stop_ms; /* lux_loop_now_ms() when the tick first saw the stop */
    lux_conn *conns; /* all open connections, for stopping */
    long nconns;
    time_t stop_deadline;
    lux_spare_list spare_bufs;   /* LUX_IN_BUF input buffers */
    lux_spare_list spare_blocks; /* request-pool blocks */
    time_t date_time;
    char date[LUX_HTTP_DATE_LEN + 1];
    lux_stat_cache *stat_cache;
    lux_offload_inbox *offload; /* results of blocking work done for us (core/offload.h) */
    struct lux_worker_modules *modules; /* modules' slots and stop callbacks (module_api.c) */
    struct lux_rate_table *rates; /* server.max-request-rate-per-ip buckets (net/rate_table.h) */
};

lux_worker *lux_worker_new(lux_server *s, unsigned id);
int lux_worker_start(lux_worker *w);
void lux_worker_wake(lux_worker *w);
void lux_worker_join_free(lux_worker *w);
/* Serve exactly one already-connected socket (the -1 option) on the calling thread. */
void lux_worker_run_single(lux_worker *w, int fd);

/* Run the modules' stop callbacks and free their slots, on the worker's thread once its
 * connections are closed (lux/timer.h). */
void lux_worker_modules_stop(lux_worker *w);

/* The Date header value, refreshed at most once a second. */
const char *lux_worker_date(lux_worker *w);
/* Input buffers of LUX_IN_BUF bytes, recycled through the worker. */
#define LUX_IN_BUF 16384
char *lux_worker_buf_get(lux_worker *w);
void lux_worker_buf_put(lux_worker *w, char *buf);
/* Request-pool blocks, recycled the same way (see lux_pool_detach). */
void *lux_worker_block_get(lux_worker *w);
void lux_worker_block_put(lux_worker *w, void *block);

#endif
