/*
 * mod_fastcgi: answer requests from FastCGI backends (lighttpd's mod_fastcgi).
 *
 *   fastcgi.server = ( ".php" => ( "php" => ( "socket" => "/run/php.sock" ),
 *                                  "php2" => ( "host" => "127.0.0.1", "port" => 9000 ) ),
 *                      "/app" => ( ( "host" => "127.0.0.1", "port" => 9001,
 *                                    "check-local" => "disable" ) ) )
 *   fastcgi.balance = "fair" | "round-robin" | "hash" | "sticky"
 *   fastcgi.map-extensions = ( ".php3" => ".php" )
 *   fastcgi.debug = 0
 *
 * A key starting with "/" matches URL paths with that prefix, any other key paths ending
 * with it. The backends of one key form a pool (upstream/upstream.h); the request is the
 * shared gateway's (upstream/gateway.h), with FastCGI records as its wire format
 * (upstream/fcgi.h): the CGI/1.1 environment as PARAMS, the body as STDIN, STDOUT as the
 * response, STDERR to the error log. Connections are kept alive (FCGI_KEEP_CONN) and reused
 * by the worker's next request to the same backend.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/gen.h"
#include "core/pool.h"
#include "http/cgi_env.h"
#include "http/stat_cache.h"
#include "lux/log.h"
#include "lux/req.h"
#include "mod/setenv_env.h"
#include "upstream/fcgi.h"
#include "upstream/gateway.h"
#include "upstream/procs.h"

#define DEFAULT_CONNECT_TIMEOUT 8

/* One key of fastcgi.server: what it matches and where such requests go. */
typedef struct {
    lux_str match; /* ".php" or "/prefix" */
    int prefix;
    int check_local;
    int strip_request_uri;
    int fix_root_scriptname;
    lux_str docroot; /* ptr NULL: the request's */
    lux_gw_conf gw;
} fcgi_target;

typedef struct {
    fcgi_target *targets;
    size_t n;
} fcgi_servers;

typedef struct {
    const lux_keyval *items;
    size_t n;
} fcgi_map;

typedef struct {
    fcgi_servers servers;
    lux_str balance;
    fcgi_map map;
    long debug;
} fcgi_conf;

extern const lux_module lux_mod_fastcgi;

/* ---- settings ------------------------------------------------------------------------------ */

static int str_opt(const lux_value *e, const char **out, char *err, size_t el) {
    if (e->type != LUX_V_STRING) {
        snprintf(err, el, "fastcgi.server: \"%s\" needs a string", e->key);
        return -1;
    }
    *out = e->u.str.ptr;
    return 0;
}

static int int_opt(const lux_value *e, long *out, char *err, size_t el) {
    char *end = NULL;
    if (e->type == LUX_V_INT)
        *out = (long)e->u.num;
    else if (e->type != LUX_V_STRING || (*out = strtol(e->u.str.ptr, &end, 10), *end) ||
             !e->u.str.len) {
        snprintf(err, el, "fastcgi.server: \"%s\" needs a number", e->key);
        return -1;
    }
    if (*out < 0) {
        snprintf(err, el, "fastcgi.server: \"%s\" must not be negative", e->key);
        return -1;
    }
    return 0;
}

static int bool_opt(const lux_value *e, int *out, char *err, size_t el) {
    if (lux_parse_bool(e, out) < 0) {
        snprintf(err, el, "fastcgi.server: \"%s\" needs \"enable\" or \"disable\"", e->key);
        return -1;
    }
    return 0;
}

