/*
 * TLS over a connection's socket with OpenSSL 3. The transport moves at most one record's worth
 * of bytes per SSL_write and keeps going while the socket takes them, so a short return means
 * what it means for a plain socket: the socket is full. A write that has to be retried is
 * retried with the same bytes from the same place (OpenSSL requires it): the connection does
 * not advance past unsent bytes, and the pieces are cut the same way again.
 */
#include "net/tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event/loop.h"
#include "http/h2/h2_conn.h"
#include "lux/log.h"
#include "net/stats.h"
#include "net/worker.h"

#define RECORD 16384 /* the largest TLS record's payload */

/* TLS 1.2 suites with forward secrecy and an AEAD; TLS 1.3 suites all qualify. */
#define DEFAULT_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!SHA1"

static const char *last_ssl_error(void) {
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    return reason ? reason : "unknown error";
}

/* ALPN: "h2" when the client offers it and the listener allows HTTP/2 (server.h2proto), else
 * "http/1.1"; the connection rides on the SSL object (set with the registration below). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg) {
    static const unsigned char h2[] = "\x02h2", http11[] = "\x08http/1.1";
    const lux_conn *c = SSL_get_app_data(ssl);
    unsigned char *chosen;
    if (c && lux_h2_allowed(c) &&
        SSL_select_next_proto(&chosen, outlen, h2, sizeof h2 - 1, in, inlen) ==
            OPENSSL_NPN_NEGOTIATED) {
        *out = chosen;
        return SSL_TLSEXT_ERR_OK;
    }
    if (SSL_select_next_proto(&chosen, outlen, http11, sizeof http11 - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* no HTTP/1.1 offered: answer without ALPN */
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

static int apply_conf_cmds(SSL_CTX *ctx, const lux_tls_conf *tc, char *err, size_t el) {
    SSL_CONF_CTX *cctx = SSL_CONF_CTX_new();
    if (!cctx) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    SSL_CONF_CTX_set_flags(cctx, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER |
                                     SSL_CONF_FLAG_CERTIFICATE | SSL_CONF_FLAG_SHOW_ERRORS);
    SSL_CONF_CTX_set_ssl_ctx(cctx, ctx);
    int rc = 0;
    for (size_t i = 0; i < tc->conf_cmds.n && rc == 0; i++) {
        const lux_keyval *kv = &tc->conf_cmds.items[i];
        int r = SSL_CONF_cmd(cctx, kv->key.ptr, kv->value.ptr);
        if (r == -2) {
            snprintf(err, el, "ssl.openssl.ssl-conf-cmd: unknown command \"%s\"", kv->key.ptr);
            rc = -1;
        } else if (r <= 0) {
            snprintf(err, el, "ssl.openssl.ssl-conf-cmd: \"%s\" => \"%s\": %s", kv->key.ptr,
                     kv->value.ptr, last_ssl_error());
            rc = -1;
        }
    }
    if (rc == 0 && !SSL_CONF_CTX_finish(cctx)) {
        snprintf(err, el, "ssl.openssl.ssl-conf-cmd: %s", last_ssl_error());
        rc = -1;
    }
    SSL_CONF_CTX_free(cctx);
    return rc;
}

static void set_defaults(SSL_CTX *ctx, const lux_tls_conf *tc) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    uint64_t opts = SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF;
    if (tc->honor_cipher_order)
        opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    if (tc->disable_client_renegotiation)
        opts |= SSL_OP_NO_RENEGOTIATION;
    SSL_CTX_set_options(ctx, opts);
    /* An idle keep-alive connection gives its record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_dh_auto(ctx, 1);
    SSL_CTX_set_read_ahead(ctx, tc->read_ahead);
    /* Sessions resume from tickets alone, as in lighttpd: no per-worker session cache that
     * another worker could not see. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    lux_tls_tickets_attach(ctx);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
}

/* A certificate chain and its key into ctx (the slot of the key's type). */
static int load_pair(SSL_CTX *ctx, const char *cert, const char *cert_key, const char *key,
                     const char *key_key, char *err, size_t el) {
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(err, el, "%s: cannot load the certificate from \"%s\": %s", cert_key, cert,
                 last_ssl_error());
        return -1;
    }
    int loaded = SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1;
    if (!loaded && ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
        snprintf(err, el, "%s: cannot load the private key from \"%s\": %s", key_key, key,
                 last_ssl_error());
        return -1;
    }
    if (!loaded || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, el, "%s: the private key in \"%s\" does not match the certificate in \"%s\"",
                 key_key, key, cert);
        return -1;
    }
    return 0;
}

