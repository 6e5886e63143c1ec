/*
 * mod_access: url.access-deny / url.access-allow, suffix lists matched against the URL path.
 * Checked twice, as lighttpd does: on the clean path, and again just before the handler on the
 * path that names the file (PATH_INFO cut off, an index file appended), so that "/x.inc/" or an
 * index file cannot slip past a suffix.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "lux/log.h"
#include "lux/req.h"

typedef struct {
    const lux_strlist *deny;
    const lux_strlist *allow;
} access_conf;

/* A list of suffixes: ( "~", ".inc" ). Unlike plain string lists, lighttpd refuses a bare
 * string or "key" => "value" entries here, and so does lux. */
static int parse_suffixes(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "expected a list of suffixes like ( \"~\", \".inc\" )");
        return -1;
    }
    lux_strlist *l = lux_pool_alloc(&gen->pool, sizeof *l + v->u.arr.len * sizeof(lux_str));
    if (!l) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    l->items = (lux_str *)(l + 1);
    l->n = v->u.arr.len;
    for (size_t i = 0; i < v->u.arr.len; i++) {
        const lux_value *e = v->u.arr.items[i];
        if (e->key || e->type != LUX_V_STRING) {
            snprintf(err, el, "expected a list of suffixes like ( \"~\", \".inc\" )");
            return -1;
        }
        l->items[i] = (lux_str){e->u.str.ptr, e->u.str.len};
    }
    *(const lux_strlist **)dst = l;
    return 0;
}

static const lux_directive access_directives[] = {
    {"url.access-deny", LUX_D_CUSTOM, offsetof(access_conf, deny), LUX_SCOPE_ANY, parse_suffixes,
     sizeof(const lux_strlist *)},
    {"url.access-allow", LUX_D_CUSTOM, offsetof(access_conf, allow), LUX_SCOPE_ANY, parse_suffixes,
     sizeof(const lux_strlist *)},
    {NULL, 0, 0, 0},
};

static int has_suffix(const lux_strlist *l, const char *p, size_t len, int nocase) {
    for (size_t i = 0; i < l->n; i++) {
        const lux_str *s = &l->items[i];
        if (s->len > len)
            continue;
        const char *tail = p + len - s->len;
        if (nocase ? strncasecmp(tail, s->ptr, s->len) == 0 : memcmp(tail, s->ptr, s->len) == 0)
            return 1;
    }
    return 0;
}

/* An allow list, when set and non-empty, is all that counts; otherwise the deny list. */
static lux_result check(lux_req *r, const access_conf *c, const char *p, size_t len) {
    const lux_core_conf *core = r->confs[0];
    int nocase = core->force_lowercase_filenames; /* the file system is case-blind then */
    int allowed;
    if (c->allow && c->allow->n)
        allowed = has_suffix(c->allow, p, len, nocase);
    else if (c->deny && c->deny->n)
        allowed = !has_suffix(c->deny, p, len, nocase);
    else
        return LUX_GO_ON;
    if (allowed)
        return LUX_GO_ON;
    if (core->log_request_handling)
        lux_log(LUX_LOG_DEBUG, "url denied as %s %.*s",
                c->allow && c->allow->n ? "failed to match any from access_allow"
                                        : "we match access_deny",
                (int)len, p);
    return lux_resp_error(r, 403);
}

static lux_result access_uri_clean(lux_req *r, const void *conf) {
    if (!r->path.len)
        return LUX_GO_ON;
    return check(r, conf, r->path.ptr, r->path.len);
}

/* Before the handler: the path without PATH_INFO, with the index file mod_indexfile chose. */
static lux_result access_handle(lux_req *r, const void *conf) {
    size_t len = r->path.len;
    if (r->pathinfo.len && r->pathinfo.len < len &&
        memcmp(r->path.ptr + len - r->pathinfo.len, r->pathinfo.ptr, r->pathinfo.len) == 0)
        len -= r->pathinfo.len;
    if (!len)
        return LUX_GO_ON;
    return check(r, conf, r->path.ptr, len);
}

const lux_module lux_mod_access = {
    .name = "mod_access",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = access_directives,
    .conf_size = sizeof(access_conf),
    .uri_clean = access_uri_clean,
    .handle = access_handle,
};
