/*
 * The FastCGI 1.0 wire format, without I/O: a request encoded into records (BEGIN_REQUEST,
 * PARAMS, STDIN) and a parser that turns the backend's bytes into events (STDOUT and STDERR
 * content, END_REQUEST). Records of other requests and management records are skipped.
 */
#ifndef LUX_FCGI_H
#define LUX_FCGI_H

#include <stddef.h>
#include <stdint.h>

#include "upstream/buf.h"

enum {
    LUX_FCGI_BEGIN_REQUEST = 1,
    LUX_FCGI_ABORT_REQUEST = 2,
    LUX_FCGI_END_REQUEST = 3,
    LUX_FCGI_PARAMS = 4,
    LUX_FCGI_STDIN = 5,
    LUX_FCGI_STDOUT = 6,
    LUX_FCGI_STDERR = 7,
    LUX_FCGI_DATA = 8,
};
enum { LUX_FCGI_RESPONDER = 1, LUX_FCGI_AUTHORIZER = 2 };
#define LUX_FCGI_HEADER_LEN 8
#define LUX_FCGI_MAX_CONTENT 65535

/* A BEGIN_REQUEST record for request id in role; keep_conn asks the backend to keep the
 * connection open after the request (FCGI_KEEP_CONN). 0 or -1 out of memory. */
int lux_fcgi_begin(lux_ups_buf *out, uint16_t id, int role, int keep_conn);
/* Append one name-value pair to a PARAMS stream being built (lengths of 1 or 4 bytes). */
int lux_fcgi_param(lux_ups_buf *params, const char *name, size_t nlen, const char *value,
                   size_t vlen);
/* A stream of type (PARAMS, STDIN) holding p[0, len) as records of at most
 * LUX_FCGI_MAX_CONTENT bytes; len 0 writes the empty record that ends the stream. */
int lux_fcgi_stream(lux_ups_buf *out, int type, uint16_t id, const char *p, size_t len);

typedef enum {
    LUX_FCGI_EV_MORE,   /* every byte given was taken: feed more */
    LUX_FCGI_EV_STDOUT, /* data/len: response bytes (the CGI head, then the body) */
    LUX_FCGI_EV_STDERR, /* data/len: the backend's error output */
    LUX_FCGI_EV_END,    /* app_status, protocol_status: the request is over */
    LUX_FCGI_EV_ERROR,  /* the stream is not FastCGI: the connection is unusable */
} lux_fcgi_ev;

typedef struct {
    uint16_t id;          /* the request whose records count */
    unsigned char hdr[8]; /* a record header as it arrives */
    unsigned hdr_have;    /* bytes of hdr so far */
    int type;             /* the current record's, once its header is complete */
    uint16_t rec_id;      /* its request id */
    size_t content_left, padding_left;
    unsigned char end_body[8]; /* an END_REQUEST body as it arrives */
    unsigned end_have;
    /* The event's details. */
    const char *data;
    size_t len;
    uint32_t app_status;
    int protocol_status;
} lux_fcgi_parser;

void lux_fcgi_parser_init(lux_fcgi_parser *p, uint16_t id);
/*
 * Take bytes from buf[0, len) until an event: *used is how many were taken (the caller feeds
 * the rest again after handling the event). Data of an event points into buf.
 */
lux_fcgi_ev lux_fcgi_parse(lux_fcgi_parser *p, const char *buf, size_t len, size_t *used);

#endif
