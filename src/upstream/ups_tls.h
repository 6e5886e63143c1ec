/*
 * TLS to a backend (OpenSSL 3, the client side): a context per backend built once per
 * configuration generation, and the handshake, reads and writes of a backend connection over
 * it (upstream.c's transport seam calls these for a connection that has a session).
 *
 * The context verifies the backend's certificate (the system's CAs or a CA file) and its name
 * (the backend's host, or tls-server-name, also sent as SNI unless it is an IP address), may
 * present a client certificate, and keeps the backend's latest session to resume the next
 * connection with. Reads follow read(2): bytes, 0 at the end, -1 with errno (EAGAIN: wait).
 */
#ifndef LUX_UPS_TLS_H
#define LUX_UPS_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "lux/module.h"

typedef struct lux_ups_tls lux_ups_tls;
struct ssl_st;

typedef struct {
    int verify;              /* the certificate and its name are checked (default) */
    const char *ca_file;     /* NULL: the system's CAs */
    const char *server_name; /* NULL: the backend's host */
    const char *client_pemfile, *client_privkey; /* privkey NULL: in the pemfile */
} lux_ups_tls_conf;

/* A client context for a backend whose configured host is host; freed with gen. NULL with a
 * message naming the file or setting at fault. */
lux_ups_tls *lux_ups_tls_new(lux_gen *gen, const lux_ups_tls_conf *c, const char *host, char *err,
                             size_t errlen);

/* A session over the socket fd (connecting or connected), resuming the last one when there is
 * one; NULL out of memory. */
struct ssl_st *lux_ups_tls_session(lux_ups_tls *t, int fd);
/* Take the handshake on: 0 done; 1 to be called again once the socket is ready for *events
 * (LUX_EV_READ or LUX_EV_WRITE); -1 failed, why in `why`. */
int lux_ups_tls_handshake(struct ssl_st *ssl, unsigned *events, char *why, size_t whylen);
ssize_t lux_ups_tls_read(struct ssl_st *ssl, void *buf, size_t len);
ssize_t lux_ups_tls_write(struct ssl_st *ssl, const void *buf, size_t len);
/* The socket of an idle connection became readable: 1 when the backend only sent TLS messages
 * (a session ticket) and the connection stays usable, 0 when it closed or spoke out of turn. */
int lux_ups_tls_idle_ok(struct ssl_st *ssl);
/* Say close_notify (without waiting) and free the session; the caller closes the socket. */
void lux_ups_tls_close(struct ssl_st *ssl);

#endif
