/*
 * The lighttpd.conf parser and evaluator: one pass of recursive descent over the tokens that
 * evaluates as it goes, the way lighttpd's own parser does. Assignments land in the block being
 * parsed; `+=` starts from the value the enclosing blocks give the key; a repeated condition in
 * the same place reopens the earlier block (lighttpd keys its contexts by condition text), so a
 * second `=` there is the same error it is in lighttpd.
 */
#include "core/conf_internal.h"
#include "core/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_INCLUDE_DEPTH 16
#define MAX_NESTING 64                   /* blocks and lists, each */
#define MAX_FILE_SIZE ((size_t)32 << 20) /* what lighttpd accepts for one file */

typedef struct {
    lux_conf_block pub;
    size_t kv_cap;
    const char *body_file; /* where the body being parsed now began, for the observer */
    int body_line;
} block_ext;

typedef struct {
    lux_conf_tree tree;
    conf_mem mem;
    size_t blocks_cap;
} tree_owner;

typedef struct {
    tree_owner *own;
    conf_mem *mem;
    unsigned flags;
    const char *basedir; /* "" or a directory with its trailing '/' */
    lux_conf_block *cur;
    int in_global;
    int include_depth;
    int nesting;
    int failed;
    char *err;
    size_t errlen;
    conf_lexer lx; /* the source being read now */
    conf_token tok;
    const char *src;
    const lux_conf_observer *obs; /* NULL unless a checker watches the load */
} conf_ctx;

static int parse_metalines(conf_ctx *c, int in_block, int open_line);
static lux_value *parse_expression(conf_ctx *c);

/* ---- errors ---- */

__attribute__((format(printf, 3, 4))) static int error_at(conf_ctx *c, int line, const char *fmt,
                                                          ...) {
    if (c->failed)
        return -1;
    c->failed = 1;
    if (!c->err || !c->errlen)
        return -1;
    int n = snprintf(c->err, c->errlen, "%s:%d: ", c->src ? c->src : "(config)", line);
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int fail_mem(conf_ctx *c) {
    return error_at(c, c->tok.line, "%s",
                    c->mem->oom == 2 ? "configuration too large (values exceed 64 MB)"
                                     : "out of memory");
}

/* Shortened, printable copy of a name for messages. */
static const char *shown(const char *s, size_t n, char *buf, size_t len) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < len; i++)
        buf[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (k + 4 >= len && n > k)
        memcpy(buf + k, "...", 3), k += 3;
    buf[k] = '\0';
    return buf;
}

/* ---- tokens ---- */

static int next(conf_ctx *c) {
    if (lux_conf_lex_next(&c->lx, &c->tok) == CT_ERROR)
        return error_at(c, c->tok.line, "%s", c->lx.errmsg ? c->lx.errmsg : "syntax error");
    return 0;
}

static int expect(conf_ctx *c, conf_tok_type t, const char *what) {
    if (c->tok.type == t)
        return 0;
    if (c->tok.type == CT_ERROR)
        return -1;
    return error_at(c, c->tok.line, "expected %s, found %s", what, lux_conf_tok_name(c->tok.type));
}

/* ---- blocks and assignments ---- */

static lux_conf_kv *find_kv(const lux_conf_block *b, const char *key) {
    size_t n = strlen(key);
    for (size_t i = 0; i < b->nkvs; i++)
        if (lux_conf_key_eq(b->kvs[i].key, strlen(b->kvs[i].key), key, n))
            return &b->kvs[i];
    return NULL;
}

const lux_value *lux_conf_block_get(const lux_conf_block *b, const char *key) {
    const lux_conf_kv *kv = find_kv(b, key);
    return kv ? kv->value : NULL;
}

static lux_conf_kv *add_kv(conf_ctx *c, lux_conf_block *b, const char *key) {
    block_ext *x = (block_ext *)b;
    if (b->nkvs == x->kv_cap) {
        size_t cap = x->kv_cap ? x->kv_cap * 2 : 8;
        lux_conf_kv *kvs = lux_conf_alloc(c->mem, cap * sizeof *kvs);
        if (!kvs)
            return NULL;
        if (b->nkvs)
            memcpy(kvs, b->kvs, b->nkvs * sizeof *kvs);
        b->kvs = kvs;
        x->kv_cap = cap;
    }
    lux_conf_kv *kv = &b->kvs[b->nkvs];
    memset(kv, 0, sizeof *kv);
    if (!(kv->key = lux_conf_strndup(c->mem, key, strlen(key))))
        return NULL;
    b->nkvs++;
    return kv;
}

