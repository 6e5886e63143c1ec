/* A growing text buffer for the status pages; an allocation failure sticks until the end. */
#ifndef LUX_STATUS_BUF_H
#define LUX_STATUS_BUF_H

#include <stddef.h>

typedef struct {
    char *ptr;
    size_t len, cap;
    int failed; /* out of memory: the text is incomplete */
} lux_sbuf;

void lux_sbuf_printf(lux_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lux_sbuf_put(lux_sbuf *b, const char *s, size_t len);
/* A string literal. */
#define LUX_SBUF_LIT(b, s) lux_sbuf_put((b), "" s, sizeof(s) - 1)
/* s with & < > " ' escaped for HTML text and attributes. */
void lux_sbuf_html(lux_sbuf *b, const char *s);
void lux_sbuf_free(lux_sbuf *b);

#endif
