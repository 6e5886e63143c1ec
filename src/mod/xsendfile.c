#include "mod/xsendfile.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/core_conf.h"
#include "core/pool.h"
#include "http/stat_cache.h"
#include "lux/log.h"
#include "mod/staticfile_send.h"

int lux_xsendfile_field(const char *name, size_t nlen, int older_name) {
    return (nlen == 10 && !strncasecmp(name, "X-Sendfile", 10)) ||
           (older_name && nlen == 20 && !strncasecmp(name, "X-LIGHTTPD-send-file", 20));
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* %-decode p in place; the new length, or -1 for a broken escape or a NUL. */
static long url_decode(char *p, size_t len) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_digit(p[i + 1]) : -1,
                lo = hi >= 0 ? hex_digit(p[i + 2]) : -1;
            if (lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (!c)
            return -1;
        p[o++] = c;
    }
    p[o] = '\0';
    return (long)o;
}

/* Resolve "." and ".." segments and repeated slashes of an absolute path in place (".." never
 * climbs above "/"); the new length. */
static size_t resolve_dots(char *p, size_t len) {
    size_t o = 0, i = 0;
    while (i < len) {
        while (i < len && p[i] == '/')
            i++;
        size_t start = i;
        while (i < len && p[i] != '/')
            i++;
        size_t seg = i - start;
        if (seg == 0 || (seg == 1 && p[start] == '.'))
            continue;
        if (seg == 2 && p[start] == '.' && p[start + 1] == '.') {
            while (o > 0 && p[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            continue;
        }
        p[o++] = '/';
        memmove(p + o, p + start, seg);
        o += seg;
    }
    if (o == 0 || (len && p[len - 1] == '/'))
        p[o++] = '/';
    p[o] = '\0';
    return o;
}

static int under_docroot(const lux_strlist *docroot, const char *path, size_t len) {
    if (!docroot || !docroot->n)
        return 1;
    for (size_t i = 0; i < docroot->n; i++) {
        const lux_str *d = &docroot->items[i];
        size_t dl = d->len;
        while (dl > 1 && d->ptr[dl - 1] == '/')
            dl--;
        if (len > dl && !memcmp(path, d->ptr, dl) && path[dl] == '/')
            return 1;
    }
    return 0;
}

static lux_result refuse(lux_req *r, const char *module, const char *path, const char *why,
                         int status) {
    lux_log(LUX_LOG_ERR, "(%s) X-Sendfile %s: %s (uri %.*s)", module, path, why, (int)r->uri.len,
            r->uri.ptr);
    return lux_resp_error(r, status);
}

lux_result lux_xsendfile_answer(lux_req *r, const char *module, const char *value, size_t vlen,
                                const lux_strlist *docroot) {
    char *path = lux_pool_strndup(r->pool, value, vlen);
    if (!path)
        return LUX_ERROR;
    long dlen = url_decode(path, vlen);
    if (dlen < 0)
        return refuse(r, module, path, "cannot be %-decoded", 502);
    if (path[0] != '/')
        return refuse(r, module, path, "not an absolute path", 403);
    size_t len = resolve_dots(path, (size_t)dlen);
    if (!under_docroot(docroot, path, len))
        return refuse(r, module, path, "not under x-sendfile-docroot", 403);
    const lux_core_conf *core = r->confs[0];
    lux_file *f = lux_stat_cache_open(r->worker, path, len, core->follow_symlink);
    if (!f)
        return refuse(r, module, path, strerror(errno),
                      errno == ENOENT || errno == ENOTDIR ? 404 : 403);
    if (!S_ISREG(f->mode)) {
        lux_file_unref(f);
        return refuse(r, module, path, "not a regular file", 403);
    }
    lux_result res = lux_static_answer(r, f, &(lux_str){path, len}, 1);
    lux_file_unref(f);
    return res;
}
