/* The accesslog.format compiler and line renderer (lighttpd 1.4 semantics). */
#include "mod/accesslog_format.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef enum {
    F_END = 0,
    F_LITERAL,
    F_REMOTE_ADDR,  /* %a %h, opt 1: masked */
    F_LOCAL_ADDR,   /* %A */
    F_BODY_OUT,     /* %b %B */
    F_COOKIE,       /* %{name}C */
    F_TIME_USED,    /* %T %D, opt: unit */
    F_ENV,          /* %{name}e %{name}n: lux has no request environment */
    F_FILENAME,     /* %f */
    F_PROTOCOL,     /* %H */
    F_REQ_HEADER,   /* %{name}i */
    F_BYTES_IN,     /* %I */
    F_KEEPALIVE,    /* %k */
    F_METHOD,       /* %m */
    F_RESP_HEADER,  /* %{name}o */
    F_BYTES_OUT,    /* %O */
    F_PORT,         /* %p, opt 1: remote */
    F_QUERY,        /* %q */
    F_REQUEST_LINE, /* %r */
    F_STATUS,       /* %s */
    F_TIMESTAMP,    /* %t, opt: T_* flags */
    F_REMOTE_USER,  /* %u */
    F_URL,          /* %U */
    F_SERVER_NAME,  /* %v */
    F_HOST,         /* %V */
    F_CONN_STATUS,  /* %X */
} field_type;

/* %t options: which time, and how to print it (strftime when no number format is set). */
enum {
    T_BEGIN = 1,
    T_SEC = 2,
    T_MSEC = 4,
    T_USEC = 8,
    T_NSEC = 16,
    T_MSEC_FRAC = 32,
    T_USEC_FRAC = 64,
    T_NSEC_FRAC = 128,
};

typedef struct {
    field_type type;
    unsigned opt;
    const char *str; /* literal text, %{argument}, or a strftime format; NUL-terminated */
    size_t len;
} field;

struct lux_alog_format {
    unsigned needs;
    field fields[]; /* terminated by F_END */
};

static const struct {
    char c;
    field_type type;
} specifiers[] = {
    {'a', F_REMOTE_ADDR}, {'A', F_LOCAL_ADDR},  {'b', F_BODY_OUT},   {'B', F_BODY_OUT},
    {'C', F_COOKIE},      {'D', F_TIME_USED},   {'e', F_ENV},        {'f', F_FILENAME},
    {'h', F_REMOTE_ADDR}, {'H', F_PROTOCOL},    {'i', F_REQ_HEADER}, {'I', F_BYTES_IN},
    {'k', F_KEEPALIVE},   {'m', F_METHOD},      {'n', F_ENV},        {'o', F_RESP_HEADER},
    {'O', F_BYTES_OUT},   {'p', F_PORT},        {'q', F_QUERY},      {'r', F_REQUEST_LINE},
    {'s', F_STATUS},      {'t', F_TIMESTAMP},   {'T', F_TIME_USED},  {'u', F_REMOTE_USER},
    {'U', F_URL},         {'v', F_SERVER_NAME}, {'V', F_HOST},       {'X', F_CONN_STATUS},
};

static field_type specifier(char c) {
    for (size_t i = 0; i < sizeof specifiers / sizeof *specifiers; i++)
        if (specifiers[i].c == c)
            return specifiers[i].type;
    return F_END;
}

/* lighttpd's backslash escapes in the format: \n \t ... become controls, \x becomes x. */
static size_t unescape(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        if (++i == n)
            break; /* a dangling backslash is dropped */
        static const char names[] = "abfnrtv", codes[] = "\a\b\f\n\r\t\v";
        const char *p = s[i] ? strchr(names, s[i]) : NULL;
        out[o++] = p ? codes[p - names] : s[i];
    }
    return o;
}

static int fail(char *err, size_t el, const char *msg) {
    snprintf(err, el, "%s", msg);
    return -1;
}

