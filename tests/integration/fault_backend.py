"""A backend that fails on request, for the fault tests and the soak.

    python3 fault_backend.py (http | fcgi | scgi) PORT LOGDIR [--serial] [--raw]

http is an HTTP/1.1 server for mod_proxy (kept-alive connections), fcgi a FastCGI responder
(FCGI_KEEP_CONN honoured), scgi an SCGI one (one request a connection). The parent process
holds the listening socket and runs the server in a child, restarted when it exits, so a
backend that dies keeps its address and the next connections wait in the backlog.

What happens to a request is chosen by its path, [/PREFIX]/fault/NAME[/...][?n=BYTES]:
  ok                 a complete answer of n bytes (default 3), anything not /fault/ too
  slow-ok            the same after 0.2 s
  ok-then-close      a complete answer framed to keep the connection, and the close in the
                     same segment (TCP_CORK), so that the peer has both when it reads the answer
  close-before-head  the request is read, the connection closed without a byte
  reset-before-head  the request is read, the connection reset (RST)
  reset-reading-body the request's head is read, the connection reset before its body
  reset-mid-body     the head and half of an announced body, then a reset
  close-mid-body     the head and half of an announced body, then a close
  garbage-head       a head that is not one (for FastCGI: a record of an unknown version)
  huge-head          a head of 80 KiB, over lux's limit of 64 KiB
  stall-head         the request is read, nothing sent until the peer closes
  stall-body         the head and half of an announced body, then nothing until the peer closes
  exit               the request is read, then the server process exits (others in flight die)

The body of an answer is fill(n): its bytes say where they are, so a short or shifted body
shows; its head says in X-Got how many request body bytes came. --serial serves one connection
at a time and closes it after one request (a backend that can take one connection: one that is
never let go blocks every later request). LOGDIR gets "events": a line per connection, per
request read ("request POST ok": its method and fault, to count what reached the backend) and
per fault ("stall-end closed 0.03" says the peer closed a stalled connection after 0.03 s);
with --raw every connection's bytes as received, in LOGDIR/raw/PID-N.
"""
import os
import signal
import socket
import struct
import sys
import threading
import time

PROTO, PORT, LOGDIR = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SERIAL = "--serial" in sys.argv[4:]
RAW = "--raw" in sys.argv[4:]
STALL_MAX = 60.0
HUGE_HEAD = 80 * 1024
log_lock = threading.Lock()
conn_seq = 0


def fill(n):
    """n bytes whose content depends on the offset: a truncation or shift changes them."""
    block = b"".join(b"%08d\n" % i for i in range(0, 65536, 9))
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def event(line):
    with log_lock, open(os.path.join(LOGDIR, "events"), "a") as f:
        f.write(f"{os.getpid()} {line}\n")


class Peer:
    """A connection whose received bytes are recorded (--raw)."""

    def __init__(self, sock, seq):
        self.sock = sock
        self.seq = seq
        self.raw = open(os.path.join(LOGDIR, "raw", f"{os.getpid()}-{seq}"), "ab") if RAW else None

    def recv(self, n):
        b = self.sock.recv(n)
        if self.raw and b:
            self.raw.write(b)
            self.raw.flush()
        return b

    def close(self):
        if self.raw:
            self.raw.close()
        self.sock.close()

    def reset(self):
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def stall(self, fault):
        """Wait for the peer to close (or send more) and say how long that took."""
        start = time.monotonic()
        self.sock.settimeout(STALL_MAX)
        how = "timeout"
        try:
            while True:
                b = self.recv(65536)
                if not b:
                    how = "closed"
                    break
        except socket.timeout:
            pass
        except OSError:
            how = "closed"
        event(f"stall-end {fault} {how} {time.monotonic() - start:.3f}")


class Reader:
    """Buffered reads off a Peer."""

    def __init__(self, peer):
        self.peer = peer
        self.buf = b""

    def more(self):
        b = self.peer.recv(65536)
        if not b:
            raise EOFError
        self.buf += b

    def exact(self, n):
        while len(self.buf) < n:
            self.more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def until(self, sep, limit=1 << 20):
        while sep not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("too long")
            self.more()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out


def fault_of(uri):
    path = uri.split("?", 1)[0]
    query = uri.partition("?")[2]
    n = 3
    for item in query.split("&"):
        if item.startswith("n="):
            n = int(item[2:])
    i = path.find("/fault/")
    if i < 0:
        return "ok", n
    return path[i + len("/fault/"):].split("/", 1)[0], n


