"""mod_wstunnel: lux answers the WebSocket handshake, the backend (a raw echo server) reads and
writes only the messages' bytes; pings, closes, protocol errors, origins, the frame type and
the keep-alive ping. Also run against lighttpd 1.4.69, whose mod_wstunnel is the reference."""

import base64
import os
import socket
import struct
import sys
import time

import harness
from harness import Server, check, eq, lux_only

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ws_backend  # noqa: E402  (the frame codec)
from test_tunnel import Backend, BufferedSock, read_head  # noqa: E402

TIMEOUT = 30
FILES = {"ws/page.txt": "a plain file\n"}


def conf(port, extra=""):
    return ('server.modules = ("mod_wstunnel")\nserver.max-worker = 1\n'
            f'wstunnel.server = ( "/ws/" => ( ( "host" => "127.0.0.1", "port" => {port} ) ) )\n'
            + extra)


def handshake(s, path="/ws/chat", fields=None, version="13", key=None):
    """Send an opening handshake: (status, {lower name: value}, key, buffered socket)."""
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT)
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (fields or {}).items())
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Version: {version}\r\n"
                 f"Sec-WebSocket-Key: {key}\r\n{extra}\r\n".encode())
    status, head, rest = read_head(sock)
    return status, head, key, BufferedSock(sock, rest)


def opened(s, path="/ws/chat", fields=None):
    status, head, key, bs = handshake(s, path, fields)
    eq(status, 101, "handshake status")
    eq(head.get("upgrade", "").lower(), "websocket", "Upgrade of the 101")
    eq(head.get("sec-websocket-accept", "").encode(), ws_backend.accept_key(key.encode()),
       "accept key")
    return head, bs


def send(bs, opcode, data, fin=True):
    f = ws_backend.frame(opcode, data, mask=os.urandom(4))
    if not fin:
        f = bytes([f[0] & 0x7F]) + f[1:]
    bs.sendall(f)


def read_payload(bs, n):
    """Frames until n payload bytes came: (opcodes seen, the bytes)."""
    ops, data = set(), b""
    while len(data) < n:
        fin, op, payload = ws_backend.read_frame(bs)
        ops.add(op)
        data += payload
    return ops, data


def test_text_and_binary_messages_reach_the_backend_raw():
    with Backend("echo") as b, Server(conf(b.port), files=FILES) as s:
        _, bs = opened(s)
        text = "héllo wörld".encode()
        send(bs, 1, text)
        eq(read_payload(bs, len(text)), ({1}, text), "echoed in text frames (the default)")
        blob = os.urandom(70000)
        send(bs, 2, blob)
        eq(read_payload(bs, len(blob))[1], blob, "70,000 bytes back")
        # a message in fragments, a ping between them: the backend gets the bytes in order
        send(bs, 1, b"frag", fin=False)
        send(bs, 9, b"are you there")
        pongs, data = [], b""
        while not pongs or len(data) < 4:  # the echo of "frag" and the pong, in either order
            fin, op, payload = ws_backend.read_frame(bs)
            if op == 10:
                pongs.append(payload)
            else:
                data += payload
        eq((pongs, data), ([b"are you there"], b"frag"), "the ping answered with its payload")
        send(bs, 0, b"ments")
        eq(read_payload(bs, 5)[1], b"ments", "the rest of the message")
        bs.sock.close()


def test_binary_frame_type_and_subprotocol():
    with Backend("echo") as b:
        with Server(conf(b.port, 'wstunnel.frame-type = "binary"\n'), files=FILES) as s:
            _, bs = opened(s)
            send(bs, 1, b"abc")
            eq(read_payload(bs, 3), ({2}, b"abc"), "binary frames")
            bs.sock.close()
        with Server(conf(b.port), files=FILES) as s:
            head, bs = opened(s, fields={"Sec-WebSocket-Protocol": "chat, binary"})
            eq(head.get("sec-websocket-protocol"), "binary", "the subprotocol chosen")
            send(bs, 1, b"xyz")
            eq(read_payload(bs, 3), ({2}, b"xyz"), "binary frames for the binary subprotocol")
            bs.sock.close()


