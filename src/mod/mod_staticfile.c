/*
 * mod_staticfile: regular files with validators (ETag, Last-Modified), conditional requests
 * (RFC 9110 13.2.2 order) and ranges, single or multipart/byteranges. Small files go out from the
 * stat cache's memory, others with sendfile.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "http/etag.h"
#include "http/http_date.h"
#include "http/range.h"
#include "http/response.h"
#include "http/stat_cache.h"
#include "lux/req.h"
#include "mod/staticfile_send.h"

extern const lux_module lux_mod_staticfile;

typedef struct {
    const lux_strlist *exclude_extensions;
    int etags;
    int disable_pathinfo;
} staticfile_conf;

static const lux_directive staticfile_directives[] = {
    {"static-file.exclude-extensions", LUX_D_STRLIST, offsetof(staticfile_conf, exclude_extensions),
     LUX_SCOPE_ANY},
    {"static-file.etags", LUX_D_BOOL, offsetof(staticfile_conf, etags), LUX_SCOPE_ANY},
    {"static-file.disable-pathinfo", LUX_D_BOOL, offsetof(staticfile_conf, disable_pathinfo),
     LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

static void staticfile_init(void *p) {
    staticfile_conf *c = p;
    c->etags = 1;
}

static int excluded(const staticfile_conf *c, const lux_str *path) {
    if (!c->exclude_extensions)
        return 0;
    for (size_t i = 0; i < c->exclude_extensions->n; i++) {
        const lux_str *e = &c->exclude_extensions->items[i];
        if (e->len && e->len <= path->len &&
            memcmp(path->ptr + path->len - e->len, e->ptr, e->len) == 0)
            return 1;
    }
    return 0;
}

/* The lengths of the request header names an answer depends on, as a mask: Range (5), If-Match
 * and If-Range (8), If-None-Match (13), If-Modified-Since (17), If-Unmodified-Since (19). */
#define ANSWER_HEADER_LENGTHS ((1u << 5) | (1u << 8) | (1u << 13) | (1u << 17) | (1u << 19))

/* Might r carry a header the answer depends on? Told by the name's length and first letter (I or
 * R, in either case), without comparing names: most requests carry none of them, and then none
 * is looked up. */
static int may_have_answer_headers(const lux_req *r) {
    for (size_t i = 0; i < r->nheaders; i++) {
        const lux_str *n = &r->headers[i].name;
        if (n->len < 32 && (ANSWER_HEADER_LENGTHS >> n->len & 1)) {
            char first = (char)(n->ptr[0] | 0x20);
            if (first == 'i' || first == 'r')
                return 1;
        }
    }
    return 0;
}

/* RFC 9110 13.2.2: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since. */
static int preconditions(lux_req *r, const lux_file *f, const char *etag, size_t etag_len) {
    const lux_str *h;
    if ((h = lux_req_header(r, "If-Match", 8))) {
        if (!lux_etag_list_match(h->ptr, h->len, etag, etag_len, 0))
            return 412;
    } else if ((h = lux_req_header(r, "If-Unmodified-Since", 19))) {
        time_t t = lux_http_date_parse(h->ptr, h->len);
        if (t != (time_t)-1 && f->mtime > t)
            return 412;
    }
    int get_head = r->method == LUX_M_GET || r->method == LUX_M_HEAD;
    if ((h = lux_req_header(r, "If-None-Match", 13))) {
        if (lux_etag_list_match(h->ptr, h->len, etag, etag_len, 1))
            return get_head ? 304 : 412;
    } else if (get_head && (h = lux_req_header(r, "If-Modified-Since", 17))) {
        time_t t = lux_http_date_parse(h->ptr, h->len);
        if (t != (time_t)-1 && f->mtime <= t)
            return 304;
    }
    return 0;
}

/* If-Range: a range applies only while the validator still matches (strong comparison). */
static int if_range_holds(lux_req *r, const lux_file *f, const char *etag, size_t etag_len) {
    const lux_str *h = lux_req_header(r, "If-Range", 8);
    if (!h)
        return 1;
    if (h->len && (h->ptr[0] == '"' || (h->len > 1 && h->ptr[0] == 'W' && h->ptr[1] == '/')))
        return h->ptr[0] == '"' && etag_len && h->len == etag_len &&
               memcmp(h->ptr, etag, etag_len) == 0;
    time_t t = lux_http_date_parse(h->ptr, h->len);
    return t != (time_t)-1 && t == f->mtime;
}

