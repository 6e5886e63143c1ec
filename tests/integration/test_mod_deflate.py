"""mod_deflate: static files compressed per Accept-Encoding, cached, precompressed siblings."""

import bz2
import gzip
import os
import random
import shutil
import subprocess
import threading
import time
import zlib

import harness
from harness import Server, check, eq, get, lux_only

# lighttpd 1.4.69 compresses nothing until deflate.allowed-encodings is set: set it, in
# lighttpd's own order of preference, so that both servers can run the same tests.
MODS = ('server.modules += ("mod_deflate")\ndeflate.mimetypes = ("text/")\n'
        'deflate.allowed-encodings = ("zstd", "br", "gzip", "deflate", "bzip2")\n')
CACHE = MODS + 'deflate.cache-dir = "@TMP@/cache"\n'
ANY = "zstd, br, gzip, deflate, bzip2"


def page(n, seed=1):
    """n bytes of compressible HTML-like text, different for each seed."""
    rnd = random.Random(seed)
    words = ["<p>", "</p>", "lux", "static", "deflate", "server", "file", "cache", "\n"]
    out = []
    size = 0
    while size < n:
        w = rnd.choice(words) + " "
        out.append(w)
        size += len(w)
    return "".join(out)[:n].encode()


def run_tool(argv, data):
    if not shutil.which(argv[0]):
        raise harness.Skip(f"{argv[0]} is not installed (tools/deps.sh test)")
    p = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=20)
    check(p.returncode == 0, f"{argv[0]} could not decode: {p.stderr[:200]!r}")
    return p.stdout


def decode(coding, body):
    if coding in ("gzip", "x-gzip"):
        return gzip.decompress(body)
    if coding == "deflate":
        return zlib.decompress(body)
    if coding in ("bzip2", "x-bzip2"):
        return bz2.decompress(body)
    if coding == "br":
        return run_tool(["brotli", "-d", "-c"], body)
    if coding == "zstd":
        return run_tool(["zstd", "-d", "-c", "-q"], body)
    raise harness.TestFailure(f"unexpected coding {coding!r}")


def fetch(s, path, ae, **kw):
    headers = dict(kw.pop("headers", {}))
    if ae is not None:
        headers["Accept-Encoding"] = ae
    return get(s.port, path, headers=headers, **kw)


def check_decodes(r, coding, want):
    eq(r.status, 200, "status")
    eq(r.header("Content-Encoding"), coding, "Content-Encoding")
    eq(int(r.header("Content-Length")), len(r.body), "Content-Length")
    eq(decode(coding, r.body), want, f"{coding} body decoded")


def cache_entries(s):
    root = os.path.join(s.tmp, "cache")
    out = []
    for d, _, names in os.walk(root):
        out += [os.path.join(d, n) for n in names]
    return sorted(out)


@lux_only("lighttpd 1.4.69 does not build mod_deflate with bzip2 on Debian")
def test_each_coding_decodes_to_the_file():
    body = page(20000)
    for conf in (MODS, CACHE):
        with Server(conf, files={"a.html": body}) as s:
            for coding in ("gzip", "x-gzip", "deflate", "bzip2", "x-bzip2", "br", "zstd"):
                r = fetch(s, "/a.html", coding)
                check_decodes(r, coding, body)
                check(len(r.body) < len(body), f"{coding} is smaller")


@lux_only("lux weighs Accept-Encoding's q-values; lighttpd 1.4.69 ignores them")
def test_weights_choose_the_coding():
    body = page(5000)
    with Server(MODS, files={"a.html": body}) as s:
        eq(fetch(s, "/a.html", ANY).header("Content-Encoding"), "zstd", "server preference")
        eq(fetch(s, "/a.html", "br;q=0.5, gzip").header("Content-Encoding"), "gzip", "q wins")
        eq(fetch(s, "/a.html", "*, zstd;q=0").header("Content-Encoding"), "br", "* minus zstd")
        for ae in ("gzip;q=0", "*;q=0", "identity", "compress", ""):
            r = fetch(s, "/a.html", ae)
            check(not r.has("Content-Encoding"), f"{ae!r} gets the file itself")
            eq(r.body, body, f"{ae!r} body")


@lux_only("lux sends Vary on the uncompressed answer too; lighttpd only on the compressed one")
def test_vary_on_every_compressible_response():
    files = {"a.html": page(5000), "p.png": page(5000), "small.html": page(100)}
    with Server(MODS, files=files) as s:
        for ae in (None, "gzip", "identity"):
            eq(fetch(s, "/a.html", ae).header("Vary"), "Accept-Encoding", f"Vary with {ae}")
        check(not fetch(s, "/p.png", "gzip").has("Vary"), "a type not listed does not vary")
        check(not fetch(s, "/small.html", "gzip").has("Vary"), "below the minimum size")


