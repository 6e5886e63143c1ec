/*
 * The `lighty` table scripts see, as lighttpd 1.4.69 defines it: lighty.r.req_header,
 * .req_attr, .req_env, .resp_header, .resp_body; lighty.c.* helpers (magnet_lib.c);
 * lighty.RESTART_REQUEST; and the older names lighty.env, lighty.request, lighty.req_env,
 * lighty.header, lighty.content, lighty.stat. The proxies act on the request bound by
 * magnet_api_bind, so one set of tables serves every request of the thread.
 */
#ifndef LUX_MAGNET_API_H
#define LUX_MAGNET_API_H

#include <lua.h>

#include "lux/req.h"

#define MAGNET_RESTART_REQUEST 99

/* Create the global `lighty` table in L. Raises a Lua error when out of memory. */
void magnet_api_open(lua_State *L);
/* Register lighty.c (magnet_lib.c) into the table on top of the stack. */
void magnet_lib_open(lua_State *L);
/* Register lighty.c's text codecs (magnet_codec.c) into the table on top of the stack. */
void magnet_codec_open(lua_State *L);

struct stat;
/* Add to the lighty.c.stat table on top of the stack what depends on the bound request's
 * settings: etag and content-type as a static answer would send them, and the field
 * http-response-send-file, whose reading answers the request with the file (its status). */
void magnet_stat_request_fields(lua_State *L, const char *path, const struct stat *st);

/* Bind r (NULL: none) for the scripts about to run. */
void magnet_api_bind(lux_req *r);
/* Before each script: empty the old API's lighty.header and lighty.content. Runs under
 * lua_pcall (it allocates). */
int magnet_api_begin(lua_State *L);
/* After a script: apply lighty.header and lighty.content. Runs under lua_pcall. */
int magnet_api_finish(lua_State *L);
/* Did a script of this run set the response body (resp_body or lighty.content)? */
int magnet_api_body_set(void);

/* The request's env (lighty.r.req_env), kept per request across restarts. */
typedef struct magnet_env magnet_env;
struct magnet_env {
    magnet_env *next;
    lux_str name, value;
};
magnet_env **magnet_req_env(lux_req *r);

#endif
