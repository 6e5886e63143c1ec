/* The request line and fields, validated and normalised for every protocol (HTTP/1 heads in
 * src/http/h1/h1_request.c, HTTP/2 fields through lux_req_from_fields); what a request knows
 * of its connection. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "http/request.h"
#include "http/stream.h"
#include "http/uri.h"
#include "lux/log.h"
#include "net/conn.h"
#include "net/proxy_protocol.h"
#include "net/tls.h"
#include "net/worker.h"

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
    /* GET first, compared inline (a constant length): most requests are one. */
    if (len == 3 && memcmp(s, "GET", 3) == 0)
        return LUX_M_GET;
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (methods[i].len == len && memcmp(methods[i].name, s, len) == 0)
            return methods[i].m;
    return LUX_M_OTHER;
}

int lux_req_set_request_line(lux_req *r, const char *method, size_t mlen, const char *target,
                             size_t tlen) {
    /* Both strings in one piece of the pool, each NUL-terminated: one allocation, not two. */
    char *w = lux_pool_alloc(r->pool, mlen + 1 + tlen + 1);
    if (!w)
        return 500;
    r->method_str = lux_req_put_str(&w, method, mlen);
    r->target = lux_req_put_str(&w, target, tlen);
    r->method = method_id(method, mlen);
    r->head_only = r->method == LUX_M_HEAD;
    return 0;
}

