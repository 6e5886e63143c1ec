"""Start-up checks of the config: modules lux does not have, named where they are listed, and
settings that protect something refused when their module is missing."""

import re

import harness
from harness import TempDir, check, eq, lux_only

HEAD = 'server.document-root = "{tmp}"\nserver.port = 8080\n'


def check_config(body):
    """Run -tt on HEAD + body; returns (exit status, stdout + stderr)."""
    with TempDir() as tmp:
        path = tmp.write("lux.conf", HEAD.format(tmp=tmp.path) + body)
        cp = harness.run_bin(["-tt", "-f", path])
        return cp.returncode, cp.stdout + cp.stderr


def refused(body, *patterns):
    rc, out = check_config(body)
    check(rc != 0, f"config accepted:\n{body}")
    for p in patterns:
        check(re.search(p, out), f"no {p!r} in {out!r}")
    return out


@lux_only("lighttpd names no line for a module it cannot load")
def test_missing_modules_named_where_listed():
    body = ('server.modules = (\n'          # line 3
            '    "mod_access",\n'            # 4
            '    "mod_rrdtool",\n'            # 5
            '    "mod_nosuchthing",\n'       # 6
            ')\n'                            # 7
            'server.tag = "t"\n'             # 8
            'server.modules += ("mod_vhostdb")\n')  # 9
    out = refused(body, r'lux\.conf:5: module "mod_rrdtool" is not available',
                  r'lux\.conf:6: unknown module "mod_nosuchthing"',
                  r'lux\.conf:9: module "mod_vhostdb" is not available')
    check(not re.search(r"lux\.conf:[0-9]+:.*mod_access", out), f"mod_access blamed: {out!r}")


@lux_only("lighttpd names no line for a module it cannot load")
def test_missing_module_from_a_variable_named_where_written():
    body = ('var.mods = ("mod_rrdtool")\n'    # line 3
            'server.tag = "t"\n'             # 4
            'server.modules = var.mods\n')   # 5
    refused(body, r'lux\.conf:3: module "mod_rrdtool" is not available')


def test_ssl_engine_without_tls_refused():
    # lighttpd loads mod_openssl for ssl.* keys; without a certificate neither server may start.
    body = '$SERVER["socket"] == ":8443" {\n    ssl.engine = "enable"\n}\n'
    refused(body)


@lux_only("lighttpd's message differs")
def test_ssl_engine_without_pemfile_message():
    body = '$SERVER["socket"] == ":8443" {\n    ssl.engine = "enable"\n}\n'
    refused(body, r"lux\.conf: listener :8443: ssl\.engine is enabled but ssl\.pemfile is not set")


@lux_only("lighttpd ignores url.access-deny without mod_access, with a warning")
def test_access_deny_without_mod_access_refused():
    refused('url.access-deny = ("~", ".inc")\n',
            r"lux\.conf:3: url\.access-deny needs mod_access in server\.modules")


@lux_only("lighttpd ignores url.access-allow without mod_access, with a warning")
def test_access_allow_in_condition_without_mod_access_refused():
    refused('$HTTP["url"] =^ "/a/" {\n    url.access-allow = (".txt")\n}\n',
            r"lux\.conf:4: url\.access-allow needs mod_access in server\.modules")


@lux_only("lighttpd ignores auth.* without mod_auth, with a warning")
def test_auth_without_mod_auth_refused():
    refused('auth.require = ("/" => ("method" => "basic", "realm" => "r", '
            '"require" => "valid-user"))\n',
            r"lux\.conf:3: auth\.require needs mod_auth in server\.modules")


@lux_only("lighttpd stops at its first error")
def test_every_refused_key_reported_in_one_run():
    refused('url.access-deny = ("~")\nauth.backend = "plain"\n',
            r"lux\.conf:3: url\.access-deny", r"lux\.conf:4: auth\.backend")


def test_other_keys_without_their_module_only_warn():
    rc, out = check_config('url.rewrite-once = ("^/a" => "/b")\nalias.url = ("/x" => "/tmp")\n')
    eq(rc, 0, f"exit status ({out!r})")
    check("url.rewrite-once" in out and "alias.url" in out, f"no warnings in {out!r}")


def test_access_deny_with_mod_access_accepted():
    rc, out = check_config('server.modules = ("mod_access")\nurl.access-deny = ("~")\n')
    eq(rc, 0, f"exit status ({out!r})")
