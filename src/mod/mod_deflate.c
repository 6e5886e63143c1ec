/*
 * mod_deflate (and its old name mod_compress): static files and streamed (dynamic) bodies
 * compressed for clients that accept it. Both start in a response_start hook. A static file's
 * handler has by then chosen the file, answered the conditional headers and ranges, and set
 * Content-Type and ETag, so compression only has to look at the finished response (a 200
 * whose body is the whole of r->file) and swap its body for the compressed bytes, still as a
 * file chunk where a cache entry or precompressed sibling exists; the work per request is
 * bounded (DEFLATE_SYNC_MAX, DEFLATE_MEM_MAX). A streamed body is compressed as it passes,
 * through an output filter (lux_resp_filter) that flushes whenever its producer pauses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "core/pool.h"
#include "http/etag.h"
#include "http/stat_cache.h"
#include "lux/req.h"
#include "mod/deflate_cache.h"
#include "net/stats.h"
#include "mod/deflate_encode.h"
#include "mod/deflate_negotiate.h"
#include "mod/deflate_stream.h"

/* With a cache dir, files up to this size are compressed into it during the request (on a
 * loaded 2-CPU machine: ~10 ms with gzip or brotli, ~1 ms with zstd, ~40 ms with bzip2);
 * larger ones by a background thread, and served uncompressed until their entry exists. A
 * 1 MiB file would hold the event loop for 0.2 s (gzip) to 0.6 s (bzip2). */
#define DEFLATE_SYNC_MAX (128 * 1024)
/* Without a cache dir, files up to this size are compressed in memory for every request;
 * larger ones go out uncompressed. */
#define DEFLATE_MEM_MAX (128 * 1024)

typedef struct {
    deflate_enc order[DEFLATE_ENC_COUNT];
    size_t n;
    int set; /* deflate.allowed-encodings was given */
} deflate_allowed;

typedef struct {
    const lux_strlist *mimetypes;
    deflate_allowed allowed;
    long max_compress_size; /* KiB, 0: no limit */
    long min_compress_size; /* bytes */
    long compression_level; /* 1..9, -1: each encoder's default */
    double max_loadavg;     /* 0: no limit */
    lux_str cache_dir;
    deflate_params params;
    int precompressed;
} deflate_conf;

/* lighttpd's order of preference when deflate.allowed-encodings is not set. */
static const deflate_enc default_order[] = {DEFLATE_ENC_ZSTD, DEFLATE_ENC_BR, DEFLATE_ENC_GZIP,
                                            DEFLATE_ENC_DEFLATE, DEFLATE_ENC_BZIP2};

static void add_allowed(deflate_allowed *a, deflate_enc e) {
    for (size_t i = 0; i < a->n; i++)
        if (a->order[i] == e)
            return;
    a->order[a->n++] = e;
}

/* deflate.allowed-encodings: names in the server's order of preference. lighttpd matches them
 * as substrings ("x-gzip" allows gzip, "brotli" br); lux knows the same spellings. */
static int parse_allowed(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    deflate_allowed *a = dst;
    *a = (deflate_allowed){.set = 1};
    size_t n = v->type == LUX_V_ARRAY ? v->u.arr.len : 1;
    for (size_t i = 0; i < n; i++) {
        const lux_value *e = v->type == LUX_V_ARRAY ? v->u.arr.items[i] : v;
        if (e->type != LUX_V_STRING) {
            snprintf(err, el, "expects a list of encoding names");
            return -1;
        }
        const char *s = e->u.str.ptr;
        int known = 0;
        static const struct {
            const char *needle;
            deflate_enc enc;
        } names[] = {{"gzip", DEFLATE_ENC_GZIP},
                     {"deflate", DEFLATE_ENC_DEFLATE},
                     {"bzip2", DEFLATE_ENC_BZIP2},
                     {"br", DEFLATE_ENC_BR},
                     {"zstd", DEFLATE_ENC_ZSTD}};
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (strstr(s, names[k].needle)) {
                add_allowed(a, names[k].enc);
                known = 1;
            }
        if (!known) {
            snprintf(err, el, "unknown encoding \"%s\" (br, zstd, gzip, x-gzip, deflate, bzip2)",
                     s);
            return -1;
        }
    }
    return 0;
}

