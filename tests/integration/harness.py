"""Integration-test harness: start the server binary with a per-test config and talk to it.

Everything a test creates lives in one temporary directory that is removed afterwards; every
server process is stopped by PID (SIGTERM, then SIGKILL) when its test ends, pass or fail; every
socket has a timeout.
"""

import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

# Set by run.py before any test runs.
BIN = None
# The test binary: lux with the test-only modules (tests/modules/) linked in. None: tests that
# need it skip.
TEST_BIN = None
ASAN = False
TSAN = False

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
# Data races, lock-order inversions, signal-unsafe calls in handlers, and TSan's own fatal errors.
TSAN_MARKERS = ("ThreadSanitizer",)
START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0
IO_TIMEOUT = 5.0


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    """Raised by a test (or a decorator) to skip itself with a reason."""


# ---------------------------------------------------------------------------------------------
# Test metadata (decorators read by run.py)

def is_lighttpd():
    return BIN is not None and "lighttpd" in os.path.basename(BIN)


def lux_only(reason):
    """The behaviour checked is lux's own (stricter than lighttpd, or a feature it lacks)."""
    def deco(fn):
        fn.skip_unless_lux = reason
        return fn
    return deco


def serial(fn):
    """Run alone, after the parallel batch: the test measures timing or process-wide state."""
    fn.serial = True
    return fn


# ---------------------------------------------------------------------------------------------
# Assertions with readable failure details

def check(cond, msg="check failed"):
    if not cond:
        raise TestFailure(msg)


def _short(v, limit=600):
    r = repr(v)
    return r if len(r) <= limit else r[:limit] + f"... ({len(r)} chars)"


def eq(got, want, what="value"):
    if got != want:
        raise TestFailure(f"{what}: got {_short(got)}, want {_short(want)}")


def contains(haystack, needle, what="text"):
    if needle not in haystack:
        shown = haystack if len(haystack) < 600 else haystack[:600] + type(haystack)("...")
        raise TestFailure(f"{what}: {needle!r} not found in {shown!r}")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def poll(cond, timeout=5.0, interval=0.02, what="condition"):
    """Wait until cond() is truthy; return its value or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        val = cond()
        if val:
            return val
        if time.monotonic() >= deadline:
            raise TestFailure(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Ports: chosen below the kernel's ephemeral range so no client socket can hold one, and never
# handed out twice within one run.

_port_lock = threading.Lock()
_ports_used = set()


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with _port_lock:
        for _ in range(1000):
            port = random.randint(20000, 32000)
            if port in _ports_used:
                continue
            s = socket.socket(family, socket.SOCK_STREAM)
            try:
                s.bind((host, port))
            except OSError:
                continue
            finally:
                s.close()
            _ports_used.add(port)
            return port
    raise TestFailure("no free port")


def port_accepts(port, host="127.0.0.1", family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def port_served(port, timeout=2.0):
    """The readiness probe: connect, say nothing, and wait for the server to close. A probe
    that only connected could still be waiting in the accept queue when a test starts, and be
    counted by the test's limits and metrics."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        return False
    try:
        s.shutdown(socket.SHUT_WR)
        s.settimeout(timeout)
        while s.recv(4096):
            pass
    except OSError:
        pass  # reset or no close in time: the server did accept, which is what matters
    finally:
        s.close()
    return True


