/* Server-side include syntax: directives and #if expressions (see ssi_parse.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "mod/ssi_parse.h"

#include <pcre2.h>
#include <string.h>

/* Backtracking budget of one /regex/ match: a hostile pattern fails instead of spinning. */
#define REGEX_MATCH_LIMIT 100000
/* Nesting of ( and ! in one expression, so that the recursive descent is bounded. */
#define EXPR_MAX_DEPTH 64

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static int is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static const char *find(const char *p, const char *end, const char *needle, size_t n) {
    for (; (size_t)(end - p) >= n; p++)
        if (p[0] == needle[0] && memcmp(p, needle, n) == 0)
            return p;
    return NULL;
}

static const char *skip_space(const char *p, const char *end) {
    while (p < end && is_space(*p))
        p++;
    return p;
}

/* One attr="value" at p (inside [p, end)); returns the position after it, or NULL. */
static const char *parse_attr(const char *p, const char *end, ssi_attr *a) {
    const char *name = p;
    while (p < end && is_name_char(*p))
        p++;
    if (p == name || p >= end || *p != '=')
        return NULL;
    a->name = name;
    a->name_len = (size_t)(p - name);
    p++;
    if (p >= end || (*p != '"' && *p != '\'' && *p != '`'))
        return NULL;
    char quote = *p++;
    const char *value = p;
    while (p < end && *p != quote)
        p += (*p == '\\' && p + 1 < end) ? 2 : 1;
    if (p >= end)
        return NULL;
    a->value = value;
    a->value_len = (size_t)(p - value);
    return p + 1;
}

/* The inside of a directive: "command attr=... attr=... " between "<!--#" and "-->". */
static int parse_inside(const char *p, const char *end, ssi_directive *d) {
    const char *cmd = p;
    while (p < end && is_name_char(*p))
        p++;
    if (p == cmd)
        return -1;
    d->cmd = cmd;
    d->cmd_len = (size_t)(p - cmd);
    d->nattrs = 0;
    for (;;) {
        const char *q = skip_space(p, end);
        if (q == end)
            return 0;
        if (q == p || d->nattrs == SSI_MAX_ATTRS)
            return -1; /* attributes are separated by white space */
        if (!(p = parse_attr(q, end, &d->attrs[d->nattrs++])))
            return -1;
    }
}

ssi_found ssi_next(const char *doc, size_t len, size_t *start, size_t *end, ssi_directive *d) {
    const char *stop = doc + len;
    const char *open = find(doc, stop, "<!--#", 5);
    if (!open)
        return SSI_NONE;
    const char *inside = open + 5;
    /* The closing "-->" is the first one outside a quoted value. */
    const char *p = inside;
    char quote = 0;
    while (p < stop) {
        if (quote) {
            if (*p == '\\' && p + 1 < stop)
                p++;
            else if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'' || *p == '`') {
            quote = *p;
        } else if (*p == '-' && stop - p >= 3 && p[1] == '-' && p[2] == '>') {
            break;
        }
        p++;
    }
    *start = (size_t)(open - doc);
    if (p >= stop) {
        /* An unbalanced quote: the directive ends at the first "-->" and does not parse. */
        const char *close = find(inside, stop, "-->", 3);
        if (!close)
            return SSI_NONE;
        *end = (size_t)(close + 3 - doc);
        return SSI_MALFORMED;
    }
    *end = (size_t)(p + 3 - doc);
    return parse_inside(inside, p, d) == 0 ? SSI_DIRECTIVE : SSI_MALFORMED;
}

long ssi_unescape(const char *v, size_t len, char *dst, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '\\' && i + 1 < len && (v[i + 1] == '"' || v[i + 1] == '\'' || v[i + 1] == '`'))
            i++;
        if (n + 1 >= cap)
            return -1;
        dst[n++] = v[i];
    }
    if (cap == 0)
        return -1;
    dst[n] = '\0';
    return (long)n;
}

int ssi_cmd_is(const ssi_directive *d, const char *name) {
    size_t n = strlen(name);
    return d->cmd_len == n && memcmp(d->cmd, name, n) == 0;
}

int ssi_attr_is(const ssi_attr *a, const char *name) {
    size_t n = strlen(name);
    return a->name_len == n && memcmp(a->name, name, n) == 0;
}

