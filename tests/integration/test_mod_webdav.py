"""mod_webdav: every method over raw requests and curl, the hostile paths (dot-segments, encoded
dots, symlinks out of the document root), COPY and MOVE out of the WebDAV area, locks and the If
header, XML bodies with a DTD (XXE), and litmus's basic, copymove, props and locks suites."""

import os
import re
import shutil
import subprocess
import time

import harness
from harness import Server, check, contains, eq, get, lux_only

MODS = 'server.modules += ("mod_webdav")\n'
AREA = MODS + (
    '$HTTP["url"] =^ "/dav/" {\n'
    '    webdav.activate = "enable"\n'
    '    webdav.sqlite-db-name = "@TMP@/webdav.db"\n'
    '}\n')
FILES = {"dav/a.txt": "alpha\n", "dav/sub/b.txt": "beta\n", "cgi/keep.txt": "keep\n"}


def dav(s, method, path, headers=None, body=b""):
    """One WebDAV request; the Host is the server's own address, as Destination URLs use."""
    if isinstance(body, str):
        body = body.encode()
    if body.startswith(b"<"):
        headers = dict(headers or {}, **{"Content-Type": "application/xml"})
    return get(s.port, path, headers=headers, method=method, host=f"127.0.0.1:{s.port}",
               body=body)


def dest(s, path):
    return {"Destination": f"http://127.0.0.1:{s.port}{path}"}


def hrefs(resp):
    return re.findall(r"<D:href>([^<]*)</D:href>", resp.body.decode())


def test_webdav_options():
    with Server(AREA, files=FILES) as s:
        r = dav(s, "OPTIONS", "/dav/")
        eq(r.status, 200, "status")
        check(r.header("DAV", "").startswith("1,2"), f"DAV: {r.header('DAV')}")
        for m in ("PROPFIND", "PROPPATCH", "MKCOL", "PUT", "DELETE", "COPY", "MOVE", "LOCK"):
            contains(r.header("Allow", ""), m, "Allow")
        eq(r.header("MS-Author-Via"), "DAV", "MS-Author-Via")


def test_webdav_inactive_outside_area():
    with Server(AREA, files=FILES) as s:
        r = dav(s, "PUT", "/cgi/new.txt", body="x")
        check(r.status in (403, 404, 405), f"PUT outside the area answered {r.status}")
        check(not os.path.exists(s.path("cgi/new.txt")), "a file was written outside the area")


def test_webdav_put_creates_and_replaces_atomically():
    with Server(AREA, files=FILES) as s:
        eq(dav(s, "PUT", "/dav/new.txt", body="one").status, 201, "create")
        eq(get(s.port, "/dav/new.txt").body, b"one", "content")
        big = os.urandom(3 << 20)
        eq(dav(s, "PUT", "/dav/a.txt", body=big).status, 204, "replace")
        with open(s.path("dav/a.txt"), "rb") as f:
            eq(f.read() == big, True, "replaced content")
        eq(sorted(os.listdir(s.path("dav"))), ["a.txt", "new.txt", "sub"], "no temporary left")


def test_webdav_put_streamed_chunked_body():
    conf = AREA + '$HTTP["url"] =^ "/dav/" { server.stream-request-body = 2 }\n'
    with Server(conf, files=FILES) as s:
        body = os.urandom(2 << 20)
        path = os.path.join(s.tmp, "upload.bin")
        with open(path, "wb") as f:
            f.write(body)
        cp = harness.curl(["-o", "/dev/null", "-w", "%{http_code}", "-T", path,
                           "-H", "Transfer-Encoding: chunked", s.url("/dav/up.bin")], timeout=30)
        eq(cp.stdout, b"201", "status")
        with open(s.path("dav/up.bin"), "rb") as f:
            eq(f.read() == body, True, "uploaded content")


def test_webdav_put_into_missing_collection_conflicts():
    with Server(AREA, files=FILES) as s:
        eq(dav(s, "PUT", "/dav/nowhere/x.txt", body="x").status, 409, "status")


