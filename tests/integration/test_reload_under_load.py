"""Reloads (SIGUSR1) and log reopening (SIGHUP) while two workers serve.

Connections kept open across reloads stay on the generation they started with, new connections
get the newest one, and every request is answered and logged. Against the ThreadSanitizer build
(run.py --tsan) this is the probe for races between the main thread building, publishing and
reopening generations and logs, and the workers serving from them, logging (a missing file is
an error log line) and freeing the old generations.
"""

import os
import re
import signal
import threading

from harness import Conn, Server, check, eq, get, lux_only, poll

FILES = {"f.txt": "x\n"}
RELOADS = 5
BURST = 4  # connections opened at once: one worker alone cannot take them all
SLOW = 20.0  # sanitized builds on a busy machine


def conf(version):
    return ("server.max-worker = 2\nserver.max-keep-alive-idle = 30\n"
            "server.max-keep-alive-requests = 1000000\n"  # held connections stay open
            'debug.log-file-not-found = "enable"\n'
            'server.modules = ("mod_accesslog")\n'
            'accesslog.filename = "@TMP@/access.log"\naccesslog.format = "%U %s"\n'
            f'server.tag = "v{version}"\n')


def connections_per_worker(pid):
    """For each epoll instance of the process (one per worker), the client sockets it watches.

    A listening socket is watched by every worker; a connection belongs to exactly one.
    """
    watched = {}
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                tfds = re.findall(r"^tfd:\s*(\d+)", f.read(), re.M)
        except OSError:
            continue
        if tfds:
            watched[fd] = set(tfds)
    shared = set.intersection(*watched.values()) if watched else set()
    counts = []
    for tfds in watched.values():
        own = [t for t in tfds - shared if os.readlink(f"/proc/{pid}/fd/{t}").startswith("socket:")]
        counts.append(len(own))
    return counts


def open_burst(port, n):
    """n keep-alive connections opened at the same moment, each after one request."""
    conns, errors = [], []
    start = threading.Barrier(n)
    lock = threading.Lock()

    def one():
        start.wait()
        try:
            c = Conn(port)
            eq(c.request("/f.txt").status, 200, "status")
        except Exception as e:  # noqa: BLE001 — reported by the caller
            errors.append(e)
            return
        with lock:
            conns.append(c)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for c in conns:
            c.close()
        raise errors[0]
    return conns


def open_on_two_workers(s):
    """Keep-alive connections held by at least two workers."""
    held = []

    def spread():
        held.extend(open_burst(s.port, BURST))
        return sum(1 for n in connections_per_worker(s.pid) if n > 0) >= 2

    try:
        poll(spread, SLOW, what="connections on two workers")
    except BaseException:
        for c in held:
            c.close()
        raise
    return held


class Load:
    """Client threads: one per held connection, requesting on it again and again (its tags in
    held_tags), and fresh-connection clients asking for a file and a missing one in turn (the
    tags each saw, in order, in fresh_tags)."""

    def __init__(self, port, held, fresh_clients=2):
        self.port = port
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.errors = []
        self.requests = 0
        self.missing = 0
        self.held_tags = set()
        self.fresh_tags = [[] for _ in range(fresh_clients)]
        self.progress = [0] * (len(held) + fresh_clients)
        self.threads = [threading.Thread(target=self._held, args=(i, c))
                        for i, c in enumerate(held)]
        self.threads += [threading.Thread(target=self._fresh, args=(len(held) + i, tags))
                         for i, tags in enumerate(self.fresh_tags)]

    def _served(self, slot, r, status=200):
        eq(r.status, status, "status")
        with self.lock:
            self.requests += 1
            self.missing += status == 404
            self.progress[slot] += 1
        return r.header("Server")

    def _run(self, slot, step):
        try:
            while not self.stop_flag.is_set():
                step(slot)
        except Exception as e:  # noqa: BLE001 — collected and reported by the test
            with self.lock:
                self.errors.append(e)

    def _held(self, slot, conn):
        def step(i):
            tag = self._served(i, conn.request("/f.txt"))
            with self.lock:
                self.held_tags.add(tag)
        self._run(slot, step)

    def _fresh(self, slot, tags):
        def step(i):
            tags.append(self._served(i, get(self.port, "/f.txt")))
            tags.append(self._served(i, get(self.port, "/missing.txt"), 404))
        self._run(slot, step)

    def start(self):
        for t in self.threads:
            t.start()

    def wait_all_progress(self):
        """Every client has had at least one more request answered (or one failed)."""
        with self.lock:
            before = list(self.progress)

        def moved():
            with self.lock:
                return self.errors or all(a > b for a, b in zip(self.progress, before))
        poll(moved, SLOW, what="every client to be served again")

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join()


def fresh_get(s, counter):
    r = get(s.port, "/f.txt")
    counter[0] += 1
    return r.header("Server")


def log_lines(s):
    try:
        with open(os.path.join(s.tmp, "access.log")) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


@lux_only("server.max-worker threads and reloading in the running process are lux's")
def test_reloads_while_two_workers_serve():
    with Server(conf(0), files=FILES) as s:
        held = open_on_two_workers(s)
        load = Load(s.port, held)
        probes = [0]
        try:
            load.start()
            for v in range(1, RELOADS + 1):
                load.wait_all_progress()
                s.reload(conf(v))
                poll(lambda: fresh_get(s, probes) == f"v{v}", SLOW, what=f"generation v{v}")
                s.signal(signal.SIGHUP)
            load.wait_all_progress()
        finally:
            load.stop()
            for c in held:
                c.close()
        check(not load.errors, f"client errors: {load.errors[:3]}")
        eq(load.held_tags, {"v0"}, "tags on connections opened before the reloads")
        for tags in load.fresh_tags:
            versions = [int(t[1:]) for t in tags]
            eq(versions, sorted(versions), "generations seen by one client's new connections")
        total = len(held) + load.requests + probes[0]
        lines = poll(lambda: len(log_lines(s)) >= total and log_lines(s), SLOW,
                     what=f"{total} access log lines")
        eq(len(lines), total, "access log lines")
        eq(lines.count("/missing.txt 404"), load.missing, "access log lines for the missing file")
        eq(lines.count("/f.txt 200"), total - load.missing, "access log lines for the file")
        check(load.missing > 0, "no request for a missing file")
        check("missing.txt" in s.errorlog, "workers wrote no error log line")
