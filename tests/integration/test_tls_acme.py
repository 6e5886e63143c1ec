"""ssl.acme-tls-1: the ACME tls-alpn-01 challenge. A client offering ALPN "acme-tls/1" gets
<dir>/<SNI name>.crt.pem (key: .key.pem) and that protocol; other clients the site's own
certificate."""

import os
import shutil
import subprocess
import tempfile

from harness import Server, check, contains
from test_tls import certs, need_tls, tls_conf

FILES = {"index.html": "hello acme\n"}


def hello(port, alpn, name="localhost"):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", name,
           "-alpn", alpn]
    cp = subprocess.run(cmd, input=b"", capture_output=True, timeout=20)
    return cp.returncode, cp.stdout.decode("utf-8", "replace") + cp.stderr.decode("utf-8",
                                                                                  "replace")


def acme_dir(d):
    c = certs()
    shutil.copy(c["b.crt"], os.path.join(d, "localhost.crt.pem"))
    shutil.copy(c["b.key"], os.path.join(d, "localhost.key.pem"))
    return tls_conf(extra=f'ssl.acme-tls-1 = "{d}"\n')


def test_tls_acme_challenge_certificate():
    need_tls()
    with tempfile.TemporaryDirectory() as d, Server(acme_dir(d), files=FILES) as s:
        rc, out = hello(s.port, "acme-tls/1")
        contains(out, "ALPN protocol: acme-tls/1", "the negotiated protocol")
        contains(out, "CN = lux test b", "the challenge certificate")
        rc, out = hello(s.port, "http/1.1")
        contains(out, "ALPN protocol: http/1.1", "an ordinary client's protocol")
        contains(out, "CN = lux test a", "the site's certificate")
        rc, out = hello(s.port, "http/1.1,acme-tls/1")
        contains(out, "CN = lux test a", "a client preferring http/1.1")


def test_tls_acme_unknown_name_fails_the_handshake():
    need_tls()
    with tempfile.TemporaryDirectory() as d, Server(acme_dir(d), files=FILES) as s:
        for name in ("example.org", ".hidden"):
            rc, out = hello(s.port, "acme-tls/1", name)
            check("ALPN protocol: acme-tls/1" not in out and "CN = lux test" not in out,
                  f"a challenge for {name} was answered:\n{out[-600:]}")
        rc, out = hello(s.port, "http/1.1")
        contains(out, "CN = lux test a", "the server still serves")
