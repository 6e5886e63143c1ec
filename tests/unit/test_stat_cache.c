#include "http/stat_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"

static char dir[64];

static const char *at(const char *rel) {
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, rel);
    return p;
}

static void write_file(const char *rel, const char *content) {
    FILE *f = fopen(at(rel), "w");
    fputs(content, f);
    fclose(f);
}

/* A sparse file of size bytes: cheap on disk, read into memory in full by the cache. */
static void sparse_file(const char *rel, off_t size) {
    int fd = open(at(rel), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, size) == 0);
    close(fd);
}

static lux_file *get(lux_stat_cache *c, time_t now, const char *path, int follow) {
    return lux_stat_cache_get(c, now, path, strlen(path), follow);
}

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/lux-stat-cache-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    mkdir(at("d"), 0755);
    mkdir(at("d/sub"), 0755);
    mkdir(at("outside"), 0755);
    write_file("d/sub/f.txt", "inside\n");
    write_file("outside/s.txt", "outside\n");
    CHECK(symlink("../outside", at("d/linkdir")) == 0);
    CHECK(symlink("sub/f.txt", at("d/linkfile.txt")) == 0);
    CHECK(symlink("sub", at("d/linksub")) == 0);
    mkdir(at("flood"), 0755);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void test_bound_under_unique_files(void) {
    lux_stat_cache *c = lux_stat_cache_new();
    const int files = LUX_STAT_CACHE_MAX_ENTRIES + 500;
    char rel[64];
    for (int i = 0; i < files; i++) {
        snprintf(rel, sizeof rel, "flood/%d", i);
        write_file(rel, rel);
    }
    lux_file *first = get(c, 100, at("flood/0"), 1);
    CHECK(first && first->content && memcmp(first->content, "flood/0", 7) == 0);
    size_t most = 0;
    for (int i = 1; i < files; i++) {
        snprintf(rel, sizeof rel, "flood/%d", i);
        lux_file *f = get(c, 100, at(rel), 1);
        CHECK(f != NULL);
        lux_file_unref(f);
        if (lux_stat_cache_entries(c) > most)
            most = lux_stat_cache_entries(c);
    }
    CHECK_INT(most, LUX_STAT_CACHE_MAX_ENTRIES);
    /* The first file was evicted long ago; the reference a response would hold still works. */
    lux_file *again = get(c, 100, at("flood/0"), 1);
    CHECK(again != first);
    CHECK(first->refs == 1 && first->size == 7 && memcmp(first->content, "flood/0", 7) == 0);
    lux_file_unref(again);
    lux_file_unref(first);
    lux_stat_cache_free(c);
}

static void test_hot_file_survives_flood(void) {
    lux_stat_cache *c = lux_stat_cache_new();
    lux_file *hot = get(c, 100, at("d/sub/f.txt"), 1);
    char rel[64];
    for (int i = 0; i < LUX_STAT_CACHE_MAX_ENTRIES + 500; i++) {
        snprintf(rel, sizeof rel, "flood/%d", i);
        lux_file_unref(get(c, 100, at(rel), 1));
        if (i % 1000 == 0) { /* asked for again now and then: the clock keeps it */
            lux_file *f = get(c, 100, at("d/sub/f.txt"), 1);
            CHECK(f == hot);
            lux_file_unref(f);
        }
    }
    lux_file *f = get(c, 100, at("d/sub/f.txt"), 1);
    CHECK(f == hot);
    lux_file_unref(f);
    lux_file_unref(hot);
    lux_stat_cache_free(c);
}

static void test_misses_are_not_cached(void) {
    lux_stat_cache *c = lux_stat_cache_new();
    char rel[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(rel, sizeof rel, "flood/missing-%d", i);
        errno = 0;
        CHECK(get(c, 100, at(rel), 1) == NULL);
        CHECK_INT(errno, ENOENT);
        snprintf(rel, sizeof rel, "d/sub/f.txt/%d", i);
        CHECK(get(c, 100, at(rel), 0) == NULL);
        CHECK_INT(errno, ENOTDIR);
    }
    CHECK_INT(lux_stat_cache_entries(c), 0);
    /* A file created after a miss is seen at once. */
    write_file("flood/missing-0", "now here\n");
    lux_file *f = get(c, 100, at("flood/missing-0"), 1);
    CHECK(f && f->size == 9);
    lux_file_unref(f);
    unlink(at("flood/missing-0"));
    lux_stat_cache_free(c);
}

