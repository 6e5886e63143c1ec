"""fastcgi.debug, scgi.debug and proxy.debug: what a request does with its backend, in the error
log: nothing at 0, the backend chosen, the connection and the answer at 1, and what is sent
(the parameters) at 2."""

import harness
from harness import Server, check, lux_only, poll
from test_gateway_xsendfile import FixedBackend
from test_mod_fastcgi import App, backend_conf, get, unix_addr


def fastcgi_log(level):
    """The error log after one request to the FastCGI app with fastcgi.debug = level."""
    with harness.TempDir() as tmp:
        app = App("a", unix_addr(tmp.path, "a"))
        try:
            app.start()
            conf = ('server.modules = ("mod_fastcgi")\nserver.max-worker = 1\n'
                    f'fastcgi.debug = {level}\n'
                    f'fastcgi.server = ( ".php" => ( "a" => {backend_conf(app.addr)} ) )\n')
            with Server(conf, files={"hello.php": ""}) as s:
                check(get(s, "/hello.php").body == b"hello from a\n", "the app answered")
                if level:
                    poll(lambda: "ended the response" in s.errorlog, 5, what="the last debug line")
                return s.errorlog
        finally:
            app.stop()


@lux_only("lux words its debug lines its own way")
def test_fastcgi_debug_off_logs_nothing():
    log = fastcgi_log(0)
    check("goes to" not in log and "param " not in log, f"debug lines with debug 0:\n{log}")


@lux_only("lux words its debug lines its own way")
def test_fastcgi_debug_1_logs_backend_connection_and_answer():
    log = fastcgi_log(1)
    for text in ("/hello.php goes to unix:", "a new connection", "connected to unix:",
                 "answered 200 for /hello.php", "ended the response"):
        harness.contains(log, text)
    check("param " not in log, "parameters logged at level 1")


@lux_only("lux words its debug lines its own way")
def test_fastcgi_debug_2_logs_parameters():
    log = fastcgi_log(2)
    harness.contains(log, "param SCRIPT_NAME = /hello.php")
    harness.contains(log, "bytes of request head encoded")


def fixed_backend_log(module, level, first_line):
    backend = FixedBackend((first_line + "Content-Type: text/plain\r\nContent-Length: 3\r\n"
                            "Connection: close\r\n\r\nhi\n").encode())
    try:
        conf = (f'server.modules = ("{module}")\nserver.max-worker = 1\n'
                f'{module[4:]}.debug = {level}\n'
                f'{module[4:]}.server = ( "/app" => ( ( "host" => "127.0.0.1", '
                f'"port" => {backend.port}, "check-local" => "disable" ) ) )\n')
        with Server(conf) as s:
            check(get(s, "/app/x").body == b"hi\n", "the backend answered")
            poll(lambda: "ended the response" in s.errorlog, 5, what="the last debug line")
            return s.errorlog
    finally:
        backend.close()


@lux_only("lux words its debug lines its own way")
def test_scgi_debug_2_logs_parameters():
    log = fixed_backend_log("mod_scgi", 2, "Status: 200 OK\r\n")
    harness.contains(log, "(mod_scgi) param REQUEST_URI = /app/x")


@lux_only("lux words its debug lines its own way")
def test_proxy_debug_1_logs_backend():
    log = fixed_backend_log("mod_proxy", 1, "HTTP/1.1 200 OK\r\n")
    harness.contains(log, "(mod_proxy) /app/x goes to 127.0.0.1:")
