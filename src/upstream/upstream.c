#include "upstream/upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "http/request.h"
#include "lux/log.h"
#include "net/stats.h"
#include "upstream/health.h"
#include "upstream/ups_tls.h"

/* Idle connections kept per backend and worker: more are closed. */
#define IDLE_MAX 32

/* What this worker knows of one backend (or, for round-robin, of one pool). */
struct lux_ups_state {
    char name[128];
    int64_t disabled_until; /* ms on the loop's clock */
    unsigned active;
    unsigned rr_next;
    lux_ups_conn *idle;
    unsigned nidle;
    const char *stats_module; /* the module stats_id was asked for */
    int stats_id;             /* the backend's entry in the metrics */
    lux_ups_state *next;
};

typedef struct {
    lux_loop *loop;
    lux_ups_state *states;
    lux_ups_dead *dead;
    lux_timer timer;
    int armed;
} ups_thread;

static __thread ups_thread T;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void free_dead(void) {
    while (T.dead) {
        lux_ups_dead *d = T.dead;
        T.dead = d->next;
        d->fn(d->ptr);
    }
}

/* close() takes a socket out of epoll only when no other descriptor shares it, and a child
 * process between its fork and its exec (CGI, bin-path, SSI exec) holds a copy: a registered
 * socket leaves the loop first, so that no event of it can reach a freed connection. */
static void close_socket(lux_loop *loop, lux_io *io) {
    if (io->fd < 0)
        return;
    lux_loop_del(loop, io);
    close(io->fd);
    io->fd = -1;
}

/* Close c's socket, and its TLS session first. */
static void close_transport(lux_ups_conn *c) {
    if (c->ssl && c->io.fd >= 0)
        lux_ups_tls_close(c->ssl);
    c->ssl = NULL;
    close_socket(c->loop, &c->io);
}

static void close_conn_now(lux_ups_conn *c) {
    close_transport(c);
    free(c);
}

/* The worker's thread exits: its loop outlives it, so nothing of ours may stay on it. */
static void thread_exit(void *unused) {
    if (T.armed)
        lux_loop_timer_cancel(T.loop, &T.timer);
    T.armed = 0;
    free_dead();
    while (T.states) {
        lux_ups_state *s = T.states;
        T.states = s->next;
        while (s->idle) {
            lux_ups_conn *c = s->idle;
            s->idle = c->next;
            close_conn_now(c);
        }
        free(s);
    }
}

static void make_exit_key(void) {
    pthread_key_create(&exit_key, thread_exit);
}

static void on_dead_timer(lux_timer *t) {
    T.armed = 0;
    free_dead();
}

static void use_thread(lux_loop *loop) {
    if (T.loop)
        return;
    pthread_once(&exit_once, make_exit_key);
    pthread_setspecific(exit_key, &T); /* any non-NULL value: the destructor runs */
    T.loop = loop;
    T.timer.cb = on_dead_timer;
}

void lux_ups_defer_free(lux_loop *loop, lux_ups_dead *node, void (*fn)(void *), void *ptr) {
    use_thread(loop);
    node->fn = fn;
    node->ptr = ptr;
    node->next = T.dead;
    T.dead = node;
    if (!T.armed && lux_loop_timer_arm(loop, &T.timer, lux_loop_now_ms(loop)) == 0)
        T.armed = 1;
}

static lux_ups_state *state_of(lux_loop *loop, const char *name) {
    use_thread(loop);
    for (lux_ups_state *s = T.states; s; s = s->next)
        if (!strcmp(s->name, name))
            return s;
    lux_ups_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->next = T.states;
    T.states = s;
    return s;
}

int lux_ups_balance_parse(const char *s, lux_ups_balance *out) {
    static const struct {
        const char *name;
        lux_ups_balance b;
    } names[] = {{"fair", LUX_UPS_FAIR},
                 {"round-robin", LUX_UPS_ROUND_ROBIN},
                 {"hash", LUX_UPS_HASH},
                 {"sticky", LUX_UPS_STICKY}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcasecmp(s, names[i].name)) {
            *out = names[i].b;
            return 0;
        }
    return -1;
}

