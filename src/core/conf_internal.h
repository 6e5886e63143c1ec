/*
 * Private to the config language: the tokenizer, the tree's memory and value helpers shared by
 * conf_lexer.c, conf_value.c, conf_parser.c, conf_cond.c and conf_print.c.
 */
#ifndef LUX_CONF_INTERNAL_H
#define LUX_CONF_INTERNAL_H

#include "core/pool.h"
#include "lux/conf.h"

#include <stddef.h>

/* ---- tokenizer: bytes in, tokens out; no allocation, tokens point into the input ---- */

typedef enum {
    CT_EOF = 0,
    CT_ERROR,
    CT_EOL,      /* a run of newlines / comments outside parentheses */
    CT_LKEY,     /* server.port, var.x, x */
    CT_STRING,   /* raw text between the quotes, escapes not yet removed */
    CT_INTEGER,  /* a run of digits */
    CT_ASSIGN,   /* = */
    CT_APPEND,   /* += */
    CT_FORCE,    /* := */
    CT_PLUS,     /* + */
    CT_LPAREN,   /* ( */
    CT_RPAREN,   /* ) */
    CT_COMMA,    /* , (only inside parentheses; elsewhere it is skipped) */
    CT_ARROW,    /* => */
    CT_LBRACKET, /* [ */
    CT_RBRACKET, /* ] */
    CT_LCURLY,   /* { */
    CT_RCURLY,   /* } */
    CT_DOLLAR,   /* $ */
    CT_SRVVAR,   /* HTTP, SERVER, REQUEST_HEADER, PHYSICAL after $ */
    CT_EQ,       /* == */
    CT_NE,       /* != */
    CT_MATCH,    /* =~ */
    CT_NOMATCH,  /* !~ */
    CT_PREFIX,   /* =^ */
    CT_SUFFIX,   /* =$ */
    CT_INCLUDE,
    CT_INCLUDE_SHELL,
    CT_GLOBAL,
    CT_ELSE, /* else, elif, elsif, elseif ("else if" drops the "if") */
} conf_tok_type;

typedef struct {
    conf_tok_type type;
    const char *s; /* token text (for CT_STRING the raw content between the quotes) */
    size_t n;
    int line;
} conf_token;

typedef struct {
    const char *p, *end;
    int line;
    int parens;       /* open '(' count: newlines are not statement ends inside arrays */
    int in_cond;      /* after '$' until the comparison operator */
    int simulate_eol; /* '}' followed by more text on its line ends a statement */
    conf_tok_type prev;
    const char *errmsg; /* set with CT_ERROR */
} conf_lexer;

void lux_conf_lex_init(conf_lexer *lx, const char *text, size_t len);
conf_tok_type lux_conf_lex_next(conf_lexer *lx, conf_token *tok);
/* Human name of a token type for messages ("'{'", "string", "end of file"). */
const char *lux_conf_tok_name(conf_tok_type t);

/* ---- memory: everything of a tree lives in one pool; a cap stops runaway expansion ---- */

#define CONF_MEM_LIMIT ((size_t)64 << 20)

typedef struct {
    lux_pool pool;
    size_t used;
    int oom; /* 1 once an allocation failed, 2 once the cap was hit */
} conf_mem;

void *lux_conf_alloc(conf_mem *m, size_t n);
char *lux_conf_strndup(conf_mem *m, const char *s, size_t n);

/* ---- values ---- */

lux_value *lux_conf_v_str(conf_mem *m, const char *s, size_t n);
lux_value *lux_conf_v_int(conf_mem *m, long long v);
lux_value *lux_conf_v_array(conf_mem *m);
int lux_conf_arr_push(conf_mem *m, lux_value *arr, lux_value *item);
/* Deep copy; the copy's own key is dropped (elements keep theirs). */
lux_value *lux_conf_v_copy(conf_mem *m, const lux_value *v);
/*
 * a + b as lighttpd defines it: string concatenation (integers print in decimal), integer
 * addition, array merge (a duplicate key is an error unless the values are equal scalars).
 * Returns a new value, or NULL with *why set (or m->oom).
 */
lux_value *lux_conf_v_merge(conf_mem *m, const lux_value *a, const lux_value *b, const char **why,
                            const char **dupkey);
/* Keys compare ASCII case-insensitively, as lighttpd's arrays do. */
int lux_conf_key_eq(const char *a, size_t alen, const char *b, size_t blen);
lux_value *lux_conf_arr_find(const lux_value *arr, const char *key, size_t klen);

/* ---- conditions ---- */

/*
 * Fill b's condition from `$obj[tag] op pattern`. Returns 0, or -1 with a message in msg (and
 * m->oom for allocation failure). The compiled regex, if any, is owned by b.
 */
int lux_conf_cond_setup(conf_mem *m, lux_conf_block *b, const char *obj, size_t objlen,
                        const char *tag, size_t taglen, lux_cond_op op, const char *pat,
                        size_t plen, char *msg, size_t msglen);
void lux_conf_cond_release(lux_conf_block *b);
/* Same condition (for reusing a block, as lighttpd does for repeated conditions). */
int lux_conf_cond_same(const lux_conf_block *a, const lux_conf_block *b);
const char *lux_conf_op_text(lux_cond_op op);
/* "$HTTP[\"host\"]" style text of the condition's left side, into buf. */
void lux_conf_cond_lhs(const lux_conf_block *b, char *buf, size_t len);

/* ---- watching a load (lux --lint): what the tree alone no longer shows ---- */

typedef struct {
    void *arg;
    /* A condition repeats an earlier identical one at the same level (file:line): its body
     * reopens that block, as in lighttpd. */
    void (*reopened)(void *arg, const lux_conf_block *earlier, const char *file, int line);
    /* `:=` at file:line replaces the value `earlier` records, set in the same block: in the
     * same { } body (or at file level) when same_body, else in an earlier body of a repeated
     * condition. Called before earlier is overwritten. */
    void (*replaced)(void *arg, const lux_conf_kv *earlier, const char *file, int line,
                     int same_body);
} lux_conf_observer;

lux_conf_tree *lux_conf_load_file_observed(const char *path, unsigned flags,
                                           const lux_conf_observer *obs, char *err, size_t errlen);

/* ---- printing helpers shared with messages ---- */

void lux_conf_print_string(FILE *out, const char *s, size_t n);

#endif
