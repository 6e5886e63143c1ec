/*
 * HTTP/1.x request-head parser. One left-to-right pass over the buffer: every decision is made
 * by the first byte that settles it, so a prefix of any input either yields -2 or the same
 * answer as the whole input. That property is what lets the caller re-parse from the start as
 * bytes arrive.
 */
#include "http/h1/charclass.h"
#include "http/h1/h1_parser.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

enum {
    C_TOKEN = 1 << 0,  /* tchar (RFC 9110 5.6.2) */
    C_TARGET = 1 << 1, /* printable, non-space: VCHAR and obs-text */
    C_VALUE = 1 << 2,  /* field-value octets: VCHAR, obs-text, SP, HTAB */
};

#define CLS(c)                                                                                     \
    ((IS_DIGIT(c) || IS_ALPHA(c) || IS_TSYM(c) ? C_TOKEN : 0) |                                    \
     ((c) > 0x20 && (c) != 0x7f ? C_TARGET : 0) |                                                  \
     (((c) >= 0x20 && (c) != 0x7f) || (c) == '\t' ? C_VALUE : 0))
#define CLS4(c) CLS(c), CLS((c) + 1), CLS((c) + 2), CLS((c) + 3)
#define CLS16(c) CLS4(c), CLS4((c) + 4), CLS4((c) + 8), CLS4((c) + 12)
#define CLS64(c) CLS16(c), CLS16((c) + 16), CLS16((c) + 32), CLS16((c) + 48)

static const uint8_t cls[256] = {CLS64(0), CLS64(64), CLS64(128), CLS64(192)};

/* Advance p over bytes of class `mask`; four at a time while there is room. */
static inline const unsigned char *scan(const unsigned char *p, const unsigned char *end,
                                        uint8_t mask) {
    while (end - p >= 4) {
        if (!(cls[p[0]] & mask))
            return p;
        if (!(cls[p[1]] & mask))
            return p + 1;
        if (!(cls[p[2]] & mask))
            return p + 2;
        if (!(cls[p[3]] & mask))
            return p + 3;
        p += 4;
    }
    while (p < end && (cls[*p] & mask))
        p++;
    return p;
}

static int fail(lux_h1_request *req, int status, const char *reason) {
    req->status = status;
    req->reason = reason;
    return -1;
}

/*
 * At a line end (CR or LF expected at *pp): consume CRLF or a bare LF. Returns 1 when a line
 * end was consumed, 0 when more input is needed, -1 on anything else (reason set).
 */
static int eol(const unsigned char **pp, const unsigned char *end, lux_h1_request *req,
               const char *what) {
    const unsigned char *p = *pp;
    if (*p == '\n') {
        *pp = p + 1;
        return 1;
    }
    if (*p != '\r')
        return fail(req, 400, what);
    if (p + 1 == end)
        return 0;
    if (p[1] != '\n')
        return fail(req, 400, "bare CR");
    *pp = p + 2;
    return 1;
}

/* Whether p starts "HTTP/1.1" or "HTTP/1.0", as nearly every request line ends: one 8-byte
 * comparison each instead of the byte-wise pattern match. The caller makes sure of 8 bytes. */
static int common_version(const unsigned char *p) {
    static const char v11[8] = "HTTP/1.1", v10[8] = "HTTP/1.0";
    uint64_t w, a, b;
    memcpy(&w, p, 8);
    memcpy(&a, v11, 8);
    memcpy(&b, v10, 8);
    return w == a || w == b;
}

/* "HTTP/" DIGIT "." DIGIT, then the line end. */
static int parse_version(const unsigned char **pp, const unsigned char *end, lux_h1_request *req) {
    static const char pat[] = "HTTP/0.0";
    const unsigned char *p = *pp;
    if (end - p < 8 || !common_version(p)) {
        for (size_t i = 0; i < sizeof(pat) - 1; i++) {
            if (p + i == end)
                return 0;
            int ok = pat[i] == '0' ? IS_DIGIT(p[i]) : p[i] == (unsigned char)pat[i];
            if (!ok)
                return fail(req, 400, "malformed HTTP version");
        }
    }
    int major = p[5] - '0', minor = p[7] - '0';
    p += 8;
    if (p == end)
        return 0;
    int r = eol(&p, end, req, "malformed HTTP version");
    if (r <= 0)
        return r;
    if (major != 1 || minor > 1)
        return fail(req, 505, "HTTP version not supported");
    req->minor_version = minor;
    *pp = p;
    return 1;
}

