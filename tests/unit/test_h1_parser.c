#include "http/h1/h1_parser.h"

#include <stdlib.h>

#include "t.h"

#define MAXH 16

static int parse(const char *s, size_t len, lux_h1_request *req, lux_h1_header *h, size_t cap,
                 int max_empty)
{
    memset(req, 0, sizeof(*req));
    req->headers = h;
    req->num_headers = cap;
    return lux_h1_parse_request(s, len, req, max_empty);
}

static int slice_eq(const char *p, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(p, want, n) == 0;
}

static void test_simple_get(void)
{
    static const char s[] = "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\n"
                            "Accept:  */*  \r\nX-Empty:\r\n\r\nBODY";
    lux_h1_request req;
    lux_h1_header h[MAXH];
    int r = parse(s, sizeof(s) - 1, &req, h, MAXH, 0);
    CHECK_INT(r, (int)(sizeof(s) - 1 - 4));
    CHECK(slice_eq(req.method, req.method_len, "GET"));
    CHECK(slice_eq(req.target, req.target_len, "/index.html?x=1"));
    CHECK_INT(req.minor_version, 1);
    CHECK_INT(req.num_headers, 3);
    CHECK(slice_eq(h[0].name, h[0].name_len, "Host"));
    CHECK(slice_eq(h[0].value, h[0].value_len, "example.com"));
    CHECK(slice_eq(h[1].name, h[1].name_len, "Accept"));
    CHECK(slice_eq(h[1].value, h[1].value_len, "*/*"));
    CHECK(slice_eq(h[2].name, h[2].name_len, "X-Empty"));
    CHECK_INT(h[2].value_len, 0);
}

static void test_bare_lf_and_http10(void)
{
    static const char s[] = "POST /p HTTP/1.0\nA: b c\t\n\n";
    lux_h1_request req;
    lux_h1_header h[MAXH];
    CHECK_INT(parse(s, sizeof(s) - 1, &req, h, MAXH, 0), (int)(sizeof(s) - 1));
    CHECK_INT(req.minor_version, 0);
    CHECK_INT(req.num_headers, 1);
    CHECK(slice_eq(h[0].value, h[0].value_len, "b c"));
}

static void test_value_bytes(void)
{
    /* obs-text and inner HTAB are legal in a value; OWS around it is stripped */
    static const char s[] = "GET / HTTP/1.1\r\nX:\t \xff\xfe a\tb \t\r\n\r\n";
    lux_h1_request req;
    lux_h1_header h[MAXH];
    CHECK_INT(parse(s, sizeof(s) - 1, &req, h, MAXH, 0), (int)(sizeof(s) - 1));
    CHECK(slice_eq(h[0].value, h[0].value_len, "\xff\xfe a\tb"));
}

struct valid_case {
    const char *in;
    const char *method, *target;
    int minor;
    size_t nheaders;
};

static void test_valid_table(void)
{
    static const struct valid_case cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", "GET", "/", 1, 0},
        {"GET / HTTP/1.0\r\n\r\n", "GET", "/", 0, 0},
        {"OPTIONS * HTTP/1.1\r\n\r\n", "OPTIONS", "*", 1, 0},
        {"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "CONNECT",
         "example.com:443", 1, 1},
        {"GET http://a.b/c?d HTTP/1.1\r\n\r\n", "GET", "http://a.b/c?d", 1, 0},
        {"M-SEARCH * HTTP/1.1\r\n\r\n", "M-SEARCH", "*", 1, 0},
        {"!#$%&'*+-.^_`|~09azAZ / HTTP/1.1\r\n\r\n", "!#$%&'*+-.^_`|~09azAZ", "/", 1, 0},
        {"get / HTTP/1.1\r\n\r\n", "get", "/", 1, 0},
        {"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", "GET", "/\xc3\xa9", 1, 0},
        {"GET /a\"<>{}|\\^` HTTP/1.1\r\n\r\n", "GET", "/a\"<>{}|\\^`", 1, 0},
        {"GET / HTTP/1.1\r\nA:b\r\nB: c\r\nC:  d  \r\n\r\n", "GET", "/", 1, 3},
        {"GET / HTTP/1.1\nA: b\r\n\n", "GET", "/", 1, 1},
        {"GET / HTTP/1.1\r\nA: b\n\r\n", "GET", "/", 1, 1},
        {"GET / HTTP/1.1\r\nA.b_c~!: d\r\n\r\n", "GET", "/", 1, 1},
        {"GET / HTTP/1.1\r\nA: b: c\r\n\r\n", "GET", "/", 1, 1},
        {"GET / HTTP/1.1\r\nA: \x7e\x80\r\n\r\n", "GET", "/", 1, 1},
        {"\r\nGET / HTTP/1.1\r\n\r\n", "GET", "/", 1, 0},
        {"\nGET / HTTP/1.1\r\n\r\n", "GET", "/", 1, 0},
        {"\r\n\nGET / HTTP/1.1\r\n\r\n", "GET", "/", 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct valid_case *c = &cases[i];
        lux_h1_request req;
        lux_h1_header h[MAXH];
        size_t len = strlen(c->in);
        int r = parse(c->in, len, &req, h, MAXH, 2);
        if (r != (int)len)
            fprintf(stderr, "  case %zu: r=%d reason=%s\n", i, r, r == -1 ? req.reason : "");
        CHECK_INT(r, (int)len);
        CHECK(slice_eq(req.method, req.method_len, c->method));
        CHECK(slice_eq(req.target, req.target_len, c->target));
        CHECK_INT(req.minor_version, c->minor);
        CHECK_INT(req.num_headers, c->nheaders);
    }
}

