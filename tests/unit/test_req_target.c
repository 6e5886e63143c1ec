/*
 * lux_req_resolve_target through an HTTP/1 head: a plain target is its own uri and path, and
 * every target one step away from plain gets the full normalisation; a Host value that is
 * already normal is the request's host as it is, any other is normalised without touching the
 * header field the modules see.
 */
#include <string.h>

#include "core/gen.h"
#include "core/pool.h"
#include "http/h1/h1_request.h"
#include "http/stream.h"
#include "lux/req.h"

#include "t.h"
#include "t_req.h"

static lux_pool pool;

struct tcase {
    const char *target;
    int status;
    const char *uri, *path, *query; /* query NULL: none at all */
};

/* Under the default server.http-parseopts. */
static const struct tcase default_cases[] = {
    {"/f1k.bin", 0, "/f1k.bin", "/f1k.bin", NULL},
    {"/", 0, "/", "/", NULL},
    {"/a/b.c-d_e~f", 0, "/a/b.c-d_e~f", "/a/b.c-d_e~f", NULL},
    {"/a?", 0, "/a?", "/a", ""},
    {"/a?x=%41", 0, "/a?x=A", "/a", "x=A"},
    {"/a#frag", 0, "/a", "/a", NULL},
    {"/a//b", 0, "/a/b", "/a/b", NULL},
    {"/a/", 0, "/a/", "/a/", NULL},
    {"/a/./b", 0, "/a/b", "/a/b", NULL},
    {"/a/../b", 0, "/b", "/b", NULL},
    {"/a/..", 0, "/", "/", NULL},
    {"/a/.b", 0, "/a/.b", "/a/.b", NULL},
    {"/%7e", 0, "/~", "/~", NULL},
    {"/a%2fb", 0, "/a%2Fb", "/a%2Fb", NULL},
    {"/a%zz", 400, NULL, NULL, NULL},
    {"/a%00", 400, NULL, NULL, NULL},
    {"/a\\b", 0, "/a%5Cb", "/a\\b", NULL},
    {"/\xc3\xa9", 0, "/%C3%A9", "/\xc3\xa9", NULL},
    {"/\xff", 400, NULL, NULL, NULL},
    {"/a\"b", 0, "/a%22b", "/a\"b", NULL},
    {"http://h.example/x", 0, "/x", "/x", NULL},
    {"http://h.example", 0, "/", "/", NULL},
};

/* Dot-segments refused, nothing normalised: what is plain stays plain, the rest is refused or
 * kept as sent. */
static const struct tcase strict_cases[] = {
    {"/f1k.bin", 0, "/f1k.bin", "/f1k.bin", NULL},
    {"/a/../b", 400, NULL, NULL, NULL},
    {"/a/./b", 400, NULL, NULL, NULL},
    {"/a/.b", 0, "/a/.b", "/a/.b", NULL},
    {"/a//b", 0, "/a//b", "/a/b", NULL},
    {"/%7e", 0, "/%7e", "/~", NULL},
};

/* The request an HTTP/1.1 head makes; the status lux_req_from_h1 gave in *status. */
static lux_req from_head(lux_gen *gen, const char *method, const char *target, const char *host,
                         int *status) {
    lux_req r = t_bare_req(&pool, gen);
    char head[512];
    int len =
        snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n", method, target, host);
    lux_h1_header hh[8];
    lux_h1_request hr = {.headers = hh, .num_headers = 8};
    CHECK(lux_h1_parse_request(head, (size_t)len, &hr, 0) == len);
    lux_h1_framing f;
    *status = lux_req_from_h1(&r, &hr, &f);
    return r;
}

static void check_targets(lux_gen *gen, const struct tcase *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const struct tcase *c = &cases[i];
        int st;
        lux_req r = from_head(gen, "GET", c->target, "a.example", &st);
        if (st != c->status)
            fprintf(stderr, "  target \"%s\"\n", c->target);
        CHECK_INT(st, c->status);
        if (st || c->status)
            continue;
        CHECK_STR(r.uri.ptr, c->uri);
        CHECK_INT(r.uri.len, strlen(c->uri));
        CHECK_STR(r.path.ptr, c->path);
        CHECK_INT(r.path.len, strlen(c->path));
        CHECK_INT(r.query.ptr != NULL, c->query != NULL);
        if (c->query && r.query.ptr) {
            CHECK_INT(r.query.len, strlen(c->query));
            CHECK(memcmp(r.query.ptr, c->query, r.query.len) == 0);
        }
    }
}

static void test_targets_default(void) {
    lux_gen *gen = t_gen_of("server.document-root = \"/srv\"\n");
    CHECK(gen != NULL);
    if (gen)
        check_targets(gen, default_cases, sizeof default_cases / sizeof *default_cases);
    lux_gen_unref(gen);
}

