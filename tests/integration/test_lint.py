"""lux --lint: deprecated, ignored, duplicate, shadowed and differing directives, one finding per
line as file:line: kind: message; exit 0 when clean, 1 with findings."""

import os
import re

import harness
from harness import check, contains, eq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINT = "--lint is lux's own"
HEAD = 'server.document-root = "/tmp"\nserver.port = 8080\n'


def lint(t, text, name="lux.conf"):
    path = t.write(name, HEAD + text)
    cp = harness.run_bin(["--lint", "-f", path])
    return cp, [line.replace(path, name) for line in cp.stdout.splitlines()]


@harness.lux_only(LINT)
def test_lint_clean_config_exits_0():
    with harness.TempDir() as t:
        cp, lines = lint(t, 'server.modules = ( "mod_access" )\nindex-file.names = ( "i.html" )\n'
                            '$HTTP["host"] == "a" { server.document-root = "/srv" }\n'
                            '$HTTP["host"] == "b" { server.document-root = "/srv/b" }\n'
                            'index-file.names += ( "index.htm" )\n')
        eq(lines, [], "findings")
        eq(cp.returncode, 0, "exit status")
        cp = harness.run_bin(["--lint", "-f", os.path.join(ROOT, "deploy/container/lux.conf")])
        eq((cp.stdout, cp.returncode), ("", 0), "the container image's configuration")


@harness.lux_only(LINT)
def test_lint_deprecated_names():
    with harness.TempDir() as t:
        cp, lines = lint(t, 'server.modules = ( "mod_compress", "mod_rewrite" )\n'
                            'url.rewrite = ( "^/a$" => "/b" )\n'
                            'compress.cache-dir = "/tmp"\n'
                            'ssl.use-sslv3 = "disable"\n')
        eq(lines, [
            "lux.conf:3: deprecated: mod_compress: use mod_deflate",
            "lux.conf:4: deprecated: url.rewrite: use url.rewrite-once",
            "lux.conf:5: deprecated: compress.cache-dir: use deflate.cache-dir (mod_deflate)",
            "lux.conf:6: deprecated: ssl.use-sslv3: obsolete, ignored: SSL 3 is never offered",
        ], "findings")
        eq(cp.returncode, 1, "exit status")


@harness.lux_only(LINT)
def test_lint_ignored_directives():
    with harness.TempDir() as t:
        cp, lines = lint(t, 'server.event-handler = "linux-sysepoll"\n'
                            '$HTTP["host"] == "a" {\n    server.max-connections = 10\n}\n')
        eq(lines, [
            "lux.conf:3: ignored: server.event-handler has no effect in lux",
            "lux.conf:5: ignored: server.max-connections can only be set globally, not in a "
            "condition",
        ], "findings")
        eq(cp.returncode, 1, "exit status")


@harness.lux_only(LINT)
def test_lint_duplicates_in_one_block():
    with harness.TempDir() as t:
        cp, lines = lint(t, 'server.modules = ( "mod_access", "mod_setenv", "mod_access" )\n'
                            'index-file.names = ( "a.html" )\n'
                            'index-file.names := ( "b.html" )\n')
        eq(lines, [
            'lux.conf:3: duplicate: "mod_access" is listed twice in server.modules',
            "lux.conf:5: duplicate: index-file.names is set again in this block (first at "
            "lux.conf:4); only the last value applies",
        ], "findings")
        eq(cp.returncode, 1, "exit status")


@harness.lux_only(LINT)
def test_lint_shadowed_conditions_and_values():
    with harness.TempDir() as t:
        cp, lines = lint(t, '$HTTP["url"] =^ "/a" {\n    server.document-root = "/srv/a"\n}\n'
                            '$HTTP["url"] =^ "/b" { server.document-root = "/srv/b" }\n'
                            '$HTTP["url"] =^ "/a" {\n    server.document-root := "/srv/c"\n}\n')
        eq(lines, [
            'lux.conf:7: shadowed: $HTTP["url"] =^ "/a" repeats the condition at lux.conf:3; '
            "both bodies make one block",
            "lux.conf:8: shadowed: server.document-root replaces the value set at lux.conf:4 "
            "under the same condition, which can never apply",
        ], "findings")
        eq(cp.returncode, 1, "exit status")


@harness.lux_only(LINT)
def test_lint_names_the_included_file():
    with harness.TempDir() as t:
        t.write("extra.conf", '\nurl.rewrite-final = ( "^/x$" => "/y" )\n')
        cp, lines = lint(t, 'include "extra.conf"\nserver.dir-listing = "enable"\n')
        eq([re.sub(r"^.*/extra\.conf", "extra.conf", line) for line in lines], [
            "extra.conf:2: deprecated: url.rewrite-final: use url.rewrite-once",
            "extra.conf:2: ignored: url.rewrite-final needs mod_rewrite in server.modules",
            "lux.conf:4: deprecated: server.dir-listing: use dir-listing.activate",
        ], "findings")


@harness.lux_only(LINT)
def test_lint_a_config_that_does_not_load():
    with harness.TempDir() as t:
        path = t.write("bad.conf", 'server.port = \n')
        cp = harness.run_bin(["--lint", "-f", path])
        eq(cp.returncode, 1, "exit status")
        eq(cp.stdout, "", "findings")
        contains(cp.stderr, "bad.conf:1:", "the load error")
        cp = harness.run_bin(["-h"])
        contains(cp.stdout, "--lint", "lux -h")


def differs_table():
    """The "Directives that behave differently" table of docs/coming-from-lighttpd.md."""
    with open(os.path.join(ROOT, "docs", "coming-from-lighttpd.md")) as f:
        text = f.read().split("## Directives that behave differently", 1)[1]
    rows = re.findall(r"^\| `([a-z0-9.-]+)` \| (.*) \|$", text, re.M)
    check(len(rows) >= 10, f"the table has {len(rows)} rows")
    return [(key, how.replace("`", "")) for key, how in rows]


@harness.lux_only(LINT)
def test_lint_differs_table_matches_the_docs():
    rows = differs_table()
    with harness.TempDir() as t:
        # The modules whose keys the table names, loaded after them (the lines stay 3, 4, ...).
        modules = 'server.modules = ( "mod_expire", "mod_ssi", "mod_deflate", "mod_setenv" )\n'
        cp, lines = lint(t, "".join(f'{key} = "x"\n' for key, _ in rows) + modules)
        want = [f"lux.conf:{i + 3}: differs: {key}: {how} (docs/coming-from-lighttpd.md)"
                for i, (key, how) in enumerate(rows)]
        eq([line for line in lines if ": differs: " in line], want, "differs findings")
