"""mod_fastcgi: a FastCGI app of the test's own on a unix socket and on TCP; the environment,
request bodies in, streamed responses out, keep-alive to the backend, balancing, backends that
are down or die mid-response, disable-time."""

import os
import shutil
import socket
import subprocess
import sys
import time

import harness
from harness import Server, check, contains, eq, lux_only, poll

MIB = 1024 * 1024
PYTHON = shutil.which("python3") or sys.executable
APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fcgi_app.py")


class App:
    """The FastCGI app as a process of its own, killed by PID when the test ends."""

    def __init__(self, name, addr):
        self.name, self.addr = name, addr
        self.proc = None

    def start(self):
        self.proc = harness.track(subprocess.Popen([PYTHON, APP, self.name, self.addr],
                                                   stdout=subprocess.PIPE,
                                                   stderr=subprocess.DEVNULL))
        line = self.proc.stdout.readline()
        check(line.strip() == b"ready", f"the app {self.name} did not start: {line!r}")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.proc.stdout.close()


def tcp_addr(port):
    return f"tcp:{port}"


def unix_addr(tmp, name):
    return f"unix:{os.path.join(tmp, name + '.sock')}"


def backend_conf(addr, extra=""):
    kind, _, where = addr.partition(":")
    if kind == "unix":
        return f'( "socket" => "{where}"{extra} )'
    return f'( "host" => "127.0.0.1", "port" => {where}{extra} )'


FILES = {"pid.php": "", "env.php": "", "sha.php": "", "stderr.php": "", "conns.php": "", "hello.php": "",
         "die.php": "", "big.php": "", "static.txt": "static\n"}


class Setup:
    """A server and its apps: conf(apps) gives the fastcgi.server lines."""

    def __init__(self, names, conf, tcp=False, start_apps=True):
        self.tmp = harness.TempDir()
        self.dir = self.tmp.path
        self.apps = []
        for n in names:
            addr = tcp_addr(harness.free_port()) if tcp else unix_addr(self.dir, n)
            self.apps.append(App(n, addr))
        self.server = Server('server.modules = ("mod_fastcgi")\nserver.max-worker = 1\n' +
                             conf(self.apps), files=FILES)
        self.start_apps = start_apps

    def __enter__(self):
        try:
            if self.start_apps:
                for a in self.apps:
                    a.start()
            self.server.__enter__()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.server.__exit__(*exc)
        finally:
            for a in self.apps:
                a.stop()
            self.tmp.__exit__(None, None, None)


def one_pool(apps, key='".php"', opts=""):
    hosts = ", ".join(f'"{a.name}" => {backend_conf(a.addr, opts)}' for a in apps)
    return f"fastcgi.server = ( {key} => ( {hosts} ) )\n"


def get(s, path, method="GET", body=b"", headers=None, timeout=20):
    req = harness.build_request(path, headers, method, "HTTP/1.1", "localhost", body, close=True)
    data = harness.raw(s.port, req, timeout * harness.sanitizer_slowdown())
    resps = harness.parse_responses(data, [method])
    check(resps, f"no response to {method} {path}: {data[:300]!r}\n{s.errorlog[-2000:]}")
    return resps[-1]


def env_of(body):
    return dict(line.split("=", 1) for line in body.decode("latin-1").splitlines() if "=" in line)


def test_environment_over_unix_socket():
    with Setup(["a"], one_pool) as st:
        s = st.server
        r = get(s, "/env.php?x=1&y=2", headers={"X-Custom": "v"})
        eq(r.status, 200)
        eq(r.header("X-Backend"), "a")
        env = env_of(r.body)
        eq(env.get("SCRIPT_NAME"), "/env.php")
        eq(env.get("SCRIPT_FILENAME"), s.path("env.php"))
        eq(env.get("QUERY_STRING"), "x=1&y=2")
        eq(env.get("REQUEST_METHOD"), "GET")
        eq(env.get("REQUEST_URI"), "/env.php?x=1&y=2")
        eq(env.get("HTTP_X_CUSTOM"), "v")
        eq(env.get("SERVER_PORT"), str(s.port))
        eq(env.get("GATEWAY_INTERFACE"), "CGI/1.1")


