/*
 * The stream core: a request's life apart from its connection. A request owns a pool of its
 * own; the protocol creates it (lux_req_new), starts it, pulls the response body and frees it.
 * The core tells the protocol what happened through lux_stream_ops, always from the loop: the
 * request's run-soon entry (event/soon.h) delivers the pending events after the current batch,
 * so no callback ever runs inside a call the protocol (or a handler) made.
 */
#include "http/stream.h"

#include <stddef.h>
#include <string.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "event/loop.h"
#include "http/body.h"
#include "http/filter.h"
#include "http/request.h"
#include "http/stream_internal.h"
#include "http/stat_cache.h"
#include "lux/log.h"
#include "net/conn.h"
#include "net/proxy_protocol.h"
#include "net/stats.h"

/* Worker pool blocks are this size (see lux_worker_block_get). */
#define REQ_POOL_BLOCK 4096

typedef struct lux_stream_state {
    lux_req *owner;
    lux_soon defer;    /* run soon: delivers `pending` from the loop */
    unsigned pending;  /* LUX_SEV_* not delivered yet */
    int delivering;    /* inside an ops callback: lux_req_free waits for it to return */
    int free_asked;    /* lux_req_free was called during delivery */
    int body_complete; /* no more body pieces will be appended */
    int head_out;      /* head_ready is on its way or delivered */
    int start_waiting; /* lux_req_start came before the body was complete (mode 0) */
    lux_chunk *sent_head, **sent_tail; /* taken, not fully sent yet, in order */
    uint64_t sent_off;                 /* bytes of sent_head already sent */
    void (*writable_fn)(lux_req *r, void *arg);
    void *writable_arg;
    void (*abort_fn)(lux_req *r, void *arg);
    void *abort_arg;
} lux_stream_state;

static void on_defer(lux_soon *s);

/* What every request takes from its pool first, in one allocation zeroed at once. */
typedef struct {
    lux_req req;
    lux_stream_state st;
    lux_pool pool; /* the request's pool, living in its own first block */
} req_head;

/* The request's tables sized by its generation, in one allocation: the settings it starts
 * from (a copy of the global ones), then what starts zeroed (no condition decided, no capture,
 * every module's settings from the global block), widest elements first so each stays
 * aligned. */
static int alloc_tables(lux_req *r, lux_pool *pool, const lux_gen *g) {
    size_t nb = g->tree->nblocks, nm = g->nmodules;
    size_t confs_size = nm * sizeof *r->confs;
    size_t zeroed_size = nb * sizeof *r->cond_caps + nm * sizeof *r->conf_block + nb;
    char *p = lux_pool_alloc(pool, confs_size + zeroed_size);
    if (!p)
        return -1;
    r->confs = memcpy(p, g->global_conf, confs_size);
    char *z = memset(p + confs_size, 0, zeroed_size);
    r->cond_caps = (lux_cond_captures **)(void *)z;
    r->conf_block = (unsigned *)(void *)(z + nb * sizeof *r->cond_caps);
    r->cond_state = (uint8_t *)(z + nb * sizeof *r->cond_caps + nm * sizeof *r->conf_block);
    return 0;
}

lux_req *lux_req_new(lux_conn *c, const lux_stream_ops *ops, void *proto_data) {
    lux_pool pool;
    lux_pool_init(&pool, REQ_POOL_BLOCK);
    void *block = lux_worker_block_get(c->w);
    if (block)
        lux_pool_attach(&pool, block);
    req_head *h = lux_pool_alloc(&pool, sizeof *h);
    if (!h) {
        lux_pool_free(&pool);
        return NULL;
    }
    /* Zeroed, the request has decided no condition (lux_req_forget_conditions' state). */
    memset(h, 0, offsetof(req_head, pool));
    lux_req *r = &h->req;
    lux_stream_state *st = &h->st;
    lux_gen *g = c->gen;
    if (alloc_tables(r, &pool, g) < 0) {
        lux_pool_free(&pool);
        return NULL;
    }
    h->pool = pool; /* the pool lives in its own first block from here on */
    st->owner = r;
    st->defer.cb = on_defer;
    st->sent_tail = &st->sent_head;
    r->stream = st;
    r->ops = ops;
    r->proto_data = proto_data;
    r->conn = c;
    r->worker = c->w;
    r->pool = &h->pool;
    r->gen = g;
    r->version = 11;
    r->body_tail = &r->body;
    r->content_length = -1;
    r->stream_length = -1;
    /* The scheme is the transport's (RFC 9112 3.2.2: an absolute-form target names it too,
     * but a client on a plain port cannot make its request https), or, behind a PROXY header,
     * the transport's the client had to the proxy. */
    int tls = c->tls.ssl || (c->proxied_tls && c->proxied_tls->ssl);
    r->scheme = tls ? (lux_str){"https", 5} : (lux_str){"http", 4};
    clock_gettime(CLOCK_REALTIME, &r->start);
    return r;
}

