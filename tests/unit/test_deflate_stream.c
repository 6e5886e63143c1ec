/* mod_deflate's streaming encoders: a flush makes all input so far decodable, the end makes a
 * whole stream, output comes in blocks, and bzip2 (which cannot flush) is refused. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "mod/deflate_stream.h"

#include "t.h"

typedef struct {
    unsigned char *p;
    size_t len, cap, calls, largest;
} collected;

static int collect(void *arg, const unsigned char *p, size_t len) {
    collected *c = arg;
    if (c->len + len > c->cap) {
        c->cap = (c->len + len) * 2;
        c->p = realloc(c->p, c->cap);
        if (!c->p)
            return -1;
    }
    memcpy(c->p + c->len, p, len);
    c->len += len;
    c->calls++;
    if (len > c->largest)
        c->largest = len;
    return 0;
}

/* Decode what is there (a flushed prefix, or a whole stream) into out; its length. */
static size_t decode(deflate_enc e, const collected *in, unsigned char *out, size_t cap) {
    if (e == DEFLATE_ENC_ZSTD) {
        ZSTD_DStream *d = ZSTD_createDStream();
        ZSTD_inBuffer ib = {in->p, in->len, 0};
        ZSTD_outBuffer ob = {out, cap, 0};
        while (ib.pos < ib.size && !ZSTD_isError(ZSTD_decompressStream(d, &ob, &ib)))
            if (ob.pos == cap)
                break;
        ZSTD_freeDStream(d);
        return ob.pos;
    }
    z_stream z = {0};
    inflateInit2(&z, e == DEFLATE_ENC_DEFLATE ? 15 : 31);
    z.next_in = in->p;
    z.avail_in = (uInt)in->len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    inflate(&z, Z_SYNC_FLUSH);
    size_t n = cap - z.avail_out;
    inflateEnd(&z);
    return n;
}

static char *text(size_t n) {
    char *t = malloc(n);
    for (size_t i = 0; i < n; i++)
        t[i] = "lux streams compressible words\n"[i % 31] + (char)(i / 4096 % 3);
    return t;
}

static void flush_then_finish(deflate_enc e) {
    deflate_params p;
    deflate_params_default(&p);
    deflate_stream *s = deflate_stream_new(e, &p);
    CHECK(s != NULL);
    if (!s)
        return;
    size_t n = 300000;
    char *in = text(n);
    unsigned char *out = malloc(n + 1);
    collected c = {0};
    CHECK_INT(deflate_stream_write(s, in, 1000, DEFLATE_OP_PROCESS, collect, &c), 0);
    CHECK_INT(deflate_stream_write(s, NULL, 0, DEFLATE_OP_FLUSH, collect, &c), 0);
    CHECK(c.len > 0);
    CHECK_INT(decode(e, &c, out, n + 1), 1000);
    CHECK(memcmp(out, in, 1000) == 0);
    CHECK_INT(deflate_stream_write(s, in + 1000, n - 1000, DEFLATE_OP_PROCESS, collect, &c), 0);
    CHECK_INT(deflate_stream_write(s, NULL, 0, DEFLATE_OP_FINISH, collect, &c), 0);
    CHECK(c.len < n / 4);
    CHECK(c.largest <= 16 * 1024);
    CHECK_INT(decode(e, &c, out, n + 1), n);
    CHECK(memcmp(out, in, n) == 0);
    deflate_stream_free(s);
    free(c.p);
    free(out);
    free(in);
}

static void gzip_flushes_and_finishes(void) {
    flush_then_finish(DEFLATE_ENC_GZIP);
}

static void deflate_flushes_and_finishes(void) {
    flush_then_finish(DEFLATE_ENC_DEFLATE);
}

static void zstd_flushes_and_finishes(void) {
    flush_then_finish(DEFLATE_ENC_ZSTD);
}

/* No brotli decoder is linked: a flush and the end each bring output, in bounded blocks. */
static void brotli_flush_brings_output(void) {
    deflate_params p;
    deflate_params_default(&p);
    deflate_stream *s = deflate_stream_new(DEFLATE_ENC_BR, &p);
    CHECK(s != NULL);
    if (!s)
        return;
    char *in = text(300000);
    collected c = {0};
    CHECK_INT(deflate_stream_write(s, in, 1000, DEFLATE_OP_PROCESS, collect, &c), 0);
    size_t before = c.len;
    CHECK_INT(deflate_stream_write(s, NULL, 0, DEFLATE_OP_FLUSH, collect, &c), 0);
    CHECK(c.len > before);
    before = c.len;
    CHECK_INT(deflate_stream_write(s, in, 300000, DEFLATE_OP_PROCESS, collect, &c), 0);
    CHECK_INT(deflate_stream_write(s, NULL, 0, DEFLATE_OP_FINISH, collect, &c), 0);
    CHECK(c.len > before && c.len < 300000 / 4);
    CHECK(c.largest <= 16 * 1024);
    deflate_stream_free(s);
    free(c.p);
    free(in);
}

static void bzip2_cannot_stream(void) {
    deflate_params p;
    deflate_params_default(&p);
    CHECK(deflate_stream_new(DEFLATE_ENC_BZIP2, &p) == NULL);
    CHECK(deflate_stream_new(DEFLATE_ENC_NONE, &p) == NULL);
}

int main(void) {
    RUN(gzip_flushes_and_finishes);
    RUN(deflate_flushes_and_finishes);
    RUN(zstd_flushes_and_finishes);
    RUN(brotli_flush_brings_output);
    RUN(bzip2_cannot_stream);
    T_EXIT();
}
