/*
 * The stream core: what a protocol (HTTP/1 in src/http/h1/, HTTP/2 in src/http/h2/) and the
 * request core say to each other. A protocol turns bytes into requests and responses into
 * bytes; it holds each request in an object of its own (proto_data) and talks to the core only
 * through these calls. The core answers through lux_stream_ops, and only from the loop (a
 * zero-delay timer of the request), never from inside a call the protocol made: the protocol's
 * own call stack never sees a request change state under it.
 */
#ifndef LUX_STREAM_H
#define LUX_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "lux/req.h"

typedef struct lux_stream_ops {
    void (*head_ready)(lux_req *r);  /* status and headers final: send the head */
    void (*body_ready)(lux_req *r);  /* more body (or its end) can be taken */
    void (*body_wanted)(lux_req *r); /* the core has room for more request body again */
    /* May r's stream carry a tunnel (lux_resp_tunnel)? NULL: any request may (HTTP/1). */
    int (*can_tunnel)(const lux_req *r);
    /* The protocol's number for r's stream (lux_req_stream_id). NULL: none (HTTP/1). */
    uint32_t (*stream_id)(const lux_req *r);
} lux_stream_ops;

/* A request with its own pool (from the worker's block cache), its settings at the global
 * values, its scheme from the connection's transport. NULL when out of memory. */
lux_req *lux_req_new(lux_conn *c, const lux_stream_ops *ops, void *proto_data);
/*
 * Fill r from a request's fields as HTTP/2 carries them (method, :scheme, :authority, :path,
 * then the regular header fields), with the validation and URI and Host normalisation of
 * HTTP/1 heads. The scheme field is checked but not believed: the transport says what it is.
 * 0, or the status to answer (lux_req_start_error).
 */
int lux_req_from_fields(lux_req *r, const lux_str *method, const lux_str *scheme,
                        const lux_str *authority, const lux_str *path, const lux_header *headers,
                        size_t n);
/* Run the pipeline; the protocol hears back through ops (head_ready first). */
void lux_req_start(lux_req *r);
/* Start r with module m's handle hook alone: r stands for a connection relayed whole
 * (r->relay, mod_sockproxy), which no other module has anything to do with. The protocol hears
 * back through ops as after lux_req_start. */
void lux_req_start_handler(lux_req *r, const lux_module *m);
/* Is head_ready on its way (due from the loop before it waits for events again)? A protocol
 * need not watch its client for a request that is answered already. */
int lux_req_head_pending(const lux_req *r);
/* Answer a request refused before its head went out (a malformed head, a body over the limit)
 * with the status's error page: a handler holding it lets go (its abort callback), no hooks run
 * but request_done. The protocol hears back through head_ready. */
void lux_req_start_error(lux_req *r, int status);
/*
 * Take the next body pieces, at most `max` bytes (a larger piece is split): a chain ended by
 * NULL, or NULL when nothing is ready. *end is set to 1 once the last piece has been taken;
 * if the body broke then (r->resp_aborted), the protocol must not end it well (HTTP/1 closes
 * without the last chunk, HTTP/2 resets the stream).
 * The chunks stay the request's: the protocol reads them without changing them (keeping its
 * own offset into a partly sent one) and reports what went out with lux_resp_sent, which
 * releases them in order. A HEAD request's body is never handed out.
 */
lux_chunk *lux_resp_take(lux_req *r, size_t max, int *end);
/* n more body bytes (of the taken chunks, in order) went to the transport or framing. */
void lux_resp_sent(lux_req *r, uint64_t n);
/*
 * The request body, decoded (chunked framing or DATA frames removed), as it arrives. feed
 * returns -1 when the core takes no more: errno EFBIG over server.max-request-size (answer 413
 * while no response started), else the body failed (EPIPE, EIO). Every request's body ends with
 * lux_req_body_end, an empty one too: with server.stream-request-body = 0 the pipeline waits for
 * it (a request whose r->content_length is 0 needs none). ok = 0: the body broke (the client
 * left, bad framing). room is how much more the core accepts now (SIZE_MAX: no bound but the
 * limit): at 0 the protocol stops reading (HTTP/1 leaves the socket unread, HTTP/2 holds its
 * WINDOW_UPDATE) until ops->body_wanted.
 */
int lux_req_body_feed(lux_req *r, const void *p, size_t len);
void lux_req_body_end(lux_req *r, int ok);
size_t lux_req_body_room(const lux_req *r);
/* Does the handler still hold r? A tunnel (r->tunnel) ends once it does not: the protocol hears
 * of the handler letting go through body_ready. */
int lux_req_held(const lux_req *r);
/* The client is gone (closed, reset the stream, timed out): the handler's abort callback runs
 * from the loop if it still holds r. The protocol sends nothing more for r and frees it. */
void lux_req_abort(lux_req *r);
/* The protocol is done with r: request_done hooks run (once), the pool goes back. */
void lux_req_free(lux_req *r);

#endif