/* Keys of lighttpd's process management that lux has no use for. */
static int ignored_key(const char *k) {
    static const char *const keys[] = {"min-procs", "max-load-per-proc", "kill-signal",
                                       "listen-backlog", "idle-timeout"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (!strcmp(k, keys[i]))
            return 1;
    return 0;
}

typedef struct {
    const char *host, *socket, *mode;
    long port, disable_time;
    lux_ups_procs_conf procs;
} host_opts;

static int copy_env_opt(lux_gen *gen, const lux_value *e, host_opts *h, char *err, size_t el) {
    lux_strlist *l = lux_pool_alloc(&gen->pool, sizeof *l);
    size_t n = e->type == LUX_V_ARRAY ? e->u.arr.len : 0;
    if (!l || !(l->items = lux_pool_alloc(&gen->pool, (n ? n : 1) * sizeof *l->items))) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    l->n = n;
    for (size_t i = 0; i < n; i++) {
        const lux_value *v = e->u.arr.items[i];
        if (v->type != LUX_V_STRING || v->key) {
            snprintf(err, el, "fastcgi.server: \"bin-copy-environment\" needs ( \"NAME\", ... )");
            return -1;
        }
        l->items[i] = (lux_str){v->u.str.ptr, v->u.str.len};
    }
    if (e->type != LUX_V_ARRAY) {
        snprintf(err, el, "fastcgi.server: \"bin-copy-environment\" needs ( \"NAME\", ... )");
        return -1;
    }
    h->procs.copy_env = l;
    return 0;
}

/* Options that say how lux starts the backend itself (bin-path). */
static int spawn_option(lux_gen *gen, const lux_value *e, host_opts *h, char *err, size_t el) {
    const char *k = e->key;
    if (!strcmp(k, "bin-path"))
        return str_opt(e, &h->procs.bin_path, err, el);
    if (!strcmp(k, "max-procs")) {
        if (int_opt(e, &h->procs.nprocs, err, el) < 0)
            return -1;
        if (h->procs.nprocs < 1 || h->procs.nprocs > 256) {
            snprintf(err, el, "fastcgi.server: \"max-procs\" must be from 1 to 256");
            return -1;
        }
        return 0;
    }
    if (!strcmp(k, "bin-environment")) {
        h->procs.env = lux_conf_keyvals(gen, e, &h->procs.nenv,
                                        "fastcgi.server: \"bin-environment\" needs "
                                        "( \"NAME\" => \"value\", ... )",
                                        err, el);
        return h->procs.env ? 0 : -1;
    }
    if (!strcmp(k, "bin-copy-environment"))
        return copy_env_opt(gen, e, h, err, el);
    return 1;
}

/* One option of a host entry; target options come from the first host of a key. */
static int host_option(lux_gen *gen, const lux_value *e, host_opts *h, fcgi_target *t, int first,
                       char *err, size_t el) {
    const char *k = e->key;
    const char *s;
    int b;
    if (!strcmp(k, "host"))
        return str_opt(e, &h->host, err, el);
    if (!strcmp(k, "port"))
        return int_opt(e, &h->port, err, el);
    if (!strcmp(k, "socket"))
        return str_opt(e, &h->socket, err, el);
    if (!strcmp(k, "disable-time"))
        return int_opt(e, &h->disable_time, err, el);
    if (!strcmp(k, "mode"))
        return str_opt(e, &h->mode, err, el);
    if (!strcmp(k, "connect-timeout"))
        return int_opt(e, &t->gw.connect_timeout, err, el);
    if (!strcmp(k, "read-timeout"))
        return int_opt(e, &t->gw.read_timeout, err, el);
    if (!strcmp(k, "write-timeout"))
        return int_opt(e, &t->gw.write_timeout, err, el);
    if (!strcmp(k, "docroot")) {
        if (str_opt(e, &s, err, el) < 0)
            return -1;
        if (first)
            t->docroot = (lux_str){s, strlen(s)};
        return 0;
    }
    int *flag = !strcmp(k, "check-local")           ? &t->check_local
                : !strcmp(k, "strip-request-uri")   ? &t->strip_request_uri
                : !strcmp(k, "fix-root-scriptname") ? &t->fix_root_scriptname
                                                    : NULL;
    if (flag) {
        if (bool_opt(e, &b, err, el) < 0)
            return -1;
        if (first)
            *flag = b;
        return 0;
    }
    int rc = spawn_option(gen, e, h, err, el);
    if (rc <= 0)
        return rc;
    if (ignored_key(k))
        return 0;
    if (!strcmp(k, "x-sendfile") || !strcmp(k, "x-sendfile-docroot") ||
        !strcmp(k, "allow-x-send-file"))
        snprintf(err, el, "fastcgi.server: \"%s\" is not supported yet", k);
    else
        snprintf(err, el, "fastcgi.server: unknown option \"%s\"", k);
    return -1;
}

static int host_opts_of(lux_gen *gen, const lux_value *hv, host_opts *h, fcgi_target *t, int first,
                        char *err, size_t el) {
    if (hv->type != LUX_V_ARRAY) {
        snprintf(err, el, "fastcgi.server: a backend must be ( \"host\" => ..., ... )");
        return -1;
    }
    *h = (host_opts){.disable_time = 1, .procs = {.nprocs = 4}};
    for (size_t i = 0; i < hv->u.arr.len; i++) {
        const lux_value *e = hv->u.arr.items[i];
        if (!e->key) {
            snprintf(err, el, "fastcgi.server: backend options are ( \"key\" => value, ... )");
            return -1;
        }
        if (host_option(gen, e, h, t, first, err, el) < 0)
            return -1;
    }
    if (h->mode && strcmp(h->mode, "responder")) {
        snprintf(err, el, "fastcgi.server: mode \"%s\" is not supported (only \"responder\")",
                 h->mode);
        return -1;
    }
    if (h->procs.bin_path && !h->socket) {
        snprintf(err, el, "fastcgi.server: \"bin-path\" needs a \"socket\" to listen on");
        return -1;
    }
    return 0;
}

/* The backends of one host entry: one, or max-procs processes lux starts. Returns how many
 * it filled in b, or -1. */
static long parse_host(lux_gen *gen, const lux_value *hv, lux_ups_backend *b, fcgi_target *t,
                       int first, char *err, size_t el) {
    host_opts h;
    if (host_opts_of(gen, hv, &h, t, first, err, el) < 0)
        return -1;
    char msg[200];
    long n = 1;
    if (h.procs.bin_path) {
        h.procs.socket = h.socket;
        n = h.procs.nprocs;
        if (lux_ups_procs_start(gen, &h.procs, b, msg, sizeof msg) < 0) {
            snprintf(err, el, "fastcgi.server: %s", msg);
            return -1;
        }
    } else if (lux_ups_backend_init(b, h.host, h.port, h.socket, msg, sizeof msg) < 0) {
        snprintf(err, el, "fastcgi.server: %s", msg);
        return -1;
    }
    for (long i = 0; i < n; i++)
        b[i].disable_time = h.disable_time;
    return n;
}

/* Backends a host entry makes: max-procs of them with bin-path. */
static size_t backends_of(const lux_value *hv) {
    const lux_value *bin = hv->type == LUX_V_ARRAY ? lux_value_find(hv, "bin-path") : NULL;
    const lux_value *max = bin ? lux_value_find(hv, "max-procs") : NULL;
    if (!bin)
        return 1;
    if (!max)
        return 4;
    long n = max->type == LUX_V_INT      ? (long)max->u.num
             : max->type == LUX_V_STRING ? strtol(max->u.str.ptr, NULL, 10)
                                         : 1;
    return n >= 1 && n <= 256 ? (size_t)n : 1;
}

static int parse_target(lux_gen *gen, const lux_value *v, fcgi_target *t, char *err, size_t el) {
    if (v->type != LUX_V_ARRAY || !v->u.arr.len) {
        snprintf(err, el, "fastcgi.server: \"%s\" needs ( \"name\" => ( \"host\" => ... ) )",
                 v->key);
        return -1;
    }
    t->match = (lux_str){v->key, v->key_len};
    t->prefix = v->key[0] == '/';
    t->check_local = 1;
    t->gw.connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    size_t total = 0;
    for (size_t i = 0; i < v->u.arr.len; i++)
        total += backends_of(v->u.arr.items[i]);
    t->gw.pool.backends = lux_pool_alloc(&gen->pool, total * sizeof(lux_ups_backend));
    if (!t->gw.pool.backends) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < v->u.arr.len; i++) {
        long got = parse_host(gen, v->u.arr.items[i], t->gw.pool.backends + n, t, i == 0, err, el);
        if (got < 0)
            return -1;
        n += (size_t)got;
    }
    t->gw.pool.n = n;
    lux_ups_pool_finish(&t->gw.pool);
    return 0;
}