static int cert_key_type(X509 *x) {
    EVP_PKEY *k = x ? X509_get0_pubkey(x) : NULL;
    return k ? EVP_PKEY_get_base_id(k) : EVP_PKEY_NONE;
}

static int file_cert_key_type(const char *path) {
    FILE *f = fopen(path, "re");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    int type = cert_key_type(x);
    X509_free(x);
    if (f)
        fclose(f);
    return type;
}

/*
 * ssl.lux.alt-pemfile: a second certificate for the same names with the other key type (RSA
 * beside ECDSA); OpenSSL offers each handshake the one the client's signature algorithms
 * accept. A certificate of the same type would replace the first one: refused.
 */
static int load_alt_credentials(SSL_CTX *ctx, const lux_tls_conf *tc, char *err, size_t el) {
    const char *cert = tc->alt_pemfile.ptr;
    int first = cert_key_type(SSL_CTX_get0_certificate(ctx)), alt = file_cert_key_type(cert);
    if (alt != EVP_PKEY_NONE && alt == first) {
        snprintf(err, el,
                 "ssl.lux.alt-pemfile: the certificate in \"%s\" has the same key type as "
                 "ssl.pemfile's; the second certificate must have the other (RSA or ECDSA)",
                 cert);
        return -1;
    }
    const char *key = tc->alt_privkey.ptr ? tc->alt_privkey.ptr : cert;
    return load_pair(ctx, cert, "ssl.lux.alt-pemfile", key,
                     tc->alt_privkey.ptr ? "ssl.lux.alt-privkey" : "ssl.lux.alt-pemfile", err, el);
}

static int load_credentials(SSL_CTX *ctx, const lux_tls_conf *tc, char *err, size_t el) {
    const char *cert = tc->pemfile.ptr;
    const char *key = tc->privkey.ptr ? tc->privkey.ptr : cert;
    if (load_pair(ctx, cert, "ssl.pemfile", key, tc->privkey.ptr ? "ssl.privkey" : "ssl.pemfile",
                  err, el) < 0)
        return -1;
    if (tc->ca_file.ptr && SSL_CTX_load_verify_locations(ctx, tc->ca_file.ptr, NULL) != 1) {
        snprintf(err, el, "ssl.ca-file: cannot load \"%s\": %s", tc->ca_file.ptr, last_ssl_error());
        return -1;
    }
    return 0;
}

/* ssl.verifyclient.username names an environment variable of lighttpd's: SSL_CLIENT_S_DN_ and
 * a field of the subject, by OpenSSL's short or long name. */
#define USER_PREFIX "SSL_CLIENT_S_DN_"

/* What a context keeps of its settings for the connections on it, so that a host chosen by SNI
 * brings its own: freed with the context. */
typedef struct {
    int user_nid;    /* ssl.verifyclient.username's subject field, NID_undef: none */
    int export_cert; /* ssl.verifyclient.exportcert */
} ctx_info;

static int info_index = -1;
static pthread_once_t info_once = PTHREAD_ONCE_INIT;

static void free_info(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    free(ptr);
}

static void make_info_index(void) {
    info_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_info);
}

static const ctx_info *info_of(const SSL *ssl) {
    return info_index < 0 ? NULL : SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), info_index);
}

static int user_field_nid(const lux_str *username) {
    size_t plen = sizeof USER_PREFIX - 1;
    if (!username->ptr || username->len <= plen || strncmp(username->ptr, USER_PREFIX, plen) != 0)
        return NID_undef;
    return OBJ_txt2nid(username->ptr + plen);
}

