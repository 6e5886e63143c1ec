"""The rest of lighttpd's ssl.* keys: revoked client certificates (ssl.ca-crl-file), the newer
ssl.verifyclient.ca-* names, ssl.read-ahead, and the obsolete keys lighttpd 1.4.69 ignores with
a warning."""

import atexit
import os
import shutil
import tempfile
import threading

import harness
from harness import Server, check, contains, eq
from test_tls import _openssl, certs, https, need_tls, resolve, tls_conf, tls_connect, tls_request
from test_tls_client_cert import CA_EXT, LEAF_EXT, _self_signed_ca, _signed

FILES = {"index.html": "hello keys\n", "f.txt": "x" * 100000}

_crl = {}
_crl_lock = threading.Lock()

CA_CONF = """[ ca ]
default_ca = test
[ test ]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 2
"""


def crl_certs():
    """A CA that signed "good" and "revoked", and its CRL revoking "revoked"."""
    with _crl_lock:
        if not _crl:
            d = tempfile.mkdtemp(prefix="luxcrl-")
            atexit.register(shutil.rmtree, d, True)
            _self_signed_ca(d, "ca", "lux CRL CA")
            _signed(d, "good", "/CN=good", "ca", LEAF_EXT)
            _signed(d, "revoked", "/CN=revoked", "ca", LEAF_EXT)
            harness.write_file(os.path.join(d, "ca.cnf"), CA_CONF)
            harness.write_file(os.path.join(d, "index.txt"), "")
            harness.write_file(os.path.join(d, "crlnumber"), "01\n")
            _openssl("ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt",
                     "-revoke", "revoked.crt", cwd=d)
            _openssl("ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt",
                     "-gencrl", "-out", "client.crl", cwd=d)
            # lighttpd checks the server's own chain against the CRLs too: one for its CA
            harness.write_file(os.path.join(d, "index.txt"), "")
            server_ca = os.path.join(certs()["dir"], "ca")
            _openssl("ca", "-config", "ca.cnf", "-keyfile", server_ca + ".key", "-cert",
                     server_ca + ".crt", "-gencrl", "-out", "server.crl", cwd=d)
            with open(os.path.join(d, "ca.crl"), "w") as out:
                for crl in ("client.crl", "server.crl"):
                    out.write(harness.read_text(os.path.join(d, crl)))
            # lighttpd also builds the server's chain from ssl.ca-file: it holds the server's CA
            with open(os.path.join(d, "trusted.crt"), "w") as out:
                for ca in (os.path.join(d, "ca.crt"), certs()["ca"]):
                    out.write(harness.read_text(ca))
            _crl.update({n: os.path.join(d, n) for n in (
                "ca.crl", "good.crt", "good.key", "revoked.crt", "revoked.key")})
            _crl["ca.crt"] = os.path.join(d, "trusted.crt")
        return dict(_crl)


def fetch_as(s, who, c):
    args = resolve(s) + ["--cert", c[f"{who}.crt"], "--key", c[f"{who}.key"]]
    return harness.curl(args + ["-o", "-", "-w", "%{http_code}", https(s, "/index.html")],
                        check_rc=False)


def test_tls_keys_crl_refuses_revoked_client():
    need_tls()
    c = crl_certs()
    for ca_key, crl_key in (("ssl.ca-file", "ssl.ca-crl-file"),
                            ("ssl.verifyclient.ca-file", "ssl.verifyclient.ca-crl-file")):
        conf = tls_conf(extra=f'{ca_key} = "{c["ca.crt"]}"\n{crl_key} = "{c["ca.crl"]}"\n'
                              'ssl.verifyclient.activate = "enable"\n')
        with Server(conf, files=FILES) as s:
            cp = fetch_as(s, "good", c)
            eq(cp.stdout, b"hello keys\n200", f"a good certificate with {crl_key}")
            cp = fetch_as(s, "revoked", c)
            check(cp.returncode != 0 and b"hello" not in cp.stdout,
                  f"a revoked certificate was let in with {crl_key}: {cp.stdout!r}")


def test_tls_keys_verifyclient_ca_file_alone():
    """ssl.verifyclient.ca-file and ssl.verifyclient.ca-dn-file stand for ssl.ca-file and
    ssl.ca-dn-file."""
    need_tls()
    c = crl_certs()
    conf = tls_conf(extra=f'ssl.verifyclient.ca-file = "{c["ca.crt"]}"\n'
                          f'ssl.verifyclient.ca-dn-file = "{c["ca.crt"]}"\n'
                          'ssl.verifyclient.activate = "enable"\n')
    with Server(conf, files=FILES) as s:
        eq(fetch_as(s, "revoked", c).stdout, b"hello keys\n200", "without a CRL: accepted")
        cp = harness.curl(resolve(s) + [https(s, "/index.html")], check_rc=False)
        check(cp.returncode != 0, "a client without a certificate was let in")


def pipelined_over_tls(extra):
    """Requests pipelined in one write are all answered: none waits for a socket event that
    already came (with read-ahead, OpenSSL holds records the socket will not announce again)."""
    need_tls()
    with Server(tls_conf(extra=extra), files=FILES) as s:
        sock = tls_connect(s.port)
        try:
            req = b"GET /f.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
            sock.sendall(req * 5 + b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n"
                         b"Connection: close\r\n\r\n")
            data, closed = harness.read_all(sock, timeout=10)
        finally:
            sock.close()
        check(closed, "the server closed after the last response")
        eq(data.count(b"HTTP/1.1 200 OK"), 6, "responses")
        check(data.endswith(b"hello keys\n"), "the last response is complete")


def test_tls_keys_read_ahead_pipelined():
    pipelined_over_tls('ssl.read-ahead = "enable"\n')


def test_tls_keys_no_read_ahead_pipelined():
    pipelined_over_tls('ssl.read-ahead = "disable"\n')


def test_tls_keys_default_pipelined():
    pipelined_over_tls("")


def test_tls_keys_obsolete_accepted_with_warning():
    need_tls()
    keys = {"ssl.use-sslv2": '"disable"', "ssl.use-sslv3": '"disable"',
            "ssl.use-compression": '"disable"', "ssl.empty-fragments": '"disable"',
            "ssl.dh-file": '"/nonexistent/dh.pem"', "ssl.ec-curve": '"secp384r1"',
            "ssl.session-cache": '"enable"'}
    conf = tls_conf(extra="".join(f"{k} = {v}\n" for k, v in keys.items()))
    with Server(conf, files=FILES) as s:
        sock = tls_connect(s.port)
        try:
            eq(tls_request(sock, "/index.html").body, b"hello keys\n", "served")
        finally:
            sock.close()
        out = s.stderr + s.errorlog
        for k in keys:
            contains(out, k, "a warning naming the key")
