"""mod_redirect: url.redirect / url.redirect-code, captures, conditions, expansion forms."""

import harness
from harness import Server, check, eq, get

MODS = 'server.modules = ("mod_redirect", "mod_rewrite", "mod_staticfile")\n'
FILES = {"a.txt": "a\n"}


def loc(s, path, host="localhost"):
    r = get(s.port, path, host=host)
    return r.status, r.header("Location")


def test_redirect_default_301():
    conf = MODS + 'url.redirect = ("^/old/(.*)$" => "/new/$1")\n'
    with Server(conf, files=FILES) as s:
        eq(loc(s, "/old/x?y=1"), (301, "/new/x?y=1"), "the query is part of the subject")
        eq(get(s.port, "/a.txt").status, 200, "no match: served")


def test_redirect_code():
    conf = MODS + 'url.redirect = ("^/t$" => "/a.txt")\nurl.redirect-code = 302\n'
    with Server(conf, files=FILES) as s:
        eq(loc(s, "/t"), (302, "/a.txt"), "302")


def test_www_host_capture():
    conf = MODS + ('$HTTP["host"] =~ "^www\\.(.*)$" {\n'
                   '  url.redirect = ("^/(.*)" => "http://%1/$1")\n'
                   '}\n')
    with Server(conf, files=FILES) as s:
        eq(loc(s, "/p/q?r", host="www.example.org"), (301, "http://example.org/p/q?r"), "moved")
        eq(get(s.port, "/a.txt", host="example.org").status, 200, "other hosts served")


def test_code_from_another_block_keeps_captures():
    conf = MODS + ('$HTTP["host"] =~ "^(h\\d)$" {\n'
                   '  url.redirect = ("^/red/(.*)" => "http://%1.example/$1")\n'
                   '  url.redirect-code = 302\n'
                   '}\n'
                   '$HTTP["host"] == "h3" { url.redirect-code = 308 }\n')
    with Server(conf, files=FILES) as s:
        eq(loc(s, "/red/x", host="h1"), (302, "http://h1.example/x"), "h1")
        eq(loc(s, "/red/x", host="h3"), (308, "http://h3.example/x"), "h3")


def test_first_match_and_empty_replacement():
    conf = MODS + 'url.redirect = ("^/keep" => "", "^/k" => "/never", "^/(.)" => "/first/$1")\n'
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/keep/x").status, 404, "an empty target ends the search")
        eq(loc(s, "/x"), (301, "/first/x"), "first matching rule")


def test_runs_after_rewrite():
    conf = MODS + ('url.rewrite-once = ("^/a$" => "/b")\n'
                   'url.redirect = ("^/a$" => "/from-a", "^/b$" => "/from-b")\n')
    with Server(conf, files=FILES) as s:
        eq(loc(s, "/a"), (301, "/from-b"), "redirect sees the rewritten URI")


def test_expansion_forms():
    conf = MODS + ('$HTTP["host"] =~ "^(www)\\.(ex)(.*)$" {\n'
                   ' url.redirect = (\n'
                   '  "^/enc/(.*)$" => "/b/${esc:1}|${escnde:1}|${escpsnde:1}|${noesc:1}|${1}",\n'
                   '  "^/b64/(.*)$" => "/c/${encb64u:1}|${decb64u:1}|${encb64u:url.path}",\n'
                   '  "^/url/(.*)$" => "/d/${url.scheme}|${url.authority}|${url.path}|'
                   '${url.query}|${qsa}",\n'
                   '  "^/lit/(.*)$" => "/e/%%|$$|$a|%a|%0|%1|%2|%{1}|${esc:%1}|%{esc:$2}|$",\n'
                   '  "^/odd/(.*)$" => "/f/${foo}|${url.foo}|${esx:1}|${12}|${1x}|x",\n'
                   '  "^/qsa/(.*)$" => "/g/a?b${qsa}",\n'
                   '  "^/open/(.*)$" => "/h/${url.path",\n'
                   ' )\n'
                   '}\n')
    host = "www.Example.org:81"
    want = {
        "/enc/a%20b~d+e:f?q": "/b/a%2520b~d%2Be%3Af%3Fq|a%20b~d%2Be%3Af%3Fq|a%20b~d%2Be%3Af%3Fq|"
                              "a%20b~d+e:f?q|a%20b~d%2Be%3Af%3Fq",
        "/b64/hello": "/c/aGVsbG8||L2I2NC9oZWxsbw",
        "/b64/aGVsbG8": "/c/YUdWc2JHOA|hello|L2I2NC9hR1ZzYkc4",
        "/url/p%20q?x=1&y": "/d/http|www.example.org:81|/url/p%20q|x=1&y|?x=1&y",
        "/url/p": "/d/http|www.example.org:81|/url/p||",
        "/lit/z": "/e/%|$|$a|%a|www.example.org:81|www|ex|www|z|ex|$",
        "/odd/z": "/f/||z||z|x",
        "/qsa/z?q=1": "/g/a?b&q=1",
        "/qsa/z": "/g/a?b",
        "/open/z": "/h/",
    }
    with Server(conf, files=FILES) as s:
        for path, location in want.items():
            eq(loc(s, path, host=host), (301, location), path)


def test_port():
    conf = MODS + 'url.redirect = ("^/p$" => "/${url.port}")\n'
    with Server(conf, files=FILES) as s:
        eq(loc(s, "/p"), (301, f"/{s.port}"), "the port the request came in on")


def test_bad_regex_refused():
    with harness.TempDir() as tmp:
        path = tmp.write("lux.conf", 'server.document-root = "/"\n' + MODS +
                         'url.redirect = ("^/(x" => "/y")\n')
        cp = harness.run_bin(["-tt", "-f", path])
        check(cp.returncode != 0, "a broken regex was accepted")


@harness.lux_only("lighttpd 1.4.69 drops ${tolower:...} without an encoding, and its toupper "
                  "lowercases; lux does what the modifiers are documented to do")
def test_case_modifiers():
    conf = MODS + 'url.redirect = ("^/c/(.*)$" => "/${tolower:1}|${toupper:url.path}")\n'
    with Server(conf, files=FILES) as s:
        eq(loc(s, "/c/AbC%2fx"), (301, "/abc%2Fx|/C/ABC%2FX"), "case changed, escapes kept")