def _socket_inodes(pid):
    """The inodes of the sockets process pid holds open."""
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def _listening_inodes(port):
    """The inodes of the TCP sockets listening on port, IPv4 and IPv6."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            col = row.split()
            if col[3] == "0A" and int(col[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(col[9])
    return inodes


def listens_on(pid, port):
    """Does process pid itself listen on port? A probe that only connects can be answered by
    another program that took the port between its pick and the server's bind; the server then
    exits "in use" while the test talks to a stranger."""
    return bool(_listening_inodes(port) & _socket_inodes(pid))


def unix_accepts(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def open_connections(port):
    """Server-side TCP connections on a local port that a process may still hold open.

    Read from /proc/net/tcp{,6}: every state except LISTEN, TIME_WAIT and CLOSE.
    """
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state = fields[1], fields[3]
            if int(local.rsplit(":", 1)[1], 16) == port and state not in ("0A", "06", "07"):
                n += 1
    return n


def wait_no_connections(port, timeout=5.0):
    poll(lambda: open_connections(port) == 0, timeout, what=f"connections on port {port} to end")


# ---------------------------------------------------------------------------------------------
# Processes

_live_lock = threading.Lock()
_live = set()


def track(proc):
    """Remember a started process so the runner can kill it if a test leaks it."""
    with _live_lock:
        _live.add(proc)
    return proc


class ReadyApp:
    """A helper program of the tests (a backend), waited for until it prints "ready" and killed
    by PID when the test is done with it (stop, or the end of a with block)."""

    def __init__(self, argv):
        self.proc = track(subprocess.Popen(argv, stdout=subprocess.PIPE,
                                           stderr=subprocess.DEVNULL))
        line = self.proc.stdout.readline()
        check(line.strip() == b"ready", f"{os.path.basename(argv[1])} did not start: {line!r}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def kill_strays():
    """Kill (by PID) every tracked process still running; returns their PIDs."""
    stray = []
    with _live_lock:
        procs = list(_live)
        _live.clear()
    for p in procs:
        if p.poll() is None:
            stray.append(p.pid)
            p.kill()
            p.wait()
    return stray

def sanitizer_env(env=None):
    env = dict(os.environ if env is None else env)
    if ASAN:
        env["ASAN_OPTIONS"] = "halt_on_error=1:detect_leaks=1:abort_on_error=0:log_path=stderr"
        env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
        env["LSAN_OPTIONS"] = "exitcode=23"
    if TSAN:
        # Keep running after a report so a test sees every race of its run, not only the
        # first; the report in stderr fails the test, the exit status is for humans.
        env["TSAN_OPTIONS"] = ("halt_on_error=0:second_deadlock_stack=1:exitcode=66:"
                               "history_size=4:log_path=stderr")
    return env


def sanitized():
    """Built with a sanitizer: its allocator and shadow memory make memory figures meaningless."""
    return ASAN or TSAN


def sanitizer_slowdown():
    """How much longer than usual a sanitized binary may take to start and stop."""
    return 3 if ASAN or TSAN else 1


def sanitizer_report(text):
    """The sanitizer's complaint found in a process's stderr, or None."""
    markers = (SANITIZER_MARKERS if ASAN else ()) + (TSAN_MARKERS if TSAN else ())
    for marker in markers:
        i = text.find(marker)
        if i >= 0:
            return text[max(0, i - 200):i + 3000]
    return None


def run_bin(args, timeout=10, **kw):
    """Run BIN with args to completion; return CompletedProcess with text output."""
    try:
        cp = subprocess.run([BIN] + list(args), capture_output=True, timeout=timeout,
                            env=sanitizer_env(kw.pop("env", None)), **kw)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"{os.path.basename(BIN)} {' '.join(args)} did not finish in {timeout}s")
    cp.stdout = cp.stdout.decode("utf-8", "replace")
    cp.stderr = cp.stderr.decode("utf-8", "replace")
    rep = sanitizer_report(cp.stderr)
    if rep:
        raise TestFailure("sanitizer report:\n" + rep)
    return cp


def curl(args, timeout=10, check_rc=True):
    """Run curl quietly; returns CompletedProcess (bytes stdout, text stderr)."""
    cmd = ["curl", "-sS", "--max-time", str(timeout)] + list(args)
    try:
        cp = subprocess.run(cmd, capture_output=True, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"curl {' '.join(args)} hung")
    cp.stderr = cp.stderr.decode("utf-8", "replace")
    if check_rc and cp.returncode != 0:
        raise TestFailure(f"curl {' '.join(args)} exit {cp.returncode}: {cp.stderr.strip()}")
    return cp


class TempDir:
    """A per-test scratch directory, removed on exit."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="luxit-")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)

    def write(self, rel, content, mode=None):
        return write_file(os.path.join(self.path, rel), content, mode)


