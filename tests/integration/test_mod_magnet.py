"""mod_magnet: lighttpd's documented script examples, lighty.r in every direction, failures.

Scripts live beside the config (@TMP@/name.lua); `magnet()` writes them and starts the server.
Every test not marked lux_only also passes against lighttpd 1.4.69 with its mod_magnet.
"""

import contextlib
import os
import threading

import harness
from harness import Server, check, contains, eq, get, lux_only, poll

FILES = {"index.html": "home\n", "a.txt": "a\n", "new/x.txt": "new x\n", "other.txt": "other\n",
         "maintenance.html": "<h1>down for maintenance</h1>\n"}


@contextlib.contextmanager
def magnet(conf, scripts, files=None):
    """A server with mod_magnet and the given {name: Lua source} scripts in its temp dir."""
    with harness.TempDir() as tmp:
        for name, src in scripts.items():
            tmp.write(name, src)
        conf = 'server.modules += ("mod_magnet")\n' + conf
        with Server(conf, files=FILES if files is None else files, tmp=tmp.path) as s:
            yield s


def test_maintenance_page():
    lua = """
local root = lighty.r.req_attr["physical.doc-root"]
if lighty.c.stat(root .. "/maintenance.html") then
    lighty.r.resp_body:set({ { filename = root .. "/maintenance.html" } })
    lighty.r.resp_header["Content-Type"] = "text/html"
    lighty.r.resp_header["Retry-After"] = "120"
    return 503
end
"""
    conf = 'magnet.attract-physical-path-to = ("@TMP@/maint.lua")\n'
    with magnet(conf, {"maint.lua": lua}) as s:
        r = get(s.port, "/a.txt")
        eq(r.status, 503, "status while the page exists")
        eq(r.body, b"<h1>down for maintenance</h1>\n", "body")
        eq(r.header("Content-Type"), "text/html", "type")
        eq(r.header("Retry-After"), "120", "Retry-After")
        os.unlink(s.path("maintenance.html"))
        # lighttpd's stat cache may remember the page for a second.
        r = poll(lambda: (lambda r: r if r.status == 200 else None)(get(s.port, "/a.txt")),
                 timeout=10, what="the site back")
        eq(r.body, b"a\n", "the file")


def test_rewrite_with_restart():
    lua = """
local path = lighty.r.req_attr["uri.path"]
if path:sub(1, 5) == "/old/" then
    local q = lighty.r.req_attr["uri.query"]
    lighty.r.req_attr["request.uri"] = "/new/" .. path:sub(6) .. (q and ("?" .. q) or "")
    return lighty.RESTART_REQUEST
end
"""
    conf = 'magnet.attract-raw-url-to = ("@TMP@/rewrite.lua")\n'
    with magnet(conf, {"rewrite.lua": lua}) as s:
        r = get(s.port, "/old/x.txt?v=1")
        eq(r.status, 200, "status")
        eq(r.body, b"new x\n", "the rewritten file")
        eq(get(s.port, "/a.txt").body, b"a\n", "other paths untouched")


def test_uri_path_write_maps_the_file():
    lua = """
local path = lighty.r.req_attr["uri.path"]
if path:sub(1, 5) == "/olp/" then lighty.r.req_attr["uri.path"] = "/new/" .. path:sub(6) end
"""
    conf = 'magnet.attract-raw-url-to = ("@TMP@/p.lua")\n'
    with magnet(conf, {"p.lua": lua}) as s:
        r = get(s.port, "/olp/x.txt")
        eq(r.status, 200, "status")
        eq(r.body, b"new x\n", "the file the new path names")


def test_header_policy_at_response_start():
    lua = """
local h = lighty.r.resp_header
h["X-Frame-Options"] = "DENY"
h["X-Content-Type-Options"] = "nosniff"
if h["X-Powered-By"] then h["X-Powered-By"] = nil end
"""
    conf = 'magnet.attract-response-start-to = ("@TMP@/policy.lua")\n'
    with magnet(conf, {"policy.lua": lua}) as s:
        for path, status in (("/a.txt", 200), ("/missing", 404)):
            r = get(s.port, path)
            eq(r.status, status, path)
            eq(r.header_all("X-Frame-Options"), ["DENY"], f"X-Frame-Options on {path}")
            eq(r.header("X-Content-Type-Options"), "nosniff", f"nosniff on {path}")


