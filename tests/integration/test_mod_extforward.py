"""mod_extforward: the client address (and scheme) a trusted proxy names in X-Forwarded-For,
X-Real-IP or Forwarded, seen by $HTTP["remoteip"], $HTTP["scheme"] and the access log."""

import os

import harness
from harness import Server, eq, get

ADDRS = ["127.0.0.1", "203.0.113.7", "198.51.100.1", "10.0.0.2", "192.0.2.60",
         "2001:db8:cafe::17", "198.51.100.17"]
SEEN = "".join(f'$HTTP["remoteip"] == "{a}" {{ setenv.add-response-header = ("X-Seen" => "{a}") }}\n'
               for a in ADDRS)
# Another module than setenv for the scheme: a later block's setenv list replaces an earlier one's.
SCHEME = '$HTTP["scheme"] == "https" { expire.url = ("" => "access plus 7 seconds") }\n'
FILES = {"f.txt": "hi\n", "trust/f.txt": "hi\n"}


def conf(forwarder, extra=""):
    return ('server.modules += ("mod_extforward", "mod_setenv", "mod_expire")\n'
            f"extforward.forwarder = ({forwarder})\n" + extra + SEEN + SCHEME)


def seen(s, headers, path="/f.txt", host="localhost"):
    """The address the server saw, and whether it saw https."""
    r = get(s.port, path, headers=headers, host=host)
    eq(r.status, 200, f"status with {headers}")
    https = "https" if r.header("Cache-Control") == "max-age=7" else None
    return r.header("X-Seen"), https


TRUST_LOCAL = '"127.0.0.1" => "trust"'


def test_trusted_proxy_names_the_client():
    with Server(conf(TRUST_LOCAL), files=FILES) as s:
        eq(seen(s, {"X-Forwarded-For": "203.0.113.7"}), ("203.0.113.7", None), "XFF")
        eq(seen(s, {}), ("127.0.0.1", None), "no header: the peer")


def test_untrusted_peer_is_not_believed():
    with Server(conf('"10.0.0.1" => "trust"'), files=FILES) as s:
        eq(seen(s, {"X-Forwarded-For": "203.0.113.7"}), ("127.0.0.1", None), "ignored")
        eq(seen(s, {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}),
           ("127.0.0.1", None), "proto ignored too")


def test_cidr_and_all():
    with Server(conf('"127.0.0.0/8" => "trust"'), files=FILES) as s:
        eq(seen(s, {"X-Forwarded-For": "203.0.113.7"})[0], "203.0.113.7", "CIDR")
    with Server(conf('"all" => "trust"'), files=FILES) as s:
        eq(seen(s, {"X-Forwarded-For": "203.0.113.7"})[0], "203.0.113.7", "all")


def test_rightmost_untrusted_address_wins():
    fwd = TRUST_LOCAL + ', "10.0.0.0/8" => "trust"'
    with Server(conf(fwd), files=FILES) as s:
        xff = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7, 10.0.0.2"}
        eq(seen(s, xff)[0], "203.0.113.7", "skips trusted proxies from the right")
        eq(seen(s, {"X-Forwarded-For": "10.0.0.2"})[0], "127.0.0.1", "all trusted: unchanged")
    # "all" trusts the peer only; the chain is checked against the listed addresses
    with Server(conf('"all" => "trust"'), files=FILES) as s:
        eq(seen(s, {"X-Forwarded-For": "203.0.113.7, 10.0.0.2"})[0], "10.0.0.2", "all")


def test_untrusted_entry_beats_cidr():
    fwd = '"127.0.0.1" => "trust", "10.0.0.0/8" => "trust", "10.0.0.2" => "untrusted"'
    with Server(conf(fwd), files=FILES) as s:
        eq(seen(s, {"X-Forwarded-For": "203.0.113.7, 10.0.0.2"})[0], "10.0.0.2", "untrusted")


def test_forwarded_proto_sets_scheme():
    with Server(conf(TRUST_LOCAL), files=FILES) as s:
        eq(seen(s, {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}),
           ("203.0.113.7", "https"), "https")
        eq(seen(s, {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "gopher"}),
           ("203.0.113.7", None), "other schemes ignored")


def test_garbage_addresses_change_nothing():
    with Server(conf(TRUST_LOCAL), files=FILES) as s:
        for v in ["unknown", "not-an-ip", "999.1.1.1", "", "1.2.3.4.5"]:
            eq(seen(s, {"X-Forwarded-For": v})[0], "127.0.0.1", f"XFF {v!r}")


