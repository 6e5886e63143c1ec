"""mod_auth with mod_authn_file: Basic and Digest, every htpasswd hash kind, htdigest and plain
files, challenges, malformed headers, require lists, conditions, the credentials cache, and
costly hashes that must not hold up other requests on the same worker."""

import base64
import ctypes
import hashlib
import hmac
import os
import re
import socket
import subprocess
import threading
import time

import harness
from harness import Server, check, contains, eq, get, lux_only, serial

MODS = 'server.modules += ("mod_auth", "mod_authn_file")\n'
FILES = {"index.html": "home\n", "p/secret.txt": "secret\n", "open.txt": "open\n",
         "q/x.txt": "x\n"}

_libcrypt = ctypes.CDLL("libcrypt.so.1")
_libcrypt.crypt.restype = ctypes.c_char_p
_libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_libcrypt.crypt_gensalt.restype = ctypes.c_char_p
_libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]


def crypt(password, prefix, rounds=0):
    """A crypt(3) hash with a fresh salt of the given kind (b"" is traditional DES)."""
    salt = _libcrypt.crypt_gensalt(prefix, rounds, None, 0)
    return _libcrypt.crypt(password.encode(), salt).decode()


def openssl_passwd(kind, password):
    out = subprocess.run(["openssl", "passwd", kind, password], capture_output=True, text=True,
                         timeout=10, check=True)
    return out.stdout.strip()


def sha1_htpasswd(password):
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def protect(method="basic", require="valid-user", path="/p/", extra=""):
    return (f'auth.require = ( "{path}" => ( "method" => "{method}", "realm" => "Secret Area", '
            f'"require" => "{require}"{extra} ) )\n')


def htpasswd_conf(require="valid-user", extra=""):
    return (MODS + 'auth.backend = "htpasswd"\n'
            'auth.backend.htpasswd.userfile = "@TMP@/users"\n' + protect(require=require) + extra)


def status(s, path, headers=None):
    return get(s.port, path, headers=headers).status


def test_basic_challenge_names_realm_and_charset():
    with Server(htpasswd_conf(), files=FILES) as s:
        s.write("../users", "alice:" + sha1_htpasswd("pw") + "\n")
        r = get(s.port, "/p/secret.txt")
        eq(r.status, 401, "no credentials")
        eq(r.header_all("WWW-Authenticate"), ['Basic realm="Secret Area", charset="UTF-8"'],
           "challenge")
        eq(status(s, "/open.txt"), 200, "unprotected path")


def test_every_htpasswd_hash_kind():
    users = {
        "des": crypt("pw-des", b""),
        "md5": openssl_passwd("-1", "pw-md5"),
        "apr1": openssl_passwd("-apr1", "pw-apr1"),
        "sha256": openssl_passwd("-5", "pw-sha256"),
        "sha512": openssl_passwd("-6", "pw-sha512"),
        "bcrypt2y": crypt("pw-bcrypt2y", b"$2y$", 5),
        "bcrypt2b": crypt("pw-bcrypt2b", b"$2b$", 5),
        "sha1": sha1_htpasswd("pw-sha1"),
    }
    with Server(htpasswd_conf(), files=FILES) as s:
        s.write("../users", "".join(f"{u}:{h}\n" for u, h in users.items()))
        for user in users:
            r = get(s.port, "/p/secret.txt", headers=basic(user, "pw-" + user))
            eq(r.status, 200, f"{user} with its password")
            eq(r.body, b"secret\n", f"{user} body")
            eq(status(s, "/p/secret.txt", basic(user, "pw-" + user + "x")), 401,
               f"{user} with a wrong password")
        eq(status(s, "/p/secret.txt", basic("nobody", "pw")), 401, "unknown user")


def test_plain_and_htdigest_backends_with_basic():
    ha1 = hashlib.md5(b"bob:Secret Area:pw-b").hexdigest()
    plain = MODS + ('auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/plain"\n' +
                    protect())
    with Server(plain, files=FILES) as s:
        s.write("../plain", "bob:pw-b\r\n")
        eq(status(s, "/p/secret.txt", basic("bob", "pw-b")), 200, "plain, right password")
        eq(status(s, "/p/secret.txt", basic("bob", "pw-bb")), 401, "plain, wrong password")
    digest = MODS + ('auth.backend = "htdigest"\nauth.backend.htdigest.userfile = "@TMP@/dig"\n' +
                     protect())
    with Server(digest, files=FILES) as s:
        s.write("../dig", f"bob:Other:{'0' * 32}\nbob:Secret Area:{ha1}\n")
        eq(status(s, "/p/secret.txt", basic("bob", "pw-b")), 200, "htdigest, right password")
        eq(status(s, "/p/secret.txt", basic("bob", "x")), 401, "htdigest, wrong password")


