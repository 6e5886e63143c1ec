/*
 * The Authorization header parsers of mod_auth. Input: a header value as a client sends it.
 * Invariants: the scheme split stays inside the input; Basic credentials decode only from
 * canonical base64 (re-encoding them gives the input back, padding aside), split at the first
 * ':' with no NUL inside; Digest parameters are NUL-terminated strings inside the buffer with
 * the lengths given, and RFC 7616's required ones are all there.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mod/mod_auth_parse.h"

static void within(const lux_str *s, const char *buf, size_t buflen) {
    if (!s->ptr)
        return;
    if (s->ptr < buf || s->ptr + s->len >= buf + buflen || s->ptr[s->len] != '\0' ||
        strlen(s->ptr) > s->len)
        abort();
}

static size_t unpadded(const char *p, size_t n) {
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    while (n && p[n - 1] == '=')
        n--;
    return n;
}

static void check_basic(const lux_str *cred) {
    char *buf = malloc(cred->len + 1);
    lux_str user, pass;
    if (auth_parse_basic(cred->ptr, cred->len, buf, cred->len + 1, &user, &pass) == 0) {
        if (memchr(user.ptr, ':', user.len) || user.ptr + user.len + 1 != pass.ptr)
            abort();
        size_t n = user.len + 1 + pass.len;
        char *plain = malloc(n), *enc = malloc(4 * (n / 3 + 1) + 1);
        memcpy(plain, user.ptr, user.len);
        plain[user.len] = ':';
        memcpy(plain + user.len + 1, pass.ptr, pass.len);
        int m = EVP_EncodeBlock((unsigned char *)enc, (unsigned char *)plain, (int)n);
        size_t a = unpadded(enc, (size_t)m), b = unpadded(cred->ptr, cred->len);
        if (a != b || memcmp(enc, cred->ptr, a) != 0)
            abort();
        free(plain);
        free(enc);
    }
    free(buf);
}

static void check_digest(const lux_str *cred) {
    size_t buflen = cred->len + 1;
    char *buf = malloc(buflen);
    auth_digest_params d;
    if (auth_parse_digest(cred->ptr, cred->len, buf, buflen, &d) == 0) {
        if (!d.username.ptr || !d.realm.ptr || !d.nonce.ptr || !d.uri.ptr || !d.response.ptr ||
            (d.qop.ptr && (!d.cnonce.ptr || !d.nc.ptr)))
            abort();
        const lux_str *all[] = {&d.username,  &d.realm,  &d.nonce, &d.uri, &d.response,
                                &d.algorithm, &d.cnonce, &d.nc,    &d.qop, &d.opaque};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            within(all[i], buf, buflen);
        char out[65];
        size_t n = auth_digest_expected(AUTH_ALG_SHA256,
                                        "0123456789abcdef0123456789abcdef"
                                        "0123456789abcdef0123456789abcdef",
                                        &d, "GET", 3, out);
        if (n != 64 || strlen(out) != 64)
            abort();
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data;
    lux_str scheme, rest;
    if (auth_split_scheme(p, size, &scheme, &rest) < 0) {
        rest = (lux_str){p, size};
    } else if (scheme.ptr != p || rest.ptr + rest.len != p + size || scheme.len > size) {
        abort();
    }
    check_basic(&rest);
    check_digest(&rest);
    return 0;
}