static int set_time_opts(field *f, char *err, size_t el) {
    static const struct {
        const char *name;
        unsigned flag;
    } tokens[] = {{"sec", T_SEC},
                  {"msec", T_MSEC},
                  {"usec", T_USEC},
                  {"nsec", T_NSEC},
                  {"msec_frac", T_MSEC_FRAC},
                  {"usec_frac", T_USEC_FRAC},
                  {"nsec_frac", T_NSEC_FRAC}};
    if (!f->str)
        return 0;
    if (strncmp(f->str, "begin:", 6) == 0) {
        f->opt |= T_BEGIN;
        f->str += 6;
    } else if (strncmp(f->str, "end:", 4) == 0) {
        f->str += 4;
    }
    f->len = strlen(f->str);
    for (size_t i = 0; i < sizeof tokens / sizeof *tokens; i++)
        if (strcmp(f->str, tokens[i].name) == 0) {
            f->opt |= tokens[i].flag;
            return 0;
        }
    if (!strchr(f->str, '%'))
        return fail(err, el, "constant string for time format (misspelled token? or missing '%')");
    return 0;
}

/* Check and normalise the argument of a %{...}X field. */
static int finish_field(field *f, unsigned *needs, char *err, size_t el) {
    const char *a = f->str;
    switch (f->type) {
    case F_TIMESTAMP:
        return set_time_opts(f, err, el);
    case F_TIME_USED:
        if (f->opt) /* %D: microseconds, whatever the argument */
            return 0;
        if (!a || !strcmp(a, "s") || !strcmp(a, "sec"))
            f->opt = 1;
        else if (!strcmp(a, "ms") || !strcmp(a, "msec"))
            f->opt = 1000;
        else if (!strcmp(a, "us") || !strcmp(a, "usec"))
            f->opt = 1000000;
        else if (!strcmp(a, "ns") || !strcmp(a, "nsec"))
            f->opt = 1000000000;
        else
            return fail(err, el, "invalid time unit in %{UNIT}T");
        return 0;
    case F_PORT:
        if (!a || !strcmp(a, "canonical") || !strcmp(a, "local")) {
            *needs |= LUX_ALOG_NEED_LOCAL;
        } else if (!strcmp(a, "remote")) {
            f->opt = 1;
            *needs |= LUX_ALOG_NEED_REMOTE;
        } else {
            return fail(err, el, "invalid format %{canonical,local,remote}p");
        }
        return 0;
    case F_REMOTE_ADDR:
        if (a && strcmp(a, "mask") != 0)
            return fail(err, el, "invalid format %{mask}a");
        f->opt = a != NULL;
        *needs |= LUX_ALOG_NEED_REMOTE;
        return 0;
    case F_ENV:
        if (a && strcmp(a, "REMOTE_USER") == 0)
            *needs |= LUX_ALOG_NEED_USER;
        /* fall through */
    case F_REQ_HEADER:
    case F_RESP_HEADER:
        if (!a) /* no name: nothing to find, logged as "-" */
            f->str = "";
        return 0;
    case F_COOKIE:
        if (!a) { /* no name: lighttpd logs nothing at all */
            f->type = F_LITERAL;
            f->str = "";
        }
        return 0;
    case F_LOCAL_ADDR:
        *needs |= LUX_ALOG_NEED_LOCAL;
        return 0;
    case F_BODY_OUT:
        *needs |= LUX_ALOG_NEED_BODY_OUT;
        return 0;
    case F_BYTES_IN:
        *needs |= LUX_ALOG_NEED_BYTES_IN;
        return 0;
    case F_KEEPALIVE:
        *needs |= LUX_ALOG_NEED_KEEPALIVE;
        return 0;
    case F_FILENAME:
        *needs |= LUX_ALOG_NEED_FILENAME;
        return 0;
    case F_REMOTE_USER:
        *needs |= LUX_ALOG_NEED_USER;
        return 0;
    default:
        return 0;
    }
}

