/* The request pipeline, shared by the HTTP/1 connection (and later HTTP/2). */
#ifndef LUX_REQUEST_H
#define LUX_REQUEST_H

#include "http/h1/h1_parser.h"
#include "lux/req.h"

/* Fill r from a parsed HTTP/1 head. Returns 0, or the status to answer (400, 417, 501, ...). */
int lux_req_from_h1(lux_req *r, const lux_h1_request *h);
/*
 * Make r->confs follow the conditions: decide what is still undecided and patch the module
 * settings, or nothing when they are current (decided for this URI already, e.g. by the
 * connection for the body limit). Call again once the physical path is known. 0 or -1.
 */
int lux_req_patch_conf(lux_req *r);
/* Run r through the hooks to a response (status, headers, body). */
void lux_req_run(lux_req *r);
/* Drop the decided conditions (a new URI, a restart): the next patch decides them afresh. */
void lux_req_forget_conditions(lux_req *r);
/* Does block `b` hold for r? Results are cached per request. */
int lux_req_cond(lux_req *r, const lux_conf_block *b);
/* The peer's address as text ("127.0.0.1", "::1", "unix"); in the request pool. */
const char *lux_req_remote_ip(lux_req *r);

/* Serialise the status line and headers (adds Date, Server, Content-Length, Connection) into
 * the pool; returns the head and its length, or NULL when out of memory. */
char *lux_resp_head(lux_req *r, size_t *len);

#endif
