/* Authorization header parsing and Digest arithmetic for mod_auth (see mod_auth_parse.h). */
#include "mod/mod_auth_parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

size_t auth_alg_hexlen(auth_alg alg) {
    return alg == AUTH_ALG_SHA256 ? 64 : 32;
}

const char *auth_alg_name(auth_alg alg) {
    return alg == AUTH_ALG_SHA256 ? "SHA-256" : "MD5";
}

auth_alg auth_alg_parse(const char *p, size_t len) {
    if (len == 3 && strncasecmp(p, "MD5", 3) == 0)
        return AUTH_ALG_MD5;
    if (len == 7 && strncasecmp(p, "SHA-256", 7) == 0)
        return AUTH_ALG_SHA256;
    return 0;
}

static int is_blank(char c) {
    return c == ' ' || c == '\t';
}

static int is_tchar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

int auth_split_scheme(const char *p, size_t len, lux_str *scheme, lux_str *rest) {
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || (i < len && !is_blank(p[i])))
        return -1;
    *scheme = (lux_str){p, i};
    while (i < len && is_blank(p[i]))
        i++;
    *rest = (lux_str){p + i, len - i};
    return 0;
}

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 with optional padding; no blanks inside. Returns the decoded length or -1. */
static long b64_decode(const char *p, size_t len, char *out, size_t outlen) {
    while (len && is_blank(p[len - 1]))
        len--;
    size_t pad = 0;
    while (len && p[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (len % 4 == 1 || (pad && (len + pad) % 4 != 0))
        return -1;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)p[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= outlen)
                return -1;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (bits && (acc & ((1u << bits) - 1)))
        return -1; /* non-zero leftover bits: not canonical */
    return (long)n;
}

int auth_parse_basic(const char *p, size_t len, char *buf, size_t buflen, lux_str *user,
                     lux_str *pass) {
    if (buflen < 2)
        return -1;
    long n = b64_decode(p, len, buf, buflen - 1);
    if (n <= 0)
        return -1;
    char *colon = memchr(buf, ':', (size_t)n);
    if (!colon || memchr(buf, '\0', (size_t)n))
        return -1;
    *colon = '\0';
    buf[n] = '\0';
    *user = (lux_str){buf, (size_t)(colon - buf)};
    *pass = (lux_str){colon + 1, (size_t)(buf + n - colon - 1)};
    return 0;
}

static lux_str *digest_slot(auth_digest_params *d, const char *name, size_t len) {
    static const struct {
        const char *name;
        size_t off;
    } names[] = {
        {"username", offsetof(auth_digest_params, username)},
        {"realm", offsetof(auth_digest_params, realm)},
        {"nonce", offsetof(auth_digest_params, nonce)},
        {"uri", offsetof(auth_digest_params, uri)},
        {"response", offsetof(auth_digest_params, response)},
        {"algorithm", offsetof(auth_digest_params, algorithm)},
        {"cnonce", offsetof(auth_digest_params, cnonce)},
        {"nc", offsetof(auth_digest_params, nc)},
        {"qop", offsetof(auth_digest_params, qop)},
        {"opaque", offsetof(auth_digest_params, opaque)},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == len && strncasecmp(names[i].name, name, len) == 0)
            return (lux_str *)((char *)d + names[i].off);
    return NULL;
}

/* One value at p[*i]: a token or a quoted-string, unescaped into buf at *o. */
static int digest_value(const char *p, size_t len, size_t *i, char *buf, size_t *o) {
    if (*i < len && p[*i] == '"') {
        for ((*i)++; *i < len && p[*i] != '"'; (*i)++) {
            if (p[*i] == '\\' && ++*i >= len)
                return -1;
            if (p[*i] == '\0' || p[*i] == '\r' || p[*i] == '\n')
                return -1;
            buf[(*o)++] = p[*i];
        }
        if (*i >= len)
            return -1;
        (*i)++;
        return 0;
    }
    /* unquoted: a token by the grammar, but clients send uri=/path unquoted too */
    size_t start = *i;
    while (*i < len && (unsigned char)p[*i] > ' ' && p[*i] != 0x7f && p[*i] != ',' &&
           p[*i] != '"')
        buf[(*o)++] = p[(*i)++];
    return *i > start ? 0 : -1;
}

int auth_parse_digest(const char *p, size_t len, char *buf, size_t buflen,
                      auth_digest_params *out) {
    memset(out, 0, sizeof *out);
    if (buflen < len + 1)
        return -1;
    size_t i = 0, o = 0;
    for (;;) {
        while (i < len && (is_blank(p[i]) || p[i] == ','))
            i++;
        if (i >= len)
            break;
        size_t ns = i;
        while (i < len && is_tchar((unsigned char)p[i]))
            i++;
        size_t nlen = i - ns;
        while (i < len && is_blank(p[i]))
            i++;
        if (!nlen || i >= len || p[i++] != '=')
            return -1;
        while (i < len && is_blank(p[i]))
            i++;
        size_t vs = o;
        if (digest_value(p, len, &i, buf, &o) < 0)
            return -1;
        buf[o++] = '\0';
        lux_str *slot = digest_slot(out, p + ns, nlen);
        if (slot) {
            if (slot->ptr)
                return -1; /* a repeated parameter is ambiguous */
            *slot = (lux_str){buf + vs, o - 1 - vs};
        }
        while (i < len && is_blank(p[i]))
            i++;
        if (i < len && p[i] != ',')
            return -1;
    }
    if (!out->username.ptr || !out->realm.ptr || !out->nonce.ptr || !out->uri.ptr ||
        !out->response.ptr)
        return -1;
    if (out->qop.ptr && (!out->cnonce.ptr || !out->nc.ptr))
        return -1;
    return 0;
}

static void to_hex(const unsigned char *in, size_t n, char *out) {
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

size_t auth_hash_hex(auth_alg alg, const lux_str *parts, size_t n, char *out) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int ok =
        ctx && EVP_DigestInit_ex(ctx, alg == AUTH_ALG_SHA256 ? EVP_sha256() : EVP_md5(), NULL) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = (i == 0 || EVP_DigestUpdate(ctx, ":", 1) == 1) &&
             EVP_DigestUpdate(ctx, parts[i].ptr, parts[i].len) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        out[0] = '\0';
        return 0;
    }
    to_hex(md, mdlen, out);
    return 2 * (size_t)mdlen;
}