def test_webdav_put_content_range_refused():
    with Server(AREA, files=FILES) as s:
        r = dav(s, "PUT", "/dav/a.txt", {"Content-Range": "bytes 0-1/6"}, body="AL")
        eq(r.status, 400, "status")
        eq(open(s.path("dav/a.txt")).read(), "alpha\n", "file unchanged")


def test_webdav_partial_put_with_opt():
    conf = AREA + '$HTTP["url"] =^ "/dav/" {\n' \
        '    webdav.opts = ("deprecated-unsafe-partial-put" => "enable")\n}\n'
    with Server(conf, files=FILES) as s:
        r = dav(s, "PUT", "/dav/a.txt", {"Content-Range": "bytes 1-2/6"}, body="LP")
        check(r.status in (200, 204), f"status {r.status}")
        eq(open(s.path("dav/a.txt")).read(), "aLPha\n", "range applied")


def test_webdav_mkcol_and_recursive_delete():
    with Server(AREA, files=FILES) as s:
        eq(dav(s, "MKCOL", "/dav/c/").status, 201, "mkcol")
        eq(dav(s, "MKCOL", "/dav/c/").status, 405, "mkcol on an existing one")
        eq(dav(s, "MKCOL", "/dav/x/y/").status, 409, "mkcol without parent")
        eq(dav(s, "PUT", "/dav/c/f.txt", body="f").status, 201, "put inside")
        eq(dav(s, "MKCOL", "/dav/c/d/").status, 201, "mkcol inside")
        eq(dav(s, "DELETE", "/dav/c/").status, 204, "delete")
        check(not os.path.exists(s.path("dav/c")), "collection still there")
        eq(dav(s, "DELETE", "/dav/c/").status, 404, "delete again")


def test_webdav_propfind_depths():
    with Server(AREA, files=FILES) as s:
        r = dav(s, "PROPFIND", "/dav/", {"Depth": "0"})
        eq(r.status, 207, "depth 0")
        eq(hrefs(r), ["/dav/"], "depth 0 hrefs")
        r = dav(s, "PROPFIND", "/dav/", {"Depth": "1"})
        eq(sorted(hrefs(r)), ["/dav/", "/dav/a.txt", "/dav/sub/"], "depth 1 hrefs")
        contains(r.body.decode(), "<D:getcontentlength>6</D:getcontentlength>", "live props")
        contains(r.body.decode(), "<D:collection/>", "resourcetype")
        r = dav(s, "PROPFIND", "/dav/nothing", {"Depth": "0"})
        eq(r.status, 404, "missing resource")


def test_webdav_propfind_infinity_needs_opt():
    with Server(AREA, files=FILES) as s:
        r = dav(s, "PROPFIND", "/dav/", {"Depth": "infinity"})
        eq(r.status, 403, "infinity refused")
        contains(r.body.decode(), "propfind-finite-depth", "precondition element")
    conf = AREA + '$HTTP["url"] =^ "/dav/" {\n' \
        '    webdav.opts = ("propfind-depth-infinity" => "enable")\n}\n'
    with Server(conf, files=FILES) as s:
        r = dav(s, "PROPFIND", "/dav/", {"Depth": "infinity"})
        eq(r.status, 207, "infinity allowed")
        contains(" ".join(hrefs(r)), "/dav/sub/b.txt", "the whole tree")


def test_webdav_propfind_named_and_propname():
    with Server(AREA, files=FILES) as s:
        body = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/>'
                '<x:nope xmlns:x="urn:x"/></D:prop></D:propfind>')
        r = dav(s, "PROPFIND", "/dav/a.txt", {"Depth": "0"}, body)
        text = r.body.decode()
        eq(r.status, 207, "status")
        contains(text, "<D:getetag>", "found")
        contains(text, "404 Not Found", "missing property reported")
        check("getcontentlength" not in text, "unasked property sent")
        body = '<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>'
        r = dav(s, "PROPFIND", "/dav/a.txt", {"Depth": "0"}, body)
        contains(r.body.decode(), "getetag/>", "property names")


