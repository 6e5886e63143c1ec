/*
 * Request-target normalisation with the semantics of lighttpd's server.http-parseopts, and Host
 * validation. The target is rewritten once into `uri` (the normalised encoding, what
 * REQUEST_URI shows) and the path is then decoded from that, so both always agree on which
 * escapes were valid.
 */
#include "http/uri.h"

#include <stdint.h>
#include <string.h>

enum {
    U_UNRESERVED = 1 << 0, /* ALPHA DIGIT - . _ ~ */
    U_REQUIRED = 1 << 1,   /* must be percent-encoded anywhere in a URI */
    U_HEX = 1 << 2,
    U_CTL = 1 << 3,        /* 0x00-0x1f, 0x7f */
    U_BAD_UTF8 = 1 << 4,   /* never valid in UTF-8: C0, C1, F5-FF */
    U_HOST = 1 << 5,       /* reg-name characters accepted in Host (before lower-casing) */
    U_HOST_LOWER = 1 << 6, /* reg-name characters that normalising leaves alone */
    U_PATH_LOOK = 1 << 7,  /* where a plain path needs a closer look: '/', '?' or U_REQUIRED */
};

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c) (((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z'))
#define IS_UNRES(c)                                                                                \
    (IS_DIGIT(c) || IS_ALPHA(c) || (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~')
#define IS_REQD(c)                                                                                 \
    ((c) <= 0x20 || (c) >= 0x7f || (c) == '"' || (c) == '#' || (c) == '%' || (c) == '<' ||         \
     (c) == '>' || (c) == '[' || (c) == '\\' || (c) == ']' || (c) == '^' || (c) == '`' ||          \
     (c) == '{' || (c) == '|' || (c) == '}')
#define IS_HEXC(c) (IS_DIGIT(c) || ((c) >= 'A' && (c) <= 'F') || ((c) >= 'a' && (c) <= 'f'))
#define UCLS(c)                                                                                    \
    ((IS_UNRES(c) ? U_UNRESERVED : 0) | (IS_REQD(c) ? U_REQUIRED : 0) | (IS_HEXC(c) ? U_HEX : 0) | \
     ((c) < 0x20 || (c) == 0x7f ? U_CTL : 0) |                                                     \
     ((c) == 0xc0 || (c) == 0xc1 || (c) >= 0xf5 ? U_BAD_UTF8 : 0) |                                \
     (IS_DIGIT(c) || IS_ALPHA(c) || (c) == '-' || (c) == '_' ? U_HOST : 0) |                       \
     (IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'z') || (c) == '-' || (c) == '_' ? U_HOST_LOWER : 0) |  \
     ((c) == '/' || (c) == '?' || IS_REQD(c) ? U_PATH_LOOK : 0))
#define UCLS4(c) UCLS(c), UCLS((c) + 1), UCLS((c) + 2), UCLS((c) + 3)
#define UCLS16(c) UCLS4(c), UCLS4((c) + 4), UCLS4((c) + 8), UCLS4((c) + 12)
#define UCLS64(c) UCLS16(c), UCLS16((c) + 16), UCLS16((c) + 32), UCLS16((c) + 48)

static const uint8_t ucls[256] = {UCLS64(0), UCLS64(64), UCLS64(128), UCLS64(192)};

static const char hexu[] = "0123456789ABCDEF";

static unsigned hexval(unsigned char c) {
    return IS_DIGIT(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* The parts of the target being rewritten: path (until '?' or '#') or query (until '#'). */
enum part { PART_PATH, PART_QUERY };

typedef struct {
    unsigned opts;
    int mode; /* 2: url-normalize-required, 1: url-normalize-unreserved, 0: keep as sent */
    enum part part;
    char *w; /* write position in uri_buf */
} rewriter;

static void put_escape(rewriter *rw, unsigned x) {
    if (rw->part == PART_QUERY && x == ' ' && (rw->opts & LUX_URI_QUERY_20_PLUS)) {
        *rw->w++ = '+';
        return;
    }
    rw->w[0] = '%';
    rw->w[1] = hexu[x >> 4];
    rw->w[2] = hexu[x & 0xf];
    rw->w += 3;
}

/* Whether a decoded octet may stand unencoded in the normalised form. */
static int may_decode(const rewriter *rw, unsigned x) {
    if (rw->mode == 1)
        return (ucls[x] & U_UNRESERVED) != 0;
    if (ucls[x] & U_REQUIRED)
        return 0;
    /* delimiters whose encoded form means something different from the bare one */
    if (rw->part == PART_PATH)
        return x != '/' && x != '?';
    return x != '&' && x != '=' && x != ';' && x != '+';
}

/* Checks shared by raw and decoded octets; returns 0 when the octet is acceptable. */
static int reject_octet(const rewriter *rw, unsigned x) {
    if (x == 0)
        return 1;
    if ((ucls[x] & U_CTL) && (rw->opts & LUX_URI_CTRLS_REJECT))
        return 1;
    return rw->mode && (ucls[x] & U_BAD_UTF8);
}

/* One valid %XX escape at s (s[0] == '%'). Returns 0 or 400. */
static int rewrite_escape(rewriter *rw, const unsigned char *s) {
    unsigned x = hexval(s[1]) << 4 | hexval(s[2]);
    if (reject_octet(rw, x))
        return 400;
    if (rw->part == PART_PATH && x == '/') {
        if (rw->opts & LUX_URI_PATH_2F_DECODE) {
            *rw->w++ = '/';
            return 0;
        }
        if (rw->opts & LUX_URI_PATH_2F_REJECT)
            return 400;
    }
    if (rw->mode == 0) {
        if (x == ' ' && rw->part == PART_QUERY && (rw->opts & LUX_URI_QUERY_20_PLUS)) {
            *rw->w++ = '+';
        } else {
            memcpy(rw->w, s, 3);
            rw->w += 3;
        }
    } else if (may_decode(rw, x)) {
        *rw->w++ = (char)x;
    } else {
        put_escape(rw, x);
    }
    return 0;
}

/*
 * Rewrite s[i..n) up to the end of the current part into rw->w. Returns the index where it
 * stopped ('?' for a path, '#' or n), or -1 on an invalid target.
 */
static ptrdiff_t rewrite_part(rewriter *rw, const unsigned char *s, size_t i, size_t n) {
    for (; i < n; i++) {
        unsigned c = s[i];
        if (!(ucls[c] & U_REQUIRED)) {
            if (c == '?' && rw->part == PART_PATH)
                return (ptrdiff_t)i;
            *rw->w++ = (char)c;
            continue;
        }
        if (c == '#')
            return (ptrdiff_t)i;
        if (c == '%') {
            if (i + 2 < n && (ucls[s[i + 1]] & U_HEX) && (ucls[s[i + 2]] & U_HEX)) {
                if (rewrite_escape(rw, s + i))
                    return -1;
                i += 2;
            } else if (rw->part == PART_PATH) {
                return -1;
            } else if (rw->mode) {
                put_escape(rw, '%'); /* lighttpd keeps a stray '%' in a query, encoded */
            } else {
                *rw->w++ = '%';
            }
            continue;
        }
        if (reject_octet(rw, c))
            return -1;
        if (c == '\\' && rw->part == PART_PATH && (rw->opts & LUX_URI_PATH_BACKSLASH_TRANS))
            *rw->w++ = '/';
        else if (rw->mode)
            put_escape(rw, c);
        else
            *rw->w++ = (char)c;
    }
    return (ptrdiff_t)n;
}

/*
 * Remove dot-segments (RFC 3986 5.2.4) and collapse runs of '/', in place. s[0] is '/'.
 * Output segments are kept as "/seg" with no trailing slash until the end, so ".." pops back
 * to the previous '/' and can never climb above the root.
 */
static size_t simplify(char *s, size_t len) {
    size_t r = 0, w = 0;
    int trailing = 0;
    while (r < len) {
        size_t seg = r + 1, e = seg;
        while (e < len && s[e] != '/')
            e++;
        size_t n = e - seg;
        trailing = 0;
        if (n == 0 || (n == 1 && s[seg] == '.')) {
            trailing = 1;
        } else if (n == 2 && s[seg] == '.' && s[seg + 1] == '.') {
            while (w > 0 && s[--w] != '/')
                ;
            trailing = 1;
        } else {
            s[w++] = '/';
            memmove(s + w, s + seg, n);
            w += n;
        }
        r = e;
    }
    if (trailing || w == 0)
        s[w++] = '/';
    return w;
}

/* Whether any '/'-separated segment of s[0..len) is "." or "..". */
static int has_dot_segment(const char *s, size_t len) {
    size_t seg = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            size_t n = i - seg;
            if ((n == 1 && s[seg] == '.') || (n == 2 && s[seg] == '.' && s[seg + 1] == '.'))
                return 1;
            seg = i + 1;
        }
    }
    return 0;
}

/*
 * Decode the (already validated) normalised path into dst. An encoded '/' stays "%2F" so it
 * cannot act as a separator; control characters that were allowed through become '_'.
 */
static size_t decode_path(const char *src, size_t len, char *dst, unsigned opts) {
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned c = (unsigned char)src[i];
        if (c == '%') {
            c = hexval((unsigned char)src[i + 1]) << 4 | hexval((unsigned char)src[i + 2]);
            i += 2;
            if (c == '/') {
                memcpy(dst + w, "%2F", 3);
                w += 3;
                continue;
            }
        }
        if (ucls[c] & U_CTL)
            c = '_';
        else if (c == '\\' && (opts & LUX_URI_PATH_BACKSLASH_TRANS))
            c = '/';
        dst[w++] = (char)c;
    }
    return w;
}

static int ieq(const unsigned char *s, size_t n, const char *lit) {
    size_t i = 0;
    for (; i < n && lit[i]; i++) {
        if ((s[i] | 0x20) != (unsigned char)lit[i])
            return 0;
    }
    return i == n && !lit[i];
}

/* absolute-form: "http(s)://authority[/path][?query]". Returns the index after the authority. */
static ptrdiff_t split_absolute(const unsigned char *s, size_t n, lux_uri *out) {
    size_t i = 0;
    while (i < n && s[i] != ':')
        i++;
    if (!(ieq(s, i, "http") || ieq(s, i, "https")))
        return -1;
    if (n - i < 3 || s[i + 1] != '/' || s[i + 2] != '/')
        return -1;
    size_t a = i + 3, e = a;
    while (e < n && s[e] != '/' && s[e] != '?' && s[e] != '#') {
        if (s[e] == '@' || (ucls[s[e]] & U_CTL) || s[e] == ' ')
            return -1;
        e++;
    }
    if (e == a)
        return -1;
    out->scheme = (const char *)s;
    out->scheme_len = i;
    out->authority = (const char *)s + a;
    out->authority_len = e - a;
    return (ptrdiff_t)e;
}

/*
 * The length of the path at the start of s when it is plain: characters that are neither
 * decoded, rejected nor encoded in any mode (no '%', no controls, nothing that must be escaped)
 * and no '/' followed by '/' or '.' (no empty or dot segment). Such a path normalises to itself,
 * as the path and as the uri. 0 when it is not plain.
 */
static size_t plain_path_len(const unsigned char *s, size_t n) {
    size_t i = 0;
    for (; i < n; i++) {
        unsigned c = s[i];
        if (!(ucls[c] & U_PATH_LOOK))
            continue;
        if (c == '?')
            break;
        if (c != '/' || (i + 1 < n && (s[i + 1] == '/' || s[i + 1] == '.')))
            return 0;
    }
    return i;
}

int lux_uri_is_plain(const char *target, size_t len) {
    const unsigned char *s = (const unsigned char *)target;
    return len > 0 && s[0] == '/' && plain_path_len(s, len) == len;
}

/* The path part of the target from s[i] into the rewriter's uri_buf, and decoded and simplified
 * into path_buf. Returns where it stopped (as rewrite_part), or -1 for a 400. */
static ptrdiff_t normalise_path(rewriter *rw, const unsigned char *s, size_t i, size_t n,
                                char *uri_buf, lux_uri *out, char *path_buf) {
    unsigned opts = rw->opts;
    ptrdiff_t stop = rewrite_part(rw, s, i, n);
    if (stop < 0)
        return -1;
    size_t upath_len = (size_t)(rw->w - uri_buf);

    out->path = path_buf;
    out->path_len = decode_path(uri_buf, upath_len, path_buf, opts);
    if ((opts & LUX_URI_PATH_DOTSEG_REJECT) && has_dot_segment(path_buf, out->path_len))
        return -1;
    out->path_len = simplify(path_buf, out->path_len);
    path_buf[out->path_len] = '\0';

    if ((opts & (LUX_URI_PATH_DOTSEG_REMOVE | LUX_URI_PATH_DOTSEG_REJECT)) ==
        LUX_URI_PATH_DOTSEG_REMOVE) {
        upath_len = simplify(uri_buf, upath_len);
        rw->w = uri_buf + upath_len;
    }
    return stop;
}

int lux_uri_parse(const char *target, size_t target_len, unsigned opts, lux_uri *out, char *uri_buf,
                  char *path_buf) {
    const unsigned char *s = (const unsigned char *)target;
    size_t n = target_len, i = 0;
    rewriter rw = {.opts = opts, .part = PART_PATH, .w = uri_buf};

    memset(out, 0, sizeof(*out));
    rw.mode = (opts & LUX_URI_NORMALIZE_REQUIRED)     ? 2
              : (opts & LUX_URI_NORMALIZE_UNRESERVED) ? 1
                                                      : 0;
    if (n == 0)
        return 400;
    if (s[0] != '/') {
        ptrdiff_t a = split_absolute(s, n, out);
        if (a < 0)
            return 400;
        i = (size_t)a;
        if (i == n || s[i] != '/')
            *rw.w++ = '/';
    }

    /* Most targets are plain paths: copied as they are instead of rewritten, decoded and
     * simplified into themselves. */
    size_t plain = rw.w == uri_buf ? plain_path_len(s + i, n - i) : 0;
    ptrdiff_t stop;
    if (plain) {
        memcpy(uri_buf, s + i, plain);
        memcpy(path_buf, s + i, plain);
        path_buf[plain] = '\0';
        out->path = path_buf;
        out->path_len = plain;
        rw.w = uri_buf + plain;
        stop = (ptrdiff_t)(i + plain);
    } else {
        stop = normalise_path(&rw, s, i, n, uri_buf, out, path_buf);
        if (stop < 0)
            return 400;
    }

    if ((size_t)stop < n && s[stop] == '?') {
        *rw.w++ = '?';
        out->query = rw.w;
        rw.part = PART_QUERY;
        if (rewrite_part(&rw, s, (size_t)stop + 1, n) < 0)
            return 400;
        out->query_len = (size_t)(rw.w - out->query);
    }
    out->uri = uri_buf;
    out->uri_len = (size_t)(rw.w - uri_buf);
    uri_buf[out->uri_len] = '\0';
    return 0;
}

/* "[IPv6]": hex digits, ':' and '.' (embedded IPv4) between the brackets. */
static ptrdiff_t host_ipv6(char *h, size_t len) {
    size_t i = 1, colons = 0;
    for (; i < len && h[i] != ']'; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == ':')
            colons++;
        else if (!(ucls[c] & U_HEX) && c != '.')
            return -1;
        else if (c >= 'A' && c <= 'F')
            h[i] = (char)(c | 0x20);
    }
    if (i == len || colons < 2 || colons > 7)
        return -1;
    return (ptrdiff_t)i + 1;
}

/* reg-name or IPv4: labels of [a-z0-9_-], non-empty, one trailing '.' allowed. */
static ptrdiff_t host_name(char *h, size_t len, size_t *name_len) {
    size_t i = 0, label = 0;
    for (; i < len && h[i] != ':'; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == '.') {
            if (label == 0)
                return -1;
            label = 0;
            continue;
        }
        if (!(ucls[c] & U_HOST))
            return -1;
        if (c >= 'A' && c <= 'Z')
            h[i] = (char)(c | 0x20);
        label++;
    }
    *name_len = i;
    return (ptrdiff_t)i;
}

/*
 * The value shrank from orig_len to len bytes: write a NUL after it, so a value that was a C
 * string stays one (the bytes after it are left over from before and must not be read as part
 * of it). An unchanged value is left alone: its terminator, if any, is the caller's.
 */
static int terminate(char *host, size_t len, size_t orig_len) {
    if (len < orig_len)
        host[len] = '\0';
    return (int)len;
}

/* A port that normalising keeps as it is: 1-5 digits, at most 65535. */
static int port_is_normal(const unsigned char *p, size_t n) {
    if (n == 0 || n > 5)
        return 0;
    unsigned port = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)p[i] - '0';
        if (d > 9)
            return 0;
        port = port * 10 + d;
    }
    return port <= 65535;
}

