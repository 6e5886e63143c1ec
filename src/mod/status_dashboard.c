/*
 * The dashboard page. Its style and script are kept apart so that the policy can name their
 * hashes: a browser enforcing it runs this script and no other, and the page needs nothing
 * from outside (no inline handlers or style attributes; numbers go in with textContent).
 */
#include "mod/status_dashboard.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The page's own icon keeps the browser from asking the server for /favicon.ico. */
static const char page_start[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width\">\n<title>lux dashboard</title>\n"
    "<link rel=\"icon\" href=\"data:,\">\n<style>";

static const char style[] =
    "body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; "
    "}\n"
    "h1 { font-size: 1.3em; margin: 0 0 .2em; }\n"
    "h2 { font-size: 1em; margin: 1.2em 0 .4em; color: #555; }\n"
    ".meta { color: #666; }\n"
    ".cards { display: flex; flex-wrap: wrap; gap: .8em; }\n"
    ".card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .6em .9em; "
    "min-width: 10em; }\n"
    ".card .v { font-size: 1.6em; font-variant-numeric: tabular-nums; }\n"
    ".card .l { color: #666; font-size: .85em; }\n"
    "svg.spark { display: block; width: 120px; height: 30px; }\n"
    "svg.spark polyline { fill: none; stroke: #2a6fdb; stroke-width: 1.5; }\n"
    "table { border-collapse: collapse; background: #fff; }\n"
    "th, td { border: 1px solid #ddd; padding: .25em .7em; text-align: right; "
    "font-variant-numeric: tabular-nums; }\n"
    "th { background: #eee; }\n"
    "#state.bad, td.bad, #errors { color: #b00; }\n";

static const char body[] =
    "<h1>lux</h1>\n"
    "<div class=\"meta\"><span id=\"version\"></span> &middot; up <span id=\"uptime\">0</span> s "
    "&middot; <span id=\"nworkers\">0</span> workers &middot; <span id=\"reloads\">0</span> "
    "reloads &middot; <span id=\"state\">connecting</span> <span id=\"errors\"></span></div>\n"
    "<div class=\"cards\">\n"
    "<div class=\"card\"><div class=\"l\">requests/s</div><div class=\"v\" id=\"rps\">0</div><svg "
    "class=\"spark\" id=\"spark-rps\" viewBox=\"0 0 120 30\"><polyline points=\"\"/></svg></div>\n"
    "<div class=\"card\"><div class=\"l\">sent/s</div><div class=\"v\" id=\"bps\">0 B</div><svg "
    "class=\"spark\" id=\"spark-bps\" viewBox=\"0 0 120 30\"><polyline points=\"\"/></svg></div>\n"
    "<div class=\"card\"><div class=\"l\">open connections</div><div class=\"v\" "
    "id=\"open\">0</div><svg class=\"spark\" id=\"spark-open\" viewBox=\"0 0 120 30\"><polyline "
    "points=\"\"/></svg></div>\n"
    "<div class=\"card\"><div class=\"l\">requests since start</div><div class=\"v\" "
    "id=\"total\">0</div></div>\n"
    "<div class=\"card\"><div class=\"l\">HTTP/2 streams/s</div><div class=\"v\" "
    "id=\"h2rate\">0</div><div class=\"l\">open now <span id=\"h2open\">0</span>, since start "
    "<span id=\"h2total\">0</span></div></div>\n"
    "</div>\n"
    "<h2>Status classes (since start, and per second)</h2>\n"
    "<table><tr><th>class</th><th>1xx</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th></tr>\n"
    "<tr><th>total</th><td id=\"c1xx\">0</td><td id=\"c2xx\">0</td><td id=\"c3xx\">0</td><td "
    "id=\"c4xx\">0</td><td id=\"c5xx\">0</td></tr>\n"
    "<tr><th>per s</th><td id=\"r1xx\">0</td><td id=\"r2xx\">0</td><td id=\"r3xx\">0</td><td "
    "id=\"r4xx\">0</td><td id=\"r5xx\">0</td></tr></table>\n"
    "<h2>Connections</h2>\n"
    "<table><tr><th>idle</th><th>reading</th><th>writing</th><th>closing</th><th>handling</"
    "th><th>accepted</th></tr>\n"
    "<tr><td id=\"st-idle\">0</td><td id=\"st-reading\">0</td><td id=\"st-writing\">0</td><td "
    "id=\"st-closing\">0</td><td id=\"st-handling\">0</td><td id=\"accepted\">0</td></tr></table>\n"
    "<h2>Latency (since start, from the histogram)</h2>\n"
    "<table><tr><th>p50</th><th>p90</th><th>p99</th><th>mean</th></tr>\n"
    "<tr><td id=\"p50\">-</td><td id=\"p90\">-</td><td id=\"p99\">-</td><td "
    "id=\"mean\">-</td></tr></table>\n"
    "<h2>Workers</h2>\n"
    "<table><thead><tr><th>worker</th><th>requests</th><th>connections</th><th>received</"
    "th><th>sent</th></tr></thead><tbody id=\"workers\"></tbody></table>\n"
    "<h2>Backends (fastcgi, scgi, proxy)</h2>\n"
    "<table><thead><tr><th>module</th><th>backend</th><th>requests/s</th><th>requests</"
    "th><th>errors</th><th>state</th></tr></thead><tbody id=\"backends\"></tbody></table>\n";

static const char script[] =
    "'use strict';\n"
    "(function () {\n"
    "  var N = 60, series = {rps: [], bps: [], open: []}, prev = null;\n"
    "  function $(id) { return document.getElementById(id); }\n"
    "  function set(id, text) { $(id).textContent = text; }\n"
    "  function num(n) { return n >= 100 || n === Math.floor(n) ? String(Math.round(n)) : "
    "n.toFixed(1); }\n"
    "  function bytes(n) {\n"
    "    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;\n"
    "    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }\n"
    "    return num(n) + ' ' + u[i];\n"
    "  }\n"
    "  function seconds(s) {\n"
    "    if (s < 0.001) return (s * 1e6).toFixed(0) + ' \\u00b5s';\n"
    "    if (s < 1) return (s * 1e3).toFixed(2) + ' ms';\n"
    "    return s.toFixed(2) + ' s';\n"
    "  }\n"
    "  function push(name, v) {\n"
    "    var a = series[name];\n"
    "    a.push(v);\n"
    "    if (a.length > N) a.shift();\n"
    "    var max = Math.max.apply(null, a.concat([1e-9]));\n"
    "    var pts = a.map(function (y, i) {\n"
    "      return (i * 120 / (N - 1)).toFixed(1) + ',' + (29 - y / max * 27).toFixed(1);\n"
    "    });\n"
    "    $('spark-' + name).firstElementChild.setAttribute('points', pts.join(' '));\n"
    "  }\n"
    "  /* As Prometheus' histogram_quantile: linear within the bucket that holds the rank. */\n"
    "  function quantile(bounds, counts, q) {\n"
    "    var total = counts.reduce(function (a, b) { return a + b; }, 0), below = 0;\n"
    "    if (!total) return null;\n"
    "    var rank = q * total;\n"
    "    for (var i = 0; i < counts.length; i++) {\n"
    "      if (counts[i] > 0 && below + counts[i] >= rank) {\n"
    "        if (i >= bounds.length) return bounds[bounds.length - 1];\n"
    "        var lo = i ? bounds[i - 1] : 0;\n"
    "        return lo + (bounds[i] - lo) * (rank - below) / counts[i];\n"
    "      }\n"
    "      below += counts[i];\n"
    "    }\n"
    "    return bounds[bounds.length - 1];\n"
    "  }\n"
    "  function workers(list) {\n"
    "    var body = $('workers');\n"
    "    while (body.rows.length > list.length) body.deleteRow(-1);\n"
    "    list.forEach(function (w, i) {\n"
    "      var row = body.rows[i] || body.insertRow(-1);\n"
    "      var cells = [w.id, w.requests,\n"
    "        w.connections.idle + w.connections.reading + w.connections.writing + "
    "w.connections.closing,\n"
    "        bytes(w.bytes_in), bytes(w.bytes_out)];\n"
    "      while (row.cells.length < cells.length) row.insertCell(-1);\n"
    "      cells.forEach(function (v, k) { row.cells[k].textContent = String(v); });\n"
    "      row.id = 'worker-' + w.id;\n"
    "    });\n"
    "  }\n"
    "  function backends(list, dt) {\n"
    "    var body = $('backends'), before = prev ? prev.j.lux.backends : [];\n"
    "    while (body.rows.length > list.length) body.deleteRow(-1);\n"
    "    list.forEach(function (b, i) {\n"
    "      var row = body.rows[i] || body.insertRow(-1), was = before[i];\n"
    "      var errors = b.errors.connect + b.errors['5xx'] + b.errors.timeout;\n"
    "      var rate = dt > 0 && was ? num((b.requests - was.requests) / dt) : '0';\n"
    "      var cells = [b.module, b.name, rate, b.requests, errors, b.up ? 'up' : 'down'];\n"
    "      while (row.cells.length < cells.length) row.insertCell(-1);\n"
    "      cells.forEach(function (v, k) { row.cells[k].textContent = String(v); });\n"
    "      row.cells[5].className = b.up ? '' : 'bad';\n"
    "      row.id = 'backend-' + i;\n"
    "    });\n"
    "  }\n"
    "  function render(j, now) {\n"
    "    var l = j.lux, c = l.connections, open = c.idle + c.reading + c.writing + c.closing + "
    "c.handling;\n"
    "    set('version', l.version);\n"
    "    set('uptime', String(j.Uptime));\n"
    "    set('nworkers', String(l.workers.length));\n"
    "    set('reloads', String(l.reloads));\n"
    "    set('total', String(l.requests));\n"
    "    set('open', String(open));\n"
    "    set('accepted', String(l.accepted));\n"
    "    ['idle', 'reading', 'writing', 'closing', 'handling'].forEach(function (s) { set('st-' + "
    "s, String(c[s])); });\n"
    "    var dt = prev ? (now - prev.at) / 1000 : 0;\n"
    "    ['1xx', '2xx', '3xx', '4xx', '5xx'].forEach(function (k) {\n"
    "      set('c' + k, String(l.status[k]));\n"
    "      set('r' + k, dt > 0 ? num((l.status[k] - prev.j.lux.status[k]) / dt) : '0');\n"
    "    });\n"
    "    var rps = dt > 0 ? (l.requests - prev.j.lux.requests) / dt : 0;\n"
    "    var bps = dt > 0 ? (l.bytes_out - prev.j.lux.bytes_out) / dt : 0;\n"
    "    set('rps', num(rps));\n"
    "    set('bps', bytes(bps));\n"
    "    push('rps', rps);\n"
    "    push('bps', bps);\n"
    "    push('open', open);\n"
    "    var h = l.latency, count = h.counts.reduce(function (a, b) { return a + b; }, 0);\n"
    "    [50, 90, 99].forEach(function (p) {\n"
    "      var v = quantile(h.bounds, h.counts, p / 100);\n"
    "      set('p' + p, v === null ? '-' : seconds(v));\n"
    "    });\n"
    "    set('mean', count ? seconds(h.sum / count) : '-');\n"
    "    workers(l.workers);\n"
    "    backends(l.backends, dt);\n"
    "    set('h2open', String(l.http2_streams.open));\n"
    "    set('h2total', String(l.http2_streams.total));\n"
    "    set('h2rate', dt > 0 ? num((l.http2_streams.total - prev.j.lux.http2_streams.total) / dt) "
    ": '0');\n"
    "    prev = {j: j, at: now};\n"
    "  }\n"
    "  function poll() {\n"
    "    fetch('?json', {cache: 'no-store'}).then(function (r) {\n"
    "      if (!r.ok) throw new Error('HTTP ' + r.status);\n"
    "      return r.json();\n"
    "    }).then(function (j) {\n"
    "      render(j, performance.now());\n"
    "      set('state', 'live');\n"
    "      $('state').className = '';\n"
    "    }).catch(function (e) {\n"
    "      set('state', 'unreachable: ' + e.message);\n"
    "      $('state').className = 'bad';\n"
    "    });\n"
    "  }\n"
    "  /* A failing script says so on the page instead of freezing its numbers silently. */\n"
    "  var failures = 0;\n"
    "  window.addEventListener('error', function (e) {\n"
    "    failures++;\n"
    "    set('errors', failures + ' script error(s), last: ' + e.message);\n"
    "  });\n"
    "  poll();\n"
    "  setInterval(poll, 1000);\n"
    "})();\n";

static char page[sizeof page_start + sizeof style + sizeof body + sizeof script + 64];
static size_t page_len;
static char csp[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* 'sha256-<base64>' of s, as CSP names an inline element's contents. */
static int hash_source(const char *s, char *out, size_t n) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    unsigned char b64[48];
    if (!EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) || mdlen != sizeof md)
        return -1;
    EVP_EncodeBlock(b64, md, (int)mdlen);
    return snprintf(out, n, "'sha256-%s'", b64) < (int)n ? 0 : -1;
}

static void build(void) {
    char style_hash[64], script_hash[64];
    if (hash_source(style, style_hash, sizeof style_hash) < 0 ||
        hash_source(script, script_hash, sizeof script_hash) < 0)
        return;
    int n = snprintf(page, sizeof page,
                     "%s%s</style>\n</head>\n<body>\n%s<script>%s</script>\n"
                     "</body>\n</html>\n",
                     page_start, style, body, script);
    if (n < 0 || (size_t)n >= sizeof page)
        return;
    page_len = (size_t)n;
    snprintf(csp, sizeof csp,
             "default-src 'none'; script-src %s; style-src %s; connect-src 'self'; "
             "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
             script_hash, style_hash);
}

const char *lux_status_dashboard_page(size_t *len) {
    pthread_once(&once, build);
    *len = page_len;
    return page;
}

const char *lux_status_dashboard_csp(void) {
    pthread_once(&once, build);
    return page_len ? csp : NULL;
}
