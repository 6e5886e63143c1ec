#include "net/stats.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lux/req.h"
#include "net/conn.h"

#define RELAXED memory_order_relaxed

/* One worker's counters, on cache lines of their own so that workers never share a line. */
typedef struct {
    alignas(64) _Atomic uint64_t requests[LUX_STATS_CLASSES][LUX_STATS_NPROTOS][2];
    _Atomic uint64_t bytes_in, bytes_out;
    _Atomic uint64_t accepted;
    _Atomic int64_t conns[LUX_STATS_NSTATES];
    _Atomic uint64_t tls_done, tls_failed;
    _Atomic uint64_t duration[LUX_STATS_NBUCKETS + 1];
    _Atomic uint64_t duration_us;
    _Atomic uint64_t h2_streams;
    _Atomic int64_t h2_streams_open;
    _Atomic uint64_t stat_hits, stat_misses;
    _Atomic uint64_t compress_in[LUX_STATS_NENCS];
    _Atomic uint64_t compress_out[LUX_STATS_NENCS];
    _Atomic uint64_t compress_responses[LUX_STATS_NENCS];
} worker_slot;

const char *const lux_stats_enc_names[LUX_STATS_NENCS] = {"gzip", "deflate", "br", "zstd", "bzip2"};

/* The histogram's bounds in seconds, once: the table the pages print and its microsecond twin
 * the request path compares with come from the same list. */
#define BUCKET_BOUNDS(X)                                                                           \
    X(0.0001), X(0.00025), X(0.0005), X(0.001), X(0.0025), X(0.005), X(0.01), X(0.025), X(0.05),   \
        X(0.1), X(0.25), X(0.5), X(1), X(2.5), X(5)

#define AS_SECONDS(b) b
const double lux_stats_bucket_bounds[LUX_STATS_NBUCKETS] = {BUCKET_BOUNDS(AS_SECONDS)};

/* A whole number of microseconds us is above a bound b exactly when it is above floor(b * 1e6)
 * (the product computed in double, as the comparison of (double)us with it would), so the
 * request path compares integers. The last entry stands for +Inf: no us is above it, which
 * makes the table 16 long for the search in lux_stats_bucket_of. */
#define AS_MICROSECONDS(b) (uint64_t)((b)*1e6)
static const uint64_t bucket_bounds_us[LUX_STATS_NBUCKETS + 1] = {BUCKET_BOUNDS(AS_MICROSECONDS),
                                                                  UINT64_MAX};
_Static_assert(LUX_STATS_NBUCKETS + 1 == 16, "lux_stats_bucket_of searches 16 entries");

/* One worker's counters of one backend. */
typedef struct {
    _Atomic uint64_t requests;
    _Atomic uint64_t errors[LUX_STATS_BACKEND_NERRORS];
    _Atomic uint64_t duration[LUX_STATS_NBUCKETS + 1];
    _Atomic uint64_t duration_us;
    _Atomic int64_t down_until_ms;
} backend_slot;

/* A worker's table of backends, on cache lines of its own. */
typedef struct {
    alignas(64) backend_slot b[LUX_STATS_MAX_BACKENDS];
} backend_table;

typedef struct {
    char module[32];
    char name[128];
} backend_entry;

const char *const lux_stats_backend_error_names[LUX_STATS_BACKEND_NERRORS] = {"connect", "5xx",
                                                                              "timeout"};

/* Entries below nbackends are written before the count is published (release) and never
 * again; the lock only orders the adders. */
static backend_entry backend_names[LUX_STATS_MAX_BACKENDS];
static _Atomic size_t nbackends;
static pthread_mutex_t backends_lock = PTHREAD_MUTEX_INITIALIZER;
static backend_table *backend_tables;
/* The active health check's verdict per entry: 0 none, 1 failing, 2 passing (one prober
 * writes, scrapes read). */
static _Atomic int backend_checked[LUX_STATS_MAX_BACKENDS];

static worker_slot *slots;
static size_t nslots;
static time_t started;
static long max_conns;
static _Atomic uint64_t reloads;

int lux_stats_start(size_t nworkers, long max_connections) {
    slots = aligned_alloc(alignof(worker_slot), nworkers * sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < nworkers; i++)
        for (size_t b = 0; b < sizeof *slots; b++)
            ((char *)&slots[i])[b] = 0; /* no memset on _Atomic objects */
    backend_tables = aligned_alloc(alignof(backend_table), nworkers * sizeof *backend_tables);
    if (!backend_tables) {
        free(slots);
        slots = NULL;
        return -1;
    }
    for (size_t i = 0; i < nworkers; i++)
        for (size_t b = 0; b < sizeof *backend_tables; b++)
            ((char *)&backend_tables[i])[b] = 0;
    nslots = nworkers;
    started = time(NULL);
    max_conns = max_connections;
    atomic_store(&reloads, 0);
    return 0;
}

