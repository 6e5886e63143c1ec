/* The CGI/1.1 environment of a request (see cgi_env.h). */
#include "http/cgi_env.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/core_conf.h"
#include "core/pool.h"
#include "core/version.h"
#include "http/body.h"
#include "http/request.h"
#include "net/conn.h"

static int name_is(const lux_str *s, const char *name) {
    size_t n = strlen(name);
    return s->len == n && strncasecmp(s->ptr, name, n) == 0;
}

static lux_cgi_var *find(lux_cgi_env *env, const char *name, size_t nlen) {
    for (size_t i = 0; i < env->n; i++)
        if (env->vars[i].name.len == nlen && memcmp(env->vars[i].name.ptr, name, nlen) == 0)
            return &env->vars[i];
    return NULL;
}

static lux_cgi_var *add_slot(lux_req *r, lux_cgi_env *env) {
    if (env->n == env->cap) {
        size_t cap = env->cap ? env->cap * 2 : 48;
        lux_cgi_var *v = lux_pool_alloc(r->pool, cap * sizeof *v);
        if (!v)
            return NULL;
        if (env->n)
            memcpy(v, env->vars, env->n * sizeof *v);
        env->vars = v;
        env->cap = cap;
    }
    return &env->vars[env->n++];
}

int lux_cgi_env_set(lux_req *r, lux_cgi_env *env, const char *name, size_t nlen, const char *value,
                    size_t vlen) {
    char *v = lux_pool_strndup(r->pool, value ? value : "", value ? vlen : 0);
    if (!v)
        return -1;
    lux_cgi_var *var = find(env, name, nlen);
    if (!var) {
        char *n = lux_pool_strndup(r->pool, name, nlen);
        if (!n || !(var = add_slot(r, env)))
            return -1;
        var->name = (lux_str){n, nlen};
    }
    var->value = (lux_str){v, value ? vlen : 0};
    return 0;
}

static int set(lux_req *r, lux_cgi_env *env, const char *name, const char *value) {
    return lux_cgi_env_set(r, env, name, strlen(name), value, value ? strlen(value) : 0);
}

static int set_str(lux_req *r, lux_cgi_env *env, const char *name, const lux_str *value) {
    return lux_cgi_env_set(r, env, name, strlen(name), value->ptr ? value->ptr : "",
                           value->ptr ? value->len : 0);
}

static int set_int(lux_req *r, lux_cgi_env *env, const char *name, long long value) {
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", value);
    return lux_cgi_env_set(r, env, name, strlen(name), buf, (size_t)n);
}

/* The address the connection arrived on, as text ("" for a unix socket or when unknown). */
static void local_addr(const lux_req *r, char *buf, size_t len) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    buf[0] = '\0';
    if (!r->conn || getsockname(r->conn->io.fd, (struct sockaddr *)&ss, &sl) < 0)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf, (socklen_t)len);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, buf, (socklen_t)len);
}

/* The Host without its port ("[::1]" keeps its brackets, as in lighttpd); the local address
 * when the request named no host. */
static int set_server_name(lux_req *r, lux_cgi_env *env, const char *addr) {
    if (!r->host.ptr || !r->host.len)
        return set(r, env, "SERVER_NAME", addr);
    size_t n = r->host.len;
    const char *close = r->host.ptr[0] == '[' ? memchr(r->host.ptr, ']', n) : NULL;
    const char *colon = memrchr(r->host.ptr, ':', n);
    if (colon && (!close || colon > close))
        n = (size_t)(colon - r->host.ptr);
    return lux_cgi_env_set(r, env, "SERVER_NAME", 11, r->host.ptr, n);
}

static int server_vars(lux_req *r, lux_cgi_env *env) {
    const lux_core_conf *core = r->confs[0];
    char addr[INET6_ADDRSTRLEN];
    local_addr(r, addr, sizeof addr);
    int rc = core->tag.len ? set_str(r, env, "SERVER_SOFTWARE", &core->tag)
                           : set(r, env, "SERVER_SOFTWARE", "lux/" LUX_VERSION);
    rc |= set_server_name(r, env, addr);
    rc |= set(r, env, "GATEWAY_INTERFACE", "CGI/1.1");
    rc |= set(r, env, "SERVER_PROTOCOL", lux_req_protocol(r));
    int port = lux_req_local_port(r);
    if (port >= 0)
        rc |= set_int(r, env, "SERVER_PORT", port);
    rc |= set(r, env, "SERVER_ADDR", addr);
    rc |= set_str(r, env, "DOCUMENT_ROOT", &r->docroot);
    rc |= set_str(r, env, "REQUEST_SCHEME", &r->scheme);
    if (r->scheme.len == 5 && memcmp(r->scheme.ptr, "https", 5) == 0)
        rc |= set(r, env, "HTTPS", "on");
    return rc;
}

