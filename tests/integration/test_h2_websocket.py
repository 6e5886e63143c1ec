"""WebSockets over HTTP/2 (RFC 8441): SETTINGS_ENABLE_CONNECT_PROTOCOL, an extended CONNECT with
:protocol "websocket" answered :status 200 through mod_proxy (proxy.header "upgrade", the
backend an HTTP/1.1 WebSocket echo server that gets its handshake from lux) and mod_wstunnel (a
raw echo backend), over h2c and h2 over TLS; messages both ways with flow control, other streams
served beside a tunnel, the client's END_STREAM and RST_STREAM ending it, the idle limit, and
:protocol values that are not tunnelled."""

import os
import socket
import struct
import sys
import threading
import time

import harness
from harness import Server, check, contains, eq, lux_only

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2client as h2  # noqa: E402
import ws_backend  # noqa: E402  (the frame codec)
from test_h2 import tls_conf  # noqa: E402
from test_tunnel import Backend  # noqa: E402

TIMEOUT = 30
ENABLE_CONNECT_PROTOCOL = 8
FILES = {"page.txt": "a page beside the tunnel\n"}


def proxy_conf(port, extra=""):
    return ('server.modules += ("mod_proxy", "mod_accesslog")\nserver.max-worker = 1\n'
            'accesslog.filename = "@TMP@/access.log"\n'
            'accesslog.format = "%r %>s"\n'
            '$HTTP["url"] =^ "/ws/" {\n'
            f'  proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {port} ) ) )\n'
            '  proxy.header = ( "upgrade" => "enable" )\n}\n' + extra)


def wstunnel_conf(port, extra=""):
    return ('server.modules += ("mod_wstunnel")\nserver.max-worker = 1\n'
            f'wstunnel.server = ( "/ws/" => ( ( "host" => "127.0.0.1", "port" => {port} ) ) )\n'
            'wstunnel.frame-type = "binary"\n' + extra)