static block_ext *new_block(conf_ctx *c, lux_conf_block *parent, int line) {
    block_ext *x = lux_conf_alloc(c->mem, sizeof *x);
    if (!x)
        return NULL;
    memset(x, 0, sizeof *x);
    x->pub.parent = parent;
    x->pub.depth = parent ? parent->depth + 1 : 0;
    x->pub.cidr_bits = -1;
    x->pub.pattern = "";
    x->pub.file = c->src;
    x->pub.line = line;
    return x;
}

static int append_block(conf_ctx *c, lux_conf_block *b) {
    lux_conf_tree *t = &c->own->tree;
    if (t->nblocks == c->own->blocks_cap) {
        size_t cap = c->own->blocks_cap ? c->own->blocks_cap * 2 : 16;
        lux_conf_block **v = lux_conf_alloc(c->mem, cap * sizeof *v);
        if (!v)
            return -1;
        if (t->nblocks)
            memcpy(v, t->blocks, t->nblocks * sizeof *v);
        t->blocks = v;
        c->own->blocks_cap = cap;
    }
    b->id = (unsigned)t->nblocks;
    t->blocks[t->nblocks++] = b;
    return 0;
}

/* A key's value as seen from the current block: its own, else the nearest enclosing one. */
static const lux_value *lookup(const conf_ctx *c, const char *key) {
    for (const lux_conf_block *b = c->cur; b; b = b->parent) {
        const lux_conf_kv *kv = find_kv(b, key);
        if (kv)
            return kv->value;
    }
    return NULL;
}

static int merge_error(conf_ctx *c, int line, const char *why, const char *dupkey) {
    char buf[80];
    if (!why)
        return fail_mem(c);
    if (dupkey)
        return error_at(c, line, "%s: \"%s\"", why, shown(dupkey, strlen(dupkey), buf, sizeof buf));
    return error_at(c, line, "%s", why);
}

/* Tell the observer that `:=` at line replaces kv, and whether kv was set in the same body. */
static void note_replaced(conf_ctx *c, const lux_conf_kv *kv, int line) {
    const block_ext *x = (const block_ext *)c->cur;
    int same_body =
        x->body_file && kv->file && strcmp(x->body_file, kv->file) == 0 && kv->line >= x->body_line;
    c->obs->replaced(c->obs->arg, kv, c->src, line, c->cur->id == 0 || same_body);
}

static int assign(conf_ctx *c, const char *key, conf_tok_type op, lux_value *v, int line) {
    char buf[80];
    if (strncmp(key, "env.", 4) == 0)
        return error_at(c, line, "cannot assign to %s: env.* only reads the environment",
                        shown(key, strlen(key), buf, sizeof buf));
    lux_conf_kv *kv = find_kv(c->cur, key);
    if (op == CT_ASSIGN && kv)
        return error_at(c, line, "%s is already set in this block (use := to replace it)",
                        shown(key, strlen(key), buf, sizeof buf));
    if (op == CT_FORCE && kv && c->obs && c->obs->replaced)
        note_replaced(c, kv, line);
    if (op == CT_APPEND) {
        const lux_value *base = kv ? kv->value : lookup(c, key);
        if (base) {
            const char *why, *dupkey;
            lux_value *m = lux_conf_v_merge(c->mem, base, v, &why, &dupkey);
            if (!m)
                return merge_error(c, line, why, dupkey);
            v = m;
        }
    }
    if (!kv && !(kv = add_kv(c, c->cur, key)))
        return fail_mem(c);
    kv->value = v;
    kv->file = c->src;
    kv->line = line;
    return 0;
}

/* ---- values ---- */

