"""Digest credentials a client sent, replayed by someone who saw them: they hold only for the
request line they were computed over (another URI is a 400, another method a 401), and a
header whose nc, cnonce or nonce was changed without its response is refused."""

from harness import Server, eq, get
from test_mod_auth import FILES, MODS, challenge, digest_header, protect, status

CONF = MODS + ('auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/plain"\n'
               + protect("digest", path="/"))


def captured(s):
    s.write("../plain", "bob:pw-b\n")
    realm, nonce, _ = challenge(s, "/p/secret.txt")["MD5"]
    h = digest_header("MD5", "bob", realm, "pw-b", nonce, "/p/secret.txt")
    eq(status(s, "/p/secret.txt", h), 200, "the original request")
    return h, nonce


def test_replay_against_another_uri_is_refused():
    with Server(CONF, files=FILES) as s:
        h, _ = captured(s)
        eq(status(s, "/q/x.txt", h), 400, "uri= is not the request's")
        eq(status(s, "/p/secret.txt?x=1", h), 400, "the same path with a query")


def test_replay_with_another_method_is_refused():
    with Server(CONF, files=FILES) as s:
        h, _ = captured(s)
        eq(get(s.port, "/p/secret.txt", headers=h, method="HEAD").status, 401, "HEAD")


def test_changed_fields_without_the_response_are_refused():
    with Server(CONF, files=FILES) as s:
        h, nonce = captured(s)
        value = h["Authorization"]
        for what, old, new in (("nc", "nc=00000001", "nc=00000002"),
                               ("cnonce", 'cnonce="0a4f113b"', 'cnonce="0a4f113c"'),
                               ("nonce", f'nonce="{nonce}"', f'nonce="{nonce[:-1]}{"1" if nonce[-1] != "1" else "2"}"')):
            changed = {"Authorization": value.replace(old, new)}
            eq(status(s, "/p/secret.txt", changed), 401, what)