void lux_stream_later(lux_req *r, unsigned ev) {
    lux_stream_state *st = r->stream;
    st->pending |= ev;
    if (!st->delivering) /* else on_defer looks at `pending` again before it returns */
        lux_loop_soon(r->worker->loop, &st->defer);
}

static void release_taken(lux_stream_state *st) {
    for (lux_chunk *ch = st->sent_head, *next; ch; ch = next) {
        next = ch->sent_next;
        lux_chunk_release(ch);
    }
    st->sent_head = NULL;
    st->sent_tail = &st->sent_head;
}

/* Does the handler still hold r (it answers later, streams a body not ended yet, or runs a
 * tunnel it has not let go of)? */
static int handler_holds(const lux_req *r) {
    return r->async || (r->streaming && !r->stream_ended) || (r->tunnel && !r->tunnel_done);
}

int lux_req_held(const lux_req *r) {
    return handler_holds(r);
}

uint32_t lux_req_stream_id(const lux_req *r) {
    return r->ops && r->ops->stream_id ? r->ops->stream_id(r) : 0;
}

/* The handler's abort callback, once, while it holds the request. */
static void run_abort(lux_req *r) {
    lux_stream_state *st = r->stream;
    void (*fn)(lux_req *, void *) = st->abort_fn;
    st->abort_fn = NULL;
    st->writable_fn = NULL; /* nothing more reaches a handler that let go */
    lux_body_forget_notify(r);
    if (fn && handler_holds(r))
        fn(r, st->abort_arg);
}

/* The pool goes back to the worker; r itself lives in it. */
static void release_pool(lux_req *r) {
    lux_worker *w = r->worker;
    lux_pool pool = *r->pool;
    lux_worker_block_put(w, lux_pool_detach(&pool));
}

void lux_req_free(lux_req *r) {
    lux_stream_state *st = r->stream;
    lux_soon_cancel(&st->defer);
    st->pending = 0;
    /* Freed under a handler that holds it: the client or the server gave up. A request that
     * registered no callback and has no body has nothing for run_abort to clear or call. */
    if (st->abort_fn || st->writable_fn || r->req_body)
        run_abort(r);
    /* request_done runs now, while the connection the request names is still there (told
     * without a call when no module has the hook). */
    lux_stats_request_done(r->worker->id, r);
    if (r->gen->nhooks[LUX_HOOK_REQUEST_DONE])
        lux_gen_run_hook(r, LUX_HOOK_REQUEST_DONE);
    /* No output filter, no request body (the common answer): nothing for their release. */
    if (r->filters)
        lux_filter_release(r);
    lux_resp_body_reset(r);
    release_taken(st);
    if (r->req_body)
        lux_body_release(r);
    lux_file_unref(r->file);
    r->file = NULL;
    if (st->delivering)
        st->free_asked = 1; /* an ops callback's caller still holds r: on_defer releases it */
    else
        release_pool(r);
}

/* The handler's on_writable callback, once, if the queue is still low. */
static void run_writable(lux_req *r) {
    lux_stream_state *st = r->stream;
    void (*fn)(lux_req *, void *) = st->writable_fn;
    if (!fn || lux_resp_queued(r) >= LUX_RESP_LOW_WATER)
        return;
    st->writable_fn = NULL;
    fn(r, st->writable_arg);
}

