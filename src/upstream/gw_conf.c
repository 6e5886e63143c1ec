/*
 * The settings every CGI-style gateway module shares (lighttpd's fastcgi.server, scgi.server and
 * their companions), and the handler that matches a request to them.
 */
#include "upstream/gw_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/gen.h"
#include "core/pool.h"
#include "http/stat_cache.h"
#include "mod/fastcgi_env.h"
#include "mod/setenv_env.h"
#include "net/worker.h"
#include "upstream/health.h"
#include "upstream/procs.h"
#include "upstream/ups_tls.h"

#define DEFAULT_CONNECT_TIMEOUT 8

static int str_opt(const lux_value *e, const char **out, char *err, size_t el) {
    if (e->type != LUX_V_STRING) {
        snprintf(err, el, "\"%s\" needs a string", e->key);
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
        snprintf(err, el, "\"%s\" needs a number", e->key);
        return -1;
    }
    if (*out < 0) {
        snprintf(err, el, "\"%s\" must not be negative", e->key);
        return -1;
    }
    return 0;
}

static int bool_opt(const lux_value *e, int *out, char *err, size_t el) {
    if (lux_parse_bool(e, out) < 0) {
        snprintf(err, el, "\"%s\" needs \"enable\" or \"disable\"", e->key);
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

/* What differs between the gateways' NAME.server: the module (logs, metrics) and the health
 * probes its backends understand. */
typedef struct {
    const char *module;
    lux_hc_probe probe; /* the default */
    unsigned probes;    /* 1 << lux_hc_probe of those allowed */
    int tls;            /* its backends may speak TLS */
} gw_kind;

static const gw_kind FASTCGI = {"mod_fastcgi", LUX_HC_FASTCGI,
                                1u << LUX_HC_FASTCGI | 1u << LUX_HC_CONNECT, 0};
static const gw_kind SCGI = {"mod_scgi", LUX_HC_CONNECT, 1u << LUX_HC_CONNECT, 0};
static const gw_kind SOCKPROXY = {"mod_sockproxy", LUX_HC_CONNECT, 1u << LUX_HC_CONNECT, 0};
static const gw_kind WSTUNNEL = {"mod_wstunnel", LUX_HC_CONNECT, 1u << LUX_HC_CONNECT, 0};
static const gw_kind PROXY = {"mod_proxy", LUX_HC_HTTP, 1u << LUX_HC_HTTP | 1u << LUX_HC_CONNECT,
                              1};

typedef struct {
    const char *host, *socket, *mode;
    long port, disable_time;
    lux_ups_timeouts timeouts;
    lux_ups_procs_conf procs;
    lux_gw_host *opts; /* in the generation's pool: the backends point to it */
    const gw_kind *kind;
    lux_hc_conf *health; /* NULL: no active health check */
    int tls;             /* "tls" => "enable" */
    int tls_keys;        /* any tls-* option was given */
    lux_ups_tls_conf tls_conf;
} host_opts;

/* ( "string", ... ) into *out. */
static int strlist_opt(lux_gen *gen, const lux_value *e, const lux_strlist **out, char *err,
                       size_t el) {
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
            snprintf(err, el, "\"%s\" needs ( \"...\", ... )", e->key);
            return -1;
        }
        l->items[i] = (lux_str){v->u.str.ptr, v->u.str.len};
    }
    if (e->type != LUX_V_ARRAY) {
        snprintf(err, el, "\"%s\" needs ( \"...\", ... )", e->key);
        return -1;
    }
    *out = l;
    return 0;
}

/* "strip-request-uri" => "/app": lighttpd's URL path prefix, kept without its trailing "/" as
 * lighttpd keeps it. Anything but a path is refused: lighttpd would take "enable" as a prefix
 * that never matches, which is never what its author meant. */
static int strip_opt(const lux_value *e, lux_str *out, char *err, size_t el) {
    const char *s;
    if (str_opt(e, &s, err, el) < 0)
        return -1;
    size_t len = strlen(s);
    if (len && s[0] != '/') {
        snprintf(err, el,
                 "\"strip-request-uri\" needs a URL path prefix such as \"/app\", not "
                 "\"%s\"",
                 s);
        return -1;
    }
    if (len && s[len - 1] == '/')
        len--;
    *out = len ? (lux_str){s, len} : (lux_str){NULL, 0};
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
            snprintf(err, el, "\"max-procs\" must be from 1 to 256");
            return -1;
        }
        return 0;
    }
    if (!strcmp(k, "bin-environment")) {
        h->procs.env = lux_conf_keyvals(gen, e, &h->procs.nenv,
                                        "\"bin-environment\" needs "
                                        "( \"NAME\" => \"value\", ... )",
                                        err, el);
        return h->procs.env ? 0 : -1;
    }
    if (!strcmp(k, "bin-copy-environment"))
        return strlist_opt(gen, e, &h->procs.copy_env, err, el);
    return 1;
}

