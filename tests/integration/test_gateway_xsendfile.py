"""X-Sendfile through the gateways: FastCGI (the test's own app), SCGI and an HTTP backend of the
test's own answering with a fixed response, and CGI; the file served as a static file, the
backend's body dropped, and each way a path can be refused."""

import os
import socket
import threading

import harness
from harness import Server, check, contains, eq, poll
from test_mod_fastcgi import App, backend_conf, get, unix_addr

PAGE = "<p>the file</p>\n"
BIG = bytes(range(256)) * 4096  # 1 MiB: sent with sendfile, not from the cache's memory
FILES = {"xsend.php": "", "../files/page.html": PAGE, "../files/big.bin": BIG,
         "../files/sub/note.txt": "note\n", "../files/noext": "no suffix\n",
         "outside.txt": "outside\n"}


class FcgiSetup:
    """A server with mod_fastcgi and the FastCGI app: ".php" goes to the app with opts."""

    def __init__(self, opts=', "x-sendfile" => "enable", "x-sendfile-docroot" => ( "@TMP@/files" )',
                 extra=""):
        self.tmp = harness.TempDir()
        self.app = App("a", unix_addr(self.tmp.path, "a"))
        self.server = Server('server.modules = ("mod_fastcgi")\nserver.max-worker = 1\n'
                             'mimetype.assign := ( ".html" => "text/html" )\n'
                             f'fastcgi.server = ( ".php" => ( "a" => '
                             f'{backend_conf(self.app.addr, opts)} ) )\n' + extra, files=FILES)

    def __enter__(self):
        try:
            self.app.start()
            self.server.__enter__()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self.server

    def __exit__(self, *exc):
        try:
            self.server.__exit__(*exc)
        finally:
            self.app.stop()
            self.tmp.__exit__(None, None, None)


def files_dir(s):
    return os.path.join(s.tmp, "files")


def xsend(s, target, kind="", headers=None):
    query = f"{kind}={target}" if kind else target
    return get(s, "/xsend.php?" + query, headers=headers)


def test_fastcgi_file_served_backend_body_dropped():
    with FcgiSetup() as s:
        r = xsend(s, os.path.join(files_dir(s), "page.html"))
        eq(r.status, 200)
        eq(r.body, PAGE.encode())
        eq(r.header("Content-Length"), str(len(PAGE)))
        eq(r.header("X-Backend"), "a")
        eq(r.header("Content-Type"), "text/x-app")  # the backend's, as lighttpd keeps it
        check(r.header("ETag"), "no ETag")
        check(r.header("Last-Modified"), "no Last-Modified")
        check(r.header("X-Sendfile") is None, "X-Sendfile reached the client")


def test_fastcgi_file_gets_type_by_suffix_when_backend_names_none():
    with FcgiSetup() as s:
        r = xsend(s, os.path.join(files_dir(s), "page.html"), kind="bare")
        eq(r.status, 200)
        eq(r.header("Content-Type"), "text/html")
        eq(r.body, PAGE.encode())


def test_fastcgi_x_lighttpd_send_file():
    with FcgiSetup() as s:
        r = xsend(s, os.path.join(files_dir(s), "page.html"), kind="lighttpd")
        eq(r.status, 200)
        eq(r.body, PAGE.encode())


def test_fastcgi_large_file():
    with FcgiSetup() as s:
        r = xsend(s, os.path.join(files_dir(s), "big.bin"))
        eq(r.status, 200)
        eq(len(r.body), len(BIG))
        check(r.body == BIG, "the file changed on the way")


def test_fastcgi_range_of_the_file():
    with FcgiSetup() as s:
        r = xsend(s, os.path.join(files_dir(s), "page.html"), headers={"Range": "bytes=3-8"})
        eq(r.status, 206)
        eq(r.body, PAGE.encode()[3:9])
        eq(r.header("Content-Range"), f"bytes 3-8/{len(PAGE)}")


def test_fastcgi_conditional_request_not_modified():
    with FcgiSetup() as s:
        path = os.path.join(files_dir(s), "page.html")
        etag = xsend(s, path).header("ETag")
        r = xsend(s, path, headers={"If-None-Match": etag})
        eq(r.status, 304)
        eq(r.body, b"")


def test_fastcgi_percent_encoded_and_dot_segments_inside_docroot():
    with FcgiSetup() as s:
        # The app decodes the query once: the backend sends "p%61ge.html", which names page.html.
        r = xsend(s, os.path.join(files_dir(s), "sub", "..", "p%2561ge.html"))
        eq(r.status, 200)
        eq(r.body, PAGE.encode())


def test_fastcgi_file_without_suffix_is_served():
    with FcgiSetup() as s:
        r = xsend(s, os.path.join(files_dir(s), "noext"))
        eq(r.status, 200)
        eq(r.body, b"no suffix\n")


def refused(s, target, status, log_text):
    r = xsend(s, target)
    eq(r.status, status, f"X-Sendfile {target}")
    check(b"the backend's own body" not in r.body, "the backend's body reached the client")
    if log_text:
        poll(lambda: log_text in s.errorlog, 5, what=f"an error-log line about {target}")


def test_fastcgi_missing_file_is_404():
    with FcgiSetup() as s:
        refused(s, os.path.join(files_dir(s), "missing.html"), 404, "missing.html")


