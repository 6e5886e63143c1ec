/*
 * mod_proxy: pass requests on to HTTP backends (lighttpd's mod_proxy).
 *
 *   proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => 8080 ) ),
 *                    "/api" => ( "a" => ( "socket" => "/run/api.sock" ) ) )
 *   proxy.balance = "fair" | "round-robin" | "hash" | "sticky"
 *   proxy.replace-http-host = "enable"     Host: the backend's host instead of the client's
 *   proxy.header = ( "map-host-request" => ( "-" => "backend.example" ),
 *                    "map-host-response" => ( "-" => "-" ),
 *                    "map-urlpath" => ( "/prefix/" => "/" ),
 *                    "https-remap" => "enable", "force-http10" => "enable",
 *                    "upgrade" => "enable", "connect" => "enable" )
 *   proxy.forwarded = ( "for" => 1, "proto" => 1, "host" => 1, "by" => 1, "remote_user" => 1 )
 *
 * The request goes out as HTTP/1.1 on a connection kept open for the worker's next request to
 * that backend (lighttpd 1.4 closes each), with the hop-by-hop fields dropped and
 * X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and X-Host added (as lighttpd does), and
 * an RFC 7239 Forwarded field when proxy.forwarded asks for one; the body follows with its
 * Content-Length, or chunked while its length is not known yet. With force-http10 it goes as
 * HTTP/1.0 on a connection of its own, and a body of unknown length is refused (411). The
 * proxy.header maps (upstream/proxy_map.h) rewrite the URI, Host, Destination and
 * Content-Location on the way in and Location, Content-Location and Set-Cookie on the way back.
 * The response head is parsed (upstream/http_resp.h), its hop-by-hop fields dropped, and the
 * body, de-chunked or counted, streamed to the client with the backend's Content-Length when it
 * gave one (chunked or close-delimited otherwise: the server frames it).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/gen.h"
#include "http/body.h"
#include "http/h1/chunked.h"
#include "http/request.h"
#include "http/ws_frame.h"
#include "lux/log.h"
#include "lux/req.h"
#include "net/conn.h"
#include "upstream/gw_conf.h"
#include "upstream/http_resp.h"
#include "upstream/proxy_map.h"

extern const lux_module lux_mod_proxy;

/* proxy.header: one setting, so its parts lie together (a condition replaces them all). */
typedef struct {
    lux_proxy_maps maps;
    int https_remap;  /* http:// to https:// in mapped URIs when the client came over TLS */
    int force_http10; /* HTTP/1.0 to the backend, a connection per request */
    /* Tunnels: an Upgrade answered 101, and CONNECT, go on to the backend (gateway.h). */
    int upgrade;
    int connect;
} proxy_header;

/* proxy.forwarded: the parameters of the Forwarded field sent on. */
enum {
    FWD_FOR = 1,
    FWD_PROTO = 2,
    FWD_HOST = 4,
    FWD_BY = 8,
    FWD_REMOTE_USER = 16,
};

typedef struct {
    lux_gw_settings gw; /* first: the shared handler reads it */
    int replace_http_host;
    unsigned forwarded;
    proxy_header header;
} proxy_conf;

static int conf_finish(lux_gen *gen, void *conf, char *err, size_t el) {
    return lux_gw_settings_finish(conf, "proxy.balance", err, el);
}

static int key_is(const lux_value *e, const char *key) {
    return e->key_len == strlen(key) && !memcmp(e->key, key, e->key_len);
}

/* "enable"/"disable" (or 1/0) for a switch of proxy.header. */
static int header_switch(const lux_value *e, int *dst, char *err, size_t el) {
    if (lux_parse_bool(e, dst) == 0)
        return 0;
    snprintf(err, el, "expected \"%s\" => \"enable\" or \"disable\"", e->key);
    return -1;
}

static int header_map(lux_gen *gen, const lux_value *e, const lux_keyval **items, size_t *n,
                      char *err, size_t el) {
    char usage[128];
    snprintf(usage, sizeof usage, "expected \"%s\" => ( \"from\" => \"to\", ... )", e->key);
    *items = lux_conf_keyvals(gen, e, n, usage, err, el);
    return *items ? 0 : -1;
}