/* The output filters took what they could; their producer may go on when they hold little. */
static void run_filters(lux_req *r) {
    lux_filter_run(r);
    if (r->stream->writable_fn && lux_resp_queued(r) < LUX_RESP_LOW_WATER)
        r->stream->pending |= LUX_SEV_WRITABLE;
}

/* The next event to deliver, in the order a response happens: abort, head, filter, body,
 * wanted, writable, body in. The lower bit goes first but for the filter run, whose bit is the
 * highest and which goes right after the head. */
#define ONE_BIT(ev) ((ev) && !((ev) & ((ev)-1)))
_Static_assert(ONE_BIT(LUX_SEV_ABORT) && ONE_BIT(LUX_SEV_HEAD) && ONE_BIT(LUX_SEV_FILTER) &&
                   ONE_BIT(LUX_SEV_BODY) && ONE_BIT(LUX_SEV_WANTED) && ONE_BIT(LUX_SEV_WRITABLE) &&
                   ONE_BIT(LUX_SEV_BODY_IN),
               "each event is a bit of `pending`");
_Static_assert(LUX_SEV_ABORT < LUX_SEV_HEAD && LUX_SEV_HEAD < LUX_SEV_BODY &&
                   LUX_SEV_BODY < LUX_SEV_WANTED && LUX_SEV_WANTED < LUX_SEV_WRITABLE &&
                   LUX_SEV_WRITABLE < LUX_SEV_BODY_IN && LUX_SEV_BODY_IN < LUX_SEV_FILTER,
               "next_event takes the events by their bits");
static unsigned next_event(lux_stream_state *st) {
    unsigned p = st->pending;
    unsigned ev = p & (LUX_SEV_ABORT | LUX_SEV_HEAD) ? p & -p
                  : p & LUX_SEV_FILTER               ? LUX_SEV_FILTER
                                                     : p & -p;
    st->pending = p & ~ev;
    return ev;
}

/* Deliver the pending events one at a time; a callback may cause more (they are delivered in
 * the same run) or free the request (done once the callback has returned). */
static void on_defer(lux_soon *s) {
    lux_stream_state *st = (lux_stream_state *)((char *)s - offsetof(lux_stream_state, defer));
    lux_req *r = st->owner;
    st->delivering = 1;
    for (unsigned ev; !st->free_asked && (ev = next_event(st));) {
        if (ev == LUX_SEV_ABORT)
            run_abort(r);
        else if (ev == LUX_SEV_HEAD)
            r->ops->head_ready(r);
        else if (ev == LUX_SEV_FILTER)
            run_filters(r);
        else if (ev == LUX_SEV_BODY)
            r->ops->body_ready(r);
        else if (ev == LUX_SEV_WANTED && r->ops->body_wanted)
            r->ops->body_wanted(r);
        else if (ev == LUX_SEV_WRITABLE)
            run_writable(r);
        else if (ev == LUX_SEV_BODY_IN)
            lux_body_run_notify(r);
    }
    st->delivering = 0;
    if (st->free_asked)
        release_pool(r);
}

/* Status and headers are final, and the body is whole unless it streams: the protocol may
 * send them. */
static void response_ready(lux_req *r) {
    lux_stream_state *st = r->stream;
    st->head_out = 1;
    st->body_complete = !r->streaming || (r->stream_ended && !lux_filter_busy(r));
    lux_stream_later(r, LUX_SEV_HEAD);
}

int lux_req_head_pending(const lux_req *r) {
    return (r->stream->pending & LUX_SEV_HEAD) != 0;
}

/* The pipeline stopped: with a response, or in a hook's hands (LUX_ASYNC). */
static void pipeline_stopped(lux_req *r, lux_result res) {
    if (res == LUX_ASYNC)
        r->async = 1;
    else
        response_ready(r);
}

void lux_req_start(lux_req *r) {
    if (!lux_body_settled(r)) {
        r->stream->start_waiting = 1; /* stream-request-body 0: the whole body first */
        return;
    }
    pipeline_stopped(r, lux_req_run(r));
}

