/*
 * HTTP/1.x over a connection: read request heads, start each request in the stream core, feed
 * it the request body as it arrives, send its response when the core says it is ready
 * (head_ready, from the loop), drop what is left of a body no handler read, and go on with
 * pipelined requests; keep alive or close. One request at a time: pipelined requests wait in
 * the input buffer.
 *
 * run() drives a connection as far as it can go without blocking. Who closes: a step that
 * cannot go on returns FAILED and leaves the connection to its caller, which closes it; a
 * function that closed (lux_conn_close, lux_conn_linger) returns FREED: the connection may be
 * gone and must not be touched again.
 */
#include "http/h1/h1_conn.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "http/h1/chunked.h"
#include "http/h1/h1_parser.h"
#include "http/h1/h1_request.h"
#include "http/h2/h2_conn.h"
#include "http/request.h"
#include "http/stat_cache.h"
#include "http/stream.h"
#include "lux/log.h"
#include "mod/sockproxy.h"
#include "net/stats.h"

#define MAX_HEADERS 128
#define MAX_EMPTY_LINES 8
#define MAX_IOV 16
/* Bytes one connection may send per event before the loop serves the others (level-triggered
 * EPOLLOUT brings it straight back). It bounds each sendfile too: a call asking for the whole
 * file runs on for as long as the window lets it. */
#define WRITE_BUDGET (1024 * 1024)

#define SMALL_IN 1024 /* the buffer of a head that arrives slowly */

typedef enum {
    H1_IDLE,  /* waiting for (the rest of) a request head */
    H1_WAIT,  /* a request runs (its body may still be arriving): waiting for head_ready */
    H1_WRITE, /* sending a response (its request's body may still be arriving) */
    H1_DRAIN, /* the response is out: dropping what is left of the request body */
} h1_state;

/* A response's output, in its request's pool: the iov of head, framing and memory chunks, which
 * of its entries are body bytes, and the chunked framing of the batch on its way. */
typedef struct {
    struct iovec iov[MAX_IOV];
    unsigned char body[MAX_IOV];
    char size_line[24]; /* "<hex length>\r\n" of the batch */
    lux_chunk crlf;     /* ends the batch's data (and, at the end, the body) */
} h1_out;

typedef struct {
    h1_state state;
    uint32_t head_scanned; /* bytes of the next head (from in_off) searched for its end */
    int64_t head_start;    /* when the next head was first seen incomplete (loop ms) */
    unsigned keep_alive : 1, in_request : 1;
    unsigned drain : 1;           /* an error was answered: drain input before closing */
    unsigned continue_wanted : 1; /* Expect: 100-continue, not answered yet */
    unsigned tunnel : 1;          /* the response is a tunnel (lux_resp_tunnel): raw bytes */
    unsigned tunnel_shut : 1;     /* the tunnel's output ended: the client was half-closed */
    unsigned relay : 1;           /* relayed whole (mod_sockproxy): no HTTP either way */
    lux_h1_framing framing;       /* of the current request */
    lux_req *req;
    /* output */
    h1_out *o;
    struct iovec *iov; /* the unsent part of o->iov: head, framing, leading memory chunks */
    int iovcnt;
    lux_chunk *out;   /* taken body chunks after iov */
    uint64_t out_off; /* bytes of out already sent */
    int out_end;      /* the last body chunk has been taken (and its framing queued) */
    int chunked_out;  /* the body goes in chunked framing */
    /* the request body still to read */
    int64_t body_left; /* Content-Length bytes left, -1 when chunked, INT64_MAX in a tunnel */
    lux_chunked_decoder chunked;
    int body_full;      /* the core has no room for more (stream-request-body 2): socket unread */
    int64_t body_limit; /* server.max-request-size in bytes, 0: none; for what is dropped */
    uint64_t dropped;   /* body bytes dropped after the response */
} h1_conn;

enum {
    DONE,   /* this step is finished; go on */
    AGAIN,  /* waiting for the socket (or the core) */
    FAILED, /* the caller must close the connection */
    FREED,  /* the connection was closed and freed */
};

static void run(lux_conn *c);
static void on_readable(lux_conn *c);
static void head_ready(lux_req *r);
static void body_ready(lux_req *r);
static void body_wanted(lux_req *r);

static const lux_stream_ops h1_ops = {head_ready, body_ready, body_wanted};

static h1_conn *h1(const lux_conn *c) {
    return c->proto_data;
}

static const lux_core_conf *core_of(const lux_conn *c) {
    return c->gen->core;
}

/* Sending, but everything taken so far went out: the handler has to produce more first. */
static int starved(const h1_conn *h) {
    return h->state == H1_WRITE && !h->iovcnt && !h->out && !h->out_end;
}

