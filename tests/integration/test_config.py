"""The config language, observed over HTTP: variables, includes, environment, conditions."""

import os

import harness
from harness import Server, check, eq, get, poll, port_accepts, write_file

FILES = {"index.html": "main index\n", "f.txt": "main docroot\n", "f.php": "<?php ?>\n"}


def tag_of(s, path="/f.txt", host="localhost", headers=None, method="GET"):
    r = get(s.port, path, headers=headers, host=host, method=method)
    return r.header("Server")


def test_var_concatenation_docroot():
    conf = 'var.site = "@TMP@" + "/si" + "te"\nserver.document-root = var.site + "/pub"\n'
    with Server(harness.base_conf(["server.document-root"]) + conf, base=False) as s:
        write_file(os.path.join(s.tmp, "site/pub/f.txt"), "from var\n")
        r = get(s.port, "/f.txt")
        eq(r.status, 200, "status")
        eq(r.body, b"from var\n", "body")


def test_duplicate_key_rejected():
    with harness.TempDir() as tmp:
        path = tmp.write("lux.conf", 'server.document-root = "/"\nserver.tag = "a"\n'
                         'server.tag = "b"\n')
        cp = harness.run_bin(["-t", "-f", path])
        check(cp.returncode != 0, "a key set twice in one block was accepted")
        check("server.tag" in cp.stdout + cp.stderr, f"key not named: {cp.stderr!r}")


def test_include():
    s = Server('include "@TMP@/extra.conf"\nserver.tag = var.from_include\n', files=FILES)
    write_file(os.path.join(s.tmp, "extra.conf"), 'var.from_include = "inc"\n')
    with s:
        eq(tag_of(s), "inc", "Server header")


def test_include_relative_to_config():
    """A relative include is found next to the including file, whatever the working dir."""
    s = Server('include "conf.d/extra.conf"\n', files=FILES)
    write_file(os.path.join(s.tmp, "conf.d/extra.conf"), 'server.tag = "included"\n')
    with s:
        eq(tag_of(s), "included", "Server header")


def test_include_shell():
    with Server("include_shell \"echo 'server.tag = \\\"from-shell\\\"'\"\n", files=FILES) as s:
        eq(tag_of(s), "from-shell", "Server header")


def test_env_variable():
    with Server("server.tag = env.LUXTEST_TAG + \"-x\"\n", files=FILES,
                env={"LUXTEST_TAG": "from-env"}) as s:
        eq(tag_of(s), "from-env-x", "Server header")


def test_vhost_document_root():
    conf = '$HTTP["host"] == "a.example" { server.document-root = "@TMP@/a" }\n'
    with Server(conf, files=FILES) as s:
        write_file(os.path.join(s.tmp, "a/f.txt"), "vhost a\n")
        eq(get(s.port, "/f.txt", host="a.example").body, b"vhost a\n", "vhost body")
        eq(get(s.port, "/f.txt", host="b.example").body, b"main docroot\n", "default body")


def test_else_chain():
    conf = """\
server.tag = "global"
$HTTP["host"] == "a.example" { server.tag = "A" }
else $HTTP["host"] =~ "^b\\." { server.tag = "B" }
else $HTTP["host"] == "c.example" { server.tag = "C" }
else { server.tag = "other" }
"""
    with Server(conf, files=FILES) as s:
        eq(tag_of(s, host="a.example"), "A", "a")
        eq(tag_of(s, host="b.example"), "B", "b")
        eq(tag_of(s, host="c.example"), "C", "c")
        eq(tag_of(s, host="d.example"), "other", "d")


def test_else_chain_first_match_wins():
    conf = """\
$HTTP["url"] =~ "^/f" { server.tag = "first" }
else $HTTP["url"] =~ "\\.txt$" { server.tag = "second" }
"""
    with Server(conf, files=FILES) as s:
        eq(tag_of(s, "/f.txt"), "first", "both match: first wins")
        s.write("g.txt", "g\n")
        eq(tag_of(s, "/g.txt"), "second", "only the second matches")


def test_nested_conditions():
    conf = """\
server.tag = "outer-none"
$HTTP["host"] == "a.example" {
    server.tag = "host-only"
    $HTTP["url"] =~ "^/f" {
        server.tag = "host-and-url"
    }
}
"""
    with Server(conf, files=FILES) as s:
        eq(tag_of(s, "/f.txt", host="a.example"), "host-and-url", "both")
        eq(tag_of(s, "/index.html", host="a.example"), "host-only", "host only")
        eq(tag_of(s, "/f.txt", host="b.example"), "outer-none", "url only")