/* Append literal text to the previous literal, or start a new one. */
static void add_literal(field *fs, size_t *n, const char *s, size_t len, char *lit_buf,
                        size_t *lit_used) {
    if (*n && fs[*n - 1].type == F_LITERAL &&
        fs[*n - 1].str + fs[*n - 1].len == lit_buf + *lit_used) {
        memcpy(lit_buf + *lit_used, s, len);
        *lit_used += len;
        fs[*n - 1].len += len;
        lit_buf[*lit_used] = '\0';
        return;
    }
    (*lit_used)++; /* keep the previous literal NUL-terminated */
    fs[*n] = (field){F_LITERAL, 0, lit_buf + *lit_used, len};
    memcpy(lit_buf + *lit_used, s, len);
    *lit_used += len;
    lit_buf[*lit_used] = '\0';
    (*n)++;
}

lux_alog_format *lux_alog_compile(lux_pool *pool, const char *fmt, size_t flen, char *err,
                                  size_t el) {
    if (flen == 0) {
        fail(err, el, "accesslog.format must not be empty");
        return NULL;
    }
    /* Every field takes at least one byte of the format: flen + 1 slots always suffice. */
    char *s = lux_pool_alloc(pool, 3 * flen + 3);
    lux_alog_format *f = lux_pool_alloc(pool, sizeof *f + (flen + 1) * sizeof(field));
    if (!s || !f) {
        fail(err, el, "out of memory");
        return NULL;
    }
    size_t len = unescape(fmt, flen, s);
    s[len] = '\0';
    char *store = s + len + 1; /* literals and arguments, NUL-separated */
    size_t used = 0, n = 0;
    store[0] = '\0';
    f->needs = 0;
    for (size_t i = 0; i < len;) {
        size_t start = i;
        while (i < len && s[i] != '%')
            i++;
        if (i > start)
            add_literal(f->fields, &n, s + start, i - start, store, &used);
        if (i == len)
            break;
        if (++i == len) {
            fail(err, el, "% must be followed by a format-specifier");
            return NULL;
        }
        const char *arg = NULL;
        size_t alen = 0;
        if (s[i] == '{') {
            size_t k = ++i;
            while (i < len && s[i] != '}')
                i++;
            if (i == len || i == k) {
                fail(err, el, "%{...} must contain a string and be terminated by }");
                return NULL;
            }
            arg = s + k;
            alen = i - k;
            i++;
        } else {
            if (s[i] == '<' || s[i] == '>') /* Apache's %>s: the final status is all we have */
                i++;
            if (i < len && (s[i] == '%' || s[i] == 'l')) {
                add_literal(f->fields, &n, s[i] == '%' ? "%" : "-", 1, store, &used);
                i++;
                continue;
            }
        }
        field_type t = i < len ? specifier(s[i]) : F_END;
        if (t == F_END) {
            fail(err, el, "% or %{...} must be followed by a valid format-specifier");
            return NULL;
        }
        i++;
        field *fd = &f->fields[n++];
        *fd = (field){t, s[i - 1] == 'D' ? 1000000 : 0, NULL, 0};
        if (arg) {
            used++;
            memcpy(store + used, arg, alen);
            fd->str = store + used;
            fd->len = alen;
            used += alen;
            store[used] = '\0';
        }
        if (finish_field(fd, &f->needs, err, el) < 0)
            return NULL;
    }
    f->fields[n].type = F_END;
    return f;
}

unsigned lux_alog_needs(const lux_alog_format *f) {
    return f->needs;
}