/* A bare name without a dot is a variable: "x" means "var.x", as in lighttpd. */
static char *key_of(conf_ctx *c, const conf_token *t) {
    int plain = memchr(t->s, '.', t->n) == NULL;
    char *k = lux_conf_alloc(c->mem, t->n + (plain ? 4 : 0) + 1);
    if (!k)
        return NULL;
    size_t off = plain ? 4 : 0;
    if (plain)
        memcpy(k, "var.", 4);
    memcpy(k + off, t->s, t->n);
    k[off + t->n] = '\0';
    return k;
}

/* Remember where a literal was written: messages about one element of a list name its line. */
static void set_origin(conf_ctx *c, lux_value *v, int line) {
    v->file = c->src;
    v->line = line;
}

static lux_value *string_value(conf_ctx *c, const conf_token *t) {
    char *d = lux_conf_alloc(c->mem, t->n + 1);
    lux_value *v = lux_conf_v_str(c->mem, "", 0);
    if (!d || !v)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->s[i] == '\\' && i + 1 < t->n && t->s[i + 1] == '"')
            i++; /* \" is the only escape; other backslashes are kept */
        d[k++] = t->s[i];
    }
    d[k] = '\0';
    v->u.str.ptr = d;
    v->u.str.len = k;
    return v;
}

static lux_value *variable_value(conf_ctx *c, int line) {
    char buf[80];
    char *key = key_of(c, &c->tok);
    if (!key)
        return fail_mem(c), NULL;
    if (strncmp(key, "env.", 4) == 0) {
        const char *e = getenv(key + 4);
        if (!e)
            return error_at(c, line, "environment variable %s is not set",
                            shown(key + 4, strlen(key + 4), buf, sizeof buf)),
                   NULL;
        lux_value *v = lux_conf_v_str(c->mem, e, strlen(e));
        if (v)
            set_origin(c, v, line);
        return v ? v : (fail_mem(c), NULL);
    }
    const lux_value *v = lookup(c, key);
    if (!v)
        return error_at(c, line, "undefined variable %s", shown(key, strlen(key), buf, sizeof buf)),
               NULL;
    lux_value *copy = lux_conf_v_copy(c->mem, v);
    return copy ? copy : (fail_mem(c), NULL);
}

static lux_value *integer_value(conf_ctx *c, int line) {
    long long n = 0;
    for (size_t i = 0; i < c->tok.n; i++) {
        n = n * 10 + (c->tok.s[i] - '0');
        if (n > INT_MAX) {
            char buf[40];
            return error_at(c, line, "number too large: %s",
                            shown(c->tok.s, c->tok.n, buf, sizeof buf)),
                   NULL;
        }
    }
    lux_value *v = lux_conf_v_int(c->mem, n);
    return v ? v : (fail_mem(c), NULL);
}

/* "stringop" in lighttpd's grammar: a string, or a number taken as its decimal text. */
static const char *as_text(conf_ctx *c, lux_value *v, size_t *len, int line, const char *what) {
    if (v->type == LUX_V_STRING) {
        *len = v->u.str.len;
        return v->u.str.ptr;
    }
    if (v->type == LUX_V_INT) {
        char num[24];
        int n = snprintf(num, sizeof num, "%lld", v->u.num);
        char *s = lux_conf_strndup(c->mem, num, (size_t)n);
        if (!s)
            return fail_mem(c), NULL;
        *len = (size_t)n;
        return s;
    }
    return error_at(c, line, "%s must be a string, not a list", what), NULL;
}

static int array_element(conf_ctx *c, lux_value *arr) {
    int line = c->tok.line;
    lux_value *e = parse_expression(c);
    if (!e)
        return -1;
    if (c->tok.type == CT_ARROW) {
        size_t klen;
        const char *key = as_text(c, e, &klen, line, "a list key");
        if (!key || next(c) < 0)
            return -1;
        if (lux_conf_arr_find(arr, key, klen)) {
            char buf[80];
            return error_at(c, line, "duplicate key in list: \"%s\"",
                            shown(key, klen, buf, sizeof buf));
        }
        if (!(e = parse_expression(c)))
            return -1;
        if (!(e->key = lux_conf_strndup(c->mem, key, klen)))
            return fail_mem(c);
        e->key_len = klen;
    }
    return lux_conf_arr_push(c->mem, arr, e) < 0 ? fail_mem(c) : 0;
}

