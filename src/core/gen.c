/* Building a config generation: modules, typed settings, patches, hook slots, listeners. */
#include "core/gen.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core_conf.h"
#include "core/module_load.h"
#include "lux/req.h"
#include "net/tls.h"

/* Modules lighttpd has that lux does not provide yet: named in a clear error. */
/* clang-format off */
static const char *const lighttpd_only_modules[] = {
    "mod_ajp13",
    "mod_gnutls",
    "mod_maxminddb",
    "mod_mbedtls",
    "mod_rrdtool",
    "mod_uploadprogress",
    "mod_usertrack",
    "mod_vhostdb",
    NULL, /* one name a line: a module that arrives removes one line */
};
/* clang-format on */

/* Always enabled, after the listed ones (lighttpd does the same). */
const char *const lux_gen_default_modules[] = {"mod_indexfile", "mod_dirlisting", "mod_staticfile",
                                               NULL};

struct lux_gen_cleanup {
    lux_gen_cleanup *next;
    void (*fn)(void *);
    void *ptr;
};

/* Errors of one build, "file:line: message" one a line, so that a config with several mistakes
 * needs one run to see them all. */
typedef struct {
    char *buf;
    size_t cap, len;
    unsigned n;
} gen_errors;

static void add_error(gen_errors *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_error(gen_errors *e, const char *file, int line, const char *fmt, ...) {
    e->n++;
    if (e->len + 1 >= e->cap)
        return;
    int k = e->len ? snprintf(e->buf + e->len, e->cap - e->len, "\n") : 0;
    if (file)
        k += snprintf(e->buf + e->len + k, e->cap - e->len - k, "%s:%d: ", file, line);
    e->len = e->len + (size_t)k < e->cap ? e->len + (size_t)k : e->cap - 1;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
    va_end(ap);
    if (m > 0)
        e->len = e->len + (size_t)m < e->cap ? e->len + (size_t)m : e->cap - 1;
}

static const size_t hook_offsets[LUX_HOOK_COUNT] = {
    [LUX_HOOK_URI_RAW] = offsetof(lux_module, uri_raw),
    [LUX_HOOK_URI_CLEAN] = offsetof(lux_module, uri_clean),
    [LUX_HOOK_DOCROOT] = offsetof(lux_module, docroot),
    [LUX_HOOK_PHYSICAL] = offsetof(lux_module, physical),
    [LUX_HOOK_PREPARE] = offsetof(lux_module, prepare),
    [LUX_HOOK_HANDLE] = offsetof(lux_module, handle),
    [LUX_HOOK_RESPONSE_START] = offsetof(lux_module, response_start),
    [LUX_HOOK_REQUEST_DONE] = offsetof(lux_module, request_done),
};

/* The hooks of h from *pos on, while they answer LUX_GO_ON. Out of line: the registers its loop
 * saves and restores are not spent on a phase with no hook left to run. */
__attribute__((noinline)) static lux_result run_hooks(lux_req *r, const lux_gen *g, lux_hook h,
                                                      unsigned *pos) {
    for (; *pos < g->nhooks[h]; ++*pos) {
        unsigned m = g->hooks[h][*pos];
        lux_result (*fn)(lux_req *, const void *);
        memcpy(&fn, (const char *)g->modules[m] + hook_offsets[h], sizeof fn);
        lux_result res = fn(r, r->confs[m]);
        if (res != LUX_GO_ON)
            return res;
    }
    return LUX_GO_ON;
}

lux_result lux_gen_run_hook_from(lux_req *r, lux_hook h, unsigned *pos) {
    const lux_gen *g = r->gen;
    if (*pos >= g->nhooks[h]) /* most phases have no hook in most configs */
        return LUX_GO_ON;
    return run_hooks(r, g, h, pos);
}

lux_result lux_gen_run_hook(lux_req *r, lux_hook h) {
    unsigned pos = 0;
    return lux_gen_run_hook_from(r, h, &pos);
}

static int add_callback(lux_gen *g, lux_gen_cleanup **list, void (*fn)(void *), void *ptr) {
    lux_gen_cleanup *c = lux_pool_alloc(&g->pool, sizeof *c);
    if (!c)
        return -1;
    *c = (lux_gen_cleanup){*list, fn, ptr};
    *list = c;
    return 0;
}

static void run_callbacks(const lux_gen_cleanup *c) {
    for (; c; c = c->next)
        c->fn(c->ptr);
}

int lux_gen_on_free(lux_gen *g, void (*fn)(void *), void *ptr) {
    return add_callback(g, &g->cleanups, fn, ptr);
}

int lux_gen_on_reopen(lux_gen *g, void (*fn)(void *), void *ptr) {
    return add_callback(g, &g->reopeners, fn, ptr);
}

void lux_gen_reopen(lux_gen *g) {
    run_callbacks(g->reopeners);
}

int lux_gen_on_watch(lux_gen *g, void (*fn)(void *), void *ptr) {
    return add_callback(g, &g->watchers, fn, ptr);
}

void lux_gen_watch(lux_gen *g) {
    run_callbacks(g->watchers);
}

const lux_keyval *lux_conf_keyvals(lux_gen *g, const lux_value *v, size_t *n, const char *usage,
                                   char *err, size_t el) {
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "%s", usage);
        return NULL;
    }
    lux_keyval *kv = lux_pool_alloc(&g->pool, (v->u.arr.len + 1) * sizeof *kv);
    if (!kv) {
        snprintf(err, el, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < v->u.arr.len; i++) {
        const lux_value *e = v->u.arr.items[i];
        if (!e->key || e->type != LUX_V_STRING) {
            snprintf(err, el, "%s", usage);
            return NULL;
        }
        kv[i] = (lux_keyval){{e->key, e->key_len}, {e->u.str.ptr, e->u.str.len}};
    }
    *n = v->u.arr.len;
    return kv;
}

