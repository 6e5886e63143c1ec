"""TLS client certificates (ssl.verifyclient.*): who may connect, and who the request is from.

Two throwaway CAs are made with the openssl CLI at run time: the trusted one signs "alice"
directly and "bob" through an intermediate CA; the other one signs "mallory". The server's own
certificate comes from test_tls's CA."""

import atexit
import os
import shutil
import tempfile
import threading

import harness
from harness import Server, check, contains, curl, eq, lux_only, poll
from test_tls import (_openssl, certs, expect_refused_start, https, need_tls, resolve, s_client,
                      tls_conf)

FILES = {"index.html": "hello client\n"}

_client_certs = {}
_client_lock = threading.Lock()

LEAF_EXT = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"


def _self_signed_ca(d, name, cn):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={cn}",
             cwd=d)


def _signed(d, name, subject, ca, ext):
    """A key and a certificate for `subject` signed by CA `ca`, with extensions `ext`."""
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=d)
    harness.write_file(os.path.join(d, f"{name}.ext"), ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
             cwd=d)


def client_certs():
    """Paths: the trusted CAs ("ca"), and for each client its key and the certificate chain it
    presents ("alice.crt", "alice.key", ...). Made once a run."""
    with _client_lock:
        if not _client_certs:
            d = tempfile.mkdtemp(prefix="luxcc-")
            atexit.register(shutil.rmtree, d, True)
            _self_signed_ca(d, "ca", "lux client CA")
            _self_signed_ca(d, "other", "lux other CA")
            _signed(d, "inter", "/CN=lux intermediate CA", "ca", CA_EXT)
            _signed(d, "alice", "/O=lux tests/CN=alice", "ca", LEAF_EXT)
            _signed(d, "bob", "/CN=bob", "inter", LEAF_EXT)
            _signed(d, "mallory", "/CN=mallory", "other", LEAF_EXT)
            with open(os.path.join(d, "bob.crt"), "a") as chain, \
                    open(os.path.join(d, "inter.crt")) as inter:
                chain.write(inter.read())  # bob presents his intermediate
            # lighttpd also builds the server's chain from ssl.ca-file: it holds the server's CA
            with open(os.path.join(d, "trusted.crt"), "w") as out:
                for ca in (os.path.join(d, "ca.crt"), certs()["ca"]):
                    with open(ca) as f:
                        out.write(f.read())
            _client_certs["ca"] = os.path.join(d, "trusted.crt")
            for n in ("alice", "bob", "mallory"):
                for ext in ("crt", "key"):
                    _client_certs[f"{n}.{ext}"] = os.path.join(d, f"{n}.{ext}")
        return dict(_client_certs)


def verify_conf(extra=""):
    return tls_conf(extra=f'ssl.ca-file = "{client_certs()["ca"]}"\n'
                          'ssl.verifyclient.activate = "enable"\n' + extra)


def fetch(s, who=None, path="/index.html"):
    """curl's answer to a request presenting `who`'s certificate (None: none)."""
    args = resolve(s)
    if who:
        cc = client_certs()
        args += ["--cert", cc[f"{who}.crt"], "--key", cc[f"{who}.key"]]
    return curl(args + ["-o", "-", "-w", "\n%{http_code}", https(s, path)], check_rc=False)


def expect_ok(s, who=None):
    cp = fetch(s, who)
    eq(cp.returncode, 0, f"curl exit status for {who} ({cp.stderr.strip()})")
    eq(cp.stdout.decode(), "hello client\n\n200", f"answer for {who}")


def expect_refused(s, who=None):
    cp = fetch(s, who)
    check(cp.returncode != 0, f"{who} was let in: {cp.stdout!r}")
    check(b"hello client" not in cp.stdout, f"{who} got the page")


def test_tls_client_cert_enforced():
    need_tls()
    with Server(verify_conf('ssl.verifyclient.enforce = "enable"\n'), files=FILES) as s:
        expect_ok(s, "alice")
        expect_ok(s, "bob")  # through an intermediate: within the default depth
        expect_refused(s)
        expect_refused(s, "mallory")
        expect_ok(s, "alice")  # the refusals took nothing down


def test_tls_client_cert_enforce_is_the_default():
    need_tls()
    with Server(verify_conf(), files=FILES) as s:
        expect_refused(s)
        expect_ok(s, "alice")


def test_tls_client_cert_optional_without_enforce():
    need_tls()
    with Server(verify_conf('ssl.verifyclient.enforce = "disable"\n'), files=FILES) as s:
        expect_ok(s)
        expect_ok(s, "alice")
        expect_ok(s, "mallory")  # the request sees that it failed


def test_tls_client_cert_depth():
    need_tls()
    conf = verify_conf('ssl.verifyclient.depth = 1\n')
    with Server(conf, files=FILES) as s:
        expect_ok(s, "alice")   # leaf, then the trusted CA at depth 1
        expect_refused(s, "bob")  # the trusted CA is at depth 2


