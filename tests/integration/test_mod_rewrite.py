"""mod_rewrite: url.rewrite-once / -repeat / -if-not-file, captures, conditions, loops."""

import time

import harness
from harness import (Server, build_request, check, eq, get, lux_only, parse_responses, raw_ex)

MODS = 'server.modules = ("mod_rewrite", "mod_indexfile", "mod_staticfile")\n'
FILES = {"g.txt": "g\n", "r.txt": "r\n", "a.txt": "a\n", "b.txt": "b\n", "nf.txt": "nf\n",
         "1.txt": "one\n", "dir/index.html": "idx\n", "sub/x.txt": "x\n"}


def body(s, path, host="localhost"):
    r = get(s.port, path, host=host)
    return r.status, r.body.decode(errors="replace")


def test_once_with_captures_and_query():
    conf = MODS + 'url.rewrite-once = ("^/id/(\\d+)$" => "/$1.txt", "^/q$" => "/r.txt?x=1")\n'
    with Server(conf, files=FILES) as s:
        eq(body(s, "/id/1"), (200, "one\n"), "capture")
        eq(body(s, "/q"), (200, "r\n"), "query in the result")
        eq(get(s.port, "/id/x").status, 404, "no match: untouched")


def test_matches_uri_with_query():
    conf = MODS + 'url.rewrite-once = ("^/p\\?(.*)$" => "/$1.txt")\n'
    with Server(conf, files=FILES) as s:
        eq(body(s, "/p?g"), (200, "g\n"), "the query is part of the subject")


def test_once_stops_later_rewrites():
    conf = MODS + ('url.rewrite-once = ("^/a$" => "/b")\n'
                   'url.rewrite-repeat = ("^/b$" => "/b.txt")\n')
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/a").status, 404, "after a once rule nothing rewrites again")
        eq(body(s, "/b"), (200, "b\n"), "repeat rule alone")


def test_repeat_chains():
    conf = MODS + 'url.rewrite-repeat = ("^/one$" => "/two", "^/two$" => "/r.txt")\n'
    with Server(conf, files=FILES) as s:
        eq(body(s, "/one"), (200, "r\n"), "two rewrites in a row")


def test_once_rules_before_repeat_rules():
    conf = MODS + ('url.rewrite-repeat = ("^/o$" => "/r.txt")\n'
                   'url.rewrite = ("^/o$" => "/a.txt", "^/o3$" => "/a.txt")\n'
                   'url.rewrite-final = ("^/o$" => "/b.txt", "^/o4$" => "/b.txt")\n'
                   'url.rewrite-once = ("^/o$" => "/g.txt", "^/o4$" => "/g.txt")\n')
    with Server(conf, files=FILES) as s:
        eq(body(s, "/o"), (200, "g\n"), "once, then final, then rewrite, then repeat")
        eq(body(s, "/o3"), (200, "a\n"), "url.rewrite is a once rule")
        eq(body(s, "/o4"), (200, "g\n"), "url.rewrite-once before url.rewrite-final")


def test_empty_replacement_stops_matching():
    conf = MODS + 'url.rewrite-once = ("^/keep" => "", "^/keep/(.*)$" => "/g.txt")\n'
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/keep/x").status, 404, "an empty target leaves the URI alone")


def test_condition_captures():
    conf = MODS + ('$HTTP["host"] =~ "^(\\w+)\\.example$" {\n'
                   '  url.rewrite-once = ("^/(.*)$" => "/%1/$1")\n'
                   '}\n')
    with Server(conf, files=FILES) as s:
        eq(body(s, "/x.txt", host="sub.example"), (200, "x\n"), "%1 from the host")
        eq(get(s.port, "/x.txt", host="other").status, 404, "block not taken")


def test_block_replaces_all_uri_rules():
    conf = MODS + ('url.rewrite-once = ("^/g$" => "/g.txt")\n'
                   '$HTTP["host"] == "h2" { url.rewrite-repeat = ("^/r$" => "/r.txt") }\n')
    with Server(conf, files=FILES) as s:
        eq(body(s, "/g", host="h1"), (200, "g\n"), "global rules")
        eq(get(s.port, "/g", host="h2").status, 404, "the block's list replaces the global one")
        eq(body(s, "/r", host="h2"), (200, "r\n"), "the block's own rule")


