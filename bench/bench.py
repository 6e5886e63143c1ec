#!/usr/bin/env python3
"""Side-by-side benchmark of lux against lighttpd, nginx and h2o.

Every server serves the same generated document root from a one-worker config on loopback; wrk
drives each scenario and the server's own CPU time (from /proc) is divided by the requests wrk
completed. bench/README.md explains the method and how to read the numbers.

Environment: BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_SERVERS (comma list, default all),
BENCH_SCENARIOS (comma list of 1k,rand1k,404,100k,10m,gz10k,gz100k,gz100k-br,fcgi,proxy1k,
magnet,auth-apr1,auth-bcrypt,auth-bcrypt-cache,sites,close,miss1,miss10,miss50,idle,tls1k,tlsnew,
tls10m,tlsidle,h2c1k,h2tls1k,metrics; default all), BENCH_METRICS_ROUNDS (6 or BENCH_ROUNDS),
BENCH_IDLE_CONNS (10000),
BENCH_TLS_IDLE_CONNS (2000), BENCH_H2_REQUESTS (300000, requests per HTTP/2 run),
BENCH_LUX (the lux binary, default build/lux), BENCH_PASS2 (1; 0 skips the two-worker pass),
BENCH_KEEP (0; 1 keeps the temporary directory).
"""

import json
import os
import platform
import pwd
import random
import grp
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import extra_rows

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT_DIR = os.path.join(ROOT, "build", "bench")
LUX_BIN = os.path.abspath(os.environ.get("BENCH_LUX") or os.path.join(ROOT, "build", "lux"))

HZ = os.sysconf("SC_CLK_TCK")
CONNS = 50
WARMUP_SECONDS = 1
N_RANDOM = 1000
START_TIMEOUT = 10.0
FD_LIMIT = 1024  # set in main() to the open-file limit the servers inherit
LUX_RUN = LUX_BIN  # main() points this at a private copy
TLS_FILES = {}  # make_certificate(): "cert", "key" (PEM paths) and "der" (the certificate)
PROXY_BACKEND = {}  # start_proxy_backend(): "port", "proc" of the backend proxy1k's fronts share


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        sys.exit(f"bench: {name} must be an integer")


ROUNDS = max(1, env_int("BENCH_ROUNDS", 3))
SECONDS = max(1, env_int("BENCH_SECONDS", 5))
IDLE_CONNS = max(1, env_int("BENCH_IDLE_CONNS", 10000))
# Every idle TLS connection costs the (Python) client a full handshake: fewer of them than plain.
TLS_IDLE_CONNS = max(1, env_int("BENCH_TLS_IDLE_CONNS", 2000))
PASS2 = env_int("BENCH_PASS2", 1) != 0
# h2load runs a fixed number of requests, not a duration: enough for a few seconds of work.
H2_REQUESTS = max(1000, env_int("BENCH_H2_REQUESTS", 300000))
H2_STREAMS = 10  # concurrent streams per HTTP/2 connection (h2load -m)
KEEP = env_int("BENCH_KEEP", 0) != 0
# The metrics row compares two lux instances round by round: more rounds than the others, since
# the difference it looks for is a few percent.
METRICS_ROUNDS = max(1, env_int("BENCH_METRICS_ROUNDS", max(6, ROUNDS)))

# The auth scenarios: the users in the htpasswd file, and the two users the clients log in as
# (user, password, hash kind); both sit in the middle of the file, an average place for a server
# that scans it.
AUTH_USERS = 10000
AUTH_LOGINS = {"apr1": ("bench-apr1", "apr1-secret"), "bcrypt": ("bench-bcrypt", "bcrypt-secret")}
BCRYPT_COST = 10
# The sites scenario: the vhosts, and a path that only the last rewrite rule matches.
SITES_HOSTS = ["site1.bench", "site2.bench", "site3.bench"]
SITES_PATH = "/page/home"
SITES_REWRITES = [
    ("^/blog/([0-9]{4})/([0-9]{2})/([^/?]+)/?$", "/blog/post.html?y=$1&m=$2&slug=$3"),
    ("^/feed(?:\\.xml)?/?$", "/feed.xml"),
    ("^/(?:wp-admin|wp-login\\.php|xmlrpc\\.php)", "/gone.html"),
    ("^/user/([0-9]+)/profile$", "/profile.html?id=$1"),
    ("^/api/v[12]/(.*)$", "/api/index.html?path=$1"),
    ("^/shop/category/([a-z-]+)/page/([0-9]+)$", "/shop.html?category=$1&page=$2"),
    ("^/old-site/(.*)$", "/archive/$1"),
    ("^/download/([a-z0-9._-]+\\.(?:zip|tar\\.gz))$", "/files/$1"),
    ("^/(css|js|img)/v[0-9]+/(.*)$", "/$1/$2"),
    ("^/page/([a-z0-9-]+)$", "/pages/$1.html"),
]

# Each scenario: the request, the answer every server must give before it is measured (status,
# body length), and how wrk drives it (Lua script, Connection: close, connections).
SCENARIOS = [
    {"id": "1k", "title": "1 KiB file, keep-alive", "path": "/f1k.html",
     "status": 200, "length": 1024},
    {"id": "rand1k", "title": f"{N_RANDOM:,} different 1 KiB files, random order",
     "path": "/r/000.html", "status": 200, "length": 1024, "lua": "random.lua"},
    {"id": "404", "title": "404, missing file", "path": "/missing.html", "status": 404},
    {"id": "100k", "title": "100 KiB file", "path": "/f100k.bin",
     "status": 200, "length": 100 * 1024},
    # Fewer connections: 50 parallel 10 MiB bodies only queue behind each other, which inflates
    # latency without changing throughput.
    {"id": "10m", "title": "10 MiB file", "path": "/f10m.bin",
     "status": 200, "length": 10 * 1024 * 1024, "conns": 8},
    # Compression: lux and lighttpd from their deflate.cache-dir, nginx and h2o per request.
    {"id": "gz10k", "title": "10 KiB HTML file, Accept-Encoding: gzip", "path": "/g10k.html",
     "status": 200, "length": None, "encoding": "gzip"},
    # A 100 KiB page, compressed per request ("fly": no cache dir, nginx gzip on) or once
    # ("cache": deflate.cache-dir, nginx gzip_static and a .gz the driver made); the answer must
    # decode to the page. nginx has no brotli module here, so the br rows are lux and lighttpd.
    {"id": "gz100k-fly", "group": "gz100k",
     "title": "100 KiB HTML page, gzip compressed per request",
     "path": extra_rows.gz_path("fly"), "status": 200, "length": None, "encoding": "gzip",
     "decodes": True, "servers": ("lux", "lighttpd", "nginx")},
    {"id": "gz100k-cache", "group": "gz100k",
     "title": "100 KiB HTML page, gzip from a cache (cache dir; nginx gzip_static)",
     "path": extra_rows.gz_path("cache"), "status": 200, "length": None, "encoding": "gzip",
     "decodes": True, "servers": ("lux", "lighttpd", "nginx")},
    {"id": "gz100k-br-fly", "group": "gz100k-br",
     "title": "100 KiB HTML page, brotli compressed per request",
     "path": extra_rows.gz_path("fly"), "status": 200, "length": None, "encoding": "br",
     "decodes": True, "servers": ("lux", "lighttpd")},
    {"id": "gz100k-br-cache", "group": "gz100k-br",
     "title": "100 KiB HTML page, brotli from a cache (deflate.cache-dir)",
     "path": extra_rows.gz_path("cache"), "status": 200, "length": None, "encoding": "br",
     "decodes": True, "servers": ("lux", "lighttpd")},
    # PHP through FastCGI, FCGI_PROCS php-cgi processes per server. As many connections as
    # processes: nginx keeps its FastCGI connections open, and a php-cgi worker holding an idle
    # one takes no other, so more connections than workers would starve in its backlog.
    {"id": "fcgi", "title": f"PHP hello world through FastCGI ({extra_rows.FCGI_PROCS} php-cgi)",
     "path": "/fcgi/hello.php", "status": 200, "length": len(extra_rows.HELLO_BODY),
     "body": extra_rows.HELLO_BODY, "conns": extra_rows.FCGI_PROCS,
     "helper": extra_rows.HELPER_COMM, "workers": 1,
     "servers": ("lux", "lighttpd", "nginx")},
    # A reverse proxy in front of one shared backend (nginx serving a 1 KiB file).
    {"id": "proxy1k", "title": "reverse proxy to a backend's 1 KiB file",
     "path": "/" + extra_rows.PROXY_FILE, "status": 200, "length": 1024,
     "body_starts": b"px1k", "servers": ("lux", "lighttpd", "nginx")},
    # A Lua script (mod_magnet, lux and lighttpd only) sets a response header on every request.
    {"id": "magnet", "title": "1 KiB file, a mod_magnet script sets a response header",
     "path": "/mag1k.html", "status": 200, "length": 1024, "header": ("X-Magnet", "1"),
     "servers": ("lux", "lighttpd")},
    {"id": "close", "title": "new connection per request (Connection: close)",
     "path": "/f1k.html", "status": 200, "length": 1024, "close": True},
    # Every request a path never seen before (lua/unique.lua), at three concurrencies: with a
    # server that caches what it looked up, the cost per request must not grow with the rate.
    {"id": "miss1", "title": "404s, every path new (/miss/<counter>), 1 connection",
     "path": "/miss/check", "status": 404, "lua": "unique.lua", "conns": 1},
    {"id": "miss10", "title": "404s, every path new (/miss/<counter>), 10 connections",
     "path": "/miss/check", "status": 404, "lua": "unique.lua", "conns": 10},
    {"id": "miss50", "title": "404s, every path new (/miss/<counter>), 50 connections",
     "path": "/miss/check", "status": 404, "lua": "unique.lua", "conns": 50},
    # HTTP Basic auth (lux and lighttpd only) against an htpasswd file of AUTH_USERS users; every
    # request of a keep-alive connection carries the same user's credentials.
    {"id": "auth-apr1",
     "title": f"Basic auth, $apr1$ hash, {AUTH_USERS:,}-user htpasswd, 1 KiB file",
     "path": "/auth-apr1/f1k.html", "status": 200, "length": 1024, "auth": "apr1",
     "servers": ("lux", "lighttpd")},
    # A bcrypt check costs tens of milliseconds: a few connections are enough to keep the server
    # busy, and 50 would only queue behind each other.
    {"id": "auth-bcrypt", "title": "Basic auth, bcrypt (cost 10) hash, auth.cache off, 1 KiB file",
     "path": "/auth-bcrypt/f1k.html", "status": 200, "length": 1024, "auth": "bcrypt",
     "conns": 4, "servers": ("lux", "lighttpd")},
    {"id": "auth-bcrypt-cache",
     "title": "Basic auth, bcrypt (cost 10) hash, auth.cache max-age 600, 1 KiB file",
     "path": "/auth-cache/f1k.html", "status": 200, "length": 1024, "auth": "bcrypt",
     "servers": ("lux", "lighttpd")},
    # Three name-based vhosts, ten url.rewrite-once rules (the last one matches) and an access log
    # file; lua/sites.lua spreads the requests over the three hosts.
    {"id": "sites", "title": "3 vhosts, 10 rewrite rules, access log, 1 KiB file",
     "path": SITES_PATH, "status": 200, "length": 1024, "lua": "sites.lua",
     "lua_args": [SITES_PATH] + SITES_HOSTS, "hosts": SITES_HOSTS,
     "servers": ("lux", "lighttpd")},
    # HTTPS on a second listener of the same server: TLS 1.3 only, one ECDSA P-256 certificate.
    {"id": "tls1k", "title": "HTTPS, 1 KiB file, keep-alive", "path": "/f1k.html",
     "status": 200, "length": 1024, "tls": True},
    # wrk would resume sessions (check_wrk_resumption()); the servers issue no tickets, and
    # check_scenario() confirms each refuses to resume, so every connection is a full handshake.
    {"id": "tlsnew", "title": "HTTPS, full TLS handshake + one request per connection",
     "path": "/f1k.html", "status": 200, "length": 1024, "close": True, "tls": True},
    {"id": "tls10m", "title": "HTTPS, 10 MiB file", "path": "/f10m.bin",
     "status": 200, "length": 10 * 1024 * 1024, "conns": 8, "tls": True},
    # HTTP/2, driven by h2load: 50 connections with 10 concurrent streams each.
    {"id": "h2c1k", "title": "HTTP/2 without TLS (h2c, prior knowledge), 1 KiB file",
     "path": "/f1k.html", "status": 200, "length": 1024, "h2": True},
    {"id": "h2tls1k", "title": "HTTP/2 over TLS (ALPN h2), 1 KiB file", "path": "/f1k.html",
     "status": 200, "length": 1024, "h2": True, "tls": True},
]

