"""strip-request-uri as lighttpd has it: a host entry's URL path prefix that REQUEST_URI loses
before it reaches the backend, where a "/" follows it (a trailing "/" of the prefix is
ignored); for SCGI too, where lighttpd accepts the option and ignores it."""

import harness
from harness import check, eq, lux_only
import test_mod_scgi as scgi
from test_mod_fastcgi import Setup, env_of, get, one_pool


def fastcgi_request_uris(strip, paths, key='"/app"'):
    """REQUEST_URI as a FastCGI backend with "strip-request-uri" => strip sees each of paths."""
    opts = f', "check-local" => "disable", "strip-request-uri" => "{strip}"'
    with Setup(["a"], lambda apps: one_pool(apps, key, opts)) as st:
        uris = []
        for path in paths:
            r = get(st.server, path)
            eq(r.status, 200, f"{path} is answered")
            uris.append(env_of(r.body).get("REQUEST_URI"))
        return uris


def test_prefix_is_stripped():
    eq(fastcgi_request_uris("/app", ["/app/env/more?q=1", "/app/env"]),
       ["/env/more?q=1", "/env"], "the prefix is gone")


def test_trailing_slash_of_prefix_is_ignored():
    eq(fastcgi_request_uris("/app/", ["/app/env/more?q=1"]), ["/env/more?q=1"],
       "\"/app/\" strips what \"/app\" does")


def test_prefix_without_slash_after_it_stays():
    eq(fastcgi_request_uris("/ap", ["/app/env?q=/x"]), ["/app/env?q=/x"],
       "a prefix that ends mid-segment strips nothing")


def test_prefix_other_than_the_key():
    """The prefix is the host entry's own, not the key's: here an extension key."""
    eq(fastcgi_request_uris("/mnt", ["/mnt/env.php?x"], key='".php"'), ["/env.php?x"],
       "the prefix of an extension key's host")


@lux_only("lighttpd 1.4.69 accepts strip-request-uri in scgi.server but never applies it")
def test_scgi_prefix_is_stripped():
    app = scgi.App("scgi")
    conf = scgi.conf(app.port, "scgi").replace('"check-local"',
                                               '"strip-request-uri" => "/app", "check-local"')
    try:
        with harness.Server(conf) as s:
            r = scgi.get(s, "/app/env/x?q=1")
            eq(r.status, 200)
            eq(scgi.env_of(r.body).get("REQUEST_URI"), "/env/x?q=1", "the prefix is gone")
    finally:
        app.stop()


def config_error(conf):
    with harness.TempDir() as tmp:
        text = harness.BASE_CONF + 'server.modules = ("mod_fastcgi")\n' + conf
        text = text.replace("@TMP@", tmp.path).replace("@DOCROOT@", tmp.path)
        path = tmp.write("lux.conf", text.replace("@PORT@", "80"))
        cp = harness.run_bin(["-tt", "-f", path])
        check(cp.returncode != 0, f"the config was accepted: {conf!r}")
        return cp.stderr


@lux_only("lighttpd takes any string as the prefix, \"enable\" too, and then never strips")
def test_switch_value_is_refused_with_its_line():
    err = config_error('\nfastcgi.server = ( "/app" => ( ( "host" => "127.0.0.1", '
                       '"port" => 9, "strip-request-uri" => "enable" ) ) )\n')
    check("lux.conf:" in err and "strip-request-uri" in err and "/app" in err,
          f"the error names the file, line and option: {err!r}")
