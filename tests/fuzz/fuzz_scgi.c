/*
 * SCGI and uwsgi head fuzzing: variables cut from the input (names and values may hold any
 * byte but NUL for SCGI) encode into heads that decode back to the same variables, with
 * CONTENT_LENGTH first and SCGI second in SCGI heads.
 */
#include "upstream/scgi.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VARS 16

/* Variables from the input: pieces separated by NUL, in name/value pairs. */
static size_t cut(const uint8_t *data, size_t size, lux_cgi_var *vars) {
    size_t n = 0, start = 0, k = 0;
    lux_str s[2 * MAX_VARS];
    for (size_t i = 0; i <= size && k < 2 * MAX_VARS; i++)
        if (i == size || data[i] == 0) {
            s[k++] = (lux_str){(const char *)data + start, i - start};
            start = i + 1;
        }
    for (size_t i = 0; i + 1 < k; i += 2) {
        if (s[i].len == 14 && !memcmp(s[i].ptr, "CONTENT_LENGTH", 14))
            continue;
        vars[n++] = (lux_cgi_var){s[i], s[i + 1]};
    }
    return n;
}

static void check_scgi(const lux_ups_buf *b, const lux_cgi_var *vars, size_t n) {
    char *colon = memchr(b->data, ':', b->len);
    if (!colon)
        abort();
    size_t len = strtoul(b->data, NULL, 10), off = (size_t)(colon - b->data) + 1;
    if (off + len + 1 != b->len || b->data[b->len - 1] != ',')
        abort();
    static const char first[] = "CONTENT_LENGTH\0"
                                "7\0SCGI\0"
                                "1\0";
    if (len < sizeof first - 1 || memcmp(b->data + off, first, sizeof first - 1))
        abort();
    const char *p = b->data + off + sizeof first - 1;
    for (size_t i = 0; i < n; i++) {
        const lux_cgi_var *v = &vars[i];
        if (memcmp(p, v->name.ptr, v->name.len) || p[v->name.len] ||
            memcmp(p + v->name.len + 1, v->value.ptr, v->value.len) ||
            p[v->name.len + 1 + v->value.len])
            abort();
        p += v->name.len + v->value.len + 2;
    }
    if (p != b->data + off + len)
        abort();
}

static void check_uwsgi(const lux_ups_buf *b, const lux_cgi_var *vars, size_t n) {
    const unsigned char *p = (const unsigned char *)b->data;
    size_t size = p[1] | (size_t)p[2] << 8;
    if (p[0] || p[3] || size + 4 != b->len)
        abort();
    p += 4;
    for (size_t i = 0; i < n; i++) {
        const lux_cgi_var *v = &vars[i];
        size_t nl = p[0] | (size_t)p[1] << 8;
        if (nl != v->name.len || memcmp(p + 2, v->name.ptr, nl))
            abort();
        p += 2 + nl;
        size_t vl = p[0] | (size_t)p[1] << 8;
        if (vl != v->value.len || memcmp(p + 2, v->value.ptr, vl))
            abort();
        p += 2 + vl;
    }
    if (p != (const unsigned char *)b->data + b->len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lux_cgi_var vars[MAX_VARS];
    size_t n = cut(data, size, vars);
    lux_ups_buf b = {0};
    if (lux_scgi_head(&b, vars, n, 7) < 0)
        abort();
    check_scgi(&b, vars, n);
    lux_ups_buf_free(&b);
    if (lux_uwsgi_head(&b, vars, n) == 0)
        check_uwsgi(&b, vars, n);
    lux_ups_buf_free(&b);
    return 0;
}
