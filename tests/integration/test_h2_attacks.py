"""HTTP/2 attacks: floods, resets, HPACK and flow-control abuse, malformed frames (RFC 9113).

Each attack runs on one connection while a second client (the bystander) keeps asking for a
page on its own connection and must get a 200 within a generous bound every time. Each test
then checks what the server said on the attacking connection (GOAWAY with the right code,
RST_STREAM, or a close), that its memory did not balloon, and that it still serves.

The same tests run against servers that already speak HTTP/2, which is how their expectations
were checked:

    python3 tests/integration/test_h2_attacks.py --peer nginx|h2o [-k SUBSTRING]...
    python3 tests/integration/test_h2_attacks.py --bin build/lux [--asan] [-k SUBSTRING]...
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import h2client as h2
import harness
from harness import check, lux_only

# Set by --peer: "nginx" or "h2o" stands in for the server under test.
PEER = None

WRITE_IDLE = 3  # server.max-write-idle: a stalled response is given up after this
BIG_SIZE = 4 << 20
FLOOD_BYTES = 64 << 20  # a flood stops after this many bytes...
FLOOD_SECONDS = 15  # ...or this long
STALL_SECONDS = 3  # a server that reads nothing for this long has stopped reading
RSS_GROWTH_KIB = 64 << 10  # what an attack may add to the server's memory

PAGE = b"<!doctype html><title>h2</title>\n" + b"x" * 990 + b"\n"


def slow():
    return harness.sanitizer_slowdown()


def bound():
    """How long the bystander may wait for one answer."""
    return 5.0 * slow()


# ---------------------------------------------------------------------------------------------
# The server under test: lux (or lighttpd) through harness.Server, or a peer in its place

_cert_lock = threading.Lock()
_cert = {}


def certificate():
    """One self-signed certificate and key for every server's TLS listener, made once."""
    with _cert_lock:
        if not _cert:
            d = tempfile.mkdtemp(prefix="luxh2-")
            atexit.register(shutil.rmtree, d, True)
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                            "/CN=localhost", "-keyout", f"{d}/key.pem", "-out", f"{d}/cert.pem"],
                           check=True, capture_output=True, timeout=60)
            _cert.update(cert=f"{d}/cert.pem", key=f"{d}/key.pem")
        return dict(_cert)


def lighttpd_conf():
    c = certificate()
    return (f'server.h2proto = "enable"\nserver.h2c = "enable"\n'
            f"server.max-write-idle = {WRITE_IDLE}\n"
            f'$SERVER["socket"] == "127.0.0.1:@PORT2@" {{\n'
            f'    ssl.engine = "enable"\n    ssl.pemfile = "{c["cert"]}"\n'
            f'    ssl.privkey = "{c["key"]}"\n}}\n')


