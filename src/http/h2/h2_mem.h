/*
 * The memory nghttp2 asks for while a session runs: HPACK header buffers, stream objects, frames
 * queued for output (and the codec's own stream state and request-head buffers). A request costs
 * several small allocations that are freed again within the same request, so a session keeps
 * the small blocks it got back (a few size classes, a bounded number of each) and hands them
 * out again instead of going to malloc each time.
 */
#ifndef LUX_H2_MEM_H
#define LUX_H2_MEM_H

#include <stddef.h>

#define LUX_H2_MEM_CLASSES 4

typedef struct lux_h2_mem_block lux_h2_mem_block;

typedef struct {
    lux_h2_mem_block *free[LUX_H2_MEM_CLASSES]; /* blocks given back, per size class */
    unsigned nfree[LUX_H2_MEM_CLASSES];
} lux_h2_mem;

/* malloc, free, calloc and realloc with the cache (user data: the lux_h2_mem). */
void *lux_h2_mem_malloc(size_t size, void *mem);
void lux_h2_mem_free(void *ptr, void *mem);
void *lux_h2_mem_calloc(size_t nmemb, size_t size, void *mem);
void *lux_h2_mem_realloc(void *ptr, size_t size, void *mem);

/* Give every cached block back to the system (when the session ends). A session holds at most
 * 32 blocks of each class meanwhile: under 33 KiB, most of it only after bursts of streams. */
void lux_h2_mem_trim(lux_h2_mem *m);

/* How many blocks the cache holds. */
size_t lux_h2_mem_cached(const lux_h2_mem *m);

#endif
