/*
 * An HTTP/1.x connection: reads request heads, runs each request through the pipeline, writes
 * the response (writev for memory, sendfile for files), keeps alive or closes. One request at a
 * time; pipelined requests wait in the input buffer.
 */
#ifndef LUX_CONN_H
#define LUX_CONN_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/pool.h"
#include "event/loop.h"
#include "http/h1/chunked.h"
#include "lux/req.h"
#include "net/worker.h"

typedef enum {
    LUX_CONN_IDLE,   /* waiting for (the rest of) a request head */
    LUX_CONN_BODY,   /* reading (and, for today's handlers, dropping) a request body */
    LUX_CONN_WRITE,  /* sending a response */
    LUX_CONN_LINGER, /* half-closed by us, draining input before close */
} lux_conn_state;

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
    uint32_t head_scanned;           /* bytes of the next head (from in_off) searched for its end */
    int64_t head_start;              /* when the next head was first seen incomplete (loop ms) */
    lux_conn_state state;
    int64_t last_io; /* loop ms of the last byte read or written */
    lux_timer timer; /* armed from accept to close for when the connection times out next */
    unsigned requests;
    unsigned keep_alive : 1, peer_closed : 1, in_request : 1;
    unsigned drain : 1;           /* an error was answered: drain input before closing */
    unsigned continue_wanted : 1; /* Expect: 100-continue, not answered yet */
    lux_req *req;
    lux_pool pool; /* the current request's memory */
    /* output */
    struct iovec *iov_arr; /* MAX_IOV entries in the pool */
    struct iovec *iov;     /* the unsent part of iov_arr: head + leading memory chunks */
    int iovcnt;
    lux_chunk *out; /* remaining body chunks after iov */
    /* the request body still to read */
    int64_t body_left; /* Content-Length bytes left, -1 when chunked */
    lux_chunked_decoder chunked;
    uint64_t body_seen;
    int64_t body_limit; /* bytes, 0 = none */
    lux_conn_tls tls;
};

extern const lux_transport lux_plain_transport;

/* Take over an accepted socket. */
void lux_conn_accept(lux_worker *w, lux_listener *l, int fd, const struct sockaddr *sa,
                     socklen_t salen);
/* The server started stopping: close the connections that are waiting for a request and time
 * the others by their stop rules. Called once per worker, between batches of events. */
void lux_conn_stopping(lux_worker *w);
void lux_conn_close(lux_conn *c);

#endif
