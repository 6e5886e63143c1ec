"""mod_dirlisting under load: large directories, the entry cap, symlinks, dir-listing.cache."""

import os
import time

import harness
from harness import Conn, Server, check, contains, eq, get, lux_only
from test_dirlisting import entries

CONF = 'server.modules += ("mod_dirlisting")\ndir-listing.activate = "enable"\n'
CAP = 10000


def fill(s, rel, count):
    """count empty files named f00000... in the docroot directory rel."""
    d = s.path(rel)
    os.makedirs(d, exist_ok=True)
    for i in range(count):
        with open(os.path.join(d, f"f{i:05d}"), "wb"):
            pass


def names(r):
    return [n for _, n in entries(r.text())]


def test_large_directory_listed_whole():
    with Server(CONF) as s:
        fill(s, "big", 3000)
        r = get(s.port, "/big/")
        eq(r.status, 200, "status")
        got = names(r)
        eq(got, [f"f{i:05d}" for i in range(3000)], "every entry, sorted")
        eq(int(r.header("Content-Length")), len(r.body), "Content-Length")


@lux_only("lighttpd 1.4.69 lists every entry of a directory")
def test_listing_cut_at_cap_says_so():
    with Server(CONF) as s:
        fill(s, "huge", CAP + 50)
        r = get(s.port, "/huge/")
        eq(r.status, 200, "status")
        eq(len(names(r)), CAP, "entries listed")
        contains(r.text(), f"more than {CAP} entries; only {CAP} are listed", "cut note")
        fill(s, "full", CAP)
        r = get(s.port, "/full/")
        eq(len(names(r)), CAP, "a directory of exactly the cap")
        check('class="cut"' not in r.text(), "no cut note for a complete listing")


def symlink_site(s):
    s.write("ls/sub/inner.txt", "inner\n")
    s.write("ls/real.txt", "x" * 5000)
    os.symlink("real.txt", s.path("ls/file-link"))
    os.symlink("sub", s.path("ls/dir-link"))
    os.symlink("/nonexistent/target", s.path("ls/dangling"))


def row(body, name):
    """The table row of entry name."""
    start = body.find(f">{name}</a>")
    check(start >= 0, f"{name} not listed")
    return body[body.rfind("<tr", 0, start):body.find("</tr>", start)]


def test_symlinks_followed_by_default():
    with Server(CONF) as s:
        symlink_site(s)
        r = get(s.port, "/ls/")
        listed = names(r)
        check("dangling" not in listed, f"dangling link listed: {listed}")
        contains(row(r.text(), "dir-link"), "Directory", "link to a directory")
        eq(row(r.text(), "file-link").split('class="s">')[1].split("<")[0],
           row(r.text(), "real.txt").split('class="s">')[1].split("<")[0],
           "a link to a file shows the target's size")


@lux_only("lighttpd 1.4.69 follows symlinks in listings even with server.follow-symlink off")
def test_symlinks_not_followed_when_disabled():
    with Server(CONF + 'server.follow-symlink = "disable"\n') as s:
        symlink_site(s)
        r = get(s.port, "/ls/")
        listed = names(r)
        check("dangling" in listed, f"a link is listed as itself: {listed}")
        check("Directory" not in row(r.text(), "dir-link"), "link to a directory not followed")
        size = row(r.text(), "real.txt").split('class="s">')[1].split("<")[0]
        check(size not in row(r.text(), "file-link"), "link to a file not followed")


def cache_conf(max_age):
    return CONF + f'dir-listing.cache = ("path" => "@TMP@", "max-age" => {max_age})\n'


def test_cache_serves_listing_within_max_age():
    with Server(cache_conf(60)) as s:
        s.write("c/a.txt", "x" * 1000)
        time.sleep(1.1)  # lighttpd caches only a directory older than the current second
        # One connection: lux keeps listings per worker, and a new connection may land on
        # another one.
        with Conn(s.port) as c:
            r = c.request("/c/")
            eq(r.header("Cache-Control"), "max-age=60", "Cache-Control")
            before = row(r.text(), "a.txt")
            s.write("c/a.txt", "x" * 50000)  # the directory itself does not change
            eq(row(c.request("/c/").text(), "a.txt"), before, "the cached page")


def test_no_cache_without_setting():
    with Server(CONF) as s:
        s.write("c/a.txt", "x" * 1000)
        r = get(s.port, "/c/")
        eq(r.header("Cache-Control"), None, "Cache-Control")
        before = row(r.text(), "a.txt")
        s.write("c/a.txt", "x" * 50000)
        check(row(get(s.port, "/c/").text(), "a.txt") != before, "a fresh page")


def test_cache_expires_after_max_age():
    with Server(cache_conf(1)) as s:
        s.write("c/a.txt", "a\n")
        check("new.txt" not in names(get(s.port, "/c/")), "before")
        s.write("c/new.txt", "n\n")
        time.sleep(2.5)
        check("new.txt" in names(get(s.port, "/c/")), "a new file shows up after max-age")


@lux_only("lighttpd 1.4.69 keeps a cached listing for max-age even when the directory changes")
def test_cache_dropped_when_directory_changes():
    with Server(cache_conf(60)) as s:
        s.write("c/a.txt", "a\n")
        check("new.txt" not in names(get(s.port, "/c/")), "before")
        s.write("c/new.txt", "n\n")
        # the stat cache trusts what it saw for a second
        time.sleep(1.5)
        check("new.txt" in names(get(s.port, "/c/")), "the changed directory is read again")


def test_cache_requires_path():
    with harness.TempDir() as tmp:
        path = tmp.write("lux.conf", f'server.document-root = "{tmp.path}"\n' + CONF +
                         'dir-listing.cache = ("max-age" => 10)\n')
        cp = harness.run_bin(["-tt", "-f", path])
        check(cp.returncode != 0, 'a dir-listing.cache without "path" was accepted')
        check("dir-listing.cache" in cp.stdout + cp.stderr, f"key not named: {cp.stderr!r}")
