#include "core/pool.h"

#include <stdint.h>
#include <stdlib.h>

struct lux_pool_block {
    lux_pool_block *next;
    size_t size;
    _Alignas(16) char data[];
};

/* b becomes the current block, all of it free. */
static void use_block(lux_pool *p, lux_pool_block *b) {
    p->head = b;
    p->cur = b ? b->data : NULL;
    p->end = b ? b->data + b->size : NULL;
}

void lux_pool_init(lux_pool *p, size_t block_size) {
    use_block(p, NULL);
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
    use_block(p, b);
}

void lux_pool_free(lux_pool *p) {
    lux_pool_block *b = p->head;
    while (b) {
        lux_pool_block *next = b->next;
        free(b);
        b = next;
    }
    use_block(p, NULL);
}

void *lux_pool_alloc_block(lux_pool *p, size_t n) {
    lux_pool_block *b = p->head;
    size_t size = n > p->block_size ? n : p->block_size;
    lux_pool_block *nb = malloc(sizeof *nb + size);
    if (!nb)
        return NULL;
    nb->size = size;
    /* A big one-off allocation goes behind the current block so the current block's free
     * space stays usable. */
    if (b && n > p->block_size) {
        nb->next = b->next;
        b->next = nb;
        return nb->data;
    }
    nb->next = b;
    use_block(p, nb);
    p->cur += n;
    return nb->data;
}

void *lux_pool_detach(lux_pool *p) {
    lux_pool_reset(p);
    lux_pool_block *b = p->head;
    use_block(p, NULL);
    if (b && b->size != p->block_size) { /* an oversized one-off: not worth keeping */
        free(b);
        return NULL;
    }
    return b;
}

void lux_pool_attach(lux_pool *p, void *block) {
    lux_pool_block *b = block;
    b->next = NULL;
    use_block(p, b);
}

size_t lux_pool_held(const lux_pool *p) {
    size_t n = 0;
    for (const lux_pool_block *b = p->head; b; b = b->next)
        n += sizeof *b + b->size;
    return n;
}
