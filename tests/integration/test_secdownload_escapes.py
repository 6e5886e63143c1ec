"""mod_secdownload and paths that try to leave secdownload.document-root: dot-segments, plain
or percent-encoded, in a link signed for them, and a symlink out of the root with
server.follow-symlink disabled. None of them serves the file outside."""

import os
import socket

import harness
from harness import Server, check, eq, get
from test_mod_secdownload import NO_REF, conf, link, protected

OUTSIDE = "outside the protected root\n"


def raw_get(port, target):
    """A request line sent as is (clients normalise dot-segments away)."""
    with harness.connect(port) as c:
        c.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                  .encode())
        data, _ = harness.read_all(c)
    return harness.parse_responses(data)[0]


@harness.lux_only(NO_REF)
def test_dot_segments_in_a_signed_link_stay_inside():
    with Server(conf(), files={"f.txt": "docroot\n"}) as s:
        protected(s, {"in/f.txt": "inside\n"})
        harness.write_file(os.path.join(s.tmp, "outside.txt"), OUTSIDE)
        for rel in ("/../outside.txt", "/in/../../outside.txt", "/%2e%2e/outside.txt",
                    "/in/%2E%2E/%2e%2e/outside.txt", "/..%2foutside.txt"):
            r = raw_get(s.port, link(rel))
            check(r.status != 200 and OUTSIDE.encode() not in r.body,
                  f"{rel}: status {r.status}, body {r.body[:80]!r}")


@harness.lux_only(NO_REF)
def test_symlink_out_of_the_root_with_follow_symlink_disabled():
    with Server(conf(extra='server.follow-symlink = "disable"\n'), files={}) as s:
        protected(s, {"f.txt": "inside\n"})
        harness.write_file(os.path.join(s.tmp, "outside.txt"), OUTSIDE)
        os.symlink(os.path.join(s.tmp, "outside.txt"), os.path.join(s.tmp, "protected", "l.txt"))
        eq(get(s.port, link("/f.txt")).status, 200, "a file inside")
        r = get(s.port, link("/l.txt"))
        eq(r.status, 403, "a symlink out")
        check(OUTSIDE.encode() not in r.body, "body")