static lux_value *parse_array(conf_ctx *c) {
    int line = c->tok.line;
    if (++c->nesting > MAX_NESTING)
        return error_at(c, line, "lists nested too deeply"), NULL;
    lux_value *arr = lux_conf_v_array(c->mem);
    if (!arr)
        return fail_mem(c), NULL;
    set_origin(c, arr, line);
    if (next(c) < 0)
        return NULL;
    while (c->tok.type != CT_RPAREN) {
        if (array_element(c, arr) < 0)
            return NULL;
        if (c->tok.type == CT_COMMA) {
            while (c->tok.type == CT_COMMA) /* trailing and repeated commas are allowed */
                if (next(c) < 0)
                    return NULL;
            continue;
        }
        if (c->tok.type != CT_RPAREN) {
            if (c->tok.type == CT_ERROR)
                return NULL;
            if (c->tok.type == CT_EOF)
                return error_at(c, line, "list opened here is never closed with ')'"), NULL;
            return error_at(c, c->tok.line, "expected ',' or ')' in list, found %s",
                            lux_conf_tok_name(c->tok.type)),
                   NULL;
        }
    }
    c->nesting--;
    return next(c) < 0 ? NULL : arr;
}

static lux_value *parse_value(conf_ctx *c) {
    int line = c->tok.line;
    lux_value *v;
    switch (c->tok.type) {
    case CT_LPAREN:
        return parse_array(c);
    case CT_LKEY:
        v = variable_value(c, line);
        break;
    case CT_STRING:
        if (!(v = string_value(c, &c->tok)))
            fail_mem(c);
        else
            set_origin(c, v, line);
        break;
    case CT_INTEGER:
        if ((v = integer_value(c, line)))
            set_origin(c, v, line);
        break;
    case CT_ERROR:
        return NULL;
    default:
        return error_at(c, line, "expected a value, found %s", lux_conf_tok_name(c->tok.type)),
               NULL;
    }
    return v && next(c) == 0 ? v : NULL;
}

static lux_value *parse_expression(conf_ctx *c) {
    lux_value *v = parse_value(c);
    while (v && c->tok.type == CT_PLUS) {
        int line = c->tok.line;
        if (next(c) < 0)
            return NULL;
        lux_value *w = parse_value(c);
        if (!w)
            return NULL;
        const char *why, *dupkey;
        if (!(v = lux_conf_v_merge(c->mem, v, w, &why, &dupkey)))
            return merge_error(c, line, why, dupkey), NULL;
    }
    return v;
}

/* ---- statements ---- */

static int parse_assignment(conf_ctx *c) {
    int line = c->tok.line;
    char *key = key_of(c, &c->tok);
    if (!key)
        return fail_mem(c);
    if (next(c) < 0)
        return -1;
    conf_tok_type op = c->tok.type;
    if (op != CT_ASSIGN && op != CT_APPEND && op != CT_FORCE)
        return op == CT_ERROR ? -1 : error_at(c, line, "expected '=' after key");
    if (next(c) < 0)
        return -1;
    lux_value *v = parse_expression(c);
    return v ? assign(c, key, op, v, line) : -1;
}

static int parse_body(conf_ctx *c, lux_conf_block *b, int line) {
    if (++c->nesting > MAX_NESTING)
        return error_at(c, line, "blocks nested too deeply");
    lux_conf_block *saved = c->cur;
    block_ext *x = (block_ext *)b;
    const char *saved_file = x->body_file;
    int saved_line = x->body_line;
    x->body_file = c->src;
    x->body_line = line;
    c->cur = b;
    int r = next(c) < 0 || parse_metalines(c, 1, line) < 0 ? -1 : 0;
    c->cur = saved;
    x->body_file = saved_file;
    x->body_line = saved_line;
    c->nesting--;
    return r < 0 ? -1 : next(c); /* step over the '}' */
}

static int parse_global(conf_ctx *c) {
    int line = c->tok.line;
    if (next(c) < 0 || expect(c, CT_LCURLY, "'{' after global") < 0)
        return -1;
    if (c->in_global)
        return error_at(c, line, "global { } blocks cannot be nested");
    c->in_global = 1;
    int r = parse_body(c, c->own->tree.blocks[0], line);
    c->in_global = 0;
    return r;
}

