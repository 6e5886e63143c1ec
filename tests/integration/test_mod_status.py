"""mod_status as lighttpd has it: status.status-url (HTML, ?auto, ?json), status.config-url,
status.statistics-url, status.enable-sort, protected by the site's own rules."""

import json
import re

from harness import Server, check, contains, eq, get, lux_only, poll

FILES = {"index.html": "hello\n", "f.txt": "x" * 2000}

STATUS = """
server.modules = ("mod_access", "mod_status")
status.status-url = "/server-status"
status.config-url = "/server-config"
status.statistics-url = "/server-statistics"
"""

AUTO_KEYS = ["Total Accesses", "Total kBytes", "Uptime", "BusyServers", "IdleServers",
             "Scoreboard"]


def auto_fields(port):
    r = get(port, "/server-status?auto")
    eq(r.status, 200, "?auto status")
    contains(r.header("Content-Type"), "text/plain", "?auto type")
    text = r.body.decode()
    check(text.endswith("\n"), f"?auto ends with a line feed: {text[-20:]!r}")
    fields = [line.split(": ", 1) for line in text.rstrip("\n").split("\n")]
    eq([k for k, _ in fields], AUTO_KEYS, "?auto keys, in lighttpd's order")
    return dict(fields)


def test_auto_fields_as_lighttpd():
    with Server(STATUS, files=FILES) as s:
        f = auto_fields(s.port)
        for k in AUTO_KEYS[:-1]:
            check(re.fullmatch(r"\d+", f[k]), f"{k} is a number: {f[k]!r}")
        board = f["Scoreboard"]
        check(re.fullmatch(r"[.kqrQRhsWSEC_]+", board), f"scoreboard letters: {board[:40]!r}")
        eq(len(board), int(f["BusyServers"]) + int(f["IdleServers"]),
           "one scoreboard letter per connection slot")
        check(int(f["BusyServers"]) >= 1, "the connection asking is busy")
        contains(board, "h", "the request being handled")


@lux_only("lighttpd adds its counters up once a second; lux's are current")
def test_auto_counts_requests_and_traffic():
    with Server(STATUS + "server.max-worker = 2\n", files=FILES) as s:
        before = auto_fields(s.port)
        for _ in range(10):
            eq(get(s.port, "/f.txt").status, 200, "file")
        after = auto_fields(s.port)
        eq(int(after["Total Accesses"]) - int(before["Total Accesses"]), 11,
           "ten requests and the previous status request")
        check(int(after["Total kBytes"]) >= int(before["Total kBytes"]) + 19,
              f"traffic counts the 2000-byte bodies: {before} -> {after}")
        eq(after["Scoreboard"][0], "h", "the asking connection handles its request")
        # a worker counts a connection closed just after its client saw the close
        poll(lambda: auto_fields(s.port)["BusyServers"] == "1",
             what="only the asking connection to be open")


def test_json_keys_as_lighttpd():
    with Server(STATUS, files=FILES) as s:
        get(s.port, "/f.txt")

        def status():
            r = get(s.port, "/server-status?json")
            eq(r.status, 200, "?json status")
            return json.loads(r.body)
        j = status()
        for k in ("RequestsTotal", "TrafficTotal", "Uptime", "BusyServers", "IdleServers",
                  "RequestAverage5s", "TrafficAverage5s"):
            check(isinstance(j.get(k), int), f"{k} is an integer in {j}")
        # lighttpd adds its counters up once a second
        poll(lambda: status()["RequestsTotal"] >= 1, timeout=5, what="the request counted")


