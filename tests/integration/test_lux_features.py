"""What lux adds to, or does more strictly than, lighttpd 1.4 — and lighttpd features that had
no test elsewhere (pathinfo, lower-casing, $PHYSICAL conditions)."""

import os
import signal
import time

import harness
from harness import Conn, Server, check, contains, eq, get, lux_only, parse_one, poll, raw_ex

FILES = {"f.txt": "file\n", "lower/abc.txt": "lower\n", "dir/x.txt": "x\n"}


@lux_only("elif is lux syntax; lighttpd spells it else $HTTP[...]")
def test_elif_chain():
    conf = ('$HTTP["url"] =^ "/a" { server.tag = "a" }\n'
            'elif $HTTP["url"] =^ "/b" { server.tag = "b" }\n'
            'else { server.tag = "other" }\n')
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/a.txt").header("Server"), "a", "first branch")
        eq(get(s.port, "/b.txt").header("Server"), "b", "elif branch")
        eq(get(s.port, "/c.txt").header("Server"), "other", "else branch")


@lux_only("$PHYSICAL[\"existing-path\"] is newer than lighttpd 1.4.69")
def test_physical_existing_path_condition():
    conf = '$PHYSICAL["existing-path"] =$ ".txt" { server.tag = "exists" }\n'
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/f.txt").header("Server"), "exists", "existing file")
        check(get(s.port, "/none.txt").header("Server") != "exists", "missing file matched")


def test_pathinfo_served_by_default():
    with Server(files=FILES) as s:
        r = get(s.port, "/f.txt/more/path")
        eq(r.status, 200, "status")
        eq(r.body, b"file\n", "body")


def test_disable_pathinfo():
    with Server('static-file.disable-pathinfo = "enable"\n', files=FILES) as s:
        eq(get(s.port, "/f.txt/more").status, 403, "status with pathinfo")
        eq(get(s.port, "/f.txt").status, 200, "status without")


def test_force_lowercase_filenames():
    with Server('server.force-lowercase-filenames = "enable"\n', files=FILES) as s:
        eq(get(s.port, "/LOWER/ABC.txt").body, b"lower\n", "body")


@lux_only("lighttpd does not read a static POST's body, so it never sees the size")
def test_chunked_body_over_limit_413():
    body = b"400\r\n" + b"x" * 1024 + b"\r\n" + b"400\r\n" + b"x" * 1024 + b"\r\n0\r\n\r\n"
    req = (b"POST /f.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    with Server("server.max-request-size = 1\n", files=FILES) as s:
        data, closed = raw_ex(s.port, req)
        eq(parse_one(data).status, 413, "status")
        check(closed, "connection left open")


@lux_only("lighttpd does not read a static POST's body before answering")
def test_keepalive_after_chunked_body():
    """The body is consumed exactly, so the next request on the connection is parsed right."""
    with Server(files=FILES) as s, Conn(s.port) as c:
        c.send(b"POST /f.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3;ext=1\r\nabc\r\n0\r\nTrailer: t\r\n\r\n"
               b"GET /dir/x.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        eq(c.response().body, b"file\n", "first response")
        eq(c.response().body, b"x\n", "pipelined response after the body")


@lux_only("lux refuses modules it does not provide instead of ignoring their rules")
def test_unavailable_module_is_an_error():
    with harness.TempDir() as tmp:
        path = tmp.write("lux.conf", 'server.document-root = "/"\n'
                         'server.modules = ( "mod_rrdtool" )\n')
        cp = harness.run_bin(["-t", "-f", path])
        check(cp.returncode != 0, "config loading mod_rrdtool accepted")
        contains(cp.stderr, "lux.conf:2:", "file:line")
        contains(cp.stderr, "mod_rrdtool", "module named")


@lux_only("lux -p prints config that lux -t accepts again")
def test_print_round_trip():
    conf = ('var.root = "/srv"\nserver.document-root = var.root + "/www"\n'
            '$HTTP["host"] =~ "^(www\\.)?example\\.org$" { server.tag = "x" }\n'
            'else $HTTP["url"] =^ "/p" { dir-listing.activate = "enable" }\n')
    with harness.TempDir() as tmp:
        path = tmp.write("lux.conf", conf)
        first = harness.run_bin(["-p", "-f", path])
        eq(first.returncode, 0, "exit status of -p")
        contains(first.stdout, "/srv/www", "evaluated value")
        again = tmp.write("printed.conf", first.stdout)
        second = harness.run_bin(["-p", "-f", again])
        eq(second.stdout, first.stdout, "printing the printed config")
        eq(harness.run_bin(["-t", "-f", again]).returncode, 0, "-t on the printed config")


@lux_only("a failed reload keeps the running config in lux")
def test_reload_with_broken_config_keeps_serving():
    with Server('server.tag = "good"\n', files=FILES) as s:
        s.reload('server.tag = "unterminated\n')
        poll(lambda: "reload failed" in s.errorlog, what="the reload error in the log")
        r = get(s.port, "/f.txt")
        eq(r.status, 200, "status after a failed reload")
        eq(r.header("Server"), "good", "the old config still serves")


@lux_only("server.max-worker threads are lux's")
def test_workers_share_the_load_of_many_connections():
    with Server("server.max-worker = 2\n", files=FILES) as s:
        conns = [Conn(s.port) for _ in range(8)]
        try:
            for c in conns:
                eq(c.request("/f.txt").status, 200, "status")
        finally:
            for c in conns:
                c.close()
