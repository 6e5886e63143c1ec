"""HTTP/2: curl (TLS with ALPN, prior knowledge, h2c Upgrade), nghttp and h2load against the
server, static files and the modules over HTTP/2, and a hand-made client for what the tools
will not do (reset a stream mid-download and go on using the connection)."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import time

import harness
from harness import (Server, Skip, check, contains, curl, eq, lux_only, poll, serial, sha256)
from test_tls import certs

BIG = os.urandom(10 * 1024 * 1024 + 12345)
FILES = {
    "index.html": "hello h2\n",
    "f.txt": "0123456789" * 100,
    "big.bin": BIG,
    "dir/a.txt": "a\n",
    "dir/b.txt": "b\n",
    "err/404.html": "custom not found\n",
}


def need(tool):
    if not shutil.which(tool):
        raise Skip(f"{tool} is not installed (Debian: nghttp2-client)")


def h2curl(s, path, *args, mode="prior", check_rc=True):
    """curl over HTTP/2; returns (CompletedProcess, http_version, status)."""
    if mode == "tls":
        url = f"https://127.0.0.1:{s.port}{path}"
        opts = ["--http2", "--cacert", certs()["ca"]]
    elif mode == "upgrade":
        url = s.url(path)
        opts = ["--http2"]
    else:
        url = s.url(path)
        opts = ["--http2-prior-knowledge"]
    cp = curl(opts + ["-w", "\n%{http_version} %{http_code}"] + list(args) + [url],
              check_rc=check_rc, timeout=30)
    body, _, tail = cp.stdout.rpartition(b"\n")
    cp.stdout = body
    version, _, status = tail.decode().partition(" ")
    return cp, version, int(status or 0)


def tls_conf(extra=""):
    return f"""
