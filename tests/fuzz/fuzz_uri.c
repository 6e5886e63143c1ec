/*
 * Request-target normalisation and Host validation. A normalised path always starts with '/',
 * has no dot-segments, no "//" and no NUL; the normalised uri parses back to itself; a path
 * survives lux_uri_encode_path and parsing again; a plain path matches a segment-stack model of
 * dot-segment removal; Host normalisation is idempotent; a target lux_uri_is_plain accepts
 * parses to itself, and lux_host_is_normal accepts exactly the hosts a model of the normal
 * shape does, which normalising leaves alone.
 * The first two bytes pick the parse options.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/uri.h"

static void fail(void) {
    abort();
}

static int contains(const char *s, size_t n, const char *needle) {
    return memmem(s, n, needle, strlen(needle)) != NULL;
}

static void check_path(const char *p, size_t n) {
    if (n == 0 || p[0] != '/' || p[n] != '\0' || memchr(p, 0, n))
        fail();
    if (contains(p, n, "/../") || contains(p, n, "/./") || contains(p, n, "//"))
        fail();
    if ((n >= 3 && memcmp(p + n - 3, "/..", 3) == 0) || (n >= 2 && memcmp(p + n - 2, "/.", 2) == 0))
        fail();
}

static int parse(const char *t, size_t n, unsigned opts, lux_uri *u, char **ub, char **pb) {
    *ub = malloc(3 * n + 2);
    *pb = malloc(3 * n + 2);
    if (!*ub || !*pb)
        abort();
    return lux_uri_parse(t, n, opts, u, *ub, *pb);
}

static void check_uri(const char *t, size_t n, unsigned opts) {
    lux_uri u;
    char *ub, *pb;
    int r = parse(t, n, opts, &u, &ub, &pb);
    if (r != 0 && r != 400)
        fail();
    if (r == 0) {
        check_path(u.path, u.path_len);
        if (u.uri_len > 3 * n + 1 || u.uri[0] != '/' || u.uri[u.uri_len] != '\0')
            fail();
        if (memchr(u.uri, 0, u.uri_len) || memchr(u.uri, '#', u.uri_len))
            fail();
        if (u.query && (u.query < u.uri + 1 || u.query[-1] != '?' ||
                        u.query + u.query_len != u.uri + u.uri_len))
            fail();
        if (u.authority && (u.authority < t || u.authority + u.authority_len > t + n))
            fail();

        int normalising = opts & (LUX_URI_NORMALIZE_UNRESERVED | LUX_URI_NORMALIZE_REQUIRED);
        if (normalising) {
            lux_uri v;
            char *ub2, *pb2;
            if (parse(u.uri, u.uri_len, opts, &v, &ub2, &pb2) != 0)
                fail();
            if (v.uri_len != u.uri_len || memcmp(v.uri, u.uri, u.uri_len) != 0)
                fail();
            if (v.path_len != u.path_len || memcmp(v.path, u.path, u.path_len) != 0)
                fail();
            free(ub2);
            free(pb2);
        }

        char *enc = malloc(3 * u.path_len + 1);
        if (!enc)
            abort();
        size_t en = lux_uri_encode_path(u.path, u.path_len, enc);
        lux_uri w;
        char *ub3, *pb3;
        if (parse(enc, en, 0, &w, &ub3, &pb3) != 0)
            fail();
        if (w.path_len != u.path_len || memcmp(w.path, u.path, u.path_len) != 0)
            fail();
        free(enc);
        free(ub3);
        free(pb3);
    }
    free(ub);
    free(pb);
}

/*
 * Model for targets that decode to themselves: push segments, ".." pops, "" and "." vanish;
 * a final "", "." or ".." leaves a trailing '/'.
 */
