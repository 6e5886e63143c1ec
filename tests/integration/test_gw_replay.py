"""A request is never sent twice behind the client's back: when a kept-alive backend
connection turns out closed after a request went out on it, only an idempotent one is tried
again on a new connection (as nginx does); a POST gets 502 and reaches the backend once. A close
the backend made before the request was written is seen first, and the request goes out on a
new connection instead."""

import time

import harness
from harness import check, eq
from soak_backends import GATEWAYS, FaultBackend, fill, gateway_conf, read_outcome, request


def conf(gateway, b):
    return (f'server.modules = ( "{GATEWAYS[gateway][1]}" )\nserver.max-worker = 1\n' +
            gateway_conf(gateway, b.port, harness.free_port(), 30))


def requests_seen(b, method, fault):
    return sum(1 for e in b.events() if e.endswith(f" request {method} {fault}"))


def settle_count(b, method, fault, want):
    """The backend saw want such requests, and no more come (a replay would follow at once)."""
    harness.poll(lambda: requests_seen(b, method, fault) >= want, 10,
                 what=f"{want} {method} {fault} at the backend")
    time.sleep(0.5 * harness.sanitizer_slowdown())
    eq(requests_seen(b, method, fault), want, f"{method} {fault} reached the backend")


def run_post_not_replayed(gateway):
    prefix = GATEWAYS[gateway][0]
    with FaultBackend(GATEWAYS[gateway][2]) as b, harness.Server(conf(gateway, b)) as s:
        for n, body in enumerate((b"", b"x" * 1000)):
            eq(request(s.port, f"{prefix}fault/ok").status, 200, "a kept-alive connection")
            with harness.connect(s.port, timeout=30) as c:
                c.sendall(harness.build_request(f"{prefix}fault/close-before-head",
                                                {"Content-Length": len(body)}, "POST",
                                                body=body))
                out, _ = read_outcome(c, method="POST")
            if not harness.is_lighttpd():  # lighttpd answers 500
                eq(out.status, 502, "the backend closed without answering")
            settle_count(b, "POST", "close-before-head", n + 1)


def run_close_seen_before_reuse(gateway):
    """The backend answers and closes in one segment; the client's next request, a POST
    pipelined behind it, is taken up before the loop hears of the close."""
    prefix = GATEWAYS[gateway][0]
    with FaultBackend(GATEWAYS[gateway][2]) as b, harness.Server(conf(gateway, b)) as s:
        for n in range(1, 6):
            with harness.connect(s.port, timeout=30) as c:
                body = b"y" * 1000
                c.sendall(harness.build_request(f"{prefix}fault/ok-then-close?n=100") +
                          harness.build_request(f"{prefix}fault/ok?n=10", method="POST",
                                                body=body))
                first, rest = read_outcome(c)
                eq((first.status, first.body), (200, fill(100)), "the answer before the close")
                second, _ = read_outcome(c, rest, method="POST")
                eq((second.status, second.body), (200, fill(10)),
                   f"the POST after the close, round {n}\n{s.errorlog[-1500:]}")
                eq(second.header("X-Got"), str(len(body)), "its whole body")
            settle_count(b, "POST", "ok", n)


def test_proxy_post_is_not_replayed():
    run_post_not_replayed("proxy")


def test_fastcgi_post_is_not_replayed():
    run_post_not_replayed("fastcgi")


def test_proxy_close_is_seen_before_reuse():
    run_close_seen_before_reuse("proxy")


def test_fastcgi_close_is_seen_before_reuse():
    run_close_seen_before_reuse("fastcgi")
