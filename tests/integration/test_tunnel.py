"""Tunnels: WebSockets through mod_proxy (proxy.header "upgrade") and mod_cgi (cgi.upgrade),
CONNECT (proxy.header "connect-method"), and mod_sockproxy; over plain and TLS connections;
both directions at once with bounded memory, half-closes passed on, the access-log line written
when a tunnel ends."""

import base64
import os
import shutil
import socket
import ssl
import sys
import time

import harness
from harness import Server, check, contains, eq, lux_only

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ws_backend  # noqa: E402  (the frame codec the backend uses)

PYTHON = shutil.which("python3") or sys.executable
APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ws_backend.py")
CERT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "certs")
TIMEOUT = 30


class Backend(harness.ReadyApp):
    """ws_backend.py in the given mode on a free port."""

    def __init__(self, mode="ws"):
        self.port = harness.free_port()
        super().__init__([PYTHON, APP, mode, str(self.port)])


def proxy_conf(port, header='"upgrade" => "enable"', extra=""):
    return ('server.modules = ("mod_proxy", "mod_accesslog")\nserver.max-worker = 1\n'
            'accesslog.filename = "@TMP@/access.log"\n'
            'accesslog.format = "%r %>s %I %O"\n'
            f'proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {port} ) ) )\n'
            + (f"proxy.header = ( {header} )\n" if header else "") + extra)


def connect(s, tls=False):
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    return sock


def read_head(sock):
    """The response head as (status, {lower name: value}) and the bytes that followed it."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        piece = sock.recv(4096)
        check(piece, f"the connection closed before a response head: {buf!r}")
        buf += piece
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        fields[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), fields, rest


class BufferedSock:
    """A socket with the bytes already read past a head put back in front."""

    def __init__(self, sock, rest=b""):
        self.sock, self.rest = sock, rest

    def recv(self, n):
        if self.rest:
            out, self.rest = self.rest[:n], self.rest[n:]
            return out
        return self.sock.recv(n)

    def sendall(self, data):
        self.sock.sendall(data)


def ws_handshake(sock, path="/chat", version="HTTP/1.1"):
    key = base64.b64encode(os.urandom(16))
    sock.sendall(f"GET {path} {version}\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                 "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: ".encode() + key + b"\r\n\r\n")
    status, fields, rest = read_head(sock)
    return status, fields, key, BufferedSock(sock, rest)


def ws_open(sock, path="/chat"):
    status, fields, key, bs = ws_handshake(sock, path)
    eq(status, 101, "handshake status")
    eq(fields.get("upgrade", "").lower(), "websocket", "Upgrade of the 101")
    eq(fields.get("sec-websocket-accept", "").encode(), ws_backend.accept_key(key), "accept key")
    check("upgrade" in fields.get("connection", "").lower(), f"Connection of the 101: {fields}")
    check("content-length" not in fields and "transfer-encoding" not in fields,
          f"a 101 has no body framing: {fields}")
    return bs


def ws_send(sock, opcode, data):
    sock.sendall(ws_backend.frame(opcode, data, mask=os.urandom(4)))


def ws_close(sock, bs):
    ws_send(sock, 8, b"\x03\xe8")
    fin, op, data = ws_backend.read_frame(bs)
    eq(op, 8, "the close is answered")
    bs.sock.settimeout(TIMEOUT)
    eq(bs.recv(1), b"", "the connection ends after the close")


def access_log(s):
    with open(os.path.join(s.tmp, "access.log")) as f:
        return f.read()


def wait_log(s, needle):
    def have():
        try:
            return needle in access_log(s)
        except FileNotFoundError:
            return False
    harness.poll(have, timeout=10 * harness.sanitizer_slowdown(), what=f"access log {needle!r}")
    return access_log(s)


def echo_round(sock, bs):
    ws_send(sock, 1, "héllo wörld".encode())
    eq(ws_backend.read_frame(bs)[1:], (1, "héllo wörld".encode()), "text echo")
    blob = os.urandom(70000)
    ws_send(sock, 2, blob)
    eq(ws_backend.read_frame(bs)[1:], (2, blob), "binary echo")


def test_websocket_echo_through_proxy():
    with Backend() as b, Server(proxy_conf(b.port)) as s:
        sock = connect(s)
        bs = ws_open(sock)
        echo_round(sock, bs)
        ws_close(sock, bs)
        sock.close()
        log = wait_log(s, "GET /chat HTTP/1.1 101")
        line = [l for l in log.splitlines() if " 101 " in l][0]
        bytes_in, bytes_out = (int(x) for x in line.split()[-2:])
        check(bytes_in > 70000 and bytes_out > 70000, f"bytes both ways in the log: {line!r}")


def test_websocket_over_tls():
    from test_tls import need_tls, tls_conf
    need_tls()
    with Backend() as b, Server(proxy_conf(b.port) + tls_conf()) as s:
        sock = connect(s, tls=True)
        bs = ws_open(sock)
        echo_round(sock, bs)
        ws_close(sock, bs)
        sock.close()
        wait_log(s, "GET /chat HTTP/1.1 101")


def test_backend_closing_ends_the_tunnel():
    with Backend() as b, Server(proxy_conf(b.port)) as s:
        sock = connect(s)
        bs = ws_open(sock)
        ws_send(sock, 1, b"bye")
        eq(ws_backend.read_frame(bs)[1], 8, "the backend's close")
        eq(bs.recv(1), b"", "lux passes the backend's end on")
        sock.close()
        wait_log(s, "GET /chat HTTP/1.1 101")


def test_client_leaving_ends_the_tunnel():
    with Backend() as b, Server(proxy_conf(b.port)) as s:
        sock = connect(s)
        bs = ws_open(sock)
        ws_send(sock, 1, b"one")
        eq(ws_backend.read_frame(bs)[1:], (1, b"one"), "echo")
        sock.close()
        wait_log(s, "GET /chat HTTP/1.1 101")
        harness.wait_no_connections(s.port, timeout=10)


def test_upgrade_not_forwarded_without_the_option():
    with Backend() as b, Server(proxy_conf(b.port, header=None)) as s:
        sock = connect(s)
        status, fields, key, bs = ws_handshake(sock, "/plain")
        eq(status, 200, "no upgrade: an ordinary answer")
        body = bs.recv(4096)
        sock.close()
        contains(body.decode(), "upgrade=-", "the Upgrade field stays hop-by-hop")
        check("upgrade" not in body.decode().split("connection=")[1].lower(),
              f"Connection names no upgrade: {body!r}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_large_messages_both_ways_with_a_slow_reader():
    """8 MiB each way at once; the client stops reading for a while, and lux stops reading the
    backend instead of buffering its output."""
    size = 8 << 20
    with Backend() as b, Server(proxy_conf(b.port)) as s:
        sock = connect(s)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        bs = ws_open(sock)
        blob = os.urandom(size)
        before = rss_kib(s.pid)
        ws_send(sock, 2, blob)  # the backend echoes it while the client reads nothing
        time.sleep(1.5 * harness.sanitizer_slowdown())
        grown = rss_kib(s.pid) - before
        fin, op, data = ws_backend.read_frame(bs)
        eq((op, len(data)), (2, size), "the echo of 8 MiB")
        check(data == blob, "the echo is the message")
        ws_close(sock, bs)
        sock.close()
        if not harness.sanitized():
            check(grown < 4096, f"lux grew by {grown} KiB while its client did not read")


def read_to_end(sock):
    data = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            return data
        data += piece


@lux_only("lighttpd 1.4.69 answers an authority-form CONNECT target 400")
def test_connect_tunnels_to_the_backend_with_half_closes():
    """The client's end reaches the backend as a half-close (it answers with its byte count and
    its own end), and the backend's end reaches the client."""
    with Backend("echo") as b, Server(proxy_conf(b.port, '"connect" => "enable"')) as s:
        sock = connect(s)
        sock.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        status, fields, rest = read_head(sock)
        eq(status, 200, "CONNECT answered")
        check("content-length" not in fields and "transfer-encoding" not in fields,
              f"a 2xx to CONNECT has no body framing: {fields}")
        payload = os.urandom(300000)
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = rest + read_to_end(sock)
        sock.close()
        eq(data, payload + b"bytes=%d\n" % len(payload), "the echo, then the backend's count")
        log = wait_log(s, "CONNECT example.com:443 HTTP/1.1 200")
        line = [l for l in log.splitlines() if l.startswith("CONNECT")][0]
        check(int(line.split()[-2]) > len(payload), f"bytes in: {line!r}")


