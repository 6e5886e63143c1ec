"""HTTPS (mod_openssl): TLS on a listener, handshakes that go wrong, certificates and reload.

A throwaway CA and server certificates are made with the openssl CLI into a temp dir at run
time; no key is ever committed."""

import atexit
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import harness
from harness import (Server, Skip, TempDir, check, contains, curl, eq, lux_only, parse_one,
                     poll, read_all, run_bin, sha256)

FILES = {"index.html": "hello tls\n", "f.txt": "0123456789" * 100}

_certs = {}
_certs_lock = threading.Lock()


def _openssl(*args, cwd):
    cp = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, timeout=60)
    if cp.returncode != 0:
        raise harness.TestFailure("openssl " + " ".join(args) + ": " + cp.stderr.decode())


def _make_cert(d, name, cn):
    """A P-256 key and a certificate for localhost and 127.0.0.1 signed by the test CA."""
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
             cwd=d)
    with open(os.path.join(d, f"{name}.pem"), "wb") as out:
        for part in (f"{name}.crt", f"{name}.key"):
            with open(os.path.join(d, part), "rb") as f:
                out.write(f.read())


def certs():
    """Paths of the CA certificate and two server certificates ("a", "b"), made once a run."""
    with _certs_lock:
        if not _certs:
            d = tempfile.mkdtemp(prefix="luxtls-")
            atexit.register(shutil.rmtree, d, True)
            _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj",
                     "/CN=lux test CA", cwd=d)
            _make_cert(d, "a", "lux test a")
            _make_cert(d, "b", "lux test b")
            _certs.update(dir=d, ca=os.path.join(d, "ca.crt"))
            for n in ("a", "b"):
                for ext in ("crt", "key", "pem"):
                    _certs[f"{n}.{ext}"] = os.path.join(d, f"{n}.{ext}")
        return dict(_certs)


def need_tls():
    """lighttpd serves HTTPS only with its mod_openssl, packaged separately."""
    if harness.is_lighttpd() and not os.path.exists("/usr/lib/lighttpd/mod_openssl.so"):
        raise Skip("lighttpd's mod_openssl is not installed")


def tls_conf(cert="a", extra=""):
    c = certs()
    return (f'ssl.engine = "enable"\nssl.pemfile = "{c[cert + ".crt"]}"\n'
            f'ssl.privkey = "{c[cert + ".key"]}"\n' + extra)


def https(s, path="/", port=None):
    return f"https://localhost:{port or s.port}{path}"


def resolve(s, port=None):
    """curl's options for an HTTP/1.1 request to localhost over TLS, trusting the test CA."""
    return ["--http1.1", "--cacert", certs()["ca"], "--resolve",
            f"localhost:{port or s.port}:127.0.0.1"]


def tls_connect(port, timeout=harness.IO_TIMEOUT, **ctx_kw):
    ctx = ssl.create_default_context(cafile=certs()["ca"])
    for k, v in ctx_kw.items():
        setattr(ctx, k, v)
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def tls_request(sock, path="/"):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    return tls_request_response(sock)


def tls_request_response(sock):
    buf = b""
    while True:
        try:
            return harness.parse_response(buf, eof=False)[0]
        except harness.Incomplete:
            chunk = sock.recv(65536)
            check(chunk, "connection closed before the response was complete")
            buf += chunk


def s_client(port, *args):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", certs()["ca"]]
    cp = subprocess.run(cmd + list(args), input=b"", capture_output=True, timeout=20)
    return cp.returncode, cp.stdout.decode("utf-8", "replace") + cp.stderr.decode("utf-8",
                                                                                  "replace")


def test_tls_get_head_and_keep_alive():
    need_tls()
    with Server(tls_conf(), files=FILES) as s:
        cp = curl(["-v"] + resolve(s) + [https(s, "/index.html"), https(s, "/f.txt")])
        eq(cp.stdout, b"hello tls\n" + FILES["f.txt"].encode(), "bodies")
        contains(cp.stderr, "Re-using existing connection", "curl's verbose output")
        head = curl(["-I"] + resolve(s) + [https(s, "/f.txt")]).stdout
        r = parse_one(head, method="HEAD")
        eq(r.status, 200, "HEAD status")
        eq(r.header("Content-Length"), "1000", "HEAD Content-Length")


