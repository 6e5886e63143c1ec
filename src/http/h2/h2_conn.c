/*
 * HTTP/2 over a connection: the codec (h2_session.c) fed from the transport, each stream a
 * request of the stream core (lux_req_new, lux_req_from_fields, lux_req_start), its response
 * head submitted when the core says it is ready, its body pulled with lux_resp_take into DATA
 * frames (file ranges go out with sendfile on a plain socket, never copied). The output queue
 * is written with one writev (or sendfile) at a time, up to a budget per event.
 *
 * Who closes: run() and the functions it calls return FREED once the connection is closed;
 * the core's callbacks (head_ready, ...) only mark work and arm the connection's zero-delay
 * timer, so that a callback never closes the connection under the request that called it.
 */
#include "http/h2/h2_conn.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "http/h2/h2_session.h"
#include "http/request.h"
#include "http/stat_cache.h"
#include "http/stream.h"
#include "lux/log.h"
#include "net/server.h"
#include "net/stats.h"
#include "http/token_list.h"

/* Bytes read and written per event before the loop serves the other connections. */
#define READ_BUDGET (256 * 1024)
#define WRITE_BUDGET (1024 * 1024)

typedef struct h2_conn {
    lux_conn *c;
    lux_h2_session *s;
    lux_soon kick;      /* run soon: the core's news, a stop or a reload, acted on from the loop */
    int64_t idle_since; /* loop ms the last stream ended (or the session began) */
    const char *pre;    /* the 101 of an h2c Upgrade: written before any frame */
    size_t pre_len;
    unsigned goaway : 1;  /* a graceful GOAWAY went out: no new streams */
    unsigned over : 1;    /* the session ended: write what is queued, then close */
    unsigned held : 1;    /* input waits that the codec cannot take yet: do not read more */
    unsigned read_on : 1; /* the read budget ran out with bytes left: the kick reads on */
    unsigned heads_due;   /* streams whose head the core has not made ready yet */
    /* Tunnels whose stream closed before their handler let go. */
    struct h2_stream *orphans;
} h2_conn;

/* One stream, in its request's pool. */
typedef struct h2_stream {
    h2_conn *h;
    lux_req *r;
    int32_t id;
    lux_chunk *taken; /* body chunks taken from the core, not framed yet */
    uint64_t taken_off;
    int taken_end;  /* the core has no more body after `taken` */
    int head_ready; /* the core made the head ready (head_sent: and it was submitted) */
    int head_sent;
    /* The request body: bytes the core has no room for yet wait here (within the stream's
     * window, which reopens only for bytes the core took), then the end. */
    char *wait;
    size_t wait_off, wait_len, wait_cap; /* the waiting bytes start at wait + wait_off */
    unsigned body_seen_end : 1;          /* END_STREAM arrived */
    unsigned body_closed : 1;            /* the core heard the end (or the failure) */
    unsigned body_refused : 1; /* the core took no more (over the limit): the rest is dropped */
    /* RFC 8441: a WebSocket request, whose DATA wait until its answer says whether the stream
     * becomes a tunnel (see "tunnels" below). */
    unsigned websocket : 1;
    unsigned tunnel_pending : 1; /* not answered yet: its DATA wait, unfed */
    unsigned tunnel : 1;         /* the stream carries a tunnel */
    unsigned end_given : 1;      /* the tunnel's last response piece went into a frame */
    unsigned end_reset : 1;      /* the stream was reset once its handler let go */
    unsigned orphan : 1;         /* closed well while the handler still held the tunnel */
    lux_timer idle;              /* a tunnel's server.max-read-idle */
    struct h2_stream *next_orphan;
} h2_stream;

enum { GO_ON, FREED };

static void head_ready(lux_req *r);
static void body_ready(lux_req *r);
static void body_wanted(lux_req *r);
static int can_tunnel(const lux_req *r);
static uint32_t stream_id(const lux_req *r);
static const lux_stream_ops h2_ops = {head_ready, body_ready, body_wanted, can_tunnel, stream_id};

static h2_conn *h2(const lux_conn *c) {
    return c->proto_data;
}

/* ---- which listeners speak HTTP/2 ---- */

static int is_socket_block(const lux_conf_block *b, const char *spec) {
    return b->field == LUX_COND_SOCKET && b->op == LUX_OP_EQ && b->depth == 1 &&
           strcmp(b->pattern, spec) == 0;
}

/* A core setting of the listener: its global value, then the $SERVER["socket"] blocks that
 * name the listener, in config order. */