/* n bytes (4 or 8) of p in a word, in memory order. */
static uint64_t load_word(const char *p, size_t n) {
    if (n == 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        return w;
    }
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* Do n bytes (4 or 8) of name equal those of lower (lower-case letters and '-') in any case?
 * Bit 6 marks the letters of lower (not '-'); only there is bit 5, the case bit, forced, so a
 * byte passes for a letter only as that letter, and for '-' only as itself. */
static int word_is(const char *name, const char *lower, size_t n) {
    uint64_t want = load_word(lower, n);
    uint64_t case_bits = (want >> 1) & 0x2020202020202020ULL;
    return (load_word(name, n) | case_bits) == want;
}

/* The field's name is `lower` (4 to 16 lower-case letters and '-') in any case: what
 * strncasecmp tells, a word or two at a time (the second may overlap the first). */
static int name_is(const lux_header *h, const char *lower, size_t len) {
    if (h->name.len != len)
        return 0;
    size_t n = len >= 8 ? 8 : 4;
    return word_is(h->name.ptr, lower, n) && word_is(h->name.ptr + len - n, lower + len - n, n);
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

int lux_req_check_field(lux_req *r, const lux_header *f, const lux_header **host) {
    if (name_is(f, "host", 4)) {
        if (*host)
            return 400; /* RFC 9112 3.2: more than one Host */
        *host = f;
    } else if (name_is(f, "content-length", 14)) {
        int64_t n;
        if (parse_content_length(f->value.ptr, f->value.len, &n) < 0)
            return 400;
        if (r->content_length >= 0 && r->content_length != n)
            return 400;
        r->content_length = n;
    }
    return 0;
}

/* Normalise a host name (authority or Host field) into r->host; 0 or 400. A value that lives as
 * long as the request (`stays`: one of its fields, a NUL-terminated lux_str) and is already
 * normal is used where it is: the copy would be the same bytes. */
static int set_host(lux_req *r, const char *v, size_t len, int allow_empty, int stays) {
    if (stays && lux_host_is_normal(v, len)) {
        r->host = (lux_str){v, len};
        return 0;
    }
    char *a = lux_pool_strndup(r->pool, v, len);
    int n = a ? lux_host_normalize(a, len) : -1;
    if (n < 0 || (n == 0 && !allow_empty))
        return 400;
    r->host = (lux_str){a, (size_t)n};
    return 0;
}

/* CONNECT names where to tunnel to in authority-form, "host:port" (RFC 9110 9.3.6): the
 * request's host. Its path is "/", so that conditions and handlers see an ordinary one. */
static int connect_target(lux_req *r) {
    const char *colon = memrchr(r->target.ptr, ':', r->target.len);
    if (!r->target.len || r->target.ptr[0] == '/' || !colon || colon[1] == '\0' ||
        set_host(r, r->target.ptr, r->target.len, 0, 0) != 0)
        return 400;
    r->uri = r->path = (lux_str){"/", 1};
    return 0;
}

int lux_req_resolve_target(lux_req *r, const lux_str *authority, const lux_header *host) {
    const char *target = r->target.ptr;
    size_t len = r->target.len;
    const lux_core_conf *core = r->gen->core;
    if (r->method == LUX_M_CONNECT && r->version < 20)
        return connect_target(r);
    if (len == 1 && target[0] == '*') {
        if (r->method != LUX_M_OPTIONS)
            return 400;
        r->uri = r->path = (lux_str){"*", 1};
    } else if (lux_uri_is_plain(target, len)) {
        /* What lux_uri_parse makes of a plain target is the target itself, as uri and as path:
         * the pool copy already made of it serves as both. */
        r->uri = r->path = r->target;
        r->query = (lux_str){NULL, 0};
    } else {
        char *ubuf = lux_pool_alloc(r->pool, 3 * len + 2);
        char *pbuf = lux_pool_alloc(r->pool, 3 * len + 2);
        if (!ubuf || !pbuf)
            return 500;
        lux_uri u;
        int st = lux_uri_parse(target, len, core->http_parseopts, &u, ubuf, pbuf);
        if (st)
            return st;
        r->uri = (lux_str){u.uri, u.uri_len};
        r->path = (lux_str){u.path, u.path_len};
        r->query = (lux_str){u.query, u.query_len};
        /* absolute-form: the target's authority overrides Host (RFC 9112 3.2.2). The target's
         * scheme is not believed: the transport says what it is. */
        if (u.authority && set_host(r, u.authority, u.authority_len, 1, 0) != 0)
            return 400;
    }
    if (!r->host.ptr && authority && authority->ptr)
        return set_host(r, authority->ptr, authority->len, 0, 0);
    if (!r->host.ptr && host)
        return set_host(r, host->value.ptr, host->value.len, r->version < 11,
                        1 /* a field in the request's pool, kept by lux_req_check_field */);
    return 0;
}

char *lux_req_fields_alloc(lux_req *r, size_t n, size_t bytes) {
    size_t array = (n + 1) * sizeof *r->headers;
    r->headers = lux_pool_alloc(r->pool, array + bytes);
    return r->headers ? (char *)r->headers + array : NULL;
}

/* Copy header fields into the pool and check the ones every protocol understands. */
static int copy_fields(lux_req *r, const lux_header *headers, size_t n, const lux_header **host) {
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += headers[i].name.len + headers[i].value.len + 2;
    char *w = lux_req_fields_alloc(r, n, bytes);
    if (!w)
        return 500;
    for (size_t i = 0; i < n; i++) {
        r->headers[i].name = lux_req_put_str(&w, headers[i].name.ptr, headers[i].name.len);
        r->headers[i].value = lux_req_put_str(&w, headers[i].value.ptr, headers[i].value.len);
    }
    r->nheaders = n;
    for (size_t i = 0; i < n; i++) {
        int st = lux_req_check_field(r, &r->headers[i], host);
        if (st)
            return st;
    }
    return 0;
}

static int is_scheme(const lux_str *s, const char *name, size_t len) {
    return s->len == len && strncasecmp(s->ptr, name, len) == 0;
}

int lux_req_from_fields(lux_req *r, const lux_str *method, const lux_str *scheme,
                        const lux_str *authority, const lux_str *path, const lux_header *headers,
                        size_t n) {
    r->version = 20;
    if (!method || !method->ptr || !path || !path->ptr || !path->len)
        return 400;
    int st = lux_req_set_request_line(r, method->ptr, method->len, path->ptr, path->len);
    if (st)
        return st;
    if (scheme && scheme->ptr && !is_scheme(scheme, "http", 4) && !is_scheme(scheme, "https", 5))
        return 400;
    /* A path is origin-form or "*" (RFC 9113 8.3.1); authorities travel in :authority. */
    if (path->ptr[0] != '/' && !(path->len == 1 && path->ptr[0] == '*'))
        return 400;
    const lux_header *host = NULL;
    st = copy_fields(r, headers, n, &host);
    if (st)
        return st;
    if ((!authority || !authority->ptr) && !host)
        return 400; /* RFC 9113 8.3.1: a request names its authority one way or the other */
    return lux_req_resolve_target(r, authority, host);
}

const char *lux_req_protocol(const lux_req *r) {
    return r->version == 10 ? "HTTP/1.0" : r->version == 20 ? "HTTP/2.0" : "HTTP/1.1";
}

/* Whether two bytes can be equal ignoring case: equal but for the 0x20 bit, which is all that
 * tells an upper-case letter from its lower-case one. Cheaper than strncasecmp, which decides. */
static int may_match_blind(unsigned char a, unsigned char b) {
    return ((a ^ b) & ~0x20) == 0;
}

const lux_str *lux_req_header(const lux_req *r, const char *name, size_t len) {
    /* Most fields asked for are absent, and a present field of the same length mostly differs
     * in its first byte already: the call is kept for the rest. */
    for (size_t i = 0, n = r->nheaders; i < n; i++) {
        const lux_header *h = &r->headers[i];
        if (h->name.len == len &&
            (len == 0 || may_match_blind((unsigned char)h->name.ptr[0], (unsigned char)name[0])) &&
            strncasecmp(h->name.ptr, name, len) == 0)
            return &h->value;
    }
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

struct lux_offload_inbox *lux_req_offload(const lux_req *r) {
    return r->worker ? r->worker->offload : NULL;
}

unsigned lux_req_conn_requests(const lux_req *r) {
    return r->conn ? r->conn->requests : 0;
}

lux_client_cert lux_req_client_cert(const lux_req *r) {
    return r->conn ? lux_tls_client_cert(r->conn) : LUX_CLIENT_CERT_NONE;
}

lux_str lux_req_remote_user(lux_req *r) {
    const char *type;
    return lux_req_remote_user_of(r, &type);
}

/* What lux checked itself (mod_auth, its own TLS) outranks what a proxy says. */
lux_str lux_req_remote_user_of(lux_req *r, const char **auth_type) {
    *auth_type = r->auth_type;
    if (r->auth_user.ptr)
        return r->auth_user;
    char name[256]; /* X.509 bounds subject fields well below this (CN: 64) */
    int n = r->conn ? lux_tls_client_user(r->conn, name, sizeof name) : -1;
    char *copy = n >= 0 ? lux_pool_alloc(r->pool, (size_t)n + 1) : NULL;
    if (copy) {
        memcpy(copy, name, (size_t)n + 1);
        *auth_type = "SSL_CLIENT_VERIFY";
        return (lux_str){copy, (size_t)n};
    }
    const char *proxied = lux_extforward_remote_user(r, auth_type);
    return proxied ? (lux_str){proxied, strlen(proxied)} : (lux_str){NULL, 0};
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
