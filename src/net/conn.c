/*
 * The HTTP/1.x connection state machine. conn_run() drives a connection as far as it can go
 * without blocking: parse a head, run the request, write the response, drop an unread body,
 * and loop for pipelined requests; it returns when the socket would block.
 *
 * Who closes: a step that cannot go on returns FAILED and leaves the connection to its caller,
 * which closes it; only linger() and lux_conn_close() close, and a function that called one of
 * them returns FREED: the connection is gone and must not be touched again.
 */
#include "net/conn.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "http/h1/h1_parser.h"
#include "http/request.h"
#include "http/stat_cache.h"
#include "lux/log.h"
#include "net/stats.h"
#include "net/tls.h"

#define MAX_HEADERS 128
#define MAX_EMPTY_LINES 8
#define MAX_IOV 16
#define LINGER_SECONDS 2
/* Bytes one connection may send per event before the loop serves the others (level-triggered
 * EPOLLOUT brings it straight back). It bounds each sendfile too: a call asking for the whole
 * file runs on for as long as the window lets it. */
#define WRITE_BUDGET (1024 * 1024)

#define SMALL_IN 1024 /* the buffer of a head that arrives slowly */

enum {
    DONE,   /* this step is finished; go on */
    AGAIN,  /* waiting for the socket */
    FAILED, /* the caller must close the connection */
    FREED,  /* the connection was closed and freed */
};

static void on_io(lux_io *io, unsigned events);
static void on_readable(lux_conn *c);
static void on_timeout(lux_timer *t);

static const lux_core_conf *core_of(const lux_conn *c) {
    return c->gen->core;
}

/* The plain transport is the system calls themselves. */
static ssize_t plain_read(lux_conn *c, void *buf, size_t len) {
    return read(c->io.fd, buf, len);
}