/* The options of TLS to the backend (lux's own, for proxy.server): 0, 1 when k is none of them,
 * or -1. */
static int tls_option(const lux_value *e, host_opts *h, char *err, size_t el) {
    const char *k = e->key;
    if (strcmp(k, "tls") && strncmp(k, "tls-", 4))
        return 1;
    if (!h->kind->tls) {
        snprintf(err, el, "\"%s\": only proxy.server backends speak TLS", k);
        return -1;
    }
    lux_ups_tls_conf *c = &h->tls_conf;
    h->tls_keys |= strcmp(k, "tls") != 0;
    if (!strcmp(k, "tls"))
        return bool_opt(e, &h->tls, err, el);
    if (!strcmp(k, "tls-verify"))
        return bool_opt(e, &c->verify, err, el);
    const char **str = !strcmp(k, "tls-ca-file")          ? &c->ca_file
                       : !strcmp(k, "tls-server-name")    ? &c->server_name
                       : !strcmp(k, "tls-client-pemfile") ? &c->client_pemfile
                       : !strcmp(k, "tls-client-privkey") ? &c->client_privkey
                                                          : NULL;
    if (str)
        return str_opt(e, str, err, el);
    snprintf(err, el, "unknown option \"%s\"", k);
    return -1;
}

/* One option of a host entry (x-sendfile and its docroots are the target's). */
static int host_option(lux_gen *gen, const lux_value *e, host_opts *h, lux_gw_target *t, char *err,
                       size_t el) {
    const char *k = e->key;
    const char *s;
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
    if (!strcmp(k, "health-check")) {
        h->health = lux_pool_alloc(&gen->pool, sizeof *h->health);
        if (!h->health) {
            snprintf(err, el, "out of memory");
            return -1;
        }
        return lux_hc_conf_parse(e, h->kind->probe, h->kind->probes, h->health, err, el);
    }
    if (!strcmp(k, "connect-timeout"))
        return int_opt(e, &h->timeouts.connect, err, el);
    if (!strcmp(k, "read-timeout"))
        return int_opt(e, &h->timeouts.read, err, el);
    if (!strcmp(k, "write-timeout"))
        return int_opt(e, &h->timeouts.write, err, el);
    if (!strcmp(k, "docroot")) {
        if (str_opt(e, &s, err, el) < 0)
            return -1;
        h->opts->docroot = (lux_str){s, strlen(s)};
        return 0;
    }
    /* x-sendfile is the key's: the last host entry to set it wins */
    if (!strcmp(k, "x-sendfile-docroot"))
        return strlist_opt(gen, e, &t->gw.xsendfile_docroot, err, el);
    if (!strcmp(k, "strip-request-uri"))
        return strip_opt(e, &h->opts->strip_request_uri, err, el);
    int *flag = !strcmp(k, "check-local")           ? &h->opts->check_local
                : !strcmp(k, "fix-root-scriptname") ? &h->opts->fix_root_scriptname
                : !strcmp(k, "x-sendfile")          ? &t->gw.xsendfile
                : !strcmp(k, "allow-x-send-file")   ? &t->gw.xsendfile /* its older name */
                                                    : NULL;
    if (flag)
        return bool_opt(e, flag, err, el);
    int rc = spawn_option(gen, e, h, err, el);
    if (rc <= 0 || (rc = tls_option(e, h, err, el)) <= 0)
        return rc;
    if (ignored_key(k))
        return 0;
    snprintf(err, el, "unknown option \"%s\"", k);
    return -1;
}

