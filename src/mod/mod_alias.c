/*
 * mod_alias: alias.url = ( "/cgi-bin/" => "/usr/lib/cgi-bin/" ) maps a URL-path prefix to
 * another place in the file system. The first entry (in config order) whose key is a prefix of
 * the path wins, and the rest of the path is appended as is, exactly as lighttpd does: a key
 * "/img" also catches "/imgx" (as "<target>x"), which is why keys and targets should agree on
 * a trailing slash. An entry that an earlier one would always shadow is a config error.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "lux/log.h"
#include "lux/req.h"

/* key: the URL-path prefix; value: the file-system target */
typedef lux_keyval alias_entry;

typedef struct {
    size_t n;
    const alias_entry *items;
} alias_table;

typedef struct {
    const alias_table *aliases;
} alias_conf;

static int parse_aliases(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    static const char usage[] = "expected a list like ( \"/url-path/\" => \"/file/path/\" )";
    alias_table *t = lux_pool_alloc(&gen->pool, sizeof *t);
    if (!t) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    if (!(t->items = lux_conf_keyvals(gen, v, &t->n, usage, err, el)))
        return -1;
    size_t n = t->n;
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++) {
            const lux_str *a = &t->items[i].key, *b = &t->items[k].key;
            if (a->len <= b->len && memcmp(a->ptr, b->ptr, a->len) == 0) {
                snprintf(err, el, "\"%s\" will never match as \"%s\" matches first", b->ptr,
                         a->ptr);
                return -1;
            }
        }
    *(const alias_table **)dst = t;
    return 0;
}

static const lux_directive alias_directives[] = {
    {"alias.url", LUX_D_CUSTOM, offsetof(alias_conf, aliases), LUX_SCOPE_ANY, parse_aliases,
     sizeof(const alias_table *)},
    {NULL, 0, 0, 0},
};

static const alias_entry *find_alias(const alias_table *t, const char *p, size_t len, int nocase) {
    for (size_t i = 0; i < t->n; i++) {
        const lux_str *k = &t->items[i].key;
        if (k->len <= len &&
            (nocase ? strncasecmp(p, k->ptr, k->len) == 0 : memcmp(p, k->ptr, k->len) == 0))
            return &t->items[i];
    }
    return NULL;
}

/*
 * The normalised path has no dot segments, but "/img.." is a legitimate name: with a key
 * without a trailing slash ("/img") and a target with one (".../images/"), its rest ".."
 * would climb out of the target. lighttpd refuses exactly that case with 403.
 */
static int escapes(const alias_entry *a, const char *rest, size_t rlen) {
    if (!rlen || rest[0] != '.' || !a->key.len || a->key.ptr[a->key.len - 1] == '/' ||
        !a->value.len || a->value.ptr[a->value.len - 1] != '/')
        return 0;
    size_t i = 1;
    if (i < rlen && rest[i] == '.')
        i++;
    return i == rlen || rest[i] == '/';
}

static lux_result alias_physical(lux_req *r, const void *conf) {
    const alias_conf *c = conf;
    if (!c->aliases || !c->aliases->n || r->physical.len < r->docroot.len)
        return LUX_GO_ON;
    const lux_core_conf *core = r->confs[0];
    /* What follows the document root: the URL path (lower-cased if so configured). */
    const char *p = r->physical.ptr + r->docroot.len;
    size_t len = r->physical.len - r->docroot.len;
    const alias_entry *a = find_alias(c->aliases, p, len, core->force_lowercase_filenames);
    if (!a)
        return LUX_GO_ON;
    const char *rest = p + a->key.len;
    size_t rlen = len - a->key.len;
    if (escapes(a, rest, rlen))
        return lux_resp_error(r, 403);
    size_t tlen = a->value.len;
    char *phys = lux_pool_alloc(r->pool, tlen + rlen + 1);
    if (!phys)
        return LUX_ERROR;
    memcpy(phys, a->value.ptr, tlen);
    memcpy(phys + tlen, rest, rlen);
    phys[tlen + rlen] = '\0';
    /* The target is the new document root: PATH_INFO is searched only below it. */
    size_t dl = tlen;
    while (dl > 1 && phys[dl - 1] == '/')
        dl--;
    r->docroot = (lux_str){phys, dl};
    r->physical = (lux_str){phys, tlen + rlen};
    if (core->log_request_handling)
        lux_log(LUX_LOG_DEBUG, "alias %s -> %s: %s", a->key.ptr, a->value.ptr, phys);
    return LUX_GO_ON;
}

const lux_module lux_mod_alias = {
    .name = "mod_alias",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = alias_directives,
    .conf_size = sizeof(alias_conf),
    .physical = alias_physical,
};