static lux_result send_ranges(lux_req *r, lux_file *f, const lux_range *rg, size_t n,
                              const char *type) {
    r->status = 206;
    if (n == 1) {
        char *cr = lux_req_printf(r, "bytes %llu-%llu/%llu", (unsigned long long)rg[0].start,
                                  (unsigned long long)rg[0].end, (unsigned long long)f->size);
        if (!cr || lux_resp_header(r, "Content-Range", 13, cr, strlen(cr)) < 0 ||
            lux_resp_header(r, "Content-Type", 12, type, strlen(type)) < 0)
            return LUX_ERROR;
        return lux_resp_body_file(r, f, rg[0].start, rg[0].end - rg[0].start + 1) < 0 ? LUX_ERROR
                                                                                      : LUX_HANDLED;
    }
    char boundary[33];
    lux_range_boundary(f->ino ^ (uint64_t)f->mtime ^ f->size, boundary);
    char *ct = lux_req_printf(r, "multipart/byteranges; boundary=%s", boundary);
    if (!ct || lux_resp_header(r, "Content-Type", 12, ct, strlen(ct)) < 0)
        return LUX_ERROR;
    for (size_t i = 0; i < n; i++) {
        char *part =
            lux_req_printf(r,
                           "%s--%s\r\nContent-Type: %s\r\nContent-Range: bytes "
                           "%llu-%llu/%llu\r\n\r\n",
                           i ? "\r\n" : "", boundary, type, (unsigned long long)rg[i].start,
                           (unsigned long long)rg[i].end, (unsigned long long)f->size);
        if (!part || lux_resp_body_mem(r, part, strlen(part)) < 0 ||
            lux_resp_body_file(r, f, rg[i].start, rg[i].end - rg[i].start + 1) < 0)
            return LUX_ERROR;
    }
    char *end = lux_req_printf(r, "\r\n--%s--\r\n", boundary);
    return end && lux_resp_body_mem(r, end, strlen(end)) == 0 ? LUX_HANDLED : LUX_ERROR;
}

/* A backend's Content-Type, taken out of the response headers (the answer adds it back where
 * it belongs: on the response, or on each part of multipart ranges); NULL when it set none. */
static const char *take_backend_type(lux_req *r) {
    for (size_t i = 0; i < r->nresp_headers; i++) {
        const lux_header *h = &r->resp_headers[i];
        if (h->name.len == 12 && !strncasecmp(h->name.ptr, "Content-Type", 12)) {
            const char *type = h->value.ptr;
            memmove(&r->resp_headers[i], &r->resp_headers[i + 1],
                    (r->nresp_headers - i - 1) * sizeof *h);
            r->nresp_headers--;
            return type;
        }
    }
    return NULL;
}

/* Is name the path the stat cache opened f by? */
static int named_by(const lux_file *f, const lux_str *name) {
    return f->path && f->path_len == name->len && memcmp(f->path, name->ptr, name->len) == 0;
}

/* Does f keep the type mimetype.assign gives name, found under r's generation and table? */
static int type_kept(const lux_req *r, const lux_file *f, const lux_str *name) {
    const lux_core_conf *core = r->confs[0];
    const lux_file_type *t = &f->type;
    return t->gen == r->gen->serial && t->table == core->mimetypes.items &&
           t->n == core->mimetypes.n && named_by(f, name);
}

/* The type by the name's suffix (mimetype.assign), searched in the table. */
static lux_file_type find_type(const lux_req *r, const lux_str *name) {
    const lux_core_conf *core = r->confs[0];
    const char *type =
        lux_mimetype_lookup(core->mimetypes.items, core->mimetypes.n, name->ptr, name->len);
    if (!type || !*type) /* unknown, or assigned "" (lighttpd's way of saying "no type") */
        type = "application/octet-stream";
    size_t len = strlen(type);
    return (lux_file_type){r->gen->serial,
                           core->mimetypes.items,
                           core->mimetypes.n,
                           type,
                           len,
                           lux_resp_value_ok(type, len)};
}

/* The type by the name's suffix: kept in f for the next request when name is the path f was
 * opened by, the one name the next request for f can reach it by through the stat cache. */
static lux_file_type suffix_type(lux_req *r, lux_file *f, const lux_str *name) {
    if (type_kept(r, f, name))
        return f->type;
    lux_file_type t = find_type(r, name);
    if (named_by(f, name))
        f->type = t;
    return t;
}

/* The Content-Type: a backend's, else by the name's suffix. Only a value lux has checked is
 * marked clean; a backend's goes through lux_resp_header's checks again. */
static lux_file_type type_of(lux_req *r, lux_file *f, const lux_str *name, int from_backend) {
    const char *type = from_backend ? take_backend_type(r) : NULL;
    if (type)
        return (lux_file_type){0, NULL, 0, type, strlen(type), 0};
    return suffix_type(r, f, name);
}

/* 304: the headers set so far stay (a backend's, with x-sendfile); the validators follow. */
static void not_modified(lux_req *r) {
    size_t keep = r->nresp_headers;
    lux_resp_error(r, 304);
    r->nresp_headers = keep;
}

