#include "core/pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct lux_pool_block {
    lux_pool_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void lux_pool_init(lux_pool *p, size_t block_size) {
    p->head = NULL;
    p->block_size = block_size;
}

void lux_pool_reset(lux_pool *p) {
    lux_pool_block *b = p->head;
    if (!b)
        return;
    /* Keep the oldest block (the usual working set) and drop the overflow ones. */
    while (b->next) {
        lux_pool_block *next = b->next;
        free(b);
        b = next;
    }
    b->used = 0;
    p->head = b;
}

void lux_pool_free(lux_pool *p) {
    lux_pool_block *b = p->head;
    while (b) {
        lux_pool_block *next = b->next;
        free(b);
        b = next;
    }
    p->head = NULL;
}

void *lux_pool_alloc(lux_pool *p, size_t n) {
    n = (n + 15) & ~(size_t)15;
    lux_pool_block *b = p->head;
    if (!b || b->size - b->used < n) {
        size_t size = n > p->block_size ? n : p->block_size;
        lux_pool_block *nb = malloc(sizeof *nb + size);
        if (!nb)
            return NULL;
        nb->size = size;
        nb->used = 0;
        /* A big one-off allocation goes behind the current block so the current block's free
         * space stays usable. */
        if (b && n > p->block_size) {
            nb->next = b->next;
            b->next = nb;
            nb->used = n;
            return nb->data;
        }
        nb->next = b;
        p->head = b = nb;
    }
    void *r = b->data + b->used;
    b->used += n;
    return r;
}

char *lux_pool_strndup(lux_pool *p, const char *s, size_t n) {
    char *d = lux_pool_alloc(p, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void *lux_pool_detach(lux_pool *p) {
    lux_pool_reset(p);
    lux_pool_block *b = p->head;
    p->head = NULL;
    if (b && b->size != p->block_size) { /* an oversized one-off: not worth keeping */
        free(b);
        return NULL;
    }
    return b;
}

void lux_pool_attach(lux_pool *p, void *block) {
    lux_pool_block *b = block;
    b->next = NULL;
    b->used = 0;
    p->head = b;
}

size_t lux_pool_held(const lux_pool *p) {
    size_t n = 0;
    for (const lux_pool_block *b = p->head; b; b = b->next)
        n += sizeof *b + b->size;
    return n;
}
