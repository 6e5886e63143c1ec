/*
 * mod_cgi: run a CGI/1.1 script per request (lighttpd's mod_cgi).
 *
 *   cgi.assign = ( ".pl" => "/usr/bin/perl", ".cgi" => "" )   suffix of the file => interpreter,
 *                                                             "" runs the file itself
 *   cgi.execute-x-only = "enable"        only files with an execute bit are run
 *   cgi.x-sendfile = "enable"            X-Sendfile: answer with that file (mod/xsendfile.h)
 *   cgi.x-sendfile-docroot = ( "/srv" )  ... only from under these directories
 *   cgi.local-redir = "enable"           Location: /path without Status: serve /path instead
 *   cgi.limits = ( "read-timeout" => 30, "write-timeout" => 30, "tcp-nodelay" => "enable" )
 *   cgi.upgrade = "enable"               a script may answer an Upgrade with 101 and go on
 *                                        talking to the client over its stdin and stdout
 *
 * Everything happens in the worker's loop: the script's stdin, stdout and stderr are
 * non-blocking pipes, its exit is a pidfd. The request body is copied to stdin as the script
 * takes it (a chunked one still coming in is kept whole first, for CONTENT_LENGTH); stdout's head
 * is parsed (http/cgi_headers.h) and the rest streamed to the client, reading no more while the
 * client has LUX_RESP_HIGH_WATER bytes waiting; stderr goes to the error log a line at a time.
 *
 * cgi.upgrade: for a request that asks to switch protocols, stdin stays open after the request
 * body until the script answers; a 101 makes the response a tunnel (lux_resp_tunnel): what the
 * client sends goes on to stdin, whose end is the client's half-close, and stdout to the
 * client; the tunnel ends when stdout does. Any other answer closes stdin as usual.
 *
 * A script outlives its request in one case: when the request is gone first (the client left,
 * a timeout, a local redirect). Then lux closes its pipes, sends SIGTERM and, if it is still
 * there KILL_GRACE_MS later, SIGKILL; the state is freed once the pidfd says it has exited.
 * The main thread's SIGCHLD handling (src/net/server.c) reaps it; the worker collects its
 * status first when it can (waitid on the pidfd).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/pool.h"
#include "core/spawn.h"
#include "event/loop.h"
#include "http/body.h"
#include "http/cgi_env.h"
#include "http/cgi_headers.h"
#include "http/stat_cache.h"
#include "http/stream.h"
#include "lux/log.h"
#include "lux/req.h"
#include "mod/fastcgi_env.h"
#include "mod/setenv_env.h"
#include "mod/xsendfile.h"
#include "net/worker.h"

#ifndef P_PIDFD
#define P_PIDFD 3 /* waitid on a pidfd, Linux 5.4+; older C libraries lack the name */
#endif

#define KILL_GRACE_MS 2000
#define IO_CHUNK 65536
#define ERR_LINE_MAX 1024

typedef struct {
    const lux_keyval *items;
    size_t n;
} cgi_assign;

typedef struct {
    long read_timeout, write_timeout; /* seconds, 0: none */
    int tcp_nodelay;
} cgi_limits;

typedef struct {
    cgi_assign assign;
    int execute_x_only;
    int x_sendfile;
    const lux_strlist *x_sendfile_docroot;
    int local_redir;
    int upgrade;
    cgi_limits limits;
} cgi_conf;

/* One running script. On the heap: it may outlive its request (see the top of the file). */
typedef struct cgi_proc {
    lux_req *r; /* NULL once the request is no longer ours */
    const cgi_conf *conf;
    lux_loop *loop;
    pid_t pid;
    lux_io proc;         /* the pidfd, -1 once the script has exited */
    lux_io in, out, err; /* our ends of its stdin, stdout, stderr; -1 when closed */
    lux_timer timer;     /* the timeouts while attached, SIGTERM/SIGKILL after */
    int64_t last_read, last_write;
    int answered;      /* the head went to the core: the body streams */
    int64_t declared;  /* the head's Content-Length; -1: none */
    uint64_t body_got; /* body bytes from the script */
    int paused;        /* stdout unread while the client catches up */
    int killed;        /* signals sent after detaching: 0, 1 (TERM), 2 (KILL) */
    int may_upgrade;   /* cgi.upgrade and an Upgrade request: stdin waits for the answer */
    int tunnel;        /* the script answered 101: stdin and stdout are the tunnel's */
    int dead;          /* nothing left to do: the timer frees it */
    char *head;        /* the head as it arrives, LUX_CGI_HEAD_MAX bytes */
    size_t head_len;
    char *body; /* request body bytes read and not yet taken by the script */
    size_t body_off, body_len;
    char errline[ERR_LINE_MAX];
    size_t errlen;
    char script[256];                        /* for log lines */
    struct cgi_proc *live_next, **live_prev; /* the thread's scripts (see live_procs) */
} cgi_proc;

