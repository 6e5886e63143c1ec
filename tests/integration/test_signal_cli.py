"""lux -s reload|stop|quit|reopen: signal the server named by the config's pid file."""

import os
import subprocess
import sys
import time

import harness
from harness import Server, check, contains, eq, get, poll, run_bin

PID_CONF = 'server.pid-file = "@TMP@/lux.pid"\n'
FILES = {"f.txt": "hello\n"}
CLI = "lux -s is lux's own (nginx's habit)"


def control(s, action):
    return run_bin(["-f", s.conf_path, "-s", action])


def pid_file(s):
    return os.path.join(s.tmp, "lux.pid")


def wait_pid_file(s):
    poll(lambda: harness.read_text(pid_file(s)).strip() == str(s.pid), what="the pid file")


@harness.lux_only(CLI)
def test_s_reload_rereads_config():
    with Server(PID_CONF + 'server.tag = "before"\n', files=FILES) as s:
        wait_pid_file(s)
        s.write_conf(PID_CONF + 'server.tag = "after"\n')
        cp = control(s, "reload")
        eq(cp.returncode, 0, f"exit status ({cp.stderr.strip()})")
        poll(lambda: "configuration reloaded" in s.errorlog, what="the reload")
        eq(get(s.port, "/f.txt").header("Server"), "after", "Server header after the reload")


@harness.lux_only(CLI)
def test_s_reopen_reopens_logs():
    with Server(PID_CONF + 'server.modules = ("mod_accesslog")\n'
                'accesslog.filename = "@TMP@/access.log"\n', files=FILES) as s:
        wait_pid_file(s)
        log = os.path.join(s.tmp, "access.log")
        get(s.port, "/f.txt")
        poll(lambda: "/f.txt" in harness.read_text(log), what="the first access log line")
        os.rename(log, log + ".1")
        eq(control(s, "reopen").returncode, 0, "exit status")
        poll(lambda: os.path.exists(log), what="a new access log")
        get(s.port, "/again")
        poll(lambda: "/again" in harness.read_text(log), what="a line in the new log")


@harness.serial
@harness.lux_only(CLI)
def test_s_stop_and_quit():
    for action, said in (("stop", "SIGTERM"), ("quit", "SIGINT: graceful")):
        with Server(PID_CONF, files=FILES) as s:
            wait_pid_file(s)
            eq(control(s, action).returncode, 0, f"-s {action} exit status")
            eq(s.wait_exit(5 * harness.sanitizer_slowdown()), 0, "server exit status")
            contains(s.errorlog, said, f"what -s {action} sent")
            check(not os.path.exists(pid_file(s)), "pid file left behind")


def config_only(tmp, pid_path):
    conf = os.path.join(tmp, "lux.conf")
    harness.write_file(conf, f'server.document-root = "{tmp}"\nserver.port = 1\n'
                             f'server.pid-file = "{pid_path}"\n')
    return conf


@harness.lux_only(CLI)
def test_s_missing_pid_file():
    with harness.TempDir() as t:
        conf = config_only(t.path, os.path.join(t.path, "none.pid"))
        cp = run_bin(["-f", conf, "-s", "reload"])
        eq(cp.returncode, 1, "exit status")
        contains(cp.stderr, "none.pid", "error names the pid file")
        contains(cp.stderr, "No such file", "error says why")


@harness.lux_only(CLI)
def test_s_stale_pid():
    with harness.TempDir() as t:
        # A pid that just ended: nothing can hold it again this quickly in a test run.
        gone = subprocess.Popen(["true"])
        gone.wait()
        pid_path = t.write("lux.pid", f"{gone.pid}\n")
        cp = run_bin(["-f", config_only(t.path, pid_path), "-s", "stop"])
        eq(cp.returncode, 1, "exit status")
        contains(cp.stderr, "stale", "error says the pid file is stale")


@harness.lux_only(CLI)
def test_s_refuses_a_process_that_is_not_lux():
    with harness.TempDir() as t:
        sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
        other = harness.track(subprocess.Popen(sleeper))
        try:
            pid_path = t.write("lux.pid", f"{other.pid}\n")
            cp = run_bin(["-f", config_only(t.path, pid_path), "-s", "stop"])
            eq(cp.returncode, 1, "exit status")
            contains(cp.stderr, "is not lux", "error says the process is not lux")
            time.sleep(0.2)
            check(other.poll() is None, "the other process was signalled")
        finally:
            other.kill()
            other.wait()


@harness.lux_only(CLI)
def test_s_usage_errors():
    with harness.TempDir() as t:
        conf = config_only(t.path, os.path.join(t.path, "lux.pid"))
        cp = run_bin(["-f", conf, "-s", "restart"])
        eq(cp.returncode, 1, "unknown action exit status")
        contains(cp.stderr, "reload, stop, quit, reopen", "the actions are listed")
        harness.write_file(conf, f'server.document-root = "{t.path}"\nserver.port = 1\n')
        cp = run_bin(["-f", conf, "-s", "reload"])
        eq(cp.returncode, 1, "no pid file configured: exit status")
        contains(cp.stderr, "server.pid-file", "error names the directive")


@harness.lux_only(CLI)
def test_s_in_help():
    contains(run_bin(["-h"]).stdout, "-s <sig>", "-h lists -s")
