"""A loaded module's cost per request: mod_kv's GET of one key against a static 16-byte file.

    make all plugins && python3 bench/plugins.py     (BENCH_SECONDS, BENCH_ROUNDS as for bench/run)

One lux (one worker) serves both from 127.0.0.1; wrk (-t1 -c50) asks for each in turn; the
server's CPU time (utime + stime from /proc) over the run, divided by the requests, is the cost.
Prints the median of the rounds and kv's cost as a multiple of the static file's.
"""

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUX = os.environ.get("BENCH_LUX", os.path.join(ROOT, "build", "lux"))
PLUGINS = os.path.join(ROOT, "build", "plugins")
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
HZ = os.sysconf("SC_CLK_TCK")
VALUE = b"0123456789abcdef"  # 16 bytes, as the static file


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def wait_ready(port, proc):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"lux exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("lux did not start")


def wrk_cpu_per_request(pid, url):
    """Server CPU µs per request over one wrk run of url."""
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(["wrk", "-t1", "-c50", f"-d{SECONDS}s", url], capture_output=True,
                         text=True, timeout=SECONDS + 60).stdout
    cpu = cpu_seconds(pid) - cpu0
    n = int(re.search(r"(\d+) requests in", out).group(1))
    if re.search(r"Non-2xx", out):
        sys.exit(f"unexpected statuses from {url}:\n{out}")
    return cpu * 1e6 / n, n / SECONDS


def main():
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (apt-get install wrk)")
    tmp = tempfile.mkdtemp(prefix="lux-bench-plugins-")
    port = free_port()
    os.makedirs(os.path.join(tmp, "www"))
    with open(os.path.join(tmp, "www", "f16.txt"), "wb") as f:
        f.write(VALUE)
    with open(os.path.join(tmp, "lux.conf"), "w") as f:
        f.write(f'server.document-root = "{tmp}/www"\nserver.bind = "127.0.0.1"\n'
                f'server.port = {port}\nserver.max-worker = 1\n'
                f'server.errorlog = "{tmp}/error.log"\nserver.modules = ( "mod_kv" )\n')
    proc = subprocess.Popen([LUX, "-D", "-f", os.path.join(tmp, "lux.conf"), "-m", PLUGINS])
    try:
        wait_ready(port, proc)
        base = f"http://127.0.0.1:{port}"
        put = urllib.request.Request(base + "/api/kv/k16", data=VALUE, method="PUT")
        urllib.request.urlopen(put, timeout=5).read()
        rows = {"static 16 B": [], "kv GET 16 B": []}
        for _ in range(ROUNDS):
            rows["static 16 B"].append(wrk_cpu_per_request(proc.pid, base + "/f16.txt"))
            rows["kv GET 16 B"].append(wrk_cpu_per_request(proc.pid, base + "/api/kv/k16"))
        med = {k: statistics.median(c for c, _ in v) for k, v in rows.items()}
        for k, v in rows.items():
            print(f"{k:12} {med[k]:7.2f} µs/req  {statistics.median(r for _, r in v):10,.0f} req/s")
        print(f"kv / static: {med['kv GET 16 B'] / med['static 16 B']:.2f}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
