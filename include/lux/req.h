/*
 * The request object: what HTTP/1 and HTTP/2 both produce, and what modules read and answer.
 * All strings live in the request's pool and stay valid until the request ends.
 */
#ifndef LUX_REQ_H
#define LUX_REQ_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "lux/module.h"

typedef struct {
    lux_str name; /* as received */
    lux_str value;
} lux_header;

typedef enum {
    LUX_M_OTHER = 0,
    LUX_M_GET,
    LUX_M_HEAD,
    LUX_M_POST,
    LUX_M_PUT,
    LUX_M_DELETE,
    LUX_M_OPTIONS,
    LUX_M_TRACE,
    LUX_M_CONNECT,
    LUX_M_PATCH,
} lux_method;

/* A piece of the response body: memory owned elsewhere (pool or static) or a file range. */
typedef struct lux_chunk lux_chunk;
struct lux_chunk {
    lux_chunk *next;
    const char *mem;       /* memory chunk when non-NULL */
    struct lux_file *file; /* file chunk: refcounted open file (src/http/stat_cache.h) */
    uint64_t off, len;
    lux_chunk *sent_next; /* the core's: taken chunks in the order they go out */
    void *heap;           /* the core's: memory freed with the chunk (streamed copies) */
};

typedef struct lux_conn lux_conn;
typedef struct lux_worker lux_worker;

struct lux_req {
    lux_conn *conn;
    lux_worker *worker;
    struct lux_pool *pool;
    lux_gen *gen;

    /* The request as received and normalised. */
    lux_method method;
    lux_str method_str;
    int version;    /* 10, 11 or 20: HTTP/1.0, HTTP/1.1, HTTP/2.0 */
    lux_str target; /* raw request-target */
    lux_str uri;    /* normalised, with "?query": REQUEST_URI */
    lux_str path;   /* decoded, dot-segments removed: what conditions and files see */
    lux_str query;  /* without '?'; ptr NULL when absent */
    lux_str host;   /* normalised Host (may carry ":port"); ptr NULL when absent */
    lux_str scheme; /* "http" / "https" */
    /* The client as a trusted proxy named it (mod_extforward); ss_family 0: the peer. */
    struct sockaddr_storage remote_addr;
    lux_header *headers;
    size_t nheaders;
    int64_t content_length; /* -1 when absent or unknown (chunked, HTTP/2 without one) */
    unsigned head_only : 1;
    /* The connection closes after this response (HTTP/1); a hook may set it to ask for that. */
    unsigned conn_closes : 1;

    /* Config evaluation: per-block condition cache and captures, per-module settings. */
    uint8_t *cond_state;     /* [gen nblocks]: 0 unknown, 1 true, 2 false */
    unsigned cond_undecided; /* conditions that could not be decided yet ($PHYSICAL early) */
    int conf_current;        /* confs follow every condition decided for this URI: no walk needed */
    lux_cond_captures **cond_caps; /* [gen nblocks], allocated on first regex match */
    const void **confs;            /* [gen nmodules] */
    unsigned *conf_block;          /* [gen nmodules]: block that last patched it, 0 = global */
    unsigned restarts;             /* LUX_RESTART count, bounded */
    /* server.error-handler(-404) serves the answer to an error: the status it replaces (what
     * CGI calls REDIRECT_STATUS; 0 when no handler runs), whether the handler is
     * server.error-handler-404 (whose own status stands), and the method the request came
     * with (the handler runs as GET). */
    int error_status;
    int error_handler_404;
    lux_method error_method;
    int physical_ready; /* $PHYSICAL conditions may be evaluated */
    void **mod_data;    /* [gen nmodules]: see lux_req_mod_data; NULL until used */

    /* Who the request authenticated as (mod_auth): REMOTE_USER and AUTH_TYPE ("Basic",
     * "Digest", or NULL); auth_user.ptr NULL until someone authenticated it. */
    lux_str auth_user;
    const char *auth_type;

    /* File-system mapping. */
    lux_str docroot;
    lux_str physical; /* docroot + path (or set by a module) */
    lux_str pathinfo;
    struct lux_file *file; /* what physical names, from the stat cache; NULL if it failed */
    int file_errno;        /* why file is NULL */

    /* The response. */
    int status;
    lux_header *resp_headers;
    size_t nresp_headers, resp_headers_cap;
    lux_chunk *body, **body_tail;
    uint64_t body_len;
    int has_content_length; /* body_len is exact: send Content-Length */
    time_t last_modified;   /* 0 when unset */

    /* Accounting, for logs. */
    struct timespec start; /* when the request head was complete */
    uint64_t bytes_sent;   /* head and body bytes written to the client */
    uint64_t body_sent;    /* body bytes handed to the transport or framing */
    int complete;          /* the whole response was written */

