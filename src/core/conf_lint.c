/*
 * `lux --lint`: the parser reports what the finished tree no longer shows (repeated conditions,
 * values replaced with :=); the tree walk finds deprecated, ignored and differing directives and
 * repeated list elements. Findings are sorted by file and line before printing, so a config
 * spread over includes reads top to bottom.
 */
#include "core/conf_lint.h"

#include "core/conf_internal.h"
#include "core/core_conf.h"
#include "core/gen.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *file; /* owned by the tree, which outlives the findings */
    int line;
    size_t seq; /* discovery order, to keep sorting stable */
    char *text; /* "kind: message" */
} finding;

typedef struct {
    finding *v;
    size_t n, cap;
    int oom;
} findings;

__attribute__((format(printf, 4, 5))) static void add(findings *f, const char *file, int line,
                                                      const char *fmt, ...) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        finding *v = realloc(f->v, cap * sizeof *v);
        if (!v) {
            f->oom = 1;
            return;
        }
        f->v = v;
        f->cap = cap;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *text = strdup(buf);
    if (!text) {
        f->oom = 1;
        return;
    }
    f->v[f->n] = (finding){file ? file : "(config)", line, f->n, text};
    f->n++;
}

/* ---- the tables ---- */

/* Names lighttpd 1.4 deprecated, and what to write instead. */
static const struct {
    const char *key, *instead;
} deprecated[] = {
    {"url.rewrite", "use url.rewrite-once"},
    {"url.rewrite-final", "use url.rewrite-once"},
    {"server.dir-listing", "use dir-listing.activate"},
    {"compress.filetype", "use deflate.mimetypes (mod_deflate)"},
    {"compress.allowed-encodings", "use deflate.allowed-encodings (mod_deflate)"},
    {"compress.max-filesize", "use deflate.max-compress-size (mod_deflate)"},
    {"compress.max-loadavg", "use deflate.max-loadavg (mod_deflate)"},
    {"compress.cache-dir", "use deflate.cache-dir (mod_deflate)"},
    {"ssl.honor-cipher-order",
     "use ssl.openssl.ssl-conf-cmd = (\"Options\" => \"ServerPreference\")"},
    {"ssl.use-sslv2", "obsolete, ignored: SSL 2 is never offered"},
    {"ssl.use-sslv3", "obsolete, ignored: SSL 3 is never offered"},
    {"ssl.use-compression", "obsolete, ignored: TLS compression is never offered"},
    {"ssl.empty-fragments", "obsolete, ignored: it only protected SSL 3 and TLS 1.0"},
    {"ssl.dh-file", "obsolete, ignored: DHE uses the RFC 7919 groups"},
    {"ssl.ec-curve", "use ssl.openssl.ssl-conf-cmd = (\"Groups\" => \"...\")"},
    {"ssl.session-cache", "obsolete, ignored: sessions resume with tickets (ssl.stek-file)"},
};

/* Directives lux reads differently from lighttpd 1.4.69. Keep in step with the table under
 * "Directives that behave differently" in docs/coming-from-lighttpd.md (a test compares them). */
static const struct {
    const char *key, *how;
} differs[] = {
    {"server.max-worker", "worker threads in one process, not forked processes; 0 means one "
                          "per CPU"},
    {"server.http-parseopts", "header-strict and host-strict cannot be relaxed"},
    {"server.max-read-idle", "bounds the whole request head from its first byte"},
    {"server.max-keep-alive-idle", "read from the global block only"},
    {"server.max-write-idle", "read from the global block only"},
    {"server.error-handler", "not run for requests refused while their head is read"},
    {"expire.url", "a year is 365 days (lighttpd: 360)"},
    {"expire.mimetypes", "a year is 365 days (lighttpd: 360)"},
    {"ssi.exec",
     "off by default (lighttpd runs #exec unless disabled); bounded in count, output and time"},
    {"dir-listing.activate", "a listing stops at 10,000 entries"},
    {"deflate.allowed-encodings", "unset offers every coding (1.4.69: none)"},
    {"setenv.add-response-header", "Content-Length, Transfer-Encoding and Connection are dropped"},
    {"ssl.verifyclient.activate", "not inside $HTTP[\"host\"]"},
};

static const char *list_item_text(const lux_value *e) {
    return e->type == LUX_V_STRING && !e->key ? e->u.str.ptr : NULL;
}

/* What the whole configuration decides about modules, for checking each key against. */
typedef struct {
    const lux_conf_kv *modules; /* server.modules of the global block, or NULL */
    int tls;                    /* an ssl.* key anywhere enables mod_openssl by itself */
} module_set;

static const lux_directive *builtin_directive(const char *key, const lux_module **owner) {
    for (const lux_module *const *m = lux_builtin_modules; *m; m++)
        for (const lux_directive *d = (*m)->directives; d && d->name; d++)
            if (strcasecmp(d->name, key) == 0) {
                *owner = *m;
                return d;
            }
    return NULL;
}

