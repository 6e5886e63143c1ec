#!/usr/bin/env python3
"""Backends that fail, many at once: random faults (fault_backend.py) over mod_proxy, mod_fastcgi
and mod_scgi concurrently against one server, then a check that every answer was the one its
fault calls for, that the server's descriptors are back to where they started, and that the
sanitizers said nothing.

    python3 tests/integration/soak_backends.py --bin build/asan/lux --asan
                                               [--requests N] [--seed S] [--clients C]

The seed (printed first) makes the sequence of faults reproducible. Also the helpers the
fault tests (test_backend_faults.py) share: the backend process, the server's config, a
client that tells a complete answer from a cut one, and the descriptor count.
"""
import argparse
import collections
import concurrent.futures
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import TestFailure, check  # noqa: E402

PYTHON = shutil.which("python3") or sys.executable
APP = os.path.join(HERE, "fault_backend.py")

# URL prefix, module and backend protocol of each gateway.
GATEWAYS = {"proxy": ("/p/", "mod_proxy", "http"),
            "fastcgi": ("/f/", "mod_fastcgi", "fcgi"),
            "scgi": ("/s/", "mod_scgi", "scgi")}

# What a client sees for each fault: a status, or "aborted" (the head went out, the body was
# cut). A backend that fails mid-body may fail before the head left: then it is a 502.
EXPECTED = {"ok": (200,), "slow-ok": (200,), "refuse": (503,), "close-before-head": (502,),
            "reset-before-head": (502,), "garbage-head": (502,), "huge-head": (502,),
            "reset-reading-body": (502,), "stall-head": (504,), "reset-mid-body": ("aborted", 502),
            "close-mid-body": ("aborted", 502), "stall-body": ("aborted",), "exit": (502,)}


def fill(n):
    """The body fault_backend.py sends for n bytes."""
    block = b"".join(b"%08d\n" % i for i in range(0, 65536, 9))
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


class FaultBackend:
    """fault_backend.py as a process (its server child dies with it), stopped by PID."""

    def __init__(self, proto, serial=False, raw=False):
        self.proto = proto
        self.dir = tempfile.mkdtemp(prefix="luxfault-")
        self.port = harness.free_port()
        argv = [PYTHON, APP, proto, str(self.port), self.dir]
        argv += ["--serial"] if serial else []
        argv += ["--raw"] if raw else []
        self.proc = harness.track(subprocess.Popen(argv, stdout=subprocess.PIPE,
                                                   stderr=subprocess.DEVNULL))
        line = self.proc.stdout.readline()
        check(line.strip() == b"ready", f"the {proto} fault backend did not start: {line!r}")

    @property
    def name(self):
        return f"127.0.0.1:{self.port}"

    def events(self):
        return harness.read_text(os.path.join(self.dir, "events")).splitlines()

    def raw_connections(self):
        """The bytes each connection brought, in the order they were accepted."""
        d = os.path.join(self.dir, "raw")
        names = sorted(os.listdir(d), key=lambda n: [int(x) for x in n.split("-")]) \
            if os.path.isdir(d) else []
        out = []
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read())
        return out

    def restart(self):
        """The server process is killed and started again: every connection to it closes."""
        before = sum(1 for e in self.events() if " exited " in e)
        os.kill(self.proc.pid, signal.SIGUSR1)
        harness.poll(lambda: sum(1 for e in self.events() if " exited " in e) > before, 10,
                     what="the fault backend to restart")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def gateway_conf(gateway, port, dead_port, read_timeout, extra=""):
    """One gateway: PREFIX/fault/refuse to a port nothing listens on, the rest of PREFIX to
    the fault backend."""
    prefix, _, _ = GATEWAYS[gateway]
    local = "" if gateway == "proxy" else ', "check-local" => "disable"'
    return (f'{gateway}.server = ( "{prefix}fault/refuse" => ( ( "host" => "127.0.0.1", '
            f'"port" => {dead_port}{local} ) ),\n'
            f'    "{prefix}" => ( ( "host" => "127.0.0.1", "port" => {port}, '
            f'"read-timeout" => {read_timeout}{local}{extra} ) ) )\n')


def server_conf(backends, read_timeout, workers=1):
    """backends: gateway name -> FaultBackend."""
    mods = ", ".join(f'"{GATEWAYS[g][1]}"' for g in backends)
    out = f"server.modules = ( {mods} )\nserver.max-worker = {workers}\n"
    for g, b in backends.items():
        out += gateway_conf(g, b.port, harness.free_port(), read_timeout)
    return out


