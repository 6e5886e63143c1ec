/*
 * mod_secdownload: links that expire. A URL
 *
 *     <uri-prefix><mac>/<timestamp>/<rel-path>
 *
 * serves <secdownload.document-root>/<rel-path> when <mac> is right and <timestamp> (1 to 16
 * hex digits, seconds since the epoch) is within secdownload.timeout seconds of now, either
 * way. A wrong mac is 403; an expired link is 410 ("Gone": unlike 408 it tells the client
 * not to try again). The mac, by secdownload.algorithm:
 *
 *   md5          32 hex digits: md5(<secret> <rel-path> <timestamp>)
 *   hmac-sha1    27 base64url characters (no padding): HMAC-SHA1(<secret>, <protected>)
 *   hmac-sha256  43 base64url characters: HMAC-SHA256(<secret>, <protected>)
 *
 * where <protected> is "/<timestamp>/<rel-path>", cut after secdownload.path-segments
 * segments of <rel-path> when that is set (one link then opens a whole directory), with
 * "?<query>" appended when secdownload.hash-querystr is on. Macs are compared in constant
 * time. A URL that does not have this shape is none of the module's business.
 */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "core/core_conf.h"
#include "core/pool.h"
#include "lux/log.h"
#include "lux/req.h"

typedef enum { SECDL_MD5, SECDL_HMAC_SHA1, SECDL_HMAC_SHA256 } secdl_algorithm;

typedef struct {
    lux_str secret;
    lux_str doc_root;
    lux_str uri_prefix;
    long timeout;
    int algorithm; /* secdl_algorithm */
    long path_segments;
    int hash_querystr;
} secdl_conf;

static const struct {
    const char *name;
    size_t mac_len;
} secdl_algorithms[] = {
    [SECDL_MD5] = {"md5", 32},
    [SECDL_HMAC_SHA1] = {"hmac-sha1", 27},
    [SECDL_HMAC_SHA256] = {"hmac-sha256", 43},
};

static int parse_algorithm(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    for (size_t i = 0; v->type == LUX_V_STRING && i < 3; i++)
        if (strcmp(v->u.str.ptr, secdl_algorithms[i].name) == 0) {
            *(int *)dst = (int)i;
            return 0;
        }
    snprintf(err, el,
             "invalid secdownload.algorithm: expected \"md5\", \"hmac-sha1\" or "
             "\"hmac-sha256\"");
    return -1;
}

static void secdl_init(void *conf) {
    secdl_conf *c = conf;
    c->timeout = 60;
    c->algorithm = SECDL_MD5;
}

