/*
 * mod_proxy: pass requests on to HTTP backends (lighttpd's mod_proxy).
 *
 *   proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => 8080 ) ),
 *                    "/api" => ( "a" => ( "socket" => "/run/api.sock" ) ) )
 *   proxy.balance = "fair" | "round-robin" | "hash" | "sticky"
 *   proxy.replace-http-host = "enable"     Host: the backend's host instead of the client's
 *   proxy.header = ( "upgrade" => "enable",        Upgrade (WebSocket) tunnelled after a 101
 *                    "connect" => "enable" )        CONNECT tunnelled to the backend
 *
 * The request goes out as HTTP/1.1 on a connection kept open for the worker's next request to
 * that backend (lighttpd 1.4 speaks HTTP/1.0 and closes), with the hop-by-hop fields dropped and
 * X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and X-Host added (as lighttpd does); the
 * body follows with its Content-Length, or chunked while its length is not known yet. The response
 * head is parsed (upstream/http_resp.h), its hop-by-hop fields dropped, and the body, de-chunked or
 * counted, streamed to the client, which the server frames itself.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/body.h"
#include "http/h1/chunked.h"
#include "core/gen.h"
#include "http/request.h"
#include "lux/req.h"
#include "upstream/gw_conf.h"
#include "upstream/http_resp.h"

extern const lux_module lux_mod_proxy;

/* proxy.header: what lux has of it so far. */
typedef struct {
    int upgrade; /* "upgrade": Upgrade goes on, a 101 opens a tunnel */
    int connect; /* "connect": CONNECT opens a tunnel to the backend */
} proxy_header_opts;

typedef struct {
    lux_gw_settings gw; /* first: the shared handler reads it */
    int replace_http_host;
    proxy_header_opts header;
} proxy_conf;

static int conf_finish(lux_gen *gen, void *conf, char *err, size_t el) {
    return lux_gw_settings_finish(conf, "proxy.balance", err, el);
}

/* Settings that change what reaches the backend: refused rather than ignored until lux has
 * them. */
static int not_yet(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    snprintf(err, el, "not supported yet");
    return -1;
}

static int *header_flag(proxy_header_opts *o, const char *key) {
    if (key && !strcmp(key, "upgrade"))
        return &o->upgrade;
    if (key && (!strcmp(key, "connect") || !strcmp(key, "connect-method")))
        return &o->connect;
    return NULL;
}

/* proxy.header: "upgrade" and "connect" (lighttpd's name, also "connect-method"); its other
 * keys are refused until lux has them. An assignment sets the whole of it, as in lighttpd. */
static int parse_header(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    proxy_header_opts *o = dst;
    *o = (proxy_header_opts){0, 0};
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "expects an array of \"key\" => value");
        return -1;
    }
    for (size_t i = 0; i < v->u.arr.len; i++) {
        const lux_value *e = v->u.arr.items[i];
        int *flag = header_flag(o, e->key);
        if (!flag) {
            snprintf(err, el, "\"%s\" not supported yet", e->key ? e->key : "(no key)");
            return -1;
        }
        if (lux_parse_bool(e, flag) < 0) {
            snprintf(err, el, "\"%s\" expects \"enable\" or \"disable\"", e->key);
            return -1;
        }
    }
    return 0;
}

#define OFF(f) offsetof(proxy_conf, f)
static const lux_directive proxy_directives[] = {
    {"proxy.server", LUX_D_CUSTOM, OFF(gw.servers), LUX_SCOPE_ANY, lux_gw_servers_parse,
     sizeof(lux_gw_servers)},
    {"proxy.balance", LUX_D_STRING, OFF(gw.balance), LUX_SCOPE_ANY},
    {"proxy.debug", LUX_D_INT, OFF(gw.debug), LUX_SCOPE_ANY},
    {"proxy.replace-http-host", LUX_D_BOOL, OFF(replace_http_host), LUX_SCOPE_ANY},
    {"proxy.header", LUX_D_CUSTOM, OFF(header), LUX_SCOPE_ANY, parse_header,
     sizeof(proxy_header_opts)},
    {"proxy.forwarded", LUX_D_CUSTOM, 0, LUX_SCOPE_ANY, not_yet, 0},
    {NULL, 0, 0, 0},
};

/* ---- the request ----------------------------------------------------------------------------- */

enum { P_HEAD, P_LENGTH, P_CHUNKED, P_CLOSE, P_END };

typedef struct {
    int state;
    int keep;
    int no_body;      /* HEAD: whatever the head says, no body follows */
    int chunked_out;  /* the request body goes chunked */
    uint64_t left;    /* P_LENGTH */
    int chunked_done; /* P_CHUNKED: the last chunk came */
    int upgrade_sent; /* the request asked the backend to switch protocols */
    lux_chunked_decoder chunks;
    size_t head_len;
    char head[LUX_CGI_HEAD_MAX];
} proxy_state;

