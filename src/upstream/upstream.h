/*
 * Backends shared by the gateways (mod_fastcgi, and the SCGI and proxy gateways to come): where
 * they are, how a request picks one, and their connections.
 *
 * Everything a worker learns about a backend stays in that worker's thread, without locks:
 * how many of its requests a backend is serving (for "fair"), until when it is disabled after
 * a failed connect, and its idle keep-alive connections. That state is keyed by the backend's
 * address, so it outlives a reload that keeps the backend.
 *
 * Freeing: objects whose descriptors may still have events in the batch at hand (a
 * connection, a gateway request) are handed to lux_ups_defer_free and freed after the batch;
 * what is left when a worker thread exits is freed then.
 */
#ifndef LUX_UPSTREAM_H
#define LUX_UPSTREAM_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "event/loop.h"
#include "lux/req.h"

struct lux_gw_host;
typedef struct lux_health lux_health;   /* upstream/health.h */
typedef struct lux_ups_tls lux_ups_tls; /* upstream/ups_tls.h */

/* How long a request waits on its backend, in seconds; 0: for ever. */
typedef struct {
    long connect; /* for the connection (and its TLS handshake) */
    long read;    /* for the next byte of the response */
    long write;   /* for the backend to take more of the request */
} lux_ups_timeouts;

typedef struct {
    char name[128]; /* "127.0.0.1:9000", "[::1]:9000" or "unix:/run/app.sock": logs, state key */
    char host[128]; /* the host as configured; empty for a unix socket */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    long disable_time;              /* seconds a backend that failed to connect is left alone */
    lux_ups_timeouts timeouts;      /* its host entry's */
    const struct lux_gw_host *opts; /* the gateway's options of the host entry it came from */
    lux_health *health;             /* its active health check; NULL: none */
    lux_ups_tls *tls;               /* TLS to it; NULL: plain */
} lux_ups_backend;

typedef enum {
    LUX_UPS_FAIR,        /* the backend with the fewest requests in progress */
    LUX_UPS_ROUND_ROBIN, /* each in turn */
    LUX_UPS_HASH,        /* by the request's path: a URL goes to the same backend */
    LUX_UPS_STICKY,      /* by the client's address */
} lux_ups_balance;

/* Parse "fair" / "round-robin" / "hash" / "sticky"; 0 or -1. */
int lux_ups_balance_parse(const char *s, lux_ups_balance *out);

/*
 * Resolve a backend from host and port (a numeric IPv4 or IPv6 address, or a name resolved
 * once, at start-up) or a unix socket path. 0, or -1 with a message in err.
 */
int lux_ups_backend_init(lux_ups_backend *b, const char *host, long port, const char *socket_path,
                         char *err, size_t errlen);

/* The backends a request may go to, and how it picks one. */
typedef struct {
    lux_ups_backend *backends;
    size_t n;
    lux_ups_balance balance;
    char key[20]; /* names this set of backends in the workers' round-robin state */
} lux_ups_pool;

/* Name the pool once its backends are in (lux_ups_pool_finish). */
void lux_ups_pool_finish(lux_ups_pool *p);

/*
 * A backend of p for r, by p's policy, skipping disabled ones and `skip` (the one that just
 * failed, when retrying); NULL when none is usable.
 */
const lux_ups_backend *lux_ups_pick(lux_loop *loop, const lux_ups_pool *p, lux_req *r,
                                    const lux_ups_backend *skip);

/* The backend lux_ups_pick would choose for r now, without taking a round-robin turn. */
const lux_ups_backend *lux_ups_peek(lux_loop *loop, const lux_ups_pool *p, lux_req *r);
/* The request lux_ups_peek chose a backend for goes elsewhere: round-robin moves on all the
 * same, as it does when the backend takes it. */
void lux_ups_pass_turn(lux_loop *loop, const lux_ups_pool *p);

/* A backend failed to connect or answer: it gets no requests for its disable-time. */
void lux_ups_disable(lux_loop *loop, const lux_ups_backend *b);

typedef struct lux_ups_state lux_ups_state;

/* A node embedded in what is freed later. */
typedef struct lux_ups_dead {
    struct lux_ups_dead *next;
    void (*fn)(void *);
    void *ptr;
} lux_ups_dead;

/* A connection to a backend. The user sets io.cb while it holds the connection. */
typedef struct lux_ups_conn {
    lux_io io;
    lux_loop *loop;
    lux_ups_state *state;
    int reused; /* came from the idle connections: it may have been closed meanwhile */
    unsigned requests;
    struct ssl_st *ssl;        /* the TLS session over io.fd; NULL: plain */
    void *user;                /* whoever holds it */
    struct lux_ups_conn *next; /* the backend's idle connections */
    lux_ups_dead dead;
} lux_ups_conn;

/* A non-blocking socket whose connect to b is under way (or done); -1 with errno. */
int lux_ups_socket(const lux_ups_backend *b);

/*
 * A connection to b with io.cb = cb: an idle one (reused, ready now) or a new one whose
 * non-blocking connect is in progress: the io is registered for writing, and cb then calls
 * lux_ups_connected. With verify, an idle one is first checked to be still open (a peek; one
 * the backend closed is closed and the next taken): for a request that must not be sent on a
 * connection that turns out dead, since it cannot be sent again. NULL with errno when even
 * starting failed (the backend is disabled).
 */
lux_ups_conn *lux_ups_open(lux_loop *loop, const lux_ups_backend *b, lux_io_cb cb, void *user,
                           int verify);
typedef enum {
    LUX_UPS_READY = 0,           /* connected (and the TLS handshake done): the user may write */
    LUX_UPS_WAIT = 1,            /* the TLS handshake goes on: call again on the next event */
    LUX_UPS_CONNECT_FAILED = -1, /* errno says why */
    LUX_UPS_TLS_FAILED = -2,     /* the handshake failed or the certificate did not do (logged) */
} lux_ups_connect_result;

/* How is the connect coming on? Called on each event of a new connection until it is not
 * LUX_UPS_WAIT; meanwhile the connection's interest is the handshake's. */
lux_ups_connect_result lux_ups_connected(lux_ups_conn *c);
/* The transport: read(2) and write(2) on the connection, through TLS when it has it. */
ssize_t lux_ups_read(lux_ups_conn *c, void *buf, size_t len);
ssize_t lux_ups_write(lux_ups_conn *c, const void *buf, size_t len);
/* The user is done with c: keep it for the next request (keep) or close it. */
void lux_ups_release(lux_ups_conn *c, int keep);
/* Requests the backend is serving from this worker (for tests and "fair"). */
/* The backend's id in the metrics (net/stats.h) for module, kept per worker; -1 if none. */
int lux_ups_stats_id(lux_loop *loop, const lux_ups_backend *b, const char *module);

unsigned lux_ups_active(lux_loop *loop, const lux_ups_backend *b);

/* Free ptr with fn after the batch of events at hand (or when the thread exits). */
void lux_ups_defer_free(lux_loop *loop, lux_ups_dead *node, void (*fn)(void *), void *ptr);

#endif
