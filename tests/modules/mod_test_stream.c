/*
 * mod_test_stream: a handler that exercises the stream core the way gateways will, for the
 * integration tests (tests/integration/test_stream_core.py). It is linked into the test binary
 * (build/lux-test) only, never into lux.
 *
 *   test-stream.delay-ms = N        answer after N ms (LUX_ASYNC, a timer, lux_req_resume)
 *   test-stream.bytes = N           stream N bytes of a pattern (byte i is i % 251), in pieces
 *                                   of test-stream.piece bytes, honouring back-pressure
 *   test-stream.content-length = 1  announce the length (else chunked on HTTP/1.1)
 *   test-stream.interval-ms = N     wait N ms between pieces
 *   test-stream.abort-after = N     break the body after N bytes (lux_resp_abort)
 *   test-stream.echo = 1            answer with the request body, read as it comes
 *                                   (lux_req_body_read and its notify callback)
 *   test-stream.sink = 1            read the whole request body, then answer with its length
 *   test-stream.filters = N         put N output filters on the stream (lux_resp_filter), each
 *                                   doubling every byte and emitting "[end K]" at the end (K
 *                                   counts from 1 in chain order); each logs
 *                                   "test-stream: filter K released" when released
 *   test-stream.file = "path"       append that file as one piece after the pattern
 *
 * Every abort callback logs "test-stream: aborted <uri> (abort <n>)" to the error log.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/pool.h"
#include "event/loop.h"
#include "http/stat_cache.h"
#include "lux/log.h"
#include "lux/req.h"
#include "net/worker.h"

typedef struct {
    long delay_ms;
    long bytes; /* -1: no stream */
    long piece;
    long interval_ms;
    long abort_after; /* -1: never */
    int content_length;
    int echo;
    int sink;
    long filters;
    lux_str file;
} ts_conf;

/* One request in the handler's hands; in the request's pool. */
typedef struct {
    lux_req *r;
    const ts_conf *conf;
    lux_timer timer;
    uint64_t produced; /* response bytes made, or request bytes read (sink) */
    int answered;
} ts_state;

static atomic_ulong aborts;

