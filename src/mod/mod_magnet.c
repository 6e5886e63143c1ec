/*
 * mod_magnet: Lua 5.4 scripts at three points of a request, as lighttpd 1.4.69 runs them.
 *
 * magnet.attract-raw-url-to runs its scripts in uri_raw (beside mod_rewrite),
 * magnet.attract-physical-path-to once the physical path is built, and
 * magnet.attract-response-start-to when the response is about to be sent. Scripts of one hook
 * run in order; a script returning a status (>= 100) answers the request with it (and with the
 * body it set), lighty.RESTART_REQUEST runs the request again with the URI it set, and 0 or
 * nothing lets the next script and the rest of the request go on.
 *
 * Each worker thread has its own Lua state and its own compiled scripts (magnet_state.c), so
 * scripts run without locks; a script is compiled on first use and again when its file
 * changed, looked at no more than once per magnet.cache-timeout seconds. Globals a script sets
 * last for one run: each run gets a fresh environment that reads through to the standard
 * library. magnet.max-instructions and magnet.max-memory (lux's own) stop a script that loops
 * or allocates without bound: the request gets a 500, the error log the reason, and the state
 * stays usable for the next request.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "lux/log.h"
#include "lux/req.h"
#include "mod/magnet_api.h"
#include "mod/magnet_state.h"

typedef struct {
    const lux_strlist *raw_url, *physical, *response_start;
    long cache_timeout;    /* seconds between looks at a script's file */
    long max_instructions; /* per hook and request; 0: no limit */
    long max_memory;       /* MiB the thread's Lua state may hold; 0: no limit */
} magnet_conf;

extern const lux_module lux_mod_magnet;

#define OFF(f) offsetof(magnet_conf, f)
static const lux_directive magnet_directives[] = {
    {"magnet.attract-raw-url-to", LUX_D_STRLIST, OFF(raw_url), LUX_SCOPE_ANY},
    {"magnet.attract-physical-path-to", LUX_D_STRLIST, OFF(physical), LUX_SCOPE_ANY},
    {"magnet.attract-response-start-to", LUX_D_STRLIST, OFF(response_start), LUX_SCOPE_ANY},
    {"magnet.cache-timeout", LUX_D_INT, OFF(cache_timeout), LUX_SCOPE_ANY},
    {"magnet.max-instructions", LUX_D_INT, OFF(max_instructions), LUX_SCOPE_ANY},
    {"magnet.max-memory", LUX_D_INT, OFF(max_memory), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

static void magnet_conf_init(void *conf) {
    magnet_conf *c = conf;
    c->cache_timeout = 1;
    c->max_instructions = 100000000;
    c->max_memory = 64;
}

static int magnet_conf_finish(lux_gen *gen, void *conf, char *err, size_t errlen) {
    const magnet_conf *c = conf;
    if (c->cache_timeout < 0 || c->max_instructions < 0 || c->max_memory < 0 ||
        c->max_memory > 1024 * 1024) {
        snprintf(err, errlen,
                 "magnet.cache-timeout, magnet.max-instructions and "
                 "magnet.max-memory (MiB, at most 1048576) must not be negative");
        return -1;
    }
    return 0;
}

magnet_env **magnet_req_env(lux_req *r) {
    return (magnet_env **)lux_req_mod_data(r, &lux_mod_magnet);
}

/* The message handler: the error with a traceback, for the error log. */
static int traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : luaL_typename(L, 1), 1);
    return 1;
}

/*
 * Under lua_pcall: the script (upvalue-less call target at index 1) runs with a fresh _ENV
 * whose misses fall through to the globals; then the old API's tables are applied. Returns
 * the script's first result, or nil.
 */
static int run_protected(lua_State *L) {
    magnet_api_begin(L);
    lua_createtable(L, 0, 0);
    if (luaL_newmetatable(L, "lux.magnet.env")) {
        lua_pushglobaltable(L);
        lua_setfield(L, -2, "__index");
    }
    lua_setmetatable(L, -2);
    if (!lua_setupvalue(L, 1, 1))
        lua_pop(L, 1);
    lua_pushvalue(L, 1);
    lua_call(L, 0, 1);
    magnet_api_finish(L);
    return 1;
}

/* Run one script; -1 on failure (logged), else its result (0 when it gave none). */
static lua_Integer run_script(lua_State *L, lux_req *r, const magnet_conf *c, const char *path) {
    lua_settop(L, 0);
    lua_pushcfunction(L, traceback);
    lua_pushcfunction(L, run_protected);
    if (magnet_script_push(L, path, lux_req_now(r), c->cache_timeout) < 0)
        return -1;
    int rc = lua_pcall(L, 1, 1, 1);
    if (rc != LUA_OK) {
        lux_log(LUX_LOG_ERR, "mod_magnet: %s failed for %.*s: %s", path, (int)r->uri.len,
                r->uri.ptr, lua_tostring(L, -1));
        magnet_recover(L);
        return -1;
    }
    int isnum = 0;
    lua_Integer ret = lua_tointegerx(L, -1, &isnum);
    lua_settop(L, 0);
    return isnum ? ret : 0;
}

/* Answer with the status a script returned and the body it set. Without a body an error
 * status gets its error page (and, as in lighttpd, loses the headers the script set). */
static lux_result answer(lux_req *r, int status) {
    if (!magnet_api_body_set() && status >= 400)
        return lux_resp_error(r, status);
    r->status = status;
    r->has_content_length = 1;
    return LUX_HANDLED;
}

static lux_result attract(lux_req *r, const magnet_conf *c, const lux_strlist *scripts,
                          int may_answer) {
    if (!scripts || !scripts->n)
        return LUX_GO_ON;
    lua_State *L = magnet_state();
    if (!L)
        return LUX_ERROR;
    magnet_limits(L, (size_t)c->max_memory << 20, c->max_instructions);
    magnet_api_bind(r);
    lux_result res = LUX_GO_ON;
    for (size_t i = 0; i < scripts->n && res == LUX_GO_ON; i++) {
        lua_Integer ret = run_script(L, r, c, scripts->items[i].ptr);
        if (ret < 0)
            res = LUX_ERROR;
        else if (ret == MAGNET_RESTART_REQUEST && may_answer)
            res = LUX_RESTART;
        else if (ret >= 100 && ret <= 999 && may_answer)
            res = answer(r, (int)ret);
    }
    magnet_api_bind(NULL);
    magnet_limits(L, 0, 0);
    return res;
}

static lux_result magnet_uri_raw(lux_req *r, const void *conf) {
    const magnet_conf *c = conf;
    return attract(r, c, c->raw_url, 1);
}

static lux_result magnet_physical(lux_req *r, const void *conf) {
    const magnet_conf *c = conf;
    return attract(r, c, c->physical, 1);
}

/* Headers may change here; a failed script turns the response into a 500. */
static lux_result magnet_response_start(lux_req *r, const void *conf) {
    const magnet_conf *c = conf;
    if (attract(r, c, c->response_start, 0) == LUX_ERROR)
        lux_resp_error(r, 500);
    return LUX_GO_ON;
}

const lux_module lux_mod_magnet = {
    .name = "mod_magnet",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = magnet_directives,
    .conf_size = sizeof(magnet_conf),
    .conf_init = magnet_conf_init,
    .conf_finish = magnet_conf_finish,
    .uri_raw = magnet_uri_raw,
    .physical = magnet_physical,
    .response_start = magnet_response_start,
};
