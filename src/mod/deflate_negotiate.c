#include "mod/deflate_negotiate.h"

#include <strings.h>

static const char *const enc_names[DEFLATE_ENC_COUNT] = {
    [DEFLATE_ENC_NONE] = "",         [DEFLATE_ENC_ZSTD] = "zstd",
    [DEFLATE_ENC_BR] = "br",         [DEFLATE_ENC_GZIP] = "gzip",
    [DEFLATE_ENC_X_GZIP] = "x-gzip", [DEFLATE_ENC_DEFLATE] = "deflate",
    [DEFLATE_ENC_BZIP2] = "bzip2",   [DEFLATE_ENC_X_BZIP2] = "x-bzip2",
};

const char *deflate_enc_name(deflate_enc e) {
    return e > DEFLATE_ENC_NONE && e < DEFLATE_ENC_COUNT ? enc_names[e] : "";
}

static int name_is(const char *s, size_t len, const char *name) {
    size_t n = 0;
    while (name[n])
        n++;
    return len == n && strncasecmp(s, name, n) == 0;
}

deflate_enc deflate_enc_from_name(const char *s, size_t len) {
    for (int e = DEFLATE_ENC_NONE + 1; e < DEFLATE_ENC_COUNT; e++)
        if (name_is(s, len, enc_names[e]))
            return (deflate_enc)e;
    return DEFLATE_ENC_NONE;
}

static int is_ows(char c) {
    return c == ' ' || c == '\t';
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), as thousandths; -1 if bad. */
static int parse_qvalue(const char *s, size_t len) {
    if (len == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    if (len > 1 && (s[1] != '.' || len > 5))
        return -1;
    int v = (s[0] - '0') * 1000, scale = 100;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v += (s[i] - '0') * scale;
    }
    return v > 1000 ? -1 : v;
}

/* The weight of one element's parameters ";q=..." (other parameters are ignored); 1000 when
 * there is no q, -1 when the q is malformed. */
static int element_weight(const char *p, const char *end) {
    int q = 1000;
    while (p < end) {
        while (p < end && (is_ows(*p) || *p == ';'))
            p++;
        const char *name = p;
        while (p < end && *p != '=' && *p != ';' && !is_ows(*p))
            p++;
        size_t nlen = (size_t)(p - name);
        while (p < end && is_ows(*p))
            p++;
        if (p >= end || *p != '=') {
            if (nlen == 1 && (*name == 'q' || *name == 'Q'))
                return -1;
            continue;
        }
        p++;
        while (p < end && is_ows(*p))
            p++;
        const char *val = p;
        while (p < end && *p != ';' && !is_ows(*p))
            p++;
        if (nlen == 1 && (*name == 'q' || *name == 'Q'))
            q = parse_qvalue(val, (size_t)(p - val));
        if (q < 0)
            return -1;
    }
    return q;
}

static void record(deflate_accept *a, const char *tok, size_t tlen, int q) {
    if (tlen == 1 && tok[0] == '*')
        a->star = (short)q;
    else if (name_is(tok, tlen, "identity"))
        a->identity = (short)q;
    else {
        deflate_enc e = deflate_enc_from_name(tok, tlen);
        if (e != DEFLATE_ENC_NONE)
            a->q[e] = (short)q;
    }
}

void deflate_accept_parse(const char *s, size_t len, deflate_accept *a) {
    for (int e = 0; e < DEFLATE_ENC_COUNT; e++)
        a->q[e] = -1;
    a->identity = a->star = -1;
    const char *p = s, *end = s + len;
    while (p < end) {
        while (p < end && (is_ows(*p) || *p == ','))
            p++;
        const char *tok = p;
        while (p < end && *p != ',' && *p != ';' && !is_ows(*p))
            p++;
        size_t tlen = (size_t)(p - tok);
        const char *params = p;
        while (p < end && *p != ',')
            p++;
        int q = element_weight(params, p);
        if (tlen && q >= 0)
            record(a, tok, tlen, q);
    }
}

int deflate_accept_weight(const deflate_accept *a, deflate_enc e) {
    if (e <= DEFLATE_ENC_NONE || e >= DEFLATE_ENC_COUNT)
        return 0;
    if (a->q[e] >= 0)
        return a->q[e];
    return a->star >= 0 ? a->star : 0;
}

/* The name a client accepts an allowed coding under, with its weight: gzip answers x-gzip. */
static deflate_enc accepted_alias(const deflate_accept *a, deflate_enc e, int *w) {
    *w = deflate_accept_weight(a, e);
    deflate_enc alias = e == DEFLATE_ENC_GZIP    ? DEFLATE_ENC_X_GZIP
                        : e == DEFLATE_ENC_BZIP2 ? DEFLATE_ENC_X_BZIP2
                                                 : DEFLATE_ENC_NONE;
    if (alias == DEFLATE_ENC_NONE || a->q[e] >= 0 || a->q[alias] <= 0)
        return e;
    *w = a->q[alias];
    return alias;
}

deflate_enc deflate_choose(const deflate_accept *a, const deflate_enc *allowed, size_t n) {
    deflate_enc best = DEFLATE_ENC_NONE;
    int best_w = 0;
    for (size_t i = 0; i < n; i++) {
        int w;
        deflate_enc e = accepted_alias(a, allowed[i], &w);
        if (w > best_w) {
            best = e;
            best_w = w;
        }
    }
    return best;
}
