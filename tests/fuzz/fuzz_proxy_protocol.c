/*
 * The PROXY protocol parser on arbitrary bytes. A complete header's length lies within the
 * input (and within 107 bytes for version 1); every shorter prefix of a complete header is a
 * valid beginning (0), which is what lets the connection wait for more; parsing is
 * deterministic; the SSL strings a header names lie inside it.
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
    if (!inside(a.ssl_version, a.ssl_version_len, data, (size_t)n) ||
        !inside(a.ssl_cn, a.ssl_cn_len, data, (size_t)n))
        abort();
    for (long k = 0; k < n; k++)
        if (lux_pp_parse(data, (size_t)k, &b) != 0)
            abort();
    return 0;
}