def test_tls_large_file_and_range():
    need_tls()
    data = os.urandom(10 * 1024 * 1024)
    with Server(tls_conf(), files={"big.bin": data}) as s:
        got = curl(resolve(s) + [https(s, "/big.bin")], timeout=60).stdout
        eq(len(got), len(data), "length")
        eq(sha256(got), sha256(data), "sha256 of 10 MiB over TLS")
        cp = curl(["-i", "-r", "5000000-5000099"] + resolve(s) + [https(s, "/big.bin")])
        r = parse_one(cp.stdout)
        eq(r.status, 206, "range status")
        eq(r.body, data[5000000:5000100], "range body")


def test_tls_protocol_versions_and_alpn():
    need_tls()
    with Server(tls_conf(), files=FILES) as s:
        rc, out = s_client(s.port, "-tls1_1")
        check(rc != 0 and "TLSv1.1" not in out.split("New,")[-1].split("\n")[0],
              "TLS 1.1 must be refused:\n" + out[-800:])
        for flag, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            rc, out = s_client(s.port, flag, "-alpn", "http/1.1", "-servername", "localhost")
            eq(rc, 0, f"{name} handshake exit status")
            contains(out, f"New, {name}", f"{name} handshake")
            contains(out, "ALPN protocol: http/1.1", "ALPN")
            contains(out, "Verify return code: 0 (ok)", "certificate verification")


@lux_only("lux's defaults: forward-secret TLS 1.2 suites only")
def test_tls12_forward_secret_ciphers_only():
    need_tls()
    with Server(tls_conf(), files=FILES) as s:
        rc, out = s_client(s.port, "-tls1_2", "-cipher", "AES128-GCM-SHA256")
        check(rc != 0, "a TLS 1.2 suite without forward secrecy must be refused:\n" + out[-600:])


def test_tls_ssl_conf_cmd_min_protocol():
    need_tls()
    conf = tls_conf(extra='ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv1.3")\n')
    with Server(conf, files=FILES) as s:
        rc, out = s_client(s.port, "-tls1_2")
        check(rc != 0, "TLS 1.2 must be refused with MinProtocol TLSv1.3:\n" + out[-600:])
        rc, out = s_client(s.port, "-tls1_3")
        eq(rc, 0, "TLS 1.3 handshake")


def test_tls_scheme_condition_per_socket():
    """The TLS socket's requests have scheme https; a plain socket beside it stays http."""
    need_tls()
    conf = tls_conf() + (
        'server.modules = ("mod_setenv")\n'
        '$SERVER["socket"] == "127.0.0.1:@PORT2@" { ssl.engine = "disable" }\n'
        '$HTTP["scheme"] == "https" { setenv.add-response-header = ("X-Scheme" => "https") }\n'
        'else { setenv.add-response-header = ("X-Scheme" => "other") }\n')
    with Server(conf, files=FILES) as s:
        r = parse_one(curl(["-i"] + resolve(s) + [https(s, "/f.txt")]).stdout)
        eq(r.header("X-Scheme"), "https", "scheme on the TLS socket")
        poll(lambda: harness.port_accepts(s.port2), what="the plain listener")
        r = harness.get(s.port2, "/f.txt")
        eq(r.status, 200, "plain socket status")
        eq(r.header("X-Scheme"), "other", "scheme on the plain socket")


def test_tls_redirect_keeps_https():
    """A directory without its slash is redirected within https (or relatively, as lighttpd
    1.4.69 does)."""
    need_tls()
    with Server(tls_conf(), files={"dir/index.html": "x"}) as s:
        r = parse_one(curl(["-i"] + resolve(s) + [https(s, "/dir")]).stdout)
        eq(r.status, 301, "status")
        loc = r.header("Location", "")
        check(loc.startswith("https://localhost:") or loc.startswith("/dir/"),
              f"Location must stay on https: {loc}")


def still_serves(s):
    got = curl(resolve(s) + [https(s, "/index.html")]).stdout
    eq(got, b"hello tls\n", "a normal client after the bad ones")


