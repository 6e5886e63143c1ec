"""The accept path: a new connection is read from at once, and joins the event loop only when
it has to wait. Connections whose request is not there yet must still be watched."""

import socket
import time

from harness import Conn, Server, check, connect, eq, read_all

FILES = {"a.txt": "file a\n"}
REQUEST = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def test_request_sent_after_a_pause_is_answered():
    """Nothing to read at accept time: the connection waits in the loop for its request."""
    with Server("server.max-worker = 1\n", files=FILES) as s, connect(s.port) as c:
        time.sleep(0.3)
        c.sendall(REQUEST)
        data, closed = read_all(c)
        check(closed, "connection not closed after a Connection: close response")
        check(data.startswith(b"HTTP/1.1 200"), f"response: {data[:100]!r}")
        check(data.endswith(b"file a\n"), f"body: {data[-50:]!r}")


def test_many_silent_connections_then_requests():
    """A batch of connections accepted together, none with a request yet, each answered once
    its request comes, in an order unrelated to the accept order."""
    with Server("server.max-worker = 1\n", files=FILES) as s:
        socks = [connect(s.port) for _ in range(20)]
        try:
            time.sleep(0.2)
            for c in reversed(socks):
                c.sendall(REQUEST)
            for i, c in enumerate(socks):
                data, closed = read_all(c)
                check(closed and data.startswith(b"HTTP/1.1 200"),
                      f"connection {i}: closed={closed} {data[:80]!r}")
        finally:
            for c in socks:
                c.close()


def test_silent_connection_times_out():
    """A connection that never sends is closed by the read timeout, so it is in the loop."""
    with Server("server.max-read-idle = 1\nserver.max-worker = 1\n", files=FILES) as s:
        with connect(s.port, timeout=6) as c:
            start = time.monotonic()
            data, closed = read_all(c, timeout=5)
            check(closed, "silent connection not closed")
            check(time.monotonic() - start > 0.5, "closed before the idle time")


def test_client_gone_before_its_request():
    """A client that connects and closes at once leaves nothing behind; the next is served."""
    with Server("server.max-worker = 1\n", files=FILES) as s:
        for _ in range(10):
            socket.create_connection(("127.0.0.1", s.port)).close()
        with Conn(s.port) as c:
            eq(c.request("/a.txt").status, 200, "status after the aborted connections")


def test_defer_accept_holds_a_silent_connection_in_the_kernel():
    """server.defer-accept: a connection is handed over only once its request bytes arrive, so
    the server's read timeout cannot run out on a client that has not spoken yet."""
    conf = "server.defer-accept = 10\nserver.max-read-idle = 1\nserver.max-worker = 1\n"
    with Server(conf, files=FILES) as s, connect(s.port, timeout=6) as c:
        time.sleep(2.5)  # without deferral the server closes the silent connection after 1-2 s
        c.sendall(REQUEST)
        data, closed = read_all(c)
        check(data.startswith(b"HTTP/1.1 200"), f"response: {data[:100]!r}")
        check(data.endswith(b"file a\n"), f"body: {data[-50:]!r}")
