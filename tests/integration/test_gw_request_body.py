"""A chunked request body (no length yet) with server.stream-request-body 1 or 2 reaches a
backend that must be told its length first (SCGI, uwsgi, FastCGI's and CGI's CONTENT_LENGTH):
the body is kept whole, as with server.stream-request-body 0, then sent with its length."""

import os
import subprocess

import harness
import test_mod_scgi as scgi
from harness import check, eq, lux_only
from test_mod_fastcgi import Setup, env_of, one_pool
from test_h2 import need

BODY = 300 * 1024  # beyond the 64 KiB the core holds in memory: spooled to a file
LIGHTTPD_411 = ("lighttpd 1.4.69 answers 411 to a chunked body it would stream to a backend, "
                "unless the whole body came in with the head")


def chunked_post(s, path, body, piece=30000, headers=""):
    """POST body in chunks of piece bytes; the last response."""
    req = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
           f"{headers}Connection: close\r\n\r\n").encode()
    for i in range(0, len(body), piece):
        p = body[i:i + piece]
        req += b"%x\r\n" % len(p) + p + b"\r\n"
    req += b"0\r\n\r\n"
    data = harness.raw(s.port, req, 30 * harness.sanitizer_slowdown())
    resps = harness.parse_responses(data, ["POST"])
    check(resps, f"no response to POST {path}: {data[:300]!r}\n{s.errorlog[-2000:]}")
    return resps[-1]


def check_body_arrives(s, prefix, mode):
    body = os.urandom(BODY)
    r = chunked_post(s, f"{prefix}/sha", body)
    eq(r.status, 200, f"stream-request-body {mode}: answered\n{s.errorlog[-1500:]}")
    eq(r.body.decode().split(), [str(len(body)), harness.sha256(body)],
       f"stream-request-body {mode}: the whole body")
    r = chunked_post(s, f"{prefix}/env", b"x" * 1000)
    eq(env_of(r.body).get("CONTENT_LENGTH"), "1000", f"stream-request-body {mode}: its length")


def modes_conf():
    return ''.join(f'$HTTP["url"] =^ "/m{m}/" {{ server.stream-request-body = {m} }}\n'
                   for m in (1, 2))


def run_scgi(proto):
    app = scgi.App(proto)
    conf = ('server.modules = ("mod_scgi")\nserver.max-worker = 1\n'
            f'scgi.protocol = "{proto}"\n' + modes_conf() +
            f'scgi.server = ( "/m" => ( ( "host" => "127.0.0.1", "port" => {app.port}, '
            '"check-local" => "disable" ) ) )\n')
    try:
        with harness.Server(conf) as s:
            for mode in (1, 2):
                check_body_arrives(s, f"/m{mode}", mode)
    finally:
        app.stop()


@lux_only(LIGHTTPD_411)
def test_scgi_chunked_body_is_sent_whole():
    run_scgi("scgi")


@lux_only(LIGHTTPD_411)
def test_uwsgi_chunked_body_is_sent_whole():
    run_scgi("uwsgi")


@lux_only(LIGHTTPD_411)
def test_fastcgi_chunked_body_is_sent_whole_with_its_length():
    conf = lambda apps: modes_conf() + one_pool(apps, '"/m"', ', "check-local" => "disable"')
    with Setup(["a"], conf) as st:
        for mode in (1, 2):
            check_body_arrives(st.server, f"/m{mode}", mode)


@lux_only(LIGHTTPD_411)
def test_scgi_chunked_body_over_http2_is_sent_whole():
    need("nghttp")
    app = scgi.App("scgi")
    conf = ('server.modules = ("mod_scgi")\nserver.max-worker = 1\n'
            'server.stream-request-body = 2\n'
            f'scgi.server = ( "/app" => ( ( "host" => "127.0.0.1", "port" => {app.port}, '
            '"check-local" => "disable" ) ) )\n')
    try:
        with harness.Server(conf) as s:
            body = os.urandom(BODY)
            path = os.path.join(s.tmp, "up.bin")
            with open(path, "wb") as f:
                f.write(body)
            out = subprocess.run(["nghttp", "-d", path, "--no-content-length", s.url("/app/sha")],
                                 capture_output=True, timeout=30)
            eq(out.stdout.decode().split(), [str(len(body)), harness.sha256(body)],
               f"the whole body over HTTP/2: {out.stderr[-500:]!r}\n{s.errorlog[-1500:]}")
    finally:
        app.stop()


@lux_only(LIGHTTPD_411)
def test_chunked_body_over_the_limit_never_reaches_the_backend():
    """server.max-request-size is met while the body is kept: 413, and no connection."""
    app = scgi.App("scgi")
    conf = ('server.modules = ("mod_scgi")\nserver.max-worker = 1\n'
            'server.stream-request-body = 1\nserver.max-request-size = 100\n'
            f'scgi.server = ( "/app" => ( ( "host" => "127.0.0.1", "port" => {app.port}, '
            '"check-local" => "disable" ) ) )\n')
    try:
        with harness.Server(conf) as s:
            eq(chunked_post(s, "/app/sha", b"y" * BODY).status, 413, "over the limit")
            eq(scgi.get(s, "/app/hello").body, b"hello from s\n", "the server goes on")
            check("mod_scgi" not in s.errorlog, f"no backend was asked:\n{s.errorlog[-1500:]}")
    finally:
        app.stop()


LEN_PY = """\
import hashlib, os, sys
n = int(os.environ.get("CONTENT_LENGTH", "-1"))
data = sys.stdin.buffer.read(n) if n >= 0 else b""
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n%d %s\\n" % (n, hashlib.sha256(data).hexdigest()))
"""


@lux_only(LIGHTTPD_411)
def test_cgi_chunked_body_comes_with_its_length():
    """A CGI script reads CONTENT_LENGTH bytes of stdin (RFC 3875 4.1.2)."""
    conf = (f'server.modules = ("mod_cgi")\nserver.max-worker = 1\n'
            f'cgi.assign = ( ".py" => "{scgi.PYTHON}" )\n' + modes_conf())
    with harness.Server(conf, files={"m1/len.py": LEN_PY, "m2/len.py": LEN_PY}) as s:
        for mode in (1, 2):
            body = os.urandom(BODY)
            r = chunked_post(s, f"/m{mode}/len.py", body)
            eq((r.status, r.body.decode().split()), (200, [str(len(body)), harness.sha256(body)]),
               f"stream-request-body {mode}: the body and its length\n{s.errorlog[-1500:]}")
