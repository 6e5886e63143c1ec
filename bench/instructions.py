"""Instructions per request, counted by callgrind: the same 1 KiB static file over HTTP/1.1
keep-alive and over h2c (HTTP/2 by prior knowledge), from lux, lighttpd and h2o, one worker
each. Unlike CPU time, the count hardly moves with other load on the machine, so small changes
show and servers compare on a noisy machine.

    make all && python3 bench/instructions.py

Each server runs twice under `valgrind --tool=callgrind`: once answering the warm-up only
(INSTR_WARMUP requests, default 2,000), once the warm-up and then INSTR_REQUESTS more (default
20,000); the difference divided by INSTR_REQUESTS is the cost of a request, start-up, warm-up
and shutdown cancelled out. The load comes from h2load (-c 50; -m 10 streams per connection
for h2c, one request at a time for HTTP/1.1), so a connection's set-up is spread over 400
requests. Every response must be a 2xx. For lux the share spent inside libnghttp2 is shown
too: the part of an h2c request no change to lux itself can remove.

INSTR_SERVERS (lux,lighttpd,h2o) and INSTR_MODES (h1,h2c) choose the rows; BENCH_LUX another
lux binary. A server that is not installed is left out with a note. Expect a few minutes per
server: callgrind runs the server some 50 times slower.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUX = os.environ.get("BENCH_LUX", os.path.join(ROOT, "build", "lux"))
WARMUP = int(os.environ.get("INSTR_WARMUP", "2000"))
REQUESTS = int(os.environ.get("INSTR_REQUESTS", "20000"))
SERVERS = os.environ.get("INSTR_SERVERS", "lux,lighttpd,h2o").split(",")
MODES = os.environ.get("INSTR_MODES", "h1,h2c").split(",")
RUN_TIMEOUT = 600  # seconds for one h2load run under callgrind


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lighttpd_conf(d, port):
    """lighttpd's syntax, which lux reads as it is."""
    return "\n".join([
        f"server.port = {port}",
        'server.bind = "127.0.0.1"',
        f'server.document-root = "{d}/www"',
        f'server.errorlog = "{d}/error.log"',
        'mimetype.assign = ( ".bin" => "application/octet-stream" )',
        "server.max-worker = 1",
        "server.max-keep-alive-requests = 65535",
        "server.max-keep-alive-idle = 300",
    ]) + "\n"


def h2o_conf(d, port):
    user = "user: root\n" if os.geteuid() == 0 else ""
    return f"""{user}num-threads: 1
pid-file: {d}/h2o.pid
error-log: {d}/error.log
file.mime.settypes:
  application/octet-stream: .bin
hosts:
  default:
    listen:
      host: 127.0.0.1
      port: {port}
    paths:
      /:
        file.dir: {d}/www
"""


def argv_of(name, d, port):
    """The server's command line in the foreground, or None when it is not installed."""
    if name == "h2o":
        binary = shutil.which("h2o")
        conf, text = f"{d}/h2o.conf", h2o_conf(d, port)
        argv = [binary, "-c", conf]
    else:
        binary = LUX if name == "lux" else shutil.which("lighttpd") or "/usr/sbin/lighttpd"
        conf, text = f"{d}/lighttpd.conf", lighttpd_conf(d, port)
        argv = [binary, "-D", "-f", conf]
    if not binary or not os.access(binary, os.X_OK):
        return None
    with open(conf, "w") as f:
        f.write(text)
    return argv


def wait_up(url, proc):
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError("the server exited at start")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not answer")


def load(url, mode, n):
    streams = ["-m", "10"] if mode == "h2c" else ["--h1", "-m", "1"]
    out = subprocess.run(["h2load", "-t", "1", "-c", "50", *streams, "-n", str(n), url],
                         capture_output=True, text=True, timeout=RUN_TIMEOUT).stdout
    m = re.search(r"status codes: (\d+) 2xx", out)
    if not m or int(m.group(1)) != n:
        raise RuntimeError(f"h2load: not every response was a 2xx:\n{out}")


def annotate(profile):
    """Total instructions, and those inside libnghttp2."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", profile],
                         capture_output=True, text=True, timeout=300).stdout
    total = nghttp2 = 0
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(", line)
        if not m:
            continue
        n = int(m.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in line:
            total = n
        elif "libnghttp2" in line:
            nghttp2 += n
    return total, nghttp2


def one_run(name, mode, d, extra):
    """Instructions (total, inside libnghttp2) of a server that answered the warm-up and then
    `extra` requests."""
    port = free_port()
    argv = argv_of(name, d, port)
    profile = f"{d}/callgrind.{name}.{mode}.{extra}"
    url = f"http://127.0.0.1:{port}/f1k.bin"
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={profile}",
                             *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(url, proc)
        load(url, mode, WARMUP)
        if extra:
            load(url, mode, extra)
    finally:
        proc.send_signal(2)  # SIGINT: every server here ends at once and writes the profile
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return annotate(profile)


def main():
    for tool in ("valgrind", "callgrind_annotate", "h2load"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing (make deps-bench installs it)")
    rows, notes = {}, []
    with tempfile.TemporaryDirectory(prefix="lux-instr-") as d:
        os.makedirs(f"{d}/www")
        with open(f"{d}/www/f1k.bin", "wb") as f:
            f.write(os.urandom(1024))
        for name in SERVERS:
            if argv_of(name, d, 0) is None:
                notes.append(f"{name}: not installed, left out")
                continue
            for mode in MODES:
                long_total, long_ng = one_run(name, mode, d, REQUESTS)
                short_total, short_ng = one_run(name, mode, d, 0)
                rows[name, mode] = ((long_total - short_total) / REQUESTS,
                                    (long_ng - short_ng) / REQUESTS)
                print(f"{name} {mode}: {rows[name, mode][0]:,.0f} instructions per request",
                      file=sys.stderr)
    print("| server | " + " | ".join(f"{m} instr/req" for m in MODES) + " | ratio to lux |")
    print("|---|" + "---|" * (len(MODES) + 1))
    for name in SERVERS:
        if not any((name, m) in rows for m in MODES):
            continue
        cells, ratios = [], []
        for m in MODES:
            cost = rows.get((name, m))
            cells.append(f"{cost[0]:,.0f}" if cost else "-")
            base = rows.get(("lux", m))
            if cost and base:
                ratios.append(f"{m} {cost[0] / base[0]:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " | " + ", ".join(ratios) + " |")
    if ("lux", "h2c") in rows:
        total, ng = rows["lux", "h2c"]
        print(f"\nlux h2c: {ng:,.0f} of {total:,.0f} instructions per request inside libnghttp2")
    for n in notes:
        print(n)


if __name__ == "__main__":
    main()
