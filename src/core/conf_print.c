/*
 * Printing a loaded tree back as lighttpd.conf text (`lux -p`). The output is normalised:
 * values are fully evaluated, every block appears once with its final assignments, and loading
 * the output gives a tree that prints the same again.
 */
#include "core/conf_internal.h"

#include <string.h>

#define INLINE_MAX 72 /* a flat list shorter than this stays on one line */

void lux_conf_print_string(FILE *out, const char *s, size_t n) {
    /* \" is the language's only escape, so a quote is the only character to protect */
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            fputc('\\', out);
        fputc(s[i], out);
    }
    fputc('"', out);
}

static void indent(FILE *out, unsigned depth) {
    for (unsigned i = 0; i < depth; i++)
        fputs("    ", out);
}

static size_t quoted_len(const char *s, size_t n) {
    size_t k = n + 2;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '"' || s[i] == '\n' || s[i] == '\r' ? INLINE_MAX : 0;
    return k;
}

/* Width of a list printed on one line, or more than INLINE_MAX if it should not be. */
static size_t inline_width(const lux_value *arr) {
    size_t w = 4;
    for (size_t i = 0; i < arr->u.arr.len && w <= INLINE_MAX; i++) {
        const lux_value *e = arr->u.arr.items[i];
        if (e->type == LUX_V_ARRAY)
            return INLINE_MAX + 1;
        if (e->key)
            w += quoted_len(e->key, e->key_len) + 4;
        w += e->type == LUX_V_STRING ? quoted_len(e->u.str.ptr, e->u.str.len) : 11;
        w += 2;
    }
    return w;
}

static void print_value(FILE *out, const lux_value *v, unsigned depth);

static void print_array(FILE *out, const lux_value *v, unsigned depth) {
    if (v->u.arr.len == 0) {
        fputs("( )", out);
        return;
    }
    int flat = inline_width(v) <= INLINE_MAX;
    fputs(flat ? "( " : "(\n", out);
    for (size_t i = 0; i < v->u.arr.len; i++) {
        const lux_value *e = v->u.arr.items[i];
        if (!flat)
            indent(out, depth + 1);
        if (e->key) {
            lux_conf_print_string(out, e->key, e->key_len);
            fputs(" => ", out);
        }
        print_value(out, e, depth + 1);
        if (flat)
            fputs(i + 1 < v->u.arr.len ? ", " : " ", out);
        else
            fputs(",\n", out);
    }
    if (!flat)
        indent(out, depth);
    fputc(')', out);
}

static void print_value(FILE *out, const lux_value *v, unsigned depth) {
    switch (v->type) {
    case LUX_V_STRING:
        lux_conf_print_string(out, v->u.str.ptr, v->u.str.len);
        break;
    case LUX_V_INT:
        fprintf(out, "%lld", v->u.num);
        break;
    default:
        print_array(out, v, depth);
        break;
    }
}

static int is_predefined(const char *key) {
    return lux_conf_key_eq(key, strlen(key), "var.CWD", 7) ||
           lux_conf_key_eq(key, strlen(key), "var.PID", 7);
}

static void print_kvs(FILE *out, const lux_conf_block *b, unsigned depth) {
    for (size_t i = 0; i < b->nkvs; i++) {
        const lux_conf_kv *kv = &b->kvs[i];
        const char *op = "=";
        if (b->id == 0 && is_predefined(kv->key)) {
            if (kv->line == 0)
                continue; /* recreated by every load */
            op = ":=";    /* replaces the predefined value */
        }
        indent(out, depth);
        fprintf(out, "%s %s ", kv->key, op);
        print_value(out, kv->value, depth);
        fputc('\n', out);
    }
}

static void print_block(FILE *out, const lux_conf_tree *t, const lux_conf_block *b);

static void print_head(FILE *out, const lux_conf_block *b) {
    if (b->prev)
        fputs("else ", out);
    if (b->op == LUX_OP_NONE) {
        fputs("{\n", out);
        return;
    }
    if (b->field == LUX_COND_HEADER) {
        fputs("$REQUEST_HEADER[", out);
        lux_conf_print_string(out, b->header ? b->header : "", b->header ? strlen(b->header) : 0);
        fputc(']', out);
    } else {
        char lhs[64];
        lux_conf_cond_lhs(b, lhs, sizeof lhs);
        fputs(lhs, out);
    }
    fprintf(out, " %s ", lux_conf_op_text(b->op));
    lux_conf_print_string(out, b->pattern, b->pattern_len);
    fputs(" {\n", out);
}

static const lux_conf_block *successor(const lux_conf_tree *t, const lux_conf_block *b) {
    for (size_t i = b->id + 1; i < t->nblocks; i++)
        if (t->blocks[i]->prev == b)
            return t->blocks[i];
    return NULL;
}

/* The children of b, each else-chain printed together in chain order. */
static void print_children(FILE *out, const lux_conf_tree *t, const lux_conf_block *b) {
    for (size_t i = b->id + 1; i < t->nblocks; i++) {
        const lux_conf_block *c = t->blocks[i];
        if (c->parent != b || c->prev)
            continue;
        for (const lux_conf_block *k = c; k; k = successor(t, k))
            print_block(out, t, k);
    }
}

static void print_block(FILE *out, const lux_conf_tree *t, const lux_conf_block *b) {
    unsigned d = b->depth - 1;
    indent(out, d);
    print_head(out, b);
    print_kvs(out, b, d + 1);
    print_children(out, t, b);
    indent(out, d);
    fputs("}\n", out);
}

void lux_conf_print(const lux_conf_tree *tree, FILE *out) {
    if (!tree || tree->nblocks == 0)
        return;
    const lux_conf_block *g = tree->blocks[0];
    print_kvs(out, g, 0);
    print_children(out, tree, g);
}
