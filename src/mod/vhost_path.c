/* Host and user names as path components, and mod_evhost's pattern expansion. */
#include "mod/vhost_path.h"

#include <stdio.h>
#include <string.h>

int vhost_name_safe(const char *name, size_t len) {
    if (len == 0 || len > VHOST_NAME_MAX)
        return 0;
    if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
        return 0;
    return !memchr(name, '/', len) && !memchr(name, '\0', len);
}

size_t vhost_host_without_port(const char *host, size_t len) {
    if (len && host[0] == '[') {
        const char *close = memchr(host, ']', len);
        return close ? (size_t)(close - host) + 1 : len;
    }
    const char *colon = memchr(host, ':', len);
    return colon ? (size_t)(colon - host) : len;
}

/* Parts of a host name: [0] the domain (last two labels), [1..9] labels from the right. */
typedef struct {
    const char *ptr[10];
    size_t len[10];
} host_parts;

static void split_host(const char *host, size_t len, host_parts *hp) {
    memset(hp, 0, sizeof *hp);
    if (len == 0 || host[0] == '[')
        return; /* an IPv6 literal has no labels */
    int part = 1;
    size_t end = len, dots = 0;
    for (size_t i = len; i-- > 0;) {
        if (host[i] != '.')
            continue;
        if (i + 1 < end && part <= 9) {
            hp->ptr[part] = host + i + 1;
            hp->len[part++] = end - i - 1;
        }
        if (++dots == 2) {
            hp->ptr[0] = host + i + 1;
            hp->len[0] = len - i - 1;
        }
        end = i;
    }
    if (end > 0 && part <= 9) {
        hp->ptr[part] = host;
        hp->len[part] = end;
    }
    if (dots < 2) {
        hp->ptr[0] = host;
        hp->len[0] = len;
    }
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Length of the %-sequence at p (p[0] == '%'), or 0 when it is malformed. */
static size_t sequence_len(const char *p, size_t left) {
    if (left < 2)
        return 0;
    if (p[1] != '{')
        return 2;
    if (left >= 4 && is_digit(p[2]) && p[3] == '}')
        return 4;
    if (left >= 6 && is_digit(p[2]) && p[3] == '.' && is_digit(p[4]) && p[5] == '}')
        return 6;
    return 0;
}

int evhost_pattern_check(const char *pattern, size_t len, char *err, size_t errlen) {
    for (size_t i = 0; i < len; i++) {
        if (pattern[i] != '%')
            continue;
        size_t n = sequence_len(pattern + i, len - i);
        if (!n) {
            snprintf(err, errlen,
                     "invalid evhost.path-pattern \"%.*s\": %% must be followed by %%, _, a "
                     "digit, {n} or {n.m}",
                     (int)len, pattern);
            return -1;
        }
        i += n - 1;
    }
    return 0;
}

static size_t put(char *out, size_t cap, size_t at, const char *s, size_t n) {
    if (at < cap)
        memcpy(out + at, s, n < cap - at ? n : cap - at);
    return at + n;
}

/* What the sequence at p (of length n) stands for. */
static void substitute(const char *p, size_t n, const host_parts *hp, const char *host, size_t hlen,
                       const char **s, size_t *slen) {
    *s = "";
    *slen = 0;
    if (p[1] == '%') {
        *s = "%";
        *slen = 1;
    } else if (p[1] == '_') {
        *s = host;
        *slen = hlen;
    } else if (is_digit(p[1]) || n >= 4) {
        int part = is_digit(p[1]) ? p[1] - '0' : p[2] - '0';
        *s = hp->ptr[part] ? hp->ptr[part] : "";
        *slen = hp->len[part];
        if (n == 6 && p[4] != '0') {
            size_t m = (size_t)(p[4] - '0');
            if (m <= *slen) {
                *s += m - 1;
                *slen = 1;
            } else {
                *slen = 0;
            }
        }
    }
}

size_t evhost_expand(const char *pattern, size_t plen, const char *host, size_t hlen, char *out,
                     size_t cap) {
    host_parts hp;
    split_host(host, hlen, &hp);
    size_t at = 0;
    for (size_t i = 0; i < plen;) {
        size_t n = pattern[i] == '%' ? sequence_len(pattern + i, plen - i) : 0;
        if (!n) {
            at = put(out, cap, at, pattern + i, 1);
            i++;
            continue;
        }
        const char *s;
        size_t slen;
        substitute(pattern + i, n, &hp, host, hlen, &s, &slen);
        at = put(out, cap, at, s, slen);
        i += n;
    }
    return at;
}