/* ---- rendering ---------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} out_buf;

static void put(out_buf *o, const char *s, size_t n) {
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->p + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void putc_(out_buf *o, char c) {
    put(o, &c, 1);
}

static void put_num(out_buf *o, long long v) {
    char b[24];
    int k = snprintf(b, sizeof b, "%lld", v);
    put(o, b, (size_t)k);
}

static const char hexd[] = "0123456789ABCDEF";

static void put_escaped(out_buf *o, lux_alog_escaping esc, const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t start = i;
        if (esc == LUX_ALOG_ESC_DEFAULT)
            while (i < n && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f &&
                   s[i] != '"' && s[i] != '\\')
                i++;
        else
            while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
                i++;
        put(o, s + start, i - start);
        if (i == n)
            break;
        unsigned char c = (unsigned char)s[i++];
        char e[6] = {'\\', (char)c};
        static const char shorts[] = "\aa\bb\tt\nn\vv\ff\rr";
        const char *sp = c ? memchr(shorts, c, sizeof shorts - 1) : NULL;
        if (c == '"' || c == '\\') {
            put(o, e, 2);
        } else if (sp && (sp - shorts) % 2 == 0) {
            e[1] = sp[1];
            put(o, e, 2);
        } else if (esc == LUX_ALOG_ESC_DEFAULT) {
            char x[4] = {'\\', 'x', hexd[c >> 4], hexd[c & 15]};
            put(o, x, 4);
        } else {
            char u[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
            put(o, u, 6);
        }
    }
}

size_t lux_alog_escape(lux_alog_escaping esc, const char *s, size_t n, char *out, size_t cap) {
    out_buf o = {out, 0, cap};
    put_escaped(&o, esc, s, n);
    return o.len;
}

/* An escaped string, or "-" when it is unset or empty (lighttpd's rule for most fields). */
static void put_or_dash(out_buf *o, lux_alog_escaping esc, lux_str s) {
    if (s.ptr && s.len)
        put_escaped(o, esc, s.ptr, s.len);
    else
        putc_(o, '-');
}

/* Every occurrence of a header, joined with ", " as one field value; "-" when absent. */
static void put_header(out_buf *o, lux_alog_escaping esc, const lux_header *h, size_t nh,
                       const field *f) {
    int found = 0;
    for (size_t i = 0; i < nh; i++) {
        if (h[i].name.len != f->len || strncasecmp(h[i].name.ptr, f->str, f->len) != 0)
            continue;
        if (found++)
            put(o, ", ", 2);
        put_escaped(o, esc, h[i].value.ptr, h[i].value.len);
    }
    if (!found)
        putc_(o, '-');
}

/* %{name}C: the value of cookie `name` from the Cookie header(s); nothing when absent. */
static void put_cookie(out_buf *o, lux_alog_escaping esc, const lux_alog_rec *r, const field *f) {
    for (size_t i = 0; i < r->nreq_headers; i++) {
        const lux_header *h = &r->req_headers[i];
        if (h->name.len != 6 || strncasecmp(h->name.ptr, "Cookie", 6) != 0)
            continue;
        const char *p = h->value.ptr, *end = p + h->value.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
                p++;
            const char *pair = p;
            while (p < end && *p != ';')
                p++;
            size_t plen = (size_t)(p - pair);
            if (plen > f->len && pair[f->len] == '=' && memcmp(pair, f->str, f->len) == 0) {
                const char *v = pair + f->len + 1, *ve = p;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                    ve--;
                put_escaped(o, esc, v, (size_t)(ve - v));
                return;
            }
        }
    }
}

static void put_bytes(out_buf *o, int64_t v) {
    if (v > 0)
        put_num(o, v);
    else
        putc_(o, '-');
}

/* Mask the host part of an address for partial anonymity: a.b.c.0, or the first 48 bits of
 * an IPv6 address followed by "::". */
static void put_masked(out_buf *o, lux_str a) {
    if (!a.ptr || !a.len) {
        putc_(o, '-');
        return;
    }
    const char *dot = memrchr(a.ptr, '.', a.len);
    if (dot) { /* IPv4, or IPv4-mapped IPv6 */
        put(o, a.ptr, (size_t)(dot - a.ptr) + 1);
        putc_(o, '0');
        return;
    }
    if (!memchr(a.ptr, ':', a.len)) {
        put(o, a.ptr, a.len);
        return;
    }
    size_t i = 0;
    for (int groups = 0; i < a.len; i++) {
        if (a.ptr[i] != ':')
            continue;
        if (++groups == 3 || (i + 1 < a.len && a.ptr[i + 1] == ':'))
            break;
    }
    put(o, a.ptr, i < a.len ? i + 1 : a.len);
    putc_(o, ':');
}

