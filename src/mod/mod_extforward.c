/*
 * mod_extforward: behind a reverse proxy, the client is the address the proxy names, not the
 * proxy. When the connection comes from a trusted proxy (extforward.forwarder), the first of
 * extforward.headers the request has names the client: in X-Forwarded-For (or any header in
 * that form) the rightmost address that is not itself a trusted proxy wins, as in lighttpd;
 * in Forwarded (RFC 7239) the rightmost for= that is not trusted, with its proto= (and host=
 * with extforward.params = ( "host" => "enable" ), and the remote_user= of the proxy nearest
 * to lux from there on with "remote_user" => "enable"). The new address is what $HTTP["remoteip"],
 * the access log and later modules see; X-Forwarded-Proto (or proto=) "http" or "https" sets
 * the scheme. A Forwarded header that cannot be read safely is answered with 400.
 *
 * The HAProxy PROXY protocol (extforward.hap-PROXY, globally or per $SERVER["socket"]) is read
 * by the connection before TLS and HTTP (src/net/conn.c); this module only tells it which
 * listeners and peers use it: lux_extforward_proxy_expected. What a v2 header says of the
 * client's TLS (kept by the connection) reaches requests through lux_req_tls_env and
 * lux_req_remote_user, which ask lux_extforward_tls_env and lux_extforward_verified_user:
 * with extforward.hap-PROXY-ssl-client-verify, the proxy's verdict on the client's certificate
 * is passed on as mod_openssl passes on its own. Both users a proxy may name reach
 * lux_req_remote_user through lux_extforward_remote_user.
 */
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
#include "lux/req.h"
#include "mod/extforward_parse.h"
#include "net/conn.h"
#include "net/proxy_protocol.h"

/* An entry of extforward.forwarder. */
typedef struct {
    xf_net net;
    int trust; /* "trust": 1; "untrusted": 0, which beats any network holding it */
} forwarder;

typedef struct {
    int all; /* "all" => "trust": 1, "all" => "untrusted": -1, absent: 0 */
    size_t n;
    forwarder *items;
} forwarder_table;

typedef struct {
    const forwarder_table *forwarders;
    const lux_strlist *headers;
    unsigned params; /* extforward.params: PARAM_* */
    int hap_proxy;   /* extforward.hap-PROXY */
    int hap_verify;  /* extforward.hap-PROXY-ssl-client-verify */
} extforward_conf;

extern const lux_module lux_mod_extforward;

/* The parameters of a Forwarded header that extforward.params enables. */
enum { PARAM_HOST = 1, PARAM_REMOTE_USER = 2 };

/* A request's slot (lux_req_mod_data): NULL until uri_raw saw the request, then the user a
 * trusted proxy named in Forwarded remote_user=, or &seen when it named none. */
static char seen;

static int parse_trust(const lux_str *v, int *trust, char *err, size_t el) {
    if (strcasecmp(v->ptr, "trust") == 0)
        *trust = 1;
    else if (strcasecmp(v->ptr, "untrusted") == 0)
        *trust = 0;
    else {
        snprintf(err, el, "extforward.forwarder: \"%s\" is neither \"trust\" nor \"untrusted\"",
                 v->ptr);
        return -1;
    }
    return 0;
}

static int parse_forwarders(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    static const char usage[] = "expected a list like ( \"10.0.0.1\" => \"trust\", "
                                "\"192.168.0.0/16\" => \"trust\" )";
    size_t n = 0;
    const lux_keyval *kv = lux_conf_keyvals(gen, v, &n, usage, err, el);
    if (!kv)
        return -1;
    forwarder_table *t = lux_pool_alloc(&gen->pool, sizeof *t);
    if (t)
        t->items = lux_pool_alloc(&gen->pool, (n ? n : 1) * sizeof *t->items);
    if (!t || !t->items) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    t->all = 0;
    t->n = 0;
    for (size_t i = 0; i < n; i++) {
        int trust;
        if (parse_trust(&kv[i].value, &trust, err, el) < 0)
            return -1;
        if (strcasecmp(kv[i].key.ptr, "all") == 0) {
            t->all = trust ? 1 : -1;
            continue;
        }
        forwarder *f = &t->items[t->n++];
        f->trust = trust;
        if (xf_parse_net(kv[i].key.ptr, kv[i].key.len, &f->net) < 0) {
            snprintf(err, el, "extforward.forwarder: \"%s\" is not an address or network",
                     kv[i].key.ptr);
            return -1;
        }
    }
    *(const forwarder_table **)dst = t;
    return 0;
}

