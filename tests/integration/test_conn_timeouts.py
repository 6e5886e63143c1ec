"""Connection timeouts that change with the connection's state: each state's limit applies from
the moment the connection enters it, even when the state before had a longer one."""

import os
import socket
import time

import harness
from harness import Conn, Server, check, eq, lux_only

BIG = os.urandom(1 << 20) * 16  # 16 MiB: more than the socket buffers can hold
WAIT = 12  # seconds: far below the 60 s limit these tests must not fall back to


def closed_within(sock, seconds):
    """Reads (and drops) until the server closes; True when it did within `seconds`."""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


@lux_only("lighttpd keeps server.max-keep-alive-idle for a head begun on a kept-alive connection")
def test_head_after_keep_alive_gets_read_idle():
    """A head begun on a kept-alive connection has server.max-read-idle, not the longer
    server.max-keep-alive-idle that applied while it was idle."""
    conf = "server.max-keep-alive-idle = 60\nserver.max-read-idle = 1\n"
    with Server(conf, files={"f.txt": "x\n"}) as s:
        with Conn(s.port) as c:
            eq(c.request("/f.txt").status, 200, "first request")
            c.send(b"GET /f.txt HTTP/1.1\r\n")
            check(closed_within(c.sock, WAIT), f"a half-sent head was still open after {WAIT} s")


def test_stalled_download_gets_write_idle():
    """A client that stops reading a response is cut off after server.max-write-idle, however
    long the read and keep-alive limits are."""
    conf = ("server.max-keep-alive-idle = 60\nserver.max-read-idle = 60\n"
            "server.max-write-idle = 1\n")
    with Server(conf, files={"big.bin": BIG}) as s:
        with harness.connect_small_window(s.port) as sock:
            sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            first = sock.recv(16384)
            check(first.startswith(b"HTTP/1.1 200"), f"bad start {first[:100]!r}")
            time.sleep(4)  # read nothing: the server's sends stall
            check(closed_within(sock, WAIT), f"a stalled download was still open after {WAIT} s")


def test_no_keep_alive_idle_means_no_keep_alive():
    """server.max-keep-alive-idle = 0 leaves no time for a next request: the response says
    Connection: close instead of keeping a connection that would time out at once."""
    with Server("server.max-keep-alive-idle = 0\n", files={"f.txt": "x\n"}) as s:
        with Conn(s.port) as c:
            r = c.request("/f.txt")
            eq(r.status, 200, "status")
            eq((r.header("connection") or "").lower(), "close", "Connection header")
            check(closed_within(c.sock, WAIT), "the connection stayed open")
