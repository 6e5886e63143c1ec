/*
 * Chunked decoder: decoding in one call and in random pieces give the same body, the same
 * verdict and the same bytes after the body. The first two bytes pick max_line and the split
 * pattern.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1/chunked.h"

typedef struct {
    ssize_t ret; /* -1, -2, or 0 when complete */
    char *body;
    size_t body_len;
    char *rest;
    size_t rest_len;
} outcome;

static void fail(void)
{
    abort();
}

/* Decode in pieces; piece lengths come from `seed` (0: one piece). */
static void decode(const char *in, size_t len, size_t max_line, unsigned seed, outcome *o)
{
    lux_chunked_decoder d = {.max_line = max_line};
    lux_chunked_init(&d);
    o->ret = -2;
    o->body_len = o->rest_len = 0;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            size_t k = (seed >> 16) % 9;
            if (k < n)
                n = k;
        }
        /* an exact-size copy so that reading or writing past it is caught */
        char *piece = malloc(n ? n : 1);
        if (!piece)
            abort();
        memcpy(piece, in + off, n);
        off += n;
        size_t plen = n;
        ssize_t r = lux_chunked_decode(&d, piece, &plen);
        if (r == -1) {
            free(piece);
            o->ret = -1;
            return;
        }
        if (plen > n || (r >= 0 && plen + (size_t)r > n) || (r < 0 && r != -2))
            fail();
        memcpy(o->body + o->body_len, piece, plen);
        o->body_len += plen;
        if (r >= 0) {
            memcpy(o->rest, piece + plen, (size_t)r);
            o->rest_len = (size_t)r;
            memcpy(o->rest + o->rest_len, in + off, len - off);
            o->rest_len += len - off;
            o->ret = 0;
            free(piece);
            return;
        }
        free(piece);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max_line = data[0] < 128 ? data[0] : 0;
    unsigned seed = data[1] ? data[1] : 1u;
    const char *in = (const char *)data + 2;
    size_t len = size - 2;

    char *buf = malloc(len * 4 + 4);
    if (!buf)
        return 0;
    outcome a = {.body = buf, .rest = buf + len + 1};
    outcome b = {.body = buf + 2 * len + 2, .rest = buf + 3 * len + 3};
    decode(in, len, max_line, 0, &a);
    decode(in, len, max_line, seed, &b);
    if (a.ret != b.ret)
        fail();
    if (a.ret != -1) {
        if (a.body_len != b.body_len || memcmp(a.body, b.body, a.body_len) != 0)
            fail();
        if (a.rest_len != b.rest_len || memcmp(a.rest, b.rest, a.rest_len) != 0)
            fail();
        if (a.body_len + a.rest_len > len)
            fail();
        /* the bytes after the body are exactly the input's tail */
        if (a.ret == 0 && memcmp(a.rest, in + len - a.rest_len, a.rest_len) != 0)
            fail();
    }
    free(buf);
    return 0;
}
