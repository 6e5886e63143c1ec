"""mod_secdownload: links that carry a mac and a timestamp, generated here as an application
would. lighttpd 1.4.69 as packaged for the reference run has no mod_secdownload, so these are
checked against its documentation and source rather than the binary."""

import base64
import hashlib
import hmac
import os
import time

import harness
from harness import Server, eq, get, write_file

NO_REF = "the reference lighttpd build has no mod_secdownload"
SECRET = "verysecret"


def conf(algorithm="md5", extra=""):
    return ('server.modules += ("mod_secdownload")\n'
            f'secdownload.secret = "{SECRET}"\n'
            'secdownload.document-root = "@TMP@/protected/"\n'
            'secdownload.uri-prefix = "/dl/"\n'
            'secdownload.timeout = 120\n'
            f'secdownload.algorithm = "{algorithm}"\n' + extra)


def protected(s, files):
    for rel, content in files.items():
        write_file(os.path.join(s.tmp, "protected", rel), content)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def link(rel, algorithm="md5", ts=None, secret=SECRET, segments=0, query=""):
    """The URL an application hands out for rel ("/file"), as lighttpd documents it."""
    ts = "%08x" % (int(time.time()) if ts is None else ts)
    signed = "/" + ts + rel
    if segments:
        parts = signed.split("/")  # "", ts, then the segments of rel
        if len(parts) > 2 + segments:
            signed = "/".join(parts[:2 + segments])
    if query:
        signed += "?" + query
    if algorithm == "md5":
        srel = signed[len(ts) + 1:]
        mac = hashlib.md5((secret + srel + ts).encode()).hexdigest()
    else:
        digest = hashlib.sha1 if algorithm == "hmac-sha1" else hashlib.sha256
        mac = b64url(hmac.new(secret.encode(), signed.encode(), digest).digest())
    return "/dl/" + mac + "/" + ts + rel + ("?" + query if query else "")


@harness.lux_only(NO_REF)
def test_valid_links_for_each_algorithm():
    for alg in ("md5", "hmac-sha1", "hmac-sha256"):
        with Server(conf(alg), files={"f.txt": "public\n"}) as s:
            protected(s, {"f.txt": "secret file\n", "d/g.txt": "deeper\n"})
            r = get(s.port, link("/f.txt", alg))
            eq((r.status, r.body), (200, b"secret file\n"), f"{alg} /f.txt")
            eq(get(s.port, link("/d/g.txt", alg)).body, b"deeper\n", f"{alg} /d/g.txt")
            eq(get(s.port, "/f.txt").body, b"public\n", "other paths untouched")


@harness.lux_only(NO_REF)
def test_md5_mac_in_upper_case_hex():
    with Server(conf()) as s:
        protected(s, {"f.txt": "secret file\n"})
        url = link("/f.txt")
        mac = url.split("/")[2]
        eq(get(s.port, url.replace(mac, mac.upper())).status, 200, "upper-case hex")


@harness.lux_only(NO_REF)
def test_bad_mac_is_403():
    for alg in ("md5", "hmac-sha1", "hmac-sha256"):
        with Server(conf(alg)) as s:
            protected(s, {"f.txt": "secret file\n", "g.txt": "other\n"})
            good = link("/f.txt", alg)
            mac = good.split("/")[2]
            # another digit, not another case: hex macs compare case-insensitively
            flipped = ("0" if mac[0] != "0" else "1") + mac[1:]
            eq(get(s.port, good.replace(mac, flipped)).status, 403, f"{alg} altered mac")
            eq(get(s.port, link("/f.txt", alg, secret="wrong")).status, 403, f"{alg} secret")
            # a mac for one file does not open another
            eq(get(s.port, good.replace("/f.txt", "/g.txt")).status, 403, f"{alg} other file")


@harness.lux_only(NO_REF)
def test_expired_or_future_link_is_410():
    with Server(conf()) as s:
        protected(s, {"f.txt": "secret file\n"})
        now = int(time.time())
        eq(get(s.port, link("/f.txt", ts=now - 3600)).status, 410, "an hour old")
        eq(get(s.port, link("/f.txt", ts=now + 3600)).status, 410, "an hour ahead")
        eq(get(s.port, link("/f.txt", ts=now - 30)).status, 200, "within the timeout")


@harness.lux_only(NO_REF)
def test_malformed_links_are_not_ours():
    with Server(conf(), files={"dl/x": "plain file\n"}) as s:
        protected(s, {"f.txt": "secret file\n"})
        eq(get(s.port, "/dl/x").body, b"plain file\n", "short path is a plain path")
        mac = "0" * 32
        for path in ["/dl/" + mac + "/zzzz/f.txt", "/dl/" + mac + "f.txt",
                     "/dl/" + "!" * 32 + "/00000000/f.txt", "/dl/" + mac + "/" + "0" * 17 + "/f",
                     "/dl/" + mac + "//f.txt"]:
            eq(get(s.port, path).status, 404, f"status for {path}")


@harness.lux_only(NO_REF)
def test_path_segments_sign_a_directory():
    with Server(conf("hmac-sha256", "secdownload.path-segments = 1\n")) as s:
        protected(s, {"album/a.jpg": "a\n", "album/b.jpg": "b\n", "other/c.jpg": "c\n"})
        url = link("/album/a.jpg", "hmac-sha256", segments=1)
        eq(get(s.port, url).body, b"a\n", "signed file")
        eq(get(s.port, url.replace("/a.jpg", "/b.jpg")).body, b"b\n", "same directory")
        eq(get(s.port, url.replace("/album/a.jpg", "/other/c.jpg")).status, 403, "other dir")


@harness.lux_only(NO_REF)
def test_hash_querystr():
    with Server(conf("hmac-sha1", "secdownload.hash-querystr = \"enable\"\n")) as s:
        protected(s, {"f.txt": "secret file\n"})
        url = link("/f.txt", "hmac-sha1", query="user=1")
        eq(get(s.port, url).status, 200, "query signed")
        eq(get(s.port, url.replace("user=1", "user=2")).status, 403, "query changed")


@harness.lux_only(NO_REF)
def test_settings_inside_conditions():
    extra = '$HTTP["host"] == "b.test" { secdownload.secret = "other" }\n'
    with Server(conf("md5", extra)) as s:
        protected(s, {"f.txt": "secret file\n"})
        eq(get(s.port, link("/f.txt")).status, 200, "global secret")
        eq(get(s.port, link("/f.txt"), host="b.test").status, 403, "b.test has its own")
        eq(get(s.port, link("/f.txt", secret="other"), host="b.test").status, 200, "its secret")


@harness.lux_only(NO_REF)
def test_missing_secret_is_500():
    text = ('server.modules += ("mod_secdownload")\n'
            'secdownload.document-root = "@TMP@/protected/"\nsecdownload.uri-prefix = "/dl/"\n')
    with Server(text) as s:
        eq(get(s.port, link("/f.txt")).status, 500, "no secret")


@harness.lux_only(NO_REF)
def test_unknown_algorithm_refused():
    with harness.TempDir() as tmp:
        text = (harness.BASE_CONF + conf("sha1")).replace("@TMP@", tmp.path)
        text = text.replace("@DOCROOT@", tmp.path).replace("@PORT@", "80")
        eq(harness.run_bin(["-tt", "-f", tmp.write("lux.conf", text)]).returncode != 0, True,
           "config refused")
