"""server.health-url (mod_health): 200 while serving, 503 from the start of a stop."""

import signal

import harness
from harness import Conn, Server, check, contains, eq, get, poll

CONF = 'server.modules = ("mod_health")\nserver.health-url = "/healthz"\n'
FILES = {"f.txt": "hello\n"}


@harness.lux_only("server.health-url is lux's own")
def test_health_ok_while_serving():
    with Server(CONF, files=FILES) as s:
        r = get(s.port, "/healthz")
        eq(r.status, 200, "status")
        eq(r.body, b"ok\n", "body")
        eq(r.header("Cache-Control"), "no-store", "Cache-Control")
        head = get(s.port, "/healthz", method="HEAD")
        eq(head.status, 200, "HEAD status")
        eq(head.body, b"", "HEAD body")
        eq(head.header("Content-Length"), "3", "HEAD Content-Length")
        post = get(s.port, "/healthz", method="POST", body="x")
        eq(post.status, 405, "POST status")
        eq(get(s.port, "/f.txt").status, 200, "other paths are served as before")


@harness.lux_only("server.health-url is lux's own")
def test_health_url_in_condition():
    conf = ('server.modules = ("mod_health")\n'
            '$HTTP["remote-ip"] == "127.0.0.1" { server.health-url = "/up" }\n')
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/up").body, b"ok\n", "health page where the condition holds")
        eq(get(s.port, "/healthz").status, 404, "no other health path")


@harness.serial
@harness.lux_only("server.health-url is lux's own")
def test_health_503_once_graceful_stop_begins():
    """A graceful stop with an upload in flight: a request whose head completes after the stop
    began gets 503, the upload still completes, then the server exits."""
    with Server(CONF + "server.max-read-idle = 30\n", files=FILES) as s:
        upload = Conn(s.port, timeout=10)
        probe = Conn(s.port, timeout=10)
        try:
            upload.send(b"POST /f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
            probe.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            # Both connections are accepted and reading before the stop begins.
            poll(lambda: harness.open_connections(s.port) >= 2, what="two open connections")
            s.signal(signal.SIGINT)
            poll(lambda: "graceful shutdown" in s.errorlog, what="the graceful stop to begin")
            probe.send(b"\r\n")
            r = probe.response()
            eq(r.status, 503, "health status during the graceful stop")
            eq(r.body, b"stopping\n", "health body during the graceful stop")
            check(s.alive(), "the server exited with an upload in flight")
            upload.send(b"67890")
            done = upload.response("POST")
            eq(done.status, 200, "the upload in flight still completes")
            contains(done.body, b"hello", "its answer")
            eq(s.wait_exit(10 * harness.sanitizer_slowdown()), 0, "exit status")
        finally:
            upload.close()
            probe.close()