def test_fastcgi_file_outside_docroot_is_403():
    with FcgiSetup() as s:
        refused(s, s.path("outside.txt"), 403, "outside.txt")


def test_fastcgi_relative_path_is_403():
    with FcgiSetup() as s:
        refused(s, "files/page.html", 403, "files/page.html")


def test_fastcgi_dot_dot_escaping_docroot_is_403():
    with FcgiSetup() as s:
        refused(s, os.path.join(files_dir(s), "..", "www", "outside.txt"), 403, "outside.txt")


def test_fastcgi_directory_is_403():
    with FcgiSetup() as s:  # lighttpd logs nothing here
        refused(s, os.path.join(files_dir(s), "sub"), 403, None if harness.is_lighttpd() else "sub")


def test_fastcgi_without_docroot_any_absolute_path():
    with FcgiSetup(opts=', "x-sendfile" => "enable"') as s:
        r = xsend(s, s.path("outside.txt"))
        eq(r.status, 200)
        eq(r.body, b"outside\n")


def test_fastcgi_disabled_passes_backend_answer():
    with FcgiSetup(opts="") as s:
        r = xsend(s, os.path.join(files_dir(s), "page.html"))
        eq(r.status, 200)
        contains(r.body.decode(), "the backend's own body")


def test_fastcgi_empty_x_sendfile_keeps_backend_body():
    with FcgiSetup() as s:
        r = xsend(s, "")
        eq(r.status, 200)
        contains(r.body.decode(), "the backend's own body")


# ---- SCGI and HTTP backends: one fixed answer per connection ----------------------------------

class FixedBackend:
    """A loopback backend that reads a request (an HTTP head, or an SCGI netstring) and answers
    every connection with the same bytes, then closes it."""

    def __init__(self, answer):
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    self.read_request(conn)
                    conn.sendall(self.answer)
                except OSError:
                    pass

    @staticmethod
    def read_request(conn):
        data = b""
        while True:
            b = conn.recv(65536)
            if not b:
                return
            data += b
            if b"\r\n\r\n" in data and not data[:1].isdigit():
                return
            length, colon, rest = data.partition(b":")
            if colon and length.isdigit() and len(rest) > int(length):
                return

    def close(self):
        self.sock.close()
        self.thread.join(5)


def fixed_answer(first_line, path):
    junk = b"the backend's own body\n" * 100
    return (first_line + f"X-Sendfile: {path}\r\nContent-Type: text/x-app\r\n"
            f"Content-Length: {len(junk)}\r\nConnection: close\r\n\r\n").encode() + junk


def run_fixed(module, first_line):
    with harness.TempDir() as tmp:
        path = os.path.join(tmp.path, "files", "page.html")
        harness.write_file(path, PAGE)
        backend = FixedBackend(fixed_answer(first_line, path))
        try:
            conf = (f'server.modules = ("{module}")\nserver.max-worker = 1\n'
                    f'{module[4:]}.server = ( "/app" => ( ( "host" => "127.0.0.1", '
                    f'"port" => {backend.port}, "check-local" => "disable", '
                    f'"x-sendfile" => "enable", "x-sendfile-docroot" => ( "{tmp.path}/files" ) ) ) )\n')
            with Server(conf) as s:
                r = get(s, "/app/x")
                eq(r.status, 200)
                eq(r.body, PAGE.encode())
                eq(r.header("Content-Type"), "text/x-app")
                check(r.header("X-Sendfile") is None, "X-Sendfile reached the client")
        finally:
            backend.close()


def test_scgi_file_served():
    run_fixed("mod_scgi", "Status: 200 OK\r\n")


def test_proxy_file_served():
    run_fixed("mod_proxy", "HTTP/1.1 200 OK\r\n")


# ---- CGI shares the same code ------------------------------------------------------------------

CGI_CONF = ('server.modules = ("mod_cgi")\nserver.max-worker = 1\n'
            'cgi.assign = ( ".sh" => "/bin/sh" )\ncgi.x-sendfile = "enable"\n')


def cgi_answer(field, path):
    return f"printf '{field}: {path}\\r\\n\\r\\nscript body\\n'\n"


def test_cgi_dot_segments_inside_docroot_resolve():
    files = dict(FILES, **{"xs.sh": cgi_answer("X-Sendfile", "@TMP@/files/sub/../page.html")})
    with Server(CGI_CONF + 'cgi.x-sendfile-docroot = ( "@TMP@/files" )\n', files=files) as s:
        s.write("xs.sh", s.expand(files["xs.sh"]))
        r = get(s, "/xs.sh")
        eq(r.status, 200)
        eq(r.body, PAGE.encode())


def test_cgi_relative_path_is_403():
    files = dict(FILES, **{"xs.sh": cgi_answer("X-Sendfile", "files/page.html")})
    with Server(CGI_CONF, files=files) as s:
        eq(get(s, "/xs.sh").status, 403)


def test_cgi_x_lighttpd_send_file_is_a_plain_header():
    """lighttpd honours the older name from FastCGI backends only."""
    files = dict(FILES, **{"xs.sh": cgi_answer("X-LIGHTTPD-send-file", "@TMP@/files/page.html")})
    with Server(CGI_CONF, files=files) as s:
        s.write("xs.sh", s.expand(files["xs.sh"]))
        r = get(s, "/xs.sh")
        eq(r.status, 200)
        eq(r.body, b"script body\n")