static int request_vars(lux_req *r, lux_cgi_env *env) {
    lux_method m = r->error_status ? r->error_method : r->method;
    int rc = 0;
    if (m == r->method)
        rc |= set_str(r, env, "REQUEST_METHOD", &r->method_str);
    else
        rc |= set(r, env, "REQUEST_METHOD", m == LUX_M_POST ? "POST" : "GET");
    rc |= set_str(r, env, "REQUEST_URI", &r->target);
    rc |= set_str(r, env, "QUERY_STRING", &r->query);
    rc |= set_int(r, env, "REDIRECT_STATUS", r->error_status ? r->error_status : 200);
    if (r->error_status && r->uri.ptr)
        rc |= set_str(r, env, "REDIRECT_URI", &r->uri);
    lux_str script = r->path;
    if (r->pathinfo.len && r->pathinfo.len <= script.len)
        script.len -= r->pathinfo.len;
    rc |= lux_cgi_env_set(r, env, "SCRIPT_NAME", 11, script.ptr ? script.ptr : "", script.len);
    rc |= set_str(r, env, "SCRIPT_FILENAME", &r->physical);
    if (r->pathinfo.len) {
        rc |= set_str(r, env, "PATH_INFO", &r->pathinfo);
        char *t = lux_req_printf(r, "%.*s%.*s", (int)r->docroot.len, r->docroot.ptr,
                                 (int)r->pathinfo.len, r->pathinfo.ptr);
        rc |= t ? set(r, env, "PATH_TRANSLATED", t) : -1;
    }
    int64_t len = lux_body_length(r); /* unknown only while a chunked body still streams in */
    if (len >= 0)
        rc |= set_int(r, env, "CONTENT_LENGTH", len);
    return rc;
}

static int client_vars(lux_req *r, lux_cgi_env *env) {
    const char *ip = lux_req_remote_ip(r);
    int rc = set(r, env, "REMOTE_ADDR", ip ? ip : "");
    int port = lux_req_remote_port(r);
    if (port >= 0)
        rc |= set_int(r, env, "REMOTE_PORT", port);
    const char *type;
    lux_str user = lux_req_remote_user_of(r, &type);
    if (user.ptr)
        rc |= set_str(r, env, "REMOTE_USER", &user);
    if (user.ptr && type)
        rc |= set(r, env, "AUTH_TYPE", type);
    return rc;
}

/* HTTP_ + the name upper-cased, every character but a letter or digit as '_'. */
static char *http_name(lux_req *r, const lux_str *name) {
    char *n = lux_pool_alloc(r->pool, name->len + 6);
    if (!n)
        return NULL;
    memcpy(n, "HTTP_", 5);
    for (size_t i = 0; i < name->len; i++) {
        char c = name->ptr[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            c = '_';
        n[5 + i] = c;
    }
    n[name->len + 5] = '\0';
    return n;
}

static int header_var(lux_req *r, lux_cgi_env *env, const lux_header *h) {
    if (name_is(&h->name, "Proxy"))
        return 0;
    if (name_is(&h->name, "Content-Type"))
        return set_str(r, env, "CONTENT_TYPE", &h->value);
    char *name = http_name(r, &h->name);
    if (!name)
        return -1;
    size_t nlen = h->name.len + 5;
    lux_cgi_var *old = find(env, name, nlen);
    if (!old)
        return lux_cgi_env_set(r, env, name, nlen, h->value.ptr, h->value.len);
    const char *sep = name_is(&h->name, "Cookie") ? "; " : ", ";
    char *joined =
        lux_req_printf(r, "%s%s%.*s", old->value.ptr, sep, (int)h->value.len, h->value.ptr);
    if (!joined)
        return -1;
    old->value = (lux_str){joined, strlen(joined)};
    return 0;
}

typedef struct {
    lux_req *r;
    lux_cgi_env *env;
    int failed;
} tls_var_ctx;

static void tls_var(void *arg, const char *name, size_t nlen, const char *value, size_t vlen) {
    tls_var_ctx *t = arg;
    if (lux_cgi_env_set(t->r, t->env, name, nlen, value, vlen) < 0)
        t->failed = 1;
}

/* HTTPS, SSL_* and the client certificate's variables, as mod_openssl names them. */
static int tls_vars(lux_req *r, lux_cgi_env *env) {
    tls_var_ctx t = {r, env, 0};
    return lux_req_tls_env(r, tls_var, &t) < 0 || t.failed ? -1 : 0;
}

int lux_cgi_env_build(lux_req *r, lux_cgi_env *env) {
    *env = (lux_cgi_env){NULL, 0, 0};
    /* The TLS variables first: a user mod_auth authenticated outranks the certificate's. */
    if (server_vars(r, env) || request_vars(r, env) || tls_vars(r, env) || client_vars(r, env))
        return -1;
    for (size_t i = 0; i < r->nheaders; i++)
        if (header_var(r, env, &r->headers[i]) < 0)
            return -1;
    return 0;
}

char **lux_cgi_env_strings(lux_req *r, const lux_cgi_env *env) {
    char **out = lux_pool_alloc(r->pool, (env->n + 1) * sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < env->n; i++) {
        const lux_cgi_var *v = &env->vars[i];
        out[i] = lux_req_printf(r, "%s=%s", v->name.ptr, v->value.ptr);
        if (!out[i])
            return NULL;
    }
    out[env->n] = NULL;
    return out;
}