/* The client is to send more of the request body now (the core has room for it). */
static int body_expected(const h1_conn *h) {
    return h->body_left != 0 && !h->body_full;
}

/* While a request runs: the client sending its body has server.max-read-idle between bytes,
 * one taking the response server.max-write-idle while bytes are queued; otherwise the handler
 * keeps its own time and the connection waits for it. */
static int64_t request_timeout(const lux_conn *c) {
    const h1_conn *h = h1(c);
    const lux_core_conf *core = core_of(c);
    if (h->tunnel) /* idle both ways: every byte either way passes this connection */
        return lux_conn_after(c->last_io, core->max_read_idle);
    if (h->state == H1_WRITE && !starved(h))
        return lux_conn_after(c->last_io, core->max_write_idle);
    if (body_expected(h))
        return lux_conn_after(c->last_io, core->max_read_idle);
    return INT64_MAX;
}

/* When this connection times out next, from its state alone (see lux_proto.timeout_at). */
static int64_t timeout_at(const lux_conn *c) {
    const h1_conn *h = h1(c);
    const lux_core_conf *core = core_of(c);
    int stopping = atomic_load_explicit(&c->w->srv->state, memory_order_relaxed);
    switch (h->state) {
    case H1_IDLE:
        if (c->in && c->in_off < c->in_len)
            /* A head has server.max-read-idle from its first byte: a byte now and then does
             * not keep a connection open. */
            return lux_conn_after(h->head_scanned ? h->head_start : c->last_io,
                                  core->max_read_idle);
        if (stopping)
            return 0;
        return lux_conn_after(c->last_io,
                              c->requests == 0 ? core->max_read_idle : core->max_keep_alive_idle);
    case H1_DRAIN:
        return stopping == LUX_STOP_NOW ? 0 : lux_conn_after(c->last_io, core->max_read_idle);
    case H1_WAIT:
    case H1_WRITE:
        return stopping == LUX_STOP_NOW ? 0 : request_timeout(c);
    }
    return 0;
}

static void set_state(lux_conn *c, h1_state state) {
    static const lux_stats_state activity[] = {
        [H1_IDLE] = LUX_STATS_IDLE,
        [H1_WAIT] = LUX_STATS_READING,
        [H1_WRITE] = LUX_STATS_WRITING,
        [H1_DRAIN] = LUX_STATS_READING,
    };
    h1(c)->state = state;
    lux_conn_set_activity(c, activity[state]);
    lux_conn_retime(c);
}

/* The request is over (answered, or the connection closes): the core runs request_done. */
static void end_request(lux_conn *c) {
    h1_conn *h = h1(c);
    lux_req *r = h->req;
    if (!r)
        return;
    h->req = NULL;
    h->out = NULL;
    h->o = NULL;
    h->iov = NULL;
    h->iovcnt = 0;
    lux_req_free(r);
    if (c->tls.buf) { /* a response's TLS write buffer: an idle connection holds none */
        lux_worker_buf_put(c->w, c->tls.buf);
        c->tls.buf = NULL;
        c->tls.buf_len = 0;
    }
}

static void h1_close(lux_conn *c) {
    end_request(c);
}

/* Close now, or linger first when the client may still be sending. */
static int close_or_linger(lux_conn *c) {
    const h1_conn *h = h1(c);
    int unread = h->drain || (c->in && c->in_off < c->in_len) || h->body_left != 0;
    return lux_conn_linger(c, unread) ? AGAIN : FREED;
}

/* Grow the buffer for a head larger than LUX_IN_BUF, up to server.max-request-field-size. */
static int grow_input(lux_conn *c, size_t limit) {
    size_t cap = (size_t)c->in_cap * 2;
    if (cap > limit + 1024)
        cap = limit + 1024;
    if (cap <= c->in_cap)
        return -1;
    char *n = malloc(cap);
    if (!n)
        return -1;
    memcpy(n, c->in + c->in_off, c->in_len - c->in_off);
    uint32_t len = c->in_len - c->in_off;
    lux_conn_release_input(c);
    c->in = n;
    c->in_cap = (uint32_t)cap;
    c->in_len = len;
    return 0;
}

/* A head that stops short of its end keeps its bytes in a buffer its size, and the worker's
 * 16 KiB buffer goes back for a busy connection: thousands of slow clients cost kilobytes each. */
static void shrink_input(lux_conn *c) {
    uint32_t pending = c->in_len - c->in_off;
    if (c->in_cap != LUX_IN_BUF || pending > SMALL_IN / 2)
        return;
    char *n = malloc(SMALL_IN);
    if (!n)
        return; /* keep the big buffer: it still works */
    memcpy(n, c->in + c->in_off, pending);
    lux_conn_release_input(c);
    c->in = n;
    c->in_cap = SMALL_IN;
    c->in_len = pending;
}

