"""Signals: TERM stops, INT drains in-flight requests, USR1 reloads the config, HUP reopens logs."""

import os
import signal
import time

import harness
from harness import Conn, Server, check, eq, get, poll, port_accepts, sha256

BIG = os.urandom(1 << 20) * 16  # 16 MiB: more than the socket buffers can hold


@harness.serial
def test_sigterm_stops_quickly():
    with Server(files={"f.txt": "x\n"}) as s:
        eq(get(s.port, "/f.txt").status, 200, "status")
        # lighttpd exits 1 when a connection is still open; that case is lux-only below.
        harness.wait_no_connections(s.port)
        start = time.monotonic()
        s.signal(signal.SIGTERM)
        eq(s.wait_exit(5), 0, "exit status")
        check(time.monotonic() - start < 2.0, "SIGTERM took more than 2s")


@harness.serial
@harness.lux_only("lighttpd exits with status 1 when connections are open at SIGTERM")
def test_sigterm_with_open_connection():
    with Server("server.max-keep-alive-idle = 30\n", files={"f.txt": "x\n"}) as s:
        with Conn(s.port) as c:
            eq(c.request("/f.txt").status, 200, "status")
            start = time.monotonic()
            s.signal(signal.SIGTERM)
            eq(s.wait_exit(5), 0, "exit status")
            check(time.monotonic() - start < 2.0, "SIGTERM took more than 2s")
            check(c.closed_by_server(2), "connection still open after exit")


def test_sigint_graceful_finishes_inflight():
    with Server(files={"big.bin": BIG}) as s:
        with harness.connect_small_window(s.port) as sock:
            sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got = sock.recv(16384)
            check(got.startswith(b"HTTP/1.1 200"), f"bad start {got[:100]!r}")
            s.signal(signal.SIGINT)
            poll(lambda: not port_accepts(s.port), what="the listener to close")
            check(s.alive(), "server exited with a response in flight")
            chunks = [got]
            while True:
                b = sock.recv(1 << 16)
                if not b:
                    break
                chunks.append(b)
        r = harness.parse_one(b"".join(chunks))
        eq(r.status, 200, "status")
        eq(len(r.body), len(BIG), "body length")
        eq(sha256(r.body), sha256(BIG), "body digest")
        eq(s.wait_exit(5), 0, "exit status after the drain")


def test_sigusr1_reload_new_config():
    with Server('server.tag = "v1"\n', files={"f.txt": "x\n"}) as s:
        eq(get(s.port, "/f.txt").header("Server"), "v1", "before reload")
        pid = s.pid
        s.reload('server.tag = "v2"\n')
        poll(lambda: port_accepts(s.port) and get(s.port, "/f.txt").header("Server") == "v2",
             what="the new config")
        check(s.alive() and s.pid == pid, "reload replaced the process")


def test_sigusr1_reload_document_root():
    with Server('server.tag = "v1"\n', files={"f.txt": "old\n"}) as s:
        harness.write_file(os.path.join(s.tmp, "new/f.txt"), "new\n")
        s.reload('server.document-root := "@TMP@/new"\n')
        poll(lambda: port_accepts(s.port) and get(s.port, "/f.txt").body == b"new\n",
             what="the new document root")


@harness.lux_only("lighttpd closes idle keep-alive connections on a graceful restart")
def test_sigusr1_keeps_open_connection():
    with Server('server.tag = "v1"\nserver.max-keep-alive-idle = 30\n',
                files={"f.txt": "x\n"}) as s:
        with Conn(s.port) as c:
            eq(c.request("/f.txt").header("Server"), "v1", "before reload")
            s.reload('server.tag = "v2"\nserver.max-keep-alive-idle = 30\n')
            poll(lambda: get(s.port, "/f.txt").header("Server") == "v2", what="the new config")
            r = c.request("/f.txt")
            eq(r.status, 200, "status on the old connection")
            eq(r.header("Server"), "v1", "old connection keeps its config generation")


def test_sighup_reopens_error_log():
    with Server() as s:
        poll(lambda: os.path.exists(s.errorlog_path), what="the error log")
        os.rename(s.errorlog_path, s.errorlog_path + ".1")
        s.signal(signal.SIGHUP)
        poll(lambda: os.path.exists(s.errorlog_path), what="a new error log after SIGHUP")
        check(s.alive(), "server died on SIGHUP")
        eq(get(s.port, "/nothing").status, 404, "still serving")