@lux_only("lighttpd 1.4.69 answers an authority-form CONNECT target 400")
def test_connect_without_the_option_is_refused():
    with Backend("echo") as b, Server(proxy_conf(b.port, header=None)) as s:
        data = harness.raw(s.port, b"CONNECT example.com:443 HTTP/1.1\r\n"
                           b"Host: example.com:443\r\n\r\n", timeout=TIMEOUT)
        check(not data.startswith(b"HTTP/1.1 200"), f"tunnelled without the option: {data!r}")


CGI_SCRIPT = """
import os, sys
sys.path.insert(0, {testdir!r})
import ws_backend


class Pipes:
    def recv(self, n):
        return os.read(0, n)

    def sendall(self, data):
        while data:
            data = data[os.write(1, data):]


key = os.environ["HTTP_SEC_WEBSOCKET_KEY"].encode()
Pipes().sendall(b"Status: 101\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
                b"Sec-WebSocket-Accept: " + ws_backend.accept_key(key) + b"\\r\\n\\r\\n")
try:
    ws_backend.echo_frames(Pipes())
except EOFError:
    pass
"""


def cgi_conf(upgrade=True):
    return ('server.modules = ("mod_cgi", "mod_accesslog")\nserver.max-worker = 1\n'
            'accesslog.filename = "@TMP@/access.log"\naccesslog.format = "%r %>s %I %O"\n'
            f'cgi.assign = ( ".py" => "{PYTHON}" )\n'
            + ('cgi.upgrade = "enable"\n' if upgrade else ""))


