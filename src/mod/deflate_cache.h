/*
 * mod_deflate's cache of compressed static files (deflate.cache-dir). An entry's name carries
 * everything its bytes depend on, so a changed file or setting is never answered from a stale
 * entry: <dir><physical path>.<key>.<coding>, where key hashes size, mtime (with nanoseconds),
 * inode and the encoder settings. Entries are written to a temporary file and renamed into
 * place: a reader sees a whole entry or none, and workers writing the same entry at once
 * cannot tear it. Old entries are left for the administrator to clean, as lighttpd does.
 */
#ifndef LUX_DEFLATE_CACHE_H
#define LUX_DEFLATE_CACHE_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mod/deflate_encode.h"

/* What an entry's name depends on. */
typedef struct {
    uint64_t size, ino;
    time_t mtime;
    long mtime_nsec;
} deflate_file_id;

/* The entry's path into out (outlen bytes). Returns its length, or 0 when it does not fit. */
size_t deflate_cache_path(char *out, size_t outlen, const char *dir, size_t dirlen,
                          const char *physical, size_t physlen, const deflate_file_id *id,
                          deflate_enc e, const deflate_params *p);

/* Compress size bytes (mem, or the start of in_fd when mem is NULL) into the entry at path,
 * now. 0, or -1 (said in the error log, see deflate_cache_failed). */
int deflate_cache_fill(const char *path, deflate_enc e, const deflate_params *p, const void *mem,
                       int in_fd, uint64_t size);

/* The cache could not be used at path (errno err): an error-log line, at most one a minute. */
void deflate_cache_failed(const char *path, int err);

/*
 * The same on a background thread, which takes ownership of in_fd (it closes it). At most
 * DEFLATE_CACHE_JOBS run at once and one per path: 0 when started, -1 when not (already
 * running for this path, too many jobs, out of resources); in_fd is closed either way.
 */
#define DEFLATE_CACHE_JOBS 2
int deflate_cache_fill_async(const char *path, deflate_enc e, const deflate_params *p, int in_fd,
                             uint64_t size);

#endif