server.modules += ("mod_openssl")
ssl.engine = "enable"
ssl.pemfile = "{certs()['a.pem']}"
{extra}"""


# ---- entry: ALPN, prior knowledge, Upgrade --------------------------------------------------

def test_h2_prior_knowledge():
    with Server(files=FILES) as s:
        cp, version, status = h2curl(s, "/index.html")
        eq((version, status, cp.stdout), ("2", 200, b"hello h2\n"), "prior knowledge")


def test_h2_tls_alpn():
    with Server(tls_conf(), files=FILES) as s:
        cp, version, status = h2curl(s, "/f.txt", mode="tls")
        eq((version, status), ("2", 200), "ALPN h2")
        eq(cp.stdout, FILES["f.txt"].encode(), "body")


def test_h2c_upgrade():
    with Server(files=FILES) as s:
        cp, version, status = h2curl(s, "/f.txt", "-v", mode="upgrade")
        eq((version, status), ("2", 200), "h2c upgrade")
        contains(cp.stderr, "101", "the 101 before the upgraded response")
        eq(cp.stdout, FILES["f.txt"].encode(), "body on stream 1")


def test_h2c_upgrade_head():
    with Server(files=FILES) as s:
        cp, version, status = h2curl(s, "/f.txt", "-I", mode="upgrade")
        eq((version, status), ("2", 200), "HEAD upgraded")
        contains(cp.stdout.decode().lower(), "content-length: 1000")


H2PROTO_OFF = 'server.feature-flags = ("server.h2proto" => "disable")\n'
H2C_OFF = 'server.feature-flags = ("server.h2c" => "disable")\n'


def test_h2proto_disabled():
    with Server(H2PROTO_OFF + tls_conf(), files=FILES) as s:
        _, version, status = h2curl(s, "/f.txt", mode="tls")
        eq((version, status), ("1.1", 200), "ALPN falls back to http/1.1")


def test_h2proto_disabled_prior_knowledge():
    with Server(H2PROTO_OFF, files=FILES) as s:
        cp, version, status = h2curl(s, "/f.txt", check_rc=False)
        check(version != "2", f"HTTP/2 spoken with server.h2proto disabled: {version} {status}")
        _, version, status = h2curl(s, "/f.txt", mode="upgrade")
        eq((version, status), ("1.1", 200), "no upgrade either")


@lux_only("server.h2proto as a directive of its own (lighttpd 1.4.69: only in feature-flags)")
def test_h2proto_directive():
    with Server('server.h2proto = "disable"\n', files=FILES) as s:
        cp, version, status = h2curl(s, "/f.txt", check_rc=False)
        check(version != "2", f"HTTP/2 spoken with server.h2proto disabled: {version} {status}")


def test_h2c_disabled():
    with Server(H2C_OFF, files=FILES) as s:
        cp, version, status = h2curl(s, "/f.txt", mode="upgrade")
        eq((version, status), ("1.1", 200), "no upgrade with server.h2c disabled")
        cp, version, status = h2curl(s, "/f.txt")
        eq((version, status), ("2", 200), "prior knowledge still works")


@lux_only("server.h2proto per $SERVER[\"socket\"] (lighttpd 1.4.69: global feature-flags only)")
def test_h2proto_per_socket():
    conf = '$SERVER["socket"] == "127.0.0.1:@PORT2@" { server.h2proto = "disable" }\n'
    with Server(conf, files=FILES) as s:
        _, version, _ = h2curl(s, "/f.txt")
        eq(version, "2", "the global listener speaks HTTP/2")
        cp = curl(["--http2-prior-knowledge", "-w", "%{http_version}", "-o", "/dev/null",
                   s.url("/f.txt", port=s.port2)], check_rc=False)
        check(cp.stdout != b"2", "HTTP/2 on the listener that disables it")


# ---- static files ---------------------------------------------------------------------------

def test_h2_large_file_sha256():
    with Server(files=FILES) as s:
        cp, version, status = h2curl(s, "/big.bin")
        eq((version, status, len(cp.stdout)), ("2", 200, len(BIG)), "10 MiB over h2c")
        eq(sha256(cp.stdout), sha256(BIG), "sha256")


def test_h2_large_file_sha256_tls():
    with Server(tls_conf(), files=FILES) as s:
        cp, version, status = h2curl(s, "/big.bin", mode="tls")
        eq((version, status, len(cp.stdout)), ("2", 200, len(BIG)), "10 MiB over TLS")
        eq(sha256(cp.stdout), sha256(BIG), "sha256")


def test_h2_range():
    with Server(files=FILES) as s:
        cp, version, status = h2curl(s, "/f.txt", "-r", "5-14")
        eq((status, cp.stdout), (206, b"5678901234"), "single range")
        cp, _, status = h2curl(s, "/big.bin", "-r", "1000000-1000099")
        eq((status, cp.stdout), (206, BIG[1000000:1000100]), "range of a large file")


def test_h2_not_modified():
    with Server(files=FILES) as s:
        cp, _, status = h2curl(s, "/f.txt", "-D", "-")
        etag = [ln.split(":", 1)[1].strip() for ln in cp.stdout.decode().splitlines()
                if ln.lower().startswith("etag:")]
        check(etag, "an ETag")
        cp, _, status = h2curl(s, "/f.txt", "-H", f"If-None-Match: {etag[0]}")
        eq((status, cp.stdout), (304, b""), "304 without body")


def test_h2_404_error_page():
    conf = 'server.errorfile-prefix = "@DOCROOT@/err/"\n'
    with Server(conf, files=FILES) as s:
        cp, version, status = h2curl(s, "/missing.txt")
        eq((version, status, cp.stdout), ("2", 404, b"custom not found\n"), "404 page")


def test_h2_head():
    with Server(files=FILES) as s:
        cp, _, status = h2curl(s, "/f.txt", "-I")
        eq(status, 200, "HEAD")
        head = cp.stdout.decode().lower()
        contains(head, "content-length: 1000")
        check("0123456789" not in head, "no body for HEAD")


def test_h2_response_fields_lowercase_no_connection_fields():
    need("nghttp")
    with Server(files=FILES) as s:
        out = subprocess.run(["nghttp", "-v", s.url("/f.txt")], capture_output=True, timeout=20)
        text = out.stdout.decode("utf-8", "replace")
        contains(text, ":status: 200")
        contains(text, "content-length: 1000")
        for bad in ("connection:", "keep-alive:", "transfer-encoding:"):
            check(bad not in text.lower(), f"connection-specific field {bad} in an h2 response")


@lux_only("lighttpd 1.4.69 sends a module's Keep-Alive over HTTP/2, and clients reset the stream")
def test_h2_module_connection_fields_left_out():
    """Connection-specific fields a module adds (RFC 9113 8.2.2) stay out of an h2 response;
    the module's other fields go out, lower-cased."""
    need("nghttp")
    conf = ('server.modules += ( "mod_setenv" )\n'
            'setenv.add-response-header = ( "Keep-Alive" => "timeout=5", "Upgrade" => "h2c", '
            '"Proxy-Connection" => "close", "X-Kept" => "yes" )\n')
    with Server(conf, files=FILES) as s:
        out = subprocess.run(["nghttp", "-v", s.url("/f.txt")], capture_output=True, timeout=20)
        text = out.stdout.decode("utf-8", "replace").lower()
        contains(text, ":status: 200")
        contains(text, "x-kept: yes")
        for bad in ("keep-alive:", "upgrade:", "proxy-connection:"):
            check(bad not in text, f"connection-specific field {bad} in an h2 response")


