#include "upstream/health.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/gen.h"
#include "core/pool.h"
#include "event/loop.h"
#include "lux/log.h"
#include "net/stats.h"
#include "upstream/fcgi.h"
#include "upstream/ups_tls.h"

/* The main thread renews a current generation's lease about once a second; one it has not
 * renewed for this long was replaced by a reload (or the server is stopping). */
#define LEASE_MS 3500
#define REQUEST_MAX 1024
#define REPLY_MAX 512 /* bytes of a reply a probe reads: a status line, a record header */
#define FCGI_GET_VALUES 9
#define FCGI_GET_VALUES_RESULT 10
#define FCGI_UNKNOWN_TYPE 11

typedef struct prober prober;

struct lux_health {
    _Atomic int up; /* what every worker's balancer reads */
    const lux_hc_conf *conf;
    const lux_ups_backend *backend;
    const char *module;
    prober *prober;
    /* The rest is the prober thread's alone. */
    lux_io io;      /* the probe's connection; fd -1 between probes */
    lux_timer next; /* the next probe */
    lux_timer late; /* the running probe's deadline */
    int64_t started_ms;
    int connected;
    struct ssl_st *ssl; /* TLS to a backend that has it (http and fastcgi probes) */
    int handshaken;
    char out[REQUEST_MAX];
    size_t out_len, out_off;
    char in[REPLY_MAX];
    size_t in_len;
    long passes, fails; /* in a row */
    int stats_id;
    lux_health *next_check;
};

struct prober {
    lux_gen *gen;
    lux_health *checks;
    lux_loop *loop;
    pthread_t thread;
    int started;
    int wake_fd; /* written when the generation is freed: the thread stops */
    lux_io wake;
    _Atomic int64_t lease_until_ms;
    prober *next;
};

/* The probers of the generations being built or alive (the main thread adds, any frees). */
static prober *probers;
static pthread_mutex_t probers_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the configuration ------------------------------------------------------------------ */

static const char *const probe_names[] = {"connect", "fastcgi", "http"};

static int string_of(const lux_value *e, const char **out, char *err, size_t el) {
    if (e->type != LUX_V_STRING) {
        snprintf(err, el, "health-check: \"%s\" needs a string", e->key);
        return -1;
    }
    *out = e->u.str.ptr;
    return 0;
}

/* A count from 1 to max, as a number or a string of digits. */
static int count_of(const lux_value *e, long max, long *out, char *err, size_t el) {
    char *end = NULL;
    if (e->type == LUX_V_INT)
        *out = (long)e->u.num;
    else if (e->type != LUX_V_STRING || !e->u.str.len ||
             (*out = strtol(e->u.str.ptr, &end, 10), *end))
        *out = 0;
    if (*out < 1 || *out > max) {
        snprintf(err, el, "health-check: \"%s\" must be from 1 to %ld", e->key, max);
        return -1;
    }
    return 0;
}

static int probe_of(const lux_value *e, unsigned allowed, lux_hc_probe *out, char *err, size_t el) {
    const char *name;
    if (string_of(e, &name, err, el) < 0)
        return -1;
    for (unsigned i = 0; i < sizeof probe_names / sizeof *probe_names; i++)
        if (!strcmp(name, probe_names[i]) && (allowed & 1u << i)) {
            *out = (lux_hc_probe)i;
            return 0;
        }
    snprintf(err, el, "health-check: this gateway has no \"%s\" probe", name);
    return -1;
}

/* Text that goes into a request line or a field: printable, no spaces. */
static int token_ok(const char *s, size_t max) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return 0;
    return n && n <= max;
}

static int expect_ok(const char *s) {
    if (strlen(s) != 3 || s[0] < '1' || s[0] > '5')
        return 0;
    return (s[1] == 'x' || (s[1] >= '0' && s[1] <= '9')) &&
           (s[2] == 'x' || (s[2] >= '0' && s[2] <= '9'));
}

