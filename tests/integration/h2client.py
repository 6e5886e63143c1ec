"""A small raw HTTP/2 client for the tests (RFC 9113 framing, RFC 7541 HPACK), standard library
only, so the suite runs under any python3.

It sends exactly the bytes a test asks for, well-formed or not: frames are built by `frame()`
and its helpers, header blocks by `Encoder` (literal fields, never Huffman). It reads well
enough to follow a real server: `parse_frames` splits frames, `Decoder` reads header blocks with
the static and dynamic tables and Huffman strings. `H2Conn` holds one connection, over a plain
socket (prior knowledge) or TLS with ALPN h2.

    python3 tests/integration/h2client.py              # offline checks (RFC 7541 examples)
    python3 tests/integration/h2client.py --h2o        # also fetch a page from h2o, h2c and TLS
"""

import os
import socket
import ssl
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
FRAME_NAMES = ("DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING",
               "GOAWAY", "WINDOW_UPDATE", "CONTINUATION")

END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, \
    MAX_HEADER_LIST_SIZE = range(1, 7)

NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, \
    FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, \
    ENHANCE_YOUR_CALM, INADEQUATE_SECURITY, HTTP_1_1_REQUIRED = range(14)
ERROR_NAMES = ("NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
               "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
               "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
               "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED")


def error_name(code):
    return ERROR_NAMES[code] if 0 <= code < len(ERROR_NAMES) else f"0x{code:x}"


# ---------------------------------------------------------------------------------------------
# Frames

class Frame:
    def __init__(self, type, flags, stream, payload):
        self.type, self.flags, self.stream, self.payload = type, flags, stream, payload

    def error_code(self):
        """RST_STREAM's or GOAWAY's error code."""
        off = 4 if self.type == GOAWAY else 0
        return struct.unpack_from(">I", self.payload, off)[0]

    def last_stream(self):
        return struct.unpack_from(">I", self.payload)[0] & 0x7FFFFFFF

    def settings(self):
        return dict(struct.unpack_from(">HI", self.payload, i)
                    for i in range(0, len(self.payload) - 5, 6))

    def __repr__(self):
        name = FRAME_NAMES[self.type] if self.type < len(FRAME_NAMES) else f"type {self.type}"
        extra = ""
        if self.type in (RST_STREAM, GOAWAY) and len(self.payload) >= (8 if self.type else 4):
            extra = " " + error_name(self.error_code())
        return f"<{name} stream {self.stream} flags 0x{self.flags:x} len {len(self.payload)}" \
               f"{extra}>"


def frame(type, flags, stream, payload=b"", length=None):
    """One frame; length overrides the length field (to send a lying one)."""
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + struct.pack(">BBI", type, flags, stream) + payload


def data(stream, body=b"", end=False):
    return frame(DATA, END_STREAM if end else 0, stream, body)


def headers(stream, block, end_stream=True, end_headers=True, priority=None):
    """HEADERS; priority=(dependency, weight) adds the priority fields."""
    flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
    if priority:
        flags |= PRIORITY_FLAG
        block = struct.pack(">IB", priority[0], priority[1] - 1) + block
    return frame(HEADERS, flags, stream, block)


def continuation(stream, block, end_headers=False):
    return frame(CONTINUATION, END_HEADERS if end_headers else 0, stream, block)


def priority(stream, depends_on, weight=16, exclusive=False):
    dep = depends_on | (0x80000000 if exclusive else 0)
    return frame(PRIORITY, 0, stream, struct.pack(">IB", dep, weight - 1))


def rst_stream(stream, code=CANCEL):
    return frame(RST_STREAM, 0, stream, struct.pack(">I", code))


def settings(pairs=(), ack=False):
    body = b"".join(struct.pack(">HI", k, v) for k, v in dict(pairs).items())
    return frame(SETTINGS, ACK if ack else 0, 0, body)


def push_promise(stream, promised, block):
    return frame(PUSH_PROMISE, END_HEADERS, stream, struct.pack(">I", promised) + block)


def ping(opaque=b"\0" * 8, ack=False):
    return frame(PING, ACK if ack else 0, 0, opaque)


def goaway(last_stream=0, code=NO_ERROR, debug=b""):
    return frame(GOAWAY, 0, 0, struct.pack(">II", last_stream, code) + debug)


def window_update(stream, increment):
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", increment))