static lux_req *new_request(lux_conn *c) {
    lux_req *r = lux_req_new(c, &h1_ops, c);
    h1(c)->req = r;
    return r;
}

/* The head for r, as this connection frames it. */
static char *serialise_head(lux_conn *c, lux_req *r, size_t *hlen) {
    h1_conn *h = h1(c);
    lux_worker *w = c->w;
    const lux_core_conf *core = core_of(c);
    /* No idle time allowed means no keep-alive, as in lighttpd: a connection kept open only to
     * time out a millisecond later would race the client's next request. */
    if (!h->framing.keep_alive || r->conn_closes || w->srv->state != LUX_RUNNING ||
        c->peer_closed || c->requests + 1 >= (unsigned long)core->max_keep_alive_requests ||
        core->max_keep_alive_idle <= 0)
        h->keep_alive = 0;
    /* A streamed body of unknown length on HTTP/1.0 ends with the connection. */
    if (r->streaming && r->stream_length < 0 && r->version == 10 && !r->head_only)
        h->keep_alive = 0;
    r->conn_closes = !h->keep_alive;
    char *head = lux_resp_head(r, hlen);
    if (head && r->confs && ((const lux_core_conf *)r->confs[0])->log_response_header)
        lux_log(LUX_LOG_DEBUG, "response-header:\n%.*s", (int)*hlen, head);
    return head;
}

/* Room left in o->iov after the queued entries. */
static int iov_room(const h1_conn *h) {
    return MAX_IOV - (int)(h->iov - h->o->iov) - h->iovcnt;
}

static void push_iov(h1_conn *h, const void *p, size_t len, int body) {
    int i = (int)(h->iov - h->o->iov) + h->iovcnt++;
    h->o->iov[i] = (struct iovec){(void *)p, len};
    h->o->body[i] = (unsigned char)body;
}

/* Memory chunks at the front of h->out join the iov, so they leave with one writev. */
static void gather_memory(h1_conn *h) {
    while (h->out && h->out->mem && h->out_off == 0 && iov_room(h) > 0) {
        push_iov(h, h->out->mem, h->out->len, h->out != &h->o->crlf);
        h->out = h->out->next;
    }
}

/* Everything queued went out: take the next batch of body from the core, framed when chunked.
 * 1 when something was queued, 0 when there is nothing (yet), -1 when the response is broken. */
static int refill(lux_conn *c) {
    h1_conn *h = h1(c);
    h1_out *o = h->o;
    lux_req *r = h->req;
    if (h->out_end)
        return 0;
    if (!h->iovcnt)
        h->iov = o->iov;
    int end;
    lux_chunk *batch = lux_resp_take(r, SIZE_MAX, &end);
    if (end && r->resp_aborted)
        return -1; /* closing without the last chunk tells the client */
    h->out_end = end;
    if (h->chunked_out && (batch || end)) {
        static const char data_end[] = "\r\n", last_end[] = "\r\n0\r\n\r\n";
        uint64_t total = 0;
        lux_chunk **tail = &batch;
        for (; *tail; tail = &(*tail)->next)
            total += (*tail)->len;
        if (total) {
            int n =
                snprintf(o->size_line, sizeof o->size_line, "%llx\r\n", (unsigned long long)total);
            push_iov(h, o->size_line, (size_t)n, 0);
            o->crlf = (lux_chunk){.mem = end ? last_end : data_end, .len = end ? 7 : 2};
        } else {
            o->crlf = (lux_chunk){.mem = last_end + 2, .len = 5};
        }
        *tail = &o->crlf;
    }
    h->out = batch;
    h->out_off = 0;
    gather_memory(h);
    return h->iovcnt || h->out;
}

/* The response is a tunnel: what the client sends from now on, up to its end, is the tunnel's
 * input (fed to the core as a request body), and the connection ends with it. */
static void start_tunnel(lux_conn *c) {
    h1_conn *h = h1(c);
    h->tunnel = 1;
    h->framing.keep_alive = 0;
    h->continue_wanted = 0;
    h->body_left = INT64_MAX;
    h->body_full = 0;
    h->body_limit = 0;
}

/* Queue the response: head, framing and leading memory chunks as one writev, the rest after. */
static int queue_response(lux_conn *c, lux_req *r) {
    h1_conn *h = h1(c);
    if (r->tunnel)
        start_tunnel(c);
    else if (h->relay)
        return -1;              /* no tunnel: nothing is said to a relayed client, it is closed */
    static char no_head[] = ""; /* a relayed connection's tunnel starts with the bytes */
    size_t hlen = 0;
    char *head = h->relay ? no_head : serialise_head(c, r, &hlen);
    h->o = lux_pool_alloc(r->pool, sizeof *h->o);
    if (!head || !h->o)
        return -1;
    h->iov = h->o->iov;
    h->iovcnt = 0;
    push_iov(h, head, hlen, 0);
    h->out = NULL;
    h->out_end = 0;
    h->chunked_out = lux_resp_chunked(r) && !r->head_only;
    set_state(c, H1_WRITE);
    return refill(c) < 0 ? -1 : 0;
}

