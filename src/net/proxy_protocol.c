/*
 * PROXY protocol headers, as haproxy's proxy-protocol.txt defines them. Version 1 is checked
 * strictly (single spaces, numeric addresses of the named family, decimal ports without leading
 * zeros) because a lax reader of a line that names the client is a spoofing aid; version 2's
 * TLVs must tile the header exactly. The CRC32C TLV is not verified: the header arrives over
 * a stream a trusted proxy opened. What a header says of the client's TLS outlives the bytes it
 * was read from in a copy the connection keeps (lux_pp_tls_keep).
 */
#include "net/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_sig[6] = "PROXY ";

enum {
    PP2_CMD_LOCAL = 0x0,
    PP2_CMD_PROXY = 0x1,
    PP2_AF_UNSPEC = 0x0,
    PP2_AF_INET = 0x1,
    PP2_AF_INET6 = 0x2,
    PP2_AF_UNIX = 0x3,
    PP2_TRANS_UNSPEC = 0x0,
    PP2_TRANS_STREAM = 0x1,
    PP2_TYPE_UNIQUE_ID = 0x05,
    PP2_TYPE_SSL = 0x20,
    PP2_SUBTYPE_SSL_VERSION = 0x21,
    PP2_SUBTYPE_SSL_CN = 0x22,
    PP2_SUBTYPE_SSL_CIPHER = 0x23,
    PP2_SUBTYPE_SSL_SIG_ALG = 0x24,
    PP2_SUBTYPE_SSL_KEY_ALG = 0x25,
    PP2_UNIX_ADDR_LEN = 108,
};

const char *const lux_pp_fact_names[LUX_PP_NFACTS] = {
    [LUX_PP_SSL_PROTOCOL] = "SSL_PROTOCOL",    [LUX_PP_SSL_CN] = "SSL_CLIENT_S_DN_CN",
    [LUX_PP_SSL_CIPHER] = "SSL_CIPHER",        [LUX_PP_SSL_SIG_ALG] = "SSL_SERVER_A_SIG",
    [LUX_PP_SSL_KEY_ALG] = "SSL_SERVER_A_KEY", [LUX_PP_UNIQUE_ID] = "PP2_UNIQUE_ID",
};

/* Do the first len bytes agree with the signature sig of n bytes as far as they go? */
static int prefix_of(const uint8_t *buf, size_t len, const void *sig, size_t n) {
    return memcmp(buf, sig, len < n ? len : n) == 0;
}

/* ---- version 1 ---- */

/* A decimal port 0..65535 of len bytes, no sign, no leading zero. -1 when it is not one. */
static long v1_port(const char *s, size_t len) {
    if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
        return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 65535 ? v : -1;
}

/* A numeric address of family af, len bytes, into sa with port. 0 or -1. */
static int v1_addr(int af, const char *s, size_t len, long port, struct sockaddr_storage *sa) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof buf || port < 0)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(sa, 0, sizeof *sa);
    if (af == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)sa;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        return inet_pton(AF_INET, buf, &in->sin_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    return inet_pton(AF_INET6, buf, &in6->sin6_addr) == 1 ? 0 : -1;
}

/* "TCP4 1.2.3.4 5.6.7.8 111 222" (the line without "PROXY " and CRLF). */
static int v1_fields(const char *p, size_t len, lux_pp_header *out) {
    const char *f[5];
    size_t fl[5], n = 0;
    const char *start = p, *end = p + len;
    for (const char *q = p; q <= end; q++) {
        if (q < end && *q != ' ')
            continue;
        if (n == 5 || q == start)
            return -1; /* too many fields, or an empty one (two spaces) */
        f[n] = start;
        fl[n++] = (size_t)(q - start);
        start = q + 1;
    }
    if (n != 5)
        return -1;
    int af;
    if (fl[0] == 4 && memcmp(f[0], "TCP4", 4) == 0)
        af = AF_INET;
    else if (fl[0] == 4 && memcmp(f[0], "TCP6", 4) == 0)
        af = AF_INET6;
    else
        return -1;
    if (v1_addr(af, f[1], fl[1], v1_port(f[3], fl[3]), &out->src) < 0 ||
        v1_addr(af, f[2], fl[2], v1_port(f[4], fl[4]), &out->dst) < 0)
        return -1;
    return 0;
}

