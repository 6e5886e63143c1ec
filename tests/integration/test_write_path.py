"""The write path: large bodies over sendfile, slow and fast readers side by side, and how much a
stalled client can make the server queue in the kernel."""

import os
import socket
import threading
import time

from harness import Conn, Server, check, connect, eq, lux_only, sha256

BIG = os.urandom(6 * 1024 * 1024 + 12345)  # several write budgets, not a round number
FILES = {"big.bin": BIG}
REQUEST = b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"


def server_send_queue(port):
    """Bytes queued in the kernel (unacknowledged + unsent) on the server's established socket of
    this port, from /proc/net/tcp's tx_queue; None while there is none."""
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                    return int(fields[4].split(":")[0], 16)
    return None


def read_response_body(sock, pause=0.0):
    """Reads one response to REQUEST; pause sleeps between reads (a slow reader)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        check(chunk, f"closed before the head: {buf[:200]!r}")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200"), f"status line: {head[:100]!r}")
    while len(body) < len(BIG):
        chunk = sock.recv(65536)
        check(chunk, f"closed after {len(body)} of {len(BIG)} body bytes")
        body += chunk
        if pause:
            time.sleep(pause)
    return body


def test_concurrent_large_bodies_slow_and_fast_readers():
    """Fast readers are served while a slow one holds its connection in the write state; every
    body arrives whole, and each connection stays usable for a second request."""
    with Server("server.max-worker = 1\n", files=FILES) as srv:
        results = {}

        def client(name, pause):
            with connect(srv.port, timeout=30) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 * 1024)
                digests = []
                for _ in range(2):
                    s.sendall(REQUEST)
                    digests.append(sha256(read_response_body(s, pause)))
                results[name] = digests

        threads = [threading.Thread(target=client, args=(f"fast{i}", 0.0)) for i in range(3)]
        threads.append(threading.Thread(target=client, args=("slow", 0.002)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        want = sha256(BIG)
        eq(sorted(results), ["fast0", "fast1", "fast2", "slow"], "clients that finished")
        for name, digests in results.items():
            eq(digests, [want, want], f"bodies received by {name}")


@lux_only("lighttpd lets a stalled client's socket queue megabytes of unsent file data")
def test_stalled_reader_queues_little():
    """A client that stops reading leaves the server with a bounded amount of unsent data in the
    kernel, not a whole send buffer (megabytes) per connection; the body is still complete once
    the client reads again."""
    with Server("server.max-worker = 1\n", files=FILES) as srv:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.settimeout(30)
        with s:
            s.connect(("127.0.0.1", srv.port))
            s.sendall(REQUEST)
            samples = []
            for _ in range(10):
                time.sleep(0.1)
                samples.append(server_send_queue(srv.port) or 0)
            check(max(samples) < 1024 * 1024,
                  f"server socket send queue while the client stalls: {samples} bytes")
            eq(sha256(read_response_body(s)), sha256(BIG), "body after the stall")
        with Conn(srv.port) as c:
            eq(c.request("/big.bin").status, 200, "status on a new connection")
