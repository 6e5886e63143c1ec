/*
 * mod_deflate's streaming encoders: a body compressed as it passes, piece by piece, in gzip,
 * deflate, brotli or zstd (bzip2 has no flush: static files only). Memory per stream is the
 * encoder's state and window plus one output block.
 */
#ifndef LUX_DEFLATE_STREAM_H
#define LUX_DEFLATE_STREAM_H

#include <stddef.h>

#include "mod/deflate_encode.h"

typedef struct deflate_stream deflate_stream;

/* Where output goes: 0, or -1 to stop. */
typedef int (*deflate_out_fn)(void *arg, const unsigned char *p, size_t len);

typedef enum {
    DEFLATE_OP_PROCESS, /* compress; output when the encoder has some */
    DEFLATE_OP_FLUSH,   /* and emit everything given so far, decodable as it stands */
    DEFLATE_OP_FINISH,  /* and end the stream */
} deflate_op;

/* NULL for bzip2, an unknown coding, or out of memory. */
deflate_stream *deflate_stream_new(deflate_enc e, const deflate_params *p);
/* Compress len bytes (0 for a flush or the end) with op, passing output to out. 0 or -1. */
int deflate_stream_write(deflate_stream *s, const void *in, size_t len, deflate_op op,
                         deflate_out_fn out, void *arg);
void deflate_stream_free(deflate_stream *s);

#endif
