#include "http/etag.h"

#include "t.h"

enum { ALL = LUX_ETAG_USE_INODE | LUX_ETAG_USE_MTIME | LUX_ETAG_USE_SIZE };

static void test_make_shape(void) {
    char out[64];
    size_t n = lux_etag_make(out, ALL, 1234, 1700000000, 5, 42);
    CHECK(n >= 3);
    CHECK_INT(strlen(out), n);
    CHECK(out[0] == '"' && out[n - 1] == '"');
    for (size_t i = 1; i + 1 < n; i++)
        CHECK(out[i] != '"' && out[i] > 0x20 && out[i] < 0x7f);
    CHECK_INT(lux_etag_make(out, 0, 1234, 1700000000, 5, 42), 0);
}

static void test_make_stable_and_sensitive(void) {
    char a[64], b[64];
    lux_etag_make(a, ALL, 1234, 1700000000, 5, 42);
    lux_etag_make(b, ALL, 1234, 1700000000, 5, 42);
    CHECK_STR(a, b);
    lux_etag_make(b, ALL, 1235, 1700000000, 5, 42);
    CHECK(strcmp(a, b) != 0);
    lux_etag_make(b, ALL, 1234, 1700000001, 5, 42);
    CHECK(strcmp(a, b) != 0);
    lux_etag_make(b, ALL, 1234, 1700000000, 6, 42);
    CHECK(strcmp(a, b) != 0);
    lux_etag_make(b, ALL, 1234, 1700000000, 5, 43);
    CHECK(strcmp(a, b) != 0);
    /* Attributes left out of the flags do not matter. */
    lux_etag_make(a, LUX_ETAG_USE_SIZE, 1, 2, 3, 42);
    lux_etag_make(b, LUX_ETAG_USE_SIZE, 9, 8, 7, 42);
    CHECK_STR(a, b);
    /* The same number in different fields gives different tags. */
    lux_etag_make(a, LUX_ETAG_USE_SIZE, 0, 0, 0, 5);
    lux_etag_make(b, LUX_ETAG_USE_INODE, 5, 0, 0, 0);
    CHECK(strcmp(a, b) != 0);
}

static void test_make_no_collisions_nearby(void) {
    /* Neighbouring sizes and times must all differ (a cheap sanity check of the mixing). */
    static char seen[2048][64];
    size_t k = 0;
    for (uint64_t s = 0; s < 32; s++)
        for (time_t t = 0; t < 64; t++)
            lux_etag_make(seen[k++], ALL, 7, t, 0, s);
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++)
            if (strcmp(seen[i], seen[j]) == 0) {
                CHECK(0);
                return;
            }
}

typedef struct {
    const char *list, *etag;
    int weak, want;
} match_case;

static void test_list_match(void) {
    static const match_case cases[] = {
        {"*", "\"a\"", 1, 1},
        {"*", "\"a\"", 0, 1},
        {"  *  ", "\"a\"", 0, 1},
        {"\"a\"", "\"a\"", 1, 1},
        {"\"a\"", "\"a\"", 0, 1},
        {"\"a\"", "\"b\"", 1, 0},
        {"\"a\"", "\"ab\"", 1, 0},
        {"\"ab\"", "\"a\"", 1, 0},
        /* RFC 9110 8.8.3.2 table: W/"1" vs W/"1", W/"1" vs "1", "1" vs "1". */
        {"W/\"1\"", "W/\"1\"", 0, 0},
        {"W/\"1\"", "W/\"1\"", 1, 1},
        {"W/\"1\"", "\"1\"", 0, 0},
        {"W/\"1\"", "\"1\"", 1, 1},
        {"\"1\"", "W/\"1\"", 0, 0},
        {"\"1\"", "W/\"1\"", 1, 1},
        {"W/\"1\"", "W/\"2\"", 1, 0},
        {"w/\"1\"", "\"1\"", 1, 0},
        {"\"x\", \"a\"", "\"a\"", 0, 1},
        {"\"x\",\"a\"", "\"a\"", 0, 1},
        {"\"x\" ,\t\"a\" ", "\"a\"", 0, 1},
        {"\"x\", W/\"a\"", "\"a\"", 1, 1},
        {"\"x\", W/\"a\"", "\"a\"", 0, 0},
        {", ,\"a\",,", "\"a\"", 0, 1},
        {"\"x\", , \"y\"", "\"a\"", 1, 0},
        /* Commas inside a quoted tag belong to the tag. */
        {"\"a,b\"", "\"a,b\"", 0, 1},
        {"\"a,b\"", "\"a\"", 1, 0},
        {"\"a,b\"", "\"b\"", 1, 0},
        {"\"x,\", \"a\"", "\"a\"", 1, 1},
        /* Malformed lists match nothing (after the malformed element). */
        {"a", "\"a\"", 1, 0},
        {"\"a", "\"a\"", 1, 0},
        {"\"x\" \"a\"", "\"a\"", 1, 0},
        {"\"x\", *", "\"a\"", 1, 0},
        {"**", "\"a\"", 1, 0},
        {"\"a b\"", "\"a b\"", 1, 0},
        {"", "\"a\"", 1, 0},
        {"  ", "\"a\"", 1, 0},
        {"\"a\"", "", 1, 0},
        {"W/", "\"a\"", 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const match_case *c = &cases[i];
        int got = lux_etag_list_match(c->list, strlen(c->list), c->etag, strlen(c->etag), c->weak);
        if (got != c->want) {
            fprintf(stderr, "  list [%s] etag [%s] weak=%d: got %d want %d\n", c->list, c->etag,
                    c->weak, got, c->want);
            t_failed_now = 1;
        }
    }
}

static void test_made_tag_matches_itself(void) {
    char tag[64], list[80];
    size_t n = lux_etag_make(tag, ALL, 99, 1700000000, 123456789, 1 << 20);
    CHECK(lux_etag_list_match(tag, n, tag, n, 0));
    int m = snprintf(list, sizeof list, "W/%s", tag);
    CHECK(lux_etag_list_match(list, (size_t)m, tag, n, 1));
    CHECK(!lux_etag_list_match(list, (size_t)m, tag, n, 0));
}

int main(void) {
    RUN(test_make_shape);
    RUN(test_make_stable_and_sensitive);
    RUN(test_make_no_collisions_nearby);
    RUN(test_list_match);
    RUN(test_made_tag_matches_itself);
    T_EXIT();
}
