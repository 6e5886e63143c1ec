/*
 * Active health checks of a gateway's backends: lux asks each backend that has a
 * "health-check" at its interval, off the request path, and the balancer gives no requests to
 * one that failed `fall` probes in a row until it passes `rise` in a row again. Passive health
 * (upstream.h: a failed connect disables a backend for its disable-time) works beside it.
 *
 * Probes: "http" (mod_proxy; over TLS when the backend has it) asks for a URI and compares the
 * status with `expect`;
 * "fastcgi" (mod_fastcgi) sends FCGI_GET_VALUES and wants FCGI_GET_VALUES_RESULT; "connect"
 * (any) only connects.
 *
 * One prober thread per configuration generation runs every probe in an event loop of its
 * own. The main thread starts it from the generation's watch callback, which also renews a
 * lease each second while the generation is current: once a reload has replaced it, the lease
 * runs out and its probes stop (its requests still finishing keep the last state). The thread
 * is joined when the generation is freed. A backend's state is one atomic flag, written by the
 * prober (release) and read by every worker's balancer (acquire). A backend starts up.
 */
#ifndef LUX_UPS_HEALTH_H
#define LUX_UPS_HEALTH_H

#include "lux/module.h"
#include "upstream/upstream.h"

typedef enum {
    LUX_HC_CONNECT, /* a connection is accepted */
    LUX_HC_FASTCGI, /* FCGI_GET_VALUES is answered */
    LUX_HC_HTTP,    /* GET uri is answered with a status that expect matches */
} lux_hc_probe;

typedef struct {
    lux_hc_probe probe;
    const char *uri;  /* http: the path and query asked for */
    const char *host; /* http: the Host field; NULL: the backend's host */
    char expect[4];   /* http: a status, where 'x' matches any digit ("2xx") */
    long interval;    /* seconds between the starts of two probes */
    long timeout;     /* seconds a probe may take */
    long rise, fall;  /* probes in a row that put a backend back, or take it out */
} lux_hc_conf;

/*
 * A backend's "health-check" => ( "probe" => ..., "uri" => ..., "host" => ..., "expect" => ...,
 * "interval" => ..., "timeout" => ..., "rise" => ..., "fall" => ... ) into c; every key is
 * optional. probe: the default probe; allowed: 1 << lux_hc_probe of those the gateway
 * understands. 0, or -1 with err.
 */
int lux_hc_conf_parse(const lux_value *v, lux_hc_probe probe, unsigned allowed, lux_hc_conf *c,
                      char *err, size_t errlen);

/*
 * Check backend b of module ("mod_proxy", ...) as c says while gen is current: b->health is
 * set (a generation built only to check the configuration probes nothing). c and b must live
 * as long as gen. 0, or -1 with err.
 */
int lux_health_add(lux_gen *gen, lux_ups_backend *b, const lux_hc_conf *c, const char *module,
                   char *err, size_t errlen);

/* Does the backend's active check let it have requests? (Any thread.) */
int lux_health_up(const lux_health *h);

/* Does status match expect ("200", "2xx")? (Exposed for unit tests.) */
int lux_hc_status_matches(const char *expect, int status);

#endif
