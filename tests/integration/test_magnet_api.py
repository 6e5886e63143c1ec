"""mod_magnet's script API name by name against lighttpd 1.4.69: lighty.c's codecs byte for
byte, lighty.r's tables and their fields, lighty.server. The expected values are what
lighttpd 1.4.69 answers; every test not marked lux_only passes against it too."""

import contextlib

import h2client
import harness
from harness import Server, check, contains, eq, get, lux_only, poll


@contextlib.contextmanager
def magnet(lua, conf=""):
    with harness.TempDir() as tmp:
        tmp.write("t.lua", lua)
        conf = ('server.modules += ("mod_magnet")\n'
                'magnet.attract-physical-path-to = ("@TMP@/t.lua")\n' + conf)
        with Server(conf, files={"a.txt": "a\n"}, tmp=tmp.path) as s:
            yield s


def lit(b):
    """A Lua string literal for the bytes b."""
    if isinstance(b, str):
        b = b.encode("latin-1")
    return '"' + "".join(f"\\{c:03d}" for c in b) + '"'


RUNNER = """
local c = lighty.c
local function show(v)
    if type(v) == "string" then return c.hexenc(v) end
    if type(v) ~= "table" then return tostring(v) end
    local t = {}
    for i, s in ipairs(v) do t[i] = c.hexenc(s) end
    return "{" .. table.concat(t, ",") .. "}"
end
local out = {}
for i, f in ipairs(CASES) do
    local ok, v = pcall(f)
    out[i] = ok and show(v) or "error"
end
lighty.r.resp_body:set(table.concat(out, "\\n"))
return 200
"""


def evaluate(exprs):
    """The value of each Lua expression (c is lighty.c) as bytes, None for nil, a list of
    bytes for an array of strings, or "error"."""
    cases = ",\n".join(f"function() return {e} end" for e in exprs)
    with magnet(f"local c = lighty.c\nlocal CASES = {{\n{cases}\n}}\n" + RUNNER) as s:
        r = get(s.port, "/a.txt")
        eq(r.status, 200, "status")
    results = []
    for line in r.body.decode().split("\n"):
        if line == "nil" or line == "error":
            results.append(None if line == "nil" else line)
        elif line.startswith("{"):
            results.append([bytes.fromhex(h) for h in line[1:-1].split(",") if h])
        else:
            results.append(bytes.fromhex(line))
    return results


def check_calls(fn, cases):
    """cases: (argument, expected) pairs for lighty.c[fn]."""
    got = evaluate([f"c.{fn}({lit(arg)})" for arg, _ in cases])
    for (arg, want), have in zip(cases, got):
        eq(have, want, f"lighty.c.{fn}({arg!r})")


ALL_BYTES = bytes(range(256))


def pct(keep):
    """Percent-encoding that keeps letters, digits and keep."""
    def enc(b):
        return b"".join(bytes([c]) if chr(c).isalnum() and c < 128 or chr(c) in keep
                        else b"%%%02X" % c for c in b)
    return enc


def test_urlenc_and_xmlenc_encode_what_lighttpd_does():
    got = evaluate([f"c.urlenc({lit(ALL_BYTES)})", f"c.xmlenc({lit(ALL_BYTES)})"])
    eq(got[0], pct("!()*-./_~")(ALL_BYTES), "urlenc of every byte")
    want = b"".join(b"&#x%02X;" % c if c < 0x20 or c == 0x7f or chr(c) in "&<>\"'`"
                    else bytes([c]) for c in ALL_BYTES)
    eq(got[1], want, "xmlenc of every byte")


def test_quoted_strings():
    check_calls("quotedenc", [("", b""), ("a b", b'"a b"'), ('a"b\\c', b'"a\\"b\\\\c"')])
    check_calls("quoteddec", [
        ("", b""), ("x", b"x"), ('"', None), ('""', b""), ('"a b"', b"a b"),
        ('"a\\"b\\\\c"', b'a"b\\c'), ('"unterminated', None), ("noquote", b"noquote"),
        ('"a"b', None), ('"\\', None), (' "a"', b' "a"')])


