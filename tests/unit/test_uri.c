#include "http/uri.h"

#include <stdlib.h>

#include "t.h"

#define D LUX_URI_DEFAULT_OPTS
#define NOREMOVE (D & ~LUX_URI_PATH_DOTSEG_REMOVE)
#define UNRES_ONLY (D & ~LUX_URI_NORMALIZE_REQUIRED)

struct ucase {
    const char *in;
    unsigned opts;
    int status;
    const char *uri, *path;
};

static const struct ucase cases[] = {
    {"/", D, 0, "/", "/"},
    {"/index.html", D, 0, "/index.html", "/index.html"},
    /* plain paths and the characters beside them that need the full rewrite */
    {"/a/b/c.html?x=1&y=%41", D, 0, "/a/b/c.html?x=1&y=A", "/a/b/c.html"},
    {"/a?b/../c", D, 0, "/a?b/../c", "/a"},
    {"/a/b?", D, 0, "/a/b?", "/a/b"},
    {"/?x", D, 0, "/?x", "/"},
    {"/a/", D, 0, "/a/", "/a/"},
    {"/a/.b", D, 0, "/a/.b", "/a/.b"},
    {"/a//b", D, 0, "/a/b", "/a/b"},
    {"/a//b", NOREMOVE, 0, "/a//b", "/a/b"},
    {"/a/b/", NOREMOVE, 0, "/a/b/", "/a/b/"},
    {"/a#frag", D, 0, "/a", "/a"},
    {"/a/b.", D, 0, "/a/b.", "/a/b."},
    {"/a-b_c~d!$&'()*+,;=:@", D, 0, "/a-b_c~d!$&'()*+,;=:@", "/a-b_c~d!$&'()*+,;=:@"},
    {"/a/b", 0, 0, "/a/b", "/a/b"},
    {"http://h/a/b?q", D, 0, "/a/b?q", "/a/b"},
    {"http://h", D, 0, "/", "/"},
    {"/a/../../etc/passwd", D, 0, "/etc/passwd", "/etc/passwd"},
    {"/%2e%2e/x", D, 0, "/x", "/x"},
    {"/.%2e/", D, 0, "/", "/"},
    {"/a/%2E./b", D, 0, "/b", "/b"},
    {"//x//y/", D, 0, "/x/y/", "/x/y/"},
    {"/a/.", D, 0, "/a/", "/a/"},
    {"/a/..", D, 0, "/", "/"},
    {"/..", D, 0, "/", "/"},
    {"/.", D, 0, "/", "/"},
    {"/../../..", D, 0, "/", "/"},
    {"/a/b/../c/./d", D, 0, "/a/c/d", "/a/c/d"},
    {"/a/.../b", D, 0, "/a/.../b", "/a/.../b"},
    {"/a/..b/.c", D, 0, "/a/..b/.c", "/a/..b/.c"},
    {"/%", D, 400, NULL, NULL},
    {"/%4", D, 400, NULL, NULL},
    {"/%zz", D, 400, NULL, NULL},
    {"/%4g", D, 400, NULL, NULL},
    {"/%00", D, 400, NULL, NULL},
    {"/a%2fb", D, 0, "/a%2Fb", "/a%2Fb"},
    {"/a%2fb", D | LUX_URI_PATH_2F_DECODE, 0, "/a/b", "/a/b"},
    {"/a%2Fb", D | LUX_URI_PATH_2F_REJECT, 400, NULL, NULL},
    {"/a/..%2f..%2fetc", D | LUX_URI_PATH_2F_DECODE, 0, "/etc", "/etc"},
    {"/%2e%2e%2fx", D, 0, "/..%2Fx", "/..%2Fx"},
    {"/?a%00b", D, 400, NULL, NULL},
    {"/?a%00b", 0, 400, NULL, NULL},
    {"/?a%01b", D, 400, NULL, NULL},
    {"/%41%42c%7e%7E", D, 0, "/ABc~~", "/ABc~~"},
    {"/a b", D, 0, "/a%20b", "/a b"},
    {"/%20", D, 0, "/%20", "/ "},
    {"/%3f?x", D, 0, "/%3F?x", "/?"},
    {"/%c3%a9", D, 0, "/%C3%A9", "/\xc3\xa9"},
    {"/\xc3\xa9", D, 0, "/%C3%A9", "/\xc3\xa9"},
    {"/%c0%af", D, 400, NULL, NULL},
    {"/\xc1\x81", D, 400, NULL, NULL},
    {"/\xff", D, 400, NULL, NULL},
    {"/%f5", D, 400, NULL, NULL},
    {"/%21%24", D, 0, "/!$", "/!$"},
    {"/%21", UNRES_ONLY, 0, "/%21", "/!"},
    {"/%7b%7d", D, 0, "/%7B%7D", "/{}"},
    {"/a\"<>", D, 0, "/a%22%3C%3E", "/a\"<>"},
    {"/%25", D, 0, "/%25", "/%"},
    {"/%2525", D, 0, "/%2525", "/%25"},
    {"/a?b=%41&c=%26&d=%3d&e=%2b&f=%3b", D, 0, "/a?b=A&c=%26&d=%3D&e=%2B&f=%3B", "/a"},
    {"/a?x=%2f%3f", D, 0, "/a?x=/?", "/a"},
    {"/a?x=%2f", UNRES_ONLY, 0, "/a?x=%2F", "/a"},
    {"/?a b", D, 0, "/?a%20b", "/"},
    {"/?a b", D | LUX_URI_QUERY_20_PLUS, 0, "/?a+b", "/"},
    {"/?a%20b", D | LUX_URI_QUERY_20_PLUS, 0, "/?a+b", "/"},
    {"/?a%20b", LUX_URI_QUERY_20_PLUS, 0, "/?a+b", "/"},
    {"/a%20b?c", D | LUX_URI_QUERY_20_PLUS, 0, "/a%20b?c", "/a b"},
    {"/?q=100%", D, 0, "/?q=100%25", "/"},
    {"/?q=100%", 0, 0, "/?q=100%", "/"},
    {"/?q=%zz", D, 0, "/?q=%25zz", "/"},
    {"/?", D, 0, "/?", "/"},
    {"/a?b?c", D, 0, "/a?b?c", "/a"},
    {"/a?b/../c", D, 0, "/a?b/../c", "/a"},
    {"/a#frag", D, 0, "/a", "/a"},
    {"/a?b#c", D, 0, "/a?b", "/a"},
    {"/a/../b#x/../..", D, 0, "/b", "/b"},
    {"/\x01", D, 400, NULL, NULL},
    {"/\x7f", D, 400, NULL, NULL},
    {"/%7f", D, 400, NULL, NULL},
    {"/%1f", D, 400, NULL, NULL},
    {"/%01", D & ~LUX_URI_CTRLS_REJECT, 0, "/%01", "/_"},
    {"/\x01", D & ~LUX_URI_CTRLS_REJECT, 0, "/%01", "/_"},
    {"/\x01", 0, 0, "/\x01", "/_"},
    {"/a\\b", D, 0, "/a%5Cb", "/a\\b"},
    {"/a\\b", D | LUX_URI_PATH_BACKSLASH_TRANS, 0, "/a/b", "/a/b"},
    {"/a\\..\\..\\b", D | LUX_URI_PATH_BACKSLASH_TRANS, 0, "/b", "/b"},
    {"/a%5c..%5cb", D | LUX_URI_PATH_BACKSLASH_TRANS, 0, "/a%5C..%5Cb", "/b"},
    {"/?a\\b", D | LUX_URI_PATH_BACKSLASH_TRANS, 0, "/?a%5Cb", "/"},
    {"/a/./b", D | LUX_URI_PATH_DOTSEG_REJECT, 400, NULL, NULL},
    {"/a/../b", D | LUX_URI_PATH_DOTSEG_REJECT, 400, NULL, NULL},
    {"/a/%2e/b", D | LUX_URI_PATH_DOTSEG_REJECT, 400, NULL, NULL},
    {"/a/.", D | LUX_URI_PATH_DOTSEG_REJECT, 400, NULL, NULL},
    {"/a/.../b", D | LUX_URI_PATH_DOTSEG_REJECT, 0, "/a/.../b", "/a/.../b"},
    {"/a//b", D | LUX_URI_PATH_DOTSEG_REJECT, 0, "/a//b", "/a/b"},
    {"/a/../b", NOREMOVE, 0, "/a/../b", "/b"},
    {"/a//b/.", NOREMOVE, 0, "/a//b/.", "/a/b/"},
    {"/%41", 0, 0, "/%41", "/A"},
    {"/a%2fb", 0, 0, "/a%2fb", "/a%2Fb"},
    {"/%2e%2e/x", 0, 0, "/%2e%2e/x", "/x"},
    {"/a/%2e%2e/../b", LUX_URI_PATH_DOTSEG_REMOVE, 0, "/a/b", "/b"},
    {"/\xff", 0, 0, "/\xff", "/\xff"},
    {"/a b", 0, 0, "/a b", "/a b"},
    {"http://Example.com:8080/p?q", D, 0, "/p?q", "/p"},
    {"https://h", D, 0, "/", "/"},
    {"HTTP://h?x", D, 0, "/?x", "/"},
    {"http://h#f", D, 0, "/", "/"},
    {"http://h/../a", D, 0, "/a", "/a"},
    {"ftp://h/", D, 400, NULL, NULL},
    {"http:/h/", D, 400, NULL, NULL},
    {"http:", D, 400, NULL, NULL},
    {"http://", D, 400, NULL, NULL},
    {"http:///p", D, 400, NULL, NULL},
    {"http://u@h/", D, 400, NULL, NULL},
    {"http://h\x01/", D, 400, NULL, NULL},
    {"httpx://h/", D, 400, NULL, NULL},
    {"h/x", D, 400, NULL, NULL},
    {"*", D, 400, NULL, NULL},
    {"", D, 400, NULL, NULL},
    {"a", D, 400, NULL, NULL},
};

