/* lighttpd's machine-readable status formats: ?auto (Apache's mod_status keys) and ?json. */
#include <inttypes.h>

#include "mod/status_render.h"

/* The scoreboard's letter for each state, lighttpd's: k keep-alive, R read-POST, W write,
 * C close; h is a request being handled. */
static const char state_letters[LUX_STATS_NSTATES] = {'k', 'R', 'W', 'C'};

static int64_t busy(const lux_status_snapshot *s) {
    return lux_stats_conns_open(&s->sum) + s->handling;
}

static int64_t idle_slots(const lux_status_snapshot *s) {
    int64_t idle = s->max_connections - busy(s);
    return idle > 0 ? idle : 0;
}

static void scoreboard(lux_sbuf *b, const lux_status_snapshot *s) {
    for (int64_t i = 0; i < s->handling; i++)
        LUX_SBUF_LIT(b, "h");
    for (int st = 0; st < LUX_STATS_NSTATES; st++)
        for (int64_t i = 0; i < s->sum.conns[st]; i++)
            lux_sbuf_put(b, &state_letters[st], 1);
    for (int64_t i = idle_slots(s); i > 0; i--)
        LUX_SBUF_LIT(b, "_");
}

void lux_status_auto(lux_sbuf *b, const lux_status_snapshot *s) {
    lux_sbuf_printf(b,
                    "Total Accesses: %" PRIu64 "\nTotal kBytes: %" PRIu64
                    "\nUptime: %lld\nBusyServers: %" PRId64 "\nIdleServers: %" PRId64
                    "\nScoreboard: ",
                    lux_stats_requests_total(&s->sum), s->sum.bytes_out / 1024,
                    (long long)(s->now - s->started), busy(s), idle_slots(s));
    scoreboard(b, s);
    LUX_SBUF_LIT(b, "\n");
}

static void json_histogram(lux_sbuf *b, const lux_stats_totals *t) {
    LUX_SBUF_LIT(b, "\t\t\"latency\": {\"bounds\": [");
    for (int i = 0; i < LUX_STATS_NBUCKETS; i++)
        lux_sbuf_printf(b, "%s%g", i ? ", " : "", lux_stats_bucket_bounds[i]);
    LUX_SBUF_LIT(b, "], \"counts\": [");
    for (int i = 0; i <= LUX_STATS_NBUCKETS; i++)
        lux_sbuf_printf(b, "%s%" PRIu64, i ? ", " : "", t->duration[i]);
    lux_sbuf_printf(b, "], \"sum\": %.6f},\n", (double)t->duration_us / 1e6);
}

static void json_states(lux_sbuf *b, const lux_stats_totals *t, int64_t handling) {
    lux_sbuf_printf(b,
                    "{\"idle\": %" PRId64 ", \"reading\": %" PRId64 ", \"writing\": %" PRId64
                    ", \"closing\": %" PRId64 ", \"handling\": %" PRId64 "}",
                    t->conns[LUX_STATS_IDLE], t->conns[LUX_STATS_READING],
                    t->conns[LUX_STATS_WRITING], t->conns[LUX_STATS_CLOSING], handling);
}

static void json_workers(lux_sbuf *b, const lux_status_snapshot *s) {
    LUX_SBUF_LIT(b, "\t\t\"workers\": [");
    for (size_t i = 0; i < s->nworkers; i++) {
        const lux_stats_totals *w = &s->workers[i];
        lux_sbuf_printf(
            b,
            "%s\n\t\t\t{\"id\": %zu, \"requests\": %" PRIu64 ", \"bytes_in\": %" PRIu64
            ", \"bytes_out\": %" PRIu64 ", \"accepted\": %" PRIu64 ", \"connections\": ",
            i ? "," : "", i, lux_stats_requests_total(w), w->bytes_in, w->bytes_out, w->accepted);
        json_states(b, w, 0);
        LUX_SBUF_LIT(b, "}");
    }
    LUX_SBUF_LIT(b, "\n\t\t]\n");
}

/* A JSON string: quote, backslash and control characters escaped. */
static void json_string(lux_sbuf *b, const char *v) {
    LUX_SBUF_LIT(b, "\"");
    for (; *v; v++) {
        unsigned char ch = (unsigned char)*v;
        if (ch == '"' || ch == '\\')
            lux_sbuf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            lux_sbuf_printf(b, "\\u%04x", ch);
        else
            lux_sbuf_put(b, v, 1);
    }
    LUX_SBUF_LIT(b, "\"");
}

