/*
 * Config values and the tree's memory. Values are built in the tree's pool and never freed one
 * by one; intermediate results of expressions stay in the pool until the tree goes. The cap on
 * pool size turns "x := x + x" repeated into an error rather than an exhausted machine.
 */
#include "core/conf_internal.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void *lux_conf_alloc(conf_mem *m, size_t n) {
    if (m->oom)
        return NULL;
    if (n > CONF_MEM_LIMIT || m->used > CONF_MEM_LIMIT - n) {
        m->oom = 2;
        return NULL;
    }
    void *p = lux_pool_alloc(&m->pool, n ? n : 1);
    if (!p) {
        m->oom = 1;
        return NULL;
    }
    m->used += n;
    return p;
}

char *lux_conf_strndup(conf_mem *m, const char *s, size_t n) {
    if (n == SIZE_MAX) {
        m->oom = 1;
        return NULL;
    }
    char *d = lux_conf_alloc(m, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static lux_value *new_value(conf_mem *m, lux_vtype t) {
    lux_value *v = lux_conf_alloc(m, sizeof *v);
    if (!v)
        return NULL;
    memset(v, 0, sizeof *v);
    v->type = t;
    return v;
}

lux_value *lux_conf_v_str(conf_mem *m, const char *s, size_t n) {
    lux_value *v = new_value(m, LUX_V_STRING);
    if (!v || !(v->u.str.ptr = lux_conf_strndup(m, s, n)))
        return NULL;
    v->u.str.len = n;
    return v;
}

lux_value *lux_conf_v_int(conf_mem *m, long long num) {
    lux_value *v = new_value(m, LUX_V_INT);
    if (v)
        v->u.num = num;
    return v;
}

lux_value *lux_conf_v_array(conf_mem *m) {
    return new_value(m, LUX_V_ARRAY);
}

int lux_conf_arr_push(conf_mem *m, lux_value *arr, lux_value *item) {
    if (arr->u.arr.len == arr->u.arr.cap) {
        size_t cap = arr->u.arr.cap ? arr->u.arr.cap * 2 : 4;
        if (cap > CONF_MEM_LIMIT / sizeof(lux_value *)) {
            m->oom = 2;
            return -1;
        }
        lux_value **items = lux_conf_alloc(m, cap * sizeof *items);
        if (!items)
            return -1;
        if (arr->u.arr.len)
            memcpy(items, arr->u.arr.items, arr->u.arr.len * sizeof *items);
        arr->u.arr.items = items;
        arr->u.arr.cap = cap;
    }
    arr->u.arr.items[arr->u.arr.len++] = item;
    return 0;
}

static int set_key(conf_mem *m, lux_value *v, const char *key, size_t klen) {
    v->key = NULL;
    v->key_len = 0;
    if (!key)
        return 0;
    if (!(v->key = lux_conf_strndup(m, key, klen)))
        return -1;
    v->key_len = klen;
    return 0;
}

static lux_value *copy_rec(conf_mem *m, const lux_value *v, int keep_key) {
    lux_value *c;
    switch (v->type) {
    case LUX_V_STRING:
        c = lux_conf_v_str(m, v->u.str.ptr, v->u.str.len);
        break;
    case LUX_V_INT:
        c = lux_conf_v_int(m, v->u.num);
        break;
    default:
        c = lux_conf_v_array(m);
        for (size_t i = 0; c && i < v->u.arr.len; i++) {
            lux_value *e = copy_rec(m, v->u.arr.items[i], 1);
            if (!e || lux_conf_arr_push(m, c, e) < 0)
                return NULL;
        }
        break;
    }
    if (c && keep_key && set_key(m, c, v->key, v->key_len) < 0)
        return NULL;
    if (c) {
        c->file = v->file;
        c->line = v->line;
    }
    return c;
}

lux_value *lux_conf_v_copy(conf_mem *m, const lux_value *v) {
    return copy_rec(m, v, 0);
}

int lux_conf_key_eq(const char *a, size_t alen, const char *b, size_t blen) {
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned ca = (unsigned char)a[i], cb = (unsigned char)b[i];
        if (ca >= 'A' && ca <= 'Z')
            ca |= 0x20;
        if (cb >= 'A' && cb <= 'Z')
            cb |= 0x20;
        if (ca != cb)
            return 0;
    }
    return 1;
}

lux_value *lux_conf_arr_find(const lux_value *arr, const char *key, size_t klen) {
    if (!arr || arr->type != LUX_V_ARRAY)
        return NULL;
    for (size_t i = 0; i < arr->u.arr.len; i++) {
        lux_value *e = arr->u.arr.items[i];
        if (e->key && lux_conf_key_eq(e->key, e->key_len, key, klen))
            return e;
    }
    return NULL;
}

const lux_value *lux_value_find(const lux_value *arr, const char *key) {
    return lux_conf_arr_find(arr, key, strlen(key));
}

static int same_scalar(const lux_value *a, const lux_value *b) {
    if (a->type != b->type)
        return 0;
    if (a->type == LUX_V_INT)
        return a->u.num == b->u.num;
    return a->type == LUX_V_STRING && a->u.str.len == b->u.str.len &&
           memcmp(a->u.str.ptr, b->u.str.ptr, a->u.str.len) == 0;
}

static lux_value *concat(conf_mem *m, const char *a, size_t alen, const char *b, size_t blen) {
    if (alen > CONF_MEM_LIMIT || blen > CONF_MEM_LIMIT - alen) {
        m->oom = 2;
        return NULL;
    }
    lux_value *v = new_value(m, LUX_V_STRING);
    char *p = v ? lux_conf_alloc(m, alen + blen + 1) : NULL;
    if (!p)
        return NULL;
    if (alen)
        memcpy(p, a, alen);
    if (blen)
        memcpy(p + alen, b, blen);
    p[alen + blen] = '\0';
    v->u.str.ptr = p;
    v->u.str.len = alen + blen;
    return v;
}

static lux_value *merge_arrays(conf_mem *m, const lux_value *a, const lux_value *b,
                               const char **why, const char **dupkey) {
    lux_value *r = lux_conf_v_copy(m, a);
    for (size_t i = 0; r && i < b->u.arr.len; i++) {
        const lux_value *e = b->u.arr.items[i];
        if (e->key) {
            const lux_value *old = lux_conf_arr_find(r, e->key, e->key_len);
            if (old && same_scalar(old, e))
                continue; /* repeating an identical pair is harmless, as in lighttpd */
            if (old) {
                *why = "duplicate key in list";
                *dupkey = e->key;
                return NULL;
            }
        }
        lux_value *c = copy_rec(m, e, 1);
        if (!c || lux_conf_arr_push(m, r, c) < 0)
            return NULL;
    }
    return r;
}

static lux_value *merge(conf_mem *m, const lux_value *a, const lux_value *b, const char **why,
                        const char **dupkey) {
    char num[24];
    *why = NULL;
    *dupkey = NULL;
    if (a->type == LUX_V_STRING && b->type == LUX_V_STRING)
        return concat(m, a->u.str.ptr, a->u.str.len, b->u.str.ptr, b->u.str.len);
    if (a->type == LUX_V_STRING && b->type == LUX_V_INT) {
        int n = snprintf(num, sizeof num, "%lld", b->u.num);
        return concat(m, a->u.str.ptr, a->u.str.len, num, (size_t)n);
    }
    if (a->type == LUX_V_INT && b->type == LUX_V_STRING) {
        int n = snprintf(num, sizeof num, "%lld", a->u.num);
        return concat(m, num, (size_t)n, b->u.str.ptr, b->u.str.len);
    }
    if (a->type == LUX_V_INT && b->type == LUX_V_INT) {
        long long s = a->u.num + b->u.num; /* both within int range: cannot overflow */
        if (s > INT_MAX || s < INT_MIN) {
            *why = "integer overflow";
            return NULL;
        }
        return lux_conf_v_int(m, s);
    }
    if (a->type == LUX_V_ARRAY && b->type == LUX_V_ARRAY)
        return merge_arrays(m, a, b, why, dupkey);
    *why = a->type == LUX_V_ARRAY || b->type == LUX_V_ARRAY
               ? "cannot combine a list with a string or number"
               : "cannot combine these values";
    return NULL;
}

lux_value *lux_conf_v_merge(conf_mem *m, const lux_value *a, const lux_value *b, const char **why,
                            const char **dupkey) {
    lux_value *r = merge(m, a, b, why, dupkey);
    if (r && !r->file) { /* "a" + "b" was written where "a" was */
        r->file = a->file;
        r->line = a->line;
    }
    return r;
}
