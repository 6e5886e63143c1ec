#include "http/cgi_headers.h"

#include "t.h"

typedef struct {
    int n;
    char names[8][32];
    char values[8][64];
} fields;

static int collect(void *arg, const char *name, size_t nlen, const char *value, size_t vlen) {
    fields *f = arg;
    if (f->n == 8)
        return -1;
    snprintf(f->names[f->n], sizeof f->names[0], "%.*s", (int)nlen, name);
    snprintf(f->values[f->n], sizeof f->values[0], "%.*s", (int)vlen, value);
    f->n++;
    return 0;
}

/* Parse s whole; returns the parse result, with the head's end in *end. */
static int parse(const char *s, lux_cgi_head *h, fields *f, long *end) {
    memset(f, 0, sizeof *f);
    *end = lux_cgi_head_end(s, strlen(s), LUX_CGI_HEAD_MAX);
    if (*end <= 0)
        return -2;
    return lux_cgi_head_parse(s, (size_t)*end, h, collect, f);
}

static void test_end_of_head(void) {
    const char *lf = "Content-Type: text/plain\n\nbody";
    const char *crlf = "Content-Type: text/plain\r\n\r\nbody";
    const char *mixed = "A: 1\r\nB: 2\n\r\nbody";
    CHECK_INT(lux_cgi_head_end(lf, strlen(lf), 1024), 26);
    CHECK_INT(lux_cgi_head_end(crlf, strlen(crlf), 1024), 28);
    CHECK_INT(lux_cgi_head_end(mixed, strlen(mixed), 1024), 13);
    CHECK_INT(lux_cgi_head_end("\nbody", 5, 1024), 1);
    CHECK_INT(lux_cgi_head_end("\r\nbody", 6, 1024), 2);
    CHECK_INT(lux_cgi_head_end("A: 1\r\n", 6, 1024), 0);
    CHECK_INT(lux_cgi_head_end("A: 1\r\n\r", 7, 1024), 0);
    CHECK_INT(lux_cgi_head_end("A: 1234567890\n", 14, 8), -1);
    /* The end must lie within the bound, even when more bytes arrived. */
    CHECK_INT(lux_cgi_head_end("A: 1234567890\n\n", 15, 8), -1);
}

static void test_fields_status_location(void) {
    lux_cgi_head h;
    fields f;
    long end;
    CHECK_INT(parse("Status: 404 Not Found\r\nContent-Type: text/plain\r\nX-A:  a b  \r\n\r\nx", &h,
                    &f, &end),
              0);
    CHECK_INT(h.status, 404);
    CHECK(h.location.ptr == NULL);
    CHECK_INT(f.n, 2);
    CHECK_STR(f.names[0], "Content-Type");
    CHECK_STR(f.values[0], "text/plain");
    CHECK_STR(f.names[1], "X-A");
    CHECK_STR(f.values[1], "a b");

    CHECK_INT(parse("Location: /elsewhere?q=1\n\n", &h, &f, &end), 0);
    CHECK_INT(h.status, 0);
    CHECK_INT(h.location.len, 14);
    CHECK(memcmp(h.location.ptr, "/elsewhere?q=1", 14) == 0);
    CHECK_INT(f.n, 1);

    CHECK_INT(parse("HTTP/1.1 201 Created\r\nX: y\r\n\r\n", &h, &f, &end), 0);
    CHECK_INT(h.status, 201);
    CHECK_INT(parse("status: 302\n\n", &h, &f, &end), 0);
    CHECK_INT(h.status, 302);
    CHECK_INT(parse("\r\nbody", &h, &f, &end), 0);
    CHECK_INT(h.status, 0);
    CHECK_INT(f.n, 0);
}

static void test_content_length(void) {
    lux_cgi_head h;
    fields f;
    long end;
    CHECK_INT(parse("Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\n", &h, &f, &end), 0);
    CHECK_INT(h.content_length, 1000);
    CHECK_INT(f.n, 2); /* still a field for the caller */
    CHECK_INT(parse("content-length: 0\n\n", &h, &f, &end), 0);
    CHECK_INT(h.content_length, 0);
    CHECK_INT(parse("X: 1\n\n", &h, &f, &end), 0);
    CHECK_INT(h.content_length, -1);
    CHECK_INT(parse("Content-Length: 12a\n\n", &h, &f, &end), 0);
    CHECK_INT(h.content_length, -1);
    CHECK_INT(parse("Content-Length: -5\n\n", &h, &f, &end), 0);
    CHECK_INT(h.content_length, -1);
    CHECK_INT(parse("Content-Length: 99999999999999999999\n\n", &h, &f, &end), 0);
    CHECK_INT(h.content_length, -1);
}

static void test_broken_heads(void) {
    lux_cgi_head h;
    fields f;
    long end;
    CHECK_INT(parse("no colon here\n\n", &h, &f, &end), -1);
    CHECK_INT(parse("Bad Name: x\n\n", &h, &f, &end), -1);
    CHECK_INT(parse(": empty name\n\n", &h, &f, &end), -1);
    CHECK_INT(parse("X: a\rb\n\n", &h, &f, &end), -1);
    CHECK_INT(parse("Status: abc\n\n", &h, &f, &end), -1);
    CHECK_INT(parse("Status: 99\n\n", &h, &f, &end), -1);
    CHECK_INT(parse("Status: 600\n\n", &h, &f, &end), -1);
    CHECK_INT(parse("Status: 2000\n\n", &h, &f, &end), -1);
    CHECK_INT(parse("Location:\n\n", &h, &f, &end), -1);
    CHECK_INT(parse("HTTP/2 200 OK\n\n", &h, &f, &end), -1);
    /* A NUL inside a value. */
    const char nul[] = "X: a\0b\n\n";
    CHECK_INT(lux_cgi_head_parse(nul, sizeof nul - 1, &h, collect, &f), -1);
    /* The callback may refuse a field. */
    CHECK_INT(parse("A: 1\nB: 2\nC: 3\nD: 4\nE: 5\nF: 6\nG: 7\nH: 8\nI: 9\n\n", &h, &f, &end), -1);
}

int main(void) {
    RUN(test_end_of_head);
    RUN(test_fields_status_location);
    RUN(test_content_length);
    RUN(test_broken_heads);
    T_EXIT();
}
