/*
 * proxy.header's maps on arbitrary bytes: the input is split at NULs into a value and map
 * entries (key, value, key, value, ...) shared by the three maps. For each value, the request
 * and response URI maps and the Set-Cookie map measure what they then write (with cap 0, and
 * with a buffer cut short, the count is the same), write nothing beyond cap, and are
 * deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upstream/proxy_map.h"

#define MAX_ENTRIES 8

typedef size_t (*map_fn)(lux_proxy_remap *m, int is_req, const char *v, size_t len, char *out,
                         size_t cap);

static size_t set_cookie(lux_proxy_remap *m, int is_req, const char *v, size_t len, char *out,
                         size_t cap) {
    (void)is_req;
    return lux_proxy_map_set_cookie(m, v, len, out, cap);
}

/* Split data at NULs: the first piece is the value, the rest key/value pairs. */
static size_t split(const char *data, size_t size, lux_str *pieces, size_t max) {
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < max; i++)
        if (i == size || data[i] == '\0') {
            pieces[n++] = (lux_str){data + start, i - start};
            start = i + 1;
        }
    return n;
}

static void check(const lux_proxy_maps *maps, lux_str host, int https, map_fn fn, int is_req,
                  const lux_str *v) {
    lux_proxy_remap m;
    lux_proxy_remap_init(&m, maps, host, https);
    lux_proxy_map_host(&m, 1, host.ptr ? host.ptr : "", host.len);
    size_t need = fn(&m, is_req, v->ptr, v->len, NULL, 0);
    char *a = malloc(need + 1), *b = malloc(need + 1);
    if (!a || !b)
        abort();
    a[need] = b[need] = 'Z';
    if (fn(&m, is_req, v->ptr, v->len, a, need) != need || a[need] != 'Z')
        abort();
    size_t half = need / 2;
    if (fn(&m, is_req, v->ptr, v->len, b, half) != need || memcmp(a, b, half) != 0)
        abort();
    if (fn(&m, is_req, v->ptr, v->len, b, need) != need || memcmp(a, b, need) != 0)
        abort();
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lux_str p[1 + 2 * MAX_ENTRIES + 1];
    size_t n = split((const char *)data, size, p, sizeof p / sizeof *p);
    lux_keyval kv[MAX_ENTRIES];
    size_t nkv = 0;
    for (size_t i = 1; i + 1 < n && nkv < MAX_ENTRIES; i += 2)
        kv[nkv++] = (lux_keyval){p[i], p[i + 1]};
    lux_proxy_maps maps = {kv, kv, kv, nkv, nkv, nkv};
    lux_str host = nkv ? kv[0].key : (lux_str){NULL, 0};
    for (int https = 0; https < 2; https++) {
        check(&maps, host, https, lux_proxy_map_uri, 1, &p[0]);
        check(&maps, host, https, lux_proxy_map_uri, 0, &p[0]);
        check(&maps, host, https, set_cookie, 0, &p[0]);
    }
    return 0;
}
