"""Loadable modules: loading from -m and server.modules-dir, the checks that refuse an object
(wrong API version or headers, not a module, missing, not loadable), and the example modules of
examples/plugins/ (built by `make plugins` into build/plugins/) over HTTP/1."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import harness
from harness import (Conn, Server, Skip, TempDir, TestFailure, check, connect, contains, curl,
                     eq, lux_only, run_bin)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(ROOT, "build", "plugins")
INCLUDE = os.path.join(ROOT, "include")
ONLY = "loadable lux modules: lux's own module API"


def plugin_dir():
    if not os.path.exists(os.path.join(PLUGINS, "mod_kv.so")):
        raise Skip("no build/plugins/mod_kv.so (make plugins)")
    return PLUGINS


def api_version():
    with open(os.path.join(INCLUDE, "lux", "module.h")) as f:
        return int(re.search(r"#define LUX_MODULE_API_VERSION (\d+)", f.read()).group(1))


def build_module(tmp, name, source):
    """Compile source into tmp/name.so against include/lux, as a module author would."""
    src = tmp.write(name + ".c", source)
    out = os.path.join(tmp.path, name + ".so")
    cp = subprocess.run(["cc", "-std=c17", "-I" + INCLUDE, "-shared", "-fPIC", "-o", out, src],
                        capture_output=True, text=True, timeout=60)
    check(cp.returncode == 0, f"cc failed: {cp.stderr}")
    return out


def module_source(name, fields):
    return ('#include "lux/req.h"\n'
            f'const lux_module {name}_module = {{ .name = "{name}", {fields} }};\n')


def check_refused(tmp, modules, want, line=5):
    """lux -t with server.modules = modules and -m tmp fails naming the config line and want."""
    root = os.path.join(tmp.path, "www")
    os.makedirs(root, exist_ok=True)
    conf = tmp.write("lux.conf", f'server.document-root = "{root}"\nserver.port = 8080\n\n\n'
                     f'server.modules = ( "{modules}" )\n')
    cp = run_bin(["-t", "-f", conf, "-m", tmp.path])
    check(cp.returncode != 0, f"{modules} accepted: {cp.stdout!r}")
    contains(cp.stderr, f"lux.conf:{line}:", "error names the line of server.modules")
    check(re.search(want, cp.stderr), f"no /{want}/ in {cp.stderr!r}")
    return cp.stderr


def kv_conf(extra=""):
    return 'server.modules = ( "mod_kv" )\n' + extra


@lux_only(ONLY)
def test_plugins_features_say_dynamic_loading():
    cp = run_bin(["-V"])
    contains(cp.stdout, "+ dynamic module loading support", "lux -V")


@lux_only(ONLY)
def test_plugins_binary_exports_only_the_api():
    if harness.sanitized():
        raise Skip("sanitizer runtimes export their own symbols")
    cp = subprocess.run(["nm", "-D", "--defined-only", harness.BIN], capture_output=True,
                        text=True, timeout=30)
    names = [line.split()[-1] for line in cp.stdout.splitlines() if line.strip()]
    ours = [n for n in names if "@" not in n]  # glibc's copy-relocated data carry a version
    check(ours and all(n.startswith("lux_") for n in ours),
          f"exported beyond the lux_* API: {[n for n in ours if not n.startswith('lux_')]}")
    for fn in ("lux_req_body_read", "lux_resp_header", "lux_worker_data", "lux_worker_timer_arm"):
        check(fn in ours, f"{fn} not exported")


@lux_only(ONLY)
def test_plugins_load_with_m():
    with Server(kv_conf(), args=["-m", plugin_dir()]) as s:
        cp = curl(["-X", "PUT", "--data-binary", '{"a": 1}', "-o", "/dev/null", "-w",
                   "%{http_code}", s.url("/api/kv/one")])
        eq(cp.stdout, b"201", "PUT of a new key")
        eq(curl([s.url("/api/kv/one")]).stdout, b'{"a": 1}', "GET")


@lux_only(ONLY)
def test_plugins_load_with_modules_dir():
    conf = (f'server.modules-dir = "{plugin_dir()}"\n'
            'server.modules = ( "mod_skeleton" )\nskeleton.text = "from the skeleton"\n')
    with Server(conf) as s:
        eq(curl([s.url("/skeleton")]).stdout, b"from the skeleton", "GET /skeleton")
        cp = curl(["-o", "/dev/null", "-w", "%{http_code}", s.url("/other")])
        eq(cp.stdout, b"404", "a path the module leaves to others")


@lux_only(ONLY)
def test_plugins_m_overrides_modules_dir():
    conf = 'server.modules-dir = "/nonexistent"\nserver.modules = ( "mod_skeleton" )\n'
    with Server(conf, args=["-m", plugin_dir()]) as s:
        contains(curl([s.url("/skeleton")]).stdout.decode(), "mod_skeleton", "GET /skeleton")


@lux_only(ONLY)
def test_plugins_kv_api_over_http1():
    with Server(kv_conf(), args=["-m", plugin_dir()]) as s:
        def code(*args):
            return curl(["-o", "/dev/null", "-w", "%{http_code}"] + list(args)).stdout.decode()
        eq(code(s.url("/api/kv/missing")), "404", "GET of a missing key")
        eq(code("-X", "PUT", "--data-binary", "1", s.url("/api/kv/a")), "201", "PUT new")
        eq(code("-X", "PUT", "--data-binary", "22", s.url("/api/kv/a")), "204", "PUT again")
        eq(code("-X", "PUT", "--data-binary", "[3]", s.url("/api/kv/b.c_d-e~")), "201", "PUT b")
        cp = curl(["-i", s.url("/api/kv/a")])
        contains(cp.stdout.decode().lower(), "content-type: application/json", "value's type")
        check(cp.stdout.endswith(b"\r\n\r\n22"), f"value: {cp.stdout!r}")
        listing = json.loads(curl([s.url("/api/kv/")]).stdout)
        eq(sorted(listing), ["a", "b.c_d-e~"], "the listing")
        eq(code("-X", "DELETE", s.url("/api/kv/a")), "204", "DELETE")
        eq(code("-X", "DELETE", s.url("/api/kv/a")), "404", "DELETE again")
        eq(json.loads(curl([s.url("/api/kv/")]).stdout), ["b.c_d-e~"], "listing after DELETE")
        eq(code(s.url("/api/kv/bad%20key")), "400", "a key outside [A-Za-z0-9._~-]")
        eq(code("-X", "POST", "--data-binary", "x", s.url("/api/kv/a")), "405", "POST")
        eq(code("-X", "PUT", "--data-binary", "x", s.url("/api/kv/")), "405", "PUT of the prefix")
        eq(code(s.url("/api/other")), "404", "outside the prefix")


@lux_only(ONLY)
def test_plugins_kv_bounds():
    conf = kv_conf("kv.max-entries = 2\nkv.max-value-size = 1000\n")
    with TempDir() as tmp, Server(conf, args=["-m", plugin_dir()]) as s:
        big = tmp.write("big", "x" * 1001)
        exact = tmp.write("exact", "y" * 1000)

        def put(key, path, *extra):
            return curl(["-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"] + list(extra) +
                        ["--data-binary", "@" + path, s.url("/api/kv/" + key)]).stdout.decode()
        eq(put("k1", big), "413", "a value over kv.max-value-size (Content-Length)")
        eq(put("k1", big, "-H", "Transfer-Encoding: chunked"), "413", "the same, chunked")
        eq(put("k1", exact, "-H", "Transfer-Encoding: chunked"), "201", "exactly at the bound")
        eq(len(curl([s.url("/api/kv/k1")]).stdout), 1000, "the stored value")
        eq(put("k2", exact), "201", "a second key")
        eq(put("k3", exact), "507", "a third key beyond kv.max-entries")
        eq(put("k2", big), "413", "replacing with too large a value")
        eq(len(curl([s.url("/api/kv/k2")]).stdout), 1000, "a refused PUT keeps the old value")


@lux_only(ONLY)
def test_plugins_kv_body_arriving_later():
    """With server.stream-request-body = 2 the handler runs before the body is there: it
    returns LUX_ASYNC and answers once the body has come."""
    conf = kv_conf("server.stream-request-body = 2\n")
    with Server(conf, args=["-m", plugin_dir()]) as s, Conn(s.port) as c:
        c.send(b"PUT /api/kv/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        time.sleep(0.3)
        c.send(b"world")
        eq(c.response("PUT").status, 201, "status once the body is complete")
        eq(c.request("/api/kv/slow").body, b"helloworld", "the value")


@lux_only(ONLY)
def test_plugins_kv_client_leaves_mid_body():
    conf = kv_conf("server.stream-request-body = 2\n")
    with Server(conf, args=["-m", plugin_dir()]) as s:
        with connect(s.port) as sock:
            sock.sendall(b"PUT /api/kv/gone HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhal")
            time.sleep(0.2)
        time.sleep(0.2)
        cp = curl(["-o", "/dev/null", "-w", "%{http_code}", s.url("/api/kv/gone")])
        eq(cp.stdout, b"404", "nothing stored from a broken body")


@lux_only(ONLY)
def test_plugins_kv_store_survives_reload():
    with Server(kv_conf("server.max-worker = 1\n"), args=["-m", plugin_dir()]) as s:
        curl(["-X", "PUT", "--data-binary", "kept", s.url("/api/kv/k")])
        s.reload(kv_conf("server.max-worker = 1\nserver.tag = \"reloaded\"\n"))
        cp = curl(["-i", s.url("/api/kv/k")])
        contains(cp.stdout.decode(), "reloaded", "the new generation answers")
        check(cp.stdout.endswith(b"kept"), f"the worker's store after a reload: {cp.stdout!r}")


@lux_only(ONLY)
def test_plugins_kv_store_per_worker():
    """Two workers, each with its own store: connections see the keys their worker was given.
    Any two connections' listings are therefore the same or disjoint, and there are at most two
    kinds; each connection sees its own key."""
    with Server(kv_conf("server.max-worker = 2\n"), args=["-m", plugin_dir()]) as s:
        conns = [Conn(s.port) for _ in range(12)]
        try:
            for i, c in enumerate(conns):
                eq(c.request(f"/api/kv/c{i}", method="PUT", body=str(i)).status, 201, f"PUT c{i}")
            listings = []
            for i, c in enumerate(conns):
                eq(c.request(f"/api/kv/c{i}").body, str(i).encode(), f"GET c{i}")
                listings.append(frozenset(json.loads(c.request("/api/kv/").body)))
        finally:
            for c in conns:
                c.close()
        for i, a in enumerate(listings):
            check(f"c{i}" in a, f"connection {i} does not see its key: {sorted(a)}")
            for b in listings:
                check(a == b or not (a & b), f"stores overlap: {sorted(a)} / {sorted(b)}")
        kinds = set(listings)
        check(len(kinds) <= 2, f"more stores than workers: {kinds}")
        eq(sorted(set().union(*kinds)), sorted(f"c{i}" for i in range(12)), "all keys stored")


@lux_only(ONLY)
def test_plugins_wrong_api_version_refused():
    with TempDir() as tmp:
        build_module(tmp, "mod_old", module_source(
            "mod_old", f".api_version = {api_version() - 1}, .abi = LUX_MODULE_ABI"))
        err = check_refused(tmp, "mod_old", r"mod_old\.so was built for module API version "
                            rf"{api_version() - 1}, lux has version {api_version()}")
        contains(err, tmp.path, "the error names the file")


@lux_only(ONLY)
def test_plugins_other_headers_refused():
    with TempDir() as tmp:
        build_module(tmp, "mod_skewed", module_source(
            "mod_skewed", ".api_version = LUX_MODULE_API_VERSION, .abi = {sizeof(lux_module), "
            "sizeof(lux_directive), sizeof(lux_value), sizeof(lux_req) + 8, sizeof(lux_chunk), "
            "sizeof(lux_timer)}"))
        check_refused(tmp, "mod_skewed",
                      r"mod_skewed\.so was built against other lux headers \(sizeof lux_req")


@lux_only(ONLY)
def test_plugins_not_a_module_refused():
    with TempDir() as tmp:
        build_module(tmp, "mod_plain", "int mod_plain_answer = 42;\n")
        check_refused(tmp, "mod_plain", r"mod_plain\.so is not a lux module: it does not export "
                      r"mod_plain_module")


@lux_only(ONLY)
def test_plugins_not_loadable_refused():
    with TempDir() as tmp:
        tmp.write("mod_text.so", "not an ELF object\n")
        check_refused(tmp, "mod_text", r"cannot load module \S*mod_text\.so: ")


@lux_only(ONLY)
def test_plugins_missing_file_refused():
    with TempDir() as tmp:
        check_refused(tmp, "mod_absent",
                      r'unknown module "mod_absent": not built in, and \S*mod_absent\.so: '
                      r"No such file")


@lux_only(ONLY)
def test_plugins_name_is_not_a_path():
    with TempDir() as tmp:
        check_refused(tmp, "../mod_kv", r'invalid module name "\.\./mod_kv"')


@lux_only(ONLY)
def test_plugins_lighttpd_module_from_the_directory():
    """A name lighttpd has and lux lacks loads when the module directory provides it."""
    with TempDir() as tmp:
        build_module(tmp, "mod_maxminddb", module_source(
            "mod_maxminddb", ".api_version = LUX_MODULE_API_VERSION, .abi = LUX_MODULE_ABI"))
        root = os.path.join(tmp.path, "www")
        os.makedirs(root)
        conf = tmp.write("lux.conf", f'server.document-root = "{root}"\nserver.port = 8080\n'
                         'server.modules = ( "mod_maxminddb" )\n')
        cp = run_bin(["-t", "-f", conf, "-m", tmp.path])
        eq(cp.returncode, 0, f"exit status ({cp.stderr!r})")
        cp = run_bin(["-t", "-f", conf, "-m", os.path.join(tmp.path, "www")])
        check(cp.returncode != 0, "accepted without the object")
        contains(cp.stderr, "not available in this version of lux", "the usual message")


@lux_only(ONLY)
def test_plugins_symbol_that_is_not_a_table_refused():
    with TempDir() as tmp:
        build_module(tmp, "mod_tiny", "int mod_tiny_module = 2;\n")
        check_refused(tmp, "mod_tiny", r"mod_tiny\.so is not a lux module: it does not export "
                      r"mod_tiny_module as a lux_module table")


@lux_only(ONLY)
def test_plugins_reload_hands_the_module_its_new_settings():
    """A loaded module's directives change with a reload; a reload its conf_finish refuses
    fails with its message and the running generation keeps its settings."""
    def code(s, *args):
        return curl(["-o", "/dev/null", "-w", "%{http_code}"] + list(args)).stdout.decode()

    with Server(kv_conf("kv.max-value-size = 4\n"), args=["-m", plugin_dir()]) as s:
        eq(code(s, "-X", "PUT", "--data-binary", "123456", s.url("/api/kv/k")), "413",
           "over kv.max-value-size = 4")
        s.reload(kv_conf('kv.max-value-size = 100\nkv.prefix = "/store/"\n'))
        eq(code(s, "-X", "PUT", "--data-binary", "123456", s.url("/store/k")), "201",
           "the new size and prefix")
        eq(code(s, s.url("/api/kv/k")), "404", "the old prefix is gone")
        s.reload(kv_conf('kv.prefix = "no-slash"\n'))
        contains(s.errorlog, "kv.prefix must start and end with '/'", "the module's message")
        eq(code(s, s.url("/store/k")), "200", "the running settings stay")


@lux_only(ONLY)
def test_plugins_installed_kit_builds_a_module():
    """`make install-dev` installs the headers and lux.pc; the module's source built with
    `cc $(pkg-config --cflags lux) -shared -fPIC` alone (no path into the source tree) loads."""
    if not shutil.which("pkg-config"):
        raise Skip("no pkg-config")
    with TempDir() as tmp:
        dest = os.path.join(tmp.path, "root")
        cp = subprocess.run(["make", "-s", "-C", ROOT, "install-dev", "DESTDIR=" + dest,
                             "PREFIX=/usr"], capture_output=True, text=True, timeout=120)
        eq(cp.returncode, 0, f"make install-dev: {cp.stderr}")
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(dest, "usr", "lib", "pkgconfig"),
                   PKG_CONFIG_SYSROOT_DIR=dest)
        cflags = subprocess.run(["pkg-config", "--cflags", "lux"], env=env, capture_output=True,
                                text=True, timeout=30)
        eq(cflags.returncode, 0, f"pkg-config: {cflags.stderr}")
        check(dest in cflags.stdout, f"the installed headers: {cflags.stdout!r}")
        src = os.path.join(ROOT, "examples", "plugins", "mod_kv", "mod_kv.c")
        out = os.path.join(tmp.path, "mod_kv.so")
        cc = subprocess.run(["cc", "-std=c17", *cflags.stdout.split(), "-shared", "-fPIC",
                             src, "-o", out], cwd=tmp.path, capture_output=True, text=True,
                            timeout=120)
        eq(cc.returncode, 0, f"cc: {cc.stderr}")
        with Server(kv_conf(), args=["-m", tmp.path]) as s:
            cp = curl(["-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "--data-binary",
                       "1", s.url("/api/kv/a")])
            eq(cp.stdout, b"201", "the module built from the kit answers")
