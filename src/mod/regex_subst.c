/* "regex" => "replacement" lists for mod_rewrite and mod_redirect: compile, match, expand. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mod/regex_subst.h"

/* ---- load time ------------------------------------------------------------------------- */

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static const char hex_uc[] = "0123456789ABCDEF";

size_t lux_subst_normalize(const char *src, size_t len, int repl, char *dst) {
    size_t pct = repl ? 2 : 1; /* the escape introducer: "%" in a regex, "%%" in a replacement */
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '%' && i + pct + 1 < len && (pct == 1 || src[i + 1] == '%') &&
            hexval((unsigned char)src[i + pct]) >= 0 &&
            hexval((unsigned char)src[i + pct + 1]) >= 0) {
            memcpy(dst + j, src + i, pct);
            j += pct;
            dst[j++] = (char)toupper((unsigned char)src[i + pct]);
            dst[j++] = (char)toupper((unsigned char)src[i + pct + 1]);
            i += pct + 1;
        } else if (c >= 0x80) {
            memset(dst + j, '%', pct);
            j += pct;
            dst[j++] = hex_uc[c >> 4];
            dst[j++] = hex_uc[c & 15];
        } else {
            dst[j++] = (char)c;
        }
    }
    dst[j] = '\0';
    return j;
}

static void free_code(void *p) {
    pcre2_code_free(p);
}

static int add_rules(lux_gen *gen, lux_subst_list *l, const char *key, const lux_value *v,
                     char *err, size_t el) {
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "expected a list of \"regex\" => \"replacement\"");
        return -1;
    }
    for (size_t i = 0; i < v->u.arr.len; i++) {
        const lux_value *e = v->u.arr.items[i];
        if (!e->key || e->type != LUX_V_STRING) {
            snprintf(err, el, "%s: every entry must be \"regex\" => \"replacement\"", key);
            return -1;
        }
        char *rx = lux_pool_alloc(&gen->pool, 4 * e->key_len + 1);
        char *repl = lux_pool_alloc(&gen->pool, 4 * e->u.str.len + 1);
        if (!rx || !repl) {
            snprintf(err, el, "out of memory");
            return -1;
        }
        size_t rxlen = lux_subst_normalize(e->key, e->key_len, 0, rx);
        size_t rlen = lux_subst_normalize(e->u.str.ptr, e->u.str.len, 1, repl);
        int ec;
        PCRE2_SIZE off;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)rx, rxlen, 0, &ec, &off, NULL);
        if (!re) {
            char msg[120];
            pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof msg);
            snprintf(err, el, "%s: regex \"%s\" at offset %zu: %s", key, e->key, (size_t)off,
                     msg);
            return -1;
        }
        if (lux_gen_on_free(gen, free_code, re) < 0) {
            pcre2_code_free(re);
            snprintf(err, el, "out of memory");
            return -1;
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without JIT the interpreter still works */
        l->rules[l->n++] = (lux_subst_rule){re, repl, rlen};
    }
    return 0;
}

/* The block in which v was assigned: the value pointer identifies its key/value pair. */
static const lux_conf_block *block_of(const lux_gen *gen, const lux_value *v) {
    const lux_conf_tree *t = gen->tree;
    for (size_t i = 0; i < t->nblocks; i++)
        for (size_t k = 0; k < t->blocks[i]->nkvs; k++)
            if (t->blocks[i]->kvs[k].value == v)
                return t->blocks[i];
    return NULL;
}

static const lux_value *block_value(const lux_conf_block *b, const char *key) {
    for (size_t i = 0; i < b->nkvs; i++)
        if (strcasecmp(b->kvs[i].key, key) == 0)
            return b->kvs[i].value;
    return NULL;
}