def test_backslash_escapes():
    controls = b"".join(b"\\u%04X" % c if c not in range(7, 14) else b"\\" + b"abtnvfr"[c - 7:c - 6]
                        for c in range(32))
    tail = bytes(range(32, 256)).replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    got = evaluate([f"c.bsenc({lit(ALL_BYTES)})", f"c.bsenc_json({lit(ALL_BYTES)})"])
    eq(got[0], controls + tail, "bsenc of every byte")
    json_tail = b"".join(b"\\x%02X" % c if c >= 0x7f else bytes([c]) for c in tail)
    eq(got[1], controls.replace(b"\\u00", b"\\x") + json_tail, "bsenc_json of every byte")
    check_calls("bsdec", [
        ("", b""), ("\\", b"\\"), ("a\\nb", b"a\nb"), ("\\x4", b"x4"), ("\\x41\\x4g", b"Ax4g"),
        ("\\u00e9\\u20ac", "é€".encode()), ("\\uD83D\\uDE00", b"=D83D\x00DE00"),
        ("\\t\\r\\f\\b\\v\\a\\0\\\"\\\\\\/\\q", b't\r\x0c\x08\x0b\x07\x00"\\/q'),
        ("\\101\\1010", b"AA0"), ("\\377\\400", b"\xff400"), ("\\U0001F600", b"U0001F600"),
        ("end\\", b"end\\"), ("\\u00", b"u00"), ("\\u0000", b"\x00"),
        ("\\u007f\\u0080\\u07FF\\u0800\\uFFFF", b"\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf"),
        ("\\x7f\\xff\\xFF", b"\x7f\xff\xff"), ("\\8", b"8")])


def test_fspath_simplify():
    check_calls("fspath_simplify", [
        ("", b""), ("/", b"/"), (".", b""), ("..", b""), ("a/../..", b"/"),
        ("/a/b/../../..", b"/"), ("//a//b/", b"/a/b/"), ("/./", b"/"), ("a/./b", b"a/b"),
        ("/a/b/.", b"/a/b/"), ("/a/b/..", b"/a/"), ("/a%2e/..", b"/"), ("rel/../x", b"/x"),
        ("./a", b"/a"), ("../a", b"/a"), (" /a", b" /a"), ("a/..", b"/"), ("/..", b"/"),
        ("a/b/../../../c", b"/c"), ("/a/./../b", b"/b"), ("/a/.b/..c/...", b"/a/.b/..c/..."),
        ("a//b", b"a/b"), ("/a\\..\\b", b"/a\\..\\b"), (ALL_BYTES, ALL_BYTES)])


def test_urlenc_normalize():
    check_calls("urlenc_normalize", [
        ("", b""), ("a", b"a"), ("/", b"/"), ("/a%2fb", b"/a/b"), ("/%41%42", b"/AB"),
        ("/a b", b"/a%20b"), ("/%7E%7e", b"/~~"), ("/a?b c&d=%2F", b"/a?b+c&d=/"),
        ("/%zz", b"/%25zz"), ("/a/../b", b"/b"), ("/%2e%2e/x", b"/x"),
        ("http://x/y", b"http:/x/y"), ("/%00", b"/%00"), ("/é".encode(), b"/%C3%A9"),
        ("/a#frag", b"/a"), ("/a//b", b"/a/b"), ("/a?%41%2f%20+", b"/a?A/++"),
        ("/A%2a%21", b"/A*!"), ("/%7f", b"/%7F"), ("?x", b"?x"), ("/a/%2e%2e", b"/"),
        ("/x%252F", b"/x%252F"), ("/a?%3D%26", b"/a?%3D%26")])
    keep = "!$&'()*+,-./:;=?@_~"
    no_hash = bytes(c for c in range(256) if c not in b"#?")
    eq(evaluate([f"c.urlenc_normalize({lit(b'/' + no_hash)})"])[0],
       b"/" + pct(keep)(no_hash), "every byte in a path")
    encoded = "".join("%%%02x" % c for c in range(256))
    got = evaluate([f"c.urlenc_normalize({lit('/' + encoded)})",
                    f"c.urlenc_normalize({lit('/?' + encoded)})"])

    def decoded(c, stays):
        kept = (chr(c).isalnum() and c < 128 or chr(c) in keep) and chr(c) not in stays
        return b"+" if stays != "?" and c == 32 else bytes([c]) if kept else b"%%%02X" % c

    eq(got[0], b"/" + b"".join(decoded(c, "?") for c in range(256)), "%XX in a path")
    eq(got[1], b"/?" + b"".join(decoded(c, "&+;=") for c in range(256)), "%XX in a query")


