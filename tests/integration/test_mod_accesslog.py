"""mod_accesslog: the default line, custom formats, escaping, pipes, SIGHUP reopening, vhosts.

lighttpd buffers file log lines (flushing every few seconds and at exit), so tests either stop
the server before reading the log or poll for long enough.
"""

import os
import re
import signal
import threading

import harness
from harness import Conn, Server, build_request, check, contains, eq, get, poll, raw

FILES = {"f.txt": "hi\n", "sub/g.txt": "g\n"}
# One worker for lux: lines of different workers may reach the log a batch apart, and these tests
# compare the order of requests made one after another on separate connections.
MODS = 'server.modules = ("mod_accesslog")\n' + ("" if harness.is_lighttpd() else
                                                 "server.max-worker = 1\n")
LOG = MODS + 'accesslog.filename = "@TMP@/access.log"\n'
STAMP = r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]"
SLOW = 10.0  # lighttpd flushes its log buffer every 4 seconds


read = harness.read_text


def lines_of(path):
    return read(path).splitlines()


def log_after_stop(s, name="access.log"):
    s.stop()
    return lines_of(os.path.join(s.tmp, name))


def wait_lines(path, n, timeout=SLOW):
    return poll(lambda: len(lines_of(path)) >= n and lines_of(path), timeout,
                what=f"{n} line(s) in {os.path.basename(path)}")


def match(line, pattern):
    check(re.fullmatch(pattern, line), f"log line {line!r} does not match {pattern!r}")


def test_default_line_get():
    with Server(LOG, files=FILES) as s:
        r = get(s.port, "/f.txt", headers={"User-Agent": "ua/1.0", "Referer": "http://r.example/"})
        eq(r.status, 200, "status")
        lines = log_after_stop(s)
    eq(len(lines), 1, "lines")
    match(lines[0], r'127\.0\.0\.1 localhost - ' + STAMP +
          r' "GET /f\.txt HTTP/1\.1" 200 3 "http://r\.example/" "ua/1\.0"')


def test_default_line_head_and_404():
    with Server(LOG, files=FILES) as s:
        eq(get(s.port, "/f.txt", method="HEAD").status, 200, "HEAD status")
        eq(get(s.port, "/nope.txt", version="HTTP/1.0", host=None).status, 404, "404 status")
        lines = log_after_stop(s)
    eq(len(lines), 2, "lines")
    match(lines[0], r'127\.0\.0\.1 localhost - ' + STAMP +
          r' "HEAD /f\.txt HTTP/1\.1" 200 0 "-" "-"')
    match(lines[1], r'127\.0\.0\.1 - - ' + STAMP + r' "GET /nope\.txt HTTP/1\.0" 404 \d+ "-" "-"')


def test_malformed_request_logged():
    with Server(LOG, files=FILES) as s:
        data = raw(s.port, b"GARBAGE\r\n\r\n")
        check(data.startswith(b"HTTP/1.") and b" 400 " in data[:16], f"response {data[:40]!r}")
        lines = log_after_stop(s)
    eq(len(lines), 1, "lines")
    match(lines[0], r'127\.0\.0\.1 - - ' + STAMP + r' "  " 400 \d+ "-" "-"')


CUSTOM = (MODS + 'accesslog.filename = "@TMP@/access.log"\n'
          'accesslog.format = "a=%a A=%A b=%b B=%B C=%{c1}C e=%{FOO}e f=%f h=%h H=%H '
          'i=%{X-A}i I=%I k=%k l=%l m=%m o=%{X-None}o O=%O p=%p rp=%{remote}p q=%q r=%r '
          's=%s S=%>s T=%T Tms=%{ms}T D=%D u=%u U=%U v=%v V=%V X=%X ts=%{usec}t '
          'tf=%{msec_frac}t t=%{%Y}t n=%{x}n pct=%%"\n')


def test_custom_format_every_specifier():
    with Server(CUSTOM, files=FILES) as s:
        req = build_request("/f.txt?x=1&y", {"X-A": "xa", "Cookie": "c0=1; c1=v1"},
                            host="h.example", close=True)
        eq(raw(s.port, req)[:12], b"HTTP/1.1 200", "status line")
        lines = log_after_stop(s)
        docroot = s.docroot
    eq(len(lines), 1, "lines")
    port = s.port
    match(lines[0], rf"a=127\.0\.0\.1 A=127\.0\.0\.1 b=3 B=3 C=v1 e=- "
          rf"f={re.escape(os.path.join(docroot, 'f.txt'))} h=127\.0\.0\.1 H=HTTP/1\.1 "
          rf"i=xa I={len(req)} k=0 l=- m=GET o=- O=\d+ p={port} rp=\d+ q=x=1&y "
          rf"r=GET /f\.txt\?x=1&y HTTP/1\.1 s=200 S=200 T=0 Tms=\d+ D=\d+ u=- U=/f\.txt "
          rf"v=h\.example V=h\.example X=- ts=\d{{16}} tf=\d{{3}} t=\d{{4}} n=- pct=%")


