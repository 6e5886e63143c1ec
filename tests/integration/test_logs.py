"""The error log: timestamps, request header debugging, file-not-found debugging."""

import re

from harness import Server, check, eq, get, poll

FILES = {"f.txt": "x\n"}
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d: ")


def test_errorlog_timestamped():
    with Server(files=FILES) as s:
        text = poll(lambda: s.errorlog, what="an error log line")
        first = text.splitlines()[0]
        check(STAMP.match(first), f"no timestamp on {first!r}")


def test_errorlog_not_on_stderr():
    with Server(files=FILES) as s:
        poll(lambda: s.errorlog, what="an error log line")
        eq(get(s.port, "/f.txt").status, 200, "status")
        eq(s.stderr.strip(), "", "stderr output while logging to a file")


def test_log_request_header():
    with Server('debug.log-request-header = "enable"\n', files=FILES) as s:
        eq(get(s.port, "/f.txt", headers={"X-Marker": "abc123"}).status, 200, "status")
        poll(lambda: "X-Marker: abc123" in s.errorlog, what="the request header in the log")


def test_log_request_header_off_by_default():
    with Server(files=FILES) as s:
        eq(get(s.port, "/f.txt", headers={"X-Marker": "abc123"}).status, 200, "status")
        eq(get(s.port, "/f.txt").status, 200, "second request")
        check("abc123" not in s.errorlog, "request header logged without debug option")


def test_log_file_not_found():
    with Server('debug.log-file-not-found = "enable"\n', files=FILES) as s:
        eq(get(s.port, "/no-such-file-q7.txt").status, 404, "status")
        poll(lambda: "no-such-file-q7.txt" in s.errorlog, what="the missing path in the log")
