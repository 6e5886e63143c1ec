/*
 * Output filters: a streamed body's pieces pass through the request's chain of filters on
 * their way from the handler (enqueue, response.c) to the protocol's queue. Pieces wait in the
 * chain's input list and are fed to the first filter in blocks while the protocol's queue is
 * below LUX_RESP_HIGH_WATER, so a slow client holds the handler back as it does without
 * filters; file pieces are read a block at a time. When the producer pauses (nothing waits
 * and all output was sent) the chain is flushed, so that what the handler gave reaches the
 * client now: an event stream or a long poll stays timely through compression.
 */
#include "http/filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pool.h"
#include "http/request.h"
#include "http/stat_cache.h"
#include "http/stream_internal.h"
#include "lux/log.h"

/* The most a filter is given at once (and the buffer a file piece is read into). */
#define FILTER_BLOCK (64 * 1024)

struct lux_filter {
    const lux_filter_ops *ops;
    void *ctx;
    lux_filter *next;
    lux_req *r;
};

typedef struct lux_filter_chain {
    lux_filter *first, *last;
    lux_chunk *in_head, **in_tail; /* pieces not fed to the first filter yet */
    uint64_t in_off;               /* bytes of in_head already fed */
    uint64_t in_queued;            /* bytes of the list not fed yet */
    uint64_t in_total;             /* bytes the handler appended */
    int64_t announced;             /* the handler's Content-Length; -1 none */
    uint64_t unflushed;            /* fed since output last reached the protocol */
    char *buf;                     /* a file piece's block */
    unsigned started : 1;          /* a piece was fed: the chain is fixed */
    unsigned dirty : 1;            /* fed since the last flush */
    unsigned end_asked : 1;        /* the handler ended the body */
    unsigned done : 1;             /* the chain emitted its end */
    unsigned failed : 1;           /* a filter failed or a file could not be read */
} lux_filter_chain;

static uint64_t out_queued(const lux_req *r) {
    return r->body_len - r->resp_released;
}

static lux_filter_chain *new_chain(lux_req *r) {
    lux_filter_chain *ch = lux_pool_alloc(r->pool, sizeof *ch);
    if (!ch)
        return NULL;
    memset(ch, 0, sizeof *ch);
    ch->in_tail = &ch->in_head;
    ch->announced = r->stream_length;
    return ch;
}

static void append_input(lux_filter_chain *ch, lux_chunk *c) {
    c->next = NULL;
    *ch->in_tail = c;
    ch->in_tail = &c->next;
    ch->in_queued += c->len;
}

/* Pieces appended before the chain existed (the head has not gone out) become its input. */
static void adopt_body(lux_req *r, lux_filter_chain *ch) {
    for (lux_chunk *c = r->body, *next; c; c = next) {
        next = c->next;
        ch->in_total += c->len;
        append_input(ch, c);
    }
    r->body = NULL;
    r->body_tail = &r->body;
    r->body_len = 0;
}

int lux_resp_filter(lux_req *r, const lux_filter_ops *ops, void *ctx) {
    if (!r->streaming || r->tunnel || r->resp_aborted || lux_stream_head_out(r) ||
        (r->filters && r->filters->started))
        return -1;
    lux_filter *f = lux_pool_alloc(r->pool, sizeof *f);
    if (!f)
        return -1;
    *f = (lux_filter){ops, ctx, NULL, r};
    if (!r->filters) {
        lux_filter_chain *ch = new_chain(r);
        if (!ch)
            return -1;
        r->filters = ch;
        adopt_body(r, ch);
        ch->end_asked = r->stream_ended;
        lux_stream_later(r, LUX_SEV_FILTER);
    }
    lux_filter_chain *ch = r->filters;
    if (ch->last)
        ch->last->next = f;
    else
        ch->first = f;
    ch->last = f;
    if (!ops->keeps_length)
        r->stream_length = -1;
    return 0;
}

void *lux_filter_ctx(const lux_filter *f) {
    return f->ctx;
}

int lux_filter_emit(lux_filter *f, const char *p, size_t len) {
    if (len == 0)
        return 0;
    if (f->next)
        return f->next->ops->data(f->next, p, len);
    f->r->filters->unflushed = 0;
    return lux_resp_queue_copy(f->r, p, len);
}

/* The next block of the input's first piece: its memory, or read from its file. */
static const char *input_block(lux_filter_chain *ch, size_t *n) {
    const lux_chunk *c = ch->in_head;
    uint64_t left = c->len - ch->in_off;
    *n = left > FILTER_BLOCK ? FILTER_BLOCK : (size_t)left;
    if (c->mem)
        return c->mem + ch->in_off;
    if (!ch->buf && !(ch->buf = malloc(FILTER_BLOCK)))
        return NULL;
    ssize_t got;
    do
        got = pread(c->file->fd, ch->buf, *n, (off_t)(c->off + ch->in_off));
    while (got < 0 && errno == EINTR);
    if (got <= 0)
        return NULL; /* an error, or the file shrank under the response */
    *n = (size_t)got;
    return ch->buf;
}

static void drop_input(lux_filter_chain *ch) {
    for (lux_chunk *c = ch->in_head, *next; c; c = next) {
        next = c->next;
        lux_chunk_release(c);
    }
    ch->in_head = NULL;
    ch->in_tail = &ch->in_head;
    ch->in_off = ch->in_queued = ch->unflushed = 0;
}

