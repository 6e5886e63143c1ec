/*
 * Server counters for mod_status and the metrics page. Each worker owns one slot and is its
 * only writer: an event is a relaxed load and store on _Atomic fields of its own cache lines,
 * never a lock or a locked instruction on the request path. A reader on any thread sums the
 * slots (lux_stats_sum); a sum may mix values from a few nanoseconds apart, never torn ones.
 *
 * The registry lives from lux_stats_start (before the workers start) to lux_stats_stop (after
 * they are joined); events recorded while it does not exist (lux -t, unit tests of other
 * parts) are dropped.
 */
#ifndef LUX_STATS_H
#define LUX_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct lux_req lux_req;

/* What an open connection is doing now, as the metrics name it. */
typedef enum {
    LUX_STATS_IDLE,    /* waiting for (the rest of) a request head */
    LUX_STATS_READING, /* reading a request body */
    LUX_STATS_WRITING, /* sending a response */
    LUX_STATS_CLOSING, /* lingering before the close */
    LUX_STATS_NSTATES,
} lux_stats_state;

enum { LUX_STATS_CLASSES = 5 }; /* 1xx .. 5xx */
typedef enum {
    LUX_STATS_HTTP10,
    LUX_STATS_HTTP11,
    LUX_STATS_HTTP2,
    LUX_STATS_NPROTOS
} lux_stats_proto;

/* Content codings mod_deflate applies, as the metrics name them (x-gzip counts as gzip). */
typedef enum {
    LUX_STATS_ENC_GZIP,
    LUX_STATS_ENC_DEFLATE,
    LUX_STATS_ENC_BR,
    LUX_STATS_ENC_ZSTD,
    LUX_STATS_ENC_BZIP2,
    LUX_STATS_NENCS
} lux_stats_enc;
extern const char *const lux_stats_enc_names[LUX_STATS_NENCS];

/* Upper bounds (seconds) of the request-duration histogram's buckets; +Inf follows them. */
#define LUX_STATS_NBUCKETS 15
extern const double lux_stats_bucket_bounds[LUX_STATS_NBUCKETS];

