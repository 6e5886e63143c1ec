/*
 * The settings every CGI-style gateway module shares: lighttpd's NAME.server (a key per
 * extension or path prefix, each with its backends and options), NAME.balance,
 * NAME.map-extensions and NAME.debug, and the handler that matches a request to them and
 * hands it to the gateway (upstream/gateway.h).
 *
 *   NAME.server = ( ".php" => ( "name" => ( "socket" => "/run/app.sock" ),
 *                               "other" => ( "host" => "127.0.0.1", "port" => 9000 ) ),
 *                   "/app" => ( ( "host" => "127.0.0.1", "port" => 9001,
 *                                 "check-local" => "disable" ) ),
 *                   ".py" => ( ( "bin-path" => "/usr/bin/app", "socket" => "/run/py.sock",
 *                                "max-procs" => 2 ) ) )
 *
 * A key starting with "/" matches URL paths with that prefix, any other key paths ending with
 * it. As in lighttpd, check-local, docroot, strip-request-uri, fix-root-scriptname and the
 * connect, read and write timeouts belong to each host entry: a request follows those of the
 * backend it goes to.
 */
#ifndef LUX_GW_CONF_H
#define LUX_GW_CONF_H

#include "http/cgi_env.h"
#include "lux/module.h"
#include "lux/req.h"
#include "upstream/gateway.h"
/* The options of one host entry; each of its backends points to them (lux_ups_backend.opts). */
typedef struct lux_gw_host {
    int check_local;
    lux_str strip_request_uri; /* a REQUEST_URI prefix the backend does not see; ptr NULL: none */
    int fix_root_scriptname;
    lux_str docroot; /* ptr NULL: the request's */
} lux_gw_host;

/* One key of fastcgi.server: what it matches and where such requests go. */
typedef struct {
    lux_str match; /* ".php" or "/prefix" */
    int prefix;
    lux_gw_conf gw;
} lux_gw_target;

typedef struct {
    lux_gw_target *targets;
    size_t n;
} lux_gw_servers;

typedef struct {
    const lux_keyval *items;
    size_t n;
} lux_gw_map;

typedef struct {
    lux_gw_servers servers;
    lux_str balance;
    lux_gw_map map;
    long debug;
} lux_gw_settings;

/* Parse functions for the directives (LUX_D_CUSTOM: dst is a lux_gw_servers or a
 * lux_gw_map). A NAME.server's own: the module names its backends in logs and metrics, and
 * says which health probes they understand (upstream/health.h). 0 or -1. */
int lux_gw_fastcgi_servers_parse(lux_gen *gen, const lux_value *v, void *dst, char *err,
                                 size_t errlen);
int lux_gw_scgi_servers_parse(lux_gen *gen, const lux_value *v, void *dst, char *err,
                              size_t errlen);
int lux_gw_proxy_servers_parse(lux_gen *gen, const lux_value *v, void *dst, char *err,
                               size_t errlen);
int lux_gw_sockproxy_servers_parse(lux_gen *gen, const lux_value *v, void *dst, char *err,
                                   size_t errlen);
int lux_gw_wstunnel_servers_parse(lux_gen *gen, const lux_value *v, void *dst, char *err,
                                  size_t errlen);
int lux_gw_map_parse(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t errlen);
/* Check NAME.balance once the settings are in. 0 or -1. */
int lux_gw_settings_finish(const lux_gw_settings *c, const char *directive, char *err,
                           size_t errlen);

/* The handler: a request c matches goes to its backends through proto (module m keeps the
 * matched target in its request slot); others go on. An authorizer of c that matches is asked
 * first, once per request. local_files: the request names a script under the document root
 * (check-local applies; not for a proxy). */
lux_result lux_gw_handle(lux_req *r, const lux_gw_settings *c, const lux_module *m,
                         const lux_gw_proto *proto, size_t state_size, int local_files);
/* The target a request for path goes to, or NULL: what lux_gw_handle decides, for a handler
 * that must refuse a request before it starts on a backend. */
const lux_gw_target *lux_gw_match(const lux_gw_settings *c, const lux_str *path);
/* What a gateway module keeps of a request (its lux_req_mod_data slot points here; it lasts
 * across LUX_RESTART). */
typedef struct {
    const lux_gw_target *target; /* the one r went to last */
    const lux_gw_host *host;     /* the options of the host entry it went to */
    int authorizer_ran;          /* one of m's authorizers was asked: not again for r */
    lux_cgi_env vars;            /* what it passed on: Variable-NAME: value */
} lux_gw_req;

/* m's state for r, made on first use; NULL out of memory or when m is not enabled. */
lux_gw_req *lux_gw_req_of(lux_req *r, const lux_module *m);
/* The target module m matched r to (for the protocol's begin, which may run again on a retry). */
const lux_gw_target *lux_gw_target_of(lux_req *r, const lux_module *m);
/* Keep a variable an authorizer of m passed on for r (a later one of the same name replaces
 * it); add those kept to env, for whatever serves r next. 0 or -1 out of memory. */
int lux_gw_keep_variable(lux_req *r, const lux_module *m, const char *name, size_t nlen,
                         const char *value, size_t vlen);
int lux_gw_apply_variables(lux_req *r, const lux_module *m, lux_cgi_env *env);
/* r's CGI/1.1 environment with mod_setenv's additions, adjusted as the options of the backend
 * g is going to ask. 0 or -1. */
int lux_gw_env(const lux_gw *g, lux_req *r, lux_cgi_env *env);

#endif
