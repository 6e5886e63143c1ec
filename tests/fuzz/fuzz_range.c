/*
 * Range header fuzzing. Input: 1 flag byte, 8 bytes of size, 1 byte of max, then the header
 * value. Flag bit 0 clear keeps the size under 4096 so a second, deliberately naive parser
 * (byte bitmap of the first max valid specs) can check the exact answer, not just its shape.
 */
#include "http/range.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REF_SIZE 4096

static const char *ows(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Digits (after an optional '+') up to max, else -1. */
static int ref_num(const char **pp, const char *end, uint64_t max, uint64_t *v) {
    const char *p = *pp;
    uint64_t x = 0;
    if (p < end && *p == '+')
        p++;
    if (p == end || *p < '0' || *p > '9')
        return -1;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (x > (max - (uint64_t)(*p - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *pp = p;
    *v = x;
    return 0;
}

/* One element [q, e) without surrounding blanks: its byte span, or -1 when it selects none. */
static int ref_spec(const char *q, const char *e, uint64_t size, uint64_t *lo, uint64_t *hi) {
    uint64_t a, b = UINT64_MAX;
    if (q == e)
        return -1;
    if (*q == '-') {
        q++;
        if (q == e || *q == '+' || ref_num(&q, e, INT64_MAX, &b) < 0 || q != e || b == 0)
            return -1;
        *lo = b >= size ? 0 : size - b;
        *hi = size - 1;
        return 0;
    }
    if (ref_num(&q, e, INT64_MAX - 1, &a) < 0)
        return -1;
    q = ows(q, e);
    if (q == e || *q++ != '-')
        return -1;
    q = ows(q, e);
    if (q != e && (ref_num(&q, e, INT64_MAX - 1, &b) < 0 || q != e || b < a))
        return -1;
    if (a >= size)
        return -1;
    *lo = a;
    *hi = b < size - 1 ? b : size - 1;
    return 0;
}

/* Marks the bytes of the first max valid specs in bits; returns the expected result code. */
static lux_range_result reference(const char *s, size_t len, uint64_t size, size_t max,
                                  unsigned char *bits) {
    if (size == 0 || len < 6 || strncasecmp(s, "bytes=", 6) != 0)
        return LUX_RANGE_IGNORE;
    const char *end = s + len, *p = s + 6;
    size_t valid = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end, *q = ows(p, e);
        const char *te = e;
        while (te > q && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        uint64_t lo, hi;
        if (valid < max && ref_spec(q, te, size, &lo, &hi) == 0) {
            valid++;
            for (uint64_t i = lo; i <= hi; i++)
                bits[i] = 1;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return valid ? LUX_RANGE_OK : LUX_RANGE_UNSATISFIABLE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 10)
        return 0;
    uint64_t body = 0;
    memcpy(&body, data + 1, 8);
    int exact = !(data[0] & 1);
    if (exact)
        body %= REF_SIZE;
    size_t max = data[9] % 20;
    const char *hdr = (const char *)data + 10;
    size_t len = size - 10;

    lux_range r[20];
    size_t n = 12345;
    lux_range_result res = lux_range_parse(hdr, len, body, r, max, &n);
    if (res != LUX_RANGE_OK) {
        if (n != 0 || (res != LUX_RANGE_IGNORE && res != LUX_RANGE_UNSATISFIABLE))
            abort();
    } else {
        if (n == 0 || n > max)
            abort();
        for (size_t i = 0; i < n; i++) {
            if (r[i].start > r[i].end || r[i].end >= body)
                abort();
            /* No two left that overlap or lie close enough to have been joined. */
            for (size_t j = 0; j < i; j++) {
                const lux_range *a = r[j].start <= r[i].start ? &r[j] : &r[i];
                const lux_range *b = a == &r[j] ? &r[i] : &r[j];
                if (b->start <= a->end || b->start - a->end <= LUX_RANGE_JOIN_GAP)
                    abort();
            }
        }
    }
    if (!exact)
        return 0;

    static unsigned char bits[REF_SIZE];
    memset(bits, 0, sizeof bits);
    if (res != reference(hdr, len, body, max, bits))
        abort();
    if (res == LUX_RANGE_OK) {
        /* Every selected byte is sent, and every part begins and ends on a selected byte
         * (joining only fills gaps between them). */
        for (uint64_t j = 0; j < body; j++) {
            size_t i = 0;
            while (bits[j] && i < n && !(r[i].start <= j && j <= r[i].end))
                i++;
            if (bits[j] && i == n)
                abort();
        }
        for (size_t i = 0; i < n; i++)
            if (!bits[r[i].start] || !bits[r[i].end])
                abort();
    }
    return 0;
}
