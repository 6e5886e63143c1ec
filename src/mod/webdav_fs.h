/*
 * The file-system work of mod_webdav. Every operation is relative to an opened directory: a
 * resource is (the directory that holds it, its name), and that directory is opened beneath the
 * document root with openat2(RESOLVE_BENEATH), so that no path, ".." or symlink reaches outside
 * it (RESOLVE_NO_SYMLINKS too when server.follow-symlink is off). The work is synchronous, on
 * the worker's thread; what one request may make it do is bounded by its body (PUT, the XML of
 * the others) and, for the recursive operations, by WEBDAV_FS_MAX_DEPTH.
 */
#ifndef LUX_WEBDAV_FS_H
#define LUX_WEBDAV_FS_H

#include <stddef.h>
#include <sys/stat.h>

#define WEBDAV_FS_MAX_DEPTH 64

typedef struct {
    int dirfd;   /* the directory that holds the resource (owned), -1 when unset */
    char *name;  /* its name in dirfd; "." for the document root itself (malloc'd) */
    int is_root; /* the resource is the document root */
} webdav_res;

/*
 * Resolve rel (a decoded path relative to the document root, without a leading '/') beneath
 * the open document root root_fd. Returns 0, or -1 with errno: ENOENT or ENOTDIR when a parent
 * is missing, EXDEV/ELOOP when the path would leave the root or meets a refused symlink.
 */
int webdav_res_open(int root_fd, const char *rel, int follow_symlinks, webdav_res *out);
void webdav_res_close(webdav_res *res);

/* lstat (or stat with follow) of the resource. 0 or -1 with errno. */
int webdav_res_stat(const webdav_res *res, int follow, struct stat *st);

/* Delete a file or a whole tree. Returns 0, or -1 with errno (the first failure; what could be
 * removed is gone). */
int webdav_delete_tree(int dirfd, const char *name);

/*
 * Copy name in sdir to dname in ddir: a file's contents (into a temporary file renamed into
 * place), or a collection with depth 0 (just the directory) or infinity (the whole tree). The
 * destination must not exist. 0 or -1 with errno.
 */
int webdav_copy_tree(int sdir, const char *sname, int ddir, const char *dname, int infinite);

/* Create a uniquely named temporary file in dirfd for a replacement of `name`; its name goes to
 * tmp (≥ 64 bytes). Returns the fd or -1. */
int webdav_tmpfile(int dirfd, char *tmp, size_t tmplen);
/* The same, holding a copy of the regular file `name` in dirfd (and its permissions), open for
 * writing: a partial PUT modifies the copy, then renames it over the original. Returns the fd
 * or -1 with errno. */
int webdav_tmpfile_copy(int dirfd, const char *name, char *tmp, size_t tmplen);

#endif