static void test_inline_bytes_bounded(void) {
    lux_stat_cache *c = lux_stat_cache_new();
    int files = LUX_STAT_CACHE_MAX_INLINE / LUX_FILE_INLINE_MAX + 100;
    char rel[64];
    for (int i = 0; i < files; i++) {
        snprintf(rel, sizeof rel, "flood/big-%d", i);
        sparse_file(rel, LUX_FILE_INLINE_MAX);
        lux_file *f = get(c, 100, at(rel), 1);
        CHECK(f && f->content);
        lux_file_unref(f);
        CHECK(lux_stat_cache_inline_bytes(c) <= LUX_STAT_CACHE_MAX_INLINE);
        unlink(at(rel));
    }
    CHECK(lux_stat_cache_entries(c) < (size_t)files);
    lux_stat_cache_free(c);
}

static void test_hit_needs_no_lookup_within_a_second(void) {
    lux_stat_cache *c = lux_stat_cache_new();
    write_file("flood/changing", "one\n");
    lux_file *a = get(c, 100, at("flood/changing"), 1);
    write_file("flood/changing", "two, longer\n");
    lux_file *b = get(c, 100, at("flood/changing"), 1);
    CHECK(a == b); /* trusted within the same second */
    lux_file *n = get(c, 101, at("flood/changing"), 1);
    CHECK(n != a && n->size == 12 && memcmp(n->content, "two, longer\n", 12) == 0);
    CHECK(a->size == 4 && memcmp(a->content, "one\n", 4) == 0);
    unlink(at("flood/changing"));
    lux_file *gone = get(c, 102, at("flood/changing"), 1);
    CHECK(gone == NULL);
    CHECK_INT(lux_stat_cache_entries(c), 0);
    lux_file_unref(a);
    lux_file_unref(b);
    lux_file_unref(n);
    lux_stat_cache_free(c);
}

/* A file's ETag is made once per flags and is what lux_etag_make makes of its attributes; a
 * changed file is a new entry with its own. */
static void test_etag_kept_per_flags(void) {
    lux_stat_cache *c = lux_stat_cache_new();
    write_file("flood/tagged", "one\n");
    lux_file *f = get(c, 100, at("flood/tagged"), 1);
    char want[LUX_ETAG_MAX + 1];
    const char *tag;
    for (unsigned flags = 0; flags < 8; flags++) {
        size_t n = lux_etag_make(want, flags, f->ino, f->mtime, f->mtime_nsec, f->size);
        CHECK_INT(lux_file_etag(f, flags, &tag), n);
        CHECK(memcmp(tag, want, n) == 0);
        CHECK_INT(lux_file_etag(f, flags, &tag), n); /* the kept one */
        CHECK(memcmp(tag, want, n) == 0);
    }
    size_t n = lux_file_etag(f, LUX_ETAG_USE_SIZE, &tag);
    char before[LUX_ETAG_MAX + 1];
    memcpy(before, tag, n);
    write_file("flood/tagged", "two, longer\n");
    lux_file *g = get(c, 101, at("flood/tagged"), 1);
    CHECK(g != f);
    CHECK_INT(lux_file_etag(g, LUX_ETAG_USE_SIZE, &tag), n);
    CHECK(memcmp(tag, before, n) != 0);
    lux_file_unref(f);
    lux_file_unref(g);
    lux_stat_cache_free(c);
}

/* A file knows the path it was opened by: what a type kept with it was found for. With and
 * without following links the same path gives two files, each with its own copy. */
static void test_file_knows_its_path(void) {
    lux_stat_cache *c = lux_stat_cache_new();
    const char *path = at("d/sub/f.txt");
    lux_file *f = get(c, 100, path, 1);
    lux_file *g = get(c, 100, path, 0);
    CHECK(f && g && f != g);
    CHECK_INT(f->path_len, strlen(path));
    CHECK(f->path && strcmp(f->path, path) == 0);
    CHECK(g->path && g->path != f->path && strcmp(g->path, path) == 0);
    CHECK(f->type.gen == 0 && g->type.gen == 0); /* no type found yet */
    lux_file_unref(f);
    lux_file_unref(g);
    lux_stat_cache_free(c);
}