/* The end of the label starting at h[i]: four bytes at a time while there is room, since most
 * labels are longer than that. */
static size_t label_end(const unsigned char *h, size_t i, size_t len) {
    for (; len - i >= 4; i += 4) {
        if (!(ucls[h[i]] & U_HOST_LOWER))
            return i;
        if (!(ucls[h[i + 1]] & U_HOST_LOWER))
            return i + 1;
        if (!(ucls[h[i + 2]] & U_HOST_LOWER))
            return i + 2;
        if (!(ucls[h[i + 3]] & U_HOST_LOWER))
            return i + 3;
    }
    while (i < len && (ucls[h[i]] & U_HOST_LOWER))
        i++;
    return i;
}

int lux_host_is_normal(const char *host, size_t len) {
    const unsigned char *h = (const unsigned char *)host;
    size_t i = 0;
    for (;;) {
        size_t label = i;
        i = label_end(h, i, len);
        if (i == label) /* empty: a leading, doubled or trailing dot, or nothing at all */
            return 0;
        if (i == len || h[i] != '.')
            break;
        i++;
    }
    if (i > 255)
        return 0;
    return i == len || (h[i] == ':' && port_is_normal(h + i + 1, len - i - 1));
}

int lux_host_normalize(char *host, size_t len) {
    size_t end, name_len = 0, orig_len = len;
    ptrdiff_t r;
    if (lux_host_is_normal(host, len))
        return (int)len;
    if (len == 0 || len > 255 + 1 + 6) /* name, a trailing dot, ":port" */
        return -1;
    if (host[0] == '[') {
        r = host_ipv6(host, len);
        if (r < 0)
            return -1;
        end = (size_t)r;
    } else {
        r = host_name(host, len, &name_len);
        if (r <= 0)
            return -1;
        end = (size_t)r;
        if (host[end - 1] == '.') {
            if (end == 1)
                return -1;
            memmove(host + end - 1, host + end, len - end);
            end--;
            len--;
        }
        if (end > 255)
            return -1;
    }
    if (end == len)
        return terminate(host, len, orig_len);
    if (host[end] != ':' || len - end > 6)
        return -1;
    unsigned port = 0;
    for (size_t i = end + 1; i < len; i++) {
        if (!IS_DIGIT(host[i]))
            return -1;
        port = port * 10 + (unsigned)(host[i] - '0');
    }
    if (port > 65535)
        return -1;
    /* an empty port means the default one: drop the ':' (RFC 3986 6.2.3) */
    if (end + 1 == len)
        len = end;
    return terminate(host, len, orig_len);
}

size_t lux_uri_encode_path(const char *src, size_t len, char *dst) {
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if ((ucls[c] & U_UNRESERVED) || c == '/') {
            dst[w++] = (char)c;
        } else {
            dst[w++] = '%';
            dst[w++] = hexu[c >> 4];
            dst[w++] = hexu[c & 0xf];
        }
    }
    dst[w] = '\0';
    return w;
}
