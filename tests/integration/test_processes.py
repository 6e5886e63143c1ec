"""Processes and logs: -1 stops on a signal, children start with default signal handling, a
stalled piped logger never stalls the server."""

import os
import re
import signal
import socket
import subprocess
import time

import harness
from harness import (Conn, Server, TempDir, TestFailure, check, eq, lux_only, parse_one, poll,
                     read_all, sanitizer_env, sanitizer_report, track)

# Signals lux blocks in its main thread or ignores, which a child must not inherit.
WATCHED = {"SIGHUP": 1, "SIGINT": 2, "SIGUSR1": 10, "SIGPIPE": 13, "SIGTERM": 15, "SIGCHLD": 17}
SHOW_SIGNALS = "grep -E '^Sig(Blk|Ign):' /proc/self/status"
BIG = os.urandom(1 << 20) * 8  # 8 MiB: more than the socket buffers hold


def signal_masks(path):
    """{"SigBlk": mask, "SigIgn": mask} from the status lines a child wrote, or None."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    masks = dict(re.findall(r"^(Sig\w+):\s*([0-9a-f]+)$", text, re.M))
    if set(masks) != {"SigBlk", "SigIgn"}:
        return None
    return {k: int(v, 16) for k, v in masks.items()}


def check_default_signals(path, who):
    masks = poll(lambda: signal_masks(path), 10, what=f"{who} to report its signal masks")
    for field in ("SigBlk", "SigIgn"):
        bad = [name for name, num in WATCHED.items() if masks[field] & (1 << (num - 1))]
        check(not bad, f"{who} started with {', '.join(bad)} in {field}")


# ---- -1: one connection on stdin ----------------------------------------------------------------

# The keep-alive timeout outlasts the tests: only the signal may end the connection.
MINIMAL = 'server.document-root = "{root}"\nserver.port = 8080\nserver.max-keep-alive-idle = 60\n'


def start_oneshot(tmp):
    """lux -1 with a fresh connection as stdin; returns (process, client socket, stderr file)."""
    os.makedirs(os.path.join(tmp.path, "www"), exist_ok=True)
    tmp.write("www/big.bin", BIG)
    conf = tmp.write("lux.conf", MINIMAL.format(root=os.path.join(tmp.path, "www")))
    cli, srv_side = harness.connected_pair()
    errf = open(os.path.join(tmp.path, "stderr"), "w+b")
    with srv_side:
        proc = track(subprocess.Popen([harness.BIN, "-D", "-1", "-f", conf], stdin=srv_side,
                                      stdout=subprocess.DEVNULL, stderr=errf,
                                      env=sanitizer_env()))
    return proc, cli, errf


def exit_status(proc, timeout):
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"still running {timeout}s after the signal") from None


def finish_oneshot(proc, cli, errf):
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    cli.close()
    errf.seek(0)
    rep = sanitizer_report(errf.read().decode("utf-8", "replace"))
    errf.close()
    check(rep is None, f"sanitizer report:\n{rep}")


def oneshot_stops_on(sig):
    with TempDir() as tmp:
        proc, cli, errf = start_oneshot(tmp)
        try:
            cli.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
            eq(read_response(cli).status, 404, "status of the first request")
            proc.send_signal(sig)
            exit_status(proc, 5)  # lighttpd exits 1 with a connection open, lux 0
            _, closed = read_all(cli, 5)
            check(closed, "the connection stayed open after lux exited")
        finally:
            finish_oneshot(proc, cli, errf)


def read_response(sock):
    """One response on a connection that stays open."""
    buf = b""
    while True:
        try:
            return harness.parse_response(buf, 0, "GET", eof=False)[0]
        except harness.Incomplete:
            data = sock.recv(65536)
            check(data, f"connection closed mid-response; have {buf[:200]!r}")
            buf += data


def test_oneshot_stops_on_sigterm():
    oneshot_stops_on(signal.SIGTERM)


def test_oneshot_stops_on_sigint():
    oneshot_stops_on(signal.SIGINT)


@lux_only("lighttpd -1 cuts the response in flight on SIGINT")
def test_oneshot_sigint_finishes_the_response():
    with TempDir() as tmp:
        proc, cli, errf = start_oneshot(tmp)
        try:
            cli.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            cli.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            first = cli.recv(16384)
            check(first.startswith(b"HTTP/1.1 200"), f"bad start {first[:60]!r}")
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
            rest, closed = read_all(cli, 20)
            check(closed, "the connection was not closed after the response")
            r = parse_one(first + rest)
            eq(len(r.body), len(BIG), "body length")
            exit_status(proc, 5)
        finally:
            finish_oneshot(proc, cli, errf)


# ---- children ---------------------------------------------------------------------------------

def test_piped_error_log_starts_with_default_signals():
    conf = (f'server.errorlog = "|{SHOW_SIGNALS} > @TMP@/masks; exec cat > /dev/null"\n')
    with Server(harness.base_conf(["server.errorlog"]) + conf, base=False) as s:
        check_default_signals(os.path.join(s.tmp, "masks"), "the piped error log")


def test_piped_access_log_starts_with_default_signals():
    conf = ('server.modules = ("mod_accesslog")\n'
            f'accesslog.filename = "|{SHOW_SIGNALS} > @TMP@/masks; exec cat > /dev/null"\n')
    with Server(conf) as s:
        check_default_signals(os.path.join(s.tmp, "masks"), "the piped access log")


def test_include_shell_on_reload_starts_with_default_signals():
    conf = f'include_shell "{SHOW_SIGNALS} > @TMP@/masks"\n'
    with Server(conf, files={"f.txt": "x\n"}) as s:
        masks = os.path.join(s.tmp, "masks")
        poll(lambda: signal_masks(masks), what="include_shell at start-up")
        os.unlink(masks)
        s.reload(conf)  # run again by the main thread, which waits for signals
        check_default_signals(masks, "include_shell on reload")
        check(s.alive(), "the server died on reload")


# ---- a stalled piped logger -------------------------------------------------------------------

# A logger that never reads its input, and leaves when lux does (its parent goes away).
STALLED = "while kill -0 $PPID 2>/dev/null; do sleep 0.2; done"
PAD = "p" * 1000


@lux_only("lighttpd writes its access log with blocking writes: a stalled logger stalls it")
def test_stalled_piped_access_log_does_not_stall_requests():
    conf = ('server.modules = ("mod_accesslog")\nserver.max-worker = 2\n'
            f'accesslog.filename = "|{STALLED}"\n'
            'accesslog.format = "%h %s %{X-Pad}i"\n')
    with Server(conf, files={"f.txt": "x\n"}) as s:
        # 2000 lines of 1 KiB: far more than the pipe and the workers' buffers hold.
        start = time.monotonic()
        for n in range(4):  # 500 requests a connection: under server.max-keep-alive-requests
            with Conn(s.port) as c:
                for i in range(500):
                    r = c.request("/f.txt", headers={"X-Pad": PAD})
                    eq(r.status, 200, f"request {i} on connection {n}")
        check(time.monotonic() - start < 60, "requests slowed to a crawl")
        text = poll(lambda: re.search(r"access log \|.*: (\d+) line\(s\) dropped", s.errorlog),
                    10, what="a dropped-lines report in the error log")
        check(int(text.group(1)) > 0, f"report {text.group(0)!r}")
        eq(harness.get(s.port, "/f.txt").status, 200, "still serving")


@lux_only("lighttpd writes its error log with blocking writes: a stalled logger stalls it")
def test_stalled_piped_error_log_does_not_stall_requests():
    conf = (f'server.errorlog = "|{STALLED}"\n'
            'debug.log-request-header = "enable"\n')  # a few error-log lines per request
    with Server(harness.base_conf(["server.errorlog"]) + conf, base=False,
                files={"f.txt": "x\n"}) as s:
        for n in range(4):
            with Conn(s.port) as c:
                for i in range(500):
                    r = c.request("/f.txt", headers={"X-Pad": PAD})
                    eq(r.status, 200, f"request {i} on connection {n}")
