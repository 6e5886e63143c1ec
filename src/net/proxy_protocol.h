/*
 * The HAProxy PROXY protocol (versions 1 and 2): the header a proxy sends at the start of a
 * connection to name the client it relays. A pure parser (no I/O, no allocation: values point
 * into the caller's bytes), so it can be unit-tested and fuzzed; the connection reads the
 * header (src/net/conn.c) and mod_extforward says which listeners and peers use it.
 */
#ifndef LUX_PROXY_PROTOCOL_H
#define LUX_PROXY_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lux/req.h"

struct lux_gen;

/* A version 1 header is one text line of at most 107 bytes, its CRLF included. */
#define LUX_PP_V1_MAX 107
/* The fixed part of a version 2 header: signature, version and command, family, length. */
#define LUX_PP_V2_FIXED 16

/* The strings a v2 header may carry: the SSL TLV's sub-TLVs and the connection's unique ID,
 * in the order of lux_pp_fact_names, the variables lighttpd passes them on as. */
enum {
    LUX_PP_SSL_PROTOCOL, /* PP2_SUBTYPE_SSL_VERSION */
    LUX_PP_SSL_CN,       /* PP2_SUBTYPE_SSL_CN: the client certificate's subject CN */
    LUX_PP_SSL_CIPHER,   /* PP2_SUBTYPE_SSL_CIPHER */
    LUX_PP_SSL_SIG_ALG,  /* PP2_SUBTYPE_SSL_SIG_ALG: of the proxy's certificate */
    LUX_PP_SSL_KEY_ALG,  /* PP2_SUBTYPE_SSL_KEY_ALG: of the proxy's certificate */
    LUX_PP_UNIQUE_ID,    /* PP2_TYPE_UNIQUE_ID */
    LUX_PP_NFACTS,
};
extern const char *const lux_pp_fact_names[LUX_PP_NFACTS];

/* Bytes inside the parsed header, not NUL-terminated; ptr NULL when the header has none. */
typedef struct {
    const char *ptr;
    size_t len;
} lux_pp_str;

/* What a header says. */
typedef struct {
    int version; /* 1 or 2 */
    /* 0: src and dst name the client and the address it reached. 1: the proxy speaks for
     * itself (v2 LOCAL, v1 UNKNOWN, v2 UNSPEC): the connection keeps its own addresses. */
    int local;
    struct sockaddr_storage src, dst; /* AF_INET, AF_INET6 or AF_UNIX (family only) */
    /* v2 PP2_TYPE_SSL: the client reached the proxy over TLS. */
    int ssl;
    uint8_t ssl_client;  /* PP2_CLIENT_SSL (1), PP2_CLIENT_CERT_CONN (2), _CERT_SESS (4) */
    uint32_t ssl_verify; /* 0: the client's certificate was verified */
    lux_pp_str facts[LUX_PP_NFACTS];
} lux_pp_header;

/* PP2_TYPE_SSL's client bits. */
#define LUX_PP_CLIENT_SSL 0x01
#define LUX_PP_CLIENT_CERT_CONN 0x02
#define LUX_PP_CLIENT_CERT_SESS 0x04

/*
 * Parse the header at the start of buf (len bytes). Returns its length in bytes (> 0) when it
 * is complete, 0 when the bytes so far are a valid beginning of one, -1 when they cannot begin
 * or be a header (no PROXY signature, a v1 line that is too long or malformed, a v2 header with
 * an unknown version, command or family, addresses or TLVs that do not fit). Bytes after the
 * header are not looked at.
 */
long lux_pp_parse(const uint8_t *buf, size_t len, lux_pp_header *out);

/*
 * What a header said of the client's own connection to the proxy, as the connection keeps it
 * for its requests: one heap block (free() it) with NUL-terminated copies of the strings. A
 * string holding a NUL or another control byte is dropped (NULL): cut at its NUL, a CN could
 * pass for a shorter user name, and no variable may carry a line break.
 */
typedef struct lux_pp_tls {
    int ssl;           /* PP2_CLIENT_SSL: the client spoke TLS to the proxy */
    int cert_verified; /* it presented a certificate, on this connection or its session, and
                        * the proxy verified it (verify word 0) */
    char *facts[LUX_PP_NFACTS];
} lux_pp_tls;

/* The copy of what h says of the client's TLS: *out NULL when it says nothing (no SSL TLV, no
 * unique ID). 0, or -1 when memory ran out. */
int lux_pp_tls_keep(const lux_pp_header *h, lux_pp_tls **out);
/* Each string t holds, as the variable lighttpd names it (SSL_PROTOCOL, SSL_CLIENT_S_DN_CN,
 * SSL_CIPHER, SSL_SERVER_A_SIG, SSL_SERVER_A_KEY, PP2_UNIQUE_ID). */
void lux_pp_tls_env(const lux_pp_tls *t, lux_env_fn fn, void *arg);

/* Implemented by mod_extforward: must a connection accepted on listener `listener` from `peer`
 * begin with a PROXY header (extforward.hap-PROXY on that socket, peer a trusted forwarder)? */
int lux_extforward_proxy_expected(const struct lux_gen *g, const char *listener,
                                  const struct sockaddr *peer);
/* Also by mod_extforward, for a request on a connection without TLS of its own: the TLS
 * variables its PROXY header gave (lux_pp_tls_env) and, with
 * extforward.hap-PROXY-ssl-client-verify in force for r, the proxy's verdict on the client's
 * certificate (SSL_CLIENT_VERIFY "SUCCESS" with REMOTE_USER and AUTH_TYPE, or "NONE"). */
void lux_extforward_tls_env(const lux_req *r, lux_env_fn fn, void *arg);
/* The user a trusted proxy named for r: the remote_user= of its Forwarded header (with
 * extforward.params remote_user; *auth_type NULL), else the CN of the client certificate the
 * proxy verified (with extforward.hap-PROXY-ssl-client-verify; *auth_type
 * "SSL_CLIENT_VERIFY"); NULL when none. */
const char *lux_extforward_remote_user(const lux_req *r, const char **auth_type);

#endif