    /* The stream core's and the protocol's (src/http/stream.h); modules keep out. */
    const struct lux_stream_ops *ops;
    void *proto_data;
    struct lux_stream_state *stream;
    unsigned run_step, run_pos;    /* where the pipeline stands: its step, the hook's module */
    unsigned async : 1;            /* a hook returned LUX_ASYNC and has not resumed yet */
    unsigned streaming : 1;        /* lux_resp_stream: more body comes after the head */
    unsigned stream_ended : 1;     /* lux_resp_end (or _abort) was called */
    unsigned resp_aborted : 1;     /* the response is broken: the protocol must not end it well */
    int64_t stream_length;         /* a streamed body's announced length; -1 unknown */
    uint64_t resp_released;        /* body bytes sent or dropped (HEAD): lux_resp_queued */
    struct lux_req_body *req_body; /* the request body as the core keeps it (http/body.c) */
    unsigned req_body_empty : 1;   /* it ended before a byte came: nothing kept */
    unsigned tunnel : 1;           /* lux_resp_tunnel: the connection carries raw bytes */
    unsigned tunnel_done : 1;      /* lux_tunnel_done: the handler let go of the tunnel */
    unsigned relay : 1; /* stands for a connection relayed whole (mod_sockproxy): no head */
    uint64_t tunnel_in; /* client bytes the tunnel took in, for logs */
    struct lux_filter_chain *filters; /* output filters (http/filter.c); NULL: none */
};

/* Case-insensitive lookup of a request header; NULL when absent. */
const lux_str *lux_req_header(const lux_req *r, const char *name, size_t len);
/* Add a response header (name and value copied into the request pool). Returns 0 or -1. */
int lux_resp_header(lux_req *r, const char *name, size_t nlen, const char *value, size_t vlen);
/* Append body pieces. Memory must outlive the request (pool or static). Return 0 or -1. */
int lux_resp_body_mem(lux_req *r, const char *p, size_t len);
int lux_resp_body_copy(lux_req *r, const char *p, size_t len); /* copies into the pool */
int lux_resp_body_file(lux_req *r, struct lux_file *f, uint64_t off, uint64_t len);
/*
 * Answering later. A hook that returns LUX_ASYNC keeps the request and continues it later, from
 * the same worker's thread (a timer, a socket of its own), with lux_req_resume: as if the hook
 * had returned `res` (LUX_GO_ON: the next module of that hook; LUX_HANDLED: the response is set,
 * response_start hooks run and the head goes out; LUX_ERROR: 500; LUX_RESTART as usual). Never
 * from inside the hook itself. lux gives such a request no time limit: a handler that waits
 * for something sets its own timer.
 */
void lux_req_resume(lux_req *r, lux_result res);
/*
 * The client went away (closed, timed out, reset its stream, or the server stops) while the
 * handler still holds r (after LUX_ASYNC and before lux_req_resume, or before lux_resp_end of a
 * streamed body): fn releases what the handler holds; after it returns the handler must not
 * touch r again. fn runs from the loop, never from inside a lux_* call the handler makes.
 */
void lux_req_on_abort(lux_req *r, void (*fn)(lux_req *r, void *arg), void *arg);
/*
 * Streamed response bodies: the body is not complete when the handler answers; more comes
 * through lux_resp_body_* and then lux_resp_end (or lux_resp_abort: the body is broken;
 * HTTP/1 closes without ending it well). Without a length (lux_resp_content_length, set
 * before the answer) the body goes chunked on HTTP/1.1, close-delimited on HTTP/1.0. Memory
 * given to lux_resp_body_copy while streaming is released as soon as it is sent. 0 or -1.
 */
int lux_resp_stream(lux_req *r);
void lux_resp_content_length(lux_req *r, uint64_t len);
void lux_resp_end(lux_req *r);
void lux_resp_abort(lux_req *r);
/*
 * Back-pressure: body bytes appended and not yet handed to the socket (or framing). A producer
 * that sees LUX_RESP_HIGH_WATER or more stops and asks to hear, once, from the loop, when the
 * queue is below LUX_RESP_LOW_WATER again. The high mark is the socket's own unsent-bytes bound
 * (TCP_NOTSENT_LOWAT, 256 KiB): a stalled client costs a stream about twice that; the low mark
 * leaves the socket a quarter of it to send while the producer refills.
 */
