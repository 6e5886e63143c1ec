/*
 * Response headers the server makes itself. lux_resp_header (include/lux/req.h) checks every
 * byte of what a module passes; the server's own code knows its names are tokens and its values
 * clean (constants, numbers and dates it formatted, config values checked once), and skips what
 * those checks could never find.
 */
#ifndef LUX_HTTP_RESPONSE_H
#define LUX_HTTP_RESPONSE_H

#include <stddef.h>

#include "lux/req.h"

/*
 * Append a header without checks. name: a string literal (kept by reference), a token that is
 * none of the framing headers the serialiser writes itself (Connection, Content-Length,
 * Transfer-Encoding); value: no CR, LF or NUL (copied into the request pool, NUL-terminated).
 * Returns 0 or -1 (out of memory).
 */
int lux_resp_header_trusted(lux_req *r, const char *name, size_t nlen, const char *value,
                            size_t vlen);

/* lux_resp_header_trusted for a value that outlives the request as it is (a string literal, a
 * value of the request's config generation, NUL-terminated): kept by reference, not copied. */
int lux_resp_header_static(lux_req *r, const char *name, size_t nlen, const char *value,
                           size_t vlen);

/* Would lux_resp_header take value as a field value (RFC 9110 5.5: no CR, LF or NUL)? */
int lux_resp_value_ok(const char *value, size_t len);

#endif
