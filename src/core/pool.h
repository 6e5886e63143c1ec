/*
 * A bump allocator for objects that die together: a request's strings and headers, a config
 * generation's settings. Blocks come from malloc; nothing is freed individually.
 */
#ifndef LUX_POOL_H
#define LUX_POOL_H

#include <stddef.h>
#include <string.h>

typedef struct lux_pool_block lux_pool_block;
typedef struct lux_pool {
    lux_pool_block *head; /* current block; older blocks chain behind it */
    size_t block_size;    /* default size of a new block */
    char *cur, *end;      /* the current block's free bytes (NULL while there is none) */
} lux_pool;

void lux_pool_init(lux_pool *p, size_t block_size);
/* Free every block but the first, and rewind it: ready for the next request. */
void lux_pool_reset(lux_pool *p);
void lux_pool_free(lux_pool *p);
/* lux_pool_alloc when the current block has no room for n (rounded) bytes. */
void *lux_pool_alloc_block(lux_pool *p, size_t n);

/* 16-byte aligned memory, or NULL when out of memory. Inline for the common case, room in the
 * current block: a request makes dozens of these, and the call cost as much as the work. */
static inline void *lux_pool_alloc(lux_pool *p, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (p->cur && (size_t)(p->end - p->cur) >= n) {
        void *r = p->cur;
        p->cur += n;
        return r;
    }
    return lux_pool_alloc_block(p, n);
}
/* A NUL-terminated copy of n bytes of s, or NULL when out of memory. Inline: a request makes
 * several, and the call cost a third of the work. */
static inline char *lux_pool_strndup(lux_pool *p, const char *s, size_t n) {
    char *d = lux_pool_alloc(p, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
/*
 * Take the pool's one remaining block (after lux_pool_reset) out, leaving the pool empty, or put
 * such a block back: lets an idle connection hand its block to a per-worker free list.
 * lux_pool_detach returns NULL when the pool holds no block.
 */
void *lux_pool_detach(lux_pool *p);
void lux_pool_attach(lux_pool *p, void *block);
/* Bytes held by the pool (for memory accounting). */
size_t lux_pool_held(const lux_pool *p);

#endif
