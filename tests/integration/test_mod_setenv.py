"""mod_setenv: request and response headers added, replaced or removed; environment settings."""

import harness
from harness import Server, check, eq, get, lux_only

FILES = {"a.txt": "a\n", "sub/s.txt": "s\n", "handler.txt": "handled\n"}
# mod_setenv first: lighttpd only sets response headers for requests that reached it.
MODS = 'server.modules += ("mod_setenv", "mod_access")\n'


def config_loads(conf):
    with harness.TempDir() as tmp:
        text = (harness.BASE_CONF + conf).replace("@TMP@", tmp.path)
        text = text.replace("@DOCROOT@", tmp.path).replace("@PORT@", "80")
        return harness.run_bin(["-tt", "-f", tmp.write("lux.conf", text)]).returncode == 0


def test_add_response_header():
    conf = MODS + 'setenv.add-response-header = ("X-Frame-Options" => "DENY", "X-Two" => "2")\n'
    with Server(conf, files=FILES) as s:
        r = get(s.port, "/a.txt")
        eq(r.status, 200, "status")
        eq(r.header_all("X-Frame-Options"), ["DENY"], "X-Frame-Options")
        eq(r.header("X-Two"), "2", "X-Two")
        eq(r.body, b"a\n", "body")


def test_response_headers_on_error_pages():
    conf = MODS + 'setenv.add-response-header = ("X-A" => "1")\n'
    conf += 'setenv.set-response-header = ("X-S" => "2")\n'
    with Server(conf, files=FILES) as s:
        r = get(s.port, "/missing")
        eq(r.status, 404, "status")
        eq(r.header("X-A"), "1", "added header on a 404")
        eq(r.header("X-S"), "2", "set header on a 404")
        r = get(s.port, "/sub")
        eq(r.status, 301, "redirect")
        eq(r.header("X-A"), "1", "added header on a redirect")


def test_set_response_header_replaces_server_header():
    conf = MODS + 'setenv.set-response-header = ("Content-Type" => "text/x-custom")\n'
    with Server(conf, files=FILES) as s:
        r = get(s.port, "/a.txt")
        eq(r.header_all("Content-Type"), ["text/x-custom"], "one replaced Content-Type")


def test_set_response_header_empty_removes():
    conf = MODS + 'setenv.set-response-header = ("ETag" => "", "Last-Modified" => "")\n'
    with Server(conf, files=FILES) as s:
        r = get(s.port, "/a.txt")
        eq(r.status, 200, "status")
        check(not r.has("ETag"), "ETag removed")
        check(not r.has("Last-Modified"), "Last-Modified removed")


def test_response_header_in_condition():
    conf = MODS + '$HTTP["url"] =^ "/sub/" { setenv.add-response-header = ("X-Sub" => "yes") }\n'
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/sub/s.txt").header("X-Sub"), "yes", "inside the block")
        check(not get(s.port, "/a.txt").has("X-Sub"), "outside the block")


def test_added_request_header_seen_by_later_conditions():
    conf = (MODS + 'setenv.add-request-header = ("X-Role" => "guest")\n'
            '$REQUEST_HEADER["X-Role"] == "guest" { url.access-deny = ("") }\n')
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/a.txt").status, 403, "condition on the added header")


def test_add_request_header_appends_to_client_value():
    conf = (MODS + 'setenv.add-request-header = ("X-Role" => "guest")\n'
            '$REQUEST_HEADER["X-Role"] == "admin, guest" { url.access-deny = ("") }\n')
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/a.txt", headers={"X-Role": "admin"}).status, 403, "appended value")
        eq(get(s.port, "/a.txt").status, 200, "added alone")