/*
 * The scripts of this worker thread that are still running or being read. A worker that stops
 * while a script is still around (a graceful stop does not wait for processes) frees their
 * state when its thread exits; the scripts themselves got SIGTERM when their requests ended.
 */
static __thread cgi_proc *live_procs;
static pthread_key_t live_key;
static pthread_once_t live_once = PTHREAD_ONCE_INIT;

static void free_live(void *unused) {
    while (live_procs) {
        cgi_proc *p = live_procs;
        live_procs = p->live_next;
        lux_loop_timer_cancel(p->loop, &p->timer); /* the loop outlives its thread */
        int fds[] = {p->proc.fd, p->in.fd, p->out.fd, p->err.fd};
        for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        free(p->head);
        free(p->body);
        free(p);
    }
}

static void make_live_key(void) {
    pthread_key_create(&live_key, free_live);
}

static void track_live(cgi_proc *p) {
    pthread_once(&live_once, make_live_key);
    pthread_setspecific(live_key, &live_procs); /* any non-NULL value: the destructor runs */
    p->live_next = live_procs;
    p->live_prev = &live_procs;
    if (live_procs)
        live_procs->live_prev = &p->live_next;
    live_procs = p;
}

extern const lux_module lux_mod_cgi;

/* ---- settings ---------------------------------------------------------------------------- */

static int parse_assign(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    cgi_assign *a = dst;
    a->items = lux_conf_keyvals(
        gen, v, &a->n, "expected ( \".ext\" => \"/path/to/interpreter\" or \"\", ... )", err, el);
    return a->items ? 0 : -1;
}

static int limit_value(const lux_value *e, long *out, char *err, size_t el) {
    if (e->type == LUX_V_INT && e->u.num >= 0) {
        *out = (long)e->u.num;
        return 0;
    }
    if (e->type == LUX_V_STRING) {
        const char *s = e->u.str.ptr;
        if (!strcasecmp(s, "enable") || !strcasecmp(s, "true") || !strcmp(s, "1")) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(s, "disable") || !strcasecmp(s, "false") || !strcmp(s, "0")) {
            *out = 0;
            return 0;
        }
        char *end;
        long n = strtol(s, &end, 10);
        if (*s && !*end && n >= 0) {
            *out = n;
            return 0;
        }
    }
    snprintf(err, el, "\"%s\" needs a number of seconds (or enable/disable)", e->key);
    return -1;
}

static int parse_limits(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    cgi_limits *l = dst;
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "expected ( \"read-timeout\" => seconds, ... )");
        return -1;
    }
    for (size_t i = 0; i < v->u.arr.len; i++) {
        const lux_value *e = v->u.arr.items[i];
        long n;
        if (!e->key) {
            snprintf(err, el, "expected ( \"read-timeout\" => seconds, ... )");
            return -1;
        }
        if (limit_value(e, &n, err, el) < 0)
            return -1;
        if (!strcmp(e->key, "read-timeout"))
            l->read_timeout = n;
        else if (!strcmp(e->key, "write-timeout"))
            l->write_timeout = n;
        else if (!strcmp(e->key, "tcp-nodelay"))
            l->tcp_nodelay = n != 0;
        else {
            snprintf(err, el, "unknown key \"%s\" (read-timeout, write-timeout, tcp-nodelay)",
                     e->key);
            return -1;
        }
    }
    return 0;
}

