/* lighttpd's HTML status page. Where lighttpd lists connections, lux lists its worker threads:
 * a connection belongs to its worker alone, and only counters are shared. */
#include <inttypes.h>
#include <stdio.h>

#include "mod/status_render.h"

static const char page_head[] =
    "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n"
    "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n"
    "         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"
    "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n"
    " <head>\n"
    "  <title>Status</title>\n"
    "  <style type=\"text/css\">\n"
    "    table.status { border: black solid thin; }\n"
    "    td { white-space: nowrap; }\n"
    "    td.int { background-color: #f0f0f0; text-align: right }\n"
    "    td.string { background-color: #f0f0f0; text-align: left }\n"
    "    th.status { background-color: black; color: white; font-weight: bold; }\n"
    "    a.sortheader { background-color: black; color: white; font-weight: bold; "
    "text-decoration: none; display: block; }\n"
    "    span.sortarrow { color: white; text-decoration: none; }\n"
    "  </style>\n";

/* Sorts a table by the clicked column: numerically for "int" cells, else by text. */
static const char sort_script[] =
    "<script type=\"text/javascript\">\n"
    "// <!--\n"
    "var prev_span = null;\n"
    "function resort(lnk) {\n"
    " var span = lnk.childNodes[1];\n"
    " var table = lnk.parentNode.parentNode.parentNode.parentNode;\n"
    " var col = lnk.parentNode.cellIndex;\n"
    " var rows = Array.prototype.slice.call(table.rows, 1);\n"
    " rows.sort(function(a, b) {\n"
    "  var at = a.cells[col].textContent, bt = b.cells[col].textContent;\n"
    "  if (a.cells[col].className == 'int') return parseInt(at) - parseInt(bt);\n"
    "  at = at.toLowerCase(); bt = bt.toLowerCase();\n"
    "  return at == bt ? 0 : at < bt ? -1 : 1;\n"
    " });\n"
    " if (prev_span != null) prev_span.innerHTML = '';\n"
    " if (span.getAttribute('sortdir') == 'down') {\n"
    "  span.innerHTML = '&uarr;'; span.setAttribute('sortdir', 'up'); rows.reverse();\n"
    " } else {\n"
    "  span.innerHTML = '&darr;'; span.setAttribute('sortdir', 'down');\n"
    " }\n"
    " for (var i = 0; i < rows.length; i++) table.tBodies[0].appendChild(rows[i]);\n"
    " prev_span = span;\n"
    "}\n"
    "// -->\n"
    "</script>\n";

static void row(lux_sbuf *b, const char *name, const char *value) {
    lux_sbuf_printf(b, "<tr><td>%s</td><td class=\"string\">%s</td></tr>\n", name, value);
}

/* lighttpd's units: a number scaled to k/M/G with two decimals. */
static void scaled(char *out, size_t n, double v, const char *unit) {
    static const char *const prefixes[] = {" ", "k", "M", "G", "T"};
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    snprintf(out, n, "%.2f %s%s", v, prefixes[i], unit);
}

static void summary(lux_sbuf *b, const lux_status_snapshot *s) {
    char v[64];
    long long up = (long long)(s->now - s->started);
    uint64_t reqs = lux_stats_requests_total(&s->sum);
    double secs = up > 0 ? (double)up : 1;
    LUX_SBUF_LIT(b, "<table summary=\"status\" class=\"status\">");
    LUX_SBUF_LIT(b, "<tr><td>Hostname</td><td class=\"string\">");
    lux_sbuf_html(b, s->host ? s->host : "");
    LUX_SBUF_LIT(b, "</td></tr>\n");
    snprintf(v, sizeof v, "%lld s", up);
    row(b, "Uptime", v);
    struct tm tm;
    localtime_r(&s->started, &tm);
    strftime(v, sizeof v, "%Y-%m-%d %H:%M:%S", &tm);
    row(b, "Started at", v);
    LUX_SBUF_LIT(b, "<tr><th colspan=\"2\">absolute (since start)</th></tr>\n");
    snprintf(v, sizeof v, "%" PRIu64 "  req", reqs);
    row(b, "Requests", v);
    scaled(v, sizeof v, (double)s->sum.bytes_out, "byte");
    row(b, "Traffic", v);
    LUX_SBUF_LIT(b, "<tr><th colspan=\"2\">average (since start)</th></tr>\n");
    snprintf(v, sizeof v, "%.0f  req/s", (double)reqs / secs);
    row(b, "Requests", v);
    scaled(v, sizeof v, (double)s->sum.bytes_out / secs, "byte/s");
    row(b, "Traffic", v);
    LUX_SBUF_LIT(b, "<tr><th colspan=\"2\">average (5s sliding average)</th></tr>\n");
    snprintf(v, sizeof v, "%.0f  req/s", s->requests_5s);
    row(b, "Requests", v);
    scaled(v, sizeof v, s->bytes_5s, "byte/s");
    row(b, "Traffic", v);
    LUX_SBUF_LIT(b, "</table>\n");
}

