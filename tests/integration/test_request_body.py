"""Request bodies in the core: server.stream-request-body 0, 1 and 2, server.upload-dirs, the
limit, through the echo handler of the test module (tests/modules/mod_test_stream.c), which
answers with the request body as it reads it."""

import hashlib
import os
import socket
import threading
import time

import harness
from harness import Conn, Server, check, eq, lux_only, poll

MIB = 1024 * 1024
MODES = (0, 1, 2)


def conf(upload_dir="@TMP@/uploads", limit_kib=0):
    blocks = "".join(
        f'$HTTP["url"] =^ "/echo{m}" {{\n    server.stream-request-body = {m}\n'
        f'    test-stream.echo = "enable"\n}}\n'
        f'$HTTP["url"] =^ "/sink{m}" {{\n    server.stream-request-body = {m}\n'
        f'    test-stream.sink = "enable"\n}}\n' for m in MODES)
    limit = f"server.max-request-size = {limit_kib}\n" if limit_kib else ""
    return (f'server.modules = ("mod_test_stream")\nserver.upload-dirs = ("{upload_dir}")\n'
            + limit + blocks)


def server(**kw):
    s = Server(conf(**kw), files={"index.html": "static\n"}, test_bin=True)
    os.makedirs(upload_dir(s))
    return s


def upload_dir(s):
    return os.path.join(s.tmp, "uploads")


def body_bytes(n):
    return hashlib.shake_256(b"lux request body").digest(n)


def chunked(data, piece=100000):
    out = bytearray()
    for i in range(0, len(data), piece):
        part = data[i:i + piece]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


def head(path, length=None):
    framing = (f"Content-Length: {length}" if length is not None
               else "Transfer-Encoding: chunked")
    return (f"POST {path} HTTP/1.1\r\nHost: localhost\r\n{framing}\r\n"
            f"Connection: close\r\n\r\n").encode()


def exchange(port, data, pause_after=None, pause=0.0, on_pause=None, timeout=60.0):
    """Send data while reading the answer (the echo streams back as it reads); returns the bytes
    received until the server closed."""
    sock = harness.connect(port, timeout=timeout * harness.sanitizer_slowdown())
    got = []

    def send():
        try:
            if pause_after is None:
                sock.sendall(data)
                return
            sock.sendall(data[:pause_after])
            time.sleep(pause)
            if on_pause:
                on_pause()
            sock.sendall(data[pause_after:])
        except OSError:
            pass

    sender = threading.Thread(target=send)
    sender.start()
    try:
        while True:
            try:
                b = sock.recv(1 << 20)
            except ConnectionResetError:
                break
            if not b:
                break
            got.append(b)
    finally:
        sender.join()
        sock.close()
    return b"".join(got)


def echo_ok(port, path, data, use_chunked):
    wire = head(path) + chunked(data) if use_chunked else head(path, len(data)) + data
    resp = harness.parse_response(exchange(port, wire))[0]
    eq(resp.status, 200, f"{path} status")
    check(hashlib.sha256(resp.body).digest() == hashlib.sha256(data).digest(),
          f"{path}: echo of {len(resp.body)} bytes differs from the {len(data)} sent")


@lux_only("test module")
def test_upload_10mib_in_each_mode_echoed_whole():
    data = body_bytes(10 * MIB)
    with server() as s:
        for m in MODES:
            echo_ok(s.port, f"/echo{m}", data, use_chunked=False)
            echo_ok(s.port, f"/echo{m}", data, use_chunked=True)
        eq(os.listdir(upload_dir(s)), [], "files left in server.upload-dirs")


@lux_only("test module")
def test_spooled_body_is_an_unlinked_file_in_upload_dirs():
    data = body_bytes(10 * MIB)
    seen = {}
    with server() as s:
        def look():
            fds = f"/proc/{s.pid}/fd"
            links = []
            for fd in os.listdir(fds):
                try:
                    links.append(os.readlink(os.path.join(fds, fd)))
                except OSError:
                    pass
            seen["spool"] = [t for t in links if t.startswith(upload_dir(s) + "/")]
            seen["listing"] = os.listdir(upload_dir(s))
        wire = head("/echo0", len(data)) + data
        resp = harness.parse_response(exchange(s.port, wire, pause_after=5 * MIB, pause=1.0,
                                               on_pause=look))[0]
        check(resp.body == data, "echo differs")
        eq(len(seen["spool"]), 1, f"spool files open ({seen['spool']})")
        check(seen["spool"][0].endswith(" (deleted)"), f"spool file {seen['spool'][0]} has a name")
        eq(seen["listing"], [], "names in server.upload-dirs while spooling")
        eq(os.listdir(upload_dir(s)), [], "files left in server.upload-dirs")