def test_tcp_prefix_without_local_file_gets_path_info():
    conf = lambda apps: one_pool(apps, '"/app"', ', "check-local" => "disable"')
    with Setup(["t"], conf, tcp=True) as st:
        r = get(st.server, "/app/env/more?q")
        eq(r.status, 200)
        env = env_of(r.body)
        eq(env.get("SCRIPT_NAME"), "/app")
        eq(env.get("PATH_INFO"), "/env/more")
        eq(env.get("QUERY_STRING"), "q")


def test_extension_with_path_info_runs_the_script():
    # "/env.php/more": the URL path does not end in .php, the file it names does; the script
    # runs with the rest as PATH_INFO, never served as a static file (its source).
    with Setup(["a"], one_pool) as st:
        s = st.server
        r = get(s, "/env.php/more/x?q=1")
        eq(r.status, 200)
        eq(r.header("X-Backend"), "a", "answered by the app")
        env = env_of(r.body)
        eq(env.get("SCRIPT_NAME"), "/env.php")
        eq(env.get("PATH_INFO"), "/more/x")
        eq(env.get("SCRIPT_FILENAME"), s.path("env.php"))
        eq(env.get("REQUEST_URI"), "/env.php/more/x?q=1")
        eq(get(s, "/static.txt/more").body, b"static\n", "other files stay static")


def test_missing_local_file_is_404():
    with Setup(["a"], one_pool) as st:
        eq(get(st.server, "/nothere.php").status, 404)
        eq(get(st.server, "/static.txt").body, b"static\n")


def test_post_10mib_hash():
    body = os.urandom(10 * MIB)
    with Setup(["a"], one_pool) as st:
        r = get(st.server, "/sha.php", method="POST", body=body, timeout=60)
        eq(r.status, 200)
        eq(r.body.decode().split(), [str(len(body)), harness.sha256(body)])


def test_large_response_streams():
    with Setup(["a"], one_pool) as st:
        r = get(st.server, "/big.php?8", timeout=60)
        eq(r.status, 200)
        eq(len(r.body), 8 * MIB)
        eq(r.body[:512], bytes(range(256)) * 2)


@lux_only("lighttpd closes the backend connection after each request")
def test_keep_alive_reuses_one_backend_connection():
    with Setup(["a"], one_pool) as st:
        for _ in range(20):
            eq(get(st.server, "/hello.php").body, b"hello from a\n")
        eq(get(st.server, "/conns.php").body, b"1\n")


@lux_only("lux logs the backend's stderr named by the backend")
def test_stderr_goes_to_error_log():
    with Setup(["a"], one_pool) as st:
        eq(get(st.server, "/stderr.php").body, b"ok\n")
        poll(lambda: "something went wrong" in st.server.errorlog, 5, what="the stderr line")


def test_backend_down_is_503():
    with Setup(["a"], one_pool, start_apps=False) as st:
        eq(get(st.server, "/hello.php").status, 503)
        eq(get(st.server, "/static.txt").status, 200)


def test_backend_dies_mid_response_aborts_and_server_goes_on():
    with Setup(["a"], one_pool) as st:
        s = st.server
        req = harness.build_request("/die.php", None, "GET", "HTTP/1.1", "localhost", b"",
                                    close=False)
        data = harness.raw(s.port, req, 20 * harness.sanitizer_slowdown())
        # A 502 when the backend died before the head left, else an unfinished 200: never a
        # complete one.
        check(data.startswith((b"HTTP/1.1 200", b"HTTP/1.1 502")), f"got {data[:200]!r}")
        check(b"\r\n0\r\n\r\n" not in data, "a cut response was ended as if complete")
        eq(get(s, "/hello.php").body, b"hello from a\n")


