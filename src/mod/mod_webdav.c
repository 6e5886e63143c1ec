/*
 * mod_webdav: RFC 4918 on the document root (lighttpd's module, its directives and options).
 * It takes the WebDAV methods in the physical hook, before index files, directory listings and
 * directory redirects, and leaves GET, HEAD and POST to the handlers that follow.
 *
 * File-system work is synchronous on the worker's thread (webdav_fs.h: every operation relative
 * to a directory opened beneath the document root); it is bounded per request by the request
 * body limits and the tree depth limit. Only reading the body waits: a PUT body goes to a
 * temporary file beside the target as it arrives and is renamed into place at its end, so that
 * a reader sees the old file or the new one, never a part.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "core/pool.h"
#include "http/etag.h"
#include "http/stat_cache.h"
#include "http/uri.h"
#include "lux/log.h"
#include "mod/webdav_internal.h"

extern const lux_module lux_mod_webdav;

static int parse_opts(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    static const struct {
        const char *key;
        unsigned bit;
    } known[] = {
        {"deprecated-unsafe-partial-put", WEBDAV_OPT_PARTIAL_PUT},
        {"propfind-depth-infinity", WEBDAV_OPT_PROPFIND_INFINITY},
        {"unsafe-propfind-follow-symlink", WEBDAV_OPT_PROPFIND_FOLLOW_LINKS},
        {"partial-put-copy-modify", WEBDAV_OPT_PARTIAL_PUT_COPY},
    };
    size_t n;
    const lux_keyval *kv = lux_conf_keyvals(
        gen, v, &n, "webdav.opts = ( \"propfind-depth-infinity\" => \"enable\" )", err, el);
    if (!kv)
        return -1;
    unsigned opts = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(known[k].key, kv[i].key.ptr) != 0)
            k++;
        if (k == sizeof known / sizeof known[0]) {
            snprintf(err, el, "unrecognized webdav.opts: %s", kv[i].key.ptr);
            return -1;
        }
        const char *val = kv[i].value.ptr;
        int on = strcmp(val, "enable") == 0 || strcmp(val, "1") == 0 || strcmp(val, "true") == 0;
        if (!on && strcmp(val, "disable") && strcmp(val, "0") && strcmp(val, "false")) {
            snprintf(err, el, "webdav.opts \"%s\" expects \"enable\" or \"disable\"",
                     kv[i].key.ptr);
            return -1;
        }
        if (on)
            opts |= known[k].bit;
    }
    *(unsigned *)dst = opts;
    return 0;
}

static const lux_directive webdav_directives[] = {
    {"webdav.activate", LUX_D_BOOL, offsetof(webdav_conf, activate), LUX_SCOPE_ANY},
    {"webdav.is-readonly", LUX_D_BOOL, offsetof(webdav_conf, readonly), LUX_SCOPE_ANY},
    {"webdav.log-xml", LUX_D_BOOL, offsetof(webdav_conf, log_xml), LUX_SCOPE_ANY},
    {"webdav.sqlite-db-name", LUX_D_STRING, offsetof(webdav_conf, db_name), LUX_SCOPE_ANY},
    {"webdav.opts", LUX_D_CUSTOM, offsetof(webdav_conf, opts), LUX_SCOPE_ANY, parse_opts,
     sizeof(unsigned)},
    {NULL, 0, 0, 0},
};

/* ---- the answer buffer --------------------------------------------------------------------- */

void dav_put(dav_buf *b, const char *s, size_t n) {
    if (b->failed || n == 0)
        return;
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len < n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void dav_puts(dav_buf *b, const char *s) {
    dav_put(b, s, strlen(s));
}

void dav_printf(dav_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        b->failed = 1;
    else
        dav_put(b, tmp, (size_t)n);
}

void dav_put_escaped(dav_buf *b, const char *s, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = s[i] == '<'    ? "&lt;"
                          : s[i] == '>'  ? "&gt;"
                          : s[i] == '&'  ? "&amp;"
                          : s[i] == '"'  ? "&quot;"
                          : s[i] == '\'' ? "&apos;"
                                         : NULL;
        if (!rep)
            continue;
        dav_put(b, s + start, i - start);
        dav_puts(b, rep);
        start = i + 1;
    }
    dav_put(b, s + start, n - start);
}

