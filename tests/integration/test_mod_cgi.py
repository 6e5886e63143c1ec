"""mod_cgi: the CGI/1.1 environment, request bodies in, streamed responses out, response heads
(Status, Location, broken ones), timeouts, clients that leave, and no script left behind."""

import hashlib
import os
import shutil
import signal
import socket
import threading
import time

import harness
from harness import Conn, Server, check, contains, eq, lux_only, poll

MIB = 1024 * 1024
LIGHTTPD = "/usr/sbin/lighttpd"
PYTHON = shutil.which("python3") or "/usr/bin/python3"
PERL = shutil.which("perl") or "/usr/bin/perl"

CONF = f"""
server.modules = ("mod_cgi")
server.max-worker = 1
cgi.assign = (".cgi" => "", ".sh" => "/bin/sh", ".py" => "{PYTHON}", ".pl" => "{PERL}")
$HTTP["url"] =^ "/hang" {{ cgi.limits = ("read-timeout" => 1) }}
$HTTP["url"] =^ "/redir/" {{ cgi.local-redir = "enable" }}
$HTTP["url"] =^ "/xs" {{
    cgi.x-sendfile = "enable"
    cgi.x-sendfile-docroot = ( "@TMP@/files" )
}}
$HTTP["url"] =^ "/xonly" {{ cgi.execute-x-only = "enable" }}
"""

ENV_SH = """\
printf 'Content-Type: text/plain\\r\\n\\r\\n'
env
"""

SHA_PY = """\
import hashlib, sys
h = hashlib.sha256()
n = 0
while True:
    b = sys.stdin.buffer.read(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n%d %s\\n" % (n, h.hexdigest()))
"""

BIG_PY = """\
import sys
out = sys.stdout.buffer
out.write(b"Content-Type: application/octet-stream\\r\\n\\r\\n")
block = bytes(range(256)) * 256
for _ in range(%d):
    out.write(block)
"""

PERL_PL = """\
print "Status: 201 Created\\r\\n";
print "Content-Type: text/plain\\r\\n\\r\\n";
print "perl says $ENV{QUERY_STRING}\\n";
"""

# Writes its pid where the test can see it, then hangs (the pid stays the same through exec).
HANG_SH = """\
echo $$ > "{pidfile}"
{head}exec sleep 30
"""

FILES = {
    "env.sh": ENV_SH,
    "sha.py": SHA_PY,
    "perl.pl": PERL_PL,
    "status404.sh": "printf 'Status: 404 Not Found\\r\\nContent-Type: text/plain\\r\\n\\r\\ngone\\n'\n",
    "remote.sh": "printf 'Location: http://example.com/x\\r\\n\\r\\n'\n",
    "redir.sh": "printf 'Location: /target.txt\\r\\n\\r\\n'\n",
    "target.txt": "the target\n",
    "static.txt": "static\n",
    "broken.sh": "printf 'this is no header\\r\\n\\r\\nbody'\n",
    "nohead.sh": "printf 'Content-Type: text/plain\\r\\n'\nexit 0\n",
    "stderr.sh": "echo 'first problem' >&2\necho 'second problem' >&2\n"
                 "printf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'\n",
    "xs.sh": "printf 'X-Sendfile: %s/files/payload.bin\\r\\nContent-Type: application/x-test\\r\\n"
             "\\r\\nignored'\n",
    "xs_out.sh": "printf 'X-Sendfile: /etc/hostname\\r\\n\\r\\n'\n",
    "sleepy.sh": "sleep 2\nprintf 'Content-Type: text/plain\\r\\n\\r\\nslept\\n'\n",
}


def cgi_server(bin=None, extra=""):
    s = Server(CONF + extra, files=FILES)
    if bin:
        s.bin = bin
    return s


def prepare(s):
    """Files that depend on the server's temp dir; the executable script."""
    os.makedirs(os.path.join(s.tmp, "files"), exist_ok=True)
    harness.write_file(os.path.join(s.tmp, "files", "payload.bin"), b"P" * 100000)
    for name in ("xs.sh",):
        with open(s.path(name)) as f:
            text = f.read().replace("%s", s.tmp)
        s.write(name, text)
    s.write("exec.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nexecuted\\n'\n",
            mode=0o755)
    s.write("xonly/plain.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nran\\n'\n",
            mode=0o644)