def write_file(path, content, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    with open(path, "wb") as f:
        f.write(content)
    if mode is not None:
        os.chmod(path, mode)
    return path


BASE_CONF = """\
server.document-root = "@DOCROOT@"
server.bind = "127.0.0.1"
server.port = @PORT@
server.errorlog = "@TMP@/error.log"
mimetype.assign = (
    ".html" => "text/html",
    ".txt" => "text/plain",
    ".css" => "text/css",
    ".js" => "text/javascript",
    ".png" => "image/png",
    ".json" => "application/json",
    ".bin" => "application/octet-stream",
)
"""


def base_conf(drop=()):
    """BASE_CONF without the lines setting the given keys (to set them differently)."""
    return "".join(line for line in BASE_CONF.splitlines(True)
                   if not any(line.startswith(k + " ") for k in drop))


class Server:
    """One server process with its own config, docroot and logs.

    conf is a config snippet appended to BASE_CONF (or the whole config with base=False).
    Placeholders: @TMP@ (the temp dir), @DOCROOT@, @PORT@, @PORT2@ (a second free port).
    files maps docroot-relative paths to contents. ready says when the server is up: "port"
    (the TCP port accepts), ("unix", path), or a callable given the Server returning truthy.
    wrap(argv) returns (argv, extra Popen keywords) to start the binary through another program.
    """

    def __init__(self, conf="", files=None, base=True, ready="port", args=(), wrap=None,
                 pass_fds=(), env=None, tmp=None, port=None, test_bin=False):
        if test_bin and not TEST_BIN:
            raise Skip("no test binary (--test-bin)")
        self.bin = TEST_BIN if test_bin else BIN
        self.conf_snippet = conf
        self.files = files or {}
        self.base = base
        self.ready = ready
        self.args = list(args)
        self.wrap = wrap
        self.pass_fds = pass_fds
        self.extra_env = env or {}
        self.proc = None
        self.returncode = None
        self._own_tmp = tmp is None
        self.tmp = tmp or tempfile.mkdtemp(prefix="luxit-")
        self.docroot = os.path.join(self.tmp, "www")
        self.conf_path = os.path.join(self.tmp, "lux.conf")
        self.errorlog_path = os.path.join(self.tmp, "error.log")
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.stdout_path = os.path.join(self.tmp, "stdout.log")
        self.fixed_port = port
        self.port = port
        self.port2 = None
        self._stderr = None
        self._stdout = None

    # -- config ---------------------------------------------------------------------------------

    def expand(self, text):
        text = text.replace("@TMP@", self.tmp).replace("@DOCROOT@", self.docroot)
        text = text.replace("@PORT@", str(self.port))
        if "@PORT2@" in text:
            if self.port2 is None:
                self.port2 = free_port()
            text = text.replace("@PORT2@", str(self.port2))
        return text

    def write_conf(self, snippet):
        text = (BASE_CONF + snippet) if self.base else snippet
        write_file(self.conf_path, self.expand(text))

    def url(self, path="/", host="127.0.0.1", port=None):
        return f"http://{host}:{port or self.port}{path}"

    def path(self, rel=""):
        return os.path.join(self.docroot, rel)

    def write(self, rel, content, mode=None):
        """Write a file under the docroot."""
        return write_file(self.path(rel), content, mode)

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def start(self):
        os.makedirs(self.docroot, exist_ok=True)
        for rel, content in self.files.items():
            self.write(rel, content)
        for attempt in range(3):
            self.port = self.fixed_port or free_port()
            self.write_conf(self.conf_snippet)
            if self._spawn():
                return
            if self.fixed_port or "in use" not in self.stderr + self.errorlog:
                break
        raise TestFailure("server did not start:\n" + self.diagnostics())

    def _spawn(self):
        argv = [self.bin, "-D", "-f", self.conf_path] + self.args
        kw = {}
        if self.wrap:
            argv, kw = self.wrap(argv)
        env = sanitizer_env()
        env.update(self.extra_env)
        self._stdout = open(self.stdout_path, "ab")
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._stdout,
                                     stderr=self._stderr, env=env, pass_fds=self.pass_fds,
                                     cwd=self.tmp, **kw)
        track(self.proc)
        deadline = time.monotonic() + START_TIMEOUT * sanitizer_slowdown()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                self._close_files()
                return False
            if self._is_ready():
                return True
            time.sleep(0.01)
        self.stop()
        raise TestFailure("server not ready in time:\n" + self.diagnostics())

    def _is_ready(self):
        if self.ready == "port":
            # a wrapper (a loader, another server) may hold the socket in another process
            return ((self.wrap or listens_on(self.proc.pid, self.port)) and
                    port_served(self.port, timeout=2.0 * sanitizer_slowdown()))
        if isinstance(self.ready, tuple) and self.ready[0] == "unix":
            return unix_accepts(self.ready[1])
        return self.ready(self)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to exit by itself; return its exit status or fail."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure(f"server still running after {timeout}s")
        return self.returncode

    def reload(self, snippet):
        """Rewrite the config (same base, ports and paths) and ask for a reload with SIGUSR1.
        With lux, returns once the error log says the reload is done (or failed): from then on
        new connections get the new generation."""
        def reloads():
            log = self.errorlog
            return log.count("configuration reloaded") + log.count("reload failed")
        before = reloads()
        self.write_conf(snippet)
        self.signal(signal.SIGUSR1)
        if not is_lighttpd():
            poll(lambda: reloads() > before, timeout=START_TIMEOUT * sanitizer_slowdown(),
                 what="the reload to finish")

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.returncode = self.proc.wait(timeout=STOP_TIMEOUT * sanitizer_slowdown())
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.returncode = self.proc.wait()
        else:
            self.returncode = self.proc.returncode
        self._close_files()
        return self.returncode

    def _close_files(self):
        for f in (self._stdout, self._stderr):
            if f:
                f.close()
        self._stdout = self._stderr = None

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
            rep = sanitizer_report(self.stderr)
            if rep:
                raise TestFailure("sanitizer report:\n" + rep)
        finally:
            if self._own_tmp:
                _make_removable(self.tmp)
                shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    # -- output ---------------------------------------------------------------------------------

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @property
    def errorlog(self):
        return self._read(self.errorlog_path)

    @property
    def stderr(self):
        return self._read(self.stderr_path)

    @property
    def stdout(self):
        return self._read(self.stdout_path)

    def diagnostics(self):
        rc = self.proc.poll() if self.proc else None
        out = [f"exit status: {rc}"]
        for name, text in (("stderr", self.stderr), ("errorlog", self.errorlog)):
            if text.strip():
                out.append(f"{name}:\n" + text[-2000:])
        return "\n".join(out)