/* strftime output for one second, cached per thread: the common case (%t, one format) costs a
 * comparison instead of a localtime_r per request. Keyed by the format's text, not its address:
 * a later generation may reuse the address for another format. */
static void put_strftime(out_buf *o, const field *f, time_t t) {
    static _Thread_local struct {
        time_t t;
        size_t flen, len;
        char fmt[64];
        char buf[256];
    } cache;
    const char *fmt = f->str ? f->str : "[%d/%b/%Y:%H:%M:%S %z]";
    size_t flen = strlen(fmt);
    if (flen < sizeof cache.fmt && cache.t == t && cache.flen == flen &&
        memcmp(cache.fmt, fmt, flen) == 0) {
        put(o, cache.buf, cache.len);
        return;
    }
    struct tm tm;
    char buf[sizeof cache.buf];
    if (!localtime_r(&t, &tm))
        return;
    size_t len = strftime(buf, sizeof buf, fmt, &tm);
    put(o, buf, len);
    if (flen < sizeof cache.fmt) {
        memcpy(cache.fmt, fmt, flen);
        memcpy(cache.buf, buf, len);
        cache.flen = flen;
        cache.len = len;
        cache.t = t;
    }
}

static void put_time(out_buf *o, const field *f, const lux_alog_rec *r) {
    const struct timespec *ts = f->opt & T_BEGIN ? &r->start : &r->end;
    long long sec = (long long)ts->tv_sec, ns = ts->tv_nsec;
    unsigned o_ = f->opt & ~(unsigned)T_BEGIN;
    if (o_ & T_SEC) {
        put_num(o, sec);
    } else if (o_ & T_MSEC) {
        put_num(o, sec * 1000 + (ns + 999999) / 1000000);
    } else if (o_ & T_USEC) {
        put_num(o, sec * 1000000 + (ns + 999) / 1000);
    } else if (o_ & T_NSEC) {
        put_num(o, sec * 1000000000 + ns);
    } else if (o_ & (T_MSEC_FRAC | T_USEC_FRAC | T_NSEC_FRAC)) {
        char b[16];
        int k = o_ & T_MSEC_FRAC   ? snprintf(b, sizeof b, "%03lld", (ns + 999999) / 1000000)
                : o_ & T_USEC_FRAC ? snprintf(b, sizeof b, "%06lld", (ns + 999) / 1000)
                                   : snprintf(b, sizeof b, "%09lld", ns);
        put(o, b, (size_t)k);
    } else {
        put_strftime(o, f, ts->tv_sec);
    }
}

static void put_time_used(out_buf *o, const field *f, const lux_alog_rec *r) {
    if (f->opt == 1) {
        put_num(o, (long long)r->end.tv_sec - (long long)r->start.tv_sec);
        return;
    }
    long long d = ((long long)r->end.tv_sec - (long long)r->start.tv_sec) * 1000000000LL +
                  (r->end.tv_nsec - r->start.tv_nsec);
    if (d <= 0) { /* the clock went backwards: say so rather than log nonsense */
        put(o, "-1", 2);
        return;
    }
    long long div = 1000000000LL / (long long)f->opt;
    put_num(o, (d + div - 1) / div);
}

static lux_str path_of(lux_str s) {
    const char *q = s.ptr ? memchr(s.ptr, '?', s.len) : NULL;
    return (lux_str){s.ptr, q ? (size_t)(q - s.ptr) : s.len};
}

