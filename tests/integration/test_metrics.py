"""status.metrics-url: lux's counters in the Prometheus text exposition format 0.0.4, read with a
strict parser of the format, and checked to move by exactly what known traffic adds."""

import math
import re
import shutil
import socket
import subprocess
import threading
import time

from harness import (Server, Skip, TestFailure, build_request, check, eq, get,
                     lux_only, parse_responses, poll, raw, serial)

FILES = {"f.txt": "x" * 1000, "index.html": "hello\n"}

METRICS = """
server.modules = ("mod_status")
status.metrics-url = "/metrics"
server.max-worker = 2
"""

# -- a strict reader of the text format (version 0.0.4) -------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN"
SAMPLE_RE = re.compile(rf"({NAME})(?:\{{(.*)\}})? ({VALUE})(?: (-?[0-9]+))?")
LABEL_RE = re.compile(rf'({LABEL})="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
HELP_RE = re.compile(rf"# HELP ({NAME}) ((?:[^\\\n]|\\[\\n])*)")
TYPE_RE = re.compile(rf"# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count", "")}


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        if not m:
            raise TestFailure(f"bad label set at {text[pos:]!r}")
        name, value = m.group(1), m.group(2)
        if name in labels:
            raise TestFailure(f"label {name} twice in {text!r}")
        labels[name] = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1), value)
        pos = m.end()
    return labels


def family_of(name, types):
    if name in types:
        return name
    for fam, t in types.items():
        if any(name == fam + s for s in SUFFIXES.get(t, ())):
            return fam
    raise TestFailure(f"sample {name} belongs to no family with a TYPE line")


def parse_exposition(text):
    """Return ({family: type}, {(name, frozenset(labels)): value}); fail on any deviation."""
    check(text.endswith("\n"), "the exposition ends with a line feed")
    types, helps, samples = {}, set(), {}
    done, current = set(), None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {n}: {line!r}"
        check(line == line.strip() and line, f"no blank or padded lines: {where}")
        if line.startswith("#"):
            m = TYPE_RE.fullmatch(line) or HELP_RE.fullmatch(line)
            check(m or not re.match(r"# (HELP|TYPE) ", line), f"bad HELP/TYPE: {where}")
            if not m:
                continue
            fam = m.group(1)
            check(fam not in done and fam != current or line.startswith("# TYPE"),
                  f"HELP after the family's samples: {where}")
            if line.startswith("# TYPE"):
                check(fam not in types, f"second TYPE for {fam}")
                check(fam not in done, f"TYPE after samples of {fam}")
                types[fam] = m.group(2)
            else:
                check(fam not in helps, f"second HELP for {fam}")
                helps.add(fam)
            continue
        m = SAMPLE_RE.fullmatch(line)
        check(m, f"not a sample line: {where}")
        name, labels = m.group(1), parse_labels(m.group(2) or "")
        fam = family_of(name, types)
        if fam != current:
            check(fam not in done, f"samples of {fam} are not together: {where}")
            if current:
                done.add(current)
            current = fam
        key = (name, frozenset(labels.items()))
        check(key not in samples, f"a series twice: {where}")
        samples[key] = float(m.group(3))
    check_histograms(types, samples)
    return types, samples


def check_histograms(types, samples):
    """Each series of a histogram (its labels but le) has cumulative buckets, +Inf, _sum and
    a _count equal to +Inf."""
    for fam, t in types.items():
        if t != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == fam + "_bucket":
                rest = frozenset((k, w) for k, w in labels if k != "le")
                series.setdefault(rest, []).append((float(dict(labels)["le"]), v))
        check(series, f"{fam} has buckets")
        for rest, buckets in series.items():
            buckets.sort(key=lambda b: b[0])
            what = f"{fam}{dict(rest)}"
            check(math.isinf(buckets[-1][0]), f"{what} has a +Inf bucket")
            counts = [v for _, v in buckets]
            eq(counts, sorted(counts), f"{what} buckets are cumulative")
            eq(buckets[-1][1], samples.get((fam + "_count", rest)), f"{what} +Inf == _count")
            check((fam + "_sum", rest) in samples, f"{what} has _sum")


def scrape(port):
    r = get(port, "/metrics")
    eq(r.status, 200, "metrics status")
    eq(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8", "content type")
    return parse_exposition(r.body.decode("utf-8"))


def value(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    check(key in samples, f"no series {name}{labels}")
    return samples[key]


def total(samples, name, **labels):
    """The sum over the series of name whose labels include the given ones."""
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == w for k, w in labels.items()))


# -- tests ------------------------------------------------------------------------------------------

FAMILIES = {
    "lux_http_requests_total": "counter", "lux_http_request_duration_seconds": "histogram",
    "lux_http_bytes_received_total": "counter", "lux_http_bytes_sent_total": "counter",
    "lux_connections": "gauge", "lux_connections_accepted_total": "counter",
    "lux_tls_handshakes_total": "counter", "lux_worker_requests_total": "counter",
    "lux_worker_connections": "gauge", "lux_worker_bytes_sent_total": "counter",
    "lux_config_reloads_total": "counter", "lux_start_time_seconds": "gauge",
    "lux_build_info": "gauge",
}


