/*
 * lux_req_from_h1: the fields only HTTP/1 frames with (Transfer-Encoding, Connection, Expect)
 * are recognised whatever the case of their names, and fields of the same length that are not
 * them are left alone; every field reaches the request as sent, each a C string.
 */
#include <string.h>

#include "core/gen.h"
#include "core/pool.h"
#include "http/h1/h1_request.h"
#include "http/stream.h"
#include "lux/req.h"

#include "t.h"
#include "t_req.h"

static lux_gen *gen;
static lux_pool pool;

/* The request a head makes; its status in *st and its framing in *f. */
static lux_req from_head(const char *head, int *st, lux_h1_framing *f) {
    lux_req r = t_bare_req(&pool, gen);
    lux_h1_header hh[16];
    lux_h1_request hr = {.headers = hh, .num_headers = 16};
    int len = (int)strlen(head);
    CHECK_INT(lux_h1_parse_request(head, (size_t)len, &hr, 0), len);
    *st = lux_req_from_h1(&r, &hr, f);
    return r;
}

struct fcase {
    const char *fields; /* after the request line and Host */
    int status;
    unsigned chunked, keep_alive, expect_continue;
};

static void test_h1_fields_any_case(void) {
    static const struct fcase cases[] = {
        {"Transfer-Encoding: chunked\r\n", 0, 1, 1, 0},
        {"transfer-encoding: chunked\r\n", 0, 1, 1, 0},
        {"TRANSFER-ENCODING: chunked\r\n", 0, 1, 1, 0},
        {"tRANSFER-eNCODING: gzip\r\n", 501, 0, 0, 0},
        {"Transfer-Encodinh: gzip\r\n", 0, 0, 1, 0},
        {"Connection: close\r\n", 0, 0, 0, 0},
        {"CONNECTION: close\r\n", 0, 0, 0, 0},
        {"cONNECTION: close\r\n", 0, 0, 0, 0},
        {"User-Agent: close\r\n", 0, 0, 1, 0},
        {"Connectiom: close\r\n", 0, 0, 1, 0},
        {"Expect: 100-continue\r\n", 0, 0, 1, 1},
        {"EXPECT: 100-continue\r\n", 0, 0, 1, 1},
        {"eXPECT: nothing\r\n", 417, 0, 0, 0},
        {"Accept: nothing\r\n", 0, 0, 1, 0},
        {"Expecu: nothing\r\n", 0, 0, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct fcase *c = &cases[i];
        char head[256];
        snprintf(head, sizeof head, "POST / HTTP/1.1\r\nHost: a.example\r\n%s\r\n", c->fields);
        int st;
        lux_h1_framing f;
        lux_req r = from_head(head, &st, &f);
        (void)r;
        if (st != c->status)
            fprintf(stderr, "  fields \"%s\"\n", c->fields);
        CHECK_INT(st, c->status);
        if (st)
            continue;
        CHECK_INT(f.chunked, c->chunked);
        CHECK_INT(f.keep_alive, c->keep_alive);
        CHECK_INT(f.expect_continue, c->expect_continue);
    }
}

/* Names and values as sent, in order, each NUL-terminated at its length; empty values too. */
static void test_fields_copied(void) {
    static const char head[] = "GET / HTTP/1.1\r\nHost: a.example\r\nX-Empty:\r\n"
                               "X-Spaces:   v  \r\nX-Long: 0123456789abcdefghijklmnopqrstuvwxyz\r\n"
                               "x-empty: \r\n\r\n";
    static const char *const want[][2] = {{"Host", "a.example"},
                                          {"X-Empty", ""},
                                          {"X-Spaces", "v"},
                                          {"X-Long", "0123456789abcdefghijklmnopqrstuvwxyz"},
                                          {"x-empty", ""}};
    int st;
    lux_h1_framing f;
    lux_req r = from_head(head, &st, &f);
    CHECK_INT(st, 0);
    CHECK_INT(r.nheaders, 5);
    for (size_t i = 0; i < r.nheaders && i < 5; i++) {
        CHECK_STR(r.headers[i].name.ptr, want[i][0]);
        CHECK_INT(r.headers[i].name.len, strlen(want[i][0]));
        CHECK_STR(r.headers[i].value.ptr, want[i][1]);
        CHECK_INT(r.headers[i].value.len, strlen(want[i][1]));
    }
}

/* A head with no fields at all (HTTP/1.0 needs no Host). */
static void test_no_fields(void) {
    int st;
    lux_h1_framing f;
    lux_req r = from_head("GET / HTTP/1.0\r\n\r\n", &st, &f);
    CHECK_INT(st, 0);
    CHECK_INT(r.nheaders, 0);
    CHECK(r.headers != NULL);
}

int main(void) {
    gen = t_gen_of("server.document-root = \"/srv\"\n");
    if (!gen)
        return 1;
    lux_pool_init(&pool, 4096);
    RUN(test_h1_fields_any_case);
    RUN(test_fields_copied);
    RUN(test_no_fields);
    lux_pool_free(&pool);
    lux_gen_unref(gen);
    T_EXIT();
}
