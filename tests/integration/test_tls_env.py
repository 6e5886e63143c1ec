"""The TLS variables of a request (HTTPS, SSL_*), as lighttpd sets them for CGI and FastCGI,
seen through the access log's %{NAME}e; ssl.verifyclient.exportcert adds the client's
certificate in PEM."""

import os
import subprocess

import harness
from harness import Server, check, eq, lux_only, poll
from test_tls import https, need_tls, resolve, tls_conf
from test_tls_client_cert import FILES, client_certs, fetch, verify_conf

SESSION = ["SSL_PROTOCOL", "SSL_CIPHER", "SSL_CIPHER_USEKEYSIZE", "SSL_CIPHER_ALGKEYSIZE"]
CLIENT = ["SSL_CLIENT_VERIFY", "SSL_CLIENT_S_DN", "SSL_CLIENT_S_DN_CN", "SSL_CLIENT_S_DN_O",
          "SSL_CLIENT_M_SERIAL", "REMOTE_USER", "AUTH_TYPE", "SSL_CLIENT_CERT"]
LUX_ONLY = ["HTTPS", "SSL_CLIENT_I_DN", "SSL_CLIENT_V_START", "SSL_CLIENT_V_END"]


def logged_env(conf, names, clients, plain=False):
    """For each client (a certificate name, or None), the values of `names` in its access log
    line."""
    fmt = "|".join("%{" + n + "}e" for n in names)
    conf = ('server.modules = ("mod_accesslog")\naccesslog.filename = "@TMP@/access.log"\n'
            f'accesslog.format = "{fmt}"\n' + conf)
    with Server(conf, files=FILES) as s:
        for who in clients:
            cp = fetch(s, who)
            eq(cp.stdout[-3:], b"200", f"status for {who}")
        if plain:
            eq(harness.get(s.port2, "/index.html").status, 200, "plain request")
        log = os.path.join(s.tmp, "access.log")
        want = len(clients) + plain
        poll(lambda: os.path.exists(log) and harness.read_text(log).count("\n") >= want,
             timeout=10, what=f"{want} access log lines")
        return [dict(zip(names, line.split("|"))) for line in
                harness.read_text(log).splitlines()]


def serial_of(cert):
    cp = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-serial"],
                        capture_output=True, text=True, timeout=20, check=True)
    return cp.stdout.strip().split("=", 1)[1]


def first_pem(cert):
    text = harness.read_text(cert)
    end = "-----END CERTIFICATE-----\n"
    return text[:text.index(end) + len(end)]


def test_tls_env_client_variables_in_access_log():
    need_tls()
    cc = client_certs()
    conf = verify_conf('ssl.verifyclient.enforce = "disable"\n'
                       'ssl.verifyclient.username = "SSL_CLIENT_S_DN_CN"\n'
                       'ssl.verifyclient.exportcert = "enable"\n')
    alice, nobody, mallory = logged_env(conf, SESSION + CLIENT, ["alice", None, "mallory"])
    for line in (alice, nobody, mallory):
        check(line["SSL_PROTOCOL"] in ("TLSv1.2", "TLSv1.3"), f"protocol: {line}")
        check(line["SSL_CIPHER"].startswith("TLS_") or "ECDHE" in line["SSL_CIPHER"],
              f"cipher: {line}")
        check(int(line["SSL_CIPHER_USEKEYSIZE"]) >= 128, f"key size: {line}")
        check(int(line["SSL_CIPHER_ALGKEYSIZE"]) >= 128, f"algorithm key size: {line}")
    eq(alice["SSL_CLIENT_VERIFY"], "SUCCESS", "alice verified")
    eq(alice["SSL_CLIENT_S_DN"], "O = lux tests, CN = alice", "alice's subject")
    eq(alice["SSL_CLIENT_S_DN_CN"], "alice", "alice's CN")
    eq(alice["SSL_CLIENT_S_DN_O"], "lux tests", "alice's O")
    eq(alice["SSL_CLIENT_M_SERIAL"], serial_of(cc["alice.crt"]), "alice's serial")
    eq(alice["REMOTE_USER"], "alice", "REMOTE_USER")
    eq(alice["AUTH_TYPE"], "SSL_CLIENT_VERIFY", "AUTH_TYPE")
    eq(alice["SSL_CLIENT_CERT"], first_pem(cc["alice.crt"]).replace("\n", "\\n"),
       "alice's certificate in PEM (newlines escaped by the log)")
    eq(nobody["SSL_CLIENT_VERIFY"], "NONE", "no certificate")
    check(mallory["SSL_CLIENT_VERIFY"].startswith("FAILED:"), f"mallory: {mallory}")
    for line in (nobody, mallory):
        for n in CLIENT[1:]:
            eq(line[n], "-", f"{n} without a verified certificate")


def test_tls_env_certificate_only_with_exportcert():
    need_tls()
    conf = verify_conf('ssl.verifyclient.enforce = "disable"\n')
    (alice,) = logged_env(conf, ["SSL_CLIENT_VERIFY", "SSL_CLIENT_CERT", "REMOTE_USER"],
                          ["alice"])
    eq(alice, {"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_CERT": "-", "REMOTE_USER": "-"},
       "variables without exportcert and username")


@lux_only("lighttpd 1.4.69 sets TLS variables for the log only with ssl.verifyclient, and has "
          "no SSL_CLIENT_I_DN, SSL_CLIENT_V_START, SSL_CLIENT_V_END")
def test_tls_env_lux_variables():
    need_tls()
    conf = verify_conf('ssl.verifyclient.enforce = "disable"\n')
    (alice,) = logged_env(conf, LUX_ONLY, ["alice"])
    eq(alice["HTTPS"], "on", "HTTPS")
    eq(alice["SSL_CLIENT_I_DN"], "CN = lux client CA", "issuer")
    for n in ("SSL_CLIENT_V_START", "SSL_CLIENT_V_END"):
        check(alice[n].endswith(" GMT") and len(alice[n].split()) == 5, f"{n}: {alice[n]!r}")
    plain = '$SERVER["socket"] == "127.0.0.1:@PORT2@" { ssl.engine = "disable" }\n'
    tls, http = logged_env(tls_conf(extra=plain), ["HTTPS", "SSL_PROTOCOL", "SSL_CLIENT_VERIFY"],
                           [None], plain=True)
    check(tls["HTTPS"] == "on" and tls["SSL_PROTOCOL"].startswith("TLSv1."), f"TLS: {tls}")
    eq(tls["SSL_CLIENT_VERIFY"], "-", "no client certificate asked for")
    eq(http, {"HTTPS": "-", "SSL_PROTOCOL": "-", "SSL_CLIENT_VERIFY": "-"}, "plain HTTP")
