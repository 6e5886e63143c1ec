"""systemd integration: sd_notify over NOTIFY_SOCKET (path and abstract), the units verify."""

import os
import shutil
import signal
import socket
import subprocess
import time

import harness
from harness import Server, check, contains, eq, get, poll

NOTIFY = "sd_notify is lux's own (lighttpd 1.4.69 here is built without systemd support)"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Listener:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.messages = []

    def close(self):
        self.sock.close()

    def next(self, timeout=5.0):
        """The next datagram as a dict of its KEY=value lines."""
        self.sock.settimeout(timeout * harness.sanitizer_slowdown())
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            raise harness.TestFailure(f"no notification within {timeout}s; "
                                      f"had {self.messages}") from None
        self.messages.append(data)
        return dict(line.split("=", 1) for line in data.split("\n") if "=" in line)


@harness.serial
@harness.lux_only(NOTIFY)
def test_notify_ready_reload_stop_in_order():
    with harness.TempDir() as t:
        path = os.path.join(t.path, "notify.sock")
        sd = Listener(path)
        try:
            with Server(files={"f.txt": "x\n"}, env={"NOTIFY_SOCKET": path}) as s:
                ready = sd.next()
                eq(ready.get("READY"), "1", "first message")
                contains(ready.get("STATUS", ""), "serving", "STATUS with READY")
                eq(get(s.port, "/f.txt").status, 200, "serving once READY=1 came")

                before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
                s.signal(signal.SIGUSR1)
                reloading = sd.next()
                after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
                eq(reloading.get("RELOADING"), "1", "first message of a reload")
                stamp = int(reloading.get("MONOTONIC_USEC", "0"))
                check(before <= stamp <= after,
                      f"MONOTONIC_USEC {stamp} not between {before} and {after}")
                eq(sd.next().get("READY"), "1", "message after the reload")

                s.signal(signal.SIGINT)
                eq(sd.next().get("STOPPING"), "1", "message at a graceful stop")
                eq(s.wait_exit(5 * harness.sanitizer_slowdown()), 0, "exit status")
            eq(len(sd.messages), 4, f"messages in all: {sd.messages}")
        finally:
            sd.close()


@harness.lux_only(NOTIFY)
def test_notify_failed_reload_is_ready_again():
    with harness.TempDir() as t:
        path = os.path.join(t.path, "notify.sock")
        sd = Listener(path)
        try:
            with Server(env={"NOTIFY_SOCKET": path}) as s:
                eq(sd.next().get("READY"), "1", "first message")
                s.reload("this is not a config\n")
                eq(sd.next().get("RELOADING"), "1", "reload start")
                again = sd.next()
                eq(again.get("READY"), "1", "READY after a failed reload")
                contains(again.get("STATUS", ""), "reload failed", "STATUS says so")
        finally:
            sd.close()


@harness.lux_only(NOTIFY)
def test_notify_abstract_socket():
    name = f"luxit-notify-{os.getpid()}-{time.monotonic_ns()}"
    sd = Listener("\0" + name)
    try:
        with Server(env={"NOTIFY_SOCKET": "@" + name}) as s:
            eq(sd.next().get("READY"), "1", "READY=1 over an abstract socket")
            s.signal(signal.SIGTERM)
            eq(sd.next().get("STOPPING"), "1", "STOPPING=1 at a stop")
    finally:
        sd.close()


@harness.lux_only(NOTIFY)
def test_no_notify_socket_is_fine():
    """Without NOTIFY_SOCKET nothing is sent and nothing is logged about it."""
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    with Server(files={"f.txt": "x\n"}, env=env) as s:
        eq(get(s.port, "/f.txt").status, 200, "status")
        check("notify" not in s.errorlog.lower(), "the error log mentions notification")


def install_units(destdir):
    cp = subprocess.run(["make", "--no-print-directory", "-s", "-o", "build/lux", "install",
                         f"DESTDIR={destdir}", "PREFIX=/usr"],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)
    eq(cp.returncode, 0, f"make install ({cp.stderr.strip()[-600:]})")
    return os.path.join(destdir, "usr/lib/systemd/system")


@harness.lux_only("lux's systemd units")
def test_units_verify():
    if not shutil.which("systemd-analyze"):
        raise harness.Skip("systemd-analyze is not installed")
    with harness.TempDir() as t:
        units = install_units(t.path)
        # The installed unit names /usr/sbin/lux, which verify wants to exist: point it at the
        # DESTDIR copy. --man=no: the pages are not installed where man would look.
        sbin = os.path.join(t.path, "usr/sbin")
        service = os.path.join(units, "lux.service")
        with open(service) as f:
            text = f.read().replace("/usr/sbin/", sbin + "/")
        with open(service, "w") as f:
            f.write(text)
        cp = subprocess.run(["systemd-analyze", "verify", "--man=no", service,
                             os.path.join(units, "lux.socket")],
                            capture_output=True, text=True, timeout=120, cwd=units)
        eq((cp.returncode, cp.stderr.strip()), (0, ""), "systemd-analyze verify")
        for key in ("Type=notify", "ExecReload=/bin/kill -USR1 $MAINPID", "NoNewPrivileges=yes",
                    "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                    "AmbientCapabilities=CAP_NET_BIND_SERVICE", "ReadWritePaths=/var/log/lux",
                    "LimitNOFILE="):
            contains(text, key, "lux.service")


def postrotate_script(snippet):
    return snippet.split("postrotate\n", 1)[1].split("endscript", 1)[0]


@harness.lux_only("lux's logrotate snippet")
def test_logrotate_snippet_reopens_logs():
    """After a rotation the snippet's postrotate script makes lux write to a new error log
    (run with sh: what logrotate would run, without needing logrotate)."""
    with Server('server.pid-file = "@TMP@/lux.pid"\n') as s:
        with open(os.path.join(ROOT, "deploy/logrotate/lux")) as f:
            snippet = f.read().replace("/var/log/lux", s.tmp).replace("/run/lux", s.tmp)
        contains(snippet, f"{s.tmp}/*.log", "the snippet rotates the log directory")
        poll(lambda: os.path.exists(os.path.join(s.tmp, "lux.pid")), what="the pid file")
        log = s.errorlog_path
        os.rename(log, log + ".1")
        cp = subprocess.run(["sh", "-ec", postrotate_script(snippet)], capture_output=True,
                            text=True, timeout=30)
        eq(cp.returncode, 0, f"postrotate ({cp.stderr.strip()})")
        poll(lambda: os.path.exists(log), what="a new error log")
        s.signal(signal.SIGUSR1)
        poll(lambda: "configuration reloaded" in harness.read_text(log),
             what="lux writing to the new error log")
        check("lux started" not in harness.read_text(log), "the new log holds old lines")
