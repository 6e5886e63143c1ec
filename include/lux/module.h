/*
 * The module API. A module is a static, read-only table: its name (lighttpd's, e.g.
 * "mod_staticfile"), the directives it owns, the size of its settings struct, and the hooks it
 * implements. At start-up the registry builds one array per hook holding only the modules that
 * implement it, so a request never asks a module that has nothing to say.
 *
 * Settings: every module has one settings struct (conf_size bytes). The registry fills a copy
 * with defaults (conf_init), then the global block's values, then finishes it (conf_finish). For
 * each conditional block that sets one of the module's directives it records a patch; a request
 * starts from the global copy and applies the patches of the blocks whose conditions hold, in
 * config order. Hooks receive the effective settings for their request.
 */
#ifndef LUX_MODULE_H
#define LUX_MODULE_H

#include <stddef.h>

#include "lux/conf.h"
#include "lux/timer.h"

/*
 * The module API's version: it moves whenever a change to include/lux/ breaks modules built
 * before it (a field removed or moved, a hook's meaning changed). A loaded module built for
 * another version is refused.
 */
#define LUX_MODULE_API_VERSION 2

typedef struct lux_req lux_req;
typedef struct lux_gen lux_gen;

/* The one result vocabulary of hooks. */
typedef enum {
    LUX_GO_ON = 0,   /* not mine / nothing to do: the next module runs */
    LUX_HANDLED = 1, /* the request has a response (or a handler is set); stop this hook */
    LUX_RESTART = 2, /* r->uri was rewritten (lux_req_set_uri): run the request again from
                        the top with the new URI, conditions re-evaluated (not from
                        response_start or request_done) */
    LUX_ASYNC = 3,   /* the hook took the request and continues it later, from the same
                        worker's thread, with lux_req_resume() (lux/req.h) */
    LUX_ERROR = -1,  /* internal failure: answer 500 */
} lux_result;

typedef struct {
    const char *ptr; /* NUL-terminated, NULL when unset */
    size_t len;
} lux_str;

typedef struct {
    size_t n;
    lux_str *items;
} lux_strlist;

typedef enum {
    LUX_D_STRING,  /* lux_str */
    LUX_D_INT,     /* long; accepts an integer or a numeric string */
    LUX_D_BOOL,    /* int; "enable"/"disable", "true"/"false", "1"/"0", 1/0 */
    LUX_D_STRLIST, /* const lux_strlist *; a string or an array of strings */
    LUX_D_CUSTOM,  /* parse() fills `size` bytes */
    LUX_D_IGNORED, /* accepted for compatibility, has no effect in lux (warned once) */
} lux_dtype;

enum {
    LUX_SCOPE_GLOBAL = 1, /* may be set in the global block */
    LUX_SCOPE_COND = 2,   /* may be set inside conditions */
    LUX_SCOPE_SOCKET = 4, /* may be set inside $SERVER["socket"] (listener settings) */
    LUX_SCOPE_ANY = LUX_SCOPE_GLOBAL | LUX_SCOPE_COND | LUX_SCOPE_SOCKET,
};

/* Convert value v into dst; on failure write a message (without file:line) to err, return -1. */
typedef int (*lux_parse_fn)(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t errlen);

typedef struct {
    const char *name; /* "server.document-root" */
    lux_dtype type;
    size_t offset; /* into the module's settings struct */
    unsigned scope;
    lux_parse_fn parse; /* LUX_D_CUSTOM only */
    size_t size;        /* LUX_D_CUSTOM only: bytes written by parse */
} lux_directive;

/*
 * The sizes of the public structs a module touches, as the headers it was built with had them:
 * a loaded module whose sizes differ from lux's was built against other headers and is refused
 * even when the version matches (a field added without moving the version). Set with
 * .abi = LUX_MODULE_ABI.
 */
typedef struct {
    unsigned short module, directive, value, req, chunk, timer;
} lux_abi;

typedef struct lux_module lux_module;
struct lux_module {
    const char *name;
    unsigned api_version;            /* LUX_MODULE_API_VERSION */
    lux_abi abi;                     /* LUX_MODULE_ABI; checked for loaded modules */
    const lux_directive *directives; /* terminated by an entry with name == NULL */
    size_t conf_size;
    /* Fill defaults into a zeroed settings struct. */
    void (*conf_init)(void *conf);
    /* After the global block's values are in: validate, derive. Return -1 with err to refuse
     * the configuration. */
    int (*conf_finish)(lux_gen *gen, void *conf, char *err, size_t errlen);

