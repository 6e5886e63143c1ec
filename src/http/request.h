/* The request pipeline and the request's fields, shared by every protocol. */
#ifndef LUX_REQUEST_H
#define LUX_REQUEST_H

#include <string.h>

#include "lux/req.h"

/* The pieces every protocol's request goes through (lux_req_from_h1, lux_req_from_fields). */
/* Copy len bytes of s and a NUL to *w and move *w past them; the copy. For the strings of a
 * request packed into one piece of its pool. */
static inline lux_str lux_req_put_str(char **w, const char *s, size_t len) {
    char *d = *w;
    if (len)
        memcpy(d, s, len);
    d[len] = '\0';
    *w = d + len + 1;
    return (lux_str){d, len};
}
/* r->headers with room for n fields (and a spare slot), and in the same piece of the pool
 * `bytes` for their names and values (lux_req_put_str): where those go. NULL when out of
 * memory. */
char *lux_req_fields_alloc(lux_req *r, size_t n, size_t bytes);
/* Method and raw target, copied into the pool. 0 or 500. */
int lux_req_set_request_line(lux_req *r, const char *method, size_t mlen, const char *target,
                             size_t tlen);
/* Check one header field (already in the pool) that every protocol reads: Host (one only; its
 * field is kept in *host) and Content-Length (digits, copies agree). 0 or 400. */
int lux_req_check_field(lux_req *r, const lux_header *f, const lux_header **host);
/* Parse and normalise r->target into uri, path and query, and the host from the target's
 * authority, else `authority` (HTTP/2's), else the Host field. 0 or the status to answer. */
int lux_req_resolve_target(lux_req *r, const lux_str *authority, const lux_header *host);
/*
 * Make r->confs follow the conditions: decide what is still undecided and patch the module
 * settings, or nothing when they are current (decided for this URI already, e.g. by the
 * connection for the body limit). Call again once the physical path is known. 0 or -1.
 */
int lux_req_patch_conf(lux_req *r);
/* Run r through the hooks to a response (status, headers, body, response_start hooks):
 * LUX_HANDLED when it is set, LUX_ASYNC when a hook took the request. */
lux_result lux_req_run(lux_req *r);
/* Continue after a hook's LUX_ASYNC as if it had returned res (see lux_req_resume). */
lux_result lux_req_continue(lux_req *r, lux_result res);
/* Drop the decided conditions (a new URI, a restart): the next patch decides them afresh. */
void lux_req_forget_conditions(lux_req *r);
/* Does block `b` hold for r? Results are cached per request. */
int lux_req_cond(lux_req *r, const lux_conf_block *b);
/* The peer's address as text ("127.0.0.1", "::1", "unix"); in the request pool. */
const char *lux_req_remote_ip(lux_req *r);
/* lux_req_remote_user, and how the user was authenticated: AUTH_TYPE ("Basic", "Digest",
 * "SSL_CLIENT_VERIFY"), or NULL when a proxy named the user without saying how. */
lux_str lux_req_remote_user_of(lux_req *r, const char **auth_type);
/* Where blocking work done for r off its worker's loop comes back (core/offload.h). */
struct lux_offload_inbox *lux_req_offload(const lux_req *r);

/* Release a body chunk: its file reference, its memory when it owns some. */
void lux_chunk_release(lux_chunk *c);
/* A piece entered the response's queue (the stream core tells the protocol when it streams). */
void lux_stream_appended(lux_req *r);
/* Does r's HTTP/1.1 body go chunked (streamed without a length)? */
int lux_resp_chunked(const lux_req *r);

/* Serialise the status line and headers (adds Date, Server, Content-Length, Connection) into
 * the pool; returns the head and its length, or NULL when out of memory. */
char *lux_resp_head(lux_req *r, size_t *len);

#endif
