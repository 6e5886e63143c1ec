/*
 * Request-target handling: split, validate, normalise, and Host validation. Pure functions.
 */
#ifndef LUX_URI_H
#define LUX_URI_H

#include <stddef.h>

/* server.http-parseopts flags that shape normalisation (lighttpd's names and defaults). */
enum {
    LUX_URI_NORMALIZE_UNRESERVED = 1 << 0, /* url-normalize-unreserved (default on) */
    LUX_URI_NORMALIZE_REQUIRED = 1 << 1,   /* url-normalize-required (default on) */
    LUX_URI_CTRLS_REJECT = 1 << 2,         /* url-ctrls-reject (default on) */
    LUX_URI_PATH_BACKSLASH_TRANS = 1 << 3, /* url-path-backslash-trans (default off) */
    LUX_URI_PATH_2F_DECODE = 1 << 4,       /* url-path-2f-decode (default off) */
    LUX_URI_PATH_2F_REJECT = 1 << 5,       /* url-path-2f-reject (default off) */
    LUX_URI_PATH_DOTSEG_REMOVE = 1 << 6,   /* url-path-dotseg-remove (default on) */
    LUX_URI_PATH_DOTSEG_REJECT = 1 << 7,   /* url-path-dotseg-reject (default off) */
    LUX_URI_QUERY_20_PLUS = 1 << 8,        /* url-query-20-plus (default off) */
};
#define LUX_URI_DEFAULT_OPTS                                                                       \
    (LUX_URI_NORMALIZE_UNRESERVED | LUX_URI_NORMALIZE_REQUIRED | LUX_URI_CTRLS_REJECT |            \
     LUX_URI_PATH_DOTSEG_REMOVE)

typedef struct {
    /* absolute-form only ("http://host:port/p"): scheme and authority slices into the target */
    const char *scheme;
    size_t scheme_len;
    const char *authority;
    size_t authority_len;
    /* written into caller buffers, NUL-terminated: */
    char *uri; /* normalised raw path + "?" + query (what REQUEST_URI shows); starts with '/' */
    size_t uri_len;
    char *path; /* fully percent-decoded path, dot-segments removed, "//" collapsed */
    size_t path_len;
    const char *query; /* points into uri after '?', or NULL when there is no '?' */
    size_t query_len;
} lux_uri;

/*
 * Parse and normalise a request target (origin-form or absolute-form; "*" is handled by the
 * caller). `uri_buf` and `path_buf` must each hold at least 3 * target_len + 2 bytes.
 * Returns 0, or an HTTP status (400) when the target is invalid: not starting with '/', %00, a
 * bad %-escape, control characters (when rejected), a decoded "/" with 2f-reject, a dot-segment
 * with dotseg-reject. A path never climbs above "/".
 *
 * As lighttpd does: with either normalize flag the whole target, query included, is normalised
 * (decode what need not be encoded, encode what must be, upper-case hex; in the query "%26",
 * "%3D", "%3B" and "%2B" stay encoded, in the path "%2F" and "%3F"), and octets that can never
 * occur in UTF-8 (C0, C1, F5-FF, raw or encoded) are rejected. A '#' fragment is dropped. In the
 * query a stray '%' is kept (as "%25" when normalising) rather than rejected. `path` keeps an
 * encoded slash as "%2F" unless 2f-decode is set, and control characters that are not rejected
 * become '_'. Dot-segments are always removed from `path`; from `uri` only with dotseg-remove.
 */
int lux_uri_parse(const char *target, size_t target_len, unsigned opts, lux_uri *out, char *uri_buf,
                  char *path_buf);

/*
 * Whether a target is a plain origin-form path without a query: nothing to decode, reject or
 * encode under any options, and no empty or dot segment. lux_uri_parse returns such a target
 * unchanged as both uri and path, with no query.
 */
int lux_uri_is_plain(const char *target, size_t len);

/*
 * Whether a Host value is already normal, as most are ("example.com", "127.0.0.1:8080"):
 * non-empty labels of [a-z0-9_-] without a trailing dot, a name of at most 255 bytes, and no
 * port or 1-5 digits up to 65535. lux_host_normalize returns such a value unchanged.
 */
int lux_host_is_normal(const char *host, size_t len);

/*
 * Validate and normalise a Host value in place (lower-case, strip a trailing '.', check the
 * port digits, bracketed IPv6). Returns the new length, or -1 if invalid.
 * Names are labels of letters, digits, '-' and '_'; an empty port ("host:") loses its ':'.
 * An empty value is -1: the caller decides whether a missing Host is acceptable.
 * When the value gets shorter, host[new length] becomes '\0': a NUL-terminated value stays
 * NUL-terminated ("a.b.:80" reads "a.b:80", not "a.b:800").
 */
int lux_host_normalize(char *host, size_t len);

/* Percent-encode a decoded path for use in a Location header; returns bytes written (dst must
 * hold 3 * len + 1). Unreserved characters and "/" are kept. */
size_t lux_uri_encode_path(const char *src, size_t len, char *dst);

#endif