def test_header_tokens():
    got = evaluate([f"c.header_tokens({lit(s)})" for s in (
        "", "a", "a, b", " a ,b;q=1", '"x,y", z', 'a=b; c="d e"', 'text/html;charset="utf-8"',
        "a,,b", "\ta\t", '"esc\\"q"', "x y")])
    eq(got, [[], [b"a"], [b"a", b",", b"b"], [b"a", b",", b"b", b";", b"q", b"=", b"1"],
             [b'"x,y"', b",", b"z"], [b"a", b"=", b"b", b";", b"c", b"=", b'"d e"'],
             [b"text/html", b";", b"charset", b"=", b'"utf-8"'], [b"a", b",", b",", b"b"],
             [b"a"], [b'"esc\\"q"'], [b"x", b"y"]], "tokens")


def test_urlenc_query():
    key_keep = "!$(),-./:?@_~*"
    got = evaluate(['c.urlenc_query({a = "1 2"})', 'c.urlenc_query({k = ""})',
                    'c.urlenc_query({["k="] = "v=&+#%"})', 'c.urlenc_query("str")',
                    "c.urlenc_query()", f"c.urlenc_query({{[{lit(ALL_BYTES)}] = 'x'}})",
                    f"c.urlenc_query({{k = {lit(ALL_BYTES)}}})"])
    eq(got[:5], [b"a=1+2", b"k=", b"k%3D=v=%26%2B%23%25", b"", b""], "pairs")
    enc = pct(key_keep)
    eq(got[5], enc(ALL_BYTES).replace(b"%20", b"+") + b"=x", "every byte in a key")
    eq(got[6], b"k=" + pct(key_keep + "=")(ALL_BYTES).replace(b"%20", b"+"),
       "every byte in a value")


def test_smaller_helpers():
    got = evaluate(['c.b64dec("YQ==YQ")', 'c.b64dec("!!")', 'c.hexdec("zz")',
                    'c.hexdec("414")', 'c.cookie_tokens(\' a = 1 ;b;c="2";;d=%41\').b',
                    'c.cookie_tokens(\' a = 1 ;b;c="2";;d=%41\').a'])
    eq(got, [b"a", None, None, None, b"", b"1"], "results")


def test_req_attr_ports_are_strings_and_stage_is_named():
    lua = """
local a = lighty.r.req_attr
lighty.r.resp_body:set(table.concat({type(a["request.remote-port"]),
    type(a["request.server-port"]), a["request.server-port"], a["request.stage"]}, " "))
return 200
"""
    with magnet(lua) as s:
        eq(get(s.port, "/a.txt").body.decode(), f"string string {s.port} handle-req", "attrs")