void lux_stats_stop(void) {
    free(slots);
    free(backend_tables);
    slots = NULL;
    backend_tables = NULL;
    nslots = 0;
}

void lux_stats_reloaded(void) {
    atomic_fetch_add_explicit(&reloads, 1, RELAXED);
}

/* The slot's only writer adds: a plain load and store, no locked instruction. */
static void bump(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, RELAXED) + n, RELAXED);
}

static void gauge_add(_Atomic int64_t *g, int64_t n) {
    atomic_store_explicit(g, atomic_load_explicit(g, RELAXED) + n, RELAXED);
}

static uint64_t get(_Atomic uint64_t *c) {
    return atomic_load_explicit(c, RELAXED);
}

static worker_slot *slot(unsigned worker) {
    return worker < nslots ? &slots[worker] : NULL;
}

/* A state from another build of the enum never indexes outside the gauges. */
static lux_stats_state state_of(int state) {
    return state >= 0 && state < LUX_STATS_NSTATES ? (lux_stats_state)state : LUX_STATS_IDLE;
}

void lux_stats_conn_opened(unsigned worker) {
    worker_slot *s = slot(worker);
    if (!s)
        return;
    bump(&s->accepted, 1);
    gauge_add(&s->conns[LUX_STATS_IDLE], 1);
}

void lux_stats_conn_state(unsigned worker, int from, int to) {
    worker_slot *s = slot(worker);
    if (!s || from == to)
        return;
    gauge_add(&s->conns[state_of(from)], -1);
    gauge_add(&s->conns[state_of(to)], 1);
}

void lux_stats_conn_closed(unsigned worker, int state) {
    worker_slot *s = slot(worker);
    if (s)
        gauge_add(&s->conns[state_of(state)], -1);
}

void lux_stats_bytes_in(unsigned worker, uint64_t n) {
    worker_slot *s = slot(worker);
    if (s)
        bump(&s->bytes_in, n);
}

/* The first bucket whose bound us does not exceed: a binary search of four steps, the same
 * cost for a fast request and a slow one. */
size_t lux_stats_bucket_of(uint64_t us) {
    const uint64_t *b = bucket_bounds_us;
    size_t i = 0;
    if (us > b[i + 7])
        i += 8;
    if (us > b[i + 3])
        i += 4;
    if (us > b[i + 1])
        i += 2;
    if (us > b[i])
        i += 1;
    return i;
}

/* Microseconds from the complete request head until now; 0 if the clock stepped back. */
static uint64_t duration_us(const lux_req *r) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t us = ((int64_t)now.tv_sec - (int64_t)r->start.tv_sec) * 1000000 +
                 (now.tv_nsec - r->start.tv_nsec) / 1000;
    return us > 0 ? (uint64_t)us : 0;
}

static lux_stats_proto proto_of(const lux_req *r) {
    return r->version >= 20   ? LUX_STATS_HTTP2
           : r->version == 10 ? LUX_STATS_HTTP10
                              : LUX_STATS_HTTP11;
}

void lux_stats_request_done(unsigned worker, const lux_req *r) {
    worker_slot *s = slot(worker);
    if (!s)
        return;
    bump(&s->bytes_out, r->bytes_sent);
    int cls = r->status / 100 - 1;
    if (cls < 0 || cls >= LUX_STATS_CLASSES)
        return; /* no status: the client left before the request could be answered */
    int tls = r->conn && r->conn->tls.ssl != NULL; /* the transport's, not a proxy's scheme */
    bump(&s->requests[cls][proto_of(r)][tls], 1);
    uint64_t us = duration_us(r);
    bump(&s->duration[lux_stats_bucket_of(us)], 1);
    bump(&s->duration_us, us);
}

void lux_stats_tls_handshake(unsigned worker, int ok) {
    worker_slot *s = slot(worker);
    if (s)
        bump(ok ? &s->tls_done : &s->tls_failed, 1);
}

void lux_stats_h2_stream_opened(unsigned worker) {
    worker_slot *s = slot(worker);
    if (!s)
        return;
    bump(&s->h2_streams, 1);
    gauge_add(&s->h2_streams_open, 1);
}

void lux_stats_h2_stream_closed(unsigned worker) {
    worker_slot *s = slot(worker);
    if (s)
        gauge_add(&s->h2_streams_open, -1);
}

void lux_stats_stat_cache(unsigned worker, int hit) {
    worker_slot *s = slot(worker);
    if (s)
        bump(hit ? &s->stat_hits : &s->stat_misses, 1);
}

