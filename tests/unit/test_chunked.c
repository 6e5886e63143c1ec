#include "http/h1/chunked.h"

#include <stdlib.h>

#include "t.h"

typedef struct {
    ssize_t ret;   /* last return */
    char out[4096];
    size_t out_len; /* decoded body bytes */
    char rest[256];
    size_t rest_len; /* bytes after the body */
} result;

/* Feed `in` in pieces whose lengths come from `cuts` (0: all at once; 1: byte by byte; else
 * pseudo-random with that seed). Stops at the first non -2 return. */
static void feed(const char *in, size_t len, size_t max_line, unsigned cuts, result *res)
{
    lux_chunked_decoder d = {.max_line = max_line};
    lux_chunked_init(&d);
    memset(res, 0, sizeof(*res));
    res->ret = -2;
    unsigned seed = cuts;
    size_t off = 0;
    char piece[4096];
    while (off < len && res->ret == -2) {
        size_t n = len - off;
        if (cuts == 1) {
            n = 1;
        } else if (cuts > 1) {
            seed = seed * 1103515245u + 12345u;
            size_t k = (seed >> 16) % 7;
            if (k < n)
                n = k;
        }
        memcpy(piece, in + off, n);
        off += n;
        size_t plen = n;
        res->ret = lux_chunked_decode(&d, piece, &plen);
        if (res->ret == -1)
            return;
        memcpy(res->out + res->out_len, piece, plen);
        res->out_len += plen;
        if (res->ret >= 0) {
            memcpy(res->rest, piece + plen, (size_t)res->ret);
            res->rest_len = (size_t)res->ret;
            memcpy(res->rest + res->rest_len, in + off, len - off);
            res->rest_len += len - off;
        }
    }
}

struct ccase {
    const char *in;
    ssize_t ret;      /* -1, -2 or 0 (complete; rest compared separately) */
    const char *body; /* decoded body when not -1 */
    const char *rest; /* bytes after the body when complete */
};

static const struct ccase cases[] = {
    {"0\r\n\r\n", 0, "", ""},
    {"0\n\n", 0, "", ""},
    {"5\r\nhello\r\n0\r\n\r\n", 0, "hello", ""},
    {"5\nhello\n0\n\n", 0, "hello", ""},
    {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 0, "hello world",
     "GET / HTTP/1.1\r\n"},
    {"A\r\n0123456789\r\n0\r\n\r\n", 0, "0123456789", ""},
    {"a\r\n0123456789\r\n0\r\n\r\n", 0, "0123456789", ""},
    {"0005\r\nhello\r\n0\r\n\r\n", 0, "hello", ""},
    {"000000000000000F\r\n0123456789abcde\r\n0\r\n\r\n", 0, "0123456789abcde", ""},
    {"5;a=b\r\nhello\r\n0;x\r\n\r\n", 0, "hello", ""},
    {"5 ; a = b ; c\r\nhello\r\n0\r\n\r\n", 0, "hello", ""},
    {"5;a=\"q;\\\"x\\\\\"\r\nhello\r\n0\r\n\r\n", 0, "hello", ""},
    {"5;a=\"\"\r\nhello\r\n0\r\n\r\n", 0, "hello", ""},
    {"5\t;a\r\nhello\r\n0\r\n\r\n", 0, "hello", ""},
    {"5\r\nhe\r\nl\r\n0\r\n\r\n", 0, "he\r\nl", ""},
    {"0\r\nTrailer: v\r\nX-Y:z\r\n\r\nNEXT", 0, "", "NEXT"},
    {"0\r\nT: a\tb \xff\r\n\r\n", 0, "", ""},
    {"0\nT:\n\n", 0, "", ""},
    {"0\r\n\r\n\r\n", 0, "", "\r\n"},
    /* incomplete */
    {"", -2, "", NULL},
    {"5", -2, "", NULL},
    {"5\r\nhel", -2, "hel", NULL},
    {"5\r\nhello\r\n0\r\n", -2, "hello", NULL},
    {"5\r\nhello\r\n0\r\nT: v\r\n", -2, "hello", NULL},
    /* malformed */
    {"\r\n", -1, NULL, NULL},
    {" 5\r\nhello\r\n0\r\n\r\n", -1, NULL, NULL},
    {"+5\r\nhello\r\n0\r\n\r\n", -1, NULL, NULL},
    {"-5\r\nhello\r\n0\r\n\r\n", -1, NULL, NULL},
    {"0x5\r\nhello\r\n0\r\n\r\n", -1, NULL, NULL},
    {"g\r\n", -1, NULL, NULL},
    {"5 \r\nhello\r\n0\r\n\r\n", -1, NULL, NULL},
    {"10000000000000000\r\n", -1, NULL, NULL},
    {"00000000000000005\r\n", -1, NULL, NULL},
    {"5\rX", -1, NULL, NULL},
    {"5\r\nhelloX", -1, NULL, NULL},
    {"5\r\nhello\rX", -1, NULL, NULL},
    {"5;\r\nhello\r\n0\r\n\r\n", -1, NULL, NULL},
    {"5;=b\r\n", -1, NULL, NULL},
    {"5;a=\r\n", -1, NULL, NULL},
    {"5;a=b c\r\n", -1, NULL, NULL},
    {"5;a=\"b\r\n", -1, NULL, NULL},
    {"5;a=\"b\x01\"\r\n", -1, NULL, NULL},
    {"5;a@\r\n", -1, NULL, NULL},
    {"0\r\n T: v\r\n\r\n", -1, NULL, NULL},
    {"0\r\nT : v\r\n\r\n", -1, NULL, NULL},
    {"0\r\n: v\r\n\r\n", -1, NULL, NULL},
    {"0\r\nT v\r\n\r\n", -1, NULL, NULL},
    {"0\r\nT: v\x01\r\n\r\n", -1, NULL, NULL},
    {"0\r\nT: v\rX\r\n\r\n", -1, NULL, NULL},
    {"0\r\n\rX", -1, NULL, NULL},
};

