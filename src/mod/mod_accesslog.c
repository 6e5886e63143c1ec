/*
 * mod_accesslog: one line per request, in lighttpd's accesslog.format, to a file, a piped
 * logger ("|command") or syslog.
 *
 * Files and pipes are opened once per config generation, while the config is read; blocks that
 * name the same target share one sink. Lines go through the worker's buffer for the sink
 * (core/log_sink.h): written a batch at a time, never blocking a worker on a stalled piped
 * logger. SIGHUP reopens files in place.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "core/gen.h"
#include "core/log_sink.h"
#include "http/request.h"
#include "lux/log.h"
#include "lux/req.h"
#include "mod/accesslog_format.h"

typedef struct {
    lux_log_sink *sink; /* NULL with lux -t, which opens nothing */
    const char *name;   /* as configured: a path, or "|command" */
} alog_target;

typedef struct {
    alog_target *target; /* NULL: no file (syslog may still apply) */
    const lux_alog_format *format;
    int use_syslog;
    long syslog_level;
    unsigned escaping; /* lux_alog_escaping */
} alog_conf;

extern const lux_module lux_mod_accesslog;

/* ---- targets ------------------------------------------------------------------------------ */

static void target_free(void *p) {
    alog_target *t = p;
    lux_log_sink_release(t->sink);
}

static void target_reopen(void *p) {
    alog_target *t = p;
    if (t->sink && lux_log_sink_reopen(t->sink) < 0)
        lux_log(LUX_LOG_ERR, "reopening access log %s: %s", t->name, strerror(errno));
}

static int parse_filename(lux_gen *g, const lux_value *v, void *dst, char *err, size_t el);

static int same_target(const alog_target *t, const char *name) {
    return t && strcmp(t->name, name) == 0;
}

/* A target another block of this generation already opened under the same name. */
static alog_target *find_target(const lux_gen *g, const char *name) {
    int m = lux_gen_module_index(g, &lux_mod_accesslog);
    if (m < 0)
        return NULL;
    const alog_conf *global = g->global_conf[m];
    if (same_target(global->target, name))
        return global->target;
    for (size_t b = 0; b < g->nblocks; b++)
        for (size_t i = 0; i < g->blocks[b].npatches; i++) {
            const lux_patch *p = &g->blocks[b].patches[i];
            if (p->dir->parse != parse_filename)
                continue;
            alog_target *t = *(alog_target *const *)p->value;
            if (same_target(t, name))
                return t;
        }
    return NULL;
}

static int open_target(lux_gen *g, const char *name, alog_target **out, char *err, size_t el) {
    alog_target *t = lux_pool_alloc(&g->pool, sizeof *t);
    char *copy = lux_pool_strndup(&g->pool, name, strlen(name));
    if (!t || !copy) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    memset(t, 0, sizeof *t);
    t->name = copy;
    int is_pipe = name[0] == '|';
    /* lux -t checks the config; it must not create files or start loggers */
    if (!lux_gen_test_only(g) && !(t->sink = lux_log_sink_open(name, "access log"))) {
        snprintf(err, el, "%s \"%s\": %s", is_pipe ? "cannot start" : "cannot open",
                 is_pipe ? name + 1 : name, strerror(errno));
        return -1;
    }
    if (lux_gen_on_free(g, target_free, t) < 0) {
        target_free(t);
        snprintf(err, el, "out of memory");
        return -1;
    }
    if (!is_pipe && lux_gen_on_reopen(g, target_reopen, t) < 0) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    *out = t;
    return 0;
}

/* ---- directives --------------------------------------------------------------------------- */

static int parse_filename(lux_gen *g, const lux_value *v, void *dst, char *err, size_t el) {
    if (v->type != LUX_V_STRING) {
        snprintf(err, el, "expected a file name or \"|command\"");
        return -1;
    }
    alog_target **out = dst;
    *out = NULL;
    if (v->u.str.len == 0) /* lighttpd: an empty name turns the file log off */
        return 0;
    if (v->u.str.len == 1 && v->u.str.ptr[0] == '|') {
        snprintf(err, el, "\"|\" names no command");
        return -1;
    }
    *out = find_target(g, v->u.str.ptr);
    return *out ? 0 : open_target(g, v->u.str.ptr, out, err, el);
}

static int parse_format(lux_gen *g, const lux_value *v, void *dst, char *err, size_t el) {
    if (v->type != LUX_V_STRING) {
        snprintf(err, el, "expected a format string");
        return -1;
    }
    lux_alog_format *f = lux_alog_compile(&g->pool, v->u.str.ptr, v->u.str.len, err, el);
    *(const lux_alog_format **)dst = f;
    return f ? 0 : -1;
}

