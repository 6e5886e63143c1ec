/*
 * A request's body inside the core: what the protocol feeds (lux_req_body_feed), kept for the
 * handler (lux_req_body_read) in memory up to LUX_REQ_BODY_MEM bytes and, beyond that, in an
 * unlinked temporary file in server.upload-dirs; with server.stream-request-body = 2 it is not
 * spooled: the protocol stops reading while the memory is full (lux_req_body_room).
 */
#ifndef LUX_BODY_H
#define LUX_BODY_H

#include <stdint.h>
#include <sys/types.h>

#include "lux/req.h"

/* Request body bytes kept in memory before the rest goes to a temporary file; in mode 2, the
 * most the core holds before the protocol stops reading. 64 KiB: four socket reads' worth,
 * enough to keep a handler busy while the next bytes arrive, small beside the 16 KiB input
 * buffer and the response queue's 256 KiB. */
#define LUX_REQ_BODY_MEM (64 * 1024)

typedef struct lux_req_body lux_req_body;

/* The body's length: announced, or counted once a body without one (chunked) is complete;
 * -1 while unknown. What CGI's CONTENT_LENGTH says. */
int64_t lux_body_length(const lux_req *r);
/* Is the body complete (or failed), so that mode 0 may run the pipeline? */
int lux_body_settled(lux_req *r);
/* Keep the whole body before the handler reads any of it, as server.stream-request-body 0
 * does: for a handler whose backend must be told the length first. With mode 2 the body is
 * spooled from now on instead of holding the protocol back. 0, or -1 out of memory. */
int lux_body_spool_whole(lux_req *r);
/* The handler's notify callback, from the loop (the stream core delivers it). */
void lux_body_run_notify(lux_req *r);
/* The handler let go: its notify callback is not called again. */
void lux_body_forget_notify(lux_req *r);
/* The body becomes a tunnel's client bytes (lux_resp_tunnel): open again after whatever body
 * the request had, never spooled (the protocol stops at LUX_REQ_BODY_MEM unread), and not
 * counted against server.max-request-size. 0 or -1 (out of memory). */
int lux_body_open_tunnel(lux_req *r);
/* Is the whole body here (ended well, or there is none)? */
int lux_body_complete(const lux_req *r);
/* Body bytes received so far, and how many of them a handler has read. */
uint64_t lux_body_received(const lux_req *r);
uint64_t lux_body_taken(const lux_req *r);
/* Copy up to len of the unread bytes, from off bytes past the first of them, without taking
 * them from the handler. Returns the bytes copied, 0 past the end, -1 (errno) when the spool
 * file cannot be read. */
ssize_t lux_body_peek(const lux_req *r, uint64_t off, void *buf, size_t len);
/* Replace a complete body that no handler read yet with len bytes at p, or with append add
 * them after it; its length becomes what it holds. 0, or -1 with errno EBUSY (the body is not
 * complete, or a handler read some of it) or EIO (the spool file failed). */
int lux_body_replace(lux_req *r, const void *p, size_t len, int append);
/* Close the spool file and free the memory; at lux_req_free. */
void lux_body_release(lux_req *r);

#endif
