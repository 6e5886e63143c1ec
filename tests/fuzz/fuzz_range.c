/*
 * Range header fuzzing. Input: 1 flag byte, 8 bytes of size, 1 byte of max, then the header
 * value. Flag bit 0 clear keeps the size under 4096 so a second, deliberately naive parser
 * (byte bitmap) can check the exact answer, not just the shape of it.
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

static int ref_num(const char **pp, const char *end, uint64_t *v) {
    const char *p = *pp;
    uint64_t x = 0;
    if (p == end || *p < '0' || *p > '9')
        return -1;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *pp = p;
    *v = x;
    return 0;
}

/* Marks selected bytes in bits; returns the expected result code. */
static lux_range_result reference(const char *s, size_t len, uint64_t size, unsigned char *bits) {
    if (size == 0 || len < 6 || strncasecmp(s, "bytes=", 6) != 0)
        return LUX_RANGE_IGNORE;
    const char *end = s + len, *p = s + 6;
    int specs = 0, any = 0;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end, *q = ows(p, e);
        const char *te = e;
        while (te > q && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        p = comma ? comma + 1 : end;
        if (q == te)
            continue;
        uint64_t a = 0, b = UINT64_MAX, lo, hi;
        if (*q == '-') {
            q++;
            if (ref_num(&q, te, &b) < 0 || q != te)
                return LUX_RANGE_IGNORE;
            /* A zero-length suffix is valid but selects nothing. */
            lo = b == 0 ? size : b >= size ? 0 : size - b;
            hi = size - 1;
        } else {
            if (ref_num(&q, te, &a) < 0 || q == te || *q++ != '-')
                return LUX_RANGE_IGNORE;
            if (q != te && (ref_num(&q, te, &b) < 0 || q != te))
                return LUX_RANGE_IGNORE;
            if (a > b) /* reversed: selects nothing */
                a = size;
            lo = a;
            hi = b < size - 1 ? b : size - 1;
        }
        if (++specs > LUX_RANGE_SPECS_MAX)
            return LUX_RANGE_IGNORE;
        if (lo < size) {
            any = 1;
            for (uint64_t i = lo; i <= hi; i++)
                bits[i] = 1;
        }
    }
    if (specs == 0)
        return LUX_RANGE_IGNORE;
    return any ? LUX_RANGE_OK : LUX_RANGE_UNSATISFIABLE;
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
            /* Sorted, and neither overlapping nor touching: those would have been merged. */
            if (i > 0 && r[i].start <= r[i - 1].end + 1)
                abort();
        }
    }
    if (!exact)
        return 0;

    static unsigned char bits[REF_SIZE];
    memset(bits, 0, sizeof bits);
    lux_range_result want = reference(hdr, len, body, bits);
    size_t pieces = 0;
    for (uint64_t i = 0; i < body; i++)
        pieces += bits[i] && (i == 0 || !bits[i - 1]);
    if (want == LUX_RANGE_OK && pieces > max)
        want = LUX_RANGE_IGNORE;
    if (res != want)
        abort();
    if (res == LUX_RANGE_OK) {
        if (n != pieces)
            abort();
        for (size_t i = 0; i < n; i++)
            for (uint64_t j = r[i].start; j <= r[i].end; j++)
                if (!bits[j])
                    abort();
    }
    return 0;
}
