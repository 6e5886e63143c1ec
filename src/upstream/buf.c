#include "upstream/buf.h"

#include <stdlib.h>
#include <string.h>

char *lux_ups_buf_reserve(lux_ups_buf *b, size_t n) {
    if (b->off && b->off == b->len)
        b->off = b->len = 0;
    if (b->cap - b->len >= n)
        return b->data + b->len;
    if (b->off) { /* reclaim the sent front before growing */
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= n)
            return b->data + b->len;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return NULL;
    b->data = d;
    b->cap = cap;
    return b->data + b->len;
}

int lux_ups_buf_put(lux_ups_buf *b, const void *p, size_t n) {
    if (!n)
        return 0; /* p may be NULL then */
    char *dst = lux_ups_buf_reserve(b, n);
    if (!dst)
        return -1;
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

void lux_ups_buf_consume(lux_ups_buf *b, size_t n) {
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

void lux_ups_buf_free(lux_ups_buf *b) {
    free(b->data);
    *b = (lux_ups_buf){0};
}