def test_tls_client_cert_per_socket():
    need_tls()
    cc = client_certs()
    conf = tls_conf(extra='$SERVER["socket"] == "127.0.0.1:@PORT2@" {\n'
                          + tls_conf() + f'ssl.ca-file = "{cc["ca"]}"\n'
                          'ssl.verifyclient.activate = "enable"\n}\n')
    with Server(conf, files=FILES) as s:
        expect_ok(s)  # the global listener asks for nothing
        port2 = s.port2
        args = resolve(s, port2) + ["-o", "/dev/null", "-w", "%{http_code}"]
        cp = curl(args + [https(s, "/index.html", port2)], check_rc=False)
        check(cp.returncode != 0, "the second listener let a client without certificate in")
        cp = curl(args + ["--cert", cc["alice.crt"], "--key", cc["alice.key"],
                          https(s, "/index.html", port2)])
        eq(cp.stdout, b"200", "status with a certificate")


def access_log_users(conf_extra):
    conf = ('server.modules = ("mod_accesslog")\n'
            'accesslog.filename = "@TMP@/access.log"\n'
            'accesslog.format = "%u %s"\n' + verify_conf(conf_extra))
    with Server(conf, files=FILES) as s:
        expect_ok(s, "alice")
        expect_ok(s, "bob")
        expect_ok(s)
        expect_ok(s, "mallory")  # not verified: let through, but it names nobody
        log = os.path.join(s.tmp, "access.log")
        poll(lambda: os.path.exists(log) and harness.read_text(log).count("\n") >= 4,
             timeout=10, what="four access log lines")
        return harness.read_text(log).splitlines()


def test_tls_client_cert_username_in_access_log():
    need_tls()
    lines = access_log_users('ssl.verifyclient.enforce = "disable"\n'
                             'ssl.verifyclient.username = "SSL_CLIENT_S_DN_CN"\n')
    eq(lines, ["alice 200", "bob 200", "- 200", "- 200"], "access log")


def test_tls_client_cert_without_username_names_nobody():
    need_tls()
    lines = access_log_users('ssl.verifyclient.enforce = "disable"\n')
    eq(lines, ["- 200"] * 4, "access log")


@lux_only("lighttpd -t loads no CA file, and takes ssl.verifyclient.* per $HTTP[\"host\"]")
def test_tls_client_cert_bad_settings_are_start_errors():
    from test_tls import expect_start_error
    missing = os.path.join(certs()["dir"], "no-such-ca.crt")
    expect_start_error(tls_conf(extra=f'ssl.ca-file = "{missing}"\n'
                                      'ssl.verifyclient.activate = "enable"\n'),
                       missing)
    expect_start_error(tls_conf(extra='ssl.verifyclient.activate = "enable"\n'),
                       "ssl.verifyclient.activate needs ssl.ca-file")
    expect_start_error(verify_conf('ssl.verifyclient.username = "CN"\n'),
                       "ssl.verifyclient.username")
    expect_start_error(verify_conf('ssl.verifyclient.depth = "-1"\n'), "ssl.verifyclient.depth")
    expect_start_error(tls_conf(extra='$HTTP["host"] == "x" {\n'
                                      'ssl.verifyclient.activate = "enable"\n}\n'),
                       "ssl.verifyclient.activate")


def test_tls_client_cert_missing_ca_file_fails_start():
    need_tls()
    missing = os.path.join(certs()["dir"], "no-such-ca.crt")
    expect_refused_start(tls_conf(extra=f'ssl.ca-file = "{missing}"\n'
                                        'ssl.verifyclient.activate = "enable"\n'),
                         "no-such-ca.crt", "its client CA file")


def acceptable_ca_names(port):
    """The CA names the server sends with its certificate request, as s_client shows them."""
    rc, out = s_client(port, "-servername", "localhost")
    check("Acceptable client certificate CA names" in out, f"no CA names sent:\n{out[-1500:]}")
    return out.split("Acceptable client certificate CA names", 1)[1].split("Requested", 1)[0]


def test_tls_client_cert_ca_names_sent():
    need_tls()
    with Server(verify_conf(), files=FILES) as s:
        names = acceptable_ca_names(s.port)
        contains(names, "lux client CA", "CA names from ssl.ca-file")
        check("lux other CA" not in names, f"an untrusted CA was named: {names}")
    other = os.path.join(os.path.dirname(client_certs()["ca"]), "other.crt")
    with Server(verify_conf(f'ssl.ca-dn-file = "{other}"\n'), files=FILES) as s:
        names = acceptable_ca_names(s.port)
        contains(names, "lux other CA", "CA names from ssl.ca-dn-file")
        check("lux client CA" not in names, f"ssl.ca-file was named too: {names}")