@lux_only("status.metrics-url is lux's")
def test_metrics_format_is_strict_exposition():
    with Server(METRICS, files=FILES) as s:
        types, samples = scrape(s.port)
        for fam, t in FAMILIES.items():
            eq(types.get(fam), t, f"TYPE of {fam}")
        eq(sorted(dict(k[1])["worker"] for k in samples if k[0] == "lux_worker_requests_total"),
           ["0", "1"], "a series per worker")
        classes = {dict(k[1])["code_class"] for k in samples if k[0] == "lux_http_requests_total"}
        eq(classes, {"1xx", "2xx", "3xx", "4xx", "5xx"}, "status classes")
        check(abs(value(samples, "lux_start_time_seconds") - time.time()) < 120, "start time")
        eq(total(samples, "lux_build_info"), 1, "build info")
        check(any(dict(k[1]).get("version") for k in samples if k[0] == "lux_build_info"),
              "version label")


def scrape_raw(port):
    """A scrape on its own connection: (request bytes, response bytes, samples)."""
    req = build_request("/metrics", close=True)
    resp = raw(port, req)
    r = parse_responses(resp)[0]
    eq(r.status, 200, "metrics status")
    return req, resp, parse_exposition(r.body.decode("utf-8"))[1]


@lux_only("status.metrics-url is lux's")
def test_metrics_move_by_known_traffic_across_two_workers():
    with Server(METRICS, files=FILES) as s:
        _, first_resp, before = scrape_raw(s.port)
        sent = received = conns = 0
        reqs = ([build_request("/f.txt", close=True)] * 12 +
                [build_request("/nope", close=True)] * 5 +
                [build_request("/f.txt", version="HTTP/1.0")] * 3)
        for req in reqs:
            resp = raw(s.port, req)
            check(resp.startswith(b"HTTP/1."), f"a response: {resp[:80]!r}")
            sent, received, conns = sent + len(req), received + len(resp), conns + 1
        kept = build_request("/f.txt") * 3 + build_request("/f.txt", close=True)
        resp = raw(s.port, kept)
        eq([r.status for r in parse_responses(resp)], [200] * 4, "four on one connection")
        sent, received, conns = sent + len(kept), received + len(resp), conns + 1
        last_req, _, after = scrape_raw(s.port)

        def moved(name, **labels):
            return total(after, name, **labels) - total(before, name, **labels)
        eq(moved("lux_http_requests_total"), 12 + 5 + 3 + 4 + 1, "the requests and a scrape")
        eq(moved("lux_http_requests_total", code_class="2xx", protocol="HTTP/1.1"), 12 + 4 + 1,
           "2xx over HTTP/1.1: files, the kept-alive four and the first scrape")
        eq(moved("lux_http_requests_total", code_class="4xx", protocol="HTTP/1.1"), 5, "404s")
        eq(moved("lux_http_requests_total", code_class="2xx", protocol="HTTP/1.0"), 3,
           "HTTP/1.0")
        eq(moved("lux_http_requests_total", tls="true"), 0, "nothing over TLS")
        eq(moved("lux_http_request_duration_seconds_count"), 25, "every request timed")
        eq(moved("lux_http_bytes_received_total"), sent + len(last_req),
           "received: the requests, and the last scrape's, byte for byte")
        eq(moved("lux_http_bytes_sent_total"), received + len(first_resp),
           "sent: the responses, and the first scrape's, byte for byte")
        eq(moved("lux_connections_accepted_total"), conns + 1, "connections accepted")
        eq(len([k for k in after if k[0] == "lux_worker_requests_total"]), 2, "two workers")
        eq(moved("lux_worker_requests_total"), 25, "the workers add up to the moves")
        eq(total(after, "lux_worker_requests_total"), total(after, "lux_http_requests_total"),
           "and to the totals")
        eq(total(after, "lux_worker_bytes_sent_total"), total(after, "lux_http_bytes_sent_total"),
           "bytes too")

        # A worker counts a connection closed just after the client saw it close.
        def only_the_scrape_open():
            c = scrape(s.port)[1]
            return (total(c, "lux_connections", state="handling") == 1 and
                    total(c, "lux_connections") == 1 and total(c, "lux_worker_connections") == 1)
        poll(only_the_scrape_open, what="only the scrape's connection to be open")


@lux_only("status.metrics-url is lux's")
def test_metrics_client_gone_before_the_answer_is_no_request():
    with Server(METRICS, files=FILES) as s:
        _, _, before = scrape_raw(s.port)
        head = b"POST /f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
            c.sendall(head)

        def gone():
            return total(scrape(s.port)[1], "lux_connections") == 1
        poll(gone, what="the abandoned connection to close")
        _, _, after = scrape_raw(s.port)
        requests = total(after, "lux_http_requests_total") - total(before, "lux_http_requests_total")
        scrapes = (total(after, "lux_connections_accepted_total") -
                   total(before, "lux_connections_accepted_total") - 1)
        eq(requests, scrapes, "only the scrapes are requests")
        eq(total(after, "lux_http_bytes_received_total") -
           total(before, "lux_http_bytes_received_total") >= len(head), True,
           "its bytes were received")