def test_set_request_header_replaces_client_value():
    conf = (MODS + 'setenv.set-request-header = ("X-Role" => "guest")\n'
            '$REQUEST_HEADER["X-Role"] == "admin" { url.access-deny = (".txt") }\n'
            '$REQUEST_HEADER["X-Role"] == "guest" { url.access-deny = (".html") }\n')
    with Server(conf, files=dict(FILES, **{"i.html": "i\n"})) as s:
        eq(get(s.port, "/a.txt", headers={"X-Role": "admin"}).status, 200, "client value gone")
        eq(get(s.port, "/i.html", headers={"X-Role": "admin"}).status, 403, "replaced value")


def test_set_request_header_empty_removes():
    conf = (MODS + 'setenv.set-request-header = ("User-Agent" => "")\n'
            '$HTTP["useragent"] =~ "." { url.access-deny = ("") }\n')
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/a.txt", headers={"User-Agent": "curl/8"}).status, 200, "UA removed")


def test_request_header_added_once_with_error_handler():
    conf = (MODS + 'server.error-handler-404 = "/handler.txt"\n'
            'setenv.add-request-header = ("X-Role" => "guest")\n'
            '$REQUEST_HEADER["X-Role"] != "guest" { url.access-deny = ("") }\n')
    with Server(conf, files=FILES) as s:
        r = get(s.port, "/missing")
        check(r.status != 403, f"header added twice across the restart: {r.status}")
        eq(r.body, b"handled\n", "error handler's body")


def test_environment_settings_accepted():
    conf = MODS + ('setenv.add-environment = ("APP_ENV" => "prod")\n'
                   'setenv.set-environment = ("PATH" => "/usr/bin")\n')
    check(config_loads(conf), "environment settings")
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/a.txt").status, 200, "status")


def test_bad_values_are_config_errors():
    mods = 'server.modules += ("mod_setenv")\n'
    check(not config_loads(mods + 'setenv.add-response-header = ("X")\n'), "no key")
    check(not config_loads(mods + 'setenv.add-response-header = ("X" => 5)\n'), "number")
    check(not config_loads(mods + 'setenv.set-request-header = "X"\n'), "bare string")


@lux_only("lighttpd only warns about CR/LF in a header and sends the broken lines")
def test_header_injection_refused():
    mods = 'server.modules += ("mod_setenv")\n'
    check(not config_loads(mods + 'setenv.add-response-header = ("X" => "a\nY: b")\n'),
          "newline in a response header value")
    check(not config_loads(mods + 'setenv.add-request-header = ("X\nY" => "a")\n'),
          "newline in a header name")


def test_no_headers_when_answered_before_mod_setenv():
    conf = ('server.modules += ("mod_access", "mod_setenv")\n'
            'url.access-deny = (".txt")\nsetenv.add-response-header = ("X-A" => "1")\n')
    with Server(conf, files=FILES) as s:
        r = get(s.port, "/a.txt")
        eq(r.status, 403, "denied by the module listed first")
        check(not r.has("X-A"), "mod_setenv never saw the request")
        eq(get(s.port, "/missing").header("X-A"), "1", "requests that reach it")


def test_headers_when_listed_before_the_denying_module():
    conf = ('server.modules += ("mod_setenv", "mod_access")\n'
            'url.access-deny = (".txt")\nsetenv.add-response-header = ("X-A" => "1")\n')
    with Server(conf, files=FILES) as s:
        r = get(s.port, "/a.txt")
        eq(r.status, 403, "denied")
        eq(r.header("X-A"), "1", "mod_setenv ran first")


def test_error_handler_keeps_first_settings():
    conf = (MODS + 'server.error-handler-404 = "/handler.txt"\n'
            '$HTTP["url"] == "/missing" { setenv.add-response-header = ("X-Orig" => "1") }\n'
            '$HTTP["url"] == "/handler.txt" { setenv.add-response-header = ("X-Hdl" => "1") }\n')
    with Server(conf, files=FILES) as s:
        r = get(s.port, "/missing")
        eq(r.body, b"handled\n", "error handler's body")
        eq(r.header("X-Orig"), "1", "settings of the requested URL")
        check(not r.has("X-Hdl"), "not those of the handler's URL")
