"""The HAProxy PROXY protocol (extforward.hap-PROXY): a trusted proxy's header, v1 or v2,
names the client for every request of its connection (conditions, access log, CGI), before TLS
as before HTTP; a missing or malformed header closes the connection without an answer."""

import os
import socket
import ssl
import struct
import time

import harness
from harness import Server, check, contains, eq, lux_only, parse_responses, read_all
import test_tls

SIG = b"\r\n\r\n\x00\r\nQUIT\n"
ADDRS = ["127.0.0.1", "::1", "203.0.113.7", "2001:db8:cafe::17"]
SEEN = "".join(f'$HTTP["remoteip"] == "{a}" {{ setenv.add-response-header = ("X-Seen" => "{a}") }}\n'
               for a in ADDRS)
ENV_SH = "printf 'Content-Type: text/plain\\r\\n\\r\\n'\necho \"$REMOTE_ADDR $REMOTE_PORT\"\n"
FILES = {"f.txt": "hi\n", "env.sh": ENV_SH}


def conf(forwarder='"127.0.0.1" => "trust", "::1" => "trust"', hap="extforward.hap-PROXY = \"enable\"\n",
         extra=""):
    return ('server.modules += ("mod_extforward", "mod_setenv", "mod_cgi", "mod_accesslog")\n'
            'cgi.assign = (".sh" => "/bin/sh")\n'
            'accesslog.filename = "@TMP@/access.log"\naccesslog.format = "%h"\n'
            f"extforward.forwarder = ({forwarder})\n" + hap + extra + SEEN)


def v1(src, dst="127.0.0.1", sport=56324, dport=80):
    fam = "TCP6" if ":" in src else "TCP4"
    return f"PROXY {fam} {src} {dst} {sport} {dport}\r\n".encode()


def v2(src, dst, sport=56324, dport=80, command=1, tlvs=b""):
    if ":" in src:
        fam, af = 0x21, socket.AF_INET6
    else:
        fam, af = 0x11, socket.AF_INET
    body = (socket.inet_pton(af, src) + socket.inet_pton(af, dst) + struct.pack(">HH", sport, dport)
            + tlvs)
    return SIG + bytes([0x20 | command, fam]) + struct.pack(">H", len(body)) + body


def request(path="/f.txt", close=True):
    return (f"GET {path} HTTP/1.1\r\nHost: localhost\r\n"
            + ("Connection: close\r\n" if close else "") + "\r\n").encode()


def exchange(port, data, host="127.0.0.1", n=1):
    with harness.connect(port, host) as s:
        s.sendall(data)
        got, _ = read_all(s)
    resps = parse_responses(got)
    eq(len(resps), n, f"responses to {data[:60]!r}: {got[:200]!r}")
    return resps


def test_v1_names_the_client():
    with Server(conf(), files=FILES) as s:
        r = exchange(s.port, v1("203.0.113.7") + request())[0]
        eq((r.status, r.header("X-Seen")), (200, "203.0.113.7"), "v1 TCP4")
        r = exchange(s.port, v1("2001:db8:cafe::17", "::1") + request())[0]
        eq(r.header("X-Seen"), "2001:db8:cafe::17", "v1 TCP6 over an IPv4 connection")


def test_v2_names_the_client_over_ipv4_and_ipv6():
    extra = '$SERVER["socket"] == "[::1]:@PORT2@" { }\n'
    with Server(conf(extra=extra), files=FILES) as s:
        r = exchange(s.port, v2("203.0.113.7", "127.0.0.1") + request())[0]
        eq(r.header("X-Seen"), "203.0.113.7", "v2 INET")
        harness.poll(lambda: harness.port_accepts(s.port2, "::1", socket.AF_INET6),
                     what="the IPv6 listener")
        r = exchange(s.port2, v2("2001:db8:cafe::17", "::1") + request(), host="::1")[0]
        eq(r.header("X-Seen"), "2001:db8:cafe::17", "v2 INET6 over IPv6")
        r = exchange(s.port2, v2("203.0.113.7", "127.0.0.1") + request(), host="::1")[0]
        eq(r.header("X-Seen"), "203.0.113.7", "v2 INET over IPv6")


def test_address_holds_for_every_request_log_and_cgi():
    with Server(conf(), files=FILES) as s:
        data = v1("203.0.113.7", sport=41000) + request(close=False) + request("/env.sh")
        r1, r2 = exchange(s.port, data, n=2)
        eq(r1.header("X-Seen"), "203.0.113.7", "first request")
        eq(r2.header("X-Seen"), "203.0.113.7", "second request, same connection")
        eq(r2.body.decode().split(), ["203.0.113.7", "41000"], "CGI REMOTE_ADDR and REMOTE_PORT")
        s.stop()
        eq(harness.read_text(os.path.join(s.tmp, "access.log")).split(),
           ["203.0.113.7", "203.0.113.7"], "access log %h")


