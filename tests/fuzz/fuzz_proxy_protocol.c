/*
 * The PROXY protocol parser on arbitrary bytes. A complete header's length lies within the
 * input (and within 107 bytes for version 1); every shorter prefix of a complete header is a
 * valid beginning (0), which is what lets the connection wait for more; parsing is
 * deterministic; the strings a header names lie inside it, and the copy a connection keeps
 * holds each of them whole or not at all.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/proxy_protocol.h"

static int inside(const char *p, size_t n, const uint8_t *lo, size_t len) {
    return !p || ((const uint8_t *)p >= lo && (const uint8_t *)p + n <= lo + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lux_pp_header a, b;
    long n = lux_pp_parse(data, size, &a);
    if (n != lux_pp_parse(data, size, &b) || n < -1 || n > (long)size)
        abort();
    if (n <= 0)
        return 0;
    if (a.version == 1 && n > LUX_PP_V1_MAX)
        abort();
    for (int i = 0; i < LUX_PP_NFACTS; i++)
        if (!inside(a.facts[i].ptr, a.facts[i].len, data, (size_t)n))
            abort();
    lux_pp_tls *t;
    if (lux_pp_tls_keep(&a, &t) == 0 && t) {
        for (int i = 0; i < LUX_PP_NFACTS; i++)
            if (t->facts[i] && (!a.facts[i].ptr || strlen(t->facts[i]) != a.facts[i].len))
                abort();
        free(t);
    }
    for (long k = 0; k < n; k++)
        if (lux_pp_parse(data, (size_t)k, &b) != 0)
            abort();
    return 0;
}