static void test_expire_is_incremental(void) {
    lux_stat_cache *c = lux_stat_cache_new();
    char rel[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(rel, sizeof rel, "flood/%d", i);
        lux_file_unref(get(c, 100, at(rel), 1));
    }
    lux_stat_cache_expire(c, 101); /* fresh: nothing goes */
    CHECK_INT(lux_stat_cache_entries(c), 1000);
    lux_stat_cache_expire(c, 1000);
    size_t after_one = lux_stat_cache_entries(c);
    CHECK(after_one < 1000 && after_one > 0); /* a bounded step, not a sweep of everything */
    for (int i = 0; i < 100 && lux_stat_cache_entries(c); i++)
        lux_stat_cache_expire(c, 1000);
    CHECK_INT(lux_stat_cache_entries(c), 0);
    lux_stat_cache_free(c);
}

static void test_follow_disabled_refuses_links_anywhere(void) {
    lux_stat_cache *c = lux_stat_cache_new();
    const char *paths[] = {"d/linkdir/s.txt", "d/linkfile.txt", "d/linksub/f.txt"};
    for (size_t i = 0; i < 3; i++) {
        lux_file *f = get(c, 100, at(paths[i]), 1);
        CHECK(f != NULL); /* followed, and now cached */
        lux_file_unref(f);
        errno = 0;
        CHECK(get(c, 100, at(paths[i]), 0) == NULL);
        CHECK_INT(errno, ELOOP);
    }
    lux_file *f = get(c, 100, at("d/sub/f.txt"), 0);
    CHECK(f && f->size == 7);
    lux_file_unref(f);
    /* A missing file behind a link is missing, not refused. */
    CHECK(get(c, 100, at("d/linkdir/nothing"), 0) == NULL);
    CHECK_INT(errno, ENOENT);
    lux_stat_cache_free(c);
}

/* The fallback for kernels without openat2 answers as openat2 does. */
static void test_walk_matches_openat2(void) {
    struct {
        const char *rel;
        int err;
    } cases[] = {
        {"d/sub/f.txt", 0},         {"d/sub/", 0},
        {"d//sub/f.txt", 0},        {"d/linkdir/s.txt", ELOOP},
        {"d/linkfile.txt", ELOOP},  {"d/linksub/f.txt", ELOOP},
        {"d/linksub", ELOOP},       {"d/nothing", ENOENT},
        {"d/sub/f.txt/x", ENOTDIR}, {"d/sub/f.txt/", ENOTDIR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int flags = 0; flags < 2; flags++) {
            int how = flags ? O_PATH | O_CLOEXEC : O_RDONLY | O_NONBLOCK | O_CLOEXEC;
            errno = 0;
            int a = lux_open_no_symlinks(at(cases[i].rel), how);
            int ea = a < 0 ? errno : 0;
            errno = 0;
            int b = lux_open_no_symlinks_walk(at(cases[i].rel), how);
            int eb = b < 0 ? errno : 0;
            if (ea != cases[i].err || eb != cases[i].err)
                fprintf(stderr, "  %s (%s): openat2 %d, walk %d, want %d\n", cases[i].rel,
                        flags ? "O_PATH" : "O_RDONLY", ea, eb, cases[i].err);
            CHECK_INT(ea, cases[i].err);
            CHECK_INT(eb, cases[i].err);
            struct stat sa, sb;
            if (a >= 0 && b >= 0) {
                CHECK(fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_ino == sb.st_ino);
            }
            if (a >= 0)
                close(a);
            if (b >= 0)
                close(b);
        }
}

int main(void) {
    setup();
    RUN(test_bound_under_unique_files);
    RUN(test_hot_file_survives_flood);
    RUN(test_misses_are_not_cached);
    RUN(test_inline_bytes_bounded);
    RUN(test_hit_needs_no_lookup_within_a_second);
    RUN(test_etag_kept_per_flags);
    RUN(test_file_knows_its_path);
    RUN(test_expire_is_incremental);
    RUN(test_follow_disabled_refuses_links_anywhere);
    RUN(test_walk_matches_openat2);
    teardown();
    T_EXIT();
}