static int parse_loadavg(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    double *d = dst;
    if (v->type == LUX_V_INT) {
        *d = (double)v->u.num;
        return 0;
    }
    char *end;
    *d = v->type == LUX_V_STRING && v->u.str.len ? strtod(v->u.str.ptr, &end) : 0.0;
    if (v->type != LUX_V_STRING || (v->u.str.len && (*end || *d < 0))) {
        snprintf(err, el, "expects a load average such as \"3.5\"");
        return -1;
    }
    return 0;
}

static int value_int(const lux_value *v, long *out) {
    if (v->type == LUX_V_INT) {
        *out = (long)v->u.num;
        return 0;
    }
    char *end;
    if (v->type != LUX_V_STRING || !v->u.str.len)
        return -1;
    *out = strtol(v->u.str.ptr, &end, 10);
    return *end ? -1 : 0;
}

/* One deflate.params entry (lighttpd's names); -1 for an unknown key or a value out of range. */
static int set_param(deflate_params *p, const char *key, long v) {
    static const struct {
        const char *key;
        size_t off;
        long lo, hi;
    } keys[] = {
        {"gzip.level", offsetof(deflate_params, gzip_level), 1, 9},
        {"gzip.windowBits", offsetof(deflate_params, gzip_window_bits), 9, 15},
        {"gzip.memLevel", offsetof(deflate_params, gzip_mem_level), 1, 9},
        {"gzip.strategy", offsetof(deflate_params, gzip_strategy), 0, 4},
        {"BROTLI_PARAM_QUALITY", offsetof(deflate_params, brotli_quality), 0, 11},
        {"BROTLI_PARAM_LGWIN", offsetof(deflate_params, brotli_window), 10, 24},
        {"BROTLI_PARAM_MODE", offsetof(deflate_params, brotli_mode), 0, 2},
        {"ZSTD_c_compressionLevel", offsetof(deflate_params, zstd_level), -131072, 22},
        {"ZSTD_c_strategy", offsetof(deflate_params, zstd_strategy), 1, 9},
        /* RFC 8878: an HTTP encoder keeps zstd's window at 8 MiB (lighttpd caps it too). */
        {"ZSTD_c_windowLog", offsetof(deflate_params, zstd_window_log), 10, 23},
        {"bzip2.blockSize100k", offsetof(deflate_params, bzip2_block_size), 1, 9},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcasecmp(key, keys[i].key) == 0) {
            if (v < keys[i].lo || v > keys[i].hi)
                return -1;
            *(int *)((char *)p + keys[i].off) = (int)v;
            return 0;
        }
    return -1;
}

static int parse_params(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    deflate_params *p = dst;
    deflate_params_default(p);
    p->gzip_level = 0; /* unset: deflate.compression-level decides */
    p->bzip2_block_size = 0;
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "expects ( \"name\" => value, ... )");
        return -1;
    }
    for (size_t i = 0; i < v->u.arr.len; i++) {
        const lux_value *e = v->u.arr.items[i];
        long n;
        if (!e->key || value_int(e, &n) < 0 || set_param(p, e->key, n) < 0) {
            snprintf(err, el, "invalid or unknown parameter \"%s\"", e->key ? e->key : "");
            return -1;
        }
    }
    return 0;
}

static int parse_level(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    long *level = dst;
    if (value_int(v, level) < 0 || ((*level < 1 || *level > 9) && *level != -1)) {
        snprintf(err, el, "compression-level must be between 1 and 9");
        return -1;
    }
    return 0;
}