def test_webdav_proppatch_dead_properties():
    with Server(AREA, files=FILES) as s:
        body = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">'
                '<D:set><D:prop><Z:author>Ann &amp; Bo</Z:author></D:prop></D:set>'
                '</D:propertyupdate>')
        r = dav(s, "PROPPATCH", "/dav/a.txt", body=body)
        check(r.status in (204, 207), f"proppatch: {r.status}")  # lighttpd: 204 when all is set
        if r.status == 207:
            contains(r.body.decode(), "200 OK", "set")
        q = ('<D:propfind xmlns:D="DAV:"><D:prop><Z:author xmlns:Z="urn:z"/></D:prop>'
             '</D:propfind>')
        r = dav(s, "PROPFIND", "/dav/a.txt", {"Depth": "0"}, q)
        contains(r.body.decode(), "Ann &amp; Bo", "stored value")
        eq(dav(s, "COPY", "/dav/a.txt", dest(s, "/dav/c.txt")).status, 201, "copy")
        r = dav(s, "PROPFIND", "/dav/c.txt", {"Depth": "0"}, q)
        contains(r.body.decode(), "Ann &amp; Bo", "copied with the resource")
        live = ('<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
                '<D:getetag>"x"</D:getetag></D:prop></D:set></D:propertyupdate>')
        r = dav(s, "PROPPATCH", "/dav/a.txt", body=live)
        contains(r.body.decode(), "403 Forbidden", "live property protected")


@lux_only("lux parses WebDAV XML itself and refuses any DOCTYPE")
def test_webdav_xml_with_entities_refused():
    with Server(AREA, files=FILES) as s:
        secret = s.write("secret.txt", "TOPSECRET\n")
        body = (f'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file://{secret}">]>'
                '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag>&x;</D:getetag></D:prop>'
                '</D:propfind>')
        r = dav(s, "PROPFIND", "/dav/a.txt", {"Depth": "0"}, body)
        eq(r.status, 400, "status")
        check(b"TOPSECRET" not in r.body, "entity expanded")
        bomb = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
                '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="u">&b;</x></D:prop>'
                '</D:set></D:propertyupdate>')
        eq(dav(s, "PROPPATCH", "/dav/a.txt", body=bomb).status, 400, "entity expansion")


def test_webdav_copy_move_overwrite():
    with Server(AREA, files=FILES) as s:
        h = dest(s, "/dav/sub/b.txt")
        h["Overwrite"] = "F"
        eq(dav(s, "COPY", "/dav/a.txt", h).status, 412, "no overwrite")
        eq(dav(s, "COPY", "/dav/a.txt", dest(s, "/dav/sub/b.txt")).status, 204, "overwrite")
        eq(open(s.path("dav/sub/b.txt")).read(), "alpha\n", "copied content")
        r = dav(s, "MOVE", "/dav/sub/", dest(s, "/dav/moved/"))
        check(r.status in (200, 201), f"move collection: {r.status}")  # lighttpd: 200
        check(os.path.exists(s.path("dav/moved/b.txt")), "moved tree")
        check(not os.path.exists(s.path("dav/sub")), "source gone")
        eq(dav(s, "COPY", "/dav/moved/", dest(s, "/dav/moved/in/")).status, 403, "into itself")
        eq(dav(s, "COPY", "/dav/a.txt", dest(s, "/dav/no/where.txt")).status, 409, "no parent")
        eq(dav(s, "COPY", "/dav/a.txt").status, 400, "no Destination")