def start(s):
    os.makedirs(s.docroot, exist_ok=True)
    for rel, content in s.files.items():
        s.write(rel, content)
    s.files = {}
    prepare(s)
    return s


def get(s, path, headers=None, method="GET", body=b"", timeout=10):
    req = harness.build_request(path, headers, method, "HTTP/1.1", "localhost", body, close=True)
    data = harness.raw(s.port, req, timeout * harness.sanitizer_slowdown())
    resps = harness.parse_responses(data, [method])
    check(resps, f"no response to {method} {path}: {data[:200]!r}")
    check(resps[-1].status != 500, f"500 for {path}; error log:\n{s.errorlog[-2000:]}")
    return resps[-1]


def hang_script(s, name, head=""):
    pidfile = os.path.join(s.tmp, os.path.basename(name) + ".pid")
    s.write(name, HANG_SH.format(pidfile=pidfile, head=head))
    return pidfile


def script_pid(pidfile):
    poll(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), 10,
         what="the script's pid file")
    return int(open(pidfile).read())


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # a process reaped while its stat was read leaves it empty
    fields = stat.rsplit(")", 1)[1].split() if ")" in stat else []
    return bool(fields) and fields[0] != "Z"


def kill_if_alive(pid):
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


def children(pid):
    """(pid, state) of every process whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            out.append((int(d), fields[0]))
    return out


def parse_env(body):
    env = {}
    for line in body.decode().splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    return env


# Fields that differ by nature between two servers on two ports.
ENV_DIFFERS = {"SERVER_SOFTWARE", "SERVER_PORT", "REMOTE_PORT", "HTTP_HOST"}


def environment_of(bin):
    with start(cgi_server(bin)) as s:
        headers = {"X-Custom-Thing": "a b", "Proxy": "http://evil.example/", "Cookie": "a=1",
                   "Content-Type": "text/plain"}
        r = get(s, "/env.sh/extra/info?x=1&y=%20", headers=headers, method="POST",
                body=b"hello")
        eq(r.status, 200, "status")
        env = parse_env(r.body)
        for k in ("DOCUMENT_ROOT", "SCRIPT_FILENAME", "PATH_TRANSLATED", "PWD"):
            env[k] = env.get(k, "").replace(s.tmp, "@TMP@")
        return env


def test_environment_matches_lighttpd():
    if not os.path.exists(LIGHTTPD):
        raise harness.Skip("no lighttpd to compare with")
    ours = environment_of(None)
    theirs = environment_of(LIGHTTPD)
    for k in sorted(set(ours) | set(theirs)):
        if k in ENV_DIFFERS:
            check(k in ours, f"{k} missing")
            continue
        eq(ours.get(k), theirs.get(k), k)
    check("HTTP_PROXY" not in ours, "httpoxy: HTTP_PROXY reached the script")
    eq(ours.get("PATH_INFO"), "/extra/info", "PATH_INFO")
    eq(ours.get("SCRIPT_NAME"), "/env.sh", "SCRIPT_NAME")


def test_post_10mib_through_script_hash():
    body = os.urandom(10 * MIB)
    with start(cgi_server()) as s:
        r = get(s, "/sha.py", method="POST", body=body, timeout=60)
        eq(r.status, 200, "status")
        eq(r.body.decode().split(), [str(len(body)), hashlib.sha256(body).hexdigest()], "hash")


def test_chunked_post_gets_content_length():
    with start(cgi_server()) as s:
        data = b"0123456789" * 1000
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
        r = get(s, "/sha.py", method="POST", body=chunked,
                headers={"Transfer-Encoding": "chunked"})
        eq(r.body.decode().split(), [str(len(data)), hashlib.sha256(data).hexdigest()], "hash")


def test_perl_and_status():
    with start(cgi_server()) as s:
        r = get(s, "/perl.pl?q=1")
        eq((r.status, r.body), (201, b"perl says q=1\n"), "perl")


def test_status_404_from_script():
    with start(cgi_server()) as s:
        r = get(s, "/status404.sh")
        eq((r.status, r.body), (404, b"gone\n"), "the script's 404")


def test_location_remote_is_302():
    with start(cgi_server()) as s:
        r = get(s, "/remote.sh")
        eq(r.status, 302, "status")
        eq(r.header("Location"), "http://example.com/x", "Location")


def test_location_local_redirect():
    with start(cgi_server()) as s:
        s.write("redir/r.sh", FILES["redir.sh"])
        r = get(s, "/redir/r.sh")
        eq((r.status, r.body), (200, b"the target\n"), "served the local target")
        r = get(s, "/redir.sh")  # cgi.local-redir is off here: the client is redirected
        eq((r.status, r.header("Location")), (302, "/target.txt"), "without local-redir")


@lux_only("lighttpd sends a broken head as the body of a 200")
def test_broken_header_is_502():
    with start(cgi_server()) as s:
        eq(get(s, "/broken.sh").status, 502, "broken head")


@lux_only("lighttpd sends an unfinished head as the body of a 200")
def test_exit_before_headers_is_502():
    with start(cgi_server()) as s:
        eq(get(s, "/nohead.sh").status, 502, "no end of head")


@lux_only("lux logs a script's stderr line by line, named by the script")
def test_stderr_goes_to_error_log():
    with start(cgi_server()) as s:
        eq(get(s, "/stderr.sh").body, b"ok\n", "body")
        poll(lambda: "second problem" in s.errorlog, 5, what="stderr lines in the error log")
        contains(s.errorlog, "first problem", "error log")


def test_direct_exec():
    with start(cgi_server()) as s:
        eq(get(s, "/exec.cgi").body, b"executed\n", "a script run by itself")


def test_execute_x_only_skips_plain_file():
    with start(cgi_server()) as s:
        r = get(s, "/xonly/plain.cgi")
        check(r.body != b"ran\n", "a file without an execute bit was run")
        s.write("xonly/x.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nran\\n'\n",
                mode=0o755)
        eq(get(s, "/xonly/x.cgi").body, b"ran\n", "an executable one runs")


def test_x_sendfile():
    with start(cgi_server()) as s:
        s.write("xs/a.sh", open(s.path("xs.sh")).read())
        r = get(s, "/xs/a.sh")
        eq(r.status, 200, "status")
        eq(r.body, b"P" * 100000, "the file, not the script's body")
        eq(r.header("Content-Type"), "application/x-test", "the script's other headers")
        check(r.header("X-Sendfile") is None, "X-Sendfile reached the client")
        s.write("xs/out.sh", FILES["xs_out.sh"])
        eq(get(s, "/xs/out.sh").status, 403, "a file outside x-sendfile-docroot")


def test_hanging_script_killed_after_read_timeout():
    with start(cgi_server()) as s:
        pidfile = hang_script(s, "hang/h.sh")
        try:
            t0 = time.monotonic()
            r = get(s, "/hang/h.sh", timeout=20)
            eq(r.status, 504, "status after the read timeout")
            check(time.monotonic() - t0 < 15, "answered long after the timeout")
            pid = script_pid(pidfile)
            poll(lambda: not alive(pid), 10, what="the hanging script to be killed")
        finally:
            if os.path.exists(pidfile):
                kill_if_alive(int(open(pidfile).read()))


@lux_only("lighttpd notices a client that left only when it next writes to it")
def test_client_leaves_mid_response_script_killed():
    with start(cgi_server()) as s:
        head = "printf 'Content-Type: text/plain\\r\\n\\r\\nstarted\\n'\n"
        pidfile = hang_script(s, "leave.sh", head=head)
        try:
            with Conn(s.port) as c:
                c.send(b"GET /leave.sh HTTP/1.1\r\nHost: x\r\n\r\n")
                pid = script_pid(pidfile)
                time.sleep(0.3)  # the head and the first bytes are on their way
            poll(lambda: not alive(pid), 10, what="the script to be killed after the client left")
        finally:
            if os.path.exists(pidfile):
                kill_if_alive(int(open(pidfile).read()))


def test_no_zombies_left():
    with start(cgi_server()) as s:
        for path in ("/env.sh", "/broken.sh", "/nohead.sh", "/status404.sh", "/perl.pl"):
            get(s, path)
        poll(lambda: not children(s.pid), 10, what=f"no children of the server: {children(s.pid)}")


@lux_only("measures lux's own memory")
def test_50mib_response_to_slow_reader_keeps_rss_bounded():
    blocks = 50 * MIB // 65536
    with start(cgi_server()) as s:
        s.write("big.py", BIG_PY % blocks)
        with open(f"/proc/{s.pid}/status") as f:
            base = int([l for l in f if l.startswith("VmRSS:")][0].split()[1])
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /big.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sock.settimeout(20 * harness.sanitizer_slowdown())
        h = hashlib.sha256()
        total = 0
        peak = base
        reads = 0
        head = b""
        while True:
            b = sock.recv(65536)
            if not b:
                break
            total += len(b)
            reads += 1
            if len(head) < 4096:
                head += b[:4096]
            if reads % 32 == 0:
                time.sleep(0.01)
                with open(f"/proc/{s.pid}/status") as f:
                    rss = int([l for l in f if l.startswith("VmRSS:")][0].split()[1])
                peak = max(peak, rss)
        sock.close()
        check(total > 50 * MIB, f"only {total} bytes arrived")
        contains(head.decode("latin-1"), "Transfer-Encoding: chunked", "framing")
        growth = peak - base
        if not harness.sanitized():
            check(growth < 24 * 1024, f"RSS grew by {growth} KiB for a 50 MiB CGI response")


def test_concurrent_scripts_do_not_block_static():
    with start(cgi_server()) as s:
        results = []

        def one():
            results.append(get(s, "/sleepy.sh", timeout=30).body)

        threads = [threading.Thread(target=one) for _ in range(12)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        eq(get(s, "/static.txt").body, b"static\n", "static file")
        check(time.monotonic() - t0 < 1.5, "the static file waited for the scripts")
        for t in threads:
            t.join(40)
        eq(results, [b"slept\n"] * 12, "every script answered")


def test_setenv_environment_reaches_script():
    extra = """
