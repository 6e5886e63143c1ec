"""With extforward.hap-PROXY, the PROXY header names the client and extforward.headers has no
default: a client behind a proxy that relays its bytes (haproxy in TCP mode) cannot name
another address in X-Forwarded-For, even when every peer is trusted."""

import harness
from harness import Server, eq, lux_only
from test_proxy_protocol import SEEN, exchange, v1

FILES = {"f.txt": "hi\n"}
XFF = b"GET /f.txt HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 198.51.100.17\r\n" \
      b"Connection: close\r\n\r\n"


def conf(hap, headers=""):
    return ('server.modules += ("mod_extforward", "mod_setenv")\n'
            'extforward.forwarder = ("all" => "trust")\n' + hap + headers + SEEN
            + '$HTTP["remoteip"] == "198.51.100.17" '
              '{ setenv.add-response-header = ("X-Seen" => "198.51.100.17") }\n')


def test_no_default_headers_with_hap_proxy():
    with Server(conf('extforward.hap-PROXY = "enable"\n'), files=FILES) as s:
        r = exchange(s.port, v1("203.0.113.7") + XFF)[0]
        eq(r.header("X-Seen"), "203.0.113.7", "the PROXY header's client, not X-Forwarded-For")


def test_configured_headers_still_read_with_hap_proxy():
    headers = 'extforward.headers = ("X-Forwarded-For")\n'
    with Server(conf('extforward.hap-PROXY = "enable"\n', headers), files=FILES) as s:
        r = exchange(s.port, v1("203.0.113.7") + XFF)[0]
        eq(r.header("X-Seen"), "198.51.100.17", "named on purpose")


@lux_only("lighttpd 1.4.69 drops the default headers only for a global extforward.hap-PROXY")
def test_no_default_headers_on_a_proxy_protocol_socket():
    hap = '$SERVER["socket"] == "127.0.0.1:@PORT2@" { extforward.hap-PROXY = "enable" }\n'
    with Server(conf(hap), files=FILES) as s:
        harness.poll(lambda: harness.port_accepts(s.port2, "127.0.0.1"), what="second listener")
        r = exchange(s.port2, v1("203.0.113.7") + XFF)[0]
        eq(r.header("X-Seen"), "203.0.113.7", "PROXY socket")
        r = exchange(s.port, XFF)[0]
        eq(r.header("X-Seen"), "198.51.100.17", "a plain socket keeps the defaults")
