#include "mod/deflate_stream.h"

#include <brotli/encode.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* One output block: what a stream holds besides its encoder. */
#define OUT_BLOCK (16 * 1024)

struct deflate_stream {
    deflate_enc enc;
    union {
        z_stream z;
        BrotliEncoderState *br;
        ZSTD_CCtx *zstd;
    } u;
    unsigned char out[OUT_BLOCK];
};

static int is_zlib(deflate_enc e) {
    return e == DEFLATE_ENC_GZIP || e == DEFLATE_ENC_X_GZIP || e == DEFLATE_ENC_DEFLATE;
}

static int init_zlib(deflate_stream *s, const deflate_params *p) {
    int bits = p->gzip_window_bits + (s->enc == DEFLATE_ENC_DEFLATE ? 0 : 16);
    return deflateInit2(&s->u.z, p->gzip_level, Z_DEFLATED, bits, p->gzip_mem_level,
                        p->gzip_strategy) == Z_OK
               ? 0
               : -1;
}

static int init_brotli(deflate_stream *s, const deflate_params *p) {
    s->u.br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    if (!s->u.br)
        return -1;
    BrotliEncoderSetParameter(s->u.br, BROTLI_PARAM_QUALITY, (uint32_t)p->brotli_quality);
    BrotliEncoderSetParameter(s->u.br, BROTLI_PARAM_LGWIN, (uint32_t)p->brotli_window);
    BrotliEncoderSetParameter(s->u.br, BROTLI_PARAM_MODE, (uint32_t)p->brotli_mode);
    return 0;
}

static int init_zstd(deflate_stream *s, const deflate_params *p) {
    s->u.zstd = ZSTD_createCCtx();
    if (!s->u.zstd)
        return -1;
    ZSTD_CCtx_setParameter(s->u.zstd, ZSTD_c_compressionLevel, p->zstd_level);
    if (p->zstd_strategy)
        ZSTD_CCtx_setParameter(s->u.zstd, ZSTD_c_strategy, p->zstd_strategy);
    /* RFC 8878: an HTTP decoder needs no more than an 8 MiB window. */
    ZSTD_CCtx_setParameter(s->u.zstd, ZSTD_c_windowLog,
                           p->zstd_window_log ? p->zstd_window_log : 21);
    return 0;
}

deflate_stream *deflate_stream_new(deflate_enc e, const deflate_params *p) {
    deflate_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->enc = e;
    int rc = is_zlib(e)              ? init_zlib(s, p)
             : e == DEFLATE_ENC_BR   ? init_brotli(s, p)
             : e == DEFLATE_ENC_ZSTD ? init_zstd(s, p)
                                     : -1;
    if (rc < 0) {
        free(s);
        return NULL;
    }
    return s;
}

static int write_zlib(deflate_stream *s, const void *in, size_t len, deflate_op op,
                      deflate_out_fn out, void *arg) {
    static const int flush[] = {Z_NO_FLUSH, Z_SYNC_FLUSH, Z_FINISH};
    z_stream *z = &s->u.z;
    z->next_in = (unsigned char *)in;
    z->avail_in = (uInt)len;
    int ret;
    do {
        z->next_out = s->out;
        z->avail_out = OUT_BLOCK;
        ret = deflate(z, flush[op]);
        if (ret == Z_STREAM_ERROR)
            return -1;
        size_t n = OUT_BLOCK - z->avail_out;
        if (n && out(arg, s->out, n) < 0)
            return -1;
    } while (z->avail_out == 0 || z->avail_in > 0 ||
             (op == DEFLATE_OP_FINISH && ret != Z_STREAM_END));
    return 0;
}

static int write_brotli(deflate_stream *s, const void *in, size_t len, deflate_op op,
                        deflate_out_fn out, void *arg) {
    static const BrotliEncoderOperation ops[] = {BROTLI_OPERATION_PROCESS, BROTLI_OPERATION_FLUSH,
                                                 BROTLI_OPERATION_FINISH};
    const uint8_t *next_in = in;
    size_t avail_in = len;
    do {
        uint8_t *next_out = s->out;
        size_t avail_out = OUT_BLOCK;
        if (!BrotliEncoderCompressStream(s->u.br, ops[op], &avail_in, &next_in, &avail_out,
                                         &next_out, NULL))
            return -1;
        size_t n = OUT_BLOCK - avail_out;
        if (n && out(arg, s->out, n) < 0)
            return -1;
    } while (avail_in || BrotliEncoderHasMoreOutput(s->u.br) ||
             (op == DEFLATE_OP_FINISH && !BrotliEncoderIsFinished(s->u.br)));
    return 0;
}

static int write_zstd(deflate_stream *s, const void *in, size_t len, deflate_op op,
                      deflate_out_fn out, void *arg) {
    static const ZSTD_EndDirective modes[] = {ZSTD_e_continue, ZSTD_e_flush, ZSTD_e_end};
    ZSTD_inBuffer ib = {in, len, 0};
    size_t left;
    do {
        ZSTD_outBuffer ob = {s->out, OUT_BLOCK, 0};
        left = ZSTD_compressStream2(s->u.zstd, &ob, &ib, modes[op]);
        if (ZSTD_isError(left) || (ob.pos && out(arg, s->out, ob.pos) < 0))
            return -1;
    } while (ib.pos < ib.size || (op != DEFLATE_OP_PROCESS && left != 0));
    return 0;
}

int deflate_stream_write(deflate_stream *s, const void *in, size_t len, deflate_op op,
                         deflate_out_fn out, void *arg) {
    if (is_zlib(s->enc))
        return write_zlib(s, in, len, op, out, arg);
    if (s->enc == DEFLATE_ENC_BR)
        return write_brotli(s, in, len, op, out, arg);
    return write_zstd(s, in, len, op, out, arg);
}

void deflate_stream_free(deflate_stream *s) {
    if (!s)
        return;
    if (is_zlib(s->enc))
        deflateEnd(&s->u.z);
    else if (s->enc == DEFLATE_ENC_BR)
        BrotliEncoderDestroyInstance(s->u.br);
    else
        ZSTD_freeCCtx(s->u.zstd);
    free(s);
}