ALL_IDS = [s["id"] for s in SCENARIOS] + ["idle", "tlsidle", "metrics"]
# A group (gz100k) names all its variants (gz100k-fly, gz100k-cache).
GROUPS = list(dict.fromkeys(s["group"] for s in SCENARIOS if s.get("group")))
ONLY = [x.strip() for x in os.environ.get("BENCH_SCENARIOS", ",".join(ALL_IDS)).split(",")
        if x.strip()]
if not ONLY or set(ONLY) - set(ALL_IDS) - set(GROUPS):
    sys.exit(f"bench: BENCH_SCENARIOS takes a comma list of {', '.join(ALL_IDS + GROUPS)}")
SCENARIOS = [s for s in SCENARIOS if s["id"] in ONLY or s.get("group") in ONLY]
METRICS_ON = "metrics" in ONLY
# The 1 KiB keep-alive request the metrics row measures on both lux instances.
METRICS_SCENARIO = {"id": "metrics", "title": "1 KiB file, keep-alive", "path": "/f1k.html",
                    "status": 200, "length": 1024}
# The TLS listener, its certificate and the resumption check exist only when a TLS scenario runs.
TLS_ON = "tlsidle" in ONLY or any(s.get("tls") for s in SCENARIOS)
H2_ON = any(s.get("h2") for s in SCENARIOS)
GZ_ON = any(s.get("encoding") for s in SCENARIOS)
GZ100_ON = any(s.get("decodes") for s in SCENARIOS)
FCGI_ON = any(s["id"] == "fcgi" for s in SCENARIOS)
PROXY_ON = any(s["id"] == "proxy1k" for s in SCENARIOS)
MAGNET_ON = any(s["id"] == "magnet" for s in SCENARIOS)
AUTH_ON = any(s.get("auth") for s in SCENARIOS)
SITES_ON = any(s.get("hosts") for s in SCENARIOS)
MAGNET_LUA = 'lighty.r.resp_header["X-Magnet"] = "1"\n'
# Every server gets the same protocol settings: TLS 1.3 only, OpenSSL's default TLS 1.3 suites,
# and no session tickets. wrk keeps each connection's session and offers it on the next one, so
# a server that issued tickets would resume instead of making the full handshake tlsnew measures.
TLS_MIN = "TLSv1.3"

# Everything this process started and has not yet reaped; stopped by PID on any exit path.
LIVE = {}


class Abort(BaseException):
    """Raised from signal handlers so the cleanup in main() runs."""


def log(msg=""):
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------
# /proc readers

def proc_children_map():
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def proc_tree(pid):
    """pid and all its descendants (nginx's workers, anything a server forks)."""
    children = proc_children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu_seconds(pid, helper_comm=None):
    """utime+stime of the process tree, plus reaped children (cutime+cstime) so a worker that
    exits mid-run still counts. With helper_comm, returns (server, helpers): the subtrees of
    processes whose name starts with it (php-cgi a server started) counted apart."""
    children = proc_children_map()
    ticks = [0, 0]
    todo = [(pid, False)]
    while todo:
        p, helper = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        helper = helper or bool(helper_comm and comm.startswith(helper_comm))
        todo.extend((c, helper) for c in children.get(p, []))
        fields = stat[stat.rfind(")") + 2:].split()
        ticks[helper] += sum(int(x) for x in fields[11:15])
    if helper_comm is None:
        return (ticks[0] + ticks[1]) / HZ
    return ticks[0] / HZ, ticks[1] / HZ


def server_cpu_seconds(s):
    """(the server's CPU, its helpers' CPU): php-cgi it started, and the pool started for it."""
    own, helpers = tree_cpu_seconds(s["proc"].pid, extra_rows.HELPER_COMM)
    return own, helpers + sum(tree_cpu_seconds(h.pid) for h in s.get("helpers", []))


def tree_rss_kib(pid):
    total = 0
    for p in proc_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def tree_socket_fds(pid):
    n = 0
    for p in proc_tree(pid):
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                try:
                    if os.readlink(f"/proc/{p}/fd/{fd}").startswith("socket:"):
                        n += 1
                except OSError:
                    pass
        except OSError:
            continue
    return n


# ---------------------------------------------------------------------------------------------
# processes

def spawn(argv, stdout=None, stderr=None, stdin=None, new_session=True):
    proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr,
                            start_new_session=new_session, cwd=ROOT)
    LIVE[proc.pid] = proc
    return proc


def stop(proc, grace=5.0):
    """SIGTERM the process, then SIGKILL it and any descendant still alive after the grace."""
    if proc.poll() is None:
        tree = proc_tree(proc.pid)
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=grace)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
        for p in tree:
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    LIVE.pop(proc.pid, None)


def stop_all():
    for proc in list(LIVE.values()):
        stop(proc, grace=2.0)


def on_signal(signum, frame):
    raise Abort(signal.Signals(signum).name)


