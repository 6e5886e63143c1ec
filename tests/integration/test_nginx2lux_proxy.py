"""tools/nginx2lux on the reverse-proxy location most nginx sites carry: proxy_set_header lines
for the Host, X-Forwarded-* and the WebSocket upgrade, a header of the site's own, and the
buffering and version settings. The converted site, served by lux in front of a backend that
echoes what it got, sends what nginx would have sent."""

import os
import subprocess
import sys

import harness
from harness import Server, contains, eq
from test_nginx2lux import CONVERTER, TOOL, lighttpd_accepts, lux_accepts

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "http_backend.py")
SITE = """\
server {
    listen 127.0.0.1:8081;
    server_name app.example.com;
    location / {
        proxy_pass http://127.0.0.1:@BACKEND@;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-App-Env staging;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_set_header X-Real-IP $remote_addr;
        proxy_buffering off;
    }
}
"""


class Backend(harness.ReadyApp):
    def __init__(self):
        self.port = harness.free_port()
        super().__init__([sys.executable, APP, "b", str(self.port)])


def convert(tmp, text):
    src = os.path.join(tmp, "site.conf")
    harness.write_file(src, text)
    cp = subprocess.run([sys.executable, TOOL, src], capture_output=True, text=True, timeout=30)
    eq(cp.returncode, 0, f"nginx2lux exit status ({cp.stderr.strip()})")
    return cp.stdout, [line.strip() for line in cp.stderr.splitlines()[1:]]


@harness.lux_only(CONVERTER)
def test_nginx2lux_proxy_set_header():
    with Backend() as backend, harness.TempDir() as t:
        out, left = convert(t.path, SITE.replace("@BACKEND@", str(backend.port)))
        eq(left, ["line 13: proxy_set_header X-Real-IP $remote_addr;"], "not converted")
        contains(out, 'proxy.header = ( "upgrade" => "enable" )', "the WebSocket upgrade")
        contains(out, 'setenv.set-request-header += ( "X-App-Env" => "staging" )',
                 "the site's own header")
        path = t.write("lux.conf", out)
        lux_accepts(path)
        lighttpd_accepts(path)
        conf = out.replace('server.bind = "127.0.0.1"\n', "").replace("server.port = 8081",
                                                                        "server.port = @PORT@")
        with Server(conf, base=False, files={"index.html": "x\n"}) as s:
            r = harness.get(s.port, "/echo", host="app.example.com")
            eq(r.status, 200, f"status through the proxy ({s.errorlog.strip()[-300:]})")
            seen = r.body.decode()
            for want in ("Host: app.example.com", "X-Forwarded-For: 127.0.0.1",
                         "X-Forwarded-Proto: http", "X-App-Env: staging"):
                contains(seen, want, "the request the backend got")