@lux_only("lighttpd 1.4.69's round-robin sent every one of these requests to the same backend")
def test_round_robin_two_backends_evenly():
    conf = lambda apps: one_pool(apps) + 'fastcgi.balance = "round-robin"\n'
    with Setup(["a", "b"], conf) as st:
        seen = [get(st.server, "/hello.php").header("X-Backend") for _ in range(10)]
        eq(sorted(seen), ["a"] * 5 + ["b"] * 5)


def test_disable_time_honoured():
    conf = lambda apps: one_pool(apps, opts=', "disable-time" => 4')
    with Setup(["a", "b"], conf, start_apps=False) as st:
        st.apps[1].start()
        s = st.server
        # a is down: its requests go to b (a connect failure is retried elsewhere).
        t0 = time.monotonic()
        for _ in range(4):
            r = get(s, "/hello.php")
            eq((r.status, r.header("X-Backend")), (200, "b"))
        if not harness.is_lighttpd():
            contains(s.errorlog, "disabled for 4 s")
        st.apps[0].start()
        while time.monotonic() - t0 < 3:  # a is still disabled: b answers
            eq(get(s, "/hello.php").header("X-Backend"), "b")
        poll(lambda: get(s, "/hello.php").header("X-Backend") == "a", 10,
             what="a back in use after its disable-time")


def spawned_conf(extra="", workers=1):
    return (f'server.modules = ("mod_fastcgi")\nserver.max-worker = {workers}\n'
            f'fastcgi.server = ( ".php" => ( "own" => ( "bin-path" => "{PYTHON} {APP} own fd:0", '
            f'"socket" => "@TMP@/own.sock", "max-procs" => 2{extra} ) ) )\n'
            'fastcgi.balance = "round-robin"\n')


def pids_of(s, n=8):
    return {int(get(s, "/pid.php").body) for _ in range(n)}


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_bin_path_backend_answers():
    with Server(spawned_conf(), files=FILES) as s:
        poll(lambda: get(s, "/pid.php").status == 200, 20, what="a backend answering")
        eq(env_of(get(s, "/env.php").body).get("SCRIPT_NAME"), "/env.php")


@lux_only("lighttpd 1.4.69's round-robin sent every request to one of the two processes")
def test_bin_path_processes_started_restarted_and_stopped():
    s = Server(spawned_conf(', "bin-environment" => ( "APP_MODE" => "test" )', workers=2),
               files=FILES)
    with s:
        poll(lambda: len(pids_of(s)) == 2, 20, what="two backend processes answering")
        eq(env_of(get(s, "/env.php").body).get("SCRIPT_NAME"), "/env.php")
        pids = pids_of(s)
        victim = sorted(pids)[0]
        os.kill(victim, 9)
        poll(lambda: not alive(victim), 5, what="the killed backend gone")
        poll(lambda: len(pids_of(s) - pids) == 1 and victim not in pids_of(s), 20,
             what="a new process in place of the killed one")
        pids = pids_of(s)
    for pid in pids:
        poll(lambda: not alive(pid), 10, what=f"backend {pid} stopped with the server")


