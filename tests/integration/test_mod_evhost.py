"""mod_evhost: the document root from evhost.path-pattern and the parts of the host name."""

import os

import harness
from harness import Server, check, eq, get, write_file

MODS = 'server.modules += ("mod_evhost")\n'
FILES = {"f.txt": "server docroot\n"}


def site(s, rel, name):
    write_file(os.path.join(s.tmp, "vh", rel, "f.txt"), name + "\n")


def body_for(s, host, path="/f.txt"):
    return get(s.port, path, host=host).body


def config_loads(conf):
    with harness.TempDir() as tmp:
        text = (harness.BASE_CONF + conf).replace("@TMP@", tmp.path)
        text = text.replace("@DOCROOT@", tmp.path).replace("@PORT@", "80")
        return harness.run_bin(["-tt", "-f", tmp.write("lux.conf", text)]).returncode == 0


def test_parts_counted_from_the_right():
    conf = MODS + 'evhost.path-pattern = "@TMP@/vh/%0/%3/"\n'
    with Server(conf, files=FILES) as s:
        site(s, "example.com/www", "www of example.com")
        eq(body_for(s, "www.example.com"), b"www of example.com\n", "%0/%3")
        eq(body_for(s, "www.example.com:8080"), b"www of example.com\n", "port stripped")
        eq(body_for(s, "WWW.Example.COM"), b"www of example.com\n", "lower case")
        eq(body_for(s, "other.example.com"), b"server docroot\n", "no such directory")


def test_tld_domain_and_subdomains():
    conf = MODS + 'evhost.path-pattern = "@TMP@/vh/%1/%2/%3/%4/"\n'
    with Server(conf, files=FILES) as s:
        site(s, "org/example/b/a", "a.b.example.org")
        eq(body_for(s, "a.b.example.org"), b"a.b.example.org\n", "%1..%4")


def test_whole_host_and_percent():
    conf = MODS + 'evhost.path-pattern = "@TMP@/vh/%_/100%%/"\n'
    with Server(conf, files=FILES) as s:
        site(s, "a.example.net/100%", "whole host")
        eq(body_for(s, "a.example.net:81"), b"whole host\n", "%_ and %%")


def test_single_character_of_a_part():
    conf = MODS + 'evhost.path-pattern = "@TMP@/vh/%{2.1}/%{2.2}/%{2}/%{3.0}/"\n'
    with Server(conf, files=FILES) as s:
        site(s, "e/x/example/www", "letters")
        eq(body_for(s, "www.example.com"), b"letters\n", "%{2.1}/%{2.2}/%{2}/%{3.0}")


def test_missing_parts_expand_to_nothing():
    conf = MODS + 'evhost.path-pattern = "@TMP@/vh/%4x%{3.9}y/"\n'
    with Server(conf, files=FILES) as s:
        site(s, "xy", "empty parts")
        eq(body_for(s, "www.example.com"), b"empty parts\n", "%4 and %{3.9} empty")


def test_single_label_host():
    conf = MODS + 'evhost.path-pattern = "@TMP@/vh/%0-%1-%2/"\n'
    with Server(conf, files=FILES) as s:
        site(s, "localhost-localhost-", "single label")
        eq(body_for(s, "localhost"), b"single label\n", "%0, %1 and an empty %2")


def test_pattern_inside_condition():
    conf = MODS + '$HTTP["url"] =^ "/v/" { evhost.path-pattern = "@TMP@/vh/%2/" }\n'
    with Server(conf, files={"f.txt": "plain\n", "v/f.txt": "plain v\n"}) as s:
        write_file(os.path.join(s.tmp, "vh", "example", "v", "f.txt"), "example v\n")
        eq(body_for(s, "www.example.com", "/v/f.txt"), b"example v\n", "inside")
        eq(body_for(s, "www.example.com", "/f.txt"), b"plain\n", "outside")


def test_hostile_hosts_never_leave_the_pattern():
    conf = MODS + 'evhost.path-pattern = "@TMP@/vh/%_/"\n'
    with Server(conf, files=FILES) as s:
        write_file(os.path.join(s.tmp, "f.txt"), "outside\n")
        for host in ["..", "../x", "a/b", "a..b", ".", "/", "..:80", "%2e%2e"]:
            eq(get(s.port, "/f.txt", host=host).status, 400, f"status for Host {host!r}")
        r = harness.parse_responses(harness.raw(
            s.port, b"GET /f.txt HTTP/1.1\r\nHost: a\x00b\r\nConnection: close\r\n\r\n"))[-1]
        eq(r.status, 400, "Host with a NUL")
        # Longer than a DNS name may be: lux refuses it, lighttpd finds no such directory.
        r = get(s.port, "/f.txt", host="x" * 300)
        check(r.status == 400 or r.body == b"server docroot\n", f"overlong Host: {r!r}")


def test_malformed_pattern_refused():
    check(not config_loads(MODS + 'evhost.path-pattern = "/srv/%{3.x}/"\n'), "%{3.x}")
    check(not config_loads(MODS + 'evhost.path-pattern = "/srv/%"\n'), "trailing %")
    check(config_loads(MODS + 'evhost.path-pattern = "/srv/%3/%{2.1}/"\n'), "valid pattern")