def pick_ports(n):
    """Bind n sockets at once so the ports are distinct, then release them for the servers."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want and os.geteuid() == 0:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            pass
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY or hard < want else max(soft, want)
    if target != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def tool_version(argv, any_status=False):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (r.stdout + r.stderr).strip().splitlines()
    return out[0].strip() if out and (r.returncode == 0 or any_status) else None


def file_tail(path, lines=8):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# document root and configs

def make_docroot(docroot):
    os.makedirs(os.path.join(docroot, "r"))

    def write(rel, data):
        with open(os.path.join(docroot, rel), "wb") as f:
            f.write(data)

    write("index.html", b"<!doctype html><title>bench</title>\n")
    write("f1k.html", kib_text("f1k"))
    write("mag1k.html", kib_text("mag1k"))
    for d in ("auth-apr1", "auth-bcrypt", "auth-cache"):
        os.makedirs(os.path.join(docroot, d))
        write(f"{d}/f1k.html", kib_text(d))
    for i in range(N_RANDOM):
        write(f"r/{i:03d}.html", kib_text(f"r{i:03d}"))
    write("f100k.bin", os.urandom(100 * 1024))
    words = [b"<p>", b"</p>", b"lux", b"benchmark", b"payload", b"compressed", b"\n"]
    rnd = random.Random(10)
    write("g10k.html", b" ".join(rnd.choice(words) for _ in range(4096))[:10 * 1024])
    with open(os.path.join(docroot, "f10m.bin"), "wb") as f:
        for _ in range(10):
            f.write(os.urandom(1024 * 1024))
    extra_rows.make_files(docroot, kib_text)


def kib_text(tag):
    line = (tag + " lux benchmark payload\n").encode()
    return (line * (1024 // len(line) + 1))[:1024]


def make_sites(root):
    """Each vhost's document root holds the page the matching rewrite rule leads to, its content
    naming the host so that the check can tell the vhosts apart."""
    for host in SITES_HOSTS:
        os.makedirs(os.path.join(root, host, "pages"))
        with open(os.path.join(root, host, "pages", "home.html"), "wb") as f:
            f.write(kib_text(host))


def bcrypt_hash(password):
    """A bcrypt hash from libcrypt (Python's own crypt module is gone from 3.13)."""
    import ctypes
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt.restype = lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    salt = lib.crypt_gensalt(b"$2b$", BCRYPT_COST, None, 0)
    out = lib.crypt(password.encode(), salt) if salt else None
    if not out or not out.startswith(b"$2b$"):
        sys.exit("bench: libcrypt made no bcrypt hash")
    return out.decode()


def make_htpasswd(path):
    """AUTH_USERS users, all $apr1$ (openssl passwd) but the bcrypt login; the two logins sit in
    the middle of the file."""
    fillers = AUTH_USERS - len(AUTH_LOGINS)
    passwords = [os.urandom(9).hex() for _ in range(fillers)] + [AUTH_LOGINS["apr1"][1]]
    r = subprocess.run(["openssl", "passwd", "-apr1", "-stdin"], input="\n".join(passwords) + "\n",
                       capture_output=True, text=True, timeout=300)
    hashes = r.stdout.split()
    if r.returncode != 0 or len(hashes) != len(passwords):
        sys.exit(f"bench: openssl passwd -apr1 failed: {r.stderr.strip()[:300]}")
    lines = [f"user{i:05d}:{h}" for i, h in enumerate(hashes[:fillers])]
    logins = [f"{AUTH_LOGINS['apr1'][0]}:{hashes[-1]}",
              f"{AUTH_LOGINS['bcrypt'][0]}:{bcrypt_hash(AUTH_LOGINS['bcrypt'][1])}"]
    middle = fillers // 2
    with open(path, "w") as f:
        f.write("\n".join(lines[:middle] + logins + lines[middle:]) + "\n")


def basic_auth(kind, password=None):
    """The Authorization header value for a login (with another password when given)."""
    import base64
    user, secret = AUTH_LOGINS[kind]
    token = base64.b64encode(f"{user}:{password or secret}".encode()).decode()
    return f"Basic {token}"


def lighttpd_conf(s, full):
    """lighttpd syntax shared by lighttpd and lux. `full` adds the directives lighttpd needs to
    hold the idle connections and keep keep-alive going for the whole run; without it, only the
    directives lux is guaranteed to understand."""
    lines = [
        f'server.port = {s["port"]}',
        'server.bind = "127.0.0.1"',
        f'server.document-root = "{s["docroot"]}"',
        f'server.errorlog = "{s["dir"]}/error.log"',
        f'server.pid-file = "{s["dir"]}/server.pid"',
        'index-file.names = ( "index.html" )',
        'mimetype.assign = ( ".html" => "text/html", ".bin" => "application/octet-stream" )',
    ]
    if s["workers"] is not None:
        lines.append(f'server.max-worker = {s["workers"]}')
    if GZ_ON:
        lines += [
            'server.modules = ( "mod_deflate" )',
            # Only the gz10k file, so that the other rows measure what they always did.
            '$HTTP["url"] == "/g10k.html" {',
            '    deflate.mimetypes = ( "text/html" )',
            f'    deflate.cache-dir = "{s["dir"]}/deflate-cache"',
            '}',
            'deflate.allowed-encodings = ( "gzip" )',
        ]
    lines += extra_rows.lighttpd_lines(s, FCGI_ON, PROXY_ON, GZ100_ON)
    if MAGNET_ON:
        lines += [
            'server.modules += ( "mod_magnet" )',
            f'$HTTP["url"] == "/mag1k.html" {{ magnet.attract-raw-url-to = ( "{s["dir"]}/magnet.lua" ) }}',
        ]
    if AUTH_ON:
        lines += auth_conf(s)
    if SITES_ON:
        lines += sites_conf(s)
    if full:
        lines += [
            f'server.max-fds = {s["max_fds"]}',
            # lighttpd refuses more connections than half its descriptors (one for the socket,
            # one for a file being sent).
            f'server.max-connections = {min(s["max_conns"], s["max_fds"] // 2)}',
            'server.max-keep-alive-requests = 65535',
            'server.max-keep-alive-idle = 300',
        ]
    lines += s.get("extra_conf", [])
    if s.get("tls_port"):
        lines += [
            f'$SERVER["socket"] == "127.0.0.1:{s["tls_port"]}" {{',
            '    ssl.engine = "enable"',
            f'    ssl.pemfile = "{s["cert"]}"',
            f'    ssl.privkey = "{s["key"]}"',
            f'    ssl.openssl.ssl-conf-cmd = ( "MinProtocol" => "{TLS_MIN}", "NumTickets" => "0" )',
            '}',
        ]
    return "\n".join(lines) + "\n"


def auth_conf(s):
    """mod_auth on the /auth-* paths only, so that the other rows measure what they always did;
    auth.cache (off by default) only under /auth-cache/."""
    return [
        'server.modules += ( "mod_auth", "mod_authn_file" )',
        '$HTTP["url"] =^ "/auth-" {',
        '    auth.backend = "htpasswd"',
        f'    auth.backend.htpasswd.userfile = "{s["auth_file"]}"',
        '    auth.require = ( "/" => ( "method" => "basic", "realm" => "bench",',
        '                              "require" => "valid-user" ) )',
        '}',
        '$HTTP["url"] =^ "/auth-cache/" { auth.cache = ( "max-age" => "600" ) }',
    ]


def sites_conf(s):
    """Three name-based vhosts sharing the rewrite rules and one access log. They sit inside a
    condition on the host so that requests for 127.0.0.1 (every other row) skip all of it."""
    rules = ",\n".join(f'        "{regex}" => "{target}"' for regex, target in SITES_REWRITES)
    lines = [
        'server.modules += ( "mod_rewrite", "mod_accesslog" )',
        '$HTTP["host"] =~ "\\.bench$" {',
        f'    accesslog.filename = "{s["dir"]}/access.log"',
        f'    url.rewrite-once = (\n{rules}\n    )',
    ]
    for host in SITES_HOSTS:
        root = os.path.join(s["sites_root"], host)
        lines.append(f'    $HTTP["host"] == "{host}" {{ server.document-root = "{root}" }}')
    return lines + ['}']


def nginx_user_line():
    """As root nginx's workers would switch to "nobody"; keep every server on the same user."""
    if os.geteuid() == 0:
        return f"user {pwd.getpwuid(0).pw_name} {grp.getgrgid(0).gr_name};\n"
    return ""


def nginx_conf(s):
    d = s["dir"]
    user = nginx_user_line()
    temps = "".join(f"    {t}_temp_path {d}/{t}_temp;\n"
                    for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    tls = ""
    if s.get("tls_port"):
        http2 = " http2" if H2_ON else ""
        tls = f"""        listen 127.0.0.1:{s["tls_port"]} ssl{http2};
        ssl_certificate {s["cert"]};
        ssl_certificate_key {s["key"]};
        ssl_protocols {TLS_MIN};
        ssl_conf_command NumTickets 0;
"""
    h2c = ""
    if s.get("h2c_port", s["port"]) != s["port"]:
        # An nginx 1.22 listener speaks HTTP/1 or h2c (prior knowledge), not both.
        h2c = f"        listen 127.0.0.1:{s['h2c_port']} http2;\n"
    return f"""{user}daemon off;
master_process on;
worker_processes {s["workers"] or 1};
worker_rlimit_nofile {s["max_fds"]};
pid {d}/server.pid;
error_log {d}/error.log warn;
events {{
    worker_connections {s["max_conns"]};
}}
http {{
    access_log off;
    log_not_found off;
    types {{
        text/html html;
        application/octet-stream bin;
    }}
    default_type application/octet-stream;
    sendfile on;
    gzip on;
    gzip_static off;
    gzip_comp_level 6;
    gzip_types text/html;
    keepalive_timeout 300s;
    keepalive_requests 65535;
{temps}{extra_rows.nginx_http_blocks(s, FCGI_ON, PROXY_ON)}    server {{
        listen 127.0.0.1:{s["port"]};
{h2c}{tls}        root {s["docroot"]};
        index index.html;
{extra_rows.nginx_locations(s, FCGI_ON, PROXY_ON, GZ100_ON)}    }}
}}
"""


def h2o_conf(s):
    d = s["dir"]
    # h2o switches to "nobody" when started as root unless told otherwise; keep the same user.
    user = f"user: {pwd.getpwuid(0).pw_name}\n" if os.geteuid() == 0 else ""
    # h2o takes one `listen` per host, so the TLS listener is a second host serving the same root.
    hosts = [("default", f"""    listen:
      host: 127.0.0.1
      port: {s["port"]}
""")]
    if s.get("tls_port"):
        # No OCSP stapling: the certificate names no responder, and the fetcher is a process of
        # its own.
        hosts.append(("tls", f"""    listen:
      host: 127.0.0.1
      port: {s["tls_port"]}
      ssl:
        certificate-file: {s["cert"]}
        key-file: {s["key"]}
        minimum-version: {TLS_MIN}
        ocsp-update-interval: 0
"""))
    # h2o cannot turn tickets off per listener, only resumption as a whole.
    resumption = "ssl-session-resumption:\n  mode: off\n" if s.get("tls_port") else ""
    body = "".join(f"""  {name}:
{listen}    paths:
      /:
        file.dir: {s["docroot"]}
        compress: ON
""" for name, listen in hosts)
    return f"""{user}{resumption}num-threads: {s["workers"] or 1}
max-connections: {s["max_conns"]}
http1-request-timeout: 300
pid-file: {d}/server.pid
error-log: {d}/error.log
file.index: [ 'index.html' ]
file.mime.settypes:
  text/html: .html
  application/octet-stream: .bin
hosts:
{body}"""


def prepare(name, s, full=True):
    """Writes the config for server `name`; returns the argv that runs it in the foreground."""
    if name in ("lighttpd", "lux"):
        conf = os.path.join(s["dir"], "lighttpd.conf")
        with open(conf, "w") as f:
            f.write(lighttpd_conf(s, full))
        with open(os.path.join(s["dir"], "magnet.lua"), "w") as f:
            f.write(MAGNET_LUA)
        binary = LUX_RUN if name == "lux" else shutil.which("lighttpd") or "/usr/sbin/lighttpd"
        return [binary, "-D", "-f", conf]
    if name == "nginx":
        conf = os.path.join(s["dir"], "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(s))
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        # -p and -e keep nginx away from /var/log before it has read the config.
        return [binary, "-p", s["dir"] + "/", "-e", f'{s["dir"]}/error.log', "-c", conf]
    conf = os.path.join(s["dir"], "h2o.conf")
    with open(conf, "w") as f:
        f.write(h2o_conf(s))
    return [shutil.which("h2o") or "/usr/bin/h2o", "-c", conf]


# ---------------------------------------------------------------------------------------------
# starting servers and checking them

def http_get(port, path, close=False, timeout=10.0, encoding=None, header=None, send=None,
             body_starts=None, body_is=None):
    """One request on a fresh connection: (status, body length, server keeps the connection).
    With encoding, the request accepts it and the answer must be in it; with header (name,
    value), the answer must carry it. `send` adds request headers; with body_starts (bytes),
    the body must begin with it; with body_is, the body (decoded when encoded) must be it."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = dict(send or {})
        if close:
            headers["Connection"] = "close"
        if encoding:
            headers["Accept-Encoding"] = encoding
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        if encoding and r.getheader("Content-Encoding") != encoding:
            raise ValueError(f"answered with Content-Encoding {r.getheader('Content-Encoding')}")
        if header and r.getheader(header[0]) != header[1]:
            raise ValueError(f"answered without {header[0]}: {header[1]}")
        if body_starts is not None and r.status == 200 and not body.startswith(body_starts):
            raise ValueError(f"answered with a body not starting {body_starts.decode()!r}")
        if body_is is not None:
            plain = extra_rows.decode(encoding, body) if encoding else body
            if plain != body_is:
                raise ValueError(f"answered a body of {len(plain)} bytes (decoded) that is not "
                                 f"the expected {len(body_is)}")
        return r.status, len(body), not r.will_close
    finally:
        conn.close()


def client_tls_context(max_version=None):
    """The checks' TLS client: no verification (the certificate is self-signed and compared
    byte for byte instead), optionally capped at an older protocol version."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if max_version is not None:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = max_version
    return ctx


def https_get(port, path, close=False, timeout=10.0):
    """http_get over TLS; also returns the protocol version and the server's certificate (DER)."""
    import http.client
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout,
                                       context=client_tls_context())
    try:
        conn.connect()
        version, cert = conn.sock.version(), conn.sock.getpeercert(binary_form=True)
        conn.request("GET", path, headers={"Connection": "close"} if close else {})
        r = conn.getresponse()
        body = r.read()
        return r.status, len(body), not r.will_close, version, cert
    finally:
        conn.close()


def resumes_session(port):
    """Whether a client that offers the session of its previous connection gets it resumed."""
    ctx, session, reused = client_tls_context(), None, False
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", port), timeout=5.0) as raw:
            with ctx.wrap_socket(raw, session=session) as c:
                c.sendall(b"GET /f1k.html HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Connection: close\r\n\r\n")
                # Read to the end: TLS 1.3 tickets arrive after the handshake.
                while c.recv(65536):
                    pass
                reused, session = c.session_reused, c.session
    return reused


def accepts_tls12(port):
    """Whether the server completes a TLS 1.2 handshake (it must not: TLS 1.3 only)."""
    import ssl
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5.0) as raw:
            with client_tls_context(ssl.TLSVersion.TLSv1_2).wrap_socket(raw):
                return True
    except (ssl.SSLError, OSError):
        return False