def test_userfile_is_read_again_when_it_changes():
    with Server(htpasswd_conf(), files=FILES) as s:
        s.write("../users", "alice:" + sha1_htpasswd("old") + "\n")
        eq(status(s, "/p/secret.txt", basic("alice", "old")), 200, "old password")
        s.write("../users", "alice:" + sha1_htpasswd("new-password") + "\n")
        eq(status(s, "/p/secret.txt", basic("alice", "new-password")), 200, "new password")
        eq(status(s, "/p/secret.txt", basic("alice", "old")), 401, "old password after change")


def test_malformed_authorization_is_400():
    with Server(htpasswd_conf(), files=FILES) as s:
        s.write("../users", "alice:" + sha1_htpasswd("pw") + "\n")
        eq(status(s, "/p/secret.txt", {"Authorization": "Basic !!!!"}), 400, "bad base64")
        eq(status(s, "/p/secret.txt",
                  {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()}),
           400, "no colon")
        eq(status(s, "/p/secret.txt", {"Authorization": ""}), 401, "empty header")
        r = get(s.port, "/p/secret.txt", headers={"Authorization": "Bearer abc"})
        eq(r.status, 401, "another scheme")
        contains(r.header("WWW-Authenticate", ""), 'realm="Secret Area"', "challenge")


def test_digest_malformed_is_400():
    conf = MODS + ('auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/plain"\n' +
                   protect("digest"))
    with Server(conf, files=FILES) as s:
        s.write("../plain", "bob:pw\n")
        for bad in ['Digest username="bob"', 'Digest username="bob, realm=x',
                    'Digest username="bob", realm="Secret Area", nonce="1", uri="/p/secret.txt", '
                    'response="x", qop=auth']:
            eq(status(s, "/p/secret.txt", {"Authorization": bad}), 400, bad)


def test_digest_unknown_algorithm_and_realm_are_401():
    conf = MODS + ('auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/plain"\n' +
                   protect("digest"))
    with Server(conf, files=FILES) as s:
        s.write("../plain", "bob:pw\n")
        realm, nonce, _ = challenge(s, "/p/secret.txt")["MD5"]
        eq(status(s, "/p/secret.txt", digest_header("SHA-256", "bob", realm, "pw", nonce,
                                                    "/p/secret.txt")), 401, "SHA-256 not offered")
        h = digest_header("MD5", "bob", realm, "pw", nonce, "/p/secret.txt")
        h["Authorization"] = h["Authorization"].replace("algorithm=MD5", "algorithm=SHA-512")
        eq(status(s, "/p/secret.txt", h), 401, "unknown algorithm")
        eq(status(s, "/p/secret.txt", digest_header("MD5", "bob", "Other", "pw", nonce,
                                                    "/p/secret.txt")), 401, "another realm")
        eq(status(s, "/p/secret.txt", digest_header("MD5", "bob", realm, "pw", nonce,
                                                    "/p/other.txt")), 400, "uri of another target")


def test_digest_with_htpasswd_backend_is_a_server_error():
    with Server(MODS + 'auth.backend = "htpasswd"\nauth.backend.htpasswd.userfile = "@TMP@/u"\n' +
                protect("digest"), files=FILES) as s:
        s.write("../u", "bob:" + sha1_htpasswd("pw") + "\n")
        eq(status(s, "/p/secret.txt"), 500, "a hash gives no HA1")
        eq(status(s, "/open.txt"), 200, "other paths")


def challenge(s, path):
    r = get(s.port, path)
    eq(r.status, 401, "challenge status")
    out = {}
    for h in r.header_all("WWW-Authenticate"):
        m = re.fullmatch(r'Digest realm="([^"]*)", charset="UTF-8", algorithm=([\w-]+), '
                         r'nonce="([^"]+)", qop="auth"(, stale=true)?', h)
        check(m, f"digest challenge {h!r}")
        out[m.group(2)] = (m.group(1), m.group(3), bool(m.group(4)))
    return out