static long parse_v1(const uint8_t *buf, size_t len, lux_pp_header *out) {
    size_t avail = len < LUX_PP_V1_MAX ? len : LUX_PP_V1_MAX;
    const uint8_t *lf = memchr(buf, '\n', avail);
    if (!lf)
        return len >= LUX_PP_V1_MAX ? -1 : 0;
    size_t line = (size_t)(lf - buf) + 1;
    if (line < sizeof v1_sig + 2 || buf[line - 2] != '\r')
        return -1;
    const char *p = (const char *)buf + sizeof v1_sig;
    size_t plen = line - sizeof v1_sig - 2;
    for (size_t i = 0; i < plen; i++)
        if (p[i] == '\r' || p[i] == '\0')
            return -1;
    out->version = 1;
    if (plen >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (plen == 7 || p[7] == ' ')) {
        out->local = 1; /* the rest of the line is to be ignored */
        return (long)line;
    }
    return v1_fields(p, plen, out) == 0 ? (long)line : -1;
}

/* ---- version 2 ---- */

static uint16_t be16(const uint8_t *p) {
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The address block of family fam: bytes it takes (src and dst filled), or -1. */
static long v2_addresses(int fam, const uint8_t *p, size_t len, lux_pp_header *out) {
    memset(&out->src, 0, sizeof out->src);
    memset(&out->dst, 0, sizeof out->dst);
    if (fam == PP2_AF_INET) {
        if (len < 12)
            return -1;
        struct sockaddr_in *s = (struct sockaddr_in *)&out->src;
        struct sockaddr_in *d = (struct sockaddr_in *)&out->dst;
        s->sin_family = d->sin_family = AF_INET;
        memcpy(&s->sin_addr, p, 4);
        memcpy(&d->sin_addr, p + 4, 4);
        memcpy(&s->sin_port, p + 8, 2);
        memcpy(&d->sin_port, p + 10, 2);
        return 12;
    }
    if (fam == PP2_AF_INET6) {
        if (len < 36)
            return -1;
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->src;
        struct sockaddr_in6 *d = (struct sockaddr_in6 *)&out->dst;
        s->sin6_family = d->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, p, 16);
        memcpy(&d->sin6_addr, p + 16, 16);
        memcpy(&s->sin6_port, p + 32, 2);
        memcpy(&d->sin6_port, p + 34, 2);
        return 36;
    }
    /* AF_UNIX: the connection's peer is "unix", whatever path the proxy names. */
    if (len < 2 * PP2_UNIX_ADDR_LEN)
        return -1;
    out->src.ss_family = out->dst.ss_family = AF_UNIX;
    return 2 * PP2_UNIX_ADDR_LEN;
}

/* Which fact a sub-TLV of PP2_TYPE_SSL holds; -1 for one that is not kept. */
static int ssl_fact(uint8_t type) {
    switch (type) {
    case PP2_SUBTYPE_SSL_VERSION:
        return LUX_PP_SSL_PROTOCOL;
    case PP2_SUBTYPE_SSL_CN:
        return LUX_PP_SSL_CN;
    case PP2_SUBTYPE_SSL_CIPHER:
        return LUX_PP_SSL_CIPHER;
    case PP2_SUBTYPE_SSL_SIG_ALG:
        return LUX_PP_SSL_SIG_ALG;
    case PP2_SUBTYPE_SSL_KEY_ALG:
        return LUX_PP_SSL_KEY_ALG;
    default:
        return -1;
    }
}

/* The sub-TLVs of PP2_TYPE_SSL, right after its client byte and its verify word (packed, as
 * proxy-protocol.txt lays them out). 0 or -1. */
static int v2_ssl(const uint8_t *p, size_t len, lux_pp_header *out) {
    if (len < 5)
        return -1;
    out->ssl = 1;
    out->ssl_client = p[0];
    out->ssl_verify = be32(p + 1);
    for (size_t i = 5; i < len;) {
        if (len - i < 3 || len - i - 3 < be16(p + i + 1))
            return -1;
        size_t vlen = be16(p + i + 1);
        int fact = ssl_fact(p[i]);
        if (fact >= 0)
            out->facts[fact] = (lux_pp_str){(const char *)p + i + 3, vlen};
        i += 3 + vlen;
    }
    return 0;
}