static int is_builtin_module(const char *name) {
    for (const lux_module *const *m = lux_builtin_modules; *m; m++)
        if (strcmp((*m)->name, name) == 0)
            return 1;
    return 0;
}

static size_t module_count(const module_set *ms) {
    if (!ms->modules)
        return 0;
    const lux_value *v = ms->modules->value;
    return v->type == LUX_V_ARRAY ? v->u.arr.len : 1;
}

static const lux_value *module_entry(const module_set *ms, size_t i) {
    const lux_value *v = ms->modules->value;
    return v->type == LUX_V_ARRAY ? v->u.arr.items[i] : v;
}

static int module_listed(const module_set *ms, const char *name) {
    for (size_t i = 0; i < module_count(ms); i++) {
        const char *s = list_item_text(module_entry(ms, i));
        if (s && strcmp(s, name) == 0)
            return 1;
    }
    return 0;
}

/* As a generation enables modules: the core, the listed ones, mod_openssl for any ssl.* key,
 * and the defaults. */
static int module_enabled(const module_set *ms, const lux_module *m) {
    if (m == &lux_core_module || (ms->tls && strcmp(m->name, "mod_openssl") == 0))
        return 1;
    for (size_t i = 0; lux_gen_default_modules[i]; i++)
        if (strcmp(m->name, lux_gen_default_modules[i]) == 0)
            return 1;
    return module_listed(ms, m->name);
}

/* Whether any enabled module takes the key (mod_compress shares mod_deflate's directives). */
static int directive_enabled(const module_set *ms, const char *key) {
    for (const lux_module *const *m = lux_builtin_modules; *m; m++)
        for (const lux_directive *d = (*m)->directives; d && d->name; d++)
            if (strcasecmp(d->name, key) == 0 && module_enabled(ms, *m))
                return 1;
    return 0;
}

/* A key named after a listed module lux does not have built in ("kv.size" for mod_kv): that
 * module, loaded from the module directory, knows its own keys. */
static int key_of_loadable_module(const module_set *ms, const char *key) {
    for (size_t i = 0; i < module_count(ms); i++) {
        const char *s = list_item_text(module_entry(ms, i));
        if (!s || strncmp(s, "mod_", 4) != 0 || is_builtin_module(s))
            continue;
        size_t n = strlen(s + 4);
        if (strncasecmp(key, s + 4, n) == 0 && key[n] == '.')
            return 1;
    }
    return 0;
}

/* What lux -t only warns about (or stops on, for a key that would guard access or TLS): a key
 * no module has, and a key whose module server.modules does not load. Returns whether a loaded
 * module takes the key. */
static int check_module_of_key(findings *f, const module_set *ms, const lux_conf_kv *kv) {
    const lux_module *owner = NULL;
    const lux_directive *d = builtin_directive(kv->key, &owner);
    const char *guard = lux_gen_guarding_module(kv->key);
    if (!d && !key_of_loadable_module(ms, kv->key)) {
        if (guard)
            add(f, kv->file, kv->line,
                "unsupported: %s is not a directive lux knows; lux refuses to start with it "
                "(it would guard access)",
                kv->key);
        else
            add(f, kv->file, kv->line, "ignored: %s is not a directive lux knows", kv->key);
        return 0;
    }
    if (d && !directive_enabled(ms, kv->key)) {
        if (guard)
            add(f, kv->file, kv->line,
                "unsupported: %s needs %s in server.modules; lux refuses to start without it "
                "(it would guard access)",
                kv->key, owner->name);
        else
            add(f, kv->file, kv->line, "ignored: %s needs %s in server.modules", kv->key,
                owner->name);
        return 0;
    }
    return 1;
}

/* ---- what the parser reports ---- */

static void on_reopened(void *arg, const lux_conf_block *earlier, const char *file, int line) {
    char lhs[128];
    lux_conf_cond_lhs(earlier, lhs, sizeof lhs);
    add(arg, file, line,
        "shadowed: %s %s \"%s\" repeats the condition at %s:%d; both bodies "
        "make one block",
        lhs, lux_conf_op_text(earlier->op), earlier->pattern, earlier->file, earlier->line);
}

static void on_replaced(void *arg, const lux_conf_kv *earlier, const char *file, int line,
                        int same_body) {
    if (same_body)
        add(arg, file, line,
            "duplicate: %s is set again in this block (first at %s:%d); only "
            "the last value applies",
            earlier->key, earlier->file, earlier->line);
    else
        add(arg, file, line,
            "shadowed: %s replaces the value set at %s:%d under the same "
            "condition, which can never apply",
            earlier->key, earlier->file, earlier->line);
}

/* ---- the tree ---- */

