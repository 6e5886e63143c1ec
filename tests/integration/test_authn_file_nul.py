"""A user file line whose secret holds a NUL byte is no one's: cut at the NUL as a C string,
"carol:abc<NUL>junk" would let the password "abc" in."""

import base64
import os

import harness
from harness import Server, eq, get, lux_only

CONF = ('server.modules += ("mod_auth", "mod_authn_file")\n'
        'auth.backend = "plain"\nauth.backend.plain.userfile = "@TMP@/users"\n'
        'auth.require = ("" => ("method" => "basic", "realm" => "r", "require" => "valid-user"))\n')


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@lux_only("lighttpd 1.4.69 reads a user file as a C string and stops at the NUL")
def test_secret_with_nul_admits_nobody():
    with Server(CONF, files={"f.txt": "hi\n"}) as s:
        with open(os.path.join(s.tmp, "users"), "wb") as f:
            f.write(b"carol:abc\0junk\ndave:pw\n")
        eq(get(s.port, "/f.txt", headers=basic("carol", "abc")).status, 401, "the cut secret")
        eq(get(s.port, "/f.txt", headers=basic("dave", "pw")).status, 200, "the next line")
