/*
 * WebSocket decoder: decoding in one call and in random pieces gives the same events (data
 * joined per message, control frames, the error and its code), every event's bytes lie inside
 * what was given, and control payloads stay within 125 bytes. The first byte picks the message
 * bound, the second the split pattern.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/ws_frame.h"

typedef struct {
    uint8_t *log; /* events written out: a tag, then the bytes */
    size_t len, cap;
} trace;

static void put(trace *t, const void *p, size_t n) {
    if (t->len + n > t->cap)
        abort();
    memcpy(t->log + t->len, p, n);
    t->len += n;
}

/* Pieces come from `seed` (0: one piece). */
static void decode(const uint8_t *in, size_t len, uint64_t max, unsigned seed, trace *t) {
    lux_ws_decoder d;
    lux_ws_decoder_init(&d, max);
    size_t off = 0;
    while (off < len) {
        size_t n = len - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            size_t k = (seed >> 16) % 17;
            if (k < n)
                n = k;
        }
        uint8_t *piece = malloc(n ? n : 1); /* exact size: overruns are caught */
        if (!piece)
            abort();
        memcpy(piece, in + off, n);
        size_t at = 0;
        for (;;) {
            size_t used = 0;
            lux_ws_event ev;
            lux_ws_ev e = lux_ws_decode(&d, piece + at, n - at, &used, &ev);
            if (used > n - at)
                abort();
            at += used;
            if (e == LUX_WS_MORE) {
                if (at != n)
                    abort();
                break;
            }
            if (e == LUX_WS_ERROR) {
                uint8_t tag[3] = {'!', (uint8_t)(ev.code >> 8), (uint8_t)ev.code};
                put(t, tag, sizeof tag);
                free(piece);
                return;
            }
            if (e == LUX_WS_DATA) {
                if (ev.data < piece || ev.data + ev.len > piece + at)
                    abort();
                put(t, ev.data, ev.len);
                if (ev.last)
                    put(t, "|", 1);
            } else {
                if (ev.len > 125)
                    abort();
                uint8_t tag[4] = {'<', (uint8_t)ev.opcode, (uint8_t)(ev.code >> 8),
                                  (uint8_t)ev.code};
                put(t, tag, sizeof tag);
                put(t, ev.data, ev.len);
            }
        }
        free(piece);
        off += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    uint64_t max = data[0] & 0x80 ? 0 : data[0];
    unsigned seed = data[1] ? data[1] : 1u;
    const uint8_t *in = data + 2;
    size_t len = size - 2;
    /* each input byte yields at most a few bytes of log: a tag per frame head of 2+ bytes */
    size_t cap = 4 * len + 16;
    trace a = {malloc(cap), 0, cap}, b = {malloc(cap), 0, cap};
    if (!a.log || !b.log)
        abort();
    decode(in, len, max, 0, &a);
    decode(in, len, max, seed, &b);
    if (a.len != b.len || memcmp(a.log, b.log, a.len) != 0)
        abort();
    free(a.log);
    free(b.log);
    return 0;
}
