/*
 * The lighttpd.conf tokenizer. It follows lighttpd's own rules closely because they decide what
 * a config means: a newline ends a statement except inside parentheses, a string's only escape
 * is \" (any other backslash stays literal), '=' inside parentheses must be "=>", a ',' outside
 * parentheses is ignored, and "if" directly before a condition is noise ("else if $HTTP...").
 */
#include "core/conf_internal.h"

#include <string.h>

void lux_conf_lex_init(conf_lexer *lx, const char *text, size_t len) {
    memset(lx, 0, sizeof *lx);
    lx->p = text;
    lx->end = text + len;
    lx->line = 1;
    lx->prev = CT_EOL;
}

static int is_alpha(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c) {
    return c >= '0' && c <= '9';
}

static int is_keychar(int c) {
    return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '-';
}

static int peekc(const conf_lexer *lx, size_t off) {
    return lx->p + off < lx->end ? (unsigned char)lx->p[off] : -1;
}

static void skip_comment(conf_lexer *lx) {
    while (lx->p < lx->end && *lx->p != '\n' && *lx->p != '\r')
        lx->p++;
}

/* Newlines, blanks and comments up to the next real character; counts lines. */
static void skip_newlines(conf_lexer *lx) {
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\r' || c == '\n') {
            lx->p += (c == '\r' && peekc(lx, 1) == '\n') ? 2 : 1;
            lx->line++;
        } else if (c == '#') {
            skip_comment(lx);
        } else if (c == ' ' || c == '\t') {
            lx->p++;
        } else {
            break;
        }
    }
}

static conf_tok_type emit(conf_lexer *lx, conf_token *tok, conf_tok_type t, const char *s,
                          size_t n) {
    tok->type = t;
    tok->s = s;
    tok->n = n;
    lx->prev = t;
    return t;
}

static conf_tok_type fail(conf_lexer *lx, conf_token *tok, const char *msg) {
    lx->errmsg = msg;
    tok->type = CT_ERROR;
    tok->s = lx->p;
    tok->n = 0;
    lx->prev = CT_ERROR;
    return CT_ERROR;
}

static conf_tok_type lex_string(conf_lexer *lx, conf_token *tok) {
    if (lx->prev == CT_STRING)
        return fail(lx, tok,
                    "two strings in a row: join them with '+', or separate them "
                    "with ',' or '=>' in a list");
    if (lx->prev == CT_LKEY)
        return fail(lx, tok, "missing '=' between key and value");
    const char *s = lx->p + 1;
    const char *q = s;
    int lines = 0;
    while (q < lx->end && *q != '"') {
        if (*q == '\0')
            break;
        if (*q == '\\' && q + 1 < lx->end && q[1] == '"')
            q++;
        else if (*q == '\n' || (*q == '\r' && !(q + 1 < lx->end && q[1] == '\n')))
            lines++;
        q++;
    }
    if (q >= lx->end || *q != '"')
        return fail(lx, tok, "unterminated string");
    lx->p = q + 1;
    emit(lx, tok, CT_STRING, s, (size_t)(q - s));
    lx->line += lines; /* the token keeps the line it started on */
    return CT_STRING;
}

static conf_tok_type lex_word(conf_lexer *lx, conf_token *tok) {
    const char *s = lx->p;
    if (lx->in_cond) {
        size_t i = 0;
        while (s + i < lx->end && (is_alpha((unsigned char)s[i]) || s[i] == '_'))
            i++;
        if (i == 0)
            return fail(lx, tok, "invalid character in condition");
        lx->p += i;
        return emit(lx, tok, CT_SRVVAR, s, i);
    }
    if (is_digit((unsigned char)*s)) {
        size_t i = 0;
        while (s + i < lx->end && is_digit((unsigned char)s[i]))
            i++;
        lx->p += i;
        return emit(lx, tok, CT_INTEGER, s, i);
    }
    size_t i = 0;
    while (s + i < lx->end && is_keychar((unsigned char)s[i]))
        i++;
    if (i == 0) {
        if ((unsigned char)s[0] == 0xc2 && peekc(lx, 1) == 0xa0) {
            lx->p += 2; /* U+00A0 NO-BREAK SPACE pasted from web pages counts as blank */
            return CT_EOF;
        }
        return fail(lx, tok, s[0] == '\0' ? "unexpected NUL byte" : "invalid character");
    }
    lx->p += i;
#define IS(w) (i == sizeof(w) - 1 && memcmp(s, w, i) == 0)
    if (IS("include"))
        return emit(lx, tok, CT_INCLUDE, s, i);
    if (IS("include_shell"))
        return emit(lx, tok, CT_INCLUDE_SHELL, s, i);
    if (IS("global"))
        return emit(lx, tok, CT_GLOBAL, s, i);
    if (IS("else") || IS("elif") || IS("elsif") || IS("elseif"))
        return emit(lx, tok, CT_ELSE, s, i);
    if (IS("if")) {
        const char *q = lx->p;
        while (q < lx->end && (*q == ' ' || *q == '\t'))
            q++;
        if (q < lx->end && *q == '$')
            return CT_EOF; /* "if $HTTP[...]" and "else if ..." */
    }
#undef IS
    if (lx->prev == CT_LKEY)
        return fail(lx, tok, "missing '=' or '+' between two names");
    return emit(lx, tok, CT_LKEY, s, i);
}