void dav_put_href(dav_buf *b, const char *path, size_t n, int collection) {
    char *enc = malloc(3 * n + 1);
    if (!enc) {
        b->failed = 1;
        return;
    }
    size_t len = lux_uri_encode_path(path, n, enc);
    dav_put(b, enc, len);
    if (collection && (len == 0 || enc[len - 1] != '/'))
        dav_put(b, "/", 1);
    free(enc);
}

lux_result dav_send_xml(dav_req *d, int status, dav_buf *b) {
    lux_req *r = d->r;
    if (b->failed || lux_resp_body_copy(r, b->p, b->len) < 0) {
        free(b->p);
        return LUX_ERROR;
    }
    if (d->c->log_xml)
        lux_log(LUX_LOG_INFO, "webdav response: %.*s", (int)b->len, b->p);
    free(b->p);
    r->status = status;
    static const char type[] = "application/xml;charset=utf-8";
    return lux_resp_header(r, "Content-Type", 12, type, sizeof type - 1) < 0 ? LUX_ERROR
                                                                             : LUX_HANDLED;
}

char *dav_child_key(const char *key, const char *name) {
    char *k = NULL;
    if (asprintf(&k, "%s/%s", strcmp(key, "/") == 0 ? "" : key, name) < 0)
        return NULL;
    return k;
}

size_t dav_etag(dav_req *d, const struct stat *st, char *out) {
    const lux_core_conf *core = d->r->confs[0];
    unsigned flags = (core->etag_use_inode ? LUX_ETAG_USE_INODE : 0) |
                     (core->etag_use_mtime ? LUX_ETAG_USE_MTIME : 0) |
                     (core->etag_use_size ? LUX_ETAG_USE_SIZE : 0);
    return lux_etag_make(out, flags, st->st_ino, st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                         S_ISDIR(st->st_mode) ? 0 : (uint64_t)st->st_size);
}

sqlite3 *dav_db(dav_req *d) {
    if (!d->db && d->c->db_name.ptr && d->c->db_name.len)
        d->db = webdav_db_open(d->c->db_name.ptr);
    return d->db;
}

/* ---- methods ------------------------------------------------------------------------------- */

typedef enum {
    M_NONE,
    M_OPTIONS,
    M_PROPFIND,
    M_PROPPATCH,
    M_MKCOL,
    M_PUT,
    M_DELETE,
    M_COPY,
    M_MOVE,
    M_LOCK,
    M_UNLOCK,
} dav_method;

static dav_method method_of(const lux_req *r) {
    static const struct {
        const char *name;
        dav_method m;
    } methods[] = {
        {"OPTIONS", M_OPTIONS}, {"PROPFIND", M_PROPFIND}, {"PROPPATCH", M_PROPPATCH},
        {"MKCOL", M_MKCOL},     {"PUT", M_PUT},           {"DELETE", M_DELETE},
        {"COPY", M_COPY},       {"MOVE", M_MOVE},         {"LOCK", M_LOCK},
        {"UNLOCK", M_UNLOCK},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(r->method_str.ptr, methods[i].name) == 0)
            return methods[i].m;
    return M_NONE;
}

static int changes_files(dav_method m) {
    return m != M_OPTIONS && m != M_PROPFIND;
}

static lux_result do_options(dav_req *d) {
    lux_req *r = d->r;
    static const char rw[] = "PROPFIND, DELETE, MKCOL, PUT, MOVE, COPY, PROPPATCH, LOCK, UNLOCK, "
                             "OPTIONS, GET, HEAD, POST";
    static const char ro[] = "PROPFIND, OPTIONS, GET, HEAD, POST";
    r->status = 200;
    if (lux_resp_header(r, "DAV", 3, "1,2", 3) < 0 ||
        lux_resp_header(r, "MS-Author-Via", 13, "DAV", 3) < 0 ||
        lux_resp_header(r, "Allow", 5, d->c->readonly ? ro : rw,
                        d->c->readonly ? sizeof ro - 1 : sizeof rw - 1) < 0)
        return LUX_ERROR;
    return LUX_HANDLED;
}

