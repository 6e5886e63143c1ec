/*
 * The user files of mod_authn_file (htpasswd, htdigest, plain) and the htpasswd hashes.
 * Input: a selector byte, then a user, a realm and a password, each ended by a NUL, then the
 * file's bytes. Invariants: a secret found is the rest of a line of the file that starts with
 * "user:" (htdigest: "user:realm:" and exactly hexlen digits), so no line can lend its secret to
 * another user; lookups are deterministic; checking a password against a cheap htpasswd hash
 * ({SHA}, $apr1$, anything not crypt(3)'s) neither crashes nor depends on more than its inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mod/authn.h"

/* The next NUL-ended field of the input, or NULL when there is none. */
static const char *field(const uint8_t **p, const uint8_t *end, size_t *len) {
    const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));
    if (!nul)
        return NULL;
    const char *f = (const char *)*p;
    *len = (size_t)(nul - *p);
    *p = nul + 1;
    return f;
}

/* Is secret (slen bytes) the rest of a line of data that begins with prefix? */
static int from_a_line(const char *data, size_t len, const char *prefix, size_t plen,
                       const char *secret, size_t slen) {
    for (size_t i = 0; i + plen + slen <= len; i++) {
        if (i > 0 && data[i - 1] != '\n')
            continue;
        if (memcmp(data + i, prefix, plen) || memcmp(data + i + plen, secret, slen))
            continue;
        size_t e = i + plen + slen;
        if (e == len || data[e] == '\n' ||
            (data[e] == '\r' && (e + 1 == len || data[e + 1] == '\n')))
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1, *end = data + size;
    authn_backend kind = (authn_backend)(AUTHN_HTPASSWD + data[0] % 3);
    size_t hexlen = data[0] & 0x80 ? 64 : 32;
    size_t ulen, rlen, plen;
    const char *user = field(&p, end, &ulen);
    const char *realm = user ? field(&p, end, &rlen) : NULL;
    const char *pass = realm ? field(&p, end, &plen) : NULL;
    if (!pass)
        return 0;
    const char *file = (const char *)p;
    size_t flen = (size_t)(end - p);
    lux_str u = {user, ulen}, r = {realm, rlen};
    char out[256], again[256];
    int found = authn_lines_find(file, flen, kind, &u, &r, hexlen, out, sizeof out);
    if (found != authn_lines_find(file, flen, kind, &u, &r, hexlen, again, sizeof again))
        abort();
    if (!found)
        return 0;
    if (strcmp(out, again) != 0)
        abort();
    size_t slen = strlen(out);
    char *prefix = malloc(ulen + rlen + 2);
    if (!prefix)
        return 0;
    memcpy(prefix, user, ulen);
    prefix[ulen] = ':';
    size_t n = ulen + 1;
    if (kind == AUTHN_HTDIGEST) {
        if (slen != hexlen)
            abort();
        memcpy(prefix + n, realm, rlen);
        prefix[n + rlen] = ':';
        n += rlen + 1;
    }
    if (memchr(out, '\n', slen) || !from_a_line(file, flen, prefix, n, out, slen))
        abort();
    free(prefix);
    if (kind == AUTHN_HTPASSWD && !authn_hash_is_costly(out)) {
        int a = authn_hash_verify(out, pass, plen);
        if (a != authn_hash_verify(out, pass, plen) || (a != 0 && a != 1))
            abort();
    }
    return 0;
}