def test_req_item():
    lua = """
local it = lighty.r.req_item
local sec, nsec = it.start_time()
local ok, err = pcall(function() it.bytes_in = 1 end)
lighty.r.resp_body:set(table.concat({it.keep_alive, it.req_count, it.bytes_in,
    it.req_header_len, it.bytes_out, it.resp_header_len, it.stream_id,
    tostring(math.abs(sec - lighty.c.time()) < 60), math.type(nsec), tostring(ok),
    tostring(pcall(function() return it.nonesuch end))}, " "))
if lighty.r.req_header["X-Close"] then it.keep_alive = 0 end
return 200
"""
    with magnet(lua) as s, harness.Conn(s.port) as c:
        head = "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        r = c.request("/a.txt")
        eq(r.body.decode(), f"1 1 {len(head)} {len(head)} 0 0 0 true integer false false",
           "the first request's items")
        r = c.request("/a.txt", headers={"X-Close": "1"})
        eq(r.body.decode().split(" ")[:2], ["1", "2"], "keep_alive and req_count")
        eq(r.header("Connection"), "close", "keep_alive = 0 closes the connection")
        check(c.closed_by_server(), "the connection closed")


def test_req_item_stream_id_over_h2c():
    lua = 'lighty.r.resp_body:set(tostring(lighty.r.req_item.stream_id))\nreturn 200\n'
    with magnet(lua) as s, h2client.H2Conn.open(s.port) as c:
        bodies = [c.get("/a.txt", timeout=10).body.decode() for _ in range(2)]
        eq(bodies, ["1", "3"], "the ids of two streams on one connection")
        eq(get(s.port, "/a.txt").body.decode(), "0", "HTTP/1 has none")


def test_req_item_http_status():
    with harness.TempDir() as tmp:
        tmp.write("p.lua", 'lighty.r.resp_header["X-P"] = lighty.r.req_item.http_status\n')
        tmp.write("rs.lua", 'lighty.r.resp_header["X-RS"] = lighty.r.req_item.http_status\n')
        conf = ('server.modules += ("mod_magnet")\n'
                'magnet.attract-physical-path-to = ("@TMP@/p.lua")\n'
                'magnet.attract-response-start-to = ("@TMP@/rs.lua")\n')
        with Server(conf, files={"a.txt": "a\n"}, tmp=tmp.path) as s:
            r = get(s.port, "/a.txt")
            eq((r.header("X-P"), r.header("X-RS")), ("0", "200"), "before and at the response")
            eq(get(s.port, "/none").header("X-RS"), "404", "an error's status")


def test_print_goes_to_the_error_log():
    lua = 'print("from the script\\nsecond line", "ignored") print(nil)\n'
    with magnet(lua) as s:
        eq(get(s.port, "/a.txt").status, 200, "status")
        poll(lambda: "(lua-print) from the script\\nsecond line" in s.errorlog, timeout=10,
             what="print's line in the error log")
        contains(s.errorlog, "(lua-print) (null)", "nil")
        check("ignored" not in s.errorlog, "only the first argument is printed")


def test_resp_body_get_and_len_are_fields():
    lua = """
local b = lighty.r.resp_body
lighty.r.resp_header["X-Body"] = type(b.get) .. " " .. lighty.c.hexenc(b.get) .. " " .. b.len
    .. " " .. b.bytes_out .. " " .. tostring(pcall(function() return b.nonesuch end))
"""
    with harness.TempDir() as tmp:
        tmp.write("rs.lua", lua)
        conf = ('server.modules += ("mod_magnet")\n'
                'magnet.attract-response-start-to = ("@TMP@/rs.lua")\n')
        with Server(conf, files={"a.txt": "abc\n"}, tmp=tmp.path) as s:
            r = get(s.port, "/a.txt")
            eq(r.header("X-Body"), "string 6162630A 4 0 false", "the static file's body")
            eq(r.body, b"abc\n", "the body itself")


