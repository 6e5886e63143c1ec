/* Range requests (RFC 9110 14): parse a Range header against a representation size. */
#ifndef LUX_RANGE_H
#define LUX_RANGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t start; /* first byte */
    uint64_t end;   /* last byte, inclusive */
} lux_range;

typedef enum {
    LUX_RANGE_IGNORE = 0,        /* not a bytes range (or an empty body): send 200 full */
    LUX_RANGE_OK = 1,            /* ranges[0..n) are satisfiable, near ones joined */
    LUX_RANGE_UNSATISFIABLE = 2, /* "bytes=" without one valid, satisfiable spec: 416 */
} lux_range_result;

/* The most ranges lighttpd answers; further specs are ignored (a defence against range
 * amplification). */
#define LUX_RANGE_MAX 10
/* Ranges closer than this many bytes are sent as one part: a multipart part's own headers cost
 * about as much (lighttpd's rule). */
#define LUX_RANGE_JOIN_GAP 80

/*
 * Parse `value` ("bytes=0-99,200-,-50") for a body of `size` bytes into ranges[0..max), with
 * lighttpd 1.4's rules:
 * - the unit is case-insensitive; anything but "bytes=" is LUX_RANGE_IGNORE, and so is an
 *   empty body (size 0: the full empty response answers);
 * - each comma-separated spec is "first-last", "first-" or "-suffix", with optional blanks
 *   around the numbers and the '-' and an optional '+' before first and last; a spec that is
 *   malformed (0--, -2-3, 5-2, -0, a number of 2^63 or more) or selects no byte (first at or
 *   past the end) is skipped, the others stay;
 * - the first max valid specs are kept, later ones ignored;
 * - ranges that overlap or lie within LUX_RANGE_JOIN_GAP bytes of each other are joined into
 *   the earlier one, repeatedly; otherwise the order of the header is kept;
 * - no valid spec at all is LUX_RANGE_UNSATISFIABLE (416).
 * Ranges are clipped to size. *n is 0 unless the result is LUX_RANGE_OK.
 */
lux_range_result lux_range_parse(const char *value, size_t len, uint64_t size, lux_range *ranges,
                                 size_t max, size_t *n);

/* A boundary string for multipart/byteranges, derived from seed; writes up to 32 bytes + NUL. */
void lux_range_boundary(uint64_t seed, char out[33]);

#endif
