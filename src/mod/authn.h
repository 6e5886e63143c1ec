/*
 * mod_authn_file's side of authentication: the user files (htpasswd, htdigest, plain), read
 * again when they change, and the password hashes htpasswd files hold.
 */
#ifndef LUX_AUTHN_H
#define LUX_AUTHN_H

#include <stddef.h>

#include "lux/module.h"

typedef enum { AUTHN_NONE = 0, AUTHN_HTPASSWD, AUTHN_HTDIGEST, AUTHN_PLAIN } authn_backend;

/* mod_authn_file's settings: the file of each backend. */
typedef struct {
    lux_str htpasswd, htdigest, plain;
} authn_file_conf;

extern const lux_module lux_mod_authn_file;

/*
 * Look user up in a user file of the given kind and copy its secret into out (NUL-terminated):
 * htpasswd: the hash; plain: the password; htdigest: HA1 in hex for `realm`, of hexlen digits
 * (32 MD5, 64 SHA-256). 1 found, 0 not found, -1 the file cannot be read (logged).
 */
int authn_file_lookup(const char *path, authn_backend kind, const lux_str *user,
                      const lux_str *realm, size_t hexlen, char *out, size_t outlen);

/* The same over a user file's bytes (len of them at data, not NUL-terminated): the first line
 * (LF or CRLF ended) that is the user's. 1 found, 0 not (or its secret does not fit out). A
 * pure function, for the fuzz driver. */
int authn_lines_find(const char *data, size_t len, authn_backend kind, const lux_str *user,
                     const lux_str *realm, size_t hexlen, char *out, size_t outlen);

/* Does checking a password against this htpasswd hash cost enough to leave the event loop
 * (everything crypt(3) computes)? {SHA} and $apr1$ are computed here, cheaply. */
int authn_hash_is_costly(const char *hash);
/* Check pass against an htpasswd hash, in constant time over the result: 1 match, 0 not. */
int authn_hash_verify(const char *hash, const char *pass, size_t plen);

/* Apache's $apr1$ (MD5-crypt with its own magic) of pass with salt (up to 8 characters, up to
 * a '$'), "$apr1$salt$hash" into out (at least 40 bytes). Returns the length. */
size_t authn_apr1(const char *pass, size_t plen, const char *salt, size_t slen, char *out);

#endif