static int hc_option(const lux_value *e, unsigned allowed, lux_hc_conf *c, const char **expect,
                     char *err, size_t el) {
    const char *k = e->key;
    if (!k) {
        snprintf(err, el, "health-check: options are ( \"key\" => value, ... )");
        return -1;
    }
    if (!strcmp(k, "probe"))
        return probe_of(e, allowed, &c->probe, err, el);
    if (!strcmp(k, "uri"))
        return string_of(e, &c->uri, err, el);
    if (!strcmp(k, "host"))
        return string_of(e, &c->host, err, el);
    if (!strcmp(k, "expect"))
        return string_of(e, expect, err, el);
    if (!strcmp(k, "interval"))
        return count_of(e, 3600, &c->interval, err, el);
    if (!strcmp(k, "timeout"))
        return count_of(e, 3600, &c->timeout, err, el);
    if (!strcmp(k, "rise"))
        return count_of(e, 100, &c->rise, err, el);
    if (!strcmp(k, "fall"))
        return count_of(e, 100, &c->fall, err, el);
    snprintf(err, el, "health-check: unknown option \"%s\"", k);
    return -1;
}

/* What only an HTTP probe has: its URI, Host and expected status. */
static int check_http(const lux_hc_conf *c, const lux_value *v, const char *expect, char *err,
                      size_t el) {
    int has_http = lux_value_find(v, "uri") || lux_value_find(v, "host") || expect;
    if (c->probe != LUX_HC_HTTP) {
        if (has_http)
            snprintf(err, el,
                     "health-check: \"uri\", \"host\" and \"expect\" are for the "
                     "\"http\" probe");
        return has_http ? -1 : 0;
    }
    if (c->uri[0] != '/' || !token_ok(c->uri, 512)) {
        snprintf(err, el, "health-check: \"uri\" must be a path starting with \"/\"");
        return -1;
    }
    if (c->host && !token_ok(c->host, 255)) {
        snprintf(err, el, "health-check: \"host\" must be a host name");
        return -1;
    }
    if (expect && !expect_ok(expect)) {
        snprintf(err, el, "health-check: \"expect\" is a status such as \"200\" or \"2xx\"");
        return -1;
    }
    return 0;
}

int lux_hc_conf_parse(const lux_value *v, lux_hc_probe probe, unsigned allowed, lux_hc_conf *c,
                      char *err, size_t el) {
    *c = (lux_hc_conf){.probe = probe,
                       .uri = "/",
                       .expect = "2xx",
                       .interval = 5,
                       .timeout = 2,
                       .rise = 2,
                       .fall = 3};
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "\"health-check\" needs ( \"interval\" => 5, ... )");
        return -1;
    }
    const char *expect = NULL;
    for (size_t i = 0; i < v->u.arr.len; i++)
        if (hc_option(v->u.arr.items[i], allowed, c, &expect, err, el) < 0)
            return -1;
    if (check_http(c, v, expect, err, el) < 0)
        return -1;
    if (expect)
        memcpy(c->expect, expect, 4);
    return 0;
}

int lux_health_up(const lux_health *h) {
    return atomic_load_explicit(&h->up, memory_order_acquire);
}

int lux_hc_status_matches(const char *expect, int status) {
    char digits[4];
    snprintf(digits, sizeof digits, "%03d", status);
    for (int i = 0; i < 3; i++)
        if (expect[i] != 'x' && expect[i] != digits[i])
            return 0;
    return status >= 100 && status <= 999 && strlen(expect) == 3;
}

/* ---- one probe -------------------------------------------------------------------------- */

static lux_loop *loop_of(const lux_health *h);
static void on_probe_io(lux_io *io, unsigned events);

static void close_probe(lux_health *h) {
    lux_loop *loop = loop_of(h);
    lux_loop_timer_cancel(loop, &h->late);
    if (h->io.fd < 0)
        return;
    if (h->ssl)
        lux_ups_tls_close(h->ssl);
    h->ssl = NULL;
    lux_loop_del(loop, &h->io);
    close(h->io.fd);
    h->io.fd = -1;
}

static void publish(lux_health *h, int up) {
    atomic_store_explicit(&h->up, up, memory_order_release);
    lux_stats_backend_checked(h->stats_id, up);
}

/* A probe is over: count it, change the backend's state when a run is long enough, and
 * schedule the next one an interval after this one started. */
