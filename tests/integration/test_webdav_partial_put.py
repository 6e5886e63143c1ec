"""mod_webdav's webdav.opts "partial-put-copy-modify": a PUT with Content-Range modifies a copy
of the file and renames it over the original, so readers never see a half-written range."""

import os

from harness import Server, check, eq, lux_only
from test_mod_webdav import AREA, FILES, dav

COPY = AREA + ('$HTTP["url"] =^ "/dav/" {\n'
               '    webdav.opts = ("partial-put-copy-modify" => "enable")\n}\n')


def test_partial_put_modifies_a_copy():
    with Server(COPY, files=FILES) as s:
        path = s.path("dav/a.txt")
        before = os.stat(path).st_ino
        r = dav(s, "PUT", "/dav/a.txt", {"Content-Range": "bytes 1-2/6"}, body="LP")
        check(r.status in (200, 204), f"status {r.status}")
        eq(open(path).read(), "aLPha\n", "range applied")
        check(os.stat(path).st_ino != before, "the file was replaced, not written in place")
        r = dav(s, "PUT", "/dav/a.txt", {"Content-Range": "bytes 8-9/*"}, body="XY")
        check(r.status in (200, 204), f"status past the end {r.status}")
        eq(open(path, "rb").read(), b"aLPha\n\0\0XY", "range past the end")
        eq([n for n in os.listdir(s.path("dav")) if n.startswith(".")], [], "no temporary left")


def test_partial_put_needs_a_file_to_modify():
    with Server(COPY, files=FILES) as s:
        r = dav(s, "PUT", "/dav/new.txt", {"Content-Range": "bytes 0-1/2"}, body="ab")
        eq(r.status, 404, "status")
        check(not os.path.exists(s.path("dav/new.txt")), "nothing created")


def test_whole_put_unchanged_by_the_option():
    with Server(COPY, files=FILES) as s:
        eq(dav(s, "PUT", "/dav/a.txt", body="whole\n").status, 204, "replace")
        eq(open(s.path("dav/a.txt")).read(), "whole\n", "content")


@lux_only("lighttpd 1.4.69 gives the modified copy its default permissions")
def test_partial_put_keeps_the_permissions():
    with Server(COPY, files=FILES) as s:
        os.chmod(s.path("dav/a.txt"), 0o640)
        r = dav(s, "PUT", "/dav/a.txt", {"Content-Range": "bytes 0-0/6"}, body="A")
        check(r.status in (200, 204), f"status {r.status}")
        eq(os.stat(s.path("dav/a.txt")).st_mode & 0o777, 0o640, "permissions")
