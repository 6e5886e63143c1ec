"""Backends that fail (fault_backend.py) behind mod_proxy, mod_fastcgi and mod_scgi: each fault
gets its status (502, 503, 504) or, once the head went out, a cut answer, with an error-log line
naming the backend; other requests go on, on the same client connection and on others; the
server's descriptors come back to where they started. Requests that cannot be framed never
reach a backend, and what does reach it is exactly one well-framed request. A client that
leaves cancels its backend request and frees the backend. A short soak of random faults over
all three gateways at once."""

import re
import socket
import time

import h2client
import harness
from harness import Server, check, eq, lux_only
from soak_backends import (EXPECTED, GATEWAYS, FaultBackend, expected_ok, fill, gateway_conf,
                           read_outcome, request, run_soak, server_conf, settled_fd_count,
                           wait_fds)

READ_TIMEOUT = 1


def one_gateway(gateway, backend, dead_port, read_timeout=READ_TIMEOUT):
    return (f'server.modules = ( "{GATEWAYS[gateway][1]}" )\nserver.max-worker = 1\n' +
            gateway_conf(gateway, backend.port, dead_port, read_timeout))


def wait_log(s, start, text, what):
    """An error-log line after offset start holding text."""
    def found():
        return [l for l in s.errorlog[start:].splitlines() if text in l]
    return harness.poll(found, 5 * harness.sanitizer_slowdown(),
                        what=f"{what} in the error log:\n{s.errorlog[start:][-1500:]}")


def check_ok(s, gateway, sock=None, n=1000):
    out = request(s.port, f"{GATEWAYS[gateway][0]}fault/ok?n={n}", sock=sock)
    check(out.kind() == 200 and out.body == fill(n), f"/ok after the fault: {out!r}")


def run_fault(gateway, fault):
    """The fault on one connection while another request is served; then the same connection
    (when it was not cut), a new one, and the descriptors."""
    prefix = GATEWAYS[gateway][0]
    dead = harness.free_port()
    with FaultBackend(GATEWAYS[gateway][2]) as b, Server(one_gateway(gateway, b, dead)) as s:
        start_fds = settled_fd_count(s.pid)
        log_start = len(s.errorlog)
        with harness.connect(s.port, timeout=30) as c:
            # A body the backend would have to read: the fault may come before it did.
            body = fill(200000) if fault == "reset-reading-body" else b""
            c.sendall(harness.build_request(f"{prefix}fault/{fault}?n=100000",
                                            method="POST" if body else "GET", body=body))
            if fault != "exit":  # an exit takes the requests in flight along
                check_ok(s, gateway)
            out, _ = read_outcome(c)
            why = expected_ok(fault, out, 100000)
            check(not why, f"{why}\n{s.errorlog[-1500:]}")
            if out.kind() != "aborted":
                check_ok(s, gateway, sock=c)
        name = f"127.0.0.1:{dead}" if fault == "refuse" else b.name
        wait_log(s, log_start, name, f"a line naming {name}")
        check_ok(s, gateway)
        b.restart()
        wait_fds(s.pid, start_fds)


# Where lighttpd 1.4.69 answers otherwise.
LIGHTTPD_DIFFERS = {
    "close-before-head": "lighttpd answers 500 when a backend closes before its head",
    "reset-before-head": "lighttpd answers 500 when a backend resets before its head",
    "reset-reading-body": "lighttpd answers 500 when a backend resets before its head",
    "exit": "lighttpd answers 500 when a backend dies before its head",
    "garbage-head": "lighttpd's error-log line does not name the backend (FastCGI: 504)",
    "huge-head": "lighttpd's error-log line does not name the backend",
    "close-mid-body": "lighttpd's error-log line does not name the backend",
    "stall-body": "lighttpd answers a backend that stalls mid-body with a whole error page",
}


def make_fault_test(gateway, fault):
    def test():
        run_fault(gateway, fault)
    test.__name__ = f"test_{fault.replace('-', '_')}_{gateway}"
    if fault in LIGHTTPD_DIFFERS:
        test = lux_only(LIGHTTPD_DIFFERS[fault])(test)
    return test