static int parse_servers(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    fcgi_servers *s = dst;
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "fastcgi.server: expected ( \".ext\" => ( \"name\" => ( ... ) ) )");
        return -1;
    }
    s->n = v->u.arr.len;
    s->targets = lux_pool_alloc(&gen->pool, (s->n ? s->n : 1) * sizeof *s->targets);
    if (!s->targets) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    memset(s->targets, 0, (s->n ? s->n : 1) * sizeof *s->targets);
    for (size_t i = 0; i < s->n; i++) {
        const lux_value *e = v->u.arr.items[i];
        if (!e->key || !e->key_len) {
            snprintf(err, el, "fastcgi.server: expected ( \".ext\" => ( ... ) )");
            return -1;
        }
        if (parse_target(gen, e, &s->targets[i], err, el) < 0)
            return -1;
    }
    return 0;
}

static int parse_map(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    fcgi_map *m = dst;
    m->items = lux_conf_keyvals(
        gen, v, &m->n, "fastcgi.map-extensions: expected ( \".ext\" => \".mapped-ext\", ... )", err,
        el);
    return m->items ? 0 : -1;
}

static int conf_finish(lux_gen *gen, void *conf, char *err, size_t el) {
    fcgi_conf *c = conf;
    lux_ups_balance b;
    if (c->balance.ptr && lux_ups_balance_parse(c->balance.ptr, &b) < 0) {
        snprintf(err, el, "fastcgi.balance: \"%s\" is not fair, round-robin, hash or sticky",
                 c->balance.ptr);
        return -1;
    }
    return 0;
}

