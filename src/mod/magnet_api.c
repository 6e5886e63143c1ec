/*
 * lighty.r and the old names. Each proxy is an empty table whose metatable reads and writes the
 * bound request; the old API's lighty.header and lighty.content are plain tables a script fills
 * and magnet_api_finish applies.
 */
#include "mod/magnet_api.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "core/plugin_stats.h"
#include "core/pool.h"
#include "http/request.h"
#include "http/body.h"
#include "http/etag.h"
#include "core/version.h"
#include "http/stat_cache.h"
#include "mod/staticfile_send.h"
#include "net/stats.h"

static _Thread_local lux_req *bound;
static _Thread_local int body_set;

void magnet_api_bind(lux_req *r) {
    bound = r;
    body_set = 0;
}

int magnet_api_body_set(void) {
    return body_set;
}

static lux_req *req(lua_State *L) {
    if (!bound)
        luaL_error(L, "lighty.r is only available while a request is handled");
    return bound;
}

static int has_crlf(const char *s, size_t n) {
    return memchr(s, '\r', n) || memchr(s, '\n', n);
}

static void check_header(lua_State *L, const char *name, size_t nlen, const char *value,
                         size_t vlen) {
    if (!nlen || has_crlf(name, nlen) || memchr(name, ':', nlen) || memchr(name, ' ', nlen) ||
        has_crlf(value, vlen))
        luaL_error(L,
                   "invalid header \"%s\": names may not be empty or hold blanks or colons, "
                   "nor names or values CR or LF",
                   name);
}

static int name_is(const lux_header *h, const char *name, size_t len) {
    return h->name.len == len && strncasecmp(h->name.ptr, name, len) == 0;
}

static size_t remove_named(lux_header *hs, size_t n, const char *name, size_t len) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!name_is(&hs[i], name, len))
            hs[k++] = hs[i];
    return k;
}

static lux_str pool_str(lua_State *L, lux_req *r, const char *s, size_t n) {
    char *p = lux_pool_strndup(r->pool, s, n);
    if (!p)
        luaL_error(L, "out of memory");
    return (lux_str){p, n};
}

/* Push every header of hs[0..n) as name => value into a new table (for pairs()). */
static void push_headers(lua_State *L, const lux_header *hs, size_t n) {
    lua_createtable(L, 0, (int)n);
    for (size_t i = 0; i < n; i++) {
        lua_pushlstring(L, hs[i].name.ptr, hs[i].name.len);
        lua_pushlstring(L, hs[i].value.ptr, hs[i].value.len);
        lua_settable(L, -3);
    }
}

/* __pairs: iterate a snapshot table built by fill. */
static int pairs_of(lua_State *L, void (*fill)(lua_State *L)) {
    lua_getglobal(L, "next");
    fill(L);
    lua_pushnil(L);
    return 3;
}

/* lighty.r.req_header */

static int req_header_get(lua_State *L) {
    size_t n;
    const char *name = luaL_checklstring(L, 2, &n);
    const lux_str *v = lux_req_header(req(L), name, n);
    if (v)
        lua_pushlstring(L, v->ptr, v->len);
    else
        lua_pushnil(L);
    return 1;
}

static int req_header_set(lua_State *L) {
    lux_req *r = req(L);
    size_t nlen, vlen = 0;
    const char *name = luaL_checklstring(L, 2, &nlen);
    const char *value = lua_isnil(L, 3) ? "" : luaL_checklstring(L, 3, &vlen);
    check_header(L, name, nlen, value, vlen);
    r->nheaders = remove_named(r->headers, r->nheaders, name, nlen);
    if (vlen) {
        lux_header *hs = lux_pool_alloc(r->pool, (r->nheaders + 1) * sizeof *hs);
        if (!hs)
            return luaL_error(L, "out of memory");
        if (r->nheaders)
            memcpy(hs, r->headers, r->nheaders * sizeof *hs);
        hs[r->nheaders].name = pool_str(L, r, name, nlen);
        hs[r->nheaders].value = pool_str(L, r, value, vlen);
        r->headers = hs;
        r->nheaders++;
    }
    /* Conditions on request headers must see the new value. */
    if (lux_req_recheck_conditions(r) < 0)
        return luaL_error(L, "out of memory");
    return 0;
}

static void fill_req_headers(lua_State *L) {
    lux_req *r = req(L);
    push_headers(L, r->headers, r->nheaders);
}

static int req_header_pairs(lua_State *L) {
    return pairs_of(L, fill_req_headers);
}

/* lighty.r.resp_header */