# ---- the protocols: read a request, write a head, body bytes, the end ----------------------

class Http:
    def __init__(self, reader):
        self.r = reader
        self.keep = not SERIAL
        self.got = 0

    def read_head(self):
        head = self.r.until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        self.method, uri, _ = lines[0].split(" ", 2)
        fields = [l.split(":", 1) for l in lines[1:] if l]
        self.fields = {k.strip().lower(): v.strip() for k, v in fields}
        if self.fields.get("connection", "").lower() == "close":
            self.keep = False
        return uri

    def read_body(self):
        if "chunked" in self.fields.get("transfer-encoding", "").lower():
            while True:
                size = int(self.r.until(b"\r\n").split(b";")[0], 16)
                if not size:
                    while self.r.until(b"\r\n") != b"\r\n":
                        pass  # trailer fields
                    break
                self.got += len(self.r.exact(size + 2)) - 2
        else:
            self.got = len(self.r.exact(int(self.fields.get("content-length", "0"))))

    def head(self, length, extra=b""):
        conn = b"keep-alive" if self.keep else b"close"
        return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                b"Connection: %s\r\nX-Got: %d\r\n%s\r\n" % (length, conn, self.got, extra))

    def answer(self, n):
        body = b"" if self.method == "HEAD" else fill(n)
        return self.head(n) + body

    def garbage(self):
        return b"\x16\x03\x01 not HTTP at all\r\nno colon here\r\n\r\n"

    def huge(self):
        return self.head(3, b"X-Filler: " + b"a" * HUGE_HEAD + b"\r\n") + b"abc"

    def body(self, data):
        return data

    def end(self):
        return b""


class Fcgi:
    def __init__(self, reader):
        self.r = reader
        self.keep = False
        self.rid = 1
        self.got = 0

    def record(self, rtype, content=b""):
        out = b""
        while True:
            piece, content = content[:65535], content[65535:]
            pad = -len(piece) & 7
            out += struct.pack(">BBHHBB", 1, rtype, self.rid, len(piece), pad, 0) + piece + \
                b"\0" * pad
            if not content:
                return out

    def read_head(self):
        params = b""
        while True:
            _, rtype, self.rid, clen, pad, _ = struct.unpack(">BBHHBB", self.r.exact(8))
            content = self.r.exact(clen)
            self.r.exact(pad)
            if rtype == 1:
                self.keep = bool(content[2] & 1) and not SERIAL
            elif rtype == 4 and content:
                params += content
            elif rtype == 4:
                break
        env, i = {}, 0
        while i < len(params):
            lens = []
            for _ in range(2):
                if params[i] & 0x80:
                    lens.append(struct.unpack(">I", params[i:i + 4])[0] & 0x7FFFFFFF)
                    i += 4
                else:
                    lens.append(params[i])
                    i += 1
            name = params[i:i + lens[0]].decode("latin-1")
            i += lens[0]
            env[name] = params[i:i + lens[1]].decode("latin-1")
            i += lens[1]
        self.method = env.get("REQUEST_METHOD", "GET")
        return env.get("REQUEST_URI", "/")

    def read_body(self):
        while True:
            _, rtype, self.rid, clen, pad, _ = struct.unpack(">BBHHBB", self.r.exact(8))
            self.r.exact(clen + pad)
            if rtype == 5 and not clen:
                return
            self.got += clen if rtype == 5 else 0

    def head(self, length, extra=b""):
        return self.record(6, b"Content-Type: text/plain\r\nContent-Length: %d\r\nX-Got: %d\r\n"
                           b"%s\r\n" % (length, self.got, extra))

    def answer(self, n):
        body = b"" if self.method == "HEAD" else fill(n)
        return self.head(n) + (self.record(6, body) if body else b"") + self.end()

    def garbage(self):
        return b"\x09\x06\x00\x01\x00\x10\x00\x00" + b"garbage-garbage!"

    def huge(self):
        return self.head(3, b"X-Filler: " + b"a" * HUGE_HEAD + b"\r\n") + self.record(6, b"abc") + \
            self.end()

    def body(self, data):
        return self.record(6, data)

    def end(self):
        return self.record(6) + self.record(3, struct.pack(">IB3x", 0, 0))


