#include "http/h2/h2_mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Blocks of each class that a session keeps at most. Its streams are few (8 by default), but
 * each holds blocks of nghttp2's and of the codec's own in the same classes: with 16, a burst
 * of 8 streams ending together gave blocks back to free that the next burst took from malloc
 * again (about one malloc per request under h2load -c 50 -m 10); 32 keeps them all. */
#define KEEP_PER_CLASS 32

/* Usable bytes of each class; a larger request goes to malloc and back to free. */
static const size_t class_size[LUX_H2_MEM_CLASSES] = {64, 128, 256, 512};

/* Every block starts with this header, so that free and realloc know its size; the union keeps
 * the caller's bytes as aligned as malloc's. */
struct lux_h2_mem_block {
    union {
        struct {
            size_t usable;
            lux_h2_mem_block *next; /* while cached */
        };
        max_align_t align;
    };
};

/* The smallest class that holds `usable` bytes (64 << class), -1 for none. */
static int class_of(size_t usable) {
    if (usable <= class_size[0])
        return 0;
    if (usable > class_size[LUX_H2_MEM_CLASSES - 1])
        return -1;
    /* usable - 1 has its highest bit at 6 (65..128) up to 8 (257..512) */
    return (int)(sizeof(unsigned long) * 8) - __builtin_clzl((unsigned long)(usable - 1)) - 6;
}

static void *payload(lux_h2_mem_block *b) {
    return b + 1;
}

static lux_h2_mem_block *block_of(void *ptr) {
    return (lux_h2_mem_block *)ptr - 1;
}

/* A fresh block: a class's full size when it has one, so that it can be cached later. */
static lux_h2_mem_block *block_new(size_t size) {
    int c = class_of(size);
    size_t usable = c >= 0 ? class_size[c] : size;
    if (usable > SIZE_MAX - sizeof(lux_h2_mem_block))
        return NULL;
    lux_h2_mem_block *b = malloc(sizeof *b + usable);
    if (b)
        b->usable = usable;
    return b;
}

void *lux_h2_mem_malloc(size_t size, void *mem) {
    lux_h2_mem *m = mem;
    int c = class_of(size);
    if (c >= 0 && m->free[c]) {
        lux_h2_mem_block *b = m->free[c];
        m->free[c] = b->next;
        m->nfree[c]--;
        return payload(b);
    }
    lux_h2_mem_block *b = block_new(size);
    return b ? payload(b) : NULL;
}

void lux_h2_mem_free(void *ptr, void *mem) {
    lux_h2_mem *m = mem;
    if (!ptr)
        return;
    lux_h2_mem_block *b = block_of(ptr);
    int c = class_of(b->usable);
    if (c >= 0 && b->usable == class_size[c] && m->nfree[c] < KEEP_PER_CLASS) {
        b->next = m->free[c];
        m->free[c] = b;
        m->nfree[c]++;
        return;
    }
    free(b);
}

void *lux_h2_mem_calloc(size_t nmemb, size_t size, void *mem) {
    if (size && nmemb > SIZE_MAX / size)
        return NULL;
    void *p = lux_h2_mem_malloc(nmemb * size, mem);
    if (p)
        memset(p, 0, nmemb * size);
    return p;
}

void *lux_h2_mem_realloc(void *ptr, size_t size, void *mem) {
    if (!ptr)
        return lux_h2_mem_malloc(size, mem);
    lux_h2_mem_block *old = block_of(ptr);
    if (size <= old->usable)
        return ptr;
    void *p = lux_h2_mem_malloc(size, mem);
    if (!p)
        return NULL;
    memcpy(p, ptr, old->usable);
    lux_h2_mem_free(ptr, mem);
    return p;
}

void lux_h2_mem_trim(lux_h2_mem *m) {
    for (int c = 0; c < LUX_H2_MEM_CLASSES; c++) {
        while (m->free[c]) {
            lux_h2_mem_block *b = m->free[c];
            m->free[c] = b->next;
            free(b);
        }
        m->nfree[c] = 0;
    }
}

size_t lux_h2_mem_cached(const lux_h2_mem *m) {
    size_t n = 0;
    for (int c = 0; c < LUX_H2_MEM_CLASSES; c++)
        n += m->nfree[c];
    return n;
}