static int resp_header_get(lua_State *L) {
    lux_req *r = req(L);
    size_t n;
    const char *name = luaL_checklstring(L, 2, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int found = 0;
    for (size_t i = 0; i < r->nresp_headers; i++) {
        if (!name_is(&r->resp_headers[i], name, n))
            continue;
        if (found++)
            luaL_addlstring(&b, ", ", 2);
        luaL_addlstring(&b, r->resp_headers[i].value.ptr, r->resp_headers[i].value.len);
    }
    luaL_pushresult(&b);
    if (!found)
        lua_pushnil(L);
    return 1;
}

/* Replace every response header of that name; an empty value removes them. */
static void put_resp_header(lua_State *L, lux_req *r, const char *name, size_t nlen,
                            const char *value, size_t vlen) {
    check_header(L, name, nlen, value, vlen);
    r->nresp_headers = remove_named(r->resp_headers, r->nresp_headers, name, nlen);
    if (vlen && lux_resp_header(r, name, nlen, value, vlen) < 0)
        luaL_error(L, "out of memory");
}

static int resp_header_set(lua_State *L) {
    lux_req *r = req(L);
    size_t nlen, vlen = 0;
    const char *name = luaL_checklstring(L, 2, &nlen);
    const char *value = lua_isnil(L, 3) ? "" : luaL_checklstring(L, 3, &vlen);
    put_resp_header(L, r, name, nlen, value, vlen);
    return 0;
}

static void fill_resp_headers(lua_State *L) {
    lux_req *r = req(L);
    push_headers(L, r->resp_headers, r->nresp_headers);
}

static int resp_header_pairs(lua_State *L) {
    return pairs_of(L, fill_resp_headers);
}

/* lighty.r.req_env */

static magnet_env *env_find(lux_req *r, const char *name, size_t n) {
    magnet_env **head = magnet_req_env(r);
    for (magnet_env *e = head ? *head : NULL; e; e = e->next)
        if (e->name.len == n && memcmp(e->name.ptr, name, n) == 0)
            return e;
    return NULL;
}

static int req_env_get(lua_State *L) {
    size_t n;
    const char *name = luaL_checklstring(L, 2, &n);
    const magnet_env *e = env_find(req(L), name, n);
    if (e && e->value.ptr)
        lua_pushlstring(L, e->value.ptr, e->value.len);
    else
        lua_pushnil(L);
    return 1;
}

static int req_env_set(lua_State *L) {
    lux_req *r = req(L);
    size_t n, vlen = 0;
    const char *name = luaL_checklstring(L, 2, &n);
    const char *value = lua_isnil(L, 3) ? NULL : luaL_checklstring(L, 3, &vlen);
    magnet_env *e = env_find(r, name, n);
    if (!e) {
        magnet_env **head = magnet_req_env(r);
        if (!head || !(e = lux_pool_alloc(r->pool, sizeof *e)))
            return luaL_error(L, "out of memory");
        e->name = pool_str(L, r, name, n);
        e->next = *head;
        *head = e;
    }
    e->value = value ? pool_str(L, r, value, vlen) : (lux_str){NULL, 0};
    return 0;
}

static void fill_env(lua_State *L) {
    magnet_env **head = magnet_req_env(req(L));
    lua_newtable(L);
    for (magnet_env *e = head ? *head : NULL; e; e = e->next) {
        if (!e->value.ptr)
            continue;
        lua_pushlstring(L, e->name.ptr, e->name.len);
        lua_pushlstring(L, e->value.ptr, e->value.len);
        lua_settable(L, -3);
    }
}

static int req_env_pairs(lua_State *L) {
    return pairs_of(L, fill_env);
}

/* lighty.r.req_attr */

static void push_str(lua_State *L, lux_str s) {
    if (s.ptr)
        lua_pushlstring(L, s.ptr, s.len);
    else
        lua_pushnil(L);
}

/* The path part of r->uri, as received (still encoded). */
static lux_str raw_path(const lux_req *r) {
    const char *q = memchr(r->uri.ptr, '?', r->uri.len);
    return (lux_str){r->uri.ptr, q ? (size_t)(q - r->uri.ptr) : r->uri.len};
}

static void push_local_addr(lua_State *L, lux_req *r) {
    const char *name = lux_req_local_name(r);
    if (!name) {
        lua_pushnil(L);
        return;
    }
    const char *colon = strrchr(name, ':');
    size_t n = colon && strncmp(name, "unix:", 5) != 0 ? (size_t)(colon - name) : strlen(name);
    if (n >= 2 && name[0] == '[')
        lua_pushlstring(L, name + 1, n - 2);
    else
        lua_pushlstring(L, name, n);
}

static const char *const attr_names[] = {
    "physical.path",
    "physical.rel-path",
    "physical.doc-root",
    "physical.basedir",
    "uri.path",
    "uri.path-raw",
    "uri.scheme",
    "uri.authority",
    "uri.query",
    "request.method",
    "request.uri",
    "request.orig-uri",
    "request.path-info",
    "request.remote-ip",
    "request.remote-addr",
    "request.remote-port",
    "request.server-addr",
    "request.server-port",
    "request.protocol",
    "request.server-name",
    "request.stage",
    "response.http-status",
    "response.body-length",
    "response.body",
    NULL,
};

enum {
    A_PHYS_PATH,
    A_PHYS_REL,
    A_PHYS_DOCROOT,
    A_PHYS_BASEDIR,
    A_URI_PATH,
    A_URI_PATH_RAW,
    A_URI_SCHEME,
    A_URI_AUTHORITY,
    A_URI_QUERY,
    A_METHOD,
    A_REQ_URI,
    A_ORIG_URI,
    A_PATH_INFO,
    A_REMOTE_IP,
    A_REMOTE_ADDR,
    A_REMOTE_PORT,
    A_SERVER_ADDR,
    A_SERVER_PORT,
    A_PROTOCOL,
    A_SERVER_NAME,
    A_STAGE,
    A_STATUS,
    A_BODY_LENGTH,
    A_BODY,
};

static int attr_index(lua_State *L) {
    const char *name = luaL_checkstring(L, 2);
    for (int i = 0; attr_names[i]; i++)
        if (strcmp(attr_names[i], name) == 0)
            return i;
    return -1;
}

static lux_str rel_path(const lux_req *r) {
    if (!r->physical.ptr || !r->docroot.ptr || r->physical.len < r->docroot.len)
        return (lux_str){NULL, 0};
    return (lux_str){r->physical.ptr + r->docroot.len, r->physical.len - r->docroot.len};
}

static void push_body(lua_State *L, const lux_req *r);

static void push_attr(lua_State *L, lux_req *r, int which) {
    switch (which) {
    case A_PHYS_PATH:
        push_str(L, r->physical);
        break;
    case A_PHYS_REL:
        push_str(L, rel_path(r));
        break;
    case A_PHYS_DOCROOT:
    case A_PHYS_BASEDIR:
        push_str(L, r->docroot);
        break;
    case A_URI_PATH:
        push_str(L, r->path);
        break;
    case A_URI_PATH_RAW:
        push_str(L, raw_path(r));
        break;
    case A_URI_SCHEME:
        push_str(L, r->scheme);
        break;
    case A_URI_AUTHORITY:
    case A_SERVER_NAME:
        push_str(L, r->host);
        break;
    case A_URI_QUERY:
        push_str(L, r->query);
        break;
    case A_METHOD:
        push_str(L, r->method_str);
        break;
    case A_REQ_URI:
        push_str(L, r->uri);
        break;
    case A_ORIG_URI:
        push_str(L, r->target);
        break;
    case A_PATH_INFO:
        push_str(L, r->pathinfo);
        break;
    case A_REMOTE_IP:
    case A_REMOTE_ADDR:
        lua_pushstring(L, lux_req_remote_ip(r));
        break;
    case A_REMOTE_PORT: /* strings, as lighttpd gives them */
        lua_pushfstring(L, "%d", lux_req_remote_port(r));
        break;
    case A_SERVER_ADDR:
        push_local_addr(L, r);
        break;
    case A_SERVER_PORT:
        lua_pushfstring(L, "%d", lux_req_local_port(r));
        break;
    case A_PROTOCOL:
        lua_pushstring(L, lux_req_protocol(r));
        break;
    case A_STAGE: /* every hook of mod_magnet runs while lighttpd is in this stage */
        lua_pushliteral(L, "handle-req");
        break;
    case A_STATUS:
        lua_pushinteger(L, r->status);
        break;
    case A_BODY_LENGTH:
        if (r->body)
            lua_pushinteger(L, (lua_Integer)r->body_len);
        else
            lua_pushnil(L);
        break;
    case A_BODY:
        push_body(L, r);
        break;
    default:
        lua_pushnil(L);
        break;
    }
}

static int req_attr_get(lua_State *L) {
    push_attr(L, req(L), attr_index(L));
    return 1;
}

/* Percent-encode what a path may not carry as received: lux_req_set_uri decodes it again. */
static void push_encoded_path(lua_State *L, const char *p, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f || c == '%' || c == '?' || c == '#') {
            luaL_addchar(&b, '%');
            luaL_addchar(&b, hex[c >> 4]);
            luaL_addchar(&b, hex[c & 15]);
        } else {
            luaL_addchar(&b, (char)c);
        }
    }
    luaL_pushresult(&b);
}

