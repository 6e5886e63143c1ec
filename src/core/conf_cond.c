/*
 * Conditional blocks: what `$HTTP["host"] =~ "..."` means, checked when the config loads, and
 * the tests a request runs against it.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/conf_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *tag;
    lux_cond_field field;
    const char *header; /* $HTTP aliases of request headers */
} http_tag;

static const http_tag http_tags[] = {
    {"url", LUX_COND_URL, NULL},
    {"host", LUX_COND_HOST, NULL},
    {"referer", LUX_COND_HEADER, "Referer"},
    {"useragent", LUX_COND_HEADER, "User-Agent"},
    {"user-agent", LUX_COND_HEADER, "User-Agent"},
    {"language", LUX_COND_HEADER, "Accept-Language"},
    {"cookie", LUX_COND_HEADER, "Cookie"},
    {"remoteip", LUX_COND_REMOTE_IP, NULL},
    {"remote-ip", LUX_COND_REMOTE_IP, NULL},
    {"querystring", LUX_COND_QUERYSTRING, NULL},
    {"query-string", LUX_COND_QUERYSTRING, NULL},
    {"request-method", LUX_COND_METHOD, NULL},
    {"scheme", LUX_COND_SCHEME, NULL},
};

static int eq(const char *s, size_t n, const char *lit) {
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* Returns 0 and sets field/header, or -1 for an unknown condition. */
static int lookup_field(const char *obj, size_t objlen, const char *tag, size_t taglen,
                        lux_cond_field *field, const char **header) {
    *header = NULL;
    if (eq(obj, objlen, "HTTP")) {
        for (size_t i = 0; i < sizeof http_tags / sizeof http_tags[0]; i++)
            if (eq(tag, taglen, http_tags[i].tag)) {
                *field = http_tags[i].field;
                *header = http_tags[i].header;
                return 0;
            }
        return -1;
    }
    if (eq(obj, objlen, "SERVER") && eq(tag, taglen, "socket")) {
        *field = LUX_COND_SOCKET;
        return 0;
    }
    if (eq(obj, objlen, "PHYSICAL") && eq(tag, taglen, "path")) {
        *field = LUX_COND_PHYSICAL_PATH;
        return 0;
    }
    if (eq(obj, objlen, "PHYSICAL") && eq(tag, taglen, "existing-path")) {
        *field = LUX_COND_PHYSICAL_EXISTING;
        return 0;
    }
    if (eq(obj, objlen, "REQUEST_HEADER") && taglen > 0 && !memchr(tag, '\0', taglen)) {
        *field = LUX_COND_HEADER;
        *header = tag; /* as written; header names compare case-insensitively anyway */
        return 0;
    }
    return -1;
}

/* "addr", "addr/bits", "[v6]" or "[v6]/bits" into b's cidr fields. */
static int parse_cidr(lux_conf_block *b, const char *s, size_t n) {
    char buf[INET6_ADDRSTRLEN + 8];
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    long bits = -1;
    if (slash) {
        const char *d = slash + 1, *e = s + n;
        if (d == e || e - d > 3)
            return -1;
        bits = 0;
        for (; d < e; d++) {
            if (*d < '0' || *d > '9')
                return -1;
            bits = bits * 10 + (*d - '0');
        }
    }
    if (alen >= 2 && s[0] == '[' && s[alen - 1] == ']') {
        s++;
        alen -= 2;
    }
    if (alen == 0 || alen >= sizeof buf)
        return -1;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    int v6 = memchr(buf, ':', alen) != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, b->cidr_addr) != 1)
        return -1;
    int max = v6 ? 128 : 32;
    /* lighttpd rejects /0: a match-everything rule is better written without a condition */
    if (bits == 0 || bits > max)
        return -1;
    b->cidr_family = v6 ? AF_INET6 : AF_INET;
    b->cidr_bits = bits < 0 ? max : (int)bits;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (v6 && b->cidr_bits >= 96 && memcmp(b->cidr_addr, mapped, 12) == 0) {
        /* clients arrive as plain IPv4 after unmapping, so compare the rule as IPv4 too */
        memmove(b->cidr_addr, b->cidr_addr + 12, 4);
        b->cidr_family = AF_INET;
        b->cidr_bits -= 96;
    }
    return 0;
}