static void fail(lux_req *r) {
    lux_filter_chain *ch = r->filters;
    lux_log(LUX_LOG_ERR, "%.*s: an output filter failed; the body is cut", (int)r->uri.len,
            r->uri.ptr ? r->uri.ptr : "");
    ch->failed = 1;
    drop_input(ch);
}

/* Feed one block of input to the first filter. 0 or -1. */
static int feed_block(lux_filter_chain *ch) {
    size_t n;
    const char *p = input_block(ch, &n);
    if (!p || ch->first->ops->data(ch->first, p, n) < 0)
        return -1;
    ch->started = ch->dirty = 1;
    ch->unflushed += n;
    ch->in_off += n;
    ch->in_queued -= n;
    if (ch->in_off == ch->in_head->len) {
        lux_chunk *c = ch->in_head;
        ch->in_head = c->next;
        if (!ch->in_head)
            ch->in_tail = &ch->in_head;
        ch->in_off = 0;
        lux_chunk_release(c);
    }
    return 0;
}

/* Each filter's end (or flush), first to last: a filter's last output reaches the next one
 * before that one is asked. 0 or -1. */
static int run_all(lux_filter_chain *ch, int end) {
    for (lux_filter *f = ch->first; f; f = f->next)
        if ((end ? f->ops->end(f) : f->ops->flush(f)) < 0)
            return -1;
    return 0;
}

/* Feed the input while the protocol's queue has room; end the chain once the handler ended
 * and the input is all fed. Returns 1 when the chain has just finished (well or not). */
static int pump(lux_req *r) {
    lux_filter_chain *ch = r->filters;
    if (ch->done)
        return 0;
    while (!ch->failed && ch->in_head && out_queued(r) < LUX_RESP_HIGH_WATER)
        if (feed_block(ch) < 0)
            fail(r);
    if (!ch->end_asked || (ch->in_head && !ch->failed))
        return 0;
    if (!ch->failed && run_all(ch, 1) < 0)
        fail(r);
    if (ch->failed)
        r->resp_aborted = 1;
    ch->done = 1;
    return 1;
}

int lux_filter_take(lux_req *r, lux_chunk *c) {
    lux_filter_chain *ch = r->filters;
    if (ch->failed || ch->end_asked ||
        (ch->announced >= 0 && ch->in_total + c->len > (uint64_t)ch->announced)) {
        if (!ch->failed && !ch->end_asked)
            lux_log(LUX_LOG_ERR, "%.*s: a streamed body longer than its %lld bytes was cut",
                    (int)r->uri.len, r->uri.ptr ? r->uri.ptr : "", (long long)ch->announced);
        lux_chunk_release(c);
        return -1;
    }
    ch->in_total += c->len;
    append_input(ch, c);
    if (lux_stream_head_out(r))
        pump(r);
    /* From the loop, once this batch of events is over: more input, or a pause to flush. */
    lux_stream_later(r, LUX_SEV_FILTER);
    return ch->failed ? -1 : 0;
}

int lux_filter_end(lux_req *r) {
    lux_filter_chain *ch = r->filters;
    if (ch->announced >= 0 && ch->in_total != (uint64_t)ch->announced) {
        lux_log(LUX_LOG_ERR, "%.*s: a streamed body of %lld bytes ended at %llu", (int)r->uri.len,
                r->uri.ptr ? r->uri.ptr : "", (long long)ch->announced,
                (unsigned long long)ch->in_total);
        lux_filter_abort(r);
        r->resp_aborted = 1;
        return 1;
    }
    ch->end_asked = 1;
    if (!lux_stream_head_out(r)) {
        lux_stream_later(r, LUX_SEV_FILTER);
        return 0;
    }
    return pump(r);
}

void lux_filter_abort(lux_req *r) {
    lux_filter_chain *ch = r->filters;
    drop_input(ch);
    ch->end_asked = ch->done = 1;
}

int lux_filter_busy(const lux_req *r) {
    return r->filters && !r->filters->done;
}

uint64_t lux_filter_held(const lux_req *r) {
    const lux_filter_chain *ch = r->filters;
    return ch ? ch->in_queued + ch->unflushed : 0;
}

void lux_filter_run(lux_req *r) {
    lux_filter_chain *ch = r->filters;
    if (!ch || ch->done)
        return;
    if (pump(r)) {
        lux_stream_filtered(r);
        return;
    }
    if (ch->failed || !ch->dirty || ch->in_head || out_queued(r) > 0)
        return;
    ch->dirty = 0;
    ch->unflushed = 0;
    if (run_all(ch, 0) < 0)
        fail(r);
}

void lux_filter_released(lux_req *r) {
    const lux_filter_chain *ch = r->filters;
    if (ch && !ch->done && (ch->in_head || ch->end_asked || (ch->dirty && !out_queued(r))))
        lux_stream_later(r, LUX_SEV_FILTER);
}

void lux_filter_release(lux_req *r) {
    lux_filter_chain *ch = r->filters;
    if (!ch)
        return;
    r->filters = NULL;
    drop_input(ch);
    free(ch->buf);
    for (lux_filter *f = ch->first; f; f = f->next)
        if (f->ops->release)
            f->ops->release(f->ctx);
}
