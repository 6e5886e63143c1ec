/*
 * mod_openssl: HTTPS, as lighttpd's module of the name configures it. The ssl.* settings apply
 * globally and per $SERVER["socket"]; each listener with ssl.engine = "enable" gets a TLS
 * context of its own in every generation, so a reload re-reads certificates and keys while
 * open connections keep the context they started with.
 */
#include <stdio.h>
#include <string.h>

#include "core/gen.h"
#include "net/tls.h"

#define TLS_SCOPE (LUX_SCOPE_GLOBAL | LUX_SCOPE_SOCKET)

static int parse_conf_cmds(lux_gen *g, const lux_value *v, void *dst, char *err, size_t el) {
    lux_tls_conf_cmds *cmds = dst;
    size_t n;
    const lux_keyval *kv = lux_conf_keyvals(
        g, v, &n, "expects ( \"Command\" => \"value\", ... ), e.g. \"MinProtocol\" => \"TLSv1.3\"",
        err, el);
    if (!kv)
        return -1;
    *cmds = (lux_tls_conf_cmds){kv, n};
    return 0;
}

static void openssl_conf_init(void *conf) {
    lux_tls_conf *tc = conf;
    tc->honor_cipher_order = 1;
    tc->disable_client_renegotiation = 1;
}

static const lux_directive openssl_directives[] = {
    {"ssl.engine", LUX_D_BOOL, offsetof(lux_tls_conf, engine), TLS_SCOPE, NULL, 0},
    {"ssl.pemfile", LUX_D_STRING, offsetof(lux_tls_conf, pemfile), TLS_SCOPE, NULL, 0},
    {"ssl.privkey", LUX_D_STRING, offsetof(lux_tls_conf, privkey), TLS_SCOPE, NULL, 0},
    {"ssl.ca-file", LUX_D_STRING, offsetof(lux_tls_conf, ca_file), TLS_SCOPE, NULL, 0},
    {"ssl.cipher-list", LUX_D_STRING, offsetof(lux_tls_conf, cipher_list), TLS_SCOPE, NULL, 0},
    {"ssl.openssl.ssl-conf-cmd", LUX_D_CUSTOM, offsetof(lux_tls_conf, conf_cmds), TLS_SCOPE,
     parse_conf_cmds, sizeof(lux_tls_conf_cmds)},
    {"ssl.honor-cipher-order", LUX_D_BOOL, offsetof(lux_tls_conf, honor_cipher_order), TLS_SCOPE,
     NULL, 0},
    {"ssl.disable-client-renegotiation", LUX_D_BOOL,
     offsetof(lux_tls_conf, disable_client_renegotiation), TLS_SCOPE, NULL, 0},
    {NULL, 0, 0, 0, NULL, 0},
};

const lux_module lux_mod_openssl = {
    .name = "mod_openssl",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = openssl_directives,
    .conf_size = sizeof(lux_tls_conf),
    .conf_init = openssl_conf_init,
};

int lux_openssl_setup_listeners(lux_gen *g, char *err, size_t el) {
    int m = lux_gen_module_index(g, &lux_mod_openssl);
    if (m < 0)
        return 0;
    for (size_t i = 0; i < g->nlistens; i++) {
        lux_tls_conf tc;
        lux_gen_socket_conf(g, (unsigned)m, g->listens[i].spec, &tc);
        if (!tc.engine)
            continue;
        char msg[512];
        struct ssl_ctx_st *ctx = lux_tls_ctx_new(&tc, msg, sizeof msg);
        if (!ctx) {
            snprintf(err, el, "%s: listener %s: %s", g->tree->main_file, g->listens[i].spec, msg);
            return -1;
        }
        if (lux_gen_on_free(g, lux_tls_ctx_free, ctx) < 0) {
            lux_tls_ctx_free(ctx);
            snprintf(err, el, "out of memory");
            return -1;
        }
        g->listens[i].tls = ctx;
        g->has_tls = 1;
    }
    return 0;
}