static void legend(lux_sbuf *b, const lux_status_snapshot *s) {
    static const struct {
        int state;
        const char *text;
    } rows[] = {
        {LUX_STATS_IDLE, "k = keep-alive"},
        {LUX_STATS_READING, "R = readpost"},
        {-1, "h = handle-req"},
        {LUX_STATS_WRITING, "W = write"},
        {LUX_STATS_CLOSING, "C = close"},
    };
    lux_sbuf_printf(b, "<hr />\n<pre>\n<b>%" PRId64 " connections</b>\n",
                    lux_stats_conns_open(&s->sum) + s->handling);
    LUX_SBUF_LIT(b, "<table>\n");
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        lux_sbuf_printf(
            b, "<tr><td style=\"text-align:right\">%" PRId64 "</td><td>&nbsp;&nbsp;%s</td></tr>\n",
            rows[i].state < 0 ? s->handling : s->sum.conns[rows[i].state], rows[i].text);
    LUX_SBUF_LIT(b, "</table>\n</pre><hr />\n");
}

static void header_cell(lux_sbuf *b, const char *name, int sort) {
    if (sort)
        lux_sbuf_printf(b,
                        "<th class=\"status\"><a href=\"#\" class=\"sortheader\" "
                        "onclick=\"resort(this);return false;\">%s<span "
                        "class=\"sortarrow\">:</span></a></th>\n",
                        name);
    else
        lux_sbuf_printf(b, "<th class=\"status\">%s</th>\n", name);
}

static void workers(lux_sbuf *b, const lux_status_snapshot *s, int sort) {
    static const char *const cols[] = {"Worker",   "Requests", "Read",    "Written",
                                       "Accepted", "Open",     "Writing", "Idle"};
    LUX_SBUF_LIT(b, "<h2>Workers</h2>\n<table summary=\"status\" class=\"status\">\n<tr>");
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++)
        header_cell(b, cols[i], sort);
    LUX_SBUF_LIT(b, "</tr>\n");
    for (size_t i = 0; i < s->nworkers; i++) {
        const lux_stats_totals *w = &s->workers[i];
        lux_sbuf_printf(
            b,
            "<tr><td class=\"int\">%zu</td><td class=\"int\">%" PRIu64
            "</td><td class=\"int\">%" PRIu64 "</td><td class=\"int\">%" PRIu64
            "</td><td class=\"int\">%" PRIu64 "</td><td class=\"int\">%" PRId64
            "</td><td class=\"int\">%" PRId64 "</td><td class=\"int\">%" PRId64 "</td></tr>\n",
            i, lux_stats_requests_total(w), w->bytes_in, w->bytes_out, w->accepted,
            lux_stats_conns_open(w), w->conns[LUX_STATS_WRITING], w->conns[LUX_STATS_IDLE]);
    }
    LUX_SBUF_LIT(b, "</table>\n");
}

void lux_status_html(lux_sbuf *b, const lux_status_snapshot *s, int sort) {
    lux_sbuf_put(b, page_head, sizeof page_head - 1);
    if (sort)
        lux_sbuf_put(b, sort_script, sizeof sort_script - 1);
    LUX_SBUF_LIT(b, " </head>\n<body>\n<h1>Server-Status (");
    lux_sbuf_html(b, s->version);
    LUX_SBUF_LIT(b, ")</h1>");
    summary(b, s);
    legend(b, s);
    workers(b, s, sort);
    LUX_SBUF_LIT(b, "</body>\n</html>\n");
}
