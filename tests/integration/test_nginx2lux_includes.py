"""tools/nginx2lux on configurations as distributions ship them: nginx.conf reaches its server
blocks through `include`, a PHP location pulls in snippets/fastcgi-php.conf (which includes
fastcgi.conf), and `.ht` files are refused with `deny all`. Debian's own files are converted
when nginx is installed; the rest of the checks use files written here."""

import os
import subprocess
import sys

import harness
from harness import Server, contains, eq, get
from test_nginx2lux import CONVERTER, TOOL, lighttpd_accepts, lux_accepts

DEBIAN_NGINX = "/etc/nginx"

# Debian's snippets/fastcgi-php.conf and the fastcgi.conf it includes (abridged to one of each
# kind of line), as a PHP site reaches them.
FASTCGI_PHP = """\
# regex to split $uri to $fastcgi_script_name and $fastcgi_path
fastcgi_split_path_info ^(.+?\\.php)(/.*)$;
# Check that the PHP script exists before passing it
try_files $fastcgi_script_name =404;
# Bypass the fact that try_files resets $fastcgi_path_info
set $path_info $fastcgi_path_info;
fastcgi_param PATH_INFO $path_info;
fastcgi_index index.php;
include fastcgi.conf;
"""
FASTCGI_CONF = """\
fastcgi_param  SCRIPT_FILENAME    $document_root$fastcgi_script_name;
fastcgi_param  QUERY_STRING       $query_string;
fastcgi_param  HTTPS              $https if_not_empty;
fastcgi_param  REDIRECT_STATUS    200;
fastcgi_param  APP_ENV            production;
"""
NGINX_CONF = """\
user www-data;
worker_processes auto;
pid /run/nginx.pid;
events {
    worker_connections 768;
}
http {
    client_body_temp_path /var/lib/nginx/body 1 2;
    proxy_temp_path /var/lib/nginx/proxy;
    include mime.types;
    include conf.d/*.conf;
    include sites-enabled/*;
}
"""
MIME_TYPES = "types {\n    text/html html htm;\n    text/css css;\n}\n"
PHP_SITE = """\
server {
    listen 80 default_server;
    root /var/www/html;
    index index.php index.html;
    location ~ \\.php$ {
        include snippets/fastcgi-php.conf;
        fastcgi_pass unix:/run/php/php-fpm.sock;
    }
    location ~ /\\.ht {
        deny all;
    }
}
"""
ACCESS_SITE = """\
server {
    listen 127.0.0.1:8081;
    root @DOCROOT@;
    location ~ /\\.ht {
        deny all;
    }
    location /private/ {
        allow 127.0.0.2;
        allow 10.0.0.0/8;
        deny all;
    }
    location /office/ {
        allow 127.0.0.0/8;
        deny all;
    }
}
"""


def run_tool(args):
    cp = subprocess.run([sys.executable, TOOL] + args, capture_output=True, text=True,
                        timeout=30)
    return cp.returncode, cp.stdout, cp.stderr


def not_converted(summary):
    return [line.strip() for line in summary.splitlines()[1:]]


def debian_tree(tmp):
    """An nginx configuration directory laid out as Debian's, with the PHP site enabled."""
    files = {"nginx.conf": NGINX_CONF, "mime.types": MIME_TYPES,
             "snippets/fastcgi-php.conf": FASTCGI_PHP, "fastcgi.conf": FASTCGI_CONF,
             "sites-available/default": PHP_SITE}
    for rel, text in files.items():
        harness.write_file(os.path.join(tmp, "nginx", rel), text)
    os.makedirs(os.path.join(tmp, "nginx", "conf.d"))
    os.makedirs(os.path.join(tmp, "nginx", "sites-enabled"))
    os.symlink("../sites-available/default", os.path.join(tmp, "nginx/sites-enabled/default"))
    return os.path.join(tmp, "nginx")