static int listener_flag(const lux_conn *c, size_t offset) {
    const lux_gen *g = c->gen;
    int v;
    memcpy(&v, (const char *)g->core + offset, sizeof v);
    if (!c->listener)
        return v;
    for (size_t i = 0; i < g->nblocks; i++) {
        const lux_block_patches *bp = &g->blocks[i];
        if (!is_socket_block(bp->block, c->listener->name))
            continue;
        for (size_t k = 0; k < bp->npatches; k++)
            if (bp->patches[k].module == 0 && bp->patches[k].dir->offset == offset)
                memcpy(&v, bp->patches[k].value, sizeof v);
    }
    return v;
}

int lux_h2_allowed(const lux_conn *c) {
    return listener_flag(c, offsetof(lux_core_conf, h2proto));
}

int lux_h2c_allowed(const lux_conn *c) {
    return lux_h2_allowed(c) && listener_flag(c, offsetof(lux_core_conf, h2c));
}

/* ---- requests up ---- */

static void kick_soon(h2_conn *h) {
    lux_loop *loop = h->c->w->loop;
    /* a lingering connection only drains what the client still sends, then closes */
    if (!h->c->lingering)
        lux_loop_soon(loop, &h->kick);
}

/* A Content-Length over server.max-request-size is refused before a byte of it is read. */
static int body_too_large(const lux_req *r) {
    const lux_core_conf *core = r->confs[0];
    return core->max_request_size > 0 && r->content_length > core->max_request_size * 1024;
}

/* ---- tunnels: WebSockets over streams (RFC 8441) ----
 *
 * An extended CONNECT with :protocol "websocket" reaches the modules as the HTTP/1.1 Upgrade
 * request it stands for: GET, with "Upgrade: websocket" and "Connection: upgrade". Its DATA wait
 * unfed (within the stream's window) until the answer: a tunnel (lux_resp_tunnel, its 101 sent
 * as :status 200) feeds them to the core as the tunnel's input, END_STREAM its end; any other
 * answer drops them. The response's bytes go out as DATA, lux_resp_end is END_STREAM. A
 * stream that closes well (both ends sent) before the handler let go stays the handler's as an
 * orphan until lux_tunnel_done, so that the client's last bytes still reach it. */

static void feed_body(h2_stream *st);

static int is_token(const lux_str *s, const char *token) {
    size_t len = strlen(token);
    return s->len == len && strncasecmp(s->ptr, token, len) == 0;
}

/* The request fields of a WebSocket's extended CONNECT, as HTTP/1.1 would send them. 0, or the
 * status that refuses the stream: 501 for a protocol lux does not tunnel. */
static int websocket_request(h2_stream *st, const lux_h2_request *q) {
    static const lux_str get = {"GET", 3};
    lux_req *r = st->r;
    if (!q->method.ptr || !is_token(&q->method, "CONNECT"))
        return 400; /* nghttp2 allows :protocol only there */
    if (!is_token(&q->protocol, "websocket"))
        return 501;
    lux_header *f = lux_pool_alloc(r->pool, (q->nfields + 2) * sizeof *f);
    if (!f)
        return 500;
    for (size_t i = 0; i < q->nfields; i++)
        f[i] = q->fields[i];
    f[q->nfields] = (lux_header){{"Upgrade", 7}, {"websocket", 9}};
    f[q->nfields + 1] = (lux_header){{"Connection", 10}, {"upgrade", 7}};
    int status =
        lux_req_from_fields(r, &get, &q->scheme, &q->authority, &q->path, f, q->nfields + 2);
    st->websocket = status == 0;
    return status;
}

/* The request itself has no body (as an Upgrade GET): the pipeline runs at once, and the DATA
 * wait for the answer. */
static void websocket_body_waits(h2_stream *st) {
    st->tunnel_pending = 1;
    st->body_closed = 1;
    lux_req_body_end(st->r, 1);
}

static int can_tunnel(const lux_req *r) {
    const h2_stream *st = r->proto_data;
    return st && st->websocket && st->tunnel_pending;
}

/* Bytes moved either way: the tunnel's idle limit starts again. */
static void tunnel_touch(h2_stream *st) {
    const lux_core_conf *core = st->r->confs[0];
    lux_loop *loop = st->h->c->w->loop;
    if (core->max_read_idle > 0)
        lux_loop_timer_arm(loop, &st->idle, lux_loop_now_ms(loop) + core->max_read_idle * 1000);
}

/* An orphan leaves: well once its handler let go (ok), else cut. */
static void orphan_free(h2_stream *st, int ok) {
    h2_conn *h = st->h;
    lux_req *r = st->r;
    for (h2_stream **p = &h->orphans; *p; p = &(*p)->next_orphan)
        if (*p == st) {
            *p = st->next_orphan;
            break;
        }
    lux_loop_timer_cancel(h->c->w->loop, &st->idle);
    free(st->wait);
    r->complete = ok;
    if (ok)
        h->c->requests++;
    else
        lux_req_abort(r);
    lux_req_free(r);
}

