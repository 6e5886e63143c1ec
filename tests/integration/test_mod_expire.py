"""mod_expire: Cache-Control / Expires by URL prefix or Content-Type."""

import email.utils
import os
import time

import harness
from harness import Server, check, eq, get, lux_only

MODS = 'server.modules += ("mod_expire")\n'
FILES = {
    "a.txt": "a\n",
    "a.html": "<p>a</p>\n",
    "img/x.png": "png\n",
    "img/y.txt": "y\n",
    "x.png": "png\n",
    "d/index.html": "i\n",
}


def max_age(r):
    cc = r.header_all("Cache-Control")
    check(len(cc) == 1 and cc[0].startswith("max-age="), f"Cache-Control {cc!r}")
    return int(cc[0][len("max-age="):])


def config_loads(conf):
    with harness.TempDir() as tmp:
        text = (harness.BASE_CONF + conf).replace("@TMP@", tmp.path)
        text = text.replace("@DOCROOT@", tmp.path).replace("@PORT@", "80")
        return harness.run_bin(["-tt", "-f", tmp.write("lux.conf", text)]).returncode == 0


def test_url_prefix_sets_max_age():
    with Server(MODS + 'expire.url = ("/img/" => "access plus 1 hours")\n', files=FILES) as s:
        r = get(s.port, "/img/x.png")
        eq(r.status, 200, "status")
        eq(max_age(r), 3600, "max-age")
        check(not r.has("Expires"), "HTTP/1.1 gets Cache-Control only")
        check(not get(s.port, "/a.txt").has("Cache-Control"), "outside the prefix")


def test_http10_gets_expires():
    with Server(MODS + 'expire.url = ("/" => "access plus 1 days")\n', files=FILES) as s:
        r = get(s.port, "/a.txt", version="HTTP/1.0")
        eq(r.status, 200, "status")
        check(not r.has("Cache-Control"), "HTTP/1.0 gets Expires only")
        expires = email.utils.parsedate_to_datetime(r.header("Expires", ""))
        date = email.utils.parsedate_to_datetime(r.header("Date", ""))
        check(abs((expires - date).total_seconds() - 86400) <= 1, f"Expires {expires}")


@lux_only("a year is 365 days in lux (as in Apache), 12 x 30 days in lighttpd 1.4.69")
def test_year_is_365_days():
    files = {"y.txt": "x\n", "m.txt": "x\n"}
    conf = 'expire.url = ("/y" => "access plus 1 years", "/m" => "access plus 12 months")\n'
    with Server(MODS + conf, files=files) as s:
        eq(max_age(get(s.port, "/y.txt")), 365 * 86400, "1 years")
        eq(max_age(get(s.port, "/m.txt")), 360 * 86400, "12 months")


def test_grammar_forms():
    cases = {
        "/a1": ("access 1 days", 86400),
        "/a2": ("now plus 1 day", 86400),
        "/a3": ("access plus 1 days 2 hours", 93600),
        "/a4": ("access plus 1 weeks 1 minute 5 seconds", 604865),
        "/a5": ("access plus 1 month", 2592000),
        "/a7": ("access plus -1 days", 0),
        "/a8": ("access plus 3 hours ", 10800),
    }
    rules = ", ".join(f'"{k}" => "{v}"' for k, (v, _) in cases.items())
    files = {k[1:] + ".txt": "x\n" for k in cases}
    with Server(MODS + f"expire.url = ({rules})\n", files=files) as s:
        for k, (v, want) in cases.items():
            eq(max_age(get(s.port, k + ".txt")), want, v)


def test_modification_base():
    conf = MODS + 'expire.url = ("/" => "modification plus 1 hours")\n'
    with Server(conf, files=FILES) as s:
        now = time.time()
        os.utime(s.path("a.txt"), (now - 1000, now - 1000))
        os.utime(s.path("a.html"), (now - 86400, now - 86400))
        check(abs(max_age(get(s.port, "/a.txt")) - 2600) <= 2, "mtime + 1h")
        eq(max_age(get(s.port, "/a.html")), 0, "already expired: never in the past")


def test_mimetypes_prefix_and_star():
    conf = MODS + ('expire.mimetypes = ("text/plain" => "access plus 2 seconds", '
                   '"text/" => "access plus 1 seconds", "image/*" => "access plus 3 seconds")\n')
    with Server(conf, files=FILES) as s:
        eq(max_age(get(s.port, "/a.txt")), 2, "text/plain: first match in config order")
        eq(max_age(get(s.port, "/a.html")), 1, "text/html by the text/ prefix")
        eq(max_age(get(s.port, "/x.png")), 3, "image/*")