/* A plain copy of the counters: one worker's, or the sum over all of them. */
typedef struct {
    uint64_t requests[LUX_STATS_CLASSES][LUX_STATS_NPROTOS][2]; /* [class][protocol][tls] */
    uint64_t bytes_in, bytes_out;
    uint64_t accepted;
    int64_t conns[LUX_STATS_NSTATES]; /* open now, by state */
    uint64_t tls_done, tls_failed;
    uint64_t duration[LUX_STATS_NBUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
    uint64_t duration_us;                      /* the sum of all durations, microseconds */
    uint64_t h2_streams;                       /* HTTP/2 streams opened */
    int64_t h2_streams_open;                   /* HTTP/2 streams open now */
    uint64_t stat_hits, stat_misses;           /* stat cache lookups */
    uint64_t compress_in[LUX_STATS_NENCS];     /* bytes before compression, by coding */
    uint64_t compress_out[LUX_STATS_NENCS];    /* bytes after it */
    uint64_t compress_responses[LUX_STATS_NENCS];
} lux_stats_totals;

/* Create the registry with one slot per worker; max_connections is the server's limit, for the
 * readers. Returns 0 or -1 (out of memory). */
int lux_stats_start(size_t nworkers, long max_connections);
void lux_stats_stop(void);
/* A configuration was reloaded (SIGUSR1). */
void lux_stats_reloaded(void);

/* Events, recorded by the worker that owns the connection. */
void lux_stats_conn_opened(unsigned worker);
void lux_stats_conn_state(unsigned worker, int from, int to); /* lux_stats_state values */
void lux_stats_conn_closed(unsigned worker, int state);
void lux_stats_bytes_in(unsigned worker, uint64_t n);
void lux_stats_request_done(unsigned worker, const lux_req *r);
/* A TLS handshake ended: completed (ok != 0) or failed. */
void lux_stats_tls_handshake(unsigned worker, int ok);
void lux_stats_h2_stream_opened(unsigned worker);
void lux_stats_h2_stream_closed(unsigned worker);
/* A stat cache lookup answered from the cache (hit != 0) or from the file system. */
void lux_stats_stat_cache(unsigned worker, int hit);
/* mod_deflate compressed a response (responses 1 at its start) or n_in bytes into n_out. */
void lux_stats_compressed(unsigned worker, lux_stats_enc e, uint64_t responses, uint64_t n_in,
                          uint64_t n_out);

/*
 * Backends of the gateways (mod_fastcgi, mod_scgi, mod_proxy). A small fixed registry names
 * them: an entry, once added, never changes or goes, so a reader walks the first
 * lux_stats_backends() of them without a lock. Each worker counts its own events in its own
 * table, indexed by the entry's id, as it does the server's counters.
 */
enum { LUX_STATS_MAX_BACKENDS = 64 };
typedef enum {
    LUX_STATS_BACKEND_CONNECT, /* connecting failed or timed out */
    LUX_STATS_BACKEND_5XX,     /* the backend answered 5xx */
    LUX_STATS_BACKEND_TIMEOUT, /* no response, or the request not taken, within the timeout */
    LUX_STATS_BACKEND_NERRORS
} lux_stats_backend_error;
extern const char *const lux_stats_backend_error_names[LUX_STATS_BACKEND_NERRORS];

typedef struct {
    uint64_t requests; /* sent to the backend, a retry on another one counted there */
    uint64_t errors[LUX_STATS_BACKEND_NERRORS];
    uint64_t duration[LUX_STATS_NBUCKETS + 1]; /* complete responses, per bucket as above */
    uint64_t duration_us;
    int up;      /* no worker has it disabled after a failure (passive health) */
    int checked; /* its active health check passes (1) or fails (0); -1: it has none */
} lux_stats_backend_totals;

/* The id of (module, backend), added when new; -1 when the registry is full. It takes a lock:
 * a worker asks once per backend and keeps the id. */
int lux_stats_backend_id(const char *module, const char *backend);
void lux_stats_backend_request(unsigned worker, int id);
/* A complete response from the backend, us microseconds after the request went to it. */
void lux_stats_backend_response(unsigned worker, int id, uint64_t us);
void lux_stats_backend_failed(unsigned worker, int id, lux_stats_backend_error e);
/* The backend is left alone by this worker until until_ms (CLOCK_MONOTONIC milliseconds). */
void lux_stats_backend_down(unsigned worker, int id, int64_t until_ms);

/* The backend's active health check now passes (up) or fails (the prober's thread). */
void lux_stats_backend_checked(int id, int up);

/* Readers. */
size_t lux_stats_backends(void);
const char *lux_stats_backend_module(size_t id);
const char *lux_stats_backend_name(size_t id);
/* Summed over the workers. */
void lux_stats_backend_of(size_t id, lux_stats_backend_totals *out);

size_t lux_stats_nworkers(void);
void lux_stats_of_worker(size_t worker, lux_stats_totals *out);
void lux_stats_sum(lux_stats_totals *out);
/* Add one set of counters to another (what lux_stats_sum does per worker). */
void lux_stats_add(lux_stats_totals *sum, const lux_stats_totals *t);
time_t lux_stats_start_time(void);
long lux_stats_max_connections(void);
uint64_t lux_stats_reloads(void);

/* Derived numbers. */
uint64_t lux_stats_requests_total(const lux_stats_totals *t);
uint64_t lux_stats_requests_of_class(const lux_stats_totals *t, int cls); /* cls 0: 1xx */
int64_t lux_stats_conns_open(const lux_stats_totals *t);
/* The bucket index of a duration, in microseconds. */
size_t lux_stats_bucket_of(uint64_t us);
/* The q-quantile (0..1) of the histogram, interpolated within its bucket as Prometheus'
 * histogram_quantile does; 0 when it is empty. Seconds. */
double lux_stats_quantile(const lux_stats_totals *t, double q);

#endif