# ---- the modules over HTTP/2 ----------------------------------------------------------------

def test_h2_redirect():
    conf = 'server.modules += ("mod_redirect")\nurl.redirect = ("^/old/(.*)$" => "/new/$1")\n'
    with Server(conf, files=FILES) as s:
        cp, _, status = h2curl(s, "/old/x", "-D", "-")
        eq(status, 301, "redirect")
        contains(cp.stdout.decode().lower(), "location: /new/x")


def test_h2_rewrite():
    conf = 'server.modules += ("mod_rewrite")\nurl.rewrite-once = ("^/r/(.*)$" => "/dir/$1")\n'
    with Server(conf, files=FILES) as s:
        cp, _, status = h2curl(s, "/r/a.txt")
        eq((status, cp.stdout), (200, b"a\n"), "rewritten")


def test_h2_dirlisting():
    with Server('dir-listing.activate = "enable"\n', files=FILES) as s:
        cp, _, status = h2curl(s, "/dir/")
        eq(status, 200, "listing")
        contains(cp.stdout.decode(), "a.txt")
        cp, _, status = h2curl(s, "/dir", "-D", "-")
        eq(status, 301, "directory without its slash")


def test_h2_accesslog_protocol():
    conf = ('server.modules += ("mod_accesslog")\n'
            'accesslog.filename = "@TMP@/access.log"\n'
            'accesslog.format = "%r %s %H"\n')
    with Server(conf, files=FILES) as s:
        h2curl(s, "/f.txt")
        log = os.path.join(s.tmp, "access.log")
        poll(lambda: os.path.exists(log) and "HTTP/2.0" in open(log).read(), what="log line")
        contains(open(log).read(), "GET /f.txt HTTP/2.0 200 HTTP/2.0")


# The foundation's own answers, the same over HTTP/1.1 and HTTP/2: status and body.
SAME_AS_H1 = [
    "/", "/index.html", "/f.txt?x=1", "/dir/a.txt", "/%64ir/b.txt", "/dir", "/missing",
    "/dir/../f.txt", "/f.txt/", "/big.bin/x",
]


def test_h2_answers_like_h1():
    with Server(files=FILES) as s:
        for path in SAME_AS_H1:
            h1 = curl(["-w", "\n%{http_code}", "--path-as-is", s.url(path)], check_rc=False)
            cp, version, status = h2curl(s, path, "--path-as-is", check_rc=False)
            body1, _, code1 = h1.stdout.rpartition(b"\n")
            eq((version, status, cp.stdout), ("2", int(code1), body1), f"{path} over h2")