static int host_opts_of(lux_gen *gen, const lux_value *hv, host_opts *h, lux_gw_target *t,
                        const gw_kind *kind, char *err, size_t el) {
    if (hv->type != LUX_V_ARRAY) {
        snprintf(err, el, "a backend must be ( \"host\" => ..., ... )");
        return -1;
    }
    *h = (host_opts){.disable_time = 1,
                     .timeouts = {.connect = DEFAULT_CONNECT_TIMEOUT},
                     .procs = {.nprocs = 4},
                     .kind = kind,
                     .tls_conf = {.verify = 1}};
    if (!(h->opts = lux_pool_alloc(&gen->pool, sizeof *h->opts))) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    *h->opts = (lux_gw_host){.check_local = 1};
    for (size_t i = 0; i < hv->u.arr.len; i++) {
        const lux_value *e = hv->u.arr.items[i];
        if (!e->key) {
            snprintf(err, el, "backend options are ( \"key\" => value, ... )");
            return -1;
        }
        if (host_option(gen, e, h, t, err, el) < 0)
            return -1;
    }
    if (h->mode && strcmp(h->mode, "responder") && strcmp(h->mode, "authorizer")) {
        snprintf(err, el, "mode \"%s\" is neither \"responder\" nor \"authorizer\"", h->mode);
        return -1;
    }
    if (h->mode && !strcmp(h->mode, "authorizer")) {
        if (kind != &FASTCGI) {
            snprintf(err, el, "mode \"authorizer\" is FastCGI's only");
            return -1;
        }
        t->gw.authorizer = 1;
    }
    if (h->procs.bin_path && !h->socket) {
        snprintf(err, el, "\"bin-path\" needs a \"socket\" to listen on");
        return -1;
    }
    if (h->tls_keys && !h->tls) {
        snprintf(err, el, "the \"tls-*\" options need \"tls\" => \"enable\"");
        return -1;
    }
    return 0;
}

/* The backends of one host entry: one, or max-procs processes lux starts. Returns how many
 * it filled in b, or -1. */
static long parse_host(lux_gen *gen, const lux_value *hv, lux_ups_backend *b, lux_gw_target *t,
                       const gw_kind *kind, char *err, size_t el) {
    host_opts h;
    if (host_opts_of(gen, hv, &h, t, kind, err, el) < 0)
        return -1;
    char msg[200];
    long n = 1;
    if (h.procs.bin_path) {
        h.procs.socket = h.socket;
        n = h.procs.nprocs;
        if (lux_ups_procs_start(gen, &h.procs, b, msg, sizeof msg) < 0) {
            snprintf(err, el, "%s", msg);
            return -1;
        }
    } else if (lux_ups_backend_init(b, h.host, h.port, h.socket, msg, sizeof msg) < 0) {
        snprintf(err, el, "%s", msg);
        return -1;
    }
    if (h.tls && !(b->tls = lux_ups_tls_new(gen, &h.tls_conf, b->host, err, el)))
        return -1;
    for (long i = 0; i < n; i++) {
        b[i].disable_time = h.disable_time;
        b[i].timeouts = h.timeouts;
        b[i].opts = h.opts;
        if (h.health && lux_health_add(gen, &b[i], h.health, kind->module, err, el) < 0)
            return -1;
    }
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

static int parse_target(lux_gen *gen, const lux_value *v, lux_gw_target *t, const gw_kind *kind,
                        char *err, size_t el) {
    if (v->type != LUX_V_ARRAY || !v->u.arr.len) {
        snprintf(err, el, "\"%s\" needs ( \"name\" => ( \"host\" => ... ) )", v->key);
        return -1;
    }
    t->match = (lux_str){v->key, v->key_len};
    t->prefix = v->key[0] == '/';
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
        long got = parse_host(gen, v->u.arr.items[i], t->gw.pool.backends + n, t, kind, err, el);
        if (got < 0)
            return -1;
        n += (size_t)got;
    }
    t->gw.pool.n = n;
    lux_ups_pool_finish(&t->gw.pool);
    return 0;
}

/* The value of NAME.server into s; 0, or -1 with a message in err. */
static int parse_servers(lux_gen *gen, const lux_value *v, lux_gw_servers *s, const gw_kind *kind,
                         char *err, size_t el) {
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "expected ( \".ext\" => ( \"name\" => ( ... ) ) )");
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
        if (!e->key) { /* "" matches every path */
            snprintf(err, el, "expected ( \".ext\" => ( ... ) )");
            return -1;
        }
        if (parse_target(gen, e, &s->targets[i], kind, err, el) < 0)
            return -1;
    }
    return 0;
}

int lux_gw_fastcgi_servers_parse(lux_gen *gen, const lux_value *v, void *dst, char *err,
                                 size_t el) {
    return parse_servers(gen, v, dst, &FASTCGI, err, el);
}

int lux_gw_scgi_servers_parse(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    return parse_servers(gen, v, dst, &SCGI, err, el);
}

