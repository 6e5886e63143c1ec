"""mod_ssi's #exec cmd= with ssi.exec = "enable": the output goes into the page in order, the
command runs in the page's directory without holding the worker, a command that hangs is killed
at lux's time bound, and one whose client leaves is killed."""

import os
import threading
import time

import harness
from harness import Server, check, eq, get, lux_only

MODS = ('server.modules += ("mod_ssi")\nssi.extension = (".shtml")\nssi.exec = "enable"\n'
        "server.max-worker = 1\n")


def pids_running(marker):
    """Processes whose command line holds marker."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_output_inserted_in_order():
    files = {"d/p.shtml": 'a[<!--#exec cmd="echo one" -->]b<!--#include file="inc.txt" -->'
                          '[<!--#exec cmd="printf two" -->]c',
             "d/inc.txt": "inc"}
    with Server(MODS, files=files) as s:
        r = get(s.port, "/d/p.shtml")
        eq(r.status, 200, "status")
        eq(r.text(), "a[one\n]binc[two]c", "page")


@lux_only("lighttpd 1.4.69 runs the command in the server's working directory")
def test_command_runs_in_the_page_directory():
    with Server(MODS, files={"d/p.shtml": '[<!--#exec cmd="pwd" -->]'}) as s:
        eq(get(s.port, "/d/p.shtml").text(), f"[{os.path.join(s.docroot, 'd')}\n]", "page")


@lux_only("lighttpd runs #exec synchronously, holding its only event loop")
def test_slow_command_does_not_block_a_static_request():
    # The command waits until the test has had its static answer: the worker serves one while
    # the other waits. (One worker, so both are on it.)
    wait = "while [ ! -e go ]; do sleep 0.05; done; echo slow"
    files = {"slow.shtml": f'[<!--#exec cmd="{wait}" -->]', "f.txt": "hi\n"}
    with Server(MODS, files=files) as s:
        out = {}

        def slow():
            out["data"] = harness.raw(s.port, b"GET /slow.shtml HTTP/1.1\r\nHost: localhost\r\n"
                                              b"Connection: close\r\n\r\n", timeout=30)
        t = threading.Thread(target=slow)
        t.start()
        harness.poll(lambda: pids_running("while [ ! -e go ]"), what="the command started")
        eq(get(s.port, "/f.txt").text(), "hi\n", "static file while the command runs")
        check(t.is_alive(), "the page waits for its command")
        harness.write_file(os.path.join(s.docroot, "go"), "")
        t.join(30)
        eq(harness.parse_one(out["data"]).text(), "[slow\n]", "the slow page")


@lux_only("lux's own time bound for #exec")
def test_hanging_command_is_killed_at_the_bound():
    files = {"hang.shtml": '[<!--#exec cmd="echo before; exec sleep 61.25" -->]after'}
    with Server(MODS, files=files) as s:
        start = time.monotonic()
        # the answer comes only at the bound: wait longer than the harness's usual read
        data = harness.raw(s.port, b"GET /hang.shtml HTTP/1.1\r\nHost: localhost\r\n"
                                   b"Connection: close\r\n\r\n", timeout=30)
        took = time.monotonic() - start
        r = harness.parse_one(data)
        eq(r.text(), "[before\n]after", "what it wrote before the bound, then the page")
        check(took >= 4, f"answered after {took:.1f} s, before the bound")
        harness.poll(lambda: not pids_running("61.25"), what="the command killed")
        harness.contains(s.errorlog, "still running after", "logged")


@lux_only("lighttpd waits for the command whatever the client does")
def test_command_killed_when_the_client_leaves():
    files = {"hang.shtml": '[<!--#exec cmd="exec sleep 62.25" -->]'}
    with Server(MODS, files=files) as s:
        c = harness.connect(s.port)
        c.sendall(b"GET /hang.shtml HTTP/1.1\r\nHost: localhost\r\n\r\n")
        harness.poll(lambda: pids_running("62.25"), what="the command started")
        c.close()
        harness.poll(lambda: not pids_running("62.25"), timeout=3, what="the command killed")


def test_exec_cgi_is_not_run():
    with Server(MODS, files={"p.shtml": '[<!--#exec cgi="/x.sh" -->]'}) as s:
        eq(get(s.port, "/p.shtml").text(), "[]", "page")
