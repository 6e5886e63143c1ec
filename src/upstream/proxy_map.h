/*
 * mod_proxy's proxy.header maps, as lighttpd applies them, without I/O or allocation:
 *
 *   map-host-request   the authority of the Host sent to the backend (and of the request's
 *                      Destination and Content-Location URIs)
 *   map-host-response  the authority of the response's Location and Content-Location URIs and
 *                      of its Set-Cookie domain=
 *   map-urlpath        a path prefix: key to value toward the backend, back in the response's
 *                      URIs and Set-Cookie path=
 *
 * Entries are tried in the order the config lists them; the first that matches wins (an
 * authority compares whole and case-insensitively, a path prefix byte for byte). A key "-" in
 * map-host-request stands for the client's Host, in map-host-response for the host the request
 * was mapped to; a value "-" stands for the client's Host; an empty value leaves the authority as
 * it is and ends the search. The response is mapped back with the choices the request made:
 * the map-urlpath entry the request used is tried first. With https-remap (and a client on TLS)
 * an absolute URI whose authority is mapped changes its scheme too: http to https toward the
 * client, https to http toward the backend.
 *
 * Writers work like snprintf: they return the length of the whole result and write at most
 * cap bytes of it (no terminating NUL), so that a caller can measure with cap 0 first.
 */
#ifndef LUX_PROXY_MAP_H
#define LUX_PROXY_MAP_H

#include <stddef.h>

#include "lux/module.h"

typedef struct {
    const lux_keyval *urlpaths, *hosts_request, *hosts_response; /* NULL: not configured */
    size_t nurlpaths, nhosts_request, nhosts_response;
} lux_proxy_maps;

/* One request's view of the maps: what it was mapped with, for mapping its response back. */
typedef struct {
    const lux_proxy_maps *maps;
    lux_str http_host;                   /* the client's Host; ptr NULL when it sent none */
    const lux_str *forwarded_host;       /* the first host the request was mapped to */
    const lux_keyval *forwarded_urlpath; /* the map-urlpath entry the request used */
    int https_remap;                     /* https-remap is on and the client came over TLS */
} lux_proxy_remap;

/* Start mapping a request whose client sent Host host (ptr NULL: none). */
void lux_proxy_remap_init(lux_proxy_remap *m, const lux_proxy_maps *maps, lux_str host,
                          int https_remap);

/* The authority s[0, len) mapped toward the backend (is_req) or the client: the replacement, or
 * NULL when it stays as it is. A request's first mapping is remembered in m. */
const lux_str *lux_proxy_map_host(lux_proxy_remap *m, int is_req, const char *s, size_t len);

/* A URI (an absolute "scheme://authority/path" or a "/path") with its authority and path
 * prefix mapped. */
size_t lux_proxy_map_uri(lux_proxy_remap *m, int is_req, const char *v, size_t len, char *out,
                         size_t cap);

/* A Set-Cookie value with its Domain and Path attributes mapped toward the client. */
size_t lux_proxy_map_set_cookie(lux_proxy_remap *m, const char *v, size_t len, char *out,
                                size_t cap);

#endif
