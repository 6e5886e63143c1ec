/*
 * Output filters, the core's side (the module's side is in lux/req.h): the chain a request's
 * streamed body passes through between enqueue (response.c) and the protocol's queue, and
 * what the stream core (stream.c) asks of it.
 */
#ifndef LUX_HTTP_FILTER_H
#define LUX_HTTP_FILTER_H

#include <stdint.h>

#include "lux/req.h"

/* Give the chain a body piece (it owns c from here on). 0, or -1: the body cannot go on. */
int lux_filter_take(lux_req *r, lux_chunk *c);
/* The handler ended the body: 1 when the chain has emitted its end too, else 0 (it tells the
 * stream core later, with lux_stream_filtered). A body shorter than announced breaks it. */
int lux_filter_end(lux_req *r);
/* The body broke: drop what the chain holds; nothing more is emitted. */
void lux_filter_abort(lux_req *r);
/* Has the chain not emitted its end yet? */
int lux_filter_busy(const lux_req *r);
/* Bytes the chain holds: pieces not filtered yet and input not yet turned into output. */
uint64_t lux_filter_held(const lux_req *r);
/* From the loop (LUX_SEV_FILTER): filter held pieces while the protocol's queue has room, and
 * flush when the producer paused and the queue drained. */
void lux_filter_run(lux_req *r);
/* n body bytes were sent: run the chain from the loop when it has pieces waiting or a flush
 * is due. */
void lux_filter_released(lux_req *r);
/* The request is done: release the pieces held and every filter's context. */
void lux_filter_release(lux_req *r);

/* The last filter's output enters the protocol's queue (response.c). 0 or -1. */
int lux_resp_queue_copy(lux_req *r, const char *p, size_t len);

#endif
