#!/usr/bin/env python3
"""Server memory per idle TLS keep-alive connection: N clients (default 2000) each make one
request over TLS and then stay connected; the server's RSS growth is divided among them.

    python3 bench/tls_idle_memory.py [--bin build/lux] [-n 2000] [--path /index.html]
"""
import argparse
import os
import resource
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/lux")
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--path", default="/index.html", help="/index.html (2 KB) or /big.bin")
    opts = ap.parse_args()
    harness.BIN = os.path.abspath(opts.bin)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, opts.n * 2 + 1024), hard))
    from test_tls import certs, tls_conf
    conf = tls_conf(extra="server.max-worker = 1\nserver.max-fds = 16384\n"
                          "server.max-keep-alive-idle = 600\n")
    sizes = {"/index.html": 2000, "/big.bin": 100000}
    files = {"index.html": "x" * sizes["/index.html"], "big.bin": "y" * sizes["/big.bin"]}
    with harness.Server(conf, files=files) as s:
        ctx = ssl.create_default_context(cafile=certs()["ca"])

        def idle_conn(path):
            c = ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.port), timeout=20),
                                server_hostname="localhost")
            c.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            buf = b""
            while b"\r\n\r\n" not in buf or len(buf.split(b"\r\n\r\n", 1)[1]) < sizes[path]:
                buf += c.recv(65536)
            return c

        for c in [idle_conn(opts.path) for _ in range(50)]:  # warm up the allocator
            c.close()
        time.sleep(1)
        before = rss_kib(s.pid)
        conns = [idle_conn(opts.path) for _ in range(opts.n)]
        time.sleep(2)
        after = rss_kib(s.pid)
        print(f"{opts.n} idle TLS connections after {opts.path}: server RSS {before} -> "
              f"{after} KiB, {(after - before) / opts.n:.1f} KiB each")
        for c in conns:
            c.close()


if __name__ == "__main__":
    main()
