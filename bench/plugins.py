"""A module's cost per request: one key-value GET as a loaded C module (mod_kv) and as a
mod_magnet script (bench/lua/kv.lua) in lux and in lighttpd, with a static 16-byte file on
each server for reference.

    make all plugins && python3 bench/plugins.py     (BENCH_SECONDS, BENCH_ROUNDS as for bench/run)

lux (one worker, mod_kv and mod_magnet loaded) and lighttpd (mod_magnet) serve from 127.0.0.1,
both pinned to CPU 1 and both running the whole time; wrk (-t1 -c50, pinned to CPU 0) drives
one row at a time, after a 1 s warm-up, the row order rotating from round to round. The
server's CPU time (utime + stime, and its reaped children's, from /proc) over the run, divided
by the requests, is the cost. Before measuring, every row's URL must answer 200 with the
16-byte value, and the script must answer 404 for a missing key; lighttpd's rows are left out
(with the reason) when /usr/sbin/lighttpd is missing or does not start.
"""

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUX = os.environ.get("BENCH_LUX", os.path.join(ROOT, "build", "lux"))
LIGHTTPD = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
PLUGINS = os.path.join(ROOT, "build", "plugins")
KV_LUA = os.path.join(ROOT, "bench", "lua", "kv.lua")
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
HZ = os.sysconf("SC_CLK_TCK")
VALUE = b"0123456789abcdef"  # 16 bytes, as the static file
SERVER_CPU, WRK_CPU = "1", "0"

# (row, server, path); the first row is the baseline of the ratios.
ROWS = [
    ("lux mod_kv (C)", "lux", "/api/kv/k16"),
    ("lux mod_magnet kv.lua", "lux", "/lua/kv/k16"),
    ("lighttpd mod_magnet kv.lua", "lighttpd", "/lua/kv/k16"),
    ("lux static 16 B", "lux", "/f16.txt"),
    ("lighttpd static 16 B", "lighttpd", "/f16.txt"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of the process (all its threads) and of its reaped children."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / HZ


def wait_ready(port, proc):
    """None when the server accepts connections, else why not."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with status {proc.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return None
        except OSError:
            time.sleep(0.05)
    return "did not start within 10 s"


def write_config(tmp, name, port):
    """The config both servers read, plus mod_kv and one worker for lux."""
    lines = [f'server.document-root = "{tmp}/www"', 'server.bind = "127.0.0.1"',
             f"server.port = {port}", f'server.errorlog = "{tmp}/{name}-error.log"',
             f'server.pid-file = "{tmp}/{name}.pid"',
             "server.max-keep-alive-requests = 65535", "server.max-keep-alive-idle = 300",
             'server.modules = ( "mod_magnet" )',
             f'$HTTP["url"] =~ "^/lua/kv/" {{ magnet.attract-raw-url-to = ( "{KV_LUA}" ) }}']
    if name == "lux":
        lines += ["server.max-worker = 1", 'server.modules += ( "mod_kv" )']
    path = os.path.join(tmp, f"{name}.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def start(tmp, name):
    """Starts one server pinned to SERVER_CPU: (proc, base URL) or (None, reason)."""
    port = free_port()
    conf = write_config(tmp, name, port)
    argv = [LUX, "-D", "-f", conf, "-m", PLUGINS] if name == "lux" else [LIGHTTPD, "-D", "-f", conf]
    if not os.access(argv[0], os.X_OK):
        return None, f"{argv[0]} not found"
    out = open(os.path.join(tmp, f"{name}-stdout.log"), "wb")
    proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + argv, stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out.close()
    why = wait_ready(port, proc)
    if why:
        stop(proc)
        return None, why
    return proc, f"http://127.0.0.1:{port}"


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def get(url):
    """(status, body) of one GET."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def check_row(base, path):
    """None when the row's URL answers as expected, else what it answered."""
    status, body = get(base + path)
    if (status, body) != (200, VALUE):
        return f"GET {path}: {status} {body[:60]!r}, expected 200 {VALUE!r}"
    if path.startswith("/lua/kv/"):
        status, _ = get(base + "/lua/kv/missing")
        if status != 404:
            return f"GET /lua/kv/missing: {status}, expected 404"
    return None


def wrk(url, seconds):
    argv = ["taskset", "-c", WRK_CPU, "wrk", "-t1", "-c50", f"-d{seconds}s", url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout


def measure(pid, url):
    """(server CPU µs per request, req/s, server CPU %) over one wrk run of url."""
    wrk(url, 1)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    out = wrk(url, SECONDS)
    cpu, wall = cpu_seconds(pid) - cpu0, time.monotonic() - t0
    if re.search(r"Non-2xx|Socket errors", out):
        sys.exit(f"errors from {url}:\n{out}")
    n = int(re.search(r"(\d+) requests in", out).group(1))
    return cpu * 1e6 / n, n / SECONDS, 100 * cpu / wall


def run_rounds(rows, servers):
    """Every row once per round, the order rotating from round to round."""
    results = {row: [] for row, _, _ in rows}
    for r in range(ROUNDS):
        for row, server, path in rows[r % len(rows):] + rows[:r % len(rows)]:
            proc, base = servers[server]
            results[row].append(measure(proc.pid, base + path))
    return results


def report(rows, results, skipped):
    med = {row: [statistics.median(x[i] for x in results[row]) for i in range(3)]
           for row, _, _ in rows}
    base = med[rows[0][0]][0]
    static = {srv: med[row][0] for row, srv, path in rows if path == "/f16.txt"}
    print(f"\n{ROUNDS} rounds x {SECONDS} s, median; server pinned to CPU {SERVER_CPU}, "
          f"wrk -t1 -c50 to CPU {WRK_CPU}")
    print(f"| row | CPU µs/req | req/s | server CPU | / {rows[0][0]} | / same server's static |")
    print("|---|---|---|---|---|---|")
    for row, srv, _ in rows:
        us, rps, busy = med[row]
        st = f"{us / static[srv]:.2f}" if srv in static else "-"
        print(f"| {row} | {us:.2f} | {rps:,.0f} | {busy:.0f}% | {us / base:.2f} | {st} |")
    for row, why in skipped:
        print(f"skipped {row}: {why}")
    for row, _, _ in rows:
        print(f"{row}: rounds " + ", ".join(f"{x[0]:.2f}" for x in results[row]))


def main():
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed")
    tmp = tempfile.mkdtemp(prefix="lux-bench-plugins-")
    os.makedirs(os.path.join(tmp, "www"))
    with open(os.path.join(tmp, "www", "f16.txt"), "wb") as f:
        f.write(VALUE)
    servers, skipped = {}, []
    try:
        for name in ("lux", "lighttpd"):
            proc, base = start(tmp, name)
            if proc is None:
                if name == "lux":
                    sys.exit(f"lux: {base}")
                skipped += [(row, f"lighttpd {base}") for row, srv, _ in ROWS if srv == name]
                continue
            servers[name] = (proc, base)
        _, lux_base = servers["lux"]
        put = urllib.request.Request(lux_base + "/api/kv/k16", data=VALUE, method="PUT")
        urllib.request.urlopen(put, timeout=5).read()
        rows = []
        for row, server, path in ROWS:
            if server not in servers:
                continue
            why = check_row(servers[server][1], path)
            if why:
                skipped.append((row, why))
            else:
                rows.append((row, server, path))
        if not rows or rows[0] != ROWS[0]:
            sys.exit("the baseline row failed its check: " + "; ".join(w for _, w in skipped))
        report(rows, run_rounds(rows, servers), skipped)
    finally:
        for proc, _ in servers.values():
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
