/*
 * mod_health: lux's own health check for load balancers. GET or HEAD of server.health-url
 * answers 200 "ok" while the server serves, and 503 "stopping" from the moment a stop begins:
 * a balancer polling it takes the server out of rotation while the requests in flight (and
 * heads already arriving) still finish. Never cached.
 */
#include <stddef.h>
#include <string.h>

#include "lux/req.h"

typedef struct {
    lux_str url;
} health_conf;

static const lux_directive health_directives[] = {
    {"server.health-url", LUX_D_STRING, offsetof(health_conf, url), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

static lux_result answer(lux_req *r, int status, const char *body) {
    r->status = status;
    int bad = lux_resp_header(r, "Content-Type", 12, "text/plain", 10) < 0 ||
              lux_resp_header(r, "Cache-Control", 13, "no-store", 8) < 0 ||
              lux_resp_body_mem(r, body, strlen(body)) < 0;
    return bad ? LUX_ERROR : LUX_HANDLED;
}

static lux_result health_uri_clean(lux_req *r, const void *conf) {
    const health_conf *c = conf;
    if (!c->url.ptr || c->url.len != r->path.len || memcmp(c->url.ptr, r->path.ptr, c->url.len))
        return LUX_GO_ON;
    if (r->method != LUX_M_GET && r->method != LUX_M_HEAD) {
        lux_resp_error(r, 405);
        lux_resp_header(r, "Allow", 5, "GET, HEAD", 9);
        return LUX_HANDLED;
    }
    if (lux_req_server_stopping(r))
        return answer(r, 503, "stopping\n");
    return answer(r, 200, "ok\n");
}

const lux_module lux_mod_health = {
    .name = "mod_health",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = health_directives,
    .conf_size = sizeof(health_conf),
    .uri_clean = health_uri_clean,
};