static int parse_escaping(lux_gen *g, const lux_value *v, void *dst, char *err, size_t el) {
    if (v->type != LUX_V_STRING) {
        snprintf(err, el, "expected \"default\" or \"json\"");
        return -1;
    }
    /* lighttpd takes anything but "json" as the default convention. */
    *(unsigned *)dst = strcmp(v->u.str.ptr, "json") == 0 ? LUX_ALOG_ESC_JSON : LUX_ALOG_ESC_DEFAULT;
    return 0;
}

#define OFF(f) offsetof(alog_conf, f)
static const lux_directive alog_directives[] = {
    {"accesslog.filename", LUX_D_CUSTOM, OFF(target), LUX_SCOPE_ANY, parse_filename,
     sizeof(alog_target *)},
    {"accesslog.format", LUX_D_CUSTOM, OFF(format), LUX_SCOPE_ANY, parse_format,
     sizeof(const lux_alog_format *)},
    {"accesslog.use-syslog", LUX_D_BOOL, OFF(use_syslog), LUX_SCOPE_ANY},
    {"accesslog.syslog-level", LUX_D_INT, OFF(syslog_level), LUX_SCOPE_ANY},
    {"accesslog.escaping", LUX_D_CUSTOM, OFF(escaping), LUX_SCOPE_ANY, parse_escaping,
     sizeof(unsigned)},
    {NULL, 0, 0, 0},
};

static void alog_init(void *p) {
    alog_conf *c = p;
    c->syslog_level = LOG_INFO;
    c->escaping = LUX_ALOG_ESC_DEFAULT;
}

static int alog_finish(lux_gen *g, void *p, char *err, size_t el) {
    alog_conf *c = p;
    if (!c->format) {
        static const char def[] = LUX_ALOG_DEFAULT_FORMAT;
        c->format = lux_alog_compile(&g->pool, def, sizeof def - 1, err, el);
        if (!c->format)
            return -1;
    }
    return 0;
}

/* ---- the request's facts ------------------------------------------------------------------ */

/* "http://host/p?q" as a request-target logs as "/p?q", as lighttpd shows it. */
static lux_str origin_form(lux_str t) {
    size_t skip = 0;
    if (t.len > 7 && strncasecmp(t.ptr, "http://", 7) == 0)
        skip = 7;
    else if (t.len > 8 && strncasecmp(t.ptr, "https://", 8) == 0)
        skip = 8;
    if (!skip)
        return t;
    const char *slash = memchr(t.ptr + skip, '/', t.len - skip);
    return slash ? (lux_str){slash, t.len - (size_t)(slash - t.ptr)} : (lux_str){"/", 1};
}

/* Body bytes sent: the response's length when it all went out, else what followed the head. */
static int64_t body_sent(lux_req *r) {
    if (r->bytes_sent == 0)
        return 0;
    if (r->complete)
        return r->head_only ? 0 : (int64_t)r->body_len;
    return (int64_t)r->body_sent;
}

/* The request's size as received, rebuilt from its parts (lux keeps no byte count of it). */
static int64_t bytes_received(const lux_req *r) {
    if (!r->method_str.ptr)
        return 0;
    int64_t n = (int64_t)(r->method_str.len + 1 + r->target.len + 1 + 8 + 2 + 2);
    for (size_t i = 0; i < r->nheaders; i++)
        n += (int64_t)(r->headers[i].name.len + 2 + r->headers[i].value.len + 2);
    if (r->tunnel) /* what the client sent through the tunnel after its head */
        return n + (int64_t)r->tunnel_in;
    return n + (r->content_length > 0 ? r->content_length : 0);
}

static void set_local(lux_alog_rec *rec, const lux_req *r) {
    const char *name = lux_req_local_name(r);
    if (!name)
        return;
    size_t len = strlen(name);
    const char *colon = strncmp(name, "unix:", 5) == 0 ? NULL : strrchr(name, ':');
    if (!colon) {
        rec->local_addr = (lux_str){name, len};
        rec->local_port = (lux_str){"", 0};
        return;
    }
    rec->local_addr = (lux_str){name, (size_t)(colon - name)};
    rec->local_port = (lux_str){colon + 1, len - (size_t)(colon - name) - 1};
}

/* The request's variables, copied into its pool: a growing array of name/value pairs. */
typedef struct {
    lux_req *r;
    lux_header *items;
    size_t n, cap;
} env_list;

