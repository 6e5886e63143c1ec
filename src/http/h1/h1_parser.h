/*
 * A pure HTTP/1.x request-head parser (RFC 9112): bytes in, request line and header slices out.
 * No I/O, no allocation; the slices point into the caller's buffer.
 */
#ifndef LUX_H1_PARSER_H
#define LUX_H1_PARSER_H

#include <stddef.h>

typedef struct {
    const char *name;
    size_t name_len;
    const char *value; /* leading and trailing OWS stripped */
    size_t value_len;
} lux_h1_header;

typedef struct {
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    int minor_version;   /* HTTP/1.minor; major is always 1 on success */
    lux_h1_header *headers; /* caller-provided array */
    size_t num_headers;     /* in: capacity of headers; out: how many were parsed */
    int status;             /* on -1: the HTTP status to answer (400, 431, 505) */
    const char *reason;     /* on -1: a short static explanation, for the error log */
} lux_h1_request;

/*
 * Parse a request head at buf[0..len). Up to `max_empty_lines` empty lines (CRLF or LF) before the
 * request line are skipped (RFC 9112 2.2); more is an error.
 * Returns the number of bytes consumed through the blank line ending the head (> 0), -2 when the
 * head is incomplete, or -1 on a syntax error (req->status and req->reason say why).
 */
int lux_h1_parse_request(const char *buf, size_t len, lux_h1_request *req, int max_empty_lines);

#endif