/* Without a block (a value not from gen's tree), v alone is the rules of keys[0]. */
int lux_subst_parse(lux_gen *gen, const lux_value *v, const char *const *keys, size_t nfirst,
                    const lux_subst_list **out, char *err, size_t el) {
    const lux_conf_block *b = block_of(gen, v);
    size_t total = 0;
    for (size_t k = 0; keys[k]; k++) {
        const lux_value *kv = b ? block_value(b, keys[k]) : (k == 0 ? v : NULL);
        if (kv && kv->type == LUX_V_ARRAY)
            total += kv->u.arr.len;
    }
    lux_subst_list *l = lux_pool_alloc(&gen->pool, sizeof *l);
    lux_subst_rule *rules = lux_pool_alloc(&gen->pool, (total + 1) * sizeof *rules);
    if (!l || !rules) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    *l = (lux_subst_list){rules, 0, 0, b ? b->id : 0};
    int split_set = 0;
    for (size_t k = 0; keys[k]; k++) {
        if (k == nfirst) {
            l->split = l->n;
            split_set = 1;
        }
        const lux_value *kv = b ? block_value(b, keys[k]) : (k == 0 ? v : NULL);
        if (kv && add_rules(gen, l, keys[k], kv, err, el) < 0)
            return -1;
    }
    if (!split_set)
        l->split = l->n;
    *out = l;
    return 0;
}

/* ---- expansion ------------------------------------------------------------------------- */

typedef struct {
    lux_pool *pool;
    char *p;
    size_t len, cap;
    int failed;
} obuf;