int lux_gw_proxy_servers_parse(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    return parse_servers(gen, v, dst, &PROXY, err, el);
}

int lux_gw_sockproxy_servers_parse(lux_gen *gen, const lux_value *v, void *dst, char *err,
                                   size_t el) {
    return parse_servers(gen, v, dst, &SOCKPROXY, err, el);
}

int lux_gw_wstunnel_servers_parse(lux_gen *gen, const lux_value *v, void *dst, char *err,
                                  size_t el) {
    return parse_servers(gen, v, dst, &WSTUNNEL, err, el);
}

int lux_gw_map_parse(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    lux_gw_map *m = dst;
    m->items =
        lux_conf_keyvals(gen, v, &m->n, "expected ( \".ext\" => \".mapped-ext\", ... )", err, el);
    return m->items ? 0 : -1;
}

int lux_gw_settings_finish(const lux_gw_settings *c, const char *directive, char *err, size_t el) {
    lux_ups_balance b;
    if (c->balance.ptr && lux_ups_balance_parse(c->balance.ptr, &b) < 0) {
        snprintf(err, el, "%s: \"%s\" is not fair, round-robin, hash or sticky", directive,
                 c->balance.ptr);
        return -1;
    }
    return 0;
}

/* REQUEST_URI without the host entry's strip-request-uri prefix, as lighttpd strips it: only
 * where a "/" follows the prefix, so "/app" leaves "/application" and "/app?q" alone. */
static int strip_request_uri(lux_req *r, const lux_str *strip, lux_cgi_env *env) {
    const lux_str *t = &r->target;
    if (!strip->ptr || t->len <= strip->len || memcmp(t->ptr, strip->ptr, strip->len) ||
        t->ptr[strip->len] != '/')
        return 0;
    return lux_cgi_env_set(r, env, "REQUEST_URI", 11, t->ptr + strip->len, t->len - strip->len);
}

int lux_gw_env(const lux_gw *g, lux_req *r, lux_cgi_env *env) {
    if (lux_cgi_env_build(r, env) < 0 || lux_setenv_apply_env(r, env) < 0 ||
        lux_fastcgi_apply_env(r, env) < 0)
        return -1;
    const lux_gw_host *h = lux_gw_backend(g)->opts;
    int rc = 0;
    if (h->docroot.ptr) {
        lux_str script = r->path;
        if (r->pathinfo.len <= script.len)
            script.len -= r->pathinfo.len;
        char *fn = lux_req_printf(r, "%s%.*s", h->docroot.ptr, (int)script.len, script.ptr);
        rc |= lux_cgi_env_set(r, env, "DOCUMENT_ROOT", 13, h->docroot.ptr, h->docroot.len);
        rc |= fn ? lux_cgi_env_set(r, env, "SCRIPT_FILENAME", 15, fn, strlen(fn)) : -1;
    }
    return rc | strip_request_uri(r, &h->strip_request_uri, env);
}

static int ends_with(const lux_str *s, const char *suffix, size_t len) {
    return s->len >= len && !memcmp(s->ptr + s->len - len, suffix, len);
}

/* The target of c that path goes to: among the authorizers, or among the responders. With
 * suffixes_only, path is a file's and only extensions count ("/prefix" keys name URL paths). */
static const lux_gw_target *match(const lux_gw_settings *c, const lux_str *path, int authorizer,
                                  int suffixes_only) {
    for (size_t i = 0; i < c->servers.n; i++) {
        const lux_gw_target *t = &c->servers.targets[i];
        if (t->gw.authorizer != authorizer || (suffixes_only && t->prefix))
            continue;
        if (t->prefix ? path->len >= t->match.len && !memcmp(path->ptr, t->match.ptr, t->match.len)
                      : ends_with(path, t->match.ptr, t->match.len))
            return t;
    }
    for (size_t i = 0; i < c->map.n; i++) {
        const lux_keyval *m = &c->map.items[i];
        if (!ends_with(path, m->key.ptr, m->key.len))
            continue;
        for (size_t k = 0; k < c->servers.n; k++) {
            const lux_gw_target *t = &c->servers.targets[k];
            if (t->gw.authorizer == authorizer && !t->prefix && t->match.len == m->value.len &&
                !memcmp(t->match.ptr, m->value.ptr, m->value.len))
                return t;
        }
    }
    return NULL;
}

const lux_gw_target *lux_gw_match(const lux_gw_settings *c, const lux_str *path) {
    return match(c, path, 0, 0);
}