# ---- many streams, resets, load -------------------------------------------------------------

def test_h2_many_concurrent_streams():
    need("nghttp")
    with Server(files=FILES) as s:
        urls = [s.url(f"/f.txt?{i}") for i in range(40)] + [s.url(f"/index.html?{i}") for i in range(10)]
        out = subprocess.run(["nghttp", "-nv"] + urls, capture_output=True, timeout=30)
        eq(out.returncode, 0, "nghttp exit")
        text = out.stdout.decode()
        eq(text.count(":status: 200"), 50, "50 responses on one connection")
        eq(text.count("] Connected"), 1, "one connection")


def test_h2load():
    need("h2load")
    with Server(files=FILES) as s:
        out = subprocess.run(["h2load", "-n", "1000", "-c", "10", "-m", "10", s.url("/f.txt")],
                             capture_output=True, timeout=120)
        text = out.stdout.decode()
        contains(text, "1000 succeeded, 0 failed, 0 errored")
        contains(text, "status codes: 1000 2xx")


def test_h2load_tls():
    need("h2load")
    with Server(tls_conf(), files=FILES) as s:
        out = subprocess.run(["h2load", "-n", "200", "-c", "4", "-m", "10",
                              f"https://127.0.0.1:{s.port}/index.html"],
                             capture_output=True, timeout=120)
        text = out.stdout.decode()
        contains(text, "200 succeeded, 0 failed, 0 errored")
        contains(text, "Application protocol: h2")