#define OFF(f) offsetof(fcgi_conf, f)
static const lux_directive fcgi_directives[] = {
    {"fastcgi.server", LUX_D_CUSTOM, OFF(servers), LUX_SCOPE_ANY, parse_servers,
     sizeof(fcgi_servers)},
    {"fastcgi.balance", LUX_D_STRING, OFF(balance), LUX_SCOPE_ANY},
    {"fastcgi.map-extensions", LUX_D_CUSTOM, OFF(map), LUX_SCOPE_ANY, parse_map, sizeof(fcgi_map)},
    {"fastcgi.debug", LUX_D_INT, OFF(debug), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

/* ---- the wire format ------------------------------------------------------------------------- */

#define REQUEST_ID 1

static int add_params(lux_req *r, const lux_cgi_env *env, lux_ups_buf *out) {
    lux_ups_buf params = {0};
    int rc = 0;
    for (size_t i = 0; i < env->n && rc == 0; i++) {
        const lux_cgi_var *v = &env->vars[i];
        rc = lux_fcgi_param(&params, v->name.ptr, v->name.len, v->value.ptr, v->value.len);
    }
    if (rc == 0 && params.len)
        rc = lux_fcgi_stream(out, LUX_FCGI_PARAMS, REQUEST_ID, params.data, params.len);
    if (rc == 0)
        rc = lux_fcgi_stream(out, LUX_FCGI_PARAMS, REQUEST_ID, NULL, 0);
    lux_ups_buf_free(&params);
    return rc;
}

static const fcgi_target *target_of(lux_req *r);

/* The environment, adjusted as the target's options ask. */
static int build_env(lux_req *r, const fcgi_target *t, lux_cgi_env *env) {
    if (lux_cgi_env_build(r, env) < 0 || lux_setenv_apply_env(r, env) < 0)
        return -1;
    int rc = 0;
    if (t->docroot.ptr) {
        lux_str script = r->path;
        if (r->pathinfo.len <= script.len)
            script.len -= r->pathinfo.len;
        char *fn = lux_req_printf(r, "%s%.*s", t->docroot.ptr, (int)script.len, script.ptr);
        rc |= lux_cgi_env_set(r, env, "DOCUMENT_ROOT", 13, t->docroot.ptr, t->docroot.len);
        rc |= fn ? lux_cgi_env_set(r, env, "SCRIPT_FILENAME", 15, fn, strlen(fn)) : -1;
    }
    if (t->prefix && t->strip_request_uri && r->target.len >= t->match.len &&
        !memcmp(r->target.ptr, t->match.ptr, t->match.len)) {
        size_t skip = t->match.len - (t->match.ptr[t->match.len - 1] == '/');
        rc |=
            lux_cgi_env_set(r, env, "REQUEST_URI", 11, r->target.ptr + skip, r->target.len - skip);
    }
    return rc;
}

static int fcgi_begin(lux_gw *g, lux_req *r, lux_ups_buf *out) {
    lux_fcgi_parser_init(lux_gw_state(g), REQUEST_ID);
    lux_cgi_env env;
    if (build_env(r, target_of(r), &env) < 0)
        return -1;
    if (lux_fcgi_begin(out, REQUEST_ID, LUX_FCGI_RESPONDER, 1) < 0)
        return -1;
    return add_params(r, &env, out);
}

static int fcgi_body(lux_gw *g, lux_ups_buf *out, const char *p, size_t len) {
    return lux_fcgi_stream(out, LUX_FCGI_STDIN, REQUEST_ID, p, len);
}

static lux_gw_ev fcgi_input(lux_gw *g, const char *buf, size_t len, size_t *used, const char **data,
                            size_t *dlen, int *keep) {
    lux_fcgi_parser *p = lux_gw_state(g);
    switch (lux_fcgi_parse(p, buf, len, used)) {
    case LUX_FCGI_EV_STDOUT:
        *data = p->data;
        *dlen = p->len;
        return LUX_GW_DATA;
    case LUX_FCGI_EV_STDERR:
        *data = p->data;
        *dlen = p->len;
        return LUX_GW_STDERR;
    case LUX_FCGI_EV_END:
        *keep = p->protocol_status == 0; /* FCGI_REQUEST_COMPLETE */
        return LUX_GW_END;
    case LUX_FCGI_EV_ERROR:
        return LUX_GW_ERROR;
    case LUX_FCGI_EV_MORE:
    default:
        return LUX_GW_MORE;
    }
}

static const lux_gw_proto fcgi_proto = {
    .name = "mod_fastcgi",
    .begin = fcgi_begin,
    .body = fcgi_body,
    .input = fcgi_input,
};

/* ---- matching -------------------------------------------------------------------------------- */

static int ends_with(const lux_str *s, const char *suffix, size_t len) {
    return s->len >= len && !memcmp(s->ptr + s->len - len, suffix, len);
}

static const fcgi_target *match(const fcgi_conf *c, const lux_str *path) {
    for (size_t i = 0; i < c->servers.n; i++) {
        const fcgi_target *t = &c->servers.targets[i];
        if (t->prefix ? path->len >= t->match.len && !memcmp(path->ptr, t->match.ptr, t->match.len)
                      : ends_with(path, t->match.ptr, t->match.len))
            return t;
    }
    for (size_t i = 0; i < c->map.n; i++) {
        const lux_keyval *m = &c->map.items[i];
        if (!ends_with(path, m->key.ptr, m->key.len))
            continue;
        for (size_t k = 0; k < c->servers.n; k++) {
            const fcgi_target *t = &c->servers.targets[k];
            if (!t->prefix && t->match.len == m->value.len &&
                !memcmp(t->match.ptr, m->value.ptr, m->value.len))
                return t;
        }
    }
    return NULL;
}

/* The target the request was matched to (begin runs again on a retry). */
static const fcgi_target *target_of(lux_req *r) {
    void **slot = lux_req_mod_data(r, &lux_mod_fastcgi);
    return slot ? *slot : NULL;
}

/* check-local disabled: the script is what the prefix names; the rest is PATH_INFO. */
static void map_virtual(lux_req *r, const fcgi_target *t) {
    if (!t->prefix)
        return;
    size_t keep = t->match.len;
    if (t->fix_root_scriptname && t->match.len == 1)
        keep = 0; /* "/" as the prefix: SCRIPT_NAME empty, the whole path is PATH_INFO */
    else if (t->match.ptr[t->match.len - 1] == '/')
        keep--;
    if (r->path.len > keep)
        r->pathinfo = (lux_str){r->path.ptr + keep, r->path.len - keep};
    else
        r->pathinfo = (lux_str){NULL, 0};
}

static lux_result fcgi_handle(lux_req *r, const void *conf) {
    const fcgi_conf *c = conf;
    if (!c->servers.n)
        return LUX_GO_ON;
    const fcgi_target *t = match(c, &r->path);
    if (!t)
        return LUX_GO_ON;
    if (t->check_local && (!r->file || !S_ISREG(r->file->mode)))
        return LUX_GO_ON; /* the static handler answers: 404 */
    if (!t->check_local)
        map_virtual(r, t);
    void **slot = lux_req_mod_data(r, &lux_mod_fastcgi);
    if (!slot)
        return LUX_ERROR;
    *slot = (void *)t;
    lux_gw_conf gw = t->gw;
    if (c->balance.ptr)
        lux_ups_balance_parse(c->balance.ptr, &gw.pool.balance);
    gw.debug = (int)c->debug;
    return lux_gw_start(r, &fcgi_proto, &gw, sizeof(lux_fcgi_parser));
}

const lux_module lux_mod_fastcgi = {
    .name = "mod_fastcgi",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = fcgi_directives,
    .conf_size = sizeof(fcgi_conf),
    .conf_finish = conf_finish,
    .handle = fcgi_handle,
};
