/* The PROXY protocol parser: version 1 lines, version 2 headers with TLVs, and what is refused;
 * the copy of a header's TLS facts a connection keeps. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/proxy_protocol.h"
#include "t.h"

static long parse(const char *s, lux_pp_header *h) {
    return lux_pp_parse((const uint8_t *)s, strlen(s), h);
}

static const char *src_ip(const lux_pp_header *h, char *buf) {
    if (h->src.ss_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)&h->src)->sin_addr, buf, 64);
    return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&h->src)->sin6_addr, buf, 64);
}

static int src_port(const lux_pp_header *h) {
    if (h->src.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&h->src)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)&h->src)->sin6_port);
}

static void test_v1(void) {
    lux_pp_header h;
    char ip[64];
    const char *l4 = "PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\nGET / HTTP/1.1\r\n";
    CHECK_INT(parse(l4, &h), 44);
    CHECK_INT(h.version, 1);
    CHECK_INT(h.local, 0);
    CHECK_STR(src_ip(&h, ip), "203.0.113.7");
    CHECK_INT(src_port(&h), 56324);
    CHECK_INT(parse("PROXY TCP6 2001:db8::17 ::1 65535 0\r\n", &h), 37);
    CHECK_STR(src_ip(&h, ip), "2001:db8::17");
    CHECK_INT(src_port(&h), 65535);
    CHECK_INT(parse("PROXY UNKNOWN\r\n", &h), 15);
    CHECK_INT(h.local, 1);
    CHECK_INT(parse("PROXY UNKNOWN ffff::1 ::1 1 2\r\n", &h), 31);
    CHECK_INT(h.local, 1);
}

static void test_v1_incomplete(void) {
    lux_pp_header h;
    CHECK_INT(parse("", &h), 0);
    CHECK_INT(parse("P", &h), 0);
    CHECK_INT(parse("PROXY", &h), 0);
    CHECK_INT(parse("PROXY TCP4 203.0.113.7 192.0.2.1 5", &h), 0);
    CHECK_INT(parse("PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r", &h), 0);
}

static void test_v1_refused(void) {
    lux_pp_header h;
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\n",
        "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",       /* LF alone */
        "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",    /* two spaces */
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",    /* trailing space */
        "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",       /* a port missing */
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",   /* a field too many */
        "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", /* port out of range */
        "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",    /* leading zero */
        "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",    /* sign */
        "PROXY TCP4 ::1 5.6.7.8 1 2\r\n",         /* family mismatch */
        "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",         /* family mismatch */
        "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",   /* not an address */
        "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",     /* no such protocol */
        "PROXY UNKNOWNX\r\n",
        "PROXY \r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        long rc = parse(bad[i], &h);
        if (rc != -1)
            fprintf(stderr, "  accepted: %s", bad[i]);
        CHECK_INT(rc, -1);
    }
    /* No line end within 107 bytes: never a header, however long one waits. */
    char longline[200] = "PROXY UNKNOWN ";
    memset(longline + 14, 'x', 150);
    CHECK_INT(lux_pp_parse((const uint8_t *)longline, 106, &h), 0);
    CHECK_INT(lux_pp_parse((const uint8_t *)longline, 107, &h), -1);
    CHECK_INT(lux_pp_parse((const uint8_t *)longline, 164, &h), -1);
    memcpy(longline + 105, "\r\n", 2);
    CHECK_INT(lux_pp_parse((const uint8_t *)longline, 107, &h), 107);
}

