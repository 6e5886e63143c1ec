/* Building the response: headers, body chunks, error pages, and the serialised head. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "http/filter.h"
#include "http/h1/charclass.h"
#include "http/request.h"
#include "http/response.h"
#include "http/stat_cache.h"
#include "http/status.h"
#include "lux/log.h"
#include "net/conn.h"

/* tchar (RFC 9110 5.6.2) by byte value: every response header name passes here, a table
 * lookup per byte is cheaper than the class's comparisons. */
#define TCH4(c) IS_TCHAR(c), IS_TCHAR((c) + 1), IS_TCHAR((c) + 2), IS_TCHAR((c) + 3)
#define TCH16(c) TCH4(c), TCH4((c) + 4), TCH4((c) + 8), TCH4((c) + 12)
#define TCH64(c) TCH16(c), TCH16((c) + 16), TCH16((c) + 32), TCH16((c) + 48)
static const unsigned char tchar[256] = {TCH64(0), TCH64(64), TCH64(128), TCH64(192)};

static uint64_t load8(const char *s) {
    uint64_t w;
    memcpy(&w, s, sizeof w);
    return w;
}

/* The last 4 to 8 bytes of s[0, len) (len >= 4) as one word: the last eight, or the first four
 * and the last four, which overlap below eight. A byte seen twice is checked twice. */
static uint64_t load_last(const char *s, size_t len) {
    if (len >= 8)
        return load8(s + len - 8);
    uint32_t first, last;
    memcpy(&first, s, sizeof first);
    memcpy(&last, s + len - 4, sizeof last);
    return (uint64_t)last << 32 | first;
}

/* Without an early exit: names are short, and nearly all of them pass. */
static int is_token(const char *s, size_t len) {
    unsigned char ok = len > 0;
    for (size_t i = 0; i < len; i++)
        ok &= tchar[(unsigned char)s[i]];
    return ok;
}

static int is_field_value_byte(unsigned char c) {
    return !(c <= '\r' && (c == '\r' || c == '\n' || c == '\0'));
}