@lux_only("test module")
def test_unusable_upload_dir_falls_to_the_next():
    data = body_bytes(1 * MIB)
    s = Server(conf(upload_dir='@TMP@/missing", "@TMP@/uploads'), test_bin=True)
    os.makedirs(upload_dir(s))
    with s:
        echo_ok(s.port, "/echo1", data, use_chunked=True)
        eq(os.listdir(upload_dir(s)), [], "files left in server.upload-dirs")


@lux_only("test module")
def test_over_the_limit_is_413_in_each_mode():
    data = body_bytes(2 * MIB)
    with server(limit_kib=1024) as s:
        for m in MODES:
            resp = harness.parse_response(exchange(s.port, head(f"/echo{m}", len(data)) + data))[0]
            eq(resp.status, 413, f"mode {m}, Content-Length over the limit")
            # Chunked: the limit counts decoded bytes as they come; a handler that answers once
            # it has read the whole body has not answered yet when they pass it.
            resp = harness.parse_response(exchange(s.port, head(f"/sink{m}") + chunked(data)))[0]
            eq(resp.status, 413, f"mode {m}, chunked over the limit")
            # Exactly at the limit is not over it.
            resp = harness.parse_response(exchange(s.port, head(f"/sink{m}") +
                                                   chunked(body_bytes(MIB))))[0]
            eq((resp.status, resp.body), (200, b"%d\n" % MIB), f"mode {m}, at the limit")


@lux_only("test module")
def test_client_stops_mid_body_aborts_the_request():
    data = body_bytes(10 * MIB)
    with server() as s:
        for m in MODES:
            sock = harness.connect(s.port)
            sock.sendall(head(f"/echo{m}", len(data)) + data[:MIB])
            time.sleep(0.3)
            sock.close()
        # Modes 1 and 2 run the handler at once: it holds the request and hears of the abort.
        # Mode 0 never started it: the request is simply freed.
        for m in (1, 2):
            poll(lambda: s.errorlog.count(f"aborted /echo{m} ") >= 1,
                 timeout=10 * harness.sanitizer_slowdown(), what=f"the abort in mode {m}")
        time.sleep(0.3)
        eq([s.errorlog.count(f"aborted /echo{m} ") for m in MODES], [0, 1, 1], "aborts per mode")
        eq(harness.get(s.port, "/index.html").body, b"static\n", "the server goes on")
        eq(os.listdir(upload_dir(s)), [], "files left in server.upload-dirs")


@lux_only("test module")
def test_bad_chunk_size_is_400_in_each_mode():
    with server() as s:
        for m in MODES:
            data = harness.raw(s.port, head(f"/echo{m}") + b"zz\r\nhello\r\n0\r\n\r\n")
            eq(harness.parse_response(data)[0].status, 400, f"mode {m}")


@lux_only("lighttpd closes a connection whose request body was not read")
def test_unread_body_is_drained_before_the_next_request():
    data = body_bytes(MIB)
    with Server('server.stream-request-body = 2\n', files={"index.html": "static\n"}) as s:
        with Conn(s.port, timeout=30 * harness.sanitizer_slowdown()) as c:
            c.send(f"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n"
                   .encode())
            sender = threading.Thread(target=lambda: c.sock.sendall(data))
            sender.start()
            r1 = c.response("POST")
            sender.join()
            r2 = c.request("/index.html")
            eq((r1.status, r2.status, r2.body), (200, 200, b"static\n"),
               "the POST's answer, then the next request's")


# 1024 bytes of payload in 64 chunks: the framing adds about 450 bytes that are not body.
LIMIT_BODY = b"".join(b"10\r\n" + b"x" * 16 + b"\r\n" for _ in range(64)) + b"0\r\n\r\n"
CHUNKED_POST = (b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"Connection: close\r\n\r\n")


def test_limit_counts_the_decoded_bytes_of_a_chunked_body():
    with Server("server.max-request-size = 1\n", files={"index.html": "static\n"}) as s:
        resp = harness.parse_response(harness.raw(s.port, CHUNKED_POST + LIMIT_BODY))[0]
        check(resp.status != 413, f"a body of exactly the limit refused: {resp.status}")


@lux_only("lighttpd reads no body for a static file, so it never meets the limit there")
def test_chunked_body_one_byte_over_the_limit_is_413():
    over = LIMIT_BODY[:-5] + b"1\r\nx\r\n0\r\n\r\n"
    with Server("server.max-request-size = 1\n", files={"index.html": "static\n"}) as s:
        eq(harness.parse_response(harness.raw(s.port, CHUNKED_POST + over))[0].status, 413,
           "one byte over")
