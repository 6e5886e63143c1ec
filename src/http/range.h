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
    LUX_RANGE_IGNORE = 0,        /* not a bytes range or syntactically invalid: send 200 full */
    LUX_RANGE_OK = 1,            /* ranges[0..n) are satisfiable, sorted, overlaps coalesced */
    LUX_RANGE_UNSATISFIABLE = 2, /* valid syntax but nothing satisfiable: 416 */
} lux_range_result;

/* More range-specs than this in one header: LUX_RANGE_IGNORE (RFC 9110 14.2 allows it). */
#define LUX_RANGE_SPECS_MAX 256

/*
 * Parse `value` ("bytes=0-99,200-,-50") for a body of `size` bytes into at most max ranges.
 * Ranges are clipped to size; unsatisfiable ones dropped; overlapping or adjacent ones merged
 * and the result sorted (a defence against range amplification). More than max ranges after
 * merging is LUX_RANGE_IGNORE (answer the whole body).
 * The unit is case-insensitive; OWS and empty elements around commas are accepted. A spec with
 * first > last, or a number beyond 64 bits, makes the whole header LUX_RANGE_IGNORE. An empty
 * body (size 0) is always LUX_RANGE_IGNORE: there is no byte to select, the full empty
 * response answers. *n is 0 unless the result is LUX_RANGE_OK.
 */
lux_range_result lux_range_parse(const char *value, size_t len, uint64_t size, lux_range *ranges,
                                 size_t max, size_t *n);

/* A boundary string for multipart/byteranges, derived from seed; writes up to 32 bytes + NUL. */
void lux_range_boundary(uint64_t seed, char out[33]);

#endif
