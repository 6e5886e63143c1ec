/*
 * mod_sockproxy: relay whole connections to a backend, with no HTTP (lighttpd's mod_sockproxy).
 *
 *   $SERVER["socket"] == ":8022" {
 *       sockproxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => 22 ) ) )
 *   }
 *   sockproxy.balance = "fair" | "round-robin" | "hash" | "sticky"
 *
 * A connection on a listener whose settings (the global ones and its $SERVER["socket"] blocks)
 * name backends is never parsed as HTTP: HTTP/1 hands it to this module at once as a request
 * without a head (lux_sockproxy_wanted, r->relay), and once a backend is connected the
 * connection is a tunnel to it (lux_resp_tunnel), half-closes passed on both ways. On a TLS
 * listener the client's bytes are relayed decrypted. A backend that cannot be reached closes
 * the connection.
 */
#include "mod/sockproxy.h"

#include <string.h>

#include "core/gen.h"
#include "lux/req.h"
#include "upstream/gw_conf.h"

static int conf_finish(lux_gen *gen, void *conf, char *err, size_t el) {
    return lux_gw_settings_finish(conf, "sockproxy.balance", err, el);
}

#define OFF(f) offsetof(lux_gw_settings, f)
static const lux_directive sockproxy_directives[] = {
    {"sockproxy.server", LUX_D_CUSTOM, OFF(servers), LUX_SCOPE_ANY, lux_gw_sockproxy_servers_parse,
     sizeof(lux_gw_servers)},
    {"sockproxy.balance", LUX_D_STRING, OFF(balance), LUX_SCOPE_ANY},
    {"sockproxy.debug", LUX_D_INT, OFF(debug), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

int lux_sockproxy_wanted(const lux_gen *g, const char *listener) {
    int m = listener ? lux_gen_module_index(g, &lux_mod_sockproxy) : -1;
    if (m < 0)
        return 0;
    lux_gw_settings c;
    lux_gen_listener_conf(g, (unsigned)m, listener, &c, sizeof c);
    return c.servers.n > 0;
}

/* ---- the relay: no protocol but the bytes themselves ---------------------------------------- */

static int relay_begin(lux_gw *g, lux_req *r, lux_ups_buf *out) {
    return 0; /* nothing is said to the backend before the client's bytes */
}

static int relay_body(lux_gw *g, lux_ups_buf *out, const char *p, size_t len) {
    return lux_ups_buf_put(out, p, len);
}

static lux_gw_ev relay_input(lux_gw *g, char *buf, size_t len, size_t *used, const char **data,
                             size_t *dlen, int *keep) {
    *used = *dlen = len;
    *data = buf;
    *keep = 0;
    return len ? LUX_GW_DATA : LUX_GW_MORE;
}

static int relay_now(lux_gw *g, const lux_req *r) {
    return 1;
}

static const lux_gw_proto relay_proto = {
    .name = "mod_sockproxy",
    .begin = relay_begin,
    .body = relay_body,
    .input = relay_input,
    .tunnels_at_connect = relay_now,
};

/* The settings are the connection's ($SERVER["socket"]), matched like any gateway's. */
static lux_result sockproxy_handle(lux_req *r, const void *conf) {
    if (!r->relay)
        return LUX_GO_ON; /* an HTTP request: not this module's */
    return lux_gw_handle(r, conf, &lux_mod_sockproxy, &relay_proto, 0, 0);
}

const lux_module lux_mod_sockproxy = {
    .name = "mod_sockproxy",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = sockproxy_directives,
    .conf_size = sizeof(lux_gw_settings),
    .conf_finish = conf_finish,
    .handle = sockproxy_handle,
};
