/*
 * The CGI/1.1 environment of a request (RFC 3875 4.1, as lighttpd 1.4 fills it): what CGI
 * scripts get as their environment and FastCGI and SCGI backends as their parameters. It
 * reads the request and writes nothing but the request's pool.
 */
#ifndef LUX_CGI_ENV_H
#define LUX_CGI_ENV_H

#include <stddef.h>

#include "lux/req.h"

/* One variable; both strings NUL-terminated, in the request's pool or static. */
typedef struct {
    lux_str name, value;
} lux_cgi_var;

typedef struct {
    lux_cgi_var *vars;
    size_t n, cap;
} lux_cgi_env;

/*
 * Fill env with r's variables: the server's, the script's (SCRIPT_NAME is the path without
 * PATH_INFO, SCRIPT_FILENAME r->physical), the client's, and HTTP_* for every request header
 * but Proxy (httpoxy) and Content-Type (CONTENT_TYPE; Content-Length is both, as in lighttpd);
 * repeated headers are joined as one field (Cookie with "; "). Returns 0, or -1 out of memory.
 */
int lux_cgi_env_build(lux_req *r, lux_cgi_env *env);

/* Set (replace) a variable; name and value are copied. 0 or -1. */
int lux_cgi_env_set(lux_req *r, lux_cgi_env *env, const char *name, size_t nlen, const char *value,
                    size_t vlen);

/* The environment as execve wants it ("NAME=value", NULL-terminated), in r's pool; NULL out
 * of memory. */
char **lux_cgi_env_strings(lux_req *r, const lux_cgi_env *env);

#endif