static int parse_header(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    proxy_header *h = dst;
    memset(h, 0, sizeof *h);
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "expected ( \"param\" => ... )");
        return -1;
    }
    for (size_t i = 0; i < v->u.arr.len; i++) {
        const lux_value *e = v->u.arr.items[i];
        lux_proxy_maps *m = &h->maps;
        int rc;
        if (!e->key) {
            snprintf(err, el, "expected ( \"param\" => ... ), not a value without a key");
            return -1;
        } else if (key_is(e, "map-host-request")) {
            rc = header_map(gen, e, &m->hosts_request, &m->nhosts_request, err, el);
        } else if (key_is(e, "map-host-response")) {
            rc = header_map(gen, e, &m->hosts_response, &m->nhosts_response, err, el);
        } else if (key_is(e, "map-urlpath")) {
            rc = header_map(gen, e, &m->urlpaths, &m->nurlpaths, err, el);
        } else if (key_is(e, "https-remap")) {
            rc = header_switch(e, &h->https_remap, err, el);
        } else if (key_is(e, "force-http10")) {
            rc = header_switch(e, &h->force_http10, err, el);
        } else if (key_is(e, "upgrade")) {
            rc = header_switch(e, &h->upgrade, err, el);
        } else if (key_is(e, "connect")) {
            rc = header_switch(e, &h->connect, err, el);
        } else {
            snprintf(err, el,
                     "unknown key \"%s\" (map-host-request, map-host-response, map-urlpath, "
                     "https-remap, force-http10, upgrade, connect)",
                     e->key);
            return -1;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int parse_forwarded(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    static const char *const names[] = {"for", "proto", "host", "by", "remote_user"};
    unsigned *flags = dst;
    *flags = 0;
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "expected ( \"param\" => 1, ... )");
        return -1;
    }
    for (size_t i = 0; i < v->u.arr.len; i++) {
        const lux_value *e = v->u.arr.items[i];
        size_t k = 0;
        while (k < sizeof names / sizeof *names && !(e->key && key_is(e, names[k])))
            k++;
        if (k == sizeof names / sizeof *names) {
            snprintf(err, el, "keys must be one of for, proto, host, by, remote_user, not \"%s\"",
                     e->key ? e->key : "");
            return -1;
        }
        int on;
        if (e->type == LUX_V_INT)
            on = e->u.num != 0;
        else if (lux_parse_bool(e, &on) < 0) {
            snprintf(err, el, "\"%s\": expected 1, 0, \"enable\" or \"disable\"", e->key);
            return -1;
        }
        *flags |= on ? 1u << k : 0;
    }
    return 0;
}

#define OFF(f) offsetof(proxy_conf, f)
static const lux_directive proxy_directives[] = {
    {"proxy.server", LUX_D_CUSTOM, OFF(gw.servers), LUX_SCOPE_ANY, lux_gw_proxy_servers_parse,
     sizeof(lux_gw_servers)},
    {"proxy.balance", LUX_D_STRING, OFF(gw.balance), LUX_SCOPE_ANY},
    {"proxy.debug", LUX_D_INT, OFF(gw.debug), LUX_SCOPE_ANY},
    {"proxy.replace-http-host", LUX_D_BOOL, OFF(replace_http_host), LUX_SCOPE_ANY},
    {"proxy.header", LUX_D_CUSTOM, OFF(header), LUX_SCOPE_ANY, parse_header, sizeof(proxy_header)},
    {"proxy.forwarded", LUX_D_CUSTOM, OFF(forwarded), LUX_SCOPE_ANY, parse_forwarded,
     sizeof(unsigned)},
    {NULL, 0, 0, 0},
};

/* ---- the request ----------------------------------------------------------------------------- */

enum { P_HEAD, P_LENGTH, P_CHUNKED, P_CLOSE, P_END };

/* Fields of a response head kept in the state; a head with more takes room from the pool. */
#define HEAD_FIELDS 32