#define C(field) offsetof(deflate_conf, field)
#define CUSTOM(name, field, fn)                                                                    \
    { name, LUX_D_CUSTOM, C(field), LUX_SCOPE_ANY, fn, sizeof(((deflate_conf *)0)->field) }
static const lux_directive deflate_directives[] = {
    {"deflate.mimetypes", LUX_D_STRLIST, C(mimetypes), LUX_SCOPE_ANY},
    CUSTOM("deflate.allowed-encodings", allowed, parse_allowed),
    {"deflate.max-compress-size", LUX_D_INT, C(max_compress_size), LUX_SCOPE_ANY},
    {"deflate.min-compress-size", LUX_D_INT, C(min_compress_size), LUX_SCOPE_ANY},
    CUSTOM("deflate.compression-level", compression_level, parse_level),
    CUSTOM("deflate.max-loadavg", max_loadavg, parse_loadavg),
    {"deflate.cache-dir", LUX_D_STRING, C(cache_dir), LUX_SCOPE_ANY},
    CUSTOM("deflate.params", params, parse_params),
    {"deflate.precompressed", LUX_D_BOOL, C(precompressed), LUX_SCOPE_ANY},
    /* lighttpd's stream buffer sizes; lux's blocks are fixed (64 KiB in, 16 KiB out). */
    {"deflate.output-buffer-size", LUX_D_IGNORED, 0, LUX_SCOPE_ANY},
    {"deflate.work-block-size", LUX_D_IGNORED, 0, LUX_SCOPE_ANY},
    /* mod_compress's names, which lighttpd maps onto mod_deflate's. */
    {"compress.filetype", LUX_D_STRLIST, C(mimetypes), LUX_SCOPE_ANY},
    CUSTOM("compress.allowed-encodings", allowed, parse_allowed),
    {"compress.max-filesize", LUX_D_INT, C(max_compress_size), LUX_SCOPE_ANY},
    CUSTOM("compress.max-loadavg", max_loadavg, parse_loadavg),
    {"compress.cache-dir", LUX_D_STRING, C(cache_dir), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

static void deflate_init(void *p) {
    deflate_conf *c = p;
    c->compression_level = -1;
    c->min_compress_size = 256;
    deflate_params_default(&c->params);
    c->params.gzip_level = 0;
    c->params.bzip2_block_size = 0;
}

/* lighttpd creates the cache dir at start-up and refuses to start when it cannot. */
static int deflate_finish(lux_gen *gen, void *p, char *err, size_t el) {
    deflate_conf *c = p;
    if (!c->cache_dir.len || lux_gen_test_only(gen))
        return 0;
    char *dir = strdup(c->cache_dir.ptr);
    if (!dir) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    int rc = 0;
    for (char *s = strchr(dir + 1, '/');; s = strchr(s + 1, '/')) {
        if (s)
            *s = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            snprintf(err, el, "deflate.cache-dir %s: %s", c->cache_dir.ptr, strerror(errno));
            rc = -1;
            break;
        }
        if (!s)
            break;
        *s = '/';
        if (!s[1])
            break;
    }
    free(dir);
    return rc;
}

static lux_header *resp_header(lux_req *r, const char *name, size_t len) {
    for (size_t i = 0; i < r->nresp_headers; i++)
        if (r->resp_headers[i].name.len == len &&
            strncasecmp(r->resp_headers[i].name.ptr, name, len) == 0)
            return &r->resp_headers[i];
    return NULL;
}

/* A 200 whose body is exactly the whole of r->file: what a static file answer looks like. */
static int whole_static_file(const lux_req *r) {
    const lux_chunk *c = r->body;
    return r->status == 200 && r->file && S_ISREG(r->file->mode) && r->file->size && c &&
           !c->next && c->file == r->file && c->off == 0 && c->len == r->file->size;
}

/* deflate.mimetypes: a prefix of Content-Type ("text/" matches "text/html; charset=utf-8"); a
 * trailing '*' is ignored, and a response without a type is compressed only when the first
 * entry is "", as in lighttpd. */
static int type_listed(const deflate_conf *c, const lux_header *ct) {
    if (!c->mimetypes || !c->mimetypes->n)
        return 0;
    if (!ct)
        return c->mimetypes->items[0].len == 0;
    for (size_t i = 0; i < c->mimetypes->n; i++) {
        const lux_str *m = &c->mimetypes->items[i];
        size_t len = m->len > 2 && m->ptr[m->len - 1] == '*' ? m->len - 1 : m->len;
        if (len <= ct->value.len && strncasecmp(ct->value.ptr, m->ptr, len) == 0)
            return 1;
    }
    return 0;
}

static int has_token(const lux_str *v, const char *tok, size_t len) {
    const char *p = v->ptr, *end = v->ptr + v->len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *s = p;
        while (p < end && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == len && strncasecmp(s, tok, len) == 0)
            return 1;
        if (e - s == 1 && *s == '*')
            return 1;
    }
    return 0;
}