static void on_tunnel_idle(lux_timer *t) {
    h2_stream *st = (h2_stream *)((char *)t - offsetof(h2_stream, idle));
    if (st->orphan) {
        orphan_free(st, 0);
        return;
    }
    lux_h2_reset(st->h->s, st->id, LUX_H2_CANCEL); /* on_close aborts the handler */
    kick_soon(st->h);
}

/* The answer to a WebSocket request is ready: a tunnel starts, anything else drops the DATA. */
static void websocket_answered(h2_stream *st) {
    lux_req *r = st->r;
    lux_h2_session *s = st->h->s;
    st->tunnel_pending = 0;
    if (!r->tunnel) {
        lux_h2_consume(s, st->id, st->wait_len);
        st->wait_len = st->wait_off = 0;
        return;
    }
    if (r->status == 101)
        r->status = 200; /* RFC 8441 5: the stream switches with a 200 */
    st->tunnel = 1;
    st->body_closed = 0;
    r->tunnel_in += st->wait_len; /* what came before the answer is the tunnel's too */
    st->idle.cb = on_tunnel_idle;
    lux_h2_set_tunnel(s, st->id);
    tunnel_touch(st);
    feed_body(st);
}

/* The handler let go after its response ended while the client still sends: the stream ends
 * (RST_STREAM NO_ERROR, RFC 9113 8.1) instead of waiting for the client's END_STREAM. */
static void tunnel_end_if_released(h2_stream *st) {
    if (st->end_given && !st->body_seen_end && !st->end_reset && !lux_req_held(st->r)) {
        st->end_reset = 1;
        lux_h2_reset(st->h->s, st->id, LUX_H2_NO_ERROR);
        kick_soon(st->h);
    }
}

/* What body() gave for a tunnel's DATA. */
static void tunnel_gave(h2_stream *st, int rc) {
    if (rc != LUX_H2_BODY_PIECE && rc != LUX_H2_BODY_LAST)
        return;
    tunnel_touch(st);
    if (rc == LUX_H2_BODY_LAST) {
        st->end_given = 1;
        tunnel_end_if_released(st);
    }
}

/* body_ready of a tunnel: an orphan whose handler let go is done; 1 when nothing more is due. */
static int tunnel_released(h2_stream *st) {
    if (st->orphan) {
        if (!lux_req_held(st->r))
            orphan_free(st, 1);
        return 1;
    }
    tunnel_end_if_released(st);
    return 0;
}

/* The stream closed well while the handler still holds its tunnel (it has not read the client's
 * last bytes yet): the request stays, without its stream, until the handler lets go. */
static int orphan_kept(h2_stream *st, uint32_t error) {
    if (!st->tunnel || error != LUX_H2_NO_ERROR || !lux_req_held(st->r))
        return 0;
    st->orphan = 1;
    st->next_orphan = st->h->orphans;
    st->h->orphans = st;
    return 1;
}

static uint32_t stream_id(const lux_req *r) {
    const h2_stream *st = r->proto_data;
    return st ? (uint32_t)st->id : 0;
}

static void *on_request(void *user, int32_t id, const lux_h2_request *q) {
    h2_conn *h = user;
    lux_req *r = lux_req_new(h->c, &h2_ops, NULL);
    h2_stream *st = r ? lux_pool_alloc(r->pool, sizeof *st) : NULL;
    if (!st) {
        if (r)
            lux_req_free(r);
        return NULL;
    }
    *st = (h2_stream){.h = h, .r = r, .id = id};
    lux_stats_h2_stream_opened(h->c->w->id);
    r->proto_data = st;
    h->heads_due++;
    int status = q->too_large      ? 431
                 : q->protocol.ptr ? websocket_request(st, q)
                                   : lux_req_from_fields(r, &q->method, &q->scheme, &q->authority,
                                                         &q->path, q->fields, q->nfields);
    /* The settings of this request (stream-request-body, the size limit) before its body. */
    if (!status && lux_req_patch_conf(r) < 0)
        status = 500;
    if (!status && body_too_large(r))
        status = 413;
    r->version = 20;
    if (status) {
        /* refused before its body: what the client still sends is dropped */
        st->body_refused = st->body_closed = 1;
        lux_req_body_end(r, 0);
        lux_req_start_error(r, status);
    } else {
        if (st->websocket)
            websocket_body_waits(st);
        lux_req_start(r);
    }
    return st;
}

/* The core takes no more of the body (over server.max-request-size, or it failed): the error
 * is the answer while no head went out, else the stream is reset; the rest is dropped. */
static void body_refused(h2_stream *st, int status) {
    st->body_refused = 1;
    st->body_closed = 1;
    lux_req_body_end(st->r, 0);
    if (st->head_ready || lux_req_head_pending(st->r))
        lux_h2_reset(st->h->s, st->id, LUX_H2_INTERNAL_ERROR);
    else
        lux_req_start_error(st->r, status);
    kick_soon(st->h);
}