static int enabled(const lux_value *v, int *on) {
    if (v->type == LUX_V_INT) {
        *on = v->u.num != 0;
        return 0;
    }
    if (v->type != LUX_V_STRING)
        return -1;
    if (strcmp(v->u.str.ptr, "enable") == 0 || strcmp(v->u.str.ptr, "1") == 0)
        *on = 1;
    else if (strcmp(v->u.str.ptr, "disable") == 0 || strcmp(v->u.str.ptr, "0") == 0)
        *on = 0;
    else
        return -1;
    return 0;
}

static int parse_params(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    static const char usage[] = "extforward.params: expected ( \"host\" => \"enable\", "
                                "\"remote_user\" => \"enable\" )";
    unsigned params = 0;
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "%s", usage);
        return -1;
    }
    for (size_t i = 0; i < v->u.arr.len; i++) {
        const lux_value *e = v->u.arr.items[i];
        int on;
        if (!e->key || enabled(e, &on) < 0) {
            snprintf(err, el, "%s", usage);
            return -1;
        }
        unsigned bit;
        if (strcmp(e->key, "host") == 0) {
            bit = PARAM_HOST;
        } else if (strcmp(e->key, "remote_user") == 0) {
            bit = PARAM_REMOTE_USER;
        } else {
            snprintf(err, el, "extforward.params keys must be one of: host, remote_user");
            return -1;
        }
        params = on ? params | bit : params & ~bit;
    }
    *(unsigned *)dst = params;
    return 0;
}

static int parse_hap_proxy(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    if (enabled(v, (int *)dst) < 0) {
        snprintf(err, el, "extforward.hap-PROXY: expected \"enable\" or \"disable\"");
        return -1;
    }
    return 0;
}

static int parse_hap_verify(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    if (enabled(v, (int *)dst) < 0) {
        snprintf(err, el,
                 "extforward.hap-PROXY-ssl-client-verify: expected \"enable\" or \"disable\"");
        return -1;
    }
    return 0;
}

#define OFF(f) offsetof(extforward_conf, f)
static const lux_directive extforward_directives[] = {
    {"extforward.forwarder", LUX_D_CUSTOM, OFF(forwarders), LUX_SCOPE_ANY, parse_forwarders,
     sizeof(const forwarder_table *)},
    {"extforward.headers", LUX_D_STRLIST, OFF(headers), LUX_SCOPE_ANY},
    {"extforward.params", LUX_D_CUSTOM, OFF(params), LUX_SCOPE_ANY, parse_params, sizeof(unsigned)},
    {"extforward.hap-PROXY", LUX_D_CUSTOM, OFF(hap_proxy), LUX_SCOPE_GLOBAL | LUX_SCOPE_SOCKET,
     parse_hap_proxy, sizeof(int)},
    {"extforward.hap-PROXY-ssl-client-verify", LUX_D_CUSTOM, OFF(hap_verify), LUX_SCOPE_ANY,
     parse_hap_verify, sizeof(int)},
    {NULL, 0, 0, 0},
};
#undef OFF

