"""The container image without a container runtime: deploy/container/rootfs.sh assembles the
image's files (the Containerfile runs the same script), and lux runs from that tree with only
the shared libraries it lists, serving its default configuration and passing its own
HEALTHCHECK."""

import glob
import os
import re
import shutil
import subprocess

import harness
from harness import Server, check, contains, eq, get

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROOTFS_SH = os.path.join(ROOT, "deploy", "container", "rootfs.sh")
CONTAINERFILE = os.path.join(ROOT, "Containerfile")
IMAGE = "the container image is lux's own"


def build_rootfs(dest):
    cp = subprocess.run(["sh", ROOTFS_SH, harness.BIN, dest], capture_output=True, text=True,
                        timeout=60)
    eq(cp.returncode, 0, f"rootfs.sh exit status ({cp.stderr.strip()})")
    return cp.stdout.split()


def image_conf(dest):
    with open(os.path.join(dest, "etc/lux/lux.conf")) as f:
        return f.read()


def conf_setting(conf, key):
    m = re.search(r"^" + re.escape(key) + r"\s*=\s*\"?([^\"\n]*)\"?\s*$", conf, re.M)
    check(m, f"{key} not set in the image's configuration")
    return m.group(1)


def loader_wrap(dest, files):
    """Start lux through the tree's own dynamic loader, searching only the tree's libraries."""
    loader = [f for f in files if os.path.basename(f).startswith("ld-linux")]
    eq(len(loader), 1, f"one dynamic loader in the file list {files}")
    libdirs = sorted({os.path.dirname(dest + f) for f in files if ".so" in f})

    def wrap(argv):
        return [dest + loader[0], "--inhibit-cache", "--library-path", ":".join(libdirs),
                dest + "/usr/sbin/lux"] + argv[1:], {}
    return wrap


def mapped_libraries(pid):
    with open(f"/proc/{pid}/maps") as f:
        return {line.split()[-1] for line in f if ".so" in line.split()[-1]}


def healthcheck(dest, port, path):
    return subprocess.run(["bash", dest + "/usr/libexec/lux/healthcheck", str(port), path],
                          capture_output=True, timeout=20).returncode


@harness.lux_only(IMAGE)
def test_rootfs_runs_with_only_its_libraries():
    with harness.TempDir() as t:
        dest = os.path.join(t.path, "rootfs")
        files = build_rootfs(dest)
        for want in ("/usr/sbin/lux", "/etc/lux/lux.conf", "/usr/libexec/lux/healthcheck",
                     "/var/www/html/index.html"):
            check(want in files, f"{want} not in the file list {files}")
        on_disk = {p[len(dest):] for p in glob.glob(dest + "/**", recursive=True)
                   if os.path.isfile(p)}
        eq(on_disk, set(files), "the files in the tree are the listed ones")
        conf = image_conf(dest)
        health = conf_setting(conf, "server.health-url")
        # The image's configuration as is, only its port and (outside a chroot) its paths moved.
        conf = re.sub(r"^server\.port\s*=.*$", "server.port = @PORT@", conf, flags=re.M)
        conf = conf.replace('"/var/www/html"', f'"{dest}/var/www/html"')
        conf = conf.replace('"/dev/stdout"', '"@TMP@/access.log"')
        with Server(conf, base=False, wrap=loader_wrap(dest, files), tmp=t.path) as s:
            r = get(s.port, "/")
            eq(r.status, 200, "index page status")
            contains(r.body.decode(), "lux is serving", "index page")
            libs = mapped_libraries(s.pid)
            check(libs, "no shared library mapped")
            outside = sorted(lib for lib in libs if not lib.startswith(dest + "/"))
            eq(outside, [], "libraries loaded from outside the tree")
            eq(healthcheck(dest, s.port, health), 0, "HEALTHCHECK while serving")
            check(healthcheck(dest, s.port, "/no-such-page") != 0,
                  "HEALTHCHECK succeeded on a 404")
        check(healthcheck(dest, s.port, health) != 0, "HEALTHCHECK succeeded with lux stopped")