class Outcome:
    """What a client got: status (None: nothing), body, complete (the framing was honoured),
    closed (the server closed the connection afterwards or instead)."""

    def __init__(self, status, body, complete, closed, resp=None):
        self.status, self.body, self.complete, self.closed = status, body, complete, closed
        self.resp = resp

    def header(self, name):
        return self.resp.header(name) if self.resp else None

    def kind(self):
        if self.status is None:
            return "nothing"
        if not self.complete:
            return "aborted"
        return self.status

    def __repr__(self):
        return (f"<status {self.status} complete {self.complete} closed {self.closed} "
                f"body {len(self.body or b'')} bytes>")


def read_outcome(sock, buf=b"", timeout=30.0, method="GET"):
    """Read one response off sock: (Outcome, bytes after it)."""
    deadline = time.monotonic() + timeout
    closed = False
    while True:
        try:
            resp, used = harness.parse_response(buf, 0, method, eof=False)
            if 100 <= resp.status < 200:
                buf = buf[used:]
                continue
            return Outcome(resp.status, resp.body, True, False, resp), buf[used:]
        except harness.Incomplete:
            pass
        if closed:
            status = int(buf[9:12]) if buf.startswith(b"HTTP/1.") and len(buf) >= 12 else None
            return Outcome(status, None, False, True), b""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestFailure(f"no answer within {timeout}s; have {buf[:300]!r}")
        sock.settimeout(left)
        try:
            b = sock.recv(65536)
        except ConnectionResetError:
            b = b""
        except socket.timeout:
            continue
        if not b:
            closed = True
        buf += b


def request(port, path, sock=None, timeout=30.0, method="GET", body=b""):
    """A request kept alive, on sock or a new connection (closed afterwards): an Outcome."""
    own = sock is None
    if own:
        sock = harness.connect(port, timeout=timeout)
    try:
        try:
            sock.sendall(harness.build_request(path, method=method, body=body))
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered before the body was in: the answer is still to be read
        out, _ = read_outcome(sock, timeout=timeout, method=method)
        return out
    finally:
        if own:
            sock.close()


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def settled_fd_count(pid, timeout=10.0):
    """The descriptor count once it stops changing (the server closes what it let go of after
    its current batch of events)."""
    last, since = fd_count(pid), time.monotonic()
    deadline = since + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
        n = fd_count(pid)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= 0.3:
            return n
    return last


def wait_fds(pid, want, timeout=10.0):
    """Wait for the server's descriptor count to come back to want; fail with the list."""
    deadline = time.monotonic() + timeout
    while fd_count(pid) != want:
        if time.monotonic() >= deadline:
            fds = []
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    fds.append(f"{fd} -> {os.readlink(f'/proc/{pid}/fd/{fd}')}")
                except OSError:
                    pass
            raise TestFailure(f"the server holds {fd_count(pid)} descriptors, {want} at the "
                              f"start:\n  " + "\n  ".join(sorted(fds)))
        time.sleep(0.05)


# ---- the soak ------------------------------------------------------------------------------

# How often each fault is drawn.
WEIGHTS = {"ok": 40, "slow-ok": 8, "refuse": 4, "close-before-head": 5, "reset-before-head": 5,
           "reset-reading-body": 3, "garbage-head": 5, "huge-head": 4, "stall-head": 2, "reset-mid-body": 5,
           "close-mid-body": 5, "stall-body": 2, "exit": 1}


def plan(n, seed):
    """n (gateway, fault, answer size, request body size or None for a GET) from the seed."""
    rnd = random.Random(seed)
    faults = list(WEIGHTS)
    weights = [WEIGHTS[f] for f in faults]
    out = []
    for _ in range(n):
        g = rnd.choice(list(GATEWAYS))
        f = rnd.choices(faults, weights)[0]
        size = rnd.choice((0, 3, 1000, 70000, 300000)) if f in ("ok", "slow-ok") else \
            rnd.choice((1000, 70000, 300000))
        body = rnd.choice((0, 1, 5000, 200000)) if rnd.random() < 0.3 else None
        out.append((g, f, size, body))
    return out