/* An errno of the file system as the status to answer. */
static int status_of_errno(int e) {
    switch (e) {
    case ENOENT:
        return 404;
    case ENOTDIR:
        return 409;
    case EEXIST:
    case ENOTEMPTY:
        return 412;
    case EACCES:
    case EPERM:
    case ELOOP:
    case EXDEV:
    case EROFS:
        return 403;
    case ENOSPC:
    case EDQUOT:
        return 507;
    default:
        return 500;
    }
}

static lux_result do_mkcol(dav_req *d) {
    if (d->body_len)
        return lux_resp_error(d->r, 415);
    if (d->res.is_root)
        return lux_resp_error(d->r, 405);
    int st = dav_check_write(d, d->key, 0);
    if (st)
        return lux_resp_error(d->r, st);
    if (mkdirat(d->res.dirfd, d->res.name, 0755) < 0)
        return lux_resp_error(d->r, errno == EEXIST ? 405 : status_of_errno(errno));
    d->r->status = 201;
    return LUX_HANDLED;
}

static lux_result do_delete(dav_req *d) {
    struct stat st;
    if (d->res.is_root)
        return lux_resp_error(d->r, 403);
    if (webdav_res_stat(&d->res, 0, &st) < 0)
        return lux_resp_error(d->r, status_of_errno(errno));
    int s = dav_check_write(d, d->key, 1);
    if (s)
        return lux_resp_error(d->r, s);
    if (webdav_delete_tree(d->res.dirfd, d->res.name) < 0)
        return lux_resp_error(d->r, status_of_errno(errno));
    sqlite3 *db = dav_db(d);
    if (db) {
        webdav_props_delete(db, d->key);
        webdav_locks_delete(db, d->key);
    }
    d->r->status = 204;
    return LUX_HANDLED;
}

/* ---- PUT ----------------------------------------------------------------------------------- */

/* Content-Range: "bytes N-M/L" (or an unknown length L): the offset N; -1 when malformed. */
static int64_t content_range_start(const lux_str *h) {
    if (h->len < 7 || strncasecmp(h->ptr, "bytes ", 6) != 0)
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(h->ptr + 6, &end, 10);
    if (errno || n < 0 || end == h->ptr + 6 || *end != '-')
        return -1;
    return n;
}

