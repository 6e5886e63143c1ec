#include "http/stat_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "net/stats.h"

#define BUCKETS 4096    /* power of two, about one entry per bucket when full */
#define STALE_SECS 10   /* an entry nobody validated for this long may be expired */
#define EXPIRE_STEP 256 /* entries the tick looks at per call */

/*
 * Entries sit in a hash chain (lookup) and on a ring (eviction by clock: a lookup sets
 * `referenced`, the hand clears it and evicts the first entry found without it).
 */
typedef struct entry {
    struct entry *next;                  /* hash chain */
    struct entry *ring_prev, *ring_next; /* clock ring */
    uint64_t hash;
    time_t checked; /* when the attributes were last confirmed */
    uint64_t epoch; /* lux_stat_cache_changed's count when they were */
    unsigned char follow, referenced;
    lux_file *file;
    size_t len;
    char path[];
} entry;

struct lux_stat_cache {
    entry *buckets[BUCKETS];
    entry *hand;  /* next eviction candidate; NULL when empty */
    entry *sweep; /* next entry the expiry looks at; NULL when empty */
    size_t n;
    uint64_t inline_bytes;
    uint64_t key[2]; /* hash key, random per cache so chains cannot be aimed at */
    int last_hit;    /* the last lookup was answered from an entry, for the metrics */
};

static void random_key(uint64_t key[2]) {
    if (getrandom(key, 2 * sizeof key[0], 0) == (ssize_t)(2 * sizeof key[0]))
        return;
    /* No getrandom: still differ per process and per start. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
    key[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)key;
}

lux_stat_cache *lux_stat_cache_new(void) {
    lux_stat_cache *c = calloc(1, sizeof(lux_stat_cache));
    if (c)
        random_key(c->key);
    return c;
}

lux_file *lux_file_ref(lux_file *f) {
    f->refs++;
    return f;
}

size_t lux_file_etag(lux_file *f, unsigned flags, const char **etag) {
    if (!f->etag_len || f->etag_flags != flags) {
        f->etag_len =
            (unsigned char)lux_etag_make(f->etag, flags, f->ino, f->mtime, f->mtime_nsec, f->size);
        f->etag_flags = flags;
    }
    *etag = f->etag;
    return f->etag_len;
}

void lux_file_unref(lux_file *f) {
    if (!f || --f->refs > 0)
        return;
    if (f->fd >= 0)
        close(f->fd);
    free(f->content);
    free(f);
}

size_t lux_stat_cache_entries(const lux_stat_cache *c) {
    return c->n;
}
uint64_t lux_stat_cache_inline_bytes(const lux_stat_cache *c) {
    return c->inline_bytes;
}

static uint64_t inline_size(const lux_file *f) {
    return f->content ? f->size : 0;
}

static void ring_insert(lux_stat_cache *c, entry *e) {
    if (!c->hand) {
        e->ring_prev = e->ring_next = e;
        c->hand = c->sweep = e;
        return;
    }
    /* Just behind the hand: a new entry is the last the hand comes to. */
    e->ring_next = c->hand;
    e->ring_prev = c->hand->ring_prev;
    e->ring_prev->ring_next = e;
    c->hand->ring_prev = e;
}

static void ring_remove(lux_stat_cache *c, entry *e) {
    if (e->ring_next == e) {
        c->hand = c->sweep = NULL;
        return;
    }
    if (c->hand == e)
        c->hand = e->ring_next;
    if (c->sweep == e)
        c->sweep = e->ring_next;
    e->ring_prev->ring_next = e->ring_next;
    e->ring_next->ring_prev = e->ring_prev;
}

