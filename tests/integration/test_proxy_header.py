"""mod_proxy's proxy.header (host and URL-path maps, https-remap, force-http10) and
proxy.forwarded, seen from both ends: a backend in this process records each request head as it
arrived and answers what the test scripted; the client sees the rewritten response. Also how a
proxied response is framed: the backend's Content-Length passed through, chunked otherwise."""

import os
import socket
import threading
import time

import harness
from harness import Server, check, contains, eq, lux_only

BIG = 10 * 1024 * 1024


class Backend:
    """A scripted HTTP/1.x backend on loopback. reply(head) returns the response bytes for a
    request head (bytes); every head is kept in heads. A request's body (Content-Length or
    chunked) is read and kept in bodies. The connection stays open while the request allows."""

    def __init__(self, reply):
        self.reply = reply
        self.heads, self.bodies = [], []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stopping = True
        for t in list(self.threads):
            t.join(10)
        self.sock.close()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, c):
        c.settimeout(20)
        buf = b""
        try:
            while not self.stopping:
                while b"\r\n\r\n" not in buf:
                    data = c.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                body, buf = self._body(c, head, buf)
                with self.lock:
                    self.heads.append(head.decode("latin-1"))
                    self.bodies.append(body)
                c.sendall(self.reply(head.decode("latin-1")))
                low = head.lower()
                if b"connection: close" in low or head.split(b"\r\n")[0].endswith(b"1.0"):
                    return
        except OSError:
            return
        finally:
            c.close()

    @staticmethod
    def _read(c, buf, n):
        while len(buf) < n:
            data = c.recv(65536)
            if not data:
                raise OSError("eof in a request body")
            buf += data
        return buf

    def _body(self, c, head, buf):
        fields = head_fields(head.decode("latin-1"))
        if "chunked" in fields.get("transfer-encoding", "").lower():
            body = b""
            while True:
                while b"\r\n" not in buf:
                    buf = self._read(c, buf, len(buf) + 1)
                line, _, buf = buf.partition(b"\r\n")
                size = int(line.split(b";")[0], 16)
                buf = self._read(c, buf, size + 2)
                body, buf = body + buf[:size], buf[size + 2:]
                if not size:
                    return body, buf
        n = int(fields.get("content-length", "0"))
        buf = self._read(c, buf, n)
        return buf[:n], buf[n:]

    def last(self):
        with self.lock:
            check(self.heads, "the backend got no request")
            return self.heads[-1]


def head_fields(head):
    """The fields of a head, names lower-cased; repeated fields joined with ", "."""
    fields = {}
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        k, v = k.strip().lower(), v.strip()
        fields[k] = fields[k] + ", " + v if k in fields else v
    return fields


def response(status=200, fields=(), body=b"hello\n", length=True):
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in fields]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def conf(port, extra=""):
    return ('server.modules = ("mod_proxy")\nserver.max-worker = 1\n'
            f'proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {port} ) ) )\n' + extra)


def get(s, path, method="GET", headers=None, host="client.example", body=b"", version="HTTP/1.1",
        timeout=20):
    req = harness.build_request(path, headers, method, version, host, body, close=True)
    data = harness.raw(s.port, req, timeout * harness.sanitizer_slowdown())
    resps = harness.parse_responses(data, [method])
    check(resps, f"no response to {path}: {data[:300]!r}\n{s.errorlog[-2000:]}")
    return resps[-1]


def redirect_reply(head):
    """A redirect naming the backend's host and paths in every field lighttpd maps back."""
    return response(302, [("Location", "http://backend.example/other/x?y=1"),
                          ("Content-Location", "/other/y"),
                          ("Set-Cookie", "a=b; Domain=backend.example; Path=/other/z"),
                          ("Set-Cookie", "c=d; path=/unmapped/; domain=.elsewhere.example")])


MAPS = ('proxy.header = ( "map-host-request" => ( "a.example" => "b.example", '
        '"keep.example" => "", "-" => "backend.example" ), '
        '"map-host-response" => ( "-" => "-" ), '
        '"map-urlpath" => ( "/prefix/" => "/other/", "/p2/" => "/o2/" ) )\n')


def test_map_host_request():
    """The first entry that matches the Host wins; "-" is the client's Host; an empty value
    leaves the Host as it came."""
    with Backend(lambda h: response()) as b, Server(conf(b.port, MAPS)) as s:
        for sent, want in (("a.example", "b.example"), ("keep.example", "keep.example"),
                           ("client.example:81", "backend.example")):
            eq(get(s, "/x", host=sent).status, 200)
            eq(head_fields(b.last()).get("host"), want, f"Host for {sent}")
            eq(head_fields(b.last()).get("x-forwarded-host"), sent, "X-Forwarded-Host")


