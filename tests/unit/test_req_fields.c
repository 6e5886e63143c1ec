/*
 * lux_req_from_fields, the request as HTTP/2 hands it over: the same checks and normalisation
 * as an HTTP/1 head gets from lux_req_from_h1, and HTTP/2's own rules (:authority, :path).
 */
#include <string.h>

#include "core/gen.h"
#include "core/pool.h"
#include "http/h1/h1_request.h"
#include "http/stream.h"

#include "t.h"
#include "t_req.h"

static lux_gen *gen;
static lux_pool pool;

static lux_req new_req(void) {
    return t_bare_req(&pool, gen);
}

static lux_str s(const char *p) {
    return (lux_str){p, p ? strlen(p) : 0};
}

static lux_header field(const char *name, const char *value) {
    return (lux_header){s(name), s(value)};
}

/* GET of path with the given :authority (NULL: none) and fields; the status it gives. */
static int from_fields(lux_req *r, const char *method, const char *authority, const char *path,
                       const lux_header *h, size_t n) {
    lux_str m = s(method), scheme = s("https"), a = s(authority), p = s(path);
    return lux_req_from_fields(r, &m, &scheme, authority ? &a : NULL, &p, h, n);
}

static void test_same_normalisation_as_http1(void) {
    static const char *targets[] = {"/a/../b/./c?x=1&y", "/%7Euser/%41", "/dir//file",
                                    "/x%2Fy?q=%20", "/"};
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        char head[256];
        int len = snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n",
                           targets[i]);
        lux_h1_header hh[8];
        lux_h1_request hr = {.headers = hh, .num_headers = 8};
        CHECK(lux_h1_parse_request(head, (size_t)len, &hr, 0) == len);
        lux_req r1 = new_req(), r2 = new_req();
        lux_h1_framing f;
        CHECK_INT(lux_req_from_h1(&r1, &hr, &f), 0);
        CHECK_INT(from_fields(&r2, "GET", "Example.COM:8080", targets[i], NULL, 0), 0);
        CHECK_STR(r2.uri.ptr, r1.uri.ptr);
        CHECK_STR(r2.path.ptr, r1.path.ptr);
        CHECK_INT(r2.query.ptr != NULL, r1.query.ptr != NULL);
        if (r1.query.ptr && r2.query.ptr)
            CHECK_STR(r2.query.ptr, r1.query.ptr);
        CHECK_STR(r2.host.ptr, r1.host.ptr);
        CHECK_INT(r2.version, 20);
        CHECK_INT(r2.method, LUX_M_GET);
        lux_pool_reset(&pool);
    }
}

static void test_authority_and_host(void) {
    lux_header host = field("host", "other.example");
    lux_req r = new_req();
    CHECK_INT(from_fields(&r, "GET", "www.example", "/", &host, 1), 0);
    CHECK_STR(r.host.ptr, "www.example"); /* :authority wins over a Host field */
    r = new_req();
    CHECK_INT(from_fields(&r, "GET", NULL, "/", &host, 1), 0);
    CHECK_STR(r.host.ptr, "other.example");
    r = new_req();
    CHECK_INT(from_fields(&r, "GET", NULL, "/", NULL, 0), 400); /* neither */
    r = new_req();
    CHECK_INT(from_fields(&r, "GET", "", "/", NULL, 0), 400); /* an empty authority */
    r = new_req();
    CHECK_INT(from_fields(&r, "GET", "bad host", "/", NULL, 0), 400);
    lux_header two[] = {field("host", "a.example"), field("Host", "b.example")};
    r = new_req();
    CHECK_INT(from_fields(&r, "GET", "www.example", "/", two, 2), 400);
    lux_pool_reset(&pool);
}

static void test_pseudo_fields(void) {
    lux_req r = new_req();
    lux_str m = s("GET"), ftp = s("ftp"), a = s("x.example"), p = s("/");
    CHECK_INT(lux_req_from_fields(&r, &m, &ftp, &a, &p, NULL, 0), 400);
    r = new_req();
    CHECK_INT(from_fields(&r, "GET", "x.example", "http://x.example/", NULL, 0), 400);
    r = new_req();
    CHECK_INT(from_fields(&r, "GET", "x.example", "", NULL, 0), 400);
    r = new_req();
    CHECK_INT(from_fields(&r, "GET", "x.example", "*", NULL, 0), 400);
    r = new_req();
    CHECK_INT(from_fields(&r, "OPTIONS", "x.example", "*", NULL, 0), 0);
    CHECK_STR(r.path.ptr, "*");
    r = new_req();
    CHECK_INT(from_fields(&r, "GET", "x.example", "/a%00b", NULL, 0), 400);
    r = new_req();
    CHECK_INT(from_fields(&r, "HEAD", "x.example", "/", NULL, 0), 0);
    CHECK(r.head_only);
    lux_pool_reset(&pool);
}

static void test_content_length(void) {
    lux_header one = field("content-length", "42");
    lux_req r = new_req();
    CHECK_INT(from_fields(&r, "POST", "x.example", "/", &one, 1), 0);
    CHECK_INT(r.content_length, 42);
    CHECK_INT(r.nheaders, 1);
    CHECK_STR(r.headers[0].value.ptr, "42");
    lux_header differ[] = {field("content-length", "1"), field("content-length", "2")};
    r = new_req();
    CHECK_INT(from_fields(&r, "POST", "x.example", "/", differ, 2), 400);
    lux_header bad = field("content-length", "1x");
    r = new_req();
    CHECK_INT(from_fields(&r, "POST", "x.example", "/", &bad, 1), 400);
    lux_pool_reset(&pool);
}

int main(void) {
    gen = t_gen_of("server.document-root = \"/srv\"\n");
    if (!gen)
        return 1;
    lux_pool_init(&pool, 4096);
    RUN(test_same_normalisation_as_http1);
    RUN(test_authority_and_host);
    RUN(test_pseudo_fields);
    RUN(test_content_length);
    lux_pool_free(&pool);
    lux_gen_unref(gen);
    T_EXIT();
}