def parse_frames(buf):
    """Split buf into whole frames; returns (frames, the bytes of an incomplete last one)."""
    out, p = [], 0
    while len(buf) - p >= 9:
        n = int.from_bytes(buf[p:p + 3], "big")
        if len(buf) - p - 9 < n:
            break
        type, flags, stream = struct.unpack_from(">BBI", buf, p + 3)
        out.append(Frame(type, flags, stream & 0x7FFFFFFF, bytes(buf[p + 9:p + 9 + n])))
        p += 9 + n
    return out, buf[p:]


# ---------------------------------------------------------------------------------------------
# HPACK

# RFC 7541 Appendix A, entries 1-61: "name" or "name=value" ("_" stands for a space).
STATIC_TABLE = [
    (n.encode(), v.replace("_", " ").encode()) for n, _, v in (e.partition("=") for e in (
        ":authority :method=GET :method=POST :path=/ :path=/index.html :scheme=http "
        ":scheme=https :status=200 :status=204 :status=206 :status=304 :status=400 :status=404 "
        ":status=500 accept-charset accept-encoding=gzip,_deflate accept-language accept-ranges "
        "accept access-control-allow-origin age allow authorization cache-control "
        "content-disposition content-encoding content-language content-length content-location "
        "content-range content-type cookie date etag expect expires from host if-match "
        "if-modified-since if-none-match if-range if-unmodified-since last-modified link location "
        "max-forwards proxy-authenticate proxy-authorization range referer refresh retry-after "
        "server set-cookie strict-transport-security transfer-encoding user-agent vary via "
        "www-authenticate").split())]

# RFC 7541 Appendix B: the code is canonical, so each symbol's bit length (0-255, then EOS)
# defines it: codes are handed out in order of (length, symbol).
HUFFMAN_LENGTHS = bytes([
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30,
    28, 28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5,
    7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22,
    22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23,
    22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22,
    21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26,
    26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20,
    24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27,
    27, 28, 27, 27, 27, 27, 27, 26, 30])
EOS = 256


def _huffman_codes():
    """{(bit length, code): symbol} for the canonical code."""
    codes, code, prev = {}, -1, 0
    for sym in sorted(range(257), key=lambda s: (HUFFMAN_LENGTHS[s], s)):
        n = HUFFMAN_LENGTHS[sym]
        code = (code + 1) << (n - prev)
        prev = n
        codes[(n, code)] = sym
    return codes


HUFFMAN_CODES = _huffman_codes()


class HpackError(Exception):
    pass


