#include "http/range.h"

#include <stdlib.h>
#include <strings.h>

static const char *skip_ows(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* 1*DIGIT into *v; NULL when there is no digit or the value does not fit in 64 bits. */
static const char *parse_num(const char *p, const char *end, uint64_t *v) {
    const char *start = p;
    uint64_t x = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return NULL;
        x = x * 10 + d;
        p++;
    }
    if (p == start)
        return NULL;
    *v = x;
    return p;
}

/*
 * One range-spec ("a-b", "a-" or "-n") at p. Returns the end of it, or NULL for a syntax error
 * (which makes the whole header invalid). *sat says whether it selects any byte of size; if so
 * *r holds the clipped range.
 */
static const char *parse_spec(const char *p, const char *end, uint64_t size, lux_range *r,
                              int *sat) {
    uint64_t first, last;
    if (*p == '-') {
        p = parse_num(p + 1, end, &last);
        if (!p)
            return NULL;
        /* A zero-length suffix selects nothing; a longer-than-body one selects all of it. */
        *sat = last > 0;
        r->start = last >= size ? 0 : size - last;
        r->end = size - 1;
        return p;
    }
    p = parse_num(p, end, &first);
    if (!p || p == end || *p != '-')
        return NULL;
    p++;
    last = UINT64_MAX;
    if (p < end && *p >= '0' && *p <= '9') {
        p = parse_num(p, end, &last);
        if (!p)
            return NULL;
        if (first > last) {
            /* RFC 9110 calls this invalid; lighttpd and nginx answer 416, and so do we. */
            *sat = 0;
            return p;
        }
    }
    *sat = first < size;
    r->start = first;
    r->end = last < size - 1 ? last : size - 1;
    return p;
}

static int cmp_range(const void *a, const void *b) {
    const lux_range *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Sort and coalesce overlapping or touching ranges in place; returns the new count. */
static size_t merge(lux_range *r, size_t k) {
    qsort(r, k, sizeof *r, cmp_range);
    size_t m = 0;
    for (size_t i = 1; i < k; i++) {
        /* end < size <= UINT64_MAX, so end + 1 cannot wrap. */
        if (r[i].start <= r[m].end + 1) {
            if (r[i].end > r[m].end)
                r[m].end = r[i].end;
        } else {
            r[++m] = r[i];
        }
    }
    return m + 1;
}

lux_range_result lux_range_parse(const char *value, size_t len, uint64_t size, lux_range *ranges,
                                 size_t max, size_t *n) {
    lux_range tmp[LUX_RANGE_SPECS_MAX];
    size_t specs = 0, k = 0;
    *n = 0;
    /* An empty body has no byte to select; the whole (empty) response is the answer. */
    if (!value || size == 0 || len < 6 || strncasecmp(value, "bytes=", 6) != 0)
        return LUX_RANGE_IGNORE;
    const char *p = skip_ows(value + 6, value + len), *end = value + len;
    while (p < end) {
        if (*p == ',') {
            /* RFC 9110 5.6.1.2: empty list elements are tolerated. */
            p = skip_ows(p + 1, end);
            continue;
        }
        int sat = 0;
        if (++specs > LUX_RANGE_SPECS_MAX)
            return LUX_RANGE_IGNORE;
        p = parse_spec(p, end, size, &tmp[k], &sat);
        if (!p)
            return LUX_RANGE_IGNORE;
        k += (size_t)sat;
        p = skip_ows(p, end);
        if (p < end && *p != ',')
            return LUX_RANGE_IGNORE;
    }
    if (specs == 0)
        return LUX_RANGE_IGNORE;
    if (k == 0)
        return LUX_RANGE_UNSATISFIABLE;
    k = merge(tmp, k);
    if (k > max)
        return LUX_RANGE_IGNORE;
    for (size_t i = 0; i < k; i++)
        ranges[i] = tmp[i];
    *n = k;
    return LUX_RANGE_OK;
}

static uint64_t splitmix(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void lux_range_boundary(uint64_t seed, char out[33]) {
    static const char hex[] = "0123456789abcdef";
    uint64_t state = seed;
    for (int half = 0; half < 2; half++) {
        uint64_t v = splitmix(&state);
        for (int i = 0; i < 16; i++)
            out[half * 16 + i] = hex[(v >> (60 - 4 * i)) & 15];
    }
    out[32] = '\0';
}