static void check_model(const char *t, size_t n) {
    if (n == 0 || t[0] != '/')
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7f || strchr("%?#\\\"<>[]^`{|}", c))
            return;
    }
    size_t *segs = malloc(n * sizeof(size_t)), *lens = malloc(n * sizeof(size_t));
    char *want = malloc(n + 2);
    if (!segs || !lens || !want)
        abort();
    size_t depth = 0, i = 1, w = 0;
    int trailing = 0;
    for (;;) {
        size_t e = i;
        while (e < n && t[e] != '/')
            e++;
        size_t len = e - i;
        trailing = len == 0 || (len == 1 && t[i] == '.') || (len == 2 && !memcmp(t + i, "..", 2));
        if (len == 2 && !memcmp(t + i, "..", 2)) {
            if (depth)
                depth--;
        } else if (!trailing) {
            segs[depth] = i;
            lens[depth++] = len;
        }
        if (e == n)
            break;
        i = e + 1;
    }
    for (size_t k = 0; k < depth; k++) {
        want[w++] = '/';
        memcpy(want + w, t + segs[k], lens[k]);
        w += lens[k];
    }
    if (trailing || depth == 0)
        want[w++] = '/';
    lux_uri u;
    char *ub, *pb;
    if (parse(t, n, LUX_URI_DEFAULT_OPTS, &u, &ub, &pb) != 0)
        fail();
    if (u.path_len != w || memcmp(u.path, want, w) != 0)
        fail();
    if (u.uri_len != w || memcmp(u.uri, want, w) != 0)
        fail();
    free(ub);
    free(pb);
    free(segs);
    free(lens);
    free(want);
}

static void check_host(const char *t, size_t n) {
    char *h = malloc(n ? n : 1);
    if (!h)
        abort();
    memcpy(h, t, n);
    int r = lux_host_normalize(h, n);
    if (r >= 0) {
        if ((size_t)r > n || r == 0)
            fail();
        for (int i = 0; i < r; i++)
            if ((h[i] >= 'A' && h[i] <= 'Z') || h[i] == '/' || h[i] == '@' || h[i] == ' ' ||
                (unsigned char)h[i] < 0x20 || (unsigned char)h[i] >= 0x7f)
                fail();
        int r2 = lux_host_normalize(h, (size_t)r);
        if (r2 != r)
            fail();
    }
    free(h);
}

/* A plain target is its own uri and path under these options, with no query. */
static void check_plain(const char *t, size_t n, unsigned opts) {
    if (!lux_uri_is_plain(t, n))
        return;
    lux_uri u;
    char *ub, *pb;
    if (parse(t, n, opts, &u, &ub, &pb) != 0)
        fail();
    if (u.uri_len != n || memcmp(u.uri, t, n) != 0 || u.path_len != n || memcmp(u.path, t, n) != 0)
        fail();
    if (u.query || u.authority)
        fail();
    free(ub);
    free(pb);
}

/* The already-normal Host shape, written out on its own: [a-z0-9_-] labels joined by single
 * dots, at most 255 bytes, then nothing or ':' and 1-5 digits up to 65535. */
static int normal_host_model(const char *h, size_t n) {
    const char *colon = memchr(h, ':', n);
    size_t name = colon ? (size_t)(colon - h) : n;
    if (name == 0 || name > 255 || h[0] == '.' || h[name - 1] == '.')
        return 0;
    for (size_t i = 0; i < name; i++) {
        char c = h[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                 (c == '.' && h[i + 1] != '.');
        if (!ok)
            return 0;
    }
    if (!colon)
        return 1;
    size_t digits = n - name - 1;
    if (digits == 0 || digits > 5)
        return 0;
    unsigned port = 0;
    for (size_t i = name + 1; i < n; i++) {
        if (h[i] < '0' || h[i] > '9')
            return 0;
        port = port * 10 + (unsigned)(h[i] - '0');
    }
    return port <= 65535;
}

/* The shortcut takes exactly what the model calls normal, and returns it untouched. */
static void check_normal_host(const char *t, size_t n) {
    if (lux_host_is_normal(t, n) != normal_host_model(t, n))
        fail();
    if (!normal_host_model(t, n))
        return;
    char *h = malloc(n ? n : 1);
    if (!h)
        abort();
    memcpy(h, t, n);
    if (lux_host_normalize(h, n) != (int)n || memcmp(h, t, n) != 0)
        fail();
    free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    unsigned opts = (unsigned)(data[0] | (data[1] & 1) << 8);
    const char *t = (const char *)data + 2;
    size_t n = size - 2;
    check_uri(t, n, opts);
    check_uri(t, n, LUX_URI_DEFAULT_OPTS);
    check_model(t, n);
    check_host(t, n);
    check_plain(t, n, opts);
    check_plain(t, n, LUX_URI_DEFAULT_OPTS);
    check_normal_host(t, n);
    return 0;
}