int lux_parse_bool(const lux_value *v, int *out) {
    if (v->type == LUX_V_INT && (v->u.num == 0 || v->u.num == 1)) {
        *out = (int)v->u.num;
        return 0;
    }
    if (v->type != LUX_V_STRING)
        return -1;
    static const char *const yes[] = {"enable", "true", "1", "on", "yes", NULL};
    static const char *const no[] = {"disable", "false", "0", "off", "no", NULL};
    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(v->u.str.ptr, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v->u.str.ptr, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int parse_value(lux_gen *g, const lux_directive *d, const lux_value *v, void *dst, char *err,
                       size_t el) {
    switch (d->type) {
    case LUX_D_STRING:
        if (v->type == LUX_V_INT) {
            char num[32];
            int n = snprintf(num, sizeof num, "%lld", v->u.num);
            ((lux_str *)dst)->ptr = lux_pool_strndup(&g->pool, num, (size_t)n);
            ((lux_str *)dst)->len = (size_t)n;
            return 0;
        }
        if (v->type != LUX_V_STRING) {
            snprintf(err, el, "%s expects a string", d->name);
            return -1;
        }
        ((lux_str *)dst)->ptr = v->u.str.ptr;
        ((lux_str *)dst)->len = v->u.str.len;
        return 0;
    case LUX_D_INT: {
        long long n;
        char *end;
        if (v->type == LUX_V_INT) {
            n = v->u.num;
        } else if (v->type == LUX_V_STRING && v->u.str.len > 0) {
            errno = 0;
            n = strtoll(v->u.str.ptr, &end, 10);
            if (errno || *end) {
                snprintf(err, el, "%s expects an integer, got \"%s\"", d->name, v->u.str.ptr);
                return -1;
            }
        } else {
            snprintf(err, el, "%s expects an integer", d->name);
            return -1;
        }
        *(long *)dst = (long)n;
        return 0;
    }
    case LUX_D_BOOL:
        if (lux_parse_bool(v, dst) < 0) {
            snprintf(err, el, "%s expects \"enable\" or \"disable\"", d->name);
            return -1;
        }
        return 0;
    case LUX_D_STRLIST: {
        size_t n = v->type == LUX_V_ARRAY ? v->u.arr.len : 1;
        lux_strlist *l = lux_pool_alloc(&g->pool, sizeof *l + n * sizeof(lux_str));
        if (!l)
            goto oom;
        l->items = (lux_str *)(l + 1);
        l->n = n;
        for (size_t i = 0; i < n; i++) {
            const lux_value *e = v->type == LUX_V_ARRAY ? v->u.arr.items[i] : v;
            if (e->type != LUX_V_STRING) {
                snprintf(err, el, "%s expects a list of strings", d->name);
                return -1;
            }
            l->items[i].ptr = e->u.str.ptr;
            l->items[i].len = e->u.str.len;
        }
        *(const lux_strlist **)dst = l;
        return 0;
    }
    case LUX_D_CUSTOM:
        return d->parse(g, v, dst, err, el);
    case LUX_D_IGNORED:
        return 0;
    }
oom:
    snprintf(err, el, "out of memory");
    return -1;
}

size_t lux_directive_size(const lux_directive *d) {
    switch (d->type) {
    case LUX_D_STRING:
        return sizeof(lux_str);
    case LUX_D_INT:
        return sizeof(long);
    case LUX_D_BOOL:
        return sizeof(int);
    case LUX_D_STRLIST:
        return sizeof(void *);
    case LUX_D_CUSTOM:
        return d->size;
    case LUX_D_IGNORED:
        return 0;
    }
    return 0;
}

/* The i-th module linked in: the built-in ones, then the extra ones; NULL past the end. */
static const lux_module *linked_module(size_t i) {
    size_t n = 0;
    while (lux_builtin_modules[n])
        n++;
    if (i < n)
        return lux_builtin_modules[i];
    return lux_extra_modules ? lux_extra_modules[i - n] : NULL;
}

static const lux_module *find_builtin(const char *name) {
    const lux_module *m;
    for (size_t i = 0; (m = linked_module(i)); i++)
        if (strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

static int enable_module(lux_gen *g, const lux_module *m, char *err, size_t el) {
    for (size_t i = 0; i < g->nmodules; i++)
        if (g->modules[i] == m)
            return 0;
    if (m->api_version != LUX_MODULE_API_VERSION) {
        snprintf(err, el, "module %s was built for API version %u, lux has %u", m->name,
                 m->api_version, LUX_MODULE_API_VERSION);
        return -1;
    }
    if (g->nmodules == LUX_MAX_MODULES) {
        snprintf(err, el, "too many modules");
        return -1;
    }
    void *conf = lux_pool_alloc(&g->pool, m->conf_size ? m->conf_size : 1);
    if (!conf) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    memset(conf, 0, m->conf_size);
    if (m->conf_init)
        m->conf_init(conf);
    g->global_conf[g->nmodules] = conf;
    g->modules[g->nmodules++] = m;
    return 0;
}

static const lux_conf_kv *global_kv(const lux_conf_block *global, const char *key) {
    for (size_t i = 0; i < global->nkvs; i++)
        if (strcmp(global->kvs[i].key, key) == 0)
            return &global->kvs[i];
    return NULL;
}

static int is_lighttpd_only(const char *name) {
    for (size_t k = 0; lighttpd_only_modules[k]; k++)
        if (strcmp(lighttpd_only_modules[k], name) == 0)
            return 1;
    return 0;
}

/* server.modules-dir as the global block sets it; NULL when unset or not a string. */
static const char *config_modules_dir(const lux_conf_block *global) {
    const lux_conf_kv *kv = global_kv(global, "server.modules-dir");
    return kv && kv->value->type == LUX_V_STRING ? kv->value->u.str.ptr : NULL;
}

/* A module by name: built in, else loaded from the module directory. NULL with err. */
static const lux_module *find_module(const char *name, const char *modules_dir, char *err,
                                     size_t el) {
    const lux_module *m = find_builtin(name);
    if (m)
        return m;
    if (is_lighttpd_only(name) && !lux_module_available(name, modules_dir)) {
        snprintf(err, el, "module \"%s\" is not available in this version of lux", name);
        return NULL;
    }
    return lux_module_load(name, modules_dir, err, el);
}

/* One name of server.modules; a missing module is named where the list names it. */
static int enable_listed(lux_gen *g, const lux_conf_kv *kv, const lux_value *e,
                         const char *modules_dir, gen_errors *errs) {
    const char *file = e->file ? e->file : kv->file;
    int line = e->file ? e->line : kv->line;
    if (e->type != LUX_V_STRING) {
        add_error(errs, file, line, "server.modules expects a list of module names");
        return 0;
    }
    char msg[1024];
    const lux_module *m = find_module(e->u.str.ptr, modules_dir, msg, sizeof msg);
    if (!m) {
        add_error(errs, file, line, "%s", msg);
        return 0;
    }
    if (m != &lux_core_module && enable_module(g, m, msg, sizeof msg) < 0) {
        add_error(errs, file, line, "%s", msg);
        return -1;
    }
    return 0;
}

/* lighttpd loads mod_openssl by itself when an ssl.* key appears anywhere. */
static int uses_tls_keys(const lux_conf_tree *tree) {
    for (size_t i = 0; i < tree->nblocks; i++)
        for (size_t k = 0; k < tree->blocks[i]->nkvs; k++)
            if (strncasecmp(tree->blocks[i]->kvs[k].key, "ssl.", 4) == 0)
                return 1;
    return 0;
}

static int enable_modules(lux_gen *g, const lux_conf_block *global, gen_errors *errs) {
    char msg[256];
    if (enable_module(g, &lux_core_module, msg, sizeof msg) < 0) {
        add_error(errs, NULL, 0, "%s", msg);
        return -1;
    }
    const lux_conf_kv *kv = global_kv(global, "server.modules");
    const lux_value *list = kv ? kv->value : NULL;
    size_t n = list ? (list->type == LUX_V_ARRAY ? list->u.arr.len : 1) : 0;
    const char *modules_dir = config_modules_dir(global);
    for (size_t i = 0; i < n; i++)
        if (enable_listed(g, kv, list->type == LUX_V_ARRAY ? list->u.arr.items[i] : list,
                          modules_dir, errs) < 0)
            return -1;
    if (errs->n)
        return -1;
    if (uses_tls_keys(g->tree) && enable_module(g, &lux_mod_openssl, msg, sizeof msg) < 0) {
        add_error(errs, NULL, 0, "%s", msg);
        return -1;
    }
    for (size_t i = 0; lux_gen_default_modules[i]; i++)
        if (enable_module(g, find_builtin(lux_gen_default_modules[i]), msg, sizeof msg) < 0) {
            add_error(errs, NULL, 0, "%s", msg);
            return -1;
        }
    return 0;
}

static const lux_directive *find_directive(const lux_gen *g, const char *key, unsigned *mod) {
    for (unsigned i = 0; i < g->nmodules; i++)
        for (const lux_directive *d = g->modules[i]->directives; d && d->name; d++)
            if (strcasecmp(d->name, key) == 0) {
                *mod = i;
                return d;
            }
    return NULL;
}

/*
 * Settings that protect something: TLS, and who may see what. lighttpd ignores such a key with a
 * warning when its module is not loaded (only ssl.* loads mod_openssl by itself), and then serves
 * openly what the key protects; lux stops instead.
 */
static const struct {
    const char *prefix;
    const char *module;
} guarded_keys[] = {
    {"ssl.", "mod_openssl"},
    {"auth.backend.", "mod_authn_file"}, /* before "auth.": the longer prefix first */
    {"auth.", "mod_auth"},
    {"url.access-deny", "mod_access"},
    {"url.access-allow", "mod_access"},
};

static const lux_module *module_of_key(const char *key) {
    const lux_module *m;
    for (size_t i = 0; (m = linked_module(i)); i++)
        for (const lux_directive *d = m->directives; d && d->name; d++)
            if (strcasecmp(d->name, key) == 0)
                return m;
    return NULL;
}

/* The module a guarded key belongs to, or NULL when the key guards nothing. */
const char *lux_gen_guarding_module(const char *key) {
    for (size_t i = 0; i < sizeof guarded_keys / sizeof guarded_keys[0]; i++) {
        const char *prefix = guarded_keys[i].prefix;
        size_t plen = strlen(prefix);
        if (strncasecmp(key, prefix, plen) == 0 && (prefix[plen - 1] == '.' || !key[plen]))
            return guarded_keys[i].module;
    }
    return NULL;
}

/* A key nobody enabled knows: an error when it guards something, else a warning that says which
 * module would know it, as lighttpd users expect. */
static void unhandled_key(const lux_gen *g, const lux_conf_kv *kv, gen_errors *errs) {
    const char *module = lux_gen_guarding_module(kv->key);
    if (module) {
        const lux_module *m = find_builtin(module);
        if (m && lux_gen_module_index(g, m) >= 0)
            add_error(errs, kv->file, kv->line, "%s is not supported by %s in this version of lux",
                      kv->key, module);
        else if (m)
            add_error(errs, kv->file, kv->line,
                      "%s needs %s in server.modules (lux does not ignore an access rule)", kv->key,
                      module);
        else
            add_error(errs, kv->file, kv->line,
                      "%s needs %s, which this version of lux does not have yet", kv->key, module);
        return;
    }
    const lux_module *m = module_of_key(kv->key);
    if (m)
        fprintf(stderr, "%s:%d: warning: %s needs %s in server.modules; ignored\n", kv->file,
                kv->line, kv->key, m->name);
    else
        fprintf(stderr, "%s:%d: warning: unknown config key %s; ignored\n", kv->file, kv->line,
                kv->key);
}

static int is_variable(const char *key) {
    return strncmp(key, "var.", 4) == 0 || strncmp(key, "env.", 4) == 0;
}

static int in_socket_block(const lux_conf_block *b) {
    for (; b; b = b->parent)
        if (b->field == LUX_COND_SOCKET)
            return 1;
    return 0;
}

static int apply_block(lux_gen *g, const lux_conf_block *b, gen_errors *errs) {
    lux_block_patches *bp = NULL;
    if (b->id != 0) {
        bp = &g->blocks[g->nblocks];
        bp->block = b;
        bp->patches = lux_pool_alloc(&g->pool, (b->nkvs + 1) * sizeof *bp->patches);
        bp->npatches = 0;
        if (!bp->patches) {
            add_error(errs, NULL, 0, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < b->nkvs; i++) {
        const lux_conf_kv *kv = &b->kvs[i];
        if (is_variable(kv->key))
            continue;
        unsigned mod;
        const lux_directive *d = find_directive(g, kv->key, &mod);
        if (!d) {
            unhandled_key(g, kv, errs);
            continue;
        }
        unsigned scope = b->id == 0                            ? LUX_SCOPE_GLOBAL
                         : in_socket_block(b) && b->depth == 1 ? LUX_SCOPE_SOCKET
                                                               : LUX_SCOPE_COND;
        if (!(d->scope & scope)) {
            if (lux_gen_guarding_module(kv->key))
                add_error(errs, kv->file, kv->line,
                          "%s is not supported here in this version of lux (only globally%s)",
                          kv->key, d->scope & LUX_SCOPE_SOCKET ? " or in $SERVER[\"socket\"]" : "");
            else if (d->scope & LUX_SCOPE_GLOBAL && !(d->scope & LUX_SCOPE_SOCKET) &&
                     scope == LUX_SCOPE_SOCKET)
                fprintf(stderr,
                        "%s:%d: warning: %s is a global setting; ignored in "
                        "$SERVER[\"socket\"]\n",
                        kv->file, kv->line, kv->key);
            else
                fprintf(stderr,
                        "%s:%d: warning: %s can only be set globally; ignored "
                        "inside a condition\n",
                        kv->file, kv->line, kv->key);
            continue;
        }
        char msg[256];
        void *dst;
        if (b->id == 0) {
            dst = (char *)g->global_conf[mod] + d->offset;
        } else {
            dst = lux_pool_alloc(&g->pool, lux_directive_size(d) + 1);
            if (!dst) {
                add_error(errs, NULL, 0, "out of memory");
                return -1;
            }
        }
        if (d->type == LUX_D_IGNORED)
            continue;
        if (parse_value(g, d, kv->value, dst, msg, sizeof msg) < 0) {
            add_error(errs, kv->file, kv->line, "%s: %s", kv->key, msg);
            continue;
        }
        if (bp)
            bp->patches[bp->npatches++] = (lux_patch){mod, d, dst};
    }
    if (bp && bp->npatches)
        g->nblocks++;
    return 0;
}

static int add_listen(lux_gen *g, const char *spec, int is_main) {
    for (size_t i = 0; i < g->nlistens; i++)
        if (strcmp(g->listens[i].spec, spec) == 0)
            return 0;
    lux_listen_spec *l = lux_pool_alloc(&g->pool, (g->nlistens + 1) * sizeof *l);
    if (!l)
        return -1;
    if (g->nlistens)
        memcpy(l, g->listens, g->nlistens * sizeof *l);
    l[g->nlistens] =
        (lux_listen_spec){lux_pool_strndup(&g->pool, spec, strlen(spec)), is_main, NULL};
    g->listens = l;
    g->nlistens++;
    return l[g->nlistens - 1].spec ? 0 : -1;
}

static int collect_listens(lux_gen *g, char *err, size_t el) {
    const lux_core_conf *c = g->core;
    char spec[512];
    if (c->bind.ptr && strncmp(c->bind.ptr, "unix:", 5) == 0)
        snprintf(spec, sizeof spec, "%s", c->bind.ptr);
    else if (c->bind.ptr && c->bind.ptr[0] == '/') /* lighttpd: a path is a unix socket */
        snprintf(spec, sizeof spec, "unix:%s", c->bind.ptr);
    else if (c->bind.ptr && strchr(c->bind.ptr, ':') && c->bind.ptr[0] != '[')
        snprintf(spec, sizeof spec, "[%s]:%ld", c->bind.ptr, c->port);
    else
        snprintf(spec, sizeof spec, "%s:%ld", c->bind.ptr ? c->bind.ptr : "0.0.0.0", c->port);
    if (add_listen(g, spec, 1) < 0)
        goto oom;
    if (c->use_ipv6 && !c->bind.ptr) {
        snprintf(spec, sizeof spec, "[::]:%ld", c->port);
        if (add_listen(g, spec, 1) < 0)
            goto oom;
    }
    for (size_t i = 1; i < g->tree->nblocks; i++) {
        const lux_conf_block *b = g->tree->blocks[i];
        if (b->field != LUX_COND_SOCKET || b->op != LUX_OP_EQ)
            continue;
        if (b->depth != 1) {
            snprintf(err, el, "%s:%d: $SERVER[\"socket\"] must be at the top level", b->file,
                     b->line);
            return -1;
        }
        if (add_listen(g, b->pattern, 0) < 0)
            goto oom;
    }
    return 0;
oom:
    snprintf(err, el, "out of memory");
    return -1;
}

lux_gen *lux_gen_build(lux_conf_tree *tree, unsigned flags, char *err, size_t el) {
    lux_gen *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, el, "out of memory");
        lux_conf_free(tree);
        return NULL;
    }
    atomic_init(&g->refs, 1);
    g->flags = flags;
    static _Atomic uint64_t last_serial;
    g->serial = atomic_fetch_add_explicit(&last_serial, 1, memory_order_relaxed) + 1;
    g->tree = tree;
    lux_pool_init(&g->pool, 16384);
    const lux_conf_block *global = tree->blocks[0];
    char msg[512];
    gen_errors errs = {err, el, 0, 0};
    err[0] = '\0';
    if (enable_modules(g, global, &errs) < 0)
        goto fail;
    g->core = g->global_conf[0];
    g->blocks = lux_pool_alloc(&g->pool, tree->nblocks * sizeof *g->blocks);
    if (!g->blocks) {
        snprintf(err, el, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < tree->nblocks; i++) {
        const lux_conf_block *b = tree->blocks[i];
        if (b->field == LUX_COND_PHYSICAL_PATH || b->field == LUX_COND_PHYSICAL_EXISTING)
            g->has_physical_conds = 1;
        if (apply_block(g, b, &errs) < 0)
            goto fail;
    }
    if (errs.n)
        goto fail;
    for (unsigned i = 0; i < g->nmodules; i++) {
        const lux_module *m = g->modules[i];
        if (m->conf_finish && m->conf_finish(g, g->global_conf[i], msg, sizeof msg) < 0) {
            snprintf(err, el, "%s: %s", tree->main_file, msg);
            goto fail;
        }
        for (int h = 0; h < LUX_HOOK_COUNT; h++) {
            void *fn;
            memcpy(&fn, (const char *)m + hook_offsets[h], sizeof fn);
            if (fn)
                g->hooks[h][g->nhooks[h]++] = i;
        }
    }
    if (collect_listens(g, err, el) < 0)
        goto fail;
    if (lux_openssl_setup_listeners(g, err, el) < 0)
        goto fail;
    return g;
fail:
    lux_gen_unref(g);
    return NULL;
}

int lux_gen_test_only(const lux_gen *g) {
    return (g->flags & LUX_GEN_TEST_ONLY) != 0;
}

lux_gen *lux_gen_ref(lux_gen *g) {
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    return g;
}

void lux_gen_unref(lux_gen *g) {
    if (!g || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
        return;
    run_callbacks(g->cleanups);
    lux_pool_free(&g->pool);
    lux_conf_free(g->tree);
    free(g);
}

void lux_gen_listener_conf(const lux_gen *g, unsigned m, const char *listener, void *out,
                           size_t size) {
    memcpy(out, g->global_conf[m], size);
    for (size_t i = 0; i < g->nblocks; i++) {
        const lux_conf_block *b = g->blocks[i].block;
        if (b->field != LUX_COND_SOCKET || b->op != LUX_OP_EQ || b->depth != 1 ||
            strcmp(b->pattern, listener) != 0)
            continue;
        for (size_t k = 0; k < g->blocks[i].npatches; k++) {
            const lux_patch *p = &g->blocks[i].patches[k];
            if (p->module == m)
                memcpy((char *)out + p->dir->offset, p->value, lux_directive_size(p->dir));
        }
    }
}

int lux_gen_module_index(const lux_gen *g, const lux_module *m) {
    for (size_t i = 0; i < g->nmodules; i++)
        if (g->modules[i] == m)
            return (int)i;
    return -1;
}