static void test_table(void) {
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct ucase *c = &cases[i];
        size_t n = strlen(c->in);
        char *ub = malloc(3 * n + 2), *pb = malloc(3 * n + 2);
        CHECK(ub && pb);
        if (!ub || !pb) {
            free(ub);
            free(pb);
            return;
        }
        lux_uri u;
        int r = lux_uri_parse(c->in, n, c->opts, &u, ub, pb);
        int bad = r != c->status;
        if (!bad && r == 0) {
            bad = strcmp(u.uri, c->uri) != 0 || strcmp(u.path, c->path) != 0 ||
                  u.uri_len != strlen(u.uri) || u.path_len != strlen(u.path);
            const char *q = strchr(c->uri, '?');
            if (q)
                bad |= !u.query || u.query_len != strlen(q + 1) || strcmp(u.query, q + 1) != 0;
            else
                bad |= u.query != NULL;
        }
        if (bad)
            fprintf(stderr, "  case %zu \"%s\": status %d uri \"%s\" path \"%s\"\n", i, c->in, r,
                    r == 0 ? u.uri : "", r == 0 ? u.path : "");
        CHECK(!bad);
        free(ub);
        free(pb);
    }
}

static void test_absolute_slices(void) {
    static const char t[] = "http://Example.com:8080/p?q";
    char ub[3 * sizeof(t) + 2], pb[3 * sizeof(t) + 2];
    lux_uri u;
    CHECK_INT(lux_uri_parse(t, sizeof(t) - 1, D, &u, ub, pb), 0);
    CHECK(u.scheme == t && u.scheme_len == 4);
    CHECK(u.authority == t + 7 && u.authority_len == 16);
    static const char o[] = "/p";
    CHECK_INT(lux_uri_parse(o, 2, D, &u, ub, pb), 0);
    CHECK(u.scheme == NULL && u.authority == NULL);
}