/* Replace the URI from an encoded path and a query (ptr NULL: none). */
static void set_uri(lua_State *L, lux_req *r, const char *path, size_t plen, lux_str query) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, path, plen);
    if (query.ptr) {
        luaL_addchar(&b, '?');
        luaL_addlstring(&b, query.ptr, query.len);
    }
    luaL_pushresult(&b);
    size_t n;
    const char *uri = lua_tolstring(L, -1, &n);
    if (n == 0 || uri[0] != '/' || lux_req_set_uri(r, uri, n) != 0)
        luaL_error(L, "invalid URI \"%s\"", uri);
    lua_pop(L, 1);
}

static void set_uri_path(lua_State *L, lux_req *r, const char *p, size_t n) {
    push_encoded_path(L, p, n);
    size_t len;
    const char *enc = lua_tolstring(L, -1, &len);
    set_uri(L, r, enc, len, r->query);
    lua_pop(L, 1);
}

static void set_uri_query(lua_State *L, lux_req *r, const char *q, size_t n, int present) {
    lux_str path = raw_path(r);
    lua_pushlstring(L, path.ptr, path.len); /* r->uri is replaced under it */
    size_t plen;
    const char *p = lua_tolstring(L, -1, &plen);
    set_uri(L, r, p, plen, present ? (lux_str){q, n} : (lux_str){NULL, 0});
    lua_pop(L, 1);
}