static char *reserve(obuf *b, size_t n) {
    if (b->failed)
        return NULL;
    if (n > LUX_SUBST_MAX_OUT || b->len + n > LUX_SUBST_MAX_OUT) {
        b->failed = 1;
        return NULL;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = lux_pool_alloc(b->pool, cap);
        if (!p) {
            b->failed = 1;
            return NULL;
        }
        if (b->len)
            memcpy(p, b->p, b->len);
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void put(obuf *b, const char *s, size_t n) {
    char *d = n ? reserve(b, n) : NULL;
    if (d) {
        memcpy(d, s, n);
        b->len += n;
    }
}

enum {
    ENC_NONE = 1 << 0,  /* noesc: */
    ENC_ALL = 1 << 1,   /* esc: escape: */
    ENC_NDE = 1 << 2,   /* escnde: */
    ENC_PSNDE = 1 << 3, /* escpsnde:, and ${n} without modifiers */
    ENC_B64U = 1 << 4,
    DEC_B64U = 1 << 5,
    TO_LOWER = 1 << 6,
    TO_UPPER = 1 << 7,
    ENCODINGS = ENC_NONE | ENC_ALL | ENC_NDE | ENC_PSNDE | ENC_B64U | DEC_B64U,
};

static int unreserved(unsigned char c) {
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Percent-encode s; `keep` leaves valid escapes (decoding those of unreserved characters) and,
 * with slash, "/" alone. Returns the length written, or, with d NULL, measures. */
static size_t encode(char *d, const char *s, size_t n, int keep, int slash) {
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int h1, h2;
        if (keep && c == '%' && i + 2 < n && (h1 = hexval((unsigned char)s[i + 1])) >= 0 &&
            (h2 = hexval((unsigned char)s[i + 2])) >= 0) {
            unsigned char x = (unsigned char)(h1 << 4 | h2);
            if (unreserved(x)) {
                if (d)
                    d[j] = (char)x;
                j++;
            } else {
                if (d)
                    memcpy(d + j, s + i, 3);
                j += 3;
            }
            i += 2;
        } else if (unreserved(c) || (slash && c == '/')) {
            if (d)
                d[j] = (char)c;
            j++;
        } else {
            if (d) {
                d[j] = '%';
                d[j + 1] = hex_uc[c >> 4];
                d[j + 2] = hex_uc[c & 15];
            }
            j += 3;
        }
    }
    return j;
}

static void put_encoded(obuf *b, const char *s, size_t n, int keep, int slash) {
    char *d = reserve(b, encode(NULL, s, n, keep, slash));
    if (d)
        b->len += encode(d, s, n, keep, slash);
}

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void put_b64u(obuf *b, const unsigned char *s, size_t n) {
    char *d = reserve(b, (n + 2) / 3 * 4);
    if (!d)
        return;
    size_t j = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        d[j++] = b64u[v >> 18];
        d[j++] = b64u[v >> 12 & 63];
        d[j++] = b64u[v >> 6 & 63];
        d[j++] = b64u[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
        d[j++] = b64u[v >> 18];
        d[j++] = b64u[v >> 12 & 63];
        if (i + 1 < n)
            d[j++] = b64u[v >> 6 & 63];
    }
    b->len += j;
}

/* Decode up to a '=' pad; an invalid character or a lone trailing one decodes to nothing. */
static void put_unb64u(obuf *b, const char *s, size_t n) {
    size_t m = 0;
    while (m < n && s[m] != '=')
        m++;
    if (m % 4 == 1)
        return;
    char *d = reserve(b, m / 4 * 3 + 2);
    if (!d)
        return;
    unsigned acc = 0;
    size_t j = 0;
    for (size_t i = 0; i < m; i++) {
        const char *p = memchr(b64u, s[i], 64);
        if (!p)
            return;
        acc = acc << 6 | (unsigned)(p - b64u);
        if (i % 4 == 3) {
            d[j++] = (char)(acc >> 16);
            d[j++] = (char)(acc >> 8);
            d[j++] = (char)acc;
            acc = 0;
        }
    }
    if (m % 4 == 2) {
        d[j++] = (char)(acc >> 4);
    } else if (m % 4 == 3) {
        d[j++] = (char)(acc >> 10);
        d[j++] = (char)(acc >> 2);
    }
    b->len += j;
}

/* Change the case of letters appended since off, leaving "%XX" escapes as they are. */
static void change_case(obuf *b, size_t off, int upper) {
    for (size_t i = off; i < b->len; i++) {
        unsigned char c = (unsigned char)b->p[i];
        if (c == '%' && i + 2 < b->len && hexval((unsigned char)b->p[i + 1]) >= 0 &&
            hexval((unsigned char)b->p[i + 2]) >= 0)
            i += 2;
        else
            b->p[i] = (char)(upper ? toupper(c) : tolower(c));
    }
}

static void put_flags(obuf *b, const char *s, size_t n, int flags) {
    if (n == 0 || b->failed)
        return;
    size_t off = b->len;
    if (flags & ENC_NONE || !(flags & ENCODINGS))
        put(b, s, n);
    else if (flags & ENC_ALL)
        put_encoded(b, s, n, 0, 0);
    else if (flags & ENC_NDE)
        put_encoded(b, s, n, 1, 0);
    else if (flags & ENC_PSNDE)
        put_encoded(b, s, n, 1, 1);
    else if (flags & ENC_B64U)
        put_b64u(b, (const unsigned char *)s, n);
    else
        put_unb64u(b, s, n);
    if (!b->failed && flags & (TO_LOWER | TO_UPPER))
        change_case(b, off, !(flags & TO_LOWER));
}

static void put_capture(obuf *b, int cond, unsigned num, const lux_subst_caps *caps,
                        const lux_subst_ctx *ctx, int flags) {
    if (cond) {
        const lux_cond_captures *c = ctx->cond;
        if (c && num < (unsigned)c->n && num < LUX_COND_MAX_CAPTURES && c->ptr[num])
            put_flags(b, c->ptr[num], c->len[num], flags);
    } else if (caps && num < (unsigned)caps->n && num < LUX_SUBST_MAX_CAPTURES &&
               caps->ptr[num]) {
        put_flags(b, caps->ptr[num], caps->len[num], flags);
    }
}

static int starts(const char *p, const char *e, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)(e - p) >= n && memcmp(p, lit, n) == 0;
}

/* Past the next ':' (an unknown modifier), or NULL. */
static const char *skip_modifier(const char *p, const char *e) {
    const char *c = memchr(p, ':', (size_t)(e - p));
    return c ? c + 1 : NULL;
}

/* The url.* names; p is just past "url.". Returns the closing '}' or NULL. */
static const char *put_url_part(obuf *b, const char *p, const char *e, const lux_subst_ctx *ctx,
                                int flags) {
    static const char *const names[] = {"scheme}", "authority}", "port}", "path}", "query}"};
    const lux_str *parts[] = {&ctx->scheme, &ctx->authority, NULL, &ctx->path, &ctx->query};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!starts(p, e, names[i]))
            continue;
        if (parts[i]) {
            if (parts[i]->ptr)
                put_flags(b, parts[i]->ptr, parts[i]->len, flags);
        } else {
            char num[16];
            int n = snprintf(num, sizeof num, "%d", ctx->port);
            put(b, num, (size_t)n);
        }
        return p + strlen(names[i]) - 1;
    }
    return memchr(p, '}', (size_t)(e - p));
}

