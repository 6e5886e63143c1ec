"""The debugging switches of the site modules: simple-vhost.debug names a host directory that is
missing, webdav.log-xml logs the XML bodies WebDAV answers with; both stay quiet unset."""

import harness
from harness import Server, check, contains, eq, get, lux_only
from test_mod_webdav import AREA, FILES as DAV_FILES, dav

VHOST = ('server.modules += ("mod_simple_vhost")\n'
         'simple-vhost.server-root = "@TMP@/vhosts"\n'
         'simple-vhost.document-root = "htdocs"\n')


@lux_only("the log lines are lux's own")
def test_simple_vhost_debug():
    with Server(VHOST + 'simple-vhost.debug = 1\n', files={"f.txt": "x\n"}) as s:
        eq(get(s.port, "/f.txt", host="nosuch.test").status, 200, "the server's docroot")
        harness.poll(lambda: "nosuch.test/htdocs is not a directory" in s.errorlog,
                     what="the debug line")
    with Server(VHOST, files={"f.txt": "x\n"}) as s:
        eq(get(s.port, "/f.txt", host="nosuch.test").status, 200, "the server's docroot")
        check("nosuch.test" not in s.errorlog, "nothing logged without simple-vhost.debug")


@lux_only("the log lines are lux's own")
def test_webdav_log_xml():
    conf = AREA + '$HTTP["url"] =^ "/dav/" { webdav.log-xml = "enable" }\n'
    with Server(conf, files=DAV_FILES) as s:
        eq(dav(s, "PROPFIND", "/dav/", {"Depth": "0"}).status, 207, "propfind")
        harness.poll(lambda: "webdav response:" in s.errorlog, what="the XML logged")
        contains(s.errorlog, "<D:multistatus", "the body")
    with Server(AREA, files=DAV_FILES) as s:
        eq(dav(s, "PROPFIND", "/dav/", {"Depth": "0"}).status, 207, "propfind")
        check("webdav response:" not in s.errorlog, "nothing logged without webdav.log-xml")