@lux_only("lux's own counters in ?json")
def test_json_lux_counters():
    with Server(STATUS + "server.max-worker = 2\n", files=FILES) as s:
        for path in ("/f.txt", "/f.txt", "/missing", "/missing", "/missing"):
            get(s.port, path)
        get(s.port, "/f.txt", version="HTTP/1.0")
        j = json.loads(get(s.port, "/server-status?json").body)
        lux = j["lux"]
        eq(lux["status"], {"1xx": 0, "2xx": 3, "3xx": 0, "4xx": 3, "5xx": 0}, "by class")
        eq(lux["protocols"], {"HTTP/1.0": 1, "HTTP/1.1": 5, "HTTP/2": 0}, "by protocol")
        eq(lux["requests"], 6, "requests")
        eq(j["RequestsTotal"], 6, "lighttpd's total")
        eq(len(lux["workers"]), 2, "one entry per worker")
        eq(sum(w["requests"] for w in lux["workers"]), 6, "the workers add up to the total")
        eq(sum(w["bytes_out"] for w in lux["workers"]), lux["bytes_out"], "bytes add up")
        eq(lux["connections"]["handling"], 1, "the asking connection")
        eq(sum(lux["latency"]["counts"]), 6, "every request in the histogram")


def test_html_page():
    with Server(STATUS, files=FILES) as s:
        r = get(s.port, "/server-status")
        eq(r.status, 200, "HTML status")
        contains(r.header("Content-Type"), "text/html", "type")
        text = r.body.decode()
        for needle in ("Server-Status (", "absolute (since start)", "average (since start)",
                       "h = handle-req", "resort(this)"):
            contains(text, needle, "HTML page")


def test_enable_sort_disabled():
    with Server(STATUS + 'status.enable-sort = "disable"\n', files=FILES) as s:
        text = get(s.port, "/server-status").body.decode()
        contains(text, "Server-Status (", "page")
        check("resort" not in text, "no sorting script or links")


def test_head():
    with Server(STATUS, files=FILES) as s:
        for path in ("/server-status", "/server-status?auto", "/server-status?json"):
            r = get(s.port, path, method="HEAD")
            eq(r.status, 200, f"HEAD {path}")
            eq(r.body, b"", f"HEAD {path} has no body")
            check(int(r.header("Content-Length")) > 0, f"HEAD {path} says the length")


@lux_only("lighttpd lets caches keep the status pages")
def test_no_store():
    with Server(STATUS, files=FILES) as s:
        for path in ("/server-status", "/server-status?auto", "/server-status?json",
                     "/server-config"):
            eq(get(s.port, path).header("Cache-Control"), "no-store", path)


def test_config_page():
    with Server(STATUS, files=FILES) as s:
        r = get(s.port, "/server-config")
        eq(r.status, 200, "config page")
        text = r.body.decode()
        contains(text, "Loaded Modules", "config page")
        check(re.search(r"<td>[^<]*\bstatus\b", text) or "<br />status" in text,
              "mod_status is listed")
        contains(text, "access", "mod_access is listed")


def test_statistics_without_module_counters():
    with Server(STATUS, files=FILES) as s:
        r = get(s.port, "/server-statistics")
        eq(r.status, 204, "no module keeps statistics")
        eq(r.body, b"", "empty")


def test_unset_urls_are_ordinary_paths():
    with Server('server.modules = ("mod_status")\n', files=FILES) as s:
        eq(get(s.port, "/server-status").status, 404, "no status.status-url: a missing file")
        eq(get(s.port, "/f.txt").status, 200, "files are served as before")


def test_protected_by_mod_access():
    conf = STATUS + '$HTTP["url"] =^ "/server-" { url.access-deny = ("") }\n'
    with Server(conf, files=FILES) as s:
        for path in ("/server-status", "/server-status?auto", "/server-config"):
            eq(get(s.port, path).status, 403, f"{path} denied by url.access-deny")
        eq(get(s.port, "/f.txt").status, 200, "other paths are allowed")


def test_only_where_the_condition_holds():
    conf = ('server.modules = ("mod_status")\n'
            '$HTTP["remoteip"] == "10.0.0.0/8" { status.status-url = "/hidden" }\n'
            '$HTTP["host"] == "admin.example" { status.status-url = "/server-status" }\n')
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/hidden").status, 404, "not from 127.0.0.1")
        eq(get(s.port, "/server-status").status, 404, "not for this host")
        r = get(s.port, "/server-status?auto", host="admin.example")
        eq(r.status, 200, "for the admin host")
        contains(r.body.decode(), "Total Accesses: ", "admin host")