static void put_qsa(obuf *b, const lux_subst_ctx *ctx, int flags) {
    if (!ctx->query.ptr || ctx->query.len == 0)
        return;
    put(b, b->len && memchr(b->p, '?', b->len) ? "&" : "?", 1);
    put_flags(b, ctx->query.ptr, ctx->query.len, flags);
}

/*
 * "${...}" or "%{...}" at t (t[1] == '{'). Returns the closing '}', or NULL when there is none
 * (the expansion stops there). The number form's source follows the sigil before the brace.
 */
static const char *expand_braces(obuf *b, const char *t, const char *e,
                                 const lux_subst_caps *caps, const lux_subst_ctx *ctx) {
    const char *p = t + 2;
    int flags = 0;
    while (p < e && !isdigit((unsigned char)*p) && *p != '}') {
        if (starts(p, e, "esc")) {
            p += 3;
            if (starts(p, e, ":"))
                flags |= ENC_ALL, p += 1;
            else if (starts(p, e, "ape:"))
                flags |= ENC_ALL, p += 4;
            else if (starts(p, e, "nde:"))
                flags |= ENC_NDE, p += 4;
            else if (starts(p, e, "psnde:"))
                flags |= ENC_PSNDE, p += 6;
            else if (!(p = skip_modifier(p, e)))
                return NULL;
        } else if (starts(p, e, "no")) {
            p += 2;
            if (starts(p, e, "esc:"))
                flags |= ENC_NONE, p += 4;
            else if (starts(p, e, "escape:"))
                flags |= ENC_NONE, p += 7;
            else if (!(p = skip_modifier(p, e)))
                return NULL;
        } else if (starts(p, e, "to")) {
            p += 2;
            if (starts(p, e, "lower:"))
                flags |= TO_LOWER, p += 6;
            else if (starts(p, e, "upper:"))
                flags |= TO_UPPER, p += 6;
            else if (!(p = skip_modifier(p, e)))
                return NULL;
        } else if (starts(p, e, "url.")) {
            return put_url_part(b, p + 4, e, ctx, flags);
        } else if (starts(p, e, "qsa}")) {
            put_qsa(b, ctx, flags);
            return p + 3;
        } else if (starts(p, e, "encb64u:")) {
            flags |= ENC_B64U, p += 8;
        } else if (starts(p, e, "decb64u:")) {
            flags |= DEC_B64U, p += 8;
        } else {
            p++;
        }
    }
    if (p >= e)
        return NULL;
    if (*p == '}')
        return p;
    unsigned num = (unsigned)(*p++ - '0');
    if (p < e && isdigit((unsigned char)*p))
        num = num * 10 + (unsigned)(*p++ - '0');
    if (p >= e || *p != '}') {
        p = p < e ? memchr(p, '}', (size_t)(e - p)) : NULL;
        if (!p)
            return NULL;
    }
    if (!(flags & ENCODINGS))
        flags |= ENC_PSNDE;
    put_capture(b, t[0] == '%', num, caps, ctx, flags);
    return p;
}