/* ---- expressions ---- */

typedef enum {
    T_END,
    T_STR,
    T_REGEX,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_AND,
    T_OR,
    T_NOT,
    T_LP,
    T_RP,
    T_BAD,
} tok_type;

typedef struct {
    tok_type type;
    const char *s; /* T_STR: in scratch; T_REGEX: the pattern in the expression */
    size_t len;
} token;

typedef struct {
    const char *p, *end;
    ssi_lookup_fn lookup;
    void *ctx;
    char *buf;
    size_t cap, used;
    int depth;
    int err;
} expr;

static int put(expr *e, const char *s, size_t n) {
    if (e->cap - e->used < n) {
        e->err = 1;
        return -1;
    }
    memcpy(e->buf + e->used, s, n);
    e->used += n;
    return 0;
}

/* $NAME or ${NAME} at e->p (just past the '$'): append the variable's value. */
static void substitute(expr *e, const char *stop) {
    int braced = e->p < stop && *e->p == '{';
    const char *name = e->p + braced;
    const char *q = name;
    while (q < stop && (is_name_char(*q) && *q != '-'))
        q++;
    if (braced && (q >= stop || *q != '}')) {
        e->err = 1;
        return;
    }
    if (q == name) { /* a lone '$' is itself */
        put(e, "$", 1);
        return;
    }
    const char *val = NULL;
    size_t vlen = 0;
    if (e->lookup(e->ctx, name, (size_t)(q - name), &val, &vlen) == 0)
        put(e, val, vlen);
    e->p = q + braced;
}

static int ends_bare_word(char c) {
    return is_space(c) || strchr("=!<>&|()'", c) != NULL;
}

/* A string token: a bare word, or '...' (quote kept out), with substitution. */
static void scan_string(expr *e, token *t) {
    t->type = T_STR;
    t->s = e->buf + e->used;
    int quoted = *e->p == '\'';
    if (quoted)
        e->p++;
    while (e->p < e->end && !e->err) {
        char c = *e->p;
        if (quoted ? c == '\'' : ends_bare_word(c))
            break;
        if (c == '\\' && e->p + 1 < e->end) {
            put(e, e->p + 1, 1);
            e->p += 2;
        } else if (c == '$') {
            e->p++;
            substitute(e, e->end);
        } else {
            put(e, e->p++, 1);
        }
    }
    if (quoted) {
        if (e->p >= e->end)
            e->err = 1;
        else
            e->p++;
    }
    t->len = (size_t)(e->buf + e->used - t->s);
}

static void scan_regex(expr *e, token *t) {
    const char *start = ++e->p;
    while (e->p < e->end && *e->p != '/')
        e->p += (*e->p == '\\' && e->p + 1 < e->end) ? 2 : 1;
    if (e->p >= e->end) {
        e->err = 1;
        t->type = T_BAD;
        return;
    }
    t->type = T_REGEX;
    t->s = start;
    t->len = (size_t)(e->p - start);
    e->p++;
}

static tok_type operator_at(expr *e) {
    const char *p = e->p;
    size_t left = (size_t)(e->end - p);
    struct {
        const char *text;
        tok_type type;
    } ops[] = {{"==", T_EQ},  {"!=", T_NE}, {"<=", T_LE}, {">=", T_GE}, {"=>", T_GE},
               {"&&", T_AND}, {"||", T_OR}, {"=", T_EQ},  {"<", T_LT},  {">", T_GT},
               {"!", T_NOT},  {"(", T_LP},  {")", T_RP}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].text);
        if (left >= n && memcmp(p, ops[i].text, n) == 0) {
            e->p += n;
            return ops[i].type;
        }
    }
    return T_BAD;
}

static token next_token(expr *e, int regex_allowed) {
    token t = {T_END, NULL, 0};
    e->p = skip_space(e->p, e->end);
    if (e->p >= e->end)
        return t;
    if (regex_allowed && *e->p == '/') {
        scan_regex(e, &t);
        return t;
    }
    if (*e->p == '\'' || !ends_bare_word(*e->p)) {
        scan_string(e, &t);
        return t;
    }
    t.type = operator_at(e);
    if (t.type == T_BAD)
        e->err = 1; /* a lone '&' or '|' */
    return t;
}

