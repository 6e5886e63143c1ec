"""status.metrics-url: HTTP/2 streams, stat cache lookups and mod_deflate's compression by coding,
each checked to move by what known traffic adds."""

import gzip
import shutil
import subprocess

from harness import Server, Skip, check, eq, get, lux_only, poll
from test_metrics import scrape, total

TEXT = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(400))
FILES = {"f.txt": "x" * 1000, "page.txt": TEXT}

METRICS = """
server.modules = ("mod_status", "mod_deflate")
status.metrics-url = "/metrics"
server.max-worker = 1
deflate.mimetypes = ("text/plain")
deflate.allowed-encodings = ("br", "gzip")
"""


def moved(before, after, name, **labels):
    return total(after, name, **labels) - total(before, name, **labels)


@lux_only("status.metrics-url is lux's")
def test_metrics_http2_streams():
    with Server(METRICS, files=FILES) as s:
        before = scrape(s.port)[1]
        eq(total(before, "lux_http2_streams_total"), 0, "no stream before any HTTP/2")
        if not shutil.which("nghttp"):
            raise Skip("nghttp is not installed (Debian: nghttp2-client)")
        cp = subprocess.run(["nghttp", "-n", s.url("/f.txt"), s.url("/f.txt?again"), s.url("/nope")],
                            capture_output=True, timeout=30)
        eq(cp.returncode, 0, f"three streams on one h2c connection: {cp.stderr[-300:]!r}")
        after = scrape(s.port)[1]
        eq(moved(before, after, "lux_http2_streams_total"), 3, "three streams opened")
        eq(moved(before, after, "lux_http_requests_total", protocol="HTTP/2"), 3,
           "and answered over HTTP/2")
        poll(lambda: total(scrape(s.port)[1], "lux_http2_streams_open") == 0,
             what="no HTTP/2 stream left open")


@lux_only("status.metrics-url is lux's")
def test_metrics_stat_cache_hits_and_misses():
    with Server(METRICS, files=FILES) as s:
        before = scrape(s.port)[1]
        for _ in range(5):
            eq(get(s.port, "/f.txt").status, 200, "file")
        mid = scrape(s.port)[1]
        hits = moved(before, mid, "lux_stat_cache_lookups_total", result="hit")
        misses = moved(before, mid, "lux_stat_cache_lookups_total", result="miss")
        check(hits >= 4, f"the file again is a hit at least 4 times of 5 (hits {hits})")
        check(1 <= misses <= 1 + 5 - hits, f"its first lookup is a miss (misses {misses})")
        for _ in range(3):
            eq(get(s.port, "/nope").status, 404, "missing")
        after = scrape(s.port)[1]
        check(moved(mid, after, "lux_stat_cache_lookups_total", result="miss") >= 3,
              "a missing file is never a hit")


@lux_only("status.metrics-url is lux's")
def test_metrics_compression_by_encoding():
    with Server(METRICS, files=FILES) as s:
        before = scrape(s.port)[1]
        sizes = {}
        for enc in ("gzip", "br", "gzip"):
            r = get(s.port, "/page.txt", headers={"Accept-Encoding": enc})
            eq((r.status, r.header("Content-Encoding")), (200, enc), f"{enc} response")
            sizes[enc] = sizes.get(enc, 0) + len(r.body)
            if enc == "gzip":
                eq(gzip.decompress(r.body).decode(), TEXT, "gzip body")
        eq(get(s.port, "/page.txt").header("Content-Encoding"), None, "identity not counted")
        after = scrape(s.port)[1]
        for enc, n in (("gzip", 2), ("br", 1)):
            eq(moved(before, after, "lux_compress_responses_total", encoding=enc), n,
               f"{enc} responses")
            eq(moved(before, after, "lux_compress_bytes_in_total", encoding=enc), n * len(TEXT),
               f"{enc} bytes in: the file's")
            eq(moved(before, after, "lux_compress_bytes_out_total", encoding=enc), sizes[enc],
               f"{enc} bytes out: the bodies sent")
        eq(moved(before, after, "lux_compress_responses_total", encoding="zstd"), 0, "no zstd")
