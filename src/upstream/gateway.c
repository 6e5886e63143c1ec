#include "upstream/gateway.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "event/loop.h"
#include "http/body.h"
#include "http/cgi_headers.h"
#include "http/stream.h"
#include "lux/log.h"
#include "mod/xsendfile.h"
#include "net/stats.h"
#include "net/worker.h"

#define IO_CHUNK 65536
#define ERR_LINE_MAX 1024

struct lux_gw {
    lux_req *r; /* NULL once the request is no longer ours */
    const lux_gw_proto *proto;
    lux_gw_conf conf; /* a copy: the handler may adjust it per request */
    lux_loop *loop;
    unsigned worker;
    const lux_ups_backend *backend;
    int stats_id;         /* the backend's, in the metrics */
    struct timespec sent; /* when the request went to the backend */
    lux_ups_conn *conn;
    int connecting;
    lux_ups_buf out;  /* encoded and not yet written */
    int body_done;    /* the end of the body is encoded */
    int body_started; /* body bytes were taken from the client: no retry */
    int got_bytes;    /* the backend sent something on this connection */
    int wrote;        /* request bytes went out on this connection: it may have acted on them */
    int retried;      /* on another backend */
    int replaced;     /* a dead kept-alive connection by a new one */
    int answered;     /* the head went to the core: the body streams */
    int paused;       /* the client's queue is full */
    int tunnel;       /* the response is a tunnel: raw bytes both ways */
    int backend_done; /* tunnel: the backend's end was passed on to the client */
    int backend_shut; /* tunnel: the client's end was passed on to the backend */
    char *head;       /* the head as it arrives */
    size_t head_len;
    int64_t declared;  /* the head's Content-Length; -1: none */
    uint64_t body_got; /* body bytes from the backend */
    char *chunk;       /* body bytes read from the client, IO_CHUNK */
    lux_timer timer;
    int64_t last_read, last_write;
    lux_ups_dead dead;
    char errline[ERR_LINE_MAX];
    size_t errlen;
    _Alignas(16) unsigned char state[]; /* the protocol's */
};

void *lux_gw_state(lux_gw *g) {
    return g->state;
}

lux_req *lux_gw_request(const lux_gw *g) {
    return g->r;
}

const lux_ups_backend *lux_gw_backend(const lux_gw *g) {
    return g->backend;
}

int lux_gw_debug(const lux_gw *g) {
    return g->conf.debug;
}

