#include "net/stats.h"

#include <pthread.h>

#include "lux/req.h"
#include "net/conn.h"
#include "t.h"

/* Requests name their connection; only its transport's TLS state is read. */
static lux_conn plain_conn, tls_conn = {.tls.ssl = (struct ssl_st *)&tls_conn};

static lux_req request(int status, int minor, int tls) {
    lux_req r = {.status = status, .version = 10 + minor, .bytes_sent = 100};
    r.conn = tls ? &tls_conn : &plain_conn;
    clock_gettime(CLOCK_REALTIME, &r.start);
    return r;
}

static void test_sum_over_workers(void) {
    CHECK_INT(lux_stats_start(2, 300), 0);
    lux_req ok = request(200, 1, 0), old = request(404, 0, 0), secure = request(503, 1, 1);
    lux_stats_request_done(0, &ok);
    lux_stats_request_done(0, &old);
    lux_stats_request_done(1, &ok);
    lux_stats_request_done(1, &secure);
    lux_req left = request(0, 1, 0); /* the client left before an answer: not a request */
    left.bytes_sent = 0;
    lux_stats_request_done(1, &left);
    lux_stats_bytes_in(0, 10);
    lux_stats_bytes_in(1, 32);
    lux_stats_tls_handshake(1, 1);
    lux_stats_tls_handshake(1, 0);
    lux_stats_tls_handshake(0, 1);
    lux_stats_totals t;
    lux_stats_sum(&t);
    CHECK_INT(lux_stats_requests_total(&t), 4);
    CHECK_INT(t.requests[1][LUX_STATS_HTTP11][0], 2);
    CHECK_INT(t.requests[3][LUX_STATS_HTTP10][0], 1);
    CHECK_INT(t.requests[4][LUX_STATS_HTTP11][1], 1);
    CHECK_INT(lux_stats_requests_of_class(&t, 1), 2);
    CHECK_INT(t.bytes_in, 42);
    CHECK_INT(t.bytes_out, 400);
    CHECK_INT(t.tls_done, 2);
    CHECK_INT(t.tls_failed, 1);
    uint64_t in_histogram = 0;
    for (int i = 0; i <= LUX_STATS_NBUCKETS; i++)
        in_histogram += t.duration[i];
    CHECK_INT(in_histogram, 4);
    lux_stats_totals w1;
    lux_stats_of_worker(1, &w1);
    CHECK_INT(lux_stats_requests_total(&w1), 2);
    CHECK_INT(w1.bytes_in, 32);
    CHECK_INT(lux_stats_max_connections(), 300);
    lux_stats_stop();
}

static void test_connection_states(void) {
    CHECK_INT(lux_stats_start(2, 0), 0);
    lux_stats_conn_opened(0);
    lux_stats_conn_opened(0);
    lux_stats_conn_opened(1);
    lux_stats_conn_state(0, LUX_STATS_IDLE, LUX_STATS_WRITING);
    lux_stats_conn_state(1, LUX_STATS_IDLE, LUX_STATS_READING);
    lux_stats_conn_state(1, LUX_STATS_READING, LUX_STATS_WRITING);
    lux_stats_conn_state(1, LUX_STATS_WRITING, LUX_STATS_CLOSING);
    lux_stats_totals t;
    lux_stats_sum(&t);
    CHECK_INT(t.accepted, 3);
    CHECK_INT(lux_stats_conns_open(&t), 3);
    CHECK_INT(t.conns[LUX_STATS_IDLE], 1);
    CHECK_INT(t.conns[LUX_STATS_WRITING], 1);
    CHECK_INT(t.conns[LUX_STATS_CLOSING], 1);
    CHECK_INT(t.conns[LUX_STATS_READING], 0);
    lux_stats_conn_closed(1, LUX_STATS_CLOSING);
    lux_stats_conn_closed(0, LUX_STATS_WRITING);
    lux_stats_sum(&t);
    CHECK_INT(lux_stats_conns_open(&t), 1);
    CHECK_INT(t.conns[LUX_STATS_IDLE], 1);
    CHECK_INT(t.accepted, 3);
    lux_stats_stop();
}

