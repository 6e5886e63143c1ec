/*
 * mod_rewrite: internal rewrites of the request URI (path and query) before it is handled.
 *
 * url.rewrite-once (and its old names url.rewrite and url.rewrite-final) and url.rewrite-repeat
 * match r->uri in uri_raw; the rewritten request starts over. After a "once" rule no rule of
 * this module applies to the request again; "repeat" rules may apply again to their own result
 * (a loop ends with a 500 when the pipeline's restart bound is reached).
 * url.rewrite-if-not-file and url.rewrite-repeat-if-not-file do the same once the physical path
 * is known, unless it names a regular file (a directory or a path with path-info does not).
 * A block that sets any of the first four keys replaces all four; likewise for the two
 * if-not-file keys. Within a block once rules are tried before repeat rules.
 */
#include <string.h>
#include <sys/stat.h>

#include "core/core_conf.h"
#include "http/stat_cache.h"
#include "lux/log.h"
#include "lux/req.h"
#include "mod/regex_subst.h"

typedef struct {
    const lux_subst_list *uri; /* [0, split) once, the rest repeat */
    const lux_subst_list *nf;
} rewrite_conf;

/* Per request, kept across restarts. */
typedef struct {
    int finished; /* a once rule applied */
} rewrite_state;

extern const lux_module lux_mod_rewrite;

static const char *const uri_keys[] = {"url.rewrite-once", "url.rewrite-final", "url.rewrite",
                                       "url.rewrite-repeat", NULL};
static const char *const nf_keys[] = {"url.rewrite-if-not-file",
                                      "url.rewrite-repeat-if-not-file", NULL};

static int parse_uri_rules(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    return lux_subst_parse(gen, v, uri_keys, 3, dst, err, el);
}

static int parse_nf_rules(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    return lux_subst_parse(gen, v, nf_keys, 1, dst, err, el);
}

#define URI(name)                                                                             \
    {name, LUX_D_CUSTOM, offsetof(rewrite_conf, uri), LUX_SCOPE_ANY, parse_uri_rules,         \
     sizeof(const lux_subst_list *)}
#define NF(name)                                                                              \
    {name, LUX_D_CUSTOM, offsetof(rewrite_conf, nf), LUX_SCOPE_ANY, parse_nf_rules,           \
     sizeof(const lux_subst_list *)}

static const lux_directive rewrite_directives[] = {
    URI("url.rewrite-once"),
    URI("url.rewrite-final"),
    URI("url.rewrite"),
    URI("url.rewrite-repeat"),
    NF("url.rewrite-if-not-file"),
    NF("url.rewrite-repeat-if-not-file"),
    {NULL, 0, 0, 0},
};

static rewrite_state *state(lux_req *r, int create) {
    void **slot = lux_req_mod_data(r, &lux_mod_rewrite);
    if (!slot)
        return NULL;
    if (!*slot && create) {
        rewrite_state *st = lux_pool_alloc(r->pool, sizeof *st);
        if (st)
            *st = (rewrite_state){0};
        *slot = st;
    }
    return *slot;
}

static lux_result rewrite(lux_req *r, const lux_subst_list *l) {
    const rewrite_state *st = state(r, 0);
    if (st && st->finished)
        return LUX_GO_ON;
    lux_subst_ctx ctx;
    lux_subst_req_ctx(r, l, &ctx);
    lux_str out;
    size_t rule = 0;
    int m = lux_subst_apply(l, r->uri.ptr, r->uri.len, &ctx, r->pool, &out, &rule);
    if (m == LUX_SUBST_NOMATCH || m == LUX_SUBST_EMPTY)
        return LUX_GO_ON;
    if (m == LUX_SUBST_ERROR) {
        lux_log(LUX_LOG_ERR, "mod_rewrite: matching or expansion failed for %.*s",
                (int)r->uri.len, r->uri.ptr);
        return LUX_ERROR;
    }
    if (out.len == 0 || out.ptr[0] != '/') {
        lux_log(LUX_LOG_ERR, "mod_rewrite: result \"%s\" of %.*s does not begin with '/'",
                out.ptr, (int)r->uri.len, r->uri.ptr);
        return LUX_ERROR;
    }
    rewrite_state *w = state(r, 1);
    if (!w)
        return LUX_ERROR;
    if (rule < l->split)
        w->finished = 1;
    int status = lux_req_set_uri(r, out.ptr, out.len);
    if (status) {
        lux_log(LUX_LOG_ERR, "mod_rewrite: invalid result \"%s\" of %.*s", out.ptr,
                (int)r->uri.len, r->uri.ptr);
        return lux_resp_error(r, status);
    }
    return LUX_RESTART;
}

static lux_result rewrite_uri_raw(lux_req *r, const void *conf) {
    const rewrite_conf *c = conf;
    return c->uri && c->uri->n ? rewrite(r, c->uri) : LUX_GO_ON;
}

/* Before the pipeline looks the path up (and redirects a directory to its slash form), as in
 * lighttpd: only a regular file stops these rules. */
static lux_result rewrite_physical(lux_req *r, const void *conf) {
    const rewrite_conf *c = conf;
    if (!c->nf || !c->nf->n || !r->physical.ptr)
        return LUX_GO_ON;
    const rewrite_state *st = state(r, 0);
    if (st && st->finished)
        return LUX_GO_ON;
    const lux_core_conf *core = r->confs[0];
    lux_file *f = lux_stat_cache_open(r->worker, r->physical.ptr, r->physical.len,
                                      core->follow_symlink);
    int regular = f && S_ISREG(f->mode);
    lux_file_unref(f);
    return regular ? LUX_GO_ON : rewrite(r, c->nf);
}

const lux_module lux_mod_rewrite = {
    .name = "mod_rewrite",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = rewrite_directives,
    .conf_size = sizeof(rewrite_conf),
    .uri_raw = rewrite_uri_raw,
    .physical = rewrite_physical,
};
