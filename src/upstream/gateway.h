/*
 * A request answered by a backend over a connection: the part every gateway shares. It picks
 * a backend (upstream.h), connects in the worker's loop, writes what the protocol encodes (the
 * request's head, then its body as lux_req_body_read gives it, never more than one piece ahead
 * of the backend), and turns what the protocol decodes into the response: a CGI-style head
 * (http/cgi_headers.h), then the body streamed to the client, pausing while the client's queue
 * is above LUX_RESP_HIGH_WATER.
 *
 * Failures: no usable backend, or none that accepts a connection, is 503; a connect is retried
 * once on another backend (the failed one is disabled for its disable-time); a kept-alive
 * connection the backend closed meanwhile is replaced by a new one, but once a request went
 * out on it only an idempotent one is sent again (the backend may have acted on a POST); a
 * request without a body whose connection broke before any response byte is retried once on
 * another backend. A
 * backend that stops mid-response (a reset, or a body short of its head's Content-Length)
 * aborts the client's response, or is a 502 while nothing has gone out yet: never a short
 * answer passed as whole. One that never answers properly is 502, one too slow 504.
 *
 * An authorizer (lux_gw_conf.authorizer) gets the request without its body. Its 200 lets the
 * request go on: its Variable-NAME fields are kept (lux_gw_proto.keep_variable), the rest of
 * its answer is dropped, and the request runs again from the top (LUX_RESTART, as lighttpd's
 * comeback) for the next handler; any other answer goes to the client as it is.
 *
 * Tunnels (lux_resp_tunnel): once the protocol says a response opens one, the backend's bytes
 * go to the client as they come and the client's to the backend; each side's end is passed on
 * as a half-close (shutdown SHUT_WR), and the request is let go (lux_tunnel_done) when both
 * have ended. The client's connection times the tunnel; a broken backend connection cuts it.
 */
#ifndef LUX_GATEWAY_H
#define LUX_GATEWAY_H

#include "http/cgi_env.h"
#include "lux/req.h"
#include "upstream/buf.h"
#include "upstream/upstream.h"

typedef struct lux_gw lux_gw;

/* A tunnel whose bytes change on the way (mod_wstunnel's WebSocket frames); without one, a
 * tunnel carries raw bytes both ways. Every hook is optional. */
typedef struct {
    /* The head of a tunnel opened at connect: r->status and fields (without: 200). 0 or -1. */
    int (*head)(lux_gw *g, lux_req *r);
    /* The client's bytes (p is writable) into out, for the backend; it may answer the client
     * itself (lux_gw_to_client). 0; 1 when the client ended the session, as a half-close would;
     * -1 to cut the tunnel. */
    int (*in)(lux_gw *g, lux_ups_buf *out, char *p, size_t len);
    /* The backend's bytes, for the client through lux_gw_to_client. 0 or -1. */
    int (*out)(lux_gw *g, const char *p, size_t len);
    /* The backend ended its side: last words to the client before its half-close. */
    void (*end)(lux_gw *g);
    /* Call tick every tick_ms(g) milliseconds while the tunnel is open (0: never). */
    long (*tick_ms)(lux_gw *g);
    void (*tick)(lux_gw *g);
} lux_gw_tunnel_codec;

/* One field of a response head a protocol parsed itself. */
typedef struct {
    const char *name, *value;
    size_t nlen, vlen;
} lux_gw_field;

/* A response head a protocol parsed itself (LUX_GW_HEAD): what a CGI head would say, without
 * writing one out for the gateway to parse again. Not for authorizers. */
typedef struct {
    int status;
    int64_t content_length; /* as announced (checked against the body); -1: none */
    const lux_gw_field *fields;
    size_t nfields;
} lux_gw_head;

typedef enum {
    LUX_GW_MORE,   /* every byte given was taken */
    LUX_GW_DATA,   /* response bytes: the head, then the body */
    LUX_GW_HEAD,   /* the head, parsed: proto->parsed_head has it; body bytes follow as DATA */
    LUX_GW_STDERR, /* error output of the backend: to the error log */
    LUX_GW_END,    /* the response is complete */
    LUX_GW_ERROR,  /* the backend broke the protocol */
} lux_gw_ev;