static ssize_t plain_writev(lux_conn *c, const struct iovec *iov, int iovcnt, int more) {
    struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    return sendmsg(c->io.fd, &m, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
}

static ssize_t plain_sendfile(lux_conn *c, int fd, off_t *off, size_t len) {
    return sendfile(c->io.fd, fd, off, len);
}

static size_t plain_pending(const lux_conn *c) {
    return 0;
}

static void plain_shutdown(lux_conn *c) {
    shutdown(c->io.fd, SHUT_WR);
}

static void plain_close(lux_conn *c) {}

const lux_transport lux_plain_transport = {
    plain_read, plain_writev, plain_sendfile, plain_pending, plain_shutdown, plain_close,
};

/* Wait for the socket: for `ev`, or for what the transport needs first (a TLS read may have to
 * write, and a TLS write to read). */
static int wait_for(lux_conn *c, unsigned ev) {
    return lux_loop_mod(c->w->loop, &c->io, c->want ? c->want : ev);
}

static int64_t now_ms(const lux_conn *c) {
    return lux_loop_now_ms(c->w->loop);
}

/* A limit of N seconds closes a connection idle for more than N seconds, as lighttpd's
 * "idle > limit" test does. */
static int64_t after(int64_t since, long seconds) {
    return since + (int64_t)seconds * 1000 + 1;
}

/* When this connection times out next, from its state alone; a time not after now means at
 * once. Bytes moving only push last_io later, so the timer can be armed at a state change and
 * simply looked at again when it fires. */
static int64_t timeout_at(const lux_conn *c) {
    const lux_core_conf *core = core_of(c);
    int stopping = atomic_load_explicit(&c->w->srv->state, memory_order_relaxed);
    switch (c->state) {
    case LUX_CONN_IDLE:
        if (c->in && c->in_off < c->in_len)
            /* A head has server.max-read-idle from its first byte: a byte now and then does
             * not keep a connection open. */
            return after(c->head_scanned ? c->head_start : c->last_io, core->max_read_idle);
        if (stopping)
            return 0;
        return after(c->last_io,
                     c->requests == 0 ? core->max_read_idle : core->max_keep_alive_idle);
    case LUX_CONN_BODY:
        return stopping == LUX_STOP_NOW ? 0 : after(c->last_io, core->max_read_idle);
    case LUX_CONN_WRITE:
        return stopping == LUX_STOP_NOW ? 0 : after(c->last_io, core->max_write_idle);
    case LUX_CONN_LINGER:
        return stopping ? 0 : after(c->last_io, LINGER_SECONDS);
    }
    return 0;
}

/* Arm the timer for timeout_at(). Only the first arming, at accept, can fail: from then on
 * the timer holds its place in the loop's heap until the connection closes (or has just left
 * it, when its callback runs), so re-arming needs no memory. */
static int retime(lux_conn *c) {
    return lux_loop_timer_arm(c->w->loop, &c->timer, timeout_at(c));
}

/* A new state may time out sooner than the one before (a short server.max-write-idle, a
 * linger): the timer follows every change; moving it later costs nothing (event/timer.h). */
static void set_state(lux_conn *c, lux_conn_state state) {
    lux_stats_conn_state(c->w->id, (int)c->state, (int)state);
    c->state = state;
    retime(c);
}

void lux_conn_accept(lux_worker *w, lux_listener *l, int fd, const struct sockaddr *sa,
                     socklen_t salen) {
    lux_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->io.fd = fd;
    c->io.cb = on_io;
    c->tp = &lux_plain_transport;
    c->tls.buf_fd = -1;
    c->w = w;
    c->listener = l;
    c->gen = lux_gen_ref(w->gen);
    c->keep_alive = 1;
    c->last_io = lux_loop_now_ms(w->loop);
    c->timer.cb = on_timeout;
    if (salen <= sizeof c->peer)
        memcpy(&c->peer, sa, salen);
    c->peer.sin6_family = sa->sa_family;
    lux_pool_init(&c->pool, 4096);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    lux_stats_conn_opened(w->id);
    atomic_fetch_add_explicit(&w->srv->connections, 1, memory_order_relaxed);
    struct ssl_ctx_st *tls = l && c->gen->has_tls ? lux_tls_ctx_for(c->gen, l->name) : NULL;
    if (retime(c) < 0 || (tls && lux_tls_conn_start(c, tls) < 0)) {
        lux_conn_close(c);
        return;
    }
    /* Clients send the request right behind the handshake, so it is usually there already:
     * read it now. The connection joins the epoll set only when it has to wait, and one that is
     * answered and closed at once never costs an epoll_ctl. */
    on_readable(c);
}

static void release_input(lux_conn *c) {
    if (!c->in)
        return;
    if (c->in_cap == LUX_IN_BUF)
        lux_worker_buf_put(c->w, c->in);
    else
        free(c->in);
    c->in = NULL;
    c->in_len = c->in_off = c->in_cap = 0;
}

static void end_request(lux_conn *c) {
    lux_req *r = c->req;
    if (!r)
        return;
    lux_stats_request_done(c->w->id, r);
    lux_gen_run_hook(r, LUX_HOOK_REQUEST_DONE);
    lux_resp_body_reset(r);
    lux_file_unref(r->file);
    c->req = NULL;
    c->out = NULL;
    c->iov = c->iov_arr = NULL;
    c->iovcnt = 0;
    lux_pool_reset(&c->pool);
    if (c->tls.buf) { /* a response's TLS write buffer: an idle connection holds none */
        lux_worker_buf_put(c->w, c->tls.buf);
        c->tls.buf = NULL;
        c->tls.buf_len = 0;
    }
}

void lux_conn_close(lux_conn *c) {
    lux_worker *w = c->w;
    lux_loop_timer_cancel(w->loop, &c->timer);
    end_request(c);
    /* close() takes an fd out of epoll by itself, unless the socket is also open under another
     * number: only stdin with -1 can be (inetd passes the socket as stdin and stdout). */
    if (w->srv->single_fd >= 0)
        lux_loop_del(w->loop, &c->io);
    c->tp->close(c);
    close(c->io.fd);
    release_input(c);
    lux_worker_block_put(w, lux_pool_detach(&c->pool));
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    lux_stats_conn_closed(w->id, (int)c->state);
    if (w->nconns == 0 && w->srv->single_fd >= 0)
        lux_loop_stop(w->loop); /* -1: the one connection is done */
    atomic_fetch_sub_explicit(&w->srv->connections, 1, memory_order_relaxed);
    lux_gen_unref(c->gen);
    free(c);
}

/* Stop sending, then drain what the client still sends so our last response is not lost to
 * a TCP reset (the client reads it before it sees our FIN). Only needed when the client may
 * still be sending: after an error, or with input we did not read; a plain
 * "Connection: close" exchange closes at once. */
static int linger(lux_conn *c) {
    int unread = c->drain || (c->in && c->in_off < c->in_len) || c->body_left != 0;
    if (!unread || c->peer_closed || c->peer.sin6_family == AF_UNIX) {
        lux_conn_close(c);
        return FREED;
    }
    c->tp->shutdown(c);
    release_input(c);
    c->last_io = now_ms(c);
    set_state(c, LUX_CONN_LINGER);
    lux_loop_mod(c->w->loop, &c->io, LUX_EV_READ);
    return AGAIN;
}

static int ensure_input(lux_conn *c);

/* TLS may hold decrypted bytes that the socket will not announce again: take them before
 * waiting. 1 when bytes were added to the input. */
static int take_pending(lux_conn *c) {
    if (!c->tp->pending(c) || ensure_input(c) < 0 || c->in_len == c->in_cap)
        return 0;
    ssize_t n = c->tp->read(c, c->in + c->in_len, c->in_cap - c->in_len);
    if (n <= 0)
        return 0;
    c->in_len += (uint32_t)n;
    lux_stats_bytes_in(c->w->id, (uint64_t)n);
    c->last_io = now_ms(c);
    return 1;
}

static int ensure_input(lux_conn *c) {
    if (!c->in) {
        c->in = lux_worker_buf_get(c->w);
        if (!c->in)
            return -1;
        c->in_cap = LUX_IN_BUF;
        c->in_len = c->in_off = 0;
    }
    if (c->in_off && c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    } else if (c->in_len == c->in_cap && c->in_off) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    return 0;
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
    release_input(c);
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
    release_input(c);
    c->in = n;
    c->in_cap = SMALL_IN;
    c->in_len = pending;
}

/* Can a head end within the unparsed input? Every head ends in a line end followed by another
 * (LF LF or LF CR LF), so only bytes that arrived since the last look need a search; the
 * parser runs again only when one is there. */
static int head_end_possible(const lux_conn *c) {
    const char *p = c->in + c->in_off;
    size_t len = c->in_len - c->in_off;
    size_t from = c->head_scanned > 2 ? c->head_scanned - 2 : 0; /* a line end split by a read */
    for (const char *q = p + from, *end = p + len; (q = memchr(q, '\n', (size_t)(end - q)));) {
        q++;
        if (q < end && (*q == '\n' || (*q == '\r' && q + 1 < end && q[1] == '\n')))
            return 1;
    }
    return 0;
}

static lux_req *new_request(lux_conn *c) {
    if (!c->pool.head) {
        void *b = lux_worker_block_get(c->w);
        if (b)
            lux_pool_attach(&c->pool, b);
    }
    lux_req *r = lux_pool_alloc(&c->pool, sizeof *r);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->conn = c;
    r->worker = c->w;
    r->pool = &c->pool;
    r->gen = c->gen;
    r->body_tail = &r->body;
    r->content_length = -1;
    /* The scheme is the transport's (RFC 9112 3.2.2: an absolute-form target names it too,
     * but a client on a plain port cannot make its request https). */
    r->scheme = c->tls.ssl ? (lux_str){"https", 5} : (lux_str){"http", 4};
    clock_gettime(CLOCK_REALTIME, &r->start);
    size_t nb = c->gen->tree->nblocks;
    r->cond_state = lux_pool_alloc(&c->pool, nb);
    r->cond_caps = lux_pool_alloc(&c->pool, nb * sizeof *r->cond_caps);
    r->confs = lux_pool_alloc(&c->pool, c->gen->nmodules * sizeof *r->confs);
    r->conf_block = lux_pool_alloc(&c->pool, c->gen->nmodules * sizeof *r->conf_block);
    if (!r->cond_state || !r->cond_caps || !r->confs || !r->conf_block)
        return NULL;
    memset(r->conf_block, 0, c->gen->nmodules * sizeof *r->conf_block);
    lux_req_forget_conditions(r);
    for (size_t i = 0; i < c->gen->nmodules; i++)
        r->confs[i] = c->gen->global_conf[i];
    c->req = r;
    return r;
}

/* Queue the response: head and leading memory chunks as one writev, the rest after. */
static int queue_response(lux_conn *c, lux_req *r) {
    lux_worker *w = c->w;
    const lux_core_conf *core = core_of(c);
    /* No idle time allowed means no keep-alive, as in lighttpd: a connection kept open only to
     * time out a millisecond later would race the client's next request. */
    if (!c->keep_alive || w->srv->state != LUX_RUNNING || c->peer_closed ||
        c->requests + 1 >= (unsigned long)core->max_keep_alive_requests ||
        core->max_keep_alive_idle <= 0)
        r->keep_alive = 0;
    if (!r->keep_alive)
        c->keep_alive = 0;
    size_t hlen;
    char *head = lux_resp_head(r, &hlen);
    c->iov = c->iov_arr = lux_pool_alloc(&c->pool, MAX_IOV * sizeof *c->iov);
    if (!head || !c->iov)
        return -1;
    if (r->confs && ((const lux_core_conf *)r->confs[0])->log_response_header)
        lux_log(LUX_LOG_DEBUG, "response-header:\n%.*s", (int)hlen, head);
    c->iov[0] = (struct iovec){head, hlen};
    c->iovcnt = 1;
    c->out = r->head_only ? NULL : r->body;
    while (c->out && c->out->mem && c->iovcnt < MAX_IOV) {
        c->iov[c->iovcnt++] = (struct iovec){(void *)c->out->mem, c->out->len};
        c->out = c->out->next;
    }
    set_state(c, LUX_CONN_WRITE);
    return 0;
}

/* Answer a request that never made it through the pipeline (bad head, limits). */
static int answer_error(lux_conn *c, int status) {
    lux_req *r = c->req ? c->req : new_request(c);
    if (!r)
        return -1;
    r->keep_alive = 0;
    c->keep_alive = 0;
    c->drain = 1;
    c->continue_wanted = 0;
    c->head_scanned = 0;
    if (!r->http_minor && !r->method_str.ptr)
        r->http_minor = 1;
    lux_resp_error(r, status);
    return queue_response(c, r);
}

static int start_body(lux_conn *c, lux_req *r) {
    const lux_core_conf *core = r->confs[0];
    c->body_limit = core->max_request_size > 0 ? core->max_request_size * 1024 : 0;
    c->body_seen = 0;
    if (r->chunked) {
        lux_chunked_init(&c->chunked);
        c->body_left = -1;
    } else {
        c->body_left = r->content_length > 0 ? r->content_length : 0;
    }
    if (c->body_limit && r->content_length > c->body_limit)
        return 413;
    return 0;
}

/* The client waits for this before sending the body (RFC 9110 10.1.1). It is 25 bytes into an
 * idle socket: if even that does not fit, the connection is not worth keeping. */
static void send_continue(lux_conn *c) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct iovec iov = {(void *)cont, sizeof cont - 1};
    ssize_t n = c->tp->writev(c, &iov, 1, 0);
    if (n != (ssize_t)sizeof cont - 1)
        c->keep_alive = 0;
}