@lux_only("lighttpd 1.4.69 deletes the collection that holds the source and answers 204")
def test_webdav_copy_move_over_own_collection_refused():
    with Server(AREA, files=FILES) as s:
        for m in ("COPY", "MOVE"):
            eq(dav(s, m, "/dav/sub/b.txt", dest(s, "/dav/sub/")).status, 403,
               f"{m} over the collection that holds it")
            check(os.path.exists(s.path("dav/sub/b.txt")), f"{m}: source kept")
        eq(dav(s, "MOVE", "/dav/sub/b.txt", dest(s, "/dav")).status, 403, "over the area")
        check(os.path.exists(s.path("dav/a.txt")), "the area kept")


def test_webdav_copy_to_another_host_refused():
    with Server(AREA, files=FILES) as s:
        r = dav(s, "COPY", "/dav/a.txt", {"Destination": "http://elsewhere.example/dav/x.txt"})
        eq(r.status, 502, "status")


@lux_only("lighttpd copies and moves anywhere under the document root")
def test_webdav_copy_move_out_of_area_refused():
    conf = AREA + '$HTTP["url"] =^ "/ro/" {\n    webdav.activate = "enable"\n' \
        '    webdav.is-readonly = "enable"\n}\n'
    with Server(conf, files=FILES) as s:
        for target in ("/cgi/x.php", "/dav/../cgi/x.php", "/dav/%2e%2e/cgi/x.php", "/ro/x.php",
                       "/x.php"):
            for m in ("COPY", "MOVE"):
                r = dav(s, m, "/dav/a.txt", dest(s, target))
                eq(r.status, 403, f"{m} to {target}")
        check(os.path.exists(s.path("dav/a.txt")), "source kept")
        check(not os.path.exists(s.path("cgi/x.php")), "planted outside the area")
        check(not os.path.exists(s.path("x.php")), "planted at the root")


def test_webdav_hostile_request_paths():
    with Server(AREA, files=FILES) as s:
        for path in ("/dav/../x.txt", "/dav/%2e%2e/x.txt", "/dav/%2E%2E/%2e%2e/x.txt"):
            dav(s, "PUT", path, body="x")
            check(not os.path.exists(os.path.join(s.tmp, "x.txt")), f"{path}: outside docroot")
            check(not os.path.exists(s.path("x.txt")), f"{path}: outside the area")


@lux_only("lux never follows a symlink out of the document root for WebDAV")
def test_webdav_symlink_out_of_docroot_refused():
    with Server(AREA, files=FILES) as s:
        outside = os.path.join(s.tmp, "outside")
        os.mkdir(outside)
        os.symlink(outside, s.path("dav/link"))
        eq(dav(s, "PUT", "/dav/link/x.txt", body="x").status, 403, "put through the link")
        eq(dav(s, "MKCOL", "/dav/link/d/").status, 403, "mkcol through the link")
        eq(dav(s, "COPY", "/dav/a.txt", dest(s, "/dav/link/y.txt")).status, 403, "copy")
        eq(os.listdir(outside), [], "nothing written outside")
        eq(dav(s, "DELETE", "/dav/link").status, 204, "the link itself may go")
        check(os.path.isdir(outside), "the link's target stays")


@lux_only("with server.follow-symlink disabled lux refuses WebDAV paths through any symlink")
def test_webdav_symlink_refused_without_follow():
    conf = AREA + 'server.follow-symlink = "disable"\n'
    with Server(conf, files=FILES) as s:
        os.symlink(s.path("dav/sub"), s.path("dav/alias"))
        eq(dav(s, "PUT", "/dav/alias/x.txt", body="x").status, 403, "put through the link")
        check(not os.path.exists(s.path("dav/sub/x.txt")), "written through the link")


def test_webdav_readonly():
    conf = MODS + '$HTTP["url"] =^ "/dav/" {\n    webdav.activate = "enable"\n' \
        '    webdav.is-readonly = "enable"\n}\n'
    with Server(conf, files=FILES) as s:
        eq(dav(s, "PUT", "/dav/a.txt", body="x").status, 403, "put")
        eq(dav(s, "DELETE", "/dav/a.txt").status, 403, "delete")
        eq(dav(s, "MKCOL", "/dav/n/").status, 403, "mkcol")
        eq(dav(s, "PROPFIND", "/dav/", {"Depth": "1"}).status, 207, "propfind")
        eq(open(s.path("dav/a.txt")).read(), "alpha\n", "unchanged")


