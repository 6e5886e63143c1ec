/*
 * The ACME "tls-alpn-01" challenge (RFC 8737) as lighttpd's ssl.acme-tls-1 answers it: a
 * handshake whose client prefers the ALPN protocol "acme-tls/1" gets the certificate
 * <dir>/<SNI name>.crt.pem with the key <dir>/<SNI name>.key.pem, and "acme-tls/1" as its
 * protocol. Such a handshake moves, from its ClientHello on, to a context of its own that
 * speaks only that protocol, so the listener's own ALPN choice stays as it is.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lux/log.h"
#include "net/tls.h"

#define ACME_PROTO "acme-tls/1"

typedef struct {
    char *dir;
    SSL_CTX *challenge_ctx; /* the context a challenge handshake moves to */
} acme;

static int index_ = -1;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void free_acme(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    acme *a = ptr;
    if (!a)
        return;
    SSL_CTX_free(a->challenge_ctx);
    free(a->dir);
    free(a);
}

static void make_index(void) {
    index_ = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_acme);
}

/* In the challenge context, "acme-tls/1" is the only answer (the client offered it). */
static int select_acme(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg) {
    static const unsigned char proto[] = "\x0a" ACME_PROTO;
    unsigned char *chosen;
    if (SSL_select_next_proto(&chosen, outlen, proto, sizeof proto - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

/* The client's first protocol that lighttpd knows is acme-tls/1 (as its ALPN choice goes). */
static int prefers_acme(SSL *ssl) {
    const unsigned char *p;
    size_t len;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
                                   &len) ||
        len < 2 || (size_t)(p[0] << 8 | p[1]) != len - 2)
        return 0;
    for (size_t i = 2, n; i < len; i += n) {
        n = p[i++];
        if (n == 0 || i + n > len)
            return 0;
        if (n == sizeof ACME_PROTO - 1 && memcmp(p + i, ACME_PROTO, n) == 0)
            return 1;
        if ((n == 2 && memcmp(p + i, "h2", 2) == 0) ||
            (n == 8 && (memcmp(p + i, "http/1.1", 8) == 0 || memcmp(p + i, "http/1.0", 8) == 0)))
            return 0;
    }
    return 0;
}

/* The host name of the server_name extension, if it is one that can name a file: not empty,
 * no '/', not starting with '.', no NUL. */
static int sni_name(SSL *ssl, char *buf, size_t size) {
    const unsigned char *p;
    size_t len;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) || len < 5 ||
        p[2] != TLSEXT_NAMETYPE_host_name)
        return -1;
    size_t n = (size_t)(p[3] << 8 | p[4]);
    if (n == 0 || n + 5 > len || n >= size || p[5] == '.' || memchr(p + 5, '/', n) ||
        memchr(p + 5, 0, n))
        return -1;
    memcpy(buf, p + 5, n);
    buf[n] = '\0';
    return 0;
}

/* The challenge certificate and key for `name` on this handshake only. */
static int use_challenge_cert(SSL *ssl, const char *dir, const char *name) {
    char path[4096];
    int ok = 0;
    snprintf(path, sizeof path, "%s/%s.crt.pem", dir, name);
    ok = SSL_use_certificate_chain_file(ssl, path) == 1;
    if (ok) {
        snprintf(path, sizeof path, "%s/%s.key.pem", dir, name);
        ok = SSL_use_PrivateKey_file(ssl, path, SSL_FILETYPE_PEM) == 1 &&
             SSL_check_private_key(ssl) == 1;
    }
    if (!ok) {
        const char *why = ERR_reason_error_string(ERR_peek_last_error());
        lux_log(LUX_LOG_ERR, "ssl.acme-tls-1: cannot use %s: %s", path, why ? why : "no such file");
    }
    ERR_clear_error();
    return ok;
}

static int client_hello(SSL *ssl, int *alert, void *arg) {
    const acme *a = index_ < 0 ? NULL : SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), index_);
    if (!a || !prefers_acme(ssl))
        return SSL_CLIENT_HELLO_SUCCESS;
    char name[256];
    if (sni_name(ssl, name, sizeof name) < 0 || !SSL_set_SSL_CTX(ssl, a->challenge_ctx) ||
        !use_challenge_cert(ssl, a->dir, name)) {
        *alert = SSL_AD_INTERNAL_ERROR; /* a challenge that cannot be answered, as lighttpd */
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

int lux_tls_acme_attach(SSL_CTX *ctx, const char *dir, char *err, size_t el) {
    pthread_once(&index_once, make_index);
    acme *a = calloc(1, sizeof *a);
    if (index_ < 0 || !a || !(a->dir = strdup(dir)) ||
        !(a->challenge_ctx = SSL_CTX_new(TLS_server_method())) ||
        !SSL_CTX_set_ex_data(ctx, index_, a)) {
        free_acme(NULL, a, NULL, 0, 0, NULL);
        snprintf(err, el, "out of memory");
        return -1;
    }
    SSL_CTX_set_min_proto_version(a->challenge_ctx, TLS1_2_VERSION);
    SSL_CTX_set_session_cache_mode(a->challenge_ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(a->challenge_ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_alpn_select_cb(a->challenge_ctx, select_acme, NULL);
    SSL_CTX_set_client_hello_cb(ctx, client_hello, NULL);
    return 0;
}