def cgi_files():
    return {"ws.py": CGI_SCRIPT.format(testdir=os.path.dirname(os.path.abspath(__file__)))}


def test_cgi_upgrade_talks_over_stdin_and_stdout():
    with Server(cgi_conf(), files=cgi_files()) as s:
        sock = connect(s)
        bs = ws_open(sock, "/ws.py")
        echo_round(sock, bs)
        ws_send(sock, 1, b"bye")
        eq(ws_backend.read_frame(bs)[1], 8, "the script's close")
        eq(bs.recv(1), b"", "the script's end ends the tunnel")
        sock.close()
        wait_log(s, "GET /ws.py HTTP/1.1 101")


@lux_only("lighttpd 1.4.69 does not pass a client's half-close on to the script's stdin")
def test_cgi_client_half_close_ends_stdin():
    with Server(cgi_conf(), files=cgi_files()) as s:
        sock = connect(s)
        bs = ws_open(sock, "/ws.py")
        ws_send(sock, 1, b"last")
        sock.shutdown(socket.SHUT_WR)
        eq(ws_backend.read_frame(bs)[1:], (1, b"last"), "echo before the end")
        eq(bs.recv(1), b"", "the script saw its stdin end and finished")
        sock.close()
        wait_log(s, "GET /ws.py HTTP/1.1 101")


def sockproxy_conf(port):
    return ('server.modules = ("mod_sockproxy")\nserver.max-worker = 1\n'
            '$SERVER["socket"] == "127.0.0.1:@PORT2@" {\n'
            f'    sockproxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {port} ) ) )\n'
            '}\n')


def read_exactly(sock, n):
    data = b""
    while len(data) < n:
        piece = sock.recv(min(n - len(data), 1 << 20))
        check(piece, f"the connection ended after {len(data)} of {n} bytes")
        data += piece
    return data


def test_sockproxy_relays_raw_bytes_both_ways():
    with Backend("echo") as b, Server(sockproxy_conf(b.port),
                                      files={"index.html": "http here\n"}) as s:
        sock = socket.create_connection(("127.0.0.1", s.port2), timeout=TIMEOUT)
        payload = b"GET / HTTP/1.1\r\n\r\n" + os.urandom(2 << 20)  # not parsed as HTTP
        sock.sendall(payload)
        eq(read_exactly(sock, len(payload)), payload, "the echo")
        sock.close()
        r = harness.raw(s.port, b"GET /index.html HTTP/1.0\r\n\r\n", timeout=TIMEOUT)
        contains(r.decode(), "http here", "the other listener still speaks HTTP")


@lux_only("lighttpd 1.4.69 closes a relayed connection at the client's half-close")
def test_sockproxy_passes_half_closes_on():
    with Backend("echo") as b, Server(sockproxy_conf(b.port)) as s:
        sock = socket.create_connection(("127.0.0.1", s.port2), timeout=TIMEOUT)
        payload = os.urandom(1 << 20)
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = read_to_end(sock)
        sock.close()
        eq(data, payload + b"bytes=%d\n" % len(payload), "the echo, then the backend's count")


def test_sockproxy_without_a_backend_closes():
    with Server(sockproxy_conf(harness.free_port())) as s:
        data = harness.raw(s.port2, b"hello", timeout=TIMEOUT)
        eq(data, b"", "nothing is said to a relayed client")


@lux_only("lighttpd 1.4.69 answers an authority-form CONNECT target 400")
def test_idle_tunnel_closes_after_the_read_timeout():
    with Backend("echo") as b, Server(proxy_conf(b.port, '"connect" => "enable"',
                                                 "server.max-read-idle = 2\n")) as s:
        sock = connect(s)
        sock.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        status, fields, rest = read_head(sock)
        eq(status, 200, "CONNECT answered")
        sock.sendall(b"ping")
        eq(rest + read_exactly(sock, 4 - len(rest)), b"ping", "the tunnel works")
        start = time.monotonic()
        eq(read_to_end(sock), b"", "the idle tunnel is closed")
        waited = time.monotonic() - start
        sock.close()
        check(waited > 1.5, f"closed after {waited:.1f} s, before server.max-read-idle")
        wait_log(s, "CONNECT example.com:443 HTTP/1.1 200")


def test_upgrade_enabled_in_a_conditional_block():
    conf = proxy_conf(0, header=None).replace('"port" => 0', '"port" => @BACKEND@')
    conf += '$HTTP["url"] =^ "/chat" {\n    proxy.header = ( "upgrade" => "enable" )\n}\n'
    with Backend() as b, Server(conf.replace("@BACKEND@", str(b.port))) as s:
        sock = connect(s)
        bs = ws_open(sock, "/chat/room")
        echo_round(sock, bs)
        ws_close(sock, bs)
        sock.close()
        sock = connect(s)
        status, fields, key, bs = ws_handshake(sock, "/other")
        eq(status, 200, "outside the block: no upgrade")
        sock.close()