def test_webdav_unknown_opt_refused():
    conf = MODS + 'webdav.opts = ("no-such-option" => "enable")\n'
    with harness.TempDir() as tmp:
        path = tmp.write("lux.conf", f'server.document-root = "{tmp.path}"\n' + conf)
        cp = harness.run_bin(["-tt", "-f", path])
        check(cp.returncode != 0, "config accepted")
        contains(cp.stdout + cp.stderr, "no-such-option", "message")


LOCKINFO = ('<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
            '<D:lockscope><D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype>'
            '<D:owner><D:href>mailto:ann@example.org</D:href></D:owner></D:lockinfo>')


def lock(s, path, scope="exclusive", depth="infinity"):
    return dav(s, "LOCK", path, {"Depth": depth, "Timeout": "Second-600"},
               LOCKINFO.format(scope=scope))


def test_webdav_exclusive_lock_and_if_header():
    with Server(AREA, files=FILES) as s:
        r = lock(s, "/dav/a.txt")
        eq(r.status, 200, "lock")
        token = r.header("Lock-Token", "")
        check(token.startswith("<urn:uuid:") and token.endswith(">"), f"token {token}")
        eq(dav(s, "PUT", "/dav/a.txt", body="x").status, 423, "put without the token")
        eq(dav(s, "DELETE", "/dav/a.txt").status, 423, "delete without the token")
        eq(dav(s, "MOVE", "/dav/a.txt", dest(s, "/dav/m.txt")).status, 423, "move")
        eq(lock(s, "/dav/a.txt", "shared").status, 423, "second lock")
        good = {"If": f"({token})"}
        eq(dav(s, "PUT", "/dav/a.txt", good, "new").status, 204, "put with the token")
        prop = ('<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="u">1</x></D:prop>'
                '</D:set></D:propertyupdate>')
        eq(dav(s, "PROPPATCH", "/dav/a.txt", body=prop).status, 423, "proppatch locked")
        r = dav(s, "PROPFIND", "/dav/a.txt", {"Depth": "0"})
        contains(r.body.decode(), token[1:-1], "lockdiscovery")
        eq(dav(s, "UNLOCK", "/dav/a.txt", {"Lock-Token": "<urn:uuid:x>"}).status, 409,
           "unlock with a wrong token")
        eq(dav(s, "UNLOCK", "/dav/a.txt", {"Lock-Token": token}).status, 204, "unlock")
        eq(dav(s, "PUT", "/dav/a.txt", body="free").status, 204, "put after unlock")


def test_webdav_shared_locks_and_collection_depth():
    with Server(AREA, files=FILES) as s:
        eq(lock(s, "/dav/a.txt", "shared").status, 200, "first shared")
        eq(lock(s, "/dav/a.txt", "shared").status, 200, "second shared")
        eq(lock(s, "/dav/a.txt", "exclusive").status, 423, "exclusive over shared")
        r = lock(s, "/dav/sub/")
        eq(r.status, 200, "collection lock")
        eq(dav(s, "PUT", "/dav/sub/new.txt", body="x").status, 423, "member under depth lock")
        h = {"If": f"<http://127.0.0.1:{s.port}/dav/sub/> ({r.header('Lock-Token')})"}
        eq(dav(s, "PUT", "/dav/sub/new.txt", h, "x").status, 201, "with the collection token")


