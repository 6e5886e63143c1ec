"""Backends for the tunnel tests, standard library only.

    python3 ws_backend.py ws PORT     a WebSocket echo server (RFC 6455): text and binary
                                      messages come back as they came; a close is answered and
                                      the connection closed; a text "bye" is answered with a
                                      close and the connection closed. A request without an
                                      Upgrade is answered 200 with the Upgrade and Connection
                                      it got.
    python3 ws_backend.py echo PORT   raw bytes echoed until the peer's end, then its own end
                                      (shutdown SHUT_WR) and a last line "bytes=N\\n" before it

Prints "ready" once listening. Each connection has a thread; every socket has a timeout.
"""
import base64
import hashlib
import socket
import struct
import sys
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 60


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        piece = sock.recv(min(n - len(buf), 1 << 20))
        if not piece:
            raise EOFError
        buf += piece
    return bytes(buf)


def read_frame(sock):
    """(fin, opcode, payload) of the next frame, unmasked."""
    b0, b1 = read_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(sock, 8))[0]
    mask = read_exact(sock, 4) if b1 & 0x80 else None
    data = read_exact(sock, n)
    if mask:
        data = unmask(data, mask)
    return b0 & 0x80, b0 & 0x0F, data


def unmask(data, mask):
    """XOR a payload with its mask, as one big integer (fast for megabytes)."""
    n = len(data)
    if not n:
        return data
    key = int.from_bytes((mask * ((n + 3) // 4))[:n], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


def frame(opcode, data, mask=None):
    head = bytes([0x80 | opcode])
    n = len(data)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if mask:
        return head + mask + unmask(data, mask)
    return head + data


def read_head(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        piece = sock.recv(4096)
        if not piece:
            raise EOFError
        buf += piece
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    fields = {}
    for line in lines[1:]:
        k, v = line.split(b":", 1)
        fields[k.strip().lower()] = v.strip()
    return lines[0], fields, rest


def serve_ws(sock):
    line, fields, rest = read_head(sock)
    if fields.get(b"upgrade", b"").lower() != b"websocket":
        body = (b"upgrade=" + fields.get(b"upgrade", b"-") + b"\nconnection=" +
                fields.get(b"connection", b"-") + b"\n")
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                     str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        return
    key = fields.get(b"sec-websocket-key", b"")
    if b"/bad-accept" in line:  # a backend that answers some other key
        key = b"dGhlIHNhbXBsZSBub25jZQ=="
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept_key(key) +
                 b"\r\nX-Seen-Path: " + line.split(b" ")[1] + b"\r\n\r\n")
    if rest:
        raise ValueError("bytes before the handshake was answered")
    echo_frames(sock)


def echo_frames(sock):
    """Echo messages until a close (answered) or a text "bye" (answered with a close)."""
    while True:
        fin, op, data = read_frame(sock)
        if op == 8:
            sock.sendall(frame(8, data[:2]))
            return
        if op == 9:
            sock.sendall(frame(10, data))
        elif op == 1 and data == b"bye":
            sock.sendall(frame(8, b"\x03\xe8"))
            return
        elif op in (1, 2):
            sock.sendall(frame(op, data))


def serve_echo(sock):
    total = 0
    while True:
        data = sock.recv(1 << 16)
        if not data:
            break
        total += len(data)
        sock.sendall(data)
    sock.sendall(b"bytes=%d\n" % total)
    sock.shutdown(socket.SHUT_WR)
    while sock.recv(4096):
        pass


def handle(sock, serve):
    sock.settimeout(TIMEOUT)
    try:
        serve(sock)
    except (OSError, EOFError, ValueError):
        pass
    finally:
        sock.close()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    serve = serve_ws if mode == "ws" else serve_echo
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=handle, args=(conn, serve), daemon=True).start()


if __name__ == "__main__":
    main()
