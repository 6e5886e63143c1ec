"""Static files: content types, index files, redirects, validators, errors, large files."""

import os
import time
from email.utils import formatdate

from harness import Server, Skip, check, contains, eq, get, lux_only, sha256

FILES = {
    "index.html": "<p>index</p>\n",
    "a.txt": "plain text\n",
    "s.css": "body{}\n",
    "j.js": "var x;\n",
    "p.png": b"\x89PNG\r\n\x1a\n" + bytes(range(64)),
    "d.json": "{}\n",
    "noext": "no extension\n",
    "sub/index.html": "sub index\n",
}


def test_content_and_types():
    want = {"/a.txt": "text/plain", "/index.html": "text/html", "/s.css": "text/css",
            "/j.js": "text/javascript", "/p.png": "image/png", "/d.json": "application/json"}
    with Server(files=FILES) as s:
        for path, ctype in want.items():
            r = get(s.port, path)
            eq(r.status, 200, f"{path} status")
            content = FILES[path[1:]]
            eq(r.body, content.encode() if isinstance(content, str) else content, f"{path} body")
            eq((r.header("Content-Type") or "").split(";")[0], ctype, f"{path} Content-Type")


def test_unknown_extension_type():
    with Server(files=FILES) as s:
        r = get(s.port, "/noext")
        eq(r.status, 200, "status")
        eq(r.header("Content-Type"), "application/octet-stream", "Content-Type")


def test_mimetype_assign_override():
    conf = '$HTTP["url"] =^ "/special/" { mimetype.assign = (".txt" => "text/x-special") }\n'
    with Server(conf, files=dict(FILES, **{"special/a.txt": "s\n"})) as s:
        eq(get(s.port, "/special/a.txt").header("Content-Type"), "text/x-special", "override")
        eq(get(s.port, "/a.txt").header("Content-Type"), "text/plain", "outside the block")


def test_index_file_order():
    files = {"d/index.txt": "txt\n", "d/index.html": "html\n", "e/index.html": "html\n"}
    with Server('index-file.names = ("index.txt", "index.html")\n', files=files) as s:
        eq(get(s.port, "/d/").body, b"txt\n", "first name in the list wins")
        eq(get(s.port, "/e/").body, b"html\n", "falls back to the second name")


def test_directory_without_index_names_403():
    """index-file.names is empty by default; without a listing a directory is forbidden."""
    with Server(files=FILES) as s:
        eq(get(s.port, "/sub/").status, 403, "status")


def test_directory_without_slash_redirects():
    with Server(files=FILES) as s:
        r = get(s.port, "/sub?x=1&y=%20")
        eq(r.status, 301, "status")
        loc = r.header("Location") or ""
        check(loc.endswith("/sub/?x=1&y=%20"), f"Location {loc!r}")
        r = get(s.port, "/sub")
        check((r.header("Location") or "").endswith("/sub/"), "Location without a query")


def test_etag_and_last_modified():
    with Server(files=FILES) as s:
        r = get(s.port, "/a.txt")
        etag = r.header("ETag") or ""
        check(etag.startswith('"') and etag.endswith('"') and len(etag) > 2, f"ETag {etag!r}")
        mtime = os.stat(s.path("a.txt")).st_mtime
        eq(r.header("Last-Modified"), formatdate(int(mtime), usegmt=True), "Last-Modified")
        eq(get(s.port, "/a.txt").header("ETag"), etag, "ETag is stable")


def test_etag_changes_with_content():
    with Server(files=FILES) as s:
        e1 = get(s.port, "/a.txt").header("ETag")
        s.write("a.txt", "different and longer\n")
        os.utime(s.path("a.txt"), (time.time() + 10, time.time() + 10))
        e2 = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:   # a stat cache may hold the old entry for a second
            e2 = get(s.port, "/a.txt").header("ETag")
            if e2 != e1:
                break
            time.sleep(0.1)
        check(e2 != e1, "ETag unchanged after the file changed")


def test_if_none_match_304():
    with Server(files=FILES) as s:
        etag = get(s.port, "/a.txt").header("ETag")
        for value in (etag, f'"nope", {etag}', "*"):
            r = get(s.port, "/a.txt", headers={"If-None-Match": value})
            eq(r.status, 304, f"status for If-None-Match: {value}")
            eq(r.body, b"", "304 body")
            eq(r.header("ETag"), etag, "304 ETag")
        eq(get(s.port, "/a.txt", headers={"If-None-Match": '"nope"'}).status, 200,
           "non-matching If-None-Match")


def test_if_modified_since_304():
    with Server(files=FILES) as s:
        lm = get(s.port, "/a.txt").header("Last-Modified")
        eq(get(s.port, "/a.txt", headers={"If-Modified-Since": lm}).status, 304, "same date")
        old = "Mon, 01 Jan 1990 00:00:00 GMT"
        eq(get(s.port, "/a.txt", headers={"If-Modified-Since": old}).status, 200, "older date")


