/* The bump allocator: alignment, blocks, and the one block a request hands back and takes. */
#include "core/pool.h"

#include <stdint.h>
#include <string.h>

#include "t.h"

static int aligned(const void *p) {
    return ((uintptr_t)p & 15) == 0;
}

static void test_aligned_and_apart(void) {
    lux_pool p;
    lux_pool_init(&p, 256);
    char *a = lux_pool_alloc(&p, 1);
    char *b = lux_pool_alloc(&p, 17);
    char *c = lux_pool_alloc(&p, 0);
    CHECK(a && b && c);
    CHECK(aligned(a) && aligned(b) && aligned(c));
    CHECK(b >= a + 16);
    CHECK(c >= b + 32);
    memset(a, 1, 1);
    memset(b, 2, 17);
    CHECK(a[0] == 1 && b[16] == 2);
    lux_pool_free(&p);
}

static void test_new_block_when_full(void) {
    lux_pool p;
    lux_pool_init(&p, 256);
    char *first = lux_pool_alloc(&p, 200);
    char *second = lux_pool_alloc(&p, 100); /* no room left: a second block */
    CHECK(first && second);
    CHECK(second < first || second >= first + 256);
    size_t two = lux_pool_held(&p);
    CHECK(two >= 2 * 256);
    lux_pool_reset(&p); /* back to one block, rewound */
    CHECK(lux_pool_held(&p) < two);
    char *again = lux_pool_alloc(&p, 200);
    CHECK(again != NULL);
    lux_pool_free(&p);
    CHECK_INT(lux_pool_held(&p), 0);
}

/* A request bigger than a block gets its own, behind the current one: the current block's free
 * space still serves the next small requests. */
static void test_big_one_off_keeps_current_block(void) {
    lux_pool p;
    lux_pool_init(&p, 256);
    char *small = lux_pool_alloc(&p, 16);
    char *big = lux_pool_alloc(&p, 1000);
    char *next = lux_pool_alloc(&p, 16);
    CHECK(small && big && next);
    CHECK(next == small + 16);
    memset(big, 3, 1000);
    CHECK(next < big || next >= big + 1000);
    lux_pool_free(&p);
}

/* An empty pool takes its first block from malloc; detach hands the block out rewound, and
 * attach puts it back in use. */
static void test_detach_and_attach(void) {
    lux_pool p;
    lux_pool_init(&p, 256);
    CHECK(lux_pool_detach(&p) == NULL);
    char *a = lux_pool_alloc(&p, 32);
    CHECK(a != NULL);
    void *block = lux_pool_detach(&p);
    CHECK(block != NULL);
    CHECK_INT(lux_pool_held(&p), 0);
    lux_pool q;
    lux_pool_init(&q, 256);
    lux_pool_attach(&q, block);
    char *b = lux_pool_alloc(&q, 32);
    CHECK(b == a); /* the same block, from its start */
    lux_pool_free(&q);
}

int main(void) {
    RUN(test_aligned_and_apart);
    RUN(test_new_block_when_full);
    RUN(test_big_one_off_keeps_current_block);
    RUN(test_detach_and_attach);
    T_EXIT();
}