def test_url_regex_changes_index_names():
    conf = """\
index-file.names = ("index.html")
$HTTP["url"] =~ "^/alt/" { index-file.names = ("start.txt") }
"""
    files = dict(FILES, **{"alt/index.html": "alt index\n", "alt/start.txt": "alt start\n",
                           "plain/index.html": "plain index\n", "plain/start.txt": "x\n"})
    with Server(conf, files=files) as s:
        eq(get(s.port, "/alt/").body, b"alt start\n", "/alt/")
        eq(get(s.port, "/plain/").body, b"plain index\n", "/plain/")


def test_url_regex_exclude_extensions():
    conf = '$HTTP["url"] =~ "^/secret/" { static-file.exclude-extensions = (".txt") }\n'
    files = dict(FILES, **{"secret/a.txt": "s\n", "secret/a.html": "h\n"})
    with Server(conf, files=files) as s:
        eq(get(s.port, "/secret/a.txt").status, 403, "excluded")
        eq(get(s.port, "/secret/a.html").status, 200, "other extension")
        eq(get(s.port, "/f.txt").status, 200, "outside the block")


def test_remote_ip_cidr():
    conf = """\
server.tag = "nobody"
$HTTP["remote-ip"] == "10.0.0.0/8" { server.tag = "ten" }
$HTTP["remote-ip"] == "127.0.0.0/8" { server.tag = "loopback" }
"""
    with Server(conf, files=FILES) as s:
        eq(tag_of(s), "loopback", "Server header")


def test_remote_ip_not_equal():
    conf = """\
server.tag = "default"
$HTTP["remote-ip"] != "192.168.0.0/16" { server.tag = "not-lan" }
"""
    with Server(conf, files=FILES) as s:
        eq(tag_of(s), "not-lan", "Server header")


def test_request_header_condition():
    conf = """\
server.tag = "plain"
$REQUEST_HEADER["X-Foo"] == "bar" { server.tag = "foo-bar" }
"""
    with Server(conf, files=FILES) as s:
        eq(tag_of(s, headers={"X-Foo": "bar"}), "foo-bar", "matching header")
        eq(tag_of(s, headers={"x-foo": "bar"}), "foo-bar", "header names are case-insensitive")
        eq(tag_of(s, headers={"X-Foo": "baz"}), "plain", "other value")
        eq(tag_of(s), "plain", "no header")


def test_querystring_condition():
    conf = """\
$HTTP["querystring"] =~ "(^|&)alt=1(&|$)" { server.document-root = "@TMP@/alt" }
"""
    with Server(conf, files=FILES) as s:
        write_file(os.path.join(s.tmp, "alt/f.txt"), "alt root\n")
        eq(get(s.port, "/f.txt?x=2&alt=1").body, b"alt root\n", "matching query")
        eq(get(s.port, "/f.txt?alt=10").body, b"main docroot\n", "non-matching query")
        eq(get(s.port, "/f.txt").body, b"main docroot\n", "no query")


def test_request_method_condition():
    conf = """\
server.tag = "any"
$HTTP["request-method"] == "HEAD" { server.tag = "head" }
"""
    with Server(conf, files=FILES) as s:
        eq(tag_of(s, method="HEAD"), "head", "HEAD")
        eq(tag_of(s, method="GET"), "any", "GET")


def test_server_socket_second_listener():
    conf = """\
$SERVER["socket"] == "127.0.0.1:@PORT2@" {
    server.document-root = "@TMP@/second"
    server.tag = "second"
}
"""
    with Server(conf, files=FILES) as s:
        write_file(os.path.join(s.tmp, "second/f.txt"), "second root\n")
        poll(lambda: port_accepts(s.port2), what="the second listener")
        r = get(s.port2, "/f.txt")
        eq(r.status, 200, "status on the second socket")
        eq(r.body, b"second root\n", "body on the second socket")
        eq(r.header("Server"), "second", "Server header on the second socket")
        r = get(s.port, "/f.txt")
        eq(r.body, b"main docroot\n", "body on the main socket")
        check(r.header("Server") != "second", "main socket took the second socket's tag")


def test_scheme_condition():
    conf = """\
server.tag = "unknown"
$HTTP["scheme"] == "http" { server.tag = "plain-http" }
$HTTP["scheme"] == "https" { server.tag = "tls" }
"""
    with Server(conf, files=FILES) as s:
        eq(tag_of(s), "plain-http", "Server header")


def test_dir_listing_in_condition():
    conf = """\
server.modules += ("mod_dirlisting")
dir-listing.activate = "disable"
$HTTP["host"] == "files.example" { dir-listing.activate = "enable" }
"""
    with Server(conf, files={"d/x.txt": "x\n"}) as s:
        r = get(s.port, "/d/", host="files.example")
        eq(r.status, 200, "listing enabled")
        check(b"x.txt" in r.body, "file not listed")
        eq(get(s.port, "/d/", host="other.example").status, 403, "listing disabled")