/* Which block an else-branch of `prev` may not share a condition with, as in lighttpd. */
static lux_conf_block *find_same(conf_ctx *c, const lux_conf_block *nb, int any) {
    lux_conf_tree *t = &c->own->tree;
    for (size_t i = 1; i < t->nblocks; i++) {
        lux_conf_block *b = t->blocks[i];
        if (b->parent == nb->parent && b->op != LUX_OP_NONE && (any || !b->prev) &&
            lux_conf_cond_same(b, nb))
            return b;
    }
    return NULL;
}

static int link_else(conf_ctx *c, lux_conf_block *b, lux_conf_block *prev, int line) {
    lux_conf_tree *t = &c->own->tree;
    for (size_t i = 1; i < t->nblocks; i++)
        if (t->blocks[i]->prev == prev)
            return error_at(c, line, "this condition already has an else branch earlier on");
    b->prev = prev;
    return 0;
}

static lux_conf_block *parse_condition(conf_ctx *c, lux_conf_block *prev) {
    int line = c->tok.line;
    if (c->in_global)
        return error_at(c, line, "conditions are not allowed inside a global { } block"), NULL;
    if (next(c) < 0 || expect(c, CT_SRVVAR, "a condition name after '$'") < 0)
        return NULL;
    conf_token obj = c->tok;
    if (next(c) < 0 || expect(c, CT_LBRACKET, "'[' after the condition name") < 0 || next(c) < 0)
        return NULL;
    lux_value *tagv = parse_expression(c);
    size_t taglen;
    const char *tag = tagv ? as_text(c, tagv, &taglen, line, "a condition name") : NULL;
    if (!tag || expect(c, CT_RBRACKET, "']'") < 0 || next(c) < 0)
        return NULL;
    static const lux_cond_op ops[] = {
        [CT_EQ] = LUX_OP_EQ,           [CT_NE] = LUX_OP_NE,         [CT_MATCH] = LUX_OP_MATCH,
        [CT_NOMATCH] = LUX_OP_NOMATCH, [CT_PREFIX] = LUX_OP_PREFIX, [CT_SUFFIX] = LUX_OP_SUFFIX,
    };
    conf_tok_type ot = c->tok.type;
    if (ot < CT_EQ || ot > CT_SUFFIX)
        return expect(c, CT_EQ, "a comparison (== != =~ !~ =^ =$)"), NULL;
    if (next(c) < 0)
        return NULL;
    lux_value *pv = parse_expression(c);
    if (!pv)
        return NULL;
    if (pv->type != LUX_V_STRING)
        return error_at(c, line, "the value a condition compares with must be a string"), NULL;
    if (c->tok.type == CT_EOL)
        return error_at(c, line, "'{' must follow the condition on the same line"), NULL;
    if (expect(c, CT_LCURLY, "'{' after the condition") < 0)
        return NULL;
    block_ext *x = new_block(c, c->cur, line);
    if (!x)
        return fail_mem(c), NULL;
    char msg[200];
    if (lux_conf_cond_setup(c->mem, &x->pub, obj.s, obj.n, tag, taglen, ops[ot], pv->u.str.ptr,
                            pv->u.str.len, msg, sizeof msg) < 0) {
        lux_conf_cond_release(&x->pub);
        return c->mem->oom ? (fail_mem(c), NULL) : (error_at(c, line, "%s", msg), NULL);
    }
    lux_conf_block *b = find_same(c, &x->pub, prev != NULL);
    if (b) {
        lux_conf_cond_release(&x->pub);
        if (prev)
            return error_at(c, line,
                            "unreachable else condition: the same condition is "
                            "already used above"),
                   NULL;
        if (c->obs && c->obs->reopened)
            c->obs->reopened(c->obs->arg, b, c->src, line);
    } else {
        b = &x->pub;
        if (append_block(c, b) < 0) {
            lux_conf_cond_release(b);
            return fail_mem(c), NULL;
        }
    }
    if (prev && link_else(c, b, prev, line) < 0)
        return NULL;
    return parse_body(c, b, line) < 0 ? NULL : b;
}