def _make_removable(top):
    """Tests chmod files to 000 to provoke 403; restore permissions so rmtree can work."""
    for root, dirs, _files in os.walk(top):
        for d in dirs:
            try:
                os.chmod(os.path.join(root, d), 0o755)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# Raw HTTP client

def connect(port, host="127.0.0.1", timeout=IO_TIMEOUT, family=None):
    if family is None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def connect_small_window(port, host="127.0.0.1"):
    """A client with a small receive buffer: a large response stays in flight while it reads."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(IO_TIMEOUT)
    s.connect((host, port))
    return s


def connected_pair():
    """A connected loopback TCP pair (client, server side): a connection to hand to lux -1."""
    ls = socket.socket()
    ls.settimeout(IO_TIMEOUT)
    with ls:
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        cli = socket.create_connection(ls.getsockname(), timeout=IO_TIMEOUT)
        srv_side, _ = ls.accept()
    return cli, srv_side


def read_text(path):
    """A file's text (latin-1), or "" while it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("latin-1")
    except FileNotFoundError:
        return ""


def read_all(s, timeout=IO_TIMEOUT):
    """Read until EOF or timeout; returns (data, closed) — closed is False on timeout."""
    s.settimeout(0.2)
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            if time.monotonic() >= deadline:
                return b"".join(chunks), False
            continue
        except ConnectionResetError:
            return b"".join(chunks), True
        if not b:
            return b"".join(chunks), True
        chunks.append(b)


def raw_ex(port, data, timeout=IO_TIMEOUT, host="127.0.0.1", shut_wr=False):
    """Send bytes on a fresh connection; return (response bytes, closed by server)."""
    with connect(port, host, timeout) as s:
        try:
            s.sendall(data)
            if shut_wr:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_all(s, timeout)


def raw(port, data, timeout=IO_TIMEOUT, **kw):
    """Send bytes on a fresh connection; read until the server closes it or timeout."""
    return raw_ex(port, data, timeout, **kw)[0]


def get(port, path="/", headers=None, method="GET", version="HTTP/1.1", host="localhost",
        body=b""):
    """One request with Connection: close; returns the parsed final Response."""
    req = build_request(path, headers, method, version, host, body, close=True)
    data = raw(port, req)
    resps = parse_responses(data, [method])
    check(resps, f"no response to {method} {path}: {data[:200]!r}")
    return resps[-1]