/* Worst-case growth: every byte needs encoding. The buffers are exactly the documented size. */
static void test_buffer_bounds(void) {
    size_t n = 3000;
    char *t = malloc(n), *ub = malloc(3 * n + 2), *pb = malloc(3 * n + 2);
    CHECK(t && ub && pb);
    if (t && ub && pb) {
        t[0] = '/';
        for (size_t i = 1; i < n; i++)
            t[i] = i % 2 ? '\xc3' : '\xa9';
        t[n / 2] = '?';
        lux_uri u;
        CHECK_INT(lux_uri_parse(t, n, D, &u, ub, pb), 0);
        CHECK(u.uri_len <= 3 * n + 1);
        memcpy(t, "http://h/", 9);
        for (size_t i = 9; i < n; i++)
            t[i] = ' ';
        CHECK_INT(lux_uri_parse(t, n, D, &u, ub, pb), 0);
        CHECK_INT(u.uri_len, 1 + 3 * (n - 9));
        CHECK_INT(u.path_len, 1 + (n - 9));
    }
    free(t);
    free(ub);
    free(pb);
}

static void test_long_dotdot(void) {
    size_t reps = 5000;
    size_t n = reps * 3 + 8;
    char *t = malloc(n + 1), *ub = malloc(3 * n + 2), *pb = malloc(3 * n + 2);
    CHECK(t && ub && pb);
    if (t && ub && pb) {
        size_t k = 0;
        for (size_t i = 0; i < reps; i++) {
            memcpy(t + k, i % 2 ? "/.." : "/ab", 3);
            k += 3;
        }
        memcpy(t + k, "/%2e%2e/x", 9);
        k += 9;
        lux_uri u;
        CHECK_INT(lux_uri_parse(t, k, D, &u, ub, pb), 0);
        CHECK_STR(u.path, "/x");
        CHECK_STR(u.uri, "/x");
    }
    free(t);
    free(ub);
    free(pb);
}

struct hcase {
    const char *in;
    int len;
    const char *out;
};