for _fault in EXPECTED:
    if _fault in ("ok", "slow-ok"):
        continue
    for _gateway in GATEWAYS:
        _t = make_fault_test(_gateway, _fault)
        globals()[_t.__name__] = _t


@lux_only("lighttpd's answers to failing backends differ (500, log lines)")
def test_faults_over_http2():
    """The same faults for HTTP/2 clients, on one connection: a status, or the head and a
    stream reset (RST_STREAM) where HTTP/1 closes the connection."""
    backends = {g: FaultBackend(GATEWAYS[g][2]) for g in GATEWAYS}
    try:
        with Server(server_conf(backends, READ_TIMEOUT)) as s, \
                h2client.H2Conn.open(s.port, timeout=20) as h:
            for g in GATEWAYS:
                for fault in EXPECTED:
                    for n in (1000, 100000):
                        path = f"{GATEWAYS[g][0]}fault/{fault}/{n}?n={n}"
                        r = h.response(h.request(path), timeout=20)
                        check(r is not None, f"{path}: no answer")
                        got = "aborted" if r.reset is not None else r.status
                        check(got in EXPECTED[fault], f"{path}: {got}")
                        check(got != 200 or r.body == fill(n), f"{path}: the body changed")
            eq(h.get(f"{GATEWAYS['proxy'][0]}fault/ok").status, 200)
    finally:
        for b in backends.values():
            b.stop()


# ---- request smuggling ------------------------------------------------------------------------

TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def strict_requests(data):
    """Parse data as HTTP/1.1 requests, strictly (RFC 9112): a list of (target, body). Fails
    on anything a lenient parser could read two ways."""
    out = []
    while data:
        end = data.find(b"\r\n\r\n")
        check(end >= 0, f"an unterminated head: {data[:300]!r}")
        lines = data[:end].split(b"\r\n")
        data = data[end + 4:]
        m = re.match(rb"^([A-Z]+) (\S+) HTTP/1\.1$", lines[0])
        check(m, f"a bad request line: {lines[0]!r}")
        fields = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            check(sep and TOKEN.match(name), f"a bad field line: {line!r}")
            check(not re.search(rb"[\r\n\0]", value), f"CR, LF or NUL in a value: {line!r}")
            check(not line[:1].isspace(), f"an obs-fold line: {line!r}")
            fields.setdefault(name.lower(), []).append(value.strip())
        cl, te = fields.get(b"content-length"), fields.get(b"transfer-encoding")
        check(not (cl and te), f"both Content-Length and Transfer-Encoding: {lines!r}")
        if te:
            eq(te, [b"chunked"], "Transfer-Encoding")
            body = b""
            while True:
                eol = data.index(b"\r\n")
                size_text = data[:eol]
                check(re.match(rb"^[0-9a-fA-F]{1,15}$", size_text), f"chunk size {size_text!r}")
                size = int(size_text, 16)
                data = data[eol + 2:]
                if not size:
                    check(data.startswith(b"\r\n"), f"trailers or junk: {data[:100]!r}")
                    data = data[2:]
                    break
                body += data[:size]
                check(data[size:size + 2] == b"\r\n", "a chunk without its CRLF")
                data = data[size + 2:]
        else:
            check(not cl or len(cl) == 1, f"Content-Length twice: {cl!r}")
            n = int(cl[0]) if cl else 0
            check(len(data) >= n, f"a body shorter than its Content-Length: {len(data)} < {n}")
            body, data = data[:n], data[n:]
        out.append((m.group(2), body))
    return out


