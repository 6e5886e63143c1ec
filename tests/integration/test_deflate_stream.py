"""mod_deflate on streamed (dynamic) bodies: CGI output and the test module's streams compressed
through the output filter as they pass, flushed when the producer pauses, with back-pressure
to a slow reader; what is left alone (HEAD, 304, other types, an encoding already set)."""

import gzip
import hashlib
import os
import random
import shutil
import socket
import time
import zlib

import harness
from harness import Server, check, eq, lux_only, poll
from test_mod_deflate import decode

MIB = 1024 * 1024
PYTHON = shutil.which("python3") or "/usr/bin/python3"

CONF = f"""
server.modules = ("mod_deflate", "mod_cgi")
server.max-worker = 1
cgi.assign = (".py" => "{PYTHON}", ".sh" => "/bin/sh")
deflate.mimetypes = ("text/")
deflate.allowed-encodings = ("zstd", "br", "gzip", "deflate", "bzip2")
"""

# Text written in many small pieces, each flushed: the body reaches lux as a stream.
TEXT_PY = """\
import sys
o = sys.stdout.buffer
o.write(b"Content-Type: text/plain\\r\\n\\r\\n")
for i in range(3000):
    o.write(b"line %d of a streamed body that compresses well\\n" % i)
    if i % 100 == 0:
        o.flush()
"""


def text_body():
    return b"".join(b"line %d of a streamed body that compresses well\n" % i for i in range(3000))


# An event stream: one event, then (once the test has read it) a second one.
SSE_PY = """\
import os, sys, time
o = sys.stdout.buffer
o.write(b"Content-Type: text/event-stream\\r\\n\\r\\ndata: first\\n\\n")
o.flush()
go = os.path.join(os.path.dirname(os.environ["SCRIPT_FILENAME"]), "go")
deadline = time.time() + 30
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.05)
o.write(b"data: second\\n\\n")
o.flush()
"""

# 50 MiB of hex text: compressible about 2:1, and no repeat within a deflate window, so the
# compressed stream is large too.
BIG_PY = """\
import random, sys
o = sys.stdout.buffer
o.write(b"Content-Type: text/plain\\r\\n\\r\\n")
block = random.Random(7).randbytes(256 * 1024).hex().encode()
for _ in range(100):
    o.write(block)
"""


def big_body_digest():
    block = random.Random(7).randbytes(256 * 1024).hex().encode()
    h = hashlib.sha256()
    for _ in range(100):
        h.update(block)
    return 100 * len(block), h.hexdigest()


FILES = {
    "text.py": TEXT_PY,
    "sse.py": SSE_PY,
    "big.py": BIG_PY,
    "png.sh": "printf 'Content-Type: image/png\\r\\n\\r\\n'\nseq 1 5000\n",
    "notmod.sh": "printf 'Status: 304\\r\\nContent-Type: text/plain\\r\\n\\r\\n'\n",
    "coded.py": "import gzip, sys\no = sys.stdout.buffer\n"
                "o.write(b'Content-Type: text/plain\\r\\nContent-Encoding: gzip\\r\\n\\r\\n')\n"
                "o.write(gzip.compress(b'already coded\\n' * 200))\n",
}


def cgi_server(extra=""):
    return Server(CONF + extra, files=FILES)


def fetch(s, path, ae="gzip", method="GET", version="HTTP/1.1"):
    headers = {"Accept-Encoding": ae} if ae else {}
    return harness.get(s.port, path, headers=headers, method=method, version=version)


class Stream:
    """A response read as it arrives: the head, then the body's chunks decoded one by one."""

    def __init__(self, sock, timeout):
        self.sock = sock
        self.buf = b""
        self.deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")
        self.ended = False

    def _more(self):
        left = self.deadline - time.monotonic()
        check(left > 0, f"the response stalled; have {self.buf[:200]!r}")
        self.sock.settimeout(left)
        try:
            b = self.sock.recv(256 * 1024)
        except socket.timeout:
            b = b""
        check(b, "the connection closed or stalled mid-response")
        self.buf += b

    def chunk(self):
        """The next chunk's payload; b"" at the last chunk."""
        while b"\r\n" not in self.buf:
            self._more()
        size_line, rest = self.buf.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        while len(rest) < size + 2:
            self._more()
            size_line, rest = self.buf.split(b"\r\n", 1)
        self.buf = rest[size + 2:]
        if size == 0:
            self.ended = True
        return rest[:size]


def open_stream(s, path, ae="gzip", timeout=20):
    sock = harness.connect(s.port)
    sock.sendall(harness.build_request(path, {"Accept-Encoding": ae}, close=True))
    return sock, Stream(sock, timeout * harness.sanitizer_slowdown())