def processes_with_env(marker):
    """PIDs of processes whose environment holds marker."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker.encode() in f.read():
                    found.add(int(pid))
        except OSError:
            pass
    return found


def test_bin_path_processes_stopped_when_start_up_fails():
    # The processes start with the configuration; a server that then cannot listen must not
    # leave them running on their own.
    marker = f"LUX_TEST_MARK={os.getpid()}_{time.monotonic_ns()}"
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    s = Server(spawned_conf(f', "bin-environment" => ( "{marker.split("=")[0]}" => '
                            f'"{marker.split("=")[1]}" )'),
               files=FILES, port=busy.getsockname()[1])
    try:
        try:
            s.start()
            check(False, "the server started on a port already taken")
        except harness.TestFailure:
            pass
        poll(lambda: not processes_with_env(marker), 10,
             what="no backend process left after the failed start")
    finally:
        s.__exit__(None, None, None)
        busy.close()
        for pid in processes_with_env(marker):
            os.kill(pid, 9)


# ---- Debian's php-cgi, started by the server (bin-path) ----------------------------------------

PHP_CGI = shutil.which("php-cgi")

PHP_FILES = {
    "info.php": "<?php header('Content-Type: text/plain');\n"
                "foreach (['SCRIPT_NAME','SCRIPT_FILENAME','REQUEST_METHOD','QUERY_STRING',"
                "'SERVER_PROTOCOL','GATEWAY_INTERFACE','REMOTE_ADDR','HTTP_HOST'] as $k)\n"
                "  echo $k, '=', $_SERVER[$k] ?? '', \"\\n\";\n"
                "echo 'get=', $_GET['a'] ?? '', \"\\n\";\n",
    "sha.php": "<?php $d = file_get_contents('php://input');\n"
               "echo strlen($d), ' ', hash('sha256', $d), \"\\n\";\n",
    "big.php": "<?php header('Content-Type: application/octet-stream');\n"
               "$b = str_repeat('0123456789abcdef', 4096);\n"
               "for ($i = 0; $i < 800; $i++) echo $b;\n",
}


def php_server():
    if not PHP_CGI:
        raise harness.Skip("no php-cgi (apt-get install php-cgi)")
    conf = ('server.modules = ("mod_fastcgi")\nserver.max-worker = 1\n'
            f'fastcgi.server = ( ".php" => ( "php" => ( "bin-path" => "{PHP_CGI} '
            '-d post_max_size=64M -d output_buffering=0", "socket" => "@TMP@/php.sock", '
            '"max-procs" => 1, "bin-environment" => ( "PHP_FCGI_CHILDREN" => "2" ) ) ) )\n')
    return Server(conf, files=PHP_FILES)


def test_php_environment():
    with php_server() as s:
        poll(lambda: get(s, "/info.php").status == 200, 20, what="php-cgi answering")
        env = env_of(get(s, "/info.php?a=b&c=d").body)
        eq(env.get("SCRIPT_NAME"), "/info.php")
        eq(env.get("SCRIPT_FILENAME"), s.path("info.php"))
        eq(env.get("REQUEST_METHOD"), "GET")
        eq(env.get("QUERY_STRING"), "a=b&c=d")
        eq(env.get("SERVER_PROTOCOL"), "HTTP/1.1")
        eq(env.get("GATEWAY_INTERFACE"), "CGI/1.1")
        eq(env.get("REMOTE_ADDR"), "127.0.0.1")
        eq(env.get("get"), "b")


def test_php_post_10mib_hash():
    body = os.urandom(10 * MIB)
    with php_server() as s:
        poll(lambda: get(s, "/info.php").status == 200, 20, what="php-cgi answering")
        r = get(s, "/sha.php", method="POST", body=body,
                headers={"Content-Type": "application/octet-stream"}, timeout=60)
        eq(r.status, 200)
        eq(r.body.decode().split(), [str(len(body)), harness.sha256(body)])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@lux_only("measures the server's own memory")
def test_php_50mib_to_slow_reader_keeps_memory_bounded():
    if harness.sanitized():
        raise harness.Skip("the sanitizers' allocator keeps freed memory")
    with php_server() as s:
        poll(lambda: get(s, "/info.php").status == 200, 20, what="php-cgi answering")
        before = rss_kib(s.proc.pid)
        c = harness.connect_small_window(s.port)
        try:
            c.settimeout(30 * harness.sanitizer_slowdown())
            c.sendall(b"GET /big.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got, peak = 0, before
            while True:
                b = c.recv(65536)
                if not b:
                    break
                got += len(b)
                if got < 20 * MIB:
                    time.sleep(0.002)  # a slow reader for the first part
                peak = max(peak, rss_kib(s.proc.pid))
        finally:
            c.close()
        check(got > 50 * 1024 * 1024, f"got only {got} bytes")
        check(peak - before < 16 * 1024, f"RSS grew by {peak - before} KiB while streaming")
