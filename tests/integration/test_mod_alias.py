"""mod_alias: URL-path prefixes mapped elsewhere in the file system (alias.url)."""

import os

import harness
from harness import Server, check, eq, get, write_file

MODS = 'server.modules += ("mod_alias")\n'
FILES = {"f.txt": "docroot\n", "files/f.txt": "docroot files\n"}


def outside(s, files):
    """Create files under the server's temp dir, outside the document root."""
    for rel, content in files.items():
        write_file(os.path.join(s.tmp, rel), content)


def config_loads(conf):
    with harness.TempDir() as tmp:
        text = (harness.BASE_CONF + conf).replace("@TMP@", tmp.path)
        text = text.replace("@DOCROOT@", tmp.path).replace("@PORT@", "80")
        return harness.run_bin(["-tt", "-f", tmp.write("lux.conf", text)]).returncode == 0


def test_alias_serves_outside_docroot():
    with Server(MODS + 'alias.url = ("/files/" => "@TMP@/data/")\n', files=FILES) as s:
        outside(s, {"data/f.txt": "aliased\n", "data/a b.txt": "space\n"})
        r = get(s.port, "/files/f.txt")
        eq(r.status, 200, "status")
        eq(r.body, b"aliased\n", "body from the alias target")
        eq(get(s.port, "/files/a%20b.txt").body, b"space\n", "decoded path")
        eq(get(s.port, "/f.txt").body, b"docroot\n", "other paths untouched")


def test_alias_to_a_file():
    with Server(MODS + 'alias.url = ("/robots.txt" => "@TMP@/r.txt")\n') as s:
        outside(s, {"r.txt": "robots\n"})
        eq(get(s.port, "/robots.txt").body, b"robots\n", "body")


def test_prefix_without_slash_appends_rest():
    # lighttpd appends whatever follows the key: "/al" also catches "/alx.txt".
    with Server(MODS + 'alias.url = ("/al" => "@TMP@/data")\n') as s:
        outside(s, {"data/f.txt": "in data\n", "datax.txt": "sibling\n"})
        eq(get(s.port, "/al/f.txt").body, b"in data\n", "/al/f.txt")
        eq(get(s.port, "/alx.txt").body, b"sibling\n", "/alx.txt")


def test_key_without_slash_target_with_slash():
    with Server(MODS + 'alias.url = ("/sl" => "@TMP@/data/")\n') as s:
        outside(s, {"data/f.txt": "in data\n", "secret.txt": "secret\n"})
        eq(get(s.port, "/sl/f.txt").body, b"in data\n", "/sl/f.txt")
        eq(get(s.port, "/slf.txt").body, b"in data\n", "/slf.txt")
        eq(get(s.port, "/sl../secret.txt").status, 403, "'..' after the key")
        eq(get(s.port, "/sl..").status, 403, "'..' at the end")
        eq(get(s.port, "/sl.").status, 403, "'.' at the end")


def test_dotdot_name_stays_inside_when_slashes_agree():
    with Server(MODS + 'alias.url = ("/al" => "@TMP@/data")\n') as s:
        outside(s, {"data../x.txt": "odd dir name\n", "secret.txt": "secret\n"})
        eq(get(s.port, "/al../x.txt").body, b"odd dir name\n", "a literal 'data..' directory")


def test_first_match_in_config_order():
    conf = MODS + 'alias.url = ("/a/b/" => "@TMP@/one/", "/a/" => "@TMP@/two/")\n'
    with Server(conf) as s:
        outside(s, {"one/f.txt": "one\n", "two/f.txt": "two\n", "two/b/f.txt": "two-b\n"})
        eq(get(s.port, "/a/b/f.txt").body, b"one\n", "longer key listed first")
        eq(get(s.port, "/a/f.txt").body, b"two\n", "shorter key")


def test_shadowed_entry_is_config_error():
    check(not config_loads(MODS + 'alias.url = ("/a/" => "/x/", "/a/b/" => "/y/")\n'),
          "an entry that can never match was accepted")
    check(not config_loads(MODS + 'alias.url = ("/a" => "/x/", "/ab" => "/y/")\n'),
          "prefix without slash shadows too")
    check(not config_loads(MODS + '$HTTP["host"] == "x" {\n'
                           '  alias.url = ("/a" => "/x/", "/ab" => "/y/")\n}\n'),
          "checked inside conditions too")
    check(config_loads(MODS + 'alias.url = ("/a/b/" => "/y/", "/a/" => "/x/")\n'),
          "longer first is fine")


def test_bad_values_are_config_errors():
    check(not config_loads(MODS + 'alias.url = ("/a", "/b")\n'), "entries without keys")
    check(not config_loads(MODS + 'alias.url = ("/a/" => 1)\n'), "non-string target")


def test_directory_without_slash_redirects():
    with Server(MODS + 'alias.url = ("/files/" => "@TMP@/data/")\n') as s:
        outside(s, {"data/sub/s.txt": "s\n"})
        r = get(s.port, "/files/sub?q=1")
        eq(r.status, 301, "status")
        loc = r.header("Location", "")
        check(loc.endswith("/files/sub/?q=1"), f"Location {loc!r}")
        eq(get(s.port, "/files/sub/s.txt").body, b"s\n", "file in the subdirectory")


def test_index_file_under_alias():
    conf = MODS + 'alias.url = ("/files/" => "@TMP@/data/")\nindex-file.names = ("index.html")\n'
    with Server(conf) as s:
        outside(s, {"data/index.html": "alias index\n"})
        r = get(s.port, "/files/")
        eq(r.status, 200, "status")
        eq(r.body, b"alias index\n", "body")


def test_pathinfo_under_alias():
    with Server(MODS + 'alias.url = ("/files/" => "@TMP@/data/")\n') as s:
        outside(s, {"data/f.txt": "aliased\n"})
        r = get(s.port, "/files/f.txt/extra/path")
        eq(r.status, 200, "status")
        eq(r.body, b"aliased\n", "the file before PATH_INFO")


def test_pathinfo_search_stays_inside_target():
    with Server(MODS + 'alias.url = ("/z/" => "@TMP@/plain/inner/")\n') as s:
        outside(s, {"plain": "a regular file above the alias target\n"})
        eq(get(s.port, "/z/q").status, 404, "no PATH_INFO above the target")


def test_alias_in_condition():
    conf = MODS + '$HTTP["host"] == "files.example" { alias.url = ("/files/" => "@TMP@/data/") }\n'
    with Server(conf, files=FILES) as s:
        outside(s, {"data/f.txt": "aliased\n"})
        eq(get(s.port, "/files/f.txt", host="files.example").body, b"aliased\n", "in block")
        eq(get(s.port, "/files/f.txt").body, b"docroot files\n", "other host")


def test_case_blind_with_lowercase_filenames():
    conf = (MODS + 'alias.url = ("/Files/" => "@TMP@/data/")\n'
            'server.force-lowercase-filenames = "enable"\n')
    with Server(conf) as s:
        outside(s, {"data/f.txt": "aliased\n"})
        eq(get(s.port, "/FILES/F.TXT").body, b"aliased\n", "upper case URL")
        eq(get(s.port, "/files/f.txt").body, b"aliased\n", "lower case URL")
