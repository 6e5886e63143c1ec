"""mod_scgi: SCGI and uwsgi backends of the test's own over TCP: the environment, request
bodies, a backend that is down."""

import os
import shutil
import sys

import harness
from harness import Server, check, eq

MIB = 1024 * 1024
PYTHON = shutil.which("python3") or sys.executable
APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scgi_app.py")


class App(harness.ReadyApp):
    def __init__(self, proto):
        self.port = harness.free_port()
        super().__init__([PYTHON, APP, "s", proto, f"tcp:{self.port}"])


def conf(port, proto):
    return ('server.modules = ("mod_scgi")\nserver.max-worker = 1\n'
            f'scgi.protocol = "{proto}"\n'
            f'scgi.server = ( "/app" => ( ( "host" => "127.0.0.1", "port" => {port}, '
            '"check-local" => "disable" ) ) )\n')


def get(s, path, method="GET", body=b"", timeout=30):
    req = harness.build_request(path, None, method, "HTTP/1.1", "localhost", body, close=True)
    data = harness.raw(s.port, req, timeout * harness.sanitizer_slowdown())
    resps = harness.parse_responses(data, [method])
    check(resps, f"no response to {path}: {data[:300]!r}\n{s.errorlog[-2000:]}")
    return resps[-1]


def env_of(body):
    return dict(line.split("=", 1) for line in body.decode("latin-1").splitlines() if "=" in line)


def run_env_and_body(proto):
    app = App(proto)
    try:
        with Server(conf(app.port, proto)) as s:
            r = get(s, "/app/env/x?q=1")
            eq(r.status, 200)
            eq(r.header("X-Backend"), "s")
            env = env_of(r.body)
            eq(env.get("SCRIPT_NAME"), "/app")
            eq(env.get("PATH_INFO"), "/env/x")
            eq(env.get("QUERY_STRING"), "q=1")
            eq(env.get("REQUEST_METHOD"), "GET")
            body = os.urandom(3 * MIB)
            r = get(s, "/app/sha", method="POST", body=body)
            eq(r.body.decode().split(), [str(len(body)), harness.sha256(body)])
            for _ in range(5):  # one connection per request: each is answered in full
                eq(get(s, "/app/hello").body, b"hello from s\n")
    finally:
        app.stop()


def test_scgi_environment_and_body():
    run_env_and_body("scgi")


def test_uwsgi_environment_and_body():
    run_env_and_body("uwsgi")


def test_scgi_backend_down_is_503():
    with Server(conf(harness.free_port(), "scgi")) as s:
        eq(get(s, "/app/hello").status, 503)
