"""The benchmark rows that need more than a file on disk: PHP through FastCGI (`fcgi`), a
reverse proxy (`proxy1k`), a 100 KiB page compressed per request or from a cache (`gz100k-*`),
and what lux's metrics endpoint costs (`metrics`). bench.py imports this module for their files,
config fragments, helper processes and answer checks; bench/README.md describes the rows.
"""

import gzip
import os
import random
import shutil
import subprocess

# php-cgi processes behind every server: lux and lighttpd start them (fastcgi.server bin-path,
# max-procs), nginx talks to one pool the driver starts with the same number of workers.
FCGI_PROCS = 4
PHP_CGI = shutil.which("php-cgi") or "/usr/bin/php-cgi"
HELLO_PHP = b'<?php echo "hello\\n";\n'
HELLO_BODY = b"hello\n"
# php-cgi exits after 500 requests by default (PHP_FCGI_MAX_REQUESTS); 0 keeps every process for
# the whole run, so no server pays for respawns the others do not.
PHP_ENV = {"PHP_FCGI_MAX_REQUESTS": "0"}
# The processes that do the PHP work: their CPU is reported beside the server's, not in it.
HELPER_COMM = "php-cgi"

GZ_PAGE = "p100k.html"
GZ_LEVEL = 6  # nginx's gzip_comp_level, and zlib's default that lux and lighttpd use
PROXY_FILE = "px/f1k.html"

# Metrics row: the status module and its Prometheus URL, the only difference between the two
# lux instances it compares.
METRICS_URL = "/metrics"
METRICS_CONF = ['server.modules += ( "mod_status" )', f'status.metrics-url = "{METRICS_URL}"']


def compressible_page(size, seed):
    """HTML-like words, compressible about ten to one, as a real page is."""
    words = [b"<p>", b"</p>", b"<div class=\"row\">", b"</div>", b"lux", b"benchmark",
             b"payload", b"compressed", b"<a href=\"/page\">link</a>", b"\n"]
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += rnd.choice(words) + b" "
    return bytes(out[:size])


def make_files(docroot, kib_text):
    """The rows' files: the PHP script, the 1 KiB file the proxy backend serves, and the 100 KiB
    page twice (one directory compressed per request, one from a cache) with the .gz that
    nginx's gzip_static sends."""
    def write(rel, data):
        path = os.path.join(docroot, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    write("fcgi/hello.php", HELLO_PHP)
    write(PROXY_FILE, kib_text("px1k"))
    page = compressible_page(100 * 1024, 100)
    write(f"gz/fly/{GZ_PAGE}", page)
    write(f"gz/cache/{GZ_PAGE}", page)
    # mtime 0 keeps the .gz byte-identical from run to run.
    write(f"gz/cache/{GZ_PAGE}.gz", gzip.compress(page, GZ_LEVEL, mtime=0))
    return page


def gz_path(variant):
    return f"/gz/{variant}/{GZ_PAGE}"


def lighttpd_lines(s, fcgi, proxy, gz):
    """lux and lighttpd: FastCGI under /fcgi/, the proxy under /px/, compression under /gz/
    (with a cache dir under /gz/cache/ only). Each sits in a condition on its prefix, so the
    other rows' requests skip it."""
    lines = []
    if fcgi:
        env = ", ".join(f'"{k}" => "{v}"' for k, v in
                        [("PHP_FCGI_CHILDREN", "0")] + sorted(PHP_ENV.items()))
        lines += [
            'server.modules += ( "mod_fastcgi" )',
            '$HTTP["url"] =^ "/fcgi/" {',
            '    fastcgi.server = ( ".php" => ( "php" => (',
            f'        "bin-path" => "{PHP_CGI}", "socket" => "{s["dir"]}/php.sock",',
            f'        "max-procs" => {FCGI_PROCS}, "bin-environment" => ( {env} ) ) ) )',
            '}',
        ]
    if proxy:
        lines += [
            'server.modules += ( "mod_proxy" )',
            '$HTTP["url"] =^ "/px/" {',
            '    proxy.server = ( "" => ( "backend" => ( "host" => "127.0.0.1",',
            f'                                          "port" => {s["proxy_port"]} ) ) )',
            '}',
        ]
    if gz:
        lines += [
            '$HTTP["url"] =^ "/gz/" {',
            '    deflate.mimetypes = ( "text/html" )',
            '    deflate.allowed-encodings = ( "br", "gzip" )',
            f'    $HTTP["url"] =^ "/gz/cache/" {{ deflate.cache-dir = "{s["dir"]}/gz-cache" }}',
            '}',
        ]
    return lines


def nginx_http_blocks(s, fcgi, proxy):
    """nginx's upstreams, kept alive: the php-cgi pool and the proxy backend."""
    out = ""
    if fcgi:
        out += f"""    upstream bench_php {{
        server 127.0.0.1:{s["php_port"]};
        keepalive {FCGI_PROCS};
    }}
"""
    if proxy:
        out += f"""    upstream bench_backend {{
        server 127.0.0.1:{s["proxy_port"]};
        keepalive 32;
    }}
"""
    return out


def nginx_locations(s, fcgi, proxy, gz):
    out = ""
    if fcgi:
        out += """        location /fcgi/ {
            fastcgi_pass bench_php;
            fastcgi_keep_conn on;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        }
"""
    if proxy:
        out += """        location /px/ {
            proxy_pass http://bench_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
"""
    if gz:
        # gzip (level 6, set for the whole server) compresses /gz/fly/ per request; under
        # /gz/cache/ gzip_static sends the .gz the driver wrote beside the page.
        out += """        location /gz/cache/ {
            gzip_static on;
        }
"""
    return out


def php_pool_argv(port, cpus):
    """nginx's FastCGI pool: one php-cgi master on a TCP port with FCGI_PROCS workers sharing its
    listening socket. A kept-alive connection holds its php-cgi worker until nginx closes it,
    so the workers must all take connections from one socket (see README)."""
    argv = [PHP_CGI, "-b", f"127.0.0.1:{port}"]
    return ["taskset", "-c", cpus] + argv if cpus else argv


def php_pool_env():
    return dict(os.environ, PHP_FCGI_CHILDREN=str(FCGI_PROCS), **PHP_ENV)


def backend_conf(d, port, docroot, user):
    """The proxy backend every front server shares: nginx, one worker, serving the 1 KiB file
    with keep-alive for whoever keeps connections open."""
    temps = "".join(f"    {t}_temp_path {d}/{t}_temp;\n"
                    for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""{user}daemon off;
master_process on;
worker_processes 1;
pid {d}/server.pid;
error_log {d}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    types {{
        text/html html;
    }}
    keepalive_timeout 300s;
    keepalive_requests 1000000;
{temps}    server {{
        listen 127.0.0.1:{port};
        root {docroot};
    }}
}}
"""


def decode(encoding, body):
    """The body as sent before the content coding; raises ValueError when it does not decode."""
    if encoding in ("gzip", "x-gzip"):
        try:
            return gzip.decompress(body)
        except (OSError, EOFError) as e:
            raise ValueError(f"the gzip body does not decode: {e}") from None
    if encoding == "br":
        r = subprocess.run(["brotli", "-d", "-c"], input=body, capture_output=True, timeout=30)
        if r.returncode != 0:
            raise ValueError("the br body does not decode: "
                             + r.stderr.decode(errors="replace").strip()[:120])
        return r.stdout
    raise ValueError(f"no decoder for Content-Encoding {encoding}")


def percent_diff(with_metrics, without):
    return 100.0 * (with_metrics - without) / without if without else None
