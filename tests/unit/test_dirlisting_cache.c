/* The per-thread cache of rendered directory listings. */
#include "mod/dirlisting_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "t.h"

static lux_file *page(size_t size) {
    lux_file *f = calloc(1, sizeof *f);
    f->refs = 1;
    f->fd = -1;
    f->content = calloc(1, size ? size : 1);
    f->mode = S_IFREG;
    f->size = size;
    return f;
}

static lux_listing_key key(const char *dir, const int *settings) {
    return (lux_listing_key){.settings = settings,
                             .settings_len = sizeof *settings,
                             .dir = dir,
                             .dir_len = strlen(dir),
                             .uri = "/d/",
                             .uri_len = 3,
                             .mtime = 1000,
                             .mtime_nsec = 5,
                             .ino = 7};
}

static void test_hit_within_max_age(void) {
    int s = 1;
    lux_listing_key k = key("/srv/hit", &s);
    lux_file *p = page(100);
    CHECK(lux_listing_cache_get(&k, 100) == NULL);
    lux_listing_cache_put(&k, p, 110);
    lux_file *got = lux_listing_cache_get(&k, 109);
    CHECK(got == p);
    CHECK_INT(p->refs, 3); /* ours, the cache's, the one just handed out */
    lux_file_unref(got);
    CHECK(lux_listing_cache_get(&k, 110) == NULL); /* expired: dropped */
    CHECK_INT(p->refs, 1);
    lux_file_unref(p);
}

static void test_key_must_match(void) {
    int s = 1, other = 2;
    lux_listing_key k = key("/srv/match", &s);
    lux_file *p = page(10);
    lux_listing_cache_put(&k, p, 1000);
    lux_listing_key k2 = key("/srv/match", &other);
    CHECK(lux_listing_cache_get(&k2, 1) == NULL); /* other settings */
    k2 = key("/srv/matcH", &s);
    CHECK(lux_listing_cache_get(&k2, 1) == NULL); /* other directory */
    k2 = k;
    k2.uri = "/e/";
    CHECK(lux_listing_cache_get(&k2, 1) == NULL); /* other URL */
    lux_file *got = lux_listing_cache_get(&k, 1);
    CHECK(got == p);
    lux_file_unref(got);
    k2 = k;
    k2.mtime_nsec = 6; /* the directory changed: the page is dropped */
    CHECK(lux_listing_cache_get(&k2, 1) == NULL);
    CHECK(lux_listing_cache_get(&k, 1) == NULL);
    lux_file_unref(p);
}

static void test_entries_bounded(void) {
    int s = 3;
    char dirs[LUX_LISTING_CACHE_ENTRIES + 1][32];
    lux_file *pages[LUX_LISTING_CACHE_ENTRIES + 1];
    for (int i = 0; i <= LUX_LISTING_CACHE_ENTRIES; i++) {
        snprintf(dirs[i], sizeof dirs[i], "/srv/many/%d", i);
        lux_listing_key k = key(dirs[i], &s);
        pages[i] = page(1);
        lux_listing_cache_put(&k, pages[i], 1000);
    }
    /* the least recently used, the first, made room for the last */
    CHECK_INT(pages[0]->refs, 1);
    lux_listing_key k = key(dirs[LUX_LISTING_CACHE_ENTRIES], &s);
    lux_file *got = lux_listing_cache_get(&k, 1);
    CHECK(got == pages[LUX_LISTING_CACHE_ENTRIES]);
    lux_file_unref(got);
    for (int i = 0; i <= LUX_LISTING_CACHE_ENTRIES; i++)
        lux_file_unref(pages[i]);
}

static void test_bytes_bounded(void) {
    int s = 4;
    lux_listing_key big = key("/srv/big", &s), half = key("/srv/half", &s);
    lux_file *too_big = page(LUX_LISTING_CACHE_BYTES + 1);
    lux_listing_cache_put(&big, too_big, 1000);
    CHECK_INT(too_big->refs, 1); /* never kept */
    lux_file_unref(too_big);
    lux_file *a = page(LUX_LISTING_CACHE_BYTES / 2 + 1), *b = page(LUX_LISTING_CACHE_BYTES / 2);
    lux_listing_cache_put(&half, a, 1000);
    lux_listing_cache_put(&big, b, 1000);
    CHECK_INT(a->refs, 1); /* made room */
    CHECK_INT(b->refs, 2);
    lux_file_unref(a);
    lux_file_unref(b);
}

static void test_page_outlives_eviction(void) {
    int s = 5;
    lux_listing_key k = key("/srv/held", &s);
    lux_file *p = page(64), *q = page(1);
    lux_listing_cache_put(&k, p, 1000);
    lux_file *held = lux_listing_cache_get(&k, 1);
    lux_file_unref(p);
    lux_listing_cache_put(&k, q, 1000); /* replaces, and drops, the old page */
    CHECK_INT(held->refs, 1);           /* only the response's reference is left */
    CHECK(held->content != NULL && held->size == 64);
    lux_file_unref(held);
    lux_file_unref(q);
}

/* The cache belongs to the thread that uses it, as a worker's does: run the tests on one, so
 * that its end frees what is still cached (ASan's leak check sees it). */
static void *run_all(void *arg) {
    (void)arg;
    RUN(test_hit_within_max_age);
    RUN(test_key_must_match);
    RUN(test_entries_bounded);
    RUN(test_bytes_bounded);
    RUN(test_page_outlives_eviction);
    return NULL;
}

int main(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, run_all, NULL) != 0 || pthread_join(t, NULL) != 0)
        return 1;
    T_EXIT();
}
