/*
 * Replacement expansion for mod_rewrite / mod_redirect: random template, regex captures,
 * condition captures and query. The input is split at NUL bytes into template, regex captures
 * and condition captures (each split again at 0x01), query. Checks: expansion succeeds or
 * reports "too long"; the result is NUL-terminated, within LUX_SUBST_MAX_OUT and within a bound
 * computed from the inputs; it is deterministic; a template without '$' or '%' is copied as
 * it is. Load-time normalisation stays within 4x, leaves no byte >= 0x80 and is idempotent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "mod/regex_subst.h"

static void fail(void) {
    abort();
}

/* Next field of [*p, end) up to sep; advances *p past it. */
static const char *field(const char **p, const char *end, char sep, size_t *len) {
    const char *s = *p;
    const char *e = memchr(s, sep, (size_t)(end - s));
    if (!e)
        e = end;
    *len = (size_t)(e - s);
    *p = e < end ? e + 1 : end;
    return s;
}

static void check_normalize(const char *s, size_t n, int repl) {
    char *a = malloc(4 * n + 1), *b = malloc(16 * n + 1);
    if (!a || !b)
        abort();
    size_t la = lux_subst_normalize(s, n, repl, a);
    if (la > 4 * n || a[la] != '\0')
        fail();
    for (size_t i = 0; i < la; i++)
        if ((unsigned char)a[i] >= 0x80)
            fail();
    size_t lb = lux_subst_normalize(a, la, repl, b);
    if (lb != la || memcmp(a, b, la) != 0)
        fail();
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data, *end = p + size;
    size_t tlen, rlen, clen, qlen;
    const char *tmpl = field(&p, end, '\0', &tlen);
    const char *re = field(&p, end, '\0', &rlen);
    const char *co = field(&p, end, '\0', &clen);
    const char *q = field(&p, end, '\0', &qlen);

    lux_subst_caps caps = {0};
    size_t longest = qlen + 32;
    for (const char *r = re, *re_end = re + rlen; r < re_end && caps.n < LUX_SUBST_MAX_CAPTURES;) {
        size_t n;
        const char *s = field(&r, re_end, '\x01', &n);
        caps.ptr[caps.n] = s;
        caps.len[caps.n++] = n;
        longest = n > longest ? n : longest;
    }
    lux_cond_captures cond = {0};
    for (const char *c = co, *co_end = co + clen; c < co_end && cond.n < LUX_COND_MAX_CAPTURES;) {
        size_t n;
        const char *s = field(&c, co_end, '\x01', &n);
        cond.ptr[cond.n] = s;
        cond.len[cond.n++] = n;
        longest = n > longest ? n : longest;
    }
    lux_subst_ctx ctx = {.cond = cond.n ? &cond : NULL,
                         .scheme = {"https", 5},
                         .authority = {"Example.ORG:8443", 16},
                         .path = {q, qlen},
                         .query = {qlen & 1 ? q : NULL, qlen},
                         .port = 8443};

    lux_pool pool;
    lux_pool_init(&pool, 4096);
    lux_str a, b;
    int ra = lux_subst_expand(tmpl, tlen, &caps, &ctx, &pool, &a);
    int rb = lux_subst_expand(tmpl, tlen, &caps, &ctx, &pool, &b);
    if (ra != rb)
        fail();
    /* Every reference takes at least two template bytes and yields at most 3x its source. */
    size_t bound = tlen + (tlen / 2 + 1) * (3 * longest + 1);
    if (ra == 0) {
        if (a.len > LUX_SUBST_MAX_OUT || a.len > bound || a.ptr[a.len] != '\0')
            fail();
        if (a.len != b.len || memcmp(a.ptr, b.ptr, a.len) != 0)
            fail();
        if (!memchr(tmpl, '$', tlen) && !memchr(tmpl, '%', tlen) &&
            (a.len != tlen || memcmp(a.ptr, tmpl, tlen) != 0))
            fail();
    } else if (bound <= LUX_SUBST_MAX_OUT) {
        fail(); /* only "too long" may fail here: memory is plentiful */
    }
    lux_pool_free(&pool);

    if (tlen <= 4096) {
        check_normalize(tmpl, tlen, 0);
        check_normalize(tmpl, tlen, 1);
    }
    return 0;
}