#define OFF(f) offsetof(cgi_conf, f)
static const lux_directive cgi_directives[] = {
    {"cgi.assign", LUX_D_CUSTOM, OFF(assign), LUX_SCOPE_ANY, parse_assign, sizeof(cgi_assign)},
    {"cgi.execute-x-only", LUX_D_BOOL, OFF(execute_x_only), LUX_SCOPE_ANY},
    {"cgi.x-sendfile", LUX_D_BOOL, OFF(x_sendfile), LUX_SCOPE_ANY},
    {"cgi.x-sendfile-docroot", LUX_D_STRLIST, OFF(x_sendfile_docroot), LUX_SCOPE_ANY},
    {"cgi.local-redir", LUX_D_BOOL, OFF(local_redir), LUX_SCOPE_ANY},
    {"cgi.upgrade", LUX_D_BOOL, OFF(upgrade), LUX_SCOPE_ANY},
    {"cgi.limits", LUX_D_CUSTOM, OFF(limits), LUX_SCOPE_ANY, parse_limits, sizeof(cgi_limits)},
    {NULL, 0, 0, 0},
};

/* ---- the script's life ------------------------------------------------------------------- */

static void close_io(cgi_proc *p, lux_io *io) {
    if (io->fd < 0)
        return;
    lux_loop_del(p->loop, io);
    close(io->fd);
    io->fd = -1;
}

static int send_signal(cgi_proc *p, int sig) {
    if (p->proc.fd < 0)
        return 0;
    return (int)syscall(SYS_pidfd_send_signal, p->proc.fd, sig, NULL, 0);
}

/* Done with the request and the script: free p from the timer, after the batch of events at
 * hand, which may still hold events for p's other pipes (their callbacks see fd -1). */
static void maybe_free(cgi_proc *p) {
    if (p->r || p->proc.fd >= 0 || p->err.fd >= 0)
        return;
    p->dead = 1;
    lux_loop_timer_arm(p->loop, &p->timer, lux_loop_now_ms(p->loop));
}

static void proc_free(cgi_proc *p) {
    *p->live_prev = p->live_next;
    if (p->live_next)
        p->live_next->live_prev = p->live_prev;
    free(p->head);
    free(p->body);
    free(p);
}

/* Let go of the request: nothing of it is touched again. The pipes close (a script still
 * writing gets SIGPIPE); one that does not end by itself is stopped (kill_now: at once). */
static void detach(cgi_proc *p, int kill_now) {
    if (p->r) {
        lux_req_on_abort(p->r, NULL, NULL);
        lux_req_body_notify(p->r, NULL, NULL);
        lux_resp_on_writable(p->r, NULL, NULL);
        p->r = NULL;
    }
    close_io(p, &p->in);
    close_io(p, &p->out);
    if (p->proc.fd < 0) {
        maybe_free(p);
        return;
    }
    if (kill_now) {
        send_signal(p, SIGTERM);
        p->killed = 1;
    }
    lux_loop_timer_arm(p->loop, &p->timer, lux_loop_now_ms(p->loop) + KILL_GRACE_MS);
}