def huffman_encode(raw):
    """Only the offline checks need this; the client itself sends literal strings."""
    by_sym = {sym: (n, code) for (n, code), sym in HUFFMAN_CODES.items()}
    acc = nbits = 0
    for b in raw:
        n, code = by_sym[b]
        acc, nbits = (acc << n) | code, nbits + n
    pad = -nbits % 8
    acc, nbits = (acc << pad) | ((1 << pad) - 1), nbits + pad
    return acc.to_bytes(nbits // 8, "big")


def huffman_decode(raw):
    out = bytearray()
    code = n = 0
    for byte in raw:
        for shift in range(7, -1, -1):
            code, n = (code << 1) | ((byte >> shift) & 1), n + 1
            sym = HUFFMAN_CODES.get((n, code))
            if sym is None:
                if n > 30:
                    raise HpackError("invalid Huffman code")
                continue
            if sym == EOS:
                raise HpackError("EOS in a Huffman string")
            out.append(sym)
            code = n = 0
    if n > 7 or code != (1 << n) - 1:
        raise HpackError("bad Huffman padding")
    return bytes(out)


def encode_int(value, prefix_bits, first=0):
    """An HPACK integer with an N-bit prefix; first holds the bits above the prefix."""
    top = (1 << prefix_bits) - 1
    if value < top:
        return bytes([first | value])
    out = bytearray([first | top])
    value -= top
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_int(buf, p, prefix_bits):
    top = (1 << prefix_bits) - 1
    if p >= len(buf):
        raise HpackError("truncated integer")
    value = buf[p] & top
    p += 1
    if value < top:
        return value, p
    shift = 0
    while True:
        if p >= len(buf) or shift > 28:
            raise HpackError("truncated or oversized integer")
        b = buf[p]
        p += 1
        value += (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, p


def encode_str(s):
    s = s.encode() if isinstance(s, str) else s
    return encode_int(len(s), 7) + s


def indexed(index):
    """An indexed header field representation (a reference to a table entry)."""
    return encode_int(index, 7, 0x80)


def literal(name, value, index=False):
    """A literal field with a literal name: with incremental indexing (index=True: the server
    adds it to its dynamic table, as entry 62 first), else without indexing."""
    return (b"\x40" if index else b"\x00") + encode_str(name) + encode_str(value)


def request_block(path="/", method="GET", authority="127.0.0.1", scheme="http", extra=()):
    """A request's header block, every field a literal (no table state on either side)."""
    fields = [(":method", method), (":scheme", scheme), (":path", path),
              (":authority", authority)] + list(extra)
    return b"".join(literal(n, v) for n, v in fields)


class Decoder:
    """Reads header blocks; keeps the dynamic table across blocks like the peer's encoder."""

    def __init__(self, max_size=4096):
        self.table = []  # newest first
        self.size = 0
        self.max_size = max_size

    def _entry(self, index):
        if index == 0:
            raise HpackError("index 0")
        if index <= len(STATIC_TABLE):
            return STATIC_TABLE[index - 1]
        if index - len(STATIC_TABLE) > len(self.table):
            raise HpackError(f"index {index} beyond the tables")
        return self.table[index - len(STATIC_TABLE) - 1]

    def _add(self, name, value):
        self.table.insert(0, (name, value))
        self.size += 32 + len(name) + len(value)
        self._evict()

    def _evict(self):
        while self.size > self.max_size:
            n, v = self.table.pop()
            self.size -= 32 + len(n) + len(v)

    def _string(self, buf, p):
        huff = p < len(buf) and buf[p] & 0x80
        n, p = decode_int(buf, p, 7)
        if p + n > len(buf):
            raise HpackError("truncated string")
        s = bytes(buf[p:p + n])
        return (huffman_decode(s) if huff else s), p + n

    def decode(self, buf):
        """[(name, value)] as bytes."""
        out, p = [], 0
        while p < len(buf):
            b = buf[p]
            if b & 0x80:
                index, p = decode_int(buf, p, 7)
                out.append(self._entry(index))
                continue
            if b & 0xE0 == 0x20:
                self.max_size, p = decode_int(buf, p, 5)
                self._evict()
                continue
            prefix = 6 if b & 0x40 else 4
            index, p = decode_int(buf, p, prefix)
            if index:
                name = self._entry(index)[0]
            else:
                name, p = self._string(buf, p)
            value, p = self._string(buf, p)
            if b & 0x40:
                self._add(name, value)
            out.append((name, value))
        return out


# ---------------------------------------------------------------------------------------------
# A connection

class Closed(Exception):
    """The server closed the connection (or reset it)."""


class Response:
    def __init__(self, stream):
        self.stream = stream
        self.headers = []
        self.body = b""
        self.reset = None  # RST_STREAM error code

    @property
    def status(self):
        for n, v in self.headers:
            if n == b":status":
                return int(v)
        return None

    def header(self, name):
        name = name.encode() if isinstance(name, str) else name
        return next((v.decode("latin-1") for n, v in self.headers if n == name), None)


class H2Conn:
    """One HTTP/2 connection. Frames read are kept in `frames`; GOAWAY, RST_STREAM, SETTINGS and
    the end of the connection are recorded as they are seen."""

    def __init__(self, sock, timeout=5.0):
        self.sock = sock
        self.timeout = timeout
        self.buf = b""
        self.frames = []
        self.decoder = Decoder()
        self.server_settings = {}
        self.goaway = None
        self.resets = {}  # stream -> error code
        self.closed = False
        self.next_stream = 1
        self._block = {}  # stream -> header block fragments until END_HEADERS
        self.responses = {}
        self.ended_streams = set()  # the server sent END_STREAM
        self.credit = True  # give back the window the server's DATA used

    # -- set-up ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, port, host="127.0.0.1", tls=False, timeout=5.0, settings_pairs=(),
             preface=True):
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            sock = ctx.wrap_socket(sock, server_hostname=host)
            if sock.selected_alpn_protocol() != "h2":
                proto = sock.selected_alpn_protocol()
                sock.close()
                raise Closed(f"ALPN chose {proto!r}, not h2")
        conn = cls(sock, timeout)
        if preface:
            conn.send(PREFACE + settings(settings_pairs))
        return conn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- sending --------------------------------------------------------------------------------

    def send(self, data):
        """Send bytes; raises Closed when the server is gone."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as e:
            self.closed = True
            raise Closed(str(e)) from None

    def stream_id(self):
        sid = self.next_stream
        self.next_stream += 2
        return sid

    def request(self, path="/", method="GET", extra=(), end_stream=True, scheme=None):
        """Send a request's HEADERS; returns its stream id."""
        sid = self.stream_id()
        scheme = scheme or ("https" if isinstance(self.sock, ssl.SSLSocket) else "http")
        self.send(headers(sid, request_block(path, method, scheme=scheme, extra=extra),
                          end_stream=end_stream))
        return sid

    # -- receiving ------------------------------------------------------------------------------

    def _recv(self, timeout):
        """Read what arrives within timeout; False when nothing did. Sets closed at EOF."""
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            timeout = 0
        self.sock.settimeout(max(timeout, 0.001))
        try:
            b = self.sock.recv(1 << 16)
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, ssl.SSLError, OSError):
            b = b""
        if not b:
            self.closed = True
            return True
        self.buf += b
        return True

    def _note(self, f, auto_ack):
        self.frames.append(f)
        if f.type in (HEADERS, DATA) and f.flags & END_STREAM:
            self.ended_streams.add(f.stream)
        if f.type == SETTINGS and not f.flags & ACK:
            self.server_settings.update(f.settings())
            if auto_ack:
                self._quiet_send(settings(ack=True))
        elif f.type == PING and not f.flags & ACK and auto_ack:
            self._quiet_send(ping(f.payload, ack=True))
        elif f.type == GOAWAY and self.goaway is None:
            self.goaway = f
        elif f.type == RST_STREAM and len(f.payload) == 4:
            self.resets[f.stream] = f.error_code()
            self.responses.setdefault(f.stream, Response(f.stream)).reset = f.error_code()
        elif f.type in (HEADERS, CONTINUATION):
            self._header_fragment(f)
        elif f.type == DATA:
            self.responses.setdefault(f.stream, Response(f.stream)).body += self._unpad(f)
            if f.payload and auto_ack and self.credit:
                n = len(f.payload)
                self._quiet_send(window_update(0, n) + window_update(f.stream, n))

    @staticmethod
    def _unpad(f):
        p = f.payload
        if f.flags & PADDED and p:
            return p[1:len(p) - p[0]]
        return p

    def _header_fragment(self, f):
        block = f.payload
        if f.type == HEADERS:
            block = self._unpad(f)
            if f.flags & PRIORITY_FLAG:
                block = block[5:]
        frags = self._block.setdefault(f.stream, [])
        frags.append(block)
        if f.flags & END_HEADERS:
            fields = self.decoder.decode(b"".join(self._block.pop(f.stream)))
            resp = self.responses.setdefault(f.stream, Response(f.stream))
            if not resp.headers or resp.status is not None and resp.status < 200:
                resp.headers = fields
            else:
                resp.headers += fields  # trailers

    def _quiet_send(self, data):
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError):
            pass

    def read_frames(self, timeout=0.0, auto_ack=True):
        """Read and record the frames that arrive within timeout (at least what is there)."""
        deadline = time.monotonic() + timeout
        got = []
        while not self.closed:
            if not self._recv(max(0.0, deadline - time.monotonic())):
                if time.monotonic() >= deadline:
                    break
                continue
            frames, self.buf = parse_frames(self.buf)
            for f in frames:
                self._note(f, auto_ack)
            got += frames
            if frames and time.monotonic() >= deadline:
                break
        return got

    def wait(self, cond, timeout=None, auto_ack=True):
        """Read frames until cond() is true or the connection ends; returns cond()'s value."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not cond() and not self.closed and time.monotonic() < deadline:
            self.read_frames(min(0.2, max(0.0, deadline - time.monotonic())), auto_ack)
        return cond()

    def response(self, sid, timeout=None):
        """The response on a stream once it ended (END_STREAM or RST_STREAM), else None."""
        def done():
            r = self.responses.get(sid)
            return r if r and (r.reset is not None or sid in self.ended_streams) else None
        return self.wait(done, timeout)

    def get(self, path="/", timeout=None, extra=()):
        sid = self.request(path, extra=extra)
        resp = self.response(sid, timeout)
        if resp is None:
            why = f"GOAWAY {error_name(self.goaway.error_code())}" if self.goaway else (
                "connection closed" if self.closed else "timeout")
            raise Closed(f"no response to GET {path} on stream {sid}: {why}")
        return resp

    def wait_end(self, timeout=None):
        """Read until the server sends GOAWAY or closes; returns the GOAWAY frame or None."""
        self.wait(lambda: self.goaway is not None, timeout)
        return self.goaway


# ---------------------------------------------------------------------------------------------
# Self-test: python3 h2client.py [--h2o]

def _offline_checks():
    # RFC 7541 C.4.1-C.4.3: requests with Huffman-coded strings, sharing one dynamic table.
    d = Decoder()
    blocks = ["828684418cf1e3c2e5f23a6ba0ab90f4ff",
              "828684be5886a8eb10649cbf",
              "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"]
    want = [[(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"),
             (b":authority", b"www.example.com")],
            [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"),
             (b":authority", b"www.example.com"), (b"cache-control", b"no-cache")],
            [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/index.html"),
             (b":authority", b"www.example.com"), (b"custom-key", b"custom-value")]]
    for hexblock, fields in zip(blocks, want):
        got = d.decode(bytes.fromhex(hexblock))
        assert got == fields, (got, fields)
    assert d.size == 164, d.size
    # RFC 7541 C.6.1: a response with Huffman strings.
    got = Decoder(256).decode(bytes.fromhex(
        "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad1718"
        "63c78f0b97c8e9ae82ae43d3"))
    assert got[0] == (b":status", b"302") and got[3] == (b"location", b"https://www.example.com")
    for s in (b"", b"a", bytes(range(256)), b"www.example.com"):
        assert huffman_decode(huffman_encode(s)) == s
    assert encode_int(1337, 5) == bytes([31, 154, 10]) and decode_int(b"\x1f\x9a\x0a", 0, 5) == (
        1337, 3)
    assert Decoder().decode(request_block("/x"))[2] == (b":path", b"/x")
    fs, rest = parse_frames(ping(b"12345678") + goaway(7, ENHANCE_YOUR_CALM)[:5])
    assert len(fs) == 1 and fs[0].type == PING and fs[0].payload == b"12345678" and len(rest) == 5
    print("ok h2client offline checks")


def _h2o_check():
    """Fetch a page from h2o over h2c (prior knowledge) and over TLS with ALPN h2."""
    import subprocess
    import tempfile
    tmp = tempfile.mkdtemp(prefix="h2client-")
    proc = None
    try:
        with open(os.path.join(tmp, "index.html"), "w") as f:
            f.write("hello h2\n")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=x",
                        "-keyout", f"{tmp}/key.pem", "-out", f"{tmp}/cert.pem"],
                       check=True, capture_output=True, timeout=30)
        ports = []
        for _ in range(2):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                ports.append(s.getsockname()[1])
        user = "user: root\n" if os.geteuid() == 0 else ""
        with open(f"{tmp}/h2o.conf", "w") as f:
            f.write(f"{user}num-threads: 1\nerror-log: {tmp}/error.log\n"
                    f"listen:\n  host: 127.0.0.1\n  port: {ports[0]}\n"
                    f"listen:\n  host: 127.0.0.1\n  port: {ports[1]}\n  ssl:\n"
                    f"    certificate-file: {tmp}/cert.pem\n    key-file: {tmp}/key.pem\n"
                    f"hosts:\n  default:\n    paths:\n      /:\n        file.dir: {tmp}\n")
        proc = subprocess.Popen(["h2o", "-c", f"{tmp}/h2o.conf"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", ports[1]), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        for tls, port in ((False, ports[0]), (True, ports[1])):
            with H2Conn.open(port, tls=tls) as c:
                r = c.get("/index.html")
                assert r.status == 200 and r.body == b"hello h2\n", (r.status, r.body)
                assert r.header("content-length") == "9", r.headers
                r = c.get("/missing")
                assert r.status == 404, r.status
                c.send(goaway())
            print(f"ok h2client against h2o ({'TLS ALPN h2' if tls else 'h2c prior knowledge'})")
    finally:
        if proc:
            proc.kill()
            proc.wait()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    import sys
    _offline_checks()
    if "--h2o" in sys.argv:
        _h2o_check()