@harness.lux_only(CONVERTER)
def test_nginx2lux_follows_nginx_conf_includes():
    with harness.TempDir() as t:
        root = debian_tree(t.path)
        rc, out, summary = run_tool([os.path.join(root, "nginx.conf")])
        eq(rc, 0, f"nginx2lux exit status ({summary.strip()})")
        for want in ('server.username = "www-data"', 'server.pid-file = "/run/nginx.pid"',
                     'server.upload-dirs = ( "/var/lib/nginx/body" )',
                     'server.document-root = "/var/www/html"',
                     'fastcgi.server = ( ".php" => ( ( "socket" => "/run/php/php-fpm.sock" ) ) )',
                     'setenv.add-environment += ( "APP_ENV" => "production" )'):
            contains(out, want, "the converted nginx.conf")
        contains(out, f"# server ({root}/sites-enabled/default:1)", "where the server came from")
        eq(not_converted(summary), ["line 5: worker_connections 768; (nginx counts per worker "
                                    "process; lux's server.max-connections bounds the whole "
                                    "server)"], "not converted")
        path = t.write("lux.conf", out)
        lux_accepts(path)
        lighttpd_accepts(path)


@harness.lux_only(CONVERTER)
def test_nginx2lux_site_finds_snippets_in_the_parent_directory():
    with harness.TempDir() as t:
        root = debian_tree(t.path)
        rc, out, summary = run_tool([os.path.join(root, "sites-available/default")])
        eq(rc, 0, f"nginx2lux exit status ({summary.strip()})")
        eq(not_converted(summary), [], "not converted")
        contains(out, '$HTTP["url"] =~ "/\\.ht" {\n    url.access-deny = ( "" )\n}', "deny all")


@harness.lux_only(CONVERTER)
def test_nginx2lux_reports_a_missing_include_and_stops_a_cycle():
    with harness.TempDir() as t:
        site = t.write("site.conf", "server {\n    root /srv;\n    include nowhere.conf;\n"
                                    "    include none-*.conf;\n}\n")
        rc, out, summary = run_tool([site])
        eq(rc, 0, f"nginx2lux exit status ({summary.strip()})")
        eq(not_converted(summary), ["line 3: include nowhere.conf; (no such file)"],
           "not converted (a glob matching nothing is fine, as in nginx)")
        loop = t.write("loop.conf", "include loop.conf;\n")
        rc, _, summary = run_tool([loop])
        eq(rc, 1, "nginx2lux exit status for an include cycle")
        contains(summary, "includes nested more than", "the cycle reported")


@harness.lux_only(CONVERTER)
def test_nginx2lux_deny_all_refuses_as_nginx_does():
    """allow ADDRESS ...; deny all; becomes url.access-deny for every other client: from
    127.0.0.1, /private/ is refused and /office/ is not."""
    with harness.TempDir() as t:
        rc, out, summary = run_tool([t.write("site.conf", ACCESS_SITE)])
        eq(rc, 0, f"nginx2lux exit status ({summary.strip()})")
        eq(not_converted(summary), [], "not converted")
        conf = out.replace("server.port = 8081", "server.port = @PORT@")
        files = {name: "x\n" for name in (".htaccess", "private/a.txt", "office/a.txt",
                                          "index.html")}
        with Server(conf, base=False, files=files) as s:
            for path, status in (("/index.html", 200), ("/.htaccess", 403),
                                 ("/private/a.txt", 403), ("/office/a.txt", 200)):
                eq(get(s.port, path).status, status, path)


@harness.lux_only(CONVERTER)
def test_nginx2lux_debian_nginx_conf():
    """The nginx.conf Debian installs, with whatever sites it enables."""
    conf = os.path.join(DEBIAN_NGINX, "nginx.conf")
    if not os.path.isfile(conf):
        raise harness.Skip("nginx's Debian configuration is not installed")
    rc, out, summary = run_tool([conf])
    eq(rc, 0, f"nginx2lux exit status ({summary.strip()})")
    contains(out, "server.document-root", "a server block reached through include")
    left = [line for line in not_converted(summary) if "worker_connections" not in line]
    eq(left, [], "not converted")
    with harness.TempDir() as t:
        lux_accepts(t.write("lux.conf", out))
