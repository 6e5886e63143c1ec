"""mod_userdir: /~user/ served from the user's public directory (userdir.*)."""

import os

import harness
from harness import Server, check, eq, get, write_file

MODS = 'server.modules += ("mod_userdir")\n'
BASE = MODS + 'userdir.path = "public_html"\nuserdir.basepath = "@TMP@/home"\n'
FILES = {"f.txt": "server docroot\n"}


def homes(s, files):
    for rel, content in files.items():
        write_file(os.path.join(s.tmp, "home", rel), content)


def status_body(s, path):
    r = get(s.port, path)
    return r.status, r.body


def test_user_directory_served():
    with Server(BASE, files=FILES) as s:
        homes(s, {"alice/public_html/f.txt": "alice\n", "alice/public_html/d/g.txt": "g\n"})
        eq(status_body(s, "/~alice/f.txt"), (200, b"alice\n"), "/~alice/f.txt")
        eq(status_body(s, "/~alice/d/g.txt"), (200, b"g\n"), "subdirectory")
        eq(get(s.port, "/~nobody/f.txt").status, 404, "no such user")
        eq(status_body(s, "/f.txt"), (200, b"server docroot\n"), "other paths")


def test_user_without_slash_redirected():
    with Server(BASE, files=FILES) as s:
        homes(s, {"alice/public_html/f.txt": "alice\n"})
        r = get(s.port, "/~alice?x=1", host="example.test")
        eq(r.status, 301, "status")
        # lighttpd sends the path alone; lux names the host, as for any directory redirect.
        loc = r.header("Location")
        check(loc in ("/~alice/?x=1", "http://example.test/~alice/?x=1"), f"Location {loc!r}")
        eq(get(s.port, "/~").status, 404, "/~ alone")


def test_user_names_are_case_sensitive():
    with Server(BASE, files=FILES) as s:
        homes(s, {"Bob/public_html/f.txt": "Bob\n"})
        eq(status_body(s, "/~Bob/f.txt"), (200, b"Bob\n"), "/~Bob")
        eq(get(s.port, "/~BOB/f.txt").status, 404, "/~BOB")


def test_force_lowercase_lowers_name_and_lists():
    conf = BASE + ('server.force-lowercase-filenames = "enable"\n'
                   'userdir.exclude-user = ("ALICE")\n')
    with Server(conf, files=FILES) as s:
        homes(s, {"bob/public_html/f.txt": "bob\n", "alice/public_html/f.txt": "alice\n"})
        eq(status_body(s, "/~BOB/f.txt"), (200, b"bob\n"), "/~BOB")
        eq(get(s.port, "/~alice/f.txt").status, 404, "excluded without regard to case")


def test_letterhomes():
    with Server(BASE + 'userdir.letterhomes = "enable"\n', files=FILES) as s:
        homes(s, {"a/alice/public_html/f.txt": "letter\n", ".x/public_html/f.txt": "dot\n"})
        eq(status_body(s, "/~alice/f.txt"), (200, b"letter\n"), "<basepath>/a/alice")
        eq(get(s.port, "/~.x/f.txt").status, 404, "a name starting with '.'")


def test_include_exclude_and_active_in_conditions():
    conf = BASE + ('userdir.include-user = ("alice", "bob")\n'
                   'userdir.exclude-user = ("bob")\n'
                   '$HTTP["url"] =^ "/~carol" { userdir.include-user = ("carol") }\n'
                   '$HTTP["host"] == "off.test" { userdir.active = "disable" }\n')
    with Server(conf, files=FILES) as s:
        homes(s, {f"{u}/public_html/f.txt": u + "\n" for u in ("alice", "bob", "carol", "dan")})
        eq(status_body(s, "/~alice/f.txt"), (200, b"alice\n"), "included")
        eq(get(s.port, "/~bob/f.txt").status, 404, "excluded")
        eq(get(s.port, "/~dan/f.txt").status, 404, "not included")
        eq(status_body(s, "/~carol/f.txt"), (200, b"carol\n"), "included in a condition")
        eq(get(s.port, "/~alice/f.txt", host="off.test").status, 404, "userdir.active off")


def test_without_userdir_path_nothing_happens():
    conf = MODS + 'userdir.basepath = "@TMP@/home"\n'
    with Server(conf, files=FILES) as s:
        homes(s, {"alice/public_html/f.txt": "alice\n", "alice/f.txt": "home\n"})
        eq(get(s.port, "/~alice/f.txt").status, 404, "module inactive")


def test_empty_userdir_path_serves_the_home():
    conf = MODS + 'userdir.path = ""\nuserdir.basepath = "@TMP@/home"\n'
    with Server(conf, files=FILES) as s:
        homes(s, {"alice/f.txt": "home\n"})
        eq(status_body(s, "/~alice/f.txt"), (200, b"home\n"), "the home itself")


def test_hostile_user_names_stay_inside_basepath():
    with Server(BASE, files=FILES) as s:
        homes(s, {"alice/public_html/f.txt": "alice\n", ".x/public_html/f.txt": "dot\n"})
        write_file(os.path.join(s.tmp, "public_html", "f.txt"), "escaped\n")
        write_file(os.path.join(s.tmp, "home", "public_html", "f.txt"), "escaped\n")
        for path in ["/~../f.txt", "/~./f.txt", "/~/f.txt", "/~al%2fice/f.txt",
                     "/~" + "a" * 300 + "/f.txt", "/~alice/../../public_html/f.txt"]:
            r = get(s.port, path)
            eq(r.status, 404, f"status for {path}")
        eq(get(s.port, "/~al%00ice/f.txt").status, 400, "NUL in the name")
        # lighttpd does not treat a leading dot specially (without letterhomes); neither does lux.
        eq(status_body(s, "/~.x/f.txt"), (200, b"dot\n"), "/~.x")


def test_home_from_password_database():
    # root's home exists on every system; its public_html (almost surely) does not.
    conf = MODS + 'userdir.path = "public_html-lux-test"\n'
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/~root/f.txt").status, 404, "no public_html in root's home")
        eq(get(s.port, "/~no-such-user-lux/f.txt").status, 404, "unknown user")
        eq(get(s.port, "/~root").status, 301, "redirect before any lookup")


@harness.lux_only("the reference test run has no user account with a public directory")
def test_passwd_home_is_used():
    home = os.path.expanduser("~")
    user = os.path.basename(home.rstrip("/")) if home != "/root" else "root"
    sub = "lux-userdir-test-%d" % os.getpid()
    target = os.path.join(home, sub)
    if not os.access(home, os.W_OK):
        raise harness.Skip("home directory not writable")
    try:
        write_file(os.path.join(target, "f.txt"), "from passwd home\n")
        with Server(MODS + f'userdir.path = "{sub}"\n', files=FILES) as s:
            eq(status_body(s, f"/~{user}/f.txt"), (200, b"from passwd home\n"), "getpwnam_r")
    finally:
        if os.path.isdir(target):
            os.remove(os.path.join(target, "f.txt"))
            os.rmdir(target)