def test_keepalive_count_and_status():
    with Server(MODS + 'accesslog.filename = "@TMP@/access.log"\n'
                'accesslog.format = "%k %X %U"\n', files=FILES) as s:
        with Conn(s.port) as c:
            eq(c.request("/f.txt").status, 200, "first")
            eq(c.request("/sub/g.txt").status, 200, "second")
            eq(c.request("/f.txt", headers={"Connection": "close"}).status, 200, "third")
        lines = log_after_stop(s)
    eq(lines, ["0 + /f.txt", "1 + /sub/g.txt", "2 - /f.txt"], "lines")


def test_escaping_quotes_backslashes_high_bytes():
    with Server(LOG, files=FILES) as s:
        req = (b'GET /x%0Ay HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n'
               b'User-Agent: a"b\\c \xc3\xa9\xff\r\nReferer: "\r\n\r\n')
        data = raw(s.port, req)
        check(data.startswith(b"HTTP/1.1 "), f"response {data[:40]!r}")
        lines = log_after_stop(s)
    eq(len(lines), 1, "a single line")
    # The encoded newline is refused (400) before the Host is looked at.
    match(lines[0], r'127\.0\.0\.1 - - ' + STAMP +
          r' "GET /x%0Ay HTTP/1\.1" 400 \d+ "\\"" "a\\"b\\\\c \\xC3\\xA9\\xFF"')


def test_escaping_json():
    with Server(LOG + 'accesslog.escaping = "json"\n'
                'accesslog.format = "{\\"ua\\":\\"%{User-Agent}i\\"}"\n', files=FILES) as s:
        req = (b'GET /f.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n'
               b'User-Agent: a"b\\c \xc3\xa9\r\n\r\n')
        raw(s.port, req)
        s.stop()
        text = read(os.path.join(s.tmp, "access.log")).encode("latin-1")
    eq(text, b'{"ua":"a\\"b\\\\c \xc3\xa9"}\n', "line")


def test_format_backslash_escapes():
    with Server(LOG + 'accesslog.format = "%s\\t%m\\q"\n', files=FILES) as s:
        get(s.port, "/f.txt")
        lines = log_after_stop(s)
    eq(lines, ["200\tGETq"], "lines")


def test_long_line():
    with Server(LOG + 'accesslog.format = "%{X-Long}i"\n', files=FILES) as s:
        val = "v" * 6000
        eq(get(s.port, "/f.txt", headers={"X-Long": val}).status, 200, "status")
        lines = log_after_stop(s)
    eq(lines, [val], "lines")


def test_pipe_logger():
    conf = MODS + 'accesslog.filename = "|cat >> @TMP@/piped.log"\naccesslog.format = "%s %U"\n'
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/f.txt").status, 200, "status")
        eq(get(s.port, "/missing").status, 404, "status")
        path = os.path.join(s.tmp, "piped.log")
        eq(wait_lines(path, 2), ["200 /f.txt", "404 /missing"], "piped lines")


@harness.serial
def test_sighup_reopens_after_rename():
    conf = LOG + 'accesslog.format = "%U"\n'
    with Server(conf, files=FILES) as s:
        log = os.path.join(s.tmp, "access.log")
        eq(get(s.port, "/f.txt").status, 200, "status")
        wait_lines(log, 1)
        os.rename(log, log + ".1")
        s.signal(signal.SIGHUP)
        poll(lambda: os.path.exists(log), SLOW, what="the reopened access log")
        eq(get(s.port, "/sub/g.txt").status, 200, "status")
        eq(wait_lines(log, 1), ["/sub/g.txt"], "new log")
        eq(lines_of(log + ".1"), ["/f.txt"], "rotated log")


def test_two_vhosts_two_files():
    conf = (LOG + 'accesslog.format = "%V %U"\n'
            '$HTTP["host"] == "a.example" { accesslog.filename = "@TMP@/a.log" }\n'
            '$HTTP["host"] == "b.example" { accesslog.filename = "@TMP@/b.log"\n'
            '  accesslog.format = "B %U" }\n')
    with Server(conf, files=FILES) as s:
        for host in ("a.example", "b.example", "c.example", "a.example"):
            eq(get(s.port, "/f.txt", host=host).status, 200, host)
        s.stop()
        eq(lines_of(os.path.join(s.tmp, "a.log")), ["a.example /f.txt"] * 2, "a.log")
        eq(lines_of(os.path.join(s.tmp, "b.log")), ["B /f.txt"], "b.log")
        eq(lines_of(os.path.join(s.tmp, "access.log")), ["c.example /f.txt"], "access.log")