static int req_attr_set(lua_State *L) {
    lux_req *r = req(L);
    int which = attr_index(L);
    size_t n = 0;
    const char *v = lua_isnil(L, 3) ? NULL : luaL_checklstring(L, 3, &n);
    switch (which) {
    case A_PHYS_PATH:
        if (!v || n == 0)
            return luaL_error(L, "physical.path may not be empty");
        r->physical = pool_str(L, r, v, n);
        return 0;
    case A_PHYS_DOCROOT:
    case A_PHYS_BASEDIR:
        r->docroot = v ? pool_str(L, r, v, n) : (lux_str){NULL, 0};
        return 0;
    case A_URI_PATH:
        if (!v || n == 0 || v[0] != '/')
            return luaL_error(L, "uri.path must begin with '/'");
        set_uri_path(L, r, v, n);
        return 0;
    case A_REQ_URI:
        if (!v || n == 0 || v[0] != '/' || lux_req_set_uri(r, pool_str(L, r, v, n).ptr, n) != 0)
            return luaL_error(L, "invalid request.uri \"%s\"", v ? v : "");
        return 0;
    case A_URI_QUERY:
        set_uri_query(L, r, v, n, v != NULL);
        return 0;
    case A_URI_AUTHORITY:
        if (v && has_crlf(v, n))
            return luaL_error(L, "invalid uri.authority");
        r->host = v ? pool_str(L, r, v, n) : (lux_str){NULL, 0};
        return 0;
    case A_URI_SCHEME:
        if (!v || (strcmp(v, "http") != 0 && strcmp(v, "https") != 0))
            return luaL_error(L, "uri.scheme must be \"http\" or \"https\"");
        r->scheme = pool_str(L, r, v, n);
        return 0;
    case A_PATH_INFO:
        r->pathinfo = v ? pool_str(L, r, v, n) : (lux_str){NULL, 0};
        return 0;
    case A_STATUS: {
        lua_Integer s = luaL_checkinteger(L, 3);
        if (s < 100 || s > 999)
            return luaL_error(L, "response.http-status %d is not a status", (int)s);
        r->status = (int)s;
        return 0;
    }
    default:
        return luaL_error(L, "lighty.r.req_attr[\"%s\"] cannot be set", luaL_checkstring(L, 2));
    }
}

static void fill_attrs(lua_State *L) {
    lux_req *r = req(L);
    lua_newtable(L);
    for (int i = 0; attr_names[i]; i++) {
        push_attr(L, r, i);
        lua_setfield(L, -2, attr_names[i]);
    }
}

static int req_attr_pairs(lua_State *L) {
    return pairs_of(L, fill_attrs);
}

/* lighty.r.req_item: facts about the request and its connection. */

/* The request head's size as it came: its line, its fields and the blank line (HTTP/1
 * spelling; what lighttpd counts for HTTP/2 differs by the compression). */
static lua_Integer head_length(const lux_req *r) {
    if (!r->method_str.ptr)
        return 0;
    lua_Integer n = (lua_Integer)(r->method_str.len + 1 + r->target.len + 1 + 8 + 2 + 2);
    for (size_t i = 0; i < r->nheaders; i++)
        n += (lua_Integer)(r->headers[i].name.len + 2 + r->headers[i].value.len + 2);
    return n;
}

static int start_time_fn(lua_State *L) {
    lux_req *r = req(L);
    lua_pushinteger(L, (lua_Integer)r->start.tv_sec);
    lua_pushinteger(L, (lua_Integer)r->start.tv_nsec);
    return 2;
}

