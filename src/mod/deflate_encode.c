#include "mod/deflate_encode.h"

#include <brotli/encode.h>
#include <bzlib.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define BLOCK (64 * 1024)

void deflate_params_default(deflate_params *p) {
    *p = (deflate_params){
        .gzip_level = -1,
        .gzip_window_bits = 15,
        .gzip_mem_level = 8,
        .gzip_strategy = Z_DEFAULT_STRATEGY,
        /* brotli's own default (11) costs far too much CPU per byte for a web server. */
        .brotli_quality = 5,
        .brotli_window = BROTLI_DEFAULT_WINDOW,
        .brotli_mode = BROTLI_MODE_GENERIC,
        .zstd_level = ZSTD_CLEVEL_DEFAULT,
        .bzip2_block_size = 9,
    };
}

uint64_t deflate_params_hash(const deflate_params *p, deflate_enc e) {
    int v[4] = {0};
    switch (e) {
    case DEFLATE_ENC_GZIP:
    case DEFLATE_ENC_X_GZIP:
    case DEFLATE_ENC_DEFLATE:
        v[0] = p->gzip_level, v[1] = p->gzip_window_bits, v[2] = p->gzip_mem_level;
        v[3] = p->gzip_strategy;
        break;
    case DEFLATE_ENC_BR:
        v[0] = p->brotli_quality, v[1] = p->brotli_window, v[2] = p->brotli_mode;
        break;
    case DEFLATE_ENC_ZSTD:
        v[0] = p->zstd_level, v[1] = p->zstd_strategy, v[2] = p->zstd_window_log;
        break;
    default:
        v[0] = p->bzip2_block_size;
        break;
    }
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)e;
    for (int i = 0; i < 4; i++)
        h = (h ^ (uint32_t)v[i]) * 0x100000001b3ULL;
    return h;
}

/* The input, block by block: memory, or a file read with pread. */
typedef struct {
    const unsigned char *mem;
    int fd;
    uint64_t size, off;
    unsigned char *buf;
} source;

/* The next block (*p, *n); 0, or -1 when the file cannot be read or ends early. */
static int source_next(source *s, const unsigned char **p, size_t *n) {
    size_t want = s->size - s->off > BLOCK ? BLOCK : (size_t)(s->size - s->off);
    if (s->mem) {
        *p = s->mem + s->off;
    } else {
        ssize_t got;
        do
            got = pread(s->fd, s->buf, want, (off_t)s->off);
        while (got < 0 && errno == EINTR);
        if (got < 0 || (size_t)got != want) {
            if (got >= 0)
                errno = EIO; /* the file shrank */
            return -1;
        }
        *p = s->buf;
    }
    *n = want;
    s->off += want;
    return 0;
}

static int source_done(const source *s) {
    return s->off >= s->size;
}

/* The output: a growing malloc'd buffer, or a file. */
typedef struct {
    int fd;
    unsigned char *mem;
    size_t len, cap;
} sink;

static int sink_put(sink *s, const unsigned char *p, size_t n) {
    if (s->fd >= 0) {
        while (n) {
            ssize_t w = write(s->fd, p, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return -1;
            p += w;
            n -= (size_t)w;
        }
        return 0;
    }
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : BLOCK;
        while (cap < s->len + n)
            cap *= 2;
        unsigned char *m = realloc(s->mem, cap);
        if (!m)
            return -1;
        s->mem = m;
        s->cap = cap;
    }
    memcpy(s->mem + s->len, p, n);
    s->len += n;
    return 0;
}

static int run_zlib(deflate_enc e, const deflate_params *p, source *src, sink *out,
                    unsigned char *obuf) {
    z_stream z = {0};
    int bits = p->gzip_window_bits + (e == DEFLATE_ENC_DEFLATE ? 0 : 16);
    if (deflateInit2(&z, p->gzip_level, Z_DEFLATED, bits, p->gzip_mem_level, p->gzip_strategy) !=
        Z_OK)
        return -1;
    int rc = 0, ret = Z_OK;
    while (rc == 0 && ret != Z_STREAM_END) {
        const unsigned char *in = NULL;
        size_t n = 0;
        if (!source_done(src) && source_next(src, &in, &n) < 0) {
            rc = -1;
            break;
        }
        z.next_in = (unsigned char *)in;
        z.avail_in = (uInt)n;
        int flush = source_done(src) ? Z_FINISH : Z_NO_FLUSH;
        do {
            z.next_out = obuf;
            z.avail_out = BLOCK;
            ret = deflate(&z, flush);
            if (ret == Z_STREAM_ERROR || sink_put(out, obuf, BLOCK - z.avail_out) < 0) {
                rc = -1;
                break;
            }
        } while (z.avail_out == 0);
    }
    deflateEnd(&z);
    return rc;
}

