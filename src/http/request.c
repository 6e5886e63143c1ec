/* From a parsed HTTP/1 head to a validated, normalised request; what a request knows of its
 * connection. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "http/request.h"
#include "http/uri.h"
#include "lux/log.h"
#include "net/conn.h"
#include "net/tls.h"

static const struct {
    const char *name;
    size_t len;
    lux_method m;
} methods[] = {
    {"GET", 3, LUX_M_GET},     {"HEAD", 4, LUX_M_HEAD},       {"POST", 4, LUX_M_POST},
    {"PUT", 3, LUX_M_PUT},     {"DELETE", 6, LUX_M_DELETE},   {"OPTIONS", 7, LUX_M_OPTIONS},
    {"TRACE", 5, LUX_M_TRACE}, {"CONNECT", 7, LUX_M_CONNECT}, {"PATCH", 5, LUX_M_PATCH},
};

static lux_method method_id(const char *s, size_t len) {
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (methods[i].len == len && memcmp(methods[i].name, s, len) == 0)
            return methods[i].m;
    return LUX_M_OTHER;
}

static int name_is(const lux_h1_header *h, const char *name, size_t len) {
    return h->name_len == len && strncasecmp(h->name, name, len) == 0;
}

/* Does a comma-separated token list contain token (case-insensitive)? */
static int has_token(const char *v, size_t len, const char *token) {
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end - start == tl && strncasecmp(v + start, token, tl) == 0)
            return 1;
    }
    return 0;
}

static int parse_content_length(const char *v, size_t len, int64_t *out) {
    if (len == 0 || len > 18)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    *out = n;
    return 0;
}

/* Read the framing and connection headers; returns 0 or a status. */
static int scan_headers(lux_req *r, const lux_h1_request *h, const lux_h1_header **host) {
    int te = 0, conn_close = 0, conn_keep = 0;
    r->content_length = -1;
    for (size_t i = 0; i < h->num_headers; i++) {
        const lux_h1_header *f = &h->headers[i];
        if (name_is(f, "host", 4)) {
            if (*host)
                return 400; /* RFC 9112 3.2: more than one Host */
            *host = f;
        } else if (name_is(f, "content-length", 14)) {
            int64_t n;
            if (parse_content_length(f->value, f->value_len, &n) < 0)
                return 400;
            if (r->content_length >= 0 && r->content_length != n)
                return 400;
            r->content_length = n;
        } else if (name_is(f, "transfer-encoding", 17)) {
            /* Only "chunked" is understood; anything else cannot be framed. */
            if (te || f->value_len != 7 || strncasecmp(f->value, "chunked", 7) != 0)
                return r->http_minor == 0 ? 400 : 501;
            te = 1;
        } else if (name_is(f, "connection", 10)) {
            conn_close |= has_token(f->value, f->value_len, "close");
            conn_keep |= has_token(f->value, f->value_len, "keep-alive");
        } else if (name_is(f, "expect", 6)) {
            if (f->value_len != 12 || strncasecmp(f->value, "100-continue", 12) != 0)
                return 417;
            r->expect_continue = r->http_minor >= 1;
        }
    }
    if (te) {
        /* Smuggling defence (RFC 9112 6.1): both framings at once is refused. */
        if (r->content_length >= 0 || r->http_minor == 0)
            return 400;
        r->chunked = 1;
    }
    r->keep_alive = r->http_minor >= 1 ? !conn_close : conn_keep && !conn_close;
    return 0;
}

