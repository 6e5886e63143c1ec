"""The output-filter chain through the test module (tests/modules/mod_test_stream.c): filters
that double every byte and mark their end, alone and chained, on streams with and without a
length, with a file piece, to a slow reader, and to a client that leaves."""

import os
import random
import time

import harness
from harness import Server, check, eq, lux_only, poll
from test_deflate_stream import Stream, rss_kib

MIB = 1024 * 1024

CONF = """
server.modules = ("mod_test_stream")
server.max-worker = 1
$HTTP["url"] =^ "/one" {
    test-stream.bytes = 300000
    test-stream.filters = 1
}
$HTTP["url"] =^ "/two-cl" {
    test-stream.bytes = 300000
    test-stream.content-length = "enable"
    test-stream.filters = 2
}
$HTTP["url"] =^ "/file" {
    test-stream.bytes = 1000
    test-stream.file = "@TMP@/blob"
    test-stream.filters = 1
}
$HTTP["url"] =^ "/big" {
    test-stream.bytes = 33554432
    test-stream.filters = 1
}
$HTTP["url"] =^ "/drip" {
    test-stream.bytes = 100000
    test-stream.piece = 1000
    test-stream.interval-ms = 200
    test-stream.filters = 2
}
"""

BLOB = random.Random(3).randbytes(MIB + 3)


def pattern(n):
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


def through(data, n):
    """What n chained doubling filters make of data."""
    for k in range(1, n + 1):
        data = bytes(b for b in data for _ in range(2)) + b"[end %d]" % k
    return data


def server():
    s = Server(CONF, test_bin=True)
    harness.write_file(os.path.join(s.tmp, "blob"), BLOB)
    return s


def released(s, k):
    return s.errorlog.count(f"test-stream: filter {k} released")


@lux_only("test module")
def test_one_filter_transforms_the_stream():
    with server() as s:
        r = harness.get(s.port, "/one")
        eq(r.header("Transfer-Encoding"), "chunked", "framing")
        check(r.body == through(pattern(300000), 1), f"body of {len(r.body)} bytes differs")
        poll(lambda: released(s, 1) == 1, what="the filter released")


@lux_only("test module")
def test_chained_filters_run_in_order_and_drop_the_length():
    with server() as s:
        r = harness.get(s.port, "/two-cl")
        eq(r.header("Content-Length"), None, "Content-Length")
        eq(r.header("Transfer-Encoding"), "chunked", "framing")
        check(r.body == through(pattern(300000), 2), f"body of {len(r.body)} bytes differs")
        r = harness.get(s.port, "/two-cl", version="HTTP/1.0")
        eq(r.header("Content-Length"), None, "HTTP/1.0 Content-Length")
        check(r.body == through(pattern(300000), 2), "HTTP/1.0 body differs")
        poll(lambda: released(s, 1) == 2 and released(s, 2) == 2, what="each filter released")


@lux_only("test module")
def test_file_piece_is_filtered_in_blocks():
    with server() as s:
        r = harness.get(s.port, "/file")
        check(r.body == through(pattern(1000) + BLOB, 1), f"body of {len(r.body)} bytes differs")


@lux_only("test module")
def test_filtered_stream_to_slow_reader_keeps_rss_bounded():
    size = 32 * MIB
    with server() as s:
        base = rss_kib(s.pid)
        sock = harness.connect(s.port)
        sock.sendall(harness.build_request("/big", close=True))
        st = Stream(sock, 120 * harness.sanitizer_slowdown())
        n, peak, stalled = 0, base, False
        want = through(pattern(size), 1)
        try:
            while not st.ended:
                piece = st.chunk()
                check(piece == want[n:n + len(piece)], f"body differs after {n} bytes")
                n += len(piece)
                if not stalled and n >= MIB:
                    time.sleep(1.5)  # the client stalls: the handler must stop producing
                    stalled = True
                    peak = max(peak, rss_kib(s.pid))
                elif n % 16 == 0:
                    peak = max(peak, rss_kib(s.pid))
        finally:
            sock.close()
        eq(n, len(want), "body length")
        growth = peak - base
        if not harness.sanitized():
            check(growth < 24 * 1024, f"RSS grew by {growth} KiB for a {2 * size // MIB} MiB body")


@lux_only("test module")
def test_client_leaving_releases_the_filters_once():
    with server() as s:
        sock = harness.connect(s.port)
        sock.sendall(harness.build_request("/drip"))
        sock.settimeout(10 * harness.sanitizer_slowdown())
        check(sock.recv(100), "the head and a first piece")
        sock.close()
        poll(lambda: s.errorlog.count("test-stream: aborted /drip") == 1,
             timeout=10 * harness.sanitizer_slowdown(), what="the abort callback")
        poll(lambda: released(s, 1) == 1 and released(s, 2) == 1,
             timeout=10 * harness.sanitizer_slowdown(), what="each filter released")
        time.sleep(0.5)
        eq((released(s, 1), released(s, 2)), (1, 1), "releases")
        eq(harness.get(s.port, "/one").status, 200, "a request after")


@lux_only("test module")
def test_head_through_filters_then_the_next_request():
    with server() as s:
        c = harness.Conn(s.port)
        r = c.request("/one", method="HEAD")
        eq((r.status, r.body), (200, b""), "HEAD")
        r = c.request("/two-cl")
        check(r.body == through(pattern(300000), 2), "the next response on the connection")
        c.close()
        poll(lambda: released(s, 1) == 2, what="each request's filters released")