static void remove_entry(lux_stat_cache *c, entry *e) {
    entry **pp = &c->buckets[e->hash & (BUCKETS - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    ring_remove(c, e);
    c->n--;
    c->inline_bytes -= inline_size(e->file);
    lux_file_unref(e->file);
    free(e);
}

void lux_stat_cache_free(lux_stat_cache *c) {
    if (!c)
        return;
    while (c->hand)
        remove_entry(c, c->hand);
    free(c);
}

static void evict_one(lux_stat_cache *c) {
    entry *e = c->hand;
    while (e->referenced) {
        e->referenced = 0;
        e = e->ring_next;
    }
    c->hand = e; /* removing it moves the hand on */
    remove_entry(c, e);
}

void lux_stat_cache_expire(lux_stat_cache *c, time_t now) {
    for (int i = 0; i < EXPIRE_STEP && c->sweep; i++) {
        entry *e = c->sweep;
        c->sweep = e->ring_next;
        if (now - e->checked > STALE_SECS)
            remove_entry(c, e);
    }
}

/* SipHash-1-3: a keyed hash, so that no one can choose paths that share a chain. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void sipround(uint64_t v[4]) {
    v[0] += v[1];
    v[1] = ROTL(v[1], 13) ^ v[0];
    v[0] = ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = ROTL(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = ROTL(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = ROTL(v[1], 17) ^ v[2];
    v[2] = ROTL(v[2], 32);
}

/* The last t (< 8) bytes of a message, the first in the lowest byte as SipHash packs them: two
 * loads that overlap instead of a byte at a time (the same word on a little-endian machine; on
 * another the hash is as good, only different). */
static uint64_t tail_bytes(const char *s, size_t t) {
    if (t >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, s, sizeof lo);
        memcpy(&hi, s + t - 4, sizeof hi);
        return lo | (uint64_t)hi << (8 * (t - 4));
    }
    if (t >= 2) {
        uint16_t lo, hi;
        memcpy(&lo, s, sizeof lo);
        memcpy(&hi, s + t - 2, sizeof hi);
        return lo | (uint64_t)hi << (8 * (t - 2));
    }
    return t ? (unsigned char)s[0] : 0;
}

static uint64_t hash_path(const uint64_t key[2], const char *s, size_t len) {
    uint64_t v[4] = {key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL,
                     key[0] ^ 0x6c7967656e657261ULL, key[1] ^ 0x7465646279746573ULL};
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t m;
        memcpy(&m, s + i, 8);
        v[3] ^= m;
        sipround(v);
        v[0] ^= m;
    }
    uint64_t last = (uint64_t)len << 56 | tail_bytes(s + i, len - i);
    v[3] ^= last;
    sipround(v);
    v[0] ^= last;
    v[2] ^= 0xff;
    sipround(v);
    sipround(v);
    sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ------------------------------------------------------------------------------------------ */
/* Opening without symlinks */

static atomic_int no_openat2; /* set once the kernel said ENOSYS */

/* The component at fd, opened with O_NOFOLLOW, is acceptable: not a link, a directory when a
 * slash follows it. */
static int check_component(int fd, int want_dir) {
    struct stat st;
    if (fstat(fd, &st) < 0)
        return errno;
    if (S_ISLNK(st.st_mode))
        return ELOOP;
    if (want_dir && !S_ISDIR(st.st_mode))
        return ENOTDIR;
    return 0;
}

int lux_open_no_symlinks_walk(const char *path, int flags) {
    if (!*path) {
        errno = ENOENT;
        return -1;
    }
    int dir = open(*path == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    const char *p = path;
    while (dir >= 0) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        const char *rest = p + n;
        while (*rest == '/')
            rest++;
        int last = *rest == '\0';
        char name[NAME_MAX + 1];
        if (n > NAME_MAX) {
            close(dir);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(name, n ? p : ".", n ? n : 1);
        name[n ? n : 1] = '\0';
        /* Directories on the way are only looked through (O_PATH); the last component is opened
         * as asked. O_NOFOLLOW either fails on a link or, with O_PATH, opens the link itself. */
        int fd = openat(dir, name, (last ? flags : O_PATH | O_CLOEXEC) | O_NOFOLLOW);
        int err = fd < 0 ? errno : check_component(fd, p[n] == '/');
        close(dir);
        if (err) {
            if (fd >= 0)
                close(fd);
            errno = err;
            return -1;
        }
        if (last)
            return fd;
        dir = fd;
        p = rest;
    }
    return -1;
}

int lux_open_no_symlinks(const char *path, int flags) {
    if (!atomic_load_explicit(&no_openat2, memory_order_relaxed)) {
        struct open_how how = {.flags = (uint64_t)flags, .resolve = RESOLVE_NO_SYMLINKS};
        int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
        if (fd >= 0 || errno != ENOSYS)
            return fd;
        atomic_store_explicit(&no_openat2, 1, memory_order_relaxed);
    }
    return lux_open_no_symlinks_walk(path, flags);
}

static int open_path(const char *path, int follow, int flags) {
    return follow ? open(path, flags) : lux_open_no_symlinks(path, flags);
}

/* The attributes of path: 0, or an errno. Without following links, through a descriptor of
 * what the link-refusing resolution found (O_PATH: opening it has no side effect); ELOOP only
 * for a path that exists once links are followed, as lighttpd answers. */
static int file_attrs(const char *path, int follow, struct stat *st) {
    if (follow)
        return stat(path, st) < 0 ? errno : 0;
    int fd = open_path(path, 0, O_PATH | O_CLOEXEC);
    if (fd < 0 && errno == ELOOP && stat(path, st) < 0)
        return errno; /* a path that does not exist is a 404 however it is reached */
    if (fd < 0)
        return errno;
    int err = fstat(fd, st) < 0 ? errno : 0;
    close(fd);
    return err;
}

/* ------------------------------------------------------------------------------------------ */
/* Files */

static int same_file(const lux_file *f, const struct stat *st) {
    return f->ino == (uint64_t)st->st_ino && f->size == (uint64_t)st->st_size &&
           f->mtime == st->st_mtim.tv_sec && f->mtime_nsec == st->st_mtim.tv_nsec &&
           f->mode == st->st_mode;
}

static void set_attrs(lux_file *f, const struct stat *st) {
    f->mode = st->st_mode;
    f->size = (uint64_t)st->st_size;
    f->ino = (uint64_t)st->st_ino;
    f->mtime = st->st_mtim.tv_sec;
    f->mtime_nsec = st->st_mtim.tv_nsec;
    lux_http_date_format(f->mtime, f->last_modified);
}

/* Small files are read into memory and their descriptor closed. */
static void read_small_file(lux_file *f, int fd) {
    f->content = malloc(f->size ? f->size : 1);
    ssize_t n = f->content ? pread(fd, f->content, f->size, 0) : -1;
    if (n == (ssize_t)f->size) {
        close(fd);
        return;
    }
    /* Changed under us or unreadable as a whole: fall back to the descriptor. */
    free(f->content);
    f->content = NULL;
    f->fd = fd;
}

/* A file with the attributes st; a regular file is opened, and then described by what was
 * opened (O_NONBLOCK: should it have become a FIFO meanwhile, the open must not wait). */
static lux_file *load_file(const char *path, size_t len, int follow, const struct stat *st) {
    lux_file *f = calloc(1, sizeof *f + len + 1);
    if (!f)
        return NULL;
    char *own_path = (char *)(f + 1);
    memcpy(own_path, path, len);
    f->path = own_path;
    f->path_len = len;
    f->refs = 1;
    f->fd = -1;
    set_attrs(f, st);
    if (!S_ISREG(st->st_mode))
        return f;
    int fd = open_path(path, follow, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat fst;
    if (fd < 0 || fstat(fd, &fst) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        free(f);
        errno = e;
        return NULL;
    }
    set_attrs(f, &fst);
    if (!S_ISREG(fst.st_mode))
        close(fd);
    else if (f->size <= LUX_FILE_INLINE_MAX)
        read_small_file(f, fd);
    else
        f->fd = fd;
    return f;
}

/* ------------------------------------------------------------------------------------------ */
/* The cache */

/* Bumped by lux_stat_cache_changed: an entry confirmed before the last bump is confirmed again
 * (one stat) before it is trusted, in every worker's cache. */
static _Atomic uint64_t fs_epoch;

void lux_stat_cache_changed(void) {
    /* release: whoever sees the new count sees the file system change made before it */
    atomic_fetch_add_explicit(&fs_epoch, 1, memory_order_release);
}

static entry *lookup(lux_stat_cache *c, const char *path, size_t len, uint64_t h, int follow) {
    for (entry *e = c->buckets[h & (BUCKETS - 1)]; e; e = e->next)
        if (e->hash == h && e->len == len && e->follow == follow && memcmp(e->path, path, len) == 0)
            return e;
    return NULL;
}

/* Keep f (the cache takes its own reference), evicting until it fits the bounds. Best effort:
 * out of memory, the file is served uncached. */
static void remember(lux_stat_cache *c, time_t now, uint64_t epoch, const char *path, size_t len,
                     uint64_t h, int follow, lux_file *f) {
    while (c->hand && (c->n >= LUX_STAT_CACHE_MAX_ENTRIES ||
                       c->inline_bytes + inline_size(f) > LUX_STAT_CACHE_MAX_INLINE))
        evict_one(c);
    entry *e = malloc(sizeof *e + len + 1);
    if (!e)
        return;
    memcpy(e->path, path, len);
    e->path[len] = '\0';
    e->len = len;
    e->hash = h;
    e->follow = (unsigned char)follow;
    e->referenced = 0; /* a path asked for once is the first to go */
    e->checked = now;
    e->epoch = epoch;
    e->file = lux_file_ref(f);
    e->next = c->buckets[h & (BUCKETS - 1)];
    c->buckets[h & (BUCKETS - 1)] = e;
    ring_insert(c, e);
    c->n++;
    c->inline_bytes += inline_size(f);
}

lux_file *lux_stat_cache_get(lux_stat_cache *c, time_t now, const char *path, size_t len,
                             int follow_symlinks) {
    int follow = follow_symlinks != 0;
    /* Entries checked with and without following links are different keys: one validated for
     * a site that follows links is never served to one that does not. */
    uint64_t h = hash_path(c->key, path, len) ^ (uint64_t)follow;
    entry *e = lookup(c, path, len, h, follow);
    c->last_hit = 1;
    uint64_t epoch = atomic_load_explicit(&fs_epoch, memory_order_acquire);
    if (e && e->checked == now && e->epoch == epoch) {
        e->referenced = 1;
        return lux_file_ref(e->file);
    }
    struct stat st;
    int err = file_attrs(path, follow, &st);
    if (e) {
        if (!err && same_file(e->file, &st)) {
            e->checked = now;
            e->epoch = epoch;
            e->referenced = 1;
            return lux_file_ref(e->file);
        }
        remove_entry(c, e);
    }
    c->last_hit = 0;
    if (err) { /* missing files are not cached: a 404 leaves nothing behind */
        errno = err;
        return NULL;
    }
    lux_file *f = load_file(path, len, follow, &st);
    if (f)
        remember(c, now, epoch, path, len, h, follow, f);
    return f;
}

lux_file *lux_stat_cache_open(lux_worker *w, const char *path, size_t len, int follow_symlinks) {
    lux_file *f =
        lux_stat_cache_get(w->stat_cache, lux_loop_now(w->loop), path, len, follow_symlinks);
    lux_stats_stat_cache(w->id, w->stat_cache->last_hit);
    return f;
}