static void test_targets_strict(void) {
    lux_gen *gen = t_gen_of("server.document-root = \"/srv\"\n"
                            "server.http-parseopts = ( \"url-path-dotseg-reject\" => \"enable\",\n"
                            "  \"url-normalize-unreserved\" => \"disable\",\n"
                            "  \"url-normalize-required\" => \"disable\" )\n");
    CHECK(gen != NULL);
    if (gen)
        check_targets(gen, strict_cases, sizeof strict_cases / sizeof *strict_cases);
    lux_gen_unref(gen);
}

static void test_asterisk(void) {
    lux_gen *gen = t_gen_of("server.document-root = \"/srv\"\n");
    int st;
    lux_req r = from_head(gen, "OPTIONS", "*", "a.example", &st);
    CHECK_INT(st, 0);
    CHECK_STR(r.uri.ptr, "*");
    from_head(gen, "GET", "*", "a.example", &st);
    CHECK_INT(st, 400);
    lux_gen_unref(gen);
}

struct hcase {
    const char *host, *want; /* want NULL: 400 */
};

static void test_hosts(void) {
    static const struct hcase cases[] = {
        {"127.0.0.1:18230", "127.0.0.1:18230"},
        {"a.example", "a.example"},
        {"A.example", "a.example"},
        {"a.example.", "a.example"},
        {"a.example.:80", "a.example:80"},
        {"a.example:", "a.example"},
        {"[::1]:80", "[::1]:80"},
        {"[::A]", "[::a]"},
        {"a.example:65536", NULL},
        {"a..example", NULL},
    };
    lux_gen *gen = t_gen_of("server.document-root = \"/srv\"\n");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st;
        lux_req r = from_head(gen, "GET", "/", cases[i].host, &st);
        CHECK_INT(st, cases[i].want ? 0 : 400);
        if (st || !cases[i].want)
            continue;
        CHECK_STR(r.host.ptr, cases[i].want);
        CHECK_INT(r.host.len, strlen(cases[i].want));
        /* the field as sent, whatever the host became */
        const lux_str *field = lux_req_header(&r, "Host", 4);
        CHECK(field != NULL);
        if (field)
            CHECK_STR(field->ptr, cases[i].host);
    }
    lux_gen_unref(gen);
}

/* Field names found whatever their case; names whose bytes differ by 0x20 without being letters
 * ('^' and '~', '@' and '`') or that differ after the first byte are not the same name. */
static void test_header_lookup(void) {
    lux_gen *gen = t_gen_of("server.document-root = \"/srv\"\n");
    int st;
    lux_req r = from_head(gen, "GET", "/", "a.example\r\nX-Custom: 1\r\n^a: 2\r\n_b: 3", &st);
    CHECK_INT(st, 0);
    static const struct {
        const char *name, *value; /* value NULL: not found */
    } cases[] = {
        {"X-Custom", "1"},
        {"x-custom", "1"},
        {"X-CUSTOM", "1"},
        {"x-Custon", NULL},
        {"Y-Custom", NULL},
        {"^a", "2"},
        {"^A", "2"},
        {"~a", NULL},
        {"_b", "3"},
        {"\x7f"
         "b",
         NULL},
        {"Host", "a.example"},
        {"HOST", "a.example"},
        {"Hos", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const lux_str *v = lux_req_header(&r, cases[i].name, strlen(cases[i].name));
        if ((v != NULL) != (cases[i].value != NULL))
            fprintf(stderr, "  field \"%s\"\n", cases[i].name);
        CHECK_INT(v != NULL, cases[i].value != NULL);
        if (v && cases[i].value)
            CHECK_STR(v->ptr, cases[i].value);
    }
    lux_gen_unref(gen);
}

/* The method and target as sent, each a C string of its own; only "GET" is GET. */
static void test_request_line(void) {
    lux_gen *gen = t_gen_of("server.document-root = \"/srv\"\n");
    static const struct {
        const char *method;
        lux_method m;
    } cases[] = {
        {"GET", LUX_M_GET},         {"get", LUX_M_OTHER}, {"GETS", LUX_M_OTHER},
        {"GE", LUX_M_OTHER},        {"GeT", LUX_M_OTHER}, {"HEAD", LUX_M_HEAD},
        {"POST", LUX_M_POST},       {"PUT", LUX_M_PUT},   {"PATCH", LUX_M_PATCH},
        {"OPTIONS", LUX_M_OPTIONS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st;
        lux_req r = from_head(gen, cases[i].method, "/x?y", "a.example", &st);
        CHECK_INT(st, 0);
        CHECK_INT(r.method, cases[i].m);
        CHECK_INT(r.head_only, cases[i].m == LUX_M_HEAD);
        CHECK_STR(r.method_str.ptr, cases[i].method);
        CHECK_INT(r.method_str.len, strlen(cases[i].method));
        CHECK_STR(r.target.ptr, "/x?y");
        CHECK_INT(r.target.len, 4);
    }
    lux_gen_unref(gen);
}

int main(void) {
    lux_pool_init(&pool, 4096);
    RUN(test_targets_default);
    RUN(test_targets_strict);
    RUN(test_asterisk);
    RUN(test_hosts);
    RUN(test_header_lookup);
    RUN(test_request_line);
    lux_pool_free(&pool);
    T_EXIT();
}