static void check_case(const struct ccase *c, size_t i, unsigned cuts)
{
    result res;
    feed(c->in, strlen(c->in), 0, cuts, &res);
    ssize_t want = c->ret;
    if (want == 0)
        want = (ssize_t)strlen(c->rest);
    int bad = 0;
    if (c->ret == 0) {
        bad = res.ret < 0 || res.rest_len != strlen(c->rest) ||
              memcmp(res.rest, c->rest, res.rest_len) != 0;
    } else {
        bad = res.ret != c->ret;
    }
    if (c->body && !bad)
        bad = res.out_len != strlen(c->body) || memcmp(res.out, c->body, res.out_len) != 0;
    if (bad)
        fprintf(stderr, "  case %zu (cuts %u): ret %zd, want %zd\n", i, cuts, res.ret, want);
    CHECK(!bad);
}

static void test_table_one_shot(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i], i, 0);
}

static void test_table_byte_by_byte(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i], i, 1);
}

static void test_table_random_splits(void)
{
    for (unsigned seed = 2; seed < 60; seed++)
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
            check_case(&cases[i], i, seed);
}

static void test_max_line(void)
{
    result res;
    static const char ok[] = "5;abcdef\r\nhello\r\n0\r\nT: 123\r\n\r\n";
    feed(ok, sizeof(ok) - 1, 8, 0, &res); /* "5;abcdef" and "T: 123" fit in 8 */
    CHECK_INT(res.ret, 0);
    feed(ok, sizeof(ok) - 1, 7, 0, &res);
    CHECK_INT(res.ret, -1);
    static const char tr[] = "0\r\nT: 1234567\r\n\r\n";
    feed(tr, sizeof(tr) - 1, 8, 1, &res);
    CHECK_INT(res.ret, -1);
    feed(tr, sizeof(tr) - 1, 10, 1, &res);
    CHECK_INT(res.ret, 0);

    /* the default limit is 4096 */
    size_t n = 5000;
    char *big = malloc(n + 16);
    CHECK(big != NULL);
    if (!big)
        return;
    memcpy(big, "1;", 2);
    memset(big + 2, 'x', n);
    memcpy(big + 2 + n, "\r\n", 2);
    lux_chunked_decoder d = {0};
    lux_chunked_init(&d);
    size_t len = n + 4;
    CHECK_INT(lux_chunked_decode(&d, big, &len), -1);
    free(big);
}

static void test_sixteen_digits(void)
{
    lux_chunked_decoder d = {0};
    lux_chunked_init(&d);
    char b[] = "FFFFFFFFFFFFFFFF\r\nabc";
    size_t len = sizeof(b) - 1;
    CHECK_INT(lux_chunked_decode(&d, b, &len), -2);
    CHECK_INT(len, 3);
    CHECK(memcmp(b, "abc", 3) == 0);
}

static void test_error_sticky_and_done(void)
{
    lux_chunked_decoder d = {0};
    lux_chunked_init(&d);
    char b1[] = "z";
    size_t len = 1;
    CHECK_INT(lux_chunked_decode(&d, b1, &len), -1);
    char b2[] = "0\r\n\r\n";
    len = 5;
    CHECK_INT(lux_chunked_decode(&d, b2, &len), -1);

    lux_chunked_init(&d);
    len = 5;
    CHECK_INT(lux_chunked_decode(&d, b2, &len), 0);
    CHECK_INT(len, 0);
    char b3[] = "more";
    len = 4;
    CHECK_INT(lux_chunked_decode(&d, b3, &len), 4); /* everything after the end is not body */
    CHECK_INT(len, 0);

    d.max_line = 100;
    lux_chunked_init(&d);
    CHECK_INT(d.max_line, 100);
}

/* Larger bodies: many chunks, each split pattern gives the one-shot answer. */
static void test_many_chunks(void)
{
    char in[3000], body[2000];
    size_t n = 0, bn = 0;
    for (int k = 1; k < 40; k++) {
        n += (size_t)snprintf(in + n, sizeof(in) - n, "%x;k=%d\r\n", k, k);
        for (int j = 0; j < k; j++) {
            in[n++] = (char)('a' + (k + j) % 26);
            body[bn++] = (char)('a' + (k + j) % 26);
        }
        in[n++] = '\r';
        in[n++] = '\n';
    }
    static const char end[] = "0\r\nA: b\r\n\r\nXYZ";
    memcpy(in + n, end, sizeof(end) - 1);
    n += sizeof(end) - 1;
    for (unsigned cuts = 0; cuts < 30; cuts++) {
        result res;
        feed(in, n, 0, cuts, &res);
        CHECK(res.ret >= 0);
        CHECK_INT(res.out_len, bn);
        CHECK(memcmp(res.out, body, bn) == 0);
        CHECK(res.rest_len == 3 && memcmp(res.rest, "XYZ", 3) == 0);
    }
}

int main(void)
{
    RUN(test_table_one_shot);
    RUN(test_table_byte_by_byte);
    RUN(test_table_random_splits);
    RUN(test_max_line);
    RUN(test_sixteen_digits);
    RUN(test_error_sticky_and_done);
    RUN(test_many_chunks);
    T_EXIT();
}
