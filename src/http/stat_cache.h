/*
 * The per-worker stat cache: path → file attributes and an open file (small files' contents
 * in memory). An entry is trusted for one second, then re-validated with one stat(); a hot file
 * costs no system call but the send. Files are refcounted so a response in flight keeps its
 * file even when the cache replaces or evicts the entry.
 *
 * The cache is bounded (entries and in-memory bytes) and evicts with a clock: a flood of unique
 * paths costs O(1) per lookup and never grows it. Only files that exist are cached, so a 404
 * leaves nothing behind.
 */
#ifndef LUX_STAT_CACHE_H
#define LUX_STAT_CACHE_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "http/etag.h"
#include "net/worker.h"

/*
 * The Content-Type mimetype.assign gives a file's path, kept with the file so that the table is
 * searched once per file instead of once per request. It holds for the generation numbered gen
 * (a table never changes within one) and that generation's table `table` of n entries; it points
 * into that generation's memory, so only a request of the same generation may use it.
 */
typedef struct {
    uint64_t gen; /* lux_gen.serial; 0: nothing found yet */
    const void *table;
    size_t n;
    const char *value; /* the header value: NUL-terminated, never NULL once found */
    size_t len;
    int clean; /* a valid field value (no CR, LF or NUL) */
} lux_file_type;

typedef struct lux_file {
    int refs;
    int fd;        /* -1 for directories and for files held in memory */
    char *content; /* whole contents of a small regular file, else NULL */
    mode_t mode;
    uint64_t size, ino;
    time_t mtime;
    long mtime_nsec;
    char last_modified[LUX_HTTP_DATE_LEN + 1];
    /* the ETag of the last lux_file_etag() call and the flags it was made with */
    unsigned etag_flags;
    unsigned char etag_len; /* 0: none made yet */
    char etag[LUX_ETAG_MAX + 1];
    /* The path the stat cache opened it by (NUL-terminated); NULL for a file made elsewhere. */
    const char *path;
    size_t path_len;
    lux_file_type type;
} lux_file;

/* Small files up to this size are served from memory. */
#define LUX_FILE_INLINE_MAX (32 * 1024)
/* Bounds of one worker's cache: entries, and bytes of file contents held in memory. */
#define LUX_STAT_CACHE_MAX_ENTRIES 4096
#define LUX_STAT_CACHE_MAX_INLINE (32u * 1024 * 1024)

/*
 * Open path (NUL-terminated, len bytes) through the worker's cache. Returns a new reference, or
 * NULL with errno set (ENOENT, ENOTDIR, EACCES, ELOOP for a refused symlink, ENOMEM...).
 * With follow_symlinks == 0 no component of the path may be a symlink, as in lighttpd: the file
 * is opened by a resolution that refuses them (ELOOP), and what is served is what was opened.
 */
lux_file *lux_stat_cache_open(lux_worker *w, const char *path, size_t len, int follow_symlinks);
lux_file *lux_file_ref(lux_file *f);
/* The file's ETag with `flags` (LUX_ETAG_USE_*, http/etag.h): made once per entry, since a
 * static file answers with it on every request. Returns its length (0 when flags use nothing)
 * and points *etag at it. */
size_t lux_file_etag(lux_file *f, unsigned flags, const char **etag);
void lux_file_unref(lux_file *f);

lux_stat_cache *lux_stat_cache_new(void);
void lux_stat_cache_free(lux_stat_cache *c);
/* Drop a few entries not validated recently (called from the worker's tick): bounded work per
 * call, so that files nobody asks for do not keep their descriptors open for long. */
void lux_stat_cache_expire(lux_stat_cache *c, time_t now);

/* lux_stat_cache_open on a given cache and clock (the worker's loop time). */
lux_file *lux_stat_cache_get(lux_stat_cache *c, time_t now, const char *path, size_t len,
                             int follow_symlinks);
/* lux itself changed files (mod_webdav: PUT, DELETE, COPY, MOVE): every worker's cache confirms
 * an entry with one stat() before trusting it again, instead of for up to a second. */
void lux_stat_cache_changed(void);
/* What the cache holds: entries and bytes of contents in memory. */
size_t lux_stat_cache_entries(const lux_stat_cache *c);
uint64_t lux_stat_cache_inline_bytes(const lux_stat_cache *c);

/*
 * open(2) with no symlink anywhere on the path (ELOOP if there is one): openat2 with
 * RESOLVE_NO_SYMLINKS, or on kernels without it a walk that opens one component at a time.
 */
int lux_open_no_symlinks(const char *path, int flags);
/* That walk, used when openat2 is missing (public so that it is tested everywhere). */
int lux_open_no_symlinks_walk(const char *path, int flags);

#endif
