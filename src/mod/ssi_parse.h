/*
 * Server-side include syntax, pure: finding <!--#command attr="value" ... --> directives in a
 * document, and evaluating the expressions of #if / #elif. No I/O and no allocation beyond the
 * caller's scratch buffer (and PCRE2's, for a /regex/).
 */
#ifndef LUX_SSI_PARSE_H
#define LUX_SSI_PARSE_H

#include <stddef.h>

/* A directive carries at most this many attributes; more make it malformed. */
#define SSI_MAX_ATTRS 8

typedef struct {
    const char *name, *value; /* slices of the document, not NUL-terminated */
    size_t name_len, value_len;
} ssi_attr;

typedef struct {
    const char *cmd;
    size_t cmd_len;
    ssi_attr attrs[SSI_MAX_ATTRS];
    size_t nattrs;
} ssi_directive;

typedef enum {
    SSI_NONE,      /* no directive from here on: the rest is text */
    SSI_DIRECTIVE, /* *d holds a well-formed directive */
    SSI_MALFORMED, /* a directive's span was found but its inside does not parse */
} ssi_found;

/*
 * Look for the next directive in doc[0..len). On SSI_DIRECTIVE or SSI_MALFORMED, *start is the
 * offset of its "<!--#" and *end the offset just past its "-->". A "<!--#" with no "-->" after
 * it is text (SSI_NONE). Attribute values are quoted with '"', '\'' or '`'; a backslash keeps the
 * quote that follows it (the value slice still holds the backslash: see ssi_unescape).
 */
ssi_found ssi_next(const char *doc, size_t len, size_t *start, size_t *end, ssi_directive *d);

/* Copy an attribute value into dst (cap bytes, NUL-terminated), dropping the backslash of each
 * escaped quote. Returns the length, or -1 when it does not fit. */
long ssi_unescape(const char *v, size_t len, char *dst, size_t cap);

/* Does the directive's command equal the NUL-terminated name? */
int ssi_cmd_is(const ssi_directive *d, const char *name);
/* Does the attribute's name equal the NUL-terminated name? */
int ssi_attr_is(const ssi_attr *a, const char *name);

/* A variable's value for $NAME / ${NAME} in expressions: 0 and *val, *vlen when set, else -1
 * (an unset variable is the empty string). */
typedef int (*ssi_lookup_fn)(void *ctx, const char *name, size_t len, const char **val,
                             size_t *vlen);

/*
 * Evaluate an #if expression (Apache's classic syntax, which lighttpd follows): strings (bare
 * words, or quoted with '...'), $VAR and ${VAR} substituted inside them, comparisons = == != <
 * <= > >= (a /regex/ on the right of = or != matches with PCRE2), !, && (binding tighter than
 * ||), ||, parentheses. A string alone is true when non-empty. scratch (cap bytes) holds the
 * substituted strings. Returns 1 (true), 0 (false) or -1 (syntax error, a bad regex, or
 * scratch too small).
 */
int ssi_expr_eval(const char *expr, size_t len, ssi_lookup_fn lookup, void *ctx, char *scratch,
                  size_t cap);

#endif