/* Before the body: where it will go. Returns 0 or an error status. */
static int put_begin(dav_req *d) {
    struct stat st;
    if (d->res.is_root)
        return 405;
    int exists = webdav_res_stat(&d->res, 0, &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        return 405;
    if (exists && !S_ISREG(st.st_mode))
        return 403;
    int s = dav_check_write(d, d->key, 0);
    if (s)
        return s;
    const lux_str *cr = lux_req_header(d->r, "Content-Range", 13);
    if (cr) {
        int64_t off = content_range_start(cr);
        unsigned partial = d->c->opts & (WEBDAV_OPT_PARTIAL_PUT | WEBDAV_OPT_PARTIAL_PUT_COPY);
        if (!partial || off < 0)
            return 400; /* RFC 9110 14.5: a server must not apply a partial PUT it ignores */
        d->put_offset = (uint64_t)off;
        if (partial & WEBDAV_OPT_PARTIAL_PUT_COPY) {
            /* Readers see the old file or the new one, never a half-written range; as in
             * lighttpd, there must be a file to modify. */
            if (!exists)
                return 404;
            d->put_fd =
                webdav_tmpfile_copy(d->res.dirfd, d->res.name, d->put_tmp, sizeof d->put_tmp);
        } else {
            d->put_partial = 1;
            d->put_fd = openat(d->res.dirfd, d->res.name,
                               O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        }
    } else {
        d->put_fd = webdav_tmpfile(d->res.dirfd, d->put_tmp, sizeof d->put_tmp);
    }
    if (d->put_fd < 0)
        return status_of_errno(errno);
    d->r->status = exists ? 204 : 201;
    return 0;
}

static int put_write(dav_req *d, const char *p, size_t n) {
    while (n) {
        ssize_t w = pwrite(d->put_fd, p, n, (off_t)d->put_offset);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        d->put_offset += (uint64_t)w;
    }
    return 0;
}

/* The whole body is in: the temporary file takes the target's name. */
static lux_result put_end(dav_req *d) {
    int fd = d->put_fd;
    d->put_fd = -1;
    if (close(fd) < 0)
        return lux_resp_error(d->r, status_of_errno(errno));
    if (!d->put_partial) {
        if (renameat(d->res.dirfd, d->put_tmp, d->res.dirfd, d->res.name) < 0)
            return lux_resp_error(d->r, status_of_errno(errno));
        d->put_tmp[0] = '\0';
    }
    return LUX_HANDLED;
}

/* ---- COPY and MOVE ------------------------------------------------------------------------- */

/* Do webdav's settings hold for path? They are looked up as for a request to it. */
static int dav_enabled_for(dav_req *d, const char *path, size_t len) {
    lux_req *r = d->r;
    lux_str saved_path = r->path, saved_uri = r->uri;
    r->path = (lux_str){path, len};
    r->uri = r->path;
    int ok = lux_req_recheck_conditions(r) == 0;
    const webdav_conf *c = lux_req_conf(r, &lux_mod_webdav);
    ok = ok && c && c->activate && !c->readonly;
    r->path = saved_path;
    r->uri = saved_uri;
    if (lux_req_recheck_conditions(r) < 0)
        ok = 0;
    d->c = lux_req_conf(r, &lux_mod_webdav);
    return ok;
}

/*
 * The Destination header as a path relative to the document root (*rel) and its store key
 * (*key), both malloc'd. Returns 0 or the status to answer: 400 (missing, malformed), 502
 * (another host, or a URL that maps outside the document root: lighttpd's answer) or 403
 * (outside the URL space where WebDAV is enabled for writing).
 */
static int destination(dav_req *d, char **rel, char **key) {
    lux_req *r = d->r;
    const lux_str *h = lux_req_header(r, "Destination", 11);
    if (!h || !h->len)
        return 400;
    char *ubuf = malloc(3 * h->len + 2), *pbuf = malloc(3 * h->len + 2);
    lux_uri u;
    int st = 0;
    if (!ubuf || !pbuf)
        st = 500;
    else if (lux_uri_parse(h->ptr, h->len, LUX_URI_DEFAULT_OPTS, &u, ubuf, pbuf) != 0)
        st = 400;
    else if (u.authority && (!r->host.ptr || u.authority_len != r->host.len ||
                             strncasecmp(u.authority, r->host.ptr, r->host.len) != 0))
        st = 502;
    /* The source's URL path and its file share a tail below some base: the destination must be
     * under the same base, so that it maps into the same directory tree. */
    const char *srel = r->physical.ptr + r->docroot.len;
    size_t srel_len = r->physical.len - r->docroot.len;
    size_t base = 0;
    if (!st) {
        if (srel_len > r->path.len ||
            memcmp(r->path.ptr + r->path.len - srel_len, srel, srel_len) != 0)
            st = 502;
        else
            base = r->path.len - srel_len;
    }
    if (!st && (u.path_len < base || memcmp(u.path, r->path.ptr, base) != 0))
        st = 502;
    if (!st && !dav_enabled_for(d, u.path, u.path_len))
        st = 403;
    if (!st) {
        size_t klen = u.path_len;
        while (klen > 1 && u.path[klen - 1] == '/')
            klen--;
        *key = strndup(u.path, klen);
        const char *p = u.path + base;
        while (*p == '/')
            p++;
        *rel = strdup(p);
        if (!*key || !*rel)
            st = 500;
    }
    free(ubuf);
    free(pbuf);
    return st;
}

/* Is b the same resource as a or beneath it? */
static int within(const char *a, const char *b) {
    size_t n = strlen(a);
    if (strcmp(a, "/") == 0)
        return 1;
    return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

static lux_result copy_move(dav_req *d, int move) {
    lux_req *r = d->r;
    struct stat st;
    if (webdav_res_stat(&d->res, 0, &st) < 0)
        return lux_resp_error(r, status_of_errno(errno));
    const lux_str *dh = lux_req_header(r, "Depth", 5);
    int infinite = !dh || (dh->len == 8 && strncasecmp(dh->ptr, "infinity", 8) == 0);
    if (!infinite && !(dh->len == 1 && dh->ptr[0] == '0' && !move))
        return lux_resp_error(r, 400);
    const lux_str *oh = lux_req_header(r, "Overwrite", 9);
    int overwrite = !oh || !(oh->len == 1 && (oh->ptr[0] == 'F' || oh->ptr[0] == 'f'));
    if (oh && !(oh->len == 1 && strchr("TtFf", oh->ptr[0])))
        return lux_resp_error(r, 400);
    char *rel = NULL, *key = NULL;
    int s = destination(d, &rel, &key);
    webdav_res dst = {.dirfd = -1};
    if (!s && (within(d->key, key) || within(key, d->key)))
        s = 403; /* onto itself, into itself, or over a collection that holds it */
    if (!s && webdav_res_open(d->root_fd, rel, d->follow_links, &dst) < 0)
        s = errno == ENOENT || errno == ENOTDIR ? 409 : 403;
    if (!s && dst.is_root)
        s = 403;
    if (!s && move)
        s = dav_check_write(d, d->key, 1);
    if (!s)
        s = dav_check_write(d, key, 1);
    struct stat dst_st;
    int existed = !s && webdav_res_stat(&dst, 0, &dst_st) == 0;
    if (!s && existed && !overwrite)
        s = 412;
    if (!s && existed && webdav_delete_tree(dst.dirfd, dst.name) < 0)
        s = status_of_errno(errno);
    sqlite3 *db = s ? NULL : dav_db(d);
    if (!s && db && existed) {
        webdav_props_delete(db, key);
        webdav_locks_delete(db, key);
    }
    if (!s && move) {
        if (renameat(d->res.dirfd, d->res.name, dst.dirfd, dst.name) < 0)
            s = errno == ENOENT ? 409 : status_of_errno(errno);
        else if (db) {
            webdav_props_move(db, d->key, key);
            webdav_locks_delete(db, d->key);
        }
    } else if (!s) {
        if (webdav_copy_tree(d->res.dirfd, d->res.name, dst.dirfd, dst.name, infinite) < 0)
            s = errno == ENOENT ? 409 : status_of_errno(errno);
        else if (db)
            webdav_props_copy(db, d->key, key);
    }
    webdav_res_close(&dst);
    free(rel);
    free(key);
    if (s)
        return lux_resp_error(r, s);
    r->status = existed ? 204 : 201;
    return LUX_HANDLED;
}

/* ---- the request --------------------------------------------------------------------------- */

/* The methods that change files: after them, no worker serves what it cached before. */
static lux_result changed_files(lux_result res) {
    lux_stat_cache_changed();
    return res;
}

static lux_result run_method(dav_req *d, dav_method m) {
    if (d->body && d->c->log_xml)
        lux_log(LUX_LOG_INFO, "webdav request: %.*s", (int)d->body_len, d->body);
    switch (m) {
    case M_OPTIONS:
        return do_options(d);
    case M_PROPFIND:
        return dav_propfind(d);
    case M_PROPPATCH:
        return dav_proppatch(d);
    case M_MKCOL:
        return do_mkcol(d);
    case M_PUT:
        return changed_files(put_end(d));
    case M_DELETE:
        return changed_files(do_delete(d));
    case M_COPY:
        return changed_files(copy_move(d, 0));
    case M_MOVE:
        return changed_files(copy_move(d, 1));
    case M_LOCK:
        return dav_lock(d);
    case M_UNLOCK:
        return dav_unlock(d);
    case M_NONE:
        break;
    }
    return LUX_GO_ON;
}

static void dav_free(dav_req *d) {
    if (d->put_fd >= 0)
        close(d->put_fd);
    if (d->put_tmp[0] && d->res.dirfd >= 0)
        unlinkat(d->res.dirfd, d->put_tmp, 0);
    webdav_res_close(&d->res);
    if (d->root_fd >= 0)
        close(d->root_fd);
    if (d->db)
        webdav_db_close(d->db);
    free(d->body);
    free(d->key);
    free(d);
}

typedef struct {
    dav_req *d;
    dav_method m;
    size_t body_cap;
} dav_job;

/*
 * Read what there is of the body: into the PUT file, or into memory for XML. Returns 1 at its
 * end, 0 when more will come, or -1 with the status to answer in *status.
 */
static int read_body(dav_job *j, int *status) {
    dav_req *d = j->d;
    char buf[65536];
    for (;;) {
        ssize_t n = lux_req_body_read(d->r, buf, sizeof buf);
        if (n == 0)
            return 1;
        if (n < 0) {
            if (errno == EAGAIN)
                return 0;
            *status = 400;
            return -1;
        }
        if (j->m == M_PUT) {
            if (put_write(d, buf, (size_t)n) < 0) {
                *status = status_of_errno(errno);
                return -1;
            }
            continue;
        }
        if (d->body_len + (size_t)n > WEBDAV_XML_MAX_BODY) {
            *status = 413;
            return -1;
        }
        if (d->body_len + (size_t)n + 1 > j->body_cap) {
            size_t cap = j->body_cap ? j->body_cap * 2 : 8192;
            while (cap < d->body_len + (size_t)n + 1)
                cap *= 2;
            char *p = realloc(d->body, cap);
            if (!p) {
                *status = 500;
                return -1;
            }
            d->body = p;
            j->body_cap = cap;
        }
        memcpy(d->body + d->body_len, buf, (size_t)n);
        d->body_len += (size_t)n;
        d->body[d->body_len] = '\0';
    }
}

/* Read the body; at its end run the method. LUX_ASYNC while the body is still coming. */
static lux_result advance(dav_job *j) {
    int status = 0;
    int rc = read_body(j, &status);
    if (rc == 0)
        return LUX_ASYNC;
    lux_result res = rc < 0 ? lux_resp_error(j->d->r, status) : run_method(j->d, j->m);
    dav_free(j->d);
    j->d = NULL;
    return res;
}

static void on_body(lux_req *r, void *arg) {
    dav_job *j = arg;
    lux_result res = advance(j);
    if (res == LUX_ASYNC)
        return;
    lux_req_body_notify(r, NULL, NULL);
    lux_req_on_abort(r, NULL, NULL);
    lux_req_resume(r, res);
}

static void on_abort(lux_req *r, void *arg) {
    dav_job *j = arg;
    lux_req_body_notify(r, NULL, NULL);
    if (j->d)
        dav_free(j->d);
    j->d = NULL;
}

/* The resource the request names, opened beneath the document root; 0 or a status. */
static int open_target(dav_req *d) {
    lux_req *r = d->r;
    if (!r->docroot.ptr || r->physical.len < r->docroot.len ||
        memcmp(r->physical.ptr, r->docroot.ptr, r->docroot.len) != 0)
        return 403;
    const char *rel = r->physical.ptr + r->docroot.len;
    while (*rel == '/')
        rel++;
    char *root = strndup(r->docroot.ptr, r->docroot.len); /* docroot may not end in a NUL */
    if (!root)
        return 500;
    d->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    free(root);
    if (d->root_fd < 0)
        return status_of_errno(errno);
    if (webdav_res_open(d->root_fd, rel, d->follow_links, &d->res) < 0)
        return errno == ENOENT || errno == ENOTDIR ? 409 : 403;
    size_t klen = r->path.len;
    while (klen > 1 && r->path.ptr[klen - 1] == '/')
        klen--;
    d->key = strndup(r->path.ptr, klen);
    return d->key ? 0 : 500;
}

static lux_result webdav_physical(lux_req *r, const void *conf) {
    const webdav_conf *c = conf;
    if (!c->activate)
        return LUX_GO_ON;
    dav_method m = method_of(r);
    if (m == M_NONE)
        return LUX_GO_ON;
    if (c->readonly && changes_files(m))
        return lux_resp_error(r, 403);
    dav_req *d = calloc(1, sizeof *d);
    dav_job *j = lux_pool_alloc(r->pool, sizeof *j);
    if (!d || !j) {
        free(d);
        return LUX_ERROR;
    }
    const lux_core_conf *core = r->confs[0];
    *d = (dav_req){.r = r,
                   .c = c,
                   .root_fd = -1,
                   .put_fd = -1,
                   .res = {.dirfd = -1},
                   .follow_links = core->follow_symlink};
    *j = (dav_job){.d = d, .m = m};
    int st = m == M_OPTIONS ? 0 : open_target(d);
    if (!st && m == M_PUT)
        st = put_begin(d);
    if (st) {
        dav_free(d);
        return lux_resp_error(r, st);
    }
    lux_result res = advance(j);
    if (res == LUX_ASYNC) {
        lux_req_body_notify(r, on_body, j);
        lux_req_on_abort(r, on_abort, j);
    }
    return res;
}

const lux_module lux_mod_webdav = {
    .name = "mod_webdav",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = webdav_directives,
    .conf_size = sizeof(webdav_conf),
    .physical = webdav_physical,
};