def test_mimetype_matches_content_type_with_parameters():
    conf = (MODS + 'mimetype.assign := (".txt" => "text/plain; charset=utf-8")\n'
            'expire.mimetypes = ("text/plain" => "access plus 5 seconds")\n')
    with Server(conf, files=FILES) as s:
        eq(max_age(get(s.port, "/a.txt")), 5, "prefix of the full Content-Type")


def test_url_wins_over_mimetype():
    conf = MODS + ('expire.url = ("/img/" => "access plus 10 seconds")\n'
                   'expire.mimetypes = ("text/" => "access plus 20 seconds")\n')
    with Server(conf, files=FILES) as s:
        eq(max_age(get(s.port, "/img/y.txt")), 10, "URL rule first")
        eq(max_age(get(s.port, "/a.txt")), 20, "then the type")


def test_only_successful_get_and_head():
    with Server(MODS + 'expire.url = ("/" => "access plus 1 hours")\n', files=FILES) as s:
        check(not get(s.port, "/missing").has("Cache-Control"), "404")
        check(not get(s.port, "/d").has("Cache-Control"), "301")
        r = get(s.port, "/a.txt")
        lm = r.header("Last-Modified")
        r = get(s.port, "/a.txt", headers={"If-Modified-Since": lm})
        eq(r.status, 304, "conditional request")
        check(not r.has("Cache-Control"), "304")
        eq(max_age(get(s.port, "/a.txt", method="HEAD")), 3600, "HEAD")
        r = get(s.port, "/a.txt", headers={"Range": "bytes=0-0"})
        eq(r.status, 206, "range")
        eq(max_age(r), 3600, "206")
        r = get(s.port, "/a.txt", method="POST", body=b"x")
        check(not r.has("Cache-Control"), "POST")


def test_existing_cache_control_kept():
    conf = ('server.modules += ("mod_setenv", "mod_expire")\n'
            'setenv.add-response-header = ("Cache-Control" => "private")\n'
            'expire.url = ("/" => "access plus 1 hours")\n')
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/a.txt").header_all("Cache-Control"), ["private"], "set before")


def test_module_order_decides():
    conf = ('server.modules += ("mod_expire", "mod_setenv")\n'
            'setenv.add-response-header = ("Cache-Control" => "private")\n'
            'expire.url = ("/" => "access plus 1 hours")\n')
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/a.txt").header_all("Cache-Control"), ["max-age=3600", "private"],
           "mod_expire runs first")


def test_empty_type_key_without_content_type():
    conf = ('server.modules += ("mod_setenv", "mod_expire")\n'
            'setenv.set-response-header = ("Content-Type" => "")\n'
            'expire.mimetypes = ("text/" => "access plus 1 seconds",\n'
            '                    "" => "access plus 7 seconds")\n')
    with Server(conf, files=FILES) as s:
        eq(max_age(get(s.port, "/a.txt")), 7, "the \"\" rule")


def test_expire_in_condition():
    conf = MODS + '$HTTP["url"] =^ "/img/" { expire.url = ("" => "access plus 9 seconds") }\n'
    with Server(conf, files=FILES) as s:
        eq(max_age(get(s.port, "/img/x.png")), 9, "inside the block")
        check(not get(s.port, "/x.png").has("Cache-Control"), "outside the block")


def test_bad_lifetimes_are_config_errors():
    for bad in ("", "access", "access plus", "access plus 1", "Access plus 1 days",
                "access plus 1 fortnights", "access plus 1days", "access plus 1 dayss",
                "access plus  1 days", "access plus 1 days 2", "tomorrow plus 1 days"):
        check(not config_loads(MODS + f'expire.url = ("/" => "{bad}")\n'), f"accepted {bad!r}")
    check(not config_loads(MODS + 'expire.mimetypes = ("text/" => "access plus x days")\n'),
          "bad mimetype lifetime")
    check(not config_loads(MODS + 'expire.url = ("/" => 5)\n'), "number")
    check(config_loads(MODS + 'expire.url = ("/" => "modification plus 2 hours 3 minutes")\n'),
          "valid")
