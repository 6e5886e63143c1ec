/* lux's metrics in the Prometheus text exposition format 0.0.4 (one family after another, each
 * with HELP and TYPE, label values escaped as the format asks). */
#include <inttypes.h>
#include <stdlib.h>

#include "mod/status_render.h"

static const char *const class_names[LUX_STATS_CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
static const char *const proto_names[LUX_STATS_NPROTOS] = {"HTTP/1.0", "HTTP/1.1", "HTTP/2"};
static const char *const state_names[LUX_STATS_NSTATES] = {"idle", "reading", "writing", "closing"};

static void family(lux_sbuf *b, const char *name, const char *type, const char *help) {
    lux_sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void requests(lux_sbuf *b, const lux_stats_totals *t) {
    family(b, "lux_http_requests_total", "counter",
           "HTTP requests answered, by status class, protocol and TLS.");
    for (int c = 0; c < LUX_STATS_CLASSES; c++)
        for (int p = 0; p < LUX_STATS_NPROTOS; p++)
            for (int tls = 0; tls < 2; tls++)
                lux_sbuf_printf(
                    b,
                    "lux_http_requests_total{code_class=\"%s\",protocol=\"%s\",tls=\"%s\"} %" PRIu64
                    "\n",
                    class_names[c], proto_names[p], tls ? "true" : "false", t->requests[c][p][tls]);
}

static void durations(lux_sbuf *b, const lux_stats_totals *t) {
    const char *n = "lux_http_request_duration_seconds";
    family(b, n, "histogram", "Time from a complete request head to the response sent.");
    uint64_t cumulative = 0;
    for (int i = 0; i < LUX_STATS_NBUCKETS; i++) {
        cumulative += t->duration[i];
        lux_sbuf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", n, lux_stats_bucket_bounds[i],
                        cumulative);
    }
    cumulative += t->duration[LUX_STATS_NBUCKETS];
    lux_sbuf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", n, cumulative);
    lux_sbuf_printf(b, "%s_sum %.6f\n", n, (double)t->duration_us / 1e6);
    lux_sbuf_printf(b, "%s_count %" PRIu64 "\n", n, cumulative);
}

static void counter(lux_sbuf *b, const char *name, const char *help, uint64_t v) {
    family(b, name, "counter", help);
    lux_sbuf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void connections(lux_sbuf *b, const lux_status_snapshot *s) {
    family(b, "lux_connections", "gauge", "Open connections, by what they are doing.");
    for (int i = 0; i < LUX_STATS_NSTATES; i++)
        lux_sbuf_printf(b, "lux_connections{state=\"%s\"} %" PRId64 "\n", state_names[i],
                        s->sum.conns[i]);
    lux_sbuf_printf(b, "lux_connections{state=\"handling\"} %" PRId64 "\n", s->handling);
    family(b, "lux_connections_limit", "gauge", "server.max-connections in effect.");
    lux_sbuf_printf(b, "lux_connections_limit %ld\n", s->max_connections);
    counter(b, "lux_connections_accepted_total", "Connections accepted.", s->sum.accepted);
}

static void tls(lux_sbuf *b, const lux_stats_totals *t) {
    family(b, "lux_tls_handshakes_total", "counter", "TLS handshakes, by result.");
    lux_sbuf_printf(b, "lux_tls_handshakes_total{result=\"ok\"} %" PRIu64 "\n", t->tls_done);
    lux_sbuf_printf(b, "lux_tls_handshakes_total{result=\"failed\"} %" PRIu64 "\n", t->tls_failed);
}

static void workers(lux_sbuf *b, const lux_status_snapshot *s) {
    family(b, "lux_worker_requests_total", "counter", "HTTP requests answered, by worker thread.");
    for (size_t i = 0; i < s->nworkers; i++)
        lux_sbuf_printf(b, "lux_worker_requests_total{worker=\"%zu\"} %" PRIu64 "\n", i,
                        lux_stats_requests_total(&s->workers[i]));
    family(b, "lux_worker_bytes_sent_total", "counter", "Bytes sent, by worker thread.");
    for (size_t i = 0; i < s->nworkers; i++)
        lux_sbuf_printf(b, "lux_worker_bytes_sent_total{worker=\"%zu\"} %" PRIu64 "\n", i,
                        s->workers[i].bytes_out);
    family(b, "lux_worker_connections", "gauge", "Open connections, by worker thread.");
    for (size_t i = 0; i < s->nworkers; i++)
        lux_sbuf_printf(b, "lux_worker_connections{worker=\"%zu\"} %" PRId64 "\n", i,
                        lux_stats_conns_open(&s->workers[i]));
}

static void h2_streams(lux_sbuf *b, const lux_stats_totals *t) {
    counter(b, "lux_http2_streams_total", "HTTP/2 streams opened.", t->h2_streams);
    family(b, "lux_http2_streams_open", "gauge", "HTTP/2 streams open now.");
    lux_sbuf_printf(b, "lux_http2_streams_open %" PRId64 "\n", t->h2_streams_open);
}

static void stat_cache(lux_sbuf *b, const lux_stats_totals *t) {
    family(b, "lux_stat_cache_lookups_total", "counter",
           "Stat cache lookups, by whether an entry answered them.");
    lux_sbuf_printf(b, "lux_stat_cache_lookups_total{result=\"hit\"} %" PRIu64 "\n", t->stat_hits);
    lux_sbuf_printf(b, "lux_stat_cache_lookups_total{result=\"miss\"} %" PRIu64 "\n",
                    t->stat_misses);
}

static void by_encoding(lux_sbuf *b, const char *name, const char *help, const uint64_t *v) {
    family(b, name, "counter", help);
    for (int e = 0; e < LUX_STATS_NENCS; e++)
        lux_sbuf_printf(b, "%s{encoding=\"%s\"} %" PRIu64 "\n", name, lux_stats_enc_names[e], v[e]);
}

static void compression(lux_sbuf *b, const lux_stats_totals *t) {
    by_encoding(b, "lux_compress_responses_total", "Responses mod_deflate compressed, by coding.",
                t->compress_responses);
    by_encoding(b, "lux_compress_bytes_in_total", "Bytes mod_deflate compressed, before coding.",
                t->compress_in);
    by_encoding(b, "lux_compress_bytes_out_total", "Bytes mod_deflate compressed, after coding.",
                t->compress_out);
}

/* A label value with backslash, double quote and line feed escaped (the format's rule). */
static void label_value(lux_sbuf *b, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            lux_sbuf_printf(b, "\\%c", *v);
        else if (*v == '\n')
            LUX_SBUF_LIT(b, "\\n");
        else
            lux_sbuf_put(b, v, 1);
    }
}

static void backend_labels(lux_sbuf *b, const char *name, size_t id) {
    lux_sbuf_printf(b, "%s{module=\"", name);
    label_value(b, lux_stats_backend_module(id));
    LUX_SBUF_LIT(b, "\",backend=\"");
    label_value(b, lux_stats_backend_name(id));
    LUX_SBUF_LIT(b, "\"");
}

/* Only backends with an active health check have a series; no family without any. */
static void backend_checks(lux_sbuf *b, const lux_stats_backend_totals *t, size_t n) {
    int any = 0;
    for (size_t i = 0; i < n && !any; i++)
        any = t[i].checked >= 0;
    if (!any)
        return;
    family(b, "lux_backend_check_up", "gauge",
           "1 while the backend's active health check passes, 0 once it failed (health-check).");
    for (size_t i = 0; i < n; i++)
        if (t[i].checked >= 0) {
            backend_labels(b, "lux_backend_check_up", i);
            lux_sbuf_printf(b, "} %d\n", t[i].checked);
        }
}

static void backend_requests(lux_sbuf *b, const lux_stats_backend_totals *t, size_t n) {
    family(b, "lux_backend_requests_total", "counter", "Requests sent to a gateway's backend.");
    for (size_t i = 0; i < n; i++) {
        backend_labels(b, "lux_backend_requests_total", i);
        lux_sbuf_printf(b, "} %" PRIu64 "\n", t[i].requests);
    }
    family(b, "lux_backend_errors_total", "counter",
           "A backend's failures: connecting, 5xx answers, timeouts.");
    for (size_t i = 0; i < n; i++)
        for (int e = 0; e < LUX_STATS_BACKEND_NERRORS; e++) {
            backend_labels(b, "lux_backend_errors_total", i);
            lux_sbuf_printf(b, ",kind=\"%s\"} %" PRIu64 "\n", lux_stats_backend_error_names[e],
                            t[i].errors[e]);
        }
    family(b, "lux_backend_up", "gauge",
           "1 unless a worker left the backend alone after a failure (passive health).");
    for (size_t i = 0; i < n; i++) {
        backend_labels(b, "lux_backend_up", i);
        lux_sbuf_printf(b, "} %d\n", t[i].up);
    }
    backend_checks(b, t, n);
}

static void backend_durations(lux_sbuf *b, const lux_stats_backend_totals *t, size_t n) {
    const char *name = "lux_backend_response_duration_seconds";
    family(b, name, "histogram", "Time from the request sent to a backend to its response's end.");
    for (size_t i = 0; i < n; i++) {
        uint64_t cumulative = 0;
        for (int k = 0; k <= LUX_STATS_NBUCKETS; k++) {
            cumulative += t[i].duration[k];
            backend_labels(b, "lux_backend_response_duration_seconds_bucket", i);
            if (k < LUX_STATS_NBUCKETS)
                lux_sbuf_printf(b, ",le=\"%g\"} %" PRIu64 "\n", lux_stats_bucket_bounds[k],
                                cumulative);
            else
                lux_sbuf_printf(b, ",le=\"+Inf\"} %" PRIu64 "\n", cumulative);
        }
        backend_labels(b, "lux_backend_response_duration_seconds_sum", i);
        lux_sbuf_printf(b, "} %.6f\n", (double)t[i].duration_us / 1e6);
        backend_labels(b, "lux_backend_response_duration_seconds_count", i);
        lux_sbuf_printf(b, "} %" PRIu64 "\n", cumulative);
    }
}

/* No family at all without backends (no gateway configured, or none asked yet). */
static void backends(lux_sbuf *b) {
    size_t n = lux_stats_backends();
    lux_stats_backend_totals *t = n ? malloc(n * sizeof *t) : NULL;
    if (!t)
        return;
    for (size_t i = 0; i < n; i++)
        lux_stats_backend_of(i, &t[i]);
    backend_requests(b, t, n);
    backend_durations(b, t, n);
    free(t);
}

void lux_status_prometheus(lux_sbuf *b, const lux_status_snapshot *s) {
    requests(b, &s->sum);
    durations(b, &s->sum);
    counter(b, "lux_http_bytes_received_total", "Bytes received from clients.", s->sum.bytes_in);
    counter(b, "lux_http_bytes_sent_total", "Bytes sent to clients, heads and bodies.",
            s->sum.bytes_out);
    connections(b, s);
    tls(b, &s->sum);
    h2_streams(b, &s->sum);
    stat_cache(b, &s->sum);
    compression(b, &s->sum);
    backends(b);
    workers(b, s);
    counter(b, "lux_config_reloads_total", "Configurations reloaded (SIGUSR1).", s->reloads);
    family(b, "lux_start_time_seconds", "gauge", "When the server started, in Unix seconds.");
    lux_sbuf_printf(b, "lux_start_time_seconds %lld\n", (long long)s->started);
    family(b, "lux_build_info", "gauge", "The running lux, as labels; always 1.");
    LUX_SBUF_LIT(b, "lux_build_info{version=\"");
    label_value(b, s->version);
    LUX_SBUF_LIT(b, "\"} 1\n");
}
