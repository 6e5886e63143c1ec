/* The PROXY protocol parser: version 1 lines, version 2 headers with TLVs, and what is refused. */
#include <arpa/inet.h>
#include <netinet/in.h>
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
    CHECK_INT(h.ssl_version_len, 7);
    CHECK(h.ssl_version && memcmp(h.ssl_version, "TLSv1.3", 7) == 0);
    CHECK_INT(h.ssl_cn_len, 4);
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

int main(void) {
    RUN(test_v1);
    RUN(test_v1_incomplete);
    RUN(test_v1_refused);
    RUN(test_v2_inet);
    RUN(test_v2_local_unspec_unix);
    RUN(test_v2_tlvs);
    RUN(test_v2_refused);
    T_EXIT();
}