void lux_req_start_handler(lux_req *r, const lux_module *m) {
    lux_result res = LUX_ERROR;
    if (lux_req_patch_conf(r) == 0 && m->handle)
        res = m->handle(r, lux_req_conf(r, m));
    if (res == LUX_GO_ON || res == LUX_ERROR)
        lux_resp_error(r, res == LUX_GO_ON ? 404 : 500);
    pipeline_stopped(r, res == LUX_ASYNC ? LUX_ASYNC : LUX_HANDLED);
}

void lux_stream_body_complete(lux_req *r) {
    if (!r->stream->start_waiting)
        return;
    r->stream->start_waiting = 0;
    pipeline_stopped(r, lux_req_run(r));
}

void lux_req_start_error(lux_req *r, int status) {
    lux_stream_state *st = r->stream;
    run_abort(r); /* a handler that holds the request lets go: the answer is the error */
    lux_filter_release(r);
    st->start_waiting = 0;
    r->async = 0;
    r->streaming = 0;
    r->stream_ended = 0;
    r->stream_length = -1;
    lux_resp_error(r, status);
    response_ready(r);
}

void lux_req_resume(lux_req *r, lux_result res) {
    if (!r->async) {
        lux_log(LUX_LOG_ERR, "lux_req_resume for %.*s, which no hook is holding", (int)r->uri.len,
                r->uri.ptr ? r->uri.ptr : "");
        return;
    }
    r->async = 0;
    pipeline_stopped(r, lux_req_continue(r, res));
}

void lux_req_on_abort(lux_req *r, void (*fn)(lux_req *r, void *arg), void *arg) {
    r->stream->abort_fn = fn;
    r->stream->abort_arg = arg;
}

void lux_req_abort(lux_req *r) {
    lux_stream_state *st = r->stream;
    if (st->abort_fn && handler_holds(r))
        lux_stream_later(r, LUX_SEV_ABORT);
}

int lux_resp_stream(lux_req *r) {
    if (r->stream->head_out)
        return -1; /* the head is gone: it promised a complete body */
    r->streaming = 1;
    return 0;
}

int lux_resp_tunnel(lux_req *r) {
    if (r->ops->can_tunnel && !r->ops->can_tunnel(r))
        return -1;
    if (!r->streaming || r->stream->head_out || r->filters)
        return -1;
    if (lux_body_open_tunnel(r) < 0)
        return -1;
    r->tunnel = 1;
    r->stream_length = -1;
    return 0;
}

void lux_tunnel_done(lux_req *r) {
    lux_stream_state *st = r->stream;
    if (!r->tunnel || r->tunnel_done)
        return;
    r->tunnel_done = 1;
    st->abort_fn = NULL;
    st->writable_fn = NULL;
    lux_body_forget_notify(r);
    if (!r->stream_ended)
        lux_resp_abort(r); /* cut: the client's side closes without waiting */
    else
        lux_stream_later(r, LUX_SEV_BODY); /* the protocol may end the tunnel now */
}

void lux_resp_content_length(lux_req *r, uint64_t len) {
    if (!r->stream->head_out)
        r->stream_length = (int64_t)len;
}

int lux_stream_head_out(const lux_req *r) {
    return r->stream->head_out;
}

/* The protocol may end the response (well, or not when it is broken). */
static void body_done(lux_req *r) {
    lux_stream_state *st = r->stream;
    if (!st->head_out)
        return; /* response_ready sees it */
    st->body_complete = 1;
    lux_stream_later(r, LUX_SEV_BODY);
}

void lux_stream_filtered(lux_req *r) {
    body_done(r);
}

/* No more body from the handler. Output filters may still hold some: they end it later. */
static void body_ended(lux_req *r) {
    r->stream_ended = 1;
    if (r->filters) {
        if (r->resp_aborted)
            lux_filter_abort(r);
        else if (!lux_filter_end(r))
            return; /* lux_stream_filtered follows */
    }
    body_done(r);
}