static int run_request(lux_conn *c, lux_req *r) {
    lux_req_run(r); /* always leaves a status */
    return queue_response(c, r) < 0 ? FAILED : DONE;
}

/* The head is not complete yet: remember how far it was searched, and when it started. */
static int head_incomplete(lux_conn *c, const lux_core_conf *core) {
    size_t avail = c->in_len - c->in_off;
    if (avail >= (size_t)core->max_request_field_size)
        return answer_error(c, 431) < 0 ? FAILED : DONE;
    int first_look = !c->head_scanned;
    c->head_scanned = (uint32_t)avail;
    if (first_look) {
        c->head_start = now_ms(c);
        retime(c); /* max-read-idle may be shorter than the keep-alive wait before it */
    }
    if (c->in_len == c->in_cap && c->in_off == 0 &&
        grow_input(c, (size_t)core->max_request_field_size) < 0)
        return answer_error(c, 431) < 0 ? FAILED : DONE;
    return AGAIN;
}

/* Parse one head from the buffer and run it. DONE: a response is queued; AGAIN: need input. */
static int next_request(lux_conn *c) {
    const lux_core_conf *core = core_of(c);
    if (c->head_scanned && !head_end_possible(c))
        return head_incomplete(c, core);
    lux_h1_header headers[MAX_HEADERS];
    lux_h1_request h = {.headers = headers, .num_headers = MAX_HEADERS};
    size_t avail = c->in_len - c->in_off;
    int n = lux_h1_parse_request(c->in + c->in_off, avail, &h, MAX_EMPTY_LINES);
    if (n == -2)
        return head_incomplete(c, core);
    c->head_scanned = 0;
    if (n == -1 || (size_t)n > (size_t)core->max_request_field_size)
        return answer_error(c, n == -1 ? h.status : 431) < 0 ? FAILED : DONE;
    c->in_off += (uint32_t)n;
    c->in_request = 1;
    atomic_store_explicit(&c->w->srv->last_activity, (long)lux_loop_now(c->w->loop),
                          memory_order_relaxed);
    lux_req *r = new_request(c);
    if (!r)
        return FAILED;
    int st = lux_req_from_h1(r, &h);
    if (!st && lux_req_patch_conf(r) < 0)
        st = 500;
    if (!st)
        st = start_body(c, r);
    if (st) {
        c->body_left = 0;
        return answer_error(c, st) < 0 ? FAILED : DONE;
    }
    if (c->body_left != 0) {
        c->continue_wanted = r->expect_continue;
        set_state(c, LUX_CONN_BODY);
        return DONE;
    }
    return run_request(c, r);
}