static int run_brotli(const deflate_params *p, source *src, sink *out, unsigned char *obuf) {
    BrotliEncoderState *b = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    if (!b)
        return -1;
    BrotliEncoderSetParameter(b, BROTLI_PARAM_QUALITY, (uint32_t)p->brotli_quality);
    BrotliEncoderSetParameter(b, BROTLI_PARAM_LGWIN, (uint32_t)p->brotli_window);
    BrotliEncoderSetParameter(b, BROTLI_PARAM_MODE, (uint32_t)p->brotli_mode);
    if (src->size < UINT32_MAX / 2)
        BrotliEncoderSetParameter(b, BROTLI_PARAM_SIZE_HINT, (uint32_t)src->size);
    int rc = 0;
    while (rc == 0 && !BrotliEncoderIsFinished(b)) {
        const unsigned char *in = NULL;
        size_t n = 0;
        if (!source_done(src) && source_next(src, &in, &n) < 0) {
            rc = -1;
            break;
        }
        BrotliEncoderOperation op =
            source_done(src) ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_PROCESS;
        do {
            unsigned char *o = obuf;
            size_t avail = BLOCK;
            if (!BrotliEncoderCompressStream(b, op, &n, &in, &avail, &o, NULL) ||
                sink_put(out, obuf, BLOCK - avail) < 0) {
                rc = -1;
                break;
            }
        } while (n || BrotliEncoderHasMoreOutput(b) ||
                 (op == BROTLI_OPERATION_FINISH && !BrotliEncoderIsFinished(b)));
    }
    BrotliEncoderDestroyInstance(b);
    return rc;
}

static int run_zstd(const deflate_params *p, source *src, sink *out, unsigned char *obuf) {
    ZSTD_CCtx *z = ZSTD_createCCtx();
    if (!z)
        return -1;
    ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, p->zstd_level);
    if (p->zstd_strategy)
        ZSTD_CCtx_setParameter(z, ZSTD_c_strategy, p->zstd_strategy);
    if (p->zstd_window_log)
        ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, p->zstd_window_log);
    ZSTD_CCtx_setPledgedSrcSize(z, src->size);
    int rc = 0, finished = 0;
    while (rc == 0 && !finished) {
        const unsigned char *in = NULL;
        size_t n = 0;
        if (!source_done(src) && source_next(src, &in, &n) < 0) {
            rc = -1;
            break;
        }
        ZSTD_EndDirective mode = source_done(src) ? ZSTD_e_end : ZSTD_e_continue;
        ZSTD_inBuffer ib = {in, n, 0};
        size_t left;
        do {
            ZSTD_outBuffer ob = {obuf, BLOCK, 0};
            left = ZSTD_compressStream2(z, &ob, &ib, mode);
            if (ZSTD_isError(left) || sink_put(out, obuf, ob.pos) < 0) {
                rc = -1;
                break;
            }
        } while (mode == ZSTD_e_end ? left != 0 : ib.pos < ib.size);
        finished = rc == 0 && mode == ZSTD_e_end;
    }
    ZSTD_freeCCtx(z);
    return rc;
}

static int run_bzip2(const deflate_params *p, source *src, sink *out, unsigned char *obuf) {
    bz_stream bz = {0};
    if (BZ2_bzCompressInit(&bz, p->bzip2_block_size, 0, 0) != BZ_OK)
        return -1;
    int rc = 0, ret = BZ_RUN_OK;
    while (rc == 0 && ret != BZ_STREAM_END) {
        const unsigned char *in = NULL;
        size_t n = 0;
        if (!source_done(src) && source_next(src, &in, &n) < 0) {
            rc = -1;
            break;
        }
        bz.next_in = (char *)in;
        bz.avail_in = (unsigned)n;
        int action = source_done(src) ? BZ_FINISH : BZ_RUN;
        do {
            bz.next_out = (char *)obuf;
            bz.avail_out = BLOCK;
            ret = BZ2_bzCompress(&bz, action);
            if (ret < 0 || sink_put(out, obuf, BLOCK - bz.avail_out) < 0) {
                rc = -1;
                break;
            }
        } while (action == BZ_FINISH ? ret != BZ_STREAM_END : bz.avail_in > 0);
    }
    BZ2_bzCompressEnd(&bz);
    return rc;
}

static int run(deflate_enc e, const deflate_params *p, source *src, sink *out) {
    unsigned char *obuf = malloc(BLOCK);
    if (!obuf)
        return -1;
    int rc;
    switch (e) {
    case DEFLATE_ENC_GZIP:
    case DEFLATE_ENC_X_GZIP:
    case DEFLATE_ENC_DEFLATE:
        rc = run_zlib(e, p, src, out, obuf);
        break;
    case DEFLATE_ENC_BR:
        rc = run_brotli(p, src, out, obuf);
        break;
    case DEFLATE_ENC_ZSTD:
        rc = run_zstd(p, src, out, obuf);
        break;
    case DEFLATE_ENC_BZIP2:
    case DEFLATE_ENC_X_BZIP2:
        rc = run_bzip2(p, src, out, obuf);
        break;
    default:
        rc = -1;
        break;
    }
    free(obuf);
    return rc;
}

int deflate_encode_mem(deflate_enc e, const deflate_params *p, const void *in, size_t len,
                       unsigned char **out, size_t *outlen) {
    source src = {.mem = in, .fd = -1, .size = len};
    sink dst = {.fd = -1};
    if (run(e, p, &src, &dst) < 0) {
        free(dst.mem);
        return -1;
    }
    *out = dst.mem;
    *outlen = dst.len;
    return 0;
}

int deflate_encode_fd(deflate_enc e, const deflate_params *p, const void *mem, int in_fd,
                      uint64_t size, int out_fd) {
    source src = {.mem = mem, .fd = in_fd, .size = size, .buf = mem ? NULL : malloc(BLOCK)};
    if (!mem && !src.buf)
        return -1;
    sink dst = {.fd = out_fd};
    int rc = run(e, p, &src, &dst);
    free(src.buf);
    return rc;
}