void lux_stats_compressed(unsigned worker, lux_stats_enc e, uint64_t responses, uint64_t n_in,
                          uint64_t n_out) {
    worker_slot *s = slot(worker);
    if (!s || (unsigned)e >= LUX_STATS_NENCS)
        return;
    if (responses)
        bump(&s->compress_responses[e], responses);
    if (n_in)
        bump(&s->compress_in[e], n_in);
    if (n_out)
        bump(&s->compress_out[e], n_out);
}

int lux_stats_backend_id(const char *module, const char *backend) {
    pthread_mutex_lock(&backends_lock);
    size_t n = atomic_load_explicit(&nbackends, RELAXED);
    int id = -1;
    for (size_t i = 0; i < n && id < 0; i++)
        if (!strcmp(backend_names[i].module, module) && !strcmp(backend_names[i].name, backend))
            id = (int)i;
    if (id < 0 && n < LUX_STATS_MAX_BACKENDS) {
        snprintf(backend_names[n].module, sizeof backend_names[n].module, "%s", module);
        snprintf(backend_names[n].name, sizeof backend_names[n].name, "%s", backend);
        atomic_store_explicit(&nbackends, n + 1, memory_order_release);
        id = (int)n;
    }
    pthread_mutex_unlock(&backends_lock);
    return id;
}

static backend_slot *backend_slot_of(unsigned worker, int id) {
    if (worker >= nslots || id < 0 || id >= LUX_STATS_MAX_BACKENDS)
        return NULL;
    return &backend_tables[worker].b[id];
}

void lux_stats_backend_request(unsigned worker, int id) {
    backend_slot *b = backend_slot_of(worker, id);
    if (b)
        bump(&b->requests, 1);
}

void lux_stats_backend_response(unsigned worker, int id, uint64_t us) {
    backend_slot *b = backend_slot_of(worker, id);
    if (!b)
        return;
    bump(&b->duration[lux_stats_bucket_of(us)], 1);
    bump(&b->duration_us, us);
}

void lux_stats_backend_failed(unsigned worker, int id, lux_stats_backend_error e) {
    backend_slot *b = backend_slot_of(worker, id);
    if (b && (unsigned)e < LUX_STATS_BACKEND_NERRORS)
        bump(&b->errors[e], 1);
}

void lux_stats_backend_down(unsigned worker, int id, int64_t until_ms) {
    backend_slot *b = backend_slot_of(worker, id);
    if (b)
        atomic_store_explicit(&b->down_until_ms, until_ms, RELAXED);
}

void lux_stats_backend_checked(int id, int up) {
    if (id >= 0 && id < LUX_STATS_MAX_BACKENDS)
        atomic_store_explicit(&backend_checked[id], up ? 2 : 1, RELAXED);
}

size_t lux_stats_backends(void) {
    return atomic_load_explicit(&nbackends, memory_order_acquire);
}

const char *lux_stats_backend_module(size_t id) {
    return id < lux_stats_backends() ? backend_names[id].module : "";
}

const char *lux_stats_backend_name(size_t id) {
    return id < lux_stats_backends() ? backend_names[id].name : "";
}

static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lux_stats_backend_of(size_t id, lux_stats_backend_totals *out) {
    *out = (lux_stats_backend_totals){.up = 1};
    if (id < LUX_STATS_MAX_BACKENDS)
        out->checked = atomic_load_explicit(&backend_checked[id], RELAXED) - 1;
    int64_t now = monotonic_ms();
    for (size_t w = 0; w < nslots && id < lux_stats_backends(); w++) {
        backend_slot *b = &backend_tables[w].b[id];
        out->requests += get(&b->requests);
        for (int e = 0; e < LUX_STATS_BACKEND_NERRORS; e++)
            out->errors[e] += get(&b->errors[e]);
        for (int i = 0; i <= LUX_STATS_NBUCKETS; i++)
            out->duration[i] += get(&b->duration[i]);
        out->duration_us += get(&b->duration_us);
        if (atomic_load_explicit(&b->down_until_ms, RELAXED) > now)
            out->up = 0;
    }
}

size_t lux_stats_nworkers(void) {
    return nslots;
}