HIDDEN = b"GET /p/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
SMUGGLING = {
    "cl_and_te": b"POST /p/a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /p/smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "te_and_cl": b"POST /p/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 b"Content-Length: 40\r\n\r\n0\r\n\r\nGET /p/smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "obs_fold": b"GET /p/a HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n",
    "obs_fold_te": b"POST /p/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n"
                   b" chunked\r\n\r\n0\r\n\r\n",
    "bare_lf": b"GET /p/a HTTP/1.1\nHost: x\nX-A: b\n\n",
    "bare_lf_in_field": b"GET /p/a HTTP/1.1\r\nHost: x\r\nX-A: b\nX-B: c\r\n\r\n",
    "duplicate_cl": b"POST /p/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                    b"Content-Length: 6\r\n\r\n123456",
    "duplicate_cl_same": b"POST /p/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                         b"Content-Length: 5\r\n\r\n12345",
    "cl_list": b"POST /p/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n123456",
    "cl_plus": b"POST /p/a HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n12345",
    "te_chunked_identity": b"POST /p/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity"
                           b"\r\n\r\n5\r\n12345\r\n0\r\n\r\n",
    "te_identity": b"POST /p/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n"
                   b"Content-Length: 5\r\n\r\n12345",
    "te_twice": b"POST /p/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n0\r\n\r\n",
    "te_xchunked": b"POST /p/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"
                   b"5\r\n12345\r\n0\r\n\r\n",
    "te_http10": b"POST /p/a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\n12345\r\n0\r\n\r\n",
    "chunk_size_overflow": b"POST /p/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"10000000000000005\r\n12345\r\n0\r\n\r\n",
    "chunk_size_junk": b"POST /p/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"5 x\r\n12345\r\n0\r\n\r\n",
    "chunk_lf_only": b"POST /p/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\n12345\n0\n\n",
    "cr_in_value": b"GET /p/a HTTP/1.1\r\nHost: x\r\nX-A: b\rGET /p/smuggled HTTP/1.1\r\n\r\n",
    "nul_in_value": b"GET /p/a HTTP/1.1\r\nHost: x\r\nX-A: b\0c\r\n\r\n",
    "space_before_colon": b"POST /p/a HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n12345",
    "request_in_body": b"POST /p/a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                       % (len(HIDDEN), HIDDEN),
    "request_in_chunked_body": b"POST /p/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                               b"\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(HIDDEN), HIDDEN),
    "request_line_space": b"GET /p/a HTTP/1.1 GET /p/smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
}


def raw_total(b):
    return [len(c) for c in b.raw_connections()]


def new_bytes(b, before):
    conns = b.raw_connections()
    return b"".join(c[before[i]:] if i < len(before) else c for i, c in enumerate(conns))


def client_says(s, data):
    """Send data on its own connection: the responses that come back (a second one would
    answer a request hidden in the first)."""
    resps = []
    with harness.connect(s.port, timeout=10 * harness.sanitizer_slowdown()) as c:
        c.sendall(data)
        out, rest = read_outcome(c, timeout=10 * harness.sanitizer_slowdown())
        if out.status is None:
            return resps
        resps.append(out)
        if out.closed:
            return resps
        c.settimeout(0.5)
        try:
            rest += c.recv(65536)
        except (socket.timeout, ConnectionResetError):
            pass
        if rest:
            resps.append(rest)
    return resps


def check_smuggling_case(b, s, data):
    before = raw_total(b)
    resps = client_says(s, data)
    time.sleep(0.05)
    reached = new_bytes(b, before)
    check(len(resps) == 1, f"want one response, got {resps!r}")
    status = resps[0].status
    check(status in (200, 400, 411, 413, 501), f"status {status}")
    if status != 200:
        eq(reached, b"", f"what reached the backend after a {status}")
        return
    reqs = strict_requests(reached)
    eq(len(reqs), 1, f"requests that reached the backend ({reqs!r})")
    check(reqs[0][0].startswith(b"/p/a"), f"the target {reqs[0][0]!r}")


@harness.lux_only("lighttpd 1.4 accepts some of these (obs-fold, bare LF in chunks)")
def test_smuggling_reaches_backend_as_one_framed_request():
    with FaultBackend("http", raw=True) as b, \
            Server(one_gateway("proxy", b, harness.free_port())) as s:
        start_fds = settled_fd_count(s.pid)
        for case, data in SMUGGLING.items():
            try:
                check_smuggling_case(b, s, data)
            except harness.TestFailure as e:
                raise harness.TestFailure(f"{case}: {e}") from None
        check_ok(s, "proxy")
        b.restart()
        wait_fds(s.pid, start_fds)


