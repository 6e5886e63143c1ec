"""Active health checks ("health-check" in a backend's options, lux's own): a backend that fails
its probes is taken out of the balancing, gets no request while it is out, and is put back once
it passes again; the error log and the metrics say so. HTTP probes for mod_proxy, FCGI_GET_VALUES
for mod_fastcgi; a reload stops the old configuration's probes."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness
from harness import Server, check, eq, lux_only, poll
from test_metrics import scrape, total
from test_mod_fastcgi import App, Setup, backend_conf, get as fcgi_get
from test_mod_proxy import get

CHECK = ('"health-check" => ( "uri" => "/healthz", "interval" => 1, "timeout" => 1, '
         '"expect" => "2xx", "rise" => 2, "fall" => 2 )')
METRICS = 'status.metrics-url = "/metrics"\n'


class HealthBackend:
    """An HTTP/1.1 backend in this process: /healthz answers 200 while `healthy`, else 503;
    any other path is counted and answered with "from NAME" (and X-Backend: NAME)."""

    def __init__(self, name):
        self.name, self.healthy = name, True
        self.requests, self.probes, self.probe_paths = 0, 0, []
        self.lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with backend.lock:
                    if self.path.startswith("/healthz"):
                        backend.probes += 1
                        backend.probe_paths.append(self.path)
                        status = 200 if backend.healthy else 503
                    else:
                        backend.requests += 1
                        status = 200
                body = f"from {backend.name}\n".encode()
                self.send_response(status)
                self.send_header("X-Backend", backend.name)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def count(self):
        with self.lock:
            return self.requests

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def proxy_conf(a, b, check_a=CHECK, extra=""):
    return ('server.modules = ("mod_proxy", "mod_status")\nserver.max-worker = 2\n' + METRICS +
            extra +
            'proxy.balance = "round-robin"\n$HTTP["url"] !~ "^/metrics" {\n'
            f'proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {a.port}, {check_a} ),'
            f' ( "host" => "127.0.0.1", "port" => {b.port} ) ) )\n}}\n')


def limit(seconds):
    return seconds * harness.sanitizer_slowdown()


def answered_by(s, n=8):
    return [get(s, f"/page{i}").header("X-Backend") for i in range(n)]


def check_series(s, backend, want):
    samples = scrape(s.port)[1]
    eq(total(samples, "lux_backend_check_up", module="mod_proxy", backend=backend), want,
       f"lux_backend_check_up of {backend}")


@lux_only("active health checks are lux's")
def test_http_backend_taken_out_and_put_back():
    with HealthBackend("a") as a, HealthBackend("b") as b, Server(proxy_conf(a, b)) as s:
        poll(lambda: a.probes >= 1, limit(10), what="a first probe")
        eq(sorted(set(answered_by(s))), ["a", "b"], "both backends serve while a is healthy")
        check_series(s, a.addr, 1)

        a.healthy = False
        poll(lambda: f"backend {a.addr} is down" in s.errorlog, limit(20), what="a taken out")
        check("status 503, not 2xx" in s.errorlog, f"the reason is logged:\n{s.errorlog[-800:]}")
        before = a.count()
        eq(answered_by(s), ["b"] * 8, "b serves every request while a is out")
        eq(a.count(), before, "no request went to a while it was out")
        check_series(s, a.addr, 0)
        eq(total(scrape(s.port)[1], "lux_backend_errors_total", backend=a.addr), 0,
           "taken out before any request failed")

        a.healthy = True
        poll(lambda: f"backend {a.addr} is up" in s.errorlog, limit(20), what="a put back")
        eq(sorted(set(answered_by(s))), ["a", "b"], "a serves again")
        check_series(s, a.addr, 1)
        check(b.probes == 0, "b, without a health-check, is never probed")


@lux_only("active health checks are lux's")
def test_http_probe_fields():
    with HealthBackend("a") as a, HealthBackend("b") as b:
        conf = proxy_conf(a, b, check_a=CHECK.replace('"uri" => "/healthz"',
                                                      '"uri" => "/healthz?deep=1"'))
        with Server(conf):
            poll(lambda: a.probes >= 2, limit(10), what="two probes")
            with a.lock:
                eq(set(a.probe_paths), {"/healthz?deep=1"}, "the configured URI, query and all")


@lux_only("active health checks are lux's")
def test_reload_stops_old_probes():
    """Once a reload replaced it, a configuration's probes stop, even while a kept-alive
    connection still holds it."""
    idle = 'server.max-keep-alive-idle = 120\n'
    with HealthBackend("a") as a, HealthBackend("b") as b:
        with Server(proxy_conf(a, b, extra=idle)) as s, harness.Conn(s.port) as old_conn:
            eq(old_conn.request("/held").status, 200, "a request on the first configuration")
            poll(lambda: a.probes >= 2, limit(10), what="probes before the reload")
            s.reload(proxy_conf(a, b, check_a=CHECK.replace("/healthz", "/healthz-new"),
                                extra=idle))
            poll(lambda: "/healthz-new" in a.probe_paths, limit(10), what="the new probes")
            time.sleep(limit(5))  # the old lease has run out by now
            with a.lock:
                old = a.probe_paths.count("/healthz")
            time.sleep(limit(3))
            with a.lock:
                eq(a.probe_paths.count("/healthz"), old, "the old configuration's probes stopped")
            eq(old_conn.request("/held").status, 200, "the old connection still served")


@lux_only("active health checks are lux's")
def test_health_check_options_checked():
    bad = ['"health-check" => ( "interval" => 0 )',
           '"health-check" => ( "uri" => "healthz" )',
           '"health-check" => ( "expect" => "abc" )',
           '"health-check" => ( "probe" => "fastcgi" )',
           '"health-check" => ( "rise" => "two" )',
           '"health-check" => ( "whatever" => 1 )',
           '"health-check" => "enable"']
    for opt in bad:
        conf = ('server.modules = ("mod_proxy")\n'
                f'proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => 9, {opt} ) ) )\n')
        with harness.TempDir() as t:
            path = f"{t.path}/lux.conf"
            harness.write_file(path, conf)
            r = harness.run_bin(["-t", "-f", path])
            check(r.returncode != 0, f"{opt} accepted")
            check("health-check" in r.stderr + r.stdout, f"{opt}: {r.stderr}")


def fcgi_pool(check_opts):
    def conf(apps):
        opts = ', "check-local" => "disable", ' + check_opts
        hosts = ", ".join(f'"{a.name}" => {backend_conf(a.addr, opts)}' for a in apps)
        return (f'fastcgi.server = ( ".php" => ( {hosts} ) )\n'
                'fastcgi.balance = "round-robin"\nserver.modules += ("mod_status")\n' + METRICS)
    return conf


FCGI_CHECK = '"health-check" => ( "interval" => 1, "timeout" => 1, "rise" => 1, "fall" => 1 )'


@lux_only("active health checks are lux's")
def test_fastcgi_get_values_probe():
    with Setup(["a", "b"], fcgi_pool(FCGI_CHECK)) as st:
        s = st.server
        poll(lambda: fcgi_get(s, "/probes.php").body.strip() not in (b"0", b""), limit(10),
             what="FCGI_GET_VALUES probes")
        a = st.apps[0]
        a.stop()
        poll(lambda: f"backend {a.addr} is down" in s.errorlog, limit(20), what="a taken out")
        for _ in range(6):
            eq(fcgi_get(s, "/hello.php").header("X-Backend"), "b", "b serves while a is out")
        eq(total(scrape(s.port)[1], "lux_backend_errors_total", backend=a.addr, kind="connect"),
           0, "no request tried a while it was out")
        st.apps[0] = App(a.name, a.addr).start()
        poll(lambda: f"backend {a.addr} is up" in s.errorlog, limit(20), what="a put back")
        poll(lambda: "a" in {fcgi_get(s, "/hello.php").header("X-Backend") for _ in range(4)},
             limit(10), what="a serving again")


@lux_only("active health checks are lux's")
def test_fastcgi_probe_needs_an_answer():
    """A backend that accepts connections but never answers FCGI_GET_VALUES is down."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    try:
        conf = ('server.modules = ("mod_fastcgi")\n'
                f'fastcgi.server = ( ".php" => ( ( "host" => "127.0.0.1", "port" => {port}, '
                f'"check-local" => "disable", {FCGI_CHECK} ) ) )\n')
        with Server(conf) as s:
            poll(lambda: f"backend 127.0.0.1:{port} is down" in s.errorlog, limit(20),
                 what="the silent backend taken out")
            check("no answer within 1 s" in s.errorlog, s.errorlog[-800:])
            eq(get(s, "/x.php").status, 503, "no backend left")
    finally:
        silent.close()
