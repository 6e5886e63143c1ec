/*
 * The server side of a TLS handshake: lux's SSL_CTX (lux_tls_ctx_new: protocol floor, suites,
 * ticket keys, ALPN) answering fuzzed client bytes through memory BIOs, then reading whatever
 * application data follows. It must never crash or leak, whatever the client sends.
 * The certificate is a P-256 key signed by itself, made once at start.
 */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/tls.h"

static SSL_CTX *ctx;

static X509 *self_signed(EVP_PKEY *key) {
    X509 *x = X509_new();
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    if (!name || !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1,
                                    0) ||
        !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, key) ||
        !X509_sign(x, key, EVP_sha256()))
        abort();
    return x;
}

/* lux_tls_ctx_new reads its certificate and key from a file, as the config names it. */
static void write_credentials(const char *path) {
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = key ? self_signed(key) : NULL;
    FILE *f = fopen(path, "w");
    if (!x || !f || !PEM_write_X509(f, x) ||
        !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
        abort();
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char path[] = "/tmp/fuzz_tls_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    close(fd);
    write_credentials(path);
    lux_tls_conf tc = {.pemfile = {path, strlen(path)},
                       .honor_cipher_order = 1,
                       .disable_client_renegotiation = 1};
    char err[512];
    ctx = lux_tls_ctx_new(&tc, err, sizeof err);
    unlink(path);
    if (!ctx) {
        fprintf(stderr, "fuzz_tls: %s\n", err);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    SSL *ssl = SSL_new(ctx);
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    if (!ssl || !in || !out)
        abort();
    BIO_write(in, data, (int)size);
    BIO_set_mem_eof_return(in, -1); /* no more bytes yet, as a non-blocking socket says */
    SSL_set_bio(ssl, in, out);
    SSL_set_accept_state(ssl);
    char buf[4096];
    size_t n;
    for (int i = 0; i < 8; i++) /* handshake, then application data, until nothing moves */
        if (SSL_read_ex(ssl, buf, sizeof buf, &n) <= 0 &&
            SSL_get_error(ssl, 0) != SSL_ERROR_WANT_WRITE)
            break;
    SSL_free(ssl);
    ERR_clear_error();
    return 0;
}