def test_redirect():
    lua = """
if lighty.r.req_attr["uri.path"] == "/go" then
    lighty.r.resp_header["Location"] = "https://example.org/there"
    return 302
end
"""
    conf = 'magnet.attract-raw-url-to = ("@TMP@/redir.lua")\n'
    with magnet(conf, {"redir.lua": lua}) as s:
        r = get(s.port, "/go")
        eq(r.status, 302, "status")
        eq(r.header("Location"), "https://example.org/there", "Location")
        eq(get(s.port, "/a.txt").status, 200, "other paths")


def test_serve_file_and_strings_via_resp_body():
    lua = """
local root = lighty.r.req_attr["physical.doc-root"]
local p = lighty.r.req_attr["uri.path"]
if p == "/mixed" then
    lighty.r.resp_body:set({ "head|", { filename = root .. "/other.txt", offset = 1, length = 3 } })
    lighty.r.resp_body:add("|tail")
    lighty.r.resp_header["Content-Type"] = "text/plain"
    return 200
elseif p == "/nofile" then
    lighty.r.resp_body:set({ { filename = root .. "/does-not-exist" } })
    return 200
end
"""
    conf = 'magnet.attract-physical-path-to = ("@TMP@/body.lua")\n'
    with magnet(conf, {"body.lua": lua}) as s:
        r = get(s.port, "/mixed")
        eq(r.status, 200, "status")
        eq(r.body, b"head|the|tail", "strings and a file range")
        eq(r.header("Content-Length"), "13", "Content-Length")


@lux_only("lighttpd answers 200 with the body cut short before a file it cannot open")
def test_missing_body_file_is_an_error():
    lua = """
lighty.r.resp_body:set({ "a", { filename = "/nonexistent/file" }, "b" })
return 200
"""
    conf = 'magnet.attract-physical-path-to = ("@TMP@/nofile.lua")\n'
    with magnet(conf, {"nofile.lua": lua}) as s:
        eq(get(s.port, "/x").status, 500, "status")
        contains(s.errorlog, "cannot open /nonexistent/file", "the file in the error log")


def test_req_attr_reads():
    lua = """
local a = lighty.r.req_attr
local t = {}
for _, k in ipairs({ "uri.path", "uri.path-raw", "uri.query", "uri.scheme", "uri.authority",
        "request.method", "request.uri", "request.orig-uri", "request.protocol",
        "request.remote-ip", "request.remote-addr", "request.server-port", "request.server-name",
        "physical.path", "physical.rel-path", "physical.doc-root", "physical.basedir" }) do
    t[#t + 1] = k .. "=" .. tostring(a[k])
end
lighty.r.resp_body:set(table.concat(t, "\\n") .. "\\n")
return 200
"""
    conf = 'magnet.attract-physical-path-to = ("@TMP@/attrs.lua")\n'
    with magnet(conf, {"attrs.lua": lua}) as s:
        r = get(s.port, "/dir/a%20b.txt?x=1&y=2", host="example.test")
        eq(r.status, 200, "status")
        got = dict(line.split("=", 1) for line in r.text().splitlines())
        root = os.path.realpath(s.docroot)
        want = {
            "uri.path": "/dir/a b.txt", "uri.path-raw": "/dir/a%20b.txt", "uri.query": "x=1&y=2",
            "uri.scheme": "http", "uri.authority": "example.test", "request.method": "GET",
            "request.uri": "/dir/a%20b.txt?x=1&y=2", "request.orig-uri": "/dir/a%20b.txt?x=1&y=2",
            "request.protocol": "HTTP/1.1", "request.remote-ip": "127.0.0.1",
            "request.remote-addr": "127.0.0.1", "request.server-port": str(s.port),
            "request.server-name": "example.test", "physical.rel-path": "/dir/a b.txt",
        }
        for k, v in want.items():
            eq(got.get(k), v, k)
        for k in ("physical.doc-root", "physical.basedir"):
            eq(os.path.realpath(got[k]), root, k)
        eq(os.path.realpath(os.path.dirname(got["physical.path"])), os.path.join(root, "dir"),
           "physical.path")


