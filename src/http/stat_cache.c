#include "http/stat_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUCKETS 4096 /* power of two */
#define MAX_ENTRIES 8192

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    time_t checked; /* when the attributes were last confirmed */
    int error;      /* cached errno for a missing file, else 0 */
    lux_file *file;
    size_t len;
    char path[];
} entry;

struct lux_stat_cache {
    entry *buckets[BUCKETS];
    size_t n;
};

lux_stat_cache *lux_stat_cache_new(void) { return calloc(1, sizeof(lux_stat_cache)); }

lux_file *lux_file_ref(lux_file *f) {
    f->refs++;
    return f;
}

void lux_file_unref(lux_file *f) {
    if (!f || --f->refs > 0)
        return;
    if (f->fd >= 0)
        close(f->fd);
    free(f->content);
    free(f);
}

static void entry_free(entry *e) {
    lux_file_unref(e->file);
    free(e);
}

void lux_stat_cache_free(lux_stat_cache *c) {
    if (!c)
        return;
    for (size_t i = 0; i < BUCKETS; i++)
        for (entry *e = c->buckets[i], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    free(c);
}

void lux_stat_cache_expire(lux_stat_cache *c, time_t now) {
    /* Only under pressure: a sweep of stale entries keeps open file descriptors bounded. */
    if (c->n < MAX_ENTRIES / 2)
        return;
    for (size_t i = 0; i < BUCKETS; i++) {
        entry **pp = &c->buckets[i];
        while (*pp) {
            entry *e = *pp;
            if (now - e->checked > 2) {
                *pp = e->next;
                entry_free(e);
                c->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static uint64_t hash_path(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

static int same_file(const lux_file *f, const struct stat *st) {
    return f->ino == (uint64_t)st->st_ino && f->size == (uint64_t)st->st_size &&
           f->mtime == st->st_mtim.tv_sec && f->mtime_nsec == st->st_mtim.tv_nsec &&
           f->mode == st->st_mode;
}

static lux_file *load_file(const char *path, const struct stat *st) {
    lux_file *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->refs = 1;
    f->fd = -1;
    f->mode = st->st_mode;
    f->size = (uint64_t)st->st_size;
    f->ino = (uint64_t)st->st_ino;
    f->mtime = st->st_mtim.tv_sec;
    f->mtime_nsec = st->st_mtim.tv_nsec;
    lux_http_date_format(f->mtime, f->last_modified);
    if (!S_ISREG(st->st_mode))
        return f;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        free(f);
        errno = e;
        return NULL;
    }
    if (f->size <= LUX_FILE_INLINE_MAX) {
        f->content = malloc(f->size ? f->size : 1);
        ssize_t n = f->content ? pread(fd, f->content, f->size, 0) : -1;
        if (n == (ssize_t)f->size) {
            close(fd);
            return f;
        }
        /* Changed under us or unreadable as a whole: fall back to the descriptor. */
        free(f->content);
        f->content = NULL;
    }
    f->fd = fd;
    return f;
}

static entry *lookup(lux_stat_cache *c, const char *path, size_t len, uint64_t h, entry ***slot) {
    entry **pp = &c->buckets[h & (BUCKETS - 1)];
    for (; *pp; pp = &(*pp)->next) {
        entry *e = *pp;
        if (e->hash == h && e->len == len && memcmp(e->path, path, len) == 0) {
            *slot = pp;
            return e;
        }
    }
    *slot = pp;
    return NULL;
}

static lux_file *fresh(lux_worker *w, const char *path, size_t len, uint64_t h) {
    lux_stat_cache *c = w->stat_cache;
    time_t now = lux_loop_now(w->loop);
    entry **slot;
    entry *e = lookup(c, path, len, h, &slot);
    if (e && e->checked == now) {
        if (e->error) {
            errno = e->error;
            return NULL;
        }
        return lux_file_ref(e->file);
    }
    struct stat st;
    int err = stat(path, &st) < 0 ? errno : 0;
    if (e && !err && e->file && same_file(e->file, &st)) {
        e->checked = now;
        return lux_file_ref(e->file);
    }
    lux_file *f = NULL;
    if (!err) {
        f = load_file(path, &st);
        if (!f)
            err = errno;
    }
    if (err != 0 && err != ENOENT && err != ENOTDIR) {
        errno = err; /* permission problems and the like are not cached */
        if (e) {
            *slot = e->next;
            entry_free(e);
            c->n--;
        }
        return NULL;
    }
    if (!e) {
        if (c->n >= MAX_ENTRIES)
            lux_stat_cache_expire(c, now);
        e = malloc(sizeof *e + len + 1);
        if (!e) {
            if (f)
                return f;
            errno = err;
            return NULL;
        }
        memcpy(e->path, path, len);
        e->path[len] = '\0';
        e->len = len;
        e->hash = h;
        e->file = NULL;
        e->next = c->buckets[h & (BUCKETS - 1)];
        c->buckets[h & (BUCKETS - 1)] = e;
        c->n++;
    }
    lux_file_unref(e->file);
    e->file = f;
    e->error = err;
    e->checked = now;
    if (err) {
        errno = err;
        return NULL;
    }
    return lux_file_ref(f);
}

lux_file *lux_stat_cache_open(lux_worker *w, const char *path, size_t len, int follow_symlinks) {
    if (!follow_symlinks) {
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
            errno = ELOOP;
            return NULL;
        }
    }
    return fresh(w, path, len, hash_path(path, len));
}
