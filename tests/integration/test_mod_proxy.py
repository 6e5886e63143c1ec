"""mod_proxy: a python HTTP/1.1 backend and lux itself as backends; what goes to the backend
(hop-by-hop fields dropped, X-Forwarded-*), the response's framing (length, chunked, closed),
keep-alive to the backend, a backend that is down."""

import os
import shutil
import sys

import harness
from harness import Server, check, eq, lux_only

PYTHON = shutil.which("python3") or sys.executable
APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "http_backend.py")


class Backend(harness.ReadyApp):
    def __init__(self, name="b"):
        self.port = harness.free_port()
        super().__init__([PYTHON, APP, name, str(self.port)])


def conf(port, extra=""):
    return ('server.modules = ("mod_proxy")\nserver.max-worker = 1\n'
            f'proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {port} ) ) )\n' + extra)


def get(s, path, method="GET", body=b"", headers=None, timeout=20):
    req = harness.build_request(path, headers, method, "HTTP/1.1", "localhost", body, close=True)
    data = harness.raw(s.port, req, timeout * harness.sanitizer_slowdown())
    resps = harness.parse_responses(data, [method])
    check(resps, f"no response to {path}: {data[:300]!r}\n{s.errorlog[-2000:]}")
    return resps[-1]


def echo(s, headers):
    r = get(s, "/echo?x=1", method="POST", body=b"12345", headers=headers)
    eq(r.status, 200)
    lines = r.body.decode().splitlines()
    fields = {l.split(": ", 1)[0].lower(): l.split(": ", 1)[1] for l in lines[1:-1]}
    return r, lines, fields


def test_request_goes_on_with_forwarded_fields():
    with Backend() as b, Server(conf(b.port)) as s:
        r, lines, fields = echo(s, {"X-Custom": "v"})
        check(lines[0].startswith("POST /echo?x=1 HTTP/1."), f"request line {lines[0]!r}")
        eq(fields.get("x-custom"), "v")
        eq(fields.get("host"), "localhost")
        eq(fields.get("x-forwarded-for"), "127.0.0.1")
        eq(fields.get("x-forwarded-proto"), "http")
        eq(fields.get("x-forwarded-host"), "localhost")
        eq(fields.get("x-host"), "localhost")
        eq(lines[-1], "body 5")
        eq(r.header("X-Backend"), "b")


@lux_only("lighttpd passes hop-by-hop fields (Keep-Alive, those Connection names) on")
def test_hop_by_hop_fields_dropped_both_ways():
    with Backend() as b, Server(conf(b.port)) as s:
        r, lines, fields = echo(s, {"Connection": "close, X-Secret", "X-Secret": "s",
                                    "Keep-Alive": "timeout=5"})
        check("x-secret" not in fields and "keep-alive" not in fields,
              f"hop-by-hop fields went on: {fields}")
        check(not r.has("X-Private"), "a field the backend's Connection names came back")


def test_chunked_and_close_delimited_responses():
    with Backend() as b, Server(conf(b.port)) as s:
        r = get(s, "/chunked?5")
        eq(r.body, b"".join(f"piece {i}\n".encode() for i in range(5)))
        eq(get(s, "/old").body, b"old style\n")
        eq(get(s, "/hello", method="HEAD").body, b"")
        eq(get(s, "/hello").body, b"hello from b\n")


@lux_only("lighttpd speaks HTTP/1.0 to backends and closes each connection")
def test_keep_alive_to_backend():
    """HTTP/1.1 to the backend: one connection serves every request."""
    with Backend() as b, Server(conf(b.port)) as s:
        for _ in range(10):
            eq(get(s, "/hello").body, b"hello from b\n")
        eq(get(s, "/conns").body, b"1\n")


def test_backend_down_is_503():
    with Server(conf(harness.free_port())) as s:
        eq(get(s, "/hello").status, 503)


def test_lux_as_backend():
    big = os.urandom(3 * 1024 * 1024)
    with Server("", files={"big.bin": big, "small.txt": "small\n"}) as back:
        with Server(conf(back.port)) as s:
            eq(get(s, "/small.txt").body, b"small\n")
            r = get(s, "/big.bin", timeout=60)
            eq(len(r.body), len(big))
            check(r.body == big, "the body changed on the way")
            eq(get(s, "/missing").status, 404)


def test_rewritten_uri_goes_to_backend():
    extra = 'server.modules += ("mod_rewrite")\nurl.rewrite-once = ( "^/old/(.*)$" => "/echo/$1" )\n'
    with Backend() as b, Server(conf(b.port, extra)) as s:
        r = get(s, "/old/x?y=1")
        eq(r.status, 200)
        eq(r.body.decode().splitlines()[0].rsplit(" ", 1)[0], "GET /echo/x?y=1")
