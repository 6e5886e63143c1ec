/* What the parts of the stream core (stream.c, body.c) say to each other. */
#ifndef LUX_STREAM_INTERNAL_H
#define LUX_STREAM_INTERNAL_H

#include "lux/req.h"

/* Events the core delivers from the loop (see stream.c). */
enum {
    LUX_SEV_ABORT = 1,     /* the handler's abort callback */
    LUX_SEV_HEAD = 2,      /* ops->head_ready */
    LUX_SEV_BODY = 4,      /* ops->body_ready */
    LUX_SEV_WANTED = 8,    /* ops->body_wanted */
    LUX_SEV_WRITABLE = 16, /* the handler's on_writable callback */
    LUX_SEV_BODY_IN = 32,  /* the handler's request-body notify callback */
    LUX_SEV_FILTER = 64,   /* run the output filters (http/filter.c) */
};

/* Deliver `ev` from the loop, after the current batch of events. */
void lux_stream_later(lux_req *r, unsigned ev);
/* The request body is complete: a pipeline that waited for it (mode 0) runs now. */
void lux_stream_body_complete(lux_req *r);

/* Has the head gone out (or is on its way)? */
int lux_stream_head_out(const lux_req *r);
/* The output filters emitted the end of the body: the protocol may end the response. */
void lux_stream_filtered(lux_req *r);

#endif