class RawH2:
    """A minimal client on a socket: frames are built by hand, HPACK only from the static
    table and literals without indexing (which every decoder accepts)."""

    PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    def __init__(self, port, window=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        settings = b"" if window is None else struct.pack(">HI", 4, window)
        self.sock.sendall(self.PREFACE + self.frame(4, 0, 0, settings))
        self.buf = b""

    @staticmethod
    def frame(ftype, flags, sid, payload=b""):
        return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
            struct.pack(">I", sid) + payload

    def get(self, sid, path):
        p = path.encode()
        block = b"\x82\x86\x04" + bytes([len(p)]) + p + b"\x01\x09127.0.0.1"
        self.sock.sendall(self.frame(1, 0x5, sid, block))

    def rst(self, sid, code=8):
        self.sock.sendall(self.frame(3, 0, sid, struct.pack(">I", code)))

    def read_frame(self):
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        n = int.from_bytes(self.buf[:3], "big")
        f = (self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7fffffff,
             self.buf[9:9 + n])
        self.buf = self.buf[9 + n:]
        if f[0] == 4 and not f[1] & 1:
            self.sock.sendall(self.frame(4, 1, 0))  # ACK the server's SETTINGS
        return f

    def close(self):
        self.sock.close()


def test_h2_client_reset_mid_download_others_go_on():
    with Server(files=FILES) as s:
        c = RawH2(s.port)
        try:
            c.get(1, "/big.bin")
            got = 0
            while got < 100000:
                f = c.read_frame()
                check(f is not None, "connection closed mid-download")
                if f[0] == 0 and f[2] == 1:
                    got += len(f[3])
                    c.sock.sendall(c.frame(8, 0, 0, struct.pack(">I", len(f[3]))) +
                                   c.frame(8, 0, 1, struct.pack(">I", len(f[3]))))
            c.rst(1)
            c.get(3, "/f.txt")
            body = b""
            ended = False
            while not ended:
                f = c.read_frame()
                check(f is not None, "connection closed after the reset")
                if f[0] == 0 and f[3]:  # DATA still in flight for stream 1 counts too
                    c.sock.sendall(c.frame(8, 0, 0, struct.pack(">I", len(f[3]))))
                if f[0] == 0 and f[2] == 3:
                    body += f[3]
                    ended = bool(f[1] & 1)
                check(f[0] != 7, "GOAWAY after one reset")
            eq(body, FILES["f.txt"].encode(), "the next stream on the same connection")
        finally:
            c.close()
        cp, _, status = h2curl(s, "/index.html")
        eq((status, cp.stdout), (200, b"hello h2\n"), "another connection")


@lux_only("the connection's write timeout bounds a stream stalled on a zero window")
def test_h2_zero_window_times_out():
    conf = "server.max-write-idle = 1\n"
    with Server(conf, files=FILES) as s:
        c = RawH2(s.port, window=0)
        try:
            c.get(1, "/f.txt")
            start = time.monotonic()
            while True:
                f = c.read_frame()
                if f is None or f[0] == 7:
                    break
                check(time.monotonic() - start < 10, "a stalled stream held the connection")
        finally:
            c.close()


@lux_only("lux's idle HTTP/2 connection says GOAWAY and closes after max-keep-alive-idle")
def test_h2_idle_connection_times_out():
    with Server("server.max-keep-alive-idle = 1\n", files=FILES) as s:
        c = RawH2(s.port)
        try:
            c.get(1, "/index.html")
            start = time.monotonic()
            goaway = None
            while (f := c.read_frame()) is not None:
                check(time.monotonic() - start < 8, "idle connection still open")
                if f[0] == 7:
                    goaway = struct.unpack(">II", f[3][:8])
            eq(goaway, (1, 0), "GOAWAY NO_ERROR naming the last stream")
        finally:
            c.close()


@lux_only("lux's own SETTINGS values (lighttpd: window 65536)")
def test_h2_settings():
    need("nghttp")
    conf = "server.h2-max-concurrent-streams = 16\nserver.max-request-field-size = 4096\n"
    with Server(conf, files=FILES) as s:
        out = subprocess.run(["nghttp", "-nv", s.url("/index.html")], capture_output=True,
                             timeout=20)
        text = out.stdout.decode()
        contains(text, "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):16")
        contains(text, "SETTINGS_INITIAL_WINDOW_SIZE(0x04):262144")
        contains(text, "SETTINGS_MAX_HEADER_LIST_SIZE(0x06):4096")
        contains(text, "SETTINGS_ENABLE_PUSH(0x02):0")


@serial
def test_h2_graceful_stop_finishes_stream():
    with Server(files=FILES) as s:
        proc = subprocess.Popen(["curl", "-sS", "--http2-prior-knowledge", "--limit-rate",
                                 "4M", "-o", "-", s.url("/big.bin")], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        harness.track(proc)
        time.sleep(0.5)
        s.signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        eq(proc.returncode, 0, f"curl: {err.decode()}")
        eq(sha256(out), sha256(BIG), "the stream in flight finished")
        s.wait_exit(timeout=15)


# ---- the stream core over HTTP/2 (tests/modules/mod_test_stream.c) -------------------------

STREAM_CONF = """
server.modules = ("mod_test_stream")
server.max-worker = 1
$HTTP["url"] =^ "/slow" { test-stream.delay-ms = 1500 }
$HTTP["url"] =^ "/big" { test-stream.bytes = 16777216 }
$HTTP["url"] =^ "/cl" {
    test-stream.bytes = 300000
    test-stream.content-length = "enable"
}
$HTTP["url"] =^ "/chunks" { test-stream.bytes = 300000 }
$HTTP["url"] =^ "/later-stream" {
    test-stream.delay-ms = 100
    test-stream.bytes = 200000
}
$HTTP["url"] =^ "/broken" {
    test-stream.bytes = 300000
    test-stream.abort-after = 100000
}
"""


def stream_server():
    return Server(STREAM_CONF, files=FILES, test_bin=True)


def pattern(n):
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


def aborts(s, path):
    return s.errorlog.count(f"test-stream: aborted {path} ")


def read_streams(c, want, timeout=30):
    """Frames until every stream in `want` ended (or was reset): {sid: (body, how)}, and the
    order in which they finished."""
    out = {sid: [b"", None] for sid in want}
    order = []
    deadline = time.monotonic() + timeout * harness.sanitizer_slowdown()
    while any(v[1] is None for v in out.values()):
        check(time.monotonic() < deadline, f"streams still open: {out.keys()}")
        f = c.read_frame()
        check(f is not None, "connection closed")
        ftype, flags, sid, payload = f
        if ftype == 0 and payload:
            # DATA of every stream counts against the connection's window, also of a stream
            # the client has reset meanwhile (RFC 9113, 6.9): give it back, or a server that
            # filled the window before it saw the reset can send nothing more.
            c.sock.sendall(c.frame(8, 0, 0, struct.pack(">I", len(payload))))
        if sid in out and ftype == 0:
            out[sid][0] += payload
            if payload:
                c.sock.sendall(c.frame(8, 0, sid, struct.pack(">I", len(payload))))
        if sid in out and ftype in (0, 1) and flags & 1:
            out[sid][1] = "end"
            order.append(sid)
        if sid in out and ftype == 3:
            out[sid][1] = "reset"
            order.append(sid)
    return out, order


@lux_only("test module")
def test_h2_async_answer_does_not_hold_other_streams():
    with stream_server() as s:
        c = RawH2(s.port)
        try:
            c.get(1, "/slow")
            c.get(3, "/index.html")
            out, order = read_streams(c, (1, 3))
            eq(order, [3, 1], "the static file before the later answer")
            eq(out[3][0], b"hello h2\n", "static body")
            eq(out[1][0], b"answered later\n", "later body")
        finally:
            c.close()


@lux_only("test module")
def test_h2_streamed_bodies():
    with stream_server() as s:
        for path, size, length in (("/chunks", 300000, None), ("/cl", 300000, "300000"),
                                   ("/later-stream", 200000, None), ("/big", 16 << 20, None)):
            cp, version, status = h2curl(s, path, "-D", "/dev/stderr")
            eq((version, status), ("2", 200), path)
            check(cp.stdout == pattern(size), f"{path}: body of {len(cp.stdout)} bytes differs")
            got = [ln.split(":", 1)[1].strip() for ln in cp.stderr.splitlines()
                   if ln.lower().startswith("content-length:")]
            eq(got[0] if got else None, length, f"{path}: content-length")
        cp, _, status = h2curl(s, "/cl", "-I")
        contains(cp.stdout.decode().lower(), "content-length: 300000", "HEAD of a streamed body")


@lux_only("test module")
def test_h2_broken_stream_is_reset():
    with stream_server() as s:
        c = RawH2(s.port)
        try:
            c.get(1, "/broken")
            c.get(3, "/index.html")
            out, _ = read_streams(c, (1, 3))
            eq(out[1][1], "reset", "a broken body ends in RST_STREAM, not END_STREAM")
            check(len(out[1][0]) <= 100000, f"{len(out[1][0])} bytes of a broken body")
            eq(out[3], [b"hello h2\n", "end"], "the other stream")
        finally:
            c.close()


@lux_only("test module")
def test_h2_reset_mid_stream_aborts_handler_once():
    with stream_server() as s:
        c = RawH2(s.port)
        try:
            c.get(1, "/big")
            got = 0
            while got < 200000:
                f = c.read_frame()
                check(f is not None, "connection closed")
                if f[0] == 0 and f[2] == 1:
                    got += len(f[3])
                    c.sock.sendall(c.frame(8, 0, 0, struct.pack(">I", len(f[3]))) +
                                   c.frame(8, 0, 1, struct.pack(">I", len(f[3]))))
            c.rst(1)
            poll(lambda: aborts(s, "/big") >= 1, timeout=10 * harness.sanitizer_slowdown(),
                 what="the abort callback")
            c.get(3, "/index.html")
            out, _ = read_streams(c, (3,))
            eq(out[3], [b"hello h2\n", "end"], "the connection goes on")
            eq(aborts(s, "/big"), 1, "abort callbacks")
        finally:
            c.close()


@lux_only("test module")
def test_h2_connection_closed_before_the_answer_aborts_once():
    with stream_server() as s:
        c = RawH2(s.port)
        c.get(1, "/slow")
        time.sleep(0.3)
        c.close()
        poll(lambda: aborts(s, "/slow") >= 1, timeout=10 * harness.sanitizer_slowdown(),
             what="the abort callback")
        time.sleep(0.5)
        eq(aborts(s, "/slow"), 1, "abort callbacks")


@lux_only("test module")
def test_h2_streamed_body_to_slow_reader_keeps_rss_bounded():
    """A 16 MiB stream to a client that reads slowly and opens its window as it reads: the
    handler is held back (the window and the output queue), the server does not buffer it."""
    from test_stream_core import rss_kib
    with stream_server() as s:
        base = rss_kib(s.pid)
        c = RawH2(s.port)
        try:
            c.get(1, "/big")
            got, peak, frames = bytearray(), base, 0
            deadline = time.monotonic() + 60 * harness.sanitizer_slowdown()
            while True:
                check(time.monotonic() < deadline, f"{len(got)} bytes after a minute")
                f = c.read_frame()
                check(f is not None, "connection closed")
                if f[0] != 0 or f[2] != 1:
                    continue
                got += f[3]
                c.sock.sendall(c.frame(8, 0, 0, struct.pack(">I", len(f[3]))) +
                               c.frame(8, 0, 1, struct.pack(">I", len(f[3]))))
                frames += 1
                if frames % 64 == 0:
                    time.sleep(0.01)
                    peak = max(peak, rss_kib(s.pid))
                if f[1] & 1:
                    break
        finally:
            c.close()
        check(bytes(got) == pattern(16 << 20), f"body of {len(got)} bytes differs")
        if not harness.sanitized():
            check(peak - base < 24 * 1024, f"RSS grew by {peak - base} KiB for 16 MiB")


@lux_only("lighttpd 1.4 restarts on SIGUSR1 instead of reloading in place")
def test_h2_reload_sends_goaway_and_new_connections_see_the_new_config():
    with Server('server.tag = "before"\n', files=FILES) as s:
        c = RawH2(s.port)
        try:
            c.get(1, "/f.txt")
            read_streams(c, (1,))
            s.reload('server.tag = "after"\n')
            c.get(3, "/f.txt")
            goaway = None
            deadline = time.monotonic() + 10 * harness.sanitizer_slowdown()
            while goaway is None:
                check(time.monotonic() < deadline, "no GOAWAY after the reload")
                f = c.read_frame()
                check(f is not None, "closed without GOAWAY")
                if f[0] == 7:
                    goaway = struct.unpack(">II", f[3][:8])
            eq(goaway[1], 0, "GOAWAY NO_ERROR")
        finally:
            c.close()
        cp, _, status = h2curl(s, "/f.txt", "-D", "-")
        contains(cp.stdout.decode().lower(), "server: after", "a new connection, the new config")


# ---- request bodies over HTTP/2 (the test module's echo and sink) --------------------------

def body_server(limit_kib=0):
    from test_request_body import conf
    s = Server(conf(limit_kib=limit_kib), files=FILES, test_bin=True)
    os.makedirs(os.path.join(s.tmp, "uploads"), exist_ok=True)
    return s


@lux_only("test module")
def test_h2_request_body_echoed_in_each_mode():
    """10 MiB up through the stream window, back through the echo, in each of
    server.stream-request-body 0, 1 and 2 (2: the core holds 64 KiB, the rest waits on the
    client's window)."""
    body = os.urandom(10 * 1024 * 1024 + 777)
    with body_server() as s:
        path = os.path.join(s.tmp, "up.bin")
        with open(path, "wb") as f:
            f.write(body)
        for mode in (0, 1, 2):
            cp, version, status = h2curl(s, f"/echo{mode}", "--data-binary", f"@{path}")
            eq((version, status), ("2", 200), f"mode {mode}")
            eq((len(cp.stdout), sha256(cp.stdout)), (len(body), sha256(body)),
               f"mode {mode}: the echo")


def nghttp_status(s, path, data_path, *args):
    """The :status nghttp saw for a request with a body (curl 7.88 gives up on an upload
    whose stream the server ends early, as RFC 9113 8.1 lets it: with RST_STREAM NO_ERROR)."""
    out = subprocess.run(["nghttp", "-v", "-d", data_path] + list(args) + [s.url(path)],
                         capture_output=True, timeout=30)
    text = out.stdout.decode("utf-8", "replace")
    found = [ln.split(":status:")[1].strip() for ln in text.splitlines() if ":status:" in ln]
    return int(found[0]) if found else None


@lux_only("test module")
def test_h2_request_body_over_the_limit_is_413_in_each_mode():
    need("nghttp")
    with body_server(limit_kib=100) as s:
        path = os.path.join(s.tmp, "up.bin")
        with open(path, "wb") as f:
            f.write(b"x" * 200000)
        for mode in (0, 1, 2):
            eq(nghttp_status(s, f"/echo{mode}", path), 413,
               f"mode {mode}, Content-Length over the limit")
        # Without a Content-Length the limit is met while the body arrives: before the whole
        # body, mode 0 has no answer yet (in modes 1 and 2 the echo may have answered already,
        # and then the stream is reset).
        eq(nghttp_status(s, "/echo0", path, "--no-content-length"), 413,
           "mode 0, no Content-Length")
        cp, _, status = h2curl(s, "/index.html")
        eq((status, cp.stdout), (200, b"hello h2\n"), "the server goes on")


def post_head(sid, path):
    p = path.encode()
    block = b"\x83\x86\x04" + bytes([len(p)]) + p + b"\x01\x09127.0.0.1"
    return RawH2.frame(1, 0x4, sid, block)  # END_HEADERS, a body follows


@lux_only("test module")
def test_h2_client_resets_mid_body_aborts_the_request():
    """A stream reset while its body arrives: the body fails, and a handler already at work
    (modes 1 and 2) is told once; mode 0 never started one."""
    with body_server() as s:
        c = RawH2(s.port)
        try:
            for mode, sid in ((0, 1), (1, 3), (2, 5)):
                c.sock.sendall(post_head(sid, f"/echo{mode}") +
                               c.frame(0, 0, sid, b"y" * 15000) * 2)
                time.sleep(0.3)
                c.rst(sid)
            for mode in (1, 2):
                poll(lambda: s.errorlog.count(f"aborted /echo{mode} ") >= 1,
                     timeout=10 * harness.sanitizer_slowdown(), what=f"mode {mode} abort")
            time.sleep(0.5)
            eq([s.errorlog.count(f"aborted /echo{m} ") for m in (0, 1, 2)], [0, 1, 1],
               "aborts per mode")
            c.get(7, "/index.html")
            out, _ = read_streams(c, (7,))
            eq(out[7], [b"hello h2\n", "end"], "the connection goes on")
        finally:
            c.close()


@lux_only("test module")
def test_h2_client_closes_with_streams_open_and_input_held():
    """Twelve requests before the client has seen the limit of 8: four wait unread in the
    server. The client then closes: the server frees the connection with its streams and the
    waiting input, and goes on serving (under ASan: without touching freed memory)."""
    with stream_server() as s:
        c = RawH2(s.port)
        c.sock.sendall(b"".join(
            c.frame(1, 0x5, sid, b"\x82\x86\x04\x05/slow\x01\x09127.0.0.1")
            for sid in range(1, 25, 2)))
        time.sleep(0.3)
        c.close()
        poll(lambda: aborts(s, "/slow") >= 8, timeout=10 * harness.sanitizer_slowdown(),
             what="the aborts of the eight streams that started")
        time.sleep(0.3)
        cp, _, status = h2curl(s, "/index.html")
        eq((status, cp.stdout), (200, b"hello h2\n"), "the server goes on")