static lux_conf_block *parse_else(conf_ctx *c, lux_conf_block *prev, int line) {
    block_ext *x = new_block(c, c->cur, line);
    if (!x || append_block(c, &x->pub) < 0)
        return fail_mem(c), NULL;
    x->pub.field = prev->field;
    x->pub.header = prev->header;
    if (link_else(c, &x->pub, prev, line) < 0)
        return NULL;
    return parse_body(c, &x->pub, line) < 0 ? NULL : &x->pub;
}

static int parse_condlines(conf_ctx *c) {
    lux_conf_block *last = parse_condition(c, NULL);
    while (last) {
        if (c->tok.type == CT_EOL) {
            /* `}` newline `else`: look one token further without consuming it */
            conf_lexer saved_lx = c->lx;
            conf_token saved_tok = c->tok;
            if (next(c) < 0)
                return -1;
            if (c->tok.type != CT_ELSE) {
                c->lx = saved_lx;
                c->tok = saved_tok;
            }
        }
        if (c->tok.type != CT_ELSE)
            return 0;
        int line = c->tok.line;
        if (last->op == LUX_OP_NONE)
            return error_at(c, line, "unreachable condition: nothing can follow a plain 'else'");
        if (next(c) < 0)
            return -1;
        if (c->tok.type == CT_DOLLAR)
            last = parse_condition(c, last);
        else if (c->tok.type == CT_LCURLY)
            last = parse_else(c, last, line);
        else
            return expect(c, CT_LCURLY, "a condition or '{' after else");
    }
    return -1;
}

/* ---- include and include_shell ---- */

static int parse_unit(conf_ctx *c, const char *text, size_t len, const char *src);

static char *read_file(const char *path, size_t *len, int *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            *err = ENOMEM;
            break;
        }
        if (n == cap) {
            if (cap >= MAX_FILE_SIZE) {
                *err = EFBIG;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                *err = ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *err = errno;
            break;
        }
        if (r == 0) {
            close(fd);
            *len = n;
            return buf;
        }
        n += (size_t)r;
    }
    free(buf);
    close(fd);
    return NULL;
}

static int include_file(conf_ctx *c, const char *path, int line) {
    size_t len;
    int e = 0;
    char *text = read_file(path, &len, &e);
    if (!text)
        return error_at(c, line, "cannot read include file %s: %s", path, strerror(e));
    const char *src = lux_conf_strndup(c->mem, path, strlen(path));
    int r = src ? parse_unit(c, text, len, src) : fail_mem(c);
    free(text);
    return r;
}

static int do_include(conf_ctx *c, const char *name, size_t nlen, int line) {
    if (c->flags & LUX_CONF_NO_INCLUDE)
        return error_at(c, line, "include is disabled here");
    if (memchr(name, '\0', nlen))
        return error_at(c, line, "include file name contains a NUL byte");
    /* lighttpd: absolute and ./ ../ paths stand as written; others are relative to the
     * directory of the main config file */
    int as_is = !c->basedir[0] || name[0] == '/' || strncmp(name, "./", 2) == 0 ||
                strncmp(name, "../", 3) == 0;
    size_t blen = as_is ? 0 : strlen(c->basedir);
    char *path = lux_conf_alloc(c->mem, blen + nlen + 1);
    if (!path)
        return fail_mem(c);
    memcpy(path, c->basedir, blen);
    memcpy(path + blen, name, nlen + 1);
    glob_t gl;
    int rc = glob(path, GLOB_BRACE, NULL, &gl);
    if (rc == GLOB_NOMATCH) {
        if (strpbrk(path, "*?[]{}"))
            return 0; /* a pattern may match nothing */
        return error_at(c, line, "include file not found: %s", path);
    }
    if (rc != 0)
        return error_at(c, line, "cannot expand include pattern %s", path);
    int r = 0;
    for (size_t i = 0; r == 0 && i < gl.gl_pathc; i++)
        r = include_file(c, gl.gl_pathv[i], line);
    globfree(&gl);
    return r;
}