static int bytes_are_field_value(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!is_field_value_byte((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Does any byte of the word lie below '\r' + 1? Exact for presence (a borrow only starts at
 * a byte that is below it). */
static int word_has_low_byte(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    return ((w - ones * ('\r' + 1)) & ~w & highs) != 0;
}

/* RFC 9110 5.5: a field value never holds CR, LF or NUL (they would end or split the line).
 * All three are below '\r' + 1, which eight bytes at a time rule out at once; only a word
 * that holds such a byte (a tab, say) is looked at byte by byte. */
static int is_field_value(const char *s, size_t len) {
    if (len < 4)
        return bytes_are_field_value(s, len);
    size_t i = 0;
    for (; i + 8 < len; i += 8)
        if (word_has_low_byte(load8(s + i)) && !bytes_are_field_value(s + i, 8))
            return 0;
    return !word_has_low_byte(load_last(s, len)) || bytes_are_field_value(s + i, len - i);
}

/* The headers that frame the message on the wire: the serialiser alone writes them, from what
 * it knows of the body and the connection. Told apart by length first: most names have none of
 * these lengths. */
static int is_framing(const char *name, size_t len) {
    switch (len) {
    case 10:
        return strncasecmp(name, "Connection", 10) == 0;
    case 14:
        return strncasecmp(name, "Content-Length", 14) == 0;
    case 17:
        return strncasecmp(name, "Transfer-Encoding", 17) == 0;
    default:
        return 0;
    }
}

/* new_header_slot when the array is full: one twice as large, the headers so far moved in. */
static lux_header *grow_header_slots(lux_req *r) {
    size_t cap = r->resp_headers_cap ? r->resp_headers_cap * 2 : 8;
    lux_header *h = lux_pool_alloc(r->pool, cap * sizeof *h);
    if (!h)
        return NULL;
    if (r->nresp_headers)
        memcpy(h, r->resp_headers, r->nresp_headers * sizeof *h);
    r->resp_headers = h;
    r->resp_headers_cap = cap;
    return &h[r->nresp_headers];
}

/* Room for one more response header, or NULL when out of memory. */
static inline lux_header *new_header_slot(lux_req *r) {
    if (r->nresp_headers < r->resp_headers_cap)
        return &r->resp_headers[r->nresp_headers];
    return grow_header_slots(r);
}

/* n bytes of s at p, for a length not known at compile time: header names and values, the
 * reason, the tag. Most are short, and up to 32 bytes go in two moves of a fixed size that may
 * overlap (each within the piece) instead of a call. */
static inline char *put_var(char *p, const char *s, size_t n) {
    if (n > 32) {
        memcpy(p, s, n);
    } else if (n >= 16) {
        memcpy(p, s, 16);
        memcpy(p + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(p, s, 8);
        memcpy(p + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(p, s, 4);
        memcpy(p + n - 4, s + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            p[i] = s[i];
    }
    return p + n;
}

int lux_resp_header(lux_req *r, const char *name, size_t nlen, const char *value, size_t vlen) {
    if (!is_token(name, nlen)) {
        lux_log(LUX_LOG_ERR, "a response header with an invalid name was refused (uri %.*s)",
                (int)r->uri.len, r->uri.ptr ? r->uri.ptr : "");
        return -1;
    }
    if (!is_field_value(value, vlen)) {
        lux_log(LUX_LOG_ERR, "response header %.*s refused: CR, LF or NUL in its value (uri %.*s)",
                (int)nlen, name, (int)r->uri.len, r->uri.ptr ? r->uri.ptr : "");
        return -1;
    }
    if (is_framing(name, nlen)) {
        lux_log(LUX_LOG_WARN, "response header \"%.*s\" dropped: the server frames responses",
                (int)nlen, name);
        return 0;
    }
    lux_header *slot = new_header_slot(r);
    /* name and value in one piece of the pool, each NUL-terminated */
    char *n = slot ? lux_pool_alloc(r->pool, nlen + 1 + vlen + 1) : NULL;
    if (!n)
        return -1;
    char *v = n + nlen + 1;
    memcpy(n, name, nlen);
    n[nlen] = '\0';
    memcpy(v, value, vlen);
    v[vlen] = '\0';
    *slot = (lux_header){{n, nlen}, {v, vlen}};
    r->nresp_headers++;
    return 0;
}

int lux_resp_header_static(lux_req *r, const char *name, size_t nlen, const char *value,
                           size_t vlen) {
    lux_header *slot = new_header_slot(r);
    if (!slot)
        return -1;
    *slot = (lux_header){{name, nlen}, {value, vlen}};
    r->nresp_headers++;
    return 0;
}

int lux_resp_header_trusted(lux_req *r, const char *name, size_t nlen, const char *value,
                            size_t vlen) {
    char *v = lux_pool_alloc(r->pool, vlen + 1);
    if (!v)
        return -1;
    *put_var(v, value, vlen) = '\0';
    return lux_resp_header_static(r, name, nlen, v, vlen);
}

int lux_resp_value_ok(const char *value, size_t len) {
    return is_field_value(value, len);
}

/* A body piece. A streamed body's pieces live on the heap and go as soon as they are sent, so
 * a long stream does not grow the request's pool; `extra` bytes follow the chunk (a copy). */
static lux_chunk *new_chunk(lux_req *r, size_t extra) {
    lux_chunk *c;
    if (r->streaming) {
        c = malloc(sizeof *c + extra);
        if (c) {
            memset(c, 0, sizeof *c);
            c->heap = c;
        }
    } else {
        c = lux_pool_alloc(r->pool, sizeof *c + extra);
        if (c)
            memset(c, 0, sizeof *c);
    }
    return c;
}

static void queue_chunk(lux_req *r, lux_chunk *c) {
    if (!r->body_tail)
        r->body_tail = &r->body;
    *r->body_tail = c;
    r->body_tail = &c->next;
    r->body_len += c->len;
    lux_stream_appended(r);
}

/*
 * Where every appended body piece enters the response's queue, between the handler and the
 * protocol: the one place the output filters (http/filter.c) take the pieces they transform.
 */
static int enqueue(lux_req *r, lux_chunk *c) {
    if (r->filters)
        return lux_filter_take(r, c);
    if (r->streaming && r->stream_length >= 0 &&
        r->body_len + c->len > (uint64_t)r->stream_length) {
        lux_log(LUX_LOG_ERR, "%.*s: a streamed body longer than its %lld bytes was cut",
                (int)r->uri.len, r->uri.ptr ? r->uri.ptr : "", (long long)r->stream_length);
        lux_chunk_release(c);
        return -1;
    }
    queue_chunk(r, c);
    return 0;
}

/* Filters' output: copied, on the heap, released once sent. */
int lux_resp_queue_copy(lux_req *r, const char *p, size_t len) {
    lux_chunk *c = new_chunk(r, len);
    if (!c)
        return -1;
    memcpy(c + 1, p, len);
    c->mem = (const char *)(c + 1);
    c->len = len;
    queue_chunk(r, c);
    return 0;
}

int lux_resp_body_mem(lux_req *r, const char *p, size_t len) {
    if (len == 0)
        return 0;
    lux_chunk *c = new_chunk(r, 0);
    if (!c)
        return -1;
    c->mem = p;
    c->len = len;
    return enqueue(r, c);
}

int lux_resp_body_copy(lux_req *r, const char *p, size_t len) {
    if (len == 0)
        return 0;
    lux_chunk *c = new_chunk(r, len);
    if (!c)
        return -1;
    memcpy(c + 1, p, len);
    c->mem = (const char *)(c + 1);
    c->len = len;
    return enqueue(r, c);
}

int lux_resp_body_file(lux_req *r, lux_file *f, uint64_t off, uint64_t len) {
    if (len == 0)
        return 0;
    lux_chunk *c = new_chunk(r, 0);
    if (!c)
        return -1;
    /* The chunk holds a reference either way: the stat cache may replace its entry while the
     * response is still being written. */
    c->file = lux_file_ref(f);
    if (f->content)
        c->mem = f->content + off;
    c->off = off;
    c->len = len;
    return enqueue(r, c);
}

void lux_chunk_release(lux_chunk *c) {
    if (c->file)
        lux_file_unref(c->file);
    c->file = NULL;
    free(c->heap); /* may hold c itself */
}

void lux_resp_body_reset(lux_req *r) {
    for (lux_chunk *c = r->body, *next; c; c = next) {
        next = c->next;
        lux_chunk_release(c);
    }
    r->body = NULL;
    r->body_tail = &r->body;
    r->body_len = 0;
}

char *lux_req_printf(lux_req *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = lux_pool_alloc(r->pool, (size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* server.errorfile-prefix: "<prefix><status>.html" replaces the built-in page when present. */
static int errorfile(lux_req *r, int status) {
    const lux_core_conf *core = r->confs[0];
    if (!core->errorfile_prefix.ptr)
        return 0;
    char *path = lux_req_printf(r, "%s%d.html", core->errorfile_prefix.ptr, status);
    if (!path)
        return 0;
    lux_file *f = lux_stat_cache_open(r->worker, path, strlen(path), 1);
    if (!f)
        return 0;
    int ok = S_ISREG(f->mode) && lux_resp_body_file(r, f, 0, f->size) == 0;
    lux_file_unref(f);
    return ok;
}

lux_result lux_resp_error(lux_req *r, int status) {
    lux_resp_body_reset(r);
    r->status = status;
    r->nresp_headers = 0;
    r->has_content_length = 1;
    if (status == 304 || status < 200 || status == 204)
        return LUX_HANDLED;
    if (errorfile(r, status)) {
        lux_resp_header_static(r, "Content-Type", 12, "text/html", 9);
        return LUX_HANDLED;
    }
    size_t n;
    const char *shared = lux_status_page_shared(status, &n);
    char *page = shared ? NULL : lux_pool_alloc(r->pool, 512);
    if (shared)
        lux_resp_body_mem(r, shared, n);
    else if (page)
        lux_resp_body_mem(r, page, lux_status_page(status, page, 512));
    static const char ct[] = "text/html; charset=utf-8";
    lux_resp_header_static(r, "Content-Type", 12, ct, sizeof ct - 1);
    return LUX_HANDLED;
}

/* Is h named `name` (len bytes, starting with a letter), in any case? The length and the first
 * letter first: most names differ in one of them (ETag has Date's length). */
static int is_named(const lux_header *h, const char *name, size_t len) {
    return h->name.len == len && (h->name.ptr[0] | 0x20) == (name[0] | 0x20) &&
           strncasecmp(h->name.ptr, name, len) == 0;
}

/* Inline: most pieces are literals, copied without a call when their length is known. */
static inline char *put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}
#define PUTS(p, lit) put(p, lit, sizeof lit - 1)

/* How many decimal digits v has: compared with the powers of ten, no division. */
static int decimal_digits(uint64_t v) {
    int n = 1;
    for (uint64_t bound = 10; n < 20 && v >= bound; bound *= 10)
        n++;
    return n;
}

/* Decimal digits of v at p, two at a time from the end (printf is a measurable share of a
 * small response's user time, and so was a division per digit). */
static char *put_u64(char *p, uint64_t v) {
    static const char pairs[] =
        "000102030405060708091011121314151617181920212223242526272829303132333435363738394041424344"
        "454647484950515253545556575859606162636465666768697071727374757677787980818283848586878889"
        "90919293949596979899";
    char *end = p + decimal_digits(v), *q = end;
    for (; v >= 100; v /= 100) {
        q -= 2;
        memcpy(q, &pairs[2 * (v % 100)], 2);
    }
    if (v >= 10)
        memcpy(q - 2, &pairs[2 * v], 2);
    else
        q[-1] = (char)('0' + v);
    return end;
}

/* The fixed parts of a head, as the serialiser below writes them. */
#define LIT_LEN(lit) (sizeof lit - 1)
#define STATUS_LINE_FIXED (LIT_LEN("HTTP/1.1 ") + 3 + 1 + 2) /* version, code, SP, CRLF */
#define CONTENT_LENGTH_MAX (LIT_LEN("Content-Length: ") + 20 + 2)
#define CONNECTION_MAX LIT_LEN("Connection: keep-alive\r\n")
#define DATE_LINE (LIT_LEN("Date: ") + LUX_HTTP_DATE_LEN + 2)
#define SERVER_FIXED (LIT_LEN("Server: ") + 2)

/* The most bytes lux_resp_head can write for r: every optional line counted as present. */
static size_t head_size_max(const lux_req *r, size_t reason_len, const lux_str *tag) {
    size_t n = STATUS_LINE_FIXED + reason_len + CONTENT_LENGTH_MAX + CONNECTION_MAX + DATE_LINE +
               SERVER_FIXED + tag->len + 2;
    for (size_t i = 0; i < r->nresp_headers; i++)
        n += r->resp_headers[i].name.len + 2 + r->resp_headers[i].value.len + 2;
    return n;
}

int lux_resp_chunked(const lux_req *r) {
    int bodyless_status = r->status < 200 || r->status == 204 || r->status == 304;
    return r->streaming && r->stream_length < 0 && r->version == 11 && !bodyless_status &&
           !r->tunnel;
}

char *lux_resp_head(lux_req *r, size_t *len) {
    const lux_core_conf *core = r->confs ? r->confs[0] : r->gen->core;
    const char *reason = lux_status_reason(r->status);
    size_t reason_len = strlen(reason);
    size_t need = head_size_max(r, reason_len, &core->tag);
    char *head = lux_pool_alloc(r->pool, need);
    if (!head)
        return NULL;
    char *p = head;
    p = r->version == 10 ? PUTS(p, "HTTP/1.0 ") : PUTS(p, "HTTP/1.1 ");
    int st = r->status >= 100 && r->status <= 999 ? r->status : 500;
    *p++ = (char)('0' + st / 100);
    *p++ = (char)('0' + st / 10 % 10);
    *p++ = (char)('0' + st % 10);
    *p++ = ' ';
    p = put_var(p, reason, reason_len);
    p = PUTS(p, "\r\n");
    /* A module may have set Date or Server itself (setenv.set-response-header): its value wins. */
    int has_date = 0, has_server = 0;
    for (size_t i = 0; i < r->nresp_headers; i++) {
        const lux_header *h = &r->resp_headers[i];
        p = put_var(p, h->name.ptr, h->name.len);
        p = PUTS(p, ": ");
        p = put_var(p, h->value.ptr, h->value.len);
        p = PUTS(p, "\r\n");
        has_date |= is_named(h, "Date", 4);
        has_server |= is_named(h, "Server", 6);
    }
    /* 1xx, 204 and 304 carry no Content-Length framing (RFC 9110 8.6). A streamed body has
     * the length it announced, or none: chunked on HTTP/1.1, the connection's end on 1.0. */
    int bodyless_status = r->status < 200 || r->status == 204 || r->status == 304;
    if (r->tunnel) {
        /* The bytes that follow are the tunnel's, not a message body: no framing. */
        if (r->status == 101)
            p = PUTS(p, "Connection: upgrade\r\n");
    } else if (!bodyless_status && lux_resp_chunked(r)) {
        p = PUTS(p, "Transfer-Encoding: chunked\r\n");
    } else if (!bodyless_status && (!r->streaming || r->stream_length >= 0)) {
        p = PUTS(p, "Content-Length: ");
        p = put_u64(p, r->streaming ? (uint64_t)r->stream_length : r->body_len);
        p = PUTS(p, "\r\n");
    }
    if (r->conn_closes && !r->tunnel)
        p = PUTS(p, "Connection: close\r\n");
    else if (r->version == 10 && !r->tunnel)
        p = PUTS(p, "Connection: keep-alive\r\n");
    if (!has_date) {
        p = PUTS(p, "Date: ");
        p = put(p, lux_worker_date(r->worker), LUX_HTTP_DATE_LEN);
        p = PUTS(p, "\r\n");
    }
    if (core->tag.len && !has_server) {
        p = PUTS(p, "Server: ");
        p = put_var(p, core->tag.ptr, core->tag.len);
        p = PUTS(p, "\r\n");
    }
    p = PUTS(p, "\r\n");
    *len = (size_t)(p - head);
    return head;
}