typedef struct {
    lux_req *r; /* while the gateway calls the protocol, the request is there */
    int state;
    int keep;
    int no_body;                   /* HEAD: whatever the head says, no body follows */
    int chunked_out;               /* the request body goes chunked */
    uint64_t left;                 /* P_LENGTH */
    int chunked_done;              /* P_CHUNKED: the last chunk came */
    int map_request, map_response; /* proxy.header maps apply that way */
    int force_http10;
    int upgrade_sent; /* the request asked the backend to switch protocols */
    /* An HTTP/2 WebSocket (RFC 8441): the key the backend's handshake answers, which lux checks
     * in the client's stead (it expects no accept); empty otherwise. */
    char ws_key[LUX_WS_KEY_LEN + 1];
    lux_proxy_remap remap; /* what the request was mapped with, to map the response back */
    lux_chunked_decoder chunks;
    lux_gw_head parsed;   /* the final head, as the gateway takes it (parsed_head) */
    lux_gw_field *fields; /* the head's fields: first_fields, or room from the pool */
    size_t nfields, fields_cap;
    lux_str ws_accept; /* the backend's Sec-WebSocket-Accept, which lux checks */
    size_t head_len;
    char head[LUX_CGI_HEAD_MAX];
    lux_gw_field first_fields[HEAD_FIELDS]; /* set before they are read: not cleared */
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

/* A URI of the request (its target, Destination, Content-Location) mapped toward the backend. */
static int put_mapped_uri(proxy_state *st, lux_ups_buf *out, const char *v, size_t len) {
    if (!st->map_request)
        return put(out, v, len);
    size_t need = lux_proxy_map_uri(&st->remap, 1, v, len, NULL, 0);
    char *dst = lux_ups_buf_reserve(out, need);
    if (!dst)
        return -1;
    lux_proxy_map_uri(&st->remap, 1, v, len, dst, need);
    out->len += need;
    return 0;
}

/* Fields of the client's request that do not go on: hop-by-hop, and those lux sets itself. */
static int dropped(const lux_req *r, const lux_str *name) {
    static const char *const skip[] = {"Connection",       "Keep-Alive",
                                       "Proxy-Connection", "TE",
                                       "Trailer",          "Transfer-Encoding",
                                       "Upgrade",          "Host",
                                       "Content-Length",   "X-Forwarded-Proto",
                                       "X-Host",           "X-Forwarded-Host",
                                       "Expect",           "Proxy",
                                       "X-Forwarded-For"};
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

/* ---- Forwarded (RFC 7239) ---- */

/* A quoted-string: '"' and '\' (and controls, which a field cannot hold anyway) escaped. */
static int put_quoted(lux_ups_buf *out, const char *s, size_t len) {
    int rc = put(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c == 0x7f || (c < 0x20 && c != '\t'))
            rc |= put(out, "\\", 1);
        rc |= put(out, s + i, 1);
    }
    return rc | put(out, "\"", 1);
}

/* A node: an IPv6 address goes in brackets, and then (like anything with a ':') quoted. */
static int put_node(lux_ups_buf *out, const char *s, size_t len) {
    if (!memchr(s, ':', len))
        return put_quoted(out, s, len);
    char buf[INET6_ADDRSTRLEN + 2];
    if (len > INET6_ADDRSTRLEN)
        return put_quoted(out, s, len);
    int n = snprintf(buf, sizeof buf, "[%.*s]", (int)len, s);
    return put_quoted(out, buf, (size_t)n);
}

/* A Forwarded built from X-Forwarded-For when none came: "for=..., " per address (lighttpd
 * quotes them all, as it does not check that they are addresses). */
static int put_xff_as_forwarded(const lux_req *r, lux_ups_buf *out) {
    const lux_str *xff = lux_req_header(r, "X-Forwarded-For", 15);
    int rc = 0;
    for (size_t i = 0; xff && i < xff->len;) {
        while (i < xff->len && strchr(" \t,", xff->ptr[i]))
            i++;
        size_t start = i;
        while (i < xff->len && !strchr(" \t,", xff->ptr[i]))
            i++;
        if (i > start)
            rc |= put_str(out, "for=") | put_node(out, xff->ptr + start, i - start) |
                  put(out, ", ", 2);
    }
    return rc;
}

/* Any Forwarded fields the client sent, as one list, then ", " for lux's element. */
static int put_incoming_forwarded(const lux_req *r, lux_ups_buf *out) {
    int rc = 0, any = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        const lux_header *h = &r->headers[i];
        if (!name_is(&h->name, "Forwarded"))
            continue;
        rc |= (any ? put(out, ", ", 2) : 0) | put(out, h->value.ptr, h->value.len);
        any = 1;
    }
    if (!any)
        return put_xff_as_forwarded(r, out);
    return rc | put(out, ", ", 2);
}

