"""HTTP/2 request messages (RFC 9113 8.1-8.3): a malformed request is a stream error
(RST_STREAM PROTOCOL_ERROR) and never reaches a handler, while the connection goes on serving.
Field names with upper-case letters, values with NUL, CR, LF, other controls or white space at
either end, connection-specific fields, a TE other than "trailers", pseudo-header fields that
are missing, repeated, unknown or after a regular field, a :protocol without CONNECT, a
Content-Length the DATA do not match, trailers with pseudo-header fields or without
END_STREAM, names that are not lower-case tokens. Well-formed requests around all this are
answered."""

import struct

import h2client as h2
from harness import Server, check, eq, lux_only

TIMEOUT = 10
FILES = {"page.txt": "page\n"}
CONF = 'server.max-worker = 1\n'

BASE = ((":method", "GET"), (":scheme", "http"), (":path", "/page.txt"),
        (":authority", "127.0.0.1"))


def block(fields):
    return b"".join(h2.literal(n, v) for n, v in fields)


def outcome(conn, sid):
    """("reset", code) or ("status", code) of one stream."""
    def answered():
        r = conn.responses.get(sid)
        return r is not None and (r.reset is not None or r.status is not None)
    check(conn.wait(answered, TIMEOUT), f"no answer on stream {sid}")
    r = conn.responses[sid]
    return ("reset", r.reset) if r.reset is not None else ("status", r.status)


def send_request(conn, fields, end_stream=True):
    sid = conn.stream_id()
    conn.send(h2.headers(sid, block(fields), end_stream=end_stream))
    return sid


def still_serves(conn):
    eq(conn.get("/page.txt").body, b"page\n", "a well-formed request on the same connection")


RESET = ("reset", h2.PROTOCOL_ERROR)
STREAM_ERROR = "a malformed request is a stream error (RFC 9113 8.1.1); lighttpd answers 400"

# fields of a request head that make it malformed, each beside the four pseudo-headers
MALFORMED_HEADS = {
    "upper-case name": BASE + (("User-Agent", "t"),),
    "space in a name": BASE + (("x a", "v"),),
    "parenthesis in a name": BASE + (("x(a)", "v"),),
    "control in a name": BASE + (("x\x01", "v"),),
    "non-ASCII name": BASE + (("x\xff", "v"),),
    "colon inside a name": BASE + (("a:b", "v"),),
    "empty name": BASE + (("", "v"),),
    "NUL in a value": BASE + (("x-a", "a\0b"),),
    "CR in a value": BASE + (("x-a", "a\rb"),),
    "LF in a value": BASE + (("x-a", "a\nb"),),
    "a control in a value": BASE + (("x-a", "a\x01b"),),
    "DEL in a value": BASE + (("x-a", "a\x7fb"),),
    "leading space": BASE + (("x-a", " a"),),
    "trailing tab": BASE + (("x-a", "a\t"),),
    "connection": BASE + (("connection", "keep-alive"),),
    "keep-alive": BASE + (("keep-alive", "300"),),
    "proxy-connection": BASE + (("proxy-connection", "close"),),
    "transfer-encoding": BASE + (("transfer-encoding", "chunked"),),
    "upgrade": BASE + (("upgrade", "h2c"),),
    "te other than trailers": BASE + (("te", "gzip"),),
    "pseudo-header after a regular field": BASE[:3] + (("x-a", "1"), BASE[3]),
    "pseudo-header twice": BASE + ((":path", "/other"),),
    "unknown pseudo-header": BASE + ((":foo", "bar"),),
    "response pseudo-header": BASE + ((":status", "200"),),
    "no :method": BASE[1:],
    "no :scheme": (BASE[0],) + BASE[2:],
    "no :path": BASE[:2] + BASE[3:],
    "empty :path": BASE[:2] + ((":path", ""),) + BASE[3:],
    "space in :path": BASE[:2] + ((":path", "/a b"),) + BASE[3:],
    "bad :method": ((":method", "G T"),) + BASE[1:],
    "bad :authority": BASE[:3] + ((":authority", "a b"),),
    "bad host": BASE + (("host", "a b"),),
    ":protocol without CONNECT": BASE + ((":protocol", "websocket"),),
    "CONNECT without :authority": ((":method", "CONNECT"),),
    "CONNECT with :path": ((":method", "CONNECT"), (":authority", "127.0.0.1:80"),
                           (":path", "/")),
    "content-length not a number": BASE + (("content-length", "1x"),),
    "content-length twice": BASE + (("content-length", "0"), ("content-length", "0")),
    "content-length with no body": BASE + (("content-length", "3"),),
}


