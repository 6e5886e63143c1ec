/*
 * The variables a FastCGI authorizer passed on for a request (`Variable-NAME: value` in its
 * 200 answer, lighttpd's mod_fastcgi "mode" => "authorizer"), as what serves the request after
 * it (CGI, FastCGI, SCGI, SSI) adds them to its environment.
 */
#ifndef LUX_FASTCGI_ENV_H
#define LUX_FASTCGI_ENV_H

#include "http/cgi_env.h"

/* Add them to env (replacing a variable of the same name). Nothing when no authorizer of
 * mod_fastcgi allowed r. 0, or -1 out of memory. */
int lux_fastcgi_apply_env(lux_req *r, lux_cgi_env *env);

#endif
