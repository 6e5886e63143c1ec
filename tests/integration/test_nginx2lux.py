"""tools/nginx2lux: three realistic nginx sites converted to lighttpd.conf syntax. Every output
loads in lux (`lux -t`; a gateway module lux does not have yet is the only error allowed) and in
lighttpd; the static site, served by nginx and by lux from the converted file, gives the same
answers for a set of URLs."""

import os
import shutil
import signal
import subprocess
import sys
import urllib.parse

import harness
from harness import Server, check, contains, eq, get

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "nginx2lux")
LIGHTTPD = "/usr/sbin/lighttpd"
CONVERTER = "nginx2lux is lux's own"
GATEWAYS = ("mod_proxy", "mod_fastcgi")

STATIC = """\
server {
    listen 127.0.0.1:@PORT@;
    server_name localhost;
    root @DOCROOT@/;
    index index.html;
    gzip on;
    gzip_types text/css application/javascript;
    access_log @TMP@/access.log;
    error_log @TMP@/error.log;
    sendfile on;
    add_header X-Frame-Options DENY;

    location / {
        try_files $uri $uri/ /index.html;
    }
    location = /old {
        return 301 /new.html;
    }
    location ~ \\.secret$ {
        return 403;
    }
    location ^~ /assets/ {
        expires 30d;
    }
    rewrite ^/blog/(.*)$ /posts/$1 last;
}
"""

PHP = """\
server {
    listen 8080 default_server;
    listen [::]:8080 default_server;
    server_name blog.example.org www.blog.example.org;
    root /var/www/blog;
    index index.php index.html;
    client_max_body_size 16m;
    access_log /var/log/nginx/blog.access.log combined;

    location / {
        try_files $uri $uri/ /index.php?$args;
    }
    location ~ \\.php$ {
        include snippets/fastcgi-php.conf;
        fastcgi_pass unix:/run/php/php8.2-fpm.sock;
    }
    location ~ /\\.ht {
        return 403;
    }
    location = /favicon.ico {
        access_log off;
    }
}
"""

PROXY = """\
upstream app {
    server 127.0.0.1:3000;
    server 127.0.0.1:3001;
}
server {
    listen 80;
    server_name app.example.com;
    return 301 https://$host$request_uri;
}
server {
    listen 443 ssl;
    server_name app.example.com;
    ssl_certificate @TMP@/cert.pem;
    ssl_certificate_key @TMP@/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_timeout 30;
    location / {
        proxy_pass http://app;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
    location /static/ {
        root /srv/app;
    }
}
"""

SITE = {
    "index.html": "<h1>home</h1>\n",
    "about.html": "about\n",
    "new.html": "new page\n",
    "sub/index.html": "sub index\n",
    "posts/hello": "hello post\n",
    "assets/app.css": "body { color: red }\n",
    "x.secret": "do not serve\n",
}
URLS = ["/", "/index.html", "/about.html", "/missing", "/deep/missing/page", "/sub/",
        "/sub/index.html", "/old", "/x.secret", "/blog/hello", "/assets/app.css",
        "/about.html?x=1"]


def expand(text, tmp, docroot, port):
    return (text.replace("@TMP@", tmp).replace("@DOCROOT@", docroot)
            .replace("@PORT@", str(port)))


def convert(nginx_text, tmp):
    src = os.path.join(tmp, "nginx-site.conf")
    with open(src, "w") as f:
        f.write(nginx_text)
    cp = subprocess.run([sys.executable, TOOL, src], capture_output=True, text=True, timeout=30)
    eq(cp.returncode, 0, f"nginx2lux exit status ({cp.stderr.strip()})")
    contains(cp.stderr, "directives converted", "the summary on stderr")
    return cp.stdout, cp.stderr


def lux_accepts(conf_path):
    """lux -t passes, or fails only for a gateway module lux does not have yet."""
    cp = harness.run_bin(["-t", "-f", conf_path])
    if cp.returncode == 0:
        return
    errors = [line for line in cp.stderr.splitlines() if "warning" not in line]
    check(errors and all(any(f'"{g}"' in line for g in GATEWAYS) for line in errors),
          f"lux -t refused the converted configuration:\n{cp.stderr}")


def lighttpd_accepts(conf_path):
    if not os.access(LIGHTTPD, os.X_OK):
        return
    cp = subprocess.run([LIGHTTPD, "-t", "-f", conf_path], capture_output=True, text=True,
                        timeout=30)
    eq(cp.returncode, 0, f"lighttpd -t of the converted configuration ({cp.stderr.strip()})")


def self_signed(tmp):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=app.example.com", "-keyout", os.path.join(tmp, "key.pem"),
                    "-out", os.path.join(tmp, "cert.pem")], check=True, capture_output=True,
                   timeout=60)