@lux_only(STREAM_ERROR)
def test_malformed_request_heads_are_reset():
    with Server(CONF, files=FILES) as s:
        cases = list(MALFORMED_HEADS.items())
        # a few to a connection: each reset takes a token from the connection's bucket
        for at in range(0, len(cases), 4):
            with h2.H2Conn.open(s.port, timeout=TIMEOUT) as conn:
                for what, fields in cases[at:at + 4]:
                    eq(outcome(conn, send_request(conn, fields)), RESET, what)
                still_serves(conn)


def test_well_formed_fields_are_taken():
    with Server(CONF, files=FILES) as s, h2.H2Conn.open(s.port, timeout=TIMEOUT) as conn:
        for what, fields in (
                ("te: trailers", (("te", "trailers"),)),
                ("white space inside a value", (("x-a", "a b\tc"),)),
                ("a token name with symbols", (("x-a!#$%&'*+.^_`|~09", "v"),)),
                ("an empty value", (("x-a", ""),)),
                ("non-ASCII in a value", (("x-a", "\xe9t\xe9"),)),
                ("content-length 0 with no body", (("content-length", "0"),))):
            eq(outcome(conn, send_request(conn, BASE + fields)), ("status", 200), what)


def body_request(conn, length, sent, trailers=None, trailers_end=True):
    fields = ((":method", "POST"),) + BASE[1:] + (("content-length", str(length)),)
    sid = send_request(conn, fields, end_stream=False)
    if trailers is None:
        conn.send(h2.data(sid, b"x" * sent, end=True))
    else:
        conn.send(h2.data(sid, b"x" * sent))
        conn.send(h2.headers(sid, block(trailers), end_stream=trailers_end))
    return sid


@lux_only(STREAM_ERROR)
def test_content_length_must_match_the_data():
    with Server(CONF, files=FILES) as s, h2.H2Conn.open(s.port, timeout=TIMEOUT) as conn:
        eq(outcome(conn, body_request(conn, 5, 10)), RESET, "more DATA than announced")
        eq(outcome(conn, body_request(conn, 10, 5)), RESET, "less DATA than announced")
        eq(outcome(conn, body_request(conn, 5, 5, trailers=(("x-t", "1"),)))[0], "status",
           "the announced length, then trailers")
        eq(outcome(conn, body_request(conn, 5, 3, trailers=(("x-t", "1"),))), RESET,
           "less DATA than announced, then trailers")
        still_serves(conn)


@lux_only(STREAM_ERROR)
def test_malformed_trailers_are_reset():
    with Server(CONF, files=FILES) as s, h2.H2Conn.open(s.port, timeout=TIMEOUT) as conn:
        eq(outcome(conn, body_request(conn, 5, 5, trailers=((":path", "/x"),))), RESET,
           "a pseudo-header in trailers")
        eq(outcome(conn, body_request(conn, 5, 5, trailers=(("X-T", "1"),))), RESET,
           "an upper-case name in trailers")
        sid = body_request(conn, 5, 5, trailers=(("x-t", "1"),), trailers_end=False)
        eq(outcome(conn, sid), RESET, "trailers without END_STREAM")
        still_serves(conn)


@lux_only(STREAM_ERROR)
def test_many_malformed_requests_on_one_connection_count_as_resets():
    """The server's resets for malformed requests take tokens as a client's own resets do
    (MadeYouReset): enough of them end the connection with ENHANCE_YOUR_CALM."""
    with Server(CONF, files=FILES) as s, h2.H2Conn.open(s.port, timeout=TIMEOUT) as conn:
        for _ in range(300):
            if conn.closed or conn.goaway is not None:
                break
            try:
                send_request(conn, BASE + (("User-Agent", "t"),))
            except h2.Closed:
                break
            conn.read_frames(0)
        check(conn.wait(lambda: conn.goaway is not None or conn.closed, TIMEOUT),
              "the connection went on")
        check(conn.goaway is not None, "no GOAWAY")
        eq(struct.unpack(">I", conn.goaway.payload[4:8])[0], h2.ENHANCE_YOUR_CALM,
           "the GOAWAY's code")
