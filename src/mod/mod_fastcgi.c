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
 *
 * A backend with "mode" => "authorizer" is asked first, in the FCGI_AUTHORIZER role: the
 * request's parameters without its body (nor CONTENT_LENGTH, SCRIPT_NAME, PATH_INFO and
 * PATH_TRANSLATED, as the FastCGI specification says). Its 200 lets the request go on to the
 * next handler (a static file, a responder) with its Variable-NAME fields in the environment
 * (mod/fastcgi_env.h), from its "docroot" when it has one; any other answer is the response.
 */
#include <stdio.h>

#include <string.h>

#include "lux/req.h"
#include "mod/fastcgi_env.h"
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

/* The parameters the FastCGI specification keeps from an authorizer (6.3). */
static int not_for_authorizer(const lux_str *name) {
    static const char *const names[] = {"CONTENT_LENGTH", "SCRIPT_NAME", "PATH_INFO",
                                        "PATH_TRANSLATED"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (name->len == strlen(names[i]) && !memcmp(name->ptr, names[i], name->len))
            return 1;
    return 0;
}

static int add_params(lux_gw *g, const lux_cgi_env *env, int authorizer, lux_ups_buf *out) {
    lux_ups_buf params = {0};
    int rc = 0;
    for (size_t i = 0; i < env->n && rc == 0; i++) {
        const lux_cgi_var *v = &env->vars[i];
        if (authorizer && not_for_authorizer(&v->name))
            continue;
        lux_gw_debug_params(g, v, 1);
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
    const lux_gw_target *t = lux_gw_target_of(r, &lux_mod_fastcgi);
    lux_cgi_env env;
    if (lux_gw_env(g, r, &env) < 0)
        return -1;
    int role = t->gw.authorizer ? LUX_FCGI_AUTHORIZER : LUX_FCGI_RESPONDER;
    if (lux_fcgi_begin(out, REQUEST_ID, role, 1) < 0)
        return -1;
    return add_params(g, &env, t->gw.authorizer, out);
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

static int keep_variable(lux_req *r, const char *name, size_t nlen, const char *value,
                         size_t vlen) {
    return lux_gw_keep_variable(r, &lux_mod_fastcgi, name, nlen, value, vlen);
}

static const lux_gw_proto fcgi_proto = {
    .name = "mod_fastcgi",
    .begin = fcgi_begin,
    .body = fcgi_body,
    .input = fcgi_input,
    .keep_variable = keep_variable,
    .older_sendfile_name = 1,
    .length_first = 1, /* php-cgi reads CONTENT_LENGTH bytes of STDIN, none without it */
};

int lux_fastcgi_apply_env(lux_req *r, lux_cgi_env *env) {
    return lux_gw_apply_variables(r, &lux_mod_fastcgi, env);
}

/* ---- the hooks ------------------------------------------------------------------------------- */

/* The "docroot" of the authorizer that allowed r; ptr NULL when there is none. */
static lux_str authorizer_docroot(lux_req *r) {
    void **slot = lux_req_mod_data(r, &lux_mod_fastcgi);
    const lux_gw_req *q = slot ? *slot : NULL;
    if (q && q->authorizer_ran && q->target && q->target->gw.authorizer && q->host)
        return q->host->docroot;
    return (lux_str){NULL, 0};
}

/* After an authorizer with a "docroot" allowed r, r is served from there: its document root,
 * and (as lighttpd, which skips the URL phases then) the file under it that r's path names,
 * whatever a module before this one (mod_alias) made of it. */
static lux_result fcgi_docroot(lux_req *r, const void *conf) {
    lux_str root = authorizer_docroot(r);
    if (root.ptr)
        r->docroot = root;
    return LUX_GO_ON;
}

static lux_result fcgi_physical(lux_req *r, const void *conf) {
    lux_str root = authorizer_docroot(r);
    if (!root.ptr)
        return LUX_GO_ON;
    while (root.len > 1 && root.ptr[root.len - 1] == '/')
        root.len--;
    char *p = lux_req_printf(r, "%.*s%.*s", (int)root.len, root.ptr, (int)r->path.len, r->path.ptr);
    if (!p)
        return LUX_ERROR;
    r->docroot = (lux_str){p, root.len};
    r->physical = (lux_str){p, root.len + r->path.len};
    return LUX_GO_ON;
}

static lux_result fcgi_handle(lux_req *r, const void *conf) {
    return lux_gw_handle(r, conf, &lux_mod_fastcgi, &fcgi_proto, sizeof(lux_fcgi_parser), 1);
}

const lux_module lux_mod_fastcgi = {
    .name = "mod_fastcgi",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = fcgi_directives,
    .conf_size = sizeof(lux_gw_settings),
    .conf_finish = conf_finish,
    .docroot = fcgi_docroot,
    .physical = fcgi_physical,
    .handle = fcgi_handle,
};
