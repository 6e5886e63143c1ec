"""status.dashboard-url under load in headless Chromium: requests/s, HTTP/2 streams and the
gateways' backends (up and down) move on the page, and the page logs nothing to the console (no
script error, no policy violation). A screenshot of it is kept in the test's directory, and
copied to $LUX_DASHBOARD_SCREENSHOT when that is set (docs/img/dashboard.png is made so)."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading

from harness import Server, check, eq, free_port, get, lux_only
from test_dashboard import by_id, chromium
from test_mod_proxy import Backend

FILES = {"f.txt": "x" * 500}


def conf(live, dead):
    # The dead one stays down for the whole test once tried, however slow the build.
    hosts = ", ".join(f'( "host" => "127.0.0.1", "port" => {p}, "disable-time" => 600 )'
                      for p in (dead, live))
    return ('server.modules = ("mod_status", "mod_proxy")\nstatus.dashboard-url = "/dash"\n'
            'server.max-worker = 2\n'
            f'$HTTP["url"] =^ "/app/" {{\nproxy.server = ( "" => ( {hosts} ) )\n}}\n')


class Load:
    """Clients on HTTP/1.1 (files and the proxy) and HTTP/2 (nghttp, when installed) until
    stopped."""

    def __init__(self, s):
        self.s, self.stop, self.sent = s, threading.Event(), 0
        self.threads = [threading.Thread(target=self.h1, daemon=True)]
        if shutil.which("nghttp"):
            self.threads.append(threading.Thread(target=self.h2, daemon=True))

    def h1(self):
        while not self.stop.is_set():
            for path in ("/f.txt", "/app/hello"):
                eq(get(self.s.port, path).status, 200, path)
                self.sent += 1

    def h2(self):
        urls = [self.s.url(f"/f.txt?{i}") for i in range(4)]
        while not self.stop.wait(0.05):
            subprocess.run(["nghttp", "-n"] + urls, capture_output=True, timeout=30)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)


def headless(url, *args, budget_ms=6000):
    """Run headless Chromium on url; (stdout, the console messages it logged)."""
    with tempfile.TemporaryDirectory(prefix="luxchrome-") as profile:
        argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                f"--virtual-time-budget={budget_ms}", *args, url]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        try:
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    console = [l for l in err.decode("utf-8", "replace").splitlines() if ":CONSOLE" in l]
    return out.decode("utf-8", "replace"), console


def backend_rows(dom):
    return {m[1]: m for m in re.findall(
        r'<tr id="backend-\d+"><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>'
        r'<td>(\d+)</td><td>(\d+)</td><td[^>]*>(up|down)</td>', dom)}


@lux_only("status.dashboard-url is lux's")
def test_dashboard_moves_under_load_without_console_errors():
    chromium()
    dead = free_port()
    with Backend() as b, Server(conf(b.port, dead), files=FILES) as s, Load(s) as load:
        live_name, dead_name = f"127.0.0.1:{b.port}", f"127.0.0.1:{dead}"
        dom, console = headless(s.url("/dash"), "--dump-dom")
        eq(console, [], "nothing on the console")
        eq(by_id(dom, "state"), "live", "the script ran and polled")
        eq(by_id(dom, "errors"), "", "no script error")
        check(float(by_id(dom, "rps")) > 0, f"requests/s under load: {by_id(dom, 'rps')}")
        rows = backend_rows(dom)
        check(live_name in rows and dead_name in rows, f"a row per backend: {rows}")
        live, gone = rows[live_name], rows[dead_name]
        eq((live[0], live[5], gone[5]), ("mod_proxy", "up", "down"), "module and health")
        check(int(live[3]) > 0 and int(gone[4]) > 0, f"requests and errors: {live} {gone}")
        if len(load.threads) > 1:
            check(int(by_id(dom, "h2total")) > 0, "HTTP/2 streams counted")
        shot = os.path.join(s.tmp, "dashboard.png")
        _, console = headless(s.url("/dash"), f"--screenshot={shot}", "--window-size=1100,1000",
                              "--hide-scrollbars")
        eq(console, [], "nothing on the console")
        check(os.path.getsize(shot) > 10000, "a screenshot")
        if os.environ.get("LUX_DASHBOARD_SCREENSHOT"):
            shutil.copyfile(shot, os.environ["LUX_DASHBOARD_SCREENSHOT"])
    check(load.sent > 0, "the load ran")