def test_x_real_ip_header():
    extra = 'extforward.headers = ("X-Real-IP")\n'
    with Server(conf(TRUST_LOCAL, extra), files=FILES) as s:
        eq(seen(s, {"X-Real-IP": "203.0.113.7"})[0], "203.0.113.7", "X-Real-IP")
        eq(seen(s, {"X-Forwarded-For": "203.0.113.7"})[0], "127.0.0.1", "XFF not listed")


def test_forwarded_header():
    extra = 'extforward.headers = ("Forwarded")\n'
    with Server(conf(TRUST_LOCAL, extra), files=FILES) as s:
        eq(seen(s, {"Forwarded": "for=192.0.2.60;proto=https;by=203.0.113.43"}),
           ("192.0.2.60", "https"), "for and proto")
        eq(seen(s, {"Forwarded": 'for="[2001:db8:cafe::17]:4711";proto=https'}),
           ("2001:db8:cafe::17", "https"), "quoted IPv6 with port")
        eq(seen(s, {"Forwarded": "for=192.0.2.60, for=198.51.100.17"})[0], "198.51.100.17",
           "last element")
        eq(seen(s, {"Forwarded": 'For="192.0.2.60:80";proto=http'})[0], "192.0.2.60",
           "quoted v4 with port")
        eq(seen(s, {"Forwarded": "for=unknown"})[0], "127.0.0.1", "unknown")
        eq(seen(s, {"Forwarded": "for=_hidden"})[0], "127.0.0.1", "obfuscated")


@harness.lux_only("lighttpd 1.4.69 misreads a quoted IPv6 for= at the very end of the header")
def test_forwarded_ipv6_last():
    extra = 'extforward.headers = ("Forwarded")\n'
    with Server(conf(TRUST_LOCAL, extra), files=FILES) as s:
        eq(seen(s, {"Forwarded": 'for="[2001:db8:cafe::17]:4711"'})[0], "2001:db8:cafe::17",
           "quoted IPv6 with port, last in the header")
        eq(seen(s, {"Forwarded": 'for="[2001:db8:cafe::17]"'})[0], "2001:db8:cafe::17",
           "quoted IPv6 without port")
        eq(seen(s, {"Forwarded": 'for="192.0.2.60:80"'})[0], "192.0.2.60", "quoted v4, last")


def test_forwarded_chain_with_trusted_hops():
    extra = 'extforward.headers = ("Forwarded")\n'
    fwd = TRUST_LOCAL + ', "10.0.0.2" => "trust"'
    with Server(conf(fwd, extra), files=FILES) as s:
        hdr = {"Forwarded": "for=198.51.100.1, for=192.0.2.60;proto=https, for=10.0.0.2"}
        eq(seen(s, hdr), ("192.0.2.60", "https"), "first untrusted from the right")


def test_forwarded_bad_quoting_is_400():
    extra = 'extforward.headers = ("Forwarded")\n'
    with Server(conf(TRUST_LOCAL, extra), files=FILES) as s:
        eq(get(s.port, "/f.txt", headers={"Forwarded": 'for="192.0.2.60'}).status, 400,
           "unterminated quoted-string")


@harness.lux_only("lighttpd 1.4.69 does not show a forwarded host to $HTTP[\"host\"]")
def test_forwarded_host_param():
    text = ('server.modules += ("mod_extforward", "mod_setenv")\n'
            'extforward.forwarder = ("127.0.0.1" => "trust")\n'
            'extforward.headers = ("Forwarded")\nextforward.params = ("host" => "enable")\n'
            '$HTTP["host"] == "example.org" { setenv.add-response-header = '
            '("X-Host" => "example.org") }\n')
    with Server(text, files=FILES) as s:
        r = get(s.port, "/f.txt", headers={"Forwarded": "for=192.0.2.60;host=example.org"})
        eq(r.header("X-Host"), "example.org", "host from Forwarded")


def test_forwarder_inside_condition():
    text = ('server.modules += ("mod_extforward", "mod_setenv")\n'
            '$HTTP["url"] =^ "/trust/" { extforward.forwarder = ("127.0.0.1" => "trust") }\n'
            + SEEN)
    with Server(text, files=FILES) as s:
        h = {"X-Forwarded-For": "203.0.113.7"}
        eq(seen(s, h, "/trust/f.txt")[0], "203.0.113.7", "inside the condition")
        eq(seen(s, h, "/f.txt")[0], "127.0.0.1", "outside it")


def test_access_log_shows_the_client():
    text = conf(TRUST_LOCAL, 'server.modules += ("mod_accesslog")\n'
                             'accesslog.filename = "@TMP@/access.log"\naccesslog.format = "%h"\n')
    with Server(text, files=FILES) as s:
        get(s.port, "/f.txt", headers={"X-Forwarded-For": "203.0.113.7"})
        s.stop()
        eq(harness.read_text(os.path.join(s.tmp, "access.log")).split(), ["203.0.113.7"], "%h")
