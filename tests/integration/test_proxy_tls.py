"""mod_proxy over TLS to its backends (lux's "tls" options): a Python ssl backend with the test
CA's certificate; verification with the right CA, the failures it catches (502 and an error-log
line naming the backend and why), SNI, keep-alive and session resumption, client certificates,
and the options checked at start-up."""

import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness
from harness import Server, check, contains, eq, lux_only
from test_mod_proxy import get
from test_tls import certs


class TlsBackend:
    """An HTTPS/1.1 backend in this process with certificate "a" (for localhost and 127.0.0.1).
    It records the SNI of each handshake, its connections, those that resumed a session and
    the client certificate's subject and the paths asked for; /close answers and closes the connection."""

    def __init__(self, client_ca=None):
        c = certs()
        self.snis, self.conns, self.resumed, self.peers, self.paths = [], 0, 0, [], []
        self.lock = threading.Lock()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(c["a.crt"], c["a.key"])
        ctx.sni_callback = self._sni
        if client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with backend.lock:
                    backend.paths.append(self.path)
                body = b"over tls\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                if self.path == "/close":
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Httpd(ThreadingHTTPServer):
            daemon_threads = True

            def finish_request(self, request, client_address):
                tls = ctx.wrap_socket(request, server_side=True)
                with backend.lock:
                    backend.conns += 1
                    backend.resumed += tls.session_reused
                    cert = tls.getpeercert()
                    if cert:
                        backend.peers.append(dict(x[0] for x in cert["subject"])["commonName"])
                Handler(tls, client_address, self)

            def handle_error(self, request, client_address):
                pass  # a handshake the client gave up on

        self.server = Httpd(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def _sni(self, sock, name, ctx):
        with self.lock:
            self.snis.append(name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def conf(port, opts):
    return ('server.modules = ("mod_proxy")\nserver.max-worker = 1\n'
            f'proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {port}, '
            f'"tls" => "enable"{opts} ) ) )\n')


def ca_opt():
    return f', "tls-ca-file" => "{certs()["ca"]}"'


@lux_only("TLS to backends is lux's")
def test_verified_keep_alive_and_resumed():
    with TlsBackend() as b, Server(conf(b.port, ca_opt())) as s:
        for _ in range(5):
            r = get(s, "/hello")
            eq(r.status, 200, "through TLS")
            eq(r.body, b"over tls\n")
        eq(b.conns, 1, "one kept-alive TLS connection served every request")
        eq(b.snis, [None], "no SNI for a backend named by its address")
        eq(get(s, "/close").status, 200, "the backend closes this one")
        eq(get(s, "/hello").status, 200, "a new connection")
        eq(b.conns, 2, "a second connection")
        eq(b.resumed, 1, "the second connection resumed the first one's session")


@lux_only("TLS to backends is lux's")
def test_server_name_is_sni_and_verified():
    with TlsBackend() as b:
        with Server(conf(b.port, ca_opt() + ', "tls-server-name" => "localhost"')) as s:
            eq(get(s, "/hello").status, 200, "the certificate names localhost")
            eq(b.snis, ["localhost"], "SNI")
        with Server(conf(b.port, ca_opt() + ', "tls-server-name" => "wrong.example"')) as s:
            eq(get(s, "/hello").status, 502, "a certificate for another name")
            contains(s.errorlog, f"TLS to backend 127.0.0.1:{b.port} failed: "
                                 "certificate verify failed: hostname mismatch")


@lux_only("TLS to backends is lux's")
def test_unknown_ca_is_502_unless_unverified():
    with TlsBackend() as b:
        with Server(conf(b.port, "")) as s:
            eq(get(s, "/hello").status, 502, "the test CA is not among the system's")
            contains(s.errorlog, f"TLS to backend 127.0.0.1:{b.port} failed: "
                                 "certificate verify failed: unable to get local issuer")
        with Server(conf(b.port, ', "tls-verify" => "disable"')) as s:
            eq(get(s, "/hello").status, 200, "verification off")


@lux_only("TLS to backends is lux's")
def test_plain_backend_is_502():
    from test_mod_proxy import Backend
    with Backend() as b, Server(conf(b.port, ca_opt())) as s:
        eq(get(s, "/hello").status, 502, "a backend that does not speak TLS")
        contains(s.errorlog, f"TLS to backend 127.0.0.1:{b.port} failed: ")


@lux_only("TLS to backends is lux's")
def test_client_certificate():
    c = certs()
    with TlsBackend(client_ca=c["ca"]) as b:
        with Server(conf(b.port, ca_opt() + f', "tls-client-pemfile" => "{c["b.crt"]}", '
                                            f'"tls-client-privkey" => "{c["b.key"]}"')) as s:
            eq(get(s, "/hello").status, 200, "with a client certificate")
            eq(b.peers, ["lux test b"], "the backend saw lux's certificate")
        with Server(conf(b.port, ca_opt())) as s:
            eq(get(s, "/hello").status, 502, "the backend wants a client certificate")


@lux_only("TLS to backends is lux's")
def test_tls_options_checked():
    c = certs()
    cases = [
        ('fastcgi.server = ( ".php" => ( ( "host" => "127.0.0.1", "port" => 9, '
         '"tls" => "enable" ) ) )', "only proxy.server backends speak TLS"),
        ('proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => 9, '
         f'"tls-ca-file" => "{c["ca"]}" ) ) )', "need \"tls\" => \"enable\""),
        ('proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => 9, "tls" => "enable", '
         '"tls-ca-file" => "/nonexistent/ca.pem" ) ) )', "/nonexistent/ca.pem"),
        ('proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => 9, "tls" => "enable", '
         '"tls-client-pemfile" => "/nonexistent/c.pem" ) ) )', "/nonexistent/c.pem"),
    ]
    for line, needle in cases:
        with harness.TempDir() as t:
            path = os.path.join(t.path, "lux.conf")
            harness.write_file(path, 'server.modules = ("mod_proxy", "mod_fastcgi")\n' + line +
                               "\n")
            r = harness.run_bin(["-t", "-f", path])
            check(r.returncode != 0, f"{line} was accepted")
            contains(r.stdout + r.stderr, needle)


@lux_only("TLS to backends and active health checks are lux's")
def test_health_check_over_tls():
    check_opt = ('"health-check" => ( "uri" => "/healthz", "interval" => 1, "timeout" => 1, '
                 '"rise" => 1, "fall" => 1 )')
    with TlsBackend() as b:
        with Server(conf(b.port, ca_opt() + ", " + check_opt)) as s:
            harness.poll(lambda: "/healthz" in b.paths, 10 * harness.sanitizer_slowdown(),
                         what="a probe over TLS")
            eq(get(s, "/hello").status, 200, "the backend is up")
            check("is down" not in s.errorlog, s.errorlog[-800:])
        with Server(conf(b.port, ", " + check_opt)) as s:
            harness.poll(lambda: f"backend 127.0.0.1:{b.port} is down" in s.errorlog,
                         20 * harness.sanitizer_slowdown(), what="the unverifiable backend out")
            contains(s.errorlog, "TLS: certificate verify failed")
            eq(get(s, "/hello").status, 503, "no backend left")
