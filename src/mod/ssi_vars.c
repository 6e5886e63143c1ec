/* The variables of server-side includes (see ssi_vars.h). */
#include "mod/ssi_vars.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/core_conf.h"
#include "core/pool.h"
#include "http/request.h"
#include "http/stat_cache.h"
#include "mod/fastcgi_env.h"

/* lighttpd's timefmt when #config sets none. */
#define DEFAULT_TIMEFMT "%a, %d %b %Y %H:%M:%S %Z"
/* #set variables of one response: lookups are linear, so a page cannot make them slow. */
#define SET_VARS_MAX 256

struct ssi_set_var {
    ssi_set_var *next;
    const char *name, *value;
};

void ssi_vars_init(ssi_vars *v, lux_req *r) {
    memset(v, 0, sizeof *v);
    v->r = r;
}

int ssi_var_set(ssi_vars *v, const char *name, const char *value) {
    for (ssi_set_var *s = v->set; s; s = s->next) {
        if (strcmp(s->name, name) == 0) {
            s->value = value;
            return 0;
        }
    }
    ssi_set_var *s = v->nset < SET_VARS_MAX ? lux_pool_alloc(v->r->pool, sizeof *s) : NULL;
    if (!s)
        return -1;
    *s = (ssi_set_var){v->set, name, value};
    v->set = s;
    v->nset++;
    return 0;
}

/* ---- the CGI-like environment ---- */

static int env_add(ssi_vars *v, const char *name, const char *value, size_t cap) {
    if (!value || v->nenv == cap)
        return 0;
    v->env[v->nenv++] = (lux_keyval){{name, strlen(name)}, {value, strlen(value)}};
    return 0;
}

/* Content-Type, a request header "X-Foo" as HTTP_X_FOO; Authorization and Proxy are left out
 * (credentials, and the "httpoxy" name clash). */
static void env_add_headers(ssi_vars *v, size_t cap) {
    lux_req *r = v->r;
    for (size_t i = 0; i < r->nheaders; i++) {
        const lux_header *h = &r->headers[i];
        if (!strcasecmp(h->name.ptr, "Authorization") || !strcasecmp(h->name.ptr, "Proxy") ||
            !strcasecmp(h->name.ptr, "Content-Length"))
            continue;
        int ct = strcasecmp(h->name.ptr, "Content-Type") == 0;
        char *name = lux_pool_alloc(r->pool, h->name.len + 6);
        if (!name)
            return;
        size_t n = ct ? 0 : 5;
        memcpy(name, "HTTP_", n);
        for (size_t k = 0; k < h->name.len; k++)
            name[n++] = isalnum((unsigned char)h->name.ptr[k])
                            ? (char)toupper((unsigned char)h->name.ptr[k])
                            : '_';
        name[n] = '\0';
        env_add(v, name, h->value.ptr, cap);
    }
}

static const char *host_name(lux_req *r) {
    if (!r->host.ptr)
        return NULL;
    size_t n = r->host.len;
    if (r->host.ptr[0] == '[') {
        const char *close = memchr(r->host.ptr, ']', n);
        n = close ? (size_t)(close - r->host.ptr) + 1 : n;
    } else {
        const char *colon = memchr(r->host.ptr, ':', n);
        n = colon ? (size_t)(colon - r->host.ptr) : n;
    }
    return lux_pool_strndup(r->pool, r->host.ptr, n);
}

