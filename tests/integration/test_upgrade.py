"""Binary upgrade on SIGUSR2: the new process takes the listening sockets, the old one stops
gracefully, and no request fails in between."""

import os
import signal
import socket
import threading
import time

import harness
from harness import Server, check, eq, get, poll

UPGRADE = "binary upgrade on SIGUSR2 is lux's own (nginx's signal)"
FILES = {"f.txt": "hello\n"}


def read_pid(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return int(text) if text else None
    except (FileNotFoundError, ValueError):
        return None


def running(pid):
    """Alive and not a zombie waiting for a parent that is not the test."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def stop_pid(pid):
    """Stop a server process the test did not start itself (the upgrade's), by PID."""
    if not running(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5 * harness.sanitizer_slowdown()
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if running(pid):
        os.kill(pid, signal.SIGKILL)


class Load:
    """Clients requesting a file in a loop, each request on a new connection."""

    def __init__(self, port, clients=4):
        self.port = port
        self.ok = 0
        self.failures = []
        self.servers = set()
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]

    def one(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as c:
            c.sendall(b"GET /f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data, closed = harness.read_all(c, timeout=10)
        r = harness.parse_one(data)
        if r.status != 200 or r.body != b"hello\n":
            raise harness.TestFailure(f"{r.status} {r.body[:60]!r}")

    def run(self):
        while not self.done.is_set():
            try:
                self.one()
                with self.lock:
                    self.ok += 1
            except Exception as e:  # every kind of failure counts
                with self.lock:
                    self.failures.append(f"{type(e).__name__}: {e}")

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        for t in self.threads:
            t.join(30)


@harness.serial
@harness.lux_only(UPGRADE)
def test_upgrade_under_load_loses_no_request():
    conf = 'server.pid-file = "@TMP@/lux.pid"\nserver.max-worker = 2\n'
    new_pid = None
    with Server(conf, files=FILES) as s:
        pid_path = os.path.join(s.tmp, "lux.pid")
        poll(lambda: read_pid(pid_path) == s.pid, what="the pid file")
        try:
            with Load(s.port) as load:
                time.sleep(1.0)
                before = load.ok
                s.signal(signal.SIGUSR2)
                new_pid = poll(lambda: (read_pid(pid_path) or s.pid) != s.pid and
                               read_pid(pid_path), timeout=10 * harness.sanitizer_slowdown(),
                               what="the pid file to name the new process")
                eq(s.wait_exit(10 * harness.sanitizer_slowdown()), 0, "old process exit status")
                time.sleep(2.0)
            eq(load.failures[:5], [], f"failed requests ({len(load.failures)} of "
                                      f"{load.ok + len(load.failures)})")
            check(before > 0 and load.ok > before, f"requests served: {before}, then {load.ok}")
            check(running(new_pid), "the new process is not running")
            eq(read_pid(pid_path), new_pid, "the pid file after the upgrade")
            eq(os.readlink(f"/proc/{new_pid}/exe"), os.path.realpath(harness.BIN),
               "the new process runs the binary")
            eq(get(s.port, "/f.txt").status, 200, "served by the new process")
            log = s.errorlog
            check(f"pid {new_pid} serves now" in log, "the old process logged the handover")
        finally:
            if new_pid:
                stop_pid(new_pid)
    if new_pid:
        check(not running(new_pid), "the new process did not stop")


@harness.serial
@harness.lux_only(UPGRADE)
def test_upgrade_keeps_unix_socket_and_pid_file():
    conf = ('server.pid-file = "@TMP@/lux.pid"\n$SERVER["socket"] == "unix:@TMP@/lux.sock" {}\n'
            'server.max-worker = 1\n')
    new_pid = None
    with Server(conf, files=FILES) as s:
        pid_path = os.path.join(s.tmp, "lux.pid")
        sock = os.path.join(s.tmp, "lux.sock")
        poll(lambda: harness.unix_accepts(sock), what="the unix socket")
        s.signal(signal.SIGUSR2)
        try:
            new_pid = poll(lambda: (read_pid(pid_path) or s.pid) != s.pid and read_pid(pid_path),
                           timeout=10 * harness.sanitizer_slowdown(), what="the new pid file")
            s.wait_exit(10 * harness.sanitizer_slowdown())
            check(os.path.exists(pid_path), "the old process removed the new one's pid file")
            check(harness.unix_accepts(sock), "the unix socket is gone after the upgrade")
            eq(get(s.port, "/f.txt").status, 200, "TCP still served")
        finally:
            if new_pid:
                stop_pid(new_pid)
    if new_pid:
        check(not os.path.exists(sock), "the new process left its unix socket behind")


@harness.lux_only(UPGRADE)
def test_failed_upgrade_keeps_serving():
    """A new binary that does not start (here: the config no longer loads) leaves the old
    process serving, pid file and all."""
    conf = 'server.pid-file = "@TMP@/lux.pid"\n'
    with Server(conf, files=FILES) as s:
        pid_path = os.path.join(s.tmp, "lux.pid")
        poll(lambda: read_pid(pid_path) == s.pid, what="the pid file")
        harness.write_file(s.conf_path, "not a config\n")
        s.signal(signal.SIGUSR2)
        poll(lambda: "did not start serving" in s.errorlog,
             timeout=10 * harness.sanitizer_slowdown(), what="the failed upgrade to be logged")
        check(s.alive(), "the old process stopped")
        eq(read_pid(pid_path), s.pid, "the pid file")
        eq(get(s.port, "/f.txt").status, 200, "still served")
