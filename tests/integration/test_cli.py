"""Command-line flags: version, help, config test and print, one-shot and idle-exit modes."""

import os
import re
import subprocess
import time

import harness
from harness import (Server, TempDir, TestFailure, check, contains, eq, lux_only, parse_one,
                     poll, read_all, run_bin, sanitizer_env, sanitizer_report, track)

MINIMAL = """\
server.document-root = "{root}"
server.port = 8080
server.tag = "cli-tag"
"""


def conf_in(tmp, text):
    os.makedirs(os.path.join(tmp.path, "www"), exist_ok=True)
    return tmp.write("lux.conf", text.format(root=os.path.join(tmp.path, "www")))


def test_version():
    cp = run_bin(["-v"])
    eq(cp.returncode, 0, "exit status")
    check(re.match(r"^\S+/\d+\.\d+(\.\d+)?\S*", cp.stdout), f"no name/version line: {cp.stdout!r}")


def test_features():
    cp = run_bin(["-V"])
    eq(cp.returncode, 0, "exit status")
    feats = re.findall(r"^\s*([+-]) (.+) support\s*$", cp.stdout, re.M)
    check(feats, f"no '+ ... support' lines in {cp.stdout!r}")
    check(any(sign == "+" for sign, _ in feats), "no enabled feature listed")


def test_help():
    cp = run_bin(["-h"])
    eq(cp.returncode, 0, "exit status")
    for flag in ("-f", "-D", "-t", "-v"):
        contains(cp.stdout, flag, "help text")


def test_config_test_ok():
    with TempDir() as tmp:
        cp = run_bin(["-t", "-f", conf_in(tmp, MINIMAL)])
        eq(cp.returncode, 0, f"exit status (stderr {cp.stderr!r})")


def test_config_test_syntax_error():
    with TempDir() as tmp:
        path = conf_in(tmp, MINIMAL + 'server.tag = "a" "b" )\nserver.port = 81\n')
        cp = run_bin(["-t", "-f", path])
        check(cp.returncode != 0, "syntax error accepted")
        out = cp.stdout + cp.stderr
        # lux says FILE:LINE:, lighttpd "source: FILE line: LINE"; both must name line 4.
        check(re.search(r"lux\.conf(:| line: )4\b", out), f"no file and line 4 in {out!r}")


def test_unknown_directive_warned():
    with Server('foo.bar = "x"\n') as s:
        poll(lambda: "foo.bar" in s.stderr + s.errorlog, what="a warning naming foo.bar")


@lux_only("lighttpd names an unknown key without its file and line")
def test_unknown_directive_file_line():
    line = harness.BASE_CONF.count("\n") + 2
    pattern = re.compile(rf"lux\.conf:{line}:.*foo\.bar")
    with Server('server.tag = "t"\nfoo.bar = "x"\n') as s:
        poll(lambda: pattern.search(s.stderr + s.errorlog), what=f"lux.conf:{line}: foo.bar")


def test_unknown_module():
    with TempDir() as tmp:
        path = conf_in(tmp, MINIMAL + 'server.modules = ("mod_nosuchthing")\n')
        cp = run_bin(["-tt", "-f", path])
        check(cp.returncode != 0, "unknown module accepted")
        contains(cp.stdout + cp.stderr, "mod_nosuchthing", "error message")


def test_print_config():
    with TempDir() as tmp:
        cp = run_bin(["-p", "-f", conf_in(tmp, MINIMAL)])
        eq(cp.returncode, 0, "exit status")
        check(re.search(r'server\.tag\s*=\s*"cli-tag"', cp.stdout), f"tag missing: {cp.stdout!r}")


def test_config_test_modules():
    with TempDir() as tmp:
        cp = run_bin(["-tt", "-f", conf_in(tmp, MINIMAL)])
        eq(cp.returncode, 0, f"exit status (stderr {cp.stderr!r})")


def test_missing_config_file():
    with TempDir() as tmp:
        cp = run_bin(["-t", "-f", os.path.join(tmp.path, "nope.conf")])
        check(cp.returncode != 0, "missing config accepted")
        contains(cp.stdout + cp.stderr, "nope.conf", "error message")


def test_oneshot_stdin_socket():
    """-1 serves the connection handed over on stdin (inetd style), then exits."""
    with TempDir() as tmp:
        path = conf_in(tmp, MINIMAL)
        tmp.write("www/a.txt", "one shot\n")
        cli, srv_side = harness.connected_pair()
        errf = open(os.path.join(tmp.path, "stderr"), "w+b")
        with cli, errf:
            with srv_side:
                proc = track(subprocess.Popen([harness.BIN, "-D", "-1", "-f", path], stdin=srv_side,
                                              stdout=subprocess.DEVNULL, stderr=errf,
                                              env=sanitizer_env()))
            try:
                cli.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data, closed = read_all(cli)
                check(closed, "connection not closed")
                r = parse_one(data)
                eq(r.status, 200, "status")
                eq(r.body, b"one shot\n", "body")
                eq(_wait(proc, 10), 0, "exit status")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            errf.seek(0)
            rep = sanitizer_report(errf.read().decode("utf-8", "replace"))
            check(rep is None, f"sanitizer report:\n{rep}")


def test_idle_exit():
    """-i SECS: a graceful shutdown once the server has been idle that long."""
    with Server(args=["-i", "1"]) as s:
        start = time.monotonic()
        eq(_wait(s.proc, 8), 0, "exit status")
        check(time.monotonic() - start >= 0.5, "exited before being idle for a second")


def _wait(proc, timeout):
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"process still running after {timeout}s")