/*
 * A client certificate's chain may hold at most ssl.verifyclient.depth certificates above it,
 * as in lighttpd; without ssl.verifyclient.enforce no failure fails the handshake (the request
 * sees it instead). Both limits are read back from the connection's own settings: its verify
 * depth is one more than ssl.verifyclient.depth, its mode says whether it is enforced.
 */
static int verify_client(int ok, X509_STORE_CTX *store) {
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (X509_STORE_CTX_get_error_depth(store) > SSL_get_verify_depth(ssl) - 1) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_CHAIN_TOO_LONG);
        ok = 0;
    }
    return ok || !(SSL_get_verify_mode(ssl) & SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
}

static int check_verify_settings(const lux_tls_conf *tc, char *err, size_t el) {
    if (!tc->ca_file.ptr) {
        snprintf(err, el,
                 "ssl.verifyclient.activate needs ssl.ca-file (the CAs trusted for "
                 "client certificates)");
        return -1;
    }
    if (tc->verify_depth < 0 || tc->verify_depth > 100) {
        snprintf(err, el, "ssl.verifyclient.depth must be between 0 and 100, not %ld",
                 tc->verify_depth);
        return -1;
    }
    if (tc->verify_username.ptr && user_field_nid(&tc->verify_username) == NID_undef) {
        snprintf(err, el,
                 "ssl.verifyclient.username: \"%s\" is not " USER_PREFIX
                 "<field> with a field of the certificate's subject (e.g. " USER_PREFIX "CN)",
                 tc->verify_username.ptr);
        return -1;
    }
    return 0;
}

/* Client certificates revoked by the CRLs in `file` (PEM) are refused, as are those whose CA
 * has no CRL there: lighttpd checks the whole chain. */
static int load_crls(SSL_CTX *ctx, const char *file, char *err, size_t el) {
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (!lookup || X509_load_crl_file(lookup, file, X509_FILETYPE_PEM) < 1) {
        snprintf(err, el, "ssl.ca-crl-file: cannot load CRLs from \"%s\": %s", file,
                 last_ssl_error());
        return -1;
    }
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    return 0;
}

/* Ask for a client certificate (ssl.verifyclient.activate), naming the CAs of ssl.ca-dn-file
 * (else ssl.ca-file) to the client. */
