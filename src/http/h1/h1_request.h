/* From a parsed HTTP/1 head to a request. */
#ifndef LUX_H1_REQUEST_H
#define LUX_H1_REQUEST_H

#include "http/h1/h1_parser.h"
#include "lux/req.h"

/* What an HTTP/1 head says about its connection and the framing of its body. */
typedef struct {
    unsigned chunked : 1;         /* Transfer-Encoding: chunked */
    unsigned keep_alive : 1;      /* the client asks to keep the connection */
    unsigned expect_continue : 1; /* Expect: 100-continue on HTTP/1.1 */
} lux_h1_framing;

/* Fill r and *f from a parsed head. Returns 0, or the status to answer (400, 417, 501, ...). */
int lux_req_from_h1(lux_req *r, const lux_h1_request *h, lux_h1_framing *f);

#endif