/* Consume request-body bytes from the buffer; no handler reads bodies yet, so they are dropped.
 * Returns 1 when the body is complete, 0 when more input is needed, -1 for a malformed chunked
 * body. */
static int discard_body(lux_conn *c) {
    size_t avail = c->in_len - c->in_off;
    if (c->body_left >= 0) {
        size_t take = avail < (uint64_t)c->body_left ? avail : (size_t)c->body_left;
        c->in_off += (uint32_t)take;
        c->body_left -= (int64_t)take;
        c->body_seen += take;
        return c->body_left == 0;
    }
    size_t len = avail;
    ssize_t rest = lux_chunked_decode(&c->chunked, c->in + c->in_off, &len);
    if (rest == -1) {
        c->keep_alive = 0;
        c->in_off = c->in_len;
        return -1;
    }
    /* The limit counts raw bytes (sizes, extensions, trailers), not just the payload. */
    c->body_seen += rest == -2 ? avail : avail - (size_t)rest;
    if (rest == -2) {
        c->in_off = c->in_len;
        return 0;
    }
    c->in_off += (uint32_t)len; /* drop the decoded body; what follows is the next request */
    c->in_len = c->in_off + (uint32_t)rest;
    c->body_left = 0;
    return 1;
}

/* Writes what c->iov holds. DONE when all of it went out, AGAIN when the socket took less: a
 * short write means its buffer is full, and trying again would only return EAGAIN. */
