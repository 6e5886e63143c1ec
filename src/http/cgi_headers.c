/* The CGI response-head parser (see cgi_headers.h). */
#include "http/cgi_headers.h"

#include <string.h>
#include <strings.h>

#include "http/h1/charclass.h"

long lux_cgi_head_end(const char *buf, size_t len, size_t max) {
    size_t limit = len < max ? len : max;
    /* An empty head: the body starts at once after a lone line end. */
    if (limit >= 1 && buf[0] == '\n')
        return 1;
    if (limit >= 2 && buf[0] == '\r' && buf[1] == '\n')
        return 2;
    /* from line end to line end: memchr skips a line's bytes many at a time */
    for (const char *nl = memchr(buf, '\n', limit); nl;
         nl = memchr(nl + 1, '\n', limit - (size_t)(nl + 1 - buf))) {
        size_t i = (size_t)(nl - buf);
        if (i + 1 < limit && buf[i + 1] == '\n')
            return (long)(i + 2);
        if (i + 2 < limit && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return (long)(i + 3);
    }
    return len >= max ? -1 : 0;
}

static int is_token(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!IS_TCHAR(s[i]))
            return 0;
    return len > 0;
}

static int is_value(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return 0;
    return 1;
}

/* Three digits from 100 to 599, then the end or a blank (a reason phrase follows). */
static int parse_status(const char *s, size_t len) {
    if (len < 3 || (len > 3 && s[3] != ' ' && s[3] != '\t'))
        return -1;
    for (int i = 0; i < 3; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    int code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    return code >= 100 && code <= 599 ? code : -1;
}

/* "HTTP/1.0 200 OK" as the first line: what a non-parsed-header script writes. */
static int status_line(const char *s, size_t len) {
    if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
        return -1;
    return parse_status(s + 9, len - 9);
}

static int is_name(const char *name, size_t nlen, const char *want) {
    size_t wlen = strlen(want);
    return nlen == wlen && strncasecmp(name, want, wlen) == 0;
}

/* A Content-Length of digits only, or -1: anything else does not say where the body ends. */
static int64_t content_length(const char *v, size_t vlen) {
    int64_t n = 0;
    if (!vlen || vlen > 18)
        return -1;
    for (size_t i = 0; i < vlen; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

static int field(const char *line, size_t len, lux_cgi_head *h, lux_cgi_field_fn fn, void *arg) {
    const char *colon = memchr(line, ':', len);
    if (!colon || !is_token(line, (size_t)(colon - line)))
        return -1;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    if (!is_value(v, vlen))
        return -1;
    if (is_name(line, nlen, "Status")) {
        h->status = parse_status(v, vlen);
        return h->status < 0 ? -1 : 0;
    }
    if (is_name(line, nlen, "Location")) {
        if (!vlen)
            return -1;
        h->location = (lux_str){v, vlen};
    }
    if (is_name(line, nlen, "Content-Length"))
        h->content_length = content_length(v, vlen);
    return fn ? fn(arg, line, nlen, v, vlen) : 0;
}

int lux_cgi_head_parse(const char *buf, size_t end, lux_cgi_head *h, lux_cgi_field_fn fn,
                       void *arg) {
    *h = (lux_cgi_head){0, {NULL, 0}, -1};
    size_t pos = 0;
    while (pos < end) {
        const char *nl = memchr(buf + pos, '\n', end - pos);
        if (!nl)
            return -1;
        size_t len = (size_t)(nl - (buf + pos));
        if (len && buf[pos + len - 1] == '\r')
            len--;
        if (!len)
            return 0; /* the empty line: the end of the head */
        if (pos == 0 && len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
            h->status = status_line(buf, len);
            if (h->status < 0)
                return -1;
        } else if (field(buf + pos, len, h, fn, arg) < 0) {
            return -1;
        }
        pos = (size_t)(nl - buf) + 1;
    }
    return -1;
}
