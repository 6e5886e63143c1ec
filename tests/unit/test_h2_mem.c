#include "http/h2/h2_mem.h"

#include <stdalign.h>
#include <stdint.h>

#include "t.h"

static void test_freed_block_is_reused(void) {
    lux_h2_mem m = {0};
    void *p = lux_h2_mem_malloc(40, &m);
    CHECK(p != NULL);
    lux_h2_mem_free(p, &m);
    CHECK_INT(lux_h2_mem_cached(&m), 1);
    void *q = lux_h2_mem_malloc(60, &m); /* the same size class */
    CHECK(q == p);
    CHECK_INT(lux_h2_mem_cached(&m), 0);
    lux_h2_mem_free(q, &m);
    lux_h2_mem_trim(&m);
    CHECK_INT(lux_h2_mem_cached(&m), 0);
}

static void test_blocks_are_aligned(void) {
    lux_h2_mem m = {0};
    size_t sizes[] = {1, 64, 65, 300, 512, 513, 5000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *p = lux_h2_mem_malloc(sizes[i], &m);
        CHECK(p != NULL);
        CHECK_INT((uintptr_t)p % alignof(max_align_t), 0);
        lux_h2_mem_free(p, &m);
    }
    lux_h2_mem_trim(&m);
}

static void test_calloc_zeroes_a_reused_block(void) {
    lux_h2_mem m = {0};
    unsigned char *p = lux_h2_mem_malloc(100, &m);
    memset(p, 0xff, 100);
    lux_h2_mem_free(p, &m);
    unsigned char *q = lux_h2_mem_calloc(10, 10, &m);
    CHECK(q == p);
    int zero = 1;
    for (int i = 0; i < 100; i++)
        zero &= q[i] == 0;
    CHECK(zero);
    lux_h2_mem_free(q, &m);
    lux_h2_mem_trim(&m);
}

static void test_realloc_keeps_the_bytes(void) {
    lux_h2_mem m = {0};
    char *p = lux_h2_mem_realloc(NULL, 10, &m);
    memcpy(p, "0123456789", 10);
    CHECK(lux_h2_mem_realloc(p, 64, &m) == p); /* still fits its class */
    char *q = lux_h2_mem_realloc(p, 1000, &m);
    CHECK(q != NULL);
    CHECK(memcmp(q, "0123456789", 10) == 0);
    CHECK_INT(lux_h2_mem_cached(&m), 1); /* the old block went back to the cache */
    char *r = lux_h2_mem_realloc(q, 3000, &m);
    CHECK(r != NULL);
    CHECK(memcmp(r, "0123456789", 10) == 0);
    lux_h2_mem_free(r, &m);
    CHECK_INT(lux_h2_mem_cached(&m), 1); /* a large block is not kept */
    lux_h2_mem_trim(&m);
}

static void test_cache_is_bounded(void) {
    lux_h2_mem m = {0};
    void *p[100];
    for (int i = 0; i < 100; i++)
        p[i] = lux_h2_mem_malloc(32, &m);
    for (int i = 0; i < 100; i++)
        lux_h2_mem_free(p[i], &m);
    CHECK(lux_h2_mem_cached(&m) > 0);
    CHECK(lux_h2_mem_cached(&m) < 100);
    lux_h2_mem_trim(&m);
    CHECK_INT(lux_h2_mem_cached(&m), 0);
}

static void test_overflowing_calloc_fails(void) {
    lux_h2_mem m = {0};
    CHECK(lux_h2_mem_calloc(SIZE_MAX / 2, 4, &m) == NULL);
    CHECK(lux_h2_mem_malloc(SIZE_MAX - 8, &m) == NULL);
}

int main(void) {
    RUN(test_freed_block_is_reused);
    RUN(test_blocks_are_aligned);
    RUN(test_calloc_zeroes_a_reused_block);
    RUN(test_realloc_keeps_the_bytes);
    RUN(test_cache_is_bounded);
    RUN(test_overflowing_calloc_fails);
    T_EXIT();
}