def wait_ready(proc, port):
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            return f"exited with status {code} during start-up"
        try:
            http_get(port, "/", timeout=2.0)
            return None
        except Exception as e:  # any failure just means "not ready yet"
            last = str(e) or type(e).__name__
        time.sleep(0.05)
    return f"no HTTP answer on port {port} after {START_TIMEOUT:.0f} s ({last})"


def start_server(name, tmp, ports, workers, cpus, tag, extra_conf=()):
    """Returns (server dict, None) or (None, reason). lux first gets the full lighttpd config and,
    if it refuses it, the minimal one made of the directives it is known to support. Takes its
    port (and the TLS listener's, when TLS scenarios run) from `ports`. `extra_conf` adds lines
    to the lighttpd config (lux and lighttpd)."""
    port = ports.pop()
    if name == "lux" and not os.access(LUX_RUN, os.X_OK):
        return None, f"{os.path.relpath(LUX_BIN, ROOT)} not found (build it with `make`)"
    d = os.path.join(tmp, f"{tag}-{name}")
    os.makedirs(d, exist_ok=True)
    s = {"name": name, "dir": d, "port": port, "docroot": os.path.join(tmp, "www"),
         "workers": workers if name != "lighttpd" else None, "cpus": cpus,
         "max_conns": IDLE_CONNS + 1000, "full_conf": True,
         "auth_file": os.path.join(tmp, "users.htpasswd"),
         "sites_root": os.path.join(tmp, "sites"), "extra_conf": list(extra_conf),
         "proxy_port": PROXY_BACKEND.get("port"), "helpers": [],
         # Never ask for more descriptors than this process may hand down: without
         # CAP_SYS_RESOURCE even root cannot raise the hard limit.
         "max_fds": min(2 * IDLE_CONNS + 2064, FD_LIMIT)}
    if TLS_ON:
        s.update(tls_port=ports.pop(), cert=TLS_FILES["cert"], key=TLS_FILES["key"])
    # lux, lighttpd and h2o take h2c by prior knowledge on their HTTP/1 listener.
    s["h2c_port"] = ports.pop() if H2_ON and name == "nginx" else port
    if FCGI_ON and name == "nginx":
        why = start_php_pool(s, ports.pop())
        if why:
            return None, why
    reasons = []
    for full in ([True, False] if name == "lux" else [True]):
        argv = prepare(name, s, full)
        if cpus:
            argv = ["taskset", "-c", cpus] + argv
        out_log = os.path.join(d, "stdout.log" if full else "stdout-minimal.log")
        with open(out_log, "wb") as out:
            proc = spawn(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        why = wait_ready(proc, port)
        if why is None:
            s["proc"], s["full_conf"], s["argv"] = proc, full, argv
            return s, None
        stop(proc)
    for helper in s["helpers"]:
        stop(helper)
        lines = (file_tail(out_log, 4) + "\n" + file_tail(os.path.join(d, "error.log"), 4))
        tail = list(dict.fromkeys(ln.strip() for ln in lines.splitlines() if ln.strip()))
        reasons.append(why + (": " + " | ".join(tail) if tail else ""))
    return None, "; then with the minimal config: ".join(reasons)


def start_php_pool(s, port):
    """nginx's php-cgi pool, on the server's CPUs; None once it listens, else why not."""
    s["php_port"] = port
    with open(os.path.join(s["dir"], "php-cgi.log"), "wb") as out:
        proc = subprocess.Popen(extra_rows.php_pool_argv(port, s["cpus"]),
                                env=extra_rows.php_pool_env(), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=ROOT)
    LIVE[proc.pid] = proc
    s["helpers"].append(proc)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"php-cgi -b exited with status {proc.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return None
        except OSError:
            time.sleep(0.05)
    return f"php-cgi -b 127.0.0.1:{port} did not listen within {START_TIMEOUT:.0f} s"


def start_proxy_backend(tmp, port, cpus):
    """The one backend every proxy1k front server talks to: nginx serving the 1 KiB file, pinned
    with wrk (the server's CPU is the front's alone). None once it serves, else why not."""
    d = os.path.join(tmp, "proxy-backend")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(extra_rows.backend_conf(d, port, os.path.join(tmp, "www"), nginx_user_line()))
    argv = [shutil.which("nginx") or "/usr/sbin/nginx", "-p", d + "/", "-e",
            f"{d}/error.log", "-c", conf]
    if cpus:
        argv = ["taskset", "-c", cpus] + argv
    with open(os.path.join(d, "stdout.log"), "wb") as out:
        proc = spawn(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    why = wait_ready(proc, port)
    if why is None:
        try:
            status, length, _ = http_get(port, "/" + extra_rows.PROXY_FILE)
            if (status, length) != (200, 1024):
                why = f"answered {status} with {length} bytes"
        except Exception as e:  # any failure leaves the proxy row without a backend
            why = f"failed: {e or type(e).__name__}"
    if why:
        stop(proc)
        return f"the proxy backend (nginx) {why}"
    PROXY_BACKEND.update(port=port, proc=proc)
    return None


def stop_server(s):
    stop(s["proc"])
    for helper in s.get("helpers", []):
        stop(helper)


def check_scenario(s, scen):
    """None when the server answers the scenario's request as expected, else what went wrong."""
    if scen["id"] == "proxy1k" and PROXY_BACKEND.get("error"):
        return PROXY_BACKEND["error"]
    if scen.get("h2"):
        return check_h2(s, scen)
    if scen.get("auth"):
        return check_auth(s, scen)
    if scen.get("hosts"):
        return check_sites(s, scen)
    paths = [scen["path"]]
    if scen.get("lua") == "random.lua":
        paths += [f"/r/{i:03d}.html" for i in (1, N_RANDOM // 2, N_RANDOM - 1)]
    try:
        for path in paths:
            if scen.get("tls"):
                status, length, keep, version, cert = https_get(s["tls_port"], path,
                                                                close=scen.get("close", False))
                if version != TLS_MIN:
                    return f"GET {path} over TLS negotiated {version}, expected {TLS_MIN}"
                if cert != TLS_FILES["der"]:
                    return f"GET {path} over TLS: the server sent another certificate"
            else:
                status, length, keep = http_get(s["port"], path, close=scen.get("close", False),
                                                encoding=scen.get("encoding"),
                                                header=scen.get("header"),
                                                body_is=expected_body(s, scen),
                                                body_starts=scen.get("body_starts"))
            if status != scen["status"]:
                return f"GET {path} answered {status}, expected {scen['status']}"
            if scen.get("length") is not None and length != scen["length"]:
                return f"GET {path} sent {length} bytes, expected {scen['length']}"
            if not scen.get("close") and not keep:
                return f"GET {path} closed the connection, keep-alive expected"
        if scen.get("tls") and accepts_tls12(s["tls_port"]):
            return f"the TLS listener accepts TLS 1.2; every server is configured {TLS_MIN} only"
        if scen.get("tls") and scen.get("close") and resumes_session(s["tls_port"]):
            return "the TLS listener resumed a session: wrk would skip the full handshake"
    except Exception as e:  # a broken answer of any kind disqualifies the scenario
        return f"GET {paths[0]} failed: {e or type(e).__name__}"
    return None


def expected_body(s, scen):
    """The exact body a scenario must answer with (before any content coding), or None."""
    if scen.get("decodes"):
        with open(os.path.join(s["docroot"], scen["path"].lstrip("/")), "rb") as f:
            return f.read()
    return scen.get("body")


def check_auth(s, scen):
    """The login gets the file over keep-alive; no credentials and a wrong password get 401, so
    the password really is checked."""
    path, login = scen["path"], basic_auth(scen["auth"])
    try:
        status, length, keep = http_get(s["port"], path, send={"Authorization": login},
                                        body_starts=path.split("/")[1].encode())
        if (status, length, keep) != (scen["status"], scen["length"], True):
            return (f"GET {path} as {AUTH_LOGINS[scen['auth']][0]} answered {status} with "
                    f"{length} bytes{'' if keep else ', closing'}; expected {scen['status']} "
                    f"with {scen['length']}, keep-alive")
        for what, send in (("without credentials", {}),
                           ("with a wrong password",
                            {"Authorization": basic_auth(scen["auth"], "wrong")})):
            status = http_get(s["port"], path, send=send)[0]
            if status != 401:
                return f"GET {path} {what} answered {status}, expected 401"
    except Exception as e:  # a broken answer of any kind disqualifies the scenario
        return f"GET {path} failed: {e or type(e).__name__}"
    return None


def access_log_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def check_sites(s, scen):
    """Each vhost answers the rewritten path with its own page over keep-alive, and the access
    log file receives the requests (servers may buffer it briefly)."""
    log_file = os.path.join(s["dir"], "access.log")
    before = access_log_lines(log_file)
    try:
        for host in scen["hosts"]:
            status, length, keep = http_get(s["port"], scen["path"], send={"Host": host},
                                            body_starts=host.encode())
            if (status, length, keep) != (scen["status"], scen["length"], True):
                return (f"GET {scen['path']} for {host} answered {status} with {length} bytes"
                        f"{'' if keep else ', closing'}; expected {scen['status']} with "
                        f"{scen['length']}, keep-alive")
    except Exception as e:  # a broken answer of any kind disqualifies the scenario
        return f"GET {scen['path']} failed: {e or type(e).__name__}"
    deadline = time.monotonic() + 5.0
    while access_log_lines(log_file) < before + len(scen["hosts"]):
        if time.monotonic() > deadline:
            return f"the access log {log_file} did not receive the check's requests in 5 s"
        time.sleep(0.1)
    return None


def check_h2(s, scen):
    """None when curl gets the scenario's answer over HTTP/2 (h2c by prior knowledge, or TLS
    with ALPN h2), else what went wrong."""
    if scen.get("tls"):
        url, opts = f"https://127.0.0.1:{s['tls_port']}{scen['path']}", ["-k", "--http2"]
    else:
        url, opts = f"http://127.0.0.1:{s['h2c_port']}{scen['path']}", ["--http2-prior-knowledge"]
    try:
        r = subprocess.run(["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w",
                            "%{http_version} %{http_code} %{size_download}"] + opts + [url],
                           capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return f"GET {scen['path']} over HTTP/2 did not finish"
    if r.returncode != 0:
        return f"does not answer HTTP/2 ({r.stderr.strip()[:160] or f'curl exit {r.returncode}'})"
    version, status, length = r.stdout.split()
    if version != "2":
        return f"answered over HTTP/{version}, not HTTP/2" + (
            " (no ALPN h2)" if scen.get("tls") else "")
    if int(status) != scen["status"] or int(length) != scen["length"]:
        return f"GET {scen['path']} over HTTP/2 answered {status} with {length} bytes"
    return None


def server_gone(s):
    code = s["proc"].poll()
    if code is None:
        return None
    tail = file_tail(os.path.join(s["dir"], "error.log"), 3).replace("\n", " | ")
    return f"exited with status {code}" + (f" ({tail})" if tail else "")


# ---------------------------------------------------------------------------------------------
# one wrk run

def run_wrk(s, scen, seconds, wrk_cpus, scripts):
    script = scripts[scen.get("lua", "report")]
    argv = ["wrk", "-t1", f"-c{scen.get('conns', CONNS)}", f"-d{seconds}s", "--latency",
            "--timeout", "10s", "-s", script]
    if scen.get("close"):
        argv += ["-H", "Connection: close"]
    if scen.get("encoding"):
        argv += ["-H", f"Accept-Encoding: {scen['encoding']}"]
    if scen.get("auth"):
        argv += ["-H", f"Authorization: {basic_auth(scen['auth'])}"]
    if scen.get("tls"):
        argv.append(f"https://127.0.0.1:{s['tls_port']}{scen['path']}")
    else:
        argv.append(f"http://127.0.0.1:{s['port']}{scen['path']}")
    if scen.get("lua") == "random.lua":
        argv += ["--", str(N_RANDOM)]
    if scen.get("lua_args"):
        argv += ["--"] + scen["lua_args"]
    if wrk_cpus:
        argv = ["taskset", "-c", wrk_cpus] + argv
    cpu0, helper0 = server_cpu_seconds(s)
    proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, new_session=False)
    try:
        out, err = proc.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        stop(proc)
        return {"error": "wrk did not finish"}
    LIVE.pop(proc.pid, None)
    cpu1, helper1 = server_cpu_seconds(s)
    cpu, helper_cpu = cpu1 - cpu0, helper1 - helper0
    line = next((ln for ln in out.decode(errors="replace").splitlines()
                 if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        return {"error": f"wrk failed: {err.decode(errors='replace').strip()[:200]}"}
    w = json.loads(line[len("BENCH_JSON "):])
    secs = w["duration_us"] / 1e6
    n = w["requests"]
    if n == 0:
        return {"error": f"no request completed in {seconds} s"}
    # For the 404 scenario a non-2xx answer is the expected one, so count the others instead.
    unexpected = w["status_errors"] if scen["status"] < 400 else n - w["status_errors"]
    return {
        "requests": n, "seconds": round(secs, 3), "bytes": w["bytes"],
        "rps": n / secs if secs else 0.0,
        "mbps": w["bytes"] / secs / 1e6 if secs else 0.0,
        "lat_avg_us": w["lat_mean_us"], "lat_p50_us": w["lat_p50_us"],
        "lat_p99_us": w["lat_p99_us"], "lat_max_us": w["lat_max_us"],
        "cpu_s": round(cpu, 3),
        "cpu_us_per_req": cpu * 1e6 / n if n else None,
        "cpu_pct": 100.0 * cpu / secs if secs else 0.0,
        "helper_cpu_s": round(helper_cpu, 3),
        "helper_cpu_us_per_req": helper_cpu * 1e6 / n if n else None,
        "socket_errors": w["connect_errors"] + w["read_errors"] + w["write_errors"]
        + w["timeout_errors"],
        "unexpected_status": unexpected,
        "wrk": w,
    }


def run_h2load(s, scen, requests, wrk_cpus, tmp):
    """One h2load run of `requests` requests, measured like run_wrk; latencies come from its
    per-request log."""
    if scen.get("tls"):
        url = f"https://127.0.0.1:{s['tls_port']}{scen['path']}"
    else:
        url = f"http://127.0.0.1:{s['h2c_port']}{scen['path']}"
    req_log = os.path.join(tmp, "h2load-requests.log")
    argv = ["h2load", "-t1", f"-c{scen.get('conns', CONNS)}", f"-m{H2_STREAMS}",
            f"-n{requests}", f"--log-file={req_log}", url]
    if wrk_cpus:
        argv = ["taskset", "-c", wrk_cpus] + argv
    cpu0 = server_cpu_seconds(s)[0]
    proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, new_session=False)
    try:
        out, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        stop(proc)
        return {"error": "h2load did not finish"}
    LIVE.pop(proc.pid, None)
    cpu = server_cpu_seconds(s)[0] - cpu0
    summary = parse_h2load(out.decode(errors="replace"))
    if proc.returncode != 0 or summary is None:
        return {"error": f"h2load failed: {(err or out).decode(errors='replace').strip()[-200:]}"}
    lat = request_latencies(req_log)
    secs, n = summary["seconds"], summary["succeeded"]
    return {
        "requests": n, "seconds": round(secs, 3), "bytes": summary["bytes"],
        "rps": n / secs if secs else 0.0,
        "mbps": summary["bytes"] / secs / 1e6 if secs else 0.0,
        "lat_avg_us": statistics.fmean(lat) if lat else None,
        "lat_p50_us": lat[len(lat) // 2] if lat else None,
        "lat_p99_us": lat[min(len(lat) - 1, len(lat) * 99 // 100)] if lat else None,
        "lat_max_us": lat[-1] if lat else None,
        "cpu_s": round(cpu, 3),
        "cpu_us_per_req": cpu * 1e6 / n if n else None,
        "cpu_pct": 100.0 * cpu / secs if secs else 0.0,
        "socket_errors": summary["failed"],
        "unexpected_status": n - summary["2xx"],
        "h2load": summary,
    }


def parse_h2load(text):
    """h2load's summary: duration, request counts, 2xx answers and bytes; None if absent."""
    import re
    done = re.search(r"finished in ([\d.]+)(ms|s),", text)
    reqs = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, "
                     r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    codes = re.search(r"status codes: (\d+) 2xx", text)
    traffic = re.search(r"traffic: \S+ \((\d+)\) total", text)
    if not (done and reqs and codes and traffic):
        return None
    secs = float(done.group(1)) / (1000 if done.group(2) == "ms" else 1)
    total, ok, failed, errored, timeout = (int(x) for x in reqs.groups())
    return {"seconds": secs, "total": total, "succeeded": ok,
            "failed": failed + errored + timeout, "2xx": int(codes.group(1)),
            "bytes": int(traffic.group(1))}


def request_latencies(path):
    """Sorted per-request times (µs) from h2load's --log-file (start, status, duration)."""
    try:
        with open(path) as f:
            lat = sorted(int(line.split("\t")[2]) for line in f if line.count("\t") >= 2)
        os.remove(path)
        return lat
    except (OSError, ValueError, IndexError):
        return []


# ---------------------------------------------------------------------------------------------
# idle keep-alive connections

def read_response(sock):
    """Reads one HTTP/1.1 response with a Content-Length body; False on anything else."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        return False
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True


def idle_client(port, count, path, tls):
    """Child process: opens `count` keep-alive connections (TLS ones when `tls`), one request
    each, then holds them. Protocol on stdin/stdout: prints "ready OK FAILED", answers "check"
    with "alive N", exits when stdin closes."""
    raise_nofile(count + 256)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    ctx = client_tls_context() if tls else None
    socks, failed, streak = [], 0, 0
    for _ in range(count):
        s = None
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5.0)
            # As wrk does: over TLS the request follows the client's Finished, and Nagle would
            # hold it until the server's delayed ACK, 40 ms per connection.
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if ctx is not None:
                s = ctx.wrap_socket(s)
            s.sendall(request)
            if not read_response(s):
                raise OSError("bad response")
            socks.append(s)
            streak = 0
        except OSError:
            if s is not None:
                s.close()
            failed += 1
            streak += 1
            if streak >= 20:  # the server stopped accepting: do not wait 5 s per socket
                failed = count - len(socks)
                break
    print(f"ready {len(socks)} {failed}", flush=True)
    for line in sys.stdin:
        if line.strip() == "check":
            poller = select.poll()
            # A held connection has nothing to read; readable means closed (or stray bytes).
            # Over TLS only the peer's FIN counts: a late session ticket is readable too.
            events = select.POLLRDHUP if tls else select.POLLIN | select.POLLRDHUP
            for s in socks:
                poller.register(s, events)
            print(f"alive {len(socks) - len(poller.poll(0))}", flush=True)
    return 0


def idle_test(name, tmp, ports, cpus, client_cpus, tag, tls):
    s, why = start_server(name, tmp, ports, 1, cpus, tag)
    if s is None:
        return {"error": why}
    port = s["tls_port"] if tls else s["port"]
    count = TLS_IDLE_CONNS if tls else IDLE_CONNS
    try:
        for _ in range(20):
            if tls:
                https_get(port, "/f1k.html")
            else:
                http_get(port, "/f1k.html")
        time.sleep(0.5)
        pid = s["proc"].pid
        rss0, fds0 = tree_rss_kib(pid), tree_socket_fds(pid)
        argv = [sys.executable, os.path.abspath(__file__), "--idle-client", str(port),
                str(count), "/f1k.html", "tls" if tls else "plain"]
        if client_cpus:
            argv = ["taskset", "-c", client_cpus] + argv
        client = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, new_session=False)
        t0 = time.monotonic()
        ready = client.stdout.readline().decode().split()
        opened_in = time.monotonic() - t0
        if len(ready) != 3 or ready[0] != "ready":
            stop(client)
            return {"error": "idle client failed"}
        time.sleep(1.0)
        rss1, fds1 = tree_rss_kib(pid), tree_socket_fds(pid)
        # Only connections the server still holds count: one that dropped them (idle timeout,
        # connection limit) must not look cheap.
        client.stdin.write(b"check\n")
        client.stdin.flush()
        alive = int(client.stdout.readline().decode().split()[1])
        client.stdin.close()
        client.wait(timeout=60)
        LIVE.pop(client.pid, None)
        gone = server_gone(s)
        opened = int(ready[1])
        return {
            "opened": opened, "failed": int(ready[2]), "alive": alive,
            "open_seconds": round(opened_in, 2), "rss_before_kib": rss0, "rss_after_kib": rss1,
            "server_sockets_before": fds0, "server_sockets_after": fds1,
            "kib_per_conn": (rss1 - rss0) / alive if alive else None,
            "error": f"server {gone}" if gone else None,
        }
    except Exception as e:  # report and carry on with the other servers
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        stop_server(s)


# ---------------------------------------------------------------------------------------------
# passes

METRICS = ("rps", "mbps", "lat_avg_us", "lat_p99_us", "cpu_us_per_req", "cpu_pct",
           "helper_cpu_us_per_req")


def median_of(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def worker_setting(name, workers):
    """What each server's config says about its worker count, as the report states it."""
    if name == "lux":
        return f"server.max-worker = {workers}"
    if name == "lighttpd":
        return "one process (server.max-worker unset)"
    if name == "nginx":
        return f"worker_processes {workers}"
    return f"num-threads: {workers}"


def running_workers(s):
    """The workers a server really runs, where that can be counted from /proc: lux's threads
    besides the main one, nginx's processes besides the master, lighttpd's processes."""
    pid = s["proc"].pid
    try:
        if s["name"] == "lux":
            return len(os.listdir(f"/proc/{pid}/task")) - 1
    except OSError:
        return None
    # The php-cgi processes a server starts for FastCGI are not its workers.
    procs = [p for p in proc_tree(pid) if not proc_comm(p).startswith(extra_rows.HELPER_COMM)]
    if s["name"] == "nginx":
        return len(procs) - 1
    if s["name"] == "lighttpd":
        return len(procs)
    return None


def proc_comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def start_pass_servers(p, tmp, ports):
    live = {}
    for name in p["servers"]:
        s, why = start_server(name, tmp, ports, p["workers"], p["server_cpus"], p["id"])
        if s is None:
            p["skipped"][name] = why
            log(f"  {name:9} skipped: {why}")
            continue
        live[name] = s
        p["config"][name] = "full" if s["full_conf"] else "minimal"
        note = "" if s["full_conf"] else " (rejected the full config; running the minimal one)"
        want = 1 if name == "lighttpd" else p["workers"]
        got = running_workers(s)
        p["worker_settings"][name] = {"config": worker_setting(name, p["workers"]),
                                      "running": got}
        counted = "" if got is None else f", {got} running"
        log(f"  {name:9} pid {s['proc'].pid}, port {s['port']}, "
            f"{worker_setting(name, p['workers'])}{counted}{note}")
        if got is not None and got != want:
            log(f"  {name:9} warning: {got} workers running, {want} configured")
        for scen in SCENARIOS:
            if not runs_in(scen, name, p):
                continue
            why = check_scenario(s, scen)
            if why:
                p["bad"].setdefault(name, {})[scen["id"]] = why
                log(f"  {name:9} scenario {scen['id']} skipped: {why}")
    return live


def measure(s, scen, warmup, p, tmp, scripts):
    """One run of a scenario with its load generator: wrk for a duration, h2load (HTTP/2) for a
    number of requests; the warm-up is a short run of the same."""
    if scen.get("h2"):
        n = H2_REQUESTS // 10 if warmup else H2_REQUESTS
        return run_h2load(s, scen, n, p["wrk_cpus"], tmp)
    return run_wrk(s, scen, WARMUP_SECONDS if warmup else SECONDS, p["wrk_cpus"], scripts)


def run_pass(p, tmp, ports, scripts):
    p.update(skipped={}, bad={}, runs=[], config={}, worker_settings={})
    log(f"\n=== {p['title']}")
    live = start_pass_servers(p, tmp, ports)
    try:
        names = [n for n in p["servers"] if n in live]
        for rnd in range(ROUNDS):
            order = names[rnd % len(names):] + names[:rnd % len(names)] if names else []
            for scen in SCENARIOS:
                for name in order:
                    if name not in live or scen["id"] in p["bad"].get(name, {}):
                        continue
                    if not runs_in(scen, name, p):
                        continue
                    s = live[name]
                    gone = server_gone(s)
                    if gone:
                        p["skipped"][name] = f"died before {scen['id']}: {gone}"
                        log(f"  {name:9} {p['skipped'][name]}")
                        del live[name]
                        continue
                    measure(s, scen, True, p, tmp, scripts)
                    r = measure(s, scen, False, p, tmp, scripts)
                    gone = server_gone(s)
                    if gone and "error" not in r:
                        r = {"error": f"server {gone}"}
                    r.update(server=name, scenario=scen["id"], round=rnd + 1)
                    p["runs"].append(r)
                    log(progress_line(rnd, scen, name, r))
    finally:
        for s in live.values():
            stop_server(s)
    summarise_pass(p)


def runs_in(scen, name, p):
    """Whether a scenario runs for this server in this pass: some are for a few servers, the
    FastCGI one only with one worker (see README)."""
    return (name in scen.get("servers", (name,))
            and scen.get("workers", p["workers"]) == p["workers"])


def progress_line(rnd, scen, name, r, rounds=ROUNDS):
    head = f"  round {rnd + 1}/{rounds} {scen['id']:7} {name:9}"
    if "error" in r:
        return f"{head} ERROR {r['error']}"
    cpu = r["cpu_us_per_req"]
    cpu_s = f"{cpu:8.2f} µs/req" if cpu is not None else "       - µs/req"
    return (f"{head} {r['rps']:>10,.0f} req/s {cpu_s}  cpu {r['cpu_pct']:3.0f}%"
            f"  p99 {fmt_lat(r['lat_p99_us'])}")


def summarise_pass(p):
    p["median"] = {}
    for name in p["servers"]:
        for scen in SCENARIOS:
            rows = [r for r in p["runs"] if r["server"] == name and r["scenario"] == scen["id"]
                    and "error" not in r]
            if not rows:
                continue
            m = {k: median_of(rows, k) for k in METRICS}
            m["rounds"] = len(rows)
            m["socket_errors"] = sum(r["socket_errors"] for r in rows)
            m["unexpected_status"] = sum(r["unexpected_status"] for r in rows)
            p["median"].setdefault(name, {})[scen["id"]] = m
    have = [n for n in p["servers"] if n in p["median"]]
    base = next((n for n in ("lux", "lighttpd", "nginx") if n in have), have[0] if have else None)
    p["baseline"] = base
    p["ratios"] = {}
    for name in have:
        for scen in SCENARIOS:
            mine = p["median"][name].get(scen["id"], {}).get("cpu_us_per_req")
            ref = p["median"].get(base, {}).get(scen["id"], {}).get("cpu_us_per_req")
            if mine and ref:
                p["ratios"].setdefault(name, {})[scen["id"]] = mine / ref


def run_idle(tmp, ports, servers, cpus, client_cpus, tls=False):
    count = TLS_IDLE_CONNS if tls else IDLE_CONNS
    kind = "TLS keep-alive" if tls else "keep-alive"
    idle = {"connections": count, "tls": tls, "runs": [], "median": {}, "skipped": {},
            "short": {}}
    log(f"\n=== Idle {kind} connections: {count:,} per server, one worker")
    for rnd in range(ROUNDS):
        order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
        for name in order:
            if name in idle["skipped"]:
                continue
            tag = f"{'tlsidle' if tls else 'idle'}{rnd + 1}"
            r = idle_test(name, tmp, ports, cpus, client_cpus, tag, tls)
            r.update(server=name, round=rnd + 1)
            idle["runs"].append(r)
            if r.get("opened") is None:
                idle["skipped"][name] = r["error"]
                log(f"  round {rnd + 1}/{ROUNDS} {name:9} skipped: {r['error']}")
                continue
            kib = r["kib_per_conn"]
            log(f"  round {rnd + 1}/{ROUNDS} {name:9} opened {r['opened']:,} "
                f"(still open {r['alive']:,}) in {r['open_seconds']} s, "
                f"RSS {r['rss_before_kib']:,} -> {r['rss_after_kib']:,} KiB, "
                + (f"{kib:.2f} KiB/conn" if kib is not None else "no connection held")
                + (f"  [{r['error']}]" if r.get("error") else ""))
    for name in servers:
        rows = [r for r in idle["runs"] if r["server"] == name and r.get("opened") is not None]
        if rows:
            idle["median"][name] = {k: median_of(rows, k) for k in (
                "opened", "alive", "rss_before_kib", "rss_after_kib", "kib_per_conn")}
            if any(r["alive"] < count for r in rows):
                idle["short"][name] = min(r["alive"] for r in rows)
    return idle


def run_metrics(tmp, ports, cpus, wrk_cpus, scripts):
    """The 1k request on two lux instances, one with mod_status and status.metrics-url, one
    without, both running the whole time, in interleaved rounds (the order alternating); each
    round's difference in CPU per request is with / without - 1."""
    res = {"rounds": METRICS_ROUNDS, "config": extra_rows.METRICS_CONF, "runs": [], "diffs": [],
           "median": {}, "error": None}
    log(f"\n=== metrics: lux with and without status.metrics-url, {METRICS_ROUNDS} rounds")
    live = {}
    try:
        for variant, extra in (("without", ()), ("with", extra_rows.METRICS_CONF)):
            s, why = start_server("lux", tmp, ports, 1, cpus, f"metrics-{variant}", extra)
            if s is None:
                res["error"] = f"lux {variant} metrics: {why}"
                break
            live[variant] = s
            why = check_scenario(s, METRICS_SCENARIO) or check_metrics_url(s, variant == "with")
            if why:
                res["error"] = f"lux {variant} metrics: {why}"
                break
        if res["error"]:
            log(f"  skipped: {res['error']}")
            return res
        for rnd in range(METRICS_ROUNDS):
            pair = {}
            for variant in ("without", "with") if rnd % 2 == 0 else ("with", "without"):
                run_wrk(live[variant], METRICS_SCENARIO, WARMUP_SECONDS, wrk_cpus, scripts)
                r = run_wrk(live[variant], METRICS_SCENARIO, SECONDS, wrk_cpus, scripts)
                r.update(variant=variant, round=rnd + 1)
                res["runs"].append(r)
                pair[variant] = r
                log(progress_line(rnd, METRICS_SCENARIO, f"{variant:7}", r, METRICS_ROUNDS))
            if all(pair[v].get("cpu_us_per_req") for v in pair):
                diff = extra_rows.percent_diff(pair["with"]["cpu_us_per_req"],
                                               pair["without"]["cpu_us_per_req"])
                res["diffs"].append(diff)
                log(f"  round {rnd + 1}/{METRICS_ROUNDS} with / without - 1: {diff:+.1f}%")
    finally:
        for s in live.values():
            stop_server(s)
    for variant in ("without", "with"):
        done = [r for r in res["runs"] if r["variant"] == variant and "error" not in r]
        if done:
            res["median"][variant] = {k: median_of(done, k) for k in METRICS}
    return res


def check_metrics_url(s, configured):
    """With the metrics URL configured it must answer the Prometheus text; without, 404, so
    the two instances really differ by it."""
    url = extra_rows.METRICS_URL
    try:
        status, _, _ = http_get(s["port"], url, body_starts=b"# HELP")
    except Exception as e:  # a broken answer of any kind disqualifies the row
        return f"GET {url} failed: {e or type(e).__name__}"
    want = 200 if configured else 404
    return None if status == want else f"GET {url} answered {status}, expected {want}"


# ---------------------------------------------------------------------------------------------
# report

def fmt_lat(us):
    if us is None:
        return "-"
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us:.0f} µs"


def table(headers, rows, indent="  "):
    """Left-aligns the first column, right-aligns the rest; width is each column's longest cell."""
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for n, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        out.append(indent + "  ".join(parts).rstrip())
        if n == 0:
            out.append(indent + "  ".join("-" * w for w in widths))
    return "\n".join(out)


def scenario_desc(scen):
    what = {"random.lua": "random GET /r/000.html..999.html",
            "unique.lua": "GET /miss/<run>/<counter>"}.get(scen.get("lua"), f"GET {scen['path']}")
    if scen.get("hosts"):
        what += f" for Host {', '.join(scen['hosts'])} in turn (lua/sites.lua)"
    if scen.get("auth"):
        what += f", Authorization: Basic ({AUTH_LOGINS[scen['auth']][0]})"
    if scen.get("h2"):
        return (f"{what}, h2load -t 1 -c {scen.get('conns', CONNS)} -m {H2_STREAMS} "
                f"-n {H2_REQUESTS:,}" + (", TLS 1.3 ALPN h2" if scen.get("tls") else ", h2c"))
    extra = ", Connection: close" if scen.get("close") else ", keep-alive"
    if scen.get("tls"):
        extra += f", HTTPS ({TLS_MIN}, ECDSA P-256)"
    return f"{what}, wrk -t 1 -c {scen.get('conns', CONNS)}{extra}"


def report_pass(p):
    log(f"\n##### {p['title']}")
    log(f"  {p['placement']}")
    log("  workers: " + "; ".join(f"{n} {w['config']}"
                                  for n, w in p["worker_settings"].items()))
    log(f"  median of {ROUNDS} round(s) x {SECONDS} s per server and scenario (1 s warm-up each)"
        + (f"; HTTP/2: {H2_REQUESTS:,} requests per run (a tenth as warm-up)" if H2_ON else ""))
    shown = [scen for scen in SCENARIOS if any(runs_in(scen, n, p) for n in p["servers"])]
    for n, scen in enumerate(shown, 1):
        log(f"\n{n}. {scen['title']}  ({scenario_desc(scen)})")
        table_rows, notes = [], []
        helper = scen.get("helper")
        for name in p["servers"]:
            if not runs_in(scen, name, p):
                continue
            m = p["median"].get(name, {}).get(scen["id"])
            if m is None:
                why = p["bad"].get(name, {}).get(scen["id"]) or p["skipped"].get(name)
                table_rows.append([name, "skipped"] + ["-"] * (7 if helper else 6))
                notes.append(f"  {name}: {why or 'every run failed (see the progress lines)'}")
                continue
            errs = m["socket_errors"] + m["unexpected_status"]
            row = [name, f"{m['rps']:,.0f}", f"{m['mbps']:,.1f}", fmt_lat(m["lat_avg_us"]),
                   fmt_lat(m["lat_p99_us"]), f"{m['cpu_us_per_req']:.2f}",
                   f"{m['cpu_pct']:.0f}%", f"{errs:,}"]
            if helper:
                row.insert(6, f"{m['helper_cpu_us_per_req']:.2f}")
            table_rows.append(row)
        headers = ["server", "req/s", "MB/s", "lat avg", "lat p99", "CPU µs/req", "server CPU",
                   "errors"]
        if helper:
            headers.insert(6, f"{helper} µs/req")
        log(table(headers, table_rows))
        if helper:
            log(f"  CPU µs/req is the server's own; {helper} µs/req the {helper} processes' "
                "(not in the server's figure)")
        for note in notes:
            log(note)


def report_summary(passes, idles, metrics=None):
    if passes:
        log("\n##### Summary: server CPU time per request, µs (median; lower is better)")
    for p in passes:
        base = p["baseline"]
        names = [n for n in p["servers"] if n in p["median"]]
        if not names:
            log(f"\n  {p['title']}: no results")
            continue
        others = [n for n in names if n != base]
        log(f"\n  {p['title']}; ratio = server / {base} (above 1: {base} uses less CPU)")
        rows = []
        for scen in SCENARIOS:
            if not any(runs_in(scen, n, p) for n in names):
                continue
            row = [scen["id"]]
            for name in names:
                m = p["median"][name].get(scen["id"])
                row.append(f"{m['cpu_us_per_req']:.2f}" if m else "-")
            for name in others:
                ratio = p["ratios"].get(name, {}).get(scen["id"])
                row.append(f"{ratio:.2f}" if ratio else "-")
            rows.append(row)
        log(table(["scenario"] + names + [f"{n}/{base}" for n in others], rows, "    "))
    for idle in idles:
        report_idle(idle)
    if metrics:
        report_metrics(metrics)


def report_metrics(res):
    log("\n##### The cost of lux's metrics: 1 KiB file, keep-alive, lux with "
        f"{' and '.join(res['config'])} vs without")
    if res["error"]:
        log(f"  skipped: {res['error']}")
        return
    table_rows = []
    for variant in ("without", "with"):
        m = res["median"].get(variant)
        if m:
            table_rows.append([variant, f"{m['rps']:,.0f}", f"{m['cpu_us_per_req']:.2f}",
                               f"{m['cpu_pct']:.0f}%"])
    log(table(["metrics-url", "req/s", "CPU µs/req", "server CPU"], table_rows))
    diffs = res["diffs"]
    if diffs:
        log(f"  CPU per request, with / without - 1, median of {len(diffs)} rounds: "
            f"{statistics.median(diffs):+.1f}% (rounds: "
            + ", ".join(f"{d:+.1f}%" for d in diffs)
            + f"; range {min(diffs):+.1f}% .. {max(diffs):+.1f}%)")


def report_idle(idle):
    kind = "TLS keep-alive" if idle["tls"] else "keep-alive"
    log(f"\n##### Idle {kind} connections: {idle['connections']:,} opened, "
        "one request each, then held")
    rows = []
    for name, m in idle["median"].items():
        kib = m["kib_per_conn"]
        rows.append([name, f"{m['alive']:,.0f}", f"{m['rss_before_kib']:,.0f}",
                     f"{m['rss_after_kib']:,.0f}", f"{kib:.2f}" if kib is not None else "-"])
    for name in idle["skipped"]:
        rows.append([name, "skipped", "-", "-", "-"])
    log(table(["server", "still open", "RSS before KiB", "RSS after KiB", "KiB/conn"], rows))
    for name, why in idle["skipped"].items():
        log(f"  {name}: {why}")
    for name, alive in idle["short"].items():
        log(f"  {name}: held only {alive:,} of {idle['connections']:,} in some round (it closed "
            "the rest: idle timeout or connection limit); KiB/conn divides by those held")


# ---------------------------------------------------------------------------------------------
# main

def versions(servers):
    v = {"wrk": tool_version(["wrk", "-v"], any_status=True), "python": platform.python_version(),
         "h2load": tool_version(["h2load", "--version"]) if H2_ON else None,
         "kernel": platform.release(), "cpus": os.cpu_count(),
         "php-cgi": tool_version([extra_rows.PHP_CGI, "-v"]) if FCGI_ON else None}
    for name in servers:
        if name == "lux":
            v["lux"] = tool_version([LUX_RUN, "-v"])
            v["lux_git"] = tool_version(["git", "-C", ROOT, "describe", "--always", "--dirty"])
        else:
            v[name] = tool_version([name, "-v"])
    return v


def plan(servers, pinned):
    """The two passes: one worker everywhere, then two workers for the servers that have them."""
    one = {"id": "pass1", "title": "Pass 1: one worker each", "workers": 1, "servers": servers,
           "server_cpus": "1" if pinned else None, "wrk_cpus": "0" if pinned else None,
           "placement": "server pinned to CPU 1, wrk pinned to CPU 0" if pinned
           else "no pinning (fewer than two usable CPUs)"}
    two_servers = [n for n in servers if n != "lighttpd"]
    two = {"id": "pass2", "title": f"Pass 2: two workers ({', '.join(two_servers)})",
           "workers": 2, "servers": two_servers,
           "server_cpus": None, "wrk_cpus": "0" if pinned else None,
           "placement": "server free to use both CPUs, wrk pinned to CPU 0: they share a core, "
           "so req/s understate the server; compare CPU/request.\n  lighttpd is left out: "
           "it scales with separate processes, not workers of one server"}
    return [one, two] if PASS2 and two["servers"] else [one]


def make_certificate(tmp):
    """One self-signed ECDSA P-256 certificate for every server's TLS listener."""
    import ssl
    cert, key = os.path.join(tmp, "tls-cert.pem"), os.path.join(tmp, "tls-key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        sys.exit(f"bench: openssl could not make the certificate: {r.stderr.strip()[:300]}")
    with open(cert) as f:
        TLS_FILES.update(cert=cert, key=key, der=ssl.PEM_cert_to_DER_cert(f.read()))


def resumption_server(port_box, reused, done):
    """Thread: a TLS server that answers every request with Connection: close and records, per
    connection, whether the client resumed a session (it issues session tickets, so a client
    that keeps and offers them would resume)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(TLS_FILES["cert"], TLS_FILES["key"])
    with socket.create_server(("127.0.0.1", 0)) as srv:
        srv.settimeout(0.2)
        port_box.append(srv.getsockname()[1])
        while not done.is_set():
            try:
                raw, _ = srv.accept()
            except OSError:
                continue
            try:
                raw.settimeout(2.0)
                with ctx.wrap_socket(raw, server_side=True) as c:
                    buf = b""
                    while b"\r\n\r\n" not in buf:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        buf += chunk
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                              b"Connection: close\r\n\r\nok")
                    reused.append(c.session_reused)
            except OSError:
                raw.close()


def count_resumptions(client):
    """Runs client(port) against resumption_server; returns (connections, resumed)."""
    import threading
    port_box, reused, done = [], [], threading.Event()
    t = threading.Thread(target=resumption_server, args=(port_box, reused, done), daemon=True)
    t.start()
    while not port_box and t.is_alive():
        time.sleep(0.01)
    try:
        client(port_box[0])
    finally:
        done.set()
        t.join()
    return len(reused), sum(reused)


def wrk_client(port):
    subprocess.run(["wrk", "-t1", "-c2", "-d1s", "-H", "Connection: close",
                    f"https://127.0.0.1:{port}/"], capture_output=True, timeout=60)


def check_wrk_resumption():
    """Whether wrk resumes TLS sessions when the server lets it: the reason every server's TLS
    listener issues no tickets (check_scenario then confirms each refuses to resume). A Python
    client that does resume is counted first, so a probe that cannot see resumption says so."""
    _, control = count_resumptions(resumes_session)
    conns, resumed = count_resumptions(wrk_client)
    result = {"control_resumed": control, "wrk_connections": conns, "wrk_resumed": resumed}
    log(f"TLS resumption probe (a server that issues tickets): wrk resumed {resumed:,} of "
        f"{conns:,} connections, a resuming client {control} of 1 resumable; the benchmarked "
        "servers issue no tickets, so every tlsnew connection is a full handshake")
    if control != 1:
        log("bench: warning: the resumption probe cannot see resumption")
    return result


def setup(tmp):
    log(f"generating document root and configs in {os.path.relpath(tmp, ROOT)}")
    make_docroot(os.path.join(tmp, "www"))
    with open(os.path.join(HERE, "lua", "report.lua")) as f:
        report = f.read()
    scripts = {"report": os.path.join(tmp, "wrk-report.lua")}
    with open(scripts["report"], "w") as f:
        f.write(report)
    if TLS_ON:
        make_certificate(tmp)
    if AUTH_ON:
        log(f"generating an htpasswd file of {AUTH_USERS:,} users")
        make_htpasswd(os.path.join(tmp, "users.htpasswd"))
    if SITES_ON:
        make_sites(os.path.join(tmp, "sites"))
    for name in ("random.lua", "unique.lua", "sites.lua"):
        with open(os.path.join(HERE, "lua", name)) as f:
            body = f.read()
        scripts[name] = os.path.join(tmp, "wrk-" + name)
        with open(scripts[name], "w") as f:
            f.write(body + "\n" + report)
    return scripts


def main():
    global FD_LIMIT, LUX_RUN
    if len(sys.argv) == 6 and sys.argv[1] == "--idle-client":
        return idle_client(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5] == "tls")
    for tool in ("wrk", "taskset") + (("h2load", "curl") if H2_ON else ()):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} not found (make deps-test installs it)")
    wanted = os.environ.get("BENCH_SERVERS", "lux,lighttpd,nginx,h2o").split(",")
    servers = []
    for name in (n.strip() for n in wanted if n.strip()):
        if name not in ("lux", "lighttpd", "nginx", "h2o"):
            sys.exit(f"bench: unknown server {name!r} in BENCH_SERVERS")
        if name != "lux" and shutil.which(name) is None:
            log(f"bench: {name} not installed, left out")
            continue
        servers.append(name)
    if "lux" in servers and not os.access(LUX_BIN, os.X_OK):
        log(f"bench: lux skipped: {os.path.relpath(LUX_BIN, ROOT)} not found "
            "(build it with `make`)")
    pinned = {0, 1} <= os.sched_getaffinity(0)
    nofile = FD_LIMIT = raise_nofile(2 * IDLE_CONNS + 4096)
    if nofile < 2 * IDLE_CONNS:
        log(f"bench: warning: open-file limit {nofile} is below {2 * IDLE_CONNS}: lighttpd will "
            f"hold at most {nofile // 2} idle connections; raise the hard limit (ulimit -Hn) "
            "or lower BENCH_IDLE_CONNS")

    os.makedirs(OUT_DIR, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="run-", dir=OUT_DIR)
    # SIGINT too: a shell that starts us in the background leaves it ignored, and Python then
    # would not turn it into KeyboardInterrupt.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    ok = interrupted = False
    try:
        if "lux" in servers and os.access(LUX_BIN, os.X_OK):
            # A private copy: a rebuild during the run must not change or remove the binary
            # between passes.
            LUX_RUN = os.path.join(tmp, "lux")
            shutil.copy2(LUX_BIN, LUX_RUN)
        scripts = setup(tmp)
        # Every server start takes a port, one more for the TLS listener when TLS runs, and one
        # more for nginx's h2c listener when HTTP/2 runs.
        ports = pick_ports(3 * (4 * len(servers) + 2 * ROUNDS * len(servers)) + 12)
        passes = plan(servers, pinned)
        results = {"meta": {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rounds": ROUNDS,
                            "seconds": SECONDS, "warmup_seconds": WARMUP_SECONDS,
                            "connections": CONNS, "user": pwd.getpwuid(os.geteuid()).pw_name,
                            "open_file_limit": nofile, "versions": versions(servers)},
                   "scenarios": SCENARIOS, "passes": passes, "idle": None, "idle_tls": None,
                   "metrics": None}
        if TLS_ON:
            results["meta"]["tls"] = {"protocol": TLS_MIN, "certificate": "ECDSA P-256",
                                      "resumption": check_wrk_resumption()}
        if PROXY_ON:
            why = start_proxy_backend(tmp, ports.pop(), passes[0]["wrk_cpus"])
            PROXY_BACKEND.setdefault("error", why)
            if why:
                log(f"bench: proxy1k skipped: {why}")
        if SCENARIOS:
            run_pass(passes[0], tmp, ports, scripts)
            report_pass(passes[0])
        if "idle" in ONLY:
            results["idle"] = run_idle(tmp, ports, servers, passes[0]["server_cpus"],
                                       passes[0]["wrk_cpus"])
        if "tlsidle" in ONLY:
            results["idle_tls"] = run_idle(tmp, ports, servers, passes[0]["server_cpus"],
                                           passes[0]["wrk_cpus"], tls=True)
        if METRICS_ON and "lux" in servers:
            results["metrics"] = run_metrics(tmp, ports, passes[0]["server_cpus"],
                                             passes[0]["wrk_cpus"], scripts)
        for p in passes[1:] if SCENARIOS else []:
            run_pass(p, tmp, ports, scripts)
            report_pass(p)
        if not SCENARIOS:
            passes.clear()
        report_summary(passes, [i for i in (results["idle"], results["idle_tls"]) if i],
                       results["metrics"])
        out = os.path.join(OUT_DIR, "results.json")
        with open(out, "w") as f:
            json.dump(results, f, indent=1, default=str)
        log(f"\nraw results: {os.path.relpath(out, ROOT)}")
        ok = True
    except (KeyboardInterrupt, Abort) as e:
        log(f"\nbench: interrupted ({e or 'SIGINT'}); stopping servers")
        interrupted = True
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_all()
        if (ok or interrupted) and not KEEP:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"bench: kept {os.path.relpath(tmp, ROOT)} (configs and logs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
