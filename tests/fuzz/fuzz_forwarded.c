/*
 * mod_extforward's header parsers and mod_evhost's pattern expansion, on arbitrary bytes.
 * Forwarded: the result is -1 or 1..XF_FORWARDED_MAX elements, every value lies inside the
 * input or the scratch buffer, a for= value never keeps its brackets, and parsing is
 * deterministic. X-Forwarded-For: tokens lie inside the input, in order, made of address
 * characters only, and each parses (or not) without harm. Networks: a parsed network holds its
 * own address. evhost: the measured length matches the written one, within a bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mod/extforward_parse.h"
#include "mod/vhost_path.h"

static void fail(void) {
    abort();
}

static int inside(const xf_str *s, const char *lo, size_t n) {
    return !s->ptr || (s->ptr >= lo && s->ptr + s->len <= lo + n);
}

static void check_forwarded(const char *v, size_t n) {
    char *scratch = malloc(n + 1), *again = malloc(n + 1);
    xf_forwarded a[XF_FORWARDED_MAX], b[XF_FORWARDED_MAX];
    if (!scratch || !again)
        abort();
    int na = xf_forwarded_parse(v, n, scratch, a);
    int nb = xf_forwarded_parse(v, n, again, b);
    if (na != nb || na == 0 || na > XF_FORWARDED_MAX)
        fail();
    for (int i = 0; i < na; i++) {
        const xf_str *f[] = {&a[i].for_, &a[i].proto, &a[i].host};
        for (int k = 0; k < 3; k++)
            if (!inside(f[k], v, n) && !inside(f[k], scratch, n))
                fail();
        if (a[i].for_.ptr && a[i].for_.len && a[i].for_.ptr[0] == '[')
            fail();
        if ((a[i].for_.ptr != NULL) != (b[i].for_.ptr != NULL) || a[i].for_.len != b[i].for_.len)
            fail();
        xf_net addr;
        if (a[i].for_.ptr)
            (void)(xf_forwarded_is_addr(&a[i].for_) &&
                   xf_parse_addr(a[i].for_.ptr, a[i].for_.len, &addr));
    }
    free(scratch);
    free(again);
}

static void check_list(const char *v, size_t n) {
    xf_str out[8];
    size_t k = xf_list_split(v, n, out, 8);
    if (k > 8)
        fail();
    for (size_t i = 0; i < k; i++) {
        if (!out[i].len || !inside(&out[i], v, n) || (i && out[i].ptr <= out[i - 1].ptr))
            fail();
        for (size_t j = 0; j < out[i].len; j++)
            if (!strchr("0123456789abcdefABCDEF.:", out[i].ptr[j]) || !out[i].ptr[j])
                fail();
        xf_net a;
        if (xf_parse_addr(out[i].ptr, out[i].len, &a) == 0 && !xf_net_contains(&a, &a))
            fail();
    }
}

static void check_net(const char *v, size_t n) {
    xf_net net, self;
    if (xf_parse_net(v, n, &net) < 0)
        return;
    if (net.bits < 0 || net.bits > (net.family == 2 /* AF_INET */ ? 32 : 128))
        fail();
    self = net;
    if (!xf_net_contains(&net, &self))
        fail();
}

static void check_evhost(const char *v, size_t n) {
    const char *sep = memchr(v, '\n', n);
    size_t plen = sep ? (size_t)(sep - v) : n;
    const char *host = sep ? sep + 1 : "www.example.com";
    size_t hlen = sep ? n - plen - 1 : 15;
    char err[256];
    if (evhost_pattern_check(v, plen, err, sizeof err) < 0)
        return;
    size_t need = evhost_expand(v, plen, host, hlen, NULL, 0);
    if (need > plen * (hlen > 1 ? hlen : 1))
        fail();
    char *out = malloc(need + 1);
    if (!out)
        abort();
    if (evhost_expand(v, plen, host, hlen, out, need) != need)
        fail();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *v = (const char *)data;
    check_forwarded(v, size);
    check_list(v, size);
    check_net(v, size);
    check_evhost(v, size);
    return 0;
}
