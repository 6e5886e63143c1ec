/*
 * mod_deflate's encoders: one whole input (memory or an open file) into one whole output
 * (memory or a file), in gzip, deflate (the zlib format, as HTTP's "deflate" means), brotli,
 * zstd or bzip2. No state between calls; safe to call from any thread.
 */
#ifndef LUX_DEFLATE_ENCODE_H
#define LUX_DEFLATE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "mod/deflate_negotiate.h"

/* Encoder settings: deflate.compression-level and deflate.params (lighttpd's names). */
typedef struct {
    int gzip_level; /* 1..9, -1: zlib's default */
    int gzip_window_bits, gzip_mem_level, gzip_strategy;
    int brotli_quality, brotli_window, brotli_mode;
    int zstd_level, zstd_strategy, zstd_window_log; /* 0: zstd's default */
    int bzip2_block_size;                           /* 1..9 */
} deflate_params;

void deflate_params_default(deflate_params *p);
/* A hash of the settings that change the output, for cache keys. */
uint64_t deflate_params_hash(const deflate_params *p, deflate_enc e);

/* Compress len bytes at in into a malloc'd buffer (*out, *outlen). 0 or -1. */
int deflate_encode_mem(deflate_enc e, const deflate_params *p, const void *in, size_t len,
                       unsigned char **out, size_t *outlen);
/* Compress size bytes, from mem when it is not NULL, else the start of in_fd (read with
 * pread), into out_fd (written from its current offset). 0 or -1. */
int deflate_encode_fd(deflate_enc e, const deflate_params *p, const void *mem, int in_fd,
                      uint64_t size, int out_fd);

#endif