static int req_item_get(lua_State *L) {
    lux_req *r = req(L);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "keep_alive") == 0)
        lua_pushinteger(L, !r->conn_closes);
    else if (strcmp(k, "bytes_in") == 0 || strcmp(k, "req_header_len") == 0)
        lua_pushinteger(L, head_length(r));
    else if (strcmp(k, "bytes_out") == 0)
        lua_pushinteger(L, (lua_Integer)r->bytes_sent);
    else if (strcmp(k, "resp_header_len") == 0)
        lua_pushinteger(L, (lua_Integer)(r->bytes_sent - r->body_sent));
    else if (strcmp(k, "req_count") == 0) /* this request counts while it runs */
        lua_pushinteger(L, (lua_Integer)lux_req_conn_requests(r) + !r->complete);
    else if (strcmp(k, "stream_id") == 0) /* HTTP/1: 0 */
        lua_pushinteger(L, (lua_Integer)lux_req_stream_id(r));
    else if (strcmp(k, "start_time") == 0)
        lua_pushcfunction(L, start_time_fn);
    else if (strcmp(k, "http_status") == 0) /* 0 until the response has one */
        lua_pushinteger(L, r->status);
    else
        return luaL_error(L, "r.req_item['%s'] invalid", k);
    return 1;
}

/* Only keep_alive can be set: 0 closes the connection after this response. */
static int req_item_set(lua_State *L) {
    lux_req *r = req(L);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "keep_alive") != 0)
        return luaL_error(L, "r.req_item['%s'] invalid or read-only", k);
    if (luaL_checkinteger(L, 3) == 0)
        r->conn_closes = 1;
    return 0;
}

/* lighty.r.req_body: the request body as far as it came and no handler took it yet. */

static void push_req_body(lua_State *L, const lux_req *r) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (uint64_t off = 0;;) {
        char *dst = luaL_prepbuffsize(&b, LUAL_BUFFERSIZE);
        ssize_t n = lux_body_peek(r, off, dst, LUAL_BUFFERSIZE);
        if (n < 0)
            luaL_error(L, "cannot read the request body: %s", strerror(errno));
        if (n <= 0)
            break;
        luaL_addsize(&b, (size_t)n);
        off += (uint64_t)n;
    }
    luaL_pushresult(&b);
}

/* Methods take the body object first (resp_body:set(x)); a dot call passes only x. */
static int first_arg(lua_State *L) {
    return lua_gettop(L) >= 2 ? 2 : 1;
}

static void replace_req_body(lua_State *L, lux_req *r, const char *s, size_t n, int append) {
    if (lux_body_replace(r, s, n, append) < 0)
        luaL_error(L, "cannot change the request body: %s",
                   errno == EBUSY ? "it is not complete, or a handler read it" : strerror(errno));
}

static void put_req_body_piece(lua_State *L, lux_req *r, int i, int append) {
    size_t n;
    const char *s = lua_tolstring(L, i, &n);
    if (!s)
        luaL_error(L, "r.req_body pieces must be strings, not %s", luaL_typename(L, i));
    replace_req_body(L, r, s, n, append);
}

/* A string or an array of strings; set starts afresh, add appends. */
static int req_body_change(lua_State *L, int append) {
    lux_req *r = req(L);
    int i = first_arg(L);
    if (lua_type(L, i) != LUA_TTABLE) {
        put_req_body_piece(L, r, i, append);
        return 0;
    }
    if (!append)
        replace_req_body(L, r, "", 0, 0);
    lua_Integer n = (lua_Integer)lua_rawlen(L, i);
    for (lua_Integer k = 1; k <= n; k++) {
        lua_rawgeti(L, i, k);
        put_req_body_piece(L, r, lua_gettop(L), 1);
        lua_pop(L, 1);
    }
    return 0;
}

static int req_body_set_fn(lua_State *L) {
    return req_body_change(L, 0);
}

static int req_body_add_fn(lua_State *L) {
    return req_body_change(L, 1);
}

/* .len is the body's length (-1 while unknown), .collect whether all of it is here, .get the
 * body once it is (nil before), .bytes_in what came, .bytes_out what a handler took. With
 * server.stream-request-body = 0, the default, the body is complete before any script runs. */
static int req_body_get(lua_State *L) {
    lux_req *r = req(L);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "len") == 0)
        lua_pushinteger(L, (lua_Integer)lux_body_length(r));
    else if (strcmp(k, "collect") == 0)
        lua_pushboolean(L, lux_body_complete(r));
    else if (strcmp(k, "get") == 0 && lux_body_complete(r))
        push_req_body(L, r);
    else if (strcmp(k, "get") == 0)
        lua_pushnil(L);
    else if (strcmp(k, "bytes_in") == 0)
        lua_pushinteger(L, (lua_Integer)lux_body_received(r));
    else if (strcmp(k, "bytes_out") == 0)
        lua_pushinteger(L, (lua_Integer)lux_body_taken(r));
    else if (strcmp(k, "set") == 0)
        lua_pushcfunction(L, req_body_set_fn);
    else if (strcmp(k, "add") == 0)
        lua_pushcfunction(L, req_body_add_fn);
    else
        return luaL_error(L, "r.req_body invalid method or param \"%s\"", k);
    return 1;
}