def test_tls_plain_http_to_tls_port():
    """Plain HTTP on the TLS port is closed unanswered (lighttpd 1.4.69 does the same)."""
    need_tls()
    with Server(tls_conf(), files=FILES) as s:
        out = harness.raw(s.port, b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
        eq(out, b"", "the answer to plain HTTP")
        still_serves(s)


def test_tls_garbage_and_vanishing_clients():
    """Garbage, a half ClientHello and a silent close: each connection just closes, the server
    serves the next client, and the error log does not fill up."""
    need_tls()
    with Server(tls_conf(), files=FILES) as s:
        log_before = s.errorlog
        out = harness.raw(s.port, b"\x00\xff garbage \x01" * 100)
        check(b"hello" not in out, "garbage answered with content")
        with harness.connect(s.port) as c:  # a TLS record header promising more than comes
            c.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(40))
        with harness.connect(s.port):
            pass
        ctx = ssl.create_default_context(cafile=certs()["ca"])
        for _ in range(3):  # a full ClientHello, then gone before the handshake ends
            with harness.connect(s.port) as c:
                bio_in, bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
                obj = ctx.wrap_bio(bio_in, bio_out, server_hostname="localhost")
                try:
                    obj.do_handshake()
                except ssl.SSLWantReadError:
                    pass
                c.sendall(bio_out.read())
        still_serves(s)
        check(s.alive(), "server died")
        if not harness.is_lighttpd():
            new = [line for line in s.errorlog[len(log_before):].splitlines()
                   if "lux started" not in line]  # may be written late under a sanitizer
            eq(new, [], "error log lines from bad clients")


def test_tls_slow_handshake_does_not_block_others():
    """A client that stalls mid-handshake holds only its own connection."""
    need_tls()
    with Server(tls_conf(), files=FILES) as s:
        with harness.connect(s.port) as stalled:
            stalled.sendall(b"\x16\x03\x01\x00\x80")
            for _ in range(3):
                still_serves(s)


def test_tls_keep_alive_many_requests_python_client():
    need_tls()
    with Server(tls_conf(), files=FILES) as s:
        with tls_connect(s.port) as c:
            for i in range(20):
                r = tls_request(c, "/f.txt" if i % 2 else "/index.html")
                eq(r.status, 200, f"request {i}")
            eq(c.version() in ("TLSv1.2", "TLSv1.3"), True, "protocol")


def expect_start_error(conf, *needles):
    with TempDir() as tmp:
        path = tmp.write("lux.conf", harness.BASE_CONF.replace("@DOCROOT@", tmp.path)
                         .replace("@TMP@", tmp.path).replace("@PORT@", "1") + conf)
        cp = run_bin(["-t", "-f", path])
        check(cp.returncode != 0, f"-t accepted the config:\n{cp.stdout}{cp.stderr}")
        for n in needles:
            contains(cp.stdout + cp.stderr, n, "the error")


@lux_only("lighttpd -t does not load certificates")
def test_tls_missing_key_is_a_start_error():
    c = certs()
    missing = os.path.join(c["dir"], "no-such.key")
    expect_start_error(f'ssl.engine = "enable"\nssl.pemfile = "{c["a.crt"]}"\n'
                       f'ssl.privkey = "{missing}"\n', missing)


@lux_only("lighttpd -t does not load certificates")
def test_tls_key_mismatch_is_a_start_error():
    c = certs()
    expect_start_error(f'ssl.engine = "enable"\nssl.pemfile = "{c["a.crt"]}"\n'
                       f'ssl.privkey = "{c["b.key"]}"\n', c["b.key"], "does not match")


def expect_refused_start(conf, missing_name, what):
    """A server started with conf must exit non-zero, naming the file it could not load (the
    running server's check, which lighttpd makes too, unlike its -t)."""
    s = Server(conf, files=FILES)
    try:
        s.start()
        raise harness.TestFailure(f"the server started without {what}")
    except harness.TestFailure as e:
        if "started without" in str(e):
            raise
        contains(s.stderr + s.errorlog, missing_name, "the error names the file")
        check(s.returncode not in (None, 0), f"exit status {s.returncode}")
    finally:
        s.__exit__(None, None, None)


def test_tls_missing_certificate_fails_start():
    need_tls()
    missing = os.path.join(certs()["dir"], "absent.pem")
    expect_refused_start(f'ssl.engine = "enable"\nssl.pemfile = "{missing}"\n', "absent.pem",
                         "its certificate")


@lux_only("lighttpd ignores ssl.* keys it does not know (with a warning)")
def test_tls_unimplemented_keys_are_start_errors():
    c = certs()
    base = tls_conf()
    expect_start_error(base + 'ssl.no-such-key = "enable"\n', "ssl.no-such-key")
    expect_start_error(base + f'$HTTP["url"] =^ "/x" {{ ssl.pemfile = "{c["b.pem"]}" }}\n',
                       "ssl.pemfile")
    expect_start_error(base + '$HTTP["host"] == "x" { ssl.cipher-list = "HIGH" }\n',
                       "ssl.cipher-list")


