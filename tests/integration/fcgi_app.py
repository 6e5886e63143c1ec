"""A small FastCGI responder for the gateway tests, its records written by hand.

    python3 fcgi_app.py NAME (unix:PATH | tcp:PORT | fd:0)

fd:0 takes the listening socket from stdin, as a server that starts the app passes it.

Answers by path (SCRIPT_NAME + PATH_INFO):
  .../env*      the parameters, one NAME=value a line
  .../sha*      the length and SHA-256 of the request body
  .../big*      ?N MiB of a fixed pattern
  .../die*      a head and 1000 bytes, then the connection is cut
  .../stderr*   a line on FCGI_STDERR, then "ok"
  .../conns*    how many connections this backend accepted so far
  .../pid*      the process id
  .../xsend*    "X-Sendfile: ?PATH" (%-decoded; "?lighttpd=PATH": X-LIGHTTPD-send-file;
                "?bare=PATH": without a Content-Type) with a Content-Type, a Content-Length and
                a body that the server must discard
  .../probes*   how many FCGI_GET_VALUES records this backend answered so far
  anything else "hello from NAME"
Every answer carries "X-Backend: NAME".

In the authorizer role (FCGI_AUTHORIZER), answered as soon as the parameters are in, the
request's X-Auth header decides:
  "ok"          200 with Variable-AUTH_BY: NAME, Variable-AUTH_PARAMS: the parameter names it
                got (sorted, comma-separated), an X-Auth-Only header and a body, neither of
                which may reach the client
  "redirect"    302 to /login
  else          401 with WWW-Authenticate and "denied by NAME"
"""
import hashlib
import os
import socket
import struct
import sys
import threading
import urllib.parse

NAME = sys.argv[1]
ADDR = sys.argv[2]
accepted = 0
probes = 0
lock = threading.Lock()


def record(rtype, rid, content=b""):
    out = b""
    while True:
        piece, content = content[:65535], content[65535:]
        pad = -len(piece) & 7
        out += struct.pack(">BBHHBB", 1, rtype, rid, len(piece), pad, 0) + piece + b"\0" * pad
        if not content:
            return out


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        b = conn.recv(n - len(buf))
        if not b:
            raise EOFError
        buf += b
    return buf


def read_record(conn):
    _, rtype, rid, clen, pad, _ = struct.unpack(">BBHHBB", read_exact(conn, 8))
    content = read_exact(conn, clen)
    read_exact(conn, pad)
    return rtype, rid, content


def parse_params(data):
    params, i = {}, 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if data[i] & 0x80:
                lens.append(struct.unpack(">I", data[i:i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        name = data[i:i + lens[0]].decode("latin-1")
        i += lens[0]
        params[name] = data[i:i + lens[1]].decode("latin-1")
        i += lens[1]
    return params


def stdout(conn, rid, data):
    conn.sendall(record(6, rid, data))


def respond(conn, rid, params, body):
    path = params.get("SCRIPT_NAME", "") + params.get("PATH_INFO", "")
    head = b"X-Backend: " + NAME.encode() + b"\r\nContent-Type: text/plain\r\n\r\n"
    if "/env" in path:
        text = "".join(f"{k}={v}\n" for k, v in sorted(params.items()))
        stdout(conn, rid, head + text.encode())
    elif "/sha" in path:
        stdout(conn, rid, head + f"{len(body)} {hashlib.sha256(body).hexdigest()}\n".encode())
    elif "/big" in path:
        mib = int(params.get("QUERY_STRING") or "1")
        stdout(conn, rid, head)
        block = bytes(range(256)) * 4096
        for _ in range(mib):
            stdout(conn, rid, block)
    elif "/die" in path:
        stdout(conn, rid, head + b"x" * 1000)
        conn.shutdown(socket.SHUT_RDWR)
        raise EOFError
    elif "/stderr" in path:
        conn.sendall(record(7, rid, b"something went wrong\n"))
        stdout(conn, rid, head + b"ok\n")
    elif "/xsend" in path:
        kind, _, target = params.get("QUERY_STRING", "").rpartition("=")
        name = "X-LIGHTTPD-send-file" if kind == "lighttpd" else "X-Sendfile"
        ctype = "" if kind == "bare" else "Content-Type: text/x-app\r\n"
        junk = b"the backend's own body\n" * 1000
        stdout(conn, rid, f"X-Backend: {NAME}\r\n{name}: {urllib.parse.unquote(target)}\r\n{ctype}"
               f"Content-Length: {len(junk)}\r\n\r\n".encode() + junk)
    elif "/pid" in path:
        stdout(conn, rid, head + f"{os.getpid()}\n".encode())
    elif "/conns" in path:
        stdout(conn, rid, head + f"{accepted}\n".encode())
    elif "/probes" in path:
        stdout(conn, rid, head + f"{probes}\n".encode())
    else:
        stdout(conn, rid, head + f"hello from {NAME}\n".encode())
    stdout(conn, rid, b"")
    end_request(conn, rid)


def end_request(conn, rid):
    conn.sendall(record(3, rid, struct.pack(">IB3x", 0, 0)))


def authorize(conn, rid, params):
    verdict = params.get("HTTP_X_AUTH", "")
    if verdict == "ok":
        names = ",".join(sorted(params))
        stdout(conn, rid, f"Variable-AUTH_BY: {NAME}\r\nVariable-AUTH_PARAMS: {names}\r\n"
               "X-Auth-Only: 1\r\nContent-Type: text/plain\r\n\r\nauthorizer body\n".encode())
    elif verdict == "redirect":
        stdout(conn, rid, b"Status: 302\r\nLocation: /login\r\n\r\n")
    else:
        stdout(conn, rid, f"Status: 401\r\nWWW-Authenticate: Basic realm=\"app\"\r\n"
               f"Content-Type: text/plain\r\n\r\ndenied by {NAME}\n".encode())
    stdout(conn, rid, b"")
    end_request(conn, rid)


def get_values(conn):
    """FCGI_GET_VALUES: FCGI_MPXS_CONNS is 0, whatever was asked."""
    global probes
    with lock:
        probes += 1
    conn.sendall(record(10, 0, b"\x0f\x01FCGI_MPXS_CONNS0"))


def serve(conn):
    """Records until the connection ends: a responder answers once its STDIN ends, an
    authorizer once its PARAMS end (STDIN it may still get is ignored)."""
    try:
        params_raw, body, keep, role, answered = b"", b"", False, 1, True
        while True:
            rtype, rid, content = read_record(conn)
            if rtype == 9:
                get_values(conn)
            elif rtype == 1:
                role = struct.unpack(">H", content[:2])[0]
                keep = bool(content[2] & 1)
                params_raw, body, answered = b"", b"", False
            elif answered:
                continue
            elif rtype == 4 and content:
                params_raw += content
            elif rtype == 4 and role == 2:
                authorize(conn, rid, parse_params(params_raw))
                answered = True
            elif rtype == 5 and content:
                body += content
            elif rtype == 5:
                respond(conn, rid, parse_params(params_raw), body)
                answered = True
            if answered and not keep:
                break
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def main():
    global accepted
    kind, _, where = ADDR.partition(":")
    if kind == "fd":
        srv = socket.socket(fileno=int(where))
    elif kind == "unix":
        srv = socket.socket(socket.AF_UNIX)
        if os.path.exists(where):
            os.unlink(where)
        srv.bind(where)
    else:
        srv = socket.socket(socket.AF_INET)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", int(where)))
    if kind != "fd":
        srv.listen(64)
        print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        with lock:
            accepted += 1
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


main()