static int init_unix(lux_ups_backend *b, const char *path, char *err, size_t errlen) {
    struct sockaddr_un *un = (struct sockaddr_un *)&b->addr;
    if (strlen(path) >= sizeof un->sun_path) {
        snprintf(err, errlen, "socket path too long: %s", path);
        return -1;
    }
    un->sun_family = AF_UNIX;
    strcpy(un->sun_path, path);
    b->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    snprintf(b->name, sizeof b->name, "unix:%s", path);
    return 0;
}

static int init_inet(lux_ups_backend *b, const char *host, long port, char *err, size_t errlen) {
    if (port <= 0 || port > 65535) {
        snprintf(err, errlen, "\"port\" must be from 1 to 65535");
        return -1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%ld", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve \"%s\": %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
    snprintf(b->host, sizeof b->host, "%s", host);
    b->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    char text[INET6_ADDRSTRLEN];
    if (b->addr.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&b->addr)->sin6_addr, text, sizeof text);
        snprintf(b->name, sizeof b->name, "[%s]:%ld", text, port);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&b->addr)->sin_addr, text, sizeof text);
        snprintf(b->name, sizeof b->name, "%s:%ld", text, port);
    }
    return 0;
}

int lux_ups_backend_init(lux_ups_backend *b, const char *host, long port, const char *socket_path,
                         char *err, size_t errlen) {
    memset(b, 0, sizeof *b);
    b->disable_time = 1;
    if (socket_path && *socket_path)
        return init_unix(b, socket_path, err, errlen);
    if (!host || !*host) {
        snprintf(err, errlen, "a backend needs \"host\" and \"port\", or \"socket\"");
        return -1;
    }
    return init_inet(b, host, port, err, errlen);
}