int lux_req_from_h1(lux_req *r, const lux_h1_request *h) {
    lux_pool *p = r->pool;
    r->method_str = (lux_str){lux_pool_strndup(p, h->method, h->method_len), h->method_len};
    r->target = (lux_str){lux_pool_strndup(p, h->target, h->target_len), h->target_len};
    r->http_minor = h->minor_version;
    if (!r->method_str.ptr || !r->target.ptr)
        return 500;
    r->method = method_id(h->method, h->method_len);
    r->head_only = r->method == LUX_M_HEAD;
    r->headers = lux_pool_alloc(p, (h->num_headers + 1) * sizeof *r->headers);
    if (!r->headers)
        return 500;
    for (size_t i = 0; i < h->num_headers; i++) {
        const lux_h1_header *f = &h->headers[i];
        r->headers[i].name = (lux_str){lux_pool_strndup(p, f->name, f->name_len), f->name_len};
        r->headers[i].value = (lux_str){lux_pool_strndup(p, f->value, f->value_len), f->value_len};
        if (!r->headers[i].name.ptr || !r->headers[i].value.ptr)
            return 500;
    }
    r->nheaders = h->num_headers;

    const lux_h1_header *host = NULL;
    int st = scan_headers(r, h, &host);
    if (st)
        return st;
    if (r->http_minor >= 1 && !host)
        return 400; /* RFC 9112 3.2 */

    const lux_core_conf *core = r->gen->core;
    if (h->target_len == 1 && h->target[0] == '*') {
        if (r->method != LUX_M_OPTIONS)
            return 400;
        r->uri = r->path = (lux_str){"*", 1};
    } else {
        char *ubuf = lux_pool_alloc(p, 3 * h->target_len + 2);
        char *pbuf = lux_pool_alloc(p, 3 * h->target_len + 2);
        if (!ubuf || !pbuf)
            return 500;
        lux_uri u;
        st = lux_uri_parse(h->target, h->target_len, core->http_parseopts, &u, ubuf, pbuf);
        if (st)
            return st;
        r->uri = (lux_str){u.uri, u.uri_len};
        r->path = (lux_str){u.path, u.path_len};
        r->query = (lux_str){u.query, u.query_len};
        if (u.authority) {
            /* absolute-form: the target's authority overrides Host (RFC 9112 3.2.2). */
            char *a = lux_pool_strndup(p, u.authority, u.authority_len);
            int n = a ? lux_host_normalize(a, u.authority_len) : -1;
            if (n < 0)
                return 400;
            /* The target's scheme is not believed: the transport says what it is. */
            r->host = (lux_str){a, (size_t)n};
        }
    }
    if (host && !r->host.ptr) {
        char *v = lux_pool_strndup(p, host->value, host->value_len);
        int n = v ? lux_host_normalize(v, host->value_len) : -1;
        if (n < 0 || (n == 0 && r->http_minor >= 1))
            return 400;
        r->host = (lux_str){v, (size_t)n};
    }
    return 0;
}

const lux_str *lux_req_header(const lux_req *r, const char *name, size_t len) {
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->headers[i].name.len == len && strncasecmp(r->headers[i].name.ptr, name, len) == 0)
            return &r->headers[i].value;
    return NULL;
}

const char *lux_req_local_name(const lux_req *r) {
    return r->conn && r->conn->listener ? r->conn->listener->name : NULL;
}

int lux_req_local_port(const lux_req *r) {
    return r->conn && r->conn->listener ? r->conn->listener->port : -1;
}

const struct sockaddr *lux_req_remote_addr(const lux_req *r) {
    if (r->remote_addr.ss_family)
        return (const struct sockaddr *)&r->remote_addr;
    return r->conn ? (const struct sockaddr *)&r->conn->peer : NULL;
}

int lux_req_remote_port(const lux_req *r) {
    if (!r->conn)
        return -1;
    const struct sockaddr_in6 *sa = &r->conn->peer;
    if (sa->sin6_family != AF_INET && sa->sin6_family != AF_INET6)
        return -1;
    return ntohs(sa->sin6_port); /* at the same offset in a sockaddr_in */
}

unsigned lux_req_conn_requests(const lux_req *r) {
    return r->conn ? r->conn->requests : 0;
}

lux_client_cert lux_req_client_cert(const lux_req *r) {
    return r->conn ? lux_tls_client_cert(r->conn) : LUX_CLIENT_CERT_NONE;
}

lux_str lux_req_remote_user(lux_req *r) {
    char name[256]; /* X.509 bounds subject fields well below this (CN: 64) */
    int n = r->conn ? lux_tls_client_user(r->conn, name, sizeof name) : -1;
    char *copy = n >= 0 ? lux_pool_alloc(r->pool, (size_t)n + 1) : NULL;
    if (!copy)
        return (lux_str){NULL, 0};
    memcpy(copy, name, (size_t)n + 1);
    return (lux_str){copy, (size_t)n};
}

time_t lux_req_now(lux_req *r) {
    lux_worker_date(r->worker); /* brings the clock up to date */
    return r->worker->date_time;
}

int lux_req_set_uri(lux_req *r, const char *uri, size_t len) {
    const lux_core_conf *core = r->confs ? r->confs[0] : r->gen->core;
    char *ubuf = lux_pool_alloc(r->pool, 3 * len + 2);
    char *pbuf = lux_pool_alloc(r->pool, 3 * len + 2);
    if (!ubuf || !pbuf)
        return 500;
    lux_uri u;
    int st = lux_uri_parse(uri, len, core->http_parseopts, &u, ubuf, pbuf);
    if (st)
        return st;
    if (u.authority)
        return 400; /* a rewrite stays on this host; redirects are for other places */
    r->uri = (lux_str){u.uri, u.uri_len};
    r->path = (lux_str){u.path, u.path_len};
    r->query = (lux_str){u.query, u.query_len};
    return 0;
}
