/*
 * OCSP stapling from a file (ssl.stapling-file): a DER OCSP response for the context's
 * certificate, fetched by something else (e.g. `openssl ocsp` from cron). As in lighttpd, the
 * file is read at start, then again when its mtime changes, looked at no more than once per
 * 64-second period of the wall clock (by the first handshake that asks for a response); a
 * response past its nextUpdate is not sent.
 */
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "net/tls.h"

#define CHECK_PERIOD 64    /* seconds */
#define MAX_RESPONSE 65536 /* an OCSP response is a few KiB */

typedef struct {
    pthread_mutex_t lock; /* the workers share the context */
    char *path;
    const X509 *cert;   /* the certificate the response is about */
    unsigned char *der; /* NULL: nothing to send */
    size_t len;
    time_t mtime;       /* of the file read last */
    time_t next_update; /* 0: the response gives none */
    long checked;       /* the 64-second period last looked at */
} stapling;

static int index_ = -1;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void free_stapling(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                          void *argp) {
    stapling *st = ptr;
    if (!st)
        return;
    pthread_mutex_destroy(&st->lock);
    free(st->path);
    free(st->der);
    free(st);
}

static void make_index(void) {
    index_ = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_stapling);
}

static time_t asn1_to_time(const ASN1_GENERALIZEDTIME *t) {
    struct tm tm;
    return t && ASN1_TIME_to_tm(t, &tm) == 1 ? timegm(&tm) : 0;
}

/* A successful OCSP response's earliest nextUpdate; -1 when der is no such response. */
static time_t response_next_update(const unsigned char *der, size_t len) {
    const unsigned char *p = der;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
    OCSP_BASICRESP *basic = NULL;
    time_t next = -1;
    if (resp && OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL &&
        (basic = OCSP_response_get1_basic(resp)) != NULL) {
        next = 0;
        for (int i = 0; i < OCSP_resp_count(basic); i++) {
            ASN1_GENERALIZEDTIME *nu = NULL;
            OCSP_single_get0_status(OCSP_resp_get0(basic, i), NULL, NULL, NULL, &nu);
            time_t t = asn1_to_time(nu);
            if (t && (!next || t < next))
                next = t;
        }
    }
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
    ERR_clear_error();
    return next;
}

/* Read the file into st (lock held); -1 with a reason when it cannot be used. */
static int load(stapling *st, const struct stat *sb, const char **why) {
    FILE *f = fopen(st->path, "rbe");
    unsigned char *buf = malloc(MAX_RESPONSE);
    size_t n = f && buf ? fread(buf, 1, MAX_RESPONSE, f) : 0;
    if (f)
        fclose(f);
    time_t next = n && n < MAX_RESPONSE ? response_next_update(buf, n) : -1;
    if (next < 0) {
        free(buf);
        *why = !f ? "cannot be read" : "holds no successful OCSP response (DER)";
        return -1;
    }
    free(st->der);
    st->der = buf;
    st->len = n;
    st->mtime = sb->st_mtime;
    st->next_update = next;
    return 0;
}

/* Once per period: read the file again if it changed, forget an expired response. */
static void refresh(stapling *st, time_t now) {
    if (now / CHECK_PERIOD == st->checked)
        return;
    st->checked = now / CHECK_PERIOD;
    struct stat sb;
    const char *why;
    if (stat(st->path, &sb) == 0 && sb.st_mtime != st->mtime)
        load(st, &sb, &why); /* a file being rewritten: the old response stays */
}

static int status_cb(SSL *ssl, void *arg) {
    stapling *st = index_ < 0 ? NULL : SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), index_);
    if (!st || SSL_get_tlsext_status_type(ssl) != TLSEXT_STATUSTYPE_ocsp ||
        SSL_get_certificate(ssl) != st->cert)
        return SSL_TLSEXT_ERR_NOACK;
    time_t now = time(NULL);
    pthread_mutex_lock(&st->lock);
    refresh(st, now);
    int fresh = st->der && (!st->next_update || st->next_update >= now);
    unsigned char *copy = fresh ? OPENSSL_malloc(st->len) : NULL;
    size_t len = st->len;
    if (copy)
        memcpy(copy, st->der, len);
    pthread_mutex_unlock(&st->lock);
    if (!copy)
        return SSL_TLSEXT_ERR_NOACK;
    if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)len) != 1) {
        OPENSSL_free(copy);
        ERR_clear_error();
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

int lux_tls_stapling_attach(struct ssl_ctx_st *ctx, const char *path, char *err, size_t el) {
    pthread_once(&index_once, make_index);
    stapling *st = calloc(1, sizeof *st);
    if (index_ < 0 || !st || !(st->path = strdup(path)) || !SSL_CTX_set_ex_data(ctx, index_, st)) {
        if (st)
            free(st->path);
        free(st);
        snprintf(err, el, "out of memory");
        return -1;
    }
    pthread_mutex_init(&st->lock, NULL);
    st->cert = SSL_CTX_get0_certificate(ctx);
    time_t now = time(NULL);
    st->checked = now / CHECK_PERIOD;
    struct stat sb;
    const char *why = "cannot be read";
    /* as lighttpd: no usable response yet is not fatal, one may come later */
    if (stat(path, &sb) != 0 || load(st, &sb, &why) < 0)
        fprintf(stderr,
                "warning: ssl.stapling-file \"%s\" %s; no OCSP response is sent until "
                "it changes\n",
                path, why);
    else if (st->next_update && st->next_update < now)
        fprintf(stderr, "warning: ssl.stapling-file \"%s\" has expired\n", path);
    SSL_CTX_set_tlsext_status_cb(ctx, status_cb);
    return 0;
}