/* Give the core as much of the waiting body as it has room for, then the end once all of it
 * went in; the stream's window reopens by what the core took (or what is dropped). */
static void feed_body(h2_stream *st) {
    lux_h2_session *s = st->h->s;
    if (st->tunnel_pending)
        return; /* head_ready decides */
    while (st->wait_len && !st->body_refused) {
        size_t room = lux_req_body_room(st->r);
        size_t n = st->wait_len < room ? st->wait_len : room;
        if (!n)
            return; /* body_wanted brings it back */
        if (lux_req_body_feed(st->r, st->wait + st->wait_off, n) < 0) {
            body_refused(st, errno == EFBIG ? 413 : 500);
            break;
        }
        st->wait_off += n;
        st->wait_len -= n;
        lux_h2_consume(s, st->id, n);
    }
    if (st->body_refused && st->wait_len) {
        lux_h2_consume(s, st->id, st->wait_len);
        st->wait_len = 0;
    }
    if (!st->wait_len)
        st->wait_off = 0;
    if (st->body_seen_end && !st->wait_len && !st->body_closed) {
        st->body_closed = 1;
        lux_req_body_end(st->r, !st->body_refused);
    }
}

static int wait_more(h2_stream *st, const uint8_t *p, size_t len) {
    if (st->wait_off && st->wait_off + st->wait_len + len > st->wait_cap) {
        memmove(st->wait, st->wait + st->wait_off, st->wait_len); /* room at the front first */
        st->wait_off = 0;
    }
    if (st->wait_len + len > st->wait_cap) {
        size_t cap = st->wait_cap ? st->wait_cap : 16384;
        while (cap < st->wait_len + len)
            cap *= 2;
        char *n = realloc(st->wait, cap);
        if (!n)
            return -1;
        st->wait = n;
        st->wait_cap = cap;
    }
    memcpy(st->wait + st->wait_off + st->wait_len, p, len);
    st->wait_len += len;
    return 0;
}

/* Bytes that arrive while none wait go to the core straight from the frame, as many as it has
 * room for: only the rest is copied to wait (a tunnel's data would be copied twice otherwise).
 * How many it took. */
static size_t feed_direct(h2_stream *st, const uint8_t *p, size_t len) {
    if (st->wait_len || st->tunnel_pending || st->body_refused)
        return 0;
    size_t room = lux_req_body_room(st->r);
    size_t n = len < room ? len : room;
    if (!n)
        return 0;
    if (lux_req_body_feed(st->r, p, n) < 0) {
        body_refused(st, errno == EFBIG ? 413 : 500);
        lux_h2_consume(st->h->s, st->id, len);
        return len; /* the rest is dropped with it */
    }
    lux_h2_consume(st->h->s, st->id, n);
    return n;
}

static void on_data(void *user, void *stream, const uint8_t *p, size_t len) {
    h2_conn *h = user;
    h2_stream *st = stream;
    if (!st->tunnel_pending && (st->body_closed || st->body_refused)) {
        lux_h2_consume(h->s, st->id, len); /* nobody reads it any more: dropped */
        return;
    }
    if (st->tunnel) {
        st->r->tunnel_in += len;
        tunnel_touch(st);
    }
    size_t fed = feed_direct(st, p, len);
    if (fed < len && wait_more(st, p + fed, len - fed) < 0) {
        lux_h2_reset(h->s, st->id, LUX_H2_INTERNAL_ERROR);
        return;
    }
    feed_body(st);
}

static void on_end(void *user, void *stream) {
    h2_stream *st = stream;
    st->body_seen_end = 1;
    feed_body(st);
}

/* The stream is over: the request goes back to the core (request_done runs). */
static void request_over(h2_conn *h, h2_stream *st, uint32_t error) {
    lux_req *r = st->r;
    lux_loop_timer_cancel(h->c->w->loop, &st->idle);
    if (!st->body_closed)
        lux_req_body_end(r, 0); /* the stream went before its body ended */
    free(st->wait);
    r->complete = error == LUX_H2_NO_ERROR && st->head_sent;
    if (r->complete)
        h->c->requests++;
    else
        lux_req_abort(r); /* reset, or the connection went: a handler still at work lets go */
    lux_req_free(r);
}

static void on_close(void *user, void *stream, uint32_t error) {
    h2_conn *h = user;
    h2_stream *st = stream;
    lux_stats_h2_stream_closed(h->c->w->id);
    if (!st->head_ready)
        h->heads_due--;
    if (!orphan_kept(st, error))
        request_over(h, st, error);
    if (lux_h2_streams(h->s) <= 1)
        h->idle_since = lux_conn_now_ms(h->c);
    if (h->c->in && h->c->in_off < h->c->in_len)
        kick_soon(h); /* input the codec held back may go in now */
}

