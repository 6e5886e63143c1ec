"""mod_dirlisting: enabled per URL prefix, names escaped, links encoded, entries sorted."""

import html
import re
import urllib.parse

from harness import Server, check, contains, eq, get

CONF = """\
server.modules += ("mod_dirlisting")
$HTTP["url"] =^ "/pub/" { dir-listing.activate = "enable" }
"""
FILES = {
    "pub/<b>&x.txt": "tricky\n",
    "pub/b.txt": "b\n",
    "pub/a b.txt": "a\n",
    "pub/Z.txt": "z\n",
    "pub/\u00e4.txt": "umlaut\n",
    "pub/.hidden": "h\n",
    "pub/sub/q.txt": "q\n",
    "priv/x.txt": "x\n",
}
LINK_RE = re.compile(r'<a href="([^"]*)">(.*?)</a>')


def entries(body):
    """(href, displayed name) for every entry link, without the parent directory."""
    return [(h, html.unescape(t)) for h, t in LINK_RE.findall(body) if h not in ("../", "#")]


def test_listing_enabled_under_prefix():
    with Server(CONF, files=FILES) as s:
        r = get(s.port, "/pub/")
        eq(r.status, 200, "status")
        check((r.header("Content-Type") or "").startswith("text/html"), "Content-Type")
        names = [n for _, n in entries(r.text())]
        for want in ("<b>&x.txt", "b.txt", "a b.txt", "Z.txt", "\u00e4.txt", "sub"):
            check(want in names, f"{want!r} not listed in {names}")


def test_listing_escapes_names():
    with Server(CONF, files=FILES) as s:
        body = get(s.port, "/pub/").text()
        check("<b>&x" not in body, "raw markup from a file name in the listing")
        hrefs = {n: h for h, n in entries(body)}
        href = hrefs.get("<b>&x.txt", "")
        check(not re.search(r'[<>&" ]', href), f"href not encoded: {href!r}")
        eq(urllib.parse.unquote(href), "<b>&x.txt", "href decodes to the name")


def test_listing_links_encoded():
    with Server(CONF, files=FILES) as s:
        hrefs = {n: h for h, n in entries(get(s.port, "/pub/").text())}
        eq(urllib.parse.unquote(hrefs.get("a b.txt", "")), "a b.txt", "space")
        check(" " not in hrefs.get("a b.txt", " "), "space left raw in href")
        eq(urllib.parse.unquote(hrefs.get("\u00e4.txt", "")), "\u00e4.txt", "UTF-8 name")
        eq(get(s.port, "/pub/" + hrefs["a b.txt"]).body, b"a\n", "following the link")


def test_listing_sorted_dirs_first():
    with Server(CONF, files=FILES) as s:
        names = [n for _, n in entries(get(s.port, "/pub/").text())]
        dirs = [n for n in names if n == "sub"]
        files = [n for n in names if n != "sub"]
        eq(names[:len(dirs)], dirs, "directories first")
        eq(files, sorted(files, key=lambda n: n.encode()), "files in byte order")


def test_listing_hides_dotfiles():
    with Server(CONF, files=FILES) as s:
        names = [n for _, n in entries(get(s.port, "/pub/").text())]
        check(".hidden" not in names, "dot file listed")


def test_listing_off_elsewhere():
    with Server(CONF, files=FILES) as s:
        eq(get(s.port, "/priv/").status, 403, "no listing outside /pub/")


def test_listing_subdirectory():
    with Server(CONF, files=FILES) as s:
        r = get(s.port, "/pub/sub/")
        eq(r.status, 200, "status")
        contains(r.text(), "q.txt", "listing")


def test_index_file_beats_listing():
    conf = CONF + 'index-file.names = ("index.html")\n'
    with Server(conf, files=dict(FILES, **{"pub/sub/index.html": "index\n"})) as s:
        eq(get(s.port, "/pub/sub/").body, b"index\n", "index file served")
