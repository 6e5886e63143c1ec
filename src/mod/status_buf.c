#include "mod/status_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(lux_sbuf *b, size_t more) {
    if (b->failed)
        return -1;
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->ptr, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->ptr = p;
    b->cap = cap;
    return 0;
}

void lux_sbuf_put(lux_sbuf *b, const char *s, size_t len) {
    if (reserve(b, len) < 0)
        return;
    memcpy(b->ptr + b->len, s, len);
    b->len += len;
    b->ptr[b->len] = 0;
}

void lux_sbuf_printf(lux_sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void lux_sbuf_html(lux_sbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&':
            LUX_SBUF_LIT(b, "&amp;");
            break;
        case '<':
            LUX_SBUF_LIT(b, "&lt;");
            break;
        case '>':
            LUX_SBUF_LIT(b, "&gt;");
            break;
        case '"':
            LUX_SBUF_LIT(b, "&quot;");
            break;
        case '\'':
            LUX_SBUF_LIT(b, "&#39;");
            break;
        default:
            lux_sbuf_put(b, s, 1);
        }
    }
}

void lux_sbuf_free(lux_sbuf *b) {
    free(b->ptr);
    *b = (lux_sbuf){0};
}
