"""Two certificates for the same names, ECDSA (ssl.pemfile) and RSA (ssl.lux.alt-pemfile, lux's
own key: lighttpd 1.4.69 takes one certificate per block): a client that accepts only ECDSA
signatures gets the ECDSA one, a client that accepts only RSA the RSA one."""

import os
import subprocess
import tempfile

from harness import Server, contains, lux_only
from test_tls import certs, expect_refused_start, need_tls, tls_conf
from test_tls_defaults import rsa_cert
from test_tls_stapling import make_response

FILES = {"index.html": "hello two certs\n"}


def both_conf(block=False):
    crt, key = rsa_cert()
    pair = f'ssl.lux.alt-pemfile = "{crt}"\nssl.lux.alt-privkey = "{key}"\n'
    if not block:
        return tls_conf(extra=pair)
    c = certs()
    return tls_conf("b") + ('$HTTP["host"] == "localhost" {\n'
                            f'ssl.pemfile = "{c["a.crt"]}"\nssl.privkey = "{c["a.key"]}"\n'
                            + pair + "}\n")


def server_key(port, *args):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", certs()["ca"],
           "-servername", "localhost"] + list(args)
    cp = subprocess.run(cmd, input=b"", capture_output=True, timeout=20)
    out = cp.stdout.decode("utf-8", "replace") + cp.stderr.decode("utf-8", "replace")
    contains(out, "Verify return code: 0 (ok)", "verification of the chosen certificate")
    return out


def check_choice(port):
    for proto in ("-tls1_3", "-tls1_2"):
        out = server_key(port, proto, "-sigalgs", "ECDSA+SHA256")
        contains(out, "Server public key is 256 bit", f"ECDSA-only client ({proto})")
        out = server_key(port, proto, "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256")
        contains(out, "Server public key is 2048 bit", f"RSA-only client ({proto})")
    out = server_key(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    contains(out, "Server public key is 2048 bit", "a TLS 1.2 client with only RSA suites")


@lux_only("ssl.lux.alt-pemfile is lux's own")
def test_tls_multicert_ecdsa_and_rsa():
    need_tls()
    with Server(both_conf(), files=FILES) as s:
        check_choice(s.port)


@lux_only("ssl.lux.alt-pemfile is lux's own")
def test_tls_multicert_per_sni_host():
    need_tls()
    with Server(both_conf(block=True), files=FILES) as s:
        check_choice(s.port)


@lux_only("ssl.lux.alt-pemfile is lux's own")
def test_tls_multicert_same_key_type_refused():
    need_tls()
    c = certs()
    conf = tls_conf(extra=f'ssl.lux.alt-pemfile = "{c["b.crt"]}"\n'
                          f'ssl.lux.alt-privkey = "{c["b.key"]}"\n')
    expect_refused_start(conf, "same key type", "a second ECDSA certificate")


@lux_only("ssl.lux.alt-pemfile is lux's own")
def test_tls_multicert_stapling_only_for_its_certificate():
    """ssl.stapling-file is the OCSP response for ssl.pemfile's certificate: a client given the
    second certificate gets none."""
    need_tls()
    with tempfile.TemporaryDirectory() as d:
        resp = os.path.join(d, "a.ocsp")
        make_response(d, resp)
        with Server(both_conf() + f'ssl.stapling-file = "{resp}"\n', files=FILES) as s:
            out = server_key(s.port, "-status", "-sigalgs", "ECDSA+SHA256")
            contains(out, "Cert Status: good", "the response with the ECDSA certificate")
            out = server_key(s.port, "-status", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256")
            contains(out, "OCSP response: no response sent", "none with the RSA certificate")