def test_blocks_sharing_one_file():
    conf = (LOG + 'accesslog.format = "%V"\n'
            '$HTTP["host"] == "a.example" { accesslog.filename = "@TMP@/access.log"\n'
            '  accesslog.format = "A" }\n'
            '$HTTP["url"] =^ "/sub/" { accesslog.filename = "@TMP@/access.log"\n'
            '  accesslog.format = "SUB" }\n')
    with Server(conf, files=FILES) as s:
        get(s.port, "/f.txt", host="a.example")
        get(s.port, "/sub/g.txt", host="z.example")
        get(s.port, "/f.txt", host="z.example")
        lines = log_after_stop(s)
    eq(sorted(lines), ["A", "SUB", "z.example"], "lines")


def test_no_filename_no_log():
    with Server(MODS + 'accesslog.format = "%s"\n', files=FILES) as s:
        eq(get(s.port, "/f.txt").status, 200, "status")
        s.stop()
        eq(sorted(os.listdir(s.tmp)), sorted(["error.log", "lux.conf", "stderr.log",
                                              "stdout.log", "www"]), "files")


def test_syslog_overrides_file():
    # Whether a syslog daemon listens does not matter: the file must stay empty.
    conf = LOG + 'accesslog.use-syslog = "enable"\naccesslog.syslog-level = 7\n'
    with Server(conf, files=FILES) as s:
        eq(get(s.port, "/f.txt").status, 200, "status")
        eq(log_after_stop(s), [], "file lines")


def test_concurrent_lines_stay_whole():
    conf = LOG + 'accesslog.format = "%{X-Id}i %{X-Pad}i"\n'
    n_threads, per = 8, 25
    pad = "p" * 900
    with Server(conf, files=FILES) as s:
        def worker(t):
            with Conn(s.port) as c:
                for i in range(per):
                    c.request("/f.txt", headers={"X-Id": f"{t}-{i}", "X-Pad": pad})
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        lines = log_after_stop(s)
    eq(len(lines), n_threads * per, "line count")
    want = {f"{t}-{i} {pad}" for t in range(n_threads) for i in range(per)}
    eq(set(lines), want, "lines")


def test_conditional_format():
    conf = (LOG + 'accesslog.format = "%U"\n'
            '$HTTP["url"] =^ "/sub/" { accesslog.format = "sub:%U:%s" }\n')
    with Server(conf, files=FILES) as s:
        get(s.port, "/f.txt")
        get(s.port, "/sub/g.txt")
        lines = log_after_stop(s)
    eq(lines, ["/f.txt", "sub:/sub/g.txt:200"], "lines")


@harness.serial
def test_reload_switches_file():
    with Server(LOG + 'accesslog.format = "%U"\n', files=FILES) as s:
        get(s.port, "/f.txt")
        wait_lines(os.path.join(s.tmp, "access.log"), 1)
        s.reload(MODS + 'accesslog.filename = "@TMP@/new.log"\naccesslog.format = "%U"\n')
        new = os.path.join(s.tmp, "new.log")
        poll(lambda: os.path.exists(new), what="the new generation's log")
        get(s.port, "/sub/g.txt")
        eq(wait_lines(new, 1), ["/sub/g.txt"], "new log")
        eq(lines_of(os.path.join(s.tmp, "access.log")), ["/f.txt"], "old log")


def config_error(snippet):
    with harness.TempDir() as d:
        path = d.write("lux.conf", harness.BASE_CONF.replace("@DOCROOT@", d.path)
                       .replace("@TMP@", d.path).replace("@PORT@", "1") + snippet)
        flag = "-tt" if harness.is_lighttpd() else "-t"
        return harness.run_bin([flag, "-f", path])


def test_bad_format_refused():
    for fmt in ("%Z", "abc%", "%{x}T", "%{nothing}t", ""):
        cp = config_error(MODS + f'accesslog.format = "{fmt}"\n')
        check(cp.returncode != 0, f"format {fmt!r} accepted")


@harness.lux_only("lighttpd reports the failure in its error log, not on stderr")
def test_bad_format_message():
    cp = config_error(MODS + 'accesslog.format = "%Z"\n')
    contains(cp.stderr, "accesslog.format", "error message")


@harness.lux_only("lighttpd -tt does not open log files; its start fails instead")
def test_unopenable_file_refused():
    with harness.TempDir() as d:
        missing = os.path.join(d.path, "no", "such", "dir", "access.log")
        cp = harness.run_bin(["-tt", "-f",
                              d.write("lux.conf", harness.BASE_CONF
                                      .replace("@DOCROOT@", d.path).replace("@TMP@", d.path)
                                      .replace("@PORT@", "1") + MODS +
                                      f'accesslog.filename = "{missing}"\n')])
        check(cp.returncode != 0, "a log file in a missing directory was accepted")