/* lighty.r.resp_body */

static void push_body(lua_State *L, const lux_req *r) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (const lux_chunk *c = r->body; c; c = c->next) {
        if (c->mem) {
            luaL_addlstring(&b, c->mem + c->off, c->len);
            continue;
        }
        const lux_file *f = c->file;
        if (f->content) {
            luaL_addlstring(&b, f->content + c->off, c->len);
            continue;
        }
        for (uint64_t done = 0; done < c->len;) {
            size_t want = c->len - done < LUAL_BUFFERSIZE ? c->len - done : LUAL_BUFFERSIZE;
            char *dst = luaL_prepbuffsize(&b, want);
            ssize_t got = pread(f->fd, dst, want, (off_t)(c->off + done));
            if (got <= 0)
                break;
            luaL_addsize(&b, (size_t)got);
            done += (uint64_t)got;
        }
    }
    luaL_pushresult(&b);
}

static int field_int(lua_State *L, int t, const char *name, lua_Integer dflt, lua_Integer *out) {
    int type = lua_getfield(L, t, name);
    int ok = 1;
    if (type == LUA_TNIL)
        *out = dflt;
    else
        *out = lua_tointegerx(L, -1, &ok);
    lua_pop(L, 1);
    return ok;
}

/* { filename = "/path", offset = n, length = n }: a file piece of the body. */
static void add_file(lua_State *L, lux_req *r, int t) {
    if (lua_getfield(L, t, "filename") != LUA_TSTRING)
        luaL_error(L, "a body piece table needs filename = \"/path\"");
    size_t n;
    const char *path = lua_tolstring(L, -1, &n);
    const lux_core_conf *core = r->confs[0];
    lux_file *f = lux_stat_cache_open(r->worker, path, n, core->follow_symlink);
    if (!f || !S_ISREG(f->mode)) {
        lux_file_unref(f);
        luaL_error(L, "cannot open %s", path);
    }
    lua_Integer off = 0, len = 0;
    int ok = field_int(L, t, "offset", 0, &off) &&
             field_int(L, t, "length", (lua_Integer)f->size - off, &len);
    if (!ok || off < 0 || len < 0 || (uint64_t)off > f->size || (uint64_t)len > f->size - off) {
        lux_file_unref(f);
        luaL_error(L, "bad offset or length for %s", path);
    }
    int rc = len ? lux_resp_body_file(r, f, (uint64_t)off, (uint64_t)len) : 0;
    lux_file_unref(f);
    if (rc < 0)
        luaL_error(L, "out of memory");
    lua_pop(L, 1);
}

static void add_piece(lua_State *L, lux_req *r, int i) {
    if (lua_type(L, i) == LUA_TTABLE) {
        add_file(L, r, i);
        return;
    }
    size_t n;
    const char *s = lua_tolstring(L, i, &n);
    if (!s)
        luaL_error(L, "a body piece must be a string or { filename = ... }, not %s",
                   luaL_typename(L, i));
    if (n && lux_resp_body_copy(r, s, n) < 0)
        luaL_error(L, "out of memory");
}

/* A string, a file table, or an array of them (lighttpd accepts all three). */
static void add_pieces(lua_State *L, lux_req *r, int i) {
    i = lua_absindex(L, i);
    lua_getfield(L, i, "filename");
    int is_file = lua_type(L, i) == LUA_TTABLE && !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (lua_type(L, i) != LUA_TTABLE || is_file) {
        add_piece(L, r, i);
    } else {
        lua_Integer n = (lua_Integer)lua_rawlen(L, i);
        for (lua_Integer k = 1; k <= n; k++) {
            lua_rawgeti(L, i, k);
            add_piece(L, r, lua_gettop(L));
            lua_pop(L, 1);
        }
    }
    r->has_content_length = 1;
    body_set = 1;
}

static int body_set_fn(lua_State *L) {
    lux_req *r = req(L);
    lux_resp_body_reset(r);
    add_pieces(L, r, first_arg(L));
    return 0;
}

static int body_add_fn(lua_State *L) {
    add_pieces(L, req(L), first_arg(L));
    return 0;
}

/* .get is the body itself and .len its length (fields, not methods, as in lighttpd);
 * .bytes_in counts what the response produced, .bytes_out what was sent of it. */