/* ---- responses down ---- */

/* Take all the body the core has: frames are cut from it by offset, so that the core never
 * splits a chunk for them (each split would cost the request's pool a chunk per frame). */
static int next_taken(h2_stream *st) {
    if (st->taken)
        return 1;
    int end = 0;
    st->taken = lux_resp_take(st->r, SIZE_MAX, &end);
    st->taken_off = 0;
    st->taken_end = end;
    return st->taken != NULL;
}

/* The next piece of the body for one DATA frame: part of one chunk. */
static int body_piece(h2_stream *st, size_t max, lux_h2_piece *pc) {
    if (!next_taken(st)) {
        if (!st->taken_end)
            return LUX_H2_BODY_DEFERRED;
        /* a broken body must not look complete: the stream is reset instead of ended */
        return st->r->resp_aborted ? LUX_H2_BODY_ABORT : LUX_H2_BODY_LAST;
    }
    lux_chunk *ch = st->taken;
    uint64_t left = ch->len - st->taken_off;
    size_t n = left < max ? (size_t)left : max;
    if (ch->mem) {
        pc->mem = ch->mem + st->taken_off;
    } else {
        pc->fd = ch->file->fd;
        pc->off = (off_t)(ch->off + st->taken_off);
    }
    pc->len = n;
    /* The frame is written after the core has let go of the chunk: keep the file open. */
    pc->hold = ch->file ? lux_file_ref(ch->file) : NULL;
    st->taken_off += n;
    if (st->taken_off == ch->len) {
        st->taken = ch->next;
        st->taken_off = 0;
    }
    return !st->taken && st->taken_end && !st->r->resp_aborted ? LUX_H2_BODY_LAST
                                                               : LUX_H2_BODY_PIECE;
}

static int body(void *user, void *stream, size_t max, lux_h2_piece *pc) {
    h2_stream *st = stream;
    int rc = body_piece(st, max, pc);
    if (st->tunnel)
        tunnel_gave(st, rc);
    return rc;
}

/* The piece is framed: the core may let go of it (a streamed copy is freed at once). */
static void framed(void *user, void *stream, size_t n) {
    h2_stream *st = stream;
    st->r->bytes_sent += n;
    lux_resp_sent(st->r, n);
}

static void release(void *user, void *hold) {
    lux_file_unref(hold);
}

static const lux_h2_callbacks codec_cb = {on_request, on_data, on_end, on_close,
                                          body,       framed,  release};

/* Is the field `name` (any case) `lit` (lower-case, `len` bytes)? The length first, then the
 * first letter: most names are told apart by them alone. */
static int is_named(const lux_str *name, const char *lit, size_t len) {
    return name->len == len && (name->ptr[0] | 0x20) == lit[0] &&
           strncasecmp(name->ptr, lit, len) == 0;
}

/* Decimal digits of v, in the request's pool: a Content-Length per response is worth more
 * than printf's generality costs. */
static lux_str decimal(lux_req *r, uint64_t v) {
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char *p = lux_pool_alloc(r->pool, n + 1);
    if (!p)
        return (lux_str){NULL, 0};
    memcpy(p, digits + sizeof digits - n, n);
    p[n] = '\0';
    return (lux_str){p, n};
}

/* What the server adds to the response's own fields, as for HTTP/1 (Content-Length, Date,
 * Server), lower case, into `f` (room for 3): how many. -1 when out of memory. */
static int server_fields(lux_req *r, int bodyless, lux_header *f) {
    const lux_core_conf *core = r->confs ? r->confs[0] : r->gen->core;
    int has_date = 0, has_server = 0;
    for (size_t i = 0; i < r->nresp_headers; i++) {
        const lux_str *name = &r->resp_headers[i].name;
        has_date |= is_named(name, "date", 4);
        has_server |= is_named(name, "server", 6);
    }
    int k = 0;
    /* A streamed body's length is known only when the handler said it. */
    int64_t length = !r->streaming ? (int64_t)r->body_len : r->stream_length;
    if (!bodyless && length >= 0) {
        lux_str len = decimal(r, (uint64_t)length);
        if (!len.ptr)
            return -1;
        f[k++] = (lux_header){{"content-length", 14}, len};
    }
    if (!has_date)
        f[k++] = (lux_header){{"date", 4}, {lux_worker_date(r->worker), LUX_HTTP_DATE_LEN}};
    if (core->tag.len && !has_server)
        f[k++] = (lux_header){{"server", 6}, core->tag};
    return k;
}