static void build_env(ssi_vars *v) {
    lux_req *r = v->r;
    const lux_core_conf *core = r->confs[0];
    lux_cgi_env passed = {0}; /* by a FastCGI authorizer */
    if (lux_fastcgi_apply_env(r, &passed) < 0)
        passed.n = 0;
    size_t cap = 24 + r->nheaders + passed.n;
    v->env_built = 1;
    if (!(v->env = lux_pool_alloc(r->pool, cap * sizeof *v->env)))
        return;
    lux_str user = lux_req_remote_user(r);
    env_add(v, "SERVER_SOFTWARE", core->tag.ptr, cap);
    env_add(v, "SERVER_NAME", host_name(r), cap);
    env_add(v, "GATEWAY_INTERFACE", "CGI/1.1", cap);
    env_add(v, "SERVER_PROTOCOL", lux_req_protocol(r), cap);
    env_add(v, "SERVER_PORT", lux_req_printf(r, "%d", lux_req_local_port(r)), cap);
    env_add(v, "REQUEST_METHOD", r->method_str.ptr, cap);
    env_add(v, "REQUEST_URI", r->uri.ptr, cap);
    env_add(v, "REQUEST_SCHEME", r->scheme.ptr, cap);
    if (r->scheme.ptr && strcmp(r->scheme.ptr, "https") == 0)
        env_add(v, "HTTPS", "on", cap);
    env_add(v, "QUERY_STRING", r->query.ptr ? r->query.ptr : "", cap);
    env_add(v, "SCRIPT_NAME", r->path.ptr, cap);
    env_add(v, "SCRIPT_FILENAME", r->physical.ptr, cap);
    if (r->pathinfo.len)
        env_add(v, "PATH_INFO", r->pathinfo.ptr, cap);
    env_add(v, "DOCUMENT_ROOT",
            r->docroot.ptr ? lux_pool_strndup(r->pool, r->docroot.ptr, r->docroot.len) : NULL, cap);
    env_add(v, "REMOTE_ADDR", lux_req_remote_ip(r), cap);
    env_add(v, "REMOTE_PORT", lux_req_printf(r, "%d", lux_req_remote_port(r)), cap);
    env_add(v, "REMOTE_USER", user.ptr, cap);
    env_add(v, "CONTENT_LENGTH",
            lux_req_printf(r, "%lld", (long long)(r->content_length > 0 ? r->content_length : 0)),
            cap);
    env_add(v, "REDIRECT_STATUS", "200", cap);
    env_add_headers(v, cap);
    for (size_t i = 0; i < passed.n; i++)
        env_add(v, passed.vars[i].name.ptr, passed.vars[i].value.ptr, cap);
}

static const char *env_value(ssi_vars *v, const char *name, size_t nlen) {
    if (!v->env_built)
        build_env(v);
    for (size_t i = 0; i < v->nenv; i++)
        if (v->env[i].key.len == nlen && memcmp(v->env[i].key.ptr, name, nlen) == 0)
            return v->env[i].value.ptr;
    return NULL;
}

/* ---- SSI variables ---- */

void ssi_format_time(const ssi_vars *v, time_t t, int gmt, char *buf, size_t cap) {
    struct tm tm;
    if (!(gmt ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) ||
        strftime(buf, cap, v->timefmt ? v->timefmt : DEFAULT_TIMEFMT, &tm) == 0)
        snprintf(buf, cap, "(none)");
}

