#include "upstream/ups_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/gen.h"
#include "core/pool.h"
#include "event/loop.h"

struct lux_ups_tls {
    SSL_CTX *ctx;
    char name[256]; /* verified, and sent as SNI unless it is an address */
    int name_is_ip;
    int verify;
    pthread_mutex_t lock; /* workers resume from, and store, the one session */
    SSL_SESSION *session; /* the backend's latest; NULL: none yet */
};

static int ctx_index = -1;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void make_index(void) {
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* A new session (after a full handshake, or a TLS 1.3 ticket): the next connection resumes it. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess) {
    lux_ups_tls *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);
    if (!t)
        return 0;
    pthread_mutex_lock(&t->lock);
    SSL_SESSION *old = t->session;
    t->session = sess;
    pthread_mutex_unlock(&t->lock);
    if (old)
        SSL_SESSION_free(old);
    return 1; /* we keep the reference */
}

static void tls_free(void *p) {
    lux_ups_tls *t = p;
    if (t->session)
        SSL_SESSION_free(t->session);
    SSL_CTX_free(t->ctx);
    pthread_mutex_destroy(&t->lock);
}

static void openssl_reason(const char *what, const char *file, char *err, size_t el) {
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    snprintf(err, el, "%s%s%s: %s", what, file ? " " : "", file ? file : "", *buf ? buf : "failed");
}

static int load_client_cert(SSL_CTX *ctx, const lux_ups_tls_conf *c, char *err, size_t el) {
    const char *key = c->client_privkey ? c->client_privkey : c->client_pemfile;
    if (SSL_CTX_use_certificate_chain_file(ctx, c->client_pemfile) != 1) {
        openssl_reason("\"tls-client-pemfile\"", c->client_pemfile, err, el);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        openssl_reason("\"tls-client-privkey\"", key, err, el);
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        openssl_reason("the client key does not match", c->client_pemfile, err, el);
        return -1;
    }
    return 0;
}

static SSL_CTX *client_ctx(const lux_ups_tls_conf *c, char *err, size_t el) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        openssl_reason("cannot make a TLS context", NULL, err, el);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* The gateway's buffer may move between a write that would block and its retry; a
     * backend closing without close_notify ends a close-delimited body as over plain TCP. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    int ok = c->ca_file ? SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL)
                        : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        openssl_reason("\"tls-ca-file\"", c->ca_file, err, el);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, c->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (c->client_pemfile && load_client_cert(ctx, c, err, el) < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int is_ip(const char *s) {
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

lux_ups_tls *lux_ups_tls_new(lux_gen *gen, const lux_ups_tls_conf *c, const char *host, char *err,
                             size_t el) {
    pthread_once(&index_once, make_index);
    const char *name = c->server_name ? c->server_name : host;
    if (!name || !*name) {
        snprintf(err, el, "\"tls\" over a unix socket needs \"tls-server-name\"");
        return NULL;
    }
    lux_ups_tls *t = lux_pool_alloc(&gen->pool, sizeof *t);
    if (!t || ctx_index < 0) {
        snprintf(err, el, "out of memory");
        return NULL;
    }
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->name_is_ip = is_ip(name);
    t->verify = c->verify;
    if (!(t->ctx = client_ctx(c, err, el)))
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    if (SSL_CTX_set_ex_data(t->ctx, ctx_index, t) != 1 || lux_gen_on_free(gen, tls_free, t) < 0) {
        tls_free(t);
        snprintf(err, el, "out of memory");
        return NULL;
    }
    return t;
}

/* Who the backend must prove to be, and the name it is asked for (SNI). */
static int name_session(const lux_ups_tls *t, SSL *ssl) {
    if (!t->name_is_ip && SSL_set_tlsext_host_name(ssl, t->name) != 1)
        return -1;
    if (!t->verify)
        return 0;
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    return (t->name_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, t->name)
                          : X509_VERIFY_PARAM_set1_host(vp, t->name, 0)) == 1
               ? 0
               : -1;
}

struct ssl_st *lux_ups_tls_session(lux_ups_tls *t, int fd) {
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1 || name_session(t, ssl) < 0) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_connect_state(ssl);
    pthread_mutex_lock(&t->lock);
    if (t->session)
        SSL_set_session(ssl, t->session);
    pthread_mutex_unlock(&t->lock);
    return ssl;
}

static void handshake_reason(SSL *ssl, int e, char *why, size_t len) {
    long v = SSL_get_verify_result(ssl);
    unsigned long code = ERR_peek_error();
    if (v != X509_V_OK)
        snprintf(why, len, "certificate verify failed: %s", X509_verify_cert_error_string(v));
    else if (code) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        snprintf(why, len, "%s", buf);
    } else if (e == SSL_ERROR_SYSCALL && errno)
        snprintf(why, len, "%s", strerror(errno));
    else
        snprintf(why, len, "the backend closed the connection during the handshake");
    ERR_clear_error();
}

int lux_ups_tls_handshake(struct ssl_st *ssl, unsigned *events, char *why, size_t len) {
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(ssl);
    if (rc == 1)
        return 0;
    int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *events = e == SSL_ERROR_WANT_READ ? LUX_EV_READ : LUX_EV_WRITE;
        return 1;
    }
    handshake_reason(ssl, e, why, len);
    return -1;
}

/* The result of SSL_read/SSL_write as read(2) and write(2) give theirs. */
static ssize_t as_syscall(SSL *ssl, int rc) {
    if (rc > 0)
        return rc;
    int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e != SSL_ERROR_SYSCALL || !errno)
        errno = EPROTO;
    ERR_clear_error();
    return -1;
}

ssize_t lux_ups_tls_read(struct ssl_st *ssl, void *buf, size_t len) {
    ERR_clear_error();
    errno = 0;
    return as_syscall(ssl, SSL_read(ssl, buf, len > INT_MAX ? INT_MAX : (int)len));
}

ssize_t lux_ups_tls_write(struct ssl_st *ssl, const void *buf, size_t len) {
    ERR_clear_error();
    errno = 0;
    return as_syscall(ssl, SSL_write(ssl, buf, len > INT_MAX ? INT_MAX : (int)len));
}

int lux_ups_tls_idle_ok(struct ssl_st *ssl) {
    char c;
    ERR_clear_error();
    int rc = SSL_peek(ssl, &c, 1); /* takes in session tickets and the like */
    int ok = rc <= 0 && SSL_get_error(ssl, rc) == SSL_ERROR_WANT_READ;
    ERR_clear_error();
    return ok;
}

void lux_ups_tls_close(struct ssl_st *ssl) {
    if (SSL_is_init_finished(ssl))
        SSL_shutdown(ssl);
    ERR_clear_error();
    SSL_free(ssl);
}