static int put(lux_ups_buf *out, const char *s, size_t len) {
    return lux_ups_buf_put(out, s, len);
}

static int put_str(lux_ups_buf *out, const char *s) {
    return put(out, s, strlen(s));
}

static int put_field(lux_ups_buf *out, const char *name, const char *v, size_t vlen) {
    return put_str(out, name) | put(out, ": ", 2) | put(out, v, vlen) | put(out, "\r\n", 2);
}

static int name_is(const lux_str *n, const char *s) {
    return n->len == strlen(s) && !strncasecmp(n->ptr, s, n->len);
}

/* Fields of the client's request that do not go on: hop-by-hop, and those lux sets itself. */
static int dropped(const lux_req *r, const lux_str *name) {
    static const char *const skip[] = {"Connection",       "Keep-Alive",
                                       "Proxy-Connection", "TE",
                                       "Trailer",          "Transfer-Encoding",
                                       "Upgrade",          "Host",
                                       "Content-Length",   "X-Forwarded-Proto",
                                       "X-Host",           "X-Forwarded-Host",
                                       "Expect",           "Proxy"};
    for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
        if (name_is(name, skip[i]))
            return 1;
    const lux_str *conn = lux_req_header(r, "Connection", 10);
    if (!conn)
        return 0;
    for (size_t i = 0; i + name->len <= conn->len; i++) /* a field Connection names */
        if (!strncasecmp(conn->ptr + i, name->ptr, name->len) &&
            (i == 0 || conn->ptr[i - 1] == ',' || conn->ptr[i - 1] == ' ') &&
            (i + name->len == conn->len || conn->ptr[i + name->len] == ',' ||
             conn->ptr[i + name->len] == ' '))
            return 1;
    return 0;
}

static int forwarded_fields(lux_req *r, lux_ups_buf *out) {
    const char *ip = lux_req_remote_ip(r);
    const lux_str *xff = lux_req_header(r, "X-Forwarded-For", 15);
    int rc = put_str(out, "X-Forwarded-For: ");
    if (xff)
        rc |= put(out, xff->ptr, xff->len) | put(out, ", ", 2);
    rc |= put_str(out, ip ? ip : "") | put(out, "\r\n", 2);
    rc |= put_field(out, "X-Forwarded-Proto", r->scheme.ptr, r->scheme.len);
    if (r->host.ptr)
        rc |= put_field(out, "X-Host", r->host.ptr, r->host.len) |
              put_field(out, "X-Forwarded-Host", r->host.ptr, r->host.len);
    return rc;
}

/* Does a Connection field name the token "upgrade"? */
static int names_upgrade(const lux_str *conn) {
    for (size_t i = 0; i + 7 <= conn->len; i++)
        if (!strncasecmp(conn->ptr + i, "upgrade", 7) &&
            (i == 0 || conn->ptr[i - 1] == ',' || conn->ptr[i - 1] == ' ') &&
            (i + 7 == conn->len || conn->ptr[i + 7] == ',' || conn->ptr[i + 7] == ' '))
            return 1;
    return 0;
}

/* With proxy.header "upgrade", a request that asks to switch protocols (Upgrade named in
 * Connection) asks the backend too; the rest of its Connection stays hop-by-hop. */
static int upgrade_fields(lux_req *r, const proxy_conf *c, proxy_state *st, lux_ups_buf *out) {
    const lux_str *up = lux_req_header(r, "Upgrade", 7);
    const lux_str *conn = lux_req_header(r, "Connection", 10);
    if (!c->header.upgrade || !up || !conn || r->version != 11 || !names_upgrade(conn))
        return 0;
    st->upgrade_sent = 1;
    return put_field(out, "Upgrade", up->ptr, up->len) | put_str(out, "Connection: upgrade\r\n");
}

