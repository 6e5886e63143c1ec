"""mod_fastcgi's authorizer mode: the test's FastCGI app in the FCGI_AUTHORIZER role decides by
the request's X-Auth header (see fcgi_app.py); what it allows goes on to a static file, a
FastCGI responder, a CGI script or an SSI page with its Variable-* in their environment."""

import os

import harness
from harness import Server, check, eq, lux_only
from test_mod_fastcgi import App, backend_conf, env_of, get, unix_addr

FILES = {"static.txt": "static\n", "env.php": "", "sha.php": "", "env.sh": "env\n",
         "page.shtml": 'by <!--#echo var="AUTH_BY" -->\n', "../alt/only-alt.txt": "from alt\n"}
AUTH = ', "mode" => "authorizer", "check-local" => "disable"'


class AuthSetup:
    """A server whose fastcgi.server asks the app as authorizer for every path ("/") and as a
    responder for ".php"; auth_opts are added to the authorizer's options."""

    def __init__(self, auth_opts=AUTH, extra="", modules='"mod_fastcgi"', start_app=True):
        self.tmp = harness.TempDir()
        self.app = App("a", unix_addr(self.tmp.path, "a"))
        self.start_app = start_app
        self.server = Server(
            f'server.modules = ({modules})\nserver.max-worker = 1\n'
            f'fastcgi.server = ( "/" => ( "auth" => {backend_conf(self.app.addr, auth_opts)} ),\n'
            f'                   ".php" => ( "app" => {backend_conf(self.app.addr)} ) )\n' + extra,
            files=FILES)

    def __enter__(self):
        try:
            if self.start_app:
                self.app.start()
            self.server.__enter__()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self.server

    def __exit__(self, *exc):
        try:
            self.server.__exit__(*exc)
        finally:
            self.app.stop()
            self.tmp.__exit__(None, None, None)


def auth_get(s, path, verdict, **kw):
    headers = dict(kw.pop("headers", {}), **{"X-Auth": verdict})
    return get(s, path, headers=headers, **kw)


def test_allowed_request_gets_static_file():
    with AuthSetup() as s:
        r = auth_get(s, "/static.txt", "ok")
        eq(r.status, 200)
        eq(r.body, b"static\n")
        check(r.header("X-Auth-Only") is None, "the authorizer's own header reached the client")


def test_denied_request_gets_authorizer_answer():
    with AuthSetup() as s:
        r = auth_get(s, "/static.txt", "no")
        eq(r.status, 401)
        eq(r.header("WWW-Authenticate"), 'Basic realm="app"')
        eq(r.body, b"denied by a\n")


def test_authorizer_redirect_goes_to_client():
    with AuthSetup() as s:
        r = auth_get(s, "/static.txt", "redirect")
        eq(r.status, 302)
        eq(r.header("Location"), "/login")


def test_responder_after_authorizer_sees_variables():
    with AuthSetup() as s:
        r = auth_get(s, "/env.php?q=1", "ok")
        eq(r.status, 200)
        env = env_of(r.body)
        eq(env.get("AUTH_BY"), "a")
        eq(env.get("SCRIPT_NAME"), "/env.php")
        eq(env.get("QUERY_STRING"), "q=1")
        check(b"authorizer body" not in r.body, "the authorizer's body reached the client")


def test_authorizer_gets_no_length_script_name_or_path_info():
    with AuthSetup() as s:
        env = env_of(auth_get(s, "/env.php", "ok", method="POST", body=b"12345").body)
        seen = env.get("AUTH_PARAMS", "").split(",")
        for name in ("REQUEST_URI", "REQUEST_METHOD", "HTTP_X_AUTH", "SCRIPT_FILENAME"):
            check(name in seen, f"the authorizer did not get {name}: {seen}")
        for name in ("CONTENT_LENGTH", "SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED"):
            check(name not in seen, f"the authorizer got {name}")
        eq(env.get("CONTENT_LENGTH"), "5")  # the responder gets it


def test_request_body_reaches_responder_whole():
    body = os.urandom(300 * 1024)
    with AuthSetup() as s:
        r = auth_get(s, "/sha.php", "ok", method="POST", body=body, timeout=30)
        eq(r.status, 200)
        eq(r.body.decode().split(), [str(len(body)), harness.sha256(body)])