/* Is a (a parsed address) a trusted proxy? An exact entry decides; else any trusted network. */
static int trusted(const forwarder_table *t, const xf_net *a) {
    int in_network = 0;
    for (size_t i = 0; i < t->n; i++) {
        const forwarder *f = &t->items[i];
        if (f->net.bits == (f->net.family == AF_INET ? 32 : 128) && xf_net_contains(&f->net, a))
            return f->trust;
        if (f->trust && xf_net_contains(&f->net, a))
            in_network = 1;
    }
    return in_network;
}

/* Does the connection come from a trusted proxy? "all" decides for every peer. */
static int peer_trusted(lux_req *r, const forwarder_table *t) {
    if (t->all)
        return t->all > 0;
    const char *ip = lux_req_remote_ip(r);
    xf_net a;
    return ip && xf_parse_addr(ip, strlen(ip), &a) == 0 && trusted(t, &a);
}

/* A socket peer as a forwarder table sees it; unix peers only match "all". */
static int sockaddr_trusted(const forwarder_table *t, const struct sockaddr *sa) {
    if (t->all)
        return t->all > 0;
    char ip[INET6_ADDRSTRLEN];
    const void *bytes = sa->sa_family == AF_INET
                            ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                            : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    xf_net a;
    if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
        !inet_ntop(sa->sa_family, bytes, ip, sizeof ip))
        return 0;
    return xf_parse_addr(ip, strlen(ip), &a) == 0 && trusted(t, &a);
}

/* As lighttpd: a connection from a peer that is not a trusted forwarder is served as usual,
 * without a PROXY header. */
int lux_extforward_proxy_expected(const lux_gen *g, const char *listener,
                                  const struct sockaddr *peer) {
    int m = lux_gen_module_index(g, &lux_mod_extforward);
    if (m < 0)
        return 0;
    extforward_conf c;
    lux_gen_listener_conf(g, (unsigned)m, listener, &c, sizeof c);
    return c.hap_proxy && c.forwarders && sockaddr_trusted(c.forwarders, peer);
}

/* The request's settings, or NULL without mod_extforward. */
static const extforward_conf *conf_of(const lux_req *r) {
    int m = r->gen ? lux_gen_module_index(r->gen, &lux_mod_extforward) : -1;
    return m < 0 || !r->confs ? NULL : r->confs[m];
}

/* Does r pass the proxy's verdict on the client's certificate on? */
static int verdict_asked(const lux_req *r) {
    const extforward_conf *c = conf_of(r);
    return c && c->hap_verify;
}

/* A certificate counts, as in lighttpd, when the proxy verified it and it names a CN; only on
 * a connection without TLS of its own. */
static const char *verified_cn(const lux_req *r) {
    const lux_pp_tls *t = r->conn && !r->conn->tls.ssl ? r->conn->proxied_tls : NULL;
    const char *cn = t && t->cert_verified ? t->facts[LUX_PP_SSL_CN] : NULL;
    return cn && cn[0] && verdict_asked(r) ? cn : NULL;
}

/* The remote_user= that uri_raw kept for r, or NULL. */
static const char *forwarded_user(const lux_req *r) {
    int m = r->gen ? lux_gen_module_index(r->gen, &lux_mod_extforward) : -1;
    const char *u = m >= 0 && r->mod_data ? r->mod_data[m] : NULL;
    return u == &seen ? NULL : u;
}

/* As lighttpd, the remote_user= a proxy named comes after (and so replaces) the certificate's
 * CN. */
const char *lux_extforward_remote_user(const lux_req *r, const char **auth_type) {
    const char *user = forwarded_user(r);
    *auth_type = NULL;
    if (user)
        return user;
    user = verified_cn(r);
    if (user)
        *auth_type = "SSL_CLIENT_VERIFY";
    return user;
}

static void emit(lux_env_fn fn, void *arg, const char *name, const char *value) {
    fn(arg, name, strlen(name), value, strlen(value));
}

/* As lighttpd, the verdict is "NONE" on every request that asks for it and has no verified
 * certificate from a proxy, whether or not the connection began with a PROXY header. */