static void probe_done(lux_health *h, int ok, const char *fmt, ...) {
    close_probe(h);
    const lux_hc_conf *c = h->conf;
    if (ok) {
        h->fails = 0;
        if (++h->passes >= c->rise && !lux_health_up(h)) {
            publish(h, 1);
            lux_log(LUX_LOG_INFO, "(%s) backend %s is up: %ld health checks in a row passed",
                    h->module, h->backend->name, h->passes);
        }
    } else {
        h->passes = 0;
        if (++h->fails >= c->fall && lux_health_up(h)) {
            char why[256];
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(why, sizeof why, fmt, ap);
            va_end(ap);
            publish(h, 0);
            lux_log(LUX_LOG_ERR,
                    "(%s) backend %s is down: %ld health checks in a row failed, the last: %s",
                    h->module, h->backend->name, h->fails, why);
        }
    }
    lux_loop *loop = loop_of(h);
    int64_t due = h->started_ms + c->interval * 1000, now = lux_loop_now_ms(loop);
    lux_loop_timer_arm(loop, &h->next, due > now ? due : now);
}

static void on_late(lux_timer *t) {
    lux_health *h = (lux_health *)((char *)t - offsetof(lux_health, late));
    probe_done(h, 0, "no answer within %ld s", h->conf->timeout);
}

/* The Host field of an HTTP probe: as configured, else the backend's host. */
static const char *probe_host(const lux_health *h, char *buf, size_t len) {
    const char *host = h->conf->host ? h->conf->host : h->backend->host;
    if (!*host)
        return "localhost"; /* a unix socket */
    if (!h->conf->host && strchr(host, ':')) {
        snprintf(buf, len, "[%s]", host);
        return buf;
    }
    return host;
}

static void build_request(lux_health *h) {
    if (h->conf->probe == LUX_HC_HTTP) {
        char v6[140];
        int n = snprintf(h->out, sizeof h->out,
                         "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lux-health-check\r\n"
                         "Connection: close\r\n\r\n",
                         h->conf->uri, probe_host(h, v6, sizeof v6));
        h->out_len = n > 0 && (size_t)n < sizeof h->out ? (size_t)n : 0;
    } else if (h->conf->probe == LUX_HC_FASTCGI) {
        /* FCGI_GET_VALUES for request 0 asking FCGI_MPXS_CONNS: 17 bytes, 7 of padding. */
        static const char rec[] = "\x01\x09\x00\x00\x00\x11\x07\x00"
                                  "\x0f\x00"
                                  "FCGI_MPXS_CONNS"
                                  "\0\0\0\0\0\0\0";
        memcpy(h->out, rec, sizeof rec - 1);
        h->out_len = sizeof rec - 1;
    } else {
        h->out_len = 0;
    }
    h->out_off = 0;
}

static void on_next(lux_timer *t) {
    lux_health *h = (lux_health *)((char *)t - offsetof(lux_health, next));
    lux_loop *loop = loop_of(h);
    h->started_ms = lux_loop_now_ms(loop);
    h->connected = 0;
    h->handshaken = 0;
    h->in_len = 0;
    build_request(h);
    h->io.cb = on_probe_io;
    h->io.fd = lux_ups_socket(h->backend);
    if (h->io.fd < 0) {
        probe_done(h, 0, "connect: %s", strerror(errno));
        return;
    }
    if (h->backend->tls && h->conf->probe != LUX_HC_CONNECT &&
        !(h->ssl = lux_ups_tls_session(h->backend->tls, h->io.fd))) {
        probe_done(h, 0, "out of memory");
        return;
    }
    if (lux_loop_add(loop, &h->io, LUX_EV_WRITE) < 0) {
        probe_done(h, 0, "cannot watch the connection: %s", strerror(errno));
        return;
    }
    lux_loop_timer_arm(loop, &h->late, h->started_ms + h->conf->timeout * 1000);
}

/* An HTTP status line "HTTP/1.x NNN ..." at the start of the reply: its status, 0 while it is
 * incomplete, -1 when it is not one. */
static int status_of(const char *p, size_t len) {
    const char *eol = memchr(p, '\n', len);
    if (!eol)
        return len >= REPLY_MAX ? -1 : 0;
    if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) || p[8] != ' ')
        return -1;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        status = status * 10 + (p[i] - '0');
    }
    return status;
}

