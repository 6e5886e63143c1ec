/*
 * The HTTP/2 codec: nghttp2's server session behind a narrow interface of lux's own. Bytes go
 * in (lux_h2_recv); frames come out into an output queue that the connection writes with one
 * writev (and sendfile for file data on a plain socket); requests come up through callbacks
 * and responses go down through submit calls. No I/O, no clock of its own: the caller passes
 * the time, so that the codec runs the same in the server, in unit tests and under a fuzzer.
 *
 * The flood defences live here, each counted per connection (see h2_session.c).
 */
#ifndef LUX_H2_SESSION_H
#define LUX_H2_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "lux/req.h"

typedef struct lux_h2_session lux_h2_session;

/* HTTP/2 error codes (RFC 9113 section 7) the server sends. */
enum {
    LUX_H2_NO_ERROR = 0x0,
    LUX_H2_PROTOCOL_ERROR = 0x1,
    LUX_H2_INTERNAL_ERROR = 0x2,
    LUX_H2_REFUSED_STREAM = 0x7,
    LUX_H2_CANCEL = 0x8,
    LUX_H2_ENHANCE_YOUR_CALM = 0xb,
};

typedef struct {
    uint32_t max_concurrent_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS */
    uint32_t stream_window;          /* SETTINGS_INITIAL_WINDOW_SIZE: request body bytes */
    uint32_t connection_window;      /* the connection's receive window, raised at start */
    uint32_t max_header_list;        /* decoded request header bytes (RFC 7541 sizes): 431 */
    /* Stream resets per connection, a token bucket: the client's RST_STREAM and the resets
     * the server sends because of the client's errors. */
    uint32_t reset_burst, reset_rate;
    /* Frames that ask work of the server and carry no request: SETTINGS, PING, PRIORITY,
     * empty DATA, unknown types. A token bucket as well. */
    uint32_t control_burst, control_rate;
    int file_inline; /* read file data into the output buffer (TLS) instead of sendfile */
} lux_h2_limits;

/* The defaults: lighttpd 1.4.69's SETTINGS where it has them, the bounds documented in
 * docs/configuration.md otherwise. */
void lux_h2_limits_default(lux_h2_limits *l);

/* A request head as the client sent it: strings NUL-terminated, valid during the callback. */
typedef struct {
    lux_str method, scheme, authority, path, protocol; /* ptr NULL when absent */
    const lux_header *fields;                          /* regular fields, in order */
    size_t nfields;
    int too_large;  /* the fields went over max_header_list and were dropped: answer 431 */
    int end_stream; /* no request body follows */
} lux_h2_request;

/* A piece of response body for one DATA frame: memory or a range of an open file. */
typedef struct {
    const char *mem; /* memory bytes (copied into the output) when non-NULL */
    int fd;          /* else the file's descriptor */
    off_t off;
    size_t len;
    void *hold; /* released through release() once the piece is copied or its range written */
} lux_h2_piece;

/* What body() answers. */
enum {
    LUX_H2_BODY_PIECE,    /* *piece filled (len > 0), more may follow */
    LUX_H2_BODY_LAST,     /* *piece filled (len may be 0) and it ends the body */
    LUX_H2_BODY_DEFERRED, /* nothing now: lux_h2_resume() when there is */
    LUX_H2_BODY_ABORT,    /* the body is broken: reset the stream */
};

typedef struct {
    /* Stream `id`'s request head is complete. Return the stream's user pointer (passed to
     * the other callbacks), or NULL to refuse it (RST_STREAM REFUSED_STREAM). */
    void *(*on_request)(void *user, int32_t id, const lux_h2_request *req);
    /* Request body bytes of a stream. The stream's receive window opens again only when
     * lux_h2_consume() says the bytes were taken. */
    void (*on_data)(void *user, void *stream, const uint8_t *p, size_t len);
    /* The request is complete (END_STREAM on its head, or after its body), once a stream. */
    void (*on_end)(void *user, void *stream);
    /* The stream is gone: completed, reset by either side, or the session ended. `error` is
     * the RST_STREAM or GOAWAY code, LUX_H2_NO_ERROR after a complete exchange. */
    void (*on_close)(void *user, void *stream, uint32_t error);
    /* The next piece of a response body, at most `max` bytes. Its memory must stay valid
     * until framed() says the piece is in the output queue. */
    int (*body)(void *user, void *stream, size_t max, lux_h2_piece *piece);
    /* The last piece body() gave is in the output queue (copied, or a file range held). */
    void (*framed)(void *user, void *stream, size_t len);
    /* A piece handed out by body() was copied, or its file range written (or dropped):
     * release piece->hold. */
    void (*release)(void *user, void *hold);
} lux_h2_callbacks;