/* The core: r's status and headers are final. */
static void head_ready(lux_req *r) {
    h2_stream *st = r->proto_data;
    h2_conn *h = st->h;
    st->head_ready = 1;
    h->heads_due--;
    if (st->tunnel_pending)
        websocket_answered(st);
    int bodyless = r->status < 200 || r->status == 204 || r->status == 304;
    lux_header added[3];
    int nadded = server_fields(r, bodyless, added);
    /* No DATA at all for HEAD, 204, 304, or an empty body that is complete. */
    int end = bodyless || r->head_only || (!r->streaming && r->body_len == 0 && !r->body);
    if (nadded < 0 || lux_h2_submit_response(h->s, st->id, r->status, r->resp_headers,
                                             r->nresp_headers, added, (size_t)nadded, end) < 0)
        lux_h2_reset(h->s, st->id, LUX_H2_INTERNAL_ERROR);
    else
        st->head_sent = 1;
    kick_soon(h);
}

/* The core: more body can be taken. */
static void body_ready(lux_req *r) {
    h2_stream *st = r->proto_data;
    if (st->tunnel && tunnel_released(st))
        return;
    lux_h2_resume(st->h->s, st->id);
    kick_soon(st->h);
}

/* The core: room for more request body again. */
static void body_wanted(lux_req *r) {
    h2_stream *st = r->proto_data;
    feed_body(st);
    kick_soon(st->h); /* the WINDOW_UPDATE goes out */
}

/* ---- the connection ---- */

static const lux_core_conf *core_of(const lux_conn *c) {
    return c->gen->core;
}

static int64_t timeout_at(const lux_conn *c) {
    h2_conn *h = h2(c); /* the state is the protocol's own, not the connection's */
    const lux_core_conf *core = core_of(c);
    int stopping = atomic_load_explicit(&c->w->srv->state, memory_order_relaxed);
    if (stopping == LUX_STOP_NOW)
        return 0;
    if (h->over || lux_h2_queued(h->s) || h->pre_len || lux_h2_window_stalled(h->s))
        /* Bytes wait for the client: its socket, or its flow-control window. */
        return lux_conn_after(c->last_io, core->max_write_idle);
    if (lux_h2_streams(h->s)) {
        if (stopping && !h->goaway)
            kick_soon(h); /* the GOAWAY goes out from the loop */
        /* A handler that answers later keeps its own time; the connection waits for it. */
        if (h->heads_due || lux_h2_bodies_due(h->s))
            return INT64_MAX;
        return lux_conn_after(c->last_io, core->max_read_idle);
    }
    if (stopping)
        return 0;
    return lux_conn_after(h->idle_since, core->max_keep_alive_idle);
}

/* Feed what the input buffer holds to the codec; it may leave some (see lux_h2_recv). */
static void feed(h2_conn *h) {
    lux_conn *c = h->c;
    if (h->over || !c->in || c->in_off == c->in_len)
        return;
    ssize_t n = lux_h2_recv(h->s, (const uint8_t *)c->in + c->in_off, c->in_len - c->in_off,
                            lux_conn_now_ms(c));
    if (n < 0)
        h->over = 1;
    else
        c->in_off += (uint32_t)n;
}

/*
 * Read and feed until the socket is drained (a read that did not fill the buffer, with nothing
 * left inside TLS: the socket will say when more comes), the budget is spent (the kick comes
 * back to read on), or the codec takes nothing more for now (a stream's end kicks it). Reading
 * on to EAGAIN would cost a system call per request for nothing. -1: the connection must close.
 */
static int read_all(h2_conn *h) {
    lux_conn *c = h->c;
    size_t budget = READ_BUDGET;
    h->held = 0;
    while (!h->over) {
        feed(h);
        if (h->over || lux_conn_ensure_input(c) < 0)
            break;
        size_t room = c->in_cap - c->in_len;
        if (!room) {
            h->held = 1; /* full of what the codec cannot take yet */
            return 0;
        }
        ssize_t n = lux_conn_read(c);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        if (n == 0)
            return -1; /* the client closed: its streams end with it */
        feed(h);
        if ((size_t)n < room && !c->tp->pending(c))
            return 0;
        if ((size_t)n >= budget) {
            h->read_on = 1;
            kick_soon(h);
            return 0;
        }
        budget -= (size_t)n;
    }
    return h->over ? 0 : -1;
}

/* The 101 of an h2c Upgrade, before any frame. -1 on error, 1 while it waits. */
static int write_pre(h2_conn *h) {
    struct iovec iov = {(void *)h->pre, h->pre_len};
    ssize_t n = h->c->tp->writev(h->c, &iov, 1, 1);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 1 : -1;
    h->pre += n;
    h->pre_len -= (size_t)n;
    return h->pre_len ? 1 : 0;
}

