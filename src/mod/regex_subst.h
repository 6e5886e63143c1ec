/*
 * "regex" => "replacement" lists, as mod_rewrite and mod_redirect use them: compiled once at
 * load time (PCRE2, JIT when available), matched in order (the first match wins), the winner's
 * replacement expanded with lighttpd's syntax:
 *
 *   $0..$9              the rule's regex captures, copied as they are
 *   %0..%9              the captures of the conditional block that set the rules
 *   $$  %%              a literal "$" / "%"; "$" or "%" before anything else stays as it is
 *   ${url.scheme} ${url.authority} ${url.port} ${url.path} ${url.query}
 *   ${qsa}              "?query" ("&query" when the result already has a "?"), or nothing
 *   ${n} %{n}           capture n (0..19) percent-encoded like a path (the default inside braces)
 *   modifiers before the name: esc: escape: (encode all but unreserved), escnde:, escpsnde:
 *   (keep existing escapes, and "/" for psnde), noesc: noescape:, encb64u:, decb64u:,
 *   tolower:, toupper:  e.g. ${tolower:url.authority}, ${esc:1}
 *
 * A brace form that is never closed ends the expansion where it starts.
 */
#ifndef LUX_REGEX_SUBST_H
#define LUX_REGEX_SUBST_H

#include <stddef.h>

#include "core/gen.h"
#include "core/pool.h"
#include "lux/module.h"
#include "lux/req.h"

#define LUX_SUBST_MAX_CAPTURES 20   /* $0..$19: ${nn} reaches past $9 */
#define LUX_SUBST_MAX_OUT (64 * 1024) /* an expansion longer than this is an error */

typedef struct {
    void *re; /* pcre2_code * */
    const char *repl;
    size_t repl_len;
} lux_subst_rule;

typedef struct {
    lux_subst_rule *rules;
    size_t n;
    size_t split;   /* rules [0, split) came from the first group of keys (see below) */
    unsigned block; /* config block that set the rules: its captures are %0..%9 */
} lux_subst_list;

/* What an expansion may refer to besides the regex captures. */
typedef struct {
    const lux_cond_captures *cond; /* %n; NULL when there are none */
    lux_str scheme, authority, path, query; /* path without "?"; query.ptr NULL when absent */
    int port;
} lux_subst_ctx;

typedef struct {
    int n; /* valid entries */
    const char *ptr[LUX_SUBST_MAX_CAPTURES];
    size_t len[LUX_SUBST_MAX_CAPTURES];
} lux_subst_caps;

/*
 * For a directive parse function: v is the value of one of `keys` (NULL-terminated) in some
 * config block. Compile, in the order of `keys`, the rules of every one of them that this block
 * sets into one list (lighttpd keeps one combined list per block: a block setting any of the
 * keys replaces the whole list). The first `nfirst` keys form the group before `split`.
 * Returns 0, or -1 with a message in err.
 */
int lux_subst_parse(lux_gen *gen, const lux_value *v, const char *const *keys, size_t nfirst,
                    const lux_subst_list **out, char *err, size_t errlen);

enum {
    LUX_SUBST_ERROR = -1,   /* matching failed, out of memory, or the result is too long */
    LUX_SUBST_NOMATCH = 0,  /* no rule matched */
    LUX_SUBST_EMPTY = 1,    /* a rule with an empty replacement matched: stop, change nothing */
    LUX_SUBST_MATCH = 2,    /* *out holds the expansion (NUL-terminated, in pool) */
};

/* The context of request r for list l: its URL parts, and the captures of l's block (or of the
 * nearest enclosing block with captures). */
void lux_subst_req_ctx(const lux_req *r, const lux_subst_list *l, lux_subst_ctx *ctx);

/* Match subj against l's rules in order and expand the first match. *rule: its index. */
int lux_subst_apply(const lux_subst_list *l, const char *subj, size_t len,
                    const lux_subst_ctx *ctx, lux_pool *pool, lux_str *out, size_t *rule);

/* Expand one replacement (pure). Returns 0, or -1 when out of memory or too long. */
int lux_subst_expand(const char *tmpl, size_t tlen, const lux_subst_caps *caps,
                     const lux_subst_ctx *ctx, lux_pool *pool, lux_str *out);

/*
 * lighttpd's load-time normalisation, so that rules match the normalised request URI: in a regex
 * (repl == 0) "%xx" gets upper-case hex and bytes >= 0x80 become "%XX"; in a replacement the
 * same applies to "%%xx" and high bytes become "%%XX". dst holds 4 * len + 1 bytes; returns
 * the new length (dst is NUL-terminated).
 */
size_t lux_subst_normalize(const char *src, size_t len, int repl, char *dst);

#endif