static int parse_request_line(const unsigned char **pp, const unsigned char *end,
                              lux_h1_request *req) {
    const unsigned char *p = *pp, *start = p;
    p = scan(p, end, C_TOKEN);
    if (p == end)
        return 0;
    if (*p != ' ' || p == start)
        return fail(req, 400, "malformed method");
    req->method = (const char *)start;
    req->method_len = (size_t)(p - start);

    start = ++p;
    p = scan(p, end, C_TARGET);
    if (p == end)
        return 0;
    if (p == start)
        return fail(req, 400, "malformed request-target");
    if (*p != ' ')
        return fail(req, 400,
                    *p == '\r' || *p == '\n' ? "missing HTTP version"
                                             : "invalid character in request-target");
    req->target = (const char *)start;
    req->target_len = (size_t)(p - start);

    ++p;
    int r = parse_version(&p, end, req);
    if (r > 0)
        *pp = p;
    return r;
}

/* One "name: value" line, the first byte of which is known to be neither CR, LF nor OWS. */
static int parse_field(const unsigned char **pp, const unsigned char *end, lux_h1_header *h,
                       lux_h1_request *req) {
    const unsigned char *p = *pp, *start = p;
    p = scan(p, end, C_TOKEN);
    if (p == end)
        return 0;
    if (*p != ':') {
        if (*p == ' ' || *p == '\t')
            return fail(req, 400, "whitespace before colon in header");
        return fail(req, 400, "invalid character in header name");
    }
    if (p == start)
        return fail(req, 400, "empty header name");
    h->name = (const char *)start;
    h->name_len = (size_t)(p - start);

    ++p;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    start = p;
    p = scan(p, end, C_VALUE);
    if (p == end)
        return 0;
    const unsigned char *vend = p;
    int r = eol(&p, end, req, "invalid character in header value");
    if (r <= 0)
        return r;
    while (vend > start && (vend[-1] == ' ' || vend[-1] == '\t'))
        vend--;
    h->value = (const char *)start;
    h->value_len = (size_t)(vend - start);
    *pp = p;
    return 1;
}

int lux_h1_parse_request(const char *buf, size_t len, lux_h1_request *req, int max_empty_lines) {
    const unsigned char *p = (const unsigned char *)buf;
    /* A head this large is refused by the caller long before; capping keeps the int result. */
    const unsigned char *end = p + (len > INT_MAX ? (size_t)INT_MAX : len);
    size_t cap = req->num_headers;
    int r;

    req->num_headers = 0;
    for (int n = 0;; n++) {
        if (p == end)
            return -2;
        if (*p != '\r' && *p != '\n')
            break;
        if (n >= max_empty_lines)
            return fail(req, 400, "too many empty lines before request");
        r = eol(&p, end, req, "");
        if (r <= 0)
            return r == 0 ? -2 : -1;
    }

    r = parse_request_line(&p, end, req);
    if (r <= 0)
        return r == 0 ? -2 : -1;

    for (;;) {
        if (p == end)
            return -2;
        if (*p == '\r' || *p == '\n') {
            r = eol(&p, end, req, "");
            if (r <= 0)
                return r == 0 ? -2 : -1;
            return (int)(p - (const unsigned char *)buf);
        }
        if (*p == ' ' || *p == '\t')
            return fail(req, 400, "obsolete line folding or leading whitespace in header");
        if (req->num_headers == cap)
            return fail(req, 431, "too many header fields");
        r = parse_field(&p, end, &req->headers[req->num_headers], req);
        if (r <= 0)
            return r == 0 ? -2 : -1;
        req->num_headers++;
    }
}
