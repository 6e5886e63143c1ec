/*
 * mod_auth's pure parts: the Authorization header parsers (Basic, RFC 7617; Digest, RFC 7616)
 * and the Digest computations. No request, no I/O: the fuzz driver and unit tests call them.
 */
#ifndef LUX_MOD_AUTH_PARSE_H
#define LUX_MOD_AUTH_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "lux/module.h"

typedef enum { AUTH_ALG_MD5 = 1, AUTH_ALG_SHA256 = 2 } auth_alg;

/* Hex length of a digest of alg (32 or 64), and its name as RFC 7616 spells it. */
size_t auth_alg_hexlen(auth_alg alg);
const char *auth_alg_name(auth_alg alg);
/* "MD5" / "SHA-256" (case-insensitive) to an algorithm; 0 when unknown. */
auth_alg auth_alg_parse(const char *p, size_t len);

/* "Basic dXNlcjpwYXNz": split off the scheme token. Returns 0 and sets scheme and the rest
 * (credentials, leading blanks skipped, possibly empty); -1 when there is no token. */
int auth_split_scheme(const char *p, size_t len, lux_str *scheme, lux_str *rest);

/* Basic credentials: base64 of "user:password", decoded into buf (at least len bytes), both
 * parts NUL-terminated there. 0, or -1 when the base64 is bad or there is no ':'. */
int auth_parse_basic(const char *p, size_t len, char *buf, size_t buflen, lux_str *user,
                     lux_str *pass);

typedef struct {
    lux_str username, realm, nonce, uri, response, algorithm, cnonce, nc, qop, opaque;
} auth_digest_params;

/* Digest parameters (comma-separated name=token or name="quoted", escapes undone), copied into
 * buf (at least len + 1 bytes). 0, or -1 when the syntax is bad, a parameter repeats, or one
 * that RFC 7616 requires is missing (cnonce and nc when qop is given). */
int auth_parse_digest(const char *p, size_t len, char *buf, size_t buflen, auth_digest_params *out);

/* Lower-case hex of H(parts[0] ":" parts[1] ":" ...) into out (65 bytes); its length. */
size_t auth_hash_hex(auth_alg alg, const lux_str *parts, size_t n, char *out);
/* The response a client must send (RFC 7616 3.4.1, qop=auth or none) given HA1 in hex. */
size_t auth_digest_expected(auth_alg alg, const char *ha1, const auth_digest_params *p,
                            const char *method, size_t mlen, char *out);

/* A server nonce: "tttttttt:" (issue time, hex seconds) and a MAC of time, realm and algorithm
 * under secret, in alg's hex length. out holds 9 + 64 + 1 bytes. Returns its length. */
size_t auth_nonce_make(const uint8_t *secret, size_t slen, auth_alg alg, const char *realm,
                       size_t rlen, uint32_t t, char *out);
/* Check a nonce's MAC: 0 when it is ours (then *t is its issue time), -1 when not. */
int auth_nonce_check(const uint8_t *secret, size_t slen, auth_alg alg, const char *realm,
                     size_t rlen, const char *nonce, size_t nlen, uint32_t *t);

/* Constant-time equality of two strings (lengths compared first, they are not secret). */
int auth_secret_eq(const char *a, size_t alen, const char *b, size_t blen);

#endif