/* Answer a request that never made it through the pipeline (bad head, limits). */
static int answer_error(lux_conn *c, int status) {
    h1_conn *h = h1(c);
    lux_req *r = h->req ? h->req : new_request(c);
    if (!r)
        return -1;
    h->framing.keep_alive = 0;
    h->keep_alive = 0;
    h->drain = 1;
    h->continue_wanted = 0;
    h->head_scanned = 0;
    set_state(c, H1_WAIT);
    lux_req_start_error(r, status);
    return 0;
}

static int start_body(lux_conn *c, lux_req *r) {
    h1_conn *h = h1(c);
    const lux_core_conf *core = r->confs[0];
    int64_t limit = core->max_request_size > 0 ? core->max_request_size * 1024 : 0;
    h->body_full = 0;
    h->body_limit = limit;
    h->dropped = 0;
    if (h->framing.chunked) {
        lux_chunked_init(&h->chunked);
        h->body_left = -1;
    } else {
        h->body_left = r->content_length > 0 ? r->content_length : 0;
    }
    if (limit && r->content_length > limit)
        return 413; /* refused before a byte of it is read */
    return 0;
}

/* The client waits for this before sending the body (RFC 9110 10.1.1). It is 25 bytes into an
 * idle socket: if even that does not fit, the connection is not worth keeping. */
static void send_continue(lux_conn *c) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct iovec iov = {(void *)cont, sizeof cont - 1};
    ssize_t n = c->tp->writev(c, &iov, 1, 0);
    if (n != (ssize_t)sizeof cont - 1)
        h1(c)->keep_alive = 0;
}

/* Hand the request to the core; its head comes back through head_ready. A body comes after
 * it (serve feeds it), and a request without one says so at once. */
static void start_request(lux_conn *c, lux_req *r) {
    h1_conn *h = h1(c);
    /* No retime here: most requests are answered before the loop waits again, and one that
     * has to wait (for its body, its handler) arms the timer then (wait_request). */
    h->state = H1_WAIT;
    h->continue_wanted = h->framing.expect_continue && h->body_left != 0;
    if (h->body_left == 0)
        lux_req_body_end(r, 1);
    lux_req_start(r);
}

/* The head is not complete yet: remember how far it was searched, and when it started. */
static int head_incomplete(lux_conn *c, const lux_core_conf *core) {
    h1_conn *h = h1(c);
    size_t avail = c->in_len - c->in_off;
    if (avail >= (size_t)core->max_request_field_size)
        return answer_error(c, 431) < 0 ? FAILED : DONE;
    int first_look = !h->head_scanned;
    h->head_scanned = (uint32_t)avail;
    if (first_look) {
        h->head_start = lux_conn_now_ms(c);
        lux_conn_retime(c); /* max-read-idle may be shorter than the keep-alive wait before it */
    }
    if (c->in_len == c->in_cap && c->in_off == 0 &&
        grow_input(c, (size_t)core->max_request_field_size) < 0)
        return answer_error(c, 431) < 0 ? FAILED : DONE;
    return AGAIN;
}

/* Can a head end within the unparsed input? Every head ends in a line end followed by another
 * (LF LF or LF CR LF), so only bytes that arrived since the last look need a search; the
 * parser runs again only when one is there. */
static int head_end_possible(const lux_conn *c) {
    const char *p = c->in + c->in_off;
    size_t len = c->in_len - c->in_off;
    uint32_t scanned = h1(c)->head_scanned;
    size_t from = scanned > 2 ? scanned - 2 : 0; /* a line end split by a read */
    for (const char *q = p + from, *end = p + len; (q = memchr(q, '\n', (size_t)(end - q)));) {
        q++;
        if (q < end && (*q == '\n' || (*q == '\r' && q + 1 < end && q[1] == '\n')))
            return 1;
    }
    return 0;
}

/* Parse one head from the buffer and start it. DONE: the request runs (or its error is
 * answered), or its body is to be read; AGAIN: need input. */
