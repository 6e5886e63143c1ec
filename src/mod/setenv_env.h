/*
 * mod_setenv's environment settings (setenv.add-environment, setenv.set-environment) as the
 * request's gateways (CGI now, FastCGI and SCGI later) apply them: the settings in force when
 * mod_setenv saw the request, like its response headers.
 */
#ifndef LUX_SETENV_ENV_H
#define LUX_SETENV_ENV_H

#include "http/cgi_env.h"

/* Add the variables to env (add-environment first, then set-environment, a later one
 * replacing an earlier of the same name). Nothing when mod_setenv is not enabled or did not
 * see r. 0, or -1 out of memory. */
int lux_setenv_apply_env(lux_req *r, lux_cgi_env *env);

#endif
