/*
 * Accept-Encoding fuzzing. Input: 1 byte choosing a subset and order of allowed codings, then
 * the header value. Checks the chosen coding is acceptable (non-zero weight), allowed, and
 * that no allowed coding has a higher weight.
 */
#include "mod/deflate_negotiate.h"

#include <stdint.h>
#include <stdlib.h>

static const deflate_enc all[] = {DEFLATE_ENC_ZSTD, DEFLATE_ENC_BR, DEFLATE_ENC_GZIP,
                                  DEFLATE_ENC_DEFLATE, DEFLATE_ENC_BZIP2};

/* The weight under which the chooser may answer allowed coding e (gzip also as x-gzip). */
static int best_weight(const deflate_accept *a, deflate_enc e) {
    int w = deflate_accept_weight(a, e);
    if (e == DEFLATE_ENC_GZIP && a->q[e] < 0 && a->q[DEFLATE_ENC_X_GZIP] > 0)
        w = a->q[DEFLATE_ENC_X_GZIP];
    if (e == DEFLATE_ENC_BZIP2 && a->q[e] < 0 && a->q[DEFLATE_ENC_X_BZIP2] > 0)
        w = a->q[DEFLATE_ENC_X_BZIP2];
    return w;
}

static deflate_enc canonical(deflate_enc e) {
    return e == DEFLATE_ENC_X_GZIP    ? DEFLATE_ENC_GZIP
           : e == DEFLATE_ENC_X_BZIP2 ? DEFLATE_ENC_BZIP2
                                      : e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    deflate_enc allowed[5];
    size_t n = 0;
    for (size_t i = 0; i < 5; i++)
        if (data[0] & (1u << i))
            allowed[n++] = all[(i + (data[0] >> 5)) % 5];
    deflate_accept a;
    deflate_accept_parse((const char *)data + 1, size - 1, &a);
    for (int e = 0; e < DEFLATE_ENC_COUNT; e++)
        if (a.q[e] < -1 || a.q[e] > 1000)
            abort();
    if (a.star < -1 || a.star > 1000 || a.identity < -1 || a.identity > 1000)
        abort();
    deflate_enc got = deflate_choose(&a, allowed, n);
    int got_w = 0;
    if (got != DEFLATE_ENC_NONE) {
        size_t i = 0;
        while (i < n && allowed[i] != canonical(got))
            i++;
        if (i == n)
            abort();
        got_w = best_weight(&a, allowed[i]);
        if (got_w <= 0)
            abort();
    }
    for (size_t i = 0; i < n; i++)
        if (best_weight(&a, allowed[i]) > got_w)
            abort();
    return 0;
}
