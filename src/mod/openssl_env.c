/*
 * The TLS variables of a request (lux_req_tls_env), as lighttpd's mod_openssl puts them into
 * the environment of CGI and FastCGI, and the access log reads them with %{NAME}e.
 */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "lux/req.h"
#include "net/conn.h"
#include "net/proxy_protocol.h"
#include "net/tls.h"

typedef struct {
    lux_env_fn fn;
    void *arg;
} env_out;

static void emit(const env_out *o, const char *name, const char *value, size_t vlen) {
    o->fn(o->arg, name, strlen(name), value, vlen);
}

static void emit_str(const env_out *o, const char *name, const char *value) {
    emit(o, name, value, strlen(value));
}

/* Print something into a memory BIO and hand its bytes over as one variable. */
static int emit_bio(const env_out *o, const char *name, BIO *bio) {
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    if (n < 0)
        return -1;
    emit(o, name, p, (size_t)n);
    return 0;
}

/* A name on one line as lighttpd shows it: "O = lux tests, CN = alice". */
static int emit_name(const env_out *o, const char *var, const X509_NAME *xn) {
    BIO *bio = BIO_new(BIO_s_mem());
    int rc =
        bio && X509_NAME_print_ex(bio, xn, 0, XN_FLAG_ONELINE) >= 0 ? emit_bio(o, var, bio) : -1;
    BIO_free(bio);
    return rc;
}

/* SSL_CLIENT_S_DN_<short name> for every field of the subject, as stored (no escaping). */
static void emit_name_fields(const env_out *o, const X509_NAME *xn) {
    static const char prefix[] = "SSL_CLIENT_S_DN_";
    char var[sizeof prefix + 64];
    for (int i = 0, n = X509_NAME_entry_count(xn); i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(xn, i);
        const char *sn = e ? OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e))) : NULL;
        if (!sn || strlen(sn) >= sizeof var - sizeof prefix)
            continue;
        snprintf(var, sizeof var, "%s%s", prefix, sn);
        const ASN1_STRING *d = X509_NAME_ENTRY_get_data(e);
        emit(o, var, (const char *)ASN1_STRING_get0_data(d), (size_t)ASN1_STRING_length(d));
    }
}

static int emit_serial(const env_out *o, const X509 *x) {
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        emit_str(o, "SSL_CLIENT_M_SERIAL", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    return hex ? 0 : -1;
}

/* "Nov 29 17:56:38 2026 GMT", as mod_ssl shows validity dates. */
static int emit_time(const env_out *o, const char *var, const ASN1_TIME *t) {
    BIO *bio = BIO_new(BIO_s_mem());
    int rc = bio && ASN1_TIME_print(bio, t) == 1 ? emit_bio(o, var, bio) : -1;
    BIO_free(bio);
    return rc;
}

static int emit_pem(const env_out *o, X509 *x) {
    BIO *bio = BIO_new(BIO_s_mem());
    int rc = bio && PEM_write_bio_X509(bio, x) == 1 ? emit_bio(o, "SSL_CLIENT_CERT", bio) : -1;
    BIO_free(bio);
    return rc;
}

/* REMOTE_USER and AUTH_TYPE from the field ssl.verifyclient.username names. */
static void emit_user(const env_out *o, const lux_conn *c) {
    char user[256];
    int n = lux_tls_client_user(c, user, sizeof user);
    if (n < 0)
        return;
    emit(o, "REMOTE_USER", user, (size_t)n);
    emit_str(o, "AUTH_TYPE", "SSL_CLIENT_VERIFY");
}

/* lighttpd names a failed verification with OpenSSL's error string for the verify result. */
static void emit_verify_failed(const env_out *o, long result) {
    char reason[256], value[sizeof reason + 8];
    ERR_error_string_n((unsigned long)result, reason, sizeof reason);
    snprintf(value, sizeof value, "FAILED:%s", reason);
    emit_str(o, "SSL_CLIENT_VERIFY", value);
}

static int emit_client(const env_out *o, const lux_conn *c) {
    SSL *ssl = c->tls.ssl;
    long result = SSL_get_verify_result(ssl);
    X509 *x = SSL_get0_peer_certificate(ssl);
    if (result != X509_V_OK) {
        emit_verify_failed(o, result);
        return 0;
    }
    if (!x) {
        emit_str(o, "SSL_CLIENT_VERIFY", "NONE");
        return 0;
    }
    emit_str(o, "SSL_CLIENT_VERIFY", "SUCCESS");
    const X509_NAME *subject = X509_get_subject_name(x);
    int rc = emit_name(o, "SSL_CLIENT_S_DN", subject);
    emit_name_fields(o, subject);
    rc |= emit_name(o, "SSL_CLIENT_I_DN", X509_get_issuer_name(x));
    rc |= emit_serial(o, x);
    rc |= emit_time(o, "SSL_CLIENT_V_START", X509_get0_notBefore(x));
    rc |= emit_time(o, "SSL_CLIENT_V_END", X509_get0_notAfter(x));
    emit_user(o, c);
    if (lux_tls_exports_cert(c))
        rc |= emit_pem(o, x);
    return rc;
}

static void emit_session(const env_out *o, SSL *ssl) {
    emit_str(o, "HTTPS", "on");
    emit_str(o, "SSL_PROTOCOL", SSL_get_version(ssl));
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    if (!cipher)
        return;
    emit_str(o, "SSL_CIPHER", SSL_CIPHER_get_name(cipher));
    int alg_bits, use_bits = SSL_CIPHER_get_bits(cipher, &alg_bits);
    char num[16];
    snprintf(num, sizeof num, "%d", use_bits);
    emit_str(o, "SSL_CIPHER_USEKEYSIZE", num);
    snprintf(num, sizeof num, "%d", alg_bits);
    emit_str(o, "SSL_CIPHER_ALGKEYSIZE", num);
}

int lux_req_tls_env(const lux_req *r, lux_env_fn fn, void *arg) {
    const lux_conn *c = r->conn;
    if (c && !c->tls.ssl)
        lux_extforward_tls_env(r, fn, arg); /* the client's TLS, if any, ended at a proxy */
    if (!c || !c->tls.ssl)
        return 0;
    env_out o = {fn, arg};
    emit_session(&o, c->tls.ssl);
    int rc = SSL_get_verify_mode(c->tls.ssl) & SSL_VERIFY_PEER ? emit_client(&o, c) : 0;
    ERR_clear_error();
    return rc ? -1 : 0;
}
