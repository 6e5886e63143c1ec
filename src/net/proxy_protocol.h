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

struct lux_gen;

/* A version 1 header is one text line of at most 107 bytes, its CRLF included. */
#define LUX_PP_V1_MAX 107
/* The fixed part of a version 2 header: signature, version and command, family, length. */
#define LUX_PP_V2_FIXED 16

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
    const char *ssl_version, *ssl_cn; /* not NUL-terminated; NULL when absent */
    size_t ssl_version_len, ssl_cn_len;
} lux_pp_header;

/*
 * Parse the header at the start of buf (len bytes). Returns its length in bytes (> 0) when it
 * is complete, 0 when the bytes so far are a valid beginning of one, -1 when they cannot begin
 * or be a header (no PROXY signature, a v1 line that is too long or malformed, a v2 header with
 * an unknown version, command or family, addresses or TLVs that do not fit). Bytes after the
 * header are not looked at.
 */
long lux_pp_parse(const uint8_t *buf, size_t len, lux_pp_header *out);

/* Implemented by mod_extforward: must a connection accepted on listener `listener` from `peer`
 * begin with a PROXY header (extforward.hap-PROXY on that socket, peer a trusted forwarder)? */
int lux_extforward_proxy_expected(const struct lux_gen *g, const char *listener,
                                  const struct sockaddr *peer);

#endif