def test_req_attr_writes():
    raw = """
local a = lighty.r.req_attr
if a["uri.path"] == "/q" then a["uri.query"] = "z=9" end
"""
    phys = """
local a = lighty.r.req_attr
local p = a["uri.path"]
if p == "/q" then
    lighty.r.resp_body:set(a["uri.query"])
    return 200
elseif p == "/swap" then
    a["physical.path"] = a["physical.doc-root"] .. "/other.txt"
end
"""
    conf = ('magnet.attract-raw-url-to = ("@TMP@/raw.lua")\n'
            'magnet.attract-physical-path-to = ("@TMP@/phys.lua")\n')
    with magnet(conf, {"raw.lua": raw, "phys.lua": phys}) as s:
        eq(get(s.port, "/q?a=1").body, b"z=9", "uri.query replaced")
        r = get(s.port, "/swap")
        eq(r.status, 200, "physical.path pointed at another file")
        eq(r.body, b"other\n", "its contents")


@lux_only("response.http-status is lux's own req_attr")
def test_response_status_attr():
    lua = """
lighty.r.resp_header["X-Seen-Status"] = tostring(lighty.r.req_attr["response.http-status"])
if lighty.r.req_attr["uri.path"] == "/teapot" then lighty.r.req_attr["response.http-status"] = 418 end
"""
    conf = 'magnet.attract-response-start-to = ("@TMP@/st.lua")\n'
    with magnet(conf, {"st.lua": lua}) as s:
        eq(get(s.port, "/missing").header("X-Seen-Status"), "404", "read")
        eq(get(s.port, "/teapot").status, 418, "written")


def test_req_header_and_env_across_scripts_in_order():
    first = """
lighty.r.req_header["X-Added"] = "v1"
lighty.r.req_header["User-Agent"] = nil
lighty.r.req_env["STEP"] = "one"
"""
    second = """
local h = lighty.r.req_header
lighty.r.resp_body:set(h["X-Added"] .. "|" .. tostring(h["User-Agent"]) .. "|" ..
    lighty.r.req_env["STEP"] .. "|" .. h["x-added"])
return 200
"""
    conf = 'magnet.attract-raw-url-to = ("@TMP@/1.lua", "@TMP@/2.lua")\n'
    with magnet(conf, {"1.lua": first, "2.lua": second}) as s:
        r = get(s.port, "/x", headers={"User-Agent": "ua"})
        eq(r.body, b"v1|nil|one|v1", "the second script sees what the first set")


def test_request_header_set_by_script_reaches_conditions():
    lua = 'lighty.r.req_header["X-Tier"] = "gold"\n'
    conf = ('server.modules += ("mod_setenv")\n'
            'magnet.attract-raw-url-to = ("@TMP@/tier.lua")\n'
            '$REQUEST_HEADER["X-Tier"] == "gold" { '
            'setenv.add-response-header = ("X-Gold" => "1") }\n')
    with magnet(conf, {"tier.lua": lua}) as s:
        eq(get(s.port, "/a.txt").header("X-Gold"), "1", "condition on the header the script set")


def test_old_api_names():
    lua = """
if lighty.env["uri.path"] == "/old" then
    lighty.content = { "old api ", lighty.env["uri.path"], " ", lighty.request["X-In"] }
    lighty.header["X-Old"] = "y"
    return 200
end
"""
    conf = 'magnet.attract-raw-url-to = ("@TMP@/old.lua")\n'
    with magnet(conf, {"old.lua": lua}) as s:
        r = get(s.port, "/old", headers={"X-In": "in"})
        eq(r.status, 200, "status")
        eq(r.body, b"old api /old in", "lighty.content")
        eq(r.header("X-Old"), "y", "lighty.header")


