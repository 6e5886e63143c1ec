/*
 * mod_redirect: answer with url.redirect-code (301) and a Location built from the first
 * url.redirect rule matching r->uri. It runs in uri_clean, after mod_rewrite's rewrites, as in
 * lighttpd; a rule with an empty replacement ends the search without redirecting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "lux/log.h"
#include "lux/req.h"
#include "mod/regex_subst.h"

typedef struct {
    const lux_subst_list *rules;
    long code;
} redirect_conf;

static const char *const redirect_keys[] = {"url.redirect", NULL};

static int parse_rules(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    return lux_subst_parse(gen, v, redirect_keys, 1, dst, err, el);
}

static int parse_code(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    long long n = -1;
    char *end = NULL;
    if (v->type == LUX_V_INT) {
        n = v->u.num;
    } else if (v->type == LUX_V_STRING && v->u.str.len) {
        n = strtoll(v->u.str.ptr, &end, 10);
        if (*end)
            n = -1;
    }
    if (n < 100 || n > 999) {
        snprintf(err, el, "expected an HTTP status code");
        return -1;
    }
    *(long *)dst = (long)n;
    return 0;
}

static const lux_directive redirect_directives[] = {
    {"url.redirect", LUX_D_CUSTOM, offsetof(redirect_conf, rules), LUX_SCOPE_ANY, parse_rules,
     sizeof(const lux_subst_list *)},
    {"url.redirect-code", LUX_D_CUSTOM, offsetof(redirect_conf, code), LUX_SCOPE_ANY, parse_code,
     sizeof(long)},
    {NULL, 0, 0, 0},
};

static void redirect_init(void *conf) {
    ((redirect_conf *)conf)->code = 301;
}

/* Control characters (a decoded ${decb64u:...} may hold any byte) cannot go into a header. */
static const char *header_safe(lux_req *r, lux_str *s) {
    size_t bad = 0;
    for (size_t i = 0; i < s->len; i++)
        bad += (unsigned char)s->ptr[i] < 0x20 || s->ptr[i] == 0x7f;
    if (!bad)
        return s->ptr;
    char *p = lux_pool_alloc(r->pool, s->len + 2 * bad + 1);
    if (!p)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < s->len; i++) {
        unsigned char c = (unsigned char)s->ptr[i];
        if (c < 0x20 || c == 0x7f)
            j += (size_t)sprintf(p + j, "%%%02X", c);
        else
            p[j++] = (char)c;
    }
    p[j] = '\0';
    s->len = j;
    return s->ptr = p;
}

static lux_result redirect_uri_clean(lux_req *r, const void *conf) {
    const redirect_conf *c = conf;
    if (!c->rules || !c->rules->n)
        return LUX_GO_ON;
    lux_subst_ctx ctx;
    lux_subst_req_ctx(r, c->rules, &ctx);
    lux_str loc;
    size_t rule;
    int m = lux_subst_apply(c->rules, r->uri.ptr, r->uri.len, &ctx, r->pool, &loc, &rule);
    if (m == LUX_SUBST_NOMATCH || m == LUX_SUBST_EMPTY)
        return LUX_GO_ON;
    if (m == LUX_SUBST_ERROR || !header_safe(r, &loc)) {
        lux_log(LUX_LOG_ERR, "mod_redirect: matching or expansion failed for %.*s",
                (int)r->uri.len, r->uri.ptr);
        return LUX_ERROR;
    }
    lux_resp_error(r, (int)c->code);
    if (lux_resp_header(r, "Location", 8, loc.ptr, loc.len) < 0)
        return LUX_ERROR;
    return LUX_HANDLED;
}

const lux_module lux_mod_redirect = {
    .name = "mod_redirect",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = redirect_directives,
    .conf_size = sizeof(redirect_conf),
    .conf_init = redirect_init,
    .uri_clean = redirect_uri_clean,
};
