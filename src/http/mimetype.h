/* File name → Content-Type, from mimetype.assign or the built-in table. */
#ifndef LUX_MIMETYPE_H
#define LUX_MIMETYPE_H

#include <stddef.h>

typedef struct {
    const char *suffix; /* ".html", or a whole name like "README" */
    const char *type;   /* "text/html; charset=utf-8" */
} lux_mimetype;

/*
 * Look up name (a file name or path) in table[0..n): the entry whose suffix is the longest match
 * at the end of name wins (lighttpd semantics; an empty suffix "" is the fallback). Matching is
 * bytewise, case-sensitive; between equally long suffixes the earlier entry wins.
 * Returns NULL when nothing matches.
 */
const char *lux_mimetype_lookup(const lux_mimetype *table, size_t n, const char *name, size_t len);

/* The built-in table used when mimetype.assign is not set. */
extern const lux_mimetype lux_mimetype_defaults[];
extern const size_t lux_mimetype_defaults_len;

#endif