typedef struct {
    const char *name; /* the module, for log lines */
    /* Encode the start of r's request into out and reset the decoder: 0 or -1. Runs again when
     * the request is retried on another connection. */
    int (*begin)(lux_gw *g, lux_req *r, lux_ups_buf *out);
    /* Encode len bytes of the request body; len 0 ends the body. 0 or -1. */
    int (*body)(lux_gw *g, lux_ups_buf *out, const char *p, size_t len);
    /* Decode buf[0, len) up to an event; *used bytes taken. DATA and STDERR point into buf
     * (which the decoder may rewrite in place) or the protocol's state (*data, *dlen); END says
     * in *keep whether the connection may serve another request. It is called again, with
     * len 0 once the bytes are used up, until it says MORE. */
    lux_gw_ev (*input)(lux_gw *g, char *buf, size_t len, size_t *used, const char **data,
                       size_t *dlen, int *keep);
    /* The head that input's LUX_GW_HEAD announced (it stays valid until input is called
     * again). NULL: the protocol hands its heads on as DATA. */
    const lux_gw_head *(*parsed_head)(lux_gw *g);
    /* Does the backend closing the connection now end the response well? NULL: never. */
    int (*eof_ends)(lux_gw *g);
    /* An authorizer allowed r: keep one `Variable-NAME: value` of its answer for the
     * environment of what serves r next. 0 or -1. NULL: the protocol has no authorizers. */
    int (*keep_variable)(lux_req *r, const char *name, size_t nlen, const char *value, size_t vlen);
    /* X-LIGHTTPD-send-file counts as X-Sendfile (lighttpd's older name, FastCGI only). */
    int older_sendfile_name;
    /* How many bytes of its state lux_gw_start zeroes (0: all); the protocol's begin sets up
     * the rest before it is read. */
    size_t state_zero;
    /* Does the response whose head was just answered (r->status) open a tunnel (an Upgrade
     * answered 101)? Then the bytes input hands on as DATA after the head are the backend's
     * side of it. NULL: never. */
    int (*tunnels)(lux_gw *g, const lux_req *r);
    /* Is r answered 200 and tunnelled as soon as its backend is connected (CONNECT), with no
     * request sent? NULL: never. */
    int (*tunnels_at_connect)(lux_gw *g, const lux_req *r);
    const lux_gw_tunnel_codec *codec; /* NULL: a tunnel's bytes pass as they are */
    /* The backend must be told the body's length before the body (SCGI's CONTENT_LENGTH comes
     * first; FastCGI and uwsgi apps read CONTENT_LENGTH bytes): a body still streaming in
     * without one (chunked, with server.stream-request-body 1 or 2) is kept whole first, as
     * with server.stream-request-body 0, and the backend is chosen once it is complete. */
    int length_first;
} lux_gw_proto;

typedef struct {
    lux_ups_pool pool;
    int debug;
    int xsendfile;                        /* answer X-Sendfile with its file (mod/xsendfile.h) */
    const lux_strlist *xsendfile_docroot; /* ... under these directories only */
    int authorizer;                       /* the backend authorizes, another handler answers */
} lux_gw_conf;

/* Answer r from a backend of conf's pool (conf is copied; its backends must outlive r); a handler
 * returns what this returns (LUX_ASYNC, or a finished error response). state_size bytes of
 * protocol state come with it, zeroed (up to proto->state_zero when set). */
lux_result lux_gw_start(lux_req *r, const lux_gw_proto *proto, const lux_gw_conf *conf,
                        size_t state_size);
/* The protocol's state. */
void *lux_gw_state(lux_gw *g);
/* The request g answers (NULL once it let go of it). */
lux_req *lux_gw_request(const lux_gw *g);
/* Bytes for the client of g's tunnel; 0, or -1 when the tunnel was cut (g has let go). */
int lux_gw_to_client(lux_gw *g, const char *p, size_t len);
/* The backend the request is going to (for the protocol's begin). */
const lux_ups_backend *lux_gw_backend(const lux_gw *g);
/* NAME.debug: 0 off; 1 logs the backend chosen, connections and answers; 2 also what is sent
 * (a protocol's begin logs the parameters it encodes). */
int lux_gw_debug(const lux_gw *g);
/* With NAME.debug 2 or more: the parameters a protocol sends, a line each. */
void lux_gw_debug_params(const lux_gw *g, const lux_cgi_var *vars, size_t n);

#endif