static int resp_body_get(lua_State *L) {
    lux_req *r = req(L);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "get") == 0)
        push_body(L, r);
    else if (strcmp(k, "len") == 0 || strcmp(k, "bytes_in") == 0)
        lua_pushinteger(L, (lua_Integer)r->body_len);
    else if (strcmp(k, "bytes_out") == 0)
        lua_pushinteger(L, (lua_Integer)r->body_sent);
    else if (strcmp(k, "set") == 0)
        lua_pushcfunction(L, body_set_fn);
    else if (strcmp(k, "add") == 0)
        lua_pushcfunction(L, body_add_fn);
    else
        return luaL_error(L, "r.resp_body invalid method or param \"%s\"", k);
    return 1;
}

/* lighty.c.stat's request fields */

/* Reading stat(path)["http-response-send-file"] answers with the file as mod_staticfile would
 * (validators, ranges, Content-Type) and gives the status, nil when the file cannot be sent. */
static int stat_send_file(lua_State *L) {
    lux_req *r = req(L);
    if (strcmp(luaL_checkstring(L, 2), "http-response-send-file") != 0)
        return 0;
    size_t n;
    const char *path = lua_tolstring(L, lua_upvalueindex(1), &n);
    const lux_core_conf *core = r->confs[0];
    lux_file *f = path ? lux_stat_cache_open(r->worker, path, n, core->follow_symlink) : NULL;
    if (!f || !S_ISREG(f->mode)) {
        lux_file_unref(f);
        lua_pushnil(L);
        return 1;
    }
    lux_resp_body_reset(r);
    lux_static_answer(r, f, &(lux_str){path, n}, 0);
    lux_file_unref(f);
    body_set = 1;
    lua_pushinteger(L, r->status);
    return 1;
}

void magnet_stat_request_fields(lua_State *L, const char *path, const struct stat *st) {
    lux_req *r = bound;
    if (!r)
        return;
    const lux_core_conf *core = r->confs[0];
    unsigned flags = (core->etag_use_inode ? LUX_ETAG_USE_INODE : 0) |
                     (core->etag_use_mtime ? LUX_ETAG_USE_MTIME : 0) |
                     (core->etag_use_size ? LUX_ETAG_USE_SIZE : 0);
    char etag[LUX_ETAG_MAX + 1];
    size_t len = lux_etag_make(etag, flags, st->st_ino, st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                               (uint64_t)st->st_size);
    if (len) {
        lua_pushlstring(L, etag, len);
        lua_setfield(L, -2, "etag");
    }
    const char *type =
        S_ISREG(st->st_mode)
            ? lux_mimetype_lookup(core->mimetypes.items, core->mimetypes.n, path, strlen(path))
            : NULL;
    if (type && *type) {
        lua_pushstring(L, type);
        lua_setfield(L, -2, "content-type");
    }
    lua_createtable(L, 0, 1);
    lua_pushstring(L, path);
    lua_pushcclosure(L, stat_send_file, 1);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}

/* lighty.server.stats: the server's age in seconds, its name and version, the connections
 * open on all workers. */
static int server_stats_get(lua_State *L) {
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "uptime") == 0) {
        lua_pushinteger(L, (lua_Integer)(lux_req_now(req(L)) - lux_stats_start_time()));
    } else if (strcmp(k, "version") == 0) {
        lua_pushliteral(L, "lux/" LUX_VERSION);
    } else if (strcmp(k, "clients_open") == 0) {
        lux_stats_totals t;
        lux_stats_sum(&t);
        int64_t open = 0;
        for (int i = 0; i < LUX_STATS_NSTATES; i++)
            open += t.conns[i];
        lua_pushinteger(L, (lua_Integer)open);
    } else {
        return luaL_error(L, "server.stats['%s'] invalid", k);
    }
    return 1;
}

/* lighty.server.plugin_stats (and its old name lighty.status): the server's named counters.
 * Reading a name makes it, at 0, as in lighttpd; values are integers. */
static int plugin_stat_of(lua_State *L) {
    size_t n;
    const char *name = luaL_checklstring(L, 2, &n);
    int id = lux_plugin_stat(name, n);
    if (id < 0)
        luaL_error(L, "plugin_stats[\"%s\"]: empty, longer than %d bytes, or no room for more",
                   name, LUX_PLUGIN_STAT_NAME_MAX);
    return id;
}

static int plugin_stats_get(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lux_plugin_stat_get(plugin_stat_of(L)));
    return 1;
}

static int plugin_stats_set(lua_State *L) {
    int id = plugin_stat_of(L);
    if (!lua_isinteger(L, 3))
        return luaL_error(L, "plugin_stats values are integers, not %s", luaL_typename(L, 3));
    lux_plugin_stat_set(id, (int64_t)lua_tointeger(L, 3));
    return 0;
}

static void fill_plugin_stats(lua_State *L) {
    size_t n = lux_plugin_stats_count();
    lua_createtable(L, 0, (int)n);
    for (size_t i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)lux_plugin_stat_get((int)i));
        lua_setfield(L, -2, lux_plugin_stat_name((int)i));
    }
}