void lux_extforward_tls_env(const lux_req *r, lux_env_fn fn, void *arg) {
    const lux_pp_tls *t = r->conn ? r->conn->proxied_tls : NULL;
    if (t)
        lux_pp_tls_env(t, fn, arg);
    if (!verdict_asked(r))
        return;
    const char *user = verified_cn(r);
    emit(fn, arg, "SSL_CLIENT_VERIFY", user ? "SUCCESS" : "NONE");
    if (user) {
        emit(fn, arg, "REMOTE_USER", user);
        emit(fn, arg, "AUTH_TYPE", "SSL_CLIENT_VERIFY");
    }
}

/* The first of extforward.headers the request has. Without the setting, X-Forwarded-For and
 * Forwarded-For, except where the PROXY protocol already names the client: a proxy relaying
 * the client's bytes would pass on whatever X-Forwarded-For the client wrote (lighttpd drops
 * the defaults for a global extforward.hap-PROXY; lux wherever it is on). */
static const lux_str *first_header(lux_req *r, const extforward_conf *c, const char **which) {
    static const lux_str defaults[] = {{"X-Forwarded-For", 15}, {"Forwarded-For", 13}};
    const lux_strlist *names = c->headers;
    if ((!names || !names->n) && c->hap_proxy)
        return NULL;
    const lux_str *list = names && names->n ? names->items : defaults;
    size_t n = names && names->n ? names->n : 2;
    for (size_t i = 0; i < n; i++) {
        const lux_str *v = lux_req_header(r, list[i].ptr, list[i].len);
        if (v) {
            *which = list[i].ptr;
            return v;
        }
    }
    return NULL;
}

static int set_remote(lux_req *r, const char *ip, size_t len) {
    xf_net a;
    if (xf_parse_addr(ip, len, &a) < 0)
        return 0;
    xf_to_sockaddr(&a, &r->remote_addr);
    const lux_core_conf *core = r->confs[0];
    if (core->log_request_handling)
        lux_log(LUX_LOG_DEBUG, "extforward: using address %.*s", (int)len, ip);
    return 1;
}

/* "http" or "https" (any case) becomes the request's scheme; anything else is ignored. */
static void set_scheme(lux_req *r, const char *p, size_t len) {
    if (len == 5 && strncasecmp(p, "https", 5) == 0)
        r->scheme = (lux_str){"https", 5};
    else if (len == 4 && strncasecmp(p, "http", 4) == 0)
        r->scheme = (lux_str){"http", 4};
}

/* X-Forwarded-For style: the rightmost address that is not a trusted proxy. */
static void from_list(lux_req *r, const extforward_conf *c, const lux_str *v) {
    xf_str addrs[64];
    size_t n = xf_list_split(v->ptr, v->len, addrs, 64);
    while (n-- > 0) {
        xf_net a;
        if (xf_parse_addr(addrs[n].ptr, addrs[n].len, &a) == 0 && trusted(c->forwarders, &a))
            continue;
        if (set_remote(r, addrs[n].ptr, addrs[n].len)) {
            const lux_str *proto = lux_req_header(r, "X-Forwarded-Proto", 17);
            if (proto)
                set_scheme(r, proto->ptr, proto->len);
        }
        return;
    }
}

static int forwarded_trusted(const extforward_conf *c, const xf_str *f) {
    xf_net a;
    return f->ptr && xf_parse_addr(f->ptr, f->len, &a) == 0 && trusted(c->forwarders, &a);
}

/* The host= a trusted proxy gave, normalised like a Host header; 0, or 400. */
static int set_host(lux_req *r, const xf_forwarded *els, int from, int n) {
    for (int i = from; i < n; i++) {
        if (!els[i].host.ptr)
            continue;
        char *h = lux_pool_strndup(r->pool, els[i].host.ptr, els[i].host.len);
        int len = h ? lux_host_normalize(h, els[i].host.len) : -1;
        if (len <= 0)
            return 400;
        r->host = (lux_str){h, (size_t)len};
        return 0;
    }
    return 0;
}

