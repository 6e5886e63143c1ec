"""Listening sockets: IPv6, unix sockets, systemd socket activation, pid file, connection cap."""

import os
import socket
import sys

import harness
from harness import (Conn, Server, Skip, check, curl, eq, free_port, get, parse_one, poll,
                     port_accepts, read_all)

FILES = {"f.txt": "hello\n"}


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_ipv6_loopback():
    if not have_ipv6_loopback():
        raise Skip("no IPv6 loopback")
    conf = '$SERVER["socket"] == "[::1]:@PORT2@" { server.tag = "six" }\n'
    with Server(conf, files=FILES) as s:
        poll(lambda: port_accepts(s.port2, "::1", socket.AF_INET6), what="[::1] listener")
        with Conn(s.port2, host="::1") as c:
            r = c.request("/f.txt", host=f"[::1]:{s.port2}")
        eq(r.status, 200, "status")
        eq(r.body, b"hello\n", "body")
        eq(r.header("Server"), "six", "Server header")
        out = curl(["-g", f"http://[::1]:{s.port2}/f.txt"]).stdout
        eq(out, b"hello\n", "curl over IPv6")


def test_unix_socket():
    conf = harness.base_conf(["server.bind", "server.port"])
    conf += 'server.bind = "@TMP@/lux.sock"\nserver.tag = "on-unix"\n'
    probe = {}

    def ready(srv):
        probe["path"] = os.path.join(srv.tmp, "lux.sock")
        return harness.unix_accepts(probe["path"])

    with Server(conf, base=False, files=FILES, ready=ready) as s:
        cp = curl(["-i", "--unix-socket", probe["path"], "http://localhost/f.txt"])
        r = parse_one(cp.stdout)
        eq(r.status, 200, "status")
        eq(r.body, b"hello\n", "body")
        eq(r.header("Server"), "on-unix", "Server header")
        check(s.alive(), "server died")


def test_systemd_socket_activation():
    """The server takes an inherited listening socket on fd 3 instead of binding its own."""
    port = free_port()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    fd = ls.fileno()
    # Exec through a tiny wrapper so LISTEN_PID can be the server's own pid and fd 3 the socket.
    shim = ("import os,sys\n"
            "fd=int(sys.argv[1]); os.dup2(fd,3)\n"
            "if fd!=3: os.close(fd)\n"
            "os.environ['LISTEN_PID']=str(os.getpid()); os.environ['LISTEN_FDS']='1'\n"
            "os.execv(sys.argv[2], sys.argv[2:])\n")

    def wrap(argv):
        return [sys.executable, "-c", shim, str(fd)] + argv, {}

    conf = 'server.systemd-socket-activation = "enable"\nserver.tag = "activated"\n'
    try:
        with Server(conf, files=FILES, port=port, wrap=wrap, pass_fds=(fd,)) as s:
            ls.close()  # the server holds the only listening socket now
            r = get(port, "/f.txt")
            eq(r.status, 200, "status")
            eq(r.body, b"hello\n", "body")
            eq(r.header("Server"), "activated", "Server header")
            eq(os.readlink(f"/proc/{s.pid}/exe"), os.path.realpath(harness.BIN),
               "exec'ed binary")
    finally:
        ls.close()


def test_pid_file():
    with Server('server.pid-file = "@TMP@/lux.pid"\n') as s:
        path = os.path.join(s.tmp, "lux.pid")
        poll(lambda: os.path.exists(path), what="the pid file")
        with open(path) as f:
            eq(f.read().strip(), str(s.pid), "pid file content")
        s.stop()
        check(not os.path.exists(path), "pid file left behind after a clean stop")


def test_max_connections():
    """Beyond server.max-connections new connections wait until a slot frees up."""
    conf = "server.max-connections = 2\nserver.max-keep-alive-idle = 30\n"
    with Server(conf, files=FILES) as s:
        first = [Conn(s.port), Conn(s.port)]
        try:
            for c in first:
                eq(c.request("/f.txt").status, 200, "status within the limit")
            with harness.connect(s.port) as extra:
                extra.sendall(b"GET /f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data, closed = read_all(extra, timeout=1.0)
                eq(data, b"", "answer over the connection limit")
                first[0].close()
                data, closed = read_all(extra, timeout=5.0)
                check(closed, "no close after the queued request")
                eq(parse_one(data).status, 200, "queued request status")
        finally:
            for c in first:
                c.close()