def test_url_condition_after_rewrite():
    conf = MODS + ('url.rewrite-once = ("^/old/(.*)$" => "/new/$1")\n'
                   '$HTTP["url"] =^ "/new/" { url.rewrite-repeat = ("^/new/(.*)$" => "/$1") }\n')
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/old/g.txt").status, 404, "once: the new block may not rewrite again")
        eq(body(s, "/new/g.txt"), (200, "g\n"), "the block applies to the request's URL")


def test_if_not_file():
    conf = MODS + ('index-file.names = ("index.html")\n'
                   'url.rewrite-if-not-file = ("^/(.*)$" => "/nf.txt?p=$1")\n')
    with Server(conf, files=FILES) as s:
        eq(body(s, "/a.txt"), (200, "a\n"), "an existing file is served")
        eq(body(s, "/missing"), (200, "nf\n"), "a missing file is rewritten")
        eq(body(s, "/dir/"), (200, "nf\n"), "a directory is not a file")
        eq(body(s, "/dir"), (200, "nf\n"), "rewritten before the slash redirect")
        eq(body(s, "/a.txt/extra"), (200, "nf\n"), "path-info counts as not a file")


def test_if_not_file_after_once_rewrite():
    conf = MODS + ('url.rewrite-once = ("^/once$" => "/missing")\n'
                   'url.rewrite-repeat = ("^/rep$" => "/missing")\n'
                   'url.rewrite-if-not-file = ("^/missing$" => "/nf.txt")\n')
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/once").status, 404, "a once rewrite ends all rewriting")
        eq(body(s, "/rep"), (200, "nf\n"), "after a repeat rewrite the file test runs")


def test_repeat_if_not_file():
    conf = MODS + 'url.rewrite-repeat-if-not-file = ("^/a$" => "/b", "^/b$" => "/b.txt")\n'
    with Server(conf, files=FILES) as s:
        eq(body(s, "/a"), (200, "b\n"), "chained")


def test_qsa_and_url_path():
    conf = MODS + 'url.rewrite-if-not-file = ("" => "/nf.txt?path=${url.path}${qsa}")\n'
    with Server(conf, files=FILES) as s:
        eq(body(s, "/x/y?a=1"), (200, "nf\n"), "the documented front-controller rule")


def test_dot_segments_normalised():
    conf = MODS + 'url.rewrite-once = ("^/dots$" => "/x/../g.txt")\n'
    with Server(conf, files=FILES) as s:
        eq(body(s, "/dots"), (200, "g\n"), "the result is normalised")


def _no_hang(s, path):
    """The request ends quickly: lighttpd 1.4.69 closes without a response, lux answers 500."""
    t0 = time.monotonic()
    data, closed = raw_ex(s.port, build_request(path, close=True))
    check(closed, f"{path}: server kept the connection open")
    check(time.monotonic() - t0 < 4, f"{path}: took too long")
    resps = parse_responses(data, ["GET"]) if data else []
    if resps:
        eq(resps[-1].status, 500, f"{path} status")
    return resps


def test_loop_is_an_error():
    conf = MODS + 'url.rewrite-repeat = ("^/loop$" => "/loop")\n'
    with Server(conf, files=FILES) as s:
        _no_hang(s, "/loop")
        eq(body(s, "/g.txt"), (200, "g\n"), "the server still serves")


def test_result_not_starting_with_slash_is_an_error():
    conf = MODS + 'url.rewrite-once = ("^/bad$" => "nope")\n'
    with Server(conf, files=FILES) as s:
        _no_hang(s, "/bad")


@lux_only("lighttpd 1.4.69 closes the connection without a response")
def test_loop_and_bad_result_answer_500():
    conf = MODS + ('url.rewrite-repeat = ("^/loop$" => "/loop")\n'
                   'url.rewrite-once = ("^/bad$" => "x")\n')
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/loop").status, 500, "loop")
        eq(get(s.port, "/bad").status, 500, "no leading slash")


@lux_only("lux rejects a malformed rewritten URI as it rejects a malformed request target")
def test_invalid_result_is_400():
    conf = MODS + 'url.rewrite-once = ("^/inv$" => "/%zz", "^/ctl/(.*)$" => "/${decb64u:1}")\n'
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/inv").status, 400, "bad escape")
        eq(get(s.port, "/ctl/AA").status, 400, "a decoded NUL")


def test_bad_regex_refused():
    with harness.TempDir() as tmp:
        path = tmp.write("lux.conf", 'server.document-root = "/"\n' + MODS +
                         'url.rewrite-once = ("^/(unclosed" => "/x")\n')
        cp = harness.run_bin(["-tt", "-f", path])
        check(cp.returncode != 0, "a broken regex was accepted")
