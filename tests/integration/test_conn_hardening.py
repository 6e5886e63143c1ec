"""The connection core under stress: a stop with responses in flight, the scheme a client
claims, headers a module must not set, interim 100 answers, many slow clients, and conditions
that must wait for the physical path."""

import os
import signal
import socket
import time

import harness
from harness import Conn, Server, check, eq, get, lux_only, poll, port_accepts, raw

BIG = os.urandom(1 << 20) * 16  # 16 MiB: more than the socket buffers can hold


read = harness.read_text


def test_graceful_stop_logs_local_address_of_inflight_response():
    """The listeners close at SIGINT; a response still being sent is logged afterwards with
    the local address and port of the listener it came in on."""
    conf = ('server.modules = ("mod_accesslog")\n'
            'accesslog.filename = "@TMP@/access.log"\n'
            'accesslog.format = "A=%A p=%p s=%s"\n')
    with Server(conf, files={"big.bin": BIG}) as s:
        with harness.connect_small_window(s.port) as sock:
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


@lux_only("lighttpd measures server.max-read-idle from the last byte received")
def test_head_deadline_counts_from_its_first_byte():
    with Server("server.max-read-idle = 2\n", files={"f.txt": "x\n"}) as s:
        with harness.connect(s.port) as sock:
            sock.sendall(b"GET /f.txt HTTP/1.1\r\n")
            start = time.monotonic()
            closed = False
            while time.monotonic() - start < 8:
                time.sleep(0.3)
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                sock.settimeout(0.01)
                try:
                    closed = sock.recv(1024) == b""
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    closed = True
                if closed:
                    break
            check(closed, "a head still trickling in after 8 s was not cut off")
            check(time.monotonic() - start >= 1.5, "cut off before server.max-read-idle")


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise harness.TestFailure("no VmRSS")


SLOW_CLIENTS = 2000


@harness.serial
@lux_only("lighttpd 1.4.69 holds about 5.5 KiB per slow client")
def test_thousands_of_trickling_heads_cost_little_memory():
    """2,000 clients each send a head a byte a second; the server's memory grows by a few
    kilobytes per client, and a normal client is still answered at once."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < SLOW_CLIENTS + 200:
        raise harness.Skip(f"open-files hard limit {hard} is too low")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, SLOW_CLIENTS + 200), hard))
    conf = "server.max-fds = 8192\n"
    socks = []
    with Server(conf, files={"f.txt": "x\n"}) as s:
        try:
            for _ in range(3):
                eq(get(s.port, "/f.txt").status, 200, "warm-up")
            before = vm_rss_kib(s.pid)
            for _ in range(SLOW_CLIENTS):
                socks.append(harness.connect(s.port, timeout=10))
            for sock in socks:
                sock.sendall(b"GET /f.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slowest = 0.0
            for _ in range(4):
                round_start = time.monotonic()
                for sock in socks:
                    sock.sendall(b"a")
                t = time.monotonic()
                eq(get(s.port, "/f.txt").status, 200, "a normal client among slow ones")
                slowest = max(slowest, time.monotonic() - t)
                time.sleep(max(0.0, 1.0 - (time.monotonic() - round_start)))
            grown = vm_rss_kib(s.pid) - before
            check(slowest < 2.0, f"a normal request took {slowest:.2f} s")
            check(s.alive(), "server died")
            if not harness.sanitized():
                check(grown < SLOW_CLIENTS * 3,
                      f"VmRSS grew by {grown} KiB for {SLOW_CLIENTS} slow clients")
        finally:
            for sock in socks:
                sock.close()


@lux_only("lighttpd 1.4.69 refuses bare LF line ends")
def test_head_sent_a_byte_at_a_time_is_parsed_whole():
    """The end of a head is searched for in new bytes only: a line end split across reads, bare
    LF line ends and empty lines before the request all still end the head where they should."""
    heads = [b"GET /f.txt HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n",
             b"GET /f.txt HTTP/1.1\nHost: x\n\n",
             b"\r\nGET /f.txt HTTP/1.1\r\nHost: x\n\r\n"]
    with Server(files={"f.txt": "x\n"}) as s:
        for head in heads:
            with Conn(s.port) as c:
                c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for i in range(len(head)):
                    c.send(head[i:i + 1])
                    time.sleep(0.002)
                r = c.response()
                eq(r.status, 200, f"status for {head!r}")
                eq(r.body, b"x\n", "body")


def test_connection_limit_defaults_to_a_third_of_max_fds():
    with Server("server.max-fds = 60\nserver.max-keep-alive-idle = 30\n",
                files={"f.txt": "x\n"}) as s:
        held = []
        try:
            for _ in range(20):
                c = Conn(s.port)
                held.append(c)
                eq(c.request("/f.txt").status, 200, "within the limit")
            extra = harness.connect(s.port)
            held.append(extra)
            extra.sendall(b"GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            extra.settimeout(1.5)
            try:
                got = extra.recv(100)
            except socket.timeout:
                got = b""
            eq(got, b"", "answer past max-fds / 3 connections")
            held.pop(0).close()
            extra.settimeout(harness.IO_TIMEOUT)
            check(extra.recv(100).startswith(b"HTTP/1.1 200"),
                  "the waiting connection is served once another closes")
        finally:
            for c in held:
                c.close()


@lux_only("$PHYSICAL[\"path\"] is newer than lighttpd 1.4.69")
def test_conditions_under_or_after_a_physical_one_wait_for_it():
    """A block nested in, or chained after, a $PHYSICAL condition is not decided before the
    physical path is known."""
    conf = ('$PHYSICAL["path"] =$ ".txt" {\n'
            '    $HTTP["url"] =^ "/f" { server.tag = "nested" }\n'
            '}\n'
            '$PHYSICAL["path"] =$ ".html" { server.tag = "html" }\n'
            'else $HTTP["url"] =^ "/h" { server.tag = "else" }\n')
    with Server(conf, files={"f.txt": "x\n", "h.html": "h\n", "h.css": "h\n"}) as s:
        eq(get(s.port, "/f.txt").header("Server"), "nested", "nested in a true $PHYSICAL")
        eq(get(s.port, "/h.html").header("Server"), "html", "first of an else chain")
        eq(get(s.port, "/h.css").header("Server"), "else", "else branch")