size_t auth_digest_expected(auth_alg alg, const char *ha1, const auth_digest_params *p,
                            const char *method, size_t mlen, char *out) {
    char ha2[65];
    lux_str a2[] = {{method, mlen}, p->uri};
    auth_hash_hex(alg, a2, 2, ha2);
    size_t hl = auth_alg_hexlen(alg);
    if (p->qop.ptr) {
        lux_str kd[] = {{ha1, hl}, p->nonce, p->nc, p->cnonce, p->qop, {ha2, hl}};
        return auth_hash_hex(alg, kd, 6, out);
    }
    lux_str kd[] = {{ha1, hl}, p->nonce, {ha2, hl}}; /* RFC 2069 clients send no qop */
    return auth_hash_hex(alg, kd, 3, out);
}

/* The MAC part of a nonce issued at t, in alg's hex length. */
static void nonce_mac(const uint8_t *secret, size_t slen, auth_alg alg, const char *realm,
                      size_t rlen, uint32_t t, char *out) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char msg[32];
    int n = snprintf(msg, sizeof msg, "%08x:%s:", t, auth_alg_name(alg));
    unsigned char buf[512]; /* realms longer than this share their MAC input's first part */
    size_t take = rlen < sizeof buf - (size_t)n ? rlen : sizeof buf - (size_t)n;
    memcpy(buf, msg, (size_t)n);
    memcpy(buf + n, realm, take);
    HMAC(EVP_sha256(), secret, (int)slen, buf, (size_t)n + take, md, &mdlen);
    size_t bytes = auth_alg_hexlen(alg) / 2;
    to_hex(md, bytes < mdlen ? bytes : mdlen, out);
}

size_t auth_nonce_make(const uint8_t *secret, size_t slen, auth_alg alg, const char *realm,
                       size_t rlen, uint32_t t, char *out) {
    snprintf(out, 10, "%08x:", t);
    nonce_mac(secret, slen, alg, realm, rlen, t, out + 9);
    return 9 + auth_alg_hexlen(alg);
}

int auth_nonce_check(const uint8_t *secret, size_t slen, auth_alg alg, const char *realm,
                     size_t rlen, const char *nonce, size_t nlen, uint32_t *t) {
    if (nlen != 9 + auth_alg_hexlen(alg) || nonce[8] != ':')
        return -1;
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char c = nonce[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    char mac[65];
    nonce_mac(secret, slen, alg, realm, rlen, v, mac);
    if (!auth_secret_eq(mac, strlen(mac), nonce + 9, nlen - 9))
        return -1;
    *t = v;
    return 0;
}

int auth_secret_eq(const char *a, size_t alen, const char *b, size_t blen) {
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}
