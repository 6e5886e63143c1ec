"""The request headers a static answer depends on (the conditionals, Range, If-Range) are found
whatever their case and wherever they stand among others, including among names of the same
length that are none of them."""

from harness import Conn, Server, eq, lux_only

BODY = "0123456789abcdef\n"
FILES = {"f.txt": BODY}

# Names of the same lengths as Range (5), If-Match (8), If-None-Match (13), If-Modified-Since
# (17) and If-Unmodified-Since (19), none of them: they must not hide the one that follows.
DECOYS = [("Rangz", "1"), ("X-Custom", "1"), ("Cache-Control", "no-cache"),
          ("X-Modified-Since1", "1"), ("X-Unmodified-Since1", "1"), ("Iange", "1")]


def ask(c, name, value):
    return c.request("/f.txt", headers=DECOYS + [(name, value)])


def test_conditionals_in_any_case_after_look_alike_names():
    with Server(files=FILES) as s:
        c = Conn(s.port)
        first = c.request("/f.txt")
        etag, modified = first.header("ETag"), first.header("Last-Modified")
        for name in ("If-None-Match", "if-none-match", "IF-NONE-MATCH"):
            eq(ask(c, name, etag).status, 304, name)
        for name in ("If-Modified-Since", "if-modified-since"):
            eq(ask(c, name, modified).status, 304, name)
        plain = c.request("/f.txt", headers=DECOYS)
        eq(plain.status, 200, "with look-alike names only")
        eq(plain.body, BODY.encode(), "with look-alike names only: body")
        c.close()


@lux_only("lighttpd ignores If-Match and If-Unmodified-Since on static files")
def test_if_match_and_if_unmodified_since_in_any_case_after_look_alike_names():
    with Server(files=FILES) as s:
        c = Conn(s.port)
        for name in ("If-Match", "if-match", "IF-MATCH"):
            eq(ask(c, name, '"other"').status, 412, name)
        for name in ("If-Unmodified-Since", "if-unmodified-since"):
            eq(ask(c, name, "Thu, 01 Jan 1970 00:00:01 GMT").status, 412, name)
        c.close()


def test_range_and_if_range_in_any_case_after_look_alike_names():
    with Server(files=FILES) as s:
        c = Conn(s.port)
        etag = c.request("/f.txt").header("ETag")
        for name in ("Range", "range", "RANGE"):
            r = ask(c, name, "bytes=2-5")
            eq(r.status, 206, name)
            eq(r.body, b"2345", f"{name} body")
        for name in ("If-Range", "if-range"):
            r = c.request("/f.txt", headers=DECOYS + [(name, '"stale"'), ("Range", "bytes=2-5")])
            eq(r.status, 200, f"{name} that does not match")
            r = c.request("/f.txt", headers=DECOYS + [(name, etag), ("range", "bytes=2-5")])
            eq(r.status, 206, f"{name} that matches")
        c.close()