def peer_cn(port, name="localhost"):
    ctx = ssl.create_default_context(cafile=certs()["ca"])
    ctx.check_hostname = False  # the name asked for by SNI need not be in the certificate
    with socket.create_connection(("127.0.0.1", port), timeout=harness.IO_TIMEOUT) as raw, \
            ctx.wrap_socket(raw, server_hostname=name) as c:
        subject = dict(x[0] for x in c.getpeercert()["subject"])
        return subject["commonName"]


@harness.serial
@lux_only("lighttpd's SIGUSR1 restarts gracefully; lux reloads in the running process")
def test_tls_reload_new_certificate():
    """After SIGUSR1 new connections get the new certificate; an open one keeps working."""
    need_tls()
    with Server(tls_conf("a"), files=FILES) as s:
        eq(peer_cn(s.port), "lux test a", "certificate before the reload")
        with tls_connect(s.port) as old:
            eq(tls_request(old, "/index.html").status, 200, "first request on the old connection")
            s.reload(tls_conf("b"))
            poll(lambda: peer_cn(s.port) == "lux test b", timeout=10,
                 what="the new certificate on new connections")
            r = tls_request(old, "/f.txt")
            eq(r.status, 200, "the old connection after the reload")
            eq(r.body, FILES["f.txt"].encode(), "body on the old connection")


def test_tls_certificate_by_sni():
    """$HTTP["host"] == "name" with ssl.pemfile: that certificate for a handshake naming the
    host, at the top level and inside the listener's $SERVER["socket"] block."""
    need_tls()
    c = certs()
    conf = (tls_conf("a") + f'$HTTP["host"] == "b.example" {{ ssl.pemfile = "{c["b.pem"]}" }}\n'
            '$SERVER["socket"] == "127.0.0.1:@PORT2@" {\n' + tls_conf("a") +
            f'  $HTTP["host"] == "inner.example" {{ ssl.pemfile = "{c["b.crt"]}"\n'
            f'    ssl.privkey = "{c["b.key"]}" }}\n}}\n')
    with Server(conf, files=FILES) as s:
        eq(peer_cn(s.port, "localhost"), "lux test a", "no match: the listener's certificate")
        eq(peer_cn(s.port, "B.Example"), "lux test b", "SNI b.example")
        eq(peer_cn(s.port, "inner.example"), "lux test a", "a host of another socket")
        poll(lambda: harness.port_accepts(s.port2), what="the second TLS listener")
        eq(peer_cn(s.port2, "inner.example"), "lux test b", "SNI inside $SERVER[\"socket\"]")
        # The socket block comes after the top-level host block and sets its own certificate.
        eq(peer_cn(s.port2, "b.example"), "lux test a", "config order")
        r = parse_one(curl(["-i"] + resolve(s) + [https(s, "/index.html")]).stdout)
        eq(r.status, 200, "a request after SNI")


def test_tls_pipelined_requests():
    """Many pipelined requests in one write: TLS records the server decrypts more of than one
    read asks for."""
    need_tls()
    n = 400
    with Server(tls_conf(), files=FILES) as s:
        with tls_connect(s.port) as c:
            c.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nX-Pad: "
                      + b"p" * 100 + b"\r\n\r\n" * 1 + (b"GET /index.html HTTP/1.1\r\n"
                      b"Host: localhost\r\n\r\n") * (n - 2)
                      + b"GET /f.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
        rs = harness.parse_responses(data)
        eq(len(rs), n, "responses")
        eq([r.body for r in rs], [b"hello tls\n"] * (n - 1) + [FILES["f.txt"].encode()], "bodies")


def test_tls_slow_head_then_large_record():
    """A head whose first piece comes alone (the server keeps it in a small buffer) and whose
    rest comes in one record larger than that buffer: the decrypted bytes the buffer could not
    take are read without waiting for the socket, which has nothing more to say."""
    need_tls()
    with Server(tls_conf(), files=FILES) as s:
        with tls_connect(s.port) as c:
            c.sendall(b"GET /index.html HTTP/1.1\r\n")
            time.sleep(0.3)
            c.sendall(b"Host: localhost\r\nX-Pad: " + b"p" * 6000 + b"\r\n\r\n")
            r = tls_request_response(c)
        eq(r.status, 200, "status")
        eq(r.body, b"hello tls\n", "body")