static void add_env(void *arg, const char *name, size_t nlen, const char *value, size_t vlen) {
    env_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        lux_header *items = lux_pool_alloc(l->r->pool, cap * sizeof *items);
        if (!items)
            return;
        if (l->n)
            memcpy(items, l->items, l->n * sizeof *items);
        l->items = items;
        l->cap = cap;
    }
    char *copy = lux_pool_alloc(l->r->pool, nlen + vlen + 2);
    if (!copy)
        return;
    memcpy(copy, name, nlen);
    copy[nlen] = '\0';
    memcpy(copy + nlen + 1, value, vlen);
    copy[nlen + 1 + vlen] = '\0';
    l->items[l->n++] = (lux_header){{copy, nlen}, {copy + nlen + 1, vlen}};
}

static void fill_env(lux_req *r, lux_alog_rec *rec) {
    env_list l = {.r = r};
    lux_req_tls_env(r, add_env, &l); /* out of memory: the variables logged so far */
    rec->env = l.items;
    rec->nenv = l.n;
}

static void fill_rec(lux_req *r, unsigned needs, lux_alog_rec *rec) {
    memset(rec, 0, sizeof *rec);
    const lux_conn *c = r->conn;
    rec->remote_port = -1;
    if (c && (needs & LUX_ALOG_NEED_REMOTE)) {
        const char *ip = lux_req_remote_ip(r);
        if (ip)
            rec->remote_addr = (lux_str){ip, strlen(ip)};
        rec->remote_port = lux_req_remote_port(r);
    }
    if (c && (needs & LUX_ALOG_NEED_LOCAL))
        set_local(rec, r);
    if (needs & LUX_ALOG_NEED_USER)
        rec->remote_user = lux_req_remote_user(r);
    if (needs & LUX_ALOG_NEED_ENV)
        fill_env(r, rec);
    rec->method = r->method_str;
    rec->target = r->target.ptr ? origin_form(r->target) : r->target;
    rec->version = r->version;
    rec->url = r->uri;
    rec->query = r->query;
    rec->host = r->host;
    rec->server_name = r->host; /* lux has no server.name: lighttpd then uses the Host too */
    if ((needs & LUX_ALOG_NEED_FILENAME) && r->file && r->status < 400)
        rec->filename = r->physical;
    rec->req_headers = r->headers;
    rec->nreq_headers = r->nheaders;
    rec->resp_headers = r->resp_headers;
    rec->nresp_headers = r->nresp_headers;
    rec->status = r->status;
    rec->bytes_out = (int64_t)r->bytes_sent;
    if (needs & LUX_ALOG_NEED_BODY_OUT)
        rec->body_out = body_sent(r);
    if (needs & LUX_ALOG_NEED_BYTES_IN)
        rec->bytes_in = bytes_received(r);
    if (c && (needs & LUX_ALOG_NEED_KEEPALIVE)) /* a finished request is already counted */
        rec->keepalive_count =
            lux_req_conn_requests(r) - (r->complete && lux_req_conn_requests(r) ? 1 : 0);
    rec->conn_status = !r->complete ? 'X' : r->conn_closes ? '-' : '+';
    rec->start = r->start;
    clock_gettime(CLOCK_REALTIME, &rec->end);
}

/* ---- writing ------------------------------------------------------------------------------ */

static lux_result alog_request_done(lux_req *r, const void *conf) {
    const alog_conf *c = conf;
    if (!c->use_syslog && !c->target)
        return LUX_GO_ON;
    lux_alog_rec rec;
    fill_rec(r, lux_alog_needs(c->format), &rec);
    char stack[2048];
    char *line = stack;
    size_t n = lux_alog_render(c->format, c->escaping, &rec, stack, sizeof stack - 1);
    if (n >= sizeof stack) {
        line = lux_pool_alloc(r->pool, n + 1);
        if (!line)
            return LUX_GO_ON;
        lux_alog_render(c->format, c->escaping, &rec, line, n);
    }
    if (c->use_syslog) {
        if (n)
            syslog(LOG_DAEMON | ((int)c->syslog_level & LOG_PRIMASK), "%.*s", (int)n, line);
        return LUX_GO_ON;
    }
    line[n] = '\n';
    if (c->target->sink)
        lux_log_sink_write(c->target->sink, line, n + 1);
    return LUX_GO_ON;
}

const lux_module lux_mod_accesslog = {
    .name = "mod_accesslog",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = alog_directives,
    .conf_size = sizeof(alog_conf),
    .conf_init = alog_init,
    .conf_finish = alog_finish,
    .request_done = alog_request_done,
};
