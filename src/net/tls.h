/*
 * TLS (OpenSSL 3) for HTTP/1.x: the server contexts mod_openssl builds for each listener of a
 * generation, and the connection transport that runs over them.
 */
#ifndef LUX_TLS_H
#define LUX_TLS_H

#include <stddef.h>

#include "core/gen.h"
#include "lux/module.h"
#include "net/conn.h"

/* ssl.openssl.ssl-conf-cmd: SSL_CONF_cmd() commands and their values, in config order. */
typedef struct {
    const lux_keyval *items;
    size_t n;
} lux_tls_conf_cmds;

/* One listener's TLS settings (mod_openssl's settings struct). */
typedef struct {
    int engine;
    lux_str pemfile, privkey, ca_file, cipher_list;
    /* ssl.lux.alt-pemfile, ssl.lux.alt-privkey: a second certificate with the other key type */
    lux_str alt_pemfile, alt_privkey;
    lux_tls_conf_cmds conf_cmds;
    int honor_cipher_order;
    int disable_client_renegotiation;
    lux_str stapling_file; /* ssl.stapling-file: the certificate's OCSP response (DER) */
    lux_str acme_dir;      /* ssl.acme-tls-1: certificates for the tls-alpn-01 challenge */
    lux_str stek_file;     /* ssl.stek-file (global only): session ticket keys */
    int read_ahead;        /* ssl.read-ahead: take whole records and more from the socket at once */
    /* Client certificates (ssl.verifyclient.*): trusted by ssl.ca-file, names of the CAs sent to
     * the client from ssl.ca-dn-file (default: ssl.ca-file). */
    int verify_activate, verify_enforce;
    long verify_depth; /* CA certificates above the client's allowed in its chain */
    lux_str ca_dn_file;
    lux_str ca_crl_file;     /* revoked client certificates (ssl.ca-crl-file) */
    lux_str verify_username; /* "SSL_CLIENT_S_DN_<field>": the subject field naming the user */
    int verify_export_cert;  /* the client certificate in PEM among the request's variables */
} lux_tls_conf;

/* A server context for these settings: certificate and key loaded and matched, TLS 1.2 and 1.3
 * only, forward-secret ciphers in server order, unless the settings say otherwise. NULL with a
 * message naming the file or setting at fault. */
struct ssl_ctx_st *lux_tls_ctx_new(const lux_tls_conf *tc, char *err, size_t errlen);
void lux_tls_ctx_free(void *ctx);

/* Session tickets: every context takes its keys from one store for the process (see
 * src/mod/openssl_tickets.c). configure() names ssl.stek-file (NULL: keys generated and rotated
 * by lux) and is called for each new generation; attach() makes a context use the store. */
void lux_tls_tickets_configure(const char *stek_file);
void lux_tls_tickets_attach(struct ssl_ctx_st *ctx);

/* Staple the OCSP response in file `path` (see src/mod/openssl_stapling.c) for the context's
 * current certificate (not for a second one loaded later); -1 only when out of memory: a
 * missing or unusable file is a warning. */
int lux_tls_stapling_attach(struct ssl_ctx_st *ctx, const char *path, char *err, size_t errlen);

/* Answer ACME tls-alpn-01 challenges from the certificates in `dir` (see
 * src/mod/openssl_acme.c); -1 only when out of memory. */
int lux_tls_acme_attach(struct ssl_ctx_st *ctx, const char *dir, char *err, size_t errlen);

/* Certificates by SNI: a listener context hands a handshake naming one of these hosts (exactly,
 * case-insensitively) to that host's context. The table must outlive the contexts. */
typedef struct {
    const char *host;
    struct ssl_ctx_st *ctx;
} lux_tls_sni_host;

typedef struct {
    lux_tls_sni_host *items;
    size_t n;
} lux_tls_sni_table;

void lux_tls_ctx_set_sni(struct ssl_ctx_st *ctx, const lux_tls_sni_table *hosts);

/* The TLS context of the listener named `name` in g, or NULL when it speaks plain HTTP. */
struct ssl_ctx_st *lux_tls_ctx_for(const lux_gen *g, const char *name);

/* What the handshake made of the client's certificate (see lux_req_client_cert). */
lux_client_cert lux_tls_client_cert(const lux_conn *c);
/* The verified client certificate's subject field named by ssl.verifyclient.username, written
 * to buf (NUL-terminated); its length, or -1 when there is none (no username configured, no
 * verified certificate, no such field, or it does not fit). */
int lux_tls_client_user(const lux_conn *c, char *buf, size_t len);

/* ssl.verifyclient.exportcert is set for the connection's context (its SNI host's, if any). */
int lux_tls_exports_cert(const lux_conn *c);

/* Turn a freshly accepted connection into a TLS one (server side, handshake pending). */
int lux_tls_conn_start(lux_conn *c, struct ssl_ctx_st *ctx);

extern const lux_transport lux_tls_transport;

/* mod_openssl: the ssl.* directives. */
extern const lux_module lux_mod_openssl;
/* Give every listener whose settings say ssl.engine = "enable" its TLS context (freed with g).
 * On error -1 with a message that names the listener and the file or setting at fault. */
int lux_openssl_setup_listeners(lux_gen *g, char *err, size_t errlen);
/* The settings a handshake on listener `spec` naming `host` (NULL: no SNI) gets: the global
 * values, then each matching $SERVER["socket"] and $HTTP["host"] block in config order. Only
 * with mod_openssl enabled in g. */
void lux_openssl_conf_for(const lux_gen *g, const char *spec, const char *host, lux_tls_conf *out);

#endif
