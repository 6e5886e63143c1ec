"""HTTP/1.x connection handling: keep-alive rules, pipelining, framing, limits and timeouts."""

import re
import socket
import time
from email.utils import parsedate_to_datetime

from harness import (Conn, Server, check, contains, eq, get, lux_only, parse_one, parse_responses,
                     raw, raw_ex, write_file)

FILES = {"a.txt": "file a\n", "b.txt": "file b\n", "c.txt": "file c\n"}


def test_keepalive_http11_default():
    with Server(files=FILES) as s, Conn(s.port) as c:
        r1 = c.request("/a.txt")
        eq((r1.status, r1.body), (200, b"file a\n"), "first")
        check((r1.header("Connection") or "").lower() != "close", "HTTP/1.1 answer closes")
        r2 = c.request("/b.txt")
        eq((r2.status, r2.body), (200, b"file b\n"), "second on the same connection")


def test_http10_closes_by_default():
    with Server(files=FILES) as s:
        data, closed = raw_ex(s.port, b"GET /a.txt HTTP/1.0\r\n\r\n")
        check(closed, "HTTP/1.0 connection left open")
        r = parse_one(data)
        eq(r.version, "HTTP/1.0", "version")
        eq((r.status, r.body), (200, b"file a\n"), "response")


def test_http10_keepalive_requested():
    with Server(files=FILES) as s, Conn(s.port) as c:
        c.send(b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.response()
        eq((r.status, r.body), (200, b"file a\n"), "first")
        eq((r.header("Connection") or "").lower(), "keep-alive", "Connection header")
        c.send(b"GET /b.txt HTTP/1.0\r\n\r\n")
        r = c.response()
        eq((r.status, r.body), (200, b"file b\n"), "second on the same connection")
        check(c.closed_by_server(3), "plain HTTP/1.0 request did not close")


def test_connection_token_list():
    with Server(files=FILES) as s:
        for value in ("keep-alive, close", "close, keep-alive", "Upgrade,  CLOSE"):
            req = f"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: {value}\r\n\r\n".encode()
            data, closed = raw_ex(s.port, req, timeout=3)
            check(closed, f"'Connection: {value}' left the connection open")
            r = parse_one(data)
            eq(r.status, 200, f"status for {value!r}")
            eq((r.header("Connection") or "").lower(), "close", f"Connection for {value!r}")


def test_pipelining_three():
    reqs = (b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /c.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    with Server(files=FILES) as s:
        data, closed = raw_ex(s.port, reqs)
        check(closed, "connection left open after Connection: close")
        rs = parse_responses(data)
        eq([r.status for r in rs], [200, 200, 200], "statuses")
        eq([r.body for r in rs], [b"file a\n", b"file b\n", b"file c\n"], "bodies in order")


def test_pipelining_byte_by_byte():
    reqs = (b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /b.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    with Server(files=FILES) as s:
        with Conn(s.port) as c:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(reqs)):
                c.send(reqs[i:i + 1])
            eq(c.response().body, b"file a\n", "first")
            eq(c.response().body, b"file b\n", "second")


def test_half_close():
    with Server(files=FILES) as s:
        data, closed = raw_ex(s.port, b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", shut_wr=True)
        check(closed, "connection not closed after the answer to a half-closed client")
        r = parse_one(data)
        eq((r.status, r.body), (200, b"file a\n"), "response")


def test_expect_100_continue_static_post():
    """Either a 100 interim answer (then the body is sent) or the final answer straight away."""
    with Server(files=FILES) as s, Conn(s.port) as c:
        c.send(b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
               b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
        r = c.response(interim=True)
        if r.status == 100:
            c.send(b"hello")
            r = c.response()
        eq(r.status, 200, "final status")
        eq(r.body, b"file a\n", "final body")


def test_chunked_request_body():
    body = (b"5;name=value\r\nhello\r\n"
            b"6 ; other\r\n world\r\n"
            b"0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n")
    req = (b"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n" + body)
    with Server(files=FILES) as s:
        data, closed = raw_ex(s.port, req)
        check(closed, "connection left open")
        r = parse_one(data)
        eq((r.status, r.body), (200, b"file a\n"), "response")
        eq(get(s.port, "/b.txt").status, 200, "server still serving")


def test_absolute_form_target():
    with Server(files=FILES) as s:
        port = s.port
        r = parse_one(raw(port, f"GET http://example.com:{port}/a.txt HTTP/1.1\r\nHost: "
                                f"example.com:{port}\r\nConnection: close\r\n\r\n".encode()))
        eq((r.status, r.body), (200, b"file a\n"), "absolute-form")


def test_absolute_form_selects_vhost():
    conf = '$HTTP["host"] == "v.example" { server.document-root = "@TMP@/v" }\n'
    with Server(conf, files=FILES) as s:
        write_file(s.tmp + "/v/a.txt", "vhost\n")
        r = parse_one(raw(s.port, b"GET http://v.example/a.txt HTTP/1.1\r\nHost: v.example\r\n"
                                  b"Connection: close\r\n\r\n"))
        eq(r.body, b"vhost\n", "body")


def test_options_star():
    with Server() as s:
        r = parse_one(raw(s.port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        eq(r.status, 200, "status")
        allow = [m.strip() for m in (r.header("Allow") or "").split(",")]
        for m in ("OPTIONS", "GET", "HEAD"):
            check(m in allow, f"{m} not in Allow: {allow}")


def test_missing_host_http11():
    with Server(files=FILES) as s:
        data, closed = raw_ex(s.port, b"GET /a.txt HTTP/1.1\r\n\r\n")
        eq(parse_one(data).status, 400, "status")
        check(closed, "connection left open after 400")


def test_http10_without_host_ok():
    with Server(files=FILES) as s:
        eq(parse_one(raw(s.port, b"GET /a.txt HTTP/1.0\r\n\r\n")).status, 200, "status")


def test_bad_host_values():
    with Server(files=FILES) as s:
        for host in (b"a b", b"a/b", b"[::1", b"a\\b", b"exa mple.com:80", b"x:port"):
            data, closed = raw_ex(s.port, b"GET /a.txt HTTP/1.1\r\nHost: " + host + b"\r\n\r\n",
                                  timeout=3)
            eq(parse_one(data).status, 400, f"status for Host {host!r}")
            check(closed, f"connection left open after Host {host!r}")


def test_duplicate_host():
    with Server(files=FILES) as s:
        data = raw(s.port, b"GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", timeout=3)
        eq(parse_one(data).status, 400, "status")


def test_date_header():
    with Server(files=FILES) as s:
        r = get(s.port, "/a.txt")
        date = r.header("Date") or ""
        check(re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|"
                           r"Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT", date),
              f"bad Date {date!r}")
        skew = abs(parsedate_to_datetime(date).timestamp() - time.time())
        check(skew < 5, f"Date is {skew:.0f}s off")
        eq(len(r.header_all("Date")), 1, "Date header count")


def test_server_header_is_tag():
    with Server('server.tag = "lux-test/1.0 (x)"\n', files=FILES) as s:
        eq(get(s.port, "/a.txt").header("Server"), "lux-test/1.0 (x)", "Server")


def test_server_tag_empty_omits_header():
    with Server('server.tag = ""\n', files=FILES) as s:
        eq(get(s.port, "/a.txt").header("Server"), None, "Server")


def test_head_has_no_body():
    with Server(files=FILES) as s:
        data, closed = raw_ex(s.port, b"HEAD /a.txt HTTP/1.1\r\nHost: x\r\n"
                                      b"Connection: close\r\n\r\n")
        check(closed, "connection left open")
        head, sep, rest = data.partition(b"\r\n\r\n")
        check(sep, f"no header end: {data!r}")
        eq(rest, b"", "bytes after HEAD response headers")
        r = parse_one(data, "HEAD")
        eq(r.status, 200, "status")
        eq(r.header("Content-Length"), "7", "Content-Length of the GET body")


def test_head_then_get_keepalive():
    with Server(files=FILES) as s, Conn(s.port) as c:
        eq(c.request("/a.txt", method="HEAD").status, 200, "HEAD status")
        eq(c.request("/b.txt").body, b"file b\n", "GET after HEAD")


@lux_only("lighttpd closes after N + 1 requests, one more than its documentation says")
def test_max_keep_alive_requests():
    """server.max-keep-alive-requests = N: the Nth response carries Connection: close."""
    with Server("server.max-keep-alive-requests = 2\n", files=FILES) as s, Conn(s.port) as c:
        r = c.request("/a.txt")
        check((r.header("Connection") or "").lower() != "close", "request 1 closed")
        r = c.request("/a.txt")
        eq(r.status, 200, "last status")
        eq((r.header("Connection") or "").lower(), "close", "last Connection header")
        check(c.closed_by_server(3), "connection left open")


def test_max_keep_alive_requests_zero_disables():
    with Server("server.max-keep-alive-requests = 0\n", files=FILES) as s:
        data, closed = raw_ex(s.port, b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
        check(closed, "keep-alive not disabled")
        eq((parse_one(data).header("Connection") or "").lower(), "close", "Connection")


def test_max_keep_alive_idle():
    with Server("server.max-keep-alive-idle = 1\n", files=FILES) as s, Conn(s.port) as c:
        eq(c.request("/a.txt").status, 200, "status")
        start = time.monotonic()
        check(c.closed_by_server(4), "idle keep-alive connection not closed")
        check(time.monotonic() - start > 0.5, "closed before the idle time")


def test_max_read_idle():
    with Server("server.max-read-idle = 1\n", files=FILES) as s:
        data, closed = raw_ex(s.port, b"GET /a.txt HTTP/1.1\r\nHo", timeout=4)
        check(closed, "stalled half request not closed")
        if data:
            eq(parse_one(data).status, 408, "status of the answer to a stalled request")


def test_keepalive_after_404():
    with Server(files=FILES) as s, Conn(s.port) as c:
        eq(c.request("/missing").status, 404, "status")
        eq(c.request("/a.txt").body, b"file a\n", "next request on the connection")


def test_content_length_on_responses():
    with Server(files=FILES) as s:
        r = get(s.port, "/a.txt")
        eq(r.header("Content-Length"), "7", "Content-Length")
        r = get(s.port, "/missing")
        eq(r.status, 404, "status")
        eq(r.header("Content-Length"), str(len(r.body)), "404 Content-Length")
        contains(r.text(), "404", "error page")
