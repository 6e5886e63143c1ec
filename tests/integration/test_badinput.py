"""Malformed and hostile requests: the right status, then a closed connection, and the server
keeps serving the next client."""

from harness import Server, check, eq, get, lux_only, parse_one, parse_responses, raw_ex

FILES = {"f.txt": "fine\n", "index.html": "index\n"}


def expect_reject(s, req, status, what=None):
    """The request gets `status` and the connection closes; a fresh client is still served."""
    what = what or repr(req[:60])
    data, closed = raw_ex(s.port, req, timeout=3)
    check(data, f"{what}: no response")
    r = parse_responses(data)[0]
    eq(r.status, status, f"{what}: status")
    check(closed, f"{what}: connection left open after {status}")
    eq(get(s.port, "/f.txt").status, 200, f"{what}: next client")
    return r


def with_server(fn):
    def test():
        with Server(files=FILES) as s:
            fn(s)
    test.__name__ = fn.__name__
    test.__doc__ = fn.__doc__
    return test


@with_server
def test_nul_in_path(s):
    expect_reject(s, b"GET /f%00.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400)


@with_server
def test_raw_nul_in_request(s):
    expect_reject(s, b"GET /f\x00.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400)


@lux_only("lighttpd passes an invalid %-escape through and answers 404")
@with_server
def test_bad_percent_escape(s):
    expect_reject(s, b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400)


@with_server
def test_header_without_colon(s):
    expect_reject(s, b"GET /f.txt HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", 400)


@with_server
def test_space_before_colon(s):
    expect_reject(s, b"GET /f.txt HTTP/1.1\r\nHost: x\r\nFoo : bar\r\n\r\n", 400)


@lux_only("lighttpd accepts obs-fold continuation lines")
@with_server
def test_obs_fold(s):
    expect_reject(s, b"GET /f.txt HTTP/1.1\r\nHost: x\r\nFoo: bar\r\n  baz\r\n\r\n", 400)


@with_server
def test_content_length_and_transfer_encoding(s):
    expect_reject(s, b"POST /f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400)


@with_server
def test_two_different_content_lengths(s):
    expect_reject(s, b"POST /f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Content-Length: 6\r\n\r\nhello!", 400)


@with_server
def test_negative_content_length(s):
    expect_reject(s, b"POST /f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400)


@with_server
def test_unknown_transfer_encoding(s):
    expect_reject(s, b"POST /f.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501)


@lux_only("lighttpd does not read a static file's request body, so never sees the bad chunk")
@with_server
def test_bad_chunk_size(s):
    expect_reject(s, b"POST /f.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"zz\r\nhello\r\n0\r\n\r\n", 400)


def test_max_request_size():
    with Server("server.max-request-size = 1\n", files=FILES) as s:
        expect_reject(s, b"POST /f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n"
                         + b"a" * 2048, 413)
        data, closed = raw_ex(s.port, b"POST /f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000"
                                      b"\r\nConnection: close\r\n\r\n" + b"a" * 1000)
        eq(parse_one(data).status, 200, "status within the limit")


def test_max_request_field_size():
    with Server("server.max-request-field-size = 1024\n", files=FILES) as s:
        expect_reject(s, b"GET /f.txt HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n",
                      431)
        data, _ = raw_ex(s.port, b"GET /f.txt HTTP/1.1\r\nHost: x\r\nX-Small: " + b"a" * 500 +
                         b"\r\nConnection: close\r\n\r\n")
        eq(parse_one(data).status, 200, "status within the limit")


@with_server
def test_default_field_size_limit(s):
    expect_reject(s, b"GET /f.txt HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
                  431)


@with_server
def test_http2_request_line(s):
    expect_reject(s, b"GET /f.txt HTTP/2.0\r\nHost: x\r\n\r\n", 505)


@with_server
def test_unsupported_http_minor(s):
    expect_reject(s, b"GET /f.txt HTTP/1.2\r\nHost: x\r\n\r\n", 505)


@with_server
def test_garbage_version(s):
    for req in (b"GET /f.txt FOO/1.1\r\nHost: x\r\n\r\n",
                b"GET /f.txt HTTP/1.1x\r\nHost: x\r\n\r\n",
                b"GET /f.txt http/1.1\r\nHost: x\r\n\r\n"):
        expect_reject(s, req, 400)


@with_server
def test_many_leading_blank_lines(s):
    expect_reject(s, b"\r\n" * 200 + b"GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400)


@with_server
def test_relative_target(s):
    expect_reject(s, b"GET f.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400)


@with_server
def test_path_traversal(s):
    targets = [b"/../../../../etc/passwd", b"/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
               b"/..%2f..%2f..%2fetc/passwd", b"/f.txt/../../../../etc/passwd",
               b"/./../.././../etc/passwd", b"/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
               b"/..\\..\\..\\etc\\passwd", b"//../../../etc/passwd", b"/.%2e/.%2e/etc/passwd",
               b"/%252e%252e/%252e%252e/etc/passwd"]
    for t in targets:
        data, _ = raw_ex(s.port, b"GET " + t + b" HTTP/1.1\r\nHost: x\r\nConnection: close"
                                               b"\r\n\r\n", timeout=3)
        r = parse_one(data)
        check(b"root:" not in r.body, f"{t!r} escaped the document root")
        check(r.status in (400, 403, 404), f"{t!r}: status {r.status}")
    eq(get(s.port, "/f.txt").status, 200, "next client")


@with_server
def test_dotdot_within_docroot(s):
    s.write("sub/g.txt", "g\n")
    eq(get(s.port, "/sub/../f.txt").body, b"fine\n", "/sub/../f.txt")
    eq(get(s.port, "/sub/./g.txt").body, b"g\n", "/sub/./g.txt")
    eq(get(s.port, "/sub/%2e%2e/f.txt").body, b"fine\n", "encoded dot-dot inside the root")


def test_huge_header_count():
    with Server("server.max-request-field-size = 262144\n", files=FILES) as s:
        req = (b"GET /f.txt HTTP/1.1\r\nHost: x\r\n" + b"a:b\r\n" * 20000 + b"\r\n")
        data, closed = raw_ex(s.port, req, timeout=5)
        check(data, "no response")
        r = parse_responses(data)[0]
        check(r.status in (200, 400, 431), f"status {r.status}")
        if r.status != 200:
            check(closed, "connection left open after rejecting")
        eq(get(s.port, "/f.txt").status, 200, "next client")


@with_server
def test_control_chars_in_header_value(s):
    expect_reject(s, b"GET /f.txt HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400)


@with_server
def test_bare_lf_line_endings_served_or_rejected(s):
    data, closed = raw_ex(s.port, b"GET /f.txt HTTP/1.1\nHost: x\nConnection: close\n\n",
                          timeout=3)
    r = parse_one(data)
    check(r.status in (200, 400), f"status {r.status}")
    eq(get(s.port, "/f.txt").status, 200, "next client")


@with_server
def test_garbage_bytes(s):
    data, closed = raw_ex(s.port, bytes(range(256)) * 4, timeout=3)
    check(closed, "connection left open after garbage")
    if data:
        eq(parse_responses(data)[0].status, 400, "status")
    eq(get(s.port, "/f.txt").status, 200, "next client")


@with_server
def test_client_disconnects_mid_request(s):
    for part in (b"GET /f.txt HTTP/1.1\r\nHo", b"POST /f.txt HTTP/1.1\r\nHost: x\r\n"
                                                 b"Content-Length: 100\r\n\r\nabc"):
        raw_ex(s.port, part, timeout=0.2)
    eq(get(s.port, "/f.txt").status, 200, "next client")
