"""`-V` lists compile-time features in lighttpd's layout and words, for scripts that grep them."""

import re

from harness import check, eq, lux_only, run_bin


def features():
    cp = run_bin(["-V"])
    eq(cp.returncode, 0, "exit status")
    return cp.stdout


def test_layout_is_lighttpds():
    out = features()
    check(re.match(r"^\S+/\S+ (\(ssl\) )?- .+\n\nEvent Handlers:\n\n", out), f"head of {out!r}")
    for section in ("Event Handlers:", "Network handler:", "Features:"):
        contains_line = re.search(r"^" + re.escape(section) + r"\n\n(\t[+-] .+\n)+", out, re.M)
        check(contains_line, f"section {section!r} with '\\t+ x' lines in {out!r}")
    check(re.search(r"^\t\+ epoll \(Linux\)$", out, re.M), "epoll line")
    check(re.search(r"^\t\+ linux-sendfile$", out, re.M), "sendfile line")
    for name in ("IPv6", "OpenSSL", "PCRE"):
        check(re.search(rf"^\t\+ {name} support$", out, re.M), f"'+ {name} support'")


@lux_only("lux is built without LDAP, PAM and MySQL; lighttpd 1.4.69 has LDAP")
def test_missing_features_say_minus():
    out = features()
    for name in ("LDAP", "PAM", "MySQL"):
        check(re.search(rf"^\t- {re.escape(name)} support$", out, re.M), f"'- {name} support'")
        check(not re.search(rf"^\t\+ {re.escape(name)} support$", out, re.M), f"'+ {name}'")
    check("(ssl)" in out.splitlines()[0], "the first line names ssl, as lighttpd's does")
    for name in ("zlib", "brotli", "zstd", "bzip2", "crypt", "dynamic module loading"):
        check(re.search(rf"^\t\+ {re.escape(name)} support$", out, re.M), f"'+ {name} support'")
