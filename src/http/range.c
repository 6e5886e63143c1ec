#include "http/range.h"

#include <string.h>
#include <strings.h>

static const char *skip_ows(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/*
 * An optional '+' and 1*DIGIT at p into *v, as lighttpd reads them with strtoll. NULL when there
 * is no digit or the value exceeds max.
 */
static const char *parse_num(const char *p, const char *end, uint64_t max, uint64_t *v) {
    if (p < end && *p == '+')
        p++;
    const char *start = p;
    uint64_t x = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (x > (max - d) / 10)
            return NULL;
        x = x * 10 + d;
        p++;
    }
    if (p == start)
        return NULL;
    *v = x;
    return p;
}

/* lighttpd's bounds: offsets are signed 64-bit, and the largest value means "overflowed". */
#define POS_MAX ((uint64_t)INT64_MAX - 1)
#define SUFFIX_MAX ((uint64_t)INT64_MAX)

/* "-n": the last n bytes (all of them when n >= size); "-0" and "-+n" are invalid. */
static const char *parse_suffix(const char *p, const char *end, uint64_t size, lux_range *r) {
    uint64_t n;
    if (p + 1 == end || p[1] < '0' || p[1] > '9')
        return NULL;
    p = parse_num(p + 1, end, SUFFIX_MAX, &n);
    if (!p || n == 0)
        return NULL;
    r->start = n >= size ? 0 : size - n;
    r->end = size - 1;
    return p;
}

/* "a-b" or "a-": first byte a (which must exist), last byte b clipped to the body. */
static const char *parse_first_last(const char *p, const char *end, uint64_t size, lux_range *r) {
    uint64_t first, last = UINT64_MAX;
    p = parse_num(p, end, POS_MAX, &first);
    if (!p || first >= size)
        return NULL;
    p = skip_ows(p, end);
    if (p == end || *p != '-')
        return NULL;
    const char *q = skip_ows(p + 1, end);
    if (q < end && (*q == '+' || (*q >= '0' && *q <= '9'))) {
        p = parse_num(q, end, POS_MAX, &last);
        if (!p || last < first)
            return NULL;
    } else {
        p = q; /* "a-": to the end */
    }
    r->start = first;
    r->end = last < size - 1 ? last : size - 1;
    return p;
}

/*
 * One list element at p, up to the next ',' or the end. Returns 1 with *r set when it is a
 * valid range-spec that selects at least one byte, else 0: lighttpd skips a malformed or
 * unsatisfiable element and keeps the others. *next is where the element ends.
 */
static int parse_spec(const char *p, const char *end, uint64_t size, lux_range *r,
                      const char **next) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *stop = comma ? comma : end;
    *next = stop;
    p = skip_ows(p, stop);
    if (p == stop)
        return 0;
    p = *p == '-' ? parse_suffix(p, stop, size, r) : parse_first_last(p, stop, size, r);
    return p && skip_ows(p, stop) == stop;
}

/*
 * Whether two ranges overlap or lie so close that one part costs less than two: lighttpd
 * joins ranges less than LUX_RANGE_JOIN_GAP bytes apart (a multipart part's headers take
 * about that much).
 */
static int near(const lux_range *a, const lux_range *b) {
    if (a->start <= b->start)
        return b->start <= a->end || b->start - a->end <= LUX_RANGE_JOIN_GAP;
    return a->start <= b->end || a->start - b->end <= LUX_RANGE_JOIN_GAP;
}

/*
 * Join near ranges in place, keeping the order in which they were asked for (RFC 9110 14.6
 * recommends it): the first pair found is joined into the earlier one and the search starts
 * over, so the result does not depend on which pairs are looked at first. k is small
 * (LUX_RANGE_MAX), so the quadratic search is cheap. Returns the new count.
 */
static size_t join_near(lux_range *r, size_t k) {
    for (size_t i = 0; i + 1 < k; i++) {
        for (size_t j = i + 1; j < k; j++) {
            if (!near(&r[i], &r[j]))
                continue;
            if (r[j].start < r[i].start)
                r[i].start = r[j].start;
            if (r[j].end > r[i].end)
                r[i].end = r[j].end;
            memmove(&r[j], &r[j + 1], (k - j - 1) * sizeof *r);
            k--;
            i = (size_t)-1; /* start over */
            break;
        }
    }
    return k;
}

lux_range_result lux_range_parse(const char *value, size_t len, uint64_t size, lux_range *ranges,
                                 size_t max, size_t *n) {
    size_t k = 0;
    *n = 0;
    /* An empty body has no byte to select; the whole (empty) response is the answer. */
    if (!value || size == 0 || len < 6 || strncasecmp(value, "bytes=", 6) != 0)
        return LUX_RANGE_IGNORE;
    const char *p = value + 6, *end = value + len;
    while (k < max) {
        const char *next;
        k += (size_t)parse_spec(p, end, size, &ranges[k], &next);
        if (next == end)
            break;
        p = next + 1;
    }
    if (k == 0)
        return LUX_RANGE_UNSATISFIABLE;
    *n = join_near(ranges, k);
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
