"""mod_deflate with a deflate.cache-dir that goes away or cannot be used while lux runs: the
responses go on (compressed in memory), and the error log says so once, not once a request."""

import os
import shutil
import time

from harness import check, eq, lux_only, Server
from test_mod_deflate import CACHE, cache_entries, check_decodes, fetch, page

COMPLAINT = "deflate.cache-dir: cannot use"


@lux_only("lighttpd 1.4.69 does not build mod_deflate with bzip2 on Debian")
def test_cache_dir_removed_is_made_again():
    body = page(20000, seed=3)
    with Server(CACHE, files={"a.html": body}) as s:
        shutil.rmtree(os.path.join(s.tmp, "cache"))
        check_decodes(fetch(s, "/a.html", "gzip"), "gzip", body)
        eq(len(cache_entries(s)), 1, "the entry, in the cache dir made again")
        check(COMPLAINT not in s.errorlog, "nothing to say")


@lux_only("lighttpd 1.4.69 does not build mod_deflate with bzip2 on Debian")
def test_cache_dir_unusable_compresses_in_memory_and_says_so_once():
    body, other = page(20000, seed=4), page(30000, seed=5)
    with Server(CACHE, files={"a.html": body, "b.html": other}) as s:
        cache = os.path.join(s.tmp, "cache")
        shutil.rmtree(cache)
        with open(cache, "w") as f:  # a file where the directory was: nothing can go under it
            f.write("not a directory\n")
        for _ in range(5):
            check_decodes(fetch(s, "/a.html", "gzip"), "gzip", body)
            check_decodes(fetch(s, "/b.html", "br"), "br", other)
            time.sleep(0.3)  # past the stat cache's second too: the entry is looked for again
        lines = [l for l in s.errorlog.splitlines() if COMPLAINT in l]
        eq(len(lines), 1, f"one line for ten responses: {lines}")
        check("Not a directory" in lines[0] and cache in lines[0], f"it says why: {lines[0]}")
        eq(fetch(s, "/a.html", None).body, body, "identity still the file")