static int add_vary(lux_req *r) {
    lux_header *h = resp_header(r, "Vary", 4);
    if (!h)
        return lux_resp_header(r, "Vary", 4, "Accept-Encoding", 15);
    if (has_token(&h->value, "Accept-Encoding", 15))
        return 0;
    char *v = lux_req_printf(r, "%.*s, Accept-Encoding", (int)h->value.len, h->value.ptr);
    if (!v)
        return -1;
    h->value = (lux_str){v, strlen(v)};
    return 0;
}

/* The ETag of the compressed representation: lighttpd's "<tag>-<coding>". */
static lux_str coded_etag(lux_req *r, const lux_header *etag, deflate_enc e) {
    if (!etag || etag->value.len < 2 || etag->value.ptr[etag->value.len - 1] != '"')
        return (lux_str){NULL, 0};
    char *v = lux_req_printf(r, "%.*s-%s\"", (int)etag->value.len - 1, etag->value.ptr,
                             deflate_enc_name(e));
    return (lux_str){v, v ? strlen(v) : 0};
}

static double loadavg_now(void) {
    static _Thread_local time_t when;
    static _Thread_local double load;
    time_t now = time(NULL);
    if (now != when) {
        double l[1];
        load = getloadavg(l, 1) == 1 ? l[0] : 0.0;
        when = now;
    }
    return load;
}

/* The settings with deflate.compression-level filled in where deflate.params left them. */
static deflate_params effective_params(const deflate_conf *c) {
    deflate_params p = c->params;
    if (!p.gzip_level)
        p.gzip_level = (int)c->compression_level;
    if (!p.bzip2_block_size)
        p.bzip2_block_size = c->compression_level > 0 ? (int)c->compression_level : 9;
    return p;
}

/* "file.gz" beside the file and not older than it (deflate.precompressed). */
static lux_file *precompressed_sibling(lux_req *r, deflate_enc e) {
    const char *ext = e == DEFLATE_ENC_BR                                ? ".br"
                      : e == DEFLATE_ENC_ZSTD                            ? ".zst"
                      : e == DEFLATE_ENC_GZIP || e == DEFLATE_ENC_X_GZIP ? ".gz"
                                                                         : NULL;
    if (!ext)
        return NULL;
    const lux_core_conf *core = r->confs[0];
    char *path = lux_req_printf(r, "%.*s%s", (int)r->physical.len, r->physical.ptr, ext);
    lux_file *s =
        path ? lux_stat_cache_open(r->worker, path, strlen(path), core->follow_symlink) : NULL;
    if (s && (!S_ISREG(s->mode) || s->mtime < r->file->mtime)) {
        lux_file_unref(s);
        s = NULL;
    }
    return s;
}

/* The compressed file from deflate.cache-dir, written now when it is missing and the file is
 * small enough, else started in the background. NULL: send the file uncompressed, or, when
 * *unusable is set (the cache dir cannot be read or written), compress it in memory. */