void lux_resp_end(lux_req *r) {
    if (!r->streaming || r->stream_ended)
        return;
    /* With filters the chain checks the handler's bytes against the length it announced. The
     * answer to HEAD announces the length a GET would have and carries no body: a gateway
     * passing on its backend's length sends none. */
    if (!r->filters && !r->head_only && r->stream_length >= 0 &&
        r->body_len != (uint64_t)r->stream_length) {
        lux_log(LUX_LOG_ERR, "%.*s: a streamed body of %llu bytes ended at %llu", (int)r->uri.len,
                r->uri.ptr ? r->uri.ptr : "", (unsigned long long)r->stream_length,
                (unsigned long long)r->body_len);
        r->resp_aborted = 1;
    }
    body_ended(r);
}

void lux_resp_abort(lux_req *r) {
    if (r->resp_aborted)
        return;
    r->resp_aborted = 1;
    body_ended(r);
}

uint64_t lux_resp_queued(const lux_req *r) {
    return r->body_len - r->resp_released + lux_filter_held(r);
}

void lux_resp_on_writable(lux_req *r, void (*fn)(lux_req *r, void *arg), void *arg) {
    lux_stream_state *st = r->stream;
    st->writable_fn = fn;
    st->writable_arg = arg;
    if (fn && lux_resp_queued(r) < LUX_RESP_LOW_WATER)
        lux_stream_later(r, LUX_SEV_WRITABLE);
}

/* n body bytes left the queue (sent, or dropped for HEAD): a waiting producer may go on. */
static void released(lux_req *r, uint64_t n) {
    r->resp_released += n;
    lux_filter_released(r);
    if (r->stream->writable_fn && lux_resp_queued(r) < LUX_RESP_LOW_WATER)
        lux_stream_later(r, LUX_SEV_WRITABLE);
}

void lux_stream_appended(lux_req *r) {
    if (r->streaming && r->stream->head_out)
        lux_stream_later(r, LUX_SEV_BODY);
}

/* Cut ch after n bytes: the rest becomes the next chunk. 0 or -1 (out of memory). */
static int split_chunk(lux_req *r, lux_chunk *ch, uint64_t n) {
    lux_chunk *rest = lux_pool_alloc(r->pool, sizeof *rest);
    if (!rest)
        return -1;
    *rest = *ch;
    rest->off += n;
    rest->len -= n;
    if (rest->mem)
        rest->mem += n;
    if (rest->file)
        lux_file_ref(rest->file);
    ch->heap = NULL; /* the memory goes with the part sent last */
    ch->len = n;
    ch->next = rest;
    if (r->body_tail == &ch->next)
        r->body_tail = &rest->next;
    return 0;
}

lux_chunk *lux_resp_take(lux_req *r, size_t max, int *end) {
    lux_stream_state *st = r->stream;
    if (r->head_only && r->body) {
        uint64_t len = r->body_len; /* still the Content-Length of the answer */
        uint64_t queued = r->body_len - r->resp_released; /* not what filters hold */
        lux_resp_body_reset(r);
        r->body_len = len;
        released(r, queued);
    }
    lux_chunk *first = r->body, *last = NULL;
    uint64_t total = 0;
    for (lux_chunk *ch = first; ch && total < max; ch = ch->next) {
        if (ch->len > max - total && split_chunk(r, ch, max - total) < 0)
            break;
        total += ch->len;
        last = ch;
    }
    if (last) {
        r->body = last->next;
        if (!r->body)
            r->body_tail = &r->body;
        last->next = NULL;
        for (lux_chunk *ch = first; ch; ch = ch->next) {
            *st->sent_tail = ch;
            st->sent_tail = &ch->sent_next;
        }
    }
    *end = st->body_complete && !r->body;
    return last ? first : NULL;
}

void lux_resp_sent(lux_req *r, uint64_t n) {
    lux_stream_state *st = r->stream;
    r->body_sent += n;
    uint64_t left = n + st->sent_off;
    while (st->sent_head && left >= st->sent_head->len) {
        lux_chunk *ch = st->sent_head;
        left -= ch->len;
        st->sent_head = ch->sent_next;
        lux_chunk_release(ch);
    }
    if (!st->sent_head)
        st->sent_tail = &st->sent_head;
    st->sent_off = left;
    released(r, n);
}