def test_etag_per_coding_and_304():
    body = page(5000)
    with Server(CACHE, files={"a.html": body}) as s:
        plain = fetch(s, "/a.html", None).header("ETag")
        check(plain and plain.endswith('"'), f"ETag {plain!r}")
        tags = {}
        for coding in ("gzip", "br", "zstd"):
            tags[coding] = fetch(s, "/a.html", coding).header("ETag")
            eq(tags[coding], plain[:-1] + "-" + coding + '"', f"{coding} ETag")
        r = fetch(s, "/a.html", "gzip", headers={"If-None-Match": tags["gzip"]})
        eq(r.status, 304, "If-None-Match with the gzip tag")
        eq(r.header("ETag"), tags["gzip"], "304's ETag")
        eq(r.body, b"", "304 body")
        r = fetch(s, "/a.html", "br", headers={"If-None-Match": tags["gzip"]})
        eq(r.status, 200, "the gzip tag does not match the br answer")
        eq(r.header("Content-Encoding"), "br", "br sent")
        r = fetch(s, "/a.html", None, headers={"If-None-Match": plain})
        eq(r.status, 304, "the file's own tag without Accept-Encoding")


@lux_only("lux answers a range from the file; lighttpd 1.4.69 ignores it and sends all compressed")
def test_range_gets_the_file_itself():
    body = page(5000)
    with Server(CACHE, files={"a.html": body}) as s:
        r = fetch(s, "/a.html", "gzip", headers={"Range": "bytes=10-19"})
        eq(r.status, 206, "status")
        check(not r.has("Content-Encoding"), "a range is not compressed")
        eq(r.body, body[10:20], "the file's bytes")


@lux_only("HEAD gets the compressed answer's headers; lighttpd 1.4.69 sends the file's")
def test_head_has_the_compressed_headers():
    body = page(20000)
    with Server(CACHE, files={"a.html": body}) as s:
        g = fetch(s, "/a.html", "gzip")
        h = fetch(s, "/a.html", "gzip", method="HEAD")
        eq(h.status, 200, "status")
        eq(h.header("Content-Encoding"), "gzip", "Content-Encoding")
        eq(h.header("ETag"), g.header("ETag"), "ETag")
        eq(h.header("Content-Length"), g.header("Content-Length"), "Content-Length")
        eq(h.body, b"", "no body")


def test_min_and_max_sizes():
    files = {"small.html": page(256), "just.html": page(257), "big.html": page(3000)}
    with Server(MODS + "deflate.max-compress-size = 2\n", files=files) as s:
        check(not fetch(s, "/small.html", "gzip").has("Content-Encoding"), "256 bytes: no")
        check_decodes(fetch(s, "/just.html", "gzip"), "gzip", files["just.html"])
        r = fetch(s, "/big.html", "gzip")
        check(not r.has("Content-Encoding"), "above max-compress-size (KiB)")
        eq(r.body, files["big.html"], "body")


def test_cache_entry_reused_then_renewed():
    body = page(20000, seed=1)
    with Server(CACHE, files={"a.html": body}) as s:
        check_decodes(fetch(s, "/a.html", "gzip"), "gzip", body)
        entries = cache_entries(s)
        eq(len(entries), 1, f"one entry: {entries}")
        before = os.stat(entries[0])
        time.sleep(1.2)  # past the stat cache's second, so the file is looked at again
        check_decodes(fetch(s, "/a.html", "gzip"), "gzip", body)
        after = os.stat(entries[0])
        eq((after.st_ino, after.st_mtime_ns), (before.st_ino, before.st_mtime_ns), "reused")
        eq(cache_entries(s), entries, "no new entry")

        new = page(21000, seed=2)
        s.write("a.html", new)
        time.sleep(1.2)
        check_decodes(fetch(s, "/a.html", "gzip"), "gzip", new)
        eq(len(cache_entries(s)), 2, "a new entry for the changed file")