/* Runs the command with /bin/sh in the main config's directory; returns its stdout. */
static char *run_shell(conf_ctx *c, const char *cmd, size_t *len, int line) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return error_at(c, line, "include_shell: pipe: %s", strerror(errno)), NULL;
    pid_t pid;
    if (lux_spawn_shell(cmd, -1, fds[1], c->basedir, &pid) < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return error_at(c, line, "include_shell \"%s\": cannot start: %s", cmd, strerror(e)), NULL;
    }
    close(fds[1]);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rerr = buf ? 0 : ENOMEM;
    while (buf) {
        if (n == cap) {
            char *nb = cap < MAX_FILE_SIZE ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                rerr = cap < MAX_FILE_SIZE ? ENOMEM : EFBIG;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fds[0], buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rerr = r < 0 ? errno : 0;
            break;
        }
        n += (size_t)r;
    }
    close(fds[0]); /* a writer still going gets SIGPIPE and ends */
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (rerr || !buf) {
        free(buf);
        return error_at(c, line, "include_shell \"%s\": reading output: %s", cmd,
                        strerror(rerr ? rerr : ENOMEM)),
               NULL;
    }
    if (WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0)) {
        free(buf);
        if (WIFSIGNALED(st))
            return error_at(c, line, "include_shell \"%s\" was killed by signal %d", cmd,
                            WTERMSIG(st)),
                   NULL;
        return error_at(c, line, "include_shell \"%s\" exited with status %d", cmd,
                        WEXITSTATUS(st)),
               NULL;
    }
    *len = n;
    return buf;
}

static int do_include_shell(conf_ctx *c, const char *cmd, size_t clen, int line) {
    if (c->flags & LUX_CONF_NO_SHELL)
        return error_at(c, line, "include_shell is disabled here");
    if (memchr(cmd, '\0', clen))
        return error_at(c, line, "include_shell command contains a NUL byte");
    size_t len;
    char *out = run_shell(c, cmd, &len, line);
    if (!out)
        return -1;
    const char *src = lux_conf_strndup(c->mem, cmd, clen);
    int r = src ? parse_unit(c, out, len, src) : fail_mem(c);
    free(out);
    return r;
}

static int parse_include(conf_ctx *c) {
    int line = c->tok.line;
    conf_tok_type kind = c->tok.type;
    if (next(c) < 0)
        return -1;
    lux_value *v = parse_expression(c);
    size_t len;
    const char *name = v ? as_text(c, v, &len, line, "the include target") : NULL;
    if (!name)
        return -1;
    if (c->include_depth >= MAX_INCLUDE_DEPTH)
        return error_at(c, line,
                        "includes nested more than %d deep (does a file include "
                        "itself?)",
                        MAX_INCLUDE_DEPTH);
    c->include_depth++;
    int r =
        kind == CT_INCLUDE ? do_include(c, name, len, line) : do_include_shell(c, name, len, line);
    c->include_depth--;
    return r;
}

/* ---- the statement loop ---- */

static int parse_metalines(conf_ctx *c, int in_block, int open_line) {
    for (;;) {
        int r = 0;
        switch (c->tok.type) {
        case CT_ERROR:
            return -1;
        case CT_EOF:
            if (in_block)
                return error_at(c, c->tok.line, "missing '}' for the block opened on line %d",
                                open_line);
            return 0;
        case CT_RCURLY:
            if (in_block)
                return 0;
            return error_at(c, c->tok.line, "'}' without a matching '{'");
        case CT_EOL:
            r = next(c);
            break;
        case CT_LKEY:
            r = parse_assignment(c);
            break;
        case CT_GLOBAL:
            r = parse_global(c);
            break;
        case CT_DOLLAR:
            r = parse_condlines(c);
            break;
        case CT_INCLUDE:
        case CT_INCLUDE_SHELL:
            r = parse_include(c);
            break;
        case CT_ELSE:
            return error_at(c, c->tok.line, "'else' without a condition block before it");
        default:
            return error_at(c, c->tok.line, "unexpected %s at the start of a statement",
                            lux_conf_tok_name(c->tok.type));
        }
        if (r < 0 || c->failed)
            return -1;
    }
}

