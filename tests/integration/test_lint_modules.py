"""lux --lint and the keys lux does not act on: a misspelt or unknown directive, a directive
whose module server.modules does not load, and a module lux does not have. lux -t only warns
about the first two (and stops on the third); the lint names each with its file:line."""

import os

import harness
from harness import eq
from test_lint import LINT, lint

DEBIAN_LIGHTTPD = "/etc/lighttpd/lighttpd.conf"


@harness.lux_only(LINT)
def test_lint_unknown_keys():
    with harness.TempDir() as t:
        cp, lines = lint(t, 'server.document_root = "/x"\n'
                            '$HTTP["host"] == "a" {\n    url.redirectt = ( "a" => "b" )\n}\n'
                            'ssl.no-such-option = "x"\n'
                            'var.mine = "kept"\n')
        eq(lines, [
            "lux.conf:3: ignored: server.document_root is not a directive lux knows",
            "lux.conf:5: ignored: url.redirectt is not a directive lux knows",
            "lux.conf:7: unsupported: ssl.no-such-option is not a directive lux knows; lux "
            "refuses to start with it (it would guard access)",
        ], "findings")
        eq(cp.returncode, 1, "exit status")


@harness.lux_only(LINT)
def test_lint_directive_without_its_module():
    with harness.TempDir() as t:
        cp, lines = lint(t, 'server.modules = ( "mod_rewrite" )\n'
                            'url.rewrite-once = ( "^/a$" => "/b" )\n'
                            'setenv.add-response-header = ( "X-A" => "1" )\n'
                            'url.access-deny = ( ".inc" )\n'
                            'index-file.names = ( "i.html" )\n'
                            'ssl.engine = "disable"\n')
        eq(lines, [
            "lux.conf:5: ignored: setenv.add-response-header needs mod_setenv in server.modules",
            "lux.conf:6: unsupported: url.access-deny needs mod_access in server.modules; lux "
            "refuses to start without it (it would guard access)",
        ], "findings")
        eq(cp.returncode, 1, "exit status")


@harness.lux_only(LINT)
def test_lint_modules_lux_does_not_have():
    with harness.TempDir() as t:
        cp, lines = lint(t, 'server.modules = ( "mod_access", "mod_rrdtool", "mod_kv" )\n'
                            'rrdtool.binary = "/usr/bin/rrdtool"\n'
                            'kv.size = 10\n')
        eq(lines, [
            "lux.conf:3: unsupported: mod_rrdtool is not built into lux; start-up needs "
            "mod_rrdtool.so in the module directory",
            "lux.conf:3: unsupported: mod_kv is not built into lux; start-up needs mod_kv.so in "
            "the module directory",
        ], "findings (the keys of a loadable module are that module's to check)")
        eq(cp.returncode, 1, "exit status")


@harness.lux_only(LINT)
def test_lint_debians_lighttpd_conf_has_no_unknown_keys():
    if not os.path.isfile(DEBIAN_LIGHTTPD):
        raise harness.Skip("lighttpd's Debian configuration is not installed")
    cp = harness.run_bin(["--lint", "-f", DEBIAN_LIGHTTPD])
    eq([line for line in cp.stdout.splitlines() if "ignored:" in line or "unsupported:" in line],
       [], "keys lux would not act on in Debian's lighttpd.conf")
    eq(cp.stderr, "", "errors")
