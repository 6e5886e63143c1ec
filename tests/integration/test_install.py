"""make install / uninstall into a DESTDIR: the binary runs, the man pages render cleanly, the
directive list of lux.conf(5) matches docs/configuration.md, a configuration is never
overwritten."""

import os
import re
import shutil
import subprocess

import harness
from harness import check, contains, eq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSTALL = "make install is lux's own"


def make(target, destdir, prefix="/usr"):
    """make install/uninstall of the binary as built: -o keeps make from rebuilding it while
    other tests run it (and several of these run at once)."""
    cp = subprocess.run(["make", "--no-print-directory", "-s", "-o", "build/lux", target,
                         f"DESTDIR={destdir}", f"PREFIX={prefix}"],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)
    eq(cp.returncode, 0, f"make {target} exit status ({cp.stderr.strip()[-600:]})")


def render(page):
    """The page as man shows it, and what groff said about it."""
    if not shutil.which("man"):
        raise harness.Skip("man (man-db) is not installed")
    env = dict(os.environ, MANWIDTH="100", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="0")
    cp = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                        env=env, timeout=60)
    eq(cp.returncode, 0, f"man -l {page} exit status ({cp.stderr.strip()})")
    return cp.stdout, cp.stderr


def documented_directives():
    """Every directive named in the first column of the directive tables of configuration.md
    and modules.md (those headed "| directive |"; tables of a directive's own keys, such as a
    gateway's backend options, are described under their directive). tests/unit/
    test_directive_docs.c checks these tables against the directives lux's modules take."""
    names = set()
    for doc in ("configuration.md", "modules.md"):
        in_directives = False
        with open(os.path.join(ROOT, "docs", doc)) as f:
            for line in f:
                if not line.startswith("|"):
                    in_directives = False
                elif re.match(r"\| *directive *\|", line, re.I):
                    in_directives = True
                elif in_directives and line.startswith("| `"):
                    names.update(re.findall(r"`([A-Za-z0-9.-]+)`", line.split("|")[1]))
    return names


@harness.lux_only(INSTALL)
def test_install_layout_and_binary():
    with harness.TempDir() as t:
        make("install", t.path)
        sbin = os.path.join(t.path, "usr/sbin/lux")
        check(os.access(sbin, os.X_OK), "sbin/lux is not executable")
        for rel in ("usr/share/man/man8/lux.8", "usr/share/man/man5/lux.conf.5",
                    "etc/lux/lux.conf", "etc/logrotate.d/lux",
                    "usr/lib/systemd/system/lux.service", "usr/lib/systemd/system/lux.socket"):
            check(os.path.isfile(os.path.join(t.path, rel)), f"{rel} not installed")
        modules = os.path.join(t.path, "usr/lib/lux/modules")
        eq(os.listdir(modules), [], "the module directory")
        conf = os.path.join(t.path, "etc/lux/lux.conf")
        cp = subprocess.run([sbin, "-t", "-f", conf], capture_output=True, text=True, timeout=30)
        eq((cp.returncode, cp.stdout.strip()), (0, "Syntax OK"),
           f"installed lux -t on the example config ({cp.stderr.strip()})")
        with open(os.path.join(t.path, "usr/lib/systemd/system/lux.service")) as f:
            unit = f.read()
        contains(unit, "ExecStart=/usr/sbin/lux -D -f /etc/lux/lux.conf", "the unit's paths")


@harness.lux_only(INSTALL)
def test_install_keeps_an_existing_config_and_uninstall_keeps_it_too():
    with harness.TempDir() as t:
        conf = t.write("usr/local/etc/lux/lux.conf", "# mine\n")
        make("install", t.path, prefix="/usr/local")
        eq(harness.read_text(conf), "# mine\n", "the existing config after install")
        make("uninstall", t.path, prefix="/usr/local")
        eq(harness.read_text(conf), "# mine\n", "the config after uninstall")
        left = sorted(os.path.relpath(os.path.join(d, f), t.path)
                      for d, _, files in os.walk(t.path) for f in files)
        eq(left, ["usr/local/etc/lux/lux.conf"], "files left after uninstall")
        check(not os.path.exists(os.path.join(t.path, "usr/local/lib/lux")),
              "lib/lux left after uninstall")


@harness.lux_only(INSTALL)
def test_man_pages_render_without_warnings():
    with harness.TempDir() as t:
        make("install", t.path)
        for page, want in (("usr/share/man/man8/lux.8", "SIGUSR2"),
                           ("usr/share/man/man5/lux.conf.5", "server.document-root")):
            out, warnings = render(os.path.join(t.path, page))
            eq(warnings.strip(), "", f"groff warnings for {page}")
            contains(out, want, page)
            check("@" not in re.sub(r"\S+@\S+", "", out), f"{page}: a placeholder is left")


@harness.lux_only(INSTALL)
def test_lux_conf_5_lists_every_documented_directive():
    with harness.TempDir() as t:
        make("install", t.path)
        with open(os.path.join(t.path, "usr/share/man/man5/lux.conf.5")) as f:
            lines = f.read().split("\n")
        # Each directive entry is a tagged paragraph: ".TP", then the names in bold.
        tags = [lines[i + 1] for i, line in enumerate(lines[:-1]) if line == ".TP"]
        listed = set()
        for tag in tags:
            listed.update(re.findall(r"\\fB([A-Za-z0-9.-]+)\\fR", tag))
        documented = documented_directives()
        check(len(documented) > 50, f"only {len(documented)} directives found in the docs")
        eq(sorted(documented - listed), [], "documented in the docs, not in lux.conf(5)")
        eq(sorted(listed - documented), [], "in lux.conf(5), not in the docs")