/* for=: an IPv4 address as a token, an IPv6 one bracketed and quoted. */
static int put_for(lux_req *r, lux_ups_buf *out) {
    const struct sockaddr *sa = lux_req_remote_addr(r);
    const char *ip = lux_req_remote_ip(r);
    if (!sa || !ip)
        return put_str(out, "for=unknown");
    int rc = put_str(out, "for=");
    if (sa->sa_family == AF_INET)
        return rc | put_str(out, ip);
    return rc | put_node(out, ip, strlen(ip));
}

/* by=: the address and port the request came in on, quoted (the socket's path for a unix
 * socket). */
static int put_by(lux_req *r, lux_ups_buf *out) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ip[INET6_ADDRSTRLEN], node[INET6_ADDRSTRLEN + 16];
    int rc = put_str(out, "by=");
    if (!r->conn || getsockname(r->conn->io.fd, (struct sockaddr *)&ss, &sl) < 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
        const char *name = lux_req_local_name(r);
        if (name && !strncmp(name, "unix:", 5))
            name += 5;
        return rc | put_quoted(out, name ? name : "unknown", name ? strlen(name) : 7);
    }
    int n;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        n = snprintf(node, sizeof node, "%s:%u", ip, ntohs(in->sin_port));
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        n = snprintf(node, sizeof node, "[%s]:%u", ip, ntohs(in6->sin6_port));
    }
    return rc | put_quoted(out, node, (size_t)n);
}

/* The Forwarded field: what came (or what X-Forwarded-For said), then this hop's element with
 * the parameters asked for, in lighttpd's order. */
static int forwarded_field(lux_req *r, unsigned flags, lux_ups_buf *out) {
    int rc = put_str(out, "Forwarded: ") | put_incoming_forwarded(r, out);
    const char *sep = "";
    if (flags & FWD_FOR) {
        rc |= put_for(r, out);
        sep = ";";
    }
    if (flags & FWD_BY) {
        rc |= put_str(out, sep) | put_by(r, out);
        sep = ";";
    }
    if (flags & FWD_PROTO) {
        rc |= put_str(out, sep) | put_str(out, "proto=") | put(out, r->scheme.ptr, r->scheme.len);
        sep = ";";
    }
    if ((flags & FWD_HOST) && r->host.ptr && r->host.len) {
        rc |= put_str(out, sep) | put_str(out, "host=") | put_quoted(out, r->host.ptr, r->host.len);
        sep = ";";
    }
    lux_str user = flags & FWD_REMOTE_USER ? lux_req_remote_user(r) : (lux_str){NULL, 0};
    if (user.ptr)
        rc |=
            put_str(out, sep) | put_str(out, "remote_user=") | put_quoted(out, user.ptr, user.len);
    return rc | put(out, "\r\n", 2);
}

static int forwarded_fields(lux_req *r, unsigned flags, lux_ups_buf *out) {
    const char *ip = lux_req_remote_ip(r);
    const lux_str *xff = lux_req_header(r, "X-Forwarded-For", 15);
    int rc = flags ? forwarded_field(r, flags, out) : 0;
    rc |= put_str(out, "X-Forwarded-For: ");
    if (xff)
        rc |= put(out, xff->ptr, xff->len) | put(out, ", ", 2);
    rc |= put_str(out, ip ? ip : "") | put(out, "\r\n", 2);
    rc |= put_field(out, "X-Forwarded-Proto", r->scheme.ptr, r->scheme.len);
    if (r->host.ptr)
        rc |= put_field(out, "X-Host", r->host.ptr, r->host.len) |
              put_field(out, "X-Forwarded-Host", r->host.ptr, r->host.len);
    return rc;
}

