/*
 * mod_status: the server's counters, as lighttpd serves them (status.status-url with its HTML,
 * ?auto and ?json forms, status.config-url, status.statistics-url, status.enable-sort) and as
 * lux adds them: status.metrics-url (Prometheus) and status.dashboard-url (a live page).
 *
 * Like lighttpd's, the pages are answered on the clean URL path, in server.modules order: list
 * mod_access (and mod_auth) before mod_status and their rules protect the pages too; the
 * settings may sit in any condition ($HTTP["remoteip"], $HTTP["host"], ...).
 */
#include <pthread.h>
#include <string.h>

#include "core/gen.h"
#include "core/plugin_stats.h"
#include "core/version.h"
#include "lux/req.h"
#include "mod/status_dashboard.h"
#include "mod/status_render.h"

typedef struct {
    lux_str status_url, config_url, statistics_url, metrics_url, dashboard_url;
    int enable_sort;
} status_conf;

static const lux_directive status_directives[] = {
    {"status.status-url", LUX_D_STRING, offsetof(status_conf, status_url), LUX_SCOPE_ANY},
    {"status.config-url", LUX_D_STRING, offsetof(status_conf, config_url), LUX_SCOPE_ANY},
    {"status.statistics-url", LUX_D_STRING, offsetof(status_conf, statistics_url), LUX_SCOPE_ANY},
    {"status.metrics-url", LUX_D_STRING, offsetof(status_conf, metrics_url), LUX_SCOPE_ANY},
    {"status.dashboard-url", LUX_D_STRING, offsetof(status_conf, dashboard_url), LUX_SCOPE_ANY},
    {"status.enable-sort", LUX_D_BOOL, offsetof(status_conf, enable_sort), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

static void status_init(void *conf) {
    ((status_conf *)conf)->enable_sort = 1; /* lighttpd's default */
}

/*
 * The five-second averages of ?json and the HTML page. lighttpd samples its counters every
 * second; lux samples them when a status page is read, at most once a second, and averages
 * from the sample nearest five seconds back. Only status requests take this lock.
 */
#define SAMPLES 8
static struct {
    pthread_mutex_t lock;
    struct {
        time_t t;
        uint64_t requests, bytes;
    } ring[SAMPLES];
    unsigned next, n;
} samples = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void recent_rates(lux_status_snapshot *s) {
    uint64_t reqs = lux_stats_requests_total(&s->sum), bytes = s->sum.bytes_out;
    pthread_mutex_lock(&samples.lock);
    int from = -1;
    for (unsigned i = 0; i < samples.n; i++) {
        unsigned k = (samples.next + SAMPLES - 1 - i) % SAMPLES; /* newest first */
        if (samples.ring[k].t >= s->now)
            continue;
        from = (int)k;
        if (samples.ring[k].t <= s->now - 5)
            break;
    }
    if (from >= 0) {
        double dt = (double)(s->now - samples.ring[from].t);
        s->requests_5s = (double)(reqs - samples.ring[from].requests) / dt;
        s->bytes_5s = (double)(bytes - samples.ring[from].bytes) / dt;
    }
    unsigned last = (samples.next + SAMPLES - 1) % SAMPLES;
    if (!samples.n || samples.ring[last].t != s->now) {
        samples.ring[samples.next].t = s->now;
        samples.ring[samples.next].requests = reqs;
        samples.ring[samples.next].bytes = bytes;
        samples.next = (samples.next + 1) % SAMPLES;
        samples.n += samples.n < SAMPLES;
    }
    pthread_mutex_unlock(&samples.lock);
}

/* The counters now. The connection asking is running its request: it is shown as handling,
 * not in the state its worker last recorded for it. */
static int snapshot(lux_req *r, lux_status_snapshot *s) {
    *s = (lux_status_snapshot){.version = "lux/" LUX_VERSION};
    s->nworkers = lux_stats_nworkers();
    lux_stats_totals *w = lux_pool_alloc(r->pool, (s->nworkers ? s->nworkers : 1) * sizeof *w);
    if (!w)
        return -1;
    for (size_t i = 0; i < s->nworkers; i++) {
        lux_stats_of_worker(i, &w[i]);
        lux_stats_add(&s->sum, &w[i]);
    }
    s->workers = w;
    /* A request answered at once leaves its connection counted as idle; one that came with a
     * body, or waited for something, as reading. */
    int state = s->sum.conns[LUX_STATS_IDLE] > 0 && r->content_length <= 0 ? LUX_STATS_IDLE
                                                                           : LUX_STATS_READING;
    if (s->sum.conns[state] > 0) {
        s->sum.conns[state]--;
        s->handling = 1;
    }
    s->now = lux_req_now(r);
    s->started = lux_stats_start_time();
    s->reloads = lux_stats_reloads();
    s->max_connections = lux_stats_max_connections();
    s->host = r->host.ptr;
    recent_rates(s);
    return 0;
}

static lux_result send_text(lux_req *r, lux_sbuf *b, const char *type) {
    r->status = 200;
    int bad = b->failed || lux_resp_header(r, "Content-Type", 12, type, strlen(type)) < 0 ||
              lux_resp_header(r, "Cache-Control", 13, "no-store", 8) < 0 ||
              lux_resp_body_copy(r, b->ptr ? b->ptr : "", b->len) < 0;
    lux_sbuf_free(b);
    return bad ? LUX_ERROR : LUX_HANDLED;
}

static int query_is(const lux_req *r, const char *q) {
    return r->query.ptr && strcmp(r->query.ptr, q) == 0;
}

static int query_has(const lux_req *r, const char *q) {
    return r->query.ptr && strstr(r->query.ptr, q);
}

typedef enum { PAGE_HTML, PAGE_AUTO, PAGE_JSON, PAGE_METRICS } page_format;

static lux_result counters_page(lux_req *r, page_format f, int sort) {
    lux_status_snapshot s;
    if (snapshot(r, &s) < 0)
        return LUX_ERROR;
    lux_sbuf b = {0};
    switch (f) {
    case PAGE_AUTO:
        lux_status_auto(&b, &s);
        return send_text(r, &b, "text/plain");
    case PAGE_JSON:
        lux_status_json(&b, &s);
        return send_text(r, &b, "application/json");
    case PAGE_METRICS:
        lux_status_prometheus(&b, &s);
        return send_text(r, &b, "text/plain; version=0.0.4; charset=utf-8");
    case PAGE_HTML:
        break;
    }
    lux_status_html(&b, &s, sort);
    return send_text(r, &b, "text/html");
}

/* lighttpd's choice: ?auto exactly, or a query that names json. */
static page_format status_format(const lux_req *r) {
    if (query_is(r, "auto"))
        return PAGE_AUTO;
    return query_has(r, "json") ? PAGE_JSON : PAGE_HTML;
}

/* lighttpd's page of the server's build and enabled modules. */
static lux_result config_page(lux_req *r) {
    lux_sbuf b = {0};
    LUX_SBUF_LIT(&b, "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n"
                     "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n"
                     "         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"
                     "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n"
                     " <head>\n  <title>Status</title>\n </head>\n <body>\n"
                     "  <h1>lux/" LUX_VERSION "</h1>\n"
                     "  <table summary=\"status\" border=\"1\">\n"
                     "   <tr>\n    <th colspan=\"2\">Server-Features</th>\n   </tr>\n"
                     "   <tr>\n    <td><b>RegEx Conditionals</b></td>\n    <td>enabled</td>\n"
                     "   </tr>\n"
                     "   <tr>\n    <th colspan=\"2\">Network Engine</th>\n   </tr>\n"
                     "   <tr>\n    <td><b>fd-Event-Handler</b></td>\n    <td>linux-sysepoll</td>\n"
                     "   </tr>\n"
                     "   <tr>\n    <th colspan=\"2\">Config-File-Settings</th>\n   </tr>\n"
                     "   <tr>\n    <td><b>Loaded Modules</b></td>\n    <td>");
    int first = 1;
    for (size_t i = 0; i < r->gen->nmodules; i++) {
        const char *name = r->gen->modules[i]->name;
        if (strncmp(name, "mod_", 4) != 0)
            continue; /* the core's own settings */
        lux_sbuf_printf(&b, "%s%s", first ? "" : "<br />", name + 4);
        first = 0;
    }
    LUX_SBUF_LIT(&b, "</td>\n   </tr>\n  </table>\n </body>\n</html>\n");
    return send_text(r, &b, "text/html");
}

/* The named counters modules and scripts keep (core/plugin_stats.h), "name: value" per line
 * as lighttpd lists its plugin statistics; none is a 204. */
static lux_result statistics_page(lux_req *r) {
    size_t n = lux_plugin_stats_count();
    if (!n) {
        r->status = 204;
        return lux_resp_header(r, "Content-Type", 12, "text/plain", 10) < 0 ? LUX_ERROR
                                                                            : LUX_HANDLED;
    }
    lux_sbuf b = {0};
    for (size_t i = 0; i < n; i++)
        lux_sbuf_printf(&b, "%s: %lld\n", lux_plugin_stat_name((int)i),
                        (long long)lux_plugin_stat_get((int)i));
    return send_text(r, &b, "text/plain");
}

static lux_result dashboard_page(lux_req *r) {
    if (query_has(r, "json")) /* the page's own data: it needs no status.status-url */
        return counters_page(r, PAGE_JSON, 0);
    r->status = 200;
    const char *csp = lux_status_dashboard_csp();
    if (!csp || lux_resp_header(r, "Content-Type", 12, "text/html; charset=utf-8", 24) < 0 ||
        lux_resp_header(r, "Cache-Control", 13, "no-store", 8) < 0 ||
        lux_resp_header(r, "Content-Security-Policy", 23, csp, strlen(csp)) < 0)
        return LUX_ERROR;
    size_t n;
    const char *page = lux_status_dashboard_page(&n);
    return lux_resp_body_mem(r, page, n) < 0 ? LUX_ERROR : LUX_HANDLED;
}

static int is(const lux_req *r, const lux_str *url) {
    return url->ptr && url->len == r->path.len && memcmp(url->ptr, r->path.ptr, url->len) == 0;
}

static lux_result status_uri_clean(lux_req *r, const void *conf) {
    const status_conf *c = conf;
    if (r->method != LUX_M_GET && r->method != LUX_M_HEAD)
        return LUX_GO_ON;
    if (is(r, &c->status_url))
        return counters_page(r, status_format(r), c->enable_sort);
    if (is(r, &c->metrics_url))
        return counters_page(r, PAGE_METRICS, 0);
    if (is(r, &c->dashboard_url))
        return dashboard_page(r);
    if (is(r, &c->config_url))
        return config_page(r);
    if (is(r, &c->statistics_url))
        return statistics_page(r);
    return LUX_GO_ON;
}

const lux_module lux_mod_status = {
    .name = "mod_status",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = status_directives,
    .conf_size = sizeof(status_conf),
    .conf_init = status_init,
    .uri_clean = status_uri_clean,
};