    /* Hooks, in the order a request meets them. Each may be NULL. Modules run in the order of
     * server.modules. */

    /* The request line and headers are parsed, the URI normalised (r->uri, r->path, r->query,
     * r->host are set) and the config patched. URL rewrites (LUX_RESTART) and redirects
     * (LUX_HANDLED with a 3xx) belong here: they match r->uri, the URI with its query. */
    lux_result (*uri_raw)(lux_req *r, const void *conf);
    /* After the rewrites: decisions on the final path. Access checks belong here. */
    lux_result (*uri_clean)(lux_req *r, const void *conf);
    /* Choose the document root: a module may set r->docroot (virtual hosting); otherwise
     * server.document-root applies. */
    lux_result (*docroot)(lux_req *r, const void *conf);
    /* r->physical = document root + path is built but not yet looked at. A module may point it
     * elsewhere (mod_alias sets r->physical and r->docroot). */
    lux_result (*physical)(lux_req *r, const void *conf);
    /* The file is looked up: r->file is its stat-cache entry, or NULL with r->file_errno.
     * Index files (mod_indexfile) belong here. */
    lux_result (*prepare)(lux_req *r, const void *conf);
    /* Produce the response: the first module that returns LUX_HANDLED owns the request. Static
     * files come last. */
    lux_result (*handle)(lux_req *r, const void *conf);
    /* The response (status, headers, body) is complete and about to be serialised: add or
     * change headers here (mod_setenv, mod_expire). Runs for every response of the pipeline,
     * error pages included (not for requests refused before it: malformed heads). The result
     * is ignored. */
    lux_result (*response_start)(lux_req *r, const void *conf);
    /* The response has been sent, or the connection failed: access logging. Runs once for
     * every request, malformed ones included (their fields may be unset). The result is
     * ignored. */
    lux_result (*request_done)(lux_req *r, const void *conf);
};

/* One entry of a ( "key" => "value", ... ) setting. */
typedef struct {
    lux_str key, value;
} lux_keyval;

/*
 * Check that v is an array of "key" => "string" entries and return them as pairs, allocated in
 * gen's pool (the strings stay the config's). On a wrong shape writes `usage` to err and returns
 * NULL; an empty array gives a non-NULL result with *n == 0.
 */
const lux_keyval *lux_conf_keyvals(lux_gen *gen, const lux_value *v, size_t *n, const char *usage,
                                   char *err, size_t errlen);

/* The ABI stamp of the headers being compiled: `.abi = LUX_MODULE_ABI` in a module's table. */
#define LUX_MODULE_ABI                                                                             \
    {                                                                                              \
        sizeof(lux_module), sizeof(lux_directive), sizeof(lux_value), sizeof(struct lux_req),      \
            sizeof(lux_chunk), sizeof(lux_timer)                                                   \
    }

/* Settings of module m for request r (the effective, patched struct). */
const void *lux_req_conf(const lux_req *r, const lux_module *m);

/*
 * The regex captures a setting of module m may refer to as %0..%9: those of the conditional
 * block that last patched m's settings for this request, or of its nearest enclosing block
 * with captures (lighttpd's rule). NULL when there are none.
 */
const lux_cond_captures *lux_req_captures(const lux_req *r, const lux_module *m);

/* Release ptr with fn when generation gen is freed (compiled regexes, tables). 0 or -1. */
int lux_gen_on_free(lux_gen *gen, void (*fn)(void *), void *ptr);
/* Is gen built only to check the configuration (lux -t / -p)? Then a parse function must not
 * create files, start programs or otherwise act on the system. */
int lux_gen_test_only(const lux_gen *gen);
/* Call fn(ptr) from the main thread on SIGHUP while gen is current (reopen log files). */
int lux_gen_on_reopen(lux_gen *gen, void (*fn)(void *), void *ptr);
/* Call fn(ptr) from the main thread about once a second and when a child process exited,
 * while gen is current and the server runs (processes a module keeps running). */
int lux_gen_on_watch(lux_gen *gen, void (*fn)(void *), void *ptr);

#endif

/* LUX_MODULE_ABI measures the request, so a module that includes only this header gets it too. */
#include "lux/req.h"
