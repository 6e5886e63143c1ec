"""mod_simple_vhost: the document root is <server-root>/<host>/<document-root>."""

import os

from harness import Server, check, eq, get, raw, parse_responses, write_file

MODS = 'server.modules += ("mod_simple_vhost")\n'
VHOST = MODS + """\
simple-vhost.server-root = "@TMP@/vhosts"
simple-vhost.document-root = "htdocs"
simple-vhost.default-host = "default.test"
"""
FILES = {"f.txt": "server docroot\n"}


def sites(s, names):
    """A site per host name under <tmp>/vhosts, each with f.txt naming it."""
    for name in names:
        write_file(os.path.join(s.tmp, "vhosts", name, "htdocs", "f.txt"), name + "\n")


def body_for(s, host, path="/f.txt"):
    return get(s.port, path, host=host).body


def test_host_selects_its_directory():
    with Server(VHOST, files=FILES) as s:
        sites(s, ["a.test", "b.test", "default.test"])
        eq(body_for(s, "a.test"), b"a.test\n", "a.test")
        eq(body_for(s, "b.test"), b"b.test\n", "b.test")
        eq(body_for(s, "a.test:8080"), b"a.test\n", "port stripped")
        eq(body_for(s, "A.Test"), b"a.test\n", "host compared in lower case")
        eq(body_for(s, "a.test."), b"a.test\n", "trailing dot of a FQDN")


def test_unknown_host_falls_back_to_default_host():
    with Server(VHOST, files=FILES) as s:
        sites(s, ["a.test", "default.test"])
        eq(body_for(s, "nowhere.test"), b"default.test\n", "unknown host")
        r = parse_responses(raw(s.port, b"GET /f.txt HTTP/1.0\r\n\r\n"))[-1]
        eq(r.body, b"default.test\n", "no Host at all")


def test_missing_default_host_keeps_server_document_root():
    with Server(VHOST, files=FILES) as s:
        sites(s, ["a.test"])
        eq(body_for(s, "nowhere.test"), b"server docroot\n", "server.document-root")


def test_host_dir_without_document_root_subdir_falls_back():
    with Server(VHOST, files=FILES) as s:
        sites(s, ["default.test"])
        os.makedirs(os.path.join(s.tmp, "vhosts", "half.test"))  # no htdocs inside
        eq(body_for(s, "half.test"), b"default.test\n", "htdocs missing")


def test_document_root_unset_serves_host_directory():
    conf = MODS + 'simple-vhost.server-root = "@TMP@/vhosts/"\n'
    with Server(conf, files=FILES) as s:
        write_file(os.path.join(s.tmp, "vhosts", "a.test", "f.txt"), "top of a.test\n")
        eq(body_for(s, "a.test"), b"top of a.test\n", "<server-root>/<host>/")


def test_without_server_root_module_does_nothing():
    conf = MODS + 'simple-vhost.default-host = "a.test"\nsimple-vhost.document-root = "htdocs"\n'
    with Server(conf, files=FILES) as s:
        eq(body_for(s, "a.test"), b"server docroot\n", "server.document-root")


def test_settings_inside_conditions():
    conf = MODS + """\
$HTTP["url"] =^ "/v/" {
    simple-vhost.server-root = "@TMP@/vhosts"
    simple-vhost.document-root = "htdocs"
}
"""
    with Server(conf, files={"f.txt": "plain\n", "v/f.txt": "plain v\n"}) as s:
        write_file(os.path.join(s.tmp, "vhosts", "a.test", "htdocs", "v", "f.txt"), "a v\n")
        eq(body_for(s, "a.test", "/v/f.txt"), b"a v\n", "inside the condition")
        eq(body_for(s, "a.test", "/f.txt"), b"plain\n", "outside it")


def test_hostile_hosts_never_leave_server_root():
    # Each of these is refused by the request parser (400) in lighttpd and in lux; whatever
    # a host looks like, nothing outside <server-root> is ever served.
    with Server(VHOST, files=FILES) as s:
        sites(s, ["default.test"])
        write_file(os.path.join(s.tmp, "htdocs", "f.txt"), "outside\n")
        write_file(os.path.join(s.tmp, "vhosts", ".hidden", "htdocs", "f.txt"), "hidden\n")
        hostile = ["..", "../x", "a/b", "a..b", ".hidden", "/", "a b", "a\\b", "%2e%2e"]
        for host in hostile:
            r = get(s.port, "/f.txt", host=host)
            eq(r.status, 400, f"status for Host {host!r}")
        r = parse_responses(raw(s.port, b"GET /f.txt HTTP/1.1\r\nHost: a\x00b\r\n"
                                        b"Connection: close\r\n\r\n"))[-1]
        eq(r.status, 400, "Host with a NUL")
        # Longer than a DNS name may be: lux refuses it, lighttpd serves the default host.
        r = get(s.port, "/f.txt", host="x" * 300)
        check(r.status == 400 or r.body == b"default.test\n", f"overlong Host: {r!r}")
        label = "a" * 64 + ".test"
        eq(get(s.port, "/f.txt", host=label).body, b"default.test\n", "a 64-byte label")