/* A v2 header: the signature, version/command, family/protocol, then body bytes. */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, size_t n) {
    static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    memcpy(out, sig, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (uint8_t)(n >> 8);
    out[15] = (uint8_t)n;
    if (n)
        memcpy(out + 16, body, n);
    return 16 + n;
}

static const uint8_t inet4[12] = {203, 0, 113, 7, 192, 0, 2, 1, 0xDC, 0x04, 0x01, 0xBB};

static void test_v2_inet(void) {
    uint8_t buf[512];
    lux_pp_header h;
    char ip[64];
    size_t n = v2(buf, 0x21, 0x11, inet4, sizeof inet4);
    CHECK_INT(lux_pp_parse(buf, n, &h), 28);
    CHECK_INT(h.version, 2);
    CHECK_INT(h.local, 0);
    CHECK_STR(src_ip(&h, ip), "203.0.113.7");
    CHECK_INT(src_port(&h), 0xDC04);
    for (size_t k = 0; k < n; k++)
        CHECK_INT(lux_pp_parse(buf, k, &h), 0); /* every prefix is a beginning */

    uint8_t a6[36] = {0x20,        0x01,     0x0d,        0xb8,        0xca,     0xfe,
                      [15] = 0x17, [31] = 1, [32] = 0x30, [33] = 0x39, [35] = 80};
    n = v2(buf, 0x21, 0x21, a6, sizeof a6);
    CHECK_INT(lux_pp_parse(buf, n, &h), 52);
    CHECK_STR(src_ip(&h, ip), "2001:db8:cafe::17");
    CHECK_INT(src_port(&h), 12345);
}

static void test_v2_local_unspec_unix(void) {
    uint8_t buf[512];
    lux_pp_header h;
    size_t n = v2(buf, 0x20, 0x00, NULL, 0);
    CHECK_INT(lux_pp_parse(buf, n, &h), 16);
    CHECK_INT(h.local, 1);
    n = v2(buf, 0x20, 0x11, inet4, sizeof inet4); /* LOCAL: addresses ignored */
    CHECK_INT(lux_pp_parse(buf, n, &h), 28);
    CHECK_INT(h.local, 1);
    n = v2(buf, 0x21, 0x00, NULL, 0); /* PROXY over UNSPEC */
    CHECK_INT(lux_pp_parse(buf, n, &h), 16);
    CHECK_INT(h.local, 1);
    uint8_t un[216] = {'/', 't', 'm', 'p'};
    n = v2(buf, 0x21, 0x31, un, sizeof un);
    CHECK_INT(lux_pp_parse(buf, n, &h), 232);
    CHECK_INT(h.local, 0);
    CHECK_INT(h.src.ss_family, AF_UNIX);
}

static void test_v2_tlvs(void) {
    uint8_t body[128], buf[256];
    lux_pp_header h;
    memcpy(body, inet4, 12);
    size_t n = 12;
    const uint8_t alpn[] = {0x01, 0x00, 0x02, 'h', '2'};
    memcpy(body + n, alpn, sizeof alpn);
    n += sizeof alpn;
    const uint8_t ssl[] = {0x20, 0x00, 0x16, 0x07, 0,   0,   0,   0, /* client 7, verify 0 */
                           0x21, 0x00, 0x07, 'T',  'L', 'S', 'v', '1', '.', '3', /* version */
                           0x22, 0x00, 0x04, 'a',  'l', 'i', 'c'};
    memcpy(body + n, ssl, sizeof ssl);
    n += sizeof ssl;
    size_t total = v2(buf, 0x21, 0x11, body, n);
    CHECK_INT(lux_pp_parse(buf, total, &h), (long)total);
    CHECK_INT(h.ssl, 1);
    CHECK_INT(h.ssl_client, 7);
    CHECK_INT(h.ssl_verify, 0);
    CHECK_INT(h.facts[LUX_PP_SSL_PROTOCOL].len, 7);
    CHECK(h.facts[LUX_PP_SSL_PROTOCOL].ptr &&
          memcmp(h.facts[LUX_PP_SSL_PROTOCOL].ptr, "TLSv1.3", 7) == 0);
    CHECK_INT(h.facts[LUX_PP_SSL_CN].len, 4);
    /* A TLV running past the header, or a stray byte after the last one */
    total = v2(buf, 0x21, 0x11, body, n - 1);
    CHECK_INT(lux_pp_parse(buf, total, &h), -1);
    body[n] = 0x04;
    total = v2(buf, 0x21, 0x11, body, n + 1);
    CHECK_INT(lux_pp_parse(buf, total, &h), -1);
    /* An SSL sub-TLV running past its TLV */
    uint8_t bad_ssl[] = {203,  0,    113,  7,    192, 0, 2, 1, 0,    1,    0,   2,
                         0x20, 0x00, 0x08, 0x01, 0,   0, 0, 0, 0x21, 0x00, 0x05};
    total = v2(buf, 0x21, 0x11, bad_ssl, sizeof bad_ssl);
    CHECK_INT(lux_pp_parse(buf, total, &h), -1);
}

static void test_v2_refused(void) {
    uint8_t buf[256];
    lux_pp_header h;
    size_t n = v2(buf, 0x11, 0x11, inet4, sizeof inet4); /* version 1 in binary */
    CHECK_INT(lux_pp_parse(buf, n, &h), -1);
    CHECK_INT(lux_pp_parse(buf, 13, &h), -1);     /* refused as soon as the version byte is there */
    n = v2(buf, 0x22, 0x11, inet4, sizeof inet4); /* unknown command */
    CHECK_INT(lux_pp_parse(buf, n, &h), -1);
    n = v2(buf, 0x21, 0x41, inet4, sizeof inet4); /* unknown family */
    CHECK_INT(lux_pp_parse(buf, n, &h), -1);
    n = v2(buf, 0x21, 0x12, inet4, sizeof inet4); /* datagram */
    CHECK_INT(lux_pp_parse(buf, n, &h), -1);
    n = v2(buf, 0x21, 0x11, inet4, 11); /* addresses do not fit */
    CHECK_INT(lux_pp_parse(buf, n, &h), -1);
    n = v2(buf, 0x21, 0x21, inet4, sizeof inet4); /* IPv6 needs 36 bytes */
    CHECK_INT(lux_pp_parse(buf, n, &h), -1);
    buf[3] = 0x0B; /* a broken signature */
    CHECK_INT(lux_pp_parse(buf, 4, &h), -1);
}

/* A v2 INET header whose TLVs are `tlvs`, parsed into h; h's strings point into the header,
 * which stays until the next call. */
static void parse_tlvs(const uint8_t *tlvs, size_t n, lux_pp_header *h) {
    static uint8_t buf[300];
    uint8_t body[256];
    memcpy(body, inet4, 12);
    if (n)
        memcpy(body + 12, tlvs, n);
    size_t total = v2(buf, 0x21, 0x11, body, 12 + n);
    CHECK_INT(lux_pp_parse(buf, total, h), (long)total);
}

typedef struct {
    char seen[512];
} env_text;

static void collect(void *arg, const char *name, size_t nlen, const char *value, size_t vlen) {
    env_text *e = arg;
    size_t at = strlen(e->seen);
    snprintf(e->seen + at, sizeof e->seen - at, "%.*s=%.*s;", (int)nlen, name, (int)vlen, value);
}

static void test_v2_ssl_facts_kept(void) {
    /* haproxy's layout: the sub-TLVs right after the verify word */
    const uint8_t tlvs[] = {0x05, 0x00, 0x02, 'i',  'd',                          /* unique ID */
                            0x20, 0x00, 0x27, 0x03, 0,   0,   0,   0,             /* SSL, CONN */
                            0x21, 0x00, 0x07, 'T',  'L', 'S', 'v', '1', '.', '3', /* version */
                            0x22, 0x00, 0x05, 'a',  'l', 'i', 'c', 'e',           /* CN */
                            0x23, 0x00, 0x03, 'A',  'E', 'S',                     /* cipher */
                            0x24, 0x00, 0x02, 's',  '1',                          /* sig alg */
                            0x25, 0x00, 0x02, 'k',  '1'};                         /* key alg */
    lux_pp_header h;
    parse_tlvs(tlvs, sizeof tlvs, &h);
    lux_pp_tls *t = NULL;
    CHECK_INT(lux_pp_tls_keep(&h, &t), 0);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK_INT(t->ssl, 1);
    CHECK_INT(t->cert_verified, 1);
    env_text e = {{0}};
    lux_pp_tls_env(t, collect, &e);
    CHECK_STR(e.seen, "SSL_PROTOCOL=TLSv1.3;SSL_CLIENT_S_DN_CN=alice;SSL_CIPHER=AES;"
                      "SSL_SERVER_A_SIG=s1;SSL_SERVER_A_KEY=k1;PP2_UNIQUE_ID=id;");
    free(t);
}

static void test_v2_ssl_verdict(void) {
    lux_pp_header h;
    lux_pp_tls *t;
    /* A certificate that failed verification (verify word 18), one of the session (CERT_SESS),
     * none at all */
    const uint8_t failed[] = {0x20, 0x00, 0x05, 0x03, 0, 0, 0, 18};
    const uint8_t sess[] = {0x20, 0x00, 0x05, 0x05, 0, 0, 0, 0};
    const uint8_t none[] = {0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0};
    const struct {
        const uint8_t *tlvs;
        size_t n;
        int verified;
    } cases[] = {{failed, sizeof failed, 0}, {sess, sizeof sess, 1}, {none, sizeof none, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parse_tlvs(cases[i].tlvs, cases[i].n, &h);
        CHECK_INT(lux_pp_tls_keep(&h, &t), 0);
        CHECK(t && t->ssl);
        CHECK_INT(t ? t->cert_verified : -1, cases[i].verified);
        free(t);
    }
    /* No SSL TLV and no unique ID: nothing to keep */
    parse_tlvs(NULL, 0, &h);
    t = (lux_pp_tls *)&h;
    CHECK_INT(lux_pp_tls_keep(&h, &t), 0);
    CHECK(t == NULL);
}

static void test_v2_control_bytes_dropped(void) {
    const uint8_t tlvs[] = {0x20, 0x00, 0x15, 0x03, 0,    0,    0,   0,             /* SSL, CONN */
                            0x22, 0x00, 0x07, 'a',  'l',  0x00, 'e', 'v', 'i', 'l', /* CN */
                            0x23, 0x00, 0x03, 'A',  '\r', '\n'};                    /* cipher */
    lux_pp_header h;
    parse_tlvs(tlvs, sizeof tlvs, &h);
    CHECK_INT(h.facts[LUX_PP_SSL_CN].len, 7);
    lux_pp_tls *t = NULL;
    CHECK_INT(lux_pp_tls_keep(&h, &t), 0);
    CHECK(t && !t->facts[LUX_PP_SSL_CN] && !t->facts[LUX_PP_SSL_CIPHER]);
    free(t);
}

int main(void) {
    RUN(test_v1);
    RUN(test_v1_incomplete);
    RUN(test_v1_refused);
    RUN(test_v2_inet);
    RUN(test_v2_local_unspec_unix);
    RUN(test_v2_tlvs);
    RUN(test_v2_refused);
    RUN(test_v2_ssl_facts_kept);
    RUN(test_v2_ssl_verdict);
    RUN(test_v2_control_bytes_dropped);
    T_EXIT();
}