@harness.lux_only(CONVERTER)
def test_nginx2lux_php_site():
    with harness.TempDir() as t:
        out, summary = convert(PHP, t.path)
        contains(out, 'fastcgi.server = ( ".php" => ( ( "socket" => "/run/php/php8.2-fpm.sock" )'
                 ' ) )', "the FastCGI backend")
        contains(out, 'url.rewrite-if-not-file += ( "^(?=/)[^?]*[^/?](\\?.*)?$" => '
                 '"/index.php?${url.query}" )', "try_files")
        contains(out, 'index-file.names = ( "index.php", "index.html" )', "index")
        contains(out, "server.max-request-size = 16384", "client_max_body_size")
        contains(out, "# nginx2lux: not converted (line 14): include snippets/fastcgi-php.conf;",
                 "a comment where a directive was not converted")
        contains(summary, "line 14: include snippets/fastcgi-php.conf;", "the summary")
        check(out.index('=~ "/\\.ht"') < out.index('=~ "\\.php$"'),
              "the first nginx regex location must come last (it wins in lighttpd)")
        path = t.write("lux.conf", out)
        lux_accepts(path)
        lighttpd_accepts(path)


@harness.lux_only(CONVERTER)
def test_nginx2lux_reverse_proxy_with_tls():
    with harness.TempDir() as t:
        self_signed(t.path)
        out, _ = convert(expand(PROXY, t.path, "", 0), t.path)
        contains(out, 'proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => 3000 ), '
                 '( "host" => "127.0.0.1", "port" => 3001 ) ) )', "the upstream's servers")
        contains(out, '$SERVER["socket"] == ":443" {\n    ssl.engine = "enable"\n'
                 f'    ssl.pemfile = "{t.path}/cert.pem"\n', "the TLS listener")
        contains(out, '$HTTP["scheme"] == "http" {\n    $HTTP["host"] == "app.example.com" {\n'
                 '        url.redirect += ( "^.*$" => "https://${url.authority}${url.path}${qsa}" )',
                 "the redirect to https, for plain http only")
        # Ports below 1024 need no privilege for -t, which opens no socket.
        path = t.write("lux.conf", out)
        lux_accepts(path)
        lighttpd_accepts(path)


def nginx_conf(tmp, site):
    user = "user root;\n" if os.geteuid() == 0 else ""
    temps = "".join(f"    {k}_temp_path {tmp}/{k}_temp;\n"
                    for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}daemon off;\nmaster_process off;\nworker_processes 1;\n"
            f"pid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log;\nevents {{}}\n"
            f"http {{\n    access_log off;\n{temps}    include {site};\n}}\n")


class Nginx:
    """nginx on a loopback port with the given site; stopped by PID."""

    def __init__(self, tmp, site_text):
        self.tmp = tmp
        site = os.path.join(tmp, "nginx-serve.conf")
        with open(site, "w") as f:
            f.write(site_text)
        self.conf = os.path.join(tmp, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(nginx_conf(tmp, site))
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(["nginx", "-p", self.tmp, "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        harness.track(self.proc)
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stderr.close()


def answer(port, url):
    r = get(port, url)
    loc = r.header("Location")
    return (r.status, r.body if r.status == 200 else None,
            urllib.parse.urlsplit(loc).path if loc else None)


@harness.lux_only(CONVERTER)
def test_nginx2lux_static_site_answers_as_nginx():
    if not shutil.which("nginx"):
        raise harness.Skip("nginx is not installed")
    with harness.TempDir() as t:
        docroot = os.path.join(t.path, "www")
        for rel, content in SITE.items():
            harness.write_file(os.path.join(docroot, rel), content)
        os.chmod(t.path, 0o755)
        nginx_port = harness.free_port()
        with Nginx(t.path, expand(STATIC, t.path, docroot, nginx_port)) as ngx:
            harness.poll(lambda: harness.port_accepts(nginx_port) or ngx.proc.poll() is not None,
                         timeout=10, what="nginx listening")
            check(ngx.proc.poll() is None, "nginx did not start: " + ngx.proc.stderr.read()
                  .decode(errors="replace"))
            want = {url: answer(nginx_port, url) for url in URLS}
        converted, _ = convert(expand(STATIC, t.path, docroot, 1), t.path)
        contains(converted, 'server.bind = "127.0.0.1"\nserver.port = 1\n', "the listener")
        conf = converted.replace("server.port = 1\n", "server.port = @PORT@\n")
        with Server(conf, base=False, tmp=t.path) as s:
            for url in URLS:
                eq(answer(s.port, url), want[url], f"GET {url}: lux (converted) vs nginx")
            r = get(s.port, "/about.html")
            eq(r.header("X-Frame-Options"), "DENY", "add_header")
            lux_accepts(s.conf_path)
            lighttpd_accepts(s.conf_path)
