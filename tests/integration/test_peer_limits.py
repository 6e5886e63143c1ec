"""Concurrent connections per client address: server.max-connections-per-ip (lux's own, 503)
and lighttpd's mod_evasive (evasive.max-conns-per-ip: 403, or 302 to evasive.location), counted
across workers, separately for each address, released when a connection closes."""

import socket
import threading
import time

import harness
from harness import Server, check, eq, lux_only, parse_responses, poll, read_all

FILES = {"f.txt": "hi\n"}
V6 = '$SERVER["socket"] == "[::1]:@PORT2@" { }\n'
KEEP = b"GET /f.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"


def open_many(port, n, host="127.0.0.1"):
    """n connections opened in parallel, each with one keep-alive request answered (or the
    connection's refusal read); returns [(socket, status)]; admitted sockets stay open."""
    out, lock = [], threading.Lock()

    def one():
        s = harness.connect(port, host)
        s.sendall(KEEP)
        data = b""
        while b"\r\n\r\n" not in data:
            b = s.recv(4096)
            if not b:
                break
            data += b
        status = parse_responses(data)[0].status if data else None
        with lock:
            out.append((s, status))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(harness.IO_TIMEOUT * 2)
    return out


def statuses(conns):
    return sorted(st for _, st in conns)


def close_all(conns):
    for s, _ in conns:
        s.close()


def hold_admitted(port, n, host="127.0.0.1"):
    """n connections the server admitted, opened one by one: a connection of the harness's own
    (its readiness probe) may still count against the limit until the server sees it close,
    so a refused one is closed and tried again."""
    held, deadline = [], time.monotonic() + 10 * harness.sanitizer_slowdown()
    while len(held) < n:
        conn = open_many(port, 1, host)
        if statuses(conn) == [200]:
            held += conn
            continue
        close_all(conn)
        check(time.monotonic() < deadline, f"only {len(held)} of {n} connections admitted")
        time.sleep(0.05)
    return held


def refused_and_closed(port, host="127.0.0.1"):
    with harness.connect(port, host) as s:
        s.sendall(KEEP)
        data, closed = read_all(s)
    return parse_responses(data)[0], closed


@lux_only("server.max-connections-per-ip is lux's own")
def test_limit_counted_across_workers_and_per_address():
    conf = "server.max-worker = 2\nserver.max-connections-per-ip = 5\n" + V6
    with Server(conf, files=FILES) as s:
        held = open_many(s.port, 12)
        eq(statuses(held), [200] * 5 + [503] * 7, "12 parallel clients, limit 5")
        r, closed = refused_and_closed(s.port)
        eq((r.status, closed), (503, True), "one more: 503, then closed")
        poll(lambda: harness.port_accepts(s.port2, "::1", socket.AF_INET6), what="IPv6 listener")
        six = open_many(s.port2, 7, host="::1")
        eq(statuses(six), [200] * 5 + [503] * 2, "::1 has a count of its own")
        close_all(six)
        admitted = [c for c in held if c[1] == 200]
        close_all(held)

        def admitted_again():
            conns = open_many(s.port, 5)
            ok = statuses(conns) == [200] * 5
            close_all(conns)
            return ok
        poll(admitted_again, timeout=10, what="closed connections released")
        check(len(admitted) == 5, "five were admitted")
        harness.contains(s.errorlog, "too many connections from 127.0.0.1", "logged")


@lux_only("lux counts every open connection; lighttpd's mod_evasive only those past their request")
def test_mod_evasive_403_and_silent():
    conf = ('server.modules += ("mod_evasive")\nevasive.max-conns-per-ip = 2\n'
            'evasive.silent = "enable"\n')
    with Server(conf, files=FILES) as s:
        held = hold_admitted(s.port, 2)
        more = open_many(s.port, 2)
        eq(statuses(held + more), [200, 200, 403, 403], "403 past the limit, as lighttpd")
        close_all(held + more)
        check("too many connections" not in s.errorlog, "evasive.silent: nothing logged")


@lux_only("lux counts every open connection; lighttpd's mod_evasive only those past their request")
def test_mod_evasive_location():
    conf = ('server.modules += ("mod_evasive")\nevasive.max-conns-per-ip = 1\n'
            'evasive.location = "https://example.org/busy"\n')
    with Server(conf, files=FILES) as s:
        held = hold_admitted(s.port, 1)
        r, closed = refused_and_closed(s.port)
        eq((r.status, r.header("Location"), closed), (302, "https://example.org/busy", True),
           "302 to evasive.location")
        close_all(held)


@lux_only("lux admits a connection once, before any request: the limit is global only")
def test_evasive_in_condition_warned():
    conf = ('server.modules += ("mod_evasive")\n'
            '$HTTP["url"] =^ "/x" { evasive.max-conns-per-ip = 2 }\n')
    with harness.TempDir() as tmp:
        text = harness.BASE_CONF + conf
        text = text.replace("@TMP@", tmp.path).replace("@DOCROOT@", tmp.path)
        text = text.replace("@PORT@", "80")
        r = harness.run_bin(["-tt", "-f", tmp.write("lux.conf", text)])
        harness.contains(r.stderr + r.stdout,
                         "evasive.max-conns-per-ip can only be set globally", "warning")


def pipelined(port, n, host="127.0.0.1"):
    reqs = KEEP * (n - 1) + b"GET /f.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    with harness.connect(port, host) as s:
        s.sendall(reqs)
        data, _ = read_all(s)
    return parse_responses(data, ["GET"] * n)


@lux_only("server.max-request-rate-per-ip is lux's own")
def test_request_rate_429_with_retry_after():
    conf = ("server.max-worker = 1\nserver.max-request-rate-per-ip = 1\n"
            "server.max-request-burst-per-ip = 3\n" + V6)
    with Server(conf, files=FILES) as s:
        resps = pipelined(s.port, 10)
        eq(len(resps), 10, "responses")
        eq([r.status for r in resps[:3]], [200] * 3, "the burst")
        limited = [r for r in resps[3:] if r.status == 429]
        check(len(limited) >= 5, f"statuses past the burst: {[r.status for r in resps[3:]]}")
        for r in limited:
            check(int(r.header("Retry-After", "0")) >= 1, "Retry-After")
        poll(lambda: harness.port_accepts(s.port2, "::1", socket.AF_INET6), what="IPv6 listener")
        eq(pipelined(s.port2, 1, host="::1")[0].status, 200, "::1 has its own bucket")
        poll(lambda: pipelined(s.port, 1)[0].status == 200, timeout=10, what="a token again")


@lux_only("server.max-connections-per-ip is lux's own")
def test_limit_counts_the_client_a_proxy_names():
    conf = ('server.modules += ("mod_extforward")\nextforward.forwarder = ("127.0.0.1" => "trust")\n'
            'extforward.hap-PROXY = "enable"\nserver.max-connections-per-ip = 1\n')
    with Server(conf, files=FILES) as s:
        held = []
        for client in ("203.0.113.7", "203.0.113.8", "203.0.113.7"):
            c = harness.connect(s.port)
            c.sendall(f"PROXY TCP4 {client} 127.0.0.1 1000 80\r\n".encode() + KEEP)
            data = b""
            while b"\r\n\r\n" not in data:
                b = c.recv(4096)
                if not b:
                    break
                data += b
            held.append(c)
            eq(parse_responses(data)[0].status, 503 if len(held) == 3 else 200, client)
        close_all([(c, None) for c in held])