struct invalid_case {
    const char *in;
    size_t len; /* 0: strlen */
    int status;
};

static const struct invalid_case invalid_cases[] = {
    {" GET / HTTP/1.1\r\n\r\n", 0, 400},
    {"GET  / HTTP/1.1\r\n\r\n", 0, 400},
    {"GET /  HTTP/1.1\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1 \r\n\r\n", 0, 400},
    {"GET\t/ HTTP/1.1\r\n\r\n", 0, 400},
    {"GET /\t HTTP/1.1\r\n\r\n", 0, 400},
    {"G(T / HTTP/1.1\r\n\r\n", 0, 400},
    {"GET\r\n\r\n", 0, 400},
    {"GET /\r\n\r\n", 0, 400},
    {"GET / \r\n\r\n", 0, 400},
    {"GET /a\x01 HTTP/1.1\r\n\r\n", 0, 400},
    {"GET /a\x7f HTTP/1.1\r\n\r\n", 0, 400},
    {"GET /a\0b HTTP/1.1\r\n\r\n", 22, 400},
    {"GET / http/1.1\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1x\r\n\r\n", 0, 400},
    {"GET / HTTP/11\r\n\r\n", 0, 400},
    {"GET / HTTP/1.10\r\n\r\n", 0, 400},
    {"GET / HTTP/a.b\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\rX\n\r\n", 0, 400},
    {"GET / HTTP/2.0\r\n\r\n", 0, 505},
    {"GET / HTTP/1.2\r\n\r\n", 0, 505},
    {"GET / HTTP/0.9\r\n\r\n", 0, 505},
    {"GET / HTTP/3.0\n\n", 0, 505},
    {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\n: x\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\nHo(st: x\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\nA;b: c\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\nHost x\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\nHost\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\n A: b\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", 26, 400},
    {"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\nA: b\r\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\n\rX", 0, 400},
    {"\rGET / HTTP/1.1\r\n\r\n", 0, 400},
    {"\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0, 400},
    {"\0GET / HTTP/1.1\r\n\r\n", 19, 400},
    {"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 0, 431},
};

static void test_invalid_table(void)
{
    for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
        const struct invalid_case *c = &invalid_cases[i];
        lux_h1_request req;
        lux_h1_header h[4];
        size_t len = c->len ? c->len : strlen(c->in);
        int r = parse(c->in, len, &req, h, 4, 2);
        if (r != -1 || req.status != c->status)
            fprintf(stderr, "  case %zu: r=%d status=%d\n", i, r, req.status);
        CHECK_INT(r, -1);
        CHECK_INT(req.status, c->status);
        CHECK(req.reason != NULL && req.reason[0] != '\0');
    }
}

/* Every prefix of a valid request is "incomplete"; the whole parses; so does it with extra. */
static void check_prefixes(const char *s, size_t len, int max_empty)
{
    lux_h1_request req;
    lux_h1_header h[MAXH];
    int whole = parse(s, len, &req, h, MAXH, max_empty);
    for (size_t i = 0; i < len; i++) {
        int r = parse(s, i, &req, h, MAXH, max_empty);
        if (whole > 0 && i < (size_t)whole)
            CHECK_INT(r, -2);
        else
            CHECK(r == whole);
    }
}

static void test_prefixes_valid(void)
{
    static const char *const reqs[] = {
        "GET / HTTP/1.1\r\n\r\n",
        "GET /a/b?c=d HTTP/1.0\r\nHost: x\r\nUser-Agent: t/1.0\r\n\r\n",
        "\r\n\nPOST /upload HTTP/1.1\nContent-Length: 5\n\nhello",
        "GET / HTTP/1.1\r\nA:\r\nB:  \t \r\nC: \xff\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        lux_h1_request req;
        lux_h1_header h[MAXH];
        CHECK(parse(reqs[i], strlen(reqs[i]), &req, h, MAXH, 2) > 0);
        check_prefixes(reqs[i], strlen(reqs[i]), 2);
    }
}

/* A prefix of an invalid request is incomplete or the same error: never success. */
static void test_prefixes_invalid(void)
{
    for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
        const struct invalid_case *c = &invalid_cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        for (size_t k = 0; k < len; k++) {
            lux_h1_request req;
            lux_h1_header h[4];
            int r = parse(c->in, k, &req, h, 4, 2);
            CHECK(r == -2 || (r == -1 && req.status == c->status));
        }
    }
}

static void test_header_capacity(void)
{
    static const char s[] = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    lux_h1_request req;
    lux_h1_header h[3];
    CHECK_INT(parse(s, sizeof(s) - 1, &req, h, 3, 0), (int)(sizeof(s) - 1));
    CHECK_INT(req.num_headers, 3);
    CHECK_INT(parse(s, sizeof(s) - 1, &req, h, 2, 0), -1);
    CHECK_INT(req.status, 431);
    CHECK_INT(parse(s, sizeof(s) - 1, &req, h, 0, 0), -1);
    CHECK_INT(req.status, 431);
    static const char s0[] = "GET / HTTP/1.1\r\n\r\n";
    CHECK_INT(parse(s0, sizeof(s0) - 1, &req, h, 0, 0), (int)(sizeof(s0) - 1));
}

static void test_empty_lines(void)
{
    static const char s[] = "\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    lux_h1_request req;
    lux_h1_header h[1];
    CHECK_INT(parse(s, sizeof(s) - 1, &req, h, 1, 2), (int)(sizeof(s) - 1));
    CHECK_INT(parse(s, sizeof(s) - 1, &req, h, 1, 1), -1);
    CHECK_INT(req.status, 400);
    CHECK_INT(parse(s, sizeof(s) - 1, &req, h, 1, 0), -1);
    CHECK_INT(parse("", 0, &req, h, 1, 0), -2);
    CHECK_INT(parse("\r\n", 2, &req, h, 1, 1), -2);
    CHECK_INT(parse("\r", 1, &req, h, 1, 1), -2);
}

static void test_pipelined(void)
{
    static const char s[] = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
    lux_h1_request req;
    lux_h1_header h[1];
    int r = parse(s, sizeof(s) - 1, &req, h, 1, 0);
    CHECK_INT(r, 19);
    CHECK(slice_eq(req.target, req.target_len, "/1"));
    r = parse(s + 19, sizeof(s) - 1 - 19, &req, h, 1, 0);
    CHECK_INT(r, 19);
    CHECK(slice_eq(req.target, req.target_len, "/2"));
}

/* Long fields, and the parser never reads past len (the buffer is exactly len bytes). */
static void test_long_and_exact_buffer(void)
{
    size_t tlen = 100000;
    size_t cap = tlen + 200;
    char *s = malloc(cap);
    CHECK(s != NULL);
    if (!s)
        return;
    size_t n = 0;
    memcpy(s + n, "GET /", 5);
    n += 5;
    memset(s + n, 'a', tlen);
    n += tlen;
    static const char tail[] = " HTTP/1.1\r\nX: v\r\n\r\n";
    memcpy(s + n, tail, sizeof(tail) - 1);
    n += sizeof(tail) - 1;
    char *exact = malloc(n);
    CHECK(exact != NULL);
    if (exact) {
        memcpy(exact, s, n);
        lux_h1_request req;
        lux_h1_header h[2];
        CHECK_INT(parse(exact, n, &req, h, 2, 0), (int)n);
        CHECK_INT(req.target_len, tlen + 1);
        for (size_t k = n - 30; k < n; k++)
            CHECK_INT(parse(exact, k, &req, h, 2, 0), -2);
        free(exact);
    }
    free(s);
}

int main(void)
{
    RUN(test_simple_get);
    RUN(test_bare_lf_and_http10);
    RUN(test_value_bytes);
    RUN(test_valid_table);
    RUN(test_invalid_table);
    RUN(test_prefixes_valid);
    RUN(test_prefixes_invalid);
    RUN(test_header_capacity);
    RUN(test_empty_lines);
    RUN(test_pipelined);
    RUN(test_long_and_exact_buffer);
    T_EXIT();
}