server.modules += ("mod_setenv")
setenv.set-environment = ("LUX_TEST_SET" => "set value")
setenv.add-environment = ("LUX_TEST_ADD" => "added")
"""
    with cgi_server(extra=extra) as s:
        env = parse_env(get(s, "/env.sh").body)
        eq((env.get("LUX_TEST_SET"), env.get("LUX_TEST_ADD")), ("set value", "added"), "setenv")


def test_tls_variables_reach_script():
    from test_tls import https, need_tls, resolve, tls_conf
    need_tls()
    with cgi_server(extra=tls_conf()) as s:
        cp = harness.curl([*resolve(s), https(s, "/env.sh")])
        env = parse_env(cp.stdout)
        eq(env.get("HTTPS"), "on", "HTTPS")
        check(env.get("SSL_PROTOCOL", "").startswith("TLSv1."), f"SSL_PROTOCOL: {env}")
        check(env.get("SSL_CIPHER"), "SSL_CIPHER")
        check(env.get("SSL_CIPHER_USEKEYSIZE", "").isdigit(), "SSL_CIPHER_USEKEYSIZE")


def test_authenticated_user_reaches_script():
    import base64
    import hashlib
    extra = ('server.modules += ("mod_auth", "mod_authn_file")\n'
             'auth.backend = "htpasswd"\nauth.backend.htpasswd.userfile = "@TMP@/users"\n'
             'auth.require = ( "/" => ( "method" => "basic", "realm" => "r", '
             '"require" => "valid-user" ) )\n')
    with cgi_server(extra=extra) as s:
        sha = base64.b64encode(hashlib.sha1(b"pw").digest()).decode()
        s.write("../users", "alice:{SHA}" + sha + "\n")
        auth = "Basic " + base64.b64encode(b"alice:pw").decode()
        env = parse_env(get(s, "/env.sh", headers={"Authorization": auth}).body)
        eq((env.get("REMOTE_USER"), env.get("AUTH_TYPE")), ("alice", "Basic"), "user and type")
