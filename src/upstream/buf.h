/*
 * A growable byte buffer on the heap: what a gateway has encoded for its backend and not yet
 * written. Bytes are appended at the end and consumed from the front.
 */
#ifndef LUX_UPS_BUF_H
#define LUX_UPS_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t off, len, cap; /* unsent bytes are data[off, len) */
} lux_ups_buf;

/* Room for n more bytes at data + len; NULL out of memory. */
char *lux_ups_buf_reserve(lux_ups_buf *b, size_t n);
/* Append n bytes; 0 or -1. */
int lux_ups_buf_put(lux_ups_buf *b, const void *p, size_t n);
/* Bytes waiting to be sent. */
static inline size_t lux_ups_buf_pending(const lux_ups_buf *b) {
    return b->len - b->off;
}
/* n bytes were sent: forget them (and start over at the front once all are). */
void lux_ups_buf_consume(lux_ups_buf *b, size_t n);
void lux_ups_buf_free(lux_ups_buf *b);

#endif