def test_stat_fields_of_the_request():
    lua = """
local root = lighty.r.req_attr["physical.doc-root"]
local st = lighty.c.stat(root .. "/a.txt")
local sec, nsec = st.st_mtim()
lighty.r.resp_header["X-Stat"] = table.concat({st.etag, st["content-type"], math.type(sec),
    math.type(nsec), tostring(sec == st.st_mtime), tostring(lighty.c.stat(root)["content-type"])},
    " ")
if lighty.r.req_attr["uri.path"] == "/send" then
    return lighty.c.stat(root .. "/b.html")["http-response-send-file"]
end
"""
    with harness.TempDir() as tmp:
        tmp.write("st.lua", lua)
        conf = ('server.modules += ("mod_magnet")\n'
                '$HTTP["url"] != "/a.txt" { magnet.attract-physical-path-to = ("@TMP@/st.lua") }\n')
        with Server(conf, files={"a.txt": "abc\n", "b.html": "<p>b</p>\n"}, tmp=tmp.path) as s:
            etag = get(s.port, "/a.txt").header("ETag")
            check(etag, "a static answer has an ETag")
            r = get(s.port, "/b.html")
            eq(r.header("X-Stat"), f"{etag} text/plain integer integer true nil", "the fields")
            r = get(s.port, "/send")
            eq((r.status, r.body, r.header("Content-Type")), (200, b"<p>b</p>\n", "text/html"),
               "http-response-send-file answers with the file")
            eq(r.header("ETag"), get(s.port, "/b.html").header("ETag"), "its validator")


@lux_only("lighttpd 1.4.69 gathers the body only once a script asked (it runs the script again), "
          "and its req_body.get then holds the request head too")
def test_req_body_read_by_two_scripts():
    lua = """
local b = lighty.r.req_body
lighty.r.resp_body:add(table.concat({b.len, tostring(b.collect), b.bytes_in,
    lighty.c.md("sha256", b.get), ""}, " "))
"""
    last = "lighty.r.resp_body:add(lighty.r.req_body.get:sub(1, 3)) return 200\n"
    with harness.TempDir() as tmp:
        tmp.write("b.lua", lua)
        tmp.write("last.lua", last)
        conf = ('server.modules += ("mod_magnet")\n'
                'magnet.attract-physical-path-to = ("@TMP@/b.lua", "@TMP@/b.lua", '
                '"@TMP@/last.lua")\n')
        with Server(conf, files={"a.txt": "a\n"}, tmp=tmp.path) as s:
            for size in (0, 10, 300 * 1024):
                body = bytes(i % 251 for i in range(size))
                r = get(s.port, "/a.txt", method="POST", body=body,
                        headers={"Content-Length": str(size)})
                one = f"{size} true {size} {harness.sha256(body).upper()} "
                eq(r.body, (one * 2).encode() + body[:3], f"a body of {size} bytes, twice")


def test_server_stats():
    lua = """
local st = lighty.server.stats
lighty.r.resp_body:set(table.concat({math.type(st.uptime), tostring(st.uptime >= 0),
    st.version, tostring(st.clients_open >= 1), tostring(pcall(function() return st.x end))},
    " "))
return 200
"""
    with magnet(lua) as s:
        kind, nonneg, version, open_, bad = get(s.port, "/a.txt").body.decode().split(" ")
        eq((kind, nonneg, open_, bad), ("integer", "true", "true", "false"), "the stats")
        check(version.startswith(("lux/", "lighttpd/")), f"the server's name: {version}")