static int plugin_stats_pairs(lua_State *L) {
    return pairs_of(L, fill_plugin_stats);
}

static int read_only(lua_State *L) {
    return luaL_error(L, "this table cannot be assigned to");
}

/* What lighttpd has and lux does not (lighty.server.irequests): a call names it. */
static int unavailable(lua_State *L) {
    return luaL_error(L, "%s is not available in lux", lua_tostring(L, lua_upvalueindex(1)));
}

static void push_proxy(lua_State *L, lua_CFunction get, lua_CFunction set, lua_CFunction pairs) {
    lua_newtable(L);
    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, get);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, set ? set : read_only);
    lua_setfield(L, -2, "__newindex");
    if (pairs) {
        lua_pushcfunction(L, pairs);
        lua_setfield(L, -2, "__pairs");
    }
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

void magnet_api_open(lua_State *L) {
    lua_newtable(L); /* lighty */
    int lighty = lua_gettop(L);

    lua_newtable(L); /* lighty.r */
    push_proxy(L, req_header_get, req_header_set, req_header_pairs);
    lua_pushvalue(L, -1);
    lua_setfield(L, lighty, "request");
    lua_setfield(L, -2, "req_header");
    push_proxy(L, req_attr_get, req_attr_set, req_attr_pairs);
    lua_pushvalue(L, -1);
    lua_setfield(L, lighty, "env");
    lua_setfield(L, -2, "req_attr");
    push_proxy(L, req_env_get, req_env_set, req_env_pairs);
    lua_pushvalue(L, -1);
    lua_setfield(L, lighty, "req_env");
    lua_setfield(L, -2, "req_env");
    push_proxy(L, resp_header_get, resp_header_set, resp_header_pairs);
    lua_setfield(L, -2, "resp_header");
    push_proxy(L, resp_body_get, NULL, NULL);
    lua_setfield(L, -2, "resp_body");
    push_proxy(L, req_body_get, NULL, NULL);
    lua_setfield(L, -2, "req_body");
    push_proxy(L, req_item_get, req_item_set, NULL);
    lua_setfield(L, -2, "req_item");
    lua_setfield(L, lighty, "r");

    lua_newtable(L); /* lighty.c */
    magnet_lib_open(L);
    lua_getfield(L, -1, "stat"); /* lighty.stat, its old name */
    lua_setfield(L, lighty, "stat");
    lua_setfield(L, lighty, "c");

    lua_newtable(L); /* lighty.server */
    push_proxy(L, server_stats_get, NULL, NULL);
    lua_setfield(L, -2, "stats");
    push_proxy(L, plugin_stats_get, plugin_stats_set, plugin_stats_pairs);
    lua_pushvalue(L, -1);
    lua_setfield(L, lighty, "status");
    lua_setfield(L, -2, "plugin_stats");
    lua_pushliteral(L, "lighty.server.irequests");
    lua_pushcclosure(L, unavailable, 1);
    lua_setfield(L, -2, "irequests");
    lua_setfield(L, lighty, "server");
    lua_pushinteger(L, MAGNET_RESTART_REQUEST);
    lua_setfield(L, lighty, "RESTART_REQUEST");
    lua_setglobal(L, "lighty");
}

int magnet_api_begin(lua_State *L) {
    lua_getglobal(L, "lighty");
    lua_newtable(L);
    lua_setfield(L, -2, "header");
    lua_pushnil(L);
    lua_setfield(L, -2, "content");
    lua_pop(L, 1);
    return 0;
}

/* lighty.header: name => value pairs for the response. */
static void apply_old_headers(lua_State *L, lux_req *r, int lighty) {
    if (lua_getfield(L, lighty, "header") != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    int t = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        size_t nlen, vlen;
        const char *name = lua_tolstring(L, -2, &nlen);
        const char *value = lua_tolstring(L, -1, &vlen);
        if (lua_type(L, -2) != LUA_TSTRING || !value)
            luaL_error(L, "lighty.header needs string names and values");
        put_resp_header(L, r, name, nlen, value, vlen);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* lighty.content: an array of strings and { filename = ... } tables. */
static void apply_old_content(lua_State *L, lux_req *r, int lighty) {
    if (lua_getfield(L, lighty, "content") == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "lighty.content must be a table");
    lux_resp_body_reset(r);
    add_pieces(L, r, -1);
    lua_pop(L, 1);
}

int magnet_api_finish(lua_State *L) {
    lux_req *r = req(L);
    lua_getglobal(L, "lighty");
    int lighty = lua_gettop(L);
    apply_old_headers(L, r, lighty);
    apply_old_content(L, r, lighty);
    lua_pop(L, 1);
    return 0;
}