def build_request(path="/", headers=None, method="GET", version="HTTP/1.1", host="localhost",
                  body=b"", close=False):
    lines = [f"{method} {path} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    for k, v in (headers.items() if isinstance(headers, dict) else (headers or [])):
        lines.append(f"{k}: {v}")
    if body and not any(k.lower() in ("content-length", "transfer-encoding")
                        for k, _ in (headers.items() if isinstance(headers, dict)
                                     else (headers or []))):
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    if isinstance(body, str):
        body = body.encode()
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Conn:
    """A client connection kept open across several requests."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT):
        self.sock = connect(port, host, timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def request(self, path="/", headers=None, method="GET", version="HTTP/1.1",
                host="localhost", body=b""):
        self.send(build_request(path, headers, method, version, host, body))
        return self.response(method)

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            b = self.sock.recv(65536)
        except socket.timeout:
            raise TestFailure(f"no complete response within {self.timeout}s; "
                              f"have {self.buf[:300]!r}") from None
        except ConnectionResetError:
            b = b""
        if not b:
            self.eof = True
        self.buf += b

    def response(self, method="GET", interim=False):
        """Read the next response (skipping 1xx interim ones unless interim=True)."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                resp, used = parse_response(self.buf, 0, method, eof=self.eof)
            except Incomplete:
                if self.eof:
                    raise TestFailure(f"connection closed mid-response; have {self.buf[:300]!r}"
                                      ) from None
                self._fill(deadline)
                continue
            self.buf = self.buf[used:]
            if 100 <= resp.status < 200 and not interim and resp.status != 101:
                continue
            return resp

    def closed_by_server(self, timeout=IO_TIMEOUT):
        """True when the server closes the connection within timeout (unread data is an error)."""
        if self.eof:
            return True
        data, closed = read_all(self.sock, timeout)
        self.buf += data
        if data:
            raise TestFailure(f"unexpected data while waiting for close: {data[:200]!r}")
        return closed


# ---------------------------------------------------------------------------------------------
# HTTP/1.x response parser

class Incomplete(Exception):
    pass


class Response:
    def __init__(self, version, status, reason, headers, body, trailers=()):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value) in wire order
        self.body = body
        self.trailers = list(trailers)

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has(self, name):
        return self.header(name) is not None

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        hs = "".join(f"\n  {k}: {v}" for k, v in self.headers)
        return f"<{self.version} {self.status} {self.reason}{hs}\n  body {len(self.body)} bytes>"


_STATUS_RE = re.compile(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$")


def parse_response(buf, pos=0, method="GET", eof=True):
    """Parse one response at buf[pos:]; returns (Response, end offset) or raises Incomplete.

    eof says the connection has closed, which completes a close-delimited body.
    """
    end = buf.find(b"\r\n\r\n", pos)
    if end < 0:
        raise Incomplete()
    lines = buf[pos:end].split(b"\r\n")
    m = _STATUS_RE.match(lines[0])
    if not m:
        raise TestFailure(f"bad status line {lines[0][:200]!r}")
    version, status = m.group(1).decode(), int(m.group(2))
    reason = (m.group(3) or b"").decode("latin-1")
    headers = []
    for line in lines[1:]:
        k, sep, v = line.partition(b":")
        if not sep:
            raise TestFailure(f"bad header line {line[:200]!r}")
        headers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
    resp = Response(version, status, reason, headers, b"")
    p = end + 4
    if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        return resp, p
    te = resp.header("Transfer-Encoding")
    if te is not None and "chunked" in te.lower():
        resp.body, resp.trailers, p = _dechunk(buf, p)
        return resp, p
    cl = resp.header("Content-Length")
    if cl is not None:
        n = int(cl)
        if len(buf) - p < n:
            raise Incomplete()
        resp.body = buf[p:p + n]
        return resp, p + n
    if not eof:
        raise Incomplete()
    resp.body = buf[p:]
    return resp, len(buf)


def _dechunk(buf, p):
    body = []
    while True:
        eol = buf.find(b"\r\n", p)
        if eol < 0:
            raise Incomplete()
        size = int(buf[p:eol].split(b";")[0].strip(), 16)
        p = eol + 2
        if size == 0:
            break
        if len(buf) < p + size + 2:
            raise Incomplete()
        body.append(buf[p:p + size])
        check(buf[p + size:p + size + 2] == b"\r\n", "chunk not followed by CRLF")
        p += size + 2
    trailers = []
    while True:
        eol = buf.find(b"\r\n", p)
        if eol < 0:
            raise Incomplete()
        line = buf[p:eol]
        p = eol + 2
        if not line:
            return b"".join(body), trailers, p
        k, _, v = line.partition(b":")
        trailers.append((k.decode("latin-1"), v.strip().decode("latin-1")))


def parse_responses(data, methods=None, interim=False):
    """Parse every response in data (a closed connection's bytes), in order.

    methods lists the request methods in order (the last one repeats), which matters for HEAD.
    1xx interim responses are dropped unless interim=True.
    """
    out = []
    pos = 0
    i = 0
    methods = methods or ["GET"]
    while pos < len(data):
        method = methods[min(i, len(methods) - 1)]
        resp, pos = parse_response(data, pos, method, eof=True)
        if 100 <= resp.status < 200 and resp.status != 101:
            if interim:
                out.append(resp)
            continue
        out.append(resp)
        i += 1
    return out


def parse_one(data, method="GET"):
    """Exactly one final response in data, which must hold nothing else."""
    resps = parse_responses(data, [method])
    check(len(resps) == 1, f"want one response, got {len(resps)}: {data[:300]!r}")
    return resps[0]