# ---- clients that leave -----------------------------------------------------------------------

def run_client_leaves(gateway, fault):
    """A serial backend (one connection at a time) stalls; the client closes. The backend's
    connection must be closed well before the read timeout, and the next request served."""
    prefix = GATEWAYS[gateway][0]
    with FaultBackend(GATEWAYS[gateway][2], serial=True) as b, \
            Server(one_gateway(gateway, b, harness.free_port(), read_timeout=60)) as s:
        start_fds = settled_fd_count(s.pid)
        c = harness.connect(s.port)
        c.sendall(harness.build_request(f"{prefix}fault/{fault}?n=100000"))
        harness.poll(lambda: any(f"fault {fault}" in e for e in b.events()), 10,
                     what="the request to reach the backend")
        if fault == "stall-body":
            c.settimeout(10)
            check(c.recv(100).startswith(b"HTTP/1.1 200"), "the head did not come")
        c.close()
        ends = harness.poll(lambda: [e for e in b.events() if e.split()[1:3] ==
                                     ["stall-end", fault]], 10 * harness.sanitizer_slowdown(),
                            what="the backend's connection to close")
        eq(ends[0].split()[3], "closed", "how the stall ended")
        check(float(ends[0].split()[4]) < 10, f"the backend was let go late: {ends[0]}")
        check_ok(s, gateway)  # a backend of one connection: only served if the slot is free
        b.restart()
        wait_fds(s.pid, start_fds)


def make_leave_test(gateway, fault):
    @lux_only("lighttpd keeps the backend's connection until the backend answers")
    def test():
        run_client_leaves(gateway, fault)
    test.__name__ = f"test_client_leaves_{fault.replace('-', '_')}_{gateway}"
    return test


for _fault in ("stall-head", "stall-body"):
    for _gateway in GATEWAYS:
        _t = make_leave_test(_gateway, _fault)
        globals()[_t.__name__] = _t


def run_client_leaves_mid_upload(gateway):
    """The body streams to a serial backend (stream-request-body 2) and the client leaves
    half-way: the backend's connection is let go, so its next request is served."""
    prefix = GATEWAYS[gateway][0]
    with FaultBackend(GATEWAYS[gateway][2], serial=True) as b, \
            Server("server.stream-request-body = 2\n" +
                   one_gateway(gateway, b, harness.free_port(), read_timeout=60)) as s:
        start_fds = settled_fd_count(s.pid)
        c = harness.connect(s.port)
        c.sendall(f"POST {prefix}fault/ok HTTP/1.1\r\nHost: x\r\n"
                  "Content-Length: 1000000\r\n\r\n".encode() + fill(100000))
        harness.poll(lambda: any(" accept " in e for e in b.events()), 10,
                     what="the request to reach the backend")
        c.close()
        check_ok(s, gateway)  # a backend of one connection: only served if the slot is free
        b.restart()
        wait_fds(s.pid, start_fds)


def make_upload_test(gateway):
    def test():
        run_client_leaves_mid_upload(gateway)
    test.__name__ = f"test_client_leaves_mid_upload_{gateway}"
    return test


for _gateway in GATEWAYS:
    _t = make_upload_test(_gateway)
    globals()[_t.__name__] = _t


# ---- the short soak ---------------------------------------------------------------------------

@lux_only("lighttpd's answers to failing backends differ (500, log lines)")
def test_soak_random_faults():
    """1,000 requests with random faults over the three gateways at once (seeded); `make
    soak-backends` runs 10,000 on the ASan build."""
    lines = []
    run_soak(1000, seed=20261129, clients=16, log=lines.append)


# ---- failing mid-body, quickly ----------------------------------------------------------------