static int proxy_begin(lux_gw *g, lux_req *r, lux_ups_buf *out) {
    proxy_state *st = lux_gw_state(g);
    const proxy_conf *c = lux_req_conf(r, &lux_mod_proxy);
    memset(st, 0, offsetof(proxy_state, head));
    lux_chunked_init(&st->chunks);
    st->no_body = r->method == LUX_M_HEAD;
    /* The URI after rewrites (as lighttpd sends it), not the one the client sent. */
    int rc = put(out, r->method_str.ptr, r->method_str.len) | put(out, " ", 1) |
             put(out, r->uri.ptr, r->uri.len) | put_str(out, " HTTP/1.1\r\n");
    const char *backend_host = lux_gw_backend(g)->host;
    if (c->replace_http_host && backend_host[0]) {
        rc |= put_field(out, "Host", backend_host, strlen(backend_host));
    } else if (r->host.ptr) {
        rc |= put_field(out, "Host", r->host.ptr, r->host.len);
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        const lux_header *h = &r->headers[i];
        if (!dropped(r, &h->name) && !name_is(&h->name, "X-Forwarded-For"))
            rc |= put(out, h->name.ptr, h->name.len) | put(out, ": ", 2) |
                  put(out, h->value.ptr, h->value.len) | put(out, "\r\n", 2);
    }
    rc |= forwarded_fields(r, out) | upgrade_fields(r, c, st, out);
    int64_t len = lux_body_length(r);
    if (len > 0 || (len == 0 && r->content_length >= 0)) {
        char n[24];
        snprintf(n, sizeof n, "%lld", (long long)len);
        rc |= put_field(out, "Content-Length", n, strlen(n));
    } else if (len < 0) {
        st->chunked_out = 1;
        rc |= put_str(out, "Transfer-Encoding: chunked\r\n");
    }
    return put(out, "\r\n", 2) | rc ? -1 : 0;
}

static int proxy_body(lux_gw *g, lux_ups_buf *out, const char *p, size_t len) {
    proxy_state *st = lux_gw_state(g);
    if (!st->chunked_out)
        return put(out, p, len);
    if (!len)
        return put(out, "0\r\n\r\n", 5);
    char n[24];
    int l = snprintf(n, sizeof n, "%zx\r\n", len);
    return put(out, n, (size_t)l) | put(out, p, len) | put(out, "\r\n", 2) ? -1 : 0;
}

/* ---- the response ---------------------------------------------------------------------------- */

typedef struct {
    char *dst; /* the head rewritten in place, as a CGI head */
    size_t len;
    int status; /* written first, once the status line has been read */
} rewrite;

/* "Status: NNN\n", 12 bytes: no longer than the shortest status line, "HTTP/1.1 200\n". */
static void put_status(rewrite *w) {
    if (w->len)
        return;
    char line[16];
    w->len = (size_t)snprintf(line, sizeof line, "Status: %d\n", w->status);
    memcpy(w->dst, line, w->len);
}

/* "name:value\n": never longer than the field it comes from, which lies at or after
 * dst + len, so the head is rewritten in place. */
static int keep_field(void *arg, const char *name, size_t nlen, const char *value, size_t vlen) {
    rewrite *w = arg;
    put_status(w);
    memmove(w->dst + w->len, name, nlen);
    w->len += nlen;
    w->dst[w->len++] = ':';
    memmove(w->dst + w->len, value, vlen);
    w->len += vlen;
    w->dst[w->len++] = '\n';
    return 0;
}

/* A 101 to an Upgrade: a CGI head with the protocol switched to (Upgrade, which the parser drops
 * as hop-by-hop), and every byte after it the tunnel's. */
static lux_gw_ev tunnel_head(proxy_state *st, const lux_http_resp *h, size_t end, const char **data,
                             size_t *dlen) {
    char upgrade[256]; /* the rewrite below may overwrite where the value was */
    size_t ulen = h->upgrade_len < sizeof upgrade ? h->upgrade_len : 0;
    memcpy(upgrade, h->upgrade, ulen);
    rewrite w = {st->head, 0, 101};
    lux_http_resp parsed_again;
    lux_http_resp_parse(st->head, end, &parsed_again, keep_field, &w);
    put_status(&w);
    if (ulen) { /* in the room of the field it comes from: "Upgrade:v\n" < "Upgrade: v\r\n" */
        memcpy(w.dst + w.len, "Upgrade:", 8);
        memcpy(w.dst + w.len + 8, upgrade, ulen);
        w.len += 8 + ulen;
        w.dst[w.len++] = '\n';
    }
    w.dst[w.len++] = '\n';
    st->state = P_CLOSE;
    st->keep = 0;
    *data = st->head;
    *dlen = w.len;
    return LUX_GW_DATA;
}

