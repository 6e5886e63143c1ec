"""The stream core through the test module (tests/modules/mod_test_stream.c, in the test
binary): handlers that answer later, streamed bodies with back-pressure, aborts, over plain
HTTP and TLS.

The module streams a pattern (byte i is i % 251), so every body can be checked whole."""

import socket
import ssl
import time

import harness
from harness import Conn, Server, check, eq, lux_only, poll
from test_tls import need_tls, tls_conf, tls_connect

MIB = 1024 * 1024
SLOW_MS = 3000  # an async answer's delay: long beside a static file even under ASan

CONF = f"""
server.modules = ("mod_test_stream")
server.max-worker = 1
$HTTP["url"] =^ "/slow" {{ test-stream.delay-ms = {SLOW_MS} }}
$HTTP["url"] =^ "/quick" {{ test-stream.delay-ms = 50 }}
$HTTP["url"] =^ "/big" {{ test-stream.bytes = {64 * MIB} }}
$HTTP["url"] =^ "/mid" {{ test-stream.bytes = {16 * MIB} }}
$HTTP["url"] =^ "/cl" {{
    test-stream.bytes = 300000
    test-stream.content-length = "enable"
}}
$HTTP["url"] =^ "/chunks" {{ test-stream.bytes = 300000 }}
$HTTP["url"] =^ "/drip" {{
    test-stream.bytes = 100000
    test-stream.piece = 1000
    test-stream.interval-ms = 200
}}
$HTTP["url"] =^ "/later-stream" {{
    test-stream.delay-ms = 100
    test-stream.bytes = 200000
}}
$HTTP["url"] =^ "/broken" {{
    test-stream.bytes = 300000
    test-stream.abort-after = 100000
}}
$HTTP["url"] =^ "/broken-cl" {{
    test-stream.bytes = 300000
    test-stream.abort-after = 100000
    test-stream.content-length = "enable"
}}
"""

FILES = {"index.html": "static\n"}


def pattern(n):
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


def server(tls=False):
    return Server(CONF + (tls_conf() if tls else ""), files=FILES, test_bin=True)


def connect(s, tls):
    return tls_connect(s.port) if tls else harness.connect(s.port)


def request(path, method="GET", version="HTTP/1.1", close=False):
    extra = "Connection: close\r\n" if close else ""
    return f"{method} {path} {version}\r\nHost: localhost\r\n{extra}\r\n".encode()


def read_response(sock, method="GET", timeout=30.0):
    """One response from sock (the connection may stay open); (Response, bytes after it)."""
    buf, eof = b"", False
    deadline = time.monotonic() + timeout * harness.sanitizer_slowdown()
    while True:
        try:
            return harness.parse_response(buf, method=method, eof=eof)
        except harness.Incomplete:
            check(not eof, f"connection closed mid-response; have {buf[:200]!r}")
            check(time.monotonic() < deadline, f"no complete response; have {buf[:200]!r}")
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                b = sock.recv(1 << 20)
            except (ConnectionResetError, socket.timeout):
                b = b""
            eof = not b
            buf += b


def read_until_closed(sock, timeout=30.0):
    data, closed = harness.read_all(sock, timeout * harness.sanitizer_slowdown())
    check(closed, "the server did not close the connection")
    return data


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise harness.TestFailure("no VmRSS")


def aborts(s, path):
    return s.errorlog.count(f"test-stream: aborted {path} ")


def async_answer_while_others_proceed(tls):
    with server(tls) as s:
        slow = connect(s, tls)
        slow.sendall(request("/slow"))
        # One worker: the static file is served while the handler holds the slow request.
        fast = connect(s, tls)
        fast.sendall(request("/index.html", close=True))
        resp = harness.parse_response(read_until_closed(fast))[0]
        eq((resp.status, resp.body), (200, b"static\n"), "the static file")
        slow.setblocking(False)
        try:
            early = slow.recv(100)
        except (BlockingIOError, ssl.SSLWantReadError):
            early = b""
        eq(early, b"", "the slow answer before its time")
        slow.setblocking(True)
        resp = read_response(slow)[0]
        eq((resp.status, resp.body), (200, b"answered later\n"), "the later answer")
        slow.close()


@lux_only("test module")
def test_async_answer_while_other_connections_proceed():
    async_answer_while_others_proceed(tls=False)


@lux_only("test module")
def test_tls_async_answer_while_other_connections_proceed():
    need_tls()
    async_answer_while_others_proceed(tls=True)


def slow_reader_bounded_rss(tls, size, path):
    with server(tls) as s:
        base = rss_kib(s.pid)
        sock = connect(s, tls)
        sock.sendall(request(path, close=True))
        got = bytearray()
        sock.settimeout(10 * harness.sanitizer_slowdown())
        while len(got) < MIB:
            got += sock.recv(65536)
        time.sleep(1.5)  # the client stalls: the handler must stop producing
        peak = rss_kib(s.pid)
        reads = 0
        while True:
            b = sock.recv(256 * 1024)
            if not b:
                break
            got += b
            reads += 1
            if reads % 16 == 0:
                time.sleep(0.005)  # a steady, slowish reader
                peak = max(peak, rss_kib(s.pid))
        sock.close()
        resp = harness.parse_response(bytes(got))[0]
        eq(resp.header("Transfer-Encoding"), "chunked", "framing")
        check(resp.body == pattern(size), f"body of {len(resp.body)} bytes differs")
        # Unbounded, the whole body would sit in the server; back-pressure keeps a few hundred
        # KiB queued (about 350 KiB measured). The bound is generous for allocator slack. A
        # sanitizer's allocator keeps freed memory in quarantine: there only the body counts.
        growth = peak - base
        if not harness.sanitized():
            check(growth < 24 * 1024, f"RSS grew by {growth} KiB for a {size // MIB} MiB body")