def digest_header(alg, user, realm, password, nonce, uri, method="GET", nc="00000001",
                  cnonce="0a4f113b"):
    h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[alg]
    H = lambda t: h(t.encode()).hexdigest()
    ha1 = H(f"{user}:{realm}:{password}")
    ha2 = H(f"{method}:{uri}")
    resp = H(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return {"Authorization": f'Digest username="{user}", realm="{realm}", nonce="{nonce}", '
                             f'uri="{uri}", algorithm={alg}, response="{resp}", qop=auth, '
                             f'nc={nc}, cnonce="{cnonce}"'}


def test_digest_md5_and_sha256():
    conf = MODS + ('auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/plain"\n' +
                   protect("digest", extra=', "algorithm" => "SHA-256|MD5"'))
    with Server(conf, files=FILES) as s:
        s.write("../plain", "bob:pw-b\n")
        ch = challenge(s, "/p/secret.txt")
        eq(sorted(ch), ["MD5", "SHA-256"], "algorithms offered")
        for alg, (realm, nonce, stale) in ch.items():
            eq(stale, False, "fresh challenge is not stale")
            r = get(s.port, "/p/secret.txt",
                    headers=digest_header(alg, "bob", realm, "pw-b", nonce, "/p/secret.txt"))
            eq(r.status, 200, f"{alg} right password")
            eq(r.body, b"secret\n", f"{alg} body")
            eq(status(s, "/p/secret.txt",
                      digest_header(alg, "bob", realm, "wrong", nonce, "/p/secret.txt")),
               401, f"{alg} wrong password")


def test_digest_against_htdigest_file():
    ha1 = hashlib.md5(b"carol:Secret Area:pw-c").hexdigest()
    conf = MODS + ('auth.backend = "htdigest"\nauth.backend.htdigest.userfile = "@TMP@/dig"\n' +
                   protect("digest"))
    with Server(conf, files=FILES) as s:
        s.write("../dig", f"carol:Secret Area:{ha1}\n")
        realm, nonce, _ = challenge(s, "/p/secret.txt")["MD5"]
        eq(status(s, "/p/secret.txt?a=1",
                  digest_header("MD5", "carol", realm, "pw-c", nonce, "/p/secret.txt?a=1")), 200,
           "htdigest MD5 with a query")


def lux_nonce(secret, alg, realm, t):
    mac = hmac.new(secret.encode(), f"{t:08x}:{alg}:{realm}".encode(), hashlib.sha256).hexdigest()
    return f"{t:08x}:" + mac[:32 if alg == "MD5" else 64]


@lux_only("the nonce format (time and an HMAC under nonce_secret) is lux's own")
def test_digest_stale_nonce():
    conf = MODS + ('auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/plain"\n' +
                   protect("digest", extra=', "nonce_secret" => "s3cret", '
                                           '"algorithm" => "SHA-256"'))
    with Server(conf, files=FILES) as s:
        s.write("../plain", "bob:pw-b\n")
        now = int(time.time())
        fresh = lux_nonce("s3cret", "SHA-256", "Secret Area", now)
        eq(status(s, "/p/secret.txt", digest_header("SHA-256", "bob", "Secret Area", "pw-b",
                                                    fresh, "/p/secret.txt")), 200, "fresh nonce")
        old = lux_nonce("s3cret", "SHA-256", "Secret Area", now - 3600)
        r = get(s.port, "/p/secret.txt", headers=digest_header(
            "SHA-256", "bob", "Secret Area", "pw-b", old, "/p/secret.txt"))
        eq(r.status, 401, "stale nonce")
        contains(r.header("WWW-Authenticate", ""), "stale=true", "stale flag")
        forged = lux_nonce("other", "SHA-256", "Secret Area", now)
        r = get(s.port, "/p/secret.txt", headers=digest_header(
            "SHA-256", "bob", "Secret Area", "pw-b", forged, "/p/secret.txt"))
        eq(r.status, 401, "nonce under another secret")
        contains(r.header("WWW-Authenticate", ""), "stale=true",
                 "a nonce of another process is stale: the client knows the password")
        r = get(s.port, "/p/secret.txt", headers=digest_header(
            "SHA-256", "bob", "Secret Area", "wrong", old, "/p/secret.txt"))
        eq(r.status, 401, "stale nonce, wrong password")
        check("stale" not in r.header("WWW-Authenticate", ""), "no stale flag without the password")


def test_require_users_and_groups():
    conf = MODS + ('auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/plain"\n'
                   'auth.require = ( "/p/" => ( "method" => "basic", "realm" => "R", '
                   '"require" => "user=bob|user=eve" ), "/q/" => ( "method" => "basic", '
                   '"realm" => "R", "require" => "group=staff" ) )\n')
    with Server(conf, files=FILES) as s:
        s.write("../plain", "bob:b\neve:e\nmallory:m\n")
        eq(status(s, "/p/secret.txt", basic("bob", "b")), 200, "bob is listed")
        eq(status(s, "/p/secret.txt", basic("eve", "e")), 200, "eve is listed")
        eq(status(s, "/p/secret.txt", basic("mallory", "m")), 401, "mallory is not")
        eq(status(s, "/q/x.txt", basic("bob", "b")), 401, "plain files have no groups")


def test_nested_conditions():
    conf = MODS + ('auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/plain"\n'
                   '$HTTP["host"] == "private.test" {\n'
                   '  $HTTP["url"] =^ "/p/" {\n' + protect(path="/") + '  }\n}\n')
    with Server(conf, files=FILES) as s:
        s.write("../plain", "bob:b\n")
        eq(get(s.port, "/p/secret.txt", host="public.test").status, 200, "other host")
        eq(get(s.port, "/p/secret.txt", host="private.test").status, 401, "both conditions hold")
        eq(get(s.port, "/open.txt", host="private.test").status, 200, "url condition fails")
        eq(get(s.port, "/p/secret.txt", host="private.test", headers=basic("bob", "b")).status,
           200, "with credentials")


def test_prefix_is_case_blind_with_lowercase_filenames():
    conf = (MODS + 'auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/plain"\n' +
            protect() + 'server.force-lowercase-filenames = "enable"\n')
    with Server(conf, files=FILES) as s:
        s.write("../plain", "bob:b\n")
        eq(status(s, "/p/secret.txt"), 401, "same case")
        eq(status(s, "/P/secret.txt"), 401, "other case: the same file")


def test_remote_user_in_access_log():
    conf = (MODS + 'server.modules += ("mod_accesslog")\n'
            'accesslog.filename = "@TMP@/access.log"\naccesslog.format = "%u %s %U"\n'
            'auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/plain"\n' + protect())
    with Server(conf, files=FILES) as s:
        s.write("../plain", "bob:b\n")
        eq(status(s, "/p/secret.txt", basic("bob", "b")), 200, "authenticated")
        eq(status(s, "/open.txt"), 200, "anonymous")
        log = os.path.join(s.tmp, "access.log")
        harness.poll(lambda: len(harness.read_text(log).splitlines()) >= 2, timeout=10,
                     what="two access log lines")
        lines = harness.read_text(log).splitlines()
        eq(sorted(lines), ["- 200 /open.txt", "bob 200 /p/secret.txt"], "log lines")


@lux_only("lighttpd caches a backend's answer differently; lux remembers verified passwords")
def test_cache_remembers_verified_password_until_max_age():
    users = "alice:" + crypt("pw", b"$2b$", 5) + "\n"
    conf = htpasswd_conf(extra='auth.cache = ( "max-age" => "600" )\n')
    with Server(conf, files=FILES) as s:
        s.write("../users", users)
        eq(status(s, "/p/secret.txt", basic("alice", "pw")), 200, "first check")
        s.write("../users", "alice:" + sha1_htpasswd("changed") + "\n")
        eq(status(s, "/p/secret.txt", basic("alice", "pw")), 200, "from the cache")
        eq(status(s, "/p/secret.txt", basic("alice", "changed")), 200, "new password")
    with Server(htpasswd_conf(), files=FILES) as s:
        s.write("../users", users)
        eq(status(s, "/p/secret.txt", basic("alice", "pw")), 200, "first check")
        s.write("../users", "alice:" + sha1_htpasswd("changed") + "\n")
        eq(status(s, "/p/secret.txt", basic("alice", "pw")), 401, "no cache: checked again")


def timed_get(port, path, headers=None, timeout=120):
    """One request and how long its answer took; the timeout allows for a queue of hashes."""
    t = time.monotonic()
    data = harness.raw(port, harness.build_request(path, headers, close=True), timeout=timeout)
    resps = harness.parse_responses(data, ["GET"])
    check(resps, f"no response to GET {path}: {data[:200]!r}")
    return resps[-1], time.monotonic() - t


@serial
@lux_only("lighttpd checks a bcrypt hash on its event loop: a static request waits seconds")
def test_costly_hashes_do_not_delay_other_requests():
    conf = htpasswd_conf(extra="server.max-worker = 1\n")
    with Server(conf, files=FILES) as s:
        s.write("../users", "alice:" + crypt("pw", b"$2b$", 12) + "\n")
        base = min(timed_get(s.port, "/open.txt")[1] for _ in range(5))
        results = []

        def auth_request():
            results.append(timed_get(s.port, "/p/secret.txt", basic("alice", "pw")))

        threads = [threading.Thread(target=auth_request) for _ in range(20)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(0.2)
        static = [timed_get(s.port, "/open.txt") for _ in range(10)]
        for t in threads:
            t.join(120)
        total = time.monotonic() - t0
        eq(sorted(r.status for r, _ in results), [200] * 20, "every authenticated request")
        eq([r.status for r, _ in static], [200] * 10, "static requests")
        worst = max(d for _, d in static)
        print(f"  static alone {base * 1000:.1f} ms; during 20 bcrypt-12 checks worst "
              f"{worst * 1000:.1f} ms; the 20 checks took {total:.1f} s")
        check(worst < 1.0 + 4 * harness.sanitizer_slowdown(),
              f"a static request waited {worst:.2f} s behind password hashing")


def test_extern_authn_trusts_a_verified_client_certificate():
    from test_tls import need_tls
    from test_tls_client_cert import FILES as TLS_FILES, fetch, verify_conf
    need_tls()
    conf = (MODS + 'auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/plain"\n'
            'auth.extern-authn = "enable"\n'
            'auth.require = ( "/" => ( "method" => "basic", "realm" => "R", '
            '"require" => "user=alice" ) )\n' +
            verify_conf('ssl.verifyclient.enforce = "disable"\n'
                        'ssl.verifyclient.username = "SSL_CLIENT_S_DN_CN"\n'))
    with Server(conf, files=TLS_FILES) as s:
        s.write("../plain", "alice:pw\n")
        eq(fetch(s, "alice").stdout.decode(), "hello client\n\n200", "alice's certificate")
        eq(fetch(s, "bob").stdout.decode()[-3:], "401", "bob is not in the require list")
        eq(fetch(s).stdout.decode()[-3:], "401", "no certificate, no password")


@lux_only("lux checks costly hashes on a thread pool; this is about letting go of them")
def test_clients_leaving_during_a_costly_check():
    with Server(htpasswd_conf(extra="server.max-worker = 1\n"), files=FILES) as s:
        s.write("../users", "alice:" + crypt("pw", b"$2b$", 10) + "\n")
        req = harness.build_request("/p/secret.txt", basic("alice", "pw"))
        for _ in range(6):  # each leaves while its password is being checked
            with harness.connect(s.port) as c:
                c.sendall(req)
        eq(timed_get(s.port, "/p/secret.txt", basic("alice", "pw"))[0].status, 200,
           "the server still answers")
        conns = [harness.connect(s.port) for _ in range(4)]
        for c in conns:  # and these are still waiting when the server stops
            c.sendall(req)
        time.sleep(0.05)
        eq(s.stop(), 0, "exit status of a stop with checks still running")
        for c in conns:
            c.close()


def config_loads(conf):
    """Whether the server accepts a config, its modules' settings checked (-tt)."""
    with harness.TempDir() as tmp:
        text = harness.BASE_CONF + conf
        text = text.replace("@TMP@", tmp.path).replace("@DOCROOT@", tmp.path)
        path = tmp.write("lux.conf", text.replace("@PORT@", "80"))
        return harness.run_bin(["-tt", "-f", path]).returncode == 0


def test_bad_auth_require_is_a_config_error():
    base = MODS + 'auth.backend = "plain"\nauth.backend.plain.userfile = "/dev/null"\n'
    check(config_loads(base + protect()), "a good config loads")
    for bad in ['auth.require = ( "/" => ( "method" => "basic", "require" => "valid-user" ) )',
                protect(method="negotiate"),
                protect(require="valid-user|user=bob"),
                protect(require="someone"),
                protect(method="digest", extra=', "algorithm" => "SHA-1"'),
                'auth.require = ( "/" => "basic" )']:
        check(not config_loads(base + bad + "\n"), f"accepted: {bad}")


@lux_only("lighttpd ignores auth.backend.* without mod_authn_file, with a warning")
def test_userfile_needs_mod_authn_file():
    with harness.TempDir() as tmp:
        path = tmp.write("lux.conf", harness.BASE_CONF.replace("@TMP@", tmp.path)
                         .replace("@DOCROOT@", tmp.path).replace("@PORT@", "80") +
                         'server.modules += ("mod_auth")\n'
                         'auth.backend.plain.userfile = "/dev/null"\n')
        cp = harness.run_bin(["-tt", "-f", path])
        check(cp.returncode != 0, "accepted")
        contains(cp.stdout + cp.stderr, "needs mod_authn_file in server.modules", "message")