/* One step; CT_EOF from a helper here means "skipped something, keep going". */
static conf_tok_type lex_one(conf_lexer *lx, conf_token *tok) {
    const char *s = lx->p;
    int c1 = peekc(lx, 1);
    tok->line = lx->line;
    switch (*s) {
    case ' ':
    case '\t':
        lx->p++;
        return CT_EOF;
    case '#':
        skip_comment(lx);
        return CT_EOF;
    case '\n':
    case '\r':
        skip_newlines(lx);
        if (lx->parens)
            return CT_EOF;
        return emit(lx, tok, CT_EOL, s, 0);
    case ',':
        lx->p++;
        return lx->parens ? emit(lx, tok, CT_COMMA, s, 1) : CT_EOF;
    case '"':
        return lex_string(lx, tok);
    case '=':
        if (lx->parens) {
            if (c1 != '>')
                return fail(lx, tok, "use '=>' for key/value pairs in a list");
            lx->p += 2;
            return emit(lx, tok, CT_ARROW, s, 2);
        }
        if (lx->in_cond) {
            conf_tok_type t = c1 == '='   ? CT_EQ
                              : c1 == '~' ? CT_MATCH
                              : c1 == '^' ? CT_PREFIX
                              : c1 == '$' ? CT_SUFFIX
                                          : CT_ERROR;
            if (t == CT_ERROR)
                return fail(lx, tok, "only == != =~ !~ =^ =$ are allowed in a condition");
            lx->p += 2;
            lx->in_cond = 0;
            return emit(lx, tok, t, s, 2);
        }
        lx->p++;
        return emit(lx, tok, CT_ASSIGN, s, 1);
    case '!':
        if (!lx->in_cond)
            return fail(lx, tok, "unexpected '!'");
        if (c1 != '=' && c1 != '~')
            return fail(lx, tok, "only == != =~ !~ =^ =$ are allowed in a condition");
        lx->p += 2;
        lx->in_cond = 0;
        return emit(lx, tok, c1 == '=' ? CT_NE : CT_NOMATCH, s, 2);
    case '(':
        lx->p++;
        lx->parens++;
        return emit(lx, tok, CT_LPAREN, s, 1);
    case ')':
        if (!lx->parens)
            return fail(lx, tok, "')' without matching '('");
        lx->p++;
        lx->parens--;
        return emit(lx, tok, CT_RPAREN, s, 1);
    case '$':
        lx->p++;
        lx->in_cond = 1;
        return emit(lx, tok, CT_DOLLAR, s, 1);
    case '+':
        lx->p += c1 == '=' ? 2 : 1;
        return emit(lx, tok, c1 == '=' ? CT_APPEND : CT_PLUS, s, c1 == '=' ? 2 : 1);
    case ':':
        if (c1 != '=')
            return fail(lx, tok, "unexpected ':' (did you mean ':='?)");
        lx->p += 2;
        return emit(lx, tok, CT_FORCE, s, 2);
    case '{':
        lx->p++;
        return emit(lx, tok, CT_LCURLY, s, 1);
    case '}':
        lx->p++;
        while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
            lx->p++;
        if (lx->p < lx->end && *lx->p != '\n' && *lx->p != '\r' && *lx->p != '#')
            lx->simulate_eol = 1;
        return emit(lx, tok, CT_RCURLY, s, 1);
    case '[':
        lx->p++;
        return emit(lx, tok, CT_LBRACKET, s, 1);
    case ']':
        lx->p++;
        return emit(lx, tok, CT_RBRACKET, s, 1);
    default:
        return lex_word(lx, tok);
    }
}

conf_tok_type lux_conf_lex_next(conf_lexer *lx, conf_token *tok) {
    if (lx->prev == CT_ERROR) {
        tok->type = CT_ERROR;
        tok->line = lx->line;
        return CT_ERROR;
    }
    if (lx->simulate_eol) {
        lx->simulate_eol = 0;
        tok->line = lx->line;
        return emit(lx, tok, CT_EOL, lx->p, 0);
    }
    while (lx->p < lx->end) {
        conf_tok_type t = lex_one(lx, tok);
        if (t != CT_EOF)
            return t;
    }
    tok->line = lx->line;
    return emit(lx, tok, CT_EOF, lx->p, 0);
}

const char *lux_conf_tok_name(conf_tok_type t) {
    static const char *const names[] = {
        [CT_EOF] = "end of file",   [CT_ERROR] = "error",
        [CT_EOL] = "end of line",   [CT_LKEY] = "name",
        [CT_STRING] = "string",     [CT_INTEGER] = "number",
        [CT_ASSIGN] = "'='",        [CT_APPEND] = "'+='",
        [CT_FORCE] = "':='",        [CT_PLUS] = "'+'",
        [CT_LPAREN] = "'('",        [CT_RPAREN] = "')'",
        [CT_COMMA] = "','",         [CT_ARROW] = "'=>'",
        [CT_LBRACKET] = "'['",      [CT_RBRACKET] = "']'",
        [CT_LCURLY] = "'{'",        [CT_RCURLY] = "'}'",
        [CT_DOLLAR] = "'$'",        [CT_SRVVAR] = "condition name",
        [CT_EQ] = "'=='",           [CT_NE] = "'!='",
        [CT_MATCH] = "'=~'",        [CT_NOMATCH] = "'!~'",
        [CT_PREFIX] = "'=^'",       [CT_SUFFIX] = "'=$'",
        [CT_INCLUDE] = "'include'", [CT_INCLUDE_SHELL] = "'include_shell'",
        [CT_GLOBAL] = "'global'",   [CT_ELSE] = "'else'",
    };
    return (unsigned)t < sizeof names / sizeof names[0] && names[t] ? names[t] : "token";
}