static void on_exit_event(lux_io *io, unsigned events) {
    cgi_proc *p = (cgi_proc *)((char *)io - offsetof(cgi_proc, proc));
    if (io->fd < 0)
        return;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    /* The main thread may have reaped it already (ECHILD): it has exited either way. */
    if (waitid((idtype_t)P_PIDFD, (id_t)io->fd, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0 &&
        !(events & LUX_EV_ERROR))
        return; /* not yet */
    if (si.si_pid && si.si_code == CLD_KILLED && p->killed == 0)
        lux_log(LUX_LOG_ERR, "(mod_cgi) %s died of signal %d", p->script, si.si_status);
    close_io(p, &p->proc);
    if (!p->r) {
        lux_loop_timer_cancel(p->loop, &p->timer); /* no signals for a process that is gone */
        maybe_free(p);
    }
}

/* ---- the response ------------------------------------------------------------------------ */

/* The request ends with an error page (the head was not sent yet). */
static void fail(cgi_proc *p, int status) {
    lux_req *r = p->r;
    detach(p, 1);
    lux_resp_error(r, status);
    lux_req_resume(r, LUX_HANDLED);
}

/* The body broke: a client that has the head sees a short response, one that has nothing
 * yet gets the error page instead. */
static void break_body(cgi_proc *p) {
    lux_req *r = p->r;
    detach(p, 1);
    if (lux_req_head_pending(r))
        lux_req_start_error(r, 502);
    else
        lux_resp_abort(r);
}

/* The head announced more body than came: the answer is short, not whole. */
static int body_short(const cgi_proc *p) {
    const lux_req *r = p->r;
    int bodiless = r->method == LUX_M_HEAD || r->status == 204 || r->status == 304;
    return !bodiless && p->declared >= 0 && p->body_got < (uint64_t)p->declared;
}

typedef struct {
    cgi_proc *p;
    lux_str sendfile;
} head_ctx;

static int add_field(void *arg, const char *name, size_t nlen, const char *value, size_t vlen) {
    head_ctx *h = arg;
    lux_req *r = h->p->r;
    if (h->p->conf->x_sendfile && lux_xsendfile_field(name, nlen, 0)) {
        if (vlen) /* an empty one names nothing: the script's own body stands */
            h->sendfile = (lux_str){value, vlen};
        return 0;
    }
    if (nlen == 14 && !strncasecmp(name, "Content-Length", 14))
        return 0; /* the body is checked against it; the server frames the response */
    return lux_resp_header(r, name, nlen, value, vlen);
}

/* X-Sendfile: the answer is that file (the script's status and other headers). */
static void send_file(cgi_proc *p, const lux_str *path) {
    lux_req *r = p->r;
    detach(p, 0);
    lux_req_resume(
        r, lux_xsendfile_answer(r, "mod_cgi", path->ptr, path->len, p->conf->x_sendfile_docroot));
}

static void on_writable(lux_req *r, void *arg);

/* Append what stdout has, until it would block, ends, or the client's queue is full. */
static void pump_out(cgi_proc *p) {
    char buf[IO_CHUNK];
    for (int rounds = 0; rounds < 16; rounds++) {
        if (lux_resp_queued(p->r) >= LUX_RESP_HIGH_WATER) {
            p->paused = 1;
            lux_loop_del(p->loop, &p->out); /* not even its hang-up: the loop would spin */
            lux_resp_on_writable(p->r, on_writable, p);
            return;
        }
        ssize_t n = read(p->out.fd, buf, sizeof buf);
        if (n > 0) {
            p->last_read = lux_loop_now_ms(p->loop);
            p->body_got += (uint64_t)n;
            if (lux_resp_body_copy(p->r, buf, (size_t)n) < 0) {
                break_body(p);
                return;
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        lux_req *r = p->r;
        if (n < 0) {
            break_body(p);
            return;
        }
        if (body_short(p)) {
            lux_log(LUX_LOG_ERR, "(mod_cgi) %s ended its response after %llu of %lld bytes",
                    p->script, (unsigned long long)p->body_got, (long long)p->declared);
            break_body(p);
            return;
        }
        detach(p, 0);
        lux_resp_end(r);
        if (p->tunnel)
            lux_tunnel_done(r);
        return;
    }
}

static void on_writable(lux_req *r, void *arg) {
    cgi_proc *p = arg;
    p->paused = 0;
    p->last_read = lux_loop_now_ms(p->loop);
    lux_loop_mod(p->loop, &p->out, LUX_EV_READ);
    pump_out(p);
}

static void body_more(lux_req *r, void *arg);
static void pump_in(cgi_proc *p);

/* A request that may upgrade has its answer: a 101 opens the tunnel, and the client's bytes
 * go on to stdin; anything else ends stdin, which waited only for this. 0 or -1. */
static int settle_upgrade(cgi_proc *p) {
    if (!p->may_upgrade)
        return 0;
    p->may_upgrade = 0;
    if (p->r->status != 101) {
        pump_in(p); /* takes the body's end again: now it ends stdin */
        return 0;
    }
    if (lux_resp_tunnel(p->r) < 0)
        return -1;
    p->tunnel = 1;
    lux_req_body_notify(p->r, body_more, p);
    return 0;
}

/* The head is complete at end: answer the request from it. */
static void answer(cgi_proc *p, size_t end) {
    lux_req *r = p->r;
    lux_cgi_head h;
    head_ctx ctx = {p, {NULL, 0}};
    if (lux_cgi_head_parse(p->head, end, &h, NULL, NULL) < 0) {
        lux_log(LUX_LOG_ERR, "(mod_cgi) %s: a broken response header", p->script);
        fail(p, 502);
        return;
    }
    if (h.location.ptr && h.location.ptr[0] == '/' && h.status == 0 && p->conf->local_redir) {
        int st = lux_req_set_uri(r, h.location.ptr, h.location.len);
        detach(p, 0);
        if (st)
            lux_resp_error(r, st);
        lux_req_resume(r, st ? LUX_HANDLED : LUX_RESTART);
        return;
    }
    p->answered = 1; /* Location then comes as a plain field */
    r->status = h.status ? h.status : h.location.ptr ? 302 : 200;
    if (lux_cgi_head_parse(p->head, end, &h, add_field, &ctx) < 0) {
        lux_log(LUX_LOG_ERR, "(mod_cgi) %s: a response header was refused", p->script);
        r->nresp_headers = 0;
        fail(p, 502);
        return;
    }
    if (ctx.sendfile.ptr) {
        send_file(p, &ctx.sendfile);
        return;
    }
    p->declared = h.content_length;
    p->body_got = p->head_len - end;
    if (lux_resp_stream(r) < 0 ||
        (p->head_len > end && lux_resp_body_copy(r, p->head + end, p->head_len - end) < 0) ||
        settle_upgrade(p) < 0) {
        fail(p, 500);
        return;
    }
    p->head_len = 0;
    lux_req_resume(r, LUX_HANDLED);
    if (p->r)
        pump_out(p);
}

/* Collect the head; answer once it is complete. */
static void read_head(cgi_proc *p) {
    ssize_t n = read(p->out.fd, p->head + p->head_len, LUX_CGI_HEAD_MAX - p->head_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        lux_log(LUX_LOG_ERR, "(mod_cgi) %s ended before its response header was complete",
                p->script);
        fail(p, 502);
        return;
    }
    p->last_read = lux_loop_now_ms(p->loop);
    p->head_len += (size_t)n;
    long end = lux_cgi_head_end(p->head, p->head_len, LUX_CGI_HEAD_MAX);
    if (end < 0) {
        lux_log(LUX_LOG_ERR, "(mod_cgi) %s: response header larger than %d bytes", p->script,
                LUX_CGI_HEAD_MAX);
        fail(p, 502);
    } else if (end > 0) {
        answer(p, (size_t)end);
    }
}

static void on_stdout(lux_io *io, unsigned events) {
    cgi_proc *p = (cgi_proc *)((char *)io - offsetof(cgi_proc, out));
    if (io->fd < 0 || !p->r)
        return;
    if (p->answered)
        pump_out(p);
    else
        read_head(p);
}

/* ---- stderr to the error log -------------------------------------------------------------- */

static void log_lines(cgi_proc *p, int flush) {
    size_t start = 0;
    for (size_t i = 0; i < p->errlen; i++) {
        if (p->errline[i] != '\n')
            continue;
        size_t len = i - start;
        if (len && p->errline[start + len - 1] == '\r')
            len--;
        lux_log(LUX_LOG_ERR, "(mod_cgi) %s: %.*s", p->script, (int)len, p->errline + start);
        start = i + 1;
    }
    if (start == 0 && (flush || p->errlen == sizeof p->errline) && p->errlen) {
        lux_log(LUX_LOG_ERR, "(mod_cgi) %s: %.*s", p->script, (int)p->errlen, p->errline);
        start = p->errlen;
    }
    memmove(p->errline, p->errline + start, p->errlen - start);
    p->errlen -= start;
}

static void on_stderr(lux_io *io, unsigned events) {
    cgi_proc *p = (cgi_proc *)((char *)io - offsetof(cgi_proc, err));
    if (io->fd < 0)
        return;
    ssize_t n = read(io->fd, p->errline + p->errlen, sizeof p->errline - p->errlen);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        log_lines(p, 1);
        close_io(p, io);
        if (!p->r)
            maybe_free(p);
        return;
    }
    p->errlen += (size_t)n;
    log_lines(p, 0);
}

/* ---- the request body to stdin ------------------------------------------------------------ */

static void pump_in(cgi_proc *p) {
    while (p->in.fd >= 0) {
        if (p->body_off < p->body_len) {
            ssize_t n = write(p->in.fd, p->body + p->body_off, p->body_len - p->body_off);
            if (n < 0 && errno == EAGAIN) {
                lux_loop_mod(p->loop, &p->in, LUX_EV_WRITE);
                return;
            }
            if (n < 0 && errno != EINTR) { /* the script stopped reading: it may still answer */
                close_io(p, &p->in);
                return;
            }
            if (n > 0) {
                p->body_off += (size_t)n;
                p->last_write = lux_loop_now_ms(p->loop);
            }
            continue;
        }
        ssize_t n = lux_req_body_read(p->r, p->body, IO_CHUNK);
        if (n > 0) {
            p->body_off = 0;
            p->body_len = (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            lux_loop_del(p->loop, &p->in);
            lux_req_body_notify(p->r, body_more, p);
            return;
        }
        if (n == 0 && p->may_upgrade) {
            lux_loop_del(p->loop, &p->in); /* open until the answer says whether it upgrades */
            return;
        }
        close_io(p, &p->in); /* the end of the body (or it failed: the abort follows) */
    }
}

static void body_more(lux_req *r, void *arg) {
    pump_in(arg);
}

static void on_stdin(lux_io *io, unsigned events) {
    cgi_proc *p = (cgi_proc *)((char *)io - offsetof(cgi_proc, in));
    if (io->fd >= 0 && p->r)
        pump_in(p);
}

/* ---- timeouts ----------------------------------------------------------------------------- */

static void arm_timeouts(cgi_proc *p) {
    const cgi_limits *l = &p->conf->limits;
    int64_t due = INT64_MAX;
    if (p->tunnel) /* the client's connection times a tunnel (server.max-read-idle) */
        return;
    if (l->read_timeout > 0)
        due = p->last_read + l->read_timeout * 1000;
    if (l->write_timeout > 0 && p->in.fd >= 0 && p->body_off < p->body_len &&
        p->last_write + l->write_timeout * 1000 < due)
        due = p->last_write + l->write_timeout * 1000;
    if (due != INT64_MAX)
        lux_loop_timer_arm(p->loop, &p->timer, due);
}

static void on_timer(lux_timer *t) {
    cgi_proc *p = (cgi_proc *)((char *)t - offsetof(cgi_proc, timer));
    if (p->dead) {
        proc_free(p);
        return;
    }
    if (!p->r) { /* detached: stop the script */
        if (p->proc.fd < 0)
            return;
        send_signal(p, p->killed ? SIGKILL : SIGTERM);
        if (p->killed++ == 0)
            lux_loop_timer_arm(p->loop, &p->timer, lux_loop_now_ms(p->loop) + KILL_GRACE_MS);
        return;
    }
    const cgi_limits *l = &p->conf->limits;
    int64_t now = lux_loop_now_ms(p->loop);
    if (p->tunnel)
        return;
    if (p->paused)
        p->last_read = now; /* the client is slow, not the script */
    int read_late = l->read_timeout > 0 && now - p->last_read >= l->read_timeout * 1000;
    int write_late = l->write_timeout > 0 && p->in.fd >= 0 && p->body_off < p->body_len &&
                     now - p->last_write >= l->write_timeout * 1000;
    if (!read_late && !write_late) {
        arm_timeouts(p);
        return;
    }
    lux_log(LUX_LOG_ERR, "(mod_cgi) %s: no %s for %ld s, stopped", p->script,
            read_late ? "output" : "input taken", read_late ? l->read_timeout : l->write_timeout);
    if (p->answered)
        break_body(p);
    else
        fail(p, 504);
}

/* ---- starting ----------------------------------------------------------------------------- */

static void on_abort(lux_req *r, void *arg) {
    cgi_proc *p = arg;
    p->r = NULL; /* the core let go of r: do not unregister anything on it */
    detach(p, 1);
}

static const lux_keyval *assigned(const cgi_conf *c, const lux_str *path) {
    for (size_t i = 0; i < c->assign.n; i++) {
        const lux_str *k = &c->assign.items[i].key;
        if (k->len && path->len >= k->len &&
            !memcmp(path->ptr + path->len - k->len, k->ptr, k->len))
            return &c->assign.items[i];
    }
    return NULL;
}

/* A pipe whose end `ours` (0 read, 1 write) is non-blocking; both ends close on exec. */
static int make_pipe(int fds[2], int ours) {
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    int fl = fcntl(fds[ours], F_GETFL);
    if (fl < 0 || fcntl(fds[ours], F_SETFL, fl | O_NONBLOCK) < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    return 0;
}

static void close_pair(int fds[2]) {
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
}

/* Environment, argv and directory of the script; 0 or -1. */
static int exec_args(lux_req *r, const lux_keyval *kv, char ***envp, char **argv, char **dir) {
    lux_cgi_env env;
    if (lux_cgi_env_build(r, &env) < 0 || lux_setenv_apply_env(r, &env) < 0 ||
        lux_fastcgi_apply_env(r, &env) < 0)
        return -1;
    /* The server's own environment reaches scripts only for these (as in lighttpd). */
    static const char *const keep[] = {"LD_PRELOAD", "LD_LIBRARY_PATH"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        const char *v = getenv(keep[i]);
        if (v && lux_cgi_env_set(r, &env, keep[i], strlen(keep[i]), v, strlen(v)) < 0)
            return -1;
    }
    if (!(*envp = lux_cgi_env_strings(r, &env)))
        return -1;
    const char *slash = memrchr(r->physical.ptr, '/', r->physical.len);
    *dir = slash
               ? lux_pool_strndup(r->pool, r->physical.ptr,
                                  slash == r->physical.ptr ? 1 : (size_t)(slash - r->physical.ptr))
               : NULL;
    if (kv->value.len) {
        argv[0] = (char *)kv->value.ptr;
        argv[1] = (char *)r->physical.ptr;
        argv[2] = NULL;
    } else {
        argv[0] = (char *)r->physical.ptr;
        argv[1] = NULL;
    }
    return slash && !*dir ? -1 : 0;
}

static cgi_proc *proc_new(lux_req *r, const cgi_conf *c) {
    cgi_proc *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->head = malloc(LUX_CGI_HEAD_MAX);
    p->body = malloc(IO_CHUNK);
    if (!p->head || !p->body) {
        free(p->head);
        free(p->body);
        free(p);
        return NULL;
    }
    p->r = r;
    p->conf = c;
    p->loop = r->worker->loop;
    p->proc.fd = p->in.fd = p->out.fd = p->err.fd = -1;
    p->proc.cb = on_exit_event;
    p->in.cb = on_stdin;
    p->out.cb = on_stdout;
    p->err.cb = on_stderr;
    p->timer.cb = on_timer;
    p->last_read = p->last_write = lux_loop_now_ms(p->loop);
    snprintf(p->script, sizeof p->script, "%s", r->physical.ptr);
    track_live(p);
    return p;
}

/* Start the script with its three pipes and watch it; 0, or -1 with errno. */
static int start(cgi_proc *p, char *const argv[], char *const envp[], const char *dir) {
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (make_pipe(in, 1) < 0 || make_pipe(out, 0) < 0 || make_pipe(err, 0) < 0) {
        int e = errno;
        close_pair(in);
        close_pair(out);
        close_pair(err);
        errno = e;
        return -1;
    }
    int child[3] = {in[0], out[1], err[1]};
    int rc = lux_spawn_exec(argv[0], argv, envp, child, dir, &p->pid);
    int e = errno;
    close(in[0]);
    close(out[1]);
    close(err[1]);
    p->in.fd = in[1];
    p->out.fd = out[0];
    p->err.fd = err[0];
    if (rc == 0) {
        /* ESRCH: it has exited already and the main thread reaped it; its output is in the
         * pipes. (In that window its pid could even be reused: pidfd_spawn, glibc 2.39,
         * would close it.) */
        p->proc.fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
        if (p->proc.fd < 0 && errno != ESRCH) {
            e = errno;
            kill(p->pid, SIGKILL); /* the main thread reaps it */
            rc = -1;
        }
    }
    if (rc == 0 && ((p->proc.fd >= 0 && lux_loop_add(p->loop, &p->proc, LUX_EV_READ) < 0) ||
                    lux_loop_add(p->loop, &p->out, LUX_EV_READ) < 0 ||
                    lux_loop_add(p->loop, &p->err, LUX_EV_READ) < 0)) {
        e = errno;
        send_signal(p, SIGKILL);
        rc = -1;
    }
    errno = e;
    return rc;
}

/* Does r ask to switch protocols (HTTP/1.1, Upgrade named in Connection)? */
static int asks_upgrade(const lux_req *r) {
    const lux_str *conn = lux_req_header(r, "Connection", 10);
    if (r->version != 11 || !lux_req_header(r, "Upgrade", 7) || !conn)
        return 0;
    for (size_t i = 0; i + 7 <= conn->len; i++)
        if (!strncasecmp(conn->ptr + i, "upgrade", 7) &&
            (i == 0 || conn->ptr[i - 1] == ',' || conn->ptr[i - 1] == ' ') &&
            (i + 7 == conn->len || conn->ptr[i + 7] == ',' || conn->ptr[i + 7] == ' '))
            return 1;
    return 0;
}

/* Run the script kv says for r; what a handler returns. */
static lux_result run_script(lux_req *r, const cgi_conf *c, const lux_keyval *kv) {
    char **envp, *argv[3], *dir;
    if (exec_args(r, kv, &envp, argv, &dir) < 0)
        return LUX_ERROR;
    cgi_proc *p = proc_new(r, c);
    if (!p)
        return LUX_ERROR;
    if (start(p, argv, envp, dir) < 0) {
        lux_log(LUX_LOG_ERR, "(mod_cgi) cannot run %s: %s", argv[0], strerror(errno));
        p->r = NULL;
        detach(p, 1);
        return lux_resp_error(r, 500);
    }
    lux_req_on_abort(r, on_abort, p);
    p->may_upgrade = c->upgrade && asks_upgrade(r);
    pump_in(p);
    arm_timeouts(p);
    return LUX_ASYNC;
}

/* A request whose script waits for the whole body. */
typedef struct {
    const cgi_conf *conf;
    const lux_keyval *kv;
} body_wait;

/* More of a body kept whole came: once it is complete, the script runs. (A body that fails
 * aborts the request, and the core forgets this callback.) */
static void body_kept(lux_req *r, void *arg) {
    const body_wait *w = arg;
    if (lux_body_length(r) < 0)
        return;
    lux_req_body_notify(r, NULL, NULL);
    lux_result res = run_script(r, w->conf, w->kv);
    if (res == LUX_ASYNC)
        return;
    lux_req_resume(r, res == LUX_ERROR ? lux_resp_error(r, 500) : res);
}

/* A chunked body still coming in (server.stream-request-body 1 or 2) has no length yet, and
 * a script must get CONTENT_LENGTH with its body (RFC 3875 4.1.2): the body is kept whole
 * first, as with server.stream-request-body 0. */
static lux_result run_after_body(lux_req *r, const cgi_conf *c, const lux_keyval *kv) {
    body_wait *w = lux_req_alloc(r, sizeof *w);
    if (!w || lux_body_spool_whole(r) < 0)
        return LUX_ERROR;
    *w = (body_wait){c, kv};
    lux_req_body_notify(r, body_kept, w);
    return LUX_ASYNC;
}

static lux_result cgi_handle(lux_req *r, const void *conf) {
    const cgi_conf *c = conf;
    if (!c->assign.n || !r->file || !S_ISREG(r->file->mode))
        return LUX_GO_ON;
    const lux_keyval *kv = assigned(c, &r->physical);
    if (!kv)
        return LUX_GO_ON;
    if (c->execute_x_only && !(r->file->mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
        return LUX_GO_ON;
    return lux_body_length(r) < 0 ? run_after_body(r, c, kv) : run_script(r, c, kv);
}

const lux_module lux_mod_cgi = {
    .name = "mod_cgi",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = cgi_directives,
    .conf_size = sizeof(cgi_conf),
    .handle = cgi_handle,
};
