/*
 * A config generation: the parsed tree turned into typed module settings, the hook slots, and
 * the listener specs. Immutable once built; shared by all workers, refcounted so that a reload
 * (SIGUSR1) can publish a new one while requests on the old one finish.
 */
#ifndef LUX_GEN_H
#define LUX_GEN_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/pool.h"
#include "lux/conf.h"
#include "lux/module.h"

/* One directive value set inside a conditional block. */
typedef struct {
    unsigned module; /* index in gen->modules */
    const lux_directive *dir;
    const void *value; /* dir's storage bytes */
} lux_patch;

typedef struct {
    const lux_conf_block *block;
    lux_patch *patches;
    size_t npatches;
} lux_block_patches;

/* A listening socket to open, from server.bind/port and $SERVER["socket"] blocks. */
typedef struct {
    char *spec; /* "127.0.0.1:8080", "[::1]:80", ":81", "unix:/path" */
    int is_main;
    struct ssl_ctx_st *tls; /* the TLS context when the listener speaks TLS (mod_openssl) */
} lux_listen_spec;

#define LUX_MAX_MODULES 64

/* The hook slots: for each hook, the indexes of the modules that implement it, in order. */
typedef enum {
    LUX_HOOK_URI_RAW,
    LUX_HOOK_URI_CLEAN,
    LUX_HOOK_DOCROOT,
    LUX_HOOK_PHYSICAL,
    LUX_HOOK_PREPARE,
    LUX_HOOK_HANDLE,
    LUX_HOOK_RESPONSE_START,
    LUX_HOOK_REQUEST_DONE,
    LUX_HOOK_COUNT
} lux_hook;

typedef struct lux_gen_cleanup lux_gen_cleanup;

/* lux_gen_build flags */
enum { LUX_GEN_TEST_ONLY = 1 };

struct lux_gen {
    _Atomic long refs;
    unsigned flags;
    /* Unique among the generations of this process, from 1: tells what was cached under one
     * generation apart from any other, even one built later at the same address. */
    uint64_t serial;
    lux_conf_tree *tree;
    lux_pool pool;
    const lux_module *modules[LUX_MAX_MODULES];
    void *global_conf[LUX_MAX_MODULES];
    size_t nmodules;
    lux_block_patches *blocks; /* conditional blocks that patch settings, in config order */
    size_t nblocks;
    int has_physical_conds;
    unsigned hooks[LUX_HOOK_COUNT][LUX_MAX_MODULES];
    unsigned nhooks[LUX_HOOK_COUNT];
    lux_gen_cleanup *cleanups;
    lux_gen_cleanup *reopeners;
    lux_gen_cleanup *watchers;
    lux_listen_spec *listens;
    size_t nlistens;
    int has_tls;                /* some listener speaks TLS */
    struct lux_core_conf *core; /* == global_conf[0] */
};

/*
 * Build a generation from a loaded tree (takes ownership of it). Warnings (unknown keys) are
 * logged to stderr as "file:line: ..."; errors return NULL with "file:line: ..." in err.
 */
lux_gen *lux_gen_build(lux_conf_tree *tree, unsigned flags, char *err, size_t errlen);
lux_gen *lux_gen_ref(lux_gen *g);
void lux_gen_unref(lux_gen *g);

/* Run hook h of every module implementing it until one answers other than LUX_GO_ON. */
lux_result lux_gen_run_hook(lux_req *r, lux_hook h);
/* The same from the module at *pos of the hook's list; *pos is left at the module whose result
 * ended the run (LUX_ASYNC: the one that took the request), or at the end. */
lux_result lux_gen_run_hook_from(lux_req *r, lux_hook h, unsigned *pos);

/* SIGHUP: run the reopen callbacks modules registered. */
void lux_gen_reopen(lux_gen *g);
/* Each second and on SIGCHLD: run the watch callbacks modules registered. */
void lux_gen_watch(lux_gen *g);

/* Index of module m in g, or -1 if not enabled. */
int lux_gen_module_index(const lux_gen *g, const lux_module *m);
/* Module m's settings (size bytes) for connections on `listener`, before any request: the
 * global ones, patched by the $SERVER["socket"] blocks naming it, in config order. */
void lux_gen_listener_conf(const lux_gen *g, unsigned m, const char *listener, void *out,
                           size_t size);

/* Modules every generation enables after the listed ones, NULL-terminated. */
extern const char *const lux_gen_default_modules[];
/* The module a key guards access or TLS for (lux stops when that module does not take the key),
 * or NULL when the key guards nothing. */
const char *lux_gen_guarding_module(const char *key);

/* The modules lux knows, built in. */
extern const lux_module *const lux_builtin_modules[];
/* Modules a binary links in beside the built-in ones, NULL-terminated: the test binary's test
 * modules (tests/modules/). lux itself defines none. */
extern const lux_module *const lux_extra_modules[] __attribute__((weak));

/* Generic directive setters, usable by custom parse functions. */
int lux_parse_bool(const lux_value *v, int *out);
/* Bytes of storage a directive's value takes in a settings struct. */
size_t lux_directive_size(const lux_directive *d);

#endif