int lux_subst_expand(const char *tmpl, size_t tlen, const lux_subst_caps *caps,
                     const lux_subst_ctx *ctx, lux_pool *pool, lux_str *out) {
    obuf b = {pool, NULL, 0, 0, 0};
    const char *e = tmpl + tlen;
    size_t start = 0;
    for (size_t k = 0; k + 1 < tlen; k++) {
        char c = tmpl[k], nx = tmpl[k + 1];
        if (c != '$' && c != '%')
            continue;
        put(&b, tmpl + start, k - start);
        if (nx == '{') {
            const char *close = expand_braces(&b, tmpl + k, e, caps, ctx);
            if (!close) {
                start = tlen; /* unterminated: the result ends here */
                break;
            }
            k = (size_t)(close - tmpl);
            start = k + 1;
            continue;
        }
        if (isdigit((unsigned char)nx))
            put_capture(&b, c == '%', (unsigned)(nx - '0'), caps, ctx, 0);
        else
            put(&b, tmpl + k, c == nx ? 1 : 2);
        k++;
        start = k + 1;
    }
    if (start < tlen)
        put(&b, tmpl + start, tlen - start);
    if (!reserve(&b, 0))
        return -1;
    b.p[b.len] = '\0';
    *out = (lux_str){b.p, b.len};
    return 0;
}

void lux_subst_req_ctx(const lux_req *r, const lux_subst_list *l, lux_subst_ctx *ctx) {
    memset(ctx, 0, sizeof *ctx);
    for (const lux_conf_block *b = r->gen->tree->blocks[l->block]; b && !ctx->cond; b = b->parent)
        ctx->cond = r->cond_caps[b->id];
    ctx->scheme = r->scheme;
    ctx->authority = r->host;
    const char *q = memchr(r->uri.ptr, '?', r->uri.len);
    ctx->path = (lux_str){r->uri.ptr, q ? (size_t)(q - r->uri.ptr) : r->uri.len};
    ctx->query = r->query;
    if (lux_req_local_port(r) > 0)
        ctx->port = lux_req_local_port(r);
}

/* ---- matching -------------------------------------------------------------------------- */

static int expand_match(const lux_subst_rule *ru, pcre2_match_data *md, int rc, const char *subj,
                        const lux_subst_ctx *ctx, lux_pool *pool, lux_str *out) {
    if (rc == 0 || rc > LUX_SUBST_MAX_CAPTURES) /* more groups than slots: all slots are set */
        rc = LUX_SUBST_MAX_CAPTURES;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    lux_subst_caps caps = {.n = rc};
    for (int k = 0; k < rc; k++) {
        if (ov[2 * k] == PCRE2_UNSET || ov[2 * k + 1] < ov[2 * k])
            continue; /* a group that took no part is empty */
        caps.ptr[k] = subj + ov[2 * k];
        caps.len[k] = ov[2 * k + 1] - ov[2 * k];
    }
    if (lux_subst_expand(ru->repl, ru->repl_len, &caps, ctx, pool, out) < 0)
        return LUX_SUBST_ERROR;
    return LUX_SUBST_MATCH;
}

int lux_subst_apply(const lux_subst_list *l, const char *subj, size_t len,
                    const lux_subst_ctx *ctx, lux_pool *pool, lux_str *out, size_t *rule) {
    if (!l || l->n == 0)
        return LUX_SUBST_NOMATCH;
    /* malloc'd rather than pooled: the interpreter may grow its frames inside it */
    pcre2_match_data *md = pcre2_match_data_create(LUX_SUBST_MAX_CAPTURES, NULL);
    if (!md)
        return LUX_SUBST_ERROR;
    int res = LUX_SUBST_NOMATCH;
    for (size_t i = 0; i < l->n && res == LUX_SUBST_NOMATCH; i++) {
        const lux_subst_rule *ru = &l->rules[i];
        int rc = pcre2_match(ru->re, (PCRE2_SPTR)subj, len, 0, 0, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            continue;
        *rule = i;
        if (rc < 0)
            res = LUX_SUBST_ERROR;
        else if (ru->repl_len == 0)
            res = LUX_SUBST_EMPTY;
        else
            res = expand_match(ru, md, rc, subj, ctx, pool, out);
    }
    pcre2_match_data_free(md);
    return res;
}
