/*
 * mod_setenv: add or replace request headers (in the uri_clean phase, so that later modules,
 * conditions and handlers see them), response headers (on every response of a request that got
 * that far, error pages included), and environment variables for CGI-like backends.
 *
 * add-request-header appends ", value" to a header the client sent (or adds it);
 * add-response-header adds another header line; the set-* forms replace every header of that
 * name, and an empty value removes it. The environment settings reach CGI scripts
 * (lux_setenv_apply_env, mod/setenv_env.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/gen.h"
#include "core/pool.h"
#include "http/request.h"
#include "lux/req.h"
#include "mod/setenv_env.h"

typedef struct {
    lux_str name;
    lux_str value;
} setenv_pair;

typedef struct {
    size_t n;
    setenv_pair *items;
} setenv_list;

typedef struct {
    const setenv_list *add_req, *set_req;
    const setenv_list *add_resp, *set_resp;
    const setenv_list *add_env, *set_env;
} setenv_conf;

static int parse_pairs(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el,
                       int is_header) {
    static const char usage[] = "expected a list like ( \"Name\" => \"value\" )";
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "%s", usage);
        return -1;
    }
    size_t n = v->u.arr.len;
    setenv_list *l = lux_pool_alloc(&gen->pool, sizeof *l + n * sizeof(setenv_pair));
    if (!l) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    l->items = (setenv_pair *)(l + 1);
    l->n = n;
    for (size_t i = 0; i < n; i++) {
        const lux_value *e = v->u.arr.items[i];
        if (!e->key || e->type != LUX_V_STRING) {
            snprintf(err, el, "%s", usage);
            return -1;
        }
        /* lighttpd only warns and sends the broken lines; lux refuses header injection. */
        if (is_header &&
            (!e->key_len || strpbrk(e->key, "\r\n: \t") || strpbrk(e->u.str.ptr, "\r\n"))) {
            snprintf(err, el,
                     "invalid header \"%s\": names may not contain blanks or colons, "
                     "nor names or values CR or LF",
                     e->key);
            return -1;
        }
        l->items[i] = (setenv_pair){{e->key, e->key_len}, {e->u.str.ptr, e->u.str.len}};
    }
    *(const setenv_list **)dst = l;
    return 0;
}

static int parse_headers(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    return parse_pairs(gen, v, dst, err, el, 1);
}

static int parse_env(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    return parse_pairs(gen, v, dst, err, el, 0);
}

#define OFF(f) offsetof(setenv_conf, f)
#define LIST sizeof(const setenv_list *)
static const lux_directive setenv_directives[] = {
    {"setenv.add-request-header", LUX_D_CUSTOM, OFF(add_req), LUX_SCOPE_ANY, parse_headers, LIST},
    {"setenv.set-request-header", LUX_D_CUSTOM, OFF(set_req), LUX_SCOPE_ANY, parse_headers, LIST},
    {"setenv.add-response-header", LUX_D_CUSTOM, OFF(add_resp), LUX_SCOPE_ANY, parse_headers, LIST},
    {"setenv.set-response-header", LUX_D_CUSTOM, OFF(set_resp), LUX_SCOPE_ANY, parse_headers, LIST},
    {"setenv.add-environment", LUX_D_CUSTOM, OFF(add_env), LUX_SCOPE_ANY, parse_env, LIST},
    {"setenv.set-environment", LUX_D_CUSTOM, OFF(set_env), LUX_SCOPE_ANY, parse_env, LIST},
    {NULL, 0, 0, 0},
};

static int name_eq(const lux_str *a, const lux_str *b) {
    return a->len == b->len && strncasecmp(a->ptr, b->ptr, a->len) == 0;
}

static lux_header *req_find(lux_req *r, const lux_str *name) {
    for (size_t i = 0; i < r->nheaders; i++)
        if (name_eq(&r->headers[i].name, name))
            return &r->headers[i];
    return NULL;
}

/* Drop every header named `name` from hs[from..n), keeping the order of the others. */
static size_t remove_named(lux_header *hs, size_t from, size_t n, const lux_str *name) {
    size_t k = from;
    for (size_t i = from; i < n; i++)
        if (!name_eq(&hs[i].name, name))
            hs[k++] = hs[i];
    return k;
}

static int req_append(lux_req *r, const lux_str *name, const lux_str *value) {
    lux_header *h = lux_pool_alloc(r->pool, (r->nheaders + 1) * sizeof *h);
    if (!h)
        return -1;
    if (r->nheaders)
        memcpy(h, r->headers, r->nheaders * sizeof *h);
    h[r->nheaders] = (lux_header){*name, *value};
    r->headers = h;
    r->nheaders++;
    return 0;
}