def test_cgi_script_sees_variables():
    extra = 'cgi.assign = ( ".sh" => "/bin/sh" )\n'
    with AuthSetup(extra=extra, modules='"mod_fastcgi", "mod_cgi"') as s:
        s.write("env.sh", 'printf "Content-Type: text/plain\\r\\n\\r\\nAUTH_BY=%s\\n" "$AUTH_BY"\n')
        r = auth_get(s, "/env.sh", "ok")
        eq(r.status, 200)
        eq(r.body, b"AUTH_BY=a\n")


def test_ssi_page_sees_variables():
    extra = 'ssi.extension = ( ".shtml" )\n'
    with AuthSetup(extra=extra, modules='"mod_fastcgi", "mod_ssi"') as s:
        r = auth_get(s, "/page.shtml", "ok")
        eq(r.status, 200)
        eq(r.body, b"by a\n")


def test_docroot_of_authorizer_serves_from_there():
    with AuthSetup(auth_opts=AUTH + ', "docroot" => "@TMP@/alt"') as s:
        r = auth_get(s, "/only-alt.txt", "ok")
        eq(r.status, 200)
        eq(r.body, b"from alt\n")
        eq(auth_get(s, "/only-alt.txt", "no").status, 401)


def test_docroot_of_authorizer_wins_over_alias():
    extra = 'alias.url = ( "/only-alt.txt" => "@DOCROOT@/static.txt" )\n'
    with AuthSetup(auth_opts=AUTH + ', "docroot" => "@TMP@/alt"', extra=extra,
                   modules='"mod_alias", "mod_fastcgi"') as s:
        eq(auth_get(s, "/only-alt.txt", "ok").body, b"from alt\n")


def test_check_local_authorizer_not_asked_for_missing_file():
    with AuthSetup(auth_opts=', "mode" => "authorizer"') as s:
        eq(auth_get(s, "/missing.txt", "no").status, 404)
        eq(auth_get(s, "/static.txt", "no").status, 401)
        eq(auth_get(s, "/static.txt", "ok").body, b"static\n")


def test_authorizer_down_is_503():
    with AuthSetup(start_app=False) as s:
        eq(auth_get(s, "/static.txt", "ok").status, 503)


def test_keep_alive_requests_each_authorized():
    with AuthSetup() as s:
        with harness.Conn(s.port) as c:
            for verdict, status in (("ok", 200), ("no", 401), ("ok", 200)):
                c.send(harness.build_request("/static.txt", {"X-Auth": verdict}))
                eq(c.response().status, status, f"X-Auth {verdict}")


@lux_only("lighttpd words its error differently")
def test_unknown_mode_refused():
    with harness.TempDir() as t:
        path = os.path.join(t.path, "lux.conf")
        harness.write_file(path, harness.BASE_CONF.replace("@PORT@", "80")
                           .replace("@DOCROOT@", t.path).replace("@TMP@", t.path) +
                           'server.modules = ("mod_fastcgi")\n'
                           'fastcgi.server = ( "/" => ( ( "host" => "127.0.0.1", "port" => 9, '
                           '"mode" => "filter" ) ) )\n')
        r = harness.run_bin(["-t", "-f", path])
        check(r.returncode != 0, "mode filter was accepted")
        harness.contains(r.stderr, "authorizer")


@lux_only("lux has authorizers for FastCGI only; an SCGI or HTTP one is refused at start-up")
def test_scgi_and_proxy_authorizers_refused():
    for module in ("scgi", "proxy"):
        with harness.TempDir() as t:
            path = os.path.join(t.path, "lux.conf")
            harness.write_file(path, harness.BASE_CONF.replace("@PORT@", "80")
                               .replace("@DOCROOT@", t.path).replace("@TMP@", t.path) +
                               f'server.modules = ("mod_{module}")\n'
                               f'$HTTP["url"] =^ "/x" {{\n{module}.server = ( "/" => ( ( '
                               '"host" => "127.0.0.1", "port" => 9, "mode" => "authorizer" ) ) )\n}\n')
            r = harness.run_bin(["-t", "-f", path])
            check(r.returncode != 0, f"an authorizer for mod_{module} was accepted")
            harness.contains(r.stderr, "FastCGI's only")
