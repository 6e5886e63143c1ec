/*
 * The HTTP version at the end of a request line: "HTTP/1.1" and "HTTP/1.0" are recognised
 * whole, and every version one byte away from them gets the answer of the full pattern match,
 * for the whole line and for each of its prefixes (which must ask for more bytes).
 */
#include <string.h>

#include "http/h1/h1_parser.h"

#include "t.h"

struct vcase {
    const char *version;
    int status; /* 0: parsed */
    int minor;
};

static const struct vcase cases[] = {
    {"HTTP/1.1", 0, 1},    {"HTTP/1.0", 0, 0},    {"HTTP/1.2", 505, 0}, {"HTTP/1.9", 505, 0},
    {"HTTP/2.0", 505, 0},  {"HTTP/0.9", 505, 0},  {"HTTP/2.1", 505, 0}, {"HTTP/1x1", 400, 0},
    {"HTTP/1.a", 400, 0},  {"HTTP/a.1", 400, 0},  {"HTTP-1.1", 400, 0}, {"http/1.1", 400, 0},
    {"HTTp/1.1", 400, 0},  {"XTTP/1.1", 400, 0},  {"HTTP/11", 400, 0},  {"HTTP/1.1 ", 400, 0},
    {"HTTP/1.1x", 400, 0}, {"HTTP/1.10", 400, 0}, {"HTTP/1.", 400, 0},
};

static void check(const char *head, size_t len, const struct vcase *c) {
    lux_h1_header hh[4];
    lux_h1_request req = {.headers = hh, .num_headers = 4};
    int r = lux_h1_parse_request(head, len, &req, 0);
    if (c->status) {
        CHECK_INT(r, -1);
        if (r == -1)
            CHECK_INT(req.status, c->status);
    } else {
        CHECK_INT(r, (int)len);
        if (r == (int)len)
            CHECK_INT(req.minor_version, c->minor);
    }
}

static void test_versions(void) {
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct vcase *c = &cases[i];
        char head[64];
        int len = snprintf(head, sizeof head, "GET / %s\r\n\r\n", c->version);
        check(head, (size_t)len, c);
        /* the same with a bare LF */
        len = snprintf(head, sizeof head, "GET / %s\n\n", c->version);
        check(head, (size_t)len, c);
    }
}

/* A prefix asks for more bytes until the byte that settles the answer has arrived, and from
 * there gives the whole line's answer. */
static void test_version_prefixes(void) {
    static const struct {
        const char *version;
        int settled; /* length of the shortest prefix that is answered; 0: the whole head */
    } prefix_cases[] = {
        {"HTTP/1.1", 0},  /* parsed with the empty line */
        {"HTTP/1.0", 0},  /* the same */
        {"HTTP/1.2", 16}, /* 505 once the line end is whole */
        {"HTTP/1x1", 13}, /* 400 at the 'x' */
    };
    for (size_t i = 0; i < sizeof prefix_cases / sizeof *prefix_cases; i++) {
        char head[64];
        int len = snprintf(head, sizeof head, "GET / %s\r\n\r\n", prefix_cases[i].version);
        int settled = prefix_cases[i].settled ? prefix_cases[i].settled : len;
        for (int n = 1; n <= len; n++) {
            lux_h1_header hh[4];
            lux_h1_request req = {.headers = hh, .num_headers = 4};
            int r = lux_h1_parse_request(head, (size_t)n, &req, 0);
            int want = n < settled ? -2 : prefix_cases[i].settled ? -1 : len;
            if (r != want)
                fprintf(stderr, "  \"%s\" prefix %d\n", prefix_cases[i].version, n);
            CHECK_INT(r, want);
        }
    }
}

int main(void) {
    RUN(test_versions);
    RUN(test_version_prefixes);
    T_EXIT();
}
