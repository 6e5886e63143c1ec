/*
 * dir-listing.cache: rendered directory listings kept in memory, per worker thread, so a busy
 * directory is read and rendered once per max-age instead of once per request. Bounded in
 * entries and bytes (least recently used go first); a page is reused only for the same
 * directory, URL path and settings, while the directory's mtime is unchanged and max-age has
 * not passed. Pages are refcounted lux_files: a response in flight keeps its page even when the
 * cache drops it.
 */
#ifndef LUX_DIRLISTING_CACHE_H
#define LUX_DIRLISTING_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http/stat_cache.h"

/* What a rendered page depends on. Strings need not be NUL-terminated; settings are compared
 * bytewise, so the caller zeroes the struct it passes before filling it. */
typedef struct {
    const void *settings;
    size_t settings_len;
    const char *dir; /* physical path of the directory */
    size_t dir_len;
    const char *uri; /* URL path the page shows */
    size_t uri_len;
    time_t mtime; /* the directory as it was read */
    long mtime_nsec;
    uint64_t ino;
} lux_listing_key;

/* Bounds of each worker's cache. */
#define LUX_LISTING_CACHE_ENTRIES 64
#define LUX_LISTING_CACHE_BYTES (8u << 20)

/* A new reference to the page cached for key, or NULL when there is none still fresh at now. */
lux_file *lux_listing_cache_get(const lux_listing_key *key, time_t now);
/* Keep page (the cache takes its own reference) for key until expires. Out of memory, or a page
 * larger than the cache, simply leaves it uncached. */
void lux_listing_cache_put(const lux_listing_key *key, lux_file *page, time_t expires);

#endif