static void put_protocol(out_buf *o, const lux_alog_rec *r) {
    if (r->method.ptr)
        put(o, r->version == 10 ? "HTTP/1.0" : r->version == 20 ? "HTTP/2.0" : "HTTP/1.1", 8);
}

static void render_field(out_buf *o, lux_alog_escaping esc, const field *f, const lux_alog_rec *r) {
    switch (f->type) {
    case F_END:
    case F_LITERAL:
        put(o, f->str, f->len);
        break;
    case F_REMOTE_ADDR:
        if (f->opt)
            put_masked(o, r->remote_addr);
        else
            put_or_dash(o, LUX_ALOG_ESC_DEFAULT, r->remote_addr);
        break;
    case F_LOCAL_ADDR:
        put(o, r->local_addr.ptr ? r->local_addr.ptr : "", r->local_addr.len);
        break;
    case F_PORT:
        if (f->opt) {
            if (r->remote_port >= 0)
                put_num(o, r->remote_port);
        } else {
            put(o, r->local_port.ptr ? r->local_port.ptr : "", r->local_port.len);
        }
        break;
    case F_BODY_OUT:
        if (r->bytes_out > 0)
            put_num(o, r->body_out > 0 ? r->body_out : 0);
        else
            putc_(o, '-');
        break;
    case F_BYTES_IN:
        put_bytes(o, r->bytes_in);
        break;
    case F_BYTES_OUT:
        put_bytes(o, r->bytes_out);
        break;
    case F_COOKIE:
        put_cookie(o, esc, r, f);
        break;
    case F_TIME_USED:
        put_time_used(o, f, r);
        break;
    case F_TIMESTAMP:
        put_time(o, f, r);
        break;
    case F_ENV:
        if (f->len == 11 && memcmp(f->str, "REMOTE_USER", 11) == 0)
            put_or_dash(o, esc, r->remote_user);
        else
            putc_(o, '-');
        break;
    case F_REMOTE_USER:
        put_or_dash(o, esc, r->remote_user);
        break;
    case F_FILENAME:
        put_or_dash(o, esc, r->filename);
        break;
    case F_PROTOCOL:
        put_protocol(o, r);
        break;
    case F_REQ_HEADER:
        put_header(o, esc, r->req_headers, r->nreq_headers, f);
        break;
    case F_RESP_HEADER:
        put_header(o, esc, r->resp_headers, r->nresp_headers, f);
        break;
    case F_KEEPALIVE:
        put_num(o, (long long)r->keepalive_count);
        break;
    case F_METHOD:
        put_escaped(o, esc, r->method.ptr ? r->method.ptr : "", r->method.len);
        break;
    case F_QUERY:
        put_escaped(o, esc, r->query.ptr ? r->query.ptr : "", r->query.len);
        break;
    case F_REQUEST_LINE:
        put_escaped(o, esc, r->method.ptr ? r->method.ptr : "", r->method.len);
        putc_(o, ' ');
        put_escaped(o, esc, r->target.ptr ? r->target.ptr : "", r->target.len);
        putc_(o, ' ');
        put_protocol(o, r);
        break;
    case F_STATUS:
        put_num(o, r->status);
        break;
    case F_URL: {
        lux_str p = path_of(r->url.ptr ? r->url : r->target);
        put_escaped(o, esc, p.ptr ? p.ptr : "", p.len);
        break;
    }
    case F_SERVER_NAME:
        put_or_dash(o, esc, r->server_name);
        break;
    case F_HOST:
        put_or_dash(o, esc, r->host);
        break;
    case F_CONN_STATUS:
        putc_(o, r->conn_status ? r->conn_status : 'X');
        break;
    }
}

size_t lux_alog_render(const lux_alog_format *f, lux_alog_escaping esc, const lux_alog_rec *rec,
                       char *out, size_t cap) {
    out_buf o = {out, 0, cap};
    for (const field *fd = f->fields; fd->type != F_END; fd++)
        render_field(&o, esc, fd, rec);
    return o.len;
}