@lux_only("test module")
def test_streamed_64mib_to_slow_reader_keeps_rss_bounded():
    slow_reader_bounded_rss(False, 64 * MIB, "/big")


@lux_only("test module")
def test_tls_streamed_16mib_to_slow_reader_keeps_rss_bounded():
    need_tls()
    slow_reader_bounded_rss(True, 16 * MIB, "/mid")


def close_mid_response_aborts_once(tls, path, read_first):
    with server(tls) as s:
        sock = connect(s, tls)
        sock.sendall(request(path))
        got = b""
        sock.settimeout(10 * harness.sanitizer_slowdown())
        while len(got) < read_first:
            got += sock.recv(65536)
        sock.close()
        poll(lambda: aborts(s, path) >= 1, timeout=10 * harness.sanitizer_slowdown(),
             what="the abort callback")
        time.sleep(0.5)
        eq(aborts(s, path), 1, "abort callbacks")
        if not tls:
            eq(harness.get(s.port, "/index.html").status, 200, "a request after the abort")


@lux_only("test module")
def test_client_closes_mid_response_aborts_once():
    close_mid_response_aborts_once(False, "/big", 200 * 1024)


@lux_only("test module")
def test_client_closes_while_handler_is_between_pieces():
    close_mid_response_aborts_once(False, "/drip", 1)


@lux_only("test module")
def test_client_closes_before_the_answer():
    with server() as s:
        sock = harness.connect(s.port)
        sock.sendall(request("/slow"))
        time.sleep(0.3)
        sock.close()
        poll(lambda: aborts(s, "/slow") >= 1, timeout=10 * harness.sanitizer_slowdown(),
             what="the abort callback")
        time.sleep(0.5)
        eq(aborts(s, "/slow"), 1, "abort callbacks")


@lux_only("test module")
def test_tls_client_closes_mid_response_aborts_once():
    need_tls()
    close_mid_response_aborts_once(True, "/big", 200 * 1024)


@lux_only("test module")
def test_pipelined_requests_behind_an_async_one_answered_in_order():
    with server() as s, Conn(s.port, timeout=30 * harness.sanitizer_slowdown()) as c:
        c.send(request("/quick") + request("/index.html") + request("/chunks") +
               request("/quick"))
        bodies = [c.response().body for _ in range(4)]
        eq(bodies, [b"answered later\n", b"static\n", pattern(300000), b"answered later\n"],
           "responses in order")


@lux_only("test module")
def test_head_on_streamed_responses():
    with server() as s, Conn(s.port, timeout=30 * harness.sanitizer_slowdown()) as c:
        c.send(request("/chunks", "HEAD"))
        resp = c.response("HEAD")
        eq((resp.status, resp.header("Transfer-Encoding")), (200, "chunked"), "chunked HEAD")
        c.send(request("/cl", "HEAD"))
        resp = c.response("HEAD")
        eq(resp.header("Content-Length"), "300000", "HEAD with a length")
        # No body went with either: the next answer follows at once on the same connection.
        resp = c.request("/index.html")
        eq(resp.body, b"static\n", "the request after them")


@lux_only("test module")
def test_streamed_body_with_content_length():
    with server() as s, Conn(s.port, timeout=30 * harness.sanitizer_slowdown()) as c:
        resp = c.request("/cl")
        eq((resp.header("Content-Length"), resp.has("Transfer-Encoding")), ("300000", False),
           "framing")
        check(resp.body == pattern(300000), "body differs")
        resp = c.request("/later-stream")
        eq(resp.header("Transfer-Encoding"), "chunked", "a stream that starts later")
        check(resp.body == pattern(200000), "body differs")


@lux_only("test module")
def test_streamed_body_on_http10_ends_with_the_connection():
    with server() as s:
        data, closed = harness.raw_ex(s.port, request("/chunks", version="HTTP/1.0"),
                                      timeout=30 * harness.sanitizer_slowdown())
        check(closed, "connection left open")
        resp = harness.parse_response(data)[0]
        eq((resp.has("Content-Length"), resp.has("Transfer-Encoding")), (False, False),
           "no framing headers")
        check(resp.body == pattern(300000), "body differs")


@lux_only("test module")
def test_aborted_stream_closes_without_the_last_chunk():
    with server() as s:
        for path in ("/broken", "/broken-cl"):
            data, closed = harness.raw_ex(s.port, request(path),
                                          timeout=30 * harness.sanitizer_slowdown())
            check(closed, f"{path}: connection left open")
            try:
                harness.parse_response(data, eof=False)
            except harness.Incomplete:
                pass
            else:
                raise harness.TestFailure(f"{path}: a broken body looked complete")
            check(len(data) < 100000 + 4096, f"{path}: {len(data)} bytes for 100000")


@lux_only("test module")
def test_tls_streamed_and_later_answers():
    need_tls()
    with server(tls=True) as s:
        sock = tls_connect(s.port)
        for path, body in (("/quick", b"answered later\n"), ("/chunks", pattern(300000)),
                           ("/cl", pattern(300000))):
            sock.sendall(request(path))
            resp = read_response(sock)[0]
            check(resp.body == body, f"{path}: body differs")
        sock.close()