def test_documented_example_webp_negotiation_and_bot_block():
    """Two recipes from lighttpd's mod_magnet documentation: serve image.webp for image.png to
    clients that accept WebP, and refuse a user agent."""
    lua = """
local r = lighty.r
local ua = r.req_header["User-Agent"]
if ua and ua:find("BadBot", 1, true) then
    return 403
end
local accept = r.req_header["Accept"] or ""
local path = r.req_attr["physical.path"]
if path:sub(-4) == ".png" and accept:find("image/webp", 1, true) then
    local webp = path:sub(1, -5) .. ".webp"
    if lighty.c.stat(webp) then
        r.req_attr["physical.path"] = webp
        r.resp_header["Vary"] = "Accept"
    end
end
"""
    with harness.TempDir() as tmp:
        tmp.write("t.lua", lua)
        conf = ('server.modules += ("mod_magnet")\n'
                'mimetype.assign += (".webp" => "image/webp")\n'
                'magnet.attract-physical-path-to = ("@TMP@/t.lua")\n')
        files = {"i.png": "png bytes", "i.webp": "webp bytes"}
        with Server(conf, files=files, tmp=tmp.path) as s:
            r = get(s.port, "/i.png", headers={"Accept": "image/webp,*/*"})
            eq((r.status, r.body, r.header("Vary")), (200, b"webp bytes", "Accept"), "WebP")
            eq(r.header("Content-Type"), "image/webp", "its type")
            r = get(s.port, "/i.png", headers={"Accept": "*/*"})
            eq((r.status, r.body), (200, b"png bytes"), "PNG for the others")
            eq(get(s.port, "/i.png", headers={"User-Agent": "x BadBot/1"}).status, 403, "bot")


@lux_only("lighttpd 1.4.69 changes a body only once a script gathered it (collect, then a rerun)")
def test_req_body_set_and_add_reach_the_handler():
    lua = """
local b = lighty.r.req_body
local how = lighty.r.req_header["X-How"]
if how == "set" then b:set("replaced") end
if how == "add" then b:add({ "+", "more" }) end
if how == "set-table" then b.set({ "a", "b", "c" }) end
"""
    cgi = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\necho \"$CONTENT_LENGTH\"\ncat\n"
    with harness.TempDir() as tmp:
        tmp.write("t.lua", lua)
        conf = ('server.modules += ("mod_magnet", "mod_cgi")\n'
                'cgi.assign = (".sh" => "/bin/sh")\n'
                'magnet.attract-physical-path-to = ("@TMP@/t.lua")\n')
        with Server(conf, files={"echo.sh": cgi}, tmp=tmp.path) as s:
            def post(how, body):
                r = get(s.port, "/echo.sh", method="POST", body=body, headers={"X-How": how})
                eq(r.status, 200, f"status ({how})")
                return r.body
            eq(post("none", b"original"), b"8\noriginal", "untouched")
            eq(post("set", b"original"), b"8\nreplaced", "set")
            eq(post("add", b"original"), b"13\noriginal+more", "add")
            eq(post("set-table", b"x" * 200000), b"3\nabc", "set replaces a spooled body")
            big = bytes(i % 251 for i in range(100000))
            eq(post("add", big), b"100005\n" + big + b"+more", "add after a spooled body")


def test_plugin_stats_count_and_mod_status_lists_them():
    lua = """
local ps = lighty.server.plugin_stats
ps["magnet.hits"] = ps["magnet.hits"] + 1
lighty.status["magnet.fixed"] = 7
lighty.r.resp_header["X-PS"] = table.concat({ps["magnet.hits"], ps["magnet.fresh"],
    tostring(pcall(function() ps["magnet.bad"] = "x" end)),
    tostring(pcall(function() ps["magnet.bad"] = 2.5 end))}, " ")
"""
    with harness.TempDir() as tmp:
        tmp.write("ps.lua", lua)
        conf = ('server.modules += ("mod_magnet", "mod_status")\n'
                'status.statistics-url = "/stats"\n'
                '$HTTP["url"] != "/stats" { magnet.attract-physical-path-to = ("@TMP@/ps.lua") }\n')
        with Server(conf + "server.max-worker = 2\n" * (not harness.is_lighttpd()),
                    files={"a.txt": "a\n"}, tmp=tmp.path) as s:
            for i in range(1, 4):
                eq(get(s.port, "/a.txt").header("X-PS"), f"{i} 0 false false", f"request {i}")
            r = get(s.port, "/stats")
            eq((r.status, r.header("Content-Type")), (200, "text/plain"), "the statistics page")
            lines = set(r.body.decode().splitlines())
            check({"magnet.hits: 3", "magnet.fixed: 7", "magnet.fresh: 0"} <= lines,
                  f"the counters listed: {sorted(lines)}")