#define LUX_RESP_HIGH_WATER (256 * 1024)
#define LUX_RESP_LOW_WATER (64 * 1024)
uint64_t lux_resp_queued(const lux_req *r);
void lux_resp_on_writable(lux_req *r, void (*fn)(lux_req *r, void *arg), void *arg);
/*
 * Output filters: code between a streamed body's handler and the protocol (compression). A
 * module installs one on a streamed response before its head goes out (a response_start hook
 * is the place); filters added to one response form a chain in the order they were added.
 * From then on every body piece the handler appends goes to the first filter's `data` (file
 * pieces read in blocks of at most 64 KiB), and what a filter emits with lux_filter_emit goes
 * to the next one or, from the last, to the protocol. The core calls, always from the loop or
 * from the handler's own lux_resp_* call:
 *   data   with len > 0 bytes of body (valid only during the call);
 *   flush  when the producer paused (nothing more to filter and everything emitted was sent):
 *          emit what is held back, so that the client has all it was given so far;
 *   end    once after the handler's lux_resp_end: emit the rest;
 *   release once when the request is done (or the filter is dropped): free ctx.
 * Each returns 0, or -1 when the body cannot go on (it then breaks: lux_resp_abort). A filter
 * may only emit; it must not append with lux_resp_body_*, end the response or keep r beyond
 * release. Its memory per response should be bounded (a window and an output block): the core
 * hands it at most 64 KiB at a time and stops feeding it while LUX_RESP_HIGH_WATER bytes of its
 * output are queued; lux_resp_queued counts what the chain holds besides what it emitted. A
 * filter that changes the length (keeps_length 0) drops the announced Content-Length: the body
 * goes chunked on HTTP/1.1, close-delimited on HTTP/1.0. Returns 0, or -1 when the response
 * does not stream, is a tunnel, broke already, its head went out, or a body piece already
 * passed the chain.
 */
typedef struct lux_filter lux_filter;
typedef struct {
    int (*data)(lux_filter *f, const char *p, size_t len);
    int (*flush)(lux_filter *f);
    int (*end)(lux_filter *f);
    void (*release)(void *ctx);
    int keeps_length;
} lux_filter_ops;
int lux_resp_filter(lux_req *r, const lux_filter_ops *ops, void *ctx);
/* From a filter's callback: pass len bytes on (copied). 0 or -1 (out of memory). */
int lux_filter_emit(lux_filter *f, const char *p, size_t len);
void *lux_filter_ctx(const lux_filter *f);
/*
 * The request body. r->content_length is its announced length (-1: unknown, as for chunked
 * HTTP/1.1 or HTTP/2 without one). With server.stream-request-body = 0 (the default) the handler
 * runs once the whole body is there and reads it to the end at once; with 1 or 2 it runs at
 * once and reads the body as it arrives. All of it counts against server.max-request-size.
 * lux_req_body_read returns bytes read (> 0), 0 at the end of a complete body, or -1 with errno
 * EAGAIN (more will come: wait for the notify callback) or EPIPE (the body failed: the client
 * left, broken framing, over the limit). The notify callback is called from the loop whenever
 * more can be read or the body ended or failed. A body no handler reads is dropped.
 */
ssize_t lux_req_body_read(lux_req *r, void *buf, size_t len);
void lux_req_body_notify(lux_req *r, void (*fn)(lux_req *r, void *arg), void *arg);
/*
 * Tunnels: a handler whose backend accepted an Upgrade (101 Switching Protocols) or a CONNECT
 * (2xx) turns its streamed response into a tunnel before it answers (after lux_resp_stream,
 * before lux_req_resume). The head goes out without framing (a 101 with "Connection: upgrade"),
 * and from then on the connection carries bytes both ways until both sides are done:
 *   client -> handler: the request body, read with lux_req_body_read and its notify callback.
 *     Never spooled: the protocol stops reading while LUX_REQ_BODY_MEM (64 KiB) bytes wait
 *     unread; no server.max-request-size. Its end (0) is the client's half-close.
 *   handler -> client: lux_resp_body_copy, with the back-pressure of lux_resp_queued and
 *     lux_resp_on_writable, sent raw; lux_resp_end half-closes the client (shutdown SHUT_WR).
 * The handler holds the request until lux_tunnel_done: called after lux_resp_end and the body's
 * end, the tunnel closes well; called before, it is cut (the client's connection closes). The
 * client leaving, or the tunnel idle for server.max-read-idle, aborts it (lux_req_on_abort).
 * The request's access-log line is written when the tunnel ends, with the bytes both ways.
 * Over HTTP/2 only a WebSocket request (RFC 8441 extended CONNECT, which modules see as a GET
 * with "Upgrade: websocket") tunnels: its stream carries the bytes as DATA frames, a 101 goes
 * out as :status 200, lux_resp_end and the client's end are END_STREAM, and lux_tunnel_done
 * ends the stream.
 * Returns 0, or -1 when the request's protocol cannot tunnel it or its head went out already.
 */
int lux_resp_tunnel(lux_req *r);
void lux_tunnel_done(lux_req *r);
/* Answer with an error status and lux's (or the configured) error page. */
lux_result lux_resp_error(lux_req *r, int status);
/* Discard a body built so far (e.g. before an error page). */
void lux_resp_body_reset(lux_req *r);
/*
 * Replace the request's URI (path and optional "?query", as a client would send it) for
 * LUX_RESTART. It is normalised like a received target; returns 0, or the HTTP status (400)
 * when the new URI is invalid.
 */
