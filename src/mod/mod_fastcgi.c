/*
 * mod_fastcgi: answer requests from FastCGI backends (lighttpd's mod_fastcgi).
 *
 *   fastcgi.server = ( ".php" => ( "php" => ( "socket" => "/run/php.sock" ),
 *                                  "php2" => ( "host" => "127.0.0.1", "port" => 9000 ) ),
 *                      "/app" => ( ( "host" => "127.0.0.1", "port" => 9001,
 *                                    "check-local" => "disable" ) ) )
 *   fastcgi.balance = "fair" | "round-robin" | "hash" | "sticky"
 *   fastcgi.map-extensions = ( ".php3" => ".php" )
 *   fastcgi.debug = 0
 *
 * The settings are the ones every gateway shares (upstream/gw_conf.h); the request is the
 * shared gateway's (upstream/gateway.h), with FastCGI records as its wire format
 * (upstream/fcgi.h): the CGI/1.1 environment as PARAMS, the body as STDIN, STDOUT as the
 * response, STDERR to the error log. Connections are kept alive (FCGI_KEEP_CONN) and reused
 * by the worker's next request to the same backend.
 */
#include <stdio.h>

#include "lux/req.h"
#include "upstream/fcgi.h"
#include "upstream/gw_conf.h"

extern const lux_module lux_mod_fastcgi;

/* ---- settings ------------------------------------------------------------------------------ */

static int conf_finish(lux_gen *gen, void *conf, char *err, size_t el) {
    return lux_gw_settings_finish(conf, "fastcgi.balance", err, el);
}

#define OFF(f) offsetof(lux_gw_settings, f)
static const lux_directive fcgi_directives[] = {
    {"fastcgi.server", LUX_D_CUSTOM, OFF(servers), LUX_SCOPE_ANY, lux_gw_fastcgi_servers_parse,
     sizeof(lux_gw_servers)},
    {"fastcgi.balance", LUX_D_STRING, OFF(balance), LUX_SCOPE_ANY},
    {"fastcgi.map-extensions", LUX_D_CUSTOM, OFF(map), LUX_SCOPE_ANY, lux_gw_map_parse,
     sizeof(lux_gw_map)},
    {"fastcgi.debug", LUX_D_INT, OFF(debug), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

/* ---- the wire format ------------------------------------------------------------------------- */

#define REQUEST_ID 1

static int add_params(lux_req *r, const lux_cgi_env *env, lux_ups_buf *out) {
    lux_ups_buf params = {0};
    int rc = 0;
    for (size_t i = 0; i < env->n && rc == 0; i++) {
        const lux_cgi_var *v = &env->vars[i];
        rc = lux_fcgi_param(&params, v->name.ptr, v->name.len, v->value.ptr, v->value.len);
    }
    if (rc == 0 && params.len)
        rc = lux_fcgi_stream(out, LUX_FCGI_PARAMS, REQUEST_ID, params.data, params.len);
    if (rc == 0)
        rc = lux_fcgi_stream(out, LUX_FCGI_PARAMS, REQUEST_ID, NULL, 0);
    lux_ups_buf_free(&params);
    return rc;
}

static int fcgi_begin(lux_gw *g, lux_req *r, lux_ups_buf *out) {
    lux_fcgi_parser_init(lux_gw_state(g), REQUEST_ID);
    lux_cgi_env env;
    if (lux_gw_env(g, r, lux_gw_target_of(r, &lux_mod_fastcgi), &env) < 0)
        return -1;
    if (lux_fcgi_begin(out, REQUEST_ID, LUX_FCGI_RESPONDER, 1) < 0)
        return -1;
    return add_params(r, &env, out);
}

static int fcgi_body(lux_gw *g, lux_ups_buf *out, const char *p, size_t len) {
    return lux_fcgi_stream(out, LUX_FCGI_STDIN, REQUEST_ID, p, len);
}

static lux_gw_ev fcgi_input(lux_gw *g, char *buf, size_t len, size_t *used, const char **data,
                            size_t *dlen, int *keep) {
    lux_fcgi_parser *p = lux_gw_state(g);
    switch (lux_fcgi_parse(p, buf, len, used)) {
    case LUX_FCGI_EV_STDOUT:
        *data = p->data;
        *dlen = p->len;
        return LUX_GW_DATA;
    case LUX_FCGI_EV_STDERR:
        *data = p->data;
        *dlen = p->len;
        return LUX_GW_STDERR;
    case LUX_FCGI_EV_END:
        *keep = p->protocol_status == 0; /* FCGI_REQUEST_COMPLETE */
        return LUX_GW_END;
    case LUX_FCGI_EV_ERROR:
        return LUX_GW_ERROR;
    case LUX_FCGI_EV_MORE:
    default:
        return LUX_GW_MORE;
    }
}

static const lux_gw_proto fcgi_proto = {
    .name = "mod_fastcgi",
    .begin = fcgi_begin,
    .body = fcgi_body,
    .input = fcgi_input,
};

static lux_result fcgi_handle(lux_req *r, const void *conf) {
    return lux_gw_handle(r, conf, &lux_mod_fastcgi, &fcgi_proto, sizeof(lux_fcgi_parser), 1);
}

const lux_module lux_mod_fastcgi = {
    .name = "mod_fastcgi",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = fcgi_directives,
    .conf_size = sizeof(lux_gw_settings),
    .conf_finish = conf_finish,
    .handle = fcgi_handle,
};