/* lux_static_answer with the module's settings for r at hand. */
static lux_result answer(lux_req *r, const staticfile_conf *c, lux_file *f, const lux_str *name,
                         int from_backend) {
    const lux_core_conf *core = r->confs[0];
    const char *etag = "";
    unsigned flags = (core->etag_use_inode ? LUX_ETAG_USE_INODE : 0) |
                     (core->etag_use_mtime ? LUX_ETAG_USE_MTIME : 0) |
                     (core->etag_use_size ? LUX_ETAG_USE_SIZE : 0);
    size_t etag_len = c->etags ? lux_file_etag(f, flags, &etag) : 0;
    int may_depend = may_have_answer_headers(r);
    int st = may_depend ? preconditions(r, f, etag, etag_len) : 0;
    if (st == 412)
        return lux_resp_error(r, st);
    if (st == 304)
        not_modified(r);
    else if (!from_backend || !r->status)
        r->status = 200;
    /* The validators and Accept-Ranges are lux's own making (a quoted hash, an HTTP date, a
     * constant): nothing in them for lux_resp_header's checks to find. */
    if (etag_len)
        lux_resp_header_trusted(r, "ETag", 4, etag, etag_len);
    lux_resp_header_trusted(r, "Last-Modified", 13, f->last_modified, LUX_HTTP_DATE_LEN);
    if (st == 304)
        return LUX_HANDLED;
    lux_file_type type = type_of(r, f, name, from_backend);
    if (core->range_requests)
        lux_resp_header_static(r, "Accept-Ranges", 13, "bytes", 5);

    const lux_str *range = may_depend ? lux_req_header(r, "Range", 5) : NULL;
    /* server.error-handler's page goes out whole with the error's status: a range of it would
     * be meaningless (server.error-handler-404's answer is an ordinary 200, as in lighttpd). */
    int error_page = r->error_status && !r->error_handler_404;
    if (range && core->range_requests && r->method == LUX_M_GET && !error_page &&
        if_range_holds(r, f, etag, etag_len)) {
        lux_range rg[LUX_RANGE_MAX];
        size_t n = 0;
        switch (lux_range_parse(range->ptr, range->len, f->size, rg, LUX_RANGE_MAX, &n)) {
        case LUX_RANGE_OK:
            return send_ranges(r, f, rg, n, type.value);
        case LUX_RANGE_UNSATISFIABLE: {
            lux_resp_error(r, 416);
            char *cr = lux_req_printf(r, "bytes */%llu", (unsigned long long)f->size);
            if (cr)
                lux_resp_header(r, "Content-Range", 13, cr, strlen(cr));
            return LUX_HANDLED;
        }
        case LUX_RANGE_IGNORE:
            break;
        }
    }
    /* A clean type is a string of r's generation (mimetype.assign) or a literal. */
    int added = type.clean ? lux_resp_header_static(r, "Content-Type", 12, type.value, type.len)
                           : lux_resp_header(r, "Content-Type", 12, type.value, type.len);
    if (added < 0)
        return LUX_ERROR;
    return lux_resp_body_file(r, f, 0, f->size) < 0 ? LUX_ERROR : LUX_HANDLED;
}

lux_result lux_static_answer(lux_req *r, lux_file *f, const lux_str *name, int from_backend) {
    return answer(r, lux_req_conf(r, &lux_mod_staticfile), f, name, from_backend);
}

static lux_result staticfile_handle(lux_req *r, const void *conf) {
    const staticfile_conf *c = conf;
    if (!r->file) {
        int e = r->file_errno;
        return lux_resp_error(r, e == EACCES || e == ELOOP ? 403 : 404);
    }
    lux_file *f = r->file;
    if (S_ISDIR(f->mode) || !S_ISREG(f->mode))
        return lux_resp_error(r, 403);
    if (excluded(c, &r->physical))
        return lux_resp_error(r, 403);
    if (r->pathinfo.len && c->disable_pathinfo)
        return lux_resp_error(r, 403); /* lighttpd's answer */
    if (r->method == LUX_M_OPTIONS) {
        r->status = 200;
        lux_resp_header(r, "Allow", 5, "GET, HEAD, OPTIONS", 18);
        return LUX_HANDLED;
    }
    /* POST to a static file answers with the file, as lighttpd does. */
    if (r->method != LUX_M_GET && r->method != LUX_M_HEAD && r->method != LUX_M_POST) {
        lux_resp_error(r, 405);
        lux_resp_header(r, "Allow", 5, "GET, HEAD, OPTIONS", 18);
        return LUX_HANDLED;
    }
    return answer(r, c, f, &r->physical, 0);
}

const lux_module lux_mod_staticfile = {
    .name = "mod_staticfile",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = staticfile_directives,
    .conf_size = sizeof(staticfile_conf),
    .conf_init = staticfile_init,
    .handle = staticfile_handle,
};
