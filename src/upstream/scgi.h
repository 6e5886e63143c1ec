/*
 * The request heads of SCGI (a netstring of NUL-separated names and values, CONTENT_LENGTH
 * first, then "SCGI" "1") and uwsgi (a 4-byte packet header, modifier 0, then 2-byte
 * little-endian lengths before each name and value), without I/O. The body follows either
 * head as it is; the backend answers with a CGI-style head (or an HTTP status line) and the
 * body, and closes the connection.
 */
#ifndef LUX_SCGI_H
#define LUX_SCGI_H

#include <stddef.h>
#include <stdint.h>

#include "http/cgi_env.h"
#include "upstream/buf.h"

/* The SCGI head for vars (any CONTENT_LENGTH among them is replaced by content_length). 0 or
 * -1 out of memory. */
int lux_scgi_head(lux_ups_buf *out, const lux_cgi_var *vars, size_t n, uint64_t content_length);
/* The uwsgi head for vars; -1 out of memory or when a name, a value or the whole exceeds
 * the 64 KiB the format can say. */
int lux_uwsgi_head(lux_ups_buf *out, const lux_cgi_var *vars, size_t n);

#endif