int lux_req_set_uri(lux_req *r, const char *uri, size_t len);
/*
 * A per-request slot of module m, initially NULL, kept across LUX_RESTART (e.g. a rewrite's
 * "already rewritten" state); point it at memory from r->pool. NULL when out of memory or m
 * is not enabled.
 */
void **lux_req_mod_data(lux_req *r, const lux_module *m);
/*
 * Forget every condition decided for r and patch the module settings again: for a module that
 * changed what conditions look at (a request header). Returns 0 or -1 (out of memory).
 */
int lux_req_recheck_conditions(lux_req *r);
/*
 * The connection a request came on. The local end is named as the listener was configured
 * ("127.0.0.1:8080", "[::1]:80", "unix:/run/x.sock"), NULL for a connection that came from
 * no listener (-1 on stdin); ports are -1 for unix sockets or when unknown.
 */
const char *lux_req_local_name(const lux_req *r);
int lux_req_local_port(const lux_req *r);
int lux_req_remote_port(const lux_req *r);
/* The client's address: r->remote_addr when a module set it, else the connection's peer
 * (AF_UNIX, with no path, for a unix socket); NULL without a connection. */
const struct sockaddr *lux_req_remote_addr(const lux_req *r);
/*
 * The TLS client certificate of the request's connection (ssl.verifyclient.*). NONE: none was
 * asked for or sent (or plain HTTP). FAILED: one was sent but did not verify; the handshake
 * only lets it through without ssl.verifyclient.enforce, so that the request can decide.
 */
typedef enum {
    LUX_CLIENT_CERT_NONE,
    LUX_CLIENT_CERT_VERIFIED,
    LUX_CLIENT_CERT_FAILED,
} lux_client_cert;
lux_client_cert lux_req_client_cert(const lux_req *r);
/* The authenticated user: r->auth_user once mod_auth set it, else the field of a verified
 * client certificate that ssl.verifyclient.username names, in r->pool, or behind a PROXY
 * header the CN of the certificate the proxy verified (extforward.hap-PROXY-ssl-client-verify).
 * ptr NULL when there is none. */
lux_str lux_req_remote_user(lux_req *r);
/*
 * The TLS facts of the request's connection, named as lighttpd names them in the environment
 * of CGI and FastCGI: HTTPS ("on"), SSL_PROTOCOL, SSL_CIPHER, SSL_CIPHER_USEKEYSIZE,
 * SSL_CIPHER_ALGKEYSIZE and, where a client certificate was asked for (ssl.verifyclient.*),
 * SSL_CLIENT_VERIFY ("SUCCESS", "NONE" or "FAILED:<reason>") and, for a verified certificate,
 * SSL_CLIENT_S_DN, SSL_CLIENT_S_DN_<field> for each subject field, SSL_CLIENT_I_DN,
 * SSL_CLIENT_M_SERIAL, SSL_CLIENT_V_START, SSL_CLIENT_V_END, REMOTE_USER and AUTH_TYPE (with
 * ssl.verifyclient.username) and SSL_CLIENT_CERT in PEM (with ssl.verifyclient.exportcert).
 * fn is called once per variable, in that order; the strings are valid only during the call.
 * Behind a PROXY header whose client spoke TLS to the proxy, the variables the header gave
 * (mod_extforward). Nothing is called for plain HTTP. Returns 0, or -1 when memory ran out
 * part way.
 */
typedef void (*lux_env_fn)(void *arg, const char *name, size_t nlen, const char *value,
                           size_t vlen);
int lux_req_tls_env(const lux_req *r, lux_env_fn fn, void *arg);
/* Requests completed on the request's connection so far (this one counts once it is done). */
unsigned lux_req_conn_requests(const lux_req *r);
/* The HTTP/2 stream the request came on; 0 for HTTP/1 (lighttpd's r->h2id). */
uint32_t lux_req_stream_id(const lux_req *r);
/* Has the server begun to stop (gracefully or not)? Requests in flight still finish. */
int lux_req_server_stopping(const lux_req *r);
/* The worker's clock: the second the Date header of the response shows. */
time_t lux_req_now(lux_req *r);
/* "HTTP/1.0", "HTTP/1.1" or "HTTP/2.0", as lighttpd names r->version in logs and CGI's
 * SERVER_PROTOCOL. */
const char *lux_req_protocol(const lux_req *r);
/* size bytes from the request's pool, suitably aligned, released when the request ends; NULL
 * when out of memory. */
void *lux_req_alloc(lux_req *r, size_t size);
/* printf into the pool; NULL when out of memory. */
char *lux_req_printf(lux_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
