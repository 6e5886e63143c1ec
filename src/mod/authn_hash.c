/* Password hashes of htpasswd files: {SHA}, $apr1$ here, the rest through crypt_r(3). */
#include <crypt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "mod/authn.h"

static const char itoa64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static char *to64(char *out, uint32_t v, int n) {
    while (n-- > 0) {
        *out++ = itoa64[v & 0x3f];
        v >>= 6;
    }
    return out;
}

/* MD5 fetched from its provider once: EVP_md5() makes every EVP_DigestInit_ex fetch it again
 * (a lookup with locks and allocations), and MD5-crypt initialises a thousand and two digests,
 * which made that fetch most of an $apr1$ check. */
static EVP_MD *md5_fetched;
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;

static void fetch_md5(void) {
    md5_fetched = EVP_MD_fetch(NULL, "MD5", NULL);
}

static const EVP_MD *md5(void) {
    pthread_once(&md5_once, fetch_md5);
    return md5_fetched ? md5_fetched : EVP_md5();
}

static void md5_of(EVP_MD_CTX *ctx, unsigned char *md) {
    unsigned n;
    EVP_DigestFinal_ex(ctx, md, &n);
}

/* Poul-Henning Kamp's MD5-crypt, as Apache's apr1 uses it with the magic "$apr1$". */
size_t authn_apr1(const char *pass, size_t plen, const char *salt, size_t slen, char *out) {
    static const char magic[] = "$apr1$";
    const size_t mlen = sizeof magic - 1;
    if (slen >= mlen && memcmp(salt, magic, mlen) == 0) {
        salt += mlen;
        slen -= mlen;
    }
    const char *end = memchr(salt, '$', slen);
    if (end)
        slen = (size_t)(end - salt);
    if (slen > 8)
        slen = 8;
    unsigned char fin[16];
    const EVP_MD *md = md5();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new(), *alt = EVP_MD_CTX_new();
    if (!ctx || !alt) {
        EVP_MD_CTX_free(ctx);
        EVP_MD_CTX_free(alt);
        out[0] = '\0';
        return 0;
    }
    EVP_DigestInit_ex2(ctx, md, NULL);
    EVP_DigestUpdate(ctx, pass, plen);
    EVP_DigestUpdate(ctx, magic, mlen);
    EVP_DigestUpdate(ctx, salt, slen);
    EVP_DigestInit_ex2(alt, md, NULL);
    EVP_DigestUpdate(alt, pass, plen);
    EVP_DigestUpdate(alt, salt, slen);
    EVP_DigestUpdate(alt, pass, plen);
    md5_of(alt, fin);
    for (size_t left = plen; left > 0; left -= left > 16 ? 16 : left)
        EVP_DigestUpdate(ctx, fin, left > 16 ? 16 : left);
    memset(fin, 0, sizeof fin);
    for (size_t i = plen; i; i >>= 1)
        EVP_DigestUpdate(ctx, (i & 1) ? (const void *)fin : (const void *)pass, 1);
    md5_of(ctx, fin);
    for (int i = 0; i < 1000; i++) {
        EVP_DigestInit_ex2(alt, md, NULL);
        if (i & 1)
            EVP_DigestUpdate(alt, pass, plen);
        else
            EVP_DigestUpdate(alt, fin, 16);
        if (i % 3)
            EVP_DigestUpdate(alt, salt, slen);
        if (i % 7)
            EVP_DigestUpdate(alt, pass, plen);
        if (i & 1)
            EVP_DigestUpdate(alt, fin, 16);
        else
            EVP_DigestUpdate(alt, pass, plen);
        md5_of(alt, fin);
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_CTX_free(alt);
    char *o = out;
    memcpy(o, magic, mlen);
    o += mlen;
    memcpy(o, salt, slen);
    o += slen;
    *o++ = '$';
    static const int groups[5][3] = {{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}};
    for (int g = 0; g < 5; g++)
        o = to64(o,
                 (uint32_t)fin[groups[g][0]] << 16 | (uint32_t)fin[groups[g][1]] << 8 |
                     fin[groups[g][2]],
                 4);
    o = to64(o, fin[11], 2);
    *o = '\0';
    return (size_t)(o - out);
}

/* "{SHA}" + base64(SHA-1(pass)), as htpasswd -s writes it. */
static int verify_sha1(const char *hash, const char *pass, size_t plen) {
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)pass, plen, md);
    unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    int n = EVP_EncodeBlock(b64, md, SHA_DIGEST_LENGTH);
    const char *want = hash + 5;
    size_t wlen = strlen(want);
    return n > 0 && wlen == (size_t)n && CRYPTO_memcmp(b64, want, wlen) == 0;
}

static int verify_apr1(const char *hash, const char *pass, size_t plen) {
    char got[64];
    size_t n = authn_apr1(pass, plen, hash, strlen(hash), got);
    size_t hlen = strlen(hash);
    return n && n == hlen && CRYPTO_memcmp(got, hash, n) == 0;
}

/* crypt_r's work area is large (tens of KiB): on the heap, not a pool thread's stack. */
static int verify_crypt(const char *hash, const char *pass) {
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        return 0;
    const char *got = crypt_r(pass, hash, cd);
    size_t hlen = strlen(hash);
    /* libxcrypt answers a failure with a string starting with '*', never a valid hash */
    int ok = got && got[0] != '*' && strlen(got) == hlen && CRYPTO_memcmp(got, hash, hlen) == 0;
    free(cd);
    return ok;
}

int authn_hash_is_costly(const char *hash) {
    return strncmp(hash, "{SHA}", 5) != 0 && strncmp(hash, "$apr1$", 6) != 0;
}

int authn_hash_verify(const char *hash, const char *pass, size_t plen) {
    if (strncmp(hash, "{SHA}", 5) == 0)
        return verify_sha1(hash, pass, plen);
    if (strncmp(hash, "$apr1$", 6) == 0)
        return verify_apr1(hash, pass, plen);
    if (memchr(pass, '\0', plen))
        return 0; /* crypt(3) would see a shorter password */
    return verify_crypt(hash, pass);
}
