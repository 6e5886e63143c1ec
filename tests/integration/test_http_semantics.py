"""HTTP details compared with lighttpd 1.4.69: Host normalisation, MIME types, error handlers."""

from harness import Server, check, eq, get

# In a condition, as BASE_CONF already assigns the global table.
MIME_CONF = """\
$HTTP["url"] =^ "/" {
    mimetype.assign = (
        ".js" => "application/javascript",
        ".mjs" => "application/javascript",
        ".jpg" => "image/jpeg",
        ".tar.gz" => "application/x-tgz",
        ".gz" => "application/gzip",
        "" => "application/octet-stream",
    )
}
"""
MIME_FILES = {"a.js": "var a;\n", "b.mjs": "export {};\n", "image.JPG": b"\xff\xd8\xff",
              "p.Tar.Gz": b"\x1f\x8b", "plain.gz": b"\x1f\x8b", "noext": "x\n"}


def content_type(s, path):
    r = get(s.port, path)
    eq(r.status, 200, f"{path} status")
    return r.header("Content-Type")


def test_host_trailing_dot_redirect_keeps_port():
    with Server(files={"sub/x.txt": "x\n"}) as s:
        r = get(s.port, "/sub", host="a.b.:80")
        eq(r.status, 301, "status")
        loc = r.header("Location") or ""
        # lighttpd answers with the path alone; an absolute Location must name the normalised
        # host, not what followed it in memory before normalisation.
        check(loc in ("/sub/", "http://a.b:80/sub/"), f"Location {loc!r}")


def test_host_empty_port_redirect():
    with Server(files={"sub/x.txt": "x\n"}) as s:
        loc = get(s.port, "/sub?q=1", host="A.B.:").header("Location") or ""
        check(loc in ("/sub/?q=1", "http://a.b/sub/?q=1"), f"Location {loc!r}")


def test_js_assigned_application_javascript_is_text_javascript():
    with Server(MIME_CONF, files=MIME_FILES) as s:
        eq(content_type(s, "/a.js"), "text/javascript", ".js")
        eq(content_type(s, "/b.mjs"), "application/javascript", ".mjs keeps its type")


def test_mimetype_suffix_case_insensitive():
    with Server(MIME_CONF, files=MIME_FILES) as s:
        eq(content_type(s, "/image.JPG"), "image/jpeg", "upper-case extension")
        eq(content_type(s, "/p.Tar.Gz"), "application/x-tgz", "longest suffix in any case")
        eq(content_type(s, "/plain.gz"), "application/gzip", "exact suffix")
        eq(content_type(s, "/noext"), "application/octet-stream", "fallback")
