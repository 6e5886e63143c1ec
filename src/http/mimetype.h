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
 * at the end of name wins (lighttpd semantics; an empty suffix "" is the fallback). ASCII letters
 * match in either case, as in lighttpd ("IMAGE.JPG" is ".jpg"), but between equally long
 * suffixes one matching byte for byte wins ("a.C" is ".C" even after ".c"); after that the
 * earlier entry. Returns NULL when nothing matches.
 */
const char *lux_mimetype_lookup(const lux_mimetype *table, size_t n, const char *name, size_t len);

/*
 * The type to store for a mimetype.assign entry suffix => type: the type itself, except that
 * ".js" => "application/javascript" becomes "text/javascript" (RFC 9239), as lighttpd does.
 */
const char *lux_mimetype_assigned(const char *suffix, const char *type);

/* The built-in table used when mimetype.assign is not set. */
extern const lux_mimetype lux_mimetype_defaults[];
extern const size_t lux_mimetype_defaults_len;

#endif