/* Without a registry (lux -t) or for a worker it does not know, events are dropped. */
static void test_no_registry(void) {
    lux_stats_conn_opened(0);
    lux_stats_bytes_in(3, 1);
    CHECK_INT(lux_stats_start(1, 0), 0);
    lux_stats_bytes_in(1, 5);
    lux_stats_totals t;
    lux_stats_sum(&t);
    CHECK_INT(t.bytes_in, 0);
    CHECK_INT(t.accepted, 0);
    lux_stats_stop();
}

static void test_buckets(void) {
    CHECK_INT(lux_stats_bucket_of(0), 0);
    CHECK_INT(lux_stats_bucket_of(100), 0); /* le="0.0001": the bound is in its bucket */
    CHECK_INT(lux_stats_bucket_of(101), 1);
    CHECK_INT(lux_stats_bucket_of(1000), 3);
    CHECK_INT(lux_stats_bucket_of(5000000), LUX_STATS_NBUCKETS - 1);
    CHECK_INT(lux_stats_bucket_of(5000001), LUX_STATS_NBUCKETS);
    CHECK_INT(lux_stats_bucket_of(UINT64_MAX), LUX_STATS_NBUCKETS);
}

/* The bucket is the first whose bound in seconds the duration does not exceed, compared in
 * double as the pages print the bounds: every microsecond around every bound lands where that
 * comparison says. */
static size_t bucket_by_seconds(uint64_t us) {
    size_t i = 0;
    while (i < LUX_STATS_NBUCKETS && (double)us > lux_stats_bucket_bounds[i] * 1e6)
        i++;
    return i;
}

static void test_buckets_match_the_bounds(void) {
    for (size_t k = 0; k < LUX_STATS_NBUCKETS; k++) {
        uint64_t at = (uint64_t)(lux_stats_bucket_bounds[k] * 1e6);
        for (uint64_t us = at > 3 ? at - 3 : 0; us <= at + 3; us++)
            CHECK_INT(lux_stats_bucket_of(us), bucket_by_seconds(us));
    }
    for (uint64_t us = 0; us < 20000; us += 7)
        CHECK_INT(lux_stats_bucket_of(us), bucket_by_seconds(us));
}

static void test_quantiles(void) {
    lux_stats_totals t = {0};
    CHECK(lux_stats_quantile(&t, 0.5) == 0);
    t.duration[3] = 10; /* (0.0005, 0.001] */
    double q = lux_stats_quantile(&t, 0.5);
    CHECK(q > 0.00074 && q < 0.00076); /* halfway through the bucket */
    t.duration[LUX_STATS_NBUCKETS] = 90;
    CHECK(lux_stats_quantile(&t, 0.99) == 5.0); /* +Inf: the highest finite bound */
}

/* Two writers and a reader at once: the sum never loses an event (run under TSan too). */
#define EVENTS 20000
static void *writer(void *arg) {
    unsigned w = (unsigned)(size_t)arg;
    for (int i = 0; i < EVENTS; i++)
        lux_stats_bytes_in(w, 1);
    return NULL;
}

static void test_concurrent_writers(void) {
    CHECK_INT(lux_stats_start(2, 0), 0);
    pthread_t a, b;
    pthread_create(&a, NULL, writer, (void *)0);
    pthread_create(&b, NULL, writer, (void *)1);
    lux_stats_totals t;
    uint64_t last = 0;
    for (int i = 0; i < 100; i++) {
        lux_stats_sum(&t);
        CHECK(t.bytes_in >= last); /* counters only grow */
        last = t.bytes_in;
    }
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    lux_stats_sum(&t);
    CHECK_INT(t.bytes_in, 2 * EVENTS);
    lux_stats_stop();
}

int main(void) {
    RUN(test_sum_over_workers);
    RUN(test_connection_states);
    RUN(test_no_registry);
    RUN(test_buckets);
    RUN(test_buckets_match_the_bounds);
    RUN(test_quantiles);
    RUN(test_concurrent_writers);
    T_EXIT();
}
