"""What a PROXY protocol v2 header says of the client's TLS (the PP2_TYPE_SSL TLV and its
sub-TLVs, PP2_TYPE_UNIQUE_ID): the scheme, the SSL_* variables of CGI, and with
extforward.hap-PROXY-ssl-client-verify the proxy's verdict on the client's certificate as
SSL_CLIENT_VERIFY, REMOTE_USER and AUTH_TYPE, as if the client had connected with TLS."""

import os
import struct

import harness
from harness import Server, eq, lux_only
from test_proxy_protocol import exchange, request, v2

PP2_CLIENT_SSL, PP2_CLIENT_CERT_CONN, PP2_CLIENT_CERT_SESS = 0x01, 0x02, 0x04
SSL_VERSION, SSL_CN, SSL_CIPHER, SSL_SIG_ALG, SSL_KEY_ALG = 0x21, 0x22, 0x23, 0x24, 0x25
UNIQUE_ID = 0x05
VERIFIED = PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN

NAMES = ("SSL_", "PP2_", "REMOTE_USER", "AUTH_TYPE", "HTTPS", "REQUEST_SCHEME")
ENV_SH = ("printf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
          "env | grep -E '^(" + "|".join(NAMES) + ")' | sort\n")
FILES = {"env.sh": ENV_SH, "f.txt": "hi\n"}


def tlv(kind, value):
    return bytes([kind]) + struct.pack(">H", len(value)) + value


def ssl_tlv(client, verify=0, cn=None, version=b"TLSv1.3", cipher=b"TLS_AES_128_GCM_SHA256",
            extra=b"", packed=False):
    """The SSL TLV. Unless packed, its sub-TLVs begin with an empty one of type 0, which a
    reader skips: lighttpd 1.4.69 reads the verify word through a padded struct, from the
    verify word's last byte and the three bytes after it, and sees a verified certificate only
    when those are zero. haproxy sends the sub-TLVs right after the verify word (packed)."""
    subs = (b"" if packed else tlv(0, b"")) + tlv(SSL_VERSION, version) + tlv(SSL_CIPHER, cipher)
    if cn is not None:
        subs += tlv(SSL_CN, cn)
    return tlv(0x20, bytes([client]) + struct.pack(">I", verify) + subs + extra)


def conf(verify=None, extra=""):
    text = ('server.modules += ("mod_extforward", "mod_setenv", "mod_cgi", "mod_accesslog")\n'
            'cgi.assign = (".sh" => "/bin/sh")\n'
            'accesslog.filename = "@TMP@/access.log"\naccesslog.format = "%h %u"\n'
            'extforward.forwarder = ("127.0.0.1" => "trust")\n'
            'extforward.hap-PROXY = "enable"\n'
            '$HTTP["scheme"] == "https" { setenv.add-response-header = ("X-Scheme" => "https") }\n')
    if verify is not None:
        text += f'extforward.hap-PROXY-ssl-client-verify = "{verify}"\n'
    return text + extra


def cgi_env(port, tlvs, path="/env.sh"):
    r = exchange(port, v2("203.0.113.7", "127.0.0.1", tlvs=tlvs) + request(path))[0]
    eq(r.status, 200, f"status of {path}: {r.body[:200]!r}")
    env = dict(line.split("=", 1) for line in r.body.decode().splitlines() if "=" in line)
    return r, env


def test_ssl_tlv_makes_the_request_https():
    with Server(conf(), files=FILES) as s:
        r, env = cgi_env(s.port, ssl_tlv(PP2_CLIENT_SSL))
        eq(r.header("X-Scheme"), "https", "$HTTP[\"scheme\"]")
        eq((env.get("REQUEST_SCHEME"), env.get("HTTPS")), ("https", "on"), "CGI scheme")
        r, env = cgi_env(s.port, b"")
        eq((r.header("X-Scheme"), env.get("REQUEST_SCHEME"), env.get("HTTPS")),
           (None, "http", None), "no SSL TLV: plain http")
        r, env = cgi_env(s.port, ssl_tlv(0))
        eq(env.get("REQUEST_SCHEME"), "http", "SSL TLV without PP2_CLIENT_SSL")


def test_ssl_sub_tlvs_reach_cgi():
    extra = tlv(SSL_SIG_ALG, b"SHA256") + tlv(SSL_KEY_ALG, b"RSA2048")
    tlvs = ssl_tlv(VERIFIED, cn=b"alice", extra=extra) + tlv(UNIQUE_ID, b"conn-42")
    with Server(conf(), files=FILES) as s:
        _, env = cgi_env(s.port, tlvs)
        want = {"SSL_PROTOCOL": "TLSv1.3", "SSL_CIPHER": "TLS_AES_128_GCM_SHA256",
                "SSL_CLIENT_S_DN_CN": "alice", "SSL_SERVER_A_SIG": "SHA256",
                "SSL_SERVER_A_KEY": "RSA2048", "PP2_UNIQUE_ID": "conn-42"}
        eq({k: env.get(k) for k in want}, want, "variables from the TLVs")
        eq([k for k in ("SSL_CLIENT_VERIFY", "REMOTE_USER", "AUTH_TYPE") if k in env], [],
           "no verdict without extforward.hap-PROXY-ssl-client-verify")