/* FNV-1a: spreads paths and addresses over the backends. */
static uint64_t hash_bytes(uint64_t h, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

#define HASH_SEED 14695981039346656037ull

void lux_ups_pool_finish(lux_ups_pool *p) {
    uint64_t h = HASH_SEED;
    for (size_t i = 0; i < p->n; i++)
        h = hash_bytes(h, p->backends[i].name, strlen(p->backends[i].name) + 1);
    snprintf(p->key, sizeof p->key, "#%016llx", (unsigned long long)h);
}

static int usable(lux_loop *loop, const lux_ups_backend *b, const lux_ups_backend *skip,
                  lux_ups_state **st) {
    *st = state_of(loop, b->name);
    if (b == skip || !*st || (b->health && !lux_health_up(b->health)))
        return 0;
    return (*st)->disabled_until <= lux_loop_now_ms(loop);
}

static const lux_ups_backend *pick_fair(lux_loop *loop, const lux_ups_pool *p,
                                        const lux_ups_backend *skip) {
    const lux_ups_backend *best = NULL;
    unsigned best_active = 0;
    for (size_t i = 0; i < p->n; i++) {
        lux_ups_state *st;
        if (usable(loop, &p->backends[i], skip, &st) && (!best || st->active < best_active)) {
            best = &p->backends[i];
            best_active = st->active;
        }
    }
    return best;
}

/* The first usable backend from index start on, wrapping around. */
static const lux_ups_backend *pick_from(lux_loop *loop, const lux_ups_pool *p, size_t start,
                                        const lux_ups_backend *skip) {
    for (size_t k = 0; k < p->n; k++) {
        const lux_ups_backend *b = &p->backends[(start + k) % p->n];
        lux_ups_state *st;
        if (usable(loop, b, skip, &st))
            return b;
    }
    return NULL;
}

/* take_turn: round-robin moves on to the next backend. */
static const lux_ups_backend *pick(lux_loop *loop, const lux_ups_pool *p, lux_req *r,
                                   const lux_ups_backend *skip, int take_turn) {
    if (!p->n)
        return NULL;
    switch (p->balance) {
    case LUX_UPS_ROUND_ROBIN: {
        lux_ups_state *ps = state_of(loop, p->key);
        size_t start = ps ? (take_turn ? ps->rr_next++ : ps->rr_next) % p->n : 0;
        return pick_from(loop, p, start, skip);
    }
    case LUX_UPS_HASH:
        return pick_from(loop, p, hash_bytes(HASH_SEED, r->path.ptr, r->path.len) % p->n, skip);
    case LUX_UPS_STICKY: {
        const char *ip = lux_req_remote_ip(r);
        return pick_from(loop, p, ip ? hash_bytes(HASH_SEED, ip, strlen(ip)) % p->n : 0, skip);
    }
    case LUX_UPS_FAIR:
    default:
        return pick_fair(loop, p, skip);
    }
}

const lux_ups_backend *lux_ups_pick(lux_loop *loop, const lux_ups_pool *p, lux_req *r,
                                    const lux_ups_backend *skip) {
    return pick(loop, p, r, skip, 1);
}

const lux_ups_backend *lux_ups_peek(lux_loop *loop, const lux_ups_pool *p, lux_req *r) {
    return pick(loop, p, r, NULL, 0);
}

void lux_ups_pass_turn(lux_loop *loop, const lux_ups_pool *p) {
    lux_ups_state *ps = p->balance == LUX_UPS_ROUND_ROBIN ? state_of(loop, p->key) : NULL;
    if (ps)
        ps->rr_next++;
}

void lux_ups_disable(lux_loop *loop, const lux_ups_backend *b) {
    lux_ups_state *st = state_of(loop, b->name);
    if (!st)
        return;
    st->disabled_until = lux_loop_now_ms(loop) + b->disable_time * 1000;
    lux_log(LUX_LOG_ERR, "backend %s failed; disabled for %ld s", b->name, b->disable_time);
}

int lux_ups_stats_id(lux_loop *loop, const lux_ups_backend *b, const char *module) {
    lux_ups_state *st = state_of(loop, b->name);
    if (!st)
        return -1;
    if (st->stats_module != module) {
        st->stats_id = lux_stats_backend_id(module, b->name);
        st->stats_module = module;
    }
    return st->stats_id;
}

unsigned lux_ups_active(lux_loop *loop, const lux_ups_backend *b) {
    lux_ups_state *st = state_of(loop, b->name);
    return st ? st->active : 0;
}

static void free_conn(void *p) {
    close_conn_now(p);
}

/* Close c now, free it after the batch (an event for it may still be pending). */
static void close_conn(lux_ups_conn *c) {
    close_transport(c);
    lux_ups_defer_free(c->loop, &c->dead, free_conn, c);
}

static void unlink_idle(lux_ups_conn *c) {
    for (lux_ups_conn **pp = &c->state->idle; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            c->state->nidle--;
            return;
        }
}

/* An idle connection became readable: the backend closed it (or talks out of turn). */
static void on_idle_event(lux_io *io, unsigned events) {
    lux_ups_conn *c = (lux_ups_conn *)io;
    if (io->fd < 0 || (c->ssl && lux_ups_tls_idle_ok(c->ssl)))
        return;
    unlink_idle(c);
    close_conn(c);
}

/* Is an idle connection still open? The backend may have closed it since the loop last
 * looked (its event still pending in this batch, or not yet polled): a peek sees the end
 * without taking anything, so a request that cannot be sent again never goes into one gone. */
static int still_open(lux_ups_conn *c) {
    if (c->ssl)
        return lux_ups_tls_idle_ok(c->ssl);
    char byte;
    ssize_t n = recv(c->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* The newest idle connection (with verify, the newest still open; those found closed are
 * closed here). */
static lux_ups_conn *take_idle(lux_ups_state *st, lux_io_cb cb, int verify) {
    lux_ups_conn *c;
    for (;;) {
        c = st->idle;
        if (!c)
            return NULL;
        st->idle = c->next;
        st->nidle--;
        if (c->io.fd >= 0 && (!verify || still_open(c)))
            break;
        close_conn(c); /* EOF, an error, or bytes out of turn */
    }
    c->next = NULL;
    c->reused = 1;
    c->io.cb = cb;
    st->active++;
    return c;
}

int lux_ups_socket(const lux_ups_backend *b) {
    int fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (b->addr.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (connect(fd, (const struct sockaddr *)&b->addr, b->addrlen) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd); /* not registered yet */
        errno = e;
        return -1;
    }
    return fd;
}

lux_ups_conn *lux_ups_open(lux_loop *loop, const lux_ups_backend *b, lux_io_cb cb, void *user,
                           int verify) {
    lux_ups_state *st = state_of(loop, b->name);
    if (!st) {
        errno = ENOMEM;
        return NULL;
    }
    lux_ups_conn *c = take_idle(st, cb, verify);
    if (c) {
        c->user = user;
        return c;
    }
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    c->state = st;
    c->io.cb = cb;
    c->user = user;
    c->io.fd = lux_ups_socket(b);
    if (c->io.fd >= 0 && b->tls && !(c->ssl = lux_ups_tls_session(b->tls, c->io.fd)))
        errno = ENOMEM;
    if (c->io.fd < 0 || (b->tls && !c->ssl) || lux_loop_add(loop, &c->io, LUX_EV_WRITE) < 0) {
        int e = errno;
        if (c->ssl)
            lux_ups_tls_close(c->ssl);
        if (c->io.fd >= 0)
            close(c->io.fd); /* never registered: lux_loop_add failed */
        free(c);
        lux_log(LUX_LOG_ERR, "connect to %s: %s", b->name, strerror(e));
        lux_ups_disable(loop, b);
        errno = e;
        return NULL;
    }
    st->active++;
    return c;
}

/* The TLS handshake over a connected socket: on, done, or failed (logged with the reason). */
static lux_ups_connect_result handshake(lux_ups_conn *c) {
    unsigned events = 0;
    char why[256];
    int rc = lux_ups_tls_handshake(c->ssl, &events, why, sizeof why);
    if (rc == 0)
        return LUX_UPS_READY;
    if (rc > 0 && lux_loop_mod(c->loop, &c->io, events) == 0)
        return LUX_UPS_WAIT;
    if (rc > 0)
        snprintf(why, sizeof why, "%s", strerror(errno));
    lux_log(LUX_LOG_ERR, "TLS to backend %s failed: %s", c->state->name, why);
    return LUX_UPS_TLS_FAILED;
}

lux_ups_connect_result lux_ups_connected(lux_ups_conn *c) {
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        e = errno;
    if (e) {
        errno = e;
        return LUX_UPS_CONNECT_FAILED;
    }
    return c->ssl ? handshake(c) : LUX_UPS_READY;
}

ssize_t lux_ups_read(lux_ups_conn *c, void *buf, size_t len) {
    return c->ssl ? lux_ups_tls_read(c->ssl, buf, len) : read(c->io.fd, buf, len);
}

ssize_t lux_ups_write(lux_ups_conn *c, const void *buf, size_t len) {
    return c->ssl ? lux_ups_tls_write(c->ssl, buf, len) : write(c->io.fd, buf, len);
}

void lux_ups_release(lux_ups_conn *c, int keep) {
    lux_ups_state *st = c->state;
    if (st->active)
        st->active--;
    c->requests++;
    if (!keep || c->io.fd < 0 || st->nidle >= IDLE_MAX ||
        lux_loop_mod(c->loop, &c->io, LUX_EV_READ) < 0) {
        close_conn(c);
        return;
    }
    c->io.cb = on_idle_event;
    c->user = NULL;
    c->next = st->idle;
    st->idle = c;
    st->nidle++;
}