def test_map_urlpath_request_and_back():
    """The path prefix goes to the backend mapped, and back in Location, Content-Location and
    Set-Cookie path=; Destination on the way in too."""
    with Backend(redirect_reply) as b, Server(conf(b.port, MAPS)) as s:
        r = get(s, "/prefix/a?q=/prefix/", headers={
            "Destination": "http://client.example/p2/d", "Content-Location": "/prefix/c"})
        head = b.last()
        eq(head.split("\r\n")[0], "GET /other/a?q=/prefix/ HTTP/1.1")
        fields = head_fields(head)
        eq(fields.get("destination"), "http://backend.example/o2/d")
        eq(fields.get("content-location"), "/other/c")
        eq(r.status, 302)
        eq(r.header("Location"), "http://client.example/prefix/x?y=1")
        eq(r.header("Content-Location"), "/prefix/y")
        eq(r.header_all("Set-Cookie"), ["a=b; Domain=client.example; Path=/prefix/z",
                                        "c=d; path=/unmapped/; domain=.elsewhere.example"])
        get(s, "/unmapped/a")
        eq(b.last().split("\r\n")[0], "GET /unmapped/a HTTP/1.1")


def test_map_host_response_named():
    """map-host-response by name: a backend's host becomes the one the config says."""
    extra = ('proxy.header = ( "map-host-response" => ( "backend.example" => "www.example" ),'
             ' "map-urlpath" => ( "/prefix/" => "/other/" ) )\n')
    with Backend(redirect_reply) as b, Server(conf(b.port, extra)) as s:
        r = get(s, "/prefix/a")
        eq(head_fields(b.last()).get("host"), "client.example")
        eq(r.header("Location"), "http://www.example/prefix/x?y=1")
        eq(r.header_all("Set-Cookie")[0], "a=b; Domain=www.example; Path=/prefix/z")


def test_no_maps_leave_fields_alone():
    with Backend(redirect_reply) as b, Server(conf(b.port)) as s:
        r = get(s, "/prefix/a")
        eq(b.last().split("\r\n")[0], "GET /prefix/a HTTP/1.1")
        eq(r.header("Location"), "http://backend.example/other/x?y=1")
        eq(r.header_all("Set-Cookie")[0], "a=b; Domain=backend.example; Path=/other/z")


def tls_get(port, path):
    import test_tls
    with test_tls.tls_connect(port, timeout=20) as c:
        c.sendall(f"GET {path} HTTP/1.1\r\nHost: client.example\r\n\r\n".encode())
        return test_tls.tls_request_response(c)


def test_https_remap_over_tls():
    """A client on TLS gets https:// where the backend (spoken to in plain HTTP) said http://,
    for a mapped host; a plain client keeps http://."""
    import test_tls
    test_tls.need_tls()
    extra = MAPS.replace(')\n', ', "https-remap" => "enable" )\n')
    extra += ('server.modules += ("mod_openssl")\n$SERVER["socket"] == "127.0.0.1:@PORT2@" {\n'
              + test_tls.tls_conf() + '}\n')
    with Backend(redirect_reply) as b, Server(conf(b.port, extra)) as s:
        r = tls_get(s.port2, "/prefix/a")
        eq(r.header("Location"), "https://client.example/prefix/x?y=1")
        eq(head_fields(b.last()).get("x-forwarded-proto"), "https")
        eq(get(s, "/prefix/a").header("Location"), "http://client.example/prefix/x?y=1")


def test_force_http10():
    """HTTP/1.0 to the backend, Connection: close, a connection per request; a body goes with
    its length."""
    extra = 'proxy.header = ( "force-http10" => "enable" )\n'
    with Backend(lambda h: response()) as b, Server(conf(b.port, extra)) as s:
        eq(get(s, "/a").body, b"hello\n")
        eq(b.last().split("\r\n")[0], "GET /a HTTP/1.0")
        eq(head_fields(b.last()).get("connection"), "close")
        r = get(s, "/b", method="POST", headers={"Transfer-Encoding": "chunked"},
                body=b"5\r\nhello\r\n0\r\n\r\n")
        eq(r.status, 200)
        eq(b.last().split("\r\n")[0], "POST /b HTTP/1.0")
        eq(head_fields(b.last()).get("content-length"), "5")
        check("transfer-encoding" not in head_fields(b.last()), "a chunked body went to 1.0")
        eq(b.bodies[-1], b"hello")
        eq(len(b.threads) - 1, 2, "connections the backend accepted")