/* ---- the head ---- */

static int put_host(proxy_state *st, const proxy_conf *c, lux_gw *g, lux_ups_buf *out) {
    lux_req *r = st->r;
    const char *backend_host = lux_gw_backend(g)->host;
    if (c->replace_http_host && backend_host[0])
        return put_field(out, "Host", backend_host, strlen(backend_host));
    if (!r->host.ptr)
        return 0;
    const lux_str *mapped =
        st->map_request ? lux_proxy_map_host(&st->remap, 1, r->host.ptr, r->host.len) : NULL;
    const lux_str *host = mapped ? mapped : &r->host;
    return put_field(out, "Host", host->ptr, host->len);
}

/* The client's fields that go on; Destination and Content-Location with their URIs mapped. */
static int put_client_fields(proxy_state *st, const proxy_conf *c, lux_ups_buf *out) {
    const lux_req *r = st->r;
    int rc = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        const lux_header *h = &r->headers[i];
        if (dropped(r, &h->name) || (c->forwarded && name_is(&h->name, "Forwarded")))
            continue;
        rc |= put(out, h->name.ptr, h->name.len) | put(out, ": ", 2);
        if (name_is(&h->name, "Destination") || name_is(&h->name, "Content-Location"))
            rc |= put_mapped_uri(st, out, h->value.ptr, h->value.len);
        else
            rc |= put(out, h->value.ptr, h->value.len);
        rc |= put(out, "\r\n", 2);
    }
    return rc;
}

/* The body's framing: its length, or chunked while it is not known (never for HTTP/1.0,
 * which the handler refused). */
