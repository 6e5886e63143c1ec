/*
 * mod_expire: caching lifetimes by URL-path prefix (expire.url) or response Content-Type
 * (expire.mimetypes). Like lighttpd 1.4, only successful (200, 206) GET and HEAD responses that
 * have no Cache-Control yet are marked, and only one header is sent: Cache-Control: max-age=N
 * to HTTP/1.1 clients (it overrides Expires anyway), Expires to HTTP/1.0 ones.
 *
 * A lifetime is "<base> [plus] <num> <unit> [<num> <unit> ...]": base access, now (both: the
 * time of the request) or modification (the file's mtime); units years, months, weeks, days,
 * hours, minutes, seconds, singular or plural, where a month is 30 days (as in lighttpd) and a
 * year 365 days (as in Apache's mod_expires: lighttpd's 12 x 30 days falls five days short of a
 * year). Lifetimes are parsed when the config is loaded; a bad one refuses the config.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/gen.h"
#include "core/pool.h"
#include "http/http_date.h"
#include "http/stat_cache.h"
#include "lux/req.h"

enum { EXPIRE_ACCESS = 0, EXPIRE_MODIFICATION = 1 };

/* Numbers and sums saturate far beyond any useful lifetime, so no input can overflow. */
#define EXPIRE_NUM_MAX ((long long)1 << 31)
#define EXPIRE_MAX ((long long)1 << 50)

static const struct {
    const char *name;
    size_t len;
    long long seconds;
} expire_units[] = {
    {"year", 4, 60LL * 60 * 24 * 365}, /* Apache's mod_expires; lighttpd's is 12 months */
    {"month", 5, 60LL * 60 * 24 * 30}, /* lighttpd's and Apache's */
    {"week", 4, 60LL * 60 * 24 * 7},
    {"day", 3, 60LL * 60 * 24},
    {"hour", 4, 60LL * 60},
    {"minute", 6, 60},
    {"second", 6, 1},
};

static long long clamp(long long v, long long max) {
    return v > max ? max : v < -max ? -max : v;
}

/* One "<num> <unit>" at s (NUL-terminated); returns the rest after it, or NULL on error. */
static const char *parse_term(const char *s, long long *sum, char *err, size_t el) {
    const char *space = strchr(s, ' ');
    if (!space) {
        snprintf(err, el, "missing space after <num>: %s", s);
        return NULL;
    }
    /* strtol's leniency (leading blanks, a sign, no digits before the space) is lighttpd's. */
    char *end;
    long long num = strtoll(s, &end, 10);
    if (*end != ' ') {
        snprintf(err, el, "missing <type> after <num>: %s", s);
        return NULL;
    }
    num = clamp(num, EXPIRE_NUM_MAX); /* strtoll saturates on overflow */
    const char *unit = space + 1;
    size_t ulen = strcspn(unit, " ");
    size_t base = ulen && unit[ulen - 1] == 's' ? ulen - 1 : ulen;
    size_t i = 0;
    while (i < sizeof expire_units / sizeof *expire_units &&
           (expire_units[i].len != base || memcmp(unit, expire_units[i].name, base) != 0))
        i++;
    if (!base || i == sizeof expire_units / sizeof *expire_units) {
        snprintf(err, el, "unknown type: %s", unit);
        return NULL;
    }
    *sum = clamp(*sum + num * expire_units[i].seconds, EXPIRE_MAX);
    return unit[ulen] ? unit + ulen + 1 : unit + ulen;
}

/*
 * Parse a lifetime (NUL-terminated): the base (EXPIRE_ACCESS or EXPIRE_MODIFICATION) into *base
 * and the seconds to add into *offset. Returns 0, or -1 with a message in err.
 */
static int expire_parse(const char *s, int *base, long long *offset, char *err, size_t el) {
    static const struct {
        const char *word;
        size_t len;
        int base;
    } bases[] = {{"access ", 7, EXPIRE_ACCESS},
                 {"now ", 4, EXPIRE_ACCESS},
                 {"modification ", 13, EXPIRE_MODIFICATION}};
    if (!*s) {
        snprintf(err, el, "empty lifetime");
        return -1;
    }
    size_t b = 0;
    while (b < 3 && strncmp(s, bases[b].word, bases[b].len) != 0)
        b++;
    if (b == 3) {
        snprintf(err, el, "invalid <base>: %s", s);
        return -1;
    }
    s += bases[b].len;
    if (strncmp(s, "plus ", 5) == 0)
        s += 5;
    long long sum = 0;
    do {
        if (!(s = parse_term(s, &sum, err, el)))
            return -1;
    } while (*s);
    *base = bases[b].base;
    *offset = sum;
    return 0;
}

typedef struct {
    lux_str key;
    int base;
    long long offset;
} expire_rule;

typedef struct {
    size_t n;
    expire_rule *items;
} expire_rules;

typedef struct {
    const expire_rules *url;
    const expire_rules *mimetypes;
} expire_conf;

