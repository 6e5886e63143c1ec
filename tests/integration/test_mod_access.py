"""mod_access: url.access-deny / url.access-allow suffix lists, globally and in conditions."""

import harness
from harness import Server, check, eq, get

MODS = 'server.modules += ("mod_access")\n'
FILES = {
    "a.txt": "a\n",
    "a.inc": "include\n",
    "b.INC": "upper\n",
    "c.inc": "lower\n",
    "backup.txt~": "old\n",
    "index.inc": "index\n",
    "sub/index.html": "sub index\n",
    "sub/s.txt": "s\n",
    "sub/s.png": "png\n",
    "private/p.txt": "p\n",
}


def status(s, path, **kw):
    return get(s.port, path, **kw).status


def config_loads(conf):
    """Whether the server accepts a config (modules' settings checked, as with -tt)."""
    with harness.TempDir() as tmp:
        text = harness.BASE_CONF + conf
        text = text.replace("@TMP@", tmp.path).replace("@DOCROOT@", tmp.path)
        text = text.replace("@PORT@", "80")
        path = tmp.write("lux.conf", text)
        return harness.run_bin(["-tt", "-f", path]).returncode == 0


def test_deny_suffixes():
    with Server(MODS + 'url.access-deny = ("~", ".inc")\n', files=FILES) as s:
        eq(status(s, "/a.inc"), 403, "/a.inc")
        eq(status(s, "/backup.txt~"), 403, "backup file")
        r = get(s.port, "/a.txt")
        eq(r.status, 200, "/a.txt")
        eq(r.body, b"a\n", "body")


def test_deny_is_case_sensitive():
    with Server(MODS + 'url.access-deny = (".inc")\n', files=FILES) as s:
        eq(status(s, "/b.INC"), 200, "other case is not denied")


def test_deny_case_blind_with_lowercase_filenames():
    conf = MODS + 'url.access-deny = (".INC")\nserver.force-lowercase-filenames = "enable"\n'
    with Server(conf, files=FILES) as s:
        eq(status(s, "/c.inc"), 403, "/c.inc")
        eq(status(s, "/C.Inc"), 403, "/C.Inc")
        eq(status(s, "/a.txt"), 200, "/a.txt")


def test_deny_sees_path_without_pathinfo():
    with Server(MODS + 'url.access-deny = (".inc")\n', files=FILES) as s:
        eq(status(s, "/a.inc/extra"), 403, "PATH_INFO after a denied file")
        eq(status(s, "/a.inc/"), 403, "trailing slash after a denied file")
        eq(status(s, "/a.txt/x.inc"), 403, "suffix of the whole path")


def test_deny_sees_index_file():
    conf = MODS + 'url.access-deny = (".inc")\nindex-file.names = ("index.inc")\n'
    with Server(conf, files=FILES) as s:
        eq(status(s, "/"), 403, "index file with a denied suffix")


def test_deny_by_path_suffix_not_only_extension():
    with Server(MODS + 'url.access-deny = ("/s.txt")\n', files=FILES) as s:
        eq(status(s, "/sub/s.txt"), 403, "/sub/s.txt")
        eq(status(s, "/a.txt"), 200, "/a.txt")


def test_allow_only_listed_suffixes():
    conf = MODS + '$HTTP["url"] =^ "/sub/" { url.access-allow = (".txt", ".html") }\n'
    with Server(conf, files=FILES) as s:
        eq(status(s, "/sub/s.txt"), 200, "allowed suffix")
        eq(status(s, "/sub/s.png"), 403, "suffix not in the allow list")
        eq(status(s, "/sub/"), 403, "directory URL has no allowed suffix")
        eq(status(s, "/a.inc"), 200, "outside the condition")


def test_allow_overrides_deny():
    conf = MODS + 'url.access-deny = (".txt")\nurl.access-allow = (".txt")\n'
    with Server(conf, files=FILES) as s:
        eq(status(s, "/a.txt"), 200, "an allow list makes the deny list irrelevant")
        eq(status(s, "/a.inc"), 403, "not allowed")


def test_empty_suffix_denies_everything_by_remote_ip():
    conf = MODS + '$HTTP["remote-ip"] != "10.0.0.0/8" { url.access-deny = ("") }\n'
    with Server(conf, files=FILES) as s:
        eq(status(s, "/a.txt"), 403, "client outside 10/8")
        eq(status(s, "/"), 403, "directory")


def test_condition_matching_client_keeps_access():
    conf = MODS + '$HTTP["remote-ip"] != "127.0.0.0/8" { url.access-deny = ("") }\n'
    with Server(conf, files=FILES) as s:
        eq(status(s, "/a.txt"), 200, "loopback client")


def test_deny_in_url_condition():
    conf = MODS + '$HTTP["url"] =^ "/private/" { url.access-deny = ("") }\n'
    with Server(conf, files=FILES) as s:
        eq(status(s, "/private/p.txt"), 403, "inside /private/")
        eq(status(s, "/sub/s.txt"), 200, "elsewhere")


def test_condition_replaces_global_list():
    conf = (MODS + 'url.access-deny = (".inc")\n'
            '$HTTP["url"] =^ "/sub/" { url.access-deny = (".png") }\n')
    with Server(conf, files=FILES) as s:
        eq(status(s, "/sub/s.png"), 403, "block's list")
        eq(status(s, "/a.inc"), 403, "global list outside the block")


def test_deny_applies_under_alias():
    conf = ('server.modules += ("mod_access", "mod_alias")\n'
            'alias.url = ("/files/" => "@TMP@/data/")\nurl.access-deny = (".inc")\n')
    with Server(conf, files=FILES) as s:
        harness.write_file(s.tmp + "/data/x.inc", "x\n")
        harness.write_file(s.tmp + "/data/x.txt", "x\n")
        eq(status(s, "/files/x.inc"), 403, "aliased denied file")
        eq(status(s, "/files/x.txt"), 200, "aliased allowed file")


def test_denied_error_keeps_method_semantics():
    with Server(MODS + 'url.access-deny = (".inc")\n', files=FILES) as s:
        r = get(s.port, "/a.inc", method="HEAD")
        eq(r.status, 403, "HEAD")
        eq(r.body, b"", "no body for HEAD")


def test_bare_string_rejected():
    check(not config_loads(MODS + 'url.access-deny = ".inc"\n'), "a string instead of a list")
    check(not config_loads(MODS + 'url.access-allow = ("a" => "b")\n'), "keyed entries")
    check(config_loads(MODS + 'url.access-deny = (".inc", "~")\n'), "a valid list")
