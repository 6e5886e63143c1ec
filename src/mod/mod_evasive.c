/*
 * mod_evasive: lighttpd's limit of concurrent connections per client address
 * (evasive.max-conns-per-ip), mapped onto lux's own per-address table (src/net/peer_table.c).
 * The connection is checked once, when it is admitted (after a PROXY header names the
 * client), not per request; a connection past the limit is answered as lighttpd 1.4.69's
 * mod_evasive answers, 403, or a 302 to evasive.location, and closed. evasive.silent keeps
 * the refusals out of the error log. The settings hold globally or per $SERVER["socket"], what
 * is known when a connection is admitted; a limit that changed per request could not be held
 * then, so other conditions are refused with a warning.
 */
#include <stddef.h>
#include <stdio.h>

#include "core/gen.h"
#include "lux/module.h"
#include "net/peer_table.h"

typedef struct {
    long max_conns;
    int silent;
    lux_str location;
} evasive_conf;

extern const lux_module lux_mod_evasive;

#define OFF(f) offsetof(evasive_conf, f)
static const lux_directive evasive_directives[] = {
    {"evasive.max-conns-per-ip", LUX_D_INT, OFF(max_conns), LUX_SCOPE_GLOBAL | LUX_SCOPE_SOCKET},
    {"evasive.silent", LUX_D_BOOL, OFF(silent), LUX_SCOPE_GLOBAL | LUX_SCOPE_SOCKET},
    {"evasive.location", LUX_D_STRING, OFF(location), LUX_SCOPE_GLOBAL | LUX_SCOPE_SOCKET},
    {NULL, 0, 0, 0},
};
#undef OFF

/* The Location goes into a response head as it is: no control characters. */
static int evasive_finish(lux_gen *gen, void *conf, char *err, size_t el) {
    const evasive_conf *c = conf;
    for (size_t i = 0; i < c->location.len; i++) {
        unsigned char ch = (unsigned char)c->location.ptr[i];
        if (ch < 0x20 || ch == 0x7F) {
            snprintf(err, el, "evasive.location: control characters are not allowed");
            return -1;
        }
    }
    return 0;
}

void lux_evasive_limit(const lux_gen *g, const char *listener, lux_peer_limit *out) {
    *out = (lux_peer_limit){0};
    int m = lux_gen_module_index(g, &lux_mod_evasive);
    if (m < 0)
        return;
    evasive_conf c = *(const evasive_conf *)g->global_conf[m];
    if (listener)
        lux_gen_listener_conf(g, (unsigned)m, listener, &c, sizeof c);
    if (c.max_conns <= 0)
        return;
    out->max = (unsigned long)c.max_conns;
    out->status = c.location.len ? 302 : 403;
    out->location = c.location.len ? c.location.ptr : NULL; /* the generation's: outlives c */
    out->silent = c.silent;
}

const lux_module lux_mod_evasive = {
    .name = "mod_evasive",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = evasive_directives,
    .conf_size = sizeof(evasive_conf),
    .conf_finish = evasive_finish,
};