static lux_file *cached(lux_req *r, const deflate_conf *c, deflate_enc e, const deflate_params *p,
                        int *unusable) {
    lux_file *f = r->file;
    deflate_file_id id = {f->size, f->ino, f->mtime, f->mtime_nsec};
    char path[4096];
    size_t len = deflate_cache_path(path, sizeof path, c->cache_dir.ptr, c->cache_dir.len,
                                    r->physical.ptr, r->physical.len, &id, e, p);
    if (!len)
        return NULL;
    lux_file *entry = lux_stat_cache_open(r->worker, path, len, 1);
    if (entry)
        return entry;
    if (errno != ENOENT) {
        deflate_cache_failed(path, errno);
        *unusable = 1;
        return NULL;
    }
    if (f->size > DEFLATE_SYNC_MAX) {
        int fd = f->fd >= 0 ? dup(f->fd) : -1;
        if (fd >= 0)
            deflate_cache_fill_async(path, e, p, fd, f->size);
        return NULL;
    }
    if (deflate_cache_fill(path, e, p, f->content, f->fd, f->size) < 0) {
        *unusable = 1;
        return NULL;
    }
    return lux_stat_cache_open(r->worker, path, len, 1);
}

/* The file read whole into memory (only below DEFLATE_MEM_MAX), malloc'd unless it already
 * was in memory. */