def test_client_close_is_returned_and_passed_on():
    with Backend("echo") as b, Server(conf(b.port), files=FILES) as s:
        _, bs = opened(s)
        send(bs, 1, b"12345")
        eq(read_payload(bs, 5)[1], b"12345")
        send(bs, 8, struct.pack("!H", 1000) + b"done")
        fin, op, payload = ws_backend.read_frame(bs)
        eq(op, 8, "a close back")
        if not harness.is_lighttpd():  # lighttpd sends the text "1000", not the code
            eq(payload[:2], struct.pack("!H", 1000), "with the client's code")
        # the backend saw the end of its input (it then says how much it got, which the
        # client must not see after the close) and the connection ends
        bs.sock.settimeout(TIMEOUT * harness.sanitizer_slowdown())
        eq(bs.recv(100), b"", "nothing after the close; the connection ends")


def test_backend_down_is_503():
    port = harness.free_port()
    with Server(conf(port), files=FILES) as s:
        status, _, _, bs = handshake(s)
        eq(status, 503, "no backend")
        bs.sock.close()


def test_other_requests_go_on():
    with Backend("echo") as b, Server(conf(b.port), files=FILES) as s:
        eq(harness.get(s.port, "/ws/page.txt").body, b"a plain file\n", "no Upgrade: a file")
        status, _, _, bs = handshake(s, path="/other")
        check(status != 101, f"a path no wstunnel.server names is not upgraded: {status}")
        bs.sock.close()


def test_origins():
    # as lighttpd: the whole Origin, or a suffix of it that starts after a dot
    extra = 'wstunnel.origins = ( "https://example.org", "example.net" )\n'
    with Backend("echo") as b, Server(conf(b.port, extra), files=FILES) as s:
        for origin in ("https://example.org", "https://chat.example.net"):
            _, bs = opened(s, fields={"Origin": origin})
            bs.sock.close()
        for origin in ("https://notexample.net", "http://example.org", "https://example.net"):
            status, _, _, bs = handshake(s, fields={"Origin": origin})
            eq(status, 403, f"origin {origin}")
            bs.sock.close()
        status, _, _, bs = handshake(s)
        eq(status, 400, "no Origin at all")
        bs.sock.close()


@lux_only("lighttpd also accepts hybi-00 and any version number, and keys of any shape")
def test_handshake_refusals():
    with Backend("echo") as b, Server(conf(b.port), files=FILES) as s:
        status, head, _, bs = handshake(s, version="8")
        eq(status, 426, "an older version")
        eq(head.get("sec-websocket-version"), "13", "the version lux speaks")
        bs.sock.close()
        status, _, _, bs = handshake(s, key="c2hvcnQ=")
        eq(status, 400, "a key that is not 16 bytes")
        bs.sock.close()


@lux_only("lighttpd does not check masks, opcodes or UTF-8")
def test_protocol_errors_close_with_their_code():
    cases = [
        (ws_backend.frame(1, b"unmasked"), 1002),
        (ws_backend.frame(1, b"\xc0\x80", mask=os.urandom(4)), 1007),
        (bytes([0x83, 0x80]) + os.urandom(4), 1002),
    ]
    with Backend("echo") as b, Server(conf(b.port), files=FILES) as s:
        for raw, code in cases:
            _, bs = opened(s)
            bs.sendall(raw)
            fin, op, payload = ws_backend.read_frame(bs)
            eq((op, payload[:2]), (8, struct.pack("!H", code)), f"close {code} for {raw[:4]!r}")
            bs.sock.settimeout(TIMEOUT * harness.sanitizer_slowdown())
            eq(bs.recv(100), b"", "and the connection ends")


def test_ping_interval():
    with Backend("echo") as b, Server(conf(b.port, "wstunnel.ping-interval = 1\n"),
                                      files=FILES) as s:
        _, bs = opened(s)
        start = time.monotonic()
        fin, op, payload = ws_backend.read_frame(bs)
        eq(op, 9, "a ping comes unasked")
        check(time.monotonic() - start < 5 * harness.sanitizer_slowdown(), "within seconds")
        bs.sock.close()


@lux_only("lighttpd takes any frame-type as text")
def test_bad_settings_are_start_up_errors():
    for line, what in (('wstunnel.frame-type = "binry"', "text\" or \"binary"),
                       ('wstunnel.origins = ( "" )', "empty origin")):
        with harness.TempDir() as t:
            path = os.path.join(t.path, "lux.conf")
            harness.write_file(path, conf(9) + line + "\n")
            r = harness.run_bin(["-t", "-f", path])
            check(r.returncode != 0, f"{line} was accepted")
            harness.contains(r.stdout + r.stderr, what)
