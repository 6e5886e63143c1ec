/*
 * Decoder for the chunked transfer coding (RFC 9112 7.1), in place, resumable across reads.
 * Chunk extensions are skipped; trailer fields are validated and discarded.
 */
#ifndef LUX_CHUNKED_H
#define LUX_CHUNKED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    int state;               /* private */
    uint64_t chunk_remaining; /* private */
    size_t line_bytes;        /* private: length of the current size/extension/trailer line */
    size_t max_line;          /* limit for one size/extension/trailer line; 0 means 4096 */
} lux_chunked_decoder;

/* Reset d for a new body; max_line is kept. */
void lux_chunked_init(lux_chunked_decoder *d);

/*
 * Decode buf[0..*len) in place. On return *len is the number of decoded body bytes now at the
 * start of buf. Once the body is complete every further byte is returned as following it; once
 * malformed, every further call returns -1 (and *len is 0). Returns:
 *   >= 0  the body is complete; the value is the number of input bytes that followed the
 *         body's end (a pipelined next request), moved to buf[*len .. *len + ret)
 *   -2    more input is needed (all input consumed)
 *   -1    malformed (bad hex, size overflow, missing CRLF, line too long, bad trailer)
 */
ssize_t lux_chunked_decode(lux_chunked_decoder *d, char *buf, size_t *len);

#endif