/* NAME.debug at level or above: a line about the request's way through its backend. */
static void debug(const lux_gw *g, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void debug(const lux_gw *g, int level, const char *fmt, ...) {
    if (g->conf.debug < level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    lux_log(LUX_LOG_DEBUG, "(%s) %s", g->proto->name, line);
}

static void gw_free(void *p) {
    lux_gw *g = p;
    lux_ups_buf_free(&g->out);
    free(g->head);
    free(g->chunk);
    free(g);
}

void lux_gw_debug_params(const lux_gw *g, const lux_cgi_var *vars, size_t n) {
    for (size_t i = 0; i < n && g->conf.debug >= 2; i++)
        debug(g, 2, "param %s = %s", vars[i].name.ptr, vars[i].value.ptr);
}

/* ---- letting go ---------------------------------------------------------------------------- */

static void drop_conn(lux_gw *g, int keep) {
    if (!g->conn)
        return;
    lux_ups_release(g->conn, keep);
    g->conn = NULL;
}

/* Let go of the request and the connection; g is freed after the batch of events. */
static void finish(lux_gw *g, int keep) {
    lux_loop_timer_cancel(g->loop, &g->timer);
    if (g->r) {
        lux_req_on_abort(g->r, NULL, NULL);
        lux_req_body_notify(g->r, NULL, NULL);
        lux_resp_on_writable(g->r, NULL, NULL);
        g->r = NULL;
    }
    drop_conn(g, keep);
    lux_ups_defer_free(g->loop, &g->dead, gw_free, g);
}

/* The backend's connection broke: the client's goes too. */
static void tunnel_cut(lux_gw *g) {
    lux_req *r = g->r;
    if (!r)
        return; /* cut already, from inside a codec's hook */
    finish(g, 0);
    lux_tunnel_done(r);
}

static void fail(lux_gw *g, int status) {
    lux_req *r = g->r;
    if (g->tunnel) {
        tunnel_cut(g);
        return;
    }
    if (g->answered && !lux_req_head_pending(r)) {
        finish(g, 0); /* the head went out: the client must see the body cut */
        lux_resp_abort(r);
        return;
    }
    if (g->answered) {
        finish(g, 0); /* nothing left yet: the error page replaces the backend's answer */
        lux_req_start_error(r, status);
        return;
    }
    finish(g, 0);
    lux_resp_error(r, status);
    lux_req_resume(r, LUX_HANDLED);
}

static void on_abort(lux_req *r, void *arg) {
    lux_gw *g = arg;
    g->r = NULL; /* the core let go of r */
    finish(g, 0);
}

/* ---- the backend's metrics ---------------------------------------------------------------- */

static void count_error(lux_gw *g, lux_stats_backend_error e) {
    lux_stats_backend_failed(g->worker, g->stats_id, e);
}

/* Connecting failed: the backend is disabled for its disable-time (lux_ups_disable). */
static void count_connect_failed(lux_gw *g, const lux_ups_backend *b) {
    count_error(g, LUX_STATS_BACKEND_CONNECT);
    lux_stats_backend_down(g->worker, g->stats_id,
                           lux_loop_now_ms(g->loop) + b->disable_time * 1000);
}

static void count_response(lux_gw *g) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t us = ((int64_t)now.tv_sec - (int64_t)g->sent.tv_sec) * 1000000 +
                 (now.tv_nsec - g->sent.tv_nsec) / 1000;
    lux_stats_backend_response(g->worker, g->stats_id, us > 0 ? (uint64_t)us : 0);
}

/* ---- connecting ----------------------------------------------------------------------------- */

static void on_conn_event(lux_io *io, unsigned events);
static void send_more(lux_gw *g);
static int refill(lux_gw *g);
static void arm_timer(lux_gw *g);
static int tunnel_refill(lux_gw *g);
static int tunnel_settle(lux_gw *g);
static void tunnel_backend_eof(lux_gw *g);

/* A kept-alive connection takes what is encoded at once, as far as its socket buffer does,
 * rather than a turn of the loop later: the idle connection already waits for reads, so a
 * request that goes out whole costs no epoll_ctl at all. Only the write happens here; what is
 * left over, and any failure, the loop handles (on_conn_event), since a handler must not
 * resume its own request. A tunnel opened at connect sends nothing first: it waits its turn. */
static int write_ahead(lux_gw *g) {
    if (g->proto->tunnels_at_connect && g->proto->tunnels_at_connect(g, g->r))
        return lux_loop_mod(g->loop, &g->conn->io, LUX_EV_READ | LUX_EV_WRITE);
    if (!g->body_done && lux_body_length(g->r) == 0 && refill(g) < 0)
        return -1; /* no body: its end is encoded now (FastCGI's empty STDIN) */
    size_t pending = lux_ups_buf_pending(&g->out);
    ssize_t n = pending ? lux_ups_write(g->conn, g->out.data + g->out.off, pending) : 0;
    if (n > 0) {
        g->wrote = 1;
        lux_ups_buf_consume(&g->out, (size_t)n);
    }
    int more = lux_ups_buf_pending(&g->out) || !g->body_done || n < 0;
    return lux_loop_mod(g->loop, &g->conn->io, LUX_EV_READ | (more ? LUX_EV_WRITE : 0));
}

/* A method whose request the backend may receive twice without harm (RFC 9110 9.2.2). */
static int idempotent(lux_method m) {
    return m == LUX_M_GET || m == LUX_M_HEAD || m == LUX_M_OPTIONS || m == LUX_M_PUT ||
           m == LUX_M_DELETE || m == LUX_M_TRACE;
}

/* May r go again on a new connection when a kept-alive one turns out dead under it? Then
 * that connection need not be checked before it is used. */
static int replay_safe(const lux_req *r) {
    return idempotent(r->method) && lux_body_length(r) == 0;
}

/* Start (or start again) on a backend; 0, or -1 when no backend can be reached. */
static int connect_some(lux_gw *g, const lux_ups_backend *skip) {
    for (;;) {
        g->backend = lux_ups_pick(g->loop, &g->conf.pool, g->r, skip);
        if (!g->backend)
            return -1;
        g->stats_id = lux_ups_stats_id(g->loop, g->backend, g->proto->name);
        g->conn = lux_ups_open(g->loop, g->backend, on_conn_event, g, !replay_safe(g->r));
        if (g->conn)
            break;
        count_connect_failed(g, g->backend);
        if (g->retried)
            return -1;
        g->retried = 1; /* lux_ups_open disabled it */
        skip = g->backend;
    }
    debug(g, 1, "%.*s goes to %s (%s connection)", (int)g->r->uri.len, g->r->uri.ptr,
          g->backend->name, g->conn->reused ? "a kept-alive" : "a new");
    g->got_bytes = 0;
    g->wrote = 0;
    g->connecting = !g->conn->reused;
    lux_ups_buf_free(&g->out);
    g->body_done = g->conf.authorizer; /* the body stays for the handler after it */
    if (g->proto->begin(g, g->r, &g->out) < 0)
        return -1;
    debug(g, 2, "%zu bytes of request head encoded for %s", lux_ups_buf_pending(&g->out),
          g->backend->name);
    g->last_read = g->last_write = lux_loop_now_ms(g->loop);
    lux_stats_backend_request(g->worker, g->stats_id);
    clock_gettime(CLOCK_MONOTONIC, &g->sent);
    if (!g->connecting && write_ahead(g) < 0)
        return -1;
    arm_timer(g);
    return 0;
}

/* An idempotent request without a body that would have to be read again. */
static int repeatable(const lux_req *r) {
    return r->content_length <= 0 && idempotent(r->method);
}

/* A kept-alive connection broke before an answer: may the request go again on a new one?
 * Not once any of it was written, unless it is idempotent (as nginx decides): the backend may
 * have acted on it before it closed. */
static int replayable(const lux_gw *g) {
    return !g->wrote || idempotent(g->r->method);
}

/* The connection broke before the backend said anything: try again where that is safe. */
static void retry_or_fail(lux_gw *g, int connect_failed) {
    const lux_ups_backend *failed = g->backend;
    int reused = g->conn && g->conn->reused;
    drop_conn(g, 0);
    if (connect_failed) {
        count_connect_failed(g, failed);
        lux_ups_disable(g->loop, failed);
    }
    int safe = !g->body_started && !g->answered && !g->got_bytes;
    debug(g, 1, "%s: the connection broke before an answer (%s)", failed->name,
          safe ? "trying again where that is safe" : "not repeatable");
    if (safe && reused && !g->replaced && replayable(g)) {
        g->replaced = 1; /* the backend closed an idle connection: not its fault */
        if (connect_some(g, NULL) == 0)
            return;
    } else {
        if (!connect_failed) /* a failed connect said why already */
            lux_log(LUX_LOG_ERR, "(%s) %s closed the connection before answering", g->proto->name,
                    failed->name);
        if (safe && !g->retried && (connect_failed || repeatable(g->r))) {
            g->retried = 1;
            if (connect_some(g, failed) == 0)
                return;
        }
    }
    fail(g, connect_failed ? 503 : 502);
}

/* ---- timeouts -------------------------------------------------------------------------------- */

/* The timeouts are those of the host entry the backend at hand came from. */
static void arm_timer(lux_gw *g) {
    const lux_ups_timeouts *c = &g->backend->timeouts;
    int64_t due = INT64_MAX;
    if (g->tunnel) { /* the client's connection times a tunnel (server.max-read-idle) */
        const lux_gw_tunnel_codec *codec = g->proto->codec;
        long tick = codec && codec->tick_ms ? codec->tick_ms(g) : 0;
        if (tick <= 0)
            lux_loop_timer_cancel(g->loop, &g->timer);
        else if (!g->timer.pos) /* a period of its own, however busy the tunnel is */
            lux_loop_timer_arm(g->loop, &g->timer, lux_loop_now_ms(g->loop) + tick);
        return;
    }
    if (g->connecting && c->connect > 0)
        due = g->last_write + c->connect * 1000;
    else if (!g->connecting) {
        if (c->read > 0 && !g->paused)
            due = g->last_read + c->read * 1000;
        if (c->write > 0 && lux_ups_buf_pending(&g->out) && g->last_write + c->write * 1000 < due)
            due = g->last_write + c->write * 1000;
    }
    if (due != INT64_MAX)
        lux_loop_timer_arm(g->loop, &g->timer, due);
    else
        lux_loop_timer_cancel(g->loop, &g->timer);
}

static void on_timer(lux_timer *t) {
    lux_gw *g = (lux_gw *)((char *)t - offsetof(lux_gw, timer));
    if (!g->r)
        return;
    if (g->tunnel) { /* the codec's tick (arm_timer arms nothing else for a tunnel) */
        g->proto->codec->tick(g);
        if (g->r)
            arm_timer(g);
        return;
    }
    int64_t now = lux_loop_now_ms(g->loop);
    const lux_ups_timeouts *c = &g->backend->timeouts;
    if (g->connecting) {
        if (now - g->last_write < c->connect * 1000) {
            arm_timer(g);
            return;
        }
        lux_log(LUX_LOG_ERR, "(%s) connect to %s timed out", g->proto->name, g->backend->name);
        retry_or_fail(g, 1);
        return;
    }
    int read_late = c->read > 0 && !g->paused && now - g->last_read >= c->read * 1000;
    int write_late =
        c->write > 0 && lux_ups_buf_pending(&g->out) && now - g->last_write >= c->write * 1000;
    if (!read_late && !write_late) {
        arm_timer(g);
        return;
    }
    lux_log(LUX_LOG_ERR, "(%s) %s: no %s for %ld s", g->proto->name, g->backend->name,
            read_late ? "response" : "request taken", read_late ? c->read : c->write);
    count_error(g, LUX_STATS_BACKEND_TIMEOUT);
    fail(g, 504);
}

/* ---- the request to the backend -------------------------------------------------------------- */

static void update_interest(lux_gw *g) {
    unsigned ev = (g->paused || g->backend_done ? 0 : LUX_EV_READ) |
                  (lux_ups_buf_pending(&g->out) ? LUX_EV_WRITE : 0);
    if (ev)
        lux_loop_mod(g->loop, &g->conn->io, ev);
    else
        lux_loop_del(g->loop, &g->conn->io);
}

static void body_more(lux_req *r, void *arg);

/* Encode the next piece of the body when the last one is written; 0, 1 (wait), -1. */
static int refill(lux_gw *g) {
    if (g->tunnel)
        return tunnel_refill(g);
    if (!g->chunk) {
        if (lux_body_length(g->r) == 0) { /* most requests: no body, and no buffer for one */
            g->body_done = 1;
            return g->proto->body(g, &g->out, NULL, 0);
        }
        if (!(g->chunk = malloc(IO_CHUNK)))
            return -1;
    }
    ssize_t n = lux_req_body_read(g->r, g->chunk, IO_CHUNK);
    if (n > 0) {
        g->body_started = 1;
        debug(g, 2, "%zd bytes of request body for %s", n, g->backend->name);
        return g->proto->body(g, &g->out, g->chunk, (size_t)n) < 0 ? -1 : 0;
    }
    if (n < 0 && errno == EAGAIN) {
        lux_req_body_notify(g->r, body_more, g);
        return 1;
    }
    if (n < 0)
        return 1; /* the body failed: the core aborts the request */
    g->body_done = 1;
    return g->proto->body(g, &g->out, NULL, 0);
}

/* Write what is encoded, and more of the body as the backend takes it. */
static void send_more(lux_gw *g) {
    while (g->conn) {
        size_t pending = lux_ups_buf_pending(&g->out);
        if (pending) {
            ssize_t n = lux_ups_write(g->conn, g->out.data + g->out.off, pending);
            if (n > 0) {
                g->wrote = 1;
                lux_ups_buf_consume(&g->out, (size_t)n);
                g->last_write = lux_loop_now_ms(g->loop);
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                break;
            if (g->tunnel)
                tunnel_cut(g);
            else
                retry_or_fail(g, 0);
            return;
        }
        if (g->body_done)
            break;
        int rc = refill(g);
        if (rc < 0) {
            if (g->r)
                fail(g, 500);
            return;
        }
        if (rc > 0)
            break;
    }
    if (g->conn && !(g->tunnel && tunnel_settle(g))) {
        update_interest(g);
        arm_timer(g);
    }
}

static void body_more(lux_req *r, void *arg) {
    lux_gw *g = arg;
    if (g->conn && !g->connecting)
        send_more(g);
}

/* ---- the response ---------------------------------------------------------------------------- */

static void log_stderr(lux_gw *g, const char *p, size_t n, int flush) {
    while (n || flush) {
        size_t room = sizeof g->errline - g->errlen, take = n < room ? n : room;
        memcpy(g->errline + g->errlen, p, take);
        g->errlen += take;
        p += take;
        n -= take;
        size_t start = 0;
        for (size_t i = 0; i < g->errlen; i++)
            if (g->errline[i] == '\n') {
                size_t len = i - start;
                if (len && g->errline[start + len - 1] == '\r')
                    len--;
                lux_log(LUX_LOG_ERR, "(%s) %s: %.*s", g->proto->name, g->backend->name, (int)len,
                        g->errline + start);
                start = i + 1;
            }
        if (!start && g->errlen && (flush || g->errlen == sizeof g->errline)) {
            lux_log(LUX_LOG_ERR, "(%s) %s: %.*s", g->proto->name, g->backend->name, (int)g->errlen,
                    g->errline);
            start = g->errlen;
        }
        memmove(g->errline, g->errline + start, g->errlen - start);
        g->errlen -= start;
        flush = 0;
    }
}

/* ---- tunnels -------------------------------------------------------------------------------- */

/* The response r is answering with opens a tunnel: the client's bytes are read from now on. */
static int tunnel_begin(lux_gw *g) {
    if (lux_resp_tunnel(g->r) < 0) {
        lux_log(LUX_LOG_ERR, "(%s) %s: %s cannot be tunnelled over %s", g->proto->name,
                g->backend->name, g->r->uri.ptr, lux_req_protocol(g->r));
        return -1;
    }
    if (!g->chunk && !(g->chunk = malloc(IO_CHUNK)))
        return -1;
    g->tunnel = 1;
    g->body_done = 0;
    count_response(g);
    lux_loop_timer_cancel(g->loop, &g->timer);
    arm_timer(g); /* the codec's tick, if it has one */
    lux_req_body_notify(g->r, body_more, g);
    return 0;
}

/* CONNECT: answered 200 once the backend is connected, with no request sent to it. */
static void tunnel_at_connect(lux_gw *g) {
    lux_req *r = g->r;
    const lux_gw_tunnel_codec *codec = g->proto->codec;
    lux_ups_buf_free(&g->out); /* the request begin encoded is not sent */
    r->status = 200;
    if ((codec && codec->head && codec->head(g, r) < 0) || lux_resp_stream(r) < 0 ||
        tunnel_begin(g) < 0) {
        fail(g, 502);
        return;
    }
    g->answered = 1;
    update_interest(g);
    lux_req_resume(r, LUX_HANDLED);
}

/* The client's next bytes for the backend, raw; its end (or failure) is the backend's
 * half-close, sent once what came before it is written. 0: more encoded, 1: wait, -1. */
static int tunnel_refill(lux_gw *g) {
    const lux_gw_tunnel_codec *codec = g->proto->codec;
    ssize_t n = lux_req_body_read(g->r, g->chunk, IO_CHUNK);
    if (n > 0 && codec && codec->in) {
        int rc = codec->in(g, &g->out, g->chunk, (size_t)n);
        if (rc <= 0)
            return rc;
        g->body_done = 1; /* the client ended the session inside the stream */
        return 1;
    }
    if (n > 0)
        return lux_ups_buf_put(&g->out, g->chunk, (size_t)n) < 0 ? -1 : 0;
    if (n < 0 && errno == EAGAIN) {
        lux_req_body_notify(g->r, body_more, g);
        return 1;
    }
    g->body_done = 1;
    return 1;
}

/* Pass the client's end on, and end the tunnel once both sides have ended. 1 when g let go. */
static int tunnel_settle(lux_gw *g) {
    if (g->body_done && !g->backend_shut && !lux_ups_buf_pending(&g->out)) {
        g->backend_shut = 1;
        shutdown(g->conn->io.fd, SHUT_WR);
    }
    if (!g->backend_shut || !g->backend_done)
        return 0;
    lux_req *r = g->r;
    finish(g, 0);
    lux_tunnel_done(r);
    return 1;
}

/* The backend half-closed: so is the client, once what came before has been sent. */
static void tunnel_backend_eof(lux_gw *g) {
    const lux_gw_tunnel_codec *codec = g->proto->codec;
    g->backend_done = 1;
    if (codec && codec->end)
        codec->end(g);
    if (!g->r)
        return; /* the last words could not be queued: the tunnel was cut */
    lux_resp_end(g->r);
    if (!tunnel_settle(g))
        update_interest(g);
}
/* What the head's fields say beyond the headers they add. */
typedef struct {
    lux_gw *g;
    lux_str sendfile; /* X-Sendfile's path, when the backend may send files */
} head_fields;

static int add_field(void *arg, const char *name, size_t nlen, const char *value, size_t vlen) {
    head_fields *hf = arg;
    if (hf->g->conf.xsendfile &&
        lux_xsendfile_field(name, nlen, hf->g->proto->older_sendfile_name)) {
        if (vlen) /* an empty one names nothing: the backend's own body stands */
            hf->sendfile = (lux_str){value, vlen};
        return 0;
    }
    if (nlen == 14 && !strncasecmp(name, "Content-Length", 14))
        return 0; /* the gateway checks the body against it; the server frames the response */
    return lux_resp_header(hf->g->r, name, nlen, value, vlen);
}

/* X-Sendfile: the answer is the file, with the backend's status and other headers; the rest
 * of its response is not read. */
static void answer_with_file(lux_gw *g, const lux_str *path) {
    lux_req *r = g->r;
    count_response(g);
    finish(g, 0); /* path stays valid: g is freed after the batch of events */
    lux_req_resume(r, lux_xsendfile_answer(r, g->proto->name, path->ptr, path->len,
                                           g->conf.xsendfile_docroot));
}

static int keep_variable(void *arg, const char *name, size_t nlen, const char *value, size_t vlen) {
    lux_gw *g = arg;
    if (nlen <= 9 || strncasecmp(name, "Variable-", 9))
        return 0;
    return g->proto->keep_variable(g->r, name + 9, nlen - 9, value, vlen);
}

/* An authorizer said 200: keep its Variable-NAME fields, drop the rest of its answer, and
 * run the request again for the handler after it. */
static void authorized(lux_gw *g, size_t end) {
    lux_req *r = g->r;
    lux_cgi_head h;
    if (!g->proto->keep_variable || lux_cgi_head_parse(g->head, end, &h, keep_variable, g) < 0) {
        fail(g, 500);
        return;
    }
    debug(g, 1, "%s authorized %.*s", g->backend->name, (int)r->uri.len, r->uri.ptr);
    count_response(g);
    finish(g, 0);
    lux_req_resume(r, LUX_RESTART);
}

/* The head announced more body than came: the answer is short, not whole. */
static int body_short(const lux_gw *g) {
    const lux_req *r = g->r;
    int bodiless = r->method == LUX_M_HEAD || r->status == 204 || r->status == 304;
    return !bodiless && g->declared >= 0 && g->body_got < (uint64_t)g->declared;
}

/* The response starts, with what came of its head: r->status is set, its fields are in
 * (sendfile: an X-Sendfile path), declared is its Content-Length (-1: none), rest[0, len) the
 * body bytes that came with the head. 0, or -1 when r is gone. */
static int start_response(lux_gw *g, int64_t declared, const lux_str *sendfile, const char *rest,
                          size_t len) {
    lux_req *r = g->r;
    debug(g, 1, "%s answered %d for %.*s", g->backend->name, r->status, (int)r->uri.len,
          r->uri.ptr);
    if (r->status >= 500)
        count_error(g, LUX_STATS_BACKEND_5XX);
    g->declared = declared;
    g->body_got = len;
    if (sendfile->ptr) {
        answer_with_file(g, sendfile);
        return -1;
    }
    if (lux_resp_stream(r) < 0 || (len && lux_resp_body_copy(r, rest, len) < 0)) {
        r->nresp_headers = 0;
        fail(g, 502);
        return -1;
    }
    g->answered = 1;
    g->head_len = 0;
    if (g->proto->tunnels && g->proto->tunnels(g, r) && tunnel_begin(g) < 0) {
        g->answered = 0;
        r->nresp_headers = 0;
        fail(g, 502);
        return -1;
    }
    lux_req_resume(r, LUX_HANDLED);
    return g->r ? 0 : -1;
}

/* A head that is not one: 502. */
static void broken_head(lux_gw *g) {
    lux_log(LUX_LOG_ERR, "(%s) %s: a broken response header", g->proto->name, g->backend->name);
    g->r->nresp_headers = 0;
    fail(g, 502);
}

/* The CGI head is complete at end: answer the request from it; 0, or -1 when r is gone. */
static int answer(lux_gw *g, size_t end) {
    lux_req *r = g->r;
    lux_cgi_head h;
    head_fields hf = {g, {NULL, 0}};
    /* One parse: the status, the framing and the fields for the response at once. */
    if (lux_cgi_head_parse(g->head, end, &h, add_field, &hf) < 0) {
        broken_head(g);
        return -1;
    }
    r->status = h.status ? h.status : h.location.ptr ? 302 : 200;
    if (g->conf.authorizer && r->status == 200) {
        r->status = 0;
        r->nresp_headers = 0; /* none of an allowing authorizer's fields reach the client */
        authorized(g, end);
        return -1;
    }
    return start_response(g, h.content_length, &hf.sendfile, g->head + end, g->head_len - end);
}

/* The protocol parsed the head itself: answer the request from it; 0, or -1 when r is gone. */
static int answer_parsed(lux_gw *g, const lux_gw_head *h) {
    head_fields hf = {g, {NULL, 0}};
    for (size_t i = 0; i < h->nfields; i++) {
        const lux_gw_field *f = &h->fields[i];
        if (add_field(&hf, f->name, f->nlen, f->value, f->vlen) < 0) {
            broken_head(g);
            return -1;
        }
    }
    g->r->status = h->status;
    return start_response(g, h->content_length, &hf.sendfile, NULL, 0);
}

/* Response bytes from the backend; 0, or -1 when the request is gone. */
static int response_data(lux_gw *g, const char *p, size_t n) {
    if (g->answered) {
        g->body_got += n;
        if (lux_resp_body_copy(g->r, p, n) < 0) {
            fail(g, 500);
            return -1;
        }
        return 0;
    }
    long end = -1;
    if (n <= LUX_CGI_HEAD_MAX - g->head_len) {
        if (!g->head && !(g->head = malloc(LUX_CGI_HEAD_MAX))) {
            fail(g, 500);
            return -1;
        }
        memcpy(g->head + g->head_len, p, n);
        g->head_len += n;
        end = lux_cgi_head_end(g->head, g->head_len, LUX_CGI_HEAD_MAX);
    }
    if (end < 0) {
        lux_log(LUX_LOG_ERR, "(%s) %s: response header larger than %d bytes", g->proto->name,
                g->backend->name, LUX_CGI_HEAD_MAX);
        fail(g, 502);
        return -1;
    }
    return end > 0 ? answer(g, (size_t)end) : 0;
}

int lux_gw_to_client(lux_gw *g, const char *p, size_t len) {
    return g->r && g->tunnel ? response_data(g, p, len) : -1;
}

/* The backend's bytes in a tunnel: as they are, or through the codec. */
static int tunnel_out(lux_gw *g, const char *p, size_t n) {
    const lux_gw_tunnel_codec *codec = g->proto->codec;
    if (!codec || !codec->out)
        return response_data(g, p, n);
    if (codec->out(g, p, n) < 0) {
        tunnel_cut(g);
        return -1;
    }
    return 0;
}

/* The backend said the response is complete. */
static void response_end(lux_gw *g, int keep) {
    lux_req *r = g->r;
    log_stderr(g, "", 0, 1);
    if (!g->answered) {
        lux_log(LUX_LOG_ERR, "(%s) %s ended before its response header was complete",
                g->proto->name, g->backend->name);
        fail(g, 502);
        return;
    }
    if (body_short(g)) {
        lux_log(LUX_LOG_ERR, "(%s) %s ended its response after %llu of %lld bytes", g->proto->name,
                g->backend->name, (unsigned long long)g->body_got, (long long)g->declared);
        fail(g, 502);
        return;
    }
    count_response(g);
    keep = keep && g->body_done && !lux_ups_buf_pending(&g->out);
    debug(g, 1, "%s ended the response; the connection is %s", g->backend->name,
          keep ? "kept" : "closed");
    finish(g, keep);
    lux_resp_end(r);
}

/* Decode a read's bytes; 0, or -1 when the request is no longer ours. */
static int feed(lux_gw *g, char *buf, size_t len) {
    for (;;) {
        size_t used = 0, dlen = 0;
        const char *data = NULL;
        int keep = 0;
        lux_gw_ev ev = g->proto->input(g, buf, len, &used, &data, &dlen, &keep);
        buf += used;
        len -= used;
        if (ev == LUX_GW_DATA && response_data(g, data, dlen) < 0)
            return -1;
        if (ev == LUX_GW_HEAD && answer_parsed(g, g->proto->parsed_head(g)) < 0)
            return -1;
        if (ev == LUX_GW_STDERR)
            log_stderr(g, data, dlen, 0);
        if (ev == LUX_GW_END) {
            response_end(g, keep && !len);
            return -1;
        }
        if (ev == LUX_GW_ERROR) {
            lux_log(LUX_LOG_ERR, "(%s) %s: a broken response", g->proto->name, g->backend->name);
            fail(g, 502);
            return -1;
        }
        if (ev == LUX_GW_MORE)
            return 0;
    }
}

static void on_writable(lux_req *r, void *arg) {
    lux_gw *g = arg;
    g->paused = 0;
    g->last_read = lux_loop_now_ms(g->loop);
    update_interest(g);
    arm_timer(g);
}

/* The backend closed the connection. */
static void backend_eof(lux_gw *g) {
    if (g->tunnel) {
        tunnel_backend_eof(g);
        return;
    }
    if (!g->got_bytes) {
        retry_or_fail(g, 0);
        return;
    }
    if (g->proto->eof_ends && g->proto->eof_ends(g) && g->answered) {
        response_end(g, 0);
        return;
    }
    lux_log(LUX_LOG_ERR, "(%s) %s closed the connection mid-response", g->proto->name,
            g->backend->name);
    fail(g, 502);
}

static void read_response(lux_gw *g) {
    char buf[IO_CHUNK];
    for (int rounds = 0; rounds < 4 && g->r; rounds++) {
        if (g->answered && lux_resp_queued(g->r) >= LUX_RESP_HIGH_WATER) {
            g->paused = 1;
            lux_resp_on_writable(g->r, on_writable, g);
            update_interest(g);
            return;
        }
        ssize_t n = lux_ups_read(g->conn, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0 && g->tunnel) {
            tunnel_cut(g);
            return;
        }
        if (n < 0 && g->got_bytes) {
            /* A reset never ends a response well, even where a close would (SCGI). */
            lux_log(LUX_LOG_ERR, "(%s) %s: %s mid-response", g->proto->name, g->backend->name,
                    strerror(errno));
            fail(g, 502);
            return;
        }
        if (n <= 0) {
            if (n < 0)
                retry_or_fail(g, 0);
            else
                backend_eof(g);
            return;
        }
        g->got_bytes = 1;
        g->last_read = lux_loop_now_ms(g->loop);
        /* A tunnel's bytes are the backend's own: no protocol decodes them. */
        int rc = g->tunnel ? tunnel_out(g, buf, (size_t)n) : feed(g, buf, (size_t)n);
        if (rc < 0)
            return;
    }
    if (g->r && g->conn)
        arm_timer(g);
}

/* The connect, and the TLS handshake over it, came on: wait, start writing, or fail (a refused
 * connect is tried elsewhere; a TLS failure is the backend's answer: 502). */
static void connect_progress(lux_gw *g) {
    switch (lux_ups_connected(g->conn)) {
    case LUX_UPS_WAIT:
        return;
    case LUX_UPS_TLS_FAILED:
        count_error(g, LUX_STATS_BACKEND_CONNECT);
        fail(g, 502);
        return;
    case LUX_UPS_CONNECT_FAILED:
        lux_log(LUX_LOG_ERR, "(%s) connect to %s: %s", g->proto->name, g->backend->name,
                strerror(errno));
        retry_or_fail(g, 1);
        return;
    case LUX_UPS_READY:
        break;
    }
    g->connecting = 0;
    debug(g, 1, "connected to %s", g->backend->name);
    g->last_read = lux_loop_now_ms(g->loop);
    if (g->proto->tunnels_at_connect && g->proto->tunnels_at_connect(g, g->r))
        tunnel_at_connect(g);
    else
        send_more(g);
}

static void on_conn_event(lux_io *io, unsigned events) {
    lux_ups_conn *c = (lux_ups_conn *)io;
    lux_gw *g = c->io.fd >= 0 ? c->user : NULL;
    if (!g || !g->r || g->conn != c)
        return;
    if (!g->connecting && !g->answered && g->proto->tunnels_at_connect &&
        g->proto->tunnels_at_connect(g, g->r)) {
        tunnel_at_connect(g);
        return;
    }
    if (g->connecting) {
        connect_progress(g);
        return;
    }
    if (events & LUX_EV_WRITE) {
        send_more(g);
        if (!g->r || g->conn != c)
            return;
    }
    if (events & (LUX_EV_READ | LUX_EV_ERROR))
        read_response(g);
}

/* ---- starting -------------------------------------------------------------------------------- */

/* No backend took the request: 503. */
static void no_backend(lux_gw *g) {
    lux_log(LUX_LOG_ERR, "(%s) no backend available for %s", g->proto->name, g->r->uri.ptr);
    fail(g, 503);
}

/* A body kept whole for a length_first protocol came on: once it is complete, the request
 * starts on a backend. A body that fails aborts the request (on_abort). */
static void body_spooled(lux_req *r, void *arg) {
    lux_gw *g = arg;
    if (lux_body_length(r) < 0)
        return;
    lux_req_body_notify(r, NULL, NULL);
    debug(g, 1, "the body of %.*s is complete: %lld bytes", (int)r->uri.len, r->uri.ptr,
          (long long)lux_body_length(r));
    if (connect_some(g, NULL) < 0)
        no_backend(g);
}

/* Does the protocol need r's body whole before it starts? */
static int waits_for_length(const lux_gw *g) {
    return g->proto->length_first && !g->conf.authorizer && lux_body_length(g->r) < 0;
}

lux_result lux_gw_start(lux_req *r, const lux_gw_proto *proto, const lux_gw_conf *conf,
                        size_t state_size) {
    /* The protocol's state is cleared as far as it asks: mod_proxy's holds a 64 KiB head
     * buffer that clearing would cost more than the rest of a small request. */
    size_t zero = proto->state_zero ? proto->state_zero : state_size;
    lux_gw *g = malloc(sizeof *g + state_size);
    if (!g)
        return LUX_ERROR;
    memset(g, 0, sizeof *g + zero);
    g->r = r;
    g->proto = proto;
    g->conf = *conf;
    g->loop = r->worker->loop;
    g->worker = r->worker->id;
    g->timer.cb = on_timer;
    if (waits_for_length(g)) {
        if (lux_body_spool_whole(r) < 0) {
            g->r = NULL;
            finish(g, 0);
            return LUX_ERROR;
        }
        lux_req_on_abort(r, on_abort, g);
        lux_req_body_notify(r, body_spooled, g);
        return LUX_ASYNC;
    }
    if (connect_some(g, NULL) < 0) {
        if (g->conn)
            drop_conn(g, 0);
        lux_log(LUX_LOG_ERR, "(%s) no backend available for %s", proto->name, r->uri.ptr);
        g->r = NULL;
        finish(g, 0);
        return lux_resp_error(r, 503);
    }
    lux_req_on_abort(r, on_abort, g);
    return LUX_ASYNC;
}
