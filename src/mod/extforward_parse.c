/* Addresses, networks, X-Forwarded-For and Forwarded, for mod_extforward. */
#include "mod/extforward_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

int xf_parse_addr(const char *s, size_t len, xf_net *out) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        out->bits = 32;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out->addr) != 1)
        return -1;
    out->family = AF_INET6;
    out->bits = 128;
    if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)out->addr)) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        out->bits = 32;
    }
    return 0;
}

static int bits_match(const unsigned char *a, const unsigned char *b, int bits) {
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)whole) != 0)
        return 0;
    if (!rest)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

int xf_parse_net(const char *s, size_t len, xf_net *out) {
    const char *slash = memchr(s, '/', len);
    if (!slash)
        return xf_parse_addr(s, len, out);
    if (xf_parse_addr(s, (size_t)(slash - s), out) < 0)
        return -1;
    size_t i = (size_t)(slash - s) + 1;
    if (i == len || len - i > 3)
        return -1;
    int bits = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        bits = bits * 10 + (s[i] - '0');
    }
    if (bits > out->bits)
        return -1;
    unsigned char masked[16];
    memcpy(masked, out->addr, 16);
    /* host bits set ("10.0.0.1/8") are a typo more often than intent: refuse them */
    for (int b = bits; b < out->bits; b++)
        masked[b / 8] &= (unsigned char)~(0x80 >> (b % 8));
    if (memcmp(masked, out->addr, 16) != 0)
        return -1;
    out->bits = bits;
    return 0;
}

int xf_net_contains(const xf_net *n, const xf_net *a) {
    return n->family == a->family && bits_match(n->addr, a->addr, n->bits);
}

void xf_to_sockaddr(const xf_net *a, struct sockaddr_storage *out) {
    memset(out, 0, sizeof *out);
    if (a->family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)out;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, a->addr, 4);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)out;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, a->addr, 16);
    }
}

static int addr_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
           c == ':';
}

size_t xf_list_split(const char *v, size_t len, xf_str *out, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < len && max;) {
        if (!addr_char(v[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && addr_char(v[i]))
            i++;
        if (n == max) {
            memmove(out, out + 1, (max - 1) * sizeof *out);
            n--;
        }
        out[n++] = (xf_str){v + start, i - start};
    }
    return n;
}

static int is_ows(char c) {
    return c == ' ' || c == '\t';
}

/* A value at v[*i]: a token up to ';', ',' or space, or a quoted-string unescaped into *w.
 * Returns -1 for an unterminated quoted-string. */
static int read_value(const char *v, size_t len, size_t *i, char **w, xf_str *out) {
    if (*i < len && v[*i] == '"') {
        char *start = *w;
        for (size_t k = *i + 1; k < len; k++) {
            if (v[k] == '"') {
                *i = k + 1;
                *out = (xf_str){start, (size_t)(*w - start)};
                return 0;
            }
            if (v[k] == '\\' && ++k == len)
                break;
            *(*w)++ = v[k];
        }
        return -1;
    }
    size_t start = *i;
    while (*i < len && v[*i] != ';' && v[*i] != ',' && !is_ows(v[*i]))
        (*i)++;
    *out = (xf_str){v + start, *i - start};
    return 0;
}

/* "[v6]:port" -> "v6", "v4:port" -> "v4"; -1 for a '[' without its ']' (or with another '['). */
static int strip_port(xf_str *a) {
    if (a->len && a->ptr[0] == '[') {
        const char *close = memchr(a->ptr, ']', a->len);
        if (!close || close == a->ptr + 1 || memchr(a->ptr + 1, '[', (size_t)(close - a->ptr) - 1))
            return -1;
        *a = (xf_str){a->ptr + 1, (size_t)(close - a->ptr) - 1};
        return 0;
    }
    const char *colon = memchr(a->ptr, ':', a->len);
    if (colon && !memchr(colon + 1, ':', a->len - (size_t)(colon - a->ptr) - 1))
        a->len = (size_t)(colon - a->ptr);
    return 0;
}

static void keep_param(xf_forwarded *e, const char *k, size_t klen, xf_str val) {
    if (klen == 3 && strncasecmp(k, "for", 3) == 0)
        e->for_ = val;
    else if (klen == 5 && strncasecmp(k, "proto", 5) == 0)
        e->proto = val;
    else if (klen == 4 && strncasecmp(k, "host", 4) == 0)
        e->host = val;
    else if (klen == 11 && strncasecmp(k, "remote_user", 11) == 0)
        e->remote_user = val;
}

int xf_forwarded_parse(const char *v, size_t len, char *scratch, xf_forwarded *out) {
    int n = 0;
    char *w = scratch;
    memset(&out[0], 0, sizeof out[0]);
    size_t i = 0;
    while (i < len) {
        if (is_ows(v[i]) || v[i] == ';') {
            i++;
            continue;
        }
        if (v[i] == ',') {
            if (++n == XF_FORWARDED_MAX)
                return -1;
            memset(&out[n], 0, sizeof out[n]);
            i++;
            continue;
        }
        size_t k = i;
        while (i < len && v[i] != '=' && v[i] != ';' && v[i] != ',' && v[i] != '"')
            i++;
        if (i == len || v[i] != '=') {
            if (i < len && v[i] == '"') /* a quote inside a name: nothing good can follow */
                return -1;
            continue;
        }
        size_t klen = i - k;
        while (klen && is_ows(v[k + klen - 1]))
            klen--;
        i++;
        while (i < len && is_ows(v[i]))
            i++;
        xf_str val;
        if (read_value(v, len, &i, &w, &val) < 0)
            return -1;
        if (klen)
            keep_param(&out[n], v + k, klen, val);
    }
    for (int e = 0; e <= n; e++)
        if (out[e].for_.ptr && strip_port(&out[e].for_) < 0)
            return -1;
    return n + 1;
}

int xf_forwarded_is_addr(const xf_str *v) {
    if (!v->ptr || !v->len || v->ptr[0] == '_')
        return 0;
    return !(v->len == 7 && strncasecmp(v->ptr, "unknown", 7) == 0);
}