static int parse_unit(conf_ctx *c, const char *text, size_t len, const char *src) {
    conf_lexer saved_lx = c->lx;
    conf_token saved_tok = c->tok;
    const char *saved_src = c->src;
    c->src = src;
    lux_conf_lex_init(&c->lx, text, len);
    int r = next(c) < 0 ? -1 : parse_metalines(c, 0, 0);
    c->lx = saved_lx;
    c->tok = saved_tok;
    c->src = saved_src;
    return r;
}

/* ---- loading ---- */

static int predefine(conf_ctx *c) {
    lux_conf_block *g = c->own->tree.blocks[0];
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd)) {
        lux_conf_kv *kv = add_kv(c, g, "var.CWD");
        if (!kv || !(kv->value = lux_conf_v_str(c->mem, cwd, strlen(cwd))))
            return -1;
        kv->file = c->src; /* line 0 marks a predefined value */
    }
    lux_conf_kv *kv = add_kv(c, g, "var.PID");
    if (!kv || !(kv->value = lux_conf_v_int(c->mem, (long long)getpid())))
        return -1;
    kv->file = c->src;
    return 0;
}

static tree_owner *new_tree(conf_ctx *c, const char *name) {
    tree_owner *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    lux_pool_init(&o->mem.pool, 16384);
    o->tree.priv = o;
    c->own = o;
    c->mem = &o->mem;
    const char *slash = strrchr(name, '/');
    size_t blen = slash ? (size_t)(slash - name) + 1 : 0;
    char *base = lux_conf_strndup(c->mem, name, blen);
    o->tree.main_file = lux_conf_strndup(c->mem, name, strlen(name));
    c->basedir = base;
    c->src = o->tree.main_file;
    block_ext *g = new_block(c, NULL, 0);
    if (!base || !o->tree.main_file || !g || append_block(c, &g->pub) < 0 || predefine(c) < 0) {
        lux_conf_free(&o->tree);
        return NULL;
    }
    c->cur = &g->pub;
    return o;
}

static lux_conf_tree *load_string(const char *text, size_t len, const char *name, unsigned flags,
                                  const lux_conf_observer *obs, char *err, size_t errlen) {
    conf_ctx c;
    memset(&c, 0, sizeof c);
    c.obs = obs;
    c.err = err;
    c.errlen = errlen;
    c.flags = flags;
    if (err && errlen)
        err[0] = '\0';
    if (!name)
        name = "(config)";
    if (!new_tree(&c, name)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    if (parse_unit(&c, text ? text : "", text ? len : 0, c.src) < 0 || c.failed) {
        if (!c.failed)
            error_at(&c, c.tok.line, "syntax error");
        lux_conf_free(&c.own->tree);
        return NULL;
    }
    return &c.own->tree;
}

lux_conf_tree *lux_conf_load_string_flags(const char *text, size_t len, const char *name,
                                          unsigned flags, char *err, size_t errlen) {
    return load_string(text, len, name, flags, NULL, err, errlen);
}

lux_conf_tree *lux_conf_load_string(const char *text, size_t len, const char *name, char *err,
                                    size_t errlen) {
    return lux_conf_load_string_flags(text, len, name, 0, err, errlen);
}

lux_conf_tree *lux_conf_load_file_observed(const char *path, unsigned flags,
                                           const lux_conf_observer *obs, char *err, size_t errlen) {
    size_t len;
    int e = 0;
    char *text = read_file(path, &len, &e);
    if (!text) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
        return NULL;
    }
    lux_conf_tree *t = load_string(text, len, path, flags, obs, err, errlen);
    free(text);
    return t;
}

lux_conf_tree *lux_conf_load_file_flags(const char *path, unsigned flags, char *err,
                                        size_t errlen) {
    return lux_conf_load_file_observed(path, flags, NULL, err, errlen);
}

lux_conf_tree *lux_conf_load_file(const char *path, char *err, size_t errlen) {
    return lux_conf_load_file_flags(path, 0, err, errlen);
}

void lux_conf_free(lux_conf_tree *tree) {
    if (!tree)
        return;
    tree_owner *o = tree->priv;
    for (size_t i = 0; i < tree->nblocks; i++)
        lux_conf_cond_release(tree->blocks[i]);
    lux_pool_free(&o->mem.pool);
    free(o);
}