def expected_ok(fault, out, size, sent=0):
    """Is out what fault calls for, sent request body bytes? (None: yes; else why not.)"""
    want = EXPECTED[fault]
    if out.kind() == 200 and out.header("X-Got") != str(sent):
        return f"the backend got {out.header('X-Got')} of {sent} request body bytes"
    if out.kind() == 200 and fault not in ("ok", "slow-ok"):
        return f"a complete 200 for {fault}: a short answer passed as whole"
    if out.kind() == 200 and out.body != fill(size):
        return f"a 200 whose body is not the backend's: {len(out.body)} of {size} bytes"
    if out.kind() not in want:
        return f"want {' or '.join(map(str, want))}, got {out!r}"
    if out.kind() == "aborted" and out.status != 200:
        return f"a cut answer that is not the backend's 200: {out!r}"
    return None


def soak(port, backends, requests, seed, clients):
    """Run the plan; returns (counts, failures). A backend that exits takes the requests it
    has in flight with it: an error status or a cut answer where another was due is tolerated
    up to the requests in flight at each exit; a complete 200 that is not the backend's whole
    answer, or no answer, never is."""
    work = plan(requests, seed)
    counts = collections.Counter()
    failures = []
    exits = collections.Counter()
    collateral = collections.Counter()
    lock = threading.Lock()

    def one(i):
        g, fault, size, body = work[i]
        path = f"{GATEWAYS[g][0]}fault/{fault}/{i}?n={size}"
        if body is None:
            out = request(port, path, timeout=60)
        else:
            out = request(port, path, timeout=60, method="POST", body=fill(body))
        why = expected_ok(fault, out, size, body or 0)
        with lock:
            counts[(g, fault, out.kind())] += 1
            exits[g] += fault == "exit"
            if why and out.kind() in (502, 503, 504, "aborted"):
                collateral[g] += 1
            elif why:
                failures.append(f"#{i} {g} {fault} n={size} body={body}: {why}")

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    for g, n in collateral.items():
        if n > exits[g] * clients:
            failures.append(f"{g}: {n} answers not the ones asked for, with {exits[g]} backend "
                            f"exits and {clients} clients")
    return counts, failures


def summary(counts):
    lines = []
    by_fault = collections.defaultdict(collections.Counter)
    for (g, fault, kind), n in counts.items():
        by_fault[(fault, g)][kind] += n
    for (fault, g) in sorted(by_fault):
        kinds = ", ".join(f"{k} x{n}" for k, n in sorted(by_fault[(fault, g)].items(),
                                                          key=lambda kv: str(kv[0])))
        lines.append(f"  {fault:<18} {g:<8} {kinds}")
    return lines


def run_soak(requests, seed, clients, read_timeout=1, workers=2, log=print):
    """Start the backends and a server, soak, check descriptors; raises TestFailure."""
    backends = {g: FaultBackend(GATEWAYS[g][2]) for g in GATEWAYS}
    try:
        with harness.Server(server_conf(backends, read_timeout, workers)) as s:
            for g in GATEWAYS:
                out = request(s.port, f"{GATEWAYS[g][0]}warm-up")
                check(out.kind() == 200, f"{g} does not answer: {out!r}\n{s.errorlog[-2000:]}")
            for b in backends.values():
                b.restart()
            start_fds = settled_fd_count(s.pid)
            t0 = time.monotonic()
            counts, failures = soak(s.port, backends, requests, seed, clients)
            took = time.monotonic() - t0
            for b in backends.values():
                b.restart()
            wait_fds(s.pid, start_fds, timeout=15)
            end_fds = fd_count(s.pid)
            for g in GATEWAYS:
                out = request(s.port, f"{GATEWAYS[g][0]}after")
                if out.kind() != 200:
                    failures.append(f"{g} does not answer after the soak: {out!r}")
            log(f"{requests} requests, seed {seed}, {clients} clients, {took:.1f} s")
            log("\n".join(summary(counts)))
            log(f"descriptors: {start_fds} at the start, {end_fds} at the end")
            if failures:
                raise TestFailure(f"{len(failures)} wrong answers:\n  " +
                                  "\n  ".join(failures[:30]) + "\n" + s.errorlog[-3000:])
            return counts
    finally:
        for b in backends.values():
            b.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--asan", action="store_true")
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--clients", type=int, default=16)
    opts = ap.parse_args()
    seed = opts.seed if opts.seed is not None else random.randrange(1 << 31)
    print(f"seed {seed}", flush=True)
    harness.BIN = os.path.abspath(opts.bin)
    harness.ASAN = opts.asan
    try:
        run_soak(opts.requests, seed, opts.clients)
    except TestFailure as e:
        print(f"FAILED: {e}", flush=True)
        return 1
    finally:
        stray = harness.kill_strays()
        if stray:
            print(f"killed leftover processes: {stray}")
    print("no sanitizer report; soak passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