def test_local_and_unknown_keep_the_peer():
    with Server(conf(), files=FILES) as s:
        local = SIG + b"\x20\x00\x00\x00"
        eq(exchange(s.port, local + request())[0].header("X-Seen"), "127.0.0.1", "v2 LOCAL")
        unknown = b"PROXY UNKNOWN\r\n"
        eq(exchange(s.port, unknown + request())[0].header("X-Seen"), "127.0.0.1", "v1 UNKNOWN")


def test_v2_tlvs_are_skipped():
    ssl_tlv = (b"\x20" + struct.pack(">H", 16) + b"\x01\x00\x00\x00\x00"
               + b"\x21" + struct.pack(">H", 8) + b"TLSv1.3\x00")
    with Server(conf(), files=FILES) as s:
        data = v2("203.0.113.7", "127.0.0.1", tlvs=b"\x01\x00\x02h2" + ssl_tlv) + request()
        eq(exchange(s.port, data)[0].header("X-Seen"), "203.0.113.7", "TLVs")


def closed_without_answer(port, data, host="127.0.0.1"):
    with harness.connect(port, host) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got, closed = read_all(s)
    eq((got, closed), (b"", True), f"answer to {data[:40]!r}")


def test_missing_or_malformed_header_closes():
    with Server(conf(), files=FILES) as s:
        closed_without_answer(s.port, request())
        closed_without_answer(s.port, b"PROXY TCP4 203.0.113.7 127.0.0.1 1\r\n" + request())
        closed_without_answer(s.port, SIG + b"\x11\x11\x00\x0c" + bytes(12) + request())
        closed_without_answer(s.port, b"PROXY TCP4 " + b"1" * 120 + b"\r\n")
        r = exchange(s.port, v1("203.0.113.7") + request())[0]
        eq(r.status, 200, "a good header after the bad ones")


@lux_only("lux's own log throttling of refused PROXY headers")
def test_refusals_are_logged_at_most_once_per_interval():
    with Server(conf(), files=FILES) as s:
        for _ in range(5):
            closed_without_answer(s.port, b"GARBAGE\r\n\r\n")
        harness.poll(lambda: "PROXY protocol" in s.errorlog, what="the refusal in the log")
        time.sleep(0.3)
        eq(s.errorlog.count("PROXY protocol"), 1, "log lines for five refusals")
        contains(s.errorlog, "header from 127.0.0.1, connection closed", "the line")


def test_untrusted_peer_is_served_without_header():
    with Server(conf(forwarder='"10.0.0.1" => "trust"'), files=FILES) as s:
        r = exchange(s.port, request())[0]
        eq((r.status, r.header("X-Seen")), (200, "127.0.0.1"), "plain HTTP from an untrusted peer")


def test_per_socket():
    extra = '$SERVER["socket"] == "127.0.0.1:@PORT2@" { extforward.hap-PROXY = "enable" }\n'
    with Server(conf(hap="", extra=extra), files=FILES) as s:
        eq(exchange(s.port, request())[0].header("X-Seen"), "127.0.0.1", "main socket: plain")
        harness.poll(lambda: harness.port_accepts(s.port2), what="the second listener")
        r = exchange(s.port2, v1("203.0.113.7") + request())[0]
        eq(r.header("X-Seen"), "203.0.113.7", "the PROXY socket")
        closed_without_answer(s.port2, request())


def test_tls_behind_the_header():
    test_tls.need_tls()
    # lighttpd reads the header before TLS only with mod_openssl listed before mod_extforward
    text = 'server.modules = ("mod_openssl", "mod_extforward")\n' + conf(extra=test_tls.tls_conf())
    with Server(text, files=FILES) as s:
        for header in (v1("203.0.113.7"), v2("2001:db8:cafe::17", "::1")):
            raw = socket.create_connection(("127.0.0.1", s.port), timeout=harness.IO_TIMEOUT)
            raw.sendall(header)
            ctx = ssl.create_default_context(cafile=test_tls.certs()["ca"])
            with ctx.wrap_socket(raw, server_hostname="localhost") as t:
                t.sendall(request())
                got, _ = read_all(t)
            r = parse_responses(got)[0]
            want = "203.0.113.7" if header.startswith(b"PROXY") else "2001:db8:cafe::17"
            eq((r.status, r.header("X-Seen")), (200, want), "over TLS")


@lux_only("the header's time limit is server.max-read-idle from the accept")
def test_slow_header_is_cut_off():
    with Server(conf(extra="server.max-read-idle = 2\n"), files=FILES) as s:
        with harness.connect(s.port) as c:
            start = time.monotonic()
            closed = False
            for b in b"PROXY TCP4 203.0.113.7 127.0.0.1 1 2":
                try:
                    c.sendall(bytes([b]))
                    c.settimeout(0.4)
                    if c.recv(1) == b"":
                        closed = True
                        break
                except socket.timeout:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
            elapsed = time.monotonic() - start
        check(closed, f"still open after {elapsed:.1f} s of a byte every 0.4 s")
        check(elapsed >= 1.5, f"closed after {elapsed:.1f} s, before the limit")
