/*
 * What every protocol needs of a connection: the transport, the input buffer, the timer, accept
 * and close, lingering and the graceful stop. HTTP/1 (src/http/h1/h1_conn.c) runs a connection
 * from accept; another protocol may take it over (c->proto).
 *
 * Who closes: only lux_conn_close() and lux_conn_linger() close; a function that called one of
 * them must not touch the connection again.
 */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "http/h1/h1_conn.h"
#include "lux/log.h"
#include "net/proxy_protocol.h"
#include "net/stats.h"
#include "net/tls.h"

#define LINGER_SECONDS 2
#define REFUSAL_LOG_SECONDS 10

static void on_io(lux_io *io, unsigned events);
static void on_timeout(lux_timer *t);

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

int lux_conn_wait(lux_conn *c, unsigned ev) {
    return lux_loop_mod(c->w->loop, &c->io, c->want ? c->want : ev);
}

int64_t lux_conn_now_ms(const lux_conn *c) {
    return lux_loop_now_ms(c->w->loop);
}

int64_t lux_conn_after(int64_t since, long seconds) {
    return since + (int64_t)seconds * 1000 + 1;
}

/* When this connection times out next: the linger's own limit, else the protocol's. Bytes
 * moving only push last_io later, so the timer can be armed at a state change and simply
 * looked at again when it fires. */
static int64_t timeout_at(const lux_conn *c) {
    if (c->lingering) {
        int stopping = atomic_load_explicit(&c->w->srv->state, memory_order_relaxed);
        return stopping ? 0 : lux_conn_after(c->last_io, LINGER_SECONDS);
    }
    return c->proto->timeout_at(c);
}

/* Only the first arming, at accept, can fail: from then on the timer holds its place in the
 * loop's heap until the connection closes (or has just left it, when its callback runs), so
 * re-arming needs no memory. A new state may time out sooner than the one before; moving the
 * timer later costs nothing (event/timer.h). */
int lux_conn_retime(lux_conn *c) {
    return lux_loop_timer_arm(c->w->loop, &c->timer, timeout_at(c));
}

/*
 * The PROXY protocol pre-stage: on a listener with extforward.hap-PROXY, a connection from a
 * trusted forwarder starts with a PROXY header, read before TLS and HTTP. The header's bytes
 * are peeked first and only they are consumed, so not one byte of the TLS handshake or the
 * request behind it is taken from the socket. The header must be complete within
 * server.max-read-idle of the accept (last_io stays the accept's time meanwhile); a missing or
 * malformed one closes the connection without an answer.
 */
/* At most one line per REFUSAL_LOG_SECONDS for each kind of refusal: a client refused in a
 * loop must not fill the error log. */
typedef struct {
    _Atomic long last_logged;
    _Atomic unsigned not_logged;
} refusal_log;

static void log_refusal(refusal_log *rl, const lux_conn *c, const char *what) {
    long now = (long)time(NULL);
    long prev = atomic_load_explicit(&rl->last_logged, memory_order_relaxed);
    if (now - prev < REFUSAL_LOG_SECONDS ||
        !atomic_compare_exchange_strong(&rl->last_logged, &prev, now)) {
        atomic_fetch_add_explicit(&rl->not_logged, 1, memory_order_relaxed);
        return;
    }
    char ip[INET6_ADDRSTRLEN] = "unix";
    if (c->peer.sin6_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&c->peer)->sin_addr, ip, sizeof ip);
    else if (c->peer.sin6_family == AF_INET6)
        inet_ntop(AF_INET6, &c->peer.sin6_addr, ip, sizeof ip);
    lux_log(LUX_LOG_ERR, "%s from %s, connection closed (%u more not logged in the last %d s)",
            what, ip, atomic_exchange(&rl->not_logged, 0), REFUSAL_LOG_SECONDS);
}

static void log_refused_header(const lux_conn *c, const char *why) {
    static refusal_log rl;
    char what[64];
    snprintf(what, sizeof what, "PROXY protocol: %s", why);
    log_refusal(&rl, c, what);
}

/*
 * Admission: the per-address connection limit (server.max-connections-per-ip, or mod_evasive's
 * evasive.max-conns-per-ip), checked once the client's address is known: at accept, or behind a
 * PROXY header. A connection past it is answered before its request is read (503, or
 * mod_evasive's 403 or 302) and closed; on a TLS listener it is closed without an answer, as a
 * handshake would spend what the limit is there to save.
 */
static void limit_of(const lux_gen *g, const lux_listener *l, lux_peer_limit *out) {
    lux_evasive_limit(g, l ? l->name : NULL, out); /* none for lux -i's one connection */
    if (!out->max && g->core->max_connections_per_ip > 0)
        *out = (lux_peer_limit){(unsigned long)g->core->max_connections_per_ip, 503, NULL, 0};
}