/* Write the output queue. 0: all of it (or the budget), 1: the socket is full, -1: error. */
static int write_all(h2_conn *h) {
    lux_conn *c = h->c;
    size_t budget = WRITE_BUDGET;
    if (h->pre_len) {
        int rc = write_pre(h);
        if (rc)
            return rc;
    }
    lux_h2_produce(h->s);
    while (budget) {
        struct iovec iov[1];
        int fd;
        off_t off;
        size_t len = 0;
        int niov = lux_h2_out(h->s, iov, 1, &fd, &off, &len);
        if (!niov && fd < 0) {
            lux_h2_produce(h->s);
            if (!lux_h2_queued(h->s))
                return 0;
            continue;
        }
        if (fd >= 0 && len > budget)
            len = budget;
        ssize_t n = niov ? c->tp->writev(c, iov, 1, 0) : c->tp->sendfile(c, fd, &off, len);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 1 : -1;
        if (n == 0)
            return -1; /* the file shrank under us */
        c->last_io = lux_conn_now_ms(c);
        lux_h2_sent(h->s, (size_t)n);
        budget = (size_t)n < budget ? budget - (size_t)n : 0;
        if ((size_t)n < (niov ? iov[0].iov_len : len))
            return 1;
    }
    kick_soon(h);
    return 0;
}

/* A stop or a reload: no new streams, those in flight finish. */
static void goaway_if_due(h2_conn *h) {
    lux_conn *c = h->c;
    if (h->goaway || h->over)
        return;
    int stopping = atomic_load_explicit(&c->w->srv->state, memory_order_relaxed);
    if (stopping || c->w->gen != c->gen) {
        lux_h2_goaway_graceful(h->s);
        h->goaway = 1;
    }
}

/* Drive the connection as far as it goes without blocking; `readable`: the socket may have
 * bytes (otherwise only input already buffered is fed). */
static int run(h2_conn *h, int readable) {
    lux_conn *c = h->c;
    goaway_if_due(h);
    if (!readable)
        feed(h);
    else if (read_all(h) < 0 && !h->over) {
        lux_conn_close(c);
        return FREED;
    }
    int wrc = write_all(h);
    if (wrc < 0) {
        lux_conn_close(c);
        return FREED;
    }
    int done = h->over || !lux_h2_alive(h->s) || (h->goaway && !lux_h2_streams(h->s));
    if (done && wrc == 0 && !lux_h2_queued(h->s)) {
        /* the GOAWAY is out; the client may still be sending: linger so it is not lost */
        lux_soon_cancel(&h->kick);
        lux_conn_linger(c, !c->peer_closed);
        return FREED;
    }
    unsigned ev = (h->over || h->held ? 0 : LUX_EV_READ) | (wrc ? LUX_EV_WRITE : 0);
    if (lux_conn_wait(c, ev) < 0) {
        lux_conn_close(c);
        return FREED;
    }
    lux_conn_retime(c);
    return GO_ON;
}

static void on_kick(lux_soon *t) {
    h2_conn *h = (h2_conn *)((char *)t - offsetof(h2_conn, kick));
    int read_on = h->read_on;
    h->read_on = 0;
    run(h, read_on);
}

static void h2_on_io(lux_conn *c, unsigned events) {
    /* c->want: the transport waits for the other direction, which it needs to read too */
    run(h2(c), (events & (LUX_EV_READ | LUX_EV_ERROR)) || c->want);
}

static void h2_start(lux_conn *c) {
    run(h2(c), 1);
}

/* An idle connection that times out says so with a GOAWAY (RFC 9113 9.1), one write and no
 * waiting: the client then knows no stream was lost and opens a new connection. */
static void goaway_before_close(h2_conn *h) {
    lux_conn *c = h->c;
    if (h->over || c->peer_closed || lux_h2_streams(h->s) || lux_h2_queued(h->s) || h->pre_len)
        return;
    lux_h2_goaway(h->s, LUX_H2_NO_ERROR);
    lux_h2_produce(h->s);
    struct iovec iov[1];
    int fd;
    off_t off;
    size_t len;
    if (lux_h2_out(h->s, iov, 1, &fd, &off, &len) == 1)
        c->tp->writev(c, iov, 1, 0);
}

static void h2_close(lux_conn *c) {
    h2_conn *h = h2(c);
    goaway_before_close(h);
    lux_h2_session_free(h->s); /* every open stream's request is freed through on_close */
    while (h->orphans)
        orphan_free(h->orphans, 0);
    /* only now: a stream closing above may have armed it (input was waiting for it) */
    lux_soon_cancel(&h->kick);
    free(h);
    c->proto_data = NULL;
}

const lux_proto lux_h2_proto = {
    .state_size = sizeof(h2_conn),
    .start = h2_start,
    .on_io = h2_on_io,
    .timeout_at = timeout_at,
    .close = h2_close,
};