def check_streamed_coding(coding):
    with cgi_server() as s:
        r = fetch(s, "/text.py", ae=coding)
        eq(r.status, 200, "status")
        eq(r.header("Content-Encoding"), coding, "Content-Encoding")
        if not harness.is_lighttpd():  # lighttpd waits for the script's end, sends a length
            eq(r.header("Transfer-Encoding"), "chunked", "framing")
            eq(r.header("Content-Length"), None, "Content-Length")
        check("Accept-Encoding" in (r.header("Vary") or ""), "Vary names Accept-Encoding")
        check(len(r.body) < len(text_body()) // 4, f"{len(r.body)} bytes: barely compressed")
        eq(decode(coding, r.body), text_body(), f"{coding} body decoded")


def test_cgi_stream_gzip():
    check_streamed_coding("gzip")


def test_cgi_stream_deflate():
    check_streamed_coding("deflate")


def test_cgi_stream_br():
    check_streamed_coding("br")


def test_cgi_stream_zstd():
    check_streamed_coding("zstd")


@lux_only("lighttpd compresses a stream in bzip2, which cannot flush")
def test_cgi_stream_never_bzip2():
    with cgi_server() as s:
        r = fetch(s, "/text.py", ae="bzip2")
        eq(r.header("Content-Encoding"), None, "Content-Encoding")
        eq(r.body, text_body(), "the body as the script wrote it")
        r = fetch(s, "/text.py", ae="bzip2, gzip;q=0.5")
        eq(r.header("Content-Encoding"), "gzip", "the next acceptable coding")


@lux_only("lighttpd 1.4.69 sends a compressed response once the script ended, with a length")
def test_cgi_stream_http10_close_delimited():
    with cgi_server() as s:
        r = fetch(s, "/text.py", version="HTTP/1.0")
        eq(r.header("Content-Encoding"), "gzip", "Content-Encoding")
        eq(r.header("Content-Length"), None, "Content-Length")
        eq(gzip.decompress(r.body), text_body(), "body decoded")


@lux_only("lighttpd 1.4.69 sends a compressed response once the script ended, with a length")
def test_event_stream_flushes_when_the_script_pauses():
    """The first event decodes before the script writes the second: compression flushed it."""
    with cgi_server() as s:
        go = s.path("go")
        sock, st = open_stream(s, "/sse.py")
        try:
            check("Content-Encoding: gzip" in st.head, f"not compressed:\n{st.head}")
            z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            got = b""
            while b"data: first\n\n" not in got:
                piece = st.chunk()
                check(piece, f"the body ended early; decoded {got!r}")
                got += z.decompress(piece)
            eq(got, b"data: first\n\n", "decoded before the second event")
            check(not os.path.exists(go), "the script was told to go on too early")
            harness.write_file(go, "")
            while not st.ended:
                got += z.decompress(st.chunk())
            got += z.flush()
            eq(got, b"data: first\n\ndata: second\n\n", "the whole stream")
            check(z.eof, "the gzip stream ended well")
        finally:
            sock.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise harness.TestFailure("no VmRSS")


@lux_only("lighttpd 1.4.69 sends a compressed response once the script ended, with a length")
def test_50mib_compressed_stream_to_slow_reader_keeps_rss_bounded():
    size, digest = big_body_digest()
    with cgi_server() as s:
        base = rss_kib(s.pid)
        sock, st = open_stream(s, "/big.py", timeout=120)
        try:
            check("Content-Encoding: gzip" in st.head, f"not compressed:\n{st.head}")
            z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            h, n, wire, peak = hashlib.sha256(), 0, 0, base
            stalled = False
            while not st.ended:
                piece = st.chunk()
                wire += len(piece)
                out = z.decompress(piece)
                h.update(out)
                n += len(out)
                if not stalled and n >= MIB:
                    time.sleep(1.5)  # the client stalls: the server must stop taking input
                    stalled = True
                    peak = max(peak, rss_kib(s.pid))
                elif wire % 64 == 0 or len(piece) > 32768:
                    time.sleep(0.002)  # a steady, slowish reader
                    peak = max(peak, rss_kib(s.pid))
            tail = z.flush()
            h.update(tail)
            n += len(tail)
            eq((n, h.hexdigest()), (size, digest), "the decoded body")
            check(wire < size * 2 // 3, f"{wire} compressed bytes for {size}")
        finally:
            sock.close()
        # Unbounded, the compressed body (about 25 MiB) would pile up in the server; the
        # filter holds an encoder and a block, the queue at most its high-water mark.
        growth = peak - base
        if not harness.sanitized():
            check(growth < 16 * 1024, f"RSS grew by {growth} KiB for a 50 MiB body")


def test_head_is_not_compressed():
    with cgi_server() as s:
        r = fetch(s, "/text.py", method="HEAD")
        eq(r.status, 200, "status")
        eq(r.header("Content-Encoding"), None, "Content-Encoding")
        eq(r.body, b"", "body")


def test_304_is_not_compressed():
    with cgi_server() as s:
        r = fetch(s, "/notmod.sh")
        eq(r.status, 304, "status")
        eq(r.header("Content-Encoding"), None, "Content-Encoding")
        eq(r.body, b"", "body")


def test_binary_type_is_not_compressed():
    with cgi_server() as s:
        r = fetch(s, "/png.sh")
        eq(r.header("Content-Encoding"), None, "Content-Encoding")
        eq(r.body, b"".join(b"%d\n" % i for i in range(1, 5001)), "body")


def test_content_encoding_already_set_is_left_alone():
    with cgi_server() as s:
        r = fetch(s, "/coded.py")
        eq(r.header("Content-Encoding"), "gzip", "Content-Encoding")
        eq(gzip.decompress(r.body), b"already coded\n" * 200, "coded once")


@lux_only("lux's own deflate.max-loadavg check on streams")
def test_max_loadavg_leaves_streams_uncompressed():
    if os.getloadavg()[0] < 0.05:
        raise harness.Skip("the machine is idle: no load average to exceed")
    with cgi_server('deflate.max-loadavg = "0.01"\n') as s:
        r = fetch(s, "/text.py")
        eq(r.header("Content-Encoding"), None, "Content-Encoding")
        eq(r.body, text_body(), "body")


TS_CONF = """
server.modules = ("mod_deflate", "mod_test_stream")
server.max-worker = 1
deflate.mimetypes = ("application/octet-stream")
deflate.allowed-encodings = ("gzip", "zstd")
$HTTP["url"] =^ "/cl" {
    test-stream.bytes = 300000
    test-stream.content-length = "enable"
}
$HTTP["url"] =^ "/small-cl" {
    test-stream.bytes = 200
    test-stream.content-length = "enable"
}
$HTTP["url"] =^ "/small" { test-stream.bytes = 200 }
$HTTP["url"] =^ "/late-short-cl" {
    test-stream.bytes = 300000
    test-stream.abort-after = 100000
    test-stream.interval-ms = 10
    test-stream.content-length = "enable"
}
$HTTP["url"] =^ "/short-cl" {
    test-stream.bytes = 300000
    test-stream.abort-after = 100000
    test-stream.content-length = "enable"
}
"""


def pattern(n):
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


def ts_server():
    return Server(TS_CONF, test_bin=True)


@lux_only("test module")
def test_streamed_length_is_dropped_when_compressed():
    with ts_server() as s:
        r = fetch(s, "/cl")
        eq(r.header("Content-Encoding"), "gzip", "Content-Encoding")
        eq(r.header("Content-Length"), None, "Content-Length")
        eq(r.header("Transfer-Encoding"), "chunked", "framing")
        eq(gzip.decompress(r.body), pattern(300000), "body decoded")
        r = fetch(s, "/cl", version="HTTP/1.0")
        eq(r.header("Content-Length"), None, "HTTP/1.0 Content-Length")
        eq(gzip.decompress(r.body), pattern(300000), "HTTP/1.0 body decoded")
        r = fetch(s, "/cl", ae=None)
        eq(r.header("Content-Encoding"), None, "without Accept-Encoding")
        eq(r.header("Content-Length"), "300000", "its own length")
        eq(r.body, pattern(300000), "the body as it was")


@lux_only("test module")
def test_min_compress_size_applies_to_a_known_length():
    with ts_server() as s:
        r = fetch(s, "/small-cl")
        eq(r.header("Content-Encoding"), None, "below deflate.min-compress-size")
        eq(r.header("Content-Length"), "200", "its own length")
        eq(r.body, pattern(200), "body")
        r = fetch(s, "/small")
        eq(r.header("Content-Encoding"), "gzip", "a length not known")
        eq(gzip.decompress(r.body), pattern(200), "body decoded")


@lux_only("test module")
def test_broken_stream_is_not_ended_well():
    """The body breaks before the head goes out, and while it streams."""
    with ts_server() as s:
        for path in ("/short-cl", "/late-short-cl"):
            req = harness.build_request(path, {"Accept-Encoding": "gzip"}, close=False)
            data, closed = harness.raw_ex(s.port, req, timeout=10 * harness.sanitizer_slowdown())
            check(closed, f"{path}: the connection closes")
            check(not data.endswith(b"0\r\n\r\n"), f"{path}: no last chunk after a broken body")
        eq(harness.get(s.port, "/small").status, 200, "the server still answers")