static void answer_over_limit(lux_conn *c, const lux_peer_limit *lim) {
    char head[1024];
    int n;
    if (lim->status == 302)
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n",
                     lim->location);
    else if (lim->status == 403)
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    else
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n");
    if (n > 0 && (size_t)n < sizeof head)
        (void)!send(c->io.fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* 1: admitted; 0: refused, the connection is answered and lingering, or closed. */
static int admit(lux_conn *c, int tls) {
    static refusal_log rl;
    lux_peer_limit lim;
    limit_of(c->gen, c->listener, &lim);
    if (!lim.max || lux_peer_key_of((const struct sockaddr *)&c->peer, &c->peer_key) < 0)
        return 1;
    int rc = lux_peer_conn_acquire(&c->peer_key, lim.max);
    if (rc > 0) {
        c->peer_counted = 1;
        return 1;
    }
    if (rc == 0 && !lim.silent)
        log_refusal(&rl, c, "too many connections");
    if (rc == 0 && !tls) {
        answer_over_limit(c, &lim);
        lux_conn_linger(c, 1);
    } else {
        lux_conn_close(c);
    }
    return 0;
}

static int64_t proxy_timeout_at(const lux_conn *c) {
    if (atomic_load_explicit(&c->w->srv->state, memory_order_relaxed))
        return 0;
    return lux_conn_after(c->last_io, c->gen->core->max_read_idle);
}

/* The address the header names becomes the connection's peer for every request on it. */
static void proxy_set_peer(lux_conn *c, const lux_pp_header *h) {
    if (h->local)
        return;
    memset(&c->peer, 0, sizeof c->peer);
    if (h->src.ss_family == AF_INET)
        memcpy(&c->peer, &h->src, sizeof(struct sockaddr_in));
    else if (h->src.ss_family == AF_INET6)
        memcpy(&c->peer, &h->src, sizeof(struct sockaddr_in6));
    c->peer.sin6_family = h->src.ss_family;
}

/* The header is in: the connection goes on as it would have from accept. Out of memory for
 * what it says of the client's TLS, the connection closes rather than pass for plain HTTP. */
static void proxy_done(lux_conn *c, const lux_pp_header *h) {
    proxy_set_peer(c, h);
    if (lux_pp_tls_keep(h, &c->proxied_tls) < 0) {
        lux_conn_close(c);
        return;
    }
    lux_conn_release_input(c);
    c->last_io = lux_conn_now_ms(c);
    struct ssl_ctx_st *tls = c->gen->has_tls ? lux_tls_ctx_for(c->gen, c->listener->name) : NULL;
    if (!admit(c, tls != NULL))
        return;
    if (tls && lux_tls_conn_start(c, tls) < 0) {
        lux_conn_close(c);
        return;
    }
    lux_conn_take_over(c, &lux_h1_proto, c + 1);
}

/* Peek at what arrived, consume what belongs to the header. 1: header complete (*h), 0: wait
 * for more, -1: refuse (logged) or the client is gone. */
static int proxy_read_header(lux_conn *c, lux_pp_header *h) {
    if (lux_conn_ensure_input(c) < 0)
        return -1;
    ssize_t n = recv(c->io.fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_PEEK);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0) {
        log_refused_header(c, c->in_len ? "incomplete header" : "no header");
        return -1;
    }
    size_t have = c->in_len + (size_t)n;
    long len = lux_pp_parse((const uint8_t *)c->in, have, h);
    if (len < 0 || (len == 0 && have == c->in_cap)) {
        log_refused_header(c, "malformed header");
        return -1;
    }
    size_t take = len > 0 ? (size_t)len - c->in_len : (size_t)n;
    if (recv(c->io.fd, c->in + c->in_len, take, 0) != (ssize_t)take)
        return -1;
    c->in_len += (uint32_t)take;
    lux_stats_bytes_in(c->w->id, take);
    return len > 0;
}

static void proxy_on_io(lux_conn *c, unsigned events) {
    lux_pp_header h;
    int rc = proxy_read_header(c, &h);
    if (rc > 0)
        proxy_done(c, &h);
    else if (rc < 0 || lux_conn_wait(c, LUX_EV_READ) < 0)
        lux_conn_close(c);
}

static void proxy_start(lux_conn *c) {
    proxy_on_io(c, LUX_EV_READ);
}

static void proxy_close(lux_conn *c) {}

static const lux_proto proxy_stage = {0, proxy_start, proxy_on_io, proxy_timeout_at, proxy_close};

void lux_conn_accept(lux_worker *w, lux_listener *l, int fd, const struct sockaddr *sa,
                     socklen_t salen) {
    /* The protocol every connection starts with keeps its state right behind the connection. */
    lux_conn *c = calloc(1, sizeof *c + lux_h1_proto.state_size);
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
    c->proto = &lux_h1_proto;
    c->proto_data = c + 1;
    c->last_io = lux_loop_now_ms(w->loop);
    c->timer.cb = on_timeout;
    if (salen <= sizeof c->peer)
        memcpy(&c->peer, sa, salen);
    c->peer.sin6_family = sa->sa_family;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    lux_stats_conn_opened(w->id);
    atomic_fetch_add_explicit(&w->srv->connections, 1, memory_order_relaxed);
    int proxied = l && lux_extforward_proxy_expected(c->gen, l->name, sa);
    if (proxied)
        c->proto = &proxy_stage; /* TLS starts behind the header */
    struct ssl_ctx_st *tls =
        l && !proxied && c->gen->has_tls ? lux_tls_ctx_for(c->gen, l->name) : NULL;
    if (lux_conn_retime(c) < 0) {
        lux_conn_close(c);
        return;
    }
    if (!proxied && !admit(c, tls != NULL))
        return;
    if (tls && lux_tls_conn_start(c, tls) < 0) {
        lux_conn_close(c);
        return;
    }
    c->proto->start(c);
}