static void limits_for(const lux_conn *c, lux_h2_limits *l) {
    const lux_core_conf *core = core_of(c);
    lux_h2_limits_default(l);
    l->max_concurrent_streams = (uint32_t)core->h2_max_concurrent_streams;
    l->stream_window = (uint32_t)core->h2_initial_window_size;
    l->max_header_list = (uint32_t)core->max_request_field_size;
    /* TLS needs the bytes to encrypt: file data is read straight into the output queue. */
    l->file_inline = c->tp != &lux_plain_transport;
}

static const char switching[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                "Connection: Upgrade\r\n"
                                "Upgrade: h2c\r\n\r\n";

/* A connection's HTTP/2 state and session; `settings`/`upgraded` as for an h2c Upgrade. */
static h2_conn *h2_new(lux_conn *c, const uint8_t *settings, size_t settings_len,
                       lux_req *upgraded) {
    h2_conn *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    lux_h2_limits lim;
    limits_for(c, &lim);
    h->c = c;
    h->kick.cb = on_kick;
    h->idle_since = lux_conn_now_ms(c);
    h->s = lux_h2_session_new(&lim, &codec_cb, h, settings, settings_len,
                              upgraded && upgraded->head_only);
    if (!h->s) {
        free(h);
        return NULL;
    }
    /* HTTP/2 multiplexes small frames: none may wait for the ACK of the one before (Nagle). */
    int one = 1;
    if (c->peer.sin6_family != AF_UNIX)
        setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return h;
}

int lux_h2_preface(const lux_conn *c) {
    size_t avail = c->in ? c->in_len - c->in_off : 0;
    size_t n = avail < LUX_H2_PREFACE_LEN ? avail : LUX_H2_PREFACE_LEN;
    if (!n || memcmp(c->in + c->in_off, LUX_H2_PREFACE, n) != 0)
        return 0;
    if (n < LUX_H2_PREFACE_LEN)
        return -1;
    return lux_h2_allowed(c);
}

int lux_h2_take_preface(lux_conn *c) {
    h2_conn *h = h2_new(c, NULL, 0, NULL);
    if (!h)
        return -1;
    lux_conn_take_over(c, &lux_h2_proto, h);
    return 0;
}

/* HTTP2-Settings is base64url without padding (RFC 7540 3.2.1). Its length, or -1. */
static ssize_t base64url_decode(const lux_str *in, uint8_t *out, size_t cap) {
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < in->len; i++) {
        char ch = in->ptr[i];
        int v = ch >= 'A' && ch <= 'Z'   ? ch - 'A'
                : ch >= 'a' && ch <= 'z' ? ch - 'a' + 26
                : ch >= '0' && ch <= '9' ? ch - '0' + 52
                : ch == '-'              ? 62
                : ch == '_'              ? 63
                : ch == '='              ? -2
                                         : -1;
        if (v == -2)
            break;
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (ssize_t)n;
}

int lux_h2_take_upgrade(lux_conn *c, lux_req *r) {
    /* Only on cleartext (RFC 9113 3.2: h2c over TLS does not exist) and on HTTP/1.1; the
     * Upgrade field first, as nearly every request has none. */
    if (r->version != 11 || c->tls.ssl)
        return 0;
    const lux_str *up = lux_req_header(r, "Upgrade", 7);
    if (!up)
        return 0;
    const lux_str *conn = lux_req_header(r, "Connection", 10);
    const lux_str *hs = lux_req_header(r, "HTTP2-Settings", 14);
    if (!conn || !hs || !lux_list_has_token(up->ptr, up->len, "h2c") ||
        !lux_list_has_token(conn->ptr, conn->len, "Upgrade") ||
        !lux_list_has_token(conn->ptr, conn->len, "HTTP2-Settings") || !lux_h2c_allowed(c))
        return 0;
    uint8_t settings[256];
    ssize_t n = base64url_decode(hs, settings, sizeof settings);
    if (n < 0 || n % 6)
        return 0;
    h2_conn *h = h2_new(c, settings, (size_t)n, r);
    h2_stream *st = h ? lux_pool_alloc(r->pool, sizeof *st) : NULL;
    if (!st) {
        if (h)
            lux_h2_session_free(h->s);
        free(h);
        return 0;
    }
    h->pre = switching;
    h->pre_len = sizeof switching - 1;
    *st = (h2_stream){.h = h, .r = r, .id = 1};
    h->heads_due++;
    r->ops = &h2_ops;
    r->proto_data = st;
    lux_h2_set_stream(h->s, 1, st);
    st->body_seen_end = st->body_closed = 1; /* HTTP/1 upgrades only a request without body */
    lux_req_body_end(r, 1);
    lux_req_start(r); /* its answer comes through head_ready, from the loop */
    lux_conn_take_over(c, &lux_h2_proto, h);
    return 1;
}
