"""The connection core under stress: a stop with responses in flight, the scheme a client
claims, headers a module must not set, interim 100 answers, and many slow clients."""

import os
import signal
import socket
import time

import harness
from harness import Conn, Server, check, contains, eq, get, lux_only, poll, port_accepts, raw

BIG = os.urandom(1 << 20) * 16  # 16 MiB: more than the socket buffers can hold


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("latin-1")
    except FileNotFoundError:
        return ""


def test_graceful_stop_logs_local_address_of_inflight_response():
    """The listeners close at SIGINT; a response still being sent is logged afterwards with
    the local address and port of the listener it came in on."""
    conf = ('server.modules = ("mod_accesslog")\n'
            'accesslog.filename = "@TMP@/access.log"\n'
            'accesslog.format = "A=%A p=%p s=%s"\n')
    with Server(conf, files={"big.bin": BIG}) as s:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.settimeout(harness.IO_TIMEOUT)
        with sock:
            sock.connect(("127.0.0.1", s.port))
            sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got = [sock.recv(16384)]
            check(got[0].startswith(b"HTTP/1.1 200"), f"bad start {got[0][:100]!r}")
            s.signal(signal.SIGINT)
            poll(lambda: not port_accepts(s.port), what="the listener to close")
            # Let the main thread settle after closing the listeners before the log line.
            time.sleep(0.3)
            while True:
                b = sock.recv(1 << 16)
                if not b:
                    break
                got.append(b)
        eq(len(harness.parse_one(b"".join(got)).body), len(BIG), "body length")
        eq(s.wait_exit(10), 0, "exit status after the drain")
        eq(read(os.path.join(s.tmp, "access.log")).strip(), f"A=127.0.0.1 p={s.port} s=200",
           "access log line")


REDIRECT_HTTP = ('server.modules = ("mod_redirect")\n'
                 '$HTTP["scheme"] == "http" {\n'
                 '    url.redirect = ("^/(.*)" => "https://secure.example/$1")\n'
                 '}\n')


def test_scheme_comes_from_the_listener_not_the_request():
    with Server(REDIRECT_HTTP, files={"f.txt": "x\n"}) as s:
        r = get(s.port, "/f.txt")
        eq(r.status, 301, "origin-form on a plain port")
        r = get(s.port, "https://example.com/f.txt", host="example.com")
        eq(r.status, 301, "absolute https:// target on a plain port")
        eq(r.header("Location"), "https://secure.example/f.txt", "Location")


def test_expect_continue_with_whole_body_gets_final_status_only():
    with Server(files={"f.txt": "x\n"}) as s:
        data = raw(s.port, b"POST /f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                           b"Expect: 100-continue\r\nConnection: close\r\n\r\nhello")
        check(data.startswith(b"HTTP/1.1 "), f"no response: {data[:100]!r}")
        check(not data.startswith(b"HTTP/1.1 100"), f"interim 100 sent: {data[:200]!r}")


@lux_only("lighttpd answers a static file at once, without asking for the body")
def test_expect_continue_with_body_to_come_gets_100_first():
    with Server(files={"f.txt": "x\n"}) as s:
        with Conn(s.port) as c:
            c.send(b"POST /f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   b"Expect: 100-continue\r\n\r\nhe")
            eq(c.response("POST", interim=True).status, 100, "interim status")
            c.send(b"llo")
            r = c.response("POST")
            check(r.status >= 200, f"final status {r.status}")


SETENV = 'server.modules = ("mod_setenv")\n'


@lux_only("lighttpd sends a module's framing headers next to its own")
def test_module_framing_headers_do_not_break_keep_alive():
    conf = SETENV + ('setenv.add-response-header = ("Content-Length" => "1", '
                     '"Transfer-Encoding" => "chunked", "Connection" => "close", '
                     '"X-After" => "yes")\n')
    with Server(conf, files={"f.txt": "hello\n", "g.txt": "world\n"}) as s:
        with Conn(s.port) as c:
            r = c.request("/f.txt")
            eq(r.status, 200, "status")
            eq(r.header_all("Content-Length"), ["6"], "Content-Length")
            eq(r.header_all("Transfer-Encoding"), [], "Transfer-Encoding")
            eq(r.body, b"hello\n", "body")
            r = c.request("/g.txt")
            eq(r.body, b"world\n", "second response on the connection")