#define OFF(f) offsetof(secdl_conf, f)
static const lux_directive secdl_directives[] = {
    {"secdownload.secret", LUX_D_STRING, OFF(secret), LUX_SCOPE_ANY},
    {"secdownload.document-root", LUX_D_STRING, OFF(doc_root), LUX_SCOPE_ANY},
    {"secdownload.uri-prefix", LUX_D_STRING, OFF(uri_prefix), LUX_SCOPE_ANY},
    {"secdownload.timeout", LUX_D_INT, OFF(timeout), LUX_SCOPE_ANY},
    {"secdownload.algorithm", LUX_D_CUSTOM, OFF(algorithm), LUX_SCOPE_ANY, parse_algorithm,
     sizeof(int)},
    {"secdownload.path-segments", LUX_D_INT, OFF(path_segments), LUX_SCOPE_ANY},
    {"secdownload.hash-querystr", LUX_D_BOOL, OFF(hash_querystr), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};
#undef OFF

static int is_base64url(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return 0;
    return 1;
}

static int hex_value(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* base64url without padding, as lighttpd writes it; out holds 4 * ((n + 2) / 3) + 1 bytes. */
static size_t base64url(const unsigned char *in, size_t n, char *out) {
    size_t len = (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len && out[len - 1] == '=')
        len--;
    for (size_t i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return len;
}

/* md5(<secret><rel-path><timestamp>) against 32 hex digits (either case). */
static int md5_matches(const secdl_conf *c, const char *mac, const char *ts, size_t tslen,
                       const char *rel, size_t rlen) {
    unsigned char want[16], got[EVP_MAX_MD_SIZE];
    for (size_t i = 0; i < 32; i++)
        if (hex_value(mac[i]) < 0)
            return 0;
    for (size_t i = 0; i < 16; i++)
        want[i] = (unsigned char)(hex_value(mac[2 * i]) << 4 | hex_value(mac[2 * i + 1]));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int glen = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) &&
             EVP_DigestUpdate(ctx, c->secret.ptr, c->secret.len) &&
             EVP_DigestUpdate(ctx, rel, rlen) && EVP_DigestUpdate(ctx, ts, tslen) &&
             EVP_DigestFinal_ex(ctx, got, &glen) && glen == 16;
    EVP_MD_CTX_free(ctx);
    return ok && CRYPTO_memcmp(want, got, 16) == 0;
}

static int hmac_matches(const secdl_conf *c, const char *mac, size_t mac_len, const char *msg,
                        size_t mlen) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    const EVP_MD *md = c->algorithm == SECDL_HMAC_SHA1 ? EVP_sha1() : EVP_sha256();
    if (!HMAC(md, c->secret.ptr, (int)c->secret.len, (const unsigned char *)msg, mlen, digest,
              &dlen))
        return 0;
    char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    return base64url(digest, dlen, b64) == mac_len && CRYPTO_memcmp(mac, b64, mac_len) == 0;
}

/* msg is "/<ts>/<rel-path>[?query]", the part the mac covers (md5 reorders it). */
static int mac_matches(const secdl_conf *c, const char *mac, size_t mac_len, const char *msg,
                       size_t mlen, size_t tslen) {
    if (c->algorithm == SECDL_MD5)
        return md5_matches(c, mac, msg + 1, tslen, msg + 1 + tslen, mlen - 1 - tslen);
    return hmac_matches(c, mac, mac_len, msg, mlen);
}

/* The protected part the mac covers: "/<ts>/<rel-path>" cut after path-segments segments, with
 * "?<query>" when hash-querystr is on. NULL when out of memory. */
static const char *protected_part(lux_req *r, const secdl_conf *c, const char *start,
                                  const char *rel, size_t *len) {
    const char *end = r->path.ptr + r->path.len;
    if (c->path_segments > 0) {
        const char *p = rel;
        for (long n = c->path_segments; n > 0 && p; n--)
            p = memchr(p + 1, '/', (size_t)(end - p - 1));
        if (p)
            end = p;
    }
    size_t plen = (size_t)(end - start);
    if (!c->hash_querystr || !r->query.len) {
        *len = plen;
        return start;
    }
    char *s = lux_req_printf(r, "%.*s?%s", (int)plen, start, r->query.ptr);
    *len = s ? strlen(s) : 0;
    return s;
}

/* Parse "<ts>/..." at p: the timestamp's digits, or 0 when there are none or too many. */
static size_t parse_timestamp(const char *p, size_t left, unsigned long long *ts) {
    size_t i = 0;
    *ts = 0;
    for (; i < left && i < 16 && hex_value(p[i]) >= 0; i++)
        *ts = *ts << 4 | (unsigned)hex_value(p[i]);
    return i < left && p[i] == '/' ? i : 0;
}

static int expired(lux_req *r, const secdl_conf *c, unsigned long long ts) {
    unsigned long long now = (unsigned long long)lux_req_now(r);
    unsigned long long age = now > ts ? now - ts : ts - now;
    return c->timeout < 0 || age > (unsigned long long)c->timeout;
}

static lux_result misconfigured(lux_req *r, const char *what) {
    lux_log(LUX_LOG_ERR, "%s has to be set", what);
    return lux_resp_error(r, 500);
}

static lux_result serve_from_doc_root(lux_req *r, const secdl_conf *c, const char *rel,
                                      size_t rlen) {
    size_t dl = c->doc_root.len;
    while (dl > 1 && c->doc_root.ptr[dl - 1] == '/')
        dl--;
    char *phys = lux_pool_alloc(r->pool, dl + rlen + 1);
    if (!phys)
        return LUX_ERROR;
    memcpy(phys, c->doc_root.ptr, dl);
    memcpy(phys + dl, rel, rlen);
    phys[dl + rlen] = '\0';
    r->docroot = (lux_str){phys, dl};
    r->physical = (lux_str){phys, dl + rlen};
    return LUX_GO_ON;
}

static lux_result secdl_physical(lux_req *r, const void *conf) {
    const secdl_conf *c = conf;
    if (!c->uri_prefix.len)
        return LUX_GO_ON;
    if (!c->secret.len)
        return misconfigured(r, "secdownload.secret");
    if (!c->doc_root.len)
        return misconfigured(r, "secdownload.document-root");
    size_t mac_len = secdl_algorithms[c->algorithm].mac_len, pl = c->uri_prefix.len;
    const char *path = r->path.ptr, *end = path + r->path.len;
    if (r->path.len < pl + mac_len + 1 || memcmp(path, c->uri_prefix.ptr, pl) != 0)
        return LUX_GO_ON;
    const char *mac = path + pl, *start = mac + mac_len;
    if (!is_base64url(mac, mac_len) || *start != '/')
        return LUX_GO_ON;
    unsigned long long ts;
    size_t tslen = parse_timestamp(start + 1, (size_t)(end - start - 1), &ts);
    if (!tslen)
        return LUX_GO_ON;
    if (expired(r, c, ts))
        return lux_resp_error(r, 410);
    const char *rel = start + 1 + tslen;
    size_t plen;
    const char *msg = protected_part(r, c, start, rel, &plen);
    if (!msg)
        return LUX_ERROR;
    if (!mac_matches(c, mac, mac_len, msg, plen, tslen)) {
        const lux_core_conf *core = r->confs[0];
        if (core->log_request_handling)
            lux_log(LUX_LOG_DEBUG, "mac invalid: %s", r->path.ptr);
        return lux_resp_error(r, 403);
    }
    return serve_from_doc_root(r, c, rel, (size_t)(end - rel));
}

const lux_module lux_mod_secdownload = {
    .name = "mod_secdownload",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = secdl_directives,
    .conf_size = sizeof(secdl_conf),
    .conf_init = secdl_init,
    .physical = secdl_physical,
};
