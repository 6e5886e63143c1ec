/*
 * An HTTP/1.x response head from a backend (RFC 9112), parsed without I/O or allocation: the
 * status, how the body is framed, whether the connection stays open, and the end-to-end
 * fields. Hop-by-hop fields (Connection and what it names, Keep-Alive, Proxy-Connection, TE,
 * Trailer, Transfer-Encoding, Upgrade) and Content-Length, which the server frames itself,
 * are not handed on.
 */
#ifndef LUX_HTTP_RESP_H
#define LUX_HTTP_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "http/cgi_headers.h"

typedef struct {
    int status;
    int minor;              /* HTTP/1.minor */
    int chunked;            /* Transfer-Encoding ends in chunked */
    int64_t content_length; /* -1 when absent */
    int keep_alive;         /* HTTP/1.1 without Connection: close (or 1.0 with keep-alive) */
    const char *upgrade;    /* the Upgrade field's value (into buf), NULL when absent: a 101's
                             * protocol, which is not handed on as a field */
    size_t upgrade_len;
} lux_http_resp;

/*
 * Parse the head buf[0, end) (end as lux_cgi_head_end gives it). Calls fn for each end-to-end
 * field, in order. Returns 0, or -1 when the head is broken (a bad status line or field,
 * conflicting or invalid Content-Length, a Transfer-Encoding other than chunked last).
 */
int lux_http_resp_parse(const char *buf, size_t end, lux_http_resp *h, lux_cgi_field_fn fn,
                        void *arg);

#endif