static int flush_iov(lux_conn *c) {
    /* No MSG_MORE before a file: holding the head back for the sendfile that follows
     * measured twice the CPU per 100 KiB response (58 vs 27 us) on loopback. But the last
     * bytes before a close wait for it: the FIN that close() or shutdown() sends right after
     * then rides on the same segment, one packet fewer per connection. (Not with -1, where
     * the socket stays open as stdout and no FIN would come to push them.) */
    int last = !c->out && !c->keep_alive && c->w->srv->single_fd < 0;
    ssize_t n = c->tp->writev(c, c->iov, c->iovcnt, last);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? AGAIN : FAILED;
    c->last_io = now_ms(c);
    c->req->bytes_sent += (uint64_t)n;
    while (c->iovcnt && (size_t)n >= c->iov[0].iov_len) {
        n -= (ssize_t)c->iov[0].iov_len;
        c->iov++;
        c->iovcnt--;
    }
    if (!c->iovcnt)
        return DONE;
    c->iov[0].iov_base = (char *)c->iov[0].iov_base + n;
    c->iov[0].iov_len -= (size_t)n;
    return AGAIN;
}

/* Sends up to *budget bytes of a file chunk. DONE when the socket took all it was asked, AGAIN
 * after a short write (the socket is full, see flush_iov). */