/* An unkeyed string listed twice in one list (server.modules, index-file.names, ...). */
static void check_repeats(findings *f, const lux_conf_kv *kv) {
    const lux_value *v = kv->value;
    if (v->type != LUX_V_ARRAY)
        return;
    for (size_t i = 1; i < v->u.arr.len; i++) {
        const char *s = list_item_text(v->u.arr.items[i]);
        for (size_t j = 0; s && j < i; j++) {
            const char *t = list_item_text(v->u.arr.items[j]);
            if (t && strcmp(s, t) == 0) {
                const lux_value *e = v->u.arr.items[i];
                add(f, e->file ? e->file : kv->file, e->file ? e->line : kv->line,
                    "duplicate: \"%s\" is listed twice in %s", s, kv->key);
                break;
            }
        }
    }
}

static void check_modules(findings *f, const lux_conf_kv *kv) {
    if (strcasecmp(kv->key, "server.modules") != 0 || kv->value->type != LUX_V_ARRAY)
        return;
    for (size_t i = 0; i < kv->value->u.arr.len; i++) {
        const lux_value *e = kv->value->u.arr.items[i];
        const char *s = list_item_text(e);
        const char *file = e->file ? e->file : kv->file;
        int line = e->file ? e->line : kv->line;
        if (s && strcmp(s, "mod_compress") == 0)
            add(f, file, line, "deprecated: mod_compress: use mod_deflate");
        else if (s && !is_builtin_module(s))
            add(f, file, line,
                "unsupported: %s is not built into lux; start-up needs %s.so in the module "
                "directory",
                s, s);
    }
}

static void check_key(findings *f, const module_set *ms, const lux_conf_block *b,
                      const lux_conf_kv *kv) {
    if (strncmp(kv->key, "var.", 4) == 0 || strncmp(kv->key, "env.", 4) == 0)
        return;
    for (size_t i = 0; i < sizeof deprecated / sizeof deprecated[0]; i++)
        if (strcasecmp(kv->key, deprecated[i].key) == 0)
            add(f, kv->file, kv->line, "deprecated: %s: %s", kv->key, deprecated[i].instead);
    if (!check_module_of_key(f, ms, kv))
        return;
    const lux_module *owner = NULL;
    const lux_directive *d = builtin_directive(kv->key, &owner);
    if (d && d->type == LUX_D_IGNORED)
        add(f, kv->file, kv->line, "ignored: %s has no effect in lux", kv->key);
    else if (d && b->id != 0 && !(d->scope & (LUX_SCOPE_COND | LUX_SCOPE_SOCKET)))
        add(f, kv->file, kv->line, "ignored: %s can only be set globally, not in a condition",
            kv->key);
    for (size_t i = 0; i < sizeof differs / sizeof differs[0]; i++)
        if (strcasecmp(kv->key, differs[i].key) == 0)
            add(f, kv->file, kv->line, "differs: %s: %s (docs/coming-from-lighttpd.md)", kv->key,
                differs[i].how);
    check_modules(f, kv);
    check_repeats(f, kv);
}

static module_set modules_of(const lux_conf_tree *tree) {
    module_set ms = {0};
    for (size_t i = 0; i < tree->nblocks; i++)
        for (size_t k = 0; k < tree->blocks[i]->nkvs; k++) {
            const lux_conf_kv *kv = &tree->blocks[i]->kvs[k];
            if (strncasecmp(kv->key, "ssl.", 4) == 0)
                ms.tls = 1;
            if (tree->blocks[i]->id == 0 && strcasecmp(kv->key, "server.modules") == 0)
                ms.modules = kv;
        }
    return ms;
}

static int by_place(const void *a, const void *b) {
    const finding *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    if (c)
        return c;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

long lux_conf_lint(const char *path, FILE *out, FILE *err) {
    findings f = {0};
    lux_conf_observer obs = {.arg = &f, .reopened = on_reopened, .replaced = on_replaced};
    char msg[2048];
    lux_conf_tree *tree = lux_conf_load_file_observed(path, 0, &obs, msg, sizeof msg);
    long n = -1;
    if (!tree) {
        fprintf(err, "%s\n", msg);
    } else {
        module_set ms = modules_of(tree);
        for (size_t i = 0; i < tree->nblocks; i++)
            for (size_t k = 0; k < tree->blocks[i]->nkvs; k++)
                check_key(&f, &ms, tree->blocks[i], &tree->blocks[i]->kvs[k]);
        if (f.n)
            qsort(f.v, f.n, sizeof *f.v, by_place);
        for (size_t i = 0; i < f.n; i++)
            fprintf(out, "%s:%d: %s\n", f.v[i].file, f.v[i].line, f.v[i].text);
        n = (long)f.n;
        if (f.oom) {
            fprintf(err, "lux: out of memory while linting\n");
            n = -1;
        }
    }
    for (size_t i = 0; i < f.n; i++)
        free(f.v[i].text);
    free(f.v);
    lux_conf_free(tree);
    return n;
}
