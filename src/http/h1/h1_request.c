/* From a parsed HTTP/1 head to a request: the fields every protocol checks (http/request.c),
 * then what only HTTP/1 has: Transfer-Encoding, Connection, Expect. */
#include "http/h1/h1_request.h"

#include <string.h>
#include <strings.h>

#include "core/pool.h"
#include "http/request.h"
#include "http/token_list.h"

/* A first byte that differs from name's in more than the 0x20 bit (all that tells a letter's
 * cases apart) rules the field out before the case-blind call. */
static int name_is(const lux_header *h, const char *name, size_t len) {
    return h->name.len == len &&
           (((unsigned char)h->name.ptr[0] ^ (unsigned char)name[0]) & ~0x20) == 0 &&
           strncasecmp(h->name.ptr, name, len) == 0;
}

typedef struct {
    int te, conn_close, conn_keep;
} h1_fields;

/* The fields only HTTP/1 frames with; 0 or a status. */
static int check_h1_field(lux_req *r, const lux_header *f, h1_fields *seen, lux_h1_framing *fr) {
    if (name_is(f, "transfer-encoding", 17)) {
        /* Only "chunked" is understood; anything else cannot be framed. */
        if (seen->te || f->value.len != 7 || strncasecmp(f->value.ptr, "chunked", 7) != 0)
            return r->version == 10 ? 400 : 501;
        seen->te = 1;
    } else if (name_is(f, "connection", 10)) {
        seen->conn_close |= lux_list_has_token(f->value.ptr, f->value.len, "close");
        seen->conn_keep |= lux_list_has_token(f->value.ptr, f->value.len, "keep-alive");
    } else if (name_is(f, "expect", 6)) {
        if (f->value.len != 12 || strncasecmp(f->value.ptr, "100-continue", 12) != 0)
            return 417;
        fr->expect_continue = r->version >= 11;
    }
    return 0;
}

/* Copy the head's fields into the pool, every name and value a C string, all of them in one
 * allocation (all fields: the access log shows a refused request's headers too). */
static int copy_h1_fields(lux_req *r, const lux_h1_request *h) {
    size_t n = h->num_headers, bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += h->headers[i].name_len + h->headers[i].value_len + 2;
    char *w = lux_req_fields_alloc(r, n, bytes);
    if (!w)
        return 500;
    for (size_t i = 0; i < n; i++) {
        const lux_h1_header *f = &h->headers[i];
        r->headers[i].name = lux_req_put_str(&w, f->name, f->name_len);
        r->headers[i].value = lux_req_put_str(&w, f->value, f->value_len);
    }
    r->nheaders = n;
    return 0;
}

/* The head's fields into the pool, then checked in the order they came. */
static int scan_fields(lux_req *r, const lux_h1_request *h, const lux_header **host,
                       lux_h1_framing *fr) {
    if (copy_h1_fields(r, h))
        return 500;
    h1_fields seen = {0, 0, 0};
    for (size_t i = 0; i < h->num_headers; i++) {
        int st = lux_req_check_field(r, &r->headers[i], host);
        if (!st)
            st = check_h1_field(r, &r->headers[i], &seen, fr);
        if (st)
            return st;
    }
    if (seen.te) {
        /* Smuggling defence (RFC 9112 6.1): both framings at once is refused. */
        if (r->content_length >= 0 || r->version == 10)
            return 400;
        fr->chunked = 1;
    }
    fr->keep_alive = r->version >= 11 ? !seen.conn_close : seen.conn_keep && !seen.conn_close;
    return 0;
}

int lux_req_from_h1(lux_req *r, const lux_h1_request *h, lux_h1_framing *f) {
    memset(f, 0, sizeof *f);
    r->version = 10 + h->minor_version;
    int st = lux_req_set_request_line(r, h->method, h->method_len, h->target, h->target_len);
    if (st)
        return st;
    const lux_header *host = NULL;
    st = scan_fields(r, h, &host, f);
    if (st)
        return st;
    if (r->version >= 11 && !host)
        return 400; /* RFC 9112 3.2 */
    return lux_req_resolve_target(r, NULL, host);
}
