"""status.metrics-url: a gateway's backends (mod_proxy here) — requests, errors by kind, the
response-time histogram and the passive health state, checked against known traffic."""

import shutil
import subprocess

from harness import Server, Skip, check, eq, free_port, lux_only
from test_metrics import scrape, total
from test_mod_proxy import Backend, get

METRICS = 'server.modules += ("mod_status")\nstatus.metrics-url = "/metrics"\n'


def proxy_conf(*ports, opts=""):
    hosts = ", ".join(f'( "host" => "127.0.0.1", "port" => {p}{opts} )' for p in ports)
    return ('server.modules = ("mod_proxy")\nserver.max-worker = 2\n' + METRICS +
            '$HTTP["url"] =~ "^/(?!metrics)" {\n'
            f'proxy.server = ( "" => ( {hosts} ) )\n}}\n')


def series(samples, name, backend):
    return total(samples, name, module="mod_proxy", backend=backend)


@lux_only("status.metrics-url is lux's")
def test_backend_requests_errors_and_latency():
    with Backend() as b, Server(proxy_conf(b.port)) as s:
        name = f"127.0.0.1:{b.port}"
        for _ in range(6):
            eq(get(s, "/hello").status, 200, "through the proxy")
        for _ in range(2):
            eq(get(s, "/status/503").status, 503, "the backend's 503")
        eq(get(s, "/status/404").status, 404, "a 4xx is no error")
        types, samples = scrape(s.port)
        eq(types.get("lux_backend_requests_total"), "counter", "requests TYPE")
        eq(types.get("lux_backend_response_duration_seconds"), "histogram", "latency TYPE")
        eq(series(samples, "lux_backend_requests_total", name), 9, "requests")
        eq(total(samples, "lux_backend_errors_total", backend=name, kind="5xx"), 2, "5xx")
        eq(total(samples, "lux_backend_errors_total", backend=name, kind="connect"), 0, "connect")
        eq(total(samples, "lux_backend_errors_total", backend=name, kind="timeout"), 0, "timeout")
        eq(series(samples, "lux_backend_response_duration_seconds_count", name), 9,
           "every complete response timed")
        eq(total(samples, "lux_backend_response_duration_seconds_bucket", backend=name,
                 le="+Inf"), 9, "+Inf bucket")
        check(series(samples, "lux_backend_response_duration_seconds_sum", name) > 0, "time sum")
        eq(series(samples, "lux_backend_up", name), 1, "up")


@lux_only("status.metrics-url is lux's")
def test_backend_down_and_timeout():
    dead = free_port()
    with Backend() as b, Server(proxy_conf(dead, b.port, opts=', "disable-time" => 600')) as s:
        live, gone = f"127.0.0.1:{b.port}", f"127.0.0.1:{dead}"
        # Fair balancing tries the first of two idle backends: the dead one, then the live one.
        for _ in range(6):
            eq(get(s, "/hello").status, 200, "the live backend answers, the dead one retried")
        types, samples = scrape(s.port)
        check(total(samples, "lux_backend_errors_total", backend=gone, kind="connect") >= 1,
              "the dead backend's connect failure counted")
        eq(series(samples, "lux_backend_up", gone), 0, "the dead backend is down")
        eq(series(samples, "lux_backend_up", live), 1, "the live one is up")
        eq(total(samples, "lux_backend_errors_total", backend=live), 0, "no error on the live one")
    with Backend() as b, Server(proxy_conf(b.port, opts=', "read-timeout" => 1')) as s:
        eq(get(s, "/sleep/3").status, 504, "no response within the read timeout")
        samples = scrape(s.port)[1]
        eq(total(samples, "lux_backend_errors_total", backend=f"127.0.0.1:{b.port}",
                 kind="timeout"), 1, "a timeout")


@lux_only("status.metrics-url is lux's")
def test_no_backend_families_without_gateways():
    with Server("server.modules = ()\n" + METRICS) as s:
        types = scrape(s.port)[0]
        check("lux_backend_requests_total" not in types, "no backend families without backends")


@lux_only("status.metrics-url is lux's")
def test_promtool_accepts_the_metrics():
    """Prometheus' own linter, on a scrape with every family present (a backend, HTTP/2 streams,
    compression)."""
    if not shutil.which("promtool"):
        raise Skip("promtool is not installed (Debian: prometheus; tools/deps.sh test)")
    with Backend() as b, Server(proxy_conf(b.port)) as s:
        eq(get(s, "/hello").status, 200, "through the proxy")
        body = get(s, "/metrics").body
        cp = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                            timeout=30)
        eq((cp.returncode, cp.stdout + cp.stderr), (0, b""), "promtool check metrics")
