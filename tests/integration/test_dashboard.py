"""status.dashboard-url: one self-contained page, allowed by its own strict
Content-Security-Policy, that polls its ?json and renders the counters (checked in headless
Chromium when it is installed, and as HTML and JSON with python always)."""

import base64
import hashlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile

from harness import Server, Skip, check, contains, eq, get, lux_only

FILES = {"f.txt": "x" * 500}

DASH = """
server.modules = ("mod_status")
status.dashboard-url = "/dash"
server.max-worker = 2
"""


def inline(tag, text):
    found = re.findall(rf"<{tag}>(.*?)</{tag}>", text, re.S)
    eq(len(found), 1, f"one inline <{tag}>")
    return found[0]


def csp_hash(content):
    return "'sha256-" + base64.b64encode(hashlib.sha256(content.encode()).digest()).decode() + "'"


@lux_only("status.dashboard-url is lux's")
def test_dashboard_page_is_self_contained_under_strict_csp():
    with Server(DASH, files=FILES) as s:
        r = get(s.port, "/dash")
        eq(r.status, 200, "dashboard")
        contains(r.header("Content-Type"), "text/html", "type")
        eq(r.header("Cache-Control"), "no-store", "not cached")
        page = r.body.decode()
        policy = dict(d.strip().split(" ", 1) for d in r.header("Content-Security-Policy")
                      .split(";"))
        eq(policy["default-src"], "'none'", "nothing allowed by default")
        eq(policy["script-src"], csp_hash(inline("script", page)), "the one script, by hash")
        eq(policy["style-src"], csp_hash(inline("style", page)), "the one style, by hash")
        eq(policy["connect-src"], "'self'", "fetches only from the server itself")
        icon = '<link rel="icon" href="data:,">'
        contains(page, icon, "an inline icon: no request for /favicon.ico")
        page = page.replace(icon, "")
        for pattern, what in ((r"\ssrc=", "external scripts or images"),
                              (r"\shref=", "links to other assets"), (r"<link", "stylesheets"),
                              (r"url\(|@import", "assets from CSS"),
                              (r"\son[a-z]+=", "inline event handlers"),
                              (r"\sstyle=", "style attributes (blocked by the policy)"),
                              (r"https?://", "absolute URLs"), (r"\beval\(|new Function", "eval")):
            check(not re.search(pattern, page), f"no {what} in the page")
        contains(inline("script", page), "fetch('?json'", "polls its own ?json")
        h = get(s.port, "/dash", method="HEAD")
        eq((h.status, h.body), (200, b""), "HEAD")
        eq(h.header("Content-Length"), str(len(r.body)), "HEAD gives GET's length")


@lux_only("status.dashboard-url is lux's")
def test_dashboard_json():
    with Server(DASH, files=FILES) as s:
        for _ in range(4):
            get(s.port, "/f.txt")
        get(s.port, "/missing")
        r = get(s.port, "/dash?json")
        eq(r.status, 200, "json")
        eq(r.header("Cache-Control"), "no-store", "not cached")
        j = json.loads(r.body)
        eq(j["lux"]["status"]["2xx"], 4, "files")
        eq(j["lux"]["status"]["4xx"], 1, "missing")
        eq(len(j["lux"]["workers"]), 2, "workers")
        eq(len(j["lux"]["latency"]["counts"]), len(j["lux"]["latency"]["bounds"]) + 1,
           "a count per bucket and +Inf")
        eq(get(s.port, "/dash?json", method="HEAD").body, b"", "HEAD")


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise Skip("no headless Chromium installed (Debian package chromium)")


def rendered_dom(url, budget_ms=6000):
    """The page's DOM after budget_ms of (virtual) time in headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="luxchrome-") as profile:
        argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", "--dump-dom",
                url]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            out, _ = p.communicate(timeout=90)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    return out.decode("utf-8", "replace")


def by_id(dom, ident):
    m = re.search(rf'id="{re.escape(ident)}"[^>]*>([^<]*)<', dom)
    check(m, f"element #{ident} in the rendered page")
    return html.unescape(m.group(1))


@lux_only("status.dashboard-url is lux's")
def test_dashboard_renders_known_traffic_in_chromium():
    chromium()
    with Server(DASH, files=FILES) as s:
        for _ in range(6):
            eq(get(s.port, "/f.txt").status, 200, "file")
        for _ in range(3):
            eq(get(s.port, "/missing").status, 404, "missing")
        dom = rendered_dom(s.url("/dash"))
        eq(by_id(dom, "state"), "live", "the script ran and polled")
        eq(by_id(dom, "version").split("/")[0], "lux", "version")
        eq(by_id(dom, "nworkers"), "2", "workers")
        eq(by_id(dom, "c4xx"), "3", "404s")
        eq(by_id(dom, "c5xx"), "0", "no errors")
        c2 = int(by_id(dom, "c2xx"))
        check(c2 >= 6 + 1, f"files and the page itself, then its polls: {c2}")
        eq(int(by_id(dom, "total")), c2 + 3, "the classes add up to the total")
        eq(by_id(dom, "st-handling"), "1", "the poll being answered")
        check(re.fullmatch(r"[0-9.]+ (µs|ms|s)", by_id(dom, "p50")), "a median latency")
        check(re.fullmatch(r"[0-9.]+ (µs|ms|s)", by_id(dom, "p99")), "a p99 latency")
        rows = re.findall(r'<tr id="worker-(\d+)"><td>\d+</td><td>(\d+)</td>', dom)
        eq([w for w, _ in rows], ["0", "1"], "a row per worker")
        eq(sum(int(n) for _, n in rows), c2 + 3, "the workers' requests add up")
        points = re.search(r'id="spark-rps"[^>]*><polyline points="([^"]*)"', dom)
        check(points and len(points.group(1).split()) >= 2,
              f"the sparkline has a point per poll: {points and points.group(1)!r}")