static void json_backend(lux_sbuf *b, size_t id) {
    lux_stats_backend_totals t;
    lux_stats_backend_of(id, &t);
    LUX_SBUF_LIT(b, "{\"module\": ");
    json_string(b, lux_stats_backend_module(id));
    LUX_SBUF_LIT(b, ", \"name\": ");
    json_string(b, lux_stats_backend_name(id));
    lux_sbuf_printf(b, ", \"requests\": %" PRIu64 ", \"errors\": {", t.requests);
    for (int e = 0; e < LUX_STATS_BACKEND_NERRORS; e++)
        lux_sbuf_printf(b, "%s\"%s\": %" PRIu64, e ? ", " : "", lux_stats_backend_error_names[e],
                        t.errors[e]);
    lux_sbuf_printf(b, "}, \"up\": %s}", t.up ? "true" : "false");
}

static void json_backends(lux_sbuf *b) {
    LUX_SBUF_LIT(b, "\t\t\"backends\": [");
    size_t n = lux_stats_backends();
    for (size_t i = 0; i < n; i++) {
        lux_sbuf_printf(b, "%s\n\t\t\t", i ? "," : "");
        json_backend(b, i);
    }
    LUX_SBUF_LIT(b, "\n\t\t],\n");
}

/* lux's own counters: what the dashboard and other tools read. */
static void json_lux(lux_sbuf *b, const lux_status_snapshot *s) {
    const lux_stats_totals *t = &s->sum;
    lux_sbuf_printf(b,
                    "\t\"lux\": {\n\t\t\"version\": \"%s\",\n\t\t\"time\": %lld,\n\t\t\"started\": "
                    "%lld,\n\t\t\"reloads\": %" PRIu64 ",\n\t\t\"max_connections\": %ld,\n",
                    s->version, (long long)s->now, (long long)s->started, s->reloads,
                    s->max_connections);
    LUX_SBUF_LIT(b, "\t\t\"status\": {");
    for (int c = 0; c < LUX_STATS_CLASSES; c++)
        lux_sbuf_printf(b, "%s\"%dxx\": %" PRIu64, c ? ", " : "", c + 1,
                        lux_stats_requests_of_class(t, c));
    static const char *const protos[LUX_STATS_NPROTOS] = {"HTTP/1.0", "HTTP/1.1", "HTTP/2"};
    LUX_SBUF_LIT(b, "},\n\t\t\"protocols\": {");
    for (int p = 0; p < LUX_STATS_NPROTOS; p++) {
        uint64_t n = 0;
        for (int c = 0; c < LUX_STATS_CLASSES; c++)
            n += t->requests[c][p][0] + t->requests[c][p][1];
        lux_sbuf_printf(b, "%s\"%s\": %" PRIu64, p ? ", " : "", protos[p], n);
    }
    lux_sbuf_printf(b,
                    "},\n\t\t\"requests\": %" PRIu64 ",\n\t\t\"bytes_in\": %" PRIu64
                    ",\n\t\t\"bytes_out\": %" PRIu64 ",\n\t\t\"accepted\": %" PRIu64
                    ",\n\t\t\"tls_handshakes\": {\"ok\": %" PRIu64 ", \"failed\": %" PRIu64
                    "},\n\t\t\"connections\": ",
                    lux_stats_requests_total(t), t->bytes_in, t->bytes_out, t->accepted,
                    t->tls_done, t->tls_failed);
    json_states(b, t, s->handling);
    lux_sbuf_printf(b,
                    ",\n\t\t\"http2_streams\": {\"total\": %" PRIu64 ", \"open\": %" PRId64 "},\n",
                    t->h2_streams, t->h2_streams_open);
    json_histogram(b, t);
    json_backends(b);
    json_workers(b, s);
    LUX_SBUF_LIT(b, "\t}\n");
}

void lux_status_json(lux_sbuf *b, const lux_status_snapshot *s) {
    lux_sbuf_printf(b,
                    "{\n\t\"RequestsTotal\": %" PRIu64 ",\n\t\"TrafficTotal\": %" PRIu64
                    ",\n\t\"Uptime\": %lld,\n\t\"BusyServers\": %" PRId64
                    ",\n\t\"IdleServers\": %" PRId64
                    ",\n\t\"RequestAverage5s\":%.0f,\n\t\"TrafficAverage5s\":%.0f,\n",
                    lux_stats_requests_total(&s->sum), s->sum.bytes_out / 1024,
                    (long long)(s->now - s->started), busy(s), idle_slots(s), s->requests_5s,
                    s->bytes_5s / 1024);
    json_lux(b, s);
    LUX_SBUF_LIT(b, "}\n");
}
