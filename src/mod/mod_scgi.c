/*
 * mod_scgi: answer requests from SCGI or uwsgi backends (lighttpd's mod_scgi).
 *
 *   scgi.server = ( "/app" => ( ( "host" => "127.0.0.1", "port" => 4000,
 *                                 "check-local" => "disable" ) ) )
 *   scgi.protocol = "scgi" | "uwsgi"
 *   scgi.balance, scgi.map-extensions, scgi.debug   as for mod_fastcgi
 *
 * The settings are the ones every gateway shares (upstream/gw_conf.h), the request is the
 * shared gateway's (upstream/gateway.h): the CGI/1.1 environment as the head (upstream/scgi.h),
 * the body after it, and the backend's answer, a CGI-style head and the body, until it closes
 * the connection. Neither protocol can say where a response ends otherwise, so connections to
 * SCGI backends are never reused.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/body.h"
#include "lux/req.h"
#include "upstream/gw_conf.h"
#include "upstream/scgi.h"

extern const lux_module lux_mod_scgi;

typedef struct {
    lux_gw_settings gw; /* first: the shared handler reads it */
    lux_str protocol;
    int uwsgi;
} scgi_conf;

static int conf_finish(lux_gen *gen, void *conf, char *err, size_t el) {
    scgi_conf *c = conf;
    if (c->protocol.ptr && strcasecmp(c->protocol.ptr, "scgi") &&
        strcasecmp(c->protocol.ptr, "uwsgi")) {
        snprintf(err, el, "scgi.protocol: \"%s\" is neither \"scgi\" nor \"uwsgi\"",
                 c->protocol.ptr);
        return -1;
    }
    c->uwsgi = c->protocol.ptr && !strcasecmp(c->protocol.ptr, "uwsgi");
    return lux_gw_settings_finish(&c->gw, "scgi.balance", err, el);
}

#define OFF(f) offsetof(scgi_conf, f)
static const lux_directive scgi_directives[] = {
    {"scgi.server", LUX_D_CUSTOM, OFF(gw.servers), LUX_SCOPE_ANY, lux_gw_scgi_servers_parse,
     sizeof(lux_gw_servers)},
    {"scgi.balance", LUX_D_STRING, OFF(gw.balance), LUX_SCOPE_ANY},
    {"scgi.map-extensions", LUX_D_CUSTOM, OFF(gw.map), LUX_SCOPE_ANY, lux_gw_map_parse,
     sizeof(lux_gw_map)},
    {"scgi.debug", LUX_D_INT, OFF(gw.debug), LUX_SCOPE_ANY},
    {"scgi.protocol", LUX_D_STRING, OFF(protocol), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

static int begin(lux_gw *g, lux_req *r, lux_ups_buf *out, int uwsgi) {
    lux_cgi_env env;
    if (lux_gw_env(g, r, &env) < 0)
        return -1;
    lux_gw_debug_params(g, env.vars, env.n);
    if (uwsgi)
        return lux_uwsgi_head(out, env.vars, env.n);
    int64_t len = lux_body_length(r);
    if (len < 0)
        return -1; /* never: the gateway keeps such a body whole first (length_first) */
    return lux_scgi_head(out, env.vars, env.n, (uint64_t)len);
}

static int scgi_begin(lux_gw *g, lux_req *r, lux_ups_buf *out) {
    return begin(g, r, out, 0);
}

static int uwsgi_begin(lux_gw *g, lux_req *r, lux_ups_buf *out) {
    return begin(g, r, out, 1);
}

static int raw_body(lux_gw *g, lux_ups_buf *out, const char *p, size_t len) {
    return lux_ups_buf_put(out, p, len);
}

/* Everything the backend sends is the response. */
static lux_gw_ev raw_input(lux_gw *g, char *buf, size_t len, size_t *used, const char **data,
                           size_t *dlen, int *keep) {
    if (!len)
        return LUX_GW_MORE;
    *used = len;
    *data = buf;
    *dlen = len;
    return LUX_GW_DATA;
}

/* Only the backend closing the connection ends its response. */
static int eof_ends(lux_gw *g) {
    return 1;
}

static const lux_gw_proto scgi_proto = {
    .name = "mod_scgi",
    .begin = scgi_begin,
    .body = raw_body,
    .input = raw_input,
    .eof_ends = eof_ends,
    .length_first = 1,
};

static const lux_gw_proto uwsgi_proto = {
    .name = "mod_scgi",
    .begin = uwsgi_begin,
    .body = raw_body,
    .input = raw_input,
    .eof_ends = eof_ends,
    .length_first = 1,
};

static lux_result scgi_handle(lux_req *r, const void *conf) {
    const scgi_conf *c = conf;
    return lux_gw_handle(r, &c->gw, &lux_mod_scgi, c->uwsgi ? &uwsgi_proto : &scgi_proto, 0, 1);
}

const lux_module lux_mod_scgi = {
    .name = "mod_scgi",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = scgi_directives,
    .conf_size = sizeof(scgi_conf),
    .conf_finish = conf_finish,
    .handle = scgi_handle,
};
