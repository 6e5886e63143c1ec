"""Range requests on static files: single, suffix, open, multipart, unsatisfiable, If-Range."""

import re

from harness import Server, check, eq, get, lux_only

DATA = bytes(range(256)) * 40       # 10240 bytes, every offset distinguishable mod 256
SIZE = len(DATA)
FILES = {"r.bin": DATA}


def ranged(s, spec, **headers):
    headers["Range"] = spec
    return get(s.port, "/r.bin", headers=headers)


def expect_206(r, first, last):
    eq(r.status, 206, "status")
    eq(r.header("Content-Range"), f"bytes {first}-{last}/{SIZE}", "Content-Range")
    eq(r.header("Content-Length"), str(last - first + 1), "Content-Length")
    eq(r.body, DATA[first:last + 1], "body")


def multipart(r):
    """The parts of a multipart/byteranges body as [(headers dict, payload)]."""
    ctype = r.header("Content-Type") or ""
    m = re.fullmatch(r'multipart/byteranges;\s*boundary="?([^";]+)"?', ctype)
    check(m, f"Content-Type {ctype!r}")
    delim = b"--" + m.group(1).encode()
    body = r.body
    start = body.find(delim + b"\r\n")
    check(start >= 0 and body[:start].strip() == b"", f"bad multipart start {body[:80]!r}")
    end = body.rfind(b"\r\n" + delim + b"--")
    check(end > start, "no closing boundary")
    check(body[end + len(delim) + 4:] in (b"", b"\r\n"), f"junk at the end: {body[end:]!r}")
    parts = []
    for chunk in body[start + len(delim) + 2:end].split(b"\r\n" + delim + b"\r\n"):
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        check(sep, f"part without headers: {chunk[:80]!r}")
        headers = {}
        for line in head.split(b"\r\n"):
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        parts.append((headers, payload))
    return parts


def test_single_range():
    with Server(files=FILES) as s:
        expect_206(ranged(s, "bytes=100-199"), 100, 199)
        check(ranged(s, "bytes=0-0").body == DATA[:1], "first byte")


def test_range_past_end_is_clamped():
    with Server(files=FILES) as s:
        expect_206(ranged(s, f"bytes={SIZE - 10}-{SIZE * 2}"), SIZE - 10, SIZE - 1)


def test_suffix_range():
    with Server(files=FILES) as s:
        expect_206(ranged(s, "bytes=-500"), SIZE - 500, SIZE - 1)


def test_open_ended_range():
    with Server(files=FILES) as s:
        expect_206(ranged(s, "bytes=10000-"), 10000, SIZE - 1)


def test_accept_ranges_advertised():
    with Server(files=FILES) as s:
        eq(get(s.port, "/r.bin").header("Accept-Ranges"), "bytes", "Accept-Ranges")


def test_multiple_ranges_multipart():
    with Server(files=FILES) as s:
        r = ranged(s, "bytes=0-9,5000-5009,-5")
        eq(r.status, 206, "status")
        eq(r.header("Content-Length"), str(len(r.body)), "Content-Length")
        parts = multipart(r)
        want = [(0, 9), (5000, 5009), (SIZE - 5, SIZE - 1)]
        eq(len(parts), len(want), "number of parts")
        for (headers, payload), (a, b) in zip(parts, want):
            eq(headers.get("content-range"), f"bytes {a}-{b}/{SIZE}", "part Content-Range")
            eq(headers.get("content-type"), "application/octet-stream", "part Content-Type")
            eq(payload, DATA[a:b + 1], f"part {a}-{b} payload")


def test_unsatisfiable_range_416():
    with Server(files=FILES) as s:
        for spec in (f"bytes={SIZE}-", f"bytes={SIZE + 100}-{SIZE + 200}", "bytes=5-1"):
            eq(ranged(s, spec).status, 416, f"status for {spec}")


@lux_only("lighttpd 1.4.69 omits Content-Range on 416")
def test_unsatisfiable_range_content_range():
    with Server(files=FILES) as s:
        eq(ranged(s, f"bytes={SIZE}-").header("Content-Range"), f"bytes */{SIZE}",
           "Content-Range")


def test_other_range_unit_ignored():
    with Server(files=FILES) as s:
        r = ranged(s, "items=0-1")
        eq(r.status, 200, "status")
        eq(r.body, DATA, "full body")


def test_if_range_etag_match():
    with Server(files=FILES) as s:
        etag = get(s.port, "/r.bin").header("ETag")
        expect_206(ranged(s, "bytes=0-99", **{"If-Range": etag}), 0, 99)


def test_if_range_etag_mismatch():
    with Server(files=FILES) as s:
        r = ranged(s, "bytes=0-99", **{"If-Range": '"not-the-etag"'})
        eq(r.status, 200, "status")
        eq(r.body, DATA, "full body")


def test_if_range_date_match():
    with Server(files=FILES) as s:
        lm = get(s.port, "/r.bin").header("Last-Modified")
        expect_206(ranged(s, "bytes=0-99", **{"If-Range": lm}), 0, 99)


def test_if_range_date_mismatch():
    with Server(files=FILES) as s:
        r = ranged(s, "bytes=0-99", **{"If-Range": "Mon, 01 Jan 1990 00:00:00 GMT"})
        eq(r.status, 200, "status")
        eq(r.body, DATA, "full body")


def test_head_with_range():
    with Server(files=FILES) as s:
        r = get(s.port, "/r.bin", method="HEAD", headers={"Range": "bytes=0-9"})
        check(r.status in (200, 206), f"status {r.status}")
        eq(r.body, b"", "HEAD body")