/*
 * A server session. `upgrade_settings` (the HTTP2-Settings of an h2c upgrade, decoded, or
 * NULL) opens stream 1 half-closed as the upgraded request; `upgrade_head_request` says that
 * request was HEAD. The server's SETTINGS and connection WINDOW_UPDATE are queued at once.
 */
lux_h2_session *lux_h2_session_new(const lux_h2_limits *limits, const lux_h2_callbacks *cb,
                                   void *user, const uint8_t *upgrade_settings, size_t upgrade_len,
                                   int upgrade_head_request);
void lux_h2_session_free(lux_h2_session *s);
/* Attach the user pointer of stream 1 after an upgrade. */
void lux_h2_set_stream(lux_h2_session *s, int32_t id, void *stream);

/*
 * Feed received bytes; `now_ms` is any monotonic clock in milliseconds (the token buckets
 * refill by it). Returns the bytes taken: fewer than len while the client has opened as many
 * streams as it may before it acknowledged the limit (keep the rest and feed it again once a
 * stream has closed), or when a frame header is not complete yet; -1 when the session is over
 * (a fatal protocol error or a GOAWAY of the flood defences): send what is queued, then close.
 */
ssize_t lux_h2_recv(lux_h2_session *s, const uint8_t *p, size_t len, int64_t now_ms);

/* Submit a response head; `end_stream` for a response without body (HEAD, 204, 304). The
 * body is then pulled through the body callback, once a stream. The n fields of h have names in
 * any case (they go out lower-cased; connection-specific ones are left out, RFC 9113 8.2.2);
 * the `nlowered` of `lowered` (the server's own) are lower case already and go out as they are.
 * Values are not copied, nor are the names of `lowered`: they must stay valid until the stream
 * closes (on_close) or the session is freed. 0 or -1. */
int lux_h2_submit_response(lux_h2_session *s, int32_t id, int status, const lux_header *h, size_t n,
                           const lux_header *lowered, size_t nlowered, int end_stream);
/* More body is available for a stream whose body() answered DEFERRED. */
void lux_h2_resume(lux_h2_session *s, int32_t id);
/* The stream became a tunnel (RFC 8441): the end of its response does not stop the client's
 * DATA, which go on to their own END_STREAM. */
void lux_h2_set_tunnel(lux_h2_session *s, int32_t id);
/* Reset a stream (CANCEL, INTERNAL_ERROR, ...). */
void lux_h2_reset(lux_h2_session *s, int32_t id, uint32_t error);
/* Request body bytes of a stream were taken: let the client send as many again. */
void lux_h2_consume(lux_h2_session *s, int32_t id, size_t n);
/* Graceful GOAWAY: no new streams past the last one seen, those in flight finish. */
void lux_h2_goaway_graceful(lux_h2_session *s);
/* Final GOAWAY with `error`; the session is over once it is written. */
void lux_h2_goaway(lux_h2_session *s, uint32_t error);

/*
 * Frames for the transport. lux_h2_produce() lets nghttp2 write frames into the output queue
 * (up to a bound of queued bytes); lux_h2_out() describes what to write next: either up to
 * `max` iovecs of memory (returns their count, *fd = -1) or one file range (returns 0, *fd,
 * *off, *len). lux_h2_sent() drops n written bytes from the front. Returns 0 when empty.
 */
void lux_h2_produce(lux_h2_session *s);
int lux_h2_out(lux_h2_session *s, struct iovec *iov, int max, int *fd, off_t *off, size_t *len);
void lux_h2_sent(lux_h2_session *s, size_t n);
size_t lux_h2_queued(const lux_h2_session *s);

/* Still has work: reads to expect or frames to send. 0 once the session is over. */
int lux_h2_alive(const lux_h2_session *s);
/* Streams open (counted from the head until their close). */
size_t lux_h2_streams(const lux_h2_session *s);
/* Some stream's response body waits for the application (body() answered DEFERRED). */
int lux_h2_bodies_due(const lux_h2_session *s);
/* Some stream has a response waiting for the client's flow-control window. */
int lux_h2_window_stalled(const lux_h2_session *s);
/* The error code of the GOAWAY the server sent, -1 when none. */
int lux_h2_goaway_sent(const lux_h2_session *s);

/* The client connection preface (24 bytes): what a plain listener looks for. */
#define LUX_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define LUX_H2_PREFACE_LEN 24

#endif