@harness.lux_only(IMAGE)
def test_containerfile_agrees_with_the_image_config():
    with open(CONTAINERFILE) as f:
        cf = f.read()
    contains(cf, "deploy/container/rootfs.sh build/lux /rootfs", "Containerfile")
    stages = re.findall(r"^FROM\s+(\S+)", cf, re.M)
    eq([s.split("/")[-1].split(" ")[0] for s in stages], ["debian:bookworm", "debian:bookworm-slim"],
       "build and runtime base images")
    with harness.TempDir() as t:
        dest = os.path.join(t.path, "rootfs")
        build_rootfs(dest)
        conf = image_conf(dest)
    port = conf_setting(conf, "server.port")
    health = conf_setting(conf, "server.health-url")
    eq(re.findall(r"^EXPOSE\s+(\d+)", cf, re.M), [port], "EXPOSE and server.port")
    eq(re.findall(r"^STOPSIGNAL\s+(\S+)", cf, re.M), ["SIGINT"], "STOPSIGNAL (graceful stop)")
    hc = re.search(r"^HEALTHCHECK .*\n?.*CMD (\[.*\])", cf, re.M)
    check(hc, "no HEALTHCHECK")
    eq(hc.group(1), f'["/usr/libexec/lux/healthcheck", "{port}", "{health}"]', "HEALTHCHECK")
    user = re.findall(r"^USER\s+(\d+):(\d+)", cf, re.M)
    eq(len(user), 1, "one numeric USER")
    check(int(user[0][0]) != 0, "the image runs as root")
    cp = harness.run_bin(["-t", "-f", os.path.join(ROOT, "deploy/container/lux.conf")])
    eq(cp.returncode, 0, f"lux -t of the image's configuration ({cp.stderr.strip()})")


def makefile_libraries():
    """The pkg-config modules and -l libraries the Makefile links lux with."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        text = f.read()
    pkgs = re.search(r"^PKGS\s*:=\s*(.*)$", text, re.M).group(1).split()
    libs = re.findall(r"-l(\w+)", re.search(r"^LIBS\s*:=\s*(.*)$", text, re.M).group(1))
    return pkgs, libs


def owning_package(path):
    cp = subprocess.run(["dpkg", "-S", os.path.normpath(path)], capture_output=True, text=True,
                        timeout=30)
    eq(cp.returncode, 0, f"dpkg -S {path} ({cp.stderr.strip()})")
    return cp.stdout.split(":")[0]


def development_files():
    """{what the Makefile names: the Debian package holding its .pc file or its .so}"""
    if not shutil.which("dpkg") or not shutil.which("pkg-config"):
        raise harness.Skip("dpkg and pkg-config are needed to map libraries to packages")
    pkgs, libs = makefile_libraries()
    owners = {}
    for pkg in pkgs:
        cp = subprocess.run(["pkg-config", "--path", pkg], capture_output=True, text=True,
                            timeout=30)
        eq(cp.returncode, 0, f"pkg-config --path {pkg}")
        owners[pkg] = owning_package(cp.stdout.strip())
    for lib in libs:
        owners["-l" + lib] = owning_package(library_file(lib))
    return owners


def library_file(lib):
    """The file the linker takes for -lLIB (glibc 2.34 keeps only an empty libdl.a and
    libpthread.a: their functions are in libc)."""
    for name in (f"lib{lib}.so", f"lib{lib}.a"):
        cp = subprocess.run(["cc", f"-print-file-name={name}"], capture_output=True, text=True,
                            timeout=30)
        if os.path.isabs(cp.stdout.strip()):
            return cp.stdout.strip()
    raise harness.TestFailure(f"the C compiler finds no library for -l{lib}")


@harness.lux_only(IMAGE)
def test_containerfile_build_stage_installs_every_library_lux_links():
    with open(CONTAINERFILE) as f:
        build_stage = re.split(r"^FROM ", f.read(), flags=re.M)[1]
    installed = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", build_stage.split("apt-get install")[1]
                               .split("&&")[0]))
    # build-essential brings the C library's own development files (libpthread, libdl).
    installed.add("libc6-dev")
    missing = sorted(f"{what} ({pkg})" for what, pkg in development_files().items()
                     if pkg not in installed)
    eq(missing, [], "libraries the Makefile links whose -dev package the build stage lacks")


@harness.lux_only(IMAGE)
def test_rootfs_paths_follow_the_merged_usr_layout():
    """Debian's base images (and this build host) have /lib, /lib64, /bin and /sbin as symlinks
    into /usr. An image layer holding a real /lib directory replaces that symlink, and the
    base's libraries behind it (bash's, for the HEALTHCHECK) are gone: every file the image adds
    must sit where no directory on its way is a symlink."""
    with harness.TempDir() as t:
        files = build_rootfs(os.path.join(t.path, "rootfs"))
    through_links = [f for f in files
                     if os.path.realpath(os.path.dirname(f)) != os.path.dirname(f)]
    eq(through_links, [], "files placed under a directory that is a symlink in the base image")