class Scgi:
    def __init__(self, reader):
        self.r = reader
        self.keep = False
        self.got = 0

    def read_head(self):
        digits = self.r.until(b":")[:-1]
        raw = self.r.exact(int(digits))
        if self.r.exact(1) != b",":
            raise ValueError("no comma after the netstring")
        items = raw.split(b"\0")[:-1]
        self.env = {k.decode("latin-1"): v.decode("latin-1")
                    for k, v in zip(items[0::2], items[1::2])}
        self.method = self.env.get("REQUEST_METHOD", "GET")
        return self.env.get("REQUEST_URI", "/")

    def read_body(self):
        self.got = len(self.r.exact(int(self.env.get("CONTENT_LENGTH") or "0")))

    def head(self, length, extra=b""):
        return (b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                b"X-Got: %d\r\n%s\r\n" % (length, self.got, extra))

    def answer(self, n):
        return self.head(n) + (b"" if self.method == "HEAD" else fill(n))

    def garbage(self):
        return b"\x16\x03\x01 not a head\r\nno colon here\r\n\r\n"

    def huge(self):
        return self.head(3, b"X-Filler: " + b"a" * HUGE_HEAD + b"\r\n") + b"abc"

    def body(self, data):
        return data

    def end(self):
        return b""


PROTOS = {"http": Http, "fcgi": Fcgi, "scgi": Scgi}


def serve_one(peer, p, fault, n):
    """Answer one request as the fault says; True when the connection may serve another."""
    sock = peer.sock
    if fault == "ok":
        sock.sendall(p.answer(n))
        return p.keep
    if fault == "ok-then-close":
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)  # held until the close
        sock.sendall(p.answer(n))
        peer.close()
        return False
    if fault == "slow-ok":
        time.sleep(0.2)
        sock.sendall(p.answer(n))
        return p.keep
    event(f"fault {fault}")
    if fault == "close-before-head":
        peer.close()
    elif fault == "reset-before-head":
        peer.reset()
    elif fault in ("reset-mid-body", "close-mid-body", "stall-body"):
        sock.sendall(p.head(n) + p.body(fill(n // 2)))
        if fault == "stall-body":
            peer.stall(fault)
        if fault == "reset-mid-body":
            peer.reset()
        else:
            peer.close()
    elif fault == "garbage-head":
        sock.sendall(p.garbage())
        peer.stall(fault)
        peer.close()
    elif fault == "huge-head":
        try:
            sock.sendall(p.huge())
        except OSError:
            pass
        peer.stall(fault)
        peer.close()
    elif fault == "stall-head":
        peer.stall(fault)
        peer.close()
    elif fault == "exit":
        os._exit(3)
    else:
        sock.sendall(p.answer(0))
        return p.keep
    return False


def serve(sock, seq):
    peer = Peer(sock, seq)
    reader = Reader(peer)
    try:
        while True:
            p = PROTOS[PROTO](reader)
            uri = p.read_head()
            fault, n = fault_of(uri)
            if fault == "reset-reading-body":
                event(f"fault {fault}")
                peer.reset()
                break
            p.read_body()
            event(f"request {p.method} {fault}")
            if not serve_one(peer, p, fault, n):
                break
    except (EOFError, ValueError, OSError, struct.error, IndexError):
        pass
    finally:
        try:
            peer.close()
        except OSError:
            pass


def child(srv):
    """The server: a thread per connection (or one connection at a time)."""
    global conn_seq
    libc_prctl_deathsig()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    while True:
        conn, _ = srv.accept()
        conn_seq += 1
        event(f"accept {conn_seq}")
        if SERIAL:
            serve(conn, conn_seq)
        else:
            threading.Thread(target=serve, args=(conn, conn_seq), daemon=True).start()


def libc_prctl_deathsig():
    """The child dies with its parent, however the parent ends."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main():
    if RAW:
        os.makedirs(os.path.join(LOGDIR, "raw"), exist_ok=True)
    srv = socket.socket(socket.AF_INET)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", PORT))
    srv.listen(256)
    state = {"pid": 0, "stop": False}

    def restart(*_):
        if state["pid"]:
            os.kill(state["pid"], signal.SIGKILL)

    def stop(*_):
        state["stop"] = True
        restart()

    signal.signal(signal.SIGUSR1, restart)
    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    while not state["stop"]:
        pid = os.fork()
        if pid == 0:
            try:
                child(srv)
            finally:
                os._exit(1)
        state["pid"] = pid
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        state["pid"] = 0
        event(f"exited {pid}")


main()
