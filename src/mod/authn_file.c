/*
 * mod_authn_file: the user files of auth.backend "htpasswd", "htdigest" and "plain". A file is
 * kept in memory, shared by the workers, and read again when its inode, size or modification
 * time changes (checked at each lookup: a stat, as lighttpd reads the file at each request).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lux/log.h"
#include "lux/req.h"
#include "mod/authn.h"

/* A user file larger than this is refused rather than held in memory. */
#define AUTHN_FILE_MAX (16u << 20)

typedef struct authn_file {
    struct authn_file *next;
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char *data; /* the file's bytes, NUL-terminated; NULL when it could not be read */
    size_t len;
} authn_file;

static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static authn_file *files; /* every file ever looked up, for the life of the process */

static authn_file *file_entry_locked(const char *path) {
    for (authn_file *f = files; f; f = f->next)
        if (strcmp(f->path, path) == 0)
            return f;
    authn_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return NULL;
    }
    f->next = files;
    files = f;
    return f;
}

static int same_file(const authn_file *f, const struct stat *st) {
    return f->data && f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
           f->mtime.tv_sec == st->st_mtim.tv_sec && f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static char *read_whole(int fd, size_t size, size_t *len) {
    char *buf = malloc(size + 1);
    size_t n = 0;
    while (buf && n < size) {
        ssize_t got = read(fd, buf + n, size - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

/* Bring f up to date with the file on disk; 0, or -1 (logged) when it cannot be read. */
static int refresh_locked(authn_file *f) {
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (size_t)st.st_size > AUTHN_FILE_MAX) {
        lux_log(LUX_LOG_ERR, "auth: cannot use user file %s: %s", f->path,
                fd < 0 ? strerror(errno) : "not a regular file of at most 16 MiB");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!same_file(f, &st)) {
        size_t len;
        char *data = read_whole(fd, (size_t)st.st_size, &len);
        if (!data) {
            close(fd);
            return -1;
        }
        free(f->data);
        f->data = data;
        f->len = len;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->size = st.st_size;
        f->mtime = st.st_mtim;
    }
    close(fd);
    return 0;
}

/* Does the field at p (up to ':') equal s? Then where the next field starts. */
static const char *field_is(const char *p, const char *end, const lux_str *s) {
    if ((size_t)(end - p) <= s->len || memcmp(p, s->ptr, s->len) != 0 || p[s->len] != ':')
        return NULL;
    return p + s->len + 1;
}

/* The secret of a matching line, or NULL when the line is not the user's. */
static const char *match_line(const char *p, const char *end, authn_backend kind,
                              const lux_str *user, const lux_str *realm, size_t hexlen) {
    const char *rest = field_is(p, end, user);
    if (!rest || kind != AUTHN_HTDIGEST)
        return rest;
    rest = field_is(rest, end, realm);
    if (!rest || (size_t)(end - rest) != hexlen)
        return NULL;
    return rest;
}

/* A secret with a NUL inside is no one's: cut there as a C string, "abc\0junk" would let the
 * password "abc" in. */
static int copy_secret(const char *s, const char *end, char *out, size_t outlen) {
    size_t n = (size_t)(end - s);
    if (n >= outlen || memchr(s, '\0', n))
        return 0;
    memcpy(out, s, n);
    out[n] = '\0';
    return 1;
}

int authn_lines_find(const char *data, size_t len, authn_backend kind, const lux_str *user,
                     const lux_str *realm, size_t hexlen, char *out, size_t outlen) {
    for (const char *p = data, *fend = data + len; p < fend;) {
        const char *nl = memchr(p, '\n', (size_t)(fend - p));
        const char *end = nl ? nl : fend;
        const char *line_end = end > p && end[-1] == '\r' ? end - 1 : end;
        const char *secret = match_line(p, line_end, kind, user, realm, hexlen);
        if (secret)
            return copy_secret(secret, line_end, out, outlen);
        p = nl ? nl + 1 : fend;
    }
    return 0;
}

int authn_file_lookup(const char *path, authn_backend kind, const lux_str *user,
                      const lux_str *realm, size_t hexlen, char *out, size_t outlen) {
    pthread_mutex_lock(&files_lock);
    authn_file *f = file_entry_locked(path);
    int found = f && refresh_locked(f) == 0
                    ? authn_lines_find(f->data, f->len, kind, user, realm, hexlen, out, outlen)
                    : -1;
    pthread_mutex_unlock(&files_lock);
    return found;
}

/* lighttpd accepts a group file for the plain backend but never reads it, so that a
 * "group=" requirement admits nobody; lux takes the key as lighttpd does, and says so. */
static int parse_groupfile(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    if (v->type != LUX_V_STRING) {
        snprintf(err, el, "auth.backend.plain.groupfile: expected a file name");
        return -1;
    }
    lux_log(LUX_LOG_WARN,
            "auth.backend.plain.groupfile \"%s\" is not read (nor by lighttpd): "
            "require \"group=...\" admits nobody",
            v->u.str.ptr);
    return 0;
}

static const lux_directive authn_file_directives[] = {
    {"auth.backend.htpasswd.userfile", LUX_D_STRING, offsetof(authn_file_conf, htpasswd),
     LUX_SCOPE_ANY},
    {"auth.backend.htdigest.userfile", LUX_D_STRING, offsetof(authn_file_conf, htdigest),
     LUX_SCOPE_ANY},
    {"auth.backend.plain.userfile", LUX_D_STRING, offsetof(authn_file_conf, plain), LUX_SCOPE_ANY},
    {"auth.backend.plain.groupfile", LUX_D_CUSTOM, 0, LUX_SCOPE_ANY, parse_groupfile, 0},
    {NULL, 0, 0, 0},
};

const lux_module lux_mod_authn_file = {
    .name = "mod_authn_file",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = authn_file_directives,
    .conf_size = sizeof(authn_file_conf),
};
