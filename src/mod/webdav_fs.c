/* mod_webdav's file-system operations, all relative to directory descriptors. */
#include "mod/webdav_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

static int open_beneath(int root_fd, const char *path, int follow_symlinks) {
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve =
            RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (follow_symlinks ? 0 : RESOLVE_NO_SYMLINKS),
    };
    return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
}

int webdav_res_open(int root_fd, const char *rel, int follow_symlinks, webdav_res *out) {
    out->dirfd = -1;
    out->name = NULL;
    out->is_root = 0;
    size_t len = strlen(rel);
    while (len && rel[len - 1] == '/')
        len--;
    char *path = strndup(rel, len);
    if (!path)
        return -1;
    char *slash = strrchr(path, '/');
    const char *parent = ".";
    const char *name = path;
    if (slash) {
        *slash = '\0';
        parent = path;
        name = slash + 1;
    }
    if (!*name) {
        out->is_root = 1;
        name = ".";
    }
    if (strcmp(name, "..") == 0) { /* never from a normalised path, but never either */
        free(path);
        errno = EXDEV;
        return -1;
    }
    out->dirfd = open_beneath(root_fd, parent, follow_symlinks);
    out->name = strdup(name);
    free(path);
    if (out->dirfd < 0 || !out->name) {
        webdav_res_close(out);
        return -1;
    }
    return 0;
}

void webdav_res_close(webdav_res *res) {
    if (res->dirfd >= 0)
        close(res->dirfd);
    res->dirfd = -1;
    free(res->name);
    res->name = NULL;
}

int webdav_res_stat(const webdav_res *res, int follow, struct stat *st) {
    return fstatat(res->dirfd, res->name, st, follow ? 0 : AT_SYMLINK_NOFOLLOW);
}

static int delete_at(int dir, const char *name, int depth) {
    if (unlinkat(dir, name, 0) == 0)
        return 0;
    if (errno != EISDIR)
        return -1;
    if (depth >= WEBDAV_FS_MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = 0, saved = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            delete_at(dirfd(d), e->d_name, depth + 1) < 0 && rc == 0) {
            rc = -1;
            saved = errno;
        }
    closedir(d);
    if (rc < 0) {
        errno = saved;
        return -1;
    }
    return unlinkat(dir, name, AT_REMOVEDIR);
}

int webdav_delete_tree(int dir, const char *name) {
    return delete_at(dir, name, 0);
}

int webdav_tmpfile(int dirfd, char *tmp, size_t tmplen) {
    for (int tries = 0; tries < 8; tries++) {
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            return -1;
        snprintf(tmp, tmplen, ".lux-webdav-%016llx.tmp", (unsigned long long)rnd);
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* Copy what remains of in into out, then in's permissions. 0, or -1 with errno. */
static int copy_contents(int in, int out) {
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0)
                return -1;
            off += w;
        }
    struct stat st;
    if (n < 0 || fstat(in, &st) < 0)
        return -1;
    fchmod(out, st.st_mode & 07777);
    return 0;
}

int webdav_tmpfile_copy(int dirfd, const char *name, char *tmp, size_t tmplen) {
    int in = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = webdav_tmpfile(dirfd, tmp, tmplen);
    if (out >= 0 && copy_contents(in, out) < 0) {
        int saved = errno;
        close(out);
        unlinkat(dirfd, tmp, 0);
        errno = saved;
        out = -1;
    }
    close(in);
    return out;
}

static int copy_file(int sdir, const char *sname, int ddir, const char *dname) {
    int in = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -1;
    char tmp[64];
    int out = webdav_tmpfile(ddir, tmp, sizeof tmp);
    if (out < 0) {
        close(in);
        return -1;
    }
    int rc = copy_contents(in, out);
    close(in);
    if (close(out) < 0)
        rc = -1;
    if (rc == 0 && renameat2(ddir, tmp, ddir, dname, RENAME_NOREPLACE) == 0)
        return 0;
    int saved = errno;
    unlinkat(ddir, tmp, 0);
    errno = saved;
    return -1;
}

static int copy_at(int sdir, const char *sname, int ddir, const char *dname, int infinite,
                   int depth) {
    struct stat st;
    if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        if (!S_ISREG(st.st_mode)) {
            errno = EPERM; /* symlinks, devices, sockets are not copied */
            return -1;
        }
        return copy_file(sdir, sname, ddir, dname);
    }
    if (mkdirat(ddir, dname, st.st_mode & 07777) < 0)
        return -1;
    if (!infinite)
        return 0;
    if (depth >= WEBDAV_FS_MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    int sfd = openat(sdir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int dfd = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = sfd >= 0 ? fdopendir(sfd) : NULL;
    if (!d || dfd < 0) {
        if (!d && sfd >= 0)
            close(sfd);
        if (d)
            closedir(d);
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            rc = copy_at(dirfd(d), e->d_name, dfd, e->d_name, 1, depth + 1);
    int saved = errno;
    closedir(d);
    close(dfd);
    errno = saved;
    return rc;
}

int webdav_copy_tree(int sdir, const char *sname, int ddir, const char *dname, int infinite) {
    return copy_at(sdir, sname, ddir, dname, infinite, 0);
}