def test_helpers_match_lighttpd():
    lua = r"""
local c = lighty.c
local out = {
    c.md("sha1", "abc"), c.md("sha256", ""), c.hmac("sha256", "k", "abc"),
    c.b64enc("ab"), c.b64urlenc("\255\254a"), c.b64dec("YWI"), c.b64urldec("__5h"),
    c.hexenc("a\1"), c.hexdec("4142"), c.urlenc("a b/c?"), c.urldec("a%20b%2F"),
    c.xmlenc("<'\">&"), tostring(c.digest_eq("ab12", "AB12")),
    tostring(c.secret_eq("s", "s")), tostring(c.secret_eq("s", "t")),
    c.cookie_tokens("a=1; b=\"2\"")["b"], c.urldec_query("x=1+2&y=%41")["y"],
    tostring(c.stat(lighty.r.req_attr["physical.doc-root"] .. "/other.txt").st_size),
    tostring(c.stat("/nonexistent/x")), type(c.time()),
}
lighty.r.resp_body:set(table.concat(out, "\n") .. "\n")
return 200
"""
    conf = 'magnet.attract-physical-path-to = ("@TMP@/c.lua")\n'
    with magnet(conf, {"c.lua": lua}) as s:
        r = get(s.port, "/")
        eq(r.status, 200, "status")
        eq(r.body.split(b"\n")[:-1], [
            b"A9993E364706816ABA3E25717850C26C9CD0D89D",
            b"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            b"342E519CE0AD6C03A36B98EEB3F1D130DB4813B9DF4D1160EDA488D712DC78EE",
            b"YWI", b"__5h", b"ab", b"\xff\xfea", b"6101", b"AB", b"a%20b/c%3F", b"a b/",
            b"&#x3C;&#x27;&#x22;&#x3E;&#x26;", b"true", b"true", b"false", b'"2"', b"A", b"6",
            b"nil", b"number",
        ], "helpers")


def test_readdir():
    lua = """
local names = {}
for name in lighty.c.readdir(lighty.r.req_attr["physical.doc-root"] .. "/new") do
    names[#names + 1] = name
end
table.sort(names)
lighty.r.resp_body:set(table.concat(names, ","))
return 200
"""
    conf = 'magnet.attract-physical-path-to = ("@TMP@/rd.lua")\n'
    files = dict(FILES, **{"new/y.txt": "y\n"})
    with magnet(conf, {"rd.lua": lua}, files=files) as s:
        eq(get(s.port, "/").body, b"x.txt,y.txt", "names")


def test_globals_do_not_outlive_a_run():
    lua = """
counter = (counter or 0) + 1
lighty.r.resp_body:set(tostring(counter))
return 200
"""
    conf = 'magnet.attract-raw-url-to = ("@TMP@/g.lua")\n'
    with magnet(conf, {"g.lua": lua}) as s:
        for _ in range(4):
            eq(get(s.port, "/").body, b"1", "a fresh environment each time")


def test_status_without_body():
    lua = """
local p = lighty.r.req_attr["uri.path"]
if p == "/created" then return 201 end
if p == "/forbidden" then return 403 end
"""
    conf = 'magnet.attract-raw-url-to = ("@TMP@/s.lua")\n'
    with magnet(conf, {"s.lua": lua}) as s:
        r = get(s.port, "/created")
        eq((r.status, r.body), (201, b""), "a success status with no body")
        r = get(s.port, "/forbidden")
        eq(r.status, 403, "an error status")
        contains(r.text(), "403", "its error page")


def test_syntax_error():
    conf = 'magnet.attract-raw-url-to = ("@TMP@/bad.lua")\n'
    with magnet(conf, {"bad.lua": "if then\n"}) as s:
        eq(get(s.port, "/a.txt").status, 500, "status")
        contains(s.errorlog, "bad.lua", "the script named in the error log")
        contains(s.errorlog, "unexpected symbol near 'then'", "Lua's message")


def test_runtime_error():
    conf = 'magnet.attract-raw-url-to = ("@TMP@/err.lua")\n'
    with magnet(conf, {"err.lua": 'if lighty.r.req_attr["uri.path"] == "/boom" then '
                                  'error("kaboom") end\n'}) as s:
        eq(get(s.port, "/boom").status, 500, "status")
        contains(s.errorlog, "kaboom", "the error in the error log")
        eq(get(s.port, "/a.txt").status, 200, "the next request")


def test_missing_script():
    conf = 'magnet.attract-raw-url-to = ("@TMP@/none.lua")\n'
    with magnet(conf, {}) as s:
        eq(get(s.port, "/a.txt").status, 500, "status")