def nginx_conf():
    c = certificate()
    temps = "".join(f"    {k}_temp_path @TMP@/{k};\n"
                    for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return ("daemon off;\nmaster_process off;\nworker_processes 1;\n"
            "error_log @TMP@/error.log;\npid @TMP@/nginx.pid;\n"
            "events { worker_connections 1024; }\nhttp {\n    access_log off;\n" + temps +
            # A connection's request cap would end the floods before their defences did.
            f"    keepalive_requests 100000;\n    send_timeout {WRITE_IDLE}s;\n"
            "    server {\n        listen 127.0.0.1:@PORT@ http2;\n"
            "        listen 127.0.0.1:@PORT2@ ssl http2;\n"
            f"        ssl_certificate {c['cert']};\n        ssl_certificate_key {c['key']};\n"
            "        root @DOCROOT@;\n    }\n}\n")


def h2o_conf():
    c = certificate()
    user = "user: root\n" if os.geteuid() == 0 else ""
    return (f"{user}num-threads: 1\nerror-log: @TMP@/error.log\npid-file: @TMP@/h2o.pid\n"
            f"http2-idle-timeout: {WRITE_IDLE}\n"
            "listen:\n  host: 127.0.0.1\n  port: @PORT@\n"
            "listen:\n  host: 127.0.0.1\n  port: @PORT2@\n  ssl:\n"
            f"    certificate-file: {c['cert']}\n    key-file: {c['key']}\n"
            "hosts:\n  default:\n    paths:\n      /:\n        file.dir: @DOCROOT@\n")


def h2_server():
    """The server under test with a 1 KiB page and a 4 MiB file; speaks h2c by prior knowledge
    on .port and h2 over TLS (ALPN) on .port2."""
    files = {"index.html": PAGE, "big.bin": os.urandom(BIG_SIZE)}
    if PEER == "nginx":
        return harness.Server(nginx_conf(), files, base=False, wrap=lambda argv: (
            ["nginx", "-p", os.path.dirname(argv[-1]) + "/", "-c", argv[-1]], {}))
    if PEER == "h2o":
        return harness.Server(h2o_conf(), files, base=False,
                              wrap=lambda argv: (["h2o", "-c", argv[-1]], {}))
    return harness.Server(lighttpd_conf(), files)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def h2conn(s, tls=False, **kw):
    """A connection with the handshake done (SETTINGS both ways, acknowledged)."""
    c = h2.H2Conn.open(s.port2 if tls else s.port, tls=tls, timeout=bound(), **kw)
    c.wait(lambda: {(f.flags & h2.ACK) for f in c.frames if f.type == h2.SETTINGS} == {0, 1},
           bound())
    check(not c.closed, "the server closed the connection during the handshake")
    return c


def still_serves(s):
    """The process is alive and a new connection gets the page."""
    check(s.alive(), "the server process died:\n" + s.diagnostics())
    with h2conn(s) as c:
        r = c.get("/index.html", timeout=bound())
        harness.eq(r.status, 200, "status of a request on a new connection after the attack")
        harness.eq(r.body, PAGE, "body")


class Bystander:
    """A second client asking for the page every 50 ms on its own connection while an attack
    runs; every answer must be a 200 that came within bound()."""

    def __init__(self, s, tls=False):
        self.s, self.tls = s, tls
        self.latencies, self.errors = [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        poll_until = time.monotonic() + bound()
        while not self.latencies and not self.errors and time.monotonic() < poll_until:
            time.sleep(0.02)
        check(self.latencies, f"the bystander got no first answer: {self.errors}")
        return self

    def __exit__(self, exc_type, *exc):
        self.stop.set()
        self.thread.join(bound() + 5)
        if exc_type is None:
            self.verify()
        return False

    def _run(self):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None or conn.goaway is not None or conn.closed:
                    conn = h2.H2Conn.open(self.s.port2 if self.tls else self.s.port,
                                          tls=self.tls, timeout=bound())
                t0 = time.monotonic()
                r = conn.get("/index.html", timeout=bound())
                if r.status != 200:
                    self.errors.append(f"status {r.status}")
                self.latencies.append(time.monotonic() - t0)
            except (h2.Closed, OSError) as e:
                if conn is not None and conn.goaway is not None and \
                        conn.goaway.error_code() == h2.NO_ERROR:
                    continue  # a graceful GOAWAY: open a new connection
                self.errors.append(f"{type(e).__name__}: {e}")
                conn = None
            time.sleep(0.05)
        if conn:
            conn.close()

    def verify(self):
        check(not self.errors, f"the bystander's requests failed during the attack: "
              f"{self.errors[:5]}")
        worst = max(self.latencies)
        check(worst < bound(), f"the bystander waited {worst:.1f}s for an answer")


def ended(c):
    return c.goaway is not None or c.closed


def describe(c):
    """What the server said on the attacking connection, for failure messages."""
    codes = {}
    for code in c.resets.values():
        codes[h2.error_name(code)] = codes.get(h2.error_name(code), 0) + 1
    g = f"GOAWAY {h2.error_name(c.goaway.error_code())}" if c.goaway else "no GOAWAY"
    return f"{g}, {'closed' if c.closed else 'open'}, RST_STREAM from the server: {codes or 0}"


# ---------------------------------------------------------------------------------------------
# Floods

class Flood:
    """The outcome of sending one chunk of frames again and again."""

    def __init__(self):
        self.sent = 0
        self.stalled = False  # the server stopped reading
        self.seconds = 0.0


def flood(c, chunk, total=FLOOD_BYTES, seconds=FLOOD_SECONDS, read=True):
    """Send chunk (whole frames) repeatedly until total bytes or seconds, the server ends the
    connection, or it stops reading for STALL_SECONDS. read=False never reads what the server
    sends (a client that ignores the ACKs it provokes)."""
    out = Flood()
    start = time.monotonic()
    deadline = start + seconds * slow()
    view = memoryview(chunk)
    while out.sent < total and time.monotonic() < deadline and not ended(c):
        off, last = 0, time.monotonic()
        while off < len(view) and not ended(c):
            if _send_some(c, view[off:], out, 0.2):
                off, last = off + out.last, time.monotonic()
            elif time.monotonic() - last >= STALL_SECONDS:
                out.stalled = True
                break
            if read:
                c.read_frames(0, auto_ack=False)
        if out.stalled:
            break
    out.seconds = time.monotonic() - start
    # What the server says once the flood stops: a GOAWAY may still be on its way.
    c.wait(lambda: ended(c), 2.0 * slow(), auto_ack=False)
    return out


def _send_some(c, view, out, timeout):
    c.sock.settimeout(timeout)
    try:
        n = c.sock.send(view)
    except TimeoutError:
        return False
    except (OSError, h2.ssl.SSLError):
        c.closed = True
        return False
    out.last = n
    out.sent += n
    return n > 0


def repeated(frames, size=1 << 16):
    """frames repeated to about size bytes: one chunk for flood()."""
    return frames * max(1, size // len(frames))


def attack(s, run, tls=False):
    """Run an attack while the bystander is served; returns run()'s result after checking the
    server's memory and that it still serves."""
    before = rss_kib(s.pid)
    with Bystander(s, tls):
        result = run()
    grown = rss_kib(s.pid) - before if s.alive() else 0
    still_serves(s)
    check(grown < RSS_GROWTH_KIB * slow(), f"the server's memory grew by {grown} KiB")
    return result


def check_ended_or_stalled(c, out, what):
    check(ended(c) or out.stalled,
          f"{what}: the server took {out.sent:,} bytes in {out.seconds:.1f}s and kept the "
          f"connection ({describe(c)})")


# ---------------------------------------------------------------------------------------------
# The server speaks HTTP/2 at all

def test_h2c_prior_knowledge_serves():
    with h2_server() as s, h2conn(s) as c:
        r = c.get("/index.html")
        harness.eq(r.status, 200, "status")
        harness.eq(r.body, PAGE, "body")
        harness.eq(c.get("/nothing-here").status, 404, "status of a missing file")


def test_tls_alpn_h2_serves():
    with h2_server() as s, h2conn(s, tls=True) as c:
        r = c.get("/big.bin", timeout=bound() * 2)
        harness.eq(r.status, 200, "status")
        harness.eq(len(r.body), BIG_SIZE, "body length")
        harness.eq(harness.sha256(r.body), harness.sha256(open(s.path("big.bin"), "rb").read()),
                   "body")


# ---------------------------------------------------------------------------------------------
# Resets

def refused_any(c):
    """The server refused streams or asked to calm down: a stream-rate defence at work."""
    return any(code in (h2.REFUSED_STREAM, h2.ENHANCE_YOUR_CALM) for code in c.resets.values())


def rapid_reset_frames(first_sid, n):
    out = []
    for sid in range(first_sid, first_sid + 2 * n, 2):
        out.append(h2.headers(sid, h2.request_block("/index.html")) + h2.rst_stream(sid))
    return b"".join(out)


def test_rapid_reset():
    """CVE-2023-44487: thousands of HEADERS each cancelled at once by RST_STREAM. The server
    must end the connection or refuse streams instead of starting every one."""
    with h2_server() as s, h2conn(s) as c:
        chunk = rapid_reset_frames(1, 5000)

        def run():
            flood(c, chunk, total=len(chunk))
            return c
        attack(s, run)
        check(ended(c) or refused_any(c), f"5,000 reset streams accepted: {describe(c)}")


def made_you_reset(trigger):
    """CVE-2025-8671 (MadeYouReset): each stream is opened, then a frame that obliges the
    server itself to reset it follows; the server resets are as cheap to provoke as a client's
    own. The server must end the connection or refuse streams."""
    with h2_server() as s, h2conn(s) as c:
        chunk = b"".join(h2.headers(sid, h2.request_block("/index.html")) + trigger(sid)
                         for sid in range(1, 1 + 2 * 5000, 2))

        def run():
            flood(c, chunk, total=len(chunk))
            return c
        attack(s, run)
        check(ended(c) or refused_any(c),
              f"5,000 streams reset by the server and the connection kept: {describe(c)}")


def test_madeyoureset_window_update_zero():
    made_you_reset(lambda sid: h2.window_update(sid, 0))


def test_madeyoureset_data_on_half_closed_stream():
    made_you_reset(lambda sid: h2.data(sid, b"x"))


@lux_only("lighttpd 1.4 resets every stream that depends on itself and keeps the connection")
def test_madeyoureset_priority_self_dependency():
    made_you_reset(lambda sid: h2.priority(sid, sid))


# ---------------------------------------------------------------------------------------------
# Header blocks

def test_continuation_flood_endless():
    """CVE-2024-27316 and kin: a header block that never ends, 16 KiB CONTINUATION after 16 KiB
    CONTINUATION. The server must end the connection, not buffer or decode forever."""
    with h2_server() as s, h2conn(s) as c:
        c.send(h2.headers(1, h2.request_block("/index.html"), end_headers=False))
        fields = h2.literal("x-pad", "a" * 16000)

        def run():
            return flood(c, repeated(h2.continuation(1, fields), 1 << 18))
        out = attack(s, run)
        check(ended(c), f"endless CONTINUATION: the server took {out.sent:,} bytes in "
              f"{out.seconds:.1f}s and kept the connection ({describe(c)})")


def test_continuation_many_small_beyond_header_limit():
    """20,000 tiny CONTINUATION frames, 300 KiB of header fields, then END_HEADERS: far beyond
    any header limit. The request must not be served: the stream is reset or answered 4xx, or
    the connection ends."""
    with h2_server() as s, h2conn(s) as c:
        fields = h2.literal("x-h", "v" * 8)
        chunk = h2.headers(1, h2.request_block("/index.html"), end_headers=False) + b"".join(
            h2.continuation(1, fields) for _ in range(20000)) + h2.continuation(
            1, b"", end_headers=True)

        def run():
            return flood(c, chunk, total=len(chunk))
        attack(s, run)
        c.wait(lambda: ended(c) or c.response(1, 0) is not None, bound())
        r = c.responses.get(1)
        status = r.status if r else None
        check(status is None or status >= 400,
              f"a request with 300 KiB of headers was answered {status}")
        check(ended(c) or (r is not None and (r.reset is not None or status is not None)),
              f"no answer to a request with 300 KiB of headers: {describe(c)}")


def test_hpack_bomb():
    """A 4,000-byte header enters the server's HPACK table, then each request refers to it
    4,000 times (one byte each): 16 MB of headers from 4 KiB on the wire. No bomb may be
    served, and memory must stay bounded."""
    with h2_server() as s, h2conn(s) as c:
        c.send(h2.headers(1, h2.request_block("/index.html") +
                          h2.literal("x-bomb", "b" * 4000, index=True)))
        bomb = h2.request_block("/index.html") + h2.indexed(62) * 4000
        sids = list(range(3, 3 + 2 * 20, 2))
        chunk = b"".join(h2.headers(sid, bomb) for sid in sids)

        def run():
            flood(c, chunk, total=len(chunk))
            c.wait(lambda: ended(c) or all(c.response(sid, 0) for sid in sids), bound())
            return c
        attack(s, run)
        served = [sid for sid in sids if c.responses.get(sid) and
                  c.responses[sid].status == 200]
        check(not served, f"HPACK bombs served with 200 on streams {served}")
        unanswered = [sid for sid in sids if not ended(c) and c.response(sid, 0) is None]
        check(not unanswered, f"HPACK bombs left unanswered on streams {unanswered}: "
              f"{describe(c)}")


# ---------------------------------------------------------------------------------------------
# Control-frame floods

@lux_only("lighttpd 1.4 reads a SETTINGS flood to its end and keeps the connection")
def test_settings_flood_unread_acks():
    """Empty SETTINGS frames, and a client that never reads the ACKs. The server must end the
    connection or stop reading it, never queue ACKs without bound."""
    with h2_server() as s, h2conn(s) as c:
        out = attack(s, lambda: flood(c, repeated(h2.settings()), read=False))
        check_ended_or_stalled(c, out, "SETTINGS flood")


@lux_only("lighttpd 1.4 reads a PING flood to its end and keeps the connection")
def test_ping_flood_unread_acks():
    """PING frames, and a client that never reads the ACKs (CVE-2019-9512)."""
    with h2_server() as s, h2conn(s) as c:
        out = attack(s, lambda: flood(c, repeated(h2.ping(b"flooding")), read=False))
        check_ended_or_stalled(c, out, "PING flood")


@lux_only("lighttpd 1.4 takes empty DATA frames without limit")
def test_empty_data_frames_flood():
    """Empty DATA frames without END_STREAM on an open request (CVE-2019-9518): each costs the
    server work and moves nothing. The server must end the connection or stop reading."""
    with h2_server() as s, h2conn(s) as c:
        c.send(h2.headers(1, h2.request_block("/index.html", "POST"), end_stream=False))
        out = attack(s, lambda: flood(c, repeated(h2.data(1))))
        check_ended_or_stalled(c, out, "empty DATA flood")


def test_priority_flood():
    """PRIORITY frames for ever new idle streams, each depending on the previous
    (CVE-2019-9513): priority state must stay bounded. The connection may end; if it does not,
    it must still answer a request at once."""
    with h2_server() as s, h2conn(s) as c:
        chunk = b"".join(h2.priority(sid, sid - 2 if sid > 1 else 0)
                         for sid in range(1, 1 + 2 * 200000, 2))
        c.next_stream = 1 + 2 * 200000
        attack(s, lambda: flood(c, chunk, total=len(chunk)))
        if not ended(c):
            r = c.get("/index.html", timeout=bound())
            harness.eq(r.status, 200, "status of a request after the PRIORITY flood")


# ---------------------------------------------------------------------------------------------
# Flow control and stream limits

def test_zero_window_stall():
    """A client that opens no window (SETTINGS_INITIAL_WINDOW_SIZE 0) for a 4 MiB file: the
    server must not hold the connection forever. It ends it (or resets the stream) once
    server.max-write-idle has passed."""
    with h2_server() as s:
        c = h2.H2Conn.open(s.port, timeout=bound(),
                           settings_pairs={h2.INITIAL_WINDOW_SIZE: 0})
        c.credit = False
        with c, Bystander(s):
            sid = c.request("/big.bin")
            limit = WRITE_IDLE + 10 * slow()
            start = time.monotonic()
            c.wait(lambda: ended(c) or sid in c.resets, limit)
            took = time.monotonic() - start
            check(ended(c) or sid in c.resets,
                  f"a stalled response still held after {took:.0f}s ({describe(c)})")
            got = len(c.responses[sid].body) if sid in c.responses else 0
            harness.eq(got, 0, "DATA bytes sent into a zero window")
        still_serves(s)


def test_too_many_concurrent_streams():
    """Streams beyond the server's advertised SETTINGS_MAX_CONCURRENT_STREAMS are refused
    (RST_STREAM REFUSED_STREAM or PROTOCOL_ERROR) or end the connection (PROTOCOL_ERROR).
    The streams are kept open with a zero window on a large file."""
    with h2_server() as s:
        with h2conn(s, settings_pairs={h2.INITIAL_WINDOW_SIZE: 0}) as c, Bystander(s):
            check_stream_limit(c)
        still_serves(s)


def check_stream_limit(c):
    limit = c.server_settings.get(h2.MAX_CONCURRENT_STREAMS)
    check(limit is not None and 0 < limit <= 1000,
          f"no usable SETTINGS_MAX_CONCURRENT_STREAMS advertised: {c.server_settings}")
    sids = [c.stream_id() for _ in range(limit + 20)]
    c.send(b"".join(h2.headers(sid, h2.request_block("/big.bin")) for sid in sids))
    beyond = sids[limit:]
    refused = (h2.REFUSED_STREAM, h2.PROTOCOL_ERROR)

    def answered():
        return ended(c) or any(c.resets.get(sid) in refused for sid in beyond)
    c.wait(answered, bound(), auto_ack=False)
    if c.goaway is not None:
        harness.eq(h2.error_name(c.goaway.error_code()), "PROTOCOL_ERROR", "GOAWAY code")
    else:
        check(any(c.resets.get(sid) in refused for sid in beyond),
              f"{len(sids)} concurrent streams with a limit of {limit}: {describe(c)}")
    started = [sid for sid in sids if sid in c.responses and c.responses[sid].headers]
    check(len(started) <= limit,
          f"{len(started)} responses started with a limit of {limit} streams")


# ---------------------------------------------------------------------------------------------
# Malformed frames: RFC 9113 connection errors

def _open_stream():
    return h2.headers(1, h2.request_block("/big.bin"), end_stream=False)


def _oversized_headers():
    fields = h2.request_block("/index.html") + h2.literal("x-big", "a" * 16400)
    return h2.headers(1, fields)


MALFORMED_FRAME_SIZES = [
    ("SETTINGS of 5 bytes", h2.frame(h2.SETTINGS, 0, 0, b"\0" * 5), "FRAME_SIZE_ERROR"),
    ("SETTINGS ACK with a payload", h2.frame(h2.SETTINGS, h2.ACK, 0, b"\0" * 6),
     "FRAME_SIZE_ERROR"),
    ("PING of 7 bytes", h2.frame(h2.PING, 0, 0, b"\0" * 7), "FRAME_SIZE_ERROR"),
    ("WINDOW_UPDATE of 3 bytes", h2.frame(h2.WINDOW_UPDATE, 0, 0, b"\0\0\1"),
     "FRAME_SIZE_ERROR"),
    ("RST_STREAM of 3 bytes", _open_stream() + h2.frame(h2.RST_STREAM, 0, 1, b"\0\0\0"),
     "FRAME_SIZE_ERROR"),
    ("HEADERS beyond SETTINGS_MAX_FRAME_SIZE", _oversized_headers(), "FRAME_SIZE_ERROR"),
    ("padding longer than the HEADERS frame",
     h2.frame(h2.HEADERS, h2.END_STREAM | h2.END_HEADERS | h2.PADDED, 1, b"\x40" + b"\x82"),
     "PROTOCOL_ERROR"),
]

MALFORMED_STREAM_ZERO = [
    ("DATA on stream 0", h2.data(0, b"x"), "PROTOCOL_ERROR"),
    ("HEADERS on stream 0", h2.headers(0, h2.request_block()), "PROTOCOL_ERROR"),
    ("PRIORITY on stream 0", h2.priority(0, 1), "PROTOCOL_ERROR"),
    ("RST_STREAM on stream 0", h2.rst_stream(0), "PROTOCOL_ERROR"),
    ("CONTINUATION on stream 0", h2.continuation(0, b"", True), "PROTOCOL_ERROR"),
    ("SETTINGS on stream 1", h2.frame(h2.SETTINGS, 0, 1), "PROTOCOL_ERROR"),
    ("PING on stream 1", h2.frame(h2.PING, 0, 1, b"\0" * 8), "PROTOCOL_ERROR"),
    ("GOAWAY on stream 1", h2.frame(h2.GOAWAY, 0, 1, b"\0" * 8), "PROTOCOL_ERROR"),
]

MALFORMED_STREAM_IDS = [
    ("stream ids going backwards",
     h2.headers(5, h2.request_block()) + h2.headers(3, h2.request_block()), "PROTOCOL_ERROR"),
    ("an even stream id from the client", h2.headers(2, h2.request_block()), "PROTOCOL_ERROR"),
    ("DATA on an idle stream", h2.data(7, b"x"), "PROTOCOL_ERROR"),
    ("RST_STREAM on an idle stream", h2.rst_stream(7), "PROTOCOL_ERROR"),
    ("WINDOW_UPDATE on an idle stream", h2.window_update(7, 1), "PROTOCOL_ERROR"),
    ("PUSH_PROMISE from the client",
     _open_stream() + h2.push_promise(1, 2, h2.request_block()), "PROTOCOL_ERROR"),
]

MALFORMED_SETTINGS = [
    ("SETTINGS_ENABLE_PUSH 2", h2.settings({h2.ENABLE_PUSH: 2}), "PROTOCOL_ERROR"),
    ("SETTINGS_INITIAL_WINDOW_SIZE 2^31", h2.settings({h2.INITIAL_WINDOW_SIZE: 1 << 31}),
     "FLOW_CONTROL_ERROR"),
    ("SETTINGS_MAX_FRAME_SIZE 100", h2.settings({h2.MAX_FRAME_SIZE: 100}), "PROTOCOL_ERROR"),
    ("SETTINGS_MAX_FRAME_SIZE 2^24", h2.settings({h2.MAX_FRAME_SIZE: 1 << 24}),
     "PROTOCOL_ERROR"),
]

MALFORMED_OTHER = [
    ("WINDOW_UPDATE 0 on the connection", h2.window_update(0, 0), "PROTOCOL_ERROR"),
    ("connection window beyond 2^31-1", h2.window_update(0, 0x7FFFFFFF), "FLOW_CONTROL_ERROR"),
    ("a header block interrupted by PING",
     h2.headers(1, h2.request_block(), end_headers=False) + h2.ping(), "PROTOCOL_ERROR"),
    ("HPACK index 0", h2.headers(1, b"\x80"), "COMPRESSION_ERROR"),
    ("HPACK index beyond both tables", h2.headers(1, h2.indexed(200)), "COMPRESSION_ERROR"),
]


def goaway_for(s, frames, tls=False):
    """Send frames after the handshake; returns the GOAWAY code's name, or what happened."""
    with h2conn(s, tls=tls) as c:
        try:
            c.send(frames)
        except h2.Closed:
            pass
        c.wait_end(bound())
        if c.goaway is None:
            return "closed without GOAWAY" if c.closed else "no GOAWAY"
        return h2.error_name(c.goaway.error_code())


def check_malformed(cases, tls=False):
    with h2_server() as s:
        wrong = []
        with Bystander(s):
            for what, frames, want in cases:
                got = goaway_for(s, frames, tls)
                if got != want:
                    wrong.append(f"{what}: {got}, want GOAWAY {want}")
        check(not wrong, "\n".join(wrong))
        still_serves(s)


def test_malformed_frame_sizes():
    check_malformed(MALFORMED_FRAME_SIZES)


def test_malformed_frames_on_stream_zero_or_not():
    check_malformed(MALFORMED_STREAM_ZERO)


def test_malformed_stream_ids():
    check_malformed(MALFORMED_STREAM_IDS)


def test_malformed_settings():
    check_malformed(MALFORMED_SETTINGS)


def test_malformed_flow_control_and_hpack():
    check_malformed(MALFORMED_OTHER)


def test_malformed_frames_over_tls():
    check_malformed([MALFORMED_STREAM_ZERO[1], MALFORMED_FRAME_SIZES[2],
                     MALFORMED_STREAM_IDS[0]], tls=True)


def test_bad_preface_closes():
    with h2_server() as s:
        with harness.connect(s.port) as sock:
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + h2.settings())
            data, closed = harness.read_all(sock, bound())
        frames, _ = h2.parse_frames(data)
        goaways = [f for f in frames if f.type == h2.GOAWAY]
        check(closed, f"the connection stayed open after a bad preface: {data[:200]!r}")
        if goaways:
            harness.eq(h2.error_name(goaways[0].error_code()), "PROTOCOL_ERROR", "GOAWAY code")
        still_serves(s)


def test_malformed_frame_leaves_other_connections_alone():
    """One client's connection error ends its own connection only: another connection's
    response in flight completes, and that connection keeps serving."""
    with h2_server() as s, h2conn(s) as good:
        sid = good.request("/big.bin")
        good.read_frames(0.1)
        code = goaway_for(s, h2.headers(0, h2.request_block()))
        harness.eq(code, "PROTOCOL_ERROR", "GOAWAY code on the faulty connection")
        r = good.response(sid, bound() * 2)
        check(r is not None, f"the other connection's response did not complete: "
              f"{describe(good)}")
        harness.eq((r.status, len(r.body)), (200, BIG_SIZE), "the other response")
        harness.eq(good.get("/index.html").status, 200, "the other connection's next request")
        check(good.goaway is None, f"the other connection got {describe(good)}")


# ---------------------------------------------------------------------------------------------
# Running this file by itself (it is not collected by run.py while it is pending)

def main():
    import argparse
    import run
    global PEER
    ap = argparse.ArgumentParser()
    who = ap.add_mutually_exclusive_group(required=True)
    who.add_argument("--bin", help="server binary to test (lux or lighttpd)")
    who.add_argument("--peer", choices=("nginx", "h2o"), help="test nginx or h2o instead")
    ap.add_argument("--asan", action="store_true")
    ap.add_argument("-k", dest="patterns", action="append")
    opts = ap.parse_args()
    PEER = opts.peer
    harness.BIN = shutil.which(opts.peer) if opts.peer else os.path.abspath(opts.bin)
    harness.ASAN = opts.asan
    mod = sys.modules[__name__]
    tests = [(f"h2_attacks.{n[5:]}", f) for n, f in vars(mod).items()
             if n.startswith("test_") and callable(f)]
    tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
    ok = True
    try:
        for name, fn in tests:
            if not opts.patterns or any(p in name for p in opts.patterns):
                ok &= run.report(name, run.run_one(name, fn))
    finally:
        harness.kill_strays()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