@lux_only("lighttpd ignores If-Match on static files")
def test_if_match_mismatch_412():
    with Server(files=FILES) as s:
        eq(get(s.port, "/a.txt", headers={"If-Match": '"nope"'}).status, 412, "status")
        etag = get(s.port, "/a.txt").header("ETag")
        eq(get(s.port, "/a.txt", headers={"If-Match": etag}).status, 200, "matching If-Match")


@lux_only("lighttpd ignores If-Unmodified-Since on static files")
def test_if_unmodified_since_past_412():
    with Server(files=FILES) as s:
        r = get(s.port, "/a.txt", headers={"If-Unmodified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"})
        eq(r.status, 412, "status")


def test_exclude_extensions_403():
    with Server('static-file.exclude-extensions = (".php", "~")\n',
                files=dict(FILES, **{"x.php": "<?php\n", "x.txt~": "backup\n"})) as s:
        eq(get(s.port, "/x.php").status, 403, "excluded extension")
        eq(get(s.port, "/x.txt~").status, 403, "excluded suffix")
        eq(get(s.port, "/a.txt").status, 200, "other file")


def test_etags_disabled():
    with Server('static-file.etags = "disable"\n', files=FILES) as s:
        r = get(s.port, "/a.txt")
        eq(r.status, 200, "status")
        eq(r.header("ETag"), None, "ETag")
        check(r.has("Last-Modified"), "Last-Modified missing")


def test_missing_file_404():
    with Server(files=FILES) as s:
        r = get(s.port, "/does/not/exist.txt")
        eq(r.status, 404, "status")
        contains(r.text(), "404", "body")


def test_unreadable_file_403():
    if os.geteuid() == 0:
        raise Skip("root reads every file")
    with Server(files=FILES) as s:
        os.chmod(s.path("a.txt"), 0)
        eq(get(s.port, "/a.txt").status, 403, "status")


def test_follow_symlink_disabled():
    with Server('server.follow-symlink = "disable"\n', files=FILES) as s:
        os.symlink(s.path("a.txt"), s.path("link.txt"))
        eq(get(s.port, "/link.txt").status, 403, "status")
        eq(get(s.port, "/a.txt").status, 200, "regular file")


def test_follow_symlink_default():
    with Server(files=FILES) as s:
        os.symlink(s.path("a.txt"), s.path("link.txt"))
        r = get(s.port, "/link.txt")
        eq((r.status, r.body), (200, b"plain text\n"), "symlink followed")


def test_error_handler_404():
    """lighttpd answers with the handler's own status (200 for a static page)."""
    with Server('server.error-handler-404 = "/404.html"\n',
                files=dict(FILES, **{"404.html": "custom not found\n"})) as s:
        r = get(s.port, "/missing.txt")
        eq(r.body, b"custom not found\n", "body")
        eq(r.status, 200, "status")
        eq(r.header("Content-Type"), "text/html", "Content-Type")


def test_errorfile_prefix():
    with Server('server.errorfile-prefix = "@TMP@/status-"\n', files=FILES) as s:
        with open(os.path.join(s.tmp, "status-404.html"), "w") as f:
            f.write("prefixed 404 page\n")
        r = get(s.port, "/missing.txt")
        eq(r.status, 404, "status")
        eq(r.body, b"prefixed 404 page\n", "body")
        eq(r.header("Content-Type"), "text/html", "Content-Type")


def test_head_static():
    with Server(files=FILES) as s:
        g = get(s.port, "/a.txt")
        h = get(s.port, "/a.txt", method="HEAD")
        eq(h.status, 200, "status")
        eq(h.body, b"", "HEAD body")
        for name in ("Content-Length", "Content-Type", "ETag", "Last-Modified"):
            eq(h.header(name), g.header(name), name)


def test_large_file_intact():
    big = os.urandom(1 << 20) * 5 + os.urandom(12345)
    with Server(files={"big.bin": big}) as s:
        r = get(s.port, "/big.bin")
        eq(r.status, 200, "status")
        eq(r.header("Content-Length"), str(len(big)), "Content-Length")
        eq(sha256(r.body), sha256(big), "body digest")


def test_range_requests_disabled():
    with Server('server.range-requests = "disable"\n', files=FILES) as s:
        r = get(s.port, "/a.txt", headers={"Range": "bytes=0-1"})
        eq(r.status, 200, "status")
        eq(r.body, b"plain text\n", "full body")
        eq(r.header("Content-Range"), None, "Content-Range")


def test_percent_encoded_path():
    with Server(files={"a b.txt": "space\n", "ü.txt": "umlaut\n"}) as s:
        eq(get(s.port, "/a%20b.txt").body, b"space\n", "%20")
        eq(get(s.port, "/%C3%BC.txt").body, b"umlaut\n", "UTF-8 escape")


def test_query_string_ignored_for_files():
    with Server(files=FILES) as s:
        eq(get(s.port, "/a.txt?x=1").body, b"plain text\n", "body")