#define OFF(f) offsetof(ts_conf, f)
static const lux_directive ts_directives[] = {
    {"test-stream.delay-ms", LUX_D_INT, OFF(delay_ms), LUX_SCOPE_ANY},
    {"test-stream.bytes", LUX_D_INT, OFF(bytes), LUX_SCOPE_ANY},
    {"test-stream.piece", LUX_D_INT, OFF(piece), LUX_SCOPE_ANY},
    {"test-stream.interval-ms", LUX_D_INT, OFF(interval_ms), LUX_SCOPE_ANY},
    {"test-stream.abort-after", LUX_D_INT, OFF(abort_after), LUX_SCOPE_ANY},
    {"test-stream.content-length", LUX_D_BOOL, OFF(content_length), LUX_SCOPE_ANY},
    {"test-stream.echo", LUX_D_BOOL, OFF(echo), LUX_SCOPE_ANY},
    {"test-stream.sink", LUX_D_BOOL, OFF(sink), LUX_SCOPE_ANY},
    {"test-stream.filters", LUX_D_INT, OFF(filters), LUX_SCOPE_ANY},
    {"test-stream.file", LUX_D_STRING, OFF(file), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

static void ts_init(void *p) {
    ts_conf *c = p;
    c->bytes = -1;
    c->piece = 16384;
    c->abort_after = -1;
}

static lux_loop *loop_of(const ts_state *s) {
    return s->r->worker->loop;
}

static void arm(ts_state *s, long ms) {
    lux_loop_timer_arm(loop_of(s), &s->timer, lux_loop_now_ms(loop_of(s)) + ms);
}

static void on_writable(lux_req *r, void *arg);

/* test-stream.file: the file as one piece. 0 or -1. */
static int append_file(ts_state *s) {
    const lux_str *path = &s->conf->file;
    if (!path->len)
        return 0;
    lux_file *f = lux_stat_cache_open(s->r->worker, path->ptr, path->len, 1);
    if (!f)
        return -1;
    int rc = lux_resp_body_file(s->r, f, 0, f->size);
    lux_file_unref(f);
    return rc;
}

/* A test filter: every byte twice, then "[end K]". */
typedef struct {
    long k;
} ts_filter;

static int double_bytes(lux_filter *f, const char *p, size_t len) {
    char out[2048];
    while (len) {
        size_t n = len > sizeof out / 2 ? sizeof out / 2 : len;
        for (size_t i = 0; i < n; i++)
            out[2 * i] = out[2 * i + 1] = p[i];
        if (lux_filter_emit(f, out, 2 * n) < 0)
            return -1;
        p += n;
        len -= n;
    }
    return 0;
}

static int no_flush(lux_filter *f) {
    return 0;
}

static int end_mark(lux_filter *f) {
    const ts_filter *tf = lux_filter_ctx(f);
    char mark[32];
    int n = snprintf(mark, sizeof mark, "[end %ld]", tf->k);
    return lux_filter_emit(f, mark, (size_t)n);
}

static void filter_released(void *ctx) {
    const ts_filter *tf = ctx;
    lux_log(LUX_LOG_ERR, "test-stream: filter %ld released", tf->k);
}

static const lux_filter_ops doubling = {
    .data = double_bytes,
    .flush = no_flush,
    .end = end_mark,
    .release = filter_released,
};

/* test-stream.filters: the chain, on a response whose head has not gone out. */
static lux_result ts_response_start(lux_req *r, const void *conf) {
    const ts_conf *c = conf;
    for (long k = 1; k <= c->filters && r->streaming; k++) {
        ts_filter *tf = lux_pool_alloc(r->pool, sizeof *tf);
        if (!tf)
            return LUX_ERROR;
        tf->k = k;
        if (lux_resp_filter(r, &doubling, tf) < 0)
            return LUX_ERROR;
    }
    return LUX_GO_ON;
}

/* Append pattern bytes until the body is complete, the queue is full, or a pause is due. */
static void produce(ts_state *s) {
    const ts_conf *c = s->conf;
    lux_req *r = s->r;
    char buf[65536];
    while (s->produced < (uint64_t)c->bytes) {
        if (c->abort_after >= 0 && s->produced >= (uint64_t)c->abort_after) {
            lux_resp_abort(r);
            return;
        }
        if (lux_resp_queued(r) >= LUX_RESP_HIGH_WATER) {
            lux_resp_on_writable(r, on_writable, s);
            return;
        }
        uint64_t n = (uint64_t)c->bytes - s->produced;
        if (n > (uint64_t)c->piece)
            n = (uint64_t)c->piece;
        if (n > sizeof buf)
            n = sizeof buf;
        if (c->abort_after >= 0 && n > (uint64_t)c->abort_after - s->produced)
            n = (uint64_t)c->abort_after - s->produced;
        for (uint64_t i = 0; i < n; i++)
            buf[i] = (char)((s->produced + i) % 251);
        if (lux_resp_body_copy(r, buf, (size_t)n) < 0) {
            lux_resp_abort(r);
            return;
        }
        s->produced += n;
        if (c->interval_ms > 0 && s->produced < (uint64_t)c->bytes) {
            arm(s, c->interval_ms);
            return;
        }
    }
    if (c->abort_after >= 0 && s->produced >= (uint64_t)c->abort_after)
        lux_resp_abort(r);
    else if (append_file(s) < 0)
        lux_resp_abort(r);
    else
        lux_resp_end(r);
}

static void on_writable(lux_req *r, void *arg) {
    produce(arg);
}

static void echo_more(lux_req *r, void *arg);

/* Copy what of the request body is there into the response, until its end, a full queue or
 * a wait for more. */
static void echo(ts_state *s) {
    lux_req *r = s->r;
    char buf[65536];
    for (;;) {
        if (lux_resp_queued(r) >= LUX_RESP_HIGH_WATER) {
            lux_resp_on_writable(r, echo_more, s);
            return;
        }
        ssize_t n = lux_req_body_read(r, buf, sizeof buf);
        if (n > 0 && lux_resp_body_copy(r, buf, (size_t)n) == 0)
            continue;
        if (n == 0)
            lux_resp_end(r);
        else if (n < 0 && errno == EAGAIN)
            lux_req_body_notify(r, echo_more, s);
        else
            lux_resp_abort(r);
        return;
    }
}

static void echo_more(lux_req *r, void *arg) {
    echo(arg);
}

static void sink_more(lux_req *r, void *arg);

/* Read the request body to its end, then answer with its length (LUX_ASYNC until then). */
static lux_result sink(ts_state *s) {
    lux_req *r = s->r;
    char buf[65536];
    ssize_t n;
    while ((n = lux_req_body_read(r, buf, sizeof buf)) > 0)
        s->produced += (uint64_t)n;
    if (n < 0 && errno == EAGAIN) {
        lux_req_body_notify(r, sink_more, s);
        return LUX_ASYNC;
    }
    if (n < 0)
        return LUX_ERROR;
    char *text = lux_req_printf(r, "%llu\n", (unsigned long long)s->produced);
    r->status = 200;
    return text && lux_resp_body_mem(r, text, strlen(text)) == 0 ? LUX_HANDLED : LUX_ERROR;
}

static void sink_more(lux_req *r, void *arg) {
    lux_result res = sink(arg);
    if (res != LUX_ASYNC) {
        lux_req_body_notify(r, NULL, NULL);
        lux_req_resume(r, res);
    }
}

/* The response: a short text after a delay, the streamed pattern, or the echo. */
static lux_result answer(ts_state *s) {
    lux_req *r = s->r;
    s->answered = 1;
    r->status = 200;
    if (s->conf->bytes < 0 && !s->conf->echo) {
        static const char text[] = "answered later\n";
        lux_resp_header(r, "Content-Type", 12, "text/plain", 10);
        return lux_resp_body_mem(r, text, sizeof text - 1) == 0 ? LUX_HANDLED : LUX_ERROR;
    }
    lux_resp_header(r, "Content-Type", 12, "application/octet-stream", 24);
    if (s->conf->echo) {
        if (lux_resp_stream(r) < 0)
            return LUX_ERROR;
        echo(s);
        return LUX_HANDLED;
    }
    if (s->conf->content_length)
        lux_resp_content_length(r, (uint64_t)s->conf->bytes);
    if (lux_resp_stream(r) < 0)
        return LUX_ERROR;
    produce(s);
    return LUX_HANDLED;
}

static void on_timer(lux_timer *t) {
    ts_state *s = (ts_state *)((char *)t - offsetof(ts_state, timer));
    if (s->answered)
        produce(s);
    else
        lux_req_resume(s->r, answer(s));
}

static void on_abort(lux_req *r, void *arg) {
    ts_state *s = arg;
    lux_loop_timer_cancel(loop_of(s), &s->timer);
    unsigned long n = atomic_fetch_add(&aborts, 1) + 1;
    lux_log(LUX_LOG_ERR, "test-stream: aborted %.*s (abort %lu)", (int)r->uri.len, r->uri.ptr, n);
}

static lux_result ts_handle(lux_req *r, const void *conf) {
    const ts_conf *c = conf;
    if (c->delay_ms <= 0 && c->bytes < 0 && !c->echo && !c->sink)
        return LUX_GO_ON;
    ts_state *s = lux_pool_alloc(r->pool, sizeof *s);
    if (!s)
        return LUX_ERROR;
    memset(s, 0, sizeof *s);
    s->r = r;
    s->conf = c;
    s->timer.cb = on_timer;
    lux_req_on_abort(r, on_abort, s);
    if (c->sink)
        return sink(s);
    if (c->delay_ms > 0) {
        arm(s, c->delay_ms);
        return LUX_ASYNC;
    }
    return answer(s);
}

const lux_module lux_mod_test_stream = {
    .name = "mod_test_stream",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = ts_directives,
    .conf_size = sizeof(ts_conf),
    .conf_init = ts_init,
    .handle = ts_handle,
    .response_start = ts_response_start,
};