def run_quick_mid_body_failures(gateway):
    """A backend that sends its head and half a small body, then closes or resets, often fails
    before the head left the server: the client gets a 502 then, or the head and a cut body,
    never nothing at all, and never the half body as a whole answer."""
    prefix = GATEWAYS[gateway][0]
    with FaultBackend(GATEWAYS[gateway][2]) as b, \
            Server(one_gateway(gateway, b, harness.free_port())) as s:
        for i in range(15):
            for fault in ("close-mid-body", "reset-mid-body"):
                out = request(s.port, f"{prefix}fault/{fault}/{i}?n=1000")
                why = expected_ok(fault, out, 1000)
                check(not why, f"{fault} #{i}: {why}\n{s.errorlog[-1500:]}")


def make_quick_test(gateway):
    @lux_only("lighttpd's answers to failing backends differ (500, log lines)")
    def test():
        run_quick_mid_body_failures(gateway)
    test.__name__ = f"test_quick_mid_body_failures_{gateway}"
    return test


for _gateway in GATEWAYS:
    _t = make_quick_test(_gateway)
    globals()[_t.__name__] = _t


# ---- CGI scripts that end short ---------------------------------------------------------------

CGI_CONF = 'server.modules = ("mod_cgi")\nserver.max-worker = 1\ncgi.assign = (".sh" => "/bin/sh")\n'
CGI_SHORT = {
    # The whole answer at once: the script may end before the head left the server.
    "short.sh": "printf 'Content-Type: text/plain\\r\\nContent-Length: 1000\\r\\n\\r\\n'\n"
                "head -c 500 /dev/zero\n",
    "empty.sh": "printf 'Content-Type: text/plain\\r\\nContent-Length: 1000\\r\\n\\r\\n'\n",
    # The head first: the client has it when the script ends.
    "late.sh": "printf 'Content-Type: text/plain\\r\\nContent-Length: 1000\\r\\n\\r\\n'\n"
               "sleep 0.3\nhead -c 500 /dev/zero\n",
    "whole.sh": "printf 'Content-Type: text/plain\\r\\nContent-Length: 5\\r\\n\\r\\nwhole'\n",
}


def test_cgi_body_shorter_than_its_length_is_cut():
    """A script that announces a Content-Length and ends before it: never a complete answer;
    a 502 while nothing went out, else a cut one, and a line naming the script."""
    with Server(CGI_CONF, files=CGI_SHORT) as s:
        start_fds = settled_fd_count(s.pid)
        for name in ("short.sh", "empty.sh", "late.sh"):
            for i in range(5 if name != "late.sh" else 1):
                log_start = len(s.errorlog)
                out = request(s.port, f"/{name}")
                check(out.kind() in (502, "aborted"), f"{name} #{i}: {out!r}")
                if not harness.is_lighttpd():  # lighttpd cuts the answer without a line
                    wait_log(s, log_start, name, f"a line naming {name}")
        out = request(s.port, "/whole.sh")
        check(out.kind() == 200 and out.body == b"whole", f"whole.sh: {out!r}")
        eq(request(s.port, "/whole.sh", method="HEAD").status, 200)
        wait_fds(s.pid, start_fds)


@lux_only("lighttpd passes a backend's Content-Length on")
def test_backend_content_length_is_taken_without_a_warning():
    """A backend's own Content-Length is how lux checks the body, not a module's stray framing
    field: no warning for each response (it would bury the lines that matter)."""
    backends = {g: FaultBackend(GATEWAYS[g][2]) for g in ("fastcgi", "scgi")}
    try:
        conf = ('server.modules = ( "mod_fastcgi", "mod_scgi", "mod_cgi" )\n'
                'cgi.assign = (".sh" => "/bin/sh")\n')
        for g, b in backends.items():
            conf += gateway_conf(g, b.port, harness.free_port(), READ_TIMEOUT)
        with Server(conf, files=CGI_SHORT) as s:
            for g in backends:
                check_ok(s, g)
            out = request(s.port, "/whole.sh")
            check(out.kind() == 200 and out.body == b"whole", f"whole.sh: {out!r}")
            check("Content-Length" not in s.errorlog, f"a warning:\n{s.errorlog[-1000:]}")
    finally:
        for b in backends.values():
            b.stop()
