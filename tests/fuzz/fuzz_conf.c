/*
 * Fuzzes the config language: any input either loads or fails with a "file:line: message"
 * error; a loaded tree is structurally sound, its conditions can be matched, and printing it,
 * loading the print and printing again gives the same text. include and include_shell are
 * disabled, so no input runs a command or reads a file.
 */
#include "lux/conf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "fuzz.conf"
#define FLAGS (LUX_CONF_NO_SHELL | LUX_CONF_NO_INCLUDE)
#define ROUNDTRIP_MAX ((size_t)1 << 20) /* reloading bigger prints only makes the run slow */

static void check_value(const lux_value *v, int depth) {
    if (depth > 200)
        abort();
    if (v->key && v->key[v->key_len] != '\0')
        abort();
    switch (v->type) {
    case LUX_V_STRING:
        if (!v->u.str.ptr || v->u.str.ptr[v->u.str.len] != '\0')
            abort();
        break;
    case LUX_V_INT:
        break;
    case LUX_V_ARRAY:
        if (v->u.arr.len > v->u.arr.cap)
            abort();
        for (size_t i = 0; i < v->u.arr.len; i++)
            check_value(v->u.arr.items[i], depth + 1);
        break;
    default:
        abort();
    }
}

static void check_block(const lux_conf_tree *t, size_t i, const uint8_t *data, size_t size) {
    const lux_conf_block *b = t->blocks[i];
    if (b->id != i || !b->pattern || b->pattern[b->pattern_len] != '\0' || !b->file)
        abort();
    if (i == 0) {
        if (b->parent || b->prev || b->depth != 0 || b->op != LUX_OP_NONE ||
            b->field != LUX_COND_GLOBAL)
            abort();
    } else {
        if (!b->parent || b->parent->id >= b->id || b->depth != b->parent->depth + 1)
            abort();
        if (b->prev &&
            (b->prev->parent != b->parent || b->prev->id >= b->id || b->prev->op == LUX_OP_NONE))
            abort();
        if (b->op == LUX_OP_NONE && !b->prev)
            abort();
        if ((b->op == LUX_OP_MATCH || b->op == LUX_OP_NOMATCH) != (b->regex != NULL))
            abort();
        if (b->field == LUX_COND_HEADER && !b->header)
            abort();
        /* matching any subject is safe, and captures stay inside it */
        lux_cond_captures caps;
        int r = lux_conf_cond_match(b, (const char *)data, size, &caps);
        if (r != 0 && r != 1)
            abort();
        for (int k = 0; k < caps.n; k++)
            if (caps.ptr[k] < (const char *)data ||
                caps.ptr[k] + caps.len[k] > (const char *)data + size)
                abort();
    }
    for (size_t k = 0; k < b->nkvs; k++) {
        if (!b->kvs[k].key || !b->kvs[k].value || !b->kvs[k].file)
            abort();
        if (lux_conf_block_get(b, b->kvs[k].key) != b->kvs[k].value)
            abort();
        check_value(b->kvs[k].value, 0);
    }
}

static char *print(const lux_conf_tree *t, size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    lux_conf_print(t, f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    memset(err, 'x', sizeof err);
    lux_conf_tree *t =
        lux_conf_load_string_flags((const char *)data, size, NAME, FLAGS, err, sizeof err);
    if (!t) {
        /* "fuzz.conf:LINE: message" */
        if (!memchr(err, '\0', sizeof err) || strncmp(err, NAME ":", sizeof NAME) != 0)
            abort();
        char *end;
        long line = strtol(err + sizeof NAME, &end, 10);
        if (line < 1 || strncmp(end, ": ", 2) != 0 || end[2] == '\0')
            abort();
        return 0;
    }
    if (t->nblocks == 0 || strcmp(t->main_file, NAME) != 0)
        abort();
    for (size_t i = 0; i < t->nblocks; i++)
        check_block(t, i, data, size);

    size_t len1, len2;
    char *p1 = print(t, &len1);
    if (p1 && len1 <= ROUNDTRIP_MAX) {
        lux_conf_tree *t2 = lux_conf_load_string_flags(p1, len1, NAME, FLAGS, err, sizeof err);
        if (!t2) {
            fprintf(stderr, "printed config does not load: %s\n---\n%s---\n", err, p1);
            abort();
        }
        char *p2 = print(t2, &len2);
        if (!p2 || len1 != len2 || memcmp(p1, p2, len1) != 0 || t2->nblocks != t->nblocks) {
            fprintf(stderr, "print is not stable:\n---\n%s---\n%s---\n", p1, p2 ? p2 : "");
            abort();
        }
        free(p2);
        lux_conf_free(t2);
    }
    free(p1);
    lux_conf_free(t);
    return 0;
}
