#include "mod/status_render.h"

#include <regex.h>
#include <stdlib.h>

#include "t.h"

static lux_status_snapshot sample(lux_stats_totals *workers) {
    workers[0] = (lux_stats_totals){.bytes_out = 3000, .bytes_in = 200, .accepted = 4};
    workers[0].requests[1][LUX_STATS_HTTP11][0] = 7;
    workers[0].conns[LUX_STATS_IDLE] = 2;
    workers[0].duration[2] = 7;
    workers[0].duration_us = 2800;
    workers[1] = (lux_stats_totals){.bytes_out = 100, .accepted = 1, .tls_done = 1};
    workers[1].requests[3][LUX_STATS_HTTP10][1] = 1;
    workers[1].conns[LUX_STATS_WRITING] = 1;
    workers[1].duration[LUX_STATS_NBUCKETS] = 1;
    lux_status_snapshot s = {.workers = workers,
                             .nworkers = 2,
                             .now = 1000,
                             .started = 990,
                             .reloads = 2,
                             .max_connections = 8,
                             .handling = 1,
                             .version = "lux/9\"x"};
    lux_stats_add(&s.sum, &workers[0]);
    lux_stats_add(&s.sum, &workers[1]);
    return s;
}

static int has_line(const char *text, const char *line) {
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

/* Every line is a comment (HELP or TYPE) or a sample: name, optional labels, a value. */
static void test_prometheus_grammar(void) {
    lux_stats_totals w[2];
    lux_status_snapshot s = sample(w);
    lux_sbuf b = {0};
    lux_status_prometheus(&b, &s);
    CHECK(!b.failed && b.len > 0 && b.ptr[b.len - 1] == '\n');
    regex_t sample_re, comment_re;
    CHECK(regcomp(&sample_re,
                  "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
                  "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*\\})? "
                  "(-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|\\+Inf|-Inf|NaN)$",
                  REG_EXTENDED | REG_NOSUB) == 0);
    CHECK(regcomp(&comment_re, "^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$",
                  REG_EXTENDED | REG_NOSUB) == 0);
    char *text = strdup(b.ptr), *save = NULL;
    int lines = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lines++;
        int ok = line[0] == '#' ? !regexec(&comment_re, line, 0, NULL, 0)
                                : !regexec(&sample_re, line, 0, NULL, 0);
        if (!ok)
            fprintf(stderr, "  bad line: %s\n", line);
        CHECK(ok);
    }
    CHECK(lines > 50);
    free(text);
    regfree(&sample_re);
    regfree(&comment_re);
    lux_sbuf_free(&b);
}

static void test_prometheus_values(void) {
    lux_stats_totals w[2];
    lux_status_snapshot s = sample(w);
    lux_sbuf b = {0};
    lux_status_prometheus(&b, &s);
    const char *want[] = {
        "# TYPE lux_http_requests_total counter",
        "lux_http_requests_total{code_class=\"2xx\",protocol=\"HTTP/1.1\",tls=\"false\"} 7",
        "lux_http_requests_total{code_class=\"4xx\",protocol=\"HTTP/1.0\",tls=\"true\"} 1",
        "lux_http_requests_total{code_class=\"5xx\",protocol=\"HTTP/2\",tls=\"true\"} 0",
        "# TYPE lux_http_request_duration_seconds histogram",
        "lux_http_request_duration_seconds_bucket{le=\"0.00025\"} 0",
        "lux_http_request_duration_seconds_bucket{le=\"0.0005\"} 7",
        "lux_http_request_duration_seconds_bucket{le=\"5\"} 7",
        "lux_http_request_duration_seconds_bucket{le=\"+Inf\"} 8",
        "lux_http_request_duration_seconds_sum 0.002800",
        "lux_http_request_duration_seconds_count 8",
        "lux_http_bytes_received_total 200",
        "lux_http_bytes_sent_total 3100",
        "lux_connections{state=\"idle\"} 2",
        "lux_connections{state=\"writing\"} 1",
        "lux_connections{state=\"handling\"} 1",
        "lux_connections_accepted_total 5",
        "lux_tls_handshakes_total{result=\"ok\"} 1",
        "lux_worker_requests_total{worker=\"0\"} 7",
        "lux_worker_requests_total{worker=\"1\"} 1",
        "lux_worker_connections{worker=\"1\"} 1",
        "lux_config_reloads_total 2",
        "lux_start_time_seconds 990",
        "lux_build_info{version=\"lux/9\\\"x\"} 1",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        if (!has_line(b.ptr, want[i]))
            fprintf(stderr, "  missing: %s\n", want[i]);
        CHECK(has_line(b.ptr, want[i]));
    }
    lux_sbuf_free(&b);
}

static void test_auto(void) {
    lux_stats_totals w[2];
    lux_status_snapshot s = sample(w);
    lux_sbuf b = {0};
    lux_status_auto(&b, &s);
    CHECK_STR(b.ptr, "Total Accesses: 8\nTotal kBytes: 3\nUptime: 10\nBusyServers: 4\n"
                     "IdleServers: 4\nScoreboard: hkkW____\n");
    lux_sbuf_free(&b);
}

static void test_json_and_html(void) {
    lux_stats_totals w[2];
    lux_status_snapshot s = sample(w);
    s.host = "<x>";
    lux_sbuf b = {0};
    lux_status_json(&b, &s);
    CHECK(strstr(b.ptr, "\"RequestsTotal\": 8,") != NULL);
    CHECK(strstr(b.ptr, "\"status\": {\"1xx\": 0, \"2xx\": 7, \"3xx\": 0, \"4xx\": 1") != NULL);
    lux_sbuf_free(&b);
    lux_status_html(&b, &s, 1);
    CHECK(strstr(b.ptr, "&lt;x&gt;") != NULL);
    CHECK(strstr(b.ptr, "<x>") == NULL);
    CHECK(strstr(b.ptr, "resort(this)") != NULL);
    lux_sbuf_free(&b);
    lux_status_html(&b, &s, 0);
    CHECK(strstr(b.ptr, "resort") == NULL);
    lux_sbuf_free(&b);
}

int main(void) {
    RUN(test_prometheus_grammar);
    RUN(test_prometheus_values);
    RUN(test_auto);
    RUN(test_json_and_html);
    T_EXIT();
}