class H2WebSocket:
    """One extended CONNECT stream on an h2client connection: sends DATA within the server's
    flow-control windows, reads the WebSocket frames that arrive as the stream's DATA."""

    def __init__(self, conn, path="/ws/chat", protocol="websocket", early=b"",
                 version="13"):
        self.conn = conn
        self.seen = 0  # frames of conn.frames already looked at for WINDOW_UPDATE
        self.conn_window = 65535
        self.stream_window = None
        self.at = 0  # bytes of the response body already read as WebSocket frames
        check(conn.wait(lambda: ENABLE_CONNECT_PROTOCOL in conn.server_settings, TIMEOUT),
              f"no SETTINGS_ENABLE_CONNECT_PROTOCOL: {conn.server_settings}")
        self.stream_window = conn.server_settings.get(h2.INITIAL_WINDOW_SIZE, 65535)
        self.sid = conn.stream_id()
        scheme = "https" if hasattr(conn.sock, "selected_alpn_protocol") else "http"
        block = b"".join(h2.literal(n, v) for n, v in (
            (":method", "CONNECT"), (":protocol", protocol), (":scheme", scheme),
            (":path", path), (":authority", "127.0.0.1"), ("sec-websocket-version", version)))
        conn.send(h2.headers(self.sid, block, end_stream=False))
        if early:  # DATA before the answer: held until the stream is a tunnel
            conn.send(h2.data(self.sid, early))
            self.conn_window -= len(early)
            self.stream_window -= len(early)
        check(conn.wait(lambda: self.response().headers or self.response().reset is not None,
                        TIMEOUT), "no answer to the extended CONNECT")

    def response(self):
        return self.conn.responses.setdefault(self.sid, h2.Response(self.sid))

    def wait(self, cond, timeout=TIMEOUT):
        """conn.wait in short reads: a read there lasts its whole slice even when frames came."""
        deadline = time.monotonic() + timeout
        while not cond() and not self.conn.closed and time.monotonic() < deadline:
            self.conn.read_frames(0.002)
        return cond()

    def _note_windows(self):
        for f in self.conn.frames[self.seen:]:
            if f.type == h2.WINDOW_UPDATE:
                inc = struct.unpack(">I", f.payload)[0] & 0x7FFFFFFF
                if f.stream == 0:
                    self.conn_window += inc
                elif f.stream == self.sid:
                    self.stream_window += inc
        self.seen = len(self.conn.frames)

    def _window_grew(self):
        return any(f.type == h2.WINDOW_UPDATE for f in self.conn.frames[self.seen:])

    def send_bytes(self, data, end=False):
        while data:
            self._note_windows()
            room = min(self.conn_window, self.stream_window, 16384, len(data))
            if room <= 0:
                check(not self.conn.closed and self.response().reset is None,
                      "the stream ended while sending")
                self.wait(lambda: self._window_grew(), 0.5)
                continue
            self.conn.send(h2.data(self.sid, data[:room], end=end and room == len(data)))
            self.conn_window -= room
            self.stream_window -= room
            data = data[room:]

    def send(self, opcode, payload):
        self.send_bytes(ws_backend.frame(opcode, payload, mask=os.urandom(4)))

    def end(self):
        self.conn.send(h2.data(self.sid, b"", end=True))

    def recv(self, n, timeout=TIMEOUT):
        """The next n bytes of the stream's DATA."""
        def have():
            return len(self.response().body) - self.at >= n
        check(self.wait(have, timeout), f"{n} bytes did not come "
              f"(have {len(self.response().body) - self.at}, reset {self.response().reset})")
        out = self.response().body[self.at:self.at + n]
        self.at += n
        return out

    def recv_frame(self):
        b0, b1 = self.recv(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self.recv(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self.recv(8))[0]
        check(not b1 & 0x80, "a server's frame is not masked")
        return b0 & 0x0F, self.recv(n) if n else b""

    def recv_message(self, n):
        """Frames until n payload bytes came: (opcodes, bytes)."""
        ops, data = set(), b""
        while len(data) < n:
            op, payload = self.recv_frame()
            ops.add(op)
            data += payload
        return ops, data

    def ended(self, timeout=TIMEOUT):
        return self.conn.wait(lambda: self.sid in self.conn.ended_streams, timeout)


def open_conn(s, tls=False):
    return h2.H2Conn.open(s.port, tls=tls, timeout=TIMEOUT)


def opened(conn, path="/ws/chat"):
    ws = H2WebSocket(conn, path)
    resp = ws.response()
    eq(resp.status, 200, f"the extended CONNECT's status ({resp.headers})")
    eq(resp.header("sec-websocket-accept"), None, "no accept over HTTP/2")
    eq(resp.header("content-length"), None, "no length on a tunnel")
    return ws


def echo_through_proxy(tls):
    with Backend("ws") as b, Server(proxy_conf(b.port) + (tls_conf() if tls else ""),
                                    files=FILES) as s, open_conn(s, tls) as conn:
        ws = opened(conn)
        text = "héllo wörld".encode()
        ws.send(1, text)
        eq(ws.recv_message(len(text)), ({1}, text), "text echoed")
        blob = os.urandom(70000)
        ws.send(2, blob)
        eq(ws.recv_message(len(blob)), ({2}, blob), "binary echoed")
        # the backend closes on "bye": the stream's END_STREAM follows its close frame
        ws.send(1, b"bye")
        eq(ws.recv_frame(), (8, b"\x03\xe8"), "the backend's close")
        check(ws.ended(), "END_STREAM after the backend's end")
        ws.end()
        # the tunnel ended well: the connection serves on, the tunnel is logged with 200
        eq(conn.get("/page.txt").body, b"a page beside the tunnel\n", "a later stream")
        log = os.path.join(s.tmp, "access.log")
        harness.poll(lambda: "/ws/chat" in harness.read_text(log), TIMEOUT, what="the log line")
        # lighttpd logs the method as CONNECT, lux as the GET the modules saw
        contains(harness.read_text(log), "/ws/chat HTTP/2.0 200", "the tunnel's log line")


def test_settings_enable_connect_protocol():
    with Server(files=FILES) as s, open_conn(s) as conn:
        check(conn.wait(lambda: conn.server_settings, TIMEOUT), "no SETTINGS")
        eq(conn.server_settings.get(ENABLE_CONNECT_PROTOCOL), 1, "ENABLE_CONNECT_PROTOCOL")


def test_proxy_websocket_echo_h2c():
    echo_through_proxy(tls=False)


def test_proxy_websocket_echo_h2_tls():
    echo_through_proxy(tls=True)


def echo_through_wstunnel(tls):
    with Backend("echo") as b, Server(wstunnel_conf(b.port) + (tls_conf() if tls else ""),
                                      files=FILES) as s, open_conn(s, tls) as conn:
        ws = opened(conn)
        ws.send(1, b"hello")
        eq(ws.recv_message(5), ({2}, b"hello"), "text in, the backend's bytes in binary")
        blob = os.urandom(50000)
        ws.send(2, blob)
        eq(ws.recv_message(len(blob))[1], blob, "binary echoed")
        ws.send(9, b"are you there")
        eq(ws.recv_frame(), (10, b"are you there"), "a ping answered by lux")
        ws.send(8, b"\x03\xe8")
        eq(ws.recv_frame()[0], 8, "the close returned")
        check(ws.ended(), "END_STREAM once the backend ended")
        ws.end()
        eq(conn.get("/page.txt").status, 200, "a later stream")


def test_wstunnel_echo_h2c():
    echo_through_wstunnel(tls=False)


def test_wstunnel_echo_h2_tls():
    echo_through_wstunnel(tls=True)


def test_wstunnel_h2_data_before_the_answer():
    with Backend("echo") as b, Server(wstunnel_conf(b.port), files=FILES) as s, \
            open_conn(s) as conn:
        early = ws_backend.frame(9, b"early ping", mask=os.urandom(4)) + \
            ws_backend.frame(1, b"early text", mask=os.urandom(4))
        ws = H2WebSocket(conn, early=early)
        eq(ws.response().status, 200, "opened")
        eq(ws.recv_frame(), (10, b"early ping"), "the ping sent before the answer")
        eq(ws.recv_message(10)[1], b"early text", "the message sent before the answer")


@lux_only("lighttpd passes a WebSocket over HTTP/2 on whatever accept the backend sends")
def test_proxy_h2_checks_the_backends_accept():
    with Backend("ws") as b, Server(proxy_conf(b.port), files=FILES) as s, \
            open_conn(s) as conn:
        ws = H2WebSocket(conn, path="/ws/bad-accept")
        eq(ws.response().status, 502, "a backend whose accept answers another key")
        eq(conn.get("/page.txt").status, 200, "the connection serves on")


def test_wstunnel_h2_checks_version_and_origin():
    conf = 'wstunnel.origins = ( "example.org" )\n'
    with Backend("echo") as b, Server(wstunnel_conf(b.port, conf), files=FILES) as s, \
            open_conn(s) as conn:
        ws = H2WebSocket(conn)
        eq(ws.response().status, 400, "no Origin where origins are set")


@lux_only("lighttpd answers another version over HTTP/2 with 400; lux 426, as over HTTP/1.1")
def test_wstunnel_h2_version_13_only():
    with Backend("echo") as b, Server(wstunnel_conf(b.port), files=FILES) as s, \
            open_conn(s) as conn:
        ws = H2WebSocket(conn, version="8")
        eq(ws.response().status, 426, "version 13 only, over HTTP/2 too")
        eq(ws.response().header("sec-websocket-version"), "13", "the version lux speaks")


def mib_each_way(tls):
    with Backend("ws") as b, Server(proxy_conf(b.port) + (tls_conf() if tls else ""),
                                    files=FILES) as s, open_conn(s, tls) as conn:
        ws = opened(conn)
        blob = os.urandom(1 << 20)
        ws.send(2, blob)
        eq(harness.sha256(ws.recv_message(len(blob))[1]), harness.sha256(blob),
           "1 MiB there and back")


def test_proxy_mib_each_way_h2c():
    mib_each_way(tls=False)


def test_proxy_mib_each_way_h2_tls():
    mib_each_way(tls=True)


def test_other_streams_served_while_a_tunnel_is_open():
    with Backend("ws") as b, Server(proxy_conf(b.port), files=FILES) as s, \
            open_conn(s) as conn:
        ws = opened(conn)
        ws.send(1, b"first")
        eq(ws.recv_message(5)[1], b"first", "before")
        for _ in range(3):
            eq(conn.get("/page.txt").body, b"a page beside the tunnel\n", "a stream beside")
        second = opened(conn, "/ws/other")
        second.send(1, b"two")
        ws.send(1, b"one")
        eq(second.recv_message(3)[1], b"two", "a second tunnel")
        eq(ws.recv_message(3)[1], b"one", "the first tunnel goes on")


@lux_only("lighttpd resets the stream at the client's END_STREAM; RFC 8441 5 makes it a "
          "half-close, as lux does")
def test_client_end_stream_ends_the_tunnel():
    with Backend("ws") as b, Server(proxy_conf(b.port), files=FILES) as s, \
            open_conn(s) as conn:
        ws = opened(conn)
        ws.send(1, b"last words")
        ws.end()  # the backend reads its end of input and closes: so does the stream
        eq(ws.recv_message(10)[1], b"last words", "sent before the end")
        check(ws.ended(), "END_STREAM after the client's")
        eq(ws.response().reset, None, "ended, not reset")
        harness.wait_no_connections(b.port, TIMEOUT)
        eq(conn.get("/page.txt").status, 200, "the connection serves on")


class FirstToEnd:
    """A WebSocket backend that answers the handshake, says "bye" and half-closes at once, then
    reads the client's bytes to their end: what it read is `heard`."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.lsock.settimeout(TIMEOUT)
        self.port = self.lsock.getsockname()[1]
        self.heard = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            sock, _ = self.lsock.accept()
        except OSError:
            return
        with sock:
            sock.settimeout(TIMEOUT)
            _, fields, rest = ws_backend.read_head(sock)
            sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                         ws_backend.accept_key(fields.get(b"sec-websocket-key", b"")) +
                         b"\r\n\r\nbye")
            sock.shutdown(socket.SHUT_WR)
            got = rest
            while True:
                piece = sock.recv(65536)
                if not piece:
                    break
                got += piece
            self.heard = got

    def close(self):
        self.lsock.close()
        self.thread.join(TIMEOUT)


@lux_only("lighttpd 1.4.69 drops the client's bytes that come after its own END_STREAM")
def test_client_bytes_after_the_servers_end_reach_the_backend():
    b = FirstToEnd()
    try:
        with Server(proxy_conf(b.port), files=FILES) as s, open_conn(s) as conn:
            ws = opened(conn)
            eq(ws.recv(3), b"bye", "the backend's bytes")
            check(ws.ended(), "END_STREAM after the backend's end")
            # the client's last bytes close the stream on both sides: the backend still
            # gets them, and its end of input after them
            ws.send_bytes(b"last words", end=True)
            harness.poll(lambda: b.heard is not None, TIMEOUT, what="the backend's end of input")
            eq(b.heard, b"last words", "what the backend read")
            eq(conn.get("/page.txt").status, 200, "the connection serves on")
    finally:
        b.close()


def test_client_rst_stream_ends_the_tunnel():
    with Backend("ws") as b, Server(proxy_conf(b.port), files=FILES) as s, \
            open_conn(s) as conn:
        ws = opened(conn)
        ws.send(1, b"ping")
        eq(ws.recv_message(4)[1], b"ping", "open")
        check(harness.open_connections(b.port) > 0, "the backend is connected")
        conn.send(h2.rst_stream(ws.sid, h2.CANCEL))
        harness.wait_no_connections(b.port, TIMEOUT)
        eq(conn.get("/page.txt").status, 200, "the connection serves on")


@lux_only("server.max-read-idle as a tunnel stream's idle limit")
def test_idle_tunnel_stream_is_reset():
    with Backend("ws") as b, Server(proxy_conf(b.port, "server.max-read-idle = 2\n"),
                                    files=FILES) as s, open_conn(s) as conn:
        ws = opened(conn)
        start = time.monotonic()
        check(conn.wait(lambda: ws.response().reset is not None, TIMEOUT),
              "the idle tunnel was not reset")
        check(time.monotonic() - start >= 1.5, "reset before the idle limit")
        harness.wait_no_connections(b.port, TIMEOUT)
        eq(conn.get("/page.txt").status, 200, "the connection serves on")


@lux_only("lighttpd answers 405 to a :protocol it does not know; lux 501 (not implemented)")
def test_other_protocol_refused():
    with Backend("ws") as b, Server(proxy_conf(b.port), files=FILES) as s, \
            open_conn(s) as conn:
        ws = H2WebSocket(conn, protocol="webtransport")
        eq(ws.response().status, 501, "a :protocol other than websocket")
        eq(conn.get("/page.txt").status, 200, "the connection serves on")


@lux_only("lighttpd answers 405 where no module tunnels; lux answers the GET the request "
          "stands for, as it answers an HTTP/1.1 Upgrade it does not take")
def test_websocket_request_without_a_tunnel_is_answered_normally():
    with Server(files=FILES) as s, open_conn(s) as conn:
        ws = H2WebSocket(conn, path="/page.txt")
        ws.send_bytes(b"early bytes nobody reads")
        check(ws.ended(), "the answer ends its stream")
        eq(ws.response().status, 200, "a file answers a WebSocket request that no module tunnels")
        eq(conn.get("/page.txt").status, 200, "the connection serves on")
