"""Strong defaults, checked from the client side: every TLS 1.2 suite OpenSSL knows is offered
alone, with an ECDSA and with an RSA certificate, and only forward-secret AEAD suites may be
accepted; TLS 1.0 and 1.1 are refused; the server's order wins."""

import atexit
import os
import shutil
import socket
import ssl
import tempfile
import threading

from harness import Server, check, eq, lux_only
from test_tls import _openssl, certs, need_tls, tls_conf

FILES = {"index.html": "hello defaults\n"}

_rsa = {}
_rsa_lock = threading.Lock()


def rsa_cert():
    """An RSA 2048 certificate for localhost signed by the test CA: (cert, key)."""
    with _rsa_lock:
        if not _rsa:
            c = certs()
            d = tempfile.mkdtemp(prefix="luxrsa-")
            atexit.register(shutil.rmtree, d, True)
            _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-out",
                     "rsa.csr", "-subj", "/CN=lux test rsa", cwd=d)
            with open(os.path.join(d, "rsa.ext"), "w") as f:
                f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
            ca = os.path.join(c["dir"], "ca")
            _openssl("x509", "-req", "-in", "rsa.csr", "-CA", ca + ".crt", "-CAkey",
                     ca + ".key", "-CAcreateserial", "-days", "2", "-extfile", "rsa.ext",
                     "-out", "rsa.crt", cwd=d)
            _rsa.update(crt=os.path.join(d, "rsa.crt"), key=os.path.join(d, "rsa.key"))
        return _rsa["crt"], _rsa["key"]


def rsa_conf():
    crt, key = rsa_cert()
    return f'ssl.engine = "enable"\nssl.pemfile = "{crt}"\nssl.privkey = "{key}"\n'


def client_ctx(ciphers, version=ssl.TLSVersion.TLSv1_2):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = version
    ctx.maximum_version = version
    ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
    return ctx


def negotiated(port, ctx):
    """The suite the server chose, or None when the handshake failed."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                return s.cipher()[0]
    except (ssl.SSLError, ConnectionError, OSError):
        return None


def tls12_suites():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return [c["name"] for c in ctx.get_ciphers() if c["protocol"] != "TLSv1.3"]


def strong(name):
    kx_ok = name.startswith(("ECDHE-", "DHE-")) and "PSK" not in name
    return kx_ok and ("-GCM-" in name or "CHACHA20-POLY1305" in name)


@lux_only("lighttpd 1.4.69 also accepts the AES-CCM suites, CCM8 with its 64-bit tags")
def test_tls_defaults_only_forward_secret_aead_suites():
    need_tls()
    suites = tls12_suites()
    check(len(suites) > 50, f"OpenSSL lists only {len(suites)} suites")
    for conf in (tls_conf(), rsa_conf()):
        with Server(conf, files=FILES) as s:
            accepted = [n for n in suites if negotiated(s.port, client_ctx(n)) == n]
            check(accepted, "no TLS 1.2 suite accepted at all")
            weak = [n for n in accepted if not strong(n)]
            eq(weak, [], "weak TLS 1.2 suites accepted")


def test_tls_defaults_old_protocols_refused():
    need_tls()
    with Server(tls_conf(), files=FILES) as s:
        for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            eq(negotiated(s.port, client_ctx("ALL", v)), None, f"{v.name} handshake")
        check(negotiated(s.port, client_ctx("ALL", ssl.TLSVersion.TLSv1_3)),
              "TLS 1.3 handshake failed")


@lux_only("lighttpd lets a client that prefers ChaCha20 have it (SSL_OP_PRIORITIZE_CHACHA)")
def test_tls_defaults_server_order_wins():
    need_tls()
    with Server(tls_conf(), files=FILES) as s:
        offered = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"
        eq(negotiated(s.port, client_ctx(offered)), "ECDHE-ECDSA-AES128-GCM-SHA256",
           "the suite chosen from a client preferring ChaCha20")