static int next_request(lux_conn *c) {
    h1_conn *h = h1(c);
    const lux_core_conf *core = core_of(c);
    /* HTTP/2 by prior knowledge, or after ALPN "h2": the client preface comes first. */
    int preface = c->requests == 0 ? lux_h2_preface(c) : 0;
    if (preface < 0)
        return head_incomplete(c, core);
    if (preface > 0)
        return lux_h2_take_preface(c) < 0 ? FAILED : FREED;
    if (h->head_scanned && !head_end_possible(c))
        return head_incomplete(c, core);
    lux_h1_header headers[MAX_HEADERS];
    lux_h1_request hr = {.headers = headers, .num_headers = MAX_HEADERS};
    size_t avail = c->in_len - c->in_off;
    int n = lux_h1_parse_request(c->in + c->in_off, avail, &hr, MAX_EMPTY_LINES);
    if (n == -2)
        return head_incomplete(c, core);
    h->head_scanned = 0;
    if (n == -1 || (size_t)n > (size_t)core->max_request_field_size)
        return answer_error(c, n == -1 ? hr.status : 431) < 0 ? FAILED : DONE;
    c->in_off += (uint32_t)n;
    h->in_request = 1;
    atomic_store_explicit(&c->w->srv->last_activity, (long)lux_loop_now(c->w->loop),
                          memory_order_relaxed);
    lux_req *r = new_request(c);
    if (!r)
        return FAILED;
    int st = lux_req_from_h1(r, &hr, &h->framing);
    if (!st && lux_req_patch_conf(r) < 0)
        st = 500;
    if (!st)
        st = start_body(c, r);
    if (st) {
        h->body_left = 0;
        return answer_error(c, st) < 0 ? FAILED : DONE;
    }
    if (h->body_left == 0) {
        h->req = NULL; /* an h2c Upgrade hands r (and c) to HTTP/2 */
        if (lux_h2_take_upgrade(c, r))
            return FREED;
        h->req = r;
    }
    start_request(c, r);
    return DONE;
}

/* The request body cannot be taken (malformed chunked framing: 400, over the limit: 413):
 * the body fails for the handler, the error is the answer when no head went out yet, and the
 * connection closes after it (what the client still sends is drained by the linger). */
static int body_error(lux_conn *c, int status) {
    h1_conn *h = h1(c);
    lux_req *r = h->req;
    h->body_left = 0;
    h->keep_alive = 0;
    h->drain = 1;
    h->continue_wanted = 0;
    if (!r || h->state == H1_WRITE)
        return FAILED; /* nothing to answer, or the head is out: closing tells the client */
    lux_req_body_end(r, 0);
    lux_req_start_error(r, status);
    return DONE;
}

/* Take `give` bytes of chunked framing at p: the decoded bytes are left at p (*len of them).
 * 1 when the body ended (what followed it stays in the buffer), 0 when more is needed, -1
 * when the framing is malformed. */
static int decode_chunked(lux_conn *c, char *p, size_t give, size_t *len) {
    h1_conn *h = h1(c);
    size_t avail = c->in_len - c->in_off;
    *len = give;
    ssize_t rest = lux_chunked_decode(&h->chunked, p, len);
    if (rest == -1)
        return -1;
    if (rest == -2) {
        c->in_off += (uint32_t)give;
        return 0;
    }
    /* What followed the body's end in the bytes given, then the bytes not given. */
    if (give < avail)
        memmove(p + *len + rest, p + give, avail - give);
    c->in_off += (uint32_t)*len;
    c->in_len = c->in_off + (uint32_t)rest + (uint32_t)(avail - give);
    h->body_left = 0;
    return 1;
}

/* Move request-body bytes from the input buffer to the core, or drop them when no request
 * takes them any more (DRAIN). Stops when the buffer is empty, the body complete, or the core
 * full (body_full). DONE, or what body_error says. */
static int pump_body(lux_conn *c) {
    h1_conn *h = h1(c);
    lux_req *r = h->state == H1_DRAIN ? NULL : h->req;
    h->body_full = 0;
    while (h->body_left != 0 && c->in && c->in_off < c->in_len) {
        size_t room = r ? lux_req_body_room(r) : SIZE_MAX;
        if (!room) {
            h->body_full = 1;
            return DONE;
        }
        char *p = c->in + c->in_off;
        size_t avail = c->in_len - c->in_off;
        size_t give = avail < room ? avail : room, len;
        int ended;
        if (h->body_left > 0) {
            len = give < (uint64_t)h->body_left ? give : (size_t)h->body_left;
            c->in_off += (uint32_t)len;
            h->body_left -= (int64_t)len;
            ended = h->body_left == 0;
        } else if ((ended = decode_chunked(c, p, give, &len)) < 0) {
            return body_error(c, 400);
        }
        if (r && len && lux_req_body_feed(r, p, len) < 0)
            return body_error(c, errno == EFBIG ? 413 : 500);
        if (r && h->tunnel)
            r->tunnel_in += len;
        h->dropped += r ? 0 : len;
        if (!r && h->body_limit && h->dropped > (uint64_t)h->body_limit)
            return FAILED; /* what no one reads is not read past the limit either */
        if (ended) {
            h->continue_wanted = 0; /* the whole body came without it */
            if (r)
                lux_req_body_end(r, 1);
        }
    }
    return DONE;
}

