/*
 * The response head a CGI-style backend writes before its body (RFC 3875 6.2), parsed without
 * I/O or allocation: CGI, and later FastCGI and SCGI, feed it what they read from the backend.
 *
 * Lenient where backends differ (lines end in "\n" or "\r\n", the head ends with an empty
 * line either way, an "HTTP/1.x NNN" first line as non-parsed-header scripts write it) and
 * strict where a mistake would reach the client: every field name is a token, no value holds
 * a NUL or a bare CR, a Status must be a three-digit code from 100 to 599, and a head that
 * does not end within its bound is refused. A refused head is the backend's fault: 502.
 */
#ifndef LUX_CGI_HEADERS_H
#define LUX_CGI_HEADERS_H

#include <stddef.h>
#include <stdint.h>

#include "lux/module.h"

/* A bound on the head lux reads from a backend before giving up on it. */
#define LUX_CGI_HEAD_MAX (64 * 1024)

/*
 * Where the head in buf[0, len) ends: the offset of the first body byte (> 0), 0 when the
 * empty line has not arrived yet, -1 when it did not come within max bytes.
 */
long lux_cgi_head_end(const char *buf, size_t len, size_t max);

/* What the head says beyond its plain fields. */
typedef struct {
    int status;       /* from Status: or an HTTP/1.x status line; 0 when neither is there */
    lux_str location; /* the Location value; ptr NULL when absent */
    /* The Content-Length the backend announced (it is still passed to fn); -1 when absent or
     * not a plain number. A body that ends shorter than this is cut, not whole. */
    int64_t content_length;
} lux_cgi_head;

/* Called for every field but Status (Location included), in order; points into buf. Returns
 * 0, or -1 to stop the parse (which then fails). */
typedef int (*lux_cgi_field_fn)(void *arg, const char *name, size_t nlen, const char *value,
                                size_t vlen);

/*
 * Parse the head buf[0, end) (end as lux_cgi_head_end gave it). Fills h, calls fn for each
 * field. Returns 0, or -1 when the head is broken (or fn refused a field).
 */
int lux_cgi_head_parse(const char *buf, size_t end, lux_cgi_head *h, lux_cgi_field_fn fn,
                       void *arg);

#endif
