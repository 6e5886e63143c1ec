/*
 * mod_evhost: the document root is evhost.path-pattern with parts of the request's host name
 * put in (see mod/vhost_path.h for %0..%9, %_ and %{n.m}). When the result is not a directory,
 * or the request has no Host, server.document-root stays.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "lux/log.h"
#include "lux/req.h"
#include "mod/vhost_path.h"

typedef struct {
    lux_str pattern;
} evhost_conf;

static int parse_pattern(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    if (v->type != LUX_V_STRING) {
        snprintf(err, el, "expected a string like \"/srv/www/%%0/%%3/htdocs/\"");
        return -1;
    }
    if (evhost_pattern_check(v->u.str.ptr, v->u.str.len, err, el) < 0)
        return -1;
    *(lux_str *)dst = (lux_str){v->u.str.ptr, v->u.str.len};
    return 0;
}

static const lux_directive evhost_directives[] = {
    {"evhost.path-pattern", LUX_D_CUSTOM, offsetof(evhost_conf, pattern), LUX_SCOPE_ANY,
     parse_pattern, sizeof(lux_str)},
    {NULL, 0, 0, 0},
};

static lux_result evhost_docroot(lux_req *r, const void *conf) {
    const evhost_conf *c = conf;
    if (!c->pattern.len || !r->host.len)
        return LUX_GO_ON;
    const lux_core_conf *core = r->confs[0];
    size_t hlen = vhost_host_without_port(r->host.ptr, r->host.len);
    if (!vhost_name_safe(r->host.ptr, hlen)) {
        if (core->log_request_handling)
            lux_log(LUX_LOG_DEBUG, "evhost: host \"%.*s\" is not a directory name", (int)hlen,
                    r->host.ptr);
        return LUX_GO_ON;
    }
    size_t n = evhost_expand(c->pattern.ptr, c->pattern.len, r->host.ptr, hlen, NULL, 0);
    char *root = lux_pool_alloc(r->pool, n + 2);
    if (!root)
        return LUX_ERROR;
    evhost_expand(c->pattern.ptr, c->pattern.len, r->host.ptr, hlen, root, n);
    if (!n || root[n - 1] != '/')
        root[n++] = '/';
    root[n] = '\0';
    struct stat st;
    if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
        if (core->log_request_handling)
            lux_log(LUX_LOG_DEBUG, "evhost: %s is not a directory", root);
        return LUX_GO_ON;
    }
    r->docroot = (lux_str){root, n};
    return LUX_GO_ON;
}

const lux_module lux_mod_evhost = {
    .name = "mod_evhost",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = evhost_directives,
    .conf_size = sizeof(evhost_conf),
    .docroot = evhost_docroot,
};