static const char *file_bytes(const lux_file *f, char **owned) {
    *owned = NULL;
    if (f->content)
        return f->content;
    char *buf = malloc(f->size);
    size_t got = 0;
    while (buf && got < f->size) {
        ssize_t n = pread(f->fd, buf + got, f->size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    return *owned = buf;
}

/* The coding as the metrics name it: x-gzip's bytes are gzip's, x-bzip2's bzip2's. */
static lux_stats_enc stats_enc(deflate_enc e) {
    switch (e) {
    case DEFLATE_ENC_ZSTD:
        return LUX_STATS_ENC_ZSTD;
    case DEFLATE_ENC_BR:
        return LUX_STATS_ENC_BR;
    case DEFLATE_ENC_DEFLATE:
        return LUX_STATS_ENC_DEFLATE;
    case DEFLATE_ENC_BZIP2:
    case DEFLATE_ENC_X_BZIP2:
        return LUX_STATS_ENC_BZIP2;
    default:
        return LUX_STATS_ENC_GZIP;
    }
}

/* Compressed in memory for this response only (no cache dir). 0, or -1: send uncompressed. */
static int compress_into_body(lux_req *r, deflate_enc e, const deflate_params *p, uint64_t *coded) {
    lux_file *f = r->file;
    if (f->size > DEFLATE_MEM_MAX)
        return -1;
    char *owned;
    const char *in = file_bytes(f, &owned);
    unsigned char *out = NULL;
    size_t outlen = 0;
    int rc = in ? deflate_encode_mem(e, p, in, f->size, &out, &outlen) : -1;
    free(owned);
    if (rc == 0) {
        lux_resp_body_reset(r);
        rc = lux_resp_body_copy(r, (const char *)out, outlen);
        *coded = outlen;
    }
    free(out);
    return rc;
}

/* Replace the body with the compressed one, *coded bytes long. 0, or -1 when it stays the file
 * uncompressed. */
static int compressed_body(lux_req *r, const deflate_conf *c, deflate_enc e, uint64_t *coded) {
    lux_file *alt = c->precompressed ? precompressed_sibling(r, e) : NULL;
    deflate_params p = effective_params(c);
    int unusable = 0;
    if (!alt && c->cache_dir.len)
        alt = cached(r, c, e, &p, &unusable);
    if (!alt && (!c->cache_dir.len || unusable))
        return compress_into_body(r, e, &p, coded);
    if (!alt)
        return -1;
    *coded = alt->size;
    lux_resp_body_reset(r);
    int rc = lux_resp_body_file(r, alt, 0, alt->size);
    lux_file_unref(alt);
    return rc;
}

/* If-None-Match names the compressed representation's tag: the 304 (or 412) the file's own
 * tag could not give, as lighttpd answers it. */
static int not_modified(lux_req *r, const lux_str *etag) {
    const lux_str *inm = lux_req_header(r, "If-None-Match", 13);
    if (!etag->ptr || !inm || !lux_etag_list_match(inm->ptr, inm->len, etag->ptr, etag->len, 1))
        return 0;
    lux_resp_body_reset(r);
    r->status = r->method == LUX_M_GET || r->method == LUX_M_HEAD ? 304 : 412;
    return 1;
}

/* The coding to send from Accept-Encoding and the allowed ones; NONE for none. bzip2 cannot
 * flush, so a streamed body never gets it. */
static deflate_enc negotiate(lux_req *r, const deflate_conf *c, int streamed) {
    const lux_str *ae = lux_req_header(r, "Accept-Encoding", 15);
    if (!ae)
        return DEFLATE_ENC_NONE;
    deflate_accept acc;
    deflate_accept_parse(ae->ptr, ae->len, &acc);
    const deflate_enc *order = c->allowed.set ? c->allowed.order : default_order;
    size_t norder = c->allowed.set ? c->allowed.n : sizeof default_order / sizeof default_order[0];
    deflate_enc usable[DEFLATE_ENC_COUNT];
    size_t n = 0;
    for (size_t i = 0; i < norder; i++)
        if (!streamed || order[i] != DEFLATE_ENC_BZIP2)
            usable[n++] = order[i];
    return deflate_choose(&acc, usable, n);
}

static lux_result static_response_start(lux_req *r, const deflate_conf *c) {
    uint64_t size = r->file->size;
    if (size <= (uint64_t)c->min_compress_size ||
        (c->max_compress_size > 0 && size > (uint64_t)c->max_compress_size * 1024))
        return LUX_GO_ON;
    /* Compressible: the answer depends on Accept-Encoding, whichever it is this time. */
    if (add_vary(r) < 0)
        return LUX_GO_ON;
    /* A range applies to the file's own bytes; it is answered from them, as lighttpd does. */
    if (lux_req_header(r, "Range", 5))
        return LUX_GO_ON;
    deflate_enc e = negotiate(r, c, 0);
    if (e == DEFLATE_ENC_NONE)
        return LUX_GO_ON;
    lux_header *etag_h = resp_header(r, "ETag", 4);
    lux_str etag = coded_etag(r, etag_h, e);
    if (etag.ptr && not_modified(r, &etag)) {
        etag_h->value = etag;
        return LUX_GO_ON;
    }
    if (c->max_loadavg > 0 && loadavg_now() > c->max_loadavg)
        return LUX_GO_ON;
    uint64_t coded = 0;
    if (compressed_body(r, c, e, &coded) < 0)
        return LUX_GO_ON;
    lux_stats_compressed(r->worker->id, stats_enc(e), 1, size, coded);
    if (etag.ptr)
        etag_h->value = etag;
    const char *name = deflate_enc_name(e);
    lux_resp_header(r, "Content-Encoding", 16, name, strlen(name));
    return LUX_GO_ON;
}

/* A streamed body that may be compressed on its way: one with an entity (not HEAD, 1xx, 204,
 * 205, 304, nor a part of one: 206) whose announced length, if any, is within the limits. */
static int stream_compressible(const lux_req *r, const deflate_conf *c) {
    int st = r->status;
    if (!r->streaming || r->head_only || st < 200 || st == 204 || st == 205 || st == 206 ||
        st == 304)
        return 0;
    if (r->stream_length < 0)
        return 1;
    uint64_t size = (uint64_t)r->stream_length;
    return size > (uint64_t)c->min_compress_size &&
           (c->max_compress_size <= 0 || size <= (uint64_t)c->max_compress_size * 1024);
}

/* A streamed response's compressor, and where its bytes are counted. */
typedef struct {
    deflate_stream *s;
    lux_filter *f;
    unsigned worker;
    lux_stats_enc enc;
} stream_ctx;

static int emit(void *arg, const unsigned char *p, size_t len) {
    stream_ctx *x = arg;
    lux_stats_compressed(x->worker, x->enc, 0, 0, len);
    return lux_filter_emit(x->f, (const char *)p, len);
}

static int stream_write(lux_filter *f, const char *p, size_t len, deflate_op op) {
    stream_ctx *x = lux_filter_ctx(f);
    x->f = f;
    lux_stats_compressed(x->worker, x->enc, 0, len, 0);
    return deflate_stream_write(x->s, p, len, op, emit, x);
}

static int filter_data(lux_filter *f, const char *p, size_t len) {
    return stream_write(f, p, len, DEFLATE_OP_PROCESS);
}

static int filter_flush(lux_filter *f) {
    return stream_write(f, NULL, 0, DEFLATE_OP_FLUSH);
}

static int filter_end(lux_filter *f) {
    return stream_write(f, NULL, 0, DEFLATE_OP_FINISH);
}

static void filter_release(void *ctx) {
    stream_ctx *x = ctx;
    deflate_stream_free(x->s);
    free(x);
}

static const lux_filter_ops compress_filter = {
    .data = filter_data,
    .flush = filter_flush,
    .end = filter_end,
    .release = filter_release,
};

/* A streamed (dynamic) body: compressed as it passes, through an output filter. */
static lux_result stream_response_start(lux_req *r, const deflate_conf *c) {
    if (!stream_compressible(r, c) || add_vary(r) < 0)
        return LUX_GO_ON;
    deflate_enc e = negotiate(r, c, 1);
    if (e == DEFLATE_ENC_NONE || (c->max_loadavg > 0 && loadavg_now() > c->max_loadavg))
        return LUX_GO_ON;
    deflate_params p = effective_params(c);
    stream_ctx *x = malloc(sizeof *x);
    if (!x)
        return LUX_GO_ON;
    *x = (stream_ctx){.s = deflate_stream_new(e, &p), .worker = r->worker->id, .enc = stats_enc(e)};
    if (!x->s || lux_resp_filter(r, &compress_filter, x) < 0) {
        filter_release(x);
        return LUX_GO_ON;
    }
    lux_stats_compressed(x->worker, x->enc, 1, 0, 0);
    lux_header *etag_h = resp_header(r, "ETag", 4);
    lux_str etag = coded_etag(r, etag_h, e);
    if (etag.ptr)
        etag_h->value = etag;
    const char *name = deflate_enc_name(e);
    lux_resp_header(r, "Content-Encoding", 16, name, strlen(name));
    return LUX_GO_ON;
}

static lux_result deflate_response_start(lux_req *r, const void *conf) {
    const deflate_conf *c = conf;
    if (resp_header(r, "Content-Encoding", 16) ||
        !type_listed(c, resp_header(r, "Content-Type", 12)))
        return LUX_GO_ON;
    if (whole_static_file(r))
        return static_response_start(r, c);
    return stream_response_start(r, c);
}

const lux_module lux_mod_deflate = {
    .name = "mod_deflate",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = deflate_directives,
    .conf_size = sizeof(deflate_conf),
    .conf_init = deflate_init,
    .conf_finish = deflate_finish,
    .response_start = deflate_response_start,
};

/* lighttpd 1.4 loads mod_deflate when a config names mod_compress. */
const lux_module lux_mod_compress = {
    .name = "mod_compress",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = deflate_directives,
    .conf_size = sizeof(deflate_conf),
    .conf_init = deflate_init,
    .conf_finish = deflate_finish,
    .response_start = deflate_response_start,
};
