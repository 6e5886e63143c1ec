"""The connect, read and write timeouts belong to each host entry, as in lighttpd 1.4.69: two
backends of one key with different read timeouts, each stalling before its head, each time out
on their own value, for every gateway."""

import time

import harness
from harness import Server, check, eq
from soak_backends import GATEWAYS, FaultBackend, request

SHORT, LONG = 1, 6


def two_entries_conf(gateway, short, long):
    """The gateway's prefix to two fault backends in turns, the first with the short read
    timeout, the second with the long one."""
    prefix, module, _ = GATEWAYS[gateway]
    local = "" if gateway == "proxy" else ', "check-local" => "disable"'

    def entry(b, timeout):
        return f'( "host" => "127.0.0.1", "port" => {b.port}, "read-timeout" => {timeout}{local} )'

    return (f'server.modules = ( "{module}" )\nserver.max-worker = 1\n'
            f'{gateway}.balance = "round-robin"\n'
            f'{gateway}.server = ( "{prefix}" => ( {entry(short, SHORT)}, {entry(long, LONG)} ) )\n')


def stalls(b):
    """Requests b stalled so far (not "stall-end stall-head": the end of a stall)."""
    return sum(1 for e in b.events() if e.endswith(" fault stall-head"))


def stalled_by(backends, before):
    """The backend that stalled one more request than before (poll: it logs as it stalls)."""
    def who():
        got = [b for b in backends if stalls(b) > before[b]]
        return got[0] if len(got) == 1 else None
    return harness.poll(who, 10, what="one backend to have stalled the request: " +
                        "; ".join(f"{b.name}: {b.events()[-4:]}" for b in backends))


def run_timeouts_per_entry(gateway):
    prefix, _, proto = GATEWAYS[gateway]
    with FaultBackend(proto) as short, FaultBackend(proto) as long, \
            Server(two_entries_conf(gateway, short, long)) as s:
        seen = {}
        for _ in range(2):  # in turns: one request to each
            before = {b: stalls(b) for b in (short, long)}
            start = time.monotonic()
            out = request(s.port, f"{prefix}fault/stall-head", timeout=30)
            took = time.monotonic() - start
            eq(out.status, 504, "a backend that never answers")
            b = stalled_by([short, long], before)
            check(b not in seen, "round-robin took each backend in turn")
            seen[b] = took
        # lighttpd checks its timeouts once a second: its 1 s is up to 3 s
        check(seen[short] >= SHORT and seen[short] < LONG - 1,
              f"the short entry timed out on its own {SHORT} s: {seen[short]:.1f} s")
        check(seen[long] >= LONG, f"the long entry waited its own {LONG} s: {seen[long]:.1f} s")
        if not harness.is_lighttpd():  # lighttpd words its line otherwise
            for b, t in ((short, SHORT), (long, LONG)):
                check(f"{b.name}: no response for {t} s" in s.errorlog,
                      f"the error log names {b.name} with {t} s:\n{s.errorlog[-1500:]}")


def test_proxy_read_timeout_per_host_entry():
    run_timeouts_per_entry("proxy")


def test_fastcgi_read_timeout_per_host_entry():
    run_timeouts_per_entry("fastcgi")


def test_scgi_read_timeout_per_host_entry():
    run_timeouts_per_entry("scgi")