static int flush_file(lux_conn *c, lux_chunk *ch, size_t *budget) {
    size_t want = ch->len < *budget ? (size_t)ch->len : *budget;
    off_t off = (off_t)ch->off;
    ssize_t n = c->tp->sendfile(c, ch->file->fd, &off, want);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? AGAIN : FAILED;
    if (n == 0)
        return FAILED; /* the file shrank under us: the response cannot be completed */
    c->last_io = now_ms(c);
    c->req->bytes_sent += (uint64_t)n;
    *budget = (size_t)n < *budget ? *budget - (size_t)n : 0;
    ch->off += (uint64_t)n;
    ch->len -= (uint64_t)n;
    if (ch->len == 0)
        c->out = ch->next;
    return (size_t)n < want ? AGAIN : DONE;
}

static int flush(lux_conn *c) {
    size_t budget = WRITE_BUDGET;
    for (;;) {
        if (c->iovcnt) {
            int rc = flush_iov(c);
            if (rc != DONE)
                return rc;
        }
        lux_chunk *ch = c->out;
        if (!ch)
            return DONE;
        if (ch->mem) {
            c->iov = c->iov_arr;
            c->iov[0] = (struct iovec){(void *)ch->mem, ch->len};
            c->iovcnt = 1;
            c->out = ch->next;
            continue;
        }
        if (budget == 0)
            return AGAIN; /* let the loop serve the other connections; EPOLLOUT brings us back */
        int rc = flush_file(c, ch, &budget);
        if (rc != DONE)
            return rc;
    }
}