@lux_only("lighttpd deletes a collection whose members are locked, and reports no owner")
def test_webdav_locks_strict():
    with Server(AREA, files=FILES) as s:
        r = lock(s, "/dav/sub/b.txt")
        contains(r.body.decode(), "mailto:ann@example.org", "owner in lockdiscovery")
        eq(dav(s, "DELETE", "/dav/sub/").status, 423, "delete an ancestor of a lock")
        eq(dav(s, "MOVE", "/dav/sub/", dest(s, "/dav/m/")).status, 423, "move it")
        check(os.path.exists(s.path("dav/sub/b.txt")), "locked member kept")
        eq(dav(s, "LOCK", "/dav/sub/b.txt", {"If": "(<urn:uuid:nope>)"}).status, 412,
           "refresh of an unknown lock")
        # RFC 4918 10.4: an If header that does not hold fails the request before any lock
        bogus = {"If": "(<urn:uuid:00000000-0000-4000-8000-000000000000>)"}
        eq(dav(s, "PUT", "/dav/sub/b.txt", bogus, "x").status, 412, "put with a foreign token")
        r = dav(s, "LOCK", "/dav/a.txt", {"Timeout": "Second-1"},
                LOCKINFO.format(scope="exclusive"))
        eq(r.status, 200, "short lock")
        eq(dav(s, "PUT", "/dav/a.txt", body="x").status, 423, "locked")
        time.sleep(2.5)
        eq(dav(s, "PUT", "/dav/a.txt", body="x").status, 204, "expired lock gone")


def test_webdav_lock_unmapped_url_creates_resource():
    with Server(AREA, files=FILES) as s:
        r = lock(s, "/dav/fresh.txt", depth="0")
        eq(r.status, 201, "status")
        check(os.path.isfile(s.path("dav/fresh.txt")), "empty resource")


def test_webdav_lock_refresh_and_timeout():
    with Server(AREA, files=FILES) as s:
        r = dav(s, "LOCK", "/dav/a.txt", {"Timeout": "Second-1"},
                LOCKINFO.format(scope="exclusive"))
        token = r.header("Lock-Token")
        r = dav(s, "LOCK", "/dav/a.txt", {"If": f"({token})", "Timeout": "Second-100"})
        eq(r.status, 200, "refresh")
        check(re.search(r"Second-(9\d|100)<", r.body.decode()), "new timeout")


LITMUS_SUITES = {"basic": 16, "copymove": 13, "props": 30, "locks": 41}


@lux_only("lighttpd 1.4.69 fails ten of litmus's props tests")
def test_webdav_litmus():
    if not shutil.which("litmus"):
        raise harness.Skip("litmus is not installed")
    with Server(AREA, files={"dav/.keep": ""}) as s:
        env = dict(os.environ, HOME=s.tmp)
        cp = subprocess.run(["litmus", s.url("/dav/")], cwd=s.tmp, capture_output=True,
                            text=True, timeout=300, env=env)
        out = cp.stdout + cp.stderr
        got = {m[0]: (int(m[2]), int(m[1])) for m in
               re.findall(r"summary for `(\w+)': of (\d+) tests run: (\d+) passed", out)}
        print("  litmus: " + ", ".join(f"{k} {p}/{n}" for k, (p, n) in got.items()))
        for suite, need in LITMUS_SUITES.items():
            check(suite in got, f"litmus did not run {suite}:\n{out[-2000:]}")
            check(got[suite][0] >= need, f"litmus {suite}: {got[suite][0]} passed, want {need}")


def test_webdav_get_right_after_put_sees_the_new_file():
    """The stat cache trusts an entry for a second; a write through WebDAV must not leave any
    worker serving the old file in that second."""
    with Server(AREA + "server.max-worker = 2\n", files=FILES) as s:
        for i in range(6):
            body = f"version {i}\n" * (i + 1)
            eq(dav(s, "PUT", "/dav/a.txt", body=body).status in (201, 204), True, f"PUT {i}")
            eq(get(s.port, "/dav/a.txt").body.decode(), body, f"GET after PUT {i}")
        eq(dav(s, "DELETE", "/dav/a.txt").status, 204, "DELETE")
        eq(get(s.port, "/dav/a.txt").status, 404, "GET after DELETE")
