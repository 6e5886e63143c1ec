"""examples/lux.conf as shipped: its status, metrics and dashboard pages answer this machine
(127.0.0.1 and ::1) and nobody else (a client mod_extforward names, as if a proxy on this machine
passed its request on)."""

import os
import socket

from harness import Server, Skip, eq, get, lux_only

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "lux.conf")
PAGES = ("/server-status", "/metrics", "/dashboard")

# Only what a test needs differs from the file: its ports, an error log, and a trusted forwarder
# on 127.0.0.1 to play a remote client; plus the same port on ::1.
TEST_LINES = """
server.errorlog = "@TMP@/error.log"
server.modules += ( "mod_extforward" )
extforward.forwarder = ( "127.0.0.1" => "trust" )
$SERVER["socket"] == "[::1]:@PORT@" { }
"""


def example_conf():
    with open(EXAMPLE) as f:
        text = f.read()
    for old, new in (('var.CWD + "/examples"', f'"{os.path.dirname(EXAMPLE)}"'),
                     ("= 8080", "= @PORT@"), ("127.0.0.1:8081", "127.0.0.1:@PORT2@")):
        eq(text.count(old), 1, f"examples/lux.conf has {old!r} once")
        text = text.replace(old, new)
    return text + TEST_LINES


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def get6(port, path):
    with socket.create_connection(("::1", port), timeout=10) as c:
        c.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


@lux_only("status.metrics-url and status.dashboard-url are lux's")
def test_example_pages_for_localhost_only():
    if not ipv6_loopback():
        raise Skip("no IPv6 loopback")
    with Server(example_conf(), base=False) as s:
        eq(get(s.port, "/").status, 200, "the example site")
        for page in PAGES:
            eq(get(s.port, page).status, 200, f"{page} from 127.0.0.1")
            eq(get6(s.port, page), 200, f"{page} from ::1")
            eq(get(s.port, page, headers={"X-Forwarded-For": "203.0.113.9"}).status, 404,
               f"{page} refused to a remote client")
        eq(get(s.port, "/metrics", headers={"X-Forwarded-For": "::1"}).status, 200,
           "a client named ::1 is this machine too")