static int finish_response(lux_conn *c) {
    c->req->complete = 1;
    c->requests++;
    c->in_request = 0;
    end_request(c);
    if (!c->keep_alive)
        return linger(c);
    if (c->requests == 1 && c->peer.sin6_family != AF_UNIX) {
        /* Kept alive: from now on a small response must not wait for the ACK of the previous
         * one (Nagle). Set lazily, as nginx does, so one-request connections skip the call. */
        int one = 1;
        setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->last_io = now_ms(c);
    set_state(c, LUX_CONN_IDLE);
    return DONE;
}

static void conn_run(lux_conn *c) {
    for (;;) {
        int rc;
        switch (c->state) {
        case LUX_CONN_WRITE:
            rc = flush(c);
            if (rc == AGAIN) {
                wait_for(c, LUX_EV_WRITE);
                return;
            }
            if (rc == FAILED) {
                lux_conn_close(c);
                return;
            }
            if (finish_response(c) != DONE)
                return; /* FREED, or AGAIN while lingering */
            break;
        case LUX_CONN_BODY:
            rc = discard_body(c);
            if (rc != 0)
                c->continue_wanted = 0;
            if (rc < 0 || (c->body_limit && c->body_seen > (uint64_t)c->body_limit)) {
                c->body_left = 0;
                if (answer_error(c, rc < 0 ? 400 : 413) < 0) {
                    lux_conn_close(c);
                    return;
                }
                break;
            }
            if (rc == 0) {
                if (c->peer_closed) {
                    lux_conn_close(c);
                    return;
                }
                /* Only now, with body bytes still to come, does the client need the 100. */
                if (c->continue_wanted)
                    send_continue(c);
                c->continue_wanted = 0;
                if (take_pending(c))
                    break;
                wait_for(c, LUX_EV_READ);
                return;
            }
            if (run_request(c, c->req) == FAILED) {
                lux_conn_close(c);
                return;
            }
            break;
        case LUX_CONN_IDLE:
            if (!c->in || c->in_off == c->in_len) {
                if (take_pending(c))
                    break;
                /* Idle: give the buffers back, an idle connection holds only itself. */
                release_input(c);
                lux_worker_block_put(c->w, lux_pool_detach(&c->pool));
                if (c->peer_closed) {
                    lux_conn_close(c);
                    return;
                }
                wait_for(c, LUX_EV_READ);
                return;
            }
            rc = next_request(c);
            if (rc == FAILED) {
                lux_conn_close(c);
                return;
            }
            if (rc == AGAIN) {
                if (c->peer_closed) {
                    lux_conn_close(c);
                    return;
                }
                if (take_pending(c))
                    break;
                shrink_input(c);
                wait_for(c, LUX_EV_READ);
                return;
            }
            break;
        case LUX_CONN_LINGER:
            return;
        }
    }
}

static void on_readable(lux_conn *c) {
    if (c->state == LUX_CONN_LINGER) {
        char drain[4096];
        ssize_t n = read(c->io.fd, drain, sizeof drain);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            lux_conn_close(c);
        return;
    }
    if (ensure_input(c) < 0) {
        lux_conn_close(c);
        return;
    }
    if (c->in_len == c->in_cap) {
        conn_run(c); /* full: parse what we have first */
        return;
    }
    ssize_t n = c->tp->read(c, c->in + c->in_len, c->in_cap - c->in_len);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            lux_conn_close(c);
            return;
        }
        if (c->in_off == c->in_len)
            release_input(c); /* nothing came: a waiting connection holds no buffer */
        if (wait_for(c, LUX_EV_READ) < 0)
            lux_conn_close(c); /* not in the epoll set, it would never hear from the client */
        return;
    }
    if (n == 0)
        c->peer_closed = 1;
    c->in_len += (uint32_t)n;
    lux_stats_bytes_in(c->w->id, (uint64_t)n);
    c->last_io = now_ms(c);
    conn_run(c);
}

static void on_io(lux_io *io, unsigned events) {
    lux_conn *c = (lux_conn *)io;
    /* c->want: the transport waits for the other direction than the state's own. */
    if (c->state == LUX_CONN_WRITE) {
        if (events & (LUX_EV_WRITE | LUX_EV_ERROR) || c->want)
            conn_run(c);
        return;
    }
    if (events & (LUX_EV_READ | LUX_EV_ERROR) || c->want)
        on_readable(c);
}

/* Close the connection if its time is up, else arm its timer for when it will be. Runs between
 * batches of events (the timer, the start of a stop), so closing cannot leave an event of the
 * current batch pointing at a freed connection. */
static void check_timeout(lux_conn *c) {
    int64_t at = timeout_at(c);
    if (at <= now_ms(c))
        lux_conn_close(c);
    else
        lux_loop_timer_arm(c->w->loop, &c->timer, at); /* cannot fail: see retime() */
}

static void on_timeout(lux_timer *t) {
    check_timeout((lux_conn *)((char *)t - offsetof(lux_conn, timer)));
}

void lux_conn_stopping(lux_worker *w) {
    lux_conn *next;
    for (lux_conn *c = w->conns; c; c = next) {
        next = c->next;
        check_timeout(c);
    }
}