def test_workers_racing_on_one_new_entry():
    body = page(100000)
    # lighttpd's workers are processes that signal their whole process group on exit, which
    # would include the test runner: it races within one process there.
    workers = "" if harness.is_lighttpd() else "server.max-worker = 2\n"
    with Server(CACHE + workers, files={"a.html": body}) as s:
        errors = []

        def client():
            try:
                check_decodes(fetch(s, "/a.html", "gzip"), "gzip", body)
            except Exception as e:  # reported after the join
                errors.append(e)

        threads = [threading.Thread(target=client) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        check(not errors, f"clients failed: {errors[:2]}")
        entries = cache_entries(s)
        eq(len(entries), 1, f"one entry, no temporary files left: {entries}")
        with open(entries[0], "rb") as f:
            eq(gzip.decompress(f.read()), body, "the entry")


@lux_only("files above 128 KiB are compressed by a background thread")
def test_large_file_compressed_in_the_background():
    body = page(3 * 1024 * 1024)
    with Server(CACHE, files={"a.html": body}) as s:
        r = fetch(s, "/a.html", "gzip")
        eq(r.status, 200, "status")
        if not r.has("Content-Encoding"):
            eq(r.body, body, "first answer: the file itself")
        harness.poll(lambda: fetch(s, "/a.html", "gzip").has("Content-Encoding"), timeout=60,
                     what="the entry written in the background")
        check_decodes(fetch(s, "/a.html", "gzip"), "gzip", body)


@lux_only("without a cache dir, files above 128 KiB are not compressed per request")
def test_no_cache_dir_large_file_identity():
    body = page(130 * 1024)
    with Server(MODS, files={"a.html": body}) as s:
        r = fetch(s, "/a.html", "gzip")
        check(not r.has("Content-Encoding"), "identity")
        eq(r.body, body, "body")


@lux_only("deflate.precompressed is lux's own")
def test_precompressed_siblings():
    body = page(5000)
    marker = b"precompressed sibling " * 20
    files = {"a.js": body, "a.js.gz": gzip.compress(marker), "old.js": body,
             "old.js.gz": gzip.compress(marker)}
    conf = MODS + 'deflate.precompressed = "enable"\n'
    with Server(conf, files=files) as s:
        past = time.time() - 3600
        os.utime(s.path("old.js.gz"), (past, past))
        check_decodes(fetch(s, "/a.js", "gzip"), "gzip", marker)
        r = fetch(s, "/a.js", "br")
        check_decodes(r, "br", body)
        check_decodes(fetch(s, "/old.js", "gzip"), "gzip", body)


def test_mod_compress_names():
    body = page(5000)
    conf = ('server.modules += ("mod_compress")\ncompress.filetype = ("text/html")\n'
            'compress.allowed-encodings = ("gzip", "deflate")\n'
            'compress.cache-dir = "@TMP@/cache"\n')
    with Server(conf, files={"a.html": body}) as s:
        check_decodes(fetch(s, "/a.html", "deflate, gzip"), "gzip", body)
        check(cache_entries(s), "compress.cache-dir is used")


def test_allowed_encodings_order_and_conditions():
    body = page(5000)
    conf = ('server.modules += ("mod_deflate")\ndeflate.mimetypes = ("text/")\n'
            'deflate.allowed-encodings = ("gzip", "br")\n'
            '$HTTP["url"] =^ "/plain/" { deflate.mimetypes = () }\n')
    with Server(conf, files={"a.html": body, "plain/a.html": body}) as s:
        eq(fetch(s, "/a.html", "br, gzip, zstd").header("Content-Encoding"), "gzip", "order")
        eq(fetch(s, "/a.html", "br, zstd").header("Content-Encoding"), "br", "br allowed")
        check(not fetch(s, "/a.html", "zstd").has("Content-Encoding"), "zstd not allowed")
        check(not fetch(s, "/plain/a.html", "gzip").has("Content-Encoding"), "condition")


def config_accepted(conf):
    with harness.TempDir() as tmp:
        text = (harness.BASE_CONF + conf).replace("@TMP@", tmp.path)
        text = text.replace("@DOCROOT@", tmp.path).replace("@PORT@", "80")
        return harness.run_bin(["-tt", "-f", tmp.write("lux.conf", text)]).returncode == 0


@lux_only("lux refuses a setting it cannot honour")
def test_bad_settings_refused():
    good = (MODS + 'deflate.params = ("gzip.level" => 9, "BROTLI_PARAM_QUALITY" => "4")\n'
            'deflate.compression-level = 6\ndeflate.max-loadavg = "3.5"\n'
            'deflate.output-buffer-size = 8192\ndeflate.work-block-size = 2048\n')
    check(config_accepted(good), "every directive with a good value is accepted")
    for bad in ('deflate.allowed-encodings = ("lzma")', "deflate.compression-level = 12",
                'deflate.params = ("gzip.level" => 42)', 'deflate.params = ("nope" => 1)'):
        check(not config_accepted(MODS + bad + "\n"), f"{bad} accepted")
