"""File lookup safety: PATH_INFO on long paths, memory under floods of unique paths,
server.follow-symlink = "disable" on every component, and mod_access with lower-cased names."""

import os
import time

import harness
from harness import Server, check, eq, get

FILES = {
    "index.html": "index\n",
    "file.html": "file\n",
    "dir/file.html": "in dir\n",
    "x.inc": "secret\n",
    "x.txt": "text\n",
}
DEEP = 2000  # path segments after the file


def rss_kib(pid):
    """Resident memory of a process. Under ASan it says little: freed memory is held back in
    quarantine, so the memory checks below only apply to the plain build."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise harness.TestFailure("no VmRSS")


def pipelined_statuses(port, paths, batch=100, per_connection=500):
    """GET every path, batch requests at a time, over keep-alive connections that stay below
    the servers' default limit of requests per connection."""
    statuses = []
    for start in range(0, len(paths), per_connection):
        with harness.Conn(port) as c:
            mine = paths[start:start + per_connection]
            for i in range(0, len(mine), batch):
                chunk = mine[i:i + batch]
                c.send(b"".join(harness.build_request(p) for p in chunk))
                for _ in chunk:
                    statuses.append(c.response().status)
    return statuses


def test_deep_pathinfo_answers_like_lighttpd():
    with Server("", files=FILES) as s:
        r = get(s.port, "/index.html" + "/a" * DEEP)
        eq(r.status, 200, "file with a deep PATH_INFO")
        eq(r.body, b"index\n", "body")
        eq(get(s.port, "/nothing" + "/a" * DEEP).status, 404, "deep path under nothing")
        eq(get(s.port, "/dir" + "/a" * DEEP).status, 404, "deep path under a directory")
        eq(get(s.port, "/file.html/a/b").body, b"file\n", "/file.html/a/b")
        eq(get(s.port, "/dir/file.html/x").body, b"in dir\n", "/dir/file.html/x")
        eq(get(s.port, "/dir/x/y").status, 404, "/dir/x/y")


def test_deep_pathinfo_leaves_memory_alone():
    with Server("server.max-worker = 1\n", files=FILES) as s:
        get(s.port, "/index.html")
        before = rss_kib(s.pid)
        # Distinct paths, so that nothing learned from one request serves the next.
        paths = [f"/index.html/{i}" + "/a" * DEEP for i in range(20)]
        statuses = pipelined_statuses(s.port, paths, batch=5)
        eq(statuses, [200] * len(paths), "statuses")
        grown = rss_kib(s.pid) - before
        check(harness.sanitized() or grown < 16 * 1024, f"RSS grew by {grown} KiB over {len(paths)} deep requests")


def test_unique_404s_leave_memory_alone():
    with Server("server.max-worker = 1\n", files=FILES) as s:
        warm = [f"/warm-{i}" for i in range(2000)]
        pipelined_statuses(s.port, warm)
        before = rss_kib(s.pid)
        long_dirs = "/".join(["n" * 200] * 6)  # long paths, in components the kernel accepts
        paths = [f"/{long_dirs}-{i}" for i in range(20000)]
        start = time.monotonic()
        statuses = pipelined_statuses(s.port, paths)
        eq(set(statuses), {404}, "statuses")
        grown = rss_kib(s.pid) - before
        check(harness.sanitized() or grown < 4 * 1024, f"RSS grew by {grown} KiB over {len(paths)} unique 404s "
              f"in {time.monotonic() - start:.1f}s")


# ---------------------------------------------------------------------------------------------
# server.follow-symlink

LINKED = {
    "t.txt": "target\n",
    "dir/file.html": "in dir\n",
}


def linked_server(conf, **kw):
    """A docroot with a symlinked directory leading outside it, a symlinked file and a symlinked
    directory in the middle of a path."""
    s = Server(conf, files=LINKED, **kw)
    os.makedirs(os.path.join(s.tmp, "outside"))
    harness.write_file(os.path.join(s.tmp, "outside", "s.txt"), "outside\n")
    os.makedirs(s.path("sub"))
    os.symlink("../outside", s.path("linkdir"))
    os.symlink("t.txt", s.path("linkfile.txt"))
    os.symlink("../dir", s.path("sub/up"))
    return s


LINK_PATHS = ["/linkdir/s.txt", "/linkfile.txt", "/sub/up/file.html", "/linkfile.txt/info"]


def test_follow_symlink_disabled_refuses_links_on_the_path():
    with linked_server('server.follow-symlink = "disable"\n') as s:
        for path in LINK_PATHS:
            eq(get(s.port, path).status, 403, path)
        eq(get(s.port, "/linkdir/").status, 403, "/linkdir/")
        eq(get(s.port, "/linkdir/nothing").status, 404, "a missing file behind a link")
        eq(get(s.port, "/dir/file.html").body, b"in dir\n", "no link on the path")
        eq(get(s.port, "/t.txt").body, b"target\n", "the link's target by its own name")


def test_follow_symlink_enabled_serves_links():
    with linked_server("") as s:
        eq(get(s.port, "/linkdir/s.txt").body, b"outside\n", "/linkdir/s.txt")
        eq(get(s.port, "/linkfile.txt").body, b"target\n", "/linkfile.txt")
        eq(get(s.port, "/sub/up/file.html").body, b"in dir\n", "/sub/up/file.html")
        eq(get(s.port, "/linkfile.txt/info").body, b"target\n", "/linkfile.txt/info")


def test_follow_symlink_per_host_does_not_share_cache():
    conf = ('server.max-worker = 1\nserver.follow-symlink = "disable"\n'
            '$HTTP["host"] == "open.example" { server.follow-symlink = "enable" }\n')
    with linked_server(conf) as s:
        for path in LINK_PATHS:
            eq(get(s.port, path, host="open.example").status, 200, f"{path} where links are on")
            eq(get(s.port, path, host="closed.example").status, 403, f"{path} where links are off")


def test_follow_symlink_disabled_with_linked_docroot():
    """lighttpd checks every component, the document root's own included."""
    conf = (harness.base_conf(drop=("server.document-root",)) +
            'server.document-root = "@TMP@/rootlink"\nserver.follow-symlink = "disable"\n')
    s = linked_server(conf, base=False)
    os.symlink("www", os.path.join(s.tmp, "rootlink"))
    with s:
        eq(get(s.port, "/t.txt").status, 403, "a file below a linked document root")
        eq(get(s.port, "/nothing").status, 404, "a missing file below it")


# ---------------------------------------------------------------------------------------------
# mod_access with server.force-lowercase-filenames

def test_access_deny_sees_pathinfo_in_any_case():
    conf = ('server.modules += ("mod_access")\nurl.access-deny = (".inc")\n'
            'server.force-lowercase-filenames = "enable"\n')
    with Server(conf, files=FILES) as s:
        for path in ("/x.inc/foo", "/x.inc/FOO", "/X.INC/Foo", "/x.inc/Foo/Bar"):
            eq(get(s.port, path).status, 403, path)
        eq(get(s.port, "/x.txt/FOO").body, b"text\n", "a file not denied, PATH_INFO in capitals")