static int req_add(lux_req *r, const setenv_pair *p) {
    lux_header *h = req_find(r, &p->name);
    if (!h)
        return req_append(r, &p->name, &p->value);
    char *v = lux_req_printf(r, "%.*s, %s", (int)h->value.len, h->value.ptr, p->value.ptr);
    if (!v)
        return -1;
    h->value = (lux_str){v, h->value.len + 2 + p->value.len};
    return 0;
}

static int req_set(lux_req *r, const setenv_pair *p) {
    lux_header *h = req_find(r, &p->name);
    if (!h)
        return p->value.len ? req_append(r, &p->name, &p->value) : 0;
    size_t first = (size_t)(h - r->headers);
    if (!p->value.len) {
        r->nheaders = remove_named(r->headers, first, r->nheaders, &p->name);
        return 0;
    }
    h->value = p->value;
    r->nheaders = remove_named(r->headers, first + 1, r->nheaders, &p->name);
    return 0;
}

/* What uri_clean decided, for the rest of the request (restarts included). */
typedef struct {
    const setenv_conf *conf;
} setenv_state;

extern const lux_module lux_mod_setenv;

/*
 * Once per request, as lighttpd does: a restart (error-handler-404, a rewrite after the lookup)
 * runs uri_clean again, but the header list keeps the changes and must not get them twice. The
 * settings in force now also decide the response headers later, again as in lighttpd.
 */
static lux_result setenv_uri_clean(lux_req *r, const void *conf) {
    const setenv_conf *c = conf;
    void **slot = lux_req_mod_data(r, &lux_mod_setenv);
    if (!slot)
        return LUX_ERROR;
    if (*slot)
        return LUX_GO_ON;
    setenv_state *st = lux_pool_alloc(r->pool, sizeof *st);
    if (!st)
        return LUX_ERROR;
    st->conf = c;
    *slot = st;
    if ((!c->add_req || !c->add_req->n) && (!c->set_req || !c->set_req->n))
        return LUX_GO_ON;
    for (size_t i = 0; c->add_req && i < c->add_req->n; i++)
        if (req_add(r, &c->add_req->items[i]) < 0)
            return LUX_ERROR;
    for (size_t i = 0; c->set_req && i < c->set_req->n; i++)
        if (req_set(r, &c->set_req->items[i]) < 0)
            return LUX_ERROR;
    return lux_req_recheck_conditions(r) < 0 ? LUX_ERROR : LUX_GO_ON;
}

/* A request answered before mod_setenv's uri_clean (by a module listed earlier, say a 403 from
 * mod_access) gets no headers from it, as in lighttpd. */
static lux_result setenv_response_start(lux_req *r, const void *conf) {
    void **slot = lux_req_mod_data(r, &lux_mod_setenv);
    const setenv_state *st = slot ? *slot : NULL;
    if (!st)
        return LUX_GO_ON;
    const setenv_conf *c = st->conf;
    for (size_t i = 0; c->add_resp && i < c->add_resp->n; i++) {
        const setenv_pair *p = &c->add_resp->items[i];
        if (lux_resp_header(r, p->name.ptr, p->name.len, p->value.ptr, p->value.len) < 0)
            return LUX_ERROR;
    }
    for (size_t i = 0; c->set_resp && i < c->set_resp->n; i++) {
        const setenv_pair *p = &c->set_resp->items[i];
        r->nresp_headers = remove_named(r->resp_headers, 0, r->nresp_headers, &p->name);
        if (p->value.len &&
            lux_resp_header(r, p->name.ptr, p->name.len, p->value.ptr, p->value.len) < 0)
            return LUX_ERROR;
    }
    return LUX_GO_ON;
}

static int apply_list(lux_req *r, lux_cgi_env *env, const setenv_list *l) {
    for (size_t i = 0; l && i < l->n; i++)
        if (lux_cgi_env_set(r, env, l->items[i].name.ptr, l->items[i].name.len,
                            l->items[i].value.ptr, l->items[i].value.len) < 0)
            return -1;
    return 0;
}

int lux_setenv_apply_env(lux_req *r, lux_cgi_env *env) {
    void **slot = lux_req_mod_data(r, &lux_mod_setenv);
    const setenv_state *st = slot ? *slot : NULL;
    if (!st)
        return 0;
    return apply_list(r, env, st->conf->add_env) < 0 || apply_list(r, env, st->conf->set_env) < 0
               ? -1
               : 0;
}

const lux_module lux_mod_setenv = {
    .name = "mod_setenv",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = setenv_directives,
    .conf_size = sizeof(setenv_conf),
    .uri_clean = setenv_uri_clean,
    .response_start = setenv_response_start,
};
