/*
 * What the unit tests of request building share: a configuration generation made from config
 * text, and a bare request (no connection, no stream) on a test's pool, as the protocols fill
 * in. Include after t.h.
 */
#ifndef T_REQ_H
#define T_REQ_H

#include <stdio.h>
#include <string.h>

#include "core/gen.h"
#include "core/pool.h"
#include "lux/conf.h"
#include "lux/req.h"

/* The generation `conf` builds, or NULL with the reason on stderr. */
static inline lux_gen *t_gen_of(const char *conf) {
    char err[256];
    lux_conf_tree *t = lux_conf_load_string(conf, strlen(conf), "test.conf", err, sizeof err);
    lux_gen *g = t ? lux_gen_build(t, 0, err, sizeof err) : NULL;
    if (!g)
        fprintf(stderr, "config: %s\n", err);
    return g;
}

/* A request of generation g whose strings go to pool, with nothing parsed into it yet. */
static inline lux_req t_bare_req(lux_pool *pool, lux_gen *g) {
    lux_req r;
    memset(&r, 0, sizeof r);
    r.pool = pool;
    r.gen = g;
    r.content_length = -1;
    return r;
}

#endif