/* A user name a variable and the access log can carry: no control byte. */
static int user_printable(const xf_str *u) {
    for (size_t i = 0; i < u->len; i++)
        if ((unsigned char)u->ptr[i] < 0x20 || u->ptr[i] == 0x7f)
            return 0;
    return 1;
}

/* The remote_user= of the proxy nearest to lux, from the chosen element on, kept in the
 * request's slot for lux_extforward_remote_user; 0, or the status to answer. */
static int keep_remote_user(lux_req *r, const xf_forwarded *els, int from, int n) {
    for (int i = n - 1; i >= from; i--) {
        const xf_str *u = &els[i].remote_user;
        if (!u->ptr)
            continue;
        if (!u->len)
            return 0;
        if (!user_printable(u))
            return 400;
        char *copy = lux_pool_strndup(r->pool, u->ptr, u->len);
        void **slot = lux_req_mod_data(r, &lux_mod_extforward);
        if (!copy || !slot)
            return 500;
        *slot = copy;
        return 0;
    }
    return 0;
}

/*
 * Forwarded: walking from the right past trusted proxies, the first untrusted for= names the
 * client; when that one is hidden ("unknown", "_name"), the real address nearest to it does.
 * Its element's proto= sets the scheme. Returns 0, or the status to answer.
 */
static int from_forwarded(lux_req *r, const extforward_conf *c, const lux_str *v) {
    char *scratch = lux_pool_alloc(r->pool, v->len + 1);
    xf_forwarded *els = lux_pool_alloc(r->pool, XF_FORWARDED_MAX * sizeof *els);
    if (!scratch || !els)
        return 500;
    int n = xf_forwarded_parse(v->ptr, v->len, scratch, els);
    if (n < 0)
        return 400;
    int chosen = -1;
    for (int i = n - 1; i >= 0; i--) {
        if (!els[i].for_.ptr)
            continue;
        if (xf_forwarded_is_addr(&els[i].for_))
            chosen = i;
        if (!forwarded_trusted(c, &els[i].for_))
            break;
    }
    if (chosen < 0 || !set_remote(r, els[chosen].for_.ptr, els[chosen].for_.len))
        return 0;
    if (els[chosen].proto.ptr)
        set_scheme(r, els[chosen].proto.ptr, els[chosen].proto.len);
    int status = c->params & PARAM_HOST ? set_host(r, els, chosen, n) : 0;
    if (!status && (c->params & PARAM_REMOTE_USER))
        status = keep_remote_user(r, els, chosen, n);
    return status;
}

static lux_result extforward_uri_raw(lux_req *r, const void *conf) {
    const extforward_conf *c = conf;
    void **done = lux_req_mod_data(r, &lux_mod_extforward);
    if (!c->forwarders || !done || *done)
        return LUX_GO_ON; /* once per request: a restart keeps what was found */
    *done = (void *)&seen;
    if (!peer_trusted(r, c->forwarders))
        return LUX_GO_ON;
    const char *which = NULL;
    const lux_str *v = first_header(r, c, &which);
    if (!v)
        return LUX_GO_ON;
    lux_str scheme = r->scheme, host = r->host;
    if (strcasecmp(which, "Forwarded") == 0) {
        int status = from_forwarded(r, c, v);
        if (status)
            return lux_resp_error(r, status);
    } else {
        from_list(r, c, v);
    }
    if (!r->remote_addr.ss_family && scheme.ptr == r->scheme.ptr && host.ptr == r->host.ptr)
        return LUX_GO_ON;
    return lux_req_recheck_conditions(r) == 0 ? LUX_GO_ON : LUX_ERROR;
}

const lux_module lux_mod_extforward = {
    .name = "mod_extforward",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = extforward_directives,
    .conf_size = sizeof(extforward_conf),
    .uri_raw = extforward_uri_raw,
};
