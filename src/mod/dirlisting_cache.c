/*
 * The listing cache lives in thread-specific storage: each worker thread is one event loop that
 * never hands a connection to another, so its cache needs no lock, and the key's destructor
 * frees it when the worker ends.
 */
#include "mod/dirlisting_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct listing listing;
struct listing {
    listing *next;       /* most recently used first */
    lux_listing_key key; /* its strings point into the same allocation */
    time_t expires;
    lux_file *page;
};

typedef struct {
    listing *head;
    size_t n, bytes;
} listing_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static int cache_key_ok;

static void listing_free(listing *l) {
    lux_file_unref(l->page);
    free(l);
}

static void cache_free(void *p) {
    listing_cache *c = p;
    for (listing *l = c->head, *next; l; l = next) {
        next = l->next;
        listing_free(l);
    }
    free(c);
}

static void cache_key_create(void) {
    cache_key_ok = pthread_key_create(&cache_key, cache_free) == 0;
}

/* This thread's cache, created on first use; NULL when out of memory. */
static listing_cache *thread_cache(void) {
    pthread_once(&cache_once, cache_key_create);
    if (!cache_key_ok)
        return NULL;
    listing_cache *c = pthread_getspecific(cache_key);
    if (c)
        return c;
    c = calloc(1, sizeof *c);
    if (c && pthread_setspecific(cache_key, c) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

static int same_key(const lux_listing_key *a, const lux_listing_key *b) {
    return a->dir_len == b->dir_len && a->uri_len == b->uri_len &&
           a->settings_len == b->settings_len && memcmp(a->dir, b->dir, a->dir_len) == 0 &&
           memcmp(a->uri, b->uri, a->uri_len) == 0 &&
           memcmp(a->settings, b->settings, a->settings_len) == 0;
}

static int same_directory(const lux_listing_key *a, const lux_listing_key *b) {
    return a->mtime == b->mtime && a->mtime_nsec == b->mtime_nsec && a->ino == b->ino;
}

/* Unlink and free the entry *at points to. */
static void drop(listing_cache *c, listing **at) {
    listing *l = *at;
    *at = l->next;
    c->n--;
    c->bytes -= l->page->size;
    listing_free(l);
}

/* The link pointing at the entry for key (or at the terminating NULL). */
static listing **find(listing_cache *c, const lux_listing_key *key) {
    listing **at = &c->head;
    while (*at && !same_key(&(*at)->key, key))
        at = &(*at)->next;
    return at;
}

lux_file *lux_listing_cache_get(const lux_listing_key *key, time_t now) {
    listing_cache *c = thread_cache();
    if (!c)
        return NULL;
    listing **at = find(c, key);
    listing *l = *at;
    if (!l)
        return NULL;
    if (now >= l->expires || !same_directory(&l->key, key)) {
        drop(c, at);
        return NULL;
    }
    *at = l->next; /* to the front */
    l->next = c->head;
    c->head = l;
    return lux_file_ref(l->page);
}

/* Copy key into the tail of a new entry, so it owns its strings. */
static listing *listing_new(const lux_listing_key *key) {
    listing *l = malloc(sizeof *l + key->settings_len + key->dir_len + key->uri_len);
    if (!l)
        return NULL;
    char *p = (char *)(l + 1);
    l->key = *key;
    l->key.settings = memcpy(p, key->settings, key->settings_len);
    l->key.dir = memcpy(p + key->settings_len, key->dir, key->dir_len);
    l->key.uri = memcpy(p + key->settings_len + key->dir_len, key->uri, key->uri_len);
    return l;
}

/* Drop least recently used entries until one more page of `bytes` fits. */
static void make_room(listing_cache *c, size_t bytes) {
    while (c->head &&
           (c->n >= LUX_LISTING_CACHE_ENTRIES || c->bytes + bytes > LUX_LISTING_CACHE_BYTES)) {
        listing **last = &c->head;
        while ((*last)->next)
            last = &(*last)->next;
        drop(c, last);
    }
}

void lux_listing_cache_put(const lux_listing_key *key, lux_file *page, time_t expires) {
    listing_cache *c = thread_cache();
    if (!c || page->size > LUX_LISTING_CACHE_BYTES)
        return;
    listing **at = find(c, key);
    if (*at)
        drop(c, at);
    listing *l = listing_new(key);
    if (!l)
        return;
    make_room(c, page->size);
    l->expires = expires;
    l->page = lux_file_ref(page);
    l->next = c->head;
    c->head = l;
    c->n++;
    c->bytes += page->size;
}
