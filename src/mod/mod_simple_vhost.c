/*
 * mod_simple_vhost: the document root is <server-root>/<host>/<document-root>, the host being
 * the request's Host without its port. When that is not a directory (or the request has no
 * Host), <server-root>/<default-host>/<document-root> is tried, and when that is not one
 * either, server.document-root stays. As in lighttpd, the module does nothing while
 * simple-vhost.server-root is unset or empty.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core_conf.h"
#include "core/pool.h"
#include "lux/log.h"
#include "lux/req.h"
#include "mod/vhost_path.h"

typedef struct {
    lux_str server_root;
    lux_str default_host;
    lux_str document_root;
    long debug;
} simple_vhost_conf;

#define OFF(f) offsetof(simple_vhost_conf, f)
static const lux_directive simple_vhost_directives[] = {
    {"simple-vhost.server-root", LUX_D_STRING, OFF(server_root), LUX_SCOPE_ANY},
    {"simple-vhost.default-host", LUX_D_STRING, OFF(default_host), LUX_SCOPE_ANY},
    {"simple-vhost.document-root", LUX_D_STRING, OFF(document_root), LUX_SCOPE_ANY},
    {"simple-vhost.debug", LUX_D_INT, OFF(debug), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};
#undef OFF

/* Append s to the path at p, with exactly one '/' between them; returns the new end. */
static char *join(char *p, const char *start, const char *s, size_t len) {
    while (len && *s == '/')
        s++, len--;
    if (p > start && p[-1] != '/')
        *p++ = '/';
    memcpy(p, s, len);
    return p + len;
}

/* <server-root>/<host>/<document-root> in the pool, if it is a directory; else NULL. */
static char *existing_root(lux_req *r, const simple_vhost_conf *c, const char *host, size_t hlen) {
    const lux_str *sr = &c->server_root, *dr = &c->document_root;
    char *path = lux_pool_alloc(r->pool, sr->len + hlen + dr->len + 4);
    if (!path)
        return NULL;
    memcpy(path, sr->ptr, sr->len);
    char *end = join(path + sr->len, path, host, hlen);
    end = dr->len ? join(end, path, dr->ptr, dr->len) : join(end, path, "", 0);
    *end = '\0';
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return path;
    if (c->debug)
        lux_log(LUX_LOG_ERR, "simple-vhost: %s is not a directory", path);
    return NULL;
}

static lux_result simple_vhost_docroot(lux_req *r, const void *conf) {
    const simple_vhost_conf *c = conf;
    if (!c->server_root.len)
        return LUX_GO_ON;
    char *root = NULL;
    if (r->host.len) {
        size_t hlen = vhost_host_without_port(r->host.ptr, r->host.len);
        if (vhost_name_safe(r->host.ptr, hlen))
            root = existing_root(r, c, r->host.ptr, hlen);
        else if (c->debug)
            lux_log(LUX_LOG_ERR, "simple-vhost: host \"%.*s\" is not a directory name", (int)hlen,
                    r->host.ptr);
    }
    if (!root &&
        (!c->default_host.len || vhost_name_safe(c->default_host.ptr, c->default_host.len)))
        root = existing_root(r, c, c->default_host.ptr ? c->default_host.ptr : "",
                             c->default_host.len);
    if (root)
        r->docroot = (lux_str){root, strlen(root)};
    return LUX_GO_ON;
}

const lux_module lux_mod_simple_vhost = {
    .name = "mod_simple_vhost",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = simple_vhost_directives,
    .conf_size = sizeof(simple_vhost_conf),
    .docroot = simple_vhost_docroot,
};