static int compile_regex(lux_conf_block *b, char *msg, size_t msglen) {
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)b->pattern, b->pattern_len, 0, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR text[256];
        if (pcre2_get_error_message(code, text, sizeof text) < 0)
            snprintf((char *)text, sizeof text, "error %d", code);
        snprintf(msg, msglen, "invalid regex: %s", (char *)text);
        return -1;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without JIT it still matches */
    b->regex = re;
    return 0;
}

int lux_conf_cond_setup(conf_mem *m, lux_conf_block *b, const char *obj, size_t objlen,
                        const char *tag, size_t taglen, lux_cond_op op, const char *pat,
                        size_t plen, char *msg, size_t msglen) {
    const char *header;
    if (lookup_field(obj, objlen, tag, taglen, &b->field, &header) < 0) {
        snprintf(msg, msglen, "unknown condition $%.*s[\"%.*s\"]", (int)(objlen > 64 ? 64 : objlen),
                 obj, (int)(taglen > 64 ? 64 : taglen), tag);
        return -1;
    }
    b->op = op;
    b->cidr_bits = -1;
    if (header &&
        !(b->header = lux_conf_strndup(m, header, header == tag ? taglen : strlen(header))))
        return -1;
    if (!(b->pattern = lux_conf_strndup(m, pat, plen)))
        return -1;
    b->pattern_len = plen;
    if (b->field == LUX_COND_SOCKET && op != LUX_OP_EQ && op != LUX_OP_NE) {
        snprintf(msg, msglen, "$SERVER[\"socket\"] only supports == and !=");
        return -1;
    }
    if (op == LUX_OP_MATCH || op == LUX_OP_NOMATCH)
        return compile_regex(b, msg, msglen);
    if (b->field == LUX_COND_HOST) {
        /* the Host a request is matched with is lower-cased, so the rule must be too */
        for (size_t i = 0; i < plen; i++)
            if (b->pattern[i] >= 'A' && b->pattern[i] <= 'Z')
                b->pattern[i] |= 0x20;
    }
    if (b->field == LUX_COND_REMOTE_IP && (op == LUX_OP_EQ || op == LUX_OP_NE) &&
        parse_cidr(b, pat, plen) < 0) {
        snprintf(msg, msglen, "invalid IP address or CIDR mask in $HTTP[\"remote-ip\"]: \"%.*s\"",
                 (int)(plen > 64 ? 64 : plen), pat);
        return -1;
    }
    return 0;
}

void lux_conf_cond_release(lux_conf_block *b) {
    if (b->regex) {
        pcre2_code_free(b->regex);
        b->regex = NULL;
    }
}

int lux_conf_cond_same(const lux_conf_block *a, const lux_conf_block *b) {
    if (a->field != b->field || a->op != b->op || a->pattern_len != b->pattern_len)
        return 0;
    if ((a->header == NULL) != (b->header == NULL))
        return 0;
    if (a->header && strcmp(a->header, b->header) != 0)
        return 0;
    return a->pattern_len == 0 || memcmp(a->pattern, b->pattern, a->pattern_len) == 0;
}

const char *lux_conf_op_text(lux_cond_op op) {
    static const char *const ops[] = {"", "==", "!=", "=~", "!~", "=^", "=$"};
    return (unsigned)op < sizeof ops / sizeof ops[0] ? ops[op] : "?";
}

void lux_conf_cond_lhs(const lux_conf_block *b, char *buf, size_t len) {
    static const char *const names[] = {
        [LUX_COND_GLOBAL] = "",
        [LUX_COND_HOST] = "$HTTP[\"host\"]",
        [LUX_COND_URL] = "$HTTP[\"url\"]",
        [LUX_COND_QUERYSTRING] = "$HTTP[\"querystring\"]",
        [LUX_COND_REMOTE_IP] = "$HTTP[\"remote-ip\"]",
        [LUX_COND_SCHEME] = "$HTTP[\"scheme\"]",
        [LUX_COND_METHOD] = "$HTTP[\"request-method\"]",
        [LUX_COND_HEADER] = "",
        [LUX_COND_SOCKET] = "$SERVER[\"socket\"]",
        [LUX_COND_PHYSICAL_PATH] = "$PHYSICAL[\"path\"]",
        [LUX_COND_PHYSICAL_EXISTING] = "$PHYSICAL[\"existing-path\"]",
    };
    if (b->field == LUX_COND_HEADER)
        snprintf(buf, len, "$REQUEST_HEADER[\"%s\"]", b->header ? b->header : "");
    else
        snprintf(buf, len, "%s", (unsigned)b->field < 11 ? names[b->field] : "");
}