static token peek_token(expr *e, int regex_allowed) {
    const char *p = e->p;
    size_t used = e->used;
    token t = next_token(e, regex_allowed);
    e->p = p;
    e->used = used;
    return t;
}

static int regex_match(expr *e, const char *pat, size_t plen, const char *s, size_t slen) {
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, plen, 0, &errcode, &erroff, NULL);
    pcre2_match_data *md = re ? pcre2_match_data_create(1, NULL) : NULL;
    pcre2_match_context *mc = md ? pcre2_match_context_create(NULL) : NULL;
    int rc = PCRE2_ERROR_NOMEMORY;
    if (mc) {
        pcre2_set_match_limit(mc, REGEX_MATCH_LIMIT);
        rc = pcre2_match(re, (PCRE2_SPTR)s, slen, 0, 0, md, mc);
    }
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    e->err = 1;
    return 0;
}

static int compare(expr *e, tok_type op, const token *l, const token *r) {
    if (r->type == T_REGEX) {
        int m = regex_match(e, r->s, r->len, l->s, l->len);
        return op == T_EQ ? m : !m;
    }
    size_t n = l->len < r->len ? l->len : r->len;
    int c = memcmp(l->s, r->s, n);
    if (c == 0)
        c = (l->len > r->len) - (l->len < r->len);
    switch (op) {
    case T_EQ:
        return c == 0;
    case T_NE:
        return c != 0;
    case T_LT:
        return c < 0;
    case T_LE:
        return c <= 0;
    case T_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

/* Adjacent strings form one, joined by a space (as in Apache: expr="a b" is "a b"). */
static token string_run(expr *e) {
    token t = next_token(e, 0);
    if (t.type != T_STR) {
        e->err = 1;
        return t;
    }
    while (!e->err && peek_token(e, 0).type == T_STR) {
        put(e, " ", 1);
        token more = next_token(e, 0);
        t.len += 1 + more.len;
    }
    return t;
}

static int parse_or(expr *e);

static int parse_primary(expr *e) {
    if (peek_token(e, 0).type == T_LP) {
        next_token(e, 0);
        int v = parse_or(e);
        if (next_token(e, 0).type != T_RP)
            e->err = 1;
        return v;
    }
    token l = string_run(e);
    tok_type op = peek_token(e, 0).type;
    if (op < T_EQ || op > T_GE)
        return l.len != 0;
    next_token(e, 0);
    int regex_allowed = op == T_EQ || op == T_NE;
    token r = peek_token(e, regex_allowed);
    if (r.type == T_REGEX)
        next_token(e, 1);
    else
        r = string_run(e);
    return e->err ? 0 : compare(e, op, &l, &r);
}

static int parse_unary(expr *e) {
    if (++e->depth > EXPR_MAX_DEPTH) {
        e->err = 1;
        return 0;
    }
    int v;
    if (peek_token(e, 0).type == T_NOT) {
        next_token(e, 0);
        v = !parse_unary(e);
    } else {
        v = parse_primary(e);
    }
    e->depth--;
    return v;
}

static int parse_and(expr *e) {
    int v = parse_unary(e);
    while (!e->err && peek_token(e, 0).type == T_AND) {
        next_token(e, 0);
        v = parse_unary(e) && v;
    }
    return v;
}

static int parse_or(expr *e) {
    if (++e->depth > EXPR_MAX_DEPTH) {
        e->err = 1;
        return 0;
    }
    int v = parse_and(e);
    while (!e->err && peek_token(e, 0).type == T_OR) {
        next_token(e, 0);
        v = parse_and(e) || v;
    }
    e->depth--;
    return v;
}

int ssi_expr_eval(const char *text, size_t len, ssi_lookup_fn lookup, void *ctx, char *scratch,
                  size_t cap) {
    expr e = {text, text + len, lookup, ctx, scratch, cap, 0, 0, 0};
    if (skip_space(text, e.end) == e.end)
        return 0; /* an empty expression is false, as in lighttpd */
    int v = parse_or(&e);
    if (!e.err && next_token(&e, 0).type != T_END)
        e.err = 1;
    return e.err ? -1 : v;
}