/* The TLVs after the addresses must fill the rest of the header exactly. 0 or -1. */
static int v2_tlvs(const uint8_t *p, size_t len, lux_pp_header *out) {
    for (size_t i = 0; i < len;) {
        if (len - i < 3 || len - i - 3 < be16(p + i + 1))
            return -1;
        size_t vlen = be16(p + i + 1);
        if (p[i] == PP2_TYPE_SSL && v2_ssl(p + i + 3, vlen, out) < 0)
            return -1;
        if (p[i] == PP2_TYPE_UNIQUE_ID)
            out->facts[LUX_PP_UNIQUE_ID] = (lux_pp_str){(const char *)p + i + 3, vlen};
        i += 3 + vlen;
    }
    return 0;
}

static long parse_v2(const uint8_t *buf, size_t len, lux_pp_header *out) {
    if (len < LUX_PP_V2_FIXED)
        return len > 12 && (buf[12] >> 4) != 2 ? -1 : 0;
    int version = buf[12] >> 4, command = buf[12] & 0xF;
    int fam = buf[13] >> 4, trans = buf[13] & 0xF;
    size_t body = be16(buf + 14), total = LUX_PP_V2_FIXED + body;
    if (version != 2 || (command != PP2_CMD_LOCAL && command != PP2_CMD_PROXY) ||
        fam > PP2_AF_UNIX || (trans != PP2_TRANS_UNSPEC && trans != PP2_TRANS_STREAM))
        return -1;
    if (len < total)
        return 0;
    out->version = 2;
    const uint8_t *p = buf + LUX_PP_V2_FIXED;
    if (command == PP2_CMD_LOCAL || fam == PP2_AF_UNSPEC) {
        /* The addresses, if any, are to be ignored: the TLVs cannot be told from them. */
        out->local = 1;
        return (long)total;
    }
    if (trans != PP2_TRANS_STREAM)
        return -1;
    long used = v2_addresses(fam, p, body, out);
    if (used < 0 || v2_tlvs(p + used, body - (size_t)used, out) < 0)
        return -1;
    return (long)total;
}

long lux_pp_parse(const uint8_t *buf, size_t len, lux_pp_header *out) {
    memset(out, 0, sizeof *out);
    if (len == 0)
        return 0;
    if (prefix_of(buf, len, v2_sig, sizeof v2_sig))
        return len < sizeof v2_sig ? 0 : parse_v2(buf, len, out);
    if (prefix_of(buf, len, v1_sig, sizeof v1_sig))
        return len < sizeof v1_sig ? 0 : parse_v1(buf, len, out);
    return -1;
}

/* ---- what the connection keeps ---- */

/* Text a variable may carry: no NUL, no other control byte. */
static int printable(const lux_pp_str *s) {
    for (size_t i = 0; i < s->len; i++)
        if ((unsigned char)s->ptr[i] < 0x20 || s->ptr[i] == 0x7f)
            return 0;
    return 1;
}

int lux_pp_tls_keep(const lux_pp_header *h, lux_pp_tls **out) {
    *out = NULL;
    size_t size = sizeof(lux_pp_tls);
    int any = h->ssl;
    for (int i = 0; i < LUX_PP_NFACTS; i++) {
        any |= h->facts[i].ptr != NULL;
        if (h->facts[i].ptr && printable(&h->facts[i]))
            size += h->facts[i].len + 1;
    }
    if (!any)
        return 0;
    lux_pp_tls *t = calloc(1, size);
    if (!t)
        return -1;
    t->ssl = h->ssl && (h->ssl_client & LUX_PP_CLIENT_SSL);
    t->cert_verified = h->ssl &&
                       (h->ssl_client & (LUX_PP_CLIENT_CERT_CONN | LUX_PP_CLIENT_CERT_SESS)) &&
                       h->ssl_verify == 0;
    char *p = (char *)(t + 1);
    for (int i = 0; i < LUX_PP_NFACTS; i++) {
        const lux_pp_str *f = &h->facts[i];
        if (!f->ptr || !printable(f))
            continue;
        memcpy(p, f->ptr, f->len);
        p[f->len] = '\0';
        t->facts[i] = p;
        p += f->len + 1;
    }
    *out = t;
    return 0;
}

void lux_pp_tls_env(const lux_pp_tls *t, lux_env_fn fn, void *arg) {
    for (int i = 0; i < LUX_PP_NFACTS; i++)
        if (t->facts[i])
            fn(arg, lux_pp_fact_names[i], strlen(lux_pp_fact_names[i]), t->facts[i],
               strlen(t->facts[i]));
}
