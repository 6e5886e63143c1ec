"""HTTP details compared with lighttpd 1.4.69: Host normalisation, MIME types, error handlers."""

from harness import Server, check, eq, get, lux_only

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


ERR_FILES = {"err/e.html": "ERRPAGE\n", "err/404.html": "E404\n", "secret/x.txt": "s\n",
             "noindex/a.txt": "a\n", "six.txt": "abcdef"}
DENY = 'server.modules += ("mod_access")\n$HTTP["url"] =^ "/secret/" { url.access-deny = ("") }\n'


def test_error_handler_serves_each_error_with_its_status():
    conf = DENY + 'server.error-handler = "/err/e.html"\n'
    with Server(conf, files=ERR_FILES) as s:
        for path, status in (("/nope", 404), ("/secret/x.txt", 403), ("/noindex/", 403)):
            r = get(s.port, path)
            eq(r.status, status, f"{path} status")
            eq(r.body, b"ERRPAGE\n", f"{path} body")
            eq(r.header("Content-Type"), "text/html", f"{path} Content-Type")
        eq(get(s.port, "/six.txt").body, b"abcdef", "a good answer is left alone")


def test_error_handler_wins_over_error_handler_404():
    conf = 'server.error-handler = "/err/e.html"\nserver.error-handler-404 = "/err/404.html"\n'
    with Server(conf, files=ERR_FILES) as s:
        r = get(s.port, "/nope")
        eq((r.status, r.body), (404, b"ERRPAGE\n"), "404")


def test_error_handler_in_condition():
    conf = ('$HTTP["url"] =^ "/a/" { server.error-handler = "/err/e.html" }\n'
            'server.error-handler-404 = "/err/404.html"\n')
    with Server(conf, files=ERR_FILES) as s:
        r = get(s.port, "/a/x")
        eq((r.status, r.body), (404, b"ERRPAGE\n"), "inside the condition")
        r = get(s.port, "/b/x")
        eq((r.status, r.body), (200, b"E404\n"), "error-handler-404 elsewhere")


def test_error_handler_runs_as_get():
    with Server('server.error-handler = "/err/e.html"\n', files=ERR_FILES) as s:
        for method in ("DELETE", "POST", "OPTIONS"):
            r = get(s.port, "/nope", method=method, body=b"x" if method == "POST" else b"")
            eq((r.status, r.body), (404, b"ERRPAGE\n"), method)
        r = get(s.port, "/nope", method="HEAD")
        eq((r.status, r.body), (404, b""), "HEAD")


def test_error_handler_page_sent_whole_despite_range():
    with Server('server.error-handler = "/err/e.html"\n', files=ERR_FILES) as s:
        r = get(s.port, "/nope", headers={"Range": "bytes=0-1"})
        eq((r.status, r.body), (404, b"ERRPAGE\n"), "Range on a missing file")
        eq(r.header("Content-Range"), None, "Content-Range")


def test_error_handler_missing_falls_back_to_error_page():
    with Server('server.error-handler = "/err/missing.html"\n', files=ERR_FILES) as s:
        for path, status in (("/nope", 404), ("/noindex/", 403)):
            r = get(s.port, path)
            eq(r.status, status, f"{path} status")
            check(b"ERRPAGE" not in r.body and r.body, f"{path} body {r.body[:80]!r}")


def test_error_handler_404_serves_403_too():
    with Server('server.error-handler-404 = "/err/404.html"\n', files=ERR_FILES) as s:
        r = get(s.port, "/noindex/")
        eq((r.status, r.body), (200, b"E404\n"), "403 through error-handler-404")


@lux_only("lighttpd 1.4.69 serves an absolute-form target without Host; RFC 9112 3.2 says 400")
def test_absolute_form_without_host_is_400():
    with Server(files={"a.txt": "a\n"}) as s:
        r = get(s.port, "http://example.com/a.txt", host=None)
        eq(r.status, 400, "status")