def test_force_http10_refuses_streamed_body_of_unknown_length():
    extra = ('proxy.header = ( "force-http10" => "enable" )\n'
             'server.stream-request-body = 1\n')
    with Backend(lambda h: response()) as b, Server(conf(b.port, extra)) as s:
        c = harness.connect(s.port, timeout=20)
        try:
            c.sendall(b"POST /b HTTP/1.1\r\nHost: client.example\r\nConnection: close\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            time.sleep(0.5)  # the body comes after the handler started
            c.sendall(b"5\r\nhello\r\n0\r\n\r\n")
            data, _ = harness.read_all(c, 20)
        finally:
            c.close()
        eq(harness.parse_responses(data, ["POST"])[0].status, 411)
        eq(b.heads, [], "requests the backend got")


FORWARDED_ALL = ('proxy.forwarded = ( "for" => 1, "proto" => 1, "host" => 1, "by" => 1, '
                 '"remote_user" => 1 )\n')


def test_forwarded_created():
    with Backend(lambda h: response()) as b, Server(conf(b.port, FORWARDED_ALL)) as s:
        get(s, "/a", host="client.example:81")
        fields = head_fields(b.last())
        eq(fields.get("forwarded"),
           f'for=127.0.0.1;by="127.0.0.1:{s.port}";proto=http;host="client.example:81"')
        eq(fields.get("x-forwarded-for"), "127.0.0.1")
        eq(fields.get("x-forwarded-proto"), "http")
        eq(fields.get("x-forwarded-host"), "client.example:81")


def test_forwarded_appended_to_incoming():
    extra = 'proxy.forwarded = ( "for" => 1, "proto" => "enable", "host" => "disable" )\n'
    with Backend(lambda h: response()) as b, Server(conf(b.port, extra)) as s:
        get(s, "/a", headers={"Forwarded": 'for=192.0.2.1;proto=https',
                              "X-Forwarded-For": "192.0.2.1"})
        fields = head_fields(b.last())
        eq(fields.get("forwarded"), "for=192.0.2.1;proto=https, for=127.0.0.1;proto=http")
        eq(fields.get("x-forwarded-for"), "192.0.2.1, 127.0.0.1")


def test_forwarded_seeded_from_x_forwarded_for():
    """No Forwarded came: the X-Forwarded-For addresses start it, quoted, IPv6 in brackets."""
    extra = 'proxy.forwarded = ( "for" => 1 )\n'
    with Backend(lambda h: response()) as b, Server(conf(b.port, extra)) as s:
        get(s, "/a", headers={"X-Forwarded-For": "192.0.2.1, 2001:db8::1"})
        eq(head_fields(b.last()).get("forwarded"),
           'for="192.0.2.1", for="[2001:db8::1]", for=127.0.0.1')


def test_forwarded_over_ipv6():
    extra = FORWARDED_ALL + '$SERVER["socket"] == "[::1]:@PORT2@" { }\n'
    with Backend(lambda h: response()) as b, Server(conf(b.port, extra)) as s:
        c = socket.create_connection(("::1", s.port2), timeout=20)
        try:
            c.sendall(b"GET /a HTTP/1.0\r\n\r\n")
            harness.read_all(c, 20)
        finally:
            c.close()
        eq(head_fields(b.last()).get("forwarded"), f'for="[::1]";by="[::1]:{s.port2}";proto=http')


def test_without_forwarded_setting_the_field_passes_untouched():
    with Backend(lambda h: response()) as b, Server(conf(b.port)) as s:
        get(s, "/a", headers={"Forwarded": "for=192.0.2.1"})
        eq(head_fields(b.last()).get("forwarded"), "for=192.0.2.1")


def framing_reply(head):
    path = head.split(" ")[1]
    if path == "/chunked":
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n")
    if path == "/304":
        return b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 9\r\n\r\n'
    return response(200, [("X-A", "1")], b"x" * 100)


def test_content_length_passed_through():
    with Backend(framing_reply) as b, Server(conf(b.port)) as s:
        r = get(s, "/len")
        eq(r.header("Content-Length"), "100")
        eq(r.header("Transfer-Encoding"), None)
        eq(r.body, b"x" * 100)
        r = get(s, "/len", method="HEAD")
        eq((r.status, r.header("Content-Length"), r.header("Transfer-Encoding")),
           (200, "100", None))
        r = get(s, "/304")
        eq((r.status, r.header("Content-Length"), r.header("ETag")), (304, None, '"x"'))
        eq(get(s, "/len", version="HTTP/1.0").header("Content-Length"), "100")


@lux_only("lighttpd collects a small body before answering and sends its length")
def test_chunked_backend_body_goes_chunked():
    with Backend(framing_reply) as b, Server(conf(b.port)) as s:
        r = get(s, "/chunked")
        eq(r.body, b"abcdef")
        eq((r.header("Transfer-Encoding"), r.header("Content-Length")), ("chunked", None))


@lux_only("lighttpd closes after each proxied response; the check is that a HEAD answer with a "
          "length keeps the connection")
def test_head_with_length_keeps_the_connection():
    with Backend(framing_reply) as b, Server(conf(b.port)) as s, harness.Conn(s.port) as c:
        for method in ("HEAD", "GET"):
            r = c.request("/len", method=method, host="client.example")
            eq((r.status, r.header("Content-Length")), (200, "100"))
            eq(r.header("Connection"), None)


class TwoPartBackend(Backend):
    """Answers one request with a body of BIG bytes: the head (with its length) and the first
    MiB at once, the rest only once the test says the client saw them."""

    def __init__(self):
        self.body = os.urandom(BIG)
        self.rest = threading.Event()
        super().__init__(None)

    def _serve(self, c):
        c.settimeout(30)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                data = c.recv(65536)
                if not data:
                    return
                buf += data
            with self.lock:
                self.heads.append(buf.decode("latin-1"))
            c.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {BIG}\r\n\r\n".encode())
            c.sendall(self.body[:1 << 20])
            if self.rest.wait(30):
                c.sendall(self.body[1 << 20:])
        except OSError:
            return
        finally:
            c.close()


def test_10mib_streamed_with_its_length():
    """The head and the first MiB reach the client before the backend sends the rest: the
    length goes out at once, and the body is not held back until it is whole."""
    # lighttpd collects a response before sending it unless told to stream it
    extra = "server.stream-response-body = 1\n"
    with TwoPartBackend() as b, Server(conf(b.port, extra)) as s:
        c = harness.connect(s.port, timeout=30)
        try:
            c.sendall(harness.build_request("/big", None, "GET", "HTTP/1.1", "client.example",
                                            close=True))
            got = b""
            while b"\r\n\r\n" not in got or len(got) < (1 << 20):
                data = c.recv(65536)
                check(data, f"the connection closed early: {got[:300]!r}")
                got += data
            head = got.split(b"\r\n\r\n")[0].decode("latin-1")
            contains(head, f"Content-Length: {BIG}", "the response head")
            check("chunked" not in head.lower(), f"the body went chunked: {head}")
            b.rest.set()
            more, closed = harness.read_all(c, 60)
            check(closed, "the response did not end")
        finally:
            b.rest.set()
            c.close()
        r = harness.parse_responses(got + more)[0]
        check(r.body == b.body, f"the body changed: {len(r.body)} bytes")


def test_malformed_settings_refused_at_start():
    cases = (('proxy.header = ( "map-host-rquest" => ( "a" => "b" ) )', "map-host-rquest"),
             ('proxy.header = ( "map-urlpath" => "/a/" )', "map-urlpath"),
             ('proxy.header = ( "map-urlpath" => ( "/a/" => 1 ) )', "map-urlpath"),
             ('proxy.header = ( "https-remap" => "maybe" )', "https-remap"),
             ('proxy.header = "enable"', "proxy.header"),
             ('proxy.forwarded = ( "from" => 1 )', "from"),
             ('proxy.forwarded = ( "for" => "yes please" )', "for"))
    for line, word in cases:
        with harness.TempDir() as t:
            path = os.path.join(t.path, "lux.conf")
            harness.write_file(path, conf(9) + "\n" + line + "\n")
            r = harness.run_bin(["-tt", "-f", path])
            out = r.stdout + r.stderr
            check(r.returncode != 0, f"{line} was accepted")
            if not harness.is_lighttpd():  # lighttpd's messages name neither file nor line
                contains(out, "lux.conf:5:", "the error names where")
                contains(out, word, "the error names the key")


def test_settings_accepted():
    """Every key in its lighttpd form, upgrade and connect included."""
    extra = (MAPS.replace(')\n', ', "https-remap" => "enable", "force-http10" => "disable", '
                          '"upgrade" => "enable", "connect" => "disable" )\n') + FORWARDED_ALL +
             '$HTTP["url"] =^ "/x" { proxy.header = ( "force-http10" => "enable" ) }\n')
    with Backend(lambda h: response()) as b, Server(conf(b.port, extra)) as s:
        eq(get(s, "/a").status, 200)
        eq(b.last().split("\r\n")[0], "GET /a HTTP/1.1")
        eq(get(s, "/x").status, 200)
        eq(b.last().split("\r\n")[0], "GET /x HTTP/1.0")


def test_content_length_passed_through_over_h2():
    with Backend(framing_reply) as b, Server(conf(b.port)) as s:
        for flag in ("-i", "-I"):
            out = harness.curl(["--http2-prior-knowledge", flag, s.url("/len")]).stdout
            head = out.split(b"\r\n\r\n")[0].decode("latin-1").lower()
            contains(head, "http/2 200", f"curl {flag}")
            contains(head, "content-length: 100", f"curl {flag}")