static int parse_rules(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el,
                       int strip_star) {
    static const char usage[] = "expected a list like ( \"prefix\" => \"access plus 1 days\" )";
    size_t n;
    const lux_keyval *kv = lux_conf_keyvals(gen, v, &n, usage, err, el);
    expire_rules *t = kv ? lux_pool_alloc(&gen->pool, sizeof *t + n * sizeof(expire_rule)) : NULL;
    if (!t) {
        if (kv)
            snprintf(err, el, "out of memory");
        return -1;
    }
    t->items = (expire_rule *)(t + 1);
    t->n = n;
    for (size_t i = 0; i < n; i++) {
        expire_rule *rule = &t->items[i];
        rule->key = kv[i].key;
        /* a trailing star ("image/" followed by "*") only marks a prefix: drop it */
        if (strip_star && rule->key.len && rule->key.ptr[rule->key.len - 1] == '*')
            rule->key.len--;
        char msg[200];
        if (expire_parse(kv[i].value.ptr, &rule->base, &rule->offset, msg, sizeof msg) < 0) {
            snprintf(err, el, "\"%s\": %s", kv[i].value.ptr, msg);
            return -1;
        }
    }
    *(const expire_rules **)dst = t;
    return 0;
}

static int parse_url_rules(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    return parse_rules(gen, v, dst, err, el, 0);
}

static int parse_mime_rules(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    return parse_rules(gen, v, dst, err, el, 1);
}

static const lux_directive expire_directives[] = {
    {"expire.url", LUX_D_CUSTOM, offsetof(expire_conf, url), LUX_SCOPE_ANY, parse_url_rules,
     sizeof(const expire_rules *)},
    {"expire.mimetypes", LUX_D_CUSTOM, offsetof(expire_conf, mimetypes), LUX_SCOPE_ANY,
     parse_mime_rules, sizeof(const expire_rules *)},
    {NULL, 0, 0, 0},
};

/* The first rule (in config order) whose key is a prefix of s. */
static const expire_rule *match_prefix(const expire_rules *t, const char *s, size_t len) {
    for (size_t i = 0; t && i < t->n; i++)
        if (t->items[i].key.len <= len && memcmp(s, t->items[i].key.ptr, t->items[i].key.len) == 0)
            return &t->items[i];
    return NULL;
}

static const lux_header *resp_find(const lux_req *r, const char *name, size_t len) {
    for (size_t i = 0; i < r->nresp_headers; i++)
        if (r->resp_headers[i].name.len == len &&
            strncasecmp(r->resp_headers[i].name.ptr, name, len) == 0)
            return &r->resp_headers[i];
    return NULL;
}

static const expire_rule *find_rule(const lux_req *r, const expire_conf *c) {
    const expire_rule *rule = match_prefix(c->url, r->path.ptr, r->path.len);
    if (rule || !c->mimetypes)
        return rule;
    const lux_header *ct = resp_find(r, "Content-Type", 12);
    if (ct && (rule = match_prefix(c->mimetypes, ct->value.ptr, ct->value.len)))
        return rule;
    /* Without a Content-Type only a rule for "" applies (with one, it matched as a prefix). */
    for (size_t i = 0; i < c->mimetypes->n; i++)
        if (!c->mimetypes->items[i].key.len)
            return &c->mimetypes->items[i];
    return NULL;
}

static lux_result expire_response_start(lux_req *r, const void *conf) {
    const expire_conf *c = conf;
    if ((r->status != 200 && r->status != 206) ||
        (r->method != LUX_M_GET && r->method != LUX_M_HEAD) || !r->path.ptr ||
        resp_find(r, "Cache-Control", 13))
        return LUX_GO_ON;
    const expire_rule *rule = find_rule(r, c);
    if (!rule)
        return LUX_GO_ON;
    long long now = (long long)lux_req_now(r); /* the clock the Date header shows */
    long long expires = rule->offset;
    if (rule->base == EXPIRE_ACCESS)
        expires += now;
    else if (r->file) /* no mtime, no modification-based lifetime */
        expires += (long long)r->file->mtime;
    else
        return LUX_GO_ON;
    if (expires < now)
        expires = now;
    if (r->version >= 11) {
        char *v = lux_req_printf(r, "max-age=%lld", expires - now);
        return v && lux_resp_header(r, "Cache-Control", 13, v, strlen(v)) == 0 ? LUX_GO_ON
                                                                               : LUX_ERROR;
    }
    char date[LUX_HTTP_DATE_LEN + 1];
    lux_http_date_format((time_t)expires, date);
    const lux_header *old = resp_find(r, "Expires", 7);
    if (old) { /* replace, do not repeat */
        size_t i = (size_t)(old - r->resp_headers);
        memmove(&r->resp_headers[i], &r->resp_headers[i + 1],
                (r->nresp_headers - i - 1) * sizeof *r->resp_headers);
        r->nresp_headers--;
    }
    return lux_resp_header(r, "Expires", 7, date, LUX_HTTP_DATE_LEN) == 0 ? LUX_GO_ON : LUX_ERROR;
}

const lux_module lux_mod_expire = {
    .name = "mod_expire",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = expire_directives,
    .conf_size = sizeof(expire_conf),
    .response_start = expire_response_start,
};