/* ---- matching ---- */

static int regex_match(const lux_conf_block *b, const char *s, size_t len,
                       lux_cond_captures *caps) {
    pcre2_match_data *md = pcre2_match_data_create(LUX_COND_MAX_CAPTURES, NULL);
    if (!md)
        return 0; /* out of memory: treat as no match rather than guess */
    int rc = pcre2_match(b->regex, (PCRE2_SPTR)(s ? s : ""), len, 0, 0, md, NULL);
    if (rc >= 0 && caps) {
        int n = rc == 0 ? LUX_COND_MAX_CAPTURES : rc;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        caps->n = n;
        for (int i = 0; i < n; i++) {
            if (ov[2 * i] == PCRE2_UNSET) {
                caps->ptr[i] = s;
                caps->len[i] = 0;
            } else {
                caps->ptr[i] = s + ov[2 * i];
                caps->len[i] = ov[2 * i + 1] - ov[2 * i];
            }
        }
    }
    pcre2_match_data_free(md);
    return rc >= 0;
}

static int cidr_match(const lux_conf_block *b, int family, const unsigned char *addr) {
    if (family != b->cidr_family)
        return 0;
    int bits = b->cidr_bits, full = bits / 8, rest = bits % 8;
    if (memcmp(addr, b->cidr_addr, (size_t)full) != 0)
        return 0;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        return (addr[full] & mask) == (b->cidr_addr[full] & mask);
    }
    return 1;
}

/* Text form of an address for CIDR matching; v4-mapped v6 becomes v4. */
static int addr_from_text(const char *s, size_t len, int *family, unsigned char *addr) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, addr) != 1)
        return -1;
    *family = AF_INET6;
    if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)addr)) {
        memmove(addr, addr + 12, 4);
        *family = AF_INET;
    }
    return 0;
}

int lux_conf_cond_match(const lux_conf_block *b, const char *s, size_t len,
                        lux_cond_captures *caps) {
    if (caps)
        caps->n = 0;
    if (!s)
        len = 0;
    int r;
    switch (b->op) {
    case LUX_OP_EQ:
    case LUX_OP_NE:
        if (b->field == LUX_COND_REMOTE_IP && b->cidr_bits >= 0) {
            unsigned char addr[16];
            int fam;
            r = addr_from_text(s, len, &fam, addr) == 0 && cidr_match(b, fam, addr);
        } else {
            r = len == b->pattern_len && (len == 0 || memcmp(s, b->pattern, len) == 0);
        }
        return b->op == LUX_OP_EQ ? r : !r;
    case LUX_OP_PREFIX:
        return len >= b->pattern_len && memcmp(s ? s : "", b->pattern, b->pattern_len) == 0;
    case LUX_OP_SUFFIX:
        return len >= b->pattern_len &&
               memcmp((s ? s : "") + len - b->pattern_len, b->pattern, b->pattern_len) == 0;
    case LUX_OP_MATCH:
        return b->regex && regex_match(b, s, len, caps);
    case LUX_OP_NOMATCH:
        return b->regex && !regex_match(b, s, len, NULL);
    default:
        return 1; /* the global block and a bare else hold on their own */
    }
}

int lux_conf_cond_match_addr(const lux_conf_block *b, const struct sockaddr *sa) {
    unsigned char addr[16];
    int family;
    if (sa->sa_family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        family = AF_INET;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        memcpy(addr, a6, 16);
        family = AF_INET6;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memmove(addr, addr + 12, 4);
            family = AF_INET;
        }
    } else {
        family = AF_UNSPEC;
    }
    if ((b->op == LUX_OP_EQ || b->op == LUX_OP_NE) && b->cidr_bits >= 0) {
        int r = family != AF_UNSPEC && cidr_match(b, family, addr);
        return b->op == LUX_OP_EQ ? r : !r;
    }
    char text[INET6_ADDRSTRLEN];
    if (family == AF_UNSPEC || !inet_ntop(family, addr, text, sizeof text))
        text[0] = '\0';
    return lux_conf_cond_match(b, text, strlen(text), NULL);
}