static int put_body_framing(proxy_state *st, lux_ups_buf *out) {
    int64_t len = lux_body_length(st->r);
    if (len > 0 || (len == 0 && st->r->content_length >= 0)) {
        char n[24];
        snprintf(n, sizeof n, "%lld", (long long)len);
        return put_field(out, "Content-Length", n, strlen(n));
    }
    if (len < 0) {
        st->chunked_out = 1;
        return put_str(out, "Transfer-Encoding: chunked\r\n");
    }
    return 0;
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

/*
 * An HTTP/2 WebSocket goes to the backend as the HTTP/1.1 handshake it stands for (RFC 8441
 * carries no key): the client's key if it sent one, else a new one, and version 13 unless the
 * client named one. The backend's accept is checked against the key (head_done).
 */
static int websocket_key_fields(lux_req *r, proxy_state *st, lux_ups_buf *out) {
    const lux_str *key = lux_req_header(r, "Sec-WebSocket-Key", 17);
    int rc = 0;
    if (key && key->len == LUX_WS_KEY_LEN) {
        memcpy(st->ws_key, key->ptr, LUX_WS_KEY_LEN);
    } else if (key || lux_ws_new_key(st->ws_key) < 0) {
        return -1;
    } else {
        rc |= put_field(out, "Sec-WebSocket-Key", st->ws_key, LUX_WS_KEY_LEN);
    }
    st->ws_key[LUX_WS_KEY_LEN] = '\0';
    if (!lux_req_header(r, "Sec-WebSocket-Version", 21))
        rc |= put_str(out, "Sec-WebSocket-Version: 13\r\n");
    return rc;
}

/* With proxy.header "upgrade", a request that asks to switch protocols (Upgrade named in
 * Connection) asks the backend too; the rest of its Connection stays hop-by-hop. Over HTTP/2
 * only a WebSocket request (RFC 8441) carries Upgrade: the stream core adds it. */
static int upgrade_fields(lux_req *r, const proxy_conf *c, proxy_state *st, lux_ups_buf *out) {
    const lux_str *up = lux_req_header(r, "Upgrade", 7);
    const lux_str *conn = lux_req_header(r, "Connection", 10);
    if (!c->header.upgrade || st->force_http10 || !up || !conn ||
        (r->version != 11 && r->version != 20) || !names_upgrade(conn))
        return 0;
    st->upgrade_sent = 1;
    int rc = r->version == 20 ? websocket_key_fields(r, st, out) : 0;
    return rc | put_field(out, "Upgrade", up->ptr, up->len) |
           put_str(out, "Connection: upgrade\r\n");
}

static int proxy_begin(lux_gw *g, lux_req *r, lux_ups_buf *out) {
    proxy_state *st = lux_gw_state(g);
    const proxy_conf *c = lux_req_conf(r, &lux_mod_proxy);
    const lux_proxy_maps *maps = &c->header.maps;
    memset(st, 0, offsetof(proxy_state, head));
    st->r = r;
    lux_chunked_init(&st->chunks);
    st->no_body = r->method == LUX_M_HEAD;
    st->force_http10 = c->header.force_http10;
    /* As lighttpd: the request is mapped when a request map or a path map is configured, the
     * response when a response map or a path map is. */
    st->map_request = maps->urlpaths || maps->hosts_request;
    st->map_response = maps->urlpaths || maps->hosts_response;
    lux_proxy_remap_init(&st->remap, maps, r->host,
                         c->header.https_remap && name_is(&r->scheme, "https"));
    /* The URI after rewrites (as lighttpd sends it), not the one the client sent. */
    int rc = put(out, r->method_str.ptr, r->method_str.len) | put(out, " ", 1) |
             put_mapped_uri(st, out, r->uri.ptr, r->uri.len) |
             put_str(out, st->force_http10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    rc |= put_host(st, c, g, out) | put_client_fields(st, c, out) |
          forwarded_fields(r, c->forwarded, out) | upgrade_fields(r, c, st, out) |
          put_body_framing(st, out);
    if (st->force_http10)
        rc |= put_str(out, "Connection: close\r\n");
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

/* One more field for the client's head; 0 or -1 (out of memory). */
static int add_field(proxy_state *st, const char *name, size_t nlen, const char *v, size_t vlen) {
    if (st->nfields == st->fields_cap) {
        lux_gw_field *more = lux_req_alloc(st->r, 2 * st->fields_cap * sizeof *more);
        if (!more)
            return -1;
        memcpy(more, st->fields, st->nfields * sizeof *more);
        st->fields = more;
        st->fields_cap *= 2;
    }
    st->fields[st->nfields++] = (lux_gw_field){name, v, nlen, vlen};
    return 0;
}

/* A field's value mapped toward the client (a URI, or a Set-Cookie value), in the pool. */
static const char *mapped_value(proxy_state *st, int cookie, const char *v, size_t vlen,
                                size_t *len) {
    size_t n = cookie ? lux_proxy_map_set_cookie(&st->remap, v, vlen, NULL, 0)
                      : lux_proxy_map_uri(&st->remap, 0, v, vlen, NULL, 0);
    char *out = lux_req_alloc(st->r, n ? n : 1);
    if (!out)
        return NULL;
    *len = cookie ? lux_proxy_map_set_cookie(&st->remap, v, vlen, out, n)
                  : lux_proxy_map_uri(&st->remap, 0, v, vlen, out, n);
    return out;
}

/* An end-to-end field of the backend's head (lux_cgi_field_fn): on to the client, mapped where
 * proxy.header says so; 0 or -1. */
static int keep_field(void *arg, const char *name, size_t nlen, const char *value, size_t vlen) {
    proxy_state *st = arg;
    lux_str n = {name, nlen};
    if (st->ws_key[0] && name_is(&n, "Sec-WebSocket-Accept")) {
        st->ws_accept = (lux_str){value, vlen}; /* checked by lux; an HTTP/2 client expects none */
        return 0;
    }
    int cookie = name_is(&n, "Set-Cookie");
    if (st->map_response &&
        (cookie || name_is(&n, "Location") || name_is(&n, "Content-Location"))) {
        if (!(value = mapped_value(st, cookie, value, vlen, &vlen)))
            return -1;
    }
    return add_field(st, name, nlen, value, vlen);
}

/* The backend's length goes on to the client (no chunking) wherever a body has one: HEAD
 * included, whose answer states the length a GET would have. 204 and 304 have none. */
static void declare_length(proxy_state *st, const lux_http_resp *h) {
    if (h->status != 204 && h->status != 304 && !h->chunked && h->content_length >= 0)
        lux_resp_content_length(st->r, (uint64_t)h->content_length);
}

/* Did the backend answer the handshake lux opened for an HTTP/2 WebSocket (RFC 6455 4.1)? */
static int backend_accepted(const proxy_state *st) {
    char want[LUX_WS_ACCEPT_LEN + 1];
    if (lux_ws_accept(st->ws_key, LUX_WS_KEY_LEN, want) < 0)
        return 0;
    return st->ws_accept.len == LUX_WS_ACCEPT_LEN &&
           !memcmp(st->ws_accept.ptr, want, LUX_WS_ACCEPT_LEN);
}

/* The head is complete: choose the framing and hand the head on parsed (LUX_GW_HEAD), with
 * its fields where they lie in st->head or mapped in the pool; LUX_GW_MORE for a 1xx. */
static lux_gw_ev head_done(proxy_state *st, size_t end) {
    lux_http_resp h;
    st->fields = st->first_fields;
    st->nfields = 0;
    st->fields_cap = HEAD_FIELDS;
    st->ws_accept = (lux_str){NULL, 0};
    if (lux_http_resp_parse(st->head, end, &h, keep_field, st) < 0)
        return LUX_GW_ERROR;
    int switching = h.status == 101 && st->upgrade_sent; /* the tunnel's bytes follow */
    if (h.status < 200 && !switching) {                  /* interim: wait for the final one */
        st->head_len = 0;
        return LUX_GW_MORE;
    }
    if (switching && st->ws_key[0] && !backend_accepted(st)) {
        lux_log(LUX_LOG_ERR,
                "(mod_proxy) %s: the backend's Sec-WebSocket-Accept does not answer "
                "the key",
                st->r->uri.ptr);
        return LUX_GW_ERROR;
    }
    /* a 101 keeps the protocol it switches to, which the parser drops as hop-by-hop */
    if (h.status == 101 && h.upgrade_len && add_field(st, "Upgrade", 7, h.upgrade, h.upgrade_len))
        return LUX_GW_ERROR;
    /* the gateway checks no length: the body is counted here (P_LENGTH) */
    st->parsed = (lux_gw_head){h.status, -1, st->fields, st->nfields};
    st->keep = h.keep_alive && !st->force_http10;
    if (switching) {
        st->state = P_CLOSE;
        st->keep = 0;
        return LUX_GW_HEAD;
    }
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
    declare_length(st, &h);
    return LUX_GW_HEAD;
}

/* Collect the head; interim (1xx) heads are read and dropped. */
static lux_gw_ev read_head(proxy_state *st, const char *buf, size_t len, size_t *used) {
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
        lux_gw_ev ev = head_done(st, (size_t)end);
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
        return len ? read_head(st, buf, len, used) : LUX_GW_MORE;
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

static const lux_gw_head *parsed_head(lux_gw *g) {
    const proxy_state *st = lux_gw_state(g);
    return &st->parsed;
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
    .parsed_head = parsed_head,
    .eof_ends = eof_ends,
    .tunnels = tunnels,
    .tunnels_at_connect = tunnels_at_connect,
    .state_zero = offsetof(proxy_state, head), /* proxy_begin clears the rest it reads */
};

static lux_result proxy_handle(lux_req *r, const void *conf) {
    const proxy_conf *c = conf;
    /* HTTP/1.0 has no chunked request body: one whose length is still unknown (a chunked body
     * streamed on, server.stream-request-body) cannot go to the backend. lighttpd says 411. */
    if (c->header.force_http10 && lux_body_length(r) < 0 && lux_gw_match(&c->gw, &r->path))
        return lux_resp_error(r, 411);
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
