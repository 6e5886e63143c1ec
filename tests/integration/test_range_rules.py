"""Range details as lighttpd 1.4.69 has them: joining near ranges, order, invalid specs."""

from harness import Server, eq, get
from test_ranges import DATA, FILES, SIZE, multipart


def ranged(s, spec, path="/r.bin"):
    return get(s.port, path, headers={"Range": spec})


def single(r, first, last, size=SIZE, data=DATA):
    eq(r.status, 206, "status")
    eq(r.header("Content-Range"), f"bytes {first}-{last}/{size}", "Content-Range")
    eq(r.body, data[first:last + 1], "body")


def parts(r):
    eq(r.status, 206, "status")
    return [h.get("content-range") for h, _ in multipart(r)]


def test_small_gap_is_one_part():
    with Server(files={"six.txt": "abcdef"}) as s:
        single(ranged(s, "bytes=0-1,3-4", "/six.txt"), 0, 4, 6, b"abcdef")
        single(ranged(s, "bytes=3-4,0-1", "/six.txt"), 0, 4, 6, b"abcdef")


def test_join_gap_bound():
    with Server(files=FILES) as s:
        single(ranged(s, "bytes=0-9,89-99"), 0, 99)
        eq(parts(ranged(s, "bytes=0-9,90-99")),
           [f"bytes 0-9/{SIZE}", f"bytes 90-99/{SIZE}"], "80 bytes apart stay two parts")


def test_joined_ranges_chain():
    with Server(files=FILES) as s:
        single(ranged(s, "bytes=100-199,0-9,50-60"), 0, 199)


def test_parts_keep_request_order():
    with Server(files=FILES) as s:
        eq(parts(ranged(s, "bytes=5000-5009,0-9")),
           [f"bytes 5000-5009/{SIZE}", f"bytes 0-9/{SIZE}"], "order of the header")
        eq(parts(ranged(s, "bytes=0-1,1000-2000,50-60")),
           [f"bytes 0-60/{SIZE}", f"bytes 1000-2000/{SIZE}"], "joined into the earlier part")


def test_at_most_ten_parts():
    spec = "bytes=" + ",".join(f"{i * 1000}-{i * 1000}" for i in range(11))
    with Server(files=FILES) as s:
        got = parts(ranged(s, spec))
        eq(got, [f"bytes {i * 1000}-{i * 1000}/{SIZE}" for i in range(10)], "first ten")


def test_invalid_specs_416():
    with Server(files=FILES) as s:
        for spec in ("bytes=0--", "bytes=-2-3", "bytes=abc", "bytes=", "bytes=-", "bytes=1-2;x",
                     "bytes=0-99999999999999999999"):
            eq(ranged(s, spec).status, 416, f"status for {spec!r}")


def test_invalid_spec_beside_valid_one_skipped():
    with Server(files=FILES) as s:
        single(ranged(s, "bytes=0-1,x"), 0, 1)
        single(ranged(s, "bytes=x,0--,100-199"), 100, 199)


def test_lenient_number_forms():
    with Server(files=FILES) as s:
        single(ranged(s, "bytes=1 - 2"), 1, 2)
        single(ranged(s, "bytes=+1-2"), 1, 2)
        single(ranged(s, "bytes= -5"), SIZE - 5, SIZE - 1)