@lux_only("status.metrics-url is lux's")
def test_metrics_head_and_no_store():
    with Server(METRICS, files=FILES) as s:
        r = get(s.port, "/metrics", method="HEAD")
        eq(r.status, 200, "HEAD")
        eq(r.body, b"", "no body")
        eq(r.header("Cache-Control"), "no-store", "not cached")
        eq(get(s.port, "/metrics").header("Cache-Control"), "no-store", "GET not cached")


@lux_only("status.metrics-url is lux's")
def test_metrics_reloads():
    with Server(METRICS, files=FILES) as s:
        eq(value(scrape(s.port)[1], "lux_config_reloads_total"), 0, "no reload yet")
        s.reload(METRICS)
        s.reload(METRICS)
        eq(value(scrape(s.port)[1], "lux_config_reloads_total"), 2, "two reloads")


@lux_only("status.metrics-url is lux's")
def test_metrics_tls_handshakes():
    from test_tls import certs, tls_conf, tls_connect, tls_request
    conf = METRICS + f'$SERVER["socket"] == "127.0.0.1:@PORT2@" {{\n{tls_conf()}}}\n'
    with Server(conf, files=FILES) as s:
        certs()
        _, before = scrape(s.port)
        for _ in range(3):
            with tls_connect(s.port2) as t:
                eq(tls_request(t, "/f.txt").status, 200, "over TLS")
        with socket.create_connection(("127.0.0.1", s.port2), timeout=5) as bad:
            bad.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP: no handshake
            bad.settimeout(5)
            try:
                while bad.recv(4096):
                    pass
            except OSError:
                pass
        with socket.create_connection(("127.0.0.1", s.port2), timeout=5):
            pass  # connected and left without a byte: not a handshake at all

        def after():
            return scrape(s.port)[1]
        poll(lambda: total(after(), "lux_tls_handshakes_total", result="failed") -
             total(before, "lux_tls_handshakes_total", result="failed") >= 1,
             what="the failed handshake to be counted")
        a = after()
        eq(total(a, "lux_tls_handshakes_total", result="ok") -
           total(before, "lux_tls_handshakes_total", result="ok"), 3, "three handshakes done")
        eq(total(a, "lux_tls_handshakes_total", result="failed") -
           total(before, "lux_tls_handshakes_total", result="failed"), 1, "one failed")
        eq(total(a, "lux_http_requests_total", tls="true", code_class="2xx") -
           total(before, "lux_http_requests_total", tls="true"), 3, "requests over TLS")


def burst(port, threads, per_thread):
    """Keep-alive connections, each sending its requests one after another; returns the
    number of 200 responses received."""
    got = [0] * threads

    def run(i):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            buf = b""
            for k in range(per_thread):
                s.sendall(build_request("/f.txt", close=k == per_thread - 1))
                while buf.count(b"HTTP/1.1 200 OK") <= k:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            got[i] = buf.count(b"HTTP/1.1 200 OK")
    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return sum(got)


@serial
@lux_only("status.metrics-url is lux's")
def test_metrics_add_up_under_load():
    with Server(METRICS, files=FILES) as s:
        _, before = scrape(s.port)
        n = burst(s.port, 8, 100)
        eq(n, 800, "every request answered")
        _, after = scrape(s.port)
        eq(total(after, "lux_http_requests_total", code_class="2xx") -
           total(before, "lux_http_requests_total", code_class="2xx"), 800 + 1,
           "requests counted = requests sent (and the first scrape)")
        eq(total(after, "lux_worker_requests_total"), total(after, "lux_http_requests_total"),
           "the workers add up")
        if not shutil.which("wrk"):
            raise Skip("wrk is not installed: the exact burst passed, the wrk one did not run")
        _, before = scrape(s.port)
        cp = subprocess.run(["wrk", "-t2", "-c8", "-d2s", s.url("/f.txt")], capture_output=True,
                            timeout=60)
        m = re.search(rb"(\d+) requests in", cp.stdout)
        check(m, f"wrk's summary: {cp.stdout[-300:]!r}")
        done = int(m.group(1))
        _, after = scrape(s.port)
        counted = (total(after, "lux_http_requests_total", code_class="2xx") -
                   total(before, "lux_http_requests_total", code_class="2xx") - 1)
        # wrk stops its clock with requests in flight: the server may have answered up to one
        # more per connection than wrk counted, never fewer.
        check(done <= counted <= done + 8, f"wrk counted {done}, the server {counted}")
        eq(total(after, "lux_http_requests_total", code_class="5xx"), 0, "no errors")
