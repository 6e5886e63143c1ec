/* Entity tags and conditional requests (RFC 9110 8.8.3, 13). */
#ifndef LUX_ETAG_H
#define LUX_ETAG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

enum { LUX_ETAG_USE_INODE = 1, LUX_ETAG_USE_MTIME = 2, LUX_ETAG_USE_SIZE = 4 };

/* The longest ETag lux_etag_make writes: 16 hex digits in quotes. */
#define LUX_ETAG_MAX 18

/* Build a strong ETag ("\"...\"") from the chosen file attributes into out (>= LUX_ETAG_MAX + 1
 * bytes, NUL-terminated): 16 hex digits of a 64-bit hash; USE_MTIME covers the nanoseconds too.
 * Returns its length, 0 if flags is 0 (no ETag). */
size_t lux_etag_make(char *out, unsigned flags, uint64_t ino, time_t mtime, long mtime_nsec,
                     uint64_t size);

/*
 * Does a If-None-Match / If-Match list ("*", or comma-separated, possibly weak W/"x" tags) match
 * etag? weak=1 uses the weak comparison (If-None-Match), weak=0 the strong one (If-Match).
 * "*" matches any etag, even an empty one: whether a representation exists is the caller's
 * question. OWS and empty elements are skipped; commas inside quotes belong to the tag; a
 * malformed element stops the scan with no match. An empty etag matches only "*".
 */
int lux_etag_list_match(const char *list, size_t len, const char *etag, size_t etag_len, int weak);

#endif