/* The head is complete: choose the framing, hand on a CGI head; LUX_GW_MORE for a 1xx. */
static lux_gw_ev head_done(proxy_state *st, size_t end, const char **data, size_t *dlen) {
    lux_http_resp h;
    if (lux_http_resp_parse(st->head, end, &h, NULL, NULL) < 0)
        return LUX_GW_ERROR;
    if (h.status == 101 && st->upgrade_sent) /* the tunnel's bytes follow the head */
        return tunnel_head(st, &h, end, data, dlen);
    if (h.status < 200) { /* interim (101 is not asked for): wait for the final one */
        st->head_len = 0;
        return LUX_GW_MORE;
    }
    rewrite w = {st->head, 0, h.status};
    lux_http_resp parsed_again;
    lux_http_resp_parse(st->head, end, &parsed_again, keep_field, &w);
    put_status(&w);
    w.dst[w.len++] = '\n';
    st->keep = h.keep_alive;
    if (st->no_body || h.status == 204 || h.status == 304 || h.content_length == 0) {
        st->state = P_END;
    } else if (h.chunked) {
        st->state = P_CHUNKED;
    } else if (h.content_length > 0) {
        st->state = P_LENGTH;
        st->left = (uint64_t)h.content_length;
    } else {
        st->state = P_CLOSE;
        st->keep = 0;
    }
    *data = st->head;
    *dlen = w.len;
    return LUX_GW_DATA;
}

/* Collect the head; interim (1xx) heads are read and dropped. */
static lux_gw_ev read_head(proxy_state *st, const char *buf, size_t len, size_t *used,
                           const char **data, size_t *dlen) {
    *used = 0;
    while (*used < len) {
        size_t room = sizeof st->head - st->head_len, n = len - *used < room ? len - *used : room;
        memcpy(st->head + st->head_len, buf + *used, n);
        st->head_len += n;
        long end = lux_cgi_head_end(st->head, st->head_len, sizeof st->head);
        if (end < 0)
            return LUX_GW_ERROR;
        if (end == 0) {
            *used += n;
            return LUX_GW_MORE;
        }
        *used += n - (st->head_len - (size_t)end); /* what follows the head is not the head's */
        st->head_len = (size_t)end;
        lux_gw_ev ev = head_done(st, (size_t)end, data, dlen);
        if (ev != LUX_GW_MORE)
            return ev;
    }
    return LUX_GW_MORE;
}

static lux_gw_ev proxy_input(lux_gw *g, char *buf, size_t len, size_t *used, const char **data,
                             size_t *dlen, int *keep) {
    proxy_state *st = lux_gw_state(g);
    *used = 0;
    switch (st->state) {
    case P_HEAD:
        return len ? read_head(st, buf, len, used, data, dlen) : LUX_GW_MORE;
    case P_LENGTH:
        if (!st->left)
            break;
        if (!len)
            return LUX_GW_MORE;
        *used = len < st->left ? len : (size_t)st->left;
        st->left -= *used;
        *data = buf;
        *dlen = *used;
        return LUX_GW_DATA;
    case P_CHUNKED: {
        if (st->chunked_done)
            break;
        if (!len)
            return LUX_GW_MORE;
        size_t n = len;
        ssize_t rc = lux_chunked_decode(&st->chunks, buf, &n);
        if (rc == -1)
            return LUX_GW_ERROR;
        *used = len;
        if (rc >= 0) {
            st->chunked_done = 1;
            st->keep &= rc == 0;
        }
        *data = buf;
        *dlen = n;
        return n ? LUX_GW_DATA : rc >= 0 ? (*keep = st->keep, LUX_GW_END) : LUX_GW_MORE;
    }
    case P_CLOSE:
        if (!len)
            return LUX_GW_MORE;
        *used = *dlen = len;
        *data = buf;
        return LUX_GW_DATA;
    default:
        break;
    }
    *keep = st->keep;
    return LUX_GW_END;
}

static int eof_ends(lux_gw *g) {
    proxy_state *st = lux_gw_state(g);
    return st->state == P_CLOSE;
}

static int tunnels(lux_gw *g, const lux_req *r) {
    const proxy_state *st = lux_gw_state(g);
    return st->upgrade_sent && r->status == 101;
}

static int tunnels_at_connect(lux_gw *g, const lux_req *r) {
    const proxy_conf *c = lux_req_conf((lux_req *)r, &lux_mod_proxy);
    return r->method == LUX_M_CONNECT && c->header.connect;
}

static const lux_gw_proto proxy_proto = {
    .name = "mod_proxy",
    .begin = proxy_begin,
    .body = proxy_body,
    .input = proxy_input,
    .eof_ends = eof_ends,
    .tunnels = tunnels,
    .tunnels_at_connect = tunnels_at_connect,
};

static lux_result proxy_handle(lux_req *r, const void *conf) {
    const proxy_conf *c = conf;
    return lux_gw_handle(r, &c->gw, &lux_mod_proxy, &proxy_proto, sizeof(proxy_state), 0);
}

const lux_module lux_mod_proxy = {
    .name = "mod_proxy",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = proxy_directives,
    .conf_size = sizeof(proxy_conf),
    .conf_finish = conf_finish,
    .handle = proxy_handle,
};