def test_client_verify_passes_the_verified_cn_on():
    with Server(conf("enable"), files=FILES) as s:
        _, env = cgi_env(s.port, ssl_tlv(VERIFIED, cn=b"alice"))
        eq({k: env.get(k) for k in ("SSL_CLIENT_VERIFY", "REMOTE_USER", "AUTH_TYPE")},
           {"SSL_CLIENT_VERIFY": "SUCCESS", "REMOTE_USER": "alice",
            "AUTH_TYPE": "SSL_CLIENT_VERIFY"}, "verified certificate")
        _, env = cgi_env(s.port, ssl_tlv(PP2_CLIENT_SSL | PP2_CLIENT_CERT_SESS, cn=b"bob"))
        eq((env.get("SSL_CLIENT_VERIFY"), env.get("REMOTE_USER")), ("SUCCESS", "bob"),
           "certificate of the resumed session")
        s.stop()
        eq(harness.read_text(os.path.join(s.tmp, "access.log")).split(),
           ["203.0.113.7", "alice", "203.0.113.7", "bob"], "access log %h %u")


@lux_only("lighttpd 1.4.69 reads the verify word 3 bytes late, so haproxy's headers never verify")
def test_client_verify_reads_haproxys_layout():
    with Server(conf("enable"), files=FILES) as s:
        _, env = cgi_env(s.port, ssl_tlv(VERIFIED, cn=b"alice", packed=True))
        eq((env.get("SSL_CLIENT_VERIFY"), env.get("REMOTE_USER")), ("SUCCESS", "alice"),
           "verified certificate")
        _, env = cgi_env(s.port, ssl_tlv(VERIFIED, verify=18, cn=b"alice", packed=True))
        eq((env.get("SSL_CLIENT_VERIFY"), env.get("REMOTE_USER")), ("NONE", None),
           "verification failed")


def test_client_verify_says_none_unless_verified_with_a_cn():
    cases = {
        "verification failed": ssl_tlv(VERIFIED, verify=18, cn=b"alice"),
        "no client certificate": ssl_tlv(PP2_CLIENT_SSL, cn=b"alice"),
        "no CN": ssl_tlv(VERIFIED),
        "no SSL TLV": b"",
    }
    with Server(conf("enable"), files=FILES) as s:
        for what, tlvs in cases.items():
            _, env = cgi_env(s.port, tlvs)
            eq((env.get("SSL_CLIENT_VERIFY"), env.get("REMOTE_USER"), env.get("AUTH_TYPE")),
               ("NONE", None, None), what)


def test_client_verify_follows_conditions():
    extra = '$HTTP["url"] =^ "/off/" { extforward.hap-PROXY-ssl-client-verify = "disable" }\n'
    files = dict(FILES, **{"off/env.sh": ENV_SH})
    with Server(conf("enable", extra), files=files) as s:
        _, env = cgi_env(s.port, ssl_tlv(VERIFIED, cn=b"alice"))
        eq(env.get("REMOTE_USER"), "alice", "enabled globally")
        _, env = cgi_env(s.port, ssl_tlv(VERIFIED, cn=b"alice"), "/off/env.sh")
        eq((env.get("SSL_CLIENT_VERIFY"), env.get("REMOTE_USER")), (None, None),
           "disabled in a condition")


def test_verified_cn_satisfies_extern_authn():
    auth = ('server.modules += ("mod_auth", "mod_authn_file")\n'
            'auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/users"\n'
            'auth.extern-authn = "enable"\n'
            'auth.require = ("/" => ("method" => "basic", "realm" => "r",'
            ' "require" => "user=alice"))\n')
    with Server(conf("enable", auth), files=FILES) as s:
        harness.write_file(os.path.join(s.tmp, "users"), "carol:secret\n")
        r = exchange(s.port, v2("203.0.113.7", "127.0.0.1", tlvs=ssl_tlv(VERIFIED, cn=b"alice"))
                     + request("/f.txt"))[0]
        eq(r.status, 200, "alice's certificate")
        r = exchange(s.port, v2("203.0.113.7", "127.0.0.1", tlvs=ssl_tlv(VERIFIED, cn=b"bob"))
                     + request("/f.txt"))[0]
        eq(r.status, 401, "bob is not alice")
        r = exchange(s.port, v2("203.0.113.7", "127.0.0.1",
                                tlvs=ssl_tlv(VERIFIED, verify=18, cn=b"alice"))
                     + request("/f.txt"))[0]
        eq(r.status, 401, "alice's certificate that did not verify")


@lux_only("lux refuses a CN with control characters or NUL as a user name")
def test_cn_with_nul_or_control_bytes_is_no_user():
    auth = ('server.modules += ("mod_auth", "mod_authn_file")\n'
            'auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/users"\n'
            'auth.extern-authn = "enable"\n'
            '$HTTP["url"] =^ "/f" { auth.require = ("/" => ("method" => "basic", "realm" => "r",'
            ' "require" => "user=alice")) }\n')
    with Server(conf("enable", auth), files=FILES) as s:
        harness.write_file(os.path.join(s.tmp, "users"), "carol:secret\n")
        for cn in (b"alice\x00evil", b"alice\r\nX-Injected: 1", b"al\x7fice"):
            r = exchange(s.port, v2("203.0.113.7", "127.0.0.1", tlvs=ssl_tlv(VERIFIED, cn=cn))
                         + request("/f.txt"))[0]
            eq(r.status, 401, f"CN {cn!r}")
            _, env = cgi_env(s.port, ssl_tlv(VERIFIED, cn=cn))
            eq((env.get("SSL_CLIENT_VERIFY"), env.get("REMOTE_USER")), ("NONE", None),
               f"CN {cn!r} in CGI")
