#include "upstream/http_resp.h"

#include <string.h>
#include <strings.h>

#include "http/h1/charclass.h"
#include "http/token_list.h"

#define MAX_CONN_TOKENS 8

typedef struct {
    const char *name, *value;
    size_t nlen, vlen;
} field;

/* The line at *pos (without its end); 0 at the empty line that ends the head. */
static size_t next_line(const char *buf, size_t end, size_t *pos, const char **line) {
    size_t start = *pos;
    const char *nl = memchr(buf + start, '\n', end - start);
    size_t stop = nl ? (size_t)(nl - buf) : end;
    *pos = stop + 1;
    *line = buf + start;
    size_t len = stop - start;
    if (len && buf[start + len - 1] == '\r')
        len--;
    return len;
}

static int parse_status(const char *l, size_t len, lux_http_resp *h) {
    if (len < 12 || memcmp(l, "HTTP/1.", 7) || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++)
        if (l[i] < '0' || l[i] > '9')
            return -1;
    if (len > 12 && l[12] != ' ')
        return -1;
    h->minor = l[7] - '0';
    h->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    return h->status >= 100 && h->status <= 599 ? 0 : -1;
}

static int parse_field(const char *l, size_t len, field *f) {
    const char *colon = memchr(l, ':', len);
    if (!colon || colon == l)
        return -1;
    f->name = l;
    f->nlen = (size_t)(colon - l);
    for (size_t i = 0; i < f->nlen; i++)
        if (!IS_TCHAR(l[i]))
            return -1;
    const char *v = colon + 1, *e = l + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    for (const char *p = v; p < e; p++)
        if (*p == '\0' || *p == '\r')
            return -1;
    f->value = v;
    f->vlen = (size_t)(e - v);
    return 0;
}

static int is(const field *f, const char *name) {
    return f->nlen == strlen(name) && !strncasecmp(f->name, name, f->nlen);
}

/* The same for a literal name, with no strlen per field and name compared. */
#define IS(f, lit) ((f)->nlen == sizeof(lit) - 1 && !strncasecmp((f)->name, lit, sizeof(lit) - 1))

/* The last coding of a Transfer-Encoding list is chunked? */
static int ends_chunked(const char *v, size_t vlen) {
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    return vlen >= 7 && !strncasecmp(v + vlen - 7, "chunked", 7) &&
           (vlen == 7 || v[vlen - 8] == ',' || v[vlen - 8] == ' ');
}

static int content_length(const field *f, lux_http_resp *h) {
    if (!f->vlen || f->vlen > 18)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < f->vlen; i++) {
        if (f->value[i] < '0' || f->value[i] > '9')
            return -1;
        n = n * 10 + (f->value[i] - '0');
    }
    if (h->content_length >= 0 && h->content_length != n)
        return -1;
    h->content_length = n;
    return 0;
}

static int hop_by_hop(const field *f, const field *conn, size_t nconn) {
    static const char *const hop[] = {"Connection", "Keep-Alive",    "Proxy-Connection",
                                      "TE",         "Trailer",       "Transfer-Encoding",
                                      "Upgrade",    "Content-Length"};
    for (size_t i = 0; i < sizeof hop / sizeof *hop; i++)
        if (is(f, hop[i]))
            return 1;
    for (size_t i = 0; i < nconn; i++) {
        char name[64];
        if (f->nlen < sizeof name) {
            memcpy(name, f->name, f->nlen);
            name[f->nlen] = '\0';
            if (lux_list_has_token(conn[i].value, conn[i].vlen, name))
                return 1;
        }
    }
    return 0;
}

/* First pass: framing, Connection; 0 or -1. */
static int framing(const char *buf, size_t end, size_t pos, lux_http_resp *h, field *conn,
                   size_t *nconn) {
    int close = 0, keep = 0, te = 0;
    const char *l;
    size_t len;
    while (pos < end && (len = next_line(buf, end, &pos, &l)) > 0) {
        field f;
        if (parse_field(l, len, &f) < 0)
            return -1;
        if (IS(&f, "Content-Length") && content_length(&f, h) < 0)
            return -1;
        if (IS(&f, "Transfer-Encoding")) {
            te = 1;
            h->chunked = ends_chunked(f.value, f.vlen);
        }
        if (IS(&f, "Upgrade")) {
            h->upgrade = f.value;
            h->upgrade_len = f.vlen;
        }
        if (IS(&f, "Connection")) {
            close |= lux_list_has_token(f.value, f.vlen, "close");
            keep |= lux_list_has_token(f.value, f.vlen, "keep-alive");
            if (*nconn < MAX_CONN_TOKENS)
                conn[(*nconn)++] = f;
        }
    }
    if (te && !h->chunked)
        return -1; /* a coding lux cannot frame: the length is unknowable */
    if (te && h->content_length >= 0)
        close = 1; /* both framings: maybe a split response; the connection is not reused */
    if (te)
        h->content_length = -1;
    h->keep_alive = !close && (h->minor == 1 || keep);
    return 0;
}

int lux_http_resp_parse(const char *buf, size_t end, lux_http_resp *h, lux_cgi_field_fn fn,
                        void *arg) {
    memset(h, 0, sizeof *h);
    h->content_length = -1;
    size_t pos = 0;
    const char *l;
    size_t len = next_line(buf, end, &pos, &l);
    if (parse_status(l, len, h) < 0)
        return -1;
    field conn[MAX_CONN_TOKENS];
    size_t nconn = 0;
    if (framing(buf, end, pos, h, conn, &nconn) < 0)
        return -1;
    while (pos < end && (len = next_line(buf, end, &pos, &l)) > 0) {
        field f;
        parse_field(l, len, &f);
        if (!hop_by_hop(&f, conn, nconn) && fn && fn(arg, f.name, f.nlen, f.value, f.vlen) < 0)
            return -1;
    }
    return 0;
}
