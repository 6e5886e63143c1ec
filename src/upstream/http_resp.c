#include "upstream/http_resp.h"

#include <string.h>
#include <strings.h>

#include "http/h1/charclass.h"
#include "http/token_list.h"

#define MAX_CONN_TOKENS 8
/* Fields one pass keeps for the callback; a head with more is read again. */
#define MAX_FIELDS 64

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
    /* memchr scans a word at a time: most of a head's bytes are its values */
    if (memchr(v, '\0', (size_t)(e - v)) || memchr(v, '\r', (size_t)(e - v)))
        return -1;
    f->value = v;
    f->vlen = (size_t)(e - v);
    return 0;
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
    if (IS(f, "Connection") || IS(f, "Keep-Alive") || IS(f, "Proxy-Connection") || IS(f, "TE") ||
        IS(f, "Trailer") || IS(f, "Transfer-Encoding") || IS(f, "Upgrade") ||
        IS(f, "Content-Length"))
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

/* What the fields say of the framing and the connection, as they are read. */
typedef struct {
    int close, keep, te;
    field conn[MAX_CONN_TOKENS];
    size_t nconn;
} framing;

static int frame_field(const field *f, lux_http_resp *h, framing *fr) {
    if (IS(f, "Content-Length") && content_length(f, h) < 0)
        return -1;
    if (IS(f, "Transfer-Encoding")) {
        fr->te = 1;
        h->chunked = ends_chunked(f->value, f->vlen);
    }
    if (IS(f, "Upgrade")) {
        h->upgrade = f->value;
        h->upgrade_len = f->vlen;
    }
    if (IS(f, "Connection")) {
        fr->close |= lux_list_has_token(f->value, f->vlen, "close");
        fr->keep |= lux_list_has_token(f->value, f->vlen, "keep-alive");
        if (fr->nconn < MAX_CONN_TOKENS)
            fr->conn[fr->nconn++] = *f;
    }
    return 0;
}

static int framing_done(lux_http_resp *h, const framing *fr) {
    if (fr->te && !h->chunked)
        return -1; /* a coding lux cannot frame: the length is unknowable */
    int close = fr->close || (fr->te && h->content_length >= 0); /* maybe a split response */
    if (fr->te)
        h->content_length = -1;
    h->keep_alive = !close && (h->minor == 1 || fr->keep);
    return 0;
}

/* Hand the end-to-end fields of buf[pos, end) to fn, parsing them again (a head with more
 * fields than one pass keeps). */
static int emit_again(const char *buf, size_t end, size_t pos, const framing *fr,
                      lux_cgi_field_fn fn, void *arg) {
    const char *l;
    size_t len;
    while (pos < end && (len = next_line(buf, end, &pos, &l)) > 0) {
        field f;
        parse_field(l, len, &f);
        if (!hop_by_hop(&f, fr->conn, fr->nconn) && fn(arg, f.name, f.nlen, f.value, f.vlen) < 0)
            return -1;
    }
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
    /* One pass reads the fields and the framing; the end-to-end fields go to fn after it,
     * once Connection has named every hop-by-hop one. */
    framing fr = {0};
    field fields[MAX_FIELDS];
    size_t n = 0, first = pos;
    while (pos < end && (len = next_line(buf, end, &pos, &l)) > 0) {
        field f;
        if (parse_field(l, len, &f) < 0 || frame_field(&f, h, &fr) < 0)
            return -1;
        if (n < MAX_FIELDS)
            fields[n] = f;
        n++;
    }
    if (framing_done(h, &fr) < 0)
        return -1;
    if (!fn)
        return 0;
    if (n > MAX_FIELDS)
        return emit_again(buf, end, first, &fr, fn, arg);
    for (size_t i = 0; i < n; i++) {
        const field *f = &fields[i];
        if (!hop_by_hop(f, fr.conn, fr.nconn) && fn(arg, f->name, f->nlen, f->value, f->vlen) < 0)
            return -1;
    }
    return 0;
}