void ssi_format_size(uint64_t size, int abbrev, char *buf, size_t cap) {
    static const char *const units[] = {" B", " kB", " MB", " GB", " TB", " PB", " EB"};
    size_t u = 0;
    while (abbrev && size > 1024 && u + 1 < sizeof units / sizeof units[0]) {
        size /= 1024;
        u++;
    }
    snprintf(buf, cap, "%llu%s", (unsigned long long)size, abbrev ? units[u] : "");
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The query with %XX decoded ('+' stays '+', as in Apache). */
static char *query_unescaped(lux_req *r) {
    if (!r->query.ptr)
        return NULL;
    char *out = lux_pool_alloc(r->pool, r->query.len + 1);
    size_t n = 0;
    for (size_t i = 0; out && i < r->query.len; i++) {
        const char *q = r->query.ptr;
        int hi = q[i] == '%' && i + 2 < r->query.len ? hexval(q[i + 1]) : -1;
        int lo = hi >= 0 ? hexval(q[i + 2]) : -1;
        if (lo >= 0 && (hi || lo)) { /* %00 stays as it is */
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = q[i];
        }
    }
    if (out)
        out[n] = '\0';
    return out;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static const char *ssi_special(ssi_vars *v, const ssi_doc *doc, const char *name, size_t nlen) {
    char buf[256];
#define IS(s) (nlen == sizeof(s) - 1 && memcmp(name, s, nlen) == 0)
    if (IS("DOCUMENT_NAME"))
        return base_name(doc->physical);
    if (IS("DOCUMENT_URI"))
        return doc->uri;
    if (IS("QUERY_STRING_UNESCAPED"))
        return query_unescaped(v->r);
    if (IS("DATE_LOCAL") || IS("DATE_GMT"))
        ssi_format_time(v, lux_req_now(v->r), IS("DATE_GMT"), buf, sizeof buf);
    else if (IS("LAST_MODIFIED"))
        ssi_format_time(v, doc->file->mtime, 0, buf, sizeof buf);
    else
        return NULL;
#undef IS
    return lux_pool_strndup(v->r->pool, buf, strlen(buf));
}

const char *ssi_var_value(ssi_vars *v, const ssi_doc *doc, const char *name, size_t nlen) {
    for (ssi_set_var *s = v->set; s; s = s->next)
        if (strlen(s->name) == nlen && memcmp(s->name, name, nlen) == 0)
            return s->value;
    const char *val = ssi_special(v, doc, name, nlen);
    return val ? val : env_value(v, name, nlen);
}

int ssi_var_lookup(void *ctx, const char *name, size_t len, const char **val, size_t *vlen) {
    ssi_var_ctx *c = ctx;
    *val = ssi_var_value(c->vars, c->doc, name, len);
    if (!*val)
        return -1;
    *vlen = strlen(*val);
    return 0;
}

/* ---- encodings ---- */

int ssi_encoding_parse(const char *s, ssi_encoding *enc) {
    if (strcmp(s, "none") == 0)
        *enc = SSI_ENC_NONE;
    else if (strcmp(s, "url") == 0)
        *enc = SSI_ENC_URL;
    else if (strcmp(s, "entity") == 0)
        *enc = SSI_ENC_ENTITY;
    else
        return -1;
    return 0;
}

static int url_safe(unsigned char c) {
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* The characters HTML gives meaning to, and control characters, as lighttpd writes them. */
static int entity_unsafe(unsigned char c) {
    return c == '<' || c == '>' || c == '&' || c == '"' || c == '\'' || c == 0x7f ||
           (c < 0x20 && c != '\t' && c != '\n' && c != '\r');
}

char *ssi_encode(lux_req *r, const char *src, size_t len, ssi_encoding enc, size_t *out_len) {
    static const char hex[] = "0123456789ABCDEF";
    char *out = lux_pool_alloc(r->pool, 6 * len + 1);
    size_t n = 0;
    for (size_t i = 0; out && i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (enc == SSI_ENC_URL && !url_safe(c)) {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else if (enc == SSI_ENC_ENTITY && entity_unsafe(c)) {
            n += (size_t)sprintf(out + n, "&#x%c%c;", hex[c >> 4], hex[c & 15]);
        } else {
            out[n++] = (char)c;
        }
    }
    if (out) {
        out[n] = '\0';
        *out_len = n;
    }
    return out;
}

char *ssi_var_encoded(ssi_vars *v, const ssi_doc *doc, const char *name, ssi_encoding enc,
                      size_t *len) {
    const char *val = ssi_var_value(v, doc, name, strlen(name));
    if (!val)
        val = "(none)";
    return ssi_encode(v->r, val, strlen(val), enc, len);
}

/* ---- printenv ---- */

static char *printenv_line(char *out, const char *name, size_t nlen, const char *value) {
    static const char hex[] = "0123456789ABCDEF";
    memcpy(out, name, nlen);
    out += nlen;
    *out++ = '=';
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (entity_unsafe(*p))
            out += sprintf(out, "&#x%c%c;", hex[*p >> 4], hex[*p & 15]);
        else
            *out++ = (char)*p;
    }
    *out++ = '\n';
    return out;
}

/* Every line fits in its name, '=', six bytes per value byte and '\n'. */
char *ssi_printenv(ssi_vars *v, size_t *len) {
    if (!v->env_built)
        build_env(v);
    size_t cap = 1;
    for (ssi_set_var *s = v->set; s; s = s->next)
        cap += strlen(s->name) + 6 * strlen(s->value) + 2;
    for (size_t i = 0; i < v->nenv; i++)
        cap += v->env[i].key.len + 6 * v->env[i].value.len + 2;
    char *out = lux_pool_alloc(v->r->pool, cap);
    if (!out)
        return NULL;
    char *end = out;
    for (ssi_set_var *s = v->set; s; s = s->next)
        end = printenv_line(end, s->name, strlen(s->name), s->value);
    for (size_t i = 0; i < v->nenv; i++)
        end = printenv_line(end, v->env[i].key.ptr, v->env[i].key.len, v->env[i].value.ptr);
    *end = '\0';
    *len = (size_t)(end - out);
    return out;
}
