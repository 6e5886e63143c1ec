"""A small SCGI or uwsgi backend for the gateway tests, its heads parsed by hand.

    python3 scgi_app.py NAME (scgi | uwsgi) tcp:PORT

Answers by path (SCRIPT_NAME + PATH_INFO): .../env* the variables, one NAME=value a line;
.../sha* the length and SHA-256 of the body; anything else "hello from NAME". uwsgi answers
start with an HTTP status line, as uwsgi apps write them.
"""
import hashlib
import socket
import struct
import sys
import threading

NAME, PROTO, ADDR = sys.argv[1], sys.argv[2], sys.argv[3]


def read_exact(f, n):
    data = f.read(n)
    if len(data) != n:
        raise EOFError
    return data


def scgi_head(f):
    digits = b""
    while True:
        c = read_exact(f, 1)
        if c == b":":
            break
        digits += c
    raw = read_exact(f, int(digits))
    if read_exact(f, 1) != b",":
        raise ValueError("no comma after the netstring")
    items = raw.split(b"\0")[:-1]
    names = items[0::2]
    if names[:1] != [b"CONTENT_LENGTH"] or b"SCGI" not in names:
        raise ValueError("CONTENT_LENGTH must come first, SCGI must be there")
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in zip(names, items[1::2])}


def uwsgi_head(f):
    mod1, size, mod2 = struct.unpack("<BHB", read_exact(f, 4))
    raw, env, i = read_exact(f, size), {}, 0
    while i < size:
        (kl,) = struct.unpack("<H", raw[i:i + 2])
        k = raw[i + 2:i + 2 + kl].decode("latin-1")
        i += 2 + kl
        (vl,) = struct.unpack("<H", raw[i:i + 2])
        env[k] = raw[i + 2:i + 2 + vl].decode("latin-1")
        i += 2 + vl
    return env


def serve(conn):
    try:
        f = conn.makefile("rb")
        env = uwsgi_head(f) if PROTO == "uwsgi" else scgi_head(f)
        body = read_exact(f, int(env.get("CONTENT_LENGTH") or "0"))
        path = env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", "")
        if "/env" in path:
            text = "".join(f"{k}={v}\n" for k, v in sorted(env.items()))
        elif "/sha" in path:
            text = f"{len(body)} {hashlib.sha256(body).hexdigest()}\n"
        else:
            text = f"hello from {NAME}\n"
        status = b"HTTP/1.1 200 OK\r\n" if PROTO == "uwsgi" else b"Status: 200 OK\r\n"
        conn.sendall(status + b"Content-Type: text/plain\r\nX-Backend: " + NAME.encode() +
                     b"\r\n\r\n" + text.encode())
    except (EOFError, ValueError, OSError):
        pass
    finally:
        conn.close()


def main():
    srv = socket.socket(socket.AF_INET)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(ADDR.partition(":")[2])))
    srv.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


main()