static int setup_client_verify(SSL_CTX *ctx, const lux_tls_conf *tc, char *err, size_t el) {
    if (check_verify_settings(tc, err, el) < 0)
        return -1;
    const char *dn_file = tc->ca_dn_file.ptr ? tc->ca_dn_file.ptr : tc->ca_file.ptr;
    const char *dn_key = tc->ca_dn_file.ptr ? "ssl.ca-dn-file" : "ssl.ca-file";
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(dn_file);
    if (!names) {
        snprintf(err, el, "%s: cannot load CA names from \"%s\": %s", dn_key, dn_file,
                 last_ssl_error());
        return -1;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    if (tc->ca_crl_file.ptr && load_crls(ctx, tc->ca_crl_file.ptr, err, el) < 0)
        return -1;
    int mode = SSL_VERIFY_PEER | (tc->verify_enforce ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(ctx, mode, verify_client);
    SSL_CTX_set_verify_depth(ctx, (int)tc->verify_depth + 1);
    /* Sessions remember the verified certificate; resuming one needs a context id. */
    static const unsigned char sid_ctx[] = "lux";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    return 0;
}

static int attach_info(SSL_CTX *ctx, const lux_tls_conf *tc, char *err, size_t el) {
    pthread_once(&info_once, make_info_index);
    ctx_info *info = malloc(sizeof *info);
    if (info_index < 0 || !info) {
        free(info);
        snprintf(err, el, "out of memory");
        return -1;
    }
    *info = (ctx_info){tc->verify_activate ? user_field_nid(&tc->verify_username) : NID_undef,
                       tc->verify_export_cert};
    if (!SSL_CTX_set_ex_data(ctx, info_index, info)) {
        free(info);
        snprintf(err, el, "out of memory");
        return -1;
    }
    return 0;
}

/* Whether the kernel takes TLS keys: the TLS ULP on a connected loopback socket (loading the
 * module if it can). */
static int kernel_has_tls_ulp(void) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof sa;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int a = -1, ok = 0;
    if (l >= 0 && c >= 0 && bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(l, 1) == 0 &&
        getsockname(l, (struct sockaddr *)&sa, &salen) == 0 &&
        connect(c, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        (a = accept4(l, NULL, NULL, SOCK_CLOEXEC)) >= 0)
        ok = setsockopt(a, SOL_TCP, TCP_ULP, "tls", 3) == 0;
    for (int *fd = (int[]){l, c, a}, i = 0; i < 3; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    return ok;
}

/* ssl.openssl.ssl-conf-cmd's Options "KTLS": said once, at start-up, whether it can work. */
static void report_ktls(SSL_CTX *ctx) {
    static atomic_flag reported = ATOMIC_FLAG_INIT;
    if (!(SSL_CTX_get_options(ctx) & SSL_OP_ENABLE_KTLS) || atomic_flag_test_and_set(&reported))
        return;
    if (kernel_has_tls_ulp())
        lux_log(LUX_LOG_INFO, "kTLS in use: the kernel encrypts what TLS connections send, and "
                              "files go out with SSL_sendfile (for the suites it supports)");
    else
        lux_log(LUX_LOG_INFO, "kTLS requested, but the kernel has no TLS ULP (modprobe tls): "
                              "OpenSSL encrypts, files are read and written as without it");
}

SSL_CTX *lux_tls_ctx_new(const lux_tls_conf *tc, char *err, size_t el) {
    if (!tc->pemfile.ptr || !tc->pemfile.len) {
        snprintf(err, el, "ssl.engine is enabled but ssl.pemfile is not set");
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, el, "cannot create a TLS context: %s", last_ssl_error());
        return NULL;
    }
    set_defaults(ctx, tc);
    const char *ciphers = tc->cipher_list.ptr ? tc->cipher_list.ptr : DEFAULT_CIPHERS;
    if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
        snprintf(err, el, "ssl.cipher-list: no usable cipher in \"%s\"", ciphers);
        goto fail;
    }
    if (attach_info(ctx, tc, err, el) < 0 || load_credentials(ctx, tc, err, el) < 0 ||
        apply_conf_cmds(ctx, tc, err, el) < 0 ||
        (tc->verify_activate && setup_client_verify(ctx, tc, err, el) < 0) ||
        (tc->stapling_file.ptr &&
         lux_tls_stapling_attach(ctx, tc->stapling_file.ptr, err, el) < 0) ||
        (tc->alt_pemfile.ptr && load_alt_credentials(ctx, tc, err, el) < 0) ||
        (tc->acme_dir.ptr && lux_tls_acme_attach(ctx, tc->acme_dir.ptr, err, el) < 0))
        goto fail;
    report_ktls(ctx);
    ERR_clear_error();
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

void lux_tls_ctx_free(void *ctx) {
    SSL_CTX_free(ctx);
}

static int select_host_ctx(SSL *ssl, int *alert, void *arg) {
    const lux_tls_sni_table *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    for (size_t i = 0; name && i < t->n; i++)
        if (strcasecmp(t->items[i].host, name) == 0) {
            SSL_set_SSL_CTX(ssl, t->items[i].ctx);
            break;
        }
    return SSL_TLSEXT_ERR_OK; /* another name, or none: the listener's certificate */
}

void lux_tls_ctx_set_sni(SSL_CTX *ctx, const lux_tls_sni_table *hosts) {
    SSL_CTX_set_tlsext_servername_callback(ctx, select_host_ctx);
    SSL_CTX_set_tlsext_servername_arg(ctx, (void *)hosts);
}

SSL_CTX *lux_tls_ctx_for(const lux_gen *g, const char *name) {
    for (size_t i = 0; i < g->nlistens; i++)
        if (g->listens[i].tls && strcmp(g->listens[i].spec, name) == 0)
            return g->listens[i].tls;
    return NULL;
}

int lux_tls_conn_start(lux_conn *c, SSL_CTX *ctx) {
    SSL *ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, c->io.fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return -1;
    }
    SSL_set_accept_state(ssl);
    SSL_set_app_data(ssl, c); /* for alpn_select */
    c->tls = (lux_conn_tls){.ssl = ssl, .buf_fd = -1};
    c->tp = &lux_tls_transport;
    return 0;
}

lux_client_cert lux_tls_client_cert(const lux_conn *c) {
    SSL *ssl = c->tls.ssl;
    if (!ssl || !(SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) || !SSL_get0_peer_certificate(ssl))
        return LUX_CLIENT_CERT_NONE;
    return SSL_get_verify_result(ssl) == X509_V_OK ? LUX_CLIENT_CERT_VERIFIED
                                                   : LUX_CLIENT_CERT_FAILED;
}

int lux_tls_client_user(const lux_conn *c, char *buf, size_t len) {
    if (lux_tls_client_cert(c) != LUX_CLIENT_CERT_VERIFIED)
        return -1;
    SSL *ssl = c->tls.ssl;
    const ctx_info *info = info_of(ssl);
    int nid = info ? info->user_nid : NID_undef;
    X509_NAME *subject = X509_get_subject_name(SSL_get0_peer_certificate(ssl));
    int n = nid == NID_undef ? -1 : X509_NAME_get_text_by_NID(subject, nid, buf, (int)len);
    /* a name with a NUL inside, or too long for buf, names nobody */
    return n >= 0 && (size_t)n < len && !memchr(buf, 0, (size_t)n) ? n : -1;
}

int lux_tls_exports_cert(const lux_conn *c) {
    const ctx_info *info = c->tls.ssl ? info_of(c->tls.ssl) : NULL;
    return info && info->export_cert;
}

/* Map a failed SSL call to the transport's convention: -1 with errno, or 0 at the end of the
 * peer's stream. Failures are the peer's doing (garbage, a vanished client) and are not logged:
 * the connection just closes. */
static ssize_t tls_failed(lux_conn *c, int rc, int reading) {
    int e = SSL_get_error(c->tls.ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        c->want = LUX_EV_READ;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        c->want = LUX_EV_WRITE;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        if (reading)
            return 0;
        errno = EPIPE;
        return -1;
    case SSL_ERROR_SSL: /* garbage, plain HTTP on the TLS port (closed, as lighttpd does) */
        errno = EPROTO;
        break;
    default:
        if (!errno || errno == EAGAIN)
            errno = ECONNRESET;
        break;
    }
    ERR_clear_error();
    return -1;
}

/* A handshake that had begun (the client sent a byte: a port probe that connects and leaves
 * is no handshake) and cannot go on. */
static int handshake_failed(lux_conn *c, int rc) {
    int e = SSL_get_error(c->tls.ssl, rc);
    return e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE &&
           BIO_number_read(SSL_get_rbio(c->tls.ssl)) > 0;
}

static ssize_t tls_read(lux_conn *c, void *buf, size_t len) {
    size_t n;
    c->want = 0;
    int handshaking = !SSL_is_init_finished(c->tls.ssl);
    int rc = SSL_read_ex(c->tls.ssl, buf, len, &n);
    if (handshaking && (SSL_is_init_finished(c->tls.ssl) || handshake_failed(c, rc)))
        lux_stats_tls_handshake(c->w->id, SSL_is_init_finished(c->tls.ssl));
    return rc > 0 ? (ssize_t)n : tls_failed(c, rc, 1);
}

static char *scratch(lux_conn *c) {
    if (!c->tls.buf)
        c->tls.buf = lux_worker_buf_get(c->w);
    return c->tls.buf;
}

/* The next piece of iov from element *i, offset skip: a large element as it is, small ones
 * gathered into one record-sized buffer (one record instead of several small ones). */
static int next_piece(lux_conn *c, const struct iovec *iov, int iovcnt, int i, size_t skip,
                      const void **p, size_t *len) {
    size_t rest = iov[i].iov_len - skip;
    if (rest >= RECORD || i == iovcnt - 1) {
        *p = (const char *)iov[i].iov_base + skip;
        *len = rest;
        return 0;
    }
    char *buf = scratch(c);
    if (!buf)
        return -1;
    c->tls.buf_fd = -1; /* no longer file bytes */
    size_t n = 0;
    for (; i < iovcnt && n < RECORD; i++, skip = 0) {
        size_t take = iov[i].iov_len - skip;
        if (take > RECORD - n)
            take = RECORD - n;
        memcpy(buf + n, (const char *)iov[i].iov_base + skip, take);
        n += take;
    }
    *p = buf;
    *len = n;
    return 0;
}

static ssize_t tls_writev(lux_conn *c, const struct iovec *iov, int iovcnt, int more) {
    size_t total = 0, skip = 0;
    int i = 0;
    c->want = 0;
    while (i < iovcnt) {
        const void *p;
        size_t len, w;
        if (next_piece(c, iov, iovcnt, i, skip, &p, &len) < 0) {
            errno = ENOMEM;
            return total ? (ssize_t)total : -1;
        }
        int rc = SSL_write_ex(c->tls.ssl, p, len, &w);
        if (rc <= 0) {
            ssize_t f = tls_failed(c, rc, 0);
            return total ? (ssize_t)total : f;
        }
        total += w;
        for (skip += w; i < iovcnt && skip >= iov[i].iov_len; i++)
            skip -= iov[i].iov_len;
    }
    return (ssize_t)total;
}

/* With kTLS the kernel encrypts: the file goes from the page cache to the socket directly. */
static ssize_t ktls_sendfile(lux_conn *c, int fd, off_t *off, size_t len) {
    c->want = 0;
    ossl_ssize_t n = SSL_sendfile(c->tls.ssl, fd, *off, len, 0);
    if (n <= 0)
        return tls_failed(c, -1, 0);
    *off += (off_t)n;
    return (ssize_t)n;
}

static ssize_t tls_sendfile(lux_conn *c, int fd, off_t *off, size_t len) {
    if (BIO_get_ktls_send(SSL_get_wbio(c->tls.ssl)))
        return ktls_sendfile(c, fd, off, len);
    size_t total = 0;
    c->want = 0;
    while (total < len) {
        lux_conn_tls *t = &c->tls;
        if (!(t->buf && t->buf_fd == fd && t->buf_off == *off && t->buf_len)) {
            char *buf = scratch(c);
            size_t want = len - total < RECORD ? len - total : RECORD;
            ssize_t n = buf ? pread(fd, buf, want, *off) : -1;
            if (n <= 0)
                return total ? (ssize_t)total : n;
            *t = (lux_conn_tls){t->ssl, buf, (size_t)n, *off, fd};
        }
        size_t w;
        int rc = SSL_write_ex(t->ssl, t->buf, t->buf_len, &w);
        if (rc <= 0) {
            ssize_t f = tls_failed(c, rc, 0);
            return total ? (ssize_t)total : f;
        }
        t->buf_len = 0;
        *off += (off_t)w;
        total += w;
    }
    return (ssize_t)total;
}

/* With ssl.read-ahead, OpenSSL may hold bytes of records it has not decrypted yet: the
 * socket will not announce them again, so they count as pending too. */
static size_t tls_pending(const lux_conn *c) {
    int n = SSL_pending(c->tls.ssl);
    return n > 0 ? (size_t)n : (size_t)SSL_has_pending(c->tls.ssl);
}

static void tls_shutdown(lux_conn *c) {
    if (SSL_is_init_finished(c->tls.ssl) && SSL_shutdown(c->tls.ssl) < 0)
        ERR_clear_error();
    shutdown(c->io.fd, SHUT_WR);
}

static void tls_close(lux_conn *c) {
    if (c->tls.buf)
        lux_worker_buf_put(c->w, c->tls.buf);
    SSL_free(c->tls.ssl);
    c->tls = (lux_conn_tls){.buf_fd = -1};
}

const lux_transport lux_tls_transport = {
    tls_read, tls_writev, tls_sendfile, tls_pending, tls_shutdown, tls_close,
};
