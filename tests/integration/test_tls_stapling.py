"""OCSP stapling from ssl.stapling-file: a response made with `openssl ocsp` by the test CA is
sent to clients that ask (openssl s_client -status), and a new file is taken without a
restart."""

import os
import subprocess
import tempfile
import time

from harness import Server, check, contains, lux_only, poll
from test_tls import _openssl, certs, need_tls, tls_conf

FILES = {"index.html": "hello ocsp\n"}


def make_response(d, out, status="V", minutes=1440):
    """An OCSP response for server certificate "a", signed by the test CA, saying `status`
    (V valid, R revoked) and good for `minutes`."""
    c = certs()
    serial = subprocess.run(["openssl", "x509", "-in", c["a.crt"], "-noout", "-serial"],
                            capture_output=True, text=True, timeout=20,
                            check=True).stdout.strip().split("=", 1)[1]
    revoked = "261129000000Z" if status == "R" else ""
    with open(os.path.join(d, "index.txt"), "w") as f:
        f.write(f"{status}\t301231000000Z\t{revoked}\t{serial}\tunknown\t/CN=lux test a\n")
    ca = os.path.join(c["dir"], "ca")
    _openssl("ocsp", "-index", "index.txt", "-rsigner", ca + ".crt", "-rkey", ca + ".key",
             "-CA", ca + ".crt", "-issuer", ca + ".crt", "-cert", c["a.crt"], "-nmin",
             str(minutes), "-respout", out, cwd=d)


def status_output(port):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", certs()["ca"],
           "-servername", "localhost", "-status"]
    cp = subprocess.run(cmd, input=b"", capture_output=True, timeout=20)
    return cp.stdout.decode("utf-8", "replace")


def sent_then_replaced(first_minutes):
    need_tls()
    with tempfile.TemporaryDirectory() as d:
        resp = os.path.join(d, "a.ocsp")
        make_response(d, resp, "V", minutes=first_minutes)
        with Server(tls_conf(extra=f'ssl.stapling-file = "{resp}"\n'), files=FILES) as s:
            out = status_output(s.port)
            contains(out, "OCSP Response Status: successful", "a stapled response")
            contains(out, "Cert Status: good", "the response's status")
            tmp = os.path.join(d, "new.ocsp")
            make_response(d, tmp, "R")
            mtime = time.time() + 2
            os.utime(tmp, (mtime, mtime))
            os.rename(tmp, resp)
            poll(lambda: "Cert Status: revoked" in status_output(s.port), timeout=150,
                 interval=2, what="the new response, within the 64-second check period")


def test_tls_stapling_file_sent_and_replaced():
    # lighttpd looks for a new file only when the response has less than 256 s left
    sent_then_replaced(first_minutes=4)


@lux_only("lighttpd reads the file again only when its response is about to expire")
def test_tls_stapling_file_replaced_any_time():
    sent_then_replaced(first_minutes=1440)


def test_tls_stapling_only_when_asked_and_configured():
    need_tls()
    with tempfile.TemporaryDirectory() as d:
        resp = os.path.join(d, "a.ocsp")
        make_response(d, resp)
        with Server(tls_conf(), files=FILES) as s:
            contains(status_output(s.port), "OCSP response: no response sent",
                     "without ssl.stapling-file")
        with Server(tls_conf(extra=f'ssl.stapling-file = "{resp}"\n'), files=FILES) as s:
            cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{s.port}", "-CAfile",
                   certs()["ca"], "-servername", "localhost"]
            out = subprocess.run(cmd, input=b"", capture_output=True, timeout=20).stdout
            check(b"OCSP" not in out, "a response to a client that did not ask")


def test_tls_stapling_missing_file_is_not_fatal():
    """As lighttpd: the server starts without a response, and sends one once the file is
    there."""
    need_tls()
    with tempfile.TemporaryDirectory() as d:
        resp = os.path.join(d, "a.ocsp")
        with Server(tls_conf(extra=f'ssl.stapling-file = "{resp}"\n'), files=FILES) as s:
            contains(status_output(s.port), "OCSP response: no response sent", "no file yet")
            make_response(d, resp)
            poll(lambda: "Cert Status: good" in status_output(s.port), timeout=150,
                 interval=2, what="the response, within the 64-second check period")


def test_tls_stapling_not_inherited_by_another_certificate():
    """A $HTTP["host"] block with a certificate of its own does not staple the global
    certificate's response."""
    need_tls()
    c = certs()
    with tempfile.TemporaryDirectory() as d:
        resp = os.path.join(d, "a.ocsp")
        make_response(d, resp)
        conf = tls_conf(extra=f'ssl.stapling-file = "{resp}"\n'
                              '$HTTP["host"] == "other.test" {\n'
                              f'ssl.pemfile = "{c["b.crt"]}"\nssl.privkey = "{c["b.key"]}"\n}}\n')
        with Server(conf, files=FILES) as s:
            contains(status_output(s.port), "Cert Status: good", "the global certificate")
            cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{s.port}", "-servername",
                   "other.test", "-status"]
            out = subprocess.run(cmd, input=b"", capture_output=True, timeout=20).stdout.decode()
            contains(out, "CN = lux test b", "the host's certificate")
            contains(out, "OCSP response: no response sent", "no response for it")
