"""mod_extforward's extforward.params remote_user: the user a trusted proxy names in a Forwarded
header's remote_user= becomes REMOTE_USER for CGI, the access log's %u and auth.extern-authn."""

import os

import harness
from harness import Server, eq, get, lux_only

ENV_SH = ("printf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
          "echo \"user=${REMOTE_USER-unset} type=${AUTH_TYPE-unset}\"\n")
FILES = {"env.sh": ENV_SH, "f.txt": "hi\n"}
# lighttpd 1.4.69 documents the parameter but passes no remote_user= on (nor shows a host= to
# $HTTP["host"], see test_mod_extforward): the tests of what it does are lux's.
IGNORED = "lighttpd 1.4.69 passes no Forwarded remote_user= on"


def conf(forwarder='"127.0.0.1" => "trust"', params='( "remote_user" => "enable" )', extra=""):
    return ('server.modules += ("mod_extforward", "mod_cgi", "mod_accesslog")\n'
            'cgi.assign = (".sh" => "/bin/sh")\n'
            'accesslog.filename = "@TMP@/access.log"\naccesslog.format = "%h %u"\n'
            f"extforward.forwarder = ({forwarder})\n"
            'extforward.headers = ("Forwarded")\n'
            f"extforward.params = {params}\n" + extra)


def cgi_user(s, forwarded):
    r = get(s.port, "/env.sh", headers={"Forwarded": forwarded})
    eq(r.status, 200, f"status with Forwarded: {forwarded}")
    return r.body.decode().strip()


@lux_only(IGNORED)
def test_remote_user_reaches_cgi_and_the_access_log():
    with Server(conf(), files=FILES) as s:
        eq(cgi_user(s, "for=203.0.113.7;remote_user=alice"), "user=alice type=unset", "plain")
        eq(cgi_user(s, 'for=203.0.113.7;remote_user="b\\"ob"'), 'user=b"ob type=unset', "quoted")
        s.stop()
        eq(harness.read_text(os.path.join(s.tmp, "access.log")).split(),
           ["203.0.113.7", "alice", "203.0.113.7", 'b\\"ob'], "access log %h %u (escaped)")


@lux_only(IGNORED)
def test_nearest_proxys_remote_user_wins():
    with Server(conf(), files=FILES) as s:
        got = cgi_user(s, "for=203.0.113.7;remote_user=alice, for=127.0.0.1;remote_user=bob")
        eq(got, "user=bob type=unset", "the trusted hop's user")


def test_remote_user_needs_the_param_and_a_trusted_peer():
    with Server(conf(params='( "host" => "enable" )'), files=FILES) as s:
        eq(cgi_user(s, "for=203.0.113.7;remote_user=alice"), "user=unset type=unset",
           "param not enabled")
    with Server(conf(forwarder='"192.0.2.1" => "trust"'), files=FILES) as s:
        eq(cgi_user(s, "for=203.0.113.7;remote_user=alice"), "user=unset type=unset",
           "untrusted peer")


@lux_only(IGNORED)
def test_remote_user_param_follows_conditions():
    extra = '$HTTP["url"] =^ "/off/" { extforward.params = ( "remote_user" => "disable" ) }\n'
    files = dict(FILES, **{"off/env.sh": ENV_SH})
    with Server(conf(extra=extra), files=files) as s:
        r = get(s.port, "/off/env.sh", headers={"Forwarded": "for=203.0.113.7;remote_user=alice"})
        eq(r.body.decode().strip(), "user=unset type=unset", "disabled in a condition")
        eq(cgi_user(s, "for=203.0.113.7;remote_user=alice"), "user=alice type=unset", "global")


@lux_only(IGNORED)
def test_remote_user_satisfies_extern_authn():
    auth = ('server.modules += ("mod_auth", "mod_authn_file")\n'
            'auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/users"\n'
            'auth.extern-authn = "enable"\n'
            'auth.require = ("/" => ("method" => "basic", "realm" => "r",'
            ' "require" => "user=alice"))\n')
    with Server(conf(extra=auth), files=FILES) as s:
        harness.write_file(os.path.join(s.tmp, "users"), "carol:secret\n")
        r = get(s.port, "/f.txt", headers={"Forwarded": "for=203.0.113.7;remote_user=alice"})
        eq(r.status, 200, "alice, named by the proxy")
        r = get(s.port, "/f.txt", headers={"Forwarded": "for=203.0.113.7;remote_user=bob"})
        eq(r.status, 401, "bob is not alice")


@lux_only("lux answers 400 to a remote_user= with a control byte, as to a bad host=")
def test_remote_user_with_control_bytes_is_refused():
    with Server(conf(), files=FILES) as s:
        r = get(s.port, "/env.sh", headers={"Forwarded": 'for=203.0.113.7;remote_user="a\\\tb"'})
        eq(r.status, 400, "escaped TAB")
