/*
 * The per-worker stat cache: path → file attributes and an open file (small files' contents
 * in memory). An entry is trusted for one second, then re-validated with one stat(); a hot file
 * costs no system call but the send. Files are refcounted so a response in flight keeps its
 * file even when the cache replaces the entry.
 */
#ifndef LUX_STAT_CACHE_H
#define LUX_STAT_CACHE_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "net/worker.h"

typedef struct lux_file {
    int refs;
    int fd;        /* -1 for directories and for files held in memory */
    char *content; /* whole contents of a small regular file, else NULL */
    mode_t mode;
    uint64_t size, ino;
    time_t mtime;
    long mtime_nsec;
    char last_modified[LUX_HTTP_DATE_LEN + 1];
} lux_file;

/* Small files up to this size are served from memory. */
#define LUX_FILE_INLINE_MAX (32 * 1024)

/*
 * Open path (NUL-terminated, len bytes) through the cache. Returns a new reference, or NULL with
 * errno set (ENOENT, ENOTDIR, EACCES, ELOOP for a refused symlink, ENOMEM...).
 * With follow_symlinks == 0 a symlink as the last component is refused with ELOOP.
 */
lux_file *lux_stat_cache_open(lux_worker *w, const char *path, size_t len, int follow_symlinks);
lux_file *lux_file_ref(lux_file *f);
void lux_file_unref(lux_file *f);

lux_stat_cache *lux_stat_cache_new(void);
void lux_stat_cache_free(lux_stat_cache *c);
/* Drop entries not validated recently (called from the worker's tick). */
void lux_stat_cache_expire(lux_stat_cache *c, time_t now);

#endif