void lux_conn_set_activity(lux_conn *c, int activity) {
    if (c->activity == activity)
        return;
    lux_stats_conn_state(c->w->id, c->activity, activity);
    c->activity = (uint8_t)activity;
}

void lux_conn_take_over(lux_conn *c, const lux_proto *p, void *data) {
    c->proto = p;
    c->proto_data = data;
    lux_conn_retime(c);
    p->start(c);
}

void lux_conn_release_input(lux_conn *c) {
    if (!c->in)
        return;
    if (c->in_cap == LUX_IN_BUF)
        lux_worker_buf_put(c->w, c->in);
    else
        free(c->in);
    c->in = NULL;
    c->in_len = c->in_off = c->in_cap = 0;
}

void lux_conn_close(lux_conn *c) {
    lux_worker *w = c->w;
    lux_loop_timer_cancel(w->loop, &c->timer);
    c->proto->close(c);
    if (c->peer_counted)
        lux_peer_conn_release(&c->peer_key);
    /* close() takes an fd out of epoll only when no other descriptor shares the socket, and one
     * can: stdin with -1 (inetd passes the socket as stdin and stdout), and any child process
     * between its fork and its exec (CGI, FastCGI's bin-path, SSI exec), whose copy would keep
     * the registration alive and deliver events for this freed connection. */
    lux_loop_del(w->loop, &c->io);
    c->tp->close(c);
    close(c->io.fd);
    lux_conn_release_input(c);
    if (c->tls.buf) {
        lux_worker_buf_put(w, c->tls.buf);
        c->tls.buf = NULL;
    }
    free(c->proxied_tls);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    lux_stats_conn_closed(w->id, c->activity);
    if (w->nconns == 0 && w->srv->single_fd >= 0)
        lux_loop_stop(w->loop); /* -1: the one connection is done */
    atomic_fetch_sub_explicit(&w->srv->connections, 1, memory_order_relaxed);
    lux_gen_unref(c->gen);
    free(c);
}

int lux_conn_linger(lux_conn *c, int unread) {
    if (!unread || c->peer_closed || c->peer.sin6_family == AF_UNIX) {
        lux_conn_close(c);
        return 0;
    }
    c->tp->shutdown(c);
    lux_conn_release_input(c);
    c->last_io = lux_conn_now_ms(c);
    c->lingering = 1;
    lux_conn_set_activity(c, LUX_STATS_CLOSING);
    lux_conn_retime(c);
    lux_loop_mod(c->w->loop, &c->io, LUX_EV_READ);
    return 1;
}

int lux_conn_take_pending(lux_conn *c) {
    if (!c->tp->pending(c) || lux_conn_ensure_input(c) < 0 || c->in_len == c->in_cap)
        return 0;
    ssize_t n = c->tp->read(c, c->in + c->in_len, c->in_cap - c->in_len);
    if (n <= 0)
        return 0;
    c->in_len += (uint32_t)n;
    lux_stats_bytes_in(c->w->id, (uint64_t)n);
    c->last_io = lux_conn_now_ms(c);
    return 1;
}

int lux_conn_ensure_input(lux_conn *c) {
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

ssize_t lux_conn_read(lux_conn *c) {
    ssize_t n = c->tp->read(c, c->in + c->in_len, c->in_cap - c->in_len);
    if (n < 0) {
        if (c->in_off == c->in_len && (errno == EAGAIN || errno == EINTR))
            lux_conn_release_input(c); /* nothing came: a waiting connection holds no buffer */
        return -1;
    }
    if (n == 0)
        c->peer_closed = 1;
    c->in_len += (uint32_t)n;
    lux_stats_bytes_in(c->w->id, (uint64_t)n);
    c->last_io = lux_conn_now_ms(c);
    return n;
}

/* A lingering connection only drains until the client closes or the linger times out. */
static void drain(lux_conn *c) {
    char buf[4096];
    ssize_t n = read(c->io.fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        lux_conn_close(c);
}

static void on_io(lux_io *io, unsigned events) {
    lux_conn *c = (lux_conn *)io;
    if (c->lingering)
        drain(c);
    else
        c->proto->on_io(c, events);
}

/* Close the connection if its time is up, else arm its timer for when it will be. Runs between
 * batches of events (the timer, the start of a stop), so closing cannot leave an event of the
 * current batch pointing at a freed connection. */
static void check_timeout(lux_conn *c) {
    int64_t at = timeout_at(c);
    if (at <= lux_conn_now_ms(c))
        lux_conn_close(c);
    else
        lux_loop_timer_arm(c->w->loop, &c->timer, at); /* cannot fail: see lux_conn_retime() */
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
