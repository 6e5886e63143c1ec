#include "mod/deflate_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lux/log.h"

/* The canonical coding: x-gzip is gzip's bytes, x-bzip2 bzip2's, so they share entries. */
static deflate_enc canonical(deflate_enc e) {
    return e == DEFLATE_ENC_X_GZIP    ? DEFLATE_ENC_GZIP
           : e == DEFLATE_ENC_X_BZIP2 ? DEFLATE_ENC_BZIP2
                                      : e;
}

static uint64_t mix(uint64_t h, uint64_t v) {
    for (int i = 0; i < 8; i++, v >>= 8)
        h = (h ^ (v & 0xff)) * 0x100000001b3ULL;
    return h;
}

size_t deflate_cache_path(char *out, size_t outlen, const char *dir, size_t dirlen,
                          const char *physical, size_t physlen, const deflate_file_id *id,
                          deflate_enc e, const deflate_params *p) {
    e = canonical(e);
    uint64_t h = deflate_params_hash(p, e);
    h = mix(h, id->size);
    h = mix(h, id->ino);
    h = mix(h, (uint64_t)(int64_t)id->mtime);
    h = mix(h, (uint64_t)(int64_t)id->mtime_nsec);
    while (dirlen > 1 && dir[dirlen - 1] == '/')
        dirlen--;
    int n = snprintf(out, outlen, "%.*s%s%.*s.%016llx.%s", (int)dirlen, dir,
                     physlen && physical[0] == '/' ? "" : "/", (int)physlen, physical,
                     (unsigned long long)h, deflate_enc_name(e));
    return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

/* Create the directories above path (0700, as lighttpd). */
static int mkdir_parents(char *path) {
    for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        int rc = mkdir(path, 0700);
        *s = '/';
        if (rc < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

/* Seconds between two error-log lines about the cache: a cache dir that went missing under a
 * file that blocks it, or that cannot be written, must not write a line per request. */
#define COMPLAINT_INTERVAL 60
static _Atomic int64_t last_complaint; /* Unix seconds; 0: never */

void deflate_cache_failed(const char *path, int err) {
    int64_t now = (int64_t)time(NULL);
    int64_t last = atomic_load_explicit(&last_complaint, memory_order_relaxed);
    if (last && now - last < COMPLAINT_INTERVAL)
        return;
    if (!atomic_compare_exchange_strong(&last_complaint, &last, now))
        return; /* another thread is saying it */
    lux_log(LUX_LOG_ERR,
            "(mod_deflate) deflate.cache-dir: cannot use %s: %s; compressing in memory instead "
            "(said at most once a minute)",
            path, strerror(err));
}

int deflate_cache_fill(const char *path, deflate_enc e, const deflate_params *p, const void *mem,
                       int in_fd, uint64_t size) {
    size_t len = strlen(path);
    char *tmp = malloc(len + 8);
    if (!tmp)
        return -1;
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".XXXXXX", 8);
    int fd = -1;
    if (mkdir_parents(tmp) == 0)
        fd = mkostemp(tmp, O_CLOEXEC);
    int rc = -1, err = errno;
    if (fd >= 0) {
        rc = deflate_encode_fd(e, p, mem, in_fd, size, fd);
        if (close(fd) < 0)
            rc = -1;
        if (rc == 0)
            rc = rename(tmp, path);
        err = errno;
        if (rc < 0)
            unlink(tmp);
    }
    free(tmp);
    if (rc < 0)
        deflate_cache_failed(path, err);
    errno = err;
    return rc;
}

/* The background jobs running: their paths, so that one entry is not compressed twice. */
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static char *jobs[DEFLATE_CACHE_JOBS];

typedef struct {
    char *path;
    deflate_enc enc;
    deflate_params params;
    int fd;
    uint64_t size;
} job;

/* Claim a slot for path; its index, or -1 when it is taken or none is free. */
static int claim_slot(char *path) {
    int slot = -1;
    pthread_mutex_lock(&jobs_lock);
    for (int i = 0; i < DEFLATE_CACHE_JOBS; i++) {
        if (jobs[i] && strcmp(jobs[i], path) == 0) {
            slot = -1;
            break;
        }
        if (!jobs[i] && slot < 0)
            slot = i;
    }
    if (slot >= 0)
        jobs[slot] = path;
    pthread_mutex_unlock(&jobs_lock);
    return slot;
}

static void release_slot(const char *path) {
    pthread_mutex_lock(&jobs_lock);
    for (int i = 0; i < DEFLATE_CACHE_JOBS; i++)
        if (jobs[i] == path)
            jobs[i] = NULL;
    pthread_mutex_unlock(&jobs_lock);
}

static void *job_main(void *arg) {
    job *j = arg;
    deflate_cache_fill(j->path, j->enc, &j->params, NULL, j->fd, j->size);
    close(j->fd);
    release_slot(j->path);
    free(j->path);
    free(j);
    return NULL;
}

int deflate_cache_fill_async(const char *path, deflate_enc e, const deflate_params *p, int in_fd,
                             uint64_t size) {
    job *j = malloc(sizeof *j);
    char *copy = strdup(path);
    if (!j || !copy || claim_slot(copy) < 0) {
        free(j);
        free(copy);
        close(in_fd);
        return -1;
    }
    *j = (job){.path = copy, .enc = e, .params = *p, .fd = in_fd, .size = size};
    pthread_attr_t attr;
    pthread_t t;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&t, &attr, job_main, j);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        release_slot(copy);
        free(copy);
        free(j);
        close(in_fd);
        return -1;
    }
    return 0;
}
