/*
 * Comma-separated token lists in fields (Connection, Upgrade, Sec-WebSocket-Protocol, ...):
 * RFC 9110 section 5.6.1, elements with optional whitespace around them, empty ones skipped.
 */
#ifndef LUX_TOKEN_LIST_H
#define LUX_TOKEN_LIST_H

#include <stddef.h>

/* Does the list v[0, len) hold token, compared case-insensitively? */
int lux_list_has_token(const char *v, size_t len, const char *token);

#endif