static void test_host(void) {
    static const struct hcase hcases[] = {
        {"example.com", 11, "example.com"},
        {"Example.COM", 11, "example.com"},
        {"example.com.", 11, "example.com"},
        {"example.com.:80", 14, "example.com:80"},
        {"EXAMPLE.com:8080", 16, "example.com:8080"},
        {"a", 1, "a"},
        {"a:", 1, "a"},
        {"a:0", 3, "a:0"},
        {"a:65535", 7, "a:65535"},
        {"192.168.0.1", 11, "192.168.0.1"},
        {"192.168.0.1:80", 14, "192.168.0.1:80"},
        {"under_score-x.example", 21, "under_score-x.example"},
        {"xn--bcher-kva.example", 21, "xn--bcher-kva.example"},
        {"[::1]", 5, "[::1]"},
        {"[::1]:8080", 10, "[::1]:8080"},
        {"[::1]:", 5, "[::1]"},
        {"[2001:DB8::A]", 13, "[2001:db8::a]"},
        {"[::ffff:1.2.3.4]", 16, "[::ffff:1.2.3.4]"},
        {"[1:2:3:4:5:6:7:8]", 17, "[1:2:3:4:5:6:7:8]"},
        {"", -1, NULL},
        {".", -1, NULL},
        {"..", -1, NULL},
        {".a", -1, NULL},
        {"a..b", -1, NULL},
        {"a..", -1, NULL},
        {"a.:", 1, "a"},
        {"a b", -1, NULL},
        {"a/b", -1, NULL},
        {"u@h", -1, NULL},
        {"a\x01", -1, NULL},
        {"a\x7f", -1, NULL},
        {"a\xc3\xa9", -1, NULL},
        {":80", -1, NULL},
        {"a:65536", -1, NULL},
        {"a:123456", -1, NULL},
        {"a:8x", -1, NULL},
        {"a:-1", -1, NULL},
        {"a: 80", -1, NULL},
        {"a:b:c", -1, NULL},
        {"[]", -1, NULL},
        {"[::1", -1, NULL},
        {"[::1]x", -1, NULL},
        {"[::1]:x", -1, NULL},
        {"[g::1]", -1, NULL},
        {"[1]", -1, NULL},
        {"[1:2:3:4:5:6:7:8:9]", -1, NULL},
        {"[::1%25eth0]", -1, NULL},
        {"a%41", -1, NULL},
    };
    for (size_t i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++) {
        char b[64];
        size_t n = strlen(hcases[i].in);
        memcpy(b, hcases[i].in, n);
        int r = lux_host_normalize(b, n);
        int bad = r != hcases[i].len;
        if (!bad && r >= 0)
            bad = memcmp(b, hcases[i].out, (size_t)r) != 0;
        if (bad)
            fprintf(stderr, "  host case %zu \"%s\": %d\n", i, hcases[i].in, r);
        CHECK(!bad);
    }
}

static void test_host_length(void) {
    char b[300];
    memset(b, 'a', sizeof(b));
    for (int i = 63; i < 255; i += 64)
        b[i] = '.';
    CHECK_INT(lux_host_normalize(b, 255), 255);
    CHECK_INT(lux_host_normalize(b, 256), -1);
    b[255] = '.';
    CHECK_INT(lux_host_normalize(b, 256), 255);
    b[255] = '.'; /* normalising wrote the terminator there */
    memcpy(b + 256, ":8080", 5);
    CHECK_INT(lux_host_normalize(b, 261), 260);
}

/* A value that shrinks stays a C string: the old tail must not show after the new end. */
static void test_host_terminated(void) {
    static const char *const in[] = {"a.b.:80", "a.b:", "a.b.:", "Example.COM.", "[::1]:"};
    static const char *const out[] = {"a.b:80", "a.b", "a.b", "example.com", "[::1]"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        char b[64];
        strcpy(b, in[i]);
        int r = lux_host_normalize(b, strlen(b));
        CHECK_INT(r, strlen(out[i]));
        CHECK_STR(b, out[i]);
    }
}

static void test_encode_path(void) {
    char out[64];
    static const char in[] = "/a b/\xc3\xa9%?#~-._Z9";
    size_t n = lux_uri_encode_path(in, sizeof(in) - 1, out);
    CHECK_STR(out, "/a%20b/%C3%A9%25%3F%23~-._Z9");
    CHECK_INT(n, strlen(out));
    CHECK_INT(lux_uri_encode_path("", 0, out), 0);
    CHECK_STR(out, "");
    /* an encoded path decodes back to itself through lux_uri_parse */
    static const char p[] = "/x y/%2F/\xe2\x82\xac";
    char enc[64], ub[256], pb[256];
    n = lux_uri_encode_path(p, sizeof(p) - 1, enc);
    lux_uri u;
    CHECK_INT(lux_uri_parse(enc, n, D, &u, ub, pb), 0);
    CHECK_STR(u.path, p);
}

int main(void) {
    RUN(test_table);
    RUN(test_absolute_slices);
    RUN(test_buffer_bounds);
    RUN(test_long_dotdot);
    RUN(test_host);
    RUN(test_host_length);
    RUN(test_host_terminated);
    RUN(test_encode_path);
    T_EXIT();
}