def test_script_reread_after_change():
    conf = 'magnet.attract-raw-url-to = ("@TMP@/v.lua")\n'
    version = 'lighty.r.resp_body:set("{}") return 200\n'
    with magnet(conf, {"v.lua": version.format("one")}) as s:
        eq(get(s.port, "/").body, b"one", "first version")
        harness.write_file(os.path.join(s.tmp, "v.lua"), version.format("second"))
        poll(lambda: get(s.port, "/").body == b"second", timeout=15, what="the new version")


def bad_script_with_parallel_request(lua, conf_extra=""):
    """The script fails with a 500 while a request beside it gets its 200, and the worker's
    state still serves the next request."""
    conf = ('server.max-worker = 2\n' + conf_extra +
            '$HTTP["url"] == "/bad" { magnet.attract-raw-url-to = ("@TMP@/bad.lua") }\n'
            'magnet.attract-physical-path-to = ("@TMP@/good.lua")\n')
    good = 'if lighty.r.req_attr["uri.path"] == "/good" then ' \
           'lighty.r.resp_body:set("fine") return 200 end\n'
    with magnet(conf, {"bad.lua": lua, "good.lua": good}) as s:
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("bad", get(s.port, "/bad")))
        t.start()
        eq(get(s.port, "/a.txt").status, 200, "a request beside it")
        t.join(60)
        check(not t.is_alive(), "the bad request finished")
        eq(result["bad"].status, 500, "the bad script's status")
        for _ in range(4):
            eq(get(s.port, "/good").body, b"fine", "later scripts run")
        return s.errorlog


@lux_only("lighttpd runs a looping script forever")
def test_infinite_loop_stopped():
    log = bad_script_with_parallel_request("while true do end\n",
                                           "magnet.max-instructions = 2000000\n")
    contains(log, "magnet.max-instructions", "the reason in the error log")


@lux_only("lighttpd lets a script allocate until the process dies")
def test_memory_bomb_stopped():
    lua = 'local t = {} local s = "x" while true do s = s .. s t[#t + 1] = s end\n'
    log = bad_script_with_parallel_request(lua, "magnet.max-memory = 16\n")
    contains(log, "not enough memory", "the reason in the error log")


@lux_only("lighttpd 1.4.69 has lighty.server.irequests")
def test_unavailable_names_raise():
    lua = 'for r in lighty.server.irequests() do end return 200\n'
    conf = 'magnet.attract-raw-url-to = ("@TMP@/q.lua")\n'
    with magnet(conf, {"q.lua": lua}) as s:
        eq(get(s.port, "/").status, 500, "status")
        contains(s.errorlog, "lighty.server.irequests is not available in lux", "named")


@lux_only("lux refuses header injection from scripts")
def test_header_injection_refused():
    lua = 'lighty.r.resp_header["X-A"] = "a\\r\\nSet-Cookie: x=1"\n'
    conf = 'magnet.attract-raw-url-to = ("@TMP@/inj.lua")\n'
    with magnet(conf, {"inj.lua": lua}) as s:
        r = get(s.port, "/a.txt")
        eq(r.status, 500, "status")
        check(not r.has("Set-Cookie"), "no injected header")


@lux_only("magnet.max-instructions and magnet.max-memory are lux's own")
def test_limits_refuse_negative_values():
    for key in ("magnet.max-memory", "magnet.max-instructions", "magnet.cache-timeout"):
        with harness.TempDir() as tmp:
            text = (harness.BASE_CONF + f'server.modules += ("mod_magnet")\n{key} = -1\n')
            text = text.replace("@TMP@", tmp.path).replace("@DOCROOT@", tmp.path)
            text = text.replace("@PORT@", "80")
            r = harness.run_bin(["-tt", "-f", tmp.write("lux.conf", text)])
            check(r.returncode != 0, f"{key} = -1 refused")


@lux_only("lighttpd ends when a script calls os.exit")
def test_os_exit_does_not_stop_the_server():
    conf = 'magnet.attract-raw-url-to = ("@TMP@/exit.lua")\n'
    lua = 'if lighty.r.req_attr["uri.path"] == "/exit" then os.exit(3) end\n'
    with magnet(conf, {"exit.lua": lua}) as s:
        eq(get(s.port, "/exit").status, 500, "the script's request")
        contains(s.errorlog, "os.exit would stop the server", "the reason in the error log")
        eq(get(s.port, "/a.txt").status, 200, "the server serves on")