/* Judge what arrived (eof: the backend closed); 1 while more is needed. */
static int judge(lux_health *h, int eof) {
    if (h->conf->probe == LUX_HC_FASTCGI) {
        if (h->in_len < LUX_FCGI_HEADER_LEN) {
            if (eof)
                probe_done(h, 0, "connection closed without a FastCGI reply");
            return eof ? 0 : 1;
        }
        int type = (unsigned char)h->in[1];
        if (h->in[0] == 1 && type == FCGI_GET_VALUES_RESULT)
            probe_done(h, 1, NULL);
        else
            probe_done(h, 0, "FCGI_GET_VALUES answered with record type %d", type);
        return 0;
    }
    int status = status_of(h->in, h->in_len);
    if (status == 0 && !eof)
        return 1;
    if (status <= 0)
        probe_done(h, 0,
                   eof && !h->in_len ? "connection closed without a response"
                                     : "not an HTTP response");
    else if (!lux_hc_status_matches(h->conf->expect, status))
        probe_done(h, 0, "status %d, not %s", status, h->conf->expect);
    else
        probe_done(h, 1, NULL);
    return 0;
}

/* The connect finished: 0, or -1 once the probe is over. */
static int connected(lux_health *h) {
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(h->io.fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        e = errno;
    if (e) {
        probe_done(h, 0, "connect: %s", strerror(e));
        return -1;
    }
    h->connected = 1;
    if (h->conf->probe == LUX_HC_CONNECT) {
        probe_done(h, 1, NULL);
        return -1;
    }
    return 0;
}

/* The TLS handshake, when the backend has TLS: 0 done, 1 on, -1 once the probe is over. */
static int handshake(lux_health *h) {
    unsigned events = 0;
    char why[256];
    int rc = lux_ups_tls_handshake(h->ssl, &events, why, sizeof why);
    if (rc < 0) {
        probe_done(h, 0, "TLS: %s", why);
        return -1;
    }
    if (rc > 0) {
        lux_loop_mod(loop_of(h), &h->io, events);
        return 1;
    }
    h->handshaken = 1;
    return 0;
}

static ssize_t probe_write(lux_health *h, const void *p, size_t len) {
    return h->ssl ? lux_ups_tls_write(h->ssl, p, len) : write(h->io.fd, p, len);
}

static ssize_t probe_read(lux_health *h, void *p, size_t len) {
    return h->ssl ? lux_ups_tls_read(h->ssl, p, len) : read(h->io.fd, p, len);
}

/* Write the rest of the request: 0, or -1 once the probe is over. */
static int send_request(lux_health *h) {
    while (h->out_off < h->out_len) {
        ssize_t n = probe_write(h, h->out + h->out_off, h->out_len - h->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0) {
            probe_done(h, 0, "write: %s", strerror(n < 0 ? errno : EPIPE));
            return -1;
        }
        h->out_off += (size_t)n;
    }
    lux_loop_mod(loop_of(h), &h->io, LUX_EV_READ);
    return 0;
}

static void read_reply(lux_health *h) {
    for (;;) {
        ssize_t n = probe_read(h, h->in + h->in_len, sizeof h->in - h->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            probe_done(h, 0, "read: %s", strerror(errno));
            return;
        }
        h->in_len += (size_t)n;
        if (!judge(h, n == 0 || h->in_len == sizeof h->in))
            return;
    }
}

static void on_probe_io(lux_io *io, unsigned events) {
    lux_health *h = (lux_health *)((char *)io - offsetof(lux_health, io));
    if (io->fd < 0)
        return;
    if (!h->connected && connected(h) < 0)
        return;
    if (h->ssl && !h->handshaken) {
        if (handshake(h) != 0)
            return;
        events = LUX_EV_WRITE; /* the request goes out now */
    }
    if ((events & LUX_EV_WRITE) && send_request(h) < 0)
        return;
    if (events & (LUX_EV_READ | LUX_EV_ERROR))
        read_reply(h);
}

/* ---- the prober thread ------------------------------------------------------------------- */

static lux_loop *loop_of(const lux_health *h) {
    return h->prober->loop;
}

static void on_tick(void *arg) {
    prober *p = arg;
    if (monotonic_ms() > atomic_load_explicit(&p->lease_until_ms, memory_order_relaxed))
        lux_loop_stop(p->loop); /* the generation is no longer current */
}

static void on_wake(lux_io *io, unsigned events) {
    prober *p = (prober *)((char *)io - offsetof(prober, wake));
    uint64_t n;
    if (read(io->fd, &n, sizeof n) < 0 && errno != EAGAIN)
        lux_log(LUX_LOG_ERR, "health checks: %s", strerror(errno));
    lux_loop_stop(p->loop);
}

static void *run(void *arg) {
    prober *p = arg;
    for (lux_health *h = p->checks; h; h = h->next_check)
        lux_loop_timer_arm(p->loop, &h->next, 0); /* the first probes at once */
    lux_loop_run(p->loop);
    for (lux_health *h = p->checks; h; h = h->next_check) {
        close_probe(h);
        lux_loop_timer_cancel(p->loop, &h->next);
    }
    return NULL;
}

static int start(prober *p) {
    if (!(p->loop = lux_loop_new()))
        return -1;
    lux_loop_set_tick(p->loop, on_tick, p);
    p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    p->wake = (lux_io){.fd = p->wake_fd, .cb = on_wake};
    if (p->wake_fd < 0 || lux_loop_add(p->loop, &p->wake, LUX_EV_READ) < 0)
        return -1;
    /* The main thread blocks the signals it takes; the prober inherits that mask. */
    if ((errno = pthread_create(&p->thread, NULL, run, p)))
        return -1;
    p->started = 1;
    return 0;
}

/* Main thread, about once a second while the generation is current: renew its lease, and
 * start its probes the first time. */
static void renew(void *arg) {
    prober *p = arg;
    atomic_store_explicit(&p->lease_until_ms, monotonic_ms() + LEASE_MS, memory_order_relaxed);
    if (p->started)
        return;
    p->started = -1; /* tried: a failure is logged once */
    if (start(p) < 0)
        lux_log(LUX_LOG_ERR, "cannot start the health checks: %s", strerror(errno));
}

/* The generation is freed (on any thread): stop and join its prober. */
static void prober_free(void *arg) {
    prober *p = arg;
    if (p->started == 1) {
        uint64_t one = 1;
        if (write(p->wake_fd, &one, sizeof one) < 0)
            lux_log(LUX_LOG_ERR, "health checks: %s", strerror(errno));
        pthread_join(p->thread, NULL);
    }
    if (p->loop)
        lux_loop_free(p->loop);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    pthread_mutex_lock(&probers_lock);
    for (prober **pp = &probers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    pthread_mutex_unlock(&probers_lock);
    free(p);
}

/* The prober of gen, made on its first check. */
static prober *prober_of(lux_gen *gen) {
    pthread_mutex_lock(&probers_lock);
    prober *p = probers;
    while (p && p->gen != gen)
        p = p->next;
    pthread_mutex_unlock(&probers_lock);
    if (p)
        return p;
    if (!(p = calloc(1, sizeof *p)))
        return NULL;
    p->gen = gen;
    p->wake_fd = -1;
    if (lux_gen_on_free(gen, prober_free, p) < 0) {
        free(p);
        return NULL;
    }
    pthread_mutex_lock(&probers_lock);
    p->next = probers;
    probers = p;
    pthread_mutex_unlock(&probers_lock);
    if (lux_gen_on_watch(gen, renew, p) < 0)
        return NULL; /* freed with the generation */
    return p;
}

int lux_health_add(lux_gen *gen, lux_ups_backend *b, const lux_hc_conf *c, const char *module,
                   char *err, size_t errlen) {
    if (lux_gen_test_only(gen))
        return 0;
    prober *p = prober_of(gen);
    /* In the generation's pool: freed after its prober is joined. */
    lux_health *h = p ? lux_pool_alloc(&gen->pool, sizeof *h) : NULL;
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memset(h, 0, sizeof *h);
    atomic_init(&h->up, 1);
    h->prober = p;
    h->conf = c;
    h->backend = b;
    h->module = module;
    h->io.fd = -1;
    h->next.cb = on_next;
    h->late.cb = on_late;
    h->stats_id = lux_stats_backend_id(module, b->name);
    lux_stats_backend_checked(h->stats_id, 1);
    h->next_check = p->checks;
    p->checks = h;
    b->health = h;
    return 0;
}
