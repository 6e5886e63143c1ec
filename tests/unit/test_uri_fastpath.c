/*
 * The shortcuts for common values (an already normal Host, a plain target) against the full
 * rules: values one step away from the common case must not take them, and are answered as
 * the full rules answer them.
 */
#include <stdlib.h>
#include <string.h>

#include "http/uri.h"
#include "t.h"

struct hcase {
    const char *in;
    int len; /* what lux_host_normalize returns */
    const char *out;
};

/* Already normal: returned as they are, not a byte written. */
static const char *const normal_hosts[] = {
    "a",         "example.com",      "127.0.0.1:18230", "a:0",     "a:65535",     "a:00080",
    "x-y_z.b-c", "xn--bcher-kva.de", "0.0.0.0:1",       "_:12345", "a.b.c.d.e.f",
};

/* Each one step off the common case. */
static const struct hcase other_hosts[] = {
    {"Example.com", 11, "example.com"},
    {"example.coM", 11, "example.com"},
    {"example.com.", 11, "example.com"},
    {"example.com.:80", 14, "example.com:80"},
    {"a:", 1, "a"},
    {"a.:", 1, "a"},
    {"a:65536", -1, NULL},
    {"a:99999", -1, NULL},
    {"a:123456", -1, NULL},
    {"a:8x", -1, NULL},
    {"a:80:", -1, NULL},
    {"a::80", -1, NULL},
    {"", -1, NULL},
    {".", -1, NULL},
    {".a", -1, NULL},
    {"a..b", -1, NULL},
    {"a..", -1, NULL},
    {":80", -1, NULL},
    {"a b", -1, NULL},
    {"a/b", -1, NULL},
    {"a%41", -1, NULL},
    {"a\xc3\xa9", -1, NULL},
    {"[::1]", 5, "[::1]"},
    {"[::1]:80", 8, "[::1]:80"},
    {"[2001:DB8::A]", 13, "[2001:db8::a]"},
};

static void test_normal_hosts(void) {
    for (size_t i = 0; i < sizeof normal_hosts / sizeof *normal_hosts; i++) {
        char b[64];
        size_t n = strlen(normal_hosts[i]);
        memcpy(b, normal_hosts[i], n + 1);
        CHECK(lux_host_is_normal(b, n));
        CHECK_INT(lux_host_normalize(b, n), (int)n);
        CHECK_STR(b, normal_hosts[i]);
    }
}

static void test_other_hosts(void) {
    for (size_t i = 0; i < sizeof other_hosts / sizeof *other_hosts; i++) {
        const struct hcase *c = &other_hosts[i];
        char b[64];
        size_t n = strlen(c->in);
        memcpy(b, c->in, n + 1);
        if (lux_host_is_normal(b, n))
            fprintf(stderr, "  \"%s\" taken for normal\n", c->in);
        CHECK(!lux_host_is_normal(b, n));
        int r = lux_host_normalize(b, n);
        CHECK_INT(r, c->len);
        if (r >= 0 && c->out) {
            b[r] = '\0';
            CHECK_STR(b, c->out);
        }
    }
}

/* The name's 255-byte limit holds on the shortcut too, with and without a port. */
static void test_host_name_limit(void) {
    char b[300];
    memset(b, 'a', sizeof b);
    for (int i = 63; i < 255; i += 64)
        b[i] = '.';
    CHECK(lux_host_is_normal(b, 255));
    CHECK(!lux_host_is_normal(b, 256));
    CHECK_INT(lux_host_normalize(b, 256), -1);
    memcpy(b + 255, ":8080", 5);
    CHECK(lux_host_is_normal(b, 260));
    b[255] = 'a';
    memcpy(b + 256, ":8080", 5);
    CHECK(!lux_host_is_normal(b, 261));
    CHECK_INT(lux_host_normalize(b, 261), -1);
}

/* Plain targets are their own uri and path under any options; the rest are not plain. */
static void test_plain_targets(void) {
    static const char *const plain[] = {"/",   "/f1k.bin", "/a/b.c-d_e~f", "/a/b/",
                                        "/a.", "/a..b",    "/a/b.",        "/!$&'()*+,;=:@"};
    static const char *const other[] = {
        "",      "a",    "*",   "http://h/x", "/a?",  "/a?x",    "/a#f",      "//a",   "/a//b",
        "/.",    "/..",  "/.a", "/a/./b",     "/a/.", "/a/../b", "/%41",      "/a b",  "/a\\b",
        "/a\"b", "/a<b", "/a{", "/a^b",       "/a`b", "/a|b",    "/\xc3\xa9", "/\x7f", "/a\x01",
    };
    static const unsigned opts[] = {LUX_URI_DEFAULT_OPTS, 0,
                                    LUX_URI_DEFAULT_OPTS | LUX_URI_PATH_DOTSEG_REJECT |
                                        LUX_URI_PATH_BACKSLASH_TRANS | LUX_URI_PATH_2F_DECODE};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        size_t n = strlen(plain[i]);
        CHECK(lux_uri_is_plain(plain[i], n));
        for (size_t k = 0; k < sizeof opts / sizeof *opts; k++) {
            char ub[64], pb[64];
            lux_uri u;
            CHECK_INT(lux_uri_parse(plain[i], n, opts[k], &u, ub, pb), 0);
            CHECK_STR(u.uri, plain[i]);
            CHECK_STR(u.path, plain[i]);
            CHECK(u.query == NULL);
        }
    }
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        if (lux_uri_is_plain(other[i], strlen(other[i])))
            fprintf(stderr, "  \"%s\" taken for plain\n", other[i]);
        CHECK(!lux_uri_is_plain(other[i], strlen(other[i])));
    }
}

int main(void) {
    RUN(test_normal_hosts);
    RUN(test_other_hosts);
    RUN(test_host_name_limit);
    RUN(test_plain_targets);
    T_EXIT();
}