/* Writes what h->iov holds, telling the core how many body bytes (not head or framing) went.
 * DONE when all of it went out, AGAIN when the socket took less: a short write means its
 * buffer is full, and trying again would only return EAGAIN. */
static int flush_iov(lux_conn *c) {
    h1_conn *h = h1(c);
    /* No MSG_MORE before a file: holding the head back for the sendfile that follows
     * measured twice the CPU per 100 KiB response (58 vs 27 us) on loopback. But the last
     * bytes before a close wait for it: the FIN that close() or shutdown() sends right after
     * then rides on the same segment, one packet fewer per connection. (Not with -1, where
     * the socket stays open as stdout and no FIN would come to push them.) */
    int last = !h->out && h->out_end && !h->keep_alive && c->w->srv->single_fd < 0;
    ssize_t n = c->tp->writev(c, h->iov, h->iovcnt, last);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? AGAIN : FAILED;
    c->last_io = lux_conn_now_ms(c);
    h->req->bytes_sent += (uint64_t)n;
    size_t left = (size_t)n;
    uint64_t body = 0;
    while (h->iovcnt && left >= h->iov[0].iov_len) {
        left -= h->iov[0].iov_len;
        if (h->o->body[h->iov - h->o->iov])
            body += h->iov[0].iov_len;
        h->iov++;
        h->iovcnt--;
    }
    if (h->iovcnt) {
        if (h->o->body[h->iov - h->o->iov])
            body += left;
        h->iov[0].iov_base = (char *)h->iov[0].iov_base + left;
        h->iov[0].iov_len -= left;
    }
    if (body)
        lux_resp_sent(h->req, body); /* may release the chunks that went out */
    return h->iovcnt ? AGAIN : DONE;
}

/* Sends up to *budget bytes of a file chunk. DONE when the socket took all it was asked, AGAIN
 * after a short write (the socket is full, see flush_iov). */
static int flush_file(lux_conn *c, const lux_chunk *ch, size_t *budget) {
    h1_conn *h = h1(c);
    uint64_t left = ch->len - h->out_off;
    size_t want = left < *budget ? (size_t)left : *budget;
    off_t off = (off_t)(ch->off + h->out_off);
    ssize_t n = c->tp->sendfile(c, ch->file->fd, &off, want);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? AGAIN : FAILED;
    if (n == 0)
        return FAILED; /* the file shrank under us: the response cannot be completed */
    c->last_io = lux_conn_now_ms(c);
    h->req->bytes_sent += (uint64_t)n;
    *budget = (size_t)n < *budget ? *budget - (size_t)n : 0;
    h->out_off += (uint64_t)n;
    if (h->out_off == ch->len) {
        h->out = ch->next;
        h->out_off = 0;
    }
    lux_resp_sent(h->req, (uint64_t)n); /* may release ch: not looked at after this */
    return (size_t)n < want ? AGAIN : DONE;
}

static int flush(lux_conn *c) {
    h1_conn *h = h1(c);
    size_t budget = WRITE_BUDGET;
    for (;;) {
        if (h->iovcnt) {
            int rc = flush_iov(c);
            if (rc != DONE)
                return rc;
        }
        const lux_chunk *ch = h->out;
        if (!ch) {
            int rc = refill(c);
            if (rc < 0)
                return FAILED;
            if (rc == 0)
                return DONE;
            continue;
        }
        if (ch->mem) {
            h->iov = h->o->iov;
            h->iovcnt = 0;
            gather_memory(h);
            continue;
        }
        if (budget == 0)
            return AGAIN; /* let the loop serve the other connections; EPOLLOUT brings us back */
        int rc = flush_file(c, ch, &budget);
        if (rc != DONE)
            return rc;
    }
}