void lux_stats_of_worker(size_t worker, lux_stats_totals *out) {
    *out = (lux_stats_totals){0};
    worker_slot *s = slot((unsigned)worker);
    if (!s)
        return;
    for (int c = 0; c < LUX_STATS_CLASSES; c++)
        for (int p = 0; p < LUX_STATS_NPROTOS; p++)
            for (int t = 0; t < 2; t++)
                out->requests[c][p][t] = get(&s->requests[c][p][t]);
    out->bytes_in = get(&s->bytes_in);
    out->bytes_out = get(&s->bytes_out);
    out->accepted = get(&s->accepted);
    for (int i = 0; i < LUX_STATS_NSTATES; i++)
        out->conns[i] = atomic_load_explicit(&s->conns[i], RELAXED);
    out->tls_done = get(&s->tls_done);
    out->tls_failed = get(&s->tls_failed);
    for (int i = 0; i <= LUX_STATS_NBUCKETS; i++)
        out->duration[i] = get(&s->duration[i]);
    out->duration_us = get(&s->duration_us);
    out->h2_streams = get(&s->h2_streams);
    out->h2_streams_open = atomic_load_explicit(&s->h2_streams_open, RELAXED);
    out->stat_hits = get(&s->stat_hits);
    out->stat_misses = get(&s->stat_misses);
    for (int e = 0; e < LUX_STATS_NENCS; e++) {
        out->compress_in[e] = get(&s->compress_in[e]);
        out->compress_out[e] = get(&s->compress_out[e]);
        out->compress_responses[e] = get(&s->compress_responses[e]);
    }
}

void lux_stats_add(lux_stats_totals *sum, const lux_stats_totals *t) {
    for (int c = 0; c < LUX_STATS_CLASSES; c++)
        for (int p = 0; p < LUX_STATS_NPROTOS; p++)
            for (int i = 0; i < 2; i++)
                sum->requests[c][p][i] += t->requests[c][p][i];
    sum->bytes_in += t->bytes_in;
    sum->bytes_out += t->bytes_out;
    sum->accepted += t->accepted;
    for (int i = 0; i < LUX_STATS_NSTATES; i++)
        sum->conns[i] += t->conns[i];
    sum->tls_done += t->tls_done;
    sum->tls_failed += t->tls_failed;
    for (int i = 0; i <= LUX_STATS_NBUCKETS; i++)
        sum->duration[i] += t->duration[i];
    sum->duration_us += t->duration_us;
    sum->h2_streams += t->h2_streams;
    sum->h2_streams_open += t->h2_streams_open;
    sum->stat_hits += t->stat_hits;
    sum->stat_misses += t->stat_misses;
    for (int e = 0; e < LUX_STATS_NENCS; e++) {
        sum->compress_in[e] += t->compress_in[e];
        sum->compress_out[e] += t->compress_out[e];
        sum->compress_responses[e] += t->compress_responses[e];
    }
}

void lux_stats_sum(lux_stats_totals *out) {
    *out = (lux_stats_totals){0};
    for (size_t i = 0; i < nslots; i++) {
        lux_stats_totals t;
        lux_stats_of_worker(i, &t);
        lux_stats_add(out, &t);
    }
}

time_t lux_stats_start_time(void) {
    return started;
}

long lux_stats_max_connections(void) {
    return max_conns;
}

uint64_t lux_stats_reloads(void) {
    return atomic_load_explicit(&reloads, RELAXED);
}

uint64_t lux_stats_requests_of_class(const lux_stats_totals *t, int cls) {
    uint64_t n = 0;
    for (int p = 0; p < LUX_STATS_NPROTOS; p++)
        n += t->requests[cls][p][0] + t->requests[cls][p][1];
    return n;
}

uint64_t lux_stats_requests_total(const lux_stats_totals *t) {
    uint64_t n = 0;
    for (int c = 0; c < LUX_STATS_CLASSES; c++)
        n += lux_stats_requests_of_class(t, c);
    return n;
}

int64_t lux_stats_conns_open(const lux_stats_totals *t) {
    int64_t n = 0;
    for (int i = 0; i < LUX_STATS_NSTATES; i++)
        n += t->conns[i];
    return n;
}

double lux_stats_quantile(const lux_stats_totals *t, double q) {
    uint64_t total = 0;
    for (int i = 0; i <= LUX_STATS_NBUCKETS; i++)
        total += t->duration[i];
    if (!total)
        return 0;
    double rank = q * (double)total, below = 0;
    for (int i = 0; i <= LUX_STATS_NBUCKETS; i++) {
        double n = (double)t->duration[i];
        if (below + n >= rank && n > 0) {
            if (i == LUX_STATS_NBUCKETS) /* +Inf: the highest finite bound, as Prometheus */
                return lux_stats_bucket_bounds[LUX_STATS_NBUCKETS - 1];
            double lo = i ? lux_stats_bucket_bounds[i - 1] : 0, hi = lux_stats_bucket_bounds[i];
            return lo + (hi - lo) * (rank - below) / n;
        }
        below += n;
    }
    return lux_stats_bucket_bounds[LUX_STATS_NBUCKETS - 1];
}