lux_gw_req *lux_gw_req_of(lux_req *r, const lux_module *m) {
    void **slot = lux_req_mod_data(r, m);
    if (!slot)
        return NULL;
    if (!*slot && (*slot = lux_req_alloc(r, sizeof(lux_gw_req))))
        memset(*slot, 0, sizeof(lux_gw_req));
    return *slot;
}

const lux_gw_target *lux_gw_target_of(lux_req *r, const lux_module *m) {
    lux_gw_req *q = lux_gw_req_of(r, m);
    return q ? q->target : NULL;
}

int lux_gw_keep_variable(lux_req *r, const lux_module *m, const char *name, size_t nlen,
                         const char *value, size_t vlen) {
    lux_gw_req *q = lux_gw_req_of(r, m);
    return q ? lux_cgi_env_set(r, &q->vars, name, nlen, value, vlen) : -1;
}

int lux_gw_apply_variables(lux_req *r, const lux_module *m, lux_cgi_env *env) {
    void **slot = lux_req_mod_data(r, m);
    const lux_gw_req *q = slot ? *slot : NULL;
    int rc = 0;
    for (size_t i = 0; q && i < q->vars.n && rc == 0; i++) {
        const lux_cgi_var *v = &q->vars.vars[i];
        rc = lux_cgi_env_set(r, env, v->name.ptr, v->name.len, v->value.ptr, v->value.len);
    }
    return rc;
}

/* check-local disabled: the script is what the prefix names; the rest is PATH_INFO. */
static void map_virtual(lux_req *r, const lux_gw_target *t, const lux_gw_host *h) {
    if (!t->prefix)
        return;
    size_t keep = t->match.len;
    if (h->fix_root_scriptname && t->match.len == 1)
        keep = 0; /* "/" as the prefix: SCRIPT_NAME empty, the whole path is PATH_INFO */
    else if (t->match.ptr[t->match.len - 1] == '/')
        keep--;
    if (r->path.len > keep)
        r->pathinfo = (lux_str){r->path.ptr + keep, r->path.len - keep};
    else
        r->pathinfo = (lux_str){NULL, 0};
}

/* The target r goes to: an authorizer first, once per request (as in lighttpd, the request
 * runs again once it allowed it), then the responders. */
static const lux_gw_target *choose(const lux_gw_settings *c, lux_gw_req *q, const lux_str *path,
                                   int suffixes_only) {
    const lux_gw_target *t = q->authorizer_ran ? NULL : match(c, path, 1, suffixes_only);
    if (t) {
        q->authorizer_ran = 1;
        return t;
    }
    return match(c, path, 0, suffixes_only);
}

/* The options of the backend the request will go to, as lighttpd decides check-local after
 * choosing the host; with none usable, the first host's (the request fails with 503 anyway). */
static const lux_gw_host *host_for(lux_req *r, const lux_ups_pool *p) {
    const lux_ups_backend *b = lux_ups_peek(r->worker->loop, p, r);
    return b ? b->opts : p->backends[0].opts;
}

lux_result lux_gw_handle(lux_req *r, const lux_gw_settings *c, const lux_module *m,
                         const lux_gw_proto *proto, size_t state_size, int local_files) {
    if (!c->servers.n)
        return LUX_GO_ON;
    lux_gw_req *q = lux_gw_req_of(r, m);
    if (!q)
        return LUX_ERROR;
    const lux_gw_target *t = choose(c, q, &r->path, 0);
    if (!t && r->pathinfo.len) /* "/x.php/more": the file's extension, as lighttpd matches it */
        t = choose(c, q, &r->physical, 1);
    if (!t)
        return LUX_GO_ON;
    lux_gw_conf gw = t->gw;
    if (c->balance.ptr)
        lux_ups_balance_parse(c->balance.ptr, &gw.pool.balance);
    gw.debug = (int)c->debug;
    const lux_gw_host *h = host_for(r, &gw.pool);
    if (local_files && h->check_local && (!r->file || !S_ISREG(r->file->mode))) {
        lux_ups_pass_turn(r->worker->loop, &gw.pool);
        return LUX_GO_ON; /* the static handler answers: 404 */
    }
    if (local_files && !h->check_local && !t->gw.authorizer)
        map_virtual(r, t, h); /* an authorizer sees the path as it is */
    q->target = t;
    q->host = h;
    return lux_gw_start(r, proto, &gw, state_size);
}
