/*
 * A connection: its transport (plain socket or TLS), its input buffer, its timer, accept and
 * close, and the graceful stop. What the bytes mean is the business of its protocol (lux_proto):
 * HTTP/1 (src/http/h1/h1_conn.c) from accept, and a protocol that takes the connection over
 * later (HTTP/2, after the preface, ALPN or an Upgrade).
 */
#ifndef LUX_CONN_H
#define LUX_CONN_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/pool.h"
#include "event/loop.h"
#include "lux/req.h"
#include "net/peer_table.h"
#include "net/worker.h"

/*
 * What carries a connection's bytes: the socket itself, or TLS over it. Each call returns the
 * bytes it moved, or -1 with errno (EAGAIN: wait for the socket; conn->want then names the
 * event to wait for when it is not the obvious one, as when a TLS read must first write).
 */
typedef struct lux_transport {
    ssize_t (*read)(lux_conn *c, void *buf, size_t len);
    /* `more`: further bytes follow at once (MSG_MORE) */
    ssize_t (*writev)(lux_conn *c, const struct iovec *iov, int iovcnt, int more);
    ssize_t (*sendfile)(lux_conn *c, int fd, off_t *off, size_t len);
    /* Bytes already taken from the socket that read() has not returned yet. */
    size_t (*pending)(const lux_conn *c);
    /* Stop sending (the peer sees the end of our stream), keep reading. */
    void (*shutdown)(lux_conn *c);
    /* Free the transport's state; the socket is closed by the caller. */
    void (*close)(lux_conn *c);
} lux_transport;

/* A TLS connection's state (see net/tls.c). */
typedef struct {
    struct ssl_st *ssl;
    char *buf; /* file bytes read for SSL_write, kept until written (a retry needs them) */
    size_t buf_len;
    off_t buf_off; /* the file offset buf starts at */
    int buf_fd;
} lux_conn_tls;

/*
 * A connection's protocol. Its state lives at c->proto_data (state_size bytes, zeroed, behind
 * the connection for the protocol a connection starts with).
 */
typedef struct lux_proto {
    size_t state_size;
    /* The connection is accepted (or taken over): read what is there and go on. */
    void (*start)(lux_conn *c);
    /* The socket has events (or the transport waits for the other direction: c->want). */
    void (*on_io)(lux_conn *c, unsigned events);
    /* When the connection times out next, in loop ms; not after now: at once. Asked at every
     * state change (lux_conn_retime) and when the timer fires; it also sees a stop begin. */
    int64_t (*timeout_at)(const lux_conn *c);
    /* The connection closes: release the protocol's requests and state (not the conn). */
    void (*close)(lux_conn *c);
} lux_proto;

struct lux_conn {
    lux_io io;
    const lux_transport *tp;
    unsigned want; /* LUX_EV_* the transport waits for, 0: the state's own */
    lux_worker *w;
    lux_conn *prev, *next;
    lux_gen *gen;
    lux_listener *listener;
    struct sockaddr_in6 peer;        /* AF_INET, AF_INET6 or AF_UNIX (family only) */
    char *in;                        /* input buffer, NULL while idle and empty */
    uint32_t in_len, in_cap, in_off; /* bytes in buffer, capacity, start of unparsed data */
    int64_t last_io;                 /* loop ms of the last byte read or written */
    lux_timer timer;   /* armed from accept to close for when the connection times out next */
    unsigned requests; /* completed on this connection */
    unsigned peer_closed : 1;
    unsigned lingering : 1;    /* half-closed by us, draining input before close */
    unsigned peer_counted : 1; /* counted in the per-address table under peer_key */
    uint8_t activity;          /* what the metrics count it as: a lux_stats_state */
    const lux_proto *proto;
    void *proto_data;
    lux_conn_tls tls;
    lux_peer_key peer_key;
    /* What the PROXY header said of the client's TLS to the proxy; NULL without one. */
    struct lux_pp_tls *proxied_tls;
};

extern const lux_transport lux_plain_transport;

/* Take over an accepted socket: HTTP/1 runs it. */
void lux_conn_accept(lux_worker *w, lux_listener *l, int fd, const struct sockaddr *sa,
                     socklen_t salen);
/* The server started stopping: close the connections that are waiting for a request and time
 * the others by their stop rules. Called once per worker, between batches of events. */
void lux_conn_stopping(lux_worker *w);
void lux_conn_close(lux_conn *c);

/* For protocols. */
/* Hand the connection to protocol p (its state at `data`, the caller's): p->start runs at
 * once; the input buffer and whatever it holds stay with the connection. The protocol it had
 * must hold no request. */
void lux_conn_take_over(lux_conn *c, const lux_proto *p, void *data);
/* What the connection is doing now, for the metrics (a lux_stats_state from net/stats.h). */
void lux_conn_set_activity(lux_conn *c, int activity);
/* Arm the timer for proto->timeout_at(); only the first arming, at accept, can fail. */
int lux_conn_retime(lux_conn *c);
/* Wait for `ev` on the socket, or for what the transport needs first (c->want). */
int lux_conn_wait(lux_conn *c, unsigned ev);
/* "N seconds idle since `since`" as a loop time, as lighttpd's "idle > limit" test counts. */
int64_t lux_conn_after(int64_t since, long seconds);
int64_t lux_conn_now_ms(const lux_conn *c);
/* Give the input buffer back (an idle connection holds none). */
void lux_conn_release_input(lux_conn *c);
/* An input buffer with room at its end (unparsed bytes moved to its start when full). 0 or -1. */
int lux_conn_ensure_input(lux_conn *c);
/* Read from the transport into the input buffer: bytes read, 0 at the peer's end (peer_closed
 * is set), -1 with errno (EAGAIN: nothing there; the buffer is given back when empty). */
ssize_t lux_conn_read(lux_conn *c);
/* Take bytes the transport already holds (TLS) that the socket will not announce again. 1 when
 * bytes were added to the input. */
int lux_conn_take_pending(lux_conn *c);
/* Stop sending, then drain what the client still sends until it closes, so our last response
 * is not lost to a TCP reset; `unread`: the client may still be sending. Closes at once when
 * it cannot be. 1 when the connection is lingering, 0 when it was closed and freed. */
int lux_conn_linger(lux_conn *c, int unread);

#endif
