"""mod_authn_file's auth.backend.plain.groupfile: lighttpd accepts it and never reads it, so a
"group=" requirement admits nobody with the file backends; lux starts with it and says so."""

import base64
import os

import harness
from harness import Server, contains, eq, get, lux_only

CONF = ('server.modules += ("mod_auth", "mod_authn_file")\n'
        'auth.backend = "plain"\n'
        'auth.backend.plain.userfile = "@TMP@/users"\n'
        'auth.backend.plain.groupfile = "@TMP@/groups"\n'
        '$HTTP["url"] =^ "/group/" { auth.require = ("" => ("method" => "basic", "realm" => "r",'
        ' "require" => "group=admins")) }\n'
        '$HTTP["url"] =^ "/either/" { auth.require = ("" => ("method" => "basic", "realm" => "r",'
        ' "require" => "user=alice|group=admins")) }\n')
FILES = {"group/f.txt": "g\n", "either/f.txt": "e\n"}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def started(s):
    harness.write_file(os.path.join(s.tmp, "users"), "alice:secret\nbob:hunter2\n")
    harness.write_file(os.path.join(s.tmp, "groups"), "admins: alice bob\n")


def test_groupfile_is_accepted_and_group_admits_nobody():
    with Server(CONF, files=FILES) as s:
        started(s)
        eq(get(s.port, "/either/f.txt", headers=basic("alice", "secret")).status, 200,
           "alice by name")
        eq(get(s.port, "/either/f.txt", headers=basic("bob", "hunter2")).status, 401,
           "bob, only by group")
        eq(get(s.port, "/group/f.txt", headers=basic("alice", "secret")).status, 401,
           "group= alone")


@lux_only("lux's start-up warning")
def test_groupfile_warns_that_it_is_not_read():
    with Server(CONF, files=FILES) as s:
        contains(s.errorlog + s.stderr, "auth.backend.plain.groupfile", "warning")