/* The connection stays open for the next request. */
static int keep_going(lux_conn *c) {
    if (c->requests == 1 && c->peer.sin6_family != AF_UNIX) {
        /* Kept alive: from now on a small response must not wait for the ACK of the previous
         * one (Nagle). Set lazily, as nginx does, so one-request connections skip the call. */
        int one = 1;
        setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->last_io = lux_conn_now_ms(c);
    set_state(c, H1_IDLE);
    return DONE;
}

static int finish_response(lux_conn *c) {
    h1_conn *h = h1(c);
    h->req->complete = 1;
    c->requests++;
    h->in_request = 0;
    end_request(c);
    if (!h->keep_alive)
        return close_or_linger(c);
    if (h->body_left != 0) { /* a body no handler read: dropped before the next request */
        set_state(c, H1_DRAIN);
        return DONE;
    }
    return keep_going(c);
}

/* Room in the input buffer for what the socket has (a full one is not read from). */
static int input_room(const lux_conn *c) {
    return !c->in || c->in_len < c->in_cap || c->in_off > 0;
}

/* A request in flight waits: for the socket to take more (write_blocked), for body bytes, or
 * for the handler, watching the client meanwhile (its end or an error aborts the request; what
 * it sends is kept for the next request, and a full buffer stops the reading). */
static int wait_request(lux_conn *c, int write_blocked) {
    h1_conn *h = h1(c);
    if (!write_blocked && !body_expected(h) && lux_req_head_pending(h->req))
        return AGAIN; /* answered: head_ready comes before the loop waits again */
    if (body_expected(h)) {
        if (lux_conn_take_pending(c))
            return DONE;
        /* Only now, with body bytes still to come, does the client need the 100. */
        if (h->continue_wanted)
            send_continue(c);
    }
    h->continue_wanted = 0;
    unsigned ev = write_blocked ? LUX_EV_WRITE : 0;
    /* A tunnel reads only what it can pass on: its client's end is its input's end. */
    int watch_client = !h->tunnel && (h->state == H1_WAIT || starved(h));
    if ((body_expected(h) || watch_client) && input_room(c))
        ev |= LUX_EV_READ;
    lux_conn_retime(c);
    if (ev)
        lux_conn_wait(c, ev);
    else if (c->io.events)
        lux_loop_del(c->w->loop, &c->io);
    return AGAIN;
}

/* The client half-closed a tunnel and everything it sent before was fed: the tunnel's input
 * ends, and the handler reads that end. */
static void tunnel_input_end(lux_conn *c) {
    h1_conn *h = h1(c);
    if (!h->tunnel || h->body_left == 0 || !c->peer_closed || (c->in && c->in_off < c->in_len))
        return;
    h->body_left = 0;
    lux_req_body_end(h->req, 1);
}

/* The tunnel's output is all out: the client is half-closed, and once the handler has let go
 * too the tunnel is over (its request logged) and the connection closes. */
static int tunnel_output_done(lux_conn *c) {
    h1_conn *h = h1(c);
    if (!h->tunnel_shut) {
        h->tunnel_shut = 1;
        c->tp->shutdown(c);
    }
    if (lux_req_held(h->req))
        return wait_request(c, 0);
    h->req->complete = 1;
    c->requests++;
    h->in_request = 0;
    end_request(c);
    return lux_conn_linger(c, !c->peer_closed) ? AGAIN : FREED;
}

/* A request in flight: take in its body, send its response, as far as the socket lets us. */
static int serve(lux_conn *c) {
    h1_conn *h = h1(c);
    if (body_expected(h)) {
        int rc = pump_body(c);
        if (rc != DONE)
            return rc;
        tunnel_input_end(c);
    }
    int write_blocked = 0;
    if (h->state == H1_WRITE) {
        int rc = flush(c);
        if (rc == FAILED)
            return FAILED;
        if (rc == DONE && h->out_end)
            return h->tunnel ? tunnel_output_done(c) : finish_response(c);
        write_blocked = rc == AGAIN;
    }
    return wait_request(c, write_blocked);
}

/* After the response: drop the rest of the request body, then the next request. */
static int drain_body(lux_conn *c) {
    if (pump_body(c) != DONE)
        return FAILED;
    if (h1(c)->body_left == 0)
        return keep_going(c);
    if (c->peer_closed)
        return FAILED;
    if (lux_conn_take_pending(c))
        return DONE;
    lux_conn_wait(c, LUX_EV_READ);
    return AGAIN;
}

/* Waiting for a request head: parse one from the buffer, or wait for more. */
static int read_head(lux_conn *c) {
    if (!c->in || c->in_off == c->in_len) {
        if (lux_conn_take_pending(c))
            return DONE;
        /* Idle: give the buffer back, an idle connection holds only itself. */
        lux_conn_release_input(c);
        if (c->peer_closed)
            return FAILED;
        lux_conn_wait(c, LUX_EV_READ);
        return AGAIN;
    }
    int rc = next_request(c);
    if (rc != AGAIN)
        return rc;
    if (c->peer_closed)
        return FAILED;
    if (lux_conn_take_pending(c))
        return DONE;
    shrink_input(c);
    lux_conn_wait(c, LUX_EV_READ);
    return AGAIN;
}

static void run(lux_conn *c) {
    for (;;) {
        int rc;
        switch (h1(c)->state) {
        case H1_IDLE:
            rc = read_head(c);
            break;
        case H1_DRAIN:
            rc = drain_body(c);
            break;
        default:
            rc = serve(c);
            break;
        }
        if (rc == FAILED)
            lux_conn_close(c);
        if (rc != DONE)
            return;
    }
}

static void on_readable(lux_conn *c) {
    if (lux_conn_ensure_input(c) < 0) {
        lux_conn_close(c);
        return;
    }
    if (c->in_len == c->in_cap) {
        run(c); /* full: parse what we have first */
        return;
    }
    if (lux_conn_read(c) < 0) {
        if (errno != EAGAIN && errno != EINTR)
            lux_conn_close(c);
        else if (lux_conn_wait(c, LUX_EV_READ) < 0)
            lux_conn_close(c); /* not in the epoll set, it would never hear from the client */
        return;
    }
    run(c);
}

/* The client is gone while its request runs: the handler hears of it, the connection closes. */
static void client_gone(lux_conn *c) {
    if (h1(c)->req)
        lux_req_abort(h1(c)->req);
    lux_conn_close(c);
}

/* Input while a request is in flight: body bytes, a pipelined request (kept in the buffer), or
 * the client's end. 0: go on; -1: the client left and the connection is closed. */
static int read_in_request(lux_conn *c) {
    if (lux_conn_ensure_input(c) < 0) {
        client_gone(c);
        return -1;
    }
    if (c->in_len == c->in_cap)
        return 0; /* full: the body pump makes room, or the reading stops */
    ssize_t n = lux_conn_read(c);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
        return 0;
    if (n == 0 && h1(c)->tunnel)
        return 0;   /* a half-close: the tunnel's input ends once what came before is fed */
    client_gone(c); /* end of input, or an error */
    return -1;
}

static void h1_on_io(lux_conn *c, unsigned events) {
    h1_conn *h = h1(c);
    if (h->state == H1_WAIT || h->state == H1_WRITE) {
        if (events & LUX_EV_READ && read_in_request(c) < 0)
            return;
        run(c);
        return;
    }
    /* c->want: the transport waits for the other direction than the state's own. */
    if (events & (LUX_EV_READ | LUX_EV_ERROR) || c->want)
        on_readable(c);
}

/* A connection relayed whole (mod_sockproxy): a request without a head stands for it, and only
 * the relaying module sees it. What the client sends meanwhile waits in the input buffer for
 * the tunnel to the backend. */
static void start_relay(lux_conn *c) {
    static const lux_str slash = {"/", 1};
    h1_conn *h = h1(c);
    lux_req *r = new_request(c);
    if (!r) {
        lux_conn_close(c);
        return;
    }
    r->method = LUX_M_CONNECT;
    r->method_str = (lux_str){"CONNECT", 7};
    r->target = r->uri = r->path = slash;
    r->relay = 1;
    h->relay = 1;
    h->in_request = 1;
    h->framing.keep_alive = 0;
    h->keep_alive = 0;
    h->body_left = 0;
    h->state = H1_WAIT;
    lux_conn_set_activity(c, LUX_STATS_READING);
    lux_req_body_end(r, 1);
    lux_req_start_handler(r, &lux_mod_sockproxy);
    run(c);
}

/* Clients send the request right behind the handshake, so it is usually there already: read
 * it now. The connection joins the epoll set only when it has to wait, and one that is
 * answered and closed at once never costs an epoll_ctl. */
static void h1_start(lux_conn *c) {
    h1(c)->keep_alive = 1;
    if (c->listener && lux_sockproxy_wanted(c->gen, c->listener->name)) {
        start_relay(c);
        return;
    }
    on_readable(c);
}

/* The core: r's status and headers are final (and, for now, its whole body). */
static void head_ready(lux_req *r) {
    lux_conn *c = r->proto_data;
    if (queue_response(c, r) < 0) {
        lux_conn_close(c);
        return;
    }
    run(c);
}

/* The core: more body (or its end) can be taken. Sending goes on at once when everything
 * before it went out; otherwise the flush that is waiting for the socket takes it. */
static void body_ready(lux_req *r) {
    lux_conn *c = r->proto_data;
    h1_conn *h = h1(c);
    /* A tunnel whose output is all out waits for its handler to let go. */
    int tunnel_waits = h->tunnel && !h->iovcnt && !h->out;
    if (h->req != r || !(starved(h) || tunnel_waits))
        return;
    c->last_io = lux_conn_now_ms(c); /* the write timeout counts from here */
    run(c);
}

/* The core: room for more request body again. */
static void body_wanted(lux_req *r) {
    lux_conn *c = r->proto_data;
    h1_conn *h = h1(c);
    if (h->req != r || !h->body_full)
        return;
    h->body_full = 0;
    run(c);
}

const lux_proto lux_h1_proto = {
    .state_size = sizeof(h1_conn),
    .start = h1_start,
    .on_io = h1_on_io,
    .timeout_at = timeout_at,
    .close = h1_close,
};
